//! A worker: owns one instance of every enabled decoder and the flows the dispatcher routes to
//! it; turns each input batch into per-record-type runs of framed records for the writer.
//!
//! A decoder is only called for a batch that has a layer it asked for; when only some packets
//! qualify, a sub-batch is copied into a reused buffer. Decoder output is validated as it is
//! split into runs: an unknown tag or a cut entry is a `bad output` fault. A fault restarts the
//! instance; after [`MAX_FAULTS`] the decoder is disabled for the rest of the run (counted,
//! shown in the summary, exit code 1), and the other decoders carry on.

use crate::plugin::{DecoderInstance, DecoderKind, Fault, FaultKind};
use crate::stats::WorkerStats;
use crossbeam_channel::{Receiver, Sender};
use netcap_sdk::TAG_ERROR;

/// Faults after which a decoder is disabled for the run.
pub const MAX_FAULTS: u32 = 3;

/// A batch of packets for one worker in the flat WIT format, with the start offset and layer bit
/// set of each packet (for sub-batching).
#[derive(Debug, Default)]
pub struct Batch {
    pub epoch: u64,
    pub data: Vec<u8>,
    pub starts: Vec<u32>,
    pub masks: Vec<u128>,
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
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub data: Vec<u8>,
    pub index: Vec<(u64, u32)>,
}

impl Run {
    pub fn clear(&mut self) {
        self.data.clear();
        self.index.clear();
    }
}

/// The output of one worker for one epoch.
#[derive(Debug, Default)]
pub struct WorkResult {
    pub epoch: u64,
    pub runs: Vec<Run>,
    /// With `--errors-pcap`: the packets with errors, as `link u16 | ts i64 | orig_len u32 |
    /// cap_len u32 | bytes` (little-endian), indexed by packet.
    pub error_packets: Run,
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
    pub faults: u32,
    pub disabled: bool,
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

    fn prepare(&self, res: &mut WorkResult) {
        res.runs.resize_with(self.type_count, Run::default);
        for r in &mut res.runs {
            r.clear();
        }
        res.error_packets.clear();
    }

    /// Decodes one batch with every interested decoder.
    pub fn decode(&mut self, batch: &Batch, res: &mut WorkResult) {
        if batch.is_empty() {
            return;
        }
        for i in 0..self.slots.len() {
            if self.slots[i].disabled {
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
            if self.slots[i].disabled {
                return;
            }
            let started = std::time::Instant::now();
            let out = self.slots[i].instance.tick(t.now, t.seq);
            self.stats.add_decoder_time(&self.slots[i].id, started.elapsed());
            self.absorb(i, out, res, Phase::Tick(t.seq));
        }
        self.decode_range(i, batch, from..batch.starts.len(), res);
    }

    /// Decodes the packets `range` of `batch` that slot `i` wants (none: no call).
    fn decode_range(&mut self, i: usize, batch: &Batch, range: std::ops::Range<usize>, res: &mut WorkResult) {
        let slot = &self.slots[i];
        if range.is_empty() || slot.disabled {
            return;
        }
        let (mask, all) = (slot.layer_mask, slot.all);
        let masks = &batch.masks[range.clone()];
        let input: &[u8] = if all || masks.iter().all(|m| m & mask != 0) {
            let (a, b) = (batch.packet_range(range.start).start, batch.packet_range(range.end - 1).end);
            &batch.data[a..b]
        } else {
            self.sub.clear();
            for (j, m) in masks.iter().enumerate() {
                if m & mask != 0 {
                    self.sub.extend_from_slice(&batch.data[batch.packet_range(range.start + j)]);
                }
            }
            if self.sub.is_empty() {
                return;
            }
            &self.sub
        };
        let started = std::time::Instant::now();
        let out = self.slots[i].instance.decode(input);
        self.stats.add_decoder_time(&self.slots[i].id, started.elapsed());
        self.absorb(i, out, res, Phase::Decode);
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
        for i in 0..self.slots.len() {
            if self.slots[i].disabled {
                continue;
            }
            let out = self.slots[i].instance.finish();
            self.absorb(i, out, res, Phase::Finish);
        }
    }

    /// Splits a decoder's output into runs, or handles its fault.
    fn absorb(&mut self, i: usize, out: Result<Vec<u8>, Fault>, res: &mut WorkResult, phase: Phase) {
        let result = out.and_then(|o| {
            if o.len() > self.max_output {
                return Err(Fault {
                    kind: FaultKind::OutputLimit,
                    message: format!("{} bytes of output from one call", o.len()),
                });
            }
            let seqs = if self.collect_errors { Some(&mut self.error_seqs) } else { None };
            split_output(&o, &self.slots[i], res, &mut self.stats, seqs, phase)
        });
        if let Err(f) = result {
            self.fault(i, f);
        }
    }

    fn fault(&mut self, i: usize, f: Fault) {
        let slot = &mut self.slots[i];
        slot.faults += 1;
        self.stats.faults.add(&format!("{}: {}", slot.id, f.kind.as_str()), 1);
        if slot.faults >= MAX_FAULTS || slot.instance.restart().is_err() {
            slot.disabled = true;
            if !self.stats.disabled.contains(&slot.id) {
                self.stats.disabled.push(slot.id.clone());
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

/// Parses an output batch (`tag u16 | seq u64 | uvarint len | bytes`) into the result's runs.
fn split_output(
    out: &[u8],
    slot: &Slot,
    res: &mut WorkResult,
    stats: &mut WorkerStats,
    mut error_seqs: Option<&mut Vec<u64>>,
    phase: Phase,
) -> Result<(), Fault> {
    let bad = |m: &str| Fault { kind: FaultKind::BadOutput, message: m.to_string() };
    let mut touched: u64 = 0;
    for entry in netcap_sdk::entries(out) {
        let netcap_sdk::Entry { tag, seq, bytes: body } = entry.map_err(|e| bad(e.0))?;
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
        let Some(global) = slot.type_map.get(usize::from(tag)) else {
            return Err(bad("unknown record type id"));
        };
        let Some(g) = *global else { continue };
        let run = &mut res.runs[g];
        let key = order_key(phase, seq);
        if run.index.last().is_some_and(|&(k, _)| k > key) {
            touched |= 1 << (g % 64);
        }
        netcap_proto::put_uvarint(&mut run.data, len as u64);
        run.data.extend_from_slice(body);
        run.index.push((key, run.data.len() as u32));
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
    Ok(())
}

/// Sorts a run by key (stable: a packet's records stay in emission order), and the records of a
/// tick or of `finish` by their bytes.
fn sort_run(run: &mut Run) {
    let mut entries: Vec<(u64, &[u8])> = Vec::with_capacity(run.index.len());
    let mut start = 0usize;
    for &(key, end) in &run.index {
        entries.push((key, &run.data[start..end as usize]));
        start = end as usize;
    }
    entries.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| if canonical_key(a.0) { a.1.cmp(b.1) } else { std::cmp::Ordering::Equal })
    });
    let mut data = Vec::with_capacity(run.data.len());
    let mut index = Vec::with_capacity(run.index.len());
    for (seq, bytes) in entries {
        data.extend_from_slice(bytes);
        index.push((seq, data.len() as u32));
    }
    run.data = data;
    run.index = index;
}
