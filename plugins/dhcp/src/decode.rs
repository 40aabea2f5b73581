//! DHCPv4, DHCPv6 and NTP parsing from the UDP layers the host dissected. The decoder checks the
//! ports of every UDP layer itself (67/68, 546/547, 123), so it works whether the host hands it
//! all UDP packets or only those of its port interests, and decodes each matching UDP layer of a
//! tunnelled packet. The payload is bounded by the UDP length field and the captured bytes.
//! Every loop is bounded by the bytes present; a message cut short yields the fields that were
//! present and an error. Record values are reused between packets.

use netcap_proto::v1;
use netcap_proto::v1::{dhc_pv4, dhc_pv6};
use netcap_sdk::{Config, Emitter, Packet, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_DHCPV4: u16 = 0;
pub const T_DHCPV6: u16 = 1;
pub const T_NTP: u16 = 2;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 3] =
    [("DHCPv4", "netcap.v1.DHCPv4"), ("DHCPv6", "netcap.v1.DHCPv6"), ("NTP", "netcap.v1.NTP")];

/// What the decoder asks the host for.
pub const LAYERS: [&str; 5] = ["udp:67", "udp:68", "udp:546", "udp:547", "udp:123"];

/// The DHCP magic cookie that starts the options.
const DHCP_MAGIC: u32 = 0x6382_5363;

/// Seconds from 1900-01-01 (NTP era 0) to the Unix epoch.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be64(d: &[u8], at: usize) -> Option<u64> {
    d.get(at..at + 8).map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
}

/// Moves the elements of `v` to `spare` (keeping their allocations for reuse).
fn recycle<T>(v: &mut Vec<T>, spare: &mut Vec<T>) {
    spare.append(v);
}

/// Replaces `s` with the bytes up to the first NUL as text (lossy UTF-8).
fn set_cstr(s: &mut String, b: &[u8]) {
    s.clear();
    let b = b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n]);
    s.push_str(&String::from_utf8_lossy(b));
}

/// Replaces `s` with `b` as colon-separated lowercase hex.
fn set_hex_colon(s: &mut String, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.clear();
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push(HEX[usize::from(x >> 4)] as char);
        s.push(HEX[usize::from(x & 15)] as char);
    }
}

fn push_decimal(s: &mut String, v: u32) {
    if !s.is_empty() {
        s.push(',');
    }
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &c in &buf[i..] {
        s.push(c as char);
    }
}

/// An NTP timestamp as ns since the Unix epoch (0 stays 0). Seconds with the top bit clear
/// belong to era 1 (from 2036), as RFC 4330 and Wireshark read them.
pub fn ntp_to_unix_ns(raw: u64) -> i64 {
    if raw == 0 {
        return 0;
    }
    let secs = (raw >> 32) as i64;
    let secs = if secs & 0x8000_0000 != 0 { secs } else { secs + (1i64 << 32) };
    let frac_ns = (((raw & 0xffff_ffff) * 1_000_000_000) >> 32) as i64;
    (secs - NTP_UNIX_OFFSET) * 1_000_000_000 + frac_ns
}

/// Per-instance decoder state.
#[derive(Default)]
pub struct Dhcp {
    enabled: [bool; 3],
    v4: v1::DhcPv4,
    v6: v1::DhcPv6,
    ntp: v1::Ntp,
    spare_v4: Vec<dhc_pv4::Option>,
    spare_v6: Vec<dhc_pv6::Option>,
}

