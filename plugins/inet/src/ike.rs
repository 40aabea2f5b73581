//! IKE: ISAKMP/IKEv1 (RFC 2408, 2409) and IKEv2 (RFC 7296) on UDP 500, and on UDP 4500 after the
//! four zero bytes of the non-ESP marker (RFC 3948; other datagrams there are ESP or NAT
//! keepalives, not ours). One `IKE` record per message: the header, the types of the payload
//! chain, the proposals and transforms of the first SA payload, vendor ids, notify types, the
//! IKEv2 KE group and clear-text identities. The chain stops at an encrypted payload (IKEv2 SK,
//! SKF) or, with the IKEv1 encryption flag, right after the header. Every loop is bounded by the
//! bytes present; a payload or message cut short gives what was read and a counted error.

use netcap_proto::v1;
use std::fmt::Write;

const CUT: &str = "ike: message truncated";
const BAD: &str = "ike: payload malformed";

/// Whether the datagram is on an IKE port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    [sp, dp].iter().any(|&p| p == 500 || p == 4500)
}

/// The IKE message in a datagram on an IKE port: all of it on 500, what follows the non-ESP
/// marker on 4500 (`None` for ESP and NAT keepalives there), and whether it came after a marker.
pub fn message(d: &[u8], sp: u16, dp: u16) -> Option<(&[u8], bool)> {
    if sp == 500 || dp == 500 {
        return Some((d, false));
    }
    match d.get(..4) {
        Some([0, 0, 0, 0]) => Some((&d[4..], true)),
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn be16(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn exchange_name(t: u8) -> &'static str {
    match t {
        1 => "Base",
        2 => "Identity Protection (Main Mode)",
        3 => "Authentication Only",
        4 => "Aggressive",
        5 => "Informational",
        6 => "Transaction (Config Mode)",
        32 => "Quick Mode",
        33 => "New Group Mode",
        34 => "IKE_SA_INIT",
        35 => "IKE_AUTH",
        36 => "CREATE_CHILD_SA",
        37 => "INFORMATIONAL",
        38 => "IKE_SESSION_RESUME",
        43 => "IKE_INTERMEDIATE",
        44 => "IKE_FOLLOWUP_KE",
        _ => "",
    }
}

/// Fills `r` (its header fields already set) from one message; returns the error to count.
pub fn parse(d: &[u8], r: &mut v1::Ike) -> Result<(), &'static str> {
    let h = d.get(..28).ok_or(CUT)?;
    r.initiator_spi = hex(&h[..8]);
    r.responder_spi = hex(&h[8..16]);
    r.next_payload = u32::from(h[16]);
    r.major_version = u32::from(h[17] >> 4);
    r.minor_version = u32::from(h[17] & 15);
    r.exchange_type = u32::from(h[18]);
    r.exchange_type_name = exchange_name(h[18]).into();
    r.flags = u32::from(h[19]);
    r.message_id = be32(h, 20).unwrap_or(0);
    let len = be32(h, 24).unwrap_or(0) as usize;
    r.length = len as u32;
    if len < 28 {
        return Err("ike: message malformed");
    }
    let v2 = r.major_version >= 2;
    if !v2 && h[19] & 1 != 0 {
        r.encrypted = true;
        return if d.len() < len { Err(CUT) } else { Ok(()) };
    }
    let res = chain(&d[28..len.min(d.len())], h[16], v2, r);
    // Bytes missing inside the Length: the capture cut the message; otherwise a payload
    // claims more than the message has.
    if d.len() < len { Err(CUT) } else { res }
}

/// Walks the payload chain starting with type `next`.
fn chain(mut b: &[u8], mut next: u8, v2: bool, r: &mut v1::Ike) -> Result<(), &'static str> {
    let mut sa_seen = false;
    while next != 0 {
        let ty = next;
        // A next payload announced past the end of the message is not counted as a payload.
        if b.is_empty() {
            return Err(BAD);
        }
        r.payload_types.push(u32::from(ty));
        if ty == 46 || ty == 53 {
            r.encrypted = true;
            return Ok(());
        }
        let ph = b.get(..4).ok_or(BAD)?;
        next = ph[0];
        let n = usize::from(u16::from_be_bytes([ph[2], ph[3]]));
        if n < 4 {
            return Err(BAD);
        }
        let body = b.get(4..n).ok_or(BAD)?;
        match ty {
            1 | 33 if !sa_seen => {
                sa_seen = true;
                sa(body, v2, r)?;
            }
            13 | 43 => r.vendor_ids.push(hex(body)),
            11 => r.notify_types.push(be16(body, 6).ok_or(BAD)?),
            41 => r.notify_types.push(be16(body, 2).ok_or(BAD)?),
            34 => r.dh_group = be16(body, 0).ok_or(BAD)?,
            5 | 35 | 36 => r.identities.push(identity(body)?),
            _ => {}
        }
        b = &b[n..];
    }
    Ok(())
}

