//! The decoder through the SDK, as the host drives it: hand-built Ethernet/IPv4/TCP packets in
//! a flat batch, the output batch read back with `netcap_sdk::entries`.

use crate::schema::Mqtt;
use crate::{MqttDecoder, T_MQTT};
use netcap_sdk::{Config, Decoder, Layer, TAG_ERROR, layer, push_packet, run_decode};
use prost::Message;

/// Ethernet + IPv4 + TCP (ports `sp` -> `dp`) + `payload` + `pad` bytes of Ethernet padding. The
/// client is 192.0.2.1, the broker (port 1883) 192.0.2.2.
fn packet(sp: u16, dp: u16, payload: &[u8], pad: usize) -> (Vec<u8>, Vec<Layer>) {
    let total = 40 + payload.len();
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&[0x08, 0x00]);
    v.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    let (client, broker) = ([192, 0, 2, 1], [192, 0, 2, 2]);
    let (src, dst) = if sp == crate::PORT { (broker, client) } else { (client, broker) };
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v.extend(std::iter::repeat_n(0u8, pad));
    let l = |id, offset| Layer { id, flags: 0, offset };
    (v, vec![l(layer::ETHERNET, 0), l(layer::IPV4, 14), l(layer::TCP, 34)])
}

/// Decodes packets in order with one decoder; returns records and errors.
fn run(packets: &[(Vec<u8>, Vec<Layer>)]) -> (Vec<Mqtt>, Vec<String>) {
    let mut d = MqttDecoder::init(&Config::default()).unwrap();
    let mut batch = Vec::new();
    for (i, (data, layers)) in packets.iter().enumerate() {
        push_packet(&mut batch, i as u64, 7, 1, data.len() as u32, layers, data);
    }
    let mut out = Vec::new();
    run_decode(&mut d, &batch, &mut out);
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    for e in netcap_sdk::entries(&out) {
        let e = e.unwrap();
        match e.tag {
            T_MQTT => recs.push(Mqtt::decode(e.bytes).unwrap()),
            TAG_ERROR => errs.push(String::from_utf8(e.bytes.to_vec()).unwrap()),
            t => panic!("unexpected tag {t}"),
        }
    }
    (recs, errs)
}

#[test]
fn describe_ships_its_own_schema() {
    let info = MqttDecoder::describe();
    assert_eq!((info.name.as_str(), info.layers.as_slice()), ("mqtt", ["tcp:1883".to_string()].as_slice()));
    assert_eq!(info.record_types[0].message, "example.mqtt.v1.MQTT");
    // The serialized FileDescriptorSet names the package and the message (read without a
    // prost-types dependency: names are plain bytes in it).
    let text = String::from_utf8_lossy(&info.schema);
    assert!(text.contains("example.mqtt.v1") && text.contains("mqtt.proto"), "the schema is ours");
}

#[test]
fn several_packets_in_one_segment_padding_ignored_and_context_set() {
    // PUBACK + PINGREQ in one segment, then Ethernet padding that must not become a record.
    let (recs, errs) = run(&[packet(1883, 50000, &[0x40, 2, 0, 9, 0xc0, 0], 6)]);
    assert!(errs.is_empty(), "{errs:?}");
    let t: Vec<_> = recs.iter().map(|r| (r.r#type.as_str(), r.packet_id)).collect();
    assert_eq!(t, [("PUBACK", 9), ("PINGREQ", 0)]);
    let r = &recs[0];
    assert_eq!((r.src_ip.as_str(), r.dst_ip.as_str(), r.src_port, r.dst_port), ("192.0.2.2", "192.0.2.1", 1883, 50000));
    assert_eq!((r.timestamp, r.tunnel_depth), (7, 0));
    // Other ports are not ours.
    assert_eq!(run(&[packet(1884, 50000, &[0xc0, 0], 0)]).0.len(), 0);
}

#[test]
fn a_connections_level_comes_from_its_connect() {
    // CONNECT with level 5 (no properties), then a PUBACK with a reason code in the other
    // direction: read as MQTT 5.0.
    let mut c = vec![0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 10, 0, 0, 0];
    c[1] = (c.len() - 2) as u8;
    let (recs, errs) = run(&[packet(50000, 1883, &c, 0), packet(1883, 50000, &[0x40, 3, 0, 1, 0x10], 0)]);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!((recs[1].protocol_level, recs[1].reason_code), (5, 0x10));
}

#[test]
fn a_packet_cut_by_the_segment_end_is_a_partial_record_and_an_error() {
    let (recs, errs) = run(&[packet(50000, 1883, &[0xc0, 0, 0x30, 20, 0, 3, b'a'], 0)]);
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[1].r#type.as_str(), recs[1].remaining_length), ("PUBLISH", 20));
    assert_eq!(errs, ["mqtt: packet truncated"]);
}

#[test]
fn random_segments_through_the_glue_never_panic_and_always_parse_back() {
    // Fixed-seed xorshift: reproducible. Segments start with a plausible first byte half the time.
    let mut x = 0x0123_4567_89ab_cdefu64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut packets = Vec::new();
    for i in 0..3000 {
        let n = (next() % 48) as usize;
        let mut d: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        if i % 2 == 0 && !d.is_empty() {
            d[0] = 0x10; // CONNECT: exercises the per-connection level map
        }
        packets.push(packet(if i % 3 == 0 { 1883 } else { 50000 + (i % 7) as u16 }, 1883, &d, (i % 4) as usize));
    }
    let (recs, errs) = run(&packets);
    assert!(!recs.is_empty() && !errs.is_empty());
    assert!(errs.iter().all(|e| e.starts_with("mqtt: ")));
}
