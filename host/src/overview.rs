//! `netcap stats DIR`: what is in a directory of record files, as aggregates an analyst looks at
//! first: records per type, top talkers and conversations (by bytes, from Connection records),
//! application protocols, DNS names, TLS server names with their JA3/JA4, HTTP hosts and user
//! agents, SSH software and DHCP host names. Text tables for the terminal, or one JSON object.
//!
//! Records are read one at a time (any number of them). Each aggregate keeps at most
//! [`KEEP`] distinct keys between prunes: past `2 × KEEP` it keeps the `KEEP` largest and marks
//! itself `approximate` (counts of the kept keys are then lower bounds), so memory stays bounded
//! on any input. Third-party record types are counted like the standard ones.

use crate::dump::{ReadError, RecordFile};
use netcap_proto::v1;
use prost::Message;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::path::Path;

/// Distinct keys an aggregate keeps exactly (see the module doc).
pub const KEEP: usize = 100_000;

/// A count and a byte total per key, bounded.
#[derive(Debug, Default)]
pub struct Tally<K> {
    map: HashMap<K, (u64, u64)>,
    approximate: bool,
}

impl<K: Hash + Eq + Clone + Ord> Tally<K> {
    /// Adds one occurrence of `key` with `bytes`.
    pub fn add(&mut self, key: K, bytes: u64) {
        let e = self.map.entry(key).or_default();
        e.0 += 1;
        e.1 += bytes;
        if self.map.len() > 2 * KEEP {
            self.prune();
        }
    }

    fn prune(&mut self) {
        let mut v: Vec<(K, (u64, u64))> = self.map.drain().collect();
        v.sort_by(|a, b| (b.1.1, b.1.0).cmp(&(a.1.1, a.1.0)).then_with(|| a.0.cmp(&b.0)));
        v.truncate(KEEP);
        self.map = v.into_iter().collect();
        self.approximate = true;
    }

    /// The `n` keys with the most bytes (then the most occurrences, then the smallest key).
    pub fn top_by_bytes(&self, n: usize) -> Vec<(K, u64, u64)> {
        self.top(n, |c, b| (b, c))
    }

    /// The `n` keys seen most often (then the most bytes, then the smallest key).
    pub fn top_by_count(&self, n: usize) -> Vec<(K, u64, u64)> {
        self.top(n, |c, b| (c, b))
    }

    fn top(&self, n: usize, rank: impl Fn(u64, u64) -> (u64, u64)) -> Vec<(K, u64, u64)> {
        let mut v: Vec<(K, u64, u64)> = self.map.iter().map(|(k, (c, b))| (k.clone(), *c, *b)).collect();
        v.sort_by(|a, b| rank(b.1, b.2).cmp(&rank(a.1, a.2)).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// One row of a top list in the JSON output.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub count: u64,
    pub bytes: u64,
}

/// A top list in the JSON output.
#[derive(Debug, Serialize)]
pub struct Top {
    /// Whether keys were dropped while counting (counts are lower bounds).
    pub approximate: bool,
    pub rows: Vec<Row>,
}

/// One record file: its type, the decoder that wrote it, its records and its fields.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TypeInfo {
    pub name: String,
    pub decoder: String,
    pub records: u64,
    pub fields: Vec<String>,
}

/// Connections started per time bucket; the bucket width doubles whenever there would be more
/// than [`Timeline::MAX_BUCKETS`], so any capture length fits.
#[derive(Debug)]
pub struct Timeline {
    pub width_ns: i64,
    pub buckets: std::collections::BTreeMap<i64, u64>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline { width_ns: 1_000_000_000, buckets: Default::default() }
    }
}

impl Timeline {
    pub const MAX_BUCKETS: usize = 1000;

    pub fn add(&mut self, ts: i64) {
        *self.buckets.entry(ts.div_euclid(self.width_ns)).or_default() += 1;
        while self.buckets.len() > Self::MAX_BUCKETS {
            self.width_ns *= 2;
            let old = std::mem::take(&mut self.buckets);
            for (k, n) in old {
                *self.buckets.entry(k.div_euclid(2)).or_default() += n;
            }
        }
    }

