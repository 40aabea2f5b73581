//! The `stream` decoder: application protocols in reassembled TCP connections, HTTP/1.x
//! ([`http`]), TLS hellos with JA3/JA3S/JA4 ([`tls`]), SSH with HASSH ([`ssh`]), DNS over TCP
//! ([`dnstcp`]), SMTP ([`smtp`]), POP3 ([`pop3`]), IMAP ([`imap`]) with the messages they carry
//! ([`mail`]), FTP control ([`ftp`]), Telnet ([`telnet`]), and HTTP bodies as File records
//! ([`http::body`]).
//!
//! One decoder for all of them, rather than one per protocol: the host copies a stream's bytes into
//! the sandbox once instead of once per protocol, and the choice of protocol for a stream is made
//! in one place, deterministically. Content decides first, on any port: a direction's first bytes
//! are a TLS handshake record, `SSH-`, an HTTP request line (a known method and a space, or any
//! method token by the grammar of the whole line), a status line, or an SMTP EHLO/HELO (a server's
//! reply line such as `220 ...` waits for the client's first command, unless the server port is an
//! SMTP port). Only when they are none of these (or a gap or the end comes first) do the ports
//! decide: DNS on port 53, SSH on server port 22, SMTP on 25, 587 and 2525, Telnet on 23. A protocol that
//! upgrades to TLS (SMTP STARTTLS) hands the connection to the TLS reader. Otherwise the other direction may still show the protocol (a server answering non-HTTP
//! bytes with a status line); a connection none of whose directions is ours is declined, and a
//! stream whose protocol has said all it has to say is `Done`: the host stops feeding it.
//!
//! This file holds the connection table and the dispatch; the protocol modules are plain Rust
//! state machines driven by [`Conn`] events, unit-tested natively.

pub mod dnstcp;
pub mod ftp;
pub mod http;
pub mod imap;
pub mod line;
pub mod mail;
pub mod pop3;
pub mod smtp;
pub mod ssh;
pub mod telnet;
#[cfg(test)]
mod tests;
pub mod tls;

use netcap_sdk::{
    Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, StreamDecoder, StreamEvent, StreamInfo, Verdict,
    export_stream_decoder, fmt,
};
use std::collections::HashMap;

/// Type ids: indexes into [`RECORD_TYPES`].
pub const T_HTTP: u16 = 0;
pub const T_TLS_CLIENT_HELLO: u16 = 1;
pub const T_TLS_SERVER_HELLO: u16 = 2;
pub const T_SSH: u16 = 3;
pub const T_DNS: u16 = 4;
pub const T_SMTP: u16 = 5;
pub const T_MAIL: u16 = 6;
pub const T_FILE: u16 = 7;
pub const T_POP3: u16 = 8;
pub const T_FTP: u16 = 9;
pub const T_IMAP: u16 = 10;
pub const T_TELNET: u16 = 11;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 12] = [
    ("HTTP", "netcap.v1.HTTP"),
    ("TLSClientHello", "netcap.v1.TLSClientHello"),
    ("TLSServerHello", "netcap.v1.TLSServerHello"),
    ("SSH", "netcap.v1.SSH"),
    ("DNS", "netcap.v1.DNS"),
    ("SMTP", "netcap.v1.SMTP"),
    ("Mail", "netcap.v1.Mail"),
    ("File", "netcap.v1.File"),
    ("POP3", "netcap.v1.POP3"),
    ("FTP", "netcap.v1.FTP"),
    ("IMAP", "netcap.v1.IMAP"),
    ("Telnet", "netcap.v1.Telnet"),
];

/// Port interests: every stream's first bytes (content-based selection).
pub const LAYERS: [&str; 1] = ["tcp:*"];

/// The DNS port: streams to or from it are DNS over TCP.
pub const PORT_DNS: u16 = 53;
/// The SSH port: streams to it are SSH.
pub const PORT_SSH: u16 = 22;

/// Which record types the user enabled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Enabled {
    pub http: bool,
    pub tls_client: bool,
    pub tls_server: bool,
    pub ssh: bool,
    pub dns: bool,
    pub smtp: bool,
    pub mail: bool,
    pub file: bool,
    pub pop3: bool,
    pub ftp: bool,
    pub imap: bool,
    pub telnet: bool,
    /// File content extraction (`extract-files`).
    pub extract: mail::Extract,
}

