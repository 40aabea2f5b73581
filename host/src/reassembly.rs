//! TCP reassembly: turns the TCP segments a worker sees into ordered, de-duplicated byte streams
//! per direction, written as stream events (`netcap_sdk::stream`) for the stream decoders.
//!
//! **Sequence numbers** are 32-bit and wrap; each direction maps them to a 64-bit stream offset
//! relative to the next expected byte (a signed 32-bit distance), so a segment is placed correctly
//! across the wrap and streams longer than 4 GiB work.
//!
//! **Policy.**
//! - Data is delivered as soon as it is in order. Out-of-order segments are buffered (copied) until
//!   the hole before them is filled.
//! - Overlaps: *first data wins*. Bytes already delivered or buffered are kept; a retransmission
//!   or overlapping segment only fills holes. Overlapping bytes are counted, and those that differ
//!   from buffered bytes are counted as conflicts (bytes already delivered are no longer held, so
//!   they are not compared).
//! - Gaps: a hole is never filled with invented bytes. It becomes a gap event with its size when
//!   (a) the other side acknowledged the hole and data behind it is buffered (the capture lost
//!   the hole's bytes; this is also when tshark's `follow,tcp` marks bytes missing), (b) a limit
//!   is reached,
//!   (c) the stream closes (RST, timeout, end of input, eviction) with data buffered behind it, or
//!   (d) the segment's tail was not captured (snap length) and the segment was in order.
//! - SYN gives the initial sequence number (the SYN and the FIN each take one sequence number);
//!   without one (a connection picked up mid-way) a direction starts at its first packet.
//!   The client is the SYN's sender (the SYN-ACK's receiver), else the first packet's sender.
//!   A SYN with another initial sequence number on a live connection starts a new one (`Reused`).
//!   A SYN or SYN-ACK re-initialises the sequence space of a direction that has delivered nothing
//!   (as tshark and Zeek do), so a stale or challenge ACK seen before the handshake does not shift
//!   it; without a SYN, such a direction starts at its first data when that is out of its space.
//! - Plausibility: a segment, acknowledgment or FIN further ahead of the next expected byte than
//!   the direction's payload bytes seen plus [`WINDOW`] is another sequence space (dropped,
//!   counted), so no gap is ever larger than what the capture's packets could have carried.
//! - Time: a data event carries the time of the packet that carried its bytes (buffered pieces
//!   keep theirs); gap and close events carry the stream's last packet's time.
//! - FIN ends a direction once every byte before it is delivered; both directions ended close the
//!   stream (`Fin`). An acceptable RST (see [`rst_acceptable`]) ends its sender's direction (its
//!   own data and what is buffered are delivered, holes as gaps); the other side's data still in
//!   flight is taken for a second of packet time (or until it FINs or RSTs too, or at once if
//!   it never sent anything), then the stream closes (`Rst`). Other RSTs are ignored, counted.
//!   A closed connection lingers briefly so that its last ACKs do not open a new stream.
//! - Limits: out-of-order data buffered per direction is capped at `max_stream_bytes`, and all
//!   buffers plus per-stream state at `max_memory`. Reaching a cap *skips ahead*: the direction's
//!   buffer is delivered at once, holes as gaps (counted as limit skips). A new stream that does
//!   not fit evicts the least recently active eighth of its partition (`Evicted`).
//! - Idle streams close (`Timeout`) after `idle_nanos` of packet time without a packet.
//!
//! **Determinism.** The budget, the clock and eviction are per *partition* (`flow hash & 0xff`, the
//! unit of the dispatcher's worker assignment), so every decision depends only on the packets of
//! that partition, in order: the same events for any worker count. A decoder's decline only stops
//! delivery to it; reassembly goes on, so memory decisions never depend on batch boundaries.

use netcap_sdk::stream::{self as sdk, CloseReason, Dir, EventMeta, StreamInfo};
use std::collections::{BTreeMap, HashMap};

