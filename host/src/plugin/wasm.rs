//! The WebAssembly backend: one wasmtime `Engine`, one compiled `Component` + `InstancePre` per
//! decoder shared by all workers, and one `Store` + instance per (worker, decoder).
//!
//! Sandbox: components get no WASI at all, only `netcap:decoder/host` (a rate-limited `log` and
//! the resolvers); a `StoreLimits` memory cap per instance; fuel per call (the work it may do,
//! proportional to its input: deterministic), and a wall-clock safety net by epoch interruption,
//! driven by a ticker thread. A trap or limit hit poisons only that instance: the worker reports
//! the fault and restarts the instance from its `InstancePre`.
//!
//! Two contract versions load: 0.3 (current, `wit/decoder.wit`) and 0.2 (`wit/v0.2`, frozen);
//! [`Bound`] hides which one an instance speaks.
//!
//! Compiled code is cached (`cache_dir`): a component's machine code is stored under the SHA-256
//! of its bytes and wasmtime's compatibility hash of the engine configuration, so a second start
//! with the same plugins skips Cranelift entirely.

use super::{DecoderFactory, DecoderInstance, DecoderSpec, Fault, FaultKind, Limits, LoadedDecoder, PluginError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
    });
}

/// The frozen 0.2 contract: older plugins keep loading.
mod bindings_v02 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "plugin",
    });
}

use bindings::netcap::decoder::host;
use bindings_v02::netcap::decoder::host as host_v02;

/// Epoch ticker period.
const TICK: Duration = Duration::from_millis(10);
/// Log lines shown per decoder before further ones are only counted.
const MAX_LOG_LINES: u64 = 10;

/// Per-store host state.
struct HostState {
    limits: StoreLimits,
    decoder: Arc<str>,
    logs: Arc<LogCounter>,
    /// The resource names the decoder declared: the only ones `read-resource` answers.
    resources: Arc<[String]>,
}

/// Log lines a decoder sent, shared by its instances.
#[derive(Default)]
pub struct LogCounter {
    pub lines: AtomicU64,
    pub shown: Mutex<Vec<String>>,
}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) {
        let n = self.logs.lines.fetch_add(1, Ordering::Relaxed);
        if n < MAX_LOG_LINES {
            let lvl = match level {
                host::Level::Error => "error",
                host::Level::Warn => "warn",
                host::Level::Info => "info",
                host::Level::Debug => "debug",
            };
            let line: String = message.chars().take(500).collect();
            if let Ok(mut v) = self.logs.shown.lock() {
                v.push(format!("decoder {} {lvl}: {line}", self.decoder));
            }
        }
    }

    // The resolvers answer from the process's resolver (installed by the capture, see
    // `crate::resolve`), the same one natively linked decoders use.
    fn mac_vendor(&mut self, mac: Vec<u8>) -> Option<String> {
        netcap_sdk::host::mac_vendor(&mac)
    }

    fn service_name(&mut self, transport: String, port: u16) -> Option<String> {
        netcap_sdk::host::service_name(&transport, port)
    }

    fn app_info(&mut self, id: u16) -> Option<host::App> {
        netcap_sdk::host::app_info(id).map(|a| host::App {
            protocol: a.protocol,
            master: a.master,
            category: a.category,
            engine: a.engine,
        })
    }

    fn geo(&mut self, ip: String) -> Option<host::Location> {
        netcap_sdk::host::geo(&ip).map(|g| host::Location {
            country: g.country,
            city: g.city,
            asn: g.asn,
            as_org: g.as_org,
        })
    }

    fn ip_names(&mut self, ip: String, before_seq: u64) -> Vec<String> {
        netcap_sdk::host::ip_names(&ip, before_seq)
    }

    fn fingerprint_description(&mut self, kind: String, hash: String) -> Option<String> {
        netcap_sdk::host::fingerprint_description(&kind, &hash)
    }

    fn read_resource(&mut self, name: String) -> Result<Vec<u8>, String> {
        if !self.resources.contains(&name) {
            return Err(format!("resource {name:?} is not declared in decoder-info.resources"));
        }
        netcap_sdk::host::read_resource(&name)
    }
}

/// The 0.2 host interface: the 0.3 one without `read-resource`.
impl host_v02::Host for HostState {
    fn log(&mut self, level: host_v02::Level, message: String) {
        let level = match level {
            host_v02::Level::Error => host::Level::Error,
            host_v02::Level::Warn => host::Level::Warn,
            host_v02::Level::Info => host::Level::Info,
            host_v02::Level::Debug => host::Level::Debug,
        };
        host::Host::log(self, level, message);
    }

