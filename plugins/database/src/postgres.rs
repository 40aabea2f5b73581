//! PostgreSQL (TCP port 5432), frontend/backend protocol 3.0: one `PostgreSQL` record per
//! exchange. The client's untyped first message (StartupMessage, SSLRequest, GSSENCRequest or
//! CancelRequest: length, code, body) starts one; after the StartupMessage every message is
//! typed (type letter, length). The startup exchange collects the authentication requests and
//! the server's ParameterStatus messages up to the first ReadyForQuery (or an ErrorResponse).
//! A query exchange is the client's messages up to a simple Query, a Sync or a FunctionCall
//! (the extended protocol's Parse/Bind/Describe/Execute come before the Sync), and the
//! server's messages up to the ReadyForQuery that answers it: command tags, data row count,
//! the first error. Requests may be pipelined: the server's messages answer the oldest
//! exchange still waiting. An SSLRequest answered `S` ends the reading (the rest is TLS).

use crate::{Ctx, Flow, Reader, Step, T_POSTGRES, cstr, set};
use netcap_proto::v1::PostgreSql;
use netcap_sdk::{Dir, Emitter};
use std::collections::VecDeque;

/// Error kinds.
pub const E_BAD_LENGTH: &str = "postgres: bad message length";
pub const E_MALFORMED: &str = "postgres: malformed message";
pub const E_TRUNCATED: &str = "postgres: message truncated";
pub const E_GAP: &str = "postgres: gap in stream";
pub const E_NO_RESPONSE: &str = "postgres: exchange without complete response";
pub const E_TOO_MANY: &str = "postgres: too many pipelined requests";

/// The codes of the untyped first messages.
pub const SSL_REQUEST: u32 = 80_877_103;
pub const GSSENC_REQUEST: u32 = 80_877_104;
pub const CANCEL_REQUEST: u32 = 80_877_102;

/// Longest typed message accepted (the server's own limit is 1 GiB), and untyped one.
const MAX_LEN: usize = 1 << 30;
const MAX_UNTYPED: usize = 10_000;
/// Most exchanges waiting for their response.
const MAX_PENDING: usize = 64;

/// Per-connection state.
#[derive(Default)]
pub struct Conn {
    /// Framing per direction ([`Dir::index`]).
    rd: [Reader; 2],
    /// Whether the client's first bytes were seen, and whether its messages are typed (after
    /// the StartupMessage, or from the start of a capture that began mid-connection).
    client_seen: bool,
    client_typed: bool,
    /// The server's next byte answers an SSLRequest or GSSENCRequest.
    server_answer: bool,
    /// Exchanges not yet recorded, oldest first: the server answers the first; the last takes
    /// the client's messages while `req_open`.
    ex: VecDeque<PostgreSql>,
    req_open: bool,
}

/// The body length of a message with header `h`: typed (letter, length) or untyped (length).
pub fn body_len(h: &[u8], typed: bool) -> Result<usize, &'static str> {
    let at = usize::from(typed);
    let n = u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]) as usize;
    let (min, max) = if typed { (4, MAX_LEN) } else { (8, MAX_UNTYPED) };
    if n < min || n > max { Err(E_BAD_LENGTH) } else { Ok(n - 4) }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

