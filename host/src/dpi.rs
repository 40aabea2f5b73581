//! Deep packet inspection: application protocol classification of flows by nDPI and
//! libprotoident, both loaded at run time (netcap builds and runs without them).
//!
//! [`DpiEngine::load`] finds the libraries (the search order is in [`search_candidates`] and
//! the README), checks nDPI's API version, and never fails: without a usable library DPI is
//! simply off, with one notice saying why. [`DpiEngine::workers`] makes one [`Dpi`] per thread
//! that classifies (nDPI keeps per-packet state in its detection module); a capture uses one,
//! in the dispatcher, so that the packet copies for workers and for global decoders carry the
//! same id. A [`Dpi`] is flow-affine: it keeps classification state per flow (keyed by the host's flow hash and the 5-tuple of the
//! packet's IP layer), feeds each flow's packets to nDPI until nDPI classifies it or gives up
//! (as `ndpiReader` does: 80 TCP / 24 UDP packets, or nDPI has nothing more to dissect), and
//! returns an interned application id per packet. While nDPI has found nothing for a flow, that
//! id is nDPI's *guess* (what `ndpi_detection_giveup` would answer if the flow ended now, asked on
//! a copy of the flow state), marked [`AppInfo::guessed`], so the last packet of a flow that nDPI
//! never classifies carries the answer `ndpiReader` prints for it. The interning table ([`AppTable`]) is shared
//! by all [`Dpi`]s and the resolvers; a lock is taken only when a [`Dpi`] meets a
//! classification it has not interned before. Ids are per-run handles (with one classifying
//! thread, assigned in input order), so records carry the resolved names, not the number.
//!
//! Flow state is bounded and deterministic for any worker count: it is split into 256
//! partitions by `flow_hash & 0xff` (a partition always lives on one worker, whatever the
//! worker count), and each partition expires idle flows and, when full, its least recently
//! seen flow, by the packet time of its own packets.

mod ffi;

use ffi::{LpiData, LpiLib, LpiPacket, NdpiFlow, NdpiLib, NdpiModule, NdpiProtocol};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Engine names as they appear in [`AppInfo::engine`].
pub const ENGINE_NDPI: &str = "ndpi";
pub const ENGINE_LPI: &str = "libprotoident";

/// ndpiReader's defaults: packets of a flow fed to nDPI before giving up.
const MAX_TCP_PACKETS: u32 = 80;
const MAX_UDP_PACKETS: u32 = 24;
/// libprotoident only looks at the first payload of each direction.
const MAX_LPI_PACKETS: u32 = 32;
const PARTITIONS: usize = 256;

/// How to find and run the DPI libraries.
#[derive(Debug, Clone)]
pub struct DpiOptions {
    /// `--dpi`: off means the libraries are not even looked for.
    pub enabled: bool,
    /// `--ndpi-lib PATH`: use exactly this file.
    pub ndpi_lib: Option<PathBuf>,
    /// `--protoident-lib PATH`: use exactly this file.
    pub protoident_lib: Option<PathBuf>,
    /// `$NETCAP_DPI_PATH` (colon-separated): search only these directories.
    pub search_path: Option<Vec<PathBuf>>,
    /// A flow without packets for this long (packet time) starts over.
    pub idle_nanos: i64,
    /// Flows kept at most (split evenly over the 256 partitions).
    pub max_flows: usize,
}

impl Default for DpiOptions {
    fn default() -> Self {
        DpiOptions {
            enabled: true,
            ndpi_lib: None,
            protoident_lib: None,
            search_path: None,
            idle_nanos: 30 * 1_000_000_000,
            max_flows: 256 * 1024,
        }
    }
}

impl DpiOptions {
    /// Reads `$NETCAP_DPI_PATH` into `search_path`.
    pub fn with_env(mut self) -> Self {
        if let Some(v) = std::env::var_os("NETCAP_DPI_PATH") {
            self.search_path = Some(std::env::split_paths(&v).collect());
        }
        self
    }
}

/// A DPI library as found (or not) by [`DpiEngine::load`], for `netcap dpi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryStatus {
    /// "nDPI" or "libprotoident".
    pub name: &'static str,
    /// Where it was loaded from, and its version; `None` when not in use.
    pub loaded: Option<(PathBuf, String)>,
    /// Why not (not found where searched, refused version, failed to start).
    pub problem: Option<String>,
}

/// What the interning table stores for an application id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppInfo {
    /// The application protocol (nDPI's app protocol, e.g. "Google", or its only protocol,
    /// e.g. "DNS"; libprotoident's protocol name).
    pub protocol: String,
    /// nDPI's master protocol when it differs from `protocol` (e.g. "TLS"), else "".
    pub master: String,
    /// The engine's category name (nDPI: "Web", "Network", ...).
    pub category: String,
    /// [`ENGINE_NDPI`] or [`ENGINE_LPI`].
    pub engine: &'static str,
    /// nDPI's guess after giving up without a match (by port or address, or from a partial
    /// dissection), not a classification.
    pub guessed: bool,
}

impl AppInfo {
    /// `master.protocol`, or `protocol` alone (nDPI's `ndpi_protocol2name` form).
    pub fn name(&self) -> String {
        if self.master.is_empty() { self.protocol.clone() } else { format!("{}.{}", self.master, self.protocol) }
    }
}

