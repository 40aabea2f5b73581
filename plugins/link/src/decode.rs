//! Link-layer field extraction from the layers the host dissected: ARP, 802.1Q, LLC, SNAP,
//! Ethernet CTP, EAPOL/EAP/EAPOL-Key, FDDI, Nortel discovery and PPPoE here; LLDP, CDP and 802.11 in
//! their own modules. ARP addresses are printed in their usual text forms when their size says
//! what they are (6-byte MAC, 4-byte IPv4 with protocol 0x0800), otherwise as hex. A packet cut
//! short yields a partial record (missing values 0/empty) and a counted error. Message values
//! are reused between packets.

use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, Packet, fmt, layer};
use std::fmt::Write as _;

/// Type ids: indexes into the record types this decoder declares.
pub const T_ARP: u16 = 0;
pub const T_DOT1Q: u16 = 1;
pub const T_LLC: u16 = 2;
pub const T_SNAP: u16 = 3;
pub const T_CTP: u16 = 4;
pub const T_CTP_REPLY: u16 = 5;
pub const T_LLDP: u16 = 6;
pub const T_LLDP_INFO: u16 = 7;
pub const T_CDP: u16 = 8;
pub const T_CDP_INFO: u16 = 9;
pub const T_EAP: u16 = 10;
pub const T_EAPOL: u16 = 11;
pub const T_EAPOL_KEY: u16 = 12;
pub const T_DOT11: u16 = 13;
pub const T_FDDI: u16 = 14;
pub const T_NDP: u16 = 15;
pub const T_PPPOE: u16 = 16;
pub const T_PN_DCP: u16 = 17;
pub const T_PN_RT: u16 = 18;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 19] = [
    ("ARP", "netcap.v1.ARP"),
    ("Dot1Q", "netcap.v1.Dot1Q"),
    ("LLC", "netcap.v1.LLC"),
    ("SNAP", "netcap.v1.SNAP"),
    ("EthernetCTP", "netcap.v1.EthernetCTP"),
    ("EthernetCTPReply", "netcap.v1.EthernetCTPReply"),
    ("LinkLayerDiscovery", "netcap.v1.LinkLayerDiscovery"),
    ("LinkLayerDiscoveryInfo", "netcap.v1.LinkLayerDiscoveryInfo"),
    ("CiscoDiscovery", "netcap.v1.CiscoDiscovery"),
    ("CiscoDiscoveryInfo", "netcap.v1.CiscoDiscoveryInfo"),
    ("EAP", "netcap.v1.EAP"),
    ("EAPOL", "netcap.v1.EAPOL"),
    ("EAPOLKey", "netcap.v1.EAPOLKey"),
    ("Dot11", "netcap.v1.Dot11"),
    ("FDDI", "netcap.v1.FDDI"),
    ("NortelDiscovery", "netcap.v1.NortelDiscovery"),
    ("PPPoE", "netcap.v1.PPPoE"),
    ("PROFINETDCP", "netcap.v1.PROFINETDCP"),
    ("PROFINETRT", "netcap.v1.PROFINETRT"),
];

/// The layer names the decoder asks the host for.
pub const LAYERS: [&str; 16] = [
    "arp",
    "dot1q",
    "llc",
    "snap",
    "ethernet-ctp",
    "lldp",
    "cdp",
    "eapol",
    "eap",
    "eapol-key",
    "dot11",
    "fddi",
    "nortel-discovery",
    "pppoe-discovery",
    "pppoe-session",
    "profinet",
];

/// Per-instance decoder state: one reused message per record type.
#[derive(Default)]
pub struct Link {
    pub(crate) enabled: [bool; 19],
    arp: v1::Arp,
    vlan: v1::Dot1Q,
    llc: v1::Llc,
    snap: v1::Snap,
    ctp: v1::EthernetCtp,
    ctp_reply: v1::EthernetCtpReply,
    pub(crate) lldp: v1::LinkLayerDiscovery,
    pub(crate) lldp_info: v1::LinkLayerDiscoveryInfo,
    pub(crate) cdp: v1::CiscoDiscovery,
    pub(crate) cdp_info: v1::CiscoDiscoveryInfo,
    eap: v1::Eap,
    eapol: v1::Eapol,
    eapol_key: v1::EapolKey,
    pub(crate) dot11: v1::Dot11,
    fddi: v1::Fddi,
    ndp: v1::NortelDiscovery,
    pppoe: v1::PpPoE,
    pub(crate) pn_dcp: v1::Profinetdcp,
    pub(crate) pn_rt: v1::Profinetrt,
}

