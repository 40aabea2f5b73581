//! PROFINETDCP and PROFINETRT records agree field by field with tshark (`pn_rt.*`, `pn_dcp.*`,
//! `pn_io.*` alarm header fields): on every corpus capture in which tshark dissects `pn_rt`, and
//! on frames built here for what the corpus lacks (hello, get/set, VLAN tags, RTC3/RTC1 ranges,
//! high-priority alarms, alias names, odd block lengths). Records and tshark rows are compared in
//! packet order; the counts must match exactly. Determinism: the same records for 1 and 3 workers.

use netcap_proto::v1;
use netcap_tests::pcap::write_pcap;
use netcap_tests::{TempDir, files_with, have_tshark, parse_ns, parse_num, records, tshark_fields};
use std::path::Path;

const FIELDS: &[&str] = &[
    "frame.time_epoch",
    "frame.len",
    "vlan.id",
    "eth.src",
    "eth.dst",
    "pn_rt.frame_id",
    "pn_rt.cycle_counter",
    "pn_rt.ds",
    "pn_rt.transfer_status",
    "_ws.col.Info",
    "pn_dcp.service_id",
    "pn_dcp.service_type",
    "pn_dcp.xid",
    "pn_dcp.response_delay",
    "pn_dcp.data_length",
    "pn_dcp.option",
    "pn_dcp.block_length",
    "pn_dcp.suboption_device_nameofstation",
    "pn_dcp.suboption_ip_ip",
    "pn_dcp.suboption_ip_subnetmask",
    "pn_dcp.suboption_ip_standard_gateway",
    "pn_dcp.suboption_vendor_id",
    "pn_dcp.suboption_device_id",
    "pn_dcp.suboption_device_role",
    "pn_dcp.suboption_device_aliasname",
    "pn_dcp.suboption_device_devicevendorvalue",
    "pn_io.alarm_dst_endpoint",
    "pn_io.alarm_src_endpoint",
    "pn_io.pdu_type.type",
    "pn_io.pdu_type.version",
    "pn_io.window_size",
    "pn_io.tack",
    "pn_io.send_seq_num",
    "pn_io.ack_seq_num",
    "pn_io.var_part_len",
];

/// One tshark row by field name.
struct P<'a>(&'a [String]);

impl P<'_> {
    fn s(&self, f: &str) -> &str {
        let i = FIELDS.iter().position(|n| *n == f).unwrap_or_else(|| panic!("field {f} not listed"));
        self.0.get(i).map_or("", |s| s.as_str())
    }
    /// A number in decimal, "0" when tshark shows none.
    fn n(&self, f: &str) -> String {
        parse_num(self.s(f).split(',').next().unwrap_or("")).unwrap_or(0).to_string()
    }
    fn last(&self, f: &str) -> String {
        self.s(f).rsplit(',').next().unwrap_or("").to_string()
    }
    fn nums(&self, f: &str) -> String {
        self.s(f).split(',').filter_map(parse_num).map(|v| v.to_string()).collect::<Vec<_>>().join(",")
    }
    /// Ethernet context: innermost addresses, tunnel depth from the Ethernet headers seen.
    fn ctx(&self) -> Vec<String> {
        let depth = self.s("eth.src").split(',').count().saturating_sub(1);
        vec![
            parse_ns(self.s("frame.time_epoch")).unwrap_or(0).to_string(),
            self.last("eth.src"),
            self.last("eth.dst"),
            depth.to_string(),
            self.n("pn_rt.frame_id"),
        ]
    }
    /// `Len:  40` of the summary (the data length of a real-time frame); where a sub-dissector
    /// (pn_ptcp, pn_io alarms) rewrote the summary, the frame length less the Ethernet header
    /// (with its VLAN tags) and the FrameID, which is what the summary's length is.
    fn info_len(&self) -> String {
        let i = self.s("_ws.col.Info");
        if let Some((_, r)) = i.split_once("Len:") {
            return r.trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap_or("").to_string();
        }
        let tags = if self.s("vlan.id").is_empty() { 0 } else { self.s("vlan.id").split(',').count() };
        let len = parse_num(self.s("frame.len")).unwrap_or(0) as usize;
        len.saturating_sub(14 + 4 * tags + 2).to_string()
    }
}

fn is_dcp(id: u64) -> bool {
    (0xfefc..=0xfeff).contains(&id)
}

