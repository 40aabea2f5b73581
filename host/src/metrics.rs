//! `netcap capture --metrics ADDR`: the running capture's counters as a Prometheus text endpoint
//! (`GET /metrics`, exposition format 0.0.4) on a thread of its own.
//!
//! The stages publish into [`Metrics`] once per epoch (the dispatcher its packet, byte, unknown
//! and dissection-error counts, the writer its records per type and decoder faults), never per
//! packet; the per-kind tables are snapshots behind a mutex taken once per epoch and per scrape.
//! Per-thread CPU time is read from `/proc/self/task` when scraped, so the stages do nothing for
//! it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one worker publishes after each batch.
#[derive(Debug, Default, Clone)]
pub struct WorkerGauges {
    /// Decoder errors by "decoder: kind", this worker's so far.
    pub errors: Vec<(String, u64)>,
    /// TCP streams held by its reassembly, and the bytes they hold.
    pub streams: u64,
    pub stream_bytes: u64,
}

/// Live counters of one capture.
#[derive(Debug, Default)]
pub struct Metrics {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Packets the kernel or interface dropped (live captures, when known).
    pub dropped: AtomicU64,
    /// Record types in output order, with the records written so far (set once the workers
    /// are planned).
    pub records: std::sync::OnceLock<Vec<(String, AtomicU64)>>,
    /// Per worker thread: its decoders' errors so far and its reassembly gauges (published after
    /// each batch).
    pub workers: Vec<Mutex<WorkerGauges>>,
    /// Unknown packets by reason, dissection errors by kind (dispatcher snapshots).
    pub unknown: Mutex<Vec<(String, u64)>>,
    pub errors: Mutex<Vec<(String, u64)>>,
    /// Decoder faults by "decoder: kind" (writer snapshot).
    pub faults: Mutex<Vec<(String, u64)>>,
}

impl Metrics {
    /// Counters for `threads` worker threads; the record types come with [`Metrics::set_types`].
    pub fn new(threads: usize) -> Self {
        Metrics { workers: (0..threads).map(|_| Mutex::default()).collect(), ..Default::default() }
    }

    /// The record types `names`, in output order.
    pub fn set_types(&self, names: impl IntoIterator<Item = String>) {
        let _ = self.records.set(names.into_iter().map(|n| (n, AtomicU64::new(0))).collect());
    }

