//! Compiles `proto/echo.proto` with protox (no `protoc`) and prost-build, and writes the
//! serialized `FileDescriptorSet` that `describe` ships to the host.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=proto/echo.proto");
    let fds = protox::compile(["echo.proto"], ["proto"]).expect("compile proto/echo.proto");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("schema.fds"), prost::Message::encode_to_vec(&fds)).expect("write descriptor set");
    prost_build::Config::new().compile_fds(fds).expect("generate prost code");
}
