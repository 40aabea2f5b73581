use super::*;
use netcap_sdk::{TAG_ERROR, packets, push_packet};
use prost::Message;

const SRC4: [u8; 4] = [192, 0, 2, 1];
const DST4: [u8; 4] = [198, 51, 100, 2];
const SRC6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn l(id: u16, offset: usize) -> Layer {
    Layer { id, flags: 0, offset }
}

/// An IPv4 header (no options) for `payload` of protocol `proto`, plus `pad` bytes of link padding.
fn ip4(proto: u8, payload: &[u8], pad: usize) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut v = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    v[2..4].copy_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&SRC4);
    v.extend_from_slice(&DST4);
    v.extend_from_slice(payload);
    v.extend(std::iter::repeat_n(0u8, pad));
    v
}

fn ip6(nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[nh, 255]);
    v.extend_from_slice(&SRC6);
    v.extend_from_slice(&DST6);
    v.extend_from_slice(payload);
    v
}

fn run(data: &[u8], layers: &[Layer]) -> Vec<(u16, Vec<u8>)> {
    let mut batch = Vec::new();
    push_packet(&mut batch, 3, 42, 101, data.len() as u32, layers, data);
    let mut d = Net::new(&Config::default());
    let mut out = Vec::new();
    for p in packets(&batch) {
        d.decode(&p, &mut Emitter::new(&mut out, p.seq));
    }
    netcap_sdk::entries(&out).map(Result::unwrap).map(|e| (e.tag, e.bytes.to_vec())).collect()
}

fn one<T: Message + Default>(recs: &[(u16, Vec<u8>)], tag: u16) -> T {
    let r = recs.iter().find(|r| r.0 == tag).unwrap_or_else(|| panic!("no record {tag} in {recs:?}"));
    T::decode(&r.1[..]).unwrap()
}

fn errors(recs: &[(u16, Vec<u8>)]) -> Vec<String> {
    recs.iter().filter(|r| r.0 == TAG_ERROR).map(|r| String::from_utf8_lossy(&r.1).into_owned()).collect()
}

/// Every prefix of the packet (cut inside the layer at `at`) decodes without panicking into a
/// record of `tag` plus an error; the whole packet into a record without error.
fn every_cut(data: &[u8], layers: &[Layer], at: usize, tag: u16) {
    assert!(errors(&run(data, layers)).is_empty(), "{:?}", errors(&run(data, layers)));
    for cut in at..data.len() {
        let recs = run(&data[..cut], layers);
        assert!(recs.iter().any(|r| r.0 == tag), "cut {cut}: no record");
        assert!(!errors(&recs).is_empty(), "cut {cut}: no error");
    }
}

