//! Field extraction for Ethernet, IPv4, IPv6, TCP and UDP from the layers the host dissected.
//!
//! The host lists a layer only when its fixed header is present (etherparse's lax slicing); this
//! module re-reads the header through etherparse's borrowed `*HeaderSlice` views and fills the
//! netcap record. Lengths are clamped to the captured bytes, so a snapped or lying length field
//! yields a partial record plus a counted error, never a panic. Message values are reused between
//! packets so that steady-state decoding does not allocate.

use etherparse::{Ethernet2HeaderSlice, Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeaderSlice, UdpHeaderSlice};
use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, Packet, entropy, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_ETHERNET: u16 = 0;
pub const T_IPV4: u16 = 1;
pub const T_IPV6: u16 = 2;
pub const T_TCP: u16 = 3;
pub const T_UDP: u16 = 4;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 5] = [
    ("Ethernet", "netcap.v1.Ethernet"),
    ("IPv4", "netcap.v1.IPv4"),
    ("IPv6", "netcap.v1.IPv6"),
    ("TCP", "netcap.v1.TCP"),
    ("UDP", "netcap.v1.UDP"),
];

/// Per-instance decoder state: the enabled types and reusable messages.
#[derive(Default)]
pub struct L2L4 {
    enabled: [bool; 5],
    payload: bool,
    entropy: bool,
    eth: v1::Ethernet,
    ip4: v1::IPv4,
    ip6: v1::IPv6,
    tcp: v1::Tcp,
    udp: v1::Udp,
}

/// The network layer enclosing a transport header: addresses and where its payload ends.
struct NetCtx {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    end: usize,
}

impl L2L4 {
    pub fn new(config: &Config) -> Self {
        let mut d = L2L4 { payload: config.flag("payload"), entropy: config.flag("entropy"), ..Default::default() };
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        let mut net: Option<NetCtx> = None;
        let n = p.layer_count();
        for i in 0..n {
            let Some(l) = p.layer(i) else { break };
            match l.id {
                layer::ETHERNET if self.enabled[T_ETHERNET as usize] => self.ethernet(p, l, out),
                layer::IPV4 => net = self.ipv4(p, l, i, out),
                layer::IPV6 => net = self.ipv6(p, l, i, out),
                layer::TCP => self.tcp(p, l, net.as_ref(), out),
                layer::UDP => self.udp(p, l, net.as_ref(), out),
                _ => {}
            }
        }
    }

    fn entropy_of(&self, data: &[u8]) -> f64 {
        if self.entropy { entropy(data) } else { 0.0 }
    }

    fn ethernet(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let data = p.data.get(l.offset..).unwrap_or_default();
        let Ok(h) = Ethernet2HeaderSlice::from_slice(data) else {
            out.error("ethernet: header truncated");
            return;
        };
        let payload = &data[h.slice().len()..];
        let r = &mut self.eth;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        fmt::set_mac(&mut r.src_mac, &h.source());
        fmt::set_mac(&mut r.dst_mac, &h.destination());
        r.ethernet_type = u32::from(h.ether_type().0);
        r.payload_size = payload.len() as u32;
        r.payload_entropy = if self.entropy { entropy(payload) } else { 0.0 };
        out.record(T_ETHERNET, &self.eth);
    }

    /// The ports of the transport layer after network layer `i` (past its extension headers), if any.
    fn ports(p: &Packet<'_>, i: usize) -> (u32, u32) {
        let mut j = i + 1;
        while p
            .layer(j)
            .is_some_and(|l| matches!(l.id, layer::IPV6_HOP_BY_HOP | layer::IPV6_FRAGMENT | layer::IPSEC_AH))
        {
            j += 1;
        }
        match p.layer(j) {
            Some(t) if t.id == layer::TCP || t.id == layer::UDP => {
                let d = p.data.get(t.offset..t.offset + 4).unwrap_or_default();
                if d.len() == 4 {
                    (u32::from(u16::from_be_bytes([d[0], d[1]])), u32::from(u16::from_be_bytes([d[2], d[3]])))
                } else {
                    (0, 0)
                }
            }
            _ => (0, 0),
        }
    }

