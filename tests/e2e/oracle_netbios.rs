//! NBNS and NBDGM records (the `windows-udp` layer decoder on UDP 137 and 138) agree with tshark
//! on every corpus capture in which tshark dissects `nbns` or `nbdgm`: one netcap run and one
//! tshark pass per capture, messages compared per direction in order.
//!
//! NBNS: packet time, transaction id, the flags word (rebuilt from our decoded bits), the four
//! counts, every question's and resource record's name (name, `<suffix>`, `.scope`), type and
//! class, the records' TTL and data length, the NB records' NB_FLAGS and addresses, the NBSTAT
//! records' node names, NAME_FLAGS and unit id. NBDGM: packet time, message type, flags,
//! datagram id, source IP and port of the header, datagram length, packet offset, source and
//! destination names, error code.
//!
//! Deliberate differences: tshark appends a description of the suffix to a resource record's
//! `nbns.name` ("GUNNAR<00> (Workstation/Redirector)"), which is cut off here; frames in which
//! the NetBIOS message is quoted inside ICMP are left out (the host does not dissect inside ICMP).

use netcap_proto::v1;
use netcap_tests::{TempDir, capture, files_with, have_tshark, parse_ns, records, tshark_fields};
use std::collections::BTreeMap;
use std::path::Path;

/// Per direction ("src:port>dst:port"), the messages in order.
type Seqs = BTreeMap<String, Vec<String>>;

const FIELDS: [&str; 35] = [
    "frame.time_epoch",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "udp.srcport",
    "udp.dstport",
    "nbns.id",
    "nbns.flags",
    "nbns.count.queries",
    "nbns.count.answers",
    "nbns.count.auth_rr",
    "nbns.count.add_rr",
    "nbns.name",
    "nbns.type",
    "nbns.class",
    "nbns.ttl",
    "nbns.data_length",
    "nbns.nb_flags",
    "nbns.addr",
    "nbns.netbios_name",
    "nbns.name_flags",
    "nbns.unit_id",
    "nbdgm.type",
    "nbdgm.flags",
    "nbdgm.dgram_id",
    "nbdgm.src.ip",
    "nbdgm.src.port",
    "nbdgm.dgram_len",
    "nbdgm.pkt_offset",
    "nbdgm.source_name",
    "nbdgm.destination_name",
    "nbdgm.error_code",
    "ipv6.src",
    "ipv6.dst",
    "_ws.malformed",
];

fn col<'a>(row: &'a [String], name: &str) -> &'a str {
    let i = FIELDS.iter().position(|f| *f == name).expect("known field");
    row.get(i).map_or("", String::as_str)
}

use netcap_tests::{join_list as join, tshark_nums as nums};

/// A name as Wireshark's `nbns.name` / `nbdgm.*_name` show it.
fn nb(name: &str, suffix: u32, scope: &str) -> String {
    let dot = if scope.is_empty() { "" } else { "." };
    format!("{name}<{suffix:02x}>{dot}{scope}")
}

/// `nbns.name` values without the suffix description tshark appends to resource record names.
fn names(s: &str) -> String {
    let cut = |v: &str| match v.rfind(" (") {
        Some(i) if v.ends_with(')') => v[..i].to_string(),
        _ => v.to_string(),
    };
    join(s.split(',').filter(|v| !v.is_empty()).map(cut))
}

/// tshark's messages, per direction.
fn theirs(f: &Path) -> Seqs {
    let mut out = Seqs::new();
    let rows = tshark_fields(f, &FIELDS, &["-Y", "nbns || nbdgm"]).unwrap_or_default();
    for r in rows.iter().filter(|r| r.len() == FIELDS.len()) {
        let protos = col(r, "frame.protocols");
        if protos.contains("icmp") {
            continue;
        }
        let last = |n: &str| col(r, n).rsplit(',').next().unwrap_or("").to_string();
        let (src, dst) = if last("ip.src").is_empty() {
            (last("ipv6.src"), last("ipv6.dst"))
        } else {
            (last("ip.src"), last("ip.dst"))
        };
        let key = format!("{src}:{}>{dst}:{}", last("udp.srcport"), last("udp.dstport"));
        let ts = parse_ns(col(r, "frame.time_epoch")).unwrap_or(0);
        let c = |n: &str| col(r, n).to_string();
        let s = if protos.contains("nbns") {
            format!(
                "NBNS t={ts} id={} flags={} counts={},{},{},{} names={} types={} classes={} ttl={} len={} nb_flags={} addr={} node_names={} name_flags={} unit={}",
                nums(&c("nbns.id")),
                nums(&c("nbns.flags")),
                c("nbns.count.queries"),
                c("nbns.count.answers"),
                c("nbns.count.auth_rr"),
                c("nbns.count.add_rr"),
                names(&c("nbns.name")),
                c("nbns.type"),
                c("nbns.class"),
                c("nbns.ttl"),
                c("nbns.data_length"),
                nums(&c("nbns.nb_flags")),
                c("nbns.addr"),
                c("nbns.netbios_name"),
                nums(&c("nbns.name_flags")),
                c("nbns.unit_id"),
            )
        } else {
            format!(
                "NBDGM t={ts} type={} flags={} id={} src={}:{} len={} off={} names={}|{} err={}",
                c("nbdgm.type"),
                nums(&c("nbdgm.flags")),
                nums(&c("nbdgm.dgram_id")),
                c("nbdgm.src.ip"),
                c("nbdgm.src.port"),
                c("nbdgm.dgram_len"),
                c("nbdgm.pkt_offset"),
                c("nbdgm.source_name"),
                c("nbdgm.destination_name"),
                nums(&c("nbdgm.error_code")),
            )
        };
        out.entry(key).or_default().push(s);
    }
    out
}

