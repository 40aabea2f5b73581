//! Real-traffic fidelity of the TCP reassembly and the stream decoder (issue 13), on captures
//! synthesized with the exact patterns found in other projects' traffic, against tshark, and two
//! invariants over every corpus capture with TCP:
//!
//! - no gap is larger than the bytes the capture holds for its connection plus a window;
//! - every stream record's time lies within its connection's first and last packet.

use netcap_decoder_echo::schema::StreamEcho;
use netcap_proto::v1::{Dns, Http, Ssh, TlsClientHello, TlsServerHello};
use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::synth_stream::{
    Conv, dns_update_packet, hello_retry_capture, http_methods_capture, kexinit, late_segment_capture,
    malformed_server_hello_capture, merge, ssh_idle_and_ssh1_capture, stale_ack_then_handshake, swapped_ports_capture,
};
use netcap_tests::{
    Shared, TempDir, files_with, have_tshark, is_dtls_version, netcap, parse_ns, parse_num, records, shared_capture,
    tshark_fields,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const T0: i64 = 1_700_000_000_000_000_000;

/// Writes `pkts` as a pcap in `dir`.
fn pcap(dir: &TempDir, name: &str, pkts: &[(i64, Vec<u8>)]) -> PathBuf {
    let p = dir.path().join(name);
    write_pcap(&p, LINKTYPE_ETHERNET, true, pkts).expect("write pcap");
    p
}

/// Runs netcap on `file` with `extra` arguments; returns the output directory and the summary.
fn run(file: &Path, extra: &[&str]) -> (TempDir, String) {
    let out = TempDir::new("fidelity");
    let (f, o) = (file.to_str().expect("utf-8"), out.path().to_str().expect("utf-8"));
    // Not `--quiet`: the summary's counters are checked.
    let mut args = vec!["capture", "-r", f, "-o", o, "--workers", "1"];
    args.extend_from_slice(extra);
    let o = netcap(&args);
    let summary = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}: {summary}", file.display());
    (out, summary)
}

/// The values of tshark `field` in the packets matching `filter`, each occurrence on its own.
fn tshark_values(file: &Path, field: &str, filter: &str, extra: &[&str]) -> Vec<String> {
    let mut args = extra.to_vec();
    args.extend(["-Y", filter]);
    tshark_fields(file, &[field], &args)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|r| r.into_iter().flat_map(|c| c.split(',').map(str::to_string).collect::<Vec<_>>()))
        .filter(|v| !v.is_empty())
        .collect()
}

/// Issue 13, defect 1: the server's bytes are delivered whole (no gap), as tshark follows them.
#[test]
fn a_stale_ack_before_the_handshake_does_not_shift_the_server_side() {
    let dir = TempDir::new("stale-ack");
    let req = b"GET /index.html HTTP/1.1\r\nHost: stale.example\r\n\r\n";
    let res = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: resync\r\n\r\nhello";
    let f = pcap(&dir, "stale-ack.pcap", &stale_ack_then_handshake(T0, req, res).pkts);
    if have_tshark() {
        assert_eq!(tshark_values(&f, "http.response.code", "http.response", &[]), ["200"]);
    }
    let echo = netcap_tests::echo_plugin_dir();
    let (out, summary) = run(&f, &["--plugins", echo.to_str().expect("utf-8")]);
    let http: Vec<Http> = records(out.path(), "HTTP");
    assert_eq!(http.len(), 1, "{http:?}");
    assert_eq!(
        (http[0].url.as_str(), http[0].status_code, http[0].server_name.as_str()),
        ("/index.html", 200, "resync")
    );
    let echo: Vec<StreamEcho> = records(out.path(), "StreamEcho");
    let to_client = echo.iter().find(|r| r.direction == "to_client").expect("server direction");
    assert_eq!((to_client.bytes, to_client.gap_bytes), (res.len() as u64, 0), "{summary}");
    assert!(echo.iter().all(|r| r.gap_bytes == 0), "{echo:?}");
}

