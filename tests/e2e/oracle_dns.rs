//! DNS records (DNS on UDP 53, mDNS on UDP 5353, LLMNR on UDP 5355) agree field by field with
//! tshark on every capture of the corpus that has DNS over UDP or LLMNR: header, flags, counts,
//! questions, every resource record's owner, type, class, TTL, length and the decoded RDATA of A,
//! AAAA, NS, CNAME, PTR, MX, TXT, SRV, SOA and OPT (EDNS UDP size, extended rcode, version, DO bit,
//! option codes), the mDNS unicast-response / cache-flush bits and the LLMNR conflict and
//! tentative bits.
//!
//! Alignment: one record is expected per UDP layer with port 53, 5353 or 5355 (outer first, ICMP-quoted
//! headers excluded, as the host does not dissect inside ICMP); tshark is run with IP
//! reassembly off so that a first fragment is dissected on its own, as we see it.

use netcap_proto::v1::Dns;
use netcap_proto::v1::dns::ResourceRecord;
use netcap_tests::{TempDir, corpus_files, files_with, have_tshark, parse_ns, parse_num, records, tshark_fields};
use std::path::Path;

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "_ws.malformed",
    "_ws.short",
    "_ws.unreassembled",
    "udp.srcport",
    "udp.dstport",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "dns.id",
    "dns.flags.response",
    "dns.flags.opcode",
    "dns.flags.authoritative",
    "dns.flags.truncated",
    "dns.flags.recdesired",
    "dns.flags.recavail",
    "dns.flags.z",
    "dns.flags.authenticated",
    "dns.flags.checkdisable",
    "dns.flags.rcode",
    "dns.flags.conflict",
    "dns.flags.tentative",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.add_rr",
    "dns.qry.name",
    "dns.qry.type",
    "dns.qry.class",
    "dns.qry.qu",
    "dns.resp.name",
    "dns.resp.type",
    "dns.resp.class",
    "dns.resp.cache_flush",
    "dns.resp.ttl",
    "dns.resp.len",
    "dns.a",
    "dns.aaaa",
    "dns.ns",
    "dns.cname",
    "dns.ptr.domain_name",
    "dns.mx.preference",
    "dns.mx.mail_exchange",
    "dns.txt",
    "dns.srv.priority",
    "dns.srv.weight",
    "dns.srv.port",
    "dns.srv.target",
    "dns.soa.mname",
    "dns.soa.rname",
    "dns.soa.serial_number",
    "dns.soa.refresh_interval",
    "dns.soa.retry_interval",
    "dns.soa.expire_limit",
    "dns.soa.minimum_ttl",
    "dns.rr.udp_payload_size",
    "dns.resp.ext_rcode",
    "dns.resp.edns0_version",
    "dns.resp.z.do",
    "dns.opt.code",
];

/// Capture directories with DNS over UDP (found with `tshark -Y "dns && udp.port==53"` etc.).
const DIRS: &[&str] = &[
    "dns",
    "mdns",
    "community-id",
    "ethernet_arp",
    "fileformat",
    "fragments",
    "http",
    "icmp",
    "igmp",
    "ip",
    "linktypes",
    "mail_ftp",
    "malformed",
    "mixed",
    "sip",
    "ssh",
    "tunnels",
    "udp",
];

/// The DNS ports: DNS, mDNS, LLMNR.
const PORTS: [u64; 3] = [53, 5353, 5355];

/// Captures where the host does not (yet) slice the packets down to UDP, so that we see fewer
/// DNS messages than tshark. Only a record count below tshark's is excused; records we do
/// produce are still compared field by field.
const HOST_GAPS: &[(&str, &str)] = &[
    ("libpcap_http_PPI.pcap", "PPI link type (192) is not dissected by the host"),
    ("pcapplusplus_NullLoopback.pcap", "null header 0f 00 08 00 (Cisco HDLC-like) is not an address family"),
    ("pcapplusplus_null_loopback.pcap", "null header 0f 00 08 00 (Cisco HDLC-like) is not an address family"),
    ("pcapplusplus_nflogPacket.pcap", "NFLOG link type (239) is not dissected by the host"),
    ("tcpdump_LINKTYPE_PKTAP.pcap", "PKTAP link type (258) is not dissected by the host"),
    ("tcpdump_arcnet-rfc1201-arp-icmp-http.pcap", "ARCNET link type (7) is not dissected by the host"),
];