fn want_dcp(p: &P<'_>) -> Vec<String> {
    let mut r = p.ctx();
    let id = parse_num(p.s("pn_rt.frame_id")).unwrap_or(0);
    let get_req = p.n("pn_dcp.service_id") == "3" && p.n("pn_dcp.service_type") == "0";
    r.extend([
        p.n("pn_dcp.service_id"),
        p.n("pn_dcp.service_type"),
        p.n("pn_dcp.xid"),
        // Identify requests carry a response delay, the others a reserved field.
        if id == 0xfefe { p.n("pn_dcp.response_delay") } else { "0".into() },
        p.n("pn_dcp.data_length"),
        p.nums("pn_dcp.option"),
        if get_req { String::new() } else { p.nums("pn_dcp.block_length") },
        p.s("pn_dcp.suboption_device_nameofstation").to_string(),
        p.s("pn_dcp.suboption_ip_ip").to_string(),
        p.s("pn_dcp.suboption_ip_subnetmask").to_string(),
        p.s("pn_dcp.suboption_ip_standard_gateway").to_string(),
        p.n("pn_dcp.suboption_vendor_id"),
        p.n("pn_dcp.suboption_device_id"),
        p.n("pn_dcp.suboption_device_role"),
        p.s("pn_dcp.suboption_device_aliasname").to_string(),
        p.s("pn_dcp.suboption_device_devicevendorvalue").to_string(),
    ]);
    r
}

fn got_dcp(m: &v1::Profinetdcp) -> Vec<String> {
    let mut opts = Vec::new();
    for b in &m.blocks {
        opts.push(b.option.to_string());
        if (b.option, b.suboption) == (2, 5) {
            opts.extend(m.device_options.iter().map(|o| o.option.to_string()));
        }
    }
    opts.extend(m.requested_options.iter().map(|o| o.option.to_string()));
    vec![
        m.timestamp.to_string(),
        m.src_mac.clone(),
        m.dst_mac.clone(),
        m.tunnel_depth.to_string(),
        m.frame_id.to_string(),
        m.service_id.to_string(),
        m.service_type.to_string(),
        m.xid.to_string(),
        m.response_delay.to_string(),
        m.data_length.to_string(),
        opts.join(","),
        m.blocks.iter().map(|b| b.length.to_string()).collect::<Vec<_>>().join(","),
        m.name_of_station.clone(),
        m.ip_address.clone(),
        m.subnet_mask.clone(),
        m.gateway.clone(),
        m.vendor_id.to_string(),
        m.device_id.to_string(),
        m.device_role.to_string(),
        m.alias_name.clone(),
        m.vendor_value.clone(),
    ]
}

fn want_rt(p: &P<'_>) -> Vec<String> {
    let mut r = p.ctx();
    r.push(p.info_len());
    r.extend(["pn_rt.cycle_counter", "pn_rt.ds", "pn_rt.transfer_status"].map(|f| p.n(f)));
    r.extend(
        [
            "pn_io.alarm_dst_endpoint",
            "pn_io.alarm_src_endpoint",
            "pn_io.pdu_type.type",
            "pn_io.pdu_type.version",
            "pn_io.window_size",
            "pn_io.tack",
            "pn_io.send_seq_num",
            "pn_io.ack_seq_num",
            "pn_io.var_part_len",
        ]
        .map(|f| p.n(f)),
    );
    r
}

fn got_rt(m: &v1::Profinetrt) -> Vec<String> {
    [
        m.timestamp.to_string(),
        m.src_mac.clone(),
        m.dst_mac.clone(),
        m.tunnel_depth.to_string(),
        m.frame_id.to_string(),
        m.data_length.to_string(),
    ]
    .into_iter()
    .chain(
        [
            m.cycle_counter,
            m.data_status,
            m.transfer_status,
            m.alarm_dst_endpoint,
            m.alarm_src_endpoint,
            m.pdu_type,
            m.pdu_version,
            m.window_size,
            m.tack,
            m.send_seq_num,
            m.ack_seq_num,
            m.var_part_len,
        ]
        .map(|v| v.to_string()),
    )
    .collect()
}

/// Compares one capture; returns the DCP and RT records compared.
fn check(f: &Path, problems: &mut Vec<String>) -> (usize, usize) {
    let Some(rows) = tshark_fields(f, FIELDS, &["-Y", "pn_rt"]) else { return (0, 0) };
    let (out, o) = netcap_tests::default_capture(f);
    let name = f.display();
    if !o.status.success() {
        problems.push(format!("{name}: netcap failed: {}", String::from_utf8_lossy(&o.stderr)));
        return (0, 0);
    }
    let (mut wd, mut wr) = (Vec::new(), Vec::new());
    for r in &rows {
        let p = P(r);
        if is_dcp(parse_num(p.s("pn_rt.frame_id")).unwrap_or(0)) {
            wd.push(want_dcp(&p));
        } else {
            wr.push(want_rt(&p));
        }
    }
    let gd: Vec<_> = records::<v1::Profinetdcp>(&out, "PROFINETDCP").iter().map(got_dcp).collect();
    let gr: Vec<_> = records::<v1::Profinetrt>(&out, "PROFINETRT").iter().map(got_rt).collect();
    for (kind, got, want) in [("PROFINETDCP", &gd, &wd), ("PROFINETRT", &gr, &wr)] {
        if got.len() != want.len() {
            problems.push(format!("{name}: {} {kind} records, tshark {}", got.len(), want.len()));
        }
        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            if g != w {
                problems.push(format!("{name}: {kind} #{i}: ours {g:?}\n    tshark {w:?}"));
            }
        }
    }
    (gd.len().min(wd.len()), gr.len().min(wr.len()))
}

