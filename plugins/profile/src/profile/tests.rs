//! Profiles from hand-built packets, with the expected counts worked out by hand.

use super::*;
use netcap_sdk::{Layer, push_packet};
use prost::Message;

const A_MAC: [u8; 6] = [0x00, 0x00, 0x0c, 1, 2, 3];
const B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 9];

/// Ethernet + IPv4 + UDP from `src` to `dst`, padded to `len` bytes.
fn udp(src: ([u8; 6], [u8; 4], u16), dst: ([u8; 6], [u8; 4], u16), len: usize) -> (Vec<u8>, Vec<Layer>) {
    let mut d = Vec::new();
    d.extend_from_slice(&dst.0);
    d.extend_from_slice(&src.0);
    d.extend_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    d.extend_from_slice(&[0x45, 0, (ip_len >> 8) as u8, ip_len as u8, 0, 0, 0, 0, 64, 17, 0, 0]);
    d.extend_from_slice(&src.1);
    d.extend_from_slice(&dst.1);
    d.extend_from_slice(&src.2.to_be_bytes());
    d.extend_from_slice(&dst.2.to_be_bytes());
    d.extend_from_slice(&((ip_len - 20).to_be_bytes()));
    d.extend_from_slice(&[0, 0]);
    d.resize(len, 0);
    let layers = vec![
        Layer { id: layer::ETHERNET, flags: 0, offset: 0 },
        Layer { id: layer::IPV4, flags: 0, offset: 14 },
        Layer { id: layer::UDP, flags: 0, offset: 34 },
    ];
    (d, layers)
}

