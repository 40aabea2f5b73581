//! NTLMSSP over HTTP (RFC 7235 authentication with the `NTLM` and `Negotiate` schemes of
//! MS-NTHT): the base64 token of an `Authorization`, `Proxy-Authorization`, `WWW-Authenticate`
//! or `Proxy-Authenticate` header becomes an NTLM record when it holds an NTLMSSP message (bare
//! for `NTLM`, inside SPNEGO for `Negotiate`); the connection's CHALLENGE gives the
//! AUTHENTICATE its cracker form, as over SMB.
//!
//! The `stream` decoder writes the HTTP records; this module only follows a connection's
//! message heads, skipping bodies by their `Content-Length` or chunked coding, for as long as
//! authentication is under way. A connection whose first exchange mentions neither scheme is
//! left at its first response (most HTTP connections); one whose framing cannot be followed (a
//! head over [`MAX_HEAD`] bytes, a body delimited by the connection's end, a bad chunk size) is
//! read no further in that direction.

use crate::{Ctx, Parser, ntlm};
use base64::Engine as _;
use netcap_sdk::{Dir, Emitter};
use std::collections::VecDeque;

/// Largest message head read (request or status line and headers).
pub const MAX_HEAD: usize = 32 * 1024;
/// Requests remembered while their responses are awaited (pipelining).
const MAX_PENDING: usize = 64;

pub const E_HEAD: &str = "http: message head too long or malformed";
pub const E_CHUNK: &str = "http: bad chunk size";

/// Whether the first bytes of a client's data can start an HTTP/1 request: a method token (RFC
/// 9110 9: upper-case letters, `_` or `-`, as in `RPC_IN_DATA`) and a space, or the start of
/// one. The request line decides ([`request_line`]).
pub fn starts(b: &[u8]) -> bool {
    let token = |c: &u8| c.is_ascii_uppercase() || matches!(c, b'_' | b'-');
    match b.iter().take(24).position(|&c| c == b' ') {
        Some(n) => n > 0 && b[..n].iter().all(token),
        None => b.len() < 24 && !b.is_empty() && b.iter().all(token),
    }
}

/// Whether `line` is an HTTP/1 request line: method, target, version.
fn request_line(line: &[u8]) -> bool {
    let mut f = line.split(|&c| c == b' ');
    let (method, target, version) = (f.next(), f.next(), f.next());
    method.is_some_and(|m| starts(m) && !m.is_empty())
        && target.is_some_and(|t| !t.is_empty())
        && version.is_some_and(|v| v.starts_with(b"HTTP/1."))
        && f.next().is_none()
}

/// Where a direction is in its message.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Reading a head.
    #[default]
    Head,
    /// Bytes of a body to skip.
    Len(u64),
    /// A chunk-size line (its bytes are in `Side::line`).
    ChunkSize,
    /// Chunk data (and its CRLF) to skip.
    ChunkData(u64),
    /// Trailer lines after the last chunk, until an empty one.
    Trailer,
}

/// One direction: its state and the head or line read so far.
#[derive(Default)]
struct Side {
    body: Body,
    buf: Vec<u8>,
    /// Time of the packet that carried the head's first byte.
    start_ts: i64,
    dead: bool,
}

/// The HTTP state of a connection.
#[derive(Default)]
pub struct State {
    sides: [Side; 2],
    /// For each request awaiting its response: whether it was a HEAD (no response body).
    pending: VecDeque<bool>,
    /// An `NTLM` or `Negotiate` scheme was named in an authentication header.
    pub auth: bool,
    /// A final response head was read.
    answered: bool,
    /// A request line was read: the connection is HTTP (before, another protocol is left alone).
    seen: bool,
}

impl State {
    /// Whether the connection is worth reading further: authentication under way, or the first
    /// response still to come, and some direction still followed (the client's, until it sent
    /// a request line).
    pub fn wanted(&self) -> bool {
        let client_read = !self.sides[Dir::ToServer.index()].dead;
        (self.auth || !self.answered) && (client_read || self.seen && !self.sides.iter().all(|s| s.dead))
    }
}

/// Bytes of direction `dir` are missing: its framing is lost, it is read no further.
pub fn gap(p: &mut Parser, dir: Dir) {
    let s = &mut p.http.sides[dir.index()];
    s.dead = true;
    s.buf = Vec::new();
}

