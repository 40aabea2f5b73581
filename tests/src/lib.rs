//! The end-to-end test harness: locating the `netcap` binary and the shared capture corpus,
//! running captures into temporary directories, reading record files back, asking tshark for
//! the same fields, and writing small pcaps that our own code synthesizes.
//!
//! The shared corpus (`../shared/pcaps`, or `$NETCAP_PCAP_DIR`) is third-party data and is never
//! copied into the repository. When it (or tshark) is missing, tests skip with a printed notice,
//! unless `NETCAP_REQUIRE_CORPUS=1` (or `NETCAP_REQUIRE_TSHARK=1`) makes that a failure, as CI does;
//! likewise `NETCAP_REQUIRE_PYTHON=1` (pyarrow and DuckDB) and `NETCAP_REQUIRE_SPARK=1` (PySpark).
#![allow(clippy::print_stderr, reason = "skip notices in tests")]

pub mod pcap;
pub mod synth_app;
pub mod synth_db;
pub mod synth_ics;
pub mod synth_link;
pub mod synth_mqtt;
pub mod synth_net;
pub mod synth_stream;
pub mod synth_tunnel;
pub mod synth_windows;

use netcap_proto::v1::Header;
use prost::Message;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// The `netcap` binary of this build profile (built by `cargo test --workspace`).
pub fn netcap_bin() -> PathBuf {
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let bin = target_dir().join(profile).join("netcap");
    assert!(bin.is_file(), "{} is missing: run `cargo xtask test` (or `cargo build -p netcap` first)", bin.display());
    let plugins = target_dir().join("plugins").join("l2l4.wasm");
    assert!(plugins.is_file(), "{} is missing: run `cargo xtask build-plugins`", plugins.display());
    bin
}

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// The shared capture corpus, or `None` (after a notice) when it is not there.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("NETCAP_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared").join("pcaps"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(!required("NETCAP_REQUIRE_CORPUS"), "the capture corpus {} is missing", dir.display());
    eprintln!("notice: skipping, the capture corpus {} is missing", dir.display());
    None
}

/// What one tshark pass over a corpus capture says: the protocols it dissects (the tokens of
/// `frame.protocols`, e.g. `dns`, `gre`, `ipv6.hopopts`), the packets it reads (frames with an
/// encapsulation type: tshark 4 also lists pcapng custom blocks as frames) and whether it read
/// the whole file.
struct TsharkPass {
    protocols: std::collections::BTreeSet<String>,
    packets: u64,
    complete: bool,
}

impl TsharkPass {
    fn run(f: &Path) -> Self {
        let o = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(f)
            .args(["-T", "fields", "-E", "separator=/t", "-e", "frame.encap_type", "-e", "frame.protocols"])
            .args(["-e", "ip.flags.mf", "-e", "ip.frag_offset"])
            .output();
        let mut pass = TsharkPass { protocols: Default::default(), packets: 0, complete: false };
        if let Ok(o) = o {
            pass.complete = o.status.success();
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                let mut cols = line.split('\t');
                let (encap, protocols) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
                if !encap.trim().is_empty() {
                    pass.packets += 1;
                }
                pass.protocols.extend(protocols.split(':').filter(|t| !t.is_empty()).map(str::to_string));
                let (mf, offset) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
                let set = |v: &str| v.split(',').any(|x| !matches!(x.trim(), "" | "0" | "False"));
                if set(mf) || set(offset) {
                    pass.protocols.insert(IPV4_FRAGMENT.to_string());
                }
            }
        }
        pass
    }

    /// The cache line's value: `packets;complete;proto,proto,...`.
    fn to_cache(&self) -> String {
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        format!("{};{};{}", self.packets, u8::from(self.complete), protocols.join(","))
    }

    fn from_cache(v: &str) -> Option<Self> {
        let mut parts = v.splitn(3, ';');
        let packets = parts.next()?.parse().ok()?;
        let complete = parts.next()? == "1";
        let protocols = parts.next()?.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect();
        Some(TsharkPass { protocols, packets, complete })
    }
}

