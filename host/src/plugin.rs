//! Decoders: finding and loading them, checking their contract version, and running them behind
//! one flat-batch interface whatever their backend (a sandboxed WebAssembly component, or the same
//! decoder crate linked natively for benchmarks).
//!
//! The standard decoders are `.wasm` components found next to the binary (see
//! [`standard_plugin_dirs`]); `--plugins DIR` adds more. A decoder declares its record types,
//! which must be unique across loaded decoders, and the layers it wants; the worker only calls it
//! for batches that contain such a layer.

pub mod native;
pub mod wasm;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The WIT contract version this host implements: `netcap:decoder@0.3.x`.
pub const SUPPORTED_WIT: &str = "0.3";
/// Older contract versions whose plugins still load (through the frozen `wit/v0.2` bindings).
pub const LEGACY_WIT: &[&str] = &["0.2"];
/// The exported interface a decoder component must have, without its version.
pub const DECODER_INTERFACE: &str = "netcap:decoder/decoder";
/// The interface the host offers to decoders (the only one they may import).
pub const HOST_INTERFACE: &str = "netcap:decoder/host";

/// A record type of a decoder.
#[derive(Debug, Clone)]
pub struct RecordTypeInfo {
    pub name: String,
    pub message: String,
}

/// What a decoder says about itself (WIT `decoder-info`) plus where it came from.
#[derive(Debug, Clone)]
pub struct DecoderSpec {
    pub id: String,
    pub version: String,
    pub kind: DecoderKind,
    pub layers: Vec<String>,
    /// Bit set of the layer ids in `layers`.
    pub layer_mask: u128,
    /// The port interests in `layers` (`udp:53`): (transport layer id, port).
    pub ports: Vec<(u16, u16)>,
    pub record_types: Vec<RecordTypeInfo>,
    /// Serialized FileDescriptorSet.
    pub schema: Arc<Vec<u8>>,
    /// Record decoders: the record types they read (name, expected message or empty).
    pub consumes: Vec<RecordTypeInfo>,
    /// Data files the decoder reads (`read-resource`).
    pub resources: Vec<netcap_sdk::ResourceNeed>,
    /// Global decoders: whether the state can be saved in parts and merged.
    pub mergeable: bool,
    pub wit_version: String,
    /// The `.wasm` file, or `native`.
    pub source: String,
}

/// How the host feeds a decoder (WIT `decoder-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderKind {
    /// Packets with a wanted layer; no state across packets.
    Layer,
    /// Whole packets of the flows of one worker; ticks and finish.
    Packet,
    /// Every packet, in one instance on its own thread; ticks and finish.
    Global,
    /// Reassembled TCP streams.
    Stream,
    /// Other decoders' records, in the canonical output order; one instance, in the writer.
    Record,
}

impl DecoderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecoderKind::Layer => "layer",
            DecoderKind::Packet => "packet",
            DecoderKind::Global => "global",
            DecoderKind::Stream => "stream",
            DecoderKind::Record => "record",
        }
    }

    /// Whether the decoder keeps state across packets and gets `tick` (record decoders see no
    /// packets).
    pub fn stateful(self) -> bool {
        !matches!(self, DecoderKind::Layer | DecoderKind::Record)
    }

    fn from_sdk(k: netcap_sdk::Kind) -> Self {
        match k {
            netcap_sdk::Kind::Layer => DecoderKind::Layer,
            netcap_sdk::Kind::Packet => DecoderKind::Packet,
            netcap_sdk::Kind::Global => DecoderKind::Global,
            netcap_sdk::Kind::Stream => DecoderKind::Stream,
            netcap_sdk::Kind::Record => DecoderKind::Record,
        }
    }
}

