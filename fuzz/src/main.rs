//! `netcap-fuzz`: runs the fuzzing harness from the command line (`cargo xtask fuzz` builds it in
//! release and runs it).
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use netcap_fuzz::{Budget, Config, Report, Target};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: netcap-fuzz [--minutes N | --iterations N] [--target dissect|defrag|reassembly|records] [--seed S]\n\
                     Seeds come from the captures in $NETCAP_PCAP_DIR (default ../shared/pcaps); crashers are saved\n\
                     to fuzz/crashers/<target>/<sha256>.bin.";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("netcap-fuzz: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = Config {
        targets: Target::ALL.to_vec(),
        seed: 0,
        budget: Budget::Time(Duration::from_secs(60)),
        crashers: Some(netcap_fuzz::crashers_dir()),
        scratch: netcap_fuzz::scratch_dir(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--minutes" => {
                let m: f64 = value()?.parse().map_err(|_| "--minutes takes a number".to_string())?;
                if !(m > 0.0 && m.is_finite()) {
                    return Err("--minutes must be positive".into());
                }
                cfg.budget = Budget::Time(Duration::from_secs_f64(m * 60.0));
            }
            "--iterations" => {
                cfg.budget = Budget::Iterations(value()?.parse().map_err(|_| "--iterations takes a count")?);
            }
            "--target" => {
                let v = value()?;
                cfg.targets = vec![Target::from_name(v).ok_or(format!("unknown target {v:?}"))?];
            }
            "--seed" => cfg.seed = value()?.parse().map_err(|_| "--seed takes a number")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let files = match netcap_fuzz::corpus_dir() {
        Some(dir) => netcap_fuzz::seeds::capture_files(&dir),
        None => {
            eprintln!("notice: no capture corpus ($NETCAP_PCAP_DIR), fuzzing from the synthesized seeds only");
            Vec::new()
        }
    };
    let seeds = netcap_fuzz::seeds::collect(&files);
    eprintln!("seeds from {} captures, seed {}", files.len(), cfg.seed);
    let report = netcap_fuzz::fuzz(&cfg, &seeds, |r| print_report(r, false)).map_err(|e| e.to_string())?;
    print_report(&report, true);
    Ok(if report.crashes.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_report(r: &Report, last: bool) {
    for (t, tr) in &r.targets {
        let secs = tr.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<11} {:>10} iterations {:>9.0}/s  seeds {:>5}  kept {:>5}  panics {:>4}  slowest {:.1} ms",
            t.name(),
            tr.iterations,
            tr.iterations as f64 / secs,
            tr.seeds,
            tr.kept,
            tr.panics,
            tr.slowest.as_secs_f64() * 1e3
        );
    }
    if last {
        println!("{} crashes", r.crashes.len());
        for c in &r.crashes {
            let saved = c.saved.as_ref().map_or("not saved".to_string(), |p| p.display().to_string());
            println!("crash in {}: {}\n  input: {saved}", c.target.name(), c.message.replace('\n', " "));
        }
    } else {
        println!("--");
    }
}
