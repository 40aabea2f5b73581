//! The `app` decoder family: application records found by port over UDP, TCP and SCTP (SIP,
//! EtherNet/IP with CIP over UDP, Diameter, LCM). The logic lives in [`decode`] and the
//! protocol modules and is plain Rust; this file is only the glue to the SDK.

pub mod decode;
pub mod diameter;
pub mod enip;
pub mod lcm;
pub mod sip;
#[cfg(test)]
mod tests;
mod text;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct AppDecoder(decode::App);

impl Decoder for AppDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "app".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: decode::PORT_INTERESTS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&decode::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(AppDecoder(decode::App::new(config)))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.decode(packet, out);
    }
}

export_decoder!(AppDecoder);
