//! QUIC records (the `quic` decoder) against tshark on every corpus capture tshark dissects as
//! QUIC: one netcap run and one tshark pass per capture, compared as multisets per capture:
//!
//! - long-header packets: version and destination connection id of each, the packet type of
//!   each (v1 and draft numbering; tshark 4.0 has no type field for v2), the non-empty source
//!   connection ids;
//! - decrypted Initial packets: the packet numbers and the frame types tshark reports (it
//!   decrypts exactly the Initials, without a key log);
//! - the TLS hellos in the CRYPTO frames: JA3 and SNI of each ClientHello, JA3S of each
//!   ServerHello.
//!
//! JA4 with the `q` prefix is compared with values derived by hand from tshark's fields (tshark
//! 4.0 has no JA4 field), in `quic_ja4_derived_from_tshark_fields`.

use netcap_proto::v1::{Quic, TlsClientHello, TlsServerHello};
use netcap_tests::{corpus, files_with, have_tshark, records, tshark_fields};
use std::collections::BTreeMap;
use std::path::Path;

const FIELDS: &[&str] = &[
    "quic.header_form",
    "quic.version",
    "quic.long.packet_type",
    "quic.dcid",
    "quic.scid",
    "quic.packet_number",
    "quic.frame_type",
    "tls.handshake.type",
    "tls.handshake.ja3",
    "tls.handshake.ja3s",
    "tls.handshake.extensions_server_name",
    "_ws.expert.message",
];

/// Comparisons left out per capture, with the reason.
const EXCEPTIONS: &[(&str, &[&str], &str)] = &[
    (
        "ndpi_quic-v2.pcapng",
        &["pns", "frames"],
        "the pcapng embeds the TLS secrets (Decryption Secrets Block): tshark also decrypts the Handshake and 1-RTT \
         packets; we decrypt Initial packets only",
    ),
    (
        "tcpdump_quic_vn.pcap",
        &["pns", "frames", "ja3", "sni"],
        "after Version Negotiation the client's Initial has a new version and connection id: tshark 4.0 keeps the keys \
         of the first Initial and fails to decrypt it (checktag error); we derive its keys and read its ClientHello",
    ),
    (
        "tcpdump_quic_retry.pcap",
        &["ja3", "sni"],
        "after the Retry the client sends its ClientHello again (new connection id, CRYPTO offset 0): tshark 4.0 takes \
         it for a retransmission; we emit a record per ClientHello sent (tshark's are a subset of ours)",
    ),
    (
        "ndpi_quic-29.pcap",
        &["ja3", "sni"],
        "a Retry, then the ClientHello again (see tcpdump_quic_retry.pcap), then a second ClientHello after a \
         HelloRetryRequest: one record more than tshark",
    ),
];

/// QUIC v2 (RFC 9369).
const V2: u32 = 0x6b33_43cf;

fn cells(c: &str) -> impl Iterator<Item = &str> {
    c.split(',').filter(|s| !s.is_empty())
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// What is compared of one capture, from either side.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    /// (version, dcid) of each long-header packet.
    packets: Vec<(u32, String)>,
    /// (version, packet type) of each long-header packet of a version tshark names the type of.
    types: Vec<(u32, u32)>,
    scids: Vec<String>,
    pns: Vec<u64>,
    /// Initial packets whose decryption failed (tshark reports their packet numbers anyway).
    failed: usize,
    frames: Vec<u32>,
    ja3: Vec<String>,
    sni: Vec<String>,
    ja3s: Vec<String>,
}

impl Seen {
    fn sort(self) -> Seen {
        Seen {
            packets: sorted(self.packets),
            types: sorted(self.types),
            scids: sorted(self.scids),
            pns: sorted(self.pns),
            failed: self.failed,
            frames: sorted(self.frames),
            ja3: sorted(self.ja3),
            sni: sorted(self.sni),
            ja3s: sorted(self.ja3s),
        }
    }
}

fn hex_u32(s: &str) -> u32 {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex version")
}

