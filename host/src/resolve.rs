//! Resolvers: the lookups decoders reach through the host imports of the WIT contract
//! (`mac-vendor`, `service-name`, `app-info`, `geo`, `ip-names`, `fingerprint-description`).
//!
//! Data sources: Debian's `ieee-data` registry files (MAC vendors), `/etc/services` (port
//! names), MaxMind `.mmdb` files the user supplies (GeoIP, ASN), the DNS answers of the capture
//! and a hosts file (names; live reverse lookups only with `--reverse-dns`), CSV fingerprint
//! databases the user supplies, and the DPI application table. A missing data file gives one
//! warning and empty answers, never a failure. System files (IEEE registry, services) are
//! loaded on first use; user-supplied files at start, so their problems show at once.

pub mod fingerprints;
pub mod geo;
pub mod mac;
pub mod names;
pub mod resources;
pub mod services;

use crate::dpi::{AppInfo, AppTable};
pub use geo::Geo;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// Where the resolvers' data comes from.
#[derive(Debug, Clone)]
pub struct ResolverOptions {
    /// Directory of the IEEE registry CSV files (`$NETCAP_IEEE_DATA`, default
    /// `/usr/share/ieee-data`).
    pub ieee_dir: PathBuf,
    /// The services file (default `/etc/services`).
    pub services_file: PathBuf,
    /// `--geoip-db`: a GeoIP2/GeoLite2 City (or Country) database.
    pub geoip_db: Option<PathBuf>,
    /// `--asn-db`: a GeoLite2 ASN database.
    pub asn_db: Option<PathBuf>,
    /// `--hosts-file`.
    pub hosts_file: Option<PathBuf>,
    /// `--reverse-dns`: live reverse lookups (off by default).
    pub reverse_dns: bool,
    /// `--fingerprint-db` files.
    pub fingerprint_dbs: Vec<PathBuf>,
    /// `--resource NAME=PATH` (decoders' data files, `read-resource`).
    pub resources: Vec<(String, PathBuf)>,
    /// `--resources DIR`.
    pub resources_dir: Option<PathBuf>,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            ieee_dir: std::env::var_os("NETCAP_IEEE_DATA")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/share/ieee-data")),
            services_file: PathBuf::from("/etc/services"),
            geoip_db: None,
            asn_db: None,
            hosts_file: None,
            reverse_dns: false,
            fingerprint_dbs: Vec::new(),
            resources: Vec::new(),
            resources_dir: None,
        }
    }
}

/// All resolvers of a run; shared by the workers (`&self` everywhere, `Send + Sync`).
#[derive(Debug)]
pub struct Resolver {
    opts: ResolverOptions,
    mac: OnceLock<mac::MacVendors>,
    services: OnceLock<services::Services>,
    geo: geo::GeoDb,
    names: Arc<names::NameTable>,
    fingerprints: fingerprints::Fingerprints,
    apps: Option<Arc<AppTable>>,
    /// The decoders' data files.
    pub resources: resources::Resources,
    warnings: Mutex<Vec<String>>,
}

impl Resolver {
    /// Opens the user-supplied databases (their warnings are in [`Resolver::take_warnings`]).
    /// `apps` is the DPI application table, if DPI runs.
    pub fn new(opts: ResolverOptions, apps: Option<Arc<AppTable>>) -> Resolver {
        let mut w = Vec::new();
        let geo = geo::GeoDb::open(opts.geoip_db.as_deref(), opts.asn_db.as_deref(), &mut w);
        let names = Arc::new(names::NameTable::new(opts.hosts_file.as_deref(), opts.reverse_dns, &mut w));
        let fingerprints = fingerprints::Fingerprints::load(&opts.fingerprint_dbs, &mut w);
        let resources = resources::Resources::new(opts.resources.clone(), opts.resources_dir.clone());
        Resolver {
            resources,
            opts,
            mac: OnceLock::new(),
            services: OnceLock::new(),
            geo,
            names,
            fingerprints,
            apps,
            warnings: Mutex::new(w),
        }
    }

