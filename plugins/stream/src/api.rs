//! The stream-decoder contract types (kind `stream`), with the names the session brief fixes for
//! the SDK: [`StreamInfo`], [`Dir`], [`StreamEvent`], [`EventMeta`], [`Verdict`] and
//! [`StreamDecoder`]. This is a local copy so that the decoder builds and is unit-tested before
//! the SDK's version lands; once it does, this module re-exports the SDK's types instead.

pub use netcap_sdk::{Config, Emitter, RecordType};

/// How the host feeds a decoder (the SDK's `Kind`, with the stream kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One record per occurrence of a protocol layer.
    Layer,
    /// Whole packets of the flows a worker owns.
    Packet,
    /// Every packet, on one instance.
    Global,
    /// Reassembled TCP byte streams.
    Stream,
}

/// The static description of a decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderInfo {
    /// Decoder id, lowercase.
    pub name: String,
    /// Decoder version (semver).
    pub version: String,
    /// Decoder kind.
    pub kind: Kind,
    /// Port interests (`tcp:80`; `tcp:*` sees the first bytes of every stream).
    pub layers: Vec<String>,
    /// Record types, indexed by type id.
    pub record_types: Vec<RecordType>,
    /// Serialized `FileDescriptorSet` defining every record message.
    pub schema: Vec<u8>,
}

/// A TCP connection as the host's reassembly sees it. The client is the SYN sender, else the
/// sender of the first packet seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamInfo {
    /// Stream id, unique within the run.
    pub id: u64,
    /// 4 or 6.
    pub ip_version: u8,
    /// Client address (IPv4 in the first 4 bytes).
    pub client_ip: [u8; 16],
    /// Server address (IPv4 in the first 4 bytes).
    pub server_ip: [u8; 16],
    /// Client port.
    pub client_port: u16,
    /// Server port.
    pub server_port: u16,
    /// 0 outside tunnels, 1 inside the first tunnel, ...
    pub tunnel_depth: u8,
}

/// Direction of stream bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// FIN from both sides.
    Fin,
    /// RST.
    Reset,
    /// Idle timeout.
    Timeout,
    /// A memory limit was hit.
    Limit,
    /// End of input.
    End,
}

/// What happens on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// A new stream.
    Open(&'a StreamInfo),
    /// The next in-order bytes of one direction.
    Data {
        /// Direction.
        dir: Dir,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// Bytes of one direction that were never seen (lost or not captured).
    Gap {
        /// Direction.
        dir: Dir,
        /// Missing bytes.
        len: u32,
    },
    /// The stream ended.
    Close {
        /// Why.
        reason: CloseReason,
    },
}

/// Where an event comes from: the stream, the packet it belongs to and that packet's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta {
    /// Stream id ([`StreamInfo::id`]).
    pub stream: u64,
    /// Packet sequence number.
    pub seq: u64,
    /// Packet time, ns since the Unix epoch.
    pub ts_nanos: i64,
}

/// What the decoder wants next for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep feeding this stream.
    Continue,
    /// Not this decoder's protocol: stop feeding it.
    Decline,
    /// Everything wanted was seen: stop feeding it.
    Done,
}

/// A stream decoder: one value per (worker, decoder) instance, fed the events of the streams that
/// worker owns in packet order.
pub trait StreamDecoder: Sized + 'static {
    /// Static description.
    fn describe() -> DecoderInfo;
    /// Creates the decoder from its configuration.
    fn init(config: &Config) -> Result<Self, String>;
    /// One event of one stream; records go to `out` (already attributed to the event's packet).
    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict;
    /// Packet time advanced to `now`.
    fn tick(&mut self, _now: i64, _seq: u64, _out: &mut Emitter<'_>) {}
    /// End of input.
    fn finish(&mut self, _out: &mut Emitter<'_>) {}
}
