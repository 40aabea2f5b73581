//! Synthesized TCP captures for the reassembly and stream decoder tests: a TLS ClientHello split
//! across segments that arrive out of order, retransmitted and overlapping, over IPv4 or IPv6,
//! with sequence numbers that wrap past 2^32 inside the hello; and the patterns of issue 13 (a
//! stale ACK before the handshake, a TLS 1.3 HelloRetryRequest, HTTP methods outside the usual
//! list, protocols on each other's ports, SSH without KEXINIT and SSH-1, a late segment, a DNS
//! dynamic update, a malformed ServerHello), built with [`Conv`].

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

/// A TCP conversation over IPv4 between `192.0.2.<c>` and `198.51.100.<s>`, built packet by
/// packet with real sequence and acknowledgment numbers; each packet is `step` after the
/// previous one (1 ms unless changed).
#[derive(Debug, Clone)]
pub struct Conv {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    /// Next sequence number of the client and of the server.
    pub cseq: u32,
    pub sseq: u32,
    /// Time of the next packet, and the step between packets.
    pub t: i64,
    pub step: i64,
    pub pkts: Vec<(i64, Vec<u8>)>,
}

impl Conv {
    /// A conversation from `192.0.2.<host>:<cport>` to `198.51.100.<host>:<sport>` starting at
    /// `t0`, with initial sequence numbers `cisn` and `sisn`.
    pub fn new(host: u8, cport: u16, sport: u16, cisn: u32, sisn: u32, t0: i64) -> Conv {
        Conv {
            client: ([192, 0, 2, host], cport),
            server: ([198, 51, 100, host], sport),
            cseq: cisn,
            sseq: sisn,
            t: t0,
            step: 1_000_000,
            pkts: Vec::new(),
        }
    }

    /// One packet with explicit numbers and flags (`S`yn, `A`ck, `P`sh, `F`in, `R`st).
    pub fn raw(&mut self, from_client: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]) {
        let (src, dst) = if from_client { (self.client, self.server) } else { (self.server, self.client) };
        let (sm, dm) = if from_client { (CLIENT_MAC, SERVER_MAC) } else { (SERVER_MAC, CLIENT_MAC) };
        let b = crate::pcap::tcp_flags(
            PacketBuilder::ethernet2(sm, dm).ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 64240),
            flags,
            ack,
        );
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("build tcp");
        self.pkts.push((self.t, v));
        self.t += self.step;
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) {
        let (c, s) = (self.cseq, self.sseq);
        self.raw(true, c, 0, "S", b"");
        self.raw(false, s, c.wrapping_add(1), "SA", b"");
        self.cseq = c.wrapping_add(1);
        self.sseq = s.wrapping_add(1);
        self.raw(true, self.cseq, self.sseq, "A", b"");
    }

    /// `payload` from one side in one segment, then the other side's ACK.
    pub fn send(&mut self, from_client: bool, payload: &[u8]) {
        self.segment(from_client, payload);
        self.ack(!from_client);
    }

    /// `payload` from one side in one segment, without an ACK.
    pub fn segment(&mut self, from_client: bool, payload: &[u8]) {
        let (seq, ack) = if from_client { (self.cseq, self.sseq) } else { (self.sseq, self.cseq) };
        self.raw(from_client, seq, ack, "PA", payload);
        let next = seq.wrapping_add(payload.len() as u32);
        if from_client {
            self.cseq = next;
        } else {
            self.sseq = next;
        }
    }

    /// A bare ACK of everything the other side sent.
    pub fn ack(&mut self, from_client: bool) {
        let (seq, ack) = if from_client { (self.cseq, self.sseq) } else { (self.sseq, self.cseq) };
        self.raw(from_client, seq, ack, "A", b"");
    }

    /// FIN from both sides and the last ACK.
    pub fn close(&mut self) {
        let (c, s) = (self.cseq, self.sseq);
        self.raw(true, c, s, "FA", b"");
        self.raw(false, s, c.wrapping_add(1), "FA", b"");
        self.cseq = c.wrapping_add(1);
        self.sseq = s.wrapping_add(1);
        self.raw(true, self.cseq, self.sseq, "A", b"");
    }
}

/// The packets of several conversations, in time order (stable for equal times).
pub fn merge(convs: &[&Conv]) -> Vec<(i64, Vec<u8>)> {
    let mut all: Vec<(i64, Vec<u8>)> = convs.iter().flat_map(|c| c.pkts.iter().cloned()).collect();
    all.sort_by_key(|p| p.0);
    all
}

