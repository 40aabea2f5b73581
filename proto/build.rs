//! Compiles `netcap/v1/*.proto` with protox (pure Rust, no `protoc` needed) and prost-build, and
//! writes the serialized `FileDescriptorSet` that decoders ship as their record schema.

use std::path::PathBuf;

fn main() {
    let files = ["netcap/v1/header.proto", "netcap/v1/layers.proto", "netcap/v1/link.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."]).expect("compile .proto files");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(out.join("netcap_v1.fds"), bytes).expect("write descriptor set");
    prost_build::Config::new().compile_fds(fds).expect("generate prost code");
}
