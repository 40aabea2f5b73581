//! The `ics` decoder: industrial control protocols in reassembled TCP connections, S7comm and
//! S7comm-plus over TPKT/COTP ([`s7`], port 102), IEC 60870-5-104 ([`iec104`], port 2404),
//! DNP3 ([`dnp3`], port 20000), OPC UA binary ([`opcua`], port 4840), Modbus/TCP ([`modbus`],
//! port 502) and EtherNet/IP with CIP ([`enip`], port 44818). Modbus and EtherNet/IP replies are
//! paired with their requests ([`pairs`]).
//!
//! A stream decoder, so that a message split over TCP segments is one record and a segment with
//! several messages gives several. The protocol of a connection is its port's (server port
//! first); a connection whose first bytes are not that protocol's framing is declined. Each
//! direction is cut into messages by the protocol's length field ([`Framing`]), buffering at most
//! one message; each message is parsed by plain Rust in the protocol module, unit-tested natively.
//! Malformed input gives the partial record plus a counted error; a gap loses that direction's
//! framing (counted), because the bytes after it need not start a message (IEC 104, whose
//! APDUs begin with a start octet, looks for the next one instead).

pub mod dnp3;
pub mod enip;
pub mod iec104;
pub mod modbus;
pub mod opcua;
pub mod pairs;
pub mod s7;
#[cfg(test)]
mod tests;

use netcap_sdk::{
    Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, StreamDecoder, StreamEvent, StreamInfo, Verdict,
    export_stream_decoder, fmt,
};
use std::collections::HashMap;

/// Type ids: indexes into [`RECORD_TYPES`].
pub const T_S7COMM: u16 = 0;
pub const T_IEC104: u16 = 1;
pub const T_DNP3: u16 = 2;
pub const T_OPCUA: u16 = 3;
pub const T_MODBUS: u16 = 4;
pub const T_ENIP: u16 = 5;
pub const T_CIP: u16 = 6;

/// Record type names with their protobuf messages, in type-id order. (`ENIP` and `CIP` are the
/// `app` decoder's types too, for EtherNet/IP over UDP: one file each.)
pub const RECORD_TYPES: [(&str, &str); 7] = [
    ("S7comm", "netcap.v1.S7comm"),
    ("IEC104", "netcap.v1.IEC104"),
    ("DNP3", "netcap.v1.DNP3"),
    ("OPCUA", "netcap.v1.OPCUA"),
    ("Modbus", "netcap.v1.Modbus"),
    ("ENIP", "netcap.v1.ENIP"),
    ("CIP", "netcap.v1.CIP"),
];

/// The ports: ISO-TSAP (S7comm), IEC 60870-5-104, DNP3, OPC UA, Modbus/TCP, EtherNet/IP.
pub const PORT_S7: u16 = 102;
pub const PORT_IEC104: u16 = 2404;
pub const PORT_DNP3: u16 = 20000;
pub const PORT_OPCUA: u16 = 4840;
pub const PORT_MODBUS: u16 = 502;
pub const PORT_ENIP: u16 = 44818;

/// Port interests.
pub const LAYERS: [&str; 6] = ["tcp:102", "tcp:2404", "tcp:20000", "tcp:4840", "tcp:502", "tcp:44818"];

/// What protocol modules see of an event: the connection and the event.
pub struct Ctx<'a> {
    pub info: &'a StreamInfo,
    pub meta: &'a EventMeta,
}

impl Ctx<'_> {
    /// Writes the sender and receiver addresses of direction `dir` into `src` and `dst`
    /// (reusing their buffers); returns the sender's and receiver's ports and the tunnel depth.
    pub fn endpoints(&self, dir: Dir, src: &mut String, dst: &mut String) -> (u32, u32, u32) {
        let i = self.info;
        let (c, s) = (i.client_addr(), i.server_addr());
        let (cp, sp) = (u32::from(i.client_port), u32::from(i.server_port));
        let (a, b, pa, pb) = match dir {
            Dir::ToServer => (c, s, cp, sp),
            Dir::ToClient => (s, c, sp, cp),
        };
        fmt::set_ip(src, a);
        fmt::set_ip(dst, b);
        (pa, pb, u32::from(i.tunnel_depth))
    }
}

