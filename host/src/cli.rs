//! The command line: what the user typed (clap) and the commands it runs. Every flag of
//! `capture` can also come from an environment variable `NETCAP_<FLAG>`.

use crate::dump::{DumpError, DumpMode};
use crate::output::{Compression, Format};
use crate::pipeline::{CaptureOptions, Input};
use crate::plugin::Limits;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Parser)]
#[command(
    name = "netcap",
    version,
    about = "Turn network traffic into typed audit records, decoded by sandboxed WebAssembly decoders"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode a capture file or a live interface into one record file per record type.
    Capture(Box<CaptureArgs>),
    /// Print a record file as JSON lines, CSV or a table, or its fields or header.
    Dump(DumpArgs),
    /// Convert a directory of record files (.ncap, .ncap.zst, .ncap.gz) into another format:
    /// one <Type>.parquet per record type, or with --partition <Type>/date=YYYY-MM-DD/part-N.parquet.
    Convert(ConvertArgs),
    /// One self-contained HTML report (charts and tables, no network needed to open it) about a
    /// directory of record files.
    Report {
        /// The output directory of a capture.
        dir: PathBuf,
        /// The HTML file to write (default: DIR/report.html). An existing file is replaced only
        /// if it is a netcap report.
        #[arg(short, long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// What is in a directory of record files: records per type, top talkers and conversations,
    /// application protocols, DNS names, TLS server names with JA3/JA4, HTTP hosts and user
    /// agents, SSH software, DHCP host names.
    Stats {
        /// The output directory of a capture.
        dir: PathBuf,
        /// Rows per list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// One JSON object instead of text tables.
        #[arg(long)]
        json: bool,
    },
    /// List the decoders with their record types and fields.
    Decoders(DecodersArgs),
    /// Label record files with Suricata alerts (eve.json, fast.log, or Suricata run on the
    /// capture) and/or attack windows: <Type>_labeled.csv with a last column `label`.
    Label(LabelArgs),
    /// List the loaded decoder plugins, or inspect one component file.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Show which deep packet inspection libraries (nDPI, libprotoident) are found, and their
    /// versions.
    Dpi(DpiArgs),
    /// Print nDPI's (and libprotoident's) classification of every flow of a capture file, one
    /// line per flow: `proto src:port dst:port packets engine name category [risks]`
    /// (for comparing with `ndpiReader`).
    #[command(hide = true)]
    DpiFlows {
        file: PathBuf,
        #[command(flatten)]
        dpi: DpiArgs,
        /// Idle time (seconds of packet time) after which a flow starts over (0: never).
        #[arg(long, default_value_t = 30)]
        idle: u64,
    },
    /// Print the layers the host dissects in each packet: `seq name@offset[^depth] ...`
    /// (a debugging aid for decoder authors).
    #[command(hide = true)]
    Layers { file: PathBuf },
    /// Read a capture file without decoding (the benchmark's upper bound).
    #[command(hide = true)]
    BenchRead { file: PathBuf },
    /// Time the standard decoders alone, single-threaded, on a capture's batches (benchmark).
    #[command(hide = true)]
    BenchDecode {
        file: PathBuf,
        /// The natively linked decoders instead of WebAssembly.
        #[arg(long)]
        native: bool,
        /// Time TCP reassembly alone instead (every connection, events built and dropped).
        #[arg(long)]
        reassembly: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["read", "interface"])))]