/// Interning key: the engine's raw classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RawApp {
    Ndpi(NdpiProtocol),
    NdpiGuess(NdpiProtocol),
    Lpi { protocol: u32, category: u32 },
}

/// A chunk of 256 write-once application slots.
type AppChunk = Box<[OnceLock<AppInfo>]>;

/// Application ids shared by all workers: id → [`AppInfo`], lock-free to read (a two-level
/// table of write-once slots); writers take one lock per new classification.
#[derive(Debug)]
pub struct AppTable {
    ids: Mutex<HashMap<RawApp, u16>>,
    slots: Box<[OnceLock<AppChunk>]>,
}

impl Default for AppTable {
    fn default() -> Self {
        AppTable { ids: Mutex::new(HashMap::new()), slots: (0..256).map(|_| OnceLock::new()).collect() }
    }
}

impl AppTable {
    /// The application of id `id` (0 = not classified: `None`).
    pub fn get(&self, id: u16) -> Option<&AppInfo> {
        self.slots.get(usize::from(id >> 8))?.get()?.get(usize::from(id & 0xff))?.get()
    }

    /// Every interned application, by id.
    pub fn all(&self) -> Vec<(u16, AppInfo)> {
        (1..=u16::MAX).map_while(|id| self.get(id).map(|a| (id, a.clone()))).collect()
    }

    /// Interns `raw` (described by `info` when new); 0 when all 65535 ids are taken.
    fn intern(&self, raw: RawApp, info: impl FnOnce() -> AppInfo) -> u16 {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = ids.get(&raw) {
            return id;
        }
        let Ok(id) = u16::try_from(ids.len() + 1) else { return 0 };
        let chunk = self.slots[usize::from(id >> 8)].get_or_init(|| (0..256).map(|_| OnceLock::new()).collect());
        let _ = chunk[usize::from(id & 0xff)].set(info());
        ids.insert(raw, id);
        id
    }
}

/// The DPI libraries of a run and its application table.
#[derive(Debug)]
pub struct DpiEngine {
    ndpi: Option<Arc<NdpiLib>>,
    lpi: Option<Arc<LpiLib>>,
    apps: Arc<AppTable>,
    status: Vec<LibraryStatus>,
    options: DpiOptions,
}

/// A failure to start DPI for the workers (after the libraries loaded).
#[derive(Debug, thiserror::Error)]
pub enum DpiError {
    #[error("nDPI: {0}")]
    Start(String),
}

/// Sonames of the nDPI releases netcap supports, tried through the dynamic loader first.
fn ndpi_sonames() -> Vec<String> {
    ffi::NDPI_SUPPORTED.iter().map(|(_, r)| format!("libndpi.so.{r}")).collect()
}

/// The Debian multiarch directory of this machine, e.g. `/usr/lib/x86_64-linux-gnu`.
fn multiarch_dir() -> Option<PathBuf> {
    let triple = match std::env::consts::ARCH {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "x86" => "i386-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        _ => return None,
    };
    Some(Path::new("/usr/lib").join(triple))
}

/// The directories searched for DPI libraries when neither a flag nor `$NETCAP_DPI_PATH`
/// names them: `/usr/local/lib`, `/usr/local/lib64`, the multiarch directory, `/usr/lib64`,
/// `/usr/lib`.
pub fn default_search_dirs() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("/usr/local/lib"), PathBuf::from("/usr/local/lib64")];
    v.extend(multiarch_dir());
    v.push(PathBuf::from("/usr/lib64"));
    v.push(PathBuf::from("/usr/lib"));
    v
}

