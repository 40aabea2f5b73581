//! Field extraction for the `net` family from the layers the host dissected: one record per
//! occurrence of a layer (and, for ICMPv6 echo and neighbour-discovery messages, the subtype
//! record after the ICMPv6 record, as netcap emits them).
//!
//! Every read is bounds-checked through [`View`]: a header cut short yields a record with the
//! fields that were present plus one counted error. Lists (options, chunks, group records,
//! sources) are bounded by the bytes present, never by a length field alone. A layer's bytes end
//! where its IP header says the IP payload ends, so Ethernet padding is never read as options or
//! chunks. Message values (and their lists) are reused between packets.

use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, Packet, fmt, layer};

/// Layer names the decoder asks the host for.
/// `udp:4500` brings UDP-encapsulated ESP (RFC 3948, NAT traversal), which Wireshark dissects too.
pub const LAYERS: [&str; 9] =
    ["icmpv4", "icmpv6", "igmp", "ipv6-hop-by-hop", "ipv6-fragment", "ipsec-ah", "ipsec-esp", "sctp", "udp:4500"];

/// The NAT-traversal port of UDP-encapsulated ESP.
const ESP_IN_UDP_PORT: u16 = 4500;

/// Type ids: indexes into [`RECORD_TYPES`].
pub const T_ICMPV4: u16 = 0;
pub const T_ICMPV6: u16 = 1;
pub const T_ICMPV6_ECHO: u16 = 2;
pub const T_ICMPV6_NS: u16 = 3;
pub const T_ICMPV6_NA: u16 = 4;
pub const T_ICMPV6_RS: u16 = 5;
pub const T_ICMPV6_RA: u16 = 6;
pub const T_IGMP: u16 = 7;
pub const T_HOP_BY_HOP: u16 = 8;
pub const T_FRAGMENT: u16 = 9;
pub const T_AH: u16 = 10;
pub const T_ESP: u16 = 11;
pub const T_SCTP: u16 = 12;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 13] = [
    ("ICMPv4", "netcap.v1.ICMPv4"),
    ("ICMPv6", "netcap.v1.ICMPv6"),
    ("ICMPv6Echo", "netcap.v1.ICMPv6Echo"),
    ("ICMPv6NeighborSolicitation", "netcap.v1.ICMPv6NeighborSolicitation"),
    ("ICMPv6NeighborAdvertisement", "netcap.v1.ICMPv6NeighborAdvertisement"),
    ("ICMPv6RouterSolicitation", "netcap.v1.ICMPv6RouterSolicitation"),
    ("ICMPv6RouterAdvertisement", "netcap.v1.ICMPv6RouterAdvertisement"),
    ("IGMP", "netcap.v1.IGMP"),
    ("IPv6HopByHop", "netcap.v1.IPv6HopByHop"),
    ("IPv6Fragment", "netcap.v1.IPv6Fragment"),
    ("IPSecAH", "netcap.v1.IPSecAH"),
    ("IPSecESP", "netcap.v1.IPSecESP"),
    ("SCTP", "netcap.v1.SCTP"),
];

/// Per-instance decoder state: which record types are enabled and the reused record values.
#[derive(Default)]
pub struct Net {
    enabled: [bool; RECORD_TYPES.len()],
    icmp4: v1::IcmPv4,
    icmp6: v1::IcmPv6,
    echo: v1::IcmPv6Echo,
    ns: v1::IcmPv6NeighborSolicitation,
    na: v1::IcmPv6NeighborAdvertisement,
    rs: v1::IcmPv6RouterSolicitation,
    ra: v1::IcmPv6RouterAdvertisement,
    igmp: v1::Igmp,
    hbh: v1::IPv6HopByHop,
    frag: v1::IPv6Fragment,
    ah: v1::IpSecAh,
    esp: v1::IpSecEsp,
    sctp: v1::Sctp,
}

/// A bounds-checked view of a layer's bytes: reads past the end give zeros (or the bytes that
/// are there) and mark the view short.
struct View<'a> {
    d: &'a [u8],
    short: bool,
}

impl<'a> View<'a> {
    fn new(d: &'a [u8]) -> Self {
        View { d, short: false }
    }

    fn u8(&mut self, at: usize) -> u8 {
        match self.d.get(at) {
            Some(b) => *b,
            None => {
                self.short = true;
                0
            }
        }
    }

