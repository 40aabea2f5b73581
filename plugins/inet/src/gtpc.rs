//! GTP control plane messages on UDP 2123: GTPv1-C (3GPP TS 29.060) and GTPv2-C (TS 29.274). One
//! `GTPC` record per message (a GTPv2 message piggybacked on another gets its own) with the
//! header, the information element types, and the first IMSI, MSISDN, APN and Cause. GTPv1
//! type-value IEs have fixed lengths by type: an unknown one ends the walk with a counted error.
//! Bytes after a GTPv2 message with the P flag that cannot be a GTPv2 header give no record,
//! only a counted error (tshark marks them malformed).
//! Every walk is bounded by the bytes present; a message cut short gives what was read and a
//! counted error.

use netcap_proto::v1;

const CUT: &str = "gtpc: message truncated";
const BAD: &str = "gtpc: information element malformed";
const PIGGYBACK: &str = "gtpc: piggybacked message truncated";

/// GTPv2 grouped IEs whose elements are walked: Bearer Context, PDN Connection, Overload and
/// Load Control Information, Remote UE Context, SCEF PDN Connection.
const GROUPED: [u8; 6] = [93, 109, 180, 181, 191, 195];

/// Whether the datagram is on the GTP-C port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    sp == 2123 || dp == 2123
}

/// Calls `emit` with one record per message of a datagram (`base` holds the header fields) and
/// the error to count with it.
pub fn messages(d: &[u8], base: &v1::Gtpc, mut emit: impl FnMut(&v1::Gtpc, Option<&'static str>)) {
    let mut rest = d;
    let mut piggybacked = false;
    // A GTPv2 datagram holds at most two messages (TS 29.274 5.5.1: an initial message and
    // one piggybacked); the bound keeps a garbled chain short.
    for _ in 0..4 {
        let mut r = base.clone();
        r.piggybacked = piggybacked;
        let (res, next) = message(rest, &mut r);
        // The P flag promises another GTPv2 message: bytes too few for its header (or not
        // GTPv2) give no record, but an error counted with the carrier's.
        let after = next.and_then(|n| rest.get(n..)).unwrap_or_default();
        let follows = after.len() >= 8 && after[0] >> 5 == 2;
        let missing = next.is_some() && !follows;
        emit(&r, res.err().or(missing.then_some(PIGGYBACK)));
        if !follows {
            return;
        }
        rest = after;
        piggybacked = true;
    }
}

/// Reads one message into `r`; returns the result and, for a GTPv2 message with the P flag, where
/// the next one starts.
fn message(d: &[u8], r: &mut v1::Gtpc) -> (Result<(), &'static str>, Option<usize>) {
    let Some(&flags) = d.first() else { return (Err(CUT), None) };
    r.flags = u32::from(flags);
    r.version = u32::from(flags >> 5);
    match flags >> 5 {
        1 => (v1_message(d, r), None),
        2 => {
            let res = v2_message(d, r);
            let next = (flags & 0x10 != 0).then(|| 4 + r.length as usize);
            (res, next)
        }
        _ => (Err("gtpc: unknown version"), None),
    }
}

fn be16(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// TBCD digits (low nibble first, 0xf filler ends them).
fn tbcd(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        for n in [x & 15, x >> 4] {
            if n > 9 {
                return s;
            }
            s.push(char::from(b'0' + n));
        }
    }
    s
}

/// An APN: length-prefixed labels joined with dots.
fn apn(mut b: &[u8]) -> String {
    let mut s = String::new();
    while let Some((&n, rest)) = b.split_first() {
        let Some(label) = rest.get(..usize::from(n)) else { break };
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(&String::from_utf8_lossy(label));
        b = &rest[usize::from(n)..];
    }
    s
}

/// Keeps the first value of an IE kind.
fn first(field: &mut String, v: impl FnOnce() -> String) {
    if field.is_empty() {
        *field = v();
    }
}

fn v2_message(d: &[u8], r: &mut v1::Gtpc) -> Result<(), &'static str> {
    r.message_type = u32::from(*d.get(1).ok_or(CUT)?);
    let len = be16(d, 2).ok_or(CUT)? as usize;
    r.length = len as u32;
    r.teid_present = d[0] & 0x08 != 0;
    let mut at = 4;
    if r.teid_present {
        r.teid = be32(d, 4).ok_or(CUT)?;
        at = 8;
    }
    let s = d.get(at..at + 3).ok_or(CUT)?;
    r.sequence_number = u32::from_be_bytes([0, s[0], s[1], s[2]]);
    let end = 4 + len;
    if end < at + 4 {
        return Err("gtpc: message malformed");
    }
    let res = v2_ies(d.get(at + 4..end.min(d.len())).unwrap_or_default(), r, 0);
    if d.len() < end { Err(CUT) } else { res }
}