/// An identification payload's body as "kind:value".
fn identity(body: &[u8]) -> Result<String, &'static str> {
    let data = body.get(4..).ok_or(BAD)?;
    let ty = body[0];
    let mut s = String::new();
    match (ty, data.len()) {
        (1, 4) | (5, 16) => {
            s.push_str(if ty == 1 { "ipv4:" } else { "ipv6:" });
            let mut ip = String::new();
            netcap_sdk::fmt::set_ip(&mut ip, data);
            s.push_str(&ip);
        }
        (2, _) => s = format!("fqdn:{}", String::from_utf8_lossy(data)),
        (3, _) => s = format!("user_fqdn:{}", String::from_utf8_lossy(data)),
        _ => s = format!("{ty}:{}", hex(data)),
    }
    Ok(s)
}

/// The proposals of an SA payload's body (IKEv1: after the DOI and situation).
fn sa(body: &[u8], v2: bool, r: &mut v1::Ike) -> Result<(), &'static str> {
    let mut b = if v2 { body } else { body.get(8..).ok_or(BAD)? };
    while !b.is_empty() {
        let p = b.get(..8).ok_or(BAD)?;
        let n = usize::from(u16::from_be_bytes([p[2], p[3]]));
        let spi_size = usize::from(p[6]);
        let mut prop = v1::IkeProposal {
            number: u32::from(p[4]),
            protocol_id: u32::from(p[5]),
            spi_size: spi_size as u32,
            ..Default::default()
        };
        let end = b.len().min(n.max(8));
        let spi = b.get(8..8 + spi_size).filter(|_| 8 + spi_size <= end);
        prop.spi = spi.map(hex).unwrap_or_default();
        let res = transforms(b.get(8 + spi_size..end).unwrap_or_default(), v2, &mut prop);
        r.proposals.push(prop);
        res?;
        if n < 8 || n > b.len() {
            return Err(BAD);
        }
        if p[0] == 0 {
            return Ok(());
        }
        b = &b[n..];
    }
    Ok(())
}

/// The transforms of one proposal.
fn transforms(mut b: &[u8], v2: bool, prop: &mut v1::IkeProposal) -> Result<(), &'static str> {
    while !b.is_empty() {
        let t = b.get(..8).ok_or(BAD)?;
        let n = usize::from(u16::from_be_bytes([t[2], t[3]]));
        if n < 8 || n > b.len() {
            return Err(BAD);
        }
        let mut x = v1::IkeTransform::default();
        if v2 {
            x.r#type = u32::from(t[4]);
            x.id = be16(t, 6).unwrap_or(0);
        } else {
            x.id = u32::from(t[5]);
        }
        attributes(&b[8..n], v2, prop.protocol_id, &mut x);
        prop.transforms.push(x);
        if t[0] == 0 {
            break;
        }
        b = &b[n..];
    }
    Ok(())
}

