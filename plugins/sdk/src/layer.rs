//! The host's layer registry: ids in input batches and the names decoders ask for in
//! `DecoderInfo::layers`. Ids are stable and only ever added (see `wit/README.md`).
//!
//! Besides layer names, `DecoderInfo::layers` may hold port interests, `udp:PORT`, `tcp:PORT` or
//! `sctp:PORT`: the decoder then also receives packets with a UDP/TCP/SCTP layer (at any tunnel
//! depth) whose source or destination port is `PORT`. Application decoders (DNS, DHCP, SIP, ...)
//! use these, so the host needs no knowledge of their protocols.

/// Ethernet II / 802.3.
pub const ETHERNET: u16 = 1;
/// Linux cooked capture v1.
pub const LINUX_SLL: u16 = 2;
/// Linux cooked capture v2.
pub const LINUX_SLL2: u16 = 3;
/// BSD null/loopback family word.
pub const LOOPBACK: u16 = 4;
/// 802.1Q / 802.1ad VLAN tag.
pub const DOT1Q: u16 = 5;
/// ARP.
pub const ARP: u16 = 6;
/// IPv4.
pub const IPV4: u16 = 10;
/// IPv6 (fixed header; the extension headers have layers of their own where listed here).
pub const IPV6: u16 = 11;
/// TCP.
pub const TCP: u16 = 20;
/// UDP.
pub const UDP: u16 = 21;
/// ICMPv4.
pub const ICMPV4: u16 = 22;
/// ICMPv6.
pub const ICMPV6: u16 = 23;
/// SCTP (common header; the chunks follow it).
pub const SCTP: u16 = 24;
/// Transport payload (or the network payload of an unknown transport).
pub const PAYLOAD: u16 = 30;
/// 802.2 LLC header (802.3 length frames, FDDI, 802.11).
pub const LLC: u16 = 40;
/// SNAP header after LLC AA-AA-03.
pub const SNAP: u16 = 41;
/// Ethernet configuration testing protocol (EtherType 0x9000, loopback).
pub const ETHERNET_CTP: u16 = 42;
/// LLDP (EtherType 0x88cc): the TLV list.
pub const LLDP: u16 = 43;
/// Cisco Discovery Protocol (SNAP 00000c/2000): version, TTL, checksum, TLVs.
pub const CDP: u16 = 44;
/// EAPOL (EtherType 0x888e).
pub const EAPOL: u16 = 45;
/// EAP (inside EAPOL packet type 0).
pub const EAP: u16 = 46;
/// EAPOL-Key descriptor (inside EAPOL packet type 3).
pub const EAPOL_KEY: u16 = 47;
/// IEEE 802.11 MAC header.
pub const DOT11: u16 = 48;
/// Radiotap header (link type 127).
pub const RADIOTAP: u16 = 49;
/// FDDI (link type 10).
pub const FDDI: u16 = 50;
/// Nortel Discovery Protocol (SNAP 000081/01a1..01a2).
pub const NORTEL_DISCOVERY: u16 = 51;
/// One MPLS label stack entry (one layer per entry, outermost first).
pub const MPLS: u16 = 52;
/// IGMP.
pub const IGMP: u16 = 60;
/// IPv6 hop-by-hop options extension header.
pub const IPV6_HOP_BY_HOP: u16 = 61;
/// IPv6 fragment extension header.
pub const IPV6_FRAGMENT: u16 = 62;
/// IPsec authentication header (IPv4 protocol 51 or IPv6 extension header).
pub const IPSEC_AH: u16 = 63;
/// IPsec ESP header (the encrypted rest is not dissected).
pub const IPSEC_ESP: u16 = 64;
/// GRE header (the encapsulated packet follows as inner layers).
pub const GRE: u16 = 65;
/// VXLAN header (UDP 4789; an inner Ethernet frame follows).
pub const VXLAN: u16 = 66;
/// Geneve header (UDP 6081; the inner packet follows).
pub const GENEVE: u16 = 67;
/// VRRP (IP protocol 112).
pub const VRRP: u16 = 68;
/// OSPF, version 2 or 3 (IP protocol 89).
pub const OSPF: u16 = 69;
/// Apple PKTAP header (link type 258); the packet of the link type it names follows.
pub const PKTAP: u16 = 53;
/// IP over InfiniBand pseudo-header (link type 242): 40 bytes of addresses, EtherType, reserved.
pub const IPOIB: u16 = 54;
/// Linux NFLOG header (link type 239): family, version, resource id, then TLVs.
pub const NFLOG: u16 = 55;
/// Per-Packet Information header (link type 192); the packet of the link type it names follows.
pub const PPI: u16 = 56;
/// Cisco HDLC header (link type 104, or 50 with address 0x0f/0x8f): address, control, EtherType.
pub const CISCO_HDLC: u16 = 57;
/// Frame Relay Q.922 address (link type 107), then NLPID (RFC 2427) or Cisco encapsulation.
pub const FRAME_RELAY: u16 = 58;
/// PPP protocol field (after any HDLC address and control bytes; one byte when compressed).
pub const PPP: u16 = 59;
/// PPPoE discovery header (EtherType 0x8863).
pub const PPPOE_DISCOVERY: u16 = 70;
/// PPPoE session header (EtherType 0x8864); a PPP protocol field follows.
pub const PPPOE_SESSION: u16 = 71;
/// 802.1ah provider backbone bridging I-tag (EtherType 0x88e7); the customer frame follows.
pub const PBB: u16 = 72;
/// Cisco VN-Tag (EtherType 0x8926), 4 bytes before the next EtherType.
pub const VNTAG: u16 = 73;
/// 802.1BR E-Tag (EtherType 0x893f), 6 bytes before the next EtherType.
pub const ETAG: u16 = 74;
/// Network Service Header (RFC 8300; EtherType 0x894f, GRE, VXLAN-GPE); the packet follows.
pub const NSH: u16 = 75;
/// Teredo (UDP 3544): the authentication and origin indicators, if any, before the IPv6 packet.
pub const TEREDO: u16 = 76;
/// GTPv1 header (GTP-U on UDP 2152, GTPv1-C on UDP 2123); a G-PDU's IP packet follows.
pub const GTP: u16 = 77;
/// VXLAN-GPE header (UDP 4790; the next-protocol field says what follows).
pub const VXLAN_GPE: u16 = 78;
/// PROFINET frame ID (EtherType 0x8892): real-time cyclic and acyclic frames, DCP, alarms.
pub const PROFINET: u16 = 79;

