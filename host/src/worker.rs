//! A worker: owns one instance of every enabled decoder and the flows the dispatcher routes to
//! it; turns each input batch into per-record-type runs of framed records for the writer.
//!
//! A decoder is only called for a batch that has a layer it asked for; when only some packets
//! qualify, a sub-batch is copied into a reused buffer. Decoder output is validated as it is
//! split into runs: an unknown tag or a cut entry is a `bad output` fault.
//!
//! A fault costs only the faulting packet's records: the instance is restarted and the packets
//! of the failed call are decoded again one at a time, so the packet that faults alone is found
//! (and faults again, and is skipped) while the others' records are kept. Which packet faults is
//! therefore a property of the packet, not of how packets were batched, and the output is the
//! same for any worker count. Faults are reported as [`FaultEvent`]s with the packet's sequence
//! number; the writer counts them per run, in packet order, and disables a decoder after
//! [`MAX_FAULTS`] (see [`FaultLedger`]).

use crate::plugin::{DecoderInstance, DecoderKind, Fault, FaultKind};
use crate::stats::WorkerStats;
use crossbeam_channel::{Receiver, Sender};
use netcap_sdk::{TAG_ERROR, TAG_MORE};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Faults after which a decoder is disabled for the run.
pub const MAX_FAULTS: u32 = 3;
/// Calls of `tick` or `finish` for one point in time: a decoder that keeps saying "more" after
/// this many chunks faults (`bad output`).
pub const MAX_CHUNKS: u32 = 1 << 16;

/// A batch of packets for one worker in the flat WIT format, with the start offset and layer bit
/// set of each packet (for sub-batching).
#[derive(Debug, Default)]
pub struct Batch {
    pub epoch: u64,
    pub data: Vec<u8>,
    pub starts: Vec<u32>,
    pub masks: Vec<u128>,
    /// The dispatcher's flow hash of each packet (`& 0xff` is its reassembly partition).
    pub flows: Vec<u64>,
    pub any_mask: u128,
    /// Tick points, in order: stateful decoders get `tick` before the packet at `index`.
    pub ticks: Vec<Tick>,
}

/// A point where packet time crossed a tick boundary (the same points go to every worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Number of this batch's packets before the tick.
    pub index: u32,
    /// Packet time: the time of packet `seq`.
    pub now: i64,
    /// The input packet about to be decoded.
    pub seq: u64,
}

impl Batch {
    pub fn clear(&mut self) {
        self.data.clear();
        self.starts.clear();
        self.masks.clear();
        self.flows.clear();
        self.any_mask = 0;
        self.ticks.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty() && self.ticks.is_empty()
    }

    /// Bytes of packet `i` in `data`.
    fn packet_range(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.starts[i] as usize;
        let end = self.starts.get(i + 1).map_or(self.data.len(), |&e| e as usize);
        start..end
    }
}

/// Work for a worker.
pub enum Job {
    Batch(Batch),
    /// End of input: run `finish` on every decoder, then exit.
    Finish {
        epoch: u64,
    },
}

/// Framed records of one type from one worker, in emission order, with the sort key of each:
/// `index[i] = (key, end offset in data)`. The key orders records across workers: `2 * seq + 1`
/// for records of packet `seq`, `2 * seq` for records of a tick before packet `seq`, and
/// `u64::MAX` for records of `finish` (see [`order_key`]).
/// `owners[i]` is the decoder (its index in load order) that emitted record `i`: two decoders can
/// share a record type, and a decoder disabled after repeated faults loses its later records only.
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub data: Vec<u8>,
    pub index: Vec<(u64, u32)>,
    pub owners: Vec<u16>,
}

impl Run {
    pub fn clear(&mut self) {
        self.data.clear();
        self.index.clear();
        self.owners.clear();
    }

