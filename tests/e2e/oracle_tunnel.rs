#[test]
fn dump_synth() {
    use netcap_tests::{pcap, synth_tunnel};
    pcap::write_pcap(std::path::Path::new("/tmp/tsyn/routing.pcap"), 1, false, &synth_tunnel::routing_packets()).unwrap();
    pcap::write_pcap(std::path::Path::new("/tmp/tsyn/tunnel.pcap"), 1, false, &synth_tunnel::tunnel_packets()).unwrap();
}
