//! Syslog on UDP 514: one `Syslog` record per datagram. The PRI gives facility and severity;
//! a version after it means RFC 5424 (header fields, structured data, message), a BSD time
//! stamp means RFC 3164 (host name, tag, process id, content); anything else after the PRI is
//! the message. A datagram without a PRI gives a record with the message (priority, facility and
//! severity -1) and a counted error.

use netcap_proto::v1;

/// Whether the datagram is on the syslog port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    sp == 514 || dp == 514
}

const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The next space-separated token of `b` and the rest after the space.
fn token(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b' ') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

fn nil(b: &[u8]) -> String {
    if b == b"-" { String::new() } else { text(b) }
}

/// Fills `r` (its header fields already set) from one message; returns the error to count.
pub fn parse(b: &[u8], r: &mut v1::Syslog) -> Result<(), &'static str> {
    // A trailing newline or NUL is framing, not message.
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    let b = b.strip_suffix(b"\0").unwrap_or(b);
    (r.priority, r.facility, r.severity) = (-1, -1, -1);
    let digits = b.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
    if b.first() != Some(&b'<') || !(1..=3).contains(&digits) || b.get(1 + digits) != Some(&b'>') {
        r.message = text(b);
        return Err("syslog: priority missing");
    }
    let pri: i32 = b[1..1 + digits].iter().fold(0, |v, &c| v * 10 + i32::from(c - b'0'));
    if pri > 191 {
        r.message = text(b);
        return Err("syslog: priority out of range");
    }
    (r.priority, r.facility, r.severity) = (pri, pri / 8, pri % 8);
    let rest = &b[2 + digits..];
    let vlen = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if (1..=2).contains(&vlen) && rest.get(vlen) == Some(&b' ') && rest[0] != b'0' {
        rfc5424(rest, vlen, r);
    } else if bsd_time(rest) {
        rfc3164(rest, r);
    } else {
        r.message = text(rest);
    }
    Ok(())
}

fn rfc5424(b: &[u8], vlen: usize, r: &mut v1::Syslog) {
    r.format = "rfc5424".into();
    r.version = b[..vlen].iter().fold(0, |v, &c| v * 10 + u32::from(c - b'0'));
    let mut rest = &b[vlen + 1..];
    for f in [&mut r.time, &mut r.hostname, &mut r.app_name, &mut r.proc_id, &mut r.msg_id] {
        let (t, next) = token(rest);
        *f = nil(t);
        rest = next;
    }
    // STRUCTURED-DATA: "-" or one or more [elements] (a `]` inside a value is escaped).
    let sd_len = if rest.starts_with(b"-") {
        1
    } else {
        let mut i = 0;
        let mut esc = false;
        while i < rest.len() && rest[i] == b'[' {
            i += 1;
            while i < rest.len() && (esc || rest[i] != b']') {
                esc = !esc && rest[i] == b'\\';
                i += 1;
            }
            i = (i + 1).min(rest.len());
        }
        i
    };
    if rest.first() == Some(&b'[') {
        r.structured_data = text(&rest[..sd_len]);
    }
    let msg = rest.get(sd_len..).unwrap_or_default();
    let msg = msg.strip_prefix(b" ").unwrap_or(msg);
    r.message = text(msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg));
}

/// Whether `b` starts with an RFC 3164 time stamp and a space: `Mmm dd hh:mm:ss `.
fn bsd_time(b: &[u8]) -> bool {
    let Some(t) = b.get(..16) else { return false };
    let digit = |i: usize| t[i].is_ascii_digit();
    MONTHS.iter().any(|m| t[..3] == m[..])
        && t[3] == b' '
        && (t[4] == b' ' || digit(4))
        && digit(5)
        && t[6] == b' '
        && digit(7)
        && digit(8)
        && t[9] == b':'
        && digit(10)
        && digit(11)
        && t[12] == b':'
        && digit(13)
        && digit(14)
        && t[15] == b' '
}

fn rfc3164(b: &[u8], r: &mut v1::Syslog) {
    r.format = "rfc3164".into();
    r.time = text(&b[..15]);
    let (host, rest) = token(&b[16..]);
    r.hostname = text(host);
    // TAG: up to `[`, `:` or a space; `[pid]` after it; then `:` and a space.
    let tag_len = rest.iter().position(|&c| c == b'[' || c == b':' || c == b' ').unwrap_or(rest.len());
    r.app_name = text(&rest[..tag_len]);
    let mut content = &rest[tag_len..];
    if content.first() == Some(&b'[')
        && let Some(end) = content.iter().position(|&c| c == b']')
    {
        r.proc_id = text(&content[1..end]);
        content = &content[end + 1..];
    }
    let content = content.strip_prefix(b":").unwrap_or(content);
    r.message = text(content.strip_prefix(b" ").unwrap_or(content));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(b: &[u8]) -> (v1::Syslog, Result<(), &'static str>) {
        let mut r = v1::Syslog::default();
        let res = parse(b, &mut r);
        (r, res)
    }

    #[test]
    fn rfc5424_example() {
        // RFC 5424 6.5, example 3 (with structured data).
        let m = br#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry..."#;
        let (r, res) = parsed(m);
        res.unwrap();
        assert_eq!((r.facility, r.severity, r.version, r.format.as_str()), (20, 5, 1, "rfc5424"));
        assert_eq!((r.time.as_str(), r.hostname.as_str()), ("2003-10-11T22:14:15.003Z", "mymachine.example.com"));
        assert_eq!((r.app_name.as_str(), r.proc_id.as_str(), r.msg_id.as_str()), ("evntslog", "", "ID47"));
        assert!(r.structured_data.starts_with("[exampleSDID@32473") && r.structured_data.ends_with("\"1011\"]"));
        assert_eq!(r.message, "An application event log entry...");
    }

    #[test]
    fn rfc3164_example() {
        // RFC 3164 5.4, example 1.
        let (r, res) = parsed(b"<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8");
        res.unwrap();
        assert_eq!((r.facility, r.severity, r.format.as_str(), r.time.as_str()), (4, 2, "rfc3164", "Oct 11 22:14:15"));
        assert_eq!((r.hostname.as_str(), r.app_name.as_str(), r.proc_id.as_str()), ("mymachine", "su", "230"));
        assert_eq!(r.message, "'su root' failed for lonvick on /dev/pts/8");
    }

    #[test]
    fn no_priority_and_cuts() {
        let (r, res) = parsed(b"hello");
        assert_eq!((res, r.message.as_str()), (Err("syslog: priority missing"), "hello"));
        let m = b"<165>1 2003-10-11T22:14:15.003Z host app 1 ID [a x=\"\\]\"] msg";
        for n in 0..m.len() {
            let _ = parsed(&m[..n]);
        }
        let (r, _) = parsed(m);
        assert_eq!((r.structured_data.as_str(), r.message.as_str()), ("[a x=\"\\]\"]", "msg"));
    }
}
