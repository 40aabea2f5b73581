//! `netcap label` end to end.
//!
//! The real Suricata pair (`../shared/pcaps/labels/`: suricata-verify's http2 capture and the
//! fast.log Suricata writes for it): each alert's packet is found with tshark by its UTC time
//! (`-t ud`) and its addresses and ports, independently of our parsing and matching; then every
//! labelled record of that packet must carry exactly the alerts of that packet, every other
//! record `normal`, and no alert may be left unmatched. The same alerts as eve.json (written
//! here, with a +02:00 offset) must land on the same packets.
//!
//! Synthesized captures and alert files: a fast.log in local time (+01:00 and Europe/Berlin),
//! duplicate alerts on one packet (default, `--collect`, `--strict`), excluded classifications,
//! an alert that matches nothing, ICMP, eve.json with offsets, attack windows (our format and the
//! Go netcap's), and Suricata itself (missing, and a stand-in script that checks the call).

use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::{TempDir, capture, corpus, have_tshark, netcap, netcap_cmd, parse_ns, tshark_fields};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A labelled CSV: header and rows (the last column is `label`).
fn read_labelled(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r.headers().expect("header").iter().map(str::to_string).collect();
    assert_eq!(header.last().map(String::as_str), Some("label"), "{}", path.display());
    let rows = r.records().map(|x| x.expect("row").iter().map(str::to_string).collect()).collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// The label cell as a set (`a | b` → {a, b}); `normal` → {}.
fn label_set(cell: &str) -> BTreeSet<String> {
    if cell == "normal" { BTreeSet::new() } else { cell.split(" | ").map(str::to_string).collect() }
}

/// One line of fast.log, read by this test alone: `time` as tshark prints UTC times
/// (`2014-08-02 10:50:25.823699`), the rule id, the endpoints.
struct FastAlert {
    time: String,
    rule: String,
    src: IpAddr,
    sp: u16,
    dst: IpAddr,
    dp: u16,
}

fn read_fast_log(path: &Path) -> Vec<FastAlert> {
    let text = std::fs::read_to_string(path).expect("fast.log");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // MM/DD/YYYY-HH:MM:SS.uuuuuu
            let (mo, d, y, hms) = (&l[0..2], &l[3..5], &l[6..10], &l[11..26]);
            let rule = l[l.find("] [").unwrap() + 3..].split(']').next().unwrap().trim_start_matches('[').to_string();
            let rule = rule.rsplit('[').next().unwrap().to_string();
            let eps = l.rsplit('}').next().unwrap().trim();
            let (a, b) = eps.split_once(" -> ").unwrap();
            let ep = |x: &str| {
                let (ip, port) = x.rsplit_once(':').unwrap();
                (ip.parse::<IpAddr>().unwrap(), port.parse::<u16>().unwrap())
            };
            let ((src, sp), (dst, dp)) = (ep(a), ep(b));
            FastAlert { time: format!("{y}-{mo}-{d} {hms}"), rule, src, sp, dst, dp }
        })
        .collect()
}

/// tshark's view of each frame: UTC time text, ns time, IPv6 endpoints, tcp.stream.
struct Frame {
    time: String,
    ns: i64,
    src: IpAddr,
    sp: u16,
    dst: IpAddr,
    dp: u16,
}

fn tshark_frames(pcap: &Path) -> Vec<Frame> {
    let rows = tshark_fields(
        pcap,
        &["_ws.col.Time", "frame.time_epoch", "ipv6.src", "tcp.srcport", "ipv6.dst", "tcp.dstport"],
        &["-t", "ud"],
    )
    .expect("tshark reads the capture");
    rows.iter()
        .map(|r| Frame {
            time: r[0].clone(),
            ns: parse_ns(&r[1]).expect("frame.time_epoch"),
            src: r[2].parse().expect("ipv6.src"),
            sp: r[3].parse().expect("tcp.srcport"),
            dst: r[4].parse().expect("ipv6.dst"),
            dp: r[5].parse().expect("tcp.dstport"),
        })
        .collect()
}

/// Per alert, the index of its frame: same UTC microsecond, same source and destination.
fn alert_frames(alerts: &[FastAlert], frames: &[Frame]) -> Vec<usize> {
    alerts
        .iter()
        .map(|a| {
            let hits: Vec<usize> = (0..frames.len())
                .filter(|&i| {
                    let f = &frames[i];
                    f.time == a.time && f.src == a.src && f.sp == a.sp && f.dst == a.dst && f.dp == a.dp
                })
                .collect();
            assert_eq!(hits.len(), 1, "alert {} at {} has frames {hits:?}", a.rule, a.time);
            hits[0]
        })
        .collect()
}

