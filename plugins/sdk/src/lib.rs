//! The netcap decoder SDK: write a decoder as plain Rust, test it natively, ship it as a sandboxed
//! WebAssembly component.
//!
//! A decoder implements [`Decoder`] and calls [`export_decoder!`] once ([`StreamDecoder`] and
//! [`export_stream_decoder!`] for reassembled TCP, [`RecordDecoder`] and
//! [`export_record_decoder!`] for decoders over other decoders' records). The SDK hides the WIT
//! contract (`wit/decoder.wit`, `netcap:decoder@0.3.0`, inside this crate so that it builds on its
//! own): it parses the host's flat packet batches into [`Packet`]s, hands
//! each to [`Decoder::decode`], and encodes what the decoder emits through an [`Emitter`] into the
//! flat output batch. Decoder logic never touches wit-bindgen types, so the same crate builds
//! natively (unit tests, fuzzing, the host's native benchmark) and for `wasm32-unknown-unknown`.
//!
//! Rules a decoder follows (see `docs/decoder-contract.md`): never panic on any input (a panic is
//! a trap that costs the batch), bound its memory, use no clock and no randomness (output must be a
//! function of the input), and report malformed input with [`Emitter::error`] plus a partial record.
#![warn(missing_docs)]

pub mod context;
pub mod fmt;
pub mod framer;
pub mod host;
pub mod layer;
pub mod record;
pub mod stream;

pub use context::{Context, ContextFields, RecordId, Transport};
pub use framer::{Frame, Framer};
/// The protobuf runtime the SDK encodes records with: decoders can use `netcap_sdk::prost` and
/// need no version of their own in step with the SDK's.
pub use prost;
pub use record::{InputRecord, RecordDecoder, push_record, record_batch};
pub use stream::{CloseReason, Dir, EventMeta, StreamDecoder, StreamEvent, StreamInfo, StreamRunner, Verdict};

/// What kind of decoder this is (mirrors the WIT `decoder-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One record per occurrence of a protocol layer.
    Layer,
    /// Sees whole packets of the flows routed to its instance and keeps per-flow state; emits from
    /// `tick` and `finish` too.
    Packet,
    /// Like [`Kind::Packet`], but one instance sees every packet (per-host state).
    Global,
    /// Sees reassembled TCP connections as events ([`stream`]); implements [`StreamDecoder`].
    Stream,
    /// Sees other decoders' records ([`record`]); implements [`RecordDecoder`].
    Record,
}

impl Default for Kind {
    /// [`Kind::Packet`], so that `DecoderInfo { kind: ..., ..Default::default() }` reads well.
    fn default() -> Self {
        Kind::Packet
    }
}

/// A data file a decoder reads with [`host::read_resource`] (WIT `resource-need`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceNeed {
    /// Name the user gives on the command line (`--resource NAME=PATH`): lowercase, digits, `-`.
    pub name: String,
    /// One line: what the file is and where to get it.
    pub description: String,
    /// Whether the decoder cannot run without it.
    pub required: bool,
}

/// A record type a decoder emits. Its index in [`DecoderInfo::record_types`] is its type id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordType {
    /// Name as users see it and as the output file is named, e.g. `TCP`.
    pub name: String,
    /// Fully qualified protobuf message name, e.g. `netcap.v1.TCP`.
    pub message: String,
}

/// The static description of a decoder. Fields new in contract 0.3 default to empty, so
/// `DecoderInfo { name, version, kind, layers, record_types, schema, ..Default::default() }`
/// describes a packet, layer or stream decoder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DecoderInfo {
    /// Decoder id, lowercase.
    pub name: String,
    /// Decoder version (semver).
    pub version: String,
    /// Decoder kind.
    pub kind: Kind,
    /// Layer names (see [`layer`]) whose packets the decoder wants.
    pub layers: Vec<String>,
    /// Record types, indexed by type id.
    pub record_types: Vec<RecordType>,
    /// Serialized `FileDescriptorSet` defining every record message.
    pub schema: Vec<u8>,
    /// [`Kind::Record`]: the record types read, by name and expected protobuf message (empty:
    /// any); their index here is the `input` of each [`InputRecord`].
    pub consumes: Vec<RecordType>,
    /// Data files read with [`host::read_resource`].
    pub resources: Vec<ResourceNeed>,
    /// [`Kind::Global`]: the state can be saved in parts and merged
    /// ([`Decoder::save_state`], [`Decoder::merge_state`]).
    pub mergeable: bool,
}

