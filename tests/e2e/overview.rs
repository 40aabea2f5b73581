//! `netcap stats DIR --json` equals the same aggregates computed here from `netcap dump --json`
//! of each record file (the fields read by name from the JSON lines, summed and ranked by this
//! test's own code), on corpus captures with HTTP, TLS, DNS, SSH and DHCP.

use netcap_tests::{Shared, files_with, netcap, shared_capture};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const TOP: usize = 7;

/// The JSON lines of one record file.
fn lines(dir: &Path, ty: &str) -> Vec<Value> {
    let path = dir.join(format!("{ty}.ncap.zst"));
    if !path.exists() {
        return Vec::new();
    }
    let o = netcap(&["dump", "-r", path.to_str().expect("utf-8"), "--json"]);
    assert!(o.status.success(), "dump {ty}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// JSON renders 64-bit integers as strings (as protobuf's JSON mapping does) or numbers.
fn n(v: &Value, k: &str) -> u64 {
    match v.get(k) {
        Some(Value::String(t)) => t.parse().unwrap_or(0),
        Some(x) => x.as_u64().unwrap_or(0),
        None => 0,
    }
}

/// Ranks `(key -> (count, bytes))` the way the issue asks for: by bytes or by count, then the
/// other, then by key; the top rows as `[key, count, bytes]`.
fn ranked(m: HashMap<String, (u64, u64)>, by_bytes: bool, top: usize) -> Vec<(String, u64, u64)> {
    let mut v: Vec<(String, u64, u64)> = m.into_iter().map(|(k, (c, b))| (k, c, b)).collect();
    let rank = |r: &(String, u64, u64)| if by_bytes { (r.2, r.1) } else { (r.1, r.2) };
    v.sort_by(|a, b| rank(b).cmp(&rank(a)).then_with(|| a.0.cmp(&b.0)));
    v.truncate(top);
    v
}

fn add(m: &mut HashMap<String, (u64, u64)>, k: String, bytes: u64) {
    let e = m.entry(k).or_default();
    e.0 += 1;
    e.1 += bytes;
}

/// The expected lists (`top` rows each), computed from the dumps.
pub(crate) fn expected(dir: &Path, top: usize) -> BTreeMap<&'static str, Vec<(String, u64, u64)>> {
    let mut talkers = HashMap::new();
    let mut convs = HashMap::new();
    let mut apps = HashMap::new();
    for c in lines(dir, "Connection") {
        let (src, dst, size) = (s(&c, "src_ip"), s(&c, "dst_ip"), n(&c, "total_size"));
        add(&mut talkers, src.into(), size);
        if dst != src {
            add(&mut talkers, dst.into(), size);
        }
        let (a, b) = if src <= dst { (src, dst) } else { (dst, src) };
        add(&mut convs, format!("{a} <-> {b}"), size);
        let app =
            if s(&c, "application_proto").is_empty() { s(&c, "transport_proto") } else { s(&c, "application_proto") };
        add(&mut apps, app.into(), size);
    }
    let mut names = HashMap::new();
    for d in lines(dir, "DNS") {
        for q in d.get("questions").and_then(Value::as_array).into_iter().flatten() {
            add(&mut names, s(q, "name").into(), 0);
        }
    }
    let mut tls = HashMap::new();
    for h in lines(dir, "TLSClientHello") {
        add(&mut tls, format!("{} ja3={} ja4={}", s(&h, "sni"), s(&h, "ja3"), s(&h, "ja4")), 0);
    }
    let (mut hosts, mut agents) = (HashMap::new(), HashMap::new());
    for h in lines(dir, "HTTP") {
        for (m, k) in [(&mut hosts, "host"), (&mut agents, "user_agent")] {
            if !s(&h, k).is_empty() {
                add(m, s(&h, k).into(), 0);
            }
        }
    }
    let mut ssh = HashMap::new();
    for r in lines(dir, "SSH").iter().filter(|r| !s(r, "ident").is_empty()) {
        add(&mut ssh, s(r, "ident").into(), 0);
    }
    let mut dhcp = HashMap::new();
    for r in lines(dir, "DHCPv4").iter().filter(|r| !s(r, "hostname").is_empty()) {
        add(&mut dhcp, format!("{} {}", s(r, "hostname"), s(r, "client_hw_addr")), 0);
    }
    BTreeMap::from([
        ("talkers", ranked(talkers, true, top)),
        ("conversations", ranked(convs, true, top)),
        ("applications", ranked(apps, true, top)),
        ("dns_names", ranked(names, false, top)),
        ("tls", ranked(tls, false, top)),
        ("http_hosts", ranked(hosts, false, top)),
        ("user_agents", ranked(agents, false, top)),
        ("ssh_software", ranked(ssh, false, top)),
        ("dhcp_hosts", ranked(dhcp, false, top)),
    ])
}

#[test]
fn stats_equal_the_aggregates_of_the_dumped_records() {
    let mut compared = 0;
    for proto in ["http", "tls", "dns", "ssh", "dhcp"] {
        let Some(f) = files_with(&[proto]).into_iter().next() else { continue };
        let dir = &shared_capture(&f, Shared::Default).dir;
        let o = netcap(&["stats", dir.to_str().expect("utf-8"), "--json", "--top", &TOP.to_string()]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let got: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
        for (list, want) in expected(dir, TOP) {
            let rows: Vec<(String, u64, u64)> = got[list]["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| (s(r, "key").to_string(), n(r, "count"), n(r, "bytes")))
                .collect();
            assert_eq!(rows, want, "{}: {list}", f.display());
            assert_eq!(got[list]["approximate"], Value::Bool(false));
            compared += rows.len();
        }
        // Records per type: the lines each file dumps.
        for (ty, count) in got["types"].as_object().expect("types") {
            assert_eq!(lines(dir, ty).len() as u64, count.as_u64().expect("a count"), "{}: {ty}", f.display());
        }
        let text = netcap(&["stats", dir.to_str().expect("utf-8")]);
        assert!(String::from_utf8_lossy(&text.stdout).starts_with("records per type\n"));
    }
    assert!(netcap_tests::corpus().is_none() || compared > 50, "only {compared} rows compared");
}
