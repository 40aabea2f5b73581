//! Unit tests with hand-built packets: Ethernet, IPv4, then UDP, TCP or SCTP and the message.

use crate::decode::*;
use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, TAG_ERROR, layer, packets, push_packet};
use prost::Message;

/// Ethernet + IPv4 + transport header for `proto` (17 UDP, 6 TCP, 132 SCTP) + payload, with the
/// host's layers. `pad` Ethernet padding bytes are appended after the IP packet.
fn packet(proto: u8, sp: u16, dp: u16, payload: &[u8], pad: usize) -> (Vec<u8>, Vec<Layer>) {
    let th = match proto {
        17 => 8,
        6 => 20,
        _ => 12,
    };
    let total = 20 + th + payload.len();
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&[0x08, 0x00]);
    v.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, proto, 0, 0]);
    v.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    match proto {
        17 => {
            v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            v.extend_from_slice(&[0, 0]);
        }
        6 => v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]),
        _ => v.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 0]),
    }
    v.extend_from_slice(payload);
    v.extend(std::iter::repeat_n(0u8, pad));
    let t = match proto {
        17 => layer::UDP,
        6 => layer::TCP,
        _ => layer::SCTP,
    };
    let l = |id, offset| Layer { id, flags: 0, offset };
    (v, vec![l(layer::ETHERNET, 0), l(layer::IPV4, 14), l(t, 34)])
}

fn run_with(d: &mut App, data: &[u8], layers: &[Layer]) -> Vec<(u16, Vec<u8>)> {
    let mut batch = Vec::new();
    push_packet(&mut batch, 1, 7, 1, data.len() as u32, layers, data);
    let mut out = Vec::new();
    for p in packets(&batch) {
        d.decode(&p, &mut Emitter::new(&mut out, p.seq));
    }
    netcap_sdk::entries(&out).map(Result::unwrap).map(|e| (e.tag, e.bytes.to_vec())).collect()
}

fn run(data: &[u8], layers: &[Layer]) -> Vec<(u16, Vec<u8>)> {
    run_with(&mut App::new(&Config::default()), data, layers)
}

fn errors(r: &[(u16, Vec<u8>)]) -> Vec<String> {
    r.iter().filter(|e| e.0 == TAG_ERROR).map(|e| String::from_utf8(e.1.clone()).unwrap()).collect()
}

/// Every prefix of the packet decodes without a panic; prefixes that cut into the message give
/// an error whenever they give a record that is not the full one.
fn every_prefix(data: &[u8], layers: &[Layer], header_end: usize) {
    let full = run(data, layers);
    for n in 0..data.len() {
        let r = run(&data[..n], layers);
        // Whole messages before the cut are fine; a message cut short must come with an error.
        if n > header_end && !r.is_empty() && r != full && !full.starts_with(&r) {
            assert!(!errors(&r).is_empty(), "prefix {n}: partial output without an error: {r:?}");
        }
    }
}

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
f: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
User-Agent: test agent\r\n\x20continued\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

#[test]
fn sip_request_over_udp() {
    let (p, l) = packet(17, 5060, 5060, INVITE, 0);
    let r = run(&p, &l);
    assert_eq!(r.len(), 1, "{r:?}");
    let s = v1::Sip::decode(&r[0].1[..]).unwrap();
    assert_eq!(
        (s.method.as_str(), s.request_uri.as_str(), s.version.as_str()),
        ("INVITE", "sip:bob@example.com", "SIP/2.0")
    );
    assert!(!s.is_response);
    assert_eq!(s.from, "Alice <sip:alice@example.com>;tag=1928301774");
    assert_eq!(s.to, "Bob <sip:bob@example.com>");
    assert_eq!(s.call_id, "a84b4c76e66710@pc33.example.com");
    assert_eq!(s.cseq, "314159 INVITE");
    assert_eq!(s.user_agent, "test agent continued");
    assert_eq!((s.content_type.as_str(), s.content_length), ("application/sdp", 4));
    assert_eq!(s.headers.len(), 9);
    assert_eq!(s.headers[3], "f: Alice <sip:alice@example.com>;tag=1928301774");
    assert_eq!((s.src_ip.as_str(), s.dst_ip.as_str(), s.src_port, s.dst_port), ("192.0.2.1", "192.0.2.2", 5060, 5060));
    assert_eq!(s.timestamp, 7);
    every_prefix(&p, &l, 42);
}

