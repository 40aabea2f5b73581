//! VRRP, BFD and OSPF field extraction. VRRP and OSPF come as host layers (IP protocols 112 and
//! 89); BFD control packets through port interests (UDP 3784 single hop, 4784 multihop), so the
//! BFD header is the UDP payload. A packet cut short yields a record with the fields that were
//! present and a counted error. Message values are reused between packets; loops are bounded by
//! the bytes present, never by a count field alone.

use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, Packet, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_VRRP: u16 = 0;
pub const T_BFD: u16 = 1;
pub const T_OSPFV2: u16 = 2;
pub const T_OSPFV3: u16 = 3;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 4] = [
    ("VRRPv2", "netcap.v1.VRRPv2"),
    ("BFD", "netcap.v1.BFD"),
    ("OSPFv2", "netcap.v1.OSPFv2"),
    ("OSPFv3", "netcap.v1.OSPFv3"),
];

/// BFD control packet ports (RFC 5881 single hop, RFC 5883 multihop).
pub const BFD_PORTS: [u16; 2] = [3784, 4784];

/// The layers and port interests this decoder asks the host for.
pub const LAYERS: [&str; 4] = ["vrrp", "ospf", "udp:3784", "udp:4784"];

/// Per-instance decoder state.
#[derive(Default)]
pub struct Routing {
    enabled: [bool; 4],
    vrrp: v1::VrrPv2,
    bfd: v1::Bfd,
    ospf2: v1::OspFv2,
    ospf3: v1::OspFv3,
}

fn be16(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn u8at(d: &[u8], at: usize) -> Option<u32> {
    d.get(at).map(|b| u32::from(*b))
}

/// Where the payload of the IP header nearest before layer `i` ends in the packet data: the IPv4
/// total length or the IPv6 payload length (when not 0: segmentation offload and jumbograms), so that link-layer padding and trailers are not
/// read as protocol data. The data length when there is no such header or its length is 0.
fn ip_payload_end(p: &Packet<'_>, i: usize) -> usize {
    let n = p.data.len();
    for j in (0..i).rev() {
        let Some(l) = p.layer(j) else { break };
        let end = match l.id {
            layer::IPV4 => be16(p.data, l.offset + 2).filter(|v| *v > 0).map(|v| l.offset + v as usize),
            layer::IPV6 => be16(p.data, l.offset + 4).filter(|v| *v > 0).map(|v| l.offset + 40 + v as usize),
            _ => continue,
        };
        return end.map_or(n, |e| e.min(n));
    }
    n
}

/// The bytes of layer `l` (index `i`) up to the end of the enclosing IP payload.
fn layer_bytes<'a>(p: &Packet<'a>, i: usize, l: Layer) -> &'a [u8] {
    p.data.get(l.offset..ip_payload_end(p, i).max(l.offset)).unwrap_or_default()
}

impl Routing {
    pub fn new(config: &Config) -> Self {
        let mut d = Routing::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for (i, l) in p.layers().enumerate() {
            match l.id {
                layer::VRRP if self.enabled[T_VRRP as usize] => self.vrrp(p, i, l, out),
                layer::OSPF => self.ospf(p, i, l, out),
                layer::UDP if self.enabled[T_BFD as usize] => {
                    let Some(ports) = p.data.get(l.offset..l.offset + 4) else { continue };
                    let sp = u16::from_be_bytes([ports[0], ports[1]]);
                    let dp = u16::from_be_bytes([ports[2], ports[3]]);
                    if BFD_PORTS.contains(&sp) || BFD_PORTS.contains(&dp) {
                        self.bfd(p, i, l, sp, dp, out);
                    }
                }
                _ => {}
            }
        }
    }

