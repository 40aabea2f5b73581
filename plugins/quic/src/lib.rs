//! The `quic` decoder: QUIC long-header packets and the TLS hellos inside their decrypted Initial
//! packets. The logic lives in [`decode`] (packets, frames, CRYPTO reassembly) and [`crypto`]
//! (Initial keys and packet protection) and is plain Rust; this file is only the glue to the SDK.

pub mod crypto;
pub mod decode;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct QuicDecoder(decode::Quic);

impl Decoder for QuicDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "quic".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: decode::LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&decode::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(QuicDecoder(decode::Quic::new(config)))
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

export_decoder!(QuicDecoder);
