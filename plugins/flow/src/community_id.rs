//! Community ID flow hashing, version 1 (<https://github.com/corelight/community-id-spec>).
//!
//! `"1:" + base64(sha1(seed:u16be . saddr . daddr . proto:u8 . 0:u8 . sport:u16be . dport:u16be))`,
//! with the endpoints put in canonical order first: a tuple is kept as is when its source address
//! is smaller, or the addresses are equal and the source port is smaller, or it is a one-way ICMP
//! message; otherwise source and destination swap. Ports exist for TCP, UDP, SCTP and ICMP/ICMPv6
//! (type and code mapped as in [`icmp_ports`]); other protocols hash without them.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// IP protocol numbers with ports in the Community ID.
pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;

/// The port equivalents of an ICMP (`v6 = false`) or ICMPv6 message type and code, and whether the
/// message is one-way (then the tuple is never reordered). Request/response types map to
/// `(type, counterpart type)` so that both directions get one ID; others to `(type, code)`, one-way.
/// The tables are the spec's (they mirror Zeek's).
pub fn icmp_ports(v6: bool, mtype: u8, code: u8) -> (u16, u16, bool) {
    let counterpart = if v6 {
        match mtype {
            128 => Some(129), // echo request / reply
            129 => Some(128),
            130 => Some(131), // MLD listener query / report
            131 => Some(130),
            133 => Some(134), // router solicitation / advertisement
            134 => Some(133),
            135 => Some(136), // neighbor solicitation / advertisement
            136 => Some(135),
            139 => Some(140), // node information query / reply (WRU)
            140 => Some(139),
            144 => Some(145), // home agent address discovery request / reply
            145 => Some(144),
            _ => None,
        }
    } else {
        match mtype {
            8 => Some(0), // echo / echo reply
            0 => Some(8),
            13 => Some(14), // timestamp / reply
            14 => Some(13),
            15 => Some(16), // information request / reply
            16 => Some(15),
            10 => Some(9), // router solicitation / advertisement
            9 => Some(10),
            17 => Some(18), // address mask request / reply
            18 => Some(17),
            _ => None,
        }
    };
    match counterpart {
        Some(c) => (u16::from(mtype), c, false),
        None => (u16::from(mtype), u16::from(code), true),
    }
}

/// Whether the protocol's Community ID includes ports.
pub fn has_ports(proto: u8) -> bool {
    matches!(proto, TCP | UDP | SCTP | ICMP | ICMPV6)
}

/// A Community ID calculator with its seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommunityId {
    seed: u16,
}

impl CommunityId {
    pub fn new(seed: u16) -> Self {
        CommunityId { seed }
    }

    /// The SHA-1 digest of a flow tuple. `saddr`/`daddr` are 4 or 16 bytes; `ports` is `None` for
    /// protocols without ports (and for IP fragments, which carry none); `one_way` marks one-way
    /// ICMP messages (their ports are already mapped by [`icmp_ports`]).
    pub fn digest(&self, proto: u8, saddr: &[u8], daddr: &[u8], ports: Option<(u16, u16)>, one_way: bool) -> [u8; 20] {
        let (sp, dp) = ports.unwrap_or((0, 0));
        let ordered = one_way || saddr < daddr || (saddr == daddr && ports.is_some() && sp < dp);
        let (sa, da, sp, dp) = if ordered { (saddr, daddr, sp, dp) } else { (daddr, saddr, dp, sp) };
        let mut h = Sha1::new();
        h.update(self.seed.to_be_bytes());
        h.update(sa);
        h.update(da);
        h.update([proto, 0]);
        if ports.is_some() {
            h.update(sp.to_be_bytes());
            h.update(dp.to_be_bytes());
        }
        h.finalize().into()
    }

    /// The Community ID string `1:<base64>` into `out` (cleared first; no allocation once `out`
    /// has room).
    pub fn write(
        &self,
        out: &mut String,
        proto: u8,
        saddr: &[u8],
        daddr: &[u8],
        ports: Option<(u16, u16)>,
        one_way: bool,
    ) {
        out.clear();
        out.push_str("1:");
        let d = self.digest(proto, saddr, daddr, ports, one_way);
        base64::engine::general_purpose::STANDARD.encode_string(d, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::path::PathBuf;

    fn vectors(name: &str) -> Option<Vec<serde_json::Value>> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps/community-id");
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            assert!(std::env::var("NETCAP_REQUIRE_CORPUS").map_or(true, |v| v != "1"), "{name} is missing");
            eprintln!("notice: skipping, {} is missing", dir.join(name).display());
            return None;
        };
        Some(serde_json::from_str(&text).expect("vector file is JSON"))
    }

    fn addr(v: &serde_json::Value) -> Vec<u8> {
        match v.as_str().expect("address").parse::<IpAddr>().expect("IP address") {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    /// The spec's vectors: `(proto, saddr, daddr, sport, dport)` with the expected ID. Ports of
    /// ICMP vectors are the message type and code, mapped as the reference implementation does.
    fn check(file: &str, seed: u16, base64: bool) -> usize {
        let Some(vs) = vectors(file) else { return 0 };
        let c = CommunityId::new(seed);
        for v in &vs {
            let proto = v["proto"].as_u64().expect("proto") as u8;
            let (s, d) = (addr(&v["saddr"]), addr(&v["daddr"]));
            let sp = v["sport"].as_u64().map(|p| p as u16);
            let dp = v["dport"].as_u64().map(|p| p as u16);
            let (ports, one_way) = match (proto, sp, dp) {
                (ICMP | ICMPV6, Some(t), Some(code)) => {
                    let (a, b, ow) = icmp_ports(proto == ICMPV6, t as u8, code as u8);
                    (Some((a, b)), ow)
                }
                (p, Some(a), Some(b)) if has_ports(p) => (Some((a, b)), false),
                _ => (None, false),
            };
            let got = if base64 {
                let mut out = String::new();
                c.write(&mut out, proto, &s, &d, ports, one_way);
                out
            } else {
                let hex: String = c.digest(proto, &s, &d, ports, one_way).iter().map(|b| format!("{b:02x}")).collect();
                format!("1:{hex}")
            };
            assert_eq!(got, v["communityid"].as_str().expect("communityid"), "{file}: {v}");
        }
        vs.len()
    }

    #[test]
    fn spec_vectors_default_seed() {
        let n = check("baseline_deflt.json", 0, true);
        assert!(n == 0 || n == 23, "{n} vectors");
    }

    #[test]
    fn spec_vectors_hex() {
        let n = check("baseline_nob64.json", 0, false);
        assert!(n == 0 || n == 23, "{n} vectors");
    }

    #[test]
    fn spec_vectors_seed_1() {
        let n = check("baseline_seed1.json", 1, true);
        assert!(n == 0 || n == 23, "{n} vectors");
    }

    #[test]
    fn both_directions_share_an_id() {
        let c = CommunityId::new(0);
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        assert_eq!(c.digest(TCP, &a, &b, Some((1000, 80)), false), c.digest(TCP, &b, &a, Some((80, 1000)), false));
        // Equal addresses: ordered by port.
        assert_eq!(c.digest(UDP, &a, &a, Some((5, 9)), false), c.digest(UDP, &a, &a, Some((9, 5)), false));
        // An echo request and its reply.
        let (s1, d1, o1) = icmp_ports(false, 8, 0);
        let (s2, d2, o2) = icmp_ports(false, 0, 0);
        assert_eq!(c.digest(ICMP, &a, &b, Some((s1, d1)), o1), c.digest(ICMP, &b, &a, Some((s2, d2)), o2));
    }
}