impl std::fmt::Display for DecoderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DecoderSpec {
    /// The spec of a decoder that described itself as `info` (the SDK's form of WIT
    /// `decoder-info`); an error names what is wrong with its interests or resources.
    pub fn from_info(info: netcap_sdk::DecoderInfo, wit_version: String, source: String) -> Result<Self, String> {
        let kind = DecoderKind::from_sdk(info.kind);
        let (layer_mask, ports) = match kind {
            DecoderKind::Stream => stream_interests(&info.layers).map(|_| (0, Vec::new()))?,
            DecoderKind::Record if !info.layers.is_empty() => {
                return Err("a record decoder names the record types it reads in `consumes`, not layers".into());
            }
            DecoderKind::Record => (0, Vec::new()),
            _ => layer_mask(&info.layers)?,
        };
        if kind == DecoderKind::Record && info.consumes.is_empty() {
            return Err("a record decoder must name at least one record type in `consumes`".into());
        }
        for r in &info.resources {
            let ok =
                !r.name.is_empty() && r.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(format!("resource name {:?}: use lowercase letters, digits and '-'", r.name));
            }
        }
        let types =
            |v: Vec<netcap_sdk::RecordType>| v.into_iter().map(|t| RecordTypeInfo { name: t.name, message: t.message });
        Ok(DecoderSpec {
            id: info.name,
            version: info.version,
            kind,
            layers: info.layers,
            layer_mask,
            ports,
            record_types: types(info.record_types).collect(),
            schema: Arc::new(info.schema),
            consumes: types(info.consumes).collect(),
            resources: info.resources,
            mergeable: info.mergeable && kind == DecoderKind::Global,
            wit_version,
            source,
        })
    }
}

/// Why a decoder call failed. A closed set, because faults are counted per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// The guest trapped (a panic, an out-of-bounds access, `unreachable`).
    Trap,
    /// The call used up its fuel (the work a call may do; deterministic).
    Fuel,
    /// The call ran past the wall-clock safety net (depends on machine load; never expected
    /// with the default limits, since fuel runs out long before).
    Deadline,
    /// The guest tried to grow its memory past the cap.
    MemoryLimit,
    /// The output batch was malformed.
    BadOutput,
    /// The output batch was larger than the output cap.
    OutputLimit,
    /// (Re)instantiation or `init` failed.
    Init,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Trap => "trap",
            FaultKind::Fuel => "fuel exhausted",
            FaultKind::Deadline => "wall-clock deadline",
            FaultKind::MemoryLimit => "memory limit",
            FaultKind::BadOutput => "bad output",
            FaultKind::OutputLimit => "output limit",
            FaultKind::Init => "init failed",
        }
    }
}

/// A failed decoder call.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
}

/// A running decoder instance, owned by one worker.
pub trait DecoderInstance: Send {
    /// Decodes a flat input batch; returns the flat output batch.
    fn decode(&mut self, batch: &[u8]) -> Result<Vec<u8>, Fault>;
    /// Packet time advanced to `now_nanos`.
    fn tick(&mut self, now_nanos: i64, seq: u64) -> Result<Vec<u8>, Fault>;
    /// End of input.
    fn finish(&mut self) -> Result<Vec<u8>, Fault>;
    /// Replaces a faulted instance with a fresh one (same configuration).
    fn restart(&mut self) -> Result<(), Fault>;
}

/// Creates instances of one decoder.
pub trait DecoderFactory: Send + Sync {
    fn instantiate(&self, config: &[(String, String)]) -> Result<Box<dyn DecoderInstance>, Fault>;
}

/// A loaded decoder: its description and how to instantiate it.
pub struct LoadedDecoder {
    pub spec: DecoderSpec,
    pub factory: Arc<dyn DecoderFactory>,
    /// Log lines the decoder sent (shared by its instances).
    pub logs: Arc<wasm::LogCounter>,
}