/// Partitions of the reassembly state (and of the memory budget).
pub const PARTITIONS: usize = 256;
/// How often (packet time) a partition looks for idle streams.
const SWEEP_NANOS: i64 = 1_000_000_000;
/// How long a closed connection's state lingers (packet time) to absorb its last packets.
const LINGER_NANOS: i64 = 30_000_000_000;
/// After one side's RST, how long (packet time) the other side's data still in flight is taken.
const RESET_LINGER_NANOS: i64 = 1_000_000_000;
/// How far ahead of a direction's next expected byte a segment, an acknowledgment or a FIN may
/// be beyond the payload bytes the capture showed for that direction: a generous receive window
/// (16 MiB; Linux's default maximum is 6 MiB), since a capture that lost packets still shows
/// holes that large. Further is another sequence space (a stray or stale packet), never a gap.
const WINDOW: u64 = 16 << 20;
/// How far from the next expected byte a RST's sequence number may be.
const RST_WINDOW: i64 = 1 << 20;
/// Bytes a stream costs beyond its buffers (state, map entries), for the budget.
const STREAM_COST: usize = 320;
/// Bytes a buffered segment costs beyond its data.
const SEGMENT_COST: usize = 64;

/// TCP flags.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Reassembly limits.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Out-of-order bytes buffered per direction.
    pub max_stream_bytes: usize,
    /// All buffers and stream state together (split evenly over the partitions).
    pub max_memory: usize,
    /// A stream without packets for this long (packet time) is closed.
    pub idle_nanos: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_stream_bytes: 1 << 20, max_memory: 1 << 30, idle_nanos: 300_000_000_000 }
    }
}

/// Counters, merged over workers for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Streams opened.
    pub streams: u64,
    /// Streams closed, by [`CloseReason::code`].
    pub closed: [u64; 6],
    /// Segments with TCP payload handled.
    pub segments: u64,
    /// Bytes delivered in order.
    pub bytes: u64,
    /// Gap events and the bytes they stand for.
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Segments that overlapped data already delivered or buffered, and the overlapping bytes.
    pub overlaps: u64,
    pub overlap_bytes: u64,
    /// Overlapping bytes that differed from the buffered ones (counted per segment).
    pub conflicts: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order: u64,
    /// Times a limit made a direction skip ahead.
    pub limit_skips: u64,
    /// Segments dropped: after the connection closed, or implausibly far ahead.
    pub dropped: u64,
    /// RSTs ignored: out of window, or not acknowledging the SYN they answer.
    pub rst_ignored: u64,
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        self.streams += o.streams;
        for (a, b) in self.closed.iter_mut().zip(o.closed) {
            *a += b;
        }
        self.segments += o.segments;
        self.bytes += o.bytes;
        self.gaps += o.gaps;
        self.gap_bytes += o.gap_bytes;
        self.overlaps += o.overlaps;
        self.overlap_bytes += o.overlap_bytes;
        self.conflicts += o.conflicts;
        self.out_of_order += o.out_of_order;
        self.limit_skips += o.limit_skips;
        self.dropped += o.dropped;
        self.rst_ignored += o.rst_ignored;
    }

    pub fn is_empty(&self) -> bool {
        self.streams == 0 && self.segments == 0
    }
}

/// Stream events for the stream decoders, in the SDK's stream batch format, with the bit set of
/// the decoders each event is for.
#[derive(Debug, Default)]
pub struct Events {
    pub data: Vec<u8>,
    /// (start of the event in `data`, decoder bits).
    pub index: Vec<(u32, u64)>,
}

impl Events {
    pub fn clear(&mut self) {
        self.data.clear();
        self.index.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The bytes of event `i`.
    pub fn event(&self, i: usize) -> &[u8] {
        let start = self.index[i].0 as usize;
        let end = self.index.get(i + 1).map_or(self.data.len(), |e| e.0 as usize);
        &self.data[start..end]
    }

    fn push(&mut self, mask: u64, write: impl FnOnce(&mut Vec<u8>)) {
        if mask != 0 {
            self.index.push((self.data.len() as u32, mask));
            write(&mut self.data);
        }
    }
}

/// One TCP segment as the worker found it in a packet.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// The packet's sequence number and time.
    pub seq: u64,
    pub ts: i64,
    /// `flow hash & 0xff`.
    pub partition: u8,
    pub ip_version: u8,
    pub tunnel_depth: u8,
    /// Source and destination address (IPv4 in the first 4 bytes).
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub tcp_seq: u32,
    pub ack: u32,
    pub flags: u8,
    /// The captured payload (without link padding).
    pub payload: &'a [u8],
    /// Payload bytes the IP header declares but the capture cut off.
    pub missing: u32,
}

