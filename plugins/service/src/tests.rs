//! Tests of the service decoder: the PCRE translation, substitutions and probe order on a small
//! hand-written probes file, and nmap's own file on hand-checked banners.

use super::*;
use probes::{Probes, anchored_prefix, required_literals, translate};

const NMAP: &str = "/usr/share/nmap/nmap-service-probes";

/// nmap's probes, or `None` (with a note) when nmap-common is not installed; CI requires it.
fn nmap() -> Option<Probes> {
    match std::fs::read(NMAP) {
        Ok(b) => Some(Probes::parse(&b).0),
        Err(e) => {
            assert!(std::env::var_os("NETCAP_REQUIRE_CORPUS").is_none(), "{NMAP}: {e} (apt-get install nmap-common)");
            eprintln!("skipped: {NMAP}: {e} (apt-get install nmap-common)");
            None
        }
    }
}

const SMALL: &str = r#"# a comment
Probe TCP NULL q||
totalwaitms 6000
match ftp m|^220 ProFTPD (\d\S+) Server| p/ProFTPD/ v/$1/ o/Unix/ cpe:/a:proftpd:proftpd:$1/
softmatch ftp m|^220[- ]|
match echo m|^(\w+)$| p/$P(1)/
Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
ports 80,8000-8010
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx/([\d.]+)\r\n|s p/nginx/ v/$1/ i/$SUBST(1,".","_")/
match lookahead m|^(?=x)|
match backref m|^(a)\1|
Probe TCP Other q|x|
ports 9000
match http m|^HTTP| p/other/
"#;

