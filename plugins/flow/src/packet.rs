//! What a flow needs from one packet, read from the host's layer map: the flow key of the
//! outermost packet (IP addresses, protocol and ports; or, without IP, the link-layer addresses
//! and EtherType), lengths, MACs, and the TCP header fields.
//!
//! Keys follow the host's flow hash (`host/src/dissect.rs`): the outermost (tunnel depth 0) IP
//! header, the protocol after IPv6 extension headers and IPv4 AH, the TCP/UDP/SCTP ports, or for
//! ICMP the type and code mapped to ports as the Community ID spec does. IP fragments (IPv4 MF or a
//! non-zero offset, an IPv6 fragment header) carry no ports of their own: [`Info::frag`] says
//! where they belong, and [`crate::fragments`] gives those of a TCP or UDP datagram the host put
//! into its flow (packet flag `PACKET_FLAG_FRAGMENT_OF_FLOW`) that flow's ports; the others belong
//! to the flow of their addresses and protocol with ports 0. Without an IP layer, Ethernet (MACs and the EtherType after any
//! VLAN tags), Linux cooked capture (source address and protocol) and FDDI (MACs) form link-layer
//! flows; other frames (802.11 management frames, unknown link types) form none.

use crate::community_id::{self, icmp_ports};
use netcap_sdk::{Packet, layer};

/// What the endpoints of a flow are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Family {
    /// Link-layer addresses (6 bytes used).
    #[default]
    Link,
    V4,
    V6,
}

/// TCP header fields a flow tracks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tcp {
    /// The 9 flag bits: NS (0x100), CWR, ECE, URG, ACK, PSH, RST, SYN, FIN (0x01).
    pub flags: u16,
    pub seq: u32,
    pub ack: u32,
    /// The raw window field (not scaled).
    pub window: u16,
}

pub const FIN: u16 = 0x01;
pub const SYN: u16 = 0x02;
pub const RST: u16 = 0x04;
pub const PSH: u16 = 0x08;
pub const ACK: u16 = 0x10;
pub const URG: u16 = 0x20;
pub const ECE: u16 = 0x40;
pub const CWR: u16 = 0x80;
pub const NS: u16 = 0x100;

/// Where an IP fragment sits in its datagram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Frag {
    /// IPv4 identification or IPv6 fragment identification.
    pub id: u32,
    /// Offset of the fragment's data in the datagram's payload, bytes.
    pub offset: u32,
    /// Where the fragment's data starts in the packet.
    pub data_at: usize,
    /// Where the IP packet ends (by its length field).
    pub ip_end: usize,
}

/// One packet as a flow sees it, in the packet's own direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Info {
    pub ts: i64,
    /// Length on the wire.
    pub wire_len: u32,
    pub family: Family,
    /// IP protocol (after extension headers); 0 for link-layer flows.
    pub proto: u8,
    /// Source and destination address (IPv4 in the first 4 bytes, MACs in the first 6).
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Ports (ICMP: mapped type and code); 0 without ports.
    pub sport: u16,
    pub dport: u16,
    /// Whether the flow tuple has ports (TCP, UDP, SCTP, ICMP, not fragments).
    pub has_ports: bool,
    /// A one-way ICMP message (Community ID ordering).
    pub one_way: bool,
    /// MACs of the outermost Ethernet header.
    pub macs: Option<([u8; 6], [u8; 6])>,
    /// EtherType of the link-layer flow (or of the frame carrying IP); 0 for 802.3/LLC frames.
    pub ethertype: u16,
    /// Transport payload bytes (by the length fields): after the TCP/UDP/SCTP header; for other IP
    /// protocols the IP payload; for link-layer flows the bytes after the link header.
    pub payload: u32,
    pub tcp: Option<Tcp>,
    /// Outermost link header name ("Ethernet", "Linux SLL", ...).
    pub link_proto: &'static str,
    /// "IPv4", "IPv6", or the EtherType's protocol for link-layer flows ("ARP", ...).
    pub network_proto: &'static str,
    /// "TCP", "UDP", "ICMPv4", ... (the IP protocol's name; "" when unnamed).
    pub transport_proto: &'static str,
    /// The packet's DPI verdict is nDPI's guess (packet flag `PACKET_FLAG_APP_GUESSED`).
    pub app_guessed: bool,
    /// An IP fragment (outermost header): its place in the datagram.
    pub frag: Option<Frag>,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn link_name(id: u16) -> &'static str {
    match id {
        layer::ETHERNET => "Ethernet",
        layer::LINUX_SLL => "Linux SLL",
        layer::LINUX_SLL2 => "Linux SLL2",
        layer::LOOPBACK => "Loopback",
        layer::FDDI => "FDDI",
        layer::DOT11 => "Dot11",
        layer::RADIOTAP => "RadioTap",
        _ => "",
    }
}

