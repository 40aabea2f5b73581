//! Reassembly tests: hand-made cases for each rule, and seeded property tests that cut known
//! streams into random segments, reorder, duplicate and overlap them, and check that the events
//! reproduce the streams exactly (or, with losses and limits, that every delivered byte is the
//! original byte at its offset and gaps cover exactly the rest).
#![allow(clippy::needless_range_loop, reason = "directions index several parallel arrays")]

use super::*;
use netcap_sdk::stream::{StreamEvent, visit_stream_batch};

const C: [u8; 16] = [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const S: [u8; 16] = [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const CP: u16 = 40000;
const SP: u16 = 443;

/// A small deterministic generator (xorshift64*), so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A packet to feed: direction (0 client->server), flags, sequence and ack numbers, payload.
#[derive(Debug, Clone)]
struct Pkt {
    dir: usize,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: Vec<u8>,
    missing: u32,
}

/// What the events said, per stream.
#[derive(Debug, Default, Clone, PartialEq)]
struct Seen {
    info: Option<StreamInfo>,
    /// Per direction: chunks, `Ok(bytes)` for data and `Err(len)` for gaps.
    chunks: [Vec<Result<Vec<u8>, u32>>; 2],
    close: Option<CloseReason>,
    after_close: usize,
}

impl Seen {
    fn data(&self, d: usize) -> Vec<u8> {
        self.chunks[d].iter().filter_map(|c| c.as_ref().ok()).flatten().copied().collect()
    }

    fn gaps(&self, d: usize) -> Vec<u32> {
        self.chunks[d].iter().filter_map(|c| c.as_ref().err()).copied().collect()
    }
}

fn parse(ev: &Events, into: &mut BTreeMap<u64, Seen>) {
    visit_stream_batch(&ev.data, |m, e| {
        let s = into.entry(m.stream).or_default();
        if s.close.is_some() {
            s.after_close += 1;
        }
        match e {
            StreamEvent::Open(i) => s.info = Some(**i),
            StreamEvent::Data { dir, bytes } => s.chunks[dir.index()].push(Ok(bytes.to_vec())),
            StreamEvent::Gap { dir, len } => s.chunks[dir.index()].push(Err(*len)),
            StreamEvent::Close { reason } => s.close = Some(*reason),
        }
    })
    .expect("well-formed events");
}

fn seg(i: u64, p: &Pkt) -> Segment<'_> {
    let (src, sport, dst, dport) = if p.dir == 0 { (C, CP, S, SP) } else { (S, SP, C, CP) };
    Segment {
        seq: i,
        ts: 1_000_000_000 + i as i64 * 1000,
        partition: 7,
        ip_version: 4,
        tunnel_depth: 0,
        src,
        dst,
        sport,
        dport,
        tcp_seq: p.seq,
        ack: p.ack,
        flags: p.flags,
        payload: &p.payload,
        missing: p.missing,
    }
}

/// Feeds packets to a fresh table (then `finish` when `end`), returns the streams seen.
fn run(cfg: Config, pkts: &[Pkt], end: bool) -> (BTreeMap<u64, Seen>, Stats) {
    let mut t = Table::new(cfg);
    let mut ev = Events::default();
    let mut seen = BTreeMap::new();
    for (i, p) in pkts.iter().enumerate() {
        t.segment(&seg(i as u64, p), 1, &mut ev);
        parse(&ev, &mut seen);
        ev.clear();
    }
    if end {
        t.finish(&mut ev);
        parse(&ev, &mut seen);
        assert_eq!(t.streams(), 0);
        assert_eq!(t.memory(), 0, "every byte accounted is released");
    }
    (seen, t.stats.clone())
}

fn only(seen: &BTreeMap<u64, Seen>) -> &Seen {
    assert_eq!(seen.len(), 1, "{seen:#?}");
    seen.values().next().expect("one stream")
}

const A: u8 = flags::ACK;
const PA: u8 = flags::ACK | 0x08;

fn p(dir: usize, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Pkt {
    Pkt { dir, flags, seq, ack, payload: payload.to_vec(), missing: 0 }
}

/// Handshake with the given initial sequence numbers.
fn hs(ci: u32, si: u32) -> Vec<Pkt> {
    vec![
        p(0, flags::SYN, ci, 0, b""),
        p(1, flags::SYN | A, si, ci.wrapping_add(1), b""),
        p(0, A, ci.wrapping_add(1), si.wrapping_add(1), b""),
    ]
}

#[test]
fn in_order_connection_with_fin() {
    let (ci, si) = (1000, 5000);
    let mut v = hs(ci, si);
    v.push(p(0, PA, ci + 1, si + 1, b"GET / HTTP/1.0\r\n\r\n"));
    v.push(p(1, PA, si + 1, ci + 19, b"HTTP/1.0 200 OK\r\n\r\nhi"));
    v.push(p(1, flags::FIN | A, si + 22, ci + 19, b""));
    v.push(p(0, flags::FIN | A, ci + 19, si + 23, b""));
    v.push(p(1, A, si + 23, ci + 20, b""));
    let (seen, st) = run(Config::default(), &v, false);
    let s = only(&seen);
    let info = s.info.expect("open");
    assert_eq!((info.id, info.client_ip, info.client_port, info.server_port), (0, C, CP, SP));
    assert_eq!(s.data(0), b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(s.data(1), b"HTTP/1.0 200 OK\r\n\r\nhi");
    assert_eq!(s.close, Some(CloseReason::Fin));
    assert_eq!(s.after_close, 0, "the last ACK lingers silently");
    assert_eq!((st.streams, st.gaps, st.overlaps, st.out_of_order), (1, 0, 0, 0));
    assert_eq!(st.bytes, 18 + 21);
}

#[test]
fn syn_ack_first_makes_its_receiver_the_client() {
    let v = vec![p(1, flags::SYN | A, 77, 11, b""), p(0, PA, 11, 78, b"x")];
    let (seen, _) = run(Config::default(), &v, true);
    let s = only(&seen);
    let info = s.info.expect("open");
    assert_eq!((info.client_ip, info.client_port, info.server_port), (C, CP, SP));
    assert_eq!(s.data(0), b"x");
    assert_eq!(s.close, Some(CloseReason::End));
}

#[test]
fn mid_stream_pickup_starts_at_the_first_packet() {
    // No SYN: the first packet's sender is the client, each direction starts where first seen.
    let v = vec![p(1, PA, 900, 50, b"late "), p(1, PA, 905, 50, b"reply"), p(0, PA, 50, 910, b"req")];
    let (seen, st) = run(Config::default(), &v, true);
    let s = only(&seen);
    assert_eq!(s.info.expect("open").client_port, SP, "the first packet's sender");
    assert_eq!(s.data(0), b"late reply");
    assert_eq!(s.data(1), b"req");
    assert_eq!(st.gaps, 0);
}

#[test]
fn wrapping_sequence_numbers() {
    let ci = u32::MAX - 3;
    let mut v = hs(ci, 10);
    // The data crosses 2^32 between segments and inside one; the second arrives first.
    let d1 = ci.wrapping_add(1);
    let d2 = d1.wrapping_add(2);
    v.push(p(0, PA, d2, 11, b"CDEFGH"));
    v.push(p(0, PA, d1, 11, b"AB"));
    v.push(p(0, PA, d1, 11, b"AB")); // retransmission
    let (seen, st) = run(Config::default(), &v, true);
    assert_eq!(only(&seen).data(0), b"ABCDEFGH");
    assert_eq!((st.out_of_order, st.overlaps, st.gaps), (1, 1, 0));
}

#[test]
fn first_data_wins_and_conflicts_are_counted() {
    let mut v = hs(0, 0);
    v.push(p(0, PA, 5, 1, b"56789")); // buffered (hole 1..5)
    v.push(p(0, PA, 3, 1, b"xxXXX")); // fills 3..5, its 5..8 conflicts with the buffer
    v.push(p(0, PA, 1, 1, b"1234")); // fills 1..3; its 3..5 were there first
    let (seen, st) = run(Config::default(), &v, true);
    assert_eq!(only(&seen).data(0), b"12xx56789");
    assert_eq!(st.conflicts, 2, "XXX against 567, then 34 against xx");
    assert_eq!(st.overlaps, 2);
    assert_eq!(st.overlap_bytes, 3 + 2);
}

#[test]
fn acknowledged_missing_data_becomes_a_gap_at_once() {
    let mut v = hs(0, 0);
    v.push(p(0, PA, 1, 1, b"aaaa"));
    v.push(p(0, PA, 9, 1, b"cccc")); // 5..9 never captured
    v.push(p(1, A, 1, 13, b"")); // ... but the server got it
    let (seen, st) = run(Config::default(), &v, false);
    let s = only(&seen);
    assert_eq!(s.chunks[0], vec![Ok(b"aaaa".to_vec()), Err(4), Ok(b"cccc".to_vec())]);
    assert_eq!((st.gaps, st.gap_bytes), (1, 4));
}

#[test]
fn holes_are_gapped_at_close() {
    let mut v = hs(0, 0);
    v.push(p(0, PA, 1, 1, b"aa"));
    v.push(p(0, PA, 6, 1, b"bb"));
    v.push(p(0, flags::RST, 8, 0, b""));
    let (seen, _) = run(Config::default(), &v, false);
    let s = only(&seen);
    assert_eq!(s.chunks[0], vec![Ok(b"aa".to_vec()), Err(3), Ok(b"bb".to_vec())], "at the RST");
    assert_eq!(s.close, None, "the server may still have data in flight");
    let (seen, _) = run(Config::default(), &v, true);
    assert_eq!(only(&seen).close, Some(CloseReason::Rst), "a reset stream closes as such");
    // The same at the end of the input.
    let (seen, _) = run(Config::default(), &v[..5], true);
    assert_eq!(only(&seen).chunks[0], vec![Ok(b"aa".to_vec()), Err(3), Ok(b"bb".to_vec())]);
    assert_eq!(only(&seen).close, Some(CloseReason::End));
}

#[test]
fn uncaptured_tail_of_an_in_order_segment_is_a_gap() {
    let mut v = hs(0, 0);
    let mut cut = p(0, PA, 1, 1, b"abc");
    cut.missing = 100;
    v.push(cut);
    v.push(p(0, PA, 104, 1, b"next"));
    let (seen, _) = run(Config::default(), &v, false);
    assert_eq!(only(&seen).chunks[0], vec![Ok(b"abc".to_vec()), Err(100), Ok(b"next".to_vec())]);
}

#[test]
fn limits_skip_ahead_with_gaps() {
    let cfg = Config { max_stream_bytes: 8, ..Config::default() };
    let mut v = hs(0, 0);
    v.push(p(0, PA, 11, 1, b"0123456789")); // 10 bytes behind a 10-byte hole: over the limit
    v.push(p(0, PA, 1, 1, b"late data!")); // arrives after the skip: old
    let (seen, st) = run(cfg, &v, true);
    assert_eq!(only(&seen).chunks[0], vec![Err(10), Ok(b"0123456789".to_vec())]);
    assert_eq!((st.limit_skips, st.overlaps), (1, 1));
}

#[test]
fn idle_streams_time_out_and_syn_reuse_starts_a_new_stream() {
    let mut v = hs(100, 200);
    v.push(p(0, PA, 101, 201, b"one"));
    // A new SYN with another ISN on the same pair: the old stream closes as reused.
    v.extend(hs(9000, 9500));
    v.push(p(0, PA, 9001, 9501, b"two"));
    let (seen, _) = run(Config::default(), &v, true);
    let s: Vec<&Seen> = seen.values().collect();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].data(0), s[0].close), (b"one".to_vec(), Some(CloseReason::Reused)));
    assert_eq!((s[1].data(0), s[1].close), (b"two".to_vec(), Some(CloseReason::End)));
    // Time: a packet after the idle timeout closes the old stream first and picks up a new one.
    let mut t = Table::new(Config { idle_nanos: 1_000_000_000, ..Config::default() });
    let mut ev = Events::default();
    let a = p(0, PA, 1, 1, b"a");
    let b = p(0, PA, 2, 1, b"b");
    t.segment(&seg(0, &a), 1, &mut ev);
    let mut late = seg(1, &b);
    late.ts += 5_000_000_000;
    t.segment(&late, 1, &mut ev);
    let mut seen = BTreeMap::new();
    parse(&ev, &mut seen);
    assert_eq!(seen[&0].close, Some(CloseReason::Timeout));
    assert!(seen[&1].close.is_none() && seen[&1].data(0) == b"b");
    // The tick closes it as well.
    ev.clear();
    t.tick(late.ts + 2_000_000_000, 9, &mut ev);
    let mut seen = BTreeMap::new();
    parse(&ev, &mut seen);
    assert_eq!(seen[&1].close, Some(CloseReason::Timeout));
    assert_eq!(t.streams(), 0);
}

