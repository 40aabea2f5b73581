//! Unit tests of the link family beyond ARP/Dot1Q: hand-built frames with the layers the host
//! would give, every record's fields, and every truncation length (no panic, an error).

use crate::decode::*;
use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, TAG_ERROR, entries, layer, packets, push_packet};
use prost::Message;

type Out = Vec<(u16, Vec<u8>)>;

fn run_lt(data: &[u8], orig: u32, lt: u16, layers: &[(u16, usize)]) -> Out {
    let layers: Vec<Layer> = layers.iter().map(|&(id, offset)| Layer { id, flags: 0, offset }).collect();
    let mut batch = Vec::new();
    push_packet(&mut batch, 0, 7, lt, orig, &layers, data);
    let mut d = Link::new(&Config::default());
    let mut out = Vec::new();
    for p in packets(&batch) {
        d.decode(&p, &mut Emitter::new(&mut out, p.seq));
    }
    entries(&out).map(Result::unwrap).map(|e| (e.tag, e.bytes.to_vec())).collect()
}

fn run(data: &[u8], layers: &[(u16, usize)]) -> Out {
    run_lt(data, data.len() as u32, 1, layers)
}

fn rec<T: Message + Default>(out: &Out, tag: u16) -> T {
    let b = &out.iter().find(|r| r.0 == tag).unwrap_or_else(|| panic!("no record {tag}: {out:?}")).1;
    T::decode(&b[..]).unwrap()
}

fn errors(out: &Out) -> Vec<String> {
    out.iter().filter(|r| r.0 == TAG_ERROR).map(|r| String::from_utf8_lossy(&r.1).into_owned()).collect()
}

/// Decodes every prefix of `data` (layers whose header starts beyond the cut are dropped, as
/// the host would), checking that nothing panics and that cuts inside the first `min` bytes of
/// layer `at` give an error.
fn every_cut(data: &[u8], layers: &[(u16, usize)], at: usize, min: usize) {
    for n in 0..data.len() {
        let ls: Vec<(u16, usize)> = layers.iter().copied().filter(|l| l.1 <= n).collect();
        let out = run_lt(&data[..n], data.len() as u32, 1, &ls);
        if n >= at && n < at + min {
            assert!(!errors(&out).is_empty(), "cut at {n}: no error in {out:?}");
        }
    }
}

fn eth(dst: [u8; 6], src: [u8; 6], ty: u16) -> Vec<u8> {
    let mut v = dst.to_vec();
    v.extend_from_slice(&src);
    v.extend_from_slice(&ty.to_be_bytes());
    v
}

const A: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
const B: [u8; 6] = [0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc];

/// 802.3 frame: LLC AA-AA-03, SNAP 00000c/2000, CDP with a few TLVs, then Ethernet padding.
fn cdp_frame() -> Vec<u8> {
    let mut cdp = vec![2, 180, 0xbe, 0xef];
    let tlv = |t: u16, v: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&((v.len() + 4) as u16).to_be_bytes());
        out.extend_from_slice(v);
    };
    tlv(1, b"R1", &mut cdp);
    tlv(2, &[0, 0, 0, 1, 1, 1, 0xcc, 0, 4, 10, 0, 0, 1], &mut cdp);
    tlv(3, b"Fa0/0", &mut cdp);
    tlv(4, &[0, 0, 0, 0x29], &mut cdp);
    tlv(7, &[10, 1, 2, 3, 24, 10, 9, 0, 0, 16], &mut cdp);
    let mut hello = vec![0, 0, 0x0c, 0x01, 0x12, 10, 0, 0, 1, 255, 255, 255, 255, 1, 2, 0x21, 0xff];
    hello.extend_from_slice(&A);
    hello.extend_from_slice(&B);
    hello.extend_from_slice(&[0, 0, 7]);
    tlv(8, &hello, &mut cdp);
    tlv(0x0a, &[0, 5], &mut cdp);
    tlv(0x0b, &[1], &mut cdp);
    tlv(0x1b, &[9, 9], &mut cdp);
    let mut f = eth(B, A, (8 + cdp.len()) as u16);
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0x0c, 0x20, 0x00]);
    f.extend_from_slice(&cdp);
    f.extend_from_slice(&[0; 20]);
    f
}