/// A connection's address pair, canonical (smaller endpoint first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    a: [u8; 16],
    b: [u8; 16],
    ap: u16,
    bp: u16,
    version: u8,
    depth: u8,
}

impl Key {
    fn of(s: &Segment<'_>) -> Key {
        let (a, ap, b, bp) = if (s.src, s.sport) <= (s.dst, s.dport) {
            (s.src, s.sport, s.dst, s.dport)
        } else {
            (s.dst, s.dport, s.src, s.sport)
        };
        Key { a, b, ap, bp, version: s.ip_version, depth: s.tunnel_depth }
    }
}

/// One direction of a connection.
#[derive(Debug, Default)]
struct Half {
    /// Whether `next_seq` is known (a SYN or a first packet was seen).
    known: bool,
    /// The initial sequence number, when the SYN was seen.
    isn: Option<u32>,
    /// The sequence number of the next byte to deliver, and its stream offset.
    next_seq: u32,
    off: u64,
    /// The stream offset of the FIN.
    fin: Option<u64>,
    /// Every byte up to the FIN was delivered.
    done: bool,
    /// The stream offset up to which the other side acknowledged receipt.
    acked: u64,
    /// Payload bytes of every segment of this direction (captured or cut by the snap length,
    /// retransmissions included): with [`WINDOW`], the bound of any gap.
    seen: u64,
    /// Out-of-order data by stream offset, with the time of the packet that carried it;
    /// entries never overlap and all start after `off`.
    ooo: BTreeMap<u64, (i64, Vec<u8>)>,
    /// Bytes held in `ooo` (data only).
    ooo_bytes: usize,
}

impl Half {
    fn start(&mut self, seq: u32) {
        self.known = true;
        self.next_seq = seq;
        self.off = 0;
    }

    /// The stream offset of sequence number `s` (within 2 GiB of the next expected byte).
    fn rel(&self, s: u32) -> i64 {
        self.off as i64 + i64::from(s.wrapping_sub(self.next_seq) as i32)
    }

    /// Whether stream offset `at` is within reach of this direction: not further ahead of the
    /// next expected byte than the bytes seen plus a window.
    fn reachable(&self, at: i64) -> bool {
        at - self.off as i64 <= self.seen.saturating_add(WINDOW).min(i64::MAX as u64) as i64
    }

    fn advance(&mut self, n: u64) {
        self.off += n;
        self.next_seq = self.next_seq.wrapping_add(n as u32);
        if self.fin.is_some_and(|f| self.off >= f) {
            self.done = true;
        }
    }

    /// Memory accounted for the buffered segments.
    fn cost(&self) -> usize {
        self.ooo_bytes + self.ooo.len() * SEGMENT_COST
    }
}

#[derive(Debug)]
struct Stream {
    id: u64,
    client: ([u8; 16], u16),
    half: [Half; 2],
    /// Decoders still fed.
    feed: u64,
    last_ts: i64,
    /// Closed; lingering to absorb late packets.
    closed: bool,
    /// One side sent an acceptable RST: its direction has ended; the other's data still in flight
    /// is taken for [`RESET_LINGER_NANOS`], then the stream closes (`Rst`).
    reset: bool,
}

impl Stream {
    /// How long this live stream may go without a packet.
    fn quiet(&self, idle: i64) -> i64 {
        if self.reset { RESET_LINGER_NANOS } else { idle }
    }
}

#[derive(Debug, Default)]
struct Partition {
    map: HashMap<Key, Stream>,
    used: usize,
    clock: i64,
    next_sweep: i64,
}

/// Where events go while a stream is handled.
struct Out<'a> {
    ev: &'a mut Events,
    stats: &'a mut Stats,
    meta: EventMeta,
    mask: u64,
}

impl Out<'_> {
    /// Data of the segment being handled.
    fn data(&mut self, dir: Dir, bytes: &[u8]) {
        self.data_at(dir, bytes, self.meta.ts_nanos);
    }

    /// Data carried by a packet of time `ts` (buffered out of order until now).
    fn data_at(&mut self, dir: Dir, bytes: &[u8], ts: i64) {
        if bytes.is_empty() {
            return;
        }
        self.stats.bytes += bytes.len() as u64;
        let meta = EventMeta { ts_nanos: ts, ..self.meta };
        // One event carries at most 4 GiB; a segment never comes close.
        self.ev.push(self.mask, |b| sdk::push_data(b, &meta, dir, bytes));
    }

    fn gap(&mut self, dir: Dir, len: u64) {
        if len == 0 {
            return;
        }
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        let meta = self.meta;
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.ev.push(self.mask, |b| sdk::push_gap(b, &meta, dir, len));
    }
}

