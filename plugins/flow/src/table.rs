//! The flow table: connections by key, their timeouts and the memory bound.
//!
//! State is split into 256 partitions by the host's flow hash (`flow & 0xff`), which is what
//! assigns packets to workers, so each partition sees the same packets in the same order for any
//! worker count, and everything below (timeouts, eviction) happens per partition: the output does
//! not depend on the number of workers.
//!
//! Time is packet time only. A connection's record ends
//! - on the idle timeout of its protocol class ([`Class`]: TCP, UDP, ICMP/ICMPv6, other): the next
//!   packet comes more than that class's `idle` after the last one;
//! - on the active timeout: the next packet comes more than `active` after the record's first
//!   packet; the connection goes on in a new record flagged `continued`;
//! - on TCP close (FIN both ways and the ACK of the second FIN, or a RST), once `tcp_close` has
//!   passed (trailing ACKs, FINs and RSTs up to then still count), or at once when a new SYN
//!   (without ACK) reuses the 5-tuple; with `tcp_close` = 0 the closing packet ends the record;
//! - on eviction, when a partition is full and a new connection starts (least recently used);
//! - at the end of input.
//!
//! "More than" is strict: a packet exactly `idle` after the last one still belongs to the flow.
//! A packet that exceeds a timeout first ends the old record (emitted for that packet), then
//! starts the new one. `tick(now)` ends what has timed out by `now` without waiting for a packet,
//! in O(expired + partitions): per partition, connections sit in intrusive lists ordered by last
//! packet (one LRU list per protocol class, so each is also ordered by idle deadline), by record
//! start (active timeout) and by close time, so only list heads are looked at.

use crate::conn::Conn;
use crate::packet::{Family, Info, SYN};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// Keys hash themselves ([`Key::mix`]); the map's hasher only carries that value. Decoders have no
/// randomness to key a hash with (and a fixed-key SipHash would resist collisions no better), and
/// the map is never iterated, so its order cannot reach the output.
type Map = HashMap<Key, u32, BuildHasherDefault<KeyHasher>>;

/// Passes [`Key::mix`] through (other input is folded in, for completeness).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

/// Number of partitions (the low byte of the host's flow hash).
pub const PARTITIONS: usize = 256;

/// Why a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Idle,
    Active,
    Closed,
    Evicted,
    EndOfInput,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::Idle => "idle",
            End::Active => "active",
            End::Closed => "closed",
            End::Evicted => "evicted",
            End::EndOfInput => "end",
        }
    }
}

/// Protocol classes with an idle timeout of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Tcp = 0,
    Udp = 1,
    /// ICMP and ICMPv6.
    Icmp = 2,
    /// Every other IP protocol and link-layer flows.
    Other = 3,
}

/// Number of [`Class`]es.
pub const CLASSES: usize = 4;

impl Class {
    /// The class of IP protocol `proto` (0 for link-layer flows).
    pub fn of(family: Family, proto: u8) -> Class {
        match (family, proto) {
            (Family::Link, _) => Class::Other,
            (_, 6) => Class::Tcp,
            (_, 17) => Class::Udp,
            (_, 1 | 58) => Class::Icmp,
            _ => Class::Other,
        }
    }
}

/// Timeouts (ns of packet time) and the table cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Idle timeout per [`Class`].
    pub idle: [i64; CLASSES],
    pub active: i64,
    pub tcp_close: i64,
    /// Connections tracked at most; each partition holds `ceil(max / 256)`.
    pub max: usize,
}

/// Zeek's inactivity timeouts: TCP 5 min (`tcp_inactivity_timeout`), UDP and ICMP 1 min
/// (`udp_inactivity_timeout`, `icmp_inactivity_timeout`); other protocols 1 min.
pub const DEFAULT_IDLE: [i64; CLASSES] = [300_000_000_000, 60_000_000_000, 60_000_000_000, 60_000_000_000];

/// Defaults: idle [`DEFAULT_IDLE`], active 30 min (the usual NetFlow/IPFIX active timeout), TCP
/// close 5 s (Zeek's `tcp_close_delay`), 131,072 connections.
impl Default for Limits {
    fn default() -> Self {
        Limits { idle: DEFAULT_IDLE, active: 1_800_000_000_000, tcp_close: 5_000_000_000, max: 1 << 17 }
    }
}