    /// Drops the records of decoder `d` with an order key above `cutoff`.
    pub fn drop_after(&mut self, d: u16, cutoff: u64) {
        if !self.index.iter().zip(&self.owners).any(|(e, &o)| o == d && e.0 > cutoff) {
            return;
        }
        let (mut data, mut index, mut owners) = (Vec::new(), Vec::new(), Vec::new());
        let mut start = 0usize;
        for (&(key, end), &o) in self.index.iter().zip(&self.owners) {
            if !(o == d && key > cutoff) {
                data.extend_from_slice(&self.data[start..end as usize]);
                index.push((key, data.len() as u32));
                owners.push(o);
            }
            start = end as usize;
        }
        (self.data, self.index, self.owners) = (data, index, owners);
    }
}

/// A decoder fault, as the worker saw it.
#[derive(Debug, Clone)]
pub struct FaultEvent {
    /// The decoder's index in load order.
    pub decoder: u16,
    /// The packet that faulted (the tick's packet for `tick`, `u64::MAX` for `finish`).
    pub seq: u64,
    pub fault: Fault,
}

/// A file content entry of a decoder's output (WIT tags `0xfffb`, `0xfffa`), kept in output order
/// for the writer's extractor (`crate::extract`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// The next bytes of file `file` of decoder `decoder`'s instance in this worker.
    Data { decoder: u16, file: u64, bytes: Vec<u8> },
    /// File `file` ended; `key` is the order key of the entry (which decides caps).
    End { key: u64, decoder: u16, file: u64, complete: bool, sha256: [u8; 32] },
}

/// The output of one worker for one epoch.
#[derive(Debug, Default)]
pub struct WorkResult {
    pub epoch: u64,
    /// The worker index (`u16::MAX` for the writer's record stage): file ids are per instance.
    pub worker: u16,
    /// File content entries, in output order (only decoders told `extract-files` send them).
    pub files: Vec<FileEvent>,
    pub runs: Vec<Run>,
    /// With `--errors-pcap`: the packets with errors, as `link u16 | ts i64 | orig_len u32 |
    /// cap_len u32 | bytes` (little-endian), indexed by packet.
    pub error_packets: Run,
    /// Decoder faults of this epoch.
    pub faults: Vec<FaultEvent>,
}

/// One decoder instance inside a worker.
pub struct Slot {
    pub id: String,
    pub kind: DecoderKind,
    /// Gets every packet (a stateful decoder that named no layers).
    pub all: bool,
    pub instance: Box<dyn DecoderInstance>,
    pub layer_mask: u128,
    /// Local type id -> global record type index (None: disabled by the user).
    pub type_map: Vec<Option<usize>>,
    /// The decoder's index in load order (owner of its records, see [`Run::owners`]).
    pub decoder: u16,
    /// Set by the writer once the decoder is disabled for the run (shared by its instances).
    pub gate: Arc<AtomicBool>,
    /// The instance could not be restarted: no more calls in this worker.
    pub disabled: bool,
}

impl Slot {
    /// Whether the decoder is still called.
    pub fn active(&self) -> bool {
        !self.disabled && !self.gate.load(Ordering::Relaxed)
    }
}

/// The worker loop.
pub struct Worker {
    pub slots: Vec<Slot>,
    pub type_count: usize,
    pub stats: WorkerStats,
    sub: Vec<u8>,
    /// Collect the packets with errors (`--errors-pcap`).
    collect_errors: bool,
    /// Sequence numbers of the packets a decoder reported an error for, in this batch.
    error_seqs: Vec<u64>,
    /// Largest output accepted from one decoder call (`--decoder-output`).
    max_output: usize,
    /// TCP reassembly and the stream decoders, when any is loaded.
    pub streams: Option<crate::streams::StreamStage>,
    /// This worker's index (stamped on its results).
    pub index: u16,
    /// `--metrics`: where this worker publishes its errors and reassembly gauges per batch.
    pub live: Option<Arc<crate::metrics::Metrics>>,
}

