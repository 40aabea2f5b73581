//! Every capture of the shared corpus goes through netcap without a crash: readable files are
//! read to the same packet as tshark reads them (tshark is the oracle for where a damaged file
//! stops), damaged ones give partial output with exit code 1, unreadable ones one clear line and
//! exit code 2.

use netcap_tests::{Shared, corpus, corpus_packets, have_tshark, shared_capture};
use std::path::{Path, PathBuf};
use std::process::Command;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap" || x == "snoop") {
            out.push(p);
        }
    }
}

/// Packets tshark reads, and whether it read the whole file: from the corpus index's cached pass,
/// else (a format the index leaves out) counted here. tshark 4 also lists pcapng custom blocks as
/// frames; they have no encapsulation type and are not packets.
fn tshark_count(f: &Path) -> (u64, bool) {
    if let Some(known) = corpus_packets(f) {
        return known;
    }
    let o = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(f)
        .args(["-T", "fields", "-e", "frame.encap_type"])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&o.stdout);
    (text.lines().filter(|l| !l.trim().is_empty()).count() as u64, o.status.success())
}

/// Files where we knowingly differ from tshark, with the reason.
const DIVERGENCES: &[(&str, &str)] = &[(
    "suricata-verify_bug-6875-01_fuzz.pcap",
    "a fuzzed pcap: after its first packet Wireshark guesses the 1999 SuSE 6.3 'modified libpcap' \
     record layout (24-byte record headers) and reads a 1-byte second packet before failing; we read \
     standard pcap only and report the damage after the first packet",
)];

/// The packet count from netcap's summary line `netcap X: N packets (...`.
fn our_count(stderr: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.starts_with("netcap ") && l.contains(" packets ("))?;
    let n = line.split(": ").nth(1)?.split(' ').next()?;
    n.replace(',', "").parse().ok()
}

fn check(f: &Path, tshark: bool) -> Result<(), String> {
    // The shared capture (2 workers, unknown and error pcaps) that other corpus-wide tests read too.
    let o = &shared_capture(f, Shared::Default).output;
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let code = o.status.code().ok_or_else(|| format!("killed by a signal: {err}"))?;
    if err.contains("panicked") {
        return Err(format!("panic: {err}"));
    }
    // The standard decoders never trap, time out or hit their memory cap, whatever the input.
    if err.contains("decoder faults") {
        return Err(format!("a standard decoder faulted: {err}"));
    }
    let ours = our_count(&err);
    if !tshark {
        return if matches!(code, 0..=2) { Ok(()) } else { Err(format!("exit {code}")) };
    }
    let (theirs, complete) = tshark_count(f);
    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if DIVERGENCES.iter().any(|(n, _)| *n == name) {
        // Still: no crash, partial output, exit 1.
        return if code == 1 && ours.is_some() { Ok(()) } else { Err(format!("exit {code}: {err}")) };
    }
    match (code, ours) {
        (2, None) => {
            // Unreadable for us: must be a format we do not read or a file tshark cannot read either.
            let first_line_only = err.lines().count() == 1 && err.starts_with("netcap: ");
            if !first_line_only {
                return Err(format!("fatal error must be one line: {err}"));
            }
            if theirs > 0 && !err.contains("is not a pcap or pcapng file") && !err.contains("unsupported capture file")
            {
                return Err(format!("tshark reads {theirs} packets but we fail: {err}"));
            }
            Ok(())
        }
        (0 | 1, Some(n)) => {
            if n != theirs {
                return Err(format!("we read {n} packets, tshark {theirs}"));
            }
            if complete && code != 0 {
                return Err(format!("tshark reads the whole file but we exit {code}: {err}"));
            }
            if !complete && code != 1 {
                return Err(format!("tshark stops early but we exit {code}"));
            }
            Ok(())
        }
        _ => Err(format!("exit {code} with summary {ours:?}: {err}")),
    }
}

#[test]
fn whole_corpus_reads_like_tshark_without_crashing() {
    let Some(root) = corpus() else { return };
    let tshark = have_tshark();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(files.len() > 400, "corpus too small: {}", files.len());
    let chunks: Vec<Vec<PathBuf>> = files.chunks(files.len().div_ceil(2)).map(|c| c.to_vec()).collect();
    let failures: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|f| check(f, tshark).err().map(|e| format!("{}: {e}", f.display())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().expect("checker thread")).collect()
    });
    assert!(failures.is_empty(), "{} of {} files failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}
