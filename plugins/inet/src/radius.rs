//! RADIUS (RFC 2865, 2866, 5176) on UDP 1812, 1813, 1645, 1646, 1700 and 3799: one `RADIUS`
//! record per packet with the header, the attribute types and the values of the common
//! identity attributes. The attributes are read within the Length field; a packet cut short
//! gives the attributes before the cut and a counted error.

use netcap_proto::v1;
use netcap_sdk::fmt;

const PORTS: [u16; 6] = [1812, 1813, 1645, 1646, 1700, 3799];

/// Whether the datagram is on a RADIUS port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    PORTS.contains(&sp) || PORTS.contains(&dp)
}

/// The name of a code (RFC 2865 3, RFC 2866 3, RFC 5176 2.3, RFC 3575).
pub fn code_name(code: u8) -> &'static str {
    match code {
        1 => "Access-Request",
        2 => "Access-Accept",
        3 => "Access-Reject",
        4 => "Accounting-Request",
        5 => "Accounting-Response",
        11 => "Access-Challenge",
        12 => "Status-Server",
        13 => "Status-Client",
        40 => "Disconnect-Request",
        41 => "Disconnect-ACK",
        42 => "Disconnect-NAK",
        43 => "CoA-Request",
        44 => "CoA-ACK",
        45 => "CoA-NAK",
        _ => "",
    }
}

/// Fills `r` (its header fields already set) from one packet; returns the error to count.
pub fn parse(b: &[u8], r: &mut v1::Radius) -> Result<(), &'static str> {
    const CUT: &str = "radius: packet truncated";
    let h = b.get(..20).ok_or(CUT)?;
    r.code = u32::from(h[0]);
    r.code_name = code_name(h[0]).into();
    r.identifier = u32::from(h[1]);
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    r.length = len as u32;
    r.authenticator = h[4..20].iter().map(|x| format!("{x:02x}")).collect();
    if len < 20 {
        return Err("radius: packet malformed");
    }
    let mut a = &b[20..len.min(b.len())];
    while !a.is_empty() {
        if a.len() < 2 {
            return Err(CUT);
        }
        let (ty, n) = (a[0], usize::from(a[1]));
        if n < 2 {
            return Err("radius: attribute malformed");
        }
        r.attributes.push(u32::from(ty));
        let Some(v) = a.get(2..n) else { return Err(CUT) };
        attribute(ty, v, r);
        a = &a[n..];
    }
    if len > b.len() { Err(CUT) } else { Ok(()) }
}

fn attribute(ty: u8, v: &[u8], r: &mut v1::Radius) {
    let text = |s: &mut String| {
        if s.is_empty() {
            *s = String::from_utf8_lossy(v).into_owned();
        }
    };
    let ip = |s: &mut String| {
        if s.is_empty() && v.len() == 4 {
            fmt::set_ip(s, v);
        }
    };
    match ty {
        1 => text(&mut r.user_name),
        4 => ip(&mut r.nas_ip),
        5 if v.len() == 4 && r.nas_port == 0 => r.nas_port = u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        8 => ip(&mut r.framed_ip),
        18 => text(&mut r.reply_message),
        30 => text(&mut r.called_station_id),
        31 => text(&mut r.calling_station_id),
        32 => text(&mut r.nas_identifier),
        26 if v.len() >= 4 => r.vendor_ids.push(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Access-Request, id 5: User-Name `bob`, NAS-IP-Address 10.0.0.1, NAS-Port 7.
    fn request() -> Vec<u8> {
        let mut p = vec![1, 5, 0, 0];
        p.extend_from_slice(&[0xab; 16]);
        p.extend_from_slice(&[1, 5, b'b', b'o', b'b', 4, 6, 10, 0, 0, 1, 5, 6, 0, 0, 0, 7]);
        let n = p.len() as u16;
        p[2..4].copy_from_slice(&n.to_be_bytes());
        p
    }

    #[test]
    fn access_request() {
        let mut r = v1::Radius::default();
        parse(&request(), &mut r).unwrap();
        assert_eq!((r.code, r.code_name.as_str(), r.identifier, r.length), (1, "Access-Request", 5, 37));
        assert_eq!((r.user_name.as_str(), r.nas_ip.as_str(), r.nas_port), ("bob", "10.0.0.1", 7));
        assert_eq!(r.attributes, [1, 4, 5]);
    }

    #[test]
    fn cuts_and_garbling() {
        let p = request();
        for n in 0..p.len() {
            let mut r = v1::Radius::default();
            assert!(parse(&p[..n], &mut r).is_err(), "{n}");
            if n >= 25 {
                assert_eq!(r.user_name, "bob");
            }
        }
        for i in 0..p.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut g = p.clone();
                g[i] ^= x;
                let _ = parse(&g, &mut v1::Radius::default());
            }
        }
    }
}
