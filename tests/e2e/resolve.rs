//! Resolvers against independent answers: GeoIP with MaxMind's test databases (expected values
//! from `GeoLite2-City-Test.json`, the data the database was built from; ASN from libmaxminddb's
//! `mmdblookup`), corrupt databases, MAC vendors and service names with known registry entries,
//! and names from DNS answers against `tshark -z hosts`.

use netcap::resolve::{Resolver, ResolverOptions};
use netcap_tests::{files_with, have_tshark, workspace_root};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

fn geoip_dir() -> Option<PathBuf> {
    let d = workspace_root().join("..").join("shared").join("data").join("geoip");
    if d.is_dir() {
        return Some(d);
    }
    assert!(std::env::var("NETCAP_REQUIRE_CORPUS").as_deref() != Ok("1"), "{} is missing", d.display());
    eprintln!("notice: skipping, {} is missing", d.display());
    None
}

/// A network: its address as u128 in IPv6 space, prefix length in IPv6 space, first address.
type Network = (u128, u32, IpAddr);

fn network(cidr: &str) -> Option<Network> {
    let (a, len) = cidr.split_once('/')?;
    let ip: IpAddr = a.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    let (v, l) = match ip {
        IpAddr::V4(v4) => (u128::from(v4.to_ipv6_mapped()), len + 96),
        IpAddr::V6(v6) => (u128::from(v6), len),
    };
    Some((v, l, ip))
}

fn contains(net: (u128, u32), ip: u128) -> bool {
    net.1 == 0 || (net.0 ^ ip) >> (128 - net.1) == 0
}

#[test]
fn geoip_city_answers_are_those_of_maxminds_source_data() {
    let Some(dir) = geoip_dir() else { return };
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("GeoLite2-City-Test.json")).expect("read json")).expect("json");
    // Every network of the source data with its expected country code and English city name.
    let mut nets: Vec<(Network, (String, String))> = Vec::new();
    for entry in json.as_array().expect("array") {
        for (cidr, rec) in entry.as_object().expect("object") {
            let Some(n) = network(cidr) else { continue };
            let s = |p: &[&str]| {
                p.iter().try_fold(rec, |v, k| v.get(*k)).and_then(|v| v.as_str()).unwrap_or("").to_string()
            };
            nets.push((n, (s(&["country", "iso_code"]), s(&["city", "names", "en"]))));
        }
    }
    assert!(nets.len() > 100, "{} networks", nets.len());
    let r = Resolver::new(
        ResolverOptions { geoip_db: Some(dir.join("GeoLite2-City-Test.mmdb")), ..ResolverOptions::default() },
        None,
    );
    assert!(r.finish_warnings().is_empty());
    let (mut checked, mut with_city) = (0, 0);
    for ((v, _, ip), _) in &nets {
        // The most specific network of the source data that holds this address decides.
        let (_, (country, city)) = nets
            .iter()
            .filter(|((nv, nl, _), _)| contains((*nv, *nl), *v))
            .max_by_key(|((_, nl, _), _)| *nl)
            .expect("its own network");
        let g = r.geo(&ip.to_string()).unwrap_or_default();
        assert_eq!((&g.country, &g.city), (country, city), "{ip}");
        checked += 1;
        with_city += usize::from(!city.is_empty());
    }
    assert!(checked > 100 && with_city > 10, "{checked} addresses, {with_city} with a city");
    // Addresses outside every network have no answer.
    assert_eq!(r.geo("10.1.2.3"), None);
    assert_eq!(r.geo("not an address"), None);
}

