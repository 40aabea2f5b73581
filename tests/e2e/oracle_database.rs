//! PostgreSQL and MySQL records (the `database` stream decoder) agree with tshark on every
//! corpus capture in which tshark dissects `pgsql` or `mysql`, and on a capture synthesized
//! from the protocol documentation (`netcap_tests::synth_database`) with a result split over
//! several TCP segments and pipelined requests.
//!
//! Our records are exchanges (a request with its response); tshark's are messages. So each
//! connection's exchanges are flattened into the lists tshark has per connection, in order:
//! PostgreSQL startup parameters, the server's ParameterStatus of the startup, authentication
//! requests, statement texts, command tags, error codes, ReadyForQuery statuses and the number
//! of DataRow messages; MySQL greeting, handshake response, commands, statements, errors,
//! OK packets' affected rows and result sets' column counts. The time of each statement's
//! exchange must be the time of tshark's frame with it (of its first segment when tshark
//! reassembled it). One tshark pass and one netcap run per capture.

use netcap_proto::v1::{MySql, PostgreSql};
use netcap_tests::{TempDir, capture, files_with, have_tshark, parse_ns, parse_num, records};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

const FIELDS: [&str; 34] = [
    "frame.number",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.segment",
    "tcp.analysis.retransmission",
    // PostgreSQL (10..)
    "pgsql.type",
    "pgsql.parameter_name",
    "pgsql.parameter_value",
    "pgsql.authtype",
    "pgsql.query",
    "pgsql.tag",
    "pgsql.code",
    "pgsql.status",
    // MySQL (18..)
    "mysql.version",
    "mysql.thread_id",
    "mysql.caps.server",
    "mysql.extcaps.server",
    "mysql.auth_plugin",
    "mysql.user",
    "mysql.schema",
    "mysql.client_auth_plugin",
    "mysql.caps.client",
    "mysql.extcaps.client",
    "mysql.command",
    "mysql.query",
    "mysql.error_code",
    "mysql.sqlstate",
    "mysql.affected_rows",
    "mysql.num_fields",
];

/// Occurrences of a field are joined by this (statement texts contain commas).
pub(crate) const AGG: char = '\u{1f}';

/// One packet of tshark's output: its columns, each split into occurrences.
pub(crate) struct Pkt(Vec<Vec<String>>);

impl Pkt {
    pub(crate) fn all(&self, i: usize) -> &[String] {
        &self.0[i]
    }

    pub(crate) fn one(&self, i: usize) -> String {
        self.0[i].first().cloned().unwrap_or_default()
    }
}

/// tshark's `-T fields` output (occurrences joined by [`AGG`]) as packets of `n` columns.
pub(crate) fn packets_of(stdout: &[u8], n: usize) -> Vec<Pkt> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let mut cols: Vec<Vec<String>> = l
                .split('\t')
                .map(|c| if c.is_empty() { Vec::new() } else { c.split(AGG).map(str::to_string).collect() })
                .collect();
            cols.resize(n, Vec::new());
            Pkt(cols)
        })
        .collect()
}

fn tshark_packets(file: &Path) -> Vec<Pkt> {
    let mut c = Command::new("tshark");
    c.args(["-n", "-r"]).arg(file);
    c.args(["-T", "fields", "-E", "separator=/t", "-E", "quote=n", "-E", "occurrence=a"]);
    c.arg(format!("-Eaggregator={AGG}"));
    for f in FIELDS {
        c.args(["-e", f]);
    }
    let out = c.output().expect("run tshark");
    packets_of(&out.stdout, FIELDS.len())
}

/// A connection: client address and port, server address and port.
pub(crate) type ConnKey = (String, u32, String, u32);

/// tshark's statement time: the frame's, or its first segment's when it reassembled the
/// message (only the first message of a frame can start in an earlier segment).
fn msg_time(p: &Pkt, times: &HashMap<u64, i64>, first: bool) -> i64 {
    let own = parse_ns(&p.one(1)).unwrap_or(0);
    match p.all(8).first().and_then(|s| s.parse::<u64>().ok()) {
        Some(seg) if first => times.get(&seg).copied().unwrap_or(own),
        _ => own,
    }
}

