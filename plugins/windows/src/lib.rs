//! The `windows` decoder: Windows enterprise protocols in reassembled TCP connections, SMB1 and
//! SMB2/3 ([`smb`]) over direct TCP (port 445) and the NetBIOS session service (port 139), with
//! the NTLMSSP messages of their session setups ([`ntlm`]).
//!
//! A stream decoder, so that an SMB message split over TCP segments is one record and a segment
//! with several messages gives several. Each direction is cut into NetBIOS session messages by
//! their 4-byte header ([`Side`]), buffering at most [`KEEP`] bytes of one message (SMB reads
//! and writes carry file data the records do not need); each message is parsed by plain Rust,
//! unit-tested natively. A direction whose first bytes are not a NetBIOS session header (with an
//! SMB signature after it) is not read (a capture that begins mid-message, or not SMB); a
//! connection with neither direction read is declined. Malformed input gives the partial record plus a counted
//! error; a gap loses that direction's framing (counted), because the bytes after it need not
//! start a message.

pub mod ntlm;
pub mod smb;
#[cfg(test)]
mod tests;

use netcap_proto::v1;
use netcap_sdk::{
    Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, StreamDecoder, StreamEvent, StreamInfo, Verdict,
    export_stream_decoder, fmt,
};
use std::collections::HashMap;

/// Type ids: indexes into [`RECORD_TYPES`].
pub const T_SMB: u16 = 0;
pub const T_NTLM: u16 = 1;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 2] = [("SMB", "netcap.v1.SMB"), ("NTLM", "netcap.v1.NTLM")];

/// Port interests: SMB over direct TCP and over the NetBIOS session service.
pub const LAYERS: [&str; 2] = ["tcp:445", "tcp:139"];

/// Most bytes of a NetBIOS message kept for parsing (headers, names and security blobs fit;
/// the rest, file data, is skipped).
pub const KEEP: usize = 64 * 1024;

/// NetBIOS session header size.
const HEADER: usize = 4;

pub const E_BAD_HEADER: &str = "netbios: bad session message header";
pub const E_GAP: &str = "netbios: gap in session message";
pub const E_TRUNCATED: &str = "netbios: session message truncated";

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

/// The whole length of the NetBIOS session message whose header is `h` (RFC 1002 4.3.1; direct
/// TCP, MS-SMB2 2.1, has a 24-bit length after a zero type byte), or why it is not one.
pub fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
    let n = match h[0] {
        0x00 => usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]),
        0x81..=0x85 => usize::from(h[1] & 1) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]),
        _ => return Err(E_BAD_HEADER),
    };
    Ok(HEADER + n)
}

/// Whether `b`, the first bytes of a connection (perhaps only a few), can start a NetBIOS
/// session message; a session message must hold an SMB1, SMB2 or SMB3 transform/compression
/// header, as far as `b` goes.
pub fn starts(b: &[u8]) -> bool {
    let Some(&t) = b.first() else { return false };
    if !matches!(t, 0x00 | 0x81..=0x85) {
        return false;
    }
    let sig = b.get(4..b.len().min(8)).unwrap_or_default();
    t != 0 || sig.is_empty() || (matches!(sig[0], 0xfc..=0xff) && b"SMB".starts_with(&sig[1..]))
}

/// The per-connection state messages are parsed with: the records (buffers reused) and the last
/// NTLM server challenge, which the AUTHENTICATE's cracker form needs.
#[derive(Default)]
pub struct Parser {
    /// Which record types are enabled, in type-id order.
    pub on: [bool; 2],
    pub smb: v1::Smb,
    pub ntlm: v1::Ntlm,
    pub challenge: Option<[u8; 8]>,
}

/// Replaces `s` with `v`, reusing its buffer.
pub(crate) fn set_str(s: &mut String, v: &str) {
    s.clear();
    s.push_str(v);
}

/// One direction's framing state: the part of a message received so far.
#[derive(Default)]
pub struct Side {
    /// The message's first bytes (at most [`KEEP`]).
    buf: Vec<u8>,
    /// Bytes of the message received so far (kept or not).
    got: usize,
    start_ts: i64,
    /// The direction's first data started a NetBIOS message (else it is not read: the capture
    /// began inside a message, or this is not SMB).
    started: bool,
    /// The framing is lost (a bad header or a gap): the direction is not read any further.
    dead: bool,
}