/// Names of IP protocols (gopacket's layer names, as netcap prints them).
pub fn ip_proto_name(proto: u8) -> &'static str {
    match proto {
        1 => "ICMPv4",
        2 => "IGMP",
        4 => "IPv4",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        47 => "GRE",
        50 => "IPSecESP",
        51 => "IPSecAH",
        58 => "ICMPv6",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        136 => "UDPLite",
        _ => "",
    }
}

/// Names of EtherTypes for link-layer flows.
pub fn ethertype_name(et: u16) -> &'static str {
    match et {
        0 => "LLC",
        0x0800 => "IPv4",
        0x0806 => "ARP",
        0x8035 => "RARP",
        0x86dd => "IPv6",
        0x8847 | 0x8848 => "MPLS",
        0x888e => "EAPOL",
        0x88cc => "LinkLayerDiscovery",
        0x9000 => "EthernetCTP",
        0x8863 | 0x8864 => "PPPoE",
        0x88e5 => "MACsec",
        0x88f7 => "PTP",
        _ => "",
    }
}

/// Reads `p`; `None` when the packet has no IP layer and no link-layer addresses.
pub fn read(p: &Packet<'_>) -> Option<Info> {
    let d = p.data;
    let mut info = Info {
        ts: p.ts_nanos,
        wire_len: p.orig_len,
        app_guessed: p.flags & netcap_sdk::PACKET_FLAG_APP_GUESSED != 0,
        ..Info::default()
    };
    let n = p.layer_count();
    let mut ip_at = None;
    let mut link_end = 0usize;
    // Link-layer source and destination where the header has them.
    let (mut lsrc, mut ldst) = ([0u8; 6], [0u8; 6]);
    for i in 0..n {
        let Some(l) = p.layer(i) else { break };
        if l.depth() != 0 {
            break;
        }
        match l.id {
            layer::ETHERNET => {
                info.link_proto = "Ethernet";
                if let Some(h) = d.get(l.offset..l.offset + 14) {
                    ldst.copy_from_slice(&h[0..6]);
                    lsrc.copy_from_slice(&h[6..12]);
                    info.macs = Some((lsrc, ldst));
                    let t = u16::from_be_bytes([h[12], h[13]]);
                    info.ethertype = if t <= 1500 { 0 } else { t };
                    link_end = l.offset + 14;
                }
            }
            layer::DOT1Q => {
                if let Some(t) = be16(d, l.offset + 2) {
                    info.ethertype = if t <= 1500 { 0 } else { t };
                    link_end = l.offset + 4;
                }
            }
            layer::LINUX_SLL => {
                info.link_proto = "Linux SLL";
                if let (Some(halen), Some(proto)) = (be16(d, l.offset + 4), be16(d, l.offset + 14)) {
                    let a = usize::from(halen).min(6);
                    if let Some(s) = d.get(l.offset + 6..l.offset + 6 + a) {
                        lsrc[..a].copy_from_slice(s);
                    }
                    info.ethertype = if proto <= 1500 { 0 } else { proto };
                    link_end = l.offset + 16;
                }
            }
            layer::LINUX_SLL2 => {
                info.link_proto = "Linux SLL2";
                if let (Some(proto), Some(&halen)) = (be16(d, l.offset), d.get(l.offset + 11)) {
                    let a = usize::from(halen).min(6);
                    if let Some(s) = d.get(l.offset + 12..l.offset + 12 + a) {
                        lsrc[..a].copy_from_slice(s);
                    }
                    info.ethertype = if proto <= 1500 { 0 } else { proto };
                    link_end = l.offset + 20;
                }
            }
            layer::FDDI => {
                info.link_proto = "FDDI";
                if let Some(h) = d.get(l.offset..l.offset + 13) {
                    ldst.copy_from_slice(&h[1..7]);
                    lsrc.copy_from_slice(&h[7..13]);
                    link_end = l.offset + 13;
                }
            }
            layer::IPV4 | layer::IPV6 => {
                ip_at = Some(i);
                break;
            }
            id => {
                if info.link_proto.is_empty() {
                    info.link_proto = link_name(id);
                }
            }
        }
    }
    match ip_at {
        Some(i) => ip(p, i, &mut info)?,
        None => {
            if link_end == 0 {
                return None;
            }
            info.family = Family::Link;
            info.src[..6].copy_from_slice(&lsrc);
            info.dst[..6].copy_from_slice(&ldst);
            info.network_proto = ethertype_name(info.ethertype);
            info.payload = p.orig_len.saturating_sub(link_end as u32);
        }
    }
    Some(info)
}