fn dir_of(i: usize) -> Dir {
    if i == 0 { Dir::ToServer } else { Dir::ToClient }
}

/// Delivers the buffered segments that are in order now.
fn drain(h: &mut Half, dir: Dir, used: &mut usize, out: &mut Out<'_>) {
    while let Some(e) = h.ooo.first_entry() {
        if *e.key() != h.off {
            break;
        }
        let (ts, data) = e.remove();
        release(h, used, data.len());
        out.data_at(dir, &data, ts);
        h.advance(data.len() as u64);
    }
}

fn release(h: &mut Half, used: &mut usize, len: usize) {
    h.ooo_bytes -= len;
    *used = used.saturating_sub(len + SEGMENT_COST);
}

/// Turns the holes the other side has acknowledged into gaps, as far as data is buffered behind
/// them: the receiver has those bytes, the capture does not, and they will not be sent again. An
/// acknowledgment with nothing buffered behind it proves nothing yet (the data may come later in
/// the capture, which sometimes has the ACK first).
fn gap_acked(h: &mut Half, dir: Dir, used: &mut usize, out: &mut Out<'_>) {
    while let Some(&k) = h.ooo.keys().next() {
        if h.acked <= h.off || k <= h.off {
            break;
        }
        let upto = k.min(h.acked);
        out.gap(dir, upto - h.off);
        h.advance(upto - h.off);
        drain(h, dir, used, out);
    }
}

/// Delivers everything buffered, holes as gaps.
fn flush(h: &mut Half, dir: Dir, used: &mut usize, out: &mut Out<'_>) {
    while let Some((k, (ts, data))) = h.ooo.pop_first() {
        release(h, used, data.len());
        let skip = (h.off.saturating_sub(k) as usize).min(data.len());
        if k > h.off {
            out.gap(dir, k - h.off);
            h.advance(k - h.off);
        }
        out.data_at(dir, &data[skip..], ts);
        h.advance((data.len() - skip) as u64);
    }
}

/// Whether a RST from the side of `h` ends the connection (RFC 793, made stricter as RFC 5961
/// suggests, without tracking windows): its sequence number must be within [`RST_WINDOW`] of the
/// next expected byte; a RST from a side that has sent nothing yet must acknowledge the other
/// side's SYN, when that was seen. Others (blind injections, stale resets) are ignored, counted.
fn rst_acceptable(h: &Half, other: &Half, s: &Segment<'_>) -> bool {
    if h.known {
        return (h.rel(s.tcp_seq) - h.off as i64).abs() <= RST_WINDOW;
    }
    match other.isn {
        Some(isn) => s.flags & flags::ACK != 0 && s.ack == isn.wrapping_add(1),
        None => true,
    }
}

/// Restarts direction `d` at initial sequence number `isn` (it delivered nothing): what it
/// buffered belongs to the old sequence space and is dropped, and the other side's
/// acknowledgments of that space are forgotten.
fn resync(half: &mut [Half; 2], d: usize, isn: u32, used: &mut usize, stats: &mut Stats) {
    let h = &mut half[d];
    if !h.ooo.is_empty() {
        stats.dropped += h.ooo.len() as u64;
        *used = used.saturating_sub(h.cost());
    }
    let seen = h.seen;
    *h = Half { seen, ..Half::default() };
    h.start(isn.wrapping_add(1));
    h.isn = Some(isn);
    let o = &mut half[1 - d];
    o.acked = o.off;
}

/// Ends a direction at close: everything buffered, then the missing bytes before its FIN.
fn end(h: &mut Half, dir: Dir, used: &mut usize, out: &mut Out<'_>) {
    flush(h, dir, used, out);
    if let Some(f) = h.fin
        && f > h.off
    {
        out.gap(dir, f - h.off);
        h.advance(f - h.off);
    }
}

