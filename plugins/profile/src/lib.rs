//! The `profile` decoder: DeviceProfile (per MAC address) and IPProfile (per IP address), what
//! each host did over the whole capture. A *global* decoder: one instance sees every packet in
//! input order, so a host's packets are all counted in one place whatever the worker count
//! (netcap kept these maps per worker behind locks, and made IPProfile depend on DeviceProfile).
//! Records are emitted by `finish`; the host orders them by their bytes.
//!
//! Addresses come from the outermost packet: the first Ethernet header's MACs, the first IP
//! header's addresses and the transport header right after it. Tables are bounded: at most
//! `profile-max` (default 300,000) profiles per type (packets of further hosts are counted as
//! `profile: table full`), 4096 ports per port table, 1024 addresses per address list.

pub mod profile;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};

/// The exported decoder.
pub struct ProfileDecoder(profile::Profiles);

impl Decoder for ProfileDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "profile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Global,
            layers: Vec::new(),
            record_types: netcap_sdk::record_types(&profile::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(ProfileDecoder(profile::Profiles::new(config)?))
    }

    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>) {
        self.0.packet(packet, out);
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_decoder!(ProfileDecoder);
