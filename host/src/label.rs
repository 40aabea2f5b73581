//! `netcap label`: labelled CSV datasets from record files and Suricata alerts (eve.json or
//! fast.log, or Suricata run on the capture) and/or attack windows (YAML).
//!
//! Every `<Type>.ncap[.zst|.gz]` in the records directory is read once, through the schema in
//! its header (as `netcap dump` does), and written as `<Type>_labeled.csv`: the record's CSV
//! columns plus `label` (`normal` when nothing matched). Alerts and windows are held in memory
//! and indexed (`matching`); records are streamed, so a record costs a hash lookup and memory
//! stays bounded by the alerts. Files are labelled in parallel, in two phases: the types with
//! addresses first (their alert matches become "anchors" by packet timestamp), then the types
//! without (Ethernet, ...), which take the labels of their packet's anchors. Output does not
//! depend on the number of threads.
//!
//! Alerts that match no record are counted and listed (`--verbose`): they are the usual sign of
//! a wrong time zone or a capture that is not the one Suricata saw.

pub mod alerts;
pub mod matching;
pub mod suricata;
pub mod windows;

use crate::dump::{ReadError, RecordFile};
use alerts::{Alert, AlertError, AlertFormat};
use matching::{Labels, Matcher, Mode, RecordKind, Shape, View};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use windows::{Window, WindowError};

/// Errors of `netcap label`.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error(transparent)]
    Alerts(#[from] AlertError),
    #[error(transparent)]
    Windows(#[from] WindowError),
    #[error(transparent)]
    Suricata(#[from] suricata::SuricataError),
    #[error("give alerts (--alerts FILE, or -r PCAP to run Suricata) and/or attack windows (--windows FILE)")]
    NoSources,
    #[error("cannot list the records directory {path}")]
    ListRecords {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no record files (<Type>.ncap.zst, .ncap.gz, .ncap) in {0}")]
    NoRecords(PathBuf),
    #[error("two record files for {record_type}: {a} and {b}")]
    DuplicateType { record_type: String, a: PathBuf, b: PathBuf },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "--strict: conflicting labels for a {record_type} record at {time} (record {record}): {labels}; nothing was written"
    )]
    Conflict { record_type: String, record: u64, time: String, labels: String },
    #[error("stopped by a signal: nothing was written (the unfinished .part files were removed)")]
    Interrupted,
}

/// What `netcap label` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct LabelOptions {
    /// Directory with the record files.
    pub records: PathBuf,
    /// Where `<Type>_labeled.csv` go (default: `records`).
    pub out: Option<PathBuf>,
    /// Suricata alerts: eve.json or fast.log.
    pub alerts: Option<PathBuf>,
    /// Attack windows (YAML).
    pub windows: Option<PathBuf>,
    /// Run Suricata on this capture for the alerts.
    pub pcap: Option<PathBuf>,
    pub suricata_config: Option<PathBuf>,
    pub suricata_rules: Option<PathBuf>,
    /// Time zone of fast.log times and of windows without one (default UTC).
    pub tz: Option<String>,
    pub strict: bool,
    pub collect: bool,
    /// Classifications (or labels, or window categories) to ignore.
    pub exclude: Vec<String>,
    /// Label with the signature (window name) instead of the classification (category).
    pub description: bool,
    /// Only flow record types.
    pub disable_layers: bool,
    /// Threads (0: number of cores).
    pub threads: usize,
    /// Set by a signal (SIGINT, SIGTERM, SIGHUP): stop, remove the `.part` files, write nothing.
    pub stop: Arc<AtomicBool>,
}

/// One labelled record type.
#[derive(Debug, Clone)]
pub struct TypeSummary {
    pub record_type: String,
    pub kind: RecordKind,
    pub output: PathBuf,
    pub records: u64,
    /// Records per label (including `normal`).
    pub labels: BTreeMap<String, u64>,
    /// A read error that ended the file early (what was read is labelled).
    pub read_error: Option<String>,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct LabelSummary {
    pub alert_file: Option<PathBuf>,
    pub format: Option<AlertFormat>,
    pub tz: String,
    pub alerts: Vec<Alert>,
    pub excluded_alerts: usize,
    pub windows: Vec<Window>,
    pub excluded_windows: usize,
    /// Per alert: matched at least one record.
    pub alert_matched: Vec<bool>,
    /// Per window: records matched.
    pub window_records: Vec<u64>,
    pub types: Vec<TypeSummary>,
    pub notices: Vec<String>,
    /// Alert lines that could not be read.
    pub bad_lines: Vec<(usize, String)>,
    pub description: bool,
}

impl LabelSummary {
    pub fn unmatched(&self) -> usize {
        self.alert_matched.iter().filter(|m| !**m).count()
    }