    fn ipv4(&mut self, p: &Packet<'_>, l: Layer, i: usize, out: &mut Emitter<'_>) -> Option<NetCtx> {
        let data = p.data.get(l.offset..).unwrap_or_default();
        let Ok(h) = Ipv4HeaderSlice::from_slice(data) else {
            out.error("ipv4: header truncated");
            return None;
        };
        let hlen = h.slice().len();
        let total = usize::from(h.total_len());
        let end = if total < hlen {
            out.error("ipv4: total length below header length");
            data.len()
        } else {
            if total > data.len() && p.orig_len as usize == p.data.len() {
                out.error("ipv4: total length beyond packet");
            }
            total.min(data.len())
        };
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src[..4].copy_from_slice(&h.source());
        dst[..4].copy_from_slice(&h.destination());
        let ctx = NetCtx { v6: false, src, dst, end: l.offset + end };
        // In a reassembled datagram the fragments already gave this header's record.
        if !self.enabled[T_IPV4 as usize] || l.seen() {
            return Some(ctx);
        }
        let payload = data.get(hlen..end).unwrap_or_default();
        let (sp, dp) = Self::ports(p, i);
        let ent = self.entropy_of(payload);
        let r = &mut self.ip4;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        r.version = u32::from(h.version());
        r.ihl = u32::from(h.ihl());
        r.tos = u32::from(data[1]);
        r.length = u32::from(h.total_len());
        r.id = u32::from(h.identification());
        r.flags = u32::from(data[6] >> 5);
        r.frag_offset = u32::from(u16::from_be_bytes([data[6], data[7]]) & 0x1fff);
        r.ttl = u32::from(h.ttl());
        r.protocol = u32::from(h.protocol().0);
        r.checksum = u32::from(h.header_checksum());
        fmt::set_ipv4(&mut r.src_ip, h.source());
        fmt::set_ipv4(&mut r.dst_ip, h.destination());
        parse_ipv4_options(h.options(), &mut r.options, &mut r.padding);
        r.payload_size = payload.len() as u32;
        r.payload_entropy = ent;
        r.src_port = sp;
        r.dst_port = dp;
        out.record(T_IPV4, &self.ip4);
        Some(ctx)
    }

    fn ipv6(&mut self, p: &Packet<'_>, l: Layer, i: usize, out: &mut Emitter<'_>) -> Option<NetCtx> {
        let data = p.data.get(l.offset..).unwrap_or_default();
        let Ok(h) = Ipv6HeaderSlice::from_slice(data) else {
            out.error("ipv6: header truncated");
            return None;
        };
        let plen = usize::from(h.payload_length());
        // A payload length of 0 with a hop-by-hop header is a jumbogram (RFC 2675): use what we have.
        let end = if plen == 0 && h.next_header().0 == 0 {
            data.len()
        } else {
            if 40 + plen > data.len() && p.orig_len as usize == p.data.len() {
                out.error("ipv6: payload length beyond packet");
            }
            (40 + plen).min(data.len())
        };
        let ctx = NetCtx { v6: true, src: h.source(), dst: h.destination(), end: l.offset + end };
        if !self.enabled[T_IPV6 as usize] || l.seen() {
            return Some(ctx);
        }
        let payload = data.get(40..end).unwrap_or_default();
        let (sp, dp) = Self::ports(p, i);
        let ent = self.entropy_of(payload);
        let r = &mut self.ip6;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        r.version = u32::from(h.version());
        r.traffic_class = u32::from(h.traffic_class());
        r.flow_label = h.flow_label().value();
        r.length = u32::from(h.payload_length());
        r.next_header = u32::from(h.next_header().0);
        r.hop_limit = u32::from(h.hop_limit());
        fmt::set_ipv6(&mut r.src_ip, h.source());
        fmt::set_ipv6(&mut r.dst_ip, h.destination());
        r.payload_size = payload.len() as u32;
        r.payload_entropy = ent;
        r.src_port = sp;
        r.dst_port = dp;
        extension_headers(h.next_header().0, payload, &mut r.extension_headers);
        out.record(T_IPV6, &self.ip6);
        Some(ctx)
    }

    fn tcp(&mut self, p: &Packet<'_>, l: Layer, net: Option<&NetCtx>, out: &mut Emitter<'_>) {
        if !self.enabled[T_TCP as usize] {
            return;
        }
        let data = transport_bytes(p, l, net);
        let Ok(h) = TcpHeaderSlice::from_slice(data) else {
            out.error("tcp: header truncated");
            return;
        };
        let hlen = h.slice().len();
        let payload = &data[hlen..];
        let ent = self.entropy_of(payload);
        let r = &mut self.tcp;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        r.src_port = u32::from(h.source_port());
        r.dst_port = u32::from(h.destination_port());
        r.seq_num = h.sequence_number();
        r.ack_num = h.acknowledgment_number();
        r.data_offset = u32::from(h.data_offset());
        r.fin = h.fin();
        r.syn = h.syn();
        r.rst = h.rst();
        r.psh = h.psh();
        r.ack = h.ack();
        r.urg = h.urg();
        r.ece = h.ece();
        r.cwr = h.cwr();
        r.ns = h.ns();
        r.window = u32::from(h.window_size());
        r.checksum = u32::from(h.checksum());
        r.urgent = u32::from(h.urgent_pointer());
        r.payload_size = payload.len() as u32;
        r.payload_entropy = ent;
        set_payload(&mut r.payload, payload, self.payload);
        set_ctx(net, &mut r.src_ip, &mut r.dst_ip);
        r.options_truncated = parse_tcp_options(h.options(), r);
        out.record(T_TCP, &self.tcp);
        if self.tcp.options_truncated {
            out.error("tcp: options truncated");
        }
    }