    /// `(bucket start in ns, connections)` in time order.
    pub fn points(&self) -> Vec<(i64, u64)> {
        self.buckets.iter().map(|(k, n)| (k * self.width_ns, *n)).collect()
    }
}

/// Everything `netcap stats` computes.
#[derive(Debug, Default)]
pub struct Overview {
    /// Records per record type (file), by type name.
    pub types: Vec<(String, u64)>,
    /// Each record file's type, decoder, records and fields (third-party types too).
    pub type_info: Vec<TypeInfo>,
    /// Connections started over time.
    pub timeline: Timeline,
    /// Labels of `*_labeled.csv` files (`netcap label`), by label.
    pub labels: Tally<String>,
    /// From the capture's `.netcap.summary.json`: (`errors` | `unknown` | `faults`, kind, count),
    /// errors being those of dissection and of decoders.
    pub problems: Vec<(String, String, u64)>,
    /// Bytes per host address, both directions (Connection `total_size`).
    pub talkers: Tally<String>,
    /// Bytes per conversation (the two addresses, smaller first).
    pub conversations: Tally<String>,
    /// Connections and bytes per application protocol (else the transport).
    pub applications: Tally<String>,
    /// DNS question names (queries and responses).
    pub dns_names: Tally<String>,
    /// TLS client hellos per server name, JA3 and JA4.
    pub tls: Tally<String>,
    pub http_hosts: Tally<String>,
    pub user_agents: Tally<String>,
    /// SSH identification strings (client and server).
    pub ssh_software: Tally<String>,
    /// DHCPv4 host names with the client's hardware address.
    pub dhcp_hosts: Tally<String>,
    /// Files that could not be read to their end, with the reason.
    pub damaged: Vec<String>,
}

/// Reads every record file in `dir` (`*.ncap`, `*.ncap.zst`, `*.ncap.gz`).
pub fn read_dir(dir: &Path) -> Result<Overview, ReadError> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| ReadError::Open { path: dir.into(), source })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".ncap")))
        .collect();
    paths.sort();
    let mut o = Overview::default();
    for p in paths {
        let mut f = RecordFile::open(&p)?;
        let name = f.header.record_type.clone();
        let fields = f.renderer().map(|r| r.header()).unwrap_or_default();
        if let Err(e) = read_file(&mut f, &name, &mut o) {
            o.damaged.push(e.to_string());
        }
        o.types.push((name.clone(), f.records));
        o.type_info.push(TypeInfo { name, decoder: f.header.decoder.clone(), records: f.records, fields });
    }
    read_labels(dir, &mut o.labels);
    o.problems = read_problems(dir);
    Ok(o)
}

/// The error, unknown-packet and fault counts the capture left in `.netcap.summary.json` (none
/// when it is missing or unreadable, e.g. a directory written by an older netcap).
fn read_problems(dir: &Path) -> Vec<(String, String, u64)> {
    let Ok(text) = std::fs::read_to_string(dir.join(crate::outdir::SUMMARY_FILE)) else { return Vec::new() };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    let mut out = Vec::new();
    for section in ["errors", "unknown", "faults"] {
        for (kind, n) in v.get(section).and_then(serde_json::Value::as_object).into_iter().flatten() {
            out.push((section.to_string(), kind.clone(), n.as_u64().unwrap_or(0)));
        }
    }
    out
}

/// Counts the last column (`label`) of every `*_labeled.csv` in `dir`; empty labels are not
/// counted. Unreadable files are skipped.
fn read_labels(dir: &Path, labels: &mut Tally<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut files: Vec<_> =
        rd.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with("_labeled.csv")).collect();
    files.sort();
    for f in files {
        let Ok(mut r) = csv::Reader::from_path(&f) else { continue };
        for rec in r.records().flatten() {
            if let Some(l) = rec.iter().next_back().filter(|l| !l.is_empty()) {
                labels.add(l.to_string(), 0);
            }
        }
    }
}

