//! Record decoders over other decoders' records, end to end on the corpus: `software`
//! (products from HTTP headers and SSH identifications), `banner` + `service` (server banners
//! identified with nmap's service probes). Oracles: tshark for what the inputs carry, Python's
//! `re` running the same nmap match lines over the same banners (`tests/oracles/nmap_match.py`),
//! the 1-worker output for any worker count, and `netcap label` windows.

use netcap_proto::v1::{Service, ServiceBanner, Software};
use netcap_tests::{TempDir, corpus_files, file_bytes, have_tshark, netcap, records, tshark_fields, workspace_root};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const UAP: &str = "/usr/share/uap-core/regexes.yaml";
const NMAP: &str = "/usr/share/nmap/nmap-service-probes";

/// Whether the data files are installed (CI requires them).
fn have_data() -> bool {
    let ok = Path::new(UAP).is_file() && Path::new(NMAP).is_file();
    if !ok {
        assert!(
            std::env::var("NETCAP_REQUIRE_CORPUS").is_err(),
            "{UAP} or {NMAP} missing: apt-get install uap-core nmap-common"
        );
        eprintln!("notice: skipping, {UAP} or {NMAP} missing (apt-get install uap-core nmap-common)");
    }
    ok
}

/// Captures one file with the abstractions' resources; it must end with exit 0.
fn capture(input: &Path, out: &Path, include: &str, workers: &str) {
    let o = run_capture(&[input.to_path_buf()], out, include, workers);
    assert_eq!(o.status.code(), Some(0), "{}: {}", input.display(), String::from_utf8_lossy(&o.stderr));
}

