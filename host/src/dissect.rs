//! Dissection: which layers a packet has and where each header starts, plus the symmetric flow
//! hash that picks the packet's worker.
//!
//! etherparse's lax slicing does the parsing (we do not write an L2–L4 parser); this module only
//! maps its zero-copy slices to offsets in the layer registry (`wit/README.md`). Lax slicing
//! tolerates length fields that point past the captured data and reports where parsing stopped
//! and why; that reason becomes a counted error kind, and the layers before it are still decoded.

use etherparse::{EtherType, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

pub use netcap_sdk::layer;

/// Bit of a layer id in a [`Dissection::mask`].
pub const fn layer_bit(id: u16) -> u128 {
    if id < 128 { 1u128 << id } else { 0 }
}

/// Port interests (`udp:53` in a decoder's layers): a bit per interested decoder, set in a
/// packet's mask when one of its UDP/TCP/SCTP layers has the port on either side. A 64 Ki-bit map
/// per transport answers "anyone interested?" in one load; the rare hits search a short list.
#[derive(Debug, Default)]
pub struct PortInterests {
    /// Per transport (UDP, TCP, SCTP): one bit per port.
    any: [Vec<u64>; 3],
    /// ((transport slot, port), bits), sorted.
    bits: Vec<((u8, u16), u128)>,
}

/// The first mask bit for port interests; layer ids stay below it.
pub const PORT_BITS_START: u32 = 80;

impl PortInterests {
    fn slot(transport: u16) -> Option<u8> {
        match transport {
            layer::UDP => Some(0),
            layer::TCP => Some(1),
            layer::SCTP => Some(2),
            _ => None,
        }
    }

    /// Adds interest in `port` of `transport` for mask bit `bit`.
    pub fn add(&mut self, transport: u16, port: u16, bit: u128) {
        let Some(slot) = Self::slot(transport) else { return };
        let any = &mut self.any[usize::from(slot)];
        if any.is_empty() {
            *any = vec![0; 1024];
        }
        any[usize::from(port >> 6)] |= 1 << (port & 63);
        match self.bits.binary_search_by_key(&(slot, port), |e| e.0) {
            Ok(i) => self.bits[i].1 |= bit,
            Err(i) => self.bits.insert(i, ((slot, port), bit)),
        }
    }

    /// Whether no decoder has a port interest.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    fn lookup(&self, slot: u8, port: u16) -> u128 {
        let any = &self.any[usize::from(slot)];
        if any.is_empty() || any[usize::from(port >> 6)] & (1 << (port & 63)) == 0 {
            return 0;
        }
        self.bits.binary_search_by_key(&(slot, port), |e| e.0).map_or(0, |i| self.bits[i].1)
    }

    /// Sets the bits of the decoders interested in the ports of `d`'s transport layers.
    pub fn apply(&self, data: &[u8], d: &mut Dissection) {
        let mut add = 0;
        for l in d.layers() {
            let Some(slot) = Self::slot(l.id) else { continue };
            if let Some(h) = data.get(l.offset..l.offset + 4) {
                add |= self.lookup(slot, u16::from_be_bytes([h[0], h[1]]));
                add |= self.lookup(slot, u16::from_be_bytes([h[2], h[3]]));
            }
        }
        d.mask |= add;
    }
}

/// pcap LINKTYPE_ values we dissect.
pub mod linktype {
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    pub const FDDI: u16 = 10;
    pub const IEEE802_11: u16 = 105;
    pub const RADIOTAP: u16 = 127;
    pub const RAW_OPENBSD: u16 = 12;
    pub const RAW_BSD: u16 = 14;
    pub const RAW: u16 = 101;
    pub const LOOP: u16 = 108;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const LINUX_SLL2: u16 = 276;
    pub const PPP: u16 = 9;
    pub const PPP_HDLC: u16 = 50;
    pub const PPP_ETHER: u16 = 51;
    pub const C_HDLC: u16 = 104;
    pub const FRELAY: u16 = 107;
    pub const PPI: u16 = 192;
    pub const NFLOG: u16 = 239;
    pub const IPOIB: u16 = 242;
    pub const PKTAP: u16 = 258;
}

/// Maximum layers recorded per packet.
pub const MAX_LAYERS: usize = 32;

/// One dissected layer: id, flags and header offset (the SDK's type, as it crosses into batches).
pub use netcap_sdk::Layer as LayerRef;

/// The result of dissecting one packet. Reused between packets (no allocation).
#[derive(Debug)]
pub struct Dissection {
    pub layers: [LayerRef; MAX_LAYERS],
    pub count: usize,
    /// Bit set of the layer ids present.
    pub mask: u128,
    /// Symmetric flow hash: equal for both directions of a flow.
    pub hash: u64,
    /// Why dissection stopped early, as a stable error kind.
    pub error: Option<&'static str>,
    /// Whether the link type is one we cannot dissect.
    pub unknown_link: bool,
    /// Whether the network layer is unknown (e.g. an EtherType we do not dissect).
    pub unknown_net: bool,
    /// Why the packet inside an encapsulation was not dissected (an unknown protocol inside a
    /// tunnel, PPP carrying a protocol we do not dissect, a tunnel we do not decapsulate), as a
    /// stable reason: such packets are counted as unknown.
    pub undissected: Option<&'static str>,
    /// Whether `hash` is already an IP flow's (set by an IP header at depth 0 inside a
    /// link-layer encapsulation, which the enclosing link layer must not overwrite).
    pub(crate) hashed: bool,
    /// The index in `layers` of the IP header of a fragment (dissection stops after it).
    pub fragment: Option<u8>,
    /// Configuration: fragments are being reassembled, so a first fragment's transport header is
    /// left to the reassembled datagram (otherwise it is dissected, as Wireshark does with
    /// reassembly off).
    pub defrag: bool,
}

impl Default for Dissection {
    fn default() -> Self {
        Dissection {
            layers: [LayerRef { id: 0, flags: 0, offset: 0 }; MAX_LAYERS],
            count: 0,
            mask: 0,
            hash: 0,
            error: None,
            unknown_link: false,
            unknown_net: false,
            undissected: None,
            hashed: false,
            fragment: None,
            defrag: false,
        }
    }
}

impl Dissection {
    /// An empty dissection; `defrag` as the field says.
    pub fn new(defrag: bool) -> Self {
        Dissection { defrag, ..Dissection::default() }
    }

    fn reset(&mut self) {
        self.count = 0;
        self.mask = 0;
        self.hash = 0;
        self.error = None;
        self.unknown_link = false;
        self.unknown_net = false;
        self.undissected = None;
        self.hashed = false;
        self.fragment = None;
    }

    fn push(&mut self, id: u16, flags: u16, offset: usize) {
        if self.count < MAX_LAYERS {
            self.layers[self.count] = LayerRef { id, flags, offset };
            self.count += 1;
            self.mask |= layer_bit(id);
        }
    }

    /// The layers found, outermost first.
    pub fn layers(&self) -> &[LayerRef] {
        &self.layers[..self.count]
    }

    /// The innermost layer that is not payload.
    pub fn innermost(&self) -> Option<u16> {
        self.layers().iter().rev().map(|l| l.id).find(|&id| id != layer::PAYLOAD)
    }
}

fn off(base: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize)
}

#[inline]
fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// Symmetric hash of two endpoints: the smaller endpoint is hashed first.
/// The flow hash of an unfragmented packet with addresses and ports `a` and `b` (either order)
/// and IP protocol `proto`, as [`dissect`] computes it (for defragmentation).
pub fn flow_hash(a: (&[u8], u16), b: (&[u8], u16), proto: u8) -> u64 {
    hash_pair(a, b, proto)
}

fn hash_pair(a: (&[u8], u16), b: (&[u8], u16), proto: u8) -> u64 {
    let (x, y) = if (a.0, a.1) <= (b.0, b.1) { (a, b) } else { (b, a) };
    let mut h = mix(0x9e37_79b9_7f4a_7c15, u64::from(proto));
    for part in [x.0, y.0] {
        for chunk in part.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h = mix(h, u64::from_le_bytes(w));
        }
    }
    h = mix(h, (u64::from(x.1) << 16) | u64::from(y.1));
    // Final avalanche (splitmix64) so that `hash % workers` is well spread.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Dissects `data` of link type `link_type` into `d`.
pub fn dissect(link_type: u16, data: &[u8], d: &mut Dissection) {
    d.reset();
    link(link_type, data, 0, true, d);
}

