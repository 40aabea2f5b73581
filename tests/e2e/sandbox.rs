//! A decoder that loops, allocates without bound, panics or returns garbage is contained: the
//! fault is counted by kind, the instance restarted and, after repeated faults, the decoder is
//! disabled; the other decoders' output is byte-identical to a run without it; exit code 1.

use etherparse::PacketBuilder;
use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::{TempDir, file_bytes, netcap, records, testing_plugins_dir};
use std::path::Path;

fn udp(dport: u16, i: u32) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(40000, dport)
        .write(&mut v, &i.to_be_bytes())
        .unwrap();
    v
}

/// `n` UDP packets to port 1000, except the given (index, port) triggers.
fn pcap(dir: &Path, n: u32, triggers: &[(u32, u16)]) -> std::path::PathBuf {
    let t0 = 1_700_000_000_000_000_000i64;
    let packets: Vec<(i64, Vec<u8>)> = (0..n)
        .map(|i| {
            let port = triggers.iter().find(|t| t.0 == i).map_or(1000, |t| t.1);
            (t0 + i64::from(i) * 1000, udp(port, i))
        })
        .collect();
    let f = dir.join("in.pcap");
    write_pcap(&f, LINKTYPE_ETHERNET, false, &packets).unwrap();
    f
}

/// A plugin directory holding only the test plugin `id` (the testing directory has several).
fn plugin_dir(parent: &Path, id: &str) -> std::path::PathBuf {
    let dir = parent.join(format!("plugins-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(testing_plugins_dir().join(format!("{id}.wasm")), dir.join(format!("{id}.wasm"))).unwrap();
    dir
}

fn run(input: &Path, out: &Path, with_faulty: bool) -> std::process::Output {
    let plugins = plugin_dir(input.parent().unwrap(), "faulty");
    let mut args = vec![
        "capture",
        "-r",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--workers",
        "1",
        "--decoder-fuel",
        "100000000",
        "--decoder-memory",
        "32",
        "--decoder-output",
        "4",
    ];
    if with_faulty {
        args.extend_from_slice(&["--plugins", plugins.to_str().unwrap()]);
    }
    netcap(&args)
}

fn assert_others_unchanged(clean: &Path, faulty: &Path) {
    for name in ["Ethernet.ncap.zst", "IPv4.ncap.zst", "UDP.ncap.zst"] {
        assert!(file_bytes(&clean.join(name)) == file_bytes(&faulty.join(name)), "{name} differs");
    }
}

#[test]
fn each_kind_of_misbehaviour_is_contained_and_counted() {
    for (port, kind) in [
        (6661, "faulty: fuel exhausted"),
        (6662, "faulty: memory limit"),
        (6663, "faulty: trap"),
        (6664, "faulty: bad output"),
        (6665, "faulty: output limit"),
    ] {
        let dir = TempDir::new("sandbox");
        let input = pcap(dir.path(), 20, &[(10, port)]);
        let clean = dir.path().join("clean");
        let faulty = dir.path().join("faulty");
        let o = run(&input, &clean, false);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let o = run(&input, &faulty, true);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "port {port}: {err}");
        assert!(err.contains("decoder faults: 1") && err.contains(kind), "port {port}: {err}");
        assert_others_unchanged(&clean, &faulty);
        if port == 6663 {
            assert!(err.contains("faulty decoder: boom on packet 10"), "the panic message reaches the user: {err}");
        }
    }
}

#[test]
fn a_decoder_that_keeps_faulting_is_disabled_and_the_rest_goes_on() {
    let dir = TempDir::new("disable");
    // One clean epoch, then a trap in each of the next three epochs of 512 packets.
    let input = pcap(dir.path(), 2200, &[(600, 6663), (1100, 6663), (1600, 6663), (2100, 6663)]);
    let clean = dir.path().join("clean");
    let faulty = dir.path().join("faulty");
    assert_eq!(run(&input, &clean, false).status.code(), Some(0));
    let o = run(&input, &faulty, true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("decoder faults: 3"), "{err}");
    assert!(err.contains("decoder faulty was disabled after repeated faults"), "{err}");
    assert_others_unchanged(&clean, &faulty);
    let kept: Vec<netcap_proto::v1::Udp> = records(&faulty, "Faulty");
    assert!(!kept.is_empty() && kept.len() < 2200, "records before the faults are kept: {}", kept.len());
    assert!(kept.iter().all(|r| r.dst_port == 1000));
}

/// Runs a capture with only the test plugin `id` added; it must be refused: exit 2, one line
/// on stderr (returned), and no output.
fn refused(id: &str) -> String {
    let dir = TempDir::new(id);
    let plugins = plugin_dir(dir.path(), id);
    let input = pcap(dir.path(), 3, &[]);
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
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!out.join("UDP.ncap.zst").exists(), "nothing runs with a refused plugin");
    err
}

#[test]
fn a_plugin_importing_anything_but_the_host_interface_is_refused_by_name() {
    let err = refused("forbidden");
    assert!(err.contains("forbidden.wasm: imports wasi:cli/environment@0.2.0"), "{err}");
    assert!(err.contains("decoders may import only netcap:decoder/host@0.3.x"), "{err}");
}

#[test]
fn a_plugin_for_another_contract_version_is_refused_with_both_versions() {
    let err = refused("future");
    assert!(err.contains("plugin future (") && err.contains("targets netcap:decoder@0.9.0"), "{err}");
    assert!(err.contains("supports netcap:decoder@0.3.x (and loads 0.2.x)"), "{err}");
}

