//! Parquet record files (`--format parquet`, `netcap convert --to parquet`): one `<Type>.parquet`
//! per record type, or with `--partition` a Hive-style `<Type>/date=YYYY-MM-DD/part-N.parquet`
//! tree, written with the Apache Arrow `parquet` crate.
//!
//! The Arrow schema is derived from the record's protobuf schema (the FileDescriptorSet that
//! `.ncap` headers carry), so third-party record types work like netcap's own
//! ([`columns`] has the mapping). Records are appended one by one into Arrow builders, handed to the
//! Parquet writer every [`BATCH_ROWS`] records, and written out as zstd-compressed row groups of at
//! most [`ROW_GROUP_ROWS`] rows: memory is bounded by a row group per open file, never a file.
//! The bytes depend only on the records and their order (no creation time in the footer), so the
//! files are identical for any worker count.
//!
//! A Parquet file is readable only once its footer is written: files are finished at the end of
//! the run (a signal ends the run cleanly), and a periodic `flush` does nothing for them (ending a
//! row group every second would make tiny ones without making the file readable).

pub mod columns;

use crate::parquet_out::columns::MessageColumns;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use netcap_proto::v1::Header;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Records per Arrow batch handed to the Parquet writer.
pub const BATCH_ROWS: usize = 8192;
/// Most rows in one row group.
pub const ROW_GROUP_ROWS: usize = 65536;
/// Partition files of one record type open at once; the least recently written one is finished
/// when another date starts (a later record of its date then goes to the next `part-N`).
pub const MAX_OPEN_PARTITIONS: usize = 4;
/// zstd level of the column chunks (fast, as the `.ncap.zst` output).
const ZSTD_LEVEL: i32 = 1;
const FILE_BUFFER_BYTES: usize = 256 << 10;

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// The record type a Parquet writer writes: its descriptor, Arrow schema and file metadata.
#[derive(Clone)]
struct TypeSchema {
    desc: MessageDescriptor,
    arrow: SchemaRef,
    /// Top-level column whose value dates a record for `--partition`, if the type has a timestamp.
    date_index: Option<usize>,
    /// Date of records of a type without timestamp: the header's `created` time.
    created: i64,
    props: Arc<WriterProperties>,
}

impl TypeSchema {
    fn new(header: &Header) -> io::Result<Self> {
        let pool = DescriptorPool::decode(header.schema.as_slice())
            .map_err(|e| other(format!("record type {}: the schema is not valid: {e}", header.record_type)))?;
        let desc = pool.get_message_by_name(&header.message_name).ok_or_else(|| {
            other(format!("record type {}: the schema does not define {}", header.record_type, header.message_name))
        })?;
        let cols = MessageColumns::new(&desc);
        let arrow = cols.schema();
        if arrow.fields().is_empty() {
            return Err(other(format!("record type {}: no field can be a Parquet column", header.record_type)));
        }
        let date_index = desc.fields().find(columns::is_timestamp).and_then(|f| cols.index_of(f.name()));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).map_err(other)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_key_value_metadata(Some(metadata(header)))
            .build();
        Ok(TypeSchema { desc, arrow, date_index, created: header.created, props: Arc::new(props) })
    }
}

/// The netcap header fields kept in the file's key-value metadata (`netcap.*`).
fn metadata(h: &Header) -> Vec<KeyValue> {
    let kv = |k: &str, v: String| KeyValue::new(format!("netcap.{k}"), v);
    vec![
        kv("record_type", h.record_type.clone()),
        kv("message_name", h.message_name.clone()),
        kv("created", h.created.to_string()),
        kv("input_source", h.input_source.clone()),
        kv("version", h.version.clone()),
        kv("decoder", h.decoder.clone()),
        kv("decoder_version", h.decoder_version.clone()),
        kv("wit_version", h.wit_version.clone()),
        kv("contains_payloads", h.contains_payloads.to_string()),
    ]
}

/// One open Parquet file: the Arrow builders of the batch being filled, and the writer.
struct OpenFile {
    cols: MessageColumns,
    rows: usize,
    w: ArrowWriter<BufWriter<File>>,
}

