//! The dispatcher stage, run by the calling thread: reads packets from the source, numbers them
//! (`seq`), dissects them, marks unknown ones, classifies their flow (nDPI), scans DNS answers for
//! `ip-names`, defragments, and appends each packet to the batch of the flow worker that owns its
//! partition (and to the global thread's). Batches are cut into epochs: every worker gets one
//! batch per epoch, maybe empty.
//!
//! Invariants kept here (ARCHITECTURE.md): a partition (low byte of the symmetric flow hash)
//! always meets the same worker; ticks are placed by packet time, at the same `seq` in every
//! batch; names found in DNS answers are published at epoch boundaries only, so a decoder sees
//! the names of earlier packets whatever the worker count. Batch buffers come from a pool: the
//! steady state allocates nothing per packet.

use super::{EPOCH_BATCH_BYTES, EPOCH_PACKETS_PER_WORKER, LIVE_FLUSH, RunError, TICK_NANOS};
use crate::capture::{CaptureError, PacketSource, RawPacket};
use crate::dissect::{self, Dissection, layer_bit};
use crate::pcapout::PcapOut;
use crate::stats::DispatchStats;
use crate::worker::{Batch, Job, Tick};
use crossbeam_channel::{Receiver, Sender};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

/// Where packets go: fixed for the run.
pub(super) struct Routing {
    pub(super) nworkers: usize,
    pub(super) has_global: bool,
    /// Stateful decoders run: ticks, DNS-answer scan.
    pub(super) ticking: bool,
    /// Layers some decoder wants.
    pub(super) interest: u128,
    pub(super) ports: dissect::PortInterests,
    pub(super) defrag: bool,
    pub(super) live: bool,
}

/// The dispatcher's links to the other stages.
pub(super) struct Links {
    pub(super) jobs: Vec<Sender<Job>>,
    pub(super) batch_pool: Receiver<Batch>,
    /// Packets read, for the progress line.
    pub(super) progress: Arc<AtomicU64>,
    /// `--metrics`: published once per epoch.
    pub(super) metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The first packet's time, for the files' creation time.
    pub(super) first_ts: Arc<AtomicI64>,
    pub(super) dpi: Option<crate::dpi::Dpi>,
    pub(super) names: Arc<crate::resolve::names::NameTable>,
    /// `unknown.pcap`, and its path for error messages.
    pub(super) unknown_pcap: Option<PcapOut>,
    pub(super) unknown_path: PathBuf,
}

/// How reading ended.
pub(super) struct DispatchEnd {
    /// A stop signal ended it.
    pub(super) stopped: bool,
    /// The input is damaged after the packets read.
    pub(super) input_error: Option<CaptureError>,
}

pub(super) struct Dispatcher {
    r: Routing,
    links: Links,
    epoch_packets: usize,
    unknown_names: Vec<String>,
    d: Dissection,
    /// Dissection of a reassembled datagram.
    rd: Dissection,
    defrag: Option<crate::defrag::Defrag>,
    dns_scan: crate::resolve::names::DnsScan,
    batches: Vec<Batch>,
    next_tick: Option<i64>,
    epoch: u64,
    in_epoch: usize,
    seq: u64,
    last_flush: Instant,
    stats: DispatchStats,
}

/// A fragment's datagram, completed by it: (tunnel depth, header length).
type Completed = Option<(u16, usize)>;

impl Dispatcher {
    pub(super) fn new(r: Routing, links: Links) -> Self {
        let nthreads = r.nworkers + usize::from(r.has_global);
        Dispatcher {
            epoch_packets: EPOCH_PACKETS_PER_WORKER * r.nworkers,
            unknown_names: (0..128u16)
                .map(|id| format!("no decoder for {}", dissect::layer::name(id).unwrap_or("layer")))
                .collect(),
            d: Dissection { defrag: r.defrag, ..Dissection::default() },
            rd: Dissection::default(),
            defrag: r.defrag.then(crate::defrag::Defrag::default),
            dns_scan: crate::resolve::names::DnsScan::default(),
            batches: (0..nthreads).map(|_| Batch::default()).collect(),
            next_tick: None,
            epoch: 0,
            in_epoch: 0,
            seq: 0,
            last_flush: Instant::now(),
            stats: DispatchStats::default(),
            r,
            links,
        }
    }

