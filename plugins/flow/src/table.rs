//! The flow table: connections by key, their timeouts and the memory bound.
//!
//! State is split into 256 partitions by the host's flow hash (`flow & 0xff`), which is what
//! assigns packets to workers, so each partition sees the same packets in the same order for any
//! worker count, and everything below (timeouts, eviction) happens per partition: the output does
//! not depend on the number of workers.
//!
//! Time is packet time only. A connection's record ends
//! - on the idle timeout: the next packet comes more than `idle` after the last one;
//! - on the active timeout: the next packet comes more than `active` after the record's first
//!   packet; the connection goes on in a new record flagged `continued`;
//! - on TCP close (FIN both ways and the ACK of the second FIN, or a RST), once `tcp_close` has
//!   passed (trailing ACKs, FINs and RSTs up to then still count), or at once when a new SYN
//!   (without ACK) reuses the 5-tuple; with `tcp_close` = 0 the closing packet ends the record;
//! - on eviction, when a partition is full and a new connection starts (least recently used);
//! - at the end of input.
//! "More than" is strict: a packet exactly `idle` after the last one still belongs to the flow.
//! A packet that exceeds a timeout first ends the old record (emitted for that packet), then
//! starts the new one. `tick(now)` ends what has timed out by `now` without waiting for a packet,
//! in O(expired + partitions): per partition, connections sit in three intrusive lists ordered by
//! last packet (LRU), by record start (active timeout) and by close time, so only list heads are
//! looked at.

use crate::conn::Conn;
use crate::packet::{Family, Info, SYN};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// SipHash with fixed keys: decoders have no randomness, and the map is never iterated.
type Map = HashMap<Key, u32, BuildHasherDefault<DefaultHasher>>;

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

/// Timeouts (ns of packet time) and the table cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub idle: i64,
    pub active: i64,
    pub tcp_close: i64,
    /// Connections tracked at most; each partition holds `ceil(max / 256)`.
    pub max: usize,
}

/// Defaults: idle 60 s (Zeek's UDP and ICMP inactivity timeout), active 30 min (the usual
/// NetFlow/IPFIX active timeout), TCP close 5 s (Zeek's `tcp_close_delay`), 262,144 connections.
impl Default for Limits {
    fn default() -> Self {
        Limits { idle: 60_000_000_000, active: 1_800_000_000_000, tcp_close: 5_000_000_000, max: 1 << 18 }
    }
}

/// Where ended records go.
pub trait Sink {
    /// A record of `c` ended for `why` (never called for a record without packets).
    fn emit(&mut self, c: &Conn, why: End);
    /// A connection was evicted because its partition was full.
    fn evicted(&mut self);
}

/// A flow key: the endpoints in canonical order (smaller address and port first), the protocol,
/// and the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    part: u8,
    family: Family,
    proto: u8,
    a: [u8; 16],
    b: [u8; 16],
    pa: u16,
    pb: u16,
}

impl Key {
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

/// Which intrusive list.
#[derive(Clone, Copy)]
enum Which {
    Lru = 0,
    Active = 1,
    Closing = 2,
}

struct Slot {
    key: Key,
    conn: Conn,
    links: [Links; 3],
    member: [bool; 3],
}

#[derive(Clone, Copy)]
struct Partition {
    lists: [List; 3],
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
            parts: vec![Partition { lists: [EMPTY; 3], count: 0 }; PARTITIONS],
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

    fn push_back(&mut self, i: u32, w: Which) {
        let part = usize::from(self.slot(i).key.part);
        let tail = self.parts[part].lists[w as usize].tail;
        {
            let s = self.slot_mut(i);
            debug_assert!(!s.member[w as usize]);
            s.links[w as usize] = Links { prev: tail, next: NIL };
            s.member[w as usize] = true;
        }
        if tail == NIL {
            self.parts[part].lists[w as usize].head = i;
        } else {
            self.slot_mut(tail).links[w as usize].next = i;
        }
        self.parts[part].lists[w as usize].tail = i;
    }

    fn unlink(&mut self, i: u32, w: Which) {
        let (part, l, member) = {
            let s = self.slot(i);
            (usize::from(s.key.part), s.links[w as usize], s.member[w as usize])
        };
        if !member {
            return;
        }
        if l.prev == NIL {
            self.parts[part].lists[w as usize].head = l.next;
        } else {
            self.slot_mut(l.prev).links[w as usize].next = l.next;
        }
        if l.next == NIL {
            self.parts[part].lists[w as usize].tail = l.prev;
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
            if p.ts.saturating_sub(c.last) > lim.idle {
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
                    let victim = self.parts[pi].lists[Which::Lru as usize].head;
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

    /// Packet time advanced to `now`: ends every record that has timed out.
    pub fn tick(&mut self, now: i64, sink: &mut impl Sink) {
        let lim = self.limits;
        for part in 0..PARTITIONS {
            loop {
                let h = self.parts[part].lists[Which::Lru as usize].head;
                if h == NIL || now.saturating_sub(self.slot(h).conn.last) <= lim.idle {
                    break;
                }
                self.remove(h, End::Idle, sink);
            }
            loop {
                let h = self.parts[part].lists[Which::Closing as usize].head;
                let Some(at) = (h != NIL).then(|| self.slot(h).conn.closed_at).flatten() else { break };
                if now.saturating_sub(at) <= lim.tcp_close {
                    break;
                }
                self.remove(h, End::Closed, sink);
            }
            loop {
                let h = self.parts[part].lists[Which::Active as usize].head;
                if h == NIL || now.saturating_sub(self.slot(h).conn.first) <= lim.active {
                    break;
                }
                if self.slot(h).conn.closed_at.is_some() {
                    self.unlink(h, Which::Active);
                } else {
                    self.split(h, sink);
                }
            }
        }
    }

    /// End of input: ends every record, in slot order.
    pub fn finish(&mut self, sink: &mut impl Sink) {
        for i in 0..self.next_slot {
            let idx = i as usize;
            if self.chunks[idx / CHUNK][idx % CHUNK].is_some() {
                self.remove(i, End::EndOfInput, sink);
            }
        }
    }
}