impl Conn {
    /// Bytes of direction `dir` (oriented: [`Dir::ToServer`] is to the database server).
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        if dir == Dir::ToServer && !self.client_seen && !b.is_empty() {
            self.client_seen = true;
            // An untyped message starts with its length's high byte, 0; a type letter never is.
            self.client_typed = b[0] != 0;
        }
        let i = dir.index();
        while !b.is_empty() && !self.rd[i].dead {
            if dir == Dir::ToClient && self.server_answer && !self.rd[i].partial() {
                self.server_answer = false;
                let a = b[0];
                b = &b[1..];
                if let Some(r) = self.ex.front_mut() {
                    set(&mut r.ssl_response, &[a]);
                }
                self.emit_front(out);
                if a == b'S' || a == b'G' {
                    return Flow::Stop;
                }
                continue;
            }
            let typed = dir == Dir::ToClient || self.client_typed;
            match self.rd[i].step(&mut b, if typed { 5 } else { 4 }, |h| body_len(h, typed), cx.ts) {
                Step::Need => {}
                Step::Bad(e) => out.error(e),
                Step::Msg => self.message(dir, typed, cx, out),
            }
        }
        if self.rd.iter().all(|r| r.dead) { Flow::Stop } else { Flow::Go }
    }

    /// The complete (or, at the end, partial) message held by the direction's reader.
    fn message(&mut self, dir: Dir, typed: bool, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let i = dir.index();
        let rd = std::mem::take(&mut self.rd[i]);
        let ty = if typed { rd.head().first().copied() } else { None };
        if dir == Dir::ToServer {
            self.client_msg(ty, rd.body(), rd.ts, cx, out);
        } else if let Some(t) = ty {
            self.server_msg(t, rd.body(), out);
        }
        self.rd[i] = rd;
        self.rd[i].reset();
    }

    /// A new exchange of kind `kind` starting at `ts`.
    fn push(&mut self, kind: &str, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> &mut PostgreSql {
        if self.ex.len() >= MAX_PENDING {
            out.error(E_TOO_MANY);
            self.emit_front(out);
        }
        let mut r = PostgreSql { kind: kind.into(), timestamp: ts, ..Default::default() };
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(&mut r.src_ip, &mut r.dst_ip);
        self.ex.push_back(r);
        self.ex.back_mut().expect("just pushed")
    }

    fn client_msg(&mut self, ty: Option<u8>, body: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let Some(t) = ty else {
            self.untyped(body, ts, cx, out);
            return;
        };
        match t {
            // Password, SASL and GSS responses (no record of their content), Terminate.
            b'p' | b'X' => {}
            // Copy data, done and fail belong to the exchange in COPY IN, the one answered.
            b'd' | b'c' | b'f' => {
                if let Some(r) = self.ex.front_mut() {
                    r.client_messages.push(char::from(t));
                }
            }
            _ => {
                if !self.req_open || self.ex.is_empty() {
                    self.push("query", ts, cx, out);
                    self.req_open = true;
                }
                let r = self.ex.back_mut().expect("an open request");
                r.client_messages.push(char::from(t));
                match t {
                    b'Q' => r.queries.push(String::from_utf8_lossy(cstr(body).0).into_owned()),
                    b'P' => {
                        let q = cstr(body).1.map(|rest| cstr(rest).0);
                        match q {
                            Some(q) => r.queries.push(String::from_utf8_lossy(q).into_owned()),
                            None => out.error(E_MALFORMED),
                        }
                    }
                    _ => {}
                }
                if matches!(t, b'Q' | b'S' | b'F') {
                    self.req_open = false;
                }
            }
        }
    }

    /// An untyped first message: StartupMessage, SSLRequest, GSSENCRequest or CancelRequest.
    fn untyped(&mut self, body: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let Some(code) = be32(body) else {
            out.error(E_MALFORMED);
            return;
        };
        match code {
            SSL_REQUEST | GSSENC_REQUEST => {
                self.push(if code == SSL_REQUEST { "ssl" } else { "gssenc" }, ts, cx, out);
                self.server_answer = true;
            }
            CANCEL_REQUEST => {
                self.push("cancel", ts, cx, out);
                let n = self.ex.len();
                // No response comes: recorded now (after any exchange before it).
                for _ in 0..n {
                    self.emit_front(out);
                }
            }
            _ => {
                self.client_typed = true;
                let r = self.push("startup", ts, cx, out);
                r.protocol_version = code;
                if let Err(e) = startup_params(&body[4..], r) {
                    out.error(e);
                }
            }
        }
    }

    fn server_msg(&mut self, t: u8, body: &[u8], out: &mut Emitter<'_>) {
        let Some(r) = self.ex.front_mut() else { return };
        match t {
            b'R' => match be32(body) {
                Some(0) => {}
                Some(m) => r.auth_methods.push(m),
                None => out.error(E_MALFORMED),
            },
            b'S' if r.kind == "startup" => {
                let (name, rest) = cstr(body);
                let value = rest.map_or(&[][..], |v| cstr(v).0);
                if name == b"server_version" {
                    set(&mut r.server_version, value);
                }
                r.server_parameters.push(format!(
                    "{}={}",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value)
                ));
            }
            b'C' => r.command_tags.push(String::from_utf8_lossy(cstr(body).0).into_owned()),
            b'D' => r.rows += 1,
            b'E' => {
                if r.error_code.is_empty() && r.error_severity.is_empty() {
                    error_fields(body, r);
                }
                // A failed startup gets no ReadyForQuery: the server closes the connection.
                if r.kind == "startup" {
                    self.emit_front(out);
                }
            }
            b'Z' => {
                set(&mut r.transaction_status, body.get(..1).unwrap_or_default());
                if self.ex.len() == 1 {
                    self.req_open = false;
                }
                self.emit_front(out);
            }
            _ => {}
        }
    }

    /// Records the oldest exchange (its endpoints were set when it started).
    fn emit_front(&mut self, out: &mut Emitter<'_>) {
        if let Some(r) = self.ex.pop_front() {
            out.record(T_POSTGRES, &r);
        }
    }

    /// Bytes of direction `dir` are missing: the message in progress is read as far as it got,
    /// and the connection is read no further (what follows need not start a message).
    pub fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        self.flush(dir, cx, out);
        out.error(E_GAP);
        Flow::Stop
    }

    fn flush(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let i = dir.index();
        if self.rd[i].dead || !self.rd[i].partial() {
            return;
        }
        if self.rd[i].in_body() {
            let typed = dir == Dir::ToClient || self.client_typed;
            self.message(dir, typed, cx, out);
        }
        self.rd[i].reset();
        self.rd[i].dead = true;
    }

    /// The connection ended: messages cut short are read as far as they got, and the
    /// exchanges still waiting are recorded (those without their response with an error).
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            if !self.rd[dir.index()].dead && self.rd[dir.index()].partial() {
                out.error(E_TRUNCATED);
                self.flush(dir, cx, out);
            }
        }
        while let Some(r) = self.ex.front() {
            let answered = match r.kind.as_str() {
                "startup" => !r.error_code.is_empty(),
                "ssl" | "gssenc" => !r.ssl_response.is_empty(),
                "query" => !r.transaction_status.is_empty(),
                _ => true,
            };
            if !answered {
                out.error(E_NO_RESPONSE);
            }
            self.emit_front(out);
        }
    }
}

