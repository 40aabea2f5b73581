//! EtherNet/IP encapsulation (little-endian 24-byte header, command-specific data, common packet
//! format items) and the CIP messages in the data items of SendRRData (unconnected, 0x00b2) and
//! SendUnitData (connected, 0x00b1, after the 2-byte sequence count). UDP port 2222 carries
//! class 0/1 I/O as a bare item list without an encapsulation header.

use crate::decode::{Ctx, T_CIP, T_ENIP, set_ctx};
use crate::text::{le16, le32};
use netcap_proto::v1;
use netcap_sdk::Emitter;

/// Commands whose data starts with an interface handle and timeout before the item list.
const SEND_RR_DATA: u16 = 0x6f;
const SEND_UNIT_DATA: u16 = 0x70;
/// Commands whose (non-empty) data is an item list.
const LIST_SERVICES: u16 = 0x04;
const LIST_IDENTITY: u16 = 0x63;
const LIST_INTERFACES: u16 = 0x64;

/// Whether `cmd` is an encapsulation command (Wireshark's check too): data on the port that does
/// not start with one (e.g. a TCP segment continuing a message) is not decoded.
fn known_command(cmd: u16) -> bool {
    matches!(cmd, 0x00 | 0x01 | 0x04 | 0x63 | 0x64 | 0x65 | 0x66 | 0x6f | 0x70 | 0x72 | 0x73 | 0xc8)
}

const ITEM_CONNECTED_DATA: u16 = 0x00b1;
const ITEM_UNCONNECTED_DATA: u16 = 0x00b2;

/// Reused records.
#[derive(Default)]
pub struct Enip {
    pub rec: v1::Enip,
    pub cip: v1::Cip,
}

impl Enip {
    /// Decodes every encapsulation message that starts in `d` (or the I/O item list of UDP 2222).
    /// `enabled` = [ENIP, CIP].
    pub fn decode(&mut self, c: &Ctx, d: &[u8], io: bool, enabled: [bool; 2], out: &mut Emitter<'_>) {
        if io {
            self.reset(c);
            self.rec.io = true;
            let ok = self.items(d, 0);
            if enabled[0] {
                out.record(T_ENIP, &self.rec);
            }
            if !ok {
                out.error("enip: items truncated");
            }
            return;
        }
        let mut at = 0;
        while at < d.len() {
            let Some(h) = d.get(at..at + 24) else {
                if le16(d, at).is_none_or(known_command) {
                    out.error("enip: header truncated");
                }
                return;
            };
            let cmd = le16(h, 0).unwrap_or(0);
            if !known_command(cmd) {
                return;
            }
            self.reset(c);
            let r = &mut self.rec;
            let len = le16(h, 2).unwrap_or(0);
            r.command = u32::from(cmd);
            r.length = u32::from(len);
            r.session_handle = le32(h, 4).unwrap_or(0);
            r.status = le32(h, 8).unwrap_or(0);
            r.sender_context.extend_from_slice(&h[12..20]);
            r.options = le32(h, 20).unwrap_or(0);
            let want = at + 24 + usize::from(len);
            let body = &d[at + 24..want.min(d.len())];
            let cs = r.command_specific.get_or_insert_with(Default::default);
            cs.cmd = u32::from(cmd);
            cs.data.clear();
            cs.data.extend_from_slice(body);
            let mut ok = true;
            match cmd {
                // An error reply may have no data at all.
                SEND_RR_DATA | SEND_UNIT_DATA if !body.is_empty() => {
                    if body.len() >= 6 {
                        r.interface_handle = le32(body, 0).unwrap_or(0);
                        r.timeout = u32::from(le16(body, 4).unwrap_or(0));
                        ok = self.items(body, 6);
                    } else {
                        ok = false;
                    }
                }
                LIST_SERVICES | LIST_IDENTITY | LIST_INTERFACES if !body.is_empty() => {
                    ok = self.items(body, 0);
                }
                _ => {}
            }
            if enabled[0] {
                out.record(T_ENIP, &self.rec);
            }
            if enabled[1] {
                self.cips(c, cmd, out);
            }
            if want > d.len() {
                out.error("enip: data truncated");
                return;
            }
            if !ok {
                out.error("enip: items truncated");
            }
            at = want;
        }
    }

    fn reset(&mut self, c: &Ctx) {
        let r = &mut self.rec;
        set_ctx!(r, c);
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

    /// The item list at `d[at..]`: count, then (type, length, data) items. False when cut short.
    fn items(&mut self, d: &[u8], at: usize) -> bool {
        let Some(count) = le16(d, at) else { return false };
        let mut at = at + 2;
        for _ in 0..count {
            let (Some(ty), Some(len)) = (le16(d, at), le16(d, at + 2)) else { return false };
            let end = at + 4 + usize::from(len);
            let data = d.get(at + 4..end.min(d.len())).unwrap_or_default();
            self.rec.items.push(v1::EnipItem { type_id: u32::from(ty), length: u32::from(len), data: data.to_vec() });
            if end > d.len() {
                return false;
            }
            at = end;
        }
        true
    }

    /// A CIP record for each data item of a SendRRData/SendUnitData message.
    fn cips(&mut self, c: &Ctx, cmd: u16, out: &mut Emitter<'_>) {
        if cmd != SEND_RR_DATA && cmd != SEND_UNIT_DATA {
            return;
        }
        for k in 0..self.rec.items.len() {
            let it = &self.rec.items[k];
            let (msg, seq) = match it.type_id as u16 {
                ITEM_UNCONNECTED_DATA => (&it.data[..], None),
                ITEM_CONNECTED_DATA => match it.data.get(2..) {
                    Some(m) => (m, le16(&it.data, 0)),
                    None => continue,
                },
                _ => continue,
            };
            let truncated = (it.data.len() as u32) < it.length;
            let r = &mut self.cip;
            set_ctx!(r, c);
            r.sequence_count = seq.map_or(0, u32::from);
            let ok = cip(r, msg);
            if msg.is_empty() {
                continue;
            }
            out.record(T_CIP, &self.cip);
            if !ok || truncated {
                out.error("cip: message truncated");
            }
        }
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
