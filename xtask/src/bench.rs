//! `cargo xtask bench [PCAP] [--size 512M] [--runs N]`: throughput side by side on one capture.
//!
//! Contenders, all on the same file from the page cache:
//! - the raw read loop (`netcap bench-read`): the upper bound, reading without decoding;
//! - `netcap capture` with the standard L2–L4 decoders in WebAssembly, 1 worker and all cores;
//! - the same decoder crates linked natively (`--native`), 1 worker and all cores;
//! - `netcap capture --format parquet` (WebAssembly decoders), against the default `.ncap.zst`;
//! - the decoders alone (`netcap bench-decode`), WebAssembly and native, on one thread;
//! - `tshark -T fields` printing the same fields;
//! - `netcap label` on the capture's records with 30,000 synthesized Suricata alerts (eve.json,
//!   on TCP and UDP packets picked evenly through the capture); `--label` runs only this one.
//!
//! Without a PCAP, `../shared/tools/make-bench-pcap.sh` synthesizes one from the shared corpus
//! (cached in `target/bench/`). Release build; numbers are wall-clock packets per second.

use crate::{cargo, root, run_cmd, target_dir};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The fields tshark prints: what the Ethernet, IPv4, IPv6, TCP and UDP records hold.
const TSHARK_FIELDS: &[&str] = &[
    "frame.time_epoch",
    "eth.src",
    "eth.dst",
    "eth.type",
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield",
    "ip.len",
    "ip.id",
    "ip.flags",
    "ip.frag_offset",
    "ip.ttl",
    "ip.proto",
    "ip.checksum",
    "ip.src",
    "ip.dst",
    "ipv6.tclass",
    "ipv6.flow",
    "ipv6.plen",
    "ipv6.nxt",
    "ipv6.hlim",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.hdr_len",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.checksum",
    "tcp.urgent_pointer",
    "tcp.options.mss_val",
    "tcp.len",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "udp.checksum",
];

struct Args {
    pcap: Option<PathBuf>,
    size: String,
    runs: usize,
    skip_tshark: bool,
    label_only: bool,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut a = Args { pcap: None, size: "512M".into(), runs: 2, skip_tshark: false, label_only: false };
    let mut it = args.iter();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--size" => a.size = it.next().context("--size needs a value")?.clone(),
            "--runs" => a.runs = it.next().context("--runs needs a value")?.parse()?,
            "--no-tshark" => a.skip_tshark = true,
            "--label" => a.label_only = true,
            p if !p.starts_with('-') => a.pcap = Some(PathBuf::from(p)),
            other => bail!("unknown bench option {other}"),
        }
    }
    Ok(a)
}

fn bench_pcap(size: &str) -> Result<PathBuf> {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let out = dir.join(format!("bench-{size}.pcap"));
    if out.is_file() {
        return Ok(out);
    }
    let script = root().join("../shared/tools/make-bench-pcap.sh");
    if !script.is_file() {
        bail!("no capture given and {} is missing", script.display());
    }
    let tmp = dir.join("bench.tmp.pcap");
    run_cmd(Command::new("bash").arg(&script).arg(&tmp).arg(size))?;
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}

/// Runs `cmd` `runs` times; the best wall time in seconds.
fn time_best(runs: usize, mut make: impl FnMut() -> Command) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(1) {
        let mut c = make();
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        let t = Instant::now();
        let out = c.output().context("running a contender")?;
        let secs = t.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!("{:?} failed: {}", c.get_program(), String::from_utf8_lossy(&out.stderr));
        }
        best = best.min(secs);
    }
    Ok(best)
}

fn packets_in(bin: &Path, pcap: &Path) -> Result<u64> {
    let out = Command::new(bin).arg("bench-read").arg(pcap).output()?;
    let s = String::from_utf8_lossy(&out.stdout);
    let n = s.split_whitespace().find_map(|kv| kv.strip_prefix("packets=")).context("bench-read output")?;
    Ok(n.parse()?)
}

