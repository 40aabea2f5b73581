//! `--extract-files`: decoders send transferred objects as file content entries and the host
//! writes them, named by SHA-256, under caps. The test-only `echo` stream decoder sends each TCP
//! connection direction as a file; every direction without gaps must be extracted with exactly
//! the bytes whose SHA-256 the decoder reported (hashed here again), the caps must hold and be
//! reported, and the files must be identical for 1 and 2 workers.

use netcap_decoder_echo::schema::StreamEcho;
use netcap_tests::{TempDir, corpus_files, netcap, records, testing_plugins_dir};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn echo_dir(parent: &Path) -> PathBuf {
    let d = parent.join("plugins");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(testing_plugins_dir().join("echo.wasm"), d.join("echo.wasm")).unwrap();
    d
}

fn run(input: &Path, out: &Path, plugins: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "capture",
        "-r",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
        "--include",
        "StreamEcho",
    ];
    args.extend_from_slice(extra);
    let o = netcap(&args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}: {err}", input.display());
    err
}

/// The files of a directory: name -> bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(rd) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    rd.map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

fn hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// HTTP captures of the corpus (real request and response bodies).
fn inputs() -> Vec<PathBuf> {
    corpus_files(&["http"]).into_iter().filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() < 1 << 20)).collect()
}

#[test]
fn every_gapless_direction_is_extracted_with_the_bytes_of_its_hash_for_any_worker_count() {
    let files_in = inputs();
    let mut checked = 0;
    for f in &files_in {
        let dir = TempDir::new("extract");
        let plugins = echo_dir(dir.path());
        let out1 = dir.path().join("out1");
        let out2 = dir.path().join("out2");
        let summary = run(f, &out1, &plugins, &["--extract-files", "--workers", "1"]);
        run(f, &out2, &plugins, &["--extract-files", "--workers", "2"]);
        let got = files(&out1.join("files"));
        assert_eq!(got, files(&out2.join("files")), "{}: 1 and 2 workers differ", f.display());
        for (name, bytes) in &got {
            let base = name.trim_end_matches(".partial");
            if name.ends_with(".partial") {
                continue;
            }
            assert_eq!(hex(bytes), base, "{}: {name} does not hold the bytes of its name", f.display());
        }
        let echoes: Vec<StreamEcho> = records(&out1, "StreamEcho");
        let mut want: Vec<String> =
            echoes.iter().filter(|e| e.bytes > 0 && e.gaps == 0).map(|e| e.sha256.clone()).collect();
        want.sort();
        want.dedup();
        let whole: Vec<String> = got.keys().filter(|n| !n.ends_with(".partial")).cloned().collect();
        assert_eq!(whole, want, "{}: extracted files vs gapless directions", f.display());
        let partial = got.keys().filter(|n| n.ends_with(".partial")).count();
        let gappy: std::collections::BTreeSet<&str> =
            echoes.iter().filter(|e| e.bytes > 0 && e.gaps > 0).map(|e| e.sha256.as_str()).collect();
        assert_eq!(partial, gappy.len(), "{}: one .partial per direction with gaps", f.display());
        assert!(summary.contains(&format!("extracted {} files", got.len())), "{}: {summary}", f.display());
        checked += usize::from(!got.is_empty());
    }
    assert!(checked >= 5 || files_in.is_empty(), "only {checked} captures had content to extract");
}

#[test]
fn each_extraction_cap_is_enforced_and_reported() {
    let Some(f) = inputs().into_iter().find(|f| f.to_string_lossy().contains("tickedoffdeveloper")) else { return };
    let dir = TempDir::new("extract-caps");
    let plugins = echo_dir(dir.path());
    let all = dir.path().join("all");
    run(&f, &all, &plugins, &["--extract-files"]);
    let every = files(&all.join("files"));
    assert!(every.len() >= 3, "{:?}", every.keys().collect::<Vec<_>>());
    let largest = every.values().map(Vec::len).max().unwrap();

    // One file's size: larger files become a `.partial` prefix of that many bytes.
    let out = dir.path().join("max-file");
    let s = run(&f, &out, &plugins, &["--extract-files", "--extract-max-file", "100"]);
    let got = files(&out.join("files"));
    let cut = every.values().filter(|b| b.len() > 100).count();
    assert!(cut > 0 && largest > 100);
    assert_eq!(got.keys().filter(|n| n.ends_with(".partial")).count(), cut, "{:?}", got.keys().collect::<Vec<_>>());
    assert!(got.values().all(|b| b.len() <= 100));
    // The decoder itself stops at the cap it was given, so the host has nothing to cut: the
    // files are partial.
    assert!(s.contains(&format!("{cut} partial")), "{s}");

    // The number of files.
    let out = dir.path().join("max-files");
    let s = run(&f, &out, &plugins, &["--extract-files", "--extract-max-files", "2"]);
    assert_eq!(files(&out.join("files")).len(), 2);
    assert!(s.contains(&format!("{} not written: --extract-max-files reached", every.len() - 2)), "{s}");

    // The total bytes: the files written in output order up to the cap, the rest counted.
    let out = dir.path().join("max-bytes");
    let cap = largest as u64;
    let s = run(&f, &out, &plugins, &["--extract-files", "--extract-max-bytes", &cap.to_string()]);
    let got = files(&out.join("files"));
    assert!(got.values().map(|b| b.len() as u64).sum::<u64>() <= cap);
    assert!(got.len() < every.len() && s.contains("not written: --extract-max-bytes reached"), "{s}");

    // Without the flag no file content crosses the boundary and nothing is written.
    let out = dir.path().join("off");
    run(&f, &out, &plugins, &[]);
    assert!(!out.join("files").exists());
}
