//! The third-party path, as a plugin author outside this repository takes it: `netcap plugins
//! new` writes a crate that stands alone in a temporary directory, plain `cargo test` and
//! `cargo build --release --target wasm32-unknown-unknown` build it (no wasm-tools, nothing from
//! the workspace but the SDK dependency), and the binary loads the `.wasm` cargo wrote with
//! `--plugins`; its records are the values of the messages the test put in the datagrams, or
//! (`--kind stream`) in a TCP conversation that splits them over segments.

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

/// Scaffolds `name` of `kind` outside the workspace, runs its tests and builds it as the guide
/// says; returns the directory holding its `.wasm`.
fn scaffold_and_build(dir: &Path, name: &str, kind: &str, port: &str) -> std::path::PathBuf {
    let krate = dir.join(name);
    let mut args = vec!["plugins", "new", name, krate.to_str().unwrap(), "--kind", kind];
    if !port.is_empty() {
        args.extend(["--port", port]);
    }
    let o = netcap(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!krate.starts_with(workspace_root()));
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("workspace = true"), "the crate inherits nothing: {manifest}");
    std::fs::copy(workspace_root().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    cargo(&krate, &["test"]);
    cargo(&krate, &["build", "--release", "--target", "wasm32-unknown-unknown"]);
    let built = netcap_tests::target_dir().join("tmp/standalone-plugin-target/wasm32-unknown-unknown/release");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let lib = format!("netcap_plugin_{}.wasm", name.replace('-', "_"));
    std::fs::copy(built.join(lib), plugins.join(format!("{name}.wasm"))).unwrap();
    plugins
}

