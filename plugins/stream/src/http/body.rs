//! HTTP message bodies as `File` records: the body's bytes after the transfer coding (chunks are
//! removed by the framing in [`super`]) and after the content coding (gzip, deflate, brotli,
//! decoded here as they arrive), hashed by [`mail::Object`] and, with `--extract-files`, sent to
//! the host, as Wireshark's `--export-objects http` writes them.
//!
//! Decoding streams through a fixed output buffer, so memory per body is bounded whatever the
//! compression ratio; at most [`MAX_DECODED`] decoded bytes are taken from one body (a
//! decompression bomb gives a partial File and a counted error). A body whose decoding fails
//! keeps what was decoded before the failure, as Wireshark does; a gap in a coded body ends its
//! decoding (the stream cannot resume after lost bytes).

use crate::mail::{self, Extract, Object};
use crate::{Ctx, T_FILE};
use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use flate2::{Decompress, FlushDecompress, Status};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// Most decoded bytes taken from one body.
pub const MAX_DECODED: u64 = 256 << 20;
/// Decoded bytes produced per decoder call.
const OUT_LEN: usize = 32 * 1024;
/// Bytes of a body kept for content detection.
const KEEP: usize = 8 * 1024;
/// Longest gzip header accepted (the optional fields: extra up to 64 KiB, file name, comment).
const MAX_GZIP_HEADER: usize = 128 * 1024;

/// The content coding of a body, as far as it is decoded.
enum Coding {
    /// No coding, or one that is not decoded (the bytes as transferred).
    Identity,
    /// gzip or deflate: waiting for the first bytes that tell gzip, zlib or raw deflate apart
    /// (zlib's automatic detection, which Wireshark uses for both names).
    Sniff(Vec<u8>),
    /// A gzip member's header, until it is complete.
    GzipHeader(Vec<u8>),
    Inflate(Box<Decompress>),
    Brotli(Box<BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>>),
    /// The coded stream ended (bytes after it, such as a gzip trailer, are not content).
    End,
    /// Decoding failed or was cut off: later bytes are not content.
    Stopped,
}

/// A content decoder: coded bytes in, decoded bytes to a sink, at most a cap of them.
pub struct Decoder {
    coding: Coding,
    buf: Vec<u8>,
    /// Decoded bytes left before the cap.
    left: u64,
    /// Whether the decoded content was cut by the cap.
    pub capped: bool,
}

impl Decoder {
    /// A decoder for a Content-Encoding header value (`""` for none), producing at most `cap`
    /// bytes. Only a single coding is decoded; a list of codings is taken as transferred.
    pub fn new(encoding: &str, cap: u64) -> Self {
        let e = encoding.trim().to_ascii_lowercase();
        let coding = match e.as_str() {
            "gzip" | "x-gzip" | "deflate" | "x-deflate" => Coding::Sniff(Vec::new()),
            "br" => Coding::Brotli(Box::new(BrotliState::new(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ))),
            _ => Coding::Identity,
        };
        Decoder { coding, buf: Vec::new(), left: cap, capped: false }
    }

    /// Whether the decoder transforms the bytes.
    pub fn coded(&self) -> bool {
        !matches!(self.coding, Coding::Identity)
    }

