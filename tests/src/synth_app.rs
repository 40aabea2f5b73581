//! Synthesized captures for the `app` decoder family: Modbus/TCP, EtherNet/IP with CIP,
//! Diameter (TCP and SCTP), LCM and SIP over TCP, built from the protocol specifications, since
//! the corpus has none of them (or, for SIP, no TCP segment with several messages).

use etherparse::PacketBuilder;
use std::collections::HashMap;

const MAC_A: [u8; 6] = [0x02, 0x00, 0x5e, 0x20, 0x00, 0x01];
const MAC_B: [u8; 6] = [0x02, 0x00, 0x5e, 0x20, 0x00, 0x02];

/// An IPv4 or IPv6 endpoint address.
#[derive(Clone, Copy)]
pub enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

pub const PLC: Addr = Addr::V4([192, 0, 2, 50]);
pub const HMI: Addr = Addr::V4([192, 0, 2, 10]);
pub const PEER6_A: Addr = Addr::V6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]);
pub const PEER6_B: Addr = Addr::V6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b]);

/// Frames of a synthesized capture, one millisecond apart.
#[derive(Default)]
pub struct Frames {
    pub packets: Vec<(i64, Vec<u8>)>,
    seqs: HashMap<(Vec<u8>, u16, Vec<u8>, u16), u32>,
}

impl Frames {
    fn push(&mut self, frame: Vec<u8>) {
        let ts = 1_700_000_000_000_000_000 + self.packets.len() as i64 * 1_000_000;
        self.packets.push((ts, frame));
    }

    fn builder(src: Addr, dst: Addr) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B);
        match (src, dst) {
            (Addr::V4(s), Addr::V4(d)) => b.ipv4(s, d, 64),
            (Addr::V6(s), Addr::V6(d)) => b.ipv6(s, d, 64),
            _ => panic!("mixed address families"),
        }
    }

    pub fn udp(&mut self, src: Addr, dst: Addr, sp: u16, dp: u16, payload: &[u8]) {
        let mut v = Vec::new();
        Self::builder(src, dst).udp(sp, dp).write(&mut v, payload).expect("build udp");
        self.push(v);
    }

    /// A PSH/ACK segment; sequence numbers advance per direction.
    pub fn tcp(&mut self, src: Addr, dst: Addr, sp: u16, dp: u16, payload: &[u8]) {
        let bytes = |a: Addr| match a {
            Addr::V4(x) => x.to_vec(),
            Addr::V6(x) => x.to_vec(),
        };
        let seq = self.seqs.entry((bytes(src), sp, bytes(dst), dp)).or_insert(1000);
        let s = *seq;
        *seq = seq.wrapping_add(payload.len() as u32);
        let ack = *self.seqs.get(&(bytes(dst), dp, bytes(src), sp)).unwrap_or(&1000);
        let mut v = Vec::new();
        Self::builder(src, dst).tcp(sp, dp, s, 65535).ack(ack).psh().write(&mut v, payload).expect("build tcp");
        self.push(v);
    }

    /// An IPv4 packet carried in GRE (outer IPv4 `src` -> `dst`): a UDP datagram inside.
    pub fn udp_in_gre(&mut self, src: [u8; 4], dst: [u8; 4], inner: (Addr, Addr, u16, u16), payload: &[u8]) {
        let (is, id, sp, dp) = inner;
        let mut ip = Vec::new();
        let b = match (is, id) {
            (Addr::V4(s), Addr::V4(d)) => PacketBuilder::ipv4(s, d, 64),
            _ => panic!("IPv4 inside GRE only"),
        };
        b.udp(sp, dp).write(&mut ip, payload).expect("build inner udp");
        let mut gre = vec![0, 0, 0x08, 0x00];
        gre.extend_from_slice(&ip);
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(src, dst, 64)
            .write(&mut v, etherparse::IpNumber::GRE, &gre)
            .expect("build gre");
        self.push(v);
    }

    /// An SCTP packet (IPv4) with the given chunks; the CRC32c checksum is left 0 (tshark does
    /// not verify it by default).
    pub fn sctp(&mut self, src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, chunks: &[u8]) {
        let total = 20 + 12 + chunks.len();
        let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 132, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let mut sum: u32 = ip.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let ck = !(sum as u16);
        ip[10..12].copy_from_slice(&ck.to_be_bytes());
        let mut v = Vec::new();
        v.extend_from_slice(&MAC_B);
        v.extend_from_slice(&MAC_A);
        v.extend_from_slice(&[0x08, 0x00]);
        v.extend_from_slice(&ip);
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
        v.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(chunks);
        self.push(v);
    }
}

