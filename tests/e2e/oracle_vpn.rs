//! The `inet` decoder's VPN and GTP-C records against tshark on every corpus capture tshark
//! dissects as WireGuard, ISAKMP/IKE or GTP (GTP-C: the datagrams on UDP 2123): one netcap run and one tshark pass per capture, compared as multisets
//! of one line per message (packet time, ports and the fields), per capture.
//!
//! - WireGuard: message type, reserved bytes, sender and receiver indices, counter.
//! - IKE: initiator and responder SPIs, first payload type, version, exchange type, flags,
//!   message id, length; the payload chain (tshark's `isakmp.typepayload` lists the proposal
//!   and transform substructures, types 2 and 3, among the payloads: they are dropped from its
//!   list, ours has them in `proposals`); per proposal the protocol id and SPI (not the SPI
//!   size: tshark's `isakmp.spisize` also lists the notify payloads', mostly 0); the IKEv1
//!   transform ids and the attributes encryption, hash, authentication method, group and key
//!   length; the IKEv2 transform ids per type (`isakmp.tf.id.encr`, `.prf`, `.integ`, `.dh`,
//!   `.esn`) and key lengths; vendor ids; notify types; the KE group; clear-text identities.
//! - GTP-C: per datagram (a piggybacked GTPv2 message on its carrier's line) the flags, message
//!   types, TEIDs, sequence numbers, the GTPv2 IE types (with those of grouped IEs after their
//!   group's, as tshark lists them; tshark has no list of GTPv1 IE types), the first IMSI,
//!   MSISDN, APN and Cause.
//!
//! Deliberate differences: in `tcpdump_ISAKMP_sa_setup.pcap` two main mode messages end with
//! two payloads of type 15, the early NAT-T drafts' NAT-D (RFC 3947 later gave it 20), which
//! tshark dissects as GDOI's SA KEK payload and stops at with an exception (malformed): its
//! payload list lacks the second one, which is added to tshark's side from the next payload
//! the first announces when tshark marks the message malformed. tshark reads the proposals of every SA payload
//! of a message where we read the first one; no corpus message has two. tshark's WireGuard
//! heuristic also follows a conversation after a handshake initiation, so that transport data
//! with non-zero reserved bytes (Cloudflare's use of them) is still WireGuard; we decide per
//! datagram, and no corpus capture has such messages.

use netcap_proto::v1::{Gtpc, Ike, WireGuard};
use netcap_tests::{corpus, files_with, have_tshark, join_list, parse_ns, records, tshark_fields, tshark_nums};
use std::path::Path;

const FIELDS: &[&str] = &[
    "frame.time_epoch",
    "frame.protocols",
    "udp.srcport",
    "udp.dstport",
    "wg.type",
    "wg.reserved",
    "wg.sender",
    "wg.receiver",
    "wg.counter",
    // 9
    "isakmp.ispi",
    "isakmp.rspi",
    "isakmp.nextpayload",
    "isakmp.version",
    "isakmp.exchangetype",
    "isakmp.flags",
    "isakmp.messageid",
    "isakmp.length",
    "isakmp.typepayload",
    // 18
    "isakmp.prop.protoid",
    "isakmp.spi",
    "isakmp.trans.id",
    "isakmp.ike.attr.encryption_algorithm",
    "isakmp.ike.attr.hash_algorithm",
    "isakmp.ike.attr.authentication_method",
    "isakmp.ike.attr.group_description",
    "isakmp.ike.attr.key_length",
    "isakmp.tf.id.encr",
    "isakmp.tf.id.prf",
    // 28
    "isakmp.tf.id.integ",
    "isakmp.tf.id.dh",
    "isakmp.tf.id.esn",
    "isakmp.ike2.attr.key_length",
    "isakmp.vid_bytes",
    "isakmp.notify.msgtype",
    "isakmp.key_exchange.dh_group",
    "isakmp.id.data.ipv4_addr",
    "isakmp.id.data.fqdn",
    // 37
    "isakmp.id.data.user_fqdn",
    "_ws.malformed",
    // 39
    "gtp.flags",
    "gtp.message",
    "gtp.teid",
    "gtp.seq_number",
    "gtpv2.flags",
    "gtpv2.message_type",
    "gtpv2.teid",
    "gtpv2.seq",
    "gtpv2.ie_type",
    "e212.imsi",
    // 49
    "e164.msisdn",
    "gtp.apn",
    "gtpv2.apn",
    "gtp.cause",
    "gtpv2.cause",
];