#[test]
fn profinet_records_agree_with_tshark_on_the_corpus() {
    if !have_tshark() {
        return;
    }
    let files = files_with(&["pn_rt"]);
    if files.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    let (mut dcp, mut rt) = (0, 0);
    for f in &files {
        let (d, r) = check(f, &mut problems);
        eprintln!("{}: {d} PROFINETDCP, {r} PROFINETRT compared", f.display());
        dcp += d;
        rt += r;
    }
    problems.truncate(30);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(dcp > 0 && rt > 0, "no PROFINET record compared on the corpus");
}

const DST: [u8; 6] = [0x01, 0x0e, 0xcf, 0x00, 0x00, 0x00];
const SRC: [u8; 6] = [0x00, 0x1b, 0x1b, 0x12, 0x34, 0x56];
const DEV: [u8; 6] = [0x00, 0x0e, 0x8c, 0xab, 0xcd, 0xef];

/// An Ethernet frame (optionally 802.1Q-tagged) with EtherType 0x8892, padded to 60 bytes.
fn frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, pn: &[u8]) -> Vec<u8> {
    let mut f = [dst, src].concat();
    if let Some(v) = vlan {
        f.extend([0x81, 0x00]);
        f.extend((0xc000 | v).to_be_bytes());
    }
    f.extend([0x88, 0x92]);
    f.extend(pn);
    f.resize(f.len().max(60), 0);
    f
}

/// A DCP PDU: FrameID, service id/type, xid, response delay, then the blocks.
fn dcp(id: u16, sid: u8, st: u8, xid: u32, delay: u16, blocks: &[u8]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend([sid, st]);
    v.extend(xid.to_be_bytes());
    v.extend(delay.to_be_bytes());
    v.extend((blocks.len() as u16).to_be_bytes());
    v.extend(blocks);
    v
}

/// One block: option, suboption, length, value, a padding byte after an odd length.
fn block(opt: u8, sub: u8, v: &[u8]) -> Vec<u8> {
    let mut b = vec![opt, sub];
    b.extend((v.len() as u16).to_be_bytes());
    b.extend(v);
    if v.len() % 2 == 1 {
        b.push(0);
    }
    b
}

fn with_info(info: u16, v: &[u8]) -> Vec<u8> {
    [&info.to_be_bytes()[..], v].concat()
}

fn ip_value() -> Vec<u8> {
    [[10, 1, 2, 3], [255, 255, 0, 0], [10, 1, 0, 1]].concat()
}

