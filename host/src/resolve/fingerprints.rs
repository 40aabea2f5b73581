//! Descriptions of TLS/SSH fingerprints (JA3, JA3S, JA4, HASSH, ...) from CSV databases the
//! user supplies with `--fingerprint-db FILE` (repeatable).
//!
//! Format: one `kind,hash,description` row per line (RFC 4180 quoting, so descriptions may
//! contain commas); `kind` is `ja3`, `ja3s`, `ja4`, `hassh`, `hasshserver`, ... (any case);
//! lines starting with `#` and an optional header row `kind,hash,description` are skipped.
//! Several descriptions of one hash are joined with "; " (as the Go netcap did).

use std::collections::HashMap;
use std::path::Path;

/// The loaded databases.
#[derive(Debug, Default)]
pub struct Fingerprints {
    map: HashMap<(String, String), String>,
}

impl Fingerprints {
    /// Loads every file; a missing or malformed one gives a warning (its good rows are kept).
    pub fn load(files: &[impl AsRef<Path>], warnings: &mut Vec<String>) -> Fingerprints {
        let mut f = Fingerprints::default();
        for p in files {
            let p = p.as_ref();
            match std::fs::read(p) {
                Ok(bytes) => {
                    let bad = f.parse(&bytes);
                    if bad > 0 {
                        warnings.push(format!(
                            "fingerprint database {}: {bad} rows without kind,hash,description skipped",
                            p.display()
                        ));
                    }
                }
                Err(e) => warnings.push(format!("fingerprint database {}: {e}", p.display())),
            }
        }
        f
    }

    /// Adds the rows of one CSV text; returns the number of malformed rows.
    pub fn parse(&mut self, bytes: &[u8]) -> usize {
        let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).comment(Some(b'#')).from_reader(bytes);
        let mut bad = 0;
        for rec in rd.records() {
            let Ok(rec) = rec else {
                bad += 1;
                continue;
            };
            let (Some(kind), Some(hash), Some(desc)) = (rec.get(0), rec.get(1), rec.get(2)) else {
                if rec.iter().any(|c| !c.trim().is_empty()) {
                    bad += 1;
                }
                continue;
            };
            let (kind, hash, desc) = (kind.trim().to_ascii_lowercase(), hash.trim().to_ascii_lowercase(), desc.trim());
            if kind == "kind" && hash == "hash" {
                continue;
            }
            if kind.is_empty() || hash.is_empty() || desc.is_empty() {
                bad += 1;
                continue;
            }
            let e = self.map.entry((kind, hash)).or_default();
            if !e.split("; ").any(|d| d == desc) {
                if !e.is_empty() {
                    e.push_str("; ");
                }
                e.push_str(desc);
            }
        }
        bad
    }

    /// The description of `hash` of fingerprint `kind` (both case-insensitive).
    pub fn lookup(&self, kind: &str, hash: &str) -> Option<&str> {
        self.map.get(&(kind.to_ascii_lowercase(), hash.to_ascii_lowercase())).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_comments_header_and_duplicates() {
        let mut f = Fingerprints::default();
        let bad = f.parse(
            b"kind,hash,description\n# comment\nja3,E7D705A3286E19EA42F587B344EE6865,\"Tor, client\"\n\
              ja3,e7d705a3286e19ea42f587b344ee6865,Other\nhassh,ec7378c1a92f5a8dde7e8b7a1ddf33d1,OpenSSH_7.4\nbroken\n",
        );
        assert_eq!(bad, 1);
        assert_eq!(f.lookup("JA3", "e7d705a3286e19ea42f587b344ee6865"), Some("Tor, client; Other"));
        assert_eq!(f.lookup("hassh", "EC7378C1A92F5A8DDE7E8B7A1DDF33D1"), Some("OpenSSH_7.4"));
        assert_eq!(f.lookup("ja3s", "e7d705a3286e19ea42f587b344ee6865"), None);
    }
}