#[test]
fn llc_snap_and_cdp() {
    let f = cdp_frame();
    let ls = [(layer::ETHERNET, 0), (layer::LLC, 14), (layer::SNAP, 17), (layer::CDP, 22)];
    let out = run(&f, &ls);
    assert!(errors(&out).is_empty(), "{out:?}");
    let llc: v1::Llc = rec(&out, T_LLC);
    assert_eq!((llc.dsap, llc.ig, llc.ssap, llc.cr, llc.control), (0xaa, false, 0xaa, false, 3));
    let snap: v1::Snap = rec(&out, T_SNAP);
    assert_eq!((snap.organizational_code.as_slice(), snap.r#type), (&[0, 0, 0x0c][..], 0x2000));
    let c: v1::CiscoDiscovery = rec(&out, T_CDP);
    assert_eq!((c.version, c.ttl, c.checksum), (2, 180, 0xbeef));
    assert_eq!(c.values.iter().map(|v| v.r#type).collect::<Vec<_>>(), vec![1, 2, 3, 4, 7, 8, 0x0a, 0x0b, 0x1b]);
    let i: v1::CiscoDiscoveryInfo = rec(&out, T_CDP_INFO);
    assert_eq!((i.device_id.as_str(), i.port_id.as_str()), ("R1", "Fa0/0"));
    assert_eq!(i.addresses, vec!["10.0.0.1"]);
    let caps = i.capabilities.unwrap();
    assert!(caps.l3_router && caps.l2_switch && caps.igmp_filter && !caps.is_host);
    assert_eq!(i.ip_prefixes.len(), 2);
    assert_eq!((i.ip_prefixes[0].ip.as_str(), i.ip_prefixes[0].ip_mask.as_str()), ("10.1.2.0", "255.255.255.0"));
    assert_eq!((i.ip_prefixes[1].ip.as_str(), i.ip_prefixes[1].ip_mask.as_str()), ("10.9.0.0", "255.255.0.0"));
    let h = i.cdp_hello.unwrap();
    assert_eq!(
        (h.protocol_id, h.cluster_master.as_str(), h.switch_mac.as_str()),
        (0x112, "10.0.0.1", "01:00:0c:cc:cc:cc")
    );
    assert_eq!((h.version, h.sub_version, h.status, h.management_vlan), (1, 2, 0x21, 7));
    assert_eq!((i.native_vlan, i.full_duplex), (5, true));
    assert_eq!(i.unknown.len(), 1);
    every_cut(&f, &ls, 22, 4);
    every_cut(&f, &ls, 14, 3);
}

#[test]
fn llc_two_byte_control_is_little_endian() {
    let out = run(&[0xf0, 0xf1, 0x02, 0x04], &[(layer::LLC, 0)]);
    let llc: v1::Llc = rec(&out, T_LLC);
    assert_eq!((llc.dsap, llc.ssap, llc.cr, llc.control), (0xf0, 0xf0, true, 0x0402));
    let out = run(&[0xf0, 0xf1, 0x02], &[(layer::LLC, 0)]);
    assert_eq!(errors(&out), vec!["llc: header truncated"]);
}

#[test]
fn ethernet_ctp_forward_and_reply() {
    let mut f = eth(A, A, 0x9000);
    f.extend_from_slice(&[8, 0, 2, 0]);
    f.extend_from_slice(&B);
    f.extend_from_slice(&[1, 0, 0x34, 0x12, 0x55, 0x55]);
    let ls = [(layer::ETHERNET, 0), (layer::ETHERNET_CTP, 14)];
    let out = run(&f, &ls);
    let c: v1::EthernetCtp = rec(&out, T_CTP);
    assert_eq!((c.skip_count, c.forward_addresses.clone()), (8, vec!["01:00:0c:cc:cc:cc".to_string()]));
    let r: v1::EthernetCtpReply = rec(&out, T_CTP_REPLY);
    assert_eq!((r.function, r.receipt_number, r.data.as_slice()), (1, 0x1234, &[0x55, 0x55][..]));
    assert!(errors(&out).is_empty());
    every_cut(&f, &ls, 14, 2);
}

fn lldp_frame() -> Vec<u8> {
    let mut f = eth([0x01, 0x80, 0xc2, 0, 0, 0x0e], A, 0x88cc);
    let tlv = |t: u16, v: &[u8], f: &mut Vec<u8>| {
        f.extend_from_slice(&((t << 9) | v.len() as u16).to_be_bytes());
        f.extend_from_slice(v);
    };
    tlv(1, &[4, 0, 0x11, 0x22, 0x33, 0x44, 0x55], &mut f);
    tlv(2, b"\x05eth0", &mut f);
    tlv(3, &[0, 120], &mut f);
    tlv(4, b"uplink", &mut f);
    tlv(5, b"sw1", &mut f);
    tlv(6, b"Linux", &mut f);
    tlv(7, &[0, 0x14, 0, 0x04], &mut f);
    // Management address: IPv4 192.0.2.1, ifIndex 3, OID 1.3.6.1.2.1.2.2.1.1.
    tlv(8, &[5, 1, 192, 0, 2, 1, 2, 0, 0, 0, 3, 9, 0x2b, 6, 1, 2, 1, 2, 2, 1, 1], &mut f);
    tlv(127, &[0x00, 0x12, 0x0f, 1, 3, 0x6c, 0, 0x10], &mut f);
    tlv(9, &[1, 2], &mut f);
    tlv(0, &[], &mut f);
    f.extend_from_slice(&[0; 4]);
    f
}

#[test]
fn lldp_records() {
    let f = lldp_frame();
    let ls = [(layer::ETHERNET, 0), (layer::LLDP, 14)];
    let out = run(&f, &ls);
    assert!(errors(&out).is_empty(), "{out:?}");
    let d: v1::LinkLayerDiscovery = rec(&out, T_LLDP);
    let ch = d.chassis_id.unwrap();
    assert_eq!((ch.subtype, ch.id.as_slice()), (4, &A[..]));
    let port = d.port_id.unwrap();
    assert_eq!((port.subtype, port.id.as_slice()), (5, &b"eth0"[..]));
    assert_eq!(d.ttl, 120);
    assert_eq!(d.values.iter().map(|v| v.r#type).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6, 7, 8, 127, 9, 0]);
    let i: v1::LinkLayerDiscoveryInfo = rec(&out, T_LLDP_INFO);
    assert_eq!(
        (i.port_description.as_str(), i.sys_name.as_str(), i.sys_description.as_str()),
        ("uplink", "sw1", "Linux")
    );
    let caps = i.sys_capabilities.unwrap();
    let (s, e) = (caps.system_cap.unwrap(), caps.enabled_cap.unwrap());
    assert!(s.bridge && s.router && !s.other && e.bridge && !e.router);
    let m = i.mgmt_address.unwrap();
    assert_eq!(
        (m.subtype, m.address.as_slice(), m.interface_subtype, m.interface_number),
        (1, &[192, 0, 2, 1][..], 2, 3)
    );
    assert_eq!(m.oid, "1.3.6.1.2.1.2.2.1.1");
    assert_eq!(
        (i.org_tlvs[0].oui, i.org_tlvs[0].sub_type, i.org_tlvs[0].info.as_slice()),
        (0x120f, 1, &[3, 0x6c, 0, 0x10][..])
    );
    assert_eq!(i.unknown.len(), 1);
    every_cut(&f, &ls, 14, 2);
    // Without the End TLV.
    let out = run(&f[..f.len() - 6], &ls);
    assert_eq!(errors(&out), vec!["lldp: end tlv missing"]);
}

#[test]
fn eapol_eap_and_key() {
    let mut f = eth(A, B, 0x888e);
    f.extend_from_slice(&[1, 0, 0, 9, 2, 7, 0, 9, 1, b'b', b'o', b'b', b'!']);
    f.extend_from_slice(&[0; 10]);
    let ls = [(layer::ETHERNET, 0), (layer::EAPOL, 14), (layer::EAP, 18)];
    let out = run(&f, &ls);
    let e: v1::Eapol = rec(&out, T_EAPOL);
    assert_eq!((e.version, e.r#type, e.length), (1, 0, 9));
    let p: v1::Eap = rec(&out, T_EAP);
    assert_eq!((p.code, p.id, p.length, p.r#type, p.type_data.as_slice()), (2, 7, 9, 1, &b"bob!"[..]));
    every_cut(&f, &ls, 18, 1);

    let mut k = eth(A, B, 0x888e);
    k.extend_from_slice(&[2, 3, 0, 95, 2, 0x01, 0x0a, 0, 16]);
    k.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
    k.extend_from_slice(&[0xab; 32]);
    k.extend_from_slice(&[0; 16 + 8 + 8]);
    k.extend_from_slice(&[0xcd; 16]);
    k.extend_from_slice(&[0, 2, 0xdd, 0x00]);
    let ls = [(layer::ETHERNET, 0), (layer::EAPOL, 14), (layer::EAPOL_KEY, 18)];
    let out = run(&k, &ls);
    assert!(errors(&out).is_empty(), "{out:?}");
    let key: v1::EapolKey = rec(&out, T_EAPOL_KEY);
    assert_eq!(
        (key.key_descriptor_type, key.key_descriptor_version, key.key_type, key.key_ack, key.key_mic),
        (2, 2, 1, false, true)
    );
    assert_eq!((key.key_length, key.replay_counter, key.nonce.len(), key.mic[0]), (16, 5, 32, 0xcd));
    assert_eq!((key.key_data_length, key.encrypted_key_data.as_slice()), (2, &[0xdd, 0][..]));
    every_cut(&k, &ls, 18, 97);
}

/// Radiotap (TSFT + flags with FCS) + QoS data frame with 4 addresses and HT control, FCS.
fn dot11_frame(fcs_flag: u8) -> Vec<u8> {
    let mut f = vec![0, 0, 24, 0, 0x03, 0, 0, 0];
    f.extend_from_slice(&[0; 8]); // TSFT at 8
    f.extend_from_slice(&[fcs_flag, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&[0x88, 0x83, 0x2c, 0x00]);
    for a in [A, B, A, B] {
        if f.len() == 24 + 4 + 18 {
            f.extend_from_slice(&[0x35, 0x12]); // sequence control: seq 0x123, frag 5
        }
        f.extend_from_slice(&a);
    }
    f.extend_from_slice(&[0x25, 0x07]); // QoS: TID 5, ack policy 1, TXOP 7
    f.extend_from_slice(&[0x02, 0x00, 0x00, 0xc0]); // HT control (HT variant, TRQ)
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    f.extend_from_slice(&[0x78, 0x56, 0x34, 0x12]);
    f
}

#[test]
fn dot11_qos_ht_and_fcs() {
    let f = dot11_frame(0x10);
    let ls = [(layer::RADIOTAP, 0), (layer::DOT11, 24), (layer::LLC, 24 + 36)];
    let out = run_lt(&f, f.len() as u32, 127, &ls);
    assert!(errors(&out).is_empty(), "{out:?}");
    let d: v1::Dot11 = rec(&out, T_DOT11);
    assert_eq!((d.r#type, d.proto, d.flags, d.duration_id), (0x22, 0, 0x83, 44));
    assert_eq!((d.address1.as_str(), d.address4.as_str()), ("00:11:22:33:44:55", "01:00:0c:cc:cc:cc"));
    assert_eq!((d.sequence_number, d.fragment_number, d.checksum), (0x123, 5, 0x12345678));
    let q = d.qos.unwrap();
    assert_eq!((q.tid, q.eosp, q.ack_policy, q.txop), (5, false, 1, 7));
    let h = d.ht_control.unwrap();
    assert!(h.ac_constraint && h.rdg_more_ppdu && h.vht.is_none());
    assert!(h.ht.unwrap().link_adaptation_control.unwrap().trq);
    let llc: v1::Llc = rec(&out, T_LLC);
    assert_eq!(llc.dsap, 0xaa);
    // No FCS flag: no checksum.
    let f = dot11_frame(0);
    let d: v1::Dot11 = rec(&run_lt(&f, f.len() as u32, 127, &ls), T_DOT11);
    assert_eq!(d.checksum, 0);
    every_cut(&f, &ls, 24, 24);
}

#[test]
fn fddi_and_nortel_discovery() {
    let mut f = vec![0x51];
    f.extend_from_slice(&B);
    f.extend_from_slice(&A);
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0x81, 0x01, 0xa2]);
    f.extend_from_slice(&[192, 0, 2, 9, 0, 0, 3, 12, 6, 3, 1]);
    let ls = [(layer::FDDI, 0), (layer::LLC, 13), (layer::SNAP, 16), (layer::NORTEL_DISCOVERY, 21)];
    let out = run_lt(&f, f.len() as u32, 10, &ls);
    assert!(errors(&out).is_empty(), "{out:?}");
    let d: v1::Fddi = rec(&out, T_FDDI);
    assert_eq!(
        (d.frame_control, d.priority, d.src_mac.as_str(), d.dst_mac.as_str()),
        (0x50, 1, "00:11:22:33:44:55", "01:00:0c:cc:cc:cc")
    );
    let n: v1::NortelDiscovery = rec(&out, T_NDP);
    assert_eq!(
        (n.ip_address.as_str(), n.segment_id.as_slice(), n.chassis, n.backplane, n.state, n.num_links),
        ("192.0.2.9", &[0, 0, 3][..], 12, 6, 3, 1)
    );
    assert_eq!(n.src_mac, "00:11:22:33:44:55");
    every_cut(&f, &ls, 21, 11);
    every_cut(&f, &ls, 0, 13);
}

#[test]
fn disabled_record_types_are_not_emitted() {
    let f = lldp_frame();
    let layers = [Layer { id: layer::ETHERNET, flags: 0, offset: 0 }, Layer { id: layer::LLDP, flags: 0, offset: 14 }];
    let mut batch = Vec::new();
    push_packet(&mut batch, 0, 7, 1, f.len() as u32, &layers, &f);
    let mut d = Link::new(&Config::new(vec![("record-types".into(), "LinkLayerDiscoveryInfo".into())]));
    let mut out = Vec::new();
    for p in packets(&batch) {
        d.decode(&p, &mut Emitter::new(&mut out, p.seq));
    }
    let tags: Vec<u16> = entries(&out).map(|e| e.unwrap().tag).collect();
    assert_eq!(tags, vec![T_LLDP_INFO]);
}

#[test]
fn fcs_flag_behind_extended_radiotap_bitmap_and_ppi() {
    // Radiotap: two presence words (TSFT + flags, extension bit), TSFT aligned to 16, flags at 24.
    let mut f = vec![0, 0, 32, 0, 0x03, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0];
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&[0x10, 0, 0, 0, 0, 0, 0, 0]);
    let hdr = f.len();
    f.extend_from_slice(&[0xd4, 0x00, 0x00, 0x00]);
    f.extend_from_slice(&A);
    f.extend_from_slice(&[0xef, 0xbe, 0xad, 0xde]);
    let d: v1::Dot11 = rec(&run_lt(&f, f.len() as u32, 127, &[(layer::RADIOTAP, 0), (layer::DOT11, hdr)]), T_DOT11);
    assert_eq!((d.r#type, d.address1.as_str(), d.checksum), (0x35, "00:11:22:33:44:55", 0xdead_beef));
    // A frame cut by the snap length has no FCS to read.
    let d: v1::Dot11 =
        rec(&run_lt(&f, f.len() as u32 + 10, 127, &[(layer::RADIOTAP, 0), (layer::DOT11, hdr)]), T_DOT11);
    assert_eq!(d.checksum, 0);
    // PPI with an 802.11-common field whose flags say "FCS present".
    let mut f = vec![0, 0, 32, 0, 105, 0, 0, 0, 2, 0, 20, 0];
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&[1, 0]);
    f.extend_from_slice(&[0; 10]);
    let hdr = f.len();
    f.extend_from_slice(&[0xd4, 0x00, 0x00, 0x00]);
    f.extend_from_slice(&A);
    f.extend_from_slice(&[0x04, 0x03, 0x02, 0x01]);
    let d: v1::Dot11 = rec(&run_lt(&f, f.len() as u32, 192, &[(layer::DOT11, hdr)]), T_DOT11);
    assert_eq!(d.checksum, 0x0102_0304);
}

/// An identify response: NameOfStation (odd length, padded), IP parameter, Device ID, Device
/// Role, AliasName, DeviceVendorValue and Device Options blocks, each after a BlockInfo.
fn pn_ident_response() -> Vec<u8> {
    let block = |opt: u8, sub: u8, v: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&[opt, sub]);
        out.extend_from_slice(&((v.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(v);
        if v.len() % 2 == 1 {
            out.push(0);
        }
    };
    let mut blocks = Vec::new();
    block(2, 2, b"plc", &mut blocks);
    block(1, 2, &[192, 168, 0, 2, 255, 255, 255, 0, 192, 168, 0, 1], &mut blocks);
    block(2, 3, &[0x00, 0x2a, 0x03, 0x01], &mut blocks);
    block(2, 4, &[0x01, 0x00], &mut blocks);
    block(2, 6, b"port-001.plc", &mut blocks);
    block(2, 1, b"S7-1500", &mut blocks);
    block(2, 5, &[1, 2, 2, 2], &mut blocks);
    let mut f = eth(A, B, 0x8892);
    f.extend_from_slice(&[0xfe, 0xff, 5, 1, 0, 0, 0, 9, 0, 0]);
    f.extend_from_slice(&(blocks.len() as u16).to_be_bytes());
    f.extend_from_slice(&blocks);
    f
}

#[test]
fn profinet_dcp_identify_response_fields() {
    let f = pn_ident_response();
    let out = run(&f, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)]);
    assert!(errors(&out).is_empty(), "{out:?}");
    let m: v1::Profinetdcp = rec(&out, T_PN_DCP);
    assert_eq!((m.frame_id, m.service_id, m.service_type, m.xid), (0xfeff, 5, 1, 9));
    assert_eq!((m.src_mac.as_str(), m.dst_mac.as_str()), ("01:00:0c:cc:cc:cc", "00:11:22:33:44:55"));
    assert_eq!(m.name_of_station, "plc");
    assert_eq!(
        (m.ip_address.as_str(), m.subnet_mask.as_str(), m.gateway.as_str()),
        ("192.168.0.2", "255.255.255.0", "192.168.0.1")
    );
    assert_eq!((m.vendor_id, m.device_id, m.device_role), (0x2a, 0x0301, 1));
    assert_eq!((m.alias_name.as_str(), m.vendor_value.as_str()), ("port-001.plc", "S7-1500"));
    assert_eq!(m.blocks.len(), 7);
    assert_eq!(m.blocks[0].length, 5);
    assert_eq!(m.device_options.len(), 2);
    assert_eq!((m.device_options[1].option, m.device_options[1].suboption), (2, 2));
}

#[test]
fn profinet_dcp_cut_anywhere_is_partial_with_an_error() {
    let f = pn_ident_response();
    // Cuts inside the header or the blocks: a record (when the FrameID is there) and an error.
    for n in 14..f.len() {
        let out = run_lt(&f[..n], f.len() as u32, 1, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)]);
        assert!(!errors(&out).is_empty(), "cut at {n}: no error in {out:?}");
        if n >= 16 {
            let m: v1::Profinetdcp = rec(&out, T_PN_DCP);
            assert_eq!(m.frame_id, 0xfeff);
        }
    }
    every_cut(&f, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)], 14, f.len() - 14);
}

#[test]
fn profinet_dcp_garbled_lengths_never_panic() {
    let mut f = pn_ident_response();
    // A DCPDataLength beyond the frame and a block length beyond the data.
    f[24] = 0xff;
    let out = run(&f, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)]);
    assert!(!errors(&out).is_empty());
    f[24] = 0;
    f[28] = 0xff;
    let out = run(&f, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)]);
    assert_eq!(errors(&out), ["profinet-dcp: block truncated"]);
    let m: v1::Profinetdcp = rec(&out, T_PN_DCP);
    assert_eq!(m.blocks.len(), 1);
    assert!(m.name_of_station.is_empty());
    // Every byte value in every position of the header and the first block.
    for at in 14..40 {
        for v in [0u8, 1, 0x7f, 0xff] {
            let mut g = pn_ident_response();
            g[at] = v;
            let _ = run(&g, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)]);
        }
    }
}

