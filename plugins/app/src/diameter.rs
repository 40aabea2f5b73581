//! Diameter (RFC 6733): the 20-byte header and the AVPs, grouped AVPs with their members (to a
//! bounded depth). Values of the base protocol, credit-control (RFC 4006) and NASREQ AVPs are
//! printed as text by their data format; other AVPs as hex. As Wireshark's heuristics, data whose
//! version is not 1 is not Diameter and yields nothing.

use crate::decode::{Ctx, T_DIAMETER, set_ctx};
use crate::text::{be16, be32, push_hex, push_i64, push_lossy, push_u64};
use netcap_proto::v1;
use netcap_sdk::{Emitter, fmt};

/// Grouped AVPs nest at most this deep.
const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OctetString,
    Utf8String,
    Integer32,
    Integer64,
    Unsigned32,
    Unsigned64,
    Enumerated,
    Time,
    Address,
    Identity,
    Uri,
    Grouped,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::OctetString => "OctetString",
            Format::Utf8String => "UTF8String",
            Format::Integer32 => "Integer32",
            Format::Integer64 => "Integer64",
            Format::Unsigned32 => "Unsigned32",
            Format::Unsigned64 => "Unsigned64",
            Format::Enumerated => "Enumerated",
            Format::Time => "Time",
            Format::Address => "Address",
            Format::Identity => "DiameterIdentity",
            Format::Uri => "DiameterURI",
            Format::Grouped => "Grouped",
        }
    }
}

use Format::*;

/// Vendor-0 AVPs we know: (code, name, format).
pub const AVPS: &[(u32, &str, Format)] = &[
    (1, "User-Name", Utf8String),
    (25, "Class", OctetString),
    (27, "Session-Timeout", Unsigned32),
    (33, "Proxy-State", OctetString),
    (44, "Accounting-Session-Id", OctetString),
    (50, "Acct-Multi-Session-Id", Utf8String),
    (55, "Event-Timestamp", Time),
    (85, "Acct-Interim-Interval", Unsigned32),
    (257, "Host-IP-Address", Address),
    (258, "Auth-Application-Id", Unsigned32),
    (259, "Acct-Application-Id", Unsigned32),
    (260, "Vendor-Specific-Application-Id", Grouped),
    (261, "Redirect-Host-Usage", Enumerated),
    (262, "Redirect-Max-Cache-Time", Unsigned32),
    (263, "Session-Id", Utf8String),
    (264, "Origin-Host", Identity),
    (265, "Supported-Vendor-Id", Unsigned32),
    (266, "Vendor-Id", Unsigned32),
    (267, "Firmware-Revision", Unsigned32),
    (268, "Result-Code", Unsigned32),
    (269, "Product-Name", Utf8String),
    (270, "Session-Binding", Unsigned32),
    (271, "Session-Server-Failover", Enumerated),
    (272, "Multi-Round-Time-Out", Unsigned32),
    (273, "Disconnect-Cause", Enumerated),
    (274, "Auth-Request-Type", Enumerated),
    (276, "Auth-Grace-Period", Unsigned32),
    (277, "Auth-Session-State", Enumerated),
    (278, "Origin-State-Id", Unsigned32),
    (279, "Failed-AVP", Grouped),
    (280, "Proxy-Host", Identity),
    (281, "Error-Message", Utf8String),
    (282, "Route-Record", Identity),
    (283, "Destination-Realm", Identity),
    (284, "Proxy-Info", Grouped),
    (285, "Re-Auth-Request-Type", Enumerated),
    (287, "Accounting-Sub-Session-Id", Unsigned64),
    (291, "Authorization-Lifetime", Unsigned32),
    (292, "Redirect-Host", Uri),
    (293, "Destination-Host", Identity),
    (294, "Error-Reporting-Host", Identity),
    (295, "Termination-Cause", Enumerated),
    (296, "Origin-Realm", Identity),
    (297, "Experimental-Result", Grouped),
    (298, "Experimental-Result-Code", Unsigned32),
    (299, "Inband-Security-Id", Unsigned32),
    (415, "CC-Request-Number", Unsigned32),
    (416, "CC-Request-Type", Enumerated),
    (461, "Service-Context-Id", Utf8String),
    (480, "Accounting-Record-Type", Enumerated),
    (483, "Accounting-Realtime-Required", Enumerated),
    (485, "Accounting-Record-Number", Unsigned32),
];

/// Name and format of a vendor-0 AVP.
pub fn lookup(code: u32) -> Option<(&'static str, Format)> {
    AVPS.binary_search_by_key(&code, |a| a.0).ok().map(|i| (AVPS[i].1, AVPS[i].2))
}

