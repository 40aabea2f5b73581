//! Stream decoders: reassembled TCP connections instead of packets.
//!
//! The host reassembles each TCP connection (ordered, de-duplicated bytes per direction, gaps
//! marked, never invented) and hands a stream decoder *events*: [`StreamEvent::Open`], then
//! [`StreamEvent::Data`] and [`StreamEvent::Gap`] per direction in stream order, and
//! [`StreamEvent::Close`]. Events of all the streams a worker owns arrive interleaved, in packet
//! order, batched (the flat *stream batch* defined here and in `wit/decoder.wit`); a decoder keeps
//! its per-connection state keyed by [`EventMeta::stream`].
//!
//! A decoder implements [`StreamDecoder`] and calls [`export_stream_decoder!`](crate::export_stream_decoder)
//! once. Its `describe().layers` are port interests (`tcp:443`): it gets the connections with that
//! port on either side; `tcp:*` gets every connection (content-based decoders, which look at the
//! first bytes and return [`Verdict::Decline`] when the stream is not theirs). A decline (or
//! [`Verdict::Done`]) stops the host feeding that stream to that decoder.
//!
//! This module is the single definition of the stream batch format: the host writes it with
//! the `push_*` functions and the SDK reads it with [`visit_stream_batch`].

use crate::{BadEntry, Config, DecoderInfo, Emitter};
use std::collections::HashSet;

/// The two endpoints and the tunnel depth of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamInfo {
    /// Stream id: the sequence number of the connection's first packet seen; unique in a run.
    pub id: u64,
    /// 4 or 6.
    pub ip_version: u8,
    /// The client's address (IPv4 in the first 4 bytes, the rest zero).
    pub client_ip: [u8; 16],
    /// The server's address (IPv4 in the first 4 bytes, the rest zero).
    pub server_ip: [u8; 16],
    /// The client's port.
    pub client_port: u16,
    /// The server's port.
    pub server_port: u16,
    /// Tunnel depth of the TCP layer (0 = outermost packet).
    pub tunnel_depth: u8,
}

impl StreamInfo {
    /// The client address bytes (4 or 16).
    pub fn client_addr(&self) -> &[u8] {
        if self.ip_version == 4 { &self.client_ip[..4] } else { &self.client_ip }
    }

    /// The server address bytes (4 or 16).
    pub fn server_addr(&self) -> &[u8] {
        if self.ip_version == 4 { &self.server_ip[..4] } else { &self.server_ip }
    }
}

/// A direction of a connection. The client is the sender of the SYN (or the receiver of a
/// SYN-ACK), else the sender of the first packet seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

impl Dir {
    /// 0 for [`Dir::ToServer`], 1 for [`Dir::ToClient`] (handy as an array index).
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both directions ended with a FIN and all their data was delivered (or gapped).
    Fin,
    /// A RST.
    Rst,
    /// No packet for the idle timeout (packet time).
    Timeout,
    /// End of input.
    End,
    /// A new connection (a SYN with another initial sequence number) reused the address pair.
    Reused,
    /// Evicted to stay within the reassembly memory budget.
    Evicted,
}

impl CloseReason {
    /// The wire code in stream batches.
    pub fn code(self) -> u32 {
        match self {
            CloseReason::Fin => 0,
            CloseReason::Rst => 1,
            CloseReason::Timeout => 2,
            CloseReason::End => 3,
            CloseReason::Reused => 4,
            CloseReason::Evicted => 5,
        }
    }

    /// The reason of a wire code; unknown codes read as [`CloseReason::End`].
    pub fn from_code(c: u32) -> Self {
        match c {
            0 => CloseReason::Fin,
            1 => CloseReason::Rst,
            2 => CloseReason::Timeout,
            4 => CloseReason::Reused,
            5 => CloseReason::Evicted,
            _ => CloseReason::End,
        }
    }

