//! `netcap plugins new NAME [--kind layer|packet|stream|record] [--port udp:N|tcp:N] [--sdk PATH] [DIR]`:
//! a decoder plugin crate that stands alone (its own workspace, no inheritance from netcap's), builds with
//! plain `cargo build --release --target wasm32-unknown-unknown` and loads as it is (the host
//! makes the core module a component at load). Files: `Cargo.toml`, `.cargo/config.toml` (code
//! generation flags), its `.proto` and the `build.rs` that compiles it, the SDK glue
//! (`src/lib.rs`), a parser with unit tests (`src/parse.rs`), a golden test and a README.
//!
//! The templates are the ones `cargo xtask new-plugin` uses inside the workspace
//! (`xtask/templates/`), with the standalone manifest instead of the workspace one; a stream
//! decoder (`--kind stream`, TCP) gets the stream glue, parser and golden test instead, which
//! frame messages with the SDK's `Framer`; a record decoder (`--kind record`) one that aggregates
//! netcap's `Connection` records per server.

use std::path::{Path, PathBuf};

/// The files every kind shares.
const COMMON: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../xtask/templates/Cargo.standalone.toml.tmpl")),
    (".cargo/config.toml", include_str!("../../xtask/templates/cargo-config.toml.tmpl")),
    ("build.rs", include_str!("../../xtask/templates/build.rs.tmpl")),
    ("README.md", README),
];

/// The glue, parser and golden test of a layer or packet decoder (UDP datagrams).
const DATAGRAM: &[(&str, &str)] = &[
    ("proto/__SNAKE__.proto", include_str!("../../xtask/templates/proto.tmpl")),
    ("src/lib.rs", include_str!("../../xtask/templates/lib.rs.tmpl")),
    ("src/parse.rs", include_str!("../../xtask/templates/parse.rs.tmpl")),
    ("tests/golden.rs", include_str!("../../xtask/templates/golden.rs.tmpl")),
    ("tests/golden/output.txt", include_str!("../../xtask/templates/golden.txt.tmpl")),
];

/// The glue, parser and golden test of a stream decoder (reassembled TCP).
const STREAM: &[(&str, &str)] = &[
    ("proto/__SNAKE__.proto", include_str!("../../xtask/templates/proto.tmpl")),
    ("src/lib.rs", include_str!("../../xtask/templates/lib.stream.rs.tmpl")),
    ("src/parse.rs", include_str!("../../xtask/templates/parse.stream.rs.tmpl")),
    ("tests/golden.rs", include_str!("../../xtask/templates/golden.stream.rs.tmpl")),
    ("tests/golden/output.txt", include_str!("../../xtask/templates/golden.stream.txt.tmpl")),
];

/// The glue, aggregation and golden test of a record decoder (over `Connection` records).
const RECORD: &[(&str, &str)] = &[
    ("proto/__SNAKE__.proto", include_str!("../../xtask/templates/proto.record.tmpl")),
    ("src/lib.rs", include_str!("../../xtask/templates/lib.record.rs.tmpl")),
    ("src/table.rs", include_str!("../../xtask/templates/table.rs.tmpl")),
    ("tests/golden.rs", include_str!("../../xtask/templates/golden.record.rs.tmpl")),
    ("tests/golden/output.txt", include_str!("../../xtask/templates/golden.record.txt.tmpl")),
];

const README: &str = "# __NAME__: a netcap decoder\n\n\
Scaffolded by `netcap plugins new`. Replace the placeholder protocol in `src/parse.rs` and\n\
`proto/__SNAKE__.proto` with yours.\n\n\
```sh\n\
cargo test                                              # parser unit tests and the golden test\n\
cargo build --release --target wasm32-unknown-unknown   # rustup target add wasm32-unknown-unknown, once\n\
netcap plugins inspect target/wasm32-unknown-unknown/release/__LIB__.wasm\n\
netcap capture -r IN.pcap -o out --plugins target/wasm32-unknown-unknown/release\n\
netcap dump -r out/__CAMEL__.ncap.zst\n\
```\n\n\
The decoder runs sandboxed: it sees only what it asked for (__INTEREST__), and the\n\
host's imports; see netcap's docs/plugin-guide.md.\n";

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    pub name: String,
    /// `layer`, `packet` or `stream`.
    pub kind: String,
    /// The port interest: UDP for layer and packet decoders, TCP for stream decoders.
    pub port: u16,
    /// The SDK crate directory (a path dependency).
    pub sdk: PathBuf,
    /// Where the crate goes (must not exist).
    pub dir: PathBuf,
}