impl Enabled {
    fn from(config: &Config) -> Self {
        let on = |i: usize| config.record_type_enabled(RECORD_TYPES[i].0);
        let extract = mail::Extract { on: config.extract_files(), max_file: config.extract_max_file() };
        Enabled {
            http: on(0),
            tls_client: on(1),
            tls_server: on(2),
            ssh: on(3),
            dns: on(4),
            smtp: on(5),
            mail: on(6),
            file: on(7),
            pop3: on(8),
            ftp: on(9),
            imap: on(10),
            telnet: on(11),
            extract,
        }
    }

    /// Whether TLS hellos are wanted: then the mail and FTP sessions are read too, for the TLS
    /// that follows their STARTTLS / STLS / AUTH TLS.
    fn tls_any(&self) -> bool {
        self.tls_client || self.tls_server
    }

    /// Whether HTTP connections are read (for their own records or the bodies as File records).
    fn http_any(&self) -> bool {
        self.http || self.file
    }

    /// Whether SMTP sessions are read (for their own records, the messages they carry, or TLS).
    fn smtp_any(&self) -> bool {
        self.smtp || self.mail || self.file || self.tls_any()
    }

    /// Whether POP3 sessions are read.
    fn pop3_any(&self) -> bool {
        self.pop3 || self.mail || self.file || self.tls_any()
    }

    /// Whether IMAP sessions are read.
    fn imap_any(&self) -> bool {
        self.imap || self.mail || self.file || self.tls_any()
    }

    /// Whether FTP control sessions are read.
    fn ftp_any(&self) -> bool {
        self.ftp || self.tls_any()
    }
}

/// What protocol modules see of an event: the connection, the event and the enabled types.
pub struct Ctx<'a> {
    pub info: &'a StreamInfo,
    pub meta: &'a EventMeta,
    pub enabled: &'a Enabled,
}

impl Ctx<'_> {
    /// Writes the client address into `s`.
    pub fn client_ip(&self, s: &mut String) {
        fmt::set_ip(s, ip_bytes(self.info.ip_version, &self.info.client_ip));
    }

    /// Writes the server address into `s`.
    pub fn server_ip(&self, s: &mut String) {
        fmt::set_ip(s, ip_bytes(self.info.ip_version, &self.info.server_ip));
    }

    /// Writes the sender and receiver addresses of direction `dir`; returns their ports.
    pub fn endpoints(&self, dir: Dir, src: &mut String, dst: &mut String) -> (u32, u32) {
        let (c, s) = (u32::from(self.info.client_port), u32::from(self.info.server_port));
        match dir {
            Dir::ToServer => {
                self.client_ip(src);
                self.server_ip(dst);
                (c, s)
            }
            Dir::ToClient => {
                self.server_ip(src);
                self.client_ip(dst);
                (s, c)
            }
        }
    }
}

fn ip_bytes(version: u8, a: &[u8; 16]) -> &[u8] {
    if version == 4 { &a[..4] } else { &a[..] }
}

/// The protocol of a connection, once known.
enum Proto {
    Unknown,
    Http(Box<http::Conn>),
    Tls(Box<tls::Conn>),
    Ssh(Box<ssh::Conn>),
    Dns(Box<dnstcp::Conn>),
    Smtp(Box<smtp::Conn>),
    Pop3(Box<pop3::Conn>),
    Ftp(Box<ftp::Conn>),
    Imap(Box<imap::Conn>),
    Telnet(Box<telnet::Conn>),
}

/// What a connection's ports suggest, used only when its first bytes show none of the
/// protocols that are recognised by content.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PortGuess {
    None,
    Dns,
    Ssh,
    Smtp,
    SmtpSwapped,
    Pop3,
    Ftp,
    Imap,
    Telnet,
    TelnetSwapped,
}

impl PortGuess {
    fn of(info: &StreamInfo, e: &Enabled) -> Self {
        if e.dns && (info.server_port == PORT_DNS || info.client_port == PORT_DNS) {
            PortGuess::Dns
        } else if e.ssh && info.server_port == PORT_SSH {
            // Servers may send other lines before their identification (RFC 4253 4.2).
            PortGuess::Ssh
        } else if e.smtp_any() && smtp::PORTS.contains(&info.server_port) {
            PortGuess::Smtp
        } else if e.smtp_any() && smtp::PORTS.contains(&info.client_port) {
            // A capture that starts after the handshake: the first sender was the server.
            PortGuess::SmtpSwapped
        } else if e.pop3_any() && info.server_port == pop3::PORT {
            PortGuess::Pop3
        } else if e.ftp_any() && info.server_port == ftp::PORT {
            PortGuess::Ftp
        } else if e.imap_any() && info.server_port == imap::PORT {
            PortGuess::Imap
        } else if e.telnet && info.server_port == telnet::PORT {
            PortGuess::Telnet
        } else if e.telnet && info.client_port == telnet::PORT {
            // A capture that starts after the handshake: the first sender was the server.
            PortGuess::TelnetSwapped
        } else {
            PortGuess::None
        }
    }

