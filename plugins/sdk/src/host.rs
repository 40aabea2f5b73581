//! What the host offers decoders besides batches: resolvers (MAC vendor, service names, deep
//! packet inspection verdicts, GeoIP, names for addresses, fingerprint descriptions) and the
//! read-only data files the user gave ([`read_resource`]).
//!
//! In a WebAssembly build these call the host's imports (`netcap:decoder/host`). In a native
//! build (unit tests, the host's natively linked decoders) they call the [`Resolver`] installed
//! with [`set_resolver`], or answer "unknown" when there is none, so decoder logic is the same in
//! both builds.

/// Deep packet inspection verdict for a flow (WIT `app`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct App {
    /// Application protocol, e.g. `TLS`, `DNS`, `Google`.
    pub protocol: String,
    /// Master (carrier) protocol; empty when none.
    pub master: String,
    /// Category, e.g. `Web`.
    pub category: String,
    /// The library that classified the flow: `ndpi` or `libprotoident`.
    pub engine: String,
}

/// GeoIP and ASN of an address (WIT `geo`); empty fields when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    /// ISO country code.
    pub country: String,
    /// City name (English).
    pub city: String,
    /// Autonomous system number, 0 when unknown.
    pub asn: u32,
    /// Autonomous system organization.
    pub as_org: String,
}

/// The host's answers, for native builds. Every method defaults to "unknown".
pub trait Resolver: Send + Sync {
    /// See [`mac_vendor`].
    fn mac_vendor(&self, _mac: &[u8]) -> Option<String> {
        None
    }
    /// See [`service_name`].
    fn service_name(&self, _transport: &str, _port: u16) -> Option<String> {
        None
    }
    /// See [`app_info`].
    fn app_info(&self, _id: u16) -> Option<App> {
        None
    }
    /// See [`geo`].
    fn geo(&self, _ip: &str) -> Option<Geo> {
        None
    }
    /// See [`ip_names`].
    fn ip_names(&self, _ip: &str, _before_seq: u64) -> Vec<String> {
        Vec::new()
    }
    /// See [`fingerprint_description`].
    fn fingerprint_description(&self, _kind: &str, _hash: &str) -> Option<String> {
        None
    }
    /// See [`read_resource`].
    fn read_resource(&self, name: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file was given for resource {name:?}"))
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::Resolver;
    use std::sync::{Arc, RwLock};

    static RESOLVER: RwLock<Option<Arc<dyn Resolver>>> = RwLock::new(None);

    /// Installs the resolver native builds use (the host does this for its native decoders).
    pub fn set_resolver(r: Option<Arc<dyn Resolver>>) {
        if let Ok(mut g) = RESOLVER.write() {
            *g = r;
        }
    }

    pub(super) fn with<T>(f: impl FnOnce(&dyn Resolver) -> T, none: T) -> T {
        match RESOLVER.read() {
            Ok(g) => match g.as_deref() {
                Some(r) => f(r),
                None => none,
            },
            Err(_) => none,
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::set_resolver;

#[cfg(target_arch = "wasm32")]
use crate::bindings::netcap::decoder::host as h;

/// The organization the IEEE registry assigns the MAC address `mac` (6 bytes) to.
pub fn mac_vendor(mac: &[u8]) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return h::mac_vendor(mac);
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|r| r.mac_vendor(mac), None)
}

/// The service name of `port` for `transport` (`tcp`, `udp`, `sctp`).
pub fn service_name(transport: &str, port: u16) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return h::service_name(transport, port);
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|r| r.service_name(transport, port), None)
}

/// The deep packet inspection verdict behind a packet's `app` id ([`crate::Packet::app`]).
pub fn app_info(id: u16) -> Option<App> {
    if id == 0 {
        return None;
    }
    #[cfg(target_arch = "wasm32")]
    return h::app_info(id).map(|a| App {
        protocol: a.protocol,
        master: a.master,
        category: a.category,
        engine: a.engine,
    });
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|r| r.app_info(id), None)
}

/// GeoIP and ASN of `ip` (text form), when the user gave databases.
pub fn geo(ip: &str) -> Option<Geo> {
    #[cfg(target_arch = "wasm32")]
    return h::geo(ip).map(|g| Geo { country: g.country, city: g.city, asn: g.asn, as_org: g.as_org });
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|r| r.geo(ip), None)
}

/// Names for `ip` (text form) from DNS answers in packets before packet `before_seq` (so the
/// answer is deterministic) and the user's hosts file.
pub fn ip_names(ip: &str, before_seq: u64) -> Vec<String> {
    #[cfg(target_arch = "wasm32")]
    return h::ip_names(ip, before_seq);
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|r| r.ip_names(ip, before_seq), Vec::new())
}

/// A description of a fingerprint (`kind`: `ja3`, `ja3s`, `ja4`, `hassh`, `hassh-server`).
pub fn fingerprint_description(kind: &str, hash: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return h::fingerprint_description(kind, hash);
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|r| r.fingerprint_description(kind, hash), None)
}

/// The bytes of the data file the user gave for resource `name` (`--resource NAME=PATH` or
/// `--resources DIR`). Only names declared in [`crate::DecoderInfo::resources`] are answered.
pub fn read_resource(name: &str) -> Result<Vec<u8>, String> {
    #[cfg(target_arch = "wasm32")]
    return h::read_resource(name);
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|r| r.read_resource(name), Err(format!("no file was given for resource {name:?}")))
}