    /// A short lowercase name (`fin`, `rst`, `timeout`, `end`, `reused`, `evicted`).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Fin => "fin",
            CloseReason::Rst => "rst",
            CloseReason::Timeout => "timeout",
            CloseReason::End => "end",
            CloseReason::Reused => "reused",
            CloseReason::Evicted => "evicted",
        }
    }
}

/// What happened on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// A new connection; always the stream's first event.
    Open(&'a StreamInfo),
    /// The next bytes of one direction, in order.
    Data {
        /// Direction.
        dir: Dir,
        /// The bytes (never empty).
        bytes: &'a [u8],
    },
    /// `len` bytes of one direction are missing from the capture (lost, not captured, or skipped
    /// at a memory limit); the next data of that direction follows them.
    Gap {
        /// Direction.
        dir: Dir,
        /// Missing bytes.
        len: u32,
    },
    /// The stream ended; no more events follow for it.
    Close {
        /// Why.
        reason: CloseReason,
    },
}

/// Where an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta {
    /// The stream ([`StreamInfo::id`]).
    pub stream: u64,
    /// The packet that caused the event; records emitted for the event belong to it.
    pub seq: u64,
    /// Packet time, ns since the Unix epoch: for [`StreamEvent::Data`] the time of the packet
    /// that carried the bytes (also when they were held out of order and are delivered by a
    /// later packet); for the other events the time of the stream's latest packet. Never later
    /// than packet `seq`'s time, never outside the connection's first and last packet.
    pub ts_nanos: i64,
}

/// What the decoder wants after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep feeding this stream.
    Continue,
    /// Not mine: stop feeding this stream to this decoder (no Close follows).
    Decline,
    /// Mine, and I have all I want: stop feeding this stream to this decoder (no Close follows).
    Done,
}

