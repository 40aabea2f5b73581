//! Extracted files (`netcap capture --extract-files [DIR]`): the host side of the contract's file
//! content entries. Decoders never touch the file system; they send a transferred object's bytes
//! in their output (WIT tags `0xfffb` data, `0xfffa` end) and the writer thread writes them here.
//!
//! Each file is written to a temporary file while its data arrives (cut at `--extract-max-file`),
//! then, at its end entry, named by the SHA-256 the decoder declared (`<sha256>`, or
//! `<sha256>.partial` for a prefix, a cut file or bytes that do not hash to the declared value).
//! The caps on the number of files and the total bytes are applied at end entries in the
//! canonical output order (order key, then hash), so the files kept are the same for any worker
//! count. A name that already exists is the same content: it is kept and not written again.

use crate::worker::{FileEvent, WorkResult};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;

/// Default `--extract-max-file`: 64 MiB.
pub const DEFAULT_MAX_FILE: u64 = 64 << 20;
/// Default `--extract-max-files`.
pub const DEFAULT_MAX_FILES: u64 = 100_000;
/// Default `--extract-max-bytes`: 4 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Where and how much to extract.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub dir: PathBuf,
    /// Bytes of one file kept (the rest is cut; the file is named `.partial`).
    pub max_file: u64,
    /// Files written in one run.
    pub max_files: u64,
    /// Bytes written in one run.
    pub max_bytes: u64,
}

/// A file whose data is arriving.
struct Open {
    tmp: PathBuf,
    out: io::BufWriter<std::fs::File>,
    written: u64,
    cut: bool,
    hash: Sha256,
}

/// A file whose end entry arrived in this epoch, waiting for the canonical order.
struct Ended {
    key: u64,
    sha256: [u8; 32],
    decoder: u16,
    complete: bool,
    open: Option<Open>,
}

/// What the extractor did in a run (each cap hit is counted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExtractStats {
    pub files: u64,
    pub bytes: u64,
    pub duplicates: u64,
    pub partial: u64,
    pub cut_at_max_file: u64,
    pub over_max_files: u64,
    pub over_max_bytes: u64,
    pub hash_mismatch: u64,
    pub never_ended: u64,
}

/// The writer's file extractor.
pub struct Extractor {
    opts: ExtractOptions,
    /// Open files by (worker, decoder, file id).
    open: HashMap<(u16, u16, u64), Open>,
    next_tmp: u64,
    names: BTreeSet<String>,
    pub stats: ExtractStats,
}

impl Extractor {
    /// An extractor writing into `opts.dir` (created if missing).
    pub fn new(opts: ExtractOptions) -> io::Result<Self> {
        std::fs::create_dir_all(&opts.dir)?;
        Ok(Extractor { opts, open: HashMap::new(), next_tmp: 0, names: BTreeSet::new(), stats: Default::default() })
    }

    /// Applies one epoch's file entries (every result's, `files` drained).
    pub fn apply(&mut self, group: &mut [WorkResult]) -> io::Result<()> {
        let mut ended = Vec::new();
        for r in group.iter_mut() {
            for ev in r.files.drain(..) {
                match ev {
                    FileEvent::Data { decoder, file, bytes } => self.data((r.worker, decoder, file), &bytes)?,
                    FileEvent::End { key, decoder, file, complete, sha256 } => {
                        let open = self.open.remove(&(r.worker, decoder, file));
                        ended.push(Ended { key, sha256, decoder, complete, open });
                    }
                }
            }
        }
        ended.sort_by_key(|e| (e.key, e.sha256, e.decoder, !e.complete));
        for e in ended {
            self.store(e)?;
        }
        Ok(())
    }

    fn data(&mut self, id: (u16, u16, u64), bytes: &[u8]) -> io::Result<()> {
        if !self.open.contains_key(&id) {
            let tmp = self.opts.dir.join(format!(".netcap-{}-{}.part", std::process::id(), self.next_tmp));
            self.next_tmp += 1;
            let out = io::BufWriter::new(std::fs::File::create(&tmp)?);
            self.open.insert(id, Open { tmp, out, written: 0, cut: false, hash: Sha256::new() });
        }
        let Some(o) = self.open.get_mut(&id) else { return Ok(()) };
        let room = self.opts.max_file.saturating_sub(o.written);
        let take = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if take < bytes.len() {
            o.cut = true;
        }
        o.out.write_all(&bytes[..take])?;
        o.hash.update(&bytes[..take]);
        o.written += take as u64;
        Ok(())
    }