    fn udp(&mut self, p: &Packet<'_>, l: Layer, net: Option<&NetCtx>, out: &mut Emitter<'_>) {
        if !self.enabled[T_UDP as usize] {
            return;
        }
        let data = transport_bytes(p, l, net);
        let Ok(h) = UdpHeaderSlice::from_slice(data) else {
            out.error("udp: header truncated");
            return;
        };
        let ulen = usize::from(h.length());
        let payload_end = if ulen >= 8 { ulen.min(data.len()) } else { data.len() };
        if ulen < 8 && ulen != 0 {
            out.error("udp: length below header length");
        }
        let payload = &data[8..payload_end];
        let ent = self.entropy_of(payload);
        let r = &mut self.udp;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        r.src_port = u32::from(h.source_port());
        r.dst_port = u32::from(h.destination_port());
        r.length = u32::from(h.length());
        r.checksum = u32::from(h.checksum());
        r.payload_size = payload.len() as u32;
        r.payload_entropy = ent;
        set_payload(&mut r.payload, payload, self.payload);
        set_ctx(net, &mut r.src_ip, &mut r.dst_ip);
        out.record(T_UDP, &self.udp);
    }
}

/// A transport header and its payload: from the layer's offset to the end of the enclosing IP
/// packet (so Ethernet padding is not payload), clamped to the captured bytes.
fn transport_bytes<'a>(p: &Packet<'a>, l: Layer, net: Option<&NetCtx>) -> &'a [u8] {
    let end = net.map_or(p.data.len(), |n| n.end.min(p.data.len()));
    p.data.get(l.offset..end.max(l.offset)).unwrap_or_default()
}

/// Payload bytes go into records only with `--payload`.
fn set_payload(dst: &mut Vec<u8>, payload: &[u8], keep: bool) {
    dst.clear();
    if keep {
        dst.extend_from_slice(payload);
    }
}

fn set_ctx(net: Option<&NetCtx>, src: &mut String, dst: &mut String) {
    match net {
        Some(n) if n.v6 => {
            fmt::set_ipv6(src, n.src);
            fmt::set_ipv6(dst, n.dst);
        }
        Some(n) => {
            fmt::set_ipv4(src, [n.src[0], n.src[1], n.src[2], n.src[3]]);
            fmt::set_ipv4(dst, [n.dst[0], n.dst[1], n.dst[2], n.dst[3]]);
        }
        None => {
            src.clear();
            dst.clear();
        }
    }
}

/// An option list whose elements (and their data buffers) are reused from packet to packet.
trait OptionList {
    fn set(&mut self, n: usize, kind: u8, len: usize, data: &[u8]);
}

macro_rules! option_list {
    ($t:ty) => {
        impl OptionList for Vec<$t> {
            fn set(&mut self, n: usize, kind: u8, len: usize, data: &[u8]) {
                if n == self.len() {
                    self.push(<$t>::default());
                }
                let o = &mut self[n];
                o.option_type = u32::from(kind);
                o.option_length = len as u32;
                o.option_data.clear();
                o.option_data.extend_from_slice(data);
            }
        }
    };
}
option_list!(v1::IPv4Option);
option_list!(v1::TcpOption);

/// IPv4 options as (type, length, data); NOP and end-of-list are one-byte options. Bytes after an
/// end-of-list option are padding.
fn parse_ipv4_options(opts: &[u8], list: &mut Vec<v1::IPv4Option>, padding: &mut Vec<u8>) {
    padding.clear();
    let mut n = 0;
    let mut i = 0;
    while i < opts.len() {
        let t = opts[i];
        if t == 0 || t == 1 {
            list.set(n, t, 1, &[]);
            n += 1;
            i += 1;
            if t == 0 {
                padding.extend_from_slice(&opts[i..]);
                break;
            }
            continue;
        }
        let len = opts.get(i + 1).map_or(0, |&l| usize::from(l));
        let end = if len < 2 { opts.len() } else { (i + len).min(opts.len()) };
        list.set(n, t, len, opts.get(i + 2..end).unwrap_or_default());
        n += 1;
        i = end;
    }
    list.truncate(n);
}