/// Layer flag: the layer's data is cut short (snap length or a length field).
pub const FLAG_TRUNCATED: u16 = 1;
/// Layer flag: in a reassembled IP datagram (packet flag `PACKET_FLAG_REASSEMBLED`), this header
/// was already delivered with the fragments; layer decoders emit no second record for it (they
/// may still read it for context, e.g. addresses).
pub const FLAG_SEEN: u16 = 2;
/// Layer flags bits 4..8: tunnel depth, 0 for the outermost packet, 1 for the packet inside the
/// first tunnel (GRE, GRE-in-UDP, VXLAN, VXLAN-GPE, Geneve, IP-in-IP, IPv6-in-IPv4, MPLS, NSH,
/// Teredo, GTP-U, 802.1ah PBB), and so on. Link-layer encapsulations (PPPoE, PPP, Cisco HDLC,
/// Frame Relay, VN-Tag, E-Tag and the link-type headers) carry the outermost packet: depth 0.
pub const DEPTH_SHIFT: u16 = 4;
/// Mask of the tunnel depth bits (after shifting).
pub const DEPTH_MASK: u16 = 0xf;

/// Every layer: (id, name).
pub const ALL: &[(u16, &str)] = &[
    (ETHERNET, "ethernet"),
    (LINUX_SLL, "linux-sll"),
    (LINUX_SLL2, "linux-sll2"),
    (LOOPBACK, "loopback"),
    (DOT1Q, "dot1q"),
    (ARP, "arp"),
    (IPV4, "ipv4"),
    (IPV6, "ipv6"),
    (TCP, "tcp"),
    (UDP, "udp"),
    (ICMPV4, "icmpv4"),
    (ICMPV6, "icmpv6"),
    (SCTP, "sctp"),
    (PAYLOAD, "payload"),
    (LLC, "llc"),
    (SNAP, "snap"),
    (ETHERNET_CTP, "ethernet-ctp"),
    (LLDP, "lldp"),
    (CDP, "cdp"),
    (EAPOL, "eapol"),
    (EAP, "eap"),
    (EAPOL_KEY, "eapol-key"),
    (DOT11, "dot11"),
    (RADIOTAP, "radiotap"),
    (FDDI, "fddi"),
    (NORTEL_DISCOVERY, "nortel-discovery"),
    (MPLS, "mpls"),
    (IGMP, "igmp"),
    (IPV6_HOP_BY_HOP, "ipv6-hop-by-hop"),
    (IPV6_FRAGMENT, "ipv6-fragment"),
    (IPSEC_AH, "ipsec-ah"),
    (IPSEC_ESP, "ipsec-esp"),
    (GRE, "gre"),
    (VXLAN, "vxlan"),
    (GENEVE, "geneve"),
    (VRRP, "vrrp"),
    (OSPF, "ospf"),
    (PKTAP, "pktap"),
    (IPOIB, "ipoib"),
    (NFLOG, "nflog"),
    (PPI, "ppi"),
    (CISCO_HDLC, "cisco-hdlc"),
    (FRAME_RELAY, "frame-relay"),
    (PPP, "ppp"),
    (PPPOE_DISCOVERY, "pppoe-discovery"),
    (PPPOE_SESSION, "pppoe-session"),
    (PBB, "pbb"),
    (VNTAG, "vntag"),
    (ETAG, "etag"),
    (NSH, "nsh"),
    (TEREDO, "teredo"),
    (GTP, "gtp"),
    (VXLAN_GPE, "vxlan-gpe"),
    (PROFINET, "profinet"),
];

/// The id of a layer name.
pub fn by_name(name: &str) -> Option<u16> {
    ALL.iter().find(|(_, n)| *n == name).map(|(id, _)| *id)
}

/// The name of a layer id.
pub fn name(id: u16) -> Option<&'static str> {
    ALL.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
}

/// Transport protocols a port interest can name.
pub const PORT_PROTOCOLS: &[(&str, u16)] = &[("udp", UDP), ("tcp", TCP), ("sctp", SCTP)];

/// Parses a port interest (`udp:53`) into its transport layer id and port.
pub fn port_interest(s: &str) -> Option<(u16, u16)> {
    let (proto, port) = s.split_once(':')?;
    let id = PORT_PROTOCOLS.iter().find(|(n, _)| *n == proto)?.1;
    Some((id, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_are_unique_and_fit_the_host_mask() {
        for (i, (id, name)) in ALL.iter().enumerate() {
            assert!(*id < 80, "{name}: ids >= 80 are the host's port-interest bits");
            assert_eq!(by_name(name), Some(*id));
            assert!(ALL[i + 1..].iter().all(|(j, n)| j != id && n != name));
        }
        assert_eq!(port_interest("udp:53"), Some((UDP, 53)));
        assert_eq!(port_interest("tcp:x"), None);
        assert_eq!(port_interest("icmp:1"), None);
    }
}
