//! EtherNet/IP encapsulation (little-endian 24-byte header, command-specific data, common packet
//! format items) and the CIP messages in the data items of SendRRData (unconnected, 0x00b2) and
//! SendUnitData (connected, 0x00b1, after the 2-byte sequence count), parsed into the
//! `netcap.v1.ENIP` and `netcap.v1.CIP` records. Shared by the `app` decoder (UDP port 44818 and
//! the bare item lists of UDP port 2222) and the `ics` stream decoder (TCP port 44818); a
//! library crate because a decoder crate's export cannot be linked into another component.
//!
//! The functions fill only the protocol fields: the caller sets the context fields (time,
//! addresses, ports, tunnel depth) and emits the records.

use netcap_proto::v1;

/// Commands whose data starts with an interface handle and timeout before the item list.
pub const SEND_RR_DATA: u16 = 0x6f;
pub const SEND_UNIT_DATA: u16 = 0x70;
/// Commands whose (non-empty) data is an item list.
const LIST_SERVICES: u16 = 0x04;
const LIST_IDENTITY: u16 = 0x63;
const LIST_INTERFACES: u16 = 0x64;

/// Length of the encapsulation header.
pub const HEADER: usize = 24;

const ITEM_CONNECTED_DATA: u16 = 0x00b1;
const ITEM_UNCONNECTED_DATA: u16 = 0x00b2;

/// Whether `cmd` is an encapsulation command (Wireshark's check too): data that does not start
/// with one is not EtherNet/IP.
pub fn known_command(cmd: u16) -> bool {
    matches!(cmd, 0x00 | 0x01 | 0x04 | 0x63 | 0x64 | 0x65 | 0x66 | 0x6f | 0x70 | 0x72 | 0x73 | 0xc8)
}

/// Little-endian u16 at `i`, if there.
pub fn le16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Little-endian u32 at `i`, if there.
pub fn le32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Clears the protocol fields of `r` (not its context fields).
pub fn reset(r: &mut v1::Enip) {
    r.command = 0;
    r.length = 0;
    r.session_handle = 0;
    r.status = 0;
    r.sender_context.clear();
    r.options = 0;
    r.interface_handle = 0;
    r.timeout = 0;
    r.io = false;
    r.items.clear();
    if let Some(cs) = r.command_specific.as_mut() {
        cs.cmd = 0;
        cs.data.clear();
    }
}

/// Fills `r` from one encapsulation message `m`: its 24-byte header and as much of its data as
/// `m` holds (the caller cuts `m` at the header's length). False when the item list of the data
/// is cut short or malformed. `m` must hold at least [`HEADER`] bytes.
pub fn encapsulation(r: &mut v1::Enip, m: &[u8]) -> bool {
    reset(r);
    let Some(h) = m.get(..HEADER) else { return false };
    let cmd = le16(h, 0).unwrap_or(0);
    r.command = u32::from(cmd);
    r.length = u32::from(le16(h, 2).unwrap_or(0));
    r.session_handle = le32(h, 4).unwrap_or(0);
    r.status = le32(h, 8).unwrap_or(0);
    r.sender_context.extend_from_slice(&h[12..20]);
    r.options = le32(h, 20).unwrap_or(0);
    let body = &m[HEADER..];
    let cs = r.command_specific.get_or_insert_with(Default::default);
    cs.cmd = u32::from(cmd);
    cs.data.extend_from_slice(body);
    match cmd {
        // An error reply may have no data at all.
        SEND_RR_DATA | SEND_UNIT_DATA if !body.is_empty() => {
            if body.len() < 6 {
                return false;
            }
            r.interface_handle = le32(body, 0).unwrap_or(0);
            r.timeout = u32::from(le16(body, 4).unwrap_or(0));
            items(r, body, 6)
        }
        LIST_SERVICES | LIST_IDENTITY | LIST_INTERFACES if !body.is_empty() => items(r, body, 0),
        _ => true,
    }
}

/// Fills `r` from the bare item list of a UDP port 2222 I/O packet; false when cut short.
pub fn io(r: &mut v1::Enip, d: &[u8]) -> bool {
    reset(r);
    r.io = true;
    items(r, d, 0)
}

/// The item list at `d[at..]`: count, then (type, length, data) items. False when cut short.
fn items(r: &mut v1::Enip, d: &[u8], at: usize) -> bool {
    let Some(count) = le16(d, at) else { return false };
    let mut at = at + 2;
    for _ in 0..count {
        let (Some(ty), Some(len)) = (le16(d, at), le16(d, at + 2)) else { return false };
        let end = at + 4 + usize::from(len);
        let data = d.get(at + 4..end.min(d.len())).unwrap_or_default();
        r.items.push(v1::EnipItem { type_id: u32::from(ty), length: u32::from(len), data: data.to_vec() });
        if end > d.len() {
            return false;
        }
        at = end;
    }
    true
}