/// Where ended records go.
pub trait Sink {
    /// A record of `c` ended for `why` (never called for a record without packets).
    fn emit(&mut self, c: &Conn, why: End);
    /// A connection was evicted because its partition was full.
    fn evicted(&mut self);
    /// Whether the output of this `tick` or `finish` call is full: the table stops and goes on
    /// where it stopped in the next call (see `netcap_sdk::Emitter::chunk_full`).
    fn full(&mut self) -> bool {
        false
    }
}

/// A flow key: the endpoints in canonical order (smaller address and port first), the protocol,
/// and the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    part: u8,
    family: Family,
    proto: u8,
    a: [u8; 16],
    b: [u8; 16],
    pa: u16,
    pb: u16,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.mix());
    }
}

impl Key {
    /// The protocol class whose idle timeout applies.
    fn class(&self) -> Class {
        Class::of(self.family, self.proto)
    }

    /// A well-mixed 64-bit hash of every field (multiply-rotate over 64-bit words, then the
    /// splitmix64 finalizer, as the host's flow hash).
    fn mix(&self) -> u64 {
        #[inline]
        fn step(h: u64, v: u64) -> u64 {
            (h.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
        }
        let head = u64::from(self.part)
            | (self.family as u64) << 8
            | u64::from(self.proto) << 16
            | u64::from(self.pa) << 24
            | u64::from(self.pb) << 40;
        let mut h = step(0x9e37_79b9_7f4a_7c15, head);
        for half in [&self.a, &self.b] {
            let (x, y) = half.split_at(8);
            h = step(h, u64::from_le_bytes(x.try_into().unwrap_or_default()));
            h = step(h, u64::from_le_bytes(y.try_into().unwrap_or_default()));
        }
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }

    pub fn of(part: u8, p: &Info) -> Key {
        let (x, y) = if p.family == Family::Link {
            // Link-layer flows: the address pair and the EtherType.
            ((p.src, p.ethertype), (p.dst, p.ethertype))
        } else {
            ((p.src, p.sport), (p.dst, p.dport))
        };
        let (a, b) = if x <= y { (x, y) } else { (y, x) };
        Key { part, family: p.family, proto: p.proto, a: a.0, b: b.0, pa: a.1, pb: b.1 }
    }
}

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
}

const UNLINKED: Links = Links { prev: NIL, next: NIL };

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List { head: NIL, tail: NIL };

/// Which intrusive list: a slot is in at most one of each (its LRU list is its class's).
#[derive(Clone, Copy)]
enum Which {
    Lru = 0,
    Active = 1,
    Closing = 2,
}

/// Index of a partition's LRU list of class `c` in [`Partition::lists`]; the active and closing
/// lists follow them.
const fn lru(c: Class) -> usize {
    c as usize
}
const ACTIVE: usize = CLASSES;
const CLOSING: usize = CLASSES + 1;

struct Slot {
    key: Key,
    conn: Conn,
    links: [Links; 3],
    member: [bool; 3],
}

#[derive(Clone, Copy)]
struct Partition {
    /// The LRU list of each class, then the active and the closing list.
    lists: [List; CLASSES + 2],
    count: usize,
}

/// Slots live in fixed-size chunks, so growing never copies (or doubles) what is there.
const CHUNK: usize = 4096;

/// The flow table.
pub struct Table {
    limits: Limits,
    per_part: usize,
    map: Map,
    chunks: Vec<Vec<Option<Slot>>>,
    free: Vec<u32>,
    next_slot: u32,
    parts: Vec<Partition>,
    /// The next slot `finish` looks at (it returns its records in chunks).
    finish_at: u32,
}

impl Table {
    pub fn new(limits: Limits) -> Self {
        Table {
            limits,
            per_part: limits.max.div_ceil(PARTITIONS).max(1),
            map: Map::default(),
            chunks: Vec::new(),
            free: Vec::new(),
            next_slot: 0,
            parts: vec![Partition { lists: [EMPTY; CLASSES + 2], count: 0 }; PARTITIONS],
            finish_at: 0,
        }
    }

