//! Limits that decide output are deterministic and hostile input cannot crash the host.
//!
//! - Hostile schemas: a decoder (`plugins/testing/nested`) whose record types are a recursive
//!   message and a chain of 10,000 message types, and a hand-written record file declaring a
//!   recursive type: capture (protobuf and JSON), `dump` (JSON, CSV, table) and `label` finish,
//!   with nesting deeper than the renderer's bound shown as `"…"`.
//! - Faults: the `faulty` decoder trapping on given packets loses exactly those packets' records,
//!   with byte-identical output for 1, 2 and 4 workers; the 3-fault limit counts faults per run in
//!   packet order, so what is kept does not depend on the worker count either.
//! - Fuel: a decoder that loops runs out of fuel (not a wall-clock deadline), identically.
//! - Load: a 200,000-SYN flood gives identical profile output in 5 runs while the test keeps
//!   the CPUs busy with its own bounded busy loop.

use etherparse::PacketBuilder;
use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::{TempDir, file_bytes, file_names, netcap, records, testing_plugins_dir};
use std::path::{Path, PathBuf};

const T0: i64 = 1_700_000_000_000_000_000;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A UDP packet from 10.0.(i/250).(i%250) port 40000 + i % 1000 to 10.9.9.9 port `dport`.
fn udp(i: u32, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, (i / 250) as u8, (i % 250) as u8], [10, 9, 9, 9], 64)
        .udp(40000 + (i % 1000) as u16, dport)
        .write(&mut v, &i.to_be_bytes())
        .expect("udp packet");
    v
}

/// `n` UDP packets to port 1000 (1 ms apart) except the (index, port) triggers.
fn udp_capture(dir: &Path, n: u32, triggers: &[(u32, u16)]) -> PathBuf {
    let packets: Vec<(i64, Vec<u8>)> = (0..n)
        .map(|i| {
            let port = triggers.iter().find(|t| t.0 == i).map_or(1000, |t| t.1);
            (T0 + i64::from(i) * 1_000_000, udp(i, port))
        })
        .collect();
    let f = dir.join("in.pcap");
    write_pcap(&f, LINKTYPE_ETHERNET, false, &packets).expect("write pcap");
    f
}

/// A plugin directory holding only the test plugin `id`.
fn plugin_dir(parent: &Path, id: &str) -> PathBuf {
    let dir = parent.join(format!("plugins-{id}"));
    std::fs::create_dir_all(&dir).expect("plugin dir");
    std::fs::copy(testing_plugins_dir().join(format!("{id}.wasm")), dir.join(format!("{id}.wasm")))
        .expect("copy the test plugin (cargo xtask build-plugins)");
    dir
}

fn dump(file: &Path, mode: &[&str]) -> String {
    let mut args = vec!["dump", "-r", s(file)];
    args.extend_from_slice(mode);
    let o = netcap(&args);
    assert_eq!(o.status.code(), Some(0), "dump {mode:?} {}: {}", file.display(), stderr(&o));
    String::from_utf8(o.stdout).expect("utf-8 dump")
}

