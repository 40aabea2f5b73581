//! Record decoders (contract kind `record`) and resources, end to end: the example
//! `ja3-alert` decoder (`plugins/examples/ja3-alert`, loaded with `--plugins`) reads the stream
//! decoder's `TLSClientHello` records and a blocklist the user names with `--resource`; its alerts
//! are exactly the client hellos tshark gives the blocklisted JA3, for 1 and 3 workers alike.

use netcap_tests::{TempDir, corpus_files, file_bytes, have_tshark, netcap, records, tshark_fields, workspace_root};
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The example decoder's record, declared here from its `proto/ja3_alert.proto` as a third party
/// reading the files would.
#[derive(Clone, PartialEq, Message)]
struct Ja3Alert {
    #[prost(int64, tag = "1")]
    timestamp: i64,
    #[prost(string, tag = "2")]
    src_ip: String,
    #[prost(string, tag = "3")]
    dst_ip: String,
    #[prost(uint32, tag = "4")]
    src_port: u32,
    #[prost(uint32, tag = "5")]
    dst_port: u32,
    #[prost(string, tag = "6")]
    ja3: String,
    #[prost(string, tag = "7")]
    ja4: String,
    #[prost(string, tag = "8")]
    sni: String,
    #[prost(string, tag = "9")]
    matched: String,
    #[prost(string, tag = "10")]
    reason: String,
    #[prost(uint64, tag = "11")]
    count: u64,
}

fn examples_dir() -> PathBuf {
    workspace_root().join("target/plugins-examples")
}

fn run(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let plugins = examples_dir();
    let mut args = vec![
        "capture",
        "-r",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--quiet",
        "--plugins",
        plugins.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    netcap(&args)
}

/// tshark's client hellos with a JA3: (client port, JA3) per hello, in capture order.
fn tshark_hellos(file: &Path) -> Vec<(u32, String)> {
    let rows = tshark_fields(file, &["tcp.srcport", "tls.handshake.ja3"], &["-Y", "tls.handshake.type == 1"])
        .unwrap_or_default();
    let mut v = Vec::new();
    for r in rows {
        let (Some(port), Some(ja3s)) = (r.first().and_then(|p| p.parse().ok()), r.get(1)) else { continue };
        for ja3 in ja3s.split(',').filter(|j| !j.is_empty()) {
            v.push((port, ja3.to_string()));
        }
    }
    v
}

#[test]
fn ja3_alerts_are_the_hellos_tshark_gives_the_blocklisted_fingerprint() {
    if !have_tshark() {
        return;
    }
    let files = corpus_files(&["tls"]);
    let mut compared = 0;
    for f in &files {
        let hellos = tshark_hellos(f);
        // The most frequent JA3 of the capture (ties: the smallest) is blocklisted.
        let mut freq: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, j) in &hellos {
            *freq.entry(j.as_str()).or_default() += 1;
        }
        let Some((&ja3, _)) = freq.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) else { continue };
        let dir = TempDir::new("ja3-alert");
        let list = dir.path().join("ja3.csv");
        // abuse.ch's format: ja3_md5,Firstseen,Lastseen,Listingreason (upper case on purpose).
        std::fs::write(
            &list,
            format!("# ja3_md5,Firstseen,Lastseen,Listingreason\n{},x,y,Test C2\n", ja3.to_uppercase()),
        )
        .unwrap();
        let mut outs = Vec::new();
        for workers in ["1", "3"] {
            let out = dir.path().join(format!("out{workers}"));
            let resource = format!("ja3-blocklist={}", list.display());
            let o = run(f, &out, &["--resource", &resource, "--workers", workers]);
            assert!(o.status.code() == Some(0), "{}: {}", f.display(), String::from_utf8_lossy(&o.stderr));
            outs.push(out);
        }
        let alerts: Vec<Ja3Alert> = records(&outs[0], "JA3Alert");
        let mut got: Vec<(u32, String)> = alerts.iter().map(|a| (a.src_port, a.ja3.clone())).collect();
        let mut want: Vec<(u32, String)> = hellos.iter().filter(|(_, j)| j == ja3).cloned().collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{}: alerts for JA3 {ja3}", f.display());
        assert!(alerts.iter().all(|a| a.reason == "Test C2" && a.matched == "ja3"), "{}", f.display());
        let counts: Vec<u64> = alerts.iter().map(|a| a.count).collect();
        assert_eq!(counts, (1..=alerts.len() as u64).collect::<Vec<_>>(), "{}: counts in output order", f.display());
        assert_eq!(
            file_bytes(&outs[0].join("JA3Alert.ncap.zst")),
            file_bytes(&outs[1].join("JA3Alert.ncap.zst")),
            "{}: JA3Alert differs between 1 and 3 workers",
            f.display()
        );
        compared += 1;
    }
    assert!(compared >= 3 || files.is_empty(), "only {compared} TLS captures with client hellos");
}

#[test]
fn a_required_resource_that_is_not_given_stops_the_run_before_input() {
    let dir = TempDir::new("ja3-noresource");
    let input = dir.path().join("in.pcap");
    netcap_tests::pcap::write_pcap(&input, netcap_tests::pcap::LINKTYPE_ETHERNET, false, &[]).unwrap();
    let out = dir.path().join("out");
    let o = run(&input, &out, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("decoder ja3-alert needs the resource ja3-blocklist")
            && err.contains("--resource ja3-blocklist=PATH"),
        "{err}"
    );
    // A resource directory works too: the file NAME.<ext>.
    std::fs::write(dir.path().join("ja3-blocklist.csv"), "00000000000000000000000000000000,none\n").unwrap();
    let o = run(&input, &out, &["--resources", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn plugins_inspect_lists_what_a_record_decoder_reads_and_its_resources() {
    let o = netcap(&["plugins", "inspect", examples_dir().join("ja3-alert.wasm").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for want in [
        "decoder:  ja3-alert ",
        "(record decoder, netcap:decoder@0.3.0)",
        "input:    records TLSClientHello (netcap.v1.TLSClientHello)",
        "  ja3-blocklist (required): JA3/JA4 blocklist CSV",
        "JA3Alert (plugin.ja3_alert.v1.JA3Alert): timestamp, src_ip",
    ] {
        assert!(out.contains(want), "{want:?} missing in {out}");
    }
}
