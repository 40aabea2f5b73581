//! The `database` decoder: database client/server protocols in reassembled TCP connections,
//! PostgreSQL ([`postgres`], port 5432), MySQL/MariaDB ([`mysql`], port 3306), TDS/Microsoft SQL
//! Server ([`tds`], port 1433), Redis RESP ([`redis`], port 6379) and MongoDB ([`mongo`], port
//! 27017).
//!
//! A stream decoder, so that a message split over TCP segments is read whole and a segment with
//! several messages gives them all. The protocol of a connection is its port's, and the side on
//! that port is the database server (whichever side opened the connection, so that a capture
//! that begins mid-connection still has the right client). Each direction is cut into the
//! protocol's length-prefixed messages by a [`Reader`], which keeps at most [`KEEP`] bytes of a
//! message (the rest is counted, not stored: a result row of megabytes costs nothing).
//!
//! Granularity, as Zeek and Packetbeat log these protocols: one record per exchange, a client
//! request with the server's response to it, plus one for the connection set-up (MongoDB: one
//! per message, each carrying the request id it answers). Malformed input
//! gives the partial record plus a counted error; a gap or a bad message header loses that
//! direction's framing (counted) and the connection is read no further.

pub mod mongo;
pub mod mysql;
pub mod postgres;
pub mod redis;
pub mod tds;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests2;

use netcap_sdk::{
    Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, StreamDecoder, StreamEvent, StreamInfo, Verdict,
    export_stream_decoder, fmt,
};
use std::collections::HashMap;

/// Type ids: indexes into [`RECORD_TYPES`].
pub const T_POSTGRES: u16 = 0;
pub const T_MYSQL: u16 = 1;
pub const T_TDS: u16 = 2;
pub const T_REDIS: u16 = 3;
pub const T_MONGO: u16 = 4;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 5] = [
    ("PostgreSQL", "netcap.v1.PostgreSQL"),
    ("MySQL", "netcap.v1.MySQL"),
    ("TDS", "netcap.v1.TDS"),
    ("Redis", "netcap.v1.Redis"),
    ("MongoDB", "netcap.v1.MongoDB"),
];

/// The ports.
pub const PORT_POSTGRES: u16 = 5432;
pub const PORT_MYSQL: u16 = 3306;
pub const PORT_TDS: u16 = 1433;
pub const PORT_REDIS: u16 = 6379;
pub const PORT_MONGO: u16 = 27017;

/// Port interests.
pub const LAYERS: [&str; 5] = ["tcp:5432", "tcp:3306", "tcp:1433", "tcp:6379", "tcp:27017"];

/// Most bytes of one message kept for parsing (statement texts longer than this are cut).
pub const KEEP: usize = 16 * 1024;

/// What protocol modules see of an event: the connection, oriented with the database server as
/// the receiver of [`Dir::ToServer`], and the event's time.
pub struct Ctx<'a> {
    pub info: &'a StreamInfo,
    /// The database server is the TCP connection's client side (the capture's guess of who
    /// opened the connection was the other way round).
    pub flipped: bool,
    pub ts: i64,
}

impl Ctx<'_> {
    /// Writes the database client's and server's addresses into `src` and `dst` (reusing their
    /// buffers); returns their ports and the tunnel depth.
    pub fn endpoints(&self, src: &mut String, dst: &mut String) -> (u32, u32, u32) {
        let i = self.info;
        let (mut c, mut s) = (i.client_addr(), i.server_addr());
        let (mut cp, mut sp) = (u32::from(i.client_port), u32::from(i.server_port));
        if self.flipped {
            (c, s, cp, sp) = (s, c, sp, cp);
        }
        fmt::set_ip(src, c);
        fmt::set_ip(dst, s);
        (cp, sp, u32::from(i.tunnel_depth))
    }
}

/// Replaces `s` with the text of `v` (lossy UTF-8), reusing its buffer.
pub(crate) fn set(s: &mut String, v: &[u8]) {
    s.clear();
    s.push_str(&String::from_utf8_lossy(v));
}

