//! The `stream` decoder: application protocols in reassembled TCP connections, HTTP/1.x
//! ([`http`]), TLS hellos with JA3/JA3S/JA4 ([`tls`]), SSH with HASSH ([`ssh`]) and DNS over TCP
//! ([`dnstcp`]).
//!
//! One decoder for all four, rather than one per protocol: the host copies a stream's bytes into
//! the sandbox once instead of once per protocol, and the choice of protocol for a stream is made
//! in one place, deterministically. DNS is chosen by port 53 and SSH by server port 22; the others by the stream's first
//! bytes in either direction (a TLS handshake record, `SSH-`, an HTTP request line or status
//! line), so they are found on any port. A stream that is none of them is declined after its first
//! bytes (at most 10 are looked at), and a stream whose protocol has said all it has to say is
//! `Done`: the host stops feeding it.
//!
//! This file holds the connection table and the dispatch; the protocol modules are plain Rust
//! state machines driven by [`Conn`] events, unit-tested natively.

pub mod dnstcp;
pub mod http;
pub mod ssh;
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

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 5] = [
    ("HTTP", "netcap.v1.HTTP"),
    ("TLSClientHello", "netcap.v1.TLSClientHello"),
    ("TLSServerHello", "netcap.v1.TLSServerHello"),
    ("SSH", "netcap.v1.SSH"),
    ("DNS", "netcap.v1.DNS"),
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
}

impl Enabled {
    fn from(config: &Config) -> Self {
        let on = |i: usize| config.record_type_enabled(RECORD_TYPES[i].0);
        Enabled { http: on(0), tls_client: on(1), tls_server: on(2), ssh: on(3), dns: on(4) }
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
}

/// One connection.
struct Conn {
    info: StreamInfo,
    proto: Proto,
    /// First bytes of each direction while the protocol is unknown (client, server).
    sniff: [Vec<u8>; 2],
    /// Which direction sent bytes first while unknown.
    first: Option<Dir>,
    /// A leading one-byte keep-alive was skipped (per direction).
    keepalive_skipped: [bool; 2],
    last_ts: i64,
}

/// Most first bytes looked at to tell the protocol.
pub const SNIFF_MAX: usize = 16;

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
            if !(e.http || e.tls_client || e.tls_server || e.ssh || e.dns) {
                return Verdict::Decline;
            }
            let port = |p: u16| info.server_port == p || info.client_port == p;
            let proto = if e.dns && port(PORT_DNS) {
                Proto::Dns(Box::default())
            } else if e.ssh && info.server_port == PORT_SSH {
                // Servers may send other lines before their identification (RFC 4253 4.2).
                Proto::Ssh(Box::default())
            } else {
                Proto::Unknown
            };
            let c = Conn {
                info: **info,
                proto,
                sniff: Default::default(),
                first: None,
                keepalive_skipped: [false; 2],
                last_ts: meta.ts_nanos,
            };
            self.conns.insert(meta.stream, c);
            return Verdict::Continue;
        }
        let Some(c) = self.conns.get_mut(&meta.stream) else { return Verdict::Decline };
        c.last_ts = meta.ts_nanos;
        let cx = Ctx { info: &c.info, meta, enabled: &self.enabled };
        let verdict = match *ev {
            StreamEvent::Open(_) => Verdict::Continue,
            StreamEvent::Data { dir, bytes } => {
                if matches!(c.proto, Proto::Unknown) {
                    sniff(c, dir, bytes, &self.enabled, meta, out)
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
                    Proto::Ssh(s) => s.gap(dir, &cx, out),
                    Proto::Dns(d) => d.gap(dir, &cx, out),
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

fn other(dir: Dir) -> Dir {
    match dir {
        Dir::ToServer => Dir::ToClient,
        Dir::ToClient => Dir::ToServer,
    }
}

/// The protocol the first bytes of one direction show: `Some(Some(p))` decided, `Some(None)`
/// none of ours, `None` undecided.
fn classify(dir: Dir, b: &[u8], e: &Enabled) -> Option<Option<Proto>> {
    let tls = if e.tls_client || e.tls_server { tls::sniff_start(b) } else { Some(false) };
    let ssh = if e.ssh { ssh::sniff_start(b) } else { Some(false) };
    let http = if e.http { http::sniff_start(dir, b) } else { Some(None) };
    if tls == Some(true) {
        return Some(Some(Proto::Tls(Box::default())));
    }
    if ssh == Some(true) {
        return Some(Some(Proto::Ssh(Box::default())));
    }
    if let Some(Some(swap)) = http {
        return Some(Some(Proto::Http(Box::new(http::Conn::new(swap)))));
    }
    if tls == Some(false) && ssh == Some(false) && http == Some(None) { Some(None) } else { None }
}

/// Data while the protocol is unknown: decide, then replay what was held back.
fn sniff(c: &mut Conn, dir: Dir, bytes: &[u8], e: &Enabled, meta: &EventMeta, out: &mut Emitter<'_>) -> Verdict {
    if bytes.is_empty() {
        return Verdict::Continue;
    }
    c.first.get_or_insert(dir);
    let held = &mut c.sniff[idx(dir)];
    let room = SNIFF_MAX.saturating_sub(held.len());
    let mut look = std::mem::take(held);
    look.extend_from_slice(&bytes[..room.min(bytes.len())]);
    let decided = classify(dir, &look, e);
    let proto = match decided {
        Some(Some(p)) => p,
        Some(None) if look.len() == 1 && !c.keepalive_skipped[idx(dir)] => {
            // A single byte that starts nothing: a TCP keep-alive probe (the byte before the
            // next sequence number) that began a capture picked up mid-connection. Skip it once.
            c.keepalive_skipped[idx(dir)] = true;
            return Verdict::Continue;
        }
        Some(None) => return Verdict::Decline,
        None if look.len() >= SNIFF_MAX => return Verdict::Decline,
        None => {
            // Hold the bytes (all of them are within `look`, since undecided means few bytes).
            if bytes.len() > room {
                return Verdict::Decline;
            }
            c.sniff[idx(dir)] = look;
            return Verdict::Continue;
        }
    };
    c.proto = proto;
    let cx = Ctx { info: &c.info, meta, enabled: e };
    // Replay held bytes in arrival order: the other direction's first if it spoke first.
    let o = other(dir);
    let held_other = std::mem::take(&mut c.sniff[idx(o)]);
    let held_this = look.len() - room.min(bytes.len());
    if c.first == Some(o) && !held_other.is_empty() {
        data(&mut c.proto, o, &held_other, &cx, out);
    }
    data(&mut c.proto, dir, &look[..held_this], &cx, out);
    data(&mut c.proto, dir, bytes, &cx, out);
    if c.first != Some(o) && !held_other.is_empty() {
        data(&mut c.proto, o, &held_other, &cx, out);
    }
    verdict_of(&c.proto)
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
    }
}

fn close(p: &mut Proto, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    match p {
        Proto::Unknown => {}
        Proto::Http(h) => h.close(cx, out),
        Proto::Tls(t) => t.close(cx, out),
        Proto::Ssh(s) => s.close(cx, out),
        Proto::Dns(d) => d.close(cx, out),
    }
}

fn verdict_of(p: &Proto) -> Verdict {
    let done = match p {
        Proto::Unknown | Proto::Dns(_) => false,
        Proto::Http(h) => h.done(),
        Proto::Tls(t) => t.done(),
        Proto::Ssh(s) => s.done(),
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