struct RealPair {
    pcap: PathBuf,
    fast_log: PathBuf,
    alerts: Vec<FastAlert>,
    frames: Vec<Frame>,
    /// Per alert, its frame.
    frame_of: Vec<usize>,
}

fn real_pair() -> Option<RealPair> {
    let dir = corpus()?.join("labels");
    if !have_tshark() {
        return None;
    }
    let pcap = dir.join("suricata-verify_http2-keywords.pcap");
    let fast_log = dir.join("suricata-verify_http2-files/fast.log");
    let alerts = read_fast_log(&fast_log);
    assert_eq!(alerts.len(), 28);
    let frames = tshark_frames(&pcap);
    assert_eq!(frames.len(), 56);
    let frame_of = alert_frames(&alerts, &frames);
    Some(RealPair { pcap, fast_log, alerts, frames, frame_of })
}

/// Checks every packet record type of `dir` against `expected` (frame ns → labels).
fn check_packet_types(dir: &Path, expected: &BTreeMap<i64, BTreeSet<String>>, frames: usize) {
    for t in ["Ethernet", "IPv6", "TCP"] {
        let (h, rows) = read_labelled(&dir.join(format!("{t}_labeled.csv")));
        assert_eq!(rows.len(), frames, "{t}: one record per frame");
        let ts = col(&h, "timestamp");
        for r in &rows {
            let ns: i64 = r[ts].parse().unwrap();
            let want = expected.get(&ns).cloned().unwrap_or_default();
            assert_eq!(label_set(r.last().unwrap()), want, "{t} record at {ns}");
        }
    }
}

