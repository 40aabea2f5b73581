//! The fuzz targets: the host's library entry points, driven directly (no process per input),
//! each with the invariants it must keep besides not panicking.
//!
//! Input formats (what the mutator damages):
//! - `dissect`: link type (u16, little-endian), then one packet.
//! - `defrag`, `reassembly`: link type (u16 LE), then packets, each as length (u16 big-endian),
//!   time step (one byte `t`: the packet comes `t²` ms after the previous one, so 255 is 65 s,
//!   past both defragmentation timeouts), and that many bytes (fewer when the input ends).
//! - `records`: a record file (`.ncap`, `.ncap.zst` or `.ncap.gz`).

use netcap::defrag::{self, Defrag};
use netcap::dissect::{self, Dissection, MAX_LAYERS, layer_bit, linktype};
use netcap::dump::RecordFile;
use netcap::reassembly::{self, Events, Table};
use netcap_sdk::stream::{StreamEvent, visit_stream_batch};
use std::collections::HashMap;
use std::path::PathBuf;

/// A fuzz target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `dissect::dissect` on one packet, with and without defragmentation, plus port interests.
    Dissect,
    /// Dissection, defragmentation and the reassembled datagrams' dissection, over a packet
    /// sequence.
    Defrag,
    /// The dispatcher's path into TCP reassembly (dissection, defragmentation, the worker's
    /// segment extraction, the reassembly table with small limits, ticks, end of input).
    Reassembly,
    /// The record-file reader (`dump::RecordFile`) and the rendering of what it reads.
    Records,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::Dissect, Target::Defrag, Target::Reassembly, Target::Records];

    pub fn name(self) -> &'static str {
        match self {
            Target::Dissect => "dissect",
            Target::Defrag => "defrag",
            Target::Reassembly => "reassembly",
            Target::Records => "records",
        }
    }

    pub fn from_name(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The largest input the mutator makes for this target (keeps memory and time per input
    /// bounded).
    pub fn max_len(self) -> usize {
        match self {
            Target::Dissect => 65_536 + 2,
            Target::Defrag | Target::Reassembly => 256 << 10,
            Target::Records => 256 << 10,
        }
    }
}

/// Per-thread state the targets reuse.
#[derive(Debug)]
pub struct Scratch {
    /// Where the `records` target writes its input (the reader opens a path).
    file: PathBuf,
}

impl Scratch {
    /// Scratch state with a file of its own under `dir`.
    pub fn new(dir: &std::path::Path) -> std::io::Result<Scratch> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(dir)?;
        let n = N.fetch_add(1, Ordering::Relaxed);
        Ok(Scratch { file: dir.join(format!("records-{}-{n}.ncap", std::process::id())) })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Runs `target` on `input`; panics (a crash) when the code under test panics or breaks an
/// invariant. Returns a signature of what the input made the code do (layers found, counters
/// moved, how far a file was read): the loop keeps inputs with a new signature as seeds, a
/// coarse behavioural feedback in place of code coverage.
pub fn run(target: Target, input: &[u8], scratch: &mut Scratch) -> u64 {
    match target {
        Target::Dissect => run_dissect(input),
        Target::Defrag => run_defrag(input),
        Target::Reassembly => run_reassembly(input),
        Target::Records => run_records(input, scratch),
    }
}

/// The link type of an input and the rest.
fn split_link_type(input: &[u8]) -> (u16, &[u8]) {
    match input {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (linktype::ETHERNET, &[]),
    }
}

/// The packets of a sequence input, with their times (ns).
pub fn sequence(input: &[u8]) -> (u16, impl Iterator<Item = (i64, &[u8])>) {
    let (lt, mut rest) = split_link_type(input);
    let mut ts: i64 = 1_000_000_000_000_000_000;
    let it = std::iter::from_fn(move || {
        if rest.len() < 3 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 3);
        let step = i64::from(rest[2]);
        ts += step * step * 1_000_000;
        let p = &rest[3..3 + len];
        rest = &rest[3 + len..];
        Some((ts, p))
    });
    (lt, it)
}

/// Appends one packet to a sequence input; `gap_ns` is the time since the previous packet.
pub fn push_sequence_packet(out: &mut Vec<u8>, gap_ns: i64, packet: &[u8]) {
    let len = packet.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(len as u16).to_be_bytes());
    let ms = (gap_ns.max(0) / 1_000_000) as f64;
    out.push(ms.sqrt().round().min(255.0) as u8);
    out.extend_from_slice(&packet[..len]);
}

