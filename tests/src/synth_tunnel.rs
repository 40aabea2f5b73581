//! Synthesized captures for the tunnel and routing families: protocols the shared corpus lacks
//! (VRRP, BFD, OSPFv2, OSPFv3) and tunnel header variants it lacks (GRE with checksum, routing
//! and key; Geneve with options; VXLAN with the group policy extension), built from the RFCs.
//! tshark dissects the written pcap as the oracle.

const MAC_A: [u8; 6] = [0x02, 0x00, 0x5e, 0x20, 0x00, 0x01];
const MAC_B: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x05];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv4 packet (no options, valid header checksum).
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let len = (20 + payload.len()) as u16;
    let mut v = vec![0x45, 0xc0];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0, 0, ttl, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    let c = csum(&v);
    v[10..12].copy_from_slice(&c.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An IPv6 packet.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, hlim: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, hlim]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

/// A UDP datagram (checksum 0: none, allowed over IPv4).
pub fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

const R1: [u8; 4] = [10, 0, 0, 1];
const R2: [u8; 4] = [10, 0, 0, 2];
const ALL_SPF: [u8; 4] = [224, 0, 0, 5];
const VRRP4: [u8; 4] = [224, 0, 0, 18];

fn ll6(last: u8) -> [u8; 16] {
    [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]
}

fn mcast6(last: u8) -> [u8; 16] {
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]
}

/// VRRP advertisement: version 2 (auth type, 1-second interval, auth data) or 3 (centisecond
/// interval). Addresses are 4 or 16 bytes each.
/// The checksum of version 3 covers `pseudo`, the IP pseudo-header.
fn vrrp(version: u8, vrid: u8, prio: u8, auth: u8, int: u16, addrs: &[&[u8]], pseudo: &[u8]) -> Vec<u8> {
    let mut v = vec![(version << 4) | 1, vrid, prio, addrs.len() as u8];
    if version == 3 {
        v.extend_from_slice(&(int & 0x0fff).to_be_bytes());
    } else {
        v.extend_from_slice(&[auth, int as u8]);
    }
    v.extend_from_slice(&[0, 0]);
    for a in addrs {
        v.extend_from_slice(a);
    }
    if version == 2 {
        v.extend_from_slice(if auth == 1 { b"secret\0\0" } else { &[0; 8] });
    }
    let mut c = pseudo.to_vec();
    if version == 3 {
        let n = v.len() as u16;
        if pseudo.len() == 8 {
            c.extend_from_slice(&[0, 112]);
            c.extend_from_slice(&n.to_be_bytes());
        } else {
            c.extend_from_slice(&[0, 0]);
            c.extend_from_slice(&n.to_be_bytes());
            c.extend_from_slice(&[0, 0, 0, 112]);
        }
    } else {
        c.clear();
    }
    c.extend_from_slice(&v);
    let c = csum(&c);
    v[6..8].copy_from_slice(&c.to_be_bytes());
    v
}

/// BFD control packet; `auth` = (type, key id, seq, data).
#[allow(clippy::too_many_arguments)]
fn bfd(
    diag: u8,
    state: u8,
    flags: u8,
    mult: u8,
    my: u32,
    your: u32,
    tx: u32,
    auth: Option<(u8, u8, u32, &[u8])>,
) -> Vec<u8> {
    let mut v = vec![(1 << 5) | diag, (state << 6) | flags | if auth.is_some() { 0x04 } else { 0 }, mult, 0];
    for x in [my, your, tx, tx / 2, 50_000] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    if let Some((ty, key, seq, data)) = auth {
        if ty == 1 {
            v.extend_from_slice(&[ty, 3 + data.len() as u8, key]);
        } else {
            v.extend_from_slice(&[ty, 8 + data.len() as u8, key, 0]);
            v.extend_from_slice(&seq.to_be_bytes());
        }
        v.extend_from_slice(data);
    }
    v[3] = v.len() as u8;
    v
}

