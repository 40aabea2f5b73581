//! The stream stage of a worker: TCP reassembly feeding the stream decoders.
//!
//! For every TCP packet of a batch (in packet order) the stage finds the segment (the innermost
//! TCP layer and the IP header before it), hands it to its [`reassembly::Table`], and collects the
//! stream events. Then each stream decoder gets, in one call, the events of the streams it is fed:
//! those whose ports it asked for (`tcp:443`), or every stream (`tcp:*`), until it declines or is
//! done (stop entries in its output). Several decoders can be fed the same stream; each has its
//! own record types, so the order of the calls (load order) does not affect the output.
//!
//! A fault restarts the decoder (its per-stream state is gone, so it is fed only streams that
//! open afterwards) and disables it after [`MAX_FAULTS`](crate::worker::MAX_FAULTS), as for the
//! packet decoders.

use crate::dissect::layer_bit;
use crate::plugin::{Fault, FaultKind};
use crate::reassembly::{self, Events, Segment, Table};
use crate::stats::WorkerStats;
use crate::worker::{Batch, Phase, Slot, WorkResult};
use netcap_sdk::{Packet, layer};

/// Which stream decoders want a connection, by port.
#[derive(Debug, Default, Clone)]
pub struct Interests {
    /// (port, decoder bits), sorted by port.
    ports: Vec<(u16, u64)>,
    /// Decoders that want every stream (`tcp:*`).
    any: u64,
}

impl Interests {
    /// Adds decoder `bit`'s interests: `tcp:PORT` or `tcp:*`.
    pub fn add(&mut self, bit: u64, ports: &[u16], any: bool) {
        if any {
            self.any |= bit;
        }
        for &p in ports {
            match self.ports.binary_search_by_key(&p, |e| e.0) {
                Ok(i) => self.ports[i].1 |= bit,
                Err(i) => self.ports.insert(i, (p, bit)),
            }
        }
    }

    fn port(&self, p: u16) -> u64 {
        self.ports.binary_search_by_key(&p, |e| e.0).map_or(0, |i| self.ports[i].1)
    }

    /// The decoders that want a connection between these ports.
    pub fn of(&self, a: u16, b: u16) -> u64 {
        self.any | self.port(a) | self.port(b)
    }
}

/// The TCP segment of a packet: its innermost TCP layer and the IP header before it. `None` for
/// a fragment (the reassembled datagram comes separately) or a header cut short.
pub fn segment<'a>(p: &Packet<'a>, partition: u8) -> Option<Segment<'a>> {
    let t = (0..p.layer_count()).rev().find(|&i| p.layer(i).is_some_and(|l| l.id == layer::TCP))?;
    let tl = p.layer(t)?;
    let (mut ip, mut frag) = (None, None);
    for i in (0..t).rev() {
        let l = p.layer(i)?;
        match l.id {
            layer::IPV6_FRAGMENT => frag = Some(l),
            layer::IPV4 | layer::IPV6 => {
                ip = Some(l);
                break;
            }
            _ => {}
        }
    }
    let ipl = ip?;
    let d = p.data;
    let mut seg = Segment {
        seq: p.seq,
        ts: p.ts_nanos,
        partition,
        ip_version: 4,
        tunnel_depth: tl.depth() as u8,
        src: [0; 16],
        dst: [0; 16],
        sport: 0,
        dport: 0,
        tcp_seq: 0,
        ack: 0,
        flags: 0,
        payload: &[],
        missing: 0,
    };
    let ip_end = if ipl.id == layer::IPV4 {
        let h = d.get(ipl.offset..ipl.offset + 20)?;
        if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
            return None; // a fragment (more fragments, or an offset)
        }
        seg.src[..4].copy_from_slice(&h[12..16]);
        seg.dst[..4].copy_from_slice(&h[16..20]);
        match u16::from_be_bytes([h[2], h[3]]) {
            0 => usize::MAX, // segmentation offload: the length is not filled in
            n => ipl.offset + usize::from(n),
        }
    } else {
        let h = d.get(ipl.offset..ipl.offset + 40)?;
        if let Some(f) = frag {
            let fh = d.get(f.offset..f.offset + 4)?;
            if u16::from_be_bytes([fh[2], fh[3]]) & 0xfff9 != 0 {
                return None; // not an atomic fragment
            }
        }
        seg.ip_version = 6;
        seg.src.copy_from_slice(&h[8..24]);
        seg.dst.copy_from_slice(&h[24..40]);
        match u16::from_be_bytes([h[4], h[5]]) {
            0 => usize::MAX, // jumbogram or offload
            n => ipl.offset + 40 + usize::from(n),
        }
    };
    let h = d.get(tl.offset..tl.offset + 20)?;
    seg.sport = u16::from_be_bytes([h[0], h[1]]);
    seg.dport = u16::from_be_bytes([h[2], h[3]]);
    seg.tcp_seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    seg.ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    seg.flags = h[13];
    let header_len = usize::from(h[12] >> 4) * 4;
    let start = tl.offset + header_len;
    if header_len < 20 || start > ip_end {
        return None; // malformed (the TCP decoder reports it)
    }
    let cap_end = ip_end.min(d.len());
    seg.payload = d.get(start..cap_end).unwrap_or_default();
    // Bytes the IP header declares that the capture (snap length) cut off.
    if ip_end != usize::MAX && ip_end > d.len() && (p.orig_len as usize) > d.len() {
        seg.missing = u32::try_from(ip_end - d.len().max(start)).unwrap_or(u32::MAX);
    }
    Some(seg)
}