#[test]
fn nobody_interested_keeps_no_state_and_declines_stop_delivery() {
    let mut t = Table::new(Config::default());
    let mut ev = Events::default();
    let v = hs(0, 0);
    t.segment(&seg(0, &v[0]), 0, &mut ev);
    assert_eq!((t.streams(), ev.is_empty()), (0, true));
    t.segment(&seg(1, &v[0]), 0b11, &mut ev);
    let d = p(0, PA, 1, 1, b"abc");
    t.segment(&seg(2, &d), 0b11, &mut ev);
    assert_eq!(ev.index.iter().map(|e| e.1).collect::<Vec<_>>(), vec![0b11, 0b11]);
    t.stop(1, 0b01);
    let d = p(0, PA, 4, 1, b"def");
    t.segment(&seg(3, &d), 0b11, &mut ev);
    assert_eq!(ev.index.last().map(|e| e.1), Some(0b10));
    t.stop_all(0b10);
    let before = ev.index.len();
    let d = p(0, PA, 7, 1, b"ghi");
    t.segment(&seg(4, &d), 0b11, &mut ev);
    assert_eq!(ev.index.len(), before, "no listener, no event");
    assert_eq!(t.stats.bytes, 9, "reassembly goes on");
}

#[test]
fn memory_budget_evicts_the_least_recently_active() {
    // Room for 4 streams per partition: the fifth evicts the oldest eighth (one).
    let cfg = Config { max_memory: 4 * STREAM_COST * PARTITIONS, ..Config::default() };
    let mut t = Table::new(cfg);
    let mut ev = Events::default();
    for i in 0..5u16 {
        let pk = p(0, PA, 1, 1, b"x");
        let mut s = seg(u64::from(i), &pk);
        s.sport = 1000 + i;
        t.segment(&s, 1, &mut ev);
    }
    let mut seen = BTreeMap::new();
    parse(&ev, &mut seen);
    assert_eq!(seen[&0].close, Some(CloseReason::Evicted));
    assert!(seen.values().skip(1).all(|s| s.close.is_none()));
    assert_eq!(t.streams(), 4);
}

