//! `netcap capture`: source → dispatcher → workers → writer.
//!
//! The dispatcher (the calling thread) reads packets, numbers them (`seq`), dissects them, and
//! appends each to the batch of the worker that owns its flow (symmetric flow hash), so a flow
//! always meets the same decoder instances. Packets are cut into *epochs*: every worker gets one
//! batch per epoch (maybe empty) and returns one result per epoch; the writer merges an epoch's
//! results per record type by `seq` once all workers have answered. Epoch boundaries therefore
//! never change the output, which is identical for any worker count. Batch and result buffers
//! circulate through pools, so the steady state allocates nothing per packet.

use crate::capture::{CaptureError, PacketSource};
use crate::dissect::{self, Dissection, layer_bit};
use crate::output::{self, Format, OutputConfig, TypeOut, Writer};
use crate::pcapout::PcapOut;
use crate::plugin::DecoderKind;
use crate::plugin::{self, Limits, LoadedDecoder};
use crate::stats::{DispatchStats, Summary, TypeCount, WorkerStats};
use crate::worker::{Batch, Job, Slot, Tick, WorkResult, Worker};
use crossbeam_channel::{bounded, unbounded};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
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
    Live { iface: String, snaplen: i32, promisc: bool },
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

/// Record decoders read the records of the types they consume: those types are produced (and
/// written) whenever an enabled record decoder reads them. A consumed type no loaded decoder
/// produces is a notice (the input stays empty); one with another protobuf message than the
/// record decoder expects is refused.
fn enable_record_inputs(
    decoders: &[LoadedDecoder],
    enabled: &mut [Vec<bool>],
    notices: &mut Vec<String>,
) -> Result<(), RunError> {
    for (i, d) in decoders.iter().enumerate() {
        if d.spec.kind != DecoderKind::Record || !enabled[i].iter().any(|&on| on) {
            continue;
        }
        for c in &d.spec.consumes {
            let mut found = false;
            for (j, p) in decoders.iter().enumerate() {
                for (k, t) in p.spec.record_types.iter().enumerate() {
                    if t.name != c.name {
                        continue;
                    }
                    if !c.message.is_empty() && c.message != t.message {
                        return Err(RunError::Config(format!(
                            "decoder {} reads {} records as {}, but decoder {} writes them as {}",
                            d.spec.id, c.name, c.message, p.spec.id, t.message
                        )));
                    }
                    enabled[j][k] = true;
                    found = true;
                }
            }
            if !found {
                notices.push(format!("decoder {} reads {} records, which no loaded decoder writes", d.spec.id, c.name));
            }
        }
    }
    Ok(())
}

/// A decoder that requires a resource the user did not give stops the run before any input.
fn check_resources(
    decoders: &[LoadedDecoder],
    enabled: &[Vec<bool>],
    resources: &crate::resolve::resources::Resources,
) -> Result<(), RunError> {
    for (d, en) in decoders.iter().zip(enabled) {
        if !en.iter().any(|&on| on) {
            continue;
        }
        for r in d.spec.resources.iter().filter(|r| r.required) {
            if resources.path(&r.name).is_none() {
                return Err(RunError::Config(format!(
                    "decoder {} needs the resource {} ({}): give it with --resource {}=PATH or --resources DIR",
                    d.spec.id, r.name, r.description, r.name
                )));
            }
        }
    }
    Ok(())
}

/// The record stage: one instance of each enabled record decoder, in dependency order.
fn record_stage(
    decoders: &[LoadedDecoder],
    enabled: &[Vec<bool>],
    types: &[TypeOut],
    type_maps: &[Vec<Option<usize>>],
    gates: &[Arc<AtomicBool>],
    opts: &CaptureOptions,
) -> Result<Option<crate::records::RecordStage>, RunError> {
    let order = crate::records::dependency_order(decoders, enabled).map_err(RunError::Config)?;
    if order.is_empty() {
        return Ok(None);
    }
    let mut slots = Vec::new();
    for di in order {
        let d = &decoders[di];
        let names: Vec<&str> =
            d.spec.record_types.iter().zip(&enabled[di]).filter(|(_, on)| **on).map(|(t, _)| t.name.as_str()).collect();
        let instance = d
            .factory
            .instantiate(&decoder_config(&names, opts))
            .map_err(|f| RunError::Instantiate { id: d.spec.id.clone(), message: f.message.clone() })?;
        let mut inputs: Vec<(usize, u16)> = d
            .spec
            .consumes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| types.iter().position(|t| t.name == c.name).map(|g| (g, i as u16)))
            .collect();
        inputs.sort();
        let slot = Slot {
            id: d.spec.id.clone(),
            kind: DecoderKind::Record,
            all: false,
            instance,
            layer_mask: 0,
            type_map: type_maps[di].clone(),
            decoder: di as u16,
            gate: gates[di].clone(),
            disabled: false,
        };
        slots.push(crate::records::RecordSlot { slot, inputs });
    }
    Ok(Some(crate::records::RecordStage::new(slots, types.len(), opts.limits.output_bytes)))
}

