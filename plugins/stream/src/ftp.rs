//! FTP control connections (RFC 959, EPRT/EPSV RFC 2428, AUTH TLS RFC 4217): one `FTP` record
//! per session with every command and its replies, the user, the current directory as it
//! changes, and the transfers announced (RETR, STOR, STOU, APPE, LIST, NLST, MLSD) with their
//! file name, path, size and data endpoint (from PASV, EPSV, PORT or EPRT).
//!
//! Replies are `ddd text` lines, or `ddd-text` followed by lines up to one starting with the same
//! code and a space. A 1xx reply is preliminary (the command stays waiting for its final reply);
//! replies are matched to commands in order. After `234` to AUTH TLS/SSL the connection is TLS
//! ([`Conn::take_upgrade`]).

use crate::line::{LineBuf, Next};
use crate::smtp::trim_eol;
use crate::{Ctx, T_FTP};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// Entries per FTP record before a new part begins.
pub const MAX_COMMANDS: usize = 512;
const MAX_HELD: usize = 64 * 1024;
/// Lines of one multi-line reply kept in its text.
const MAX_REPLY_LINES: usize = 64;

/// The FTP control port.
pub const PORT: u16 = 21;

/// Whether `b` (a client's first bytes) starts with a command that opens FTP sessions.
pub fn sniff_client(b: &[u8]) -> Option<bool> {
    crate::smtp::verb_is(b, &[b"USER", b"AUTH", b"FEAT", b"SYST", b"OPTS"])
}

/// Per-connection FTP state.
pub struct Conn {
    rec: v1::Ftp,
    started: bool,
    lines: [LineBuf; 2],
    client_lost: bool,
    server_lost: bool,
    await_tls: Option<Vec<u8>>,
    pending: usize,
    /// A multi-line reply being read: its code and text.
    multi: Option<(u32, String, usize)>,
    /// The data endpoint announced last (PASV/EPSV reply, PORT/EPRT argument).
    endpoint: String,
    upgrade: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            rec: v1::Ftp { cwd: String::new(), ..Default::default() },
            started: false,
            lines: Default::default(),
            client_lost: false,
            server_lost: false,
            await_tls: None,
            pending: 0,
            multi: None,
            endpoint: String::new(),
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

    /// After `234` to AUTH TLS: the client's and the server's bytes after it, once.
    pub fn take_upgrade(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.upgrade.take()
    }

    /// Direction `dir` is not FTP: not read.
    pub fn ignore(&mut self, dir: Dir) {
        match dir {
            Dir::ToServer => self.client_lost = true,
            Dir::ToClient => self.server_lost = true,
        }
    }

    /// Bytes of one direction were not captured: that direction is not read any more.
    pub fn gap(&mut self, dir: Dir, out: &mut Emitter<'_>) {
        out.error("ftp: gap");
        self.ignore(dir);
    }