/// TCP options as (kind, length, data) plus the decoded common ones; returns true when an option
/// runs past the header.
fn parse_tcp_options(opts: &[u8], r: &mut v1::Tcp) -> bool {
    let mut n = 0;
    let truncated = parse_tcp_options_into(opts, r, &mut n);
    r.options.truncate(n);
    truncated
}

fn parse_tcp_options_into(opts: &[u8], r: &mut v1::Tcp, n: &mut usize) -> bool {
    r.padding.clear();
    r.mss = 0;
    r.window_scale = 0;
    r.sack_permitted = false;
    r.ts_val = 0;
    r.ts_ecr = 0;
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        if kind == 0 || kind == 1 {
            r.options.set(*n, kind, 1, &[]);
            *n += 1;
            i += 1;
            if kind == 0 {
                r.padding.extend_from_slice(&opts[i..]);
                return false;
            }
            continue;
        }
        let Some(&len) = opts.get(i + 1) else {
            return true;
        };
        let len = usize::from(len);
        if len < 2 || i + len > opts.len() {
            r.options.set(*n, kind, len, &opts[(i + 2).min(opts.len())..]);
            *n += 1;
            return true;
        }
        let data = &opts[i + 2..i + len];
        match (kind, data.len()) {
            (2, 2) => r.mss = u32::from(u16::from_be_bytes([data[0], data[1]])),
            (3, 1) => r.window_scale = u32::from(data[0]),
            (4, 0) => r.sack_permitted = true,
            (8, 8) => {
                r.ts_val = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                r.ts_ecr = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            }
            _ => {}
        }
        r.options.set(*n, kind, len, data);
        *n += 1;
        i += len;
    }
    false
}