fn v2_ies(mut b: &[u8], r: &mut v1::Gtpc, depth: u8) -> Result<(), &'static str> {
    while !b.is_empty() {
        let h = b.get(..4).ok_or(BAD)?;
        let (ty, n) = (h[0], usize::from(u16::from_be_bytes([h[1], h[2]])));
        r.ie_types.push(u32::from(ty));
        let v = b.get(4..4 + n).ok_or(BAD)?;
        match ty {
            1 => first(&mut r.imsi, || tbcd(v)),
            76 => first(&mut r.msisdn, || tbcd(v)),
            71 => first(&mut r.apn, || apn(v)),
            2 if r.cause == 0 => r.cause = u32::from(*v.first().ok_or(BAD)?),
            _ if GROUPED.contains(&ty) && depth < 2 => v2_ies(v, r, depth + 1)?,
            _ => {}
        }
        b = &b[4 + n..];
    }
    Ok(())
}

/// The length of a GTPv1 type-value IE's value (TS 29.060 7.7), `None` for an unknown type.
fn tv_len(ty: u8) -> Option<usize> {
    Some(match ty {
        1 | 8 | 11 | 13 | 14 | 15 | 19 | 20 | 21 | 23 | 24 | 29 => 1,
        25..=28 => 2,
        12 => 3,
        4 | 5 | 16 | 17 | 127 => 4,
        18 => 5,
        3 => 6,
        2 => 8,
        22 => 9,
        9 => 28,
        _ => return None,
    })
}

fn v1_message(d: &[u8], r: &mut v1::Gtpc) -> Result<(), &'static str> {
    let h = d.get(..8).ok_or(CUT)?;
    r.message_type = u32::from(h[1]);
    let len = be16(h, 2).unwrap_or(0) as usize;
    r.length = len as u32;
    r.teid = be32(h, 4).unwrap_or(0);
    r.teid_present = true;
    let mut at = 8;
    if h[0] & 7 != 0 {
        let o = d.get(8..12).ok_or(CUT)?;
        r.sequence_number = u32::from(u16::from_be_bytes([o[0], o[1]]));
        at = 12;
        let mut next = o[3];
        // Extension headers: length in 4-byte units, the last byte names the next one.
        while next != 0 {
            let n = usize::from(*d.get(at).ok_or(CUT)?) * 4;
            if n == 0 {
                return Err("gtpc: extension header malformed");
            }
            next = *d.get(at + n - 1).ok_or(CUT)?;
            at += n;
        }
    }
    let end = 8 + len;
    let res = v1_ies(d.get(at..end.min(d.len())).unwrap_or_default(), r);
    if d.len() < end { Err(CUT) } else { res }
}

