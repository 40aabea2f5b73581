//! SIP (RFC 3261) start line and headers. A UDP datagram holds one message; a TCP segment may
//! hold several, delimited by their Content-Length (without it, a TCP message has no body). Data
//! that does not start with a SIP start line (e.g. the rest of a message from an earlier TCP
//! segment) is not SIP and yields nothing.

use crate::decode::{Ctx, T_SIP, set_ctx};
use crate::text::{push_lossy, set_lossy, slot};
use netcap_proto::v1;
use netcap_sdk::{Emitter, layer};

/// Reused state: the record and the number of header strings in use.
#[derive(Default)]
pub struct Sip {
    pub rec: v1::Sip,
}

/// One line of `d` from `at`: (line without CR/LF, index after the line terminator). `None` at
/// the end of the data.
fn line(d: &[u8], at: usize) -> Option<(&[u8], usize, bool)> {
    let rest = d.get(at..).filter(|r| !r.is_empty())?;
    match rest.iter().position(|&b| b == b'\n') {
        Some(n) => {
            let l = &rest[..n];
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            Some((l, at + n + 1, true))
        }
        None => Some((rest, d.len(), false)),
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let e = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

/// Whether `l` is a SIP start line: `SIP/x.y CODE ...` or `METHOD URI SIP/x.y`.
fn is_start_line(l: &[u8]) -> bool {
    if l.starts_with(b"SIP/") {
        return true;
    }
    let mut parts = l.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (Some(m), Some(_), Some(v), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !m.is_empty() && m.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_') && v.starts_with(b"SIP/")
}

/// Which common field a header name (long or compact form) fills.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Common {
    From,
    To,
    CallId,
    CSeq,
    UserAgent,
    ContentType,
    ContentLength,
    Other,
}

fn common(name: &[u8]) -> Common {
    let eq = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    if eq("from") || eq("f") {
        Common::From
    } else if eq("to") || eq("t") {
        Common::To
    } else if eq("call-id") || eq("i") {
        Common::CallId
    } else if eq("cseq") {
        Common::CSeq
    } else if eq("user-agent") {
        Common::UserAgent
    } else if eq("content-type") || eq("c") {
        Common::ContentType
    } else if eq("content-length") || eq("l") {
        Common::ContentLength
    } else {
        Common::Other
    }
}

impl Sip {
    /// Decodes every SIP message that starts in `d`.
    pub fn decode(&mut self, c: &Ctx, d: &[u8], out: &mut Emitter<'_>) {
        let mut at = 0;
        // At most one message per byte: the loop always advances.
        while at < d.len() {
            // Keep-alive CRLFs between messages (RFC 5626).
            while at < d.len() && (d[at] == b'\r' || d[at] == b'\n') {
                at += 1;
            }
            if at >= d.len() {
                break;
            }
            match self.message(c, d, at, out) {
                Some(next) if next > at && c.transport == layer::TCP => at = next,
                _ => break,
            }
        }
    }

    /// One message from `at`; returns where the next one would start.
    fn message(&mut self, c: &Ctx, d: &[u8], at: usize, out: &mut Emitter<'_>) -> Option<usize> {
        let (start, mut at, _) = line(d, at)?;
        if !is_start_line(start) {
            return None;
        }
        let r = &mut self.rec;
        set_ctx!(r, c);
        for s in [&mut r.version, &mut r.method, &mut r.response_status, &mut r.request_uri] {
            s.clear();
        }
        for s in [&mut r.from, &mut r.to, &mut r.call_id, &mut r.cseq, &mut r.user_agent, &mut r.content_type] {
            s.clear();
        }
        r.content_length = -1;
        r.response_code = 0;
        if start.starts_with(b"SIP/") {
            r.is_response = true;
            let mut it = start.splitn(3, |&b| b == b' ');
            set_lossy(&mut r.version, it.next().unwrap_or_default());
            let code = it.next().unwrap_or_default();
            r.response_code = std::str::from_utf8(code).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            set_lossy(&mut r.response_status, trim(it.next().unwrap_or_default()));
        } else {
            r.is_response = false;
            let mut it = start.split(|&b| b == b' ').filter(|p| !p.is_empty());
            set_lossy(&mut r.method, it.next().unwrap_or_default());
            set_lossy(&mut r.request_uri, it.next().unwrap_or_default());
            set_lossy(&mut r.version, it.next().unwrap_or_default());
        }
        // Headers up to the empty line; folded lines continue the previous header.
        let mut n = 0usize;
        let mut last = Common::Other;
        let mut ended = false;
        while let Some((l, next, terminated)) = line(d, at) {
            at = next;
            if l.is_empty() && terminated {
                ended = true;
                break;
            }
            if matches!(l.first(), Some(b' ' | b'\t')) && n > 0 {
                let v = trim(l);
                let h = &mut r.headers[n - 1];
                h.push(' ');
                push_lossy(h, v);
                if let Some(f) = field(r, last) {
                    f.push(' ');
                    push_lossy(f, v);
                }
                continue;
            }
            // A line without a colon (malformed, or cut short) is kept as it is.
            let colon = l.iter().position(|&b| b == b':');
            let (name, value) = match colon {
                Some(k) => (trim(&l[..k]), trim(&l[k + 1..])),
                None => (trim(l), &b""[..]),
            };
            let h = slot(&mut r.headers, n);
            n += 1;
            push_lossy(h, name);
            if colon.is_some() {
                h.push_str(": ");
                push_lossy(h, value);
            }
            last = if colon.is_some() { common(name) } else { Common::Other };
            if last == Common::ContentLength {
                if r.content_length < 0 {
                    r.content_length =
                        std::str::from_utf8(value).ok().and_then(|s| s.parse::<u32>().ok()).map_or(-1, i64::from);
                }
            } else if let Some(f) = field(r, last)
                && f.is_empty()
            {
                push_lossy(f, value);
            }
        }
        r.headers.truncate(n);
        // Responses: the method of the CSeq header.
        if r.is_response {
            let cseq = std::mem::take(&mut r.cseq);
            if let Some(m) = cseq.split_ascii_whitespace().nth(1) {
                r.method.push_str(m);
            }
            r.cseq = cseq;
        }
        out.record(T_SIP, &self.rec);
        if !ended {
            out.error(if c.cut {
                "sip: truncated"
            } else if c.transport == layer::TCP {
                // Without reassembly: the headers continue in a later segment.
                "sip: message continues in a later segment"
            } else {
                "sip: headers end missing"
            });
            return None;
        }
        let body = usize::try_from(self.rec.content_length).unwrap_or(0);
        if c.transport != layer::TCP {
            if self.rec.content_length >= 0 && at + body > d.len() {
                out.error("sip: body truncated");
            }
            return None;
        }
        if at + body > d.len() {
            // The body continues in a later segment (or was not captured).
            out.error("sip: body truncated");
            return None;
        }
        Some(at + body)
    }
}

/// The record field a common header fills.
fn field(r: &mut v1::Sip, which: Common) -> Option<&mut String> {
    match which {
        Common::From => Some(&mut r.from),
        Common::To => Some(&mut r.to),
        Common::CallId => Some(&mut r.call_id),
        Common::CSeq => Some(&mut r.cseq),
        Common::UserAgent => Some(&mut r.user_agent),
        Common::ContentType => Some(&mut r.content_type),
        Common::ContentLength | Common::Other => None,
    }
}
