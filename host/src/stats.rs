//! Counters and the final summary. Each thread keeps its own counters (no shared state per
//! packet) and hands them over when it ends; the summary merges them.

use std::fmt::Write as _;
use std::time::Duration;

/// Counts per kind. Kinds are few, so a small vector with linear search beats a map and only
/// allocates the first time a kind is seen.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    kinds: Vec<(String, u64)>,
}

impl Counts {
    pub fn add(&mut self, kind: &str, n: u64) {
        if let Some(e) = self.kinds.iter_mut().find(|(k, _)| k == kind) {
            e.1 += n;
        } else {
            self.kinds.push((kind.to_string(), n));
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        for (k, n) in &other.kinds {
            self.add(k, *n);
        }
    }

    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|(_, n)| n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Kinds by descending count, then name.
    pub fn sorted(&self) -> Vec<(String, u64)> {
        let mut v = self.kinds.clone();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// What the dispatcher saw.
#[derive(Debug, Default, Clone)]
pub struct DispatchStats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets no decoder handles, by reason.
    pub unknown: Counts,
    /// Dissection errors by kind.
    pub errors: Counts,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub dropped: Option<u64>,
    /// IP defragmentation counters.
    pub defrag: crate::defrag::Stats,
}

/// What a worker saw.
#[derive(Debug, Default, Clone)]
pub struct WorkerStats {
    /// Errors decoders reported, as "decoder: kind".
    pub errors: Counts,
    /// Decoder faults, as "decoder: kind".
    pub faults: Counts,
    /// Decoders disabled after repeated faults.
    pub disabled: Vec<String>,
    /// The first fault of each "decoder: kind", as "packet N: message" (counted by the writer).
    pub first_faults: Vec<(String, String)>,
    /// Wall time spent inside each decoder's `decode` calls (summed over workers).
    pub decoder_time: Vec<(String, Duration)>,
    /// TCP reassembly counters.
    pub reassembly: crate::reassembly::Stats,
    /// Streams stream decoders declined or were done with, as "decoder: declined|done".
    pub stream_stops: Counts,
}

impl WorkerStats {
    /// Adds time spent in a decoder call (once per batch, not per packet).
    pub fn add_decoder_time(&mut self, decoder: &str, d: Duration) {
        match self.decoder_time.iter_mut().find(|(n, _)| n == decoder) {
            Some(e) => e.1 += d,
            None => self.decoder_time.push((decoder.to_string(), d)),
        }
    }

    pub fn merge(&mut self, o: &WorkerStats) {
        for (n, d) in &o.decoder_time {
            self.add_decoder_time(n, *d);
        }
        self.errors.merge(&o.errors);
        self.faults.merge(&o.faults);
        self.reassembly.merge(&o.reassembly);
        self.stream_stops.merge(&o.stream_stops);
        for d in &o.disabled {
            if !self.disabled.contains(d) {
                self.disabled.push(d.clone());
            }
        }
    }
}

/// One output file.
#[derive(Debug, Clone)]
pub struct TypeCount {
    pub name: String,
    pub records: u64,
    pub path: String,
    /// Why the file is incomplete (a write error): not all its records reached the disk.
    pub incomplete: Option<String>,
}

/// Everything the final summary shows.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub source: String,
    /// Several input files: the packets read from each, and why one was not read to its end.
    pub files: Vec<crate::capture::merge::FileReport>,
    pub dispatch: DispatchStats,
    pub workers: WorkerStats,
    pub types: Vec<TypeCount>,
    pub elapsed: Duration,
    pub worker_count: usize,
    /// Why the input ended early, if it did.
    pub input_error: Option<String>,
    pub output_error: Option<String>,
    /// A file capture stopped by a signal before the end of its input.
    pub interrupted: bool,
    pub notices: Vec<String>,
}

impl Summary {
    /// Exit status: 0 complete, 1 partial output.
    pub fn exit_code(&self) -> u8 {
        let partial = self.input_error.is_some()
            || self.output_error.is_some()
            || self.interrupted
            || self.types.iter().any(|t| t.incomplete.is_some())
            || !self.workers.faults.is_empty()
            || !self.workers.disabled.is_empty();
        u8::from(partial)
    }