#[test]
fn asn_answers_agree_with_mmdblookup() {
    let Some(dir) = geoip_dir() else { return };
    let db = dir.join("GeoLite2-ASN-Test.mmdb");
    if Command::new("mmdblookup").arg("--version").output().is_err() {
        assert!(std::env::var("NETCAP_REQUIRE_NDPI").as_deref() != Ok("1"), "mmdblookup (Debian mmdb-bin) is missing");
        eprintln!("notice: skipping, mmdblookup (Debian mmdb-bin) is missing");
        return;
    }
    let reader = maxminddb::Reader::open_readfile(&db).expect("open ASN test db");
    // Inputs: the first address of every network of the database; answers: mmdblookup's.
    let mut ips: Vec<IpAddr> = Vec::new();
    for n in reader.networks(Default::default()).expect("networks").flatten() {
        if let Ok(net) = n.network() {
            ips.push(net.network());
        }
    }
    ips.sort();
    ips.dedup();
    assert!(ips.len() > 50, "{} networks", ips.len());
    ips.push("10.0.0.1".parse().expect("ip"));
    let r = Resolver::new(ResolverOptions { asn_db: Some(db.clone()), ..ResolverOptions::default() }, None);
    for ip in &ips {
        let o = Command::new("mmdblookup")
            .arg("--file")
            .arg(&db)
            .arg("--ip")
            .arg(ip.to_string())
            .output()
            .expect("mmdblookup");
        let text = String::from_utf8_lossy(&o.stdout);
        let after = |key: &str| {
            let rest = text.split_once(&format!("\"{key}\":"))?.1.trim_start();
            Some(if let Some(s) = rest.strip_prefix('"') {
                s.split_once('"')?.0.to_string()
            } else {
                rest.split_whitespace().next()?.to_string()
            })
        };
        let expected = after("autonomous_system_number")
            .map(|n| (n.parse::<u32>().expect("asn"), after("autonomous_system_organization").unwrap_or_default()));
        let got = r.geo(&ip.to_string()).map(|g| (g.asn, g.as_org));
        assert_eq!(got, expected, "{ip}: mmdblookup said {text}");
    }
}

#[test]
fn corrupt_databases_give_a_clear_error_not_a_crash() {
    let Some(dir) = geoip_dir() else { return };
    for name in ["MaxMind-DB-test-broken-pointers-24.mmdb", "MaxMind-DB-test-broken-search-tree-24.mmdb"] {
        let path = dir.join(name);
        let r = Resolver::new(
            ResolverOptions { geoip_db: Some(path.clone()), asn_db: Some(path.clone()), ..ResolverOptions::default() },
            None,
        );
        let mut warnings = r.take_warnings();
        // Addresses spread over the whole IPv4 space, through the corrupt parts too.
        for a in 0..=255u8 {
            let _ = r.geo(&format!("1.1.1.{a}"));
            let _ = r.geo(&format!("{a}.255.255.255"));
            let _ = r.geo(&format!("{a}.1.2.3"));
        }
        warnings.extend(r.finish_warnings());
        assert!(!warnings.is_empty(), "{name}: no error reported");
        assert!(warnings.iter().any(|w| w.contains(name) && w.contains("corrupt")), "{name}: {warnings:?}");
    }
    // A missing file: one warning, empty answers.
    let r = Resolver::new(
        ResolverOptions { geoip_db: Some(dir.join("nonexistent.mmdb")), ..ResolverOptions::default() },
        None,
    );
    let w = r.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("nonexistent.mmdb"), "{w:?}");
    assert_eq!(r.geo("1.128.0.0"), None);
}

#[test]
fn mac_vendors_and_service_names_of_known_entries() {
    let r = Resolver::new(ResolverOptions::default(), None);
    if !std::path::Path::new("/usr/share/ieee-data/oui.csv").is_file() {
        assert!(std::env::var("NETCAP_REQUIRE_CORPUS").as_deref() != Ok("1"), "Debian's ieee-data is missing");
        eprintln!("notice: skipping MAC vendors, Debian's ieee-data is missing");
    } else {
        // MA-L (24 bits), MA-M (28 bits) and MA-S (36 bits) assignments of the IEEE registry.
        assert_eq!(r.mac_vendor(&[0x00, 0x00, 0x0c, 0x07, 0xac, 0x01]), Some("Cisco Systems, Inc"));
        assert_eq!(r.mac_vendor(&[0x00, 0x1b, 0x63, 0, 0, 1]), Some("Apple, Inc."));
        assert_eq!(r.mac_vendor(&[0x70, 0xb3, 0xd5, 0xf2, 0xf0, 0x00]), Some("TELEPLATFORMS"));
        assert_eq!(r.mac_vendor(&[0x70, 0xb3, 0xd5, 0x00, 0x00, 0x00]), Some("IEEE Registration Authority"));
        assert_eq!(r.mac_vendor(&[0x02, 0x42, 0xac, 0x11, 0, 2]), None, "locally administered");
    }
    assert_eq!(r.service_name("tcp", 80), Some("http"));
    assert_eq!(r.service_name("udp", 53), Some("domain"));
    assert_eq!(r.service_name("tcp", 22), Some("ssh"));
    assert_eq!(r.service_name("tcp", 443), Some("https"));
    assert_eq!(r.service_name("udp", 65000), None);
    assert!(r.take_warnings().is_empty());

    // Missing system files: one warning each, empty answers.
    let r = Resolver::new(
        ResolverOptions {
            ieee_dir: PathBuf::from("/nonexistent"),
            services_file: PathBuf::from("/nonexistent/services"),
            ..ResolverOptions::default()
        },
        None,
    );
    assert_eq!(r.mac_vendor(&[0x00, 0x00, 0x0c, 0, 0, 1]), None);
    assert_eq!(r.mac_vendor(&[0x00, 0x00, 0x0c, 0, 0, 2]), None);
    assert_eq!(r.service_name("tcp", 80), None);
    let w = r.take_warnings();
    assert_eq!(w.len(), netcap::resolve::mac::FILES.len() + 1, "{w:?}");
}