#[test]
fn icmpv4_echo_redirect_and_frag_needed() {
    let p = ip4(1, &[8, 0, 0xab, 0xcd, 0x12, 0x34, 0, 7, b'x', b'y'], 6);
    let recs = run(&p, &[l(layer::IPV4, 0), Layer { id: layer::ICMPV4, flags: 1 << 4, offset: 20 }]);
    let r: v1::IcmPv4 = one(&recs, T_ICMPV4);
    assert_eq!((r.r#type, r.code, r.type_code, r.checksum), (8, 0, 0x0800, 0xabcd));
    assert_eq!((r.id, r.seq, r.tunnel_depth, r.timestamp), (0x1234, 7, 1, 42));
    assert_eq!((r.src_ip.as_str(), r.dst_ip.as_str()), ("192.0.2.1", "198.51.100.2"));
    assert!(errors(&recs).is_empty());

    let p = ip4(1, &[5, 1, 0, 0, 10, 0, 0, 1], 0);
    let r: v1::IcmPv4 = one(&run(&p, &[l(layer::IPV4, 0), l(layer::ICMPV4, 20)]), T_ICMPV4);
    assert_eq!((r.gateway.as_str(), r.id, r.seq), ("10.0.0.1", 0, 0));

    let p = ip4(1, &[3, 4, 0, 0, 0, 0, 0x05, 0xdc], 0);
    let r: v1::IcmPv4 = one(&run(&p, &[l(layer::IPV4, 0), l(layer::ICMPV4, 20)]), T_ICMPV4);
    assert_eq!((r.mtu, r.type_code), (1500, 0x0304));

    every_cut(
        &ip4(1, &[8, 0, 0xab, 0xcd, 0x12, 0x34, 0, 7], 0),
        &[l(layer::IPV4, 0), l(layer::ICMPV4, 20)],
        20,
        T_ICMPV4,
    );
}

fn ra_message() -> Vec<u8> {
    let mut m = vec![134, 0, 0x12, 0x34, 64, 0xc0, 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xe8];
    m.extend_from_slice(&[1, 1, 0xc2, 0, 0x54, 0xf5, 0, 0]); // source link-layer address
    m.extend_from_slice(&[5, 1, 0, 0, 0, 0, 0x05, 0xdc]); // MTU 1500
    m.extend_from_slice(&[3, 4, 64, 0xc0, 0, 0x27, 0x8d, 0, 0, 0x09, 0x3a, 0x80, 0, 0, 0, 0]);
    m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    m
}

#[test]
fn icmpv6_router_advertisement_with_options() {
    let p = ip6(58, &ra_message());
    let recs = run(&p, &[l(layer::IPV6, 0), l(layer::ICMPV6, 40)]);
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![T_ICMPV6, T_ICMPV6_RA]);
    let i: v1::IcmPv6 = one(&recs, T_ICMPV6);
    assert_eq!((i.r#type, i.type_code, i.checksum), (134, 134 << 8, 0x1234));
    assert_eq!((i.src_ip.as_str(), i.dst_ip.as_str()), ("fe80::1", "ff02::1"));
    let r: v1::IcmPv6RouterAdvertisement = one(&recs, T_ICMPV6_RA);
    assert_eq!(
        (r.hop_limit, r.flags, r.router_lifetime, r.reachable_time, r.retrans_timer),
        (64, 0xc0, 0x0708, 30000, 1000)
    );
    assert_eq!(r.options.len(), 3);
    assert_eq!((r.options[0].r#type, r.options[0].length), (1, 1));
    assert_eq!(r.options[0].link_layer_address, "c2:00:54:f5:00:00");
    assert_eq!(r.options[0].data, vec![0xc2, 0, 0x54, 0xf5, 0, 0]);
    assert_eq!(r.options[1].mtu, 1500);
    let pi = &r.options[2];
    assert_eq!(
        (pi.prefix_length, pi.prefix_flags, pi.valid_lifetime, pi.preferred_lifetime),
        (64, 0xc0, 2592000, 604800)
    );
    assert_eq!(pi.prefix, "2001:db8:0:1::");
    every_cut(&p, &[l(layer::IPV6, 0), l(layer::ICMPV6, 40)], 40, T_ICMPV6);
}

#[test]
fn icmpv6_echo_ns_na_rs() {
    let layers = [l(layer::IPV6, 0), l(layer::ICMPV6, 40)];
    let r: v1::IcmPv6Echo = one(&run(&ip6(58, &[129, 0, 0, 0, 0, 9, 0, 3, 1, 2]), &layers), T_ICMPV6_ECHO);
    assert_eq!((r.identifier, r.seq_number, r.r#type), (9, 3, 129));

    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&SRC6);
    ns.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 1]);
    let r: v1::IcmPv6NeighborSolicitation = one(&run(&ip6(58, &ns), &layers), T_ICMPV6_NS);
    assert_eq!(r.target_address, "fe80::1");
    assert_eq!(r.options[0].link_layer_address, "02:00:00:00:00:01");
    every_cut(&ip6(58, &ns), &layers, 40, T_ICMPV6);

    let mut na = vec![136, 0, 0, 0, 0xa0, 0, 0, 0];
    na.extend_from_slice(&DST6);
    na.extend_from_slice(&[2, 1, 2, 0, 0, 0, 0, 2]);
    let r: v1::IcmPv6NeighborAdvertisement = one(&run(&ip6(58, &na), &layers), T_ICMPV6_NA);
    assert_eq!((r.flags, r.router, r.solicited, r.r#override), (0xa0, true, false, true));
    assert_eq!((r.target_address.as_str(), r.options[0].r#type), ("ff02::1", 2));
    every_cut(&ip6(58, &na), &layers, 40, T_ICMPV6);
    every_cut(&ip6(58, &[128, 0, 0, 0, 0, 9, 0, 3]), &layers, 40, T_ICMPV6);

    // A zero-length option stops option parsing with an error.
    let recs = run(&ip6(58, &[133, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]), &layers);
    let r: v1::IcmPv6RouterSolicitation = one(&recs, T_ICMPV6_RS);
    assert_eq!(r.options.len(), 1);
    assert_eq!(errors(&recs), vec!["icmpv6: option length zero"]);
}

#[test]
fn igmp_versions() {
    let layers = [l(layer::IPV4, 0), l(layer::IGMP, 20)];
    let r: v1::Igmp = one(&run(&ip4(2, &[0x11, 0, 0, 0, 0, 0, 0, 0], 18), &layers), T_IGMP);
    assert_eq!((r.version, r.max_response_time, r.group_address.as_str()), (1, 0, "0.0.0.0"));
    let r: v1::Igmp = one(&run(&ip4(2, &[0x11, 100, 0, 0, 0, 0, 0, 0], 18), &layers), T_IGMP);
    assert_eq!((r.version, r.max_response_time), (2, 100));
    let r: v1::Igmp = one(&run(&ip4(2, &[0x12, 0, 0, 0, 224, 0, 0, 9], 18), &layers), T_IGMP);
    assert_eq!((r.version, r.group_address.as_str()), (1, "224.0.0.9"));
    let r: v1::Igmp = one(&run(&ip4(2, &[0x16, 0, 0xfa, 0x04, 239, 1, 1, 1], 0), &layers), T_IGMP);
    assert_eq!((r.version, r.checksum, r.r#type), (2, 0xfa04, 0x16));

    let q = [0x11, 0xfe, 0, 0, 0, 0, 0, 0, 0x0a, 125, 0, 2, 10, 0, 0, 1, 10, 0, 0, 2];
    let r: v1::Igmp = one(&run(&ip4(2, &q, 6), &layers), T_IGMP);
    assert_eq!((r.version, r.max_response_time, r.supress_router_processing, r.robustness_value), (3, 30720, true, 2));
    assert_eq!((r.interval_time, r.number_of_sources), (125, 2));
    assert_eq!(r.source_addresses, vec!["10.0.0.1", "10.0.0.2"]);
    every_cut(&ip4(2, &q, 0), &layers, 20, T_IGMP);

    let mut rep = vec![0x22, 0, 0, 0, 0, 0, 0, 2];
    rep.extend_from_slice(&[4, 0, 0, 0, 239, 255, 255, 250]);
    rep.extend_from_slice(&[1, 1, 0, 1, 224, 0, 0, 251, 10, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd]);
    let r: v1::Igmp = one(&run(&ip4(2, &rep, 0), &layers), T_IGMP);
    assert_eq!((r.version, r.number_of_group_records, r.group_records.len()), (3, 2, 2));
    assert_eq!((r.group_records[0].r#type, r.group_records[0].multicast_address.as_str()), (4, "239.255.255.250"));
    let g = &r.group_records[1];
    assert_eq!((g.aux_data_len, g.number_of_sources, g.source_addresses.clone()), (1, 1, vec!["10.0.0.9".to_string()]));
    every_cut(&ip4(2, &rep, 0), &layers, 20, T_IGMP);
}

#[test]
fn hop_by_hop_fragment_ah_esp() {
    // Hop-by-hop: next header 58, length 0: router alert (MLD) + Pad1 + Pad1.
    let h = [58, 0, 5, 2, 0, 0, 0, 0];
    let p = ip6(0, &h);
    let layers = [l(layer::IPV6, 0), l(layer::IPV6_HOP_BY_HOP, 40)];
    let r: v1::IPv6HopByHop = one(&run(&p, &layers), T_HOP_BY_HOP);
    assert_eq!((r.next_header, r.length, r.options.len()), (58, 0, 3));
    assert_eq!((r.options[0].option_type, r.options[0].option_length, r.options[0].actual_length), (5, 2, 4));
    assert_eq!((r.options[1].option_type, r.options[1].actual_length), (0, 1));
    every_cut(&p, &layers, 40, T_HOP_BY_HOP);
    // Jumbo payload.
    let h = [58, 0, 0xc2, 4, 0, 1, 0, 0];
    let r: v1::IPv6HopByHop = one(&run(&ip6(0, &h), &layers), T_HOP_BY_HOP);
    assert_eq!((r.options[0].jumbo_payload_length, r.options.len()), (65536, 1));

    let f = [17, 0, 0x05, 0xa9, 0xde, 0xad, 0xbe, 0xef];
    let layers = [l(layer::IPV6, 0), l(layer::IPV6_FRAGMENT, 40)];
    let r: v1::IPv6Fragment = one(&run(&ip6(44, &f), &layers), T_FRAGMENT);
    assert_eq!((r.next_header, r.fragment_offset, r.reserved2, r.more_fragments), (17, 0xb5, 0, true));
    assert_eq!(r.identification, 0xdeadbeef);
    every_cut(&ip6(44, &f), &layers, 40, T_FRAGMENT);

    let a = [6, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    let layers = [l(layer::IPV4, 0), l(layer::IPSEC_AH, 20)];
    let r: v1::IpSecAh = one(&run(&ip4(51, &a, 4), &layers), T_AH);
    assert_eq!((r.next_header, r.length, r.spi, r.seq), (6, 4, 256, 5));
    assert_eq!(r.authentication_data, (1..=12).collect::<Vec<u8>>());
    every_cut(&ip4(51, &a, 0), &layers, 20, T_AH);

    let e = [0, 0, 0x10, 0, 0, 0, 0, 1, 9, 9, 9, 9, 9];
    let layers = [l(layer::IPV4, 0), l(layer::IPSEC_ESP, 20)];
    let r: v1::IpSecEsp = one(&run(&ip4(50, &e, 7), &layers), T_ESP);
    assert_eq!((r.spi, r.seq, r.len_encrypted), (0x1000, 1, 5));
    every_cut(&ip4(50, &e[..8], 0), &layers, 20, T_ESP);
}

#[test]
fn sctp_chunks_stop_at_the_ip_payload() {
    let mut s = vec![0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 0, 0xa1, 0xb2, 0xc3, 0xd4];
    s.extend_from_slice(&[1, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0x10, 0, 0, 1, 0, 1, 0, 0, 0, 9]); // INIT
    s.extend_from_slice(&[0, 3, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0]); // DATA + pad
    let layers = [l(layer::IPV4, 0), l(layer::SCTP, 20)];
    let recs = run(&ip4(132, &s, 10), &layers);
    let r: v1::Sctp = one(&recs, T_SCTP);
    assert_eq!((r.src_port, r.dst_port, r.verification_tag, r.checksum), (2905, 2905, 0, 0xa1b2c3d4));
    let chunks: Vec<(u32, u32, u32)> = r.chunks.iter().map(|c| (c.r#type, c.flags, c.length)).collect();
    assert_eq!(chunks, vec![(1, 0, 20), (0, 3, 17)]);
    assert!(errors(&recs).is_empty());
    every_cut(&ip4(132, &s, 0), &layers, 20, T_SCTP);
}

#[test]
fn disabled_types_are_not_emitted_and_lists_are_reused() {
    let c = Config::new(vec![("record-types".into(), "ICMPv6RouterAdvertisement".into())]);
    let mut d = Net::new(&c);
    let mut batch = Vec::new();
    let p = ip6(58, &ra_message());
    let layers = [l(layer::IPV6, 0), l(layer::ICMPV6, 40)];
    push_packet(&mut batch, 0, 1, 101, p.len() as u32, &layers, &p);
    let short = ip6(58, &ra_message()[..24]);
    push_packet(&mut batch, 1, 2, 101, short.len() as u32, &layers, &short);
    let mut out = Vec::new();
    for p in packets(&batch) {
        d.decode(&p, &mut Emitter::new(&mut out, p.seq));
    }
    let e: Vec<_> = netcap_sdk::entries(&out).map(Result::unwrap).collect();
    assert_eq!(e.iter().map(|e| e.tag).collect::<Vec<_>>(), vec![T_ICMPV6_RA, T_ICMPV6_RA]);
    let second = v1::IcmPv6RouterAdvertisement::decode(e[1].bytes).unwrap();
    assert_eq!(second.options.len(), 1, "the previous packet's options are gone");
}

#[test]
fn inner_packets_use_the_inner_addresses_and_depth() {
    // IPv4-in-IPv4: the inner header has other addresses; the ICMP echo is at depth 1.
    let mut inner = ip4(1, &[8, 0, 0, 0, 0, 1, 0, 2], 0);
    inner[12..16].copy_from_slice(&[10, 0, 0, 1]);
    inner[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let p = ip4(4, &inner, 0);
    let d1 = 1 << layer::DEPTH_SHIFT;
    let layers = [
        l(layer::IPV4, 0),
        Layer { id: layer::IPV4, flags: d1, offset: 20 },
        Layer { id: layer::ICMPV4, flags: d1, offset: 40 },
    ];
    let r: v1::IcmPv4 = one(&run(&p, &layers), T_ICMPV4);
    assert_eq!((r.src_ip.as_str(), r.dst_ip.as_str(), r.tunnel_depth, r.seq), ("10.0.0.1", "10.0.0.2", 1, 2));
}

#[test]
fn esp_in_udp_4500_but_not_ike_or_keepalive() {
    let layers = [l(layer::IPV4, 0), l(layer::UDP, 20)];
    let udp = |payload: &[u8]| {
        let mut v = vec![0x11, 0x94, 0x11, 0x94, 0, (8 + payload.len()) as u8, 0, 0];
        v.extend_from_slice(payload);
        ip4(17, &v, 0)
    };
    let recs = run(&udp(&[0, 0, 0x10, 1, 0, 0, 0, 7, 0xaa, 0xbb]), &layers);
    let r: v1::IpSecEsp = one(&recs, T_ESP);
    assert_eq!((r.spi, r.seq, r.len_encrypted, r.src_ip.as_str()), (0x1001, 7, 2, "192.0.2.1"));
    assert!(run(&udp(&[0, 0, 0, 0, 1, 2, 3, 4]), &layers).is_empty(), "IKE after the non-ESP marker");
    assert!(run(&udp(&[0xff]), &layers).is_empty(), "NAT keepalive");
    let mut other = udp(&[1, 2, 3, 4, 5, 6, 7, 8]);
    other[20..24].copy_from_slice(&[0, 53, 0, 53]);
    assert!(run(&other, &layers).is_empty(), "another port");
}

#[test]
fn random_bytes_never_panic() {
    // A small LCG: deterministic pseudo-random packets, every layer id at random offsets, with
    // IP headers in front whose length fields lie too.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) as u32
    };
    let ids = [
        layer::ICMPV4,
        layer::ICMPV6,
        layer::IGMP,
        layer::IPV6_HOP_BY_HOP,
        layer::IPV6_FRAGMENT,
        layer::IPSEC_AH,
        layer::IPSEC_ESP,
        layer::SCTP,
        layer::UDP,
    ];
    let mut d = Net::new(&Config::default());
    let mut out = Vec::new();
    for round in 0..20_000 {
        let len = (next() % 120) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 3 == 0 && len > 4 {
            data[2] = 0x11;
            data[3] = 0x94; // UDP port 4500
        }
        let ip = if next() % 2 == 0 { layer::IPV4 } else { layer::IPV6 };
        let at = (next() % 130) as usize;
        let layers =
            [l(ip, 0), Layer { id: ids[(next() as usize) % ids.len()], flags: (next() % 4) as u16, offset: at }];
        let mut batch = Vec::new();
        push_packet(&mut batch, round, 0, 1, len as u32, &layers, &data);
        out.clear();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        assert!(netcap_sdk::entries(&out).all(|e| e.is_ok()));
    }
}
