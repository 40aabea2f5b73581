//! The `net` decoder family: ICMPv4, ICMPv6 (with echo and neighbour-discovery records), IGMP,
//! the IPv6 hop-by-hop and fragment extension headers, IPsec AH and ESP, and SCTP. The logic
//! lives in [`decode`] and is plain Rust; this file is only the glue to the SDK.

pub mod decode;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct NetDecoder(decode::Net);

impl Decoder for NetDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "net".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: decode::LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&decode::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(NetDecoder(decode::Net::new(config)))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.decode(packet, out);
    }
}

export_decoder!(NetDecoder);
