//! HTTP/1.x over one reassembled connection: requests from the client side, responses from the
//! server side, paired in order (pipelining and keep-alive), one `HTTP` record per exchange.
//!
//! Message heads are parsed with `httparse` (lenient options for what servers send in the wild);
//! bodies are framed by Content-Length, chunked transfer coding, or, for responses, the end of the
//! connection, and are not kept: only their length, the first bytes for content sniffing
//! ([`sniff`]) and, for form posts, up to [`MAX_FORM`] bytes for the parameters. Memory per
//! connection is bounded: a head longer than [`MAX_HEAD`] and more than [`MAX_PENDING`]
//! unanswered requests are errors, not buffers.
//!
//! A gap where framing needs the bytes (in a head, a chunk line, or between messages) ends the
//! message in progress (partial record, counted error); the direction resumes at the next data
//! that starts a message (a request line, or a status line), as Wireshark does at segment
//! starts. A response lost entirely inside a gap shifts the pairing of later responses by one.

pub mod body;
pub mod sniff;

use crate::smtp::file_id;
use crate::{Ctx, T_HTTP};
use body::BodyFile;
use netcap_proto::v1;
use netcap_proto::v1::http::{Cookie, Header, Parameter};
use netcap_sdk::{Dir, Emitter};
use std::collections::VecDeque;

/// Longest message head buffered (request or status line plus headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most headers parsed in one head.
pub const MAX_HEADERS: usize = 128;
/// Most requests waiting for their response.
pub const MAX_PENDING: usize = 64;
/// Most bytes of an application/x-www-form-urlencoded request body kept for its parameters.
pub const MAX_FORM: usize = 64 * 1024;
/// Body bytes kept for content sniffing (as Go's `http.DetectContentType`).
pub const SNIFF_LEN: usize = 512;

/// Request methods recognised from their first bytes alone (a method followed by a space); any
/// other method is recognised by the grammar of the whole request line.
pub const METHODS: [&str; 16] = [
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
];

/// Longest request line looked at to recognise a method that is not in [`METHODS`].
pub const MAX_LINE: usize = 8 * 1024;
/// Longest method recognised by the request-line grammar.
pub const MAX_METHOD: usize = 32;

/// A token character (RFC 9110 5.6.2).
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Whether `b` starts a request line: `Some(true)` a method of [`METHODS`] and a space, or a
/// whole line `token SP target SP HTTP/1.d` (RFC 9112 3: RPC_IN_DATA, CCM_POST, SUBSCRIBE,
/// WebDAV, ...); `Some(false)` not; `None` too few bytes to tell.
pub fn request_line(b: &[u8]) -> Option<bool> {
    for m in METHODS.iter().map(|m| m.as_bytes()) {
        if b.len() > m.len() && b.starts_with(m) && b[m.len()] == b' ' {
            return Some(true);
        }
    }
    let t = b.iter().take_while(|&&c| is_tchar(c)).count();
    if t > MAX_METHOD || (t == 0 && !b.is_empty()) {
        return Some(false);
    }
    match b.get(t) {
        None => return None,
        Some(b' ') => {}
        Some(_) => return Some(false),
    }
    let rest = &b[t + 1..];
    let line_end = rest.iter().position(|&c| c == b'\n');
    let line = trim_cr(&rest[..line_end.unwrap_or(rest.len())]);
    // The target and the version: visible characters and spaces (lenient readers accept a
    // target with spaces; the version is the last word).
    if line.iter().any(|&c| c < b' ' || c == 0x7f) {
        return Some(false);
    }
    if line_end.is_none() {
        return if b.len() >= MAX_LINE { Some(false) } else { None };
    }
    let Some(sp) = line.iter().rposition(|&c| c == b' ') else { return Some(false) };
    let (target, version) = (&line[..sp], &line[sp + 1..]);
    // HTTP/1.x only: "PRI * HTTP/2.0" is the HTTP/2 connection preface, not an HTTP/1 request.
    let is_version = |v: &[u8]| matches!(v, [b'H', b'T', b'T', b'P', b'/', b'1', b'.', c] if c.is_ascii_digit());
    Some(!target.trim_ascii().is_empty() && is_version(version))
}

