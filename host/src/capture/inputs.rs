//! Which capture files `-r` names. Each `-r` is a file, a directory (every `.pcap`, `.pcapng`
//! and `.cap` file below it, in path order) or a glob pattern (`"sensor-*/day-*.pcap"`, quoted so
//! that the shell leaves it to us), in the order given; a file named twice is read once. A name
//! that is none of these is a usage error, before anything is read.

use std::path::{Path, PathBuf};

/// Why `-r` names no readable input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputsError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error("{0}: the pattern matches no file")]
    NoMatch(String),
    #[error("{0}: invalid pattern: {1}")]
    Pattern(String, String),
    #[error("{0}: the directory holds no capture file (.pcap, .pcapng, .cap)")]
    EmptyDir(PathBuf),
}

/// The capture files `args` name, in order, each once.
pub fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>, InputsError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for a in args {
        for f in expand_one(a)? {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn expand_one(a: &Path) -> Result<Vec<PathBuf>, InputsError> {
    if a.is_dir() {
        let files = capture_files_below(a);
        return if files.is_empty() { Err(InputsError::EmptyDir(a.into())) } else { Ok(files) };
    }
    // A FIFO or device is a file too: anything that exists is taken as it is.
    if std::fs::metadata(a).is_ok() {
        return Ok(vec![a.into()]);
    }
    let text = a.to_string_lossy();
    if !text.contains(['*', '?', '[']) {
        return Err(InputsError::Missing(a.into()));
    }
    let paths = glob::glob(&text).map_err(|e| InputsError::Pattern(text.to_string(), e.msg.to_string()))?;
    let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
    files.sort();
    if files.is_empty() {
        return Err(InputsError::NoMatch(text.to_string()));
    }
    Ok(files)
}

/// The capture files (`.pcap`, `.pcapng`, `.cap`) below `dir`, any depth (a directory per day
/// or sensor), in path order.
pub fn capture_files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap") {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tree() -> Tmp {
        let d = std::env::temp_dir().join(format!(
            "netcap-inputs-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        for f in ["a/2.pcap", "a/1.pcapng", "a/notes.txt", "a/deep/3.cap", "b.pcap"] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        std::fs::create_dir_all(d.join("empty")).unwrap();
        Tmp(d)
    }

    #[test]
    fn directories_globs_and_files_in_order_each_once() {
        let t = tree();
        let d = &t.0;
        let got = expand(&[d.join("a"), d.join("b.pcap"), d.join("a/2.pcap")]).unwrap();
        assert_eq!(got, vec![d.join("a/1.pcapng"), d.join("a/2.pcap"), d.join("a/deep/3.cap"), d.join("b.pcap")]);
        let got = expand(&[d.join("a/*.pcap*")]).unwrap();
        assert_eq!(got, vec![d.join("a/1.pcapng"), d.join("a/2.pcap")]);
    }

    #[test]
    fn names_that_are_nothing_are_usage_errors() {
        let t = tree();
        let d = &t.0;
        assert_eq!(expand(&[d.join("nope.pcap")]), Err(InputsError::Missing(d.join("nope.pcap"))));
        let pattern = d.join("z*.pcap").to_string_lossy().into_owned();
        assert_eq!(expand(&[PathBuf::from(&pattern)]), Err(InputsError::NoMatch(pattern)));
        assert_eq!(expand(&[d.join("empty")]), Err(InputsError::EmptyDir(d.join("empty"))));
        assert!(matches!(expand(&[d.join("[.pcap")]), Err(InputsError::Pattern(..))));
    }
}
