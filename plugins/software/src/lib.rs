//! The `software` decoder (kind `record`): products and versions announced in other decoders'
//! records. It reads the stream decoder's `HTTP` records (User-Agent, Server and X-Powered-By
//! headers) and `SSH` records (identification strings), and writes one `Software` record per
//! product, version and source at the end of input (`proto/netcap/v1/software.proto`).
//!
//! User agents are parsed with uap-core's `regexes.yaml`, the optional resource `uap-regexes`
//! (Debian package `uap-core`: `--resource uap-regexes=/usr/share/uap-core/regexes.yaml`);
//! without it user agents are skipped. Parses are cached per distinct user agent (bounded).

pub mod literals;
pub mod table;
pub mod tokens;
pub mod uap;

use netcap_proto::v1::{Http, Ssh};
use netcap_sdk::{Config, DecoderInfo, Emitter, InputRecord, Kind, RecordDecoder, ResourceNeed, host};
use prost::Message;
use std::collections::BTreeMap;
use table::{Sighting, Table};

/// The resource with uap-core's regexes.
pub const UAP_REGEXES: &str = "uap-regexes";
/// Record types read, in `consumes` order.
pub const CONSUMES: [(&str, &str); 2] = [("HTTP", "netcap.v1.HTTP"), ("SSH", "netcap.v1.SSH")];
/// Record types written.
pub const RECORD_TYPES: [(&str, &str); 1] = [("Software", "netcap.v1.Software")];
/// Most distinct user agents whose parse is cached.
const MAX_CACHE: usize = 20_000;

/// What a user agent says: product, version, OS, device.
#[derive(Debug, Clone, Default)]
struct UaInfo {
    product: String,
    version: String,
    os: String,
    device: String,
}

/// The decoder.
#[derive(Debug, Default)]
pub struct SoftwareDecoder {
    uap: Option<uap::Uap>,
    cache: BTreeMap<String, UaInfo>,
    table: Table,
}

impl SoftwareDecoder {
    /// A decoder with these uap-core regexes (`None`: user agents are skipped).
    pub fn new(uap: Option<uap::Uap>) -> Self {
        SoftwareDecoder { uap, ..Default::default() }
    }

    fn user_agent(&mut self, ua: &str) -> Option<UaInfo> {
        let uap = self.uap.as_ref()?;
        if let Some(i) = self.cache.get(ua) {
            return Some(i.clone());
        }
        let p = uap.parse(ua);
        let info = if p.family == "Other" {
            UaInfo::default()
        } else {
            let device = if p.device.family == "Other" { String::new() } else { p.device.family.clone() };
            UaInfo { version: p.version(), os: p.os.describe(), device, product: p.family }
        };
        if self.cache.len() < MAX_CACHE {
            self.cache.insert(ua.to_string(), info.clone());
        }
        Some(info)
    }

    fn http(&mut self, h: &Http, out: &mut Emitter<'_>) {
        let flow = Sighting {
            timestamp: h.timestamp,
            src_ip: &h.src_ip,
            dst_ip: &h.dst_ip,
            src_port: h.src_port,
            dst_port: h.dst_port,
            ..Sighting::default()
        };
        if !h.user_agent.is_empty()
            && let Some(i) = self.user_agent(&h.user_agent)
        {
            let s = Sighting {
                product: &i.product,
                version: &i.version,
                os: &i.os,
                device: &i.device,
                source: "user-agent",
                source_data: &h.user_agent,
                host: &h.src_ip,
                ..flow.clone()
            };
            self.add(&s, out);
        }
        let ts = if h.response_timestamp != 0 { h.response_timestamp } else { h.timestamp };
        for hdr in &h.response_header {
            let source = if hdr.name.eq_ignore_ascii_case("server") {
                "server"
            } else if hdr.name.eq_ignore_ascii_case("x-powered-by") {
                "x-powered-by"
            } else {
                continue;
            };
            for p in tokens::products(&hdr.value) {
                let s = Sighting {
                    timestamp: ts,
                    product: p.product,
                    version: p.version,
                    os: p.comment,
                    source,
                    source_data: &hdr.value,
                    host: &h.dst_ip,
                    ..flow.clone()
                };
                self.add(&s, out);
            }
        }
    }

    fn ssh(&mut self, r: &Ssh, out: &mut Emitter<'_>) {
        if r.product.is_empty() {
            return;
        }
        // The record's src is the sender of this side; the flow is client -> server.
        let (client, server) = if r.is_client {
            ((&r.src_ip, r.src_port), (&r.dst_ip, r.dst_port))
        } else {
            ((&r.dst_ip, r.dst_port), (&r.src_ip, r.src_port))
        };
        let s = Sighting {
            timestamp: r.timestamp,
            product: &r.product,
            version: &r.version,
            os: &r.comments,
            source: "ssh",
            source_data: &r.ident,
            host: &r.src_ip,
            src_ip: client.0,
            dst_ip: server.0,
            src_port: client.1,
            dst_port: server.1,
            ..Sighting::default()
        };
        self.add(&s, out);
    }

    fn add(&mut self, s: &Sighting<'_>, out: &mut Emitter<'_>) {
        if !self.table.add(s) {
            out.error("software: table full");
        }
    }
}

impl RecordDecoder for SoftwareDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "software".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Record,
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            consumes: netcap_sdk::record_types(&CONSUMES),
            resources: vec![ResourceNeed {
                name: UAP_REGEXES.into(),
                description: "uap-core user-agent regexes (regexes.yaml; Debian package uap-core: \
                              /usr/share/uap-core/regexes.yaml); without it user agents are skipped"
                    .into(),
                required: false,
            }],
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        let uap = match host::read_resource(UAP_REGEXES) {
            Ok(bytes) => Some(uap::Uap::from_yaml(&String::from_utf8_lossy(&bytes))?),
            Err(e) if e.contains("no file was given") => None,
            Err(e) => return Err(e),
        };
        Ok(SoftwareDecoder::new(uap))
    }

    fn decode(&mut self, record: &InputRecord<'_>, out: &mut Emitter<'_>) {
        match record.input {
            0 => match Http::decode(record.bytes) {
                Ok(h) => self.http(&h, out),
                Err(_) => out.error("software: undecodable HTTP record"),
            },
            1 => match Ssh::decode(record.bytes) {
                Ok(s) => self.ssh(&s, out),
                Err(_) => out.error("software: undecodable SSH record"),
            },
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        while !out.chunk_full() {
            let Some(sw) = self.table.pop_first() else { break };
            out.record(0, &sw);
        }
    }
}

netcap_sdk::export_record_decoder!(SoftwareDecoder);

#[cfg(test)]
mod tests;