    /// Reads `source` to its end, a stop signal (`stop`) or an output failure (`failed`).
    pub(super) fn run(
        &mut self,
        source: &mut dyn PacketSource,
        stop: &AtomicBool,
        failed: &AtomicBool,
    ) -> Result<DispatchEnd, RunError> {
        let mut end = DispatchEnd { stopped: false, input_error: None };
        loop {
            if stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                end.stopped = stop.load(Ordering::Relaxed);
                return Ok(end);
            }
            let more = match source.next_packet() {
                Ok(Some(p)) => Some(self.packet(&p)?),
                Ok(None) => None,
                // A filter that does not compile for a link type met in the file is a usage error.
                Err(e @ CaptureError::Bpf { .. }) => return Err(e.into()),
                Err(e) => {
                    end.input_error = Some(e);
                    return Ok(end);
                }
            };
            let more = match more {
                Some(more) => more,
                // A silent live source or FIFO: look at `stop`, and come back.
                None if source.timed_out() => self.idle()?,
                None => return Ok(end),
            };
            if !more {
                return Ok(end); // the workers are gone
            }
        }
    }

    /// Hands the last partial epoch on and tells the workers that input ended; the dispatch
    /// statistics and `unknown.pcap` (still to be finished) are what is left.
    pub(super) fn finish(mut self, dropped: Option<u64>) -> (DispatchStats, Option<PcapOut>) {
        if self.in_epoch > 0 {
            self.links.names.publish(&mut self.dns_scan);
            self.flush();
        }
        self.stats.dropped = dropped;
        if let Some(df) = self.defrag.as_mut() {
            df.finish();
            self.stats.defrag = df.stats.clone();
        }
        for tx in &self.links.jobs {
            let _ = tx.send(Job::Finish { epoch: self.epoch });
        }
        (self.stats, self.links.unknown_pcap)
    }

    /// No packet within the source's read timeout. Only a live capture hands partial batches on
    /// (a file's output never depends on timing). `false`: the workers are gone.
    fn idle(&mut self) -> Result<bool, RunError> {
        if !self.r.live || self.in_epoch == 0 || self.last_flush.elapsed() < LIVE_FLUSH {
            return Ok(true);
        }
        if !self.end_epoch() {
            return Ok(false);
        }
        if let Some(Err(e)) = self.links.unknown_pcap.as_mut().map(PcapOut::flush) {
            return Err(RunError::Output { path: self.links.unknown_path.clone(), source: e });
        }
        Ok(true)
    }

    /// One packet. `false`: the workers are gone.
    fn packet(&mut self, p: &RawPacket<'_>) -> Result<bool, RunError> {
        self.count(p);
        dissect::dissect(p.link_type, p.data, &mut self.d);
        if !self.r.ports.is_empty() {
            self.r.ports.apply(p.data, &mut self.d);
        }
        if let Some(kind) = self.d.error {
            self.stats.errors.add(kind, 1);
        }
        if self.unknown() {
            self.write_unknown(p)?;
        }
        if self.r.ticking {
            self.tick(p.ts_nanos);
        }
        let (hash, of_flow, completed) = self.defragment(p);
        let w = self.worker_of(hash);
        if self.r.ticking {
            self.dns_scan.scan(self.seq, p.data, self.d.layers());
        }
        self.push_packet(p, w, hash, of_flow);
        if let Some((depth, header_len)) = completed {
            self.push_datagram(p.ts_nanos, depth, header_len);
        }
        let global_full =
            self.r.has_global && self.batches[self.r.nworkers].data.len() >= EPOCH_BATCH_BYTES * self.r.nworkers;
        if self.in_epoch >= self.epoch_packets || self.batches[w].data.len() >= EPOCH_BATCH_BYTES || global_full {
            return Ok(self.end_epoch());
        }
        Ok(true)
    }

    fn count(&mut self, p: &RawPacket<'_>) {
        if self.stats.first_ts.is_none() {
            self.stats.first_ts = Some(p.ts_nanos);
            self.links.first_ts.store(p.ts_nanos, Ordering::Relaxed);
        }
        self.stats.last_ts = Some(p.ts_nanos);
        self.stats.packets += 1;
        self.stats.bytes += u64::from(p.orig_len);
    }

    /// Whether no decoder handles the packet (counted by reason).
    fn unknown(&mut self) -> bool {
        let d = &self.d;
        let interest = self.r.interest;
        let why = if d.unknown_link {
            "unsupported link type"
        } else if d.unknown_net {
            "no decoder for the network layer"
        } else if let Some(why) = d.undissected {
            why
        } else if let Some(inner) = d.innermost().filter(|&l| interest != 0 && interest & layer_bit(l) == 0) {
            &self.unknown_names[usize::from(inner.min(127))]
        } else {
            return false;
        };
        self.stats.unknown.add(why, 1);
        true
    }

    fn write_unknown(&mut self, p: &RawPacket<'_>) -> Result<(), RunError> {
        if let Some(u) = &mut self.links.unknown_pcap
            && let Err(e) = u.write(p.ts_nanos, p.link_type, p.orig_len, p.data)
        {
            return Err(RunError::Output { path: self.links.unknown_path.clone(), source: e });
        }
        Ok(())
    }

    /// Stateful decoders expire timeouts when packet time crosses a whole tick.
    fn tick(&mut self, now: i64) {
        let due = self.next_tick.is_some_and(|t| now >= t);
        if due {
            for b in self.batches.iter_mut() {
                b.ticks.push(Tick { index: b.starts.len() as u32, now, seq: self.seq });
            }
        }
        if due || self.next_tick.is_none() {
            self.next_tick = Some(now.div_euclid(TICK_NANOS).saturating_add(1).saturating_mul(TICK_NANOS));
        }
    }

    /// A fragment goes into the defragmenter first, so that a fragment whose datagram's 5-tuple
    /// is known goes with that flow (hash, worker, DPI flow, packet flag); the datagram it
    /// completes, if any, follows it. (flow hash, fragment of a known flow, completed datagram)
    fn defragment(&mut self, p: &RawPacket<'_>) -> (u64, bool, Completed) {
        let (mut hash, mut of_flow, mut completed) = (self.d.hash, false, None);
        if let Some(df) = self.defrag.as_mut()
            && self.d.fragment.is_some()
        {
            completed =
                df.add(p.data, &self.d, self.d.hash, p.ts_nanos).map(|(_, depth, header_len)| (depth, header_len));
            if let Some(h) = df.flow_hash() {
                (hash, of_flow) = (h, true);
            }
        }
        (hash, of_flow, completed)
    }

    /// Partition = the low byte of the flow hash; a partition always meets the same worker, so
    /// per-partition state (flow tables, TCP reassembly budgets) behaves the same for any worker
    /// count.
    fn worker_of(&self, hash: u64) -> usize {
        ((hash & 0xff) % self.r.nworkers as u64) as usize
    }

    /// The packet, into its flow worker's batch and the global thread's.
    fn push_packet(&mut self, p: &RawPacket<'_>, w: usize, hash: u64, of_flow: bool) {
        let (app, guessed) = match (&mut self.links.dpi, crate::dpi::ip_layer(self.d.layers())) {
            (Some(dpi), Some(ip)) => {
                let app = dpi.classify(hash, p.data, ip, p.ts_nanos);
                (app, dpi.guessed(app))
            }
            _ => (0, false),
        };
        let flags = if self.d.error.is_some() { netcap_sdk::PACKET_FLAG_DISSECT_ERROR } else { 0 }
            | if guessed { netcap_sdk::PACKET_FLAG_APP_GUESSED } else { 0 }
            | if of_flow { netcap_sdk::PACKET_FLAG_FRAGMENT_OF_FLOW } else { 0 };
        let meta = netcap_sdk::PacketMeta {
            seq: self.seq,
            ts_nanos: p.ts_nanos,
            flow: hash,
            app,
            link_type: p.link_type,
            orig_len: p.orig_len,
        };
        let targets = if self.r.has_global { [Some(w), Some(self.r.nworkers)] } else { [Some(w), None] };
        for t in targets.into_iter().flatten() {
            push(&mut self.batches[t], meta, &self.d, p.data, flags);
        }
        self.seq += 1;
        self.in_epoch += 1;
    }

    /// A datagram the last fragment completed: an entry of its own, for the flow workers only
    /// (global decoders count the fragments). Inside a tunnel it stays with the outer flow.
    fn push_datagram(&mut self, ts_nanos: i64, depth: u16, header_len: usize) {
        let Some(df) = self.defrag.as_ref() else { return };
        let dgram = df.datagram();
        let rd = &mut self.rd;
        dissect::dissect(dissect::linktype::RAW, dgram, rd);
        crate::defrag::mark_seen(rd, header_len, depth);
        if !self.r.ports.is_empty() {
            self.r.ports.apply(dgram, rd);
        }
        if let Some(kind) = rd.error {
            self.stats.errors.add(kind, 1);
        }
        let hash = if depth == 0 { rd.hash } else { self.d.hash };
        let meta = netcap_sdk::PacketMeta {
            seq: self.seq,
            ts_nanos,
            flow: hash,
            app: 0,
            link_type: dissect::linktype::RAW,
            orig_len: dgram.len() as u32,
        };
        let error = if rd.error.is_some() { netcap_sdk::PACKET_FLAG_DISSECT_ERROR } else { 0 };
        let w = ((hash & 0xff) % self.r.nworkers as u64) as usize;
        push(&mut self.batches[w], meta, rd, dgram, netcap_sdk::PACKET_FLAG_REASSEMBLED | error);
        self.seq += 1;
        self.in_epoch += 1;
    }

    /// Closes the epoch: names found so far are published, every worker gets its batch.
    /// `false`: the workers are gone.
    fn end_epoch(&mut self) -> bool {
        self.links.progress.store(self.stats.packets, Ordering::Relaxed);
        if let Some(m) = &self.links.metrics {
            m.packets.store(self.stats.packets, Ordering::Relaxed);
            m.bytes.store(self.stats.bytes, Ordering::Relaxed);
            crate::metrics::Metrics::set(&m.unknown, self.stats.unknown.sorted().into_iter());
            crate::metrics::Metrics::set(&m.errors, self.stats.errors.sorted().into_iter());
        }
        self.links.names.publish(&mut self.dns_scan);
        let ok = self.flush();
        self.last_flush = Instant::now();
        ok
    }

    /// Sends every worker its batch of this epoch (maybe empty).
    fn flush(&mut self) -> bool {
        for (w, b) in self.batches.iter_mut().enumerate() {
            let mut next = self.links.batch_pool.try_recv().unwrap_or_default();
            next.clear();
            let mut full = std::mem::replace(b, next);
            full.epoch = self.epoch;
            if self.links.jobs[w].send(Job::Batch(full)).is_err() {
                return false;
            }
        }
        self.epoch += 1;
        self.in_epoch = 0;
        true
    }
}

/// Appends one packet entry to a batch.
fn push(b: &mut Batch, meta: netcap_sdk::PacketMeta, d: &Dissection, data: &[u8], flags: u8) {
    let start = b.data.len();
    b.starts.push(start as u32);
    b.masks.push(d.mask);
    b.flows.push(meta.flow);
    b.any_mask |= d.mask;
    netcap_sdk::push_packet_with(&mut b.data, meta, d.layers(), data);
    if flags != 0 {
        netcap_sdk::set_packet_flags(&mut b.data, start, flags);
    }
}
