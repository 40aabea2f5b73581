//! MAC address → vendor, from the IEEE registry files of Debian's `ieee-data` package:
//! `oui36.csv` and `iab.csv` (36-bit MA-S and IAB blocks), `mam.csv` (28-bit MA-M) and
//! `oui.csv` (24-bit MA-L). Lookups try the longest prefix first.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Registry files and the prefix length (bits) of their assignments.
pub const FILES: &[(&str, u32)] = &[("oui36.csv", 36), ("iab.csv", 36), ("mam.csv", 28), ("oui.csv", 24)];

/// The loaded registry.
#[derive(Debug, Default)]
pub struct MacVendors {
    /// (prefix bits, prefix value) → organisation name.
    map: HashMap<(u32, u64), Arc<str>>,
}

impl MacVendors {
    /// Loads every registry file of `dir`; each missing or unreadable one gives a warning.
    pub fn load(dir: &Path, warnings: &mut Vec<String>) -> MacVendors {
        let mut v = MacVendors::default();
        let mut names: HashMap<String, Arc<str>> = HashMap::new();
        for &(file, bits) in FILES {
            let path = dir.join(file);
            let mut rd = match csv::ReaderBuilder::new().flexible(true).from_path(&path) {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(format!("MAC vendors: {}: {e} (install Debian's ieee-data)", path.display()));
                    continue;
                }
            };
            for rec in rd.records().filter_map(Result::ok) {
                let (Some(assignment), Some(org)) = (rec.get(1), rec.get(2)) else { continue };
                let Ok(prefix) = u64::from_str_radix(assignment.trim(), 16) else { continue };
                if assignment.trim().len() * 4 != bits as usize {
                    continue;
                }
                let org = org.trim();
                let name = names.entry(org.to_string()).or_insert_with(|| Arc::from(org)).clone();
                // The first file of a length wins (oui36 before iab: both 36 bits, disjoint).
                v.map.entry((bits, prefix)).or_insert(name);
            }
        }
        v
    }

    /// The organisation the address block of `mac` (6 bytes, or at least the first 3 for
    /// 24-bit lookups) is assigned to.
    pub fn lookup(&self, mac: &[u8]) -> Option<&str> {
        let mut b = [0u8; 8];
        let n = mac.len().min(6);
        b[2..2 + n].copy_from_slice(&mac[..n]);
        let v = u64::from_be_bytes(b);
        for bits in [36u32, 28, 24] {
            if (bits as usize).div_ceil(8) > n {
                continue;
            }
            if let Some(s) = self.map.get(&(bits, v >> (48 - bits))) {
                return Some(s);
            }
        }
        None
    }

    /// Number of assignments loaded.
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

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn longest_prefix_first_and_missing_files_warn() {
        let dir = std::env::temp_dir().join(format!("netcap-mac-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let head = "Registry,Assignment,Organization Name,Organization Address\n";
        write(
            &dir,
            "oui.csv",
            &format!("{head}MA-L,70B3D5,IEEE Registration Authority,x\nMA-L,00000C,\"Cisco Systems, Inc\",y\n"),
        );
        write(&dir, "oui36.csv", &format!("{head}MA-S,70B3D5F2F,TELEPLATFORMS,\"a, b\"\n"));
        let mut w = Vec::new();
        let v = MacVendors::load(&dir, &mut w);
        assert_eq!(w.len(), 2, "iab.csv and mam.csv are missing: {w:?}");
        assert_eq!(v.lookup(&[0x70, 0xb3, 0xd5, 0xf2, 0xf1, 0x23]), Some("TELEPLATFORMS"));
        assert_eq!(v.lookup(&[0x70, 0xb3, 0xd5, 0x00, 0x00, 0x01]), Some("IEEE Registration Authority"));
        assert_eq!(v.lookup(&[0x00, 0x00, 0x0c, 0x9f, 0xf0, 0x01]), Some("Cisco Systems, Inc"));
        assert_eq!(v.lookup(&[0x02, 0x00, 0x00, 0, 0, 0]), None);
        assert_eq!(v.lookup(&[]), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