/// Whether `b` starts a status line ("HTTP/1."): `None` when too short to tell.
pub fn status_line(b: &[u8]) -> Option<bool> {
    let p = b"HTTP/1.";
    let n = b.len().min(p.len());
    if b[..n] != p[..n] {
        Some(false)
    } else if n == p.len() {
        Some(true)
    } else {
        None
    }
}

/// What a stream's first bytes in direction `dir` say: `Some(Some(swap))` HTTP (`swap`: a
/// response in the client's direction or a request in the server's, the capture began after
/// the connection), `Some(None)` not HTTP, `None` too few bytes to tell.
pub fn sniff_start(dir: Dir, b: &[u8]) -> Option<Option<bool>> {
    match (request_line(b), status_line(b)) {
        (Some(true), _) => Some(Some(dir != Dir::ToServer)),
        (_, Some(true)) => Some(Some(dir == Dir::ToServer)),
        (Some(false), Some(false)) => Some(None),
        _ => None,
    }
}

/// How the body of the current message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No body: the next bytes start the next message.
    None,
    /// This many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// Until the connection closes (responses only).
    UntilClose,
}

/// Where chunked decoding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line (bytes in the line buffer).
    Size,
    /// This many chunk-data bytes remain.
    Data(u64),
    /// Reading the CRLF after chunk data.
    DataEnd,
    /// Reading trailer lines up to the empty line.
    Trailer,
}

/// One direction's parser state.
#[derive(Default)]
struct Side {
    /// Bytes of an unfinished head, or of an unfinished chunk line.
    buf: Vec<u8>,
    /// Body framing of the message in progress; `None` while reading a head.
    body: Option<Body>,
    /// Time of the packet that carried the current message's first byte.
    start_ts: Option<i64>,
    /// Body bytes so far.
    body_len: u64,
    /// First body bytes, for sniffing.
    sniff: Vec<u8>,
    /// Form body bytes (requests with a urlencoded body).
    form: Option<Vec<u8>>,
    /// The direction lost framing (a gap) and is skipped until data starts a new message.
    dead: bool,
    /// The body as a File record (when File records are enabled).
    file: Option<BodyFile>,
}

impl Side {
    fn body_bytes(&mut self, b: &[u8], out: &mut Emitter<'_>) {
        if let Some(f) = self.file.as_mut() {
            f.push(b, out);
        }
        self.body_len += b.len() as u64;
        let room = SNIFF_LEN.saturating_sub(self.sniff.len());
        self.sniff.extend_from_slice(&b[..room.min(b.len())]);
        if let Some(f) = self.form.as_mut() {
            let room = MAX_FORM.saturating_sub(f.len());
            f.extend_from_slice(&b[..room.min(b.len())]);
        }
    }
}

/// The response fields of an exchange, while the response is read.
#[derive(Default)]
struct Response {
    ts: i64,
    proto: String,
    status: i32,
    phrase: String,
    content_type: String,
    content_encoding: String,
    server: String,
    cookies: Vec<Cookie>,
    headers: Vec<Header>,
    /// SHA-256 of the body's File record.
    file_sha256: String,
}

/// Per-connection HTTP state.
#[derive(Default)]
pub struct Conn {
    req: Side,
    res: Side,
    /// Requests parsed (head and body) that wait for their response, oldest first.
    pending: VecDeque<v1::Http>,
    /// The request whose body is being read.
    req_rec: Option<v1::Http>,
    /// The response whose body is being read.
    res_rec: Option<Response>,
    /// A CONNECT was answered with 2xx or a 101 switched protocols: the rest is not HTTP.
    upgraded: bool,
    /// The host's client is the HTTP server (the capture began after the connection did).
    swap: bool,
    /// Bodies turned into File records so far (for content entry ids).
    files: u64,
}

impl Conn {
    /// A connection whose requests flow from the host's client (`swap` false) or to it.
    pub fn new(swap: bool) -> Self {
        Conn { swap, ..Conn::default() }
    }

    /// The HTTP role of a host direction: ToServer carries requests.
    fn role(&self, dir: Dir) -> Dir {
        match (self.swap, dir) {
            (false, d) => d,
            (true, Dir::ToServer) => Dir::ToClient,
            (true, Dir::ToClient) => Dir::ToServer,
        }
    }

