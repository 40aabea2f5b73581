//! The native backend (feature `native-decoders`): the standard decoder crates linked into the
//! host and driven through the same flat batches as their WebAssembly builds. It exists so that
//! `cargo xtask bench` can measure what the sandbox costs on identical decoder code.

use super::{DecoderFactory, DecoderInstance, DecoderSpec, Fault, LoadedDecoder, RecordTypeInfo};
use netcap_sdk::{Config, Decoder};
use std::marker::PhantomData;
use std::sync::Arc;

/// The standard decoders, native.
pub fn standard() -> Vec<LoadedDecoder> {
    vec![
        loaded::<netcap_decoder_l2l4::L2L4Decoder>(),
        loaded::<netcap_decoder_link::LinkDecoder>(),
        loaded::<netcap_decoder_app::AppDecoder>(),
        loaded::<netcap_decoder_tunnel::TunnelDecoder>(),
        loaded::<netcap_decoder_routing::RoutingDecoder>(),
        loaded::<netcap_decoder_net::NetDecoder>(),
        loaded::<netcap_decoder_dns::DnsDecoder>(),
        loaded::<netcap_decoder_dhcp::DhcpDecoder>(),
        loaded::<netcap_decoder_profile::ProfileDecoder>(),
        loaded::<netcap_decoder_flow::FlowDecoder>(),
    ]
}

fn loaded<D: Decoder + Send>() -> LoadedDecoder {
    let i = D::describe();
    let (layer_mask, ports) = super::layer_mask(&i.layers).unwrap_or((u128::MAX, Vec::new()));
    let spec = DecoderSpec {
        id: i.name,
        version: i.version,
        kind: match i.kind {
            netcap_sdk::Kind::Layer => super::DecoderKind::Layer,
            netcap_sdk::Kind::Packet => super::DecoderKind::Packet,
            netcap_sdk::Kind::Global => super::DecoderKind::Global,
            netcap_sdk::Kind::Stream => super::DecoderKind::Stream,
        },
        layer_mask,
        ports,
        layers: i.layers,
        record_types: i.record_types.into_iter().map(|t| RecordTypeInfo { name: t.name, message: t.message }).collect(),
        schema: Arc::new(i.schema),
        wit_version: format!("{}.0", super::SUPPORTED_WIT),
        source: "native".into(),
    };
    LoadedDecoder { spec, factory: Arc::new(NativeFactory::<D>(PhantomData)), logs: Arc::default() }
}

struct NativeFactory<D>(PhantomData<fn() -> D>);

impl<D: Decoder + Send> DecoderFactory for NativeFactory<D> {
    fn instantiate(&self, config: &[(String, String)]) -> Result<Box<dyn DecoderInstance>, Fault> {
        let cfg = Config::new(config.to_vec());
        let d = D::init(&cfg).map_err(|m| Fault { kind: super::FaultKind::Init, message: m })?;
        Ok(Box::new(NativeInstance { d, cfg }))
    }
}

struct NativeInstance<D> {
    d: D,
    cfg: Config,
}

impl<D: Decoder + Send> DecoderInstance for NativeInstance<D> {
    fn decode(&mut self, batch: &[u8]) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::with_capacity(batch.len() / 2);
        netcap_sdk::run_decode(&mut self.d, batch, &mut out);
        Ok(out)
    }

    fn tick(&mut self, now_nanos: i64, seq: u64) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        netcap_sdk::run_tick(&mut self.d, now_nanos, seq, &mut out);
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        netcap_sdk::run_finish(&mut self.d, &mut out);
        Ok(out)
    }

    fn restart(&mut self) -> Result<(), Fault> {
        self.d = D::init(&self.cfg).map_err(|m| Fault { kind: super::FaultKind::Init, message: m })?;
        Ok(())
    }
}