    fn u16(&mut self, at: usize) -> u16 {
        match self.d.get(at..at.saturating_add(2)) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]),
            None => {
                self.short = true;
                0
            }
        }
    }

    fn u32(&mut self, at: usize) -> u32 {
        match self.d.get(at..at.saturating_add(4)) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            None => {
                self.short = true;
                0
            }
        }
    }

    /// Up to `len` bytes from `at` (fewer, and the view short, when the data ends first).
    fn bytes(&mut self, at: usize, len: usize) -> &'a [u8] {
        let start = at.min(self.d.len());
        let end = at.saturating_add(len).min(self.d.len());
        if end - start < len {
            self.short = true;
        }
        &self.d[start..end]
    }

    /// Requires `len` bytes in all.
    fn need(&mut self, len: usize) {
        if self.d.len() < len {
            self.short = true;
        }
    }
}

/// The element `i` of a reused list, appended when the list is that short.
fn slot<T: Default>(v: &mut Vec<T>, i: usize) -> &mut T {
    if i >= v.len() {
        v.push(T::default());
    }
    let last = v.len() - 1;
    &mut v[i.min(last)]
}

fn set_bytes(v: &mut Vec<u8>, b: &[u8]) {
    v.clear();
    v.extend_from_slice(b);
}

/// An address of 4 or 16 bytes as text; empty for any other size (a cut-short address).
fn set_addr(s: &mut String, b: &[u8]) {
    fmt::set_ip(s, b);
}

/// Hex octets joined by `:` (Wireshark's form of link-layer addresses).
fn set_hex_colon(s: &mut String, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.clear();
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push(HEX[usize::from(x >> 4)] as char);
        s.push(HEX[usize::from(x & 15)] as char);
    }
}

/// RFC 3376 4.1.1 / 4.1.7: codes >= 128 are a floating-point value.
fn igmp_code(c: u8) -> u32 {
    if c < 128 { u32::from(c) } else { (u32::from(c & 0x0f) | 0x10) << (((c >> 4) & 7) + 3) }
}

/// Where the IP payload around layer `at` ends by its IP header's length field (which may lie
/// beyond the captured data): the nearest IPv4/IPv6 header before the layer gives it; a zero
/// length (TSO, jumbogram) or no IP header means "where the data ends".
fn payload_end(p: &Packet<'_>, at: usize) -> usize {
    let len = p.data.len();
    let mut i = at.min(p.layer_count());
    while i > 0 {
        i -= 1;
        let Some(l) = p.layer(i) else { break };
        let (field, base) = match l.id {
            layer::IPV4 => (l.offset + 2, l.offset),
            layer::IPV6 => (l.offset + 4, l.offset + 40),
            _ => continue,
        };
        return match p.data.get(field..field + 2) {
            Some(h) if h != [0, 0] => base + usize::from(u16::from_be_bytes([h[0], h[1]])),
            _ => len,
        };
    }
    len
}

/// The captured bytes of layer `l` (index `at`) up to the end of its IP payload, and the length
/// the IP header announces for them (larger when the capture cut the packet short).
fn layer_bytes<'a>(p: &Packet<'a>, at: usize, l: Layer) -> (&'a [u8], usize) {
    let end = payload_end(p, at);
    let d = p.data.get(l.offset..end.min(p.data.len())).unwrap_or_default();
    (d, end.saturating_sub(l.offset).max(d.len()))
}

/// IGMP types whose messages carry lists (v3 query sources, v3 report group records).
fn igmp_has_lists(ty: u8) -> bool {
    matches!(ty, 0x11 | 0x22)
}

fn set_ctx(p: &Packet<'_>, at: usize, src: &mut String, dst: &mut String) {
    let e = p.endpoints(at);
    fmt::set_ip(src, e.src);
    fmt::set_ip(dst, e.dst);
}

