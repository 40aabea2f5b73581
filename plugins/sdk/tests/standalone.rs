//! The SDK builds outside netcap's workspace: its manifest inherits nothing from it, and its
//! version is the version of the WIT contract it carries.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).expect(rel)
}

#[test]
fn the_manifest_inherits_nothing_from_a_workspace() {
    let manifest = read("Cargo.toml");
    let inherited: Vec<&str> = manifest
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| l.contains(".workspace") || l.contains("workspace = true") || l.contains("workspace=true"))
        .collect();
    assert!(inherited.is_empty(), "inherited from the workspace: {inherited:?}");
}

#[test]
fn the_version_is_the_contracts() {
    let wit = read("wit/decoder.wit");
    let package = wit.lines().find_map(|l| l.trim().strip_prefix("package netcap:decoder@")).expect("package line");
    let contract = package.trim_end_matches(';');
    assert_eq!(env!("CARGO_PKG_VERSION"), contract, "netcap-sdk's version must be the WIT contract's");
}