impl Worker {
    pub fn new(slots: Vec<Slot>, type_count: usize, collect_errors: bool, max_output: usize) -> Self {
        Worker {
            max_output,
            slots,
            type_count,
            stats: WorkerStats::default(),
            sub: Vec::new(),
            collect_errors,
            error_seqs: Vec::new(),
            streams: None,
            index: 0,
            live: None,
        }
    }

    /// Runs until the job channel closes or `Finish` arrives.
    pub fn run(
        mut self,
        jobs: Receiver<Job>,
        results: Sender<WorkResult>,
        batch_pool: Sender<Batch>,
        result_pool: Receiver<WorkResult>,
    ) -> WorkerStats {
        for job in jobs {
            match job {
                Job::Batch(mut batch) => {
                    let mut res = result_pool.try_recv().unwrap_or_default();
                    res.epoch = batch.epoch;
                    self.prepare(&mut res);
                    self.decode(&batch, &mut res);
                    batch.clear();
                    let _ = batch_pool.try_send(batch);
                    self.publish();
                    if results.send(res).is_err() {
                        break;
                    }
                }
                Job::Finish { epoch } => {
                    let mut res = WorkResult { epoch, ..WorkResult::default() };
                    self.prepare(&mut res);
                    self.finish(&mut res);
                    let _ = results.send(res);
                    break;
                }
            }
        }
        self.stats
    }

    /// `--metrics`: this worker's decoder errors and reassembly gauges so far (once per batch).
    fn publish(&self) {
        let Some(m) = &self.live else { return };
        m.publish_worker(usize::from(self.index), |g| {
            g.errors = self.stats.errors.sorted();
            if let Some((streams, bytes)) = self.streams.as_ref().map(crate::streams::StreamStage::gauges) {
                (g.streams, g.stream_bytes) = (streams as u64, bytes as u64);
            }
        });
    }

    fn prepare(&self, res: &mut WorkResult) {
        res.runs.resize_with(self.type_count, Run::default);
        for r in &mut res.runs {
            r.clear();
        }
        res.error_packets.clear();
        res.faults.clear();
        res.files.clear();
        res.worker = self.index;
    }

    /// Decodes one batch with every interested decoder.
    pub fn decode(&mut self, batch: &Batch, res: &mut WorkResult) {
        if batch.is_empty() {
            return;
        }
        for i in 0..self.slots.len() {
            if !self.slots[i].active() {
                continue;
            }
            if self.slots[i].kind.stateful() {
                self.decode_stateful(i, batch, res);
                continue;
            }
            let mask = self.slots[i].layer_mask;
            if batch.any_mask & mask == 0 {
                continue;
            }
            self.decode_range(i, batch, 0..batch.starts.len(), res);
        }
        if let Some(st) = self.streams.as_mut() {
            // Reassembly and stream decoders, with the tick points in their places.
            let mut from = 0usize;
            for t in &batch.ticks {
                let to = (t.index as usize).min(batch.starts.len());
                let seqs = if self.collect_errors { Some(&mut self.error_seqs) } else { None };
                st.decode(batch, from..to, res, &mut self.stats, seqs);
                st.tick(t.now, t.seq, res, &mut self.stats);
                from = to;
            }
            let seqs = if self.collect_errors { Some(&mut self.error_seqs) } else { None };
            st.decode(batch, from..batch.starts.len(), res, &mut self.stats, seqs);
        }
        if self.collect_errors {
            self.collect_error_packets(batch, res);
        }
    }

    /// A stateful decoder: the packets between tick points, each tick in its place.
    fn decode_stateful(&mut self, i: usize, batch: &Batch, res: &mut WorkResult) {
        let mut from = 0usize;
        for t in &batch.ticks {
            let to = (t.index as usize).min(batch.starts.len());
            self.decode_range(i, batch, from..to, res);
            from = to;
            if !self.slots[i].active() {
                return;
            }
            let started = std::time::Instant::now();
            self.chunked(i, res, Phase::Tick(t.seq), |inst| inst.tick(t.now, t.seq));
            self.stats.add_decoder_time(&self.slots[i].id, started.elapsed());
        }
        self.decode_range(i, batch, from..batch.starts.len(), res);
    }

