//! ARP and Dot1Q records agree field by field with tshark on every capture of the corpus that
//! has ARP or VLAN tags (`-Y arp` / `-Y vlan`, in packet order, one Dot1Q record per tag).

use netcap_tests::{corpus_files, have_tshark, parse_ns, parse_num, records, tshark_fields};
use std::path::Path;

fn epoch_ns(s: &str) -> i64 {
    parse_ns(s).unwrap_or(0)
}

const ARP_FIELDS: &[&str] = &[
    "frame.time_epoch",
    "arp.hw.type",
    "arp.proto.type",
    "arp.hw.size",
    "arp.proto.size",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "_ws.malformed",
    "frame.protocols",
];

const VLAN_FIELDS: &[&str] = &[
    "frame.time_epoch",
    "vlan.priority",
    "vlan.dei",
    "vlan.id",
    "vlan.etype",
    "vlan.len",
    "ieee8021ad.priority",
    "ieee8021ad.dei",
    "ieee8021ad.id",
    "frame.protocols",
];

/// Whether the dissection chain is a link header (Ethernet, SLL, 802.11 with radiotap), any VLAN
/// tags or LLC/SNAP, then ARP, as the host dissects it.
fn plain_arp(protocols: &str) -> bool {
    let tokens: Vec<&str> = protocols.split(':').collect();
    let Some(arp) = tokens.iter().position(|t| *t == "arp") else { return false };
    matches!(tokens[0], "eth" | "sll" | "radiotap" | "wlan")
        && tokens[1..arp]
            .iter()
            .all(|t| matches!(*t, "ethertype" | "vlan" | "ieee8021ad" | "llc" | "wlan_radio" | "wlan"))
}

/// The EtherType tshark's next dissector stands for, when it is one we know.
fn ethertype_of(next: Option<&&str>) -> u64 {
    match next.copied() {
        Some("vlan") => 0x8100,
        Some("ieee8021ad") => 0x88a8,
        Some("arp") => 0x0806,
        Some("ip") => 0x0800,
        Some("ipv6") => 0x86dd,
        _ => u64::MAX,
    }
}

