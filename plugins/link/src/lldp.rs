//! LLDP (IEEE 802.1AB): one LinkLayerDiscovery record (mandatory TLVs and the list of every TLV)
//! and one LinkLayerDiscoveryInfo record (the optional TLVs decoded) per LLDPDU.

use crate::decode::{Link, T_LLDP, T_LLDP_INFO, set_bytes, set_oid, set_text};
use netcap_proto::v1::link_layer_discovery::{ChassisId, PortId, Value};
use netcap_proto::v1::link_layer_discovery_info::{Capabilities, MgmtAddress, OrgSpecificTlv, SysCapabilities};
use netcap_sdk::{Emitter, Layer, Packet};

fn caps(v: u16) -> Capabilities {
    let b = |m: u16| v & m != 0;
    Capabilities {
        other: b(0x1),
        repeater: b(0x2),
        bridge: b(0x4),
        wlanap: b(0x8),
        router: b(0x10),
        phone: b(0x20),
        docsis: b(0x40),
        station_only: b(0x80),
        cvlan: b(0x100),
        svlan: b(0x200),
        tmpr: b(0x400),
    }
}

fn be16(v: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*v.get(at)?, *v.get(at + 1)?]))
}

impl Link {
    pub(crate) fn lldp_frame(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        let m = &mut self.lldp;
        let info = &mut self.lldp_info;
        m.timestamp = p.ts_nanos;
        m.chassis_id = None;
        m.port_id = None;
        m.ttl = 0;
        m.values.clear();
        info.timestamp = p.ts_nanos;
        info.port_description.clear();
        info.sys_name.clear();
        info.sys_description.clear();
        info.sys_capabilities = None;
        info.mgmt_address = None;
        info.org_tlvs.clear();
        info.unknown.clear();
        let mut err = None;
        let mut end = false;
        let (mut have_ttl, mut at) = (false, 0);
        // Every TLV takes at least 2 bytes, so the loop is bounded by the data.
        while at < d.len() {
            let Some(h) = be16(d, at) else {
                err = Some("lldp: tlv truncated");
                break;
            };
            let (ty, len) = (h >> 9, usize::from(h & 0x1ff));
            let Some(v) = d.get(at + 2..at + 2 + len) else {
                err = Some("lldp: tlv truncated");
                break;
            };
            at += 2 + len;
            m.values.push(Value { r#type: u32::from(ty), length: len as u32, value: v.to_vec() });
            let short = match ty {
                0 => {
                    end = true;
                    break;
                }
                1 | 2 if v.len() >= 2 => {
                    let (subtype, id) = (u32::from(v[0]), v[1..].to_vec());
                    if ty == 1 {
                        m.chassis_id = Some(ChassisId { subtype, id });
                    } else {
                        m.port_id = Some(PortId { subtype, id });
                    }
                    false
                }
                3 => match be16(v, 0) {
                    Some(t) => {
                        m.ttl = u32::from(t);
                        have_ttl = true;
                        false
                    }
                    None => true,
                },
                4 => {
                    set_text(&mut info.port_description, v);
                    false
                }
                5 => {
                    set_text(&mut info.sys_name, v);
                    false
                }
                6 => {
                    set_text(&mut info.sys_description, v);
                    false
                }
                7 => match (be16(v, 0), be16(v, 2)) {
                    (Some(s), Some(e)) => {
                        info.sys_capabilities =
                            Some(SysCapabilities { system_cap: Some(caps(s)), enabled_cap: Some(caps(e)) });
                        false
                    }
                    _ => true,
                },
                8 => mgmt_address(v).map(|a| info.mgmt_address = Some(a)).is_none(),
                127 if v.len() >= 4 => {
                    let oui = u32::from_be_bytes([0, v[0], v[1], v[2]]);
                    info.org_tlvs.push(OrgSpecificTlv { oui, sub_type: u32::from(v[3]), info: v[4..].to_vec() });
                    false
                }
                1 | 2 | 127 => true,
                _ => {
                    info.unknown.push(Value { r#type: u32::from(ty), length: len as u32, value: v.to_vec() });
                    false
                }
            };
            if short && err.is_none() {
                err = Some("lldp: tlv too short");
            }
        }
        if err.is_none() && (m.chassis_id.is_none() || m.port_id.is_none() || !have_ttl) {
            err = Some("lldp: mandatory tlv missing");
        }
        if err.is_none() && !end {
            err = Some("lldp: end tlv missing");
        }
        if self.on(T_LLDP) {
            out.record(T_LLDP, &self.lldp);
        }
        if self.on(T_LLDP_INFO) {
            out.record(T_LLDP_INFO, &self.lldp_info);
        }
        if let Some(e) = err {
            out.error(e);
        }
    }
}

/// A management address TLV: address string length (subtype included), subtype, address,
/// interface numbering subtype, interface number, OID length, OID.
fn mgmt_address(v: &[u8]) -> Option<MgmtAddress> {
    let alen = usize::from(*v.first()?);
    let mut a = MgmtAddress { subtype: u32::from(*v.get(1)?), ..Default::default() };
    set_bytes(&mut a.address, v.get(2..1 + alen)?);
    a.interface_subtype = u32::from(*v.get(1 + alen)?);
    let n = v.get(2 + alen..6 + alen)?;
    a.interface_number = u32::from_be_bytes([n[0], n[1], n[2], n[3]]);
    let olen = usize::from(*v.get(6 + alen)?);
    set_oid(&mut a.oid, v.get(7 + alen..7 + alen + olen)?);
    Some(a)
}