/// Adds one file's records to `o`.
fn read_file(f: &mut RecordFile, name: &str, o: &mut Overview) -> Result<(), ReadError> {
    let mut buf = Vec::new();
    while f.next_record(&mut buf)? {
        match name {
            "Connection" => o.connection(&decode(f, &buf)?),
            "DNS" => o.dns(&decode(f, &buf)?),
            "TLSClientHello" => o.tls_hello(&decode(f, &buf)?),
            "HTTP" => o.http(&decode(f, &buf)?),
            "SSH" => o.ssh(&decode(f, &buf)?),
            "DHCPv4" => o.dhcp(&decode(f, &buf)?),
            _ => {}
        }
    }
    Ok(())
}

fn decode<M: Message + Default>(f: &RecordFile, buf: &[u8]) -> Result<M, ReadError> {
    M::decode(buf).map_err(|e| f.damaged(format!("record does not decode: {e}")))
}

impl Overview {
    fn connection(&mut self, c: &v1::Connection) {
        self.timeline.add(c.timestamp_first);
        self.talkers.add(c.src_ip.clone(), c.total_size);
        if c.dst_ip != c.src_ip {
            self.talkers.add(c.dst_ip.clone(), c.total_size);
        }
        let (a, b) = if c.src_ip <= c.dst_ip { (&c.src_ip, &c.dst_ip) } else { (&c.dst_ip, &c.src_ip) };
        self.conversations.add(format!("{a} <-> {b}"), c.total_size);
        let app = if c.application_proto.is_empty() { &c.transport_proto } else { &c.application_proto };
        self.applications.add(app.clone(), c.total_size);
    }

    fn dns(&mut self, d: &v1::Dns) {
        for q in &d.questions {
            self.dns_names.add(q.name.clone(), 0);
        }
    }

    fn tls_hello(&mut self, h: &v1::TlsClientHello) {
        self.tls.add(format!("{} ja3={} ja4={}", h.sni, h.ja3, h.ja4), 0);
    }

    fn http(&mut self, h: &v1::Http) {
        if !h.host.is_empty() {
            self.http_hosts.add(h.host.clone(), 0);
        }
        if !h.user_agent.is_empty() {
            self.user_agents.add(h.user_agent.clone(), 0);
        }
    }

    fn ssh(&mut self, s: &v1::Ssh) {
        if !s.ident.is_empty() {
            self.ssh_software.add(s.ident.clone(), 0);
        }
    }

    fn dhcp(&mut self, d: &v1::DhcPv4) {
        if !d.hostname.is_empty() {
            self.dhcp_hosts.add(format!("{} {}", d.hostname, d.client_hw_addr), 0);
        }
    }

    /// The aggregates by name, each with its top `n` rows, in the order the text shows them.
    pub fn lists(&self, n: usize) -> Vec<(&'static str, &'static str, bool, Top)> {
        let by_bytes = |t: &Tally<String>| Top { approximate: t.approximate, rows: rows(t.top_by_bytes(n)) };
        let by_count = |t: &Tally<String>| Top { approximate: t.approximate, rows: rows(t.top_by_count(n)) };
        vec![
            ("talkers", "top talkers (bytes, both directions)", true, by_bytes(&self.talkers)),
            ("conversations", "top conversations (bytes)", true, by_bytes(&self.conversations)),
            ("applications", "application protocols (connections)", true, by_bytes(&self.applications)),
            ("dns_names", "DNS names", false, by_count(&self.dns_names)),
            ("tls", "TLS server names and fingerprints", false, by_count(&self.tls)),
            ("http_hosts", "HTTP hosts", false, by_count(&self.http_hosts)),
            ("user_agents", "HTTP user agents", false, by_count(&self.user_agents)),
            ("ssh_software", "SSH software", false, by_count(&self.ssh_software)),
            ("dhcp_hosts", "DHCP host names", false, by_count(&self.dhcp_hosts)),
            ("labels", "labelled records per label", false, by_count(&self.labels)),
        ]
    }

