//! Several capture files read as one input, merged in time order as `mergecap` does: the next
//! packet is always the earliest of the files' next packets (a tie goes to the file named
//! first), so flows, streams and profiles span file boundaries. A file that cannot be opened or
//! is damaged part-way is reported and the others are read to their end; the run then ends with
//! [`CaptureError::Inputs`] (partial output, exit 1). Each file's next packet is held in a buffer
//! of its own, reused, so merging allocates nothing per packet.

use super::file::FileSource;
use super::{CaptureError, PacketSource, RawPacket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// What became of one input file (for the summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file as given or found.
    pub path: PathBuf,
    /// Packets read from it.
    pub packets: u64,
    /// Why it was not read to its end.
    pub error: Option<String>,
}

/// One file and its next packet.
struct Head {
    src: FileSource,
    /// The next packet's bytes, when `meta` is set.
    data: Vec<u8>,
    meta: Option<(i64, u16, u32)>,
    report: usize,
}

/// Capture files merged in time order.
pub struct MergeSource {
    heads: Vec<Head>,
    /// The head whose packet the last call returned: it advances at the next call.
    last: Option<usize>,
    reports: Vec<FileReport>,
    errors: Vec<CaptureError>,
    started: bool,
    /// Bytes read from all files, and their total size.
    position: Arc<AtomicU64>,
    total: u64,
}

impl MergeSource {
    /// Opens every file. Files that fail to open are reported and left out, unless none opens:
    /// then the result is [`CaptureError::Inputs`] with every file's error. A filter that does
    /// not compile fails at once.
    pub fn open(paths: &[PathBuf], bpf: Option<&str>) -> Result<Self, CaptureError> {
        let mut m = MergeSource {
            heads: Vec::new(),
            last: None,
            reports: Vec::new(),
            errors: Vec::new(),
            started: false,
            position: Arc::new(AtomicU64::new(0)),
            total: 0,
        };
        for p in paths {
            m.reports.push(FileReport { path: p.clone(), packets: 0, error: None });
            match FileSource::open(p, bpf) {
                Ok(mut src) => {
                    m.total += std::fs::metadata(p).map_or(0, |md| md.len());
                    src.share_position(m.position.clone());
                    m.heads.push(Head { src, data: Vec::new(), meta: None, report: m.reports.len() - 1 });
                }
                Err(e @ CaptureError::Bpf { .. }) => return Err(e),
                Err(e) => {
                    m.reports.last_mut().expect("pushed").error = Some(e.to_string());
                    m.errors.push(e);
                }
            }
        }
        if m.heads.is_empty() {
            return Err(CaptureError::Inputs { errors: m.errors });
        }
        Ok(m)
    }

    /// What became of each file, in the order given.
    pub fn reports(&self) -> &[FileReport] {
        &self.reports
    }

    /// Reads the next packet of head `i` into its buffer; a damaged file is reported and
    /// leaves the merge. A filter error is returned.
    fn advance(&mut self, i: usize) -> Result<(), CaptureError> {
        let h = &mut self.heads[i];
        h.meta = None;
        match h.src.next_packet() {
            Ok(Some(p)) => {
                h.data.clear();
                h.data.extend_from_slice(p.data);
                h.meta = Some((p.ts_nanos, p.link_type, p.orig_len));
                self.reports[h.report].packets += 1;
            }
            Ok(None) => {}
            Err(e @ CaptureError::Bpf { .. }) => return Err(e),
            Err(e) => {
                self.reports[h.report].error = Some(e.to_string());
                self.errors.push(e);
            }
        }
        Ok(())
    }

    /// The head with the earliest next packet (the first such head on a tie).
    fn earliest(&self) -> Option<usize> {
        let mut best: Option<(i64, usize)> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some((ts, _, _)) = h.meta
                && best.is_none_or(|(b, _)| ts < b)
            {
                best = Some((ts, i));
            }
        }
        best.map(|(_, i)| i)
    }
}

impl PacketSource for MergeSource {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        if !self.started {
            self.started = true;
            for i in 0..self.heads.len() {
                self.advance(i)?;
            }
        } else if let Some(i) = self.last.take() {
            self.advance(i)?;
        }
        let Some(i) = self.earliest() else {
            // Every file is read: the damaged or unreadable ones make the input partial.
            return match self.errors.is_empty() {
                true => Ok(None),
                false => Err(CaptureError::Inputs { errors: std::mem::take(&mut self.errors) }),
            };
        };
        self.last = Some(i);
        let h = &self.heads[i];
        let (ts_nanos, link_type, orig_len) = h.meta.expect("earliest has a packet");
        Ok(Some(RawPacket { ts_nanos, link_type, orig_len, data: &h.data }))
    }

    fn position(&self) -> Option<(Arc<AtomicU64>, u64)> {
        Some((self.position.clone(), self.total))
    }

    fn files(&self) -> Vec<FileReport> {
        self.reports.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap (µs) of Ethernet frames whose first byte is their tag, at `(secs, tag)`.
    fn pcap(path: &std::path::Path, packets: &[(u32, u8)]) {
        let mut b = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        // The second word is version 2.4 as two little-endian u16s.
        b[4..8].copy_from_slice(&[2, 0, 4, 0]);
        for (secs, tag) in packets {
            for v in [*secs, 0, 14, 14] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            let mut frame = [0u8; 14];
            frame[0] = *tag;
            b.extend_from_slice(&frame);
        }
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn packets_come_in_time_order_and_ties_go_to_the_file_named_first() {
        let dir = std::env::temp_dir().join(format!("netcap-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
        pcap(&a, &[(1, 1), (3, 3), (3, 4), (9, 9)]);
        pcap(&b, &[(2, 2), (3, 5), (4, 6)]);
        let mut m = MergeSource::open(&[a.clone(), b.clone()], None).unwrap();
        let mut tags = Vec::new();
        while let Some(p) = m.next_packet().unwrap() {
            tags.push(p.data[0]);
        }
        let reports = m.files();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(tags, [1, 2, 3, 4, 5, 6, 9]);
        assert_eq!(reports.iter().map(|r| (r.packets, r.error.is_none())).collect::<Vec<_>>(), [(4, true), (3, true)]);
    }

    #[test]
    fn no_file_that_opens_is_an_error_naming_each() {
        let dir = std::env::temp_dir().join(format!("netcap-merge-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pcap");
        std::fs::write(&junk, b"hello").unwrap();
        let err = MergeSource::open(&[junk, dir.join("missing.pcap")], None).err().expect("refused");
        std::fs::remove_dir_all(&dir).unwrap();
        let text = err.to_string();
        assert!(text.contains("junk.pcap is not a pcap or pcapng file") && text.contains("missing.pcap"), "{text}");
    }
}