/// The frame of link type `link_type` at `at`. `outer` is false for the frame a PPI or PKTAP
/// header carries (which may not carry another).
fn link(link_type: u16, data: &[u8], at: usize, outer: bool, d: &mut Dissection) {
    let rest = data.get(at..).unwrap_or_default();
    match link_type {
        linktype::ETHERNET => match LaxSlicedPacket::from_ethernet(rest) {
            Ok(s) => fill(data, &s, d, 0),
            Err(_) => d.error = Some("ethernet: header truncated"),
        },
        linktype::LINUX_SLL => {
            if rest.len() < 16 {
                d.error = Some("linux-sll: header truncated");
                return;
            }
            d.push(layer::LINUX_SLL, 0, at);
            match u16::from_be_bytes([rest[14], rest[15]]) {
                // LINUX_SLL_P_802_2: an LLC header without a length field.
                4 => llc(data, at + 16, data.len(), 0, d),
                proto => ethertype(data, proto, at + 16, 0, d),
            }
        }
        linktype::LINUX_SLL2 => {
            if rest.len() < 20 {
                d.error = Some("linux-sll2: header truncated");
                return;
            }
            d.push(layer::LINUX_SLL2, 0, at);
            let proto = u16::from_be_bytes([rest[0], rest[1]]);
            ethertype(data, proto, at + 20, 0, d);
        }
        linktype::NULL | linktype::LOOP => {
            if rest.len() < 4 {
                d.error = Some("loopback: header truncated");
                return;
            }
            d.push(layer::LOOPBACK, 0, at);
            // LOOP is big-endian. NULL is in the capturing host's byte order, which the file does
            // not say: read it little-endian and fix it up as Wireshark does (packet-null.c):
            // a value with upper bits set is a byte-swapped family (or a 16-bit family in the
            // upper half), and a value above 1500 is an EtherType.
            let mut h = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            if link_type == linktype::LOOP {
                h = h.swap_bytes();
            } else if h & 0xffff_0000 != 0 {
                h = if h & 0xff00_0000 == 0 && h & 0x00ff_0000 < 0x0006_0000 { h >> 16 } else { h.swap_bytes() };
            }
            match h {
                2 | 10 | 24 | 28 | 30 => from_ip(data, at + 4, 0, d),
                1501.. => ethertype(data, h as u16, at + 4, 0, d),
                _ => d.unknown_net = true,
            }
        }
        linktype::RAW | linktype::RAW_OPENBSD | linktype::RAW_BSD | linktype::IPV4 | linktype::IPV6 => {
            from_ip(data, at, 0, d)
        }
        linktype::FDDI => {
            // Frame control, destination, source; LLC frames (FC 0x50-0x57) carry an LLC header.
            if rest.len() < 13 {
                d.error = Some("fddi: header truncated");
                return;
            }
            d.push(layer::FDDI, 0, at);
            if rest[0] & 0xf8 == 0x50 {
                llc(data, at + 13, data.len(), 0, d);
            }
        }
        linktype::IEEE802_11 => dot11(data, at, data.len(), d),
        linktype::RADIOTAP => radiotap(data, at, d),
        linktype::PPI if outer => ppi(data, at, d),
        linktype::PKTAP if outer => pktap(data, at, d),
        linktype::NFLOG => nflog(data, at, d),
        linktype::C_HDLC => chdlc(data, at, d),
        // PPP, with or without HDLC-like framing; Cisco PPP with HDLC framing (address 0x0f or
        // 0x8f) is Cisco HDLC (libpcap's LINKTYPE_PPP_HDLC, Wireshark's packet-ppp.c).
        linktype::PPP | linktype::PPP_HDLC => match rest.first() {
            Some(0x0f | 0x8f) => chdlc(data, at, d),
            _ => ppp(data, at, 0, d),
        },
        linktype::PPP_ETHER => match rest.get(1) {
            Some(0) => ethertype(data, 0x8864, at, 0, d),
            _ => ethertype(data, 0x8863, at, 0, d),
        },
        linktype::FRELAY => frame_relay(data, at, d),
        linktype::IPOIB => {
            // 40 bytes of hardware addresses, the EtherType, 2 reserved bytes.
            let Some(h) = rest.get(..44) else {
                d.error = Some("ipoib: header truncated");
                return;
            };
            d.push(layer::IPOIB, 0, at);
            ethertype(data, u16::from_be_bytes([h[40], h[41]]), at + 44, 0, d);
        }
        _ => d.unknown_link = true,
    }
}

/// A Per-Packet Information header at `at` (link type 192): version, flags, length and the link
/// type of the frame after it, then fields; the 802.11-common field says whether an 802.11 frame
/// ends with an FCS.
fn ppi(data: &[u8], at: usize, d: &mut Dissection) {
    let Some(h) = data.get(at..at + 8) else {
        d.error = Some("ppi: header truncated");
        return;
    };
    d.push(layer::PPI, 0, at);
    let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    let dlt = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let aligned = h[1] & 1 != 0;
    if len < 8 || at + len > data.len() {
        d.error = Some("ppi: header truncated");
        return;
    }
    let mut fcs = false;
    let mut p = at + 8;
    while let Some(f) = data.get(p..p + 4).filter(|_| p + 4 <= at + len) {
        let (ty, flen) = (u16::from_le_bytes([f[0], f[1]]), usize::from(u16::from_le_bytes([f[2], f[3]])));
        // 802.11-common: TSF timer (8 bytes), then the flags word (bit 0: FCS present).
        if ty == 2 && flen >= 10 {
            fcs = data.get(p + 12).is_some_and(|b| b & 1 != 0);
        }
        p += 4 + flen;
        if aligned {
            p = p.next_multiple_of(4);
        }
    }
    match u16::try_from(dlt) {
        Ok(linktype::IEEE802_11) => {
            let end = if fcs { data.len().saturating_sub(4).max(at + len) } else { data.len() };
            dot11(data, at + len, end, d);
        }
        Ok(t) => link(t, data, at + len, false, d),
        Err(_) => d.unknown_link = true,
    }
}

/// An Apple PKTAP header at `at` (link type 258): its length and the link type of the frame
/// after it (both in the capturing host's byte order, little-endian in practice).
fn pktap(data: &[u8], at: usize, d: &mut Dissection) {
    let Some(h) = data.get(at..at + 12) else {
        d.error = Some("pktap: header truncated");
        return;
    };
    d.push(layer::PKTAP, 0, at);
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let dlt = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if len < 12 || at.saturating_add(len) > data.len() {
        d.error = Some("pktap: header truncated");
        return;
    }
    match u16::try_from(dlt) {
        Ok(t) => link(t, data, at + len, false, d),
        Err(_) => d.unknown_link = true,
    }
}

/// A Linux NFLOG header at `at` (link type 239): address family, version, resource id, then
/// TLVs (length including the 4-byte TLV header, type; in the capturing host's byte order;
/// padded to 4 bytes). The payload TLV (type 9) holds the IP packet.
fn nflog(data: &[u8], at: usize, d: &mut Dissection) {
    if data.len() < at + 4 {
        d.error = Some("nflog: header truncated");
        return;
    }
    d.push(layer::NFLOG, 0, at);
    let mut p = at + 4;
    // The byte order of the first TLV decides (as in Wireshark's packet-nflog.c): a length that
    // does not fit read little-endian is big-endian.
    let big = data.get(p..p + 2).is_some_and(|b| {
        let le = usize::from(u16::from_le_bytes([b[0], b[1]]));
        le < 4 || p + le > data.len()
    });
    for _ in 0..64 {
        let Some(t) = data.get(p..p + 4) else { break };
        let rd = |a: u8, b: u8| if big { u16::from_be_bytes([a, b]) } else { u16::from_le_bytes([a, b]) };
        let (len, ty) = (usize::from(rd(t[0], t[1])), rd(t[2], t[3]) & 0x7fff);
        if len < 4 {
            d.error = Some("nflog: tlv malformed");
            return;
        }
        if ty == 9 {
            from_ip(data, p + 4, 0, d);
            return;
        }
        p += len.next_multiple_of(4);
    }
}

/// A Cisco HDLC header at `at`: address, control, protocol (an EtherType; 0x8035 is SLARP here,
/// not RARP).
fn chdlc(data: &[u8], at: usize, d: &mut Dissection) {
    let Some(h) = data.get(at..at + 4) else {
        d.error = Some("cisco-hdlc: header truncated");
        return;
    };
    d.push(layer::CISCO_HDLC, 0, at);
    match u16::from_be_bytes([h[2], h[3]]) {
        0x8035 => {}
        0x2000 if data.len() > at + 4 => d.push(layer::CDP, 0, at + 4),
        proto => ethertype(data, proto, at + 4, 0, d),
    }
}