/// What every dissection must satisfy.
fn check_dissection(data: &[u8], d: &Dissection) {
    assert!(d.count <= MAX_LAYERS, "{} layers", d.count);
    for l in d.layers() {
        assert!(l.offset <= data.len(), "layer {} at {} of a {}-byte packet", l.id, l.offset, data.len());
        assert!(d.mask & layer_bit(l.id) == layer_bit(l.id), "layer {} missing from the mask", l.id);
    }
    if let Some(f) = d.fragment {
        assert!(usize::from(f) < d.count, "fragment layer {f} of {}", d.count);
    }
}

/// A hash of `v` (std's SipHash with fixed keys: stable within a toolchain).
fn signature(v: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(v)
}

/// A counter's magnitude (0, 1, 2-3, 4-7, ...), so that signatures do not tell every count apart.
fn bucket(n: u64) -> u32 {
    64 - n.leading_zeros()
}

fn run_dissect(input: &[u8]) -> u64 {
    let (lt, data) = split_link_type(input);
    let mut sig = Vec::new();
    let mut ports = dissect::PortInterests::default();
    ports.add(dissect::layer::UDP, 53, 1 << dissect::PORT_BITS_START);
    ports.add(dissect::layer::TCP, 443, 1 << (dissect::PORT_BITS_START + 1));
    for defrag in [false, true] {
        let mut d = Dissection::new(defrag);
        dissect::dissect(lt, data, &mut d);
        check_dissection(data, &d);
        ports.apply(data, &mut d);
        let _ = d.innermost();
        // Dissection is a function of the bytes: a reused `Dissection` gives the same result.
        let (mask, hash, count) = (d.mask, d.hash, d.count);
        dissect::dissect(lt, data, &mut d);
        ports.apply(data, &mut d);
        assert_eq!((d.mask, d.hash, d.count), (mask, hash, count), "dissection depends on the previous packet");
        sig.push((d.mask, d.error, d.fragment, d.unknown_link, d.unknown_net));
    }
    signature((lt, sig))
}

/// Dissects a packet of a sequence and defragments it; calls `f` with the packet and, when it
/// completes a datagram, with the datagram (raw IP) as well.
struct Dispatch {
    d: Dissection,
    rd: Dissection,
    defrag: Defrag,
}

impl Dispatch {
    fn new() -> Self {
        Dispatch { d: Dissection::new(true), rd: Dissection::default(), defrag: Defrag::default() }
    }

    fn packet(&mut self, lt: u16, data: &[u8], ts: i64, mut f: impl FnMut(u16, &[u8], &Dissection, u64)) {
        dissect::dissect(lt, data, &mut self.d);
        check_dissection(data, &self.d);
        f(lt, data, &self.d, self.d.hash);
        if self.d.fragment.is_none() {
            return;
        }
        let outer = self.d.hash;
        if let Some((dgram, depth, hlen)) = self.defrag.add(data, &self.d, outer, ts) {
            assert!(hlen <= dgram.len(), "header of {hlen} bytes in a {}-byte datagram", dgram.len());
            assert!(dgram.len() <= 65_535 + 40, "a {}-byte datagram", dgram.len());
            dissect::dissect(linktype::RAW, dgram, &mut self.rd);
            check_dissection(dgram, &self.rd);
            defrag::mark_seen(&mut self.rd, hlen, depth);
            let hash = if depth == 0 { self.rd.hash } else { outer };
            f(linktype::RAW, dgram, &self.rd, hash);
        }
    }

    /// End of input; returns a signature of the defragmentation counters.
    fn finish(&mut self) -> u64 {
        self.defrag.finish();
        let s = &self.defrag.stats;
        assert!(
            s.datagrams + s.incomplete <= s.fragments,
            "{} datagrams and {} incomplete from {} fragments",
            s.datagrams,
            s.incomplete,
            s.fragments
        );
        assert!(s.conflicts <= s.overlaps);
        signature([s.fragments, s.datagrams, s.incomplete, s.overlaps, s.conflicts, s.dropped].map(bucket))
    }
}

fn run_defrag(input: &[u8]) -> u64 {
    let (lt, packets) = sequence(input);
    let mut dp = Dispatch::new();
    let mut layers = 0u128;
    for (ts, p) in packets {
        dp.packet(lt, p, ts, |lt, _, d, _| {
            if lt == linktype::RAW {
                layers |= d.mask;
            }
        });
    }
    signature((dp.finish(), layers))
}

/// Small reassembly limits, so that inputs reach the skip-ahead and eviction paths.
const REASSEMBLY: reassembly::Config =
    reassembly::Config { max_stream_bytes: 4096, max_memory: 256 * 4096, idle_nanos: 5_000_000_000 };

