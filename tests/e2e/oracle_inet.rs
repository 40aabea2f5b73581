//! The `inet` decoder (internet protocols over UDP) against tshark on every corpus capture
//! tshark dissects as one of its protocols: one netcap run and one tshark pass per capture, all
//! fields at once, compared as multisets per capture.
//!
//! - DTLS: JA3 and SNI of each ClientHello, JA3S of each ServerHello, the hello versions.
//! - SNMP: per message version, community, PDU type, request id, error status, varbind OIDs,
//!   v3 user name.
//! - RADIUS: per packet code, identifier, attribute types, user name, NAS IP address and
//!   identifier, calling and called station ids.
//! - Syslog: per message facility, severity, host name, application (RFC 3164: the tag, which
//!   tshark 4.0 shows as `syslog.procid`), process id (RFC 3164: from the `[pid]` tshark leaves
//!   at the start of `syslog.msgid`), the RFC 3164 time stamp.
//! - TFTP: per message to or from port 69 opcode, file name, mode, options, error code and
//!   message (the transfers on other ports are not ours, see `tftp.rs`).
//! - STUN over UDP: per message type, transaction id, attribute types, the addresses
//!   (decoded), SOFTWARE and USERNAME.
//! - SSDP: per message method, URI, status, and the HOST, ST, MAN, MX, NT, USN and LOCATION
//!   headers (tshark has them only as request lines: `http.request.line`).
//!
//! JA4 with the `d` prefix is compared with a value derived by hand from tshark's fields in
//! `dtls_ja4_derived_from_tshark_fields`.

use netcap_proto::v1::{Radius, Snmp, Ssdp, Stun, Syslog, Tftp, TlsClientHello, TlsServerHello};
use netcap_tests::{corpus, files_with, have_tshark, is_dtls_version, records, tshark_fields};
use std::path::Path;

const FIELDS: &[&str] = &[
    "dtls.handshake.type",
    "dtls.handshake.ja3",
    "dtls.handshake.ja3s",
    "dtls.handshake.extensions_server_name",
    "dtls.handshake.version",
    // 5
    "snmp.version",
    "snmp.msgVersion",
    "snmp.community",
    "snmp.data",
    "snmp.request_id",
    "snmp.error_status",
    "snmp.name",
    "snmp.msgUserName",
    // 13
    "radius.code",
    "radius.id",
    "radius.avp.type",
    "radius.User_Name",
    "radius.NAS_IP_Address",
    "radius.NAS_Identifier",
    "radius.Calling_Station_Id",
    "radius.Called_Station_Id",
    // 21
    "syslog.facility",
    "syslog.level",
    "syslog.version",
    "syslog.timestamp_rfc3164",
    "syslog.hostname",
    "syslog.appname",
    "syslog.procid",
    "syslog.msgid",
    // 29
    "frame.protocols",
    "udp.srcport",
    "udp.dstport",
    "tftp.opcode",
    "tftp.source_file",
    "tftp.destination_file",
    "tftp.type",
    "tftp.option.name",
    "tftp.option.value",
    "tftp.error.code",
    "tftp.error.message",
    // 40
    "stun.type",
    "stun.id",
    "stun.att.type",
    "stun.att.ipv4",
    "stun.att.ipv6",
    "stun.att.port",
    "stun.att.software",
    "stun.att.username",
    // 48
    "http.request.method",
    "http.request.uri",
    "http.response.code",
    "http.request.line",
    "http.response.line",
];

fn cells(c: &str) -> impl Iterator<Item = &str> {
    c.split(',').filter(|s| !s.is_empty())
}

/// What is compared of one capture, from either side (each list sorted).
#[derive(Debug, Default)]
struct Seen {
    ja3: Vec<String>,
    sni: Vec<String>,
    ja3s: Vec<String>,
    /// The (legacy) version fields of the hellos.
    versions: Vec<u32>,
    /// One line per SNMP message, RADIUS packet.
    snmp: Vec<String>,
    radius: Vec<String>,
    syslog: Vec<String>,
    tftp: Vec<String>,
    stun: Vec<String>,
    ssdp: Vec<String>,
}

impl Seen {
    fn sort(mut self) -> Seen {
        self.ja3.sort();
        self.sni.sort();
        self.ja3s.sort();
        self.versions.sort();
        self.snmp.sort();
        self.radius.sort();
        self.syslog.sort();
        self.tftp.sort();
        self.stun.sort();
        self.ssdp.sort();
        self
    }
}