    /// Decodes the packets `range` of `batch` that slot `i` wants (none: no call).
    fn decode_range(&mut self, i: usize, batch: &Batch, range: std::ops::Range<usize>, res: &mut WorkResult) {
        let slot = &self.slots[i];
        if range.is_empty() || !slot.active() {
            return;
        }
        let (mask, all) = (slot.layer_mask, slot.all);
        let masks = &batch.masks[range.clone()];
        let mut sub = std::mem::take(&mut self.sub);
        let input: &[u8] = if all || masks.iter().all(|m| m & mask != 0) {
            let (a, b) = (batch.packet_range(range.start).start, batch.packet_range(range.end - 1).end);
            &batch.data[a..b]
        } else {
            sub.clear();
            for (j, m) in masks.iter().enumerate() {
                if m & mask != 0 {
                    sub.extend_from_slice(&batch.data[batch.packet_range(range.start + j)]);
                }
            }
            &sub
        };
        if !input.is_empty() {
            let started = std::time::Instant::now();
            let out = self.slots[i].instance.decode(input);
            if let Err(f) = self.absorb(i, out, res, Phase::Decode) {
                self.isolate(i, input, f, res);
            }
            self.stats.add_decoder_time(&self.slots[i].id, started.elapsed());
        }
        self.sub = sub;
    }

    /// After a call on `input` faulted: restarts the instance and decodes the packets again one
    /// at a time, so that only the packets that fault on their own lose their records.
    fn isolate(&mut self, i: usize, input: &[u8], first: Fault, res: &mut WorkResult) {
        let first_seq = netcap_sdk::packets(input).next().map_or(0, |p| p.seq);
        if !restart(&mut self.slots[i], res, first_seq) {
            return;
        }
        let mut reproduced = false;
        for (seq, bytes) in netcap_sdk::packet_spans(input) {
            let out = self.slots[i].instance.decode(bytes);
            if let Err(f) = self.absorb(i, out, res, Phase::Decode) {
                reproduced = true;
                fault_slot(&mut self.slots[i], res, seq, f);
                if self.slots[i].disabled {
                    return;
                }
            }
        }
        if !reproduced {
            // Only the whole call faulted (state built up over its packets): charged to its
            // first packet.
            let fault =
                Fault { kind: first.kind, message: format!("{} (no single packet faults alone)", first.message) };
            res.faults.push(FaultEvent { decoder: self.slots[i].decoder, seq: first_seq, fault });
        }
    }

    /// Runs `tick` or `finish` until the decoder stops saying "more" (see [`TAG_MORE`]).
    fn chunked(
        &mut self,
        i: usize,
        res: &mut WorkResult,
        phase: Phase,
        mut call: impl FnMut(&mut dyn DecoderInstance) -> Result<Vec<u8>, Fault>,
    ) {
        let seq = match phase {
            Phase::Tick(s) => s,
            _ => u64::MAX,
        };
        for _ in 0..MAX_CHUNKS {
            let out = call(self.slots[i].instance.as_mut());
            match self.absorb(i, out, res, phase) {
                Ok(true) => continue,
                Ok(false) => return,
                Err(f) => {
                    fault_slot(&mut self.slots[i], res, seq, f);
                    return;
                }
            }
        }
        let fault =
            Fault { kind: FaultKind::BadOutput, message: format!("still more output after {MAX_CHUNKS} calls") };
        fault_slot(&mut self.slots[i], res, seq, fault);
    }