impl Net {
    pub fn new(config: &Config) -> Self {
        let mut d = Net::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    fn on(&self, t: u16) -> bool {
        self.enabled[usize::from(t)]
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for (i, l) in p.layers().enumerate() {
            if l.seen() {
                continue; // a reassembled datagram's header that its fragments already had
            }
            match l.id {
                layer::ICMPV4 if self.on(T_ICMPV4) => self.icmpv4(p, i, l, out),
                layer::ICMPV6 => self.icmpv6(p, i, l, out),
                layer::IGMP if self.on(T_IGMP) => self.igmp(p, i, l, out),
                layer::IPV6_HOP_BY_HOP if self.on(T_HOP_BY_HOP) => self.hop_by_hop(p, i, l, out),
                layer::IPV6_FRAGMENT if self.on(T_FRAGMENT) => self.fragment(p, i, l, out),
                layer::IPSEC_AH if self.on(T_AH) => self.ah(p, i, l, out),
                layer::IPSEC_ESP if self.on(T_ESP) => self.esp(p, i, l, out),
                layer::SCTP if self.on(T_SCTP) => self.sctp(p, i, l, out),
                layer::UDP if self.on(T_ESP) => self.esp_in_udp(p, i, l, out),
                _ => {}
            }
        }
    }

    fn icmpv4(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let mut v = View::new(layer_bytes(p, at, l).0);
        let r = &mut self.icmp4;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
        let (ty, code) = (v.u8(0), v.u8(1));
        r.r#type = u32::from(ty);
        r.code = u32::from(code);
        r.type_code = u32::from(ty) << 8 | u32::from(code);
        r.checksum = u32::from(v.u16(2));
        v.need(8);
        // Identifier and sequence number: echo (0, 8), timestamp (13, 14), information
        // (15, 16) and address mask (17, 18) messages.
        (r.id, r.seq) = match ty {
            0 | 8 | 13..=18 => (u32::from(v.u16(4)), u32::from(v.u16(6))),
            _ => (0, 0),
        };
        r.gateway.clear();
        if ty == 5 {
            let g = v.bytes(4, 4);
            set_addr(&mut r.gateway, g);
        }
        r.mtu = if ty == 3 && code == 4 { u32::from(v.u16(6)) } else { 0 };
        r.pointer = if ty == 12 { u32::from(v.u8(4)) } else { 0 };
        out.record(T_ICMPV4, &self.icmp4);
        if v.short {
            out.error("icmpv4: header truncated");
        }
    }

    fn icmpv6(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let (d, wire_len) = layer_bytes(p, at, l);
        let mut v = View::new(d);
        let (ty, code, checksum) = (v.u8(0), v.u8(1), v.u16(2));
        let depth = l.depth();
        if self.on(T_ICMPV6) {
            let r = &mut self.icmp6;
            r.timestamp = p.ts_nanos;
            r.tunnel_depth = depth;
            set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
            r.r#type = u32::from(ty);
            r.code = u32::from(code);
            r.type_code = u32::from(ty) << 8 | u32::from(code);
            r.checksum = u32::from(checksum);
            out.record(T_ICMPV6, &self.icmp6);
        }
        if v.short {
            out.error("icmpv6: header truncated");
            return;
        }
        let mut bad_option = None;
        match ty {
            128 | 129 if self.on(T_ICMPV6_ECHO) => {
                let r = &mut self.echo;
                r.timestamp = p.ts_nanos;
                r.tunnel_depth = depth;
                set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
                r.r#type = u32::from(ty);
                r.identifier = u32::from(v.u16(4));
                r.seq_number = u32::from(v.u16(6));
                out.record(T_ICMPV6_ECHO, &self.echo);
            }
            133 if self.on(T_ICMPV6_RS) => {
                let r = &mut self.rs;
                r.timestamp = p.ts_nanos;
                r.tunnel_depth = depth;
                set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
                v.need(8);
                bad_option = nd_options(d, 8, &mut r.options);
                out.record(T_ICMPV6_RS, &self.rs);
            }
            134 if self.on(T_ICMPV6_RA) => {
                let r = &mut self.ra;
                r.timestamp = p.ts_nanos;
                r.tunnel_depth = depth;
                set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
                r.hop_limit = u32::from(v.u8(4));
                r.flags = u32::from(v.u8(5));
                r.router_lifetime = u32::from(v.u16(6));
                r.reachable_time = v.u32(8);
                r.retrans_timer = v.u32(12);
                bad_option = nd_options(d, 16, &mut r.options);
                out.record(T_ICMPV6_RA, &self.ra);
            }
            135 if self.on(T_ICMPV6_NS) => {
                let r = &mut self.ns;
                r.timestamp = p.ts_nanos;
                r.tunnel_depth = depth;
                set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
                let t = v.bytes(8, 16);
                set_addr(&mut r.target_address, t);
                bad_option = nd_options(d, 24, &mut r.options);
                out.record(T_ICMPV6_NS, &self.ns);
            }
            136 if self.on(T_ICMPV6_NA) => {
                let r = &mut self.na;
                r.timestamp = p.ts_nanos;
                r.tunnel_depth = depth;
                set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
                let flags = v.u8(4);
                r.flags = u32::from(flags);
                r.router = flags & 0x80 != 0;
                r.solicited = flags & 0x40 != 0;
                r.r#override = flags & 0x20 != 0;
                let t = v.bytes(8, 16);
                set_addr(&mut r.target_address, t);
                bad_option = nd_options(d, 24, &mut r.options);
                out.record(T_ICMPV6_NA, &self.na);
            }
            _ => {}
        }
        let has_options = matches!(ty, 133..=136);
        if v.short {
            out.error("icmpv6: message truncated");
        } else if let Some(e) = bad_option {
            out.error(e);
        } else if has_options && wire_len > d.len() {
            out.error("icmpv6: option truncated");
        }
    }

    fn igmp(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let (d, wire_len) = layer_bytes(p, at, l);
        let mut v = View::new(d);
        let r = &mut self.igmp;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
        let ty = v.u8(0);
        let resp = v.u8(1);
        r.r#type = u32::from(ty);
        r.checksum = u32::from(v.u16(2));
        r.max_response_time = 0;
        r.group_address.clear();
        r.supress_router_processing = false;
        r.robustness_value = 0;
        r.interval_time = 0;
        r.number_of_sources = 0;
        r.number_of_group_records = 0;
        let mut nsrc = 0;
        let mut ngroups = 0;
        r.version = match ty {
            0x11 if wire_len >= 12 => 3,
            0x11 | 0x12 if resp != 0 => 2,
            0x11 | 0x12 => 1,
            0x16 | 0x17 => 2,
            0x22 => 3,
            _ => 0,
        };
        match (ty, r.version) {
            (0x11, 3) => {
                r.max_response_time = igmp_code(resp);
                let g = v.bytes(4, 4);
                set_addr(&mut r.group_address, g);
                let b = v.u8(8);
                r.supress_router_processing = b & 0x08 != 0;
                r.robustness_value = u32::from(b & 0x07);
                r.interval_time = igmp_code(v.u8(9));
                let n = v.u16(10);
                r.number_of_sources = u32::from(n);
                for i in 0..usize::from(n) {
                    let a = v.bytes(12 + 4 * i, 4);
                    if a.len() < 4 {
                        break;
                    }
                    set_addr(slot(&mut r.source_addresses, i), a);
                    nsrc = i + 1;
                }
            }
            (0x22, _) => {
                let n = v.u16(6);
                r.number_of_group_records = u32::from(n);
                let mut off = 8;
                for i in 0..usize::from(n) {
                    if off >= d.len() {
                        v.short = true;
                        break;
                    }
                    let g = slot(&mut r.group_records, i);
                    ngroups = i + 1;
                    g.r#type = u32::from(v.u8(off));
                    let aux = v.u8(off + 1);
                    g.aux_data_len = u32::from(aux);
                    let n = v.u16(off + 2);
                    g.number_of_sources = u32::from(n);
                    let m = v.bytes(off + 4, 4);
                    set_addr(&mut g.multicast_address, m);
                    let mut k = 0;
                    for j in 0..usize::from(n) {
                        let a = v.bytes(off + 8 + 4 * j, 4);
                        if a.len() < 4 {
                            break;
                        }
                        set_addr(slot(&mut g.source_addresses, j), a);
                        k = j + 1;
                    }
                    g.source_addresses.truncate(k);
                    off += 8 + 4 * usize::from(n) + 4 * usize::from(aux);
                }
            }
            (_, 1) => {
                let g = v.bytes(4, 4);
                set_addr(&mut r.group_address, g);
            }
            (_, 2) => {
                r.max_response_time = u32::from(resp);
                let g = v.bytes(4, 4);
                set_addr(&mut r.group_address, g);
            }
            _ => {}
        }
        r.source_addresses.truncate(nsrc);
        r.group_records.truncate(ngroups);
        out.record(T_IGMP, &self.igmp);
        if v.short || (igmp_has_lists(ty) && wire_len > d.len()) {
            out.error("igmp: truncated");
        }
    }

    fn hop_by_hop(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let (d, _) = layer_bytes(p, at, l);
        let mut v = View::new(d);
        let r = &mut self.hbh;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
        r.next_header = u32::from(v.u8(0));
        let len = v.u8(1);
        r.length = u32::from(len);
        let end = (usize::from(len) + 1) * 8;
        if end > d.len() {
            v.short = true;
        }
        let opts = d.get(..end.min(d.len())).unwrap_or_default();
        let mut at = 2;
        let mut n = 0;
        while at < opts.len() {
            let o = slot(&mut r.options, n);
            n += 1;
            let ty = opts[at];
            o.option_type = u32::from(ty);
            o.router_alert = 0;
            o.jumbo_payload_length = 0;
            if ty == 0 {
                o.option_length = 0;
                o.actual_length = 1;
                o.option_data.clear();
                at += 1;
                continue;
            }
            let Some(&olen) = opts.get(at + 1) else {
                o.option_length = 0;
                o.actual_length = 1;
                o.option_data.clear();
                v.short = true;
                break;
            };
            o.option_length = u32::from(olen);
            o.actual_length = u32::from(olen) + 2;
            let data = opts.get(at + 2..(at + 2 + usize::from(olen)).min(opts.len())).unwrap_or_default();
            set_bytes(&mut o.option_data, data);
            if data.len() < usize::from(olen) {
                v.short = true;
            }
            match (ty, data.len()) {
                (5, 2) => o.router_alert = u32::from(u16::from_be_bytes([data[0], data[1]])),
                (0xc2, 4) => o.jumbo_payload_length = u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                _ => {}
            }
            at += 2 + usize::from(olen);
        }
        r.options.truncate(n);
        out.record(T_HOP_BY_HOP, &self.hbh);
        if v.short {
            out.error("ipv6-hop-by-hop: truncated");
        }
    }

    fn fragment(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let mut v = View::new(layer_bytes(p, at, l).0);
        let r = &mut self.frag;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
        r.next_header = u32::from(v.u8(0));
        r.reserved1 = u32::from(v.u8(1));
        let w = v.u16(2);
        r.fragment_offset = u32::from(w >> 3);
        r.reserved2 = u32::from((w >> 1) & 3);
        r.more_fragments = w & 1 != 0;
        r.identification = v.u32(4);
        out.record(T_FRAGMENT, &self.frag);
        if v.short {
            out.error("ipv6-fragment: truncated");
        }
    }

    fn ah(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let mut v = View::new(layer_bytes(p, at, l).0);
        let r = &mut self.ah;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
        r.next_header = u32::from(v.u8(0));
        let len = v.u8(1);
        r.length = u32::from(len);
        r.reserved = u32::from(v.u16(2));
        r.spi = v.u32(4);
        r.seq = v.u32(8);
        // The header is (length + 2) 32-bit words; the ICV is what follows the fixed 12 bytes.
        let icv_len = ((usize::from(len) + 2) * 4).saturating_sub(12);
        let icv = v.bytes(12, icv_len);
        set_bytes(&mut r.authentication_data, icv);
        out.record(T_AH, &self.ah);
        if v.short {
            out.error("ipsec-ah: truncated");
        }
    }

    fn esp(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let (d, _) = layer_bytes(p, at, l);
        let mut v = View::new(d);
        let r = &mut self.esp;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
        r.spi = v.u32(0);
        r.seq = v.u32(4);
        r.len_encrypted = u32::try_from(d.len().saturating_sub(8)).unwrap_or(u32::MAX);
        out.record(T_ESP, &self.esp);
        if v.short {
            out.error("ipsec-esp: truncated");
        }
    }

    /// ESP inside UDP port 4500 (RFC 3948): not when the payload starts with the four zero
    /// bytes of the non-ESP marker (IKE) or is the one-byte NAT keepalive.
    fn esp_in_udp(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let Some(h) = p.data.get(l.offset..l.offset + 8) else { return };
        let (sp, dp) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
        if sp != ESP_IN_UDP_PORT && dp != ESP_IN_UDP_PORT {
            return;
        }
        let esp = Layer { id: layer::IPSEC_ESP, flags: l.flags, offset: l.offset + 8 };
        let body = layer_bytes(p, at, esp).0;
        if body.is_empty() || body == [0xff] || body.starts_with(&[0, 0, 0, 0]) {
            return;
        }
        self.esp(p, at + 1, esp, out);
    }

    fn sctp(&mut self, p: &Packet<'_>, at: usize, l: Layer, out: &mut Emitter<'_>) {
        let (d, wire_len) = layer_bytes(p, at, l);
        let mut v = View::new(d);
        let r = &mut self.sctp;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        set_ctx(p, at, &mut r.src_ip, &mut r.dst_ip);
        r.src_port = u32::from(v.u16(0));
        r.dst_port = u32::from(v.u16(2));
        r.verification_tag = v.u32(4);
        r.checksum = v.u32(8);
        let mut off = 12;
        let mut n = 0;
        let mut err = None;
        while off < d.len() {
            let Some(h) = d.get(off..off + 4) else {
                err = Some("sctp: chunk header truncated");
                break;
            };
            let len = u16::from_be_bytes([h[2], h[3]]);
            let c = slot(&mut r.chunks, n);
            n += 1;
            c.r#type = u32::from(h[0]);
            c.flags = u32::from(h[1]);
            c.length = u32::from(len);
            if len < 4 {
                err = Some("sctp: bad chunk length");
                break;
            }
            if off + usize::from(len) > d.len() {
                err = Some("sctp: chunk truncated");
                break;
            }
            off += (usize::from(len) + 3) & !3;
        }
        r.chunks.truncate(n);
        out.record(T_SCTP, &self.sctp);
        if v.short {
            out.error("sctp: header truncated");
        } else if let Some(e) = err {
            out.error(e);
        } else if wire_len > d.len() {
            out.error("sctp: chunk truncated");
        }
    }
}

/// Neighbour-discovery options from `from` to the end of `d` into `opts` (reused); the error
/// kind when an option is cut short or has length 0 (where parsing stops, as it must).
fn nd_options(d: &[u8], from: usize, opts: &mut Vec<v1::IcmPv6Option>) -> Option<&'static str> {
    let mut at = from;
    let mut n = 0;
    let mut err = None;
    while at < d.len() {
        let o = slot(opts, n);
        n += 1;
        o.r#type = u32::from(d[at]);
        let Some(&len8) = d.get(at + 1) else {
            o.length = 0;
            o.data.clear();
            clear_option(o);
            err = Some("icmpv6: option truncated");
            break;
        };
        o.length = u32::from(len8);
        let total = usize::from(len8) * 8;
        let data = d.get(at + 2..(at + total).max(at + 2).min(d.len())).unwrap_or_default();
        set_bytes(&mut o.data, data);
        clear_option(o);
        if len8 == 0 {
            err = Some("icmpv6: option length zero");
            break;
        }
        if at + total > d.len() {
            err = Some("icmpv6: option truncated");
        }
        match (o.r#type, total) {
            (1 | 2, 8) if data.len() >= 6 => set_hex_colon(&mut o.link_layer_address, &data[..6]),
            (1 | 2, 16) if data.len() >= 8 => set_hex_colon(&mut o.link_layer_address, &data[..8]),
            (3, 32) if data.len() >= 30 => {
                o.prefix_length = u32::from(data[0]);
                o.prefix_flags = u32::from(data[1]);
                o.valid_lifetime = u32::from_be_bytes([data[2], data[3], data[4], data[5]]);
                o.preferred_lifetime = u32::from_be_bytes([data[6], data[7], data[8], data[9]]);
                set_addr(&mut o.prefix, &data[14..30]);
            }
            (5, 8) if data.len() >= 6 => o.mtu = u32::from_be_bytes([data[2], data[3], data[4], data[5]]),
            _ => {}
        }
        if err.is_some() {
            break;
        }
        at += total;
    }
    opts.truncate(n);
    err
}

fn clear_option(o: &mut v1::IcmPv6Option) {
    o.link_layer_address.clear();
    o.prefix_length = 0;
    o.prefix_flags = 0;
    o.valid_lifetime = 0;
    o.preferred_lifetime = 0;
    o.prefix.clear();
    o.mtu = 0;
}

#[cfg(test)]
mod tests;