/// Gives fragment `p` (read into `info`) the ports of its TCP or UDP datagram, `ports`; for the
/// first fragment, which carries the transport header, also the TCP header fields, and its payload
/// without that header.
pub fn into_flow(p: &Packet<'_>, info: &mut Info, ports: (u16, u16)) {
    let Some(f) = info.frag else { return };
    (info.sport, info.dport, info.has_ports) = (ports.0, ports.1, true);
    if f.offset != 0 {
        return;
    }
    let d = p.data;
    let to = f.data_at;
    match info.proto {
        community_id::UDP => info.payload = info.payload.saturating_sub(8),
        community_id::TCP => {
            if let (Some(seq), Some(ack), Some(off_flags), Some(window)) =
                (be32(d, to + 4), be32(d, to + 8), be16(d, to + 12), be16(d, to + 14))
            {
                let hdr = usize::from(off_flags >> 12) * 4;
                info.payload = f.ip_end.saturating_sub(to + hdr.max(20)) as u32;
                info.tcp = Some(Tcp { flags: off_flags & 0x1ff, seq, ack, window });
            }
        }
        _ => {}
    }
}

/// The ports at the start of first fragment `p`'s data (`None` for other fragments).
pub fn first_fragment_ports(p: &Packet<'_>, info: &Info) -> Option<(u16, u16)> {
    let f = info.frag.filter(|f| f.offset == 0)?;
    Some((be16(p.data, f.data_at)?, be16(p.data, f.data_at + 2)?))
}