/// What is compared of one capture, from either side (each list sorted).
#[derive(Debug, Default)]
struct Seen {
    wg: Vec<String>,
    ike: Vec<String>,
    /// One line per datagram (a piggybacked GTPv2 message is on its carrier's line).
    gtpc: Vec<String>,
}

fn last(c: &str) -> &str {
    c.rsplit(',').next().unwrap_or("")
}

fn tshark_seen(f: &Path) -> Seen {
    let rows = tshark_fields(f, FIELDS, &[]).expect("tshark reads the capture");
    let mut s = Seen::default();
    for r in rows {
        let col = |i: usize| r.get(i).map_or("", String::as_str);
        let protocols: Vec<&str> = col(1).split(':').collect();
        // An ICMP error quoting a datagram: netcap does not decode messages quoted in ICMP errors.
        if protocols.iter().any(|p| p.starts_with("icmp")) {
            continue;
        }
        let head = format!("{}|{}|{}", parse_ns(col(0)).expect("time"), last(col(2)), last(col(3)));
        if protocols.contains(&"wg") {
            let line = [head.as_str(), col(4), col(5), &tshark_nums(col(6)), &tshark_nums(col(7)), col(8)];
            s.wg.push(line.join("|"));
        }
        if protocols.contains(&"isakmp") {
            s.ike.push(tshark_ike(&head, &r));
        }
        let port_2123 = last(col(2)) == "2123" || last(col(3)) == "2123";
        if port_2123 && (protocols.contains(&"gtp") || protocols.contains(&"gtpv2")) {
            s.gtpc.push(tshark_gtpc(&head, &r));
        }
    }
    s.wg.sort();
    s.ike.sort();
    s.gtpc.sort();
    s
}

/// A GTP-C line from tshark's fields: GTPv1 or GTPv2 header lists, the IE types (GTPv2), the
/// first IMSI, MSISDN, APN and Cause.
fn tshark_gtpc(head: &str, r: &[String]) -> String {
    let col = |i: usize| r.get(i).map_or("", String::as_str);
    let either = |a: usize, b: usize| if col(a).is_empty() { tshark_nums(col(b)) } else { tshark_nums(col(a)) };
    let first = |i: usize| col(i).split(',').next().unwrap_or("").to_string();
    let apn = if col(50).is_empty() { first(51) } else { first(50) };
    let cause = if col(52).is_empty() { first(53) } else { first(52) };
    [
        head.to_string(),
        either(39, 43),
        either(40, 44),
        either(41, 45),
        either(42, 46),
        col(47).to_string(),
        first(48),
        first(49),
        apn,
        cause,
    ]
    .join("|")
}