/// Places `data` at stream offset `start` (not before `h.off`) into the buffer, first data wins;
/// returns the memory newly accounted. Counts overlaps and conflicts.
fn insert(h: &mut Half, start: u64, data: &[u8], ts: i64, stats: &mut Stats) -> usize {
    let end = start + data.len() as u64;
    let mut pos = start;
    let mut added = 0usize;
    let mut overlap = 0u64;
    let mut conflict = false;
    // The entries that overlap [start, end): the one starting before `start` that reaches into
    // it, and those starting inside.
    let mut cuts: Vec<(u64, u64)> = Vec::new();
    if let Some((&k, (_, v))) = h.ooo.range(..start).next_back()
        && k + v.len() as u64 > start
    {
        cuts.push((k, k + v.len() as u64));
    }
    for (&k, (_, v)) in h.ooo.range(start..end) {
        cuts.push((k, k + v.len() as u64));
    }
    let mut pieces: Vec<(u64, Vec<u8>)> = Vec::new();
    for (k, kend) in cuts {
        if k > pos {
            pieces.push((pos, data[(pos - start) as usize..(k - start) as usize].to_vec()));
        }
        let (a, b) = (k.max(start), kend.min(end));
        if b > a {
            overlap += b - a;
            let old = &h.ooo[&k].1[(a - k) as usize..(b - k) as usize];
            conflict |= old != &data[(a - start) as usize..(b - start) as usize];
        }
        pos = pos.max(kend);
    }
    if pos < end {
        pieces.push((pos, data[(pos - start) as usize..].to_vec()));
    }
    let mut cost = 0;
    for (k, v) in pieces {
        added += v.len();
        cost += v.len() + SEGMENT_COST;
        h.ooo.insert(k, (ts, v));
    }
    h.ooo_bytes += added;
    if overlap > 0 {
        stats.overlaps += 1;
        stats.overlap_bytes += overlap;
        stats.conflicts += u64::from(conflict);
    }
    cost
}

/// The per-worker stream table.
#[derive(Debug)]
pub struct Table {
    cfg: Config,
    part_budget: usize,
    parts: Vec<Partition>,
    /// Stream id -> (partition, key), for stop entries.
    ids: HashMap<u64, (u8, Key)>,
    pub stats: Stats,
}

impl Table {
    pub fn new(cfg: Config) -> Self {
        Table {
            cfg,
            part_budget: (cfg.max_memory / PARTITIONS).max(4 * STREAM_COST),
            parts: (0..PARTITIONS).map(|_| Partition::default()).collect(),
            ids: HashMap::new(),
            stats: Stats::default(),
        }
    }

    /// Handles one segment. `interest` is the bit set of the decoders that want a new stream
    /// with these ports (no state is kept for a stream nobody wants).
    pub fn segment(&mut self, s: &Segment<'_>, interest: u64, ev: &mut Events) {
        let p = usize::from(s.partition);
        let now = s.ts;
        let trigger = EventMeta { stream: 0, seq: s.seq, ts_nanos: now };
        let part = &mut self.parts[p];
        part.clock = part.clock.max(now);
        if part.clock >= part.next_sweep {
            part.next_sweep = part.clock.saturating_add(SWEEP_NANOS);
            self.sweep(p, trigger, ev);
        }
        let key = Key::of(s);
        let syn = s.flags & flags::SYN != 0;
        let ack = s.flags & flags::ACK != 0;
        enum Found {
            Absent,
            Lingering,
            Forget,
            Expired { reset: bool },
            Reused,
            Live,
        }
        let found = match self.parts[p].map.get(&key) {
            None => Found::Absent,
            Some(st) if st.closed => {
                if (syn && !ack) || now - st.last_ts > LINGER_NANOS {
                    Found::Forget
                } else {
                    Found::Lingering
                }
            }
            Some(st) if now - st.last_ts > st.quiet(self.cfg.idle_nanos) => Found::Expired { reset: st.reset },
            Some(st) if syn && !ack => {
                // The client's SYN: a retransmission, or a new connection on the same pair.
                let h = &st.half[if (s.src, s.sport) == st.client { 0 } else { 1 }];
                if !h.known || h.isn == Some(s.tcp_seq) { Found::Live } else { Found::Reused }
            }
            Some(_) => Found::Live,
        };
        match found {
            Found::Live => {}
            Found::Lingering => {
                if !s.payload.is_empty() {
                    self.stats.dropped += 1;
                }
                return;
            }
            Found::Forget => self.remove(p, &key),
            Found::Expired { reset: true } => {
                // A reset connection's late packet: close it, and let it linger to absorb the rest.
                self.close(p, &key, CloseReason::Rst, trigger, ev);
                if !s.payload.is_empty() {
                    self.stats.dropped += 1;
                }
                return;
            }
            Found::Expired { reset: false } | Found::Reused => {
                let reason = if matches!(found, Found::Reused) { CloseReason::Reused } else { CloseReason::Timeout };
                self.close(p, &key, reason, trigger, ev);
                self.remove(p, &key);
            }
            Found::Absent => {}
        }
        if !matches!(found, Found::Live) {
            // A RST opens nothing, unless it carries data (a diagnostic text some stacks send).
            if interest == 0 || (s.flags & flags::RST != 0 && s.payload.is_empty()) {
                return;
            }
            self.open(p, key, s, interest, ev);
        }
        self.handle(p, &key, s, ev);
    }