    /// Bytes of one direction.
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let dir = self.role(dir);
        if self.upgraded {
            return;
        }
        while !b.is_empty() && !self.upgraded {
            let side = match dir {
                Dir::ToServer => &mut self.req,
                Dir::ToClient => &mut self.res,
            };
            if side.dead {
                // Framing was lost (a gap): resume where a segment starts a new message, as
                // Wireshark does; until then the bytes are skipped.
                let starts = match dir {
                    Dir::ToServer => request_line(b),
                    Dir::ToClient => status_line(b),
                };
                if starts == Some(true) {
                    side.dead = false;
                } else {
                    return;
                }
            }
            let used = match side.body {
                None => self.head(dir, b, cx, out),
                Some(body) => self.body(dir, body, b, cx, out),
            };
            b = &b[used..];
        }
    }

    /// Skips the bytes of host direction `dir` until data starts a message (its first bytes
    /// were not HTTP, the other direction's were).
    pub fn skip_until_message(&mut self, dir: Dir) {
        match self.role(dir) {
            Dir::ToServer => self.req.dead = true,
            Dir::ToClient => self.res.dead = true,
        }
    }

    /// Bytes of one direction that were not captured.
    pub fn gap(&mut self, dir: Dir, len: u32, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let dir = self.role(dir);
        let side = match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.res,
        };
        if side.dead || self.upgraded {
            return;
        }
        let len = u64::from(len);
        if let Some(f) = side.file.as_mut() {
            f.gap();
        }
        if matches!(side.body, Some(Body::Length(_) | Body::UntilClose | Body::Chunked(Chunk::Data(_)))) {
            // The framing survives, the body content is lost: counted, the message goes on.
            out.error(match dir {
                Dir::ToServer => "http: gap in request body",
                Dir::ToClient => "http: gap in response body",
            });
        }
        match side.body {
            Some(Body::Length(n)) if len <= n => {
                side.body_len += len;
                side.body = Some(Body::Length(n - len));
                if n == len {
                    self.message_done(dir, cx, out);
                }
            }
            Some(Body::UntilClose) => side.body_len += len,
            Some(Body::Chunked(Chunk::Data(n))) if len <= n => {
                side.body_len += len;
                side.body = Some(Body::Chunked(if n == len { Chunk::DataEnd } else { Chunk::Data(n - len) }));
            }
            _ => {
                // Framing is lost: what was read of the current message is all there is.
                out.error(match dir {
                    Dir::ToServer => "http: gap in request",
                    Dir::ToClient => "http: gap in response",
                });
                self.abandon(dir, cx, out);
            }
        }
    }

    /// End of the connection: complete what can be completed, report what was cut.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        // A response delimited by the connection's end is complete now.
        if self.res.body == Some(Body::UntilClose) {
            self.message_done(Dir::ToClient, cx, out);
        }
        for dir in [Dir::ToServer, Dir::ToClient] {
            let side = match dir {
                Dir::ToServer => &self.req,
                Dir::ToClient => &self.res,
            };
            let cut_head = side.body.is_none() && side.buf.iter().any(|c| !c.is_ascii_whitespace());
            if !side.dead && (side.body.is_some() || cut_head) {
                out.error(match dir {
                    Dir::ToServer => "http: request truncated",
                    Dir::ToClient => "http: response truncated",
                });
                self.abandon(dir, cx, out);
            }
        }
        while let Some(r) = self.pending.pop_front() {
            emit_http(&r, cx, out);
        }
    }

    /// Whether everything there is to say about this connection was said.
    pub fn done(&self) -> bool {
        self.upgraded && self.pending.is_empty() && self.req_rec.is_none() && self.res_rec.is_none()
    }

    /// The message of `dir` in progress cannot be finished: emit what there is and stop reading
    /// that direction.
    fn abandon(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        match dir {
            Dir::ToServer => {
                if let Some(mut r) = self.req_rec.take() {
                    finish_request_body(&mut r, &mut self.req, false, cx, out);
                    self.push_pending(r, cx, out);
                } else if let Some(r) = partial_request(&self.req.buf, self.req.start_ts, cx, self.swap) {
                    self.push_pending(r, cx, out);
                }
                self.req.dead = true;
            }
            Dir::ToClient => {
                let res = match self.res_rec.take() {
                    Some(r) => Some(r),
                    None => partial_response(&self.res.buf, self.res.start_ts),
                };
                if let Some(mut res) = res {
                    res.file_sha256 = finish_file(&mut self.res, false, cx, out);
                    let len = self.res.body_len;
                    let detected = detected(&self.res);
                    self.emit_exchange(res, len, detected, cx, out);
                }
                self.res.dead = true;
            }
        }
        let side = match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.res,
        };
        side.buf = Vec::new();
        side.body = None;
        side.file = None;
    }

    /// Reads head bytes; returns how many of `b` were used.
    fn head(&mut self, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> usize {
        let side = match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.res,
        };
        if side.buf.is_empty() {
            // Blank lines between messages are allowed (RFC 9112 2.2).
            let skip = b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count();
            if skip > 0 {
                return skip;
            }
            side.start_ts = Some(cx.meta.ts_nanos);
        }
        // Look for the end of the head in the new bytes (with 3 bytes of overlap).
        let old = side.buf.len();
        let from = old.saturating_sub(3);
        let take = b.len().min(MAX_HEAD + 4 - old.min(MAX_HEAD));
        side.buf.extend_from_slice(&b[..take]);
        let end = find_head_end(&side.buf[from..]).map(|e| from + e);
        let Some(end) = end else {
            if side.buf.len() > MAX_HEAD {
                out.error("http: head too long");
                self.abandon(dir, cx, out);
            }
            return take;
        };
        let head = std::mem::take(&mut side.buf);
        let used = end - old;
        match dir {
            Dir::ToServer => self.request_head(&head[..end], cx, out),
            Dir::ToClient => self.response_head(&head[..end], cx, out),
        }
        let side = match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.res,
        };
        if side.buf.capacity() == 0 {
            side.buf = head;
            side.buf.clear();
        }
        if side.body == Some(Body::None) {
            self.message_done(dir, cx, out);
        }
        used
    }

    fn request_head(&mut self, head: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let h = match Head::request(head) {
            Ok(h) => h,
            Err(h) => {
                out.error("http: nonstandard request head");
                h
            }
        };
        let mut r = v1::Http::default();
        set_endpoints(&mut r, cx, self.swap);
        r.timestamp = self.req.start_ts.unwrap_or(cx.meta.ts_nanos);
        let mut disposition = String::new();
        let [method, url, proto] = h.line;
        (r.method, r.url, r.proto) = (method, url, proto);
        let mut framing = Framing::default();
        for (name, raw) in h.headers {
            let value = text(&raw);
            framing.header(&name, &raw);
            if name.eq_ignore_ascii_case("host") {
                r.host.clone_from(&value);
            } else if name.eq_ignore_ascii_case("user-agent") {
                r.user_agent.clone_from(&value);
            } else if name.eq_ignore_ascii_case("referer") {
                r.referer.clone_from(&value);
            } else if name.eq_ignore_ascii_case("cookie") {
                cookies(&value, &mut r.req_cookies);
            } else if name.eq_ignore_ascii_case("content-type") {
                r.content_type.clone_from(&value);
            } else if name.eq_ignore_ascii_case("content-encoding") {
                r.req_content_encoding.clone_from(&value);
            } else if name.eq_ignore_ascii_case("content-disposition") {
                disposition.clone_from(&value);
            }
            r.request_header.push(Header { name, value });
        }
        if let Some(q) = r.url.split_once('?').map(|(_, q)| q.to_string()) {
            params(q.as_bytes(), &mut r.parameters);
        }
        let body = framing.request_body().unwrap_or_else(|kind| {
            out.error(kind);
            Body::None
        });
        let side = &mut self.req;
        side.body = Some(body);
        side.body_len = 0;
        side.sniff.clear();
        side.form = (body != Body::None && is_form(&r.content_type)).then(Vec::new);
        if body != Body::None && cx.enabled.file {
            let name = body::file_name(&disposition, &r.url);
            let f = self.body_file(Dir::ToServer, name, &r.content_type, &r.req_content_encoding, cx);
            self.req.file = Some(f);
        }
        self.req_rec = Some(r);
    }

    fn response_head(&mut self, head: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let h = match Head::response(head) {
            Ok(h) => h,
            Err(h) => {
                out.error("http: nonstandard response head");
                h
            }
        };
        let [proto, code, phrase] = h.line;
        let mut r = Response {
            ts: self.res.start_ts.unwrap_or(cx.meta.ts_nanos),
            proto,
            status: code.parse().unwrap_or(0),
            phrase,
            ..Response::default()
        };
        let mut framing = Framing::default();
        let mut disposition = String::new();
        for (name, raw) in h.headers {
            let value = text(&raw);
            framing.header(&name, &raw);
            if name.eq_ignore_ascii_case("server") {
                r.server.clone_from(&value);
            } else if name.eq_ignore_ascii_case("content-type") {
                r.content_type.clone_from(&value);
            } else if name.eq_ignore_ascii_case("content-encoding") {
                r.content_encoding.clone_from(&value);
            } else if name.eq_ignore_ascii_case("set-cookie") {
                r.cookies.push(set_cookie(&value));
            } else if name.eq_ignore_ascii_case("content-disposition") {
                disposition.clone_from(&value);
            }
            r.headers.push(Header { name, value });
        }
        let request_method = self.pending.front().map(|q| q.method.as_str()).unwrap_or("");
        let status = r.status;
        if (status == 101) || (request_method == "CONNECT" && (200..300).contains(&status)) {
            // The connection is something else from here on.
            self.emit_exchange(r, 0, String::new(), cx, out);
            self.upgraded = true;
            return;
        }
        let body = if request_method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
            Ok(Body::None)
        } else {
            framing.response_body()
        };
        let body = body.unwrap_or_else(|kind| {
            out.error(kind);
            Body::UntilClose
        });
        let side = &mut self.res;
        side.body = Some(body);
        side.body_len = 0;
        side.sniff.clear();
        side.form = None;
        if body != Body::None && cx.enabled.file {
            let target = self.pending.front().map(|q| q.url.as_str()).unwrap_or("");
            let name = body::file_name(&disposition, target);
            let f = self.body_file(Dir::ToClient, name, &r.content_type, &r.content_encoding, cx);
            self.res.file = Some(f);
        }
        self.res_rec = Some(r);
    }

    /// Reads body bytes under `body`; returns how many of `b` were used.
    fn body(&mut self, dir: Dir, body: Body, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> usize {
        let side = match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.res,
        };
        match body {
            Body::None => {
                self.message_done(dir, cx, out);
                0
            }
            Body::UntilClose => {
                side.body_bytes(b, out);
                b.len()
            }
            Body::Length(n) => {
                let k = (n.min(b.len() as u64)) as usize;
                side.body_bytes(&b[..k], out);
                side.body = Some(Body::Length(n - k as u64));
                if n == k as u64 {
                    self.message_done(dir, cx, out);
                }
                k
            }
            Body::Chunked(Chunk::Data(n)) => {
                let k = (n.min(b.len() as u64)) as usize;
                side.body_bytes(&b[..k], out);
                side.body = Some(Body::Chunked(if n == k as u64 { Chunk::DataEnd } else { Chunk::Data(n - k as u64) }));
                k
            }
            Body::Chunked(state) => {
                // Line-oriented states: the chunk size, the CRLF after data, trailers.
                let Some(nl) = b.iter().position(|&c| c == b'\n') else {
                    if side.buf.len() + b.len() > 4096 {
                        out.error("http: bad chunk");
                        self.abandon(dir, cx, out);
                        return b.len();
                    }
                    side.buf.extend_from_slice(b);
                    return b.len();
                };
                side.buf.extend_from_slice(&b[..nl]);
                let line = std::mem::take(&mut side.buf);
                let line_s = trim_cr(&line);
                match state {
                    Chunk::Size => {
                        let hex = line_s.split(|&c| c == b';').next().unwrap_or_default();
                        match parse_hex(hex) {
                            Some(0) => side.body = Some(Body::Chunked(Chunk::Trailer)),
                            Some(n) => side.body = Some(Body::Chunked(Chunk::Data(n))),
                            None => {
                                side.buf = line;
                                side.buf.clear();
                                out.error("http: bad chunk");
                                self.abandon(dir, cx, out);
                                return nl + 1;
                            }
                        }
                    }
                    Chunk::DataEnd => {
                        if !line_s.is_empty() {
                            out.error("http: bad chunk");
                            side.buf = line;
                            side.buf.clear();
                            self.abandon(dir, cx, out);
                            return nl + 1;
                        }
                        side.body = Some(Body::Chunked(Chunk::Size));
                    }
                    Chunk::Trailer | Chunk::Data(_) => {
                        if line_s.is_empty() {
                            side.buf = line;
                            side.buf.clear();
                            self.message_done(dir, cx, out);
                            return nl + 1;
                        }
                    }
                }
                side.buf = line;
                side.buf.clear();
                nl + 1
            }
        }
    }

    /// The message of `dir` is complete (head and body).
    fn message_done(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        match dir {
            Dir::ToServer => {
                self.req.body = None;
                if let Some(mut r) = self.req_rec.take() {
                    finish_request_body(&mut r, &mut self.req, true, cx, out);
                    self.push_pending(r, cx, out);
                }
            }
            Dir::ToClient => {
                self.res.body = None;
                if let Some(mut r) = self.res_rec.take() {
                    if (100..200).contains(&r.status) {
                        // An interim response (100 Continue, 103 Early Hints): the final one follows.
                        return;
                    }
                    r.file_sha256 = finish_file(&mut self.res, true, cx, out);
                    let len = self.res.body_len;
                    let detected = detected(&self.res);
                    self.emit_exchange(r, len, detected, cx, out);
                }
            }
        }
    }

    fn push_pending(&mut self, r: v1::Http, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if self.pending.len() >= MAX_PENDING {
            out.error("http: too many pending requests");
            if let Some(old) = self.pending.pop_front() {
                emit_http(&old, cx, out);
            }
        }
        self.pending.push_back(r);
    }

    /// Pairs a response with the oldest pending request and emits the exchange.
    fn emit_exchange(&mut self, res: Response, len: u64, detected: String, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let mut r = match self.pending.pop_front() {
            Some(r) => r,
            None => {
                let mut r = v1::Http::default();
                set_endpoints(&mut r, cx, self.swap);
                r.timestamp = res.ts;
                r.proto.clone_from(&res.proto);
                r
            }
        };
        r.response_timestamp = res.ts;
        r.res_proto = res.proto;
        r.status_code = res.status;
        r.status_phrase = res.phrase;
        r.res_content_type = res.content_type;
        r.res_content_encoding = res.content_encoding;
        r.server_name = res.server;
        r.res_cookies = res.cookies;
        r.response_header = res.headers;
        r.res_content_length = len as i64;
        r.res_content_type_detected = detected;
        r.res_file_sha256 = res.file_sha256;
        emit_http(&r, cx, out);
    }

    /// A File for the body of the message sent in HTTP direction `role`.
    fn body_file(&mut self, role: Dir, name: String, ctype: &str, encoding: &str, cx: &Ctx<'_>) -> BodyFile {
        self.files += 1;
        let id = file_id(cx, self.files);
        BodyFile::new(self.role(role), name, ctype, encoding, id, cx)
    }
}