/// A PPP frame at `at`: the HDLC address and control bytes (ff 03) when present, then the
/// protocol field (one byte when compressed: an odd first byte). The layer points at the
/// protocol field.
fn ppp(data: &[u8], at: usize, depth: u16, d: &mut Dissection) {
    if d.count >= MAX_LAYERS {
        return;
    }
    let p = if data.get(at..at + 2).is_some_and(|b| b == [0xff, 0x03]) { at + 2 } else { at };
    let (proto, len) = match data.get(p..) {
        Some([b, ..]) if b & 1 == 1 => (u16::from(*b), 1),
        Some([a, b, ..]) => (u16::from_be_bytes([*a, *b]), 2),
        _ => {
            d.error = d.error.or(Some("ppp: header truncated"));
            return;
        }
    };
    d.push(layer::PPP, depth_flags(depth), p);
    let at = p + len;
    match proto {
        0x0021 => from_ip(data, at, depth, d),
        0x0057 => from_ip(data, at, depth, d),
        0x0281 | 0x0283 => mpls(data, at, depth, d),
        // Other network-layer protocols (IPX, compressed or encrypted datagrams, ...); control
        // protocols (0x8000 and up: LCP, IPCP, PAP, CHAP, ...) end at the PPP layer.
        ..0x4000 if data.len() > at => d.undissected = d.undissected.or(Some("ppp: network protocol not dissected")),
        _ => {}
    }
}

/// Frame Relay at `at` (link type 107): a Q.922 address of 2 to 4 bytes (the last with the EA
/// bit), then RFC 2427 multiprotocol encapsulation (UI control 0x03, optional pad, NLPID; SNAP
/// for EtherTypes) or Cisco's (an EtherType right after the address).
fn frame_relay(data: &[u8], at: usize, d: &mut Dissection) {
    let mut p = at;
    loop {
        let Some(&b) = data.get(p) else {
            d.error = Some("frame-relay: header truncated");
            return;
        };
        p += 1;
        if b & 1 == 1 {
            break;
        }
        if p - at == 4 {
            d.error = Some("frame-relay: address malformed");
            return;
        }
    }
    d.push(layer::FRAME_RELAY, 0, at);
    if data.get(p) != Some(&0x03) {
        match data.get(p..p + 2) {
            Some(e) => ethertype(data, u16::from_be_bytes([e[0], e[1]]), p + 2, 0, d),
            None => d.error = Some("frame-relay: header truncated"),
        }
        return;
    }
    p += 1;
    if data.get(p) == Some(&0) {
        p += 1; // pad
    }
    match data.get(p) {
        Some(0xcc | 0x8e) => from_ip(data, p + 1, 0, d),
        Some(0x80) => match data.get(p + 1..p + 6) {
            Some([0, 0, 0, a, b]) => ethertype(data, u16::from_be_bytes([*a, *b]), p + 6, 0, d),
            Some(_) => d.unknown_net = true,
            None => d.error = Some("frame-relay: header truncated"),
        },
        Some(_) => d.unknown_net = true,
        None => d.error = Some("frame-relay: header truncated"),
    }
}

/// Continues with an IP packet at `at` (IPv4 or IPv6 by its version nibble).
fn from_ip(data: &[u8], at: usize, depth: u16, d: &mut Dissection) {
    let Some(rest) = data.get(at..) else { return };
    match LaxSlicedPacket::from_ip(rest) {
        Ok(s) => fill(data, &s, d, depth),
        Err(_) => d.error = d.error.or(Some("ip: header malformed or truncated")),
    }
}

/// Continues with the payload of EtherType `et` at `at`: the protocols etherparse slices
/// (IPv4, IPv6, ARP, VLAN tags, MACsec) go through it, the others are ours.
fn ethertype(data: &[u8], et: u16, at: usize, depth: u16, d: &mut Dissection) {
    if d.count >= MAX_LAYERS || ours(data, et, at, depth, d) {
        return;
    }
    if matches!(et, 0x0800 | 0x86dd | 0x0806 | 0x8100 | 0x88a8 | 0x9100 | 0x88e5) {
        let s = LaxSlicedPacket::from_ether_type(EtherType(et), data.get(at..).unwrap_or_default());
        fill(data, &s, d, depth);
    } else if depth == 0 {
        d.unknown_net = true;
    } else {
        d.undissected = d.undissected.or(Some("tunnel: inner protocol not dissected"));
    }
}

/// The EtherTypes (and 802.3 lengths) etherparse does not slice; false when `et` is not one.
fn ours(data: &[u8], et: u16, at: usize, depth: u16, d: &mut Dissection) -> bool {
    let end = data.len();
    let f = depth_flags(depth);
    match et {
        0..=1500 => llc(data, at, (at + usize::from(et)).min(end), depth, d),
        // RARP has ARP's format; Wireshark decodes it as ARP, and so do we.
        0x8035 if end >= at + 8 => d.push(layer::ARP, f, at),
        0x9000 if end > at => d.push(layer::ETHERNET_CTP, f, at),
        0x88cc if end > at => d.push(layer::LLDP, f, at),
        0x8892 if end >= at + 2 => d.push(layer::PROFINET, f, at),
        0x888e if end >= at + 4 => {
            d.push(layer::EAPOL, f, at);
            match data[at + 1] {
                0 if end >= at + 8 => d.push(layer::EAP, f, at + 4),
                3 if end > at + 4 => d.push(layer::EAPOL_KEY, f, at + 4),
                _ => {}
            }
        }
        0x8847 | 0x8848 => mpls(data, at, depth, d),
        // ERSPAN type II (8-byte header) and type III (12 bytes, 8 more with the O flag) in GRE:
        // a mirrored Ethernet frame follows.
        0x88be if depth > 0 => return ours(data, 0x6558, at + 8, depth, d),
        0x22eb if depth > 0 => {
            let extra = if data.get(at + 11).is_some_and(|b| b & 1 != 0) { 8 } else { 0 };
            return ours(data, 0x6558, at + 12 + extra, depth, d);
        }
        // Cisco MetaData in GRE (8 bytes: the inner EtherType, version, length, option, SGT) and
        // CDP carried over GRE.
        0x8909 if depth > 0 && end >= at + 8 => {
            ethertype(data, u16::from_be_bytes([data[at], data[at + 1]]), at + 8, depth, d)
        }
        0x2000 if depth > 0 && end > at => d.push(layer::CDP, f, at),
        // PPPoE: discovery, and sessions carrying PPP (the outermost packet: same depth).
        0x8863 if end >= at + 6 => d.push(layer::PPPOE_DISCOVERY, f, at),
        0x8864 if end >= at + 6 => {
            d.push(layer::PPPOE_SESSION, f, at);
            ppp(data, at + 6, depth, d);
        }
        // 802.1ah I-tag (4 bytes), then the customer frame: a tunnel (MAC in MAC).
        0x88e7 if end >= at + 4 => {
            d.push(layer::PBB, f, at);
            match LaxSlicedPacket::from_ethernet(&data[at + 4..]) {
                Ok(s) => fill(data, &s, d, depth + 1),
                Err(_) => d.error = d.error.or(Some("pbb: customer frame truncated")),
            }
        }
        // VN-Tag (4 bytes) and 802.1BR E-Tag (6 bytes) are tags like 802.1Q's: the EtherType
        // after them says what follows, at the same depth.
        0x8926 if end >= at + 6 => {
            d.push(layer::VNTAG, f, at);
            ethertype(data, u16::from_be_bytes([data[at + 4], data[at + 5]]), at + 6, depth, d);
        }
        0x893f if end >= at + 8 => {
            d.push(layer::ETAG, f, at);
            ethertype(data, u16::from_be_bytes([data[at + 6], data[at + 7]]), at + 8, depth, d);
        }
        0x894f => nsh(data, at, depth, d),
        // Transparent Ethernet bridging (GRE, Geneve): an Ethernet frame follows.
        0x6558 => match LaxSlicedPacket::from_ethernet(data.get(at..).unwrap_or_default()) {
            Ok(s) => fill(data, &s, d, depth),
            Err(_) => d.error = d.error.or(Some("ethernet: header truncated")),
        },
        _ => return false,
    }
    true
}

fn depth_flags(depth: u16) -> u16 {
    (depth.min(layer::DEPTH_MASK)) << layer::DEPTH_SHIFT
}

/// 802.2 LLC at `at` (ending at `end`), then SNAP and what SNAP names.
fn llc(data: &[u8], at: usize, end: usize, depth: u16, d: &mut Dissection) {
    let Some(h) = data.get(at..end).filter(|h| h.len() >= 3) else {
        d.error = d.error.or(Some("llc: header truncated"));
        return;
    };
    d.push(layer::LLC, depth_flags(depth), at);
    if h[0] != 0xaa || h[1] != 0xaa || h[2] != 0x03 {
        return;
    }
    let Some(s) = h.get(3..8) else {
        d.error = d.error.or(Some("snap: header truncated"));
        return;
    };
    d.push(layer::SNAP, depth_flags(depth), at + 3);
    let oui = [s[0], s[1], s[2]];
    let pid = u16::from_be_bytes([s[3], s[4]]);
    let body = at + 8;
    match (oui, pid) {
        // RFC 1042 and 802.1H bridge tunnel encapsulation: the PID is an EtherType.
        ([0, 0, 0] | [0, 0, 0xf8], 0x0600..) => ethertype(data, pid, body, depth, d),
        ([0, 0, 0x0c], 0x2000) if end > body => d.push(layer::CDP, depth_flags(depth), body),
        ([0, 0, 0x81], 0x01a1..=0x01a2) if end > body => d.push(layer::NORTEL_DISCOVERY, depth_flags(depth), body),
        _ => {}
    }
}

