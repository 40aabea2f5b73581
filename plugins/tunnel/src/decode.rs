//! GRE, VXLAN, Geneve, MPLS and GTPv1 header fields from the layers the host dissected. The host has
//! already found where each header starts (and dissects the encapsulated packet as inner layers
//! with a higher tunnel depth); this module reads the header fields. A header cut short yields a
//! record with the fields that were present and a counted error. Message values are reused
//! between packets; loops are bounded by the bytes present, never by a length field alone.

use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, Packet, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_GRE: u16 = 0;
pub const T_VXLAN: u16 = 1;
pub const T_GENEVE: u16 = 2;
pub const T_MPLS: u16 = 3;
pub const T_GTP: u16 = 4;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 5] = [
    ("GRE", "netcap.v1.GRE"),
    ("VXLAN", "netcap.v1.VXLAN"),
    ("Geneve", "netcap.v1.Geneve"),
    ("MPLS", "netcap.v1.MPLS"),
    ("GTP", "netcap.v1.GTP"),
];

/// The layers this decoder asks the host for.
pub const LAYERS: [&str; 5] = ["gre", "vxlan", "geneve", "mpls", "gtp"];

/// Per-instance decoder state.
#[derive(Default)]
pub struct Tunnel {
    enabled: [bool; 5],
    gre: v1::Gre,
    vxlan: v1::Vxlan,
    geneve: v1::Geneve,
    mpls: v1::Mpls,
    gtp: v1::Gtp,
}

