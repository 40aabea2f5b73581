//! POP3 over one reassembled connection (RFC 1939, CAPA and pipelining RFC 2449, STLS RFC 2595,
//! AUTH RFC 5034): one `POP3` record per session with every command and its status, and the
//! messages retrieved with RETR as `Mail` and `File` records ([`crate::mail`]).
//!
//! Replies (`+OK`, `-ERR`, and `+ ` SASL continuations) are matched to commands in order. A
//! positive reply to CAPA, RETR, TOP, and to LIST or UIDL without argument is followed by lines
//! up to a line holding only "." (dot-stuffing removed). After `+OK` to STLS the connection is TLS
//! ([`Conn::take_upgrade`]).

use crate::line::{LineBuf, Next};
use crate::mail::{self, Envelope, Object};
use crate::smtp::{file_id, trim_eol};
use crate::{Ctx, T_POP3};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// Entries per POP3 record before a new part begins.
pub const MAX_COMMANDS: usize = 256;
const MAX_HELD: usize = 64 * 1024;

/// The POP3 port.
pub const PORT: u16 = 110;

/// Whether `b` (a server's first bytes) is a POP3 greeting `+OK`: `None` when too short.
pub fn sniff_greeting(b: &[u8]) -> Option<bool> {
    let n = b.len().min(4);
    if b[..n] != b"+OK "[..n] && !(n == 4 && b.starts_with(b"+OK\r")) {
        Some(false)
    } else if n == 4 {
        Some(true)
    } else {
        None
    }
}

/// What the server side is reading.
enum Server {
    Replies,
    /// A multi-line reply to entry `entry`; RETR content goes to `message`.
    Multi,
    Lost,
}

/// Per-connection POP3 state.
pub struct Conn {
    rec: v1::Pop3,
    started: bool,
    lines: [LineBuf; 2],
    client_lost: bool,
    /// STLS sent: client bytes held until the reply.
    await_tls: Option<Vec<u8>>,
    server: Server,
    pending: usize,
    in_auth: bool,
    message: Option<Object>,
    files: u64,
    upgrade: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            rec: v1::Pop3::default(),
            started: false,
            lines: Default::default(),
            client_lost: false,
            await_tls: None,
            server: Server::Replies,
            pending: 0,
            in_auth: false,
            message: None,
            files: 0,
            upgrade: None,
        }
    }
}

impl Conn {
    /// Bytes of one direction.
    pub fn data(&mut self, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.started {
            self.started = true;
            self.rec.timestamp = cx.meta.ts_nanos;
            self.rec.tunnel_depth = u32::from(cx.info.tunnel_depth);
            (self.rec.src_port, self.rec.dst_port) =
                cx.endpoints(Dir::ToServer, &mut self.rec.src_ip, &mut self.rec.dst_ip);
        }
        match dir {
            Dir::ToServer => self.client_bytes(b, cx, out),
            Dir::ToClient => self.server_bytes(b, cx, out),
        }
    }

    /// After `+OK` to STLS: the client's and the server's bytes after it, once.
    pub fn take_upgrade(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.upgrade.take()
    }

    /// Direction `dir` is not POP3: not read.
    pub fn ignore(&mut self, dir: Dir) {
        match dir {
            Dir::ToServer => self.client_lost = true,
            Dir::ToClient => self.server = Server::Lost,
        }
    }

