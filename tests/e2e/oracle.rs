//! Field-by-field agreement of the Ethernet, IPv4, IPv6, TCP and UDP records with tshark.
//!
//! For every Ethernet capture in the corpus directories below, `netcap capture` writes its
//! records and tshark (with reassembly off, so that every field belongs to its own packet) prints
//! the same fields for every frame. Records carry no frame number, so the two sides are aligned
//! per record type: from tshark's `frame.protocols` layer stack we derive exactly the frames in
//! which our host dissection (etherparse lax slicing: Ethernet II, up to three VLAN tags,
//! IPv4/IPv6 with extension headers, then TCP/UDP unless the IP payload is a fragment) yields
//! the record, and require the same count, the same order and the same timestamp (as integer ns)
//! before comparing fields. Every mismatch is collected with file, record type, frame, field and
//! both values; the test fails at the end with a summary.

use netcap_proto::v1::{Ethernet, IPv4, IPv6, Tcp, Udp};
use netcap_tests::{TempDir, corpus_files, have_tshark, parse_ns, parse_num, records, tshark_fields};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The corpus directories of the acceptance criterion.
const DIRS: &[&str] = &["tcp", "udp", "ip", "dns", "http", "ethernet_arp", "vlan"];

/// Strict per-packet dissection: no reassembly moving fields to other frames.
const TSHARK_PREFS: &[&str] =
    &["-o", "tcp.desegment_tcp_streams:FALSE", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"];

/// Mismatch lines printed per file (all are counted).
const MAX_PRINTED_PER_FILE: usize = 40;

macro_rules! fields {
    ($($id:ident = $name:literal,)*) => {
        /// A tshark field: its column in the output.
        #[derive(Clone, Copy)]
        #[allow(non_camel_case_types, reason = "named after the tshark fields")]
        enum F { $($id,)* }
        /// The tshark field names, in column order (all verified to exist in tshark 4.0.17).
        const FIELDS: &[&str] = &[$($name,)*];
    };
}

fields! {
    time = "frame.time_epoch",
    protocols = "frame.protocols",
    encap = "frame.encap_type",
    frame_len = "frame.len",
    cap_len = "frame.cap_len",
    malformed = "_ws.malformed",
    eth_src = "eth.src",
    eth_dst = "eth.dst",
    eth_type = "eth.type",
    eth_len = "eth.len",
    ip_version = "ip.version",
    ip_hdr_len = "ip.hdr_len",
    ip_dsfield = "ip.dsfield",
    ip_len = "ip.len",
    ip_id = "ip.id",
    ip_flags = "ip.flags",
    ip_frag_offset = "ip.frag_offset",
    ip_ttl = "ip.ttl",
    ip_proto = "ip.proto",
    ip_checksum = "ip.checksum",
    ip_src = "ip.src",
    ip_dst = "ip.dst",
    ip_cur_rt = "ip.cur_rt",
    ip_opt_type = "ip.opt.type",
    ip_opt_len = "ip.opt.len",
    ip6_version = "ipv6.version",
    ip6_tclass = "ipv6.tclass",
    ip6_flow = "ipv6.flow",
    ip6_plen = "ipv6.plen",
    ip6_nxt = "ipv6.nxt",
    ip6_hlim = "ipv6.hlim",
    ip6_src = "ipv6.src",
    ip6_dst = "ipv6.dst",
    ip6_jumbo = "ipv6.opt.jumbo",
    ip6_frag_offset = "ipv6.fraghdr.offset",
    tcp_srcport = "tcp.srcport",
    tcp_dstport = "tcp.dstport",
    tcp_seq = "tcp.seq_raw",
    tcp_ack = "tcp.ack_raw",
    tcp_hdr_len = "tcp.hdr_len",
    tcp_flags = "tcp.flags",
    tcp_fin = "tcp.flags.fin",
    tcp_syn = "tcp.flags.syn",
    tcp_rst = "tcp.flags.reset",
    tcp_psh = "tcp.flags.push",
    tcp_ack_flag = "tcp.flags.ack",
    tcp_urg = "tcp.flags.urg",
    tcp_ece = "tcp.flags.ece",
    tcp_cwr = "tcp.flags.cwr",
    tcp_ae = "tcp.flags.ae",
    tcp_window = "tcp.window_size_value",
    tcp_checksum = "tcp.checksum",
    tcp_urgent = "tcp.urgent_pointer",
    tcp_option_kind = "tcp.option_kind",
    tcp_option_len = "tcp.option_len",
    tcp_mss = "tcp.options.mss_val",
    tcp_wscale = "tcp.options.wscale.shift",
    tcp_sack_perm = "tcp.options.sack_perm",
    tcp_tsval = "tcp.options.timestamp.tsval",
    tcp_tsecr = "tcp.options.timestamp.tsecr",
    tcp_len = "tcp.len",
    udp_srcport = "udp.srcport",
    udp_dstport = "udp.dstport",
    udp_length = "udp.length",
    udp_checksum = "udp.checksum",
}

/// One tshark row (one frame).
struct Row<'a> {
    /// 1-based frame number.
    frame: usize,
    cols: &'a [String],
}

