//! `netcap capture`: source → dispatcher → flow workers (+ the global thread) → writer.
//!
//! The stages, one file each, and the thread that runs them:
//! - the source (`crate::capture`: a file, a FIFO or an interface) and the dispatcher
//!   ([`dispatch`]), on the calling thread: packets are numbered (`seq`), dissected and appended
//!   to the batch of the worker that owns their flow (symmetric flow hash), so a flow always
//!   meets the same decoder instances;
//! - the flow workers (`crate::worker`, threads `netcap-worker-N`), each with its stream stage
//!   (`crate::streams`), and the global thread (`netcap-global`, an extra worker that gets every
//!   packet) for global decoders;
//! - the writer ([`writer`], thread `netcap-writer`), with the record stage (`crate::records`)
//!   and the file extractor (`crate::extract`).
//!
//! [`plan`] decides what runs where before the first packet; [`Pipeline`] starts the threads
//! and joins them. Packets are cut into *epochs*: every worker gets one batch per epoch (maybe
//! empty) and returns one result per epoch; the writer merges an epoch's results per record type
//! by `seq` once all workers have answered. Epoch boundaries therefore never change the output,
//! which is identical for any worker count. Batch and result buffers circulate through pools, so
//! the steady state allocates nothing per packet.

mod dispatch;
mod plan;
mod writer;

use crate::capture::{CaptureError, PacketSource};
use crate::output::{Format, OutputConfig, TypeOut, Writer};
use crate::pcapout::PcapOut;
use crate::plugin::{self, Limits, LoadedDecoder};
use crate::stats::{Summary, TypeCount, WorkerStats};
use crate::worker::{Batch, Job, WorkResult, Worker};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Packets per worker per epoch.
const EPOCH_PACKETS_PER_WORKER: usize = 512;
/// Bytes after which a worker's batch closes the epoch early.
const EPOCH_BATCH_BYTES: usize = 4 << 20;
/// Packet time between ticks of stateful decoders.
pub const TICK_NANOS: i64 = 1_000_000_000;
/// A live capture flushes a partial epoch after this long without a full one.
const LIVE_FLUSH: Duration = Duration::from_millis(200);

/// Where packets come from.
#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    /// Several capture files, merged in time order (`crate::capture::merge`).
    Files(Vec<PathBuf>),
    Live {
        iface: String,
        snaplen: i32,
        promisc: bool,
    },
}

/// Everything `capture` needs.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub input: Input,
    pub bpf: Option<String>,
    pub out_dir: PathBuf,
    pub format: Format,
    pub workers: usize,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub payload: bool,
    pub entropy: bool,
    pub plugin_dirs: Vec<PathBuf>,
    /// Write the packets whose innermost layer has no decoder to `unknown.pcap`.
    pub unknown_pcap: bool,
    /// Write the packets a decoder or the dissector reported an error for to `errors.pcap`.
    pub errors_pcap: bool,
    pub limits: Limits,
    /// More `init` configuration for every decoder (flow timeouts, ...); keys in the WIT docs.
    pub decoder_config: Vec<(String, String)>,
    /// Deep packet inspection (nDPI, libprotoident).
    pub dpi: crate::dpi::DpiOptions,
    /// Resolver data (MAC vendors, service names, GeoIP, names, fingerprints).
    pub resolve: crate::resolve::ResolverOptions,
    pub quiet: bool,
    /// Use the natively linked decoders (feature `native-decoders`; for benchmarks).
    pub native: bool,
    /// TCP reassembly limits (used when a stream decoder is loaded).
    pub reassembly: crate::reassembly::Config,
    /// Reassemble fragmented IP datagrams before dispatching them.
    pub defrag: bool,
    /// Set to stop reading (SIGINT, SIGTERM, SIGHUP); the run then finishes cleanly.
    pub stop: Arc<AtomicBool>,
    /// Live captures: every file is written out (complete up to there) at least this often.
    pub flush_interval: Duration,
    /// `--extract-files`: where and how much of the transferred objects to write.
    pub extract: Option<crate::extract::ExtractOptions>,
    /// `--metrics ADDR`: serve the run's counters for Prometheus there.
    pub metrics: Option<std::net::SocketAddr>,
    /// `--kafka BROKERS`: records go to Kafka topics instead of files.
    pub kafka: Option<crate::kafka::KafkaOptions>,
}