/// One NBNS record in tshark's shape.
fn nbns(r: &v1::Nbns) -> String {
    let b = |v: bool, bit: u32| u32::from(v) << bit;
    let flags = b(r.response, 15)
        | (r.opcode << 11)
        | b(r.authoritative, 10)
        | b(r.truncated, 9)
        | b(r.recursion_desired, 8)
        | b(r.recursion_available, 7)
        | b(r.broadcast, 4)
        | r.rcode;
    let rrs: Vec<&v1::nbns::ResourceRecord> = r.answers.iter().chain(&r.authorities).chain(&r.additionals).collect();
    let q = &r.questions;
    let names =
        q.iter().map(|q| nb(&q.name, q.suffix, &q.scope)).chain(rrs.iter().map(|a| nb(&a.name, a.suffix, &a.scope)));
    let types = q.iter().map(|q| q.r#type).chain(rrs.iter().map(|a| a.r#type));
    let classes = q.iter().map(|q| q.class).chain(rrs.iter().map(|a| a.class));
    let addrs = || rrs.iter().flat_map(|a| a.addresses.iter());
    let nodes = || rrs.iter().flat_map(|a| a.node_names.iter());
    format!(
        "NBNS t={} id={} flags={flags} counts={},{},{},{} names={} types={} classes={} ttl={} len={} nb_flags={} addr={} node_names={} name_flags={} unit={}",
        r.timestamp,
        r.transaction_id,
        r.qd_count,
        r.an_count,
        r.ns_count,
        r.ar_count,
        join(names),
        join(types),
        join(classes),
        join(rrs.iter().map(|a| a.ttl)),
        join(rrs.iter().map(|a| a.data_length)),
        join(addrs().map(|a| a.flags)),
        join(addrs().map(|a| a.ip.clone())),
        join(nodes().map(|n| n.name.clone())),
        join(nodes().map(|n| n.flags)),
        join(rrs.iter().filter(|a| !a.unit_id.is_empty()).map(|a| a.unit_id.clone())),
    )
}

/// One NBDGM record in tshark's shape (fields a message type lacks are empty there).
fn nbdgm(r: &v1::Nbdgm) -> String {
    let data = (0x10..=0x12).contains(&r.msg_type);
    let opt = |on: bool, v: String| if on { v } else { String::new() };
    let dst_named = data || (0x14..=0x16).contains(&r.msg_type);
    format!(
        "NBDGM t={} type={} flags={} id={} src={}:{} len={} off={} names={}|{} err={}",
        r.timestamp,
        r.msg_type,
        r.flags,
        r.datagram_id,
        r.source_ip,
        r.source_port,
        opt(data, r.datagram_length.to_string()),
        opt(data, r.packet_offset.to_string()),
        opt(data, nb(&r.source_name, r.source_suffix, &r.source_scope)),
        opt(dst_named, nb(&r.destination_name, r.destination_suffix, &r.destination_scope)),
        opt(r.msg_type == 0x13, r.error_code.to_string()),
    )
}

/// Our messages, in the same shape (NBNS and NBDGM interleaved by time within a direction).
fn ours(out: &Path) -> Seqs {
    let mut all: Vec<(i64, String, String)> = Vec::new();
    for r in records::<v1::Nbns>(out, "NBNS") {
        all.push((r.timestamp, format!("{}:{}>{}:{}", r.src_ip, r.src_port, r.dst_ip, r.dst_port), nbns(&r)));
    }
    for r in records::<v1::Nbdgm>(out, "NBDGM") {
        all.push((r.timestamp, format!("{}:{}>{}:{}", r.src_ip, r.src_port, r.dst_ip, r.dst_port), nbdgm(&r)));
    }
    all.sort_by_key(|a| a.0);
    let mut seqs = Seqs::new();
    for (_, k, s) in all {
        seqs.entry(k).or_default().push(s);
    }
    seqs
}

#[test]
fn netbios_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-netbios");
    let mut problems = Vec::new();
    let (mut n, mut n_dgm, mut files) = (0, 0, 0);
    for f in files_with(&["nbns", "nbdgm"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let out = dir.path().join(format!("out-{name}"));
        std::fs::create_dir_all(&out).expect("mkdir");
        let o = capture(&f, &out, &["--include", "NBNS,NBDGM"]);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "netcap failed on {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (t, ours) = (theirs(&f), ours(&out));
        n_dgm += t.values().flatten().filter(|s| s.starts_with("NBDGM")).count();
        n += netcap_tests::compare_sequences(&name, &t, &ours, &mut problems);
        files += 1;
    }
    let total = problems.len();
    problems.truncate(20);
    assert!(problems.is_empty(), "{total} problems:\n{}", problems.join("\n"));
    eprintln!("compared {n} NetBIOS messages ({n_dgm} datagram service) from {files} captures with tshark");
    assert!(n >= 1300 && n_dgm >= 50, "only {n} NetBIOS messages ({n_dgm} datagram service) compared");
}