    fn open(&mut self, p: usize, key: Key, s: &Segment<'_>, interest: u64, ev: &mut Events) {
        if self.parts[p].used + STREAM_COST > self.part_budget {
            self.evict(p, EventMeta { stream: 0, seq: s.seq, ts_nanos: s.ts }, ev);
        }
        // The SYN-ACK's sender is the server.
        let server_sent = s.flags & flags::SYN != 0 && s.flags & flags::ACK != 0;
        let (client, server) =
            if server_sent { ((s.dst, s.dport), (s.src, s.sport)) } else { ((s.src, s.sport), (s.dst, s.dport)) };
        let info = StreamInfo {
            id: s.seq,
            ip_version: s.ip_version,
            client_ip: client.0,
            server_ip: server.0,
            client_port: client.1,
            server_port: server.1,
            tunnel_depth: s.tunnel_depth,
        };
        let meta = EventMeta { stream: s.seq, seq: s.seq, ts_nanos: s.ts };
        ev.push(interest, |b| sdk::push_open(b, &meta, &info));
        self.stats.streams += 1;
        let part = &mut self.parts[p];
        part.used += STREAM_COST;
        part.map.insert(
            key,
            Stream {
                id: s.seq,
                client,
                half: [Half::default(), Half::default()],
                feed: interest,
                last_ts: s.ts,
                closed: false,
                reset: false,
            },
        );
        self.ids.insert(s.seq, (p as u8, key));
    }