/// Radiotap (link type 127): its length, and whether the 802.11 frame after it ends with an FCS
/// (the Flags field, bit 0x10).
fn radiotap(whole: &[u8], base: usize, d: &mut Dissection) {
    let Some(h) = whole.get(base..base + 8) else {
        d.error = Some("radiotap: header truncated");
        return;
    };
    d.push(layer::RADIOTAP, 0, base);
    // Offsets below are relative to the radiotap header.
    let data = &whole[base..];
    let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    let present = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    // Skip the extended presence bitmaps (bit 31 of each says another follows).
    let mut at = 8;
    let mut word = present;
    while word & 0x8000_0000 != 0 && at + 4 <= len.min(data.len()) {
        word = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        at += 4;
    }
    let mut fcs = false;
    if present & 2 != 0 {
        if present & 1 != 0 {
            at = at.next_multiple_of(8) + 8; // TSFT, 8-byte aligned
        }
        fcs = data.get(at).is_some_and(|f| f & 0x10 != 0);
    }
    if len < 8 || len > data.len() {
        d.error = Some("radiotap: header truncated");
        return;
    }
    let end = if fcs { data.len().saturating_sub(4).max(len) } else { data.len() };
    dot11(whole, base + len, base + end, d);
}

/// An 802.11 MAC header at `at`; unprotected data frames continue with LLC.
fn dot11(data: &[u8], at: usize, end: usize, d: &mut Dissection) {
    let Some(h) = data.get(at..end).filter(|h| h.len() >= 10) else {
        d.error = d.error.or(Some("dot11: header truncated"));
        return;
    };
    d.push(layer::DOT11, 0, at);
    let fc = u16::from_le_bytes([h[0], h[1]]);
    let (kind, subtype, flags) = ((fc >> 2) & 3, (fc >> 4) & 0xf, fc >> 8);
    // Data frames without a body (null function, CF-Ack/Poll only) and protected frames stop here.
    if kind != 2 || subtype & 4 != 0 || flags & 0x40 != 0 {
        return;
    }
    let mut len = 24;
    if flags & 3 == 3 {
        len += 6; // fourth address
    }
    if subtype & 8 != 0 {
        len += 2; // QoS control
        if flags & 0x80 != 0 {
            len += 4; // HT control
        }
    }
    if at + len < end {
        llc(data, at + len, end, 0, d);
    }
}

/// An MPLS label stack at `at`: one layer per entry; what follows the bottom of the stack is
/// guessed as Wireshark does by default: IPv4 or IPv6 by the first nibble, else an Ethernet
/// pseudowire with a control word (first nibble 0).
fn mpls(data: &[u8], mut at: usize, depth: u16, d: &mut Dissection) {
    loop {
        let Some(e) = data.get(at..at + 4) else {
            d.error = d.error.or(Some("mpls: label stack truncated"));
            return;
        };
        d.push(layer::MPLS, depth_flags(depth), at);
        at += 4;
        if e[2] & 1 != 0 || d.count >= MAX_LAYERS {
            break;
        }
    }
    let Some(&first) = data.get(at) else { return };
    match first >> 4 {
        4 | 6 => from_ip(data, at, depth + 1, d),
        0 if data.len() >= at + 4 + 14 => {
            if let Ok(s) = LaxSlicedPacket::from_ethernet(&data[at + 4..]) {
                fill(data, &s, d, depth + 1);
            }
        }
        _ => {}
    }
}

/// A GRE header at `at` (RFC 2784/2890; version 1 is PPTP's enhanced GRE); the encapsulated
/// packet follows one tunnel level deeper.
fn gre(data: &[u8], at: usize, depth: u16, d: &mut Dissection) {
    if d.count >= MAX_LAYERS {
        return;
    }
    let Some(h) = data.get(at..at + 4) else {
        d.error = d.error.or(Some("gre: header truncated"));
        return;
    };
    d.push(layer::GRE, depth_flags(depth), at);
    let flags = u16::from_be_bytes([h[0], h[1]]);
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let mut len = 4;
    if flags & 0xc000 != 0 {
        len += 4; // checksum + offset
    }
    if flags & 0x2000 != 0 {
        len += 4; // key
    }
    if flags & 0x1000 != 0 {
        len += 4; // sequence number
    }
    if flags & 7 == 1 && flags & 0x0080 != 0 {
        len += 4; // acknowledgment (enhanced GRE)
    }
    if flags & 0x4000 != 0 {
        // Source route entries: address family, offset, length; ends with family 0, length 0.
        loop {
            let Some(sre) = data.get(at + len..at + len + 4) else {
                d.error = d.error.or(Some("gre: routing truncated"));
                return;
            };
            let n = usize::from(sre[3]);
            len += 4 + n;
            if sre[0] == 0 && sre[1] == 0 && n == 0 {
                break;
            }
        }
    }
    if data.len() <= at + len {
        return;
    }
    match (flags & 7, proto) {
        // PPTP's enhanced GRE (version 1) carries PPP.
        (1, 0x880b) => ppp(data, at + len, depth + 1, d),
        // A protocol type below 0x0600 is not an EtherType (and not an 802.3 length here).
        (0, 1501..) => ethertype(data, proto, at + len, depth + 1, d),
        _ => d.undissected = d.undissected.or(Some("tunnel: inner protocol not dissected")),
    }
}

/// Layers etherparse does not slice inside an IP payload (`payload` at `at`, protocol `proto`).
fn ip_payload(data: &[u8], proto: u8, at: usize, depth: u16, d: &mut Dissection) {
    if at >= data.len() || d.count >= MAX_LAYERS {
        return;
    }
    let f = depth_flags(depth);
    match proto {
        4 | 41 => from_ip(data, at, depth + 1, d),
        47 => gre(data, at, depth, d),
        50 => d.push(layer::IPSEC_ESP, f, at),
        89 => d.push(layer::OSPF, f, at),
        112 => d.push(layer::VRRP, f, at),
        132 => d.push(layer::SCTP, f, at),
        _ => {}
    }
}

/// UDP payloads the host itself must look into: the tunnels. A packet whose ports name a tunnel
/// is decapsulated when its payload has that tunnel's header.
fn udp_tunnel(data: &[u8], ports: (u16, u16), at: usize, depth: u16, d: &mut Dissection) {
    let is = |p: u16| ports.0 == p || ports.1 == p;
    let Some(h) = data.get(at..at + 8) else { return };
    if is(4789) {
        d.push(layer::VXLAN, depth_flags(depth), at);
        if let Ok(s) = LaxSlicedPacket::from_ethernet(&data[at + 8..]) {
            fill(data, &s, d, depth + 1);
        }
    } else if is(6081) && h[0] >> 6 == 0 {
        d.push(layer::GENEVE, depth_flags(depth), at);
        let inner = at + 8 + usize::from(h[0] & 0x3f) * 4;
        if inner < data.len() {
            let proto = u16::from_be_bytes([h[2], h[3]]);
            if proto > 1500 {
                ethertype(data, proto, inner, depth + 1, d);
            }
        }
    } else if is(4790) {
        // VXLAN-GPE: with the P bit the next-protocol byte says what follows, else Ethernet.
        d.push(layer::VXLAN_GPE, depth_flags(depth), at);
        let next = if h[0] & 0x04 != 0 { h[3] } else { 3 };
        next_protocol(data, next, at + 8, depth + 1, d);
    } else if is(4754) {
        // GRE-in-UDP (RFC 8086): the GRE header is the UDP payload.
        gre(data, at, depth, d);
    } else if is(3544) {
        teredo(data, at, depth, d);
    } else if is(2152) || is(2123) {
        gtp(data, at, depth, d);
    } else if is(1701) {
        d.undissected = d.undissected.or(Some("l2tp: not decapsulated"));
    } else if is(5072) {
        d.undissected = d.undissected.or(Some("ayiya: not decapsulated"));
    }
}

/// What a VXLAN-GPE or NSH next-protocol value names, at `at` (depth already the inner one):
/// 1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS.
fn next_protocol(data: &[u8], next: u8, at: usize, depth: u16, d: &mut Dissection) {
    if at >= data.len() {
        return;
    }
    match next {
        1 | 2 => from_ip(data, at, depth, d),
        3 => match LaxSlicedPacket::from_ethernet(&data[at..]) {
            Ok(s) => fill(data, &s, d, depth),
            Err(_) => d.error = d.error.or(Some("ethernet: header truncated")),
        },
        4 => nsh(data, at, depth, d),
        5 => mpls(data, at, depth, d),
        _ => d.undissected = d.undissected.or(Some("tunnel: inner protocol not dissected")),
    }
}

