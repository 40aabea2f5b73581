//! `cargo xtask`: the project's build, test, CI and benchmark entry points.
//!
//! - `build-plugins` builds every `plugins/<id>` (that has a `plugin.toml`) for
//!   `wasm32-unknown-unknown`, turns the core module into a component with zero WASI imports
//!   (wit-component), checks its imports against the allow-list and writes `target/plugins/<id>.wasm`.
//! - `test` builds the plugins, then runs every test of the workspace.
//! - `lint` runs rustfmt and clippy (warnings denied); `ci` is `lint` then `test`, what CI runs.
//! - `run` builds everything in release and runs `netcap capture` (on the bundled sample when no
//!   input is given).
//! - `bench` compares a raw read loop, netcap (WebAssembly and native decoders) and tshark on the
//!   same large capture.
//! - `docs` regenerates `docs/decoders.md` from `netcap decoders --markdown`.
//! - `new-plugin NAME` scaffolds a decoder crate (`scaffold.rs`).
//! - `fuzz [--minutes N] [--target T] [--seed S]` runs the fuzzing harness (`fuzz/`) in release.
//! - `setup` installs the system packages and Rust targets a fresh machine lacks.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

mod bench;
mod scaffold;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const PLUGIN_TARGET: &str = "wasm32-unknown-unknown";
/// Code generation flags for plugins.
const PLUGIN_RUSTFLAGS: &str = "-C target-feature=+simd128,+bulk-memory";
/// The only interface a plugin may import (any 0.2.x patch version).
const ALLOWED_IMPORT_PREFIX: &str = "netcap:decoder/host@0.3.";
/// Debian packages the build and tests need: libpcap; tshark (the field oracle); tcpreplay;
/// nDPI (loaded at run time: `libndpi-dev` brings the library and its headers, which a test
/// compares our ABI declarations with) and `libndpi-bin` (ndpiReader, the DPI oracle);
/// `ieee-data` (the MAC vendor registry); `mmdb-bin` (mmdblookup, the ASN oracle); `uap-core`
/// and `nmap-common` (the data files the software and service decoders read, and their tests);
/// `chromium` (renders `netcap report` in its test); Java 17 and Python's `venv` for the Parquet
/// tests (PySpark, DuckDB and pyarrow from PyPI in `target/python`, see [`ensure_python`]).
const APT_PACKAGES: &[&str] = &[
    "libpcap-dev",
    "tshark",
    "wireshark-common",
    "tcpreplay",
    "libndpi-dev",
    "libndpi-bin",
    "ieee-data",
    "mmdb-bin",
    "uap-core",
    "nmap-common",
    // Headless Chromium renders `netcap report` in its test.
    "chromium",
    // Spark (PySpark, local mode) reads the Parquet output in its test.
    "openjdk-17-jre-headless",
    "python3-venv",
];

/// PyPI packages of the Parquet tests (tests/python/parquet_check.py): Spark in local mode,
/// DuckDB and pyarrow, installed into the virtual environment `target/python`.
const PYTHON_PACKAGES: &[&str] = &["pyspark>=3.5,<5", "duckdb>=1", "pyarrow>=15"];
/// Their import names.
const PYTHON_MODULES: &str = "import pyspark, duckdb, pyarrow";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    match cmd {
        "setup" => setup(!rest.iter().any(|a| a == "--no-broker")),
        "setup-broker" => ensure_tansu(),
        "build-plugins" => build_plugins(rest.iter().any(|a| a == "--debug")).map(|_| ()),
        "test" => test(rest),
        "lint" => lint(),
        "ci" => {
            lint()?;
            test(rest)
        }
        "run" => run(rest),
        "bench" => bench::bench(rest),
        "synth" => synth(),
        "fuzz" => fuzz(rest),
        "docs" => docs(),
        "new-plugin" => scaffold::new_plugin(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 setup            install system packages (apt, as root), the wasm target, the\n                  \
                                  Parquet tests' Python packages and the Kafka broker tansu\n                  \
                                  (--no-broker: not tansu)\n  \
                 setup-broker     install the Kafka broker tansu (CI builds it while linting)\n  \
                 build-plugins    build the WebAssembly decoders into target/plugins/\n  \
                 test             build-plugins, then run all tests\n  \
                 lint             rustfmt --check and clippy -D warnings\n  \
                 ci               lint, then test (what .ci/run does after setup)\n  \
                 run [ARGS..]     release build, then `netcap capture` (bundled sample without -r/-i)\n  \
                 bench [PCAP]     raw read vs netcap (wasm, native) vs tshark, packets/s; label\n  \
                                  with 30,000 alerts (--label: only that)\n  \
                 synth            regenerate tests/data/synth/sample.pcap\n  \
                 fuzz [--minutes N] [--target T] [--seed S]\n                  \
                                  fuzz the dissector, defragmentation, reassembly and record reader\n  \
                 docs             regenerate docs/decoders.md (netcap decoders --markdown)\n  \
                 new-plugin NAME  scaffold a decoder crate in plugins/NAME (see docs/plugin-guide.md)"
            );
            if cmd == "help" { Ok(()) } else { bail!("unknown command {cmd:?}") }
        }
    }
}