    fn mac_vendor(&mut self, mac: Vec<u8>) -> Option<String> {
        host::Host::mac_vendor(self, mac)
    }

    fn service_name(&mut self, transport: String, port: u16) -> Option<String> {
        host::Host::service_name(self, transport, port)
    }

    fn app_info(&mut self, id: u16) -> Option<host_v02::App> {
        host::Host::app_info(self, id).map(|a| host_v02::App {
            protocol: a.protocol,
            master: a.master,
            category: a.category,
            engine: a.engine,
        })
    }

    fn geo(&mut self, ip: String) -> Option<host_v02::Location> {
        host::Host::geo(self, ip).map(|g| host_v02::Location {
            country: g.country,
            city: g.city,
            asn: g.asn,
            as_org: g.as_org,
        })
    }

    fn ip_names(&mut self, ip: String, before_seq: u64) -> Vec<String> {
        host::Host::ip_names(self, ip, before_seq)
    }

    fn fingerprint_description(&mut self, kind: String, hash: String) -> Option<String> {
        host::Host::fingerprint_description(self, kind, hash)
    }
}

/// An instance of either contract version.
enum Bound {
    V03(bindings::Plugin),
    V02(bindings_v02::Plugin),
}

/// A pre-linked component of either contract version.
#[derive(Clone)]
enum BoundPre {
    V03(bindings::PluginPre<HostState>),
    V02(bindings_v02::PluginPre<HostState>),
}

impl BoundPre {
    fn new(pre: wasmtime::component::InstancePre<HostState>, legacy: bool) -> wasmtime::Result<Self> {
        Ok(match legacy {
            false => BoundPre::V03(bindings::PluginPre::new(pre)?),
            true => BoundPre::V02(bindings_v02::PluginPre::new(pre)?),
        })
    }

    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Bound> {
        Ok(match self {
            BoundPre::V03(p) => Bound::V03(p.instantiate(store)?),
            BoundPre::V02(p) => Bound::V02(p.instantiate(store)?),
        })
    }
}

impl Bound {
    fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<netcap_sdk::DecoderInfo> {
        Ok(match self {
            Bound::V03(b) => info_v03(b.netcap_decoder_decoder().call_describe(store)?),
            Bound::V02(b) => info_v02(b.netcap_decoder_decoder().call_describe(store)?),
        })
    }

    fn init(&self, store: &mut Store<HostState>, config: &[(String, String)]) -> wasmtime::Result<Result<(), String>> {
        match self {
            Bound::V03(b) => b.netcap_decoder_decoder().call_init(store, config),
            Bound::V02(b) => b.netcap_decoder_decoder().call_init(store, config),
        }
    }

    fn decode(&self, store: &mut Store<HostState>, batch: &[u8]) -> wasmtime::Result<Vec<u8>> {
        match self {
            Bound::V03(b) => b.netcap_decoder_decoder().call_decode(store, batch),
            Bound::V02(b) => b.netcap_decoder_decoder().call_decode(store, batch),
        }
    }

    fn tick(&self, store: &mut Store<HostState>, now: i64, seq: u64) -> wasmtime::Result<Vec<u8>> {
        match self {
            Bound::V03(b) => b.netcap_decoder_decoder().call_tick(store, now, seq),
            Bound::V02(b) => b.netcap_decoder_decoder().call_tick(store, now, seq),
        }
    }

    fn finish(&self, store: &mut Store<HostState>) -> wasmtime::Result<Vec<u8>> {
        match self {
            Bound::V03(b) => b.netcap_decoder_decoder().call_finish(store),
            Bound::V02(b) => b.netcap_decoder_decoder().call_finish(store),
        }
    }
}

fn sdk_kind(k: bindings::exports::netcap::decoder::decoder::DecoderKind) -> netcap_sdk::Kind {
    use bindings::exports::netcap::decoder::decoder::DecoderKind as K;
    match k {
        K::Layer => netcap_sdk::Kind::Layer,
        K::Packet => netcap_sdk::Kind::Packet,
        K::Global => netcap_sdk::Kind::Global,
        K::Stream => netcap_sdk::Kind::Stream,
        K::Record => netcap_sdk::Kind::Record,
    }
}

fn info_v03(i: bindings::exports::netcap::decoder::decoder::DecoderInfo) -> netcap_sdk::DecoderInfo {
    let types = |v: Vec<bindings::exports::netcap::decoder::decoder::RecordType>| {
        v.into_iter().map(|t| netcap_sdk::RecordType { name: t.name, message: t.message }).collect()
    };
    netcap_sdk::DecoderInfo {
        name: i.name,
        version: i.version,
        kind: sdk_kind(i.kind),
        layers: i.layers,
        record_types: types(i.record_types),
        schema: i.schema,
        consumes: types(i.consumes),
        resources: i
            .resources
            .into_iter()
            .map(|r| netcap_sdk::ResourceNeed { name: r.name, description: r.description, required: r.required })
            .collect(),
        mergeable: i.mergeable,
    }
}