    /// One line per input file when there are several.
    fn render_files(&self, s: &mut String) {
        if self.files.is_empty() {
            return;
        }
        let read = self.files.iter().filter(|f| f.error.is_none()).count();
        let _ = writeln!(s, "input files: {} ({read} read to their end, merged in time order)", self.files.len());
        for f in &self.files {
            let status = f.error.as_deref().map_or_else(String::new, |e| format!("  [{e}]"));
            let _ = writeln!(s, "  {:>12} packets  {}{status}", group(f.packets), f.path.display());
        }
    }

    /// The run's counts that do not depend on timing or the worker count, for
    /// `.netcap.summary.json` (read by `netcap report`): packets, records per type, unknown
    /// packets by reason, errors (dissection and decoders) and faults by kind, how input ended.
    pub fn counts_json(&self) -> serde_json::Value {
        let d = &self.dispatch;
        let map = |c: &Counts| -> serde_json::Map<String, serde_json::Value> {
            c.sorted().into_iter().map(|(k, n)| (k, n.into())).collect()
        };
        let mut errors = d.errors.clone();
        errors.merge(&self.workers.errors);
        let records: serde_json::Map<String, serde_json::Value> =
            self.types.iter().map(|t| (t.name.clone(), t.records.into())).collect();
        serde_json::json!({
            "source": self.source,
            "packets": d.packets,
            "bytes": d.bytes,
            "records": records,
            "unknown": map(&d.unknown),
            "errors": map(&errors),
            "faults": map(&self.workers.faults),
            "input_error": self.input_error,
            "interrupted": self.interrupted,
        })
    }