/// `b`, the next bytes of direction `dir`: heads are read, bodies skipped.
pub fn data(p: &mut Parser, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    while !b.is_empty() && !p.http.sides[dir.index()].dead {
        let seen = p.http.seen;
        let s = &mut p.http.sides[dir.index()];
        let used = match s.body {
            Body::Head if !seen && dir == Dir::ToServer && not_http(s, b) => {
                // Another protocol whose client speaks first: no error.
                kill(s, None, out);
                return;
            }
            Body::Head => match take_line_block(s, b, b"\r\n\r\n") {
                Some(n) => {
                    let head = std::mem::take(&mut p.http.sides[dir.index()].buf);
                    let ts = if head.len() == n { cx.meta.ts_nanos } else { p.http.sides[dir.index()].start_ts };
                    head_done(p, dir, &head, ts, cx, out);
                    p.http.sides[dir.index()].buf = recycle(head);
                    n
                }
                None => {
                    if s.buf.len() == b.len() {
                        s.start_ts = cx.meta.ts_nanos;
                    }
                    b.len()
                }
            },
            Body::Len(n) | Body::ChunkData(n) => {
                let k = n.min(b.len() as u64);
                s.body = match (s.body, n - k) {
                    (Body::Len(_), 0) => Body::Head,
                    (Body::Len(_), r) => Body::Len(r),
                    (_, 0) => Body::ChunkSize,
                    (_, r) => Body::ChunkData(r),
                };
                k as usize
            }
            Body::ChunkSize => match take_line_block(s, b, b"\r\n") {
                Some(n) => {
                    chunk_size(s, out);
                    n
                }
                None => b.len(),
            },
            Body::Trailer => match take_line_block(s, b, b"\r\n") {
                Some(n) => {
                    if s.buf.len() == 2 {
                        s.body = Body::Head;
                    }
                    s.buf.clear();
                    n
                }
                None => b.len(),
            },
        };
        b = &b[used..];
        let s = &mut p.http.sides[dir.index()];
        if s.buf.len() > MAX_HEAD {
            // An error in HTTP; before a request line, another protocol.
            let http = p.http.seen || request_line(s.buf.split(|&c| c == b'\r').next().unwrap_or_default());
            kill(s, http.then_some(E_HEAD), out);
        }
    }
}

/// Appends `b` to the side's buffer up to and including the first `end`; returns the bytes of
/// `b` used when `end` was found (the buffer then holds the block), `None` when all were kept.
fn take_line_block(s: &mut Side, b: &[u8], end: &[u8]) -> Option<usize> {
    let from = s.buf.len().saturating_sub(end.len() - 1);
    let room = (MAX_HEAD + 1).saturating_sub(s.buf.len());
    let before = s.buf.len();
    s.buf.extend_from_slice(&b[..b.len().min(room)]);
    let at = s.buf[from..].windows(end.len()).position(|w| w == end)? + from + end.len();
    s.buf.truncate(at);
    Some(at - before)
}

/// Whether the first line of the head begun in `s` and continued by `b` is complete and not a
/// request line.
fn not_http(s: &Side, b: &[u8]) -> bool {
    let line_of = |v: &[u8]| v.windows(2).position(|w| w == b"\r\n");
    if let Some(n) = line_of(&s.buf) {
        return !request_line(&s.buf[..n]);
    }
    let joined = [&s.buf[..], &b[..b.len().min(MAX_HEAD)]].concat();
    line_of(&joined).is_some_and(|n| !request_line(&joined[..n]))
}

/// The buffer of a finished head, emptied for the next one.
fn recycle(mut v: Vec<u8>) -> Vec<u8> {
    v.clear();
    v
}

/// A chunk-size line in the side's buffer: the chunk to skip, or the trailer after the last.
fn chunk_size(s: &mut Side, out: &mut Emitter<'_>) {
    let line = std::str::from_utf8(&s.buf).unwrap_or("");
    let hex = line.trim_end().split(';').next().unwrap_or("").trim();
    let size = u64::from_str_radix(hex, 16).ok();
    s.buf.clear();
    s.body = match size {
        Some(0) => Body::Trailer,
        // The chunk's data and the CRLF after it.
        Some(n) => Body::ChunkData(n.saturating_add(2)),
        None => return kill(s, Some(E_CHUNK), out),
    };
}

