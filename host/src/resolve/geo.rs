//! GeoIP country/city and ASN lookups in MaxMind databases the user supplies (`--geoip-db`
//! a GeoIP2/GeoLite2 City or Country `.mmdb`, `--asn-db` a GeoLite2 ASN `.mmdb`), read with
//! the `maxminddb` crate. Results are cached (the cache is bounded); a database that cannot
//! be opened, or a lookup that hits corrupt data, is reported once and gives empty fields.
//! Each database is also verified whole (`Reader::verify`: search tree and data section) on a
//! background thread, so corruption that lookups alone would not notice is reported too,
//! without delaying the start.

use maxminddb::{Reader, geoip2};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Cached addresses before the cache starts over.
const CACHE_MAX: usize = 1 << 16;

/// What the databases know about an address (empty strings / 0 for what they do not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code, e.g. "GB".
    pub country: String,
    /// City name in English, e.g. "Boxford".
    pub city: String,
    /// Autonomous system number.
    pub asn: u32,
    /// Autonomous system organisation.
    pub as_org: String,
}

/// A failure to open a database.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct OpenError {
    pub path: String,
    #[source]
    pub source: maxminddb::MaxMindDbError,
}

/// Opens one `.mmdb` file.
pub fn open(path: &Path) -> Result<Reader<Vec<u8>>, OpenError> {
    Reader::open_readfile(path).map_err(|source| OpenError { path: path.display().to_string(), source })
}

/// The GeoIP and ASN databases of a run.
#[derive(Debug, Default)]
pub struct GeoDb {
    city: Option<Arc<Reader<Vec<u8>>>>,
    asn: Option<Arc<Reader<Vec<u8>>>>,
    /// Whole-database verifications running in the background (their errors, if any).
    verifying: Mutex<Vec<JoinHandle<Option<String>>>>,
    cache: Mutex<HashMap<IpAddr, Option<Geo>>>,
    /// Lookups that failed on corrupt data, and the first such error.
    pub errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl GeoDb {
    /// Opens the given databases; a failure gives a warning and leaves that database out.
    pub fn open(city: Option<&Path>, asn: Option<&Path>, warnings: &mut Vec<String>) -> GeoDb {
        let mut verifying = Vec::new();
        let mut open_one = |p: Option<&Path>, what: &'static str| {
            p.and_then(|p| match open(p) {
                Ok(r) => {
                    let r = Arc::new(r);
                    let (r2, shown) = (r.clone(), p.display().to_string());
                    let h = std::thread::Builder::new()
                        .name("netcap-mmdb-verify".into())
                        .spawn(move || r2.verify().err().map(|e| format!("{what} database {shown} is corrupt: {e}")));
                    verifying.extend(h.ok());
                    Some(r)
                }
                Err(e) => {
                    warnings.push(format!("{what} database {e}; {what} fields stay empty"));
                    None
                }
            })
        };
        let city = open_one(city, "GeoIP");
        let asn = open_one(asn, "ASN");
        GeoDb { city, asn, verifying: Mutex::new(verifying), ..GeoDb::default() }
    }

    /// Errors of the background verifications: those finished so far, or (with `wait`) all.
    pub fn verify_errors(&self, wait: bool) -> Vec<String> {
        let mut v = self.verifying.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        let mut i = 0;
        while i < v.len() {
            if wait || v[i].is_finished() {
                if let Ok(Some(e)) = v.swap_remove(i).join() {
                    out.push(e);
                }
            } else {
                i += 1;
            }
        }
        out
    }

    /// Whether any database is open.
    pub fn active(&self) -> bool {
        self.city.is_some() || self.asn.is_some()
    }

    /// Country, city and AS of `ip`; `None` when no database knows it.
    pub fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        if !self.active() {
            return None;
        }
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(g) = cache.get(&ip) {
                return g.clone();
            }
        }
        let g = self.lookup_uncached(ip);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(ip, g.clone());
        g
    }

    fn lookup_uncached(&self, ip: IpAddr) -> Option<Geo> {
        let mut g = Geo::default();
        let mut found = false;
        if let Some(r) = &self.city {
            match r.lookup(ip).and_then(|res| res.decode::<geoip2::City>()) {
                Ok(Some(c)) => {
                    g.country = c.country.iso_code.unwrap_or_default().to_string();
                    g.city = c.city.names.english.unwrap_or_default().to_string();
                    found = true;
                }
                Ok(None) => {}
                Err(e) => self.error(format!("GeoIP lookup of {ip}: {e}")),
            }
        }
        if let Some(r) = &self.asn {
            match r.lookup(ip).and_then(|res| res.decode::<geoip2::Asn>()) {
                Ok(Some(a)) => {
                    g.asn = a.autonomous_system_number.unwrap_or(0);
                    g.as_org = a.autonomous_system_organization.unwrap_or_default().to_string();
                    found = true;
                }
                Ok(None) => {}
                Err(e) => self.error(format!("ASN lookup of {ip}: {e}")),
            }
        }
        found.then_some(g)
    }

    fn error(&self, msg: String) {
        if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.first_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg);
        }
    }

    /// One line about failed lookups, if any.
    pub fn error_notice(&self) -> Option<String> {
        let n = self.errors.load(Ordering::Relaxed);
        let first = self.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        Some(if n > 1 { format!("{first} (and {} more failed lookups)", n - 1) } else { first })
    }
}
