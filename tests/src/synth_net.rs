//! Packets for the `net` decoder family that the corpus lacks or has few of, built byte by byte
//! from the RFCs: ICMPv4 message types, ICMPv6 neighbour discovery with every decoded option,
//! IGMP v1/v2/v3, IPv6 hop-by-hop (Pad1, PadN, router alert, jumbo) and fragment headers, IPsec
//! AH and ESP over IPv4 and IPv6, SCTP with bundled chunks, and some of them inside tunnels.
//! Checksums are left zero (tshark does not verify them by default).

const MAC_A: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const MAC_B: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];
const A4: [u8; 4] = [192, 0, 2, 10];
const B4: [u8; 4] = [198, 51, 100, 20];
const A6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x14];
const ALL_NODES: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    // Pad short frames to 60 bytes as Ethernet does (the decoders must not read the padding).
    while v.len() < 60 {
        v.push(0);
    }
    v
}

/// An IPv4 packet (with `options`, a multiple of 4 bytes) around `payload`.
fn ip4_opts(proto: u8, src: [u8; 4], dst: [u8; 4], options: &[u8], payload: &[u8]) -> Vec<u8> {
    let hl = 20 + options.len();
    let total = (hl + payload.len()) as u16;
    let mut v = vec![0x40 | (hl / 4) as u8, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0, 0, 64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(options);
    v.extend_from_slice(payload);
    v
}

fn ip4(proto: u8, payload: &[u8]) -> Vec<u8> {
    ip4_opts(proto, A4, B4, &[], payload)
}

/// An IPv6 packet around `payload` (`plen` overrides the payload length field).
fn ip6_len(nh: u8, src: [u8; 16], dst: [u8; 16], plen: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&plen.unwrap_or(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[nh, 255]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

fn ip6(nh: u8, payload: &[u8]) -> Vec<u8> {
    ip6_len(nh, A6, B6, None, payload)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn icmp4_messages() -> Vec<Vec<u8>> {
    let quoted = cat(&[&ip4(17, &udp(40000, 53, &[]))[..20], &[0x9c, 0x40, 0, 53, 0, 8, 0, 0]]);
    vec![
        // Echo request and reply with data.
        cat(&[&[8, 0, 0x12, 0x34, 0xbe, 0xef, 0, 1], b"abcdefgh"]),
        cat(&[&[0, 0, 0x1a, 0x34, 0xbe, 0xef, 0, 1], b"abcdefgh"]),
        // Timestamp request: originate, receive, transmit.
        vec![13, 0, 0, 0, 0, 7, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        // Address mask reply.
        vec![18, 0, 0, 0, 0, 8, 0, 3, 255, 255, 255, 0],
        // Redirect for host, gateway 192.0.2.1, quoting the datagram.
        cat(&[&[5, 1, 0, 0, 192, 0, 2, 1], &quoted]),
        // Fragmentation needed, next-hop MTU 1400.
        cat(&[&[3, 4, 0, 0, 0, 0, 0x05, 0x78], &quoted]),
        // Port unreachable.
        cat(&[&[3, 3, 0, 0, 0, 0, 0, 0], &quoted]),
        // Time exceeded in transit.
        cat(&[&[11, 0, 0, 0, 0, 0, 0, 0], &quoted]),
        // Parameter problem, pointer 9.
        cat(&[&[12, 0, 0, 0, 9, 0, 0, 0], &quoted]),
        // An unassigned type.
        vec![42, 7, 0xaa, 0xbb, 1, 2, 3, 4],
    ]
}

fn icmp6_messages() -> Vec<(Vec<u8>, [u8; 16])> {
    let slla = [1, 1, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
    let tlla = [2, 1, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];
    let mtu = [5, 1, 0, 0, 0, 0, 0x05, 0xdc];
    let prefix = cat(&[
        &[3, 4, 64, 0xc0, 0, 0x27, 0x8d, 0, 0, 0x09, 0x3a, 0x80, 0, 0, 0, 0],
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    let rdnss = cat(&[&[25, 3, 0, 0, 0, 0, 0x0e, 0x10], &B6]);
    let quoted = ip6(17, &udp(40000, 53, &[]));
    vec![
        (cat(&[&[128, 0, 0x11, 0x22, 0x03, 0xe8, 0, 5], b"ping"]), B6),
        (cat(&[&[129, 0, 0x11, 0x22, 0x03, 0xe8, 0, 5], b"ping"]), B6),
        (cat(&[&[133, 0, 0, 0, 0, 0, 0, 0], &slla]), ALL_NODES),
        (
            cat(&[
                &[134, 0, 0, 0, 64, 0x48, 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xe8],
                &slla,
                &mtu,
                &prefix,
                &rdnss,
            ]),
            ALL_NODES,
        ),
        (cat(&[&[135, 0, 0, 0, 0, 0, 0, 0], &B6, &slla]), B6),
        (cat(&[&[136, 0, 0, 0, 0x60, 0, 0, 0], &B6, &tlla]), A6),
        // Neighbour advertisement with a 16-octet (EUI-64) target link-layer address option.
        (cat(&[&[136, 0, 0, 0, 0x80, 0, 0, 0], &B6, &[2, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0]]), A6),
        // Redirect (no record of its own).
        (cat(&[&[137, 0, 0, 0, 0, 0, 0, 0], &B6, &A6]), A6),
        (cat(&[&[1, 4, 0, 0, 0, 0, 0, 0], &quoted]), A6),
        (cat(&[&[2, 0, 0, 0, 0, 0, 0x05, 0x00], &quoted]), A6),
    ]
}

fn igmp_messages() -> Vec<Vec<u8>> {
    vec![
        vec![0x11, 0, 0xee, 0xff, 0, 0, 0, 0],
        vec![0x12, 0, 0, 0, 224, 0, 0, 9],
        vec![0x11, 100, 0, 0, 0, 0, 0, 0],
        vec![0x11, 10, 0, 0, 239, 1, 2, 3],
        vec![0x16, 0, 0, 0, 239, 1, 2, 3],
        vec![0x17, 0, 0, 0, 239, 1, 2, 3],
        // A 10-byte query is v1/v2 (v3 needs 12 bytes); DVMRP, mtrace and multicast router
        // discovery have no version.
        vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![0x11, 50, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![0x13, 0, 0, 0, 0, 0, 0, 0],
        vec![0x1e, 20, 0, 0, 224, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![0x30, 20, 0x12, 0x34, 0, 1, 0, 2],
        // v3 query: max resp code 0x8f, S flag, QRV 2, QQIC 0x90, two sources.
        vec![0x11, 0x8f, 0, 0, 239, 1, 2, 3, 0x0a, 0x90, 0, 2, 10, 0, 0, 1, 10, 0, 0, 2],
        // v3 report: three group records, the second with a source, the third with aux data.
        cat(&[
            &[0x22, 0, 0, 0, 0, 0, 0, 3],
            &[4, 0, 0, 0, 239, 255, 255, 250],
            &[1, 0, 0, 2, 232, 1, 1, 1, 10, 0, 0, 9, 10, 0, 0, 10],
            &[6, 1, 0, 0, 232, 2, 2, 2, 0xde, 0xad, 0xbe, 0xef],
        ]),
    ]
}

fn sctp(vtag: u32, chunks: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![0x0b, 0x59, 0x0b, 0x59];
    v.extend_from_slice(&vtag.to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    for c in chunks {
        v.extend_from_slice(c);
        while v.len() % 4 != 0 {
            v.push(0);
        }
    }
    v
}

/// The packets, as (time in ns, Ethernet frame).
pub fn packets() -> Vec<(i64, Vec<u8>)> {
    let mut frames = Vec::new();
    for m in icmp4_messages() {
        frames.push(eth(0x0800, &ip4(1, &m)));
    }
    for (m, dst) in icmp6_messages() {
        frames.push(eth(0x86dd, &ip6_len(58, A6, dst, None, &m)));
    }
    // IGMP with the router alert option, as hosts send it.
    for m in igmp_messages() {
        frames.push(eth(0x0800, &ip4_opts(2, A4, [224, 0, 0, 22], &[0x94, 4, 0, 0], &m)));
    }
    // Hop-by-hop: MLD report behind router alert + PadN; Pad1 x2 + an unknown option; jumbo.
    let mld = [131, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb];
    frames.push(eth(0x86dd, &ip6(0, &cat(&[&[58, 0, 5, 2, 0, 0, 1, 0], &mld]))));
    frames.push(eth(
        0x86dd,
        &ip6(0, &cat(&[&[17, 1, 0, 0, 0x3e, 2, 0xab, 0xcd, 1, 6, 0, 0, 0, 0, 0, 0], &udp(5000, 5001, b"x")])),
    ));
    // A jumbogram: payload length 0, the jumbo option gives 65544 (hop-by-hop header and 65536
    // bytes with no next header).
    let mut jumbo = vec![59, 0, 0xc2, 4];
    jumbo.extend_from_slice(&65544u32.to_be_bytes());
    jumbo.resize(65544, 0);
    frames.push(eth(0x86dd, &ip6_len(0, A6, B6, Some(0), &jumbo)));
    // Fragments: first (offset 0, M) and last (offset 2 = 16 bytes) of a UDP datagram.
    let dgram = udp(5000, 5001, &[7; 16]);
    frames.push(eth(0x86dd, &ip6(44, &cat(&[&[17, 0, 0, 1, 0xca, 0xfe, 0xba, 0xbe], &dgram[..16]]))));
    frames.push(eth(0x86dd, &ip6(44, &cat(&[&[17, 0, 0, 0x10, 0xca, 0xfe, 0xba, 0xbe], &dgram[16..]]))));
    // IPsec AH (96-bit ICV) over IPv4 carrying ICMP echo, and over IPv6 carrying UDP.
    let echo = [8, 0, 0, 0, 0, 1, 0, 9];
    let ah = |nh: u8, seq: u8| vec![nh, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, seq, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    frames.push(eth(0x0800, &ip4(51, &cat(&[&ah(1, 1), &echo]))));
    frames.push(eth(0x86dd, &ip6(51, &cat(&[&ah(17, 2), &udp(5000, 5001, b"ah")]))));
    // IPsec ESP over IPv4 and IPv6 (opaque payload).
    frames.push(eth(0x0800, &ip4(50, &cat(&[&[0, 0, 0x20, 0x02, 0, 0, 0, 1], &[0x5a; 40]]))));
    frames.push(eth(0x86dd, &ip6(50, &cat(&[&[0xc0, 0, 0, 0x03, 0, 0, 0, 9], &[0xa5; 33]]))));
    // ESP in UDP 4500 (NAT traversal), and what is not ESP there: IKE behind the non-ESP marker
    // and a NAT keepalive.
    frames.push(eth(0x0800, &ip4(17, &udp(4500, 4500, &cat(&[&[0, 0, 0x30, 0x04, 0, 0, 0, 2], &[0x77; 24]])))));
    frames.push(eth(0x0800, &ip4(17, &udp(4500, 4500, &cat(&[&[0, 0, 0, 0], &[0x11; 28]])))));
    frames.push(eth(0x0800, &ip4(17, &udp(4500, 4500, &[0xff]))));
    // SCTP: INIT, INIT ACK (over IPv6), bundled DATA + SACK, HEARTBEAT, ABORT with the T bit.
    let init = [1, 0, 0, 20, 0xab, 0xcd, 0xef, 0x01, 0, 1, 0, 0, 0, 10, 0, 10, 0x11, 0x22, 0x33, 0x44];
    frames.push(eth(0x0800, &ip4(132, &sctp(0, &[&init]))));
    let mut init_ack = init.to_vec();
    init_ack[0] = 2;
    frames.push(eth(0x86dd, &ip6(132, &sctp(0xabcdef01, &[&init_ack]))));
    let data = [0, 3, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, b'h'];
    let sack = [3, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0x10, 0, 0, 0, 0, 0];
    frames.push(eth(0x0800, &ip4(132, &sctp(0x11223344, &[&data, &sack]))));
    frames.push(eth(0x0800, &ip4(132, &sctp(0x11223344, &[&[4, 0, 0, 12, 0, 1, 0, 8, 1, 2, 3, 4]]))));
    frames.push(eth(0x0800, &ip4(132, &sctp(0x11223344, &[&[6, 1, 0, 4]]))));
    // Tunnelled: ICMP echo in IPv4-in-IPv4, ICMPv6 echo in IPv6-in-IPv4, SCTP in GRE.
    frames.push(eth(0x0800, &ip4(4, &ip4_opts(1, [10, 1, 1, 1], [10, 2, 2, 2], &[], &echo))));
    let echo6 = [128, 0, 0, 0, 0, 2, 0, 1];
    frames.push(eth(0x0800, &ip4(41, &ip6_len(58, B6, A6, None, &echo6))));
    let gre = cat(&[&[0, 0, 0x08, 0], &ip4_opts(132, [10, 1, 1, 1], [10, 2, 2, 2], &[], &sctp(7, &[&[6, 0, 0, 4]]))]);
    frames.push(eth(0x0800, &ip4(47, &gre)));
    let t0: i64 = 1_700_000_000_000_000_000;
    frames.into_iter().enumerate().map(|(i, f)| (t0 + i as i64 * 1_000_000, f)).collect()
}