/// An SCTP DATA chunk (flags: 0x02 beginning, 0x01 end) with PPID 46 (Diameter).
pub fn sctp_data(tsn: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    let len = 16 + data.len();
    let mut v = vec![0, flags];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(&tsn.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 46]);
    v.extend_from_slice(data);
    v.extend(std::iter::repeat_n(0, (4 - len % 4) % 4));
    v
}

/// A Modbus/TCP ADU.
pub fn modbus(tid: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut v = tid.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
    v.push(unit);
    v.extend_from_slice(pdu);
    v
}

/// An EtherNet/IP encapsulation message (little-endian header).
pub fn enip(cmd: u16, session: u32, status: u32, context: u64, body: &[u8]) -> Vec<u8> {
    let mut v = cmd.to_le_bytes().to_vec();
    v.extend_from_slice(&(body.len() as u16).to_le_bytes());
    v.extend_from_slice(&session.to_le_bytes());
    v.extend_from_slice(&status.to_le_bytes());
    v.extend_from_slice(&context.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// A common packet format item list.
pub fn cpf(items: &[(u16, &[u8])]) -> Vec<u8> {
    let mut v = (items.len() as u16).to_le_bytes().to_vec();
    for (ty, data) in items {
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(&(data.len() as u16).to_le_bytes());
        v.extend_from_slice(data);
    }
    v
}

/// SendRRData/SendUnitData body: interface handle 0, timeout, item list.
pub fn send_data(timeout: u16, items: &[(u16, &[u8])]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0];
    v.extend_from_slice(&timeout.to_le_bytes());
    v.extend_from_slice(&cpf(items));
    v
}

/// A CIP request with a class/instance(/attribute) path (8-bit or 16-bit logical segments).
pub fn cip_request(service: u8, class: u16, instance: u16, attribute: Option<u8>, data: &[u8]) -> Vec<u8> {
    let mut path = Vec::new();
    for (ty, val) in [(0x20u8, class), (0x24, instance)] {
        if val > 0xff {
            path.extend_from_slice(&[ty | 1, 0]);
            path.extend_from_slice(&val.to_le_bytes());
        } else {
            path.extend_from_slice(&[ty, val as u8]);
        }
    }
    if let Some(a) = attribute {
        path.extend_from_slice(&[0x30, a]);
    }
    let mut v = vec![service, (path.len() / 2) as u8];
    v.extend_from_slice(&path);
    v.extend_from_slice(data);
    v
}

/// A CIP response.
pub fn cip_response(service: u8, status: u8, additional: &[u16], data: &[u8]) -> Vec<u8> {
    let mut v = vec![service | 0x80, 0, status, additional.len() as u8];
    for w in additional {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// A Diameter AVP (padded).
pub fn avp(code: u32, flags: u8, vendor: Option<u32>, value: &[u8]) -> Vec<u8> {
    let hl = if vendor.is_some() { 12 } else { 8 };
    let len = hl + value.len();
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(&((u32::from(flags) << 24) | len as u32).to_be_bytes());
    if let Some(x) = vendor {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(value);
    v.extend(std::iter::repeat_n(0, (4 - len % 4) % 4));
    v
}

/// A Diameter message.
pub fn diameter(flags: u8, cmd: u32, app: u32, hbh: u32, e2e: u32, avps: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = avps.concat();
    let len = 20 + body.len();
    let mut v = vec![1, (len >> 16) as u8, (len >> 8) as u8, len as u8, flags];
    v.extend_from_slice(&cmd.to_be_bytes()[1..]);
    v.extend_from_slice(&app.to_be_bytes());
    v.extend_from_slice(&hbh.to_be_bytes());
    v.extend_from_slice(&e2e.to_be_bytes());
    v.extend_from_slice(&body);
    v
}

/// An LCM short message.
pub fn lcm_short(seq: u32, channel: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = 0x4c43_3032u32.to_be_bytes().to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(channel.as_bytes());
    v.push(0);
    v.extend_from_slice(payload);
    v
}

/// An LCM fragment; fragment 0 carries the channel name.
pub fn lcm_fragment(seq: u32, size: u32, offset: u32, no: u16, count: u16, channel: &str, data: &[u8]) -> Vec<u8> {
    let mut v = 0x4c43_3033u32.to_be_bytes().to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&size.to_be_bytes());
    v.extend_from_slice(&offset.to_be_bytes());
    v.extend_from_slice(&no.to_be_bytes());
    v.extend_from_slice(&count.to_be_bytes());
    if no == 0 {
        v.extend_from_slice(channel.as_bytes());
        v.push(0);
    }
    v.extend_from_slice(data);
    v
}

fn v4(a: Addr) -> [u8; 4] {
    match a {
        Addr::V4(x) => x,
        Addr::V6(_) => [0; 4],
    }
}

/// The whole synthesized capture.
pub fn app_packets() -> Vec<(i64, Vec<u8>)> {
    let mut f = Frames::default();
    // EtherNet/IP over UDP (over TCP it is in `synth_ics`, for the stream decoder).
    // ListIdentity over UDP and a class 1 I/O packet on UDP 2222.
    f.udp(HMI, Addr::V4([192, 0, 2, 255]), 50200, 44818, &enip(0x63, 0, 0, 0x4444, &[]));
    let mut io_addr = 0x1122_3344u32.to_le_bytes().to_vec();
    io_addr.extend_from_slice(&7u32.to_le_bytes());
    f.udp(PLC, HMI, 2222, 2222, &cpf(&[(0x8002, &io_addr), (0xb1, &[7, 0, 1, 0, 0, 0, 0x55, 0xaa])]));
    // Diameter: CER/CEA over TCP, DWR/DWA and CCR/CCA in one segment, and a CER over SCTP.
    let host = |h: &str| avp(264, 0x40, None, h.as_bytes());
    let realm = |r: &str| avp(296, 0x40, None, r.as_bytes());
    let u32v = |code: u32, v: u32| avp(code, 0x40, None, &v.to_be_bytes());
    let cer = diameter(
        0x80,
        257,
        0,
        0x1000,
        0x2000,
        &[
            host("client.example.com"),
            realm("example.com"),
            avp(257, 0x40, None, &[0, 1, 192, 0, 2, 10]),
            avp(257, 0x40, None, &[0, 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]),
            u32v(266, 10415),
            avp(269, 0, None, b"netcap-synth"),
            u32v(278, 1_700_000_000),
            u32v(265, 10415),
            u32v(258, 4),
            avp(260, 0x40, None, &[u32v(266, 10415), u32v(258, 16_777_238)].concat()),
            u32v(267, 1),
        ],
    );
    f.tcp(HMI, PLC, 51000, 3868, &cer);
    let cea = diameter(
        0,
        257,
        0,
        0x1000,
        0x2000,
        &[u32v(268, 2001), host("server.example.com"), realm("example.com"), avp(281, 0, None, b"all fine")],
    );
    f.tcp(PLC, HMI, 3868, 51000, &cea);
    let mut two = diameter(0x80, 280, 0, 0x1001, 0x2001, &[host("client.example.com"), realm("example.com")]);
    let ccr = diameter(
        0xc0,
        272,
        4,
        0x1002,
        0x2002,
        &[
            avp(263, 0x40, None, b"client.example.com;1;2"),
            host("client.example.com"),
            realm("example.com"),
            avp(283, 0x40, None, b"example.net"),
            u32v(258, 4),
            avp(461, 0x40, None, b"32251@3gpp.org"),
            u32v(416, 1),
            u32v(415, 0),
            avp(55, 0x40, None, &(1_700_000_000u32.wrapping_add(2_208_988_800)).to_be_bytes()),
            avp(287, 0x40, None, &0x0102_0304_0506_0708u64.to_be_bytes()),
            avp(1, 0x40, None, b"alice"),
            avp(33, 0x40, None, &[0xde, 0xad, 0xbe, 0xef, 1]),
            avp(1, 0x80, Some(99999), &[1, 2, 3]),
            avp(284, 0x40, None, &[avp(280, 0x40, None, b"proxy.example.com"), avp(33, 0x40, None, &[7; 6])].concat()),
            avp(279, 0x40, None, &[u32v(416, 3)].concat()),
        ],
    );
    two.extend_from_slice(&ccr);
    f.tcp(HMI, PLC, 51000, 3868, &two);
    f.tcp(
        PLC,
        HMI,
        3868,
        51000,
        &diameter(0x20, 272, 4, 0x1002, 0x2002, &[u32v(268, 5012), avp(281, 0, None, b"bad")]),
    );
    let dwr = diameter(0x80, 280, 0, 0x1003, 0x2003, &[host("peer.example.com"), realm("example.com"), u32v(278, 7)]);
    f.sctp(v4(HMI), v4(PLC), 3868, 3868, &sctp_data(1, 0x03, &dwr));
    let dwa = diameter(0, 280, 0, 0x1003, 0x2003, &[u32v(268, 2001), host("peer2.example.com"), realm("example.com")]);
    let mut chunks = sctp_data(7, 0x03, &dwa);
    chunks.extend_from_slice(&sctp_data(8, 0x03, &dwr));
    f.sctp(v4(PLC), v4(HMI), 3868, 3868, &chunks);

    // LCM: short messages and a message in three fragments.
    for (i, ch) in ["POSE", "CAMERA_LEFT", "IMU", "status/robot-1"].iter().enumerate() {
        let payload: Vec<u8> = (0..(i * 7 + 3) as u8).collect();
        f.udp(HMI, Addr::V4([239, 255, 76, 67]), 40000 + i as u16, 7667, &lcm_short(100 + i as u32, ch, &payload));
    }
    let big = 3000u32;
    f.udp(PLC, Addr::V4([239, 255, 76, 67]), 40100, 7667, &lcm_fragment(7, big, 0, 0, 3, "LIDAR", &[1; 1000]));
    f.udp(PLC, Addr::V4([239, 255, 76, 67]), 40100, 7667, &lcm_fragment(7, big, 1000, 1, 3, "", &[2; 1000]));
    f.udp(PLC, Addr::V4([239, 255, 76, 67]), 40100, 7667, &lcm_fragment(7, big, 2000, 2, 3, "", &[3; 1000]));

    // SIP over TCP: a request, then two responses in one segment; and a request over IPv6 UDP.
    let invite = "INVITE sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK-1\r\n\
        Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.net>\r\n\
        Call-ID: 3848276298220188511@192.0.2.10\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.10>\r\n\
        User-Agent: synth/1.0\r\nContent-Type: application/sdp\r\nContent-Length: 10\r\n\r\nv=0\r\ns=-\r\n";
    f.tcp(HMI, PLC, 50600, 5060, invite.as_bytes());
    let ring = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK-1\r\n\
        From: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.net>;tag=b2\r\n\
        Call-ID: 3848276298220188511@192.0.2.10\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK-1\r\n\
        f: \"Alice\" <sip:alice@example.com>;tag=a1\r\nt: <sip:bob@example.net>;tag=b2\r\n\
        i: 3848276298220188511@192.0.2.10\r\nCSeq: 1 INVITE\r\nServer: synth-server\r\nl: 0\r\n\r\n";
    f.tcp(PLC, HMI, 5060, 50600, format!("{ring}{ok}").as_bytes());
    let options = "OPTIONS sip:carol@[2001:db8::b] SIP/2.0\r\nVia: SIP/2.0/UDP [2001:db8::a];branch=z9hG4bK-2\r\n\
        From: <sip:alice@example.com>;tag=x\r\nTo: <sip:carol@example.com>\r\nCall-ID: opt-1\r\nCSeq: 7 OPTIONS\r\n\
        User-Agent: synth/1.0 (test)\r\nContent-Length: 0\r\n\r\n";
    f.udp(PEER6_A, PEER6_B, 5060, 5060, options.as_bytes());
    // Tunnelled: SIP and LCM inside GRE (tunnel depth 1, the inner addresses).
    let (outer_a, outer_b) = ([198, 51, 100, 1], [198, 51, 100, 2]);
    let inner = (Addr::V4([10, 0, 0, 1]), Addr::V4([10, 0, 0, 2]), 5060, 5060);
    f.udp_in_gre(outer_a, outer_b, inner, options.replace("opt-1", "opt-gre").as_bytes());
    let inner = (Addr::V4([10, 0, 0, 1]), Addr::V4([239, 255, 76, 67]), 40500, 7667);
    f.udp_in_gre(outer_a, outer_b, inner, &lcm_short(999, "TUNNEL", b"x"));
    f.packets
}
