//! DHCPv4, DHCPv6 and NTP records agree field by field with tshark on every capture of the
//! corpus that has them (UDP 67/68, 546/547, 123).
//!
//! Alignment as in `oracle_dns`: one record is expected per UDP layer with a matching port
//! (outer first; ICMP-quoted headers excluded, the host does not dissect inside ICMP); tshark
//! runs with IP reassembly off, so a first fragment is dissected on its own, as we see it.

use netcap_proto::v1::{DhcPv4, DhcPv6, Ntp};
use netcap_tests::{TempDir, corpus_files, have_tshark, parse_ns, parse_num, records, tshark_fields};
use std::path::Path;

const DIRS: &[&str] =
    &["dhcp", "dhcpv6", "ntp", "fileformat", "fragments", "linktypes", "malformed", "mixed", "sip", "tunnels"];

const COMMON: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "_ws.malformed",
    "_ws.short",
    "_ws.unreassembled",
    "udp.srcport",
    "udp.dstport",
];

const V4_FIELDS: &[&str] = &[
    "dhcp.type",
    "dhcp.hw.type",
    "dhcp.hw.len",
    "dhcp.hops",
    "dhcp.id",
    "dhcp.secs",
    "dhcp.flags",
    "dhcp.ip.client",
    "dhcp.ip.your",
    "dhcp.ip.server",
    "dhcp.ip.relay",
    "dhcp.hw.mac_addr",
    "dhcp.hw.addr",
    "dhcp.server",
    "dhcp.file",
    "dhcp.cookie",
    "dhcp.option.type",
    "dhcp.option.length",
    "dhcp.option.dhcp",
    "dhcp.option.hostname",
    "dhcp.option.vendor_class_id",
    "dhcp.option.request_list_item",
    "dhcp.option.requested_ip_address",
    "dhcp.option.option_overload",
];

const V6_FIELDS: &[&str] = &[
    "dhcpv6.msgtype",
    "dhcpv6.hopcount",
    "dhcpv6.linkaddr",
    "dhcpv6.peeraddr",
    "dhcpv6.xid",
    "dhcpv6.option.type",
    "dhcpv6.option.length",
    "dhcpv6.requested_option_code",
];

const NTP_FIELDS: &[&str] = &[
    "ntp.flags.li",
    "ntp.flags.vn",
    "ntp.flags.mode",
    "ntp.stratum",
    "ntp.ppoll",
    "ntp.precision",
    "ntp.rootdelay",
    "ntp.rootdispersion",
    "ntp.refid",
    "ntp.reftime",
    "ntp.org",
    "ntp.rec",
    "ntp.xmt",
];

/// Captures where the host does not (yet) slice the packets down to UDP, so that we see fewer
/// records than tshark. Only a record count below tshark's is excused.
const HOST_GAPS: &[(&str, &str)] = &[
    ("pcapplusplus_PPPoESession.pcap", "PPPoE session frames are not dissected by the host"),
    ("ndpi_capwap.pcap", "CAPWAP data (802.11 frames in UDP 5247) is not dissected by the host"),
];

/// One tshark row with named access.
struct Row<'a> {
    names: &'a [&'a str],
    v: &'a [String],
}

impl Row<'_> {
    fn get(&self, name: &str) -> &str {
        self.names.iter().position(|f| *f == name).and_then(|i| self.v.get(i)).map_or("", String::as_str)
    }
    fn partial(&self) -> bool {
        ["_ws.malformed", "_ws.short", "_ws.unreassembled"].iter().any(|f| !self.get(f).is_empty())
    }
}

fn nums(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    s.split(',').map(|v| parse_num(v).map_or_else(|| v.to_string(), |n| n.to_string())).collect::<Vec<_>>().join(",")
}

