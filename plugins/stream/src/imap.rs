//! IMAP over one reassembled connection (RFC 9051 / 3501, STARTTLS, AUTHENTICATE, literals):
//! one `IMAP` record per session with every tagged command and its tagged status, and the
//! messages fetched whole (`BODY[]`, `RFC822`) as `Mail` and `File` records ([`crate::mail`]).
//!
//! Lines may carry literals (`{n}` or `{n+}` at a line end, then `n` raw bytes, then the line
//! goes on), in both directions: they are read by length, never as lines. A client literal is
//! kept in the command's argument up to [`MAX_ARG`] bytes (a LOGIN password may be one); a server
//! literal that is a whole message becomes a Mail. Tagged replies complete the command with the
//! same tag; `+` continuations during AUTHENTICATE make the client's next lines auth data. After
//! `OK` to STARTTLS the connection is TLS ([`Conn::take_upgrade`]).

use crate::line::{LineBuf, Next};
use crate::mail::{self, Envelope, Object};
use crate::smtp::{file_id, trim_eol};
use crate::{Ctx, T_IMAP};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// Entries per IMAP record before a new part begins.
pub const MAX_COMMANDS: usize = 256;
/// Bytes of a command's argument kept (literals included).
pub const MAX_ARG: usize = 1024;
const MAX_HELD: usize = 64 * 1024;
/// Commands waiting for their tagged reply, at most (older ones stay without status).
const MAX_PENDING: usize = 64;

/// The IMAP port.
pub const PORT: u16 = 143;

/// Whether `b` (a server's first bytes) is an IMAP greeting `* OK`, `* PREAUTH` or `* BYE`:
/// `None` when too short.
pub fn sniff_greeting(b: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for g in [&b"* OK"[..], b"* PREAUTH", b"* BYE"] {
        let n = b.len().min(g.len());
        if b[..n].eq_ignore_ascii_case(&g[..n]) {
            if n == g.len() {
                return Some(true);
            }
            undecided = true;
        }
    }
    if undecided { None } else { Some(false) }
}

/// The literal announced at the end of a line (`{n}` or `{n+}`), if any.
fn literal_len(line: &[u8]) -> Option<u64> {
    let l = line.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&c| c == b'{')?;
    let n = &l[open + 1..];
    let n = n.strip_suffix(b"+").unwrap_or(n);
    if n.is_empty() || !n.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// Per-connection IMAP state.
#[derive(Default)]
pub struct Conn {
    rec: v1::Imap,
    started: bool,
    lines: [LineBuf; 2],
    client_lost: bool,
    server_lost: bool,
    await_tls: Option<Vec<u8>>,
    /// A client command being read across literals: its entry index.
    client_cont: Option<usize>,
    client_literal: u64,
    server_literal: u64,
    /// The server line being read goes on after a literal.
    server_cont: bool,
    in_auth: bool,
    /// Indexes of entries still waiting for their tagged reply.
    pending: Vec<usize>,
    message: Option<Object>,
    files: u64,
    upgrade: Option<(Vec<u8>, Vec<u8>)>,
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

    /// After `OK` to STARTTLS: the client's and the server's bytes after it, once.
    pub fn take_upgrade(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.upgrade.take()
    }

    /// Direction `dir` is not IMAP: not read.
    pub fn ignore(&mut self, dir: Dir) {
        match dir {
            Dir::ToServer => self.client_lost = true,
            Dir::ToClient => self.server_lost = true,
        }
    }