/// Issue 13, defect 2: both ServerHellos (the HelloRetryRequest flagged), both ClientHellos,
/// with the fingerprints tshark computes.
#[test]
fn tls_hello_retry_request_keeps_both_hellos() {
    let dir = TempDir::new("hrr");
    let f = pcap(&dir, "hrr.pcap", &hello_retry_capture(T0).pkts);
    let (out, summary) = run(&f, &["--include", "TLSClientHello,TLSServerHello"]);
    let ch: Vec<TlsClientHello> = records(out.path(), "TLSClientHello");
    let sh: Vec<TlsServerHello> = records(out.path(), "TLSServerHello");
    assert_eq!(ch.len(), 2, "{summary}");
    assert!(ch.iter().all(|c| !c.ja3.is_empty() && !c.ja4.is_empty()));
    assert_eq!(sh.iter().map(|s| s.hello_retry_request).collect::<Vec<_>>(), [true, false], "{summary}");
    assert_eq!((sh[0].selected_group, sh[1].selected_group, sh[1].supported_version), (0x17, 0x1d, 0x0304));
    assert!(!summary.contains("tls:"), "{summary}");
    if have_tshark() {
        let mut t_ja3 = tshark_values(&f, "tls.handshake.ja3", "tls.handshake.type == 1", &[]);
        let mut t_ja3s = tshark_values(&f, "tls.handshake.ja3s", "tls.handshake.type == 2", &[]);
        let mut o_ja3: Vec<String> = ch.iter().map(|c| c.ja3.clone()).collect();
        let mut o_ja3s: Vec<String> = sh.iter().map(|s| s.ja3s.clone()).collect();
        for v in [&mut t_ja3, &mut t_ja3s, &mut o_ja3, &mut o_ja3s] {
            v.sort();
        }
        assert_eq!(o_ja3, t_ja3);
        assert_eq!(o_ja3s, t_ja3s);
    }
}

/// Issue 13, defect 3: requests with any method token, and a status line answering bytes that
/// are not HTTP.
#[test]
fn http_is_recognised_by_its_grammar_in_either_direction() {
    let dir = TempDir::new("http-grammar");
    let convs = http_methods_capture(T0);
    let f = pcap(&dir, "http-methods.pcap", &merge(&convs.iter().collect::<Vec<&Conv>>()));
    let (out, summary) = run(&f, &["--include", "HTTP"]);
    let mut got: Vec<(String, String, i32)> =
        records::<Http>(out.path(), "HTTP").into_iter().map(|r| (r.method, r.url, r.status_code)).collect();
    got.sort();
    let want: Vec<(String, String, i32)> = [
        ("", "", 400),
        ("CCM_POST", "/ccm_system/request", 200),
        ("RPC_IN_DATA", "/rpc/rpcproxy.dll?mail.example:6001", 200),
        ("SUBSCRIBE", "/upnp/event/cm", 200),
        ("VERSION-CONTROL", "/docs/a.txt", 200),
    ]
    .iter()
    .map(|(m, u, c)| (m.to_string(), u.to_string(), *c))
    .collect();
    assert_eq!(got, want, "{summary}");
    if have_tshark() {
        // tshark decodes port 8080 as HTTP; its requests and status codes are among ours. Its
        // fixed method list lacks SUBSCRIBE over TCP (UPnP eventing, GENA), which the grammar
        // recognises (Zeek and Arkime log it too).
        let methods = tshark_values(&f, "http.request.method", "http.request", &[]);
        let mut codes = tshark_values(&f, "http.response.code", "http.response", &[]);
        codes.sort();
        for m in &methods {
            assert!(got.iter().any(|g| g.0 == *m), "tshark's {m} is ours");
        }
        assert!(methods.len() >= 3, "{methods:?}");
        let ours: Vec<String> = got.iter().map(|g| g.2.to_string()).collect();
        for c in &codes {
            assert!(ours.contains(c), "tshark's status {c} is ours");
        }
        assert!(codes.contains(&"400".to_string()), "tshark answers the garbage with 400 too: {codes:?}");
    }
}