fn info_v02(i: bindings_v02::exports::netcap::decoder::decoder::DecoderInfo) -> netcap_sdk::DecoderInfo {
    use bindings_v02::exports::netcap::decoder::decoder::DecoderKind as K;
    netcap_sdk::DecoderInfo {
        name: i.name,
        version: i.version,
        kind: match i.kind {
            K::Layer => netcap_sdk::Kind::Layer,
            K::Packet => netcap_sdk::Kind::Packet,
            K::Global => netcap_sdk::Kind::Global,
            K::Stream => netcap_sdk::Kind::Stream,
        },
        layers: i.layers,
        record_types: i
            .record_types
            .into_iter()
            .map(|t| netcap_sdk::RecordType { name: t.name, message: t.message })
            .collect(),
        schema: i.schema,
        ..Default::default()
    }
}

/// The component in the file at `path`. A core WebAssembly module (what `cargo build --target
/// wasm32-unknown-unknown` writes for a plugin crate) is made a component here, from the
/// component type section wit-bindgen embeds in it; a module without one is refused, saying so.
fn read_component(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    // Preamble: magic, then version 1 with layer 0 (core module) or version 13 with layer 1.
    if bytes.get(..8) != Some(&[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00][..]) {
        return Ok(bytes);
    }
    wit_component::ComponentEncoder::default().module(&bytes).and_then(|e| e.validate(true).encode()).map_err(|e| {
        format!(
            "a core WebAssembly module that cannot be made a netcap component ({}); build the plugin \
                 crate with the netcap SDK (its wit-bindgen glue embeds the component type)",
            format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ")
        )
    })
}

