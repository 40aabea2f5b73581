//! Read-only data files for decoders (WIT `read-resource`): the files the user named with
//! `--resource NAME=PATH` and `--resources DIR`, read once per run on first use and shared by
//! every instance. Nothing else of the file system is reachable through it; which names a decoder
//! may read is checked by the WebAssembly host (its `decoder-info.resources`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Largest resource file the host reads.
pub const MAX_RESOURCE_BYTES: u64 = 64 << 20;

/// A resource's bytes, or why it cannot be read.
type Read = Result<Arc<Vec<u8>>, String>;

/// The user's resource files and what has been read of them.
#[derive(Debug, Default)]
pub struct Resources {
    /// `--resource NAME=PATH`, in the order given (a later one for the same name wins).
    named: Vec<(String, PathBuf)>,
    /// `--resources DIR`.
    dir: Option<PathBuf>,
    cache: Mutex<BTreeMap<String, Read>>,
}

impl Resources {
    /// Resources from `--resource` pairs and an optional `--resources` directory.
    pub fn new(named: Vec<(String, PathBuf)>, dir: Option<PathBuf>) -> Self {
        Resources { named, dir, cache: Mutex::default() }
    }

    /// The file the user gave for `name`, if any: `--resource` first, then `DIR/NAME` or the
    /// first `DIR/NAME.<ext>` in name order.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        if let Some((_, p)) = self.named.iter().rev().find(|(n, _)| n == name) {
            return Some(p.clone());
        }
        let dir = self.dir.as_deref()?;
        let exact = dir.join(name);
        if exact.is_file() {
            return Some(exact);
        }
        let mut with_ext: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.file_stem().is_some_and(|s| s == name) && p.extension().is_some())
            .collect();
        with_ext.sort();
        with_ext.into_iter().next()
    }

    /// The bytes of resource `name` (read on first use, then shared).
    pub fn read(&self, name: &str) -> Read {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = cache.get(name) {
            return r.clone();
        }
        let r = match self.path(name) {
            None => Err(format!("no file was given for resource {name:?} (--resource {name}=PATH)")),
            Some(p) => read_capped(&p).map(Arc::new),
        };
        cache.insert(name.to_string(), r.clone());
        r
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_RESOURCE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_RESOURCE_BYTES {
        return Err(format!("{}: larger than the resource cap of {MAX_RESOURCE_BYTES} bytes", path.display()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_files_win_over_the_directory_and_extensions_are_found() {
        let dir = std::env::temp_dir().join(format!("netcap-res-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("probes.txt"), b"dir").unwrap();
        std::fs::write(dir.join("other"), b"exact").unwrap();
        let own = dir.join("mine");
        std::fs::write(&own, b"named").unwrap();
        let r = Resources::new(vec![("probes".into(), own.clone())], Some(dir.clone()));
        assert_eq!(r.read("probes").unwrap().as_slice(), b"named");
        assert_eq!(r.read("other").unwrap().as_slice(), b"exact");
        let r2 = Resources::new(Vec::new(), Some(dir.clone()));
        assert_eq!(r2.read("probes").unwrap().as_slice(), b"dir");
        assert!(r2.read("absent").unwrap_err().contains("--resource absent=PATH"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