    /// The summary table, as printed at the end of a capture.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let d = &self.dispatch;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            s,
            "netcap {}: {} packets ({}) from {} in {:.3} s with {} worker{}: {} packets/s",
            env!("CARGO_PKG_VERSION"),
            group(d.packets),
            bytes(d.bytes),
            // Several files are listed one per line below.
            if self.files.is_empty() { self.source.clone() } else { format!("{} files", self.files.len()) },
            secs,
            self.worker_count,
            if self.worker_count == 1 { "" } else { "s" },
            group((d.packets as f64 / secs) as u64)
        );
        if let (Some(a), Some(b)) = (d.first_ts, d.last_ts) {
            let _ = writeln!(s, "capture time span: {:.6} s", (b - a) as f64 / 1e9);
        }
        if !self.types.is_empty() {
            let w = self.types.iter().map(|t| t.name.len()).max().unwrap_or(4).max(11);
            let _ = writeln!(s, "\n{:<w$} {:>12} {:>9}  FILE", "RECORD TYPE", "RECORDS", "PER PKT");
            for t in &self.types {
                let share = if d.packets > 0 { t.records as f64 / d.packets as f64 } else { 0.0 };
                let _ = write!(s, "{:<w$} {:>12} {:>9.3}  {}", t.name, group(t.records), share, t.path);
                match &t.incomplete {
                    Some(e) => {
                        let _ = writeln!(s, "  INCOMPLETE: {e}");
                    }
                    None => s.push('\n'),
                }
            }
        } else {
            let _ = writeln!(s, "\nno records");
        }
        let mut errors = d.errors.clone();
        errors.merge(&self.workers.errors);
        let kw = [&d.unknown, &errors, &self.workers.faults]
            .iter()
            .flat_map(|c| c.sorted())
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(30);
        let unknown = d.unknown.total();
        let _ = writeln!(s, "\nunknown packets: {}", group(unknown));
        for (k, n) in d.unknown.sorted() {
            let _ = writeln!(s, "  {:<kw$} {:>12}", k, group(n));
        }
        let _ = writeln!(s, "errors: {}", group(errors.total()));
        for (k, n) in errors.sorted() {
            let _ = writeln!(s, "  {:<kw$} {:>12}", k, group(n));
        }
        if !self.workers.faults.is_empty() {
            let _ = writeln!(s, "decoder faults: {}", group(self.workers.faults.total()));
            for (k, n) in self.workers.faults.sorted() {
                let _ = writeln!(s, "  {:<kw$} {:>12}", k, group(n));
                if let Some((_, first)) = self.workers.first_faults.iter().find(|(f, _)| *f == k) {
                    let _ = writeln!(s, "    first: {first}");
                }
            }
        }
        let f = &d.defrag;
        if f.fragments > 0 {
            let _ = writeln!(
                s,
                "ip defragmentation: {} datagrams from {} fragments; {} incomplete datagrams, {} overlapping fragments ({} with differing bytes), {} fragments dropped",
                group(f.datagrams),
                group(f.fragments),
                group(f.incomplete),
                group(f.overlaps),
                group(f.conflicts),
                group(f.dropped)
            );
        }
        let r = &self.workers.reassembly;
        if !r.is_empty() {
            let _ = writeln!(
                s,
                "tcp reassembly: {} streams, {} segments, {} in order; {} gaps ({}), {} out-of-order segments, \
                 {} overlapping segments ({}, {} with differing bytes), {} limit skips, {} segments dropped, \
                 {} RSTs ignored",
                group(r.streams),
                group(r.segments),
                bytes(r.bytes),
                group(r.gaps),
                bytes(r.gap_bytes),
                group(r.out_of_order),
                group(r.overlaps),
                bytes(r.overlap_bytes),
                group(r.conflicts),
                group(r.limit_skips),
                group(r.dropped),
                group(r.rst_ignored)
            );
            let reasons = ["fin", "rst", "timeout", "end of input", "reused", "evicted"];
            let closed: Vec<String> = reasons
                .iter()
                .zip(r.closed)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{k} {}", group(n)))
                .collect();
            if !closed.is_empty() {
                let _ = writeln!(s, "  streams closed by {}", closed.join(", "));
            }
            for (k, n) in self.workers.stream_stops.sorted() {
                let _ = writeln!(s, "  {:<kw$} {:>12}", k, group(n));
            }
        }
        for (dname, t) in &self.workers.decoder_time {
            let per = if d.packets > 0 { t.as_nanos() as f64 / d.packets as f64 } else { 0.0 };
            let _ = writeln!(s, "decoder time: {dname} {:.3} s ({per:.0} ns per packet)", t.as_secs_f64());
        }
        for dname in &self.workers.disabled {
            let _ = writeln!(s, "decoder {dname} was disabled after repeated faults: its records are incomplete");
        }
        if let Some(n) = d.dropped {
            let _ = writeln!(s, "dropped by the kernel or interface: {}", group(n));
        }
        self.render_files(&mut s);
        if let Some(e) = &self.input_error {
            let _ = writeln!(s, "input ended early: {e}");
        }
        if self.interrupted {
            let _ = writeln!(
                s,
                "stopped by a signal after {} packets: the input was not read to the end (the files hold the records of the packets read)",
                group(d.packets)
            );
        }
        if let Some(e) = &self.output_error {
            let _ = writeln!(s, "output failed: {e}");
            let bad: Vec<&str> =
                self.types.iter().filter(|t| t.incomplete.is_some()).map(|t| t.path.as_str()).collect();
            if !bad.is_empty() {
                let _ =
                    writeln!(s, "incomplete files (not all the records counted above are in them): {}", bad.join(", "));
            }
        }
        s
    }
}

/// 1234567 -> "1,234,567".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_counts() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        let mut c = Counts::default();
        c.add("b", 1);
        c.add("a", 1);
        c.add("b", 2);
        assert_eq!(c.sorted(), vec![("b".to_string(), 3), ("a".to_string(), 1)]);
        assert_eq!(c.total(), 4);
    }
}
