//! The Kafka sink (`netcap capture --kafka BROKERS`) and source (`netcap dump --kafka BROKERS
//! --topic T`), through librdkafka (the `rdkafka` crate, built from its bundled source).
//!
//! Every record goes to the topic `<prefix><Type>` (default prefix `netcap.`):
//! - value: the record's protobuf bytes, exactly as in the `.ncap` file (without the file's
//!   uvarint length prefix: a Kafka message has its own length);
//! - key: the record's *flow key* (see [`FlowKey`]): the same for both directions of a
//!   connection and the same in every topic, so one connection's records stay in one partition
//!   (and topics with the same partition count are co-partitioned). Records without addresses
//!   (Ethernet-only types, host profiles by MAC) have no key;
//! - headers `netcap.type` (the record type) and `netcap.schema` (the schema id: the first 16
//!   bytes of the SHA-256 of the message name, a NUL and the schema descriptor, in hex).
//!
//! Before a type's first record, its `netcap.v1.Header` (with the schema descriptor, exactly the
//! header a `.ncap` file starts with) goes to `<prefix>_schemas` with the schema id as key, so a
//! consumer finds the schema of any record by the record's `netcap.schema` header.
//!
//! Delivery is idempotent (`enable.idempotence`: acks from all in-sync replicas, retries without
//! duplicates or reordering), batched (`linger.ms`) and lz4-compressed. Back-pressure: when the
//! producer's queue (64 MiB) is full, a file capture waits for the broker (and a message is never
//! given up: `message.timeout.ms` is infinite), a live capture drops the record and counts it.
//! Outages (every broker unreachable) are timed and reported in the summary.

use netcap_proto::v1::Header;
use prost::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KHeader, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The record type header.
pub const TYPE_HEADER: &str = "netcap.type";
/// The schema id header.
pub const SCHEMA_HEADER: &str = "netcap.schema";
/// The run id header: the producing run's start (nanoseconds since the epoch, 16 hex digits).
pub const RUN_HEADER: &str = "netcap.run";
/// The sequence header: the record's position among its run's records of its type (decimal), its
/// place in the `.ncap` file the run would have written.
pub const SEQ_HEADER: &str = "netcap.seq";
/// The schema topic's name after the prefix.
pub const SCHEMAS_SUFFIX: &str = "_schemas";
/// Producer queue limit (librdkafka `queue.buffering.max.kbytes`).
const QUEUE_KBYTES: &str = "65536";
/// How long a full queue is waited on before trying again (file captures).
const QUEUE_WAIT: Duration = Duration::from_millis(5);
/// `dump --kafka`: how long nothing more must come after the high watermark (see
/// `for_each_message`).
const IDLE: Duration = Duration::from_secs(2);
/// Metadata and offset requests of `dump --kafka`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `--kafka` settings.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Topic name prefix.
    pub prefix: String,
    /// Live capture: drop records on a full queue (and give them up after five minutes) instead of
    /// waiting for the broker.
    pub live: bool,
    /// Partitions of the topics netcap creates (existing topics are used as they are).
    pub partitions: i32,
}

/// What the producer saw: deliveries, drops and broker outages. Written by librdkafka's threads.
#[derive(Default)]
struct Ledger {
    acked: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    /// Records over `message.max.bytes` (1 MB, Kafka's default): not sent.
    too_large: AtomicU64,
    transport_errors: AtomicU64,
    outage: Mutex<Outage>,
}

/// Broker outages: the current one's start, how many there were and how long they took.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
    count: u64,
    total: Duration,
    first_error: Option<String>,
}

/// The producer's callbacks.
struct Ctx {
    ledger: Arc<Ledger>,
}