/// The index's token for a capture with an IPv4 fragment (more-fragments flag or a fragment
/// offset), next to the `frame.protocols` tokens (IPv6 fragments show as `ipv6.fraghdr`).
pub const IPV4_FRAGMENT: &str = "_ipv4.fragment";

/// Whether tshark finds an IPv4 or IPv6 fragment in a corpus capture (`true` for a file outside
/// the index: the caller then cannot rely on reassembly making no difference).
pub fn has_ip_fragments(f: &Path) -> bool {
    corpus_index()
        .iter()
        .find(|(p, _)| p == f)
        .is_none_or(|(_, set)| set.contains(IPV4_FRAGMENT) || set.contains("ipv6.fraghdr"))
}

struct CorpusIndex {
    files: Vec<(PathBuf, std::collections::BTreeSet<String>)>,
    packets: std::collections::HashMap<PathBuf, (u64, bool)>,
}

fn corpus_capture_files(root: &Path) -> Vec<PathBuf> {
    netcap::capture::inputs::capture_files_below(root)
}

/// The cache key of a file: path, size and modification time.
fn file_key(p: &Path) -> String {
    let m = std::fs::metadata(p).ok();
    let size = m.as_ref().map_or(0, std::fs::Metadata::len);
    let mtime = m
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    format!("{}\t{size}\t{mtime}", p.display())
}

/// tshark passes over `files`, two at a time (CI has two cores).
fn tshark_passes(files: &[&PathBuf]) -> Vec<(String, TsharkPass)> {
    std::thread::scope(|s| {
        let hs: Vec<_> = files
            .chunks(files.len().div_ceil(2).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().map(|f| (file_key(f), TsharkPass::run(f))).collect::<Vec<_>>()))
            .collect();
        hs.into_iter().flat_map(|h| h.join().expect("tshark index thread")).collect()
    })
}

fn build_corpus_index() -> CorpusIndex {
    let empty = CorpusIndex { files: Vec::new(), packets: Default::default() };
    let Some(root) = corpus() else { return empty };
    if !have_tshark() {
        return empty;
    }
    let files = corpus_capture_files(&root);
    let cache_path = target_dir().join("tmp").join("corpus-index-v3.tsv");
    let mut cached: std::collections::HashMap<String, String> = std::fs::read_to_string(&cache_path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.rsplit_once('\t').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let missing: Vec<&PathBuf> = files.iter().filter(|f| !cached.contains_key(&file_key(f))).collect();
    if !missing.is_empty() {
        cached.extend(tshark_passes(&missing).into_iter().map(|(k, pass)| (k, pass.to_cache())));
        let mut lines: Vec<String> = cached.iter().map(|(k, v)| format!("{k}\t{v}")).collect();
        lines.sort();
        let _ = std::fs::create_dir_all(cache_path.parent().unwrap_or(Path::new(".")));
        let _ = std::fs::write(&cache_path, lines.join("\n") + "\n");
    }
    let mut index = empty;
    for f in files {
        let pass = cached.get(&file_key(&f)).and_then(|v| TsharkPass::from_cache(v));
        let pass = pass.unwrap_or(TsharkPass { protocols: Default::default(), packets: 0, complete: false });
        index.packets.insert(f.clone(), (pass.packets, pass.complete));
        index.files.push((f, pass.protocols));
    }
    index
}

fn corpus_index_full() -> &'static CorpusIndex {
    static INDEX: std::sync::OnceLock<CorpusIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(build_corpus_index)
}

/// Every capture file of the corpus (all sub-directories) with the set of protocols tshark
/// dissects in it (the tokens of `frame.protocols`, e.g. `dns`, `gre`, `ipv6.hopopts`). Built
/// once per test process by one tshark pass per file, two files at a time, and cached in
/// `target/tmp/corpus-index-v3.tsv` by path, size and modification time, so that each oracle
/// test picks "every capture that contains the protocol" without running tshark again.
pub fn corpus_index() -> &'static [(PathBuf, std::collections::BTreeSet<String>)] {
    &corpus_index_full().files
}

