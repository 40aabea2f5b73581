//! Example third-party netcap decoder: MQTT (3.1.1, and 5.0 with its property lists skipped) over
//! TCP port 1883. A walkthrough is in `docs/plugin-guide.md`.
//!
//! - Its record schema is its own: `proto/mqtt.proto` (package `example.mqtt.v1`), compiled by
//!   `build.rs`; `describe` ships the `FileDescriptorSet`, so `netcap dump` can print the records
//!   without knowing this crate.
//! - It asks the host for `tcp:1883` (a port interest): the host needs no MQTT knowledge.
//! - One record per control packet that starts in a TCP segment; several per segment when present.
//!   No TCP reassembly: a control packet that continues in the next segment gives a partial record
//!   and the error `mqtt: packet truncated`.
//! - [`parse`] is plain Rust with unit tests; this file is the glue: find the TCP payload, set the
//!   packet context, loop over the control packets, remember each connection's protocol level.

pub mod parse;

/// Generated prost types of `proto/mqtt.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
pub mod schema {
    include!(concat!(env!("OUT_DIR"), "/example.mqtt.v1.rs"));
}

/// Serialized `FileDescriptorSet` of `proto/mqtt.proto` (written by `build.rs`).
pub const SCHEMA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/schema.fds"));

/// The TCP port whose segments the host hands us.
pub const PORT: u16 = 1883;
/// Type id of the MQTT record (its index in `record_types`).
pub const T_MQTT: u16 = 0;
/// At most this many connections' protocol levels are remembered per instance (bounded memory).
const MAX_CONNECTIONS: usize = 4096;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, fmt, layer};
use std::collections::BTreeMap;

/// A TCP connection, direction-independent: both (address, port) ends, the smaller first.
type ConnKey = ([u8; 16], u16, [u8; 16], u16);

/// The exported decoder: one value per worker; the host hands it the packets of the flows that
/// worker owns, in packet order.
#[derive(Default)]
pub struct MqttDecoder {
    /// The reused record value (decoding allocates nothing per packet in steady state).
    rec: schema::Mqtt,
    /// Protocol level per connection, learnt from its CONNECT (MQTT 5.0 packets carry properties
    /// that 3.1.1 ones lack, and only CONNECT says which). A `BTreeMap`, not a `HashMap`: no
    /// random hash seed, nothing that could make output depend on anything but the input.
    levels: BTreeMap<ConnKey, u8>,
}

impl Decoder for MqttDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "mqtt".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: vec![format!("tcp:{PORT}")],
            record_types: netcap_sdk::record_types(&[("MQTT", "example.mqtt.v1.MQTT")]),
            schema: SCHEMA.to_vec(),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(MqttDecoder::default())
    }

    fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        // Every TCP layer with our port (an MQTT connection inside a tunnel has an outer one too).
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            if l.id != layer::TCP {
                continue;
            }
            let Some(h) = p.data.get(l.offset..l.offset + 13) else { continue };
            let (sp, dp) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
            if sp != PORT && dp != PORT {
                continue;
            }
            let start = l.offset + usize::from(h[12] >> 4) * 4;
            let end = ip_end(p, i).min(p.data.len());
            if start >= end {
                continue;
            }
            self.segment(p, i, l.depth(), &p.data[start..end], out);
        }
    }
}

impl MqttDecoder {
    /// Every control packet that starts in one TCP segment's payload.
    fn segment(&mut self, p: &Packet<'_>, i: usize, depth: u32, mut d: &[u8], out: &mut Emitter<'_>) {
        let e = p.endpoints(i + 1);
        let key = conn_key(e.src, e.src_port, e.dst, e.dst_port);
        let mut level = self.levels.get(&key).copied().unwrap_or(parse::LEVEL_311);
        while !d.is_empty() {
            let r = &mut self.rec;
            prost::Message::clear(r);
            r.timestamp = p.ts_nanos;
            fmt::set_ip(&mut r.src_ip, e.src);
            fmt::set_ip(&mut r.dst_ip, e.dst);
            r.src_port = u32::from(e.src_port);
            r.dst_port = u32::from(e.dst_port);
            r.tunnel_depth = depth;
            let res = parse::packet(d, level, r);
            out.record(T_MQTT, &*r);
            // Remember the level a CONNECT announced; forget the connection on DISCONNECT.
            match r.type_number {
                1 if r.protocol_level != 0 => {
                    level = r.protocol_level.min(255) as u8;
                    if self.levels.len() >= MAX_CONNECTIONS && !self.levels.contains_key(&key) {
                        self.levels.clear();
                    }
                    self.levels.insert(key, level);
                }
                14 if res.is_ok() => {
                    self.levels.remove(&key);
                }
                _ => {}
            }
            match res {
                Ok(used) => d = &d[used.min(d.len())..],
                Err(kind) => {
                    out.error(kind);
                    return;
                }
            }
        }
    }
}

fn conn_key(a: &[u8], ap: u16, b: &[u8], bp: u16) -> ConnKey {
    let pad = |x: &[u8]| {
        let mut k = [0u8; 16];
        let n = x.len().min(16);
        k[..n].copy_from_slice(&x[..n]);
        k
    };
    let (a, b) = ((pad(a), ap), (pad(b), bp));
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (lo.0, lo.1, hi.0, hi.1)
}

/// Where the IP packet around transport layer `i` ends (its length field), so that Ethernet
/// padding is never read as MQTT; the end of the data without a usable length.
fn ip_end(p: &Packet<'_>, i: usize) -> usize {
    let d = p.data;
    for j in (0..i).rev() {
        let Some(l) = p.layer(j) else { break };
        let (at, extra) = match l.id {
            layer::IPV4 => (l.offset + 2, 0),
            layer::IPV6 => (l.offset + 4, 40),
            _ => continue,
        };
        return match d.get(at..at + 2).map(|h| usize::from(u16::from_be_bytes([h[0], h[1]]))) {
            Some(0) | None => d.len(),
            Some(n) => l.offset + extra + n,
        };
    }
    d.len()
}

netcap_sdk::export_decoder!(MqttDecoder);

#[cfg(test)]
mod tests;