/// `netcap label` of the record directory `records` with one alert that matches nothing.
fn label(dir: &Path, records: &Path) -> PathBuf {
    let alerts = dir.join("fast.log");
    std::fs::write(
        &alerts,
        "11/14/2023-22:13:20.000001  [**] [1:1:1] x [**] [Classification: Misc activity] [Priority: 3] {TCP} 192.0.2.1:1 -> 192.0.2.2:2\n",
    )
    .expect("write alerts");
    let out = dir.join("labelled");
    let o = netcap(&["label", "--records", s(records), "--alerts", s(&alerts), "--tz", "UTC", "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "label: {}", stderr(&o));
    out
}

#[test]
fn recursive_and_ten_thousand_level_schemas_of_a_decoder_render_bounded() {
    let dir = TempDir::new("nested");
    // Nesting: port % 100 levels (0, 5, 31, 40, 99).
    let input = udp_capture(dir.path(), 6, &[(1, 1005), (2, 1031), (3, 1040), (4, 1099)]);
    let plugins = plugin_dir(dir.path(), "nested");
    let out = dir.path().join("out");
    let o = netcap(&["capture", "-r", s(&input), "-o", s(&out), "--plugins", s(&plugins), "--include", "nested"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for name in ["Recursive", "Chain"] {
        let f = out.join(format!("{name}.ncap.zst"));
        let json = dump(&f, &[]);
        let lines: Vec<serde_json::Value> =
            json.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
        assert_eq!(lines.len(), 6, "{name}");
        // 0 and 5 levels: all there; 40 and 99: cut at the renderer's depth bound.
        assert_eq!(lines[0]["name"], "deep", "{name}");
        assert_eq!(lines[1]["a"]["a"]["a"]["a"]["a"]["name"], "deep", "{name}");
        for deep in [&lines[3], &lines[4]] {
            let text = deep.to_string();
            assert!(text.contains("\"…\"") && !text.contains("deep"), "{name}: {text}");
        }
        // Unset fields of the recursive type are null, not an endless default; the chain's are
        // defaults down to the depth bound, within the default budget.
        if name == "Recursive" {
            assert_eq!(lines[0]["a"], serde_json::Value::Null);
        } else {
            assert!(lines[0]["a"]["a"].is_object() && json.lines().next().is_some_and(|l| l.len() < 100_000));
        }
        let csv = dump(&f, &["--csv"]);
        assert_eq!(csv.lines().count(), 7, "{name}: a header and 6 rows");
        assert!(dump(&f, &["--table"]).lines().count() >= 6, "{name}");
    }
    // Rendered while capturing, too.
    let jout = dir.path().join("json");
    let o = netcap(&[
        "capture",
        "-r",
        s(&input),
        "-o",
        s(&jout),
        "--plugins",
        s(&plugins),
        "--include",
        "nested",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(jout.join("Chain.json")).expect("Chain.json");
    assert_eq!(text.lines().count(), 6);
    let labelled = label(dir.path(), &out);
    assert!(file_names(&labelled).iter().any(|n| n.starts_with("Recursive")), "{:?}", file_names(&labelled));
}

#[test]
fn a_hand_written_record_file_declaring_a_recursive_type_dumps_and_labels() {
    use netcap_decoder_nested::{chain, nest};
    let dir = TempDir::new("recfile");
    let records = dir.path().join("records");
    std::fs::create_dir_all(&records).expect("dir");
    let header = netcap_proto::v1::Header {
        created: T0,
        record_type: "Node".into(),
        message_name: "t.M0".into(),
        schema: chain(1),
        ..Default::default()
    };
    let mut file = Vec::new();
    netcap_proto::put_delimited(&mut file, &header);
    let mut shallow = nest(0);
    shallow.timestamp = T0;
    netcap_proto::put_delimited(&mut file, &shallow);
    let small = file.len();
    let mut deep = nest(60);
    deep.timestamp = T0 + 1;
    netcap_proto::put_delimited(&mut file, &deep);
    assert!(small < 200, "the header and one record are a small file ({small} bytes)");
    let f = records.join("Node.ncap");
    std::fs::write(&f, &file).expect("write record file");
    let json = dump(&f, &[]);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(lines[0], format!(r#"{{"name":"deep","a":null,"b":null,"kids":[],"timestamp":{T0}}}"#));
    assert!(lines[1].contains("\"…\"") && !lines[1].contains("deep"), "{}", lines[1]);
    assert_eq!(dump(&f, &["--csv"]).lines().count(), 3, "a header and 2 rows");
    assert!(dump(&f, &["--table"]).lines().count() >= 2);
    // Only the first record, as a record file cut after 128 bytes or so would hold.
    std::fs::write(&f, &file[..small]).expect("write record file");
    assert_eq!(dump(&f, &[]).lines().count(), 1);
    let labelled = label(dir.path(), &records);
    assert!(file_names(&labelled).iter().any(|n| n.starts_with("Node")), "{:?}", file_names(&labelled));
}

/// Captures `input` with the `faulty` decoder (and the standard ones) on `workers` workers.
fn faulty_run(input: &Path, out: &Path, workers: &str, extra: &[&str]) -> std::process::Output {
    let plugins = plugin_dir(input.parent().expect("parent"), "faulty");
    let mut args =
        vec!["capture", "-r", s(input), "-o", s(out), "--workers", workers, "--plugins", s(&plugins), "--include"];
    args.push("faulty,UDP");
    args.extend_from_slice(extra);
    netcap(&args)
}

#[test]
fn a_fault_loses_only_its_packets_records_for_any_worker_count() {
    let dir = TempDir::new("faults");
    // Traps (port 6663) on two neighbouring packets (one batch): two faults, below the limit.
    let n = 3000;
    let input = udp_capture(dir.path(), n, &[(700, 6663), (701, 6663)]);
    let mut outputs = Vec::new();
    for w in ["1", "2", "4"] {
        let out = dir.path().join(format!("w{w}"));
        let o = faulty_run(&input, &out, w, &[]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert!(e.contains("decoder faults: 2") && e.contains("faulty: trap"), "{e}");
        assert!(e.contains("first: packet 700: "), "the first fault names its packet: {e}");
        assert!(!e.contains("disabled"), "{e}");
        let recs = records::<netcap_proto::v1::Udp>(&out, "Faulty");
        assert_eq!(recs.len(), n as usize - 2, "workers {w}: only the two faulting packets' records are lost");
        assert!(recs.iter().all(|r| r.dst_port == 1000));
        outputs.push((file_bytes(&out.join("Faulty.ncap.zst")), file_bytes(&out.join("UDP.ncap.zst"))));
    }
    assert!(outputs.iter().all(|o| *o == outputs[0]), "identical output for 1, 2 and 4 workers");
}

#[test]
fn the_fault_limit_counts_per_run_in_packet_order() {
    let dir = TempDir::new("fault-limit");
    let n = 3000;
    // Five faults in packet order 100, 900, 1500, 2000, 2500: disabled at the third (1500).
    let input = udp_capture(dir.path(), n, &[(2000, 6663), (100, 6663), (2500, 6663), (900, 6663), (1500, 6663)]);
    let mut outputs = Vec::new();
    for w in ["1", "2", "4"] {
        let out = dir.path().join(format!("w{w}"));
        let o = faulty_run(&input, &out, w, &[]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert!(e.contains("decoder faults: 3"), "workers {w}: {e}");
        assert!(e.contains("decoder faulty was disabled after repeated faults"), "{e}");
        let recs = records::<netcap_proto::v1::Udp>(&out, "Faulty");
        // Packets 0..1500 without 100 and 900.
        assert_eq!(recs.len(), 1500 - 2, "workers {w}");
        outputs.push(file_bytes(&out.join("Faulty.ncap.zst")));
    }
    assert!(outputs.iter().all(|o| *o == outputs[0]), "identical output for 1, 2 and 4 workers");
}

#[test]
fn a_decoder_that_loops_runs_out_of_fuel_deterministically() {
    let dir = TempDir::new("fuel");
    let input = udp_capture(dir.path(), 40, &[(10, 6661)]);
    let mut outputs = Vec::new();
    for w in ["1", "2"] {
        let out = dir.path().join(format!("w{w}"));
        // A small budget keeps the test short; the wall-clock net stays at its default (20 s).
        let o = faulty_run(&input, &out, w, &["--decoder-fuel", "20000000"]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert!(e.contains("decoder faults: 1") && e.contains("faulty: fuel exhausted"), "{e}");
        assert!(!e.contains("wall-clock"), "{e}");
        assert!(e.contains("first: packet 10: "), "{e}");
        assert_eq!(records::<netcap_proto::v1::Udp>(&out, "Faulty").len(), 39);
        outputs.push(file_bytes(&out.join("Faulty.ncap.zst")));
    }
    assert_eq!(outputs[0], outputs[1]);
}

/// A bounded busy loop on every core until `stop` is set (at most 10 minutes).
fn busy(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (0..cores)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && started.elapsed() < std::time::Duration::from_secs(600)
                {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                }
            })
        })
        .collect()
}

#[test]
fn a_syn_flood_gives_identical_profiles_under_load() {
    let dir = TempDir::new("synflood");
    let n: u32 = 200_000;
    let packets: Vec<(i64, Vec<u8>)> = (0..n)
        .map(|i| {
            let mut v = Vec::new();
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([11, (i >> 16) as u8, (i >> 8) as u8, i as u8], [10, 9, 9, 9], 64)
                .tcp(1024 + (i % 60000) as u16, 80, i, 1024)
                .syn()
                .write(&mut v, &[])
                .expect("syn");
            (T0 + i64::from(i) * 1000, v)
        })
        .collect();
    let input = dir.path().join("syn.pcap");
    write_pcap(&input, LINKTYPE_ETHERNET, false, &packets).expect("write pcap");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = busy(stop.clone());
    let mut outputs = Vec::new();
    for run in 0..5 {
        let out = dir.path().join(format!("run{run}"));
        let o = netcap(&["capture", "-r", s(&input), "-o", s(&out), "--include", "IPProfile", "--workers", "2"]);
        if o.status.code() != Some(0) {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            panic!("run {run}: {}", stderr(&o));
        }
        outputs.push(file_bytes(&out.join("IPProfile.ncap.zst")));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in load {
        let _ = h.join();
    }
    let profiles = records::<netcap_proto::v1::IpProfile>(&dir.path().join("run0"), "IPProfile");
    assert_eq!(profiles.len(), n as usize + 1, "every source and the target");
    assert!(outputs.iter().all(|o| *o == outputs[0]), "identical output in 5 runs under load");
}
