//! Synthesized TCP captures for the reassembly tests: a TLS ClientHello split across segments
//! that arrive out of order, retransmitted and overlapping, over IPv4 or IPv6, with sequence
//! numbers that wrap past 2^32 inside the hello.

use etherparse::PacketBuilder;

const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0xfe];

/// A TLS 1.2 record with a ClientHello for `sni` (RFC 8446 / RFC 6066 layout): TLS 1.3 and 1.2
/// suites, the server_name, supported_groups and a padding extension of `padding` bytes (to make
/// the hello span several segments, as post-quantum key shares do in practice).
pub fn client_hello(sni: &str, padding: usize) -> Vec<u8> {
    let be16 = |v: usize| (v as u16).to_be_bytes();
    let mut body = vec![0x03, 0x03];
    body.extend((0u8..32).map(|i| i.wrapping_mul(37)));
    body.push(0); // session id
    let suites: [u16; 4] = [0x1301, 0x1302, 0xc02b, 0xc02f];
    body.extend(be16(suites.len() * 2));
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null
    let mut ext = Vec::new();
    let name = sni.as_bytes();
    let mut list = vec![0];
    list.extend(be16(name.len()));
    list.extend(name);
    ext.extend(be16(0));
    ext.extend(be16(list.len() + 2));
    ext.extend(be16(list.len()));
    ext.extend(list);
    ext.extend(be16(10)); // supported_groups: x25519, secp256r1
    ext.extend(be16(6));
    ext.extend(be16(4));
    ext.extend([0x00, 0x1d, 0x00, 0x17]);
    ext.extend(be16(21)); // padding
    ext.extend(be16(padding));
    ext.extend(vec![0u8; padding]);
    body.extend(be16(ext.len()));
    body.extend(ext);
    let mut hs = vec![1];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend(be16(hs.len()));
    rec.extend(hs);
    rec
}

/// One TCP packet of the connection 40000 -> 443 (`from_client`) or back.
fn tcp(v6: bool, from_client: bool, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]) -> Vec<u8> {
    let (sm, dm, sp, dp) =
        if from_client { (CLIENT_MAC, SERVER_MAC, 40000, 443) } else { (SERVER_MAC, CLIENT_MAC, 443, 40000) };
    let ip = if v6 {
        let (c, s) = (
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        );
        let (a, b) = if from_client { (c, s) } else { (s, c) };
        PacketBuilder::ethernet2(sm, dm).ipv6(a, b, 64)
    } else {
        let (c, s) = ([192, 0, 2, 1], [198, 51, 100, 2]);
        let (a, b) = if from_client { (c, s) } else { (s, c) };
        PacketBuilder::ethernet2(sm, dm).ipv4(a, b, 64)
    };
    let mut b = ip.tcp(sp, dp, seq, 64240);
    if flags.contains('S') {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    if flags.contains('P') {
        b = b.psh();
    }
    if flags.contains('F') {
        b = b.fin();
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).expect("build tcp");
    v
}

/// A connection whose client sends `hello` cut at `cuts` (offsets), the pieces arriving in the
/// order of `order` (indices into the pieces; a repeated index is a retransmission), plus one
/// segment overlapping the cut between the first two pieces; the server acknowledges only what it
/// has in order, answers `reply`, and both close with FIN. The client's initial sequence number
/// is `isn` (pick one near 2^32 to wrap inside the hello). Packets are 1 ms apart from `t0`.
pub fn split_hello_capture(
    v6: bool,
    isn: u32,
    hello: &[u8],
    cuts: &[usize],
    order: &[usize],
    reply: &[u8],
    t0: i64,
) -> Vec<(i64, Vec<u8>)> {
    let sisn: u32 = 0x1000_0000;
    let c0 = isn.wrapping_add(1);
    let s0 = sisn.wrapping_add(1);
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(hello.len());
    let pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let mut pkts = vec![
        tcp(v6, true, isn, None, "S", b""),
        tcp(v6, false, sisn, Some(c0), "S", b""),
        tcp(v6, true, c0, Some(s0), "", b""),
    ];
    let mut have = vec![false; hello.len()];
    let contiguous = |have: &[bool]| have.iter().position(|h| !h).unwrap_or(have.len());
    let send = |a: usize, b: usize, pkts: &mut Vec<Vec<u8>>, have: &mut Vec<bool>| {
        pkts.push(tcp(v6, true, c0.wrapping_add(a as u32), Some(s0), "P", &hello[a..b]));
        have[a..b].iter_mut().for_each(|h| *h = true);
        let acked = c0.wrapping_add(contiguous(have) as u32);
        pkts.push(tcp(v6, false, s0, Some(acked), "", b""));
    };
    for (i, &k) in order.iter().enumerate() {
        let (a, b) = pieces[k];
        send(a, b, &mut pkts, &mut have);
        if i == 0 && pieces.len() > 1 {
            // An overlapping segment across the first cut (same bytes).
            let (x, y) = (pieces[0].1.saturating_sub(50), (pieces[1].0 + 50).min(pieces[1].1));
            send(x, y, &mut pkts, &mut have);
        }
    }
    let c_end = c0.wrapping_add(hello.len() as u32);
    pkts.push(tcp(v6, false, s0, Some(c_end), "P", reply));
    let s_end = s0.wrapping_add(reply.len() as u32);
    pkts.push(tcp(v6, true, c_end, Some(s_end), "F", b""));
    pkts.push(tcp(v6, false, s_end, Some(c_end.wrapping_add(1)), "F", b""));
    pkts.push(tcp(v6, true, c_end.wrapping_add(1), Some(s_end.wrapping_add(1)), "", b""));
    pkts.into_iter().enumerate().map(|(i, p)| (t0 + i as i64 * 1_000_000, p)).collect()
}