fn col<'a>(row: &'a [String], name: &str) -> &'a str {
    FIELDS.iter().position(|f| *f == name).and_then(|i| row.get(i)).map_or("", String::as_str)
}

/// A tshark list with every element parsed as a number (hex or decimal), re-joined in decimal.
fn nums(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    s.split(',').map(|v| parse_num(v).map_or_else(|| v.to_string(), |n| n.to_string())).collect::<Vec<_>>().join(",")
}

fn join<T: ToString>(it: impl IntoIterator<Item = T>) -> String {
    it.into_iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

fn name(n: &str) -> String {
    if n.is_empty() { "<Root>".into() } else { n.into() }
}

fn b(v: bool) -> u8 {
    u8::from(v)
}

/// The number of UDP layers the host slices in a packet: `udp` tokens before any ICMP.
fn outer_udp_layers(protocols: &str) -> usize {
    protocols.split(':').take_while(|t| !t.starts_with("icmp")).filter(|t| *t == "udp").count()
}

/// The DNS messages tshark dissected outside ICMP quotes.
fn dns_layers(protocols: &str) -> usize {
    let t: Vec<&str> = protocols.split(':').take_while(|t| !t.starts_with("icmp")).collect();
    t.windows(2).filter(|w| w[0] == "udp" && ["dns", "mdns", "llmnr"].contains(&w[1])).count()
}

/// Compares a header field; tshark leaves it out of a message too short to hold it.
fn hdr(cmp: &mut dyn FnMut(&str, String, String), partial: bool, field: &str, ours: String, theirs: String) {
    if !(partial && theirs.is_empty()) {
        cmp(field, ours, theirs);
    }
}

/// Compares a value tshark may leave out.
fn flag(cmp: &mut dyn FnMut(&str, String, String), field: &str, ours: String, theirs: String) {
    if !theirs.is_empty() {
        cmp(field, ours, theirs);
    }
}

/// The types in an NSEC (47) or NSEC3 (50) type bitmap: tshark lists them as `dns.resp.type`
/// values right after the record's own type.
fn bitmap_types(rr: &ResourceRecord) -> Vec<u32> {
    let d = &rr.data;
    let mut at = match rr.r#type {
        47 => {
            // Next domain name (uncompressed by the spec; a pointer ends it too).
            let mut i = 0;
            while let Some(&l) = d.get(i) {
                if l == 0 {
                    i += 1;
                    break;
                }
                if l >= 0xc0 {
                    i += 2;
                    break;
                }
                i += 1 + usize::from(l);
            }
            i
        }
        50 => {
            let salt = usize::from(d.get(4).copied().unwrap_or(0));
            let hash = usize::from(d.get(5 + salt).copied().unwrap_or(0));
            6 + salt + hash
        }
        _ => return Vec::new(),
    };
    let mut types = Vec::new();
    while let (Some(&w), Some(&n)) = (d.get(at), d.get(at + 1)) {
        let Some(bits) = d.get(at + 2..at + 2 + usize::from(n)) else { break };
        for (k, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    types.push(u32::from(w) * 256 + (k * 8 + bit) as u32);
                }
            }
        }
        at += 2 + usize::from(n);
    }
    types
}