/// A stream decoder. One value lives per (worker, decoder) instance and sees the streams that
/// worker owns, in packet order.
pub trait StreamDecoder: Sized + 'static {
    /// Static description: kind [`Kind::Stream`](crate::Kind::Stream); `layers` are port
    /// interests (`tcp:80`), or `tcp:*` for every stream.
    fn describe() -> DecoderInfo;
    /// Creates the decoder from its configuration.
    fn init(config: &Config) -> Result<Self, String>;
    /// Handles one event; `out` already attributes records to `meta.seq`.
    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict;
    /// Packet time advanced to `now` (the time of packet `seq`).
    fn tick(&mut self, _now: i64, _seq: u64, _out: &mut Emitter<'_>) {}
    /// End of input (every stream has been closed before): emit what is left.
    fn finish(&mut self, _out: &mut Emitter<'_>) {}
}

/// Output tag of a stop entry: the decoder declines (body `[1]`) or is done with (body `[2]`)
/// the stream whose id is the entry's `seq`.
pub const TAG_STOP: u16 = 0xfffd;
/// Stop entry body: declined.
pub const STOP_DECLINE: u8 = 1;
/// Stop entry body: done.
pub const STOP_DONE: u8 = 2;

/// Event kinds in stream batches.
pub mod kind {
    /// Open: the body is the stream info (38 bytes).
    pub const OPEN: u8 = 0;
    /// Data: the body is the bytes.
    pub const DATA: u8 = 1;
    /// Gap: `arg` is the number of missing bytes; no body.
    pub const GAP: u8 = 2;
    /// Close: `arg` is the reason code; no body.
    pub const CLOSE: u8 = 3;
}

/// Bytes of an event header: stream u64 | seq u64 | ts s64 | kind u8 | dir u8 | arg u32 | len u32.
pub const EVENT_HEADER_LEN: usize = 8 + 8 + 8 + 1 + 1 + 4 + 4;
/// Bytes of an open event's body.
pub const OPEN_BODY_LEN: usize = 1 + 1 + 2 + 2 + 16 + 16;

fn push_header(batch: &mut Vec<u8>, meta: &EventMeta, kind: u8, dir: u8, arg: u32, len: usize) {
    batch.extend_from_slice(&meta.stream.to_le_bytes());
    batch.extend_from_slice(&meta.seq.to_le_bytes());
    batch.extend_from_slice(&meta.ts_nanos.to_le_bytes());
    batch.push(kind);
    batch.push(dir);
    batch.extend_from_slice(&arg.to_le_bytes());
    batch.extend_from_slice(&(len as u32).to_le_bytes());
}

/// Appends an open event.
pub fn push_open(batch: &mut Vec<u8>, meta: &EventMeta, info: &StreamInfo) {
    push_header(batch, meta, kind::OPEN, 0, 0, OPEN_BODY_LEN);
    batch.push(info.ip_version);
    batch.push(info.tunnel_depth);
    batch.extend_from_slice(&info.client_port.to_le_bytes());
    batch.extend_from_slice(&info.server_port.to_le_bytes());
    batch.extend_from_slice(&info.client_ip);
    batch.extend_from_slice(&info.server_ip);
}

/// Appends a data event (`bytes` at most 4 GiB).
pub fn push_data(batch: &mut Vec<u8>, meta: &EventMeta, dir: Dir, bytes: &[u8]) {
    push_header(batch, meta, kind::DATA, dir.index() as u8, 0, bytes.len());
    batch.extend_from_slice(bytes);
}

/// Appends a gap event.
pub fn push_gap(batch: &mut Vec<u8>, meta: &EventMeta, dir: Dir, len: u32) {
    push_header(batch, meta, kind::GAP, dir.index() as u8, len, 0);
}

/// Appends a close event.
pub fn push_close(batch: &mut Vec<u8>, meta: &EventMeta, reason: CloseReason) {
    push_header(batch, meta, kind::CLOSE, 0, reason.code(), 0);
}

/// The length in bytes of the event at the start of `rest`, if a whole one is there.
pub fn event_len(rest: &[u8]) -> Option<usize> {
    let h = rest.get(..EVENT_HEADER_LEN)?;
    let len = u32::from_le_bytes([h[30], h[31], h[32], h[33]]) as usize;
    let total = EVENT_HEADER_LEN.checked_add(len)?;
    (rest.len() >= total).then_some(total)
}

/// Calls `f` with each event of a stream batch, in order. A malformed event (cut short, an
/// unknown kind or direction, a bad open body) ends the walk with an error.
pub fn visit_stream_batch(batch: &[u8], mut f: impl FnMut(&EventMeta, &StreamEvent<'_>)) -> Result<(), BadEntry> {
    let mut rest = batch;
    while !rest.is_empty() {
        let total = event_len(rest).ok_or(BadEntry("stream event cut short"))?;
        let (h, body) = rest[..total].split_at(EVENT_HEADER_LEN);
        rest = &rest[total..];
        let u64_at =
            |i: usize| u64::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3], h[i + 4], h[i + 5], h[i + 6], h[i + 7]]);
        let meta = EventMeta { stream: u64_at(0), seq: u64_at(8), ts_nanos: u64_at(16) as i64 };
        let arg = u32::from_le_bytes([h[26], h[27], h[28], h[29]]);
        let dir = match h[25] {
            0 => Dir::ToServer,
            1 => Dir::ToClient,
            _ => return Err(BadEntry("stream event with a bad direction")),
        };
        match h[24] {
            kind::OPEN => {
                if body.len() != OPEN_BODY_LEN {
                    return Err(BadEntry("stream open event with a bad body"));
                }
                let mut info = StreamInfo {
                    id: meta.stream,
                    ip_version: body[0],
                    tunnel_depth: body[1],
                    client_port: u16::from_le_bytes([body[2], body[3]]),
                    server_port: u16::from_le_bytes([body[4], body[5]]),
                    ..StreamInfo::default()
                };
                info.client_ip.copy_from_slice(&body[6..22]);
                info.server_ip.copy_from_slice(&body[22..38]);
                f(&meta, &StreamEvent::Open(&info));
            }
            kind::DATA => f(&meta, &StreamEvent::Data { dir, bytes: body }),
            kind::GAP => f(&meta, &StreamEvent::Gap { dir, len: arg }),
            kind::CLOSE => f(&meta, &StreamEvent::Close { reason: CloseReason::from_code(arg) }),
            _ => return Err(BadEntry("stream event of an unknown kind")),
        }
    }
    Ok(())
}