fn join<T: ToString>(it: impl IntoIterator<Item = T>) -> String {
    it.into_iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

/// tshark's NTP time stamp text (`Oct 15, 2016 12:47:36.467834989 UTC`, `NULL` for 0) as ns
/// since the Unix epoch.
fn ntp_date_ns(s: &str) -> Option<i64> {
    if s == "NULL" {
        return Some(0);
    }
    let mut it = s.split([' ', ',', ':']).filter(|t| !t.is_empty());
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = it.next()?;
    let m = MONTHS.iter().position(|x| *x == month)? as i64 + 1;
    let d: i64 = it.next()?.parse().ok()?;
    let y: i64 = it.next()?.parse().ok()?;
    let h: i64 = it.next()?.parse().ok()?;
    let mi: i64 = it.next()?.parse().ok()?;
    let sec = parse_ns(it.next()?)?;
    // Days from civil (Howard Hinnant's algorithm).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60) * 1_000_000_000 + sec)
}

/// The UDP layers the host slices in a packet: `udp` tokens before any ICMP.
fn outer_udp_layers(protocols: &str) -> usize {
    protocols.split(':').take_while(|t| !t.starts_with("icmp")).filter(|t| *t == "udp").count()
}

/// tshark rows (with their expected record count) for packets with a UDP layer on `ports`.
fn expected<'a>(rows: &'a [Vec<String>], names: &'a [&'a str], ports: &[u64]) -> Vec<Row<'a>> {
    let mut want = Vec::new();
    for v in rows.iter().filter(|r| r.len() == names.len()) {
        let r = Row { names, v };
        let layers = outer_udp_layers(r.get("frame.protocols"));
        let sp: Vec<&str> = r.get("udp.srcport").split(',').collect();
        let dp: Vec<&str> = r.get("udp.dstport").split(',').collect();
        let n = (0..layers)
            .filter(|&k| {
                let p = |v: &Vec<&str>| v.get(k).and_then(|s| parse_num(s)).unwrap_or(0);
                ports.contains(&p(&sp)) || ports.contains(&p(&dp))
            })
            .count();
        for _ in 0..n {
            want.push(Row { names, v });
        }
    }
    want
}

type Cmp<'a> = dyn FnMut(&str, String, String) + 'a;