/// Candidate files for a library whose file names start with `stem` (`libndpi.so`):
/// 1. the explicit path, alone, when given;
/// 2. else, with `$NETCAP_DPI_PATH` set, the matching files of those directories only;
/// 3. else the `preferred` sonames through the dynamic loader (`LD_LIBRARY_PATH`,
///    `ld.so.cache`), then the matching files of [`default_search_dirs`].
///
/// In each directory, files named like a `preferred` soname come first, then the others
/// newest version first (they are tried so that a refusal can name what was found).
pub fn search_candidates(
    stem: &str,
    preferred: &[String],
    explicit: Option<&Path>,
    search_path: Option<&[PathBuf]>,
) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let mut out: Vec<PathBuf> = Vec::new();
    let dirs = match search_path {
        Some(d) => d.to_vec(),
        None => {
            out.extend(preferred.iter().map(PathBuf::from));
            default_search_dirs()
        }
    };
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n == stem || n.strip_prefix(stem).is_some_and(|r| r.starts_with('.')))
            .collect();
        files.sort_by(|a, b| {
            let rank = |n: &String| !preferred.contains(n);
            rank(a).cmp(&rank(b)).then_with(|| version_key(b).cmp(&version_key(a)))
        });
        for f in files {
            let p = dir.join(&f);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Numeric suffix of a versioned soname (`libndpi.so.4.2.0` → [4, 2, 0]).
fn version_key(name: &str) -> Vec<u32> {
    name.split('.').filter_map(|p| p.parse().ok()).collect()
}

impl DpiEngine {
    /// Finds and loads the DPI libraries `opts` allows. Never fails: see [`DpiEngine::notice`].
    pub fn load(opts: &DpiOptions) -> DpiEngine {
        let mut status = Vec::new();
        let (mut ndpi, mut lpi) = (None, None);
        if opts.enabled {
            let cands =
                search_candidates("libndpi.so", &ndpi_sonames(), opts.ndpi_lib.as_deref(), opts.search_path.as_deref());
            let mut refusals = Vec::new();
            for c in &cands {
                match NdpiLib::load(c) {
                    Ok(l) => {
                        ndpi = Some(Arc::new(l));
                        break;
                    }
                    // A soname the loader does not know is not a finding.
                    Err(ffi::LoadError::Open { .. }) if opts.ndpi_lib.is_none() && !c.is_absolute() => {}
                    Err(e) => refusals.push(e.to_string()),
                }
            }
            status.push(match &ndpi {
                Some(l) => LibraryStatus {
                    name: "nDPI",
                    loaded: Some((l.path.clone(), format!("{} (API {})", l.revision, l.api))),
                    problem: None,
                },
                None => LibraryStatus {
                    name: "nDPI",
                    loaded: None,
                    problem: Some(if refusals.is_empty() {
                        format!("not found ({})", searched(opts, "libndpi.so*"))
                    } else {
                        refusals.join("; ")
                    }),
                },
            });
            let cands = search_candidates(
                "libprotoident.so",
                &["libprotoident.so.2".to_string()],
                opts.protoident_lib.as_deref(),
                opts.search_path.as_deref(),
            );
            let mut refusals = Vec::new();
            for c in &cands {
                match LpiLib::load(c) {
                    Ok(l) => {
                        lpi = Some(Arc::new(l));
                        break;
                    }
                    Err(ffi::LoadError::Open { .. }) if opts.protoident_lib.is_none() && !c.is_absolute() => {}
                    Err(e) => refusals.push(e.to_string()),
                }
            }
            status.push(match &lpi {
                Some(l) => LibraryStatus {
                    name: "libprotoident",
                    loaded: Some((l.path.clone(), lpi_version(&l.path))),
                    problem: None,
                },
                None => LibraryStatus {
                    name: "libprotoident",
                    loaded: None,
                    problem: Some(if refusals.is_empty() {
                        format!("not found ({})", searched(opts, "libprotoident.so*"))
                    } else {
                        refusals.join("; ")
                    }),
                },
            });
        }
        DpiEngine { ndpi, lpi, apps: Arc::new(AppTable::default()), status, options: opts.clone() }
    }

    /// Whether any engine is loaded.
    pub fn active(&self) -> bool {
        self.ndpi.is_some() || self.lpi.is_some()
    }

    /// What was found, for `netcap dpi`.
    pub fn status(&self) -> &[LibraryStatus] {
        &self.status
    }

    /// The one line a capture prints when DPI is off although it was asked for (`None` when
    /// nDPI is in use, or DPI was switched off with `--dpi off`).
    pub fn notice(&self) -> Option<String> {
        if !self.options.enabled || self.ndpi.is_some() {
            return None;
        }
        let why = self.status.first().and_then(|s| s.problem.clone()).unwrap_or_default();
        Some(if self.lpi.is_some() {
            format!("nDPI unavailable, DPI by libprotoident only: {why}")
        } else {
            format!("DPI off: nDPI unavailable: {why}")
        })
    }

    /// The application table the workers intern into.
    pub fn apps(&self) -> Arc<AppTable> {
        self.apps.clone()
    }

    /// One [`Dpi`] per worker, created on this thread (nDPI's module initialisation must not
    /// run concurrently).
    pub fn workers(&self, n: usize) -> Result<Vec<Dpi>, DpiError> {
        (0..n).map(|_| self.worker()).collect()
    }

    fn worker(&self) -> Result<Dpi, DpiError> {
        let ndpi = match &self.ndpi {
            Some(l) => Some(NdpiModule::new(l.clone()).map_err(|e| DpiError::Start(e.to_string()))?),
            None => None,
        };
        let per_part = self.options.max_flows.div_ceil(PARTITIONS).max(1);
        Ok(Dpi {
            ndpi,
            lpi: self.lpi.clone(),
            lpi_packet: LpiPacket::default(),
            apps: self.apps.clone(),
            local: HashMap::new(),
            parts: (0..PARTITIONS).map(|_| None).collect(),
            spare: Vec::new(),
            scratch: None,
            idle: self.options.idle_nanos.max(1),
            per_part,
            stats: DpiStats::default(),
            keep_ended: false,
            ended: Vec::new(),
        })
    }
}

fn searched(opts: &DpiOptions, pattern: &str) -> String {
    if let Some(p) = opts.ndpi_lib.as_ref().filter(|_| pattern.starts_with("libndpi")) {
        return format!("{} does not exist", p.display());
    }
    if let Some(p) = opts.protoident_lib.as_ref().filter(|_| pattern.starts_with("libprotoident")) {
        return format!("{} does not exist", p.display());
    }
    let dirs = opts.search_path.clone().unwrap_or_else(default_search_dirs);
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let via = if opts.search_path.is_some() { "$NETCAP_DPI_PATH: " } else { "the dynamic loader, " };
    format!("searched {via}{} for {pattern}", dirs.join(":"))
}

/// libprotoident has no version function: its version is the file's (`libprotoident.so.2.0.15`).
fn lpi_version(path: &Path) -> String {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.strip_prefix("libprotoident.so.").map(str::to_string).unwrap_or_else(|| "unknown version".into())
}

/// A flow's 5-tuple as nDPI and ndpiReader see it: ports only for TCP and UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowTuple {
    pub proto: u8,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
}