/// The synthesized frames: DCP hello, identify request (VLAN) and response, set and get
/// requests and responses; RTC3, RTC1, RTC1 legacy (VLAN) cyclic frames, a high-priority alarm,
/// a PTCP delay request.
fn profinet_frames() -> Vec<Vec<u8>> {
    let hello = [
        block(2, 2, &with_info(0, b"plc-hello")),
        block(1, 2, &with_info(1, &ip_value())),
        block(2, 3, &with_info(0, &[0x00, 0x2a, 0x01, 0x01])),
        block(2, 4, &with_info(0, &[0x02, 0x00])),
        block(6, 1, &with_info(0, &[0x00, 0x01])),
    ]
    .concat();
    let ident_req = [block(2, 6, b"port-001.plc1x")].concat();
    let ident_res = [
        block(2, 2, &with_info(0, b"io-dev")),
        block(2, 5, &with_info(0, &[1, 2, 2, 1, 2, 2, 2, 6])),
        block(2, 1, &with_info(0, b"ET 200SP")),
        block(2, 3, &with_info(0, &[0x00, 0x2a, 0x03, 0x13])),
        block(2, 4, &with_info(0, &[0x01, 0x00])),
        block(2, 6, &with_info(0, b"port-001.io-devx")),
        block(1, 2, &with_info(0, &ip_value())),
    ]
    .concat();
    let set_req =
        [block(2, 2, &with_info(1, b"renamed-dev")), block(1, 2, &with_info(1, &ip_value())), block(5, 2, &[0, 1])]
            .concat();
    let set_res = [block(5, 4, &[2, 2, 0])].concat();
    let get_req = [2u8, 2, 1, 2, 2, 3].to_vec();
    let get_res =
        [block(2, 2, &with_info(0, b"io-dev")), block(2, 3, &with_info(0, &[0x01, 0x5a, 0x00, 0x03]))].concat();
    let cyclic = |id: u16, n: usize, cc: u16, ds: u8| {
        let mut v = id.to_be_bytes().to_vec();
        v.extend((0..n).map(|i| i as u8));
        v.extend(cc.to_be_bytes());
        v.extend([ds, 0]);
        v
    };
    let alarm = [0xfc, 0x01, 0x80, 0x01, 0x80, 0x02, 0x11, 0x03, 0x00, 0x05, 0xff, 0xfe, 0x00, 0x00].to_vec();
    let ptcp = [0xff, 0x40].iter().copied().chain([0u8; 40]).collect::<Vec<_>>();
    vec![
        frame(DST, DEV, None, &dcp(0xfefc, 6, 0, 0x0100_0001, 0, &hello)),
        frame(DST, SRC, Some(5), &dcp(0xfefe, 5, 0, 0x0200_0002, 0x00ff, &ident_req)),
        frame(SRC, DEV, Some(5), &dcp(0xfeff, 5, 1, 0x0200_0002, 0, &ident_res)),
        frame(DEV, SRC, None, &dcp(0xfefd, 4, 0, 0x0300_0003, 0, &set_req)),
        frame(SRC, DEV, None, &dcp(0xfefd, 4, 1, 0x0300_0003, 0, &set_res)),
        frame(DEV, SRC, None, &dcp(0xfefd, 3, 0, 0x0400_0004, 0, &get_req)),
        frame(SRC, DEV, None, &dcp(0xfefd, 3, 1, 0x0400_0004, 0, &get_res)),
        frame(DEV, SRC, None, &cyclic(0x0100, 40, 0x1234, 0x35)),
        frame(DEV, SRC, None, &cyclic(0x8001, 60, 0x0020, 0x34)),
        frame(SRC, DEV, Some(7), &cyclic(0xc001, 40, 0xfff0, 0x15)),
        frame(DEV, SRC, None, &alarm),
        frame(DST, DEV, None, &ptcp),
    ]
}

#[test]
fn synthesized_profinet_frames_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("profinet-synth");
    let t0 = 1_700_000_000_000_000_000i64;
    let pkts: Vec<_> =
        profinet_frames().into_iter().enumerate().map(|(i, f)| (t0 + i as i64 * 1_000_123_000, f)).collect();
    let p = dir.path().join("profinet.pcap");
    write_pcap(&p, 1, false, &pkts).expect("write pcap");
    if let Some(keep) = std::env::var_os("NETCAP_KEEP_SYNTH") {
        let _ = std::fs::copy(&p, Path::new(&keep).join("profinet.pcap"));
    }
    let mut problems = Vec::new();
    let (d, r) = check(&p, &mut problems);
    eprintln!("synthesized: {d} PROFINETDCP, {r} PROFINETRT compared");
    problems.truncate(30);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!((d, r), (7, 5));
}

/// The same records, in the same order, for 1 and 3 workers.
#[test]
fn profinet_records_are_deterministic_across_workers() {
    let files = files_with(&["pn_rt"]);
    let dir = TempDir::new("profinet-det");
    let t0 = 1_700_000_000_000_000_000i64;
    let pkts: Vec<_> = profinet_frames().into_iter().enumerate().map(|(i, f)| (t0 + i as i64 * 1_000, f)).collect();
    let synth = dir.path().join("profinet.pcap");
    write_pcap(&synth, 1, false, &pkts).expect("write pcap");
    for f in files.iter().map(|f| f.as_path()).chain([synth.as_path()]) {
        let mut outs = Vec::new();
        for w in ["1", "3"] {
            let out = dir.path().join(format!("w{w}"));
            let _ = std::fs::remove_dir_all(&out);
            let o = netcap_tests::netcap_cmd()
                .args(["capture", "-r"])
                .arg(f)
                .arg("-o")
                .arg(&out)
                .args(["--workers", w])
                .output()
                .expect("run netcap");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let d: Vec<_> = records::<v1::Profinetdcp>(&out, "PROFINETDCP");
            let r: Vec<_> = records::<v1::Profinetrt>(&out, "PROFINETRT");
            outs.push((d, r));
        }
        assert!(!outs[0].0.is_empty() || !outs[0].1.is_empty(), "{}: no PROFINET records", f.display());
        assert_eq!(outs[0], outs[1], "{}: records differ between 1 and 3 workers", f.display());
    }
}