/// Fills the IP part of `info` from the IP layer at index `i` (tunnel depth 0).
fn ip(p: &Packet<'_>, i: usize, info: &mut Info) -> Option<()> {
    let d = p.data;
    let l = p.layer(i)?;
    let o = l.offset;
    let mut fragmented = false;
    let (mut frag_id, mut frag_offset) = (0u32, 0u32);
    // Where the IP packet ends according to its length field (on the wire), and where its payload
    // (after the header and extension headers) starts.
    let (ip_end, mut proto, mut next_at);
    if l.id == layer::IPV4 {
        let h = d.get(o..o + 20)?;
        info.family = Family::V4;
        info.network_proto = "IPv4";
        info.src[..4].copy_from_slice(&h[12..16]);
        info.dst[..4].copy_from_slice(&h[16..20]);
        let ihl = usize::from(h[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let frag = u16::from_be_bytes([h[6], h[7]]);
        fragmented = frag & 0x2000 != 0 || frag & 0x1fff != 0;
        frag_id = u32::from(u16::from_be_bytes([h[4], h[5]]));
        frag_offset = u32::from(frag & 0x1fff) * 8;
        proto = h[9];
        next_at = o + ihl.max(20);
        // A total length of 0 (TCP segmentation offload captures): the wire length decides.
        ip_end = if total == 0 { p.orig_len as usize } else { o + total };
        if proto == 51 {
            // IPv4 AH: the protocol after it, as the host's flow hash has it.
            if let (Some(&nh), Some(&len)) = (d.get(next_at), d.get(next_at + 1)) {
                proto = nh;
                next_at += (usize::from(len) + 2) * 4;
            }
        }
    } else {
        let h = d.get(o..o + 40)?;
        info.family = Family::V6;
        info.network_proto = "IPv6";
        info.src.copy_from_slice(&h[8..24]);
        info.dst.copy_from_slice(&h[24..40]);
        ip_end = o + 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
        proto = h[6];
        next_at = o + 40;
        // Extension headers, bounded as the host walks them.
        for _ in 0..16 {
            let Some(e) = d.get(next_at..next_at + 8) else { break };
            let len = match proto {
                0 | 43 | 60 => (usize::from(e[1]) + 1) * 8,
                44 => {
                    let f = u16::from_be_bytes([e[2], e[3]]);
                    fragmented = f & 0xfff8 != 0 || f & 1 != 0;
                    frag_id = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
                    frag_offset = u32::from(f & 0xfff8);
                    8
                }
                51 => (usize::from(e[1]) + 2) * 4,
                _ => break,
            };
            proto = e[0];
            next_at += len;
        }
    }
    info.proto = proto;
    info.transport_proto = ip_proto_name(proto);
    // The transport layer the host found right after this IP layer (and its extension headers).
    let transport = p
        .layers()
        .skip(i + 1)
        .take_while(|t| t.depth() == 0)
        .find(|t| !matches!(t.id, layer::IPV6_HOP_BY_HOP | layer::IPV6_FRAGMENT | layer::IPSEC_AH));
    let ip_payload = ip_end.saturating_sub(next_at);
    info.payload = ip_payload as u32;
    if fragmented {
        info.frag = Some(Frag { id: frag_id, offset: frag_offset, data_at: next_at, ip_end });
        return Some(());
    }
    let Some(t) = transport else { return Some(()) };
    let to = t.offset;
    match (t.id, proto) {
        (layer::TCP, community_id::TCP) => {
            let (Some(sp), Some(dp)) = (be16(d, to), be16(d, to + 2)) else { return Some(()) };
            info.sport = sp;
            info.dport = dp;
            info.has_ports = true;
            if let (Some(seq), Some(ack), Some(off_flags), Some(window)) =
                (be32(d, to + 4), be32(d, to + 8), be16(d, to + 12), be16(d, to + 14))
            {
                let hdr = usize::from(off_flags >> 12) * 4;
                info.payload = ip_end.saturating_sub(to + hdr.max(20)) as u32;
                info.tcp = Some(Tcp { flags: off_flags & 0x1ff, seq, ack, window });
            }
        }
        (layer::UDP, community_id::UDP) => {
            let (Some(sp), Some(dp)) = (be16(d, to), be16(d, to + 2)) else { return Some(()) };
            info.sport = sp;
            info.dport = dp;
            info.has_ports = true;
            info.payload = match be16(d, to + 4) {
                Some(len) if len >= 8 => u32::from(len) - 8,
                _ => ip_end.saturating_sub(to + 8) as u32,
            };
        }
        (layer::SCTP, community_id::SCTP) => {
            let (Some(sp), Some(dp)) = (be16(d, to), be16(d, to + 2)) else { return Some(()) };
            info.sport = sp;
            info.dport = dp;
            info.has_ports = true;
            info.payload = ip_end.saturating_sub(to + 12) as u32;
        }
        (layer::ICMPV4, community_id::ICMP) | (layer::ICMPV6, community_id::ICMPV6) => {
            let (Some(&ty), Some(&code)) = (d.get(to), d.get(to + 1)) else { return Some(()) };
            let (sp, dp, one_way) = icmp_ports(proto == community_id::ICMPV6, ty, code);
            info.sport = sp;
            info.dport = dp;
            info.one_way = one_way;
            info.has_ports = true;
        }
        _ => {}
    }
    Some(())
}
