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

/// pcap LINKTYPE_ values we dissect.
pub mod linktype {
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    pub const RAW_OPENBSD: u16 = 12;
    pub const RAW_BSD: u16 = 14;
    pub const RAW: u16 = 101;
    pub const LOOP: u16 = 108;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const LINUX_SLL2: u16 = 276;
}

/// Maximum layers recorded per packet.
pub const MAX_LAYERS: usize = 16;

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
        }
    }
}

impl Dissection {
    fn reset(&mut self) {
        self.count = 0;
        self.mask = 0;
        self.hash = 0;
        self.error = None;
        self.unknown_link = false;
        self.unknown_net = false;
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
    let sliced = match link_type {
        linktype::ETHERNET => match LaxSlicedPacket::from_ethernet(data) {
            Ok(s) => Some(s),
            Err(_) => {
                d.error = Some("ethernet: header truncated");
                return;
            }
        },
        linktype::LINUX_SLL => {
            if data.len() < 16 {
                d.error = Some("linux-sll: header truncated");
                return;
            }
            d.push(layer::LINUX_SLL, 0, 0);
            let proto = u16::from_be_bytes([data[14], data[15]]);
            Some(LaxSlicedPacket::from_ether_type(EtherType(proto), &data[16..]))
        }
        linktype::LINUX_SLL2 => {
            if data.len() < 20 {
                d.error = Some("linux-sll2: header truncated");
                return;
            }
            d.push(layer::LINUX_SLL2, 0, 0);
            let proto = u16::from_be_bytes([data[0], data[1]]);
            Some(LaxSlicedPacket::from_ether_type(EtherType(proto), &data[20..]))
        }
        linktype::NULL | linktype::LOOP => {
            if data.len() < 4 {
                d.error = Some("loopback: header truncated");
                return;
            }
            d.push(layer::LOOPBACK, 0, 0);
            // NULL uses the capturing host's byte order; LOOP is big-endian.
            let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            let family = if link_type == linktype::LOOP || be < 0x100 { be } else { be.swap_bytes() };
            match family {
                2 => from_ip(&data[4..], d),
                10 | 24 | 28 | 30 => from_ip(&data[4..], d),
                _ => {
                    d.unknown_net = true;
                    return;
                }
            }
        }
        linktype::RAW | linktype::RAW_OPENBSD | linktype::RAW_BSD | linktype::IPV4 | linktype::IPV6 => from_ip(data, d),
        _ => {
            d.unknown_link = true;
            return;
        }
    };
    let Some(sliced) = sliced else { return };
    fill(data, &sliced, d);
}

fn from_ip<'a>(data: &'a [u8], d: &mut Dissection) -> Option<LaxSlicedPacket<'a>> {
    match LaxSlicedPacket::from_ip(data) {
        Ok(s) => Some(s),
        Err(_) => {
            d.error = Some("ip: header malformed or truncated");
            None
        }
    }
}