impl Ctx<'_> {
    /// Whether direction `dir` is sent from `port`, the protocol's server port: a response.
    /// By port rather than by the connection's client and server, which are a guess when the
    /// capture begins after the connection did (as Wireshark, which goes by port too); when both
    /// ports are the protocol's, by direction.
    pub fn from_port(&self, dir: Dir, port: u16) -> bool {
        let (c, s) = (self.info.client_port, self.info.server_port);
        match dir {
            _ if c == s => dir == Dir::ToClient,
            Dir::ToServer => c == port,
            Dir::ToClient => s == port,
        }
    }
}

/// Replaces `s` with `v`, reusing its buffer.
pub(crate) fn set(s: &mut String, v: &str) {
    s.clear();
    s.push_str(v);
}

/// A protocol whose messages carry their own length: how a direction is cut into messages.
pub trait Framing {
    /// Bytes needed to know a message's length.
    const HEADER: usize;
    /// Error kind of a message cut short by the end of the connection.
    const TRUNCATED: &'static str;
    /// Error kind of a gap inside a message, or between messages (the framing is lost).
    const GAP: &'static str;
    /// A protocol whose messages begin with a fixed octet can find the next message after bytes
    /// that are not one: that octet, and the error kind counted for each run of bytes skipped.
    /// Without it a bad header loses the direction's framing.
    const RESYNC: Option<(u8, &'static str)> = None;
    /// Most bytes of a message kept for parsing when it is buffered (the rest is counted and
    /// dropped): protocols whose records need only the message's head bound their memory so.
    const KEEP: usize = usize::MAX;
    /// The whole length of the message whose first [`Framing::HEADER`] bytes are `head`, or why
    /// they are not a message header.
    fn frame_len(head: &[u8]) -> Result<usize, &'static str>;
    /// One message (or the part there is of it, with `cut` the reason it is incomplete) of
    /// direction `dir`, whose first byte came at `ts`: emit its record(s).
    fn message(
        &mut self,
        dir: Dir,
        msg: &[u8],
        cut: Option<&'static str>,
        ts: i64,
        cx: &Ctx<'_>,
        out: &mut Emitter<'_>,
    );
}

/// One direction's framing state: the part of a message received so far.
#[derive(Default)]
pub struct Side {
    /// The message's first bytes (at most [`Framing::KEEP`]).
    buf: Vec<u8>,
    /// Bytes of the message received so far (kept or not).
    got: usize,
    start_ts: i64,
    /// The framing is lost (a bad header or a gap): the direction is not read any further.
    dead: bool,
}

impl Side {
    /// Whether the direction lost its framing.
    pub fn dead(&self) -> bool {
        self.dead
    }

    /// Cuts `b` into messages; complete ones go to `p`. Whole messages in `b` are parsed in place.
    pub fn data<P: Framing>(&mut self, p: &mut P, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() && !self.dead {
            if self.buf.is_empty() {
                if let Some((start, skipped)) = P::RESYNC
                    && b[0] != start
                {
                    out.error(skipped);
                    match b.iter().position(|&x| x == start) {
                        Some(i) => b = &b[i..],
                        None => return,
                    }
                }
                self.start_ts = cx.meta.ts_nanos;
                // Fast path: a whole message at the start of `b`.
                if b.len() >= P::HEADER {
                    match P::frame_len(&b[..P::HEADER]) {
                        Ok(n) if n <= b.len() => {
                            p.message(dir, &b[..n], None, self.start_ts, cx, out);
                            b = &b[n..];
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            self.bad_header(e, out);
                            return;
                        }
                    }
                }
            }
            if self.buf.len() < P::HEADER {
                let n = (P::HEADER - self.buf.len()).min(b.len());
                self.buf.extend_from_slice(&b[..n]);
                self.got += n;
                b = &b[n..];
                continue;
            }
            let want = match P::frame_len(&self.buf[..P::HEADER]) {
                Ok(n) => n,
                Err(e) => {
                    self.bad_header(e, out);
                    return;
                }
            };
            let take = (want - self.got).min(b.len());
            let store = want.min(P::KEEP).saturating_sub(self.buf.len()).min(take);
            self.buf.extend_from_slice(&b[..store]);
            self.got += take;
            b = &b[take..];
            if self.got == want {
                p.message(dir, &self.buf, None, self.start_ts, cx, out);
                self.buf.clear();
                self.got = 0;
            }
        }
    }