/// Key/value configuration passed to [`Decoder::init`].
#[derive(Debug, Clone, Default)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// Builds a configuration from key/value pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Config { pairs }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// True when `key` is set to `true`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }

    /// Whether the user asked for extracted file contents (`--extract-files`): only then may a
    /// decoder send file data entries.
    pub fn extract_files(&self) -> bool {
        self.flag("extract-files")
    }

    /// The bytes of one file the host keeps (`--extract-max-file`); 0 when files are not extracted.
    pub fn extract_max_file(&self) -> u64 {
        if !self.extract_files() {
            return 0;
        }
        self.get("extract-max-file").and_then(|v| v.parse().ok()).unwrap_or(u64::MAX)
    }

    /// Whether the user enabled record type `name` (all are enabled when the host sends no list).
    pub fn record_type_enabled(&self, name: &str) -> bool {
        match self.get("record-types") {
            None => true,
            Some(list) => list.split(',').any(|t| t == name),
        }
    }
}

/// A decoder. One value lives per (worker, decoder) instance; the host feeds it packets of the
/// flows that worker owns, in packet order.
pub trait Decoder: Sized + 'static {
    /// Static description; must not depend on configuration.
    fn describe() -> DecoderInfo;
    /// Creates the decoder from its configuration.
    fn init(config: &Config) -> Result<Self, String>;
    /// Decodes one packet, emitting records and errors for it.
    fn decode(&mut self, packet: &Packet<'_>, out: &mut Emitter<'_>);
    /// Packet time advanced to `now_nanos` (the time of packet `seq`): expire timeouts.
    fn tick(&mut self, now_nanos: i64, seq: u64, out: &mut Emitter<'_>) {
        let _ = (now_nanos, seq, out);
    }
    /// End of input: emit everything that is left, in a deterministic order.
    fn finish(&mut self, out: &mut Emitter<'_>) {
        let _ = out;
    }
    /// Mergeable global decoders ([`DecoderInfo::mergeable`]): emit this partial instance's state
    /// as parts with [`Emitter::state_part`] (chunked with [`Emitter::chunk_full`] like `finish`).
    /// The default saves nothing.
    fn save_state(&mut self, out: &mut Emitter<'_>) {
        let _ = out;
    }
    /// Adds one saved part to this instance's state. Must be commutative and associative (the
    /// output may not depend on how flows were split among workers). The default refuses.
    fn merge_state(&mut self, part: &[u8]) -> Result<(), String> {
        let _ = part;
        Err("this decoder's state is not mergeable".into())
    }
}

/// One layer of a packet as dissected by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Layer id (see [`layer`]).
    pub id: u16,
    /// Layer flags (see [`layer::FLAG_TRUNCATED`]).
    pub flags: u16,
    /// Offset of the layer's header in [`Packet::data`].
    pub offset: usize,
}

impl Layer {
    /// Whether the host saw this layer's data cut short.
    pub fn truncated(&self) -> bool {
        self.flags & layer::FLAG_TRUNCATED != 0
    }

    /// Whether this header was already delivered with the fragments of a reassembled datagram
    /// (see [`PACKET_FLAG_REASSEMBLED`]): layer decoders emit no second record for it.
    pub fn seen(&self) -> bool {
        self.flags & layer::FLAG_SEEN != 0
    }

    /// Tunnel depth: 0 for the outermost packet, 1 inside the first tunnel, ...
    pub fn depth(&self) -> u32 {
        u32::from((self.flags >> layer::DEPTH_SHIFT) & layer::DEPTH_MASK)
    }
}

/// The addresses and ports around a layer: the nearest IPv4/IPv6 layer before it and the
/// nearest TCP/UDP/SCTP layer between that one and it (netcap's "packet context").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Endpoints<'a> {
    /// Source address bytes (4 or 16), empty without an IP layer.
    pub src: &'a [u8],
    /// Destination address bytes (4 or 16), empty without an IP layer.
    pub dst: &'a [u8],
    /// Source port, 0 without a transport layer.
    pub src_port: u16,
    /// Destination port, 0 without a transport layer.
    pub dst_port: u16,
}

const PACKET_HEADER_LEN: usize = 8 + 8 + 8 + 2 + 2 + 1 + 1 + 4 + 4;
const FLAGS_AT: usize = 29;
const LAYER_ENTRY_LEN: usize = 8;

/// A packet from an input batch.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Sequence number of the packet in the input, from 0.
    pub seq: u64,
    /// Capture time, ns since the Unix epoch.
    pub ts_nanos: i64,
    /// The host's symmetric flow hash of the outermost packet. Flows with equal `flow & 0xff`
    /// always meet the same decoder instance, whatever the worker count.
    pub flow: u64,
    /// Deep packet inspection verdict for this packet's flow so far: 0 for none, else an id to
    /// resolve with [`host::app_info`].
    pub app: u16,
    /// pcap LINKTYPE_ of the packet.
    pub link_type: u16,
    /// Packet flags ([`PACKET_FLAG_DISSECT_ERROR`]).
    pub flags: u8,
    /// Length on the wire.
    pub orig_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
    layers: &'a [u8],
}

