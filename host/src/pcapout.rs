//! `unknown.pcap` and `errors.pcap`: packets no decoder handled, and packets a decoder (or the
//! dissector) reported an error for, written as a classic pcap with nanosecond timestamps and the
//! input's real link type, so that Wireshark opens them directly. The file is created with the
//! first packet; a packet of another link type than the first (pcapng inputs can mix them) is
//! counted and skipped, since a pcap file has one link type.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// A lazily created pcap file.
#[derive(Debug)]
pub struct PcapOut {
    path: PathBuf,
    manifest: Option<Arc<crate::outdir::Manifest>>,
    file: Option<BufWriter<File>>,
    link_type: u16,
    /// Packets written.
    pub written: u64,
    /// Packets skipped because their link type differs from the file's.
    pub skipped: u64,
}

impl PcapOut {
    /// A file at `path`, named in `manifest` before it is created.
    pub fn new(path: PathBuf, manifest: Option<Arc<crate::outdir::Manifest>>) -> Self {
        PcapOut { path, manifest, file: None, link_type: 0, written: 0, skipped: 0 }
    }

    /// Writes what is buffered out to the OS (live captures, periodically).
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }

    /// Appends one packet.
    pub fn write(&mut self, ts_nanos: i64, link_type: u16, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let f = match &mut self.file {
            Some(f) => {
                if link_type != self.link_type {
                    self.skipped += 1;
                    return Ok(());
                }
                f
            }
            None => {
                let file = crate::outdir::create(self.manifest.as_deref(), &self.path)?;
                let mut f = BufWriter::with_capacity(1 << 16, file);
                // Nanosecond-resolution magic, version 2.4, snap length 262144.
                f.write_all(&0xa1b2_3c4du32.to_le_bytes())?;
                f.write_all(&2u16.to_le_bytes())?;
                f.write_all(&4u16.to_le_bytes())?;
                f.write_all(&[0; 8])?;
                f.write_all(&262_144u32.to_le_bytes())?;
                f.write_all(&u32::from(link_type).to_le_bytes())?;
                self.link_type = link_type;
                self.file.insert(f)
            }
        };
        let secs = ts_nanos.div_euclid(1_000_000_000) as u32;
        let nanos = ts_nanos.rem_euclid(1_000_000_000) as u32;
        f.write_all(&secs.to_le_bytes())?;
        f.write_all(&nanos.to_le_bytes())?;
        f.write_all(&(data.len() as u32).to_le_bytes())?;
        f.write_all(&orig_len.max(data.len() as u32).to_le_bytes())?;
        f.write_all(data)?;
        self.written += 1;
        Ok(())
    }

    /// Flushes the file; returns its path when one was written.
    pub fn finish(self) -> io::Result<Option<PathBuf>> {
        match self.file {
            Some(mut f) => {
                f.flush()?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pcap_that_reads_back() {
        let dir = std::env::temp_dir().join(format!("netcap-pcapout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = PcapOut::new(dir.join("t.pcap"), None);
        w.write(1_500_000_000_123_456_789, 1, 60, &[1, 2, 3]).unwrap();
        w.write(1_500_000_001_000_000_000, 101, 3, &[4, 5, 6]).unwrap();
        assert_eq!((w.written, w.skipped), (1, 1));
        let path = w.finish().unwrap().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 3);
        assert_eq!(&bytes[20..24], &1u32.to_le_bytes());
        assert_eq!(&bytes[24..28], &1_500_000_000u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &123_456_789u32.to_le_bytes());
        assert_eq!(&bytes[36..40], &60u32.to_le_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