/// A Network Service Header (RFC 8300) at `at`: the base header's length field (4-byte words)
/// says where the packet starts; the next-protocol field what it is, one tunnel level deeper.
fn nsh(data: &[u8], at: usize, depth: u16, d: &mut Dissection) {
    if d.count >= MAX_LAYERS {
        return;
    }
    let Some(h) = data.get(at..at + 8) else {
        d.error = d.error.or(Some("nsh: header truncated"));
        return;
    };
    d.push(layer::NSH, depth_flags(depth), at);
    let len = usize::from(h[1] & 0x3f) * 4;
    if len < 8 {
        d.error = d.error.or(Some("nsh: length invalid"));
        return;
    }
    if at + len > data.len() {
        d.error = d.error.or(Some("nsh: header truncated"));
        return;
    }
    next_protocol(data, h[3], at + len, depth + 1, d);
}

/// Teredo (RFC 4380) at `at`, the payload of UDP port 3544: an optional authentication
/// indicator (0x0001, id and value lengths, id, value, 8-byte nonce, confirmation byte) and an
/// optional origin indicator (0x0000, port, address), then an IPv6 packet one tunnel deeper.
/// Without an IPv6 packet where one must start, the datagram is not Teredo's.
fn teredo(data: &[u8], at: usize, depth: u16, d: &mut Dissection) {
    let mut p = at;
    if let Some([0, 1, id, au]) = data.get(p..p + 4) {
        p += 4 + usize::from(*id) + usize::from(*au) + 9;
    }
    if let Some([0, 0, ..]) = data.get(p..p + 8) {
        p += 8;
    }
    if data.get(p).is_some_and(|b| b >> 4 == 6) && data.len() >= p + 40 {
        d.push(layer::TEREDO, depth_flags(depth), at);
        from_ip(data, p, depth + 1, d);
    }
}

/// GTPv1 (3GPP TS 29.281 / 29.060) at `at`: flags, message type, length, TEID; with any of the
/// E, S and PN flags a sequence number, N-PDU number and the first extension header type, then
/// the extension headers (a length in 4-byte units, the content, the next type). A G-PDU
/// (message type 255) carries an IP packet, one tunnel deeper. GTPv2 and GTP' are not GTPv1.
fn gtp(data: &[u8], at: usize, depth: u16, d: &mut Dissection) {
    let Some(h) = data.get(at..at + 8) else { return };
    if h[0] >> 5 != 1 || h[0] & 0x10 == 0 {
        return;
    }
    d.push(layer::GTP, depth_flags(depth), at);
    let mut p = at + 8;
    if h[0] & 0x07 != 0 {
        let Some(o) = data.get(p..p + 4) else {
            d.error = d.error.or(Some("gtp: header truncated"));
            return;
        };
        let mut next = o[3];
        p += 4;
        let mut n = 0;
        while next != 0 {
            let Some(&len) = data.get(p) else {
                d.error = d.error.or(Some("gtp: header truncated"));
                return;
            };
            let len = usize::from(len) * 4;
            n += 1;
            if len == 0 || n > 16 {
                d.error = d.error.or(Some("gtp: extension header malformed"));
                return;
            }
            let Some(&nx) = data.get(p + len - 1) else {
                d.error = d.error.or(Some("gtp: header truncated"));
                return;
            };
            next = nx;
            p += len;
        }
    }
    if h[1] == 255 && p < data.len() {
        match data[p] >> 4 {
            4 | 6 => from_ip(data, p, depth + 1, d),
            _ => d.undissected = d.undissected.or(Some("gtp: payload not IP")),
        }
    }
}

fn fill(data: &[u8], s: &LaxSlicedPacket<'_>, d: &mut Dissection, depth: u16) {
    // Tunnels nest only as deep as the layer list is long (each level adds layers).
    if d.count >= MAX_LAYERS {
        return;
    }
    let f = depth_flags(depth);
    let mut macs: Option<([u8; 6], [u8; 6])> = None;
    match &s.link {
        Some(LinkSlice::Ethernet2(e)) => {
            d.push(layer::ETHERNET, f, off(data, e.slice()));
            macs = Some((e.source(), e.destination()));
        }
        Some(LinkSlice::LinuxSll(e)) => d.push(layer::LINUX_SLL, f, off(data, e.slice())),
        _ => {}
    }
    for ext in &s.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            d.push(layer::DOT1Q, f, off(data, v.slice()));
        }
    }
    let mut addrs: Option<(&[u8], &[u8])> = None;
    let mut fragmented = false;
    // A first fragment (offset 0) still starts with the transport header.
    let mut first_fragment: Option<&[u8]> = None;
    let mut proto = 0u8;
    // The IP payload, where etherparse has no slice for the protocol.
    let mut unsliced: Option<&[u8]> = None;
    match &s.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            let flags = f | if ip.payload().incomplete { layer::FLAG_TRUNCATED } else { 0 };
            d.push(layer::IPV4, flags, off(data, h.slice()));
            if ip.payload().fragmented {
                d.fragment = Some((d.count - 1) as u8);
            }
            if let Some(ah) = ip.extensions().auth {
                d.push(layer::IPSEC_AH, f, off(data, ah.slice()));
            }
            addrs = Some((&h.slice()[12..16], &h.slice()[16..20]));
            fragmented = ip.payload().fragmented;
            proto = ip.payload().ip_number.0;
            if fragmented && h.fragments_offset().value() == 0 && !d.defrag {
                first_fragment = Some(ip.payload().payload);
            }
            if !fragmented {
                unsliced = Some(ip.payload().payload);
            }
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let flags = f | if ip.payload().incomplete { layer::FLAG_TRUNCATED } else { 0 };
            let start = off(data, h.slice());
            d.push(layer::IPV6, flags, start);
            if ip.payload().fragmented {
                d.fragment = Some((d.count - 1) as u8);
            }
            addrs = Some((&h.slice()[8..24], &h.slice()[24..40]));
            fragmented = ip.payload().fragmented;
            proto = ip.payload().ip_number.0;
            // Our own bounds-checked walk: etherparse's extension iterator reads past the end of
            // a lax-sliced, truncated extension header (malformed/tcpdump_ipv6hdr-heapoverflow).
            let exts_start = start + 40;
            let frag = ipv6_exts(h.next_header().0, data, exts_start, f, d);
            if fragmented && frag == Some(0) && !d.defrag {
                first_fragment = Some(ip.payload().payload);
            }
            if !fragmented {
                unsliced = Some(ip.payload().payload);
            }
        }
        Some(LaxNetSlice::Arp(a)) => d.push(layer::ARP, f, off(data, a.slice())),
        None => match s.ether_payload() {
            // EtherTypes etherparse does not slice (and 802.3 lengths): ours.
            Some(p) => {
                let before = d.count;
                ours(data, p.ether_type.0, off(data, p.payload), depth, d);
                if d.count == before && depth == 0 {
                    d.unknown_net = true;
                } else if d.count == before {
                    d.undissected = d.undissected.or(Some("tunnel: inner protocol not dissected"));
                }
            }
            None => d.unknown_net |= depth == 0,
        },
    }
    let mut ports = (0u16, 0u16);
    match &s.transport {
        Some(TransportSlice::Tcp(t)) => {
            d.push(layer::TCP, f, off(data, t.header_slice()));
            ports = (t.source_port(), t.destination_port());
            if !t.payload().is_empty() {
                d.push(layer::PAYLOAD, f, off(data, t.payload()));
            }
        }
        Some(TransportSlice::Udp(u)) => {
            d.push(layer::UDP, f, off(data, u.header_slice()));
            ports = (u.source_port(), u.destination_port());
            if !u.payload().is_empty() {
                let at = off(data, u.payload());
                d.push(layer::PAYLOAD, f, at);
                udp_tunnel(data, ports, at, depth, d);
            }
        }
        Some(TransportSlice::Icmpv4(i)) => d.push(layer::ICMPV4, f, off(data, i.slice())),
        Some(TransportSlice::Icmpv6(i)) => d.push(layer::ICMPV6, f, off(data, i.slice())),
        Some(TransportSlice::Igmp(i)) => d.push(layer::IGMP, f, off(data, i.slice())),
        None => {
            if let Some(payload) = first_fragment {
                first_fragment_transport(data, payload, proto, f, d);
            } else if let Some(payload) = unsliced {
                ip_payload(data, proto, off(data, payload), depth, d);
            }
        }
    }
    if let Some((err, at)) = &s.stop_err {
        let truncated = matches!(err, etherparse::err::packet::SliceError::Len(_));
        d.error = d.error.or(Some(error_kind(at, truncated)));
    }
    if depth > 0 || (addrs.is_none() && d.hashed) {
        // The flow hash is the outermost IP packet's (or, without one, the outermost frame's).
        return;
    }
    d.hashed = addrs.is_some();
    d.hash = match (addrs, macs) {
        // Fragments other than the first have no ports: hash them by addresses only, with the
        // unfragmented packets' hash space kept apart by the protocol byte.
        (Some((src, dst)), _) if fragmented => hash_pair((src, 0), (dst, 0), proto),
        (Some((src, dst)), _) => hash_pair((src, ports.0), (dst, ports.1), proto),
        (None, Some((a, b))) => hash_pair((&a, 0), (&b, 0), 0),
        (None, None) => 0,
    };
}