pub struct CaptureArgs {
    /// Capture file to read (pcap or pcapng); repeat it, or give a directory (every capture file
    /// below it) or a quoted glob pattern, to read several files as one input, merged in time order.
    #[arg(short = 'r', long = "read", value_name = "FILE|DIR|GLOB", env = "NETCAP_READ", action = clap::ArgAction::Append)]
    pub read: Vec<PathBuf>,
    /// Interface to capture from live.
    #[arg(short = 'i', long = "interface", value_name = "IFACE", env = "NETCAP_INTERFACE")]
    pub interface: Option<String>,
    /// Output directory.
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = ".", env = "NETCAP_OUT")]
    pub out: PathBuf,
    /// Worker threads (default: number of cores).
    #[arg(short = 'w', long, value_name = "N", env = "NETCAP_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// Only these record types (or decoder ids), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "TYPES", env = "NETCAP_INCLUDE")]
    pub include: Vec<String>,
    /// Not these record types (or decoder ids), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "TYPES", env = "NETCAP_EXCLUDE")]
    pub exclude: Vec<String>,
    /// BPF filter expression (libpcap syntax).
    #[arg(long, value_name = "EXPR", env = "NETCAP_BPF")]
    pub bpf: Option<String>,
    /// Live capture: bytes captured per packet.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES", env = "NETCAP_SNAPLEN")]
    pub snaplen: i32,
    /// Live capture: do not put the interface in promiscuous mode.
    #[arg(long, env = "NETCAP_NO_PROMISC")]
    pub no_promisc: bool,
    /// Compression of .ncap files.
    #[arg(long, value_enum, default_value_t = Compression::Zstd, env = "NETCAP_COMPRESSION")]
    pub compression: Compression,
    /// Write <Type>.csv files instead of .ncap.
    #[arg(long, conflicts_with = "json", env = "NETCAP_CSV")]
    pub csv: bool,
    /// Write <Type>.json files (one object per line) instead of .ncap.
    #[arg(long, conflicts_with = "format", env = "NETCAP_JSON")]
    pub json: bool,
    /// Produce the records to Kafka (comma-separated bootstrap brokers, host:port) instead of
    /// writing files: one topic per record type (see README, "Sensors into Kafka").
    #[arg(long, value_name = "BROKERS", conflicts_with_all = ["csv", "json", "format", "partition"], env = "NETCAP_KAFKA")]
    pub kafka: Option<String>,
    /// Topic name prefix of --kafka: <PREFIX><Type>, and <PREFIX>_schemas for the schemas.
    #[arg(long, value_name = "PREFIX", default_value = "netcap.", env = "NETCAP_KAFKA_TOPIC_PREFIX")]
    pub kafka_topic_prefix: String,
    /// Partitions of the topics --kafka creates (a record's key, its connection, picks one).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=10000), env = "NETCAP_KAFKA_PARTITIONS")]
    pub kafka_partitions: i32,
    /// Record file format: ncap (protobuf, --compression), csv, json, or parquet (<Type>.parquet,
    /// zstd-compressed row groups, for Spark, DuckDB, pandas).
    #[arg(long, value_enum, conflicts_with = "csv", env = "NETCAP_FORMAT")]
    pub format: Option<FormatArg>,
    /// Parquet: write a Hive-style tree <out>/<Type>/date=YYYY-MM-DD/part-N.parquet (date of the
    /// record's timestamp, UTC) that Spark and DuckDB read as one table per record type.
    #[arg(long, env = "NETCAP_PARTITION")]
    pub partition: bool,
    /// Include packet payload bytes in TCP and UDP records.
    #[arg(long, env = "NETCAP_PAYLOAD")]
    pub payload: bool,
    /// Compute payload entropy (as netcap's -entropy).
    #[arg(long, env = "NETCAP_ENTROPY")]
    pub entropy: bool,
    /// Write the packets whose innermost layer no decoder handles to <out>/unknown.pcap.
    #[arg(long, env = "NETCAP_UNKNOWN_PCAP")]
    pub unknown_pcap: bool,
    /// Write the packets a decoder (or the dissector) reported an error for to <out>/errors.pcap.
    #[arg(long, env = "NETCAP_ERRORS_PCAP")]
    pub errors_pcap: bool,
    /// Additional directory of decoder plugins (.wasm); repeatable.
    #[arg(long = "plugins", value_name = "DIR")]
    pub plugins: Vec<PathBuf>,
    /// Memory cap per decoder instance, MiB (0: no cap).
    #[arg(long, default_value_t = 256, value_name = "MIB", env = "NETCAP_DECODER_MEMORY")]
    pub decoder_memory: usize,
    /// Wall-clock safety net per decoder call, milliseconds (0: none). The work a call may do is
    /// limited by --decoder-fuel, which does not depend on machine load.
    #[arg(long, default_value_t = crate::plugin::DEFAULT_DEADLINE_MS, value_name = "MS", env = "NETCAP_DECODER_TIMEOUT")]
    pub decoder_timeout: u64,
    /// Fuel (about one WebAssembly instruction each) per decoder call, plus as much again per
    /// 100,000 bytes of input (0: no fuel limit).
    #[arg(long, default_value_t = crate::plugin::DEFAULT_FUEL, value_name = "N", env = "NETCAP_DECODER_FUEL")]
    pub decoder_fuel: u64,
    /// Largest output accepted from one decoder call, MiB (a bigger one is a fault).
    #[arg(long, default_value_t = 64, value_name = "MIB", env = "NETCAP_DECODER_OUTPUT")]
    pub decoder_output: usize,
    /// Flow/Connection idle timeout of every protocol (e.g. 90s, 5m): a flow without packets for
    /// longer ends; --tcp-idle, --udp-idle and --icmp-idle override it for their protocol
    /// (defaults, Zeek's: TCP 5m, UDP 1m, ICMP 1m, others 1m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "NETCAP_FLOW_IDLE")]
    pub flow_idle: Option<u64>,
    /// Idle timeout of TCP connections (default 5m); wins over --flow-idle.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "NETCAP_TCP_IDLE")]
    pub tcp_idle: Option<u64>,
    /// Idle timeout of UDP flows (default 1m); wins over --flow-idle.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "NETCAP_UDP_IDLE")]
    pub udp_idle: Option<u64>,
    /// Idle timeout of ICMP and ICMPv6 flows (default 1m); wins over --flow-idle.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "NETCAP_ICMP_IDLE")]
    pub icmp_idle: Option<u64>,
    /// Flow/Connection active timeout: a longer flow is split into records flagged `continued`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "NETCAP_FLOW_ACTIVE")]
    pub flow_active: Option<u64>,
    /// Most connections the flow decoder tracks at once (split into 256 partitions by flow hash);
    /// a full partition evicts its least recently seen connection, counted in the summary.
    #[arg(long, value_name = "N", env = "NETCAP_FLOW_MAX")]
    pub flow_max: Option<u64>,
    /// How long a closed TCP connection (FIN both ways, or RST) waits for late packets.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "NETCAP_TCP_CLOSE")]
    pub tcp_close: Option<u64>,
    /// Community ID seed (0-65535).
    #[arg(long, value_name = "SEED", env = "NETCAP_COMMUNITY_ID_SEED")]
    pub community_id_seed: Option<u16>,
    /// TCP reassembly: out-of-order bytes buffered per connection direction before it skips
    /// ahead with a gap (suffixes k, M, G: powers of 1024).
    #[arg(long, default_value = "1M", value_name = "BYTES", value_parser = parse_size, env = "NETCAP_MAX_STREAM_BYTES")]
    pub max_stream_bytes: usize,
    /// TCP reassembly: memory for all connections' buffers and state (per worker at most).
    #[arg(long, default_value = "1G", value_name = "BYTES", value_parser = parse_size, env = "NETCAP_MAX_STREAM_MEMORY")]
    pub max_stream_memory: usize,
    /// TCP reassembly: a connection without packets for this long (packet time) is closed.
    #[arg(long, default_value_t = 300, value_name = "SECONDS", env = "NETCAP_STREAM_TIMEOUT")]
    pub stream_timeout: u64,
    /// Do not reassemble fragmented IP datagrams (decoders then see each fragment on its own).
    #[arg(long, env = "NETCAP_NO_DEFRAG")]
    pub no_defrag: bool,
    /// Live capture: write every file out, complete up to there, at least this often (e.g. 1s,
    /// 250ms), so that a killed capture leaves readable files.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration, env = "NETCAP_FLUSH_INTERVAL")]
    pub flush_interval: u64,
    /// Write the transferred objects decoders find (HTTP bodies, mail attachments, FTP data) to
    /// DIR (default `<out>/files/`), each named by its SHA-256 (`.partial` when cut or incomplete).
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub extract_files: Option<Option<PathBuf>>,
    /// Largest part of one extracted file written; the rest is cut (file named `.partial`).
    #[arg(long, default_value = "64M", value_name = "BYTES", value_parser = parse_size)]
    pub extract_max_file: usize,
    /// Most files extracted in one run (in output order; later ones are counted, not written).
    #[arg(long, default_value_t = crate::extract::DEFAULT_MAX_FILES, value_name = "N")]
    pub extract_max_files: u64,
    /// Most bytes extracted in one run.
    #[arg(long, default_value = "4G", value_name = "BYTES", value_parser = parse_size)]
    pub extract_max_bytes: usize,
    #[command(flatten)]
    pub dpi: DpiArgs,
    #[command(flatten)]
    pub resolve: ResolveArgs,
    /// No progress line and no summary.
    #[arg(short, long, env = "NETCAP_QUIET")]
    pub quiet: bool,
    /// Serve the run's counters for Prometheus at http://ADDR/metrics (e.g. 127.0.0.1:9187):
    /// packets, bytes, drops, records per type, unknown packets, errors, faults, CPU per thread.
    #[arg(long, value_name = "ADDR", env = "NETCAP_METRICS")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Run the standard decoders natively instead of in WebAssembly (benchmark builds only).
    #[arg(long, hide = true)]
    pub native: bool,
}

