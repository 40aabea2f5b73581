//! A test-only decoder built against the previous contract, `netcap:decoder@0.2.0` (the frozen
//! `wit/v0.2`), with wit-bindgen directly (the SDK speaks the current contract): the host must
//! still load and run it. One `LegacyUDP` record (message `netcap.v1.UDP`: time and ports) per
//! packet with a UDP layer, and one log line at `init` (a host import of the 0.2 interface).
//! Built by `cargo xtask build-plugins` into `target/plugins-testing/`.

/// Packet header bytes in an input batch: seq, ts, flow, link type, app, layer count, flags,
/// original and captured length.
const HEADER: usize = 38;
/// Layer id of UDP in the host's registry.
const UDP: u16 = 21;

/// The records for one input batch: (seq, record) per UDP layer, in input order.
pub fn decode_batch(batch: &[u8]) -> Vec<(u64, netcap_proto::v1::Udp)> {
    let mut out = Vec::new();
    let mut rest = batch;
    while rest.len() >= HEADER {
        let seq = u64::from_le_bytes(rest[0..8].try_into().unwrap_or_default());
        let ts = i64::from_le_bytes(rest[8..16].try_into().unwrap_or_default());
        let layers = usize::from(rest[28]);
        let cap = u32::from_le_bytes(rest[34..38].try_into().unwrap_or_default()) as usize;
        let Some(table) = rest.get(HEADER..HEADER + 8 * layers) else { break };
        let Some(data) = rest.get(HEADER + 8 * layers..HEADER + 8 * layers + cap) else { break };
        for l in table.chunks_exact(8) {
            let id = u16::from_le_bytes([l[0], l[1]]);
            let off = u32::from_le_bytes([l[4], l[5], l[6], l[7]]) as usize;
            if id == UDP
                && let Some(h) = data.get(off..off + 4)
            {
                let udp = netcap_proto::v1::Udp {
                    timestamp: ts,
                    src_port: u32::from(u16::from_be_bytes([h[0], h[1]])),
                    dst_port: u32::from(u16::from_be_bytes([h[2], h[3]])),
                    ..Default::default()
                };
                out.push((seq, udp));
            }
        }
        rest = &rest[HEADER + 8 * layers + cap..];
    }
    out
}

/// The output batch entry of one record of type 0.
pub fn entry(out: &mut Vec<u8>, seq: u64, msg: &impl prost::Message) {
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    let mut len = msg.encoded_len() as u64;
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    msg.encode_raw(out);
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({ path: "../../../wit/v0.2", world: "plugin" });

    use exports::netcap::decoder::decoder::{DecoderInfo, DecoderKind, Guest, RecordType};
    use netcap::decoder::host;

    struct Legacy;

    impl Guest for Legacy {
        fn describe() -> DecoderInfo {
            DecoderInfo {
                name: "legacy".into(),
                version: "0.2.0".into(),
                kind: DecoderKind::Layer,
                layers: vec!["udp".into()],
                record_types: vec![RecordType { name: "LegacyUDP".into(), message: "netcap.v1.UDP".into() }],
                schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            }
        }
        fn init(_config: Vec<(String, String)>) -> Result<(), String> {
            host::log(host::Level::Info, "an 0.2 decoder, running");
            Ok(())
        }
        fn decode(batch: Vec<u8>) -> Vec<u8> {
            let mut out = Vec::new();
            for (seq, udp) in super::decode_batch(&batch) {
                super::entry(&mut out, seq, &udp);
            }
            out
        }
        fn tick(_now: i64, _seq: u64) -> Vec<u8> {
            Vec::new()
        }
        fn finish() -> Vec<u8> {
            Vec::new()
        }
    }

    export!(Legacy);
}
