//! Stream decoder records (the `stream` decoder on the host's TCP reassembly) against independent
//! oracles on every corpus capture with the protocol:
//!
//! - JA3 / JA3S (hash and full string) equal tshark's `tls.handshake.ja3*` on every capture where
//!   tshark dissects TLS over TCP, as multisets per capture, and every hash of Suricata-verify's
//!   expected output (`oracles/suricata-verify-ja3.tsv`) is among our records of its capture.
//! - JA4 equals the FoxIO reference tool's output quoted by Suricata-verify's `ja4-tls` test
//!   (the specification's own vectors are unit tests in `plugins/stream`).
//! - HASSH / HASSHServer (hash and algorithm string) equal tshark's `ssh.kex.hassh*`.
//! - HTTP method, host, URI and user agent of every request, and the status code of every
//!   response, that tshark reports are in our HTTP records; records tshark does not have must be
//!   accounted for by counted truncation errors (tshark reports a message only once it is whole).
//! - DNS over TCP: id and first question name equal tshark's per message.
//!
//! Deliberate differences are listed with their reasons in `EXCEPTIONS`.

use netcap_proto::v1::{Dns, Http, Ssh, TlsClientHello, TlsServerHello};
use netcap_tests::{TempDir, corpus, files_with, have_tshark, is_dtls_version, netcap, records, tshark_fields};
use std::collections::BTreeMap;
use std::path::Path;

/// Captures where tshark and we differ on purpose (file name, protocol, reason).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "pcapplusplus_pcapng-example.pcapng",
        "tls",
        "TLS after the MySQL SSL request: tshark follows MySQL's switch to TLS; the stream decoder does not (the stream is MySQL)",
    ),
    (
        "ndpi_mysql.pcapng",
        "tls",
        "TLS after the MySQL SSL request: tshark follows the upgrade to TLS; the stream decoder does not yet (STARTTLS and upgrades: the mail/files and internet protocol issues)",
    ),
    (
        "suricata-verify_pgsql_pgsql-upgrade-tls.pcap",
        "tls",
        "TLS after the PostgreSQL SSLRequest: tshark follows the upgrade to TLS; the stream decoder does not yet (STARTTLS and upgrades: the mail/files and internet protocol issues)",
    ),
    (
        "ndpi_openvpn.pcap",
        "tls",
        "TLS inside OpenVPN's control channel: tshark dissects OpenVPN framing; the stream decoder does not yet (OpenVPN: the internet protocol issue)",
    ),
    (
        "ndpi_openvpn_nohmac_tcp.pcapng",
        "tls",
        "TLS inside OpenVPN's control channel: tshark dissects OpenVPN framing; the stream decoder does not yet (OpenVPN: the internet protocol issue)",
    ),
    (
        "ndpi_443-opvn.pcap",
        "tls",
        "TLS inside OpenVPN's control channel: tshark dissects OpenVPN framing; the stream decoder does not yet (OpenVPN: the internet protocol issue)",
    ),
    (
        "ndpi_tls_heur__trojan-tcp-tls.pcapng",
        "tls",
        "the hellos of one connection inside a SOCKS tunnel (port 1080): tshark follows SOCKS; the stream decoder does not yet (SOCKS: the internet protocol issue)",
    ),
    (
        "ndpi_tls_heur__vmess-tcp.pcapng",
        "tls",
        "the hellos of one connection inside a SOCKS tunnel (port 1080): tshark follows SOCKS; the stream decoder does not yet (SOCKS: the internet protocol issue)",
    ),
    (
        "ndpi_socks.pcap",
        "http",
        "HTTP inside SOCKS tunnels: tshark follows SOCKS; the stream decoder does not yet (SOCKS: the internet protocol issue)",
    ),
    (
        "tcpdump_ipoib.pcap",
        "ssh",
        "link type IP over InfiniBand: the host does not dissect it (no TCP layer, no stream)",
    ),
    (
        "tcpdump_arcnet-rfc1201-arp-icmp-http.pcap",
        "http",
        "link type ARCNET: the host does not dissect it (no TCP layer)",
    ),
    ("zeek_nflog-http.pcap", "http", "link type NFLOG: the host does not dissect it (no TCP layer)"),
    (
        "zeek_tunnels_ayiya3.pcap",
        "http",
        "AYIYA tunnel (IPv6 in UDP 5072): the host does not dissect it (no inner TCP)",
    ),
    (
        "pcapplusplus_dns_over_tcp.pcapng",
        "dns",
        "the repeated segment comes 6 years after the first: the host's idle timeout ended the connection and the segment \
         starts a new one (decoded), while tshark, which has no timeout, calls it a retransmission",
    ),
];

