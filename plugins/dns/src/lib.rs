//! The `dns` decoder family: DNS (UDP port 53), multicast DNS (UDP port 5353) and LLMNR (UDP port
//! 5355) messages.
//! The logic lives in [`decode`] and is plain Rust; this file is only the glue to the SDK.

pub mod decode;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct DnsDecoder(decode::Dns);

impl Decoder for DnsDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "dns".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: decode::LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&decode::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(DnsDecoder(decode::Dns::new(config)))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.decode(packet, out);
    }
}

export_decoder!(DnsDecoder);