    /// One JSON object: `types` (name to records), each top list, and the damaged files.
    pub fn to_json(&self, n: usize) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let types: serde_json::Map<String, serde_json::Value> =
            self.types.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(*v))).collect();
        m.insert("types".into(), types.into());
        for (key, _, _, top) in self.lists(n) {
            m.insert(key.into(), serde_json::to_value(top).unwrap_or_default());
        }
        m.insert("damaged".into(), serde_json::to_value(&self.damaged).unwrap_or_default());
        m.insert("problems".into(), serde_json::to_value(&self.problems).unwrap_or_default());
        m.into()
    }

    /// Text tables, the top `n` rows of each non-empty list.
    pub fn to_text(&self, n: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "records per type");
        for (name, count) in &self.types {
            let _ = writeln!(s, "  {:>14}  {name}", crate::stats::group(*count));
        }
        for (_, title, bytes, top) in self.lists(n) {
            if top.rows.is_empty() {
                continue;
            }
            let approx = if top.approximate { " (approximate: more keys than kept)" } else { "" };
            let _ = writeln!(s, "\n{title}{approx}");
            for r in &top.rows {
                let _ = match bytes {
                    true => writeln!(s, "  {:>14}  {:>8}  {}", crate::stats::group(r.bytes), r.count, r.key),
                    false => writeln!(s, "  {:>8}  {}", r.count, r.key),
                };
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(s, "\nerrors, unknown packets and faults (the capture's summary)");
            for (section, kind, n) in &self.problems {
                let _ = writeln!(s, "  {:>8}  {section}  {kind}", n);
            }
        }
        for d in &self.damaged {
            let _ = writeln!(s, "\ndamaged: {d}");
        }
        s
    }
}

fn rows(v: Vec<(String, u64, u64)>) -> Vec<Row> {
    v.into_iter().map(|(key, count, bytes)| Row { key, count, bytes }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_lists_rank_and_break_ties_by_key() {
        let mut t = Tally::default();
        for (k, b) in [("b", 10), ("a", 10), ("c", 5), ("c", 5), ("d", 1)] {
            t.add(k.to_string(), b);
        }
        let keys = |v: Vec<(String, u64, u64)>| v.into_iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(keys(t.top_by_bytes(3)), ["c", "a", "b"]);
        assert_eq!(keys(t.top_by_count(2)), ["c", "a"]);
        assert!(!t.approximate);
    }

    #[test]
    fn labels_are_the_last_column_of_labeled_csv_files() {
        let dir = std::env::temp_dir().join(format!("netcap-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("TCP_labeled.csv"), "ts,src,label\n1,a,scan\n2,b,\n3,c,scan\n").unwrap();
        std::fs::write(dir.join("UDP_labeled.csv"), "ts,label\n1,\"trojan, dns\"\n").unwrap();
        std::fs::write(dir.join("notes.csv"), "x,label\n1,ignored\n").unwrap();
        let mut t = Tally::default();
        read_labels(&dir, &mut t);
        std::fs::remove_dir_all(&dir).unwrap();
        let got: Vec<(String, u64)> = t.top_by_count(5).into_iter().map(|(k, c, _)| (k, c)).collect();
        assert_eq!(got, [("scan".to_string(), 2), ("trojan, dns".to_string(), 1)]);
    }

    #[test]
    fn the_timeline_coarsens_instead_of_growing() {
        let mut t = Timeline::default();
        for s in 0..5000i64 {
            t.add(s * 1_000_000_000);
        }
        assert!(t.buckets.len() <= Timeline::MAX_BUCKETS && t.width_ns == 8_000_000_000, "{}", t.width_ns);
        assert_eq!(t.points().iter().map(|p| p.1).sum::<u64>(), 5000);
        assert_eq!(t.points()[0], (0, 8));
    }

    #[test]
    fn memory_stays_bounded_and_large_keys_survive_a_prune() {
        let mut t = Tally::default();
        t.add(u64::MAX, 1_000_000);
        for k in 0..(2 * KEEP as u64 + 10) {
            t.add(k, 1);
        }
        assert!(t.map.len() <= 2 * KEEP && t.approximate);
        assert_eq!(t.top_by_bytes(1)[0].0, u64::MAX);
    }
}