/// Runs `netcap capture` with the plugins in `plugins` on `packets`; its stderr and the records
/// of `record_type`, whose file must name `decoder`.
fn capture_with(
    dir: &Path,
    packets: &[(i64, Vec<u8>)],
    plugins: &Path,
    record_type: &str,
    decoder: &str,
) -> (String, Vec<Vec<u8>>) {
    let input = dir.join("in.pcap");
    write_pcap(&input, LINKTYPE_ETHERNET, true, packets).unwrap();
    let out = dir.join("out");
    let o = netcap(&[
        "capture",
        "-r",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    let (header, recs) = read_record_file(&out.join(format!("{record_type}.ncap.zst")));
    assert_eq!(header.decoder, decoder);
    (err, recs)
}

#[test]
fn a_plugin_scaffolded_and_built_out_of_tree_loads_and_decodes() {
    let dir = TempDir::new("plugin-authoring");
    let plugins = scaffold_and_build(dir.path(), "demo-udp", "layer", "udp:40000");

    let t0 = 1_700_000_000_000_000_000i64;
    let payloads: [&[u8]; 3] = [&[1, 2, 0, 3, b'a', b'b', b'c'], &[7], &[4, 5, 0, 9, b'x']];
    let packets: Vec<(i64, Vec<u8>)> =
        payloads.iter().enumerate().map(|(i, p)| (t0 + i as i64 * 1000, datagram(p))).collect();
    let (err, recs) = capture_with(dir.path(), &packets, &plugins, "DemoUdp", "demo-udp");
    let recs: Vec<Demo> = recs.iter().map(|b| Demo::decode(b.as_slice()).unwrap()).collect();
    // Message 1 whole, message 2 too short for a header (an error, no record), message 3 cut.
    let got: Vec<(i64, u32, u32, u32, u32)> =
        recs.iter().map(|r| (r.timestamp, r.version, r.kind, r.length, r.body_size)).collect();
    assert_eq!(got, vec![(t0, 1, 2, 3, 3), (t0 + 2000, 4, 5, 9, 1)]);
    assert_eq!((recs[0].src_ip.as_str(), recs[0].dst_port), ("192.0.2.1", 40000));
    assert!(err.contains("demo-udp: header truncated") && err.contains("demo-udp: body truncated"), "{err}");
}

#[test]
fn a_stream_plugin_scaffolded_out_of_tree_frames_messages_split_over_segments() {
    use netcap_tests::synth_stream::{Conv, merge};
    let dir = TempDir::new("plugin-authoring-stream");
    let refused = dir.path().join("demo-x");
    let o = netcap(&["plugins", "new", "demo-x", refused.to_str().unwrap(), "--kind", "stream", "--port", "udp:7"]);
    assert_eq!(o.status.code(), Some(2), "a stream decoder with a UDP port is refused");
    assert!(!refused.exists());
    let plugins = scaffold_and_build(dir.path(), "demo-tcp", "stream", "tcp:40000");

    let t0 = 1_700_000_000_000_000_000i64;
    let ms = 1_000_000;
    // The client's first message split over three segments, the last of which also carries a
    // whole second message; the server answers with one message.
    let mut c = Conv::new(1, 50000, 40000, 1000, 9000, t0);
    c.handshake();
    for part in [&[1u8, 2][..], &[0, 3, b'a'], &[b'b', b'c', 1, 5, 0, 0]] {
        c.segment(true, part);
    }
    c.ack(false);
    c.send(false, &[1, 9, 0, 1, b'z']);
    c.close();
    // A connection to the same port that does not speak the protocol: declined, no record.
    let mut other = Conv::new(2, 50001, 40000, 5000, 7000, t0 + 100 * ms);
    other.handshake();
    other.send(true, b"GET / HTTP/1.0\r\n\r\n");
    other.close();
    let (err, recs) = capture_with(dir.path(), &merge(&[&c, &other]), &plugins, "DemoTcp", "demo-tcp");
    let mut got: Vec<(i64, u32, u32, u32, u32, u32)> = recs
        .iter()
        .map(|b| Demo::decode(b.as_slice()).unwrap())
        .map(|r| (r.timestamp, r.src_port, r.version, r.kind, r.length, r.body_size))
        .collect();
    got.sort();
    // Packets 1 ms apart: handshake (0-2), the client's segments (3-5), the server's ACK (6),
    // the server's message (7). A message's time is that of the packet that completed it.
    assert_eq!(
        got,
        vec![(t0 + 5 * ms, 50000, 1, 2, 3, 3), (t0 + 5 * ms, 50000, 1, 5, 0, 0), (t0 + 7 * ms, 40000, 1, 9, 1, 1)]
    );
    // The HTTP connection is declined at its first bytes, without an error.
    assert!(err.lines().any(|l| l.trim().starts_with("demo-tcp: declined") && l.trim().ends_with(" 1")), "{err}");
    assert!(!err.contains("framer:") && !err.contains("demo-tcp: unknown version"), "no errors: {err}");
}

/// The scaffolded record decoder's record (from the template's `.proto`).
#[derive(Clone, PartialEq, Message)]
struct Server {
    #[prost(int64, tag = "1")]
    timestamp_first: i64,
    #[prost(int64, tag = "2")]
    timestamp_last: i64,
    #[prost(string, tag = "3")]
    ip: String,
    #[prost(string, tag = "4")]
    transport: String,
    #[prost(uint32, tag = "5")]
    port: u32,
    #[prost(uint64, tag = "6")]
    connections: u64,
    #[prost(uint64, tag = "7")]
    bytes_to_server: u64,
    #[prost(uint64, tag = "8")]
    bytes_to_client: u64,
}

#[test]
fn a_record_plugin_scaffolded_out_of_tree_aggregates_the_connection_records() {
    use netcap_proto::v1::Connection;
    use netcap_tests::synth_stream::{Conv, merge};
    let dir = TempDir::new("plugin-authoring-record");
    let refused = dir.path().join("demo-y");
    let o = netcap(&["plugins", "new", "demo-y", refused.to_str().unwrap(), "--kind", "record", "--port", "tcp:7"]);
    assert_eq!(o.status.code(), Some(2), "a record decoder with a port is refused");
    let plugins = scaffold_and_build(dir.path(), "demo-rec", "record", "");
    // Three connections to one server, one to another.
    let t0 = 1_700_000_000_000_000_000i64;
    let mut convs = Vec::new();
    for (i, (host, port)) in [(1u8, 80u16), (1, 80), (2, 443), (1, 80)].into_iter().enumerate() {
        let mut c = Conv::new(host, 40000 + i as u16, port, 100, 900, t0 + i as i64 * 10_000_000);
        c.handshake();
        c.send(true, &vec![b'q'; 10 + i]);
        c.send(false, &vec![b'r'; 100 * (i + 1)]);
        c.close();
        convs.push(c);
    }
    let refs: Vec<&Conv> = convs.iter().collect();
    let (_, recs) = capture_with(dir.path(), &merge(&refs), &plugins, "DemoRec", "demo-rec");
    let mut got: Vec<(String, u32, u64, u64, u64)> = recs
        .iter()
        .map(|b| Server::decode(b.as_slice()).unwrap())
        .map(|s| (s.ip, s.port, s.connections, s.bytes_to_server, s.bytes_to_client))
        .collect();
    got.sort();
    // The same aggregation of the run's own Connection records (which other tests hold to tshark).
    let conns: Vec<Connection> = netcap_tests::records(&dir.path().join("out"), "Connection");
    assert_eq!(conns.len(), 4);
    let mut want: std::collections::BTreeMap<(String, u32), (u64, u64, u64)> = Default::default();
    for c in &conns {
        let e = want.entry((c.dst_ip.clone(), c.dst_port)).or_default();
        *e = (e.0 + 1, e.1 + c.bytes_client_to_server, e.2 + c.bytes_server_to_client);
    }
    let want: Vec<(String, u32, u64, u64, u64)> =
        want.into_iter().map(|((ip, port), (n, up, down))| (ip, port, n, up, down)).collect();
    assert_eq!(got, want);
    assert_eq!((got[0].0.as_str(), got[0].1, got[0].2), ("198.51.100.1", 80, 3));
}
