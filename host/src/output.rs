//! Record files: one per record type, created on its first record (types with no records leave
//! no file), named `<Type>.ncap.zst` / `.ncap.gz` / `.ncap`, `<Type>.csv` / `<Type>.json`, or
//! `<Type>.parquet` (with `--partition` a `<Type>/date=YYYY-MM-DD/` tree; see `parquet_out`).
//!
//! A `.ncap*` file is a sequence of uvarint-length-delimited protobuf messages, the first a
//! `netcap.v1.Header` that carries the record schema. The writer merges the workers' runs of each
//! epoch by packet sequence number, so files are byte-identical for any worker count. Files are
//! finished on every exit path (including errors), so what was written stays readable.
//!
//! zstd frames carry a content checksum, so a damaged file is detected when read. `flush` (called
//! periodically in live captures) ends the current zstd frame or gzip member and writes it out, so
//! a file cut at any later point (SIGKILL, power loss after the OS wrote it back) is readable up
//! to there. A file whose write failed is marked incomplete with the error.

use crate::render::Renderer;
use crate::worker::Run;
use netcap_proto::v1::Header;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Output compression for `.ncap` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    Zstd,
    Gzip,
    None,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ncap(Compression),
    Csv,
    Json,
    /// Parquet; `partition`: Hive-style `<Type>/date=YYYY-MM-DD/part-N.parquet`.
    Parquet {
        partition: bool,
    },
}

impl Format {
    /// File name suffix.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Ncap(Compression::Zstd) => ".ncap.zst",
            Format::Ncap(Compression::Gzip) => ".ncap.gz",
            Format::Ncap(Compression::None) => ".ncap",
            Format::Csv => ".csv",
            Format::Json => ".json",
            Format::Parquet { .. } => ".parquet",
        }
    }
}

/// Every suffix a record file can have.
pub const ALL_EXTENSIONS: &[&str] = &[".ncap.zst", ".ncap.gz", ".ncap", ".csv", ".json", ".parquet"];

/// zstd level: fast, and still ~4x smaller than gzip's fastest level produces on records.
const ZSTD_LEVEL: i32 = 1;
const FILE_BUFFER_BYTES: usize = 256 << 10;

/// One record type to write.
#[derive(Debug, Clone)]
pub struct TypeOut {
    pub name: String,
    pub message: String,
    pub decoder: String,
    pub decoder_version: String,
    pub wit_version: String,
    pub schema: Arc<Vec<u8>>,
    /// Whether the user asked for the type: a type produced only because a record decoder reads
    /// it is not written.
    pub written: bool,
}

/// Static output settings.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub dir: PathBuf,
    pub format: Format,
    pub input_source: String,
    pub payload: bool,
    /// The output directory's manifest, told of every file before it is created.
    pub manifest: Option<Arc<crate::outdir::Manifest>>,
    /// `--kafka`: records go to the producer's topics instead of files (`crate::kafka`).
    pub kafka: Option<Arc<crate::kafka::Producer>>,
}

enum Stream {
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Plain(BufWriter<File>),
}

fn zstd_encoder(f: BufWriter<File>) -> io::Result<zstd::stream::write::Encoder<'static, BufWriter<File>>> {
    let mut e = zstd::stream::write::Encoder::new(f, ZSTD_LEVEL)?;
    e.include_checksum(true)?;
    Ok(e)
}

fn gzip_encoder(f: BufWriter<File>) -> flate2::write::GzEncoder<BufWriter<File>> {
    flate2::write::GzEncoder::new(f, flate2::Compression::fast())
}

impl Stream {
    fn open(file: File, compression: Compression) -> io::Result<Self> {
        let f = BufWriter::with_capacity(FILE_BUFFER_BYTES, file);
        Ok(match compression {
            Compression::Zstd => Stream::Zstd(zstd_encoder(f)?),
            Compression::Gzip => Stream::Gzip(gzip_encoder(f)),
            Compression::None => Stream::Plain(f),
        })
    }

