//! Flow and Connection records (decoder `flow`) against independent oracles:
//! - packets and bytes per direction of every TCP and UDP Connection agree with tshark's
//!   conversation statistics (`-z conv,tcp`, `-z conv,udp`) on every corpus capture with TCP or
//!   UDP, except captures where tshark sees more than one IP header in a frame (tunnels, ICMP
//!   errors quoting a header) or IP fragments (keyed without ports until defragmentation lands),
//!   and TCP conversations tshark splits itself (5-tuple reuse, several `tcp.stream`s);
//! - the Community ID of every Connection equals Wireshark's (`--enable-protocol communityid`) for
//!   each of its packets on the Community ID spec's captures, and, where the PyPI `communityid`
//!   package (the spec authors' reference implementation) is installed, that package's ID of the
//!   record's tuple;
//! - a synthesized capture of more than a million distinct flows runs with a small `--flow-max`:
//!   every flow still gets its record and every eviction is counted.

use netcap_proto::v1::Connection;
use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::{
    TempDir, capture, corpus, corpus_index, files_with, have_tshark, netcap, records, tshark_fields, workspace_root,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// No timeout splits a conversation in the comparison with tshark (which never splits on time).
const NO_TIMEOUTS: &[&str] = &["--include", "Connection", "--flow-idle", "100000000s", "--flow-active", "100000000s"];

/// One endpoint: address text and port.
type Ep = (String, u32);

/// tshark's `-z conv,tcp` and `-z conv,udp` tables, from one run: (proto, A, B) -> ((frames,
/// bytes) A->B, (frames, bytes) B->A), bytes as tshark prints them ("9654 bytes", "176 kB").
type Convs = BTreeMap<(u32, Ep, Ep), [(u64, String); 2]>;

fn tshark_convs(file: &Path) -> Option<Convs> {
    let out = Command::new("tshark")
        .args(["-n", "-q", "-r"])
        .arg(file)
        .args(["-z", "conv,tcp", "-z", "conv,udp"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ep = |s: &str| -> Option<Ep> {
        let (a, p) = s.rsplit_once(':')?;
        Some((a.to_string(), p.parse().ok()?))
    };
    let mut m = BTreeMap::new();
    let mut proto = 0;
    for line in text.lines() {
        if line.starts_with("TCP Conversations") {
            proto = 6;
        } else if line.starts_with("UDP Conversations") {
            proto = 17;
        }
        if !line.contains("<->") {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        // A <-> B  frames(B->A) bytes unit  frames(A->B) bytes unit  total...
        if t.len() < 9 || proto == 0 {
            return None;
        }
        let (a, b) = (ep(t[0])?, ep(t[2])?);
        let ba = (t[3].parse().ok()?, format!("{} {}", t[4], t[5]));
        let ab = (t[6].parse().ok()?, format!("{} {}", t[7], t[8]));
        m.insert((proto, a, b), [ab, ba]);
    }
    Some(m)
}

/// Whether `bytes` prints as tshark's `shown` (Wireshark's format_size: SI prefixes, integer
/// division, a prefix once the value reaches 10 of it).
fn bytes_match(bytes: u64, shown: &str) -> bool {
    let (n, unit) = shown.split_once(' ').unwrap_or((shown, ""));
    let Ok(n) = n.parse::<u64>() else { return false };
    let scaled = |k: u64| bytes / k == n && bytes / k >= 10;
    match unit {
        "bytes" => bytes == n,
        "kB" => scaled(1_000) && bytes / 1_000_000 < 10,
        "MB" => scaled(1_000_000) && bytes / 1_000_000_000 < 10,
        "GB" => scaled(1_000_000_000),
        _ => false,
    }
}

/// Protocols (tshark's `frame.protocols` tokens) of captures left out because the host does not
/// dissect the IP packet in them as the outermost one, with the reason. PPPoE sessions, VN-Tag,
/// E-Tag, Cisco HDLC, Frame Relay, PPP and the link types PPI, NFLOG, PKTAP and IPoIB carry the
/// outermost IP packet and are compared.
const NOT_OUTER_IP: &[(&str, &str)] = &[
    ("mpls", "MPLS is a tunnel: the flow is the outer link-layer one (Ethernet, EtherType 0x8847)"),
    ("ieee8021ah", "802.1ah PBB is a tunnel (MAC in MAC): the flow is the backbone frame's"),
    ("nsh", "NSH is a tunnel: the flow is the outer frame's"),
    ("arcnet", "ARCNET is a link type the host does not dissect"),
];

/// From one tshark pass: why the capture is left out of the comparison (`Err`), or the TCP
/// conversations tshark splits into several streams (5-tuple reuse), to skip.
fn survey(file: &Path) -> Result<BTreeSet<(Ep, Ep)>, String> {
    let fields = [
        "ip.src",
        "ipv6.src",
        "ip.flags.mf",
        "ip.frag_offset",
        "ipv6.fraghdr.offset",
        "ipv6.fraghdr.more",
        "ipv6.routing.type",
        "ipv6.opt.mipv6.home_address",
        "tcp.stream",
        "tcp.srcport",
        "tcp.dstport",
        "ip.dst",
        "ipv6.dst",
    ];
    let rows = tshark_fields(file, &fields, &[]).ok_or("tshark failed")?;
    let mut streams: HashMap<(Ep, Ep), BTreeSet<String>> = HashMap::new();
    let count = |s: &str| if s.is_empty() { 0 } else { s.split(',').count() };
    let set = |s: &str| s.split(',').any(|v| !v.is_empty() && v != "0" && v != "False");
    for (i, r) in rows.iter().enumerate() {
        if r.len() != fields.len() {
            continue;
        }
        if count(&r[0]) + count(&r[1]) > 1 {
            return Err(format!("frame {}: more than one IP header (a tunnel or an ICMP error)", i + 1));
        }
        if set(&r[2]) || set(&r[3]) || set(&r[4]) || set(&r[5]) {
            return Err(format!("frame {}: IP fragment", i + 1));
        }
        if !r[6].is_empty() || !r[7].is_empty() {
            // Wireshark's conversation takes the routing header's final destination or the
            // home address option's address; keys (and the Community ID) use the header's.
            return Err(format!("frame {}: IPv6 routing header or home address option", i + 1));
        }
        if let (Ok(sp), Ok(dp)) = (r[9].parse::<u32>(), r[10].parse::<u32>())
            && !r[8].is_empty()
        {
            let (a, b) = ((format!("{}{}", r[0], r[1]), sp), (format!("{}{}", r[11], r[12]), dp));
            let k = if a <= b { (a, b) } else { (b, a) };
            streams.entry(k).or_default().insert(r[8].clone());
        }
    }
    Ok(streams.into_iter().filter(|(_, s)| s.len() > 1).map(|(k, _)| k).collect())
}

/// Our connections summed per oriented 5-tuple: (proto, src, dst) -> (packets, bytes), and the
/// number of records per unordered pair.
type Sums = (HashMap<(u32, Ep, Ep), (u64, u64)>, HashMap<(u32, Ep, Ep), usize>);

fn our_sums(conns: &[Connection]) -> Sums {
    let mut dir: HashMap<(u32, Ep, Ep), (u64, u64)> = HashMap::new();
    let mut n: HashMap<(u32, Ep, Ep), usize> = HashMap::new();
    for c in conns {
        let a = (c.src_ip.clone(), c.src_port);
        let b = (c.dst_ip.clone(), c.dst_port);
        let e = dir.entry((c.ip_protocol, a.clone(), b.clone())).or_default();
        e.0 += c.packets_client_to_server;
        e.1 += c.bytes_client_to_server;
        let e = dir.entry((c.ip_protocol, b.clone(), a.clone())).or_default();
        e.0 += c.packets_server_to_client;
        e.1 += c.bytes_server_to_client;
        let k = if a <= b { (c.ip_protocol, a, b) } else { (c.ip_protocol, b, a) };
        *n.entry(k).or_default() += 1;
    }
    (dir, n)
}

/// Compares one capture: (conversations compared, reused conversations skipped).
fn check_file(file: &Path, reused: &BTreeSet<(Ep, Ep)>) -> Result<(usize, usize), String> {
    let out = TempDir::new("flow-conv");
    let o = capture(file, out.path(), NO_TIMEOUTS);
    if !matches!(o.status.code(), Some(0 | 1)) {
        return Err(format!("netcap failed: {}", String::from_utf8_lossy(&o.stderr)));
    }
    let conns: Vec<Connection> = records(out.path(), "Connection");
    let (ours, _) = our_sums(&conns);
    let (mut compared, mut skipped) = (0, 0);
    let convs = tshark_convs(file).ok_or("tshark -z conv failed")?;
    for ((num, a, b), [ab, ba]) in convs {
        if num == 6 && (reused.contains(&(a.clone(), b.clone())) || reused.contains(&(b.clone(), a.clone()))) {
            skipped += 1;
            continue;
        }
        let get = |s: &Ep, d: &Ep| ours.get(&(num, s.clone(), d.clone())).copied().unwrap_or((0, 0));
        let dirs = if a == b {
            // Both endpoints equal: the direction is a matter of convention, compare the sums.
            let sum = (ab.0 + ba.0, format!("{} bytes", parse_bytes(&ab.1) + parse_bytes(&ba.1)));
            vec![((&a, &b), sum, get(&a, &b))]
        } else {
            vec![((&a, &b), ab, get(&a, &b)), ((&b, &a), ba, get(&b, &a))]
        };
        for ((src, dst), (frames, bytes), got) in dirs {
            if got.0 != frames || !bytes_match(got.1, &bytes) {
                return Err(format!(
                    "{num} {}:{} -> {}:{}: tshark {frames} frames, {bytes}; ours {} packets, {} bytes",
                    src.0, src.1, dst.0, dst.1, got.0, got.1
                ));
            }
        }
        compared += 1;
    }
    Ok((compared, skipped))
}

/// Exact byte counts as tshark prints them ("9654 bytes"); others (k/M/G) only for equal-endpoint
/// sums, where tshark's rounding cannot be undone: 0 then, which fails the comparison loudly.
fn parse_bytes(shown: &str) -> u64 {
    match shown.split_once(' ') {
        Some((n, "bytes")) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

/// A capture, why it was left out (if it was), and the comparison's result.
type FileResult = (PathBuf, Option<String>, Result<(usize, usize), String>);

#[test]
fn connections_agree_with_tshark_conversations() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let index: HashMap<PathBuf, BTreeSet<String>> = corpus_index().iter().cloned().collect();
    let index = &index;
    let mut files = files_with(&["tcp", "udp"]);
    files.dedup();
    let (mut agreed, mut files_compared, mut convs_skipped) = (0usize, 0usize, 0usize);
    let mut left_out = Vec::new();
    let mut failures = Vec::new();
    let results: Vec<FileResult> = std::thread::scope(|s| {
        let chunks: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(2).max(1)).collect();
        let hs: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|f| {
                            let tokens = index.get(f);
                            if let Some((t, why)) =
                                NOT_OUTER_IP.iter().find(|t| tokens.is_some_and(|s| s.contains(t.0)))
                            {
                                return (f.clone(), Some(format!("{t}: {why}")), Ok((0, 0)));
                            }
                            match survey(f) {
                                Err(why) => (f.clone(), Some(why), Ok((0, 0))),
                                Ok(reused) => (f.clone(), None, check_file(f, &reused)),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().expect("comparison thread")).collect()
    });
    for (f, why, r) in results {
        if let Some(why) = why {
            left_out.push(format!("{}: {why}", f.display()));
            continue;
        }
        match r {
            Ok((n, skipped)) => {
                files_compared += 1;
                agreed += n;
                convs_skipped += skipped;
            }
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    for l in &left_out {
        eprintln!("  left out: {l}");
    }
    eprintln!(
        "flow oracle: {agreed} conversations agree in {files_compared} captures ({convs_skipped} reused TCP \
         conversations skipped; {} captures left out: tunnels, ICMP-quoted headers, fragments, IPv6 routing \
         headers, link types the host does not dissect)",
        left_out.len()
    );
    assert!(failures.is_empty(), "{} captures disagree:\n{}", failures.len(), failures.join("\n"));
    assert!(agreed > 1000, "only {agreed} conversations compared");
}

/// The reference implementation's IDs of `tuples` (proto, saddr, daddr, sport, dport), when the
/// `communityid` Python package is installed.
fn python_community_ids(tuples: &[(u32, String, String, u32, u32)], seed: u16) -> Option<Vec<String>> {
    let mut script = format!(
        "import communityid, sys\nc = communityid.CommunityID(seed={seed})\nfor line in sys.stdin:\n    \
         p, s, d, sp, dp = line.split()\n    p, sp, dp = int(p), int(sp), int(dp)\n    \
         t = communityid.FlowTuple(p, s, d, sp, dp) if p in (1, 6, 17, 58, 132) else communityid.FlowTuple(p, s, d)\n    \
         print(c.calc(t))\n"
    );
    script.push('\n');
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take()?;
        for (p, s, d, sp, dp) in tuples {
            writeln!(stdin, "{p} {s} {d} {sp} {dp}").ok()?;
        }
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}

#[test]
fn community_id_agrees_with_wireshark_and_the_reference_implementation() {
    let Some(root) = corpus() else { return };
    if !have_tshark() {
        return;
    }
    let dir = root.join("community-id");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("community-id captures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 9, "the spec's captures");
    let (mut packets, mut conns_checked, mut python_checked) = (0usize, 0usize, 0usize);
    let mut python = true;
    for seed in [0u16, 1] {
        for f in &files {
            let out = TempDir::new("flow-cid");
            let seed_s = seed.to_string();
            let o = capture(f, out.path(), &["--include", "Connection", "--community-id-seed", &seed_s]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), String::from_utf8_lossy(&o.stderr));
            let conns: Vec<Connection> = records(out.path(), "Connection");
            // Wireshark's IDs per packet, counted: each of our IP connections must have exactly
            // as many packets as Wireshark shows its ID for, and the IDs must be the same set.
            let pref = format!("communityid.seed:{seed}");
            let ws: Vec<String> =
                tshark_fields(f, &["communityid"], &["--enable-protocol", "communityid", "-o", &pref])
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.into_iter().next().unwrap_or_default())
                    .collect();
            let mut want: BTreeMap<String, u64> = BTreeMap::new();
            for id in ws.iter().filter(|i| !i.is_empty()) {
                *want.entry(id.clone()).or_default() += 1;
                packets += 1;
            }
            let mut got: BTreeMap<String, u64> = BTreeMap::new();
            for c in conns.iter().filter(|c| !c.community_id.is_empty()) {
                *got.entry(c.community_id.clone()).or_default() += c.num_packets;
            }
            assert_eq!(got, want, "{} (seed {seed}): Community IDs and their packet counts", f.display());
            conns_checked += conns.iter().filter(|c| !c.community_id.is_empty()).count();
            if python {
                let ip: Vec<&Connection> = conns.iter().filter(|c| !c.community_id.is_empty()).collect();
                let tuples: Vec<_> = ip
                    .iter()
                    .map(|c| (c.ip_protocol, c.src_ip.clone(), c.dst_ip.clone(), c.src_port, c.dst_port))
                    .collect();
                match python_community_ids(&tuples, seed) {
                    Some(ids) => {
                        let ours: Vec<String> = ip.iter().map(|c| c.community_id.clone()).collect();
                        assert_eq!(ids, ours, "{} (seed {seed}): the communityid package", f.display());
                        python_checked += ids.len();
                    }
                    None => {
                        eprintln!(
                            "notice: the Python package `communityid` is not installed; compared with Wireshark only"
                        );
                        python = false;
                    }
                }
            }
        }
    }
    eprintln!(
        "community id: {conns_checked} connections over {packets} packets agree with Wireshark, {python_checked} with the communityid package"
    );
    assert!(packets > 100);
}

/// Minimal Ethernet/IPv4/UDP frames, one per flow: distinct source address and port.
fn many_flows(n: u32) -> Vec<(i64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
            let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, [192, 168, 0, 1], 64)
                .udp(1024 + (i % 50_000) as u16, 53);
            let mut v = Vec::with_capacity(b.size(4));
            b.write(&mut v, &[0, 1, 2, 3]).expect("build packet");
            // 1 µs apart: about a second of packet time, so ticks happen but no idle timeout.
            (1_600_000_000_000_000_000 + i64::from(i) * 1_000, v)
        })
        .collect()
}

#[test]
fn a_million_flows_with_a_small_table() {
    let n: u32 = 1_100_000;
    let dir = workspace_root().join("target").join("tmp");
    std::fs::create_dir_all(&dir).expect("target/tmp");
    let file = dir.join(format!("flow-many-{n}.pcap"));
    if !file.is_file() {
        write_pcap(&file, LINKTYPE_ETHERNET, true, &many_flows(n)).expect("write pcap");
    }
    let out = TempDir::new("flow-many");
    let o = netcap(&[
        "capture",
        "-r",
        file.to_str().expect("utf-8"),
        "-o",
        out.path().to_str().expect("utf-8"),
        "--include",
        "Connection",
        "--flow-max",
        "4096",
        "--workers",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let conns: Vec<Connection> = records(out.path(), "Connection");
    assert_eq!(conns.len(), n as usize, "one record per flow");
    let evicted = conns.iter().filter(|c| c.end_reason == "evicted").count();
    let summary = String::from_utf8_lossy(&o.stderr);
    // 4096 / 256 = 16 connections per partition; the rest were evicted, each counted.
    let line =
        summary.lines().find(|l| l.contains("table full")).unwrap_or_else(|| panic!("no eviction count:\n{summary}"));
    let counted: usize = line.split_whitespace().last().and_then(|v| v.replace(',', "").parse().ok()).expect("count");
    assert_eq!(counted, evicted, "{line}");
    assert!(evicted >= n as usize - 4096 && evicted < n as usize, "{evicted} evictions");
    assert_eq!(conns.iter().filter(|c| c.end_reason == "end").count(), n as usize - evicted);
}
