//! Flow and Connection records (decoder `flow`) against independent oracles:
//! - packets and bytes per direction of every TCP and UDP Connection agree with tshark's
//!   conversation statistics (`-z conv,tcp`, `-z conv,udp`) on every corpus capture with TCP or
//!   UDP, except captures where tshark sees more than one IP header in a frame (tunnels, ICMP
//!   errors quoting a header), and TCP conversations tshark splits itself (5-tuple reuse, several
//!   `tcp.stream`s); on captures with IP fragments the oracle is tshark's per-frame reassembly
//!   (`ip.reassembled_in`), each fragment counted into the conversation of the frame that
//!   reassembles it, since `-z conv` counts a reassembled datagram as that one frame only;
//! - the Community ID of every Connection equals Wireshark's (`--enable-protocol communityid`) for
//!   each of its packets on the Community ID spec's captures, and, where the PyPI `communityid`
//!   package (the spec authors' reference implementation) is installed, that package's ID of the
//!   record's tuple;
//! - a synthesized capture of more than a million distinct flows runs with a small `--flow-max`:
//!   every flow still gets its record and every eviction is counted.

use netcap_proto::v1::Connection;
use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::{
    Shared, TempDir, capture, corpus, corpus_index, files_with, have_tshark, netcap, records, shared_capture,
    tshark_fields, workspace_root,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

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
        insert_conv(&mut m, (proto, a, b), [ab, ba]);
    }
    Some(m)
}

/// Adds one line of tshark's table. Some dissectors (SNMP, for one) open a conversation of their
/// own for a request, which splits one 5-tuple over two lines of `-z conv,udp`, sometimes in
/// opposite orientations: such lines are summed back into one conversation. A sum that tshark
/// printed rounded (kB) cannot be made exact and becomes "0 split", which fails loudly.
fn insert_conv(m: &mut Convs, (proto, a, b): (u32, Ep, Ep), [ab, ba]: [(u64, String); 2]) {
    let sum = |x: &(u64, String), y: &(u64, String)| {
        let exact = |s: &str| s.ends_with(" bytes").then(|| parse_bytes(s));
        match (exact(&x.1), exact(&y.1)) {
            (Some(p), Some(q)) => (x.0 + y.0, format!("{} bytes", p + q)),
            _ => (x.0 + y.0, "0 split".to_string()),
        }
    };
    if let Some([o_ab, o_ba]) = m.get_mut(&(proto, a.clone(), b.clone())) {
        (*o_ab, *o_ba) = (sum(o_ab, &ab), sum(o_ba, &ba));
    } else if let Some([o_ab, o_ba]) = m.get_mut(&(proto, b.clone(), a.clone())) {
        (*o_ab, *o_ba) = (sum(o_ab, &ba), sum(o_ba, &ab));
    } else {
        m.insert((proto, a, b), [ab, ba]);
    }
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

/// Fuzzer captures whose only UDP packet is a malformed first fragment (a frame beyond 65,535
/// bytes, or an IP length beyond what was captured): the host's defragmenter drops it (counted in
/// the summary), so it keeps the addresses-only flow, while tshark still dissects its UDP header
/// and counts it into a conversation.
const OVERSIZED_DATAGRAMS: &[&str] =
    &["tcpdump_bootp_asan.pcap", "tcpdump_dhcp6_reconf_asan.pcap", "tcpdump_esp_truncated.pcap"];

/// What one tshark pass found in a capture that the comparison must know.
#[derive(Debug, Default)]
struct Survey {
    /// TCP conversations tshark splits into several streams (5-tuple reuse), to skip.
    reused: BTreeSet<(Ep, Ep)>,
    /// Whether it has IP fragments (then conversations are summed per frame).
    fragments: bool,
}

/// From one tshark pass: why the capture is left out of the comparison (`Err`), or what the
/// comparison must know.
fn survey(file: &Path) -> Result<Survey, String> {
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
        "ip.id",
        "ipv6.fraghdr.ident",
    ];
    let rows = tshark_fields(file, &fields, &[]).ok_or("tshark failed")?;
    let mut streams: HashMap<(Ep, Ep), BTreeSet<String>> = HashMap::new();
    let mut fragments = false;
    // Datagrams (addresses and identification) whose first fragment has been seen.
    let mut first_seen: BTreeSet<(String, String, String)> = BTreeSet::new();
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
            fragments = true;
            // The host learns a datagram's ports from its first fragment: fragments before it
            // stay without ports, where tshark's reassembly puts them into the conversation.
            let dgram = (format!("{}{}", r[0], r[1]), format!("{}{}", r[11], r[12]), format!("{}{}", r[13], r[14]));
            if (r[3].is_empty() || r[3] == "0") && (r[4].is_empty() || r[4] == "0") {
                first_seen.insert(dgram);
            } else if !first_seen.contains(&dgram) {
                return Err(format!("frame {}: IP fragment before its datagram's first fragment", i + 1));
            }
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
    let reused = streams.into_iter().filter(|(_, s)| s.len() > 1).map(|(k, _)| k).collect();
    Ok(Survey { reused, fragments })
}

