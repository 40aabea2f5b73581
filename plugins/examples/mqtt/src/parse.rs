//! MQTT control packets (MQTT 3.1.1, OASIS standard 2014, and the property lists of MQTT 5.0),
//! read from the front of a byte slice. Plain Rust without the SDK's packet types, so it is easy
//! to unit-test and to fuzz natively.
//!
//! [`packet`] fills one record from one control packet and says how many bytes it took, or why it
//! stopped: the record then holds what was read before the problem (a *partial record*), and the
//! caller emits it together with the error.

use crate::schema::{Mqtt, TopicFilter};

/// Packet type names by number (MQTT 3.1.1 table 2.1; 15 is AUTH in MQTT 5.0).
pub const TYPE_NAMES: [&str; 16] = [
    "Reserved",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// Protocol level of MQTT 3.1.1, assumed when a connection's CONNECT was not seen.
pub const LEVEL_311: u8 = 4;
/// Protocol level of MQTT 5.0 (packets carry property lists).
pub const LEVEL_5: u8 = 5;

/// Error kinds (stable strings: the host counts errors per kind).
pub const E_TRUNCATED: &str = "mqtt: packet truncated";
pub const E_REMAINING_LENGTH: &str = "mqtt: bad remaining length";
pub const E_MALFORMED: &str = "mqtt: malformed packet";
pub const E_RESERVED: &str = "mqtt: reserved packet type";

/// A cursor over a control packet's body (the bytes after the fixed header, at most its
/// remaining length). `cut` says whether the body ends because the segment does (so a read past
/// the end is a truncation) or because the remaining length does (a malformed packet).
struct Body<'a> {
    d: &'a [u8],
    at: usize,
    cut: bool,
}

impl<'a> Body<'a> {
    fn fail(&self) -> &'static str {
        if self.cut { E_TRUNCATED } else { E_MALFORMED }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.at.checked_add(n).ok_or(E_MALFORMED)?;
        let b = self.d.get(self.at..end).ok_or_else(|| self.fail())?;
        self.at = end;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A length-prefixed binary field (2-byte length, then the bytes).
    fn binary(&mut self) -> Result<&'a [u8], &'static str> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    /// A UTF-8 string field into `s` (invalid UTF-8 is replaced, not refused).
    fn string(&mut self, s: &mut String) -> Result<(), &'static str> {
        let b = self.binary()?;
        s.clear();
        s.push_str(&String::from_utf8_lossy(b));
        Ok(())
    }

    /// A variable byte integer (1 to 4 bytes, 7 bits each, least significant first).
    fn varint(&mut self) -> Result<u32, &'static str> {
        let mut v = 0u32;
        for i in 0..4 {
            let b = self.u8()?;
            v |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(E_MALFORMED)
    }

    /// MQTT 5.0 properties: a variable byte integer length and that many bytes, skipped.
    fn properties(&mut self, r: &mut Mqtt) -> Result<(), &'static str> {
        let n = self.varint()?;
        r.properties_length = n;
        self.bytes(n as usize).map(|_| ())
    }

    fn left(&self) -> usize {
        self.d.len().saturating_sub(self.at)
    }
}

/// Reads the fixed header at the front of `d`: (first byte, remaining length, header length).
pub fn fixed_header(d: &[u8]) -> Result<(u8, u32, usize), &'static str> {
    let first = *d.first().ok_or(E_TRUNCATED)?;
    let mut len = 0u32;
    for i in 0..4 {
        let b = *d.get(1 + i).ok_or(E_TRUNCATED)?;
        len |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((first, len, 2 + i));
        }
    }
    Err(E_REMAINING_LENGTH)
}