    fn bad_header(&mut self, e: &'static str, out: &mut Emitter<'_>) {
        out.error(e);
        self.dead = true;
        self.buf = Vec::new();
    }

    /// Bytes of this direction are missing: a message in progress is emitted as far as it got.
    /// What follows the gap need not start a message: a protocol with a start octet
    /// ([`Framing::RESYNC`]) looks for the next one, the others read the direction no further.
    pub fn gap<P: Framing>(&mut self, p: &mut P, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.dead {
            self.flush(p, dir, P::GAP, cx, out);
            self.dead = P::RESYNC.is_none();
        }
    }

    /// The connection ended: a message cut short is emitted as far as it got.
    pub fn close<P: Framing>(&mut self, p: &mut P, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.dead && !self.buf.is_empty() {
            self.flush(p, dir, P::TRUNCATED, cx, out);
        }
        self.dead = true;
    }

    /// Emits the partial message held (its record, then the error `why`; only the error when
    /// not even a valid header is there) and stops reading the direction.
    fn flush<P: Framing>(&mut self, p: &mut P, dir: Dir, why: &'static str, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() >= P::HEADER && P::frame_len(&buf[..P::HEADER]).is_ok() {
            p.message(dir, &buf, Some(why), self.start_ts, cx, out);
        } else {
            out.error(why);
        }
        self.got = 0;
        self.dead = true;
    }
}

/// The protocol of a connection.
enum Proto {
    S7(Box<s7::Conn>),
    Iec104(Box<iec104::Conn>),
    Dnp3(Box<dnp3::Conn>),
    Opcua(Box<opcua::Conn>),
    Modbus(Box<modbus::Conn>),
    Enip(Box<enip::Conn>),
}

impl Proto {
    /// By port, server port first; `None` when no enabled protocol has either port.
    fn of(info: &StreamInfo, e: &[bool; 7]) -> Option<Proto> {
        for port in [info.server_port, info.client_port] {
            match port {
                PORT_S7 if e[0] => return Some(Proto::S7(Box::default())),
                PORT_IEC104 if e[1] => return Some(Proto::Iec104(Box::default())),
                PORT_DNP3 if e[2] => return Some(Proto::Dnp3(Box::default())),
                PORT_OPCUA if e[3] => return Some(Proto::Opcua(Box::default())),
                PORT_MODBUS if e[4] => return Some(Proto::Modbus(Box::default())),
                PORT_ENIP if e[5] || e[6] => return Some(Proto::Enip(Box::new(enip::Conn::new([e[5], e[6]])))),
                _ => {}
            }
        }
        None
    }

    /// Whether `b`, the first bytes of a connection, can start one of this protocol's messages.
    fn starts(&self, b: &[u8]) -> bool {
        match self {
            Proto::S7(_) => s7::starts(b),
            Proto::Iec104(_) => iec104::starts(b),
            Proto::Dnp3(_) => dnp3::starts(b),
            Proto::Opcua(_) => opcua::starts(b),
            Proto::Modbus(_) => modbus::starts(b),
            Proto::Enip(_) => enip::starts(b),
        }
    }
}

/// One connection.
struct Conn {
    info: StreamInfo,
    proto: Proto,
    sides: [Side; 2],
    /// Whether the connection's first data showed the protocol's framing.
    confirmed: bool,
    last_ts: i64,
}

impl Conn {
    fn data(&mut self, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let s = &mut self.sides[dir.index()];
        match &mut self.proto {
            Proto::S7(p) => s.data(p.as_mut(), dir, b, cx, out),
            Proto::Iec104(p) => s.data(p.as_mut(), dir, b, cx, out),
            Proto::Dnp3(p) => s.data(p.as_mut(), dir, b, cx, out),
            Proto::Opcua(p) => s.data(p.as_mut(), dir, b, cx, out),
            Proto::Modbus(p) => s.data(p.as_mut(), dir, b, cx, out),
            Proto::Enip(p) => s.data(p.as_mut(), dir, b, cx, out),
        }
    }

    fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let s = &mut self.sides[dir.index()];
        match &mut self.proto {
            Proto::S7(p) => s.gap(p.as_mut(), dir, cx, out),
            Proto::Iec104(p) => s.gap(p.as_mut(), dir, cx, out),
            Proto::Dnp3(p) => s.gap(p.as_mut(), dir, cx, out),
            Proto::Opcua(p) => s.gap(p.as_mut(), dir, cx, out),
            Proto::Modbus(p) => s.gap(p.as_mut(), dir, cx, out),
            Proto::Enip(p) => s.gap(p.as_mut(), dir, cx, out),
        }
    }

    fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let s = &mut self.sides[dir.index()];
            match &mut self.proto {
                Proto::S7(p) => s.close(p.as_mut(), dir, cx, out),
                Proto::Iec104(p) => s.close(p.as_mut(), dir, cx, out),
                Proto::Dnp3(p) => s.close(p.as_mut(), dir, cx, out),
                Proto::Opcua(p) => s.close(p.as_mut(), dir, cx, out),
                Proto::Modbus(p) => s.close(p.as_mut(), dir, cx, out),
                Proto::Enip(p) => s.close(p.as_mut(), dir, cx, out),
            }
        }
    }
}

/// The decoder state of one instance.
pub struct Ics {
    enabled: [bool; 7],
    conns: HashMap<u64, Conn>,
}

impl Ics {
    /// A decoder for the enabled record types of `config`.
    pub fn new(config: &Config) -> Self {
        let on = |i: usize| config.record_type_enabled(RECORD_TYPES[i].0);
        Ics { enabled: std::array::from_fn(on), conns: HashMap::new() }
    }

    /// Handles one event.
    pub fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        if let StreamEvent::Open(info) = ev {
            let Some(proto) = Proto::of(info, &self.enabled) else { return Verdict::Decline };
            let c = Conn { info: **info, proto, sides: Default::default(), confirmed: false, last_ts: meta.ts_nanos };
            self.conns.insert(meta.stream, c);
            return Verdict::Continue;
        }
        let Some(c) = self.conns.get_mut(&meta.stream) else { return Verdict::Decline };
        c.last_ts = c.last_ts.max(meta.ts_nanos);
        let info = c.info;
        let cx = Ctx { info: &info, meta };
        match *ev {
            StreamEvent::Open(_) => Verdict::Continue,
            StreamEvent::Data { dir, bytes } => {
                if !c.confirmed {
                    if !c.proto.starts(bytes) {
                        // Not this protocol on its port (or the capture began mid-message).
                        self.conns.remove(&meta.stream);
                        return Verdict::Decline;
                    }
                    c.confirmed = true;
                }
                c.data(dir, bytes, &cx, out);
                if c.sides.iter().all(Side::dead) {
                    self.conns.remove(&meta.stream);
                    return Verdict::Done;
                }
                Verdict::Continue
            }
            StreamEvent::Gap { dir, .. } => {
                if c.confirmed {
                    c.gap(dir, &cx, out);
                } else {
                    c.sides[dir.index()].dead = true;
                }
                Verdict::Continue
            }
            StreamEvent::Close { .. } => {
                c.close(&cx, out);
                self.conns.remove(&meta.stream);
                Verdict::Done
            }
        }
    }

    /// End of input: every connection still open ends here, in stream-id order.
    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(mut c) = self.conns.remove(&id) {
                let meta = EventMeta { stream: id, seq: u64::MAX, ts_nanos: c.last_ts };
                let info = c.info;
                c.close(&Ctx { info: &info, meta: &meta }, out);
            }
        }
    }
}

/// Big-endian u16 at `i`, if there.
pub(crate) fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// The exported decoder.
pub struct IcsDecoder(Ics);

impl StreamDecoder for IcsDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "ics".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(IcsDecoder(Ics::new(config)))
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        self.0.event(meta, ev, out)
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_stream_decoder!(IcsDecoder);
