//! TCP reassembly, stream decoders and IP defragmentation, end to end, against tshark.
//!
//! The test-only `echo` stream decoder (`plugins/testing/echo`) writes, per connection direction,
//! the SHA-256 and length of every piece of data between gaps and the length of each gap. tshark's
//! `follow,tcp,raw` is the oracle: it prints each direction's bytes in order, and marks bytes the
//! other side acknowledged but the capture lacks as a "[N bytes missing in capture file]" line.
//! So, for each tshark stream (`tcp.stream`) that carries payload:
//! - its pieces and gap markers must be our pieces and gaps, up to where tshark stops (tshark
//!   stops at a hole nobody acknowledged; we deliver what follows after a gap at the close);
//! - on a stream with packets cut by the snap length, tshark appends the captured part of each
//!   cut segment without a marker, while we mark the uncaptured rest as a gap: there the
//!   concatenated data must be equal.
//!
//! netcap runs with an idle timeout longer than any capture, since tshark never splits a
//! connection on time.

use netcap_decoder_echo::schema::StreamEcho;
use netcap_proto::v1::{Dns, Tcp, Udp};
use netcap_tests::synth_stream::{client_hello, split_hello_capture};
use netcap_tests::{TempDir, capture, corpus_files, have_tshark, netcap, parse_ns, parse_num, records, tshark_fields};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Captures whose streams differ from tshark's follow, and why.
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "pcapplusplus_Ftp.pcap",
        "an IPv6 connection tunnelled in IPv4 (6to4) whose two directions travel between different \
         outer addresses (to the relay 192.88.99.1, back from 139.18.25.33): the host shards by the \
         outermost packet, so each direction is a connection of its own for us; tshark joins them",
    ),
    (
        "zeek_ipv4_fragmented-4.pcap",
        "overlapping IP fragments with different bytes carry the TCP segment: we keep the first \
         fragment's bytes, tshark the later one's",
    ),
];

/// Captures whose reassembled datagrams differ from tshark's, and why.
const DEFRAG_EXCEPTIONS: &[(&str, &str)] = &[(
    "zeek_ipv4_fragmented-1.pcap",
    "after the last fragment fixed the datagram's length at 164 bytes, a first fragment of 304 \
     bytes arrives: we drop that fragment (Linux drops the whole datagram), tshark truncates it \
     and reassembles",
)];

