//! The command line: exit codes (0 ok, 1 partial, 2 fatal), one-line messages for bad input,
//! output formats, and `dump`.

use netcap_tests::pcap::{LINKTYPE_ETHERNET, pcap_bytes, sample_packets};
use netcap_tests::{TempDir, capture, file_names, netcap, workspace_root};
use std::path::PathBuf;

fn sample() -> PathBuf {
    workspace_root().join("tests/data/synth/sample.pcap")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn missing_file_is_one_line_and_exit_2() {
    let out = TempDir::new("missing");
    let o = capture(&out.path().join("nope.pcap"), out.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("netcap: cannot open") && e.contains("nope.pcap"), "{e}");
}

#[test]
fn unknown_flag_and_missing_input_exit_2() {
    let o = netcap(&["capture", "-r", "x.pcap", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--no-such-flag"));
    let o = netcap(&["capture"]);
    assert_eq!(o.status.code(), Some(2));
    let o = netcap(&["capture", "-r", "x.pcap", "--workers", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn not_a_capture_file_exit_2() {
    let out = TempDir::new("notcap");
    let f = out.path().join("text.pcap");
    std::fs::write(&f, b"this is not a capture file at all\n").unwrap();
    let o = capture(&f, out.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not a pcap or pcapng file"), "{}", stderr(&o));
}

#[test]
fn truncated_capture_gives_partial_output_and_exit_1() {
    let out = TempDir::new("trunc");
    let packets = sample_packets();
    let full = pcap_bytes(LINKTYPE_ETHERNET, false, &packets);
    // Cut inside the last packet: every packet before it must still be decoded.
    let f = out.path().join("cut.pcap");
    std::fs::write(&f, &full[..full.len() - 10]).unwrap();
    let o = netcap(&["capture", "-r", f.to_str().unwrap(), "-o", out.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    let eth: Vec<netcap_proto::v1::Ethernet> = netcap_tests::records(out.path(), "Ethernet");
    assert_eq!(eth.len(), packets.len() - 1);
}

#[test]
fn unknown_record_type_in_include_exit_2() {
    let out = TempDir::new("include");
    let o = capture(&sample(), out.path(), &["--include", "TCP,Bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("\"Bogus\"") && e.contains("TCP"), "{e}");
}

#[test]
fn include_and_exclude_select_files() {
    let out = TempDir::new("sel");
    let o = capture(&sample(), out.path(), &["--include", "TCP,UDP,IPv4", "--exclude", "IPv4"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(file_names(out.path()), vec!["TCP.ncap.zst", "UDP.ncap.zst"]);
}

#[test]
fn types_without_records_leave_no_file() {
    let out = TempDir::new("empty");
    // One frame of the local experimental EtherType 0x88b5: of the layer records only Ethernet
    // exists (the stateful decoders, flow and profile, describe every frame).
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x88, 0xb5]);
    frame.extend_from_slice(&[0; 46]);
    let f = out.path().join("experimental.pcap");
    std::fs::write(&f, pcap_bytes(LINKTYPE_ETHERNET, false, &[(1_600_000_000_000_000_000, frame)])).unwrap();
    let dir = out.path().join("o");
    // (The service decoder reads Connection records: they are produced for it, but not written.)
    let o = capture(&f, &dir, &["--exclude", "flow,profile"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(file_names(&dir), vec!["Ethernet.ncap.zst"]);
}

#[test]
fn compressions_and_dump_modes_agree() {
    let base = TempDir::new("comp");
    let mut jsons = Vec::new();
    for (c, name) in [("zstd", "TCP.ncap.zst"), ("gzip", "TCP.ncap.gz"), ("none", "TCP.ncap")] {
        let dir = base.path().join(c);
        let o = capture(&sample(), &dir, &["--compression", c, "--include", "TCP"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(file_names(&dir), vec![name]);
        let d = netcap(&["dump", "-r", dir.join(name).to_str().unwrap()]);
        assert_eq!(d.status.code(), Some(0), "{}", stderr(&d));
        jsons.push(stdout(&d));
    }
    assert_eq!(jsons[0], jsons[1]);
    assert_eq!(jsons[0], jsons[2]);
    let lines: Vec<serde_json::Value> = jsons[0].lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["dst_port"], 80);
    assert_eq!(lines[0]["src_ip"], "192.0.2.10");
    assert_eq!(lines[0]["timestamp"], serde_json::json!(1_600_000_000_020_000_000i64));

    let f = base.path().join("zstd/TCP.ncap.zst");
    let f = f.to_str().unwrap();
    let fields = stdout(&netcap(&["dump", "-r", f, "--fields"]));
    assert!(fields.starts_with("timestamp,src_port,dst_port,seq_num,ack_num,"), "{fields}");
    let csv = stdout(&netcap(&["dump", "-r", f, "--csv", "--select", "src_port,dst_port,syn"]));
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("src_port,dst_port,syn"));
    assert_eq!(rows.next(), Some("49152,80,true"));
    assert_eq!(rows.count(), 9);
    let table = stdout(&netcap(&["dump", "-r", f, "--table", "--select", "seq_num,ack"]));
    assert!(table.starts_with("seq_num"), "{table}");
    assert!(table.trim_end().ends_with("10 records."), "{table}");
    let header = stdout(&netcap(&["dump", "-r", f, "--header"]));
    assert!(header.contains("record type:     TCP") && header.contains("decoder:         l2l4"), "{header}");
    let bad = netcap(&["dump", "-r", f, "--select", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unknown field \"nope\""), "{}", stderr(&bad));
}

#[test]
fn csv_and_json_capture_output() {
    let base = TempDir::new("csvjson");
    let csv_dir = base.path().join("csv");
    let o = capture(&sample(), &csv_dir, &["--csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(file_names(&csv_dir).contains(&"TCP.csv".to_string()));
    let text = std::fs::read_to_string(csv_dir.join("TCP.csv")).unwrap();
    let mut rd = text.lines();
    let header = rd.next().unwrap();
    let ncols = header.split(',').count();
    // Every row parses to exactly as many cells as the header (cells with commas are quoted).
    let mut r = csv_rows(&text);
    assert_eq!(r.remove(0).len(), ncols);
    assert_eq!(r.len(), 10);
    assert!(r.iter().all(|row| row.len() == ncols));

    let json_dir = base.path().join("json");
    let o = capture(&sample(), &json_dir, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(json_dir.join("UDP.json")).unwrap();
    let v: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["dst_port"], 53);
}

/// A minimal RFC 4180 reader for the check above.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}

#[test]
fn dump_of_a_cut_record_file_prints_what_is_complete_and_exits_1() {
    let base = TempDir::new("dumpcut");
    let o = capture(&sample(), base.path(), &["--compression", "none", "--include", "TCP"]);
    assert_eq!(o.status.code(), Some(0));
    let full = std::fs::read(base.path().join("TCP.ncap")).unwrap();
    let cut = base.path().join("cut.ncap");
    std::fs::write(&cut, &full[..full.len() - 5]).unwrap();
    let d = netcap(&["dump", "-r", cut.to_str().unwrap()]);
    assert_eq!(d.status.code(), Some(1));
    assert_eq!(stdout(&d).lines().count(), 9);
    assert!(stderr(&d).contains("cut short after 9 records"), "{}", stderr(&d));
    let missing = netcap(&["dump", "-r", base.path().join("none.ncap").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    let sample_as_records = netcap(&["dump", "-r", sample().to_str().unwrap()]);
    assert_eq!(sample_as_records.status.code(), Some(2));
    assert!(stderr(&sample_as_records).contains("not a netcap record file"), "{}", stderr(&sample_as_records));
}

#[test]
fn decoders_lists_record_types_and_fields() {
    let o = netcap(&["decoders"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.lines().any(|l| l.starts_with("l2l4 ")), "{s}");
    for t in [
        "Ethernet (netcap.v1.Ethernet): timestamp, src_mac",
        "TCP (netcap.v1.TCP): timestamp, src_port",
        "UDP",
        "IPv4",
        "IPv6",
    ] {
        assert!(s.contains(t), "{t} missing in {s}");
    }
}

/// A good TCP packet, an unknown EtherType, a TCP header cut short (a dissection error) and an
/// IPv4 total length beyond the packet (an error the l2l4 decoder reports).
fn unknown_and_broken_packets() -> Vec<(i64, Vec<u8>)> {
    let t0: i64 = 1_600_000_000_000_000_000;
    let mut good = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .tcp(40000, 80, 1, 1024)
        .write(&mut good, b"hello")
        .unwrap();
    let mut unknown = good[..14].to_vec();
    unknown[12..14].copy_from_slice(&[0x88, 0xb5]); // IEEE 802 local experimental EtherType
    unknown.extend_from_slice(&[0; 46]);
    let cut = good[..14 + 20 + 10].to_vec();
    let mut long = good.clone();
    long[16..18].copy_from_slice(&400u16.to_be_bytes());
    vec![(t0, good), (t0 + 1_000, unknown), (t0 + 2_000, cut), (t0 + 3_000, long)]
}

#[test]
fn unknown_and_error_packets_are_counted_and_written_to_pcaps() {
    let dir = TempDir::new("unknown-pcap");
    let input = dir.path().join("in.pcap");
    std::fs::write(&input, pcap_bytes(LINKTYPE_ETHERNET, true, &unknown_and_broken_packets())).unwrap();
    let out = dir.path().join("out");
    let o = netcap(&[
        "capture",
        "-r",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--unknown-pcap",
        "--errors-pcap",
        "--workers",
        "2",
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("unknown packets: 1"), "{e}");
    assert!(e.contains("no decoder for the network layer"), "{e}");
    assert!(e.contains("tcp: header truncated"), "{e}");
    assert!(e.contains("l2l4: ipv4: total length beyond packet"), "{e}");
    assert!(e.contains("wrote 1 packets to") && e.contains("unknown.pcap"), "{e}");
    assert!(e.contains("wrote 2 packets to") && e.contains("errors.pcap"), "{e}");
    // The files are ordinary pcaps with the input's link type and the packets' own bytes.
    let packets = unknown_and_broken_packets();
    let unknown = std::fs::read(out.join("unknown.pcap")).unwrap();
    assert_eq!(&unknown[20..24], &LINKTYPE_ETHERNET.to_le_bytes());
    assert!(unknown.ends_with(&packets[1].1));
    let errors = std::fs::read(out.join("errors.pcap")).unwrap();
    assert_eq!(errors.len(), 24 + 16 + packets[2].1.len() + 16 + packets[3].1.len());
    assert!(errors.ends_with(&packets[3].1), "input order");
    if netcap_tests::have_tshark() {
        let rows = netcap_tests::tshark_fields(&out.join("errors.pcap"), &["frame.time_epoch", "ip.len"], &[])
            .expect("tshark reads errors.pcap");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][1], "400");
        assert_eq!(netcap_tests::parse_ns(&rows[0][0]), Some(packets[2].0));
    }
    // Without the flags no pcap is written, and a rerun removes the previous ones.
    let o = netcap(&["capture", "-r", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!out.join("unknown.pcap").exists() && !out.join("errors.pcap").exists());
}

#[test]
fn decoder_table_in_docs_is_current() {
    let o = netcap(&["decoders", "--markdown"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = std::fs::read_to_string(workspace_root().join("docs/decoders.md")).unwrap_or_default();
    assert!(doc == stdout(&o), "docs/decoders.md is out of date: run `cargo xtask docs`");
}

#[test]
fn bpf_filter_on_a_file() {
    let out = TempDir::new("bpf");
    let o = capture(&sample(), out.path(), &["--bpf", "udp"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let eth: Vec<netcap_proto::v1::Ethernet> = netcap_tests::records(out.path(), "Ethernet");
    assert_eq!(eth.len(), 3, "2 UDP over IPv4 (DNS) and 1 over IPv6, as `tcpdump -r sample.pcap udp` counts");
    assert!(!file_names(out.path()).contains(&"TCP.ncap.zst".to_string()));
    let bad = capture(&sample(), out.path(), &["--bpf", "udp and and"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("invalid BPF filter"), "{}", stderr(&bad));
}
