//! SMTP over one reassembled connection (RFC 5321, PIPELINING RFC 2920, CHUNKING RFC 3030,
//! STARTTLS RFC 3207, AUTH RFC 4954): one `SMTP` record per session with every command and its
//! reply, and the messages sent with DATA or BDAT as `Mail` and `File` records ([`crate::mail`]).
//!
//! Commands are client lines; replies are server lines `ddd-text` (continued) and `ddd text`
//! (last), matched to commands in order. DATA content starts right after the DATA command (as
//! tshark reads it) and is given up when the reply to DATA is not 354 before any content came;
//! it ends at a line holding only ".", with dot-stuffing removed. BDAT chunks are taken by
//! length. After a 220 reply to STARTTLS the connection is TLS: [`Conn::take_upgrade`] hands the
//! bytes after it to the TLS reader.
//!
//! Lines are kept up to [`MAX_LINE`] bytes (longer ones are cut, with an error); the session
//! record holds at most [`MAX_COMMANDS`] entries, then it is emitted and a new part begins.

use crate::mail::{self, Envelope, Object};
use crate::{Ctx, T_SMTP};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// Longest command or reply line kept (RFC 5321 4.5.3.1 allows 512 and 1000 for text lines).
pub const MAX_LINE: usize = 4096;
/// Entries per SMTP record before a new part begins.
pub const MAX_COMMANDS: usize = 256;
/// Client bytes held after STARTTLS until the server answers.
const MAX_HELD: usize = 64 * 1024;

/// The SMTP ports: a server there is taken as SMTP when its first bytes are a reply line.
pub const PORTS: [u16; 3] = [25, 587, 2525];

/// Whether `b` (a client's first bytes) start an SMTP session (EHLO or HELO): `None` when too
/// short to tell.
pub fn sniff_client(b: &[u8]) -> Option<bool> {
    verb_is(b, &[b"EHLO", b"HELO"])
}

/// Whether `b` (a server's first bytes) is a reply line `ddd` followed by space, `-` or CR:
/// `None` when too short to tell.
pub fn sniff_reply(b: &[u8]) -> Option<bool> {
    for (i, &c) in b.iter().take(4).enumerate() {
        let ok = if i < 3 { c.is_ascii_digit() } else { matches!(c, b' ' | b'-' | b'\r' | b'\n') };
        if !ok {
            return Some(false);
        }
    }
    if b.len() >= 4 { Some(true) } else { None }
}

/// Whether the first word of `b` is one of `verbs` (any case) followed by a space or a line end.
pub(crate) fn verb_is(b: &[u8], verbs: &[&[u8]]) -> Option<bool> {
    let mut undecided = false;
    for v in verbs {
        let n = b.len().min(v.len());
        if !b[..n].eq_ignore_ascii_case(&v[..n]) {
            continue;
        }
        match b.get(v.len()) {
            None => undecided = true,
            Some(b' ' | b'\r' | b'\n') => return Some(true),
            Some(_) => {}
        }
    }
    if undecided { None } else { Some(false) }
}

/// What the client side is reading.
enum Client {
    Commands,
    /// DATA content; `mid_line` when the last bytes given were not a whole line.
    Data {
        mid_line: bool,
    },
    /// BDAT chunk bytes left, and whether it is the last.
    Bdat {
        left: u64,
        last: bool,
    },
    /// STARTTLS sent: bytes held until the reply.
    AwaitTls(Vec<u8>),
    /// Unreadable from here (gap).
    Lost,
}

/// Per-connection SMTP state.
pub struct Conn {
    rec: v1::Smtp,
    started: bool,
    lines: [Vec<u8>; 2],
    /// The current line was cut at [`MAX_LINE`]: its rest is dropped.
    skipping: [bool; 2],
    line_ts: [i64; 2],
    client: Client,
    server_lost: bool,
    /// Trailing entries of `rec.commands` still waiting for their reply.
    pending: usize,
    /// Text of the reply being read (continuation lines).
    reply: String,
    in_auth: bool,
    envelope: Envelope,
    message: Option<Object>,
    /// Content entries' file ids given so far.
    files: u64,
    upgrade: Option<(Vec<u8>, Vec<u8>)>,
    /// The host's client is the SMTP server (the capture started after the handshake).
    swap: bool,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            rec: v1::Smtp::default(),
            started: false,
            lines: Default::default(),
            skipping: [false; 2],
            line_ts: [0; 2],
            client: Client::Commands,
            server_lost: false,
            pending: 0,
            reply: String::new(),
            in_auth: false,
            envelope: Envelope { source: "smtp", ..Default::default() },
            message: None,
            files: 0,
            upgrade: None,
            swap: false,
        }
    }
}

