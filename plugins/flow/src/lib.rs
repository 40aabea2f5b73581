//! The `flow` decoder: Connection (bidirectional) and Flow (unidirectional) records with timeouts
//! by packet time, TCP close, a bounded flow table, Zeek-like state and history, and the
//! Community ID. Logic lives in plain Rust modules ([`packet`] reads packets, [`conn`] keeps one
//! connection's state, [`table`] the timeouts and the memory bound, [`record`] builds records,
//! [`community_id`] hashes flows); this file is the glue to the SDK and the configuration.

pub mod community_id;
pub mod conn;
pub mod fragments;
pub mod packet;
pub mod record;
pub mod table;

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, export_decoder};
use record::{Out, Records};
use table::{Class, Limits, Table};

/// The decoder: one flow table (256 partitions by the host's flow hash) and the record builders.
pub struct FlowDecoder {
    table: Table,
    records: Records,
    /// DPI verdicts by id.
    app_cache: record::AppCache,
    /// Ports of fragmented datagrams the host put into their flows.
    fragments: fragments::Fragments,
}

/// Parses config value `key` with `parse`, `default` when absent.
fn value<T>(config: &Config, key: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    match config.get(key) {
        None => Ok(default),
        Some(v) => parse(v.trim()).ok_or_else(|| format!("flow: bad value {v:?} for {key}")),
    }
}

/// The limits from the configuration keys `flow-idle`, `tcp-idle`, `udp-idle`, `icmp-idle`,
/// `flow-active`, `tcp-close` (ns of packet time) and `flow-max` (connections); idle and active
/// timeouts and the cap must be positive. `flow-idle` sets the idle timeout of every protocol
/// class; `tcp-idle`, `udp-idle` and `icmp-idle` (ICMP and ICMPv6) override it for theirs.
pub fn limits(config: &Config) -> Result<Limits, String> {
    let d = Limits::default();
    let ns = |v: &str| v.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok());
    let positive = |v: &str| ns(v).filter(|&n| n > 0);
    let all = value(config, "flow-idle", None, |v| positive(v).map(Some))?;
    let mut idle = all.map_or(d.idle, |n| [n; table::CLASSES]);
    for (key, class) in [("tcp-idle", Class::Tcp), ("udp-idle", Class::Udp), ("icmp-idle", Class::Icmp)] {
        idle[class as usize] = value(config, key, idle[class as usize], positive)?;
    }
    Ok(Limits {
        idle,
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
        Ok(FlowDecoder {
            table: Table::new(limits(config)?),
            records,
            app_cache: Vec::new(),
            fragments: fragments::Fragments::default(),
        })
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
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        FlowDecoder::new(config)
    }

    fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        // A datagram the host reassembled from fragments: its fragments were counted already.
        if p.flags & netcap_sdk::PACKET_FLAG_REASSEMBLED != 0 {
            return;
        }
        let Some(mut info) = packet::read(p) else { return };
        let part = (p.flow & 0xff) as u8;
        if info.frag.is_some() && p.flags & netcap_sdk::PACKET_FLAG_FRAGMENT_OF_FLOW != 0 {
            // A fragment of a TCP/UDP datagram: into the connection of the datagram's ports.
            if let Some(ports) = packet::first_fragment_ports(p, &info) {
                self.fragments.remember(part, &info, ports);
            }
            if let Some(ports) = self.fragments.ports(part, &info) {
                packet::into_flow(p, &mut info, ports);
            }
        }
        let mut sink = Out { records: &mut self.records, em: out, apps: &mut self.app_cache };
        self.table.packet(part, &info, p.app, &mut sink);
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

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{Layer, PacketMeta, layer, packets, push_packet_with};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts the allocations of the current thread while `COUNTING` is set.
    struct Counting;

    thread_local! {
        static COUNTING: Cell<bool> = const { Cell::new(false) };
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: forwards to the system allocator unchanged; the counters are const-initialized
    // thread locals, which do not allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            if COUNTING.with(Cell::get) {
                ALLOCATIONS.with(|a| a.set(a.get() + 1));
            }
            // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            // SAFETY: `p` was allocated by `System` with layout `l` (see `alloc`).
            unsafe { System.dealloc(p, l) }
        }
    }

    #[global_allocator]
    static ALLOC: Counting = Counting;

    /// An Ethernet/IPv4/UDP frame from 10.0.0.`host`:`port` to 10.0.0.1:53.
    fn frame(host: u8, port: u16) -> (Vec<u8>, [Layer; 3]) {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend_from_slice(&[0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, host, 10, 0, 0, 1]);
        f.extend_from_slice(&port.to_be_bytes());
        f.extend_from_slice(&[0, 53, 0, 12, 0, 0, 1, 2, 3, 4]);
        let layers = [
            Layer { id: layer::ETHERNET, flags: 0, offset: 0 },
            Layer { id: layer::IPV4, flags: 0, offset: 14 },
            Layer { id: layer::UDP, flags: 0, offset: 34 },
        ];
        (f, layers)
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn idle_timeouts_default_to_zeeks_and_flow_idle_sets_all_but_explicit_ones() {
        let s = 1_000_000_000i64;
        let idle = |pairs: &[(&str, &str)]| limits(&config(pairs)).map(|l| l.idle);
        // TCP, UDP, ICMP, other.
        assert_eq!(idle(&[]), Ok([300 * s, 60 * s, 60 * s, 60 * s]));
        assert_eq!(idle(&[("flow-idle", "5000000000")]), Ok([5 * s; 4]));
        assert_eq!(idle(&[("udp-idle", "7000000000")]), Ok([300 * s, 7 * s, 60 * s, 60 * s]));
        assert_eq!(
            idle(&[("tcp-idle", "1000000000"), ("flow-idle", "5000000000"), ("icmp-idle", "2000000000")]),
            Ok([s, 5 * s, 2 * s, 5 * s]),
            "an explicit per-protocol timeout wins over flow-idle, in any order"
        );
        assert!(idle(&[("tcp-idle", "0")]).is_err());
        assert!(idle(&[("icmp-idle", "soon")]).is_err());
    }

    #[test]
    fn packets_of_known_connections_do_not_allocate() {
        let mut d = FlowDecoder::new(&Config::default()).expect("default config");
        let mut batch = Vec::new();
        for round in 0..20u64 {
            for h in 0..100u8 {
                let (f, layers) = frame(h, 1000 + u16::from(h));
                let m = PacketMeta {
                    seq: round * 100 + u64::from(h),
                    ts_nanos: (round * 100 + u64::from(h)) as i64 * 1000,
                    flow: u64::from(h) * 7,
                    app: 0,
                    link_type: 1,
                    orig_len: f.len() as u32,
                };
                push_packet_with(&mut batch, m, &layers, &f);
            }
        }
        let all: Vec<_> = packets(&batch).collect();
        let mut out = Vec::with_capacity(1 << 16);
        // The first round creates the connections; the rest only counts packets.
        for p in &all[..100] {
            d.decode(p, &mut Emitter::new(&mut out, p.seq));
        }
        COUNTING.with(|c| c.set(true));
        for p in &all[100..] {
            d.decode(p, &mut Emitter::new(&mut out, p.seq));
        }
        d.tick(all[all.len() - 1].ts_nanos, 0, &mut Emitter::new(&mut out, 0));
        COUNTING.with(|c| c.set(false));
        assert_eq!(ALLOCATIONS.with(Cell::get), 0);
        assert_eq!(d.tracked(), 100);
        assert!(out.is_empty());
    }
}