impl OpenFile {
    fn create(ty: &TypeSchema, path: &Path, manifest: Option<&crate::outdir::Manifest>) -> io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = crate::outdir::create(manifest, path)?;
        let w = ArrowWriter::try_new(
            BufWriter::with_capacity(FILE_BUFFER_BYTES, file),
            ty.arrow.clone(),
            Some(ty.props.as_ref().clone()),
        )
        .map_err(other)?;
        Ok(OpenFile { cols: MessageColumns::new(&ty.desc), rows: 0, w })
    }

    /// Appends a record that the type's checker accepted.
    fn append(&mut self, ty: &TypeSchema, bytes: &[u8]) -> io::Result<()> {
        self.cols.push_checked(bytes).map_err(other)?;
        self.rows += 1;
        if self.rows >= BATCH_ROWS { self.write_batch(ty) } else { Ok(()) }
    }

    fn write_batch(&mut self, ty: &TypeSchema) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        self.rows = 0;
        let batch =
            RecordBatch::try_new(ty.arrow.clone(), self.cols.finish_columns().map_err(other)?).map_err(other)?;
        self.w.write(&batch).map_err(other)
    }

    fn finish(mut self, ty: &TypeSchema) -> io::Result<()> {
        self.write_batch(ty)?;
        let mut inner = self.w.into_inner().map_err(other)?;
        io::Write::flush(&mut inner)
    }
}

/// A date partition's files: the open one, and how many were started.
struct Partition {
    open: Option<OpenFile>,
    parts: u32,
    /// When it was last written (a counter), for finishing the least recently written.
    last: u64,
}

/// Where one record type's records go.
enum Target {
    Single(Option<Box<OpenFile>>),
    Partitioned { dir: PathBuf, parts: HashMap<i64, Partition>, clock: u64 },
}

/// Writes the records of one type into Parquet.
pub struct TypeWriter {
    ty: TypeSchema,
    /// Checks each record (and finds its date) before any file's columns take it.
    checker: MessageColumns,
    target: Target,
    manifest: Option<Arc<crate::outdir::Manifest>>,
    path: PathBuf,
}

impl TypeWriter {
    /// A writer of `header`'s record type to `out/<Type>.parquet`, or with `partition` below
    /// `out/<Type>/`. Nothing is created before the first record.
    pub fn new(
        header: &Header,
        out: &Path,
        partition: bool,
        manifest: Option<Arc<crate::outdir::Manifest>>,
    ) -> io::Result<Self> {
        let ty = TypeSchema::new(header)?;
        let (path, target) = if partition {
            let dir = out.join(&header.record_type);
            (dir.clone(), Target::Partitioned { dir, parts: HashMap::new(), clock: 0 })
        } else {
            (out.join(format!("{}.parquet", header.record_type)), Target::Single(None))
        };
        let checker = MessageColumns::new(&ty.desc);
        Ok(TypeWriter { ty, checker, target, manifest, path })
    }