    /// End of the connection (or of its plaintext part): the session record.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
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
            let (line, rest) = match self.lines[0].next(b, cx.meta.ts_nanos, false) {
                Next::Line { line, rest, .. } => (line, rest),
                Next::More { too_long } => {
                    if too_long {
                        out.error("ftp: line too long");
                    }
                    return;
                }
            };
            b = rest;
            // Telnet IAC sequences (ABOR's urgent "IP, DM") before a command are not part of it.
            let line: Vec<u8> = strip_telnet(trim_eol(&line));
            let text = String::from_utf8_lossy(&line).into_owned();
            if text.is_empty() {
                continue;
            }
            let (verb, arg) = text.split_once(' ').unwrap_or((&text, ""));
            let (verb, arg) = (verb.to_string(), arg.to_string());
            let upper = verb.to_ascii_uppercase();
            let mut transfer = None;
            match upper.as_str() {
                "USER" => self.rec.user = arg.clone(),
                "AUTH" if matches!(arg.trim().to_ascii_uppercase().as_str(), "TLS" | "SSL" | "TLS-C" | "TLS-P") => {
                    self.await_tls = Some(Vec::new());
                }
                "PORT" => self.endpoint = port_endpoint(&arg).unwrap_or_default(),
                "EPRT" => self.endpoint = eprt_endpoint(&arg).unwrap_or_default(),
                "RETR" | "STOR" | "STOU" | "APPE" | "LIST" | "NLST" | "MLSD" => {
                    transfer = Some(v1::FtpTransfer {
                        command: upper.clone(),
                        name: arg.clone(),
                        path: if arg.is_empty() { self.rec.cwd.clone() } else { join(&self.rec.cwd, &arg) },
                        data_endpoint: self.endpoint.clone(),
                        size: self.known_size(&arg),
                        ..Default::default()
                    });
                }
                _ => {}
            }
            self.rec.commands.push(v1::FtpCommand {
                timestamp: self.lines[0].ts,
                command: verb,
                argument: arg,
                transfer,
                ..Default::default()
            });
            self.pending += 1;
        }
    }

    /// A size the server told for `name` earlier (a `213` reply to SIZE).
    fn known_size(&self, name: &str) -> u64 {
        self.rec
            .commands
            .iter()
            .rev()
            .find(|c| c.command.eq_ignore_ascii_case("SIZE") && c.argument == name && c.reply_code == 213)
            .and_then(|c| c.reply_text.trim().parse().ok())
            .unwrap_or(0)
    }

    fn server_bytes(&mut self, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() && !self.server_lost {
            let line = match self.lines[1].next(b, cx.meta.ts_nanos, false) {
                Next::Line { line, rest, .. } => {
                    b = rest;
                    line
                }
                Next::More { too_long } => {
                    if too_long {
                        out.error("ftp: line too long");
                    }
                    return;
                }
            };
            let line = trim_eol(&line);
            let code = reply_code(line);
            let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned();
            if let Some((c, t, n)) = self.multi.as_mut() {
                let last = code == Some(*c) && line.get(3) == Some(&b' ');
                if *n < MAX_REPLY_LINES {
                    t.push('\n');
                    t.push_str(if last { &text } else { std::str::from_utf8(line).unwrap_or_default() });
                    *n += 1;
                }
                if !last {
                    continue;
                }
                let (c, t, _) = self.multi.take().unwrap_or_default();
                self.reply(c, t, cx, out);
            } else {
                let Some(code) = code else {
                    out.error("ftp: bad reply");
                    continue;
                };
                if line.get(3) == Some(&b'-') {
                    self.multi = Some((code, text, 1));
                    continue;
                }
                self.reply(code, text, cx, out);
            }
            if let Some(u) = self.upgrade.as_mut() {
                u.1 = b.to_vec();
                return;
            }
        }
    }

    /// A whole reply: matched to the oldest command waiting for one (1xx replies are
    /// preliminary and leave it waiting).
    fn reply(&mut self, code: u32, text: String, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if self.pending == 0 {
            if self.rec.greeting_code == 0 && self.rec.commands.is_empty() {
                self.rec.greeting_code = code;
                self.rec.greeting = text;
            } else {
                self.rec.commands.push(v1::FtpCommand {
                    timestamp: self.lines[1].ts,
                    reply_code: code,
                    reply_text: text,
                    ..Default::default()
                });
                self.maybe_split(cx, out);
            }
            return;
        }
        let i = self.rec.commands.len() - self.pending;
        let cwd = self.rec.cwd.clone();
        let e = &mut self.rec.commands[i];
        if (100..200).contains(&code) {
            e.preliminary_code = code;
            if let Some(t) = e.transfer.as_mut()
                && t.size == 0
            {
                t.size = announced_size(&text);
            }
            e.preliminary_text = text;
            return;
        }
        self.pending -= 1;
        e.reply_code = code;
        e.reply_text = text;
        if let Some(t) = e.transfer.as_mut() {
            t.reply_code = code;
        }
        let verb = e.command.to_ascii_uppercase();
        let arg = e.argument.clone();
        let reply = e.reply_text.clone();
        match (verb.as_str(), code) {
            ("CWD", 250) => self.rec.cwd = join(&cwd, &arg),
            ("CDUP", 200 | 250) => self.rec.cwd = join(&cwd, ".."),
            ("PWD" | "XPWD", 257) => {
                if let Some(p) = reply.split('"').nth(1) {
                    self.rec.cwd = p.to_string();
                }
            }
            ("PASV", 227) => self.endpoint = pasv_endpoint(&reply, &self.rec.dst_ip).unwrap_or_default(),
            ("EPSV", 229) => self.endpoint = epsv_endpoint(&reply, &self.rec.dst_ip).unwrap_or_default(),
            ("AUTH", _) => {
                if let Some(held) = self.await_tls.take() {
                    if code == 234 {
                        self.rec.auth_tls = true;
                        self.client_lost = true;
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

    fn maybe_split(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let n = self.rec.commands.len();
        if (n >= MAX_COMMANDS && self.pending == 0) || n >= 2 * MAX_COMMANDS {
            self.pending = 0;
            self.emit(cx, out);
        }
    }

    fn emit(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let r = &self.rec;
        let empty = r.commands.is_empty() && r.greeting_code == 0;
        if !empty && cx.enabled.ftp {
            out.record(T_FTP, r);
        }
        self.rec = v1::Ftp {
            timestamp: cx.meta.ts_nanos,
            src_ip: r.src_ip.clone(),
            dst_ip: r.dst_ip.clone(),
            src_port: r.src_port,
            dst_port: r.dst_port,
            part: r.part + u32::from(!empty),
            tunnel_depth: r.tunnel_depth,
            user: r.user.clone(),
            cwd: r.cwd.clone(),
            ..Default::default()
        };
    }
}

fn reply_code(line: &[u8]) -> Option<u32> {
    let d = line.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) || !matches!(line.get(3), None | Some(b' ' | b'-')) {
        return None;
    }
    std::str::from_utf8(d).ok()?.parse().ok()
}

/// Removes Telnet IAC command sequences (RFC 959 4.1.3: ABOR is sent after IAC IP IAC DM).
fn strip_telnet(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0xff && i + 1 < b.len() {
            // IAC IAC is a data 0xff; IAC WILL/WONT/DO/DONT take an option byte.
            match b[i + 1] {
                0xff => out.push(0xff),
                0xfb..=0xfe => i += 1,
                _ => {}
            }
            i += 2;
            continue;
        }
        // The Synch's Data Mark may arrive as urgent data without its IAC.
        if b[i] != 0xf2 || !out.is_empty() {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

/// `dir` joined with `name` (an absolute name replaces it; `..` goes up), "/"-separated.
pub fn join(dir: &str, name: &str) -> String {
    let mut parts: Vec<&str> = if name.starts_with('/') { Vec::new() } else { dir.split('/').collect() };
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                while parts.last() == Some(&"") && parts.len() > 1 {
                    parts.pop();
                }
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    let rooted = name.starts_with('/') || dir.starts_with('/') || dir.is_empty();
    format!("{}{}", if rooted { "/" } else { "" }, joined.join("/"))
}

/// The size in a 150 reply: "... (1234 bytes)".
fn announced_size(text: &str) -> u64 {
    let Some(open) = text.rfind('(') else { return 0 };
    let inner = &text[open + 1..];
    let n: String = inner.chars().take_while(char::is_ascii_digit).collect();
    if inner[n.len()..].trim_start().to_ascii_lowercase().starts_with("bytes") { n.parse().unwrap_or(0) } else { 0 }
}

/// "h1,h2,h3,h4,p1,p2" as "ip:port".
fn six_numbers(s: &str) -> Option<String> {
    let n: Vec<u32> = s.split(',').map(|x| x.trim().parse::<u32>()).collect::<Result<_, _>>().ok()?;
    if n.len() != 6 || n.iter().any(|&x| x > 255) {
        return None;
    }
    Some(format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5]))
}

/// The endpoint of a PORT argument.
pub fn port_endpoint(arg: &str) -> Option<String> {
    six_numbers(arg.trim())
}

/// The endpoint of a 227 reply: the six numbers in it (in parentheses or not).
pub fn pasv_endpoint(reply: &str, _server: &str) -> Option<String> {
    let start = reply.find(|c: char| c.is_ascii_digit())?;
    let s: String = reply[start..].chars().take_while(|c| c.is_ascii_digit() || *c == ',' || *c == ' ').collect();
    six_numbers(s.trim_end_matches([',', ' ']))
}

/// The endpoint of a 229 reply "(|||port|)": the server's address and that port.
pub fn epsv_endpoint(reply: &str, server: &str) -> Option<String> {
    let inner = reply.split('(').nth(1)?.split(')').next()?;
    let d = inner.chars().next()?;
    let port: u16 = inner.split(d).nth(3)?.parse().ok()?;
    Some(if server.contains(':') { format!("[{server}]:{port}") } else { format!("{server}:{port}") })
}

/// The endpoint of an EPRT argument "|proto|addr|port|".
pub fn eprt_endpoint(arg: &str) -> Option<String> {
    let arg = arg.trim();
    let d = arg.chars().next()?;
    let f: Vec<&str> = arg.split(d).collect();
    let (addr, port) = (f.get(2)?, f.get(3)?.parse::<u16>().ok()?);
    Some(if addr.contains(':') { format!("[{addr}]:{port}") } else { format!("{addr}:{port}") })
}