/// The configuration every decoder instance gets at `init`.
fn decoder_config(record_types: &[&str], opts: &CaptureOptions) -> Vec<(String, String)> {
    let mut c = vec![
        ("record-types".to_string(), record_types.join(",")),
        ("payload".to_string(), opts.payload.to_string()),
        ("entropy".to_string(), opts.entropy.to_string()),
    ];
    if let Some(x) = &opts.extract {
        c.push(("extract-files".to_string(), "true".to_string()));
        c.push(("extract-max-file".to_string(), x.max_file.to_string()));
    }
    c.extend(opts.decoder_config.iter().cloned());
    c
}

/// Runs a capture to the end of its input (or until `stop`).
pub fn capture(opts: CaptureOptions) -> Result<Summary, RunError> {
    let started = Instant::now();
    let mut notices = Vec::new();
    // The output directory is locked (and so known to be writable) before the input is opened.
    let mut out_dir = crate::outdir::OutDir::lock(&opts.out_dir)?;
    let (mut source, source_name): (Box<dyn PacketSource>, String) = match &opts.input {
        Input::File(p) => {
            let src = crate::capture::file::FileSource::open_with_stop(p, opts.bpf.as_deref(), Some(&opts.stop))?;
            (Box::new(src), p.display().to_string())
        }
        Input::Live { iface, snaplen, promisc } => (
            Box::new(crate::capture::live::LiveSource::open(iface, *snaplen, *promisc, opts.bpf.as_deref())?),
            iface.clone(),
        ),
    };
    let (decoders, runtime) = load_decoders(&opts, &mut notices)?;
    // What the user asked for is written; record decoders' inputs are produced too (`enabled`).
    let asked = enabled_types(&decoders, &opts.include, &opts.exclude)?;
    let mut enabled = asked.clone();
    enable_record_inputs(&decoders, &mut enabled, &mut notices)?;
    // DPI and resolvers. The dispatcher classifies every packet's flow (so that worker and
    // global batches carry the same `app` id) and scans DNS answers for `ip-names`; decoders
    // reach the resolvers through the host imports, answered by the installed resolver.
    let dpi_engine = crate::dpi::DpiEngine::load(&opts.dpi);
    notices.extend(dpi_engine.notice());
    let mut dpi = match dpi_engine.active() {
        true => dpi_engine.workers(1).map_err(|e| RunError::Config(e.to_string()))?.pop(),
        false => None,
    };
    let resolver =
        Arc::new(crate::resolve::Resolver::new(opts.resolve.clone(), dpi_engine.active().then(|| dpi_engine.apps())));
    notices.extend(resolver.take_warnings());
    check_resources(&decoders, &enabled, &resolver.resources)?;
    netcap_sdk::host::set_resolver(Some(resolver.clone()));
    let names = resolver.name_table();
    let mut dns_scan = crate::resolve::names::DnsScan::default();

    // Global record types, in decoder order.
    let mut types: Vec<TypeOut> = Vec::new();
    let mut type_maps: Vec<Vec<Option<usize>>> = Vec::new();
    for ((d, en), asked) in decoders.iter().zip(&enabled).zip(&asked) {
        let mut map = Vec::new();
        for ((t, on), &written) in d.spec.record_types.iter().zip(en).zip(asked) {
            if !*on {
                map.push(None);
            } else if let Some(shared) = types.iter().position(|u| u.name == t.name) {
                // Declared by an earlier decoder too (same message and schema, see
                // `plugin::check_unique_types`): one file, whose header names the first decoder.
                map.push(Some(shared));
                types[shared].written |= written;
            } else {
                map.push(Some(types.len()));
                types.push(TypeOut {
                    written,
                    name: t.name.clone(),
                    message: t.message.clone(),
                    decoder: d.spec.id.clone(),
                    decoder_version: d.spec.version.clone(),
                    wit_version: d.spec.wit_version.clone(),
                    schema: d.spec.schema.clone(),
                });
            }
        }
        type_maps.push(map);
    }

    // Lock the output directory and remove an earlier run's files (only those netcap wrote)
    // before reading any input.
    let all_names: Vec<String> =
        decoders.iter().flat_map(|d| d.spec.record_types.iter().map(|t| t.name.clone())).collect();
    let extra: Vec<&str> = [(opts.unknown_pcap, "unknown.pcap"), (opts.errors_pcap, "errors.pcap")]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
    let plan = crate::outdir::Plan { names: &all_names, extension: opts.format.extension(), extra: &extra };
    out_dir.clean(&plan)?;
    if !out_dir.removed.is_empty() {
        // Said at once: the summary comes only at the end.
        eprintln!(
            "netcap: removed the files of an earlier run in {}: {}",
            opts.out_dir.display(),
            out_dir.removed.join(", ")
        );
    }

    // Instantiate every decoder that has an enabled type: once per worker, or once on the global
    // thread (an extra worker, index `nworkers`, that gets every packet) for global decoders.
    let nworkers = opts.workers.max(1);
    let has_global =
        decoders.iter().zip(&enabled).any(|(d, en)| d.spec.kind == DecoderKind::Global && en.iter().any(|&on| on));
    let nthreads = nworkers + usize::from(has_global);
    let ticking = decoders.iter().zip(&enabled).any(|(d, en)| d.spec.kind.stateful() && en.iter().any(|&on| on));
    if !ticking {
        // Only stateful decoders read the DPI verdict and names: layer decoders alone need neither.
        dpi = None;
    }
    let mut worker_slots: Vec<Vec<Slot>> = (0..nthreads).map(|_| Vec::new()).collect();
    let mut interest: u128 = 0;
    let mut ports = dissect::PortInterests::default();
    let mut next_port_bit = 127u32;
    // Stream decoders: their own slots per worker, bit i = the i-th stream decoder.
    let mut stream_slots: Vec<Vec<Slot>> = (0..nthreads).map(|_| Vec::new()).collect();
    let mut stream_interests = crate::streams::Interests::default();
    // Set by the writer when a decoder is disabled for the run (see `worker::FaultLedger`).
    let gates: Vec<Arc<AtomicBool>> = decoders.iter().map(|_| Arc::new(AtomicBool::new(false))).collect();
    for (di, d) in decoders.iter().enumerate() {
        let names: Vec<&str> =
            d.spec.record_types.iter().zip(&enabled[di]).filter(|(_, on)| **on).map(|(t, _)| t.name.as_str()).collect();
        if names.is_empty() || d.spec.kind == DecoderKind::Record {
            continue; // record decoders: see `record_stage`
        }
        if d.spec.kind == DecoderKind::Stream {
            let (sports, any) = plugin::stream_interests(&d.spec.layers)
                .map_err(|m| RunError::Config(format!("decoder {}: {m}", d.spec.id)))?;
            let n = stream_slots[0].len();
            if n == 64 {
                return Err(RunError::Config(format!("decoder {}: more than 64 stream decoders", d.spec.id)));
            }
            stream_interests.add(1 << n, &sports, any);
            // TCP packets feed the stream decoders: they are not unknown.
            interest |= layer_bit(netcap_sdk::layer::TCP);
            let config = decoder_config(&names, &opts);
            for slots in stream_slots[..nworkers].iter_mut() {
                let instance = d
                    .factory
                    .instantiate(&config)
                    .map_err(|f| RunError::Instantiate { id: d.spec.id.clone(), message: f.message.clone() })?;
                slots.push(Slot {
                    id: d.spec.id.clone(),
                    kind: DecoderKind::Stream,
                    all: false,
                    instance,
                    layer_mask: 0,
                    type_map: type_maps[di].clone(),
                    decoder: di as u16,
                    gate: gates[di].clone(),
                    disabled: false,
                });
            }
            continue;
        }
        interest |= d.spec.layer_mask;
        let mut layer_mask = d.spec.layer_mask;
        if !d.spec.ports.is_empty() {
            if next_port_bit < dissect::PORT_BITS_START {
                return Err(RunError::Config(format!(
                    "decoder {}: more than {} decoders with port interests",
                    d.spec.id,
                    128 - dissect::PORT_BITS_START
                )));
            }
            let bit = 1u128 << next_port_bit;
            next_port_bit -= 1;
            layer_mask |= bit;
            for &(transport, port) in &d.spec.ports {
                ports.add(transport, port, bit);
            }
        }
        let config = decoder_config(&names, &opts);
        let kind = d.spec.kind;
        // A stateful decoder that names no layers gets every packet. (Unknown packets stay those
        // whose innermost layer no layer decoder wants.)
        let all = kind.stateful() && d.spec.layers.is_empty();
        let range = if kind == DecoderKind::Global { nworkers..nthreads } else { 0..nworkers };
        for slots in worker_slots[range].iter_mut() {
            let instance = d
                .factory
                .instantiate(&config)
                .map_err(|f| RunError::Instantiate { id: d.spec.id.clone(), message: f.message.clone() })?;
            slots.push(Slot {
                id: d.spec.id.clone(),
                kind,
                all,
                instance,
                layer_mask,
                type_map: type_maps[di].clone(),
                decoder: di as u16,
                gate: gates[di].clone(),
                disabled: false,
            });
        }
    }

    let records = record_stage(&decoders, &enabled, &types, &type_maps, &gates, &opts)?;
    let ntypes = types.len();
    let out_cfg = OutputConfig {
        dir: opts.out_dir.clone(),
        format: opts.format,
        input_source: source_name.clone(),
        payload: opts.payload,
        manifest: out_dir.manifest(),
    };
    let writer = Writer::new(out_cfg, types);
    let ledger = crate::worker::FaultLedger::new(decoders.iter().map(|d| d.spec.id.clone()).collect(), gates);

    // Channels and pools.
    let (result_tx, result_rx) = bounded::<WorkResult>(nthreads * 4);
    let (batch_pool_tx, batch_pool_rx) = unbounded::<Batch>();
    let (result_pool_tx, result_pool_rx) = unbounded::<WorkResult>();
    let first_ts = Arc::new(AtomicI64::new(0));
    let output_failed = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));

    let mut job_txs = Vec::with_capacity(nworkers);
    let mut worker_handles = Vec::with_capacity(nworkers);
    for (w, (slots, sslots)) in worker_slots.into_iter().zip(stream_slots).enumerate() {
        let (tx, rx) = bounded::<Job>(4);
        job_txs.push(tx);
        let mut worker = Worker::new(slots, ntypes, opts.errors_pcap, opts.limits.output_bytes);
        worker.index = w as u16;
        if !sslots.is_empty() {
            worker.streams = Some(crate::streams::StreamStage::new(
                opts.reassembly,
                sslots,
                stream_interests.clone(),
                opts.limits.output_bytes,
            ));
        }
        let (results, bpool, rpool) = (result_tx.clone(), batch_pool_tx.clone(), result_pool_rx.clone());
        let name = if w < nworkers { format!("netcap-worker-{w}") } else { "netcap-global".to_string() };
        let h = std::thread::Builder::new()
            .name(name)
            .spawn(move || worker.run(rx, results, bpool, rpool))
            .map_err(|e| RunError::Config(format!("cannot start a worker thread: {e}")))?;
        worker_handles.push(h);
    }
    drop(result_tx);

    let errors_pcap = opts.errors_pcap.then(|| PcapOut::new(opts.out_dir.join("errors.pcap"), out_dir.manifest()));
    let mut unknown_pcap =
        opts.unknown_pcap.then(|| PcapOut::new(opts.out_dir.join("unknown.pcap"), out_dir.manifest()));
    let extractor = match &opts.extract {
        None => None,
        Some(x) => Some(
            crate::extract::Extractor::new(x.clone())
                .map_err(|source| RunError::Output { path: x.dir.clone(), source })?,
        ),
    };
    let live = matches!(opts.input, Input::Live { .. });
    let flush_every = live.then_some(opts.flush_interval.max(Duration::from_millis(10)));
    let writer_handle = {
        let first_ts = first_ts.clone();
        let failed = output_failed.clone();
        std::thread::Builder::new()
            .name("netcap-writer".into())
            .spawn(move || {
                let io = WriterIo { errors_pcap, flush_every, ledger, records, extractor };
                write_loop(writer, io, result_rx, result_pool_tx, nthreads, ntypes, first_ts, failed)
            })
            .map_err(|e| RunError::Config(format!("cannot start the writer thread: {e}")))?
    };

    let progress_handle = if opts.quiet { None } else { Some(start_progress(progress.clone(), started)) };

    // Dispatch.
    let mut stats = DispatchStats::default();
    let mut d = Dissection { defrag: opts.defrag, ..Dissection::default() };
    let mut defrag = opts.defrag.then(crate::defrag::Defrag::default);
    let mut rd = Dissection::default();
    let mut batches: Vec<Batch> = (0..nthreads).map(|_| Batch::default()).collect();
    let mut next_tick: Option<i64> = None;
    let mut epoch: u64 = 0;
    let mut in_epoch = 0usize;
    let mut seq: u64 = 0;
    let mut input_error = None;
    let mut stopped = false;
    let mut last_flush = Instant::now();
    let unknown_names: Vec<String> =
        (0..128u16).map(|id| format!("no decoder for {}", dissect::layer::name(id).unwrap_or("layer"))).collect();
    let epoch_packets = EPOCH_PACKETS_PER_WORKER * nworkers;
    let flush = |batches: &mut Vec<Batch>, epoch: &mut u64, in_epoch: &mut usize| -> bool {
        for (w, b) in batches.iter_mut().enumerate() {
            let mut next = batch_pool_rx.try_recv().unwrap_or_default();
            next.clear();
            let mut full = std::mem::replace(b, next);
            full.epoch = *epoch;
            if job_txs[w].send(Job::Batch(full)).is_err() {
                return false;
            }
        }
        *epoch += 1;
        *in_epoch = 0;
        true
    };
    loop {
        if opts.stop.load(Ordering::Relaxed) || output_failed.load(Ordering::Relaxed) {
            stopped = opts.stop.load(Ordering::Relaxed);
            break;
        }
        let p = match source.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => {
                // A silent live source or FIFO: look at `stop`, and come back. Only a live
                // capture hands partial batches on (a file's output never depends on timing).
                if source.timed_out() {
                    if live && in_epoch > 0 && last_flush.elapsed() >= LIVE_FLUSH {
                        progress.store(stats.packets, Ordering::Relaxed);
                        names.publish(&mut dns_scan);
                        names.publish(&mut dns_scan);
                        if !flush(&mut batches, &mut epoch, &mut in_epoch) {
                            break;
                        }
                        last_flush = Instant::now();
                        if let Some(Err(e)) = unknown_pcap.as_mut().map(PcapOut::flush) {
                            return Err(RunError::Output { path: opts.out_dir.join("unknown.pcap"), source: e });
                        }
                    }
                    continue;
                }
                break;
            }
            // A filter that does not compile for a link type met in the file is a usage error.
            Err(e @ CaptureError::Bpf { .. }) => return Err(e.into()),
            Err(e) => {
                input_error = Some(e);
                break;
            }
        };
        if stats.first_ts.is_none() {
            stats.first_ts = Some(p.ts_nanos);
            first_ts.store(p.ts_nanos, Ordering::Relaxed);
        }
        stats.last_ts = Some(p.ts_nanos);
        stats.packets += 1;
        stats.bytes += u64::from(p.orig_len);
        dissect::dissect(p.link_type, p.data, &mut d);
        if !ports.is_empty() {
            ports.apply(p.data, &mut d);
        }
        if let Some(kind) = d.error {
            stats.errors.add(kind, 1);
        }
        let unknown = if d.unknown_link {
            stats.unknown.add("unsupported link type", 1);
            true
        } else if d.unknown_net {
            stats.unknown.add("no decoder for the network layer", 1);
            true
        } else if let Some(why) = d.undissected {
            stats.unknown.add(why, 1);
            true
        } else if let Some(inner) = d.innermost().filter(|&l| interest != 0 && interest & layer_bit(l) == 0) {
            stats.unknown.add(&unknown_names[usize::from(inner.min(127))], 1);
            true
        } else {
            false
        };
        if unknown
            && let Some(u) = &mut unknown_pcap
            && let Err(e) = u.write(p.ts_nanos, p.link_type, p.orig_len, p.data)
        {
            return Err(RunError::Output { path: opts.out_dir.join("unknown.pcap"), source: e });
        }
        if ticking {
            // Stateful decoders expire timeouts when packet time crosses a whole tick.
            let due = next_tick.is_some_and(|t| p.ts_nanos >= t);
            if due {
                for b in batches.iter_mut() {
                    b.ticks.push(Tick { index: b.starts.len() as u32, now: p.ts_nanos, seq });
                }
            }
            if due || next_tick.is_none() {
                next_tick = Some(p.ts_nanos.div_euclid(TICK_NANOS).saturating_add(1).saturating_mul(TICK_NANOS));
            }
        }
        // A fragment: into the defragmenter first, so that a fragment whose datagram's 5-tuple is
        // known goes with that flow (hash, worker, DPI flow, packet flag); the datagram it
        // completes, if any, follows it below.
        let (mut hash, mut of_flow, mut completed) = (d.hash, false, None);
        if let Some(df) = defrag.as_mut()
            && d.fragment.is_some()
        {
            completed = df.add(p.data, &d, d.hash, p.ts_nanos).map(|(_, depth, header_len)| (depth, header_len));
            if let Some(h) = df.flow_hash() {
                (hash, of_flow) = (h, true);
            }
        }
        // Partition = the low byte of the flow hash; a partition always meets the same worker, so
        // per-partition state (flow tables, TCP reassembly budgets) behaves the same for any
        // worker count.
        let w = ((hash & 0xff) % nworkers as u64) as usize;
        if ticking {
            dns_scan.scan(seq, p.data, d.layers());
        }
        let (app, guessed) = match (&mut dpi, crate::dpi::ip_layer(d.layers())) {
            (Some(dpi), Some(ip)) => {
                let app = dpi.classify(hash, p.data, ip, p.ts_nanos);
                (app, dpi.guessed(app))
            }
            _ => (0, false),
        };
        let flags = if d.error.is_some() { netcap_sdk::PACKET_FLAG_DISSECT_ERROR } else { 0 }
            | if guessed { netcap_sdk::PACKET_FLAG_APP_GUESSED } else { 0 }
            | if of_flow { netcap_sdk::PACKET_FLAG_FRAGMENT_OF_FLOW } else { 0 };
        let meta = netcap_sdk::PacketMeta {
            seq,
            ts_nanos: p.ts_nanos,
            flow: hash,
            app,
            link_type: p.link_type,
            orig_len: p.orig_len,
        };
        let targets = if has_global { [Some(w), Some(nworkers)] } else { [Some(w), None] };
        for t in targets.into_iter().flatten() {
            let b = &mut batches[t];
            let start = b.data.len();
            b.starts.push(start as u32);
            b.masks.push(d.mask);
            b.flows.push(hash);
            b.any_mask |= d.mask;
            netcap_sdk::push_packet_with(&mut b.data, meta, d.layers(), p.data);
            if flags != 0 {
                netcap_sdk::set_packet_flags(&mut b.data, start, flags);
            }
        }
        seq += 1;
        in_epoch += 1;
        // A fragment that completes a datagram: the datagram follows as an entry of its own (for
        // the flow workers only: global decoders count the fragments).
        if let Some(df) = defrag.as_ref()
            && let Some((depth, header_len)) = completed
        {
            let dgram = df.datagram();
            dissect::dissect(dissect::linktype::RAW, dgram, &mut rd);
            crate::defrag::mark_seen(&mut rd, header_len, depth);
            if !ports.is_empty() {
                ports.apply(dgram, &mut rd);
            }
            if let Some(kind) = rd.error {
                stats.errors.add(kind, 1);
            }
            // Inside a tunnel the datagram stays with the outer flow.
            let hash = if depth == 0 { rd.hash } else { d.hash };
            let b = &mut batches[((hash & 0xff) % nworkers as u64) as usize];
            let start = b.data.len();
            b.starts.push(start as u32);
            b.masks.push(rd.mask);
            b.flows.push(hash);
            b.any_mask |= rd.mask;
            let meta = netcap_sdk::PacketMeta {
                seq,
                ts_nanos: p.ts_nanos,
                flow: hash,
                app: 0,
                link_type: dissect::linktype::RAW,
                orig_len: dgram.len() as u32,
            };
            netcap_sdk::push_packet_with(&mut b.data, meta, rd.layers(), dgram);
            let error = if rd.error.is_some() { netcap_sdk::PACKET_FLAG_DISSECT_ERROR } else { 0 };
            netcap_sdk::set_packet_flags(&mut b.data, start, netcap_sdk::PACKET_FLAG_REASSEMBLED | error);
            seq += 1;
            in_epoch += 1;
        }
        let b = &batches[w];
        let global_full = has_global && batches[nworkers].data.len() >= EPOCH_BATCH_BYTES * nworkers;
        if in_epoch >= epoch_packets || b.data.len() >= EPOCH_BATCH_BYTES || global_full {
            progress.store(stats.packets, Ordering::Relaxed);
            names.publish(&mut dns_scan);
            if !flush(&mut batches, &mut epoch, &mut in_epoch) {
                break;
            }
            last_flush = Instant::now();
        }
    }
    if in_epoch > 0 {
        names.publish(&mut dns_scan);
        flush(&mut batches, &mut epoch, &mut in_epoch);
    }
    stats.dropped = source.dropped();
    if let Some(df) = defrag.as_mut() {
        df.finish();
        stats.defrag = df.stats.clone();
    }
    drop(source);
    for tx in &job_txs {
        let _ = tx.send(Job::Finish { epoch });
    }
    drop(job_txs);
    let mut wstats = WorkerStats::default();
    for h in worker_handles {
        match h.join() {
            Ok(s) => wstats.merge(&s),
            Err(_) => wstats.faults.add("worker: panic", 1),
        }
    }
    let (written, mut output_error, pcap_notices, ledger, record_stats) = writer_handle.join().unwrap_or_else(|_| {
        (
            Vec::new(),
            Some("the writer thread panicked".into()),
            Vec::new(),
            crate::worker::FaultLedger::new(Vec::new(), Vec::new()),
            WorkerStats::default(),
        )
    });
    wstats.merge(&record_stats);
    notices.extend(pcap_notices);
    wstats.faults.merge(&ledger.faults);
    wstats.first_faults = ledger.first;
    wstats.disabled = ledger.disabled;
    if let Some(u) = unknown_pcap {
        let (n, skipped) = (u.written, u.skipped);
        match u.finish() {
            Ok(Some(path)) => notices.push(pcap_notice(n, skipped, &path)),
            Ok(None) => {}
            Err(e) => output_error = output_error.or(Some(format!("unknown.pcap: {e}"))),
        }
    }
    if let Some((stop, h)) = progress_handle {
        stop.store(true, Ordering::Relaxed);
        h.thread().unpark();
        let _ = h.join();
    }
    for d in &decoders {
        let (shown, total) = plugin::wasm::drain_logs(&d.logs);
        let n = shown.len() as u64;
        notices.extend(shown);
        if total > n {
            notices.push(format!("decoder {} logged {total} lines; only the first are shown", d.spec.id));
        }
    }
    notices.extend(resolver.finish_warnings());
    netcap_sdk::host::set_resolver(None);
    drop(dpi);
    drop(runtime);
    Ok(Summary {
        source: source_name,
        dispatch: stats,
        workers: wstats,
        types: written
            .into_iter()
            .map(|(name, records, path, incomplete)| TypeCount {
                name,
                records,
                path: path.display().to_string(),
                incomplete,
            })
            .collect(),
        // A live capture ends with a signal; a file capture stopped by one is partial.
        interrupted: stopped && !live,
        elapsed: started.elapsed(),
        worker_count: nworkers,
        input_error: input_error.map(|e| format!("{e}")),
        output_error,
        notices,
    })
}

