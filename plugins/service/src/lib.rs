//! The `service` decoder (kind `record`): one `Service` record per server address, port and
//! transport (`proto/netcap/v1/service.proto`), written at the end of input (chunked in key order; the host orders end-of-input records by their bytes).
//!
//! It reads the flow decoder's `Connection` records (a TCP, UDP or SCTP connection whose server
//! sent at least one packet counts as a connection to a service; its payload bytes are added)
//! and the banner decoder's `ServiceBanner` records (the first banner of a service is kept and
//! identified when it arrives, so the work follows the input). The banner is identified with nmap's `nmap-service-probes`, the optional resource
//! `nmap-service-probes` (Debian package `nmap-common`), see [`probes`]; without it services
//! have banners but no product. Match lines whose pattern the regex engine cannot take are
//! counted once, as one error each: those the translation to the `regex` crate's syntax refuses
//! at the first banner (`service: nmap pattern unsupported`), those the crate refuses among the
//! ones compiled at the end (`service: nmap pattern refused by the regex engine`); the
//! `probes` module's `unsupported` lists them.

pub mod probes;

use netcap_proto::v1::{Connection, Service, ServiceBanner};
use netcap_sdk::{Config, DecoderInfo, Emitter, InputRecord, Kind, RecordDecoder, ResourceNeed, host};
use prost::Message;
use std::collections::BTreeMap;

/// The resource with nmap's probes.
pub const PROBES: &str = "nmap-service-probes";
/// Record types read, in `consumes` order.
pub const CONSUMES: [(&str, &str); 2] =
    [("Connection", "netcap.v1.Connection"), ("ServiceBanner", "netcap.v1.ServiceBanner")];
/// Record types written.
pub const RECORD_TYPES: [(&str, &str); 1] = [("Service", "netcap.v1.Service")];
/// Most services kept; connections to further ones are counted (`service: table full`).
pub const MAX_SERVICES: usize = 200_000;
/// Most clients listed per service.
pub const MAX_CLIENTS: usize = 64;

/// The decoder.
#[derive(Debug, Default)]
pub struct ServiceDecoder {
    probes: Option<probes::Probes>,
    /// (ip, port, transport) -> service.
    table: BTreeMap<(String, u32, String), Service>,
    reported_unsupported: bool,
}

impl ServiceDecoder {
    /// A decoder with these probes (`None`: banners are not identified).
    pub fn new(probes: Option<probes::Probes>) -> Self {
        ServiceDecoder { probes, ..Default::default() }
    }