/// The packets tshark reads from a corpus capture and whether it read the whole file, from the
/// same cached pass as [`corpus_index`]; `None` for a file outside the index.
pub fn corpus_packets(f: &Path) -> Option<(u64, bool)> {
    corpus_index_full().packets.get(f).copied()
}

/// The corpus files in which tshark dissects any of `protocols` (`frame.protocols` tokens),
/// sorted by path.
pub fn files_with(protocols: &[&str]) -> Vec<PathBuf> {
    corpus_index()
        .iter()
        .filter(|(_, set)| protocols.iter().any(|p| set.contains(*p)))
        .map(|(f, _)| f.clone())
        .collect()
}

/// Capture files (`.pcap`, `.pcapng`, `.cap`) in the corpus sub-directories, sorted.
pub fn corpus_files(subdirs: &[&str]) -> Vec<PathBuf> {
    let Some(root) = corpus() else { return Vec::new() };
    let mut files = Vec::new();
    for s in subdirs {
        let Ok(rd) = std::fs::read_dir(root.join(s)) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Whether `v` is a DTLS record version (1.0, 1.2, 1.3 and OpenSSL's pre-RFC 0x0100): the
/// `inet` decoder's DTLS hellos share the TLS hello record types with TLS over TCP.
pub fn is_dtls_version(v: u32) -> bool {
    matches!(v, 0xfeff | 0xfefd | 0xfefc | 0x0100)
}

/// Whether tshark is installed (a notice when not, a failure with `NETCAP_REQUIRE_TSHARK=1`).
pub fn have_tshark() -> bool {
    let ok = Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!required("NETCAP_REQUIRE_TSHARK"), "tshark is not installed");
        eprintln!("notice: skipping, tshark is not installed");
    }
    ok
}

/// A Python interpreter that imports `modules`: `$NETCAP_PYTHON`, else the virtual environment
/// `cargo xtask setup` makes (`target/python`), else `python3`. `None` after a notice when none
/// does; a failure when `require` (e.g. `NETCAP_REQUIRE_PYTHON`) is `1`, as in CI.
pub fn python_with(modules: &[&str], require: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("NETCAP_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([target_dir().join("python").join("bin").join("python"), PathBuf::from("python3")])
        .collect();
    let import = format!("import {}", modules.join(", "));
    let found = candidates
        .into_iter()
        .find(|py| Command::new(py).args(["-c", &import]).output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        let what = modules.join(", ");
        assert!(!required(require), "no Python with {what}: run `cargo xtask setup` (or set NETCAP_PYTHON)");
        eprintln!(
            "notice: skipping, no Python with {what} (run `cargo xtask setup`; {require}=1 makes this a failure)"
        );
    }
    found
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "netcap-test-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `netcap` with `args`.
pub fn netcap(args: &[&str]) -> Output {
    netcap_cmd().args(args).output().expect("run netcap")
}

/// A `netcap` command with the test environment: compiled decoder code cached in
/// `target/tmp/wasm-cache` (shared by all tests, kept out of the user's home).
pub fn netcap_cmd() -> Command {
    let mut c = Command::new(netcap_bin());
    if std::env::var_os("NETCAP_CACHE_DIR").is_none() {
        c.env("NETCAP_CACHE_DIR", target_dir().join("tmp").join("wasm-cache"));
    }
    c
}

/// Runs `netcap capture -r FILE -o DIR --quiet` plus `extra`.
pub fn capture(file: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args =
        vec!["capture", "-r", file.to_str().expect("utf-8 path"), "-o", out.to_str().expect("utf-8 path"), "--quiet"];
    args.extend_from_slice(extra);
    netcap(&args)
}

/// The corpus-wide captures several tests read, each made once per test process: a test that
/// needs one of these configurations reads the shared output instead of running netcap over the
/// whole corpus again (each corpus pass costs minutes of CI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shared {
    /// Every standard record type, 2 workers, unknown and error pcaps, and flow timeouts that never
    /// fire: one Connection per tuple, as tshark's conversations and ndpiReader's flows count them
    /// (the timeouts change nothing else). One configuration, so the corpus is captured once.
    Default,
    /// The test decoder `echo` alone (its `StreamEcho` records) with HTTP, the TLS hellos, SSH
    /// and DNS, 1 worker, and streams that never time out (tshark never ends a connection on
    /// time): what the stream comparisons and the corpus gap bounds read.
    StreamEcho,
}

impl Shared {
    fn args(self) -> Vec<String> {
        let args: Vec<&str> = match self {
            Shared::Default => vec![
                "--workers",
                "2",
                "--unknown-pcap",
                "--errors-pcap",
                "--flow-idle",
                "100000000s",
                "--flow-active",
                "100000000s",
            ],
            Shared::StreamEcho => vec![
                "--workers",
                "1",
                "--include",
                "StreamEcho,HTTP,TLSClientHello,TLSServerHello,SSH,DNS",
                "--stream-timeout",
                "4000000000",
                "--plugins",
                echo_plugin_dir().to_str().expect("utf-8 path"),
            ],
        };
        args.into_iter().map(str::to_string).collect()
    }
}

/// A directory holding only the test decoder `echo.wasm`, for `--plugins` (one per test process,
/// beside its shared captures).
pub fn echo_plugin_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = shared_capture_root().join("echo-plugin");
        std::fs::create_dir_all(&d).expect("create the echo plugin dir");
        std::fs::copy(testing_plugins_dir().join("echo.wasm"), d.join("echo.wasm")).expect("copy echo.wasm");
        d
    })
}

