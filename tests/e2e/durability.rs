//! Nothing lost, nothing crashes: signals (INT, TERM, HUP, KILL) on live and file captures, the
//! output directory's lock and manifest, full disks and unwritable output, damaged record files,
//! and `label` under a signal or with an empty alert file.
//!
//! No assertion depends on timing. A file capture is fed through a FIFO the test keeps open, so
//! it cannot finish before the signal; the test waits for observable states (a file exists, a
//! file holds N records) with a generous deadline, never for a duration. Live tests need
//! CAP_NET_RAW and the tmpfs tests need root; both skip with a notice otherwise.

use netcap_tests::pcap::{LINKTYPE_ETHERNET, pcap_bytes};
use netcap_tests::{TempDir, capture, file_names, netcap, netcap_cmd, workspace_root};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const T0: i64 = 1_600_000_000_000_000_000;
/// How long a test waits for a state before failing (a hang, not a slow machine).
const DEADLINE: Duration = Duration::from_secs(120);

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn sample() -> PathBuf {
    workspace_root().join("tests/data/synth/sample.pcap")
}

/// Polls `cond` until it holds; panics after `DEADLINE` naming `what`.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting until {what}");
        std::thread::park_timeout(Duration::from_millis(20));
    }
}

/// A UDP packet (to port 9999, which no decoder asks for) carrying `i`.
fn udp_packet(i: u32) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 0, 2, 1], [198, 51, 100, (i % 200) as u8 + 1], 64)
        .udp(40_000 + (i % 1000) as u16, 9999)
        .write(&mut v, &i.to_be_bytes())
        .expect("build udp");
    v
}

/// The pcap records (without file header) of packets `from..from + n`.
fn pcap_records(from: u32, n: u32) -> Vec<u8> {
    let packets: Vec<(i64, Vec<u8>)> =
        (from..from + n).map(|i| (T0 + i64::from(i) * 1_000_000, udp_packet(i))).collect();
    pcap_bytes(LINKTYPE_ETHERNET, true, &packets)[24..].to_vec()
}

fn pcap_header() -> Vec<u8> {
    pcap_bytes(LINKTYPE_ETHERNET, true, &[])
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", p.display());
}

fn kill(child: &Child, signal: &str) {
    let st = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().expect("run kill");
    assert!(st.success(), "kill -{signal}");
}

/// `netcap dump --csv --select FIELD` of `file`: exit code and the column's values.
fn dump_column(file: &Path, field: &str) -> (Option<i32>, Vec<String>) {
    let o = netcap(&["dump", "-r", s(file), "--csv", "--select", field]);
    let rows = String::from_utf8_lossy(&o.stdout).lines().skip(1).map(str::to_string).collect();
    (o.status.code(), rows)
}

/// The packet count of a capture summary's first line (`netcap 0.1.0: 2,048 packets (...`).
fn summary_packets(err: &str) -> u64 {
    let line = err.lines().find(|l| l.starts_with("netcap ") && l.contains(" packets (")).expect("summary line");
    let n = line.split(": ").nth(1).and_then(|r| r.split(' ').next()).expect("packet count");
    n.replace(',', "").parse().expect("a number")
}

/// A capture reading a FIFO the test writes: it cannot end before the test closes the FIFO.
struct FifoCapture {
    child: Child,
    fifo: std::fs::File,
}

impl FifoCapture {
    /// Starts `netcap capture -r FIFO -o out ARGS` and writes the pcap file header.
    fn start(dir: &Path, out: &Path, args: &[&str]) -> Self {
        let path = dir.join(format!("in-{}.pcap", out.file_name().and_then(|n| n.to_str()).unwrap_or("x")));
        mkfifo(&path);
        let child = netcap_cmd()
            .args(["capture", "-r", s(&path), "-o", s(out)])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netcap");
        // Opening blocks until netcap opens the FIFO for reading.
        let mut fifo = std::fs::OpenOptions::new().write(true).open(&path).expect("open the FIFO");
        fifo.write_all(&pcap_header()).expect("write the pcap header");
        FifoCapture { child, fifo }
    }