/// The netcap workspace this command works on, found at run time: the nearest directory at or
/// above the current one that holds `xtask/Cargo.toml` next to a workspace manifest (so a copied
/// checkout works on itself, not on the checkout the xtask binary was first built in); then the
/// directory cargo ran us for (`CARGO_MANIFEST_DIR` at run time); the build-time path last.
pub(crate) fn root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let cwd = std::env::current_dir().ok();
        let ran_for = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        find_root(cwd.as_deref(), ran_for.as_deref()).unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
        })
    })
    .clone()
}

/// The workspace at or above `cwd`, else the one holding the xtask crate at `ran_for`.
fn find_root(cwd: Option<&Path>, ran_for: Option<&Path>) -> Option<PathBuf> {
    let is_root = |d: &Path| {
        d.join("xtask").join("Cargo.toml").is_file()
            && std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
    };
    let above = cwd.and_then(|c| c.ancestors().find(|d| is_root(d)));
    above.or_else(|| ran_for.and_then(Path::parent).filter(|d| is_root(d))).map(Path::to_path_buf)
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub(crate) fn run_cmd(c: &mut Command) -> Result<()> {
    eprintln!("$ {}", show(c));
    let st = c.status().with_context(|| format!("running {}", show(c)))?;
    if !st.success() {
        bail!("`{}` failed with {st}", show(c));
    }
    Ok(())
}

fn show(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
}

fn have(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd}")]).output().map(|o| o.status.success()).unwrap_or(false)
}

fn apt_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs what the machine lacks: system packages, the Kafka broker (with `broker`), the
/// Python packages and the wasm target.
fn setup(broker: bool) -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES.iter().copied().filter(|p| !apt_installed(p)).collect();
    if !missing.is_empty() {
        if !is_root() || !have("apt-get") {
            bail!("missing system packages; install them with: sudo apt-get install -y {}", missing.join(" "));
        }
        run_cmd(Command::new("apt-get").args(["update", "-q"]))?;
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    if broker {
        ensure_tansu()?;
    }
    ensure_python()?;
    ensure_target()
}

/// The Kafka-protocol broker of the Kafka sink's tests (`tests/e2e/kafka.rs`).
const TANSU_VERSION: &str = "0.6.0";

/// Installs `tansu` into Cargo's bin directory (`$CARGO_HOME/bin`, cached between runs) unless
/// this version is there: the memory storage engine (`dynostore`) and SQLite (`libsql`, for the
/// restart test), nothing else. Built at opt-level 1: 7.5 minutes on an idle 2-core machine
/// instead of about 10 (16 minutes on a slower fresh one), and the Kafka tests take as long as
/// with a release build (a debug build is too slow for the SQLite restart test). `.ci/run` builds
/// it in the background (`cargo xtask setup-broker`) while lint and the test build run.
fn ensure_tansu() -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let bin = home.join("bin").join("tansu");
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(TANSU_VERSION));
    if installed {
        return Ok(());
    }
    run_cmd(Command::new("cargo").env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1").args([
        "install",
        "tansu",
        "--version",
        TANSU_VERSION,
        "--locked",
        "--no-default-features",
        "--features",
        "dynostore,libsql",
    ]))
}