/// The NUL-terminated string at the start of `b` and the bytes after its NUL; without a NUL,
/// all of `b` and `None`.
pub(crate) fn cstr(b: &[u8]) -> (&[u8], Option<&[u8]>) {
    match b.iter().position(|&x| x == 0) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    }
}

/// What a [`Reader`] step came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// All bytes used; the message is not complete yet.
    Need,
    /// A message is complete: read it with [`Reader::head`] and [`Reader::body`], then
    /// [`Reader::reset`].
    Msg,
    /// The header is not a valid message header (the kind of error).
    Bad(&'static str),
}

/// One direction's message framing: a header of fixed size giving the body's length.
#[derive(Default)]
pub struct Reader {
    head: [u8; 8],
    hn: usize,
    body: Vec<u8>,
    /// Body bytes still to come.
    left: usize,
    total: usize,
    in_body: bool,
    /// Time of the packet with the message's first byte.
    pub ts: i64,
    /// The framing is lost: the direction is not read any further.
    pub dead: bool,
}

impl Reader {
    /// Takes bytes from the front of `b` toward one message whose header has `h` (at most 8)
    /// bytes and whose body length `len` computes from the header (`Err` for a bad header).
    pub fn step(
        &mut self,
        b: &mut &[u8],
        h: usize,
        len: impl Fn(&[u8]) -> Result<usize, &'static str>,
        ts: i64,
    ) -> Step {
        if !self.in_body {
            if self.hn == 0 {
                self.ts = ts;
            }
            let n = (h - self.hn).min(b.len());
            self.head[self.hn..self.hn + n].copy_from_slice(&b[..n]);
            self.hn += n;
            *b = &b[n..];
            if self.hn < h {
                return Step::Need;
            }
            match len(&self.head[..h]) {
                Ok(t) => (self.total, self.left, self.in_body) = (t, t, true),
                Err(e) => {
                    self.dead = true;
                    return Step::Bad(e);
                }
            }
            self.body.clear();
        }
        let n = self.left.min(b.len());
        let keep = n.min(KEEP.saturating_sub(self.body.len()));
        self.body.extend_from_slice(&b[..keep]);
        self.left -= n;
        *b = &b[n..];
        if self.left == 0 { Step::Msg } else { Step::Need }
    }

    /// The message's header.
    pub fn head(&self) -> &[u8] {
        &self.head[..self.hn]
    }

    /// The kept part of the message's body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The whole length of the body (kept or not).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Whether part of a message is held.
    pub fn partial(&self) -> bool {
        self.hn > 0
    }

    /// Whether a message's header is complete and part of its body came (a message cut
    /// short that can be read as far as it got).
    pub fn in_body(&self) -> bool {
        self.in_body && !self.body.is_empty()
    }

    /// Ready for the next message.
    pub fn reset(&mut self) {
        (self.hn, self.left, self.total, self.in_body) = (0, 0, 0, false);
        self.body.clear();
        if self.body.capacity() > KEEP {
            self.body = Vec::new();
        }
    }
}

/// The protocol of a connection.
enum Proto {
    Postgres(Box<postgres::Conn>),
    Mysql(Box<mysql::Conn>),
    Tds(Box<tds::Conn>),
    Redis(Box<redis::Conn>),
    Mongo(Box<mongo::Conn>),
}

/// One connection.
struct Conn {
    info: StreamInfo,
    flipped: bool,
    proto: Proto,
    last_ts: i64,
}

/// What a protocol module tells after an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Go,
    /// Nothing more to read (the rest is encrypted, or the framing is lost both ways).
    Stop,
}

impl Conn {
    fn data(&mut self, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        match &mut self.proto {
            Proto::Postgres(p) => p.data(dir, b, cx, out),
            Proto::Mysql(p) => p.data(dir, b, cx, out),
            Proto::Tds(p) => p.data(dir, b, cx, out),
            Proto::Redis(p) => p.data(dir, b, cx, out),
            Proto::Mongo(p) => p.data(dir, b, cx, out),
        }
    }

    fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        match &mut self.proto {
            Proto::Postgres(p) => p.gap(dir, cx, out),
            Proto::Mysql(p) => p.gap(dir, cx, out),
            Proto::Tds(p) => p.gap(dir, cx, out),
            Proto::Redis(p) => p.gap(dir, cx, out),
            Proto::Mongo(p) => p.gap(dir, cx, out),
        }
    }

    fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        match &mut self.proto {
            Proto::Postgres(p) => p.close(cx, out),
            Proto::Mysql(p) => p.close(cx, out),
            Proto::Tds(p) => p.close(cx, out),
            Proto::Redis(p) => p.close(cx, out),
            Proto::Mongo(p) => p.close(cx, out),
        }
    }
}

/// The decoder state of one instance.
pub struct Database {
    enabled: [bool; 5],
    conns: HashMap<u64, Conn>,
}

impl Database {
    /// A decoder for the enabled record types of `config`.
    pub fn new(config: &Config) -> Self {
        let on = |i: usize| config.record_type_enabled(RECORD_TYPES[i].0);
        Database { enabled: [on(0), on(1), on(2), on(3), on(4)], conns: HashMap::new() }
    }

    /// The protocol of a new connection and whether the database server is its client side.
    fn proto_of(&self, info: &StreamInfo) -> Option<(Proto, bool)> {
        for (port, flipped) in [(info.server_port, false), (info.client_port, true)] {
            match port {
                PORT_POSTGRES if self.enabled[0] => return Some((Proto::Postgres(Box::default()), flipped)),
                PORT_MYSQL if self.enabled[1] => return Some((Proto::Mysql(Box::default()), flipped)),
                PORT_TDS if self.enabled[2] => return Some((Proto::Tds(Box::default()), flipped)),
                PORT_REDIS if self.enabled[3] => return Some((Proto::Redis(Box::default()), flipped)),
                PORT_MONGO if self.enabled[4] => return Some((Proto::Mongo(Box::default()), flipped)),
                _ => {}
            }
        }
        None
    }

    /// Handles one event.
    pub fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        if let StreamEvent::Open(info) = ev {
            let Some((proto, flipped)) = self.proto_of(info) else { return Verdict::Decline };
            let c = Conn { info: **info, flipped, proto, last_ts: meta.ts_nanos };
            self.conns.insert(meta.stream, c);
            return Verdict::Continue;
        }
        let Some(c) = self.conns.get_mut(&meta.stream) else { return Verdict::Decline };
        c.last_ts = c.last_ts.max(meta.ts_nanos);
        let info = c.info;
        let cx = Ctx { info: &info, flipped: c.flipped, ts: meta.ts_nanos };
        let orient = |d: Dir| match (d, c.flipped) {
            (d, false) => d,
            (Dir::ToServer, true) => Dir::ToClient,
            (Dir::ToClient, true) => Dir::ToServer,
        };
        let flow = match *ev {
            StreamEvent::Open(_) => Flow::Go,
            StreamEvent::Data { dir, bytes } => {
                let dir = orient(dir);
                c.data(dir, bytes, &cx, out)
            }
            StreamEvent::Gap { dir, .. } => {
                let dir = orient(dir);
                c.gap(dir, &cx, out)
            }
            StreamEvent::Close { .. } => Flow::Stop,
        };
        if flow == Flow::Stop {
            if let Some(mut c) = self.conns.remove(&meta.stream) {
                c.close(&cx, out);
            }
            return Verdict::Done;
        }
        Verdict::Continue
    }

    /// End of input: every connection still open ends here, in stream-id order.
    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(mut c) = self.conns.remove(&id) {
                let info = c.info;
                c.close(&Ctx { info: &info, flipped: c.flipped, ts: c.last_ts }, out);
            }
        }
    }
}

/// The exported decoder.
pub struct DatabaseDecoder(Database);

impl StreamDecoder for DatabaseDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "database".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(DatabaseDecoder(Database::new(config)))
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        self.0.event(meta, ev, out)
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_stream_decoder!(DatabaseDecoder);
