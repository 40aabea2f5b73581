//! DCERPC records (the `windows` stream decoder: TCP 135 and connections whose client begins
//! with a bind) agree with tshark on every corpus capture in which tshark dissects `dcerpc` over
//! TCP (not over SMB named pipes, which we do not follow): messages compared per direction in
//! order. Each PDU: version minor, type, flags, call id, auth length; and where the frame holds
//! that one PDU: the context id, opnum and object UUID of requests, the status of faults, the
//! limits, association group and presentation contexts (ids, interface UUIDs and versions,
//! transfer syntaxes) of binds and alter contexts, the secondary address, results and transfer
//! syntaxes of their acks, the reject reason of a bind nak.
//!
//! Alignment: the fragments after the first of a request or response are one record with it
//! (`fragments`), so tshark's PDUs without the first-fragment flag are counted into the message
//! before them. Times are not compared: tshark shows a PDU split over segments in the frame that
//! completes it, ours is timed by its first segment. The output is byte-identical with 1 and 3
//! workers.
//!
//! Deliberate differences ([`EXCUSED`]): a connection on a dynamic port whose capture begins
//! inside the association (no SYN, the client's first bytes are a request, not a bind or alter
//! context) is not taken by us, while tshark's heuristics find it; and a segment tshark takes for
//! a retransmission because its ACK was captured before it, whose PDU we do read (the server
//! answers that call).

use netcap_proto::v1;
use netcap_tests::{TempDir, files_with, have_tshark, parse_num, records, tshark_fields};
use std::collections::BTreeMap;
use std::path::Path;

type Seqs = BTreeMap<String, Vec<String>>;

/// (capture, connection direction, what differs, why).
const EXCUSED: &[(&str, &str, &str, &str)] = &[
    ("ndpi_kerberos.pcap", "172.16.8.201:49165>172.16.8.8:49155", "missing", "capture begins inside the association"),
    ("ndpi_kerberos.pcap", "172.16.8.8:49155>172.16.8.201:49165", "missing", "capture begins inside the association"),
    ("ndpi_kerberos.pcap", "172.16.8.201:49185>172.16.8.8:49155", "missing", "capture begins inside the association"),
    ("ndpi_kerberos.pcap", "172.16.8.8:49155>172.16.8.201:49185", "missing", "capture begins inside the association"),
    (
        "suricata-verify_dcerpc_zerologon.pcap",
        "172.16.0.10:50584>172.16.5.58:49668",
        "extra",
        "frame 419 (request, call 2) comes after its ACK: tshark calls it a retransmission and does not dissect it; the server answers call 2 in frame 420",
    ),
];

const FIELDS: [&str; 31] = [
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "dcerpc.ver_minor",
    "dcerpc.pkt_type",
    "dcerpc.cn_flags",
    "dcerpc.cn_call_id",
    "dcerpc.cn_auth_len",
    "dcerpc.cn_ctx_id",
    "dcerpc.opnum",
    "dcerpc.obj_id",
    "dcerpc.cn_status",
    "dcerpc.cn_max_xmit",
    "dcerpc.cn_max_recv",
    "dcerpc.cn_assoc_group",
    "dcerpc.cn_bind_to_uuid",
    "dcerpc.cn_bind_if_ver",
    "dcerpc.cn_bind_if_ver_minor",
    "dcerpc.cn_bind_trans_id",
    "dcerpc.cn_sec_addr",
    "dcerpc.cn_ack_result",
    "dcerpc.cn_ack_trans_id",
    "dcerpc.cn_reject_reason",
    "dcerpc.cn_frag_len",
    "smb.cmd",
    "smb2.cmd",
    "_ws.malformed",
];

fn col<'a>(row: &'a [String], name: &str) -> &'a str {
    let i = FIELDS.iter().position(|f| *f == name).expect("known field");
    row.get(i).map_or("", String::as_str)
}

use netcap_tests::{join_list as join, tshark_nums as nums};

/// A message: its per-PDU head, its details (when known) and its fragment count.
struct Msg {
    head: String,
    detail: Option<String>,
    frags: usize,
}

fn head(minor: &str, ty: &str, flags: u64, call: &str, auth: &str) -> String {
    format!("v5.{minor} type={ty} flags={flags} call={call} auth={auth}")
}

