//! Packet sources: capture files (pcap and pcapng, read with the pure-Rust `pcap-parser`) and live
//! interfaces (libpcap through the `pcap` crate).
//!
//! A source hands out one packet at a time as a [`RawPacket`] that borrows the reader's buffer
//! until the next call; the dispatcher copies it into a batch. Timestamps are converted to
//! nanoseconds since the epoch here, whatever the file's resolution, so nothing downstream deals
//! with formats. A damaged file ends the source with an error *after* every complete packet
//! before the damage was delivered (tshark's behaviour), so output written so far stays valid.

pub mod file;
pub mod inputs;
pub mod live;
pub mod merge;
pub mod pipe;

use std::path::PathBuf;

/// A packet borrowed from a source.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture time, ns since the Unix epoch.
    pub ts_nanos: i64,
    /// pcap LINKTYPE_ value of the packet's interface.
    pub link_type: u16,
    /// Length on the wire.
    pub orig_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
}

/// Why a source stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a pcap or pcapng file")]
    NotACapture { path: PathBuf },
    #[error("{path} is an unsupported capture file: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path} is truncated: its last packet record is cut short after {packets} packets")]
    Truncated { path: PathBuf, packets: u64 },
    #[error("{path} is damaged after {packets} packets: {reason}")]
    Corrupt { path: PathBuf, packets: u64, reason: String },
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stopped by a signal before {path} delivered its capture file header")]
    Stopped { path: PathBuf },
    #[error("live capture on {iface}: {message}")]
    Live { iface: String, message: String },
    #[error("invalid BPF filter {expr:?}: {message}")]
    Bpf { expr: String, message: String },
    /// Several input files, some of which could not be read (to their end).
    #[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Inputs { errors: Vec<CaptureError> },
}

/// A source of packets.
pub trait PacketSource {
    /// The next packet; `Ok(None)` at the end of input.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError>;

    /// For live sources: `true` when the last `next_packet` returned `None` only because no
    /// packet arrived within the read timeout (the input has not ended).
    fn timed_out(&self) -> bool {
        false
    }

    /// Packets dropped by the kernel or the interface, when known.
    fn dropped(&mut self) -> Option<u64> {
        None
    }

    /// For capture files: the bytes read so far (a counter the source advances) and the total,
    /// for a progress bar with an estimate of the time left. `None` for live and piped input.
    fn position(&self) -> Option<(std::sync::Arc<std::sync::atomic::AtomicU64>, u64)> {
        None
    }

    /// For several input files: what became of each (empty for a single input).
    fn files(&self) -> Vec<merge::FileReport> {
        Vec::new()
    }
}

/// A BPF filter applied to packets of a file (live captures filter in the kernel).
pub struct BpfFilter {
    program: pcap::BpfProgram,
}

impl BpfFilter {
    /// Compiles `expr` for link type `link_type` with libpcap.
    pub fn compile(expr: &str, link_type: u16) -> Result<Self, CaptureError> {
        let dead = pcap::Capture::dead_with_precision(pcap::Linktype(i32::from(link_type)), pcap::Precision::Nano)
            .map_err(|e| CaptureError::Bpf { expr: expr.into(), message: e.to_string() })?;
        let program =
            dead.compile(expr, true).map_err(|e| CaptureError::Bpf { expr: expr.into(), message: e.to_string() })?;
        Ok(BpfFilter { program })
    }

    /// Whether the packet passes the filter.
    pub fn matches(&self, p: &RawPacket<'_>) -> bool {
        self.program.filter(p.data)
    }
}