/// Cuts `data` (stream offset 0 = sequence `isn + 1`) into segments of 1..=max bytes.
fn cut(rng: &mut Rng, data: &[u8], max: u64) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = (1 + rng.below(max) as usize).min(data.len() - at);
        v.push((at, at + n));
        at += n;
    }
    v
}

/// A random two-way connection: handshake, both streams cut into segments that are reordered
/// locally, duplicated and overlapped (with `conflicting` overlaps carrying other bytes), both
/// FINs; ACKs only ever acknowledge bytes already in the capture. Returns the packets and, per
/// direction, the bytes a first-wins receiver keeps.
fn scenario(rng: &mut Rng, conflicting: bool, drop: bool) -> (Vec<Pkt>, [Vec<u8>; 2], [Vec<bool>; 2]) {
    // Near the wrap half of the time.
    let isn = |rng: &mut Rng| if rng.below(2) == 0 { u32::MAX - rng.below(5000) as u32 } else { rng.next() as u32 };
    let isns = [isn(rng), isn(rng)];
    let lens = [rng.below(20_000) as usize, rng.below(20_000) as usize];
    let streams = [rng.bytes(lens[0]), rng.bytes(lens[1])];
    // Each direction's pieces: (start, bytes) in the order they are sent.
    let mut sends: [Vec<(usize, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
    for d in 0..2 {
        let mut segs: Vec<(usize, Vec<u8>)> =
            cut(rng, &streams[d], 1500).into_iter().map(|(a, b)| (a, streams[d][a..b].to_vec())).collect();
        // Local reordering: swap neighbours within a window of 8.
        for i in 0..segs.len() {
            let j = (i + rng.below(8) as usize).min(segs.len() - 1);
            if rng.below(3) == 0 {
                segs.swap(i, j);
            }
        }
        let mut out = Vec::new();
        for s in segs {
            if rng.below(10) == 0 {
                out.push(s.clone()); // duplicate
            }
            if rng.below(8) == 0 && !s.1.is_empty() {
                // An overlapping segment around this one.
                let a = s.0.saturating_sub(rng.below(300) as usize);
                let b = (s.0 + s.1.len() + rng.below(300) as usize).min(streams[d].len());
                let mut bytes = streams[d][a..b].to_vec();
                if conflicting {
                    for x in bytes.iter_mut() {
                        if rng.below(4) == 0 {
                            *x ^= 0x5a;
                        }
                    }
                }
                out.push((a, bytes));
            }
            out.push(s);
        }
        sends[d] = out;
    }
    // What a first-wins receiver keeps, and which bytes were never sent (dropped segments).
    let mut kept: [Vec<Option<u8>>; 2] = [vec![None; lens[0]], vec![None; lens[1]]];
    let mut pkts = vec![p(0, flags::SYN, isns[0], 0, b""), p(1, flags::SYN | A, isns[1], isns[0].wrapping_add(1), b"")];
    // Interleave the directions; each packet acknowledges the other side's contiguous prefix.
    let mut idx = [0usize, 0usize];
    let prefix = |k: &Vec<Option<u8>>| k.iter().position(Option::is_none).unwrap_or(k.len());
    while idx[0] < sends[0].len() || idx[1] < sends[1].len() {
        let d = if idx[0] == sends[0].len() {
            1
        } else if idx[1] == sends[1].len() {
            0
        } else {
            rng.below(2) as usize
        };
        let (start, bytes) = sends[d][idx[d]].clone();
        idx[d] += 1;
        if drop && rng.below(40) == 0 {
            continue; // lost before the capture point, never retransmitted
        }
        for (i, b) in bytes.iter().enumerate() {
            kept[d][start + i].get_or_insert(*b);
        }
        let ack = isns[1 - d].wrapping_add(1).wrapping_add(prefix(&kept[1 - d]) as u32);
        pkts.push(p(d, PA, isns[d].wrapping_add(1).wrapping_add(start as u32), ack, &bytes));
    }
    for d in 0..2 {
        let ack = isns[1 - d].wrapping_add(1).wrapping_add(prefix(&kept[1 - d]) as u32);
        pkts.push(p(d, flags::FIN | A, isns[d].wrapping_add(1).wrapping_add(lens[d] as u32), ack, b""));
    }
    let have = [kept[0].iter().map(Option::is_some).collect(), kept[1].iter().map(Option::is_some).collect()];
    let want = [kept[0].iter().map(|b| b.unwrap_or(0)).collect(), kept[1].iter().map(|b| b.unwrap_or(0)).collect()];
    (pkts, want, have)
}

/// Every delivered byte is the expected byte at its offset; gaps cover exactly the bytes that
/// are missing (`allow_skips`: or that a limit skipped); data + gaps = the whole stream.
fn check_faithful(chunks: &[Result<Vec<u8>, u32>], want: &[u8], have: &[bool], allow_skips: bool) {
    let mut at = 0usize;
    for c in chunks {
        match c {
            Ok(bytes) => {
                assert!(!bytes.is_empty());
                assert_eq!(&want[at..at + bytes.len()], &bytes[..], "data at offset {at}");
                assert!(have[at..at + bytes.len()].iter().all(|h| *h), "invented bytes at {at}");
                at += bytes.len();
            }
            Err(n) => {
                let n = *n as usize;
                assert!(n > 0);
                if !allow_skips {
                    assert!(have[at..at + n].iter().all(|h| !h), "gap over captured bytes at {at}");
                }
                at += n;
            }
        }
    }
    assert_eq!(at, want.len(), "data and gaps add up to the stream");
}

#[test]
fn random_segmentation_reordering_duplication_and_overlap_reproduce_the_streams() {
    let mut total = Stats::default();
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let conflicting = seed % 3 == 0;
        let (pkts, want, _) = scenario(&mut rng, conflicting, false);
        let (seen, st) = run(Config::default(), &pkts, true);
        let s = only(&seen);
        for d in 0..2 {
            assert_eq!(s.data(d), want[d], "seed {seed} dir {d}");
            assert!(s.gaps(d).is_empty(), "seed {seed} dir {d}: {:?}", s.gaps(d));
        }
        assert_eq!(s.close, Some(CloseReason::Fin), "seed {seed}");
        assert_eq!(st.bytes, (want[0].len() + want[1].len()) as u64);
        if !conflicting {
            assert_eq!(st.conflicts, 0, "seed {seed}");
        }
        total.merge(&st);
    }
    // The cases really happened.
    assert!(total.out_of_order > 1000 && total.overlaps > 1000 && total.conflicts > 100, "{total:?}");
    assert!(total.bytes > 1_000_000);
}

#[test]
fn random_losses_and_limits_never_invent_bytes() {
    let mut total = Stats::default();
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1);
        let (pkts, want, have) = scenario(&mut rng, seed % 2 == 0, true);
        let limited = seed % 4 == 1;
        let cfg = if limited {
            Config { max_stream_bytes: 1 + rng.below(6000) as usize, ..Config::default() }
        } else {
            Config::default()
        };
        let (seen, st) = run(cfg, &pkts, true);
        let s = only(&seen);
        for d in 0..2 {
            check_faithful(&s.chunks[d], &want[d], &have[d], limited);
        }
        assert!(s.close.is_some() && s.after_close == 0, "seed {seed}");
        total.merge(&st);
    }
    assert!(total.gaps > 100 && total.limit_skips > 100, "{total:?}");
}

