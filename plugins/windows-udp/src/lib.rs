//! The `windows-udp` decoder: Windows enterprise protocols over UDP: Kerberos to and from a KDC
//! (port 88, one record per datagram) and CLDAP (port 389, RFC 1798 as Active Directory uses it:
//! plain LDAPMessages, one record per message of a datagram), and the NetBIOS name service (port
//! 137, NBNS records) and datagram service (port 138, NBDGM records, parsed in [`netbios`]). The
//! Kerberos and LDAP messages are parsed by `netcap-windows-parse`,
//! shared with the `windows` stream decoder (the same protocols over TCP); this file finds the
//! UDP payloads and sets the records' addresses. A datagram that does not parse gives the
//! partial record and a counted error.

use netcap_proto::v1;
use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder, fmt, layer};
use netcap_windows_parse::{der, kerberos, ldap};

pub mod netbios;

/// Type ids: indexes into [`RECORD_TYPES`].
pub const T_KERBEROS: u16 = 0;
pub const T_LDAP: u16 = 1;
pub const T_NBNS: u16 = 2;
pub const T_NBDGM: u16 = 3;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 4] = [
    ("Kerberos", "netcap.v1.Kerberos"),
    ("LDAP", "netcap.v1.LDAP"),
    ("NBNS", "netcap.v1.NBNS"),
    ("NBDGM", "netcap.v1.NBDGM"),
];

/// Port interests.
pub const LAYERS: [&str; 4] = ["udp:88", "udp:389", "udp:137", "udp:138"];

pub const PORT_KERBEROS: u16 = 88;
pub const PORT_LDAP: u16 = 389;
pub const PORT_NBNS: u16 = 137;
pub const PORT_NBDGM: u16 = 138;

/// Most LDAPMessages read from one datagram.
const MAX_MESSAGES: usize = 64;

/// Per-instance state: which record types are on, and the records (buffers reused).
#[derive(Default)]
pub struct WindowsUdp {
    on: [bool; 4],
    krb: v1::Kerberos,
    ldap: v1::Ldap,
    nbns: v1::Nbns,
    nbdgm: v1::Nbdgm,
}

impl WindowsUdp {
    pub fn new(config: &Config) -> Self {
        WindowsUdp { on: RECORD_TYPES.map(|(n, _)| config.record_type_enabled(n)), ..Default::default() }
    }

    /// Decodes each UDP layer of `p` on a port of ours (a tunnelled packet may have several).
    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            if l.id != layer::UDP {
                continue;
            }
            let Some(h) = p.data.get(l.offset..l.offset + 8) else { continue };
            let (sp, dp) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let start = l.offset + 8;
            let end = if ulen >= 8 { (l.offset + ulen).min(p.data.len()) } else { p.data.len() };
            let payload = p.data.get(start..end).unwrap_or_default();
            let at = Addr { p, layer: i, sp, dp, depth: l.depth() };
            if (sp == PORT_KERBEROS || dp == PORT_KERBEROS) && self.on[usize::from(T_KERBEROS)] {
                let r = &mut self.krb;
                let err = kerberos::parse(payload, r);
                at.set(&mut r.timestamp, &mut r.src_ip, &mut r.dst_ip, &mut r.transport);
                (r.src_port, r.dst_port, r.tunnel_depth) = (u32::from(sp), u32::from(dp), at.depth);
                out.record(T_KERBEROS, r);
                if let Some(e) = err {
                    out.error(e);
                }
            } else if (sp == PORT_LDAP || dp == PORT_LDAP) && self.on[usize::from(T_LDAP)] {
                self.cldap(payload, &at, out);
            } else if (sp == PORT_NBNS || dp == PORT_NBNS) && self.on[usize::from(T_NBNS)] {
                let r = &mut self.nbns;
                let err = netbios::parse_ns(payload, r);
                at.context(&mut r.timestamp, &mut r.src_ip, &mut r.dst_ip);
                (r.src_port, r.dst_port, r.tunnel_depth) = (u32::from(sp), u32::from(dp), at.depth);
                out.record(T_NBNS, r);
                if let Some(e) = err {
                    out.error(e);
                }
            } else if (sp == PORT_NBDGM || dp == PORT_NBDGM) && self.on[usize::from(T_NBDGM)] {
                let r = &mut self.nbdgm;
                let err = netbios::parse_dgm(payload, r);
                at.context(&mut r.timestamp, &mut r.src_ip, &mut r.dst_ip);
                (r.src_port, r.dst_port, r.tunnel_depth) = (u32::from(sp), u32::from(dp), at.depth);
                out.record(T_NBDGM, r);
                if let Some(e) = err {
                    out.error(e);
                }
            }
        }
    }

    /// Each LDAPMessage of a CLDAP datagram (a message cut short or malformed: its partial
    /// record and an error, and the rest of the datagram is not read).
    fn cldap(&mut self, mut b: &[u8], at: &Addr<'_, '_>, out: &mut Emitter<'_>) {
        let r = &mut self.ldap;
        for _ in 0..MAX_MESSAGES {
            if b.is_empty() {
                return;
            }
            let (msg, rest) = match der::header(b) {
                Some((h, n)) if h.checked_add(n).is_some_and(|end| end <= b.len()) => b.split_at(h + n),
                _ => (b, &[][..]),
            };
            let err = ldap::parse(msg, r);
            at.set(&mut r.timestamp, &mut r.src_ip, &mut r.dst_ip, &mut r.transport);
            (r.src_port, r.dst_port, r.tunnel_depth) = (u32::from(at.sp), u32::from(at.dp), at.depth);
            out.record(T_LDAP, r);
            if let Some(e) = err {
                out.error(e);
                return;
            }
            b = rest;
        }
    }
}