/// The reassembly table and the stream decoders of one worker.
pub struct StreamStage {
    table: Table,
    slots: Vec<Slot>,
    interests: Interests,
    events: Events,
    sub: Vec<u8>,
    stops: Vec<(u64, u8)>,
    max_output: usize,
    /// The packet of the first event of the current `decode` call (a fault is charged to it).
    first_event_seq: Option<u64>,
}

impl StreamStage {
    /// Streams held by the reassembly and the bytes they hold (for `--metrics`).
    pub fn gauges(&self) -> (usize, usize) {
        (self.table.streams(), self.table.memory())
    }

    /// A stage for `slots` (at most 64 stream decoders, in load order; decoder `i` is bit `i` of
    /// `interests`).
    pub fn new(cfg: reassembly::Config, slots: Vec<Slot>, interests: Interests, max_output: usize) -> Self {
        StreamStage {
            table: Table::new(cfg),
            slots,
            interests,
            events: Events::default(),
            sub: Vec::new(),
            stops: Vec::new(),
            max_output,
            first_event_seq: None,
        }
    }

    /// Reassembles the TCP packets `range` of a batch and feeds the stream decoders.
    pub fn decode(
        &mut self,
        batch: &Batch,
        range: std::ops::Range<usize>,
        res: &mut WorkResult,
        stats: &mut WorkerStats,
        error_seqs: Option<&mut Vec<u64>>,
    ) {
        if batch.any_mask & layer_bit(layer::TCP) == 0 || range.is_empty() {
            return;
        }
        for j in range {
            let m = batch.masks[j];
            if m & layer_bit(layer::TCP) == 0 {
                continue;
            }
            let start = batch.starts[j] as usize;
            let end = batch.starts.get(j + 1).map_or(batch.data.len(), |&e| e as usize);
            let Some(p) = netcap_sdk::packets(&batch.data[start..end]).next() else { continue };
            let partition = batch.flows.get(j).map_or(0, |f| (f & 0xff) as u8);
            if let Some(seg) = segment(&p, partition) {
                let interest = self.interests.of(seg.sport, seg.dport);
                self.table.segment(&seg, interest, &mut self.events);
            }
        }
        self.deliver(res, stats, error_seqs, Phase::Decode);
    }

