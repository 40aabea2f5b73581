//! The output directory of `netcap capture`: checked and locked before any input is read, an
//! earlier run's files removed (only files a netcap run wrote), and a manifest of the files this
//! run creates.
//!
//! - **Lock.** `.netcap.lock` is locked with `flock` semantics (`File::try_lock`) for the whole
//!   run, so a second capture into the same directory is refused instead of interleaving files;
//!   the kernel drops the lock when the process ends, so a crashed run never leaves a stale lock.
//!   Creating the lock file is also the writability check: a read-only directory, or a path that
//!   is a file, fails here, before the input is read.
//! - **Manifest.** `.netcap.manifest` lists, one name per line, every file this run created; a
//!   name is appended (and flushed) *before* its file is created, so even a killed run leaves a
//!   manifest naming all its files.
//! - **Cleanup.** A new run removes the files the previous run's manifest names, and record files
//!   (`<Type>.ncap*`) whose header says netcap wrote them (runs older than the manifest). Any other
//!   file is left alone; one this run would overwrite (a user's own `TCP.csv` when writing CSV,
//!   `unknown.pcap` with `--unknown-pcap`) stops the run before it starts.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The lock file's name.
pub const LOCK_FILE: &str = ".netcap.lock";
/// The manifest's name.
pub const MANIFEST_FILE: &str = ".netcap.manifest";
/// The run's counts (`netcap report` reads them), listed in the manifest like the record files.
pub const SUMMARY_FILE: &str = ".netcap.summary.json";

/// Why the output directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error("output directory {path} is not usable")]
    Unusable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("output directory {path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error(
        "output directory {path} is in use by another netcap capture (it holds the lock {LOCK_FILE}); wait for it or choose another -o"
    )]
    InUse { path: PathBuf },
    #[error(
        "{path} was not written by netcap and this run would overwrite it: move it away or choose another output directory"
    )]
    Foreign { path: PathBuf },
    #[error("removing {path} (written by an earlier run)")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What a run may write: record files of `names` with `extension`, plus `extra` files.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Every record type name the loaded decoders declare.
    pub names: &'a [String],
    /// This run's record file extension (`.ncap.zst`, `.csv`, ...).
    pub extension: &'a str,
    /// Other files this run may write (`unknown.pcap`, `errors.pcap`).
    pub extra: &'a [&'a str],
    /// Parquet `--partition`: record files go below `<Type>/`, which must hold no one else's files.
    pub partitioned: bool,
}

/// A locked output directory; the lock is held until this is dropped.
#[derive(Debug)]
pub struct OutDir {
    dir: PathBuf,
    _lock: File,
    manifest: Option<Arc<Manifest>>,
    /// Files of an earlier run that were removed (names).
    pub removed: Vec<String>,
}

impl OutDir {
    /// Creates `dir` if needed and locks it. This is also the check that files can be created
    /// there, so it runs before the input is opened.
    pub fn lock(dir: &Path) -> Result<Self, OutDirError> {
        let unusable = |source: io::Error| OutDirError::Unusable { path: dir.into(), source };
        if dir.exists() && !dir.is_dir() {
            return Err(OutDirError::NotADirectory { path: dir.into() });
        }
        std::fs::create_dir_all(dir).map_err(unusable)?;
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE));
        let lock = lock.map_err(unusable)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OutDirError::InUse { path: dir.into() }),
            Err(std::fs::TryLockError::Error(e)) => return Err(unusable(e)),
        }
        Ok(OutDir { dir: dir.into(), _lock: lock, manifest: None, removed: Vec::new() })
    }

    /// Removes an earlier run's files (`removed` names them) and starts this run's manifest.
    pub fn clean(&mut self, plan: &Plan<'_>) -> Result<(), OutDirError> {
        let dir = &self.dir;
        let previous = read_manifest(&dir.join(MANIFEST_FILE));
        self.removed = remove_previous(dir, plan, &previous)?;
        let manifest = File::create(dir.join(MANIFEST_FILE))
            .map_err(|source| OutDirError::Unusable { path: dir.clone(), source })?;
        self.manifest = Some(Arc::new(Manifest { dir: dir.clone(), file: Mutex::new(manifest) }));
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest (after `clean`), for whoever creates files in the directory.
    pub fn manifest(&self) -> Option<Arc<Manifest>> {
        self.manifest.clone()
    }
}

/// The list of files this run created (`.netcap.manifest`).
#[derive(Debug)]
pub struct Manifest {
    dir: PathBuf,
    file: Mutex<File>,
}

impl Manifest {
    /// Records that `path` (in the output directory) is about to be created. Called once per
    /// file, never per packet.
    pub fn add(&self, path: &Path) -> io::Result<()> {
        let name = path.strip_prefix(&self.dir).unwrap_or(path);
        let line = format!("{}\n", name.display());
        let mut f = self.file.lock().map_err(|_| io::Error::other("manifest lock poisoned"))?;
        f.write_all(line.as_bytes())?;
        f.flush()
    }
}

/// Creates `path` for writing after naming it in `manifest`.
pub fn create(manifest: Option<&Manifest>, path: &Path) -> io::Result<File> {
    if let Some(m) = manifest {
        m.add(path)?;
    }
    File::create(path)
}