/// Captures where we have HTTP records tshark lacks beyond what counted errors explain, with
/// how many and why.
const HTTP_EXTRA: &[(&str, usize, &str)] = &[(
    "pcapplusplus_many-protocols.pcap",
    2,
    "two responses (ports 55282, 55297) whose server sent FIN before its last data segment and then \
     retransmitted that segment with FIN: tshark does not reassemble them, our reassembly does",
)];

/// tshark options per capture (Decode-As), where tshark's port-based choice misses the protocol
/// that the stream decoder finds by content.
///
/// `zeek_tls_hrr.pcap`: the real ServerHello after the HelloRetryRequest comes out of order;
/// tshark 4.0 reassembles it (and agrees with both our server hellos) only when asked to.
const DECODE_AS: &[(&str, &[&str])] = &[
    ("zeek_tls_https-to-http.pcap", &["-d", "tcp.port==80,tls"]),
    ("zeek_tls_hrr.pcap", &["-o", "tcp.reassemble_out_of_order:TRUE"]),
];

fn excepted(f: &Path, proto: &str) -> Option<&'static str> {
    let name = f.file_name()?.to_str()?;
    EXCEPTIONS.iter().find(|(n, p, _)| *n == name && *p == proto).map(|(_, _, why)| *why)
}

fn decode_as(f: &Path) -> Vec<&'static str> {
    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    DECODE_AS.iter().filter(|(n, _)| *n == name).flat_map(|(_, a)| a.iter().copied()).collect()
}

/// Runs netcap on `f` (only the stream decoder's types) and returns the output directory and
/// the error counts of the summary (kind → count).
fn run(f: &Path, types: &str) -> (TempDir, BTreeMap<String, u64>) {
    let dir = TempDir::new("stream");
    let o = netcap(&[
        "capture",
        "-r",
        f.to_str().expect("utf-8 path"),
        "-o",
        dir.path().to_str().expect("utf-8 path"),
        "--include",
        types,
    ]);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "netcap failed on {}: {}",
        f.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    (dir, error_counts(&summary))
}

/// The error counts of a capture summary (lines `  <kind> <count>`, counts grouped with
/// commas) for the stream decoder's kinds.
fn error_counts(summary: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for line in summary.lines() {
        // "  stream: http: response truncated     3" (decoder id, then the kind)
        let l = line.trim();
        let l = l.strip_prefix("stream:").unwrap_or(l).trim();
        if !["http:", "tls:", "ssh:", "dns:"].iter().any(|p| l.starts_with(p)) {
            continue;
        }
        if let Some((kind, n)) = l.rsplit_once(char::is_whitespace)
            && let Ok(n) = n.replace(',', "").parse::<u64>()
        {
            *m.entry(kind.trim().to_string()).or_insert(0) += n;
        }
    }
    m
}

fn multiset<T: Ord + Clone>(v: &[T]) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for x in v {
        *m.entry(x.clone()).or_insert(0) += 1;
    }
    m
}

/// `(a - b)` as a multiset.
fn missing<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut have = multiset(b);
    let mut out = Vec::new();
    for x in a {
        match have.get_mut(x) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(x.clone()),
        }
    }
    out
}

/// tshark rows of `fields` for TCP packets only (TLS in QUIC is not the stream decoder's).
fn tcp_rows(f: &Path, fields: &[&str], filter: &str) -> Vec<Vec<String>> {
    let mut all = vec!["frame.protocols"];
    all.extend_from_slice(fields);
    let mut extra = decode_as(f);
    extra.extend(["-Y", filter]);
    let rows = tshark_fields(f, &all, &extra).unwrap_or_default();
    rows.into_iter()
        .filter(|r| r.first().is_some_and(|p| p.split(':').any(|t| t == "tcp")))
        .map(|mut r| {
            r.remove(0);
            r
        })
        .collect()
}

/// Splits a tshark cell with several occurrences (`a,b`) when the field is a hash (no commas in
/// the values themselves).
fn cells(c: &str) -> impl Iterator<Item = &str> {
    c.split(',').filter(|s| !s.is_empty())
}

