//! A test-only stream decoder (kind `stream`, `tcp:*`): for every TCP connection the host
//! reassembles, one `StreamEcho` record per direction when it closes, with the bytes delivered,
//! the gaps, and the SHA-256 of the bytes in order. Tests compare it with tshark's
//! `follow,tcp,raw` and with streams they synthesized; the benchmark uses it to measure
//! reassembly. With `--extract-files` it also sends each direction's bytes as a file (file
//! content entries; complete when the direction had no gap), so tests can check the host's
//! extraction against the same hashes. Built into `target/plugins-testing/`, never loaded unless
//! asked for.

use netcap_sdk::{
    CloseReason, Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, RecordType, StreamDecoder, StreamEvent,
    StreamInfo, Verdict, export_stream_decoder, fmt,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Generated prost types of `proto/echo.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
pub mod schema {
    include!(concat!(env!("OUT_DIR"), "/netcap.testing.rs"));
}

/// Serialized `FileDescriptorSet` of `proto/echo.proto`.
pub const SCHEMA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/schema.fds"));

/// One direction's running totals.
#[derive(Default)]
struct Side {
    bytes: u64,
    chunks: u64,
    gaps: u64,
    gap_bytes: u64,
    hash: Sha256,
    /// The current piece (the data since the last gap) and the finished ones.
    piece: Sha256,
    piece_bytes: u64,
    pieces: Vec<(String, u64)>,
    gap_lengths: Vec<u64>,
    /// The last event of this direction was a gap (consecutive gaps make one).
    in_gap: bool,
    /// Bytes sent as file content (at most the host's `extract-max-file`).
    sent: u64,
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

struct Conn {
    info: StreamInfo,
    opened: i64,
    side: [Side; 2],
}

/// The exported decoder.
#[derive(Default)]
pub struct Echo {
    conns: HashMap<u64, Conn>,
    rec: schema::StreamEcho,
    /// `--extract-files`: the bytes of one file the host keeps (0: no extraction).
    extract_max: u64,
}

/// The file id of a direction of a stream.
fn file_id(stream: u64, dir: usize) -> u64 {
    stream.wrapping_mul(2).wrapping_add(dir as u64)
}

fn ip(a: &[u8]) -> String {
    let mut s = String::new();
    fmt::set_ip(&mut s, a);
    s
}

impl Echo {
    fn close(&mut self, id: u64, reason: CloseReason, ts: i64, out: &mut Emitter<'_>) {
        let Some(c) = self.conns.remove(&id) else { return };
        for (i, side) in c.side.into_iter().enumerate() {
            if self.extract_max > 0 && side.bytes > 0 {
                let whole = side.gaps == 0 && side.sent == side.bytes;
                let sha: [u8; 32] = side.hash.clone().finalize().into();
                out.file_end(file_id(id, i), whole, &sha);
            }
            let r = &mut self.rec;
            r.timestamp = c.opened;
            r.stream = id;
            r.direction = if i == 0 { "to_server" } else { "to_client" }.into();
            r.client_ip = ip(c.info.client_addr());
            r.client_port = u32::from(c.info.client_port);
            r.server_ip = ip(c.info.server_addr());
            r.server_port = u32::from(c.info.server_port);
            r.tunnel_depth = u32::from(c.info.tunnel_depth);
            r.bytes = side.bytes;
            r.chunks = side.chunks;
            r.gaps = side.gaps;
            r.gap_bytes = side.gap_bytes;
            r.sha256 = hex(side.hash);
            let mut pieces = side.pieces;
            pieces.push((hex(side.piece), side.piece_bytes));
            (r.piece_sha256, r.piece_bytes) = pieces.into_iter().unzip();
            r.gap_lengths = side.gap_lengths;
            r.close = reason.as_str().into();
            r.close_timestamp = ts;
            out.record(0, &self.rec);
        }
    }
}

impl StreamDecoder for Echo {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "echo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: vec!["tcp:*".into()],
            record_types: vec![RecordType { name: "StreamEcho".into(), message: "netcap.testing.StreamEcho".into() }],
            schema: SCHEMA.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(Echo { extract_max: config.extract_max_file(), ..Echo::default() })
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        match ev {
            StreamEvent::Open(info) => {
                let c = Conn { info: **info, opened: meta.ts_nanos, side: Default::default() };
                self.conns.insert(meta.stream, c);
            }
            StreamEvent::Data { dir, bytes } => {
                if let Some(c) = self.conns.get_mut(&meta.stream) {
                    let s = &mut c.side[dir.index()];
                    s.bytes += bytes.len() as u64;
                    s.chunks += 1;
                    s.hash.update(bytes);
                    s.piece.update(bytes);
                    s.piece_bytes += bytes.len() as u64;
                    s.in_gap = false;
                    if s.sent < self.extract_max {
                        let n = bytes.len().min(usize::try_from(self.extract_max - s.sent).unwrap_or(usize::MAX));
                        out.file_data(file_id(meta.stream, dir.index()), &bytes[..n]);
                        s.sent += n as u64;
                    }
                } else {
                    out.error("echo: data for an unknown stream");
                }
            }
            StreamEvent::Gap { dir, len } => {
                if let Some(c) = self.conns.get_mut(&meta.stream) {
                    let s = &mut c.side[Dir::index(*dir)];
                    match s.gap_lengths.last_mut() {
                        Some(last) if s.in_gap => *last += u64::from(*len),
                        _ => {
                            let piece = std::mem::take(&mut s.piece);
                            s.pieces.push((hex(piece), std::mem::take(&mut s.piece_bytes)));
                            s.gap_lengths.push(u64::from(*len));
                        }
                    }
                    s.in_gap = true;
                    s.gaps += 1;
                    s.gap_bytes += u64::from(*len);
                }
            }
            StreamEvent::Close { reason } => self.close(meta.stream, *reason, meta.ts_nanos, out),
        }
        Verdict::Continue
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        // The host closes every stream before `finish`; anything left is a host bug, reported.
        if !self.conns.is_empty() {
            out.error("echo: streams left open at the end");
        }
    }
}

export_stream_decoder!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::stream::{push_close, push_data, push_gap, push_open};
    use netcap_sdk::{StreamRunner, entries};
    use prost::Message;

    #[test]
    fn one_record_per_direction_with_the_hash_of_the_bytes() {
        let info = StreamInfo {
            id: 4,
            ip_version: 4,
            client_ip: [192, 168, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            server_ip: [192, 168, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            client_port: 1234,
            server_port: 80,
            tunnel_depth: 0,
        };
        let m = |seq| EventMeta { stream: 4, seq, ts_nanos: seq as i64 };
        let mut b = Vec::new();
        push_open(&mut b, &m(4), &info);
        push_data(&mut b, &m(5), Dir::ToServer, b"ab");
        push_gap(&mut b, &m(6), Dir::ToServer, 10);
        push_data(&mut b, &m(7), Dir::ToServer, b"c");
        push_close(&mut b, &m(9), CloseReason::Fin);
        let mut r = StreamRunner::new(Echo::default());
        let mut out = Vec::new();
        r.decode(&b, &mut out);
        let recs: Vec<schema::StreamEcho> =
            entries(&out).map(|e| schema::StreamEcho::decode(e.unwrap().bytes).unwrap()).collect();
        assert_eq!(recs.len(), 2);
        let s = &recs[0];
        assert_eq!((s.direction.as_str(), s.bytes, s.chunks, s.gaps, s.gap_bytes), ("to_server", 3, 2, 1, 10));
        // sha256("abc"), the FIPS 180-2 example; the pieces sha256("ab") and sha256("c") (sha256sum).
        assert_eq!(s.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(s.piece_bytes, vec![2, 1]);
        assert_eq!(s.gap_lengths, vec![10]);
        assert_eq!(s.piece_sha256[0], "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603");
        assert_eq!(s.piece_sha256[1], "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6");
        assert_eq!(
            (s.client_ip.as_str(), s.server_port, s.close.as_str(), s.close_timestamp),
            ("192.168.0.1", 80, "fin", 9)
        );
        // sha256 of nothing.
        assert_eq!(recs[1].sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!((recs[1].piece_sha256.len(), recs[1].gap_lengths.len()), (1, 0));
        assert_eq!(recs[1].piece_sha256[0], recs[1].sha256);
    }
}