    /// The service of a server, created on first sight; `None` when the table is full.
    fn entry<'t>(
        table: &'t mut BTreeMap<(String, u32, String), Service>,
        ip: &str,
        port: u32,
        transport: &str,
        first: (&str, u32, i64),
    ) -> Option<&'t mut Service> {
        let key = (ip.to_string(), port, transport.to_string());
        if !table.contains_key(&key) {
            if table.len() >= MAX_SERVICES {
                return None;
            }
            let s = Service {
                timestamp_first: first.2,
                timestamp_last: first.2,
                ip: ip.into(),
                port,
                transport: transport.into(),
                src_ip: first.0.into(),
                src_port: first.1,
                dst_ip: ip.into(),
                dst_port: port,
                ..Service::default()
            };
            table.insert(key.clone(), s);
        }
        table.get_mut(&key)
    }

    fn connection(&mut self, c: &Connection, out: &mut Emitter<'_>) {
        let transport = c.transport_proto.as_str();
        if !matches!(transport, "TCP" | "UDP" | "SCTP") || c.dst_ip.is_empty() || c.packets_server_to_client == 0 {
            return;
        }
        let Some(s) =
            Self::entry(&mut self.table, &c.dst_ip, c.dst_port, transport, (&c.src_ip, c.src_port, c.timestamp_first))
        else {
            out.error("service: table full");
            return;
        };
        s.timestamp_first = s.timestamp_first.min(c.timestamp_first);
        s.timestamp_last = s.timestamp_last.max(c.timestamp_last);
        s.connections += 1;
        s.bytes_client_to_server += c.payload_bytes_client_to_server;
        s.bytes_server_to_client += c.payload_bytes_server_to_client;
        if !s.clients.iter().any(|x| x == &c.src_ip) {
            if s.clients.len() < MAX_CLIENTS {
                s.clients.push(c.src_ip.clone());
            } else {
                s.clients_dropped += 1;
            }
        }
    }

    fn banner(&mut self, b: &ServiceBanner, out: &mut Emitter<'_>) {
        if b.banner.is_empty() {
            return;
        }
        if !self.reported_unsupported {
            self.reported_unsupported = true;
            for _ in 0..self.probes.as_ref().map_or(0, |p| p.untranslatable()) {
                out.error("service: nmap pattern unsupported");
            }
        }
        let Some(s) = Self::entry(&mut self.table, &b.dst_ip, b.dst_port, "TCP", (&b.src_ip, b.src_port, b.timestamp))
        else {
            out.error("service: table full");
            return;
        };
        s.timestamp_first = s.timestamp_first.min(b.timestamp);
        s.timestamp_last = s.timestamp_last.max(b.timestamp);
        if s.banner.is_empty() {
            s.banner = b.banner.clone();
            s.client_data = b.client_data.clone();
            if let Some(p) = &self.probes {
                Self::identify(p, s);
            }
        }
    }

    /// Fills in what the probes say about `s`'s banner.
    fn identify(probes: &probes::Probes, s: &mut Service) {
        if s.banner.is_empty() {
            return;
        }
        let port = u16::try_from(s.port).unwrap_or(0);
        let Some(f) = probes.identify(&s.transport, port, s.client_data.is_empty(), &s.banner) else { return };
        let [p, v, i, h, o, d] = f.fields;
        (s.name, s.product, s.version, s.info, s.hostname, s.os, s.device_type) = (f.service, p, v, i, h, o, d);
        s.cpes = f.cpes;
        s.probe = f.probe;
        s.soft = f.soft;
    }
}

impl RecordDecoder for ServiceDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "service".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Record,
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            consumes: netcap_sdk::record_types(&CONSUMES),
            resources: vec![ResourceNeed {
                name: PROBES.into(),
                description: "nmap's service probes (Debian package nmap-common: \
                              /usr/share/nmap/nmap-service-probes); without it banners are not identified"
                    .into(),
                required: false,
            }],
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        let probes = match host::read_resource(PROBES) {
            Ok(bytes) => {
                let (p, _bad) = probes::Probes::parse(&bytes);
                if p.lines() == 0 {
                    return Err(format!("{PROBES}: no match lines (is it nmap's nmap-service-probes?)"));
                }
                Some(p)
            }
            Err(e) if e.contains("no file was given") => None,
            Err(e) => return Err(e),
        };
        Ok(ServiceDecoder::new(probes))
    }

    fn decode(&mut self, record: &InputRecord<'_>, out: &mut Emitter<'_>) {
        match record.input {
            0 => match Connection::decode(record.bytes) {
                Ok(c) => self.connection(&c, out),
                Err(_) => out.error("service: undecodable Connection record"),
            },
            1 => match ServiceBanner::decode(record.bytes) {
                Ok(b) => self.banner(&b, out),
                Err(_) => out.error("service: undecodable ServiceBanner record"),
            },
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        if let Some(p) = self.probes.as_mut() {
            for _ in 0..p.refused() {
                out.error("service: nmap pattern refused by the regex engine");
            }
            // Counted once: later chunks of this finish do not count them again.
            p.forget_refused();
        }
        while !out.chunk_full() {
            let Some((_, s)) = self.table.pop_first() else { break };
            out.record(0, &s);
        }
    }
}

netcap_sdk::export_record_decoder!(ServiceDecoder);

#[cfg(test)]
mod tests;
