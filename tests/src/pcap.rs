//! Writing small pcap files from packets our own code builds (etherparse's `PacketBuilder`), and
//! the bundled sample capture `tests/data/synth/sample.pcap`.

use etherparse::PacketBuilder;
use std::io::Write;
use std::path::Path;

/// pcap LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// Writes a legacy pcap file (little-endian; nanosecond magic when `nanos`).
pub fn write_pcap(path: &Path, linktype: u32, nanos: bool, packets: &[(i64, Vec<u8>)]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(&pcap_bytes(linktype, nanos, packets))?;
    f.flush()
}

/// The bytes of a legacy pcap file.
pub fn pcap_bytes(linktype: u32, nanos: bool, packets: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    v.extend_from_slice(&magic.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&262_144u32.to_le_bytes());
    v.extend_from_slice(&linktype.to_le_bytes());
    for (ts, data) in packets {
        let secs = ts.div_euclid(1_000_000_000) as u32;
        let ns = ts.rem_euclid(1_000_000_000) as u32;
        let frac = if nanos { ns } else { ns / 1000 };
        v.extend_from_slice(&secs.to_le_bytes());
        v.extend_from_slice(&frac.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
    }
    v
}

const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0xfe];
const CLIENT4: [u8; 4] = [192, 0, 2, 10];
const DNS4: [u8; 4] = [198, 51, 100, 53];
const WEB4: [u8; 4] = [203, 0, 113, 80];
const CLIENT6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const WEB6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x80];

fn udp4(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, from_client: bool, payload: &[u8]) -> Vec<u8> {
    let (sm, dm) = if from_client { (CLIENT_MAC, ROUTER_MAC) } else { (ROUTER_MAC, CLIENT_MAC) };
    let mut v = Vec::new();
    PacketBuilder::ethernet2(sm, dm).ipv4(src, dst, 64).udp(sp, dp).write(&mut v, payload).expect("build udp");
    v
}

/// Sets the TCP flags named in `flags` (`S`yn, `A`ck with `ack`, `P`sh, `F`in, `R`st).
pub fn tcp_flags(
    mut b: etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    flags: &str,
    ack: u32,
) -> etherparse::PacketBuilderStep<etherparse::TcpHeader> {
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('A') {
        b = b.ack(ack);
    }
    if flags.contains('P') {
        b = b.psh();
    }
    if flags.contains('F') {
        b = b.fin();
    }
    if flags.contains('R') {
        b = b.rst();
    }
    b
}

struct Tcp4 {
    seq_c: u32,
    seq_s: u32,
}

impl Tcp4 {
    fn seg(&mut self, from_client: bool, flags: &str, payload: &[u8]) -> Vec<u8> {
        let (sm, dm, s, d, sp, dp) = if from_client {
            (CLIENT_MAC, ROUTER_MAC, CLIENT4, WEB4, 49152, 80)
        } else {
            (ROUTER_MAC, CLIENT_MAC, WEB4, CLIENT4, 80, 49152)
        };
        let (seq, ack) = if from_client { (self.seq_c, self.seq_s) } else { (self.seq_s, self.seq_c) };
        let mut b =
            PacketBuilder::ethernet2(sm, dm).ipv4(s, d, if from_client { 64 } else { 52 }).tcp(sp, dp, seq, 64240);
        b = tcp_flags(b, flags, ack);
        if flags.contains('S') {
            b = b
                .options(&[
                    etherparse::TcpOptionElement::MaximumSegmentSize(1460),
                    etherparse::TcpOptionElement::SelectiveAcknowledgementPermitted,
                    etherparse::TcpOptionElement::Timestamp(1000, if from_client { 0 } else { 1000 }),
                    etherparse::TcpOptionElement::Noop,
                    etherparse::TcpOptionElement::WindowScale(7),
                ])
                .expect("tcp options");
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("build tcp");
        let adv = payload.len() as u32 + u32::from(flags.contains('S') || flags.contains('F'));
        if from_client {
            self.seq_c = self.seq_c.wrapping_add(adv);
        } else {
            self.seq_s = self.seq_s.wrapping_add(adv);
        }
        v
    }
}

/// A DNS query for `name` (type A), as bytes.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.extend_from_slice(&[0, 0, 1, 0, 1]);
    v
}

