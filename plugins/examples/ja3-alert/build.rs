//! Compiles the decoder's own record schema, `proto/ja3_alert.proto`, with protox (pure Rust, no
//! `protoc`) and prost-build, and writes the serialized `FileDescriptorSet` that `describe`
//! ships to the host (which puts it into every record file's header, where `netcap dump` finds it).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=proto/ja3_alert.proto");
    let fds = protox::compile(["ja3_alert.proto"], ["proto"]).expect("compile proto/ja3_alert.proto");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("schema.fds"), prost::Message::encode_to_vec(&fds)).expect("write descriptor set");
    prost_build::Config::new().compile_fds(fds).expect("generate prost code");
}