/// Calls `f` with the CIP record of each data item of `r` (a SendRRData or SendUnitData
/// message) and whether that message is cut short. `c` is reused; its context fields are left
/// as they are.
pub fn cips(r: &v1::Enip, c: &mut v1::Cip, mut f: impl FnMut(&v1::Cip, bool)) {
    let cmd = r.command as u16;
    if cmd != SEND_RR_DATA && cmd != SEND_UNIT_DATA {
        return;
    }
    for it in &r.items {
        let (msg, seq) = match it.type_id as u16 {
            ITEM_UNCONNECTED_DATA => (&it.data[..], None),
            ITEM_CONNECTED_DATA => match it.data.get(2..) {
                Some(m) => (m, le16(&it.data, 0)),
                None => continue,
            },
            _ => continue,
        };
        if msg.is_empty() {
            continue;
        }
        let truncated = (it.data.len() as u32) < it.length;
        c.sequence_count = seq.map_or(0, u32::from);
        let ok = cip(c, msg);
        f(c, !ok || truncated);
    }
}

/// Fills `r` from one CIP message; false when the message is cut short.
pub fn cip(r: &mut v1::Cip, m: &[u8]) -> bool {
    r.response = false;
    r.service_id = 0;
    r.class_id = 0;
    r.instance_id = 0;
    r.attribute_id = 0;
    r.status = 0;
    r.additional_status.clear();
    r.data.clear();
    let Some(&svc) = m.first() else { return false };
    r.response = svc & 0x80 != 0;
    r.service_id = u32::from(svc & 0x7f);
    if r.response {
        // Service, reserved, general status, additional status size (words), words, data.
        let (Some(&st), Some(&n)) = (m.get(2), m.get(3)) else { return false };
        r.status = u32::from(st);
        let mut at = 4;
        for _ in 0..n {
            let Some(w) = le16(m, at) else { return false };
            r.additional_status.push(u32::from(w));
            at += 2;
        }
        r.data.extend_from_slice(&m[at..]);
        true
    } else {
        // Service, path size (words), path, data.
        let Some(&words) = m.get(1) else { return false };
        let end = 2 + usize::from(words) * 2;
        let Some(path) = m.get(2..end) else {
            epath(r, &m[2.min(m.len())..]);
            return false;
        };
        epath(r, path);
        r.data.extend_from_slice(&m[end..]);
        true
    }
}

/// Class, instance and attribute from the logical segments of an EPATH.
fn epath(r: &mut v1::Cip, p: &[u8]) {
    let mut at = 0;
    while let Some(&seg) = p.get(at) {
        if seg & 0xe0 == 0x20 {
            // Logical segment: type in bits 2-4, format in bits 0-1 (8, 16 or 32 bit; the wider
            // ones have a pad byte first).
            let (v, used) = match seg & 3 {
                0 => (p.get(at + 1).map(|&b| u32::from(b)), 2),
                1 => (le16(p, at + 2).map(u32::from), 4),
                2 => (le32(p, at + 2), 6),
                _ => (None, 2),
            };
            let Some(v) = v else { return };
            match (seg >> 2) & 7 {
                0 => r.class_id = v,
                1 => r.instance_id = v,
                4 => r.attribute_id = v,
                _ => {}
            }
            at += used;
        } else if seg == 0x91 {
            // ANSI extended symbol: length, characters, pad to an even count.
            let Some(&n) = p.get(at + 1) else { return };
            at += 2 + usize::from(n) + usize::from(n & 1);
        } else if seg & 0xe0 == 0 {
            // Port segment: port, link address (1 byte, or sized with the extended bit), padded.
            if seg & 0x10 != 0 {
                let Some(&n) = p.get(at + 1) else { return };
                at += 2 + usize::from(n) + usize::from(n & 1);
            } else {
                at += 2;
            }
        } else {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbage_never_panic() {
        let mut r = v1::Enip::default();
        let mut c = v1::Cip::default();
        let mut m = vec![0x6f, 0, 0x18, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        m.extend([0u8; 12]);
        m.extend([0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0, 8, 0, 0x0e, 3, 0x20, 1, 0x24, 1, 0x30, 7]);
        for n in HEADER..=m.len() {
            let ok = encapsulation(&mut r, &m[..n]);
            cips(&r, &mut c, |_, _| {});
            assert_eq!(ok, n == HEADER || n == m.len(), "{n}");
        }
        assert_eq!((c.class_id, c.instance_id, c.attribute_id), (1, 1, 7));
        for seed in 0..2000u32 {
            let b: Vec<u8> = (0..40).map(|i| (seed.wrapping_mul(2_654_435_761) >> (i % 24)) as u8).collect();
            encapsulation(&mut r, &b);
            cips(&r, &mut c, |_, _| {});
            io(&mut r, &b);
            cip(&mut c, &b[..(seed as usize % 40)]);
        }
    }
}