fn tshark_seen(f: &Path) -> Seen {
    let rows = tshark_fields(f, FIELDS, &[]).expect("tshark reads the capture");
    let mut s = Seen::default();
    for r in rows {
        let col = |i: usize| r.get(i).map_or("", String::as_str);
        let version = if col(5).is_empty() { col(6) } else { col(5) };
        if !version.is_empty() {
            let line = [version, col(7), col(8), col(9), col(10), col(11), col(12)].join("|");
            s.snmp.push(line);
        }
        if !col(13).is_empty() {
            let line = (13..21).map(col).collect::<Vec<_>>().join("|");
            s.radius.push(line);
        }
        if col(29).split(':').any(|p| p == "syslog") {
            let (app, pid) = if !col(23).is_empty() {
                (col(26), col(27).to_string())
            } else if !col(24).is_empty() {
                // RFC 3164 in tshark 4.0: the tag in procid, "[pid]: content" in msgid.
                let pid = col(28).strip_prefix('[').and_then(|m| m.split_once(']')).map_or("", |(p, _)| p);
                (col(27), pid.to_string())
            } else {
                ("", String::new())
            };
            s.syslog.push([col(21), col(22), col(25), app, &pid, col(24)].join("|"));
        }
        let protocols: Vec<&str> = col(29).split(':').collect();
        // An ICMP error quoting a datagram: tshark dissects the quoted message, netcap does not
        // decode application messages quoted in ICMP errors.
        if protocols.iter().any(|p| p.starts_with("icmp")) {
            continue;
        }
        let port69 = col(30) == "69" || col(31) == "69";
        if protocols.contains(&"tftp") && port69 {
            let file = if col(33).is_empty() { col(34) } else { col(33) };
            s.tftp.push([col(32), file, col(35), col(36), col(37), col(38), col(39)].join("|"));
        }
        if protocols.contains(&"stun") && protocols.contains(&"udp") && !col(40).is_empty() {
            let ty = u32::from_str_radix(col(40).trim_start_matches("0x"), 16).expect("hex type");
            let types: Vec<String> = cells(col(42))
                .map(|t| u32::from_str_radix(t.trim_start_matches("0x"), 16).expect("hex").to_string())
                .collect();
            let ips: Vec<&str> = cells(col(43)).chain(cells(col(44))).collect();
            let line = [&ty.to_string(), col(41), &types.join(","), &ips.join(","), col(45), col(46), col(47)];
            s.stun.push(line.join("|"));
        }
        if protocols.contains(&"ssdp") {
            s.ssdp.push(ssdp_line(col(48), col(49), col(50), &format!("{},{}", col(51), col(52))));
        }
        let types: Vec<&str> = cells(col(0)).collect();
        if !types.iter().any(|t| *t == "1" || *t == "2") {
            continue;
        }
        s.ja3.extend(cells(col(1)).map(str::to_string));
        s.ja3s.extend(cells(col(2)).map(str::to_string));
        s.sni.extend(cells(col(3)).map(str::to_string));
        let versions = cells(col(4)).map(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).expect("hex version"));
        s.versions.extend(versions);
    }
    s.sort()
}

