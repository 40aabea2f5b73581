//! ARP and 802.1Q field extraction from the layers the host dissected. Addresses are printed in
//! their usual text forms when their size says what they are (6-byte MAC, 4-byte IPv4 with
//! protocol 0x0800), otherwise as hex; a packet cut inside the addresses yields a partial record
//! and a counted error. Message values are reused between packets.

use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, Packet, fmt, layer};
use std::fmt::Write as _;

/// Type ids: indexes into the record types this decoder declares.
pub const T_ARP: u16 = 0;
pub const T_DOT1Q: u16 = 1;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 2] = [("ARP", "netcap.v1.ARP"), ("Dot1Q", "netcap.v1.Dot1Q")];

/// Per-instance decoder state.
#[derive(Default)]
pub struct Link {
    enabled: [bool; 2],
    arp: v1::Arp,
    vlan: v1::Dot1Q,
}

impl Link {
    pub fn new(config: &Config) -> Self {
        let mut d = Link::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for l in p.layers() {
            match l.id {
                layer::ARP if self.enabled[T_ARP as usize] => self.arp(p, l, out),
                layer::DOT1Q if self.enabled[T_DOT1Q as usize] => self.dot1q(p, l, out),
                _ => {}
            }
        }
    }

    fn dot1q(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let Some(h) = p.data.get(l.offset..l.offset + 4) else {
            out.error("dot1q: header truncated");
            return;
        };
        let tci = u16::from_be_bytes([h[0], h[1]]);
        let r = &mut self.vlan;
        r.timestamp = p.ts_nanos;
        r.priority = u32::from(tci >> 13);
        r.drop_eligible = tci & 0x1000 != 0;
        r.vlan_identifier = u32::from(tci & 0x0fff);
        r.r#type = u32::from(u16::from_be_bytes([h[2], h[3]]));
        out.record(T_DOT1Q, &self.vlan);
    }

    fn arp(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        if d.len() < 8 {
            out.error("arp: header truncated");
            return;
        }
        let r = &mut self.arp;
        r.timestamp = p.ts_nanos;
        r.addr_type = u32::from(u16::from_be_bytes([d[0], d[1]]));
        r.protocol = u32::from(u16::from_be_bytes([d[2], d[3]]));
        let (hl, pl) = (usize::from(d[4]), usize::from(d[5]));
        r.hw_address_size = hl as u32;
        r.protocol_address_size = pl as u32;
        r.operation = u32::from(u16::from_be_bytes([d[6], d[7]]));
        let ipv4 = r.protocol == 0x0800;
        let mut at = 8;
        let mut complete = true;
        for (field, len, is_hw) in [(0, hl, true), (1, pl, false), (2, hl, true), (3, pl, false)] {
            let s = match field {
                0 => &mut r.src_hw_address,
                1 => &mut r.src_prot_address,
                2 => &mut r.dst_hw_address,
                _ => &mut r.dst_prot_address,
            };
            s.clear();
            match d.get(at..at + len) {
                Some(b) => set_addr(s, b, is_hw, ipv4),
                None => complete = false,
            }
            at += len;
        }
        out.record(T_ARP, &self.arp);
        if !complete {
            out.error("arp: addresses truncated");
        }
    }
}

fn set_addr(s: &mut String, b: &[u8], hw: bool, ipv4: bool) {
    match (b.len(), hw, ipv4) {
        (6, true, _) => fmt::set_mac(s, &[b[0], b[1], b[2], b[3], b[4], b[5]]),
        (4, false, true) => fmt::set_ipv4(s, [b[0], b[1], b[2], b[3]]),
        _ => {
            for x in b {
                let _ = write!(s, "{x:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{packets, push_packet};
    use prost::Message;

    fn run(data: &[u8], layers: &[Layer]) -> Vec<(u16, Vec<u8>)> {
        let mut batch = Vec::new();
        push_packet(&mut batch, 3, 42, 1, data.len() as u32, layers, data);
        let mut d = Link::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        netcap_sdk::entries(&out).map(Result::unwrap).map(|e| (e.tag, e.bytes.to_vec())).collect()
    }

    #[test]
    fn vlan_tags_and_arp_request() {
        // dst, src, 802.1ad tag (prio 5, DEI, vid 100), 802.1Q tag (vid 7), ARP request.
        let mut p = vec![0xff; 6];
        p.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x88, 0xa8, 0xb0, 0x64, 0x81, 0x00, 0x00, 0x07, 0x08, 0x06]);
        p.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1]);
        let l = |id, offset| Layer { id, flags: 0, offset };
        let recs = run(&p, &[l(layer::ETHERNET, 0), l(layer::DOT1Q, 14), l(layer::DOT1Q, 18), l(layer::ARP, 22)]);
        assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![T_DOT1Q, T_DOT1Q, T_ARP]);
        let outer = v1::Dot1Q::decode(&recs[0].1[..]).unwrap();
        assert_eq!((outer.priority, outer.drop_eligible, outer.vlan_identifier, outer.r#type), (5, true, 100, 0x8100));
        let inner = v1::Dot1Q::decode(&recs[1].1[..]).unwrap();
        assert_eq!((inner.vlan_identifier, inner.r#type), (7, 0x0806));
        let arp = v1::Arp::decode(&recs[2].1[..]).unwrap();
        assert_eq!((arp.addr_type, arp.protocol, arp.operation), (1, 0x0800, 1));
        assert_eq!(arp.src_hw_address, "02:00:00:00:00:01");
        assert_eq!((arp.src_prot_address.as_str(), arp.dst_prot_address.as_str()), ("192.0.2.10", "192.0.2.1"));
        assert_eq!(arp.timestamp, 42);
    }

    #[test]
    fn truncated_arp_is_partial_with_an_error() {
        let p = [0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 10, 0];
        let recs = run(&p, &[Layer { id: layer::ARP, flags: 0, offset: 0 }]);
        let arp = v1::Arp::decode(&recs[0].1[..]).unwrap();
        assert_eq!(arp.operation, 2);
        assert_eq!(arp.src_hw_address, "02:00:00:00:00:01");
        assert!(arp.src_prot_address.is_empty());
        assert_eq!(recs[1], (netcap_sdk::TAG_ERROR, b"arp: addresses truncated".to_vec()));
    }
}
