//! Tunnels: the packets inside GRE (and ERSPAN), VXLAN, Geneve, MPLS, IP-in-IP and IPv6-in-IP
//! get their IPv4, IPv6, TCP and UDP records as untunnelled traffic does, told apart by
//! `tunnel_depth`. For every capture of the corpus with a tunnel,
//! tshark's layer stack (`frame.protocols`) says which IP/TCP/UDP headers a frame has and at
//! which depth; its `ip.src`/`ipv6.src`/`tcp.srcport`/`udp.srcport` occurrences give their values.
//! Frames are matched by timestamp (frames sharing one are compared as a group).

use netcap_proto::v1::{IPv4, IPv6, Tcp, Udp};
use netcap_tests::{TempDir, capture, corpus_files, have_tshark, parse_ns, records, tshark_fields};
use std::collections::BTreeMap;

/// Layer stacks whose inner packet we do not decapsulate, with the reason.
const NOT_DECAPSULATED: &[(&str, &str)] = &[
    ("ppp", "PPTP's enhanced GRE carries PPP, which netcap does not dissect"),
    ("ayiya", "AYIYA (Zeek's tunnel corpus) is not a tunnel Wireshark or netcap decode by default"),
    ("teredo", "Teredo (IPv6 in UDP 3544) is not decapsulated"),
    ("l2tp", "L2TP is not decapsulated"),
    ("gtp", "GTP-U is not decapsulated"),
    ("pptp", "PPTP control"),
    ("ipx", "IPX"),
];

/// (timestamp) -> sorted list of "kind depth src dst".
type Groups = BTreeMap<i64, Vec<String>>;