#[test]
fn sip_two_responses_in_one_tcp_segment() {
    let one = b"SIP/2.0 180 Ringing\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let two = b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nl: 3\r\n\r\nabc";
    let mut pl = one.to_vec();
    pl.extend_from_slice(two);
    let (p, l) = packet(6, 40000, 5060, &pl, 0);
    let r = run(&p, &l);
    assert_eq!(r.len(), 2, "{r:?}");
    let a = v1::Sip::decode(&r[0].1[..]).unwrap();
    let b = v1::Sip::decode(&r[1].1[..]).unwrap();
    assert!(a.is_response && b.is_response);
    assert_eq!((a.response_code, a.response_status.as_str(), a.method.as_str()), (180, "Ringing", "INVITE"));
    assert_eq!((b.response_code, b.response_status.as_str(), b.content_length), (200, "OK", 3));
    // A segment that continues a body is not SIP.
    let (p, l) = packet(6, 40000, 5060, b"o=- 1 1 IN IP4 1.2.3.4\r\n", 0);
    assert!(run(&p, &l).is_empty());
    every_prefix(&packet(6, 40000, 5060, &pl, 0).0, &l, 54);
}

fn enip_header(cmd: u16, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&cmd.to_le_bytes());
    v.extend_from_slice(&(body.len() as u16).to_le_bytes());
    v.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(b"ctx-0001");
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn enip_send_rr_data_with_cip_request_and_response_over_udp() {
    // Get_Attribute_Single (0x0e) class 1 instance 1 attribute 7.
    let req = [0x0e, 3, 0x20, 0x01, 0x24, 0x01, 0x30, 0x07];
    let mut body = vec![0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0];
    body.extend_from_slice(&(req.len() as u16).to_le_bytes());
    body.extend_from_slice(&req);
    let mut pl = enip_header(0x6f, &body);
    // The response: status 0x05 with one additional status word, then data.
    let resp = [0x8e, 0, 0x05, 1, 0x34, 0x12, 0xaa];
    let mut body = vec![0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0];
    body.extend_from_slice(&(resp.len() as u16).to_le_bytes());
    body.extend_from_slice(&resp);
    pl.extend_from_slice(&enip_header(0x6f, &body));
    let (p, l) = packet(17, 44818, 50000, &pl, 0);
    let r = run(&p, &l);
    assert_eq!(r.iter().map(|e| e.0).collect::<Vec<_>>(), vec![T_ENIP, T_CIP, T_ENIP, T_CIP], "{r:?}");
    let e = v1::Enip::decode(&r[0].1[..]).unwrap();
    assert_eq!((e.command, e.length, e.session_handle, e.timeout), (0x6f, 24, 0x1234_5678, 10));
    assert_eq!(e.sender_context, b"ctx-0001");
    assert_eq!(e.items.iter().map(|i| (i.type_id, i.length)).collect::<Vec<_>>(), vec![(0, 0), (0xb2, 8)]);
    let c = v1::Cip::decode(&r[1].1[..]).unwrap();
    assert_eq!((c.response, c.service_id, c.class_id, c.instance_id, c.attribute_id), (false, 0x0e, 1, 1, 7));
    let c = v1::Cip::decode(&r[3].1[..]).unwrap();
    assert_eq!(
        (c.response, c.service_id, c.status, c.additional_status.clone(), c.data.clone()),
        (true, 0x0e, 5, vec![0x1234], vec![0xaa])
    );
    every_prefix(&p, &l, 42);
    // Only CIP records when ENIP is excluded.
    let cfg = Config::new(vec![("record-types".into(), "CIP".into())]);
    let r = run_with(&mut App::new(&cfg), &p, &l);
    assert_eq!(r.iter().map(|e| e.0).collect::<Vec<_>>(), vec![T_CIP, T_CIP]);
}