/// Defect pattern of issue 13 (1): the client's SYN; the server answers with a bare ACK in
/// another sequence space (a challenge ACK from stale state); the client resets with that ACK's
/// number as its sequence number (RFC 9293 3.10.7.3) and retransmits its SYN with the same
/// initial sequence number; then the real SYN-ACK, an HTTP exchange and FINs.
pub fn stale_ack_then_handshake(t0: i64, request: &[u8], response: &[u8]) -> Conv {
    let (cisn, sisn, stale_seq, stale_ack) = (0x1000_0000u32, 0x9000_0000u32, 0x3000_0000u32, 0x7777_0000u32);
    let mut c = Conv::new(1, 40001, 80, cisn, sisn, t0);
    c.raw(true, cisn, 0, "S", b"");
    c.raw(false, stale_seq, stale_ack, "A", b"");
    c.raw(true, stale_ack, 0, "R", b"");
    c.raw(true, cisn, 0, "S", b"");
    c.handshake_after_syn();
    c.send(true, request);
    c.send(false, response);
    c.close();
    c
}

impl Conv {
    /// SYN-ACK and ACK after a SYN that was already sent (with the initial `cseq`).
    pub fn handshake_after_syn(&mut self) {
        let (c, s) = (self.cseq, self.sseq);
        self.raw(false, s, c.wrapping_add(1), "SA", b"");
        self.cseq = c.wrapping_add(1);
        self.sseq = s.wrapping_add(1);
        self.raw(true, self.cseq, self.sseq, "A", b"");
    }
}

/// A TLS record of content type `ct` around `payload` (record version 0x0303).
pub fn tls_record(ct: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![ct, 3, 3];
    v.extend((payload.len() as u16).to_be_bytes());
    v.extend(payload);
    v
}

/// The random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3: SHA-256 of "HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11,
    0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// A ServerHello handshake message (TLS 1.3 layout): `random`, cipher 0x1301, and the extension