/// OSPFv2 header + body, with the length and checksum filled in (authentication excluded from
/// the checksum, as RFC 2328 D.4.3 says).
fn ospf2(ty: u8, router: [u8; 4], au_type: u16, auth: [u8; 8], body: &[u8]) -> Vec<u8> {
    let mut v = vec![2, ty, 0, 0];
    v.extend_from_slice(&router);
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&au_type.to_be_bytes());
    v.extend_from_slice(&auth);
    v.extend_from_slice(body);
    let n = v.len() as u16;
    v[2..4].copy_from_slice(&n.to_be_bytes());
    if au_type != 2 {
        let mut c = v.clone();
        c[16..24].fill(0);
        let s = csum(&c);
        v[12..14].copy_from_slice(&s.to_be_bytes());
    }
    v
}

/// OSPFv3 header + body (checksum left 0: it covers an IPv6 pseudo-header).
fn ospf3(ty: u8, router: [u8; 4], instance: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![3, ty, 0, 0];
    v.extend_from_slice(&router);
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, instance, 0]);
    v.extend_from_slice(body);
    let n = v.len() as u16;
    v[2..4].copy_from_slice(&n.to_be_bytes());
    v
}

/// OSPFv2 LSA header (20 bytes).
fn lsa2(age: u16, opts: u8, ty: u8, id: [u8; 4], adv: [u8; 4], seq: u32, len: u16) -> Vec<u8> {
    let mut v = age.to_be_bytes().to_vec();
    v.extend_from_slice(&[opts, ty]);
    v.extend_from_slice(&id);
    v.extend_from_slice(&adv);
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&(0x1000u16 + u16::from(ty) * 0x111 + age).to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v
}

/// OSPFv3 LSA header (20 bytes).
fn lsa3(age: u16, ty: u16, id: [u8; 4], adv: [u8; 4], seq: u32, len: u16) -> Vec<u8> {
    let mut v = age.to_be_bytes().to_vec();
    v.extend_from_slice(&ty.to_be_bytes());
    v.extend_from_slice(&id);
    v.extend_from_slice(&adv);
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&(0x2000u16.wrapping_add(ty).wrapping_add(age)).to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v
}