    /// Copies the packets with a dissection or decoder error into `res.error_packets`.
    fn collect_error_packets(&mut self, batch: &Batch, res: &mut WorkResult) {
        self.error_seqs.sort_unstable();
        self.error_seqs.dedup();
        let out = &mut res.error_packets;
        for p in netcap_sdk::packets(&batch.data) {
            let flagged = p.flags & netcap_sdk::PACKET_FLAG_DISSECT_ERROR != 0;
            if flagged || self.error_seqs.binary_search(&p.seq).is_ok() {
                out.data.extend_from_slice(&p.link_type.to_le_bytes());
                out.data.extend_from_slice(&p.ts_nanos.to_le_bytes());
                out.data.extend_from_slice(&p.orig_len.to_le_bytes());
                out.data.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
                out.data.extend_from_slice(p.data);
                out.index.push((p.seq, out.data.len() as u32));
            }
        }
        self.error_seqs.clear();
    }

    fn finish(&mut self, res: &mut WorkResult) {
        if let Some(st) = self.streams.as_mut() {
            st.finish(res, &mut self.stats);
        }
        for i in 0..self.slots.len() {
            if self.slots[i].active() {
                self.chunked(i, res, Phase::Finish, |inst| inst.finish());
            }
        }
    }

    /// Checks a decoder's output and splits it into runs; whether it said "more". On a fault
    /// nothing of the output is kept.
    fn absorb(
        &mut self,
        i: usize,
        out: Result<Vec<u8>, Fault>,
        res: &mut WorkResult,
        phase: Phase,
    ) -> Result<bool, Fault> {
        let o = out?;
        check_output(&o, &self.slots[i], self.max_output, false)?;
        let seqs = if self.collect_errors { Some(&mut self.error_seqs) } else { None };
        Ok(split_output(&o, &self.slots[i], res, &mut self.stats, seqs, phase, None))
    }
}

/// Restarts a faulted instance; when that fails too, the slot is disabled in this worker and the
/// failure reported. Whether the slot can still be called.
fn restart(slot: &mut Slot, res: &mut WorkResult, seq: u64) -> bool {
    if let Err(f) = slot.instance.restart() {
        slot.disabled = true;
        res.faults.push(FaultEvent { decoder: slot.decoder, seq, fault: f });
        return false;
    }
    true
}

/// Reports a decoder's fault at packet `seq` and restarts the instance.
pub(crate) fn fault_slot(slot: &mut Slot, res: &mut WorkResult, seq: u64, f: Fault) {
    res.faults.push(FaultEvent { decoder: slot.decoder, seq, fault: f });
    restart(slot, res, seq);
}

/// Checks an output batch before any of it is used: size, framing, and that every tag is a
/// declared record type, an error, "more" or (stream decoders) a stop entry.
pub(crate) fn check_output(out: &[u8], slot: &Slot, max_output: usize, stops: bool) -> Result<(), Fault> {
    if out.len() > max_output {
        return Err(Fault {
            kind: FaultKind::OutputLimit,
            message: format!("{} bytes of output from one call", out.len()),
        });
    }
    let bad = |m: &str| Fault { kind: FaultKind::BadOutput, message: m.to_string() };
    for entry in netcap_sdk::entries(out) {
        let entry = entry.map_err(|e| bad(e.0))?;
        let tag = entry.tag;
        let known = tag == TAG_ERROR
            || tag == TAG_MORE
            || tag == netcap_sdk::TAG_FILE_DATA
            || tag == netcap_sdk::TAG_FILE_END
            || (stops && tag == netcap_sdk::stream::TAG_STOP)
            || usize::from(tag) < slot.type_map.len();
        if !known {
            return Err(bad("unknown record type id"));
        }
        let short = match tag {
            netcap_sdk::TAG_FILE_DATA => entry.bytes.len() < 8,
            netcap_sdk::TAG_FILE_END => entry.bytes.len() != 41,
            _ => false,
        };
        if short {
            return Err(bad("malformed file entry"));
        }
    }
    Ok(())
}