impl FlowTuple {
    /// Both directions give the same value: the smaller (address, port) first.
    pub fn canonical(&self) -> FlowTuple {
        if (self.src, self.src_port) <= (self.dst, self.dst_port) {
            *self
        } else {
            FlowTuple {
                proto: self.proto,
                src: self.dst,
                src_port: self.dst_port,
                dst: self.src,
                dst_port: self.src_port,
            }
        }
    }
}

/// The 5-tuple of the IP packet `ip` (header first). `None` for what nDPI does not classify
/// as a flow packet: not IPv4/IPv6, truncated headers, and IPv4/IPv6 fragments after the first
/// (they carry no transport header; ndpiReader skips them too).
pub fn flow_tuple(ip: &[u8]) -> Option<FlowTuple> {
    let (proto, src, dst, l4) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ihl < 20 || ip.len() < ihl {
                return None;
            }
            let frag_off = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
            if frag_off != 0 {
                return None;
            }
            let a = |o: usize| IpAddr::from(<[u8; 4]>::try_from(&ip[o..o + 4]).unwrap_or_default());
            (ip[9], a(12), a(16), &ip[ihl..])
        }
        6 => {
            if ip.len() < 40 {
                return None;
            }
            let a = |o: usize| IpAddr::from(<[u8; 16]>::try_from(&ip[o..o + 16]).unwrap_or_default());
            let (mut next, mut off) = (ip[6], 40usize);
            // Extension headers before the transport (hop-by-hop, routing, fragment, options).
            loop {
                match next {
                    0 | 43 | 60 | 135 => {
                        let h = ip.get(off..off + 2)?;
                        next = h[0];
                        off += (usize::from(h[1]) + 1) * 8;
                    }
                    44 => {
                        let h = ip.get(off..off + 8)?;
                        if u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0 {
                            return None;
                        }
                        next = h[0];
                        off += 8;
                    }
                    _ => break,
                }
            }
            (next, a(8), a(24), ip.get(off..)?)
        }
        _ => return None,
    };
    let (src_port, dst_port) = match proto {
        6 | 17 if l4.len() >= 4 => (u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]])),
        6 | 17 => return None,
        _ => (0, 0),
    };
    Some(FlowTuple { proto, src, src_port, dst, dst_port })
}

/// Whether IP packet `ip` is unusable for DPI: its captured bytes end before its total length
/// (snap length), or an IPv4 total length is shorter than its header (TCP segmentation offload
/// captures leave it 0). nDPI cannot use such packets and ndpiReader drops them.
pub fn ip_truncated(ip: &[u8]) -> bool {
    let total = match ip.first().map(|b| b >> 4) {
        Some(4) if ip.len() >= 4 => {
            let t = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if t < usize::from(ip[0] & 0x0f) * 4 {
                return true;
            }
            t
        }
        Some(6) if ip.len() >= 6 => 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]])),
        _ => return false,
    };
    ip.len() < total
}

/// The IP layer DPI looks at in a dissected packet: the outermost IPv4/IPv6 layer, followed
/// through IP-in-IP (4in4, 6in4, 4in6, 6in6) to the innermost directly nested one, as
/// ndpiReader does; packets inside GRE, VXLAN, ... are the tunnel's flow.
pub fn ip_layer(layers: &[netcap_sdk::Layer]) -> Option<usize> {
    use netcap_sdk::layer::{IPSEC_AH, IPV4, IPV6, IPV6_FRAGMENT, IPV6_HOP_BY_HOP};
    let is_ip = |id: u16| id == IPV4 || id == IPV6;
    let first = layers.iter().position(|l| is_ip(l.id))?;
    let mut cur = first;
    let mut i = first + 1;
    while let Some(l) = layers.get(i) {
        match l.id {
            IPV6_HOP_BY_HOP | IPV6_FRAGMENT | IPSEC_AH => i += 1,
            id if is_ip(id) => {
                cur = i;
                i += 1;
            }
            _ => break,
        }
    }
    Some(layers[cur].offset)
}

/// Counters of one worker's DPI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DpiStats {
    /// Flows started (a flow that expired and came back counts again).
    pub flows: u64,
    /// Packets handed to nDPI.
    pub ndpi_packets: u64,
    /// Flows dropped because their partition was full.
    pub evicted_full: u64,
}

/// Identity of a flow in a worker's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    hash: u64,
    tuple: FlowTuple,
}

