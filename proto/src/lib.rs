//! netcap's record schemas (protobuf package `netcap.v1`) as prost types, the serialized
//! `FileDescriptorSet` that describes them, and the length-delimited framing of record files.
//!
//! A record file is a sequence of messages, each preceded by its length as an unsigned LEB128
//! varint (the framing of Java's `writeDelimitedTo` and of the Go netcap). The first message is a
//! [`v1::Header`]. Changes within `netcap.v1` are additive only: new fields and messages, never a
//! renumbered or retyped field.
#![deny(unsafe_code)]

/// Generated prost types for package `netcap.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/netcap.v1.rs"));
}

/// Serialized `google.protobuf.FileDescriptorSet` of every message in `netcap.v1`.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/netcap_v1.fds"));

/// Protobuf package of the built-in records.
pub const PACKAGE: &str = "netcap.v1";

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned LEB128 varint from the front of `buf`: `(value, bytes used)`, or `None` when
/// `buf` ends inside the varint or the varint is longer than 10 bytes.
#[inline]
pub fn get_uvarint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Appends one length-delimited message.
pub fn put_delimited(out: &mut Vec<u8>, msg: &impl prost::Message) {
    put_uvarint(out, msg.encoded_len() as u64);
    msg.encode_raw(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_round_trip_and_known_bytes() {
        // Known encodings from the protobuf spec: 1 -> 01, 150 -> 96 01, 300 -> ac 02.
        for (v, bytes) in [(1u64, vec![0x01]), (150, vec![0x96, 0x01]), (300, vec![0xac, 0x02])] {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            assert_eq!(out, bytes);
            assert_eq!(get_uvarint(&out), Some((v, bytes.len())));
        }
        let mut out = Vec::new();
        put_uvarint(&mut out, u64::MAX);
        assert_eq!(out.len(), 10);
        assert_eq!(get_uvarint(&out), Some((u64::MAX, 10)));
        assert_eq!(get_uvarint(&[0x80]), None);
        assert_eq!(get_uvarint(&[]), None);
    }

    #[test]
    fn descriptor_set_names_the_layer_records() {
        use prost::Message;
        // The descriptor set is decoded with a hand-rolled walk: field 1 (file) -> field 4 (message_type)
        // -> field 1 (name). Checking via the generated types would only test prost against itself.
        let s = String::from_utf8_lossy(DESCRIPTOR_SET);
        for name in ["Ethernet", "IPv4", "IPv6", "TCP", "UDP", "Header"] {
            assert!(s.contains(name), "{name} missing from descriptor set");
        }
        let h = v1::Header { record_type: "TCP".into(), ..Default::default() };
        let mut buf = Vec::new();
        put_delimited(&mut buf, &h);
        let (len, used) = get_uvarint(&buf).unwrap();
        let back = v1::Header::decode(&buf[used..used + len as usize]).unwrap();
        assert_eq!(back.record_type, "TCP");
    }
}