impl Dhcp {
    pub fn new(config: &Config) -> Self {
        let mut d = Dhcp::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            if l.id != layer::UDP {
                continue;
            }
            let Some(h) = p.data.get(l.offset..l.offset + 8) else { continue };
            let (sp, dp) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
            let is = |a: u16, b: u16| sp == a || sp == b || dp == a || dp == b;
            let kind = if is(67, 68) {
                T_DHCPV4
            } else if is(546, 547) {
                T_DHCPV6
            } else if is(123, 123) {
                T_NTP
            } else {
                continue;
            };
            if !self.enabled[usize::from(kind)] {
                continue;
            }
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let start = l.offset + 8;
            let end = if ulen >= 8 { (l.offset + ulen).min(p.data.len()) } else { p.data.len() };
            let msg = p.data.get(start..end).unwrap_or_default();
            let e = p.endpoints(i + 1);
            macro_rules! ctx {
                ($r:expr) => {{
                    let r = &mut $r;
                    r.timestamp = p.ts_nanos;
                    fmt::set_ip(&mut r.src_ip, e.src);
                    fmt::set_ip(&mut r.dst_ip, e.dst);
                    r.src_port = u32::from(sp);
                    r.dst_port = u32::from(dp);
                    r.tunnel_depth = l.depth();
                }};
            }
            let err = match kind {
                T_DHCPV4 => {
                    ctx!(self.v4);
                    let err = self.dhcpv4(msg);
                    out.record(T_DHCPV4, &self.v4);
                    err
                }
                T_DHCPV6 => {
                    ctx!(self.v6);
                    let err = self.dhcpv6(msg);
                    out.record(T_DHCPV6, &self.v6);
                    err
                }
                _ => {
                    ctx!(self.ntp);
                    let err = self.ntp(msg);
                    out.record(T_NTP, &self.ntp);
                    err
                }
            };
            if let Some(kind) = err {
                out.error(kind);
            }
        }
    }

    fn dhcpv4(&mut self, m: &[u8]) -> Option<&'static str> {
        let r = &mut self.v4;
        recycle(&mut r.options, &mut self.spare_v4);
        let b = |i: usize| m.get(i).copied().map_or(0, u32::from);
        r.operation = b(0);
        r.hardware_type = b(1);
        r.hardware_len = b(2);
        r.hardware_opts = b(3);
        r.xid = be32(m, 4).unwrap_or(0);
        r.secs = be16(m, 8).map_or(0, u32::from);
        r.flags = be16(m, 10).map_or(0, u32::from);
        for (s, at) in [
            (&mut r.client_ip, 12),
            (&mut r.your_client_ip, 16),
            (&mut r.next_server_ip, 20),
            (&mut r.relay_agent_ip, 24),
        ] {
            match m.get(at..at + 4) {
                Some(a) => fmt::set_ip(s, a),
                None => s.clear(),
            }
        }
        let hlen = (r.hardware_len as usize).min(16);
        match m.get(28..28 + hlen) {
            Some(a) => set_hex_colon(&mut r.client_hw_addr, a),
            None => r.client_hw_addr.clear(),
        }
        r.server_name.clear();
        r.file.clear();
        r.fingerprint.clear();
        r.hostname.clear();
        r.vendor_class.clear();
        r.requested_ip.clear();
        r.message_type = 0;
        r.cookie = 0;
        let (Some(sname), Some(file)) = (m.get(44..108), m.get(108..236)) else {
            return Some("dhcpv4: header truncated");
        };
        let Some(cookie) = be32(m, 236) else {
            set_cstr(&mut r.server_name, sname);
            set_cstr(&mut r.file, file);
            return Some("dhcpv4: header truncated");
        };
        r.cookie = cookie;
        if cookie != DHCP_MAGIC {
            // Plain BOOTP (or a bad cookie): the vendor area is not DHCP options.
            set_cstr(&mut r.server_name, sname);
            set_cstr(&mut r.file, file);
            return None;
        }
        let mut err = None;
        let overload = parse_v4_options(&m[240..], r, &mut self.spare_v4, &mut err);
        // Option overload (52): file first, then sname (RFC 2131 section 4.1).
        if overload & 1 != 0 {
            parse_v4_options(file, r, &mut self.spare_v4, &mut err);
        } else {
            set_cstr(&mut r.file, file);
        }
        if overload & 2 != 0 {
            parse_v4_options(sname, r, &mut self.spare_v4, &mut err);
        } else {
            set_cstr(&mut r.server_name, sname);
        }
        err
    }

    fn dhcpv6(&mut self, m: &[u8]) -> Option<&'static str> {
        let r = &mut self.v6;
        recycle(&mut r.options, &mut self.spare_v6);
        r.fingerprint.clear();
        r.link_addr.clear();
        r.peer_addr.clear();
        r.hop_count = 0;
        r.transaction_id = 0;
        let Some(&ty) = m.first() else {
            r.msg_type = 0;
            return Some("dhcpv6: header truncated");
        };
        r.msg_type = u32::from(ty);
        let start = if ty == 12 || ty == 13 {
            let Some(h) = m.get(..34) else {
                r.hop_count = m.get(1).copied().map_or(0, u32::from);
                return Some("dhcpv6: header truncated");
            };
            r.hop_count = u32::from(h[1]);
            fmt::set_ip(&mut r.link_addr, &h[2..18]);
            fmt::set_ip(&mut r.peer_addr, &h[18..34]);
            34
        } else {
            let Some(h) = m.get(..4) else { return Some("dhcpv6: header truncated") };
            r.transaction_id = u32::from_be_bytes([0, h[1], h[2], h[3]]);
            4
        };
        let mut at = start;
        while at < m.len() {
            let (Some(code), Some(len)) = (be16(m, at), be16(m, at + 2)) else {
                return Some("dhcpv6: options truncated");
            };
            let Some(data) = m.get(at + 4..at + 4 + usize::from(len)) else {
                return Some("dhcpv6: options truncated");
            };
            let mut o = self.spare_v6.pop().unwrap_or_default();
            o.code = u32::from(code);
            o.length = u32::from(len);
            o.data.clear();
            o.data.extend_from_slice(data);
            r.options.push(o);
            at += 4 + usize::from(len);
        }
        if let Some(oro) = find_oro(m, 0) {
            for c in oro.chunks_exact(2) {
                push_decimal(&mut r.fingerprint, u32::from(u16::from_be_bytes([c[0], c[1]])));
            }
        }
        None
    }

    fn ntp(&mut self, m: &[u8]) -> Option<&'static str> {
        let r = &mut self.ntp;
        let b0 = m.first().copied().unwrap_or(0);
        r.leap_indicator = u32::from(b0 >> 6);
        r.version = u32::from((b0 >> 3) & 7);
        r.mode = u32::from(b0 & 7);
        r.stratum = 0;
        r.poll = 0;
        r.precision = 0;
        r.root_delay = 0;
        r.root_dispersion = 0;
        r.reference_id = 0;
        r.reference_timestamp = 0;
        r.origin_timestamp = 0;
        r.receive_timestamp = 0;
        r.transmit_timestamp = 0;
        r.extension_bytes.clear();
        if m.is_empty() {
            set_ntp_ns(r);
            return Some("ntp: header truncated");
        }
        if r.mode >= 6 {
            r.extension_bytes.extend_from_slice(&m[1..]);
            set_ntp_ns(r);
            return None;
        }
        let b = |i: usize| m.get(i).copied();
        r.stratum = b(1).map_or(0, u32::from);
        r.poll = b(2).map_or(0, |v| i32::from(v as i8));
        r.precision = b(3).map_or(0, |v| i32::from(v as i8));
        r.root_delay = be32(m, 4).unwrap_or(0);
        r.root_dispersion = be32(m, 8).unwrap_or(0);
        r.reference_id = be32(m, 12).unwrap_or(0);
        r.reference_timestamp = be64(m, 16).unwrap_or(0);
        r.origin_timestamp = be64(m, 24).unwrap_or(0);
        r.receive_timestamp = be64(m, 32).unwrap_or(0);
        r.transmit_timestamp = be64(m, 40).unwrap_or(0);
        set_ntp_ns(r);
        match m.get(48..) {
            Some(rest) => {
                r.extension_bytes.extend_from_slice(rest);
                None
            }
            None => Some("ntp: header truncated"),
        }
    }
}