    /// Bytes of one direction were not captured.
    pub fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        out.error("pop3: gap");
        match dir {
            Dir::ToServer => self.client_lost = true,
            Dir::ToClient => {
                self.end_message(false, cx, out);
                self.server = Server::Lost;
            }
        }
        self.lines[usize::from(dir == Dir::ToClient)].clear();
    }

    /// End of the connection (or of its plaintext part): the session record.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if self.message.is_some() {
            out.error("pop3: message truncated");
        }
        self.end_message(false, cx, out);
        self.emit(cx, out);
    }

    /// Whether both directions are unreadable.
    pub fn done(&self) -> bool {
        self.client_lost && matches!(self.server, Server::Lost)
    }

    fn client_bytes(&mut self, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() && !self.client_lost {
            if let Some(held) = self.await_tls.as_mut() {
                let room = MAX_HELD.saturating_sub(held.len());
                held.extend_from_slice(&b[..room.min(b.len())]);
                return;
            }
            let (line, rest) = match self.lines[0].next(b, cx.meta.ts_nanos, false) {
                Next::Line { line, rest, .. } => (line, rest),
                Next::More { too_long } => {
                    if too_long {
                        out.error("pop3: line too long");
                    }
                    return;
                }
            };
            b = rest;
            let text = String::from_utf8_lossy(trim_eol(&line)).into_owned();
            let ts = self.lines[0].ts;
            if self.in_auth {
                self.push(ts, String::new(), text, true);
                continue;
            }
            let (verb, arg) = text.split_once(' ').unwrap_or((&text, ""));
            let (verb, arg) = (verb.to_string(), arg.to_string());
            match verb.to_ascii_uppercase().as_str() {
                "USER" => self.rec.user = arg.clone(),
                "APOP" => self.rec.user = arg.split(' ').next().unwrap_or_default().to_string(),
                "AUTH" if !arg.is_empty() => {
                    self.rec.auth_mechanisms.push(arg.split(' ').next().unwrap_or_default().to_ascii_uppercase());
                }
                "STLS" => self.await_tls = Some(Vec::new()),
                _ => {}
            }
            self.push(ts, verb, arg, false);
        }
    }

    fn push(&mut self, ts: i64, command: String, argument: String, auth_data: bool) {
        self.rec.commands.push(v1::Pop3Command { timestamp: ts, command, argument, auth_data, ..Default::default() });
        self.pending += 1;
    }

    fn server_bytes(&mut self, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() {
            let multi = match self.server {
                Server::Lost => return,
                Server::Multi => true,
                Server::Replies => false,
            };
            let content = multi && self.message.is_some();
            let (line, at_start, rest) = match self.lines[1].next(b, cx.meta.ts_nanos, content) {
                Next::Line { line, at_start, rest } => (line, at_start, rest),
                Next::More { too_long } => {
                    if too_long {
                        out.error("pop3: line too long");
                    }
                    return;
                }
            };
            b = rest;
            if multi {
                if at_start && trim_eol(&line) == b"." {
                    self.server = Server::Replies;
                    self.end_message(true, cx, out);
                } else if let Some(m) = self.message.as_mut() {
                    m.push(if at_start && line.first() == Some(&b'.') { &line[1..] } else { &line }, out);
                }
                continue;
            }
            self.reply(trim_eol(&line), cx, out);
            if let Some(u) = self.upgrade.as_mut() {
                u.1 = b.to_vec();
                return;
            }
        }
    }

    /// A status line: matched to the oldest command waiting for one.
    fn reply(&mut self, line: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let text = String::from_utf8_lossy(line);
        let (status, rest) = if let Some(r) = text.strip_prefix("+OK") {
            ("+OK", r)
        } else if let Some(r) = text.strip_prefix("-ERR") {
            ("-ERR", r)
        } else if let Some(r) = text.strip_prefix('+') {
            ("+", r)
        } else {
            out.error("pop3: bad reply");
            ("", &text[..])
        };
        let rest = rest.strip_prefix(' ').unwrap_or(rest).to_string();
        if self.pending == 0 {
            if self.rec.greeting.is_empty() && self.rec.commands.is_empty() && status == "+OK" {
                self.rec.greeting = rest;
            } else {
                self.rec.commands.push(v1::Pop3Command {
                    timestamp: self.lines[1].ts,
                    status: status.into(),
                    reply_text: rest,
                    ..Default::default()
                });
                self.maybe_split(cx, out);
            }
            return;
        }
        let i = self.rec.commands.len() - self.pending;
        self.pending -= 1;
        let e = &mut self.rec.commands[i];
        e.status = status.into();
        e.reply_text = rest;
        let verb = e.command.to_ascii_uppercase();
        let has_arg = !e.argument.trim().is_empty();
        self.in_auth = status == "+" && (verb == "AUTH" || e.auth_data);
        if status == "+OK" {
            match verb.as_str() {
                "CAPA" | "RETR" | "TOP" => self.server = Server::Multi,
                "LIST" | "UIDL" if !has_arg => self.server = Server::Multi,
                _ => {}
            }
            if verb == "RETR" {
                self.files += 1;
                let id = file_id(cx, self.files);
                self.message = Some(Object::new(cx.meta.ts_nanos, mail::MAX_PARSE, Some(id), cx.enabled.extract));
            }
        }
        if verb == "STLS" {
            let held = self.await_tls.take().unwrap_or_default();
            if status == "+OK" {
                self.rec.stls = true;
                self.client_lost = true;
                self.server = Server::Lost;
                self.upgrade = Some((held, Vec::new()));
            } else if !held.is_empty() {
                self.client_bytes(&held, cx, out);
            }
        }
        self.maybe_split(cx, out);
    }

    fn maybe_split(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let n = self.rec.commands.len();
        if (n >= MAX_COMMANDS && self.pending == 0) || n >= 2 * MAX_COMMANDS {
            self.pending = 0;
            self.emit(cx, out);
        }
    }

    fn emit(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let r = &self.rec;
        let empty = r.commands.is_empty() && r.greeting.is_empty() && r.mail_ids.is_empty();
        if !empty && cx.enabled.pop3 {
            out.record(T_POP3, r);
        }
        self.rec = v1::Pop3 {
            timestamp: cx.meta.ts_nanos,
            src_ip: r.src_ip.clone(),
            dst_ip: r.dst_ip.clone(),
            src_port: r.src_port,
            dst_port: r.dst_port,
            part: r.part + u32::from(!empty),
            tunnel_depth: r.tunnel_depth,
            user: r.user.clone(),
            ..Default::default()
        };
    }

    fn end_message(&mut self, complete: bool, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let Some(m) = self.message.take() else { return };
        let env = Envelope { source: "pop3", ..Default::default() };
        let files = &mut self.files;
        let mut next = || {
            *files += 1;
            file_id(cx, *files)
        };
        let id = mail::finish_message(m, complete, env, Dir::ToClient, cx, &mut next, out);
        self.rec.mail_ids.push(id);
    }
}