    fn vrrp(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let d = layer_bytes(p, i, l);
        let e = p.endpoints(i);
        let r = &mut self.vrrp;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        let b0 = u8at(d, 0).unwrap_or(0);
        r.version = b0 >> 4;
        r.r#type = b0 & 0xf;
        r.virtual_rtr_id = u8at(d, 1).unwrap_or(0);
        r.priority = u8at(d, 2).unwrap_or(0);
        r.count_ip_addr = u8at(d, 3).unwrap_or(0);
        if r.version == 3 {
            r.auth_type = 0;
            r.adver_int = be16(d, 4).unwrap_or(0) & 0x0fff;
        } else {
            r.auth_type = u8at(d, 4).unwrap_or(0);
            r.adver_int = u8at(d, 5).unwrap_or(0);
        }
        r.checksum = be16(d, 6).unwrap_or(0);
        // VRRPv3 over IPv6 announces IPv6 addresses; everything else IPv4 ones.
        let size = if r.version == 3 && e.src.len() == 16 { 16 } else { 4 };
        let mut complete = d.len() >= 8;
        let mut at = 8;
        let mut n = 0;
        let mut k = 0;
        while complete && k < r.count_ip_addr {
            let Some(a) = d.get(at..at + size) else {
                complete = false;
                break;
            };
            if n == r.ip_address.len() {
                r.ip_address.push(String::new());
            }
            fmt::set_ip(&mut r.ip_address[n], a);
            n += 1;
            k += 1;
            at += size;
        }
        r.ip_address.truncate(n);
        out.record(T_VRRP, &self.vrrp);
        if !complete {
            out.error("vrrp: packet truncated");
        }
    }

    fn bfd(&mut self, p: &Packet<'_>, i: usize, l: Layer, sp: u16, dp: u16, out: &mut Emitter<'_>) {
        // The UDP payload, up to the UDP length.
        let end = be16(p.data, l.offset + 4)
            .filter(|n| *n >= 8)
            .map_or(p.data.len(), |n| (l.offset + n as usize).min(p.data.len()));
        let d = p.data.get(l.offset + 8..end.max(l.offset + 8)).unwrap_or_default();
        let e = p.endpoints(i + 1);
        let r = &mut self.bfd;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        r.src_port = u32::from(sp);
        r.dst_port = u32::from(dp);
        let b0 = u8at(d, 0).unwrap_or(0);
        let b1 = u8at(d, 1).unwrap_or(0);
        r.version = b0 >> 5;
        r.diagnostic = b0 & 0x1f;
        r.state = b1 >> 6;
        r.poll = b1 & 0x20 != 0;
        r.r#final = b1 & 0x10 != 0;
        r.control_plane_independent = b1 & 0x08 != 0;
        r.auth_present = b1 & 0x04 != 0;
        r.demand = b1 & 0x02 != 0;
        r.multipoint = b1 & 0x01 != 0;
        r.detect_multiplier = u8at(d, 2).unwrap_or(0);
        r.length = u8at(d, 3).unwrap_or(0);
        r.my_discriminator = be32(d, 4).unwrap_or(0);
        r.your_discriminator = be32(d, 8).unwrap_or(0);
        r.desired_min_tx_interval = be32(d, 12).unwrap_or(0);
        r.required_min_rx_interval = be32(d, 16).unwrap_or(0);
        r.required_min_echo_rx_interval = be32(d, 20).unwrap_or(0);
        let mut complete = d.len() >= 24;
        if r.auth_present && complete {
            let a = r.auth_header.get_or_insert_with(Default::default);
            a.auth_type = u8at(d, 24).unwrap_or(0);
            let alen = u8at(d, 25).unwrap_or(0);
            a.auth_length = alen;
            a.key_id = u8at(d, 26).unwrap_or(0);
            a.data.clear();
            // Simple password: key id then the password; the MD5 / SHA1 types: key id,
            // a reserved byte, the sequence number, then the digest.
            let data_at = if a.auth_type == 1 { 27 } else { 32 };
            a.sequence_number = if a.auth_type == 1 { 0 } else { be32(d, 28).unwrap_or(0) };
            let end = 24 + alen as usize;
            if let Some(b) = d.get(data_at..end.min(d.len())) {
                a.data.extend_from_slice(b);
            }
            complete = d.len() >= end && end >= data_at;
        } else {
            r.auth_header = None;
        }
        out.record(T_BFD, &self.bfd);
        if !complete {
            out.error("bfd: packet truncated");
        }
    }

    fn ospf(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let d = layer_bytes(p, i, l);
        match d.first() {
            Some(2) if self.enabled[T_OSPFV2 as usize] => self.ospf2(p, i, l, d, out),
            Some(3) if self.enabled[T_OSPFV3 as usize] => self.ospf3(p, i, l, d, out),
            Some(2 | 3) => {}
            Some(_) => out.error("ospf: unknown version"),
            None => out.error("ospf: header truncated"),
        }
    }

