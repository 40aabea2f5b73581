//! Reading record files (`.ncap`, `.ncap.zst`, `.ncap.gz`; compression detected from the content)
//! and `netcap dump`, which prints them as JSON lines, CSV, an aligned table, their field names or
//! their header — for any record type, through the schema in the file's header.
//!
//! Damage is reported once, with the number of good records before it and where it is: the byte
//! of the (decompressed) record stream where the first unreadable record starts, and how far into
//! the file the reader had got. zstd frame checksums and gzip's CRC-32 are checked, so a bit flip
//! in a compressed file is an error, never silently wrong values (`.ncap` without compression has
//! no checksum).

use crate::render::{Renderer, SchemaError};
use netcap_proto::v1::Header;
use prost::Message;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors reading a record file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
    #[error("{path} is not a netcap record file: its first message is not a header")]
    NoHeader { path: PathBuf },
    #[error("{path} is cut short after {records} records (at byte {offset} of the record stream)")]
    Truncated { path: PathBuf, records: u64, offset: u64 },
    #[error(
        "{path} is damaged after {records} records: {reason} (the next record starts at byte {offset} of the record stream; detected at byte {file_offset} of the file)"
    )]
    Damaged { path: PathBuf, records: u64, offset: u64, file_offset: u64, reason: String },
    #[error("{path}: {source}")]
    Schema {
        path: PathBuf,
        #[source]
        source: SchemaError,
    },
}

/// Longest record accepted (protects against reading garbage as a huge length).
const MAX_RECORD_BYTES: u64 = 256 << 20;

/// A record file opened for reading.
pub struct RecordFile {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    pub header: Header,
    /// Records read so far (complete and good).
    pub records: u64,
    /// Bytes of the record stream (decompressed) read so far: where the next message starts.
    offset: u64,
    /// Bytes of the file the reader (and its decompressor) consumed so far.
    file_offset: Arc<AtomicU64>,
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

impl RecordFile {
    /// Opens a record file and reads its header.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let f = File::open(path).map_err(|source| ReadError::Open { path: path.into(), source })?;
        Self::from_reader(path, f)
    }

    /// Reads a record file from `f` (`path` names it in messages): detects the compression and
    /// reads the header.
    pub(crate) fn from_reader(path: &Path, mut f: impl Read + 'static) -> Result<Self, ReadError> {
        let mut magic = [0u8; 4];
        let n = read_full(&mut f, &mut magic).map_err(|source| ReadError::Open { path: path.into(), source })?;
        if n == 0 {
            return Err(ReadError::Empty { path: path.into() });
        }
        let file_offset = Arc::new(AtomicU64::new(0));
        let head = Counting { inner: io::Cursor::new(magic[..n].to_vec()).chain(f), n: file_offset.clone() };
        let reader: Box<dyn BufRead> = if magic[..n] == [0x28, 0xb5, 0x2f, 0xfd] {
            let dec = zstd::stream::read::Decoder::new(head)
                .map_err(|source| ReadError::Open { path: path.into(), source })?;
            Box::new(BufReader::with_capacity(256 << 10, dec))
        } else if magic[..n.min(2)] == [0x1f, 0x8b] {
            Box::new(BufReader::with_capacity(256 << 10, flate2::read::MultiGzDecoder::new(head)))
        } else {
            Box::new(BufReader::with_capacity(256 << 10, head))
        };
        let mut rf =
            RecordFile { path: path.into(), reader, header: Header::default(), records: 0, offset: 0, file_offset };
        let mut buf = Vec::new();
        match rf.next_message(&mut buf) {
            Ok(true) => {}
            Ok(false) => return Err(ReadError::NoHeader { path: path.into() }),
            Err(_) => return Err(ReadError::NoHeader { path: path.into() }),
        }
        rf.header = Header::decode(buf.as_slice()).map_err(|_| ReadError::NoHeader { path: path.into() })?;
        if rf.header.record_type.is_empty() || rf.header.message_name.is_empty() {
            return Err(ReadError::NoHeader { path: path.into() });
        }
        Ok(rf)
    }