/// Counts faults per run in packet order and decides when a decoder is disabled: after its
/// [`MAX_FAULTS`]th fault (at packet `S`), the decoder's records after `S` are dropped and its
/// instances are no longer called. The writer feeds it each epoch's results in epoch order, so
/// the decision is the same for any number of workers (faults after `S` are not counted: a
/// worker may or may not have reached them before it heard of the decision).
#[derive(Debug)]
pub struct FaultLedger {
    names: Vec<String>,
    gates: Vec<Arc<AtomicBool>>,
    counts: Vec<u32>,
    /// Per decoder: the order key after which its records are dropped.
    cutoff: Vec<Option<u64>>,
    /// Faults as "decoder: kind".
    pub faults: crate::stats::Counts,
    /// The first fault of each "decoder: kind": "packet N: message".
    pub first: Vec<(String, String)>,
    /// Decoders disabled for the run, in the order it happened.
    pub disabled: Vec<String>,
}

impl FaultLedger {
    /// A ledger for decoders `names` (load order) and their gates.
    pub fn new(names: Vec<String>, gates: Vec<Arc<AtomicBool>>) -> Self {
        let n = names.len();
        FaultLedger {
            names,
            gates,
            counts: vec![0; n],
            cutoff: vec![None; n],
            faults: Default::default(),
            first: Vec::new(),
            disabled: Vec::new(),
        }
    }

    /// Counts an epoch's faults (every thread's) and drops the records of disabled decoders.
    pub fn apply(&mut self, group: &mut [WorkResult]) {
        let mut events: Vec<&FaultEvent> = group.iter().flat_map(|r| &r.faults).collect();
        events.sort_by(|a, b| {
            (a.seq, a.decoder, a.fault.kind, &a.fault.message).cmp(&(b.seq, b.decoder, b.fault.kind, &b.fault.message))
        });
        for e in events {
            let d = usize::from(e.decoder);
            if d >= self.names.len() || self.cutoff[d].is_some() {
                continue;
            }
            let key = format!("{}: {}", self.names[d], e.fault.kind.as_str());
            self.faults.add(&key, 1);
            if !self.first.iter().any(|(k, _)| *k == key) {
                let at =
                    if e.seq == u64::MAX { "at the end of input".to_string() } else { format!("packet {}", e.seq) };
                let msg: String = e.fault.message.split_whitespace().collect::<Vec<_>>().join(" ");
                let msg: String = msg.chars().take(300).collect();
                self.first.push((key, format!("{at}: {msg}")));
            }
            self.counts[d] += 1;
            if self.counts[d] >= MAX_FAULTS {
                self.cutoff[d] = Some(order_key(Phase::Decode, e.seq));
                self.gates[d].store(true, Ordering::Relaxed);
                self.disabled.push(self.names[d].clone());
            }
        }
        for (d, cut) in self.cutoff.iter().enumerate() {
            if let Some(cut) = *cut {
                for r in group.iter_mut() {
                    for run in &mut r.runs {
                        run.drop_after(d as u16, cut);
                    }
                }
            }
        }
    }
}

/// Which call an output batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Decode,
    /// A tick before packet `seq`.
    Tick(u64),
    Finish,
}

/// The sort key of a record (see [`Run`]). Tick and finish records take their key from the call,
/// whatever `seq` the decoder gave them.
pub fn order_key(phase: Phase, seq: u64) -> u64 {
    match phase {
        Phase::Decode => seq.saturating_mul(2).saturating_add(1).min(u64::MAX - 1),
        Phase::Tick(s) => s.saturating_mul(2).min(u64::MAX - 1),
        Phase::Finish => u64::MAX,
    }
}

/// Whether records with this key are ordered by their bytes: tick and finish records, whose
/// order across workers must not depend on which worker held which flow.
pub fn canonical_key(key: u64) -> bool {
    key.is_multiple_of(2) || key == u64::MAX
}