    fn store(&mut self, e: Ended) -> io::Result<()> {
        let (tmp, written, cut, hash) = match e.open {
            Some(mut o) => {
                o.out.flush()?;
                drop(o.out);
                (Some(o.tmp), o.written, o.cut, o.hash.finalize())
            }
            None => (None, 0, false, Sha256::digest([])),
        };
        let matches = hash.as_slice() == e.sha256;
        if cut {
            self.stats.cut_at_max_file += 1;
        } else if e.complete && !matches {
            self.stats.hash_mismatch += 1;
        }
        let whole = e.complete && !cut && matches;
        let hex: String = e.sha256.iter().map(|b| format!("{b:02x}")).collect();
        let name = if whole { hex } else { format!("{hex}.partial") };
        let dest = self.opts.dir.join(&name);
        let skip = if self.names.contains(&name) || dest.exists() {
            self.stats.duplicates += 1;
            true
        } else if self.stats.files >= self.opts.max_files {
            self.stats.over_max_files += 1;
            true
        } else if self.stats.bytes.saturating_add(written) > self.opts.max_bytes {
            self.stats.over_max_bytes += 1;
            true
        } else {
            false
        };
        match (skip, tmp) {
            (true, Some(tmp)) => std::fs::remove_file(tmp)?,
            (true, None) => {}
            (false, Some(tmp)) => std::fs::rename(tmp, &dest)?,
            (false, None) => drop(std::fs::File::create(&dest)?),
        }
        if !skip {
            self.names.insert(name);
            self.stats.files += 1;
            self.stats.bytes += written;
            self.stats.partial += u64::from(!whole);
        }
        Ok(())
    }

    /// End of the run: files whose end never came are removed (counted); the summary's lines.
    pub fn finish(mut self) -> (ExtractStats, Vec<String>) {
        for (_, o) in self.open.drain() {
            drop(o.out);
            let _ = std::fs::remove_file(&o.tmp);
            self.stats.never_ended += 1;
        }
        let s = &self.stats;
        let mut line = format!(
            "extracted {} files ({} bytes, {} partial) to {}",
            s.files,
            s.bytes,
            s.partial,
            self.opts.dir.display()
        );
        for (n, what) in [
            (s.duplicates, "already there (same content)"),
            (s.cut_at_max_file, "cut at --extract-max-file"),
            (s.over_max_files, "not written: --extract-max-files reached"),
            (s.over_max_bytes, "not written: --extract-max-bytes reached"),
            (s.hash_mismatch, "whose bytes did not match the decoder's SHA-256"),
            (s.never_ended, "never ended by their decoder (removed)"),
        ] {
            if n > 0 {
                line.push_str(&format!("; {n} {what}"));
            }
        }
        (self.stats.clone(), vec![line])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(b: &[u8]) -> [u8; 32] {
        Sha256::digest(b).into()
    }

    fn result(worker: u16, files: Vec<FileEvent>) -> WorkResult {
        WorkResult { worker, files, ..WorkResult::default() }
    }

    fn data(file: u64, b: &[u8]) -> FileEvent {
        FileEvent::Data { decoder: 0, file, bytes: b.to_vec() }
    }

    fn end(key: u64, file: u64, b: &[u8]) -> FileEvent {
        FileEvent::End { key, decoder: 0, file, complete: true, sha256: sha(b) }
    }

    fn listing(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn files_are_named_by_hash_cut_at_the_cap_and_kept_in_canonical_order() {
        let dir = std::env::temp_dir().join(format!("netcap-extract-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let opts = ExtractOptions { dir: dir.clone(), max_file: 5, max_files: 2, max_bytes: 100 };
        let mut x = Extractor::new(opts).unwrap();
        // Worker 1 ends its file at key 9, worker 0 at key 7 and 11: the files-cap of 2 keeps the
        // first two in key order, whatever the order of the results.
        let mut group = vec![
            result(1, vec![data(1, b"abc"), end(9, 1, b"abc")]),
            result(
                0,
                vec![
                    data(1, b"xy"),
                    data(1, b"z"),
                    end(7, 1, b"xyz"),
                    data(2, b"0123456789"),
                    end(11, 2, b"0123456789"),
                ],
            ),
        ];
        x.apply(&mut group).unwrap();
        let (stats, lines) = x.finish();
        let hex = |b: &[u8]| sha(b).iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(listing(&dir), {
            let mut v = vec![hex(b"abc"), hex(b"xyz")];
            v.sort();
            v
        });
        assert_eq!(std::fs::read(dir.join(hex(b"xyz"))).unwrap(), b"xyz");
        assert_eq!((stats.files, stats.bytes, stats.over_max_files, stats.cut_at_max_file), (2, 6, 1, 1));
        assert!(
            lines[0].contains("1 cut at --extract-max-file") && lines[0].contains("max-files reached"),
            "{lines:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cut_file_is_partial_and_unended_files_are_removed() {
        let dir = std::env::temp_dir().join(format!("netcap-extract2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let opts = ExtractOptions { dir: dir.clone(), max_file: 4, max_files: 10, max_bytes: 100 };
        let mut x = Extractor::new(opts).unwrap();
        let mut group = vec![result(0, vec![data(1, b"abcdef"), end(3, 1, b"abcdef"), data(2, b"never")])];
        x.apply(&mut group).unwrap();
        let (stats, _) = x.finish();
        let hex: String = sha(b"abcdef").iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(listing(&dir), vec![format!("{hex}.partial")]);
        assert_eq!(std::fs::read(dir.join(format!("{hex}.partial"))).unwrap(), b"abcd");
        assert_eq!((stats.partial, stats.never_ended), (1, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