/// Hashes a [`FlowKey`] by its flow hash alone (already a good, symmetric hash).
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        if self.0 == 0 {
            self.0 = v | 1;
        }
    }
    fn write_u8(&mut self, _: u8) {}
    fn write_u16(&mut self, _: u16) {}
    fn write_u32(&mut self, _: u32) {}
    fn write_usize(&mut self, _: usize) {}
}

type FlowMap = HashMap<FlowKey, FlowState, BuildHasherDefault<KeyHasher>>;

/// Classification state of one flow.
#[derive(Debug)]
struct FlowState {
    /// The first packet's direction (nDPI's and ndpiReader's "source").
    first: FlowTuple,
    first_seen: i64,
    packets: u32,
    last_seen: i64,
    ndpi: Option<NdpiFlow>,
    ndpi_result: NdpiProtocol,
    ndpi_done: bool,
    risk: u64,
    lpi: Option<LpiData>,
    lpi_app: u16,
    app: u16,
    /// nDPI's guess while `app` is 0 (0: no guess).
    guess: u16,
}

impl FlowState {
    /// nDPI's classification so far, else libprotoident's, else nDPI's guess (0: none yet).
    fn app_or_lpi(&self) -> u16 {
        if self.app != 0 {
            self.app
        } else if self.lpi_app != 0 {
            self.lpi_app
        } else {
            self.guess
        }
    }
}

/// One partition of a worker's flows (see the module doc).
#[derive(Debug, Default)]
struct Partition {
    flows: FlowMap,
    now: i64,
}

/// A flow's final classification (for `netcap dpi-flows` and end-of-flow records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowClass {
    /// Addresses and ports in the direction of the flow's first packet.
    pub tuple: FlowTuple,
    /// Time of the flow's first packet.
    pub first_seen: i64,
    pub packets: u32,
    /// nDPI's classification (after giving up, with guessing, if it never finished).
    pub ndpi: Option<AppInfo>,
    /// nDPI's risk names.
    pub risks: Vec<String>,
    /// libprotoident's classification.
    pub lpi: Option<AppInfo>,
}

/// One worker's DPI: see the module doc.
#[derive(Debug)]
pub struct Dpi {
    ndpi: Option<NdpiModule>,
    lpi: Option<Arc<LpiLib>>,
    lpi_packet: LpiPacket,
    apps: Arc<AppTable>,
    /// This worker's copy of the part of the table it has used (no lock per packet).
    local: HashMap<RawApp, u16>,
    parts: Vec<Option<Box<Partition>>>,
    /// nDPI flow memory of finished flows, reused for new ones.
    spare: Vec<NdpiFlow>,
    /// Where a flow's state is copied to ask nDPI for its guess.
    scratch: Option<NdpiFlow>,
    idle: i64,
    per_part: usize,
    stats: DpiStats,
    keep_ended: bool,
    ended: Vec<FlowClass>,
}

impl Dpi {
    /// Whether any engine runs (otherwise [`Dpi::classify`] always returns 0).
    pub fn active(&self) -> bool {
        self.ndpi.is_some() || self.lpi.is_some()
    }

    /// Counters so far.
    pub fn stats(&self) -> DpiStats {
        self.stats
    }

    /// Whether application id `id` (from [`Dpi::classify`]) is nDPI's guess.
    pub fn guessed(&self, id: u16) -> bool {
        id != 0 && self.apps.get(id).is_some_and(|a| a.guessed)
    }