/// Splits an output batch (`tag u16 | seq u64 | uvarint len | bytes`) that [`check_output`]
/// accepted into the result's runs; whether it holds a "more" entry. Stop entries (stream
/// decoders only: `stops` is `Some`) are collected as (stream id, body byte).
pub(crate) fn split_output(
    out: &[u8],
    slot: &Slot,
    res: &mut WorkResult,
    stats: &mut WorkerStats,
    mut error_seqs: Option<&mut Vec<u64>>,
    phase: Phase,
    mut stops: Option<&mut Vec<(u64, u8)>>,
) -> bool {
    let mut touched: u64 = 0;
    let mut more = false;
    for entry in netcap_sdk::entries(out) {
        let Ok(netcap_sdk::Entry { tag, seq, bytes: body }) = entry else { break };
        let len = body.len();
        if tag == TAG_ERROR {
            let kind = std::str::from_utf8(body).unwrap_or("invalid error kind");
            let kind: String = kind.chars().take(80).collect();
            // Counted as `decoder: kind`, unless the kind already starts with the decoder id.
            if kind.strip_prefix(slot.id.as_str()).is_some_and(|r| r.starts_with(": ")) {
                stats.errors.add(&kind, 1);
            } else {
                stats.errors.add(&format!("{}: {kind}", slot.id), 1);
            }
            if let Some(v) = error_seqs.as_deref_mut() {
                v.push(seq);
            }
            continue;
        }
        if tag == TAG_MORE {
            more = true;
            continue;
        }
        if tag == netcap_sdk::stream::TAG_STOP
            && let Some(v) = stops.as_deref_mut()
        {
            v.push((seq, body.first().copied().unwrap_or(0)));
            continue;
        }
        if tag == netcap_sdk::TAG_FILE_DATA || tag == netcap_sdk::TAG_FILE_END {
            if let Some(ev) = file_event(tag, body, slot.decoder, order_key(phase, seq)) {
                res.files.push(ev);
            }
            continue;
        }
        let Some(&Some(g)) = slot.type_map.get(usize::from(tag)) else { continue };
        let run = &mut res.runs[g];
        let key = order_key(phase, seq);
        if run.index.last().is_some_and(|&(k, _)| k > key) {
            touched |= 1 << (g % 64);
        }
        netcap_proto::put_uvarint(&mut run.data, len as u64);
        run.data.extend_from_slice(body);
        run.index.push((key, run.data.len() as u32));
        run.owners.push(slot.decoder);
        if phase != Phase::Decode {
            touched |= 1 << (g % 64);
        }
    }
    if touched != 0 {
        for (g, run) in res.runs.iter_mut().enumerate() {
            if touched & (1 << (g % 64)) != 0 {
                sort_run(run);
            }
        }
    }
    more
}

/// A file content entry's event; `None` when its body is too short (checked by `check_output`).
fn file_event(tag: u16, body: &[u8], decoder: u16, key: u64) -> Option<FileEvent> {
    let file = u64::from_le_bytes(body.get(..8)?.try_into().ok()?);
    if tag == netcap_sdk::TAG_FILE_DATA {
        return Some(FileEvent::Data { decoder, file, bytes: body[8..].to_vec() });
    }
    let complete = *body.get(8)? == 1;
    let sha256: [u8; 32] = body.get(9..41)?.try_into().ok()?;
    Some(FileEvent::End { key, decoder, file, complete, sha256 })
}

/// Sorts a run by key (stable: a packet's records stay in emission order), and the records of a
/// tick or of `finish` by their bytes.
fn sort_run(run: &mut Run) {
    let mut entries: Vec<(u64, &[u8], u16)> = Vec::with_capacity(run.index.len());
    let mut start = 0usize;
    for (&(key, end), &owner) in run.index.iter().zip(&run.owners) {
        entries.push((key, &run.data[start..end as usize], owner));
        start = end as usize;
    }
    entries.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| if canonical_key(a.0) { a.1.cmp(b.1) } else { std::cmp::Ordering::Equal })
    });
    let mut data = Vec::with_capacity(run.data.len());
    let mut index = Vec::with_capacity(run.index.len());
    let mut owners = Vec::with_capacity(run.owners.len());
    for (seq, bytes, owner) in entries {
        data.extend_from_slice(bytes);
        index.push((seq, data.len() as u32));
        owners.push(owner);
    }
    run.data = data;
    run.index = index;
    run.owners = owners;
}
