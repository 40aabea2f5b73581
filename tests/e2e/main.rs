//! End-to-end tests: the `netcap` binary on real captures (`../shared/pcaps`) and on captures our
//! own code synthesizes. One test binary, as in ripgrep and wasmtime.

mod abstractions;
mod cli;
mod corpus;
mod determinism;
mod dpi;
mod durability;
mod example_plugin;
mod extract;
mod flow;
mod formats;
mod label;
mod limits;
mod live;
mod oracle;
mod oracle_app;
mod oracle_dhcp;
mod oracle_dns;
mod oracle_ics;
mod oracle_link;
mod oracle_link2;
mod oracle_mail;
mod oracle_net;
mod oracle_profile;
mod oracle_stream;
mod oracle_tunnel;
mod oracle_windows;
mod plugin_authoring;
mod record_decoders;
mod resolve;
mod sandbox;
mod stream_fidelity;
mod streams;
mod synth;
mod tunnels;