    fn ospf2(&mut self, p: &Packet<'_>, i: usize, l: Layer, d: &[u8], out: &mut Emitter<'_>) {
        let e = p.endpoints(i);
        let r = &mut self.ospf2;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        r.version = 2;
        r.r#type = u8at(d, 1).unwrap_or(0);
        r.packet_length = be16(d, 2).unwrap_or(0);
        r.router_id = be32(d, 4).unwrap_or(0);
        r.area_id = be32(d, 8).unwrap_or(0);
        r.checksum = be16(d, 12).unwrap_or(0);
        r.au_type = be16(d, 14).unwrap_or(0);
        r.authentication =
            d.get(16..24).map_or(0, |b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
        r.lsas.clear();
        r.lsr.clear();
        let (body, mut complete) = ospf_body(d, 24, r.packet_length);
        let kind = if d.len() >= 24 { r.r#type } else { 0 };
        if kind == 1 {
            let h = r.hello_v2.get_or_insert_with(Default::default);
            h.network_mask = be32(body, 0).unwrap_or(0);
            h.hello_interval = be16(body, 4).unwrap_or(0);
            h.options = u8at(body, 6).unwrap_or(0);
            h.rtr_priority = u8at(body, 7).unwrap_or(0);
            h.router_dead_interval = be32(body, 8).unwrap_or(0);
            h.interface_id = 0;
            complete &= hello_common(h, body, 12);
        } else {
            r.hello_v2 = None;
        }
        if kind == 2 {
            let db = r.db_desc.get_or_insert_with(Default::default);
            db.interface_mtu = be16(body, 0).unwrap_or(0);
            db.options = u8at(body, 2).unwrap_or(0);
            db.flags = u8at(body, 3).unwrap_or(0);
            db.dd_seq_number = be32(body, 4).unwrap_or(0);
            complete &= body.len() >= 8;
            complete &= lsa_headers(&mut db.lsa_info, body.get(8..).unwrap_or_default(), true);
        } else {
            r.db_desc = None;
        }
        if kind == 3 {
            complete &= ls_requests(&mut r.lsr, body, true);
        }
        if kind == 4 {
            complete &= ls_update(r.lsu.get_or_insert_with(Default::default), body, true);
        } else {
            r.lsu = None;
        }
        if kind == 5 {
            complete &= lsa_headers(&mut r.lsas, body, true);
        }
        out.record(T_OSPFV2, &self.ospf2);
        if !complete {
            out.error("ospf: packet truncated");
        }
    }

    fn ospf3(&mut self, p: &Packet<'_>, i: usize, l: Layer, d: &[u8], out: &mut Emitter<'_>) {
        let e = p.endpoints(i);
        let r = &mut self.ospf3;
        r.timestamp = p.ts_nanos;
        r.tunnel_depth = l.depth();
        fmt::set_ip(&mut r.src_ip, e.src);
        fmt::set_ip(&mut r.dst_ip, e.dst);
        r.version = 3;
        r.r#type = u8at(d, 1).unwrap_or(0);
        r.packet_length = be16(d, 2).unwrap_or(0);
        r.router_id = be32(d, 4).unwrap_or(0);
        r.area_id = be32(d, 8).unwrap_or(0);
        r.checksum = be16(d, 12).unwrap_or(0);
        r.instance = u8at(d, 14).unwrap_or(0);
        r.reserved = u8at(d, 15).unwrap_or(0);
        r.lsas.clear();
        r.lsr.clear();
        let (body, mut complete) = ospf_body(d, 16, r.packet_length);
        let kind = if d.len() >= 16 { r.r#type } else { 0 };
        if kind == 1 {
            let h = r.hello.get_or_insert_with(Default::default);
            h.interface_id = be32(body, 0).unwrap_or(0);
            h.rtr_priority = u8at(body, 4).unwrap_or(0);
            h.options = be32(body, 4).map_or(0, |v| v & 0x00ff_ffff);
            h.hello_interval = be16(body, 8).unwrap_or(0);
            h.router_dead_interval = be16(body, 10).unwrap_or(0);
            h.network_mask = 0;
            complete &= hello_common(h, body, 12);
        } else {
            r.hello = None;
        }
        if kind == 2 {
            let db = r.db_desc.get_or_insert_with(Default::default);
            db.options = be32(body, 0).map_or(0, |v| v & 0x00ff_ffff);
            db.interface_mtu = be16(body, 4).unwrap_or(0);
            db.flags = u8at(body, 7).unwrap_or(0);
            db.dd_seq_number = be32(body, 8).unwrap_or(0);
            complete &= body.len() >= 12;
            complete &= lsa_headers(&mut db.lsa_info, body.get(12..).unwrap_or_default(), false);
        } else {
            r.db_desc = None;
        }
        if kind == 3 {
            complete &= ls_requests(&mut r.lsr, body, false);
        }
        if kind == 4 {
            complete &= ls_update(r.lsu.get_or_insert_with(Default::default), body, false);
        } else {
            r.lsu = None;
        }
        if kind == 5 {
            complete &= lsa_headers(&mut r.lsas, body, false);
        }
        out.record(T_OSPFV3, &self.ospf3);
        if !complete {
            out.error("ospf: packet truncated");
        }
    }
}

/// The OSPF body after a `header`-byte header, up to the packet length (trailing data such as
/// OSPFv2 LLS blocks excluded), and whether header and body are all there.
fn ospf_body(d: &[u8], header: usize, packet_length: u32) -> (&[u8], bool) {
    let want = (packet_length as usize).max(header);
    let end = want.min(d.len());
    (d.get(header..end).unwrap_or_default(), d.len() >= want && packet_length as usize >= header)
}

/// Designated router, backup and the neighbor list of a hello body from `at`.
fn hello_common(h: &mut v1::OspfHello, body: &[u8], at: usize) -> bool {
    h.designated_router_id = be32(body, at).unwrap_or(0);
    h.backup_designated_router_id = be32(body, at + 4).unwrap_or(0);
    h.neighbor_id.clear();
    let rest = body.get(at + 8..).unwrap_or_default();
    h.neighbor_id.extend(rest.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])));
    body.len() >= at + 8 && rest.len().is_multiple_of(4)
}