impl Link {
    pub fn new(config: &Config) -> Self {
        let mut d = Link::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub(crate) fn on(&self, t: u16) -> bool {
        self.enabled[t as usize]
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            match l.id {
                layer::ARP if self.on(T_ARP) => self.arp(p, l, out),
                layer::DOT1Q if self.on(T_DOT1Q) => self.dot1q(p, l, out),
                layer::LLC if self.on(T_LLC) => self.llc(p, l, out),
                layer::SNAP if self.on(T_SNAP) => self.snap(p, l, out),
                layer::ETHERNET_CTP if self.on(T_CTP) || self.on(T_CTP_REPLY) => self.ctp(p, l, out),
                layer::LLDP if self.on(T_LLDP) || self.on(T_LLDP_INFO) => self.lldp_frame(p, l, out),
                layer::CDP if self.on(T_CDP) || self.on(T_CDP_INFO) => {
                    let end = frame_end(p, i);
                    self.cdp_frame(p, l, end, out)
                }
                layer::EAPOL if self.on(T_EAPOL) => self.eapol(p, l, out),
                layer::EAP if self.on(T_EAP) => self.eap(p, l, out),
                layer::EAPOL_KEY if self.on(T_EAPOL_KEY) => self.eapol_key(p, l, out),
                layer::DOT11 if self.on(T_DOT11) => self.dot11_frame(p, i, l, out),
                layer::FDDI if self.on(T_FDDI) => self.fddi(p, l, out),
                layer::NORTEL_DISCOVERY if self.on(T_NDP) => self.ndp(p, l, out),
                layer::PPPOE_DISCOVERY | layer::PPPOE_SESSION if self.on(T_PPPOE) => self.pppoe(p, l, out),
                layer::PROFINET if self.on(T_PN_DCP) || self.on(T_PN_RT) => self.profinet(p, l, out),
                _ => {}
            }
        }
    }

    fn llc(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        if r.d.is_empty() {
            out.error("llc: header truncated");
            return;
        }
        let m = &mut self.llc;
        m.timestamp = p.ts_nanos;
        let (dsap, ssap) = (r.u8(0), r.u8(1));
        m.dsap = u32::from(dsap & 0xfe);
        m.ig = dsap & 1 != 0;
        m.ssap = u32::from(ssap & 0xfe);
        m.cr = ssap & 1 != 0;
        let c = r.u8(2);
        // I and S frames have a two-byte control field (802.2 type 2), U frames one byte.
        m.control = if c & 1 == 0 || c & 3 == 1 { u32::from(c) | u32::from(r.u8(3)) << 8 } else { u32::from(c) };
        out.record(T_LLC, &self.llc);
        if r.short {
            out.error("llc: header truncated");
        }
    }

    fn snap(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        if r.d.is_empty() {
            out.error("snap: header truncated");
            return;
        }
        let m = &mut self.snap;
        m.timestamp = p.ts_nanos;
        set_bytes(&mut m.organizational_code, r.bytes(0, 3));
        m.r#type = u32::from(r.be16(3));
        out.record(T_SNAP, &self.snap);
        if r.short {
            out.error("snap: header truncated");
        }
    }

    fn fddi(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        if r.d.is_empty() {
            out.error("fddi: header truncated");
            return;
        }
        let m = &mut self.fddi;
        m.timestamp = p.ts_nanos;
        let fc = r.u8(0);
        m.frame_control = u32::from(fc & 0xf8);
        m.priority = u32::from(fc & 7);
        set_mac(&mut m.dst_mac, r.bytes(1, 6));
        set_mac(&mut m.src_mac, r.bytes(7, 6));
        out.record(T_FDDI, &self.fddi);
        if r.short {
            out.error("fddi: header truncated");
        }
    }