impl<'a> Row<'a> {
    fn raw(&self, f: F) -> &'a str {
        self.cols.get(f as usize).map_or("", String::as_str)
    }

    /// All occurrences (outermost first).
    fn all(&self, f: F) -> Vec<&'a str> {
        let s = self.raw(f);
        if s.is_empty() { Vec::new() } else { s.split(',').collect() }
    }

    /// The first (outermost) occurrence.
    fn first(&self, f: F) -> Option<&'a str> {
        self.all(f).into_iter().next()
    }
}

/// Whether a frame yields a record of some type.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Want {
    #[default]
    No,
    Yes,
    /// tshark gives no oracle for it (see [`expect`]): a record may exist and is not compared.
    Unknown,
}

impl From<bool> for Want {
    fn from(b: bool) -> Self {
        if b { Want::Yes } else { Want::No }
    }
}

/// Where our host dissection ends for a frame, derived from tshark's layer stack.
#[derive(Default)]
struct Expect {
    eth: bool,
    /// Bytes of Ethernet header plus VLAN tags in front of the IP header.
    l2_len: u64,
    ipv4: bool,
    /// The IPv4 total length is below the header length: tshark stops dissecting after it.
    ipv4_bogus_len: bool,
    ipv6: bool,
    /// tshark's names of the IP extension headers between the IP header and the transport.
    ext: Vec<&'static str>,
    tcp: Want,
    udp: Want,
    /// Number of IPv4 / TCP layers in the whole stack (tunnels, ICMP-quoted headers).
    ipv4_layers: usize,
    tcp_layers: usize,
}

/// IP extension headers that etherparse walks, by tshark protocol name, with their numbers.
const EXT_HEADERS: &[(&str, u32)] =
    &[("ipv6.hopopts", 0), ("ipv6.routing", 43), ("ipv6.fraghdr", 44), ("ah", 51), ("ipv6.dstopts", 60)];

fn num_of(row: &Row<'_>, f: F) -> Option<u64> {
    row.first(f).and_then(parse_num)
}

/// Bytes of the IP datagram (as its length field gives it) that are not in the capture
/// (snap length, or a length field pointing past the frame).
fn missing_ip_bytes(row: &Row<'_>, e: &Expect) -> u64 {
    let ip_total = if e.ipv4 { num_of(row, F::ip_len) } else { num_of(row, F::ip6_plen).map(|p| p + 40) };
    (e.l2_len + ip_total.unwrap_or(0)).saturating_sub(num_of(row, F::cap_len).unwrap_or(0))
}

