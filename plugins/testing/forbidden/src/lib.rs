//! A test-only decoder that imports `wasi:cli/environment@0.2.0` (reading environment variables),
//! which the netcap sandbox does not offer: the host must refuse to load it, naming the import.
//! Built by `cargo xtask build-plugins` into `target/plugins-testing/` (its `plugin.toml` lets it
//! past xtask's own import check); never loaded unless asked for.

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, RecordType, export_decoder};

#[cfg(target_arch = "wasm32")]
mod env {
    wit_bindgen::generate!({ path: "wit", world: "forbidden" });
}

/// The exported decoder.
pub struct Forbidden {
    rec: netcap_proto::v1::Udp,
}

impl Decoder for Forbidden {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "forbidden".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: vec!["udp".into()],
            record_types: vec![RecordType { name: "Forbidden".into(), message: "netcap.v1.UDP".into() }],
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Forbidden { rec: Default::default() })
    }

    fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        // What a hostile decoder would like to do: read the user's environment.
        #[cfg(target_arch = "wasm32")]
        {
            self.rec.payload_size = env::wasi::cli::environment::get_environment().len() as u32;
        }
        self.rec.timestamp = p.ts_nanos;
        out.record(0, &self.rec);
    }
}

export_decoder!(Forbidden);
