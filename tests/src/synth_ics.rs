//! Synthesized industrial control conversations for the `ics` stream decoder, built from the
//! specifications: S7comm over TPKT/COTP (RFC 1006, ISO 8073, the S7comm layout Wireshark
//! documents), IEC 60870-5-104, DNP3 (IEEE 1815, with its CRCs), OPC UA binary (Part 6,
//! security policy None), Modbus/TCP and EtherNet/IP with CIP. Each conversation has one
//! message split over three TCP segments and a segment holding several messages.

use crate::synth_app::{cip_request, cip_response, cpf, enip, modbus, send_data};
use crate::synth_stream::Conv;

/// TPKT + COTP DT (EOT) around an S7 PDU.
pub fn tpkt_dt(pdu: &[u8]) -> Vec<u8> {
    let mut v = vec![3, 0];
    v.extend(((7 + pdu.len()) as u16).to_be_bytes());
    v.extend([2, 0xf0, 0x80]);
    v.extend(pdu);
    v
}

/// An S7comm PDU: header (ROSCTR, PDU reference; error class/code for ack and ack-data),
/// parameter, data.
pub fn s7_pdu(rosctr: u8, pdu_ref: u16, err: (u8, u8), param: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x32, rosctr, 0, 0];
    v.extend(pdu_ref.to_be_bytes());
    v.extend((param.len() as u16).to_be_bytes());
    v.extend((data.len() as u16).to_be_bytes());
    if rosctr == 2 || rosctr == 3 {
        v.extend([err.0, err.1]);
    }
    v.extend(param);
    v.extend(data);
    v
}

/// An S7ANY item: transport size, count, DB, area, byte and bit address.
fn s7_item(size: u8, count: u16, db: u16, area: u8, byte: u32, bit: u32) -> Vec<u8> {
    let mut v = vec![0x12, 0x0a, 0x10, size];
    v.extend(count.to_be_bytes());
    v.extend(db.to_be_bytes());
    v.push(area);
    v.extend(&((byte << 3) | bit).to_be_bytes()[1..]);
    v
}

/// A COTP connection request (client) or confirm, with TSAPs and the TPDU size code 0x0a.
fn cotp_connect(confirm: bool) -> Vec<u8> {
    let code = if confirm { 0xd0 } else { 0xe0 };
    let (dst, src) = if confirm { (0x0001u16, 0x4431u16) } else { (0, 0x0001) };
    let mut c = vec![code];
    c.extend(dst.to_be_bytes());
    c.extend(src.to_be_bytes());
    c.extend([0x00, 0xc1, 2, 0x01, 0x00, 0xc2, 2, 0x01, 0x02, 0xc0, 1, 0x0a]);
    let mut v = vec![3, 0];
    v.extend(((5 + c.len()) as u16).to_be_bytes());
    v.push(c.len() as u8);
    v.extend(c);
    v
}

