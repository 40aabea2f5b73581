//! The Software table: sightings deduplicated per (product, version, source), with first and
//! last time seen, a count and bounded lists of hosts and flows. Emitted at the end of input in
//! key order (the host then orders end-of-input records by their bytes).

use netcap_proto::v1::Software;
use std::collections::BTreeMap;

/// Most hosts and flows kept per Software.
pub const MAX_LIST: usize = 64;
/// Most distinct Software kept; further ones are counted (`software: table full`).
pub const MAX_ENTRIES: usize = 100_000;

/// One sighting of a product.
#[derive(Debug, Clone, Default)]
pub struct Sighting<'a> {
    pub timestamp: i64,
    pub product: &'a str,
    pub vendor: &'a str,
    pub version: &'a str,
    pub os: &'a str,
    pub device: &'a str,
    pub source: &'a str,
    pub source_data: &'a str,
    /// The host that showed it.
    pub host: &'a str,
    /// Client and server of the flow.
    pub src_ip: &'a str,
    pub dst_ip: &'a str,
    pub src_port: u32,
    pub dst_port: u32,
}

/// `ip:port` with IPv6 in brackets.
pub fn endpoint(ip: &str, port: u32) -> String {
    if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }
}

/// The table.
#[derive(Debug, Default)]
pub struct Table {
    map: BTreeMap<(String, String, String), Software>,
    /// Sightings of new Software after the table was full.
    pub dropped: u64,
}

fn add_bounded(list: &mut Vec<String>, dropped: &mut u64, item: &str) {
    if list.iter().any(|h| h == item) {
        return;
    }
    if list.len() < MAX_LIST {
        list.push(item.to_string());
    } else {
        *dropped += 1;
    }
}

impl Table {
    /// Records one sighting; false when the table is full and the product is new.
    pub fn add(&mut self, s: &Sighting<'_>) -> bool {
        if s.product.is_empty() {
            return true;
        }
        let key = (s.product.to_string(), s.version.to_string(), s.source.to_string());
        if !self.map.contains_key(&key) {
            if self.map.len() >= MAX_ENTRIES {
                self.dropped += 1;
                return false;
            }
            self.map.insert(
                key.clone(),
                Software {
                    timestamp_first: s.timestamp,
                    timestamp_last: s.timestamp,
                    product: s.product.into(),
                    vendor: s.vendor.into(),
                    version: s.version.into(),
                    os: s.os.into(),
                    device: s.device.into(),
                    source: s.source.into(),
                    source_data: s.source_data.into(),
                    src_ip: s.src_ip.into(),
                    dst_ip: s.dst_ip.into(),
                    src_port: s.src_port,
                    dst_port: s.dst_port,
                    ..Software::default()
                },
            );
        }
        let Some(sw) = self.map.get_mut(&key) else { return true };
        sw.timestamp_first = sw.timestamp_first.min(s.timestamp);
        sw.timestamp_last = sw.timestamp_last.max(s.timestamp);
        sw.count += 1;
        if sw.os.is_empty() {
            sw.os = s.os.into();
        }
        if sw.device.is_empty() {
            sw.device = s.device.into();
        }
        if !s.host.is_empty() {
            add_bounded(&mut sw.hosts, &mut sw.hosts_dropped, s.host);
        }
        if !s.src_ip.is_empty() {
            let flow = format!("{}->{}", endpoint(s.src_ip, s.src_port), endpoint(s.dst_ip, s.dst_port));
            add_bounded(&mut sw.flows, &mut sw.flows_dropped, &flow);
        }
        true
    }

    /// Number of distinct Software.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Takes the first Software left, in key order (for chunked output).
    pub fn pop_first(&mut self) -> Option<Software> {
        self.map.pop_first().map(|(_, v)| v)
    }
}
