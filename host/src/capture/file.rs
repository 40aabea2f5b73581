//! Capture files through `pcap-parser`: legacy pcap (µs and ns magic, both byte orders) and
//! pcapng (several interfaces with different link types, `if_tsresol`, `if_tsoffset`).
//!
//! The prototype measured pcap-parser at about twice libpcap's offline speed, and unlike libpcap
//! it reads pcapng files whose interfaces have different link types. A `--bpf` filter on a file
//! is compiled by libpcap per link type and applied here.

use super::pipe::{Fill, PipeReader, Shared, header_bytes};
use super::{BpfFilter, CaptureError, PacketSource, RawPacket};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const BUFFER_BYTES: usize = 1 << 20;
/// A record larger than this is treated as damage rather than grown into.
const MAX_RECORD_BYTES: usize = 64 << 20;

struct Interface {
    link_type: u16,
    /// Units per second of timestamps.
    resolution: u64,
    /// Seconds added to timestamps.
    offset_secs: i64,
}

/// A pcap or pcapng file.
pub struct FileSource {
    path: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    /// Bytes of the previous block still to be consumed before reading the next one.
    pending_consume: usize,
    legacy_link: Option<u16>,
    legacy_nanos: bool,
    interfaces: Vec<Interface>,
    packets: u64,
    bpf_expr: Option<String>,
    /// Compiled filters per link type.
    filters: Vec<(u16, BpfFilter)>,
    capacity: usize,
    /// For a FIFO or pipe read by a thread: the flags shared with its reader.
    pipe: Option<Arc<Shared>>,
    /// The last `next_packet` returned `None` because the input was silent, not at its end.
    timed_out: bool,
    /// Bytes of the file consumed so far (for the progress bar; shared by merged files).
    position: Arc<AtomicU64>,
}

impl FileSource {
    /// Opens `path`; fails when it is missing or not a capture file. Reads wait for a FIFO's
    /// or pipe's writer as long as it takes.
    pub fn open(path: &Path, bpf: Option<&str>) -> Result<Self, CaptureError> {
        Self::open_with_stop(path, bpf, None)
    }

    /// [`Self::open`] for a capture that ends when `stop` is set: a FIFO, pipe or device is
    /// read by a thread of its own (`super::pipe`), and waiting for its first bytes ends with
    /// [`CaptureError::Stopped`], waiting for more with a `timed_out` return (the caller looks
    /// at `stop` and calls again).
    pub fn open_with_stop(path: &Path, bpf: Option<&str>, stop: Option<&AtomicBool>) -> Result<Self, CaptureError> {
        let open_error = |source| CaptureError::Open { path: path.into(), source };
        let meta = std::fs::metadata(path).map_err(open_error)?;
        if meta.is_dir() {
            return Err(open_error(std::io::Error::other("is a directory")));
        }
        let (input, pipe): (Box<dyn Read + Send>, _) = match (meta.is_file(), stop) {
            (false, Some(stop)) => {
                let reader = open_pipe(path, stop)?;
                let shared = reader.shared();
                // The parser reads again after the first block: what is there, without waiting.
                shared.no_wait.store(true, Ordering::Relaxed);
                (Box::new(reader), Some(shared))
            }
            _ => (Box::new(File::open(path).map_err(open_error)?), None),
        };
        let created = pcap_parser::create_reader(BUFFER_BYTES, input);
        if let Some(shared) = &pipe {
            shared.no_wait.store(false, Ordering::Relaxed);
        }
        let reader = match created {
            Ok(r) => r,
            Err(PcapError::Eof) | Err(PcapError::HeaderNotRecognized) | Err(PcapError::Incomplete(_)) => {
                return Err(CaptureError::NotACapture { path: path.into() });
            }
            Err(e) => {
                return Err(CaptureError::Corrupt { path: path.into(), packets: 0, reason: format!("{e:?}") });
            }
        };
        let mut src = FileSource {
            path: path.into(),
            reader,
            pending_consume: 0,
            legacy_link: None,
            legacy_nanos: false,
            interfaces: Vec::new(),
            packets: 0,
            bpf_expr: bpf.map(str::to_string),
            filters: Vec::new(),
            capacity: BUFFER_BYTES,
            pipe,
            timed_out: false,
            position: Arc::new(AtomicU64::new(0)),
        };
        src.check_file_header()?;
        // Report a bad filter before reading (pcapng declares link types later, per interface).
        if let Some(lt) = src.legacy_link {
            src.ensure_filter(lt)?;
        }
        Ok(src)
    }