/// Stops reading a side (with the error, if any).
fn kill(s: &mut Side, e: Option<&'static str>, out: &mut Emitter<'_>) {
    s.dead = true;
    s.buf = Vec::new();
    if let Some(e) = e {
        out.error(e);
    }
}

/// A whole head `h` of direction `dir`: its authentication tokens, then how its body is framed.
fn head_done(p: &mut Parser, dir: Dir, h: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    let text = String::from_utf8_lossy(h);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if is_auth_header(name) {
            tokens(p, dir, value, ts, cx, out);
        }
    }
    let body = match dir {
        Dir::ToServer => request(p, first),
        Dir::ToClient => response(p, first),
    };
    let s = &mut p.http.sides[dir.index()];
    s.body = match body {
        None => return kill(s, Some(E_HEAD), out),
        Some(false) => Body::Head,
        Some(true) if chunked => Body::ChunkSize,
        Some(true) => match length {
            Some(0) => Body::Head,
            Some(n) => Body::Len(n),
            // A request without a length has no body; a response's runs to the connection's end.
            None if dir == Dir::ToServer => Body::Head,
            None => return kill(s, None, out),
        },
    };
}

/// A request line: remembers whether it is a HEAD; whether a body may follow (`None`: not a
/// request line).
fn request(p: &mut Parser, line: &str) -> Option<bool> {
    let mut f = line.split(' ');
    let method = f.next()?;
    f.next()?;
    if !f.next()?.starts_with("HTTP/1.") {
        return None;
    }
    p.http.seen = true;
    if p.http.pending.len() < MAX_PENDING {
        p.http.pending.push_back(method == "HEAD");
    }
    Some(true)
}

/// A status line: the request it answers; whether a body may follow (`None`: not a status line).
fn response(p: &mut Parser, line: &str) -> Option<bool> {
    let mut f = line.split(' ');
    if !f.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code: u16 = f.next()?.parse().ok()?;
    if (100..200).contains(&code) {
        // Interim: the final response is still to come.
        return Some(false);
    }
    p.http.answered = true;
    let head = p.http.pending.pop_front().unwrap_or(false);
    Some(!(head || code == 204 || code == 304))
}

fn is_auth_header(name: &str) -> bool {
    ["authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// The challenges or credentials of one authentication header value (challenges may be listed
/// with commas): an NTLMSSP message in an `NTLM` or `Negotiate` token becomes a record.
fn tokens(p: &mut Parser, dir: Dir, value: &str, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    for item in value.split(',') {
        let mut f = item.split_whitespace();
        let scheme = f.next().unwrap_or("");
        if !(scheme.eq_ignore_ascii_case("ntlm") || scheme.eq_ignore_ascii_case("negotiate")) {
            continue;
        }
        p.http.auth = true;
        let Some(token) = f.next() else { continue };
        let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(token) else {
            out.error(ntlm::E_BASE64);
            continue;
        };
        if let Some(m) = ntlm::find(&blob) {
            ntlm::message(p, m, "http", dir, ts, cx, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_tokens_start_a_request() {
        for ok in [&b"GET / HTTP/1.1"[..], b"RPC_IN_DATA /rpc", b"MKCOL /x", b"M-SEARCH * HTTP/1.1", b"GE"] {
            assert!(starts(ok), "{ok:?}");
        }
        for no in [&b"get / HTTP/1.1"[..], b"\x05\x00\x0b", b" GET /", b"SSH-2.0-x", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"] {
            assert!(!starts(no), "{no:?}");
        }
        assert!(!request_line(b"PROPFIND /a b HTTP/1.1") && request_line(b"GET /a HTTP/1.0"));
        assert!(!request_line(b"NICK alice") && !request_line(b"GET /a"));
    }

    #[test]
    fn blocks_are_found_across_pieces_and_bounded() {
        let mut s = Side::default();
        assert_eq!(take_line_block(&mut s, b"GET / HTTP/1.1\r\nA: b\r", b"\r\n\r\n"), None);
        assert_eq!(take_line_block(&mut s, b"\n\r\nBODY", b"\r\n\r\n"), Some(3));
        assert!(s.buf.ends_with(b"A: b\r\n\r\n"));
        let mut s = Side::default();
        let big = vec![b'a'; MAX_HEAD * 2];
        assert_eq!(take_line_block(&mut s, &big, b"\r\n\r\n"), None);
        assert_eq!(s.buf.len(), MAX_HEAD + 1, "kept no more than the limit allows");
    }
}
