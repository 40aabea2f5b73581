//! netcap's fuzzing harness, on the stable toolchain: a seeded, deterministic mutation loop over
//! seeds from the capture corpus, driving the host's dissector, IP defragmentation, TCP
//! reassembly and record-file reader in-process (`targets`), with panics caught per input and
//! crashers saved to `fuzz/crashers/<target>/<sha256>.bin` (a regression corpus that
//! `tests/fuzz.rs` replays).
//!
//! Budgets: a fixed number of iterations (CI: the same inputs on every run) or a time (`cargo
//! xtask fuzz --minutes N`, release build). Memory is bounded: inputs are capped per target, the
//! seed pool and the set of seen behaviours are capped, and each input gets fresh state.
//! What the loop cannot catch: a stack overflow or an abort ends the process (run the printed
//! input again under a debugger).

pub mod mutate;
pub mod rng;
pub mod seeds;
pub mod targets;

use rng::Rng;
use seeds::Seeds;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
pub use targets::Target;

/// Inputs kept per target (seeds plus inputs with new behaviour); beyond it a new input replaces
/// a random one.
const MAX_POOL: usize = 8000;
/// Behaviour signatures remembered per target.
const MAX_SIGNATURES: usize = 200_000;
/// Iterations between time checks and target switches in a time budget.
const ROUND: u64 = 500;

/// How long to fuzz.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// This many mutated inputs per target (deterministic).
    Iterations(u64),
    /// This long in total, split evenly between the targets.
    Time(Duration),
}

/// A fuzz run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub targets: Vec<Target>,
    pub seed: u64,
    pub budget: Budget,
    /// Where crashers are saved (`<dir>/<target>/<sha256>.bin`); `None`: not saved.
    pub crashers: Option<PathBuf>,
    /// A directory for scratch files (the record-file target's input).
    pub scratch: PathBuf,
}

/// One crash: the first input that panicked at a place.
#[derive(Debug, Clone)]
pub struct Crash {
    pub target: Target,
    /// The panic message (with its location).
    pub message: String,
    pub input: Vec<u8>,
    /// Where it was saved.
    pub saved: Option<PathBuf>,
}

/// What a target's run did.
#[derive(Debug, Clone, Default)]
pub struct TargetReport {
    pub seeds: usize,
    pub iterations: u64,
    pub elapsed: Duration,
    /// Inputs kept for new behaviour.
    pub kept: usize,
    /// Inputs that panicked (all of them; `crashes` keeps one per place).
    pub panics: u64,
    /// The slowest input, in case something is close to hanging.
    pub slowest: Duration,
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Report {
    pub targets: BTreeMap<Target, TargetReport>,
    pub crashes: Vec<Crash>,
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that, while a fuzz input runs on this thread, records the panic
/// instead of printing it; other panics go to the previous hook.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                LAST_PANIC.with(|l| *l.borrow_mut() = Some(info.to_string()));
            } else {
                prev(info);
            }
        }));
    });
}

/// Runs one input; `Err(message)` when it panicked.
pub fn run_one(target: Target, input: &[u8], scratch: &mut targets::Scratch) -> Result<u64, String> {
    install_panic_hook();
    CATCHING.with(|c| c.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| targets::run(target, input, scratch)));
    CATCHING.with(|c| c.set(false));
    r.map_err(|_| LAST_PANIC.with(|l| l.borrow_mut().take()).unwrap_or_else(|| "panic".into()))
}

/// The SHA-256 of an input, in hex (its crasher file name).
pub fn sha256_hex(input: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(input).iter().map(|b| format!("{b:02x}")).collect()
}

/// Saves a crasher as `<dir>/<target>/<sha256>.bin`.
pub fn save_crasher(dir: &Path, target: Target, input: &[u8]) -> std::io::Result<PathBuf> {
    let d = dir.join(target.name());
    std::fs::create_dir_all(&d)?;
    let p = d.join(format!("{}.bin", sha256_hex(input)));
    std::fs::write(&p, input)?;
    Ok(p)
}

/// The crashers saved under `dir`: (target, file), in path order.
pub fn crashers(dir: &Path) -> Vec<(Target, PathBuf)> {
    let mut out = Vec::new();
    for t in Target::ALL {
        let Ok(rd) = std::fs::read_dir(dir.join(t.name())) else { continue };
        let mut files: Vec<PathBuf> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "bin")).collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (t, f)));
    }
    out
}

/// The state of one target's loop.
struct Lane {
    target: Target,
    pool: Vec<Vec<u8>>,
    seen: HashSet<u64>,
    report: TargetReport,
    /// Panic locations already reported.
    places: HashSet<String>,
}

/// The panic's location line (`panicked at file:line:col:`), to tell crashes apart.
fn place(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_string()
}

