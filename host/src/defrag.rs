//! IPv4 and IPv6 defragmentation, in the dispatcher (one thread, before sharding, so the result
//! does not depend on the worker count).
//!
//! Every fragment still goes to the decoders as the packet it is (its link and IP headers give
//! their records as before). When a fragment completes a datagram, the dispatcher dissects the
//! reassembled datagram (raw IP, link type 101) and dispatches it as one more entry right after
//! that fragment, with its own sequence number and the packet flag `PACKET_FLAG_REASSEMBLED`; its
//! IP header (and the IPv6 extension headers before the fragment header) carry the layer flag
//! `FLAG_SEEN`, so that layer decoders do not repeat their records, while everything above (UDP,
//! DNS, ICMP, a tunnel, ...) is decoded from the whole datagram. While defragmenting, the
//! dissector stops at a fragment's IP header: the transport header of a first fragment belongs
//! to the reassembled datagram (as in Wireshark with reassembly on).
//!
//! A fragment belongs to its datagram's TCP or UDP flow as soon as that is known (the first
//! fragment, which carries the ports, has arrived): [`Defrag::flow_hash`] then gives the flow hash
//! of the datagram's 5-tuple, which the dispatcher uses for the fragment instead of the
//! addresses-only hash, so the fragment reaches the worker (and the flow) of its connection.
//! Fragments that arrive before their first fragment, and those of other protocols or inside
//! tunnels, keep the addresses-only hash.
//!
//! Policy: fragments are matched by (addresses, identification, protocol for IPv4, tunnel depth);
//! overlapping fragments: *first data wins*, counted (with differing bytes counted apart); a
//! datagram is complete when the last fragment fixed its length and every byte before it is
//! there. Bounded: [`MAX_MEMORY`] for all pending datagrams (the oldest pending one is dropped to
//! make room), [`MAX_FRAGMENTS`] per datagram, 65,535 bytes per datagram; incomplete datagrams
//! expire after [`TIMEOUT_V4`] / [`TIMEOUT_V6`] of packet time (Linux's defaults). Everything
//! dropped is counted.
//!
//! Cost: pending datagrams are found by their key in a hash map, and ordered by (first fragment's
//! time, arrival) in one ordered map per IP version, so expiry and eviction take the oldest
//! entries from the front instead of scanning every pending datagram: a flood of N fragments that
//! never complete costs O(N log N), not O(N²).

use crate::dissect::Dissection;
use netcap_sdk::layer;
use std::collections::{BTreeMap, HashMap};

/// Memory for all pending datagrams.
pub const MAX_MEMORY: usize = 32 << 20;
/// Fragments per datagram.
pub const MAX_FRAGMENTS: u16 = 256;
/// An incomplete IPv4 datagram is dropped after this long (packet time; Linux `ipfrag_time`).
pub const TIMEOUT_V4: i64 = 30_000_000_000;
/// An incomplete IPv6 datagram is dropped after this long (packet time; RFC 8200).
pub const TIMEOUT_V6: i64 = 60_000_000_000;
/// Bytes a pending datagram costs beyond its data.
const DATAGRAM_COST: usize = 256;

/// Counters for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Fragments seen.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub datagrams: u64,
    /// Incomplete datagrams dropped: timed out, evicted for memory, or left at the end.
    pub incomplete: u64,
    /// Fragments that overlapped earlier ones, and those with differing bytes.
    pub overlaps: u64,
    pub conflicts: u64,
    /// Fragments dropped: cut short by the capture, beyond 65,535 bytes or the datagram's end,
    /// too many for one datagram.
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    proto: u8,
    depth: u8,
    /// The outermost packet's flow hash, for fragments inside a tunnel.
    outer: u64,
}

#[derive(Debug, Default)]
struct Datagram {
    first_ts: i64,
    order: u64,
    /// The IP header (IPv6: with the extension headers before the fragment header), from the
    /// first fragment; empty until it arrives.
    header: Vec<u8>,
    /// IPv6: where in `header` the next-header byte naming the fragment header is, and the value
    /// it gets (the fragment header's next header).
    next_at: usize,
    next: u8,
    data: Vec<u8>,
    /// Byte ranges received, sorted and merged.
    have: Vec<(u32, u32)>,
    /// Length of the fragmentable part, once the last fragment is seen.
    total: Option<u32>,
    fragments: u16,
}