impl ClientContext for Ctx {
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if matches!(
            code,
            Some(
                RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::Resolve
            )
        ) {
            self.ledger.transport_errors.fetch_add(1, Ordering::Relaxed);
            let mut o = self.ledger.outage.lock().unwrap_or_else(|e| e.into_inner());
            if o.since.is_none() {
                o.since = Some(Instant::now());
                o.count += 1;
                // At once, not only in the summary: an operator sees the outage while it lasts.
                eprintln!("netcap: kafka: broker unreachable ({error}); holding the records until it is back");
            }
            o.first_error.get_or_insert_with(|| format!("{error} ({reason})"));
        }
    }
}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.ledger.acked.fetch_add(1, Ordering::Relaxed);
                let mut o = self.ledger.outage.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(t) = o.since.take() {
                    o.total += t.elapsed();
                    eprintln!("netcap: kafka: broker reachable again after {:.1} s", t.elapsed().as_secs_f64());
                }
            }
            Err((e, _)) => {
                self.ledger.failed.fetch_add(1, Ordering::Relaxed);
                let mut o = self.ledger.outage.lock().unwrap_or_else(|e| e.into_inner());
                o.first_error.get_or_insert_with(|| format!("delivery failed: {e}"));
            }
        }
    }
}

/// The run's producer, shared by the record types' sinks.
pub struct Producer {
    inner: ThreadedProducer<Ctx>,
    /// Creates the topics (brokers without automatic topic creation).
    admin: AdminClient<DefaultClientContext>,
    ledger: Arc<Ledger>,
    opts: KafkaOptions,
    started: Instant,
    run_id: String,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("brokers", &self.opts.brokers).field("prefix", &self.opts.prefix).finish()
    }
}