/// One LSA header (20 bytes).
fn lsa_header(h: &[u8], v2: bool) -> v1::OspfLsaHeader {
    let n16 = |at| be16(h, at).unwrap_or(0);
    let n32 = |at| be32(h, at).unwrap_or(0);
    v1::OspfLsaHeader {
        ls_age: n16(0),
        ls_type: if v2 { u8at(h, 3).unwrap_or(0) } else { n16(2) },
        link_state_id: n32(4),
        adv_router: n32(8),
        ls_seq_number: n32(12),
        ls_checksum: n16(16),
        length: n16(18),
        ls_options: if v2 { u8at(h, 2).unwrap_or(0) } else { 0 },
    }
}

/// A list of LSA headers filling `body`.
fn lsa_headers(list: &mut Vec<v1::OspfLsaHeader>, body: &[u8], v2: bool) -> bool {
    list.clear();
    list.extend(body.chunks_exact(20).map(|c| lsa_header(c, v2)));
    body.len().is_multiple_of(20)
}

/// LS request entries (12 bytes each) filling `body`.
fn ls_requests(list: &mut Vec<v1::OspfLsRequest>, body: &[u8], v2: bool) -> bool {
    list.clear();
    list.extend(body.chunks_exact(12).map(|c| v1::OspfLsRequest {
        ls_type: if v2 { be32(c, 0).unwrap_or(0) } else { be16(c, 2).unwrap_or(0) },
        lsid: be32(c, 4).unwrap_or(0),
        adv_router: be32(c, 8).unwrap_or(0),
    }));
    body.len().is_multiple_of(12)
}

/// A link state update: the LSA count and each LSA (header; OSPFv2 router and network LSA
/// bodies), bounded by the bytes present.
fn ls_update(u: &mut v1::OspfLsUpdate, body: &[u8], v2: bool) -> bool {
    u.lsas.clear();
    let Some(n) = be32(body, 0) else {
        u.num_of_lsas = 0;
        return false;
    };
    u.num_of_lsas = n;
    let mut at = 4;
    for _ in 0..n {
        let Some(h) = body.get(at..at + 20) else { return false };
        let header = lsa_header(h, v2);
        let len = header.length as usize;
        if len < 20 {
            u.lsas.push(v1::OspfLsa { header: Some(header), ..Default::default() });
            return false;
        }
        let lsa_body = body.get(at + 20..(at + len).min(body.len())).unwrap_or_default();
        let mut lsa = v1::OspfLsa { header: Some(header), ..Default::default() };
        if v2 {
            lsa_body_v2(&mut lsa, lsa_body);
        }
        u.lsas.push(lsa);
        if at + len > body.len() {
            return false;
        }
        at += len;
    }
    true
}