/// The details of a message of type `ty` from a one-PDU frame (lists as tshark gives them).
fn detail_theirs(ty: u64, c: &dyn Fn(&str) -> String) -> String {
    match ty {
        0 => format!("ctx={} op={} obj={}", c("dcerpc.cn_ctx_id"), c("dcerpc.opnum"), c("dcerpc.obj_id")),
        2 => format!("ctx={}", c("dcerpc.cn_ctx_id")),
        3 => format!("ctx={} status={}", c("dcerpc.cn_ctx_id"), nums(&c("dcerpc.cn_status"))),
        11 | 14 => format!(
            "max={}/{} group={} ctx={} if={} ver={}.{} ts={}",
            c("dcerpc.cn_max_xmit"),
            c("dcerpc.cn_max_recv"),
            nums(&c("dcerpc.cn_assoc_group")),
            c("dcerpc.cn_ctx_id"),
            c("dcerpc.cn_bind_to_uuid"),
            c("dcerpc.cn_bind_if_ver"),
            c("dcerpc.cn_bind_if_ver_minor"),
            c("dcerpc.cn_bind_trans_id"),
        ),
        12 | 15 => format!(
            "max={}/{} group={} addr={} results={} ts={}",
            c("dcerpc.cn_max_xmit"),
            c("dcerpc.cn_max_recv"),
            nums(&c("dcerpc.cn_assoc_group")),
            c("dcerpc.cn_sec_addr"),
            c("dcerpc.cn_ack_result"),
            c("dcerpc.cn_ack_trans_id"),
        ),
        13 => format!("reject={}", c("dcerpc.cn_reject_reason")),
        _ => String::new(),
    }
}

fn theirs(f: &Path) -> BTreeMap<String, Vec<Msg>> {
    let rows = tshark_fields(f, &FIELDS, &["-Y", "dcerpc && tcp"]).unwrap_or_default();
    let mut out: BTreeMap<String, Vec<Msg>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.len() == FIELDS.len()) {
        let protos = col(r, "frame.protocols");
        // DCE/RPC over SMB named pipes is not followed.
        if protos.contains(":smb") || protos.contains(":nbss") {
            continue;
        }
        let c = |n: &str| col(r, n).to_string();
        let (src, dst) =
            if c("ip.src").is_empty() { (c("ipv6.src"), c("ipv6.dst")) } else { (c("ip.src"), c("ip.dst")) };
        let key = format!("{src}:{}>{dst}:{}", c("tcp.srcport"), c("tcp.dstport"));
        let list = |n: &str| c(n).split(',').map(str::to_string).collect::<Vec<_>>();
        let (minor, ty, flags, call, auth) = (
            list("dcerpc.ver_minor"),
            list("dcerpc.pkt_type"),
            list("dcerpc.cn_flags"),
            list("dcerpc.cn_call_id"),
            list("dcerpc.cn_auth_len"),
        );
        let one = ty.len() == 1;
        let seq = out.entry(key).or_default();
        for k in 0..ty.len() {
            let t = parse_num(&ty[k]).unwrap_or(99);
            let fl = flags.get(k).and_then(|v| parse_num(v)).unwrap_or(0);
            let g = |v: &Vec<String>| v.get(k).cloned().unwrap_or_default();
            if matches!(t, 0 | 2)
                && fl & 1 == 0
                && let Some(m) = seq.last_mut()
            {
                m.frags += 1;
                continue;
            }
            let detail = one.then(|| detail_theirs(t, &c));
            seq.push(Msg { head: head(&g(&minor), &g(&ty), fl, &g(&call), &g(&auth)), detail, frags: 1 });
        }
    }
    out
}

fn detail_ours(r: &v1::Dcerpc) -> String {
    let cx = &r.contexts;
    match r.packet_type {
        0 => format!("ctx={} op={} obj={}", r.context_id, r.opnum, r.object_uuid),
        2 => format!("ctx={}", r.context_id),
        3 => format!("ctx={} status={}", r.context_id, r.status),
        11 | 14 => format!(
            "max={}/{} group={} ctx={} if={} ver={}.{} ts={}",
            r.max_xmit_frag,
            r.max_recv_frag,
            r.assoc_group,
            join(cx.iter().map(|c| c.context_id)),
            join(cx.iter().map(|c| c.interface_uuid.clone())),
            join(cx.iter().map(|c| c.interface_version)),
            join(cx.iter().map(|c| c.interface_version_minor)),
            join(cx.iter().flat_map(|c| c.transfer_syntaxes.iter().cloned())),
        ),
        12 | 15 => format!(
            "max={}/{} group={} addr={} results={} ts={}",
            r.max_xmit_frag,
            r.max_recv_frag,
            r.assoc_group,
            r.secondary_address,
            join(r.results.iter().map(|x| x.result)),
            join(r.results.iter().map(|x| x.transfer_syntax.clone())),
        ),
        13 => format!("reject={}", r.reject_reason),
        _ => String::new(),
    }
}