#[test]
fn a_small_probes_file_parses_with_hints_and_version_info() {
    let (p, bad) = Probes::parse(SMALL.as_bytes());
    assert_eq!(bad, 0);
    assert_eq!(p.probes.len(), 3);
    assert_eq!(p.probes[1].payload, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(p.probes[1].ports, vec![(80, 80), (8000, 8010)]);
    assert_eq!(p.lines(), 7);
    let un: Vec<(usize, String)> = p.unsupported().into_iter().map(|(l, pat, _)| (l, pat)).collect();
    assert_eq!(un, vec![(10, "^(?=x)".to_string()), (11, "^(a)\\1".to_string())]);
    assert_eq!(p.untranslatable(), 2);
}

#[test]
fn banners_are_identified_in_probe_order_with_substitutions() {
    let (p, _) = Probes::parse(SMALL.as_bytes());
    let f = p.identify("TCP", 21, true, b"220 ProFTPD 1.3.5 Server (Debian)\r\n").unwrap();
    assert_eq!((f.service.as_str(), f.probe.as_str(), f.soft), ("ftp", "NULL", false));
    assert_eq!((f.fields[0].as_str(), f.fields[1].as_str(), f.fields[4].as_str()), ("ProFTPD", "1.3.5", "Unix"));
    assert_eq!(f.cpes, vec!["cpe:/a:proftpd:proftpd:1.3.5"]);
    // No match line matches, a softmatch does.
    let f = p.identify("TCP", 21, true, b"220-welcome\r\n").unwrap();
    assert_eq!((f.service.as_str(), f.soft, f.fields[0].as_str()), ("ftp", true, ""));
    // `s` flag, $SUBST; GetRequest (ports 80) is tried before Other (ports 9000) for port 80,
    // Other first for port 9000.
    let resp = b"HTTP/1.1 200 OK\r\nServer: nginx/1.18.0\r\n\r\n";
    let f = p.identify("TCP", 80, false, resp).unwrap();
    assert_eq!((f.probe.as_str(), f.fields[1].as_str(), f.fields[2].as_str()), ("GetRequest", "1.18.0", "1_18_0"));
    assert_eq!(p.identify("TCP", 9000, false, resp).unwrap().fields[0], "other");
    // PCRE's `$` matches before a final newline; $P keeps printable characters.
    assert_eq!(p.identify("TCP", 7, true, b"hello\n").unwrap().fields[0], "hello");
    assert!(p.identify("UDP", 21, true, b"220 ProFTPD 1.3.5 Server").is_none(), "TCP probes only");
}

#[test]
fn pcre_syntax_is_translated_or_refused() {
    assert_eq!(translate(b"^\\0\\x01a{b$").unwrap(), "^\\x00\\x01a\\{b(?:\\n?\\z)");
    assert_eq!(translate(b"[]a[&-]x{2,3}").unwrap(), "[\\x5Da\\x5B\\x26-]x{2,3}");
    assert_eq!(translate(b"[^]]\\Z").unwrap(), "[^\\x5D](?:\\n?\\z)");
    assert_eq!(translate(b"a\\/b\\-c").unwrap(), "a\\x2Fb\\x2Dc");
    for bad in [&b"(?!x)"[..], b"(?<=x)", b"(?>x)", b"(a)\\1", b"a*+", b"[abc"] {
        assert!(translate(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(anchored_prefix(b"^220 Pro\\x41 (\\d)"), b"220 ProA ");
    assert_eq!(anchored_prefix(b"^abc?d"), b"ab");
    assert_eq!(anchored_prefix(b"^ab|cd"), b"");
    assert_eq!(anchored_prefix(b"^\\0\\0x+y"), b"\0\0x");
    assert_eq!(anchored_prefix(b"abc"), b"");
    let lits = |p: &[u8]| -> Vec<String> {
        required_literals(p).iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect()
    };
    assert_eq!(
        lits(b"^HTTP/1\\.[01] \\d\\d\\d (?:[^\\r\\n]*\\r\\n(?!\\r\\n))*?Server: Apache[/ ](\\d+)"),
        vec!["HTTP/1.", "Server: Apache"]
    );
    assert_eq!(lits(b"abcd?efg{2}hij+k\\x41BC(xyz)*"), vec!["abc", "hij", "kABC"]);
    assert_eq!(lits(b"abc|def"), Vec::<String>::new());
    assert_eq!(lits(b"x{2,3}abc"), vec!["abc"]);
}

#[test]
fn nmap_probes_identify_hand_checked_banners() {
    let Some(p) = nmap() else { return };
    // Expected values read off the match lines by hand (nmap 7.93's file: lines 745, 2464,
    // 3524 and 10510, the last one rewritten without its lookahead).
    // (banner, port, server spoke first, service, product, version)
    type Case<'a> = (&'a [u8], u16, bool, &'a str, &'a str, &'a str);
    let cases: [Case<'_>; 4] = [
        (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n", 22, true, "ssh", "OpenSSH", "8.9p1 Ubuntu 3ubuntu0.1"),
        (b"220 ProFTPD 1.3.5 Server (ProFTPD Default Installation) [192.168.1.1]\r\n", 21, true, "ftp", "ProFTPD", "1.3.5"),
        (b"+OK Dovecot ready.\r\n", 110, true, "pop3", "Dovecot pop3d", ""),
        (
            b"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: Apache/2.4.41 (Ubuntu)\r\nContent-Length: 0\r\n\r\n",
            80,
            false,
            "http",
            "Apache httpd",
            "2.4.41",
        ),
    ];
    for (banner, port, first, name, product, version) in cases {
        let f = p.identify("TCP", port, first, banner).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(banner)));
        assert_eq!(
            (f.service.as_str(), f.fields[0].as_str(), f.fields[1].as_str()),
            (name, product, version),
            "{} (line {})",
            String::from_utf8_lossy(banner),
            f.line
        );
    }
    let un = p.unsupported();
    eprintln!("{} of {} nmap match lines the engine cannot take", un.len(), p.lines());
    assert!(un.len() < p.lines() / 10, "{} unsupported", un.len());
}

fn conn(client: &str, server: &str, port: u32, transport: &str, ts: i64, answered: bool) -> Vec<u8> {
    Connection {
        timestamp_first: ts,
        timestamp_last: ts + 10,
        transport_proto: transport.into(),
        src_ip: client.into(),
        dst_ip: server.into(),
        src_port: 40000,
        dst_port: port,
        packets_server_to_client: u64::from(answered),
        payload_bytes_client_to_server: 100,
        payload_bytes_server_to_client: 1000,
        ..Connection::default()
    }
    .encode_to_vec()
}

#[test]
fn services_count_connections_and_keep_the_first_banner() {
    let (p, _) = Probes::parse(SMALL.as_bytes());
    let mut d = ServiceDecoder::new(Some(p));
    let banner = |b: &[u8], ts: i64| {
        ServiceBanner {
            timestamp: ts,
            src_ip: "10.0.0.2".into(),
            dst_ip: "10.0.0.1".into(),
            src_port: 40000,
            dst_port: 21,
            banner: b.to_vec(),
            ..ServiceBanner::default()
        }
        .encode_to_vec()
    };
    let recs: Vec<(u16, Vec<u8>)> = vec![
        (1, banner(b"220 ProFTPD 1.3.5 Server\r\n", 5)),
        (0, conn("10.0.0.2", "10.0.0.1", 21, "TCP", 1, true)),
        (1, banner(b"220 other\r\n", 50)),
        (0, conn("10.0.0.3", "10.0.0.1", 21, "TCP", 40, true)),
        (0, conn("10.0.0.3", "10.0.0.9", 53, "UDP", 2, true)),
        // Unanswered, or not a transport with ports: no service.
        (0, conn("10.0.0.3", "10.0.0.8", 80, "TCP", 3, false)),
        (0, conn("10.0.0.3", "10.0.0.8", 0, "ICMPv4", 3, true)),
    ];
    let mut b = Vec::new();
    for (i, (input, bytes)) in recs.iter().enumerate() {
        netcap_sdk::push_record(&mut b, *input, i as u64, bytes);
    }
    let mut out = Vec::new();
    netcap_sdk::record::run_decode(&mut d, &b, &mut out);
    let errors = netcap_sdk::entries(&out).filter(|e| e.unwrap().tag == netcap_sdk::TAG_ERROR).count();
    assert_eq!(errors, 2, "the two unsupported lines, counted once");
    let mut out = Vec::new();
    netcap_sdk::record::run_finish(&mut d, &mut out);
    let s: Vec<Service> = netcap_sdk::entries(&out)
        .filter_map(Result::ok)
        .filter(|e| e.tag == 0)
        .map(|e| Service::decode(e.bytes).unwrap())
        .collect();
    assert_eq!(s.len(), 2);
    let ftp = &s[0];
    assert_eq!((ftp.ip.as_str(), ftp.port, ftp.transport.as_str()), ("10.0.0.1", 21, "TCP"));
    assert_eq!((ftp.connections, ftp.bytes_client_to_server, ftp.bytes_server_to_client), (2, 200, 2000));
    assert_eq!((ftp.timestamp_first, ftp.timestamp_last), (1, 50));
    assert_eq!(ftp.banner, b"220 ProFTPD 1.3.5 Server\r\n");
    assert_eq!((ftp.product.as_str(), ftp.version.as_str(), ftp.probe.as_str()), ("ProFTPD", "1.3.5", "NULL"));
    assert_eq!(ftp.clients, vec!["10.0.0.2", "10.0.0.3"]);
    assert_eq!((ftp.src_ip.as_str(), ftp.dst_ip.as_str(), ftp.dst_port), ("10.0.0.2", "10.0.0.1", 21));
    assert_eq!((s[1].transport.as_str(), s[1].port, s[1].product.as_str()), ("UDP", 53, ""));
}