    /// Classifies `packet` (IP header at `ip_offset`) of the flow with host flow hash
    /// `flow_hash`, at packet time `ts_nanos`. Returns the flow's application id so far
    /// (0 = not classified yet; see [`AppTable::get`]).
    pub fn classify(&mut self, flow_hash: u64, packet: &[u8], ip_offset: usize, ts_nanos: i64) -> u16 {
        if !self.active() {
            return 0;
        }
        let Some(ip) = packet.get(ip_offset..) else { return 0 };
        let Some(tuple) = flow_tuple(ip) else { return 0 };
        let key = FlowKey { hash: flow_hash, tuple: tuple.canonical() };
        let pi = (flow_hash & 0xff) as usize;
        if ip_truncated(ip) {
            // Cut short by the snap length: nDPI could not use it (ndpiReader drops it too);
            // it gets its flow's classification so far.
            return self.parts[pi].as_ref().and_then(|p| p.flows.get(&key)).map_or(0, |f| f.app_or_lpi());
        }
        let part = self.parts[pi].get_or_insert_with(Box::default);
        part.now = part.now.max(ts_nanos);
        let now = part.now;
        // An idle flow starts over (the same test the sweep uses, so sweeping is invisible).
        let expired = part.flows.get(&key).is_some_and(|f| now.saturating_sub(f.last_seen) > self.idle);
        let mut ended = Vec::new();
        if expired && let Some(old) = part.flows.remove(&key) {
            ended.push(old);
        }
        let is_new = !part.flows.contains_key(&key);
        if is_new && part.flows.len() >= self.per_part {
            // Full: drop every idle flow and, if that is not enough, the least recently seen
            // ones down to 7/8 of the cap (ties by tuple, so the choice is deterministic), so
            // that the scan is paid once per cap/8 new flows.
            let idle = self.idle;
            let keep = self.per_part - self.per_part / 8 - 1;
            let mut by_age: Vec<(i64, FlowTuple, FlowKey)> =
                part.flows.iter().map(|(k, f)| (f.last_seen, k.tuple, *k)).collect();
            by_age.sort_unstable_by_key(|a| (a.0, a.1));
            let excess = by_age.len().saturating_sub(keep);
            for (i, (last, _, k)) in by_age.iter().enumerate() {
                let stale = now.saturating_sub(*last) > idle;
                if !stale && i >= excess {
                    break;
                }
                if let Some(old) = part.flows.remove(k) {
                    ended.push(old);
                    if !stale {
                        self.stats.evicted_full += 1;
                    }
                }
            }
        }
        for f in ended {
            self.end_flow(f);
        }
        let part = self.parts[pi].get_or_insert_with(Box::default);
        if is_new {
            let ndpi = self.ndpi.as_ref().map(|m| m.new_flow(self.spare.pop()));
            let lpi = self.lpi.as_ref().map(|l| LpiData::new(l));
            self.stats.flows += 1;
            part.flows.insert(
                key,
                FlowState {
                    first: tuple,
                    first_seen: ts_nanos,
                    packets: 0,
                    last_seen: ts_nanos,
                    ndpi_done: ndpi.is_none(),
                    ndpi,
                    ndpi_result: NdpiProtocol::default(),
                    risk: 0,
                    lpi,
                    lpi_app: 0,
                    app: 0,
                    guess: 0,
                },
            );
        }
        let Some(flow) = part.flows.get_mut(&key) else { return 0 };
        flow.packets = flow.packets.saturating_add(1);
        flow.last_seen = flow.last_seen.max(ts_nanos);
        let ts_ms = u64::try_from(ts_nanos.div_euclid(1_000_000)).unwrap_or(0);
        if let (Some(m), false) = (self.ndpi.as_mut(), flow.ndpi_done)
            && let Some(nf) = flow.ndpi.as_mut()
        {
            self.stats.ndpi_packets += 1;
            let r = m.process(nf, ip, ts_ms);
            flow.ndpi_result = r;
            let enough = match tuple.proto {
                6 => flow.packets > MAX_TCP_PACKETS,
                17 => flow.packets > MAX_UDP_PACKETS,
                _ => false,
            };
            let mut guessed = false;
            if enough || r.app != 0 {
                if !enough && m.extra_possible(nf) {
                    // Classified, and nDPI wants more (certificates, DNS answers, ...).
                } else {
                    if r.app == 0 {
                        flow.ndpi_result = m.giveup(nf);
                        flow.guess = 0;
                        guessed = true;
                    }
                    flow.risk = m.risk(nf);
                    flow.ndpi_done = true;
                    if let Some(done) = flow.ndpi.take() {
                        self.spare.push(m.release(done));
                    }
                }
            } else if r.master == 0 {
                // Nothing found yet: what nDPI would guess if the flow ended with this packet.
                let scratch = self.scratch.get_or_insert_with(|| m.new_flow(None));
                let g = m.guess(nf, scratch);
                flow.guess =
                    if g.app != 0 || g.master != 0 { intern_ndpi(&self.apps, &mut self.local, m, g, true) } else { 0 };
            }
            let res = flow.ndpi_result;
            if res.app != 0 || res.master != 0 {
                flow.app = intern_ndpi(&self.apps, &mut self.local, m, res, guessed);
            }
        }
        if let (Some(l), Some(data)) = (self.lpi.as_ref(), flow.lpi.as_mut()) {
            let dir = u8::from(tuple != flow.first);
            self.lpi_packet.update(l, data, ip, dir);
            if let Some(id) = guess_lpi(&self.apps, &mut self.local, l, data) {
                flow.lpi_app = id;
            }
            if flow.packets >= MAX_LPI_PACKETS {
                flow.lpi = None;
            }
        }
        flow.app_or_lpi()
    }

    /// Ends a flow that leaves the table early (idle or evicted): kept for [`Dpi::finish`]
    /// when [`Dpi::keep_ended`] is on, else its nDPI memory goes back to the pool.
    fn end_flow(&mut self, f: FlowState) {
        if self.keep_ended {
            let c = self.finalize(f);
            self.ended.push(c);
        } else if let (Some(m), Some(nf)) = (self.ndpi.as_mut(), f.ndpi) {
            self.spare.push(m.release(nf));
        }
    }

    /// A flow's final classification (nDPI gives up, with guessing, if it has not finished).
    fn finalize(&mut self, mut f: FlowState) -> FlowClass {
        let mut ndpi = None;
        let mut risks = Vec::new();
        if let Some(m) = self.ndpi.as_mut() {
            if let Some(mut nf) = f.ndpi.take() {
                f.ndpi_result = m.giveup(&mut nf);
                f.risk = m.risk(&nf);
                self.spare.push(m.release(nf));
            }
            let id = intern_ndpi(&self.apps, &mut self.local, m, f.ndpi_result, false);
            ndpi = self.apps.get(id).cloned();
            risks = (0..64u32).filter(|b| f.risk & (1u64 << b) != 0).map(|b| m.risk_name(b)).collect();
        }
        if let (Some(l), Some(mut data)) = (self.lpi.as_ref(), f.lpi.take()) {
            f.lpi_app = guess_lpi(&self.apps, &mut self.local, l, &mut data).unwrap_or(f.lpi_app);
        }
        let lpi = self.apps.get(f.lpi_app).cloned();
        FlowClass { tuple: f.first, first_seen: f.first_seen, packets: f.packets, ndpi, risks, lpi }
    }

