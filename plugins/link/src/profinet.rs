//! PROFINET (EtherType 0x8892, also VLAN-tagged): one PROFINETDCP record per DCP frame (FrameID
//! 0xfefc-0xfeff: header, blocks, the values of the NameOfStation, IP parameter, Device ID,
//! Device Role, AliasName, DeviceVendorValue and Device Options blocks) and one PROFINETRT record
//! per other frame (FrameID class by Wireshark's ranges, the cyclic trailer, the alarm header).
//! A PROFINET frame carries no length: its data runs to the end of the captured frame, so a
//! frame cut short by the snap length has no cyclic trailer (counted error, partial record).

use crate::decode::{Link, T_PN_DCP, T_PN_RT, set_mac, set_text};
use netcap_proto::v1::profinetdcp::{Block, Option as DevOption};
use netcap_proto::v1::{Profinetdcp, Profinetrt};
use netcap_sdk::{Emitter, Layer, Packet, layer};

/// DCP service ids whose blocks start with a 2-byte BlockInfo (responses to identify and get,
/// hello requests) or BlockQualifier (set requests).
const SERVICE_GET: u8 = 3;
const SERVICE_SET: u8 = 4;
const SERVICE_IDENTIFY: u8 = 5;
const SERVICE_HELLO: u8 = 6;

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn set_ipv4(s: &mut String, b: &[u8]) {
    s.clear();
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        use std::fmt::Write as _;
        let _ = write!(s, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
    }
}

/// The class of a non-DCP FrameID and whether it is cyclic, by Wireshark's ranges (for devices
/// without time awareness, which it learns from the connect exchange).
pub(crate) fn frame_class(id: u16) -> (&'static str, bool) {
    match id {
        0x0020..=0x0021 | 0x0080..=0x0081 => ("ptcp-sync", false),
        0x0100..=0x0fff => ("rtc3", true),
        0x8000..=0xbfff => ("rtc1", true),
        0xc000..=0xfbff => ("rtc1-legacy", true),
        0xfc01 => ("alarm-high", false),
        0xfe01 => ("alarm-low", false),
        0xfe02 => ("rsi", false),
        0xff00..=0xff1f => ("ptcp-announce", false),
        0xff20..=0xff3f => ("ptcp-follow-up", false),
        0xff40..=0xff43 => ("ptcp-delay", false),
        0xff80..=0xff8f => ("fragmentation", false),
        _ => ("reserved", false),
    }
}

impl Link {
    pub(crate) fn profinet(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        let Some(id) = be16(d, 0) else {
            out.error("profinet: frame id truncated");
            return;
        };
        if (0xfefc..=0xfeff).contains(&id) {
            if self.on(T_PN_DCP) {
                self.dcp(p, l, id, &d[2..], out);
            }
        } else if self.on(T_PN_RT) {
            self.rt(p, l, id, &d[2..], out);
        }
    }

    fn rt(&mut self, p: &Packet<'_>, l: Layer, id: u16, d: &[u8], out: &mut Emitter<'_>) {
        // A frame cut by the snap length has lost its end, where the cyclic trailer is.
        let cut = (p.orig_len as usize) > p.data.len();
        let m = &mut self.pn_rt;
        let (class, cyclic) = frame_class(id);
        *m = Profinetrt {
            src_mac: emptied(&mut m.src_mac),
            dst_mac: emptied(&mut m.dst_mac),
            frame_class: emptied(&mut m.frame_class),
            ..Default::default()
        };
        m.timestamp = p.ts_nanos;
        m.tunnel_depth = l.depth();
        set_macs(&mut m.src_mac, &mut m.dst_mac, eth_macs(p, l));
        m.frame_id = u32::from(id);
        set_text(&mut m.frame_class, class.as_bytes());
        m.cyclic = cyclic;
        let mut err = None;
        if cyclic {
            m.data_length = d.len().saturating_sub(4) as u32;
            match d.len().checked_sub(4) {
                Some(t) if !cut => {
                    m.cycle_counter = u32::from(be16(d, t).unwrap_or(0));
                    m.data_status = u32::from(d[t + 2]);
                    m.transfer_status = u32::from(d[t + 3]);
                }
                _ => err = Some("profinet: cyclic frame truncated"),
            }
        } else {
            m.data_length = d.len() as u32;
        }
        if matches!(id, 0xfc01 | 0xfe01) {
            err = err.or(alarm(m, d));
        }
        out.record(T_PN_RT, &self.pn_rt);
        if let Some(e) = err {
            out.error(e);
        }
    }

    fn dcp(&mut self, p: &Packet<'_>, l: Layer, id: u16, d: &[u8], out: &mut Emitter<'_>) {
        let m = &mut self.pn_dcp;
        reset_dcp(m);
        m.timestamp = p.ts_nanos;
        m.tunnel_depth = l.depth();
        set_macs(&mut m.src_mac, &mut m.dst_mac, eth_macs(p, l));
        m.frame_id = u32::from(id);
        let err = dcp_fields(m, d);
        out.record(T_PN_DCP, &self.pn_dcp);
        if let Some(e) = err {
            out.error(e);
        }
    }
}

/// A string emptied, keeping its allocation for the next packet.
fn emptied(x: &mut String) -> String {
    let mut t = std::mem::take(x);
    t.clear();
    t
}

fn emptied_vec<T>(x: &mut Vec<T>) -> Vec<T> {
    let mut t = std::mem::take(x);
    t.clear();
    t
}