fn run(
    packets: &[(i64, Vec<u8>, Vec<Layer>)],
    config: &[(&str, &str)],
) -> (Vec<DeviceProfile>, Vec<IpProfile>, Vec<u8>) {
    let cfg = Config::new(config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let mut p = Profiles::new(&cfg).unwrap();
    let mut batch = Vec::new();
    for (i, (ts, d, l)) in packets.iter().enumerate() {
        push_packet(&mut batch, i as u64, *ts, 1, d.len() as u32, l, d);
    }
    let mut out = Vec::new();
    for pk in netcap_sdk::packets(&batch) {
        let mut em = Emitter::new(&mut out, pk.seq);
        p.packet(&pk, &mut em);
    }
    let (mut devs, mut ips) = (Vec::new(), Vec::new());
    // `finish` in chunks, as the host calls it: again while the output says "more".
    let mut more = true;
    while more {
        let mut fin = Vec::new();
        let mut em = Emitter::new(&mut fin, u64::MAX);
        p.finish(&mut em);
        more = em.more();
        for e in netcap_sdk::entries(&fin) {
            let e = e.unwrap();
            match e.tag {
                T_DEVICE => devs.push(DeviceProfile::decode(e.bytes).unwrap()),
                T_IP => ips.push(IpProfile::decode(e.bytes).unwrap()),
                netcap_sdk::TAG_MORE => assert!(more),
                t => panic!("tag {t}"),
            }
        }
    }
    devs.sort_by(|a, b| a.mac.cmp(&b.mac));
    ips.sort_by(|a, b| a.addr.cmp(&b.addr));
    (devs, ips, out)
}

#[test]
fn counts_both_directions_per_mac_and_per_ip() {
    let a = (A_MAC, [10, 0, 0, 1], 5353);
    let b = (B_MAC, [10, 0, 0, 2], 53);
    let (q, ql) = udp(a, b, 80);
    let (r, rl) = udp(b, a, 120);
    let (q2, ql2) = udp((A_MAC, [10, 0, 0, 1], 5354), b, 64);
    let (devs, ips, errs) = run(&[(100, q, ql), (300, r, rl), (200, q2, ql2)], &[]);
    assert!(errs.is_empty());
    assert_eq!(devs.len(), 2);
    let da = &devs[0];
    assert_eq!(da.mac, "00:00:0c:01:02:03");
    assert_eq!((da.packets_sent, da.bytes_sent, da.packets_received, da.bytes_received), (2, 144, 1, 120));
    assert_eq!((da.timestamp_first, da.timestamp_last), (100, 300));
    assert_eq!((da.ips.clone(), da.contacts.clone()), (vec!["10.0.0.1".to_string()], vec!["10.0.0.2".to_string()]));
    assert_eq!((da.num_packets, da.bytes), (3, 264));
    let ia = &ips[0];
    assert_eq!(ia.addr, "10.0.0.1");
    assert_eq!((ia.packets_sent, ia.bytes_sent, ia.packets_received, ia.bytes_received), (2, 144, 1, 120));
    let src: Vec<(u32, u64)> = ia.src_ports.iter().map(|p| (p.port, p.packets)).collect();
    assert_eq!(src, vec![(5353, 1), (5354, 1)]);
    let contacted: Vec<(&str, u32, u64, u64)> =
        ia.contacted_ports.iter().map(|p| (p.transport.as_str(), p.port, p.packets, p.bytes)).collect();
    assert_eq!(contacted, vec![("UDP", 53, 2, 144)]);
    let ib = &ips[1];
    let offered: Vec<(u32, u64)> = ib.dst_ports.iter().map(|p| (p.port, p.packets)).collect();
    assert_eq!(offered, vec![(53, 2)]);
    assert_eq!(ib.macs, vec!["02:00:00:00:00:09".to_string()]);
    assert_eq!(ib.ip_version, 4);
}

#[test]
fn tables_are_capped_and_the_overflow_counted() {
    let b = (B_MAC, [10, 0, 0, 2], 53);
    let pk: Vec<(i64, Vec<u8>, Vec<Layer>)> = (0..5u8)
        .map(|i| {
            let (d, l) = udp(([0, 0, 0, 0, 0, i], [10, 0, 1, i], 1000), b, 60);
            (i64::from(i), d, l)
        })
        .collect();
    let (devs, ips, errs) = run(&pk, &[("profile-max", "3")]);
    assert_eq!(devs.len(), 3);
    assert_eq!(ips.len(), 3);
    let kinds: Vec<_> = netcap_sdk::entries(&errs).map(|e| e.unwrap().seq).collect();
    // Packets 2, 3 and 4 bring a fourth and fifth host: not profiled, counted.
    assert_eq!(kinds, vec![2, 3, 4]);
}

#[test]
fn disabled_types_are_not_tracked() {
    let (d, l) = udp((A_MAC, [10, 0, 0, 1], 1), (B_MAC, [10, 0, 0, 2], 2), 60);
    let (devs, ips, _) = run(&[(0, d, l)], &[("record-types", "IPProfile")]);
    assert!(devs.is_empty());
    assert_eq!(ips.len(), 2);
}

#[test]
fn truncated_and_layerless_packets_do_not_panic() {
    let (d, l) = udp((A_MAC, [10, 0, 0, 1], 1), (B_MAC, [10, 0, 0, 2], 2), 60);
    for cut in 0..d.len() {
        let (devs, ips, _) = run(&[(0, d[..cut].to_vec(), l.clone())], &[]);
        assert!(devs.len() <= 2 && ips.len() <= 2);
    }
    let (devs, ips, _) = run(&[(0, vec![1, 2, 3], Vec::new())], &[]);
    assert!(devs.is_empty() && ips.is_empty());
}

#[test]
fn finish_returns_many_profiles_in_chunks() {
    let packets: Vec<(i64, Vec<u8>, Vec<Layer>)> = (0..20_000u32)
        .map(|i| {
            let b = i.to_be_bytes();
            let (d, l) = udp((A_MAC, [10, b[1], b[2], b[3]], 1000), (B_MAC, [192, 0, 2, 1], 53), 60);
            (i64::from(i), d, l)
        })
        .collect();
    let (_, ips, _) = run(&packets, &[("record-types", "IPProfile")]);
    assert_eq!(ips.len(), 20_001, "every sender and the receiver, over several chunks");
    let mut addrs: Vec<&str> = ips.iter().map(|p| p.addr.as_str()).collect();
    addrs.dedup();
    assert_eq!(addrs.len(), 20_001, "each once");
}