/// Fatal errors: nothing (more) can be done.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Plugin(#[from] plugin::PluginError),
    #[error("{0}")]
    Config(String),
    #[error("output directory {path}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("decoder {id} could not start: {message}")]
    Instantiate { id: String, message: String },
    #[error(transparent)]
    OutDir(#[from] crate::outdir::OutDirError),
}

/// Loads the decoders `opts` asks for.
pub fn load_decoders(
    opts: &CaptureOptions,
    notices: &mut Vec<String>,
) -> Result<(Vec<LoadedDecoder>, Option<plugin::wasm::Runtime>), RunError> {
    if opts.native {
        #[cfg(feature = "native-decoders")]
        return Ok((plugin::native::standard(), None));
        #[cfg(not(feature = "native-decoders"))]
        return Err(RunError::Config("--native needs a build with the `native-decoders` feature".into()));
    }
    let rt = plugin::wasm::Runtime::new(opts.limits)?;
    let decoders = plugin::load_all(&rt, &opts.plugin_dirs, notices)?;
    Ok((decoders, Some(rt)))
}

/// Resolves `--include` / `--exclude` to the enabled record types of each decoder.
pub fn enabled_types(
    decoders: &[LoadedDecoder],
    include: &[String],
    exclude: &[String],
) -> Result<Vec<Vec<bool>>, RunError> {
    let all: Vec<&str> = decoders.iter().flat_map(|d| d.spec.record_types.iter().map(|t| t.name.as_str())).collect();
    for n in include.iter().chain(exclude) {
        // Decoder ids select all of a decoder's types.
        if !all.contains(&n.as_str()) && !decoders.iter().any(|d| d.spec.id == *n) {
            return Err(RunError::Config(format!("unknown record type or decoder {n:?}; known: {}", all.join(","))));
        }
    }
    Ok(decoders
        .iter()
        .map(|d| {
            d.spec
                .record_types
                .iter()
                .map(|t| {
                    let named = |list: &[String]| list.iter().any(|n| *n == t.name || *n == d.spec.id);
                    (include.is_empty() || named(include)) && !named(exclude)
                })
                .collect()
        })
        .collect())
}

/// Runs a capture to the end of its input (or until `stop`).
pub fn capture(opts: CaptureOptions) -> Result<Summary, RunError> {
    let started = Instant::now();
    let mut notices = Vec::new();
    // The output directory is locked (and so known to be writable) before the input is opened.
    let mut out_dir = crate::outdir::OutDir::lock(&opts.out_dir)?;
    let (mut source, source_name) = open_source(&opts)?;
    let (decoders, runtime) = load_decoders(&opts, &mut notices)?;
    // What the user asked for is written; record decoders' inputs are produced too (`enabled`).
    let asked = enabled_types(&decoders, &opts.include, &opts.exclude)?;
    let mut enabled = asked.clone();
    plan::enable_record_inputs(&decoders, &mut enabled, &mut notices)?;
    let context = Context::new(&opts, &mut notices)?;
    plan::check_resources(&decoders, &enabled, &context.resolver.resources)?;
    clean_out_dir(&mut out_dir, &decoders, &opts)?;
    let mut plan = plan::Plan::new(&decoders, &enabled, &asked, &opts)?;
    let records = plan::record_stage(&decoders, &enabled, &plan, &opts)?;
    let routing = dispatch::Routing {
        nworkers: plan.nworkers,
        has_global: plan.has_global,
        ticking: plan.ticking,
        interest: plan.interest,
        ports: std::mem::take(&mut plan.ports),
        defrag: opts.defrag,
        live: matches!(opts.input, Input::Live { .. }),
    };
    let position = source.position();
    let (pipeline, Inlets { jobs, batch_pool }) =
        Pipeline::start(plan, records, &decoders, &opts, &out_dir, (&source_name, position), started)?;
    let links = dispatch::Links {
        jobs,
        batch_pool,
        progress: pipeline.progress.clone(),
        metrics: pipeline.metrics.clone(),
        first_ts: pipeline.first_ts.clone(),
        // Only stateful decoders read the DPI verdict: layer decoders alone need none.
        dpi: if routing.ticking { context.dpi_worker()? } else { None },
        names: context.resolver.name_table(),
        unknown_pcap: opts.unknown_pcap.then(|| PcapOut::new(opts.out_dir.join("unknown.pcap"), out_dir.manifest())),
        unknown_path: opts.out_dir.join("unknown.pcap"),
    };
    let live = routing.live;
    let mut dispatcher = dispatch::Dispatcher::new(routing, links);
    let end = dispatcher.run(source.as_mut(), &opts.stop, &pipeline.output_failed)?;
    let dropped = source.dropped();
    if let (Some(m), Some(n)) = (&pipeline.metrics, dropped) {
        m.dropped.store(n, Ordering::Relaxed);
    }
    let files = source.files();
    drop(source);
    let (dispatch, unknown_pcap) = dispatcher.finish(dropped);
    let kafka = pipeline.kafka.clone();
    let (mut workers, out) = pipeline.join();
    notices.extend(kafka.map(|k| k.report()).unwrap_or_default());
    workers.merge(&out.record_stats);
    notices.extend(out.notices);
    workers.faults.merge(&out.ledger.faults);
    workers.first_faults = out.ledger.first;
    workers.disabled = out.ledger.disabled;
    let mut output_error = out.error;
    if let Some(u) = unknown_pcap {
        let (n, skipped) = (u.written, u.skipped);
        match u.finish() {
            Ok(Some(path)) => notices.push(writer::pcap_notice(n, skipped, &path)),
            Ok(None) => {}
            Err(e) => output_error = output_error.or(Some(format!("unknown.pcap: {e}"))),
        }
    }
    notices.extend(decoder_logs(&decoders));
    notices.extend(context.finish());
    drop(runtime);
    let mut summary = Summary {
        source: source_name,
        files,
        dispatch,
        workers,
        types: out
            .written
            .into_iter()
            .map(|(name, records, path, incomplete)| TypeCount {
                name,
                records,
                path: path.display().to_string(),
                incomplete,
            })
            .collect(),
        // A live capture ends with a signal; a file capture stopped by one is partial.
        interrupted: end.stopped && !live,
        elapsed: started.elapsed(),
        worker_count: opts.workers.max(1),
        input_error: end.input_error.map(|e| format!("{e}")),
        output_error,
        notices,
    };
    write_counts(&out_dir, &mut summary);
    Ok(summary)
}