impl Datagram {
    fn cost(&self) -> usize {
        DATAGRAM_COST + self.data.capacity() + self.header.capacity()
    }

    fn complete(&self) -> bool {
        !self.header.is_empty() && self.total.is_some_and(|t| self.have == [(0, t)])
    }
}

/// A fragment's place in its datagram.
struct Fragment<'a> {
    key: Key,
    offset: u32,
    more: bool,
    payload: &'a [u8],
    /// Whether the payload was cut short by the capture.
    cut: bool,
    /// First fragment: the header to keep and, for IPv6, the next-header position and value.
    header: &'a [u8],
    next_at: usize,
    next: u8,
}

/// The defragmenter.
#[derive(Debug, Default)]
pub struct Defrag {
    pending: HashMap<Key, Datagram>,
    /// The pending datagrams by (first fragment's time, arrival order): IPv4 in `[0]`, IPv6 in
    /// `[1]` (each version has its own timeout, so each map expires from its front).
    by_age: [BTreeMap<(i64, u64), Key>; 2],
    used: usize,
    order: u64,
    clock: i64,
    next_sweep: i64,
    out: Vec<u8>,
    /// The flow hash of the datagram of the fragment last given to [`Defrag::add`], once its
    /// 5-tuple is known.
    last_flow: Option<u64>,
    pub stats: Stats,
    /// Pending datagrams looked at by expiry and eviction (for the test that a flood costs linear
    /// work).
    visited: u64,
}

/// The IPv6 extension header chain from `at` (next header `next`) up to the fragment header at
/// `frag`: the position of the next-header byte that names it.
fn v6_next_at(data: &[u8], ip: usize, frag: usize) -> Option<usize> {
    let (mut next, mut at, mut pos) = (*data.get(ip + 6)?, ip + 40, ip + 6);
    for _ in 0..16 {
        if next == 44 {
            return (at == frag).then_some(pos);
        }
        let h = data.get(at..at + 2)?;
        let len = match next {
            0 | 43 | 60 => (usize::from(h[1]) + 1) * 8,
            51 => (usize::from(h[1]) + 2) * 4,
            _ => return None,
        };
        pos = at;
        next = h[0];
        at += len;
    }
    None
}