/// Captures `inputs` as one run (each file an `-r`); exit 0, or 1 when a capture is damaged.
fn capture_all(inputs: &[PathBuf], out: &Path, include: &str, workers: &str) {
    let o = run_capture(inputs, out, include, workers);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `netcap capture` of `inputs` into `out` with uap-core's and nmap's files as resources.
fn run_capture(inputs: &[PathBuf], out: &Path, include: &str, workers: &str) -> std::process::Output {
    let uap = format!("uap-regexes={UAP}");
    let nmap = format!("nmap-service-probes={NMAP}");
    let mut c = netcap_tests::netcap_cmd();
    c.arg("capture");
    for f in inputs {
        c.arg("-r").arg(f);
    }
    c.arg("-o").arg(out).args(["--quiet", "--include", include, "--resource", &uap, "--resource", &nmap]);
    c.args(["--workers", workers]).output().expect("run netcap")
}

#[test]
fn software_shows_every_server_header_and_ssh_identification_tshark_sees() {
    if !have_tshark() || !have_data() {
        return;
    }
    let files = corpus_files(&["http", "ssh"]);
    if files.is_empty() {
        return;
    }
    // One run over all the captures (decoder start-up, uap-core's regexes, is paid once) and one
    // tshark pass per capture; the checks are over the union.
    let dir = TempDir::new("software");
    capture_all(&files, dir.path(), "software", "1");
    let sw: Vec<Software> = records(dir.path(), "Software");
    let seen = |source: &str| -> BTreeSet<String> {
        sw.iter().filter(|s| s.source == source).map(|s| s.source_data.clone()).collect()
    };
    let [want_servers, want_idents, want_agents] =
        tshark_distinct(&files, ["http.server", "ssh.protocol", "http.user_agent"]);
    let (mut servers, mut idents, mut agents) = (0, 0, 0);
    // Every Server value tshark dissects gives a Software (its first product token); values with
    // no product token (empty) give none.
    for v in &want_servers {
        let first = v.split_whitespace().next().unwrap_or("");
        if first.starts_with('(') {
            continue;
        }
        assert!(
            sw.iter().any(|s| s.source == "server" && (s.source_data == *v || v.starts_with(&s.source_data))),
            "Server {v:?} missing from {:?}",
            seen("server")
        );
        servers += 1;
    }
    // Every SSH identification with a software version.
    for v in &want_idents {
        if v.splitn(3, '-').nth(2).is_some_and(|s| !s.is_empty()) {
            assert!(seen("ssh").contains(v), "SSH {v:?} missing from {:?}", seen("ssh"));
            idents += 1;
        }
    }
    // User agents come from tshark's user agents only.
    for s in sw.iter().filter(|s| s.source == "user-agent") {
        assert!(want_agents.contains(&s.source_data), "user agent {:?} not in tshark's", s.source_data);
        assert!(!s.product.is_empty() && s.product != "Other");
        agents += 1;
    }
    for s in &sw {
        assert!(s.timestamp_first > 0 && s.timestamp_first <= s.timestamp_last, "{s:?}");
        assert!(!s.src_ip.is_empty() && !s.hosts.is_empty() && !s.flows.is_empty(), "{s:?}");
    }
    eprintln!("software: {servers} Server values, {idents} SSH identifications, {agents} user-agent products");
    assert!(servers >= 20 && idents >= 4 && agents >= 10, "{servers} {idents} {agents}");
}

/// The distinct values of each of `fields` over `files` (one tshark pass per file; a value with
/// commas, such as a user agent, is not split).
fn tshark_distinct<const N: usize>(files: &[PathBuf], fields: [&str; N]) -> [BTreeSet<String>; N] {
    let mut sets: [BTreeSet<String>; N] = std::array::from_fn(|_| BTreeSet::new());
    let filter = fields.join(" || ");
    for f in files {
        for row in tshark_fields(f, &fields, &["-Y", filter.as_str()]).unwrap_or_default() {
            for (set, v) in sets.iter_mut().zip(row) {
                if !v.is_empty() {
                    set.insert(v);
                }
            }
        }
    }
    sets
}

/// The Service records with a banner of the captures with TCP servers in `subdirs`, from one
/// run over all of them (nmap's match lines are compiled once), with a name for the input.
fn services(subdirs: &[&str]) -> Vec<(PathBuf, Service)> {
    let files = corpus_files(subdirs);
    if files.is_empty() {
        return Vec::new();
    }
    let input = PathBuf::from(format!("{} captures of {}", files.len(), subdirs.join(", ")));
    let dir = TempDir::new("service");
    capture_all(&files, dir.path(), "service", "1");
    let s: Vec<Service> = records(dir.path(), "Service");
    s.into_iter().filter(|s| !s.banner.is_empty()).map(|s| (input.clone(), s)).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn service_matches_equal_pythons_re_on_the_same_nmap_lines() {
    if !have_data() {
        return;
    }
    let svc = services(&["mail_ftp", "ssh", "http", "internet", "mixed"]);
    let dir = TempDir::new("nmap-oracle");
    // The lines the decoder's engine cannot take are left out for Python too.
    let (probes, _) = netcap_decoder_service::probes::Probes::parse(&std::fs::read(NMAP).unwrap());
    let skip: Vec<String> = probes.unsupported().iter().map(|(line, _, _)| line.to_string()).collect();
    std::fs::write(dir.path().join("skip"), skip.join("\n")).unwrap();
    let mut input = String::new();
    for (_, s) in &svc {
        input.push_str(
            &serde_json::json!({
                "transport": s.transport,
                "port": s.port,
                "server_first": s.client_data.is_empty(),
                "banner_hex": hex(&s.banner),
            })
            .to_string(),
        );
        input.push('\n');
    }
    std::fs::write(dir.path().join("in.json"), input).unwrap();
    let o = std::process::Command::new("python3")
        .arg(workspace_root().join("tests/oracles/nmap_match.py"))
        .arg(NMAP)
        .arg(dir.path().join("skip"))
        .arg(dir.path().join("in.json"))
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let answers: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), svc.len());
    let (mut identified, mut mismatches) = (0, Vec::new());
    for ((f, s), a) in svc.iter().zip(&answers) {
        let py = (
            a["name"].as_str().unwrap_or(""),
            a["product"].as_str().unwrap_or(""),
            a["version"].as_str().unwrap_or(""),
        );
        let ours = (s.name.as_str(), s.product.as_str(), s.version.as_str());
        if py != ours {
            mismatches.push(format!(
                "{} {}:{}: ours {ours:?}, python {py:?} (line {}), banner {:?}",
                f.display(),
                s.ip,
                s.port,
                a["line"],
                String::from_utf8_lossy(&s.banner)
            ));
        }
        if !s.name.is_empty() {
            identified += 1;
        }
    }
    eprintln!("service: {} banners, {identified} identified, {} nmap lines left out", svc.len(), skip.len());
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert!(svc.len() >= 30 && identified >= 15, "{} banners, {identified} identified", svc.len());
}