impl<'a> Packet<'a> {
    /// The packet's layers, outermost first.
    pub fn layers(&self) -> impl Iterator<Item = Layer> + 'a {
        let p = *self;
        (0..self.layer_count()).filter_map(move |i| p.layer(i))
    }

    /// The `i`-th layer, outermost first.
    pub fn layer(&self, i: usize) -> Option<Layer> {
        let e = self.layers.get(i * LAYER_ENTRY_LEN..(i + 1) * LAYER_ENTRY_LEN)?;
        Some(Layer {
            id: u16::from_le_bytes([e[0], e[1]]),
            flags: u16::from_le_bytes([e[2], e[3]]),
            offset: u32::from_le_bytes([e[4], e[5], e[6], e[7]]) as usize,
        })
    }

    /// Number of layers.
    pub fn layer_count(&self) -> usize {
        self.layers.len() / LAYER_ENTRY_LEN
    }

    /// The index of the first layer with id `id`.
    pub fn find(&self, id: u16) -> Option<usize> {
        (0..self.layer_count()).find(|&i| self.layer(i).is_some_and(|l| l.id == id))
    }

    /// The addresses and ports in effect at layer index `at` (see [`Endpoints`]). Fields whose
    /// headers are missing or cut short stay empty/zero.
    pub fn endpoints(&self, at: usize) -> Endpoints<'a> {
        let mut e = Endpoints::default();
        let mut i = at.min(self.layer_count());
        let mut ports_done = false;
        while i > 0 {
            i -= 1;
            let Some(l) = self.layer(i) else { break };
            let d = self.data;
            match l.id {
                layer::TCP | layer::UDP | layer::SCTP if !ports_done => {
                    if let Some(h) = d.get(l.offset..l.offset + 4) {
                        e.src_port = u16::from_be_bytes([h[0], h[1]]);
                        e.dst_port = u16::from_be_bytes([h[2], h[3]]);
                    }
                    ports_done = true;
                }
                layer::IPV4 => {
                    if let Some(h) = d.get(l.offset..l.offset + 20) {
                        e.src = &h[12..16];
                        e.dst = &h[16..20];
                    }
                    break;
                }
                layer::IPV6 => {
                    if let Some(h) = d.get(l.offset..l.offset + 40) {
                        e.src = &h[8..24];
                        e.dst = &h[24..40];
                    }
                    break;
                }
                _ => {}
            }
        }
        e
    }
}

/// The sequence number and the bytes of each packet of a flat input batch (for the host, which
/// re-runs a faulted batch one packet at a time); stops at the first malformed entry.
pub fn packet_spans(batch: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut rest = batch;
    packets(batch).map(move |p| {
        let len = PACKET_HEADER_LEN + p.layer_count() * LAYER_ENTRY_LEN + p.data.len();
        let (span, tail) = rest.split_at(len);
        rest = tail;
        (p.seq, span)
    })
}

/// Iterates the packets of a flat input batch; stops at the first malformed entry.
pub fn packets(batch: &[u8]) -> impl Iterator<Item = Packet<'_>> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        if rest.len() < PACKET_HEADER_LEN {
            return None;
        }
        let h = &rest[..PACKET_HEADER_LEN];
        let seq = u64::from_le_bytes(h[0..8].try_into().ok()?);
        let ts_nanos = i64::from_le_bytes(h[8..16].try_into().ok()?);
        let flow = u64::from_le_bytes(h[16..24].try_into().ok()?);
        let link_type = u16::from_le_bytes([h[24], h[25]]);
        let app = u16::from_le_bytes([h[26], h[27]]);
        let nlayers = h[28] as usize;
        let flags = h[FLAGS_AT];
        let orig_len = u32::from_le_bytes(h[30..34].try_into().ok()?);
        let cap_len = u32::from_le_bytes(h[34..38].try_into().ok()?) as usize;
        let body = &rest[PACKET_HEADER_LEN..];
        let layers_len = nlayers * LAYER_ENTRY_LEN;
        if body.len() < layers_len + cap_len {
            rest = &[];
            return None;
        }
        let (layers, body) = body.split_at(layers_len);
        let (data, tail) = body.split_at(cap_len);
        rest = tail;
        Some(Packet { seq, ts_nanos, flow, app, link_type, flags, orig_len, data, layers })
    })
}

/// Packet flag: the host's dissection stopped early with an error.
pub const PACKET_FLAG_DISSECT_ERROR: u8 = 1;
/// Packet flag: not a captured packet but an IP datagram the host reassembled from fragments
/// (link type 101, raw IP). Its sequence number follows the fragment that completed it; the
/// headers that the fragments already carried are marked [`layer::FLAG_SEEN`].
pub const PACKET_FLAG_REASSEMBLED: u8 = 2;
/// Packet flag: the packet's `app` is nDPI's *guess* for its flow (by port or address, or from a
/// partial dissection), what nDPI would answer if it gave up on the flow now without a match;
/// not a classification of the traffic.
pub const PACKET_FLAG_APP_GUESSED: u8 = 4;
/// Packet flag: an IP fragment of a TCP or UDP datagram whose 5-tuple the host knew when it
/// dispatched the fragment (the first fragment, with the ports, had arrived; the first fragment
/// itself is flagged too): `flow` is the hash of that 5-tuple, as for the flow's unfragmented
/// packets, so the fragment reaches the instance that holds the flow.
pub const PACKET_FLAG_FRAGMENT_OF_FLOW: u8 = 8;