    /// Connections tracked now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn slot(&self, i: u32) -> &Slot {
        let i = i as usize;
        self.chunks[i / CHUNK][i % CHUNK].as_ref().expect("linked slot is occupied")
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot {
        let i = i as usize;
        self.chunks[i / CHUNK][i % CHUNK].as_mut().expect("linked slot is occupied")
    }

    fn alloc(&mut self, s: Slot) -> u32 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.next_slot;
                self.next_slot += 1;
                if i as usize / CHUNK == self.chunks.len() {
                    let mut c = Vec::with_capacity(CHUNK);
                    c.resize_with(CHUNK, || None);
                    self.chunks.push(c);
                }
                i
            }
        };
        self.chunks[i as usize / CHUNK][i as usize % CHUNK] = Some(s);
        i
    }

    /// The partition and the list index of slot `i`'s list `w`.
    fn list_of(&self, i: u32, w: Which) -> (usize, usize) {
        let key = &self.slot(i).key;
        let l = match w {
            Which::Lru => lru(key.class()),
            Which::Active => ACTIVE,
            Which::Closing => CLOSING,
        };
        (usize::from(key.part), l)
    }

    fn push_back(&mut self, i: u32, w: Which) {
        let (part, li) = self.list_of(i, w);
        let tail = self.parts[part].lists[li].tail;
        {
            let s = self.slot_mut(i);
            debug_assert!(!s.member[w as usize]);
            s.links[w as usize] = Links { prev: tail, next: NIL };
            s.member[w as usize] = true;
        }
        if tail == NIL {
            self.parts[part].lists[li].head = i;
        } else {
            self.slot_mut(tail).links[w as usize].next = i;
        }
        self.parts[part].lists[li].tail = i;
    }

    fn unlink(&mut self, i: u32, w: Which) {
        let (l, member) = {
            let s = self.slot(i);
            (s.links[w as usize], s.member[w as usize])
        };
        if !member {
            return;
        }
        let (part, li) = self.list_of(i, w);
        if l.prev == NIL {
            self.parts[part].lists[li].head = l.next;
        } else {
            self.slot_mut(l.prev).links[w as usize].next = l.next;
        }
        if l.next == NIL {
            self.parts[part].lists[li].tail = l.prev;
        } else {
            self.slot_mut(l.next).links[w as usize].prev = l.prev;
        }
        let s = self.slot_mut(i);
        s.links[w as usize] = UNLINKED;
        s.member[w as usize] = false;
    }

    /// Ends connection `i`: emits its record (if it has packets) and forgets it.
    fn remove(&mut self, i: u32, why: End, sink: &mut impl Sink) {
        for w in [Which::Lru, Which::Active, Which::Closing] {
            self.unlink(i, w);
        }
        let idx = i as usize;
        let s = self.chunks[idx / CHUNK][idx % CHUNK].take().expect("removed slot is occupied");
        // A closed TCP connection that times out or meets the end of input ended by its close.
        let why =
            if s.conn.closed_at.is_some() && matches!(why, End::Idle | End::EndOfInput) { End::Closed } else { why };
        if s.conn.packets() > 0 {
            sink.emit(&s.conn, why);
        }
        self.map.remove(&s.key);
        self.parts[usize::from(s.key.part)].count -= 1;
        self.free.push(i);
    }

    /// Ends the record of connection `i` for the active timeout; the connection stays.
    fn split(&mut self, i: u32, sink: &mut impl Sink) {
        self.unlink(i, Which::Active);
        let s = self.slot_mut(i);
        if s.conn.packets() > 0 {
            sink.emit(&s.conn, End::Active);
        }
        self.slot_mut(i).conn.split();
    }

    /// Counts packet `p` of partition `part` (DPI classification `app`, 0 for none).
    pub fn packet(&mut self, part: u8, p: &Info, app: u16, sink: &mut impl Sink) {
        let key = Key::of(part, p);
        let lim = self.limits;
        let mut found = self.map.get(&key).copied();
        if let Some(i) = found {
            let c = &self.slot(i).conn;
            let syn_only = p.tcp.is_some_and(|t| t.flags & (SYN | crate::packet::ACK) == SYN);
            if p.ts.saturating_sub(c.last) > lim.idle[key.class() as usize] {
                self.remove(i, End::Idle, sink);
                found = None;
            } else if let Some(at) = c.closed_at {
                if p.ts.saturating_sub(at) > lim.tcp_close || syn_only {
                    self.remove(i, End::Closed, sink);
                    found = None;
                }
            } else if c.packets() > 0 && p.ts.saturating_sub(c.first) > lim.active {
                self.split(i, sink);
            }
        }
        let i = match found {
            Some(i) => i,
            None => {
                let pi = usize::from(part);
                if self.parts[pi].count >= self.per_part {
                    let victim = self.lru_victim(pi);
                    if victim != NIL {
                        self.remove(victim, End::Evicted, sink);
                        sink.evicted();
                    }
                }
                let conn = Conn::new(p);
                let i = self.alloc(Slot { key, conn, links: [UNLINKED; 3], member: [false; 3] });
                self.map.insert(key, i);
                self.parts[pi].count += 1;
                i
            }
        };
        let (was_empty, closed_now) = {
            let c = &mut self.slot_mut(i).conn;
            let was_empty = c.packets() == 0;
            let d = c.dir_of(p);
            (was_empty, c.update(p, d, app))
        };
        self.unlink(i, Which::Lru);
        self.push_back(i, Which::Lru);
        if was_empty {
            self.push_back(i, Which::Active);
        }
        if closed_now {
            // A closed connection ends by its close, not by the active timeout.
            self.unlink(i, Which::Active);
            if lim.tcp_close == 0 {
                self.remove(i, End::Closed, sink);
            } else {
                self.push_back(i, Which::Closing);
            }
        }
    }

    /// The least recently seen connection of partition `pi` (the oldest head of its class LRU
    /// lists; on equal times the lower class), `NIL` when it is empty.
    fn lru_victim(&self, pi: usize) -> u32 {
        let mut best = NIL;
        for c in 0..CLASSES {
            let h = self.parts[pi].lists[c].head;
            if h != NIL && (best == NIL || self.slot(h).conn.last < self.slot(best).conn.last) {
                best = h;
            }
        }
        best
    }

    /// Packet time advanced to `now`: ends every record that has timed out.
    pub fn tick(&mut self, now: i64, sink: &mut impl Sink) {
        let lim = self.limits;
        for part in 0..PARTITIONS {
            for c in 0..CLASSES {
                loop {
                    let h = self.parts[part].lists[c].head;
                    if h == NIL || now.saturating_sub(self.slot(h).conn.last) <= lim.idle[c] {
                        break;
                    }
                    if sink.full() {
                        return;
                    }
                    self.remove(h, End::Idle, sink);
                }
            }
            loop {
                let h = self.parts[part].lists[CLOSING].head;
                let Some(at) = (h != NIL).then(|| self.slot(h).conn.closed_at).flatten() else { break };
                if now.saturating_sub(at) <= lim.tcp_close {
                    break;
                }
                if sink.full() {
                    return;
                }
                self.remove(h, End::Closed, sink);
            }
            loop {
                let h = self.parts[part].lists[ACTIVE].head;
                if h == NIL || now.saturating_sub(self.slot(h).conn.first) <= lim.active {
                    break;
                }
                if self.slot(h).conn.closed_at.is_some() {
                    self.unlink(h, Which::Active);
                } else {
                    if sink.full() {
                        return;
                    }
                    self.split(h, sink);
                }
            }
        }
    }

    /// End of input: ends every record, in slot order, until the sink is full (the next call
    /// goes on from there).
    pub fn finish(&mut self, sink: &mut impl Sink) {
        while self.finish_at < self.next_slot {
            let i = self.finish_at;
            let idx = i as usize;
            if self.chunks[idx / CHUNK][idx % CHUNK].is_some() {
                if sink.full() {
                    return;
                }
                self.remove(i, End::EndOfInput, sink);
            }
            self.finish_at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{ACK, FIN, RST, Tcp};

    const S: i64 = 1_000_000_000;

    #[derive(Default)]
    struct Got {
        /// (packets, why, continued, first, last)
        records: Vec<(u64, End, bool, i64, i64)>,
        evicted: usize,
        /// A chunk holds this many records (0: unbounded).
        chunk: usize,
        in_chunk: usize,
    }

    impl Sink for Got {
        fn emit(&mut self, c: &Conn, why: End) {
            self.records.push((c.packets(), why, c.continued, c.first, c.last));
            self.in_chunk += 1;
        }
        fn evicted(&mut self) {
            self.evicted += 1;
        }
        fn full(&mut self) -> bool {
            self.chunk > 0 && self.in_chunk >= self.chunk
        }
    }

    #[test]
    fn finish_and_tick_go_on_where_a_full_chunk_stopped() {
        let mut t = Table::new(limits(10 * S, 1000 * S, 0));
        let mut g = Got { chunk: 3, ..Got::default() };
        for port in 0..10 {
            t.packet((port % 4) as u8, &udp(S, true, port), 0, &mut g);
        }
        t.packet(0, &udp(5 * S, true, 100), 0, &mut g);
        let mut calls = 0;
        while calls == 0 || g.in_chunk == 3 {
            g.in_chunk = 0;
            t.tick(12 * S, &mut g);
            calls += 1;
        }
        assert_eq!((calls, g.records.len(), t.len()), (4, 10, 1), "10 idle records in chunks of 3");
        let mut calls = 0;
        while calls == 0 || g.in_chunk == 3 {
            g.in_chunk = 0;
            t.finish(&mut g);
            calls += 1;
        }
        assert_eq!((calls, g.records.len()), (1, 11));
        assert!(t.is_empty());
    }

    fn udp(ts: i64, from_client: bool, port: u16) -> Info {
        let (a, b) = ([10u8; 16], [20u8; 16]);
        let (src, dst, sport, dport) = if from_client { (a, b, port, 53) } else { (b, a, 53, port) };
        Info {
            ts,
            wire_len: 60,
            family: Family::V4,
            proto: 17,
            src,
            dst,
            sport,
            dport,
            has_ports: true,
            payload: 18,
            ..Info::default()
        }
    }

    fn tcp(ts: i64, from_client: bool, flags: u16, seq: u32, ack: u32) -> Info {
        let mut p = udp(ts, from_client, 1000);
        p.proto = 6;
        p.payload = 0;
        p.tcp = Some(Tcp { flags, seq, ack, window: 1000 });
        p
    }

    fn limits(idle: i64, active: i64, tcp_close: i64) -> Limits {
        Limits { idle: [idle; CLASSES], active, tcp_close, max: 1 << 16 }
    }

    fn icmp(ts: i64, from_client: bool) -> Info {
        // Echo request (8) and reply (0) map to the same ports (Community ID).
        let mut p = udp(ts, from_client, 8);
        p.proto = 1;
        (p.sport, p.dport) = if from_client { (8, 0) } else { (0, 8) };
        p
    }

    fn gre(ts: i64, from_client: bool) -> Info {
        let mut p = udp(ts, from_client, 0);
        p.proto = 47;
        (p.sport, p.dport, p.has_ports) = (0, 0, false);
        p
    }

    /// A packet of class `c`, ended by the idle timeout of that class only.
    fn of_class(c: Class, ts: i64, from_client: bool) -> Info {
        match c {
            Class::Tcp => tcp(ts, from_client, ACK, 1, 1),
            Class::Udp => udp(ts, from_client, 1),
            Class::Icmp => icmp(ts, from_client),
            Class::Other => gre(ts, from_client),
        }
    }

    /// Distinct idle timeouts per class (TCP 40 s, UDP 10 s, ICMP 20 s, other 30 s).
    fn per_class() -> Limits {
        Limits { idle: [40 * S, 10 * S, 20 * S, 30 * S], ..limits(0, 1000 * S, 0) }
    }

    #[test]
    fn idle_timeout_boundaries_per_protocol_on_packets() {
        for c in [Class::Tcp, Class::Udp, Class::Icmp, Class::Other] {
            let idle = per_class().idle[c as usize];
            let mut t = Table::new(per_class());
            let mut g = Got::default();
            t.packet(0, &of_class(c, 0, true), 0, &mut g);
            t.packet(0, &of_class(c, idle - 1, false), 0, &mut g); // 1 ns before the timeout
            t.packet(0, &of_class(c, 2 * idle - 1, true), 0, &mut g); // exactly the timeout
            assert!(g.records.is_empty(), "{c:?}: a gap of exactly the idle timeout does not end the flow");
            t.packet(0, &of_class(c, 3 * idle, true), 0, &mut g); // 1 ns after
            assert_eq!(g.records, vec![(3, End::Idle, false, 0, 2 * idle - 1)], "{c:?}");
        }
    }

    #[test]
    fn idle_timeout_boundaries_per_protocol_at_ticks() {
        let mut t = Table::new(per_class());
        let mut g = Got::default();
        let classes = [Class::Tcp, Class::Udp, Class::Icmp, Class::Other];
        for (i, c) in classes.into_iter().enumerate() {
            t.packet(i as u8, &of_class(c, 0, true), 0, &mut g);
        }
        // Each class ends exactly 1 ns after its own timeout, not at it nor 1 ns before.
        let mut order = Vec::new();
        for c in [Class::Udp, Class::Icmp, Class::Other, Class::Tcp] {
            let idle = per_class().idle[c as usize];
            t.tick(idle - 1, &mut g);
            t.tick(idle, &mut g);
            assert_eq!(g.records.len(), order.len(), "{c:?} ended at or before its timeout");
            t.tick(idle + 1, &mut g);
            order.push(c);
            assert_eq!(g.records.len(), order.len(), "{c:?} did not end 1 ns after its timeout");
            assert_eq!(*g.records.last().unwrap(), (1, End::Idle, false, 0, 0));
        }
        assert!(t.is_empty());
    }

    #[test]
    fn eviction_takes_the_least_recently_seen_of_any_class() {
        let mut t = Table::new(Limits { max: 512, ..per_class() });
        let mut g = Got::default();
        t.packet(5, &udp(0, true, 1), 0, &mut g);
        t.packet(5, &tcp(1, true, ACK, 1, 1), 0, &mut g);
        t.packet(5, &udp(2, true, 1), 0, &mut g); // the UDP one is now the more recent
        t.packet(5, &icmp(3, true), 0, &mut g);
        assert_eq!(g.evicted, 1);
        assert_eq!(g.records, vec![(1, End::Evicted, false, 1, 1)], "the TCP connection was least recently seen");
    }

    #[test]
    fn idle_timeout_boundaries() {
        let mut t = Table::new(limits(10 * S, 1000 * S, 0));
        let mut g = Got::default();
        t.packet(0, &udp(0, true, 1), 0, &mut g);
        t.packet(0, &udp(10 * S - 1, false, 1), 0, &mut g); // just before
        t.packet(0, &udp(20 * S - 1, true, 1), 0, &mut g); // exactly idle after the last packet
        assert!(g.records.is_empty(), "a gap of exactly the idle timeout does not end the flow");
        t.packet(0, &udp(30 * S, true, 1), 0, &mut g); // just after: idle + 1 ns
        assert_eq!(g.records, vec![(3, End::Idle, false, 0, 20 * S - 1)]);
        t.finish(&mut g);
        assert_eq!(g.records[1], (1, End::EndOfInput, false, 30 * S, 30 * S));
    }

    #[test]
    fn idle_timeout_at_tick() {
        let mut t = Table::new(limits(10 * S, 1000 * S, 0));
        let mut g = Got::default();
        t.packet(7, &udp(S, true, 1), 0, &mut g);
        t.packet(9, &udp(2 * S, true, 2), 0, &mut g);
        t.tick(11 * S, &mut g); // exactly idle after the first
        assert!(g.records.is_empty());
        t.tick(11 * S + 1, &mut g);
        assert_eq!(g.records, vec![(1, End::Idle, false, S, S)]);
        assert_eq!(t.len(), 1);
        t.tick(12 * S + 1, &mut g);
        assert_eq!(g.records.len(), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn active_timeout_boundaries_and_continued() {
        let mut t = Table::new(limits(100 * S, 10 * S, 0));
        let mut g = Got::default();
        for s in 0..=10 {
            t.packet(0, &udp(s * S, true, 1), 0, &mut g); // the last one exactly `active` after the first
        }
        assert!(g.records.is_empty());
        t.packet(0, &udp(10 * S + 1, true, 1), 0, &mut g); // just after
        assert_eq!(g.records, vec![(11, End::Active, false, 0, 10 * S)]);
        t.packet(0, &udp(20 * S + 1, false, 1), 0, &mut g); // exactly `active` after the new first
        t.finish(&mut g);
        assert_eq!(g.records[1], (2, End::EndOfInput, true, 10 * S + 1, 20 * S + 1));
    }

    #[test]
    fn active_timeout_at_tick_then_idle_leaves_no_empty_record() {
        let mut t = Table::new(limits(30 * S, 10 * S, 0));
        let mut g = Got::default();
        t.packet(0, &udp(0, true, 1), 0, &mut g);
        t.packet(0, &udp(5 * S, true, 1), 0, &mut g);
        t.tick(10 * S, &mut g);
        assert!(g.records.is_empty());
        t.tick(10 * S + 1, &mut g);
        assert_eq!(g.records, vec![(2, End::Active, false, 0, 5 * S)]);
        assert_eq!(t.len(), 1, "the connection goes on");
        // Nothing more: the idle timeout forgets it without an empty record.
        t.tick(36 * S, &mut g);
        assert_eq!(g.records.len(), 1);
        assert!(t.is_empty());
        // With a packet after the split, the next record is `continued`.
        t.packet(0, &udp(100 * S, true, 1), 0, &mut g);
        t.tick(110 * S + 1, &mut g);
        t.packet(0, &udp(111 * S, false, 1), 0, &mut g);
        t.finish(&mut g);
        assert_eq!(
            g.records[1..],
            [(1, End::Active, false, 100 * S, 100 * S), (1, End::EndOfInput, true, 111 * S, 111 * S)]
        );
    }

    /// The handshake, one segment each way, FIN both ways, the last ACK.
    fn fin_close(t: &mut Table, g: &mut Got, at: i64) {
        use crate::packet::SYN;
        t.packet(0, &tcp(at, true, SYN, 100, 0), 0, g);
        t.packet(0, &tcp(at + 1, false, SYN | ACK, 500, 101), 0, g);
        t.packet(0, &tcp(at + 2, true, ACK, 101, 501), 0, g);
        t.packet(0, &tcp(at + 3, true, FIN | ACK, 101, 501), 0, g);
        t.packet(0, &tcp(at + 4, false, FIN | ACK, 501, 102), 0, g);
        t.packet(0, &tcp(at + 5, true, ACK, 102, 502), 0, g);
    }

    #[test]
    fn fin_close_ends_the_connection_at_once_without_linger() {
        let mut t = Table::new(limits(100 * S, 1000 * S, 0));
        let mut g = Got::default();
        fin_close(&mut t, &mut g, 0);
        assert_eq!(g.records, vec![(6, End::Closed, false, 0, 5)]);
        assert!(t.is_empty());
        // A late packet of the same 5-tuple is a new connection.
        t.packet(0, &tcp(6, false, RST, 502, 0), 0, &mut g);
        assert_eq!(g.records.len(), 2, "the RST closes the new one");
    }

    #[test]
    fn closed_connection_lingers_then_ends() {
        let mut t = Table::new(limits(100 * S, 1000 * S, 5 * S));
        let mut g = Got::default();
        fin_close(&mut t, &mut g, 0);
        assert!(g.records.is_empty());
        t.packet(0, &tcp(5 * S + 5, false, RST, 502, 0), 0, &mut g); // exactly tcp-close after the close
        t.tick(5 * S + 5, &mut g);
        assert!(g.records.is_empty(), "a trailing RST within tcp-close joins");
        t.tick(5 * S + 6, &mut g);
        assert_eq!(g.records, vec![(7, End::Closed, false, 0, 5 * S + 5)]);
        // After close + tcp-close, a packet starts a new record.
        let mut g = Got::default();
        fin_close(&mut t, &mut g, 100 * S);
        t.packet(0, &tcp(105 * S + 6, true, ACK, 102, 502), 0, &mut g);
        assert_eq!(g.records, vec![(6, End::Closed, false, 100 * S, 100 * S + 5)]);
    }

    #[test]
    fn reuse_after_close_starts_a_new_connection() {
        use crate::packet::SYN;
        let mut t = Table::new(limits(100 * S, 1000 * S, 5 * S));
        let mut g = Got::default();
        fin_close(&mut t, &mut g, 0);
        t.packet(0, &tcp(S, true, SYN, 9000, 0), 0, &mut g); // within tcp-close, but a new SYN
        assert_eq!(g.records, vec![(6, End::Closed, false, 0, 5)]);
        t.finish(&mut g);
        assert_eq!(g.records[1], (1, End::EndOfInput, false, S, S));
    }

    #[test]
    fn a_closed_connection_at_the_end_of_input_ends_closed() {
        let mut t = Table::new(limits(100 * S, 1000 * S, 5 * S));
        let mut g = Got::default();
        fin_close(&mut t, &mut g, 0);
        t.finish(&mut g);
        assert_eq!(g.records, vec![(6, End::Closed, false, 0, 5)]);
    }

    #[test]
    fn rst_closes() {
        use crate::packet::SYN;
        let mut t = Table::new(limits(100 * S, 1000 * S, 0));
        let mut g = Got::default();
        t.packet(3, &tcp(0, true, SYN, 100, 0), 0, &mut g);
        t.packet(3, &tcp(1, false, RST | ACK, 0, 101), 0, &mut g);
        assert_eq!(g.records, vec![(2, End::Closed, false, 0, 1)]);
    }

    #[test]
    fn fin_without_final_ack_waits_for_the_idle_timeout() {
        use crate::packet::SYN;
        let mut t = Table::new(limits(10 * S, 1000 * S, 0));
        let mut g = Got::default();
        t.packet(0, &tcp(0, true, SYN, 100, 0), 0, &mut g);
        t.packet(0, &tcp(1, false, SYN | ACK, 500, 101), 0, &mut g);
        t.packet(0, &tcp(2, true, FIN | ACK, 101, 501), 0, &mut g);
        t.packet(0, &tcp(3, false, FIN | ACK, 501, 102), 0, &mut g);
        t.tick(10 * S + 3, &mut g);
        assert!(g.records.is_empty());
        t.tick(10 * S + 4, &mut g);
        assert_eq!(g.records, vec![(4, End::Idle, false, 0, 3)]);
    }

    #[test]
    fn eviction_is_per_partition_lru() {
        // 256 connections at most: one per partition.
        let mut t = Table::new(Limits { max: 256, ..limits(100 * S, 1000 * S, 0) });
        let mut g = Got::default();
        t.packet(1, &udp(0, true, 1), 0, &mut g);
        t.packet(2, &udp(1, true, 2), 0, &mut g);
        assert_eq!(g.evicted, 0, "other partitions do not compete");
        t.packet(1, &udp(2, true, 3), 0, &mut g);
        assert_eq!(g.evicted, 1);
        assert_eq!(g.records, vec![(1, End::Evicted, false, 0, 0)]);
        assert_eq!(t.len(), 2);
        // The least recently used goes first.
        let mut t = Table::new(Limits { max: 512, ..limits(100 * S, 1000 * S, 0) });
        let mut g = Got::default();
        t.packet(5, &udp(0, true, 1), 0, &mut g);
        t.packet(5, &udp(1, true, 2), 0, &mut g);
        t.packet(5, &udp(2, true, 1), 0, &mut g); // port 1 used again
        t.packet(5, &udp(3, true, 3), 0, &mut g);
        assert_eq!(g.records, vec![(1, End::Evicted, false, 1, 1)]);
    }

    /// README "Flows and connections" budgets about 650 bytes per tracked connection.
    #[test]
    fn a_connection_fits_the_documented_budget() {
        assert!(std::mem::size_of::<Option<Slot>>() + std::mem::size_of::<(Key, u32)>() + 16 <= 650);
    }

    #[test]
    fn many_flows_stay_bounded() {
        let mut t = Table::new(Limits { max: 1024, ..limits(100 * S, 1000 * S, 0) });
        let mut g = Got::default();
        for i in 0..100_000u32 {
            let mut p = udp(i64::from(i), true, (i % 60_000) as u16);
            p.src[..4].copy_from_slice(&i.to_be_bytes());
            t.packet((i & 0xff) as u8, &p, 0, &mut g);
            assert!(t.len() <= 1024);
        }
        assert_eq!(g.evicted, 100_000 - 1024);
        t.finish(&mut g);
        assert_eq!(g.records.len(), 100_000);
    }
}