fn expect(row: &Row<'_>) -> Expect {
    let stack: Vec<&str> = row.raw(F::protocols).split(':').collect();
    let mut e = Expect {
        ipv4_layers: stack.iter().filter(|&&p| p == "ip").count(),
        tcp_layers: stack.iter().filter(|&&p| p == "tcp").count(),
        ..Expect::default()
    };
    // etherparse needs the 14-byte Ethernet II header (802.3 frames are sliced the same way).
    if stack.first() != Some(&"eth") || num_of(row, F::cap_len).unwrap_or(0) < 14 {
        return e;
    }
    e.eth = true;
    e.l2_len = 14;
    let mut i = 1;
    // etherparse follows 0x8100, 0x88a8 and 0x9100 tags, at most three of them.
    let mut tags = 0;
    loop {
        if stack.get(i) != Some(&"ethertype") {
            return e;
        }
        i += 1;
        match stack.get(i) {
            Some(&"vlan" | &"ieee8021ad") if tags < 3 => {
                tags += 1;
                e.l2_len += 4;
                i += 1;
            }
            _ => break,
        }
    }
    match stack.get(i) {
        Some(&"ip") => {
            // A version other than 4 or a header length below 20 bytes: tshark shows the bogus
            // field and stops; etherparse rejects the header, so there is no IPv4 record.
            if num_of(row, F::ip_version) != Some(4) || num_of(row, F::ip_hdr_len).is_none_or(|l| l < 20) {
                return e;
            }
            e.ipv4 = true;
            // A total length below the header length: tshark prints it and stops ("Bogus IP
            // length"); etherparse (lax) takes the captured bytes as the payload. Whether there
            // is a transport record then has no oracle.
            if num_of(row, F::ip_len) < num_of(row, F::ip_hdr_len) {
                e.ipv4_bogus_len = true;
                e.tcp = Want::Unknown;
                e.udp = Want::Unknown;
                return e;
            }
        }
        Some(&"ipv6") => e.ipv6 = true,
        _ => return e,
    }
    i += 1;
    while let Some(&(name, _)) = stack.get(i).and_then(|p| EXT_HEADERS.iter().find(|(n, _)| n == p)) {
        e.ext.push(name);
        i += 1;
    }
    let frag_offset = if e.ipv4 {
        num_of(row, F::ip_frag_offset)
    } else if e.ext.contains(&"ipv6.fraghdr") {
        num_of(row, F::ip6_frag_offset)
    } else {
        None
    };
    // A non-first fragment has no transport header.
    if frag_offset.is_some_and(|o| o != 0) {
        return e;
    }
    // A first fragment (offset 0, more fragments set) still starts with the transport header,
    // which the host decodes like tshark does (e.g. dns/zeek_dns-edns-ecs.pcap frames 53, 58, 62).
    match stack.get(i) {
        // tshark shows what it can of a TCP header that is cut short (by the capture or by the
        // IP length); etherparse needs the whole header (data offset >= 5, all of it present).
        Some(&"tcp") => {
            let hdr_ok = num_of(row, F::tcp_hdr_len).is_some_and(|h| h >= 20);
            let len = num_of(row, F::tcp_len);
            if hdr_ok && len.is_some_and(|l| missing_ip_bytes(row, &e) <= l) {
                e.tcp = Want::Yes;
            }
        }
        Some(&"udp") => e.udp = Want::Yes,
        // tshark aborted inside an IPv6 extension header (e.g. an option TLV running past the
        // header) and never looked at what follows; etherparse only uses the header's length
        // field and goes on to the transport, for which tshark then gives no oracle.
        None if !e.ext.is_empty() && !row.raw(F::malformed).is_empty() => {
            e.tcp = Want::Unknown;
            e.udp = Want::Unknown;
        }
        _ => {}
    }
    e
}

/// Mismatches of one file.
struct Report {
    file: String,
    mismatches: Vec<String>,
    count: usize,
    /// Records compared, per record type.
    records: BTreeMap<&'static str, usize>,
    /// Frames for which tshark gives no oracle about a record (see [`Want::Unknown`]).
    unknown: usize,
}

impl Report {
    fn push(&mut self, msg: String) {
        self.count += 1;
        if self.mismatches.len() < MAX_PRINTED_PER_FILE {
            self.mismatches.push(msg);
        }
    }
}

/// The comparison of one record with one tshark row.
struct Check<'r> {
    rep: &'r mut Report,
    ty: &'static str,
    idx: usize,
    frame: usize,
}

impl Check<'_> {
    fn fail(&mut self, field: &str, ours: impl Display, theirs: impl Display) {
        let msg = format!(
            "{}: {} #{} (frame {}): {field}: ours {ours} vs tshark {theirs}",
            self.rep.file, self.ty, self.idx, self.frame
        );
        self.rep.push(msg);
    }

    /// An integer field (decimal or hex on tshark's side).
    fn num(&mut self, field: &str, ours: u64, theirs: Option<&str>) {
        match theirs.map(|t| (t, parse_num(t))) {
            Some((_, Some(t))) if t == ours => {}
            Some((t, _)) => self.fail(field, ours, t),
            None => self.fail(field, ours, "<absent>"),
        }
    }

    fn flag(&mut self, field: &str, ours: bool, theirs: Option<&str>) {
        self.num(field, u64::from(ours), theirs);
    }

    fn text(&mut self, field: &str, ours: &str, theirs: Option<&str>) {
        if Some(ours) != theirs {
            self.fail(field, ours, theirs.unwrap_or("<absent>"));
        }
    }

    /// A list of integers; with `prefix`, tshark's list may continue after ours (the same field
    /// of an encapsulated header follows the outer header's occurrences).
    fn list(&mut self, field: &str, ours: &[u64], theirs: &[&str], prefix: bool) {
        let t: Vec<Option<u64>> = theirs.iter().map(|s| parse_num(s)).collect();
        let o: Vec<Option<u64>> = ours.iter().map(|&v| Some(v)).collect();
        let ok = if prefix { t.starts_with(&o) } else { t == o };
        if !ok {
            self.fail(field, format!("{ours:?}"), format!("{theirs:?}"));
        }
    }

    /// An optional value that is 0 / false in the record when tshark shows no occurrence, the
    /// occurrence when there is one, and one of them when the option is repeated.
    fn opt(&mut self, field: &str, ours: u64, theirs: &[&str]) {
        let t: Vec<Option<u64>> = theirs.iter().map(|s| parse_num(s)).collect();
        let ok = if t.is_empty() { ours == 0 } else { t.contains(&Some(ours)) };
        if !ok {
            self.fail(field, ours, format!("{theirs:?}"));
        }
    }
}