fn diameter_cer() -> Vec<u8> {
    let mut avps = Vec::new();
    let mut avp = |code: u32, flags: u8, vendor: Option<u32>, v: &[u8]| {
        let hl = if vendor.is_some() { 12 } else { 8 };
        avps.extend_from_slice(&code.to_be_bytes());
        avps.extend_from_slice(&((u32::from(flags) << 24) | (hl + v.len()) as u32).to_be_bytes());
        if let Some(x) = vendor {
            avps.extend_from_slice(&x.to_be_bytes());
        }
        avps.extend_from_slice(v);
        avps.extend(std::iter::repeat_n(0, (4 - v.len() % 4) % 4));
    };
    avp(264, 0x40, None, b"client.example.com");
    avp(257, 0x40, None, &[0, 1, 192, 0, 2, 1]);
    avp(266, 0x40, None, &10415u32.to_be_bytes());
    avp(260, 0x40, None, &[0, 0, 1, 10, 0x40, 0, 0, 12, 0, 0, 0, 0, 0, 0, 1, 2, 0x40, 0, 0, 12, 0, 0, 0, 4]);
    avp(1000, 0xc0, Some(10415), b"xyz");
    let len = 20 + avps.len();
    let mut v = vec![1, (len >> 16) as u8, (len >> 8) as u8, len as u8, 0x80, 0, 1, 1];
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 10]);
    v.extend_from_slice(&avps);
    v
}

#[test]
fn diameter_over_tcp_and_sctp() {
    let m = diameter_cer();
    let (p, l) = packet(6, 3868, 40000, &m, 0);
    let r = run(&p, &l);
    assert_eq!(r.len(), 1, "{r:?}");
    let d = v1::Diameter::decode(&r[0].1[..]).unwrap();
    assert_eq!((d.version, d.flags, d.command_code, d.hop_by_hop_id, d.end_to_end_id), (1, 0x80, 257, 9, 10));
    assert_eq!(d.message_len as usize, m.len());
    let vals: Vec<_> = d.avps.iter().map(|a| (a.code, a.name.as_str(), a.value.as_str())).collect();
    assert_eq!(
        vals,
        vec![
            (264, "Origin-Host", "client.example.com"),
            (257, "Host-IP-Address", "192.0.2.1"),
            (266, "Vendor-Id", "10415"),
            (260, "Vendor-Specific-Application-Id", ""),
            (1000, "", "78797a"),
        ]
    );
    assert_eq!(d.avps[3].avps.iter().map(|a| a.value.as_str()).collect::<Vec<_>>(), vec!["0", "4"]);
    assert_eq!((d.avps[4].vendor_id, d.avps[4].header_len, d.avps[4].padding), (10415, 12, 1));
    every_prefix(&p, &l, 54);
    // SCTP: one DATA chunk (B and E set, PPID 46).
    let mut ch = vec![0, 3];
    ch.extend_from_slice(&((16 + m.len()) as u16).to_be_bytes());
    ch.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 46]);
    ch.extend_from_slice(&m);
    let (p, l) = packet(132, 3868, 3868, &ch, 0);
    let r = run(&p, &l);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(v1::Diameter::decode(&r[0].1[..]).unwrap().avps.len(), 5);
}