    fn proto(self) -> Option<Proto> {
        match self {
            PortGuess::None => None,
            PortGuess::Dns => Some(Proto::Dns(Box::default())),
            PortGuess::Ssh => Some(Proto::Ssh(Box::default())),
            PortGuess::Smtp => Some(Proto::Smtp(Box::default())),
            PortGuess::SmtpSwapped => Some(Proto::Smtp(Box::new(smtp::Conn::swapped()))),
            PortGuess::Pop3 => Some(Proto::Pop3(Box::default())),
            PortGuess::Ftp => Some(Proto::Ftp(Box::default())),
            PortGuess::Imap => Some(Proto::Imap(Box::default())),
            PortGuess::Telnet => Some(Proto::Telnet(Box::default())),
            PortGuess::TelnetSwapped => Some(Proto::Telnet(Box::new(telnet::Conn::swapped()))),
        }
    }
}

/// One connection.
struct Conn {
    info: StreamInfo,
    proto: Proto,
    port: PortGuess,
    /// First bytes of each direction while the protocol is unknown (client, server), and the
    /// time of the packet that carried the first of them.
    sniff: [Vec<u8>; 2],
    sniff_ts: [i64; 2],
    /// Per direction, once its first bytes showed none of our protocols: the bytes it sent
    /// since (the protocol may still show in the other direction).
    foreign: [Option<u64>; 2],
    /// Which direction sent bytes first while unknown.
    first: Option<Dir>,
    /// A leading one-byte keep-alive was skipped (per direction).
    keepalive_skipped: [bool; 2],
    last_ts: i64,
}

/// Most first bytes of a direction held to tell the protocol: a request line with a method
/// not in [`http::METHODS`] is recognised by its grammar once the line is complete.
pub const SNIFF_MAX: usize = http::MAX_LINE;
/// Most bytes a direction whose first bytes are none of ours may send while the other
/// direction has not shown its protocol; then the connection is declined.
pub const FOREIGN_MAX: u64 = 1 << 20;

/// The decoder state of one instance.
pub struct Stream {
    enabled: Enabled,
    conns: HashMap<u64, Conn>,
}

impl Stream {
    /// A decoder for the enabled record types of `config`.
    pub fn new(config: &Config) -> Self {
        Stream { enabled: Enabled::from(config), conns: HashMap::new() }
    }

    /// Handles one event.
    pub fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        if let StreamEvent::Open(info) = ev {
            let e = &self.enabled;
            if !(e.http_any()
                || e.tls_client
                || e.tls_server
                || e.ssh
                || e.dns
                || e.smtp_any()
                || e.pop3_any()
                || e.ftp_any()
                || e.imap_any()
                || e.telnet)
            {
                return Verdict::Decline;
            }
            let c = Conn {
                info: **info,
                proto: Proto::Unknown,
                port: PortGuess::of(info, e),
                sniff: Default::default(),
                sniff_ts: [meta.ts_nanos; 2],
                foreign: [None; 2],
                first: None,
                keepalive_skipped: [false; 2],
                last_ts: meta.ts_nanos,
            };
            self.conns.insert(meta.stream, c);
            return Verdict::Continue;
        }
        let Some(c) = self.conns.get_mut(&meta.stream) else { return Verdict::Decline };
        c.last_ts = c.last_ts.max(meta.ts_nanos);
        let e = &self.enabled;
        if matches!(c.proto, Proto::Unknown) && !matches!(ev, StreamEvent::Data { .. }) {
            // A gap or the end before the first bytes told the protocol: the port's, if any.
            fall_back_to_port(c, e, meta, out);
        }
        let cx = Ctx { info: &c.info, meta, enabled: e };
        let verdict = match *ev {
            StreamEvent::Open(_) => Verdict::Continue,
            StreamEvent::Data { dir, bytes } => {
                if matches!(c.proto, Proto::Unknown) {
                    sniff(c, dir, bytes, e, meta, out)
                } else {
                    data(&mut c.proto, dir, bytes, &cx, out);
                    verdict_of(&c.proto)
                }
            }
            StreamEvent::Gap { dir, len } => {
                match &mut c.proto {
                    Proto::Unknown => c.sniff[idx(dir)].clear(),
                    Proto::Http(h) => h.gap(dir, len, &cx, out),
                    Proto::Tls(t) => t.gap(dir, &cx, out),
                    Proto::Ssh(s) => s.gap(dir, out),
                    Proto::Dns(d) => d.gap(dir, &cx, out),
                    Proto::Smtp(s) => s.gap(dir, &cx, out),
                    Proto::Pop3(s) => s.gap(dir, &cx, out),
                    Proto::Ftp(f) => f.gap(dir, out),
                    Proto::Imap(m) => m.gap(dir, &cx, out),
                    Proto::Telnet(t) => t.gap(dir, out),
                }
                verdict_of(&c.proto)
            }
            StreamEvent::Close { .. } => {
                close(&mut c.proto, &cx, out);
                Verdict::Done
            }
        };
        if verdict != Verdict::Continue {
            self.conns.remove(&meta.stream);
        }
        verdict
    }

    /// End of input: every connection still open ends here, in stream-id order.
    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(mut c) = self.conns.remove(&id) {
                let meta = EventMeta { stream: id, seq: u64::MAX, ts_nanos: c.last_ts };
                let cx = Ctx { info: &c.info, meta: &meta, enabled: &self.enabled };
                close(&mut c.proto, &cx, out);
            }
        }
    }
}