/// Deep packet inspection flags (`capture`, `dpi`, `dpi-flows`).
#[derive(Debug, Clone, Args)]
pub struct DpiArgs {
    /// Application protocol classification with nDPI/libprotoident when found (on|off).
    #[arg(long, default_value = "on", value_name = "on|off", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), env = "NETCAP_DPI")]
    pub dpi: bool,
    /// Use this nDPI library file instead of searching for libndpi.so*.
    #[arg(long, value_name = "PATH", env = "NETCAP_NDPI_LIB")]
    pub ndpi_lib: Option<PathBuf>,
    /// Use this libprotoident library file instead of searching for libprotoident.so*.
    #[arg(long, value_name = "PATH", env = "NETCAP_PROTOIDENT_LIB")]
    pub protoident_lib: Option<PathBuf>,
}

impl DpiArgs {
    /// The engine options, with `$NETCAP_DPI_PATH` read.
    pub fn options(&self) -> crate::dpi::DpiOptions {
        crate::dpi::DpiOptions {
            enabled: self.dpi,
            ndpi_lib: self.ndpi_lib.clone(),
            protoident_lib: self.protoident_lib.clone(),
            ..crate::dpi::DpiOptions::default()
        }
        .with_env()
    }
}

/// Resolver data flags of `capture`.
#[derive(Debug, Clone, Args)]
pub struct ResolveArgs {
    /// MaxMind GeoIP2/GeoLite2 City (or Country) database for country and city of addresses.
    #[arg(long, value_name = "FILE", env = "NETCAP_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,
    /// MaxMind GeoLite2 ASN database for the autonomous system of addresses.
    #[arg(long, value_name = "FILE", env = "NETCAP_ASN_DB")]
    pub asn_db: Option<PathBuf>,
    /// Hosts file (`ip name...` lines) with names for addresses.
    #[arg(long, value_name = "FILE", env = "NETCAP_HOSTS_FILE")]
    pub hosts_file: Option<PathBuf>,
    /// Look up names of addresses with live reverse DNS queries (off: only names from the
    /// capture's DNS answers and the hosts file).
    #[arg(long, env = "NETCAP_REVERSE_DNS")]
    pub reverse_dns: bool,
    /// CSV database of fingerprint descriptions (`kind,hash,description`); repeatable.
    #[arg(long = "fingerprint-db", value_name = "FILE")]
    pub fingerprint_db: Vec<PathBuf>,
    /// A data file a decoder reads by name (`netcap plugins inspect FILE.wasm` lists what a
    /// decoder asks for), e.g. `--resource nmap-service-probes=/usr/share/nmap/nmap-service-probes`;
    /// repeatable. Decoders read nothing else of the file system.
    #[arg(long = "resource", value_name = "NAME=PATH", value_parser = parse_resource)]
    pub resource: Vec<(String, PathBuf)>,
    /// A directory of data files for decoders: the file NAME or NAME.<ext> is resource NAME
    /// (`--resource` wins for a name it gives).
    #[arg(long = "resources", value_name = "DIR")]
    pub resources: Option<PathBuf>,
}

/// `NAME=PATH` of `--resource`.
fn parse_resource(s: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = s.split_once('=').ok_or_else(|| format!("expected NAME=PATH, got {s:?}"))?;
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(format!("resource name {name:?}: use lowercase letters, digits and '-'"));
    }
    if path.is_empty() {
        return Err(format!("resource {name}: no path"));
    }
    Ok((name.to_string(), PathBuf::from(path)))
}

impl ResolveArgs {
    pub fn options(&self) -> crate::resolve::ResolverOptions {
        crate::resolve::ResolverOptions {
            geoip_db: self.geoip_db.clone(),
            asn_db: self.asn_db.clone(),
            hosts_file: self.hosts_file.clone(),
            reverse_dns: self.reverse_dns,
            fingerprint_dbs: self.fingerprint_db.clone(),
            resources: self.resource.clone(),
            resources_dir: self.resources.clone(),
            ..crate::resolve::ResolverOptions::default()
        }
    }
}

/// `capture --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Ncap,
    Csv,
    Json,
    Parquet,
}

/// `convert --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertTo {
    Parquet,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Directory of record files (the output directory of a capture).
    pub dir: PathBuf,
    /// Target format.
    #[arg(long, value_enum)]
    pub to: ConvertTo,
    /// Output directory (default: DIR). Existing <Type>.parquet files (or <Type>/ trees) are not
    /// overwritten.
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Write a Hive-style tree <OUT>/<Type>/date=YYYY-MM-DD/part-N.parquet.
    #[arg(long)]
    pub partition: bool,
    /// No line per converted file.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").args(["json", "csv", "table", "fields", "header"])))]
pub struct DumpArgs {
    /// Record file (.ncap, .ncap.zst or .ncap.gz).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        required_unless_present = "kafka",
        conflicts_with = "kafka"
    )]
    pub read: Option<PathBuf>,
    /// Read a Kafka topic that `capture --kafka` filled instead (bootstrap brokers, host:port),
    /// from its beginning to its end now.
    #[arg(long, value_name = "BROKERS", requires = "topic")]
    pub kafka: Option<String>,
    /// The topic of --kafka (e.g. netcap.TCP).
    #[arg(long, value_name = "TOPIC", requires = "kafka")]
    pub topic: Option<String>,
    /// The topic prefix the capture used: the schemas are read from <PREFIX>_schemas.
    #[arg(long, value_name = "PREFIX", default_value = "netcap.")]
    pub kafka_topic_prefix: String,
    /// One JSON object per record (the default).
    #[arg(long)]
    pub json: bool,
    /// CSV with a header line.
    #[arg(long)]
    pub csv: bool,
    /// Aligned columns.
    #[arg(long)]
    pub table: bool,
    /// Only print the field names.
    #[arg(long)]
    pub fields: bool,
    /// Only print the file header.
    #[arg(long)]
    pub header: bool,
    /// Only these fields, in this order (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    pub select: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).multiple(true).args(["alerts", "windows", "read"])))]