/// Every field zero or empty; the strings and lists keep their allocations.
fn reset_dcp(m: &mut Profinetdcp) {
    *m = Profinetdcp {
        src_mac: emptied(&mut m.src_mac),
        dst_mac: emptied(&mut m.dst_mac),
        name_of_station: emptied(&mut m.name_of_station),
        ip_address: emptied(&mut m.ip_address),
        subnet_mask: emptied(&mut m.subnet_mask),
        gateway: emptied(&mut m.gateway),
        alias_name: emptied(&mut m.alias_name),
        vendor_value: emptied(&mut m.vendor_value),
        blocks: emptied_vec(&mut m.blocks),
        device_options: emptied_vec(&mut m.device_options),
        requested_options: emptied_vec(&mut m.requested_options),
        ..Default::default()
    };
}

/// The destination and source addresses of the nearest Ethernet header before the layer.
fn eth_macs<'a>(p: &Packet<'a>, l: Layer) -> Option<&'a [u8]> {
    let e = p.layers().take_while(|x| x.offset < l.offset).filter(|x| x.id == layer::ETHERNET).last()?;
    p.data.get(e.offset..e.offset + 12)
}

fn set_macs(src: &mut String, dst: &mut String, macs: Option<&[u8]>) {
    src.clear();
    dst.clear();
    if let Some(b) = macs {
        set_mac(dst, &b[..6]);
        set_mac(src, &b[6..12]);
    }
}

/// The RTA header of an alarm frame; an error when it is cut short.
fn alarm(m: &mut Profinetrt, d: &[u8]) -> Option<&'static str> {
    let v = |at| be16(d, at).map(u32::from);
    m.alarm_dst_endpoint = v(0).unwrap_or(0);
    m.alarm_src_endpoint = v(2).unwrap_or(0);
    if let Some(&t) = d.get(4) {
        m.pdu_type = u32::from(t & 0x0f);
        m.pdu_version = u32::from(t >> 4);
    }
    if let Some(&f) = d.get(5) {
        m.window_size = u32::from(f & 0x0f);
        m.tack = u32::from(f >> 4);
    }
    m.send_seq_num = v(6).unwrap_or(0);
    m.ack_seq_num = v(8).unwrap_or(0);
    m.var_part_len = v(10).unwrap_or(0);
    (d.len() < 12).then_some("profinet: alarm header truncated")
}

/// The DCP header and blocks (within DCPDataLength and the frame; each block padded to an even
/// length); an error when the header or a block is cut short.
pub(crate) fn dcp_fields(m: &mut Profinetdcp, d: &[u8]) -> Option<&'static str> {
    let (Some(&sid), Some(&st)) = (d.first(), d.get(1)) else {
        return Some("profinet-dcp: header truncated");
    };
    m.service_id = u32::from(sid);
    m.service_type = u32::from(st);
    m.xid = be32(d, 2).unwrap_or(0);
    if sid == SERVICE_IDENTIFY && st == 0 {
        m.response_delay = u32::from(be16(d, 6).unwrap_or(0));
    }
    let Some(len) = be16(d, 8) else {
        return Some("profinet-dcp: header truncated");
    };
    m.data_length = u32::from(len);
    let body = d.get(10..).unwrap_or_default();
    let end = usize::from(len);
    let b = &body[..end.min(body.len())];
    let response = st & 1 != 0;
    if sid == SERVICE_GET && !response {
        m.requested_options.extend(b.chunks_exact(2).map(|c| option(c[0], c[1])));
        return (end > body.len() || b.len() % 2 != 0).then_some("profinet-dcp: blocks truncated");
    }
    let info = (matches!(sid, SERVICE_IDENTIFY | SERVICE_GET) && response) || (sid == SERVICE_HELLO && !response);
    let qualifier = sid == SERVICE_SET && !response;
    let skip = if info || qualifier { 2 } else { 0 };
    let mut at = 0;
    // Every block takes at least 4 bytes, so the loop is bounded by the data.
    while at < b.len() {
        let (Some(&opt), Some(&sub), Some(n)) = (b.get(at), b.get(at + 1), be16(b, at + 2)) else {
            return Some("profinet-dcp: block truncated");
        };
        let n = usize::from(n);
        m.blocks.push(Block { option: u32::from(opt), suboption: u32::from(sub), length: n as u32 });
        let Some(v) = b.get(at + 4..at + 4 + n) else {
            return Some("profinet-dcp: block truncated");
        };
        block(m, opt, sub, v.get(skip..).unwrap_or_default());
        at += 4 + n + (n & 1);
    }
    (end > body.len()).then_some("profinet-dcp: blocks truncated")
}

fn option(o: u8, s: u8) -> DevOption {
    DevOption { option: u32::from(o), suboption: u32::from(s) }
}

/// One block's value (after its BlockInfo or BlockQualifier).
fn block(m: &mut Profinetdcp, opt: u8, sub: u8, v: &[u8]) {
    match (opt, sub) {
        (1, 2) if v.len() >= 12 => {
            set_ipv4(&mut m.ip_address, &v[0..4]);
            set_ipv4(&mut m.subnet_mask, &v[4..8]);
            set_ipv4(&mut m.gateway, &v[8..12]);
        }
        (2, 1) => set_text(&mut m.vendor_value, v),
        (2, 2) => set_text(&mut m.name_of_station, v),
        (2, 3) if v.len() >= 4 => {
            m.vendor_id = u32::from(be16(v, 0).unwrap_or(0));
            m.device_id = u32::from(be16(v, 2).unwrap_or(0));
        }
        (2, 4) if !v.is_empty() => m.device_role = u32::from(v[0]),
        (2, 5) => {
            m.device_options.extend(v.chunks_exact(2).map(|c| option(c[0], c[1])));
        }
        (2, 6) => set_text(&mut m.alias_name, v),
        _ => {}
    }
}