    /// The file, or with partitions the type's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (protobuf bytes); a malformed one is an error and is not written.
    pub fn append_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.check(bytes).map_err(other)?;
        self.append_checked(bytes)
    }

    /// Checks one record's encoding against the schema.
    pub fn check(&mut self, bytes: &[u8]) -> Result<(), columns::WireError> {
        self.checker.check(bytes)
    }

    /// Appends the record [`Self::check`] accepted last.
    pub fn append_checked(&mut self, bytes: &[u8]) -> io::Result<()> {
        let manifest = self.manifest.as_deref();
        match &mut self.target {
            Target::Single(open) => {
                if open.is_none() {
                    *open = Some(Box::new(OpenFile::create(&self.ty, &self.path, manifest)?));
                }
                open.as_mut().expect("opened above").append(&self.ty, bytes)
            }
            Target::Partitioned { dir, parts, clock } => {
                let ts = match self.ty.date_index {
                    Some(i) => self.checker.pending_i64(i),
                    None => self.ty.created,
                };
                let day = ts.div_euclid(NS_PER_DAY);
                *clock += 1;
                if parts.get(&day).is_none_or(|p| p.open.is_none()) {
                    finish_oldest(parts, &self.ty)?;
                    let p = parts.entry(day).or_insert(Partition { open: None, parts: 0, last: 0 });
                    let path = dir.join(format!("date={}", civil_date(day))).join(format!("part-{}.parquet", p.parts));
                    p.parts += 1;
                    p.open = Some(OpenFile::create(&self.ty, &path, manifest)?);
                }
                let p = parts.get_mut(&day).expect("partition opened above");
                p.last = *clock;
                p.open.as_mut().expect("opened above").append(&self.ty, bytes)
            }
        }
    }

    /// Writes the last batch and the footer of every open file.
    pub fn finish(self) -> io::Result<()> {
        let mut first_err = None;
        let mut done = |f: OpenFile| {
            if let Err(e) = f.finish(&self.ty) {
                first_err.get_or_insert(e);
            }
        };
        match self.target {
            Target::Single(open) => open.into_iter().for_each(|f| done(*f)),
            Target::Partitioned { parts, .. } => {
                let mut dates: Vec<_> = parts.into_iter().collect();
                dates.sort_by_key(|d| d.0);
                dates.into_iter().filter_map(|(_, p)| p.open).for_each(&mut done);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Finishes the least recently written partition file when [`MAX_OPEN_PARTITIONS`] are open.
fn finish_oldest(parts: &mut HashMap<i64, Partition>, ty: &TypeSchema) -> io::Result<()> {
    let open = parts.values().filter(|p| p.open.is_some()).count();
    if open < MAX_OPEN_PARTITIONS {
        return Ok(());
    }
    let oldest = parts.values_mut().filter(|p| p.open.is_some()).min_by_key(|p| p.last);
    match oldest.and_then(|p| p.open.take()) {
        Some(f) => f.finish(ty),
        None => Ok(()),
    }
}

const NS_PER_DAY: i64 = 86_400_000_000_000;

/// `YYYY-MM-DD` (UTC) of a time in ns since the epoch.
pub fn utc_date(ns: i64) -> String {
    civil_date(ns.div_euclid(NS_PER_DAY))
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (the civil-from-days algorithm of Howard
/// Hinnant's date library).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// What `netcap convert` did with one record file.
#[derive(Debug)]
pub struct Converted {
    pub source: PathBuf,
    pub record_type: String,
    pub records: u64,
    pub path: PathBuf,
    /// Why the source ended early (damage), if it did: the records before it were converted.
    pub damage: Option<crate::dump::ReadError>,
}

/// Errors of `netcap convert`.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Read(#[from] crate::dump::ReadError),
    #[error("reading {dir}")]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{dir} has no record files (.ncap, .ncap.zst, .ncap.gz)")]
    NoFiles { dir: PathBuf },
    #[error("{path} exists: remove it or choose another output directory")]
    Exists { path: PathBuf },
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Converts one `.ncap*` record file into Parquet below `out`.
pub fn convert_file(src: &Path, out: &Path, partition: bool) -> Result<Converted, ConvertError> {
    let mut rf = crate::dump::RecordFile::open(src)?;
    let header = rf.header.clone();
    let dest =
        if partition { out.join(&header.record_type) } else { out.join(format!("{}.parquet", header.record_type)) };
    if dest.exists() {
        return Err(ConvertError::Exists { path: dest });
    }
    let write = |source| ConvertError::Write { path: dest.clone(), source };
    let mut w = TypeWriter::new(&header, out, partition, None).map_err(write)?;
    let mut buf = Vec::new();
    let damage = loop {
        match rf.next_record(&mut buf) {
            Ok(true) => {}
            Ok(false) => break None,
            Err(e) => break Some(e),
        }
        if let Err(e) = w.check(&buf) {
            rf.records -= 1;
            break Some(rf.damaged(format!("the record does not decode ({e})")));
        }
        w.append_checked(&buf).map_err(write)?;
    };
    let path = w.path().to_path_buf();
    w.finish().map_err(write)?;
    Ok(Converted { source: src.into(), record_type: header.record_type, records: rf.records, path, damage })
}

/// An error with its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

/// The `.ncap`, `.ncap.zst` and `.ncap.gz` files of `dir`, sorted by name.
pub fn record_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            p.is_file() && [".ncap", ".ncap.zst", ".ncap.gz"].iter().any(|x| name.ends_with(x))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// `netcap convert DIR --to parquet`: every record file of `dir` into `out` (default `dir`).
/// Returns the exit code: 1 when a file was damaged (its good records are converted) or could
/// not be converted (the others still are).
pub fn convert(dir: &Path, out: Option<&Path>, partition: bool, quiet: bool) -> Result<u8, ConvertError> {
    let files = record_files(dir).map_err(|source| ConvertError::ReadDir { dir: dir.into(), source })?;
    if files.is_empty() {
        return Err(ConvertError::NoFiles { dir: dir.into() });
    }
    let out = out.unwrap_or(dir);
    std::fs::create_dir_all(out).map_err(|source| ConvertError::Write { path: out.into(), source })?;
    let mut code = 0;
    for f in &files {
        match convert_file(f, out, partition) {
            Ok(c) => {
                if !quiet {
                    println!("{} records  {} -> {}", c.records, c.record_type, c.path.display());
                }
                if let Some(e) = c.damage {
                    eprintln!("netcap: {e} (the {} records before it were converted)", c.records);
                    code = 1;
                }
            }
            Err(e) => {
                eprintln!("netcap: {}: {}", f.display(), chain(&e));
                code = 1;
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date(1_600_000_000_123_456_789), "2020-09-13");
        assert_eq!(utc_date(951_782_400 * 1_000_000_000), "2000-02-29");
        assert_eq!(utc_date(i64::MAX), "2262-04-11");
    }
}