    /// Ethernet CTP: the skip count, then the function list walked from its start (as gopacket
    /// and Wireshark do): forward-data functions (2) until a reply (1).
    fn ctp(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        if r.d.len() < 2 {
            out.error("ethernet-ctp: header truncated");
            return;
        }
        let m = &mut self.ctp;
        m.timestamp = p.ts_nanos;
        m.skip_count = u32::from(r.le16(0));
        m.forward_addresses.clear();
        let mut at = 2;
        let mut reply = None;
        let mut err = None;
        // Each forward function takes 8 bytes, so the loop is bounded by the data.
        while at < r.d.len() {
            match r.le16(at) {
                1 => {
                    reply = Some(at);
                    break;
                }
                2 => {
                    let a = r.bytes(at + 2, 6);
                    if a.len() == 6 {
                        let mut s = String::new();
                        set_mac(&mut s, a);
                        m.forward_addresses.push(s);
                    }
                    at += 8;
                }
                _ => {
                    err = Some("ethernet-ctp: unknown function");
                    break;
                }
            }
        }
        if self.on(T_CTP) {
            out.record(T_CTP, &self.ctp);
        }
        if let Some(at) = reply {
            let m = &mut self.ctp_reply;
            m.timestamp = p.ts_nanos;
            m.function = 1;
            m.receipt_number = u32::from(r.le16(at + 2));
            set_bytes(&mut m.data, r.d.get(at + 4..).unwrap_or_default());
            if self.on(T_CTP_REPLY) {
                out.record(T_CTP_REPLY, &self.ctp_reply);
            }
        }
        if r.short {
            out.error("ethernet-ctp: function truncated");
        } else if let Some(e) = err {
            out.error(e);
        }
    }

    /// PPPoE: the 6-byte header, then a discovery packet's tags (type, length, value; within
    /// the payload length and the captured bytes, up to the end-of-list tag) or a session's PPP
    /// protocol field.
    fn pppoe(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        let m = &mut self.pppoe;
        m.timestamp = p.ts_nanos;
        let vt = r.u8(0);
        m.version = u32::from(vt >> 4);
        m.r#type = u32::from(vt & 0x0f);
        m.code = u32::from(r.u8(1));
        m.session_id = u32::from(r.be16(2));
        m.length = u32::from(r.be16(4));
        m.ppp_protocol = 0;
        let mut n = 0;
        let mut err = None;
        if l.id == layer::PPPOE_SESSION {
            m.ppp_protocol = u32::from(r.be16(6));
        } else {
            let end = (6 + m.length as usize).min(r.d.len());
            let mut at = 6;
            while at + 4 <= end {
                let (ty, len) = (r.be16(at), usize::from(r.be16(at + 2)));
                if ty == 0 {
                    break; // end of list
                }
                if n == m.tags.len() {
                    m.tags.push(v1::PpPoETag::default());
                }
                let t = &mut m.tags[n];
                n += 1;
                t.r#type = u32::from(ty);
                t.length = len as u32;
                t.value.clear();
                t.value.extend_from_slice(r.d.get(at + 4..(at + 4 + len).min(end)).unwrap_or_default());
                if at + 4 + len > end {
                    err = Some("pppoe: tag truncated");
                    break;
                }
                at += 4 + len;
            }
        }
        m.tags.truncate(n);
        m.src_mac.clear();
        m.dst_mac.clear();
        if let Some(e) = p.layers().take_while(|x| x.offset < l.offset).filter(|x| x.id == layer::ETHERNET).last() {
            set_mac(&mut m.dst_mac, p.data.get(e.offset..e.offset + 6).unwrap_or_default());
            set_mac(&mut m.src_mac, p.data.get(e.offset + 6..e.offset + 12).unwrap_or_default());
        }
        out.record(T_PPPOE, &self.pppoe);
        if r.short {
            out.error("pppoe: header truncated");
        } else if let Some(e) = err {
            out.error(e);
        }
    }

    fn ndp(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        let m = &mut self.ndp;
        m.timestamp = p.ts_nanos;
        let ip = r.bytes(0, 4);
        fmt::set_ip(&mut m.ip_address, ip);
        set_bytes(&mut m.segment_id, r.bytes(4, 3));
        m.chassis = u32::from(r.u8(7));
        m.backplane = u32::from(r.u8(8));
        m.state = u32::from(r.u8(9));
        m.num_links = u32::from(r.u8(10));
        m.src_mac.clear();
        m.dst_mac.clear();
        for x in p.layers() {
            let (dst, src) = match x.id {
                layer::ETHERNET => (x.offset, x.offset + 6),
                layer::FDDI => (x.offset + 1, x.offset + 7),
                _ => continue,
            };
            set_mac(&mut m.dst_mac, p.data.get(dst..dst + 6).unwrap_or_default());
            set_mac(&mut m.src_mac, p.data.get(src..src + 6).unwrap_or_default());
            break;
        }
        out.record(T_NDP, &self.ndp);
        if r.short {
            out.error("nortel-discovery: header truncated");
        }
    }

