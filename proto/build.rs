//! Compiles `netcap/v1/*.proto` with protox (pure Rust, no `protoc` needed) and prost-build, and
//! writes the serialized `FileDescriptorSet` that decoders ship as their record schema.

use std::path::PathBuf;

fn main() {
    // Every .proto file in netcap/v1, in name order (a new record family is just a new file).
    println!("cargo:rerun-if-changed=netcap/v1");
    let mut files: Vec<String> = std::fs::read_dir("netcap/v1")
        .expect("read netcap/v1")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".proto"))
        .map(|n| format!("netcap/v1/{n}"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."]).expect("compile .proto files");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(out.join("netcap_v1.fds"), bytes).expect("write descriptor set");
    prost_build::Config::new().compile_fds(fds).expect("generate prost code");
}