impl Side {
    /// Cuts `b` into messages; complete ones go to `p`. Whole messages in `b` are parsed in place.
    pub fn data(&mut self, p: &mut Parser, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        while !b.is_empty() && !self.dead {
            if self.buf.is_empty() && self.got == 0 {
                self.start_ts = cx.meta.ts_nanos;
                if b.len() >= HEADER {
                    match frame_len(&b[..HEADER]) {
                        Ok(n) if n <= b.len() => {
                            smb::message(p, dir, &b[..n], None, self.start_ts, cx, out);
                            b = &b[n..];
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => return self.bad_header(e, out),
                    }
                }
            }
            if self.buf.len() < HEADER {
                let n = (HEADER - self.buf.len()).min(b.len());
                self.buf.extend_from_slice(&b[..n]);
                self.got += n;
                b = &b[n..];
                continue;
            }
            let want = match frame_len(&self.buf[..HEADER]) {
                Ok(n) => n,
                Err(e) => return self.bad_header(e, out),
            };
            let take = (want - self.got).min(b.len());
            let store = want.min(KEEP).saturating_sub(self.buf.len()).min(take);
            self.buf.extend_from_slice(&b[..store]);
            self.got += take;
            b = &b[take..];
            if self.got == want {
                // A message longer than KEEP (file data) is parsed from its kept head.
                smb::message(p, dir, &self.buf, None, self.start_ts, cx, out);
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

    /// Bytes of this direction are missing: a message in progress is emitted as far as it got,
    /// and the direction is read no further (what follows need not start a message).
    pub fn gap(&mut self, p: &mut Parser, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.dead {
            self.flush(p, dir, E_GAP, cx, out);
        }
    }

    /// The connection ended: a message cut short is emitted as far as it got.
    pub fn close(&mut self, p: &mut Parser, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.dead && !self.buf.is_empty() {
            self.flush(p, dir, E_TRUNCATED, cx, out);
        }
        self.dead = true;
    }

    /// Emits the partial message held (its records, then the error `why`; only the error when
    /// not even a header is there) and stops reading the direction.
    fn flush(&mut self, p: &mut Parser, dir: Dir, why: &'static str, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() >= HEADER && frame_len(&buf[..HEADER]).is_ok() {
            smb::message(p, dir, &buf, Some(why), self.start_ts, cx, out);
        } else {
            out.error(why);
        }
        self.got = 0;
        self.dead = true;
    }
}

/// One connection.
struct Conn {
    info: StreamInfo,
    parser: Box<Parser>,
    sides: [Side; 2],
    last_ts: i64,
}

impl Conn {
    fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            self.sides[dir.index()].close(&mut self.parser, dir, cx, out);
        }
    }
}

/// The decoder state of one instance.
pub struct Windows {
    /// Which record types are enabled (NTLM records come from SMB connections).
    on: [bool; 2],
    conns: HashMap<u64, Conn>,
}

impl Windows {
    /// A decoder for the enabled record types of `config`.
    pub fn new(config: &Config) -> Self {
        let on = RECORD_TYPES.map(|(n, _)| config.record_type_enabled(n));
        Windows { on, conns: HashMap::new() }
    }

    /// Handles one event.
    pub fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        if let StreamEvent::Open(info) = ev {
            if !self.on.iter().any(|&x| x) {
                return Verdict::Decline;
            }
            let c = Conn {
                info: **info,
                parser: Box::new(Parser { on: self.on, ..Default::default() }),
                sides: Default::default(),
                last_ts: meta.ts_nanos,
            };
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
                let s = &mut c.sides[dir.index()];
                if !s.started && !s.dead {
                    if starts(bytes) {
                        s.started = true;
                    } else {
                        // Not NetBIOS/SMB, or the capture began mid-message: this direction is
                        // not read; the other may still start with a message.
                        s.dead = true;
                    }
                }
                s.data(&mut c.parser, dir, bytes, &cx, out);
                if c.sides.iter().all(|s| s.dead) {
                    let started = c.sides.iter().any(|s| s.started);
                    self.conns.remove(&meta.stream);
                    return if started { Verdict::Done } else { Verdict::Decline };
                }
                Verdict::Continue
            }
            StreamEvent::Gap { dir, .. } => {
                let s = &mut c.sides[dir.index()];
                if s.started {
                    s.gap(&mut c.parser, dir, &cx, out);
                } else {
                    s.dead = true;
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

/// The exported decoder.
pub struct WindowsDecoder(Windows);

impl StreamDecoder for WindowsDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "windows".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(WindowsDecoder(Windows::new(config)))
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        self.0.event(meta, ev, out)
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_stream_decoder!(WindowsDecoder);
