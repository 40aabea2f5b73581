//! `--extract-files`: decoders send transferred objects as file content entries and the host
//! writes them, named by SHA-256, under caps. The test-only `echo` stream decoder sends each TCP
//! connection direction as a file; every direction without gaps must be extracted with exactly
//! the bytes whose SHA-256 the decoder reported (hashed here again), the caps must hold and be
//! reported, and the files must be identical for 1 and 2 workers.

use netcap_decoder_echo::schema::StreamEcho;
use netcap_tests::{TempDir, corpus_files, netcap, records};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
        let plugins = netcap_tests::echo_plugin_dir();
        let out1 = dir.path().join("out1");
        let out2 = dir.path().join("out2");
        let summary = run(f, &out1, plugins, &["--extract-files", "--workers", "1"]);
        run(f, &out2, plugins, &["--extract-files", "--workers", "2"]);
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
    let plugins = netcap_tests::echo_plugin_dir();
    let all = dir.path().join("all");
    run(&f, &all, plugins, &["--extract-files"]);
    let every = files(&all.join("files"));
    assert!(every.len() >= 3, "{:?}", every.keys().collect::<Vec<_>>());
    let largest = every.values().map(Vec::len).max().unwrap();

    // One file's size: larger files become a `.partial` prefix of that many bytes.
    let out = dir.path().join("max-file");
    let s = run(&f, &out, plugins, &["--extract-files", "--extract-max-file", "100"]);
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
    let s = run(&f, &out, plugins, &["--extract-files", "--extract-max-files", "2"]);
    assert_eq!(files(&out.join("files")).len(), 2);
    assert!(s.contains(&format!("{} not written: --extract-max-files reached", every.len() - 2)), "{s}");

    // The total bytes: the files written in output order up to the cap, the rest counted.
    let out = dir.path().join("max-bytes");
    let cap = largest as u64;
    let s = run(&f, &out, plugins, &["--extract-files", "--extract-max-bytes", &cap.to_string()]);
    let got = files(&out.join("files"));
    assert!(got.values().map(|b| b.len() as u64).sum::<u64>() <= cap);
    assert!(got.len() < every.len() && s.contains("not written: --extract-max-bytes reached"), "{s}");

    // Without the flag no file content crosses the boundary and nothing is written.
    let out = dir.path().join("off");
    run(&f, &out, plugins, &[]);
    assert!(!out.join("files").exists());
}

// ------------------------------------------------------- HTTP bodies against tshark's export

/// Captures where tshark exports an HTTP object that is not one of our File records, and why.
const HTTP_EXPORT_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "zeek_ipv6-http-atomic-frag.pcap",
        "the SYN-ACK and a spurious retransmission of the request come before the SYN: the HTTP records already \
         pair these exchanges differently (no status line is read), so the 88-byte bodies are not ours",
    ),
    ("ndpi_socks.pcap", "HTTP inside a SOCKS connection: netcap's stream decoder does not read through SOCKS"),
    (
        "suricata-verify_app-layer-protocol-exact.pcap",
        "HTTP/2 (tshark exports HTTP/2 DATA under http): netcap reads HTTP/1.x only",
    ),
    ("suricata-verify_dns-over-http2-post_dns_over_https_POST.pcap", "HTTP/2, as above"),
    ("suricata-verify_http2-continuation.pcap", "HTTP/2, as above"),
    (
        "tcpdump_arcnet-rfc1201-arp-icmp-http.pcap",
        "ARCNET link type: netcap does not decode it, so the connection is not read",
    ),
    (
        "zeek_ssh_ssh-on-port-80.pcap",
        "SSH on port 80: tshark exports the SSH bytes as HTTP bodies by port, netcap reads the connection as SSH",
    ),
    (
        "chrissanders_tcp_dupack.pcapng",
        "the capture begins inside a response body: tshark exports a body segment without its message head",
    ),
    (
        "zeek_mpls-in-vlan.pcap",
        "the response's first segment is missing: tshark exports a later body segment without its message head",
    ),
    (
        "zeek_tunnels_ayiya3.pcap",
        "HTTP inside an AYIYA tunnel: netcap does not decapsulate AYIYA (counted as unknown), the connection is not read",
    ),
    (
        "zeek_tls_https-to-http.pcap",
        "the client opens with a TLS ClientHello on port 80: netcap reads the connection as TLS, not the server's \
         HTTP 400 answer",
    ),
];