fn fill(data: &[u8], s: &LaxSlicedPacket<'_>, d: &mut Dissection) {
    let mut macs: Option<([u8; 6], [u8; 6])> = None;
    match &s.link {
        Some(LinkSlice::Ethernet2(e)) => {
            d.push(layer::ETHERNET, 0, off(data, e.slice()));
            macs = Some((e.source(), e.destination()));
        }
        Some(LinkSlice::LinuxSll(e)) => d.push(layer::LINUX_SLL, 0, off(data, e.slice())),
        _ => {}
    }
    for ext in &s.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            d.push(layer::DOT1Q, 0, off(data, v.slice()));
        }
    }
    let mut addrs: Option<(&[u8], &[u8])> = None;
    let mut fragmented = false;
    // A first fragment (offset 0) still starts with the transport header.
    let mut first_fragment: Option<&[u8]> = None;
    let mut proto = 0u8;
    match &s.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            let flags = if ip.payload().incomplete { layer::FLAG_TRUNCATED } else { 0 };
            d.push(layer::IPV4, flags, off(data, h.slice()));
            addrs = Some((&h.slice()[12..16], &h.slice()[16..20]));
            fragmented = ip.payload().fragmented;
            proto = h.protocol().0;
            if fragmented && h.fragments_offset().value() == 0 {
                first_fragment = Some(ip.payload().payload);
            }
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let flags = if ip.payload().incomplete { layer::FLAG_TRUNCATED } else { 0 };
            d.push(layer::IPV6, flags, off(data, h.slice()));
            addrs = Some((&h.slice()[8..24], &h.slice()[24..40]));
            fragmented = ip.payload().fragmented;
            proto = ip.payload().ip_number.0;
            // Our own bounds-checked walk: etherparse's extension iterator reads past the end of
            // a lax-sliced, truncated extension header (malformed/tcpdump_ipv6hdr-heapoverflow).
            let exts_start = off(data, h.slice()) + 40;
            let offset_zero =
                ipv6_fragment_offset(h.next_header().0, data.get(exts_start..).unwrap_or_default()) == Some(0);
            if fragmented && offset_zero {
                first_fragment = Some(ip.payload().payload);
            }
        }
        Some(LaxNetSlice::Arp(a)) => d.push(layer::ARP, 0, off(data, a.slice())),
        // RARP (0x8035) has ARP's format; Wireshark decodes it as ARP, and so do we.
        None => match s.ether_payload() {
            Some(p) if p.ether_type.0 == 0x8035 && p.payload.len() >= 8 => d.push(layer::ARP, 0, off(data, p.payload)),
            _ => d.unknown_net = true,
        },
    }
    let mut ports = (0u16, 0u16);
    match &s.transport {
        Some(TransportSlice::Tcp(t)) => {
            d.push(layer::TCP, 0, off(data, t.header_slice()));
            ports = (t.source_port(), t.destination_port());
            if !t.payload().is_empty() {
                d.push(layer::PAYLOAD, 0, off(data, t.payload()));
            }
        }
        Some(TransportSlice::Udp(u)) => {
            d.push(layer::UDP, 0, off(data, u.header_slice()));
            ports = (u.source_port(), u.destination_port());
            if !u.payload().is_empty() {
                d.push(layer::PAYLOAD, 0, off(data, u.payload()));
            }
        }
        Some(TransportSlice::Icmpv4(i)) => d.push(layer::ICMPV4, 0, off(data, i.slice())),
        Some(TransportSlice::Icmpv6(i)) => d.push(layer::ICMPV6, 0, off(data, i.slice())),
        Some(_) => {}
        None => {
            if let Some(payload) = first_fragment {
                first_fragment_transport(data, payload, proto, d);
            }
        }
    }
    if let Some((err, at)) = &s.stop_err {
        let truncated = matches!(err, etherparse::err::packet::SliceError::Len(_));
        d.error = Some(error_kind(at, truncated));
    }
    d.hash = match (addrs, macs) {
        // Fragments other than the first have no ports: hash them by addresses only, with the
        // unfragmented packets' hash space kept apart by the protocol byte.
        (Some((src, dst)), _) if fragmented => hash_pair((src, 0), (dst, 0), proto),
        (Some((src, dst)), _) => hash_pair((src, ports.0), (dst, ports.1), proto),
        (None, Some((a, b))) => hash_pair((&a, 0), (&b, 0), 0),
        (None, None) => 0,
    };
}

/// The fragment offset (in 8-byte units) of the IPv6 fragment header in the extension header
/// chain that starts with `next` at the front of `exts`, if there is one.
fn ipv6_fragment_offset(mut next: u8, exts: &[u8]) -> Option<u16> {
    let mut at = 0usize;
    for _ in 0..16 {
        let h = exts.get(at..at + 8)?;
        let len = match next {
            44 => return Some(u16::from_be_bytes([h[2], h[3]]) >> 3),
            0 | 43 | 60 | 135 | 139 | 140 => (usize::from(h[1]) + 1) * 8,
            51 => (usize::from(h[1]) + 2) * 4,
            _ => return None,
        };
        next = h[0];
        at += len;
    }
    None
}

/// Lax slicing stops at a fragmented IP payload; the first fragment still carries the TCP or UDP
/// header, which Wireshark (and netcap) decode, so we do too. Its ports do not go into the flow
/// hash: every fragment of a datagram must reach the same worker.
fn first_fragment_transport(data: &[u8], payload: &[u8], proto: u8, d: &mut Dissection) {
    let flags = layer::FLAG_TRUNCATED;
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
    fn ipv6_fragment_offset_walks_the_chain_within_bounds() {
        // hop-by-hop (8 bytes, next = fragment 44), fragment with offset 0x0123 << 3.
        let mut exts = vec![44, 0, 1, 4, 0, 0, 0, 0];
        exts.extend_from_slice(&[17, 0, 0x09, 0x18, 0, 0, 0, 1]);
        assert_eq!(ipv6_fragment_offset(0, &exts), Some(0x0123));
        assert_eq!(ipv6_fragment_offset(17, &exts), None);
        // A hop-by-hop header claiming 2 KiB in an 8-byte buffer.
        assert_eq!(ipv6_fragment_offset(0, &[44, 255, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(ipv6_fragment_offset(0, &[44, 0, 0]), None);
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