/// A shared capture: its output directory and the process output (not `--quiet`).
pub struct SharedCapture {
    pub dir: PathBuf,
    pub output: Output,
}

/// This process's directory of shared captures, `target/tmp/shared-captures/<pid>`; those of
/// processes that are gone are removed the first time.
fn shared_capture_root() -> &'static Path {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let parent = target_dir().join("tmp").join("shared-captures");
        for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let alive = e.file_name().to_str().is_some_and(|pid| Path::new("/proc").join(pid).exists());
            if !alive {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = parent.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create shared capture dir");
        dir
    })
}

/// `netcap capture` of `file` in the `kind` configuration, run once per test process however
/// many tests ask (concurrent askers wait for the first).
pub fn shared_capture(file: &Path, kind: Shared) -> &'static SharedCapture {
    type Cell = &'static std::sync::OnceLock<SharedCapture>;
    static RUNS: std::sync::Mutex<Option<std::collections::HashMap<(PathBuf, Shared), Cell>>> =
        std::sync::Mutex::new(None);
    let cell: Cell = {
        let mut runs = RUNS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let map = runs.get_or_insert_with(Default::default);
        *map.entry((file.to_path_buf(), kind)).or_insert_with(|| Box::leak(Box::new(std::sync::OnceLock::new())))
    };
    cell.get_or_init(|| {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = shared_capture_root().join(N.fetch_add(1, Ordering::Relaxed).to_string());
        let output = netcap_cmd()
            .args(["capture", "-r"])
            .arg(file)
            .arg("-o")
            .arg(&dir)
            .args(kind.args())
            .output()
            .expect("run netcap");
        SharedCapture { dir, output }
    })
}

/// `file` captured as tshark reads it with IP reassembly off: the shared default run when tshark
/// finds no IP fragment in the file (reassembly then changes nothing), else a run of its own into
/// `own` with `--no-defrag` and `extra` (e.g. the `--include` list the oracle compares). Returns
/// the output directory and the process output.
pub fn capture_without_defrag(file: &Path, extra: &[&str], own: &Path) -> (PathBuf, Output) {
    if has_ip_fragments(file) {
        let mut args = vec!["--no-defrag"];
        args.extend_from_slice(extra);
        return (own.to_path_buf(), capture(file, own, &args));
    }
    default_capture(file)
}