    /// Keep the classification of flows that leave the table (idle, evicted) for
    /// [`Dpi::finish`] (for `netcap dpi-flows`; a capture does not need them).
    pub fn keep_ended(&mut self, on: bool) {
        self.keep_ended = on;
    }

    /// Ends every flow and reports each (with [`Dpi::keep_ended`], also those that left the
    /// table earlier), in the order of their first packets.
    pub fn finish(&mut self, mut report: impl FnMut(FlowClass)) {
        let mut all = std::mem::take(&mut self.ended);
        let parts: Vec<Box<Partition>> = self.parts.iter_mut().filter_map(Option::take).collect();
        for part in parts {
            for (_, f) in part.flows {
                let c = self.finalize(f);
                all.push(c);
            }
        }
        all.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then_with(|| a.tuple.cmp(&b.tuple)));
        all.into_iter().for_each(&mut report);
    }
}

impl Drop for Dpi {
    fn drop(&mut self) {
        self.keep_ended = false;
        let parts: Vec<Box<Partition>> = self.parts.iter_mut().filter_map(Option::take).collect();
        for part in parts {
            for (_, f) in part.flows {
                self.end_flow(f);
            }
        }
        if let Some(l) = &self.lpi {
            self.lpi_packet.destroy(l);
        }
    }
}

/// The id of nDPI's classification `res` (its guess when `guessed`), interned on first sight.
fn intern_ndpi(
    apps: &AppTable,
    local: &mut HashMap<RawApp, u16>,
    m: &NdpiModule,
    res: NdpiProtocol,
    guessed: bool,
) -> u16 {
    let raw = if guessed { RawApp::NdpiGuess(res) } else { RawApp::Ndpi(res) };
    if let Some(&id) = local.get(&raw) {
        return id;
    }
    let id = apps.intern(raw, || {
        let (master, app) = (res.master, res.app);
        let (protocol, master) = if master != 0 && master != app {
            if app != 0 { (m.proto_name(app), m.proto_name(master)) } else { (m.proto_name(master), String::new()) }
        } else {
            (m.proto_name(app), String::new())
        };
        AppInfo { protocol, master, category: m.category_name(res.category), engine: ENGINE_NDPI, guessed }
    });
    local.insert(raw, id);
    id
}