/// An HTTP record, when the user wants them (the connection may be read for its File records only).
fn emit_http(r: &v1::Http, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    if cx.enabled.http {
        out.record(T_HTTP, r);
    }
}

/// Ends the body File of `side` (`complete`: its framing ended normally); returns its SHA-256,
/// "" without File (File records off, or a body without bytes).
fn finish_file(side: &mut Side, complete: bool, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> String {
    match side.file.take() {
        Some(f) if side.body_len > 0 => f.finish(complete, cx, out),
        _ => String::new(),
    }
}

/// Body length, sniffed type, form parameters and File of a finished request.
fn finish_request_body(r: &mut v1::Http, side: &mut Side, complete: bool, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    r.req_file_sha256 = finish_file(side, complete, cx, out);
    r.req_content_length = side.body_len as i64;
    r.content_type_detected = detected(side);
    if let Some(f) = side.form.take() {
        params(&f, &mut r.parameters);
    }
}

fn detected(side: &Side) -> String {
    if side.body_len == 0 { String::new() } else { sniff::detect(&side.sniff).to_string() }
}

/// Client and server of the HTTP exchange (`swap`: the host's client is the HTTP server).
fn set_endpoints(r: &mut v1::Http, cx: &Ctx<'_>, swap: bool) {
    let dir = if swap { Dir::ToClient } else { Dir::ToServer };
    (r.src_port, r.dst_port) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
    r.tunnel_depth = u32::from(cx.info.tunnel_depth);
}

/// A request record from an unfinished head (method and URL when the request line is complete).
fn partial_request(buf: &[u8], ts: Option<i64>, cx: &Ctx<'_>, swap: bool) -> Option<v1::Http> {
    if !buf.iter().any(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    let mut r = v1::Http::default();
    set_endpoints(&mut r, cx, swap);
    r.timestamp = ts.unwrap_or(cx.meta.ts_nanos);
    // Only the tokens of the request line that are complete (followed by a space or the line end).
    let line = buf.split(|&c| c == b'\n').next().unwrap_or_default();
    let complete_line = buf.contains(&b'\n');
    let line = trim_cr(line);
    let mut parts: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
    if !complete_line {
        parts.pop();
    }
    let mut parts = parts.into_iter().filter(|p| !p.is_empty());
    r.method = parts.next().map(text).unwrap_or_default();
    r.url = parts.next().map(text).unwrap_or_default();
    r.proto = parts.next().map(text).unwrap_or_default();
    Some(r)
}

/// Response fields from an unfinished head (the status line when it is complete).
fn partial_response(buf: &[u8], ts: Option<i64>) -> Option<Response> {
    if !buf.iter().any(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    let mut r = Response { ts: ts.unwrap_or_default(), ..Response::default() };
    if let Some(nl) = buf.iter().position(|&c| c == b'\n') {
        let line = text(trim_cr(&buf[..nl]));
        let mut parts = line.splitn(3, ' ');
        r.proto = parts.next().unwrap_or_default().to_string();
        r.status = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        r.phrase = parts.next().unwrap_or_default().to_string();
    }
    Some(r)
}

/// A parsed message head: the three parts of the start line (method, target, version of a
/// request; version, status code, reason of a response) and the header fields in order.
struct Head {
    line: [String; 3],
    headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    /// A request head by `httparse`; `Err` with a lenient reading when httparse refuses it.
    fn request(head: &[u8]) -> Result<Head, Head> {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut hs);
        let parsed = httparse::ParserConfig::default()
            .allow_multiple_spaces_in_request_line_delimiters(true)
            .parse_request(&mut req, head);
        match parsed {
            Ok(httparse::Status::Complete(_)) => Ok(Head {
                line: [
                    req.method.unwrap_or_default().to_string(),
                    req.path.unwrap_or_default().to_string(),
                    req.version.map(|v| format!("HTTP/1.{v}")).unwrap_or_default(),
                ],
                headers: req.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect(),
            }),
            _ => Err(Head::lenient(head, true)),
        }
    }

    /// A response head by `httparse`; `Err` with a lenient reading when httparse refuses it.
    fn response(head: &[u8]) -> Result<Head, Head> {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut hs);
        let parsed = httparse::ParserConfig::default()
            .allow_spaces_after_header_name_in_responses(true)
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .parse_response(&mut res, head);
        match parsed {
            Ok(httparse::Status::Complete(_)) => Ok(Head {
                line: [
                    res.version.map(|v| format!("HTTP/1.{v}")).unwrap_or_default(),
                    res.code.map(|c| c.to_string()).unwrap_or_default(),
                    res.reason.unwrap_or_default().to_string(),
                ],
                headers: res.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect(),
            }),
            _ => Err(Head::lenient(head, false)),
        }
    }

    /// Reads a head the way Wireshark does when it does not follow RFC 9112: the start line split
    /// at spaces (a request target may contain spaces: it runs up to the last space before an
    /// "HTTP/" version), then "name: value" lines (a line without a colon is skipped, a line
    /// starting with white space continues the previous value).
    fn lenient(head: &[u8], request: bool) -> Head {
        let mut lines = head.split(|&c| c == b'\n').map(trim_cr).skip_while(|l| l.is_empty());
        let first = text(lines.next().unwrap_or_default());
        let first = first.trim();
        let mut line: [String; 3] = Default::default();
        if request {
            let (method, rest) = first.split_once(' ').unwrap_or((first, ""));
            let rest = rest.trim();
            let (target, version) = match rest.rsplit_once(' ') {
                Some((t, v)) if v.starts_with("HTTP/") => (t.trim_end(), v),
                _ => (rest, ""),
            };
            line = [method.to_string(), target.to_string(), version.to_string()];
        } else {
            let mut parts = first.splitn(3, ' ');
            for slot in &mut line {
                *slot = parts.next().unwrap_or_default().trim().to_string();
            }
        }
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for l in lines.take(MAX_HEADERS) {
            if l.is_empty() {
                break;
            }
            if l[0] == b' ' || l[0] == b'\t' {
                if let Some((_, v)) = headers.last_mut() {
                    v.push(b' ');
                    v.extend_from_slice(trim(l));
                }
                continue;
            }
            if let Some(i) = l.iter().position(|&c| c == b':') {
                headers.push((text(trim(&l[..i])), trim(&l[i + 1..]).to_vec()));
            }
        }
        Head { line, headers }
    }
}

/// The framing headers of a message.
#[derive(Default)]
struct Framing {
    length: Option<Result<u64, ()>>,
    chunked: bool,
    transfer_encoding: bool,
}

impl Framing {
    fn header(&mut self, name: &str, value: &[u8]) {
        if name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(value).ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or(());
            // Differing repeated values are malformed (RFC 9112 6.3).
            self.length = match self.length {
                Some(Ok(old)) if v != Ok(old) => Some(Err(())),
                Some(Err(())) => Some(Err(())),
                _ => Some(v),
            };
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.transfer_encoding = true;
            let last = value.rsplit(|&c| c == b',').next().unwrap_or_default();
            self.chunked = trim(last).eq_ignore_ascii_case(b"chunked");
        }
    }

    fn request_body(&self) -> Result<Body, &'static str> {
        if self.chunked {
            return Ok(Body::Chunked(Chunk::Size));
        }
        if self.transfer_encoding {
            return Err("http: bad transfer-encoding");
        }
        match self.length {
            Some(Ok(0)) | None => Ok(Body::None),
            Some(Ok(n)) => Ok(Body::Length(n)),
            Some(Err(())) => Err("http: bad content-length"),
        }
    }

    fn response_body(&self) -> Result<Body, &'static str> {
        if self.chunked {
            return Ok(Body::Chunked(Chunk::Size));
        }
        if self.transfer_encoding {
            return Ok(Body::UntilClose);
        }
        match self.length {
            Some(Ok(0)) => Ok(Body::None),
            Some(Ok(n)) => Ok(Body::Length(n)),
            None => Ok(Body::UntilClose),
            Some(Err(())) => Err("http: bad content-length"),
        }
    }
}