    /// The segment's effect on a live stream.
    fn handle(&mut self, p: usize, key: &Key, s: &Segment<'_>, ev: &mut Events) {
        let max_stream = self.cfg.max_stream_bytes;
        let budget = self.part_budget;
        let Partition { map, used, .. } = &mut self.parts[p];
        let Some(st) = map.get_mut(key) else { return };
        st.last_ts = s.ts;
        let mut out = Out {
            ev,
            stats: &mut self.stats,
            meta: EventMeta { stream: st.id, seq: s.seq, ts_nanos: s.ts },
            mask: st.feed,
        };
        let d = if (s.src, s.sport) == st.client { 0 } else { 1 };
        let dir = dir_of(d);
        let rst = s.flags & flags::RST != 0;
        if rst && !rst_acceptable(&st.half[d], &st.half[1 - d], s) {
            out.stats.rst_ignored += 1;
            return;
        }
        let syn = s.flags & flags::SYN != 0;
        if syn && st.half[d].isn != Some(s.tcp_seq) && st.half[d].off == 0 {
            // A SYN or SYN-ACK (re)defines the sequence space of a direction that has delivered
            // nothing yet, as in tshark and Zeek: a bare ACK or RST seen before it (a stale or
            // challenge ACK from another connection's state) must not hold its place.
            resync(&mut st.half, d, s.tcp_seq, used, out.stats);
        }
        let h = &mut st.half[d];
        let data_seq = s.tcp_seq.wrapping_add(u32::from(syn));
        if !h.known {
            h.start(data_seq);
        }
        let len = s.payload.len() as i64;
        h.seen += len as u64 + u64::from(s.missing);
        let mut start = h.rel(data_seq);
        if len > 0 && (start < 0 || !h.reachable(start)) && h.off == 0 && h.ooo.is_empty() && h.isn.is_none() {
            // Data out of the sequence space of a direction without SYN that has delivered
            // nothing: its base came from a stray packet (a bare ACK of another connection's
            // state) or from a later packet captured first. The data decides.
            h.start(data_seq);
            start = 0;
        }
        if len > 0 {
            out.stats.segments += 1;
        }
        if !h.reachable(start) {
            out.stats.dropped += 1;
        } else if len > 0 || s.missing > 0 {
            let end = start + len;
            let off = h.off as i64;
            if end <= off {
                if len > 0 {
                    out.stats.overlaps += 1;
                    out.stats.overlap_bytes += len as u64;
                }
            } else {
                let skip = (off - start).max(0);
                if skip > 0 {
                    out.stats.overlaps += 1;
                    out.stats.overlap_bytes += skip as u64;
                }
                let at = (start + skip) as u64;
                let mut data = &s.payload[skip as usize..];
                if let Some(f) = h.fin {
                    // Nothing follows a FIN.
                    data = &data[..data.len().min(f.saturating_sub(at) as usize)];
                }
                if at == h.off && h.ooo.is_empty() {
                    out.data(dir, data);
                    h.advance(data.len() as u64);
                    if s.missing > 0 && h.fin.is_none_or(|f| f > h.off) {
                        out.gap(dir, u64::from(s.missing));
                        h.advance(u64::from(s.missing));
                    }
                } else {
                    if at > h.off {
                        out.stats.out_of_order += 1;
                    }
                    *used += insert(h, at, data, s.ts, out.stats);
                    if h.ooo_bytes > max_stream || *used > budget {
                        out.stats.limit_skips += 1;
                        flush(h, dir, used, &mut out);
                    } else {
                        drain(h, dir, used, &mut out);
                        gap_acked(h, dir, used, &mut out);
                    }
                }
            }
        }
        if s.flags & flags::FIN != 0 && h.fin.is_none() && h.reachable(start) {
            let f = (start + len + i64::from(s.missing)).max(0) as u64;
            h.fin = Some(f);
            h.done |= h.off >= f;
        }
        // What the other side acknowledges of the capture's holes will not be retransmitted.
        if s.flags & flags::ACK != 0 {
            let o = &mut st.half[1 - d];
            if o.known {
                let mut a = o.rel(s.ack);
                if let Some(f) = o.fin {
                    a = a.min(f as i64);
                }
                if a > o.acked as i64 && o.reachable(a) {
                    o.acked = a as u64;
                }
                gap_acked(o, dir_of(1 - d), used, &mut out);
            }
        }
        if rst {
            // The sender's direction ends here; the other side may still have data in flight
            // (it sent before it got the RST), unless it never sent anything.
            let h = &mut st.half[d];
            end(h, dir, used, &mut out);
            h.fin = Some(h.off);
            h.done = true;
            st.reset = true;
            let o = &mut st.half[1 - d];
            if !o.known && o.ooo.is_empty() {
                o.done = true;
            }
        }
        if st.half[0].done && st.half[1].done {
            let reason = if st.reset { CloseReason::Rst } else { CloseReason::Fin };
            let meta = out.meta;
            out.ev.push(out.mask, |b| sdk::push_close(b, &meta, reason));
            out.stats.closed[reason.code() as usize] += 1;
            st.closed = true;
        }
    }

    /// Closes a live stream: delivers what is buffered (holes as gaps), then the close event.
    fn close(&mut self, p: usize, key: &Key, reason: CloseReason, meta: EventMeta, ev: &mut Events) {
        let Partition { map, used, .. } = &mut self.parts[p];
        let Some(st) = map.get_mut(key) else { return };
        if st.closed {
            return;
        }
        // A reset connection closes as such when it times out or the input ends.
        let reason = if st.reset && matches!(reason, CloseReason::Timeout | CloseReason::End) {
            CloseReason::Rst
        } else {
            reason
        };
        // The events belong to the packet that caused the close (`meta.seq`), but carry the time
        // of the stream's last packet: nothing of the stream happened later.
        let meta = EventMeta { stream: st.id, seq: meta.seq, ts_nanos: st.last_ts };
        let mut out = Out { ev, stats: &mut self.stats, meta, mask: st.feed };
        for i in 0..2 {
            end(&mut st.half[i], dir_of(i), used, &mut out);
        }
        let meta = out.meta;
        out.ev.push(out.mask, |b| sdk::push_close(b, &meta, reason));
        out.stats.closed[reason.code() as usize] += 1;
        st.closed = true;
    }