fn tshark_ike(head: &str, r: &[String]) -> String {
    let col = |i: usize| r.get(i).map_or("", String::as_str);
    let mut types: Vec<&str> = col(17).split(',').filter(|t| !t.is_empty() && *t != "2" && *t != "3").collect();
    // tshark stopped at an exception inside the last payload it lists: the chain goes on with
    // the payload that one announces (see the module doc).
    let announced = col(11).rsplit(',').next().unwrap_or("0");
    if !col(38).is_empty() && announced != "0" {
        types.push(announced);
    }
    let first_next = col(11).split(',').next().unwrap_or("");
    let mut ids: Vec<String> = Vec::new();
    ids.extend(col(35).split(',').filter(|v| !v.is_empty()).map(|v| format!("ipv4:{v}")));
    ids.extend(col(36).split(',').filter(|v| !v.is_empty()).map(|v| format!("fqdn:{v}")));
    ids.extend(col(37).split(',').filter(|v| !v.is_empty()).map(|v| format!("user_fqdn:{v}")));
    let mut fields = vec![
        head.to_string(),
        col(9).to_string(),
        col(10).to_string(),
        first_next.to_string(),
        tshark_nums(col(12)),
        col(13).to_string(),
        tshark_nums(col(14)),
        tshark_nums(col(15)),
        col(16).to_string(),
        types.join(","),
    ];
    fields.push(tshark_nums(col(18)));
    // The proposals' SPIs (tshark's list would also have notify payloads' SPIs, which we do not
    // keep: no corpus notify has one).
    fields.push(col(19).to_string());
    fields.extend((20..35).map(|i| tshark_nums(col(i))));
    fields.push(ids.join(","));
    fields.join("|")
}

fn our_seen(dir: &Path) -> Seen {
    let mut s = Seen::default();
    for r in records::<WireGuard>(dir, "WireGuard") {
        let some = |show: bool, v: String| if show { v } else { String::new() };
        let t = r.message_type;
        let line = [
            format!("{}|{}|{}", r.timestamp, r.src_port, r.dst_port),
            t.to_string(),
            format!("{:06x}", r.reserved),
            some(t <= 2, r.sender_index.to_string()),
            some(t >= 2, r.receiver_index.to_string()),
            some(t == 4, r.counter.to_string()),
        ];
        s.wg.push(line.join("|"));
    }
    for r in records::<Ike>(dir, "IKE") {
        s.ike.push(our_ike(&r));
    }
    let mut datagrams: std::collections::BTreeMap<(i64, u32, u32), Vec<Gtpc>> = Default::default();
    for r in records::<Gtpc>(dir, "GTPC") {
        datagrams.entry((r.timestamp, r.src_port, r.dst_port)).or_default().push(r);
    }
    for ((ts, sp, dp), m) in datagrams {
        let first = |f: &dyn Fn(&Gtpc) -> String| m.iter().map(f).find(|v| !v.is_empty()).unwrap_or_default();
        // tshark has no list of GTPv1 IE types.
        let ies = m.iter().filter(|r| r.version == 2).flat_map(|r| r.ie_types.iter());
        let line = [
            format!("{ts}|{sp}|{dp}"),
            join_list(m.iter().map(|r| r.flags)),
            join_list(m.iter().map(|r| r.message_type)),
            join_list(m.iter().filter(|r| r.teid_present).map(|r| r.teid)),
            join_list(m.iter().map(|r| r.sequence_number)),
            join_list(ies),
            first(&|r| r.imsi.clone()),
            first(&|r| r.msisdn.clone()),
            first(&|r| r.apn.clone()),
            first(&|r| if r.cause == 0 { String::new() } else { r.cause.to_string() }),
        ];
        s.gtpc.push(line.join("|"));
    }
    s.wg.sort();
    s.ike.sort();
    s.gtpc.sort();
    s
}