/// libprotoident's classification of `data` so far, interned; `None` while it is unknown.
fn guess_lpi(apps: &AppTable, local: &mut HashMap<RawApp, u16>, l: &LpiLib, data: &mut LpiData) -> Option<u16> {
    let (protocol, category, name, cat) = l.guess(data)?;
    // "Unknown", "No_Payload", "Unsupported", "Invalid": no classification.
    if matches!(name.as_str(), "Unknown_TCP" | "Unknown_UDP" | "No_Payload" | "Unsupported" | "Invalid" | "NULL")
        || name.is_empty()
    {
        return None;
    }
    let raw = RawApp::Lpi { protocol, category };
    if let Some(&id) = local.get(&raw) {
        return Some(id);
    }
    let id = apps.intern(raw, || AppInfo {
        protocol: name,
        master: String::new(),
        category: cat,
        engine: ENGINE_LPI,
        guessed: false,
    });
    local.insert(raw, id);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(proto: u8, frag: u16, total: u16, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn tuples_of_ipv4_ipv6_and_fragments() {
        let udp = [0x30, 0x39, 0, 53, 0, 8, 0, 0];
        let p = ipv4(17, 0, 28, &udp);
        let t = flow_tuple(&p).unwrap();
        assert_eq!((t.proto, t.src_port, t.dst_port), (17, 12345, 53));
        assert_eq!(t.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        let back = FlowTuple { src: t.dst, dst: t.src, src_port: t.dst_port, dst_port: t.src_port, ..t };
        assert_eq!(back.canonical(), t.canonical());
        // First fragment (MF, offset 0) keeps its ports; later fragments have no flow.
        assert!(flow_tuple(&ipv4(17, 0x2000, 28, &udp)).is_some());
        assert!(flow_tuple(&ipv4(17, 0x0001, 28, &udp)).is_none());
        // Other protocols: no ports. TCP/UDP cut before the ports: none.
        assert_eq!(flow_tuple(&ipv4(47, 0, 24, &[0; 4])).map(|t| (t.src_port, t.dst_port)), Some((0, 0)));
        assert!(flow_tuple(&ipv4(6, 0, 22, &[0, 1])).is_none());
        assert!(flow_tuple(&[0x45, 0, 0]).is_none());
        assert!(flow_tuple(&[]).is_none());
        // IPv6 with a hop-by-hop header before UDP.
        let mut v6 = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v6.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 0]);
        v6.extend_from_slice(&udp);
        let t = flow_tuple(&v6).unwrap();
        assert_eq!((t.proto, t.src_port, t.dst_port), (17, 12345, 53));
        assert!(!ip_truncated(&v6));
        assert!(ip_truncated(&v6[..v6.len() - 1]));
    }

    #[test]
    fn truncated_and_offloaded_lengths() {
        assert!(!ip_truncated(&ipv4(17, 0, 28, &[0; 8])));
        assert!(ip_truncated(&ipv4(17, 0, 29, &[0; 8])), "snap length");
        assert!(ip_truncated(&ipv4(6, 0, 0, &[0; 20])), "TSO: total length 0");
        assert!(!ip_truncated(&ipv4(17, 0, 28, &[0; 12])), "Ethernet padding");
    }

    #[test]
    fn ip_layer_follows_ip_in_ip_only() {
        use netcap_sdk::layer::{ETHERNET, GRE, IPV4, IPV6, UDP};
        let l = |id: u16, offset: usize| netcap_sdk::Layer { id, flags: 0, offset };
        assert_eq!(ip_layer(&[l(ETHERNET, 0), l(IPV4, 14), l(IPV6, 34), l(UDP, 74)]), Some(34));
        assert_eq!(ip_layer(&[l(ETHERNET, 0), l(IPV4, 14), l(GRE, 34), l(IPV4, 38)]), Some(14));
        assert_eq!(ip_layer(&[l(ETHERNET, 0)]), None);
    }

    #[test]
    fn app_table_interns_once_and_reads_without_locks() {
        let t = AppTable::default();
        let info = |p: &str| AppInfo {
            protocol: p.into(),
            master: String::new(),
            category: "Web".into(),
            engine: ENGINE_NDPI,
            guessed: false,
        };
        let a = RawApp::Ndpi(NdpiProtocol { master: 0, app: 7, category: 5 });
        let b = RawApp::Ndpi(NdpiProtocol { master: 91, app: 126, category: 5 });
        assert_eq!(t.intern(a, || info("HTTP")), 1);
        assert_eq!(t.intern(b, || info("Google")), 2);
        assert_eq!(t.intern(a, || unreachable!()), 1);
        assert_eq!(t.get(1).map(|a| a.protocol.as_str()), Some("HTTP"));
        assert_eq!(t.get(0), None);
        assert_eq!(t.get(3), None);
        assert_eq!(t.all().len(), 2);
        let tls = AppInfo { master: "TLS".into(), ..info("Google") };
        assert_eq!(tls.name(), "TLS.Google");
    }

    #[test]
    fn search_order() {
        let dir = std::env::temp_dir().join(format!("netcap-dpi-search-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in
            ["libndpi.so", "libndpi.so.4.8.0", "libndpi.so.4.2", "libndpi.so.4.10.1", "libndpiReader.so", "other.so"]
        {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let pref = vec!["libndpi.so.4.2".to_string()];
        let names: Vec<String> = search_candidates("libndpi.so", &pref, None, Some(std::slice::from_ref(&dir)))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["libndpi.so.4.2", "libndpi.so.4.10.1", "libndpi.so.4.8.0", "libndpi.so"]);
        // An explicit path is the only candidate; without a search path the loader comes first.
        let only =
            search_candidates("libndpi.so", &pref, Some(Path::new("/x/libndpi.so")), Some(std::slice::from_ref(&dir)));
        assert_eq!(only, [PathBuf::from("/x/libndpi.so")]);
        assert_eq!(search_candidates("libndpi.so", &pref, None, None).first(), Some(&PathBuf::from("libndpi.so.4.2")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_libraries_classify_is_a_no_op() {
        let empty = std::env::temp_dir().join(format!("netcap-dpi-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let e = DpiEngine::load(&DpiOptions { search_path: Some(vec![empty.clone()]), ..DpiOptions::default() });
        assert!(!e.active());
        assert!(e.notice().is_some_and(|n| n.starts_with("DPI off")));
        let mut d = e.workers(1).unwrap().pop().unwrap();
        assert_eq!(d.classify(1, &ipv4(17, 0, 28, &[0; 8]), 0, 0), 0);
        let off = DpiEngine::load(&DpiOptions { enabled: false, ..DpiOptions::default() });
        assert!(off.notice().is_none() && off.status().is_empty());
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn full_partitions_evict_the_least_recently_seen() {
        let e = DpiEngine::load(&DpiOptions { max_flows: 256 * 16, ..DpiOptions::default() });
        if !e.active() {
            eprintln!("notice: skipping, no nDPI");
            return;
        }
        let mut d = e.workers(1).unwrap().pop().unwrap();
        // 100 UDP flows, all in partition 7 (16 flows fit), one packet each, 1 ms apart.
        for i in 0..100u16 {
            let mut p = ipv4(17, 0, 28, &[0; 8]);
            p[20..22].copy_from_slice(&(1000 + i).to_be_bytes());
            d.classify(0x100 * u64::from(i) + 7, &p, 0, i64::from(i) * 1_000_000);
        }
        let s = d.stats();
        assert_eq!(s.flows, 100);
        assert!(s.evicted_full >= 84, "{s:?}");
        let mut left = 0;
        d.finish(|_| left += 1);
        assert!((14..=16).contains(&left), "{left} flows kept");
    }
}