    /// Decodes the next coded bytes into `sink`; `Err` names the failure (counted once: later
    /// bytes are ignored).
    pub fn push(&mut self, b: &[u8], sink: &mut dyn FnMut(&[u8])) -> Result<(), &'static str> {
        let r = self.step(b, sink);
        if r.is_err() {
            self.coding = Coding::Stopped;
        }
        r
    }

    /// Whether a coded stream reached its end (an identity body always has).
    pub fn ended(&self) -> bool {
        matches!(self.coding, Coding::Identity | Coding::End)
    }

    /// Stops decoding (a gap: the coded stream cannot resume).
    pub fn stop(&mut self) {
        self.coding = Coding::Stopped;
    }

    fn step(&mut self, b: &[u8], sink: &mut dyn FnMut(&[u8])) -> Result<(), &'static str> {
        match &mut self.coding {
            Coding::Identity => {
                let n = (self.left.min(b.len() as u64)) as usize;
                sink(&b[..n]);
                self.left -= n as u64;
                if n < b.len() {
                    self.capped = true;
                    return Err("http: decoded body too large");
                }
                Ok(())
            }
            Coding::End | Coding::Stopped => Ok(()),
            Coding::Sniff(head) => {
                let k = (2 - head.len()).min(b.len());
                head.extend_from_slice(&b[..k]);
                if head.len() < 2 {
                    return Ok(());
                }
                let h = std::mem::take(head);
                self.coding = if h == [0x1f, 0x8b] {
                    Coding::GzipHeader(Vec::new())
                } else if (u16::from(h[0]) << 8 | u16::from(h[1])) % 31 == 0 && h[0] & 0x0f == 8 {
                    Coding::Inflate(Box::new(Decompress::new(true)))
                } else {
                    Coding::Inflate(Box::new(Decompress::new(false)))
                };
                // The sniffed bytes are the stream's first bytes: decode them, then the rest.
                self.step(&h, sink)?;
                self.step(&b[k..], sink)
            }
            Coding::GzipHeader(h) => {
                let take = b.len().min(MAX_GZIP_HEADER + 2 - h.len().min(MAX_GZIP_HEADER + 2));
                h.extend_from_slice(&b[..take]);
                match gzip_header_len(h) {
                    None if h.len() > MAX_GZIP_HEADER => Err("http: bad gzip header"),
                    None => Ok(()),
                    Some(Err(())) => Err("http: bad gzip header"),
                    Some(Ok(n)) => {
                        let h = std::mem::take(h);
                        self.coding = Coding::Inflate(Box::new(Decompress::new(false)));
                        self.step(&h[n..], sink)?;
                        self.step(&b[take..], sink)
                    }
                }
            }
            Coding::Inflate(z) => {
                self.buf.resize(OUT_LEN, 0);
                let mut input = b;
                loop {
                    let (in0, out0) = (z.total_in(), z.total_out());
                    let st = z.decompress(input, &mut self.buf, FlushDecompress::None);
                    let used = (z.total_in() - in0) as usize;
                    let made = (z.total_out() - out0) as usize;
                    input = &input[used..];
                    let st = st.map_err(|_| "http: bad deflate body");
                    emit(&self.buf[..made], &mut self.left, &mut self.capped, sink)?;
                    match st? {
                        Status::StreamEnd => {
                            self.coding = Coding::End;
                            return Ok(());
                        }
                        _ if input.is_empty() && made < OUT_LEN => return Ok(()),
                        _ if used == 0 && made == 0 => return Ok(()),
                        _ => {}
                    }
                }
            }
            Coding::Brotli(s) => {
                self.buf.resize(OUT_LEN, 0);
                let (mut avail_in, mut in_off) = (b.len(), 0usize);
                loop {
                    let (mut avail_out, mut out_off, mut total) = (OUT_LEN, 0usize, 0usize);
                    let r = BrotliDecompressStream(
                        &mut avail_in,
                        &mut in_off,
                        b,
                        &mut avail_out,
                        &mut out_off,
                        &mut self.buf,
                        &mut total,
                        s,
                    );
                    emit(&self.buf[..out_off], &mut self.left, &mut self.capped, sink)?;
                    match r {
                        BrotliResult::ResultSuccess => {
                            self.coding = Coding::End;
                            return Ok(());
                        }
                        BrotliResult::NeedsMoreInput => return Ok(()),
                        BrotliResult::NeedsMoreOutput => {}
                        BrotliResult::ResultFailure => return Err("http: bad brotli body"),
                    }
                }
            }
        }
    }
}

/// Sends decoded bytes to the sink within the cap.
fn emit(b: &[u8], left: &mut u64, capped: &mut bool, sink: &mut dyn FnMut(&[u8])) -> Result<(), &'static str> {
    let n = ((*left).min(b.len() as u64)) as usize;
    if n > 0 {
        sink(&b[..n]);
    }
    *left -= n as u64;
    if n < b.len() {
        *capped = true;
        return Err("http: decoded body too large");
    }
    Ok(())
}