/// `file` captured in the shared configuration ([`Shared::Default`]), as an oracle that compares
/// a few record types needs it (records do not depend on `--include` or the worker count).
/// Returns its output directory and the process output.
pub fn default_capture(file: &Path) -> (PathBuf, Output) {
    let run = shared_capture(file, Shared::Default);
    (run.dir.clone(), run.output.clone())
}

/// The output of the command `make` builds for `file`, run once per test process for each `tag`
/// and file however many tests ask (concurrent askers wait for the first): for oracle runs
/// (ndpiReader, tshark passes) that several corpus-wide tests compare with.
pub fn run_once(tag: &'static str, file: &Path, make: impl FnOnce() -> Command) -> &'static Output {
    type Cell = &'static std::sync::OnceLock<Output>;
    static RUNS: std::sync::Mutex<Option<std::collections::HashMap<(&'static str, PathBuf), Cell>>> =
        std::sync::Mutex::new(None);
    let cell: Cell = {
        let mut runs = RUNS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let map = runs.get_or_insert_with(Default::default);
        *map.entry((tag, file.to_path_buf())).or_insert_with(|| Box::leak(Box::new(std::sync::OnceLock::new())))
    };
    cell.get_or_init(|| make().output().unwrap_or_else(|e| panic!("run {tag} on {}: {e}", file.display())))
}

/// A tshark list of numbers (hex or decimal, comma-separated) re-joined in decimal; values that
/// are not numbers are kept as they are.
pub fn tshark_nums(s: &str) -> String {
    s.split(',')
        .filter(|v| !v.is_empty())
        .map(|v| parse_num(v).map_or(v.to_string(), |n| n.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Values joined with commas, as tshark prints a field that occurs several times.
pub fn join_list<T: ToString>(it: impl IntoIterator<Item = T>) -> String {
    it.into_iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

/// Captures `f` into `out1` with 1 worker and `--include include` (which must end with exit 0 or
/// 1), and again with 3 workers: a problem line per record file whose bytes differ.
pub fn capture_1_and_3_workers(f: &Path, include: &str, out1: &Path, out3: &Path) -> Vec<String> {
    std::fs::create_dir_all(out1).expect("mkdir");
    let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let o = capture(f, out1, &["--include", include, "--workers", "1"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "netcap failed on {name}: {}", String::from_utf8_lossy(&o.stderr));
    capture(f, out3, &["--include", include, "--workers", "3"]);
    file_names(out1)
        .into_iter()
        .filter(|file| file_bytes(&out1.join(file)) != file_bytes(&out3.join(file)))
        .map(|file| format!("{name}: {file} differs between 1 and 3 workers"))
        .collect()
}

/// Reads a record file: its header and each record's protobuf bytes.
pub fn read_record_file(path: &Path) -> (Header, Vec<Vec<u8>>) {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let bytes = if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::decode_all(raw.as_slice()).expect("zstd")
    } else {
        raw
    };
    let mut msgs = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (len, used) = netcap_proto::get_uvarint(rest).expect("varint");
        let end = used + len as usize;
        msgs.push(rest[used..end].to_vec());
        rest = &rest[end..];
    }
    assert!(!msgs.is_empty(), "{} has no header", path.display());
    let header = Header::decode(msgs.remove(0).as_slice()).expect("header");
    (header, msgs)
}

/// The records of type `name` in `dir` (`<name>.ncap.zst`), decoded; empty when there is no file.
pub fn records<T: Message + Default>(dir: &Path, name: &str) -> Vec<T> {
    let p = dir.join(format!("{name}.ncap.zst"));
    if !p.exists() {
        return Vec::new();
    }
    read_record_file(&p).1.iter().map(|b| T::decode(b.as_slice()).expect("decode record")).collect()
}

/// tshark's fields for every packet: one row per packet, one column per field (occurrences
/// joined by `,`). `None` when tshark cannot read the file.
pub fn tshark_fields(file: &Path, fields: &[&str], extra: &[&str]) -> Option<Vec<Vec<String>>> {
    fields_rows(&tshark_fields_command(file, fields, extra).output().ok()?)
}

/// The tshark command [`tshark_fields`] runs.
fn tshark_fields_command(file: &Path, fields: &[&str], extra: &[&str]) -> Command {
    let mut c = Command::new("tshark");
    c.args(["-n", "-r"]).arg(file).args([
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "quote=n",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    c.args(extra);
    for f in fields {
        c.args(["-e", f]);
    }
    c
}

/// The rows of a `tshark -T fields` run; `None` when it failed without output.
fn fields_rows(out: &Output) -> Option<Vec<Vec<String>>> {
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && text.is_empty() {
        return None;
    }
    Some(text.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect())
}

/// The fields [`tcp_fields`] gives, in this order.
pub const TCP_FIELDS: [&str; 11] = [
    "tcp.stream",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "tcp.srcport",
    "ip.dst",
    "ipv6.dst",
    "tcp.dstport",
    "tcp.len",
    "frame.cap_len",
    "frame.len",
];

/// [`TCP_FIELDS`] of every TCP packet of `file` (`-Y tcp`, as [`tshark_fields`] gives them), from
/// one tshark pass per test process however many tests ask.
pub fn tcp_fields(file: &Path) -> Option<Vec<Vec<String>>> {
    fields_rows(run_once("tcp-fields", file, || tshark_fields_command(file, &TCP_FIELDS, &["-Y", "tcp"])))
}

/// Reads a whole file (for byte-identity checks).
pub fn file_bytes(p: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    std::fs::File::open(p)
        .and_then(|mut f| f.read_to_end(&mut v))
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    v
}

/// Sorted file names of a directory, without a capture's bookkeeping files (`.netcap.lock`,
/// `.netcap.manifest`).
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".netcap."))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Where `cargo xtask build-plugins` puts test-only decoders (`plugins/testing/*`).
pub fn testing_plugins_dir() -> PathBuf {
    let d = target_dir().join("plugins-testing");
    assert!(d.join("faulty.wasm").is_file(), "{} is missing: run `cargo xtask build-plugins`", d.display());
    d
}

/// A decimal or `0x`-prefixed hexadecimal integer as tshark prints it.
pub fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// tshark's `frame.time_epoch` (`1363624631.382875000`) as integer ns.
pub fn parse_ns(s: &str) -> Option<i64> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns: i64 = format!("{frac:0<9}").parse().ok()?;
    let secs: i64 = secs.parse().ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(if secs < 0 { -frac_ns } else { frac_ns })
}

/// Compares, per key (a connection or flow), the sequences of message descriptions tshark gives
/// (`theirs`) with ours: each key whose sequences differ adds the first difference to `problems`,
/// each key tshark lacks adds one line. Returns the messages compared (tshark's count).
pub fn compare_sequences(
    name: &str,
    theirs: &std::collections::BTreeMap<String, Vec<String>>,
    ours: &std::collections::BTreeMap<String, Vec<String>>,
    problems: &mut Vec<String>,
) -> usize {
    let mut n = 0;
    for (k, tv) in theirs {
        let ov = ours.get(k).cloned().unwrap_or_default();
        if ov != *tv {
            let i = ov.iter().zip(tv).position(|(a, b)| a != b).unwrap_or(ov.len().min(tv.len()));
            problems.push(format!(
                "{name} {k}: first difference at {i} of {}/{}:\n ours   {:?}\n tshark {:?}",
                ov.len(),
                tv.len(),
                ov.get(i),
                tv.get(i)
            ));
        }
        n += tv.len();
    }
    for k in ours.keys().filter(|k| !theirs.contains_key(*k)) {
        problems.push(format!("{name} {k}: {} messages tshark does not have", ours[k].len()));
    }
    n
}