/// The routing capture: VRRP v2/v3, BFD with and without authentication, OSPFv2 and OSPFv3
/// packets of every type, and OSPF inside a GRE tunnel (tunnel depth 1).
pub fn routing_packets() -> Vec<(i64, Vec<u8>)> {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    // VRRPv2: no auth with one address, simple password with three, priority 255.
    frames.push(eth(0x0800, &ipv4(R1, VRRP4, 112, 255, &vrrp(2, 7, 100, 0, 1, &[&[192, 0, 2, 254]], &[]))));
    let three: [&[u8]; 3] = [&[192, 0, 2, 1], &[192, 0, 2, 2], &[198, 51, 100, 3]];
    frames.push(eth(0x0800, &ipv4(R2, VRRP4, 112, 255, &vrrp(2, 200, 255, 1, 3, &three, &[]))));
    // VRRPv3 over IPv4 and IPv6.
    frames.push(eth(
        0x0800,
        &ipv4(R1, VRRP4, 112, 255, &vrrp(3, 9, 150, 0, 100, &[&[192, 0, 2, 9]], &[R1, VRRP4].concat())),
    ));
    let a6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];
    frames.push(eth(
        0x86dd,
        &ipv6(
            ll6(1),
            mcast6(0x12),
            112,
            255,
            &vrrp(3, 10, 90, 0, 350, &[&ll6(0x99), &a6], &[ll6(1), mcast6(0x12)].concat()),
        ),
    ));
    // BFD single hop: down/init/up, poll and final; multihop with MD5 and SHA1 auth; simple password.
    let b = |sp: u16, dp: u16, ttl: u8, payload: Vec<u8>| eth(0x0800, &ipv4(R1, R2, 17, ttl, &udp(sp, dp, &payload)));
    frames.push(b(49152, 3784, 255, bfd(0, 1, 0, 3, 0x11, 0, 1_000_000, None)));
    frames.push(b(49153, 3784, 255, bfd(3, 2, 0x20, 5, 0x22, 0x11, 300_000, None)));
    frames.push(b(49152, 3784, 255, bfd(0, 3, 0x10 | 0x08 | 0x02, 3, 0x11, 0x22, 50_000, None)));
    frames.push(b(49200, 4784, 64, bfd(1, 3, 0, 3, 0x33, 0x44, 100_000, Some((2, 7, 1000, &[0x5a; 16])))));
    frames.push(b(49200, 4784, 64, bfd(0, 3, 0, 3, 0x33, 0x44, 100_000, Some((4, 8, 1001, &[0xa5; 20])))));
    frames.push(b(49152, 3784, 255, bfd(0, 0, 0x01, 3, 0x55, 0, 1_000_000, Some((1, 2, 0, b"hunter2")))));
    // OSPFv2 hello (two neighbors, simple password).
    let mut hello = vec![255, 255, 255, 0, 0, 10, 0x02, 1, 0, 0, 0, 40];
    hello.extend_from_slice(&R1);
    hello.extend_from_slice(&R2);
    hello.extend_from_slice(&[2, 2, 2, 2, 3, 3, 3, 3]);
    frames.push(eth(0x0800, &ipv4(R1, ALL_SPF, 89, 1, &ospf2(1, [1, 1, 1, 1], 1, *b"ospfpass", &hello))));
    // DB description with two LSA headers (cryptographic auth: key 1, 16-byte MD5 digest after).
    let mut dbd = vec![0x05, 0xdc, 0x42, 0x03, 0, 0, 0x12, 0x34];
    dbd.extend_from_slice(&lsa2(30, 0x22, 1, [1, 1, 1, 1], [1, 1, 1, 1], 0x8000_0005, 36));
    dbd.extend_from_slice(&lsa2(31, 0x22, 2, [10, 0, 0, 1], [1, 1, 1, 1], 0x8000_0002, 32));
    let mut crypt = ospf2(2, [1, 1, 1, 1], 2, [0, 0, 1, 16, 0, 0, 0, 77], &dbd);
    crypt.extend_from_slice(&[0xcc; 16]);
    frames.push(eth(0x0800, &ipv4(R1, R2, 89, 1, &crypt)));
    // LS request with two entries.
    let mut lsr = vec![0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 5, 192, 0, 2, 0, 2, 2, 2, 2];
    lsr.extend_from_slice(&[0, 0, 0, 3, 198, 51, 100, 0, 3, 3, 3, 3]);
    frames.push(eth(0x0800, &ipv4(R1, R2, 89, 1, &ospf2(3, [1, 1, 1, 1], 0, [0; 8], &lsr))));
    // LS update: router-LSA (two links, one with a TOS entry), network-LSA, summary-LSA.
    let mut lsu = vec![0, 0, 0, 3];
    lsu.extend_from_slice(&lsa2(1, 0x22, 1, [2, 2, 2, 2], [2, 2, 2, 2], 0x8000_0010, 52));
    lsu.extend_from_slice(&[0x01, 0, 0, 2, 10, 0, 0, 0, 255, 255, 255, 0, 3, 0, 0, 10]);
    lsu.extend_from_slice(&[1, 1, 1, 1, 10, 0, 0, 2, 1, 1, 0, 20, 8, 0, 0, 30]);
    lsu.extend_from_slice(&lsa2(2, 0x22, 2, [10, 0, 0, 2], [2, 2, 2, 2], 0x8000_0003, 32));
    lsu.extend_from_slice(&[255, 255, 255, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    lsu.extend_from_slice(&lsa2(3, 0x22, 3, [172, 16, 0, 0], [2, 2, 2, 2], 0x8000_0001, 28));
    lsu.extend_from_slice(&[255, 255, 0, 0, 0, 0, 0, 100]);
    frames.push(eth(0x0800, &ipv4(R2, ALL_SPF, 89, 1, &ospf2(4, [2, 2, 2, 2], 0, [0; 8], &lsu))));
    // LS acknowledgment of two LSAs.
    let mut ack = lsa2(1, 0x22, 1, [2, 2, 2, 2], [2, 2, 2, 2], 0x8000_0010, 52);
    ack.extend_from_slice(&lsa2(2, 0x22, 2, [10, 0, 0, 2], [2, 2, 2, 2], 0x8000_0003, 32));
    frames.push(eth(0x0800, &ipv4(R1, ALL_SPF, 89, 1, &ospf2(5, [1, 1, 1, 1], 0, [0; 8], &ack))));
    // OSPFv3 hello, DB description, LS request, LS update (router-LSA + link-LSA), LS ack.
    let v3 = |src: u8, dst: [u8; 16], body: Vec<u8>| eth(0x86dd, &ipv6(ll6(src), dst, 89, 1, &body));
    let mut hello3 = vec![0, 0, 0, 5, 1, 0, 0, 0x13, 0, 10, 0, 40, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2];
    hello3.extend_from_slice(&[3, 3, 3, 3]);
    frames.push(v3(1, mcast6(5), ospf3(1, [1, 1, 1, 1], 0, &hello3)));
    let mut dbd3 = vec![0, 0, 0, 0x13, 0x05, 0xdc, 0, 0x07, 0, 0, 0x20, 0];
    dbd3.extend_from_slice(&lsa3(5, 0x2001, [0, 0, 0, 0], [1, 1, 1, 1], 0x8000_0001, 40));
    dbd3.extend_from_slice(&lsa3(6, 0x0008, [0, 0, 0, 5], [1, 1, 1, 1], 0x8000_0001, 56));
    frames.push(v3(1, ll6(2), ospf3(2, [1, 1, 1, 1], 0, &dbd3)));
    let lsr3 = [0, 0, 0x20, 0x01, 0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0x00, 0x08, 0, 0, 0, 7, 2, 2, 2, 2];
    frames.push(v3(1, ll6(2), ospf3(3, [1, 1, 1, 1], 0, &lsr3)));
    let mut lsu3 = vec![0, 0, 0, 2];
    lsu3.extend_from_slice(&lsa3(1, 0x2001, [0, 0, 0, 0], [2, 2, 2, 2], 0x8000_0002, 40));
    lsu3.extend_from_slice(&[0x01, 0, 0, 0x13, 2, 0, 0, 10, 0, 0, 0, 7, 0, 0, 0, 5, 1, 1, 1, 1]);
    lsu3.extend_from_slice(&lsa3(2, 0x0008, [0, 0, 0, 7], [2, 2, 2, 2], 0x8000_0001, 44));
    lsu3.extend_from_slice(&[1, 0, 0, 0x13]);
    lsu3.extend_from_slice(&ll6(2));
    lsu3.extend_from_slice(&[0, 0, 0, 0]);
    frames.push(v3(2, mcast6(5), ospf3(4, [2, 2, 2, 2], 1, &lsu3)));
    let ack3 = lsa3(1, 0x2001, [0, 0, 0, 0], [2, 2, 2, 2], 0x8000_0002, 40);
    frames.push(v3(1, mcast6(5), ospf3(5, [1, 1, 1, 1], 0, &ack3)));
    // OSPFv2 hello inside GRE (tunnel depth 1).
    let inner = ipv4(R1, ALL_SPF, 89, 1, &ospf2(1, [9, 9, 9, 9], 0, [0; 8], &hello));
    let mut gre = vec![0, 0, 0x08, 0x00];
    gre.extend_from_slice(&inner);
    frames.push(eth(0x0800, &ipv4([203, 0, 113, 1], [203, 0, 113, 2], 47, 64, &gre)));
    timed(frames)
}

/// Tunnel header variants: GRE with checksum + key + sequence, GRE with routing (RFC 1701),
/// enhanced GRE (PPTP), VXLAN with the group policy extension, Geneve with options and with
/// the critical bit, and an
/// MPLS stack of three labels.
pub fn tunnel_packets() -> Vec<(i64, Vec<u8>)> {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let inner = ipv4([192, 168, 1, 1], [192, 168, 1, 2], 17, 64, &udp(1000, 2000, b"inner"));
    let outer = |gre: Vec<u8>| eth(0x0800, &ipv4([203, 0, 113, 1], [203, 0, 113, 2], 47, 64, &gre));
    // C, K, S: checksum over the GRE header and payload.
    let mut g = vec![0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0xbe, 0xef, 0, 0, 0, 42];
    g.extend_from_slice(&inner);
    let c = csum(&g);
    g[4..6].copy_from_slice(&c.to_be_bytes());
    frames.push(outer(g));
    // R with two IP source route entries, recursion control 1, then the null entry.
    let mut g = vec![0x41, 0x00, 0x08, 0x00, 0, 0, 0, 4];
    g.extend_from_slice(&[0x08, 0x00, 0, 8, 10, 0, 0, 1, 10, 0, 0, 2]);
    g.extend_from_slice(&[0x08, 0x00, 4, 4, 10, 0, 0, 3]);
    g.extend_from_slice(&[0, 0, 0, 0]);
    g.extend_from_slice(&inner);
    frames.push(outer(g));
    // Enhanced GRE (version 1, PPP): key (payload length, call id), sequence, ack.
    let ppp = [0xff, 0x03, 0x00, 0x21];
    let mut g = vec![0x30, 0x81, 0x88, 0x0b];
    g.extend_from_slice(&((ppp.len() + inner.len()) as u16).to_be_bytes());
    g.extend_from_slice(&[0x12, 0x34, 0, 0, 0, 9, 0, 0, 0, 8]);
    g.extend_from_slice(&ppp);
    g.extend_from_slice(&inner);
    frames.push(outer(g));
    // VXLAN with GBP: G, I, D, A set, group policy id 0x0102, VNI 5000.
    let inner_eth = eth(0x0800, &inner);
    let mut vx = vec![0x88, 0x48, 0x01, 0x02, 0x00, 0x13, 0x88, 0x00];
    vx.extend_from_slice(&inner_eth);
    frames.push(eth(0x0800, &ipv4([203, 0, 113, 1], [203, 0, 113, 2], 17, 64, &udp(50000, 4789, &vx))));
    // Geneve with two options (one critical), OAM bit, VNI 0x123456.
    let mut gn = vec![0x05, 0x80, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00];
    gn.extend_from_slice(&[0x01, 0x02, 0x80, 0x01, 1, 2, 3, 4]);
    gn.extend_from_slice(&[0xff, 0xff, 0x05, 0x02, 5, 6, 7, 8, 9, 10, 11, 12]);
    gn.extend_from_slice(&inner_eth);
    frames.push(eth(0x0800, &ipv4([203, 0, 113, 1], [203, 0, 113, 2], 17, 64, &udp(50000, 6081, &gn))));
    // Geneve with the critical bit and one option without data.
    let mut gn = vec![0x01, 0x40, 0x65, 0x58, 0x00, 0x00, 0x07, 0x00];
    gn.extend_from_slice(&[0x01, 0x03, 0x81, 0x00]);
    gn.extend_from_slice(&inner_eth);
    frames.push(eth(0x0800, &ipv4([203, 0, 113, 3], [203, 0, 113, 4], 17, 64, &udp(50001, 6081, &gn))));
    // MPLS stack: 100 (TC 5), 200, 300 (bottom), then IPv4.
    let mut m = vec![0x00, 0x06, 0x4a, 0x40, 0x00, 0x0c, 0x80, 0x3f, 0x00, 0x12, 0xc1, 0x3e];
    m.extend_from_slice(&inner);
    frames.push(eth(0x8847, &m));
    timed(frames)
}

fn timed(frames: Vec<Vec<u8>>) -> Vec<(i64, Vec<u8>)> {
    let t0: i64 = 1_700_000_000_000_000_000;
    frames.into_iter().enumerate().map(|(i, f)| (t0 + i as i64 * 1_250_000, f)).collect()
}

/// Packets of [`routing_packets`] and [`tunnel_packets`] cut short by the capture (snap length
/// inside the protocol header): (time, captured bytes, length on the wire). Each yields a
/// partial record and a decoder error.
pub fn truncated_packets() -> Vec<(i64, Vec<u8>, u32)> {
    let r = routing_packets();
    let t = tunnel_packets();
    // (frame, bytes kept): Ethernet 14 + IPv4 20 (+ UDP 8) before the protocol header.
    let cuts: [(&Vec<u8>, usize); 8] = [
        (&r[1].1, 14 + 20 + 8 + 6),             // VRRPv2: inside the second address
        (&r[7].1, 14 + 20 + 8 + 24 + 8 + 5),    // BFD: inside the MD5 digest
        (&r[9].1, 14 + 20 + 8 + 24 + 3 + 3),    // BFD: inside the simple password
        (&r[10].1, 14 + 20 + 24 + 12 + 8 + 6),  // OSPFv2 hello: inside the neighbor list
        (&r[13].1, 14 + 20 + 24 + 4 + 52 + 10), // OSPFv2 LS update: inside the second LSA header
        (&r[16].1, 14 + 40 + 16 + 12 + 7),      // OSPFv3 DB description: inside an LSA header
        (&t[0].1, 14 + 20 + 4 + 6),             // GRE: inside the key
        (&t[4].1, 14 + 20 + 8 + 8 + 2),         // Geneve: inside the first option header
    ];
    cuts.iter()
        .enumerate()
        .map(|(i, (f, n))| (1_700_000_100_000_000_000 + i as i64 * 1_000_000, f[..*n].to_vec(), f.len() as u32))
        .collect()
}

/// The bytes of a legacy pcap file (Ethernet, microseconds) whose packets may be cut short.
pub fn truncated_pcap_bytes(packets: &[(i64, Vec<u8>, u32)]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for (ts, data, orig) in packets {
        v.extend_from_slice(&(ts.div_euclid(1_000_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&((ts.rem_euclid(1_000_000_000) / 1000) as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&orig.to_le_bytes());
        v.extend_from_slice(data);
    }
    v
}

/// A TCP segment (20-byte header, flags PSH|ACK, checksum 0: tshark does not check it).
pub fn tcp(sp: u16, dp: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0x50, 0x18, 0x20, 0x00, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

const C1: [u8; 4] = [10, 1, 0, 1];
const C2: [u8; 4] = [10, 1, 0, 2];
const T1: [u8; 4] = [198, 51, 100, 1];
const T2: [u8; 4] = [198, 51, 100, 2];

fn v6(last: u8) -> [u8; 16] {
    [0x20, 0x01, 0, 0, 0x4, 0x5, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]
}

/// Inner packets: a UDP datagram and a TCP segment over IPv4, a UDP datagram over IPv6, on
/// ports no tshark dissector claims (their payloads are plain data).
fn inner4_udp(n: u8) -> Vec<u8> {
    ipv4(C1, C2, 17, 64, &udp(31024 + u16::from(n), 33433, &[n; 12]))
}

fn inner4_tcp(n: u8) -> Vec<u8> {
    ipv4(C2, C1, 6, 64, &tcp(33080, 32048 + u16::from(n), 1000, &[n; 10]))
}

fn inner6_udp(n: u8) -> Vec<u8> {
    ipv6(v6(1), v6(2), 17, 64, &udp(35000 + u16::from(n), 33434, &[n; 8]))
}

/// A synthesized capture: file name, pcap link type, packets (time, bytes).
pub type Capture = (&'static str, u32, Vec<(i64, Vec<u8>)>);

/// The encapsulations the shared corpus lacks (or has only a few of), one capture per link type:
/// (file name, pcap link type, packets). Every tunnel carries IPv4/UDP, IPv4/TCP and IPv6/UDP
/// packets; tshark dissects the written files as the oracle.
pub fn encapsulation_captures() -> Vec<Capture> {
    let inners = [inner4_udp(1), inner4_tcp(2), inner6_udp(3)];
    let mut eth_frames: Vec<Vec<u8>> = Vec::new();
    let outer_udp = |port: u16, payload: &[u8]| eth(0x0800, &ipv4(T1, T2, 17, 64, &udp(40000, port, payload)));
    for (i, inner) in inners.iter().enumerate() {
        let et: u16 = if inner[0] >> 4 == 6 { 0x86dd } else { 0x0800 };
        let ppp_proto: [u8; 2] = if et == 0x86dd { [0x00, 0x57] } else { [0x00, 0x21] };
        // GRE-in-UDP (RFC 8086).
        let mut g = vec![0, 0];
        g.extend_from_slice(&et.to_be_bytes());
        g.extend_from_slice(inner);
        eth_frames.push(outer_udp(4754, &g));
        // GTP-U G-PDU: plain, then with a sequence number and two extension headers (PDU
        // session container, UDP port).
        let mut u = vec![0x30, 0xff, 0, 0, 0, 0, 0x10, i as u8];
        u.extend_from_slice(inner);
        let n = (u.len() - 8) as u16;
        u[2..4].copy_from_slice(&n.to_be_bytes());
        eth_frames.push(outer_udp(2152, &u));
        let mut u = vec![0x36, 0xff, 0, 0, 0, 0, 0x20, i as u8, 0x01, i as u8, 0, 0x85];
        u.extend_from_slice(&[1, 0x10, 0x09, 0x40, 1, 0x08, 0x68, 0]);
        u.extend_from_slice(inner);
        let n = (u.len() - 8) as u16;
        u[2..4].copy_from_slice(&n.to_be_bytes());
        eth_frames.push(outer_udp(2152, &u));
        // PPPoE session.
        let mut s = vec![0x11, 0, 0x12, 0x34];
        s.extend_from_slice(&((inner.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(&ppp_proto);
        s.extend_from_slice(inner);
        eth_frames.push(eth(0x8864, &s));
        // PPTP: enhanced GRE (key, sequence number), PPP with address and control bytes.
        let mut g = vec![0x30, 0x01, 0x88, 0x0b];
        g.extend_from_slice(&((inner.len() + 4) as u16).to_be_bytes());
        g.extend_from_slice(&[0x40, 0x01, 0, 0, 0, i as u8, 0xff, 0x03]);
        g.extend_from_slice(&ppp_proto);
        g.extend_from_slice(inner);
        eth_frames.push(eth(0x0800, &ipv4(T1, T2, 47, 64, &g)));
        // 802.1ah: I-tag (I-SID 0x0100ab), then the customer frame.
        let mut b = vec![0x00, 0x01, 0x00, 0xab];
        b.extend_from_slice(&eth(et, inner));
        eth_frames.push(eth(0x88e7, &b));
        // VN-Tag, then 802.1BR E-Tag.
        let mut v = vec![0x80, 0x05, 0x00, 0x07];
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(inner);
        eth_frames.push(eth(0x8926, &v));
        let mut e = vec![0x20, 0x01, 0x00, 0x05, 0x00, 0x00];
        e.extend_from_slice(&et.to_be_bytes());
        e.extend_from_slice(inner);
        eth_frames.push(eth(0x893f, &e));
        // NSH (MD type 2 without metadata) over Ethernet, in GRE and in VXLAN-GPE.
        let np = if et == 0x86dd { 2 } else { 1 };
        let mut n = vec![0x0f, 0xc2, 0x02, np, 0, 0, 1, 0xff];
        n.extend_from_slice(inner);
        eth_frames.push(eth(0x894f, &n));
        let mut g = vec![0, 0, 0x89, 0x4f];
        g.extend_from_slice(&n);
        eth_frames.push(eth(0x0800, &ipv4(T1, T2, 47, 64, &g)));
        let mut x = vec![0x0c, 0, 0, 4, 0, 0x10, 0, 0];
        x.extend_from_slice(&n);
        eth_frames.push(outer_udp(4790, &x));
    }
    // Teredo: IPv6 in UDP 3544, without indicators, with an origin indicator, with an
    // authentication indicator (client id 2 bytes, value 1 byte) and an origin indicator.
    let t6 = inners[2].clone();
    for head in [
        &[][..],
        &[0, 0, 0xed, 0xfe, 0x3f, 0xff, 0xfe, 0xfd][..],
        &[0, 1, 2, 1, 0xaa, 0xbb, 0xcc, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0xed, 0xfe, 0x3f, 0xff, 0xfe, 0xfd][..],
    ] {
        let mut t = head.to_vec();
        t.extend_from_slice(&t6);
        eth_frames.push(eth(0x0800, &ipv4(T1, T2, 17, 64, &udp(3544, 40001, &t))));
    }
    // PPPoE discovery: PADI with Service-Name and Host-Uniq tags.
    eth_frames.push(eth(0x8863, &[0x11, 0x09, 0, 0, 0, 12, 0x01, 0x01, 0, 0, 0x01, 0x03, 0, 4, 1, 2, 3, 4]));
    let mut out = vec![("encap-ethernet.pcap", 1, timed(eth_frames))];
    // Frame Relay (link type 107): RFC 2427 NLPID for IPv4 and IPv6, Cisco encapsulation.
    let fr: Vec<Vec<u8>> = inners
        .iter()
        .map(|inner| {
            let mut f = if inner[0] >> 4 == 6 { vec![0x18, 0x41, 0x03, 0x8e] } else { vec![0x18, 0x41, 0x03, 0xcc] };
            f.extend_from_slice(inner);
            f
        })
        .collect();
    out.push(("encap-frame-relay.pcap", 107, timed(fr)));
    // PPP (link type 9) with address and control bytes.
    let ppp: Vec<Vec<u8>> = inners
        .iter()
        .map(|inner| {
            let mut f = vec![0xff, 0x03, 0x00, if inner[0] >> 4 == 6 { 0x57 } else { 0x21 }];
            f.extend_from_slice(inner);
            f
        })
        .collect();
    out.push(("encap-ppp.pcap", 9, timed(ppp)));
    // Cisco HDLC (link type 104).
    let hdlc: Vec<Vec<u8>> = inners
        .iter()
        .map(|inner| {
            let mut f = vec![0x0f, 0x00];
            f.extend_from_slice(&(if inner[0] >> 4 == 6 { 0x86ddu16 } else { 0x0800 }).to_be_bytes());
            f.extend_from_slice(inner);
            f
        })
        .collect();
    out.push(("encap-chdlc.pcap", 104, timed(hdlc)));
    out
}

/// Packets in encapsulations netcap does not decapsulate, each counted as unknown by its reason:
/// L2TP (UDP 1701), AYIYA (UDP 5072), GRE carrying an EtherType nobody dissects (0x88b5, local
/// experimental), PPP in PPPoE carrying IPX, and a GTP-U G-PDU whose payload is not IP.
pub fn undissected_packets() -> Vec<(i64, Vec<u8>)> {
    let inner = inner4_udp(9);
    let mut l2tp = vec![0x02, 0x02, 0, 1, 0, 1, 0xff, 0x03, 0x00, 0x21];
    l2tp.extend_from_slice(&inner);
    let mut ayiya = vec![0x41, 0x52, 0x11, 0x04, 0, 0, 0, 0];
    ayiya.extend_from_slice(&[0; 16]);
    ayiya.extend_from_slice(&inner);
    let mut gre = vec![0, 0, 0x88, 0xb5];
    gre.extend_from_slice(&[0; 20]);
    let mut gtp = vec![0x30, 0xff, 0, 20, 0, 0, 0, 1];
    gtp.extend_from_slice(&[0; 20]);
    let frames = vec![
        eth(0x0800, &ipv4(T1, T2, 17, 64, &udp(1701, 1701, &l2tp))),
        eth(0x0800, &ipv4(T1, T2, 17, 64, &udp(5072, 40002, &ayiya))),
        eth(0x0800, &ipv4(T1, T2, 47, 64, &gre)),
        eth(0x8864, &[0x11, 0, 0, 1, 0, 12, 0x00, 0x2b, 0xff, 0xff, 0, 8, 0, 0, 0, 0, 0, 0]),
        eth(0x0800, &ipv4(T1, T2, 17, 64, &udp(2152, 2152, &gtp))),
    ];
    timed(frames)
}