/// Sandbox limits for WebAssembly decoders.
///
/// Whether a call completes must never depend on machine load, so the work a call may do is
/// measured in wasmtime *fuel* (about one unit per WebAssembly instruction): a call gets
/// [`Limits::fuel_for`] its input. The wall-clock deadline is only a safety net far beyond what
/// the fuel allows (a fault of its own kind, `wall-clock deadline`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Linear memory cap per instance, bytes.
    pub memory_bytes: usize,
    /// Wall-clock safety net per call, milliseconds (0: none).
    pub deadline_ms: u64,
    /// Fuel of a call, plus as much again per [`FUEL_INPUT_STEP`] bytes of input (0: no fuel limit).
    pub fuel: u64,
    /// Largest output batch accepted from one call, bytes.
    pub output_bytes: usize,
}

/// Input bytes that add [`Limits::fuel`] to a call's budget.
pub const FUEL_INPUT_STEP: u64 = 100_000;
/// Default fuel per call: 10^9 (about a second of WebAssembly on one core; 10^4 per input byte).
pub const DEFAULT_FUEL: u64 = 1_000_000_000;
/// Default wall-clock safety net: 20 s.
pub const DEFAULT_DEADLINE_MS: u64 = 20_000;

impl Limits {
    /// The fuel of a call with `input` bytes of input (`init`, `tick` and `finish`: 0).
    pub fn fuel_for(&self, input: usize) -> u64 {
        let per_byte = self.fuel / FUEL_INPUT_STEP;
        self.fuel.saturating_add(per_byte.saturating_mul(input as u64))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 256 << 20, deadline_ms: DEFAULT_DEADLINE_MS, fuel: DEFAULT_FUEL, output_bytes: 64 << 20 }
    }
}

/// Errors loading decoders.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error(
        "no standard decoders found (looked in {searched}); build them with `cargo xtask build-plugins`, or pass --plugins DIR"
    )]
    NoStandardDecoders { searched: String },
    #[error("reading plugin directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plugin {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error(
        "plugin {id} ({path}) targets netcap:decoder@{wit}, but this netcap supports netcap:decoder@{SUPPORTED_WIT}.x (and loads 0.2.x); rebuild it against a supported version of the contract"
    )]
    UnsupportedVersion { path: PathBuf, id: String, wit: String },
    #[error("record type {name:?} is declared by both {a} and {b}")]
    DuplicateRecordType { name: String, a: String, b: String },
}

/// Where the standard decoders are looked for, in order: `$NETCAP_PLUGIN_DIR`, then next to the
/// binary (`<exe dir>/plugins`, `<exe dir>/../plugins` — which is `target/plugins` for a cargo
/// build — and `<exe dir>/../lib/netcap/plugins` for an installed layout).
pub fn standard_plugin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("NETCAP_PLUGIN_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(dir) = exe.parent() {
            dirs.push(dir.join("plugins"));
            dirs.push(dir.join("..").join("plugins"));
            dirs.push(dir.join("..").join("lib").join("netcap").join("plugins"));
        }
    }
    dirs
}

/// The user's own plugin directory, loaded after the standard decoders and before `--plugins`:
/// `$NETCAP_USER_PLUGINS`, else `$XDG_DATA_HOME/netcap/plugins`, else
/// `~/.local/share/netcap/plugins`. It need not exist.
pub fn user_plugin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("NETCAP_USER_PLUGINS") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(x) => Some(PathBuf::from(x).join("netcap").join("plugins")),
        None => {
            Some(PathBuf::from(std::env::var_os("HOME")?).join(".local").join("share").join("netcap").join("plugins"))
        }
    }
}

/// The `.wasm` files of a directory, sorted by name.
pub fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, PluginError> {
    let rd = std::fs::read_dir(dir).map_err(|source| PluginError::Dir { path: dir.into(), source })?;
    let mut files: Vec<PathBuf> =
        rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file()).collect();
    files.sort();
    Ok(files)
}

/// Loads the standard decoders (from the first standard directory that has any) and those in
/// `extra_dirs`. A decoder in `extra_dirs` with the id of a standard one replaces it. A component
/// the host refuses in the user's plugin directory is skipped with a notice; one in `extra_dirs`
/// (named on the command line) stops the run.
pub fn load_all(
    runtime: &wasm::Runtime,
    extra_dirs: &[PathBuf],
    notices: &mut Vec<String>,
) -> Result<Vec<LoadedDecoder>, PluginError> {
    load_all_with(runtime, extra_dirs, notices, false).map(|(d, _)| d)
}