#[test]
fn tls_ja3_ja3s_agree_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["tls"]);
    assert!(files.len() >= 30, "expected the corpus' TLS captures, found {}", files.len());
    let (mut hellos, mut files_compared) = (0usize, 0usize);
    let mut failures = Vec::new();
    for f in &files {
        if let Some(why) = excepted(f, "tls") {
            eprintln!("exception {}: {why}", f.display());
            continue;
        }
        // ja3_full contains commas: one field per run.
        let ch = tcp_rows(f, &["tls.handshake.ja3", "tls.handshake.ja3_full"], "tls.handshake.type == 1");
        let sh = tcp_rows(f, &["tls.handshake.ja3s", "tls.handshake.ja3s_full"], "tls.handshake.type == 2");
        let mut t_ja3: Vec<String> =
            ch.iter().flat_map(|r| cells(&r[0]).map(str::to_string).collect::<Vec<_>>()).collect();
        let mut t_ja3s: Vec<String> =
            sh.iter().flat_map(|r| cells(&r[0]).map(str::to_string).collect::<Vec<_>>()).collect();
        let (dir, _) = run(f, "TLSClientHello,TLSServerHello");
        // Only the hellos of TLS over TCP (those in QUIC have no record layer: type and record
        // version 0; they are compared in `oracle_quic`; DTLS ones in `oracle_inet`).
        let c: Vec<TlsClientHello> = records(dir.path(), "TLSClientHello")
            .into_iter()
            .filter(|r: &TlsClientHello| r.r#type != 0 && !is_dtls_version(r.version))
            .collect();
        let s: Vec<TlsServerHello> = records(dir.path(), "TLSServerHello")
            .into_iter()
            .filter(|r: &TlsServerHello| r.record_version != 0 && !is_dtls_version(r.record_version))
            .collect();
        let mut o_ja3: Vec<String> = c.iter().filter(|r| !r.ja3.is_empty()).map(|r| r.ja3.clone()).collect();
        let mut o_ja3s: Vec<String> = s.iter().filter(|r| !r.ja3s.is_empty()).map(|r| r.ja3s.clone()).collect();
        for v in [&mut t_ja3, &mut t_ja3s, &mut o_ja3, &mut o_ja3s] {
            v.sort();
        }
        // The full strings, where a packet has one hello (tshark joins several with commas,
        // which the strings contain themselves).
        for (row, ours) in ch.iter().filter(|r| !r[0].contains(',')).map(|r| (r, &c)) {
            if !row[0].is_empty() && !ours.iter().any(|r| r.ja3 == row[0] && r.ja3_full == row[1]) {
                failures.push(format!("{}: ja3 {} / {:?} not in our records", f.display(), row[0], row[1]));
            }
        }
        for row in sh.iter().filter(|r| !r[0].contains(',')) {
            if !row[0].is_empty() && !s.iter().any(|r| r.ja3s == row[0] && r.ja3s_full == row[1]) {
                failures.push(format!("{}: ja3s {} / {:?} not in our records", f.display(), row[0], row[1]));
            }
        }
        if o_ja3 != t_ja3 {
            failures.push(format!("{}: ja3 ours {:?} tshark {:?}", f.display(), o_ja3, t_ja3));
        }
        if o_ja3s != t_ja3s {
            failures.push(format!("{}: ja3s ours {:?} tshark {:?}", f.display(), o_ja3s, t_ja3s));
        }
        hellos += t_ja3.len() + t_ja3s.len();
        files_compared += 1;
    }
    eprintln!("TLS: {hellos} hellos (JA3 + JA3S) in {files_compared} captures compared with tshark");
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(hellos > 600, "too few hellos compared: {hellos}");
}

#[test]
fn tls_ja3_agrees_with_suricata_verify() {
    let Some(root) = corpus() else { return };
    let tsv = std::fs::read_to_string(root.join("oracles").join("suricata-verify-ja3.tsv")).expect("oracle TSV");
    let mut checked = 0;
    let mut by_file: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in tsv.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let (pcap, ja3, ja3_str, ja3s, ja3s_str) = (c[0], c[5], c[6], c[7], c.get(8).copied().unwrap_or(""));
        let e = by_file.entry(pcap.to_string()).or_default();
        if !ja3.is_empty() {
            e.push((format!("ja3 {ja3}"), ja3_str.to_string()));
        }
        if !ja3s.is_empty() {
            e.push((format!("ja3s {ja3s}"), ja3s_str.to_string()));
        }
    }
    for (pcap, want) in by_file {
        let (dir, _) = run(&root.join(&pcap), "TLSClientHello,TLSServerHello");
        let c: Vec<TlsClientHello> = records(dir.path(), "TLSClientHello");
        let s: Vec<TlsServerHello> = records(dir.path(), "TLSServerHello");
        for (hash, full) in want {
            let ok = match hash.split_once(' ') {
                Some(("ja3", h)) => c.iter().any(|r| r.ja3 == h && r.ja3_full == full),
                Some((_, h)) => s.iter().any(|r| r.ja3s == h && r.ja3s_full == full),
                None => false,
            };
            assert!(ok, "{pcap}: Suricata-verify's {hash} ({full}) not among our records");
            checked += 1;
        }
    }
    eprintln!("Suricata-verify JA3/JA3S: {checked} expected fingerprints found");
    assert!(checked >= 9);
}