/// Seconds between the NTP epoch (1900) and the Unix epoch.
const NTP_UNIX: i64 = 2_208_988_800;

/// Decodes every Diameter message that starts in `d`.
pub fn decode(r: &mut v1::Diameter, c: &Ctx, d: &[u8], out: &mut Emitter<'_>) {
    let mut at = 0;
    while at < d.len() {
        let Some(h) = d.get(at..at + 20) else {
            if d[at] == 1 {
                out.error("diameter: header truncated");
            }
            return;
        };
        if h[0] != 1 {
            return;
        }
        set_ctx!(r, c);
        let w = |i: usize| be32(h, i).unwrap_or(0);
        r.version = u32::from(h[0]);
        r.message_len = w(0) & 0x00ff_ffff;
        r.flags = u32::from(h[4]);
        r.command_code = w(4) & 0x00ff_ffff;
        r.application_id = w(8);
        r.hop_by_hop_id = w(12);
        r.end_to_end_id = w(16);
        let len = r.message_len as usize;
        let want = at + len.max(20);
        let body = &d[at + 20..want.min(d.len())];
        let ok = avps(&mut r.avps, body, 0);
        out.record(T_DIAMETER, r);
        if len < 20 {
            out.error("diameter: bad length");
            return;
        }
        if want > d.len() {
            out.error("diameter: message truncated");
            return;
        }
        if !ok {
            out.error("diameter: bad avp");
        }
        at = want;
    }
}

/// The AVPs in `d` into `list`; false when one is cut short or malformed.
fn avps(list: &mut Vec<v1::DiameterAvp>, d: &[u8], depth: usize) -> bool {
    list.clear();
    let mut at = 0;
    while at < d.len() {
        let (Some(code), Some(fl)) = (be32(d, at), be32(d, at + 4)) else { return false };
        let flags = fl >> 24;
        let len = (fl & 0x00ff_ffff) as usize;
        let vendor = flags & 0x80 != 0;
        let hl = if vendor { 12 } else { 8 };
        let mut a = v1::DiameterAvp { code, flags, length: len as u32, header_len: hl as u32, ..Default::default() };
        if vendor {
            match be32(d, at + 8) {
                Some(v) => a.vendor_id = v,
                None => {
                    list.push(a);
                    return false;
                }
            }
        }
        if len < hl {
            list.push(a);
            return false;
        }
        let end = at + len;
        let value = d.get(at + hl..end.min(d.len())).unwrap_or_default();
        let padded = (len + 3) & !3;
        a.padding = (padded - len) as u32;
        let mut ok = end <= d.len();
        let known = if vendor && a.vendor_id != 0 { None } else { lookup(code) };
        match known {
            Some((name, f)) => {
                a.name.push_str(name);
                a.format.push_str(f.name());
                if f == Grouped {
                    if depth + 1 < MAX_DEPTH {
                        ok &= avps(&mut a.avps, value, depth + 1);
                    }
                } else if ok {
                    ok &= value_text(&mut a.value, f, value);
                } else {
                    push_hex(&mut a.value, value);
                }
            }
            None => push_hex(&mut a.value, value),
        }
        list.push(a);
        if !ok {
            return false;
        }
        at += padded;
    }
    true
}

/// The value of a non-grouped AVP as text; false when its size does not fit its format.
fn value_text(s: &mut String, f: Format, v: &[u8]) -> bool {
    let fixed = |n: usize| v.len() == n;
    match f {
        Utf8String | Identity | Uri => push_lossy(s, v),
        OctetString | Grouped => push_hex(s, v),
        Unsigned32 | Enumerated | Integer32 | Time if !fixed(4) => {
            push_hex(s, v);
            return false;
        }
        Unsigned64 | Integer64 if !fixed(8) => {
            push_hex(s, v);
            return false;
        }
        Unsigned32 => push_u64(s, u64::from(be32(v, 0).unwrap_or(0))),
        Enumerated | Integer32 => push_i64(s, i64::from(be32(v, 0).unwrap_or(0) as i32)),
        Time => push_i64(s, i64::from(be32(v, 0).unwrap_or(0)) - NTP_UNIX),
        Unsigned64 | Integer64 => {
            let x = u64::from_be_bytes(v[..8].try_into().unwrap_or_default());
            if f == Integer64 { push_i64(s, x as i64) } else { push_u64(s, x) }
        }
        Address => {
            let fam = be16(v, 0);
            let mut ip = String::new();
            match (fam, v.len()) {
                (Some(1), 6) | (Some(2), 18) => {
                    fmt::set_ip(&mut ip, &v[2..]);
                    s.push_str(&ip);
                }
                _ => push_hex(s, v),
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn dictionary_is_sorted() {
        assert!(super::AVPS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