/// Sets the flags of the packet that starts at `start` in a flat input batch.
pub fn set_packet_flags(batch: &mut [u8], start: usize, flags: u8) {
    if let Some(b) = batch.get_mut(start + FLAGS_AT) {
        *b = flags;
    }
}

/// Appends one packet to a flat input batch (used by tests; flow hash and app id 0).
pub fn push_packet(
    batch: &mut Vec<u8>,
    seq: u64,
    ts_nanos: i64,
    link_type: u16,
    orig_len: u32,
    layers: &[Layer],
    data: &[u8],
) {
    push_packet_with(batch, PacketMeta { seq, ts_nanos, flow: 0, app: 0, link_type, orig_len }, layers, data);
}

/// The per-packet values of a batch entry besides its layers and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// See [`Packet::seq`].
    pub seq: u64,
    /// See [`Packet::ts_nanos`].
    pub ts_nanos: i64,
    /// See [`Packet::flow`].
    pub flow: u64,
    /// See [`Packet::app`].
    pub app: u16,
    /// See [`Packet::link_type`].
    pub link_type: u16,
    /// See [`Packet::orig_len`].
    pub orig_len: u32,
}

/// Appends one packet to a flat input batch (used by the host).
pub fn push_packet_with(batch: &mut Vec<u8>, m: PacketMeta, layers: &[Layer], data: &[u8]) {
    batch.extend_from_slice(&m.seq.to_le_bytes());
    batch.extend_from_slice(&m.ts_nanos.to_le_bytes());
    batch.extend_from_slice(&m.flow.to_le_bytes());
    batch.extend_from_slice(&m.link_type.to_le_bytes());
    batch.extend_from_slice(&m.app.to_le_bytes());
    batch.push(layers.len().min(255) as u8);
    batch.push(0);
    batch.extend_from_slice(&m.orig_len.to_le_bytes());
    batch.extend_from_slice(&(data.len() as u32).to_le_bytes());
    for l in layers.iter().take(255) {
        batch.extend_from_slice(&l.id.to_le_bytes());
        batch.extend_from_slice(&l.flags.to_le_bytes());
        batch.extend_from_slice(&(l.offset as u32).to_le_bytes());
    }
    batch.extend_from_slice(data);
}

/// Output tag of an error entry.
pub const TAG_ERROR: u16 = 0xfffe;
/// Output tag of a "more" entry (empty body, any `seq`), from `tick` and `finish` only: the call
/// returned one chunk of its records and the host calls it again (same arguments) for the rest.
/// Decoders that never emit it return everything in one call.
pub const TAG_MORE: u16 = 0xfffc;
/// Output tag of file content: `file u64 | data` (see [`Emitter::file_data`]).
pub const TAG_FILE_DATA: u16 = 0xfffb;
/// Output tag of a file's end: `file u64 | complete u8 | sha256 [32]` (see [`Emitter::file_end`]).
pub const TAG_FILE_END: u16 = 0xfffa;
/// Output tag of a saved state part (`save-state` output only).
pub const TAG_STATE: u16 = 0;
/// Output bytes after which [`Emitter::chunk_full`] ends a `tick` or `finish` chunk.
pub const CHUNK_BYTES: usize = 1 << 20;

/// One entry of an output batch: a record (`tag` = type id) or an error (`tag` = [`TAG_ERROR`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Record type id, or [`TAG_ERROR`].
    pub tag: u16,
    /// The packet the entry belongs to.
    pub seq: u64,
    /// Protobuf bytes of a record, or the UTF-8 error kind.
    pub bytes: &'a [u8],
}

/// Why an output batch is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEntry(pub &'static str);

/// Iterates the entries of an output batch (the host reads decoder output with it, and decoder
/// tests can too). A malformed entry yields one `Err` and ends the iteration.
pub fn entries(out: &[u8]) -> impl Iterator<Item = Result<Entry<'_>, BadEntry>> {
    let mut rest = out;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let parsed = parse_entry(rest);
        match parsed {
            Ok((_, used)) => rest = &rest[used..],
            Err(_) => rest = &[],
        }
        Some(parsed.map(|(e, _)| e))
    })
}