/// Appends a stop entry (see [`TAG_STOP`]) for `stream` to an output batch.
pub fn push_stop(out: &mut Vec<u8>, stream: u64, verdict: Verdict) {
    let body = match verdict {
        Verdict::Continue => return,
        Verdict::Decline => STOP_DECLINE,
        Verdict::Done => STOP_DONE,
    };
    out.extend_from_slice(&TAG_STOP.to_le_bytes());
    out.extend_from_slice(&stream.to_le_bytes());
    out.push(1);
    out.push(body);
}

/// Drives a [`StreamDecoder`] from stream batches: the one implementation of the guest side of
/// the contract, used by the WebAssembly glue and by native runs (tests, benchmarks, the host's
/// native backend). It drops the events of a stream after the decoder stopped it within a batch
/// (the host stops sending them from the next batch on).
#[derive(Debug)]
pub struct StreamRunner<D> {
    /// The decoder.
    pub decoder: D,
    stopped: HashSet<u64>,
}

impl<D: StreamDecoder> StreamRunner<D> {
    /// Wraps a decoder.
    pub fn new(decoder: D) -> Self {
        StreamRunner { decoder, stopped: HashSet::new() }
    }

    /// Decodes a stream batch, appending the output batch (records, errors, stop entries) to `out`.
    /// A malformed batch ends with an error entry after the events before it.
    pub fn decode(&mut self, batch: &[u8], out: &mut Vec<u8>) {
        self.stopped.clear();
        let (d, stopped) = (&mut self.decoder, &mut self.stopped);
        let mut last_seq = 0;
        let r = visit_stream_batch(batch, |meta, ev| {
            last_seq = meta.seq;
            if !stopped.is_empty() && stopped.contains(&meta.stream) {
                return;
            }
            let mut em = Emitter::new(out, meta.seq);
            let v = d.event(meta, ev, &mut em);
            if v != Verdict::Continue {
                stopped.insert(meta.stream);
                push_stop(out, meta.stream, v);
            }
        });
        if let Err(e) = r {
            Emitter::new(out, last_seq).error(e.0);
        }
    }

    /// Runs [`StreamDecoder::tick`], appending to `out`.
    pub fn tick(&mut self, now: i64, seq: u64, out: &mut Vec<u8>) {
        let mut em = Emitter::new(out, seq);
        self.decoder.tick(now, seq, &mut em);
    }