/// The writer thread: merges each epoch's results once every worker has delivered it.
fn pcap_notice(n: u64, skipped: u64, path: &std::path::Path) -> String {
    let mut s = format!("wrote {n} packets to {}", path.display());
    if skipped > 0 {
        s.push_str(&format!(" ({skipped} packets of another link type left out)"));
    }
    s
}

/// What the writer thread leaves: (record type, records, file) per written type, the first
/// output error, notices about the pcaps it wrote, and the decoder faults of the run.
type WriteOutcome = (Vec<output::Written>, Option<String>, Vec<String>, crate::worker::FaultLedger, WorkerStats);

/// The writer thread's other output and state: `errors.pcap`, how often to write files out
/// (live), and the run's decoder faults, counted in packet order as epochs are merged.
struct WriterIo {
    errors_pcap: Option<PcapOut>,
    flush_every: Option<Duration>,
    ledger: crate::worker::FaultLedger,
    /// Record decoders, run on each merged epoch.
    records: Option<crate::records::RecordStage>,
    /// `--extract-files`.
    extractor: Option<crate::extract::Extractor>,
}

#[allow(clippy::too_many_arguments, reason = "the writer thread's whole context")]
fn write_loop(
    mut writer: Writer,
    io: WriterIo,
    results: crossbeam_channel::Receiver<WorkResult>,
    pool: crossbeam_channel::Sender<WorkResult>,
    nworkers: usize,
    ntypes: usize,
    first_ts: Arc<AtomicI64>,
    failed: Arc<AtomicBool>,
) -> WriteOutcome {
    let mut pending: BTreeMap<u64, Vec<WorkResult>> = BTreeMap::new();
    let mut next = 0u64;
    let mut error: Option<String> = None;
    let mut created_set = false;
    let WriterIo { mut errors_pcap, flush_every, mut ledger, mut records, mut extractor } = io;
    let mut last_flush = Instant::now();
    loop {
        // Live captures: every file is written out at least every `flush_every`, also when no
        // result arrives.
        let res = match flush_every {
            None => results.recv().ok(),
            Some(every) => match results.recv_timeout(every.saturating_sub(last_flush.elapsed())) {
                Ok(r) => Some(r),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            },
        };
        if let Some(every) = flush_every
            && last_flush.elapsed() >= every
        {
            last_flush = Instant::now();
            if error.is_none()
                && let Err(e) = writer.flush().and_then(|()| errors_pcap.as_mut().map_or(Ok(()), PcapOut::flush))
            {
                error = Some(e.to_string());
                failed.store(true, Ordering::Relaxed);
            }
        }
        let Some(res) = res else {
            if flush_every.is_some() {
                continue;
            }
            break;
        };
        pending.entry(res.epoch).or_default().push(res);
        while pending.get(&next).is_some_and(|v| v.len() == nworkers) {
            let mut group = pending.remove(&next).unwrap_or_default();
            ledger.apply(&mut group);
            if let Some(stage) = records.as_mut() {
                let mut r = stage.epoch(&group);
                ledger.apply(std::slice::from_mut(&mut r));
                group.push(r);
            }
            if let Some(x) = extractor.as_mut()
                && error.is_none()
                && let Err(e) = x.apply(&mut group)
            {
                error = Some(format!("extracted files: {e}"));
                failed.store(true, Ordering::Relaxed);
            }
            if !created_set {
                writer.set_created(first_ts.load(Ordering::Relaxed));
                created_set = true;
            }
            if error.is_none() {
                for t in 0..ntypes {
                    let runs: Vec<&crate::worker::Run> = group.iter().filter_map(|r| r.runs.get(t)).collect();
                    if let Err(e) = writer.write_runs(t, &runs) {
                        error = Some(e.to_string());
                        failed.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
            if let Some(pcap) = &mut errors_pcap
                && error.is_none()
                && let Err(e) = write_error_packets(pcap, &group)
            {
                error = Some(format!("errors.pcap: {e}"));
                failed.store(true, Ordering::Relaxed);
            }
            for r in group {
                let _ = pool.try_send(r);
            }
            next += 1;
        }
    }
    let mut record_stats = WorkerStats::default();
    if let Some(mut stage) = records {
        let mut r = stage.finish();
        ledger.apply(std::slice::from_mut(&mut r));
        if let Some(x) = extractor.as_mut()
            && error.is_none()
            && let Err(e) = x.apply(std::slice::from_mut(&mut r))
        {
            error = Some(format!("extracted files: {e}"));
        }
        for (t, run) in r.runs.iter().enumerate() {
            if error.is_none()
                && let Err(e) = writer.write_runs(t, &[run])
            {
                error = Some(e.to_string());
            }
        }
        record_stats = stage.stats;
    }
    let (done, finish_err) = writer.finish();
    if error.is_none() {
        error = finish_err.map(|e| e.to_string());
    }
    let mut notices = Vec::new();
    if let Some(x) = extractor {
        notices.extend(x.finish().1);
    }
    if let Some(pcap) = errors_pcap {
        let (n, skipped) = (pcap.written, pcap.skipped);
        match pcap.finish() {
            Ok(Some(path)) => notices.push(pcap_notice(n, skipped, &path)),
            Ok(None) => {}
            Err(e) => error = error.or(Some(format!("errors.pcap: {e}"))),
        }
    }
    (done, error, notices, ledger, record_stats)
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

/// A progress line on stderr: redrawn every second on a terminal, every 10 s otherwise, and
/// only once a run has lasted a few seconds.
fn start_progress(packets: Arc<AtomicU64>, started: Instant) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
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
            let n = packets.load(Ordering::Relaxed);
            let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let line = format!("{} packets, {} packets/s", crate::stats::group(n), crate::stats::group(rate as u64));
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
