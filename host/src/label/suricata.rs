//! Running Suricata on a capture (`netcap label -r PCAP`): `suricata -k none -r PCAP -l DIR`
//! (plus `-c CONFIG` and `-S RULES` when given), then the alerts it wrote to `DIR/eve.json`
//! (preferred) or `DIR/fast.log`. Suricata is an external program; without it on `PATH` the
//! command fails with one message saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Errors running Suricata.
#[derive(Debug, thiserror::Error)]
pub enum SuricataError {
    #[error(
        "suricata is not installed (not found on PATH): install Suricata, or run it yourself and pass its eve.json or fast.log with --alerts"
    )]
    Missing,
    #[error("cannot prepare the Suricata log directory {path}")]
    LogDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("running suricata")]
    Spawn(#[source] std::io::Error),
    #[error("suricata failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("suricata wrote neither eve.json nor fast.log to {0}")]
    NoOutput(PathBuf),
}

/// The first `suricata` executable on `PATH`.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("suricata")).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs Suricata on `pcap` with logs in `log_dir` (old eve.json, fast.log and stats.log there
/// are removed first); returns the alert file to read.
pub fn run(pcap: &Path, log_dir: &Path, config: Option<&Path>, rules: Option<&Path>) -> Result<PathBuf, SuricataError> {
    let bin = find().ok_or(SuricataError::Missing)?;
    std::fs::create_dir_all(log_dir).map_err(|source| SuricataError::LogDir { path: log_dir.into(), source })?;
    for f in ["eve.json", "fast.log", "stats.log"] {
        let p = log_dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|source| SuricataError::LogDir { path: p.clone(), source })?;
        }
    }
    let mut c = Command::new(bin);
    c.args(["-k", "none", "-r"]).arg(pcap).arg("-l").arg(log_dir);
    if let Some(cfg) = config {
        c.arg("-c").arg(cfg);
    }
    if let Some(r) = rules {
        c.arg("-S").arg(r);
    }
    let out = c.output().map_err(SuricataError::Spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(SuricataError::Failed {
            status: out.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
        });
    }
    for f in ["eve.json", "fast.log"] {
        let p = log_dir.join(f);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(SuricataError::NoOutput(log_dir.into()))
}