    /// A renderer for the file's records.
    pub fn renderer(&self) -> Result<Renderer, ReadError> {
        Renderer::new(&self.header.schema, &self.header.message_name)
            .map_err(|source| ReadError::Schema { path: self.path.clone(), source })
    }

    /// Reads the next record's protobuf bytes into `buf`; `Ok(false)` at the end.
    pub fn next_record(&mut self, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
        let r = self.next_message(buf)?;
        if r {
            self.records += 1;
        }
        Ok(r)
    }

    /// The error for damage found at the current record (`reason`).
    pub fn damaged(&self, reason: impl Into<String>) -> ReadError {
        ReadError::Damaged {
            path: self.path.clone(),
            records: self.records,
            offset: self.offset,
            file_offset: self.file_offset.load(Ordering::Relaxed),
            reason: reason.into(),
        }
    }

    fn truncated(&self) -> ReadError {
        ReadError::Truncated { path: self.path.clone(), records: self.records, offset: self.offset }
    }

    fn io_error(&self, e: io::Error) -> ReadError {
        if e.kind() == io::ErrorKind::UnexpectedEof { self.truncated() } else { self.damaged(e.to_string()) }
    }

    fn next_message(&mut self, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
        let mut len: u64 = 0;
        let mut shift = 0;
        let mut used = 0u64;
        loop {
            let mut b = [0u8; 1];
            let n = read_full(&mut self.reader, &mut b).map_err(|e| self.io_error(e))?;
            if n == 0 {
                if used == 0 {
                    return Ok(false);
                }
                return Err(self.truncated());
            }
            used += 1;
            len |= u64::from(b[0] & 0x7f) << shift;
            if b[0] < 0x80 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(self.damaged("record length is not a varint"));
            }
        }
        if len > MAX_RECORD_BYTES {
            return Err(self.damaged(format!("record length {len} is implausible")));
        }
        // Through `take`, into a buffer that grows with what arrives: a damaged length field
        // costs the bytes that are there, never `len` up front.
        buf.clear();
        let n = (&mut self.reader).take(len).read_to_end(buf).map_err(|e| self.io_error(e))?;
        if (n as u64) < len {
            return Err(self.truncated());
        }
        self.offset += used + len;
        Ok(true)
    }
}

/// Bytes of `n` as a uvarint.
fn uvarint_len(n: u64) -> u64 {
    u64::from((64 - (n | 1).leading_zeros()).div_ceil(7))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How `dump` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpMode {
    Json,
    Csv,
    Table,
    Fields,
    Header,
}

/// Rows per table block: column widths are measured over each block.
const TABLE_BLOCK: usize = 1000;

/// `netcap dump`: prints every good record. Returns the damage (or cut) that ended the file
/// early, if any, for the caller to report once (exit code 1).
pub fn dump(
    path: &Path,
    mode: DumpMode,
    select: &[String],
    out: &mut dyn Write,
) -> Result<Option<ReadError>, DumpError> {
    dump_from(RecordFile::open(path)?, mode, select, out)
}

/// `netcap dump --kafka`: prints the records of a `.ncap` record stream held in memory (what
/// `crate::kafka::read_topic` assembled), named `name` in messages.
pub fn dump_stream(
    name: &str,
    stream: Vec<u8>,
    mode: DumpMode,
    select: &[String],
    out: &mut dyn Write,
) -> Result<Option<ReadError>, DumpError> {
    dump_from(RecordFile::from_reader(Path::new(name), io::Cursor::new(stream))?, mode, select, out)
}

fn dump_from(
    mut rf: RecordFile,
    mode: DumpMode,
    select: &[String],
    out: &mut dyn Write,
) -> Result<Option<ReadError>, DumpError> {
    let mut r = rf.renderer()?;
    if !select.is_empty() {
        r.select(select).map_err(|source| ReadError::Schema { path: rf.path.clone(), source })?;
    }
    match mode {
        DumpMode::Header => {
            let h = &rf.header;
            writeln!(out, "record type:     {}", h.record_type)?;
            writeln!(out, "message:         {}", h.message_name)?;
            writeln!(out, "created:         {}", h.created)?;
            writeln!(out, "input source:    {}", h.input_source)?;
            writeln!(out, "netcap version:  {}", h.version)?;
            writeln!(out, "decoder:         {} {}", h.decoder, h.decoder_version)?;
            writeln!(out, "wit version:     {}", h.wit_version)?;
            writeln!(out, "payloads:        {}", h.contains_payloads)?;
            writeln!(out, "schema:          {} bytes", h.schema.len())?;
            return Ok(None);
        }
        DumpMode::Fields => {
            writeln!(out, "{}", r.header().join(","))?;
            return Ok(None);
        }
        _ => {}
    }
    let mut buf = Vec::new();
    let mut line = String::new();
    let mut cells = Vec::new();
    let end = match mode {
        DumpMode::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(r.header()).map_err(io::Error::other)?;
            let end = each_record(&mut rf, &r, &mut buf, |msg| {
                r.cells(msg, &mut cells);
                w.write_record(cells.iter()).map_err(io::Error::other)
            })?;
            w.flush()?;
            end
        }
        DumpMode::Table => {
            let header = r.header();
            let mut table: Vec<Vec<String>> = Vec::new();
            let mut widths: Option<Vec<usize>> = None;
            let end = each_record(&mut rf, &r, &mut buf, |msg| {
                r.cells(msg, &mut cells);
                table.push(std::mem::take(&mut cells));
                if table.len() >= TABLE_BLOCK {
                    write_table(&header, &mut table, &mut widths, out)?;
                }
                Ok(())
            })?;
            write_table(&header, &mut table, &mut widths, out)?;
            writeln!(out, "{} records.", rf.records)?;
            end
        }
        _ => each_record(&mut rf, &r, &mut buf, |msg| {
            r.json(msg, &mut line);
            line.push('\n');
            out.write_all(line.as_bytes())
        })?,
    };
    out.flush()?;
    Ok(end)
}