/// JA4 of the capture of Suricata-verify's `ja4-tls` test, as the FoxIO reference tool computes
/// it (quoted in that test's README: `ja4: t12i1810s1_27d4652c4487_06a4338d0495`; Suricata's
/// expected eve output has the same value).
#[test]
fn tls_ja4_agrees_with_reference_tool() {
    let Some(root) = corpus() else { return };
    let (dir, _) = run(&root.join("tls").join("suricata-verify_ja4-tls.pcap"), "TLSClientHello");
    let c: Vec<TlsClientHello> = records(dir.path(), "TLSClientHello");
    assert_eq!(c.iter().map(|r| r.ja4.as_str()).collect::<Vec<_>>(), ["t12i1810s1_27d4652c4487_06a4338d0495"]);
}

#[test]
fn ssh_hassh_agrees_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["ssh"]);
    assert!(files.len() >= 8, "expected the corpus' SSH captures, found {}", files.len());
    let mut compared = 0;
    let mut failures = Vec::new();
    for f in &files {
        if let Some(why) = excepted(f, "ssh") {
            eprintln!("exception {}: {why}", f.display());
            continue;
        }
        let rows = tcp_rows(
            f,
            &["ssh.kex.hassh", "ssh.kex.hassh_algorithms", "ssh.kex.hasshserver", "ssh.kex.hasshserver_algorithms"],
            "ssh.kex.hassh || ssh.kex.hasshserver",
        );
        let mut t_client: Vec<(String, String)> = Vec::new();
        let mut t_server: Vec<(String, String)> = Vec::new();
        for r in &rows {
            if !r[0].is_empty() {
                t_client.push((r[0].clone(), r[1].clone()));
            }
            if !r[2].is_empty() {
                t_server.push((r[2].clone(), r[3].clone()));
            }
        }
        let (dir, _) = run(f, "SSH");
        let recs: Vec<Ssh> = records(dir.path(), "SSH");
        let mut o_client: Vec<(String, String)> = recs
            .iter()
            .filter(|r| r.is_client && !r.hassh.is_empty())
            .map(|r| (r.hassh.clone(), r.algorithms.clone()))
            .collect();
        let mut o_server: Vec<(String, String)> = recs
            .iter()
            .filter(|r| !r.is_client && !r.hassh.is_empty())
            .map(|r| (r.hassh.clone(), r.algorithms.clone()))
            .collect();
        for v in [&mut t_client, &mut t_server, &mut o_client, &mut o_server] {
            v.sort();
        }
        if o_client != t_client {
            failures.push(format!("{}: hassh ours {o_client:?} tshark {t_client:?}", f.display()));
        }
        if o_server != t_server {
            failures.push(format!("{}: hasshServer ours {o_server:?} tshark {t_server:?}", f.display()));
        }
        compared += t_client.len() + t_server.len();
    }
    eprintln!("SSH: {compared} HASSH/HASSHServer values compared with tshark");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 20, "too few: {compared}");
}