/// Runs one record type over the corpus: `check` compares one record with its tshark row.
fn run<T: prost::Message + Default>(
    record: &str,
    proto_fields: &[&str],
    ports: &[u64],
    check: &dyn Fn(&T, &Row<'_>, &mut Cmp<'_>),
) -> (usize, usize, Vec<String>) {
    let mut names: Vec<&str> = COMMON.to_vec();
    names.extend_from_slice(proto_fields);
    let filter = join(ports.iter().map(|p| format!("udp.port=={p}"))).replace(',', " || ");
    let (mut compared, mut files, mut problems) = (0, 0, Vec::new());
    // Every corpus capture in which tshark dissects DHCP, DHCPv6 or NTP.
    for f in netcap_tests::files_with(&["dhcp", "dhcpv6", "ntp"]) {
        let Some(rows) =
            tshark_fields(&f, &names, &["-Y", &filter, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
        else {
            continue;
        };
        let want = expected(&rows, &names, ports);
        if want.is_empty() {
            continue;
        }
        files += 1;
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let got = ours::<T>(&f, record, &mut problems);
        if got.len() != want.len() {
            if let Some((_, why)) = HOST_GAPS.iter().find(|(f, _)| *f == name)
                && got.len() < want.len()
            {
                eprintln!("notice: {name}: {} {record} records, tshark {} ({why})", got.len(), want.len());
            } else {
                problems.push(format!("{name}: {} {record} records, tshark {}", got.len(), want.len()));
            }
            continue;
        }
        for (g, r) in got.iter().zip(&want) {
            compared += 1;
            let frame = r.get("frame.number").to_string();
            let mut cmp = |field: &str, ours: String, theirs: String| {
                if ours != theirs {
                    problems.push(format!("{name} #{frame} {record}.{field}: ours {ours:?}, tshark {theirs:?}"));
                }
            };
            check(g, r, &mut cmp);
        }
    }
    (compared, files, problems)
}

fn ours<T: prost::Message + Default>(f: &Path, record: &str, problems: &mut Vec<String>) -> Vec<T> {
    let out = TempDir::new("dhcp");
    // tshark runs with IP reassembly off: so do we (where the capture has fragments).
    let (dir, o) = netcap_tests::capture_without_defrag(f, &["--include", record], out.path());
    if o.status.code() == Some(2) {
        problems.push(format!("{}: netcap failed: {}", f.display(), String::from_utf8_lossy(&o.stderr)));
    }
    records(&dir, record)
}

fn ts(r: &Row<'_>) -> String {
    parse_ns(r.get("frame.time_epoch")).unwrap_or(0).to_string()
}

fn last(s: &str) -> String {
    s.split(',').next_back().unwrap_or("").to_string()
}

/// Compares a value unless tshark left it out of a malformed packet.
fn opt(cmp: &mut Cmp<'_>, partial: bool, field: &str, ours: String, theirs: String) {
    if !(partial && theirs.is_empty()) {
        cmp(field, ours, theirs);
    }
}

fn check_v4(g: &DhcPv4, r: &Row<'_>, cmp: &mut Cmp<'_>) {
    let p = r.partial();
    cmp("timestamp", g.timestamp.to_string(), ts(r));
    cmp("src_port", g.src_port.to_string(), last(r.get("udp.srcport")));
    cmp("dst_port", g.dst_port.to_string(), last(r.get("udp.dstport")));
    opt(cmp, p, "operation", g.operation.to_string(), r.get("dhcp.type").into());
    // dhcp.hw.type and dhcp.hw.mac_addr recur in option 61 (client identifier): the first
    // occurrence is the header's.
    let first = |f: &str| r.get(f).split(',').next().unwrap_or("").to_string();
    opt(cmp, p, "hardware_type", g.hardware_type.to_string(), nums(&first("dhcp.hw.type")));
    opt(cmp, p, "hardware_len", g.hardware_len.to_string(), r.get("dhcp.hw.len").into());
    opt(cmp, p, "hardware_opts", g.hardware_opts.to_string(), r.get("dhcp.hops").into());
    opt(cmp, p, "xid", g.xid.to_string(), nums(r.get("dhcp.id")));
    // Exception: Wireshark shows a secs value with a zero low byte byte-swapped ("little endian
    // bug?" heuristic, e.g. pcapplusplus_raw_ip.pcap); we keep the wire value.
    let secs = if g.secs & 0xff == 0 && r.get("dhcp.secs") == (g.secs >> 8).to_string() { g.secs >> 8 } else { g.secs };
    opt(cmp, p, "secs", secs.to_string(), r.get("dhcp.secs").into());
    opt(cmp, p, "flags", g.flags.to_string(), nums(r.get("dhcp.flags")));
    opt(cmp, p, "client_ip", g.client_ip.clone(), r.get("dhcp.ip.client").into());
    opt(cmp, p, "your_client_ip", g.your_client_ip.clone(), r.get("dhcp.ip.your").into());
    opt(cmp, p, "next_server_ip", g.next_server_ip.clone(), r.get("dhcp.ip.server").into());
    opt(cmp, p, "relay_agent_ip", g.relay_agent_ip.clone(), r.get("dhcp.ip.relay").into());
    // Wireshark shows an Ethernet address as dhcp.hw.mac_addr, others as dhcp.hw.addr (hex).
    let hw = if r.get("dhcp.hw.mac_addr").is_empty() { first("dhcp.hw.addr") } else { first("dhcp.hw.mac_addr") };
    opt(cmp, p, "client_hw_addr", g.client_hw_addr.clone(), hw);
    cmp("server_name", g.server_name.clone(), r.get("dhcp.server").into());
    cmp("file", g.file.clone(), r.get("dhcp.file").into());
    let cookie = g.cookie.to_be_bytes();
    opt(cmp, p, "cookie", join(cookie), r.get("dhcp.cookie").replace('.', ","));
    // Exception: a message cut by the capture's snap length (`_ws.short`; the gopacket pcapng
    // test files in fileformat/pcapng-testsuite-*/ are cut at 315 of 342 bytes): Wireshark shows
    // no options at all, we keep the options that were captured whole (and count the error).
    if !r.get("_ws.short").is_empty() && r.get("dhcp.option.type").is_empty() {
        return;
    }
    // tshark lists trailing padding as option type 0 (and End separately): not an option here.
    let mut types: Vec<u32> =
        r.get("dhcp.option.type").split(',').filter_map(|t| t.parse().ok()).filter(|t| *t != 0).collect();
    let mut ours: Vec<u32> = g.options.iter().map(|o| o.r#type).collect();
    let mut lens: Vec<u32> = r.get("dhcp.option.length").split(',').filter_map(|t| t.parse().ok()).collect();
    let mut our_lens: Vec<u32> = g.options.iter().map(|o| o.length).collect();
    if ours.contains(&52) {
        // Exception: with option overload, Wireshark shows the options of sname and file where
        // option 52 is; we append them after the options field in RFC 2131 order (file, then
        // sname). Same options, other order.
        for v in [&mut types, &mut ours, &mut lens, &mut our_lens] {
            v.sort_unstable();
        }
    }
    cmp("options.type", join(ours), join(types));
    cmp("options.length", join(our_lens), join(lens));
    let mt = if g.message_type == 0 { String::new() } else { g.message_type.to_string() };
    cmp("message_type", mt, r.get("dhcp.option.dhcp").into());
    cmp("hostname", g.hostname.clone(), r.get("dhcp.option.hostname").into());
    cmp("vendor_class", g.vendor_class.clone(), r.get("dhcp.option.vendor_class_id").into());
    cmp("requested_ip", g.requested_ip.clone(), r.get("dhcp.option.requested_ip_address").into());
    cmp("fingerprint", g.fingerprint.clone(), r.get("dhcp.option.request_list_item").into());
}

/// The option codes of a DHCPv6 option list in tshark's order: each option, then the options
/// nested in it (IA_NA, IA_TA, IA_PD, IAADDR, IAPREFIX, and the message in a Relay Message).
fn v6_codes(d: &[u8], out: &mut Vec<u32>, lens: &mut Vec<u32>, depth: usize) {
    let mut at = 0;
    while at + 4 <= d.len() {
        let code = u16::from_be_bytes([d[at], d[at + 1]]);
        let len = usize::from(u16::from_be_bytes([d[at + 2], d[at + 3]]));
        let Some(data) = d.get(at + 4..at + 4 + len) else { break };
        out.push(u32::from(code));
        lens.push(len as u32);
        let nested = match code {
            3 | 25 => Some(12),
            4 => Some(4),
            5 => Some(24),
            26 => Some(25),
            9 => match data.first() {
                Some(12 | 13) => Some(34),
                Some(_) => Some(4),
                None => None,
            },
            _ => None,
        };
        if let Some(skip) = nested
            && depth < 8
            && data.len() >= skip
        {
            v6_codes(&data[skip..], out, lens, depth + 1);
        }
        at += 4 + len;
    }
}

fn check_v6(g: &DhcPv6, r: &Row<'_>, cmp: &mut Cmp<'_>) {
    cmp("timestamp", g.timestamp.to_string(), ts(r));
    cmp("src_port", g.src_port.to_string(), last(r.get("udp.srcport")));
    cmp("dst_port", g.dst_port.to_string(), last(r.get("udp.dstport")));
    // tshark lists the relayed messages' fields after the outer message's.
    let first = |f: &str| r.get(f).split(',').next().unwrap_or("").to_string();
    cmp("msg_type", g.msg_type.to_string(), first("dhcpv6.msgtype"));
    if g.msg_type == 12 || g.msg_type == 13 {
        cmp("hop_count", g.hop_count.to_string(), first("dhcpv6.hopcount"));
        cmp("link_addr", g.link_addr.clone(), first("dhcpv6.linkaddr"));
        cmp("peer_addr", g.peer_addr.clone(), first("dhcpv6.peeraddr"));
    } else {
        cmp("transaction_id", g.transaction_id.to_string(), nums(&first("dhcpv6.xid")));
    }
    let (mut codes, mut lens) = (Vec::new(), Vec::new());
    for o in &g.options {
        let mut raw = (o.code as u16).to_be_bytes().to_vec();
        raw.extend_from_slice(&(o.length as u16).to_be_bytes());
        raw.extend_from_slice(&o.data);
        v6_codes(&raw, &mut codes, &mut lens, 0);
    }
    cmp("options.code (with nested)", join(codes), r.get("dhcpv6.option.type").into());
    cmp("options.length (with nested)", join(lens), r.get("dhcpv6.option.length").into());
    cmp("fingerprint", g.fingerprint.clone(), r.get("dhcpv6.requested_option_code").into());
}

fn check_ntp(g: &Ntp, r: &Row<'_>, cmp: &mut Cmp<'_>) {
    let p = r.partial();
    cmp("timestamp", g.timestamp.to_string(), ts(r));
    cmp("src_port", g.src_port.to_string(), last(r.get("udp.srcport")));
    cmp("dst_port", g.dst_port.to_string(), last(r.get("udp.dstport")));
    // Private (mode 7) messages have their own flag fields in tshark (ntppriv.flags.*).
    let private = g.mode == 7;
    opt(cmp, private, "leap_indicator", g.leap_indicator.to_string(), r.get("ntp.flags.li").into());
    opt(cmp, private, "version", g.version.to_string(), r.get("ntp.flags.vn").into());
    opt(cmp, private, "mode", g.mode.to_string(), r.get("ntp.flags.mode").into());
    if g.mode >= 6 {
        // Control and private messages have other layouts (tshark's ntpctrl/ntppriv fields);
        // we decode only the first byte of them.
        return;
    }
    opt(cmp, p, "stratum", g.stratum.to_string(), r.get("ntp.stratum").into());
    opt(cmp, p, "poll", (g.poll as u8).to_string(), r.get("ntp.ppoll").into());
    opt(cmp, p, "precision", (g.precision as u8).to_string(), r.get("ntp.precision").into());
    opt(cmp, p, "root_delay", g.root_delay.to_string(), r.get("ntp.rootdelay").into());
    opt(cmp, p, "root_dispersion", g.root_dispersion.to_string(), r.get("ntp.rootdispersion").into());
    let refid = r.get("ntp.refid");
    let refid = if refid.is_empty() { String::new() } else { nums(&format!("0x{refid}")) };
    opt(cmp, p, "reference_id", g.reference_id.to_string(), refid);
    for (field, ns, raw, tf) in [
        ("reference", g.reference_ns, g.reference_timestamp, "ntp.reftime"),
        ("origin", g.origin_ns, g.origin_timestamp, "ntp.org"),
        ("receive", g.receive_ns, g.receive_timestamp, "ntp.rec"),
        ("transmit", g.transmit_ns, g.transmit_timestamp, "ntp.xmt"),
    ] {
        let theirs = r.get(tf);
        if p && theirs.is_empty() {
            continue;
        }
        // tshark prints ns truncated from the fraction, like ours; the raw value must agree too.
        let want = ntp_date_ns(theirs);
        cmp(&format!("{field}_ns"), ns.to_string(), want.map_or_else(|| theirs.to_string(), |v| v.to_string()));
        let back = if raw == 0 { 0 } else { netcap_decoder_ns(raw) };
        cmp(&format!("{field}_timestamp"), back.to_string(), ns.to_string());
    }
}

/// The raw 64-bit NTP value as ns (the decoder's conversion, restated to check raw against ns).
fn netcap_decoder_ns(raw: u64) -> i64 {
    let secs = (raw >> 32) as i64;
    let secs = if secs & 0x8000_0000 != 0 { secs } else { secs + (1i64 << 32) };
    (secs - 2_208_988_800) * 1_000_000_000 + (((raw & 0xffff_ffff) * 1_000_000_000) >> 32) as i64
}

fn report(what: &str, (compared, files, mut problems): (usize, usize, Vec<String>), min: usize) {
    let total = problems.len();
    for p in &problems {
        eprintln!("{p}");
    }
    problems.truncate(80);
    assert!(problems.is_empty(), "{total} problems:\n{}", problems.join("\n"));
    assert!(compared >= min, "only {compared} {what} records compared");
    eprintln!("compared {compared} {what} records from {files} captures with tshark");
}

#[test]
fn dhcpv4_agrees_with_tshark() {
    if !have_tshark() || corpus_files(DIRS).is_empty() {
        return;
    }
    report("DHCPv4", run::<DhcPv4>("DHCPv4", V4_FIELDS, &[67, 68], &check_v4), 1000);
}

#[test]
fn dhcpv6_agrees_with_tshark() {
    if !have_tshark() || corpus_files(DIRS).is_empty() {
        return;
    }
    report("DHCPv6", run::<DhcPv6>("DHCPv6", V6_FIELDS, &[546, 547], &check_v6), 20);
}

#[test]
fn ntp_agrees_with_tshark() {
    if !have_tshark() || corpus_files(DIRS).is_empty() {
        return;
    }
    report("NTP", run::<Ntp>("NTP", NTP_FIELDS, &[123], &check_ntp), 50);
}

#[test]
fn ntp_date_text() {
    assert_eq!(ntp_date_ns("Jan 1, 1970 00:00:01.5 UTC"), Some(1_500_000_000));
    assert_eq!(ntp_date_ns("Oct 15, 2016 12:47:36.467834989 UTC"), Some(1_476_535_656_467_834_989));
}
