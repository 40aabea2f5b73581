//! The fuzzing harness in CI: the committed crashers replay without a panic, and a short run with
//! a fixed seed and iteration count (the same inputs every time) finds no crash.

use netcap_fuzz::{Budget, Config, Target};

/// Crashers of bugs not fixed yet: (target, SHA-256), each with an ignored test below.
const OPEN: &[(&str, &str)] = &[];

#[test]
fn crashers_replay_without_panic() {
    let mut scratch = netcap_fuzz::targets::Scratch::new(&netcap_fuzz::scratch_dir()).expect("scratch dir");
    let mut failed = Vec::new();
    for (t, path) in netcap_fuzz::crashers(&netcap_fuzz::crashers_dir()) {
        let sha = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if OPEN.contains(&(t.name(), sha)) {
            continue;
        }
        let input = std::fs::read(&path).expect("read crasher");
        if let Err(message) = netcap_fuzz::run_one(t, &input, &mut scratch) {
            failed.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(failed.is_empty(), "crashers that panic again:\n{}", failed.join("\n"));
}

/// Iterations per target in CI: under a minute for all four in a debug build.
const CI_ITERATIONS: u64 = 2000;

#[test]
fn a_short_fixed_run_finds_no_crash() {
    let files = match netcap_fuzz::corpus_dir() {
        Some(dir) => netcap_fuzz::seeds::capture_files(&dir),
        None => {
            assert!(std::env::var("NETCAP_REQUIRE_CORPUS").is_ok_and(|v| v != "1"), "the capture corpus is missing");
            eprintln!("notice: no capture corpus, fuzzing from the synthesized seeds only");
            Vec::new()
        }
    };
    let seeds = netcap_fuzz::seeds::collect(&files);
    for t in Target::ALL {
        assert!(!seeds.get(t).is_empty(), "no seeds for {}", t.name());
    }
    let cfg = Config {
        targets: Target::ALL.to_vec(),
        seed: 0x6e65_7463_6170,
        budget: Budget::Iterations(CI_ITERATIONS),
        // A crash found here is saved, to be committed with its fix.
        crashers: Some(netcap_fuzz::crashers_dir()),
        scratch: netcap_fuzz::scratch_dir(),
    };
    let report = netcap_fuzz::fuzz(&cfg, &seeds, |_| {}).expect("fuzz");
    for (t, r) in &report.targets {
        eprintln!("{}: {} seeds, {} iterations, {} kept, {:?}", t.name(), r.seeds, r.iterations, r.kept, r.elapsed);
        assert_eq!(r.iterations, CI_ITERATIONS);
    }
    let crashes: Vec<String> =
        report.crashes.iter().map(|c| format!("{}: {} (saved as {:?})", c.target.name(), c.message, c.saved)).collect();
    assert!(crashes.is_empty(), "the fuzzer found crashes:\n{}", crashes.join("\n"));
}