impl Producer {
    /// Connects lazily (librdkafka connects on the first message); fails on bad settings.
    pub fn new(opts: KafkaOptions) -> Result<Self, String> {
        let ledger = Arc::new(Ledger::default());
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &opts.brokers)
            .set("client.id", "netcap")
            .set("enable.idempotence", "true")
            .set("compression.type", "lz4")
            .set("linger.ms", "20")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.kbytes", QUEUE_KBYTES)
            .set("message.timeout.ms", if opts.live { "300000" } else { "0" });
        let inner = cfg
            .create_with_context(Ctx { ledger: ledger.clone() })
            .map_err(|e| format!("--kafka {}: {e}", opts.brokers))?;
        let admin = ClientConfig::new()
            .set("bootstrap.servers", &opts.brokers)
            .create()
            .map_err(|e| format!("--kafka {}: {e}", opts.brokers))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let run_id = format!("{:016x}", now.as_nanos() as u64);
        let p = Producer { inner, admin, ledger, opts, started: Instant::now(), run_id };
        p.create_topic(&format!("{}{SCHEMAS_SUFFIX}", p.opts.prefix), 1).map_err(|e| e.to_string())?;
        Ok(p)
    }

    /// Creates topic `name` unless it exists (replication: the broker's default). A file capture
    /// waits for an unreachable broker; a live one gives up after the request timeout.
    fn create_topic(&self, name: &str, partitions: i32) -> io::Result<()> {
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(-1));
        let opts = AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT));
        loop {
            match block_on(self.admin.create_topics([&topic], &opts)) {
                Ok(results) => {
                    for r in results {
                        match r {
                            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                            Err((_, e)) => return Err(io::Error::other(format!("kafka: creating topic {name}: {e}"))),
                        }
                    }
                    return Ok(());
                }
                Err(e) if self.opts.live => return Err(io::Error::other(format!("kafka: creating topic {name}: {e}"))),
                Err(_) => std::thread::sleep(Duration::from_secs(1)),
            }
        }
    }

    /// The sink of one record type; sends its header (with the schema) to the schema topic.
    pub fn topic(self: &Arc<Self>, header: &Header) -> io::Result<TopicSink> {
        let schema_id = schema_id(&header.message_name, &header.schema);
        let sink = TopicSink {
            producer: self.clone(),
            topic: self.topic_name(&header.record_type),
            headers: OwnedHeaders::new_with_capacity(4)
                .insert(KHeader { key: TYPE_HEADER, value: Some(header.record_type.as_str()) })
                .insert(KHeader { key: SCHEMA_HEADER, value: Some(schema_id.as_str()) })
                .insert(KHeader { key: RUN_HEADER, value: Some(self.run_id.as_str()) }),
            key: FlowKey::new(&header.schema, &header.message_name),
            key_buf: String::new(),
            seq: 0,
            seq_buf: String::new(),
        };
        self.create_topic(&sink.topic, self.opts.partitions)?;
        let schemas = format!("{}{SCHEMAS_SUFFIX}", self.opts.prefix);
        let value = header.encode_to_vec();
        let rec =
            BaseRecord::to(&schemas).key(schema_id.as_bytes()).payload(value.as_slice()).headers(sink.headers.clone());
        self.send(rec)?;
        Ok(sink)
    }

    /// The topic of record type `name`.
    pub fn topic_name(&self, name: &str) -> String {
        format!("{}{name}", self.opts.prefix)
    }

    /// Queues one message: waits while the queue is full (file captures) or drops it (live).
    fn send(&self, mut rec: BaseRecord<'_, [u8], [u8]>) -> io::Result<()> {
        loop {
            match self.inner.send(rec) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    if self.opts.live {
                        self.ledger.dropped.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    if let Some((_, why)) = self.inner.client().fatal_error() {
                        return Err(io::Error::other(format!("kafka: {why}")));
                    }
                    rec = r;
                    std::thread::sleep(QUEUE_WAIT);
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                    self.ledger.too_large.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err((e, _)) => return Err(io::Error::other(format!("kafka: {e}"))),
            }
        }
    }

    /// Waits until every queued message is acknowledged (or, live, given up). An error when a
    /// message was not delivered.
    pub fn finish(&self) -> io::Result<()> {
        let waited = loop {
            match self.inner.flush(Duration::from_secs(1)) {
                Ok(()) => break Ok(()),
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    if let Some((_, why)) = self.inner.client().fatal_error() {
                        break Err(io::Error::other(format!("kafka: {why}")));
                    }
                }
                Err(e) => break Err(io::Error::other(format!("kafka: {e}"))),
            }
        };
        waited?;
        let too_large = self.ledger.too_large.load(Ordering::Relaxed);
        if too_large > 0 {
            return Err(io::Error::other(format!(
                "kafka: {too_large} records larger than a Kafka message may be (1 MB) were not sent"
            )));
        }
        let failed = self.ledger.failed.load(Ordering::Relaxed);
        if failed > 0 && !self.opts.live {
            return Err(io::Error::other(format!("kafka: {failed} records were not delivered")));
        }
        Ok(())
    }

    /// The summary lines: deliveries, drops, outages.
    pub fn report(&self) -> Vec<String> {
        let l = &self.ledger;
        let (acked, failed, dropped) =
            (l.acked.load(Ordering::Relaxed), l.failed.load(Ordering::Relaxed), l.dropped.load(Ordering::Relaxed));
        let mut lines = vec![format!(
            "kafka: {acked} messages acknowledged by {} (topics {}*, {:.1} s)",
            self.opts.brokers,
            self.opts.prefix,
            self.started.elapsed().as_secs_f64()
        )];
        let too_large = l.too_large.load(Ordering::Relaxed);
        if too_large > 0 {
            lines.push(format!("kafka: {too_large} records over 1 MB (Kafka's message size limit) not sent"));
        }
        let o = l.outage.lock().unwrap_or_else(|e| e.into_inner());
        if dropped > 0 || failed > 0 {
            lines.push(format!(
                "kafka: {dropped} records dropped (producer queue full), {failed} not delivered (first: {})",
                o.first_error.as_deref().unwrap_or("-")
            ));
        }
        if o.count > 0 {
            let total = o.total + o.since.map_or(Duration::ZERO, |t| t.elapsed());
            lines.push(format!(
                "kafka: broker unreachable {} time(s), {:.1} s in all ({} transport errors; first: {})",
                o.count,
                total.as_secs_f64(),
                l.transport_errors.load(Ordering::Relaxed),
                o.first_error.as_deref().unwrap_or("-")
            ));
        }
        lines
    }
}

/// One record type's topic.
pub struct TopicSink {
    producer: Arc<Producer>,
    topic: String,
    headers: OwnedHeaders,
    key: FlowKey,
    key_buf: String,
    seq: u64,
    seq_buf: String,
}