    /// Packet time advanced to `now` (the time of packet `seq`, about to be decoded): closes idle
    /// streams and calls the decoders' `tick`. Records are sorted by bytes within `seq`.
    pub fn tick(&mut self, now: i64, seq: u64, res: &mut WorkResult, stats: &mut WorkerStats) {
        self.table.tick(now, seq, &mut self.events);
        self.deliver(res, stats, None, Phase::Tick(seq));
        for i in 0..self.slots.len() {
            self.chunked(i, res, stats, Phase::Tick(seq), |inst| inst.tick(now, seq));
        }
    }

    /// End of input: closes every stream, then calls the decoders' `finish`; adds the reassembly
    /// counters to `stats`.
    pub fn finish(&mut self, res: &mut WorkResult, stats: &mut WorkerStats) {
        self.table.finish(&mut self.events);
        self.deliver(res, stats, None, Phase::Finish);
        for i in 0..self.slots.len() {
            self.chunked(i, res, stats, Phase::Finish, |inst| inst.finish());
        }
        stats.reassembly.merge(&self.table.stats);
        self.table.stats = reassembly::Stats::default();
    }

    /// Hands the collected events to the decoders that want them.
    fn deliver(
        &mut self,
        res: &mut WorkResult,
        stats: &mut WorkerStats,
        mut error_seqs: Option<&mut Vec<u64>>,
        phase: Phase,
    ) {
        if self.events.is_empty() {
            return;
        }
        for i in 0..self.slots.len().min(64) {
            let bit = 1u64 << i;
            if !self.slots[i].active() || !self.events.index.iter().any(|e| e.1 & bit != 0) {
                continue;
            }
            let input: &[u8] = if self.events.index.iter().all(|e| e.1 & bit != 0) {
                &self.events.data
            } else {
                self.sub.clear();
                for (k, e) in self.events.index.iter().enumerate() {
                    if e.1 & bit != 0 {
                        self.sub.extend_from_slice(self.events.event(k));
                    }
                }
                &self.sub
            };
            // Event: stream u64 | seq u64 | ...
            self.first_event_seq = input.get(8..16).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
            let started = std::time::Instant::now();
            let out = self.slots[i].instance.decode(input);
            stats.add_decoder_time(&self.slots[i].id, started.elapsed());
            self.absorb(i, out, res, stats, error_seqs.as_deref_mut(), phase);
        }
        self.events.clear();
    }

    /// Runs `tick` or `finish` of stream decoder `i` until it stops saying "more".
    fn chunked(
        &mut self,
        i: usize,
        res: &mut WorkResult,
        stats: &mut WorkerStats,
        phase: Phase,
        mut call: impl FnMut(&mut dyn crate::plugin::DecoderInstance) -> Result<Vec<u8>, Fault>,
    ) {
        for _ in 0..crate::worker::MAX_CHUNKS {
            if !self.slots[i].active() {
                return;
            }
            let out = call(self.slots[i].instance.as_mut());
            if !self.absorb(i, out, res, stats, None, phase) {
                return;
            }
        }
        let fault = Fault { kind: FaultKind::BadOutput, message: "still more output after many calls".into() };
        self.fault(i, res, phase, fault);
    }

    /// Checks and splits a stream decoder's output; whether it said "more".
    fn absorb(
        &mut self,
        i: usize,
        out: Result<Vec<u8>, Fault>,
        res: &mut WorkResult,
        stats: &mut WorkerStats,
        error_seqs: Option<&mut Vec<u64>>,
        phase: Phase,
    ) -> bool {
        self.stops.clear();
        let slot = &self.slots[i];
        let checked = out.and_then(|o| crate::worker::check_output(&o, slot, self.max_output, true).map(|()| o));
        let o = match checked {
            Ok(o) => o,
            Err(f) => {
                self.fault(i, res, phase, f);
                return false;
            }
        };
        let more = crate::worker::split_output(&o, slot, res, stats, error_seqs, phase, Some(&mut self.stops));
        let bit = 1u64 << i;
        for &(stream, how) in &self.stops {
            self.table.stop(stream, bit);
            let what = if how == netcap_sdk::stream::STOP_DONE { "done" } else { "declined" };
            stats.stream_stops.add(&format!("{}: {what}", slot.id), 1);
        }
        more
    }