#[test]
fn service_banners_start_with_the_server_segment_tshark_shows_at_their_time() {
    if !have_tshark() {
        return;
    }
    let files = corpus_files(&["mail_ftp", "ssh"]);
    if files.is_empty() {
        return;
    }
    // One run over all the captures; the segments of all of them, by (time ns, sender port,
    // receiver port), which tells the captures' connections apart.
    let dir = TempDir::new("banner");
    capture_all(&files, dir.path(), "ServiceBanner", "1");
    let banners: Vec<ServiceBanner> = records(dir.path(), "ServiceBanner");
    // Only segments that begin a direction's data (a banner is the server's first bytes) are
    // printed, with their payload in hex: every segment of a file transfer is megabytes of hex.
    let rows: Vec<Vec<String>> = files
        .iter()
        .flat_map(|f| {
            tshark_fields(
                f,
                &["frame.time_epoch", "tcp.srcport", "tcp.dstport", "tcp.payload"],
                &["-Y", "tcp.len > 0 && tcp.seq == 1"],
            )
            .unwrap_or_default()
        })
        .collect();
    let first_segments: HashMap<(i64, u32, u32), &str> = rows
        .iter()
        .filter(|r| r.len() == 4)
        .filter_map(|r| Some(((netcap_tests::parse_ns(&r[0])?, r[1].parse().ok()?, r[2].parse().ok()?), &*r[3])))
        .collect();
    let mut compared = 0;
    for b in &banners {
        // The segment that carried the banner's first byte: same time, same ports.
        let Some(seg) = first_segments.get(&(b.timestamp, b.dst_port, b.src_port)) else { continue };
        let seg = seg.replace(':', "");
        let n = seg.len().min(b.banner.len() * 2);
        assert_eq!(hex(&b.banner)[..n], seg[..n], "banner of {}:{}", b.dst_ip, b.dst_port);
        assert!(b.banner.len() <= 512);
        compared += 1;
    }
    eprintln!("banners: {compared} of {} compared", banners.len());
    assert!(compared >= 10, "only {compared} banners compared");
}

#[test]
fn abstractions_are_identical_for_1_and_3_workers() {
    if !have_data() {
        return;
    }
    // All the mail, FTP, HTTP and SSH captures as one input (`-r` per file, merged in time
    // order): two runs instead of two per file, which mostly paid the decoders' start-up.
    let files = corpus_files(&["mail_ftp", "http", "ssh"]);
    if files.is_empty() {
        return;
    }
    let dir = TempDir::new("abstractions-det");
    let (one, three) = (dir.path().join("1"), dir.path().join("3"));
    capture_all(&files, &one, "software,service,credentials", "1");
    capture_all(&files, &three, "software,service,credentials", "3");
    for t in ["Software", "Service", "ServiceBanner", "Credentials"] {
        let (a, b) = (one.join(format!("{t}.ncap.zst")), three.join(format!("{t}.ncap.zst")));
        assert_eq!(a.exists(), b.exists(), "{t}");
        if a.exists() {
            assert!(file_bytes(&a) == file_bytes(&b), "{t} differs between 1 and 3 workers");
        }
    }
    // The comparison is not vacuous: these captures give every abstraction records.
    for t in ["Software", "Service", "Credentials"] {
        let p = one.join(format!("{t}.ncap.zst"));
        assert!(p.exists() && !netcap_tests::read_record_file(&p).1.is_empty(), "no {t} records");
    }
}