    fn eapol(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        if r.d.is_empty() {
            out.error("eapol: header truncated");
            return;
        }
        let m = &mut self.eapol;
        m.timestamp = p.ts_nanos;
        m.version = u32::from(r.u8(0));
        m.r#type = u32::from(r.u8(1));
        m.length = u32::from(r.be16(2));
        out.record(T_EAPOL, &self.eapol);
        if r.short {
            out.error("eapol: header truncated");
        }
    }

    fn eap(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        if r.d.is_empty() {
            out.error("eap: header truncated");
            return;
        }
        let m = &mut self.eap;
        m.timestamp = p.ts_nanos;
        m.code = u32::from(r.u8(0));
        m.id = u32::from(r.u8(1));
        let len = r.be16(2);
        m.length = u32::from(len);
        m.r#type = 0;
        m.type_data.clear();
        let mut bad = false;
        if len > 4 {
            m.r#type = u32::from(r.u8(4));
            set_bytes(&mut m.type_data, r.bytes(5, usize::from(len).saturating_sub(5)));
        } else if len < 4 && !r.short {
            bad = true;
        }
        out.record(T_EAP, &self.eap);
        if r.short {
            out.error("eap: truncated");
        } else if bad {
            out.error("eap: bad length");
        }
    }

    /// EAPOL-Key: the 802.11 (RSN/WPA) descriptor layout, as gopacket reads every descriptor;
    /// the RC4 descriptor (type 1) has its own layout.
    fn eapol_key(&mut self, p: &Packet<'_>, l: Layer, out: &mut Emitter<'_>) {
        let mut r = Rd::at(p, l);
        if r.d.is_empty() {
            out.error("eapol-key: truncated");
            return;
        }
        let m = &mut self.eapol_key;
        *m = v1::EapolKey {
            nonce: std::mem::take(&mut m.nonce),
            iv: std::mem::take(&mut m.iv),
            mic: std::mem::take(&mut m.mic),
            encrypted_key_data: std::mem::take(&mut m.encrypted_key_data),
            ..Default::default()
        };
        m.timestamp = p.ts_nanos;
        let ty = r.u8(0);
        m.key_descriptor_type = u32::from(ty);
        if ty == 1 {
            // RC4: key length, replay counter, IV, key index (bit 7: unicast), signature, key.
            m.key_length = u32::from(r.be16(1));
            m.replay_counter = r.be64(3);
            set_bytes(&mut m.iv, r.bytes(11, 16));
            let idx = r.u8(27);
            m.key_index = u32::from(idx & 0x7f);
            m.key_type = u32::from(idx >> 7);
            set_bytes(&mut m.mic, r.bytes(28, 16));
            m.nonce.clear();
            m.encrypted_key_data.clear();
        } else {
            let info = r.be16(1);
            m.key_descriptor_version = u32::from(info & 7);
            m.key_type = u32::from((info >> 3) & 1);
            m.key_index = u32::from((info >> 4) & 3);
            m.install = info & 0x0040 != 0;
            m.key_ack = info & 0x0080 != 0;
            m.key_mic = info & 0x0100 != 0;
            m.secure = info & 0x0200 != 0;
            m.mic_error = info & 0x0400 != 0;
            m.request = info & 0x0800 != 0;
            m.has_encrypted_key_data = info & 0x1000 != 0;
            m.smk_message = info & 0x2000 != 0;
            m.key_length = u32::from(r.be16(3));
            m.replay_counter = r.be64(5);
            set_bytes(&mut m.nonce, r.bytes(13, 32));
            set_bytes(&mut m.iv, r.bytes(45, 16));
            m.rsc = r.be64(61);
            m.id = r.be64(69);
            set_bytes(&mut m.mic, r.bytes(77, 16));
            let n = r.be16(93);
            m.key_data_length = u32::from(n);
            set_bytes(&mut m.encrypted_key_data, r.bytes(95, usize::from(n)));
        }
        out.record(T_EAPOL_KEY, &self.eapol_key);
        if r.short {
            out.error("eapol-key: truncated");
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

/// Reads big- and little-endian values from a layer's bytes; reads past the end give 0 and set
/// `short`, so a record can be filled with what is present.
pub(crate) struct Rd<'a> {
    pub(crate) d: &'a [u8],
    pub(crate) short: bool,
}

impl<'a> Rd<'a> {
    pub(crate) fn new(d: &'a [u8]) -> Self {
        Rd { d, short: false }
    }

    /// The bytes of layer `l` to the end of the packet.
    pub(crate) fn at(p: &Packet<'a>, l: Layer) -> Self {
        Rd::new(p.data.get(l.offset..).unwrap_or_default())
    }

    pub(crate) fn u8(&mut self, at: usize) -> u8 {
        match self.d.get(at) {
            Some(b) => *b,
            None => {
                self.short = true;
                0
            }
        }
    }

    pub(crate) fn be16(&mut self, at: usize) -> u16 {
        u16::from_be_bytes([self.u8(at), self.u8(at.saturating_add(1))])
    }

    pub(crate) fn le16(&mut self, at: usize) -> u16 {
        u16::from_le_bytes([self.u8(at), self.u8(at.saturating_add(1))])
    }

    pub(crate) fn be32(&mut self, at: usize) -> u32 {
        (u32::from(self.be16(at)) << 16) | u32::from(self.be16(at.saturating_add(2)))
    }

    pub(crate) fn le32(&mut self, at: usize) -> u32 {
        u32::from(self.le16(at)) | (u32::from(self.le16(at.saturating_add(2))) << 16)
    }

    pub(crate) fn be64(&mut self, at: usize) -> u64 {
        (u64::from(self.be32(at)) << 32) | u64::from(self.be32(at.saturating_add(4)))
    }

    /// Up to `n` bytes from `at` (fewer, and `short` set, when the data ends first).
    pub(crate) fn bytes(&mut self, at: usize, n: usize) -> &'a [u8] {
        let end = at.saturating_add(n);
        if end > self.d.len() {
            self.short = true;
        }
        let len = self.d.len();
        self.d.get(at.min(len)..end.min(len)).unwrap_or_default()
    }
}

/// Replaces `v` with `b`, reusing its capacity.
pub(crate) fn set_bytes(v: &mut Vec<u8>, b: &[u8]) {
    v.clear();
    v.extend_from_slice(b);
}

/// Replaces `s` with the MAC address in `b`, or clears it when `b` is not 6 bytes.
pub(crate) fn set_mac(s: &mut String, b: &[u8]) {
    match <&[u8; 6]>::try_from(b) {
        Ok(a) => fmt::set_mac(s, a),
        Err(_) => s.clear(),
    }
}

/// Replaces `s` with `b` as text (invalid UTF-8 replaced).
pub(crate) fn set_text(s: &mut String, b: &[u8]) {
    s.clear();
    s.push_str(&String::from_utf8_lossy(b));
}

/// Where the frame carrying layer index `i` ends in `p.data`: an 802.3 length field before
/// the nearest LLC layer bounds it (the rest is padding), an 802.11 FCS is cut off; otherwise the
/// end of the captured data.
pub(crate) fn frame_end(p: &Packet<'_>, i: usize) -> usize {
    let len = p.data.len();
    let mut j = i;
    while j > 0 {
        j -= 1;
        let Some(l) = p.layer(j) else { break };
        if l.id != layer::LLC {
            continue;
        }
        let Some(prev) = j.checked_sub(1).and_then(|k| p.layer(k)) else { break };
        let field = match prev.id {
            layer::ETHERNET => prev.offset + 12,
            layer::DOT1Q => prev.offset + 2,
            layer::DOT11 => {
                return if crate::dot11::fcs(p, j - 1).is_some() { len - 4 } else { len };
            }
            _ => break,
        };
        if let Some(b) = p.data.get(field..field + 2) {
            let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
            if n <= 1500 {
                return len.min(l.offset + n);
            }
        }
        break;
    }
    len
}

/// Writes the dotted form of a BER-encoded object identifier.
pub(crate) fn set_oid(s: &mut String, b: &[u8]) {
    s.clear();
    let mut v: u64 = 0;
    let mut first = true;
    for &x in b {
        v = (v << 7) | u64::from(x & 0x7f);
        if x & 0x80 != 0 {
            if v > u64::MAX >> 8 {
                return;
            }
            continue;
        }
        if first {
            let (a, b) = if v < 80 { (v / 40, v % 40) } else { (2, v - 80) };
            let _ = write!(s, "{a}.{b}");
            first = false;
        } else {
            let _ = write!(s, ".{v}");
        }
        v = 0;
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
