//! Payload bounds, context and typed ids on packets built byte by byte.

use super::*;
use crate::{Emitter, Layer, entries, packets, push_packet};

/// Ethernet + IPv4 (total length `ip_total`) + UDP (length `udp_len`) + `payload`, then `pad`
/// zero bytes of Ethernet padding.
fn udp_packet(ip_total: u16, udp_len: u16, payload: &[u8], pad: usize) -> (Vec<u8>, Vec<Layer>) {
    let mut d = vec![0u8; 12];
    d.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    ip[2..4].copy_from_slice(&ip_total.to_be_bytes());
    d.extend_from_slice(&ip);
    d.extend_from_slice(&[0x30, 0x39, 0x00, 0x35]);
    d.extend_from_slice(&udp_len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    d.extend(std::iter::repeat_n(0, pad));
    let layers = vec![
        Layer { id: layer::ETHERNET, flags: 0, offset: 0 },
        Layer { id: layer::IPV4, flags: 0, offset: 14 },
        Layer { id: layer::UDP, flags: 0, offset: 34 },
    ];
    (d, layers)
}

fn with_packet<R>(data: &[u8], layers: &[Layer], f: impl FnOnce(&Packet<'_>) -> R) -> R {
    let mut batch = Vec::new();
    push_packet(&mut batch, 7, 1_000, 1, data.len() as u32, layers, data);
    let p = packets(&batch).next().expect("one packet");
    f(&p)
}

#[test]
fn ethernet_padding_is_not_udp_payload() {
    let (d, l) = udp_packet(20 + 8 + 3, 8 + 3, b"abc", 15);
    with_packet(&d, &l, |p| {
        let t = p.transport(2).expect("udp");
        assert_eq!((t.src_port, t.dst_port, t.payload, t.cut), (12345, 53, &b"abc"[..], false));
        assert!(t.has_port(53) && !t.has_port(54));
        assert_eq!(p.udp().map(|t| t.payload).collect::<Vec<_>>(), vec![&b"abc"[..]]);
    });
}

#[test]
fn the_smaller_of_udp_and_ip_length_bounds_the_payload() {
    // UDP says 5 bytes of payload, IP says 3: the IP header wins (and the reverse).
    let (d, l) = udp_packet(20 + 8 + 3, 8 + 5, b"abcde", 4);
    with_packet(&d, &l, |p| assert_eq!(p.transport(2).unwrap().payload, b"abc"));
    let (d, l) = udp_packet(20 + 8 + 5, 8 + 3, b"abcde", 4);
    with_packet(&d, &l, |p| assert_eq!(p.transport(2).unwrap().payload, b"abc"));
}

#[test]
fn a_capture_cut_short_gives_the_bytes_present_and_says_so() {
    let (d, l) = udp_packet(20 + 8 + 10, 8 + 10, b"abcd", 0);
    with_packet(&d, &l, |p| {
        let t = p.transport(2).unwrap();
        assert_eq!((t.payload, t.cut), (&b"abcd"[..], true));
    });
    // Not even the UDP header: no transport at all.
    let (d, l) = udp_packet(20 + 8, 8, b"", 0);
    with_packet(&d[..38], &l, |p| assert_eq!(p.transport(2), None));
}

#[test]
fn zero_lengths_fall_back_to_the_captured_bytes() {
    // UDP length 0 and IP total length 0 (segmentation offload): everything captured counts.
    let (d, l) = udp_packet(0, 0, b"abcdef", 0);
    with_packet(&d, &l, |p| {
        let t = p.transport(2).unwrap();
        assert_eq!((t.payload, t.cut), (&b"abcdef"[..], false));
        assert_eq!(p.ip_end(2), d.len());
    });
}

#[test]
fn a_udp_length_below_the_header_gives_an_empty_payload() {
    let (d, l) = udp_packet(20 + 8 + 3, 4, b"abc", 0);
    with_packet(&d, &l, |p| assert_eq!(p.transport(2).unwrap().payload, b""));
}

#[test]
fn tcp_payload_starts_after_the_options_and_ends_at_the_ip_length() {
    let mut d = vec![0u8; 12];
    d.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    ip[2..4].copy_from_slice(&(20u16 + 24 + 2).to_be_bytes());
    d.extend_from_slice(&ip);
    let mut tcp = vec![0u8; 24];
    tcp[..4].copy_from_slice(&[0x01, 0xbb, 0xc0, 0x00]);
    tcp[12] = 6 << 4; // 24-byte header: 4 bytes of options
    d.extend_from_slice(&tcp);
    d.extend_from_slice(b"hi\0\0\0\0");
    let l = [
        Layer { id: layer::ETHERNET, flags: 0, offset: 0 },
        Layer { id: layer::IPV4, flags: 0, offset: 14 },
        Layer { id: layer::TCP, flags: 0, offset: 34 },
    ];
    with_packet(&d, &l, |p| {
        let t = p.transport(2).unwrap();
        assert_eq!((t.id, t.src_port, t.dst_port, t.payload, t.cut), (layer::TCP, 443, 49152, &b"hi"[..], false));
        assert_eq!(p.transport(1), None, "IPv4 is not a transport layer");
    });
}

#[test]
fn the_context_of_a_tunnelled_udp_layer_is_the_inner_one() {
    let (d, mut l) = udp_packet(20 + 8 + 3, 8 + 3, b"abc", 0);
    l[2].flags = 1 << layer::DEPTH_SHIFT;
    with_packet(&d, &l, |p| {
        let c = p.context(2);
        assert_eq!(c.ts_nanos, 1_000);
        assert_eq!((c.src, c.dst), (&[10u8, 0, 0, 1][..], &[10u8, 0, 0, 2][..]));
        assert_eq!((c.src_port, c.dst_port, c.tunnel_depth), (12345, 53, 1));
        // The context of the IP layer has no ports yet.
        assert_eq!((p.context(1).src_port, p.context(1).dst_port), (0, 0));
    });
}

#[test]
fn a_stream_context_follows_the_direction() {
    let mut info =
        StreamInfo { ip_version: 4, client_port: 50000, server_port: 80, tunnel_depth: 2, ..Default::default() };
    info.client_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    info.server_ip[..4].copy_from_slice(&[192, 0, 2, 2]);
    let c = info.context(Dir::ToClient, 5);
    assert_eq!((c.src, c.src_port, c.dst, c.dst_port), (&[192u8, 0, 2, 2][..], 80, &[192u8, 0, 2, 1][..], 50000));
    assert_eq!((c.ts_nanos, c.tunnel_depth), (5, 2));
}

mod schema {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Ping {
        #[prost(int64, tag = "1")]
        pub(super) timestamp: i64,
        #[prost(string, tag = "2")]
        pub(super) src_ip: String,
        #[prost(string, tag = "3")]
        pub(super) dst_ip: String,
        #[prost(uint32, tag = "4")]
        pub(super) src_port: u32,
        #[prost(uint32, tag = "5")]
        pub(super) dst_port: u32,
        #[prost(uint32, tag = "6")]
        pub(super) tunnel_depth: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Pong {
        #[prost(uint32, tag = "1")]
        pub(super) n: u32,
    }
}

crate::context_fields!(schema::Ping);
crate::record_ids! {
    const TYPES = [
        PING: schema::Ping = ("Ping", "plugin.t.v1.Ping"),
        PONG: schema::Pong = ("Pong", "plugin.t.v1.Pong"),
    ];
}

#[test]
fn typed_ids_count_from_zero_and_emit_under_their_id() {
    assert_eq!((PING.id(), PONG.id()), (0, 1));
    assert_eq!(TYPES, &[("Ping", "plugin.t.v1.Ping"), ("Pong", "plugin.t.v1.Pong")]);
    let mut r = schema::Ping::default();
    let src = [10u8, 0, 0, 1];
    r.set_context(&Context { ts_nanos: 9, src: &src, dst: &[], src_port: 1, dst_port: 2, tunnel_depth: 0 });
    assert_eq!((r.timestamp, r.src_ip.as_str(), r.dst_ip.as_str(), r.src_port, r.dst_port), (9, "10.0.0.1", "", 1, 2));
    let mut out = Vec::new();
    let mut e = Emitter::new(&mut out, 3);
    e.emit(PING, &r);
    e.emit(PONG, &schema::Pong { n: 4 });
    let tags: Vec<(u16, u64)> = entries(&out).map(|e| e.map(|e| (e.tag, e.seq)).unwrap()).collect();
    assert_eq!(tags, vec![(0, 3), (1, 3)]);
}