/// The length of the gzip member header at the start of `h` (RFC 1952 2.3): `None` when more
/// bytes are needed, `Err` when it is not a deflate gzip header.
fn gzip_header_len(h: &[u8]) -> Option<Result<usize, ()>> {
    if h.len() < 10 {
        return None;
    }
    if h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 {
        return Some(Err(()));
    }
    let flags = h[3];
    let mut n = 10;
    if flags & 4 != 0 {
        let x = h.get(n..n + 2)?;
        n += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
        if h.len() < n {
            return None;
        }
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            n += h.get(n..)?.iter().position(|&c| c == 0)? + 1;
        }
    }
    if flags & 2 != 0 {
        n += 2;
        if h.len() < n {
            return None;
        }
    }
    Some(Ok(n))
}

/// One body becoming a File record.
pub struct BodyFile {
    dec: Decoder,
    obj: Object,
    rec: v1::File,
    /// Bytes were lost (a gap) or decoding failed: the File is incomplete.
    broken: bool,
}

impl BodyFile {
    /// The body of the message sent in direction `dir` (sender to receiver), announced as
    /// `content_type`, coded with `encoding`, named `name`; `id` is its content entry id.
    pub fn new(dir: Dir, name: String, content_type: &str, encoding: &str, id: u64, cx: &Ctx<'_>) -> Self {
        let mut rec = mail::file_record("http", dir, cx);
        rec.timestamp = cx.meta.ts_nanos;
        rec.name = name;
        rec.content_type = content_type.to_string();
        let ex: Extract = cx.enabled.extract;
        BodyFile {
            dec: Decoder::new(encoding, MAX_DECODED),
            obj: Object::new(cx.meta.ts_nanos, KEEP, Some(id), ex),
            rec,
            broken: false,
        }
    }

    /// The next body bytes (transfer coding removed).
    pub fn push(&mut self, b: &[u8], out: &mut Emitter<'_>) {
        if self.broken && self.dec.coded() {
            return;
        }
        let obj = &mut self.obj;
        // `out` is borrowed by the sink; an error is reported after.
        let r = self.dec.push(b, &mut |d: &[u8]| obj.push(d, out));
        if let Err(kind) = r {
            self.broken = true;
            out.error(kind);
        }
    }

    /// Body bytes that were not captured.
    pub fn gap(&mut self) {
        self.broken = true;
        self.dec.stop();
    }