/// The StartupMessage's parameters (name, value, ..., empty name).
pub fn startup_params(mut b: &[u8], r: &mut PostgreSql) -> Result<(), &'static str> {
    loop {
        let (name, Some(rest)) = cstr(b) else { return Err(E_MALFORMED) };
        if name.is_empty() {
            return Ok(());
        }
        let (value, next) = cstr(rest);
        match name {
            b"user" => set(&mut r.user, value),
            b"database" => set(&mut r.database, value),
            b"application_name" => set(&mut r.application_name, value),
            _ => {}
        }
        r.parameters.push(format!("{}={}", String::from_utf8_lossy(name), String::from_utf8_lossy(value)));
        b = next.ok_or(E_MALFORMED)?;
    }
}

/// The fields of an ErrorResponse: severity (S), SQLSTATE code (C), message (M).
pub fn error_fields(mut b: &[u8], r: &mut PostgreSql) {
    while let Some((&code, rest)) = b.split_first() {
        if code == 0 {
            return;
        }
        let (v, next) = cstr(rest);
        match code {
            b'S' => set(&mut r.error_severity, v),
            b'C' => set(&mut r.error_code, v),
            b'M' => set(&mut r.error_message, v),
            _ => {}
        }
        let Some(n) = next else { return };
        b = n;
    }
}