/// S7comm on port 102: connect, setup communication, read and write variables (the read job
/// split over three segments), a userdata request, an ack with an error, two PDUs in one
/// segment, and a read job over two COTP data TPDUs.
pub fn s7_conversation(t0: i64) -> Conv {
    let mut c = Conv::new(10, 49152, 102, 0x2000_0000, 0x6000_0000, t0);
    c.handshake();
    c.send(true, &cotp_connect(false));
    c.send(false, &cotp_connect(true));
    c.send(true, &tpkt_dt(&s7_pdu(1, 1, (0, 0), &[0xf0, 0, 0, 1, 0, 1, 3, 0xc0], &[])));
    c.send(false, &tpkt_dt(&s7_pdu(3, 1, (0, 0), &[0xf0, 0, 0, 1, 0, 1, 0, 0xf0], &[])));
    // Read var: DB 5 bytes 2..10, flags M 16.0 (1 REAL), a timer.
    let mut p = vec![0x04, 3];
    p.extend(s7_item(2, 8, 5, 0x84, 2, 0));
    p.extend(s7_item(8, 1, 0, 0x83, 16, 0));
    p.extend(s7_item(29, 1, 0, 0x1d, 0, 3));
    let read = tpkt_dt(&s7_pdu(1, 0x0102, (0, 0), &p, &[]));
    c.segment(true, &read[..5]);
    c.segment(true, &read[5..21]);
    c.send(true, &read[21..]);
    // Ack-data: 8 bytes, a 3-byte REAL-sized odd item with a fill byte, an error item.
    let mut d = vec![0xff, 4, 0, 64];
    d.extend([1, 2, 3, 4, 5, 6, 7, 8]);
    d.extend([0xff, 9, 0, 3, 0xaa, 0xbb, 0xcc, 0]);
    d.extend([0x0a, 0, 0, 4]);
    c.send(false, &tpkt_dt(&s7_pdu(3, 0x0102, (0, 0), &[0x04, 3], &d)));
    // Write var of one bit (I 1.5), its ack-data; then an ack with an error class, both in one
    // segment with a userdata request (read SZL).
    let mut p = vec![0x05, 1];
    p.extend(s7_item(1, 1, 0, 0x81, 1, 5));
    c.send(true, &tpkt_dt(&s7_pdu(1, 0x0103, (0, 0), &p, &[0x00, 3, 0, 1, 1])));
    let two =
        [tpkt_dt(&s7_pdu(3, 0x0103, (0, 0), &[0x05, 1], &[0xff])), tpkt_dt(&s7_pdu(2, 0x0104, (0x85, 0x00), &[], &[]))]
            .concat();
    c.send(false, &two);
    // PLC control (PI service _INSE with a parameter block) and PLC stop (P_PROGRAM).
    let mut pi = vec![0x28, 0, 0, 0, 0, 0, 0, 0xfd, 0, 2, 0x41, 0x42, 5];
    pi.extend(b"_INSE");
    c.send(true, &tpkt_dt(&s7_pdu(1, 0x0106, (0, 0), &pi, &[])));
    c.send(false, &tpkt_dt(&s7_pdu(3, 0x0106, (0, 0), &[0x28], &[])));
    let mut stop = vec![0x29, 0, 0, 0, 0, 0, 9];
    stop.extend(b"P_PROGRAM");
    c.send(true, &tpkt_dt(&s7_pdu(1, 0x0107, (0, 0), &stop, &[])));
    let ud_param = [0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00];
    c.send(true, &tpkt_dt(&s7_pdu(7, 0x0105, (0, 0), &ud_param, &[0xff, 0x09, 0x00, 0x04, 0x00, 0x11, 0x00, 0x00])));
    // A read job over two COTP DT TPDUs (the first without EOT), in two TCP segments.
    let mut p = vec![0x04, 1];
    p.extend(s7_item(2, 4, 7, 0x84, 8, 0));
    let pdu = s7_pdu(1, 0x0108, (0, 0), &p, &[]);
    let first = tpkt_dt(&pdu[..6]);
    let mut first_no_eot = first.clone();
    first_no_eot[6] = 0x00;
    c.send(true, &first_no_eot);
    let mut last = tpkt_dt(&pdu[6..]);
    last[6] = 0x81;
    c.send(true, &last);
    c.close();
    c
}

/// An IEC 104 APDU: start, length, control octets, ASDU.
fn apdu(ctrl: [u8; 4], asdu: &[u8]) -> Vec<u8> {
    let mut v = vec![0x68, (4 + asdu.len()) as u8];
    v.extend(ctrl);
    v.extend(asdu);
    v
}

/// I-format control octets for send and receive sequence numbers.
fn i_ctrl(send: u16, recv: u16) -> [u8; 4] {
    let (s, r) = ((send << 1).to_le_bytes(), (recv << 1).to_le_bytes());
    [s[0], s[1], r[0], r[1]]
}

/// An ASDU header: type, VSQ, cause (with P/N and test bits), originator, common address.
fn asdu_header(type_id: u8, vsq: u8, cot: u8, oa: u8, ca: u16) -> Vec<u8> {
    let mut v = vec![type_id, vsq, cot, oa];
    v.extend(ca.to_le_bytes());
    v
}