impl TopicSink {
    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Sends one record (protobuf bytes, without a length prefix).
    pub fn send(&mut self, record: &[u8]) -> io::Result<()> {
        use std::fmt::Write as _;
        self.seq_buf.clear();
        let _ = write!(self.seq_buf, "{}", self.seq);
        self.seq += 1;
        let headers = self.headers.clone().insert(KHeader { key: SEQ_HEADER, value: Some(self.seq_buf.as_str()) });
        let mut rec = BaseRecord::to(&self.topic).payload(record).headers(headers);
        if self.key.compute(record, &mut self.key_buf) {
            rec = rec.key(self.key_buf.as_bytes());
        }
        self.producer.send(rec)
    }
}

/// Runs `f` to completion on this thread (the admin client's futures are completed by
/// librdkafka's own threads).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// The schema id of a record type: the first 16 bytes of SHA-256(message name, NUL, schema), hex.
pub fn schema_id(message: &str, schema: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(message.as_bytes());
    h.update([0]);
    h.update(schema);
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A record's flow key: 16 hex digits of the 64-bit FNV-1a hash of its two endpoints in sorted
/// order, each `address NUL port` from the top-level fields `src_ip`/`dst_ip` (or
/// `src_mac`/`dst_mac` when the record has no IP addresses, as a Connection of a non-IP flow) and
/// `src_port`/`dst_port` (0 when absent). Symmetric, so both directions of a connection get the same key. Read by scanning the
/// record's top-level protobuf fields, without decoding the record.
pub struct FlowKey {
    /// Field numbers (0: the schema has none): source and destination IP address, source and
    /// destination port, source and destination MAC address.
    fields: [u32; 6],
}

impl FlowKey {
    fn new(schema: &[u8], message: &str) -> Self {
        let mut fields = [0u32; 6];
        let desc = prost_reflect::DescriptorPool::decode(schema).ok().and_then(|p| p.get_message_by_name(message));
        if let Some(d) = desc {
            for (f, name) in fields.iter_mut().zip(["src_ip", "dst_ip", "src_port", "dst_port", "src_mac", "dst_mac"]) {
                *f = d.get_field_by_name(name).map_or(0, |f| f.number());
            }
        }
        FlowKey { fields }
    }

    /// Writes the key of `record` into `out`; false when the record has no addresses.
    pub fn compute(&self, record: &[u8], out: &mut String) -> bool {
        if self.fields.iter().all(|&f| f == 0) {
            return false;
        }
        let mut addr: [&[u8]; 2] = [&[], &[]];
        let mut mac: [&[u8]; 2] = [&[], &[]];
        let mut port = [0u64; 2];
        for_each_field(record, |num, v| {
            for (i, &f) in self.fields.iter().enumerate() {
                if f == num && f != 0 {
                    match (i, v) {
                        (0 | 1, Field::Bytes(b)) => addr[i] = b,
                        (2 | 3, Field::Varint(n)) => port[i - 2] = n,
                        (4 | 5, Field::Bytes(b)) => mac[i - 4] = b,
                        _ => {}
                    }
                }
            }
        });
        if addr[0].is_empty() && addr[1].is_empty() {
            addr = mac;
        }
        if addr[0].is_empty() && addr[1].is_empty() {
            return false;
        }
        let (a, b) = ((addr[0], port[0]), (addr[1], port[1]));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        for (ad, p) in [lo, hi] {
            h.write(ad);
            h.write(&[0]);
            h.write(&p.to_le_bytes());
        }
        out.clear();
        use std::fmt::Write as _;
        let _ = write!(out, "{:016x}", h.0);
        true
    }
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A top-level protobuf field's value, as far as the flow key needs it.
#[derive(Clone, Copy)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

/// Calls `f` with every top-level field of `msg`; stops quietly at malformed input.
fn for_each_field<'a>(msg: &'a [u8], mut f: impl FnMut(u32, Field<'a>)) {
    let mut p = msg;
    while let Some((tag, used)) = netcap_proto::get_uvarint(p) {
        p = &p[used..];
        let num = (tag >> 3) as u32;
        let v = match tag & 7 {
            0 => match netcap_proto::get_uvarint(p) {
                Some((v, n)) => {
                    p = &p[n..];
                    Field::Varint(v)
                }
                None => return,
            },
            1 | 5 => {
                let n = if tag & 7 == 1 { 8 } else { 4 };
                let Some(rest) = p.get(n..) else { return };
                p = rest;
                Field::Other
            }
            2 => {
                let Some((len, n)) = netcap_proto::get_uvarint(p) else { return };
                let Some(b) = usize::try_from(len).ok().and_then(|l| p.get(n..n.checked_add(l)?)) else { return };
                p = &p[n + b.len()..];
                Field::Bytes(b)
            }
            _ => return,
        };
        f(num, v);
    }
}

/// The consumer's context (no callbacks).
struct Quiet;
impl ClientContext for Quiet {}
impl ConsumerContext for Quiet {}

/// Reads topic `topic` from the beginning to its end at the time of the call as the bytes of a
/// `.ncap` record stream: the type's header (from the schema topic `<prefix>_schemas`, by the
/// first record's `netcap.schema` header), then every record, ordered by run and sequence
/// number (so one run's records come out in the order of its `.ncap` file, whatever the
/// partitions).
pub fn read_topic(brokers: &str, prefix: &str, topic: &str) -> Result<Vec<u8>, String> {
    let consumer = consumer(brokers)?;
    let mut out = Vec::new();
    let mut schemas: Option<HashMap<String, Vec<u8>>> = None;
    let mut schema: Option<String> = None;
    let mut n = 0u64;
    let mut records: Vec<(String, u64, Vec<u8>)> = Vec::new();
    for_each_message(&consumer, topic, |m| {
        let id = header_value(m, SCHEMA_HEADER).unwrap_or_default();
        match &schema {
            None => {
                let all = match &schemas {
                    Some(s) => s,
                    None => schemas.insert(read_schemas(brokers, prefix)?),
                };
                let h = all.get(&id).ok_or_else(|| {
                    format!("topic {topic}: schema {id:?} is not in {prefix}{SCHEMAS_SUFFIX} on {brokers}")
                })?;
                put_delimited_bytes(&mut out, h);
                schema = Some(id);
            }
            Some(s) if *s != id => {
                return Err(format!("topic {topic}: record {n} has schema {id}, the ones before it {s}"));
            }
            Some(_) => {}
        }
        let run = header_value(m, RUN_HEADER).unwrap_or_default();
        let seq = header_value(m, SEQ_HEADER).and_then(|s| s.parse().ok()).unwrap_or(n);
        records.push((run, seq, m.payload().unwrap_or_default().to_vec()));
        n += 1;
        Ok(())
    })?;
    if schema.is_none() {
        return Err(format!("topic {topic} on {brokers} has no records"));
    }
    records.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    for (_, _, r) in &records {
        put_delimited_bytes(&mut out, r);
    }
    Ok(out)
}

/// One consumed message: key, value and headers (name, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Every message of `topic` up to its end now, per partition in offset order (for tests and
/// tools).
pub fn read_raw(brokers: &str, topic: &str) -> Result<Vec<(i32, Vec<RawMessage>)>, String> {
    let consumer = consumer(brokers)?;
    let mut parts: Vec<(i32, Vec<RawMessage>)> = Vec::new();
    for_each_message(&consumer, topic, |m| {
        let headers = m.headers().map_or_else(Vec::new, |h| {
            h.iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect()
        });
        let msg =
            RawMessage { key: m.key().map(<[u8]>::to_vec), value: m.payload().unwrap_or_default().to_vec(), headers };
        match parts.iter_mut().find(|(p, _)| *p == m.partition()) {
            Some((_, v)) => v.push(msg),
            None => parts.push((m.partition(), vec![msg])),
        }
        Ok(())
    })?;
    parts.sort_by_key(|(p, _)| *p);
    Ok(parts)
}

/// Every schema in `<prefix>_schemas`: schema id → encoded `Header`.
fn read_schemas(brokers: &str, prefix: &str) -> Result<HashMap<String, Vec<u8>>, String> {
    let consumer = consumer(brokers)?;
    let mut map = HashMap::new();
    let topic = format!("{prefix}{SCHEMAS_SUFFIX}");
    for_each_message(&consumer, &topic, |m| {
        if let (Some(k), Some(v)) = (m.key(), m.payload()) {
            map.insert(String::from_utf8_lossy(k).into_owned(), v.to_vec());
        }
        Ok(())
    })?;
    Ok(map)
}

fn consumer(brokers: &str) -> Result<BaseConsumer<Quiet>, String> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "netcap-dump")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create_with_context(Quiet)
        .map_err(|e| format!("--kafka {brokers}: {e}"))
}