pub(crate) fn bench(args: &[String]) -> Result<()> {
    let a = parse(args)?;
    crate::ensure_system()?;
    crate::build_plugins(false)?;
    run_cmd(cargo().args(["build", "--locked", "--release", "-p", "netcap", "--features", "native-decoders"]))?;
    let bin = target_dir().join("release").join("netcap");
    let pcap = match &a.pcap {
        Some(p) => p.clone(),
        None => bench_pcap(&a.size)?,
    };
    let bytes = std::fs::metadata(&pcap)?.len();
    // Warm the page cache and count.
    let packets = packets_in(&bin, &pcap)?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    eprintln!(
        "bench: {} ({} packets, {:.1} MB), {cores} cores, best of {} runs",
        pcap.display(),
        packets,
        bytes as f64 / 1e6,
        a.runs
    );
    if a.label_only {
        return label_bench(&bin, &pcap, a.runs);
    }
    let out_dir = target_dir().join("bench").join("out");
    let mut rows = netcap_rows(&bin, &pcap, &out_dir, cores, a.runs)?;
    let tshark_secs = if a.skip_tshark { None } else { tshark_row(&pcap, &mut rows)? };
    print_table(&rows, packets, tshark_secs);
    print_decode_cost(&bin, &pcap)?;
    print_ratios(&rows, cores);
    let _ = std::fs::remove_dir_all(&out_dir);
    label_bench(&bin, &pcap, a.runs)
}

/// The timed `netcap` contenders: (label, best seconds).
fn netcap_rows(bin: &Path, pcap: &Path, out_dir: &Path, cores: usize, runs: usize) -> Result<Vec<(String, f64)>> {
    let mut rows: Vec<(String, f64)> = Vec::new();
    rows.push((
        "raw read loop (netcap bench-read)".into(),
        time_best(runs, || {
            let mut c = Command::new(bin);
            c.arg("bench-read").arg(pcap);
            c
        })?,
    ));
    let capture = |workers: usize, native: bool| {
        let mut c = Command::new(bin);
        c.arg("capture")
            .arg("-r")
            .arg(pcap)
            .arg("-o")
            .arg(out_dir)
            .arg("--quiet")
            .arg("--workers")
            .arg(workers.to_string());
        if native {
            c.arg("--native");
        }
        c
    };
    for (w, native) in [(1, false), (1, true), (cores, false), (cores, true)] {
        let label = format!(
            "netcap capture, {} decoders, {w} worker{}",
            if native { "native" } else { "WebAssembly" },
            if w == 1 { "" } else { "s" }
        );
        rows.push((label, time_best(runs, || capture(w, native))?));
    }
    // The sandbox's own cost: no fuel, no wall-clock net (no fuel or epoch checks in the code) and
    // no memory cap.
    rows.push((
        "netcap capture, WebAssembly, limits off, 1 worker".into(),
        time_best(runs, || {
            let mut c = capture(1, false);
            c.args(["--decoder-timeout", "0", "--decoder-fuel", "0", "--decoder-memory", "0"]);
            c
        })?,
    ));
    // Parquet output instead of .ncap.zst (issue 20: at most 1.3x the time).
    for w in [1, cores] {
        let label = format!("netcap capture, WebAssembly, Parquet, {w} worker{}", if w == 1 { "" } else { "s" });
        rows.push((
            label,
            time_best(runs, || {
                let mut c = capture(w, false);
                c.args(["--format", "parquet"]);
                c
            })?,
        ));
    }
    // The foundation's decoders alone (Ethernet, IPv4, IPv6, TCP, UDP), against which the cost of
    // all the other layer decoders is judged.
    for w in [1, cores] {
        let label = format!("netcap capture, L2-L4 decoders only, {w} worker{}", if w == 1 { "" } else { "s" });
        rows.push((
            label,
            time_best(runs, || {
                let mut c = capture(w, false);
                c.args(["--include", "l2l4"]);
                c
            })?,
        ));
    }
    Ok(rows)
}

/// tshark printing the same fields, added to `rows`: its seconds (`None` without tshark).
fn tshark_row(pcap: &Path, rows: &mut Vec<(String, f64)>) -> Result<Option<f64>> {
    if Command::new("tshark").arg("-v").output().is_err() {
        return Ok(None);
    }
    let secs = time_best(1, || {
        let mut c = Command::new("tshark");
        c.args(["-n", "-r"]).arg(pcap).args(["-T", "fields"]);
        for f in TSHARK_FIELDS {
            c.args(["-e", f]);
        }
        c
    })?;
    rows.push((format!("tshark -T fields ({} fields)", TSHARK_FIELDS.len()), secs));
    Ok(Some(secs))
}

