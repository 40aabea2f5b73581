//! The `flow` decoder: Connection (bidirectional) and Flow (unidirectional) records with timeouts
//! by packet time, TCP close, a bounded flow table, Zeek-like state and history, and the
//! Community ID. Logic lives in plain Rust modules ([`packet`] reads packets, [`conn`] keeps one
//! connection's state, [`table`] the timeouts and the memory bound, [`record`] builds records,
//! [`community_id`] hashes flows); this file is the glue to the SDK and the configuration.

pub mod community_id;
pub mod conn;
pub mod packet;
pub mod record;
pub mod table;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};
use record::{Out, Records};
use table::{Limits, Table};

/// The decoder: one flow table (256 partitions by the host's flow hash) and the record builders.
pub struct FlowDecoder {
    table: Table,
    records: Records,
    /// DPI verdicts by id.
    app_cache: record::AppCache,
}

/// Parses config value `key` with `parse`, `default` when absent.
fn value<T>(config: &Config, key: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    match config.get(key) {
        None => Ok(default),
        Some(v) => parse(v.trim()).ok_or_else(|| format!("flow: bad value {v:?} for {key}")),
    }
}

/// The limits from the configuration keys `flow-idle`, `flow-active`, `tcp-close` (ns of packet
/// time) and `flow-max` (connections); idle and active timeouts and the cap must be positive.
pub fn limits(config: &Config) -> Result<Limits, String> {
    let d = Limits::default();
    let ns = |v: &str| v.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok());
    let positive = |v: &str| ns(v).filter(|&n| n > 0);
    Ok(Limits {
        idle: value(config, "flow-idle", d.idle, positive)?,
        active: value(config, "flow-active", d.active, positive)?,
        tcp_close: value(config, "tcp-close", d.tcp_close, ns)?,
        max: value(config, "flow-max", d.max, |v| v.parse::<usize>().ok().filter(|&n| n > 0))?,
    })
}

impl FlowDecoder {
    /// A decoder for `config` (see [`limits`]; `community-id-seed` 0-65535, default 0).
    pub fn new(config: &Config) -> Result<Self, String> {
        let mut records = Records::default();
        records.cid = community_id::CommunityId::new(value(config, "community-id-seed", 0, |v| v.parse().ok())?);
        for (i, (name, _)) in record::RECORD_TYPES.iter().enumerate() {
            records.enabled[i] = config.record_type_enabled(name);
        }
        Ok(FlowDecoder { table: Table::new(limits(config)?), records, app_cache: Vec::new() })
    }

    /// Connections tracked now.
    pub fn tracked(&self) -> usize {
        self.table.len()
    }
}

impl Decoder for FlowDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "flow".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Packet,
            layers: Vec::new(),
            record_types: netcap_sdk::record_types(&record::RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        FlowDecoder::new(config)
    }

    fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        let Some(info) = packet::read(p) else { return };
        let mut sink = Out { records: &mut self.records, em: out, apps: &mut self.app_cache };
        self.table.packet((p.flow & 0xff) as u8, &info, p.app, &mut sink);
    }

    fn tick(&mut self, now_nanos: i64, _seq: u64, out: &mut Emitter<'_>) {
        let mut sink = Out { records: &mut self.records, em: out, apps: &mut self.app_cache };
        self.table.tick(now_nanos, &mut sink);
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        let mut sink = Out { records: &mut self.records, em: out, apps: &mut self.app_cache };
        self.table.finish(&mut sink);
    }
}

export_decoder!(FlowDecoder);
