//! The writer stage (thread `netcap-writer`): collects the workers' results, merges each epoch
//! once every worker has delivered it (per record type, by `seq`), runs the record stage and
//! the file extractor on the merged epoch, and appends the records to their files and the
//! packets with errors to `errors.pcap`. Decoder faults are counted here, in packet order, so
//! that a decoder is disabled at the same packet for any worker count.

use crate::output::{self, Writer};
use crate::pcapout::PcapOut;
use crate::stats::WorkerStats;
use crate::worker::{FaultLedger, WorkResult};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// What the writer thread leaves: (record type, records, file) per written type, the first
/// output error, notices about the pcaps and files it wrote, the decoder faults of the run, and
/// the record stage's statistics.
pub(super) struct WriteOutcome {
    pub(super) written: Vec<output::Written>,
    pub(super) error: Option<String>,
    pub(super) notices: Vec<String>,
    pub(super) ledger: FaultLedger,
    pub(super) record_stats: WorkerStats,
}

impl WriteOutcome {
    /// What is known when the writer thread panicked.
    pub(super) fn panicked() -> Self {
        WriteOutcome {
            written: Vec::new(),
            error: Some("the writer thread panicked".into()),
            notices: Vec::new(),
            ledger: FaultLedger::new(Vec::new(), Vec::new()),
            record_stats: WorkerStats::default(),
        }
    }
}

