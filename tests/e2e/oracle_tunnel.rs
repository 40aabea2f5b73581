//! GRE, VXLAN, Geneve, MPLS, VRRPv2, BFD, OSPFv2 and OSPFv3 records agree field by field with
//! tshark: on every capture of the corpus that has the protocol, and on captures synthesized by
//! `netcap_tests::synth_tunnel` for what the corpus lacks (VRRP, BFD, OSPF, Geneve options, GRE
//! checksum/routing/key variants). Records are compared in packet order; a packet with several
//! headers of a kind (GRE in GRE, an MPLS label stack) gives one record per header, outer first,
//! matching tshark's occurrences in order.

use netcap_proto::v1;
use netcap_tests::{TempDir, have_tshark, parse_ns, parse_num, pcap, records, synth_tunnel, tshark_fields};
use std::collections::VecDeque;
use std::path::Path;

/// The protocols, as tshark names them in `frame.protocols`: every corpus capture with one of
/// them is compared.
const PROTOCOLS: &[&str] = &["gre", "vxlan", "geneve", "mpls", "vrrp", "bfd", "ospf"];

/// tshark's display filter for any of the protocols.
const ANY: &str = "gre || vxlan || geneve || mpls || vrrp || bfd || ospf";

const INCLUDE: &str = "GRE,VXLAN,Geneve,MPLS,VRRPv2,BFD,OSPFv2,OSPFv3";

/// Names of the counters, in index order.
const KINDS: [&str; 8] = ["GRE", "VXLAN", "Geneve", "MPLS", "VRRPv2", "BFD", "OSPFv2", "OSPFv3"];

#[derive(Default)]
struct Tally {
    problems: Vec<String>,
    /// Records compared per kind, from the corpus and from synthesized captures.
    corpus: [usize; 8],
    synth: [usize; 8],
    synthesized: bool,
}

impl Tally {
    fn count(&mut self, kind: usize) {
        if self.synthesized {
            self.synth[kind] += 1;
        } else {
            self.corpus[kind] += 1;
        }
    }

    fn check(&mut self, at: &str, field: &str, ours: impl ToString, theirs: Option<String>) {
        let ours = ours.to_string();
        if let Some(t) = theirs
            && ours != t
        {
            self.problems.push(format!("{at} {field}: ours {ours:?}, tshark {t:?}"));
        }
    }
}

/// One tshark row: every column's occurrences.
struct Row {
    cols: Vec<Vec<String>>,
}

impl Row {
    fn new(r: &[String], n: usize) -> Row {
        let cols = (0..n)
            .map(|i| match r.get(i) {
                Some(c) if !c.is_empty() => c.split(',').map(str::to_string).collect(),
                _ => Vec::new(),
            })
            .collect();
        Row { cols }
    }

    fn all(&self, c: usize) -> &[String] {
        &self.cols[c]
    }

    fn queue(&self, c: usize) -> VecDeque<String> {
        self.cols[c].iter().cloned().collect()
    }

    fn first(&self, c: usize) -> Option<&str> {
        self.cols[c].first().map(String::as_str)
    }
}

fn num(s: Option<&str>) -> Option<String> {
    s.and_then(parse_num).map(|v| v.to_string())
}

fn numq(q: &mut VecDeque<String>) -> Option<String> {
    q.pop_front().as_deref().and_then(parse_num).map(|v| v.to_string())
}

/// Dotted IPv4 text as the 32-bit number the records hold.
fn dotted(s: Option<&str>) -> Option<String> {
    s.and_then(|s| s.parse::<std::net::Ipv4Addr>().ok()).map(|a| u32::from(a).to_string())
}

fn dottedq(q: &mut VecDeque<String>) -> Option<String> {
    dotted(q.pop_front().as_deref())
}

fn bool01(v: bool) -> &'static str {
    if v { "1" } else { "0" }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The dissection chain of a packet (`frame.protocols` split at `:`).
struct Chain(Vec<String>);

impl Chain {
    fn new(s: &str) -> Chain {
        Chain(s.split(':').map(str::to_string).collect())
    }

    /// Token indexes of `name`, in order.
    fn positions(&self, name: &str) -> Vec<usize> {
        self.0.iter().enumerate().filter(|(_, t)| *t == name).map(|(i, _)| i).collect()
    }

    fn is_ip(t: &str) -> bool {
        t == "ip" || t == "ipv6"
    }

    /// The nearest IP header before token `at`: (is IPv6, its occurrence index among its kind).
    fn enclosing_ip(&self, at: usize) -> Option<(bool, usize)> {
        let j = (0..at).rev().find(|&j| Self::is_ip(&self.0[j]))?;
        let v6 = self.0[j] == "ipv6";
        let k = self.0[..j].iter().filter(|t| *t == &self.0[j]).count();
        Some((v6, k))
    }

    /// Tunnel depth of token `at`: GRE, VXLAN and Geneve headers and IP-in-IP before it each
    /// open a tunnel, and so does the end of an MPLS label stack.
    fn depth(&self, at: usize) -> u32 {
        let t = &self.0;
        let mut d = 0;
        for j in 0..at {
            match t[j].as_str() {
                "gre" | "vxlan" | "geneve" => d += 1,
                "ip" | "ipv6" => {
                    let prev = (0..j).rev().find(|&i| !t[i].starts_with("ipv6."));
                    if prev.is_some_and(|i| Self::is_ip(&t[i])) {
                        d += 1;
                    }
                }
                "mpls" if t.get(j + 1).is_some_and(|n| n != "mpls") => d += 1,
                _ => {}
            }
        }
        d
    }
}

