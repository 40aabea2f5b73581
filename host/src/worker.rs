//! A worker: owns one instance of every enabled decoder and the flows the dispatcher routes to
//! it; turns each input batch into per-record-type runs of framed records for the writer.
//!
//! A decoder is only called for a batch that has a layer it asked for; when only some packets
//! qualify, a sub-batch is copied into a reused buffer. Decoder output is validated as it is
//! split into runs: an unknown tag or a cut entry is a `bad output` fault. A fault restarts the
//! instance; after [`MAX_FAULTS`] the decoder is disabled for the rest of the run (counted,
//! shown in the summary, exit code 1), and the other decoders carry on.

use crate::plugin::{DecoderInstance, Fault, FaultKind};
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
    /// The dispatcher's flow hash of each packet (`& 0xff` is its reassembly partition).
    pub flows: Vec<u64>,
    pub any_mask: u128,
}

impl Batch {
    pub fn clear(&mut self) {
        self.data.clear();
        self.starts.clear();
        self.masks.clear();
        self.flows.clear();
        self.any_mask = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
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

/// Framed records of one type from one worker, in emission order, with the packet each belongs
/// to: `index[i] = (seq, end offset in data)`.
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
    /// TCP reassembly and the stream decoders, when any is loaded.
    pub streams: Option<crate::streams::StreamStage>,
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
            let slot = &self.slots[i];
            if slot.disabled || batch.any_mask & slot.layer_mask == 0 {
                continue;
            }
            let mask = slot.layer_mask;
            let input: &[u8] = if batch.masks.iter().all(|m| m & mask != 0) {
                &batch.data
            } else {
                self.sub.clear();
                for (j, m) in batch.masks.iter().enumerate() {
                    if m & mask != 0 {
                        let start = batch.starts[j] as usize;
                        let end = batch.starts.get(j + 1).map_or(batch.data.len(), |&e| e as usize);
                        self.sub.extend_from_slice(&batch.data[start..end]);
                    }
                }
                &self.sub
            };
            let started = std::time::Instant::now();
            let out = self.slots[i].instance.decode(input);
            self.stats.add_decoder_time(&self.slots[i].id, started.elapsed());
            self.absorb(i, out, res, false);
        }
        if let Some(st) = self.streams.as_mut() {
            let seqs = if self.collect_errors { Some(&mut self.error_seqs) } else { None };
            st.decode(batch, res, &mut self.stats, seqs);
        }
        if self.collect_errors {
            self.collect_error_packets(batch, res);
        }
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
            if self.slots[i].disabled {
                continue;
            }
            let out = self.slots[i].instance.finish();
            self.absorb(i, out, res, true);
        }
    }

    /// Splits a decoder's output into runs, or handles its fault.
    fn absorb(&mut self, i: usize, out: Result<Vec<u8>, Fault>, res: &mut WorkResult, canonical: bool) {
        let result = out.and_then(|o| {
            if o.len() > self.max_output {
                return Err(Fault {
                    kind: FaultKind::OutputLimit,
                    message: format!("{} bytes of output from one call", o.len()),
                });
            }
            let seqs = if self.collect_errors { Some(&mut self.error_seqs) } else { None };
            split_output(&o, &self.slots[i], res, &mut self.stats, seqs, canonical, None)
        });
        if let Err(f) = result {
            self.fault(i, f);
        }
    }

    fn fault(&mut self, i: usize, f: Fault) {
        fault_slot(&mut self.slots[i], &mut self.stats, f);
    }
}

/// Counts a decoder's fault; restarts the instance, or disables it after [`MAX_FAULTS`].
pub(crate) fn fault_slot(slot: &mut Slot, stats: &mut WorkerStats, f: Fault) {
    slot.faults += 1;
    stats.faults.add(&format!("{}: {}", slot.id, f.kind.as_str()), 1);
    if slot.faults >= MAX_FAULTS || slot.instance.restart().is_err() {
        slot.disabled = true;
        if !stats.disabled.contains(&slot.id) {
            stats.disabled.push(slot.id.clone());
        }
    }
}

/// Parses an output batch (`tag u16 | seq u64 | uvarint len | bytes`) into the result's runs.
/// With `canonical`, entries of one packet are sorted by their bytes (for `tick`/`finish` output,
/// whose order across workers must not depend on which worker held which flow). Stop entries
/// (stream decoders only: `stops` is `Some`) are collected as (stream id, body byte).
pub(crate) fn split_output(
    out: &[u8],
    slot: &Slot,
    res: &mut WorkResult,
    stats: &mut WorkerStats,
    mut error_seqs: Option<&mut Vec<u64>>,
    canonical: bool,
    mut stops: Option<&mut Vec<(u64, u8)>>,
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
        if tag == netcap_sdk::stream::TAG_STOP
            && let Some(v) = stops.as_deref_mut()
        {
            v.push((seq, body.first().copied().unwrap_or(0)));
            continue;
        }
        let Some(global) = slot.type_map.get(usize::from(tag)) else {
            return Err(bad("unknown record type id"));
        };
        let Some(g) = *global else { continue };
        let run = &mut res.runs[g];
        if run.index.last().is_some_and(|&(s, _)| s > seq) {
            touched |= 1 << (g % 64);
        }
        netcap_proto::put_uvarint(&mut run.data, len as u64);
        run.data.extend_from_slice(body);
        run.index.push((seq, run.data.len() as u32));
        if canonical {
            touched |= 1 << (g % 64);
        }
    }
    if touched != 0 {
        for (g, run) in res.runs.iter_mut().enumerate() {
            if touched & (1 << (g % 64)) != 0 {
                sort_run(run, canonical);
            }
        }
    }
    Ok(())
}

/// Sorts a run by packet (stable), and with `canonical` also by record bytes within a packet.
fn sort_run(run: &mut Run, canonical: bool) {
    let mut entries: Vec<(u64, &[u8])> = Vec::with_capacity(run.index.len());
    let mut start = 0usize;
    for &(seq, end) in &run.index {
        entries.push((seq, &run.data[start..end as usize]));
        start = end as usize;
    }
    if canonical {
        entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    } else {
        entries.sort_by_key(|e| e.0);
    }
    let mut data = Vec::with_capacity(run.data.len());
    let mut index = Vec::with_capacity(run.index.len());
    for (seq, bytes) in entries {
        data.extend_from_slice(bytes);
        index.push((seq, data.len() as u32));
    }
    run.data = data;
    run.index = index;
}