    /// Bytes of one direction were not captured: that direction is not read any more.
    pub fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        out.error("imap: gap");
        if dir == Dir::ToClient {
            self.end_message(false, cx, out);
        }
        self.ignore(dir);
    }

    /// End of the connection (or of its plaintext part): the session record.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if self.message.is_some() {
            out.error("imap: message truncated");
        }
        self.end_message(false, cx, out);
        self.emit(cx, out);
    }

    /// Whether both directions are unreadable.
    pub fn done(&self) -> bool {
        self.client_lost && self.server_lost
    }

    fn client_bytes(&mut self, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() && !self.client_lost {
            if let Some(held) = self.await_tls.as_mut() {
                let room = MAX_HELD.saturating_sub(held.len());
                held.extend_from_slice(&b[..room.min(b.len())]);
                return;
            }
            if self.client_literal > 0 {
                let n = self.client_literal.min(b.len() as u64) as usize;
                self.client_literal -= n as u64;
                if let Some(i) = self.client_cont {
                    append_arg(&mut self.rec.commands[i].argument, &b[..n]);
                }
                b = &b[n..];
                continue;
            }
            let (line, rest) = match self.lines[0].next(b, cx.meta.ts_nanos, false) {
                Next::Line { line, rest, .. } => (line, rest),
                Next::More { too_long } => {
                    if too_long {
                        out.error("imap: line too long");
                    }
                    return;
                }
            };
            b = rest;
            let line = trim_eol(&line);
            let lit = literal_len(line);
            if let Some(i) = self.client_cont.take() {
                // The rest of a command after a literal.
                append_arg(&mut self.rec.commands[i].argument, line);
                if let Some(n) = lit {
                    self.client_literal = n;
                    self.client_cont = Some(i);
                }
                continue;
            }
            let text = String::from_utf8_lossy(line).into_owned();
            if self.in_auth {
                self.rec.commands.push(v1::ImapCommand {
                    timestamp: self.lines[0].ts,
                    argument: text,
                    auth_data: true,
                    ..Default::default()
                });
                continue;
            }
            let mut words = text.splitn(3, ' ');
            let tag = words.next().unwrap_or_default().to_string();
            let mut command = words.next().unwrap_or_default().to_string();
            let mut argument = words.next().unwrap_or_default().to_string();
            let uid = command.eq_ignore_ascii_case("UID");
            if uid {
                let (c, a) = argument.split_once(' ').unwrap_or((&argument, ""));
                (command, argument) = (c.to_string(), a.to_string());
            }
            let mut cut = MAX_ARG.min(argument.len());
            while !argument.is_char_boundary(cut) {
                cut -= 1;
            }
            argument.truncate(cut);
            let upper = command.to_ascii_uppercase();
            match upper.as_str() {
                "LOGIN" => self.rec.user = first_astring(&argument),
                "AUTHENTICATE" => {
                    let mech = argument.split(' ').next().unwrap_or_default().to_ascii_uppercase();
                    self.rec.auth_mechanisms.push(mech);
                }
                "STARTTLS" => self.await_tls = Some(Vec::new()),
                _ => {}
            }
            let i = self.rec.commands.len();
            self.rec.commands.push(v1::ImapCommand {
                timestamp: self.lines[0].ts,
                tag,
                command,
                argument,
                uid,
                ..Default::default()
            });
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push(i);
            if let Some(n) = lit {
                self.client_literal = n;
                self.client_cont = Some(i);
            }
        }
    }

    fn server_bytes(&mut self, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() && !self.server_lost {
            if self.server_literal > 0 {
                let n = self.server_literal.min(b.len() as u64) as usize;
                self.server_literal -= n as u64;
                if let Some(m) = self.message.as_mut() {
                    m.push(&b[..n], out);
                }
                b = &b[n..];
                if self.server_literal == 0 {
                    self.end_message(true, cx, out);
                }
                continue;
            }
            let line = match self.lines[1].next(b, cx.meta.ts_nanos, false) {
                Next::Line { line, rest, .. } => {
                    b = rest;
                    line
                }
                Next::More { too_long } => {
                    if too_long {
                        out.error("imap: line too long");
                    }
                    return;
                }
            };
            let line = trim_eol(&line);
            let cont = std::mem::take(&mut self.server_cont);
            if let Some(n) = literal_len(line) {
                self.server_literal = n;
                self.server_cont = true;
                if whole_message(line) {
                    self.files += 1;
                    let id = file_id(cx, self.files);
                    self.message = Some(Object::new(cx.meta.ts_nanos, mail::MAX_PARSE, Some(id), cx.enabled.extract));
                    if n == 0 {
                        self.end_message(true, cx, out);
                    }
                }
            }
            if !cont {
                self.server_line(line, cx, out);
            }
            if let Some(u) = self.upgrade.as_mut() {
                u.1 = b.to_vec();
                return;
            }
        }
    }

    fn server_line(&mut self, line: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let text = String::from_utf8_lossy(line);
        if text.starts_with('+') {
            // A continuation: during AUTHENTICATE the client's next lines are SASL data.
            let last = self.rec.commands.last();
            self.in_auth = last.is_some_and(|c| c.auth_data || c.command.eq_ignore_ascii_case("AUTHENTICATE"));
            return;
        }
        let (tag, rest) = text.split_once(' ').unwrap_or((&text, ""));
        if tag == "*" {
            if self.rec.greeting.is_empty() && self.rec.commands.is_empty() {
                self.rec.greeting = rest.to_string();
            }
            return;
        }
        let (status, reply) = rest.split_once(' ').unwrap_or((rest, ""));
        let status = status.to_ascii_uppercase();
        if !matches!(status.as_str(), "OK" | "NO" | "BAD") {
            out.error("imap: bad reply");
        }
        self.in_auth = false;
        let Some(k) = self.pending.iter().position(|&i| self.rec.commands[i].tag == tag) else {
            // A reply whose command was not seen (a capture of the server's side only).
            self.rec.commands.push(v1::ImapCommand {
                timestamp: self.lines[1].ts,
                tag: tag.to_string(),
                status,
                reply_text: reply.to_string(),
                ..Default::default()
            });
            return;
        };
        let i = self.pending.remove(k);
        let e = &mut self.rec.commands[i];
        e.status = status.clone();
        e.reply_text = reply.to_string();
        if e.command.eq_ignore_ascii_case("STARTTLS") {
            let held = self.await_tls.take().unwrap_or_default();
            if status == "OK" {
                self.rec.starttls = true;
                self.client_lost = true;
                self.server_lost = true;
                self.upgrade = Some((held, Vec::new()));
            } else if !held.is_empty() {
                self.client_bytes(&held, cx, out);
            }
        }
        let n = self.rec.commands.len();
        if (n >= MAX_COMMANDS && self.pending.is_empty()) || n >= 2 * MAX_COMMANDS {
            self.pending.clear();
            self.emit(cx, out);
        }
    }

    fn emit(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let r = &self.rec;
        let empty = r.commands.is_empty() && r.greeting.is_empty() && r.mail_ids.is_empty();
        if !empty && cx.enabled.imap {
            out.record(T_IMAP, r);
        }
        self.rec = v1::Imap {
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
        let env = Envelope { source: "imap", ..Default::default() };
        let files = &mut self.files;
        let mut next = || {
            *files += 1;
            file_id(cx, *files)
        };
        let id = mail::finish_message(m, complete, env, Dir::ToClient, cx, &mut next, out);
        self.rec.mail_ids.push(id);
    }
}