/// An error chain on one line (wasmtime's parse errors print byte arrays over many lines).
fn one_line(e: &wasmtime::Error) -> String {
    format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `netcap plugins inspect`: a component's interface and the decoder it is.
pub struct Inspection {
    pub size: u64,
    pub sha256: String,
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    /// The loaded decoder, or why the host refuses it.
    pub decoder: Result<LoadedDecoder, PluginError>,
}

/// The shared engine and its epoch ticker.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
    cache: Option<std::path::PathBuf>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Runtime {
    /// Creates the engine (epoch interruption on) and starts the ticker.
    pub fn new(limits: Limits) -> Result<Self, PluginError> {
        let mut cfg = Config::new();
        // `--decoder-timeout 0` turns the wall-clock net off, and with it the epoch checks in the
        // generated code (what the benchmark's limits-off row measures).
        cfg.epoch_interruption(limits.deadline_ms > 0);
        // Fuel: whether a call completes depends on its input only, never on machine load.
        cfg.consume_fuel(limits.fuel > 0);
        cfg.wasm_component_model(true);
        let engine =
            Engine::new(&cfg).map_err(|e| PluginError::Load { path: "<engine>".into(), message: format!("{e:#}") })?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        let link_err = |e: wasmtime::Error| PluginError::Load { path: "<linker>".into(), message: format!("{e:#}") };
        bindings::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(link_err)?;
        bindings_v02::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(link_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("netcap-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(TICK);
                        engine.increment_epoch();
                    }
                })
                .ok()
        };
        let cache = super::cache_dir();
        Ok(Runtime { engine, linker, limits, cache, stop, ticker })
    }

    /// The compiled component: from the cache when it has it, else compiled (and cached).
    #[allow(unsafe_code, reason = "loading our own precompiled code; see the SAFETY comment")]
    fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        use sha2::Digest as _;
        use std::hash::{Hash as _, Hasher as _};
        let Some(dir) = &self.cache else { return Component::new(&self.engine, bytes) };
        let mut engine_hash = std::hash::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut engine_hash);
        let digest = sha2::Sha256::digest(bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let file = dir.join(format!("{hex}-{:016x}.cwasm", engine_hash.finish()));
        if file.is_file() {
            // SAFETY: `deserialize_file` runs the machine code in the file as the component's.
            // The file is one this function wrote (atomically, by rename) into the user's own
            // cache directory, for exactly these component bytes (SHA-256 in the name) and this
            // engine configuration (wasmtime's compatibility hash in the name; wasmtime also
            // checks its version and configuration in the file's header and refuses a mismatch).
            // Anyone able to write there can already run code as this user.
            if let Ok(c) = unsafe { Component::deserialize_file(&self.engine, &file) } {
                return Ok(c);
            }
        }
        let c = Component::new(&self.engine, bytes)?;
        if let Ok(code) = c.serialize() {
            let tmp = dir.join(format!(".{hex}.{}.tmp", std::process::id()));
            if std::fs::write(&tmp, code).is_ok() && std::fs::rename(&tmp, &file).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Ok(c)
    }

    /// Compiles and describes the component at `path`, checking its contract version first.
    pub fn load(&self, path: &Path) -> Result<LoadedDecoder, PluginError> {
        let load_err = |m: String| PluginError::Load { path: path.into(), message: m };
        let bytes = read_component(path).map_err(load_err)?;
        let component =
            self.compile(&bytes).map_err(|e| load_err(format!("not a WebAssembly component: {}", one_line(&e))))?;
        let wit = exported_version(&self.engine, &component).ok_or_else(|| {
            load_err(format!("not a netcap decoder: it does not export {}", super::DECODER_INTERFACE))
        })?;
        let minor = wit.rsplit_once('.').map_or(wit.as_str(), |(mm, _)| mm).to_string();
        let legacy = super::LEGACY_WIT.contains(&minor.as_str());
        if minor != super::SUPPORTED_WIT && !legacy {
            // Named before anything else: an incompatible contract may not even instantiate.
            return Err(PluginError::UnsupportedVersion {
                path: path.into(),
                id: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                wit,
            });
        }
        // The sandbox: the host interface is all a decoder may import. Checked here, by name,
        // so that the refusal says what was asked for (linking would fail anyway).
        let allowed = format!("{}@{minor}.", super::HOST_INTERFACE);
        for (name, _) in component.component_type().imports(&self.engine) {
            if !name.starts_with(&allowed) {
                return Err(load_err(format!(
                    "imports {name}, which the sandbox does not offer (decoders may import only \
                     {allowed}x: no files, network, clock, randomness or environment)"
                )));
            }
        }
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            load_err(format!("cannot be linked (it may import something the sandbox does not offer): {e:#}"))
        })?;
        let pre = BoundPre::new(pre, legacy).map_err(|e| load_err(format!("{e:#}")))?;
        // Describe it with a throwaway instance.
        let logs = Arc::new(LogCounter::default());
        let info = {
            let mut store = self.store("<describe>".into(), logs.clone(), Arc::from([]));
            let inst = pre.instantiate(&mut store).map_err(|e| load_err(format!("{e:#}")))?;
            inst.describe(&mut store).map_err(|e| load_err(format!("describe failed: {e:#}")))?
        };
        let name = info.name.clone();
        let spec = DecoderSpec::from_info(info, wit, path.display().to_string())
            .and_then(|spec| super::check_schema(&spec).map(|()| spec))
            .map_err(|m| load_err(format!("decoder {name}: {m}")))?;
        let factory = WasmFactory {
            engine: self.engine.clone(),
            pre,
            limits: self.limits,
            decoder: spec.id.as_str().into(),
            logs: logs.clone(),
            resources: spec.resources.iter().map(|r| r.name.clone()).collect(),
        };
        Ok(LoadedDecoder { spec, factory: Arc::new(factory), logs })
    }

    /// What a component file exports and imports, and the decoder it is (or why it is refused).
    pub fn inspect(&self, path: &Path) -> Result<Inspection, PluginError> {
        use sha2::Digest as _;
        let load_err = |m: String| PluginError::Load { path: path.into(), message: m };
        let bytes = read_component(path).map_err(load_err)?;
        let component =
            self.compile(&bytes).map_err(|e| load_err(format!("not a WebAssembly component: {}", one_line(&e))))?;
        let ty = component.component_type();
        Ok(Inspection {
            size: bytes.len() as u64,
            sha256: sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect(),
            exports: ty.exports(&self.engine).map(|(n, _)| n.to_string()).collect(),
            imports: ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect(),
            decoder: self.load(path),
        })
    }

    fn store(&self, decoder: Arc<str>, logs: Arc<LogCounter>, resources: Arc<[String]>) -> Store<HostState> {
        new_store(&self.engine, self.limits, decoder, logs, resources)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn new_store(
    engine: &Engine,
    limits: Limits,
    decoder: Arc<str>,
    logs: Arc<LogCounter>,
    resources: Arc<[String]>,
) -> Store<HostState> {
    let state = HostState {
        limits: StoreLimitsBuilder::new()
            .memory_size(if limits.memory_bytes == 0 { usize::MAX } else { limits.memory_bytes })
            .instances(16)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build(),
        decoder,
        logs,
        resources,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    arm(&mut store, limits, 0);
    store
}

/// Gives a call on `input` bytes its fuel and a fresh wall-clock deadline.
fn arm(store: &mut Store<HostState>, limits: Limits, input: usize) {
    store.set_epoch_deadline(deadline_ticks(limits));
    if limits.fuel > 0 {
        // Cannot fail: fuel is enabled in the engine whenever `limits.fuel > 0`.
        let _ = store.set_fuel(limits.fuel_for(input));
    }
}

fn deadline_ticks(limits: Limits) -> u64 {
    if limits.deadline_ms == 0 {
        return u64::MAX; // no deadline (and no epoch checks compiled in)
    }
    (limits.deadline_ms / TICK.as_millis() as u64).max(1)
}

/// The version of the `netcap:decoder/decoder` interface a component exports, e.g. "0.1.0".
pub fn exported_version(engine: &Engine, component: &Component) -> Option<String> {
    let ty = component.component_type();
    for (name, _) in ty.exports(engine) {
        if let Some(v) = name.strip_prefix(super::DECODER_INTERFACE).and_then(|r| r.strip_prefix('@')) {
            return Some(v.to_string());
        }
    }
    None
}

#[derive(Clone)]
struct WasmFactory {
    engine: Engine,
    pre: BoundPre,
    limits: Limits,
    decoder: Arc<str>,
    logs: Arc<LogCounter>,
    resources: Arc<[String]>,
}

impl WasmFactory {
    fn start(&self, config: &[(String, String)]) -> Result<(Store<HostState>, Bound), Fault> {
        let init_fault = |m: String| Fault { kind: FaultKind::Init, message: m };
        let mut store =
            new_store(&self.engine, self.limits, self.decoder.clone(), self.logs.clone(), self.resources.clone());
        let inst = self.pre.instantiate(&mut store).map_err(|e| init_fault(format!("{e:#}")))?;
        arm(&mut store, self.limits, 0);
        inst.init(&mut store, config)
            .map_err(|e| classify(&e))?
            .map_err(|m| init_fault(format!("init refused: {m}")))?;
        Ok((store, inst))
    }
}

impl DecoderFactory for WasmFactory {
    fn instantiate(&self, config: &[(String, String)]) -> Result<Box<dyn DecoderInstance>, Fault> {
        let (store, inst) = self.start(config)?;
        Ok(Box::new(WasmInstance { factory: self.clone(), config: config.to_vec(), store, inst }))
    }
}

struct WasmInstance {
    factory: WasmFactory,
    config: Vec<(String, String)>,
    store: Store<HostState>,
    inst: Bound,
}

/// Classifies a wasmtime error into a fault kind; the message is its root cause (the trap or
/// limit), without wasm backtrace.
fn classify(e: &wasmtime::Error) -> Fault {
    let full = format!("{e:#}");
    let message = e.root_cause().to_string();
    let kind = match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => FaultKind::Deadline,
        Some(wasmtime::Trap::OutOfFuel) => FaultKind::Fuel,
        Some(_) => FaultKind::Trap,
        None if full.contains("growing memory") || full.contains("memory") && full.contains("limit") => {
            FaultKind::MemoryLimit
        }
        None => FaultKind::Trap,
    };
    Fault { kind, message }
}

impl WasmInstance {
    fn arm(&mut self) {
        arm(&mut self.store, self.factory.limits, 0);
    }
}

impl DecoderInstance for WasmInstance {
    fn decode(&mut self, batch: &[u8]) -> Result<Vec<u8>, Fault> {
        arm(&mut self.store, self.factory.limits, batch.len());
        self.inst.decode(&mut self.store, batch).map_err(|e| classify(&e))
    }

    fn tick(&mut self, now_nanos: i64, seq: u64) -> Result<Vec<u8>, Fault> {
        self.arm();
        self.inst.tick(&mut self.store, now_nanos, seq).map_err(|e| classify(&e))
    }

    fn finish(&mut self) -> Result<Vec<u8>, Fault> {
        self.arm();
        self.inst.finish(&mut self.store).map_err(|e| classify(&e))
    }

    fn restart(&mut self) -> Result<(), Fault> {
        let (store, inst) = self.factory.start(&self.config)?;
        self.store = store;
        self.inst = inst;
        Ok(())
    }
}

/// Log lines shown by a decoder, drained for the summary.
pub fn drain_logs(counter: &LogCounter) -> (Vec<String>, u64) {
    let shown = counter.shown.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default();
    (shown, counter.lines.load(Ordering::Relaxed))
}