/// Checks a batch of stream events: well-formed, every stream opened once before its other
/// events and closed at most once, with nothing after its close.
#[derive(Default)]
struct StreamCheck {
    /// Stream id -> closed.
    streams: HashMap<u64, bool>,
}

impl StreamCheck {
    fn events(&mut self, ev: &mut Events) {
        let streams = &mut self.streams;
        visit_stream_batch(&ev.data, |meta, e| match e {
            StreamEvent::Open(_) => {
                assert!(streams.insert(meta.stream, false).is_none(), "stream {} opened twice", meta.stream)
            }
            StreamEvent::Close { .. } => {
                let closed = streams.get_mut(&meta.stream).expect("close of a stream never opened");
                assert!(!*closed, "stream {} closed twice", meta.stream);
                *closed = true;
            }
            StreamEvent::Data { bytes, .. } => {
                assert!(!bytes.is_empty(), "empty data event");
                assert_eq!(streams.get(&meta.stream), Some(&false), "data on a stream not open");
            }
            StreamEvent::Gap { len, .. } => {
                assert!(*len > 0, "empty gap");
                assert_eq!(streams.get(&meta.stream), Some(&false), "gap on a stream not open");
            }
        })
        .expect("the reassembly wrote a malformed stream batch");
        ev.clear();
    }
}

fn run_reassembly(input: &[u8]) -> u64 {
    let (lt, packets) = sequence(input);
    let mut dp = Dispatch::new();
    let mut table = Table::new(REASSEMBLY);
    let mut ev = Events::default();
    let mut check = StreamCheck::default();
    let mut batch = Vec::new();
    let (mut seq, mut next_tick) = (0u64, None::<i64>);
    for (ts, p) in packets {
        // Ticks at whole seconds of packet time, as the dispatcher marks them.
        if next_tick.is_some_and(|t| ts >= t) {
            table.tick(ts, seq, &mut ev);
            check.events(&mut ev);
        }
        next_tick = Some(ts.div_euclid(1_000_000_000).saturating_add(1).saturating_mul(1_000_000_000));
        dp.packet(lt, p, ts, |lt, data, d, hash| {
            if d.mask & layer_bit(dissect::layer::TCP) == 0 {
                return;
            }
            batch.clear();
            let meta = netcap_sdk::PacketMeta {
                seq,
                ts_nanos: ts,
                flow: hash,
                app: 0,
                link_type: lt,
                orig_len: data.len() as u32,
            };
            netcap_sdk::push_packet_with(&mut batch, meta, d.layers(), data);
            seq += 1;
            let Some(pkt) = netcap_sdk::packets(&batch).next() else { return };
            if let Some(seg) = netcap::streams::segment(&pkt, (hash & 0xff) as u8) {
                table.segment(&seg, 1, &mut ev);
            }
        });
        check.events(&mut ev);
    }
    table.finish(&mut ev);
    check.events(&mut ev);
    dp.finish();
    assert!(check.streams.values().all(|&closed| closed), "a stream was never closed");
    assert_eq!(table.streams(), 0, "streams left after the end of input");
    assert_eq!(table.memory(), 0, "memory still accounted after the end of input");
    let s = &table.stats;
    let counts = [
        s.streams,
        s.segments,
        s.gaps,
        s.overlaps,
        s.conflicts,
        s.out_of_order,
        s.limit_skips,
        s.dropped,
        s.rst_ignored,
    ];
    signature((counts.map(bucket), s.closed.map(bucket)))
}

/// Records read per input at most (a decompression bomb must not make one input take minutes).
const MAX_RECORDS: u64 = 4096;

fn run_records(input: &[u8], scratch: &mut Scratch) -> u64 {
    std::fs::write(&scratch.file, input).expect("write the fuzz input file");
    let mut rf = match RecordFile::open(&scratch.file) {
        Ok(rf) => rf,
        Err(e) => return signature(std::mem::discriminant(&e)),
    };
    let renderer = rf.renderer().ok();
    let mut end = None;
    let mut decoded = 0u64;
    let _ = renderer.as_ref().map(|r| r.header());
    let (mut buf, mut line, mut cells) = (Vec::new(), String::new(), Vec::new());
    while rf.records < MAX_RECORDS {
        match rf.next_record(&mut buf) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                end = Some(std::mem::discriminant(&e));
                break;
            }
        }
        if let Some(r) = &renderer
            && let Ok(m) = r.decode(&buf)
        {
            decoded += 1;
            line.clear();
            r.json(&m, &mut line);
            r.cells(&m, &mut cells);
        }
    }
    signature((renderer.is_some(), end, bucket(rf.records), bucket(decoded)))
}
