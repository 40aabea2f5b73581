//! A test-only decoder built against `netcap:decoder@0.9.0`, a contract version this host does
//! not support: loading it must fail with a message naming the plugin and both versions. Built
//! by `cargo xtask build-plugins` into `target/plugins-testing/`; never loaded unless asked for.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({ path: "wit", world: "plugin" });

    use exports::netcap::decoder::decoder::{DecoderInfo, DecoderKind, Guest, RecordType};

    struct Future;

    impl Guest for Future {
        fn describe() -> DecoderInfo {
            DecoderInfo {
                name: "future".into(),
                version: "9.9.9".into(),
                kind: DecoderKind::Layer,
                layers: vec!["udp".into()],
                record_types: vec![RecordType { name: "Future".into(), message: "netcap.v1.UDP".into() }],
                schema: Vec::new(),
            }
        }
        fn init(_config: Vec<(String, String)>) -> Result<(), String> {
            Ok(())
        }
        fn decode(_batch: Vec<u8>, _snap_len: u32) -> Vec<u8> {
            Vec::new()
        }
        fn tick(_now: i64, _seq: u64) -> Vec<u8> {
            Vec::new()
        }
        fn finish() -> Vec<u8> {
            Vec::new()
        }
    }

    export!(Future);
}