/// The data attributes of a transform (type/value and type/length/value forms).
fn attributes(mut a: &[u8], v2: bool, protocol: u32, x: &mut v1::IkeTransform) {
    while a.len() >= 4 {
        let ty = u16::from_be_bytes([a[0], a[1]]);
        let (value, used) = if ty & 0x8000 != 0 {
            (Some(u32::from(u16::from_be_bytes([a[2], a[3]]))), 4)
        } else {
            let n = usize::from(u16::from_be_bytes([a[2], a[3]]));
            let v = a.get(4..4 + n);
            let small = v.filter(|v| v.len() <= 4).map(|v| v.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b)));
            (small, 4 + n)
        };
        if let Some(v) = value {
            match (v2, protocol == 1, ty & 0x7fff) {
                (true, _, 14) | (false, true, 14) | (false, false, 6) => x.key_length = v,
                (false, true, 1) => x.encryption = v,
                (false, true, 2) => x.hash = v,
                (false, true, 3) => x.auth_method = v,
                (false, true, 4) | (false, false, 3) => x.dh_group = v,
                _ => {}
            }
        }
        a = a.get(used..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IKEv2 IKE_SA_INIT request: SA (one IKE proposal: ENCR_AES_CBC 128, PRF_HMAC_SHA1,
    /// AUTH_HMAC_SHA1_96, group 14), KE (group 14, 4 bytes of data), Nonce, Notify
    /// NAT_DETECTION_SOURCE_IP (16388).
    fn sa_init() -> Vec<u8> {
        let mut m = vec![1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 33, 0x20, 34, 8, 0, 0, 0, 0, 0, 0, 0, 0];
        let tr = [
            vec![3, 0, 0, 12, 1, 0, 0, 12, 0x80, 14, 0, 128],
            vec![3, 0, 0, 8, 2, 0, 0, 2],
            vec![3, 0, 0, 8, 3, 0, 0, 2],
            vec![0, 0, 0, 8, 4, 0, 0, 14],
        ]
        .concat();
        let mut prop = vec![0, 0, 0, 0, 1, 1, 0, 4];
        prop.extend_from_slice(&tr);
        let n = prop.len() as u16;
        prop[2..4].copy_from_slice(&n.to_be_bytes());
        let mut sa = vec![34, 0, 0, 0];
        sa.extend_from_slice(&prop);
        let n = sa.len() as u16;
        sa[2..4].copy_from_slice(&n.to_be_bytes());
        m.extend_from_slice(&sa);
        m.extend_from_slice(&[40, 0, 0, 12, 0, 14, 0, 0, 9, 9, 9, 9]);
        m.extend_from_slice(&[41, 0, 0, 8, 1, 2, 3, 4]);
        m.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0x40, 4]);
        let n = m.len() as u32;
        m[24..28].copy_from_slice(&n.to_be_bytes());
        m
    }

    #[test]
    fn ikev2_sa_init() {
        let m = sa_init();
        let mut r = v1::Ike::default();
        parse(&m, &mut r).unwrap();
        assert_eq!((r.initiator_spi.as_str(), r.exchange_type_name.as_str()), ("0102030405060708", "IKE_SA_INIT"));
        assert_eq!((r.major_version, r.flags, r.dh_group), (2, 8, 14));
        assert_eq!(r.payload_types, [33, 34, 40, 41]);
        assert_eq!(r.notify_types, [16388]);
        let p = &r.proposals[0];
        assert_eq!((p.protocol_id, p.transforms.len()), (1, 4));
        let t: Vec<_> = p.transforms.iter().map(|t| (t.r#type, t.id, t.key_length)).collect();
        assert_eq!(t, [(1, 12, 128), (2, 2, 0), (3, 2, 0), (4, 14, 0)]);
    }

    #[test]
    fn nat_t_marker() {
        let m = sa_init();
        assert_eq!(message(&m, 500, 500), Some((&m[..], false)));
        let mut d = vec![0, 0, 0, 0];
        d.extend_from_slice(&m);
        assert_eq!(message(&d, 4500, 4500), Some((&m[..], true)));
        assert_eq!(message(&[0xff], 4500, 4500), None);
        assert_eq!(message(&[1, 2, 3, 4, 0, 0, 0, 1], 4500, 4500), None);
    }

    #[test]
    fn cuts_garbling_and_huge_lengths() {
        let m = sa_init();
        for n in 0..m.len() {
            let mut r = v1::Ike::default();
            assert!(parse(&m[..n], &mut r).is_err(), "{n}");
            if n >= 28 {
                assert_eq!(r.exchange_type, 34);
            }
        }
        for i in 0..m.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut g = m.clone();
                g[i] ^= x;
                let _ = parse(&g, &mut v1::Ike::default());
            }
        }
        let mut g = m.clone();
        g[24..28].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut r = v1::Ike::default();
        assert_eq!(parse(&g, &mut r), Err(CUT));
        assert_eq!(r.payload_types, [33, 34, 40, 41]);
        // The last payload announces one more that the message does not have.
        let mut g = m.clone();
        let last = g.len() - 8;
        g[last] = 43;
        let mut r = v1::Ike::default();
        assert_eq!(parse(&g, &mut r), Err(BAD));
        assert_eq!(r.payload_types, [33, 34, 40, 41]);
    }
}