    /// Ends the body (`complete`: its framing ended normally) and emits the File record;
    /// returns its SHA-256.
    pub fn finish(mut self, complete: bool, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> String {
        let whole = complete && !self.broken && self.dec.ended();
        if complete && !self.broken && !self.dec.ended() {
            out.error("http: coded body cut");
        }
        self.rec.detected_type = String::new();
        self.obj.finish(whole, &mut self.rec, out);
        if cx.enabled.file {
            out.record(T_FILE, &self.rec);
        }
        self.rec.sha256
    }
}

/// The file name of a body: the `filename` parameter of a Content-Disposition header, else the
/// last segment of the request target's path ("" when it ends with '/').
pub fn file_name(disposition: &str, target: &str) -> String {
    if let Some(n) = disposition_filename(disposition) {
        return n;
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    path.rsplit('/').next().unwrap_or_default().to_string()
}

fn disposition_filename(d: &str) -> Option<String> {
    for p in d.split(';').skip(1) {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("filename") {
            let v = v.trim();
            return Some(v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(enc: &str, parts: &[&[u8]], cap: u64) -> (Vec<u8>, Result<(), &'static str>, bool) {
        let mut d = Decoder::new(enc, cap);
        let mut got = Vec::new();
        let mut r = Ok(());
        for p in parts {
            r = r.and(d.push(p, &mut |b: &[u8]| got.extend_from_slice(b)));
        }
        (got, r, d.ended())
    }

    fn deflate(data: &[u8], fmt: u8) -> Vec<u8> {
        use flate2::Compression;
        use std::io::Write;
        match fmt {
            0 => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            1 => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_split_at_every_byte() {
        let text: Vec<u8> = (0..5000u32).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
        for fmt in 0..3 {
            let z = deflate(&text, fmt);
            for enc in ["gzip", "deflate"] {
                for size in [1, 2, 3, 7, 100, z.len()] {
                    let parts: Vec<&[u8]> = z.chunks(size).collect();
                    let (got, r, ended) = decode(enc, &parts, MAX_DECODED);
                    assert_eq!(r, Ok(()), "fmt {fmt} size {size}");
                    assert!(ended);
                    assert_eq!(got, text, "fmt {fmt} {enc} size {size}");
                }
            }
        }
    }

    #[test]
    fn gzip_header_with_optional_fields() {
        // RFC 1952: FEXTRA (2-byte length), FNAME and FCOMMENT (zero-terminated), FHCRC.
        let raw = deflate(b"hello", 2);
        let mut g = vec![0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3, 3, 0, b'a', b'b', b'c'];
        g.extend_from_slice(b"name\0comment\0");
        g.extend_from_slice(&[0, 0]);
        g.extend_from_slice(&raw);
        g.extend_from_slice(&[0; 8]);
        for size in [1, 5, g.len()] {
            let parts: Vec<&[u8]> = g.chunks(size).collect();
            let (got, r, _) = decode("x-gzip", &parts, MAX_DECODED);
            assert_eq!((got.as_slice(), r), (&b"hello"[..], Ok(())));
        }
        assert_eq!(gzip_header_len(&[0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3]), Some(Err(())));
    }

    #[test]
    fn brotli_body() {
        // "hello hello hello\n" compressed by Node.js `zlib.brotliCompressSync` (Google's C brotli).
        let br: &[u8] = &[
            0x8b, 0x08, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x68, 0x65, 0x6c,
            0x6c, 0x6f, 0x0a, 0x03,
        ];
        for size in [1, 4, br.len()] {
            let parts: Vec<&[u8]> = br.chunks(size).collect();
            let (got, r, ended) = decode("br", &parts, MAX_DECODED);
            assert_eq!(r, Ok(()));
            assert!(ended);
            assert_eq!(got, b"hello hello hello\n");
        }
        let (_, r, _) = decode("br", &[&[0xff; 16]], MAX_DECODED);
        assert_eq!(r, Err("http: bad brotli body"));
    }

    #[test]
    fn bomb_is_capped_with_bounded_output_per_call() {
        // 64 MiB of zeros deflate to about 64 KiB; the cap stops decoding at 1 MiB.
        let zeros = vec![0u8; 64 << 20];
        let z = deflate(&zeros, 0);
        assert!(z.len() < 128 << 10);
        let mut d = Decoder::new("gzip", 1 << 20);
        let mut total = 0usize;
        let mut largest = 0usize;
        let r = d.push(&z, &mut |b: &[u8]| {
            total += b.len();
            largest = largest.max(b.len());
        });
        assert_eq!(r, Err("http: decoded body too large"));
        assert!(d.capped);
        assert_eq!(total, 1 << 20);
        assert!(largest <= OUT_LEN);
        // Later bytes are ignored.
        assert_eq!(d.push(&z, &mut |_| panic!("decoded after the cap")), Ok(()));
    }

    #[test]
    fn cut_and_garbled_coded_bodies() {
        let text = vec![b'x'; 100_000];
        let z = deflate(&text, 0);
        let (got, r, ended) = decode("gzip", &[&z[..z.len() / 2]], MAX_DECODED);
        assert_eq!(r, Ok(()));
        assert!(!ended, "a cut stream has not ended");
        assert!(got.len() < text.len() && text.starts_with(&got));
        let mut bad = z.clone();
        for b in &mut bad[12..40] {
            *b = 0xff;
        }
        let (got, r, _) = decode("gzip", &[&bad], MAX_DECODED);
        assert_eq!(r, Err("http: bad deflate body"));
        assert!(text.starts_with(&got));
    }

    #[test]
    fn names_from_disposition_or_target() {
        assert_eq!(file_name("attachment; filename=\"a b.pdf\"", "/x/y.bin"), "a b.pdf");
        assert_eq!(file_name("", "/x/y.bin?q=1"), "y.bin");
        assert_eq!(file_name("", "http://host/dir/f.js"), "f.js");
        assert_eq!(file_name("", "http://host"), "");
        assert_eq!(file_name("", "/dir/"), "");
    }
}