/// The writer stage's outputs and state.
pub(super) struct WriterStage {
    pub(super) writer: Writer,
    pub(super) errors_pcap: Option<PcapOut>,
    /// Live captures: every file is written out at least this often.
    pub(super) flush_every: Option<Duration>,
    pub(super) ledger: FaultLedger,
    /// Record decoders, run on each merged epoch.
    pub(super) records: Option<crate::records::RecordStage>,
    /// `--extract-files`.
    pub(super) extractor: Option<crate::extract::Extractor>,
    /// The first packet's time (set by the dispatcher), the files' creation time.
    pub(super) first_ts: Arc<AtomicI64>,
    /// Set on the first output error: the dispatcher stops reading.
    pub(super) failed: Arc<AtomicBool>,
    pub(super) ntypes: usize,
    pub(super) error: Option<String>,
    pub(super) created_set: bool,
    /// `--metrics`: records per type and faults, published once per epoch.
    pub(super) metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl WriterStage {
    /// Merges the results of `nthreads` workers until they are all gone; used buffers go back to
    /// `pool`.
    pub(super) fn run(
        mut self,
        results: Receiver<WorkResult>,
        pool: Sender<WorkResult>,
        nthreads: usize,
    ) -> WriteOutcome {
        let mut pending: BTreeMap<u64, Vec<WorkResult>> = BTreeMap::new();
        let mut next = 0u64;
        let mut last_flush = Instant::now();
        loop {
            let res = match self.flush_every {
                None => match results.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
                Some(every) => {
                    // Also when no result arrives.
                    let r = results.recv_timeout(every.saturating_sub(last_flush.elapsed()));
                    if last_flush.elapsed() >= every {
                        last_flush = Instant::now();
                        self.flush_files();
                    }
                    match r {
                        Ok(r) => r,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            pending.entry(res.epoch).or_default().push(res);
            while pending.get(&next).is_some_and(|v| v.len() == nthreads) {
                let mut group = pending.remove(&next).unwrap_or_default();
                self.epoch(&mut group);
                for r in group {
                    let _ = pool.try_send(r);
                }
                next += 1;
            }
        }
        self.finish()
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Writes every file out (a live capture's files are complete up to here).
    fn flush_files(&mut self) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.writer.flush().and_then(|()| self.errors_pcap.as_mut().map_or(Ok(()), PcapOut::flush)) {
            self.fail(e.to_string());
        }
    }

    /// One merged epoch: faults, record decoders, extracted files, records, error packets.
    fn epoch(&mut self, group: &mut Vec<WorkResult>) {
        self.ledger.apply(group);
        if let Some(stage) = self.records.as_mut() {
            let mut r = stage.epoch(group);
            self.ledger.apply(std::slice::from_mut(&mut r));
            group.push(r);
        }
        if self.error.is_none()
            && let Some(x) = self.extractor.as_mut()
            && let Err(e) = x.apply(group)
        {
            self.fail(format!("extracted files: {e}"));
        }
        if !self.created_set {
            self.writer.set_created(self.first_ts.load(Ordering::Relaxed));
            self.created_set = true;
        }
        if self.error.is_none() {
            for t in 0..self.ntypes {
                let runs: Vec<&crate::worker::Run> = group.iter().filter_map(|r| r.runs.get(t)).collect();
                if let Err(e) = self.writer.write_runs(t, &runs) {
                    self.fail(e.to_string());
                    break;
                }
            }
        }
        if self.error.is_none()
            && let Some(pcap) = &mut self.errors_pcap
            && let Err(e) = write_error_packets(pcap, group)
        {
            self.fail(format!("errors.pcap: {e}"));
        }
        self.publish();
    }

    /// `--metrics`: the records written per type and the faults so far.
    fn publish(&self) {
        let Some(m) = &self.metrics else { return };
        for (t, (_, c)) in m.records.get().into_iter().flatten().enumerate() {
            c.store(self.writer.count(t), Ordering::Relaxed);
        }
        crate::metrics::Metrics::set(&m.faults, self.ledger.faults.sorted().into_iter());
    }

    /// The record stage's last records, then every file finished.
    fn finish(mut self) -> WriteOutcome {
        let mut record_stats = WorkerStats::default();
        if let Some(mut stage) = self.records.take() {
            let mut r = stage.finish();
            self.ledger.apply(std::slice::from_mut(&mut r));
            if self.error.is_none()
                && let Some(x) = self.extractor.as_mut()
                && let Err(e) = x.apply(std::slice::from_mut(&mut r))
            {
                self.error = Some(format!("extracted files: {e}"));
            }
            for (t, run) in r.runs.iter().enumerate() {
                if self.error.is_none()
                    && let Err(e) = self.writer.write_runs(t, &[run])
                {
                    self.error = Some(e.to_string());
                }
            }
            record_stats = stage.stats;
        }
        self.publish();
        let (written, finish_err) = self.writer.finish();
        let mut error = self.error.or(finish_err.map(|e| e.to_string()));
        let mut notices = Vec::new();
        if let Some(x) = self.extractor {
            notices.extend(x.finish().1);
        }
        if let Some(pcap) = self.errors_pcap {
            let (n, skipped) = (pcap.written, pcap.skipped);
            match pcap.finish() {
                Ok(Some(path)) => notices.push(pcap_notice(n, skipped, &path)),
                Ok(None) => {}
                Err(e) => error = error.or(Some(format!("errors.pcap: {e}"))),
            }
        }
        WriteOutcome { written, error, notices, ledger: self.ledger, record_stats }
    }
}

/// Writes one epoch's packets with errors, from every worker, in input order.
fn write_error_packets(pcap: &mut PcapOut, group: &[WorkResult]) -> std::io::Result<()> {
    let mut entries: Vec<(u64, &[u8])> = Vec::new();
    for r in group {
        let mut start = 0usize;
        for &(seq, end) in &r.error_packets.index {
            entries.push((seq, &r.error_packets.data[start..end as usize]));
            start = end as usize;
        }
    }
    entries.sort_unstable_by_key(|e| e.0);
    // A packet can come from a flow worker and from the global thread.
    entries.dedup_by_key(|e| e.0);
    for (_, e) in entries {
        if e.len() < 18 {
            continue;
        }
        let link = u16::from_le_bytes([e[0], e[1]]);
        let ts = i64::from_le_bytes(e[2..10].try_into().unwrap_or_default());
        let orig = u32::from_le_bytes(e[10..14].try_into().unwrap_or_default());
        pcap.write(ts, link, orig, &e[18..])?;
    }
    Ok(())
}

/// The notice for a pcap netcap wrote.
pub(super) fn pcap_notice(n: u64, skipped: u64, path: &std::path::Path) -> String {
    let mut s = format!("wrote {n} packets to {}", path.display());
    if skipped > 0 {
        s.push_str(&format!(" ({skipped} packets of another link type left out)"));
    }
    s
}