    /// Ends the zstd frame or gzip member, writes everything out and starts a new one: the file
    /// is complete up to here (readers read concatenated frames and members).
    fn end_frame(self) -> io::Result<Self> {
        Ok(match self {
            Stream::Zstd(e) => {
                let mut f = e.finish()?;
                f.flush()?;
                Stream::Zstd(zstd_encoder(f)?)
            }
            Stream::Gzip(e) => {
                let mut f = e.finish()?;
                f.flush()?;
                Stream::Gzip(gzip_encoder(f))
            }
            Stream::Plain(mut f) => {
                f.flush()?;
                Stream::Plain(f)
            }
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Stream::Zstd(e) => e,
            Stream::Gzip(e) => e,
            Stream::Plain(w) => w,
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Stream::Zstd(e) => e.finish()?.flush(),
            Stream::Gzip(e) => e.finish()?.flush(),
            Stream::Plain(mut w) => w.flush(),
        }
    }
}

enum Sink {
    Ncap(Stream),
    Csv { w: Box<csv::Writer<BufWriter<File>>>, r: Box<Renderer>, cells: Vec<String> },
    Json { w: BufWriter<File>, r: Box<Renderer>, line: String },
    Kafka(Box<crate::kafka::TopicSink>),
    Parquet(Box<crate::parquet_out::TypeWriter>),
}

/// Writes every record type's file.
pub struct Writer {
    cfg: OutputConfig,
    types: Vec<TypeOut>,
    sinks: Vec<Option<Sink>>,
    counts: Vec<u64>,
    /// Types written to since the last `flush`.
    dirty: Vec<bool>,
    /// Types whose file failed (the first error): their files are incomplete.
    failed: Vec<Option<String>>,
    /// Header `created`: the first packet's time.
    created: i64,
}

/// One finished record type: name, records handed to its file, path, and why the file is
/// incomplete (a write error), if it is.
pub type Written = (String, u64, PathBuf, Option<String>);

impl Writer {
    pub fn new(cfg: OutputConfig, types: Vec<TypeOut>) -> Self {
        let n = types.len();
        Writer {
            cfg,
            types,
            sinks: (0..n).map(|_| None).collect(),
            counts: vec![0; n],
            dirty: vec![false; n],
            failed: vec![None; n],
            created: 0,
        }
    }

    /// Sets the header's `created` time (before the first record is written).
    pub fn set_created(&mut self, ts: i64) {
        self.created = ts;
    }

    /// Type `t`'s file (with `--partition`, its directory).
    pub fn path_of(&self, t: usize) -> PathBuf {
        if let Some(k) = &self.cfg.kafka {
            return PathBuf::from(k.topic_name(&self.types[t].name));
        }
        match self.cfg.format {
            Format::Parquet { partition: true } => self.cfg.dir.join(&self.types[t].name),
            f => self.cfg.dir.join(format!("{}{}", self.types[t].name, f.extension())),
        }
    }

    fn sink(&mut self, t: usize) -> io::Result<&mut Sink> {
        self.dirty[t] = true;
        if self.sinks[t].is_none()
            && let Some(k) = &self.cfg.kafka
        {
            self.sinks[t] = Some(Sink::Kafka(Box::new(k.topic(&self.header(t))?)));
        }
        if self.sinks[t].is_none()
            && let Format::Parquet { partition } = self.cfg.format
        {
            // The Parquet writer creates its files (a partition's only when a record has its date).
            let w = crate::parquet_out::TypeWriter::new(
                &self.header(t),
                &self.cfg.dir,
                partition,
                self.cfg.manifest.clone(),
            )?;
            self.sinks[t] = Some(Sink::Parquet(Box::new(w)));
        }
        if self.sinks[t].is_none() {
            let path = self.path_of(t);
            let file = crate::outdir::create(self.cfg.manifest.as_deref(), &path)?;
            let ty = &self.types[t];
            let renderer = || {
                Renderer::new(&ty.schema, &ty.message)
                    .map_err(|e| io::Error::other(format!("record type {}: {e}", ty.name)))
            };
            let sink = match self.cfg.format {
                Format::Ncap(c) => {
                    let mut s = Stream::open(file, c)?;
                    let mut buf = Vec::new();
                    netcap_proto::put_delimited(&mut buf, &self.header(t));
                    s.writer().write_all(&buf)?;
                    Sink::Ncap(s)
                }
                Format::Csv => {
                    let r = renderer()?;
                    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(FILE_BUFFER_BYTES, file));
                    w.write_record(r.header()).map_err(io::Error::other)?;
                    Sink::Csv { w: Box::new(w), r: Box::new(r), cells: Vec::new() }
                }
                Format::Json => {
                    let r = renderer()?;
                    Sink::Json {
                        w: BufWriter::with_capacity(FILE_BUFFER_BYTES, file),
                        r: Box::new(r),
                        line: String::new(),
                    }
                }
                Format::Parquet { .. } => unreachable!("created above"),
            };
            self.sinks[t] = Some(sink);
        }
        Ok(self.sinks[t].as_mut().expect("sink was just created"))
    }

