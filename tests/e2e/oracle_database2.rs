//! TDS, Redis and MongoDB records (the `database` stream decoder) agree with tshark on every
//! corpus capture in which tshark dissects `tds` or `resp`, and on the MongoDB captures of the
//! corpus (`databases/*mongo*`), which tshark 4.0 takes for TLS on port 27017 unless told to
//! decode the port as `mongo` (the test does so).
//!
//! Our TDS and Redis records are exchanges (a request with its response); tshark's are
//! messages, so each connection's exchanges are flattened into the lists tshark has per
//! connection, in order: TDS client messages (time of their first packet, packet type, SQL
//! batch text, RPC procedure name or id), pre-login and Login7 fields, DONE and DONEPROC
//! tokens (status, current command); Redis commands (the array of bulk strings) and the
//! replies' types and values. MongoDB records are messages, compared one by one (time, op
//! code, request id, response to, full collection name, numbers to return and returned, and
//! the command of an OP_QUERY on `$cmd`). One tshark pass and one netcap run per capture.

use crate::oracle_database::{AGG, ConnKey, Pkt, packets_of, per_conn};
use netcap_proto::v1::{MongoDb, Redis, Tds};
use netcap_tests::{TempDir, capture, corpus_files, files_with, have_tshark, parse_ns, parse_num, records};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fields every view uses first: frame, time, addresses, ports, retransmission, segments.
const BASE: [&str; 9] = [
    "frame.number",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.analysis.retransmission",
];
const SEGMENTS: usize = BASE.len();

/// The protocol fields of a packet (after [`BASE`] and `tcp.segment`).
trait Fields {
    fn f(&self, i: usize) -> &[String];
}

impl Fields for Pkt {
    fn f(&self, i: usize) -> &[String] {
        self.all(SEGMENTS + 1 + i)
    }
}

fn tshark_packets(file: &Path, fields: &[&str], extra: &[&str]) -> Vec<Pkt> {
    let mut c = Command::new("tshark");
    c.args(["-n", "-r"]).arg(file).args(extra);
    c.args(["-T", "fields", "-E", "separator=/t", "-E", "quote=n", "-E", "occurrence=a"]);
    c.arg(format!("-Eaggregator={AGG}"));
    let all: Vec<&str> = BASE.iter().copied().chain(["tcp.segment"]).chain(fields.iter().copied()).collect();
    for f in &all {
        c.args(["-e", f]);
    }
    let out = c.output().expect("run tshark");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    packets_of(&out.stdout, all.len())
}

/// Every frame's time (ns), by frame number.
fn frame_times(pkts: &[Pkt]) -> HashMap<u64, i64> {
    pkts.iter().filter_map(|p| Some((p.one(0).parse().ok()?, parse_ns(&p.one(1))?))).collect()
}

/// tshark's time of the first message of a frame: the frame's, or its first segment's when it
/// reassembled the message.
fn msg_time(p: &Pkt, times: &HashMap<u64, i64>) -> i64 {
    let own = parse_ns(&p.one(1)).unwrap_or(0);
    match p.all(SEGMENTS).first().and_then(|s| s.parse::<u64>().ok()) {
        Some(seg) => times.get(&seg).copied().unwrap_or(own),
        None => own,
    }
}