#[test]
fn label_labels_software_and_service_by_time_and_address() {
    if !have_data() {
        return;
    }
    let Some(f) = corpus_files(&["http"]).into_iter().find(|f| f.ends_with("zeek_workshop_2011_browse.pcap")) else {
        return;
    };
    let dir = TempDir::new("abstractions-label");
    capture(&f, dir.path(), "software,service", "1");
    // The web server of the capture, over the capture's day.
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "attacks:\n  - name: web\n    start: 2011-11-03T00:00:00Z\n    end: 2011-11-04T00:00:00Z\n    ips: [192.150.187.43]\n    category: testcat\n",
    )
    .unwrap();
    let o = netcap(&["label", "--records", dir.path().to_str().unwrap(), "--windows", w.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    for t in ["Software", "Service"] {
        let csv = std::fs::read_to_string(dir.path().join(format!("{t}_labeled.csv"))).unwrap();
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(!rows.is_empty(), "{t}: no rows");
        // Every record's first flow involves the server, so every one is in the window.
        assert!(rows.iter().all(|r| r.ends_with(",testcat")), "{t}:\n{csv}");
    }
}

/// tshark's `-z credentials` table: (protocol, user name) per row, by the header's columns (the
/// protocol column holds words like "HTTP basic auth").
fn tshark_credentials(file: &Path) -> Vec<(String, String)> {
    let o =
        std::process::Command::new("tshark").arg("-r").arg(file).args(["-q", "-z", "credentials"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let Some(head) = text.lines().find(|l| l.starts_with("Packet")) else { return Vec::new() };
    let (Some(p), Some(u)) = (head.find("Protocol"), head.find("Username")) else {
        return Vec::new();
    };
    let col = |l: &str, a: usize, b: usize| l.get(a..b.min(l.len())).unwrap_or("").trim().to_string();
    // A user name longer than its column pushes the Info column right: it ends at a space.
    let user = |l: &str| l.get(u..).unwrap_or("").split_whitespace().next().unwrap_or("").to_string();
    text.lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|w| w.parse::<u64>().is_ok()))
        .map(|l| (col(l, p, u), user(l)))
        .collect()
}

#[test]
fn credentials_of_http_basic_agree_with_tshark_and_digest_and_forms_are_found_too() {
    use netcap_proto::v1::Credentials;
    use netcap_tests::synth_stream::{Conv, merge};
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("credentials");
    // Three requests on three connections: Basic (RFC 7617's example), Digest (RFC 7616's), and
    // a urlencoded login form; then the Basic request again later (one record, count 2).
    let t0 = 1_700_000_000_000_000_000;
    let basic =
        b"GET /private HTTP/1.1\r\nHost: a.example\r\nAuthorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n";
    let digest = b"GET /dir/index.html HTTP/1.1\r\nHost: b.example\r\nAuthorization: Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", nonce=\"7ypf\", response=\"8ca523f5e9506fed4657c9700eebdbec\"\r\n\r\n";
    let body = b"username=admin&password=s3cret%21";
    let mut post = format!(
        "POST /login.php HTTP/1.1\r\nHost: c.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    post.extend_from_slice(body);
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let mut convs = Vec::new();
    for (i, req) in [&basic[..], &digest[..], &post[..], &basic[..]].into_iter().enumerate() {
        let mut c = Conv::new(1, 40000 + i as u16, 80, 1000, 5000, t0 + i as i64 * 1_000_000_000);
        c.handshake();
        c.send(true, req);
        c.send(false, ok);
        c.close();
        convs.push(c);
    }
    let refs: Vec<&Conv> = convs.iter().collect();
    let pcap = dir.path().join("creds.pcap");
    netcap_tests::pcap::write_pcap(&pcap, netcap_tests::pcap::LINKTYPE_ETHERNET, false, &merge(&refs)).unwrap();
    let out = dir.path().join("out");
    let o = netcap(&[
        "capture",
        "-r",
        pcap.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--quiet",
        "--include",
        "credentials",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let creds: Vec<Credentials> = records(&out, "Credentials");
    let mut creds = creds;
    creds.sort_by(|a, b| (&a.method, &a.user).cmp(&(&b.method, &b.user)));
    let got: Vec<(&str, &str, &str)> =
        creds.iter().map(|c| (c.method.as_str(), c.user.as_str(), c.secret.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("basic", "Aladdin", "open sesame"),
            ("digest", "Mufasa", "8ca523f5e9506fed4657c9700eebdbec"),
            ("form", "admin", "s3cret!")
        ]
    );
    assert_eq!((creds[0].count, creds[0].timestamp_last - creds[0].timestamp_first), (2, 3_000_000_000));
    // tshark lists the Basic user (twice, one row per request); the Digest and form ones are
    // ours only.
    let ts = tshark_credentials(&pcap);
    assert!(!ts.is_empty() && ts.iter().all(|(p, u)| p.starts_with("HTTP") && u == "Aladdin"), "{ts:?}");
    assert_eq!(ts.len(), 2, "{ts:?}");
}

/// A user name as our Credentials record has it, from tshark's column: tshark shows SMTP AUTH
/// LOGIN user names base64-encoded as sent, and IMAP LOGIN names with their quotes.
fn tshark_user(protocol: &str, user: &str) -> String {
    use base64::Engine as _;
    match protocol {
        "SMTP" => base64::engine::general_purpose::STANDARD
            .decode(user)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| user.to_string()),
        "IMAP" => user.trim_matches('"').to_string(),
        _ => user.to_string(),
    }
}

#[test]
fn credentials_of_ftp_smtp_pop3_and_imap_agree_with_tsharks_credentials_table() {
    use netcap_proto::v1::Credentials;
    use netcap_tests::{Shared, corpus_index, shared_capture};
    if !have_tshark() {
        return;
    }
    let mail = ["ftp", "smtp", "pop", "imap"];
    let files: Vec<&PathBuf> =
        corpus_index().iter().filter(|(_, p)| mail.iter().any(|m| p.contains(*m))).map(|(f, _)| f).collect();
    let (mut compared, mut with_credentials, mut differ) = (0, 0, Vec::new());
    for f in files {
        // tshark's rows, one per login attempt, as (protocol, user), against ours: one row per
        // attempt (count) of each record, for the services tshark lists.
        let mut theirs: Vec<(String, String)> = tshark_credentials(f)
            .into_iter()
            .filter(|(p, _)| ["FTP", "SMTP", "POP3", "IMAP"].contains(&p.as_str()))
            .map(|(p, u)| {
                let u = tshark_user(&p, &u);
                (p, u)
            })
            .collect();
        let shared = shared_capture(f, Shared::Default);
        let creds: Vec<Credentials> = records(&shared.dir, "Credentials");
        let mut ours: Vec<(String, String)> = creds
            .iter()
            .filter(|c| c.service != "HTTP" && c.service != "SMB")
            // tshark 4.0 lists neither SASL PLAIN nor CRAM-MD5 nor APOP, nor a PASS whose user
            // name the capture lacks (it starts after the USER command).
            .filter(|c| !["plain", "cram-md5", "apop"].contains(&c.method.as_str()) && !c.user.is_empty())
            .flat_map(|c| std::iter::repeat_n((c.service.clone(), c.user.clone()), c.count as usize))
            .collect();
        theirs.sort();
        ours.sort();
        if ours != theirs {
            differ.push(format!("{}: ours {ours:?}, tshark's {theirs:?}", f.display()));
        }
        compared += theirs.len();
        with_credentials += usize::from(!creds.is_empty());
        for c in &creds {
            // Secrets may be empty (anonymous FTP sends an empty PASS).
            assert!(c.timestamp_first <= c.timestamp_last && c.count > 0, "{}: {c:?}", f.display());
        }
    }
    assert!(differ.is_empty(), "(service, user) per attempt differ from tshark -z credentials:\n{}", differ.join("\n"));
    // tshark lists no Telnet logins: each of ours is the user and the password the client typed,
    // line after line, in tshark's client data (`telnet.data` shows CR LF as `\r\n`).
    let mut telnet = 0;
    for f in corpus_index().iter().filter(|(_, p)| p.contains("telnet")).map(|(f, _)| f) {
        let typed: String = tshark_fields(f, &["telnet.data"], &["-Y", "telnet.data && tcp.dstport == 23"])
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect();
        let creds: Vec<Credentials> = records(&shared_capture(f, Shared::Default).dir, "Credentials");
        for c in creds.iter().filter(|c| c.service == "Telnet") {
            let lines = format!("{}\\r\\n{}\\r\\n", c.user, c.secret);
            assert!(typed.contains(&lines), "{}: {c:?} not in the client's data {typed:?}", f.display());
            telnet += 1;
        }
    }
    assert!(telnet >= 1, "no Telnet login found");
    eprintln!(
        "credentials: {compared} attempts as tshark lists them in {with_credentials} captures; {telnet} Telnet logins"
    );
    assert!(compared >= 40 && with_credentials >= 15, "only {compared} credentials in {with_credentials} captures");
}