/// tshark's conversations summed from its frames (reassembly on, the default): every frame with
/// TCP or UDP ports counts into its conversation, and so does every IP fragment that tshark
/// reassembles into such a frame (`ip.reassembled_in`, `ipv6.reassembled.in`), each with its own
/// frame length. Same shape as [`tshark_convs`], bytes exact.
fn frame_convs(file: &Path) -> Option<Convs> {
    let fields = [
        "frame.number",
        "frame.len",
        "ip.src",
        "ipv6.src",
        "ip.dst",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "ip.reassembled_in",
        "ipv6.reassembled.in",
    ];
    // Two passes: `reassembled_in` points forward.
    let rows = tshark_fields(file, &fields, &["-2"])?;
    // Frame number -> (proto, src, dst) of the frames with ports.
    let mut tuples: HashMap<String, (u32, Ep, Ep)> = HashMap::new();
    for r in rows.iter().filter(|r| r.len() == fields.len()) {
        let (proto, sp, dp) = if !r[6].is_empty() { (6, &r[6], &r[7]) } else { (17, &r[8], &r[9]) };
        if let (Ok(sp), Ok(dp)) = (sp.parse::<u32>(), dp.parse::<u32>()) {
            let (src, dst) = (format!("{}{}", r[2], r[3]), format!("{}{}", r[4], r[5]));
            tuples.insert(r[0].clone(), (proto, (src, sp), (dst, dp)));
        }
    }
    let mut dir: HashMap<(u32, Ep, Ep), (u64, u64)> = HashMap::new();
    for r in rows.iter().filter(|r| r.len() == fields.len()) {
        let into = [&r[10], &r[11]].into_iter().find(|v| !v.is_empty()).unwrap_or(&r[0]);
        let Some(t) = tuples.get(into) else { continue };
        let e = dir.entry(t.clone()).or_default();
        e.0 += 1;
        e.1 += r[1].parse::<u64>().ok()?;
    }
    let mut m = BTreeMap::new();
    for ((proto, a, b), ab) in &dir {
        let key = if a <= b { (*proto, a.clone(), b.clone()) } else { (*proto, b.clone(), a.clone()) };
        let (x, y) = (key.1.clone(), key.2.clone());
        if let std::collections::btree_map::Entry::Vacant(e) = m.entry(key) {
            let get = |s: &Ep, d: &Ep| dir.get(&(*proto, s.clone(), d.clone())).copied().unwrap_or((0, 0));
            let (xy, yx) = if x == y { (*ab, (0, 0)) } else { (get(&x, &y), get(&y, &x)) };
            e.insert([(xy.0, format!("{} bytes", xy.1)), (yx.0, format!("{} bytes", yx.1))]);
        }
    }
    Some(m)
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
fn check_file(file: &Path, survey: &Survey) -> Result<(usize, usize), String> {
    let reused = &survey.reused;
    // Shared with the nDPI comparison: Connection records, and no timeout splits a conversation
    // (tshark never splits on time).
    let run = shared_capture(file, Shared::Default);
    if !matches!(run.output.status.code(), Some(0 | 1)) {
        return Err(format!("netcap failed: {}", String::from_utf8_lossy(&run.output.stderr)));
    }
    let conns: Vec<Connection> = records(&run.dir, "Connection");
    let (ours, _) = our_sums(&conns);
    let (mut compared, mut skipped) = (0, 0);
    let convs = if survey.fragments {
        frame_convs(file).ok_or("tshark -T fields failed")?
    } else {
        tshark_convs(file).ok_or("tshark -z conv failed")?
    };
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
                            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                            if OVERSIZED_DATAGRAMS.contains(&name.as_str()) {
                                let why = "a malformed first fragment the defragmenter drops (tshark dissects its UDP header)";
                                return (f.clone(), Some(why.to_string()), Ok((0, 0)));
                            }
                            match survey(f) {
                                Err(why) => (f.clone(), Some(why), Ok((0, 0))),
                                Ok(survey) => (f.clone(), None, check_file(f, &survey)),
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
         conversations skipped; {} captures left out: tunnels, ICMP-quoted headers, IPv6 routing headers, \
         link types the host does not dissect)",
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

/// An Ethernet/IPv4/UDP frame from `src`:`sport` to `dst`:`dport`, IP identification `id`.
fn udp_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, id: u16, payload: &[u8]) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).expect("build UDP frame");
    v[14 + 4..14 + 6].copy_from_slice(&id.to_be_bytes());
    v
}