/// The address columns (ip.src, ip.dst, ipv6.src, ipv6.dst) at `base` for the IP header that
/// encloses token `at`.
fn ip_pair(row: &Row, base: usize, chain: &Chain, at: usize) -> (Option<String>, Option<String>) {
    match chain.enclosing_ip(at) {
        Some((false, k)) => (row.all(base).get(k).cloned(), row.all(base + 1).get(k).cloned()),
        Some((true, k)) => (row.all(base + 2).get(k).cloned(), row.all(base + 3).get(k).cloned()),
        None => (Some(String::new()), Some(String::new())),
    }
}

const IP_FIELDS: [&str; 4] = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst"];

/// Every column tshark prints for a file: frame time, protocols, the IP addresses, then each
/// record type's block of fields. One tshark run per file serves every comparison.
fn all_fields() -> Vec<&'static str> {
    let mut v = vec!["frame.time_epoch", "frame.protocols"];
    v.extend_from_slice(&IP_FIELDS);
    for b in [GRE_FIELDS, VXLAN_FIELDS, GENEVE_FIELDS, MPLS_FIELDS, VRRP_FIELDS, BFD_FIELDS, OSPF_FIELDS, FRAME_FIELDS]
    {
        v.extend_from_slice(b);
    }
    v
}

/// tshark's rows (all columns of [`all_fields`]) of the packets with any of the protocols.
struct Table(Vec<Vec<String>>);

