//! A synthesized MQTT 3.1.1 conversation over TCP port 1883 (the corpus has no MQTT), built from
//! the OASIS specification: CONNECT, CONNACK, SUBSCRIBE, SUBACK, PUBLISH with QoS 0 and 1, PUBACK,
//! PINGREQ, PINGRESP, DISCONNECT, and segments that carry two control packets; then a second
//! connection that speaks MQTT 5.0, whose packets carry property lists.

use crate::synth_app::{Addr, Frames};

pub const CLIENT: Addr = Addr::V4([192, 0, 2, 71]);
pub const BROKER: Addr = Addr::V4([192, 0, 2, 72]);
pub const CLIENT_PORT: u16 = 50123;
pub const BROKER_PORT: u16 = 1883;
pub const CLIENT5_PORT: u16 = 50124;

/// A control packet: first byte (type << 4 | flags), remaining length, body.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![first];
    let mut n = body.len();
    loop {
        let b = (n % 128) as u8;
        n /= 128;
        v.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(body);
    v
}

/// An MQTT UTF-8 string: 2-byte length, bytes.
pub fn string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

/// CONNECT: protocol "MQTT" level 4, clean session, a will (QoS 1), a user name and a password.
pub fn connect(client_id: &str, keep_alive: u16) -> Vec<u8> {
    let mut b = string("MQTT");
    b.push(4);
    b.push(0x80 | 0x40 | 0x08 | 0x04 | 0x02);
    b.extend_from_slice(&keep_alive.to_be_bytes());
    b.extend(string(client_id));
    b.extend(string("clients/gone"));
    b.extend(string("offline"));
    b.extend(string("alice"));
    b.extend(string("s3cret"));
    packet(0x10, &b)
}

/// PUBLISH with `qos`; a packet id for QoS > 0; `retain` sets the retain flag.
pub fn publish(topic: &str, qos: u8, id: u16, retain: bool, payload: &[u8]) -> Vec<u8> {
    let mut b = string(topic);
    if qos > 0 {
        b.extend_from_slice(&id.to_be_bytes());
    }
    b.extend_from_slice(payload);
    packet(0x30 | (qos << 1) | u8::from(retain), &b)
}

/// SUBSCRIBE (flags 0010) with (topic filter, requested QoS) pairs.
pub fn subscribe(id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    for (f, q) in filters {
        b.extend(string(f));
        b.push(*q);
    }
    packet(0x82, &b)
}

/// The conversation, one TCP segment per frame.
pub fn conversation() -> Vec<(i64, Vec<u8>)> {
    let mut f = Frames::default();
    let c2b = |f: &mut Frames, p: &[u8]| f.tcp(CLIENT, BROKER, CLIENT_PORT, BROKER_PORT, p);
    let b2c = |f: &mut Frames, p: &[u8]| f.tcp(BROKER, CLIENT, BROKER_PORT, CLIENT_PORT, p);
    c2b(&mut f, &connect("sensor-17", 60));
    b2c(&mut f, &packet(0x20, &[0, 0]));
    c2b(&mut f, &subscribe(10, &[("sensors/+/temp", 1), ("alerts/#", 0)]));
    b2c(&mut f, &packet(0x90, &[0, 10, 1, 0]));
    c2b(&mut f, &publish("sensors/17/temp", 0, 0, false, b"21.5"));
    c2b(&mut f, &publish("sensors/17/temp", 1, 77, true, b"{\"t\":21.7}"));
    b2c(&mut f, &packet(0x40, &[0, 77]));
    // Two control packets in one segment: the broker forwards a QoS 1 and a QoS 0 PUBLISH.
    let mut two = publish("alerts/fire", 1, 5, false, b"evacuate");
    two.extend(publish("sensors/18/temp", 0, 0, false, b"19.0"));
    b2c(&mut f, &two);
    c2b(&mut f, &packet(0x40, &[0, 5]));
    c2b(&mut f, &packet(0xc0, &[]));
    b2c(&mut f, &packet(0xd0, &[]));
    // And a segment with PINGREQ and DISCONNECT together.
    let mut two = packet(0xc0, &[]);
    two.extend(packet(0xe0, &[]));
    c2b(&mut f, &two);
    mqtt5(&mut f);
    f.packets
}

/// A second connection in MQTT 5.0: every packet with a property list (and reason codes).
fn mqtt5(f: &mut Frames) {
    let c2b = |f: &mut Frames, p: &[u8]| f.tcp(CLIENT, BROKER, CLIENT5_PORT, BROKER_PORT, p);
    let b2c = |f: &mut Frames, p: &[u8]| f.tcp(BROKER, CLIENT, BROKER_PORT, CLIENT5_PORT, p);
    // CONNECT: level 5, clean start; properties: session expiry interval 300, receive maximum 20.
    let mut b = string("MQTT");
    b.extend_from_slice(&[5, 0x02, 0, 30]);
    b.extend_from_slice(&[8, 0x11, 0, 0, 1, 0x2c, 0x21, 0, 20]);
    b.extend(string("v5-client"));
    c2b(f, &packet(0x10, &b));
    // CONNACK: session present 0, reason 0; properties: topic alias maximum 10.
    b2c(f, &packet(0x20, &[0, 0, 3, 0x22, 0, 10]));
    // SUBSCRIBE id 3; properties: subscription identifier 7; one filter, options QoS 1 + no local.
    let mut b = vec![0, 3, 2, 0x0b, 7];
    b.extend(string("v5/#"));
    b.push(0x05);
    c2b(f, &packet(0x82, &b));
    // SUBACK id 3; properties: reason string "ok"; granted QoS 1.
    b2c(f, &packet(0x90, &[0, 3, 5, 0x1f, 0, 2, b'o', b'k', 1]));
    // PUBLISH QoS 1 id 9; properties: topic alias 1, content type "text/plain".
    let mut b = string("v5/data");
    b.extend_from_slice(&[0, 9]);
    let mut props = vec![0x23, 0, 1, 0x03];
    props.extend(string("text/plain"));
    b.push(props.len() as u8);
    b.extend(props);
    b.extend_from_slice(b"hello v5");
    c2b(f, &packet(0x32, &b));
    // PUBACK id 9, reason 0x10 (no matching subscribers), properties: reason string "none".
    b2c(f, &packet(0x40, &[0, 9, 0x10, 7, 0x1f, 0, 4, b'n', b'o', b'n', b'e']));
    // DISCONNECT, reason 0 (normal), properties: session expiry interval 0.
    c2b(f, &packet(0xe0, &[0, 5, 0x11, 0, 0, 0, 0]));
}
