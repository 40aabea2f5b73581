//! TFTP (RFC 1350, RFC 2347 options) on UDP port 69: one `TFTP` record per message. Only
//! messages to or from port 69 are read: the transfer runs between two ephemeral ports, a
//! UDP flow that may be handled by another worker than the request's, so following it would
//! make the output depend on the worker count.

use netcap_proto::v1;

/// Whether the datagram is on the TFTP port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    sp == 69 || dp == 69
}

const NAMES: [&str; 7] = ["", "RRQ", "WRQ", "DATA", "ACK", "ERROR", "OACK"];

/// The NUL-terminated strings of `b`; the last may lack its NUL (a cut message).
fn strings(b: &[u8]) -> impl Iterator<Item = (String, bool)> + '_ {
    let mut rest = b;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (s, terminated, next) = match rest.iter().position(|&c| c == 0) {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, &[][..]),
        };
        rest = next;
        Some((String::from_utf8_lossy(s).into_owned(), terminated))
    })
}

/// Fills `r` (its header fields already set) from one message; returns the error to count.
pub fn parse(b: &[u8], r: &mut v1::Tftp) -> Result<(), &'static str> {
    const CUT: &str = "tftp: message truncated";
    let op = b.get(..2).map(|o| u16::from_be_bytes([o[0], o[1]])).ok_or(CUT)?;
    r.opcode = u32::from(op);
    r.opcode_name = NAMES.get(usize::from(op)).copied().unwrap_or_default().into();
    let body = &b[2..];
    let mut all_terminated = true;
    match op {
        1 | 2 | 6 => {
            let mut it = strings(body);
            if op != 6 {
                let (file, t1) = it.next().ok_or(CUT)?;
                let (mode, t2) = it.next().ok_or(CUT)?;
                (r.file, r.mode) = (file, mode);
                all_terminated = t1 && t2;
            }
            while let Some((name, t)) = it.next() {
                let (value, tv) = it.next().ok_or(CUT)?;
                r.option_names.push(name);
                r.option_values.push(value);
                all_terminated &= t && tv;
            }
        }
        3 | 4 => {
            r.block = body.get(..2).map(|o| u32::from(u16::from_be_bytes([o[0], o[1]]))).ok_or(CUT)?;
            r.data_len = (body.len() - 2) as u32;
        }
        5 => {
            r.error_code = body.get(..2).map(|o| u32::from(u16::from_be_bytes([o[0], o[1]]))).ok_or(CUT)?;
            let (msg, t) = strings(&body[2..]).next().unwrap_or_default();
            r.error_message = msg;
            all_terminated = t;
        }
        _ => return Err("tftp: unknown opcode"),
    }
    if all_terminated { Ok(()) } else { Err(CUT) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_request_with_options_and_error() {
        let mut r = v1::Tftp::default();
        parse(b"\0\x01rfc1350.txt\0octet\0blksize\x001428\0", &mut r).unwrap();
        assert_eq!((r.opcode_name.as_str(), r.file.as_str(), r.mode.as_str()), ("RRQ", "rfc1350.txt", "octet"));
        assert_eq!((r.option_names.clone(), r.option_values.clone()), (vec!["blksize".into()], vec!["1428".into()]));
        let mut r = v1::Tftp::default();
        parse(b"\0\x05\0\x01File not found\0", &mut r).unwrap();
        assert_eq!((r.error_code, r.error_message.as_str()), (1, "File not found"));
    }

    #[test]
    fn cuts() {
        let m = b"\0\x02file1\0octet\0tsize\x000\0";
        for n in 0..m.len() {
            let mut r = v1::Tftp::default();
            // Cut right after the mode's NUL it is a whole request without options.
            let want = if n == 14 { Ok(()) } else { Err("tftp: message truncated") };
            assert_eq!(parse(&m[..n], &mut r), want, "{n}");
        }
        let mut r = v1::Tftp::default();
        assert_eq!(parse(b"\0\x09", &mut r), Err("tftp: unknown opcode"));
    }
}