/// Calls `f` for every record; returns the read error that ended the file early, if any.
fn each_record(
    rf: &mut RecordFile,
    r: &Renderer,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&prost_reflect::DynamicMessage) -> io::Result<()>,
) -> Result<Option<ReadError>, DumpError> {
    loop {
        match rf.next_record(buf) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Ok(Some(e)),
        }
        match r.decode(buf) {
            Ok(m) => f(&m)?,
            Err(e) => {
                // The record was read but is not good: it does not count.
                rf.records -= 1;
                rf.offset -= buf.len() as u64 + uvarint_len(buf.len() as u64);
                return Ok(Some(rf.damaged(format!("the record does not decode ({e})"))));
            }
        }
    }
}

fn write_table(
    header: &[String],
    rows: &mut Vec<Vec<String>>,
    widths: &mut Option<Vec<usize>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    if widths.is_none() {
        let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in rows.iter() {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line: Vec<String> = header.iter().enumerate().map(|(i, h)| format!("{h:<width$}", width = w[i])).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
        *widths = Some(w);
    }
    let w = widths.as_ref().expect("widths were just set");
    for r in rows.drain(..) {
        let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = w[i])).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

/// Errors of `dump`.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("writing output")]
    Write(#[from] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_length_costs_the_bytes_present_not_the_length() {
        let header = Header { record_type: "T".into(), message_name: "m.T".into(), ..Default::default() };
        let mut file = Vec::new();
        netcap_proto::put_uvarint(&mut file, header.encoded_len() as u64);
        file.extend_from_slice(&header.encode_to_vec());
        let header_len = file.len() as u64;
        // A length field of 200 MiB followed by 7 bytes: the file ends long before.
        netcap_proto::put_uvarint(&mut file, 200 << 20);
        file.extend_from_slice(b"garbage");
        let mut rf = RecordFile::from_reader(Path::new("t.ncap"), io::Cursor::new(file)).unwrap();
        let mut buf = Vec::new();
        match rf.next_record(&mut buf) {
            Err(ReadError::Truncated { records: 0, offset, .. }) => assert_eq!(offset, header_len),
            other => panic!("expected a cut record, got {other:?}"),
        }
        assert!(buf.capacity() < 1 << 20, "allocated {} bytes for 7", buf.capacity());
    }
}
