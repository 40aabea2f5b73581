//! Dispatch by transport port: finds every UDP/TCP/SCTP layer of a packet whose source or
//! destination port belongs to one of our protocols, slices its payload (bounded by the UDP or
//! IP length, so Ethernet padding is never read as data) and hands it to the protocol module.
//! Per packet, as netcap: no TCP reassembly (see `proto/netcap/v1/app.proto`).

use crate::{diameter, enip, lcm, sip};
use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Layer, Packet, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_SIP: u16 = 0;
pub const T_ENIP: u16 = 1;
pub const T_CIP: u16 = 2;
pub const T_DIAMETER: u16 = 3;
pub const T_LCM: u16 = 4;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 5] = [
    ("SIP", "netcap.v1.SIP"),
    ("ENIP", "netcap.v1.ENIP"),
    ("CIP", "netcap.v1.CIP"),
    ("Diameter", "netcap.v1.Diameter"),
    ("LCM", "netcap.v1.LCM"),
];

/// The ports whose packets the host hands us. (Modbus/TCP and EtherNet/IP over TCP are the
/// `ics` stream decoder's.)
pub const PORT_INTERESTS: [&str; 7] =
    ["udp:5060", "tcp:5060", "udp:44818", "udp:2222", "tcp:3868", "sctp:3868", "udp:7667"];

pub const SIP_PORT: u16 = 5060;
pub const ENIP_PORT: u16 = 44818;
pub const ENIP_IO_PORT: u16 = 2222;
pub const DIAMETER_PORT: u16 = 3868;
pub const LCM_PORT: u16 = 7667;

/// The protocol a transport layer and port select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Sip,
    Enip,
    EnipIo,
    Diameter,
    Lcm,
}

/// Which protocol `port` means on transport `transport` (a layer id).
pub fn proto_of(transport: u16, port: u16) -> Option<Proto> {
    match (transport, port) {
        (layer::UDP | layer::TCP, SIP_PORT) => Some(Proto::Sip),
        (layer::UDP, ENIP_PORT) => Some(Proto::Enip),
        (layer::UDP, ENIP_IO_PORT) => Some(Proto::EnipIo),
        (layer::TCP | layer::SCTP, DIAMETER_PORT) => Some(Proto::Diameter),
        (layer::UDP, LCM_PORT) => Some(Proto::Lcm),
        _ => None,
    }
}

/// The packet context every record carries.
#[derive(Debug, Default, Clone)]
pub struct Ctx {
    pub ts: i64,
    pub src_ip: String,
    pub dst_ip: String,
    pub src_port: u32,
    pub dst_port: u32,
    pub depth: u32,
    /// Transport layer id (UDP, TCP or SCTP).
    pub transport: u16,
    /// Whether the captured bytes end before the transport payload does.
    pub cut: bool,
}

/// Per-instance decoder state: one reused value per record type.
#[derive(Default)]
pub struct App {
    enabled: [bool; 5],
    ctx: Ctx,
    pub(crate) sip: sip::Sip,
    pub(crate) enip: enip::Enip,
    pub(crate) diameter: v1::Diameter,
    pub(crate) lcm: v1::Lcm,
}