#[test]
fn plugins_inspect_shows_a_decoder_and_why_a_component_is_refused() {
    let std_dir = netcap_tests::workspace_root().join("target/plugins");
    let o = netcap(&["plugins", "inspect", std_dir.join("l2l4.wasm").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for want in [
        "exports:  netcap:decoder/decoder@0.3.0",
        "imports:  netcap:decoder/host@0.3.0",
        "decoder:  l2l4 ",
        "input:    ethernet, ipv4, ipv6, tcp, udp",
        "TCP (netcap.v1.TCP): timestamp, src_port",
    ] {
        assert!(out.contains(want), "{want} missing in {out}");
    }
    let o = netcap(&["plugins", "inspect", testing_plugins_dir().join("forbidden.wasm").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("imports:  netcap:decoder/host@0.3.0, wasi:cli/environment@0.2.0"), "{out}");
    assert!(out.contains("refused:") && out.contains("which the sandbox does not offer"), "{out}");
    let o = netcap(&["plugins", "inspect", netcap_tests::workspace_root().join("Cargo.toml").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not a WebAssembly component"), "{err}");
}

#[test]
fn user_plugin_directory_and_replacing_a_standard_decoder() {
    let dir = TempDir::new("user-plugins");
    let user = plugin_dir(dir.path(), "faulty");
    let o = netcap_tests::netcap_cmd().env("NETCAP_USER_PLUGINS", &user).args(["plugins", "list"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let row = out.lines().find(|l| l.starts_with("faulty ")).unwrap_or_else(|| panic!("no faulty row in {out}"));
    assert!(row.contains("layer") && row.contains("0.3.0") && row.contains("Faulty"), "{row}");
    assert!(row.ends_with(user.join("faulty.wasm").to_str().unwrap()), "{row}");
    // A plugin with a standard decoder's name replaces it, with a notice.
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::copy(netcap_tests::workspace_root().join("target/plugins/link.wasm"), mine.join("link.wasm")).unwrap();
    let o = netcap(&["plugins", "list", "--plugins", mine.to_str().unwrap()]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(err.contains("decoder link from") && err.contains("replaces the standard one"), "{err}");
    assert!(
        out.lines().any(|l| l.starts_with("link ") && l.ends_with(mine.join("link.wasm").to_str().unwrap())),
        "{out}"
    );
}

#[test]
fn a_plugin_built_for_the_previous_contract_still_loads_and_runs() {
    // `legacy` is built with wit-bindgen against the frozen wit/v0.2: one LegacyUDP record per
    // UDP packet, and a log line from `init` through the 0.2 host interface.
    let dir = TempDir::new("sandbox-legacy");
    let input = pcap(dir.path(), 5, &[]);
    let out = dir.path().join("out");
    let plugins = plugin_dir(dir.path(), "legacy");
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
    assert!(err.contains("decoder legacy info: an 0.2 decoder, running"), "{err}");
    let got: Vec<netcap_proto::v1::Udp> = records(&out, "LegacyUDP");
    let want: Vec<netcap_proto::v1::Udp> = records(&out, "UDP");
    assert_eq!(got.len(), 5);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.timestamp, g.src_port, g.dst_port), (w.timestamp, w.src_port, w.dst_port));
    }
    let o = netcap(&["plugins", "inspect", plugins.join("legacy.wasm").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("exports:  netcap:decoder/decoder@0.2.0"), "{out}");
    assert!(out.contains("decoder:  legacy 0.2.0 (layer decoder, netcap:decoder@0.2.0)"), "{out}");
}

#[test]
fn the_sdk_carries_the_same_contract_as_wit() {
    // The SDK builds on its own (out of tree), so it has its own copy of the WIT file.
    let root = netcap_tests::workspace_root();
    let canonical = std::fs::read(root.join("wit/decoder.wit")).unwrap();
    let sdk = std::fs::read(root.join("plugins/sdk/wit/decoder.wit")).unwrap();
    assert!(canonical == sdk, "plugins/sdk/wit/decoder.wit differs from wit/decoder.wit: copy it over");
}

#[test]
fn a_record_type_whose_message_the_schema_lacks_is_refused_by_name() {
    let err = refused("misnamed");
    assert!(
        err.contains("record type Misnamed names message netcap.v1.NoSuchMessage, which its schema does not define"),
        "{err}"
    );
}

#[test]
fn a_refused_plugin_in_the_user_directory_is_skipped_and_listed() {
    let dir = TempDir::new("sandbox-userdir");
    let user = plugin_dir(dir.path(), "misnamed");
    let input = pcap(dir.path(), 3, &[]);
    let out = dir.path().join("out");
    let o = netcap_tests::netcap_cmd()
        .env("NETCAP_USER_PLUGINS", &user)
        .args(["capture", "-r", input.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("skipped a plugin the host refuses") && err.contains("misnamed.wasm"), "{err}");
    assert_eq!(records::<netcap_proto::v1::Udp>(&out, "UDP").len(), 3);
    // `plugins list` lists the refusal with its reason, and the standard decoders, exit 0.
    let o = netcap_tests::netcap_cmd().env("NETCAP_USER_PLUGINS", &user).args(["plugins", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{list}");
    assert!(
        list.lines().any(|l| l.starts_with("refused: ") && l.contains("misnamed.wasm") && l.contains("NoSuchMessage")),
        "{list}"
    );
    let header = list.lines().next().unwrap();
    let l2l4 = list.lines().find(|l| l.starts_with("l2l4 ")).unwrap();
    // Columns line up: each column starts where its header does.
    for col in ["KIND", "VERSION", "WIT", "RECORD TYPES", "SOURCE"] {
        let at = header.find(col).unwrap();
        assert!(l2l4[..at].ends_with("  ") && !l2l4[at..].starts_with(' '), "{col} misaligned:\n{header}\n{l2l4}");
    }
}