    /// A stream decoder faulted: its events of this call are lost, and the restarted instance
    /// has lost its streams, so it only gets new ones. Charged to the packet of the call's first
    /// event (the tick's packet, or the end of input).
    fn fault(&mut self, i: usize, res: &mut WorkResult, phase: Phase, f: Fault) {
        let seq = match phase {
            Phase::Decode => self.first_event_seq.unwrap_or(0),
            Phase::Tick(s) => s,
            Phase::Finish => u64::MAX,
        };
        self.table.stop_all(1u64 << i);
        crate::worker::fault_slot(&mut self.slots[i], res, seq, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{Dissection, dissect, linktype};
    use crate::plugin::native;
    use crate::reassembly::flags;
    use crate::worker::Run;
    use netcap_sdk::{
        Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, RecordType, StreamDecoder, StreamEvent, Verdict,
    };

    /// Writes what it sees as text records; `HTTP` wants port 80 and declines what is not a GET.
    struct Text<const HTTP: bool>;

    impl<const HTTP: bool> StreamDecoder for Text<HTTP> {
        fn describe() -> DecoderInfo {
            DecoderInfo {
                name: if HTTP { "http" } else { "all" }.into(),
                version: "0".into(),
                kind: Kind::Stream,
                layers: vec![if HTTP { "tcp:80" } else { "tcp:*" }.into()],
                record_types: vec![RecordType { name: "T".into(), message: "google.protobuf.StringValue".into() }],
                schema: Vec::new(),
                ..Default::default()
            }
        }
        fn init(_: &Config) -> Result<Self, String> {
            Ok(Text)
        }
        fn event(&mut self, m: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
            let text = match ev {
                StreamEvent::Open(i) => format!("{} open {}>{}", m.stream, i.client_port, i.server_port),
                StreamEvent::Data { dir, bytes } => {
                    if HTTP && *dir == Dir::ToServer && !bytes.starts_with(b"GET") {
                        return Verdict::Decline;
                    }
                    format!("{} {:?} {}", m.stream, dir, String::from_utf8_lossy(bytes))
                }
                StreamEvent::Gap { dir, len } => format!("{} gap {dir:?} {len}", m.stream),
                StreamEvent::Close { reason } => format!("{} close {}", m.stream, reason.as_str()),
            };
            out.record(0, &text);
            Verdict::Continue
        }
    }

    fn tcp(src: u16, dst: u16, seq: u32, ack: u32, fl: u8, payload: &[u8]) -> Vec<u8> {
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let (sa, da) = if src > dst { (a, b) } else { (b, a) };
        let mut t = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(sa, da, 64).tcp(src, dst, seq, 1000);
        if fl & flags::SYN != 0 {
            t = t.syn();
        }
        if fl & flags::ACK != 0 {
            t = t.ack(ack);
        }
        if fl & flags::FIN != 0 {
            t = t.fin();
        }
        let mut v = Vec::new();
        t.write(&mut v, payload).expect("build packet");
        v
    }

    fn batch(packets: &[Vec<u8>], first_seq: u64) -> Batch {
        let mut b = Batch::default();
        let mut d = Dissection::default();
        for (i, p) in packets.iter().enumerate() {
            dissect(linktype::ETHERNET, p, &mut d);
            b.starts.push(b.data.len() as u32);
            b.masks.push(d.mask);
            b.flows.push(d.hash);
            b.any_mask |= d.mask;
            let seq = first_seq + i as u64;
            netcap_sdk::push_packet(&mut b.data, seq, seq as i64 * 1000, 1, p.len() as u32, d.layers(), p);
        }
        b
    }

    fn texts(run: &Run) -> Vec<String> {
        let mut v = Vec::new();
        let mut start = 0;
        for &(_, end) in &run.index {
            let bytes = &run.data[start..end as usize];
            // framed: uvarint length, then a StringValue (field 1, length-delimited).
            let body = &bytes[1..];
            v.push(String::from_utf8_lossy(&body[2..]).into_owned());
            start = end as usize;
        }
        v
    }

    #[test]
    fn ports_content_and_declines_select_the_decoders() {
        let decs = [native::stream::<Text<true>>(), native::stream::<Text<false>>()];
        let mut interests = Interests::default();
        let mut slots = Vec::new();
        for (i, d) in decs.iter().enumerate() {
            let (ports, any) = crate::plugin::stream_interests(&d.spec.layers).expect("interests");
            interests.add(1 << i, &ports, any);
            slots.push(Slot {
                id: d.spec.id.clone(),
                kind: crate::plugin::DecoderKind::Stream,
                all: false,
                instance: d.factory.instantiate(&[]).expect("instance"),
                layer_mask: 0,
                type_map: vec![Some(i)],
                decoder: i as u16,
                gate: Default::default(),
                disabled: false,
            });
        }
        let mut stage = StreamStage::new(reassembly::Config::default(), slots, interests, 1 << 20);
        let (s, a) = (flags::SYN, flags::ACK);
        // Seq 0-2: a GET on port 80; 3-4: an SSH banner on port 22; 5-6: a POST on port 80.
        let first = [
            tcp(5000, 80, 99, 0, s, b""),
            tcp(5000, 80, 100, 1, a, b"GET / HTTP/1.1\r\n"),
            tcp(5001, 22, 7, 1, a, b"SSH-2.0-x\r\n"),
        ];
        let second = [
            tcp(80, 5000, 1, 116, a, b"HTTP/1.1 200 OK\r\n"),
            tcp(5001, 22, 18, 1, a, b"more"),
            tcp(5002, 80, 1, 1, a, b"POST / HTTP/1.1\r\n"),
            tcp(5002, 80, 18, 1, a, b"body"),
        ];
        let mut res = WorkResult { runs: vec![Run::default(), Run::default()], ..WorkResult::default() };
        let mut stats = WorkerStats::default();
        stage.decode(&batch(&first, 0), 0..first.len(), &mut res, &mut stats, None);
        stage.decode(&batch(&second, 3), 0..second.len(), &mut res, &mut stats, None);
        stage.finish(&mut res, &mut stats);
        assert_eq!(
            texts(&res.runs[0]),
            vec![
                "0 open 5000>80",
                "0 ToServer GET / HTTP/1.1\r\n",
                "0 ToClient HTTP/1.1 200 OK\r\n",
                "5 open 5002>80",
                "0 close end",
            ]
        );
        assert_eq!(
            texts(&res.runs[1]),
            vec![
                "0 open 5000>80",
                "0 ToServer GET / HTTP/1.1\r\n",
                "2 open 5001>22",
                "2 ToServer SSH-2.0-x\r\n",
                "0 ToClient HTTP/1.1 200 OK\r\n",
                "2 ToServer more",
                "5 open 5002>80",
                "5 ToServer POST / HTTP/1.1\r\n",
                "5 ToServer body",
                "0 close end",
                "2 close end",
                "5 close end",
            ]
        );
        assert_eq!(stats.stream_stops.sorted(), vec![("http: declined".to_string(), 1)]);
        assert_eq!((stats.reassembly.streams, stats.reassembly.bytes), (3, 16 + 17 + 11 + 4 + 17 + 4));
        // Records belong to the packet that caused them (order key 2 × seq + 1); the end of input
        // comes last.
        let seqs: Vec<u64> = res.runs[1].index.iter().map(|e| e.0).collect();
        let keys = |s: &[u64]| s.iter().map(|&q| 2 * q + 1).collect::<Vec<u64>>();
        assert_eq!(seqs, [keys(&[0, 1, 2, 2, 3, 4, 5, 5, 6]), vec![u64::MAX; 3]].concat());
    }
}