/// The rows of `tab` whose dissection chain has `token`, as [`Row`]s laid out as frame time,
/// frame protocols, the `fields` block (from `fields[0]` on), then the four IP columns; and the
/// index of the first IP column.
fn rows(tab: &Table, fields: &[&'static str], token: &str) -> (Vec<Row>, usize) {
    let names = all_fields();
    let start = names.iter().position(|n| *n == fields[0]).expect("field block");
    let pick: Vec<usize> = [0, 1].into_iter().chain(start..start + fields.len()).chain(2..6).collect();
    let rows = tab
        .0
        .iter()
        .map(|r| Row::new(r, names.len()))
        .filter(|r| r.first(1).is_some_and(|p| p.split(':').any(|t| t == token)))
        .map(|r| Row { cols: pick.iter().map(|&c| r.cols[c].clone()).collect() })
        .collect();
    (rows, 2 + fields.len())
}

fn ts(row: &Row) -> Option<String> {
    row.first(0).and_then(parse_ns).map(|v| v.to_string())
}

fn count_mismatch(t: &mut Tally, name: &str, kind: &str, ours: usize, theirs: usize) {
    if ours != theirs {
        t.problems.push(format!("{name}: {ours} {kind} records, tshark {theirs}"));
    }
}

/// Length on the wire and captured length.
const FRAME_FIELDS: &[&str] = &["frame.len", "frame.cap_len"];

const GRE_FIELDS: &[&str] = &[
    "gre.flags_and_version",
    "gre.proto",
    "gre.checksum",
    "gre.offset",
    "gre.key",
    "gre.key.payload_length",
    "gre.key.call_id",
    "gre.sequence_number",
    "gre.ack_number",
    "gre.routing.address_family",
    "gre.routing.sre_offset",
    "gre.routing.src_length",
    "gre.routing.information",
];

fn check_gre(f: &Path, tab: &Table, out: &Path, t: &mut Tally) {
    let name = f.display().to_string();
    let (rows, ipc) = rows(tab, GRE_FIELDS, "gre");
    let got: Vec<v1::Gre> = records(out, "GRE");
    let mut i = 0;
    let mut want = 0;
    for row in &rows {
        let chain = Chain::new(row.first(1).unwrap_or(""));
        let (mut cks, mut off, mut key, mut plen, mut call) =
            (row.queue(4), row.queue(5), row.queue(6), row.queue(7), row.queue(8));
        let (mut seq, mut ack) = (row.queue(9), row.queue(10));
        let (mut af, mut so, mut sl, mut info) = (row.queue(11), row.queue(12), row.queue(13), row.queue(14));
        for (k, pos) in chain.positions("gre").into_iter().enumerate() {
            let (g, t) = {
                want += 1;
                let Some(g) = got.get(i) else { continue };
                i += 1;
                t.count(0);
                (g, &mut *t)
            };
            let at = format!("{name}: GRE #{}", i.saturating_sub(1));
            let w = row.all(2).get(k).and_then(|s| parse_num(s)).unwrap_or(0) as u32;
            t.check(&at, "timestamp", g.timestamp, ts(row));
            t.check(
                &at,
                "flags word",
                (u32::from(g.checksum_present) << 15)
                    | (u32::from(g.routing_present) << 14)
                    | (u32::from(g.key_present) << 13)
                    | (u32::from(g.seq_present) << 12)
                    | (u32::from(g.strict_source_route) << 11)
                    | (g.recursion_control << 8)
                    | (u32::from(g.ack_present) << 7)
                    | (g.flags << 3)
                    | g.version,
                Some(w.to_string()),
            );
            t.check(&at, "protocol", g.protocol, num(row.all(3).get(k).map(String::as_str)));
            if w & 0xc000 != 0 {
                t.check(&at, "checksum", g.checksum, numq(&mut cks));
                t.check(&at, "offset", g.offset, numq(&mut off));
            }
            if w & 0x2000 != 0 {
                if w & 7 == 1 {
                    t.check(&at, "payload_length", g.payload_length, numq(&mut plen));
                    t.check(&at, "call_id", g.call_id, numq(&mut call));
                } else {
                    t.check(&at, "key", g.key, numq(&mut key));
                }
            }
            if w & 0x1000 != 0 {
                t.check(&at, "seq", g.seq, numq(&mut seq));
            }
            if w & 0x0080 != 0 && w & 7 == 1 {
                t.check(&at, "ack", g.ack, numq(&mut ack));
            }
            if w & 0x4000 != 0 {
                // tshark lists the terminating null entry too; the record does not.
                let mut n = 0;
                while let Some(a) = af.pop_front() {
                    let (o, l) = (so.pop_front(), sl.pop_front());
                    if parse_num(&a) == Some(0) && l.as_deref().and_then(parse_num) == Some(0) {
                        break;
                    }
                    let e = g.routing.get(n);
                    t.check(&at, "sre address_family", e.map_or(0, |e| e.address_family), num(Some(&a)));
                    t.check(&at, "sre offset", e.map_or(0, |e| e.sre_offset), num(o.as_deref()));
                    t.check(&at, "sre length", e.map_or(0, |e| e.sre_length), num(l.as_deref()));
                    t.check(
                        &at,
                        "sre information",
                        e.map_or(String::new(), |e| hex(&e.routing_information)),
                        info.pop_front(),
                    );
                    n += 1;
                }
                t.check(&at, "sre count", g.routing.len(), Some(n.to_string()));
            }
            let (s, d) = ip_pair(row, ipc, &chain, pos);
            t.check(&at, "src_ip", &g.src_ip, s);
            t.check(&at, "dst_ip", &g.dst_ip, d);
            t.check(&at, "tunnel_depth", g.tunnel_depth, Some(chain.depth(pos).to_string()));
        }
    }
    count_mismatch(t, &name, "GRE", got.len(), want);
}

const VXLAN_FIELDS: &[&str] = &["vxlan.flags", "vxlan.gbp", "vxlan.vni"];

fn check_vxlan(f: &Path, tab: &Table, out: &Path, t: &mut Tally) {
    let name = f.display().to_string();
    let (rows, ipc) = rows(tab, VXLAN_FIELDS, "vxlan");
    let got: Vec<v1::Vxlan> = records(out, "VXLAN");
    let (mut i, mut want) = (0, 0);
    for row in &rows {
        let chain = Chain::new(row.first(1).unwrap_or(""));
        let mut gbp = row.queue(3);
        for (k, pos) in chain.positions("vxlan").into_iter().enumerate() {
            want += 1;
            let Some(v) = got.get(i) else { continue };
            i += 1;
            t.count(1);
            let at = format!("{name}: VXLAN #{}", i - 1);
            let flags = row.all(2).get(k).and_then(|s| parse_num(s)).unwrap_or(0);
            t.check(&at, "timestamp", v.timestamp, ts(row));
            t.check(&at, "flags", v.flags, Some(flags.to_string()));
            t.check(&at, "valid_id_flag", v.valid_id_flag, Some((flags & 0x0800 != 0).to_string()));
            t.check(&at, "gbp_extension", v.gbp_extension, Some((flags & 0x8000 != 0).to_string()));
            t.check(&at, "gbp_dont_learn", v.gbp_dont_learn, Some((flags & 0x0040 != 0).to_string()));
            t.check(&at, "gbp_applied", v.gbp_applied, Some((flags & 0x0008 != 0).to_string()));
            if flags & 0x8000 != 0 {
                t.check(&at, "gbp_group_policy_id", v.gbp_group_policy_id, numq(&mut gbp));
            }
            t.check(&at, "vni", v.vni, num(row.all(4).get(k).map(String::as_str)));
            let (s, d) = ip_pair(row, ipc, &chain, pos);
            t.check(&at, "src_ip", &v.src_ip, s);
            t.check(&at, "dst_ip", &v.dst_ip, d);
            t.check(&at, "tunnel_depth", v.tunnel_depth, Some(chain.depth(pos).to_string()));
        }
    }
    count_mismatch(t, &name, "VXLAN", got.len(), want);
}

const GENEVE_FIELDS: &[&str] = &[
    "geneve.version",
    "geneve.flags",
    "geneve.proto_type",
    "geneve.vni",
    // The header's options length first, then each option's length (both in bytes).
    "geneve.option.length",
    "geneve.option.class",
    "geneve.option.type",
    "geneve.option.flags",
    "geneve.option.unknown.data",
];

fn check_geneve(f: &Path, tab: &Table, out: &Path, t: &mut Tally) {
    let name = f.display().to_string();
    let (rows, ipc) = rows(tab, GENEVE_FIELDS, "geneve");
    let got: Vec<v1::Geneve> = records(out, "Geneve");
    let (mut i, mut want) = (0, 0);
    for row in &rows {
        let chain = Chain::new(row.first(1).unwrap_or(""));
        let (mut len, mut class, mut ty, mut fl, mut data) =
            (row.queue(6), row.queue(7), row.queue(8), row.queue(9), row.queue(10));
        for (k, pos) in chain.positions("geneve").into_iter().enumerate() {
            want += 1;
            let Some(g) = got.get(i) else { continue };
            i += 1;
            t.count(2);
            let at = format!("{name}: Geneve #{}", i - 1);
            let col = |c: usize| num(row.all(c).get(k).map(String::as_str));
            let flags = row.all(3).get(k).and_then(|s| parse_num(s)).unwrap_or(0);
            t.check(&at, "timestamp", g.timestamp, ts(row));
            t.check(&at, "version", g.version, col(2));
            t.check(&at, "oam_packet", g.oam_packet, Some((flags & 0x80 != 0).to_string()));
            t.check(&at, "critical_option", g.critical_option, Some((flags & 0x40 != 0).to_string()));
            t.check(&at, "protocol", g.protocol, col(4));
            t.check(&at, "vni", g.vni, col(5));
            let total = len.pop_front().as_deref().and_then(parse_num).unwrap_or(0);
            t.check(&at, "options_length", g.options_length, Some(total.to_string()));
            let mut seen = 0u64;
            let mut n = 0;
            while seen < total {
                let Some(l) = len.pop_front().as_deref().and_then(parse_num) else { break };
                let o = g.options.get(n);
                t.check(&at, "option length", o.map_or(0, |o| o.length), Some(l.to_string()));
                t.check(&at, "option class", o.map_or(0, |o| o.class), numq(&mut class));
                t.check(&at, "option type", o.map_or(0, |o| o.r#type), numq(&mut ty));
                t.check(&at, "option flags", o.map_or(0, |o| o.flags), numq(&mut fl));
                // Option classes Wireshark knows (e.g. GCP) are shown as their own fields.
                if let Some(d) = data.front()
                    && o.is_some_and(|o| hex(&o.data) == *d)
                {
                    data.pop_front();
                } else if l > 4 {
                    t.check(&at, "option data", o.map_or(String::new(), |o| hex(&o.data)), data.pop_front());
                }
                seen += l.max(4);
                n += 1;
            }
            t.check(&at, "options", g.options.len(), Some(n.to_string()));
            let (s, d) = ip_pair(row, ipc, &chain, pos);
            t.check(&at, "src_ip", &g.src_ip, s);
            t.check(&at, "dst_ip", &g.dst_ip, d);
            t.check(&at, "tunnel_depth", g.tunnel_depth, Some(chain.depth(pos).to_string()));
        }
    }
    count_mismatch(t, &name, "Geneve", got.len(), want);
}

const MPLS_FIELDS: &[&str] = &["mpls.label", "mpls.exp", "mpls.bottom", "mpls.ttl"];

fn check_mpls(f: &Path, tab: &Table, out: &Path, t: &mut Tally) {
    let name = f.display().to_string();
    let (rows, _) = rows(tab, MPLS_FIELDS, "mpls");
    let got: Vec<v1::Mpls> = records(out, "MPLS");
    let (mut i, mut want) = (0, 0);
    for row in &rows {
        let chain = Chain::new(row.first(1).unwrap_or(""));
        // tshark has one "mpls" token per label stack: stack n is the n-th run of entries up to
        // a bottom-of-stack bit, at the depth of the n-th token.
        let stacks = chain.positions("mpls");
        let mut stack = 0;
        for k in 0..row.all(2).len() {
            want += 1;
            let pos = stacks.get(stack).copied().unwrap_or(0);
            let col = |c: usize| num(row.all(c).get(k).map(String::as_str));
            if col(4).as_deref() == Some("1") {
                stack += 1;
            }
            let Some(m) = got.get(i) else { continue };
            i += 1;
            t.count(3);
            let at = format!("{name}: MPLS #{}", i - 1);
            t.check(&at, "timestamp", m.timestamp, ts(row));
            t.check(&at, "label", m.label, col(2));
            t.check(&at, "traffic_class", m.traffic_class, col(3));
            t.check(&at, "stack_bottom", bool01(m.stack_bottom), col(4));
            t.check(&at, "ttl", m.ttl, col(5));
            t.check(&at, "tunnel_depth", m.tunnel_depth, Some(chain.depth(pos).to_string()));
        }
    }
    count_mismatch(t, &name, "MPLS", got.len(), want);
}

const VRRP_FIELDS: &[&str] = &[
    "vrrp.version",
    "vrrp.type",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.addr_count",
    "vrrp.auth_type",
    "vrrp.adver_int",
    "vrrp.short_adver_int",
    "vrrp.checksum",
    "vrrp.ip_addr",
    "vrrp.ipv6_addr",
];

fn check_vrrp(f: &Path, tab: &Table, out: &Path, t: &mut Tally) {
    let name = f.display().to_string();
    let (rows, ipc) = rows(tab, VRRP_FIELDS, "vrrp");
    let got: Vec<v1::VrrPv2> = records(out, "VRRPv2");
    count_mismatch(t, &name, "VRRPv2", got.len(), rows.len());
    for (i, (v, row)) in got.iter().zip(&rows).enumerate() {
        t.count(4);
        let at = format!("{name}: VRRPv2 #{i}");
        let chain = Chain::new(row.first(1).unwrap_or(""));
        let pos = chain.positions("vrrp").first().copied().unwrap_or(0);
        let col = |c: usize| num(row.first(c));
        t.check(&at, "timestamp", v.timestamp, ts(row));
        t.check(&at, "version", v.version, col(2));
        t.check(&at, "type", v.r#type, col(3));
        t.check(&at, "virtual_rtr_id", v.virtual_rtr_id, col(4));
        t.check(&at, "priority", v.priority, col(5));
        t.check(&at, "count_ip_addr", v.count_ip_addr, col(6));
        t.check(&at, "auth_type", v.auth_type, col(7).or(Some("0".into())));
        t.check(&at, "adver_int", v.adver_int, col(8).or(col(9)));
        t.check(&at, "checksum", v.checksum, col(10));
        let addrs = if row.all(11).is_empty() { row.all(12) } else { row.all(11) };
        t.check(&at, "ip_address", v.ip_address.join(","), Some(addrs.join(",")));
        let (s, d) = ip_pair(row, ipc, &chain, pos);
        t.check(&at, "src_ip", &v.src_ip, s);
        t.check(&at, "dst_ip", &v.dst_ip, d);
        t.check(&at, "tunnel_depth", v.tunnel_depth, Some(chain.depth(pos).to_string()));
    }
}

const BFD_FIELDS: &[&str] = &[
    "bfd.version",
    "bfd.diag",
    "bfd.sta",
    "bfd.flags.p",
    "bfd.flags.f",
    "bfd.flags.c",
    "bfd.flags.a",
    "bfd.flags.d",
    "bfd.flags.m",
    "bfd.detect_time_multiplier",
    "bfd.message_length",
    "bfd.my_discriminator",
    "bfd.your_discriminator",
    "bfd.desired_min_tx_interval",
    "bfd.required_min_rx_interval",
    "bfd.required_min_echo_interval",
    "bfd.auth.type",
    "bfd.auth.len",
    "bfd.auth.key",
    "bfd.auth.password",
    "bfd.auth.seq_num",
    // The digest of the keyed MD5 / SHA1 types.
    "bfd.checksum",
    "udp.srcport",
    "udp.dstport",
];

fn check_bfd(f: &Path, tab: &Table, out: &Path, t: &mut Tally) {
    let name = f.display().to_string();
    // BFD control packets: the UDP ports of the decoder's port interests.
    let (mut rows, ipc) = rows(tab, BFD_FIELDS, "bfd");
    let bfd_port = |r: &Row, c: usize| r.all(c).iter().any(|p| p == "3784" || p == "4784");
    rows.retain(|r| r.first(2).is_some() && (bfd_port(r, 24) || bfd_port(r, 25)));
    let got: Vec<v1::Bfd> = records(out, "BFD");
    count_mismatch(t, &name, "BFD", got.len(), rows.len());
    for (i, (b, row)) in got.iter().zip(&rows).enumerate() {
        t.count(5);
        let at = format!("{name}: BFD #{i}");
        let chain = Chain::new(row.first(1).unwrap_or(""));
        let pos = chain.positions("bfd").first().copied().unwrap_or(0);
        let col = |c: usize| num(row.first(c));
        t.check(&at, "timestamp", b.timestamp, ts(row));
        t.check(&at, "version", b.version, col(2));
        t.check(&at, "diagnostic", b.diagnostic, col(3));
        t.check(&at, "state", b.state, col(4));
        t.check(&at, "poll", bool01(b.poll), col(5));
        t.check(&at, "final", bool01(b.r#final), col(6));
        t.check(&at, "control_plane_independent", bool01(b.control_plane_independent), col(7));
        t.check(&at, "auth_present", bool01(b.auth_present), col(8));
        t.check(&at, "demand", bool01(b.demand), col(9));
        t.check(&at, "multipoint", bool01(b.multipoint), col(10));
        t.check(&at, "detect_multiplier", b.detect_multiplier, col(11));
        t.check(&at, "length", b.length, col(12));
        t.check(&at, "my_discriminator", b.my_discriminator, col(13));
        t.check(&at, "your_discriminator", b.your_discriminator, col(14));
        t.check(&at, "desired_min_tx_interval", b.desired_min_tx_interval, col(15));
        t.check(&at, "required_min_rx_interval", b.required_min_rx_interval, col(16));
        t.check(&at, "required_min_echo_rx_interval", b.required_min_echo_rx_interval, col(17));
        let a = b.auth_header.clone().unwrap_or_default();
        // tshark adds the authentication section as one item: when the capture cuts it short
        // it shows none of its fields, where the record keeps the ones present (truncated.pcap).
        if row.first(18).is_some() {
            t.check(&at, "auth present", b.auth_header.is_some(), Some("true".into()));
            t.check(&at, "auth_type", a.auth_type, col(18));
            t.check(&at, "auth_length", a.auth_length, col(19));
            t.check(&at, "key_id", a.key_id, col(20));
            if a.auth_type == 1 {
                t.check(&at, "password", String::from_utf8_lossy(&a.data), row.first(21).map(str::to_string));
            } else {
                t.check(&at, "sequence_number", a.sequence_number, col(22));
                t.check(&at, "digest", hex(&a.data), row.first(23).map(str::to_string));
            }
        }
        t.check(&at, "src_port", b.src_port, col(24));
        t.check(&at, "dst_port", b.dst_port, col(25));
        let (s, d) = ip_pair(row, ipc, &chain, pos);
        t.check(&at, "src_ip", &b.src_ip, s);
        t.check(&at, "dst_ip", &b.dst_ip, d);
        t.check(&at, "tunnel_depth", b.tunnel_depth, Some(chain.depth(pos).to_string()));
    }
}

const OSPF_FIELDS: &[&str] = &[
    "ospf.version",                        // 2
    "ospf.msg",                            // 3
    "ospf.packet_length",                  // 4
    "ospf.srcrouter",                      // 5
    "ospf.area_id",                        // 6
    "ospf.checksum",                       // 7
    "ospf.auth.type",                      // 8
    "ospf.auth.simple",                    // 9
    "ospf.auth.crypt.key_id",              // 10
    "ospf.auth.crypt.data_length",         // 11
    "ospf.auth.crypt.seq_nbr",             // 12
    "ospf.instance_id",                    // 13
    "ospf.reserved",                       // 14
    "ospf.hello.network_mask",             // 15
    "ospf.hello.interface_id",             // 16
    "ospf.hello.hello_interval",           // 17
    "ospf.hello.router_priority",          // 18
    "ospf.hello.router_dead_interval",     // 19
    "ospf.hello.designated_router",        // 20
    "ospf.hello.backup_designated_router", // 21
    "ospf.hello.active_neighbor",          // 22
    "ospf.v2.options",                     // 23
    "ospf.v3.options",                     // 24
    "ospf.db.interface_mtu",               // 25
    "ospf.dbd",                            // 26
    "ospf.db.dd_sequence",                 // 27
    "ospf.ls.number_of_lsas",              // 28
    "ospf.lsa.age",                        // 29
    "ospf.lsa",                            // 30: OSPFv2 LS type (LSA headers and LS requests)
    "ospf.v3.lsa",                         // 31: OSPFv3 LS type
    "ospf.lsa.id",                         // 32: OSPFv2 LSA header link state ID
    "ospf.link_state_id",                  // 33: OSPFv2 LS request / OSPFv3 link state ID
    "ospf.advrouter",                      // 34
    "ospf.lsa.seqnum",                     // 35
    "ospf.lsa.chksum",                     // 36
    "ospf.lsa.length",                     // 37
    "ospf.v2.router.lsa.flags",            // 38
    "ospf.lsa.number_of_links",            // 39
    "ospf.lsa.router.linktype",            // 40
    "ospf.lsa.router.linkid",              // 41
    "ospf.lsa.router.linkdata",            // 42
    "ospf.lsa.router.metric0",             // 43
    "ospf.lsa.network.netmask",            // 44
    "ospf.lsa.network.attchrtr",           // 45
];

/// What both OSPF versions share, for the comparison.
struct OspfCommon<'a> {
    timestamp: i64,
    r#type: u32,
    packet_length: u32,
    router_id: u32,
    area_id: u32,
    checksum: u32,
    hello: Option<&'a v1::OspfHello>,
    db_desc: Option<&'a v1::OspfDbDesc>,
    lsr: &'a [v1::OspfLsRequest],
    lsu: Option<&'a v1::OspfLsUpdate>,
    lsas: &'a [v1::OspfLsaHeader],
    src_ip: &'a str,
    dst_ip: &'a str,
    tunnel_depth: u32,
}

/// `cut`: the capture cut the packet short.
fn check_ospf_common(at: &str, o: &OspfCommon<'_>, row: &Row, ipc: usize, v2: bool, cut: bool, t: &mut Tally) {
    let col = |c: usize| num(row.first(c));
    let ip = |c: usize| dotted(row.first(c));
    let chain = Chain::new(row.first(1).unwrap_or(""));
    let pos = chain.positions("ospf").first().copied().unwrap_or(0);
    t.check(at, "timestamp", o.timestamp, ts(row));
    t.check(at, "type", o.r#type, col(3));
    t.check(at, "packet_length", o.packet_length, col(4));
    t.check(at, "router_id", o.router_id, ip(5));
    t.check(at, "area_id", o.area_id, ip(6));
    t.check(at, "checksum", o.checksum, col(7));
    let opts = if v2 { 23 } else { 24 };
    let mut options = row.queue(opts);
    t.check(at, "hello present", o.hello.is_some(), Some((o.r#type == 1).to_string()));
    if let Some(h) = o.hello {
        if v2 {
            t.check(at, "network_mask", h.network_mask, ip(15));
        } else {
            t.check(at, "interface_id", h.interface_id, col(16));
        }
        t.check(at, "hello_interval", h.hello_interval, col(17));
        t.check(at, "rtr_priority", h.rtr_priority, col(18));
        t.check(at, "router_dead_interval", h.router_dead_interval, col(19));
        t.check(at, "designated_router_id", h.designated_router_id, ip(20));
        t.check(at, "backup_designated_router_id", h.backup_designated_router_id, ip(21));
        let n: Vec<String> = row.all(22).iter().map(|s| dotted(Some(s)).unwrap_or_default()).collect();
        t.check(
            at,
            "neighbor_id",
            h.neighbor_id.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
            Some(n.join(",")),
        );
        t.check(at, "hello options", h.options, numq(&mut options));
    }
    let mut headers: Vec<&v1::OspfLsaHeader> = Vec::new();
    t.check(at, "db_desc present", o.db_desc.is_some(), Some((o.r#type == 2).to_string()));
    if let Some(d) = o.db_desc {
        t.check(at, "db options", d.options, numq(&mut options));
        t.check(at, "interface_mtu", d.interface_mtu, col(25));
        t.check(at, "db flags", d.flags, col(26));
        t.check(at, "dd_seq_number", d.dd_seq_number, col(27));
        headers.extend(&d.lsa_info);
    }
    let (mut ty, mut ids, mut adv) =
        (row.queue(if v2 { 30 } else { 31 }), row.queue(if v2 { 32 } else { 33 }), row.queue(34));
    if o.r#type == 3 {
        let mut lsid = row.queue(33);
        t.check(at, "lsr count", o.lsr.len(), Some(ty.len().to_string()));
        for r in o.lsr {
            t.check(at, "lsr ls_type", r.ls_type, numq(&mut ty));
            t.check(at, "lsr lsid", r.lsid, dottedq(&mut lsid));
            t.check(at, "lsr adv_router", r.adv_router, dottedq(&mut adv));
        }
    }
    t.check(at, "lsu present", o.lsu.is_some(), Some((o.r#type == 4).to_string()));
    let (mut flags, mut nlinks, mut ltype, mut lid, mut ldata, mut metric, mut mask, mut attached) = (
        row.queue(38),
        row.queue(39),
        row.queue(40),
        row.queue(41),
        row.queue(42),
        row.queue(43),
        row.queue(44),
        row.queue(45),
    );
    if let Some(u) = o.lsu {
        t.check(at, "num_of_lsas", u.num_of_lsas, col(28));
        for l in &u.lsas {
            let Some(h) = &l.header else { continue };
            headers.push(h);
            if !v2 {
                continue;
            }
            if h.ls_type == 1 {
                t.check(at, "router flags", l.router_flags, numq(&mut flags));
                t.check(at, "router links", l.router_links, numq(&mut nlinks));
                for r in &l.routers {
                    t.check(at, "link type", r.r#type, numq(&mut ltype));
                    t.check(at, "link id", r.link_id, dottedq(&mut lid));
                    t.check(at, "link data", r.link_data, dottedq(&mut ldata));
                    t.check(at, "link metric", r.metric, numq(&mut metric));
                }
            }
            if h.ls_type == 2 {
                t.check(at, "network mask", l.network_mask, dottedq(&mut mask));
                for a in &l.attached_routers {
                    t.check(at, "attached router", a, dottedq(&mut attached));
                }
            }
        }
    }
    if o.r#type == 5 {
        headers.extend(o.lsas);
    }
    let (mut age, mut seq, mut ck, mut len) = (row.queue(29), row.queue(35), row.queue(36), row.queue(37));
    // tshark adds an LS update or DB description body as one item of the packet length: when
    // the capture cuts it short it shows no LSA, where the record keeps the complete ones
    // (truncated.pcap). The headers tshark does show are compared all the same.
    if !cut || !age.is_empty() {
        t.check(at, "lsa headers", headers.len(), Some(age.len().to_string()));
    }
    for h in headers {
        t.check(at, "ls_age", h.ls_age, numq(&mut age));
        t.check(at, "ls_type", h.ls_type, numq(&mut ty));
        t.check(at, "link_state_id", h.link_state_id, dottedq(&mut ids));
        t.check(at, "adv_router", h.adv_router, dottedq(&mut adv));
        t.check(at, "ls_seq_number", h.ls_seq_number, numq(&mut seq));
        t.check(at, "ls_checksum", h.ls_checksum, numq(&mut ck));
        t.check(at, "length", h.length, numq(&mut len));
        if v2 {
            t.check(at, "ls_options", h.ls_options, numq(&mut options));
        }
    }
    let (s, d) = ip_pair(row, ipc, &chain, pos);
    t.check(at, "src_ip", o.src_ip, s);
    t.check(at, "dst_ip", o.dst_ip, d);
    t.check(at, "tunnel_depth", o.tunnel_depth, Some(chain.depth(pos).to_string()));
}

fn check_ospf(f: &Path, tab: &Table, out: &Path, t: &mut Tally) {
    let name = f.display().to_string();
    let (all, ipc) = rows(tab, OSPF_FIELDS, "ospf");
    let (frames, _) = rows(tab, FRAME_FIELDS, "ospf");
    let cut: Vec<bool> = frames.iter().map(|r| r.first(2) != r.first(3)).collect();
    // (row, cut short) per packet, by version.
    type Rows<'a> = Vec<(&'a Row, bool)>;
    let (v2rows, v3rows): (Rows<'_>, Rows<'_>) = all.iter().zip(cut).partition(|(r, _)| r.first(2) == Some("2"));
    let got2: Vec<v1::OspFv2> = records(out, "OSPFv2");
    count_mismatch(t, &name, "OSPFv2", got2.len(), v2rows.len());
    for (i, (o, &(row, cut))) in got2.iter().zip(&v2rows).enumerate() {
        t.count(6);
        let at = format!("{name}: OSPFv2 #{i}");
        t.check(&at, "version", o.version, num(row.first(2)));
        t.check(&at, "au_type", o.au_type, num(row.first(8)));
        let auth = o.authentication.to_be_bytes();
        if let Some(p) = row.first(9) {
            let text = String::from_utf8_lossy(&auth).trim_end_matches('\0').to_string();
            t.check(&at, "authentication (simple)", text, Some(p.to_string()));
        }
        if o.au_type == 2 {
            t.check(&at, "auth key id", auth[2], num(row.first(10)));
            t.check(&at, "auth data length", auth[3], num(row.first(11)));
            t.check(
                &at,
                "auth crypt seq",
                u32::from_be_bytes([auth[4], auth[5], auth[6], auth[7]]),
                num(row.first(12)),
            );
        }
        let c = OspfCommon {
            timestamp: o.timestamp,
            r#type: o.r#type,
            packet_length: o.packet_length,
            router_id: o.router_id,
            area_id: o.area_id,
            checksum: o.checksum,
            hello: o.hello_v2.as_ref(),
            db_desc: o.db_desc.as_ref(),
            lsr: &o.lsr,
            lsu: o.lsu.as_ref(),
            lsas: &o.lsas,
            src_ip: &o.src_ip,
            dst_ip: &o.dst_ip,
            tunnel_depth: o.tunnel_depth,
        };
        check_ospf_common(&at, &c, row, ipc, true, cut, t);
    }
    let got3: Vec<v1::OspFv3> = records(out, "OSPFv3");
    count_mismatch(t, &name, "OSPFv3", got3.len(), v3rows.len());
    for (i, (o, &(row, cut))) in got3.iter().zip(&v3rows).enumerate() {
        t.count(7);
        let at = format!("{name}: OSPFv3 #{i}");
        t.check(&at, "version", o.version, num(row.first(2)));
        t.check(&at, "instance", o.instance, num(row.first(13)));
        t.check(
            &at,
            "reserved",
            o.reserved,
            row.first(14).and_then(|s| u64::from_str_radix(s, 16).ok()).map(|v| v.to_string()),
        );
        let c = OspfCommon {
            timestamp: o.timestamp,
            r#type: o.r#type,
            packet_length: o.packet_length,
            router_id: o.router_id,
            area_id: o.area_id,
            checksum: o.checksum,
            hello: o.hello.as_ref(),
            db_desc: o.db_desc.as_ref(),
            lsr: &o.lsr,
            lsu: o.lsu.as_ref(),
            lsas: &o.lsas,
            src_ip: &o.src_ip,
            dst_ip: &o.dst_ip,
            tunnel_depth: o.tunnel_depth,
        };
        check_ospf_common(&at, &c, row, ipc, false, cut, t);
    }
}

/// Runs netcap on `f` and compares every record type with tshark.
fn check_file(f: &Path, t: &mut Tally) {
    let Some(tab) = tshark_fields(f, &all_fields(), &["-Y", ANY]) else { return };
    if tab.is_empty() {
        return;
    }
    let tab = Table(tab);
    let (out, o) = netcap_tests::default_capture(f);
    if o.status.code() == Some(2) {
        t.problems.push(format!("{}: netcap failed: {}", f.display(), String::from_utf8_lossy(&o.stderr)));
        return;
    }
    check_gre(f, &tab, out.as_path(), t);
    check_vxlan(f, &tab, out.as_path(), t);
    check_geneve(f, &tab, out.as_path(), t);
    check_mpls(f, &tab, out.as_path(), t);
    check_vrrp(f, &tab, out.as_path(), t);
    check_bfd(f, &tab, out.as_path(), t);
    check_ospf(f, &tab, out.as_path(), t);
}

fn report(t: &Tally) -> String {
    KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k}: {} corpus + {} synthesized", t.corpus[i], t.synth[i]))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn tunnel_and_routing_records_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let mut t = Tally::default();
    // Synthesized captures first: protocols and header variants the corpus lacks.
    let dir = TempDir::new("tunnel-synth");
    for (file, packets) in
        [("routing.pcap", synth_tunnel::routing_packets()), ("tunnel.pcap", synth_tunnel::tunnel_packets())]
    {
        let p = dir.path().join(file);
        pcap::write_pcap(&p, pcap::LINKTYPE_ETHERNET, false, &packets).expect("write pcap");
        t.synthesized = true;
        check_file(&p, &mut t);
    }
    // The same protocols cut short by the snap length: partial records that still agree with
    // what tshark shows of them.
    let p = dir.path().join("truncated.pcap");
    std::fs::write(&p, synth_tunnel::truncated_pcap_bytes(&synth_tunnel::truncated_packets())).expect("write pcap");
    check_file(&p, &mut t);
    // ... and each of them is a counted decoder error of its kind.
    let out = TempDir::new("tunnel-errors");
    let o = netcap_tests::netcap(&[
        "capture",
        "-r",
        p.to_str().expect("utf-8"),
        "-o",
        out.path().to_str().expect("utf-8"),
        "--include",
        INCLUDE,
    ]);
    let summary = String::from_utf8_lossy(&o.stderr);
    for (kind, n) in [
        ("routing: ospf: packet truncated", 3),
        ("routing: bfd: packet truncated", 2),
        ("routing: vrrp: packet truncated", 1),
        ("tunnel: geneve: header truncated", 1),
        ("tunnel: gre: header truncated", 1),
    ] {
        let line = summary.lines().find(|l| l.trim_start().starts_with(kind));
        let count = line.and_then(|l| l.split_whitespace().last()).and_then(|c| c.parse::<u32>().ok());
        assert_eq!(count, Some(n), "{kind} in\n{summary}");
    }
    t.synthesized = false;
    for f in netcap_tests::files_with(PROTOCOLS) {
        check_file(&f, &mut t);
    }
    eprintln!("compared with tshark: {}", report(&t));
    t.problems.truncate(80);
    assert!(t.problems.is_empty(), "{}", t.problems.join("\n"));
    // Every record type was compared; the synthesized captures alone guarantee these.
    for (i, k) in KINDS.iter().enumerate() {
        assert!(t.corpus[i] + t.synth[i] > 0, "no {k} record compared");
    }
    assert!(t.synth[4] >= 4 && t.synth[5] >= 6 && t.synth[6] >= 6 && t.synth[7] >= 5, "{}", report(&t));
}