/// The IPv4 fragment of Ethernet frame `whole` with IP payload bytes [a, b) (header checksum left
/// as is: nothing here checks it).
fn fragment(whole: &[u8], a: usize, b: usize, more: bool) -> Vec<u8> {
    let mut f = whole[..14 + 20].to_vec();
    f.extend_from_slice(&whole[14 + 20 + a..14 + 20 + b]);
    f[14 + 2..14 + 4].copy_from_slice(&((20 + b - a) as u16).to_be_bytes());
    let fo = (a / 8) as u16 | if more { 0x2000 } else { 0 };
    f[14 + 6..14 + 8].copy_from_slice(&fo.to_be_bytes());
    f
}

/// Defragmentation decision: the fragments of a UDP datagram count into the connection of its
/// ports (each as the packet it is, with its frame length), not into a port-less flow; fragments
/// of a datagram whose first fragment never came stay in the flow of their addresses. Values
/// derived by hand from the frames built here, and tshark's per-frame reassembly agrees; the
/// output is the same for 1 and 3 workers.
#[test]
fn fragments_count_into_their_datagrams_connection() {
    let (c, s) = ([10, 2, 0, 1], [10, 2, 0, 2]);
    let t0 = 1_700_000_000_000_000_000i64;
    let big = udp_frame(c, 5000, s, 53, 7, &[0xab; 3000]); // IP payload: 8 + 3000 bytes
    let frags = [fragment(&big, 0, 1480, true), fragment(&big, 1480, 2960, true), fragment(&big, 2960, 3008, false)];
    let reply = udp_frame(s, 53, c, 5000, 8, &[1; 100]);
    // A datagram (another identification) whose first fragment was not captured.
    let lost = udp_frame(c, 5000, s, 53, 9, &[0xcd; 2000]);
    let orphans = [fragment(&lost, 1480, 2008, false)];
    let mut packets = Vec::new();
    for (i, f) in frags.iter().chain([&reply]).chain(orphans.iter()).enumerate() {
        packets.push((t0 + i as i64 * 1_000_000, f.clone()));
    }
    let dir = TempDir::new("flow-frags");
    let file = dir.path().join("frags.pcap");
    write_pcap(&file, LINKTYPE_ETHERNET, true, &packets).expect("write pcap");
    let run = |workers: &str| {
        let out = dir.path().join(format!("out-{workers}"));
        let o = capture(&file, &out, &["--include", "Connection", "--workers", workers]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        (netcap_tests::file_bytes(&out.join("Connection.ncap.zst")), records::<Connection>(&out, "Connection"))
    };
    let (one, conns) = run("1");
    assert_eq!(one, run("3").0, "same Connection file for 1 and 3 workers");
    assert_eq!(conns.len(), 2, "{conns:?}");
    let udp = conns.iter().find(|c| c.src_port == 5000).expect("the port connection");
    let frag_bytes: u64 = frags.iter().map(|f| f.len() as u64).sum();
    assert_eq!((udp.packets_client_to_server, udp.bytes_client_to_server), (3, frag_bytes));
    assert_eq!((udp.packets_server_to_client, udp.bytes_server_to_client), (1, reply.len() as u64));
    assert_eq!(udp.payload_bytes_client_to_server, 3000, "UDP payload of the datagram, over its fragments");
    assert_eq!((udp.dst_ip.as_str(), udp.dst_port, udp.ip_protocol), ("10.2.0.2", 53, 17));
    let orphan = conns.iter().find(|c| c.src_port == 0).expect("the port-less flow");
    assert_eq!((orphan.num_packets, orphan.total_size), (1, orphans[0].len() as u64));
    if have_tshark() {
        let theirs = frame_convs(&file).expect("tshark");
        let key = (17, ("10.2.0.1".to_string(), 5000), ("10.2.0.2".to_string(), 53));
        assert_eq!(theirs.get(&key).map(|v| (v[0].0, v[1].0)), Some((3, 1)), "{theirs:?}");
        assert_eq!(theirs[&key][0].1, format!("{frag_bytes} bytes"));
    }
}