fn read_manifest(path: &Path) -> Vec<String> {
    let Ok(f) = File::open(path) else { return Vec::new() };
    io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        // Only names in the directory itself or below it (`--partition` trees), never `..`.
        .filter(|l| is_inside(l))
        .collect()
}

/// Whether manifest line `l` names a file inside the directory: plain names separated by `/`.
fn is_inside(l: &str) -> bool {
    !l.is_empty() && l.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'))
}

/// Files below `dir` (recursively), as `/`-separated names relative to `base`.
fn files_below(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_below(base, &p, out);
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

/// Removes the directories that removing `file` left empty, up to `dir`.
fn prune_empty_parents(dir: &Path, file: &Path) {
    let mut p = file.parent();
    while let Some(d) = p {
        if d == dir || !d.starts_with(dir) || std::fs::remove_dir(d).is_err() {
            break;
        }
        p = d.parent();
    }
}

/// Whether `path` is a record file of type `name` written by netcap (its header says so).
fn is_netcap_record_file(path: &Path, name: &str) -> bool {
    crate::dump::RecordFile::open(path).is_ok_and(|rf| rf.header.record_type == name)
}

/// Removes the earlier run's files; refuses when a file this run would write is someone else's.
fn remove_previous(dir: &Path, plan: &Plan<'_>, previous: &[String]) -> Result<Vec<String>, OutDirError> {
    let mut candidates: Vec<(String, Option<&str>)> = Vec::new();
    for name in plan.names {
        for ext in crate::output::ALL_EXTENSIONS {
            candidates.push((format!("{name}{ext}"), ext.starts_with(".ncap").then_some(name.as_str())));
        }
    }
    candidates.extend(["unknown.pcap", "errors.pcap"].iter().map(|n| (n.to_string(), None)));
    for p in previous {
        candidates.push((p.clone(), None));
    }
    // A partition tree this run writes into holds only an earlier run's files.
    if plan.partitioned {
        let mut below = Vec::new();
        for name in plan.names {
            files_below(dir, &dir.join(name), &mut below);
        }
        if let Some(f) = below.iter().find(|f| !previous.contains(f)) {
            return Err(OutDirError::Foreign { path: dir.join(f) });
        }
    }
    // Two decoders may declare one type (one file); the manifest names files of the list too.
    candidates.sort();
    candidates.dedup_by(|a, b| a.0 == b.0);
    let ours = |file: &str, record_type: Option<&str>| {
        previous.iter().any(|p| p == file) || record_type.is_some_and(|t| is_netcap_record_file(&dir.join(file), t))
    };
    let would_write = |file: &str| {
        plan.extra.contains(&file) || plan.names.iter().any(|n| file.strip_suffix(plan.extension) == Some(n.as_str()))
    };
    // Decide everything first: a refused run removes nothing.
    let mut removed = Vec::new();
    for (file, record_type) in candidates {
        let path = dir.join(&file);
        if !path.is_file() {
            continue;
        }
        if ours(&file, record_type) {
            removed.push(file);
        } else if would_write(&file) {
            return Err(OutDirError::Foreign { path });
        }
    }
    for file in &removed {
        let path = dir.join(file);
        std::fs::remove_file(&path).map_err(|source| OutDirError::Remove { path: path.clone(), source })?;
        prune_empty_parents(dir, &path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(dir: &Path, plan: &Plan<'_>) -> Result<OutDir, OutDirError> {
        let mut d = OutDir::lock(dir)?;
        d.clean(plan)?;
        Ok(d)
    }

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("netcap-outdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn second_prepare_is_refused_while_the_first_holds_the_lock() {
        let d = temp("lock");
        let names = vec!["TCP".to_string()];
        let plan = Plan { names: &names, extension: ".csv", extra: &[], partitioned: false };
        let first = prepare(&d, &plan).unwrap();
        assert!(matches!(OutDir::lock(&d), Err(OutDirError::InUse { .. })));
        drop(first);
        // The lock file stays, but a lock nobody holds does not block.
        assert!(d.join(LOCK_FILE).exists());
        prepare(&d, &plan).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn only_files_in_the_manifest_are_removed_and_foreign_ones_refused() {
        let d = temp("manifest");
        // DNS twice: two decoders may declare one type.
        let names = vec!["TCP".to_string(), "UDP".to_string(), "DNS".to_string(), "DNS".to_string()];
        let plan = Plan { names: &names, extension: ".csv", extra: &["unknown.pcap"], partitioned: false };
        let run = prepare(&d, &plan).unwrap();
        create(run.manifest().as_deref(), &d.join("TCP.csv")).unwrap();
        create(run.manifest().as_deref(), &d.join("DNS.csv")).unwrap();
        drop(run);
        std::fs::write(d.join("UDP.json"), "mine").unwrap();
        let run = prepare(&d, &plan).unwrap();
        assert_eq!(run.removed, vec!["DNS.csv".to_string(), "TCP.csv".to_string()]);
        assert!(d.join("UDP.json").exists());
        drop(run);
        // A user's UDP.csv would be overwritten by a CSV run: refused, and nothing removed.
        std::fs::write(d.join("UDP.csv"), "mine").unwrap();
        assert!(matches!(prepare(&d, &plan), Err(OutDirError::Foreign { .. })));
        assert!(d.join("UDP.csv").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