pub struct LabelArgs {
    /// Directory with the record files (<Type>.ncap.zst, .ncap.gz, .ncap).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub records: PathBuf,
    /// Suricata alerts: eve.json or fast.log (detected from the content).
    #[arg(long, value_name = "FILE", conflicts_with = "read")]
    pub alerts: Option<PathBuf>,
    /// Attack windows (YAML): time ranges, hosts, protocol, category.
    #[arg(long, value_name = "FILE")]
    pub windows: Option<PathBuf>,
    /// Run Suricata on this capture for the alerts (needs `suricata` on PATH); its logs go to
    /// <out>/suricata/.
    #[arg(short = 'r', long = "read", value_name = "PCAP")]
    pub read: Option<PathBuf>,
    /// Suricata configuration for -r (suricata -c).
    #[arg(long, value_name = "FILE", requires = "read")]
    pub suricata_config: Option<PathBuf>,
    /// Suricata rules for -r (suricata -S).
    #[arg(long, value_name = "FILE", requires = "read")]
    pub suricata_rules: Option<PathBuf>,
    /// Time zone of fast.log's local times and of windows that name none: +01:00, -0500, UTC,
    /// or an IANA name (Europe/Berlin). Default: UTC.
    #[arg(long, value_name = "OFFSET_OR_ZONE", allow_hyphen_values = true)]
    pub tz: Option<String>,
    /// Fail when one record matches alerts (or windows) with different labels.
    #[arg(long)]
    pub strict: bool,
    /// Join all distinct labels of a record with " | " (default: the most severe alert's).
    #[arg(long)]
    pub collect: bool,
    /// Ignore alerts of these classifications (or labels), and windows of these categories.
    #[arg(long, value_delimiter = ',', value_name = "CLASS")]
    pub exclude: Vec<String>,
    /// Label with the alert's signature (the window's name) instead of its classification
    /// (category).
    #[arg(long)]
    pub description: bool,
    /// Only label flow record types (Flow, Connection, ...), not packet records.
    #[arg(long)]
    pub disable_layers: bool,
    /// Output directory for <Type>_labeled.csv (default: the records directory).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// List every label, every alert that matched no record and every unreadable alert line.
    #[arg(short, long)]
    pub verbose: bool,
    /// Threads (default: number of cores).
    #[arg(short = 'w', long, value_name = "N")]
    pub workers: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every decoder that would be loaded (standard, user directory, --plugins): name, kind,
    /// version, WIT version, record types and source file.
    List {
        /// Additional directory of decoder plugins (.wasm); repeatable.
        #[arg(long = "plugins", value_name = "DIR")]
        plugins: Vec<PathBuf>,
    },
    /// One component file: its exports and imports, the decoder it declares (layers, ports,
    /// record types and their fields), or why netcap refuses it.
    Inspect {
        /// The .wasm component.
        file: PathBuf,
    },
    /// Scaffold a decoder plugin crate that stands alone (its own repository): a parser with unit
    /// tests, its record schema, the SDK glue, a golden test. Build it with
    /// `cargo build --release --target wasm32-unknown-unknown`; netcap loads the .wasm as it is.
    New {
        /// Decoder id: lowercase letters, digits and dashes.
        name: String,
        /// Where the crate goes (default: ./NAME).
        dir: Option<PathBuf>,
        /// `layer` (one record per UDP message), `packet` (keeps state across packets), `stream`
        /// (messages framed from reassembled TCP connections) or `record` (an abstraction over
        /// other decoders' records: here `Connection`).
        #[arg(long, default_value = "layer")]
        kind: String,
        /// The port interest: UDP datagrams (`udp:N`, layer and packet decoders) or TCP
        /// connections (`tcp:N`, stream decoders) to or from this port [default: udp:40000, for
        /// streams tcp:40000].
        #[arg(long, value_parser = parse_port_interest)]
        port: Option<(String, u16)>,
        /// The netcap SDK crate (default: the `plugins/sdk` of the netcap tree this binary was
        /// built in).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
}

/// `udp:N` or `tcp:N` of `plugins new --port`.
fn parse_port_interest(s: &str) -> Result<(String, u16), String> {
    let (t, n) = s.split_once(':').ok_or_else(|| format!("{s:?}: expected udp:PORT or tcp:PORT"))?;
    if t != "udp" && t != "tcp" {
        return Err(format!("{s:?}: expected udp:PORT or tcp:PORT"));
    }
    Ok((t.to_string(), n.parse().map_err(|_| format!("{s:?}: not a port number"))?))
}

#[derive(Debug, Args)]
pub struct DecodersArgs {
    /// Additional directory of decoder plugins (.wasm); repeatable.
    #[arg(long = "plugins", value_name = "DIR")]
    pub plugins: Vec<PathBuf>,
    /// A markdown table.
    #[arg(long)]
    pub markdown: bool,
}

/// A byte size: a number with an optional suffix k, M or G (powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let (num, shift) = match s.trim().to_ascii_lowercase().as_str() {
        t if t.ends_with('k') => (t[..t.len() - 1].to_string(), 10),
        t if t.ends_with('m') => (t[..t.len() - 1].to_string(), 20),
        t if t.ends_with('g') => (t[..t.len() - 1].to_string(), 30),
        t => (t.to_string(), 0),
    };
    let n: usize = num.trim().parse().map_err(|_| format!("{s:?} is not a size (e.g. 65536, 64k, 1M, 2G)"))?;
    n.checked_mul(1usize << shift).ok_or_else(|| format!("{s:?} is too large"))
}

/// Runs a parsed command line; returns the exit code (0 ok, 1 partial) or a fatal error.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Capture(a) => capture(*a),
        Command::Dump(a) => dump(a),
        Command::Convert(a) => Ok(crate::parquet_out::convert(&a.dir, a.out.as_deref(), a.partition, a.quiet)?),
        Command::Stats { dir, top, json } => overview(&dir, top, json),
        Command::Report { dir, out } => report(&dir, out),
        Command::Decoders(a) => decoders(a),
        Command::Label(a) => label(a),
        Command::Plugins(PluginsCommand::List { plugins }) => plugins_list(&plugins),
        Command::Plugins(PluginsCommand::Inspect { file }) => plugins_inspect(&file),
        Command::Plugins(PluginsCommand::New { name, dir, kind, port, sdk }) => plugins_new(name, dir, kind, port, sdk),
        Command::Dpi(a) => dpi_status(&a),
        Command::DpiFlows { file, dpi, idle } => dpi_flows(&file, &dpi, idle),
        Command::Layers { file } => layers(&file),
        Command::BenchRead { file } => bench_read(&file),
        Command::BenchDecode { file, reassembly: true, .. } => bench_reassembly(&file),
        Command::BenchDecode { file, native, .. } => bench_decode(&file, native),
    }
}

/// The input `-r` names: one file as it is (a FIFO too), several merged in time order.
fn read_input(read: &[PathBuf]) -> anyhow::Result<Input> {
    // One plain name is taken as it is, so that a missing file gets the usual open error.
    if let [one] = read
        && !one.is_dir()
        && !one.to_string_lossy().contains(['*', '?', '['])
    {
        return Ok(Input::File(one.clone()));
    }
    let mut files = crate::capture::inputs::expand(read)?;
    if files.len() == 1 {
        return Ok(Input::File(files.remove(0)));
    }
    // A silent FIFO among several files would hold up the merge and not see a signal.
    if let Some(f) = files.iter().find(|f| !f.is_file()) {
        anyhow::bail!("{}: several inputs must be regular files (read a FIFO or device alone)", f.display());
    }
    Ok(Input::Files(files))
}