#[test]
fn malformed_input_never_panics() {
    // Random flags, sequence numbers and payloads against one table: no panic, memory stays
    // accounted, and the end closes everything.
    let mut rng = Rng(42);
    let mut t = Table::new(Config { max_stream_bytes: 4096, max_memory: 1 << 20, idle_nanos: 50_000 });
    let mut ev = Events::default();
    for i in 0..20_000u64 {
        let n = rng.below(64) as usize;
        let pk = Pkt {
            dir: rng.below(2) as usize,
            flags: rng.next() as u8,
            seq: if rng.below(2) == 0 { rng.next() as u32 } else { rng.below(4096) as u32 },
            ack: rng.next() as u32,
            payload: rng.bytes(n),
            missing: if rng.below(20) == 0 { rng.below(1 << 20) as u32 } else { 0 },
        };
        let mut s = seg(i, &pk);
        s.sport = 1 + rng.below(4) as u16;
        s.partition = rng.below(3) as u8;
        t.segment(&s, 1, &mut ev);
        visit_stream_batch(&ev.data, |_, _| {}).expect("well-formed");
        ev.clear();
    }
    t.finish(&mut ev);
    assert_eq!((t.streams(), t.memory()), (0, 0));
}

#[test]
fn rst_must_be_in_window_or_acknowledge_the_syn() {
    // A RST answering the SYN without acknowledging it (an injection) is ignored; so is one far
    // from the next expected byte; an in-window one closes the stream after its data.
    let v = vec![
        p(0, flags::SYN, 1000, 0, b""),
        p(1, flags::RST | A, 0, 1000, b""),
        p(1, flags::SYN | A, 5000, 1001, b""),
        p(0, PA, 1001, 5001, b"hello"),
        p(1, flags::RST | A, 5001 + (2 << 20), 1006, b""),
        p(0, PA, 1006, 5001, b" world"),
        p(1, flags::RST | A, 5001, 1012, b"bye"),
        p(0, PA, 1012, 5001, b"after"),
    ];
    let (seen, st) = run(Config::default(), &v, true);
    let s = only(&seen);
    assert_eq!(s.data(0), b"hello worldafter", "the other side's data in flight is taken");
    assert_eq!(s.data(1), b"bye", "a RST's data is delivered");
    assert_eq!(s.close, Some(CloseReason::Rst));
    assert_eq!((st.rst_ignored, st.dropped), (2, 0));
    // After a second of packet time the reset stream closes; later packets are absorbed.
    let mut t = Table::new(Config::default());
    let mut ev = Events::default();
    for (i, pk) in v[..7].iter().enumerate() {
        t.segment(&seg(i as u64, pk), 1, &mut ev);
    }
    let mut late = seg(7, &v[7]);
    late.ts += 2_000_000_000;
    t.segment(&late, 1, &mut ev);
    let mut seen = BTreeMap::new();
    parse(&ev, &mut seen);
    assert_eq!((only(&seen).data(0), only(&seen).close), (b"hello world".to_vec(), Some(CloseReason::Rst)));
    assert_eq!((t.stats.dropped, t.streams()), (1, 1), "absorbed by the lingering state");
    // A lone RST opens nothing; one with data opens a stream and closes it.
    let (seen, _) = run(Config::default(), &[p(1, flags::RST | A, 9, 9, b"")], true);
    assert!(seen.is_empty());
    let (seen, _) = run(Config::default(), &[p(1, flags::RST | A, 9, 9, b"diagnostic")], true);
    assert_eq!((only(&seen).data(0), only(&seen).close), (b"diagnostic".to_vec(), Some(CloseReason::Rst)));
}