/// Issue 13, "content before ports": HTTP on port 22 is HTTP, SSH on port 80 is SSH.
#[test]
fn content_decides_before_the_port() {
    let dir = TempDir::new("ports");
    fn lists(k: &str) -> [&str; 10] {
        [k, "ssh-ed25519", "aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""]
    }
    let (kc, ks) = (kexinit(lists("curve25519-sha256")), kexinit(lists("curve25519-sha256,ext-info-s")));
    let convs = swapped_ports_capture(T0, &kc, &ks);
    let f = pcap(&dir, "ports.pcap", &merge(&convs.iter().collect::<Vec<&Conv>>()));
    let (out, summary) = run(&f, &["--include", "HTTP,SSH"]);
    let http: Vec<Http> = records(out.path(), "HTTP");
    assert_eq!(
        http.iter().map(|r| (r.url.as_str(), r.status_code, r.dst_port)).collect::<Vec<_>>(),
        [("/on-port-22", 200, 22)],
        "{summary}"
    );
    let ssh: Vec<Ssh> = records(out.path(), "SSH");
    assert_eq!(ssh.len(), 2, "{summary}");
    assert!(ssh.iter().all(|s| s.dst_port == 80 || s.src_port == 80));
    assert!(!summary.contains("ssh:") && !summary.contains("http:"), "{summary}");
    if have_tshark() {
        let args = ["-d", "tcp.port==22,http", "-d", "tcp.port==80,ssh"];
        assert_eq!(tshark_values(&f, "http.request.uri", "http.request", &args), ["/on-port-22"]);
        let mut t: Vec<String> = tshark_values(&f, "ssh.kex.hassh", "ssh.kex.hassh", &args);
        t.extend(tshark_values(&f, "ssh.kex.hasshserver", "ssh.kex.hasshserver", &args));
        let mut o: Vec<String> = ssh.iter().map(|s| s.hassh.clone()).collect();
        t.sort();
        o.sort();
        assert_eq!(o, t);
    }
}

/// Issue 13, defect 4: an UPDATE keeps its prerequisite and update sections (RDLENGTH 0 is an
/// empty value), as tshark dissects them.
#[test]
fn dns_update_keeps_records_without_rdata() {
    let dir = TempDir::new("dns-update");
    let f = pcap(&dir, "update.pcap", &[(T0, dns_update_packet())]);
    let (out, summary) = run(&f, &["--include", "DNS"]);
    let d: Vec<Dns> = records(out.path(), "DNS");
    assert_eq!(d.len(), 1);
    assert!(!summary.contains("dns:"), "{summary}");
    let r = &d[0];
    assert_eq!((r.op_code, r.ns_count, r.authorities.len(), r.answers.len()), (5, 3, 3, 1));
    let ours: Vec<String> = r
        .answers
        .iter()
        .chain(&r.authorities)
        .map(|rr| format!("{} {} {} {}", rr.name, rr.r#type, rr.class, rr.data_length))
        .collect();
    assert_eq!(
        ours,
        ["ws1.corp.example 5 254 0", "ws1.corp.example 28 255 0", "ws1.corp.example 1 255 0", "ws1.corp.example 1 1 4"]
    );
    if have_tshark() {
        let rows = tshark_fields(
            &f,
            &[
                "dns.flags.opcode",
                "dns.count.updates",
                "dns.resp.name",
                "dns.resp.type",
                "dns.resp.class",
                "dns.resp.len",
            ],
            &[],
        )
        .expect("tshark");
        let r0 = &rows[0];
        assert_eq!((r0[0].as_str(), r0[1].as_str()), ("5", "3"));
        let split = |i: usize| r0[i].split(',').map(str::to_string).collect::<Vec<_>>();
        let (names, types, classes, lens) = (split(2), split(3), split(4), split(5));
        let theirs: Vec<String> = (0..names.len())
            .map(|k| {
                let class = parse_num(&classes[k]).unwrap_or(0);
                format!("{} {} {} {}", names[k], types[k], class, lens[k])
            })
            .collect();
        assert_eq!(ours, theirs);
    }
}

/// Issue 13, defects 5 and 6: SSH identifications without KEXINIT carry the time of their
/// packet, not of the idle timeout that closed the connection minutes later; a response that
/// waited in the reassembly buffer carries its own packet's time; an SSH-1 exchange is not read
/// as SSH-2 packets.
#[test]
fn stream_records_carry_the_time_of_their_first_byte() {
    let dir = TempDir::new("times");
    let mut convs = ssh_idle_and_ssh1_capture(T0);
    convs.push(late_segment_capture(T0 + 5_000_000_000));
    let f = pcap(&dir, "times.pcap", &merge(&convs.iter().collect::<Vec<&Conv>>()));
    let (out, summary) = run(&f, &["--include", "SSH,HTTP"]);
    assert!(!summary.contains("ssh:"), "no SSH error for SSH-1: {summary}");
    let mut ssh: Vec<(String, i64)> =
        records::<Ssh>(out.path(), "SSH").into_iter().map(|s| (s.ident, s.timestamp)).collect();
    ssh.sort();
    // The identification packets' times, as tshark sees them.
    let mut want: Vec<(String, i64)> = Vec::new();
    if have_tshark() {
        let rows =
            tshark_fields(&f, &["ssh.protocol", "frame.time_epoch"], &["-d", "tcp.port==22,ssh", "-Y", "ssh.protocol"])
                .expect("tshark");
        for r in rows {
            want.push((r[0].clone(), parse_ns(&r[1]).expect("time")));
        }
    } else {
        for c in &convs[..2] {
            for (t, p) in &c.pkts {
                if let Some(i) = p.windows(4).position(|w| w == b"SSH-") {
                    let line = &p[i..];
                    let end = line.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(line.len());
                    want.push((String::from_utf8_lossy(&line[..end]).into_owned(), *t));
                }
            }
        }
    }
    want.sort();
    assert_eq!(ssh, want);
    let http: Vec<Http> = records(out.path(), "HTTP");
    let late = &convs[3];
    // Packets of the late-segment connection: handshake (3), request + ACK, then the second
    // response's two segments (buffered), the late first one.
    let (t_r2a, t_r1) = (late.pkts[5].0, late.pkts[7].0);
    let times: Vec<(String, i64, i64)> =
        http.iter().map(|h| (h.url.clone(), h.timestamp, h.response_timestamp)).collect();
    assert_eq!(
        times,
        [("/1".to_string(), late.pkts[3].0, t_r1), ("/2".to_string(), late.pkts[3].0, t_r2a)],
        "{summary}"
    );
}

/// Issue 13, defect 6: a ServerHello whose extension block is malformed still has the JA3S of
/// its version and cipher suite, as tshark computes it.
#[test]
fn malformed_server_hello_has_the_ja3s_of_what_was_read() {
    let dir = TempDir::new("bad-sh");
    let f = pcap(&dir, "bad-sh.pcap", &malformed_server_hello_capture(T0).pkts);
    let (out, summary) = run(&f, &["--include", "TLSServerHello"]);
    let sh: Vec<TlsServerHello> = records(out.path(), "TLSServerHello");
    assert_eq!(sh.len(), 1, "{summary}");
    assert_eq!(sh[0].ja3s_full, "771,4865,");
    assert!(summary.contains("tls: server hello truncated"), "the malformation is counted: {summary}");
    if have_tshark() {
        let full = tshark_fields(&f, &["tls.handshake.ja3s_full"], &["-Y", "tls.handshake.type == 2"]).expect("tshark");
        assert_eq!(full, [["771,4865,".to_string()]]);
        assert_eq!(tshark_values(&f, "tls.handshake.ja3s", "tls.handshake.type == 2", &[]), [sh[0].ja3s.clone()]);
    }
}

/// An unordered endpoint pair, the key of a connection.
type Pair = [(String, u64); 2];

fn pair(a: (&str, u64), b: (&str, u64)) -> Pair {
    let mut p = [(a.0.to_string(), a.1), (b.0.to_string(), b.1)];
    p.sort();
    p
}

/// Per endpoint pair (innermost IP and TCP): first and last packet time, and the wire bytes of
/// its packets.
fn tshark_connections(file: &Path) -> Option<BTreeMap<Pair, (i64, i64, u64)>> {
    // The tshark pass the stream comparison of streams.rs reads too.
    let rows = netcap_tests::tcp_fields(file)?;
    let last = |s: &str| s.rsplit(',').next().unwrap_or("").to_string();
    let mut m: BTreeMap<Pair, (i64, i64, u64)> = BTreeMap::new();
    for r in rows {
        // Columns as in TCP_FIELDS.
        let col = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        let (Some(t), Some(len)) = (parse_ns(col(1)), parse_num(col(10))) else { continue };
        // A TCP header quoted in an ICMP error has two port occurrences: skip.
        if col(4).contains(',') {
            continue;
        }
        let src = if col(2).is_empty() { last(col(3)) } else { last(col(2)) };
        let dst = if col(5).is_empty() { last(col(6)) } else { last(col(5)) };
        let (Some(sp), Some(dp)) = (parse_num(col(4)), parse_num(col(7))) else { continue };
        let e = m.entry(pair((&src, sp), (&dst, dp))).or_insert((t, t, 0));
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
        e.2 += len;
    }
    Some(m)
}

/// The reassembly's window allowance beyond the bytes a direction's packets carried (a capture
/// that lost packets still shows holes that large).
const WINDOW: u64 = 16 << 20;

/// Over every corpus capture with TCP: no gap larger than the bytes the capture holds for its
/// connection (the wire bytes of its packets) plus the reassembly's window, and every stream record (HTTP request and
/// response, TLS hellos, SSH, DNS over TCP) timed within its connection's first and last packet.
#[test]
fn corpus_gaps_are_bounded_and_stream_records_are_timed_within_their_connection() {
    if !have_tshark() {
        return;
    }
    let files = files_with(&["tcp"]);
    if files.is_empty() {
        return;
    }
    let check = |f: &PathBuf| -> (u64, u64, Vec<String>) {
        let mut problems = Vec::new();
        let Some(conns) = tshark_connections(f) else { return (0, 0, problems) };
        if conns.is_empty() {
            return (0, 0, problems);
        }
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        // Shared with the stream comparison of streams.rs (streams never time out there).
        let run = shared_capture(f, Shared::StreamEcho);
        assert!(
            matches!(run.output.status.code(), Some(0 | 1)),
            "{name}: {}",
            String::from_utf8_lossy(&run.output.stderr)
        );
        let out = &run.dir;
        let (mut gaps, mut timed) = (0u64, 0u64);
        for r in records::<StreamEcho>(out, "StreamEcho") {
            let key = pair((&r.client_ip, r.client_port.into()), (&r.server_ip, r.server_port.into()));
            let bytes = conns.get(&key).map_or(0, |c| c.2);
            for g in &r.gap_lengths {
                gaps += g;
                if *g > bytes + WINDOW {
                    problems
                        .push(format!("{name}: {key:?} {}: gap of {g} B, the capture holds {bytes} B", r.direction));
                }
            }
        }
        let mut within = |what: &str, a: (&str, u32), b: (&str, u32), ts: i64| {
            let Some(&(first, last, _)) = conns.get(&pair((a.0, a.1.into()), (b.0, b.1.into()))) else {
                // fileformat/pcapplusplus_pcapng-example.pcapng has packets before 1970 (a
                // negative time), which tshark prints as huge unsigned epochs that fit no i64 of
                // nanoseconds: their connections cannot be timed here.
                if name != "pcapplusplus_pcapng-example.pcapng" {
                    problems.push(format!("{name}: {what} of {a:?}-{b:?}: no such connection in tshark"));
                }
                return;
            };
            timed += 1;
            if ts < first || ts > last {
                problems.push(format!("{name}: {what} of {a:?}-{b:?} at {ts}, connection [{first}, {last}]"));
            }
        };
        for h in records::<Http>(out, "HTTP") {
            let (a, b) = ((h.src_ip.as_str(), h.src_port), (h.dst_ip.as_str(), h.dst_port));
            within("HTTP", a, b, h.timestamp);
            if h.response_timestamp != 0 {
                within("HTTP response", a, b, h.response_timestamp);
            }
        }
        // TLS over TCP only: QUIC hellos have no record layer (type 0), DTLS ones a DTLS version.
        for c in records::<TlsClientHello>(out, "TLSClientHello") {
            if c.r#type != 0 && !is_dtls_version(c.version) {
                within("ClientHello", (&c.src_ip, c.src_port), (&c.dst_ip, c.dst_port), c.timestamp);
            }
        }
        for s in records::<TlsServerHello>(out, "TLSServerHello") {
            if s.record_version != 0 && !is_dtls_version(s.record_version) {
                within("ServerHello", (&s.src_ip, s.src_port), (&s.dst_ip, s.dst_port), s.timestamp);
            }
        }
        for s in records::<Ssh>(out, "SSH") {
            within("SSH", (&s.src_ip, s.src_port), (&s.dst_ip, s.dst_port), s.timestamp);
        }
        for d in records::<Dns>(out, "DNS").into_iter().filter(|d| d.tcp) {
            within("DNS", (&d.src_ip, d.src_port), (&d.dst_ip, d.dst_port), d.timestamp);
        }
        (gaps, timed, problems)
    };
    let half = files.len().div_ceil(2);
    let results: Vec<(u64, u64, Vec<String>)> = std::thread::scope(|sc| {
        let hs: Vec<_> =
            files.chunks(half).map(|chunk| sc.spawn(move || chunk.iter().map(check).collect::<Vec<_>>())).collect();
        hs.into_iter().flat_map(|h| h.join().expect("thread")).collect()
    });
    let gaps: u64 = results.iter().map(|r| r.0).sum();
    let timed: u64 = results.iter().map(|r| r.1).sum();
    let problems: Vec<&String> = results.iter().flat_map(|r| &r.2).collect();
    eprintln!("{} captures with TCP: {gaps} gap bytes in all, {timed} stream record times checked", files.len());
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("\n")
    );
    assert!(timed > 1000, "only {timed} stream record times checked");
}