/// Mismatches of one file, as text.
fn check_file(f: &Path, problems: &mut Vec<String>, counts: &mut (usize, usize)) {
    // ARP over IP over InfiniBand (20-byte hardware addresses): the host dissects the link type
    // now, but this comparison covers Ethernet-style ARP only.
    if f.file_name().is_some_and(|n| n == "tcpdump_ipoib.pcap") {
        return;
    }
    let Some(arp_rows) = tshark_fields(f, ARP_FIELDS, &["-Y", "arp"]) else { return };
    let Some(vlan_rows) = tshark_fields(f, VLAN_FIELDS, &["-Y", "vlan || ieee8021ad"]) else { return };
    if arp_rows.is_empty() && vlan_rows.is_empty() {
        return;
    }
    let (out, o) = netcap_tests::default_capture(f);
    if o.status.code() == Some(2) {
        problems.push(format!("{}: netcap failed: {}", f.display(), String::from_utf8_lossy(&o.stderr)));
        return;
    }
    let name = f.display();
    // ARP: etherparse needs the whole fixed header and both address pairs; tshark marks shorter
    // ones malformed. ARP carried in other encapsulations than Ethernet/VLAN/SLL is not dissected.
    let want: Vec<&Vec<String>> = arp_rows
        .iter()
        .filter(|r| r.len() == ARP_FIELDS.len() && r[10].is_empty())
        .filter(|r| plain_arp(&r[11]))
        .collect();
    let got: Vec<netcap_proto::v1::Arp> = records(out.as_path(), "ARP");
    if got.len() != want.len() {
        problems.push(format!("{name}: {} ARP records, tshark {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        counts.0 += 1;
        let mut cmp = |field: &str, ours: String, theirs: &str| {
            if !theirs.is_empty() && ours != theirs {
                problems.push(format!("{name}: ARP #{i} {field}: ours {ours:?}, tshark {theirs:?}"));
            }
        };
        cmp("timestamp", g.timestamp.to_string(), &epoch_ns(&w[0]).to_string());
        cmp("addr_type", g.addr_type.to_string(), &parse_num(&w[1]).map(|v| v.to_string()).unwrap_or_default());
        cmp("protocol", g.protocol.to_string(), &parse_num(&w[2]).map(|v| v.to_string()).unwrap_or_default());
        cmp("hw_address_size", g.hw_address_size.to_string(), &w[3]);
        cmp("protocol_address_size", g.protocol_address_size.to_string(), &w[4]);
        cmp("operation", g.operation.to_string(), &w[5]);
        cmp("src_hw_address", g.src_hw_address.clone(), &w[6]);
        cmp("src_prot_address", g.src_prot_address.clone(), &w[7]);
        cmp("dst_hw_address", g.dst_hw_address.clone(), &w[8]);
        cmp("dst_prot_address", g.dst_prot_address.clone(), &w[9]);
    }
    // Dot1Q: one record per tag right after the Ethernet header, outer first (802.1Q and
    // 802.1ad alike); etherparse follows at most three tags.
    let mut want_tags: Vec<(i64, [u64; 4])> = Vec::new();
    for r in vlan_rows.iter().filter(|r| r.len() == VLAN_FIELDS.len() && r[9].starts_with("eth:")) {
        let col = |c: usize| -> Vec<&str> { if r[c].is_empty() { Vec::new() } else { r[c].split(',').collect() } };
        let (q_prio, q_dei, q_id, q_type, q_len) = (col(1), col(2), col(3), col(4), col(5));
        let (ad_prio, ad_dei, ad_id) = (col(6), col(7), col(8));
        let tokens: Vec<&str> = r[9].split(':').collect();
        let (mut qi, mut adi, mut tags) = (0usize, 0usize, 0usize);
        let mut i = 1;
        while tags < 3
            && tokens.get(i) == Some(&"ethertype")
            && matches!(tokens.get(i + 1), Some(&"vlan" | &"ieee8021ad"))
        {
            let n = |v: &Vec<&str>, k: usize| v.get(k).and_then(|s| parse_num(s)).unwrap_or(u64::MAX);
            let tag = if tokens[i + 1] == "vlan" {
                let ty = q_type
                    .get(qi)
                    .and_then(|s| parse_num(s))
                    .or_else(|| q_len.get(qi).and_then(|s| parse_num(s)))
                    .unwrap_or(u64::MAX);
                let t = [n(&q_prio, qi), n(&q_dei, qi), n(&q_id, qi), ty];
                qi += 1;
                t
            } else {
                let t = [n(&ad_prio, adi), n(&ad_dei, adi), n(&ad_id, adi), ethertype_of(tokens.get(i + 3))];
                adi += 1;
                t
            };
            want_tags.push((epoch_ns(&r[0]), tag));
            tags += 1;
            i += 2;
        }
    }
    let got: Vec<netcap_proto::v1::Dot1Q> = records(out.as_path(), "Dot1Q");
    if got.len() != want_tags.len() {
        problems.push(format!("{name}: {} Dot1Q records, tshark {}", got.len(), want_tags.len()));
    }
    for (i, (g, (ts, w))) in got.iter().zip(&want_tags).enumerate() {
        counts.1 += 1;
        let mut ours =
            [u64::from(g.priority), u64::from(g.drop_eligible), u64::from(g.vlan_identifier), u64::from(g.r#type)];
        // The EtherType after an 802.1ad tag is only known when tshark dissected what follows.
        if w[3] == u64::MAX {
            ours[3] = u64::MAX;
        }
        if g.timestamp != *ts || ours != *w {
            problems.push(format!("{name}: Dot1Q #{i}: ours {} {ours:?}, tshark {ts} {w:?}", g.timestamp));
        }
    }
}

#[test]
fn arp_and_dot1q_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let files = corpus_files(&["ethernet_arp", "vlan", "linktypes", "mixed", "dhcp", "icmp"]);
    if files.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    let mut counts = (0, 0);
    for f in &files {
        check_file(f, &mut problems, &mut counts);
    }
    problems.truncate(60);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(counts.0 > 50, "only {} ARP records compared", counts.0);
    assert!(counts.1 > 20, "only {} Dot1Q records compared", counts.1);
    eprintln!("compared {} ARP and {} Dot1Q records with tshark", counts.0, counts.1);
}