/// One entry from the front of `rest`, and the bytes it takes.
fn parse_entry(rest: &[u8]) -> Result<(Entry<'_>, usize), BadEntry> {
    let cut = BadEntry("output entry cut short");
    let head = rest.get(..10).ok_or(cut)?;
    let tag = u16::from_le_bytes([head[0], head[1]]);
    let seq = u64::from_le_bytes([head[2], head[3], head[4], head[5], head[6], head[7], head[8], head[9]]);
    let (mut len, mut used) = (0u64, 0usize);
    loop {
        let b = *rest.get(10 + used).ok_or(cut)?;
        if used == 9 && b > 1 {
            return Err(BadEntry("bad length in output"));
        }
        len |= u64::from(b & 0x7f) << (7 * used);
        used += 1;
        if b < 0x80 {
            break;
        }
    }
    let start = 10 + used;
    let len = usize::try_from(len).map_err(|_| BadEntry("bad length in output"))?;
    let bytes = rest.get(start..start.checked_add(len).ok_or(cut)?).ok_or(cut)?;
    Ok((Entry { tag, seq, bytes }, start + len))
}

/// Record types from `(name, protobuf message)` pairs, in type-id order.
pub fn record_types(list: &[(&str, &str)]) -> Vec<RecordType> {
    list.iter().map(|(n, m)| RecordType { name: (*n).into(), message: (*m).into() }).collect()
}

/// Collects the records and errors a decoder emits into the flat output batch.
#[derive(Debug)]
pub struct Emitter<'a> {
    out: &'a mut Vec<u8>,
    seq: u64,
    /// Where this call's output starts in `out`.
    start: usize,
    more: bool,
}

impl<'a> Emitter<'a> {
    /// An emitter appending to `out`, attributing entries to packet `seq`.
    pub fn new(out: &'a mut Vec<u8>, seq: u64) -> Self {
        let start = out.len();
        Emitter { out, seq, start, more: false }
    }

    /// For `tick` and `finish`, which may have millions of records to return: whether this
    /// call's output has reached [`CHUNK_BYTES`]. When it has, the output is marked "more" (see
    /// [`TAG_MORE`]): the decoder returns now, keeping the rest for the next call, which the host
    /// makes with the same arguments. A loop that emits one record per iteration checks it
    /// before each record.
    pub fn chunk_full(&mut self) -> bool {
        if self.out.len() - self.start < CHUNK_BYTES {
            return false;
        }
        if !self.more {
            self.head(TAG_MORE);
            self.out.push(0);
            self.more = true;
        }
        true
    }

    /// Whether [`Emitter::chunk_full`] marked this call's output "more".
    pub fn more(&self) -> bool {
        self.more
    }

    /// The packet the next entries belong to.
    pub fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Emits a record of type `type_id` (its index in [`DecoderInfo::record_types`]).
    pub fn record(&mut self, type_id: u16, msg: &impl prost::Message) {
        self.head(type_id);
        put_uvarint(self.out, msg.encoded_len() as u64);
        msg.encode_raw(self.out);
    }

    /// Emits a record whose type id was declared with [`record_ids!`]: the id names the
    /// message type, so a record cannot go out under another type's id.
    pub fn emit<M: prost::Message>(&mut self, id: RecordId<M>, msg: &M) {
        self.record(id.id(), msg);
    }

    /// Reports a decoding error of the current packet; `kind` is short and stable, e.g.
    /// `"tcp: options truncated"`, because the host counts errors per kind.
    pub fn error(&mut self, kind: &str) {
        self.head(TAG_ERROR);
        put_uvarint(self.out, kind.len() as u64);
        self.out.extend_from_slice(kind.as_bytes());
    }

    /// The next bytes of extracted file `file` (a number this instance picks, unique until
    /// [`Emitter::file_end`]). Send content only when [`Config::extract_files`] is on, and at most
    /// [`Config::extract_max_file`] bytes of one file.
    pub fn file_data(&mut self, file: u64, data: &[u8]) {
        self.head(TAG_FILE_DATA);
        put_uvarint(self.out, 8 + data.len() as u64);
        self.out.extend_from_slice(&file.to_le_bytes());
        self.out.extend_from_slice(data);
    }

    /// File `file` ended: `complete` when the data sent was the whole object, and the SHA-256 of
    /// the whole object (the value in the File record), which names the extracted file.
    pub fn file_end(&mut self, file: u64, complete: bool, sha256: &[u8; 32]) {
        self.head(TAG_FILE_END);
        put_uvarint(self.out, 41);
        self.out.extend_from_slice(&file.to_le_bytes());
        self.out.push(u8::from(complete));
        self.out.extend_from_slice(sha256);
    }

    /// One part of a mergeable decoder's saved state (in [`Decoder::save_state`]).
    pub fn state_part(&mut self, bytes: &[u8]) {
        self.head(TAG_STATE);
        put_uvarint(self.out, bytes.len() as u64);
        self.out.extend_from_slice(bytes);
    }

    fn head(&mut self, tag: u16) {
        self.out.extend_from_slice(&tag.to_le_bytes());
        self.out.extend_from_slice(&self.seq.to_le_bytes());
    }
}

pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes every packet of `batch` with `d`, appending the output batch to `out`.
pub fn run_decode<D: Decoder>(d: &mut D, batch: &[u8], out: &mut Vec<u8>) {
    for p in packets(batch) {
        let mut em = Emitter::new(out, p.seq);
        d.decode(&p, &mut em);
    }
}

/// Runs [`Decoder::tick`], appending to `out`.
pub fn run_tick<D: Decoder>(d: &mut D, now_nanos: i64, seq: u64, out: &mut Vec<u8>) {
    let mut em = Emitter::new(out, seq);
    d.tick(now_nanos, seq, &mut em);
}

/// Runs [`Decoder::finish`], appending to `out`.
pub fn run_finish<D: Decoder>(d: &mut D, out: &mut Vec<u8>) {
    let mut em = Emitter::new(out, u64::MAX);
    d.finish(&mut em);
}

/// Runs [`Decoder::save_state`], appending to `out`.
pub fn run_save_state<D: Decoder>(d: &mut D, out: &mut Vec<u8>) {
    let mut em = Emitter::new(out, u64::MAX);
    d.save_state(&mut em);
}

/// Shannon entropy of `data` in bits per byte (0 for empty input), as netcap computes
/// `PayloadEntropy`.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    let mut h = 0.0;
    for &c in counts.iter() {
        if c != 0 {
            let p = f64::from(c) / n;
            h -= p * p.log2();
        }
    }
    h
}

/// The WebAssembly side of the contract; only built for `wasm32`.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "netcap_sdk::bindings",
    });
}

/// Glue used by [`export_decoder!`]; not part of the API.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __glue {
    use super::*;
    use crate::bindings::exports::netcap::decoder::decoder as w;
    use crate::bindings::netcap::decoder::host;

    pub fn describe<D: Decoder>() -> w::DecoderInfo {
        info(D::describe())
    }

    pub fn info(i: DecoderInfo) -> w::DecoderInfo {
        w::DecoderInfo {
            name: i.name,
            version: i.version,
            kind: match i.kind {
                Kind::Layer => w::DecoderKind::Layer,
                Kind::Packet => w::DecoderKind::Packet,
                Kind::Global => w::DecoderKind::Global,
                Kind::Stream => w::DecoderKind::Stream,
                Kind::Record => w::DecoderKind::Record,
            },
            layers: i.layers,
            record_types: types(i.record_types),
            schema: i.schema,
            consumes: types(i.consumes),
            resources: i
                .resources
                .into_iter()
                .map(|r| w::ResourceNeed { name: r.name, description: r.description, required: r.required })
                .collect(),
            mergeable: i.mergeable,
        }
    }

    fn types(list: Vec<RecordType>) -> Vec<w::RecordType> {
        list.into_iter().map(|t| w::RecordType { name: t.name, message: t.message }).collect()
    }

    fn set_panic_hook() {
        std::panic::set_hook(Box::new(|info| {
            host::log(host::Level::Error, &format!("panic: {info}"));
        }));
    }

    pub fn init<D: Decoder>(state: &mut Option<D>, config: Vec<(String, String)>) -> Result<(), String> {
        set_panic_hook();
        *state = Some(D::init(&Config::new(config))?);
        Ok(())
    }

    pub fn decode<D: Decoder>(state: &mut Option<D>, batch: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(batch.len() / 2);
        if let Some(d) = state.as_mut() {
            run_decode(d, batch, &mut out);
        }
        out
    }

    pub fn tick<D: Decoder>(state: &mut Option<D>, now: i64, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(d) = state.as_mut() {
            run_tick(d, now, seq, &mut out);
        }
        out
    }

    pub fn finish<D: Decoder>(state: &mut Option<D>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(d) = state.as_mut() {
            run_finish(d, &mut out);
        }
        out
    }

    pub fn save_state<D: Decoder>(state: &mut Option<D>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(d) = state.as_mut() {
            run_save_state(d, &mut out);
        }
        out
    }

    pub fn merge_state<D: Decoder>(state: &mut Option<D>, part: &[u8]) -> Result<(), String> {
        match state.as_mut() {
            Some(d) => d.merge_state(part),
            None => Err("merge-state before init".into()),
        }
    }

    pub fn record_init<D: RecordDecoder>(state: &mut Option<D>, config: Vec<(String, String)>) -> Result<(), String> {
        set_panic_hook();
        *state = Some(D::init(&Config::new(config))?);
        Ok(())
    }

    pub fn record_decode<D: RecordDecoder>(state: &mut Option<D>, batch: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(d) = state.as_mut() {
            record::run_decode(d, batch, &mut out);
        }
        out
    }

    pub fn record_finish<D: RecordDecoder>(state: &mut Option<D>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(d) = state.as_mut() {
            record::run_finish(d, &mut out);
        }
        out
    }

    pub fn stream_init<D: StreamDecoder>(
        state: &mut Option<StreamRunner<D>>,
        config: Vec<(String, String)>,
    ) -> Result<(), String> {
        set_panic_hook();
        *state = Some(StreamRunner::new(D::init(&Config::new(config))?));
        Ok(())
    }

    pub fn stream_decode<D: StreamDecoder>(state: &mut Option<StreamRunner<D>>, batch: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(r) = state.as_mut() {
            r.decode(batch, &mut out);
        }
        out
    }

    pub fn stream_tick<D: StreamDecoder>(state: &mut Option<StreamRunner<D>>, now: i64, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(r) = state.as_mut() {
            r.tick(now, seq, &mut out);
        }
        out
    }

    pub fn stream_finish<D: StreamDecoder>(state: &mut Option<StreamRunner<D>>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(r) = state.as_mut() {
            r.finish(&mut out);
        }
        out
    }
}

