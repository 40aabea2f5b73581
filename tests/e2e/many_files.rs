//! Several capture files as one input (`-r DIR`, `-r` repeated, `-r "GLOB"`): a capture cut into
//! ten files with `editcap -c` gives the same records as the whole capture, flows and streams
//! across file boundaries included, for 1 and 2 workers; a damaged or foreign file among them is
//! reported and the others are read (exit 1); a name that is nothing is a usage error (exit 2).

use netcap_tests::{
    TempDir, corpus_packets, files_with, have_tshark, netcap, parse_ns, read_record_file, tshark_fields,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Corpus captures with streams of several protocols, each split at packet boundaries only
/// (`editcap` keeps every packet as it is). Captures whose time stamps go backwards are left
/// out: merging in time order puts such packets elsewhere, as `mergecap` does.
fn captures() -> Vec<PathBuf> {
    let mut picked = Vec::new();
    for proto in ["http", "tls", "smtp", "dns"] {
        let found = files_with(&[proto]).into_iter().find(|f| {
            corpus_packets(f).is_some_and(|(n, complete)| complete && (200..5000).contains(&n)) && in_time_order(f)
        });
        picked.extend(found);
    }
    picked
}

/// Whether tshark's time stamps never go backwards in `f`.
fn in_time_order(f: &Path) -> bool {
    let Some(rows) = tshark_fields(f, &["frame.time_epoch"], &[]) else { return false };
    let ts: Vec<i64> = rows.iter().filter_map(|r| parse_ns(r.first()?)).collect();
    ts.len() == rows.len() && ts.windows(2).all(|w| w[0] <= w[1])
}

/// Cuts `f` into 10 files of consecutive packets in `dir` with editcap.
fn split(f: &Path, dir: &Path) {
    let (packets, _) = corpus_packets(f).expect("indexed");
    std::fs::create_dir_all(dir).expect("mkdir");
    let st = Command::new("editcap")
        .arg("-c")
        .arg(packets.div_ceil(10).to_string())
        .arg(f)
        .arg(dir.join("part.pcap"))
        .status()
        .expect("run editcap");
    assert!(st.success(), "editcap on {}", f.display());
}

/// Every record file of `dir` with its records' bytes (the headers name the input, so they differ).
fn records_of(dir: &Path) -> Vec<(String, Vec<Vec<u8>>)> {
    netcap_tests::file_names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".ncap.zst"))
        .map(|n| {
            let (_, recs) = read_record_file(&dir.join(&n));
            (n, recs)
        })
        .collect()
}

fn run(args: &[&str], out: &Path) -> std::process::Output {
    let mut a = vec!["capture", "-o", out.to_str().expect("utf-8")];
    a.extend_from_slice(args);
    netcap(&a)
}

#[test]
fn a_capture_cut_into_ten_files_gives_the_records_of_the_whole() {
    if !have_tshark() {
        return;
    }
    let files = captures();
    assert!(netcap_tests::corpus().is_none() || files.len() >= 3, "too few captures picked: {files:?}");
    for f in &files {
        let tmp = TempDir::new("many-files");
        let parts = tmp.path().join("parts");
        split(f, &parts);
        let whole = tmp.path().join("whole");
        let o = run(&["-r", f.to_str().expect("utf-8"), "-w", "1", "--quiet"], &whole);
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), String::from_utf8_lossy(&o.stderr));
        let want = records_of(&whole);
        assert!(want.iter().any(|(n, _)| n.starts_with("Connection")), "{}: no connections", f.display());
        for w in ["1", "2"] {
            let out = tmp.path().join(format!("parts-{w}"));
            let o = run(&["-r", parts.to_str().expect("utf-8"), "-w", w], &out);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "{}: {err}", f.display());
            assert!(err.contains("input files: 10 (10 read to their end, merged in time order)"), "{err}");
            assert!(records_of(&out) == want, "{}: split into 10 files, {w} workers: other records", f.display());
        }
    }
}

#[test]
fn repeated_names_and_patterns_mean_the_same_files() {
    let Some(f) = captures().into_iter().next() else { return };
    let tmp = TempDir::new("many-files-glob");
    let parts = tmp.path().join("parts");
    split(&f, &parts);
    let by_dir = tmp.path().join("dir");
    assert_eq!(run(&["-r", parts.to_str().expect("utf-8"), "--quiet"], &by_dir).status.code(), Some(0));
    // Two patterns and a file already matched by the first: each file is read once.
    let first = format!("{}/part_0000[0-4]_*", parts.display());
    let second = format!("{}/part_0000[5-9]_*", parts.display());
    let again = netcap_tests::file_names(&parts).into_iter().next().expect("parts");
    let again = parts.join(again);
    let by_glob = tmp.path().join("glob");
    let o = run(&["-r", &first, "-r", &second, "-r", again.to_str().expect("utf-8")], &by_glob);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("input files: 10 "));
    assert!(records_of(&by_glob) == records_of(&by_dir), "patterns and the directory read other records");
}

#[test]
fn a_damaged_or_foreign_file_is_reported_and_the_others_are_read() {
    let Some(f) = captures().into_iter().next() else { return };
    let tmp = TempDir::new("many-files-damaged");
    let parts = tmp.path().join("parts");
    split(&f, &parts);
    let names = netcap_tests::file_names(&parts);
    let cut = parts.join(&names[3]);
    let len = std::fs::metadata(&cut).expect("part").len();
    std::fs::OpenOptions::new().write(true).open(&cut).expect("open").set_len(len / 2).expect("truncate");
    std::fs::write(parts.join("zz-notes.pcap"), b"not a capture\n").expect("write");
    let out = tmp.path().join("out");
    let o = run(&["-r", parts.to_str().expect("utf-8")], &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("input files: 11 (9 read to their end, merged in time order)"), "{err}");
    assert!(err.contains(&format!("{} is truncated", cut.display())), "{err}");
    assert!(err.contains("zz-notes.pcap is not a pcap or pcapng file"), "{err}");
    // Every packet of the nine good files is read, and the complete ones of the cut file.
    let (total, _) = corpus_packets(&f).expect("indexed");
    let read: u64 = err
        .lines()
        .next()
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|l| l.split(" packets").next())
        .map(|n| n.chars().filter(char::is_ascii_digit).collect::<String>())
        .and_then(|n| n.parse().ok())
        .expect("packets in the summary");
    assert!(read >= total - total.div_ceil(10) && read < total, "{read} of {total} packets read: {err}");
    assert!(!netcap_tests::records::<netcap_proto::v1::Connection>(&out, "Connection").is_empty());
}

#[test]
fn a_name_that_is_nothing_stops_before_reading() {
    let tmp = TempDir::new("many-files-usage");
    let missing = tmp.path().join("nope.pcap");
    let pattern = format!("{}/none-*.pcap", tmp.path().display());
    for (args, says) in [
        (vec!["-r", missing.to_str().expect("utf-8"), "-r", &pattern], "no such file"),
        (vec!["-r", &pattern], "the pattern matches no file"),
        (vec!["-r", tmp.path().to_str().expect("utf-8")], "holds no capture file"),
    ] {
        let o = run(&args, &tmp.path().join("out"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
