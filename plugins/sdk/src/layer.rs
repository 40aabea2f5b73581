//! The host's layer registry: ids in input batches and the names decoders ask for in
//! `DecoderInfo::layers`. Ids are stable and only ever added (see `wit/README.md`).

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
/// IPv6 (its extension headers belong to it).
pub const IPV6: u16 = 11;
/// TCP.
pub const TCP: u16 = 20;
/// UDP.
pub const UDP: u16 = 21;
/// ICMPv4.
pub const ICMPV4: u16 = 22;
/// ICMPv6.
pub const ICMPV6: u16 = 23;
/// Transport payload (or the network payload of an unknown transport).
pub const PAYLOAD: u16 = 30;

/// Layer flag: the layer's data is cut short (snap length or a length field).
pub const FLAG_TRUNCATED: u16 = 1;

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
    (PAYLOAD, "payload"),
];

/// The id of a layer name.
pub fn by_name(name: &str) -> Option<u16> {
    ALL.iter().find(|(_, n)| *n == name).map(|(id, _)| *id)
}

/// The name of a layer id.
pub fn name(id: u16) -> Option<&'static str> {
    ALL.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
}