    /// Refuses, as libpcap and Wireshark do, file headers of versions we cannot read correctly.
    fn check_file_header(&mut self) -> Result<(), CaptureError> {
        let unsupported = |reason: String| CaptureError::Unsupported { path: self.path.clone(), reason };
        match self.reader.next() {
            Ok((offset, PcapBlockOwned::LegacyHeader(h))) => {
                if h.version_major != 2 {
                    return Err(unsupported(format!("pcap version {}.{}", h.version_major, h.version_minor)));
                }
                let network = h.network.0 as u32;
                if network & 0x03ff_0000 != 0 {
                    return Err(unsupported(format!("reserved bits set in the link type field ({network:#010x})")));
                }
                self.legacy_link = Some(network as u16);
                self.legacy_nanos = matches!(h.magic_number, 0xa1b2_3c4d | 0x4d3c_b2a1);
                self.pending_consume = offset;
            }
            Ok((offset, PcapBlockOwned::NG(Block::SectionHeader(shb)))) => {
                if shb.major_version != 1 {
                    return Err(unsupported(format!(
                        "pcapng section version {}.{}",
                        shb.major_version, shb.minor_version
                    )));
                }
                self.pending_consume = offset;
            }
            _ => {}
        }
        Ok(())
    }

    /// Compiles the BPF filter for `link_type` if it is not compiled yet.
    fn ensure_filter(&mut self, link_type: u16) -> Result<(), CaptureError> {
        let Some(expr) = &self.bpf_expr else {
            return Ok(());
        };
        if !self.filters.iter().any(|(lt, _)| *lt == link_type) {
            let f = BpfFilter::compile(expr, link_type)?;
            self.filters.push((link_type, f));
        }
        Ok(())
    }
}

/// Starts reading the FIFO, pipe or device `path` in a thread and waits, until `stop` is set,
/// for its first block: pcap-parser recognises the format from its first read.
fn open_pipe(path: &Path, stop: &AtomicBool) -> Result<PipeReader, CaptureError> {
    let open_error = |source| CaptureError::Open { path: path.into(), source };
    let mut reader = PipeReader::spawn(path).map_err(open_error)?;
    let mut need = header_bytes(reader.buffered());
    loop {
        if reader.fill_to(need, stop).map_err(open_error)? == Fill::Stopped {
            return Err(CaptureError::Stopped { path: path.into() });
        }
        let more = header_bytes(reader.buffered());
        if more <= need {
            return Ok(reader);
        }
        need = more;
    }
}

/// Timestamp units per second for a pcapng `if_tsresol` value: 10^v, or 2^(v & 0x7f) when the
/// high bit is set. (pcap-parser 0.17's own helper refuses every power of two: it range-checks
/// the value before masking the flag bit.)
fn ts_units_per_second(tsresol: u8) -> Option<u64> {
    let v = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 { 10u64.checked_pow(v) } else { 1u64.checked_shl(v).filter(|_| v < 64) }.filter(|&u| u > 0)
}

fn corrupt(path: &Path, packets: u64, reason: impl Into<String>) -> CaptureError {
    CaptureError::Corrupt { path: path.into(), packets, reason: reason.into() }
}

/// What one parsed block means for the reader.
enum Step {
    Packet { ts_nanos: i64, link_type: u16, orig_len: u32, start: usize, len: usize },
    Skip,
}

impl FileSource {
    /// After a failed read: a silent FIFO or pipe is no end of input (`timed_out`, the caller
    /// comes back), anything else is damage.
    fn read_failed(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        if self.pipe.as_ref().is_some_and(|p| p.idle.swap(false, Ordering::Relaxed)) {
            self.timed_out = true;
            return Ok(None);
        }
        Err(corrupt(&self.path, self.packets, "read error"))
    }
}

impl FileSource {
    /// Counts this file's consumed bytes into `position` (several merged files share one).
    pub fn share_position(&mut self, position: Arc<AtomicU64>) {
        position.fetch_add(self.position.load(Ordering::Relaxed), Ordering::Relaxed);
        self.position = position;
    }
}

impl PacketSource for FileSource {
    fn timed_out(&self) -> bool {
        self.timed_out
    }

