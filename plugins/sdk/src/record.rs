//! Record decoders (WIT kind `record`): decoders over other decoders' records.
//!
//! The host feeds a record decoder **record batches**: entries `input u16 | seq u64 | LEB128
//! length | bytes`, the same framing as output batches, where `input` is the index of the record's
//! type in [`DecoderInfo::consumes`] and the bytes are its protobuf message. Records arrive in the
//! canonical output order (identical for any worker count), so a record decoder's output is
//! deterministic too. A record decoder gets no `tick`; time is in the records it reads.

use crate::{Config, DecoderInfo, Emitter, entries, put_uvarint};

/// One input record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRecord<'a> {
    /// Index of its type in [`DecoderInfo::consumes`].
    pub input: u16,
    /// The packet it belongs to (`u64::MAX`: emitted at the producer's end of input).
    pub seq: u64,
    /// Its protobuf message; decode it with the producer's message type (`prost`).
    pub bytes: &'a [u8],
}

/// A decoder over other decoders' records. One instance per run.
pub trait RecordDecoder: Sized + 'static {
    /// Static description (`kind` [`crate::Kind::Record`], `consumes` filled in).
    fn describe() -> DecoderInfo;
    /// Creates the decoder from its configuration.
    fn init(config: &Config) -> Result<Self, String>;
    /// One input record; emits records (they belong to the input's packet) and errors.
    fn decode(&mut self, record: &InputRecord<'_>, out: &mut Emitter<'_>);
    /// End of input (after every producer's last records): emit what is left, in a deterministic
    /// order, chunked with [`Emitter::chunk_full`] when it can be large.
    fn finish(&mut self, out: &mut Emitter<'_>) {
        let _ = out;
    }
}

/// The records of a record batch, in order; a malformed entry ends the iteration.
pub fn record_batch(batch: &[u8]) -> impl Iterator<Item = InputRecord<'_>> {
    entries(batch).map_while(Result::ok).map(|e| InputRecord { input: e.tag, seq: e.seq, bytes: e.bytes })
}

/// Appends one record to a record batch (the host builds batches with it; tests too).
pub fn push_record(batch: &mut Vec<u8>, input: u16, seq: u64, bytes: &[u8]) {
    batch.extend_from_slice(&input.to_le_bytes());
    batch.extend_from_slice(&seq.to_le_bytes());
    put_uvarint(batch, bytes.len() as u64);
    batch.extend_from_slice(bytes);
}

/// Decodes every record of `batch` with `d`, appending the output batch to `out`.
pub fn run_decode<D: RecordDecoder>(d: &mut D, batch: &[u8], out: &mut Vec<u8>) {
    for r in record_batch(batch) {
        let mut em = Emitter::new(out, r.seq);
        d.decode(&r, &mut em);
    }
}

/// Runs [`RecordDecoder::finish`], appending to `out`.
pub fn run_finish<D: RecordDecoder>(d: &mut D, out: &mut Vec<u8>) {
    let mut em = Emitter::new(out, u64::MAX);
    d.finish(&mut em);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_batches_round_trip() {
        let mut b = Vec::new();
        push_record(&mut b, 1, 7, b"abc");
        push_record(&mut b, 0, u64::MAX, &[0u8; 300]);
        let r: Vec<_> = record_batch(&b).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], InputRecord { input: 1, seq: 7, bytes: b"abc" });
        assert_eq!((r[1].input, r[1].seq, r[1].bytes.len()), (0, u64::MAX, 300));
        assert_eq!(record_batch(&b[..b.len() - 1]).count(), 1, "a cut record ends the batch");
    }
}
