//! The `l2l4` decoder: Ethernet, IPv4, IPv6, TCP and UDP records with netcap's fields.
//!
//! One component serves the five layers so that each packet crosses into WebAssembly once; users
//! still enable or disable each record type on its own (`--include`/`--exclude`). The logic lives
//! in [`decode`] and is plain Rust; this file is only the glue to the SDK.

pub mod decode;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct L2L4Decoder(decode::L2L4);

impl Decoder for L2L4Decoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "l2l4".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: ["ethernet", "ipv4", "ipv6", "tcp", "udp"].map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&decode::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(L2L4Decoder(decode::L2L4::new(config)))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.decode(packet, out);
    }
}

export_decoder!(L2L4Decoder);