/// Makes the virtual environment `target/python` with the Parquet tests' PyPI packages (the tests
/// use its interpreter; `$NETCAP_PYTHON` chooses another). Does nothing when they import already.
fn ensure_python() -> Result<()> {
    let venv = target_dir().join("python");
    let py = venv.join("bin").join("python");
    let imports = |py: &Path| Command::new(py).args(["-c", PYTHON_MODULES]).output().is_ok_and(|o| o.status.success());
    if imports(&py) {
        return Ok(());
    }
    if !py.is_file() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("making the Python environment of the Parquet tests (Debian: apt-get install python3-venv)")?;
    }
    run_cmd(Command::new(&py).args(["-m", "pip", "install", "-q"]).args(PYTHON_PACKAGES))
        .context("installing the Parquet tests' Python packages from PyPI")?;
    if !imports(&py) {
        bail!("{} cannot import the Parquet tests' packages after installing them", py.display());
    }
    Ok(())
}

/// Makes sure the system packages the build needs are there, installing them when we can.
pub(crate) fn ensure_system() -> Result<()> {
    if APT_PACKAGES.iter().all(|p| apt_installed(p)) || !have("dpkg-query") {
        return ensure_target();
    }
    setup(true)
}

fn ensure_target() -> Result<()> {
    let out = Command::new("rustc")
        .current_dir(root())
        .args(["--print", "target-libdir", "--target", PLUGIN_TARGET])
        .output()
        .context("running rustc")?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if out.status.success() && dir.is_dir() {
        return Ok(());
    }
    run_cmd(Command::new("rustup").current_dir(root()).args(["target", "add", PLUGIN_TARGET])).with_context(|| {
        format!("the plugins need the {PLUGIN_TARGET} target: run `rustup target add {PLUGIN_TARGET}`")
    })
}

struct Plugin {
    id: String,
    krate: String,
    /// Test-only plugins (`testing = true`) go to `target/plugins-testing/`, never next to the
    /// standard ones.
    testing: bool,
    /// A test plugin whose point is a forbidden import (`forbidden_imports = true`): xtask lets
    /// it through so that the host's own refusal can be tested.
    forbidden_imports: bool,
    /// The contract version of a test plugin built against another one (`wit = "0.2"`): its
    /// imports are checked against that version's host interface.
    wit: Option<String>,
    /// Example plugins (`example = true`) go to `target/plugins-examples/`, loaded only with
    /// `--plugins` (see `plugins/examples/`).
    example: bool,
}

/// Every `plugins/**/plugin.toml` (the SDK has none): its id and crate name.
fn plugins() -> Result<Vec<Plugin>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.join("plugin.toml").is_file() && p.join("Cargo.toml").is_file() {
                out.push(p);
            } else if p.is_dir() {
                walk(&p, out);
            }
        }
    }
    let mut dirs = Vec::new();
    walk(&root().join("plugins"), &mut dirs);
    dirs.into_iter()
        .map(|d| {
            let id = toml_str(&d.join("plugin.toml"), "id")?;
            let krate = toml_str(&d.join("Cargo.toml"), "name")?;
            let flag = |k: &str| toml_str(&d.join("plugin.toml"), k).is_ok_and(|v| v == "true");
            let (testing, forbidden_imports, example) = (flag("testing"), flag("forbidden_imports"), flag("example"));
            // Test plugins for other contract versions say which (`wit = "0.2"`).
            let wit = toml_str(&d.join("plugin.toml"), "wit").ok().filter(|_| testing);
            Ok(Plugin { id, krate, testing, forbidden_imports: testing && forbidden_imports, example, wit })
        })
        .collect()
}