fn capture(a: CaptureArgs) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // SIGINT, SIGTERM and SIGHUP (ctrlc's `termination` feature) stop the capture: the files
        // are finished cleanly. A second signal exits at once.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let input = match (a.read.is_empty(), a.interface) {
        (false, _) => read_input(&a.read)?,
        (true, Some(iface)) => Input::Live { iface, snaplen: a.snaplen, promisc: !a.no_promisc },
        (true, None) => anyhow::bail!("give a capture file (-r FILE) or an interface (-i IFACE)"),
    };
    let format = match (a.format, a.csv, a.json) {
        (Some(FormatArg::Csv), ..) | (None, true, _) => Format::Csv,
        (Some(FormatArg::Json), ..) | (None, _, true) => Format::Json,
        (Some(FormatArg::Parquet), ..) => Format::Parquet { partition: a.partition },
        (Some(FormatArg::Ncap), ..) | (None, false, false) => Format::Ncap(a.compression),
    };
    if a.partition && !matches!(format, Format::Parquet { .. }) {
        anyhow::bail!("--partition needs --format parquet");
    }
    let workers = a
        .workers
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let quiet = a.quiet;
    let mut decoder_config = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            decoder_config.push((k.to_string(), v));
        }
    };
    put("flow-idle", a.flow_idle.map(|v| v.to_string()));
    put("tcp-idle", a.tcp_idle.map(|v| v.to_string()));
    put("udp-idle", a.udp_idle.map(|v| v.to_string()));
    put("icmp-idle", a.icmp_idle.map(|v| v.to_string()));
    put("flow-active", a.flow_active.map(|v| v.to_string()));
    put("flow-max", a.flow_max.map(|v| v.to_string()));
    put("tcp-close", a.tcp_close.map(|v| v.to_string()));
    put("community-id-seed", a.community_id_seed.map(|v| v.to_string()));
    let extract = a.extract_files.map(|d| crate::extract::ExtractOptions {
        dir: d.unwrap_or_else(|| a.out.join("files")),
        max_file: a.extract_max_file as u64,
        max_files: a.extract_max_files,
        max_bytes: a.extract_max_bytes as u64,
    });
    let live = matches!(input, Input::Live { .. });
    let opts = CaptureOptions {
        input,
        bpf: a.bpf,
        out_dir: a.out,
        format,
        workers,
        include: a.include,
        exclude: a.exclude,
        payload: a.payload,
        entropy: a.entropy,
        plugin_dirs: a.plugins,
        unknown_pcap: a.unknown_pcap,
        errors_pcap: a.errors_pcap,
        limits: Limits {
            memory_bytes: a.decoder_memory << 20,
            deadline_ms: a.decoder_timeout,
            fuel: a.decoder_fuel,
            output_bytes: a.decoder_output << 20,
        },
        decoder_config,
        dpi: a.dpi.options(),
        resolve: a.resolve.options(),
        quiet,
        native: a.native,
        reassembly: crate::reassembly::Config {
            max_stream_bytes: a.max_stream_bytes,
            max_memory: a.max_stream_memory,
            idle_nanos: i64::try_from(a.stream_timeout.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX),
        },
        defrag: !a.no_defrag,
        stop,
        flush_interval: std::time::Duration::from_nanos(a.flush_interval),
        extract,
        metrics: a.metrics,
        kafka: a.kafka.map(|brokers| crate::kafka::KafkaOptions {
            brokers,
            prefix: a.kafka_topic_prefix,
            live,
            partitions: a.kafka_partitions,
        }),
    };
    let summary = match crate::pipeline::capture(opts) {
        Ok(s) => s,
        // A file capture stopped by a signal exits 1, also before its FIFO said anything.
        Err(e @ crate::pipeline::RunError::Capture(crate::capture::CaptureError::Stopped { .. })) => {
            eprintln!("netcap: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    let mut err = std::io::stderr().lock();
    for n in summary.notices.iter().filter(|_| !quiet) {
        let _ = writeln!(err, "netcap: {n}");
    }
    if !quiet {
        let _ = write!(err, "{}", summary.render());
    } else {
        if let Some(e) = &summary.input_error {
            let _ = writeln!(err, "netcap: input ended early: {e}");
        }
        if summary.interrupted {
            let _ = writeln!(err, "netcap: stopped by a signal: the input was not read to the end");
        }
        if let Some(e) = &summary.output_error {
            let _ = writeln!(err, "netcap: output failed: {e}");
        }
    }
    Ok(summary.exit_code())
}

fn report(dir: &std::path::Path, out: Option<PathBuf>) -> anyhow::Result<u8> {
    let out = out.unwrap_or_else(|| dir.join("report.html"));
    if let Ok(old) = std::fs::read(&out)
        && !old.starts_with(crate::report::SIGNATURE.as_bytes())
    {
        anyhow::bail!("{} exists and is not a netcap report: not replacing it", out.display());
    }
    let o = crate::overview::read_dir(dir)?;
    let title = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()).display().to_string();
    let tmp = out.with_extension("html.part");
    std::fs::write(&tmp, crate::report::render(&o, &title))
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    eprintln!("netcap: wrote {}", out.display());
    Ok(u8::from(!o.damaged.is_empty()))
}

fn overview(dir: &std::path::Path, top: usize, json: bool) -> anyhow::Result<u8> {
    let o = crate::overview::read_dir(dir)?;
    let text = if json { format!("{}\n", o.to_json(top)) } else { o.to_text(top) };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(u8::from(!o.damaged.is_empty()))
}

fn dump(a: DumpArgs) -> anyhow::Result<u8> {
    let mode = if a.csv {
        DumpMode::Csv
    } else if a.table {
        DumpMode::Table
    } else if a.fields {
        DumpMode::Fields
    } else if a.header {
        DumpMode::Header
    } else {
        DumpMode::Json
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 << 10, stdout.lock());
    let result = match (&a.read, &a.kafka, &a.topic) {
        (Some(path), _, _) => crate::dump::dump(path, mode, &a.select, &mut out),
        (None, Some(brokers), Some(topic)) => {
            let stream =
                crate::kafka::read_topic(brokers, &a.kafka_topic_prefix, topic).map_err(|e| anyhow::anyhow!(e))?;
            crate::dump::dump_stream(&format!("kafka topic {topic}"), stream, mode, &a.select, &mut out)
        }
        _ => anyhow::bail!("give a record file (-r FILE) or --kafka BROKERS --topic TOPIC"),
    };
    match result {
        Ok(None) => Ok(0),
        Ok(Some(e)) => {
            // After the good records, once.
            eprintln!("netcap: {e}");
            Ok(1)
        }
        // A closed pipe (`netcap dump ... | head`) is a normal end.
        Err(DumpError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn label(a: LabelArgs) -> anyhow::Result<u8> {
    let opts = crate::label::LabelOptions {
        records: a.records,
        out: a.out,
        alerts: a.alerts,
        windows: a.windows,
        pcap: a.read,
        suricata_config: a.suricata_config,
        suricata_rules: a.suricata_rules,
        tz: a.tz,
        strict: a.strict,
        collect: a.collect,
        exclude: a.exclude,
        description: a.description,
        disable_layers: a.disable_layers,
        threads: a.workers.unwrap_or(0),
        stop: Arc::new(AtomicBool::new(false)),
    };
    {
        // SIGINT, SIGTERM, SIGHUP: stop, remove the .part files; a second signal exits at once.
        let stop = opts.stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let summary = crate::label::label(&opts)?;
    let _ = write!(std::io::stderr().lock(), "{}", summary.render(a.verbose));
    Ok(summary.exit_code())
}

fn decoders(a: DecodersArgs) -> anyhow::Result<u8> {
    let rt = crate::plugin::wasm::Runtime::new(Limits::default())?;
    let mut notices = Vec::new();
    let decs = crate::plugin::load_all(&rt, &a.plugins, &mut notices)?;
    let mut out = std::io::stdout().lock();
    if a.markdown {
        writeln!(out, "# Decoders and record types\n")?;
        writeln!(
            out,
            "Generated by `netcap decoders --markdown` from the standard decoders (a test keeps it current)."
        )?;
        writeln!(
            out,
            "A decoder's input is the layers and ports it asks for, or the record types it reads (`wit/README.md`).\n"
        )?;
        writeln!(out, "| decoder | input | record type | fields |")?;
        writeln!(out, "|---|---|---|---|")?;
    }
    for d in &decs {
        if !a.markdown {
            writeln!(
                out,
                "{} {} ({} decoder, WIT {}, layers: {}) from {}",
                d.spec.id,
                d.spec.version,
                d.spec.kind,
                d.spec.wit_version,
                d.spec.layers.join(","),
                d.spec.source
            )?;
        }
        for t in &d.spec.record_types {
            let fields = crate::render::Renderer::new(&d.spec.schema, &t.message)
                .map(|r| r.header().join(", "))
                .unwrap_or_else(|e| e.to_string());
            if a.markdown {
                let layers = if d.spec.kind == crate::plugin::DecoderKind::Record {
                    let names: Vec<&str> = d.spec.consumes.iter().map(|c| c.name.as_str()).collect();
                    format!("records {} (record decoder)", names.join(", "))
                } else if d.spec.layers.is_empty() && d.spec.kind.stateful() {
                    format!("every packet ({} decoder)", d.spec.kind)
                } else {
                    d.spec.layers.join(", ")
                };
                writeln!(out, "| {} | {} | {} | {} |", d.spec.id, layers, t.name, fields)?;
            } else {
                writeln!(out, "  {} ({}): {}", t.name, t.message, fields)?;
            }
        }
    }
    Ok(0)
}

fn plugins_list(dirs: &[PathBuf]) -> anyhow::Result<u8> {
    let rt = crate::plugin::wasm::Runtime::new(Limits::default())?;
    let mut notices = Vec::new();
    let (decs, refused) = crate::plugin::load_all_with(&rt, dirs, &mut notices, true)?;
    let rows: Vec<[String; 6]> = decs
        .iter()
        .map(|d| {
            let s = &d.spec;
            let types: Vec<&str> = s.record_types.iter().map(|t| t.name.as_str()).collect();
            [
                s.id.clone(),
                s.kind.to_string(),
                s.version.clone(),
                s.wit_version.clone(),
                types.join(","),
                s.source.clone(),
            ]
        })
        .collect();
    let head = ["NAME", "KIND", "VERSION", "WIT", "RECORD TYPES", "SOURCE"].map(String::from);
    // Columns as wide as their widest cell (the last one is not padded).
    let mut width = [0usize; 6];
    for r in std::iter::once(&head).chain(&rows) {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    for r in std::iter::once(&head).chain(&rows) {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(width).enumerate() {
            if i == 5 {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    for r in &refused {
        writeln!(out, "refused: {}: {}", r.path.display(), r.reason)?;
    }
    let mut err = std::io::stderr().lock();
    for n in notices.iter().filter(|n| !n.starts_with("skipped a plugin the host refuses")) {
        writeln!(err, "netcap: {n}")?;
    }
    if let Some(u) = crate::plugin::user_plugin_dir() {
        writeln!(err, "netcap: user plugin directory: {}{}", u.display(), if u.is_dir() { "" } else { " (absent)" })?;
    }
    Ok(0)
}

fn plugins_new(
    name: String,
    dir: Option<PathBuf>,
    kind: String,
    port: Option<(String, u16)>,
    sdk: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let want = crate::scaffold::transport(&kind);
    if want.is_empty() && port.is_some() {
        eprintln!("netcap: --port with --kind {kind}: a record decoder reads records, not ports");
        return Ok(2);
    }
    let (transport, port) = port.unwrap_or_else(|| (want.to_string(), 40000));
    if transport != want {
        eprintln!(
            "netcap: --port {transport}:{port} with --kind {kind}: stream decoders read TCP connections (tcp:N), \
             layer and packet decoders UDP datagrams (udp:N)"
        );
        return Ok(2);
    }
    let Some(sdk) = sdk.or_else(crate::scaffold::default_sdk) else {
        eprintln!("netcap: where is the netcap SDK? give --sdk PATH (the plugins/sdk directory of a netcap checkout)");
        return Ok(2);
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    let p = crate::scaffold::NewPlugin { name, kind, port, sdk: sdk.canonicalize().unwrap_or(sdk), dir };
    match crate::scaffold::scaffold(&p) {
        Ok(files) => {
            println!("created {} ({} files); next:", p.dir.display(), files.len());
            println!("  cd {} && cargo test", p.dir.display());
            println!("  cargo build --release --target wasm32-unknown-unknown");
            println!("  netcap capture -r IN.pcap -o out --plugins target/wasm32-unknown-unknown/release");
            Ok(0)
        }
        Err(m) => {
            eprintln!("netcap: {m}");
            Ok(2)
        }
    }
}

fn plugins_inspect(file: &std::path::Path) -> anyhow::Result<u8> {
    let rt = crate::plugin::wasm::Runtime::new(Limits::default())?;
    let i = rt.inspect(file)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "file:     {} ({} bytes, sha256 {})", file.display(), i.size, i.sha256)?;
    writeln!(out, "exports:  {}", i.exports.join(", "))?;
    writeln!(out, "imports:  {}", if i.imports.is_empty() { "(none)".to_string() } else { i.imports.join(", ") })?;
    let d = match i.decoder {
        Ok(d) => d,
        Err(e) => {
            writeln!(out, "refused:  {e}")?;
            return Ok(2);
        }
    };
    let s = &d.spec;
    writeln!(out, "decoder:  {} {} ({} decoder, netcap:decoder@{})", s.id, s.version, s.kind, s.wit_version)?;
    if s.kind == crate::plugin::DecoderKind::Record {
        let c: Vec<String> = s
            .consumes
            .iter()
            .map(|t| if t.message.is_empty() { t.name.clone() } else { format!("{} ({})", t.name, t.message) })
            .collect();
        writeln!(out, "input:    records {}", c.join(", "))?;
    } else {
        writeln!(out, "input:    {}", s.layers.join(", "))?;
    }
    if s.mergeable {
        writeln!(out, "state:    mergeable (save-state, merge-state)")?;
    }
    if !s.resources.is_empty() {
        writeln!(out, "resources (give them with --resource NAME=PATH or --resources DIR):")?;
        for r in &s.resources {
            let req = if r.required { "required" } else { "optional" };
            writeln!(out, "  {} ({req}): {}", r.name, r.description)?;
        }
    }
    writeln!(out, "records:")?;
    for t in &s.record_types {
        let fields = crate::render::Renderer::new(&s.schema, &t.message)
            .map(|r| r.header().join(", "))
            .unwrap_or_else(|e| format!("(schema error: {e})"));
        writeln!(out, "  {} ({}): {}", t.name, t.message, fields)?;
    }
    Ok(0)
}

fn dpi_status(a: &DpiArgs) -> anyhow::Result<u8> {
    let engine = crate::dpi::DpiEngine::load(&a.options());
    let mut out = std::io::stdout().lock();
    if !a.dpi {
        writeln!(out, "DPI switched off (--dpi off)")?;
        return Ok(0);
    }
    for s in engine.status() {
        match (&s.loaded, &s.problem) {
            (Some((path, version)), _) => {
                let via = if path.is_absolute() { "" } else { " via the dynamic loader" };
                writeln!(out, "{:<14} {version} ({}{via})", s.name, path.display())?
            }
            (None, Some(p)) => writeln!(out, "{:<14} not used: {p}", s.name)?,
            (None, None) => writeln!(out, "{:<14} not used", s.name)?,
        }
    }
    writeln!(out, "DPI {}", if engine.active() { "on" } else { "off" })?;
    Ok(0)
}

/// `netcap dpi-flows FILE`: every flow's classification, one worker, in first-packet order.
fn dpi_flows(file: &std::path::Path, a: &DpiArgs, idle_secs: u64) -> anyhow::Result<u8> {
    use crate::capture::PacketSource;
    let mut opts = a.options();
    opts.idle_nanos = if idle_secs == 0 {
        i64::MAX
    } else {
        i64::try_from(idle_secs).unwrap_or(i64::MAX).saturating_mul(1_000_000_000)
    };
    let engine = crate::dpi::DpiEngine::load(&opts);
    if let Some(n) = engine.notice() {
        eprintln!("netcap: {n}");
    }
    let mut dpi = engine.workers(1)?.pop().ok_or_else(|| anyhow::anyhow!("no DPI worker"))?;
    dpi.keep_ended(true);
    let mut src = crate::capture::file::FileSource::open(file, None)?;
    let mut d = crate::dissect::Dissection::default();
    let mut code = 0;
    loop {
        let p = match src.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A damaged file: the flows of the packets before the damage are still listed.
            Err(e) => {
                eprintln!("netcap: input ended early: {e}");
                code = 1;
                break;
            }
        };
        crate::dissect::dissect(p.link_type, p.data, &mut d);
        if let Some(off) = crate::dpi::ip_layer(d.layers()) {
            dpi.classify(d.hash, p.data, off, p.ts_nanos);
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut result = Ok(());
    dpi.finish(|f| {
        if result.is_err() {
            return;
        }
        let t = f.tuple;
        let ep = |ip: std::net::IpAddr, port: u16| match ip {
            std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
            std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        };
        let mut line = format!("{} {} {} {}", t.proto, ep(t.src, t.src_port), ep(t.dst, t.dst_port), f.packets);
        for app in [&f.ndpi, &f.lpi].into_iter().flatten() {
            line.push_str(&format!(" {} {} {}", app.engine, app.name(), app.category.replace(' ', "_")));
        }
        if !f.risks.is_empty() {
            line.push_str(&format!(" risks={}", f.risks.join("|")));
        }
        result = writeln!(out, "{line}");
    });
    match result.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(code),
    }
}

fn layers(file: &std::path::Path) -> anyhow::Result<u8> {
    use crate::capture::PacketSource;
    use std::fmt::Write as _;
    let mut src = crate::capture::file::FileSource::open(file, None)?;
    let mut d = crate::dissect::Dissection::default();
    let mut seq = 0u64;
    let mut line = String::new();
    let mut out = std::io::stdout().lock();
    while let Some(p) = src.next_packet()? {
        crate::dissect::dissect(p.link_type, p.data, &mut d);
        line.clear();
        let _ = write!(line, "{seq}");
        for l in d.layers() {
            let _ = write!(line, " {}@{}", netcap_sdk::layer::name(l.id).unwrap_or("?"), l.offset);
            if l.depth() > 0 {
                let _ = write!(line, "^{}", l.depth());
            }
        }
        if let Some(e) = d.error {
            let _ = write!(line, " !{e}");
        }
        if writeln!(out, "{line}").is_err() {
            break; // a closed pipe (`| head`) ends the listing
        }
        seq += 1;
    }
    Ok(0)
}

#[allow(clippy::print_stdout, reason = "benchmark output")]
fn bench_read(file: &std::path::Path) -> anyhow::Result<u8> {
    use crate::capture::PacketSource;
    let start = std::time::Instant::now();
    let mut src = crate::capture::file::FileSource::open(file, None)?;
    let (mut packets, mut bytes) = (0u64, 0u64);
    let mut checksum = 0u64;
    while let Some(p) = src.next_packet()? {
        packets += 1;
        bytes += p.data.len() as u64;
        checksum = checksum.wrapping_add(u64::from(p.data.first().copied().unwrap_or(0)));
    }
    let secs = start.elapsed().as_secs_f64();
    println!("packets={packets} bytes={bytes} seconds={secs:.6} checksum={checksum}");
    Ok(0)
}

/// TCP reassembly alone: the capture is read, dissected and batched first (as the dispatcher
/// does, one worker), then every batch goes through a stream stage's reassembly with one
/// `tcp:*` listener, twice; the second pass is timed.
#[allow(clippy::print_stdout, reason = "benchmark output")]
fn bench_reassembly(file: &std::path::Path) -> anyhow::Result<u8> {
    use crate::capture::PacketSource;
    let mut src = crate::capture::file::FileSource::open(file, None)?;
    let mut d = crate::dissect::Dissection::default();
    let mut batches: Vec<crate::worker::Batch> = Vec::new();
    let mut cur = crate::worker::Batch::default();
    let mut seq = 0u64;
    while let Some(p) = src.next_packet()? {
        crate::dissect::dissect(p.link_type, p.data, &mut d);
        cur.starts.push(cur.data.len() as u32);
        cur.masks.push(d.mask);
        cur.flows.push(d.hash);
        cur.any_mask |= d.mask;
        netcap_sdk::push_packet(&mut cur.data, seq, p.ts_nanos, p.link_type, p.orig_len, d.layers(), p.data);
        seq += 1;
        if cur.starts.len() == 512 {
            batches.push(std::mem::take(&mut cur));
        }
    }
    if !cur.starts.is_empty() {
        batches.push(cur);
    }
    let tcp = crate::dissect::layer_bit(netcap_sdk::layer::TCP);
    let mut elapsed = std::time::Duration::ZERO;
    let (mut events, mut event_bytes) = (0usize, 0usize);
    let mut stats = crate::reassembly::Stats::default();
    for pass in 0..2 {
        let mut table = crate::reassembly::Table::new(crate::reassembly::Config::default());
        let mut ev = crate::reassembly::Events::default();
        let start = std::time::Instant::now();
        for b in &batches {
            for (j, m) in b.masks.iter().enumerate() {
                if m & tcp == 0 {
                    continue;
                }
                let (a, e) = (b.starts[j] as usize, b.starts.get(j + 1).map_or(b.data.len(), |&e| e as usize));
                let Some(p) = netcap_sdk::packets(&b.data[a..e]).next() else { continue };
                if let Some(seg) = crate::streams::segment(&p, (b.flows[j] & 0xff) as u8) {
                    table.segment(&seg, 1, &mut ev);
                }
            }
            if pass == 1 {
                events += ev.index.len();
                event_bytes += ev.data.len();
            }
            ev.clear();
        }
        table.finish(&mut ev);
        if pass == 1 {
            elapsed = start.elapsed();
            stats = table.stats.clone();
        }
    }
    let ns = elapsed.as_nanos() as f64 / seq.max(1) as f64;
    println!(
        "reassembly packets={seq} seconds={:.6} ns_per_packet={ns:.1} streams={} segments={} bytes={} events={events} event_bytes={event_bytes}",
        elapsed.as_secs_f64(),
        stats.streams,
        stats.segments,
        stats.bytes
    );
    Ok(0)
}

/// Decoder time alone: the capture is read and dissected into batches first (as the dispatcher
/// makes them), then every batch goes through each decoder's `decode`, twice; the second pass is
/// timed. One thread, so the number is the decoder's own cost, WebAssembly or native.
#[allow(clippy::print_stdout, reason = "benchmark output")]
fn bench_decode(file: &std::path::Path, native: bool) -> anyhow::Result<u8> {
    use crate::capture::PacketSource;
    let mut src = crate::capture::file::FileSource::open(file, None)?;
    let mut d = crate::dissect::Dissection::default();
    let mut batches: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let (mut seq, mut in_batch) = (0u64, 0usize);
    while let Some(p) = src.next_packet()? {
        crate::dissect::dissect(p.link_type, p.data, &mut d);
        netcap_sdk::push_packet(&mut cur, seq, p.ts_nanos, p.link_type, p.orig_len, d.layers(), p.data);
        seq += 1;
        in_batch += 1;
        if in_batch == 512 {
            batches.push(std::mem::take(&mut cur));
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        batches.push(cur);
    }
    let opts = CaptureOptions {
        input: Input::File(file.into()),
        bpf: None,
        out_dir: PathBuf::new(),
        format: Format::Ncap(Compression::None),
        workers: 1,
        include: Vec::new(),
        exclude: Vec::new(),
        payload: false,
        entropy: false,
        plugin_dirs: Vec::new(),
        unknown_pcap: false,
        errors_pcap: false,
        limits: Limits::default(),
        decoder_config: Vec::new(),
        dpi: crate::dpi::DpiOptions { enabled: false, ..Default::default() },
        resolve: crate::resolve::ResolverOptions::default(),
        quiet: true,
        native,
        reassembly: crate::reassembly::Config::default(),
        defrag: true,
        stop: Arc::new(AtomicBool::new(false)),
        flush_interval: std::time::Duration::from_secs(1),
        extract: None,
        metrics: None,
        kafka: None,
    };
    let mut notices = Vec::new();
    let (decoders, _rt) = crate::pipeline::load_decoders(&opts, &mut notices)?;
    for dec in &decoders {
        let mut inst = dec.factory.instantiate(&[]).map_err(|f| anyhow::anyhow!("{}: {}", dec.spec.id, f.message))?;
        let mut out_bytes = 0usize;
        let mut elapsed = std::time::Duration::ZERO;
        for pass in 0..2 {
            let start = std::time::Instant::now();
            for b in &batches {
                let out = inst.decode(b).map_err(|f| anyhow::anyhow!("{}: {}", dec.spec.id, f.message))?;
                out_bytes += out.len();
            }
            if pass == 1 {
                elapsed = start.elapsed();
            }
        }
        let ns = elapsed.as_nanos() as f64 / seq.max(1) as f64;
        println!(
            "decoder={} backend={} packets={seq} seconds={:.6} ns_per_packet={ns:.1} output_bytes={}",
            dec.spec.id,
            if native { "native" } else { "wasm" },
            elapsed.as_secs_f64(),
            out_bytes / 2
        );
    }
    Ok(0)
}

/// A duration in nanoseconds from `90s`, `1.5m`, `2h`, `250ms`, `10us`, `5ns` or a plain number
/// of seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration (e.g. 90s, 5m, 250ms)"))?;
    let scale = match unit.trim() {
        "" | "s" => 1e9,
        "ms" => 1e6,
        "us" | "µs" => 1e3,
        "ns" => 1.0,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        u => return Err(format!("unknown unit {u:?} in {s:?} (ns, us, ms, s, m, h, d)")),
    };
    let v = n * scale;
    if !v.is_finite() || !(0.0..=1e19).contains(&v) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(v.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5m"), Ok(90_000_000_000));
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("2"), Ok(2_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