impl App {
    pub fn new(config: &Config) -> Self {
        let mut d = App::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            if matches!(l.id, layer::UDP | layer::TCP | layer::SCTP) {
                self.transport(p, i, l, out);
            }
        }
    }

    fn transport(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let Some(h) = p.data.get(l.offset..l.offset + 4) else { return };
        let (sp, dp) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
        // As Wireshark: the lower port first.
        let (lo, hi) = if sp <= dp { (sp, dp) } else { (dp, sp) };
        let Some(proto) = proto_of(l.id, lo).or_else(|| proto_of(l.id, hi)) else { return };
        let wanted = match proto {
            Proto::Sip => self.enabled[T_SIP as usize],
            Proto::Enip | Proto::EnipIo => self.enabled[T_ENIP as usize] || self.enabled[T_CIP as usize],
            Proto::Diameter => self.enabled[T_DIAMETER as usize],
            Proto::Lcm => self.enabled[T_LCM as usize],
        };
        if !wanted {
            return;
        }
        let end = ip_end(p, i);
        let cut = end > p.data.len();
        let end = end.min(p.data.len());
        let start = match l.id {
            layer::UDP => {
                let Some(len) = p.data.get(l.offset + 4..l.offset + 6) else { return };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let start = l.offset + 8;
                if start > end {
                    return;
                }
                return self.payload(p, i, l, proto, &p.data[start..end.min(l.offset + len.max(8))], cut, out);
            }
            layer::TCP => match p.data.get(l.offset + 12) {
                Some(b) => l.offset + usize::from(b >> 4) * 4,
                None => return,
            },
            _ => l.offset + 12,
        };
        if start >= end {
            return;
        }
        let payload = &p.data[start..end];
        if l.id == layer::SCTP {
            self.sctp(p, i, l, proto, payload, cut, out);
        } else {
            self.payload(p, i, l, proto, payload, cut, out);
        }
    }

    /// SCTP: the user data of every DATA chunk that begins a message.
    #[allow(clippy::too_many_arguments)]
    fn sctp(
        &mut self,
        p: &Packet<'_>,
        i: usize,
        l: Layer,
        proto: Proto,
        chunks: &[u8],
        cut: bool,
        out: &mut Emitter<'_>,
    ) {
        let mut at = 0;
        while let Some(h) = chunks.get(at..at + 4) {
            let (ty, flags, len) = (h[0], h[1], usize::from(u16::from_be_bytes([h[2], h[3]])));
            if len < 4 {
                break;
            }
            let end = (at + len).min(chunks.len());
            // DATA chunk with the B (beginning) bit: TSN, stream id, stream seq, PPID, data.
            if ty == 0 && flags & 0x02 != 0 && len >= 16 && at + 16 <= end {
                let data = &chunks[at + 16..end];
                let unfinished = flags & 0x01 == 0;
                self.payload(p, i, l, proto, data, cut || unfinished || at + len > chunks.len(), out);
            }
            at += (len + 3) & !3;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn payload(
        &mut self,
        p: &Packet<'_>,
        i: usize,
        l: Layer,
        proto: Proto,
        data: &[u8],
        cut: bool,
        out: &mut Emitter<'_>,
    ) {
        if data.is_empty() {
            return;
        }
        let e = p.endpoints(i + 1);
        let c = &mut self.ctx;
        c.ts = p.ts_nanos;
        fmt::set_ip(&mut c.src_ip, e.src);
        fmt::set_ip(&mut c.dst_ip, e.dst);
        c.src_port = u32::from(e.src_port);
        c.dst_port = u32::from(e.dst_port);
        c.depth = l.depth();
        c.transport = l.id;
        c.cut = cut;
        match proto {
            Proto::Sip => self.sip.decode(&self.ctx, data, out),
            Proto::Enip | Proto::EnipIo => {
                let en = [self.enabled[T_ENIP as usize], self.enabled[T_CIP as usize]];
                self.enip.decode(&self.ctx, data, proto == Proto::EnipIo, en, out)
            }
            Proto::Diameter => diameter::decode(&mut self.diameter, &self.ctx, data, out),
            Proto::Lcm => lcm::decode(&mut self.lcm, &self.ctx, data, out),
        }
    }
}

/// Where the IP packet around transport layer `i` ends in the packet data (its length field),
/// or the end of the data when there is no IP layer or the length is unusable.
fn ip_end(p: &Packet<'_>, i: usize) -> usize {
    let d = p.data;
    for j in (0..i).rev() {
        let Some(l) = p.layer(j) else { break };
        match l.id {
            layer::IPV4 => {
                return match d.get(l.offset + 2..l.offset + 4) {
                    Some(h) => {
                        let total = usize::from(u16::from_be_bytes([h[0], h[1]]));
                        if total == 0 { d.len() } else { l.offset + total }
                    }
                    None => d.len(),
                };
            }
            layer::IPV6 => {
                return match d.get(l.offset + 4..l.offset + 6) {
                    Some(h) => {
                        let plen = usize::from(u16::from_be_bytes([h[0], h[1]]));
                        if plen == 0 { d.len() } else { l.offset + 40 + plen }
                    }
                    None => d.len(),
                };
            }
            _ => {}
        }
    }
    d.len()
}

/// Copies the packet context into a record's context fields.
macro_rules! set_ctx {
    ($r:expr, $c:expr) => {{
        $r.timestamp = $c.ts;
        $r.src_ip.clear();
        $r.src_ip.push_str(&$c.src_ip);
        $r.dst_ip.clear();
        $r.dst_ip.push_str(&$c.dst_ip);
        $r.src_port = $c.src_port;
        $r.dst_port = $c.dst_port;
        $r.tunnel_depth = $c.depth;
    }};
}
pub(crate) use set_ctx;