/// The first `key = "value"` in a TOML file (enough for our own manifests).
fn toml_str(path: &Path, key: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix(key).and_then(|rest| rest.trim_start().strip_prefix('=')) {
            return Ok(v.trim().trim_matches('"').to_string());
        }
    }
    bail!("{} has no `{key}`", path.display())
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// Builds every plugin and writes `target/plugins/<id>.wasm`; returns the files.
pub(crate) fn build_plugins(debug: bool) -> Result<Vec<PathBuf>> {
    ensure_target()?;
    let plugins = plugins()?;
    let profile = if debug { "dev" } else { "plugin" };
    let mut c = cargo();
    c.args(["build", "--locked", "--target", PLUGIN_TARGET, "--profile", profile]);
    // SIMD and bulk memory operations: measured 8 % faster decoding; wasmtime supports both.
    c.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", PLUGIN_RUSTFLAGS);
    for p in &plugins {
        c.args(["-p", &p.krate]);
    }
    run_cmd(&mut c)?;
    let out_dir = target_dir().join("plugins");
    let testing_dir = target_dir().join("plugins-testing");
    std::fs::create_dir_all(&out_dir)?;
    std::fs::create_dir_all(&testing_dir)?;
    let examples_dir = target_dir().join("plugins-examples");
    std::fs::create_dir_all(&examples_dir)?;
    let prof_dir = if debug { "debug" } else { "plugin" };
    let mut files = Vec::new();
    for p in &plugins {
        let core = target_dir().join(PLUGIN_TARGET).join(prof_dir).join(format!("{}.wasm", p.krate.replace('-', "_")));
        let module = std::fs::read(&core).with_context(|| format!("reading {}", core.display()))?;
        let component = wit_component::ComponentEncoder::default()
            .module(&module)
            .with_context(|| format!("plugin {}: reading the core module", p.id))?
            .validate(true)
            .encode()
            .with_context(|| format!("plugin {}: making a component", p.id))?;
        if !p.forbidden_imports {
            let allowed = match &p.wit {
                Some(v) => format!("netcap:decoder/host@{v}."),
                None => ALLOWED_IMPORT_PREFIX.to_string(),
            };
            check_imports(&p.id, &component, &allowed)?;
        }
        let dir = if p.testing {
            &testing_dir
        } else if p.example {
            &examples_dir
        } else {
            &out_dir
        };
        let dest = dir.join(format!("{}.wasm", p.id));
        std::fs::write(&dest, &component)?;
        eprintln!("plugin {} -> {} ({} bytes)", p.id, dest.display(), component.len());
        files.push(dest);
    }
    Ok(files)
}

/// Refuses a component that imports anything but the netcap host interface.
fn check_imports(id: &str, component: &[u8], allowed: &str) -> Result<()> {
    use wasmparser::{Parser, Payload};
    // Only the outermost component's imports reach the host; nested modules and components
    // (wit-component's adapters) have their own, internal ones.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload?;
        match &payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if let (0, Payload::ComponentImportSection(reader)) = (depth, payload) {
            for imp in reader {
                let name = imp?.name.name;
                if !name.starts_with(allowed) {
                    bail!("plugin {id} imports {name:?}; only {allowed}x is allowed");
                }
            }
        }
    }
    Ok(())
}

fn test(rest: &[String]) -> Result<()> {
    ensure_system()?;
    build_plugins(false)?;
    // The end-to-end tests run the `netcap` binary; `cargo test` alone does not build it.
    // --workspace: the same feature resolution as `cargo test --workspace`, so nothing is built twice.
    run_cmd(cargo().args(["build", "--locked", "--workspace", "--bins"]))?;
    warm_decoder_cache()?;
    let corpus = root().join("..").join("shared").join("pcaps");
    let mut c = cargo();
    c.args(["test", "--locked", "--workspace"]).args(rest);
    if corpus.is_dir() {
        c.env("NETCAP_PCAP_DIR", &corpus);
    }
    run_cmd(&mut c)
}

