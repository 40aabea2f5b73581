//! Cisco Discovery Protocol: one CiscoDiscovery record (header and TLV list) and one
//! CiscoDiscoveryInfo record (the TLVs decoded, as gopacket does) per frame.

use crate::decode::{Link, T_CDP, T_CDP_INFO, set_bytes, set_mac, set_oid, set_text};
use netcap_proto::v1::cisco_discovery::Value;
use netcap_proto::v1::cisco_discovery_info::{
    Capabilities, EnergyWise, Hello, IpNet, Location, PowerDialogue, SparePairPoE, VlanDialogue,
};
use netcap_sdk::{Emitter, Layer, Packet, fmt};
use std::fmt::Write as _;

fn be16(v: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*v.get(at)?, *v.get(at + 1)?]))
}

fn be32(v: &[u8], at: usize) -> Option<u32> {
    let b = v.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn text(s: &mut String, v: &[u8]) -> Option<()> {
    set_text(s, v);
    Some(())
}

fn oid(s: &mut String, v: &[u8]) -> Option<()> {
    set_oid(s, v);
    Some(())
}

fn ipv4(v: &[u8]) -> String {
    let mut s = String::new();
    fmt::set_ip(&mut s, v);
    s
}

fn mac(v: &[u8]) -> String {
    let mut s = String::new();
    set_mac(&mut s, v);
    s
}

/// The addresses of an Addresses / Management Addresses TLV as text (IP text for 4- and
/// 16-byte addresses, hex otherwise). `None` when the TLV is cut inside an address.
fn addresses(v: &[u8], list: &mut Vec<String>) -> Option<()> {
    list.clear();
    let n = be32(v, 0)?;
    let mut at = 4;
    for _ in 0..n {
        if at >= v.len() {
            return None;
        }
        let plen = usize::from(*v.get(at + 1)?);
        let alen = usize::from(be16(v, at + 2 + plen)?);
        let a = v.get(at + 4 + plen..at + 4 + plen + alen)?;
        let mut s = String::new();
        match a.len() {
            4 | 16 => fmt::set_ip(&mut s, a),
            _ => a.iter().for_each(|x| {
                let _ = write!(s, "{x:02x}");
            }),
        }
        list.push(s);
        at += 4 + plen + alen;
    }
    Some(())
}

fn power(v: &[u8]) -> Option<PowerDialogue> {
    let mut d = PowerDialogue { id: u32::from(be16(v, 0)?), mgmt_id: u32::from(be16(v, 2)?), values: Vec::new() };
    let mut at = 4;
    while let Some(x) = be32(v, at) {
        d.values.push(x);
        at += 4;
    }
    Some(d)
}

fn energy_wise(v: &[u8]) -> Option<EnergyWise> {
    let g = |a: usize, b: usize| v.get(a..b);
    let mut e = EnergyWise {
        encrypted_data: g(0, 20)?.to_vec(),
        unknown1: be32(v, 20)?,
        sequence_number: be32(v, 24)?,
        model_number: String::from_utf8_lossy(g(28, 44)?).into_owned(),
        unknown2: u32::from(be16(v, 44)?),
        hardware_id: String::from_utf8_lossy(g(46, 49)?).into_owned(),
        serial_num: String::from_utf8_lossy(g(49, 60)?).into_owned(),
        unknown3: g(60, 68)?.to_vec(),
        ..Default::default()
    };
    let n = be16(v, 70)?;
    let mut at = 72;
    // Sub-TLVs: 4-byte type, 4-byte length (header included).
    for _ in 0..n {
        let (Some(ty), Some(len)) = (be32(v, at), be32(v, at + 4)) else { break };
        let len = len as usize;
        if len < 8 {
            break;
        }
        let s = v.get(at + 8..at + len)?;
        match ty {
            7 => e.role = String::from_utf8_lossy(s).into_owned(),
            8 => e.domain = String::from_utf8_lossy(s).into_owned(),
            9 => e.name = String::from_utf8_lossy(s).into_owned(),
            0x17 if s.len() >= 18 => {
                e.reply_unknown1 = s[0..2].to_vec();
                e.reply_port = s[2..4].to_vec();
                e.reply_address = s[4..8].to_vec();
                e.reply_unknown2 = s[8..10].to_vec();
                e.reply_unknown3 = s[10..14].to_vec();
            }
            _ => {}
        }
        at += len;
    }
    Some(e)
}

impl Link {
    /// `end` bounds the frame (802.3 length), so Ethernet padding is not read as TLVs.
    pub(crate) fn cdp_frame(&mut self, p: &Packet<'_>, l: Layer, end: usize, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..end.max(l.offset)).unwrap_or_default();
        if d.is_empty() {
            out.error("cdp: header truncated");
            return;
        }
        let m = &mut self.cdp;
        m.timestamp = p.ts_nanos;
        m.version = u32::from(d[0]);
        m.ttl = d.get(1).map_or(0, |x| u32::from(*x));
        m.checksum = be16(d, 2).map_or(0, u32::from);
        m.values.clear();
        let i = &mut self.cdp_info;
        *i = Default::default();
        i.timestamp = p.ts_nanos;
        let mut err = if d.len() < 4 { Some("cdp: header truncated") } else { None };
        let mut at = 4;
        // Every TLV takes at least 4 bytes, so the loop is bounded by the data.
        while at < d.len() {
            let (Some(ty), Some(len)) = (be16(d, at), be16(d, at + 2)) else {
                err = Some("cdp: tlv truncated");
                break;
            };
            let n = usize::from(len);
            if n < 4 {
                err = Some("cdp: bad tlv length");
                break;
            }
            let Some(v) = d.get(at + 4..at + n) else {
                err = Some("cdp: tlv truncated");
                break;
            };
            at += n;
            m.values.push(Value { r#type: u32::from(ty), length: u32::from(len), value: v.to_vec() });
            let ok = match ty {
                0x01 => text(&mut i.device_id, v),
                0x02 => addresses(v, &mut i.addresses),
                0x03 => text(&mut i.port_id, v),
                0x04 => be32(v, 0).map(|c| {
                    let b = |x: u32| c & x != 0;
                    i.capabilities = Some(Capabilities {
                        l3_router: b(0x1),
                        tb_bridge: b(0x2),
                        sp_bridge: b(0x4),
                        l2_switch: b(0x8),
                        is_host: b(0x10),
                        igmp_filter: b(0x20),
                        l1_repeater: b(0x40),
                        is_phone: b(0x80),
                        remotely_managed: b(0x100),
                    });
                }),
                0x05 => text(&mut i.version, v),
                0x06 => text(&mut i.platform, v),
                // A 4-byte value is the ODR default gateway, not a prefix list.
                0x07 if v.len() == 4 => {
                    i.unknown.push(Value { r#type: u32::from(ty), length: u32::from(len), value: v.to_vec() });
                    Some(())
                }
                0x07 if v.len() % 5 == 0 => {
                    for c in v.chunks_exact(5) {
                        let bits = u32::from(c[4].min(32));
                        let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                        let ip = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) & mask;
                        i.ip_prefixes.push(IpNet { ip: ipv4(&ip.to_be_bytes()), ip_mask: ipv4(&mask.to_be_bytes()) });
                    }
                    Some(())
                }
                0x07 => None,
                0x08 => (v.len() >= 32).then(|| {
                    i.cdp_hello = Some(Hello {
                        oui: v[0..3].to_vec(),
                        protocol_id: u32::from(u16::from_be_bytes([v[3], v[4]])),
                        cluster_master: ipv4(&v[5..9]),
                        unknown1: ipv4(&v[9..13]),
                        version: u32::from(v[13]),
                        sub_version: u32::from(v[14]),
                        status: u32::from(v[15]),
                        unknown2: u32::from(v[16]),
                        cluster_commander: mac(&v[17..23]),
                        switch_mac: mac(&v[23..29]),
                        unknown3: u32::from(v[29]),
                        management_vlan: u32::from(u16::from_be_bytes([v[30], v[31]])),
                    });
                }),
                0x09 => text(&mut i.vtp_domain, v),
                0x0a => be16(v, 0).map(|x| i.native_vlan = u32::from(x)),
                0x0b => v.first().map(|x| i.full_duplex = *x == 1),
                0x0e | 0x0f => (v.len() >= 3).then(|| {
                    let d =
                        Some(VlanDialogue { id: u32::from(v[0]), vlan: u32::from(u16::from_be_bytes([v[1], v[2]])) });
                    if ty == 0x0e {
                        i.vlan_reply = d;
                    } else {
                        i.vlan_query = d;
                    }
                }),
                0x10 => be16(v, 0).map(|x| i.power_consumption = u32::from(x)),
                0x11 => be32(v, 0).map(|x| i.mtu = x),
                0x12 => v.first().map(|x| i.extended_trust = u32::from(*x)),
                0x13 => v.first().map(|x| i.untrusted_cos = u32::from(*x)),
                0x14 => text(&mut i.sys_name, v),
                // Dotted OID (gopacket keeps the raw BER bytes as a string).
                0x15 => oid(&mut i.sys_oid, v),
                0x16 => addresses(v, &mut i.mgmt_addresses),
                0x17 => v.first().map(|t| {
                    let mut s = String::new();
                    set_text(&mut s, &v[1..]);
                    i.location = Some(Location { r#type: u32::from(*t), location: s });
                }),
                0x19 => power(v).map(|x| i.power_request = Some(x)),
                0x1a => power(v).map(|x| i.power_available = Some(x)),
                0x1d => energy_wise(v).map(|x| i.energy_wise = Some(x)),
                0x1f => v.first().map(|x| {
                    i.spare_pair_poe = Some(SparePairPoE {
                        pse_four_wire: x & 1 != 0,
                        pd_arch_shared: x & 2 != 0,
                        pd_request_on: x & 4 != 0,
                        pse_on: x & 8 != 0,
                    });
                }),
                _ => {
                    let mut u = Value { r#type: u32::from(ty), length: u32::from(len), value: Vec::new() };
                    set_bytes(&mut u.value, v);
                    i.unknown.push(u);
                    Some(())
                }
            };
            if ok.is_none() && err.is_none() {
                err = Some("cdp: bad tlv value");
            }
        }
        if self.on(T_CDP) {
            out.record(T_CDP, &self.cdp);
        }
        if self.on(T_CDP_INFO) {
            out.record(T_CDP_INFO, &self.cdp_info);
        }
        if let Some(e) = err {
            out.error(e);
        }
    }
}