    fn warn(&self, mut w: Vec<String>) {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).append(&mut w);
    }

    /// Warnings so far (missing files, unreadable or corrupt databases), each once; does not
    /// wait for the background verification of the MaxMind databases.
    pub fn take_warnings(&self) -> Vec<String> {
        let mut w = std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()));
        w.extend(self.geo.verify_errors(false));
        w
    }

    /// The remaining warnings at the end of a run: waits for the databases' verification and
    /// adds the failed lookups.
    pub fn finish_warnings(&self) -> Vec<String> {
        let mut w = self.take_warnings();
        w.extend(self.geo.verify_errors(true));
        w.extend(self.geo.error_notice());
        w
    }

    /// The vendor of a MAC address (6 bytes) from the IEEE registry.
    pub fn mac_vendor(&self, mac: &[u8]) -> Option<&str> {
        self.mac
            .get_or_init(|| {
                let mut w = Vec::new();
                let m = mac::MacVendors::load(&self.opts.ieee_dir, &mut w);
                self.warn(w);
                m
            })
            .lookup(mac)
    }

    /// The service name of `port` on `transport` ("tcp", "udp", ...).
    pub fn service_name(&self, transport: &str, port: u16) -> Option<&str> {
        self.services
            .get_or_init(|| {
                let mut w = Vec::new();
                let s = services::Services::load(&self.opts.services_file, &mut w);
                self.warn(w);
                s
            })
            .lookup(transport, port)
    }

    /// The DPI application of id `id` (from a packet's batch header).
    pub fn app_info(&self, id: u16) -> Option<&AppInfo> {
        self.apps.as_ref()?.get(id)
    }

    /// Country, city and AS of `ip` (text form), from the user's MaxMind databases.
    pub fn geo(&self, ip: &str) -> Option<Geo> {
        self.geo.lookup(ip.parse::<IpAddr>().ok()?)
    }

    /// Names of `ip` (text form) known before packet `before_seq` (see [`names`]).
    pub fn ip_names(&self, ip: &str, before_seq: u64) -> Vec<String> {
        match ip.parse::<IpAddr>() {
            Ok(ip) => self.names.names(ip, before_seq),
            Err(_) => Vec::new(),
        }
    }

    /// The description of a fingerprint (`kind` "ja3", "ja3s", "hassh", ...).
    pub fn fingerprint_description(&self, kind: &str, hash: &str) -> Option<&str> {
        self.fingerprints.lookup(kind, hash)
    }

    /// The shared name table, for the dispatcher's [`names::DnsScan`] to publish into.
    pub fn name_table(&self) -> Arc<names::NameTable> {
        self.names.clone()
    }
}

/// The resolver decoders reach through the host imports (installed with
/// `netcap_sdk::host::set_resolver` for a capture; the WebAssembly host functions answer from it).
impl netcap_sdk::host::Resolver for Resolver {
    fn mac_vendor(&self, mac: &[u8]) -> Option<String> {
        Resolver::mac_vendor(self, mac).map(str::to_string)
    }
    fn service_name(&self, transport: &str, port: u16) -> Option<String> {
        Resolver::service_name(self, transport, port).map(str::to_string)
    }
    fn app_info(&self, id: u16) -> Option<netcap_sdk::host::App> {
        Resolver::app_info(self, id).map(|a| netcap_sdk::host::App {
            protocol: a.protocol.clone(),
            master: a.master.clone(),
            category: a.category.clone(),
            engine: a.engine.to_string(),
        })
    }
    fn geo(&self, ip: &str) -> Option<netcap_sdk::host::Geo> {
        Resolver::geo(self, ip).map(|g| netcap_sdk::host::Geo {
            country: g.country,
            city: g.city,
            asn: g.asn,
            as_org: g.as_org,
        })
    }
    fn ip_names(&self, ip: &str, before_seq: u64) -> Vec<String> {
        Resolver::ip_names(self, ip, before_seq)
    }
    fn fingerprint_description(&self, kind: &str, hash: &str) -> Option<String> {
        Resolver::fingerprint_description(self, kind, hash).map(str::to_string)
    }
    fn read_resource(&self, name: &str) -> Result<Vec<u8>, String> {
        self.resources.read(name).map(|b| b.as_ref().clone())
    }
}