/// `tshark -z hosts`: address → name pairs from the DNS records of a capture, with IP
/// defragmentation and TCP reassembly off (our scan reads single packets, as the host will
/// until defragmentation and reassembly feed it) and ICMP off (DNS packets quoted in ICMP
/// errors are not answers the network gave).
fn tshark_hosts(file: &std::path::Path) -> BTreeMap<IpAddr, String> {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"])
        .args(["--disable-protocol", "icmp", "--disable-protocol", "icmpv6"])
        .args(["-q", "-z", "hosts"])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (ip, name) = l.split_once('\t')?;
            Some((ip.parse().ok()?, name.trim().to_string()))
        })
        .collect()
}

#[test]
fn names_from_dns_answers_agree_with_tshark_hosts() {
    use netcap::capture::PacketSource;
    if !have_tshark() {
        return;
    }
    let files = files_with(&["dns", "mdns"]);
    // DNS inside GTP-U tunnels (internet/pcapplusplus_gtp.pcap): the answer scan reads the
    // outermost UDP datagram only, so names from tunnelled answers are not learnt; nor are names
    // from DNS over HTTP/2 (DoH, internet/suricata-verify_app-layer-protocol-exact.pcap), which
    // tshark dissects inside HTTP/2.
    let in_gtp: BTreeSet<PathBuf> = files_with(&["gtp", "http2"]).into_iter().collect();
    let (mut compared, mut pairs) = (0, 0);
    for f in files.iter().filter(|f| !in_gtp.contains(*f)) {
        let theirs = tshark_hosts(f);
        let Ok(mut src) = netcap::capture::file::FileSource::open(f, None) else { continue };
        let table = netcap::resolve::names::NameTable::new(None, false, &mut Vec::new());
        let mut scan = netcap::resolve::names::DnsScan::default();
        let mut d = netcap::dissect::Dissection::default();
        let mut seq = 0u64;
        let mut unknown_link = false;
        while let Ok(Some(p)) = src.next_packet() {
            netcap::dissect::dissect(p.link_type, p.data, &mut d);
            unknown_link |= d.unknown_link;
            scan.scan(seq, p.data, d.layers());
            seq += 1;
        }
        if unknown_link {
            continue; // a link type the host does not dissect (e.g. PPI): no transport layer to scan
        }
        table.publish(&mut scan);
        compared += 1;
        for (ip, name) in &theirs {
            let names = table.names(*ip, u64::MAX);
            if names.len() >= netcap::resolve::names::NAMES_PER_IP || name == "<Root>" {
                // Our bound (later names of this address were dropped); tshark's name for an
                // A record of the root (no name: we skip those).
                continue;
            }
            assert!(
                names.iter().any(|n| n.eq_ignore_ascii_case(name)),
                "{}: tshark names {ip} {name}, we have {names:?}",
                f.display()
            );
            pairs += 1;
        }
    }
    eprintln!("DNS names vs tshark -z hosts: {compared} captures, {pairs} address/name pairs agree");
    assert!(compared > 20 && pairs > 50, "{compared} captures, {pairs} pairs");
}