/// tshark's view: long-header packets come first in a datagram, so the first `k` dcids of a row
/// with `k` long headers are theirs.
fn tshark_seen(f: &Path) -> Seen {
    let rows = tshark_fields(f, FIELDS, &["-Y", "quic"]).expect("tshark reads the capture");
    let mut s = Seen::default();
    for r in rows {
        let col = |i: usize| r.get(i).map_or("", String::as_str);
        let long = col(0).split(',').filter(|h| *h == "1").count();
        let versions: Vec<u32> = cells(col(1)).map(hex_u32).collect();
        let dcids: Vec<&str> = col(3).split(',').collect();
        for (i, v) in versions.iter().enumerate().take(long) {
            s.packets.push((*v, dcids.get(i).copied().unwrap_or_default().to_string()));
        }
        let mut typed = versions.iter().filter(|&&v| v != 0 && v != V2);
        for t in cells(col(2)) {
            s.types.push((*typed.next().expect("a version per packet type"), t.parse().expect("type")));
        }
        s.scids.extend(cells(col(4)).map(str::to_string));
        s.pns.extend(cells(col(5)).map(|n| n.parse::<u64>().expect("packet number")));
        s.failed += col(11).matches("checktag").count();
        s.frames.extend(cells(col(6)).map(|n| n.parse::<u32>().expect("frame type")));
        let types: Vec<&str> = cells(col(7)).collect();
        if types.contains(&"1") {
            s.ja3.extend(cells(col(8)).map(str::to_string));
            s.sni.extend(cells(col(10)).map(str::to_string));
        }
        if types.contains(&"2") {
            s.ja3s.extend(cells(col(9)).map(str::to_string));
        }
    }
    s.sort()
}

fn type_number(name: &str) -> Option<u32> {
    ["Initial", "0-RTT", "Handshake", "Retry"].iter().position(|n| *n == name).map(|i| i as u32)
}

fn our_seen(dir: &Path) -> Seen {
    let q: Vec<Quic> = records(dir, "QUIC");
    let c: Vec<TlsClientHello> = records(dir, "TLSClientHello");
    let sh: Vec<TlsServerHello> = records(dir, "TLSServerHello");
    let mut s = Seen::default();
    for r in &q {
        s.packets.push((r.version, r.dcid.clone()));
        if r.version != 0 && r.version != V2 {
            s.types.push((r.version, type_number(&r.packet_type).expect("a long-header type")));
        }
        if !r.scid.is_empty() {
            s.scids.push(r.scid.clone());
        }
        if r.decrypted {
            s.pns.push(r.packet_number);
            s.frames.extend(&r.frames);
        }
    }
    s.ja3 = c.iter().filter(|r| !r.ja3.is_empty()).map(|r| r.ja3.clone()).collect();
    s.sni = c.iter().filter(|r| !r.sni.is_empty()).map(|r| r.sni.clone()).collect();
    s.ja3s = sh.iter().filter(|r| !r.ja3s.is_empty()).map(|r| r.ja3s.clone()).collect();
    s.sort()
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

/// `(a - b)` as a multiset.
fn missing<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut b = b.to_vec();
    let mut out = Vec::new();
    for x in a {
        match b.iter().position(|y| y == x) {
            Some(i) => {
                b.remove(i);
            }
            None => out.push(x.clone()),
        }
    }
    out
}

/// The disagreements between our view and tshark's, but for the comparisons in `skip`.
fn diff(ours: &Seen, tshark: &Seen, skip: &[&str]) -> Vec<String> {
    let mut d = Vec::new();
    let mut cmp = |name: &str, equal: bool, detail: String| {
        if !skip.contains(&name) && !equal {
            d.push(format!("{name}: {detail}"));
        }
    };
    cmp("packets", ours.packets == tshark.packets, format!("ours {:?} tshark {:?}", ours.packets, tshark.packets));
    cmp("types", ours.types == tshark.types, format!("ours {:?} tshark {:?}", ours.types, tshark.types));
    cmp("scids", ours.scids == tshark.scids, format!("ours {:?} tshark {:?}", ours.scids, tshark.scids));
    // tshark also gives the packet numbers of the Initials it fails to decrypt.
    let pns_ok = missing(&ours.pns, &tshark.pns).is_empty() && ours.pns.len() + tshark.failed == tshark.pns.len();
    cmp("pns", pns_ok, format!("ours {:?} tshark {:?} ({} failed)", ours.pns, tshark.pns, tshark.failed));
    cmp("frames", ours.frames == tshark.frames, format!("ours {:?} tshark {:?}", ours.frames, tshark.frames));
    cmp("ja3", ours.ja3 == tshark.ja3, format!("ours {:?} tshark {:?}", ours.ja3, tshark.ja3));
    cmp("sni", ours.sni == tshark.sni, format!("ours {:?} tshark {:?}", ours.sni, tshark.sni));
    cmp("ja3s", ours.ja3s == tshark.ja3s, format!("ours {:?} tshark {:?}", ours.ja3s, tshark.ja3s));
    // Where the hellos are excepted, tshark's must still be among ours.
    if skip.contains(&"ja3") && !missing(&tshark.ja3, &ours.ja3).is_empty() {
        d.push(format!("ja3: tshark's {:?} not all among ours {:?}", tshark.ja3, ours.ja3));
    }
    d
}

