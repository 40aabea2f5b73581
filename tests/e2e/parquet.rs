//! Parquet output (`--format parquet`, `--partition`, `netcap convert --to parquet`), read by the
//! engines users query it with: pyarrow and DuckDB read every record type of corpus captures with
//! the rows and values of `netcap dump --json`; Spark (local mode) reads a partitioned directory
//! of several captures as one table and gets the bytes per application protocol that the
//! Connection records of `dump --json` give. The files are the same bytes for 1 and 2 workers and
//! when converted from the `.ncap.zst` output. The checks are in `tests/python/parquet_check.py`.

use netcap_tests::{TempDir, corpus_packets, file_names, files_with, have_tshark, netcap, python_with, workspace_root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Corpus captures of a few hundred to a few thousand packets with the protocols named, one per
/// protocol (their record types cover links, flows, DNS, HTTP, TLS, SMB, DHCP, industrial ones).
fn captures(protocols: &[&str]) -> Vec<PathBuf> {
    let mut picked: Vec<PathBuf> = Vec::new();
    for p in protocols {
        let found = files_with(&[p]).into_iter().find(|f| {
            !picked.contains(f) && corpus_packets(f).is_some_and(|(n, complete)| complete && (100..3000).contains(&n))
        });
        picked.extend(found);
    }
    picked
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn capture(inputs: &[PathBuf], out: &Path, extra: &[&str]) {
    let mut args = vec!["capture", "-o", s(out), "--quiet"];
    for f in inputs {
        args.extend(["-r", s(f)]);
    }
    args.extend_from_slice(extra);
    let o = netcap(&args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Every file below `dir` (relative names) with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).expect("read dir").flatten() {
            let p = e.path();
            let name = p.strip_prefix(base).expect("below").to_string_lossy().into_owned();
            if p.is_dir() {
                walk(base, &p, out);
            } else if name.ends_with(".parquet") {
                out.insert(name, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn script() -> PathBuf {
    workspace_root().join("tests").join("python").join("parquet_check.py")
}

fn python(py: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new(py).arg(script()).args(args).output().expect("run python");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "parquet_check.py {args:?}: {out}{}", String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn pyarrow_and_duckdb_read_the_records_of_dump_json() {
    if !have_tshark() {
        return;
    }
    let Some(py) = python_with(&["pyarrow", "duckdb"], "NETCAP_REQUIRE_PYTHON") else { return };
    let files = captures(&["http", "dns", "smb2", "dhcp", "modbus"]);
    assert!(netcap_tests::corpus().is_none() || files.len() >= 4, "too few captures picked: {files:?}");
    for (i, f) in files.iter().enumerate() {
        let tmp = TempDir::new("parquet");
        let (ncap, pq1, pq2, conv) =
            (tmp.path().join("ncap"), tmp.path().join("pq1"), tmp.path().join("pq2"), tmp.path().join("conv"));
        capture(std::slice::from_ref(f), &ncap, &["-w", "2"]);
        capture(std::slice::from_ref(f), &pq1, &["-w", "1", "--format", "parquet"]);
        let one = tree(&pq1);
        assert!(one.contains_key("Connection.parquet"), "{}: {:?}", f.display(), one.keys());
        // The .ncap output is the same for any worker count (tests/e2e/determinism.rs) and the
        // Parquet files are a function of it (convert below): one capture checks it directly.
        if i == 0 {
            capture(std::slice::from_ref(f), &pq2, &["-w", "2", "--format", "parquet"]);
            assert!(tree(&pq2) == one, "{}: other Parquet bytes with 2 workers", f.display());
        }
        let o = netcap(&["convert", s(&ncap), "--to", "parquet", "-o", s(&conv), "--quiet"]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(tree(&conv) == one, "{}: convert gives other bytes than capture --format parquet", f.display());
        let out = python(&py, &["compare", s(&pq1), s(&ncap), s(&netcap_tests::netcap_bin())]);
        eprintln!("{}: {}", f.display(), out.lines().last().unwrap_or_default());
    }
}

/// Bytes per application protocol of the Connection records, from `dump --json`.
fn bytes_by_app(ncap: &Path) -> BTreeMap<String, u64> {
    let o = netcap(&["dump", "--json", "-r", s(&ncap.join("Connection.ncap.zst"))]);
    assert!(o.status.success());
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let app = v["application_proto"].as_str().expect("application_proto").to_string();
        *m.entry(app).or_insert(0) += v["total_size"].as_u64().expect("total_size");
    }
    m
}

#[test]
fn spark_reads_a_partitioned_directory_of_captures_as_one_table() {
    if !have_tshark() {
        return;
    }
    let Some(py) = python_with(&["pyspark", "duckdb"], "NETCAP_REQUIRE_SPARK") else { return };
    let files = captures(&["http", "dns", "tls", "dhcp"]);
    assert!(netcap_tests::corpus().is_none() || files.len() >= 3, "too few captures picked: {files:?}");
    let tmp = TempDir::new("parquet-spark");
    let (ncap, lake) = (tmp.path().join("ncap"), tmp.path().join("lake"));
    capture(&files, &ncap, &["-w", "2"]);
    capture(&files, &lake, &["-w", "2", "--format", "parquet", "--partition"]);
    let want = bytes_by_app(&ncap);
    let parts: Vec<String> = file_names(&lake.join("Connection"));
    assert!(parts.len() >= 2, "one date only: {parts:?}");
    for engine in ["spark", "duckdb"] {
        let out = python(&py, &["bytes-by-app", s(&lake.join("Connection")), engine]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
        let got: BTreeMap<String, u64> =
            v["bytes"].as_object().expect("bytes").iter().map(|(k, n)| (k.clone(), n.as_u64().expect("n"))).collect();
        assert_eq!(got, want, "{engine}: bytes per application protocol");
        eprintln!("{engine}: {} protocols, dates {}, {} rows, {} s", got.len(), v["dates"], v["rows"], v["seconds"]);
    }
}

#[test]
fn a_rerun_replaces_its_partition_tree_and_refuses_foreign_files() {
    let Some(f) = netcap_tests::corpus_files(&["dns"]).into_iter().next() else { return };
    let tmp = TempDir::new("parquet-rerun");
    let lake = tmp.path().join("lake");
    capture(std::slice::from_ref(&f), &lake, &["--format", "parquet", "--partition"]);
    let first = tree(&lake);
    assert!(first.keys().any(|k| k.starts_with("DNS/date=") && k.ends_with("/part-0.parquet")), "{:?}", first.keys());
    capture(std::slice::from_ref(&f), &lake, &["--format", "parquet", "--partition"]);
    assert!(tree(&lake) == first, "a second run leaves other files");
    let (name, _) = first.iter().next().expect("a file");
    let foreign = lake.join(Path::new(name).parent().expect("dir")).join("mine.parquet");
    std::fs::write(&foreign, b"not netcap's").expect("write");
    let o = netcap(&["capture", "-r", s(&f), "-o", s(&lake), "--quiet", "--format", "parquet", "--partition"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("was not written by netcap"), "{o:?}");
    assert!(foreign.exists());
}