fn idx(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

pub(crate) fn other(dir: Dir) -> Dir {
    match dir {
        Dir::ToServer => Dir::ToClient,
        Dir::ToClient => Dir::ToServer,
    }
}

/// The protocol the first bytes of one direction show: `Some(Some(p))` decided, `Some(None)`
/// none of ours, `None` undecided.
/// `port` is the connection's port guess; `peer_foreign` says the other direction's first bytes
/// were none of ours.
fn classify(dir: Dir, b: &[u8], e: &Enabled, port: PortGuess, peer_foreign: bool) -> Option<Option<Proto>> {
    let smtp = match dir {
        _ if !e.smtp_any() => Some(false),
        Dir::ToServer if port == PortGuess::SmtpSwapped && smtp::sniff_reply(b) == Some(true) => {
            return Some(Some(Proto::Smtp(Box::new(smtp::Conn::swapped()))));
        }
        Dir::ToServer => smtp::sniff_client(b),
        // A reply line: SMTP on an SMTP port, else the client's first command tells.
        Dir::ToClient => match smtp::sniff_reply(b) {
            Some(true) if port == PortGuess::Smtp => Some(true),
            Some(true) if port == PortGuess::Ftp && e.ftp_any() => Some(false),
            Some(true) if peer_foreign => Some(false),
            Some(true) | None => None,
            Some(false) => Some(false),
        },
    };
    if smtp == Some(true) {
        return Some(Some(Proto::Smtp(Box::default())));
    }
    let pop3 = match dir {
        _ if !e.pop3_any() => Some(false),
        Dir::ToServer => smtp::verb_is(b, &[b"CAPA", b"APOP", b"STLS"]),
        Dir::ToClient => pop3::sniff_greeting(b),
    };
    let imap = match dir {
        Dir::ToClient if e.imap_any() => imap::sniff_greeting(b),
        _ => Some(false),
    };
    if imap == Some(true) {
        return Some(Some(Proto::Imap(Box::default())));
    }
    if pop3 == Some(true) {
        return Some(Some(Proto::Pop3(Box::default())));
    }
    // FTP: a client's first command (a server's reply line waits for it, as for SMTP), or a
    // reply line on port 21.
    let ftp = match dir {
        _ if !e.ftp_any() => Some(false),
        Dir::ToServer if matches!(port, PortGuess::Pop3 | PortGuess::Smtp) => Some(false),
        Dir::ToServer => ftp::sniff_client(b),
        Dir::ToClient => match smtp::sniff_reply(b) {
            Some(true) if port == PortGuess::Ftp => Some(true),
            Some(true) if peer_foreign => Some(false),
            Some(true) | None => None,
            Some(false) => Some(false),
        },
    };
    if ftp == Some(true) {
        return Some(Some(Proto::Ftp(Box::default())));
    }
    let tls = if e.tls_client || e.tls_server { tls::sniff_start(b) } else { Some(false) };
    let ssh = if e.ssh { ssh::sniff_start(b) } else { Some(false) };
    let http = if e.http_any() { http::sniff_start(dir, b) } else { Some(None) };
    if tls == Some(true) {
        return Some(Some(Proto::Tls(Box::default())));
    }
    if ssh == Some(true) {
        return Some(Some(Proto::Ssh(Box::default())));
    }
    if let Some(Some(swap)) = http {
        return Some(Some(Proto::Http(Box::new(http::Conn::new(swap)))));
    }
    if tls == Some(false)
        && ssh == Some(false)
        && http == Some(None)
        && smtp == Some(false)
        && pop3 == Some(false)
        && ftp == Some(false)
        && imap == Some(false)
    {
        Some(None)
    } else {
        None
    }
}

/// Data while the protocol is unknown. Content decides first (either direction); when a
/// direction's first bytes are none of ours, the port's protocol is taken, else the other
/// direction may still show one (a server answering garbage with an HTTP status line). Once
/// decided, what was held back is replayed.
fn sniff(c: &mut Conn, dir: Dir, bytes: &[u8], e: &Enabled, meta: &EventMeta, out: &mut Emitter<'_>) -> Verdict {
    if bytes.is_empty() {
        return Verdict::Continue;
    }
    let d = idx(dir);
    if let Some(n) = c.foreign[d].as_mut() {
        *n += bytes.len() as u64;
        return if *n > FOREIGN_MAX { Verdict::Decline } else { Verdict::Continue };
    }
    c.first.get_or_insert(dir);
    if c.sniff[d].is_empty() {
        c.sniff_ts[d] = meta.ts_nanos;
    }
    let room = SNIFF_MAX.saturating_sub(c.sniff[d].len());
    let mut look = std::mem::take(&mut c.sniff[d]);
    look.extend_from_slice(&bytes[..room.min(bytes.len())]);
    let proto = match classify(dir, &look, e, c.port, c.foreign[1 - d].is_some()) {
        Some(Some(p)) => p,
        None if look.len() < SNIFF_MAX => {
            // Undecided: hold the bytes (all of them are within `look`).
            c.sniff[d] = look;
            return Verdict::Continue;
        }
        _ => match c.port.proto() {
            Some(p) => p,
            None if look.len() == 1 && !c.keepalive_skipped[d] => {
                // A single byte that starts nothing: a TCP keep-alive probe (the byte before the
                // next sequence number) that began a capture picked up mid-connection. Skip it once.
                c.keepalive_skipped[d] = true;
                return Verdict::Continue;
            }
            None => {
                if c.foreign[1 - d].is_some() {
                    return Verdict::Decline;
                }
                c.foreign[d] = Some(bytes.len() as u64);
                return Verdict::Continue;
            }
        },
    };
    c.proto = proto;
    // Replay held bytes in arrival order (the other direction's first if it spoke first), each
    // with the time of the packet that carried its first byte.
    let o = other(dir);
    let at = |ts: i64| EventMeta { ts_nanos: ts, ..*meta };
    let (meta_this, meta_other) = (at(c.sniff_ts[d]), at(c.sniff_ts[1 - d]));
    let held_other = std::mem::take(&mut c.sniff[idx(o)]);
    let held_this = look.len() - room.min(bytes.len());
    if c.foreign[1 - d].is_some() {
        // The other direction's first bytes were none of this protocol's messages.
        ignore_until_message(&mut c.proto, o);
    }
    let (info, p) = (&c.info, &mut c.proto);
    if c.first == Some(o) && !held_other.is_empty() {
        data(p, o, &held_other, &Ctx { info, meta: &meta_other, enabled: e }, out);
    }
    data(p, dir, &look[..held_this], &Ctx { info, meta: &meta_this, enabled: e }, out);
    data(p, dir, bytes, &Ctx { info, meta, enabled: e }, out);
    if c.first != Some(o) && !held_other.is_empty() {
        data(p, o, &held_other, &Ctx { info, meta: &meta_other, enabled: e }, out);
    }
    verdict_of(p)
}

/// The first bytes held were inconclusive when a gap or the end came: the port's protocol, if
/// any, gets them (in arrival order, each with its packet's time).
fn fall_back_to_port(c: &mut Conn, e: &Enabled, meta: &EventMeta, out: &mut Emitter<'_>) {
    let Some(p) = c.port.proto() else { return };
    c.proto = p;
    let order = match c.first {
        Some(Dir::ToClient) => [Dir::ToClient, Dir::ToServer],
        _ => [Dir::ToServer, Dir::ToClient],
    };
    for d in order {
        let held = std::mem::take(&mut c.sniff[idx(d)]);
        let m = EventMeta { ts_nanos: c.sniff_ts[idx(d)], ..*meta };
        data(&mut c.proto, d, &held, &Ctx { info: &c.info, meta: &m, enabled: e }, out);
    }
}

/// Direction `dir` of a connection whose protocol was found in the other direction began with
/// bytes that are none of its messages: the protocol skips them (HTTP resumes at a message start).
fn ignore_until_message(p: &mut Proto, dir: Dir) {
    match p {
        Proto::Unknown => {}
        Proto::Http(h) => h.skip_until_message(dir),
        Proto::Tls(t) => t.ignore(dir),
        Proto::Ssh(s) => s.ignore(dir),
        Proto::Dns(d) => d.ignore(dir),
        Proto::Smtp(s) => s.ignore(dir),
        Proto::Pop3(s) => s.ignore(dir),
        Proto::Ftp(f) => f.ignore(dir),
        Proto::Imap(m) => m.ignore(dir),
        // Telnet is found by its port only; both directions are read from their first byte.
        Proto::Telnet(_) => {}
    }
}

fn data(p: &mut Proto, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    if b.is_empty() {
        return;
    }
    match p {
        Proto::Unknown => {}
        Proto::Http(h) => h.data(dir, b, cx, out),
        Proto::Tls(t) => t.data(dir, b, cx, out),
        Proto::Ssh(s) => s.data(dir, b, cx, out),
        Proto::Dns(d) => d.data(dir, b, cx, out),
        Proto::Smtp(s) => {
            s.data(dir, b, cx, out);
            if let Some(up) = s.take_upgrade() {
                // STARTTLS accepted: the session record ends here and TLS reads what follows.
                s.close(cx, out);
                to_tls(p, up, cx, out);
            }
        }
        Proto::Pop3(s) => {
            s.data(dir, b, cx, out);
            if let Some(up) = s.take_upgrade() {
                s.close(cx, out);
                to_tls(p, up, cx, out);
            }
        }
        Proto::Ftp(f) => {
            f.data(dir, b, cx, out);
            if let Some(up) = f.take_upgrade() {
                f.close(cx, out);
                to_tls(p, up, cx, out);
            }
        }
        Proto::Imap(m) => {
            m.data(dir, b, cx, out);
            if let Some(up) = m.take_upgrade() {
                m.close(cx, out);
                to_tls(p, up, cx, out);
            }
        }
        Proto::Telnet(t) => t.data(dir, b, cx, out),
    }
}

/// The connection continues as TLS (after STARTTLS, STLS, AUTH TLS): the TLS reader gets the
/// client's and the server's bytes after the upgrade.
fn to_tls(p: &mut Proto, (client, server): (Vec<u8>, Vec<u8>), cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    *p = Proto::Tls(Box::default());
    data(p, Dir::ToServer, &client, cx, out);
    data(p, Dir::ToClient, &server, cx, out);
}

fn close(p: &mut Proto, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    match p {
        Proto::Unknown => {}
        Proto::Http(h) => h.close(cx, out),
        Proto::Tls(t) => t.close(cx, out),
        Proto::Ssh(s) => s.close(out),
        Proto::Dns(d) => d.close(cx, out),
        Proto::Smtp(s) => s.close(cx, out),
        Proto::Pop3(s) => s.close(cx, out),
        Proto::Ftp(f) => f.close(cx, out),
        Proto::Imap(m) => m.close(cx, out),
        Proto::Telnet(t) => t.close(cx, out),
    }
}

fn verdict_of(p: &Proto) -> Verdict {
    let done = match p {
        Proto::Unknown | Proto::Dns(_) | Proto::Telnet(_) => false,
        Proto::Http(h) => h.done(),
        Proto::Tls(t) => t.done(),
        Proto::Ssh(s) => s.done(),
        Proto::Smtp(s) => s.done(),
        Proto::Pop3(s) => s.done(),
        Proto::Ftp(f) => f.done(),
        Proto::Imap(m) => m.done(),
    };
    if done { Verdict::Done } else { Verdict::Continue }
}

/// The exported decoder.
pub struct StreamDec(Stream);

impl StreamDecoder for StreamDec {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "stream".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(StreamDec(Stream::new(config)))
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        self.0.event(meta, ev, out)
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_stream_decoder!(StreamDec);