/// `.netcap.summary.json`: the run's counts for `netcap report` (best effort: a failure is a
/// notice, the records are what matters).
fn write_counts(out_dir: &crate::outdir::OutDir, summary: &mut Summary) {
    let path = out_dir.dir().join(crate::outdir::SUMMARY_FILE);
    let text = format!("{:#}\n", summary.counts_json());
    let written = crate::outdir::create(out_dir.manifest().as_deref(), &path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
    if let Err(e) = written {
        summary.notices.push(format!("{}: {e}", path.display()));
    }
}

/// The capture source and its name for the record files' headers.
fn open_source(opts: &CaptureOptions) -> Result<(Box<dyn PacketSource>, String), RunError> {
    Ok(match &opts.input {
        Input::File(p) => {
            let src = crate::capture::file::FileSource::open_with_stop(p, opts.bpf.as_deref(), Some(&opts.stop))?;
            (Box::new(src), p.display().to_string())
        }
        Input::Files(paths) => {
            let src = crate::capture::merge::MergeSource::open(paths, opts.bpf.as_deref())?;
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            (Box::new(src), names.join(", "))
        }
        Input::Live { iface, snaplen, promisc } => (
            Box::new(crate::capture::live::LiveSource::open(iface, *snaplen, *promisc, opts.bpf.as_deref())?),
            iface.clone(),
        ),
    })
}

/// Removes an earlier run's files from the locked output directory (only those netcap wrote),
/// before any input is read.
fn clean_out_dir(
    out_dir: &mut crate::outdir::OutDir,
    decoders: &[LoadedDecoder],
    opts: &CaptureOptions,
) -> Result<(), RunError> {
    let all_names: Vec<String> =
        decoders.iter().flat_map(|d| d.spec.record_types.iter().map(|t| t.name.clone())).collect();
    let extra: Vec<&str> = [(opts.unknown_pcap, "unknown.pcap"), (opts.errors_pcap, "errors.pcap")]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
    let partitioned = matches!(opts.format, crate::output::Format::Parquet { partition: true });
    let plan =
        crate::outdir::Plan { names: &all_names, extension: opts.format.extension(), extra: &extra, partitioned };
    out_dir.clean(&plan)?;
    if !out_dir.removed.is_empty() {
        // Said at once: the summary comes only at the end.
        eprintln!(
            "netcap: removed the files of an earlier run in {}: {}",
            opts.out_dir.display(),
            out_dir.removed.join(", ")
        );
    }
    Ok(())
}

/// The decoders' log lines (the first of each decoder), and how many were left out.
fn decoder_logs(decoders: &[LoadedDecoder]) -> Vec<String> {
    let mut notices = Vec::new();
    for d in decoders {
        let (shown, total) = plugin::wasm::drain_logs(&d.logs);
        let n = shown.len() as u64;
        notices.extend(shown);
        if total > n {
            notices.push(format!("decoder {} logged {total} lines; only the first are shown", d.spec.id));
        }
    }
    notices
}

/// DPI and resolvers for the run. The dispatcher classifies every packet's flow (so that worker
/// and global batches carry the same `app` id) and scans DNS answers for `ip-names`; decoders
/// reach the resolvers through the host imports, answered by the installed resolver.
struct Context {
    dpi: crate::dpi::DpiEngine,
    resolver: Arc<crate::resolve::Resolver>,
}

impl Context {
    fn new(opts: &CaptureOptions, notices: &mut Vec<String>) -> Result<Self, RunError> {
        let dpi = crate::dpi::DpiEngine::load(&opts.dpi);
        notices.extend(dpi.notice());
        let resolver = Arc::new(crate::resolve::Resolver::new(opts.resolve.clone(), dpi.active().then(|| dpi.apps())));
        notices.extend(resolver.take_warnings());
        netcap_sdk::host::set_resolver(Some(resolver.clone()));
        Ok(Context { dpi, resolver })
    }

    /// The dispatcher's classifier, when nDPI is active.
    fn dpi_worker(&self) -> Result<Option<crate::dpi::Dpi>, RunError> {
        if !self.dpi.active() {
            return Ok(None);
        }
        Ok(self.dpi.workers(1).map_err(|e| RunError::Config(e.to_string()))?.pop())
    }

    /// Uninstalls the resolver; its last warnings.
    fn finish(self) -> Vec<String> {
        let warnings = self.resolver.finish_warnings();
        netcap_sdk::host::set_resolver(None);
        warnings
    }
}

/// The running stages: the flow workers and the global thread, the writer, the progress line.
struct Pipeline {
    workers: Vec<JoinHandle<WorkerStats>>,
    writer: JoinHandle<writer::WriteOutcome>,
    /// Packets read (for the progress line).
    progress: Arc<AtomicU64>,
    /// The first packet's time (the files' creation time).
    first_ts: Arc<AtomicI64>,
    /// Set by the writer on an output error: reading stops.
    output_failed: Arc<AtomicBool>,
    progress_line: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    /// `--metrics`: the counters the stages publish.
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// `--kafka`: the producer, for its report.
    kafka: Option<Arc<crate::kafka::Producer>>,
}

/// What [`Pipeline::start`] hands the dispatcher: one job queue per worker and the pool of spent batches.
struct Inlets {
    jobs: Vec<Sender<Job>>,
    batch_pool: Receiver<Batch>,
}

/// The flow workers and the global thread, spawned; the ends the writer and the dispatcher keep.
struct Workers {
    handles: Vec<JoinHandle<WorkerStats>>,
    inlets: Inlets,
    results: Receiver<WorkResult>,
    result_pool: Sender<WorkResult>,
}

impl Pipeline {
    /// Starts the workers and the writer of `plan`; the dispatcher's job senders and batch pool.
    fn start(
        plan: plan::Plan,
        records: Option<crate::records::RecordStage>,
        decoders: &[LoadedDecoder],
        opts: &CaptureOptions,
        out_dir: &crate::outdir::OutDir,
        (source_name, position): (&str, Option<(Arc<AtomicU64>, u64)>),
        started: Instant,
    ) -> Result<(Self, Inlets), RunError> {
        let nthreads = plan.nthreads();
        let gates = plan.gates.clone();
        let metrics = start_metrics(opts, nthreads)?;
        let (types, workers) = spawn_workers(plan, opts, metrics.as_ref())?;
        if let Some(m) = &metrics {
            m.set_types(types.iter().map(|t| t.name.clone()));
        }
        let first_ts = Arc::new(AtomicI64::new(0));
        let output_failed = Arc::new(AtomicBool::new(false));
        let kafka = match &opts.kafka {
            Some(k) => Some(Arc::new(crate::kafka::Producer::new(k.clone()).map_err(RunError::Config)?)),
            None => None,
        };
        let out_cfg = OutputConfig {
            dir: opts.out_dir.clone(),
            format: opts.format,
            input_source: source_name.to_string(),
            payload: opts.payload,
            manifest: out_dir.manifest(),
            kafka: kafka.clone(),
        };
        let stage = writer::WriterStage {
            ntypes: types.len(),
            writer: Writer::new(out_cfg, types),
            errors_pcap: opts.errors_pcap.then(|| PcapOut::new(opts.out_dir.join("errors.pcap"), out_dir.manifest())),
            flush_every: matches!(opts.input, Input::Live { .. })
                .then_some(opts.flush_interval.max(Duration::from_millis(10))),
            ledger: crate::worker::FaultLedger::new(decoders.iter().map(|d| d.spec.id.clone()).collect(), gates),
            records,
            extractor: match &opts.extract {
                None => None,
                Some(x) => Some(
                    crate::extract::Extractor::new(x.clone())
                        .map_err(|source| RunError::Output { path: x.dir.clone(), source })?,
                ),
            },
            first_ts: first_ts.clone(),
            failed: output_failed.clone(),
            error: None,
            created_set: false,
            metrics: metrics.clone(),
        };
        let Workers { handles, inlets, results, result_pool } = workers;
        let writer = spawn("netcap-writer".into(), move || stage.run(results, result_pool, nthreads))?;
        let progress = Arc::new(AtomicU64::new(0));
        let progress_line = (!opts.quiet).then(|| start_progress(progress.clone(), position, started));
        let pipeline =
            Pipeline { workers: handles, writer, progress, first_ts, output_failed, progress_line, metrics, kafka };
        Ok((pipeline, inlets))
    }

    /// Waits for the workers (told by the dispatcher that input ended) and the writer.
    fn join(self) -> (WorkerStats, writer::WriteOutcome) {
        let mut stats = WorkerStats::default();
        for h in self.workers {
            match h.join() {
                Ok(s) => stats.merge(&s),
                Err(_) => stats.faults.add("worker: panic", 1),
            }
        }
        let out = self.writer.join().unwrap_or_else(|_| writer::WriteOutcome::panicked());
        if let Some((stop, h)) = self.progress_line {
            stop.store(true, Ordering::Relaxed);
            h.thread().unpark();
            let _ = h.join();
        }
        (stats, out)
    }
}

/// Starts a named stage thread.
fn spawn<T: Send + 'static>(name: String, f: impl FnOnce() -> T + Send + 'static) -> Result<JoinHandle<T>, RunError> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|e| RunError::Config(format!("cannot start thread {name}: {e}")))
}