#[test]
fn dcerpc_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-dcerpc");
    let mut problems = Vec::new();
    let (mut n, mut n_detail, mut n_named, mut n_excused) = (0, 0, 0, 0);
    for f in files_with(&["dcerpc"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let t = theirs(&f);
        if t.is_empty() {
            continue;
        }
        let out = dir.path().join(format!("out-{name}"));
        // The same bytes with 3 workers.
        problems.extend(netcap_tests::capture_1_and_3_workers(
            &f,
            "DCERPC",
            &out,
            &dir.path().join(format!("out3-{name}")),
        ));
        let recs = records::<v1::Dcerpc>(&out, "DCERPC");
        n_named += recs.iter().filter(|r| !r.interface_name.is_empty()).count();
        let mut ours: BTreeMap<String, Vec<&v1::Dcerpc>> = BTreeMap::new();
        for r in &recs {
            ours.entry(format!("{}:{}>{}:{}", r.src_ip, r.src_port, r.dst_ip, r.dst_port)).or_default().push(r);
        }
        // Both as strings, tshark's details only where known.
        let mut ts = Seqs::new();
        let mut os = Seqs::new();
        for (k, msgs) in &t {
            let mut mine = ours.get(k).cloned().unwrap_or_default();
            let excused = |what: &str| EXCUSED.iter().find(|e| e.0 == name && e.1 == k && e.2 == what);
            if let Some(e) = excused("missing").filter(|_| mine.is_empty()) {
                eprintln!("notice: {name} {k}: {} tshark messages not ours ({})", msgs.len(), e.3);
                n_excused += 1;
                continue;
            }
            if let Some(e) = excused("extra").filter(|_| mine.len() > msgs.len()) {
                eprintln!("notice: {name} {k}: {} records, tshark {} ({})", mine.len(), msgs.len(), e.3);
                mine.truncate(msgs.len());
                n_excused += 1;
            }
            for (i, m) in msgs.iter().enumerate() {
                let mut s = format!("{} frags={}", m.head, m.frags);
                let mut o = mine.get(i).map_or(String::new(), |r| {
                    let h = head(
                        &r.version_minor.to_string(),
                        &r.packet_type.to_string(),
                        u64::from(r.flags),
                        &r.call_id.to_string(),
                        &r.auth_length.to_string(),
                    );
                    format!("{h} frags={}", r.fragments.max(1))
                });
                if let (Some(d), Some(r)) = (&m.detail, mine.get(i)) {
                    s += &format!(" {d}");
                    o += &format!(" {}", detail_ours(r));
                    n_detail += 1;
                }
                ts.entry(k.clone()).or_default().push(s);
                os.entry(k.clone()).or_default().push(o);
            }
            if mine.len() > msgs.len() {
                problems.push(format!("{name} {k}: {} records, tshark {} messages", mine.len(), msgs.len()));
            }
        }
        for k in ours.keys().filter(|k| !t.contains_key(*k)) {
            problems.push(format!("{name} {k}: {} records tshark does not have", ours[k].len()));
        }
        n += netcap_tests::compare_sequences(&name, &ts, &os, &mut problems);
    }
    let total = problems.len();
    problems.truncate(20);
    assert!(problems.is_empty(), "{total} problems:\n{}", problems.join("\n"));
    eprintln!(
        "compared {n} DCE/RPC messages with tshark ({n_detail} field by field, {n_named} records naming their interface; {n_excused} directions excused)"
    );
    assert_eq!(n_excused, EXCUSED.len(), "an excused difference is gone: update EXCUSED");
    assert!(
        n >= 100 && n_detail >= 50 && n_named >= 20,
        "only {n} DCE/RPC messages ({n_detail} in detail, {n_named} named) compared"
    );
}