/// The contenders' table: seconds, packets per second, speed against tshark.
fn print_table(rows: &[(String, f64)], packets: u64, tshark_secs: Option<f64>) {
    println!("\n{:<48} {:>9} {:>14} {:>10}", "contender", "seconds", "packets/s", "vs tshark");
    for (label, secs) in rows {
        let pps = packets as f64 / secs;
        let vs = tshark_secs.map(|t| format!("{:.1}x", t / secs)).unwrap_or_else(|| "-".into());
        println!("{label:<48} {secs:>9.3} {:>14} {vs:>10}", group(pps as u64));
    }
}

/// Decoder cost alone, single-threaded, on the same batches (`netcap bench-decode`).
fn print_decode_cost(bin: &Path, pcap: &Path) -> Result<()> {
    let mut per_packet = Vec::new();
    for native in [false, true] {
        let mut c = Command::new(bin);
        c.arg("bench-decode").arg(pcap);
        if native {
            c.arg("--native");
        }
        let out = c.output().context("running bench-decode")?;
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        // One line per decoder: the sum is the cost of all decoders per packet.
        let per_decoder: Vec<f64> = s
            .split_whitespace()
            .filter_map(|kv| kv.strip_prefix("ns_per_packet="))
            .filter_map(|v| v.parse().ok())
            .collect();
        if per_decoder.is_empty() {
            bail!("bench-decode printed no timings: {s}");
        }
        per_packet.push(per_decoder.iter().sum::<f64>());
    }
    println!(
        "\ndecoder calls alone (bench-decode, 1 thread): WebAssembly {:.0} ns/packet, native {:.0} ns/packet: {:.2}x",
        per_packet[0],
        per_packet[1],
        per_packet[0] / per_packet[1]
    );
    Ok(())
}

/// Ratios between the contenders (WebAssembly / native, limits, L2-L4, Parquet).
fn print_ratios(rows: &[(String, f64)], cores: usize) {
    let find = |needle: &str| rows.iter().find(|r| r.0.contains(needle)).map(|r| r.1);
    if let (Some(w1), Some(n1)) = (find("WebAssembly decoders, 1 worker"), find("native decoders, 1 worker")) {
        println!("WebAssembly / native, whole capture, 1 worker: {:.2}x the time", w1 / n1);
    }
    if let (Some(on), Some(off)) = (find("WebAssembly decoders, 1 worker"), find("WebAssembly, limits off, 1 worker")) {
        println!("sandbox limits on / off, 1 worker: {:.2}x the time", on / off);
    }
    for w in [1, cores] {
        let s = if w == 1 { "" } else { "s" };
        let all = find(&format!("WebAssembly decoders, {w} worker{s}"));
        let l2l4 = find(&format!("L2-L4 decoders only, {w} worker{s}"));
        if let (Some(all), Some(l2l4)) = (all, l2l4) {
            println!("all layer decoders / L2-L4 decoders only, {w} worker{s}: {:.2}x the time", all / l2l4);
        }
    }
    for w in [1, cores] {
        let s = if w == 1 { "" } else { "s" };
        let ncap = find(&format!("WebAssembly decoders, {w} worker{s}"));
        let parquet = find(&format!("Parquet, {w} worker{s}"));
        if let (Some(ncap), Some(parquet)) = (ncap, parquet) {
            println!("Parquet / .ncap.zst output, {w} worker{s}: {:.2}x the time", parquet / ncap);
        }
    }
    let wn = format!("WebAssembly decoders, {cores} worker");
    let nn = format!("native decoders, {cores} worker");
    if let (Some(w), Some(n)) = (find(&wn), find(&nn)) {
        println!("WebAssembly / native, whole capture, {cores} workers: {:.2}x the time", w / n);
    }
}

/// Alerts synthesized for the label benchmark (issue 7: ~30k alerts on one day of CIC-IDS2017
/// took the Go netcap 2 h 13 min).
const LABEL_ALERTS: usize = 30_000;

/// Suricata classtypes the synthesized alerts cycle through.
const CLASSES: &[&str] = &[
    "Attempted Information Leak",
    "Misc activity",
    "Potentially Bad Traffic",
    "Attempted Denial of Service",
    "Web Application Attack",
    "A Network Trojan was detected",
    "Potential Corporate Privacy Violation",
    "Detection of a Network Scan",
    "Generic Protocol Command Decode",
    "Attempted Administrator Privilege Gain",
];