/// Spawns one flow worker per partition (and the global thread last), each with its decoder slots;
/// returns the record types (for the writer) and the workers' channel ends.
fn spawn_workers(
    plan: plan::Plan,
    opts: &CaptureOptions,
    metrics: Option<&Arc<crate::metrics::Metrics>>,
) -> Result<(Vec<TypeOut>, Workers), RunError> {
    let nthreads = plan.nthreads();
    let (result_tx, results) = bounded::<WorkResult>(nthreads * 4);
    let (batch_pool_tx, batch_pool) = unbounded::<Batch>();
    let (result_pool, result_pool_rx) = unbounded::<WorkResult>();
    let mut jobs = Vec::with_capacity(nthreads);
    let mut handles = Vec::with_capacity(nthreads);
    let plan::Plan { types, worker_slots, stream_slots, stream_interests, nworkers, .. } = plan;
    for (w, (slots, sslots)) in worker_slots.into_iter().zip(stream_slots).enumerate() {
        let (tx, rx) = bounded::<Job>(4);
        jobs.push(tx);
        let mut worker = Worker::new(slots, types.len(), opts.errors_pcap, opts.limits.output_bytes);
        worker.index = w as u16;
        worker.live = metrics.cloned();
        if !sslots.is_empty() {
            let max = opts.limits.output_bytes;
            worker.streams =
                Some(crate::streams::StreamStage::new(opts.reassembly, sslots, stream_interests.clone(), max));
        }
        let (results, bpool, rpool) = (result_tx.clone(), batch_pool_tx.clone(), result_pool_rx.clone());
        let name = if w < nworkers { format!("netcap-worker-{w}") } else { "netcap-global".to_string() };
        handles.push(spawn(name, move || worker.run(rx, results, bpool, rpool))?);
    }
    Ok((types, Workers { handles, inlets: Inlets { jobs, batch_pool }, results, result_pool }))
}