/// block `exts` as given (`exts_len` overrides its length field, to make it malformed).
pub fn server_hello(random: &[u8; 32], exts: &[u8], exts_len: Option<u16>) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend(random);
    body.push(32);
    body.extend([0x5a; 32]);
    body.extend([0x13, 0x01, 0]);
    body.extend(exts_len.unwrap_or(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![2];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    hs
}

/// Extension `ty` with `data`.
pub fn extension(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend((data.len() as u16).to_be_bytes());
    v.extend(data);
    v
}

/// A TLS 1.3 handshake with a HelloRetryRequest (RFC 8446 4.1.4, with the middlebox
/// compatibility ChangeCipherSpecs of D.4): ClientHello; HelloRetryRequest (supported_versions,
/// key_share selecting secp256r1) and the server's ChangeCipherSpec; the client's
/// ChangeCipherSpec and second ClientHello; the real ServerHello (supported_versions, key_share
/// with an x25519 key) and encrypted records.
pub fn hello_retry_capture(t0: i64) -> Conv {
    let mut c = Conv::new(2, 40002, 443, 0x2000_0000, 0xa000_0000, t0);
    c.handshake();
    let ch1 = client_hello("hrr.example", 16);
    let ch2 = client_hello("hrr.example", 100);
    let versions = extension(43, &[0x03, 0x04]);
    let hrr = server_hello(&HRR_RANDOM, &[versions.clone(), extension(51, &[0x00, 0x17])].concat(), None);
    let mut share = vec![0x00, 0x1d, 0x00, 0x20];
    share.extend([0x42; 32]);
    let random: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    let sh = server_hello(&random, &[versions, extension(51, &share)].concat(), None);
    let ccs = tls_record(20, &[1]);
    c.send(true, &ch1);
    c.send(false, &[tls_record(22, &hrr), ccs.clone()].concat());
    c.send(true, &[ccs, ch2].concat());
    c.send(false, &[tls_record(22, &sh), tls_record(23, &[0x17; 40])].concat());
    c.send(true, &tls_record(23, &[0x17; 30]));
    c.close();
    c
}

/// HTTP requests with methods outside the usual list, each on a connection of its own (ports
/// 40010...): Outlook RPC over HTTP, SCCM, UPnP eventing, WebDAV versioning; and a connection
/// whose client bytes are not HTTP while the server answers with a status line.
pub fn http_methods_capture(t0: i64) -> Vec<Conv> {
    let mut convs = Vec::new();
    let reqs: [&[u8]; 4] = [
        b"RPC_IN_DATA /rpc/rpcproxy.dll?mail.example:6001 HTTP/1.1\r\nHost: mail.example\r\nContent-Length: 0\r\n\r\n",
        b"CCM_POST /ccm_system/request HTTP/1.1\r\nHost: sccm.example\r\nContent-Length: 4\r\n\r\nabcd",
        b"SUBSCRIBE /upnp/event/cm HTTP/1.1\r\nHost: 192.0.2.50:49152\r\nNT: upnp:event\r\n\r\n",
        b"VERSION-CONTROL /docs/a.txt HTTP/1.1\r\nHost: dav.example\r\n\r\n",
    ];
    for (i, req) in reqs.iter().enumerate() {
        let mut c =
            Conv::new(10 + i as u8, 40010 + i as u16, 80, 0x100 * i as u32, 0x8000_0000, t0 + i as i64 * 1_000_000_000);
        c.handshake();
        c.send(true, req);
        c.send(false, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        c.close();
        convs.push(c);
    }
    let mut c = Conv::new(20, 40020, 8080, 0x5000, 0x6000, t0 + 10_000_000_000);
    c.handshake();
    c.send(true, b"\x00\x00\x00\x10\x01\x02garbage\xff\xfe not a request\r\n");
    c.send(false, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nServer: test\r\n\r\nbad");
    c.close();
    convs.push(c);
    convs
}

/// An HTTP exchange on port 22 and an SSH exchange (identifications and KEXINITs) on port 80:
/// content, not the port, tells the protocol.
pub fn swapped_ports_capture(t0: i64, kexinit_client: &[u8], kexinit_server: &[u8]) -> Vec<Conv> {
    let mut h = Conv::new(30, 40030, 22, 0x10, 0x20, t0);
    h.handshake();
    h.send(true, b"GET /on-port-22 HTTP/1.1\r\nHost: ssh-port.example\r\n\r\n");
    h.send(false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    h.close();
    let mut s = Conv::new(31, 40031, 80, 0x30, 0x40, t0 + 1_000_000_000);
    s.handshake();
    s.send(false, b"SSH-2.0-OpenSSH_9.6\r\n");
    s.send(true, b"SSH-2.0-OpenSSH_9.3\r\n");
    s.send(true, kexinit_client);
    s.send(false, kexinit_server);
    s.close();
    vec![h, s]
}

/// An SSH binary packet carrying `payload` (padding to a multiple of 8, at least 4 bytes).
pub fn ssh_packet(payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (payload.len() + 5) % 8;
    if pad < 4 {
        pad += 8;
    }
    let len = (payload.len() + pad + 1) as u32;
    let mut v = len.to_be_bytes().to_vec();
    v.push(pad as u8);
    v.extend(payload);
    v.extend(vec![0u8; pad]);
    v
}

/// A KEXINIT binary packet with the ten name-lists given (RFC 4253 7.1).
pub fn kexinit(lists: [&str; 10]) -> Vec<u8> {
    let mut p = vec![20];
    p.extend([0x11; 16]);
    for l in lists {
        p.extend((l.len() as u32).to_be_bytes());
        p.extend(l.as_bytes());
    }
    p.extend([0, 0, 0, 0, 0]);
    ssh_packet(&p)
}

/// SSH connections that end without KEXINIT, timed: at `t0` the server and the client send
/// their identifications, then nothing; a packet of an unrelated connection 10 minutes later
/// lets the idle timeout close them. Also an SSH-1 exchange: a server offering 1.99, a client
/// answering 1.5, then SSH-1 binary packets from both.
pub fn ssh_idle_and_ssh1_capture(t0: i64) -> Vec<Conv> {
    let mut a = Conv::new(40, 40040, 22, 0x1000, 0x2000, t0);
    a.handshake();
    a.send(false, b"SSH-2.0-OpenSSH_8.0\r\n");
    a.send(true, b"SSH-2.0-PuTTY_Release_0.78\r\n");
    let mut b = Conv::new(41, 40041, 22, 0x3000, 0x4000, t0 + 2_000_000);
    b.handshake();
    b.send(false, b"SSH-1.99-OpenSSH_3.9p1\n");
    b.send(true, b"SSH-1.5-1.2.27\n");
    // SSH-1 packets (RFC draft-ylonen-ssh-protocol-00): length, 1-8 padding bytes, type, data,
    // CRC; the server's public key message (type 2) and the client's session key (type 3).
    // Random padding, as SSH-1 sends it: read as SSH-2, its first byte is the padding length.
    let mut pk = vec![0, 0, 0, 0x8c];
    pk.extend([0xe7, 0x1a, 0x5c, 0x90]);
    pk.push(2);
    pk.extend([0x33; 0x8c - 1]);
    b.send(false, &pk);
    let mut sk = vec![0, 0, 0, 0x94];
    sk.extend([0xd2, 0x07, 0x61, 0xbb]);
    sk.push(3);
    sk.extend([0x44; 0x94 - 1]);
    b.send(true, &sk);
    let mut later = Conv::new(42, 40042, 9999, 0x5000, 0x6000, t0 + 600_000_000_000);
    later.raw(true, 0x5000, 0, "S", b"");
    vec![a, b, later]
}

/// A connection whose server sends two HTTP responses in three segments, the first of which
/// arrives one second late (after the other two): the second response starts in a segment that
/// waits in the reassembly buffer, and must carry that segment's time.
pub fn late_segment_capture(t0: i64) -> Conv {
    let mut c = Conv::new(50, 40050, 80, 0x7000, 0x8000, t0);
    c.handshake();
    c.send(true, b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    let r1 = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none";
    let r2a = b"HTTP/1.1 200 OK\r\nContent-";
    let r2b = b"Length: 3\r\n\r\ntwo";
    let s0 = c.sseq;
    let ack = c.cseq;
    let s1 = s0.wrapping_add(r1.len() as u32);
    let s2 = s1.wrapping_add(r2a.len() as u32);
    c.raw(false, s1, ack, "PA", r2a);
    c.raw(false, s2, ack, "PA", r2b);
    c.t += 1_000_000_000;
    c.raw(false, s0, ack, "PA", r1);
    c.sseq = s2.wrapping_add(r2b.len() as u32);
    c.ack(true);
    c.close();
    c
}

/// A DNS dynamic update (RFC 2136) as Windows clients send it, in one UDP datagram from
/// 192.0.2.60:53001 to 198.51.100.60:53: zone `corp.example` SOA; prerequisite "no CNAME at
/// ws1.corp.example" (class NONE, no RDATA); updates "delete all AAAA" and "delete all A"
/// (class ANY, no RDATA) and "add A 192.0.2.55" (TTL 1200).
pub fn dns_update_packet() -> Vec<u8> {
    let mut m = vec![0x6b, 0x2e, 0x28, 0x00, 0, 1, 0, 1, 0, 3, 0, 0];
    for l in ["corp", "example"] {
        m.push(l.len() as u8);
        m.extend(l.as_bytes());
    }
    m.push(0);
    m.extend([0, 6, 0, 1]);
    let owner = m.len() as u8;
    m.extend([3, b'w', b's', b'1', 0xc0, 12]);
    m.extend([0, 5, 0, 254, 0, 0, 0, 0, 0, 0]);
    for (ty, class, ttl, rdata) in [(28u16, 255u16, 0u32, &[][..]), (1, 255, 0, &[]), (1, 1, 1200, &[192, 0, 2, 55])] {
        m.extend([0xc0, owner]);
        m.extend(ty.to_be_bytes());
        m.extend(class.to_be_bytes());
        m.extend(ttl.to_be_bytes());
        m.extend((rdata.len() as u16).to_be_bytes());
        m.extend(rdata);
    }
    let mut v = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
        .ipv4([192, 0, 2, 60], [198, 51, 100, 60], 128)
        .udp(53001, 53)
        .write(&mut v, &m)
        .expect("build udp");
    v
}

/// A TLS ServerHello whose extension block claims more bytes than the message has (after a
/// ClientHello), on port 443.
pub fn malformed_server_hello_capture(t0: i64) -> Conv {
    let mut c = Conv::new(70, 40070, 443, 0x100, 0x200, t0);
    c.handshake();
    c.send(true, &client_hello("bad-ext.example", 8));
    let versions = extension(43, &[0x03, 0x04]);
    let random: [u8; 32] = std::array::from_fn(|i| 0x80 + i as u8);
    let sh = server_hello(&random, &versions, Some(40));
    c.send(false, &tls_record(22, &sh));
    c.close();
    c
}