/// Compares one record with a tshark row holding exactly this one DNS message. `partial`: tshark
/// marked the message malformed or cut short; it then leaves out the question or record it
/// failed on, which we keep (partially), so its lists only have to be a prefix of ours.
fn compare(g: &Dns, r: &[String], partial: bool, cmp: &mut dyn FnMut(&str, String, String)) {
    let c = |n: &str| col(r, n).to_string();
    // Wireshark shows some header bits only for responses (AA, RA, AD, rcode) or only for
    // queries: a bit it does not show is not compared.
    hdr(cmp, partial, "id", g.id.to_string(), nums(&c("dns.id")));
    hdr(cmp, partial, "qr", b(g.qr).to_string(), c("dns.flags.response"));
    hdr(cmp, partial, "op_code", g.op_code.to_string(), c("dns.flags.opcode"));
    if !g.mdns {
        // mDNS queries call the AA bit "conflict" and the TC bit "truncated"; plain DNS only.
        flag(cmp, "aa", b(g.aa).to_string(), c("dns.flags.authoritative"));
    }
    flag(cmp, "tc", b(g.tc).to_string(), c("dns.flags.truncated"));
    flag(cmp, "rd", b(g.rd).to_string(), c("dns.flags.recdesired"));
    flag(cmp, "ra", b(g.ra).to_string(), c("dns.flags.recavail"));
    flag(cmp, "z", (g.z >> 2).to_string(), c("dns.flags.z"));
    flag(cmp, "z.ad", ((g.z >> 1) & 1).to_string(), c("dns.flags.authenticated"));
    flag(cmp, "z.cd", (g.z & 1).to_string(), c("dns.flags.checkdisable"));
    flag(cmp, "response_code", g.response_code.to_string(), c("dns.flags.rcode"));
    // LLMNR: Wireshark shows the C and T bits (and no AA, RD, RA or Z) for LLMNR only.
    flag(cmp, "conflict", b(g.conflict).to_string(), c("dns.flags.conflict"));
    flag(cmp, "tentative", b(g.tentative).to_string(), c("dns.flags.tentative"));
    if g.llmnr {
        cmp("llmnr flags not shown", String::new(), c("dns.flags.authoritative") + &c("dns.flags.recdesired"));
    }
    hdr(cmp, partial, "qd_count", g.qd_count.to_string(), c("dns.count.queries"));
    hdr(cmp, partial, "an_count", g.an_count.to_string(), c("dns.count.answers"));
    hdr(cmp, partial, "ns_count", g.ns_count.to_string(), c("dns.count.auth_rr"));
    hdr(cmp, partial, "ar_count", g.ar_count.to_string(), c("dns.count.add_rr"));
    let mut list = |field: &str, ours: String, theirs: String| {
        // Exception: a name whose compression pointers loop is shown by Wireshark as this text;
        // we report "dns: name pointer loop" and keep the labels read before the loop.
        if theirs.contains("<Name contains a pointer that loops>") {
            return;
        }
        let prefix = partial && (ours == theirs || ours.starts_with(&format!("{theirs},")) || theirs.is_empty());
        if !prefix {
            cmp(field, ours, theirs);
        }
    };
    let q = &g.questions;
    list("questions.name", join(q.iter().map(|q| name(&q.name))), c("dns.qry.name"));
    list("questions.type", join(q.iter().map(|q| q.r#type)), nums(&c("dns.qry.type")));
    list("questions.class", join(q.iter().map(|q| q.class)), nums(&c("dns.qry.class")));
    if g.mdns {
        list("questions.unicast_response", join(q.iter().map(|q| b(q.unicast_response))), c("dns.qry.qu"));
    }
    let rrs: Vec<&ResourceRecord> = g.answers.iter().chain(&g.authorities).chain(&g.additionals).collect();
    let not_opt = || rrs.iter().filter(|r| r.r#type != 41);
    let of = |ty: u32| rrs.iter().filter(move |r| r.r#type == ty);
    // Exception: Wireshark shows an SRV record's owner as dns.srv.service/proto/name, not as
    // dns.resp.name.
    list("rr.name", join(rrs.iter().filter(|r| r.r#type != 33).map(|r| name(&r.name))), c("dns.resp.name"));
    let types = rrs.iter().flat_map(|r| std::iter::once(r.r#type).chain(bitmap_types(r)));
    list("rr.type", join(types), nums(&c("dns.resp.type")));
    list("rr.class", join(not_opt().map(|r| r.class)), nums(&c("dns.resp.class")));
    if g.mdns {
        // For OPT, Wireshark reads the top bit of the UDP size field as the cache-flush bit.
        let flush = rrs.iter().map(|r| if r.r#type == 41 { b(r.udp_size & 0x8000 != 0) } else { b(r.cache_flush) });
        list("rr.cache_flush", join(flush), c("dns.resp.cache_flush"));
    }
    list("rr.ttl", join(not_opt().map(|r| r.ttl)), c("dns.resp.ttl"));
    list("rr.data_length", join(rrs.iter().map(|r| r.data_length)), c("dns.resp.len"));
    list("rr.ip (A)", join(of(1).map(|r| r.ip.clone())), c("dns.a"));
    list("rr.ip (AAAA)", join(of(28).map(|r| r.ip.clone())), c("dns.aaaa"));
    list("rr.ns", join(of(2).map(|r| name(&r.ns))), c("dns.ns"));
    list("rr.cname", join(of(5).map(|r| name(&r.cname))), c("dns.cname"));
    list("rr.ptr", join(of(12).map(|r| name(&r.ptr))), c("dns.ptr.domain_name"));
    let mx = || of(15).filter_map(|r| r.mx.as_ref());
    list("rr.mx.preference", join(mx().map(|m| m.preference)), c("dns.mx.preference"));
    list("rr.mx.name", join(mx().map(|m| name(&m.name))), c("dns.mx.mail_exchange"));
    list("rr.txts", join(of(16).flat_map(|r| r.txts.iter().cloned())), c("dns.txt"));
    let srv = || of(33).filter_map(|r| r.srv.as_ref());
    list("rr.srv.priority", join(srv().map(|s| s.priority)), c("dns.srv.priority"));
    list("rr.srv.weight", join(srv().map(|s| s.weight)), c("dns.srv.weight"));
    list("rr.srv.port", join(srv().map(|s| s.port)), c("dns.srv.port"));
    list("rr.srv.name", join(srv().map(|s| name(&s.name))), c("dns.srv.target"));
    let soa = || of(6).filter_map(|r| r.soa.as_ref());
    list("rr.soa.mname", join(soa().map(|s| name(&s.mname))), c("dns.soa.mname"));
    list("rr.soa.rname", join(soa().map(|s| name(&s.rname))), c("dns.soa.rname"));
    list("rr.soa.serial", join(soa().map(|s| s.serial)), c("dns.soa.serial_number"));
    list("rr.soa.refresh", join(soa().map(|s| s.refresh)), c("dns.soa.refresh_interval"));
    list("rr.soa.retry", join(soa().map(|s| s.retry)), c("dns.soa.retry_interval"));
    list("rr.soa.expire", join(soa().map(|s| s.expire)), c("dns.soa.expire_limit"));
    list("rr.soa.minimum", join(soa().map(|s| s.minimum)), c("dns.soa.minimum_ttl"));
    list("rr.udp_size", join(of(41).map(|r| r.udp_size)), nums(&c("dns.rr.udp_payload_size")));
    list("rr.extended_rcode", join(of(41).map(|r| r.extended_rcode)), nums(&c("dns.resp.ext_rcode")));
    list("rr.edns_version", join(of(41).map(|r| r.edns_version)), c("dns.resp.edns0_version"));
    list("rr.dnssec_ok", join(of(41).map(|r| b(r.dnssec_ok))), c("dns.resp.z.do"));
    list("rr.opt.code", join(of(41).flat_map(|r| r.opt.iter().map(|o| o.code))), c("dns.opt.code"));
}

/// The IP address column of the innermost IP header before the first DNS layer.
fn inner_ip(r: &[String], src: bool) -> String {
    let tokens: Vec<&str> = col(r, "frame.protocols").split(':').collect();
    let end = tokens.iter().position(|t| ["dns", "mdns", "llmnr"].contains(t)).unwrap_or(tokens.len());
    let Some(last) = tokens[..end].iter().rposition(|t| *t == "ip" || *t == "ipv6") else { return String::new() };
    let v6 = tokens[last] == "ipv6";
    let k = tokens[..=last].iter().filter(|t| **t == tokens[last]).count() - 1;
    let field = match (v6, src) {
        (false, true) => "ip.src",
        (false, false) => "ip.dst",
        (true, true) => "ipv6.src",
        (true, false) => "ipv6.dst",
    };
    col(r, field).split(',').nth(k).unwrap_or("").to_string()
}

#[derive(Default)]
struct Counts {
    records: usize,
    full: usize,
    mdns: usize,
    llmnr: usize,
    partial: usize,
    files: usize,
    gaps: usize,
}

fn check_file(f: &Path, problems: &mut Vec<String>, n: &mut Counts) {
    let filter = "udp.port==53 || udp.port==5353 || udp.port==5355";
    let Some(rows) =
        tshark_fields(f, FIELDS, &["-Y", filter, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
    else {
        return;
    };
    let rows: Vec<&Vec<String>> = rows.iter().filter(|r| r.len() == FIELDS.len()).collect();
    // Expected records: one per sliced UDP layer with a DNS port.
    let mut want: Vec<(&Vec<String>, bool)> = Vec::new();
    for r in &rows {
        let layers = outer_udp_layers(col(r, "frame.protocols"));
        let sp: Vec<&str> = col(r, "udp.srcport").split(',').collect();
        let dp: Vec<&str> = col(r, "udp.dstport").split(',').collect();
        let matching = (0..layers)
            .filter(|&k| {
                let p = |v: &Vec<&str>| v.get(k).and_then(|s| parse_num(s)).unwrap_or(0);
                PORTS.contains(&p(&sp)) || PORTS.contains(&p(&dp))
            })
            .count();
        // Field by field only where this is the one DNS message tshark shows in the packet.
        let full = matching == 1 && dns_layers(col(r, "frame.protocols")) == 1;
        for _ in 0..matching {
            want.push((r, full));
        }
    }
    if want.is_empty() {
        return;
    }
    n.files += 1;
    let out = TempDir::new("dns");
    // tshark runs with IP reassembly off: so do we (where the capture has fragments).
    let (dir, o) = netcap_tests::capture_without_defrag(f, &["--include", "DNS"], out.path());
    let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
    if o.status.code() == Some(2) {
        problems.push(format!("{name}: netcap failed: {}", String::from_utf8_lossy(&o.stderr)));
        return;
    }
    // DNS over TCP (the stream decoder, `tcp` set) is compared in oracle_stream.rs.
    let got: Vec<Dns> = records::<Dns>(&dir, "DNS").into_iter().filter(|r| !r.tcp).collect();
    if got.len() != want.len() {
        if let Some((_, why)) = HOST_GAPS.iter().find(|(f, _)| *f == name)
            && got.len() < want.len()
        {
            eprintln!("notice: {name}: {} DNS records, tshark {} ({why})", got.len(), want.len());
            n.gaps += 1;
        } else {
            problems.push(format!("{name}: {} DNS records, tshark {}", got.len(), want.len()));
        }
        return;
    }
    for (g, (r, full)) in got.iter().zip(&want) {
        n.records += 1;
        let frame = col(r, "frame.number").to_string();
        let mut cmp = |field: &str, ours: String, theirs: String| {
            if ours != theirs {
                problems.push(format!("{name} #{frame} {field}: ours {ours:?}, tshark {theirs:?}"));
            }
        };
        cmp("timestamp", g.timestamp.to_string(), parse_ns(col(r, "frame.time_epoch")).unwrap_or(0).to_string());
        if !*full {
            continue;
        }
        n.full += 1;
        n.mdns += usize::from(g.mdns);
        n.llmnr += usize::from(g.llmnr);
        cmp("src_port", g.src_port.to_string(), col(r, "udp.srcport").split(',').next_back().unwrap_or("").into());
        cmp("dst_port", g.dst_port.to_string(), col(r, "udp.dstport").split(',').next_back().unwrap_or("").into());
        cmp("src_ip", g.src_ip.clone(), inner_ip(r, true));
        cmp("dst_ip", g.dst_ip.clone(), inner_ip(r, false));
        let partial = ["_ws.malformed", "_ws.short", "_ws.unreassembled"].iter().any(|f| !col(r, f).is_empty());
        n.partial += usize::from(partial);
        compare(g, r, partial, &mut cmp);
    }
}

#[test]
fn dns_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    // Every capture where tshark finds LLMNR too (they are in windows/, ics/, ...).
    let mut files = corpus_files(DIRS);
    files.extend(files_with(&["llmnr"]));
    files.sort();
    files.dedup();
    if files.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    let mut n = Counts::default();
    for f in &files {
        check_file(f, &mut problems, &mut n);
    }
    let total = problems.len();
    for p in &problems {
        eprintln!("{p}");
    }
    problems.truncate(80);
    assert!(problems.is_empty(), "{total} problems:\n{}", problems.join("\n"));
    assert!(n.full > 1000, "only {} DNS records compared field by field", n.full);
    assert!(n.mdns > 10, "only {} mDNS records compared", n.mdns);
    assert!(n.llmnr > 100, "only {} LLMNR records compared", n.llmnr);
    eprintln!(
        "compared {} DNS records from {} captures with tshark ({} field by field, {} of them mDNS, {} LLMNR, {} malformed; {} captures excused as host gaps)",
        n.records, n.files, n.full, n.mdns, n.llmnr, n.partial, n.gaps
    );
}
