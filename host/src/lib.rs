//! netcap turns network traffic into typed audit records: one protobuf stream per protocol
//! (Ethernet, IPv4, TCP, ...), decoded by sandboxed WebAssembly components.
//!
//! The data flow is source → dispatcher (sequence numbers, dissection, flow-hash sharding) →
//! workers (decoder instances) → writer (ordered merge, framing, compression). `ARCHITECTURE.md`
//! at the repository root describes the modules, the invariants and the decoder contract.
#![deny(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod defrag;
pub mod dissect;
pub mod dpi;
pub mod dump;
pub mod extract;
pub mod kafka;
pub mod label;
pub mod metrics;
pub mod outdir;
pub mod output;
pub mod overview;
pub mod parquet_out;
pub mod pcapout;
pub mod pipeline;
pub mod plugin;
pub mod reassembly;
pub mod records;
pub mod render;
pub mod report;
pub mod resolve;
pub mod scaffold;
pub mod stats;
pub mod streams;
pub mod worker;
