//! A test-only decoder that misbehaves when it sees certain UDP destination ports, to show that
//! the host contains it: 6661 loops forever (out of fuel), 6662 allocates without bound (memory
//! cap), 6663 panics (trap), 6664 returns a record of an undeclared type (bad output), 6665
//! returns 5 MiB of records for the packet (output cap). Any other
//! UDP packet yields a `Faulty` record (a `netcap.v1.UDP` with the ports). Built by
//! `cargo xtask build-plugins` into `target/plugins-testing/`, never loaded unless asked for.

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, RecordType, export_decoder, layer};
use std::hint::black_box;

/// The exported decoder.
pub struct Faulty {
    rec: netcap_proto::v1::Udp,
}

impl Decoder for Faulty {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "faulty".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: vec!["udp".into()],
            record_types: vec![RecordType { name: "Faulty".into(), message: "netcap.v1.UDP".into() }],
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Faulty { rec: Default::default() })
    }

    fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        let Some(udp) = p.layers().find(|l| l.id == layer::UDP) else { return };
        let Some(h) = p.data.get(udp.offset..udp.offset + 8) else { return };
        let (sport, dport) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
        match dport {
            6661 => {
                let mut n = 0u64;
                loop {
                    n = black_box(n).wrapping_add(1);
                }
            }
            6662 => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![1u8; 1 << 20]);
                    black_box(&hog);
                }
            }
            6663 => panic!("faulty decoder: boom on packet {}", p.seq),
            6664 => out.record(7, &self.rec),
            6665 => {
                self.rec.payload = vec![0x55; 1 << 20];
                for _ in 0..5 {
                    out.record(0, &self.rec);
                }
                self.rec.payload = Vec::new();
            }
            _ => {
                self.rec.timestamp = p.ts_nanos;
                self.rec.src_port = u32::from(sport);
                self.rec.dst_port = u32::from(dport);
                out.record(0, &self.rec);
            }
        }
    }
}

export_decoder!(Faulty);