    fn position(&self) -> Option<(Arc<AtomicU64>, u64)> {
        let size = std::fs::metadata(&self.path).ok().filter(|m| m.is_file())?.len();
        Some((self.position.clone(), size))
    }

    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        self.timed_out = false;
        loop {
            if self.pending_consume > 0 {
                self.reader.consume(self.pending_consume);
                self.position.fetch_add(self.pending_consume as u64, Ordering::Relaxed);
                self.pending_consume = 0;
            }
            let step = match self.reader.next() {
                Ok((offset, block)) => {
                    let step = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            self.legacy_link = Some(h.network.0 as u16);
                            self.legacy_nanos = matches!(h.magic_number, 0xa1b2_3c4d | 0x4d3c_b2a1);
                            Step::Skip
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let frac =
                                if self.legacy_nanos { i64::from(b.ts_usec) } else { i64::from(b.ts_usec) * 1000 };
                            Step::Packet {
                                ts_nanos: i64::from(b.ts_sec) * 1_000_000_000 + frac,
                                link_type: self.legacy_link.unwrap_or(1),
                                orig_len: b.origlen,
                                start: b.data.as_ptr() as usize,
                                len: (b.caplen as usize).min(b.data.len()),
                            }
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                            if shb.major_version != 1 {
                                let why = format!(
                                    "unsupported pcapng section version {}.{}",
                                    shb.major_version, shb.minor_version
                                );
                                return Err(corrupt(&self.path, self.packets, why));
                            }
                            // A new section starts a new interface numbering.
                            self.interfaces.clear();
                            Step::Skip
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            self.interfaces.push(Interface {
                                link_type: idb.linktype.0 as u16,
                                resolution: ts_units_per_second(idb.if_tsresol).unwrap_or(1_000_000),
                                offset_secs: idb.if_tsoffset,
                            });
                            Step::Skip
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let Some(iface) = self.interfaces.get(epb.if_id as usize) else {
                                let why = format!("packet for undeclared interface {}", epb.if_id);
                                return Err(corrupt(&self.path, self.packets, why));
                            };
                            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            let res = u128::from(iface.resolution);
                            let secs = (u128::from(units) / res) as i64 + iface.offset_secs;
                            let frac = (u128::from(units) % res * 1_000_000_000 / res) as i64;
                            Step::Packet {
                                ts_nanos: secs.saturating_mul(1_000_000_000).saturating_add(frac),
                                link_type: iface.link_type,
                                orig_len: epb.origlen,
                                start: epb.data.as_ptr() as usize,
                                len: (epb.caplen as usize).min(epb.data.len()),
                            }
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            let Some(iface) = self.interfaces.first() else {
                                return Err(corrupt(
                                    &self.path,
                                    self.packets,
                                    "simple packet block before any interface",
                                ));
                            };
                            // Simple packet blocks carry no timestamp.
                            Step::Packet {
                                ts_nanos: 0,
                                link_type: iface.link_type,
                                orig_len: spb.origlen,
                                start: spb.data.as_ptr() as usize,
                                len: (spb.origlen as usize).min(spb.data.len()),
                            }
                        }
                        PcapBlockOwned::NG(_) => Step::Skip,
                    };
                    self.pending_consume = offset;
                    step
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    if self.reader.refill().is_err() {
                        return self.read_failed();
                    }
                    continue;
                }
                Err(PcapError::BufferTooSmall) => {
                    if self.capacity >= MAX_RECORD_BYTES {
                        return Err(corrupt(&self.path, self.packets, "a record is larger than 64 MiB"));
                    }
                    self.capacity *= 4;
                    self.reader.grow(self.capacity);
                    if self.reader.refill().is_err() {
                        return self.read_failed();
                    }
                    continue;
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureError::Truncated { path: self.path.clone(), packets: self.packets });
                }
                Err(PcapError::ReadError) => {
                    return Err(CaptureError::Read {
                        path: self.path.clone(),
                        source: std::io::Error::other("read failed"),
                    });
                }
                Err(e) => {
                    let reason = match e {
                        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                            format!("invalid block ({kind:?})")
                        }
                        other => format!("{other:?}"),
                    };
                    return Err(corrupt(&self.path, self.packets, reason));
                }
            };
            let Step::Packet { ts_nanos, link_type, orig_len, start, len } = step else {
                continue;
            };
            self.packets += 1;
            // `start` points into the reader's buffer, valid until the next `consume`.
            let Some(off) = start.checked_sub(self.reader.data().as_ptr() as usize) else {
                continue;
            };
            if self.bpf_expr.is_some() {
                self.ensure_filter(link_type)?;
                let data = &self.reader.data()[off..off + len];
                let p = RawPacket { ts_nanos, link_type, orig_len, data };
                let pass = self.filters.iter().find(|(lt, _)| *lt == link_type).is_some_and(|(_, f)| f.matches(&p));
                if !pass {
                    continue;
                }
            }
            let data = &self.reader.data()[off..off + len];
            return Ok(Some(RawPacket { ts_nanos, link_type, orig_len, data }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ts_units_per_second;

    #[test]
    fn pcapng_time_resolutions() {
        assert_eq!(ts_units_per_second(6), Some(1_000_000));
        assert_eq!(ts_units_per_second(9), Some(1_000_000_000));
        assert_eq!(ts_units_per_second(0x88), Some(256));
        assert_eq!(ts_units_per_second(0x80), Some(1));
        assert_eq!(ts_units_per_second(20), None);
        assert_eq!(ts_units_per_second(0xc0), None);
    }
}