/// Walks the IPv6 extension header chain that starts with `next` at `at`, within bounds, pushing
/// the headers that have layers (hop-by-hop, fragment, AH); returns the fragment offset (in
/// 8-byte units) of the fragment header, if there is one.
fn ipv6_exts(mut next: u8, data: &[u8], mut at: usize, flags: u16, d: &mut Dissection) -> Option<u16> {
    let mut frag = None;
    for _ in 0..16 {
        let Some(h) = data.get(at..at + 8) else { break };
        let len = match next {
            0 => {
                d.push(layer::IPV6_HOP_BY_HOP, flags, at);
                (usize::from(h[1]) + 1) * 8
            }
            44 => {
                d.push(layer::IPV6_FRAGMENT, flags, at);
                frag = Some(u16::from_be_bytes([h[2], h[3]]) >> 3);
                8
            }
            51 => {
                d.push(layer::IPSEC_AH, flags, at);
                (usize::from(h[1]) + 2) * 4
            }
            43 | 60 | 135 | 139 | 140 => (usize::from(h[1]) + 1) * 8,
            _ => break,
        };
        next = h[0];
        at += len;
    }
    frag
}

/// Lax slicing stops at a fragmented IP payload; the first fragment still carries the TCP or UDP
/// header, which Wireshark (and netcap) decode, so we do too. Its ports do not go into the flow
/// hash: every fragment of a datagram must reach the same worker.
fn first_fragment_transport(data: &[u8], payload: &[u8], proto: u8, f: u16, d: &mut Dissection) {
    let flags = f | layer::FLAG_TRUNCATED;
    match proto {
        6 => {
            if let Ok(t) = etherparse::TcpSlice::from_slice(payload) {
                d.push(layer::TCP, flags, off(data, t.header_slice()));
                if !t.payload().is_empty() {
                    d.push(layer::PAYLOAD, flags, off(data, t.payload()));
                }
            }
        }
        17 => {
            if let Ok(u) = etherparse::UdpSlice::from_slice_lax(payload) {
                d.push(layer::UDP, flags, off(data, u.header_slice()));
                if !u.payload().is_empty() {
                    d.push(layer::PAYLOAD, flags, off(data, u.payload()));
                }
            }
        }
        _ => {}
    }
}