#[test]
fn profinet_rt_cyclic_trailer_alarm_and_vlan() {
    // RTC1 legacy frame in a VLAN tag: 40 data bytes, cycle counter 0x1234, status 0x35, 0.
    let mut f = eth(A, B, 0x8100);
    f.extend_from_slice(&[0x00, 0x05, 0x88, 0x92, 0xc0, 0x01]);
    f.extend_from_slice(&[0xaa; 40]);
    f.extend_from_slice(&[0x12, 0x34, 0x35, 0x00]);
    let out = run(&f, &[(layer::ETHERNET, 0), (layer::DOT1Q, 14), (layer::PROFINET, 18)]);
    assert!(errors(&out).is_empty(), "{out:?}");
    let m: v1::Profinetrt = rec(&out, T_PN_RT);
    assert_eq!((m.frame_id, m.frame_class.as_str(), m.cyclic), (0xc001, "rtc1-legacy", true));
    assert_eq!((m.data_length, m.cycle_counter, m.data_status, m.transfer_status), (40, 0x1234, 0x35, 0));
    assert_eq!(m.src_mac, "01:00:0c:cc:cc:cc");
    // The same frame cut by the snap length: no trailer, a partial record and an error.
    let out = run_lt(&f[..50], f.len() as u32, 1, &[(layer::ETHERNET, 0), (layer::DOT1Q, 14), (layer::PROFINET, 18)]);
    assert_eq!(errors(&out), ["profinet: cyclic frame truncated"]);
    let m: v1::Profinetrt = rec(&out, T_PN_RT);
    assert_eq!((m.frame_id, m.cycle_counter), (0xc001, 0));
    // A low-priority alarm: the RTA header.
    let mut f = eth(A, B, 0x8892);
    f.extend_from_slice(&[0xfe, 0x01, 0x80, 0x01, 0x80, 0x02, 0x14, 0x01, 0xff, 0xff, 0xff, 0xfe, 0x00, 0x04]);
    f.extend_from_slice(&[0xcf, 0x81, 0xfd, 0x0f]);
    let out = run(&f, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)]);
    let m: v1::Profinetrt = rec(&out, T_PN_RT);
    assert_eq!((m.frame_class.as_str(), m.alarm_dst_endpoint, m.alarm_src_endpoint), ("alarm-low", 0x8001, 0x8002));
    assert_eq!((m.pdu_type, m.pdu_version, m.window_size, m.tack), (4, 1, 1, 0));
    assert_eq!((m.send_seq_num, m.ack_seq_num, m.var_part_len), (0xffff, 0xfffe, 4));
    // Cut anywhere: never a panic, an error for the frame id and the alarm header.
    every_cut(&f, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)], 14, 14);
}