fn run_netcap(file: &Path, dir: &TempDir, include: &str) -> PathBuf {
    let out = dir.path().join(format!("out-{}", file.file_name().unwrap_or_default().to_string_lossy()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("mkdir");
    let o = capture(file, &out, &["--include", include]);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "netcap failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn num(s: &str) -> String {
    parse_num(s).map_or_else(|| format!("?{s}"), |v| v.to_string())
}

/// Compares per-connection views; returns the number of connections and the number of list
/// entries compared.
fn compare<V: PartialEq + std::fmt::Debug + Entries>(
    name: &str,
    ours: &BTreeMap<ConnKey, V>,
    theirs: &BTreeMap<ConnKey, V>,
    problems: &mut Vec<String>,
) -> (usize, usize) {
    let keys: std::collections::BTreeSet<&ConnKey> = ours.keys().chain(theirs.keys()).collect();
    let mut n = 0;
    for k in &keys {
        if ours.get(*k) != theirs.get(*k) {
            problems.push(format!("{name} {k:?}:\n  ours   {:?}\n  tshark {:?}", ours.get(*k), theirs.get(*k)));
        }
        n += theirs.get(*k).map_or(0, Entries::entries);
    }
    (keys.len(), n)
}

/// The number of list entries (messages and fields) in a view.
trait Entries {
    fn entries(&self) -> usize;
}

// ---------------------------------------------------------------------------------------------
// TDS

const TDS_FIELDS: [&str; 21] = [
    "tds.type",
    "tds.status",
    "tds.query",
    "tds.rpc.name",
    "tds.rpc.proc_id",
    "tds.done.status",
    "tds.done.curcmd",
    "tds.doneproc.status",
    "tds.doneproc.curcmd",
    "tds.error.number",
    "tds.prelogin.option.version",
    "tds.prelogin.option.encryption",
    "tds.7login.version",
    "tds.7login.username",
    "tds.7login.password",
    "tds.7login.clientname",
    "tds.7login.appname",
    "tds.7login.servername",
    "tds.7login.databasename",
    "tds.loginack.progname",
    "tds.colmetadata",
];

/// One connection's TDS as lists.
#[derive(Debug, Default, PartialEq)]
struct TdsView {
    /// Client messages: time of the first packet, packet type, text (statement, procedure name
    /// or "#id"), and whether it came in one packet.
    requests: Vec<(i64, String, String)>,
    prelogin: Vec<String>,
    login: Vec<String>,
    done: Vec<String>,
    errors: Vec<String>,
    loginack: Vec<String>,
}

impl Entries for TdsView {
    fn entries(&self) -> usize {
        self.requests.len() * 3
            + self.prelogin.len()
            + self.login.len()
            + self.done.len()
            + self.errors.len()
            + self.loginack.len()
    }
}

/// tshark's view; `multi` gets the indexes of client messages of several packets.
fn tds_theirs(
    pkts: &[Pkt],
    times: &HashMap<u64, i64>,
    multi: &mut Vec<(ConnKey, usize)>,
) -> BTreeMap<ConnKey, TdsView> {
    let mut m = BTreeMap::new();
    for (k, ps) in per_conn(pkts, 1433, 8) {
        let mut v = TdsView::default();
        let mut mid_message = false;
        for (to_server, p) in ps {
            if p.f(0).is_empty() {
                continue;
            }
            if to_server {
                // One TDS packet per frame in these captures; a message's first packet gives
                // its time and type, its text is in the packet that ends it.
                let eom = parse_num(&p.f(1)[0]).unwrap_or(0) & 1 == 1;
                if !mid_message {
                    v.requests.push((msg_time(p, times), p.f(0)[0].clone(), String::new()));
                } else {
                    multi.push((k.clone(), v.requests.len() - 1));
                }
                mid_message = !eom;
                let text = p
                    .f(2)
                    .first()
                    .cloned()
                    .or_else(|| p.f(3).first().cloned())
                    .or_else(|| p.f(4).first().map(|id| format!("#{id}")));
                if let (Some(t), Some(last)) = (text, v.requests.last_mut()) {
                    last.2 = t;
                }
                if p.f(0)[0] == "18" {
                    v.prelogin.push(format!("client {} {}", num(&p.f(10).join("")), p.f(11).join("")));
                }
                if !p.f(12).is_empty() {
                    let l: Vec<String> = (12..19).map(|i| p.f(i).join("")).collect();
                    v.login.push(format!("{} {}", num(&l[0]), l[1..].join("/")));
                }
            } else {
                if !p.f(10).is_empty() {
                    v.prelogin.push(format!("server {} {}", num(&p.f(10)[0]), p.f(11).join("")));
                }
                v.errors.extend(p.f(9).first().cloned());
                v.loginack.extend(p.f(19).iter().cloned());
                // Deliberate: the DONE tokens of a response with a result set (after its rows)
                // are not read by us (see below); tshark reads the rows.
                if !p.f(20).is_empty() {
                    continue;
                }
                for (s, c) in p.f(5).iter().zip(p.f(6)) {
                    v.done.push(format!("DONE {} {}", num(s), num(c)));
                }
                for (s, c) in p.f(7).iter().zip(p.f(8)) {
                    v.done.push(format!("DONEPROC {} {}", num(s), num(c)));
                }
            }
        }
        m.insert(k, v);
    }
    m
}

fn tds_ours(recs: &[Tds]) -> BTreeMap<ConnKey, TdsView> {
    let mut m: BTreeMap<ConnKey, TdsView> = BTreeMap::new();
    for r in recs {
        let v = m.entry((r.src_ip.clone(), r.src_port, r.dst_ip.clone(), r.dst_port)).or_default();
        let text = match r.kind.as_str() {
            "sql_batch" => r.query.clone(),
            "rpc" if r.procedure.is_empty() => format!("#{}", r.procedure_id),
            "rpc" => r.procedure.clone(),
            _ => String::new(),
        };
        if !r.encrypted {
            v.requests.push((r.timestamp, r.packet_type.to_string(), text));
        }
        if r.kind == "prelogin" {
            v.prelogin.push(format!("client {} {}", r.client_version, r.client_encryption));
            if r.response_type != 0 {
                v.prelogin.push(format!("server {} {}", r.server_version, r.server_encryption));
            }
        }
        if r.kind == "login7" && !r.encrypted {
            let l = [&r.user, &r.password, &r.hostname, &r.app_name, &r.server_name, &r.database];
            v.login.push(format!("{} {}", r.tds_version, l.map(String::as_str).join("/")));
        }
        for (i, t) in r.done_tokens.iter().enumerate() {
            if t != "DONEINPROC" && r.result_columns == 0 {
                v.done.push(format!("{t} {} {}", r.done_status[i], r.done_cur_cmd[i]));
            }
        }
        if r.error_number != 0 {
            v.errors.push(r.error_number.to_string());
        }
        if !r.server_program.is_empty() {
            v.loginack.push(r.server_program.clone());
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Redis

/// One connection's Redis as lists.
#[derive(Debug, Default, PartialEq)]
struct RedisView {
    /// Commands sent as arrays: the words (the command name in upper case).
    commands: Vec<String>,
    /// Replies: type and value (text, or length).
    replies: Vec<String>,
}

impl Entries for RedisView {
    fn entries(&self) -> usize {
        self.commands.len() + self.replies.len()
    }
}

fn unhex(s: &str) -> String {
    let b: Vec<u8> = (0..s.len() / 2).filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()).collect();
    String::from_utf8_lossy(&b).into_owned()
}

/// One packet of tshark's PDML for Redis: its frame fields and top-level RESP values.
#[derive(Default)]
struct RespPkt {
    src: String,
    dst: String,
    sport: u32,
    dport: u32,
    /// A retransmission, or a segment of a message tshark reassembles in a later frame (it
    /// shows the partial message in each such frame).
    skip: bool,
    /// Top-level values: field name, its length (arrays, bulk strings) or text, and the
    /// hex values of an array's bulk strings.
    values: Vec<(String, String, Vec<String>)>,
}

/// The attribute `a` of a PDML line, entities decoded.
fn attr(line: &str, a: &str) -> String {
    let key = format!(" {a}=\"");
    let Some(i) = line.find(&key) else { return String::new() };
    let rest = &line[i + key.len()..];
    let v = &rest[..rest.find('"').unwrap_or(rest.len())];
    v.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// tshark's RESP in PDML, whose tree keeps the order and nesting of values (`-T fields` gives
/// each field's occurrences apart, which loses both).
fn resp_pdml(file: &Path) -> Vec<RespPkt> {
    let out = Command::new("tshark").args(["-n", "-2", "-T", "pdml", "-r"]).arg(file).output().expect("run tshark");
    let mut pkts = Vec::new();
    let mut cur = RespPkt::default();
    let mut proto = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if t.starts_with("<packet>") {
            cur = RespPkt::default();
        } else if t.starts_with("</packet>") {
            pkts.push(std::mem::take(&mut cur));
        } else if t.starts_with("<proto ") {
            proto = attr(t, "name");
        } else if t.starts_with("<field ") {
            let name = attr(t, "name");
            match name.as_str() {
                "ip.src" | "ipv6.src" => cur.src = attr(t, "show"),
                "ip.dst" | "ipv6.dst" => cur.dst = attr(t, "show"),
                "tcp.srcport" => cur.sport = attr(t, "show").parse().unwrap_or(0),
                "tcp.dstport" => cur.dport = attr(t, "show").parse().unwrap_or(0),
                "tcp.analysis.retransmission" | "tcp.reassembled_in" => cur.skip = true,
                _ if proto != "resp" => {}
                "resp.array.length" | "resp.bulk_string.length" if indent == 6 => {
                    if let Some(v) = cur.values.last_mut() {
                        v.1 = attr(t, "show");
                    }
                }
                "resp.bulk_string.value" if indent == 8 => {
                    if let Some(v) = cur.values.last_mut() {
                        v.2.push(attr(t, "value"));
                    }
                }
                _ if indent == 4 && name.starts_with("resp.") => cur.values.push((name, attr(t, "show"), Vec::new())),
                _ => {}
            }
        }
    }
    pkts
}

fn redis_theirs(pkts: &[RespPkt]) -> BTreeMap<ConnKey, RedisView> {
    let mut m: BTreeMap<ConnKey, RedisView> = BTreeMap::new();
    for p in pkts.iter().filter(|p| !p.skip && !p.values.is_empty()) {
        let (to_server, key) = if p.dport == 6379 {
            (true, (p.src.clone(), p.sport, p.dst.clone(), p.dport))
        } else {
            (false, (p.dst.clone(), p.dport, p.src.clone(), p.sport))
        };
        let v = m.entry(key).or_default();
        for (name, val, words) in &p.values {
            let short = name.trim_start_matches("resp.");
            if to_server {
                // Commands are arrays of bulk strings. Deliberate: a non-positive array length
                // is no command (Redis ignores it), a huge one never completes, and other
                // values a client sends are inline commands to Redis (tshark reads them as
                // RESP values); we keep at most 8 arguments.
                let n: i64 = val.parse().unwrap_or(0);
                if short != "array" || n <= 0 || n > 1024 * 1024 {
                    continue;
                }
                let mut w = words.iter().take(1 + 8).map(|h| unhex(h));
                let cmd = w.next().unwrap_or_default().to_ascii_uppercase();
                v.commands.push(std::iter::once(cmd).chain(w).collect::<Vec<_>>().join(" "));
                continue;
            }
            let short = if short == "string" { "simple_string" } else { short };
            v.replies.push(format!("{short} {val}"));
        }
    }
    m
}

fn redis_ours(recs: &[Redis]) -> BTreeMap<ConnKey, RedisView> {
    let mut m: BTreeMap<ConnKey, RedisView> = BTreeMap::new();
    for r in recs {
        let v = m.entry((r.src_ip.clone(), r.src_port, r.dst_ip.clone(), r.dst_port)).or_default();
        if !r.inline && !r.command.is_empty() {
            v.commands.push(std::iter::once(&r.command).chain(&r.args).cloned().collect::<Vec<_>>().join(" "));
        }
        match r.reply_type.as_str() {
            "" => {}
            "simple_string" | "error" | "integer" => v.replies.push(format!("{} {}", r.reply_type, r.reply)),
            "null" => v.replies.push(format!("bulk_string {}", r.reply_length)),
            t => v.replies.push(format!("{t} {}", r.reply_length)),
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------
// MongoDB

const MONGO_FIELDS: [&str; 7] = [
    "mongo.opcode",
    "mongo.request_id",
    "mongo.response_to",
    "mongo.full_collection_name",
    "mongo.number_to_return",
    "mongo.number_returned",
    "mongo.element.name",
];

/// One connection's MongoDB messages.
#[derive(Debug, Default, PartialEq)]
struct MongoView(Vec<(i64, String)>);

impl Entries for MongoView {
    fn entries(&self) -> usize {
        // Each message: time, op code, request id, response to, collection, numbers, command.
        self.0.len() * 7
    }
}

fn mongo_theirs(pkts: &[Pkt], times: &HashMap<u64, i64>) -> BTreeMap<ConnKey, MongoView> {
    let mut m = BTreeMap::new();
    for (k, ps) in per_conn(pkts, 27017, 8) {
        let mut v = MongoView::default();
        for (_, p) in ps {
            if p.f(0).is_empty() {
                continue;
            }
            let coll = p.f(3).join("");
            let named = coll.ends_with(".$cmd") || p.f(0).join("") == "2013";
            let cmd = if named { p.f(6).first().cloned().unwrap_or_default() } else { String::new() };
            let line = format!(
                "{} {} {} {} to_return={} returned={} {}",
                p.f(0).join(""),
                num(&p.f(1).join("")),
                num(&p.f(2).join("")),
                coll,
                p.f(4).join(""),
                p.f(5).join(""),
                cmd
            );
            v.0.push((msg_time(p, times), line));
        }
        m.insert(k, v);
    }
    m
}

fn mongo_ours(recs: &[MongoDb]) -> BTreeMap<ConnKey, MongoView> {
    let mut m: BTreeMap<ConnKey, MongoView> = BTreeMap::new();
    for r in recs {
        let v = m.entry((r.src_ip.clone(), r.src_port, r.dst_ip.clone(), r.dst_port)).or_default();
        let legacy = matches!(r.op_code, 2004 | 2005);
        // tshark has no collection name for OP_MSG (its "$db" is an element like any other).
        let coll =
            if matches!(r.op_code, 1 | 2013) { String::new() } else { format!("{}.{}", r.database, r.collection) };
        let line = format!(
            "{} {} {} {} to_return={} returned={} {}",
            r.op_code,
            r.request_id,
            r.response_to,
            coll,
            if legacy { r.number_to_return.to_string() } else { String::new() },
            if r.op_code == 1 { r.number_returned.to_string() } else { String::new() },
            r.command
        );
        v.0.push((r.timestamp, line));
    }
    m
}

// ---------------------------------------------------------------------------------------------

/// Totals: (captures, connections, entries) per protocol.
#[derive(Default, Debug)]
struct Totals {
    tds: (usize, usize, usize),
    redis: (usize, usize, usize),
    mongo: (usize, usize, usize),
}

fn add(t: &mut (usize, usize, usize), (c, e): (usize, usize)) {
    *t = (t.0 + 1, t.1 + c, t.2 + e);
}

fn compare_tds(f: &Path, dir: &TempDir, problems: &mut Vec<String>) -> (usize, usize) {
    let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let out = run_netcap(f, dir, "TDS");
    let pkts = tshark_packets(f, &TDS_FIELDS, &[]);
    let times = frame_times(&pkts);
    let mut multi = Vec::new();
    let mut theirs = tds_theirs(&pkts, &times, &mut multi);
    let ours = tds_ours(&records::<Tds>(&out, "TDS"));
    // Deliberate: tshark does not reassemble a TDS message of several packets (it reads each
    // packet alone and finds no procedure name in the last one); we read the whole message.
    for (k, i) in multi {
        if let (Some(t), Some(o)) = (theirs.get_mut(&k), ours.get(&k))
            && let Some(ours_req) = o.requests.get(i)
        {
            t.requests[i].2 = ours_req.2.clone();
        }
    }
    theirs.retain(|_, v| *v != TdsView::default());
    compare(&name, &ours, &theirs, problems)
}

fn compare_redis(f: &Path, dir: &TempDir, problems: &mut Vec<String>) -> (usize, usize) {
    let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let out = run_netcap(f, dir, "Redis");
    let theirs: BTreeMap<ConnKey, RedisView> =
        redis_theirs(&resp_pdml(f)).into_iter().filter(|(_, v)| *v != RedisView::default()).collect();
    let ours: BTreeMap<ConnKey, RedisView> =
        redis_ours(&records::<Redis>(&out, "Redis")).into_iter().filter(|(_, v)| *v != RedisView::default()).collect();
    compare(&name, &ours, &theirs, problems)
}

fn compare_mongo(f: &Path, dir: &TempDir, problems: &mut Vec<String>) -> (usize, usize) {
    let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let out = run_netcap(f, dir, "MongoDB");
    let pkts = tshark_packets(f, &MONGO_FIELDS, &["-d", "tcp.port==27017,mongo"]);
    let times = frame_times(&pkts);
    let theirs = mongo_theirs(&pkts, &times);
    let ours = mongo_ours(&records::<MongoDb>(&out, "MongoDB"));
    compare(&name, &ours, &theirs, problems)
}

/// The synthesized Login7 gives a Credentials record (the `credentials` decoder reads the TDS
/// records), with the password tshark shows too (compared in the TDS view).
fn login7_credentials(synth: &Path, dir: &TempDir) {
    let out = dir.path().join("creds");
    std::fs::create_dir_all(&out).expect("mkdir");
    let o = capture(synth, &out, &["--include", "TDS,Credentials"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&o.stderr));
    let c: Vec<netcap_proto::v1::Credentials> = records(&out, "Credentials");
    let v: Vec<_> = c
        .iter()
        .map(|c| (c.service.as_str(), c.method.as_str(), c.user.as_str(), c.secret.as_str(), c.outcome.as_str()))
        .collect();
    assert_eq!(v, [("MSSQL", "login7", "sa", "Secret1!", "accepted")]);
}

#[test]
fn tds_redis_mongodb_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-database2");
    let mut problems = Vec::new();
    let mut t = Totals::default();
    for f in files_with(&["tds"]) {
        add(&mut t.tds, compare_tds(&f, &dir, &mut problems));
    }
    for f in files_with(&["resp"]) {
        add(&mut t.redis, compare_redis(&f, &dir, &mut problems));
    }
    let mongo: Vec<PathBuf> = corpus_files(&["databases"])
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n.to_string_lossy().contains("mongo")))
        .collect();
    for f in &mongo {
        add(&mut t.mongo, compare_mongo(f, &dir, &mut problems));
    }
    // What the corpus lacks (pre-login, Login7, LOGINACK, errors; OP_MSG), synthesized.
    let synth = dir.path().join("synth-db.pcap");
    let convs = [
        netcap_tests::synth_db::tds_conversation(1_700_000_000_000_000_000),
        netcap_tests::synth_db::mongo_conversation(1_700_000_001_000_000_000),
    ];
    let pkts = netcap_tests::synth_stream::merge(&[&convs[0], &convs[1]]);
    netcap_tests::pcap::write_pcap(&synth, netcap_tests::pcap::LINKTYPE_ETHERNET, true, &pkts).expect("write pcap");
    let before = (t.tds.2, t.mongo.2);
    login7_credentials(&synth, &dir);
    add(&mut t.tds, compare_tds(&synth, &dir, &mut problems));
    add(&mut t.mongo, compare_mongo(&synth, &dir, &mut problems));
    assert!(t.tds.2 >= before.0 + 15 && t.mongo.2 >= before.1 + 40, "synthesized capture not compared: {t:?}");
    problems.truncate(20);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(t.tds.1 >= 10 && t.redis.1 >= 20 && t.mongo.1 >= 4, "too little compared: {t:?}");
    eprintln!("compared with tshark (captures, connections, entries): {t:?}");
}

/// The TDS, Redis and MongoDB record files are byte-identical for 1 and 3 workers on captures
/// with several interleaved connections.
#[test]
fn tds_redis_mongodb_records_identical_for_any_worker_count() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-database2-det");
    let names = ["ndpi_mssql_tds.pcap", "tcpdump_resp_3_malicious.pcap", "packetbeat_mongo_3.0_session.pcap"];
    let files: Vec<PathBuf> = corpus_files(&["databases"])
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| names.iter().any(|x| n == *x)))
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        let (out1, out3) = (dir.path().join(format!("{i}-1")), dir.path().join(format!("{i}-3")));
        let problems = netcap_tests::capture_1_and_3_workers(f, "TDS,Redis,MongoDB", &out1, &out3);
        assert!(!netcap_tests::file_names(&out1).is_empty(), "{}: no records", f.display());
        assert!(problems.is_empty(), "{problems:?}");
    }
}