#[test]
fn http_agrees_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["http"]);
    assert!(files.len() >= 40, "expected the corpus' HTTP captures, found {}", files.len());
    let (mut requests, mut responses, mut extra_total) = (0, 0, 0);
    let mut failures = Vec::new();
    for f in &files {
        if let Some(why) = excepted(f, "http") {
            eprintln!("exception {}: {why}", f.display());
            continue;
        }
        let reqs =
            tcp_rows(f, &["http.request.method", "http.host", "http.request.uri", "http.user_agent"], "http.request");
        let ress = tcp_rows(f, &["http.response.code"], "http.response");
        let (dir, errors) = run(f, "HTTP");
        let recs: Vec<Http> = records(dir.path(), "HTTP");
        // tshark prints one row per packet; a packet carrying several pipelined messages has
        // several occurrences joined by commas (URIs and user agents may contain commas, so only
        // single-message packets are compared field by field; the rest by count).
        let t_req: Vec<[String; 4]> = reqs
            .iter()
            .filter(|r| !r[0].contains(','))
            .map(|r| [r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()])
            .collect();
        let t_multi: usize = reqs.iter().filter(|r| r[0].contains(',')).map(|r| r[0].split(',').count()).sum();
        let o_req: Vec<[String; 4]> = recs
            .iter()
            .filter(|r| !r.method.is_empty())
            .map(|r| [r.method.clone(), r.host.clone(), r.url.clone(), r.user_agent.clone()])
            .collect();
        let t_res: Vec<String> =
            ress.iter().flat_map(|r| cells(&r[0]).map(str::to_string).collect::<Vec<_>>()).collect();
        let o_res: Vec<String> =
            recs.iter().filter(|r| r.status_code != 0).map(|r| r.status_code.to_string()).collect();
        let miss_req = missing(&t_req, &o_req);
        let miss_res = missing(&t_res, &o_res);
        if !miss_req.is_empty() {
            failures.push(format!(
                "{}: {} tshark requests not in our records, e.g. {:?}",
                f.display(),
                miss_req.len(),
                &miss_req[..miss_req.len().min(3)]
            ));
        }
        if !miss_res.is_empty() {
            failures.push(format!("{}: tshark responses not in our records: {:?}", f.display(), miss_res));
        }
        // What we have beyond tshark: messages tshark does not report because they are
        // incomplete, each with a counted error.
        let extra = (o_req.len().saturating_sub(t_req.len() + t_multi)) + o_res.len().saturating_sub(t_res.len());
        let mut cut: u64 = errors.iter().filter(|(k, _)| k.starts_with("http:")).map(|(_, n)| *n).sum();
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some((_, n, why)) = HTTP_EXTRA.iter().find(|(n, _, _)| *n == name) {
            eprintln!("{}: {n} records beyond tshark's allowed: {why}", f.display());
            cut += *n as u64;
        }
        if extra as u64 > cut {
            failures.push(format!(
                "{}: {extra} records beyond tshark's but only {cut} http errors ({errors:?})",
                f.display()
            ));
        }
        requests += t_req.len() + t_multi;
        responses += t_res.len();
        extra_total += extra;
    }
    eprintln!(
        "HTTP: {requests} requests and {responses} responses compared with tshark; {extra_total} more of ours are cut messages"
    );
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(requests > 500, "too few requests compared: {requests}");
}

#[test]
fn dns_over_tcp_agrees_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files: Vec<_> = files_with(&["dns"])
        .into_iter()
        .filter(|f| tshark_fields(f, &["frame.number"], &["-Y", "dns && tcp"]).is_some_and(|r| !r.is_empty()))
        .collect();
    assert!(files.len() >= 5, "expected the corpus' DNS-over-TCP captures, found {}", files.len());
    let mut compared = 0;
    let mut failures = Vec::new();
    for f in &files {
        if let Some(why) = excepted(f, "dns") {
            eprintln!("exception {}: {why}", f.display());
            continue;
        }
        let rows = tcp_rows(f, &["dns.id", "dns.qry.name"], "dns && tcp.port == 53");
        let mut t: Vec<(u64, String)> = Vec::new();
        for r in &rows {
            // Several messages in one segment: ids and names pair up in order.
            let ids: Vec<&str> = r[0].split(',').collect();
            let names: Vec<&str> = r[1].split(',').collect();
            for (k, id) in ids.iter().enumerate() {
                let id = netcap_tests::parse_num(id).unwrap_or(u64::MAX);
                t.push((id, if names.len() == ids.len() { names[k].to_string() } else { String::new() }));
            }
        }
        let (dir, _) = run(f, "DNS");
        let recs: Vec<Dns> = records(dir.path(), "DNS");
        let mut o: Vec<(u64, String)> = recs
            .iter()
            .filter(|r| r.tcp)
            .map(|r| (u64::from(r.id), r.questions.first().map(|q| q.name.clone()).unwrap_or_default()))
            .collect();
        // Where tshark cannot pair names with ids (a message without a question), compare ids.
        let strip = |v: &mut Vec<(u64, String)>, names_ok: bool| {
            if !names_ok {
                for x in v.iter_mut() {
                    x.1.clear();
                }
            }
            v.sort();
        };
        let names_ok = t.iter().all(|x| !x.1.is_empty());
        strip(&mut t, names_ok);
        strip(&mut o, names_ok);
        if o != t {
            failures.push(format!(
                "{}: ours {:?} tshark {:?}",
                f.display(),
                &o[..o.len().min(6)],
                &t[..t.len().min(6)]
            ));
        }
        compared += t.len();
    }
    eprintln!("DNS over TCP: {compared} messages compared with tshark");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 10);
}