fn expected(file: &std::path::Path) -> Option<(Groups, usize)> {
    let fields = [
        "frame.time_epoch",
        "frame.protocols",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "_ws.malformed",
    ];
    let rows = tshark_fields(file, &fields, &["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])?;
    let mut groups = Groups::new();
    let mut skipped = 0;
    for row in rows {
        let col = |i: usize| row.get(i).map(String::as_str).unwrap_or("");
        let list = |i: usize| -> Vec<&str> { col(i).split(',').filter(|s| !s.is_empty()).collect() };
        let Some(ts) = parse_ns(col(0)) else { continue };
        let tokens: Vec<&str> = col(1).split(':').collect();
        // A header cut short (a malformed frame for tshark) yields a counted error and no record.
        if !col(10).is_empty() || tokens.iter().any(|t| NOT_DECAPSULATED.iter().any(|(n, _)| n == t)) {
            skipped += 1;
            continue;
        }
        let (ip_src, ip_dst, ip6_src, ip6_dst) = (list(2), list(3), list(4), list(5));
        let (tcp_src, tcp_dst, udp_src, udp_dst) = (list(6), list(7), list(8), list(9));
        let (mut n4, mut n6, mut nt, mut nu) = (0, 0, 0, 0);
        let mut depth = 0;
        let mut after_ip = false;
        let g = groups.entry(ts).or_default();
        for t in tokens {
            match t {
                "ip" | "ipv6" => {
                    if after_ip {
                        depth += 1; // IP in IP
                    }
                    after_ip = true;
                    let (s, d) = if t == "ip" {
                        n4 += 1;
                        (ip_src.get(n4 - 1), ip_dst.get(n4 - 1))
                    } else {
                        n6 += 1;
                        (ip6_src.get(n6 - 1), ip6_dst.get(n6 - 1))
                    };
                    // A header cut short has no address fields in tshark, and no record (but a
                    // counted error) in netcap.
                    if let (Some(s), Some(d)) = (s, d) {
                        g.push(format!("{t} {depth} {s} {d}"));
                    }
                }
                // ERSPAN is part of its GRE encapsulation.
                "erspan" => after_ip = false,
                "gre" | "vxlan" | "geneve" | "mpls" => {
                    depth += 1;
                    after_ip = false;
                }
                "tcp" | "udp" => {
                    let (s, d) = if t == "tcp" {
                        nt += 1;
                        (tcp_src.get(nt - 1), tcp_dst.get(nt - 1))
                    } else {
                        nu += 1;
                        (udp_src.get(nu - 1), udp_dst.get(nu - 1))
                    };
                    g.push(format!("{t} {depth} {} {}", s.unwrap_or(&"?"), d.unwrap_or(&"?")));
                    after_ip = false;
                }
                // ICMP errors quote an IP header that is not a layer of the packet.
                "icmp" | "icmpv6" => break,
                _ => {}
            }
        }
    }
    for g in groups.values_mut() {
        g.sort();
    }
    Some((groups, skipped))
}

fn ours(dir: &std::path::Path) -> Groups {
    let mut groups = Groups::new();
    for r in records::<IPv4>(dir, "IPv4") {
        groups.entry(r.timestamp).or_default().push(format!("ip {} {} {}", r.tunnel_depth, r.src_ip, r.dst_ip));
    }
    for r in records::<IPv6>(dir, "IPv6") {
        groups.entry(r.timestamp).or_default().push(format!("ipv6 {} {} {}", r.tunnel_depth, r.src_ip, r.dst_ip));
    }
    for r in records::<Tcp>(dir, "TCP") {
        groups.entry(r.timestamp).or_default().push(format!("tcp {} {} {}", r.tunnel_depth, r.src_port, r.dst_port));
    }
    for r in records::<Udp>(dir, "UDP") {
        groups.entry(r.timestamp).or_default().push(format!("udp {} {} {}", r.tunnel_depth, r.src_port, r.dst_port));
    }
    for g in groups.values_mut() {
        g.sort();
    }
    groups
}

#[test]
fn inner_packets_have_records_with_their_tunnel_depth() {
    if !have_tshark() {
        return;
    }
    // Every capture with a tunnel protocol, and the tunnel directory (IP-in-IP has no token of
    // its own in tshark's layer stack).
    let mut files = netcap_tests::files_with(&["gre", "vxlan", "geneve", "mpls", "erspan"]);
    files.extend(corpus_files(&["tunnels"]));
    files.sort();
    files.dedup();
    let mut problems = Vec::new();
    let (mut compared, mut inner, mut skipped) = (0usize, 0usize, 0usize);
    for f in &files {
        // Only captures with a tunnel somewhere.
        let Some(first) = tshark_fields(
            f,
            &["frame.number"],
            &["-c", "1", "-Y", "gre||vxlan||geneve||mpls||ip.proto==4||ip.proto==41||ipv6.nxt==4||ipv6.nxt==41"],
        ) else {
            continue;
        };
        if first.is_empty() {
            continue;
        }
        let Some((want, s)) = expected(f) else { continue };
        skipped += s;
        let tmp = TempDir::new("tunnels");
        // tshark runs with IP reassembly off: so do we.
        let out = capture(f, tmp.path(), &["--no-defrag"]);
        assert!(out.status.code().is_some_and(|c| c <= 1), "{}: {out:?}", f.display());
        let got = ours(tmp.path());
        let name = f.file_name().unwrap_or_default().to_string_lossy().to_string();
        let mut bad = 0;
        for (ts, w) in &want {
            let empty = Vec::new();
            let g = got.get(ts).unwrap_or(&empty);
            if g != w {
                bad += 1;
                if bad <= 5 {
                    problems.push(format!("{name} @{ts}: tshark {w:?} netcap {g:?}"));
                }
            } else {
                compared += g.len();
                inner += g.iter().filter(|x| x.split(' ').nth(1) != Some("0")).count();
            }
        }
        for ts in got.keys().filter(|t| !want.contains_key(t)) {
            problems.push(format!("{name} @{ts}: records for a frame tshark does not have"));
        }
    }
    eprintln!(
        "tunnels: {compared} records compared ({inner} inside tunnels); {skipped} frames not decapsulated or malformed"
    );
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
    assert!(inner > 100, "too few inner records compared: {inner}");
}
