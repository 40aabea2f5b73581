//! `cargo xtask new-plugin NAME [--dir PATH] [--port N]`: scaffolds a decoder crate that builds
//! with `cargo xtask build-plugins` and passes `cargo test -p netcap-plugin-NAME` as generated:
//! `Cargo.toml`, `plugin.toml`, its own `.proto` and the `build.rs` that compiles it, the SDK glue
//! (`src/lib.rs`), a parser with unit tests (`src/parse.rs`) and a golden test
//! (`tests/golden.rs` + `tests/golden/output.txt`). The crate becomes a workspace member.
//!
//! The templates are in `xtask/templates/`; placeholders: `__NAME__` (decoder id), `__CRATE__`,
//! `__LIB__` (crate name with underscores), `__SNAKE__` (protobuf package part and file name),
//! `__CAMEL__` (record type and message), `__PORT__` (UDP port interest).

use crate::{cargo, root};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;

const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/Cargo.toml.tmpl")),
    ("plugin.toml", include_str!("../templates/plugin.toml.tmpl")),
    ("build.rs", include_str!("../templates/build.rs.tmpl")),
    ("proto/__SNAKE__.proto", include_str!("../templates/proto.tmpl")),
    ("src/lib.rs", include_str!("../templates/lib.rs.tmpl")),
    ("src/parse.rs", include_str!("../templates/parse.rs.tmpl")),
    ("tests/golden.rs", include_str!("../templates/golden.rs.tmpl")),
    ("tests/golden/output.txt", include_str!("../templates/golden.txt.tmpl")),
];

/// The names a scaffolded crate uses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Names {
    name: String,
    krate: String,
    lib: String,
    snake: String,
    camel: String,
    port: u16,
}

impl Names {
    pub(crate) fn new(name: &str, port: u16) -> Result<Names> {
        let ok = name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.ends_with('-')
            && !name.contains("--");
        if !ok {
            bail!("plugin name {name:?}: use lowercase letters, digits and single dashes, starting with a letter");
        }
        let snake = name.replace('-', "_");
        let camel = name
            .split('-')
            .map(|p| {
                let mut c = p.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            })
            .collect();
        let krate = format!("netcap-plugin-{name}");
        Ok(Names { name: name.into(), lib: krate.replace('-', "_"), krate, snake, camel, port })
    }

    fn fill(&self, s: &str) -> String {
        s.replace("__NAME__", &self.name)
            .replace("__CRATE__", &self.krate)
            .replace("__LIB__", &self.lib)
            .replace("__SNAKE__", &self.snake)
            .replace("__CAMEL__", &self.camel)
            .replace("__PORT__", &self.port.to_string())
            .replace("__TRANSPORT__", "UDP")
    }
}

pub(crate) fn new_plugin(args: &[String]) -> Result<()> {
    let mut name = None;
    let mut dir = None;
    let mut port = 40000u16;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => dir = Some(PathBuf::from(it.next().context("--dir needs a path")?)),
            "--port" => port = it.next().context("--port needs a number")?.parse().context("--port: a UDP port")?,
            s if !s.starts_with('-') && name.is_none() => name = Some(s.to_string()),
            s => bail!("new-plugin: unexpected argument {s:?}"),
        }
    }
    let names = Names::new(&name.context("usage: cargo xtask new-plugin NAME [--dir PATH] [--port N]")?, port)?;
    let root = root();
    let dir = match dir {
        Some(d) if d.is_absolute() => d,
        Some(d) => std::env::current_dir()?.join(d),
        None => root.join("plugins").join(&names.name),
    };
    let rel = dir
        .strip_prefix(&root)
        .ok()
        .filter(|r| r.starts_with("plugins"))
        .with_context(|| format!("{}: a plugin lives under {}", dir.display(), root.join("plugins").display()))?
        .to_path_buf();
    scaffold(&names, &dir)?;
    add_member(&root.join("Cargo.toml"), &rel)?;
    record_member_in_lockfile(&rel)?;
    println!(
        "created {} (crate {}, decoder id {}, record type {}, port interest udp:{})\n\n\
         next:\n  cargo test -p {}           # parser unit tests and the golden test, natively\n  \
         cargo xtask build-plugins        # -> target/plugins/{}.wasm\n  \
         netcap capture -r IN.pcap -o out # target/plugins is loaded by default\n\n\
         then replace the placeholder protocol in src/parse.rs and proto/{}.proto; see docs/plugin-guide.md",
        rel.display(),
        names.krate,
        names.name,
        names.camel,
        names.port,
        names.krate,
        names.name,
        names.snake
    );
    Ok(())
}

/// Records the new workspace member in Cargo.lock, so that `build-plugins`, which builds
/// `--locked`, accepts it. Its dependencies are the workspace's, so offline usually works; when the
/// local registry cache lacks one, cargo may fetch it.
fn record_member_in_lockfile(rel: &Path) -> Result<()> {
    let metadata = |offline: bool| {
        let mut c = cargo();
        c.args(["metadata", "--format-version", "1"]).stdout(Stdio::null());
        if offline {
            c.arg("--offline").stderr(Stdio::null());
        }
        c.status().is_ok_and(|s| s.success())
    };
    if metadata(true) || metadata(false) {
        return Ok(());
    }
    bail!(
        "{} is written and listed in the workspace members, but cargo could not update Cargo.lock \
         (see its message above); run `cargo metadata` once it can reach the registry",
        rel.display()
    )
}