    /// 0, or 1 when a record file was cut short or alert lines could not be read.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.types.iter().any(|t| t.read_error.is_some()) || !self.bad_lines.is_empty())
    }

    /// The summary for stderr: labels per type and label, alerts per label, unmatched alerts.
    pub fn render(&self, verbose: bool) -> String {
        let mut s = String::new();
        for n in &self.notices {
            let _ = writeln!(s, "netcap: {n}");
        }
        for t in &self.types {
            let labelled: u64 = t.labels.iter().filter(|(k, _)| *k != "normal").map(|(_, v)| v).sum();
            let _ = writeln!(
                s,
                "{}: {} records, {} labelled -> {}",
                t.record_type,
                t.records,
                labelled,
                t.output.display()
            );
            let mut rows: Vec<(&String, &u64)> = t.labels.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let shown = if verbose { rows.len() } else { rows.len().min(20) };
            for (label, n) in &rows[..shown] {
                let _ = writeln!(s, "  {n:>10}  {label}");
            }
            if shown < rows.len() {
                let _ = writeln!(s, "  ... {} more labels (--verbose lists them)", rows.len() - shown);
            }
            if let Some(e) = &t.read_error {
                let _ = writeln!(s, "  input ended early: {e}");
            }
        }
        if let Some(f) = &self.alert_file {
            let fmt = self.format.map_or("?", AlertFormat::name);
            let times = match self.format {
                Some(AlertFormat::Fast) => format!(", local times in {}", self.tz),
                _ => String::new(),
            };
            let _ = writeln!(s, "alert file: {} ({fmt}{times})", f.display());
            let _ = writeln!(
                s,
                "alerts: {} read, {} excluded, {} matched, {} unmatched",
                self.alerts.len() + self.excluded_alerts,
                self.excluded_alerts,
                self.alerts.len() - self.unmatched(),
                self.unmatched()
            );
            // Alerts per label.
            let mut per: BTreeMap<String, (u64, u64)> = BTreeMap::new();
            for (a, m) in self.alerts.iter().zip(&self.alert_matched) {
                let e = per.entry(a.label(self.description)).or_default();
                e.0 += 1;
                e.1 += u64::from(*m);
            }
            let mut rows: Vec<_> = per.into_iter().collect();
            rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
            let shown = if verbose { rows.len() } else { rows.len().min(20) };
            let _ = writeln!(s, "  {:>10}  {:>10}  label", "alerts", "matched");
            for (label, (n, m)) in &rows[..shown] {
                let _ = writeln!(s, "  {n:>10}  {m:>10}  {label}");
            }
            if shown < rows.len() {
                let _ = writeln!(s, "  ... {} more labels (--verbose lists them)", rows.len() - shown);
            }
        }
        if !self.windows.is_empty() || self.excluded_windows > 0 {
            let _ = writeln!(
                s,
                "windows: {} read, {} excluded",
                self.windows.len() + self.excluded_windows,
                self.excluded_windows
            );
            for (w, n) in self.windows.iter().zip(&self.window_records) {
                let _ = writeln!(s, "  {n:>10}  records in {:?} ({})", w.name, w.label(self.description));
            }
        }
        let unmatched = self.unmatched();
        if unmatched > 0 {
            if verbose {
                let _ = writeln!(s, "alerts that matched no record:");
                for (a, _) in self.alerts.iter().zip(&self.alert_matched).filter(|(_, m)| !**m) {
                    let _ = writeln!(s, "  {}", a.describe(self.description));
                }
            } else {
                let _ = writeln!(
                    s,
                    "netcap: {unmatched} alerts matched no record: a wrong time zone (--tz) or another capture? --verbose lists them"
                );
            }
        }
        if !self.bad_lines.is_empty() {
            let _ = writeln!(s, "netcap: {} alert lines could not be read", self.bad_lines.len());
            let shown = if verbose { self.bad_lines.len() } else { self.bad_lines.len().min(3) };
            for (n, e) in &self.bad_lines[..shown] {
                let _ = writeln!(s, "  line {n}: {e}");
            }
        }
        s
    }
}

/// A record file to label.
struct Job {
    record_type: String,
    path: PathBuf,
    kind: RecordKind,
    addressed: bool,
}