fn our_seen(dir: &Path) -> Seen {
    let c: Vec<TlsClientHello> = records(dir, "TLSClientHello");
    let sh: Vec<TlsServerHello> = records(dir, "TLSServerHello");
    let c: Vec<&TlsClientHello> = c.iter().filter(|r| is_dtls_version(r.version)).collect();
    let sh: Vec<&TlsServerHello> = sh.iter().filter(|r| is_dtls_version(r.record_version)).collect();
    let mut s = Seen {
        ja3: c.iter().filter(|r| !r.ja3.is_empty()).map(|r| r.ja3.clone()).collect(),
        sni: c.iter().filter(|r| !r.sni.is_empty()).map(|r| r.sni.clone()).collect(),
        ja3s: sh.iter().filter(|r| !r.ja3s.is_empty()).map(|r| r.ja3s.clone()).collect(),
        versions: c.iter().map(|r| r.handshake_version).chain(sh.iter().map(|r| r.version)).collect(),
        ..Default::default()
    };
    for r in records::<Snmp>(dir, "SNMP") {
        let some = |read: bool, v: String| if read { v } else { String::new() };
        let pdu = r.pdu_type;
        let line = [
            r.version.to_string(),
            r.community.clone(),
            some(pdu >= 0, pdu.to_string()),
            // Traps (4) have no request id, GetBulk (5) non-repeaters in place of the error status.
            some(pdu >= 0 && pdu != 4, r.request_id.to_string()),
            some(pdu >= 0 && pdu != 4 && pdu != 5, r.error_status.to_string()),
            r.oids.join(","),
            r.user_name.clone(),
        ]
        .join("|");
        s.snmp.push(line);
    }
    for r in records::<Radius>(dir, "RADIUS") {
        let types: Vec<String> = r.attributes.iter().map(u32::to_string).collect();
        let line = [
            r.code.to_string(),
            r.identifier.to_string(),
            types.join(","),
            r.user_name.clone(),
            r.nas_ip.clone(),
            r.nas_identifier.clone(),
            r.calling_station_id.clone(),
            r.called_station_id.clone(),
        ]
        .join("|");
        s.radius.push(line);
    }
    for r in records::<Tftp>(dir, "TFTP") {
        let code = if r.opcode == 5 { r.error_code.to_string() } else { String::new() };
        let line = [
            r.opcode.to_string(),
            r.file.clone(),
            r.mode.clone(),
            r.option_names.join(","),
            r.option_values.join(","),
            code,
            r.error_message.clone(),
        ];
        s.tftp.push(line.join("|"));
    }
    for r in records::<Stun>(dir, "STUN") {
        let types: Vec<String> = r.attributes.iter().map(u32::to_string).collect();
        let split = |a: &String| -> (String, String) {
            let (ip, port) = a.rsplit_once(':').expect("ip:port");
            (ip.trim_start_matches('[').trim_end_matches(']').to_string(), port.to_string())
        };
        let (ips, ports): (Vec<String>, Vec<String>) = r.addresses.iter().map(split).unzip();
        // tshark lists the IPv4 addresses before the IPv6 ones (two fields).
        let (v4, v6): (Vec<String>, Vec<String>) = ips.into_iter().partition(|ip| !ip.contains(':'));
        let ips: Vec<String> = v4.into_iter().chain(v6).collect();
        let line = [
            r.message_type.to_string(),
            r.transaction_id.clone(),
            types.join(","),
            ips.join(","),
            ports.join(","),
            r.software.clone(),
            r.username.clone(),
        ];
        s.stun.push(line.join("|"));
    }
    for r in records::<Ssdp>(dir, "SSDP") {
        let status = if r.status == 0 { String::new() } else { r.status.to_string() };
        let line = [&r.method, &r.uri, &status, &r.host, &r.st, &r.man, &r.mx, &r.nt, &r.usn, &r.location];
        s.ssdp.push(line.map(String::as_str).join("|"));
    }
    for r in records::<Syslog>(dir, "Syslog") {
        let time = if r.format == "rfc3164" { r.time.as_str() } else { "" };
        let pri = |v: i32| if r.priority < 0 { String::new() } else { v.to_string() };
        let line = [&pri(r.facility), &pri(r.severity), &r.hostname, &r.app_name, &r.proc_id, time];
        s.syslog.push(line.join("|"));
    }
    s.sort()
}

/// An SSDP line from tshark's fields: the headers from the request or response lines
/// (`Name: value\r\n`, occurrences joined by `,`; a value with a comma is not in the corpus).
fn ssdp_line(method: &str, uri: &str, status: &str, lines: &str) -> String {
    let mut h: std::collections::BTreeMap<String, String> = Default::default();
    for l in lines.split("\\r\\n,").map(|l| l.trim_start_matches(',').trim_end_matches("\\r\\n")) {
        if let Some((n, v)) = l.split_once(':') {
            h.entry(n.trim().to_ascii_lowercase()).or_insert_with(|| v.trim().to_string());
        }
    }
    let get = |n: &str| h.get(n).cloned().unwrap_or_default();
    [
        method.to_string(),
        uri.to_string(),
        status.to_string(),
        get("host"),
        get("st"),
        get("man"),
        get("mx"),
        get("nt"),
        get("usn"),
        get("location"),
    ]
    .join("|")
}

/// `(a - b)` as a multiset (both sorted).
fn missing<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    let mut j = 0;
    for x in a {
        while j < b.len() && b[j] < *x {
            j += 1;
        }
        if j < b.len() && b[j] == *x {
            j += 1;
        } else {
            out.push(x.clone());
        }
    }
    out
}