/// tshark's packets of the protocol on `port`, per connection, with the direction
/// (true: client to server), skipping retransmissions (column `retransmission`; our reassembly
/// delivers each byte once). Columns 2 to 7: ip.src, ipv6.src, ip.dst, ipv6.dst, ports.
pub(crate) fn per_conn(pkts: &[Pkt], port: u32, retransmission: usize) -> BTreeMap<ConnKey, Vec<(bool, &Pkt)>> {
    let mut m: BTreeMap<ConnKey, Vec<(bool, &Pkt)>> = BTreeMap::new();
    for p in pkts {
        if !p.all(retransmission).is_empty() {
            continue;
        }
        let addr = |a: usize, b: usize| if p.all(a).is_empty() { p.one(b) } else { p.one(a) };
        let (src, dst) = (addr(2, 3), addr(4, 5));
        let (sp, dp) = (p.one(6).parse().unwrap_or(0), p.one(7).parse().unwrap_or(0));
        let key = if dp == port {
            (src, sp, dst, dp)
        } else if sp == port {
            (dst, dp, src, sp)
        } else {
            continue;
        };
        m.entry(key).or_default().push((dp == port, p));
    }
    m
}

fn run_netcap(file: &Path, dir: &TempDir) -> PathBuf {
    let out = dir.path().join(format!("out-{}", file.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::create_dir_all(&out).expect("mkdir");
    let o = capture(file, &out, &["--include", "PostgreSQL,MySQL"]);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "netcap failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A statement as tshark prints it (control characters escaped).
fn escaped(s: &str) -> String {
    s.replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

fn num(s: &str) -> String {
    parse_num(s).map_or_else(|| format!("?{s}"), |v| v.to_string())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// One connection's PostgreSQL as lists.
#[derive(Debug, Default, PartialEq)]
struct PgView {
    ssl: usize,
    startup: Vec<String>,
    server_params: Vec<String>,
    auth: Vec<String>,
    queries: Vec<(i64, String)>,
    tags: Vec<String>,
    codes: Vec<String>,
    statuses: Vec<String>,
    rows: u64,
}

fn pg_theirs(pkts: &[Pkt], times: &HashMap<u64, i64>) -> BTreeMap<ConnKey, PgView> {
    let mut m = BTreeMap::new();
    for (k, ps) in per_conn(pkts, 5432, 9) {
        let mut v = PgView::default();
        let mut ready = false;
        for (to_server, p) in ps {
            if p.all(10).is_empty() {
                continue;
            }
            let (names, values) = (p.all(11), p.all(12));
            let params = names.iter().zip(values).map(|(n, x)| format!("{n}={x}"));
            if to_server {
                v.ssl += p.all(10).iter().filter(|t| *t == "SSL request").count();
                v.startup.extend(params);
                for (i, q) in p.all(14).iter().enumerate() {
                    v.queries.push((msg_time(p, times, i == 0), q.clone()));
                }
                continue;
            }
            // The server's ParameterStatus messages up to the first ReadyForQuery.
            let mut params = params;
            for t in p.all(10) {
                match t.as_str() {
                    "Parameter status" if !ready => v.server_params.extend(params.next()),
                    "Parameter status" => drop(params.next()),
                    "Ready for query" => ready = true,
                    "Data row" => v.rows += 1,
                    _ => {}
                }
            }
            v.auth.extend(p.all(13).iter().map(|a| num(a)).filter(|a| a != "0"));
            v.tags.extend(p.all(15).iter().cloned());
            v.codes.extend(p.all(16).iter().cloned());
            v.statuses.extend(p.all(17).iter().map(|s| num(s)));
        }
        m.insert(k, v);
    }
    m
}

fn pg_ours(recs: &[PostgreSql]) -> BTreeMap<ConnKey, PgView> {
    let mut m: BTreeMap<ConnKey, PgView> = BTreeMap::new();
    for r in recs {
        let v = m.entry((r.src_ip.clone(), r.src_port, r.dst_ip.clone(), r.dst_port)).or_default();
        v.ssl += usize::from(r.kind == "ssl");
        v.startup.extend(r.parameters.iter().cloned());
        v.server_params.extend(r.server_parameters.iter().cloned());
        v.auth.extend(r.auth_methods.iter().map(u32::to_string));
        v.queries.extend(r.queries.iter().map(|q| (r.timestamp, escaped(q))));
        v.tags.extend(r.command_tags.iter().cloned());
        v.codes.extend((!r.error_code.is_empty()).then(|| r.error_code.clone()));
        v.statuses.extend(r.transaction_status.bytes().next().map(|b| b.to_string()));
        v.rows += r.rows;
    }
    m
}

// ---------------------------------------------------------------------------------------------
// MySQL

/// One connection's MySQL as lists.
#[derive(Debug, Default, PartialEq)]
struct MyView {
    greeting: Vec<String>,
    login: Vec<String>,
    commands: Vec<(i64, String)>,
    queries: Vec<String>,
    errors: Vec<String>,
    affected: Vec<String>,
    fields: Vec<String>,
}

fn my_theirs(pkts: &[Pkt], times: &HashMap<u64, i64>) -> BTreeMap<ConnKey, MyView> {
    let mut m = BTreeMap::new();
    for (k, ps) in per_conn(pkts, 3306, 9) {
        let mut v = MyView::default();
        for (to_server, p) in ps {
            let caps = |lo: usize, hi: usize| {
                let lo = parse_num(&p.one(lo)).unwrap_or(0);
                let hi = parse_num(&p.one(hi)).unwrap_or(0);
                lo | hi << 16
            };
            if to_server {
                if !p.all(23).is_empty() {
                    v.login.push(format!("{}/{}/{}/{}", p.one(23), p.one(24), p.one(25), caps(26, 27)));
                } else if !p.all(26).is_empty() {
                    // A handshake response that stops after the capabilities: an SSL request.
                    v.login.push(format!("ssl/{}", caps(26, 27)));
                }
                for (i, c) in p.all(28).iter().enumerate() {
                    v.commands.push((msg_time(p, times, i == 0), num(c)));
                }
                v.queries.extend(p.all(29).iter().cloned());
            } else {
                if !p.all(18).is_empty() {
                    v.greeting.push(format!("{}/{}/{}/{}", p.one(18), p.one(19), caps(20, 21), p.one(22)));
                }
                let states = p.all(31);
                for (i, e) in p.all(30).iter().enumerate() {
                    v.errors.push(format!("{}/{}", e, states.get(i).map_or("", String::as_str)));
                }
                v.affected.extend(p.all(32).iter().cloned());
                v.fields.extend(p.all(33).iter().cloned());
            }
        }
        m.insert(k, v);
    }
    m
}

fn my_ours(recs: &[MySql]) -> BTreeMap<ConnKey, MyView> {
    let mut m: BTreeMap<ConnKey, MyView> = BTreeMap::new();
    for r in recs {
        let v = m.entry((r.src_ip.clone(), r.src_port, r.dst_ip.clone(), r.dst_port)).or_default();
        if r.kind == "handshake" {
            if r.protocol_version == 10 {
                v.greeting.push(format!(
                    "{}/{}/{}/{}",
                    r.server_version, r.connection_id, r.server_capabilities, r.server_auth_plugin
                ));
            }
            if r.ssl_requested {
                v.login.push(format!("ssl/{}", r.client_capabilities));
            } else if !r.user.is_empty() || r.client_capabilities != 0 {
                v.login.push(format!("{}/{}/{}/{}", r.user, r.database, r.client_auth_plugin, r.client_capabilities));
            }
        } else {
            v.commands.push((r.timestamp, r.command.to_string()));
            if matches!(r.command, 3 | 22) {
                v.queries.push(escaped(&r.query));
            }
        }
        match r.response.as_str() {
            "error" => v.errors.push(format!("{}/{}", r.error_code, r.sql_state)),
            "ok" => v.affected.push(r.affected_rows.to_string()),
            "result_set" if r.command != 4 => v.fields.push(r.num_fields.to_string()),
            _ => {}
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------

fn compare<V: PartialEq + std::fmt::Debug>(
    name: &str,
    ours: &BTreeMap<ConnKey, V>,
    theirs: &BTreeMap<ConnKey, V>,
    problems: &mut Vec<String>,
) -> usize {
    let keys: std::collections::BTreeSet<&ConnKey> = ours.keys().chain(theirs.keys()).collect();
    for k in &keys {
        if ours.get(*k) != theirs.get(*k) {
            problems.push(format!("{name} {k:?}:\n  ours   {:?}\n  tshark {:?}", ours.get(*k), theirs.get(*k)));
        }
    }
    keys.len()
}

/// Every frame's time (ns), by frame number.
fn frame_times(pkts: &[Pkt]) -> HashMap<u64, i64> {
    pkts.iter().filter_map(|p| Some((p.one(0).parse().ok()?, parse_ns(&p.one(1))?))).collect()
}

/// Compares one capture; returns (PostgreSQL connections, MySQL connections) compared.
fn compare_file(file: &Path, dir: &TempDir, problems: &mut Vec<String>) -> (usize, usize) {
    let out = run_netcap(file, dir);
    let pkts = tshark_packets(file);
    let times = frame_times(&pkts);
    let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let pg_o: BTreeMap<ConnKey, PgView> = pg_ours(&records::<PostgreSql>(&out, "PostgreSQL"))
        .into_iter()
        .filter(|(_, v)| *v != PgView::default())
        .collect();
    let pg_t: BTreeMap<ConnKey, PgView> =
        pg_theirs(&pkts, &times).into_iter().filter(|(_, v)| *v != PgView::default()).collect();
    let my_o = my_ours(&records::<MySql>(&out, "MySQL"));
    let mut my_t: BTreeMap<ConnKey, MyView> =
        my_theirs(&pkts, &times).into_iter().filter(|(_, v)| *v != MyView::default()).collect();
    if name == "pcapplusplus_mysql.pcapng" {
        // A deliberate difference: the capture begins with the client's handshake response
        // (sequence id 1; user root, database sakila, plugin caching_sha2_password), which
        // tshark, without the greeting, takes for a command 141 (0x8d, the low octet of the
        // capability flags), and the server's result set packets that follow for an OK.
        let v = my_t.values_mut().next().expect("the connection");
        assert_eq!(v.commands.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(), ["141"]);
        (v.commands, v.affected) = (Vec::new(), Vec::new());
        v.login.push(format!("root/sakila/caching_sha2_password/{}", 0x19ff_a68d_u32));
    }
    (compare(&name, &pg_o, &pg_t, problems), compare(&name, &my_o, &my_t, problems))
}

#[test]
fn databases_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-database");
    let mut problems = Vec::new();
    let (mut pg, mut my) = (0, 0);
    for f in files_with(&["pgsql", "mysql"]) {
        let (a, b) = compare_file(&f, &dir, &mut problems);
        pg += a;
        my += b;
    }
    problems.truncate(20);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(pg >= 10 && my >= 8, "only {pg} PostgreSQL and {my} MySQL connections compared");
    eprintln!("compared {pg} PostgreSQL and {my} MySQL connections with tshark");
}

/// The database record files are byte-identical for 1 and 3 workers on captures with several
/// interleaved connections.
#[test]
fn database_records_identical_for_any_worker_count() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-database-det");
    let files: Vec<PathBuf> = files_with(&["pgsql", "mysql"])
        .into_iter()
        .filter(|f| f.ends_with("ndpi_pgsql.pcap") || f.ends_with("ndpi_mysql.pcapng"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        let (out1, out3) = (dir.path().join(format!("{i}-1")), dir.path().join(format!("{i}-3")));
        let problems = netcap_tests::capture_1_and_3_workers(f, "PostgreSQL,MySQL", &out1, &out3);
        assert!(!netcap_tests::file_names(&out1).is_empty(), "{}: no database records", f.display());
        assert!(problems.is_empty(), "{problems:?}");
    }
}