/// The record files of `dir`: `<Type>.ncap.zst`, `<Type>.ncap.gz`, `<Type>.ncap`.
fn record_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, LabelError> {
    let rd = std::fs::read_dir(dir).map_err(|source| LabelError::ListRecords { path: dir.into(), source })?;
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stem = [".ncap.zst", ".ncap.gz", ".ncap"].iter().find_map(|x| name.strip_suffix(x));
        let Some(stem) = stem.filter(|s| !s.is_empty() && !s.starts_with('.')) else { continue };
        if !e.path().is_file() {
            continue;
        }
        if let Some(prev) = found.get(stem) {
            return Err(LabelError::DuplicateType { record_type: stem.into(), a: prev.clone(), b: e.path() });
        }
        found.insert(stem.to_string(), e.path());
    }
    Ok(found.into_iter().collect())
}

/// Runs `netcap label`.
pub fn label(opts: &LabelOptions) -> Result<LabelSummary, LabelError> {
    let tz_name = opts.tz.clone().unwrap_or_else(|| "UTC".into());
    let tz = alerts::parse_tz(&tz_name)?;
    let out_dir = opts.out.clone().unwrap_or_else(|| opts.records.clone());
    let mut notices = Vec::new();

    // Alerts: a file, or Suricata run on the capture.
    let alert_file = match (&opts.pcap, &opts.alerts) {
        (Some(pcap), _) => Some(suricata::run(
            pcap,
            &out_dir.join("suricata"),
            opts.suricata_config.as_deref(),
            opts.suricata_rules.as_deref(),
        )?),
        (None, a) => a.clone(),
    };
    if alert_file.is_none() && opts.windows.is_none() {
        return Err(LabelError::NoSources);
    }
    let files = record_files(&opts.records)?;
    if files.is_empty() {
        return Err(LabelError::NoRecords(opts.records.clone()));
    }
    let mut af = match &alert_file {
        Some(p) => alerts::read_alerts(p, &tz)?,
        None => alerts::AlertFile::default(),
    };
    if let Some(p) = &alert_file
        && af.alerts.is_empty()
    {
        let what = if opts.windows.is_some() {
            "records are labelled by the windows only"
        } else {
            "every record is labelled normal"
        };
        notices.push(format!("warning: {} holds no alerts: {what}", p.display()));
    }
    if af.format == Some(AlertFormat::Eve) && opts.tz.is_some() {
        notices.push("--tz does not apply to eve.json (its timestamps carry their offset)".into());
    }
    if af.format == Some(AlertFormat::Fast) && opts.tz.is_none() {
        notices.push("fast.log times are read as UTC (no --tz given)".into());
    }
    if af.ambiguous > 0 {
        notices.push(format!(
            "{} fast.log times fall into a daylight-saving change of {tz_name} (read with the offset before the change)",
            af.ambiguous
        ));
    }
    let mut win = match &opts.windows {
        Some(p) => windows::read_windows(p, &tz)?,
        None => Vec::new(),
    };
    for w in &win {
        if let Some(p) = &w.proto_note {
            notices
                .push(format!("window {:?}: proto {p:?} is not a transport protocol; not used for matching", w.name));
        }
    }

    // --exclude: by classification, label text, window category or name (case-insensitive).
    let excluded = |names: &[&str]| {
        opts.exclude.iter().any(|x| names.iter().any(|n| !n.is_empty() && n.trim().eq_ignore_ascii_case(x.trim())))
    };
    let n_alerts = af.alerts.len();
    af.alerts.retain(|a| !excluded(&[&a.classification, &a.label(opts.description)]));
    let excluded_alerts = n_alerts - af.alerts.len();
    let n_windows = win.len();
    win.retain(|w| !excluded(&[&w.category, &w.name]));
    let excluded_windows = n_windows - win.len();

    // The record types and their shapes, from the file headers.
    let mut jobs = Vec::new();
    for (t, path) in files {
        let rf = RecordFile::open(&path)?;
        let r = rf.renderer()?;
        match Shape::of(&rf.header.record_type, r.descriptor()) {
            None => notices.push(format!("{t}: no timestamp field; not labelled")),
            Some(s) if opts.disable_layers && s.kind == RecordKind::Packet => {}
            Some(s) => jobs.push(Job { record_type: t, path, kind: s.kind, addressed: s.addressed() }),
        }
    }
    if !jobs.iter().any(|j| j.kind == RecordKind::Flow) {
        notices.push(if opts.disable_layers {
            "--disable-layers: no flow record types (Flow, Connection, ...) in the records directory; nothing labelled"
                .into()
        } else {
            "no flow record types (Flow, Connection, ...) in the records directory: only packet records are labelled"
                .into()
        });
    }
    std::fs::create_dir_all(&out_dir).map_err(|source| LabelError::Write { path: out_dir.clone(), source })?;

    let labels = Labels::new(&af.alerts, &win, opts.description);
    let matcher = Matcher::new(&af.alerts, &win);
    let mode = if opts.strict {
        Mode::Strict
    } else if opts.collect {
        Mode::Collect
    } else {
        Mode::First
    };
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        opts.threads
    };
    let ctx = Ctx { matcher: &matcher, labels: &labels, mode, out_dir: &out_dir, stop: &opts.stop };

    // Phase 1: types with addresses (and flows); phase 2: the others, with the anchors.
    let (first, second): (Vec<&Job>, Vec<&Job>) = jobs.iter().partition(|j| j.kind == RecordKind::Flow || j.addressed);
    let empty = HashMap::new();
    let r1 = run_jobs(&ctx, &first, &empty, threads);
    let mut anchors: HashMap<i64, Vec<u32>> = HashMap::new();
    for r in r1.iter().flatten() {
        for (ts, tags) in &r.anchors {
            let e = anchors.entry(*ts).or_default();
            for t in tags {
                if !e.contains(t) {
                    e.push(*t);
                }
            }
        }
    }
    let r2 = if r1.iter().all(Result::is_ok) { run_jobs(&ctx, &second, &anchors, threads) } else { Vec::new() };
    let results: Vec<Result<Done, LabelError>> = r1.into_iter().chain(r2).collect();
    if let Some(pos) = results.iter().position(Result::is_err) {
        for r in results.iter().flatten() {
            let _ = std::fs::remove_file(&r.part);
        }
        for j in &jobs {
            let _ = std::fs::remove_file(part_path(&out_dir, &j.record_type));
        }
        return Err(results.into_iter().nth(pos).and_then(Result::err).expect("an error at pos"));
    }
    let mut alert_matched = vec![false; af.alerts.len()];
    let mut window_records = vec![0u64; win.len()];
    let mut types = Vec::new();
    for r in results.into_iter().flatten() {
        for (m, x) in alert_matched.iter_mut().zip(&r.matched) {
            *m |= *x;
        }
        for (w, n) in window_records.iter_mut().zip(&r.window_records) {
            *w += n;
        }
        std::fs::rename(&r.part, &r.summary.output)
            .map_err(|source| LabelError::Write { path: r.summary.output.clone(), source })?;
        types.push(r.summary);
    }
    types.sort_by(|a, b| a.record_type.cmp(&b.record_type));
    if alert_matched.iter().any(|m| !*m)
        && let Some(h) = clock_hint(&jobs, &af.alerts, &alert_matched)
    {
        notices.push(h);
    }
    Ok(LabelSummary {
        alert_file,
        format: af.format,
        tz: tz_name,
        alerts: af.alerts,
        excluded_alerts,
        windows: win,
        excluded_windows,
        alert_matched,
        window_records,
        types,
        notices,
        bad_lines: af.errors,
        description: opts.description,
    })
}

