//! The native backend: decoder crates linked into the host and driven through the same flat
//! batches as their WebAssembly builds. With feature `native-decoders`, [`standard`] links the
//! standard decoders so that `cargo xtask bench` can measure what the sandbox costs on identical
//! decoder code; [`packet`] and [`stream`] adapt any decoder crate (tests, benchmarks).

use super::{DecoderFactory, DecoderInstance, DecoderSpec, Fault, LoadedDecoder};
use netcap_sdk::{Config, Decoder, DecoderInfo, StreamDecoder, StreamRunner};
use std::marker::PhantomData;
use std::sync::Arc;

/// The standard decoders, native.
#[cfg(feature = "native-decoders")]
pub fn standard() -> Vec<LoadedDecoder> {
    vec![
        packet::<netcap_decoder_l2l4::L2L4Decoder>(),
        packet::<netcap_decoder_link::LinkDecoder>(),
        packet::<netcap_decoder_app::AppDecoder>(),
        packet::<netcap_decoder_tunnel::TunnelDecoder>(),
        packet::<netcap_decoder_routing::RoutingDecoder>(),
        packet::<netcap_decoder_net::NetDecoder>(),
        packet::<netcap_decoder_dns::DnsDecoder>(),
        packet::<netcap_decoder_dhcp::DhcpDecoder>(),
        packet::<netcap_decoder_quic::QuicDecoder>(),
        packet::<netcap_decoder_inet::InetDecoder>(),
        packet::<netcap_decoder_profile::ProfileDecoder>(),
        packet::<netcap_decoder_flow::FlowDecoder>(),
        stream::<netcap_decoder_stream::StreamDec>(),
        stream::<netcap_decoder_ics::IcsDecoder>(),
        stream::<netcap_decoder_database::DatabaseDecoder>(),
        stream::<netcap_decoder_windows::WindowsDecoder>(),
    ]
}

fn spec(i: DecoderInfo) -> DecoderSpec {
    let id = i.name.clone();
    // The in-tree decoders' descriptions are tested; a bad one is a bug in this repository.
    DecoderSpec::from_info(i, format!("{}.0", super::SUPPORTED_WIT), "native".into())
        .unwrap_or_else(|m| panic!("native decoder {id}: {m}"))
}

/// A layer or packet decoder crate, linked natively.
pub fn packet<D: Decoder + Send>() -> LoadedDecoder {
    LoadedDecoder {
        spec: spec(D::describe()),
        factory: Arc::new(NativeFactory::<D>(PhantomData)),
        logs: Arc::default(),
    }
}

/// A stream decoder crate, linked natively.
pub fn stream<D: StreamDecoder + Send>() -> LoadedDecoder {
    LoadedDecoder {
        spec: spec(D::describe()),
        factory: Arc::new(NativeStreamFactory::<D>(PhantomData)),
        logs: Arc::default(),
    }
}

struct NativeStreamFactory<D>(PhantomData<fn() -> D>);

impl<D: StreamDecoder + Send> DecoderFactory for NativeStreamFactory<D> {
    fn instantiate(&self, config: &[(String, String)]) -> Result<Box<dyn DecoderInstance>, Fault> {
        let cfg = Config::new(config.to_vec());
        let d = D::init(&cfg).map_err(|m| Fault { kind: super::FaultKind::Init, message: m })?;
        Ok(Box::new(NativeStreamInstance { r: StreamRunner::new(d), cfg }))
    }
}

struct NativeStreamInstance<D> {
    r: StreamRunner<D>,
    cfg: Config,
}

impl<D: StreamDecoder + Send> DecoderInstance for NativeStreamInstance<D> {
    fn decode(&mut self, batch: &[u8]) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        self.r.decode(batch, &mut out);
        Ok(out)
    }

    fn tick(&mut self, now_nanos: i64, seq: u64) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        self.r.tick(now_nanos, seq, &mut out);
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        self.r.finish(&mut out);
        Ok(out)
    }

    fn restart(&mut self) -> Result<(), Fault> {
        let d = D::init(&self.cfg).map_err(|m| Fault { kind: super::FaultKind::Init, message: m })?;
        self.r = StreamRunner::new(d);
        Ok(())
    }
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