    /// Runs [`StreamDecoder::finish`], appending to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let mut em = Emitter::new(out, u64::MAX);
        self.decoder.finish(&mut em);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entry, Kind, TAG_ERROR, entries};

    fn meta(stream: u64, seq: u64) -> EventMeta {
        EventMeta { stream, seq, ts_nanos: seq as i64 * 10 }
    }

    #[test]
    fn batch_round_trip() {
        let info = StreamInfo {
            id: 3,
            ip_version: 4,
            client_ip: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            server_ip: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            client_port: 40000,
            server_port: 443,
            tunnel_depth: 1,
        };
        let mut b = Vec::new();
        push_open(&mut b, &meta(3, 3), &info);
        push_data(&mut b, &meta(3, 4), Dir::ToServer, b"hello");
        push_gap(&mut b, &meta(3, 5), Dir::ToClient, 1234);
        push_close(&mut b, &meta(3, 9), CloseReason::Rst);
        let mut seen = Vec::new();
        visit_stream_batch(&b, |m, ev| {
            seen.push(format!("{}/{}/{} {:?}", m.stream, m.seq, m.ts_nanos, ev));
        })
        .unwrap();
        assert_eq!(seen.len(), 4);
        assert!(seen[0].starts_with("3/3/30 Open("), "{}", seen[0]);
        assert!(seen[0].contains("client_port: 40000") && seen[0].contains("tunnel_depth: 1"));
        assert_eq!(seen[1], "3/4/40 Data { dir: ToServer, bytes: [104, 101, 108, 108, 111] }");
        assert_eq!(seen[2], "3/5/50 Gap { dir: ToClient, len: 1234 }");
        assert_eq!(seen[3], "3/9/90 Close { reason: Rst }");
        assert_eq!(info.client_addr(), &[10, 0, 0, 1]);
        // Cut anywhere inside the last event: the events before it, then an error.
        for cut in 1..EVENT_HEADER_LEN {
            let mut n = 0;
            let r = visit_stream_batch(&b[..b.len() - cut], |_, _| n += 1);
            assert_eq!((n, r), (3, Err(BadEntry("stream event cut short"))));
        }
    }

    /// Declines streams that start with "SSH"; emits one record per data event, done at a newline.
    struct Picky;

    impl StreamDecoder for Picky {
        fn describe() -> DecoderInfo {
            DecoderInfo {
                name: "picky".into(),
                version: "0".into(),
                kind: Kind::Stream,
                layers: vec!["tcp:*".into()],
                record_types: Vec::new(),
                schema: Vec::new(),
                ..Default::default()
            }
        }
        fn init(_: &Config) -> Result<Self, String> {
            Ok(Picky)
        }
        fn event(&mut self, _: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
            match ev {
                StreamEvent::Data { bytes, .. } if bytes.starts_with(b"SSH") => Verdict::Decline,
                StreamEvent::Data { bytes, .. } => {
                    out.record(0, &bytes.to_vec());
                    if bytes.ends_with(b"\n") { Verdict::Done } else { Verdict::Continue }
                }
                _ => Verdict::Continue,
            }
        }
    }

    #[test]
    fn runner_stops_a_stream_within_the_batch() {
        let mut b = Vec::new();
        push_data(&mut b, &meta(1, 1), Dir::ToServer, b"SSH-2.0");
        push_data(&mut b, &meta(2, 2), Dir::ToServer, b"GET /");
        push_data(&mut b, &meta(1, 3), Dir::ToServer, b"GET /ignored");
        push_data(&mut b, &meta(2, 4), Dir::ToServer, b" HTTP/1.1\n");
        push_data(&mut b, &meta(2, 5), Dir::ToServer, b"GET /after-done");
        let mut r = StreamRunner::new(Picky);
        let mut out = Vec::new();
        r.decode(&b, &mut out);
        let e: Vec<Entry<'_>> = entries(&out).map(Result::unwrap).collect();
        let got: Vec<(u16, u64, &[u8])> = e.iter().map(|e| (e.tag, e.seq, e.bytes)).collect();
        // A `Vec<u8>` record is prost's BytesValue (field 1): its bytes end with the data.
        assert_eq!(got[0], (TAG_STOP, 1, &[STOP_DECLINE][..]));
        assert_eq!((got[1].0, got[1].1), (0, 2));
        assert!(got[1].2.ends_with(b"GET /"));
        assert_eq!((got[2].0, got[2].1), (0, 4));
        assert_eq!(got[3], (TAG_STOP, 2, &[STOP_DONE][..]));
        assert_eq!(got.len(), 4);
        // A malformed batch: the events before it, then an error entry.
        let mut out = Vec::new();
        r.decode(&b[..b.len() - 1], &mut out);
        let e: Vec<Entry<'_>> = entries(&out).map(Result::unwrap).collect();
        assert_eq!(e.last().map(|e| (e.tag, e.bytes)), Some((TAG_ERROR, &b"stream event cut short"[..])));
    }
}