/// Writes the crate's files into `dir`, which must not exist yet.
pub(crate) fn scaffold(names: &Names, dir: &Path) -> Result<()> {
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    for (path, text) in FILES {
        let p = dir.join(names.fill(path));
        std::fs::create_dir_all(p.parent().context("file has a parent")?)?;
        std::fs::write(&p, names.fill(text)).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Adds `rel` to the workspace `members` list of the manifest at `path` (once).
pub(crate) fn add_member(path: &Path, rel: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let updated = with_member(&text, &rel.to_string_lossy().replace('\\', "/"))?;
    if updated != text {
        std::fs::write(path, updated)?;
    }
    Ok(())
}

fn with_member(manifest: &str, member: &str) -> Result<String> {
    let entry = format!("\"{member}\"");
    let start = manifest.find("members = [").context("the workspace manifest has no `members = [`")?;
    let end = start + manifest[start..].find(']').context("unterminated members list")?;
    if manifest[start..end].contains(&entry) {
        return Ok(manifest.to_string());
    }
    // Insert on its own line before the closing bracket, indented like the other entries.
    let line_start = manifest[..end].rfind('\n').map_or(end, |i| i + 1);
    Ok(format!("{}  {entry},\n{}", &manifest[..line_start], &manifest[line_start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = Names::new("my-proto2", 9000).unwrap();
        assert_eq!((n.krate.as_str(), n.lib.as_str()), ("netcap-plugin-my-proto2", "netcap_plugin_my_proto2"));
        assert_eq!((n.snake.as_str(), n.camel.as_str()), ("my_proto2", "MyProto2"));
        for bad in ["", "My", "1x", "a_b", "a-", "a--b", "a.b"] {
            assert!(Names::new(bad, 1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn member_is_added_once() {
        let m = "[workspace]\nmembers = [\n  \"host\",\n  \"xtask\",\n]\nx = [1]\n";
        let m2 = with_member(m, "plugins/foo").unwrap();
        assert_eq!(m2, "[workspace]\nmembers = [\n  \"host\",\n  \"xtask\",\n  \"plugins/foo\",\n]\nx = [1]\n");
        assert_eq!(with_member(&m2, "plugins/foo").unwrap(), m2);
    }

    /// Removes the directory on drop, also when the test fails.
    struct Cleanup(PathBuf);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Scaffolds a crate into a throw-away workspace in `target/tmp` (the real workspace's manifest
    /// with no members, paths made absolute, and its `Cargo.lock`, so the same dependency versions
    /// and the shared target directory are used, and nothing is fetched), then runs its tests and
    /// clippy. The real workspace is not touched. About 3 s with a warm target directory (the SDK
    /// and the protobuf crates are shared).
    #[test]
    fn a_scaffolded_crate_builds_and_passes_its_tests() {
        let root = root();
        let ws = crate::target_dir().join("tmp").join(format!("scaffold-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&ws);
        let _cleanup = Cleanup(ws.clone());
        std::fs::create_dir_all(&ws).unwrap();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let start = manifest.find("members = [").unwrap();
        let end = start + manifest[start..].find(']').unwrap();
        let manifest = format!("{}members = [\n{}", &manifest[..start], &manifest[end..])
            .lines()
            .filter(|l| !l.starts_with("default-members"))
            .map(|l| l.replace("path = \"", &format!("path = \"{}/", root.display())))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(ws.join("Cargo.toml"), manifest).unwrap();
        std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock")).unwrap();

        let names = Names::new("scaffold-check", 40000).unwrap();
        scaffold(&names, &ws.join("plugins/scaffold-check")).unwrap();
        add_member(&ws.join("Cargo.toml"), Path::new("plugins/scaffold-check")).unwrap();
        let cargo = |args: &[&str]| {
            let mut c = cargo();
            c.current_dir(&ws).env("CARGO_TARGET_DIR", crate::target_dir()).args(args);
            let o = c.output().unwrap();
            let log = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert!(o.status.success(), "cargo {}: {log}", args.join(" "));
        };
        cargo(&["test", "--offline", "-p", &names.krate]);
        cargo(&["clippy", "--offline", "-p", &names.krate, "--all-targets", "--", "-D", "warnings"]);
        // The WebAssembly build of the same templates, loaded by netcap, is
        // `tests/e2e/plugin_authoring.rs` (a debug wasm32 build here would compile every
        // dependency once more, for nothing).
    }

    #[test]
    fn templates_leave_no_placeholder() {
        let n = Names::new("demo", 40000).unwrap();
        for (path, text) in FILES {
            let t = n.fill(text);
            assert!(!t.contains("__"), "{path}: {}", t.lines().find(|l| l.contains("__")).unwrap_or(""));
        }
    }
}