/// Exports a [`Decoder`] as the component's `netcap:decoder/decoder` implementation. Expands to
/// nothing on native targets, so the crate also builds and tests natively.
#[macro_export]
macro_rules! export_decoder {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::netcap::decoder::decoder as __w;
            struct __Glue;
            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            impl __w::Guest for __Glue {
                fn describe() -> __w::DecoderInfo {
                    $crate::__glue::describe::<$ty>()
                }
                fn init(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    __STATE.with(|s| $crate::__glue::init::<$ty>(&mut s.borrow_mut(), config))
                }
                fn decode(batch: ::std::vec::Vec<u8>) -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::decode::<$ty>(&mut s.borrow_mut(), &batch))
                }
                fn tick(now_nanos: i64, seq: u64) -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::tick::<$ty>(&mut s.borrow_mut(), now_nanos, seq))
                }
                fn finish() -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::finish::<$ty>(&mut s.borrow_mut()))
                }
                fn save_state() -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::save_state::<$ty>(&mut s.borrow_mut()))
                }
                fn merge_state(part: ::std::vec::Vec<u8>) -> ::std::result::Result<(), ::std::string::String> {
                    __STATE.with(|s| $crate::__glue::merge_state::<$ty>(&mut s.borrow_mut(), &part))
                }
            }
    $crate::bindings::__export_plugin!(__Glue with_types_in $crate::bindings);
        };
    };
}

/// Exports a [`StreamDecoder`] as the component's `netcap:decoder/decoder` implementation (kind
/// `stream`: `decode` gets stream batches, see [`stream`]). Expands to nothing on native targets;
/// natively, drive the decoder with [`StreamRunner`].
#[macro_export]
macro_rules! export_stream_decoder {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::netcap::decoder::decoder as __w;
            struct __Glue;
            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<::std::option::Option<$crate::StreamRunner<$ty>>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            impl __w::Guest for __Glue {
                fn describe() -> __w::DecoderInfo {
                    $crate::__glue::info(<$ty as $crate::StreamDecoder>::describe())
                }
                fn init(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    __STATE.with(|s| $crate::__glue::stream_init::<$ty>(&mut s.borrow_mut(), config))
                }
                fn decode(batch: ::std::vec::Vec<u8>) -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::stream_decode::<$ty>(&mut s.borrow_mut(), &batch))
                }
                fn tick(now_nanos: i64, seq: u64) -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::stream_tick::<$ty>(&mut s.borrow_mut(), now_nanos, seq))
                }
                fn finish() -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::stream_finish::<$ty>(&mut s.borrow_mut()))
                }
                fn save_state() -> ::std::vec::Vec<u8> {
                    ::std::vec::Vec::new()
                }
                fn merge_state(_part: ::std::vec::Vec<u8>) -> ::std::result::Result<(), ::std::string::String> {
                    ::std::result::Result::Err("a stream decoder has no mergeable state".into())
                }
            }
    $crate::bindings::__export_plugin!(__Glue with_types_in $crate::bindings);
        };
    };
}