    /// Writes packets `from..from + n`; false when netcap no longer reads (it stopped).
    fn send(&mut self, from: u32, n: u32) -> bool {
        self.fifo.write_all(&pcap_records(from, n)).is_ok()
    }

    /// Closes the FIFO (end of input) and waits for netcap.
    fn finish(self) -> Output {
        drop(self.fifo);
        self.child.wait_with_output().expect("wait for netcap")
    }
}

#[test]
fn file_capture_stopped_by_sigterm_finishes_its_files_and_exits_1() {
    let dir = TempDir::new("sigterm-file");
    let out = dir.path().join("out");
    let mut cap = FifoCapture::start(dir.path(), &out, &["--workers", "1", "--include", "UDP"]);
    // More than one epoch (512 packets with one worker), so the writer creates the file.
    assert!(cap.send(0, 2000));
    wait_until("netcap wrote its first records", || out.join("UDP.ncap.zst").exists());
    kill(&cap.child, "TERM");
    // The dispatcher may be blocked reading the FIFO: more packets wake it up, until it stops
    // reading (the write then fails: nobody reads the FIFO any more). Bounded: if netcap ignored
    // the signal, it reads everything and exits 0, which fails below.
    let mut next = 2000;
    while next < 2_000_000 && cap.send(next, 100) {
        next += 100;
    }
    let o = cap.finish();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("stopped by a signal after"), "{err}");
    // The file exists once the first epoch (512 packets) was written; how far past it the
    // dispatcher had read when the signal came depends on scheduling.
    let packets = summary_packets(&err);
    assert!(packets >= 512, "{packets}: {err}");
    // Every packet read is in the file, which is complete and readable.
    let (code, rows) = dump_column(&out.join("UDP.ncap.zst"), "dst_port");
    assert_eq!(code, Some(0));
    assert_eq!(rows.len() as u64, packets);
    assert!(rows.iter().all(|r| r == "9999"));
}