/// The bundled sample: a client resolves a name, fetches a page over HTTP (IPv4), sends an
/// IPv6 UDP datagram, pings, and sees an ARP exchange. 2020-09-13T12:26:40Z onwards.
pub fn sample_packets() -> Vec<(i64, Vec<u8>)> {
    let t0: i64 = 1_600_000_000_000_000_000;
    let ms = 1_000_000i64;
    let mut p = Vec::new();
    // ARP request/reply.
    let mut arp = Vec::new();
    arp.extend_from_slice(&[0xff; 6]);
    arp.extend_from_slice(&CLIENT_MAC);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&CLIENT_MAC);
    arp.extend_from_slice(&CLIENT4);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[192, 0, 2, 1]);
    p.push((t0, arp));
    // DNS over UDP.
    let q = dns_query(0x1a2b, "www.example.com");
    p.push((t0 + 2 * ms, udp4(CLIENT4, DNS4, 53001, 53, true, &q)));
    let mut r = q.clone();
    r[2] = 0x81;
    r[3] = 0x80;
    r[7] = 1;
    r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
    r.extend_from_slice(&WEB4);
    p.push((t0 + 14 * ms, udp4(DNS4, CLIENT4, 53, 53001, false, &r)));
    // HTTP over TCP.
    let mut tcp = Tcp4 { seq_c: 0x1000_0000, seq_s: 0xfff0_0000 };
    p.push((t0 + 20 * ms, tcp.seg(true, "S", b"")));
    p.push((t0 + 45 * ms, tcp.seg(false, "SA", b"")));
    p.push((t0 + 45 * ms + 80_000, tcp.seg(true, "A", b"")));
    let req =
        b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: netcap-sample/1.0\r\nAccept: */*\r\n\r\n";
    p.push((t0 + 46 * ms, tcp.seg(true, "PA", req)));
    let body = "<html><body>netcap sample page</body></html>\n";
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nServer: sample\r\n\r\n{body}",
        body.len()
    );
    p.push((t0 + 71 * ms, tcp.seg(false, "A", b"")));
    p.push((t0 + 72 * ms, tcp.seg(false, "PA", resp.as_bytes())));
    p.push((t0 + 72 * ms + 300_000, tcp.seg(true, "A", b"")));
    p.push((t0 + 80 * ms, tcp.seg(true, "FA", b"")));
    p.push((t0 + 105 * ms, tcp.seg(false, "FA", b"")));
    p.push((t0 + 105 * ms + 90_000, tcp.seg(true, "A", b"")));
    // IPv6 UDP (syslog-ish).
    let mut v6 = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, ROUTER_MAC)
        .ipv6(CLIENT6, WEB6, 64)
        .udp(51514, 514)
        .write(&mut v6, b"<14>sample: hello over IPv6")
        .expect("build ipv6");
    p.push((t0 + 150 * ms, v6));
    // ICMP echo (no decoder in the foundation: counted as unknown).
    let mut ping = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, ROUTER_MAC)
        .ipv4(CLIENT4, WEB4, 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut ping, b"abcdefgh")
        .expect("build icmp");
    p.push((t0 + 200 * ms, ping));
    p
}

/// A flood of `n` IPv4 first fragments (8 bytes of a UDP datagram each, more fragments to come)
/// that never complete, 10 µs apart: datagram `i` comes from 10.x.y.1 (x.y = i >> 16) with
/// identification `i & 0xffff`, so every one is a datagram of its own.
pub fn fragment_flood(n: u32) -> Vec<(i64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let mut v = Vec::new();
            let src = [10, (i >> 24) as u8, (i >> 16) as u8, 1];
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, [10, 0, 0, 2], 64)
                .udp(4000, 4001)
                .write(&mut v, &[0x5a; 16])
                .expect("build a UDP packet");
            // Keep the UDP header (the first 8 bytes of the IP payload) as the first fragment.
            v.truncate(14 + 20 + 8);
            v[14 + 2..14 + 4].copy_from_slice(&28u16.to_be_bytes());
            v[14 + 4..14 + 6].copy_from_slice(&(i as u16).to_be_bytes());
            v[14 + 6..14 + 8].copy_from_slice(&0x2000u16.to_be_bytes());
            v[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
            let sum = ipv4_checksum(&v[14..14 + 20]);
            v[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
            (1_700_000_000_000_000_000 + i64::from(i) * 10_000, v)
        })
        .collect()
}

/// The IPv4 header checksum (RFC 1071) of a header whose checksum field is zero.
fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
