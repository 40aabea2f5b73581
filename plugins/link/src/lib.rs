//! The `link` decoder family: link-layer records beyond Ethernet (ARP, 802.1Q/802.1ad VLAN tags,
//! LLC, SNAP, Ethernet CTP, LLDP, CDP, EAPOL/EAP, 802.11, FDDI, Nortel discovery, PPPoE,
//! PROFINET DCP and real-time frames).
//! The logic lives in [`decode`] and its sibling modules and is plain Rust; this file is only the
//! glue to the SDK.

mod cdp;
pub mod decode;
mod dot11;
mod lldp;
mod profinet;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct LinkDecoder(decode::Link);

impl Decoder for LinkDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "link".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: decode::LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&decode::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(LinkDecoder(decode::Link::new(config)))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.decode(packet, out);
    }
}

export_decoder!(LinkDecoder);

#[cfg(test)]
mod tests;