/// Checks a plugin name: lowercase letters, digits and single dashes, starting with a letter.
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok { Ok(()) } else { Err(format!("plugin name {name:?}: use lowercase letters, digits and single dashes")) }
}

/// The SDK next to this binary's workspace (`target/<profile>/netcap` -> `plugins/sdk`), if any.
pub fn default_sdk() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
    exe.ancestors().map(|a| a.join("plugins").join("sdk")).find(|p| p.join("wit").join("decoder.wit").is_file())
}

/// Placeholder replacements for `p`.
fn fill(p: &NewPlugin, text: &str) -> String {
    let snake = p.name.replace('-', "_");
    let camel: String = p
        .name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    let krate = format!("netcap-plugin-{}", p.name);
    let kind = if p.kind == "packet" { "Kind::Packet" } else { "Kind::Layer" };
    text.replace("__NAME__", &p.name)
        .replace("__CRATE__", &krate)
        .replace("__LIB__", &krate.replace('-', "_"))
        .replace("__SNAKE__", &snake)
        .replace("__CAMEL__", &camel)
        .replace("__PORT__", &p.port.to_string())
        .replace("__TRANSPORT__", &transport(&p.kind).to_ascii_uppercase())
        .replace("__INTEREST__", &interest(p))
        .replace("__SDK__", &p.sdk.display().to_string())
        .replace("kind: Kind::Layer,", &format!("kind: {kind},"))
}

/// The transport of a kind's port interest: `tcp` for stream decoders, none for record
/// decoders, else `udp`.
pub fn transport(kind: &str) -> &'static str {
    match kind {
        "stream" => "tcp",
        "record" => "",
        _ => "udp",
    }
}

/// What the scaffolded decoder asks the host for, as the README says it.
fn interest(p: &NewPlugin) -> String {
    match p.kind.as_str() {
        "record" => "the `Connection` records of netcap's `flow` decoder".to_string(),
        kind => format!("`{}:{}`", transport(kind), p.port),
    }
}

/// The files of a kind.
fn files(kind: &str) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    let own = match kind {
        "stream" => STREAM,
        "record" => RECORD,
        _ => DATAGRAM,
    };
    COMMON.iter().chain(own)
}

/// Writes the crate; returns the files written.
pub fn scaffold(p: &NewPlugin) -> Result<Vec<PathBuf>, String> {
    check_name(&p.name)?;
    if !matches!(p.kind.as_str(), "layer" | "packet" | "stream" | "record") {
        return Err(format!("--kind {}: expected layer, packet, stream or record", p.kind));
    }
    if !p.sdk.join("Cargo.toml").is_file() {
        return Err(format!("{}: not the netcap SDK crate (give --sdk PATH to plugins/sdk)", p.sdk.display()));
    }
    if p.dir.exists() {
        return Err(format!("{} already exists", p.dir.display()));
    }
    let mut written = Vec::new();
    for (path, text) in files(&p.kind) {
        let f = p.dir.join(fill(p, path));
        let parent = f.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        std::fs::write(&f, fill(p, text)).map_err(|e| format!("{}: {e}", f.display()))?;
        written.push(f);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_leave_no_placeholder_and_the_manifest_stands_alone() {
        let p = NewPlugin {
            name: "my-proto".into(),
            kind: "packet".into(),
            port: 4000,
            sdk: "/x/sdk".into(),
            dir: "/nonexistent".into(),
        };
        for kind in ["packet", "stream", "record"] {
            let p = NewPlugin { kind: kind.into(), ..p.clone() };
            for (path, text) in files(kind) {
                let t = fill(&p, text);
                assert!(!t.contains("__"), "{path}: {}", t.lines().find(|l| l.contains("__")).unwrap_or(""));
            }
        }
        let manifest = fill(&p, COMMON[0].1);
        assert!(!manifest.contains(".workspace = true") && manifest.contains("\n[workspace]\n"), "{manifest}");
        assert!(manifest.contains("netcap-sdk = { path = \"/x/sdk\" }"));
        assert!(fill(&p, DATAGRAM[1].1).contains("kind: Kind::Packet,"));
        let stream = NewPlugin { kind: "stream".into(), ..p.clone() };
        assert!(fill(&stream, STREAM[1].1).contains("kind: Kind::Stream,"));
        assert!(fill(&stream, README).contains("(`tcp:4000`)"));
        let record = NewPlugin { kind: "record".into(), ..p.clone() };
        assert!(fill(&record, RECORD[1].1).contains("kind: Kind::Record,"));
        assert!(check_name("My").is_err() && check_name("a--b").is_err() && check_name("ok-2").is_ok());
    }
}