/// Waits for `child` to exit after a signal (a bound for a hang, not a timing assertion); kills
/// it and fails if it never does.
fn wait_for_exit(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("poll netcap").is_none() {
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netcap did not exit: {what}");
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect netcap's output")
}

#[test]
fn file_capture_from_a_silent_fifo_stops_on_sigint() {
    let dir = TempDir::new("sigint-fifo");
    // 1. A writer that opened the FIFO and never writes: netcap waits for the capture header.
    // 2. Nobody opened the FIFO: netcap waits in opening it.
    for writer in [true, false] {
        let out = dir.path().join(format!("out-{writer}"));
        let fifo = dir.path().join(format!("in-{writer}.pcap"));
        mkfifo(&fifo);
        let child = netcap_cmd()
            .args(["capture", "-r", s(&fifo), "-o", s(&out), "--workers", "1"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netcap");
        // Either way the signal handler is installed first: netcap opens its input (which lets
        // the writer's open return) after locking the output directory.
        let held = if writer {
            Some(std::fs::OpenOptions::new().write(true).open(&fifo).expect("open the FIFO"))
        } else {
            wait_until("netcap locked its output directory", || out.join(".netcap.lock").exists());
            None
        };
        kill(&child, "INT");
        let o = wait_for_exit(child, &format!("SIGINT on a silent FIFO (writer: {writer})"));
        drop(held);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("stopped by a signal before") && err.contains("capture file header"), "{err}");
    }
    // 3. The header arrived, then silence: the capture ends as a file capture stopped by a signal.
    let out = dir.path().join("out-header");
    let cap = FifoCapture::start(dir.path(), &out, &["--workers", "1"]);
    kill(&cap.child, "INT");
    let FifoCapture { child, fifo } = cap;
    let o = wait_for_exit(child, "SIGINT on a FIFO silent after its header");
    drop(fifo);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("stopped by a signal"), "{err}");
}

#[test]
fn only_files_a_netcap_run_wrote_are_removed() {
    let dir = TempDir::new("cleanup");
    let out = dir.path();
    let mine = [("TCP.csv", "my own table\n"), ("foo.json", "{}\n"), ("unknown.pcap", "not a pcap"), ("notes", "x")];
    for (name, text) in mine {
        std::fs::write(out.join(name), text).unwrap();
    }
    let untouched = || {
        for (name, text) in mine {
            assert_eq!(std::fs::read_to_string(out.join(name)).ok().as_deref(), Some(text), "{name}");
        }
    };
    let o = netcap(&["capture", "-r", s(&sample()), "-o", s(out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    untouched();
    assert!(out.join("TCP.ncap.zst").exists());

    // A second run removes the first run's files, and says which.
    let o = netcap(&["capture", "-r", s(&sample()), "-o", s(out)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let line = err.lines().find(|l| l.contains("removed the files of an earlier run")).expect("a removal line");
    assert!(line.contains("TCP.ncap.zst") && line.contains("UDP.ncap.zst"), "{line}");
    assert!(!line.contains("TCP.csv") && !line.contains("unknown.pcap"), "{line}");
    untouched();

    // A run that would overwrite a user's file is refused before it starts, and removes nothing.
    for (flag, file) in [("--csv", "TCP.csv"), ("--unknown-pcap", "unknown.pcap")] {
        let o = netcap(&["capture", "-r", s(&sample()), "-o", s(out), flag]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(file) && err.contains("was not written by netcap"), "{err}");
        untouched();
        assert!(out.join("TCP.ncap.zst").exists(), "a refused run removes nothing");
    }

    // Record files of a run before manifests existed are recognised by their header.
    std::fs::remove_file(out.join(".netcap.manifest")).unwrap();
    let o = netcap(&["capture", "-r", s(&sample()), "-o", s(out), "--include", "UDP"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("TCP.ncap.zst"), "{err}");
    assert!(!out.join("TCP.ncap.zst").exists());
    untouched();
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Option<Self> {
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs", s(at)]).status().ok()?;
        st.success().then(|| Mount(at.into()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_names_the_incomplete_files_and_exits_1() {
    let dir = TempDir::new("full");
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    if !is_root() {
        eprintln!("notice: skipping the full-disk test: mounting a tmpfs needs root");
        return;
    }
    let Some(_mount) = Mount::tmpfs(&small, "size=128k") else {
        eprintln!("notice: skipping the full-disk test: cannot mount a tmpfs");
        return;
    };
    let input = dir.path().join("in.pcap");
    std::fs::write(&input, [pcap_header(), pcap_records(0, 20_000)].concat()).unwrap();
    let o = netcap(&["capture", "-r", s(&input), "-o", s(&small), "--compression", "none", "--workers", "1"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("output failed:") && err.contains("No space left on device"), "{err}");
    let incomplete = err.lines().find(|l| l.starts_with("incomplete files")).expect("the incomplete files");
    // The records counted for an incomplete file are not all on disk; it is named as such.
    for line in err.lines().filter(|l| l.contains("INCOMPLETE")) {
        let path = line.split_whitespace().nth(3).expect("file column");
        assert!(incomplete.contains(path), "{line} / {incomplete}");
    }
    // Which file meets the full disk first depends on the loaded decoders' record types.
    assert!(err.lines().any(|l| l.contains(".ncap  INCOMPLETE")), "{err}");
}

#[test]
fn dump_reports_damage_once_with_offset_and_good_records() {
    let dir = TempDir::new("damage");
    let o = capture(&sample(), dir.path(), &["--compression", "none", "--include", "TCP"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let raw = std::fs::read(dir.path().join("TCP.ncap")).unwrap();
    // Split into (varint + message) frames; replace the 4th message (the 3rd record) by bytes
    // that are no protobuf message (field 0, wire type 7).
    let mut frames = Vec::new();
    let mut rest = raw.as_slice();
    while !rest.is_empty() {
        let (len, used) = netcap_proto::get_uvarint(rest).unwrap();
        frames.push(&rest[..used + len as usize]);
        rest = &rest[used + len as usize..];
    }
    assert_eq!(frames.len(), 11);
    // Uncompressed, the record stream is the file.
    let offset: usize = frames[..3].iter().map(|f| f.len()).sum();
    let mut bad = frames[..3].concat();
    bad.extend_from_slice(&[2, 0x07, 0x07]);
    bad.extend(frames[4..].concat());
    let f = dir.path().join("bad.ncap");
    std::fs::write(&f, &bad).unwrap();
    let d = netcap(&["dump", "-r", s(&f)]);
    let err = stderr(&d);
    assert_eq!(d.status.code(), Some(1), "{err}");
    assert_eq!(String::from_utf8_lossy(&d.stdout).lines().count(), 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("damaged after 2 records") && err.contains("does not decode"), "{err}");
    assert!(err.contains(&format!("starts at byte {offset} of the record stream")), "{err}");

    // Cut in the middle of the 4th record: 3 good records.
    let cut = dir.path().join("cut.ncap");
    let at = frames[..4].iter().map(|f| f.len()).sum::<usize>() + 3;
    std::fs::write(&cut, &raw[..at]).unwrap();
    let d = netcap(&["dump", "-r", s(&cut)]);
    let err = stderr(&d);
    assert_eq!(d.status.code(), Some(1), "{err}");
    assert_eq!(String::from_utf8_lossy(&d.stdout).lines().count(), 3);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cut short after 3 records"), "{err}");

    // After 3 records, a length field that claims 200 MiB and a few bytes: the cut is reported
    // where that record starts (the reader takes only the bytes that are there).
    let long = dir.path().join("long.ncap");
    let at = frames[..4].iter().map(|f| f.len()).sum::<usize>();
    let mut bytes = raw[..at].to_vec();
    netcap_proto::put_uvarint(&mut bytes, 200 << 20);
    bytes.extend_from_slice(&[0x08; 40]);
    std::fs::write(&long, &bytes).unwrap();
    let d = netcap(&["dump", "-r", s(&long)]);
    let err = stderr(&d);
    assert_eq!(d.status.code(), Some(1), "{err}");
    assert_eq!(String::from_utf8_lossy(&d.stdout).lines().count(), 3);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("cut short after 3 records (at byte {at} of the record stream)")), "{err}");
}

/// A live capture on `lo` of UDP to `port` (flushing every 200 ms); None (with a notice) without
/// the permission to capture.
fn start_live(out: &Path, port: u16) -> Option<Child> {
    let mut child = netcap_cmd()
        .args(["capture", "-i", "lo", "--bpf", &format!("udp and dst port {port}"), "-o", s(out)])
        .args(["--workers", "2", "--include", "UDP", "--flush-interval", "200ms"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netcap");
    // Probes until one is in the file: the capture is running and flushing.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let file = out.join("UDP.ncap.zst");
    let mut exited = None;
    wait_until("the live capture writes its first record", || {
        if let Ok(Some(st)) = child.try_wait() {
            exited = Some(st);
            return true;
        }
        let _ = probe.send_to(b"probe", ("127.0.0.1", port));
        file.exists() && !dump_column(&file, "dst_port").1.is_empty()
    });
    if let Some(st) = exited {
        let mut err = String::new();
        let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
        assert!(err.contains("ermission") || err.contains("not permitted"), "netcap exited ({st}): {err}");
        eprintln!("notice: skipping the live capture test, no permission to capture: {err}");
        return None;
    }
    Some(child)
}

/// Sends 50 datagrams to `port` from one socket and waits until the file holds them all;
/// returns that socket's port.
fn send_and_wait_for_flush(file: &Path, port: u16) -> String {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let src = sock.local_addr().unwrap().port().to_string();
    for i in 0..50u32 {
        sock.send_to(&i.to_be_bytes(), ("127.0.0.1", port)).unwrap();
    }
    wait_until("the live capture flushed the 50 datagrams", || {
        let (code, rows) = dump_column(file, "src_port");
        code == Some(0) && rows.iter().filter(|r| **r == src).count() == 50
    });
    src
}

#[test]
fn live_capture_stopped_by_sigterm_or_sighup_finishes_its_files() {
    for (k, signal) in ["TERM", "HUP"].into_iter().enumerate() {
        let dir = TempDir::new("live-signal");
        let port = 46_000 + (std::process::id() % 500) as u16 * 2 + k as u16;
        let Some(child) = start_live(dir.path(), port) else { return };
        let file = dir.path().join("UDP.ncap.zst");
        let src = send_and_wait_for_flush(&file, port);
        kill(&child, signal);
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "SIG{signal}: {err}");
        assert!(!err.contains("stopped by a signal after"), "a live capture ends with a signal: {err}");
        let (code, rows) = dump_column(&file, "src_port");
        assert_eq!(code, Some(0), "SIG{signal}");
        assert_eq!(rows.iter().filter(|r| **r == src).count(), 50, "SIG{signal}");
    }
}

#[test]
fn live_capture_killed_leaves_files_readable_up_to_the_last_flush() {
    let dir = TempDir::new("live-kill");
    let port = 45_000 + (std::process::id() % 1000) as u16;
    let Some(mut child) = start_live(dir.path(), port) else { return };
    let file = dir.path().join("UDP.ncap.zst");
    let src = send_and_wait_for_flush(&file, port);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let (code, rows) = dump_column(&file, "src_port");
    assert_eq!(code, Some(0));
    assert_eq!(rows.iter().filter(|r| **r == src).count(), 50);
    // The killed run's lock is gone with it.
    let o = capture(&sample(), dir.path(), &["--include", "UDP"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn label_warns_about_an_empty_alert_file() {
    let dir = TempDir::new("label-empty");
    let o = capture(&sample(), dir.path(), &["--include", "TCP,UDP"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let alerts = dir.path().join("eve.json");
    std::fs::write(&alerts, "").unwrap();
    let out = dir.path().join("labelled");
    let o = netcap(&["label", "--records", s(dir.path()), "--alerts", s(&alerts), "-o", s(&out)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("warning:") && err.contains("holds no alerts") && err.contains("labelled normal"), "{err}");
}

#[test]
fn label_stopped_by_a_signal_removes_its_part_files() {
    let dir = TempDir::new("label-signal");
    let input = dir.path().join("in.pcap");
    let mut bytes = pcap_header();
    for k in 0..20 {
        bytes.extend(pcap_records(k * 10_000, 10_000));
    }
    std::fs::write(&input, bytes).unwrap();
    let records = dir.path().join("records");
    let o = capture(&input, &records, &["--include", "Ethernet,IPv4,UDP"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let alerts = dir.path().join("eve.json");
    std::fs::write(
        &alerts,
        r#"{"timestamp":"2020-09-13T12:26:40.000000+0000","event_type":"alert","src_ip":"192.0.2.1","src_port":40000,"dest_ip":"198.51.100.1","dest_port":9999,"proto":"UDP","alert":{"signature_id":1,"rev":1,"gid":1,"signature":"s","category":"c","severity":1}}
"#,
    )
    .unwrap();
    let out = dir.path().join("labelled");
    let mut child = netcap_cmd()
        .args(["label", "--records", s(&records), "--alerts", s(&alerts), "-o", s(&out), "-w", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netcap label");
    let parts = || file_names(&out).into_iter().filter(|n| n.ends_with(".part")).collect::<Vec<_>>();
    let mut finished_first = false;
    wait_until("label starts writing", || {
        finished_first = child.try_wait().ok().flatten().is_some();
        finished_first || !parts().is_empty()
    });
    if !finished_first {
        kill(&child, "TERM");
    }
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(parts().is_empty(), "left behind: {:?}; {err}", parts());
    match o.status.code() {
        // Stopped: nothing written.
        Some(2) => {
            assert!(err.contains("stopped by a signal"), "{err}");
            assert!(file_names(&out).is_empty(), "{:?}", file_names(&out));
        }
        // It finished before the signal: complete output.
        Some(0) => {
            eprintln!("notice: netcap label finished before the signal");
            assert!(out.join("UDP_labeled.csv").exists());
        }
        c => panic!("exit {c:?}: {err}"),
    }
}

#[test]
fn a_second_capture_into_the_same_directory_is_refused_another_directory_works() {
    let dir = TempDir::new("lock");
    let (x, y) = (dir.path().join("x"), dir.path().join("y"));
    // The first capture holds x's lock until its FIFO input ends: it cannot finish first.
    let mut first = FifoCapture::start(dir.path(), &x, &["--workers", "1", "--include", "UDP"]);
    assert!(first.send(0, 100));
    wait_until("the first capture locked its directory", || x.join(".netcap.lock").exists());
    let second = capture(&sample(), &x, &["--include", "TCP"]);
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear message: {err}");
    assert!(err.contains(s(&x)) && err.contains("another netcap"), "{err}");
    assert!(!x.join("TCP.ncap.zst").exists(), "the refused run wrote nothing");
    let other = capture(&sample(), &y, &["--include", "TCP"]);
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
    assert!(y.join("TCP.ncap.zst").exists());
    let o = first.finish();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (code, rows) = dump_column(&x.join("UDP.ncap.zst"), "dst_port");
    assert_eq!((code, rows.len()), (Some(0), 100));
}

/// Flips one bit at a time in copies of `file`: in each of its first 64 and last 16 bytes (the
/// compression format's headers and trailer) and at 160 places spread over the rest, and dumps
/// each damaged copy: a copy must either dump exactly as the undamaged file does, or fail (exit 1
/// or 2); never exit 0 with other values. Returns (copies that failed, copies identical to the
/// original).
fn flip_bits(dir: &Path, file: &Path) -> (usize, usize) {
    let raw = std::fs::read(file).unwrap();
    let good = netcap(&["dump", "-r", s(file)]);
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    let name = file.file_name().and_then(|n| n.to_str()).unwrap();
    let n = raw.len();
    assert!(n > 1000, "{name} is large enough to sample");
    let mut places: Vec<usize> = (0..64).chain((64..n - 16).step_by((n - 80) / 160)).chain(n - 16..n).collect();
    places.dedup();
    let (mut failed, mut same) = (0, 0);
    for at in places {
        let mut bad = raw.clone();
        bad[at] ^= 1 << (at % 8);
        let f = dir.join(format!("flip-{at}-{name}"));
        std::fs::write(&f, &bad).unwrap();
        let d = netcap(&["dump", "-r", s(&f)]);
        match d.status.code() {
            Some(0) => {
                assert!(d.stdout == good.stdout, "{name}: bit flipped at byte {at}: exit 0 with other values");
                same += 1;
            }
            Some(1 | 2) => failed += 1,
            c => panic!("{name}: bit flipped at byte {at}: exit {c:?}: {}", stderr(&d)),
        }
        std::fs::remove_file(&f).unwrap();
    }
    (failed, same)
}

#[test]
fn bit_flipped_compressed_record_files_never_dump_wrong_values() {
    let dir = TempDir::new("bitflip");
    for (compression, ext) in [("zstd", "zst"), ("gzip", "gz")] {
        let out = dir.path().join(compression);
        let o = capture(&sample(), &out, &["--compression", compression, "--include", "TCP"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let (failed, same) = flip_bits(dir.path(), &out.join(format!("TCP.ncap.{ext}")));
        // Almost every flip is detected (checksums); the few that are not change nothing (a bit
        // of the zstd window size, gzip's time stamp or OS byte).
        assert!(failed >= 10 * same, "TCP.ncap.{ext}: {failed} detected, {same} harmless");
    }
}

/// Waits for `child` to exit; kills it and fails when it does not within `DEADLINE` (a capture
/// blocked on its input instead of refusing its output first).
fn wait_or_kill(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("poll netcap").is_none() {
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{what}: netcap did not exit (it waits for its input)");
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait for netcap")
}

#[test]
fn an_output_path_that_is_a_file_is_refused_before_any_input_is_read() {
    let dir = TempDir::new("outfile");
    // Input from a FIFO nobody writes: reading it would block forever.
    let fifo = dir.path().join("silent.pcap");
    mkfifo(&fifo);
    let out = dir.path().join("not-a-dir");
    std::fs::write(&out, b"a user's file").unwrap();
    let child = netcap_cmd()
        .args(["capture", "-r", s(&fifo), "-o", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netcap");
    let o = wait_or_kill(child, "output path is a file");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear message: {err}");
    assert!(err.contains(s(&out)), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"a user's file", "the user's file is untouched");
}