/// IEC 60870-5-104 on port 2404: STARTDT, a general interrogation and its confirmation,
/// measured values (short floats with time, SQ = 0, split over three segments), single points
/// in a sequence (SQ = 1), a negative confirmation, an S frame, TESTFR; U frames two in one
/// segment.
pub fn iec104_conversation(t0: i64) -> Conv {
    let mut c = Conv::new(11, 49153, 2404, 0x3000_0000, 0x7000_0000, t0);
    c.handshake();
    c.send(true, &apdu([0x07, 0, 0, 0], &[]));
    c.send(false, &apdu([0x0b, 0, 0, 0], &[]));
    let mut gi = asdu_header(100, 1, 6, 0, 1);
    gi.extend([0, 0, 0, 20]);
    c.send(true, &apdu(i_ctrl(0, 0), &gi));
    let mut con = asdu_header(100, 1, 7, 0, 1);
    con.extend([0, 0, 0, 20]);
    c.send(false, &apdu(i_ctrl(0, 1), &con));
    // M_ME_TF_1 (36): two objects, each IOA + float + QDS + CP56Time2a.
    let mut me = asdu_header(36, 2, 3, 0, 1);
    for ioa in [1001u32, 70000] {
        me.extend(&ioa.to_le_bytes()[..3]);
        me.extend(1.5f32.to_le_bytes());
        me.push(0);
        me.extend([0x10, 0x27, 30, 12, 7, 12, 26]);
    }
    let m = apdu(i_ctrl(1, 1), &me);
    c.segment(false, &m[..3]);
    c.segment(false, &m[3..12]);
    c.send(false, &m[12..]);
    // M_SP_NA_1 (1), SQ: 4 single points from IOA 200.
    let mut sp = asdu_header(1, 0x84, 20, 0, 1);
    sp.extend([200, 0, 0, 1, 0, 1, 0]);
    c.send(false, &apdu(i_ctrl(2, 1), &sp));
    // C_SC_NA_1 (45) activation and its negative confirmation with the test bit.
    let mut sc = asdu_header(45, 1, 6, 3, 1);
    sc.extend([0x10, 0x27, 0, 1]);
    c.send(true, &apdu(i_ctrl(1, 3), &sc));
    let mut neg = asdu_header(45, 1, 0xc7, 3, 1);
    neg.extend([0x10, 0x27, 0, 1]);
    c.send(false, &apdu(i_ctrl(3, 2), &neg));
    c.send(true, &apdu([0x01, 0, 8, 0], &[]));
    let two = [apdu([0x43, 0, 0, 0], &[]), apdu([0x13, 0, 0, 0], &[])].concat();
    c.send(true, &two);
    c.send(false, &apdu([0x83, 0, 0, 0], &[]));
    c.close();
    c
}

/// CRC-16/DNP (IEEE 1815 9.2.1.4: polynomial 0x3D65, reflected, complemented), low octet first.
pub fn dnp3_crc(data: &[u8]) -> [u8; 2] {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xa6bc } else { crc >> 1 };
        }
    }
    (!crc).to_le_bytes()
}

/// A DNP3 link frame with CRCs around `user` data.
pub fn dnp3_frame(ctrl: u8, dst: u16, src: u16, user: &[u8]) -> Vec<u8> {
    let mut h = vec![0x05, 0x64, (5 + user.len()) as u8, ctrl];
    h.extend(dst.to_le_bytes());
    h.extend(src.to_le_bytes());
    let mut v = h.clone();
    v.extend(dnp3_crc(&h));
    for b in user.chunks(16) {
        v.extend(b);
        v.extend(dnp3_crc(b));
    }
    v
}

