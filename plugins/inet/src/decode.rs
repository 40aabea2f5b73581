//! Which UDP datagram goes to which protocol: every UDP layer of a packet (at any tunnel depth)
//! goes to the first protocol that claims it, by port (SNMP, RADIUS, Syslog, TFTP, DNP3, BACnet/IP, SSDP,
//! IKE, GTP-C), then by content on any port (STUN by its magic cookie, WireGuard by its message type and
//! size, DTLS by its record header).

use crate::{bacnet, dnp3, dtls, gtpc, ike, radius, snmp, ssdp, stun, syslog, tftp, wireguard};
use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Packet, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_TLS_CLIENT_HELLO: u16 = 0;
pub const T_TLS_SERVER_HELLO: u16 = 1;
pub const T_SNMP: u16 = 2;
pub const T_RADIUS: u16 = 3;
pub const T_SYSLOG: u16 = 4;
pub const T_TFTP: u16 = 5;
pub const T_STUN: u16 = 6;
pub const T_SSDP: u16 = 7;
pub const T_BACNET: u16 = 8;
pub const T_DNP3: u16 = 9;
pub const T_WIREGUARD: u16 = 10;
pub const T_IKE: u16 = 11;
pub const T_GTPC: u16 = 12;

/// Record type names with their protobuf messages, in type-id order. (`DNP3` is the `ics`
/// decoder's type too, for DNP3 over TCP: one file.)
pub const RECORD_TYPES: [(&str, &str); 13] = [
    ("TLSClientHello", "netcap.v1.TLSClientHello"),
    ("TLSServerHello", "netcap.v1.TLSServerHello"),
    ("SNMP", "netcap.v1.SNMP"),
    ("RADIUS", "netcap.v1.RADIUS"),
    ("Syslog", "netcap.v1.Syslog"),
    ("TFTP", "netcap.v1.TFTP"),
    ("STUN", "netcap.v1.STUN"),
    ("SSDP", "netcap.v1.SSDP"),
    ("BACnet", "netcap.v1.BACnet"),
    ("DNP3", "netcap.v1.DNP3"),
    ("WireGuard", "netcap.v1.WireGuard"),
    ("IKE", "netcap.v1.IKE"),
    ("GTPC", "netcap.v1.GTPC"),
];

/// What the decoder asks the host for: every UDP datagram (DTLS runs on any port).
pub const LAYERS: [&str; 1] = ["udp"];

/// One UDP datagram and where it came from.
#[derive(Clone, Copy)]
pub struct Udp<'a> {
    pub ts: i64,
    pub src: &'a [u8],
    pub dst: &'a [u8],
    pub sp: u16,
    pub dp: u16,
    pub depth: u32,
    /// The UDP payload (as far as captured, at most the UDP length).
    pub payload: &'a [u8],
    /// The capture cut the datagram (fewer bytes than the UDP length says).
    pub cut: bool,
    /// The payload length the UDP header gives (the captured length when that is invalid).
    pub len: usize,
}

/// Per-instance decoder state.
pub struct Inet {
    enabled: [bool; RECORD_TYPES.len()],
    dtls: dtls::Dtls,
}