/// The disagreements between our view and tshark's, field by field.
fn diff(ours: &Seen, tshark: &Seen) -> Vec<String> {
    let mut d = Vec::new();
    let mut cmp = |name: &str, a: &[String], b: &[String]| {
        let (only_ours, only_tshark) = (missing(a, b), missing(b, a));
        if !only_ours.is_empty() || !only_tshark.is_empty() {
            d.push(format!("{name}: only ours {only_ours:?}, only tshark {only_tshark:?}"));
        }
    };
    cmp("ja3", &ours.ja3, &tshark.ja3);
    cmp("sni", &ours.sni, &tshark.sni);
    cmp("ja3s", &ours.ja3s, &tshark.ja3s);
    let v = |x: &[u32]| x.iter().map(u32::to_string).collect::<Vec<_>>();
    cmp("versions", &v(&ours.versions), &v(&tshark.versions));
    cmp("snmp", &ours.snmp, &tshark.snmp);
    cmp("radius", &ours.radius, &tshark.radius);
    cmp("syslog", &ours.syslog, &tshark.syslog);
    cmp("tftp", &ours.tftp, &tshark.tftp);
    cmp("stun", &ours.stun, &tshark.stun);
    cmp("ssdp", &ours.ssdp, &tshark.ssdp);
    d
}

fn run(f: &Path) -> std::path::PathBuf {
    let (dir, o) = netcap_tests::default_capture(f);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "netcap failed on {}: {}",
        f.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    dir
}

#[test]
fn inet_agrees_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["dtls", "snmp", "radius", "syslog", "tftp", "stun", "ssdp"]);
    assert!(files.len() >= 20, "expected the corpus' captures of these protocols, found {}", files.len());
    let mut failures = Vec::new();
    let (mut hellos, mut snmp, mut radius, mut syslog) = (0, 0, 0, 0);
    let (mut tftp, mut stun, mut ssdp) = (0, 0, 0);
    for f in &files {
        let want = tshark_seen(f);
        let got = our_seen(run(f).as_path());
        hellos += want.ja3.len() + want.ja3s.len();
        snmp += want.snmp.len();
        radius += want.radius.len();
        syslog += want.syslog.len();
        tftp += want.tftp.len();
        stun += want.stun.len();
        ssdp += want.ssdp.len();
        for why in diff(&got, &want) {
            failures.push(format!("{}: {why}", f.display()));
        }
    }
    let counts = [hellos, snmp, radius, syslog, tftp, stun, ssdp];
    eprintln!(
        "inet: DTLS hellos, SNMP, RADIUS, syslog, TFTP, STUN, SSDP messages {counts:?} in {} captures",
        files.len()
    );
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(
        counts.iter().all(|&n| n >= 5) && hellos >= 20 && snmp >= 50 && syslog >= 50,
        "too little compared: {counts:?}"
    );
}

/// JA4 (FoxIO `technical_details/JA4.md`) of the DTLS ClientHello of `ndpi_stun_dtls_rtp.pcapng`
/// (frame 3, a WebRTC client), derived by hand from tshark's fields
/// (`dtls.handshake.version`, `.ciphersuite`, `.extension.type`, `.sig_hash_alg`): `d`, no
/// supported_versions so the hello's 0xfefd → `d2`, no SNI → `i`, 11 ciphers, 7 extensions, no
/// ALPN → `dd2i110700`; sha256sum("002f,0035,009c,c009,c00a,c013,c014,c02b,c02f,cca8,cca9")[..12]
/// = c45550529adf; sha256sum("000a,000b,000d,000e,0017,0023,ff01_0403,0804,0401,0503,0805,0501,0806,0601,0201")[..12]
/// = d9dd6182da81.
#[test]
fn dtls_ja4_derived_from_tshark_fields() {
    let Some(root) = corpus() else { return };
    let dir = run(&root.join("internet").join("ndpi_stun_dtls_rtp.pcapng"));
    let c: Vec<TlsClientHello> = records(dir.as_path(), "TLSClientHello");
    let dtls: Vec<&str> = c.iter().filter(|r| is_dtls_version(r.version)).map(|r| r.ja4.as_str()).collect();
    assert_eq!(dtls, ["dd2i110700_c45550529adf_d9dd6182da81"]);
}