fn sha(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// One direction as tshark's follow shows it: pieces between gap markers, and the gaps.
#[derive(Debug, Default, Clone)]
struct Followed {
    pieces: Vec<Vec<u8>>,
    gaps: Vec<u64>,
}

/// One stream as tshark follows it.
#[derive(Debug, Default, Clone)]
struct Follow {
    node0: String,
    side: [Followed; 2],
}

/// `tshark -z follow,tcp,raw,N` for the given streams (several per tshark run).
fn follow(file: &Path, streams: &[u64]) -> BTreeMap<u64, Follow> {
    let mut out = BTreeMap::new();
    for chunk in streams.chunks(64) {
        let mut c = std::process::Command::new("tshark");
        c.args(["-n", "-q", "-r"]).arg(file);
        for s in chunk {
            c.args(["-z", &format!("follow,tcp,raw,{s}")]);
        }
        let o = c.output().expect("run tshark");
        let text = String::from_utf8_lossy(&o.stdout);
        let mut cur: Option<u64> = None;
        for line in text.lines() {
            if let Some(n) = line.strip_prefix("Filter: tcp.stream eq ") {
                cur = n.trim().parse().ok();
                if let Some(s) = cur {
                    let mut f = Follow::default();
                    f.side[0].pieces.push(Vec::new());
                    f.side[1].pieces.push(Vec::new());
                    out.insert(s, f);
                }
                continue;
            }
            let Some(f) = cur.and_then(|s| out.get_mut(&s)) else { continue };
            if let Some(n) = line.strip_prefix("Node 0: ") {
                f.node0 = n.to_string();
            } else if line.starts_with("Node 1: ") || line.starts_with('=') || line.trim().is_empty() {
            } else {
                let side = &mut f.side[usize::from(line.starts_with('\t'))];
                let hex = line.trim();
                let bytes: Vec<u8> = (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect();
                let text = String::from_utf8_lossy(&bytes);
                // "[N bytes missing in capture file]", NUL-terminated (a period in the text form).
                let marker = text
                    .trim_end_matches(['\0', '.'])
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(" bytes missing in capture file]"))
                    .and_then(|n| n.parse::<u64>().ok());
                match marker {
                    Some(n) => {
                        side.gaps.push(n);
                        side.pieces.push(Vec::new());
                    }
                    None => side.pieces.last_mut().expect("a piece").extend_from_slice(&bytes),
                }
            }
        }
    }
    out
}

/// What tshark says about each TCP stream: endpoints, time span, payload, snap-length cuts.
#[derive(Debug, Default)]
struct TsharkStream {
    first: i64,
    last: i64,
    ends: Vec<(String, u64)>,
    payload: bool,
    cut: bool,
}

fn tshark_streams(file: &Path) -> Option<BTreeMap<u64, TsharkStream>> {
    // Shared with the gap bounds of stream_fidelity.rs.
    let rows = netcap_tests::tcp_fields(file)?;
    let mut m: BTreeMap<u64, TsharkStream> = BTreeMap::new();
    let last = |s: &str| s.rsplit(',').next().unwrap_or("").to_string();
    for r in rows {
        let col = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        // A TCP header quoted in an ICMP error belongs to another stream: skip such packets.
        if col(0).is_empty() || col(0).contains(',') {
            continue;
        }
        let (Some(s), Some(t)) = (parse_num(col(0)), parse_ns(col(1))) else { continue };
        let src = if col(2).is_empty() { last(col(3)) } else { last(col(2)) };
        let dst = if col(5).is_empty() { last(col(6)) } else { last(col(5)) };
        let e = m.entry(s).or_insert_with(|| {
            let mut ends = vec![
                (src.clone(), parse_num(&last(col(4))).unwrap_or(0)),
                (dst.clone(), parse_num(&last(col(7))).unwrap_or(0)),
            ];
            ends.sort();
            TsharkStream { first: t, last: t, ends, ..TsharkStream::default() }
        });
        e.last = e.last.max(t);
        e.payload |= parse_num(&last(col(8))).unwrap_or(0) > 0;
        e.cut |= parse_num(col(9)) < parse_num(col(10));
    }
    Some(m)
}

/// Our two records per stream (to_server, to_client), by stream id.
fn ours_by_stream(dir: &Path) -> BTreeMap<u64, [StreamEcho; 2]> {
    let mut m: BTreeMap<u64, [StreamEcho; 2]> = BTreeMap::new();
    for r in records::<StreamEcho>(dir, "StreamEcho") {
        let i = usize::from(r.direction == "to_client");
        let id = r.stream;
        m.entry(id).or_default()[i] = r;
    }
    m
}

fn ends_of(r: &StreamEcho) -> Vec<(String, u64)> {
    let mut v = vec![(r.client_ip.clone(), u64::from(r.client_port)), (r.server_ip.clone(), u64::from(r.server_port))];
    v.sort();
    v
}

/// Compares one file; returns (streams compared, problems).
fn compare_file(file: &Path) -> (usize, Vec<String>) {
    let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let mut problems = Vec::new();
    let Some(ts) = tshark_streams(file) else { return (0, problems) };
    if ts.is_empty() {
        return (0, problems);
    }
    // Shared with the gap bounds of stream_fidelity.rs: echo alone, streams never time out.
    let run = netcap_tests::shared_capture(file, netcap_tests::Shared::StreamEcho);
    if run.output.status.code() == Some(2) {
        problems.push(format!("{name}: netcap failed: {}", String::from_utf8_lossy(&run.output.stderr)));
        return (0, problems);
    }
    let ours = ours_by_stream(&run.dir);
    let ids: Vec<u64> = ts.iter().filter(|(_, s)| s.payload).map(|(k, _)| *k).collect();
    let fol = follow(file, &ids);
    let mut matched = std::collections::BTreeSet::new();
    let mut compared = 0;
    for (s, t) in &ts {
        let cands: Vec<u64> = ours
            .iter()
            .filter(|(_, r)| {
                let ts0 = r[0].timestamp;
                ts0 >= t.first && ts0 <= t.last && ends_of(&r[0]) == t.ends
            })
            .map(|(k, _)| *k)
            .collect();
        if !t.payload && cands.is_empty() {
            continue; // no data (a RST alone, a header cut short): nothing to follow
        }
        let [id] = cands[..] else {
            problems.push(format!("{name}: tcp.stream {s}: {} of our streams match", cands.len()));
            continue;
        };
        matched.insert(id);
        let r = &ours[&id];
        let Some(f) = fol.get(s) else {
            if t.payload {
                problems.push(format!("{name}: tcp.stream {s}: tshark did not follow it"));
            }
            continue;
        };
        let client = &r[0];
        let node0_is_client = f.node0 == format!("{}:{}", client.client_ip, client.client_port)
            || f.node0 == format!("[{}]:{}", client.client_ip, client.client_port);
        for (i, rec) in r.iter().enumerate() {
            let theirs = &f.side[if node0_is_client { i } else { 1 - i }];
            let ours_pieces: Vec<(String, u64)> =
                rec.piece_sha256.iter().cloned().zip(rec.piece_bytes.iter().copied()).collect();
            let ok = if t.cut {
                sha(&theirs.pieces.concat()) == rec.sha256
            } else {
                let tp: Vec<(String, u64)> = theirs.pieces.iter().map(|p| (sha(p), p.len() as u64)).collect();
                tp.len() <= ours_pieces.len()
                    && tp[..] == ours_pieces[..tp.len()]
                    && theirs.gaps[..] == rec.gap_lengths[..theirs.gaps.len().min(rec.gap_lengths.len())]
                    && theirs.gaps.len() <= rec.gap_lengths.len()
            };
            if !ok {
                let lens: Vec<usize> = theirs.pieces.iter().map(Vec::len).collect();
                problems.push(format!(
                    "{name}: tcp.stream {s} {}: tshark pieces {lens:?} gaps {:?}, ours {:?} gaps {:?}{}",
                    rec.direction,
                    theirs.gaps,
                    rec.piece_bytes,
                    rec.gap_lengths,
                    if t.cut { " (snap length)" } else { "" }
                ));
            }
        }
        compared += 1;
    }
    for (id, r) in &ours {
        if !matched.contains(id) {
            problems.push(format!(
                "{name}: our stream {id} ({}:{} > {}:{}) is no tshark stream",
                r[0].client_ip, r[0].client_port, r[0].server_ip, r[0].server_port
            ));
        }
    }
    (compared, problems)
}

#[test]
fn echo_streams_agree_with_tshark_follow() {
    if !have_tshark() {
        return;
    }
    let files: Vec<_> = corpus_files(&["tcp", "http", "tls", "ssh", "mail_ftp", "fragments"])
        .into_iter()
        .filter(|f| {
            let n = f.file_name().unwrap_or_default().to_string_lossy();
            !EXCEPTIONS.iter().any(|(e, _)| *e == n)
        })
        .collect();
    if files.is_empty() {
        return;
    }
    let half = files.len().div_ceil(2);
    let (compared, problems) = std::thread::scope(|sc| {
        let hs: Vec<_> = files
            .chunks(half)
            .map(|chunk| {
                sc.spawn(move || {
                    let mut n = 0;
                    let mut probs = Vec::new();
                    for f in chunk {
                        let (c, p) = compare_file(f);
                        n += c;
                        probs.extend(p);
                    }
                    (n, probs)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).fold((0, Vec::new()), |mut a, (n, p)| {
            a.0 += n;
            a.1.extend(p);
            a
        })
    });
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    // 972 streams with data from about 180 captures (and a SYN scan's 1,994 without) at the time
    // of writing.
    assert!(compared > 900, "only {compared} streams with data compared");
}

#[test]
fn a_tls_hello_split_out_of_order_across_segments_is_delivered_whole() {
    let hello = client_hello("reassembly.example.org", 1500);
    let reply = b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00".to_vec(); // ServerHelloDone, as a stand-in
    let dir = TempDir::new("split-hello");
    let plugins = netcap_tests::echo_plugin_dir();
    for (v6, isn) in [(false, 0xffff_fd00u32), (true, 77u32)] {
        // Three pieces: the second arrives first, then an overlap, the first, the first again.
        let cuts = [600, 1100];
        let pkts = split_hello_capture(v6, isn, &hello, &cuts, &[1, 0, 0, 2], &reply, 1_700_000_000_000_000_000);
        let pcap = dir.path().join(format!("hello-v{}.pcap", if v6 { 6 } else { 4 }));
        netcap_tests::pcap::write_pcap(&pcap, netcap_tests::pcap::LINKTYPE_ETHERNET, true, &pkts).expect("write");
        if have_tshark() {
            // The capture really holds the hello in pieces, as tshark reassembles it.
            let sni = tshark_fields(
                &pcap,
                &["tls.handshake.extensions_server_name"],
                &["-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "tls.handshake.type == 1"],
            )
            .expect("tshark");
            assert_eq!(sni, vec![vec!["reassembly.example.org".to_string()]], "v6={v6}");
            let f = follow(&pcap, &[0]);
            assert_eq!(f[&0].side[0].pieces, vec![hello.clone()], "tshark follows the hello");
        }
        let out = dir.path().join(format!("out-{v6}"));
        let o = netcap(&[
            "capture",
            "-r",
            pcap.to_str().expect("utf-8"),
            "-o",
            out.to_str().expect("utf-8"),
            "--plugins",
            plugins.to_str().expect("utf-8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let summary = String::from_utf8_lossy(&o.stderr);
        assert!(summary.contains("tcp reassembly: 1 streams"), "{summary}");
        // The second piece and the overlap arrive ahead of the hole; the overlap covers 50 bytes
        // of each neighbour, and the first piece is sent twice.
        assert!(summary.contains("2 out-of-order segments, 3 overlapping segments (700 B, 0 with"), "{summary}");
        let rs = ours_by_stream(&out);
        let [r] = &rs.values().collect::<Vec<_>>()[..] else { panic!("one stream: {rs:?}") };
        assert_eq!(r[0].piece_sha256, vec![sha(&hello)], "v6={v6}: the hello, whole");
        assert_eq!((r[0].bytes, r[0].gaps, r[0].close.as_str()), (hello.len() as u64, 0, "fin"));
        assert_eq!(r[1].piece_sha256, vec![sha(&reply)]);
        assert_eq!((r[0].client_port, r[0].server_port), (40000, 443));
    }
}

#[test]
fn stream_output_is_identical_for_1_2_and_4_workers() {
    let Some(root) = netcap_tests::corpus() else { return };
    let plugins = netcap_tests::echo_plugin_dir();
    let files =
        ["tcp/chrissanders_synscan.pcapng", "http/zeek_http_bro.org.pcap", "fragments/pcapplusplus_ip-frag.pcap"];
    for (f, limits) in files.iter().zip([&[][..], &["--max-stream-memory", "300k"][..], &["--max-stream-bytes", "2k"]])
    {
        let file = root.join(f);
        let base = TempDir::new("det-streams");
        let mut outputs: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
        for w in ["1", "2", "4"] {
            let dir = base.path().join(w);
            let mut args = vec!["--workers", w, "--plugins", plugins.to_str().expect("utf-8")];
            args.extend_from_slice(limits);
            let o = capture(&file, &dir, &args);
            assert!(matches!(o.status.code(), Some(0 | 1)), "{f}: {}", String::from_utf8_lossy(&o.stderr));
            let names = netcap_tests::file_names(&dir);
            outputs.push(names.into_iter().map(|n| (n.clone(), netcap_tests::file_bytes(&dir.join(&n)))).collect());
        }
        assert!(outputs[0].iter().any(|(n, _)| n.starts_with("StreamEcho")), "{f}: no streams");
        for o in &outputs[1..] {
            assert!(*o == outputs[0], "{f}: output differs with the worker count");
        }
    }
}

#[test]
fn reassembled_datagrams_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let fields = [
        "frame.time_epoch",
        "ip.fragment.count",
        "ipv6.fragment.count",
        "udp.srcport",
        "udp.dstport",
        "udp.length",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.seq_raw",
        "dns.id",
    ];
    let mut datagrams = 0;
    let mut problems = Vec::new();
    for f in corpus_files(&["fragments", "dns"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if DEFRAG_EXCEPTIONS.iter().any(|(e, _)| *e == name) {
            continue;
        }
        let Some(rows) = tshark_fields(&f, &fields, &[]) else { continue };
        // The times of the reassembled datagrams (the completing fragments'), and what tshark
        // decodes at those times: the datagrams, and other packets of the same instant.
        let col = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
        let reassembled = |r: &Vec<String>| !col(r, 1).is_empty() || !col(r, 2).is_empty();
        let times: std::collections::BTreeSet<i64> =
            rows.iter().filter(|r| reassembled(r)).filter_map(|r| parse_ns(&col(r, 0))).collect();
        let n = rows.iter().filter(|r| reassembled(r)).count();
        let mut want: Vec<String> = Vec::new();
        for r in rows.iter().filter(|r| parse_ns(&col(r, 0)).is_some_and(|t| times.contains(&t))) {
            let t = parse_ns(&col(r, 0)).unwrap_or(0);
            if !col(r, 3).is_empty() {
                want.push(format!("{t} udp {} {} {}", col(r, 3), col(r, 4), col(r, 5)));
            }
            if !col(r, 6).is_empty() {
                want.push(format!("{t} tcp {} {} {}", col(r, 6), col(r, 7), col(r, 8)));
            }
            if !col(r, 9).is_empty() {
                want.push(format!("{t} dns {}", parse_num(&col(r, 9)).unwrap_or(0)));
            }
        }
        if n == 0 {
            continue;
        }
        datagrams += n;
        let out = TempDir::new("defrag");
        let o = netcap(&["capture", "-r", f.to_str().expect("utf-8"), "-o", out.path().to_str().expect("utf-8")]);
        let summary = String::from_utf8_lossy(&o.stderr);
        if !summary.contains(&format!("ip defragmentation: {n} datagrams")) {
            problems.push(format!("{name}: tshark reassembles {n} datagrams; our summary: {summary}"));
        }
        let mut got: Vec<String> = Vec::new();
        for u in records::<Udp>(out.path(), "UDP").iter().filter(|u| times.contains(&u.timestamp)) {
            got.push(format!("{} udp {} {} {}", u.timestamp, u.src_port, u.dst_port, u.length));
        }
        for t in records::<Tcp>(out.path(), "TCP").iter().filter(|t| times.contains(&t.timestamp)) {
            got.push(format!("{} tcp {} {} {}", t.timestamp, t.src_port, t.dst_port, t.seq_num));
        }
        for d in records::<Dns>(out.path(), "DNS").iter().filter(|d| times.contains(&d.timestamp)) {
            got.push(format!("{} dns {}", d.timestamp, d.id));
        }
        want.sort();
        got.sort();
        if want != got {
            problems.push(format!("{name}: tshark {want:?}\n  ours {got:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if netcap_tests::corpus().is_some() {
        assert!(datagrams > 200, "only {datagrams} reassembled datagrams compared");
    }
}

#[test]
fn malformed_and_truncated_streams_are_counted_never_fatal() {
    let plugins = netcap_tests::echo_plugin_dir();
    let files = corpus_files(&["malformed", "tcp"]);
    for f in &files {
        let out = TempDir::new("malformed-streams");
        let o = netcap(&[
            "capture",
            "-r",
            f.to_str().expect("utf-8"),
            "-o",
            out.path().to_str().expect("utf-8"),
            "--plugins",
            plugins.to_str().expect("utf-8"),
            "--max-stream-bytes",
            "1k",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}: {err}", f.display());
        assert!(!err.contains("decoder faults"), "{}: {err}", f.display());
        assert!(!err.contains("echo: "), "{}: the echo decoder saw an inconsistent stream: {err}", f.display());
    }
}

/// A flood of 200,000 IPv4 fragments that never complete (10 µs apart, so the 32 MiB cap evicts
/// the oldest pending datagrams): every fragment is counted, every datagram ends incomplete, and
/// the run succeeds. The flood is written to `target/tmp/defrag-flood-200k.pcap` (kept, for timing
/// by hand; the defragmenter's own test checks that its work is linear).
#[test]
fn a_fragment_flood_is_counted_and_every_datagram_ends_incomplete() {
    let dir = netcap_tests::target_dir().join("tmp");
    std::fs::create_dir_all(&dir).expect("target/tmp");
    let pcap = dir.join("defrag-flood-200k.pcap");
    netcap_tests::pcap::write_pcap(
        &pcap,
        netcap_tests::pcap::LINKTYPE_ETHERNET,
        true,
        &netcap_tests::pcap::fragment_flood(200_000),
    )
    .expect("write the flood");
    let out = TempDir::new("defrag-flood");
    let o = netcap(&[
        "capture",
        "-r",
        pcap.to_str().expect("utf-8"),
        "-o",
        out.path().to_str().expect("utf-8"),
        "--include",
        "IPv4",
    ]);
    let summary = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{summary}");
    assert!(
        summary.contains("ip defragmentation: 0 datagrams from 200,000 fragments; 200,000 incomplete datagrams, 0 overlapping fragments (0 with differing bytes), 0 fragments dropped"),
        "{summary}"
    );
    assert_eq!(records::<netcap_proto::v1::IPv4>(out.path(), "IPv4").len(), 200_000);
}