impl Conn {
    /// A session whose host-side client is the SMTP server (its first sender was the server).
    pub fn swapped() -> Self {
        Conn { swap: true, ..Conn::default() }
    }

    /// The host direction `dir` as SMTP sees it (client to server is `ToServer`).
    fn role(&self, dir: Dir) -> Dir {
        if self.swap { crate::other(dir) } else { dir }
    }

    /// Bytes of one direction.
    pub fn data(&mut self, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        self.start(cx);
        match self.role(dir) {
            Dir::ToServer => self.client_bytes(b, cx, out),
            Dir::ToClient => self.server_bytes(b, cx, out),
        }
    }

    /// After a 220 reply to STARTTLS: the client's and the server's bytes after it (the
    /// connection continues as TLS), once.
    pub fn take_upgrade(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.upgrade.take()
    }

    /// Direction `dir` is not SMTP (its first bytes were none of ours): not read.
    pub fn ignore(&mut self, dir: Dir) {
        match self.role(dir) {
            Dir::ToServer => self.client = Client::Lost,
            Dir::ToClient => self.server_lost = true,
        }
    }

    /// Bytes of one direction were not captured.
    pub fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        out.error("smtp: gap");
        let dir = self.role(dir);
        match dir {
            Dir::ToServer => {
                self.end_message(false, cx, out);
                self.client = Client::Lost;
            }
            Dir::ToClient => self.server_lost = true,
        }
        self.lines[idx(dir)].clear();
    }

    /// End of the connection (or of its plaintext part): the session record.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if matches!(self.client, Client::Data { .. } | Client::Bdat { .. }) && self.message.is_some() {
            out.error("smtp: message truncated");
        }
        self.end_message(false, cx, out);
        self.emit(cx, out);
    }

    /// Whether both directions are unreadable.
    pub fn done(&self) -> bool {
        matches!(self.client, Client::Lost) && self.server_lost
    }

    fn start(&mut self, cx: &Ctx<'_>) {
        if self.started {
            return;
        }
        self.started = true;
        self.rec.timestamp = cx.meta.ts_nanos;
        self.rec.tunnel_depth = u32::from(cx.info.tunnel_depth);
        let client = self.role(Dir::ToServer);
        (self.rec.src_port, self.rec.dst_port) = cx.endpoints(client, &mut self.rec.src_ip, &mut self.rec.dst_ip);
    }

    fn client_bytes(&mut self, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() {
            match &mut self.client {
                Client::Lost => return,
                Client::AwaitTls(held) => {
                    let room = MAX_HELD.saturating_sub(held.len());
                    held.extend_from_slice(&b[..room.min(b.len())]);
                    return;
                }
                Client::Bdat { left, last } => {
                    let n = (*left).min(b.len() as u64) as usize;
                    *left -= n as u64;
                    let last = *last;
                    let done = *left == 0;
                    if let Some(m) = self.message.as_mut() {
                        m.push(&b[..n], out);
                    }
                    b = &b[n..];
                    if done {
                        self.client = Client::Commands;
                        if last {
                            self.end_message(true, cx, out);
                        }
                    }
                }
                Client::Data { .. } | Client::Commands => {
                    let Some((line, rest)) = self.next_line(Dir::ToServer, b, cx, out) else { return };
                    b = rest;
                    self.client_line(&line, cx, out);
                }
            }
        }
    }

    /// Takes the next whole line of `dir` from its buffer and `b`: the line (with its line end)
    /// and what follows it; `None` when `b` ended inside a line (kept). A line over
    /// [`MAX_LINE`] is cut; in DATA content its start is given as a line of its own.
    fn next_line<'b>(
        &mut self,
        dir: Dir,
        b: &'b [u8],
        cx: &Ctx<'_>,
        out: &mut Emitter<'_>,
    ) -> Option<(Vec<u8>, &'b [u8])> {
        let d = idx(dir);
        if self.lines[d].is_empty() && !self.skipping[d] {
            self.line_ts[d] = cx.meta.ts_nanos;
        }
        let content = dir == Dir::ToServer && matches!(self.client, Client::Data { .. });
        let nl = b.iter().position(|&c| c == b'\n');
        let take = nl.map_or(b.len(), |i| i + 1);
        if content {
            // Message content is never dropped: a long line goes to the message in pieces.
            self.lines[d].extend_from_slice(&b[..take]);
        } else if !self.skipping[d] {
            let room = MAX_LINE.saturating_sub(self.lines[d].len());
            self.lines[d].extend_from_slice(&b[..room.min(take)]);
        }
        let rest = &b[take..];
        if nl.is_some() {
            self.skipping[d] = false;
            return Some((std::mem::take(&mut self.lines[d]), rest));
        }
        if self.lines[d].len() >= MAX_LINE {
            if let (true, Client::Data { mid_line }) = (content, &mut self.client) {
                let part = std::mem::take(&mut self.lines[d]);
                let at_start = !std::mem::replace(mid_line, true);
                let part = if at_start && part.first() == Some(&b'.') { &part[1..] } else { &part[..] };
                if let Some(m) = self.message.as_mut() {
                    m.push(part, out);
                }
            } else if !self.skipping[d] {
                self.skipping[d] = true;
                out.error("smtp: line too long");
            }
        }
        None
    }

    fn client_line(&mut self, line: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if let Client::Data { mid_line } = &mut self.client {
            let at_start = !std::mem::replace(mid_line, false);
            let bare = trim_eol(line);
            if at_start && bare == b"." {
                self.client = Client::Commands;
                self.push_entry(String::new(), String::new(), false, true);
                self.end_message(true, cx, out);
                return;
            }
            let content = if at_start && line.first() == Some(&b'.') { &line[1..] } else { line };
            if let Some(m) = self.message.as_mut() {
                m.push(content, out);
            }
            return;
        }
        let text = String::from_utf8_lossy(trim_eol(line)).into_owned();
        if self.in_auth {
            self.push_entry(String::new(), text, true, false);
            return;
        }
        let (verb, arg) = text.split_once(' ').unwrap_or((&text, ""));
        let (verb, arg) = (verb.to_string(), arg.to_string());
        let upper = verb.to_ascii_uppercase();
        match upper.as_str() {
            "EHLO" | "HELO" => self.rec.helo = arg.trim().to_string(),
            "MAIL" => {
                let a = path(&arg, "FROM:");
                self.envelope.from = a.clone();
                self.envelope.to.clear();
                self.rec.mail_from.push(a);
            }
            "RCPT" => {
                let a = path(&arg, "TO:");
                self.envelope.to.push(a.clone());
                self.rec.rcpt_to.push(a);
            }
            "AUTH" => {
                let mech = arg.split(' ').next().unwrap_or_default().to_ascii_uppercase();
                self.rec.auth_mechanisms.push(mech);
            }
            "DATA" => {
                self.begin_message(cx);
                self.client = Client::Data { mid_line: false };
            }
            "BDAT" => {
                let mut words = arg.split_ascii_whitespace();
                let size = words.next().and_then(|n| n.parse::<u64>().ok());
                let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
                match size {
                    Some(left) => {
                        if self.message.is_none() {
                            self.begin_message(cx);
                        }
                        self.client = Client::Bdat { left, last };
                        if left == 0 && last {
                            self.client = Client::Commands;
                            self.end_message(true, cx, out);
                        }
                    }
                    None => out.error("smtp: bad BDAT size"),
                }
            }
            "STARTTLS" => self.client = Client::AwaitTls(Vec::new()),
            "RSET" => {
                self.envelope.to.clear();
            }
            _ => {}
        }
        self.push_entry(verb, arg, false, false);
    }

    fn push_entry(&mut self, command: String, argument: String, auth_data: bool, end_of_data: bool) {
        self.rec.commands.push(v1::SmtpCommand {
            timestamp: self.line_ts[0],
            command,
            argument,
            auth_data,
            end_of_data,
            ..Default::default()
        });
        self.pending += 1;
    }

    fn server_bytes(&mut self, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() && !self.server_lost {
            let Some((line, rest)) = self.next_line(Dir::ToClient, b, cx, out) else { return };
            b = rest;
            let line = trim_eol(&line);
            let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default());
            if !self.reply.is_empty() || line.get(3) == Some(&b'-') {
                if !self.reply.is_empty() {
                    self.reply.push('\n');
                }
                self.reply.push_str(&text);
            }
            if line.get(3) == Some(&b'-') {
                continue;
            }
            let code = std::str::from_utf8(line.get(..3).unwrap_or_default())
                .ok()
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(0);
            let text = if self.reply.is_empty() { text.into_owned() } else { std::mem::take(&mut self.reply) };
            if code == 0 {
                out.error("smtp: bad reply");
            }
            self.reply_done(code, text, cx, out);
            if let Some(u) = self.upgrade.as_mut() {
                u.1 = b.to_vec();
                return;
            }
        }
    }

    /// A whole reply: matched to the oldest command waiting for one.
    fn reply_done(&mut self, code: u32, text: String, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if self.pending == 0 {
            if self.rec.greeting_code == 0 && self.rec.commands.is_empty() {
                self.rec.greeting_code = code;
                self.rec.greeting = text;
            } else {
                // An unsolicited reply (e.g. 421 before closing), or one whose command was not seen.
                self.rec.commands.push(v1::SmtpCommand {
                    timestamp: self.line_ts[1],
                    reply_code: code,
                    reply_text: text,
                    ..Default::default()
                });
                self.maybe_split(cx, out);
            }
            return;
        }
        let i = self.rec.commands.len() - self.pending;
        self.pending -= 1;
        let e = &mut self.rec.commands[i];
        e.reply_code = code;
        e.reply_text = text;
        let verb = e.command.to_ascii_uppercase();
        let auth = verb == "AUTH" || e.auth_data;
        self.in_auth = auth && code == 334;
        match verb.as_str() {
            // Refused: the client sends no content (as long as none came yet).
            "DATA"
                if code != 354
                    && matches!(self.client, Client::Data { mid_line: false })
                    && self.message.as_ref().is_some_and(|m| m.size == 0) =>
            {
                self.message = None;
                self.client = Client::Commands;
            }
            "STARTTLS" => {
                if let Client::AwaitTls(held) = std::mem::replace(&mut self.client, Client::Commands) {
                    if code == 220 {
                        self.rec.starttls = true;
                        self.client = Client::Lost;
                        self.server_lost = true;
                        self.upgrade = Some((held, Vec::new()));
                    } else if !held.is_empty() {
                        self.client_bytes(&held, cx, out);
                    }
                }
            }
            _ => {}
        }
        self.maybe_split(cx, out);
    }

    /// A long session: the record so far is emitted and a new part begins.
    fn maybe_split(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let n = self.rec.commands.len();
        if (n >= MAX_COMMANDS && self.pending == 0) || n >= 2 * MAX_COMMANDS {
            self.pending = 0;
            self.emit(cx, out);
        }
    }

    /// Emits the record (if there is anything in it) and starts the next part.
    fn emit(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let r = &self.rec;
        let empty = r.commands.is_empty() && r.greeting_code == 0 && r.mail_ids.is_empty();
        if !empty && cx.enabled.smtp {
            out.record(T_SMTP, r);
        }
        let next = v1::Smtp {
            timestamp: cx.meta.ts_nanos,
            src_ip: r.src_ip.clone(),
            dst_ip: r.dst_ip.clone(),
            src_port: r.src_port,
            dst_port: r.dst_port,
            part: r.part + u32::from(!empty),
            tunnel_depth: r.tunnel_depth,
            helo: r.helo.clone(),
            ..Default::default()
        };
        self.rec = next;
    }

    fn begin_message(&mut self, cx: &Ctx<'_>) {
        self.files += 1;
        let id = file_id(cx, self.files);
        self.message = Some(Object::new(cx.meta.ts_nanos, mail::MAX_PARSE, Some(id), cx.enabled.extract));
    }

    fn end_message(&mut self, complete: bool, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let Some(mut m) = self.message.take() else { return };
        if m.size == 0 && !complete {
            return;
        }
        if m.ts == 0 {
            m.ts = cx.meta.ts_nanos;
        }
        let env = Envelope { source: "smtp", from: self.envelope.from.clone(), to: self.envelope.to.clone() };
        let client = self.role(Dir::ToServer);
        let files = &mut self.files;
        let mut next = || {
            *files += 1;
            file_id(cx, *files)
        };
        let id = mail::finish_message(m, complete, env, client, cx, &mut next, out);
        self.rec.mail_ids.push(id);
    }
}

/// A content entry id unique in the decoder instance: the stream id and a counter of the
/// connection's objects.
pub(crate) fn file_id(cx: &Ctx<'_>, n: u64) -> u64 {
    (cx.meta.stream << 20) | (n & 0xf_ffff)
}

fn idx(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

pub(crate) fn trim_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// The address of a MAIL FROM / RCPT TO argument (`FROM:<a> SIZE=1` gives `a`).
pub fn path(arg: &str, prefix: &str) -> String {
    let a = arg.trim_start();
    let a = match (a.get(..prefix.len()), a.get(prefix.len()..)) {
        (Some(p), Some(rest)) if p.eq_ignore_ascii_case(prefix) => rest.trim_start(),
        _ => a,
    };
    if let Some(r) = a.strip_prefix('<') {
        return r.split('>').next().unwrap_or_default().to_string();
    }
    a.split(' ').next().unwrap_or_default().to_string()
}