#[test]
fn an_ack_ahead_of_its_data_is_no_gap_until_later_data_is_buffered() {
    // Capture reordering: the server's ACK is captured before the data it acknowledges.
    let mut v = hs(0, 0);
    v.push(p(1, A, 1, 6, b""));
    v.push(p(0, PA, 1, 1, b"hello"));
    let (seen, st) = run(Config::default(), &v, true);
    assert_eq!((only(&seen).data(0), st.gaps), (b"hello".to_vec(), 0));
    // The hole is gapped only as far as it is acknowledged; the rest waits for its data.
    let mut v = hs(0, 0);
    v.push(p(0, PA, 11, 1, b"late")); // hole 1..11
    v.push(p(1, A, 1, 5, b"")); // acknowledges 1..5
    v.push(p(0, PA, 5, 1, b"567890")); // the rest of the hole arrives
    let (seen, st) = run(Config::default(), &v, true);
    assert_eq!(only(&seen).chunks[0], vec![Err(4), Ok(b"567890".to_vec()), Ok(b"late".to_vec())]);
    assert_eq!(st.gaps, 1);
}

/// Issue 13: the client's SYN; a bare ACK from the server in another sequence space (a
/// challenge ACK from stale state); the client's RST with that ACK's number; the SYN again with
/// the same initial sequence number; the real SYN-ACK and data. The SYN-ACK re-initialises the
/// server's sequence space, which had delivered nothing: every server byte is delivered.
#[test]
fn a_syn_ack_resynchronises_a_direction_that_delivered_nothing() {
    let (ci, si, stale_seq, stale_ack) = (1000u32, 5000u32, 0x3000_0000u32, 0x7777_0000u32);
    let mut v = vec![
        p(0, flags::SYN, ci, 0, b""),
        p(1, A, stale_seq, stale_ack, b""),
        p(0, flags::RST, stale_ack, 0, b""),
        p(0, flags::SYN, ci, 0, b""),
    ];
    v.extend(hs(ci, si).into_iter().skip(1));
    v.push(p(0, PA, ci + 1, si + 1, b"GET / HTTP/1.1\r\n\r\n"));
    v.push(p(1, PA, si + 1, ci + 19, b"HTTP/1.1 200 OK\r\n\r\n"));
    v.push(p(0, A, ci + 19, si + 20, b""));
    let (seen, st) = run(Config::default(), &v, true);
    let s = only(&seen);
    assert_eq!(s.chunks[0], vec![Ok(b"GET / HTTP/1.1\r\n\r\n".to_vec())]);
    assert_eq!(s.chunks[1], vec![Ok(b"HTTP/1.1 200 OK\r\n\r\n".to_vec())]);
    assert_eq!((st.gaps, st.rst_ignored), (0, 1), "the RST is in the stale space, not the connection's");
    // The same with the stale ACK's sequence number just behind the real one's, and ahead.
    for stale in [si - 100, si + 100_000, si.wrapping_add(0x8000_0000)] {
        let mut w = v.clone();
        w[1].seq = stale;
        let (seen, st) = run(Config::default(), &w, true);
        assert_eq!(only(&seen).chunks[1], vec![Ok(b"HTTP/1.1 200 OK\r\n\r\n".to_vec())], "stale seq {stale}");
        assert_eq!(st.gaps, 0);
    }
}