/// Objects of one capture that tshark exports and we do not have, and why (capture, object name).
const HTTP_OBJECT_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "pcapplusplus_many-protocols.pcap",
        "echo.js",
        "tshark's reassembly of the chunked gzip response for echo.js fails: it exports two raw segments (still \
         compressed, with chunk-size lines inside) as objects; our File is the whole decoded body (57,486 bytes, \
         the gzip stream ends)",
    ),
    ("pcapplusplus_many-protocols.pcap", "echo(1).js", "the second raw segment of the same response"),
];

/// tshark's HTTP objects of `f` (one `--export-objects` pass): their bytes.
fn tshark_http_objects(f: &Path) -> Vec<(String, Vec<u8>)> {
    let objects = TempDir::new("http-eo");
    let spec = format!("http,{}", objects.path().display());
    let o = std::process::Command::new("tshark")
        .args(["-n", "-q", "-r"])
        .arg(f)
        .args(["--export-objects", &spec])
        .output()
        .expect("run tshark");
    // Exit code 2: the capture is cut short in a packet; what was read is exported.
    assert!(matches!(o.status.code(), Some(0 | 2)), "tshark --export-objects on {}", f.display());
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(objects.path())
        .expect("export dir")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("object")))
        .collect();
    v.sort();
    v
}

/// Every object `tshark --export-objects http` writes from a corpus capture with HTTP is a File
/// record of ours (same SHA-256: bodies de-chunked and decoded from gzip/deflate before hashing,
/// as Wireshark does), and on the captures with compressed or chunked bodies the file
/// `--extract-files` writes holds exactly tshark's bytes. The File records are those of the shared
/// default run (all record types); the extraction run is one more run of a few captures.
#[test]
fn http_export_objects_are_file_records_with_the_same_bytes() {
    use netcap_proto::v1::{File, Http};
    use netcap_tests::{Shared, corpus, files_with, have_tshark, shared_capture};
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let captures = files_with(&["http"]);
    assert!(captures.len() >= 40, "expected the corpus' HTTP captures, found {}", captures.len());
    let extract_on = ["zeek_http_get-gzip.pcap", "chrissanders_http_espn.pcapng", "zeek_http_putty-upload.pcap"];
    let (mut compared, mut extracted, mut failures) = (0usize, 0usize, Vec::new());
    for f in &captures {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if let Some((_, why)) = HTTP_EXPORT_EXCEPTIONS.iter().find(|(n, _)| *n == name) {
            eprintln!("exception {name}: {why}");
            continue;
        }
        let objects = tshark_http_objects(f);
        if objects.is_empty() {
            continue;
        }
        let run = shared_capture(f, Shared::Default);
        let file: Vec<File> = records(&run.dir, "File");
        let ours: std::collections::BTreeSet<&str> =
            file.iter().filter(|x| x.source == "http").map(|x| x.sha256.as_str()).collect();
        // Each File is linked from its HTTP record.
        let http: Vec<Http> = records(&run.dir, "HTTP");
        let linked: std::collections::BTreeSet<&str> =
            http.iter().flat_map(|h| [h.req_file_sha256.as_str(), h.res_file_sha256.as_str()]).collect();
        for h in &ours {
            if !linked.contains(h) {
                failures.push(format!("{name}: File {h} is not linked from an HTTP record"));
            }
        }
        let extract = extract_on.contains(&name.as_str()).then(|| {
            let dir = TempDir::new("http-extract");
            let o = netcap(&[
                "capture",
                "-r",
                f.to_str().unwrap(),
                "-o",
                dir.path().to_str().unwrap(),
                "--include",
                "HTTP,File",
                "--extract-files",
            ]);
            assert_eq!(o.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&o.stderr));
            files(&dir.path().join("files"))
        });
        for (obj, bytes) in &objects {
            if bytes.is_empty() {
                // tshark exports an object for a message whose body is empty (a chunked body of
                // only the last chunk, a body cut before its first byte); we write no File for it.
                continue;
            }
            if let Some((_, _, why)) = HTTP_OBJECT_EXCEPTIONS.iter().find(|(n, o, _)| *n == name && o == obj) {
                eprintln!("exception {name} {obj}: {why}");
                continue;
            }
            compared += 1;
            let h = hex(bytes);
            if !ours.contains(h.as_str()) {
                failures.push(format!("{name}: tshark's {obj} ({} bytes, {h}) is not a File of ours", bytes.len()));
                continue;
            }
            if let Some(written) = &extract {
                extracted += 1;
                if written.get(&h) != Some(bytes) {
                    failures.push(format!("{name}: extracted file {h} differs from tshark's {obj}"));
                }
            }
        }
    }
    eprintln!("http export: {} captures, {compared} objects, {extracted} extracted", captures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 400 && extracted >= 50, "too few objects compared: {compared}, extracted {extracted}");
}