/// OSPFv2 router-LSA (type 1) links and network-LSA (type 2) attached routers.
fn lsa_body_v2(lsa: &mut v1::OspfLsa, b: &[u8]) {
    match lsa.header.as_ref().map_or(0, |h| h.ls_type) {
        1 => {
            lsa.router_flags = u8at(b, 0).unwrap_or(0);
            lsa.router_links = be16(b, 2).unwrap_or(0);
            let mut at = 4;
            for _ in 0..lsa.router_links {
                let Some(link) = b.get(at..at + 12) else { break };
                lsa.routers.push(v1::OspfRouterLinkV2 {
                    link_id: be32(link, 0).unwrap_or(0),
                    link_data: be32(link, 4).unwrap_or(0),
                    r#type: u8at(link, 8).unwrap_or(0),
                    metric: be16(link, 10).unwrap_or(0),
                });
                // Each link is followed by its TOS entries (4 bytes each).
                at += 12 + 4 * u8at(link, 9).unwrap_or(0) as usize;
            }
        }
        2 => {
            lsa.network_mask = be32(b, 0).unwrap_or(0);
            let rest = b.get(4..).unwrap_or_default();
            lsa.attached_routers.extend(rest.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{TAG_ERROR, packets, push_packet};
    use prost::Message;

    fn run(data: &[u8], layers: &[Layer]) -> Vec<(u16, Vec<u8>)> {
        let mut batch = Vec::new();
        push_packet(&mut batch, 3, 42, 1, data.len() as u32, layers, data);
        let mut d = Routing::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        netcap_sdk::entries(&out).map(Result::unwrap).map(|e| (e.tag, e.bytes.to_vec())).collect()
    }

    fn l(id: u16, offset: usize) -> Layer {
        Layer { id, flags: 0, offset }
    }

    /// An IPv4 header (20 bytes) with the given protocol, 192.0.2.1 -> 224.0.0.18.
    fn ipv4(proto: u8) -> Vec<u8> {
        let mut v = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 255, proto, 0, 0];
        v.extend_from_slice(&[192, 0, 2, 1, 224, 0, 0, 18]);
        v
    }

    fn vrrp2() -> Vec<u8> {
        vec![0x21, 7, 100, 2, 1, 1, 0xbe, 0xef, 10, 0, 0, 1, 10, 0, 0, 2, b'p', b'a', b's', b's', 0, 0, 0, 0]
    }

    fn bfd_md5() -> Vec<u8> {
        let mut v = vec![0x20, 0xc4 | 0x20, 3, 48, 0, 0, 0, 1, 0, 0, 0, 2];
        v.extend_from_slice(&[0, 0x0f, 0x42, 0x40, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 0]);
        v.extend_from_slice(&[2, 24, 5, 0, 0, 0, 0, 9]);
        v.extend_from_slice(&[0xaa; 16]);
        v
    }

    fn ospf2_lsu() -> Vec<u8> {
        let mut v = vec![2, 4, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&[0, 0, 0, 2]);
        // Router-LSA: age 1, options 0x22, type 1, id/adv 1.1.1.1, seq 0x80000001, 1 link.
        v.extend_from_slice(&[0, 1, 0x22, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x80, 0, 0, 1, 0xab, 0xcd, 0, 36]);
        v.extend_from_slice(&[0, 0, 0, 1, 10, 0, 0, 0, 255, 255, 255, 0, 3, 0, 0, 10]);
        // Network-LSA: type 2, mask /24, two attached routers.
        v.extend_from_slice(&[0, 2, 0x22, 2, 10, 0, 0, 1, 1, 1, 1, 1, 0x80, 0, 0, 2, 0x11, 0x22, 0, 32]);
        v.extend_from_slice(&[255, 255, 255, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        let n = v.len() as u16;
        v[2..4].copy_from_slice(&n.to_be_bytes());
        v
    }

    #[test]
    fn vrrp_v2_and_v3() {
        let mut p = ipv4(112);
        p.extend_from_slice(&vrrp2());
        let recs = run(&p, &[l(layer::IPV4, 0), l(layer::VRRP, 20)]);
        assert_eq!(recs.len(), 1);
        let v = v1::VrrPv2::decode(&recs[0].1[..]).unwrap();
        assert_eq!((v.version, v.r#type, v.virtual_rtr_id, v.priority, v.count_ip_addr), (2, 1, 7, 100, 2));
        assert_eq!((v.auth_type, v.adver_int, v.checksum), (1, 1, 0xbeef));
        assert_eq!(v.ip_address, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!((v.src_ip.as_str(), v.dst_ip.as_str()), ("192.0.2.1", "224.0.0.18"));

        // The IP total length ends the packet inside the addresses: Ethernet padding after it
        // is not read as addresses.
        p[2..4].copy_from_slice(&31u16.to_be_bytes());
        let recs = run(&p, &[l(layer::IPV4, 0), l(layer::VRRP, 20)]);
        let v = v1::VrrPv2::decode(&recs[0].1[..]).unwrap();
        assert!(v.ip_address.is_empty());
        assert_eq!(recs[1], (TAG_ERROR, b"vrrp: packet truncated".to_vec()));

        // VRRPv3 over IPv6: 12-bit interval in centiseconds, 16-byte addresses.
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 112, 255];
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]);
        p.extend_from_slice(&[0x31, 1, 255, 1, 0x00, 0x64, 0, 0]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let recs = run(&p, &[l(layer::IPV6, 0), l(layer::VRRP, 40)]);
        let v = v1::VrrPv2::decode(&recs[0].1[..]).unwrap();
        assert_eq!((v.version, v.adver_int, v.auth_type), (3, 100, 0));
        assert_eq!(v.ip_address, vec!["2001:db8::1"]);
    }

    #[test]
    fn bfd_with_md5_auth_via_the_udp_port() {
        let mut p = ipv4(17);
        p.extend_from_slice(&[0xc0, 0x00, 0x0e, 0xc8, 0, 56, 0, 0]); // 49152 -> 3784
        p.extend_from_slice(&bfd_md5());
        let recs = run(&p, &[l(layer::IPV4, 0), l(layer::UDP, 20)]);
        assert_eq!(recs.len(), 1);
        let b = v1::Bfd::decode(&recs[0].1[..]).unwrap();
        assert_eq!((b.version, b.diagnostic, b.state, b.detect_multiplier, b.length), (1, 0, 3, 3, 48));
        assert!(b.poll && b.auth_present && !b.r#final && !b.demand);
        assert_eq!((b.my_discriminator, b.your_discriminator, b.desired_min_tx_interval), (1, 2, 1_000_000));
        assert_eq!((b.src_port, b.dst_port, b.src_ip.as_str()), (49152, 3784, "192.0.2.1"));
        let a = b.auth_header.unwrap();
        assert_eq!((a.auth_type, a.auth_length, a.key_id, a.sequence_number), (2, 24, 5, 9));
        assert_eq!(a.data, vec![0xaa; 16]);
        // Other UDP ports are not BFD.
        p[22] = 0x0e;
        p[23] = 0xc9;
        assert!(run(&p, &[l(layer::IPV4, 0), l(layer::UDP, 20)]).is_empty());
    }

    #[test]
    fn ospfv2_update_with_router_and_network_lsas() {
        let recs = run(&ospf2_lsu(), &[l(layer::OSPF, 0)]);
        assert_eq!(recs.len(), 1, "{recs:?}");
        let o = v1::OspFv2::decode(&recs[0].1[..]).unwrap();
        assert_eq!((o.version, o.r#type, o.router_id, o.checksum), (2, 4, 0x0101_0101, 0x1234));
        let u = o.lsu.unwrap();
        assert_eq!((u.num_of_lsas, u.lsas.len()), (2, 2));
        let h = u.lsas[0].header.unwrap();
        assert_eq!((h.ls_age, h.ls_type, h.ls_options, h.ls_seq_number, h.length), (1, 1, 0x22, 0x8000_0001, 36));
        assert_eq!(
            u.lsas[0].routers[0],
            v1::OspfRouterLinkV2 { r#type: 3, link_id: 0x0a00_0000, link_data: 0xffff_ff00, metric: 10 }
        );
        assert_eq!(u.lsas[1].attached_routers, vec![0x0101_0101, 0x0202_0202]);
        assert!(o.hello_v2.is_none() && o.db_desc.is_none());
    }

    #[test]
    fn ospf_hello_dbd_lsr_ack_both_versions() {
        // v2 hello with one neighbor.
        let mut h = vec![2, 1, 0, 48, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        h.extend_from_slice(&[255, 255, 255, 0, 0, 10, 0x02, 1, 0, 0, 0, 40, 10, 0, 0, 1, 0, 0, 0, 0, 2, 2, 2, 2]);
        let o = v1::OspFv2::decode(&run(&h, &[l(layer::OSPF, 0)])[0].1[..]).unwrap();
        let hello = o.hello_v2.unwrap();
        assert_eq!(
            (hello.network_mask, hello.hello_interval, hello.options, hello.rtr_priority),
            (0xffff_ff00, 10, 2, 1)
        );
        assert_eq!(
            (hello.router_dead_interval, hello.designated_router_id, hello.neighbor_id),
            (40, 0x0a00_0001, vec![0x0202_0202])
        );
        // v3 DB description with one LSA header.
        let mut db = vec![3, 2, 0, 48, 1, 1, 1, 1, 0, 0, 0, 0, 0xab, 0xcd, 0, 0];
        db.extend_from_slice(&[0, 0, 0, 0x13, 0x05, 0xdc, 0, 0x07, 0, 0, 0x10, 0]);
        db.extend_from_slice(&[0, 1, 0x20, 0x01, 0, 0, 0, 0, 1, 1, 1, 1, 0x80, 0, 0, 1, 0x12, 0x34, 0, 24]);
        let recs = run(&db, &[l(layer::OSPF, 0)]);
        assert_eq!(recs[0].0, T_OSPFV3);
        let o = v1::OspFv3::decode(&recs[0].1[..]).unwrap();
        let d = o.db_desc.unwrap();
        assert_eq!((d.options, d.interface_mtu, d.flags, d.dd_seq_number), (0x13, 1500, 7, 4096));
        assert_eq!((d.lsa_info[0].ls_type, d.lsa_info[0].length, d.lsa_info[0].ls_options), (0x2001, 24, 0));
        // v2 LS request and LS ack.
        let mut lsr = vec![2, 3, 0, 36, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        lsr.extend_from_slice(&[0, 0, 0, 1, 3, 3, 3, 3, 4, 4, 4, 4]);
        let o = v1::OspFv2::decode(&run(&lsr, &[l(layer::OSPF, 0)])[0].1[..]).unwrap();
        assert_eq!(o.lsr, vec![v1::OspfLsRequest { ls_type: 1, lsid: 0x0303_0303, adv_router: 0x0404_0404 }]);
        let mut ack = vec![2, 5, 0, 44, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        ack.extend_from_slice(&[0, 1, 0x22, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x80, 0, 0, 1, 0xab, 0xcd, 0, 36]);
        let o = v1::OspFv2::decode(&run(&ack, &[l(layer::OSPF, 0)])[0].1[..]).unwrap();
        assert_eq!((o.lsas.len(), o.lsas[0].ls_checksum), (1, 0xabcd));
    }

    #[test]
    fn truncated_packets_at_every_length_give_partial_records_and_errors() {
        let mut udp = ipv4(17);
        udp.extend_from_slice(&[0xc0, 0x00, 0x0e, 0xc8, 0, 56, 0, 0]);
        let mut bfd = udp.clone();
        bfd.extend_from_slice(&bfd_md5());
        let mut vrrp = ipv4(112);
        vrrp.extend_from_slice(&vrrp2());
        let lsu = ospf2_lsu();
        let cases: [(&[u8], Vec<Layer>, usize, &str); 3] = [
            (&bfd, vec![l(layer::IPV4, 0), l(layer::UDP, 20)], 28, "bfd: packet truncated"),
            // The addresses end at byte 16; the authentication data after them is not decoded.
            (&vrrp, vec![l(layer::IPV4, 0), l(layer::VRRP, 20)], 20, "vrrp: packet truncated"),
            (&lsu, vec![l(layer::OSPF, 0)], 0, "ospf: packet truncated"),
        ];
        for (full, layers, start, kind) in cases {
            let end = if kind.starts_with("vrrp") { start + 16 } else { full.len() };
            for n in start..end {
                let recs = run(&full[..n], &layers);
                if n == 0 {
                    assert_eq!(recs, vec![(TAG_ERROR, b"ospf: header truncated".to_vec())]);
                    continue;
                }
                assert_eq!(recs.len(), 2, "{kind} at {n}: {recs:?}");
                assert_eq!(recs[1], (TAG_ERROR, kind.as_bytes().to_vec()), "{kind} at {n}");
            }
            assert_eq!(run(full, &layers).len(), 1, "{kind} complete");
        }
    }
}