fn our_ike(r: &Ike) -> String {
    let v2 = r.major_version >= 2;
    let ts: Vec<_> = r.proposals.iter().flat_map(|p| p.transforms.iter()).collect();
    let nz =
        |f: &dyn Fn(&netcap_proto::v1::IkeTransform) -> u32| join_list(ts.iter().map(|t| f(t)).filter(|&v| v != 0));
    let of_type = |ty: u32| join_list(ts.iter().filter(|t| t.r#type == ty).map(|t| t.id));
    let v1_only = |v: String| if v2 { String::new() } else { v };
    let v2_only = |v: String| if v2 { v } else { String::new() };
    let ids: Vec<&str> = ["ipv4:", "fqdn:", "user_fqdn:"]
        .iter()
        .flat_map(|p| r.identities.iter().filter(move |i| i.starts_with(p)).map(String::as_str))
        .collect();
    [
        format!("{}|{}|{}", r.timestamp, r.src_port, r.dst_port),
        r.initiator_spi.clone(),
        r.responder_spi.clone(),
        r.next_payload.to_string(),
        (r.major_version << 4 | r.minor_version).to_string(),
        r.exchange_type.to_string(),
        r.flags.to_string(),
        r.message_id.to_string(),
        r.length.to_string(),
        join_list(&r.payload_types),
        join_list(r.proposals.iter().map(|p| p.protocol_id)),
        r.proposals.iter().map(|p| p.spi.as_str()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(","),
        v1_only(join_list(ts.iter().map(|t| t.id))),
        nz(&|t| t.encryption),
        nz(&|t| t.hash),
        nz(&|t| t.auth_method),
        nz(&|t| t.dh_group),
        v1_only(nz(&|t| t.key_length)),
        v2_only(of_type(1)),
        v2_only(of_type(2)),
        v2_only(of_type(3)),
        v2_only(of_type(4)),
        v2_only(of_type(5)),
        v2_only(nz(&|t| t.key_length)),
        r.vendor_ids.join(","),
        join_list(&r.notify_types),
        if r.dh_group == 0 { String::new() } else { r.dh_group.to_string() },
        ids.join(","),
    ]
    .join("|")
}

/// `(a - b)` as a multiset (both sorted).
fn missing(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut j = 0;
    for x in a {
        while j < b.len() && b[j] < *x {
            j += 1;
        }
        if j < b.len() && b[j] == *x {
            j += 1;
        } else {
            out.push(x.clone());
        }
    }
    out
}

#[test]
fn vpn_agrees_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["wg", "isakmp", "gtp", "gtpv2"]);
    assert!(files.len() >= 12, "expected the corpus' WireGuard, IKE and GTP captures, found {}", files.len());
    let mut failures = Vec::new();
    let (mut wg, mut ike, mut gtpc) = (0, 0, 0);
    for f in &files {
        let want = tshark_seen(f);
        let (dir, o) = netcap_tests::default_capture(f);
        assert!(o.status.code().is_some_and(|c| c <= 1), "netcap failed on {}", f.display());
        let got = our_seen(&dir);
        wg += want.wg.len();
        ike += want.ike.len();
        gtpc += want.gtpc.len();
        for (name, a, b) in [("wg", &got.wg, &want.wg), ("ike", &got.ike, &want.ike), ("gtpc", &got.gtpc, &want.gtpc)] {
            let (only_ours, only_tshark) = (missing(a, b), missing(b, a));
            if !only_ours.is_empty() || !only_tshark.is_empty() {
                failures.push(format!("{}: {name}: only ours {only_ours:?}, only tshark {only_tshark:?}", f.display()));
            }
        }
    }
    eprintln!("vpn: WireGuard, IKE messages, GTP-C datagrams {:?} in {} captures", [wg, ike, gtpc], files.len());
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(wg >= 100 && ike >= 30 && gtpc >= 8, "too little compared: {wg} {ike} {gtpc}");
}

/// The WireGuard, IKE and GTP-C records are the same bytes with 1 and 3 workers (the decoders
/// keep no state across datagrams).
#[test]
fn vpn_records_do_not_depend_on_workers() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let dir = netcap_tests::TempDir::new("oracle-vpn-workers");
    let mut problems = Vec::new();
    for f in files_with(&["wg", "isakmp", "gtpv2"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let (out1, out3) = (dir.path().join(format!("1-{name}")), dir.path().join(format!("3-{name}")));
        problems.extend(netcap_tests::capture_1_and_3_workers(&f, "WireGuard,IKE,GTPC", &out1, &out3));
    }
    assert!(problems.is_empty(), "{problems:?}");
}
