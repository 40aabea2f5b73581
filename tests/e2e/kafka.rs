//! The Kafka sink against a real Kafka-protocol broker: `tansu` (crates.io, installed by
//! `cargo xtask setup`), started by each test on a free port of 127.0.0.1, never a mock.
//!
//! - Every topic holds exactly the records of the file output, byte for byte, in file order per
//!   partition, with the type and schema headers; the schema topic holds each file's header;
//!   `dump --kafka` prints what `dump -r` prints.
//! - The broker is killed in the middle of a file capture and restarted (SQLite storage, so what
//!   it acknowledged survives): nothing is lost or duplicated, and the run reports the outage.
//!
//! No assertion depends on timing: the tests wait for observable states (a port accepts, a
//! topic holds N records, netcap printed the outage) with a generous deadline. Without `tansu`
//! they skip with a notice, unless `NETCAP_REQUIRE_KAFKA=1` (as in CI) makes that a failure.

use netcap::kafka::{RawMessage, SCHEMA_HEADER, TYPE_HEADER, read_raw, schema_id};
use netcap_tests::pcap::{LINKTYPE_ETHERNET, pcap_bytes, write_pcap};
use netcap_tests::{TempDir, capture, corpus, netcap, netcap_cmd, read_record_file};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for a state before failing (a hang, not a slow machine).
const DEADLINE: Duration = Duration::from_secs(180);
const T0: i64 = 1_600_000_000_000_000_000;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The `tansu` binary: `$NETCAP_TANSU`, on `PATH`, or in `~/.cargo/bin`; `None` (after a
/// notice) when missing and not required.
fn tansu() -> Option<PathBuf> {
    let candidates = std::env::var_os("NETCAP_TANSU")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .into_iter()
                .flat_map(|p| std::env::split_paths(&p).map(|d| d.join("tansu")).collect::<Vec<_>>()),
        )
        .chain(std::env::var_os("CARGO_HOME").map(|h| PathBuf::from(h).join("bin/tansu")))
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tansu")));
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
    }
    assert!(
        std::env::var("NETCAP_REQUIRE_KAFKA").as_deref() != Ok("1"),
        "tansu (the Kafka-protocol broker) is not installed: run `cargo xtask setup`"
    );
    eprintln!("notice: skipping, tansu (the Kafka-protocol broker) is not installed (cargo xtask setup)");
    None
}

/// Polls `cond` until it holds; panics after `DEADLINE` naming `what`.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting until {what}");
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// A tansu broker on 127.0.0.1, killed on drop.
struct Broker {
    bin: PathBuf,
    port: u16,
    storage: String,
    /// The broker's working directory (tansu reads `sqlite://` paths relative to it).
    dir: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker with `storage` (`memory://tansu/`, `sqlite://FILE` in `dir`) on a free port.
    fn start(bin: PathBuf, storage: &str, dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut b = Broker { bin, port, storage: storage.into(), dir: dir.into(), child: None };
        b.restart();
        b
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// (Re)starts the broker and waits until it accepts connections.
    fn restart(&mut self) {
        let url = format!("tcp://{}", self.addr());
        let child = Command::new(&self.bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &self.storage])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let addr = self.addr();
        wait_until("tansu accepts connections", || {
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            assert!(exited.is_none(), "tansu exited: {exited:?}");
            TcpStream::connect(&addr).is_ok()
        });
    }

    /// Kills the broker (SIGKILL: what it acknowledged must already be stored).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The values of every partition of `topic`, waiting until it holds at least `n` messages.
fn topic(b: &Broker, topic: &str, n: usize) -> Vec<(i32, Vec<RawMessage>)> {
    let start = Instant::now();
    loop {
        let (got, err) = match read_raw(&b.addr(), topic) {
            Ok(g) => (g, String::new()),
            Err(e) => (Vec::new(), e),
        };
        let have: usize = got.iter().map(|(_, v)| v.len()).sum();
        if have >= n {
            return got;
        }
        assert!(start.elapsed() < DEADLINE, "gave up waiting until {topic} holds {n} messages: it holds {have} {err}");
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// Checks that `parts` hold exactly `records` (no record lost, none twice) and that each
/// partition keeps their order. Returns the problem, if any.
fn same_records(parts: &[(i32, Vec<RawMessage>)], records: &[Vec<u8>]) -> Result<(), String> {
    let mut all: Vec<&[u8]> = parts.iter().flat_map(|(_, v)| v.iter().map(|m| m.value.as_slice())).collect();
    let mut want: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    if all.len() != want.len() {
        return Err(format!("{} messages for {} records", all.len(), want.len()));
    }
    all.sort_unstable();
    want.sort_unstable();
    if all != want {
        return Err("the messages are not the records".into());
    }
    for (p, msgs) in parts {
        // In file order: each partition is a subsequence of the file's records.
        let mut it = records.iter();
        for (i, m) in msgs.iter().enumerate() {
            if !it.any(|r| *r == m.value) {
                return Err(format!("partition {p}: message {i} is out of file order"));
            }
        }
    }
    Ok(())
}

fn header<'a>(m: &'a RawMessage, key: &str) -> Option<&'a [u8]> {
    m.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice())
}