/// Calls `f` with every message of `topic` up to its end now, each partition in offset order.
///
/// The end is the partition's high watermark at the start, and then the end of what the broker
/// returns: reading goes on until every partition reported its end (`PartitionEOF`) or nothing
/// came for [`IDLE`], because some brokers (tansu 0.6) report a high watermark below the last
/// offset when the last batch holds several records.
fn for_each_message(
    c: &BaseConsumer<Quiet>,
    topic: &str,
    mut f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let md = c.fetch_metadata(Some(topic), REQUEST_TIMEOUT).map_err(|e| format!("topic {topic}: {e}"))?;
    let parts: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if parts.is_empty() {
        return Err(format!("topic {topic} does not exist"));
    }
    let mut tpl = TopicPartitionList::new();
    // Per partition: the high watermark, the next offset, whether its end was reported.
    let mut state: HashMap<i32, (i64, i64, bool)> = HashMap::new();
    for &p in &parts {
        let (low, high) = c.fetch_watermarks(topic, p, REQUEST_TIMEOUT).map_err(|e| format!("topic {topic}: {e}"))?;
        tpl.add_partition_offset(topic, p, Offset::Offset(low)).map_err(|e| e.to_string())?;
        state.insert(p, (high, low, false));
    }
    c.assign(&tpl).map_err(|e| format!("topic {topic}: {e}"))?;
    let reached = |st: &HashMap<i32, (i64, i64, bool)>| st.values().all(|&(high, next, _)| next >= high);
    loop {
        let all_reached = reached(&state);
        if all_reached && state.values().all(|s| s.2) {
            return Ok(());
        }
        match c.poll(if all_reached { IDLE } else { REQUEST_TIMEOUT }) {
            Some(Ok(m)) => {
                if let Some(s) = state.get_mut(&m.partition()) {
                    s.1 = m.offset() + 1;
                    s.2 = false;
                }
                f(&m)?;
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                if let Some(s) = state.get_mut(&p) {
                    s.2 = true;
                }
            }
            Some(Err(e)) => return Err(format!("topic {topic}: {e}")),
            None if all_reached => return Ok(()),
            None => {
                return Err(format!("topic {topic}: no message for {} s before its end", REQUEST_TIMEOUT.as_secs()));
            }
        }
    }
}

fn header_value(m: &rdkafka::message::BorrowedMessage<'_>, key: &str) -> Option<String> {
    let h = m.headers()?;
    h.iter().find(|h| h.key == key).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
}

fn put_delimited_bytes(out: &mut Vec<u8>, b: &[u8]) {
    netcap_proto::put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_symmetric_by_construction() {
        let key = FlowKey { fields: [1, 2, 3, 4, 0, 0] };
        // src_ip "a", dst_ip "b", ports 1, 2; then the reverse direction.
        let fwd = [0x0a, 1, b'a', 0x12, 1, b'b', 0x18, 1, 0x20, 2];
        let rev = [0x0a, 1, b'b', 0x12, 1, b'a', 0x18, 2, 0x20, 1];
        let (mut x, mut y) = (String::new(), String::new());
        assert!(key.compute(&fwd, &mut x));
        assert!(key.compute(&rev, &mut y));
        assert_eq!(x, y);
        assert_eq!(x.len(), 16);
        assert!(!key.compute(&[0x18, 1], &mut x));
    }
}