impl Inet {
    pub fn new(config: &Config) -> Self {
        let mut enabled = [false; RECORD_TYPES.len()];
        for (e, (name, _)) in enabled.iter_mut().zip(RECORD_TYPES) {
            *e = config.record_type_enabled(name);
        }
        Inet { enabled, dtls: dtls::Dtls::default() }
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            if l.id != layer::UDP {
                continue;
            }
            let Some(h) = p.data.get(l.offset..l.offset + 8) else { continue };
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let start = l.offset + 8;
            let end = if ulen >= 8 { (l.offset + ulen).min(p.data.len()) } else { p.data.len() };
            let e = p.endpoints(i + 1);
            let u = Udp {
                ts: p.ts_nanos,
                src: e.src,
                dst: e.dst,
                sp: u16::from_be_bytes([h[0], h[1]]),
                dp: u16::from_be_bytes([h[2], h[3]]),
                depth: l.depth(),
                payload: p.data.get(start..end).unwrap_or_default(),
                cut: ulen > p.data.len().saturating_sub(l.offset),
                len: if ulen >= 8 { ulen - 8 } else { p.data.len().saturating_sub(start) },
            };
            self.datagram(&u, out);
        }
    }

    fn datagram(&mut self, u: &Udp<'_>, out: &mut Emitter<'_>) {
        macro_rules! emit {
            ($ty:expr, $rec:ty, $parse:expr) => {{
                if self.enabled[usize::from($ty)] {
                    let mut r = <$rec>::default();
                    r.timestamp = u.ts;
                    fmt::set_ip(&mut r.src_ip, u.src);
                    fmt::set_ip(&mut r.dst_ip, u.dst);
                    r.src_port = u32::from(u.sp);
                    r.dst_port = u32::from(u.dp);
                    r.tunnel_depth = u.depth;
                    let res = $parse(u.payload, &mut r);
                    out.record($ty, &r);
                    if let Err(kind) = res {
                        out.error(kind);
                    }
                }
                return;
            }};
        }
        if snmp::is_port(u.sp, u.dp) {
            emit!(T_SNMP, v1::Snmp, snmp::parse);
        }
        if radius::is_port(u.sp, u.dp) {
            emit!(T_RADIUS, v1::Radius, radius::parse);
        }
        if syslog::is_port(u.sp, u.dp) {
            emit!(T_SYSLOG, v1::Syslog, syslog::parse);
        }
        if tftp::is_port(u.sp, u.dp) {
            emit!(T_TFTP, v1::Tftp, tftp::parse);
        }
        if dnp3::is_port(u.sp, u.dp) {
            if self.enabled[usize::from(T_DNP3)] {
                let mut r = v1::Dnp3 {
                    timestamp: u.ts,
                    src_port: u32::from(u.sp),
                    dst_port: u32::from(u.dp),
                    ..Default::default()
                };
                fmt::set_ip(&mut r.src_ip, u.src);
                fmt::set_ip(&mut r.dst_ip, u.dst);
                r.tunnel_depth = u.depth;
                dnp3::frames(u.payload, &mut r, |o| match o {
                    dnp3::Out::Frame(r, e) => {
                        out.record(T_DNP3, r);
                        if let Some(e) = e {
                            out.error(e);
                        }
                    }
                    dnp3::Out::Error(e) => out.error(e),
                });
            }
            return;
        }
        if bacnet::is_port(u.sp, u.dp) {
            emit!(T_BACNET, v1::BaCnet, bacnet::parse);
        }
        if ssdp::is_port(u.sp, u.dp) {
            emit!(T_SSDP, v1::Ssdp, ssdp::parse);
        }
        if ike::is_port(u.sp, u.dp) {
            if let Some((m, nat_t)) = ike::message(u.payload, u.sp, u.dp) {
                emit!(T_IKE, v1::Ike, |_: &[u8], r: &mut v1::Ike| {
                    r.nat_t = nat_t;
                    ike::parse(m, r)
                });
            }
            return;
        }
        if gtpc::is_port(u.sp, u.dp) {
            if self.enabled[usize::from(T_GTPC)] {
                let mut base = v1::Gtpc {
                    timestamp: u.ts,
                    src_port: u32::from(u.sp),
                    dst_port: u32::from(u.dp),
                    tunnel_depth: u.depth,
                    ..Default::default()
                };
                fmt::set_ip(&mut base.src_ip, u.src);
                fmt::set_ip(&mut base.dst_ip, u.dst);
                gtpc::messages(u.payload, &base, |r, e| {
                    out.record(T_GTPC, r);
                    if let Some(e) = e {
                        out.error(e);
                    }
                });
            }
            return;
        }
        if stun::looks_like(u.payload) {
            emit!(T_STUN, v1::Stun, stun::parse);
        }
        if wireguard::looks_like(u.payload, u.len) {
            emit!(T_WIREGUARD, v1::WireGuard, |d: &[u8], r: &mut v1::WireGuard| wireguard::parse(d, u.len, r));
        }
        let hellos = [self.enabled[usize::from(T_TLS_CLIENT_HELLO)], self.enabled[usize::from(T_TLS_SERVER_HELLO)]];
        if hellos.iter().any(|&e| e) {
            self.dtls.datagram(u, hellos, out);
        }
    }

    pub fn tick(&mut self, now: i64, out: &mut Emitter<'_>) {
        self.dtls.expire(now, out);
    }

    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        self.dtls.expire(i64::MAX, out);
    }
}