/// `netcap label` with 30,000 alerts on the records of `pcap` (captured first, not timed).
fn label_bench(bin: &Path, pcap: &Path, runs: usize) -> Result<()> {
    let dir = target_dir().join("bench").join("label");
    let records = dir.join("records");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let t = Instant::now();
    run_cmd(Command::new(bin).arg("capture").arg("-r").arg(pcap).arg("-o").arg(&records).arg("--quiet"))?;
    eprintln!("label bench: records captured in {:.1} s", t.elapsed().as_secs_f64());
    // Packets to alert on: every k-th TCP/UDP packet, by time.
    let mut packets: Vec<(i64, &str, String, String, String, String)> = Vec::new();
    let mut texts = Vec::new();
    for t in ["TCP", "UDP"] {
        let out = Command::new(bin)
            .arg("dump")
            .arg("-r")
            .arg(records.join(format!("{t}.ncap.zst")))
            .args(["--csv", "--select", "timestamp,src_ip,src_port,dst_ip,dst_port"])
            .output()
            .context("netcap dump")?;
        if !out.status.success() {
            bail!("netcap dump {t}: {}", String::from_utf8_lossy(&out.stderr));
        }
        texts.push((t, String::from_utf8(out.stdout)?));
    }
    for (t, text) in &texts {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() == 5
                && let Ok(ts) = f[0].parse::<i64>()
            {
                packets.push((ts, t, f[1].into(), f[2].into(), f[3].into(), f[4].into()));
            }
        }
    }
    if packets.len() < LABEL_ALERTS {
        bail!("the capture has only {} TCP/UDP packets", packets.len());
    }
    packets.sort();
    let step = packets.len() / LABEL_ALERTS;
    let mut eve = String::new();
    for i in 0..LABEL_ALERTS {
        let (ts, proto, src, sp, dst, dp) = &packets[i * step];
        let sid = 2_000_000 + i % 500;
        eve.push_str(&format!(
            "{{\"timestamp\":\"{}\",\"event_type\":\"alert\",\"src_ip\":\"{src}\",\"src_port\":{sp},\"dest_ip\":\"{dst}\",\"dest_port\":{dp},\"proto\":\"{proto}\",\"alert\":{{\"gid\":1,\"signature_id\":{sid},\"rev\":1,\"signature\":\"bench rule {sid}\",\"category\":\"{}\",\"severity\":{}}}}}\n",
            eve_time(*ts),
            CLASSES[i % CLASSES.len()],
            1 + i % 3
        ));
    }
    let alerts = dir.join("eve.json");
    std::fs::write(&alerts, eve)?;
    let out = dir.join("out");
    let label = || {
        let mut c = Command::new(bin);
        c.arg("label").arg("--records").arg(&records).arg("--alerts").arg(&alerts).arg("-o").arg(&out);
        c
    };
    let secs = time_best(runs, label)?;
    let o = label().output()?;
    let summary = String::from_utf8_lossy(&o.stderr);
    let records_total: u64 =
        summary.lines().filter_map(|l| l.split_once(": ")?.1.split_once(" records")?.0.parse::<u64>().ok()).sum();
    let matched = summary.lines().find(|l| l.starts_with("alerts: ")).unwrap_or("alerts: ?");
    println!(
        "\nnetcap label, {LABEL_ALERTS} alerts (eve.json) on {} records of {} types: {secs:.3} s ({} records/s); {matched}",
        group(records_total),
        summary.lines().filter(|l| l.contains(" records, ")).count(),
        group((records_total as f64 / secs) as u64)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// eve.json's time format for ns since the epoch (UTC, microseconds).
fn eve_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let micros = ns.rem_euclid(1_000_000_000) / 1000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+0000", sod / 3600, sod % 3600 / 60, sod % 60)
}

fn group(n: u64) -> String {
    let d = n.to_string();
    let mut s = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(c);
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn eve_time_is_utc_with_microseconds() {
        assert_eq!(super::eve_time(1_406_976_625_823_699_999), "2014-08-02T10:50:25.823699+0000");
        assert_eq!(super::eve_time(0), "1970-01-01T00:00:00.000000+0000");
        assert_eq!(super::eve_time(951_782_400_000_000_000), "2000-02-29T00:00:00.000000+0000");
    }
}