    /// The header of type `t`'s file (and its Kafka schema message).
    fn header(&self, t: usize) -> Header {
        let ty = &self.types[t];
        Header {
            created: self.created,
            input_source: self.cfg.input_source.clone(),
            record_type: ty.name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            contains_payloads: self.cfg.payload,
            decoder: ty.decoder.clone(),
            decoder_version: ty.decoder_version.clone(),
            message_name: ty.message.clone(),
            schema: ty.schema.as_ref().clone(),
            wit_version: ty.wit_version.clone(),
        }
    }

    /// Writes one framed record (uvarint length + protobuf) of type `t`.
    fn write_framed(&mut self, t: usize, framed: &[u8]) -> io::Result<()> {
        self.counts[t] += 1;
        match self.sink(t)? {
            Sink::Ncap(s) => s.writer().write_all(framed),
            Sink::Csv { w, r, cells } => {
                let msg = decode_framed(r, framed)?;
                r.cells(&msg, cells);
                w.write_record(cells.iter()).map_err(io::Error::other)
            }
            Sink::Json { w, r, line } => {
                let msg = decode_framed(r, framed)?;
                r.json(&msg, line);
                line.push('\n');
                w.write_all(line.as_bytes())
            }
            Sink::Kafka(k) => {
                let (_, used) =
                    netcap_proto::get_uvarint(framed).ok_or_else(|| io::Error::other("bad record framing"))?;
                k.send(&framed[used..])
            }
            Sink::Parquet(p) => {
                let (_, used) =
                    netcap_proto::get_uvarint(framed).ok_or_else(|| io::Error::other("bad record framing"))?;
                p.append_bytes(&framed[used..])
            }
        }
    }

    /// Records handed to type `t`'s file so far.
    pub fn count(&self, t: usize) -> u64 {
        self.counts.get(t).copied().unwrap_or(0)
    }

    /// Writes type `t`'s records from the runs of all workers, merged by packet sequence number
    /// (ties, which only `finish` output can have, by record bytes). An error marks the file
    /// incomplete.
    pub fn write_runs(&mut self, t: usize, runs: &[&Run]) -> io::Result<()> {
        let r = self.write_runs_inner(t, runs);
        if let Err(e) = &r {
            self.failed[t].get_or_insert_with(|| e.to_string());
        }
        r
    }