#[test]
fn profinet_frame_classes_follow_wiresharks_ranges() {
    use crate::profinet::frame_class;
    assert_eq!(frame_class(0x0000), ("reserved", false));
    assert_eq!(frame_class(0x0020), ("ptcp-sync", false));
    assert_eq!(frame_class(0x0100), ("rtc3", true));
    assert_eq!(frame_class(0x1000), ("reserved", false));
    assert_eq!(frame_class(0x8000), ("rtc1", true));
    assert_eq!(frame_class(0xfbff), ("rtc1-legacy", true));
    assert_eq!(frame_class(0xfc01), ("alarm-high", false));
    assert_eq!(frame_class(0xfc02), ("reserved", false));
    assert_eq!(frame_class(0xff40), ("ptcp-delay", false));
    assert_eq!(frame_class(0xff8f), ("fragmentation", false));
}

/// Property: any bytes after any FrameID (DCP and RT, any length, cut or not) give exactly one
/// PROFINET record and never a panic; DCP records never list more blocks than 4-byte steps fit.
#[test]
fn profinet_random_frames_give_one_record_each() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let ids = [0xfefcu16, 0xfefd, 0xfefe, 0xfeff, 0x0100, 0x8001, 0xc001, 0xfc01, 0xfe01, 0xff40, 0x0000];
    for _ in 0..3000 {
        let r = next();
        let id = ids[(r % ids.len() as u64) as usize];
        let n = (r >> 8) as usize % 120;
        let mut f = eth(A, B, 0x8892);
        f.extend_from_slice(&id.to_be_bytes());
        f.extend((0..n).map(|_| next() as u8));
        let orig = if r & 0x1000 != 0 { f.len() as u32 + 10 } else { f.len() as u32 };
        let out = run_lt(&f, orig, 1, &[(layer::ETHERNET, 0), (layer::PROFINET, 14)]);
        let recs: Vec<_> = out.iter().filter(|e| e.0 == T_PN_DCP || e.0 == T_PN_RT).collect();
        assert_eq!(recs.len(), 1, "{out:?}");
        if recs[0].0 == T_PN_DCP {
            let m: v1::Profinetdcp = rec(&out, T_PN_DCP);
            assert!(m.blocks.len() <= n / 4 + 1);
        }
    }
}