/// DNP3 on port 20000: a read of the classes, a response with analog inputs and binary inputs
/// over two transport segments (two link frames in one TCP segment), a select of a control
/// relay output block split over three TCP segments, its echo, and a link status request.
pub fn dnp3_conversation(t0: i64) -> Conv {
    let mut c = Conv::new(12, 49154, 20000, 0x4000_0000, 0x7800_0000, t0);
    c.handshake();
    let read = [0xc0, 0xc1, 0x01, 60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06];
    c.send(true, &dnp3_frame(0xc4, 10, 1, &read));
    // Response: g30v2 (flag + 16 bits) points 0..=9, g1v2 (flags) 0..=3, IIN 0x8100 (device
    // restart + all stations); 61 octets in two segments.
    let mut app = vec![0xc1, 0x81, 0x81, 0x00, 30, 2, 0x00, 0, 9];
    for i in 0..10u8 {
        app.extend([0x01, i, 0]);
    }
    app.extend([1, 2, 0x00, 0, 3, 0x01, 0x81, 0x01, 0x81]);
    let (a, b) = app.split_at(25);
    let seg1 = [&[0x40 | 10][..], a].concat();
    let seg2 = [&[0x80 | 11][..], b].concat();
    c.send(false, &[dnp3_frame(0x44, 1, 10, &seg1), dnp3_frame(0x44, 1, 10, &seg2)].concat());
    // Select g12v1 CROB, 2-octet index prefix, 16-bit quantity 1: index 3, latch on, on/off 100.
    let mut sel = vec![0xc2, 0xc2, 0x03, 12, 1, 0x28, 1, 0, 3, 0, 0x03, 1];
    sel.extend(100u32.to_le_bytes());
    sel.extend(100u32.to_le_bytes());
    sel.push(0);
    let f = dnp3_frame(0xc4, 10, 1, &sel);
    c.segment(true, &f[..2]);
    c.segment(true, &f[2..15]);
    c.send(true, &f[15..]);
    let mut echo = vec![0xc3, 0xc2, 0x81, 0x00, 0x00];
    echo.extend(&sel[3..]);
    c.send(false, &dnp3_frame(0x44, 1, 10, &echo));
    c.send(true, &dnp3_frame(0xc9, 10, 1, &[]));
    c.send(false, &dnp3_frame(0x0b, 1, 10, &[]));
    c.close();
    c
}

/// DNP3 over UDP port 20000 (one datagram each): a read request, its response in two link
/// frames of one datagram (two transport segments of one fragment), a select with a CROB and
/// its echo, link status request and response, and a segment that continues a fragment of an
/// earlier datagram (not reassembled across datagrams).
pub fn dnp3_udp_packets() -> Vec<(i64, Vec<u8>)> {
    use crate::synth_app::{Addr, Frames};
    let (m, o) = (Addr::V4([192, 0, 2, 16]), Addr::V4([198, 51, 100, 16]));
    let mut f = Frames::default();
    let read = [0xc0, 0xc1, 0x01, 60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06];
    f.udp(m, o, 20000, 20000, &dnp3_frame(0xc4, 10, 1, &read));
    let mut app = vec![0xc1, 0x81, 0x81, 0x00, 30, 2, 0x00, 0, 9];
    for i in 0..10u8 {
        app.extend([0x01, i, 0]);
    }
    app.extend([1, 2, 0x00, 0, 3, 0x01, 0x81, 0x01, 0x81]);
    let (a, b) = app.split_at(25);
    let seg1 = [&[0x40 | 10][..], a].concat();
    let seg2 = [&[0x80 | 11][..], b].concat();
    f.udp(o, m, 20000, 20000, &[dnp3_frame(0x44, 1, 10, &seg1), dnp3_frame(0x44, 1, 10, &seg2)].concat());
    let mut sel = vec![0xc2, 0xc2, 0x03, 12, 1, 0x28, 1, 0, 3, 0, 0x03, 1];
    sel.extend(100u32.to_le_bytes());
    sel.extend(100u32.to_le_bytes());
    sel.push(0);
    f.udp(m, o, 50001, 20000, &dnp3_frame(0xc4, 10, 1, &sel));
    let mut echo = vec![0xc3, 0xc2, 0x81, 0x00, 0x00];
    echo.extend(&sel[3..]);
    f.udp(o, m, 20000, 50001, &dnp3_frame(0x44, 1, 10, &echo));
    f.udp(m, o, 50001, 20000, &dnp3_frame(0xc9, 10, 1, &[]));
    f.udp(o, m, 20000, 50001, &dnp3_frame(0x0b, 1, 10, &[]));
    f.packets
}