#[test]
fn quic_agrees_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["quic"]);
    assert!(files.len() >= 15, "expected the corpus' QUIC captures, found {}", files.len());
    let mut failures = Vec::new();
    let (mut packets, mut hellos) = (0, 0);
    for f in &files {
        let want = tshark_seen(f);
        let dir = run(f);
        let got = our_seen(dir.as_path());
        packets += want.packets.len();
        hellos += want.ja3.len() + want.ja3s.len();
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let skip = EXCEPTIONS.iter().find(|(n, _, _)| *n == name).map_or(&[][..], |(_, s, _)| *s);
        for why in diff(&got, &want, skip) {
            failures.push(format!("{}: {why}", f.display()));
        }
    }
    eprintln!("QUIC: {packets} long-header packets, {hellos} hellos in {} captures compared", files.len());
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(packets > 100 && hellos > 25, "too little compared: {packets} packets, {hellos} hellos");
}

/// JA4 (FoxIO `technical_details/JA4.md`) of two QUIC ClientHellos, derived by hand from tshark's
/// fields (`tls.handshake.ciphersuite`, `.extension.type`, `.sig_hash_alg`,
/// `.extensions.supported_version`, `.extensions_alpn_str`) with coreutils `sha256sum`:
///
/// - `tcpdump_quic_handshake.pcap` (Chrome-like, GREASE): ciphers 1301,1302,1303 (3, GREASE
///   0x7a7a dropped); 11 extensions besides GREASE (0,10,16,5,13,18,51,45,43,57,27), ALPN `h3`,
///   supported versions 0x0304 → `q13d0311h3`; sha256("1301,1302,1303")[..12] = 55b375c5d22e;
///   sha256("0005,000a,000d,0012,001b,002b,002d,0033,0039_0403,0804,0401,0503,0203,0805,0805,0501,0806,0601,0201")[..12]
///   = 0e9637bee5d3.
/// - `suricata-verify_quic-ietf.pcap` (msquic): 3 ciphers, 9 extensions, ALPN `h3-29`, supported
///   versions 0x0304,0x7f1c,0x7f1b,0x7f1a: the highest value, 0x7f1c (TLS 1.3 draft 28), has no
///   code → `00`, so `q00d0309h9`; c = sha256("000a,000d,0029,002b,002d,0033,0039_0804,0403,0401,0201")[..12]
///   = 4facdb9c99ee.
#[test]
fn quic_ja4_derived_from_tshark_fields() {
    let Some(root) = corpus() else { return };
    for (file, ja4) in [
        ("tcpdump_quic_handshake.pcap", "q13d0311h3_55b375c5d22e_0e9637bee5d3"),
        ("suricata-verify_quic-ietf.pcap", "q00d0309h9_55b375c5d22e_4facdb9c99ee"),
    ] {
        let dir = run(&root.join("internet").join(file));
        let c: Vec<TlsClientHello> = records(dir.as_path(), "TLSClientHello");
        assert_eq!(c.iter().map(|r| r.ja4.as_str()).collect::<Vec<_>>(), [ja4], "{file}");
    }
}

/// Records per packet type of a capture with a Retry and one with Version Negotiation: the
/// client's second Initial (new connection id, or the version it picked) is decrypted too.
#[test]
fn quic_retry_and_version_negotiation() {
    let Some(root) = corpus() else { return };
    let count = |file: &str| {
        let dir = run(&root.join("internet").join(file));
        let q: Vec<Quic> = records(dir.as_path(), "QUIC");
        let c: Vec<TlsClientHello> = records(dir.as_path(), "TLSClientHello");
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for r in &q {
            *m.entry(r.packet_type.clone()).or_default() += 1;
        }
        (m, q, c)
    };
    let (m, _, c) = count("tcpdump_quic_retry.pcap");
    assert_eq!(m.get("Retry"), Some(&1), "{m:?}");
    assert_eq!(c.len(), 2, "the ClientHello before and after the Retry");
    let (m, q, _) = count("tcpdump_quic_vn.pcap");
    assert_eq!(m.get("VersionNegotiation"), Some(&1), "{m:?}");
    let vn = q.iter().find(|r| r.packet_type == "VersionNegotiation").expect("VN record");
    assert!(vn.supported_versions.contains(&1), "{:?}", vn.supported_versions);
}