/// A component the host refused, and why.
#[derive(Debug)]
pub struct Refusal {
    pub path: PathBuf,
    pub reason: String,
}

/// [`load_all`], also listing the refused components; with `lenient`, a refused component in
/// `extra_dirs` is skipped too (`netcap plugins list` shows every refusal instead of stopping).
pub fn load_all_with(
    runtime: &wasm::Runtime,
    extra_dirs: &[PathBuf],
    notices: &mut Vec<String>,
    lenient: bool,
) -> Result<(Vec<LoadedDecoder>, Vec<Refusal>), PluginError> {
    let mut std_files = Vec::new();
    let searched = standard_plugin_dirs();
    for d in &searched {
        if d.is_dir() {
            let files = wasm_files(d)?;
            if !files.is_empty() {
                std_files = files;
                break;
            }
        }
    }
    if std_files.is_empty() && extra_dirs.is_empty() {
        let searched = searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(PluginError::NoStandardDecoders { searched });
    }
    let mut loaded: Vec<LoadedDecoder> = Vec::new();
    for f in &std_files {
        loaded.push(runtime.load(f)?);
    }
    let mut refused = Vec::new();
    let user = user_plugin_dir().filter(|d| d.is_dir());
    let dirs = user.iter().map(|d| (d, true)).chain(extra_dirs.iter().map(|d| (d, lenient)));
    for (d, skip_refused) in dirs {
        for f in wasm_files(d)? {
            let dec = match runtime.load(&f) {
                Ok(dec) => dec,
                Err(e) if skip_refused => {
                    notices.push(format!("skipped a plugin the host refuses: {e}"));
                    refused.push(Refusal { path: f.clone(), reason: e.to_string() });
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(i) = loaded.iter().position(|l| l.spec.id == dec.spec.id) {
                notices.push(format!(
                    "decoder {} from {} replaces the standard one from {}",
                    dec.spec.id, dec.spec.source, loaded[i].spec.source
                ));
                loaded[i] = dec;
            } else {
                loaded.push(dec);
            }
        }
    }
    for d in &loaded {
        if let Some(w) = no_interest_warning(&d.spec) {
            notices.push(w);
        }
    }
    check_unique_types(&loaded)?;
    Ok((loaded, refused))
}

/// A layer or stream decoder that declares no interest is never called: say so, and what
/// interests look like. (Packet and global decoders without layers get every packet.)
fn no_interest_warning(spec: &DecoderSpec) -> Option<String> {
    if !spec.layers.is_empty() {
        return None;
    }
    let valid = match spec.kind {
        DecoderKind::Layer => {
            "layer names from the registry in wit/README.md (e.g. udp, ipv4), or udp:PORT, tcp:PORT, sctp:PORT"
        }
        DecoderKind::Stream => "tcp:PORT or tcp:* (every connection)",
        _ => return None,
    };
    Some(format!(
        "decoder {} ({}, {} decoder) declares no interest in decoder-info.layers, so it is never called; declare {valid}",
        spec.id, spec.source, spec.kind
    ))
}

/// Every record type's message must be defined by the decoder's schema: otherwise its records
/// could be written but never read (`dump` needs the schema in the file header).
pub fn check_schema(spec: &DecoderSpec) -> Result<(), String> {
    // One pool per decoder: the schema is decoded once, whatever the number of record types.
    let pool = prost_reflect::DescriptorPool::decode(spec.schema.as_slice())
        .map_err(|e| format!("its schema is not a FileDescriptorSet ({e})"))?;
    for t in &spec.record_types {
        if pool.get_message_by_name(&t.message).is_none() {
            return Err(format!(
                "record type {} names message {}, which its schema does not define",
                t.name, t.message
            ));
        }
    }
    Ok(())
}

/// Record type names must be unique across decoders: they name the output files. The one
/// exception is a type two decoders declare with the same protobuf message from the same schema
/// (the `dns` decoder and the `stream` decoder's DNS over TCP both emit `DNS`): their records
/// share one file.
pub fn check_unique_types(decoders: &[LoadedDecoder]) -> Result<(), PluginError> {
    for (i, a) in decoders.iter().enumerate() {
        for b in &decoders[i + 1..] {
            for t in &a.spec.record_types {
                let clash =
                    |u: &RecordTypeInfo| u.name == t.name && (u.message != t.message || a.spec.schema != b.spec.schema);
                if b.spec.record_types.iter().any(clash) {
                    return Err(PluginError::DuplicateRecordType {
                        name: t.name.clone(),
                        a: a.spec.id.clone(),
                        b: b.spec.id.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Where compiled decoder code is cached: `$NETCAP_CACHE_DIR` (`off` disables the cache), else
/// `$XDG_CACHE_HOME/netcap/wasm`, else `~/.cache/netcap/wasm`. `None` when it cannot be created.
pub fn cache_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("NETCAP_CACHE_DIR") {
        Some(v) if v == "off" || v.is_empty() => return None,
        Some(v) => PathBuf::from(v),
        None => match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x).join("netcap").join("wasm"),
            None => PathBuf::from(std::env::var_os("HOME")?).join(".cache").join("netcap").join("wasm"),
        },
    };
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// The bit set of layer names and the port interests (`udp:53`); unknown names are refused.
pub fn layer_mask(layers: &[String]) -> Result<(u128, Vec<(u16, u16)>), String> {
    let mut mask = 0;
    let mut ports = Vec::new();
    for l in layers {
        if let Some(id) = crate::dissect::layer::by_name(l) {
            mask |= crate::dissect::layer_bit(id);
        } else if let Some(p) = crate::dissect::layer::port_interest(l) {
            ports.push(p);
        } else {
            return Err(format!("unknown layer or port interest {l:?}"));
        }
    }
    Ok((mask, ports))
}

/// A stream decoder's interests: `tcp:PORT` entries and whether it asked for `tcp:*`.
pub fn stream_interests(layers: &[String]) -> Result<(Vec<u16>, bool), String> {
    let mut ports = Vec::new();
    let mut any = false;
    for l in layers {
        match l.strip_prefix("tcp:").map(|p| (p, p.parse::<u16>())) {
            Some(("*", _)) => any = true,
            Some((_, Ok(port))) => ports.push(port),
            _ => return Err(format!("a stream decoder asks for tcp:PORT or tcp:*, not {l:?}")),
        }
    }
    Ok((ports, any))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: netcap_sdk::Kind, layers: &[&str]) -> DecoderSpec {
        let info = netcap_sdk::DecoderInfo {
            name: "x".into(),
            kind,
            layers: layers.iter().map(|l| (*l).to_string()).collect(),
            ..Default::default()
        };
        DecoderSpec::from_info(info, "0.3.0".into(), "x.wasm".into()).unwrap()
    }

    #[test]
    fn decoders_that_would_never_be_called_are_named_with_the_valid_forms() {
        let w = no_interest_warning(&spec(netcap_sdk::Kind::Layer, &[])).unwrap();
        assert!(w.contains("decoder x (x.wasm, layer decoder) declares no interest") && w.contains("udp:PORT"), "{w}");
        let w = no_interest_warning(&spec(netcap_sdk::Kind::Stream, &[])).unwrap();
        assert!(w.contains("tcp:PORT or tcp:*"), "{w}");
        assert!(no_interest_warning(&spec(netcap_sdk::Kind::Layer, &["udp"])).is_none());
        // Packet and global decoders without layers get every packet.
        assert!(no_interest_warning(&spec(netcap_sdk::Kind::Packet, &[])).is_none());
    }
}
