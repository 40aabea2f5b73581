//! An example third-party **record decoder** (contract kind `record`): it reads the
//! `TLSClientHello` records of netcap's stream decoder and writes a `JA3Alert` for each hello whose
//! JA3 or JA4 is on a blocklist. The blocklist is a **resource** the user names on the command line
//! (`--resource ja3-blocklist=FILE`): abuse.ch's SSLBL `ja3_fingerprints.csv`
//! (`ja3_md5,first seen,last seen,reason`, `#` comments) or any `fingerprint,reason` CSV (JA3 MD5
//! or JA4 strings). The decoder reads nothing else of the file system; it never could.
//!
//! Built by `cargo xtask build-plugins` into `target/plugins-examples/`.

use netcap_sdk::{Config, DecoderInfo, Emitter, InputRecord, Kind, RecordDecoder, ResourceNeed, host};
use prost::Message;
use std::collections::BTreeMap;

/// Generated from `proto/ja3_alert.proto`.
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/plugin.ja3_alert.v1.rs"));
}

/// The serialized `FileDescriptorSet` of `proto/ja3_alert.proto`.
pub const SCHEMA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/schema.fds"));

/// The resource this decoder reads.
pub const BLOCKLIST: &str = "ja3-blocklist";

/// Most fingerprints kept from a blocklist (abuse.ch's has a few hundred).
const MAX_ENTRIES: usize = 1_000_000;

/// Blocklisted fingerprints: fingerprint (lowercase) -> reason.
pub fn parse_blocklist(text: &str) -> BTreeMap<String, String> {
    let mut list = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || list.len() >= MAX_ENTRIES {
            continue;
        }
        let mut fields = line.split(',').map(str::trim);
        let Some(fp) = fields.next().filter(|f| !f.is_empty()) else { continue };
        let reason = fields.next_back().unwrap_or("").to_string();
        list.insert(fp.to_ascii_lowercase(), reason);
    }
    list
}

/// The decoder.
#[derive(Debug, Default)]
pub struct Ja3Alert {
    blocklist: BTreeMap<String, String>,
    counts: BTreeMap<String, u64>,
}

impl Ja3Alert {
    /// A decoder with this blocklist (tests build it directly).
    pub fn with_blocklist(text: &str) -> Self {
        Ja3Alert { blocklist: parse_blocklist(text), counts: BTreeMap::new() }
    }

    fn check(&mut self, hello: &pb::ClientHello) -> Option<pb::Ja3Alert> {
        let (matched, fp) = [("ja3", &hello.ja3), ("ja4", &hello.ja4)]
            .into_iter()
            .find(|(_, fp)| !fp.is_empty() && self.blocklist.contains_key(&fp.to_ascii_lowercase()))?;
        let key = fp.to_ascii_lowercase();
        let reason = self.blocklist.get(&key).cloned().unwrap_or_default();
        let count = self.counts.entry(key).or_insert(0);
        *count += 1;
        Some(pb::Ja3Alert {
            timestamp: hello.timestamp,
            src_ip: hello.src_ip.clone(),
            dst_ip: hello.dst_ip.clone(),
            src_port: hello.src_port,
            dst_port: hello.dst_port,
            ja3: hello.ja3.clone(),
            ja4: hello.ja4.clone(),
            sni: hello.sni.clone(),
            matched: matched.into(),
            reason,
            count: *count,
        })
    }
}

impl RecordDecoder for Ja3Alert {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "ja3-alert".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Record,
            record_types: netcap_sdk::record_types(&[("JA3Alert", "plugin.ja3_alert.v1.JA3Alert")]),
            schema: SCHEMA.to_vec(),
            consumes: netcap_sdk::record_types(&[("TLSClientHello", "netcap.v1.TLSClientHello")]),
            resources: vec![ResourceNeed {
                name: BLOCKLIST.into(),
                description: "JA3/JA4 blocklist CSV (fingerprint first, reason last), e.g. \
                              https://sslbl.abuse.ch/blacklist/ja3_fingerprints.csv"
                    .into(),
                required: true,
            }],
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        let bytes = host::read_resource(BLOCKLIST)?;
        Ok(Ja3Alert::with_blocklist(&String::from_utf8_lossy(&bytes)))
    }

    fn decode(&mut self, record: &InputRecord<'_>, out: &mut Emitter<'_>) {
        match pb::ClientHello::decode(record.bytes) {
            Ok(hello) => {
                if let Some(alert) = self.check(&hello) {
                    out.record(0, &alert);
                }
            }
            Err(_) => out.error("ja3-alert: undecodable TLSClientHello"),
        }
    }
}

netcap_sdk::export_record_decoder!(Ja3Alert);

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "# ja3_md5,Firstseen,Lastseen,Listingreason\n\
                        B386946A5A44D1DDCC843BC75336DFCE,2017-07-14 18:08:15,2019-07-27 20:42:54,Dridex\n\
                        t13d1516h2_8daaf6152771_e5627efa2ab1,Test JA4\n";

    fn hello(ja3: &str, ja4: &str) -> Vec<u8> {
        pb::ClientHello { ja3: ja3.into(), ja4: ja4.into(), src_port: 5, ..Default::default() }.encode_to_vec()
    }

    fn alerts(d: &mut Ja3Alert, batch: &[u8]) -> Vec<pb::Ja3Alert> {
        let mut out = Vec::new();
        netcap_sdk::record::run_decode(d, batch, &mut out);
        netcap_sdk::entries(&out).map(|e| pb::Ja3Alert::decode(e.unwrap().bytes).unwrap()).collect()
    }

    #[test]
    fn blocklisted_fingerprints_alert_and_count() {
        let mut d = Ja3Alert::with_blocklist(LIST);
        let mut b = Vec::new();
        netcap_sdk::push_record(&mut b, 0, 1, &hello("b386946a5a44d1ddcc843bc75336dfce", ""));
        netcap_sdk::push_record(&mut b, 0, 2, &hello("00000000000000000000000000000000", ""));
        netcap_sdk::push_record(&mut b, 0, 3, &hello("b386946a5a44d1ddcc843bc75336dfce", ""));
        netcap_sdk::push_record(&mut b, 0, 4, &hello("", "t13d1516h2_8daaf6152771_e5627efa2ab1"));
        let a = alerts(&mut d, &b);
        assert_eq!(a.len(), 3);
        assert_eq!((a[0].matched.as_str(), a[0].reason.as_str(), a[0].count), ("ja3", "Dridex", 1));
        assert_eq!(a[1].count, 2);
        assert_eq!((a[2].matched.as_str(), a[2].reason.as_str()), ("ja4", "Test JA4"));
    }

    #[test]
    fn a_garbled_input_record_is_an_error_not_a_panic() {
        let mut d = Ja3Alert::with_blocklist(LIST);
        let mut b = Vec::new();
        netcap_sdk::push_record(&mut b, 0, 1, &[0xff, 0xff, 0xff]);
        let mut out = Vec::new();
        netcap_sdk::record::run_decode(&mut d, &b, &mut out);
        let e: Vec<_> = netcap_sdk::entries(&out).map(Result::unwrap).collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].tag, netcap_sdk::TAG_ERROR);
    }
}