/// The IPv6 extension header chain starting with `next` at the front of `payload`.
fn extension_headers(mut next: u8, payload: &[u8], list: &mut Vec<u32>) {
    list.clear();
    let mut off = 0usize;
    for _ in 0..16 {
        let len = match next {
            // hop-by-hop, routing, destination options, mobility, HIP, shim6: (len + 1) * 8
            0 | 43 | 60 | 135 | 139 | 140 => match payload.get(off + 1) {
                Some(&l) => (usize::from(l) + 1) * 8,
                None => return,
            },
            44 => 8,
            // authentication header: (len + 2) * 4
            51 => match payload.get(off + 1) {
                Some(&l) => (usize::from(l) + 2) * 4,
                None => return,
            },
            _ => return,
        };
        list.push(u32::from(next));
        let Some(&n) = payload.get(off) else { return };
        next = n;
        off += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use netcap_sdk::{packets, push_packet};
    use prost::Message;

    fn decode_one(data: &[u8], layers: &[Layer], cfg: &Config) -> Vec<(u16, Vec<u8>)> {
        let mut batch = Vec::new();
        push_packet(&mut batch, 0, 1_000_000_123, 1, data.len() as u32, layers, data);
        let mut d = L2L4::new(cfg);
        let mut out = Vec::new();
        for p in packets(&batch) {
            let mut em = Emitter::new(&mut out, p.seq);
            d.decode(&p, &mut em);
        }
        netcap_sdk::entries(&out).map(Result::unwrap).map(|e| (e.tag, e.bytes.to_vec())).collect()
    }

    fn l(id: u16, offset: usize) -> Layer {
        Layer { id, flags: 0, offset }
    }

    #[test]
    fn tcp_over_ipv4_fields() {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [0xa, 0xb, 0xc, 0xd, 0xe, 0xf])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 1000, 512)
            .syn()
            .options(&[etherparse::TcpOptionElement::MaximumSegmentSize(1460), etherparse::TcpOptionElement::Noop])
            .unwrap();
        let payload = b"hello";
        let mut pkt = Vec::new();
        b.write(&mut pkt, payload).unwrap();
        let cfg = Config::new(vec![("payload".into(), "true".into()), ("entropy".into(), "true".into())]);
        let recs = decode_one(&pkt, &[l(layer::ETHERNET, 0), l(layer::IPV4, 14), l(layer::TCP, 34)], &cfg);
        let tags: Vec<u16> = recs.iter().map(|r| r.0).collect();
        assert_eq!(tags, vec![T_ETHERNET, T_IPV4, T_TCP]);
        let eth = v1::Ethernet::decode(&recs[0].1[..]).unwrap();
        assert_eq!(eth.src_mac, "01:02:03:04:05:06");
        assert_eq!(eth.ethernet_type, 0x0800);
        let ip = v1::IPv4::decode(&recs[1].1[..]).unwrap();
        assert_eq!((ip.src_ip.as_str(), ip.dst_ip.as_str(), ip.ttl, ip.protocol), ("10.0.0.1", "10.0.0.2", 64, 6));
        assert_eq!((ip.src_port, ip.dst_port), (1234, 80));
        let tcp = v1::Tcp::decode(&recs[2].1[..]).unwrap();
        assert_eq!((tcp.src_port, tcp.dst_port, tcp.seq_num, tcp.window), (1234, 80, 1000, 512));
        assert!(tcp.syn && !tcp.ack);
        assert_eq!(tcp.mss, 1460);
        assert_eq!(tcp.payload, payload);
        assert_eq!(tcp.payload_size, 5);
        assert_eq!(tcp.timestamp, 1_000_000_123);
        assert_eq!((tcp.src_ip.as_str(), tcp.dst_ip.as_str()), ("10.0.0.1", "10.0.0.2"));
        let kinds: Vec<u32> = tcp.options.iter().map(|o| o.option_type).collect();
        assert_eq!(kinds[..2], [2, 1]);
    }

    #[test]
    fn udp_over_ipv6_and_trailer_excluded() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6(
                [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                7,
            )
            .udp(53, 5353);
        let mut pkt = Vec::new();
        b.write(&mut pkt, &[1, 2, 3]).unwrap();
        pkt.extend_from_slice(&[0, 0, 0, 0]); // Ethernet trailer: not part of the UDP payload
        let recs =
            decode_one(&pkt, &[l(layer::ETHERNET, 0), l(layer::IPV6, 14), l(layer::UDP, 54)], &Config::default());
        let ip = v1::IPv6::decode(&recs[1].1[..]).unwrap();
        assert_eq!(ip.src_ip, "2001:db8::1");
        assert_eq!(ip.hop_limit, 7);
        assert_eq!(ip.payload_size, 11);
        let udp = v1::Udp::decode(&recs[2].1[..]).unwrap();
        assert_eq!((udp.src_port, udp.dst_port, udp.length, udp.payload_size), (53, 5353, 11, 3));
        assert!(udp.payload.is_empty(), "payload only with the payload flag");
    }

    #[test]
    fn truncated_tcp_options_yield_record_and_error() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([1, 1, 1, 1], [2, 2, 2, 2], 1).tcp(1, 2, 3, 4);
        let mut pkt = Vec::new();
        b.write(&mut pkt, &[]).unwrap();
        // Data offset 6 with an MSS option whose length says 8.
        pkt[34 + 12] = 6 << 4;
        pkt.extend_from_slice(&[2, 8, 0, 0]);
        let tl = 2 + 20 + 20 + 4u16; // fix the IPv4 total length
        pkt[16..18].copy_from_slice(&(tl - 2).to_be_bytes());
        let recs = decode_one(&pkt, &[l(layer::IPV4, 14), l(layer::TCP, 34)], &Config::default());
        assert_eq!(recs[1].0, T_TCP);
        assert!(v1::Tcp::decode(&recs[1].1[..]).unwrap().options_truncated);
        assert_eq!(recs[2].0, netcap_sdk::TAG_ERROR);
        assert_eq!(recs[2].1, b"tcp: options truncated");
    }

    #[test]
    fn disabled_types_are_not_emitted() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([1, 1, 1, 1], [2, 2, 2, 2], 1).udp(1, 2);
        let mut pkt = Vec::new();
        b.write(&mut pkt, &[9]).unwrap();
        let cfg = Config::new(vec![("record-types".into(), "UDP".into())]);
        let recs = decode_one(&pkt, &[l(layer::ETHERNET, 0), l(layer::IPV4, 14), l(layer::UDP, 34)], &cfg);
        assert_eq!(recs.len(), 1);
        let udp = v1::Udp::decode(&recs[0].1[..]).unwrap();
        assert_eq!(udp.src_ip, "1.1.1.1", "the packet context still comes from the disabled IPv4 layer");
    }

    #[test]
    fn ipv6_extension_chain() {
        // hop-by-hop (8 bytes, next = fragment), fragment (8 bytes, next = UDP)
        let mut p = vec![44, 0, 1, 4, 0, 0, 0, 0];
        p.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 1]);
        let mut list = Vec::new();
        extension_headers(0, &p, &mut list);
        assert_eq!(list, vec![0, 44]);
    }
}