/// A stable, static error kind for where lax slicing stopped.
fn error_kind(at: &etherparse::err::Layer, truncated: bool) -> &'static str {
    use etherparse::err::Layer as L;
    match (at, truncated) {
        (L::Ethernet2Header, _) => "ethernet: header truncated",
        (L::LinuxSllHeader, _) => "linux-sll: header malformed",
        (L::VlanHeader, _) => "dot1q: header truncated",
        (L::MacsecHeader | L::MacsecPacket, _) => "macsec: header malformed",
        (L::IpHeader | L::Ipv4Header, true) => "ipv4: header truncated",
        (L::IpHeader | L::Ipv4Header, false) => "ipv4: header malformed",
        (L::Ipv4Packet, _) => "ipv4: packet length invalid",
        (L::IpAuthHeader, _) => "ip: authentication header malformed",
        (L::Ipv6Header, true) => "ipv6: header truncated",
        (L::Ipv6Header, false) => "ipv6: header malformed",
        (L::Ipv6Packet, _) => "ipv6: payload length invalid",
        (
            L::Ipv6ExtHeader
            | L::Ipv6HopByHopHeader
            | L::Ipv6DestOptionsHeader
            | L::Ipv6RouteHeader
            | L::Ipv6FragHeader,
            _,
        ) => "ipv6: extension header malformed",
        (L::UdpHeader | L::UdpPayload, _) => "udp: header truncated",
        (L::TcpHeader, true) => "tcp: header truncated",
        (L::TcpHeader, false) => "tcp: header malformed",
        (L::Icmpv4 | L::Icmpv4Timestamp | L::Icmpv4TimestampReply, _) => "icmpv4: truncated",
        (L::Icmpv6, _) => "icmpv6: truncated",
        (L::Igmp, _) => "igmp: truncated",
        (L::Arp, _) => "arp: malformed",
        _ => "dissect: malformed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64).tcp(sp, dp, 1, 1).write(&mut v, b"x").unwrap();
        v
    }

    #[test]
    fn layers_and_offsets() {
        let p = tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80);
        let mut d = Dissection::default();
        dissect(linktype::ETHERNET, &p, &mut d);
        let ids: Vec<(u16, usize)> = d.layers().iter().map(|l| (l.id, l.offset)).collect();
        assert_eq!(ids, vec![(layer::ETHERNET, 0), (layer::IPV4, 14), (layer::TCP, 34), (layer::PAYLOAD, 54)]);
        assert_eq!(d.innermost(), Some(layer::TCP));
        assert!(d.error.is_none());
    }

    #[test]
    fn flow_hash_is_symmetric_and_discriminating() {
        let mut a = Dissection::default();
        let mut b = Dissection::default();
        dissect(linktype::ETHERNET, &tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80), &mut a);
        dissect(linktype::ETHERNET, &tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 1000), &mut b);
        assert_eq!(a.hash, b.hash);
        dissect(linktype::ETHERNET, &tcp([10, 0, 0, 1], 1001, [10, 0, 0, 2], 80), &mut b);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn first_fragment_keeps_its_transport_header() {
        let mut p = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(53, 4000)
            .write(&mut p, &[7; 40])
            .unwrap();
        // Set more-fragments (offset 0): a first fragment.
        p[14 + 6] |= 0x20;
        let mut d = Dissection::default();
        dissect(linktype::ETHERNET, &p, &mut d);
        let ids: Vec<u16> = d.layers().iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![layer::ETHERNET, layer::IPV4, layer::UDP, layer::PAYLOAD]);
        let first = d.hash;
        // A later fragment (offset 8 bytes) has no transport and the same flow hash.
        p[14 + 7] = 1;
        dissect(linktype::ETHERNET, &p, &mut d);
        assert_eq!(d.layers().iter().map(|l| l.id).collect::<Vec<_>>(), vec![layer::ETHERNET, layer::IPV4]);
        assert_eq!(d.hash, first);
    }

    #[test]
    fn ipv6_extension_chain_is_walked_within_bounds() {
        // hop-by-hop (8 bytes, next = fragment 44), fragment with offset 0x0123 << 3.
        let mut exts = vec![44, 0, 1, 4, 0, 0, 0, 0];
        exts.extend_from_slice(&[17, 0, 0x09, 0x18, 0, 0, 0, 1]);
        let mut d = Dissection::default();
        assert_eq!(ipv6_exts(0, &exts, 0, 0, &mut d), Some(0x0123));
        assert_eq!(
            d.layers().iter().map(|l| (l.id, l.offset)).collect::<Vec<_>>(),
            vec![(layer::IPV6_HOP_BY_HOP, 0), (layer::IPV6_FRAGMENT, 8)]
        );
        assert_eq!(ipv6_exts(17, &exts, 0, 0, &mut d), None);
        // A hop-by-hop header claiming 2 KiB in an 8-byte buffer.
        assert_eq!(ipv6_exts(0, &[44, 255, 0, 0, 0, 0, 0, 0], 0, 0, &mut d), None);
        assert_eq!(ipv6_exts(0, &[44, 0, 0], 0, 0, &mut d), None);
    }

    fn ids(d: &Dissection) -> Vec<(u16, usize, u32)> {
        d.layers().iter().map(|l| (l.id, l.offset, l.depth())).collect()
    }

    #[test]
    fn tunnels_are_dissected_one_level_deeper() {
        let inner = tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80);
        // VXLAN: outer UDP to 4789, 8-byte header, the inner Ethernet frame.
        let mut vx = vec![8, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(&inner);
        let mut p = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .udp(5000, 4789)
            .write(&mut p, &vx)
            .unwrap();
        let mut d = Dissection::default();
        dissect(linktype::ETHERNET, &p, &mut d);
        let (ld, li, lu, lp, lv) = (layer::ETHERNET, layer::IPV4, layer::UDP, layer::PAYLOAD, layer::VXLAN);
        assert_eq!(
            ids(&d),
            vec![
                (ld, 0, 0),
                (li, 14, 0),
                (lu, 34, 0),
                (lp, 42, 0),
                (lv, 42, 0),
                (ld, 50, 1),
                (li, 64, 1),
                (layer::TCP, 84, 1),
                (lp, 104, 1)
            ]
        );
        // GRE with a key, carrying IPv4: protocol 47 written by hand.
        let mut g = vec![0x20, 0, 0x08, 0, 0, 0, 0, 9];
        g.extend_from_slice(&inner[14..]);
        let mut p = inner[..14].to_vec();
        let total = 20 + g.len() as u16;
        p.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            47,
            0,
            0,
            1,
            1,
            1,
            1,
            2,
            2,
            2,
            2,
        ]);
        p.extend_from_slice(&g);
        dissect(linktype::ETHERNET, &p, &mut d);
        assert_eq!(ids(&d)[2..5], [(layer::GRE, 34, 0), (li, 42, 1), (layer::TCP, 62, 1)]);
        // MPLS: two labels (the second at the bottom of the stack), then IPv4.
        let mut p = inner[..12].to_vec();
        p.extend_from_slice(&[0x88, 0x47, 0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64]);
        p.extend_from_slice(&inner[14..]);
        dissect(linktype::ETHERNET, &p, &mut d);
        assert_eq!(ids(&d)[..4], [(ld, 0, 0), (layer::MPLS, 14, 0), (layer::MPLS, 18, 0), (li, 22, 1)]);
        // Truncated tunnel headers are errors, never panics.
        for cut in 0..p.len() {
            dissect(linktype::ETHERNET, &p[..cut], &mut d);
        }
    }

    /// The layer ids and depths of `d`.
    fn id_depths(d: &Dissection) -> Vec<(u16, u32)> {
        d.layers().iter().map(|l| (l.id, l.depth())).collect()
    }

    /// An IPv4/UDP packet 10.0.0.1:1000 -> 10.0.0.2:53 (no link header).
    fn inner_udp() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(1000, 53).write(&mut v, b"abcd").unwrap();
        v
    }

    /// `payload` in an outer IPv4/UDP datagram 192.0.2.1:40000 -> 192.0.2.2:`port` in Ethernet.
    fn in_udp(port: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(40000, port)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        v.extend_from_slice(&ethertype.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    const IN_UDP: [(u16, u32); 4] = [(layer::ETHERNET, 0), (layer::IPV4, 0), (layer::UDP, 0), (layer::PAYLOAD, 0)];

    fn inner_at(depth: u32) -> [(u16, u32); 3] {
        [(layer::IPV4, depth), (layer::UDP, depth), (layer::PAYLOAD, depth)]
    }

    /// Dissects, checks the layers, and that every shorter cut is dissected without a panic.
    fn check(link: u16, p: &[u8], want: &[(u16, u32)]) -> Dissection {
        let mut d = Dissection::default();
        for cut in 0..p.len() {
            dissect(link, &p[..cut], &mut d);
        }
        dissect(link, p, &mut d);
        assert_eq!(id_depths(&d), want, "{p:02x?}");
        assert_eq!(d.error, None);
        assert_eq!(d.undissected, None);
        d
    }

    #[test]
    fn udp_tunnels_gre_in_udp_teredo_gtp_vxlan_gpe() {
        let inner = inner_udp();
        // GRE-in-UDP (RFC 8086): GRE carrying IPv4.
        let mut g = vec![0, 0, 0x08, 0x00];
        g.extend_from_slice(&inner);
        let want = [&IN_UDP[..], &[(layer::GRE, 0)], &inner_at(1)].concat();
        check(linktype::ETHERNET, &in_udp(4754, &g), &want);
        // Teredo with an authentication indicator (id 2 bytes, value 1 byte) and an origin
        // indicator, then IPv6/UDP.
        let mut t = vec![0, 1, 2, 1, 0xaa, 0xbb, 0xcc, 1, 2, 3, 4, 5, 6, 7, 8, 0];
        t.extend_from_slice(&[0, 0, 0x12, 0x34, 1, 2, 3, 4]);
        let mut v6 = Vec::new();
        PacketBuilder::ipv6([0x20; 16], [0x30; 16], 64).udp(1000, 53).write(&mut v6, b"x").unwrap();
        t.extend_from_slice(&v6);
        let want =
            [&IN_UDP[..], &[(layer::TEREDO, 0), (layer::IPV6, 1), (layer::UDP, 1), (layer::PAYLOAD, 1)]].concat();
        check(linktype::ETHERNET, &in_udp(3544, &t), &want);
        // Not Teredo: no IPv6 where it must start.
        check(linktype::ETHERNET, &in_udp(3544, &[0; 48]), &IN_UDP);
        // GTP-U G-PDU with E and S flags and two extension headers (PDU session container 0x85,
        // 4 bytes; 0x40 UDP port, 4 bytes), then IPv4.
        let mut u = vec![0x36, 0xff, 0, 0, 0, 0, 0, 7, 0x12, 0x34, 0, 0x85];
        u.extend_from_slice(&[1, 0x10, 0x09, 0x40, 1, 0x08, 0x68, 0]);
        u.extend_from_slice(&inner);
        let len = (u.len() - 8) as u16;
        u[2..4].copy_from_slice(&len.to_be_bytes());
        let want = [&IN_UDP[..], &[(layer::GTP, 0)], &inner_at(1)].concat();
        check(linktype::ETHERNET, &in_udp(2152, &u), &want);
        // An echo request: the GTP header only. GTPv2 (version 2) is not GTPv1.
        check(
            linktype::ETHERNET,
            &in_udp(2152, &[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]),
            &[&IN_UDP[..], &[(layer::GTP, 0)]].concat(),
        );
        check(linktype::ETHERNET, &in_udp(2123, &[0x48, 1, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0]), &IN_UDP);
        // VXLAN-GPE carrying NSH (MD type 2, no metadata) carrying IPv4: two tunnel levels.
        let mut n = vec![0x0c, 0, 0, 4, 0, 0, 1, 0, 0x0f, 0xc2, 0x02, 0x01, 0, 0, 42, 0xff];
        n.extend_from_slice(&inner);
        let want = [&IN_UDP[..], &[(layer::VXLAN_GPE, 0), (layer::NSH, 1)], &inner_at(2)].concat();
        check(linktype::ETHERNET, &in_udp(4790, &n), &want);
    }

    #[test]
    fn link_encapsulations_pppoe_pbb_vntag_etag_nsh() {
        let inner = inner_udp();
        let ip0 = inner_at(0);
        // PPPoE session, PPP IPv4; the flow hash is the IP packet's, as for plain Ethernet.
        let mut s = vec![0x11, 0, 0, 0x2a, 0, (inner.len() + 2) as u8, 0, 0x21];
        s.extend_from_slice(&inner);
        let want = [&[(layer::ETHERNET, 0), (layer::PPPOE_SESSION, 0), (layer::PPP, 0)][..], &ip0].concat();
        let d = check(linktype::ETHERNET, &eth(0x8864, &s), &want);
        let mut plain = Dissection::default();
        dissect(linktype::ETHERNET, &eth(0x0800, &inner), &mut plain);
        assert_eq!(d.hash, plain.hash);
        // PPPoE discovery (PADI), and a session carrying LCP: the PPP layer is the innermost.
        check(
            linktype::ETHERNET,
            &eth(0x8863, &[0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0]),
            &[(layer::ETHERNET, 0), (layer::PPPOE_DISCOVERY, 0)],
        );
        let lcp = [0x11, 0, 0, 1, 0, 6, 0xc0, 0x21, 9, 1, 0, 4];
        check(
            linktype::ETHERNET,
            &eth(0x8864, &lcp),
            &[(layer::ETHERNET, 0), (layer::PPPOE_SESSION, 0), (layer::PPP, 0)],
        );
        // PPP carrying IPX: counted as not dissected.
        let mut d = Dissection::default();
        dissect(linktype::ETHERNET, &eth(0x8864, &[0x11, 0, 0, 1, 0, 6, 0x00, 0x2b, 0xff, 0xff]), &mut d);
        assert_eq!(d.undissected, Some("ppp: network protocol not dissected"));
        // 802.1ah: I-tag, customer frame one level deeper.
        let mut b = vec![0, 0, 0, 0x2a];
        b.extend_from_slice(&eth(0x0800, &inner));
        let want = [&[(layer::ETHERNET, 0), (layer::PBB, 0), (layer::ETHERNET, 1)][..], &inner_at(1)].concat();
        check(linktype::ETHERNET, &eth(0x88e7, &b), &want);
        // VN-Tag and E-Tag, then IPv4 at the same depth.
        let mut v = vec![0x80, 0x05, 0x00, 0x07, 0x08, 0x00];
        v.extend_from_slice(&inner);
        check(linktype::ETHERNET, &eth(0x8926, &v), &[&[(layer::ETHERNET, 0), (layer::VNTAG, 0)][..], &ip0].concat());
        let mut e = vec![0x20, 0x01, 0x00, 0x05, 0x00, 0x00, 0x08, 0x00];
        e.extend_from_slice(&inner);
        check(linktype::ETHERNET, &eth(0x893f, &e), &[&[(layer::ETHERNET, 0), (layer::ETAG, 0)][..], &ip0].concat());
        // NSH over Ethernet (MD type 1: 16 bytes of context) carrying Ethernet.
        let mut n = vec![0x0f, 0xc6, 0x01, 0x03, 0, 0, 1, 0xff];
        n.extend_from_slice(&[0; 16]);
        n.extend_from_slice(&eth(0x0800, &inner));
        let want = [&[(layer::ETHERNET, 0), (layer::NSH, 0), (layer::ETHERNET, 1)][..], &inner_at(1)].concat();
        check(linktype::ETHERNET, &eth(0x894f, &n), &want);
        // NSH in GRE.
        let mut g = vec![0, 0, 0x89, 0x4f, 0x0f, 0xc2, 0x02, 0x01, 0, 0, 1, 0xff];
        g.extend_from_slice(&inner);
        let mut p = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .write(&mut p, etherparse::IpNumber(47), &g)
            .unwrap();
        let want =
            [&[(layer::ETHERNET, 0), (layer::IPV4, 0), (layer::GRE, 0), (layer::NSH, 1)][..], &inner_at(2)].concat();
        check(linktype::ETHERNET, &p, &want);
        // PPTP: enhanced GRE with key and sequence number, PPP with address and control bytes.
        let mut g = vec![0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 5, 0, 0, 0, 1, 0xff, 0x03, 0x00, 0x21];
        g.extend_from_slice(&inner);
        let mut p = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .write(&mut p, etherparse::IpNumber(47), &g)
            .unwrap();
        let want =
            [&[(layer::ETHERNET, 0), (layer::IPV4, 0), (layer::GRE, 0), (layer::PPP, 1)][..], &inner_at(1)].concat();
        check(linktype::ETHERNET, &p, &want);
        // GRE with an EtherType nobody dissects: counted as not dissected.
        let mut p = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .write(&mut p, etherparse::IpNumber(47), &[0, 0, 0x12, 0x34, 1, 2, 3, 4])
            .unwrap();
        dissect(linktype::ETHERNET, &p, &mut d);
        assert_eq!(d.undissected, Some("tunnel: inner protocol not dissected"));
    }

    #[test]
    fn link_types_nflog_ppi_pktap_hdlc_ppp_frame_relay_ipoib() {
        let inner = inner_udp();
        let ip0 = inner_at(0);
        // NFLOG: header, a prefix TLV (5 bytes, padded to 8), the payload TLV; little-endian.
        let mut n = vec![2, 0, 0, 1, 9, 0, 10, 0, b'a', b'b', b'c', b'd', b'e', 0, 0, 0];
        n.extend_from_slice(&((inner.len() + 4) as u16).to_le_bytes());
        n.extend_from_slice(&[9, 0]);
        n.extend_from_slice(&inner);
        check(linktype::NFLOG, &n, &[&[(layer::NFLOG, 0)][..], &ip0].concat());
        // PPI carrying Ethernet.
        let mut p = vec![0, 0, 8, 0, 1, 0, 0, 0];
        p.extend_from_slice(&eth(0x0800, &inner));
        check(linktype::PPI, &p, &[&[(layer::PPI, 0), (layer::ETHERNET, 0)][..], &ip0].concat());
        // PKTAP (header length 16) carrying raw IP (link type 12).
        let mut k = vec![16, 0, 0, 0, 1, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0];
        k.extend_from_slice(&inner);
        check(linktype::PKTAP, &k, &[&[(layer::PKTAP, 0)][..], &ip0].concat());
        // Cisco HDLC, and the same in link type 50.
        let mut c = vec![0x0f, 0, 0x08, 0];
        c.extend_from_slice(&inner);
        let want = [&[(layer::CISCO_HDLC, 0)][..], &ip0].concat();
        check(linktype::C_HDLC, &c, &want);
        check(linktype::PPP_HDLC, &c, &want);
        // SLARP is not RARP.
        check(linktype::C_HDLC, &[0x8f, 0, 0x80, 0x35, 0, 0, 0, 2], &[(layer::CISCO_HDLC, 0)]);
        // PPP with and without address/control, with a compressed protocol field.
        for head in [&[0xff, 0x03, 0x00, 0x21][..], &[0x00, 0x21], &[0x21]] {
            let mut f = head.to_vec();
            f.extend_from_slice(&inner);
            let d = check(linktype::PPP, &f, &[&[(layer::PPP, 0)][..], &ip0].concat());
            assert_eq!(d.layers()[0].offset, head.len() - if head.len() == 1 { 1 } else { 2 });
        }
        // Frame Relay: RFC 2427 NLPID IPv4, SNAP, and Cisco encapsulation.
        for head in [
            &[0x18, 0x41, 0x03, 0xcc][..],
            &[0x18, 0x41, 0x03, 0x00, 0x80, 0, 0, 0, 0x08, 0x00],
            &[0x18, 0x41, 0x08, 0x00],
        ] {
            let mut f = head.to_vec();
            f.extend_from_slice(&inner);
            check(linktype::FRELAY, &f, &[&[(layer::FRAME_RELAY, 0)][..], &ip0].concat());
        }
        // IP over InfiniBand: 40 bytes of addresses, EtherType, reserved.
        let mut i = vec![0; 40];
        i.extend_from_slice(&[0x08, 0, 0, 0]);
        i.extend_from_slice(&inner);
        check(linktype::IPOIB, &i, &[&[(layer::IPOIB, 0)][..], &ip0].concat());
    }

    #[test]
    fn llc_snap_and_link_protocols() {
        // 802.3 frame: length, LLC AA-AA-03, SNAP 00000c/2000 (CDP).
        let mut p = vec![1, 0, 0x0c, 0xcc, 0xcc, 0xcc, 2, 0, 0, 0, 0, 1, 0, 12];
        p.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0x0c, 0x20, 0x00, 2, 180, 0, 0]);
        let mut d = Dissection::default();
        dissect(linktype::ETHERNET, &p, &mut d);
        assert_eq!(
            ids(&d),
            vec![(layer::ETHERNET, 0, 0), (layer::LLC, 14, 0), (layer::SNAP, 17, 0), (layer::CDP, 22, 0)]
        );
        // EAPOL key frame.
        let mut p = vec![0; 12];
        p.extend_from_slice(&[0x88, 0x8e, 2, 3, 0, 95, 2, 0, 0]);
        dissect(linktype::ETHERNET, &p, &mut d);
        assert_eq!(ids(&d)[1..], [(layer::EAPOL, 14, 0), (layer::EAPOL_KEY, 18, 0)]);
        // 802.11 QoS data frame with LLC/SNAP and IPv4 after a radiotap header without fields.
        let inner = tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80);
        let mut p = vec![0, 0, 8, 0, 0, 0, 0, 0];
        p.extend_from_slice(&[0x88, 0x01, 0, 0]);
        p.extend_from_slice(&[0; 20]);
        p.extend_from_slice(&[0, 0]); // QoS control
        p.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        p.extend_from_slice(&inner[14..]);
        dissect(linktype::RADIOTAP, &p, &mut d);
        let got: Vec<u16> = d.layers().iter().map(|l| l.id).collect();
        assert_eq!(got[..6], [layer::RADIOTAP, layer::DOT11, layer::LLC, layer::SNAP, layer::IPV4, layer::TCP]);
    }

    #[test]
    fn port_interests_set_decoder_bits() {
        let mut pi = PortInterests::default();
        let bit = 1u128 << 127;
        pi.add(layer::TCP, 80, bit);
        let mut d = Dissection::default();
        let p = tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80);
        dissect(linktype::ETHERNET, &p, &mut d);
        pi.apply(&p, &mut d);
        assert_ne!(d.mask & bit, 0);
        let p = tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 81);
        dissect(linktype::ETHERNET, &p, &mut d);
        pi.apply(&p, &mut d);
        assert_eq!(d.mask & bit, 0);
    }

    #[test]
    fn raw_ip_loopback_and_sll2() {
        let p = tcp([1, 2, 3, 4], 5, [6, 7, 8, 9], 10);
        let ip = &p[14..];
        let mut d = Dissection::default();
        dissect(linktype::RAW, ip, &mut d);
        assert_eq!(d.layers()[0], LayerRef { id: layer::IPV4, flags: 0, offset: 0 });
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(ip);
        dissect(linktype::NULL, &null, &mut d);
        assert_eq!(d.layers()[1], LayerRef { id: layer::IPV4, flags: 0, offset: 4 });
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll2.extend_from_slice(ip);
        dissect(linktype::LINUX_SLL2, &sll2, &mut d);
        assert_eq!(d.layers()[1], LayerRef { id: layer::IPV4, flags: 0, offset: 20 });
    }

    #[test]
    fn truncation_is_counted_not_fatal() {
        let p = tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80);
        let mut d = Dissection::default();
        dissect(linktype::ETHERNET, &p[..40], &mut d);
        assert_eq!(d.layers().iter().map(|l| l.id).collect::<Vec<_>>(), vec![layer::ETHERNET, layer::IPV4]);
        assert_eq!(d.error, Some("tcp: header truncated"));
        dissect(linktype::ETHERNET, &p[..5], &mut d);
        assert_eq!(d.count, 0);
        assert!(d.error.is_some());
        dissect(999, &p, &mut d);
        assert!(d.unknown_link);
    }
}