fn v1_ies(mut b: &[u8], r: &mut v1::Gtpc) -> Result<(), &'static str> {
    while let Some(&ty) = b.first() {
        let (v, used) = if ty >= 128 {
            let n = be16(b, 1).ok_or(BAD)? as usize;
            (b.get(3..3 + n).ok_or(BAD)?, 3 + n)
        } else {
            let n = tv_len(ty).ok_or("gtpc: unknown information element")?;
            (b.get(1..1 + n).ok_or(BAD)?, 1 + n)
        };
        r.ie_types.push(u32::from(ty));
        match ty {
            1 if r.cause == 0 => r.cause = u32::from(v[0]),
            2 => first(&mut r.imsi, || tbcd(v)),
            131 => first(&mut r.apn, || apn(v)),
            // The address's first octet is its extension, type of number and numbering plan.
            134 => first(&mut r.msisdn, || tbcd(v.get(1..).unwrap_or_default())),
            _ => {}
        }
        b = &b[used..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GTPv2 Create Session Request (TEID 0, sequence 0x4b5462) with IMSI 001010123456789,
    /// MSISDN 8967452143 and APN internet.example, piggybacked after an Echo Request (no TEID,
    /// sequence 7, Recovery IE).
    fn datagram() -> Vec<u8> {
        let mut echo = vec![0x50, 1, 0, 9, 0, 0, 7, 0, 3, 0, 1, 0, 5];
        let mut csr = vec![0x48, 32, 0, 0, 0, 0, 0, 0, 0x4b, 0x54, 0x62, 0];
        csr.extend_from_slice(&[1, 0, 8, 0, 0x00, 0x01, 0x01, 0x21, 0x43, 0x65, 0x87, 0xf9]);
        csr.extend_from_slice(&[76, 0, 5, 0, 0x98, 0x76, 0x54, 0x12, 0x34]);
        csr.extend_from_slice(&[71, 0, 17, 0, 8]);
        csr.extend_from_slice(b"internet\x07example");
        let n = (csr.len() - 4) as u16;
        csr[2..4].copy_from_slice(&n.to_be_bytes());
        echo.extend_from_slice(&csr);
        echo
    }

    fn all(d: &[u8]) -> Vec<(v1::Gtpc, Option<&'static str>)> {
        let mut v = Vec::new();
        messages(d, &v1::Gtpc::default(), |r, e| v.push((r.clone(), e)));
        v
    }

    #[test]
    fn piggybacked_create_session_request() {
        let m = all(&datagram());
        assert_eq!(m.len(), 2);
        let (echo, csr) = (&m[0].0, &m[1].0);
        assert_eq!(
            (echo.message_type, echo.teid_present, echo.sequence_number, echo.piggybacked),
            (1, false, 7, false)
        );
        assert_eq!(echo.ie_types, [3]);
        assert_eq!(
            (csr.message_type, csr.teid_present, csr.sequence_number, csr.piggybacked),
            (32, true, 0x4b5462, true)
        );
        assert_eq!(
            (csr.imsi.as_str(), csr.msisdn.as_str(), csr.apn.as_str()),
            ("001010123456789", "8967452143", "internet.example")
        );
        assert!(m.iter().all(|(_, e)| e.is_none()));
    }

    #[test]
    fn gtpv1_response_with_cause() {
        // Update PDP Context Response, S flag, sequence 0x850e, Cause 128, Recovery 0.
        let d = [0x32, 0x13, 0, 8, 9, 0xfe, 0x4b, 0x60, 0x85, 0x0e, 0, 0, 1, 128, 14, 0];
        let m = all(&d);
        let r = &m[0].0;
        assert_eq!(
            (r.version, r.message_type, r.teid, r.sequence_number, r.cause),
            (1, 0x13, 0x09fe_4b60, 0x850e, 128)
        );
        assert_eq!((r.ie_types.as_slice(), m[0].1), (&[1, 14][..], None));
    }

    #[test]
    fn gtpv1_create_pdp_context_request() {
        // IMSI 001010123456789 (TV, 8 bytes), Recovery (TV), NSAPI 5 (TV), End User Address
        // (TLV 128), APN "apn.test" (TLV 131), MSISDN +49123 (TLV 134, 0x91 then digits).
        let mut d = vec![0x30, 16, 0, 0, 0, 0, 0, 0];
        d.extend_from_slice(&[2, 0x00, 0x01, 0x01, 0x21, 0x43, 0x65, 0x87, 0xf9, 14, 3, 20, 5]);
        d.extend_from_slice(&[128, 0, 2, 0xf1, 0x21]);
        d.extend_from_slice(&[131, 0, 9, 3, b'a', b'p', b'n', 4, b't', b'e', b's', b't']);
        d.extend_from_slice(&[134, 0, 4, 0x91, 0x94, 0x21, 0xf3]);
        let n = (d.len() - 8) as u16;
        d[2..4].copy_from_slice(&n.to_be_bytes());
        let m = all(&d);
        let r = &m[0].0;
        assert_eq!((r.version, r.message_type, m[0].1), (1, 16, None));
        assert_eq!(r.ie_types, [2, 14, 20, 128, 131, 134]);
        assert_eq!((r.imsi.as_str(), r.apn.as_str(), r.msisdn.as_str()), ("001010123456789", "apn.test", "49123"));
        // An unknown type-value IE ends the walk.
        d[21] = 100;
        let m = all(&d);
        assert_eq!((m[0].0.ie_types.as_slice(), m[0].1), (&[2, 14, 20][..], Some("gtpc: unknown information element")));
    }

    #[test]
    fn cuts_garbling_and_huge_lengths() {
        let d = datagram();
        for n in 0..d.len() {
            let m = all(&d[..n]);
            assert!(m.iter().any(|(_, e)| e.is_some()), "{n}");
            // Fewer bytes than a GTPv2 header after the echo: no record for them.
            assert_eq!(m.len(), if n < 13 + 8 { 1 } else { 2 }, "{n}");
        }
        for i in 0..d.len() {
            for x in [0x01, 0x10, 0x80, 0xff] {
                let mut g = d.clone();
                g[i] ^= x;
                assert!(all(&g).len() <= 4);
            }
        }
        let mut g = d.clone();
        g[15..17].copy_from_slice(&[0xff, 0xff]);
        let m = all(&g);
        assert_eq!(m[1].1, Some(CUT));
        assert_eq!(m[1].0.message_type, 32);
    }
}