/// Exports a [`RecordDecoder`] as the component's `netcap:decoder/decoder` implementation (kind
/// `record`: `decode` gets record batches, see [`record`]). Expands to nothing on native targets;
/// natively, drive the decoder with [`record::run_decode`] on a [`record_batch`].
#[macro_export]
macro_rules! export_record_decoder {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::netcap::decoder::decoder as __w;
            struct __Glue;
            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            impl __w::Guest for __Glue {
                fn describe() -> __w::DecoderInfo {
                    $crate::__glue::info(<$ty as $crate::RecordDecoder>::describe())
                }
                fn init(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    __STATE.with(|s| $crate::__glue::record_init::<$ty>(&mut s.borrow_mut(), config))
                }
                fn decode(batch: ::std::vec::Vec<u8>) -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::record_decode::<$ty>(&mut s.borrow_mut(), &batch))
                }
                fn tick(_now_nanos: i64, _seq: u64) -> ::std::vec::Vec<u8> {
                    ::std::vec::Vec::new()
                }
                fn finish() -> ::std::vec::Vec<u8> {
                    __STATE.with(|s| $crate::__glue::record_finish::<$ty>(&mut s.borrow_mut()))
                }
                fn save_state() -> ::std::vec::Vec<u8> {
                    ::std::vec::Vec::new()
                }
                fn merge_state(_part: ::std::vec::Vec<u8>) -> ::std::result::Result<(), ::std::string::String> {
                    ::std::result::Result::Err("a record decoder has no mergeable state".into())
                }
            }
    $crate::bindings::__export_plugin!(__Glue with_types_in $crate::bindings);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trip() {
        let mut b = Vec::new();
        let layers = [
            Layer { id: layer::ETHERNET, flags: 0, offset: 0 },
            Layer { id: layer::IPV4, flags: layer::FLAG_TRUNCATED, offset: 14 },
        ];
        push_packet(&mut b, 7, -5, 1, 100, &layers, &[1, 2, 3]);
        push_packet(&mut b, 8, 9, 101, 3, &[], &[4, 5, 6]);
        let ps: Vec<_> = packets(&b).collect();
        assert_eq!(ps.len(), 2);
        assert_eq!((ps[0].seq, ps[0].ts_nanos, ps[0].link_type, ps[0].orig_len), (7, -5, 1, 100));
        assert_eq!(ps[0].data, &[1, 2, 3]);
        assert_eq!(ps[0].layers().collect::<Vec<_>>(), layers.to_vec());
        assert!(ps[0].layer(1).unwrap().truncated());
        assert_eq!(ps[1].layer_count(), 0);
        assert_eq!(ps[1].data, &[4, 5, 6]);
        // A batch cut inside a packet yields the complete packets before it.
        assert_eq!(packets(&b[..b.len() - 1]).count(), 1);
    }

    #[test]
    fn emitted_entries_read_back() {
        let mut out = Vec::new();
        let mut em = Emitter::new(&mut out, 5);
        em.error("x: y");
        em.set_seq(6);
        em.record(2, &String::from("ab"));
        let e: Vec<Entry<'_>> = entries(&out).map(Result::unwrap).collect();
        assert_eq!(e[0], Entry { tag: TAG_ERROR, seq: 5, bytes: b"x: y" });
        assert_eq!((e[1].tag, e[1].seq), (2, 6));
        assert_eq!(e.len(), 2);
        assert_eq!(entries(&out[..out.len() - 1]).filter_map(Result::ok).count(), 1, "a cut entry ends the iteration");
        let cut: Vec<_> = entries(&out[..out.len() - 1]).collect();
        assert_eq!(cut.last(), Some(&Err(BadEntry("output entry cut short"))));
        assert_eq!(cut.len(), 2);
    }

    #[test]
    fn a_full_chunk_is_marked_more_once() {
        let mut out = Vec::new();
        let mut em = Emitter::new(&mut out, u64::MAX);
        let big = vec![7u8; 1000];
        let mut n = 0;
        while !em.chunk_full() {
            em.record(0, &big);
            n += 1;
        }
        assert!(em.chunk_full() && em.more());
        assert!((CHUNK_BYTES / 1100..=CHUNK_BYTES / 1000 + 1).contains(&n), "{n}");
        let tags: Vec<u16> = entries(&out).map(|e| e.unwrap().tag).collect();
        assert_eq!(tags.iter().filter(|&&t| t == TAG_MORE).count(), 1);
        assert_eq!(tags.len(), n + 1);
    }

    #[test]
    fn packet_spans_cut_a_batch_into_packets() {
        let mut b = Vec::new();
        let l = [Layer { id: layer::ETHERNET, flags: 0, offset: 0 }];
        push_packet(&mut b, 3, 0, 1, 3, &l, &[1, 2, 3]);
        push_packet(&mut b, 9, 0, 1, 1, &[], &[4]);
        let spans: Vec<(u64, &[u8])> = packet_spans(&b).collect();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].1.len() + spans[1].1.len(), b.len());
        assert_eq!(packets(spans[1].1).next().map(|p| (p.seq, p.data)), Some((9, &[4u8][..])));
        assert_eq!(spans[0].0, 3);
    }

    #[test]
    fn entropy_matches_definition() {
        assert_eq!(entropy(&[]), 0.0);
        assert_eq!(entropy(&[7; 100]), 0.0);
        assert!((entropy(&[0, 1]) - 1.0).abs() < 1e-12);
        let all: Vec<u8> = (0..=255).collect();
        assert!((entropy(&all) - 8.0).abs() < 1e-12);
    }

    #[test]
    fn config_record_types() {
        let c = Config::new(vec![("record-types".into(), "TCP,UDP".into())]);
        assert!(c.record_type_enabled("TCP"));
        assert!(!c.record_type_enabled("IPv4"));
        assert!(Config::default().record_type_enabled("IPv4"));
    }
}