impl Defrag {
    /// Takes a packet whose dissection found a fragment (`d.fragment`); when this fragment
    /// completes a datagram, returns it with the tunnel depth of its IP header and the length of
    /// its header region (the IP header; for IPv6 with the extension headers before the fragment
    /// header), which the fragments carried too.
    pub fn add(&mut self, data: &[u8], d: &Dissection, outer: u64, ts: i64) -> Option<(&[u8], u16, usize)> {
        self.last_flow = None;
        let ipl = *d.layers().get(usize::from(d.fragment?))?;
        let depth = ipl.flags >> layer::DEPTH_SHIFT & layer::DEPTH_MASK;
        self.stats.fragments += 1;
        self.clock = self.clock.max(ts);
        if self.clock >= self.next_sweep {
            self.next_sweep = self.clock.saturating_add(1_000_000_000);
            self.sweep();
        }
        let Some(f) = self.parse(data, d, ipl, depth, outer) else {
            self.stats.dropped += 1;
            return None;
        };
        if f.cut || f.offset as usize + f.payload.len() > 65_535 {
            self.stats.dropped += 1;
            return None;
        }
        if !self.pending.contains_key(&f.key) {
            while self.used + DATAGRAM_COST > MAX_MEMORY && !self.pending.is_empty() {
                self.evict_oldest();
            }
            self.order += 1;
            self.used += DATAGRAM_COST;
            self.pending.insert(f.key, Datagram { first_ts: ts, order: self.order, ..Datagram::default() });
            self.by_age[usize::from(f.key.v6)].insert((ts, self.order), f.key);
        }
        let g = self.pending.get_mut(&f.key)?;
        // Known before this fragment's data, so that a fragment dropped below (beyond the
        // datagram's end, one too many) still belongs to its datagram's flow.
        self.last_flow = flow_of(&f.key, g);
        let before = g.cost();
        let end = f.offset + f.payload.len() as u32;
        let beyond = g.total.is_some_and(|t| end > t || (!f.more && end != t));
        if g.fragments >= MAX_FRAGMENTS || beyond || (!f.more && g.have.last().is_some_and(|h| h.1 > end)) {
            self.stats.dropped += 1;
            return None;
        }
        g.fragments += 1;
        if !f.more {
            g.total = Some(end);
        }
        if f.offset == 0 && g.header.is_empty() {
            g.header.extend_from_slice(f.header);
            g.next_at = f.next_at;
            g.next = f.next;
        }
        if g.data.len() < end as usize {
            g.data.resize(end as usize, 0);
        }
        // First data wins: copy only into the holes.
        let (mut pos, mut overlap, mut conflict) = (f.offset, false, false);
        let mut holes = Vec::new();
        for &(a, b) in &g.have {
            if b <= pos || a >= end {
                continue;
            }
            if a > pos {
                holes.push((pos, a));
            }
            let (x, y) = (a.max(f.offset), b.min(end));
            overlap = true;
            let new = &f.payload[(x - f.offset) as usize..(y - f.offset) as usize];
            conflict |= g.data[x as usize..y as usize] != *new;
            pos = pos.max(b);
        }
        if pos < end {
            holes.push((pos, end));
        }
        for (a, b) in holes {
            g.data[a as usize..b as usize]
                .copy_from_slice(&f.payload[(a - f.offset) as usize..(b - f.offset) as usize]);
            g.have.push((a, b));
        }
        g.have.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(g.have.len());
        for &(a, b) in &g.have {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        g.have = merged;
        self.stats.overlaps += u64::from(overlap);
        self.stats.conflicts += u64::from(conflict);
        self.used = self.used + g.cost() - before;
        self.last_flow = self.last_flow.or_else(|| flow_of(&f.key, g));
        if !g.complete() {
            return None;
        }
        let g = self.pending.remove(&f.key)?;
        self.by_age[usize::from(f.key.v6)].remove(&(g.first_ts, g.order));
        self.used -= g.cost();
        self.out.clear();
        self.out.extend_from_slice(&g.header);
        self.out.extend_from_slice(&g.data);
        let hlen = g.header.len();
        if f.key.v6 {
            let plen = self.out.len() - 40;
            if plen > 65_535 {
                self.stats.dropped += 1;
                return None;
            }
            self.out[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
            self.out[g.next_at] = g.next;
        } else {
            let total = self.out.len();
            if total > 65_535 {
                self.stats.dropped += 1;
                return None;
            }
            self.out[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            self.out[6] &= 0x40; // keep DF; no more fragments, offset 0
            self.out[7] = 0;
            self.out[10..12].copy_from_slice(&[0, 0]);
            let sum = checksum(&self.out[..hlen]);
            self.out[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        self.stats.datagrams += 1;
        Some((&self.out, depth, hlen))
    }

    fn parse<'a>(
        &self,
        data: &'a [u8],
        d: &Dissection,
        ipl: netcap_sdk::Layer,
        depth: u16,
        outer: u64,
    ) -> Option<Fragment<'a>> {
        let at = ipl.offset;
        let mut key = Key { v6: false, src: [0; 16], dst: [0; 16], id: 0, proto: 0, depth: depth as u8, outer: 0 };
        if depth > 0 {
            key.outer = outer;
        }
        if ipl.id == layer::IPV4 {
            let h = data.get(at..at + 20)?;
            let ihl = usize::from(h[0] & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if ihl < 20 || total < ihl {
                return None;
            }
            let fo = u16::from_be_bytes([h[6], h[7]]);
            key.src[..4].copy_from_slice(&h[12..16]);
            key.dst[..4].copy_from_slice(&h[16..20]);
            key.id = u32::from(u16::from_be_bytes([h[4], h[5]]));
            key.proto = h[9];
            let end = at + total;
            let payload = data.get(at + ihl..end.min(data.len()))?;
            Some(Fragment {
                key,
                offset: u32::from(fo & 0x1fff) * 8,
                more: fo & 0x2000 != 0,
                payload,
                cut: end > data.len(),
                header: data.get(at..at + ihl)?,
                next_at: 0,
                next: 0,
            })
        } else {
            let h = data.get(at..at + 40)?;
            let fl = d.layers().iter().find(|l| l.id == layer::IPV6_FRAGMENT && l.offset > at)?;
            let fh = data.get(fl.offset..fl.offset + 8)?;
            key.v6 = true;
            key.src.copy_from_slice(&h[8..24]);
            key.dst.copy_from_slice(&h[24..40]);
            key.id = u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]);
            let fo = u16::from_be_bytes([fh[2], fh[3]]);
            let end = at + 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
            if end < fl.offset + 8 {
                return None;
            }
            Some(Fragment {
                key,
                offset: u32::from(fo & 0xfff8),
                more: fo & 1 != 0,
                payload: data.get(fl.offset + 8..end.min(data.len()))?,
                cut: end > data.len(),
                header: data.get(at..fl.offset)?,
                next_at: v6_next_at(data, at, fl.offset)? - at,
                next: fh[0],
            })
        }
    }

    /// The datagram the last [`Defrag::add`] completed (valid until the next call).
    pub fn datagram(&self) -> &[u8] {
        &self.out
    }

    /// The flow hash of the TCP or UDP datagram (outside tunnels) of the fragment last given to
    /// [`Defrag::add`], when its first fragment has arrived: the hash the dissector gives the
    /// datagram's unfragmented packets. `None` for a fragment that was dropped, and while the
    /// ports are unknown.
    pub fn flow_hash(&self) -> Option<u64> {
        self.last_flow
    }

    /// Drops the incomplete datagrams that timed out: the oldest of each IP version, from the
    /// front of its age map, until one is young enough.
    fn sweep(&mut self) {
        for (v6, timeout) in [(false, TIMEOUT_V4), (true, TIMEOUT_V6)] {
            while let Some((&(first_ts, _), _)) = self.by_age[usize::from(v6)].first_key_value() {
                self.visited += 1;
                if self.clock.saturating_sub(first_ts) <= timeout {
                    break;
                }
                self.drop_oldest(v6);
            }
        }
    }

    /// Drops the oldest pending datagram of either IP version (to make room).
    fn evict_oldest(&mut self) {
        let age = |m: &BTreeMap<(i64, u64), Key>| m.first_key_value().map(|(a, _)| *a);
        self.visited += 1;
        match (age(&self.by_age[0]), age(&self.by_age[1])) {
            (Some(a), Some(b)) => self.drop_oldest(b < a),
            (Some(_), None) => self.drop_oldest(false),
            (None, Some(_)) => self.drop_oldest(true),
            (None, None) => {}
        }
    }

    /// Drops the oldest pending datagram of one IP version, counted as incomplete.
    fn drop_oldest(&mut self, v6: bool) {
        if let Some((_, k)) = self.by_age[usize::from(v6)].pop_first()
            && let Some(g) = self.pending.remove(&k)
        {
            self.used -= g.cost();
            self.stats.incomplete += 1;
        }
    }

    /// End of input: what is still pending is incomplete.
    pub fn finish(&mut self) {
        self.stats.incomplete += self.pending.len() as u64;
        self.pending.clear();
        self.by_age = Default::default();
        self.used = 0;
    }
}

/// The flow hash of datagram `g` (key `k`), once it is known to be TCP or UDP with both ports.
fn flow_of(k: &Key, g: &Datagram) -> Option<u64> {
    let proto = if k.v6 { g.next } else { k.proto };
    if k.depth != 0
        || g.header.is_empty()
        || !matches!(proto, 6 | 17)
        || !g.have.first().is_some_and(|h| h.0 == 0 && h.1 >= 4)
    {
        return None;
    }
    let ports = (u16::from_be_bytes([g.data[0], g.data[1]]), u16::from_be_bytes([g.data[2], g.data[3]]));
    let n = if k.v6 { 16 } else { 4 };
    Some(crate::dissect::flow_hash((&k.src[..n], ports.0), (&k.dst[..n], ports.1), proto))
}

/// The IPv4 header checksum (RFC 1071) of `h` with its checksum field zeroed.
fn checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Marks the layers of a dissected reassembled datagram that its fragments already carried (the
/// IP header and, for IPv6, the extension headers before the fragment header: everything that
/// starts inside the first `header_len` bytes) and moves every layer `depth` tunnels deeper.
pub fn mark_seen(d: &mut Dissection, header_len: usize, depth: u16) {
    for l in d.layers.iter_mut().take(d.count) {
        if l.offset < header_len {
            l.flags |= layer::FLAG_SEEN;
        }
        if depth > 0 {
            let dd = (l.flags >> layer::DEPTH_SHIFT & layer::DEPTH_MASK) + depth;
            l.flags =
                l.flags & !(layer::DEPTH_MASK << layer::DEPTH_SHIFT) | dd.min(layer::DEPTH_MASK) << layer::DEPTH_SHIFT;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{dissect, linktype};

    /// An Ethernet + IPv4 + UDP packet with `payload`, identification `id`.
    fn udp4(payload: &[u8], id: u16) -> Vec<u8> {
        let mut v = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut v, payload)
            .expect("build");
        v[14 + 4..14 + 6].copy_from_slice(&id.to_be_bytes());
        v
    }

    /// The IPv4 fragment of `whole` (an Ethernet frame) covering IP payload bytes [a, b).
    fn frag4(whole: &[u8], a: usize, b: usize, more: bool) -> Vec<u8> {
        let ip = &whole[14..];
        let mut f = whole[..14 + 20].to_vec();
        f.extend_from_slice(&ip[20 + a..20 + b]);
        let total = (20 + b - a) as u16;
        f[14 + 2..14 + 4].copy_from_slice(&total.to_be_bytes());
        let fo = (a / 8) as u16 | if more { 0x2000 } else { 0 };
        f[14 + 6..14 + 8].copy_from_slice(&fo.to_be_bytes());
        f
    }

    /// An Ethernet + IPv6 + hop-by-hop + fragment header (identification `id`, next header UDP)
    /// packet carrying `part` at fragment offset `off`.
    fn ipv6_fragment(off: usize, more: bool, part: &[u8], id: u32) -> Vec<u8> {
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&[0x86, 0xdd]);
        let plen = (8 + 8 + part.len()) as u16;
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        p.extend_from_slice(&plen.to_be_bytes());
        p.extend_from_slice(&[0, 64]); // next: hop-by-hop
        p.extend_from_slice(&[0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop, PadN; next: fragment
        let fo = (off as u16) | u16::from(more);
        p.extend_from_slice(&[17, 0]);
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(part);
        p
    }

    fn feed(df: &mut Defrag, pkt: &[u8], ts: i64) -> Option<(Vec<u8>, u16, usize)> {
        let mut d = Dissection { defrag: true, ..Dissection::default() };
        dissect(linktype::ETHERNET, pkt, &mut d);
        d.fragment?;
        df.add(pkt, &d, d.hash, ts).map(|(b, depth, h)| (b.to_vec(), depth, h))
    }

    #[test]
    fn ipv4_fragments_in_any_order_with_overlaps_give_the_datagram() {
        let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let whole = udp4(&payload, 0x1234);
        let ip_payload_len = whole.len() - 14 - 20;
        let frags = [
            frag4(&whole, 1480, 2960, true),
            frag4(&whole, 0, 1480, true),
            frag4(&whole, 800, 1600, true), // overlaps both, same bytes
            frag4(&whole, 2960, ip_payload_len, false),
        ];
        let mut df = Defrag::default();
        let mut got = None;
        for (i, f) in frags.iter().enumerate() {
            let r = feed(&mut df, f, i as i64);
            assert_eq!(r.is_some(), i == 3, "complete only with the last one");
            got = got.or(r);
        }
        let (dgram, depth, hlen) = got.expect("reassembled");
        assert_eq!((depth, hlen), (0, 20));
        // The datagram is the original IP packet (no DF: the fragments had none; the header
        // checksum recomputed).
        let mut want = whole[14..].to_vec();
        want[6] = 0;
        want[10..12].copy_from_slice(&[0, 0]);
        let sum = checksum(&want[..20]);
        want[10..12].copy_from_slice(&sum.to_be_bytes());
        assert!(dgram == want, "reassembled datagram differs from the original");
        assert_eq!(checksum(&dgram[..20]), 0, "a valid header checksum sums to zero");
        let s = &df.stats;
        assert_eq!((s.fragments, s.datagrams, s.overlaps, s.conflicts, s.incomplete), (4, 1, 1, 0, 0));
        // Its dissection: the IP header seen, UDP and its payload new.
        let mut d = Dissection::default();
        dissect(linktype::RAW, &dgram, &mut d);
        mark_seen(&mut d, hlen, 0);
        let l: Vec<(u16, bool)> = d.layers().iter().map(|l| (l.id, l.seen())).collect();
        assert_eq!(l, vec![(layer::IPV4, true), (layer::UDP, false), (layer::PAYLOAD, false)]);
        assert_eq!(df.used, 0);
    }

    #[test]
    fn first_data_wins_and_conflicts_are_counted() {
        let payload = vec![0xaau8; 64];
        let whole = udp4(&payload, 7);
        let mut other = whole.clone();
        for b in &mut other[14 + 20 + 16..] {
            *b = 0xbb;
        }
        let mut df = Defrag::default();
        assert!(feed(&mut df, &frag4(&whole, 0, 32, true), 0).is_none());
        assert!(feed(&mut df, &frag4(&other, 16, 48, true), 1).is_none()); // 16..32 conflicts
        let (dgram, _, _) = feed(&mut df, &frag4(&whole, 48, 72, false), 2).expect("complete");
        assert_eq!(&dgram[20 + 8..20 + 24], &[0xaa; 16][..], "kept the first fragment's bytes");
        assert_eq!(&dgram[20 + 32..20 + 48], &[0xbb; 16][..], "the second filled the hole");
        assert_eq!((df.stats.overlaps, df.stats.conflicts), (1, 1));
    }

    #[test]
    fn incomplete_datagrams_expire_and_bad_fragments_are_counted() {
        let whole = udp4(&[1; 100], 9);
        let mut df = Defrag::default();
        assert!(feed(&mut df, &frag4(&whole, 0, 48, true), 0).is_none());
        // 31 s later (packet time) another datagram's fragment sweeps the old one away.
        let other = udp4(&[2; 100], 10);
        assert!(feed(&mut df, &frag4(&other, 0, 48, true), TIMEOUT_V4 + 1_000_000_000).is_none());
        assert_eq!(df.stats.incomplete, 1);
        // A fragment cut by the capture cannot be used; nor one past the datagram's end.
        let f = frag4(&other, 48, 108, false);
        assert!(feed(&mut df, &f[..f.len() - 5], TIMEOUT_V4 + 2).is_none());
        assert!(feed(&mut df, &frag4(&other, 48, 108, false), TIMEOUT_V4 + 3).is_some());
        df.finish();
        assert_eq!((df.stats.dropped, df.stats.incomplete, df.stats.datagrams), (1, 1, 1));
        // Garbage never panics.
        let mut d = Dissection { defrag: true, ..Dissection::default() };
        for cut in 14..whole.len() {
            let f = frag4(&whole, 8, 48, true);
            dissect(linktype::ETHERNET, &f[..cut.min(f.len())], &mut d);
            let _ = df.add(&f[..cut.min(f.len())], &d, 0, 0);
        }
    }

    /// Datagram `n` of a flood (24 bytes of IP payload): a distinct (source address,
    /// identification) per `n`.
    fn flood_datagram(n: u32) -> Vec<u8> {
        let mut v = udp4(&[0x55; 16], n as u16);
        v[14 + 12..14 + 16].copy_from_slice(&(0x0a00_0000 | n >> 16).to_be_bytes());
        v
    }

    #[test]
    fn a_fragment_flood_costs_linear_work() {
        // 150,000 first fragments 10 µs apart (1.5 s of packet time: nothing expires, so the
        // memory cap evicts the oldest ones), then 50,000 1 ms apart (50 s: the sweeps expire
        // them by time). None completes. The old table scanned every pending datagram to find
        // the oldest (each eviction) and on every sweep: billions of visits for this flood.
        const N: u32 = 200_000;
        let mut df = Defrag::default();
        let mut ts = 0i64;
        for n in 0..N {
            ts += if n < 150_000 { 10_000 } else { 1_000_000 };
            assert!(feed(&mut df, &frag4(&flood_datagram(n), 0, 8, true), ts).is_none());
            assert!(df.used <= MAX_MEMORY, "pending fragments stay within the memory cap");
        }
        let s = df.stats.clone();
        assert_eq!((s.fragments, s.datagrams, s.dropped, s.overlaps), (u64::from(N), 0, 0, 0));
        // Each datagram leaves the table once (evicted, expired, or at the end), each sweep
        // stops at the first young datagram of each IP version, each eviction looks at both
        // fronts: at most 3 visits per fragment.
        assert!(df.visited <= 3 * u64::from(N), "visited {} pending datagrams for {N} fragments", df.visited);
        // The latest 30 s of datagrams are still there; the memory cap evicted the oldest.
        let pending = df.pending.len() as u64;
        assert!(s.incomplete > 0 && pending > 0);
        assert_eq!(s.incomplete + pending, u64::from(N));
        // The newest pending datagram completes with its last fragment; the oldest was evicted,
        // so its last fragment cannot complete it.
        let last = |n: u32| frag4(&flood_datagram(n), 8, 24, false);
        assert!(feed(&mut df, &last(N - 1), ts).is_some(), "the newest datagram was kept");
        assert!(feed(&mut df, &last(0), ts).is_none(), "the oldest datagram was evicted");
        df.finish();
        assert_eq!(df.stats.incomplete + df.stats.datagrams, u64::from(N) + 1);
        assert_eq!(df.used, 0);
    }

    #[test]
    fn ipv4_and_ipv6_expire_after_their_own_timeouts() {
        let mut df = Defrag::default();
        let v6 = ipv6_fragment(0, true, &[7; 16], 1);
        assert!(feed(&mut df, &v6, 0).is_none());
        assert!(feed(&mut df, &frag4(&udp4(&[1; 100], 1), 0, 48, true), 1).is_none());
        // 31 s later the IPv4 datagram has expired, the IPv6 one (60 s) has not.
        assert!(feed(&mut df, &frag4(&udp4(&[1; 100], 2), 0, 48, true), TIMEOUT_V4 + 2).is_none());
        assert_eq!((df.stats.incomplete, df.pending.len()), (1, 2));
        // 60 s after it, exactly at the timeout, the IPv6 datagram is still pending; a second
        // later it is gone, and so is the second IPv4 one (30 s old and a little more).
        assert!(feed(&mut df, &frag4(&udp4(&[1; 100], 3), 8, 48, true), TIMEOUT_V6).is_none());
        assert_eq!((df.stats.incomplete, df.pending.len()), (1, 3));
        assert!(feed(&mut df, &frag4(&udp4(&[1; 100], 4), 8, 48, true), TIMEOUT_V6 + 1_000_000_000).is_none());
        assert_eq!((df.stats.incomplete, df.pending.len()), (3, 2));
        assert_eq!((df.by_age[0].len(), df.by_age[1].len()), (2, 0));
    }

    #[test]
    fn ipv6_fragments_drop_the_fragment_header() {
        // IPv6 + hop-by-hop + fragment header + UDP, built by hand: 2 fragments of a UDP datagram.
        let udp_payload = [0x42u8; 40];
        let mut udp = vec![0x14, 0xe9, 0x00, 0x35, 0, 48, 0, 0];
        udp.extend_from_slice(&udp_payload);
        let mk = |off: usize, more: bool, part: &[u8]| ipv6_fragment(off, more, part, 0xdead_beef);
        let mut df = Defrag::default();
        assert!(feed(&mut df, &mk(24, false, &udp[24..]), 0).is_none());
        let (dgram, _, hlen) = feed(&mut df, &mk(0, true, &udp[..24]), 1).expect("complete");
        assert_eq!(hlen, 48);
        assert_eq!(dgram[6], 0, "next header still hop-by-hop");
        assert_eq!(dgram[40], 17, "hop-by-hop now names UDP");
        assert_eq!(u16::from_be_bytes([dgram[4], dgram[5]]) as usize, 8 + udp.len());
        assert_eq!(&dgram[48..], &udp[..]);
        let mut d = Dissection::default();
        dissect(linktype::RAW, &dgram, &mut d);
        mark_seen(&mut d, hlen, 1);
        let l: Vec<(u16, bool, u32)> = d.layers().iter().map(|l| (l.id, l.seen(), l.depth())).collect();
        assert_eq!(
            l,
            vec![
                (layer::IPV6, true, 1),
                (layer::IPV6_HOP_BY_HOP, true, 1),
                (layer::UDP, false, 1),
                (layer::PAYLOAD, false, 1)
            ]
        );
    }
}
