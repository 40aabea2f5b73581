//! Reading record files (`.ncap`, `.ncap.zst`, `.ncap.gz`; compression detected from the content)
//! and `netcap dump`, which prints them as JSON lines, CSV, an aligned table, their field names or
//! their header — for any record type, through the schema in the file's header.

use crate::render::{Renderer, SchemaError};
use netcap_proto::v1::Header;
use prost::Message;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

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
    #[error("{path} is cut short after {records} records")]
    Truncated { path: PathBuf, records: u64 },
    #[error("reading {path} after {records} records")]
    Read {
        path: PathBuf,
        records: u64,
        #[source]
        source: io::Error,
    },
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
    pub records: u64,
}

impl RecordFile {
    /// Opens a record file and reads its header.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let mut f = File::open(path).map_err(|source| ReadError::Open { path: path.into(), source })?;
        let mut magic = [0u8; 4];
        let n = read_full(&mut f, &mut magic).map_err(|source| ReadError::Open { path: path.into(), source })?;
        if n == 0 {
            return Err(ReadError::Empty { path: path.into() });
        }
        let head = io::Cursor::new(magic[..n].to_vec()).chain(f);
        let reader: Box<dyn BufRead> = if magic[..n] == [0x28, 0xb5, 0x2f, 0xfd] {
            let dec = zstd::stream::read::Decoder::new(head)
                .map_err(|source| ReadError::Open { path: path.into(), source })?;
            Box::new(BufReader::with_capacity(256 << 10, dec))
        } else if magic[..n.min(2)] == [0x1f, 0x8b] {
            Box::new(BufReader::with_capacity(256 << 10, flate2::read::MultiGzDecoder::new(head)))
        } else {
            Box::new(BufReader::with_capacity(256 << 10, head))
        };
        let mut rf = RecordFile { path: path.into(), reader, header: Header::default(), records: 0 };
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

    fn next_message(&mut self, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
        let records = self.records;
        let path = self.path.clone();
        let io_err = |source: io::Error| {
            if source.kind() == io::ErrorKind::UnexpectedEof {
                ReadError::Truncated { path: path.clone(), records }
            } else {
                ReadError::Read { path: path.clone(), records, source }
            }
        };
        let mut len: u64 = 0;
        let mut shift = 0;
        let mut first = true;
        loop {
            let mut b = [0u8; 1];
            let n = read_full(&mut self.reader, &mut b).map_err(&io_err)?;
            if n == 0 {
                if first {
                    return Ok(false);
                }
                return Err(ReadError::Truncated { path: self.path.clone(), records });
            }
            first = false;
            len |= u64::from(b[0] & 0x7f) << shift;
            if b[0] < 0x80 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(ReadError::Truncated { path: self.path.clone(), records });
            }
        }
        if len > MAX_RECORD_BYTES {
            return Err(ReadError::Truncated { path: self.path.clone(), records });
        }
        buf.resize(len as usize, 0);
        let n = read_full(&mut self.reader, buf).map_err(io_err)?;
        if n < buf.len() {
            return Err(ReadError::Truncated { path: self.path.clone(), records });
        }
        Ok(true)
    }
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

/// `netcap dump`. Returns the exit code: 0, or 1 when the file was cut short.
pub fn dump(path: &Path, mode: DumpMode, select: &[String], out: &mut dyn Write) -> Result<u8, DumpError> {
    let mut rf = RecordFile::open(path)?;
    let mut r = rf.renderer()?;
    if !select.is_empty() {
        r.select(select).map_err(|source| ReadError::Schema { path: path.into(), source })?;
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
            return Ok(0);
        }
        DumpMode::Fields => {
            writeln!(out, "{}", r.header().join(","))?;
            return Ok(0);
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
    match end {
        None => Ok(0),
        Some(e @ ReadError::Truncated { .. }) => {
            let _ = writeln!(io::stderr(), "netcap: {e}");
            Ok(1)
        }
        Some(e) => Err(e.into()),
    }
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
                return Ok(Some(ReadError::Read {
                    path: rf.path.clone(),
                    records: rf.records,
                    source: io::Error::other(e),
                }));
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
                w[i] = w[i].max(c.chars().count().min(60));
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