    fn write_runs_inner(&mut self, t: usize, runs: &[&Run]) -> io::Result<()> {
        if !self.types[t].written {
            return Ok(());
        }
        let nonempty: Vec<&Run> = runs.iter().copied().filter(|r| !r.index.is_empty()).collect();
        match nonempty.len() {
            0 => Ok(()),
            1 => {
                let r = nonempty[0];
                if let Format::Ncap(_) = self.cfg.format
                    && self.cfg.kafka.is_none()
                {
                    // Already framed and in order: one write for the whole run.
                    self.counts[t] += r.index.len() as u64;
                    if let Sink::Ncap(s) = self.sink(t)? {
                        return s.writer().write_all(&r.data);
                    }
                }
                let mut start = 0usize;
                for &(_, end) in &r.index {
                    self.write_framed(t, &r.data[start..end as usize])?;
                    start = end as usize;
                }
                Ok(())
            }
            _ => {
                let mut pos: Vec<(usize, usize)> = vec![(0, 0); nonempty.len()]; // (index entry, data offset)
                loop {
                    let mut best: Option<usize> = None;
                    for (k, r) in nonempty.iter().enumerate() {
                        let (i, off) = pos[k];
                        let Some(&(seq, end)) = r.index.get(i) else {
                            continue;
                        };
                        best = match best {
                            None => Some(k),
                            Some(b) => {
                                let (bi, boff) = pos[b];
                                let (bseq, bend) = nonempty[b].index[bi];
                                let less = seq < bseq
                                    || (seq == bseq
                                        && r.data[off..end as usize] < nonempty[b].data[boff..bend as usize]);
                                if less { Some(k) } else { Some(b) }
                            }
                        };
                    }
                    let Some(k) = best else { break };
                    let (i, off) = pos[k];
                    let end = nonempty[k].index[i].1 as usize;
                    self.write_framed(t, &nonempty[k].data[off..end])?;
                    pos[k] = (i + 1, end);
                }
                Ok(())
            }
        }
    }

    /// Writes every file changed since the last flush out to the OS, each complete up to here
    /// (zstd frame or gzip member ended). Returns the first error; a failing file is marked
    /// incomplete and not written to again.
    pub fn flush(&mut self) -> io::Result<()> {
        let mut first_err = None;
        for t in 0..self.types.len() {
            if !std::mem::take(&mut self.dirty[t]) || self.failed[t].is_some() {
                continue;
            }
            let Some(sink) = self.sinks[t].take() else { continue };
            let r = match sink {
                Sink::Ncap(s) => s.end_frame().map(|s| Some(Sink::Ncap(s))),
                Sink::Csv { mut w, r, cells } => w.flush().map(|()| Some(Sink::Csv { w, r, cells })),
                Sink::Json { mut w, r, line } => w.flush().map(|()| Some(Sink::Json { w, r, line })),
                Sink::Kafka(k) => Ok(Some(Sink::Kafka(k))),
                // A Parquet file is readable only with its footer, written at the end.
                s @ Sink::Parquet(_) => Ok(Some(s)),
            };
            match r {
                Ok(s) => self.sinks[t] = s,
                Err(e) => {
                    self.failed[t] = Some(e.to_string());
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Finishes every file; returns the types that had records, and the first error.
    pub fn finish(mut self) -> (Vec<Written>, Option<io::Error>) {
        let mut first_err = None;
        let mut done = Vec::new();
        for t in 0..self.types.len() {
            let sink = self.sinks[t].take();
            if sink.is_none() && self.counts[t] == 0 {
                continue;
            }
            let r = match sink {
                Some(Sink::Ncap(s)) => s.finish(),
                Some(Sink::Csv { mut w, .. }) => w.flush(),
                Some(Sink::Json { mut w, .. }) => w.flush(),
                Some(Sink::Kafka(_)) => Ok(()),
                Some(Sink::Parquet(p)) => p.finish(),
                None => Ok(()),
            };
            if let Err(e) = r {
                self.failed[t].get_or_insert_with(|| e.to_string());
                first_err.get_or_insert(e);
            }
            done.push((self.types[t].name.clone(), self.counts[t], self.path_of(t), self.failed[t].take()));
        }
        // Every record acknowledged (or, live, given up) before the run ends.
        if let Some(k) = &self.cfg.kafka
            && let Err(e) = k.finish()
        {
            first_err.get_or_insert(e);
        }
        (done, first_err)
    }
}

fn decode_framed(r: &Renderer, framed: &[u8]) -> io::Result<prost_reflect::DynamicMessage> {
    let (_, used) = netcap_proto::get_uvarint(framed).ok_or_else(|| io::Error::other("bad record framing"))?;
    r.decode(&framed[used..]).map_err(|e| io::Error::other(format!("undecodable record: {e}")))
}