/// An OPC UA chunk (final) of type `ty` around `body`.
fn ua_chunk(ty: &[u8; 3], body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_vec();
    v.push(b'F');
    v.extend(((8 + body.len()) as u32).to_le_bytes());
    v.extend(body);
    v
}

/// An OPC UA String.
fn ua_string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_le_bytes().to_vec();
    v.extend(s.as_bytes());
    v
}

const UA_NULL: [u8; 4] = [0xff; 4];

/// A request header (OPC UA Part 4 7.28): null authentication token, timestamp, handle,
/// no diagnostics, null audit id, timeout hint, no additional header.
fn ua_request_header(handle: u32) -> Vec<u8> {
    let mut v = vec![0x00, 0x00];
    v.extend(0x01da_0000_0000_0000u64.to_le_bytes());
    v.extend(handle.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(UA_NULL);
    v.extend(10_000u32.to_le_bytes());
    v.extend([0x00, 0x00, 0x00]);
    v
}

/// A response header (Part 4 7.29): timestamp, handle, Good, no diagnostics, no string
/// table, no additional header.
fn ua_response_header(handle: u32) -> Vec<u8> {
    let mut v = 0x01da_0000_0000_0000u64.to_le_bytes().to_vec();
    v.extend(handle.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.push(0x00);
    v.extend(UA_NULL);
    v.extend([0x00, 0x00, 0x00]);
    v
}

/// A symmetric chunk body: channel 5, token 1, sequence header, the service's four-byte node
/// id, then `rest`.
fn ua_msg(seq: u32, request: u32, service: u16, rest: &[u8]) -> Vec<u8> {
    let mut v = 5u32.to_le_bytes().to_vec();
    v.extend(1u32.to_le_bytes());
    v.extend(seq.to_le_bytes());
    v.extend(request.to_le_bytes());
    v.extend([0x01, 0x00]);
    v.extend(service.to_le_bytes());
    v.extend(rest);
    v
}

/// A ReadRequest of one node's Value attribute.
fn ua_read_request(handle: u32) -> Vec<u8> {
    let mut v = ua_request_header(handle);
    v.extend(0f64.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    v.extend([0x01, 0x00, 0xd5, 0x08]);
    v.extend(13u32.to_le_bytes());
    v.extend(UA_NULL);
    v.extend([0, 0]);
    v.extend(UA_NULL);
    v
}

/// OPC UA binary on port 4840 with security policy None: Hello (split over three segments),
/// Acknowledge, OpenSecureChannel request and response, a Read exchange, then a second
/// ReadRequest and the CloseSecureChannel in one segment.
pub fn opcua_conversation(t0: i64) -> Conv {
    let mut c = Conv::new(13, 49155, 4840, 0x5000_0000, 0x7c00_0000, t0);
    c.handshake();
    let mut hel = Vec::new();
    for x in [0u32, 65536, 65536, 0, 0] {
        hel.extend(x.to_le_bytes());
    }
    hel.extend(ua_string("opc.tcp://198.51.100.13:4840"));
    let hel = ua_chunk(b"HEL", &hel);
    c.segment(true, &hel[..6]);
    c.segment(true, &hel[6..20]);
    c.send(true, &hel[20..]);
    let mut ack = Vec::new();
    for x in [0u32, 65536, 65536, 16_777_216, 5000] {
        ack.extend(x.to_le_bytes());
    }
    c.send(false, &ua_chunk(b"ACK", &ack));
    let policy = ua_string("http://opcfoundation.org/UA/SecurityPolicy#None");
    let mut opn = 0u32.to_le_bytes().to_vec();
    opn.extend(&policy);
    opn.extend(UA_NULL);
    opn.extend(UA_NULL);
    opn.extend(51u32.to_le_bytes());
    opn.extend(1u32.to_le_bytes());
    opn.extend([0x01, 0x00, 0xbe, 0x01]);
    opn.extend(ua_request_header(1));
    opn.extend([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    opn.extend(UA_NULL);
    opn.extend(600_000u32.to_le_bytes());
    c.send(true, &ua_chunk(b"OPN", &opn));
    let mut res = 5u32.to_le_bytes().to_vec();
    res.extend(&policy);
    res.extend(UA_NULL);
    res.extend(UA_NULL);
    res.extend(1u32.to_le_bytes());
    res.extend(1u32.to_le_bytes());
    res.extend([0x01, 0x00, 0xc1, 0x01]);
    res.extend(ua_response_header(1));
    res.extend(0u32.to_le_bytes());
    res.extend(5u32.to_le_bytes());
    res.extend(1u32.to_le_bytes());
    res.extend(0x01da_0000_0000_0000u64.to_le_bytes());
    res.extend(600_000u32.to_le_bytes());
    res.extend(UA_NULL);
    c.send(false, &ua_chunk(b"OPN", &res));
    c.send(true, &ua_chunk(b"MSG", &ua_msg(52, 2, 631, &ua_read_request(2))));
    let mut read_res = ua_response_header(2);
    read_res.extend(1u32.to_le_bytes());
    read_res.extend([0x01, 0x06]);
    read_res.extend(42i32.to_le_bytes());
    read_res.extend(UA_NULL);
    c.send(false, &ua_chunk(b"MSG", &ua_msg(2, 2, 634, &read_res)));
    let two = [
        ua_chunk(b"MSG", &ua_msg(53, 3, 631, &ua_read_request(3))),
        ua_chunk(b"CLO", &ua_msg(54, 4, 452, &ua_request_header(4))),
    ]
    .concat();
    c.send(true, &two);
    c.close();
    c
}

/// Modbus/TCP on port 502: requests and responses of the common function codes, exception
/// responses, a request split over three segments, two requests in one segment answered by two
/// responses in one segment, and a response whose request is not in the capture.
pub fn modbus_conversation(t0: i64) -> Conv {
    let mut c = Conv::new(14, 49200, 502, 0x3100_0000, 0x3200_0000, t0);
    c.handshake();
    let reqs: [&[u8]; 8] = [
        &[1, 0, 0x13, 0, 0x25],
        &[2, 0, 0xc4, 0, 0x16],
        &[3, 0, 0x6b, 0, 3],
        &[4, 0, 8, 0, 1],
        &[5, 0, 0xac, 0xff, 0],
        &[6, 0, 1, 0, 3],
        &[15, 0, 0x13, 0, 0x0a, 2, 0xcd, 1],
        &[16, 0, 1, 0, 2, 4, 0, 0x0a, 1, 2],
    ];
    let resps: [&[u8]; 8] = [
        &[1, 5, 0xcd, 0x6b, 0xb2, 0x0e, 0x1b],
        &[2, 3, 0xac, 0xdb, 0x35],
        &[3, 6, 2, 0x2b, 0, 0, 0, 0x64],
        &[4, 2, 0, 0x0a],
        &[5, 0, 0xac, 0xff, 0],
        &[6, 0, 1, 0, 3],
        &[15, 0, 0x13, 0, 0x0a],
        &[16, 0, 1, 0, 2],
    ];
    for (i, (q, r)) in reqs.iter().zip(resps.iter()).enumerate() {
        let tid = 0x100 + i as u16;
        if i == 6 {
            // Write multiple coils, split over three segments. (The first holds 8 bytes:
            // Wireshark's Modbus/TCP dissector does not take a shorter segment for Modbus.)
            let adu = modbus(tid, 1 + i as u8, q);
            c.segment(true, &adu[..8]);
            c.segment(true, &adu[8..12]);
            c.send(true, &adu[12..]);
        } else {
            c.send(true, &modbus(tid, 1 + i as u8, q));
        }
        c.send(false, &modbus(tid, 1 + i as u8, r));
    }
    c.send(true, &modbus(0x200, 9, &[3, 0xff, 0xf0, 0, 1]));
    c.send(false, &modbus(0x200, 9, &[0x83, 2]));
    c.send(true, &modbus(0x201, 9, &[0x2b, 0x0e, 1, 0]));
    c.send(false, &modbus(0x201, 9, &[0xab, 1]));
    c.send(true, &[modbus(0x202, 3, &[3, 0, 0, 0, 2]), modbus(0x203, 3, &[4, 0, 0, 0, 2])].concat());
    c.send(false, &[modbus(0x202, 3, &[3, 4, 0, 1, 0, 2]), modbus(0x203, 3, &[4, 4, 0, 3, 0, 4])].concat());
    c.send(false, &modbus(0x300, 1, &[3, 2, 0, 7]));
    c.close();
    c
}

/// A CIP request: service, class, instance, attribute, data.
type CipRequest = (u8, u16, u16, Option<u8>, &'static [u8]);

/// EtherNet/IP on port 44818: RegisterSession, ListIdentity, unconnected CIP requests and
/// responses (SendRRData; one request split over three segments), a Forward Open and connected
/// SendUnitData both ways (two in one segment), UnRegisterSession and an error reply.
pub fn enip_conversation(t0: i64) -> Conv {
    let mut f = Conv::new(15, 50100, 44818, 0x4100_0000, 0x4200_0000, t0);
    f.handshake();
    let s = 0x0102_0304;
    f.send(true, &enip(0x65, 0, 0, 0x1111, &[1, 0, 0, 0]));
    f.send(false, &enip(0x65, s, 0, 0x1111, &[1, 0, 0, 0]));
    f.send(true, &enip(0x63, 0, 0, 0x2222, &[]));
    let mut ident = vec![1, 0, 0x02, 0, 0xaf, 0x12, 192, 0, 2, 50, 0, 0, 0, 0, 0, 0, 0, 0];
    ident.extend_from_slice(&[1, 0, 0x0c, 0, 0x41, 0, 20, 11, 0x60, 0, 0x78, 0x56, 0x34, 0x12, 4]);
    ident.extend_from_slice(b"PLC1");
    ident.push(3);
    f.send(false, &enip(0x63, 0, 0, 0x2222, &cpf(&[(0x0c, &ident)])));
    let cips: [CipRequest; 6] = [
        (0x0e, 1, 1, Some(7), &[]),
        (0x01, 1, 1, None, &[]),
        (0x0e, 0xf5, 1, Some(5), &[]),
        (0x10, 0x300, 2, Some(3), &[0x11, 0x22]),
        (0x4c, 0x6b, 0x1234, None, &[1, 0]),
        (0x0e, 4, 100, Some(3), &[]),
    ];
    let statuses: [(u8, &[u16], &[u8]); 6] = [
        (0, &[], b"\x0a\x00PLC1"),
        (0, &[], &[1, 0, 0x0c, 0]),
        (0x05, &[], &[]),
        (0x0c, &[0x1234], &[]),
        (0x1f, &[1, 2], &[]),
        (0, &[], &[9; 12]),
    ];
    for (k, ((svc, class, inst, attr, data), (st, addl, rdata))) in cips.iter().zip(statuses.iter()).enumerate() {
        let req = enip(
            0x6f,
            s,
            0,
            0x3000 + k as u64,
            &send_data(10, &[(0, &[]), (0xb2, &cip_request(*svc, *class, *inst, *attr, data))]),
        );
        if k == 3 {
            f.segment(true, &req[..3]);
            f.segment(true, &req[3..30]);
            f.send(true, &req[30..]);
        } else {
            f.send(true, &req);
        }
        let resp = cip_response(*svc, *st, addl, rdata);
        f.send(false, &enip(0x6f, s, 0, 0x3000 + k as u64, &send_data(0, &[(0, &[]), (0xb2, &resp)])));
    }
    // A class 3 connection: Forward Open to the connection manager, then SendUnitData with
    // connected address and data items (sequence count and CIP message) both ways.
    let (ot, to) = (0x2222_0002u32, 0x1111_0001u32);
    let mut fo = vec![0x0a, 0x0e];
    fo.extend_from_slice(&0u32.to_le_bytes());
    fo.extend_from_slice(&to.to_le_bytes());
    fo.extend_from_slice(&[0x34, 0x12, 0x4d, 0x00, 0x78, 0x56, 0x34, 0x12, 1, 0, 0, 0]);
    fo.extend_from_slice(&[0x40, 0x42, 0x0f, 0x00, 0xf4, 0x43, 0x40, 0x42, 0x0f, 0x00, 0xf4, 0x43, 0xa3, 3]);
    fo.extend_from_slice(&[0x01, 0x00, 0x20, 0x02, 0x24, 0x01]);
    let req = cip_request(0x54, 6, 1, None, &fo);
    f.send(true, &enip(0x6f, s, 0, 0x7777, &send_data(10, &[(0, &[]), (0xb2, &req)])));
    let mut fo_rsp = ot.to_le_bytes().to_vec();
    fo_rsp.extend_from_slice(&to.to_le_bytes());
    fo_rsp.extend_from_slice(&[0x34, 0x12, 0x4d, 0x00, 0x78, 0x56, 0x34, 0x12]);
    fo_rsp.extend_from_slice(&[0x40, 0x42, 0x0f, 0x00, 0x40, 0x42, 0x0f, 0x00, 0, 0]);
    let rsp = cip_response(0x54, 0, &[], &fo_rsp);
    f.send(false, &enip(0x6f, s, 0, 0x7777, &send_data(0, &[(0, &[]), (0xb2, &rsp)])));
    let unit = |k: u16, conn: u32, msg: &[u8]| {
        let mut data = (k + 1).to_le_bytes().to_vec();
        data.extend_from_slice(msg);
        enip(0x70, s, 0, 0, &send_data(0, &[(0xa1, &conn.to_le_bytes()), (0xb1, &data)]))
    };
    f.send(true, &unit(0, ot, &cip_request(0x0e, 1, 1, Some(1), &[])));
    f.send(false, &unit(0, to, &cip_response(0x0e, 0, &[], &[1, 0])));
    f.send(
        true,
        &[unit(1, ot, &cip_request(0x0e, 1, 1, Some(2), &[])), unit(2, ot, &cip_request(0x0e, 1, 1, Some(3), &[]))]
            .concat(),
    );
    f.send(
        false,
        &[unit(1, to, &cip_response(0x0e, 0, &[], &[1, 0])), unit(2, to, &cip_response(0x0e, 0, &[], &[2, 0]))]
            .concat(),
    );
    // An unregister and a NOP with a non-zero status.
    f.send(true, &enip(0x66, s, 0, 0x5555, &[]));
    f.send(false, &enip(0x6f, s, 0x64, 0x6666, &[]));
    f.close();
    f
}

/// The six conversations, one after the other.
pub fn ics_packets() -> Vec<(i64, Vec<u8>)> {
    let t0 = 1_700_000_000_000_000_000;
    let s7 = s7_conversation(t0);
    let iec = iec104_conversation(t0 + 1_000_000_000);
    let dnp = dnp3_conversation(t0 + 2_000_000_000);
    let ua = opcua_conversation(t0 + 3_000_000_000);
    let mb = modbus_conversation(t0 + 4_000_000_000);
    let en = enip_conversation(t0 + 5_000_000_000);
    crate::synth_stream::merge(&[&s7, &iec, &dnp, &ua, &mb, &en])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnp3_crc_matches_captured_frames() {
        // Link headers and their CRC octets from suricata-verify's dnp3-select-operate capture
        // (frames 4 and 5; Wireshark reports both CRCs correct).
        assert_eq!(dnp3_crc(&[0x05, 0x64, 0x1a, 0xc4, 0x02, 0x00, 0x03, 0x00]), [0x40, 0xf2]);
        assert_eq!(dnp3_crc(&[0x05, 0x64, 0x1c, 0x44, 0x03, 0x00, 0x02, 0x00]), [0x4b, 0x91]);
    }
}