/// Where a UDP payload came from: its packet, UDP layer index, ports and tunnel depth.
struct Addr<'p, 'a> {
    p: &'p Packet<'a>,
    layer: usize,
    sp: u16,
    dp: u16,
    depth: u32,
}

impl Addr<'_, '_> {
    /// Writes the packet's time, addresses and "udp" into a record's fields.
    fn set(&self, ts: &mut i64, src: &mut String, dst: &mut String, transport: &mut String) {
        self.context(ts, src, dst);
        if transport != "udp" {
            transport.clear();
            transport.push_str("udp");
        }
    }
}

impl Addr<'_, '_> {
    /// Writes the packet's time and addresses into a record's fields.
    fn context(&self, ts: &mut i64, src: &mut String, dst: &mut String) {
        let e = self.p.endpoints(self.layer + 1);
        *ts = self.p.ts_nanos;
        fmt::set_ip(src, e.src);
        fmt::set_ip(dst, e.dst);
    }
}

/// The exported decoder.
pub struct WindowsUdpDecoder(WindowsUdp);

impl Decoder for WindowsUdpDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "windows-udp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(WindowsUdpDecoder(WindowsUdp::new(config)))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.decode(packet, out);
    }
}

export_decoder!(WindowsUdpDecoder);

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{Layer, TAG_ERROR, entries, packets, push_packet};
    use netcap_windows_parse::build;
    use prost::Message;

    /// IPv4 + UDP around `payload`.
    fn udp(sp: u16, dp: u16, payload: &[u8]) -> (Vec<u8>, Vec<Layer>) {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
        p.extend(sp.to_be_bytes());
        p.extend(dp.to_be_bytes());
        p.extend(((8 + payload.len()) as u16).to_be_bytes());
        p.extend([0, 0]);
        p.extend(payload);
        (p, vec![Layer { id: layer::IPV4, flags: 0, offset: 0 }, Layer { id: layer::UDP, flags: 0, offset: 20 }])
    }

    /// Records (type id, bytes) and errors of one datagram.
    fn run(sp: u16, dp: u16, payload: &[u8]) -> (Vec<(u16, Vec<u8>)>, Vec<String>) {
        let (data, layers) = udp(sp, dp, payload);
        let mut batch = Vec::new();
        push_packet(&mut batch, 3, 42, 101, data.len() as u32, &layers, &data);
        let mut d = WindowsUdp::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        let (mut recs, mut errs) = (Vec::new(), Vec::new());
        for e in entries(&out).map(Result::unwrap) {
            if e.tag == TAG_ERROR {
                errs.push(String::from_utf8(e.bytes.to_vec()).unwrap());
            } else {
                recs.push((e.tag, e.bytes.to_vec()));
            }
        }
        (recs, errs)
    }

    #[test]
    fn netbios_ports() {
        // A name query (truncated after the header) and a datagram error message.
        let (recs, errs) = run(137, 137, &[0xab, 0xcd, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(errs, [netbios::E_NS_TRUNCATED]);
        let r = v1::Nbns::decode(&recs[0].1[..]).unwrap();
        assert_eq!((recs[0].0, r.transaction_id, r.broadcast, r.qd_count, r.src_port), (T_NBNS, 0xabcd, true, 1, 137));
        assert_eq!(r.src_ip, "192.0.2.1");
        let (recs, errs) = run(138, 138, &[0x13, 2, 0, 9, 10, 0, 0, 1, 0, 138, 0x82]);
        assert!(errs.is_empty());
        let r = v1::Nbdgm::decode(&recs[0].1[..]).unwrap();
        assert_eq!((recs[0].0, r.msg_type, r.datagram_id, r.error_code, r.timestamp), (T_NBDGM, 0x13, 9, 0x82, 42));
        let (recs, errs) = run(138, 138, &[0x10]);
        assert_eq!((recs.len(), errs), (1, vec![netbios::E_DGM_HEADER.to_string()]));
    }

    #[test]
    fn kerberos_datagram() {
        let (recs, errs) = run(50000, 88, &build::as_req());
        assert!(errs.is_empty());
        let r = v1::Kerberos::decode(&recs[0].1[..]).unwrap();
        assert_eq!((recs[0].0, r.msg_type, r.client_name.as_str()), (T_KERBEROS, 10, "alice"));
        assert_eq!((r.src_ip.as_str(), r.dst_port, r.transport.as_str(), r.timestamp), ("192.0.2.1", 88, "udp", 42));
        // Cut: the partial record and an error.
        let m = build::tgs_rep();
        let (recs, errs) = run(88, 50000, &m[..m.len() / 2]);
        assert_eq!((recs.len(), errs), (1, vec![kerberos::E_MALFORMED.to_string()]));
        assert_eq!(v1::Kerberos::decode(&recs[0].1[..]).unwrap().msg_type, 13);
    }

    #[test]
    fn cldap_datagram_with_several_messages() {
        let mut d = build::ldap_search();
        d.extend(build::ldap_search_done());
        let (recs, errs) = run(389, 50000, &d);
        assert!(errs.is_empty());
        let l: Vec<v1::Ldap> = recs.iter().map(|r| v1::Ldap::decode(&r.1[..]).unwrap()).collect();
        assert_eq!(l.iter().map(|r| (r.message_id, r.operation)).collect::<Vec<_>>(), [(7, 3), (7, 5)]);
        assert_eq!(l[1].transport, "udp");
        // Every cut: records as far as they go, one error, never a panic.
        let first = build::ldap_search().len();
        for n in (1..d.len()).filter(|&n| n != first) {
            let (recs, errs) = run(389, 50000, &d[..n]);
            assert_eq!(errs, [ldap::E_MALFORMED], "cut at {n}");
            assert!(!recs.is_empty() && recs.len() <= 2);
        }
    }
}
