//! Output files are byte-identical for any worker count (ARCHITECTURE.md, invariant 2).

use netcap_tests::{TempDir, capture, corpus, file_bytes, file_names, workspace_root};
use std::path::Path;

fn check(file: &Path, extra: &[&str]) {
    let base = TempDir::new("det");
    let mut outputs: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
    for w in ["1", "2", "4"] {
        let dir = base.path().join(w);
        let mut args = vec!["--workers", w];
        args.extend_from_slice(extra);
        let o = capture(file, &dir, &args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
        outputs.push(file_names(&dir).into_iter().map(|n| (n.clone(), file_bytes(&dir.join(&n)))).collect());
    }
    assert!(!outputs[0].is_empty(), "{}: no output", file.display());
    for (w, o) in outputs.iter().enumerate().skip(1) {
        let names0: Vec<&String> = outputs[0].iter().map(|x| &x.0).collect();
        let names: Vec<&String> = o.iter().map(|x| &x.0).collect();
        assert_eq!(names0, names, "{}: different files", file.display());
        for ((n, a), (_, b)) in outputs[0].iter().zip(o) {
            assert!(a == b, "{}: {n} differs between 1 and {} workers", file.display(), [1, 2, 4][w]);
        }
    }
}

#[test]
fn identical_output_for_1_2_and_4_workers() {
    check(&workspace_root().join("tests/data/synth/sample.pcap"), &[]);
    let Some(root) = corpus() else { return };
    // Many flows, several link-layer oddities, and a pcapng with two link types.
    for f in [
        "mixed/pcapplusplus_many-protocols.pcap",
        "mixed/chrissanders_ek_to_cryptowall4.pcapng",
        "http/pcapplusplus_4KHttpRequests.pcap",
        "fileformat/pcapplusplus_many_interfaces-1.pcapng",
    ] {
        check(&root.join(f), &[]);
    }
    // CSV and JSON outputs too.
    check(&root.join("mixed/pcapplusplus_many-protocols.pcap"), &["--json"]);
    check(&root.join("mixed/pcapplusplus_many-protocols.pcap"), &["--csv", "--payload"]);
}

/// Flow and Connection records with small timeouts and a small table, so that idle and active
/// timeouts (at ticks and at packets), TCP close and evictions all happen: still byte-identical.
#[test]
fn flows_identical_for_1_2_and_4_workers() {
    let small = [
        "--include",
        "Flow,Connection",
        // One connection per partition: evictions on every capture with concurrent connections.
        "--flow-max",
        "1",
        "--flow-idle",
        "2s",
        "--flow-active",
        "5s",
        "--tcp-close",
        "500ms",
    ];
    check(&workspace_root().join("tests/data/synth/sample.pcap"), &small);
    let Some(root) = corpus() else { return };
    for f in [
        "mixed/pcapplusplus_many-protocols.pcap",
        "mixed/chrissanders_ek_to_cryptowall4.pcapng",
        "http/pcapplusplus_4KHttpRequests.pcap",
        "http/chrissanders_http_espn.pcapng",
    ] {
        check(&root.join(f), &small);
        check(&root.join(f), &["--include", "Flow,Connection"]);
    }
}