/// When alerts matched nothing: would they match packets if their times were moved by whole
/// hours (-14 h to +14 h)? Scans the IPv4 and IPv6 records (or another packet type with
/// addresses) once; only runs when some alert is unmatched.
fn clock_hint(jobs: &[Job], alerts: &[Alert], matched: &[bool]) -> Option<String> {
    const HOUR_US: i64 = 3_600_000_000;
    let unmatched: Vec<u32> = (0..alerts.len() as u32).filter(|&i| !matched[i as usize]).collect();
    let mut by_us: HashMap<i64, Vec<u32>> = HashMap::new();
    for (slot, &i) in unmatched.iter().enumerate() {
        by_us.entry(alerts[i as usize].ts_us).or_default().push(slot as u32);
    }
    let packet = |j: &&Job| j.kind == RecordKind::Packet && j.addressed;
    let mut scan: Vec<&Job> = jobs.iter().filter(packet).filter(|j| j.record_type.starts_with("IPv")).collect();
    if scan.is_empty() {
        scan.extend(jobs.iter().filter(packet).take(1));
    }
    // Per shift (hours, alert time minus packet time), the unmatched alerts it explains.
    let mut hits: Vec<Vec<bool>> = vec![vec![false; unmatched.len()]; 29];
    let mut view = View::default();
    let mut buf = Vec::new();
    for job in scan {
        let Ok(mut rf) = RecordFile::open(&job.path) else { continue };
        let Ok(r) = rf.renderer() else { continue };
        let Some(shape) = Shape::of(&rf.header.record_type, r.descriptor()) else { continue };
        while let Ok(true) = rf.next_record(&mut buf) {
            let Ok(msg) = r.decode(&buf) else { break };
            let (first, last) = shape.times(&msg);
            let us = matching::micros(first);
            let mut have_view = false;
            for (k, row) in hits.iter_mut().enumerate() {
                let shift = k as i64 - 14;
                if shift == 0 {
                    continue;
                }
                let Some(slots) = by_us.get(&(us + shift * HOUR_US)) else { continue };
                if !have_view {
                    shape.view(&msg, first, last, &mut view);
                    have_view = true;
                }
                for &s in slots {
                    if matching::packet_fits(&alerts[unmatched[s as usize] as usize], &view) {
                        row[s as usize] = true;
                    }
                }
            }
        }
    }
    let (k, n) = hits.iter().enumerate().map(|(k, row)| (k, row.iter().filter(|x| **x).count())).max_by_key(|x| x.1)?;
    if n == 0 || n * 2 < unmatched.len() {
        return None;
    }
    let shift = k as i64 - 14;
    Some(format!(
        "{n} of the {} unmatched alerts match packets if their times are moved by {}{} h: their clock or time zone is {} h {} the capture's (fast.log: --tz)",
        unmatched.len(),
        if shift > 0 { "-" } else { "+" },
        shift.abs(),
        shift.abs(),
        if shift > 0 { "ahead of" } else { "behind" }
    ))
}