/// The data of the option request option (6) of a DHCPv6 message, looking into the relayed
/// message (option 9) of relay messages (at most 8 relays deep).
fn find_oro(m: &[u8], depth: usize) -> Option<&[u8]> {
    let start = match m.first()? {
        12 | 13 => 34,
        _ => 4,
    };
    let mut at = start;
    let mut relayed = None;
    while let (Some(code), Some(len)) = (be16(m, at), be16(m, at + 2)) {
        let data = m.get(at + 4..at + 4 + usize::from(len))?;
        match code {
            6 => return Some(data),
            9 => relayed = Some(data),
            _ => {}
        }
        at += 4 + usize::from(len);
    }
    if depth < 8 { relayed.and_then(|d| find_oro(d, depth + 1)) } else { None }
}

fn set_ntp_ns(r: &mut v1::Ntp) {
    r.reference_ns = ntp_to_unix_ns(r.reference_timestamp);
    r.origin_ns = ntp_to_unix_ns(r.origin_timestamp);
    r.receive_ns = ntp_to_unix_ns(r.receive_timestamp);
    r.transmit_ns = ntp_to_unix_ns(r.transmit_timestamp);
}

/// Appends the options in `d` to the record; returns the option-overload value (option 52).
fn parse_v4_options(
    d: &[u8],
    r: &mut v1::DhcPv4,
    spare: &mut Vec<dhc_pv4::Option>,
    err: &mut Option<&'static str>,
) -> u8 {
    let mut overload = 0;
    let mut at = 0;
    while let Some(&ty) = d.get(at) {
        match ty {
            0 => {
                at += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = d.get(at + 1) else {
            err.get_or_insert("dhcpv4: options truncated");
            break;
        };
        let Some(data) = d.get(at + 2..at + 2 + usize::from(len)) else {
            err.get_or_insert("dhcpv4: options truncated");
            break;
        };
        let mut o = spare.pop().unwrap_or_default();
        o.r#type = u32::from(ty);
        o.length = u32::from(len);
        o.data.clear();
        o.data.extend_from_slice(data);
        r.options.push(o);
        match ty {
            12 => set_cstr(&mut r.hostname, data),
            50 if data.len() == 4 => fmt::set_ip(&mut r.requested_ip, data),
            52 => overload = data.first().copied().unwrap_or(0),
            53 => r.message_type = data.first().copied().map_or(0, u32::from),
            55 => {
                r.fingerprint.clear();
                for &c in data {
                    push_decimal(&mut r.fingerprint, u32::from(c));
                }
            }
            60 => set_cstr(&mut r.vendor_class, data),
            _ => {}
        }
        at += 2 + usize::from(len);
    }
    overload
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{Layer, packets, push_packet};
    use prost::Message;

    fn udp_packet(sp: u16, dp: u16, payload: &[u8]) -> (Vec<u8>, Vec<Layer>) {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
        let ulen = (8 + payload.len()) as u16;
        p.extend_from_slice(&sp.to_be_bytes());
        p.extend_from_slice(&dp.to_be_bytes());
        p.extend_from_slice(&ulen.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let layers =
            vec![Layer { id: layer::IPV4, flags: 0, offset: 0 }, Layer { id: layer::UDP, flags: 0, offset: 20 }];
        (p, layers)
    }

    /// Records (type id, bytes) and error kinds.
    fn run(data: &[u8], layers: &[Layer]) -> (Vec<(u16, Vec<u8>)>, Vec<String>) {
        let mut batch = Vec::new();
        push_packet(&mut batch, 3, 42, 101, data.len() as u32, layers, data);
        let mut d = Dhcp::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        let (mut recs, mut errs) = (Vec::new(), Vec::new());
        for e in netcap_sdk::entries(&out).map(Result::unwrap) {
            if e.tag == netcap_sdk::TAG_ERROR {
                errs.push(String::from_utf8(e.bytes.to_vec()).unwrap());
            } else {
                recs.push((e.tag, e.bytes.to_vec()));
            }
        }
        (recs, errs)
    }

    fn discover() -> Vec<u8> {
        let mut m = vec![1, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef, 0, 3, 0x80, 0];
        m.extend_from_slice(&[0; 16]);
        m.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
        m.extend_from_slice(&[0; 10 + 64]);
        let mut file = b"boot.img".to_vec();
        file.resize(128, 0);
        m.extend_from_slice(&file);
        m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
        m.extend_from_slice(&[
            53, 1, 1, 0, 50, 4, 192, 0, 2, 9, 12, 3, b'p', b'c', b'1', 60, 4, b'M', b'S', b'F', b'T',
        ]);
        m.extend_from_slice(&[55, 4, 1, 3, 6, 252, 255, 0, 0]);
        m
    }

    #[test]
    fn dhcpv4_discover() {
        let (p, l) = udp_packet(68, 67, &discover());
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(recs[0].0, T_DHCPV4);
        let r = v1::DhcPv4::decode(&recs[0].1[..]).unwrap();
        assert_eq!(
            (r.operation, r.hardware_type, r.hardware_len, r.xid, r.secs, r.flags),
            (1, 1, 6, 0xdeadbeef, 3, 0x8000)
        );
        assert_eq!((r.client_ip.as_str(), r.client_hw_addr.as_str()), ("0.0.0.0", "02:00:00:00:00:01"));
        assert_eq!((r.file.as_str(), r.server_name.as_str()), ("boot.img", ""));
        assert_eq!(r.fingerprint, "1,3,6,252");
        assert_eq!((r.message_type, r.hostname.as_str(), r.vendor_class.as_str()), (1, "pc1", "MSFT"));
        assert_eq!((r.requested_ip.as_str(), r.cookie), ("192.0.2.9", 0x63825363));
        assert_eq!(r.options.iter().map(|o| o.r#type).collect::<Vec<_>>(), vec![53, 50, 12, 60, 55]);
        assert_eq!((r.src_port, r.dst_port, r.src_ip.as_str()), (68, 67, "192.0.2.1"));
    }

    #[test]
    fn bootp_without_magic_cookie_has_no_options() {
        let mut m = discover();
        m[236] = 0;
        let (p, l) = udp_packet(68, 67, &m);
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty());
        let r = v1::DhcPv4::decode(&recs[0].1[..]).unwrap();
        assert_eq!(
            (r.options.len(), r.cookie, r.fingerprint.as_str(), r.file.as_str()),
            (0, 0x00825363, "", "boot.img")
        );
    }

    #[test]
    fn dhcpv4_overload() {
        let mut m = discover();
        m.truncate(240);
        m[108..112].copy_from_slice(&[12, 2, b'h', b'x']);
        m[112] = 255;
        m.extend_from_slice(&[52, 1, 1, 255]);
        let (p, l) = udp_packet(68, 67, &m);
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty());
        let r = v1::DhcPv4::decode(&recs[0].1[..]).unwrap();
        assert_eq!((r.file.as_str(), r.hostname.as_str()), ("", "hx"));
        assert_eq!(r.options.iter().map(|o| o.r#type).collect::<Vec<_>>(), vec![52, 12]);
    }

    #[test]
    fn dhcpv6_solicit_and_relay() {
        let mut m = vec![1, 0x12, 0x34, 0x56, 0, 1, 0, 2, 0xaa, 0xbb, 0, 6, 0, 4, 0, 23, 0, 24];
        let (p, l) = udp_packet(546, 547, &m);
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty());
        let r = v1::DhcPv6::decode(&recs[0].1[..]).unwrap();
        assert_eq!((r.msg_type, r.transaction_id, r.fingerprint.as_str()), (1, 0x123456, "23,24"));
        assert_eq!(r.options.len(), 2);
        let mut relay = vec![12, 1];
        relay.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        relay.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        relay.extend_from_slice(&[0, 9, 0, m.len() as u8]);
        relay.append(&mut m);
        let (p, l) = udp_packet(547, 547, &relay);
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty());
        let r = v1::DhcPv6::decode(&recs[0].1[..]).unwrap();
        assert_eq!(
            (r.msg_type, r.hop_count, r.link_addr.as_str(), r.peer_addr.as_str()),
            (12, 1, "2001:db8::1", "fe80::2")
        );
        // The fingerprint comes from the relayed message.
        assert_eq!((r.options[0].code, r.fingerprint.as_str()), (9, "23,24"));
    }

    fn ntp_server() -> Vec<u8> {
        let mut m = vec![0x24, 2, 6, 0xe9, 0, 0, 0, 0x10, 0, 0, 0, 0x41, 192, 0, 2, 5];
        for ts in [0xdba9_1667_0000_0000u64, 0, 0xdba9_1668_8000_0000, 0xdba9_1668_8000_0001] {
            m.extend_from_slice(&ts.to_be_bytes());
        }
        m
    }

    #[test]
    fn ntp_fields() {
        let (p, l) = udp_packet(123, 123, &ntp_server());
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty());
        let r = v1::Ntp::decode(&recs[0].1[..]).unwrap();
        assert_eq!((r.leap_indicator, r.version, r.mode, r.stratum, r.poll, r.precision), (0, 4, 4, 2, 6, -23));
        assert_eq!((r.root_delay, r.root_dispersion, r.reference_id), (0x10, 0x41, 0xc000_0205));
        // 0xdba91667 = 2016-10-12 20:07:03 UTC.
        assert_eq!(r.reference_ns, 1_476_302_823_000_000_000);
        assert_eq!(r.origin_ns, 0);
        assert_eq!(r.receive_ns, 1_476_302_824_500_000_000);
        assert!(r.extension_bytes.is_empty());
        assert_eq!(ntp_to_unix_ns(0x0000_0001_0000_0000), ((1i64 << 32) + 1 - NTP_UNIX_OFFSET) * 1_000_000_000);
    }

    #[test]
    fn every_truncation_is_partial_with_an_error() {
        for (sp, dp, m, min_ok) in [
            (68, 67, discover(), 240),
            (546, 547, vec![1, 1, 2, 3, 0, 6, 0, 2, 0, 23], 4),
            (123, 123, ntp_server(), 48),
        ] {
            for n in 0..m.len() {
                let (mut p, l) = udp_packet(sp, dp, &m[..n]);
                let ulen = (8 + m.len()) as u16;
                p[24..26].copy_from_slice(&ulen.to_be_bytes());
                let (recs, errs) = run(&p, &l);
                assert_eq!(recs.len(), 1, "{sp} at {n}");
                // Past the fixed header, a cut inside an option is an error, a cut between two
                // options is not.
                if n < min_ok {
                    assert_eq!(errs.len(), 1, "{sp} at {n}: {errs:?}");
                } else {
                    assert!(errs.len() <= 1, "{sp} at {n}: {errs:?}");
                }
            }
        }
    }
}