/// Compiles every standard decoder once into the tests' code cache (`target/tmp/wasm-cache`, see
/// `netcap_tests::netcap_cmd`), with all cores, before the tests start: otherwise each of the
/// first concurrent test processes compiles all of them itself.
fn warm_decoder_cache() -> Result<()> {
    let out = Command::new(target_dir().join("debug").join("netcap"))
        .args(["plugins", "list"])
        .env("NETCAP_CACHE_DIR", target_dir().join("tmp").join("wasm-cache"))
        .output()
        .context("running netcap plugins list")?;
    if !out.status.success() {
        bail!("netcap plugins list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn lint() -> Result<()> {
    run_cmd(cargo().args(["fmt", "--all", "--check"]))?;
    run_cmd(cargo().args(["clippy", "--locked", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // Every plugin crate and the SDK, for the plugin target too (the wit-bindgen glue is wasm-only).
    let mut c = cargo();
    c.args(["clippy", "--locked", "--target", PLUGIN_TARGET, "-p", "netcap-sdk"]);
    for p in plugins()? {
        c.args(["-p", &p.krate]);
    }
    run_cmd(c.args(["--", "-D", "warnings"]))
}

/// `docs/decoders.md`: the decoder and record type table, from the built plugins.
fn docs() -> Result<()> {
    build_plugins(false)?;
    run_cmd(cargo().args(["build", "--locked", "-p", "netcap"]))?;
    let out = Command::new(target_dir().join("debug").join("netcap"))
        .args(["decoders", "--markdown"])
        .output()
        .context("running netcap decoders")?;
    if !out.status.success() {
        bail!("netcap decoders --markdown failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let path = root().join("docs").join("decoders.md");
    std::fs::create_dir_all(path.parent().context("docs dir")?)?;
    std::fs::write(&path, &out.stdout)?;
    println!("wrote {}", path.display());
    Ok(())
}

fn run(rest: &[String]) -> Result<()> {
    ensure_system()?;
    build_plugins(false)?;
    run_cmd(cargo().args(["build", "--locked", "--release", "-p", "netcap"]))?;
    let bin = target_dir().join("release").join("netcap");
    let mut c = Command::new(&bin);
    c.current_dir(root()).arg("capture");
    let has_input = rest.iter().any(|a| matches!(a.as_str(), "-r" | "--read" | "-i" | "--interface"));
    if !has_input {
        let sample = root().join("tests/data/synth/sample.pcap");
        c.arg("-r").arg(sample).args(["-o", "out"]);
    }
    c.args(rest);
    run_cmd(&mut c)
}

/// Regenerates the bundled sample capture with the test crate's synthesizer.
fn synth() -> Result<()> {
    run_cmd(cargo().args([
        "test",
        "-p",
        "netcap-tests",
        "--test",
        "e2e",
        "synth::regenerate_sample",
        "--",
        "--ignored",
        "--exact",
    ]))
}

/// `cargo xtask fuzz`: the fuzzing harness in release for a time (default 1 minute), seeds from
/// the shared corpus; crashers go to `fuzz/crashers/`.
fn fuzz(rest: &[String]) -> Result<()> {
    let mut c = cargo();
    c.args(["run", "--locked", "--release", "-p", "netcap-fuzz", "--"]).args(rest);
    let corpus = root().join("..").join("shared").join("pcaps");
    if std::env::var_os("NETCAP_PCAP_DIR").is_none() && corpus.is_dir() {
        c.env("NETCAP_PCAP_DIR", &corpus);
    }
    run_cmd(&mut c)
}

#[cfg(test)]
mod tests {
    use super::find_root;
    use std::path::Path;

    /// A copied checkout is found from inside it, whatever path the xtask binary was built at.
    #[test]
    fn the_workspace_is_found_at_run_time_from_the_current_directory() {
        let base = std::env::temp_dir().join(format!("xtask-root-{}", std::process::id()));
        let copy = base.join("copy");
        std::fs::create_dir_all(copy.join("xtask")).unwrap();
        std::fs::create_dir_all(copy.join("plugins").join("dns")).unwrap();
        std::fs::write(copy.join("Cargo.toml"), "[workspace]\nmembers = [\"xtask\"]\n").unwrap();
        std::fs::write(copy.join("xtask").join("Cargo.toml"), "[package]\n").unwrap();
        let found = find_root(Some(&copy.join("plugins").join("dns")), Some(Path::new("/elsewhere/xtask")));
        // Outside any workspace: the one cargo ran the xtask crate of.
        let outside = find_root(Some(&base), Some(&copy.join("xtask")));
        let nowhere = find_root(Some(&base), None);
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(found.as_deref(), Some(copy.as_path()));
        assert_eq!(outside.as_deref(), Some(copy.as_path()));
        assert_eq!(nowhere, None);
    }
}
