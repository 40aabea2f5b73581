//! SSDP (UPnP discovery: HTTP messages over UDP 1900): one `SSDP` record per datagram with the
//! request line or status and the discovery headers. A datagram that is not an HTTP message
//! gives a record with what was read and a counted error.

use netcap_proto::v1;

/// Whether the datagram is on the SSDP port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    sp == 1900 || dp == 1900
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Fills `r` (its header fields already set) from one message; returns the error to count.
pub fn parse(b: &[u8], r: &mut v1::Ssdp) -> Result<(), &'static str> {
    let mut lines = b.split(|&c| c == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let mut parts = first.splitn(3, |&c| c == b' ');
    let (a, m, c) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next());
    if a.starts_with(b"HTTP/") {
        r.status = std::str::from_utf8(m).ok().and_then(|s| s.parse().ok()).ok_or("ssdp: bad status line")?;
    } else if c.is_some_and(|v| v.starts_with(b"HTTP/")) && !a.is_empty() {
        r.method = text(a);
        r.uri = text(m);
    } else {
        return Err("ssdp: not an HTTP message");
    }
    let mut ended = false;
    for line in lines {
        if line.is_empty() {
            ended = true;
            break;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else { return Err("ssdp: bad header line") };
        let (name, value) = (trim(&line[..colon]), text(trim(&line[colon + 1..])));
        let field = match name.to_ascii_lowercase().as_slice() {
            b"host" => &mut r.host,
            b"man" => &mut r.man,
            b"mx" => &mut r.mx,
            b"st" => &mut r.st,
            b"nt" => &mut r.nt,
            b"nts" => &mut r.nts,
            b"usn" => &mut r.usn,
            b"location" => &mut r.location,
            b"server" => &mut r.server,
            b"user-agent" => &mut r.user_agent,
            b"cache-control" => &mut r.cache_control,
            _ => continue,
        };
        if field.is_empty() {
            *field = value;
        }
    }
    if ended { Ok(()) } else { Err("ssdp: message truncated") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_and_response() {
        let mut r = v1::Ssdp::default();
        let m = b"M-SEARCH * HTTP/1.1\r\nHost:239.255.255.250:1900\r\nST:urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nMan:\"ssdp:discover\"\r\nMX:3\r\n\r\n";
        parse(m, &mut r).unwrap();
        assert_eq!((r.method.as_str(), r.uri.as_str(), r.host.as_str()), ("M-SEARCH", "*", "239.255.255.250:1900"));
        assert_eq!(
            (r.st.as_str(), r.man.as_str(), r.mx.as_str()),
            ("urn:schemas-upnp-org:device:InternetGatewayDevice:1", "\"ssdp:discover\"", "3")
        );
        let mut r = v1::Ssdp::default();
        let m = b"HTTP/1.1 200 OK\r\nLOCATION: http://192.168.1.1:80/desc.xml\r\nUSN: uuid:x::upnp:rootdevice\r\nSERVER: Linux UPnP/1.0\r\n\r\n";
        parse(m, &mut r).unwrap();
        assert_eq!(
            (r.status, r.location.as_str(), r.server.as_str()),
            (200, "http://192.168.1.1:80/desc.xml", "Linux UPnP/1.0")
        );
        for n in 0..m.len() {
            let _ = parse(&m[..n], &mut v1::Ssdp::default());
        }
        assert_eq!(parse(b"\x01\x02garbage", &mut v1::Ssdp::default()), Err("ssdp: not an HTTP message"));
    }
}