/// `--metrics ADDR`: the counters for the run's record types, served from a thread of their own.
fn start_metrics(opts: &CaptureOptions, threads: usize) -> Result<Option<Arc<crate::metrics::Metrics>>, RunError> {
    let Some(addr) = opts.metrics else { return Ok(None) };
    let m = Arc::new(crate::metrics::Metrics::new(threads));
    let bound =
        crate::metrics::serve(addr, m.clone()).map_err(|e| RunError::Config(format!("--metrics {addr}: {e}")))?;
    // Now, not with the summary: a scraper needs the address while the capture runs.
    eprintln!("netcap: serving metrics at http://{bound}/metrics");
    Ok(Some(m))
}

/// A progress line on stderr: redrawn every second on a terminal, every 10 s otherwise, and
/// only once a run has lasted a few seconds. For capture files it is a bar with the share read
/// and an estimate of the time left ([`progress_line`]).
fn start_progress(
    packets: Arc<AtomicU64>,
    position: Option<(Arc<AtomicU64>, u64)>,
    started: Instant,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let tty = std::io::stderr().is_terminal();
    let period = if tty { Duration::from_secs(1) } else { Duration::from_secs(10) };
    let h = std::thread::spawn(move || {
        let mut last = Instant::now();
        let mut drew = false;
        while !s2.load(Ordering::Relaxed) {
            std::thread::park_timeout(Duration::from_millis(200));
            if s2.load(Ordering::Relaxed) {
                break;
            }
            if started.elapsed() < Duration::from_secs(3) || last.elapsed() < period {
                continue;
            }
            last = Instant::now();
            let read = position.as_ref().map(|(p, total)| (p.load(Ordering::Relaxed), *total));
            let line = progress_line(packets.load(Ordering::Relaxed), read, started.elapsed());
            if tty {
                eprint!("\r\x1b[2K{line}");
                drew = true;
            } else {
                eprintln!("progress: {line}");
            }
        }
        if drew {
            eprint!("\r\x1b[2K");
        }
    });
    (stop, h)
}