/// Whether a FETCH response line announces a whole message as its literal: `BODY[] {n}`,
/// `BODY[]<0> {n}` or `RFC822 {n}` (not RFC822.HEADER, RFC822.TEXT or a section).
fn whole_message(line: &[u8]) -> bool {
    let Some(open) = line.iter().rposition(|&c| c == b'{') else { return false };
    let head = String::from_utf8_lossy(&line[..open]).to_ascii_uppercase();
    let head = head.trim_end();
    let head = head.strip_suffix("<0>").unwrap_or(head);
    head.ends_with("BODY[]") || head.ends_with(" RFC822") || head.ends_with("(RFC822")
}

/// The first astring of a LOGIN argument (atom or quoted string).
fn first_astring(arg: &str) -> String {
    if let Some(q) = arg.strip_prefix('"') {
        let mut s = String::new();
        let mut esc = false;
        for c in q.chars() {
            match (esc, c) {
                (false, '\\') => esc = true,
                (false, '"') => break,
                _ => {
                    s.push(c);
                    esc = false;
                }
            }
        }
        return s;
    }
    arg.split(' ').next().unwrap_or_default().to_string()
}

fn append_arg(arg: &mut String, b: &[u8]) {
    let room = MAX_ARG.saturating_sub(arg.len());
    let s = String::from_utf8_lossy(&b[..room.min(b.len())]);
    arg.push_str(&s);
}
