//! The `inet` decoder: internet protocols over UDP that need no connection of their own. The
//! logic lives in [`decode`] (which datagram goes to which protocol) and one module per
//! protocol ([`dtls`], [`snmp`] with [`ber`], [`radius`], [`syslog`], [`tftp`], [`stun`], [`ssdp`],
//! [`bacnet`], [`dnp3`], [`wireguard`], [`ike`], [`gtpc`]), plain Rust; this file is only the glue to the SDK.

pub mod bacnet;
pub mod ber;
pub mod decode;
pub mod dnp3;
pub mod dtls;
pub mod gtpc;
pub mod ike;
pub mod radius;
pub mod snmp;
pub mod ssdp;
pub mod stun;
pub mod syslog;
pub mod tftp;
pub mod wireguard;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct InetDecoder(decode::Inet);

impl Decoder for InetDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "inet".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: decode::LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&decode::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(InetDecoder(decode::Inet::new(config)))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.decode(packet, out);
    }

    fn tick(&mut self, now_nanos: i64, _seq: u64, out: &mut Emitter<'_>) {
        self.0.tick(now_nanos, out);
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_decoder!(InetDecoder);

#[cfg(test)]
mod tests {
    use netcap_sdk::{Config, Emitter, Layer, layer, packets, push_packet};

    /// An IPv4/UDP packet from 192.0.2.1:50000 to 192.0.2.2:`port` with `payload`.
    fn udp_packet(port: u16, payload: &[u8]) -> (Vec<u8>, Vec<Layer>) {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
        p.extend_from_slice(&50000u16.to_be_bytes());
        p.extend_from_slice(&port.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let layers =
            vec![Layer { id: layer::IPV4, flags: 0, offset: 0 }, Layer { id: layer::UDP, flags: 0, offset: 20 }];
        (p, layers)
    }

    /// Output of one decoder instance over `datagrams` (destination port, payload), packet `i`
    /// at time `1_000 + i`, then `finish`: records (type id, bytes) and error kinds.
    pub(crate) fn run(datagrams: &[(u16, Vec<u8>)]) -> (Vec<(u16, Vec<u8>)>, Vec<String>) {
        let mut batch = Vec::new();
        for (i, (port, d)) in datagrams.iter().enumerate() {
            let (p, l) = udp_packet(*port, d);
            push_packet(&mut batch, i as u64, 1_000 + i as i64, 101, p.len() as u32, &l, &p);
        }
        let mut d = crate::decode::Inet::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        d.finish(&mut Emitter::new(&mut out, datagrams.len() as u64));
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
}