#[test]
fn kafka_topics_hold_the_files_records() {
    let (Some(bin), Some(dir)) = (tansu(), corpus()) else { return };
    let pcap = dir.join("mixed/pcapplusplus_many-protocols.pcap");
    let tmp = TempDir::new("kafka");
    let broker = Broker::start(bin, "memory://tansu/", tmp.path());
    let files = tmp.path().join("files");
    let o = capture(&pcap, &files, &["--workers", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = capture(&pcap, &tmp.path().join("k"), &["--workers", "2", "--kafka", &broker.addr()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let mut types = 0;
    let mut records = 0;
    let schemas = topic(&broker, "netcap._schemas", 1);
    let schemas: Vec<&RawMessage> = schemas.iter().flat_map(|(_, v)| v).collect();
    for e in std::fs::read_dir(&files).expect("read the output") {
        let path = e.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".ncap.zst")) else {
            continue;
        };
        let (h, recs) = read_record_file(&path);
        let t = format!("netcap.{name}");
        let parts = topic(&broker, &t, recs.len());
        same_records(&parts, &recs).unwrap_or_else(|e| panic!("{t}: {e}"));
        let id = schema_id(&h.message_name, &h.schema);
        // One connection (one key) in one partition; records with addresses have a key.
        let mut partition_of = std::collections::HashMap::new();
        for (p, m) in parts.iter().flat_map(|(p, v)| v.iter().map(move |m| (*p, m))) {
            assert_eq!(header(m, TYPE_HEADER), Some(name.as_bytes()), "{t}");
            assert_eq!(header(m, SCHEMA_HEADER), Some(id.as_bytes()), "{t}");
            match &m.key {
                Some(k) => assert_eq!(*partition_of.entry(k.clone()).or_insert(p), p, "{t}: a key in two partitions"),
                None => assert!(
                    !["TCP", "UDP", "IPv4", "Connection", "Flow", "DNS", "Ethernet"].contains(&name),
                    "{t}: no key"
                ),
            }
        }
        // The schema topic holds the file's header, byte for byte.
        let raw = prost::Message::encode_to_vec(&h);
        assert!(
            schemas.iter().any(|m| m.key.as_deref() == Some(id.as_bytes()) && m.value == raw),
            "{t}: its header is not in netcap._schemas"
        );
        // `dump --kafka` prints what `dump -r` prints.
        let want = netcap(&["dump", "-r", s(&path)]);
        let got = netcap(&["dump", "--kafka", &broker.addr(), "--topic", &t]);
        assert!(got.status.success(), "{t}: {}", String::from_utf8_lossy(&got.stderr));
        assert!(want.stdout == got.stdout, "{t}: dump --kafka differs from dump -r");
        types += 1;
        records += recs.len();
    }
    assert!(types >= 10 && records > 1000, "{types} types, {records} records");
    assert_eq!(schemas.len(), types, "one schema message per type");
    assert!(err.is_empty() || !err.contains("unreachable"), "{err}");
}

/// A UDP packet carrying `i` (with `--payload`, every record differs).
fn udp_packet(i: u32) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 0, 2, 1], [198, 51, 100, (i % 200) as u8 + 1], 64)
        .udp(40_000 + (i % 1000) as u16, 9999)
        .write(&mut v, &i.to_be_bytes())
        .expect("build udp");
    v
}

fn packets(from: u32, n: u32) -> Vec<(i64, Vec<u8>)> {
    (from..from + n).map(|i| (T0 + i64::from(i) * 1_000_000, udp_packet(i))).collect()
}

#[test]
fn kafka_broker_outage_loses_and_duplicates_nothing() {
    let Some(bin) = tansu() else { return };
    let tmp = TempDir::new("kafka-outage");
    let mut broker = Broker::start(bin, "sqlite://tansu.db", tmp.path());
    // tansu's SQLite engine answers a fetch in time linear in the stored records (10,000 records
    // took minutes to read back), so the test stays at 2,000.
    let (first, second) = (800u32, 1200u32);
    // The file output of the same packets, for comparison.
    let whole = tmp.path().join("whole.pcap");
    write_pcap(&whole, LINKTYPE_ETHERNET, true, &packets(0, first + second)).expect("write pcap");
    let files = tmp.path().join("files");
    let args = ["--workers", "1", "--include", "UDP", "--payload"];
    let o = capture(&whole, &files, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, recs) = read_record_file(&files.join("UDP.ncap.zst"));
    assert_eq!(recs.len(), (first + second) as usize);
    // The capture reads a FIFO the test writes, so it cannot end before the test says.
    let fifo = tmp.path().join("in.pcap");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let mut child = netcap_cmd()
        .args(["capture", "-r", s(&fifo), "-o", s(&tmp.path().join("k")), "--kafka", &broker.addr()])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netcap");
    let (tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&l);
            all.push('\n');
            let _ = tx.send(l);
        }
        all
    });
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).expect("open the FIFO");
    w.write_all(&pcap_bytes(LINKTYPE_ETHERNET, true, &packets(0, first))).expect("write");
    // Some records are acknowledged, then the broker dies.
    topic(&broker, "netcap.UDP", 200);
    broker.kill();
    let start = Instant::now();
    loop {
        let l = lines.recv_timeout(DEADLINE.saturating_sub(start.elapsed())).expect("netcap reports the outage");
        if l.contains("kafka: broker unreachable") {
            break;
        }
    }
    // More records while the broker is away: held by the producer.
    w.write_all(&pcap_bytes(LINKTYPE_ETHERNET, true, &packets(first, second))[24..]).expect("write");
    drop(w);
    broker.restart();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(st) = child.try_wait().expect("poll netcap") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("netcap did not finish after the broker came back");
        }
        std::thread::park_timeout(Duration::from_millis(50));
    };
    let err = reader.join().expect("stderr reader");
    assert!(status.success(), "{err}");
    assert!(err.contains("broker unreachable 1 time(s)"), "{err}");
    assert!(err.contains(&format!("{} messages acknowledged", recs.len() + 1)), "{err}");
    let parts = topic(&broker, "netcap.UDP", recs.len());
    same_records(&parts, &recs).unwrap_or_else(|e| panic!("after the outage: {e}"));
}