fn be16(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl Tunnel {
    pub fn new(config: &Config) -> Self {
        let mut d = Tunnel::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for (i, l) in p.layers().enumerate() {
            match l.id {
                layer::GRE if self.enabled[T_GRE as usize] => self.gre(p, i, l, out),
                layer::VXLAN if self.enabled[T_VXLAN as usize] => self.vxlan(p, i, l, out),
                layer::GENEVE if self.enabled[T_GENEVE as usize] => self.geneve(p, i, l, out),
                layer::MPLS if self.enabled[T_MPLS as usize] => self.mpls(p, l, out),
                layer::GTP if self.enabled[T_GTP as usize] => self.gtp(p, i, l, out),
                _ => {}
            }
        }
    }

    fn gre(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        let r = &mut self.gre;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        let e = p.endpoints(i);
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        r.checksum = 0;
        r.offset = 0;
        r.key = 0;
        r.seq = 0;
        r.ack = 0;
        r.payload_length = 0;
        r.call_id = 0;
        r.routing.clear();
        let Some(w) = be16(d, 0) else {
            r.checksum_present = false;
            r.routing_present = false;
            r.key_present = false;
            r.seq_present = false;
            r.strict_source_route = false;
            r.ack_present = false;
            r.recursion_control = 0;
            r.flags = 0;
            r.version = 0;
            r.protocol = 0;
            out.record(T_GRE, &self.gre);
            out.error("gre: header truncated");
            return;
        };
        r.checksum_present = w & 0x8000 != 0;
        r.routing_present = w & 0x4000 != 0;
        r.key_present = w & 0x2000 != 0;
        r.seq_present = w & 0x1000 != 0;
        r.strict_source_route = w & 0x0800 != 0;
        r.recursion_control = (w >> 8) & 7;
        r.ack_present = w & 0x0080 != 0;
        r.flags = (w >> 3) & 0x1f;
        r.version = w & 7;
        let complete = gre_rest(r, d);
        out.record(T_GRE, &self.gre);
        if !complete {
            out.error("gre: header truncated");
        }
    }

    fn vxlan(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        let r = &mut self.vxlan;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        let e = p.endpoints(i);
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        let flags = be16(d, 0).unwrap_or(0);
        r.flags = flags;
        r.gbp_extension = flags & 0x8000 != 0;
        r.valid_id_flag = flags & 0x0800 != 0;
        r.gbp_dont_learn = flags & 0x0040 != 0;
        r.gbp_applied = flags & 0x0008 != 0;
        // The group policy ID is only there with the G bit; otherwise the word is reserved.
        r.gbp_group_policy_id = if r.gbp_extension { be16(d, 2).unwrap_or(0) } else { 0 };
        r.vni = be32(d, 4).map_or(0, |v| v >> 8);
        out.record(T_VXLAN, &self.vxlan);
        if d.len() < 8 {
            out.error("vxlan: header truncated");
        }
    }

    fn geneve(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        let r = &mut self.geneve;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        let e = p.endpoints(i);
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        let b0 = d.first().copied().unwrap_or(0);
        let b1 = d.get(1).copied().unwrap_or(0);
        r.version = u32::from(b0 >> 6);
        r.options_length = u32::from(b0 & 0x3f) * 4;
        r.oam_packet = b1 & 0x80 != 0;
        r.critical_option = b1 & 0x40 != 0;
        r.protocol = be16(d, 2).unwrap_or(0);
        r.vni = be32(d, 4).map_or(0, |v| v >> 8);
        let mut error = if d.len() < 8 { Some("geneve: header truncated") } else { None };
        // Options: TLVs within options_length bytes after the fixed header. Option values are
        // reused between packets (n counts the ones of this packet).
        let end = 8 + r.options_length as usize;
        let mut at = 8;
        let mut n = 0;
        while error.is_none() && at < end {
            let Some(h) = d.get(at..at + 4) else {
                error = Some("geneve: header truncated");
                break;
            };
            let len = usize::from(h[3] & 0x1f) * 4;
            let body = d.get(at + 4..(at + 4 + len).min(d.len())).unwrap_or_default();
            if n == r.options.len() {
                r.options.push(v1::GeneveOption::default());
            }
            let o = &mut r.options[n];
            n += 1;
            o.class = u32::from(u16::from_be_bytes([h[0], h[1]]));
            o.r#type = u32::from(h[2]);
            o.flags = u32::from(h[3] >> 5);
            o.length = 4 + len as u32;
            o.data.clear();
            o.data.extend_from_slice(body);
            if body.len() < len {
                error = Some("geneve: header truncated");
            } else if at + 4 + len > end {
                error = Some("geneve: option overruns the options length");
            }
            at += 4 + len;
        }
        r.options.truncate(n);
        out.record(T_GENEVE, &self.geneve);
        if let Some(e) = error {
            out.error(e);
        }
    }

    fn mpls(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        let r = &mut self.mpls;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        let Some(v) = be32(d, 0) else {
            r.label = 0;
            r.traffic_class = 0;
            r.stack_bottom = false;
            r.ttl = 0;
            out.record(T_MPLS, &self.mpls);
            out.error("mpls: label truncated");
            return;
        };
        r.label = v >> 12;
        r.traffic_class = (v >> 9) & 7;
        r.stack_bottom = v & 0x100 != 0;
        r.ttl = v & 0xff;
        out.record(T_MPLS, &self.mpls);
    }
}

impl Tunnel {
    fn gtp(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let d = p.data.get(l.offset..).unwrap_or_default();
        let r = &mut self.gtp;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        let e = p.endpoints(i);
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        r.src_port = u32::from(e.src_port);
        r.dst_port = u32::from(e.dst_port);
        let flags = d.first().copied().unwrap_or(0);
        r.version = u32::from(flags >> 5);
        r.protocol_type = u32::from(flags >> 4 & 1);
        r.extension_header_flag = flags & 4 != 0;
        r.sequence_number_flag = flags & 2 != 0;
        r.npdu_number_flag = flags & 1 != 0;
        r.message_type = d.get(1).copied().map_or(0, u32::from);
        r.length = be16(d, 2).unwrap_or(0);
        r.teid = be32(d, 4).unwrap_or(0);
        r.sequence_number = 0;
        r.npdu_number = 0;
        r.next_extension_header_type = 0;
        let complete = gtp_rest(r, d, flags & 7 != 0);
        out.record(T_GTP, &self.gtp);
        if let Err(e) = complete {
            out.error(e);
        }
    }
}

/// The GTP fields after the mandatory 8 bytes: the optional word and the extension headers
/// (message values reused; only this packet's are kept).
fn gtp_rest(r: &mut v1::Gtp, d: &[u8], optional: bool) -> Result<(), &'static str> {
    let mut n = 0;
    let result = gtp_extensions(r, d, optional, &mut n);
    r.extension_headers.truncate(n);
    result
}

/// Reads the optional word and the extension headers into `r`, counting them in `n`.
fn gtp_extensions(r: &mut v1::Gtp, d: &[u8], optional: bool, n: &mut usize) -> Result<(), &'static str> {
    if d.len() < 8 {
        return Err("gtp: header truncated");
    }
    if !optional {
        return Ok(());
    }
    let o = d.get(8..12).ok_or("gtp: header truncated")?;
    r.sequence_number = u32::from(u16::from_be_bytes([o[0], o[1]]));
    r.npdu_number = u32::from(o[2]);
    r.next_extension_header_type = u32::from(o[3]);
    let mut next = o[3];
    let mut at = 12;
    while next != 0 {
        let len = usize::from(*d.get(at).ok_or("gtp: header truncated")?) * 4;
        if len == 0 || *n == 16 {
            return Err("gtp: extension header malformed");
        }
        let h = d.get(at..at + len).ok_or("gtp: header truncated")?;
        if *n == r.extension_headers.len() {
            r.extension_headers.push(v1::GtpExtensionHeader::default());
        }
        let x = &mut r.extension_headers[*n];
        *n += 1;
        x.r#type = u32::from(next);
        x.length = len as u32;
        x.content.clear();
        x.content.extend_from_slice(&h[1..len - 1]);
        next = h[len - 1];
        x.next_type = u32::from(next);
        at += len;
    }
    Ok(())
}