struct Ctx<'a> {
    matcher: &'a Matcher<'a>,
    labels: &'a Labels,
    mode: Mode,
    out_dir: &'a Path,
    stop: &'a AtomicBool,
}

/// A labelled file, before its output is renamed into place.
struct Done {
    summary: TypeSummary,
    part: PathBuf,
    matched: Vec<bool>,
    window_records: Vec<u64>,
    anchors: HashMap<i64, Vec<u32>>,
}

fn part_path(out_dir: &Path, record_type: &str) -> PathBuf {
    out_dir.join(format!("{record_type}_labeled.csv.part"))
}

/// Labels `jobs` on up to `threads` threads; results in job order.
fn run_jobs(
    ctx: &Ctx<'_>,
    jobs: &[&Job],
    anchors: &HashMap<i64, Vec<u32>>,
    threads: usize,
) -> Vec<Result<Done, LabelError>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Done, LabelError>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let r = label_file(ctx, job, anchors);
                    results.lock().expect("results lock")[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().expect("results lock").into_iter().flatten().collect()
}

/// Labels one record file into `<Type>_labeled.csv.part`.
fn label_file(ctx: &Ctx<'_>, job: &Job, anchors: &HashMap<i64, Vec<u32>>) -> Result<Done, LabelError> {
    let mut rf = RecordFile::open(&job.path)?;
    let renderer = rf.renderer()?;
    let shape = Shape::of(&rf.header.record_type, renderer.descriptor()).expect("shape checked before");
    let output = ctx.out_dir.join(format!("{}_labeled.csv", job.record_type));
    let part = part_path(ctx.out_dir, &job.record_type);
    let werr = |source: std::io::Error| LabelError::Write { path: part.clone(), source };
    let file = std::fs::File::create(&part).map_err(werr)?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::with_capacity(256 << 10, file));
    let mut header = renderer.header();
    header.push("label".into());
    w.write_record(&header).map_err(|e| werr(e.into()))?;

    let m = ctx.matcher;
    let n_alerts = m.alerts.len();
    let mut matched = vec![false; n_alerts];
    let mut window_records = vec![0u64; m.windows.len()];
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut anchors_out: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut buf = Vec::new();
    let mut cells = Vec::new();
    let mut view = View::default();
    let mut tags: Vec<u32> = Vec::new();
    let mut joined = String::new();
    let mut read_error = None;
    let any_windows = !m.windows.is_empty();
    loop {
        if ctx.stop.load(Ordering::Relaxed) {
            return Err(LabelError::Interrupted);
        }
        match rf.next_record(&mut buf) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
        let msg = match renderer.decode(&buf) {
            Ok(msg) => msg,
            Err(e) => {
                rf.records -= 1;
                read_error = Some(rf.damaged(format!("the record does not decode ({e})")).to_string());
                break;
            }
        };
        let (first, last) = shape.times(&msg);
        tags.clear();
        match (shape.kind, shape.addressed()) {
            (RecordKind::Flow, _) => {
                shape.view(&msg, first, last, &mut view);
                m.flow_alerts(&view, &mut tags);
                if any_windows {
                    m.window_matches(&view, &mut tags);
                }
            }
            (RecordKind::Packet, true) => {
                let alerts_here = m.any_alert_at(first);
                if alerts_here || any_windows {
                    shape.view(&msg, first, last, &mut view);
                    if alerts_here {
                        m.packet_alerts(&view, &mut tags);
                        if !tags.is_empty() {
                            anchors_out.entry(first).or_default().extend_from_slice(&tags);
                        }
                    }
                    if any_windows {
                        m.window_matches(&view, &mut tags);
                    }
                }
            }
            (RecordKind::Packet, false) => {
                if let Some(a) = anchors.get(&first) {
                    tags.extend_from_slice(a);
                }
                if any_windows {
                    shape.view(&msg, first, last, &mut view);
                    m.window_matches(&view, &mut tags);
                }
            }
        }
        for &t in &tags {
            let t = t as usize;
            if t < n_alerts {
                matched[t] = true;
            } else {
                window_records[t - n_alerts] += 1;
            }
        }
        let label = match ctx.labels.decide(&tags, ctx.mode, &mut joined) {
            Ok(l) => l,
            Err(conflict) => {
                drop(w);
                let _ = std::fs::remove_file(&part);
                let time =
                    jiff::Timestamp::from_nanosecond(i128::from(first)).map(|t| t.to_string()).unwrap_or_default();
                return Err(LabelError::Conflict {
                    record_type: job.record_type.clone(),
                    record: rf.records,
                    time,
                    labels: conflict.iter().map(|l| format!("{l:?}")).collect::<Vec<_>>().join(", "),
                });
            }
        };
        match counts.get_mut(label) {
            Some(n) => *n += 1,
            None => {
                counts.insert(label.to_string(), 1);
            }
        }
        renderer.cells(&msg, &mut cells);
        w.write_record(cells.iter().map(String::as_str).chain(std::iter::once(label))).map_err(|e| werr(e.into()))?;
    }
    let mut inner = w.into_inner().map_err(|e| werr(std::io::Error::other(e.to_string())))?;
    inner.flush().map_err(werr)?;
    for v in anchors_out.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    Ok(Done {
        summary: TypeSummary {
            record_type: job.record_type.clone(),
            kind: job.kind,
            output,
            records: rf.records,
            labels: counts.into_iter().collect(),
            read_error,
        },
        part,
        matched,
        window_records,
        anchors: anchors_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_proto::v1::{Ethernet, Header, Tcp};
    use prost::Message;
    use prost_reflect::prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet, field_descriptor_proto,
    };
    use prost_reflect::{DescriptorPool, DynamicMessage, Value};

    const T: i64 = 1_600_000_000_000_000_000; // 2020-09-13T12:26:40Z

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn temp(tag: &str) -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "netcap-label-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn write_records(path: &Path, record_type: &str, message: &str, schema: &[u8], records: &[Vec<u8>]) {
        let mut out = Vec::new();
        let h = Header {
            record_type: record_type.into(),
            message_name: message.into(),
            schema: schema.to_vec(),
            ..Default::default()
        };
        netcap_proto::put_delimited(&mut out, &h);
        for r in records {
            netcap_proto::put_uvarint(&mut out, r.len() as u64);
            out.extend_from_slice(r);
        }
        std::fs::write(path, out).unwrap();
    }

    /// A flow record type as another decoder would define it: `test.Connection`.
    fn connection_schema() -> (Vec<u8>, prost_reflect::MessageDescriptor) {
        use field_descriptor_proto::Type;
        let f = |name: &str, n: i32, t: Type| FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(n),
            r#type: Some(t as i32),
            label: Some(field_descriptor_proto::Label::Optional as i32),
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("test.proto".into()),
            package: Some("test".into()),
            syntax: Some("proto3".into()),
            message_type: vec![DescriptorProto {
                name: Some("Connection".into()),
                field: vec![
                    f("timestamp_first", 1, Type::Int64),
                    f("timestamp_last", 2, Type::Int64),
                    f("transport_proto", 3, Type::String),
                    f("src_ip", 4, Type::String),
                    f("dst_ip", 5, Type::String),
                    f("src_port", 6, Type::Uint32),
                    f("dst_port", 7, Type::Uint32),
                    f("community_id", 8, Type::String),
                    f("num_packets", 9, Type::Uint64),
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let set = FileDescriptorSet { file: vec![file] };
        let bytes = set.encode_to_vec();
        let pool = DescriptorPool::decode(bytes.as_slice()).unwrap();
        let desc = pool.get_message_by_name("test.Connection").unwrap();
        (bytes, desc)
    }

    #[allow(clippy::too_many_arguments)]
    fn connection(
        d: &prost_reflect::MessageDescriptor,
        first: i64,
        last: i64,
        proto: &str,
        src: &str,
        sp: u32,
        dst: &str,
        dp: u32,
        cid: &str,
    ) -> Vec<u8> {
        let mut m = DynamicMessage::new(d.clone());
        m.set_field_by_name("timestamp_first", Value::I64(first));
        m.set_field_by_name("timestamp_last", Value::I64(last));
        m.set_field_by_name("transport_proto", Value::String(proto.into()));
        m.set_field_by_name("src_ip", Value::String(src.into()));
        m.set_field_by_name("dst_ip", Value::String(dst.into()));
        m.set_field_by_name("src_port", Value::U32(sp));
        m.set_field_by_name("dst_port", Value::U32(dp));
        m.set_field_by_name("community_id", Value::String(cid.into()));
        m.set_field_by_name("num_packets", Value::U64(3));
        m.encode_to_vec()
    }

    fn tcp(ts: i64, src: &str, sp: u32, dst: &str, dp: u32) -> Vec<u8> {
        Tcp { timestamp: ts, src_ip: src.into(), dst_ip: dst.into(), src_port: sp, dst_port: dp, ..Default::default() }
            .encode_to_vec()
    }

    #[allow(clippy::too_many_arguments)]
    fn eve(ts_utc: &str, src: &str, sp: u16, dst: &str, dp: u16, category: &str, severity: u8, cid: &str) -> String {
        format!(
            r#"{{"timestamp":"{ts_utc}+0000","event_type":"alert","src_ip":"{src}","src_port":{sp},"dest_ip":"{dst}","dest_port":{dp},"proto":"TCP","community_id":"{cid}","alert":{{"gid":1,"signature_id":1,"rev":1,"signature":"sig {category}","category":"{category}","severity":{severity}}}}}"#
        ) + "\n"
    }

    /// label column per row of a labelled CSV.
    fn labels_of(path: &Path) -> Vec<String> {
        let mut r = csv::Reader::from_path(path).unwrap();
        let h = r.headers().unwrap().clone();
        assert_eq!(h.iter().next_back(), Some("label"));
        r.records().map(|x| x.unwrap().iter().next_back().unwrap().to_string()).collect()
    }

    /// Records of three kinds: TCP packets, Ethernet frames of the same packets, connections.
    fn fixture(dir: &Path) {
        let (schema, cdesc) = connection_schema();
        let conns = vec![
            // 10.0.0.1:1000 <-> 10.0.0.2:80 for 10 s; another one on port 1001; a UDP one.
            connection(&cdesc, T, T + 10_000_000_000, "TCP", "10.0.0.1", 1000, "10.0.0.2", 80, ""),
            connection(&cdesc, T, T + 10_000_000_000, "TCP", "10.0.0.1", 1001, "10.0.0.2", 80, ""),
            connection(&cdesc, T, T + 10_000_000_000, "UDP", "10.0.0.1", 1000, "10.0.0.2", 80, ""),
            // Only its Community ID ties it to the third alert.
            connection(&cdesc, T, T + 10_000_000_000, "TCP", "192.0.2.1", 5, "192.0.2.2", 6, "1:cid"),
        ];
        write_records(&dir.join("Connection.ncap"), "Connection", "test.Connection", &schema, &conns);
        let tcps = vec![
            tcp(T + 1_000_000_500, "10.0.0.1", 1000, "10.0.0.2", 80), // the alerts' packet
            tcp(T + 1_000_000_900, "10.0.0.2", 80, "10.0.0.1", 1000), // a reply, same µs
            tcp(T + 2_000_000_000, "10.0.0.1", 1000, "10.0.0.2", 80),
        ];
        write_records(&dir.join("TCP.ncap"), "TCP", "netcap.v1.TCP", netcap_proto::DESCRIPTOR_SET, &tcps);
        let eth: Vec<Vec<u8>> = [T + 1_000_000_500, T + 1_000_000_900, T + 2_000_000_000]
            .iter()
            .map(|&ts| Ethernet { timestamp: ts, ..Default::default() }.encode_to_vec())
            .collect();
        write_records(&dir.join("Ethernet.ncap"), "Ethernet", "netcap.v1.Ethernet", netcap_proto::DESCRIPTOR_SET, &eth);
        let alerts = eve("2020-09-13T12:26:41.000000", "10.0.0.1", 1000, "10.0.0.2", 80, "Low", 3, "")
            + &eve("2020-09-13T12:26:41.000000", "10.0.0.1", 1000, "10.0.0.2", 80, "High", 1, "")
            + &eve("2020-09-13T12:26:45.000000", "198.51.100.1", 1, "198.51.100.2", 2, "ById", 2, "1:cid")
            + &eve("2020-09-13T12:27:00.000000", "10.0.0.1", 1000, "10.0.0.2", 80, "Late", 2, "");
        std::fs::write(dir.join("eve.json"), alerts).unwrap();
    }

    fn opts(dir: &Path, out: &Path) -> LabelOptions {
        LabelOptions {
            records: dir.into(),
            out: Some(out.into()),
            alerts: Some(dir.join("eve.json")),
            ..Default::default()
        }
    }

    #[test]
    fn packets_frames_and_connections() {
        let d = temp("run");
        fixture(&d.0);
        let out = d.0.join("out");
        let s = label(&opts(&d.0, &out)).unwrap();
        assert_eq!(labels_of(&out.join("TCP_labeled.csv")), ["High", "normal", "normal"], "most severe; reply not");
        assert_eq!(labels_of(&out.join("Ethernet_labeled.csv")), ["High", "normal", "normal"], "anchored by ns");
        assert_eq!(labels_of(&out.join("Connection_labeled.csv")), ["High", "normal", "normal", "ById"]);
        assert_eq!(s.unmatched(), 1, "the alert after every connection");
        assert!(!s.alert_matched[3]);
        assert!(s.render(true).contains("line 4: 2020-09-13T12:27:00Z TCP 10.0.0.1:1000 -> 10.0.0.2:80 \"Late\""));
        assert!(s.render(false).contains("alerts: 4 read, 0 excluded, 3 matched, 1 unmatched"));
        let t: Vec<_> = s.types.iter().map(|t| (t.record_type.as_str(), t.records)).collect();
        assert_eq!(t, [("Connection", 4), ("Ethernet", 3), ("TCP", 3)]);

        let mut o = opts(&d.0, &out);
        o.collect = true;
        o.exclude = vec!["bYiD".into()];
        let s = label(&o).unwrap();
        assert_eq!(labels_of(&out.join("TCP_labeled.csv")), ["Low | High", "normal", "normal"]);
        assert_eq!(labels_of(&out.join("Connection_labeled.csv")), ["Low | High", "normal", "normal", "normal"]);
        assert_eq!(s.excluded_alerts, 1);

        let mut o = opts(&d.0, &out);
        o.strict = true;
        let before = std::fs::read(out.join("TCP_labeled.csv")).unwrap();
        let e = label(&o).unwrap_err().to_string();
        assert!(e.contains("conflicting labels") && e.contains("\"Low\", \"High\""), "{e}");
        assert_eq!(std::fs::read(out.join("TCP_labeled.csv")).unwrap(), before, "nothing written");
        assert!(
            !std::fs::read_dir(&out).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".part"))
        );
        o.exclude = vec!["Low".into()];
        label(&o).unwrap();

        let mut o = opts(&d.0, &out);
        o.disable_layers = true;
        o.description = true;
        let s = label(&o).unwrap();
        assert_eq!(s.types.len(), 1);
        assert_eq!(labels_of(&out.join("Connection_labeled.csv")), ["sig High", "normal", "normal", "sig ById"]);
    }

    #[test]
    fn output_does_not_depend_on_threads() {
        let d = temp("threads");
        fixture(&d.0);
        let mut outs = Vec::new();
        for threads in [1, 4] {
            let out = d.0.join(format!("out{threads}"));
            let mut o = opts(&d.0, &out);
            o.threads = threads;
            o.collect = true;
            label(&o).unwrap();
            let files: Vec<Vec<u8>> = ["Connection", "Ethernet", "TCP"]
                .iter()
                .map(|t| std::fs::read(out.join(format!("{t}_labeled.csv"))).unwrap())
                .collect();
            outs.push(files);
        }
        assert_eq!(outs[0], outs[1]);
    }

    #[test]
    fn windows_label_records() {
        let d = temp("windows");
        fixture(&d.0);
        let out = d.0.join("out");
        std::fs::write(
            d.0.join("w.yaml"),
            "tz: +02:00\nattacks:\n  - name: web\n    start: 2020-09-13 14:26:41\n    end: 2020-09-13 14:26:42\n    attackers: [10.0.0.2]\n    victims: [10.0.0.0/24]\n    proto: tcp\n    category: attack\n  - name: everything\n    start: 2020-09-13T12:26:42Z\n    end: 2020-09-13T12:26:42Z\n    category: busy\n",
        )
        .unwrap();
        let o = LabelOptions {
            records: d.0.clone(),
            out: Some(out.clone()),
            windows: Some(d.0.join("w.yaml")),
            collect: true,
            ..Default::default()
        };
        let s = label(&o).unwrap();
        // TCP: packets at +1 s (both) are in the window; the one at +2 s is in both windows.
        assert_eq!(labels_of(&out.join("TCP_labeled.csv")), ["attack", "attack", "attack | busy"]);
        // Ethernet has no addresses: only the window that names no hosts.
        assert_eq!(labels_of(&out.join("Ethernet_labeled.csv")), ["normal", "normal", "busy"]);
        // Connections overlap both windows; the UDP one is not in the TCP window.
        assert_eq!(labels_of(&out.join("Connection_labeled.csv")), ["attack | busy", "attack | busy", "busy", "busy"]);
        assert_eq!(s.window_records, [5, 6]);
    }
}