/// A gap is at most what the capture's packets could have carried: a segment (or an
/// acknowledgment) further ahead than the direction's payload plus a window is another sequence
/// space, counted as dropped, never a gap of hundreds of megabytes.
#[test]
fn an_absurd_gap_is_never_reported() {
    let mut v = hs(0, 0);
    v.push(p(0, PA, 1, 1, b"abc"));
    v.push(p(0, PA, 1 + 500_000_000, 1, b"stale")); // 500 MB ahead: not this stream
    v.push(p(1, A, 1, 1 + 600_000_000, b"")); // an acknowledgment as far ahead
    v.push(p(0, PA, 4, 1, b"def"));
    v.push(p(0, PA, 7 + 3_000_000, 1, b"ghi")); // 3 MB lost: a plausible gap
    let (seen, st) = run(Config::default(), &v, true);
    assert_eq!(
        only(&seen).chunks[0],
        vec![Ok(b"abc".to_vec()), Ok(b"def".to_vec()), Err(3_000_000), Ok(b"ghi".to_vec())]
    );
    assert_eq!((st.dropped, st.gap_bytes), (1, 3_000_000));
    // Without a SYN, a direction whose first packet was out of its space starts at its data.
    let v = vec![p(0, PA, 50, 900, b"req"), p(1, A, 123_456_789, 53, b""), p(1, PA, 900, 53, b"reply")];
    let (seen, st) = run(Config::default(), &v, true);
    assert_eq!(only(&seen).chunks[1], vec![Ok(b"reply".to_vec())]);
    assert_eq!(st.gaps, 0);
}