impl Lane {
    fn input(&mut self, input: &[u8], scratch: &mut targets::Scratch, cfg: &Config, crashes: &mut Vec<Crash>) -> bool {
        let t0 = Instant::now();
        let r = run_one(self.target, input, scratch);
        self.report.slowest = self.report.slowest.max(t0.elapsed());
        match r {
            Ok(sig) => {
                if self.seen.len() < MAX_SIGNATURES && self.seen.insert(sig) {
                    return true;
                }
            }
            Err(message) => {
                self.report.panics += 1;
                if self.places.insert(place(&message)) {
                    let saved = cfg.crashers.as_deref().and_then(|d| save_crasher(d, self.target, input).ok());
                    crashes.push(Crash { target: self.target, message, input: input.to_vec(), saved });
                }
            }
        }
        false
    }

    fn keep(&mut self, rng: &mut Rng, input: Vec<u8>) {
        self.report.kept += 1;
        if self.pool.len() < MAX_POOL {
            self.pool.push(input);
        } else {
            let i = rng.below(self.pool.len());
            self.pool[i] = input;
        }
    }

    /// `n` mutated inputs.
    fn round(&mut self, n: u64, rng: &mut Rng, scratch: &mut targets::Scratch, cfg: &Config, crashes: &mut Vec<Crash>) {
        let t0 = Instant::now();
        let max = self.target.max_len();
        let mut input = Vec::new();
        for _ in 0..n {
            if self.pool.is_empty() {
                self.pool.push(Vec::new());
            }
            let (a, b) = (rng.below(self.pool.len()), rng.below(self.pool.len()));
            input.clear();
            input.extend_from_slice(&self.pool[a]);
            mutate::mutate(rng, &mut input, &self.pool[b], max);
            self.report.iterations += 1;
            if self.input(&input, scratch, cfg, crashes) {
                self.keep(rng, input.clone());
            }
        }
        self.report.elapsed += t0.elapsed();
    }
}

/// Runs the fuzzer: every seed once, then mutated inputs within the budget.
pub fn fuzz(cfg: &Config, seeds: &Seeds, mut progress: impl FnMut(&Report)) -> std::io::Result<Report> {
    let mut scratch = targets::Scratch::new(&cfg.scratch)?;
    let mut crashes = Vec::new();
    let mut lanes: Vec<Lane> = Vec::new();
    for &t in &cfg.targets {
        let mut lane = Lane {
            target: t,
            pool: Vec::new(),
            seen: HashSet::new(),
            report: TargetReport::default(),
            places: HashSet::new(),
        };
        let t0 = Instant::now();
        for s in seeds.get(t) {
            lane.input(s, &mut scratch, cfg, &mut crashes);
            lane.pool.push(s.clone());
        }
        lane.report.seeds = lane.pool.len();
        lane.report.elapsed += t0.elapsed();
        lanes.push(lane);
    }
    // One generator per target, derived from the seed: a target's inputs do not depend on which
    // other targets run.
    let mut rngs: Vec<Rng> =
        lanes.iter().map(|l| Rng::new(cfg.seed ^ rng::Rng::new(l.target as u64).next_u64())).collect();
    let report = |lanes: &[Lane], crashes: &[Crash]| Report {
        targets: lanes.iter().map(|l| (l.target, l.report.clone())).collect(),
        crashes: crashes.to_vec(),
    };
    match cfg.budget {
        Budget::Iterations(n) => {
            for (lane, rng) in lanes.iter_mut().zip(&mut rngs) {
                lane.round(n, rng, &mut scratch, cfg, &mut crashes);
            }
        }
        Budget::Time(total) => {
            let start = Instant::now();
            let mut last = Instant::now();
            while start.elapsed() < total {
                for (lane, rng) in lanes.iter_mut().zip(&mut rngs) {
                    lane.round(ROUND, rng, &mut scratch, cfg, &mut crashes);
                }
                if last.elapsed() >= Duration::from_secs(10) {
                    progress(&report(&lanes, &crashes));
                    last = Instant::now();
                }
            }
        }
    }
    Ok(report(&lanes, &crashes))
}

/// The shared capture corpus: `$NETCAP_PCAP_DIR`, else `../shared/pcaps` next to the workspace.
pub fn corpus_dir() -> Option<PathBuf> {
    let p = std::env::var_os("NETCAP_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared").join("pcaps"));
    p.is_dir().then_some(p)
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("fuzz/ is in the workspace").to_path_buf()
}

/// The committed crasher corpus, `fuzz/crashers`.
pub fn crashers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crashers")
}

/// A scratch directory under the target directory.
pub fn scratch_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("tmp")
        .join("fuzz")
}
