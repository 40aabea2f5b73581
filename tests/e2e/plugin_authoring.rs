//! The third-party path, as a plugin author outside this repository takes it: `netcap plugins
//! new` writes a crate that stands alone in a temporary directory, plain `cargo test` and
//! `cargo build --release --target wasm32-unknown-unknown` build it (no wasm-tools, nothing from
//! the workspace but the SDK dependency), and the binary loads the `.wasm` cargo wrote with
//! `--plugins`; its records are the values of the messages the test put in the datagrams.

use etherparse::PacketBuilder;
use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::{TempDir, netcap, read_record_file, workspace_root};
use prost::Message;
use std::path::Path;
use std::process::Command;

/// The scaffolded record (from the template's `.proto`), declared as a reader of the files would.
#[derive(Clone, PartialEq, Message)]
struct Demo {
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
    #[prost(uint32, tag = "6")]
    tunnel_depth: u32,
    #[prost(uint32, tag = "7")]
    version: u32,
    #[prost(uint32, tag = "8")]
    kind: u32,
    #[prost(uint32, tag = "9")]
    length: u32,
    #[prost(uint32, tag = "10")]
    body_size: u32,
}

fn cargo(dir: &Path, args: &[&str]) {
    // The same dependency versions as the workspace (its lock file), so nothing is fetched; a
    // target directory of its own under target/tmp, kept between runs.
    let target = netcap_tests::target_dir().join("tmp").join("standalone-plugin-target");
    let o = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(args)
        .arg("--offline")
        .output()
        .expect("run cargo");
    assert!(o.status.success(), "cargo {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
}

fn datagram(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(40001, 40000)
        .write(&mut v, payload)
        .unwrap();
    v
}

#[test]
fn a_plugin_scaffolded_and_built_out_of_tree_loads_and_decodes() {
    let dir = TempDir::new("plugin-authoring");
    let krate = dir.path().join("demo-udp");
    let o = netcap(&["plugins", "new", "demo-udp", krate.to_str().unwrap(), "--port", "udp:40000"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!krate.starts_with(workspace_root()));
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("workspace = true"), "the crate inherits nothing: {manifest}");
    std::fs::copy(workspace_root().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    cargo(&krate, &["test"]);
    cargo(&krate, &["build", "--release", "--target", "wasm32-unknown-unknown"]);
    let built = netcap_tests::target_dir().join("tmp/standalone-plugin-target/wasm32-unknown-unknown/release");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(built.join("netcap_plugin_demo_udp.wasm"), plugins.join("demo-udp.wasm")).unwrap();

    let t0 = 1_700_000_000_000_000_000i64;
    let payloads: [&[u8]; 3] = [&[1, 2, 0, 3, b'a', b'b', b'c'], &[7], &[4, 5, 0, 9, b'x']];
    let packets: Vec<(i64, Vec<u8>)> =
        payloads.iter().enumerate().map(|(i, p)| (t0 + i as i64 * 1000, datagram(p))).collect();
    let input = dir.path().join("in.pcap");
    write_pcap(&input, LINKTYPE_ETHERNET, true, &packets).unwrap();
    let out = dir.path().join("out");
    let o = netcap(&[
        "capture",
        "-r",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let (header, recs) = read_record_file(&out.join("DemoUdp.ncap.zst"));
    assert_eq!(header.decoder, "demo-udp");
    let recs: Vec<Demo> = recs.iter().map(|b| Demo::decode(b.as_slice()).unwrap()).collect();
    // Message 1 whole, message 2 too short for a header (an error, no record), message 3 cut.
    let got: Vec<(i64, u32, u32, u32, u32)> =
        recs.iter().map(|r| (r.timestamp, r.version, r.kind, r.length, r.body_size)).collect();
    assert_eq!(got, vec![(t0, 1, 2, 3, 3), (t0 + 2000, 4, 5, 9, 1)]);
    assert_eq!((recs[0].src_ip.as_str(), recs[0].dst_port), ("192.0.2.1", 40000));
    assert!(err.contains("demo-udp: header truncated") && err.contains("demo-udp: body truncated"), "{err}");
}