/// Data held out of order carries the time of the packet that carried it, not of the packet
/// that filled the hole; a close carries the stream's last packet's time.
#[test]
fn buffered_data_keeps_its_packet_time() {
    let mut v = hs(0, 0);
    v.push(p(0, PA, 6, 1, b"world")); // packet 3: buffered
    v.push(p(0, PA, 1, 1, b"hello")); // packet 4: fills the hole
    let mut t = Table::new(Config::default());
    let mut ev = Events::default();
    for (i, pk) in v.iter().enumerate() {
        t.segment(&seg(i as u64, pk), 1, &mut ev);
    }
    // Much later, a tick closes the idle stream.
    t.tick(1_000_000_000 + 1_000_000_000_000, 99, &mut ev);
    let mut got = Vec::new();
    visit_stream_batch(&ev.data, |m, e| match e {
        StreamEvent::Data { bytes, .. } => got.push((String::from_utf8_lossy(bytes).into_owned(), m.seq, m.ts_nanos)),
        StreamEvent::Close { .. } => got.push(("close".into(), m.seq, m.ts_nanos)),
        _ => {}
    })
    .expect("well-formed");
    let ts = |i: i64| 1_000_000_000 + i * 1000;
    assert_eq!(got, [("hello".into(), 4, ts(4)), ("world".into(), 4, ts(3)), ("close".into(), 99, ts(4))]);
}