/// Fills `r` (whose context fields the caller has set) from the control packet at the front of
/// `d`, read as protocol level `level` (CONNECT brings its own). Returns the bytes the packet
/// takes, or the error kind after which the caller stops reading this segment; `r` then holds
/// what was read.
pub fn packet(d: &[u8], level: u8, r: &mut Mqtt) -> Result<usize, &'static str> {
    r.protocol_level = u32::from(level);
    let first = *d.first().ok_or(E_TRUNCATED)?;
    let ty = first >> 4;
    r.type_number = u32::from(ty);
    r.r#type = TYPE_NAMES[usize::from(ty)].into();
    r.flags = u32::from(first & 0x0f);
    let (_, rl, hl) = fixed_header(d)?;
    r.remaining_length = rl;
    let end = hl.saturating_add(rl as usize);
    let mut b = Body { d: &d[hl..end.min(d.len())], at: 0, cut: end > d.len() };
    body(ty, level, &mut b, r)?;
    if b.cut {
        // Everything the segment holds was read, but the packet goes on in a later segment.
        return Err(E_TRUNCATED);
    }
    Ok(end)
}

fn body(ty: u8, level: u8, b: &mut Body<'_>, r: &mut Mqtt) -> Result<(), &'static str> {
    let v5 = level >= LEVEL_5;
    match ty {
        1 => connect(b, r)?,
        2 => {
            r.session_present = b.u8()? & 1 != 0;
            r.return_code = u32::from(b.u8()?);
            if v5 && b.left() > 0 {
                b.properties(r)?;
            }
        }
        3 => {
            r.dup = r.flags & 0x8 != 0;
            r.qos = (r.flags >> 1) & 3;
            r.retain = r.flags & 1 != 0;
            // The payload is whatever the remaining length leaves after the variable header.
            let total = r.remaining_length as usize;
            b.string(&mut r.topic)?;
            if r.qos > 0 {
                r.packet_id = u32::from(b.u16()?);
            }
            if v5 {
                b.properties(r)?;
            }
            r.payload_length = total.saturating_sub(b.at) as u32;
            if r.qos == 3 {
                return Err(E_MALFORMED);
            }
        }
        4..=7 => {
            r.packet_id = u32::from(b.u16()?);
            if v5 && b.left() > 0 {
                r.reason_code = u32::from(b.u8()?);
                if b.left() > 0 {
                    b.properties(r)?;
                }
            }
        }
        8 | 10 => {
            r.packet_id = u32::from(b.u16()?);
            if v5 {
                b.properties(r)?;
            }
            while b.left() > 0 {
                let mut f = TopicFilter::default();
                b.string(&mut f.topic)?;
                if ty == 8 {
                    f.options = u32::from(b.u8()?);
                    f.qos = f.options & 3;
                }
                r.topic_filters.push(f);
            }
        }
        9 | 11 => {
            r.packet_id = u32::from(b.u16()?);
            if v5 {
                b.properties(r)?;
            }
            let codes = b.bytes(b.left())?;
            r.return_codes.extend(codes.iter().map(|&c| u32::from(c)));
        }
        12 | 13 => {}
        14 | 15 if v5 || ty == 14 => {
            if v5 && b.left() > 0 {
                r.reason_code = u32::from(b.u8()?);
                if b.left() > 0 {
                    b.properties(r)?;
                }
            }
        }
        _ => return Err(E_RESERVED),
    }
    Ok(())
}

fn connect(b: &mut Body<'_>, r: &mut Mqtt) -> Result<(), &'static str> {
    b.string(&mut r.protocol_name)?;
    let level = b.u8()?;
    r.protocol_level = u32::from(level);
    let flags = b.u8()?;
    r.connect_flags = u32::from(flags);
    r.has_username = flags & 0x80 != 0;
    r.has_password = flags & 0x40 != 0;
    r.has_will = flags & 0x04 != 0;
    r.keep_alive = u32::from(b.u16()?);
    let v5 = level >= LEVEL_5;
    if v5 {
        b.properties(r)?;
    }
    b.string(&mut r.client_id)?;
    if r.has_will {
        if v5 {
            // Will properties: skipped; the CONNECT properties length stays in the record.
            let n = b.varint()?;
            b.bytes(n as usize)?;
        }
        b.string(&mut r.will_topic)?;
        b.binary()?;
    }
    if r.has_username {
        b.binary()?;
    }
    if r.has_password {
        b.binary()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a remaining length as MQTT's variable byte integer.
    fn varint(mut n: usize) -> Vec<u8> {
        let mut v = Vec::new();
        loop {
            let b = (n % 128) as u8;
            n /= 128;
            v.push(if n > 0 { b | 0x80 } else { b });
            if n == 0 {
                return v;
            }
        }
    }

    fn pkt(first: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![first];
        v.extend(varint(body.len()));
        v.extend_from_slice(body);
        v
    }

    fn s(x: &str) -> Vec<u8> {
        let mut v = (x.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(x.as_bytes());
        v
    }

    fn parse(d: &[u8], level: u8) -> (Mqtt, Result<usize, &'static str>) {
        let mut r = Mqtt::default();
        let res = packet(d, level, &mut r);
        (r, res)
    }

    fn connect311() -> Vec<u8> {
        let mut b = s("MQTT");
        b.extend_from_slice(&[4, 0b1100_0110, 0, 60]);
        b.extend(s("client-1"));
        b.extend(s("will/topic"));
        b.extend(s("bye"));
        b.extend(s("user"));
        b.extend(s("secret"));
        pkt(0x10, &b)
    }

    #[test]
    fn connect_3_1_1() {
        let d = connect311();
        let (r, res) = parse(&d, LEVEL_311);
        assert_eq!(res, Ok(d.len()));
        assert_eq!((r.r#type.as_str(), r.type_number, r.flags), ("CONNECT", 1, 0));
        assert_eq!(r.remaining_length as usize, d.len() - 2);
        assert_eq!((r.protocol_name.as_str(), r.protocol_level, r.connect_flags), ("MQTT", 4, 0xc6));
        assert_eq!((r.keep_alive, r.client_id.as_str(), r.will_topic.as_str()), (60, "client-1", "will/topic"));
        assert!(r.has_username && r.has_password && r.has_will);
    }

    #[test]
    fn connect_5_skips_properties() {
        let mut b = s("MQTT");
        b.extend_from_slice(&[5, 0b0000_0110, 0, 30]);
        b.extend_from_slice(&[5, 0x11, 0, 0, 0, 10]); // properties: session expiry interval 10
        b.extend(s("c5"));
        b.extend_from_slice(&[2, 0x01, 1]); // will properties: payload format indicator 1
        b.extend(s("w"));
        b.extend(s("x"));
        let d = pkt(0x10, &b);
        let (r, res) = parse(&d, LEVEL_311);
        assert_eq!(res, Ok(d.len()));
        assert_eq!((r.protocol_level, r.properties_length), (5, 5));
        assert_eq!((r.client_id.as_str(), r.will_topic.as_str()), ("c5", "w"));
        assert!(!r.has_username && r.has_will);
    }

    #[test]
    fn acks_and_publish() {
        let (r, res) = parse(&[0x20, 2, 1, 5], LEVEL_311);
        assert_eq!(res, Ok(4));
        assert!(r.session_present);
        assert_eq!((r.r#type.as_str(), r.return_code), ("CONNACK", 5));

        let mut b = s("a/b");
        b.extend_from_slice(&[0x12, 0x34]);
        b.extend_from_slice(b"hello");
        let d = pkt(0x3b, &b); // PUBLISH, dup, QoS 1, retain
        let (r, res) = parse(&d, LEVEL_311);
        assert_eq!(res, Ok(d.len()));
        assert!(r.dup && r.retain);
        assert_eq!((r.qos, r.topic.as_str(), r.packet_id, r.payload_length), (1, "a/b", 0x1234, 5));

        // The same in MQTT 5.0: a property list (topic alias 3) before the payload.
        let mut b = s("a/b");
        b.extend_from_slice(&[0x12, 0x34, 3, 0x23, 0, 3]);
        b.extend_from_slice(b"hello");
        let d = pkt(0x32, &b);
        let (r, res) = parse(&d, LEVEL_5);
        assert_eq!(res, Ok(d.len()));
        assert_eq!((r.payload_length, r.properties_length), (5, 3));

        let (r, res) = parse(&[0x40, 2, 0, 7], LEVEL_311);
        assert_eq!((r.r#type.as_str(), r.packet_id, res), ("PUBACK", 7, Ok(4)));
        let (r, res) = parse(&[0x40, 3, 0, 7, 0x10], LEVEL_5);
        assert_eq!((r.reason_code, res), (0x10, Ok(5)));
        for (first, name) in [(0xc0, "PINGREQ"), (0xd0, "PINGRESP"), (0xe0, "DISCONNECT")] {
            let (r, res) = parse(&[first, 0], LEVEL_311);
            assert_eq!((r.r#type.as_str(), res), (name, Ok(2)));
        }
    }

    #[test]
    fn subscribe_and_suback() {
        let mut b = vec![0, 10];
        b.extend(s("a/+"));
        b.push(1);
        b.extend(s("b/#"));
        b.push(2);
        let d = pkt(0x82, &b);
        let (r, res) = parse(&d, LEVEL_311);
        assert_eq!(res, Ok(d.len()));
        assert_eq!(r.packet_id, 10);
        let f: Vec<_> = r.topic_filters.iter().map(|f| (f.topic.as_str(), f.qos)).collect();
        assert_eq!(f, [("a/+", 1), ("b/#", 2)]);

        let (r, res) = parse(&[0x90, 4, 0, 10, 1, 0x80], LEVEL_311);
        assert_eq!((r.packet_id, r.return_codes.clone(), res), (10, vec![1, 0x80], Ok(6)));

        let mut b = vec![0, 11];
        b.extend(s("a/+"));
        let d = pkt(0xa2, &b);
        let (r, res) = parse(&d, LEVEL_311);
        assert_eq!((r.r#type.as_str(), r.topic_filters.len(), res), ("UNSUBSCRIBE", 1, Ok(d.len())));
    }

    #[test]
    fn malformed_input_gives_a_partial_record_and_an_error() {
        // A topic length beyond the remaining length: malformed, not truncated.
        let (r, res) = parse(&[0x30, 3, 0, 9, b'a'], LEVEL_311);
        assert_eq!((r.r#type.as_str(), res), ("PUBLISH", Err(E_MALFORMED)));
        // Remaining length with five bytes.
        assert_eq!(parse(&[0x30, 0xff, 0xff, 0xff, 0xff, 1], LEVEL_311).1, Err(E_REMAINING_LENGTH));
        // Type 0 is reserved; 15 too before MQTT 5.0.
        assert_eq!(parse(&[0x00, 0], LEVEL_311).1, Err(E_RESERVED));
        assert_eq!(parse(&[0xf0, 0], LEVEL_311).1, Err(E_RESERVED));
        assert_eq!(parse(&[0xf0, 0], LEVEL_5).1, Ok(2));
        // QoS 3 does not exist.
        let (r, res) = parse(&pkt(0x36, &[0, 1, b'a', 0, 1]), LEVEL_311);
        assert_eq!((r.qos, res), (3, Err(E_MALFORMED)));
    }

    #[test]
    fn truncation_at_every_length_is_reported_never_a_panic() {
        let mut sub = vec![0, 10];
        sub.extend(s("a/+"));
        sub.push(1);
        let mut publish = s("t");
        publish.extend_from_slice(&[0, 1]);
        publish.extend_from_slice(b"payload");
        for (d, level) in [
            (connect311(), LEVEL_311),
            (pkt(0x82, &sub), LEVEL_311),
            (pkt(0x32, &publish), LEVEL_311),
            (vec![0x90, 4, 0, 10, 1, 0x80], LEVEL_311),
            (vec![0x20, 2, 1, 5], LEVEL_311),
            (vec![0x40, 3, 0, 7, 0x10], LEVEL_5),
        ] {
            assert_eq!(parse(&d, level).1, Ok(d.len()));
            for n in 0..d.len() {
                let (r, res) = parse(&d[..n], level);
                assert_eq!(res, Err(E_TRUNCATED), "{d:?} cut at {n}");
                if n > 0 {
                    assert_eq!(r.type_number, u32::from(d[0] >> 4), "the partial record has the type");
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic generator (xorshift): no randomness source in decoders or tests.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let n = (next() % 64) as usize;
            let d: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            for level in [LEVEL_311, LEVEL_5] {
                let mut r = Mqtt::default();
                if let Ok(used) = packet(&d, level, &mut r) {
                    assert!(used <= d.len() && used >= 2);
                }
            }
        }
    }
}