/// A record type's timestamp, for alignment.
trait Stamped {
    fn ts(&self) -> i64;
}

macro_rules! stamped {
    ($($t:ty),*) => { $(impl Stamped for $t { fn ts(&self) -> i64 { self.timestamp } })* };
}
stamped!(Ethernet, IPv4, IPv6, Tcp, Udp);

/// Aligns our records of one type with the tshark rows that must (or, when unknown, may) yield
/// one, reporting missing and extra records, and calls `cmp` for every aligned pair.
fn align<T: Stamped>(
    rep: &mut Report,
    ty: &'static str,
    ours: &[T],
    rows: &[(&Row<'_>, &Expect, Want)],
    mut cmp: impl FnMut(&mut Check<'_>, &T, &Row<'_>, &Expect),
) {
    let sure = rows.iter().filter(|r| r.2 == Want::Yes).count();
    rep.unknown += rows.len() - sure;
    if ours.len() < sure || ours.len() > rows.len() {
        let msg = format!(
            "{}: {ty}: {} records, tshark expects {sure} (+{} unknown)",
            rep.file,
            ours.len(),
            rows.len() - sure
        );
        rep.push(msg);
    }
    let (mut i, mut j) = (0, 0);
    while i < ours.len() || j < rows.len() {
        let theirs = rows.get(j).map(|(r, _, _)| r.raw(F::time)).unwrap_or_default();
        let t_ns = rows.get(j).and_then(|(r, _, _)| parse_ns(r.raw(F::time)));
        match (ours.get(i), rows.get(j)) {
            (Some(o), Some((_, _, Want::Unknown))) if Some(o.ts()) == t_ns => {
                i += 1;
                j += 1;
            }
            (_, Some((_, _, Want::Unknown))) => j += 1,
            (Some(o), Some((row, e, _))) if Some(o.ts()) == t_ns => {
                *rep.records.entry(ty).or_default() += 1;
                cmp(&mut Check { rep, ty, idx: i, frame: row.frame }, o, row, e);
                i += 1;
                j += 1;
            }
            // Not aligned: skip the earlier side (or ours when tshark's time is unreadable).
            (Some(o), Some((row, _, _))) => {
                if t_ns.is_some_and(|t| t < o.ts()) {
                    let msg = format!("{}: {ty}: no record for frame {} (time {theirs})", rep.file, row.frame);
                    rep.push(msg);
                    j += 1;
                } else {
                    let msg = format!("{}: {ty} #{i}: extra record (time {} ns, tshark {theirs})", rep.file, o.ts());
                    rep.push(msg);
                    i += 1;
                }
            }
            (Some(o), None) => {
                rep.push(format!("{}: {ty} #{i}: extra record (time {} ns)", rep.file, o.ts()));
                i += 1;
            }
            (None, Some((row, _, _))) => {
                rep.push(format!("{}: {ty}: no record for frame {} (time {theirs})", rep.file, row.frame));
                j += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
}

/// The ports of the transport record a frame yields (the IP records' packet context), `None`
/// when that has no oracle.
fn ctx_ports(row: &Row<'_>, e: &Expect) -> Option<(&'static str, Option<String>, Option<String>)> {
    let first = |f: F| row.first(f).map(String::from);
    match (e.tcp, e.udp) {
        (Want::Unknown, _) | (_, Want::Unknown) => None,
        (Want::Yes, _) => Some(("tcp", first(F::tcp_srcport), first(F::tcp_dstport))),
        (_, Want::Yes) => Some(("udp", first(F::udp_srcport), first(F::udp_dstport))),
        _ => Some(("none", Some("0".into()), Some("0".into()))),
    }
}

fn compare_ports(c: &mut Check<'_>, ours: (u32, u32), row: &Row<'_>, e: &Expect) {
    if let Some((proto, sp, dp)) = ctx_ports(row, e) {
        c.num(&format!("src_port ({proto})"), ours.0.into(), sp.as_deref());
        c.num(&format!("dst_port ({proto})"), ours.1.into(), dp.as_deref());
    }
}

/// The IPv4 header's destination address: Wireshark shows the final destination of a strict or
/// loose source route option as `ip.dst` and the header's address as `ip.cur_rt`.
fn ipv4_dst<'a>(row: &Row<'a>, e: &Expect) -> Option<&'a str> {
    let cur_rt = if e.ipv4_layers == 1 { row.first(F::ip_cur_rt) } else { None };
    cur_rt.or_else(|| row.first(F::ip_dst))
}

/// The IP header's source and destination of the frame's network layer.
fn ctx_ips<'a>(row: &Row<'a>, e: &Expect) -> (Option<&'a str>, Option<&'a str>) {
    if e.ipv4 { (row.first(F::ip_src), ipv4_dst(row, e)) } else { (row.first(F::ip6_src), row.first(F::ip6_dst)) }
}

/// Our records of one capture.
struct Records {
    eth: Vec<Ethernet>,
    ip4: Vec<IPv4>,
    ip6: Vec<IPv6>,
    tcp: Vec<Tcp>,
    udp: Vec<Udp>,
}

/// Compares our records of `file` (after `tamper`, for the self-check) with tshark; `Err` is the
/// reason for skipping the file.
fn compare_file(file: &Path, tamper: fn(&mut Records)) -> Result<Report, String> {
    let name = file.strip_prefix(file.parent().and_then(Path::parent).unwrap_or(file)).unwrap_or(file);
    let mut rep = Report {
        file: name.display().to_string(),
        mismatches: Vec::new(),
        count: 0,
        records: BTreeMap::new(),
        unknown: 0,
    };
    let table = tshark_fields(file, FIELDS, TSHARK_PREFS).ok_or("tshark cannot read it")?;
    if table.is_empty() {
        return Err("tshark prints no packets".into());
    }
    let rows: Vec<Row<'_>> = table.iter().enumerate().map(|(i, cols)| Row { frame: i + 1, cols }).collect();
    if let Some(r) = rows.iter().find(|r| r.raw(F::encap) != "1") {
        return Err(format!("not Ethernet (frame {} has encapsulation type {:?})", r.frame, r.raw(F::encap)));
    }
    let expects: Vec<Expect> = rows.iter().map(expect).collect();

    let out = TempDir::new("oracle");
    // tshark runs with IP reassembly off: so do we (where the capture has fragments).
    let (dir, o) = netcap_tests::capture_without_defrag(file, &[], out.path());
    if !o.status.success() {
        rep.push(format!("{}: netcap capture failed: {}", rep.file, String::from_utf8_lossy(&o.stderr)));
        return Ok(rep);
    }
    let dir = dir.as_path();
    // The outermost packet's records; those of packets inside tunnels (`tunnel_depth` > 0) are
    // compared in `tunnels.rs`.
    fn outer<T>(v: Vec<T>, depth: impl Fn(&T) -> u32) -> Vec<T> {
        v.into_iter().filter(|r| depth(r) == 0).collect()
    }
    let mut recs = Records {
        eth: outer(records(dir, "Ethernet"), |r: &Ethernet| r.tunnel_depth),
        ip4: outer(records(dir, "IPv4"), |r: &IPv4| r.tunnel_depth),
        ip6: outer(records(dir, "IPv6"), |r: &IPv6| r.tunnel_depth),
        tcp: outer(records(dir, "TCP"), |r: &Tcp| r.tunnel_depth),
        udp: outer(records(dir, "UDP"), |r: &Udp| r.tunnel_depth),
    };
    tamper(&mut recs);
    let select = |want: fn(&Expect) -> Want| -> Vec<(&Row<'_>, &Expect, Want)> {
        rows.iter().zip(&expects).map(|(r, e)| (r, e, want(e))).filter(|x| x.2 != Want::No).collect()
    };

    align(&mut rep, "Ethernet", &recs.eth, &select(|e| Want::from(e.eth)), |c, r, row, _| {
        c.text("eth.src", &r.src_mac, row.first(F::eth_src));
        c.text("eth.dst", &r.dst_mac, row.first(F::eth_dst));
        // 802.3 frames carry a length where Ethernet II has the EtherType.
        let ty = if r.ethernet_type < 0x600 { ("eth.len", F::eth_len) } else { ("eth.type", F::eth_type) };
        c.num(ty.0, u64::from(r.ethernet_type), row.first(ty.1));
        let after_header = num_of(row, F::cap_len).unwrap_or(0).saturating_sub(14);
        c.num("frame.cap_len - 14", u64::from(r.payload_size), Some(&after_header.to_string()));
    });

    align(&mut rep, "IPv4", &recs.ip4, &select(|e| Want::from(e.ipv4)), |c, r, row, e| {
        c.num("ip.version", r.version.into(), row.first(F::ip_version));
        c.num("ip.hdr_len", u64::from(r.ihl) * 4, row.first(F::ip_hdr_len));
        c.num("ip.dsfield", r.tos.into(), row.first(F::ip_dsfield));
        if r.length == 0 {
            // TSO captures: Wireshark (`ip.tso_support`, on by default) replaces a zero total
            // length with the frame's length from the IP header on.
            let frame_len = num_of(row, F::frame_len).unwrap_or(0);
            c.num("ip.len (TSO: frame.len - l2)", frame_len.saturating_sub(e.l2_len), row.first(F::ip_len));
        } else {
            c.num("ip.len", r.length.into(), row.first(F::ip_len));
        }
        if e.ipv4_bogus_len {
            // tshark prints no field after a total length below the header length.
            return;
        }
        c.num("ip.id", r.id.into(), row.first(F::ip_id));
        c.num("ip.flags", r.flags.into(), row.first(F::ip_flags));
        c.num("ip.frag_offset", r.frag_offset.into(), row.first(F::ip_frag_offset));
        c.num("ip.ttl", r.ttl.into(), row.first(F::ip_ttl));
        c.num("ip.proto", r.protocol.into(), row.first(F::ip_proto));
        c.num("ip.checksum", r.checksum.into(), row.first(F::ip_checksum));
        c.text("ip.src", &r.src_ip, row.first(F::ip_src));
        c.text("ip.dst (ip.cur_rt)", &r.dst_ip, ipv4_dst(row, e));
        let types: Vec<u64> = r.options.iter().map(|o| u64::from(o.option_type)).collect();
        c.list("ip.opt.type", &types, &row.all(F::ip_opt_type), e.ipv4_layers > 1);
        // tshark has no length for the one-byte options (end-of-list, NOP).
        let lens: Vec<u64> =
            r.options.iter().filter(|o| o.option_type > 1).map(|o| u64::from(o.option_length)).collect();
        c.list("ip.opt.len", &lens, &row.all(F::ip_opt_len), e.ipv4_layers > 1);
        let hdr_len = u64::from(r.ihl) * 4;
        let ip_len = num_of(row, F::ip_len).unwrap_or(0);
        let payload = ip_len.saturating_sub(missing_ip_bytes(row, e)).saturating_sub(hdr_len);
        c.num("ip.len - ip.hdr_len (captured)", r.payload_size.into(), Some(&payload.to_string()));
        compare_ports(c, (r.src_port, r.dst_port), row, e);
    });

    align(&mut rep, "IPv6", &recs.ip6, &select(|e| Want::from(e.ipv6)), |c, r, row, e| {
        c.num("ipv6.version", r.version.into(), row.first(F::ip6_version));
        c.num("ipv6.tclass", r.traffic_class.into(), row.first(F::ip6_tclass));
        c.num("ipv6.flow", r.flow_label.into(), row.first(F::ip6_flow));
        c.num("ipv6.plen", r.length.into(), row.first(F::ip6_plen));
        c.num("ipv6.nxt", r.next_header.into(), row.first(F::ip6_nxt));
        c.num("ipv6.hlim", r.hop_limit.into(), row.first(F::ip6_hlim));
        c.text("ipv6.src", &r.src_ip, row.first(F::ip6_src));
        c.text("ipv6.dst", &r.dst_ip, row.first(F::ip6_dst));
        let plen = num_of(row, F::ip6_plen).unwrap_or(0);
        let payload = if plen == 0 && r.next_header == 0 {
            // A jumbogram (RFC 2675): the length is in the hop-by-hop jumbo payload option.
            let captured = num_of(row, F::cap_len).unwrap_or(0).saturating_sub(e.l2_len + 40);
            num_of(row, F::ip6_jumbo).map_or(captured, |j| j.min(captured))
        } else {
            (plen + 40).saturating_sub(missing_ip_bytes(row, e)).saturating_sub(40)
        };
        c.num("ipv6.plen (captured)", r.payload_size.into(), Some(&payload.to_string()));
        let ours: Vec<u64> = r.extension_headers.iter().map(|&h| u64::from(h)).collect();
        let theirs: Vec<String> =
            e.ext.iter().filter_map(|n| EXT_HEADERS.iter().find(|(x, _)| x == n)).map(|(_, v)| v.to_string()).collect();
        c.list("extension headers (layer stack)", &ours, &theirs.iter().map(String::as_str).collect::<Vec<_>>(), false);
        compare_ports(c, (r.src_port, r.dst_port), row, e);
    });

    align(&mut rep, "TCP", &recs.tcp, &select(|e| e.tcp), |c, r, row, e| {
        c.num("tcp.srcport", r.src_port.into(), row.first(F::tcp_srcport));
        c.num("tcp.dstport", r.dst_port.into(), row.first(F::tcp_dstport));
        c.num("tcp.seq_raw", r.seq_num.into(), row.first(F::tcp_seq));
        c.num("tcp.ack_raw", r.ack_num.into(), row.first(F::tcp_ack));
        c.num("tcp.hdr_len", u64::from(r.data_offset) * 4, row.first(F::tcp_hdr_len));
        let bits = [r.fin, r.syn, r.rst, r.psh, r.ack, r.urg, r.ece, r.cwr, r.ns];
        let flags = bits.iter().enumerate().fold(0u64, |acc, (i, &b)| acc | (u64::from(b) << i));
        // tshark's 12-bit field includes the three reserved bits, which the record does not carry.
        let t_flags = row.first(F::tcp_flags).and_then(parse_num).map(|f| (f & 0x1ff).to_string());
        c.num("tcp.flags & 0x1ff", flags, t_flags.as_deref());
        c.flag("tcp.flags.fin", r.fin, row.first(F::tcp_fin));
        c.flag("tcp.flags.syn", r.syn, row.first(F::tcp_syn));
        c.flag("tcp.flags.reset", r.rst, row.first(F::tcp_rst));
        c.flag("tcp.flags.push", r.psh, row.first(F::tcp_psh));
        c.flag("tcp.flags.ack", r.ack, row.first(F::tcp_ack_flag));
        c.flag("tcp.flags.urg", r.urg, row.first(F::tcp_urg));
        c.flag("tcp.flags.ece", r.ece, row.first(F::tcp_ece));
        c.flag("tcp.flags.cwr", r.cwr, row.first(F::tcp_cwr));
        c.flag("tcp.flags.ae", r.ns, row.first(F::tcp_ae));
        c.num("tcp.window_size_value", r.window.into(), row.first(F::tcp_window));
        c.num("tcp.checksum", r.checksum.into(), row.first(F::tcp_checksum));
        c.num("tcp.urgent_pointer", r.urgent.into(), row.first(F::tcp_urgent));
        let nested = e.tcp_layers > 1;
        let mut kinds: Vec<u64> = r.options.iter().map(|o| u64::from(o.option_type)).collect();
        // tshark does not stop at end-of-list: it shows every zero byte of the padding after it
        // as another end-of-list option.
        let zero_padding = r.padding.iter().all(|&b| b == 0);
        if zero_padding {
            kinds.extend(r.padding.iter().map(|_| 0));
        }
        c.list("tcp.option_kind (+ padding)", &kinds, &row.all(F::tcp_option_kind), nested || !zero_padding);
        let lens: Vec<u64> =
            r.options.iter().filter(|o| o.option_type > 1).map(|o| u64::from(o.option_length)).collect();
        c.list("tcp.option_len", &lens, &row.all(F::tcp_option_len), nested);
        // The option data in the list, decoded, against tshark's decoded options.
        let data = |kind: u32, len: usize| {
            r.options.iter().filter(move |o| o.option_type == kind && o.option_data.len() == len)
        };
        let be = |b: &[u8]| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        let mss: Vec<u64> = data(2, 2).map(|o| be(&o.option_data)).collect();
        c.list("tcp.options.mss_val (option list)", &mss, &row.all(F::tcp_mss), nested);
        let ws: Vec<u64> = data(3, 1).map(|o| be(&o.option_data)).collect();
        c.list("tcp.options.wscale.shift (option list)", &ws, &row.all(F::tcp_wscale), nested);
        let tsval: Vec<u64> = data(8, 8).map(|o| be(&o.option_data[..4])).collect();
        c.list("tcp.options.timestamp.tsval (option list)", &tsval, &row.all(F::tcp_tsval), nested);
        let tsecr: Vec<u64> = data(8, 8).map(|o| be(&o.option_data[4..])).collect();
        c.list("tcp.options.timestamp.tsecr (option list)", &tsecr, &row.all(F::tcp_tsecr), nested);
        if !nested {
            c.opt("tcp.options.mss_val", r.mss.into(), &row.all(F::tcp_mss));
            c.opt("tcp.options.wscale.shift", r.window_scale.into(), &row.all(F::tcp_wscale));
            c.opt("tcp.options.timestamp.tsval", r.ts_val.into(), &row.all(F::tcp_tsval));
            c.opt("tcp.options.timestamp.tsecr", r.ts_ecr.into(), &row.all(F::tcp_tsecr));
            // Printed as the option's bytes (`0402`) when present.
            let sack_perm = !row.all(F::tcp_sack_perm).is_empty();
            c.flag("tcp.options.sack_perm", r.sack_permitted, Some(if sack_perm { "1" } else { "0" }));
        }
        // tshark's length comes from the IP header; ours counts the captured bytes.
        let t_len = num_of(row, F::tcp_len).map(|l| l.saturating_sub(missing_ip_bytes(row, e)).to_string());
        c.num("tcp.len (captured)", r.payload_size.into(), t_len.as_deref());
        let (src, dst) = ctx_ips(row, e);
        c.text("src_ip", &r.src_ip, src);
        c.text("dst_ip", &r.dst_ip, dst);
    });

    align(&mut rep, "UDP", &recs.udp, &select(|e| e.udp), |c, r, row, e| {
        c.num("udp.srcport", r.src_port.into(), row.first(F::udp_srcport));
        c.num("udp.dstport", r.dst_port.into(), row.first(F::udp_dstport));
        c.num("udp.length", r.length.into(), row.first(F::udp_length));
        c.num("udp.checksum", r.checksum.into(), row.first(F::udp_checksum));
        let (src, dst) = ctx_ips(row, e);
        c.text("src_ip", &r.src_ip, src);
        c.text("dst_ip", &r.dst_ip, dst);
    });
    Ok(rep)
}

#[test]
fn l2_l4_records_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let files = corpus_files(DIRS);
    if files.is_empty() {
        return;
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(PathBuf, Result<Report, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(f) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let r = compare_file(f, |_| {});
                    results.lock().expect("no panics while locked").push((f.clone(), r));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("no panics while locked");
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let (mut compared, mut unknown, mut mismatches, mut bad_files) = (0, 0, 0, 0);
    let mut per_type: BTreeMap<&str, usize> = BTreeMap::new();
    for (file, r) in &results {
        match r {
            Err(why) => eprintln!("oracle: skipping {}: {why}", file.display()),
            Ok(rep) => {
                compared += 1;
                unknown += rep.unknown;
                for (ty, n) in &rep.records {
                    *per_type.entry(ty).or_default() += n;
                }
                if rep.count > 0 {
                    bad_files += 1;
                    mismatches += rep.count;
                    for m in &rep.mismatches {
                        eprintln!("MISMATCH {m}");
                    }
                    if rep.count > rep.mismatches.len() {
                        eprintln!("MISMATCH {}: ... {} more", rep.file, rep.count - rep.mismatches.len());
                    }
                }
            }
        }
    }
    let records: usize = per_type.values().sum();
    eprintln!(
        "oracle: {compared} files, {records} records compared with tshark {per_type:?} \
         ({unknown} frames have no oracle for a record); {mismatches} mismatches in {bad_files} files"
    );
    assert_eq!(mismatches, 0, "{mismatches} mismatches with tshark in {bad_files} files (see above)");
    assert!(compared > 50, "only {compared} files were compared");
    assert!(records > 10_000, "only {records} records were compared");
    for ty in ["Ethernet", "IPv4", "IPv6", "TCP", "UDP"] {
        let n = per_type.get(ty).copied().unwrap_or(0);
        assert!(n >= 100, "only {n} {ty} records were compared");
    }
}

/// The comparison itself notices wrong, missing and extra records.
#[test]
fn oracle_comparison_detects_differences() {
    if !have_tshark() {
        return;
    }
    let Some(file) = corpus_files(&["tcp"]).into_iter().find(|f| f.ends_with("zeek_communityid_tcp.pcap")) else {
        return;
    };
    let clean = compare_file(&file, |_| {}).expect("an Ethernet capture");
    assert_eq!(clean.count, 0, "{:?}", clean.mismatches);
    let rep = compare_file(&file, |r| {
        r.tcp[0].mss += 1;
        r.tcp[1].options.pop();
        r.ip4[2].ttl ^= 1;
        r.ip4[3].dst_ip.push('0');
        r.eth.remove(1);
        let extra = r.tcp[4].clone();
        r.tcp.insert(4, extra);
    })
    .expect("an Ethernet capture");
    let all = rep.mismatches.join("\n");
    for needle in [
        "TCP #0 (frame 1): tcp.options.mss_val",
        "TCP #1 (frame 2): tcp.option_kind",
        "IPv4 #2 (frame 3): ip.ttl",
        "IPv4 #3 (frame 4): ip.dst",
        "Ethernet: no record for frame 2",
        "TCP: 13 records, tshark expects 12",
    ] {
        assert!(all.contains(needle), "{needle:?} not reported in:\n{all}");
    }
}