#[test]
fn lcm_short_and_fragment() {
    let mut pl = 0x4c43_3032u32.to_be_bytes().to_vec();
    pl.extend_from_slice(&[0, 0, 0, 5]);
    pl.extend_from_slice(b"POSE\0abcdef");
    let (p, l) = packet(17, 40000, 7667, &pl, 0);
    let r = run(&p, &l);
    let m = v1::Lcm::decode(&r[0].1[..]).unwrap();
    assert_eq!(
        (m.magic, m.sequence_number, m.channel_name.as_str(), m.payload_size, m.fragmented),
        (0x4c43_3032, 5, "POSE", 6, false)
    );
    every_prefix(&p, &l, 42);
    let mut pl = 0x4c43_3033u32.to_be_bytes().to_vec();
    pl.extend_from_slice(&[0, 0, 0, 6, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    pl.extend_from_slice(b"CAMERA\0data");
    let (p, l) = packet(17, 40000, 7667, &pl, 0);
    let m = v1::Lcm::decode(&run(&p, &l)[0].1[..]).unwrap();
    assert_eq!(
        (m.payload_size, m.fragment_number, m.total_fragments, m.channel_name.as_str(), m.fragmented),
        (65536, 0, 2, "CAMERA", true)
    );
    every_prefix(&p, &l, 42);
    // Not LCM.
    let (p, l) = packet(17, 40000, 7667, b"hello world", 0);
    assert!(run(&p, &l).is_empty());
}

#[test]
fn enip_send_unit_data_connected_and_not_enip_over_udp() {
    // SendUnitData: connected address item, connected data item with sequence count 9 and a
    // Get_Attribute_Single response.
    let mut body = vec![0, 0, 0, 0, 0, 0, 2, 0, 0xa1, 0, 4, 0, 1, 2, 3, 4, 0xb1, 0, 7, 0];
    body.extend_from_slice(&[9, 0, 0x8e, 0, 0, 0, 0x2a]);
    let (p, l) = packet(17, 44818, 50000, &enip_header(0x70, &body), 0);
    let r = run(&p, &l);
    assert_eq!(r.iter().map(|e| e.0).collect::<Vec<_>>(), vec![T_ENIP, T_CIP], "{r:?}");
    let c = v1::Cip::decode(&r[1].1[..]).unwrap();
    assert_eq!((c.sequence_count, c.response, c.service_id, c.status, c.data.clone()), (9, true, 0x0e, 0, vec![0x2a]));
    every_prefix(&p, &l, 42);
    // Data that starts with no known command: nothing decoded.
    let (p, l) = packet(17, 44818, 50000, &[0x41; 40], 0);
    assert!(run(&p, &l).is_empty());
    let (p, l) = packet(17, 44818, 50000, &[0x41; 10], 0);
    assert!(run(&p, &l).is_empty());
    // Over TCP it is the ics stream decoder's: nothing here.
    let (p, l) = packet(6, 44818, 50000, &enip_header(0x70, &body), 0);
    assert!(run(&p, &l).is_empty());
}

#[test]
fn random_payloads_on_every_port_do_not_panic() {
    // A fixed linear congruential generator: deterministic "random" data, biased towards the
    // bytes the parsers look at (small lengths, magic values, ':' and line ends).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as u8
    };
    let seeds: [&[u8]; 6] = [
        b"SIP/2.0 200 OK\r\nl: 5\r\n",
        &[0, 1, 0, 0, 0, 6, 1, 3],
        &[0x6f, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[1, 0, 0, 40, 0x80, 0, 1, 1],
        b"LC03",
        b"LC02\0\0\0\x01",
    ];
    let ports =
        [(17, 5060), (6, 5060), (6, 502), (6, 44818), (17, 44818), (17, 2222), (6, 3868), (132, 3868), (17, 7667)];
    for round in 0..3000 {
        let (proto, port) = ports[round % ports.len()];
        let mut pl = seeds[round % seeds.len()].to_vec();
        let n = usize::from(next()) % 96;
        for _ in 0..n {
            let b = next();
            pl.push(match b % 8 {
                0 => 0,
                1 => b':',
                2 => b'\n',
                3 => 4,
                _ => b,
            });
        }
        let mut payload = pl.clone();
        if proto == 132 {
            // Wrap in a DATA chunk with random flags.
            payload = vec![0, next() & 3];
            payload.extend_from_slice(&((16 + pl.len()) as u16).to_be_bytes());
            payload.extend_from_slice(&[0; 12]);
            payload.extend_from_slice(&pl);
        }
        let (p, l) = packet(proto, 40000, port, &payload, 0);
        let _ = run(&p, &l);
        let cut = usize::from(next()) % p.len();
        let _ = run(&p[..cut], &l);
    }
}