    /// Worker `w`'s latest gauges.
    pub fn publish_worker(&self, w: usize, g: impl FnOnce(&mut WorkerGauges)) {
        if let Some(slot) = self.workers.get(w) {
            g(&mut slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        }
    }

    /// Replaces a snapshot table.
    pub fn set(table: &Mutex<Vec<(String, u64)>>, rows: impl Iterator<Item = (String, u64)>) {
        let mut t = table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        t.clear();
        t.extend(rows);
    }

    /// The exposition text.
    pub fn render(&self, threads: &[(String, f64)]) -> String {
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, rows: &[(String, u64)], label: &str| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (k, v) in rows {
                match label {
                    "" => s.push_str(&format!("{name} {v}\n")),
                    l => s.push_str(&format!("{name}{{{l}=\"{}\"}} {v}\n", escape(k))),
                }
            }
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter("netcap_packets_total", "Packets read.", &[(String::new(), load(&self.packets))], "");
        counter("netcap_bytes_total", "Captured bytes of the packets read.", &[(String::new(), load(&self.bytes))], "");
        counter(
            "netcap_dropped_packets_total",
            "Packets the kernel or interface dropped.",
            &[(String::new(), load(&self.dropped))],
            "",
        );
        let records: Vec<(String, u64)> =
            self.records.get().into_iter().flatten().map(|(n, c)| (n.clone(), load(c))).collect();
        counter("netcap_records_total", "Records written, by record type.", &records, "type");
        let snap = |t: &Mutex<Vec<(String, u64)>>| t.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        counter(
            "netcap_unknown_packets_total",
            "Packets no decoder handles, by reason.",
            &snap(&self.unknown),
            "reason",
        );
        counter("netcap_dissection_errors_total", "Dissection errors, by kind.", &snap(&self.errors), "kind");
        counter(
            "netcap_decoder_faults_total",
            "Decoder faults (traps, limits), by decoder and kind.",
            &snap(&self.faults),
            "fault",
        );
        let workers: Vec<WorkerGauges> =
            self.workers.iter().map(|w| w.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()).collect();
        counter(
            "netcap_decoder_errors_total",
            "Errors decoders reported, by decoder and kind.",
            &sum_errors(&workers),
            "kind",
        );
        gauges(&mut s, &workers);
        s.push_str("# HELP netcap_thread_cpu_seconds_total CPU time of each netcap thread.\n");
        s.push_str("# TYPE netcap_thread_cpu_seconds_total counter\n");
        for (name, secs) in threads {
            s.push_str(&format!("netcap_thread_cpu_seconds_total{{thread=\"{}\"}} {secs:.2}\n", escape(name)));
        }
        s
    }
}

/// The workers' decoder errors added up per kind, sorted by kind.
fn sum_errors(workers: &[WorkerGauges]) -> Vec<(String, u64)> {
    let mut errors: Vec<(String, u64)> = Vec::new();
    for (k, n) in workers.iter().flat_map(|w| w.errors.iter()) {
        match errors.iter_mut().find(|(e, _)| e == k) {
            Some(e) => e.1 += n,
            None => errors.push((k.clone(), *n)),
        }
    }
    errors.sort();
    errors
}

/// The reassembly gauges, one sample per worker.
fn gauges(s: &mut String, workers: &[WorkerGauges]) {
    type Gauge = (&'static str, &'static str, fn(&WorkerGauges) -> u64);
    let metrics: [Gauge; 2] = [
        ("netcap_reassembly_streams", "TCP streams held by each worker's reassembly.", |w| w.streams),
        ("netcap_reassembly_bytes", "Bytes held by each worker's reassembly.", |w| w.stream_bytes),
    ];
    for (name, help, get) in metrics {
        s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (i, w) in workers.iter().enumerate() {
            s.push_str(&format!("{name}{{worker=\"{i}\"}} {}\n", get(w)));
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// CPU seconds (user + system) of each thread of this process, by thread name, threads of the
/// same name summed, sorted by name.
pub fn thread_cpu() -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Some((name, secs)) = parse_stat(&stat) else { continue };
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(r) => r.1 += secs,
            None => out.push((name, secs)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The name and CPU seconds from a `/proc/.../stat` line: `pid (comm) state ...`, utime and stime
/// being the 14th and 15th fields, in USER_HZ (100 per second on Linux).
fn parse_stat(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    // rest[0] is the state (field 3): utime is field 14, stime field 15.
    let ticks = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    Some((name, ticks as f64 / 100.0))
}

/// Binds `addr` and serves the metrics from a detached thread until the process ends.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new().name("netcap-metrics".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = answer(conn, &metrics);
        }
    })?;
    Ok(bound)
}

/// Reads one request (its first line) and answers it.
fn answer(mut conn: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf)?;
    let request = String::from_utf8_lossy(&buf[..n]);
    let path = request.split(' ').nth(1).unwrap_or("");
    let (status, body) = match path {
        "/metrics" | "/" => ("200 OK", metrics.render(&thread_cpu())),
        _ => ("404 Not Found", "netcap serves /metrics\n".to_string()),
    };
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proc_stat_line_gives_name_and_seconds() {
        let line = "4242 (netcap-worker-0) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some(("netcap-worker-0".into(), 4.0)));
        // A name with spaces and parentheses is taken up to the last ')'.
        let odd = "7 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 1 1 0 0";
        assert_eq!(parse_stat(odd), Some(("a (b) c".into(), 0.02)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_exposition_names_types_and_escapes_labels() {
        let m = Metrics::new(2);
        m.set_types(["TCP".to_string(), "DNS".to_string()]);
        m.packets.store(7, Ordering::Relaxed);
        m.records.get().unwrap()[1].1.store(3, Ordering::Relaxed);
        m.publish_worker(0, |g| g.errors = vec![("dns: bad label".into(), 2)]);
        m.publish_worker(1, |g| {
            g.errors = vec![("dns: bad label".into(), 3)];
            g.streams = 4;
        });
        Metrics::set(&m.errors, [("ipv4: \"bad\" length".to_string(), 2)].into_iter());
        let text = m.render(&[("netcap-writer".into(), 1.5)]);
        assert!(text.contains("# TYPE netcap_packets_total counter\nnetcap_packets_total 7\n"), "{text}");
        assert!(text.contains("netcap_records_total{type=\"DNS\"} 3\n"), "{text}");
        assert!(text.contains("netcap_dissection_errors_total{kind=\"ipv4: \\\"bad\\\" length\"} 2\n"), "{text}");
        assert!(text.contains("netcap_thread_cpu_seconds_total{thread=\"netcap-writer\"} 1.50\n"), "{text}");
        assert!(text.contains("netcap_decoder_errors_total{kind=\"dns: bad label\"} 5\n"), "{text}");
        let streams = "# TYPE netcap_reassembly_streams gauge\nnetcap_reassembly_streams{worker=\"0\"} 0\nnetcap_reassembly_streams{worker=\"1\"} 4\n";
        assert!(text.contains(streams), "{text}");
    }
}