    fn remove(&mut self, p: usize, key: &Key) {
        let part = &mut self.parts[p];
        if let Some(st) = part.map.remove(key) {
            part.used = part.used.saturating_sub(STREAM_COST + st.half[0].cost() + st.half[1].cost());
            self.ids.remove(&st.id);
        }
    }

    /// Closes the idle streams of partition `p` and forgets lingering closed ones, oldest id first.
    fn sweep(&mut self, p: usize, meta: EventMeta, ev: &mut Events) {
        let part = &self.parts[p];
        let clock = part.clock;
        let idle = self.cfg.idle_nanos;
        let mut expired: Vec<(u64, Key, bool, bool)> = part
            .map
            .iter()
            .filter(|(_, st)| clock - st.last_ts > if st.closed { LINGER_NANOS } else { st.quiet(idle) })
            .map(|(k, st)| (st.id, *k, st.closed, st.reset))
            .collect();
        expired.sort_unstable_by_key(|e| e.0);
        for (_, key, closed, reset) in expired {
            if !closed {
                self.close(p, &key, CloseReason::Timeout, meta, ev);
            }
            // A reset connection lingers (closed) to absorb its retransmissions.
            if closed || !reset {
                self.remove(p, &key);
            }
        }
    }

    /// Makes room in partition `p`: closes its least recently active eighth.
    fn evict(&mut self, p: usize, meta: EventMeta, ev: &mut Events) {
        let mut all: Vec<(i64, u64, Key, bool)> =
            self.parts[p].map.iter().map(|(k, st)| (st.last_ts, st.id, *k, st.closed)).collect();
        all.sort_unstable_by_key(|e| (e.0, e.1));
        let n = all.len().div_ceil(8);
        for (_, _, key, closed) in all.into_iter().take(n) {
            if !closed {
                self.close(p, &key, CloseReason::Evicted, meta, ev);
            }
            self.remove(p, &key);
        }
    }

    /// Packet time advanced to `now` (the time of packet `seq`): closes idle streams everywhere.
    pub fn tick(&mut self, now: i64, seq: u64, ev: &mut Events) {
        let meta = EventMeta { stream: 0, seq, ts_nanos: now };
        for p in 0..PARTITIONS {
            if self.parts[p].map.is_empty() {
                continue;
            }
            self.parts[p].clock = self.parts[p].clock.max(now);
            self.sweep(p, meta, ev);
        }
    }

    /// End of input: closes every stream (`End`), partition by partition, oldest id first. The
    /// events carry `seq = u64::MAX` and the time of the stream's last packet.
    pub fn finish(&mut self, ev: &mut Events) {
        for p in 0..PARTITIONS {
            let mut all: Vec<(u64, Key, i64)> =
                self.parts[p].map.iter().map(|(k, st)| (st.id, *k, st.last_ts)).collect();
            all.sort_unstable_by_key(|e| e.0);
            for (_, key, last) in all {
                self.close(p, &key, CloseReason::End, EventMeta { stream: 0, seq: u64::MAX, ts_nanos: last }, ev);
                self.remove(p, &key);
            }
        }
    }

    /// Stops feeding stream `id` to the decoders in `bits`.
    pub fn stop(&mut self, id: u64, bits: u64) {
        if let Some(&(p, key)) = self.ids.get(&id)
            && let Some(st) = self.parts[usize::from(p)].map.get_mut(&key)
        {
            st.feed &= !bits;
        }
    }

    /// Stops feeding every stream to the decoders in `bits` (a restarted decoder lost its state).
    pub fn stop_all(&mut self, bits: u64) {
        for part in &mut self.parts {
            for st in part.map.values_mut() {
                st.feed &= !bits;
            }
        }
    }

    /// Streams held (live or lingering).
    pub fn streams(&self) -> usize {
        self.parts.iter().map(|p| p.map.len()).sum()
    }

    /// Memory accounted, in bytes.
    pub fn memory(&self) -> usize {
        self.parts.iter().map(|p| p.used).sum()
    }
}

#[cfg(test)]
mod tests;