/// The GRE fields after the flags word; false when the header is cut short.
fn gre_rest(r: &mut v1::Gre, d: &[u8]) -> bool {
    let Some(proto) = be16(d, 2) else {
        r.protocol = 0;
        return false;
    };
    r.protocol = proto;
    let mut at = 4;
    if r.checksum_present || r.routing_present {
        let (Some(c), Some(o)) = (be16(d, at), be16(d, at + 2)) else { return false };
        r.checksum = c;
        r.offset = o;
        at += 4;
    }
    if r.key_present {
        let Some(k) = be32(d, at) else { return false };
        r.key = k;
        if r.version == 1 {
            r.payload_length = k >> 16;
            r.call_id = k & 0xffff;
        }
        at += 4;
    }
    if r.seq_present {
        let Some(s) = be32(d, at) else { return false };
        r.seq = s;
        at += 4;
    }
    // The acknowledgment number exists in enhanced GRE only (in version 0 the bit is reserved).
    if r.ack_present && r.version == 1 {
        let Some(a) = be32(d, at) else { return false };
        r.ack = a;
        at += 4;
    }
    if r.routing_present {
        // Source route entries up to the null entry (address family 0, length 0).
        loop {
            let (Some(af), Some(h)) = (be16(d, at), d.get(at + 2..at + 4)) else { return false };
            let (sre_offset, sre_len) = (h[0], usize::from(h[1]));
            if af == 0 && sre_len == 0 {
                break;
            }
            let Some(info) = d.get(at + 4..at + 4 + sre_len) else { return false };
            r.routing.push(v1::GreRoutingEntry {
                address_family: af,
                sre_offset: u32::from(sre_offset),
                sre_length: sre_len as u32,
                routing_information: info.to_vec(),
            });
            at += 4 + sre_len;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{TAG_ERROR, packets, push_packet};
    use prost::Message;

    fn run(data: &[u8], layers: &[Layer]) -> Vec<(u16, Vec<u8>)> {
        let mut batch = Vec::new();
        push_packet(&mut batch, 3, 42, 1, data.len() as u32, layers, data);
        let mut d = Tunnel::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        netcap_sdk::entries(&out).map(Result::unwrap).map(|e| (e.tag, e.bytes.to_vec())).collect()
    }

    fn l(id: u16, depth: u16, offset: usize) -> Layer {
        Layer { id, flags: depth << layer::DEPTH_SHIFT, offset }
    }

    /// An IPv4 header (20 bytes) with the given protocol, 192.0.2.1 -> 198.51.100.2.
    fn ipv4(proto: u8) -> Vec<u8> {
        let mut v = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        v.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
        v
    }

    #[test]
    fn gre_with_every_optional_field() {
        let mut p = ipv4(47);
        // C, R, K, S, s set, recursion 2, flags 0, version 0, protocol IPv4.
        p.extend_from_slice(&[0xfa, 0x00, 0x08, 0x00]);
        p.extend_from_slice(&[0xab, 0xcd, 0x00, 0x04]); // checksum, offset
        p.extend_from_slice(&[0, 0, 0x12, 0x34]); // key
        p.extend_from_slice(&[0, 0, 0, 7]); // sequence
        p.extend_from_slice(&[0x08, 0x00, 0, 4, 10, 0, 0, 1]); // SRE: IPv4, offset 0, 4 bytes
        p.extend_from_slice(&[0, 0, 0, 0]); // null SRE
        let recs = run(&p, &[l(layer::IPV4, 0, 0), l(layer::GRE, 0, 20)]);
        assert_eq!(recs.len(), 1);
        let g = v1::Gre::decode(&recs[0].1[..]).unwrap();
        assert!(g.checksum_present && g.routing_present && g.key_present && g.seq_present && g.strict_source_route);
        assert!(!g.ack_present);
        assert_eq!((g.recursion_control, g.flags, g.version, g.protocol), (2, 0, 0, 0x0800));
        assert_eq!((g.checksum, g.offset, g.key, g.seq), (0xabcd, 4, 0x1234, 7));
        assert_eq!(g.routing.len(), 1);
        assert_eq!(g.routing[0].routing_information, vec![10, 0, 0, 1]);
        assert_eq!((g.src_ip.as_str(), g.dst_ip.as_str(), g.tunnel_depth), ("192.0.2.1", "198.51.100.2", 0));
    }

    #[test]
    fn enhanced_gre_key_halves_and_ack() {
        let mut p = ipv4(47);
        p.extend_from_slice(&[0x30, 0x81, 0x88, 0x0b, 0x00, 0x10, 0x00, 0x2a, 0, 0, 0, 5, 0, 0, 0, 4]);
        let recs = run(&p, &[l(layer::IPV4, 1, 0), l(layer::GRE, 1, 20)]);
        let g = v1::Gre::decode(&recs[0].1[..]).unwrap();
        assert_eq!((g.version, g.protocol, g.payload_length, g.call_id), (1, 0x880b, 16, 42));
        assert_eq!((g.seq, g.ack, g.ack_present, g.tunnel_depth), (5, 4, true, 1));
    }

    #[test]
    fn vxlan_gbp_and_geneve_options() {
        let mut p = ipv4(17);
        p.extend_from_slice(&[0, 1, 0x12, 0xb5, 0, 24, 0, 0]); // UDP
        p.extend_from_slice(&[0x88, 0x48, 0x00, 0x63, 0x00, 0x01, 0x02, 0x00]);
        let recs = run(&p, &[l(layer::IPV4, 0, 0), l(layer::UDP, 0, 20), l(layer::VXLAN, 0, 28)]);
        let v = v1::Vxlan::decode(&recs[0].1[..]).unwrap();
        assert!(v.valid_id_flag && v.gbp_extension && v.gbp_dont_learn && v.gbp_applied);
        assert_eq!((v.gbp_group_policy_id, v.vni, v.flags), (0x63, 0x102, 0x8848));
        assert_eq!(v.src_ip, "192.0.2.1");

        let mut p = ipv4(17);
        p.extend_from_slice(&[0, 1, 0x17, 0xc1, 0, 0, 0, 0]); // UDP
        p.extend_from_slice(&[0x02, 0xc0, 0x65, 0x58, 0, 0, 0x0a, 0]);
        p.extend_from_slice(&[0x01, 0x02, 0x83, 0x21, 1, 2, 3, 4]); // class 0x102, type 0x83, 4 bytes
        let recs = run(&p, &[l(layer::IPV4, 0, 0), l(layer::UDP, 0, 20), l(layer::GENEVE, 0, 28)]);
        assert_eq!(recs.len(), 1);
        let g = v1::Geneve::decode(&recs[0].1[..]).unwrap();
        assert_eq!((g.version, g.options_length, g.protocol, g.vni), (0, 8, 0x6558, 10));
        assert!(g.oam_packet && g.critical_option);
        assert_eq!(g.options.len(), 1);
        let o = &g.options[0];
        assert_eq!((o.class, o.r#type, o.flags, o.length, o.data.as_slice()), (0x102, 0x83, 1, 8, &[1u8, 2, 3, 4][..]));
    }

    #[test]
    fn mpls_one_record_per_entry() {
        let p = [0x00, 0x01, 0x20, 0x40, 0x00, 0x02, 0x11, 0x3f];
        let recs = run(&p, &[l(layer::MPLS, 0, 0), l(layer::MPLS, 0, 4)]);
        let a = v1::Mpls::decode(&recs[0].1[..]).unwrap();
        let b = v1::Mpls::decode(&recs[1].1[..]).unwrap();
        assert_eq!((a.label, a.traffic_class, a.stack_bottom, a.ttl), (18, 0, false, 64));
        assert_eq!((b.label, b.traffic_class, b.stack_bottom, b.ttl), (33, 0, true, 63));
    }

    #[test]
    fn truncated_headers_at_every_length_give_partial_records_and_errors() {
        let gre = [0xb0, 0x00, 0x08, 0x00, 0xab, 0xcd, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 7];
        let geneve = [0x02, 0x00, 0x65, 0x58, 0, 0, 0x0a, 0, 0x01, 0x02, 0x03, 0x01, 1, 2, 3, 4];
        let vxlan = [0x08, 0, 0, 0, 0, 0, 1, 0];
        let mpls = [0, 1, 0x21, 0x40];
        for (id, full, kind) in [
            (layer::GRE, &gre[..], "gre: header truncated"),
            (layer::GENEVE, &geneve[..], "geneve: header truncated"),
            (layer::VXLAN, &vxlan[..], "vxlan: header truncated"),
            (layer::MPLS, &mpls[..], "mpls: label truncated"),
        ] {
            for n in 0..full.len() {
                let recs = run(&full[..n], &[l(id, 0, 0)]);
                assert_eq!(recs.len(), 2, "{kind} at {n}");
                assert_eq!(recs[1], (TAG_ERROR, kind.as_bytes().to_vec()));
            }
            let recs = run(full, &[l(id, 0, 0)]);
            assert_eq!(recs.len(), 1, "{kind} complete");
        }
        // A layer offset past the end of the data is not a panic either.
        let recs = run(&[0; 4], &[l(layer::GRE, 0, 100)]);
        assert_eq!(recs[1].0, TAG_ERROR);
    }
}
