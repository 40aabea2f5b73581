//! A test-only decoder whose record type names a protobuf message (`netcap.v1.NoSuchMessage`)
//! that its schema (netcap's own descriptor set) does not define: its records could be written
//! but never read, so the host must refuse it at load, naming the type and the message. Built by
//! `cargo xtask build-plugins` into `target/plugins-testing/`.

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The decoder (it never gets to decode anything).
pub struct Misnamed;

impl Decoder for Misnamed {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "misnamed".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: vec!["udp".into()],
            record_types: netcap_sdk::record_types(&[("Misnamed", "netcap.v1.NoSuchMessage")]),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Misnamed)
    }

    fn decode(&mut self, _packet: &Packet<'_>, _out: &mut Emitter<'_>) {}
}

export_decoder!(Misnamed);
