//! STUN (RFC 5389/8489) and TURN (RFC 8656) messages over UDP, on any port: a datagram is STUN
//! when its first two bits are 0, the magic cookie follows the length, and the length (a
//! multiple of 4) fits the datagram. One `STUN` record per message, with the attribute types
//! and the values of the address, SOFTWARE, USERNAME, REALM and ERROR-CODE attributes.

use netcap_proto::v1;
use std::fmt::Write;

const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// Whether `d` is a STUN message.
pub fn looks_like(d: &[u8]) -> bool {
    d.len() >= 20 && d[0] & 0xc0 == 0 && d[4..8] == COOKIE && {
        let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
        len % 4 == 0 && 20 + len <= d.len()
    }
}

fn method_name(m: u32) -> &'static str {
    match m {
        1 => "Binding",
        2 => "SharedSecret",
        3 => "Allocate",
        4 => "Refresh",
        6 => "Send",
        7 => "Data",
        8 => "CreatePermission",
        9 => "ChannelBind",
        10 => "Connect",
        11 => "ConnectionBind",
        12 => "ConnectionAttempt",
        _ => "",
    }
}

const CLASS_NAMES: [&str; 4] = ["request", "indication", "success response", "error response"];

/// Whether an attribute type is an address (and whether XOR-encoded).
fn address_kind(ty: u16) -> Option<bool> {
    match ty {
        0x0001 | 0x0002 | 0x0004 | 0x0005 | 0x000b | 0x8023 | 0x802b | 0x802c => Some(false),
        0x0012 | 0x0016 | 0x0020 | 0x8020 => Some(true),
        _ => None,
    }
}

/// Decodes an address attribute value (XOR with the cookie and transaction id when `xor`).
fn address(v: &[u8], xor: bool, header: &[u8]) -> Option<String> {
    let family = *v.get(1)?;
    let mut port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    let mask: &[u8] = &header[4..20];
    if xor {
        port ^= 0x2112;
    }
    let mut s = String::new();
    match family {
        1 => {
            let a = v.get(4..8)?;
            let b: Vec<u8> = a.iter().enumerate().map(|(i, &x)| if xor { x ^ mask[i] } else { x }).collect();
            let _ = write!(s, "{}.{}.{}.{}:{port}", b[0], b[1], b[2], b[3]);
        }
        2 => {
            let a = v.get(4..20)?;
            let b: Vec<u8> = a.iter().enumerate().map(|(i, &x)| if xor { x ^ mask[i] } else { x }).collect();
            let mut ip = String::new();
            netcap_sdk::fmt::set_ip(&mut ip, &b);
            let _ = write!(s, "[{ip}]:{port}");
        }
        _ => return None,
    }
    Some(s)
}

/// Fills `r` (its header fields already set) from one message (`d` passed [`looks_like`]);
/// returns the error to count.
pub fn parse(d: &[u8], r: &mut v1::Stun) -> Result<(), &'static str> {
    let h = d.get(..20).ok_or("stun: message truncated")?;
    let ty = u16::from_be_bytes([h[0], h[1]]);
    let ty32 = u32::from(ty);
    r.message_type = ty32;
    r.method = (ty32 & 0x000f) | ((ty32 & 0x00e0) >> 1) | ((ty32 & 0x3e00) >> 2);
    r.method_name = method_name(r.method).into();
    r.class = ((ty32 >> 4) & 1) | ((ty32 >> 7) & 2);
    r.class_name = CLASS_NAMES[r.class as usize].into();
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    r.length = len as u32;
    r.transaction_id = h[8..20].iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    });
    let mut a = &d[20..(20 + len).min(d.len())];
    while !a.is_empty() {
        if a.len() < 4 {
            return Err("stun: attribute truncated");
        }
        let at = u16::from_be_bytes([a[0], a[1]]);
        let n = usize::from(u16::from_be_bytes([a[2], a[3]]));
        r.attributes.push(u32::from(at));
        let Some(v) = a.get(4..4 + n) else { return Err("stun: attribute truncated") };
        attribute(at, v, h, r);
        // Values are padded to a multiple of 4.
        a = a.get(4 + n.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok(())
}

fn attribute(at: u16, v: &[u8], h: &[u8], r: &mut v1::Stun) {
    let text = |s: &mut String| {
        if s.is_empty() {
            *s = String::from_utf8_lossy(v).into_owned();
        }
    };
    if let Some(xor) = address_kind(at) {
        if let Some(a) = address(v, xor, h) {
            if at == 0x0001 && r.mapped_address.is_empty() {
                r.mapped_address.clone_from(&a);
            }
            if (at == 0x0020 || at == 0x8020) && r.xor_mapped_address.is_empty() {
                r.xor_mapped_address.clone_from(&a);
            }
            r.addresses.push(a);
        }
        return;
    }
    match at {
        0x0006 => text(&mut r.username),
        0x0014 => text(&mut r.realm),
        0x8022 => text(&mut r.software),
        0x0009 if v.len() >= 4 && r.error_code == 0 => {
            r.error_code = u32::from(v[2] & 7) * 100 + u32::from(v[3]);
            r.error_reason = String::from_utf8_lossy(&v[4..]).into_owned();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Laid out as RFC 5769 2.2's sample IPv4 response: SOFTWARE "test vector" (11 bytes and
    /// one byte of padding), XOR-MAPPED-ADDRESS 192.0.2.1:32853 (port 0xa147 ^ 0x2112, address
    /// e112a643 ^ 2112a442), then MESSAGE-INTEGRITY and FINGERPRINT, whose values (not
    /// checked here) are zero.
    fn response() -> String {
        let mut s = String::from("0101003c2112a442b7e7a701bc34d686fa87dfae");
        s += "8022000b7465737420766563746f7220";
        s += "002000080001a147e112a643";
        s += "00080014";
        s += &"00".repeat(20);
        s += "8028000400000000";
        s
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc5769_response() {
        let d = unhex(&response());
        assert!(looks_like(&d));
        let mut r = v1::Stun::default();
        parse(&d, &mut r).unwrap();
        assert_eq!((r.method_name.as_str(), r.class_name.as_str()), ("Binding", "success response"));
        assert_eq!((r.software.as_str(), r.xor_mapped_address.as_str()), ("test vector", "192.0.2.1:32853"));
        assert_eq!(r.attributes, [0x8022, 0x0020, 0x0008, 0x8028]);
        assert_eq!(r.transaction_id, "b7e7a701bc34d686fa87dfae");
    }

    #[test]
    fn cuts_and_garbling() {
        let d = unhex(&response());
        for n in 0..d.len() {
            assert!(!looks_like(&d[..n]) || n == d.len(), "{n}");
            let _ = parse(&d[..n], &mut v1::Stun::default());
        }
        for i in 0..d.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut g = d.clone();
                g[i] ^= x;
                if looks_like(&g) {
                    let _ = parse(&g, &mut v1::Stun::default());
                }
            }
        }
    }
}