/// The end of a message head in `b`: the offset after the empty line.
fn find_head_end(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'\n') {
        let nl = i + p;
        let next = &b[nl + 1..];
        if next.first() == Some(&b'\n') {
            return Some(nl + 2);
        }
        if next.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        i = nl + 1;
    }
    None
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let e = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

fn parse_hex(b: &[u8]) -> Option<u64> {
    let b = trim(b);
    if b.is_empty() || b.len() > 15 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        v = v * 16 + u64::from((c as char).to_digit(16)?);
    }
    Some(v)
}

/// Header bytes as text (bytes that are not UTF-8 replaced).
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_form(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// The cookies of a Cookie header value ("a=1; b=2").
fn cookies(value: &str, out: &mut Vec<Cookie>) {
    for part in value.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, val) = part.split_once('=').unwrap_or((part, ""));
        out.push(Cookie { name: name.trim().to_string(), value: val.trim().to_string(), attributes: String::new() });
    }
}

/// A Set-Cookie header value: "name=value; attributes".
fn set_cookie(value: &str) -> Cookie {
    let (pair, attrs) = value.split_once(';').unwrap_or((value, ""));
    let (name, val) = pair.split_once('=').unwrap_or((pair, ""));
    Cookie { name: name.trim().to_string(), value: val.trim().to_string(), attributes: attrs.trim().to_string() }
}

/// Appends the parameters of a query string or urlencoded form ("a=1&b=x+y").
pub fn params(q: &[u8], out: &mut Vec<Parameter>) {
    for part in q.split(|&c| c == b'&') {
        if part.is_empty() {
            continue;
        }
        let (name, value) = match part.iter().position(|&c| c == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        out.push(Parameter { name: percent_decode(name), value: percent_decode(value) });
    }
}

/// Percent-decodes `b` with '+' as space (invalid escapes kept as they are).
pub fn percent_decode(b: &[u8]) -> String {
    let mut v = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => v.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = (b[i + 1] as char).to_digit(16);
                let l = (b[i + 2] as char).to_digit(16);
                if let (Some(h), Some(l)) = (h, l) {
                    v.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                v.push(b'%');
            }
            c => v.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&v).into_owned()
}