#[test]
fn real_suricata_alerts_land_on_their_packets_and_connection() {
    let Some(p) = real_pair() else { return };
    let out = TempDir::new("label-real");
    let o = capture(&p.pcap, out.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Expected from tshark: the rule ids of each frame's alerts.
    let mut expected: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for (a, &f) in p.alerts.iter().zip(&p.frame_of) {
        expected.entry(p.frames[f].ns).or_default().insert(a.rule.clone());
    }
    assert_eq!(expected.len(), 9, "the 28 alerts are on 9 packets");

    let o = netcap(&["label", "--records", s(out.path()), "--alerts", s(&p.fast_log), "--tz", "UTC", "--collect"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("alerts: 28 read, 0 excluded, 28 matched, 0 unmatched"), "{e}");
    check_packet_types(out.path(), &expected, p.frames.len());

    // Without --collect: the first alert of the packet (all have priority 3).
    let o = netcap(&["label", "--records", s(out.path()), "--alerts", s(&p.fast_log), "--tz", "UTC"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (h, rows) = read_labelled(&out.path().join("TCP_labeled.csv"));
    let ts = col(&h, "timestamp");
    for r in &rows {
        let ns: i64 = r[ts].parse().unwrap();
        let first =
            p.alerts.iter().zip(&p.frame_of).find(|(_, f)| p.frames[**f].ns == ns).map(|(a, _)| a.rule.as_str());
        assert_eq!(r.last().map(String::as_str), Some(first.unwrap_or("normal")), "TCP record at {ns}");
    }

    // The connection: every alert also lands on the Connection record of its packet.
    assert!(out.path().join("Connection.ncap.zst").exists(), "the flow decoder wrote no Connection records");
    let o = netcap(&["label", "--records", s(out.path()), "--alerts", s(&p.fast_log), "--tz", "UTC", "--collect"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (h, rows) = read_labelled(&out.path().join("Connection_labeled.csv"));
    let (first, last) = (col(&h, "timestamp_first"), col(&h, "timestamp_last"));
    let (si, di, sp, dp) = (col(&h, "src_ip"), col(&h, "dst_ip"), col(&h, "src_port"), col(&h, "dst_port"));
    let mut covered = 0;
    for r in &rows {
        let (f, l): (i64, i64) = (r[first].parse().unwrap(), r[last].parse().unwrap());
        let (s_ip, d_ip): (IpAddr, IpAddr) = (r[si].parse().unwrap(), r[di].parse().unwrap());
        let (s_p, d_p): (u16, u16) = (r[sp].parse().unwrap(), r[dp].parse().unwrap());
        let mut want = BTreeSet::new();
        for (a, &fi) in p.alerts.iter().zip(&p.frame_of) {
            let fr = &p.frames[fi];
            let ends = (fr.src == s_ip && fr.sp == s_p && fr.dst == d_ip && fr.dp == d_p)
                || (fr.src == d_ip && fr.sp == d_p && fr.dst == s_ip && fr.dp == s_p);
            if ends && fr.ns / 1000 >= f / 1000 && fr.ns / 1000 <= l / 1000 {
                want.insert(a.rule.clone());
                covered += 1;
            }
        }
        assert_eq!(label_set(r.last().unwrap()), want, "connection {r:?}");
    }
    assert_eq!(covered, p.alerts.len(), "every alert lies in a connection");
}

/// The real alerts as eve.json: UTC+02:00 timestamps, compressed IPv6, a category per rule.
#[test]
fn real_alerts_as_eve_json_with_offsets() {
    let Some(p) = real_pair() else { return };
    let out = TempDir::new("label-real-eve");
    let o = capture(&p.pcap, out.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut eve = String::new();
    let mut expected: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for (a, &f) in p.alerts.iter().zip(&p.frame_of) {
        // "2014-08-02 10:50:25.823699" UTC → "2014-08-02T12:50:25.823699+0200".
        let hour: u32 = a.time[11..13].parse().unwrap();
        assert!(hour + 2 < 24);
        let local = format!("{}T{:02}{}+0200", &a.time[..10], hour + 2, &a.time[13..]);
        let sid = a.rule.split(':').nth(1).unwrap();
        eve += &format!(
            r#"{{"timestamp":"{local}","flow_id":7,"event_type":"alert","src_ip":"{}","src_port":{},"dest_ip":"{}","dest_port":{},"proto":"TCP","alert":{{"action":"allowed","gid":1,"signature_id":{sid},"rev":1,"signature":"rule {sid}","category":"Class {sid}","severity":3}}}}"#,
            a.src, a.sp, a.dst, a.dp
        );
        eve.push('\n');
        eve += "{\"timestamp\":\"2014-08-02T12:50:25.000000+0200\",\"event_type\":\"flow\"}\n";
        expected.entry(p.frames[f].ns).or_default().insert(format!("Class {sid}"));
    }
    let file = out.path().join("eve.json");
    std::fs::write(&file, eve).unwrap();
    let o = netcap(&["label", "--records", s(out.path()), "--alerts", s(&file), "--collect", "--tz", "+05:00"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("alerts: 28 read, 0 excluded, 28 matched, 0 unmatched"), "{e}");
    assert!(e.contains("--tz does not apply to eve.json"), "{e}");
    check_packet_types(out.path(), &expected, p.frames.len());
}

// ---- synthesized captures -------------------------------------------------------------------

/// 2021-03-15T22:30:00.000001500Z: 23:30 in +01:00 (and in Berlin, before the DST switch).
const T0: i64 = 1_615_847_400_000_001_500;
const CLIENT: [u8; 4] = [192, 0, 2, 10];
const SERVER: [u8; 4] = [203, 0, 113, 80];
const DNS: [u8; 4] = [198, 51, 100, 53];

/// p0 TCP SYN client→server; p1 the SYN-ACK 400 ns later (same microsecond); p2 UDP to DNS at
/// +1 ms; p3 an ICMP echo request at +2 ms.
fn synth_packets() -> Vec<(i64, Vec<u8>)> {
    use etherparse::PacketBuilder;
    let (cm, sm) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let mut p = Vec::new();
    let mut v = Vec::new();
    PacketBuilder::ethernet2(cm, sm)
        .ipv4(CLIENT, SERVER, 64)
        .tcp(40000, 80, 1, 64240)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    p.push((T0, std::mem::take(&mut v)));
    PacketBuilder::ethernet2(sm, cm)
        .ipv4(SERVER, CLIENT, 64)
        .tcp(80, 40000, 9, 64240)
        .syn()
        .ack(2)
        .write(&mut v, &[])
        .unwrap();
    p.push((T0 + 400, std::mem::take(&mut v)));
    PacketBuilder::ethernet2(cm, sm).ipv4(CLIENT, DNS, 64).udp(5353, 53).write(&mut v, b"query").unwrap();
    p.push((T0 + 1_000_000, std::mem::take(&mut v)));
    PacketBuilder::ethernet2(cm, sm).ipv4(CLIENT, SERVER, 64).icmpv4_echo_request(1, 1).write(&mut v, b"ping").unwrap();
    p.push((T0 + 2_000_000, v));
    p
}

/// fast.log in +01:00 local time: two alerts on p0 (priorities 2 and 3), one on p2, an ICMP
/// one on p3 (type:code where ports would be), and one that matches no packet (port 9999).
const FAST_LOG: &str = "\
03/15/2021-23:30:00.000001  [**] [1:1000001:1] SCAN SYN to web [**] [Classification: Attempted Information Leak] [Priority: 2] {TCP} 192.0.2.10:40000 -> 203.0.113.80:80
03/15/2021-23:30:00.000001  [**] [1:1000002:1] TCP to web [**] [Classification: Misc activity] [Priority: 3] {TCP} 192.0.2.10:40000 -> 203.0.113.80:80
03/15/2021-23:30:00.001001  [**] [1:1000003:2] DNS to odd resolver [**] [Classification: Potential Corporate Privacy Violation] [Priority: 1] {UDP} 192.0.2.10:5353 -> 198.51.100.53:53
03/15/2021-23:30:00.002001  [**] [1:1000004:1] PING [**] [Classification: Misc activity] [Priority: 3] {ICMP} 192.0.2.10:8 -> 203.0.113.80:0
03/15/2021-23:30:00.002001  [**] [1:1000005:1] nothing there [**] [Classification: Unmatched Thing] [Priority: 1] {TCP} 192.0.2.10:9999 -> 203.0.113.80:80
";

struct Synth {
    dir: TempDir,
    pcap: PathBuf,
    records: PathBuf,
}

fn synth() -> Synth {
    let dir = TempDir::new("label-synth");
    let pcap = dir.path().join("synth.pcap");
    write_pcap(&pcap, LINKTYPE_ETHERNET, true, &synth_packets()).unwrap();
    let records = dir.path().join("records");
    let o = capture(&pcap, &records, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.path().join("fast.log"), FAST_LOG).unwrap();
    Synth { dir, pcap, records }
}

/// Labels by record type: the `label` column in record order.
fn labels(dir: &Path, t: &str) -> Vec<String> {
    read_labelled(&dir.join(format!("{t}_labeled.csv"))).1.into_iter().map(|r| r.last().unwrap().clone()).collect()
}

fn run_label(sy: &Synth, out: &str, args: &[&str]) -> (Output, PathBuf) {
    let out = sy.dir.path().join(out);
    let mut a = vec!["label", "--records", s(&sy.records), "-o", s(&out)];
    a.extend_from_slice(args);
    (netcap(&a), out)
}

const RECON: &str = "Attempted Information Leak";
const MISC: &str = "Misc activity";
const PRIVACY: &str = "Potential Corporate Privacy Violation";

#[test]
fn fast_log_in_local_time() {
    let sy = synth();
    let fast = sy.dir.path().join("fast.log");
    for tz in ["+01:00", "Europe/Berlin"] {
        let (o, out) = run_label(&sy, "out", &["--alerts", s(&fast), "--tz", tz, "--verbose"]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{e}");
        // The more severe of the two alerts on p0; the SYN-ACK in the same microsecond is not
        // the alert's packet.
        assert_eq!(labels(&out, "TCP"), [RECON, "normal"], "{tz}");
        assert_eq!(labels(&out, "UDP"), [PRIVACY], "{tz}");
        assert_eq!(labels(&out, "ICMPv4"), [MISC], "{tz}");
        assert_eq!(labels(&out, "IPv4"), [RECON, "normal", PRIVACY, MISC], "{tz}");
        assert_eq!(labels(&out, "Ethernet"), [RECON, "normal", PRIVACY, MISC], "{tz}");
        assert!(e.contains("alerts: 5 read, 0 excluded, 4 matched, 1 unmatched"), "{e}");
        assert!(
            e.contains(
                "line 5: 2021-03-15T22:30:00.002001Z TCP 192.0.2.10:9999 -> 203.0.113.80:80 \"Unmatched Thing\""
            ),
            "{e}"
        );
    }
    // Without --tz the times are read as UTC: an hour off, nothing matches, and it says so.
    let (o, out) = run_label(&sy, "out-utc", &["--alerts", s(&fast)]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("fast.log times are read as UTC"), "{e}");
    assert!(e.contains("alerts: 5 read, 0 excluded, 0 matched, 5 unmatched"), "{e}");
    assert!(e.contains("5 alerts matched no record: a wrong time zone (--tz)"), "{e}");
    assert!(
        e.contains("4 of the 5 unmatched alerts match packets if their times are moved by -1 h: their clock or time zone is 1 h ahead of the capture's"),
        "{e}"
    );
    assert!(labels(&out, "IPv4").iter().all(|l| l == "normal"));
}

#[test]
fn duplicate_alerts_collect_strict_and_exclude() {
    let sy = synth();
    let fast = sy.dir.path().join("fast.log");
    let (o, out) = run_label(&sy, "collect", &["--alerts", s(&fast), "--tz", "+01:00", "--collect"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let both = format!("{RECON} | {MISC}");
    assert_eq!(labels(&out, "TCP"), [both.as_str(), "normal"]);
    assert_eq!(labels(&out, "Ethernet"), [both.as_str(), "normal", PRIVACY, MISC]);

    let (o, out) = run_label(&sy, "strict", &["--alerts", s(&fast), "--tz", "+01:00", "--strict"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("conflicting labels") && e.contains(RECON) && e.contains(MISC), "{e}");
    let written: Vec<_> = std::fs::read_dir(&out).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(written.is_empty(), "nothing written: {written:?}");

    // Excluding one classification removes the conflict (and the ICMP alert's label).
    let (o, out) = run_label(
        &sy,
        "strict-ex",
        &["--alerts", s(&fast), "--tz", "+01:00", "--strict", "--exclude", "misc activity"],
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("alerts: 5 read, 2 excluded, 2 matched, 1 unmatched"), "{e}");
    assert_eq!(labels(&out, "IPv4"), [RECON, "normal", PRIVACY, "normal"]);

    // --description: the signature.
    let (o, out) = run_label(&sy, "descr", &["--alerts", s(&fast), "--tz", "+01:00", "--description"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(labels(&out, "IPv4"), ["SCAN SYN to web", "normal", "DNS to odd resolver", "PING"]);

    // --disable-layers: only the flow record types (Connection, Flow) are labelled.
    let (o, out) = run_label(&sy, "nolayers", &["--alerts", s(&fast), "--tz", "+01:00", "--disable-layers"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!out.join("IPv4_labeled.csv").exists() && !out.join("TCP_labeled.csv").exists());
    let conn = labels(&out, "Connection");
    assert!(!conn.is_empty() && conn.iter().all(|l| l != "normal"), "{conn:?}");
}

#[test]
fn eve_json_offsets() {
    let sy = synth();
    // The same alerts in eve.json, written at -05:00, with other events between them.
    let ev = |t: &str, proto: &str, src: &str, sp: Option<u16>, dst: &str, dp: Option<u16>, class: &str, sev: u8| {
        let ports = match (sp, dp) {
            (Some(a), Some(b)) => format!(r#","src_port":{a},"dest_port":{b}"#),
            _ => String::new(),
        };
        format!(
            r#"{{"timestamp":"2021-03-15T17:30:00.{t}-0500","event_type":"alert","src_ip":"{src}","dest_ip":"{dst}"{ports},"proto":"{proto}","alert":{{"gid":1,"signature_id":1,"rev":1,"signature":"s","category":"{class}","severity":{sev}}}}}"#
        ) + "\n{\"event_type\":\"stats\",\"stats\":{}}\n"
    };
    let text = ev("000001", "TCP", "192.0.2.10", Some(40000), "203.0.113.80", Some(80), RECON, 2)
        + &ev("000001", "TCP", "192.0.2.10", Some(40000), "203.0.113.80", Some(80), MISC, 3)
        + &ev("001001", "UDP", "192.0.2.10", Some(5353), "198.51.100.53", Some(53), PRIVACY, 1)
        + &ev("002001", "ICMP", "192.0.2.10", None, "203.0.113.80", None, MISC, 3);
    let file = sy.dir.path().join("eve.json");
    std::fs::write(&file, text).unwrap();
    let (o, out) = run_label(&sy, "eve", &["--alerts", s(&file)]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("alerts: 4 read, 0 excluded, 4 matched, 0 unmatched"), "{e}");
    assert_eq!(labels(&out, "IPv4"), [RECON, "normal", PRIVACY, MISC]);
}

#[test]
fn attack_windows() {
    let sy = synth();
    // Our format: local times at +01:00; the TCP window names attacker and victim.
    let ours = "tz: +01:00\nattacks:\n  - name: syn-scan\n    start: 2021-03-15 23:30:00\n    end: 2021-03-15 23:30:00.0015\n    attackers: [192.0.2.10]\n    victims: [203.0.113.0/24]\n    proto: tcp\n    category: recon\n  - name: dns\n    start: 2021-03-15T22:30:00Z\n    end: 2021-03-15T22:31:00Z\n    ips: [198.51.100.53]\n    category: exfiltration\n";
    let f = sy.dir.path().join("ours.yaml");
    std::fs::write(&f, ours).unwrap();
    let (o, out) = run_label(&sy, "win", &["--windows", s(&f), "--collect"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    // p0 and p1 (either direction) are TCP in the first window; p2 is traffic of the DNS host;
    // p3 is ICMP, outside the TCP window's protocol.
    assert_eq!(labels(&out, "IPv4"), ["recon", "recon", "exfiltration", "normal"]);
    assert_eq!(labels(&out, "TCP"), ["recon", "recon"]);
    assert_eq!(labels(&out, "Ethernet"), ["normal"; 4], "Ethernet records have no IP addresses");

    // The Go netcap label manager's format (Go layouts), same windows.
    let go = "location: \"Europe/Berlin\"\ntimeFormat: \"15:04:05.000\"\ndateFormat: \"2006/01/02\"\nattacks:\n  - name: syn-scan\n    date: 2021/03/15\n    start: 23:30:00.000\n    end: 23:30:00.001\n    attackers:\n      - 192.0.2.10\n    victims:\n      - 203.0.113.80\n    proto: TCP\n    category: recon\n    mitre: T1046\n";
    let f = sy.dir.path().join("go.yml");
    std::fs::write(&f, go).unwrap();
    let (o, out) = run_label(&sy, "win-go", &["--windows", s(&f)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(labels(&out, "IPv4"), ["recon", "recon", "normal", "normal"]);

    // Alerts and windows together, --exclude by window category.
    let fast = sy.dir.path().join("fast.log");
    let (o, out) = run_label(
        &sy,
        "both",
        &["--windows", s(&f), "--alerts", s(&fast), "--tz", "+01:00", "--collect", "--exclude", "Misc activity"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(labels(&out, "IPv4"), [format!("{RECON} | recon").as_str(), "recon", PRIVACY, "normal"]);
}

#[test]
fn suricata_missing_and_run() {
    let sy = synth();
    let empty = TempDir::new("label-nopath");
    let o = netcap_cmd()
        .env("PATH", empty.path())
        .args(["label", "-r", s(&sy.pcap), "--records", s(&sy.records)])
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("suricata is not installed"), "{e}");

    // A stand-in `suricata` that records its arguments and writes our fast.log where -l says.
    let bin = TempDir::new("label-fake-suricata");
    let script = bin.path().join("suricata");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"$@\" > \"$ARGS_FILE\"\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = -l ]; then dir=\"$2\"; fi\n  shift\ndone\ncp \"$FAST_LOG\" \"$dir/fast.log\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args_file = sy.dir.path().join("args");
    let out = sy.dir.path().join("suri-out");
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let o = netcap_cmd()
        .env("PATH", path)
        .env("ARGS_FILE", &args_file)
        .env("FAST_LOG", sy.dir.path().join("fast.log"))
        .args(["label", "-r", s(&sy.pcap), "--records", s(&sy.records), "-o", s(&out), "--tz", "+01:00"])
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(args.trim(), format!("-k none -r {} -l {}", s(&sy.pcap), s(&out.join("suricata"))));
    assert_eq!(labels(&out, "IPv4"), [RECON, "normal", PRIVACY, MISC]);
}

#[test]
fn bad_inputs_are_one_line_exit_2() {
    let sy = synth();
    let o = netcap(&["label", "--records", s(&sy.records)]);
    assert_eq!(o.status.code(), Some(2));
    let f = sy.dir.path().join("fast.log");
    let o = netcap(&["label", "--records", s(&sy.records), "--alerts", s(&f), "--tz", "Mars/Olympus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown time zone \"Mars/Olympus\""), "{}", stderr(&o));
    let junk = sy.dir.path().join("junk.log");
    std::fs::write(&junk, "hello\nworld\n").unwrap();
    let o = netcap(&["label", "--records", s(&sy.records), "--alerts", s(&junk)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("holds no alert line"), "{}", stderr(&o));
    let o = netcap(&["label", "--records", s(sy.dir.path()), "--alerts", s(&f)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no record files"), "{}", stderr(&o));
    // A partly unreadable alert file labels what it can and exits 1.
    let mixed = sy.dir.path().join("mixed.log");
    std::fs::write(&mixed, format!("{FAST_LOG}garbage line\n")).unwrap();
    let (o, _) = run_label(&sy, "mixed", &["--alerts", s(&mixed), "--tz", "+01:00"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 alert lines could not be read"), "{}", stderr(&o));
}