/// `[=====>    ]  45.0%  1,234 packets, 617 packets/s, 0:03 left` for `packets` read in
/// `elapsed`, with `(bytes read, total bytes)` of capture files; packets and rate alone without.
pub(crate) fn progress_line(packets: u64, read: Option<(u64, u64)>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let counts = format!(
        "{} packets, {} packets/s",
        crate::stats::group(packets),
        crate::stats::group((packets as f64 / secs) as u64)
    );
    let Some((done, total)) = read.filter(|(_, t)| *t > 0) else { return counts };
    let share = (done as f64 / total as f64).clamp(0.0, 1.0);
    const WIDTH: usize = 24;
    let filled = ((share * WIDTH as f64) as usize).min(WIDTH);
    let bar: String = (0..WIDTH)
        .map(|i| match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        })
        .collect();
    let left = if share > 0.0 {
        let rest = (secs * (1.0 - share) / share) as u64;
        format!("{}:{:02} left", rest / 60, rest % 60)
    } else {
        "time left unknown".to_string()
    };
    format!("[{bar}] {:5.1}%  {counts}, {left}", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::progress_line;
    use std::time::Duration;

    #[test]
    fn the_progress_bar_shows_the_share_read_and_the_time_left() {
        let line = progress_line(1_000, Some((50, 100)), Duration::from_secs(10));
        assert_eq!(
            line,
            format!("[{}>{}]  50.0%  1,000 packets, 100 packets/s, 0:10 left", "=".repeat(12), " ".repeat(11))
        );
        let done = progress_line(10, Some((100, 100)), Duration::from_secs(1));
        assert!(done.starts_with(&format!("[{}] 100.0%", "=".repeat(24))) && done.ends_with("0:00 left"), "{done}");
        assert!(progress_line(0, Some((0, 100)), Duration::from_secs(5)).ends_with("time left unknown"));
        // Live and piped input: no size, no bar.
        assert_eq!(progress_line(50, None, Duration::from_secs(10)), "50 packets, 5 packets/s");
        assert_eq!(progress_line(50, Some((0, 0)), Duration::from_secs(10)), "50 packets, 5 packets/s");
    }
}
