//! The decoder driven as the host drives it (stream events): one record per message whatever
//! the segmentation (every split point), several messages per segment, gaps and cut messages
//! (partial record plus a counted error), connections that are not the port's protocol.

use super::*;
use netcap_proto::v1;
use netcap_sdk::{CloseReason, Config, Emitter, EventMeta, StreamEvent, StreamInfo, TAG_ERROR, entries};

fn info(port: u16) -> StreamInfo {
    let mut i = StreamInfo { id: 1, ip_version: 4, client_port: 40000, server_port: port, ..Default::default() };
    i.client_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    i.server_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
    i
}

enum Step<'a> {
    D(Dir, &'a [u8]),
    Gap(Dir),
}

/// Records (type, seq, bytes), error kinds and the verdicts of a run; data step k is packet
/// k + 1 at time (k + 1) * 1000; the connection closes after the steps.
/// Records as (type id, packet seq, bytes).
type Records = Vec<(u16, u64, Vec<u8>)>;

fn run(port: u16, steps: &[Step<'_>]) -> (Records, Vec<String>, Vec<Verdict>) {
    let mut d = Ics::new(&Config::default());
    let mut buf = Vec::new();
    let i = info(port);
    let mut verdicts = vec![d.event(
        &EventMeta { stream: 1, seq: 0, ts_nanos: 0 },
        &StreamEvent::Open(&i),
        &mut Emitter::new(&mut buf, 0),
    )];
    for (k, s) in steps.iter().enumerate() {
        let seq = k as u64 + 1;
        let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
        let ev = match *s {
            Step::D(dir, bytes) => StreamEvent::Data { dir, bytes },
            Step::Gap(dir) => StreamEvent::Gap { dir, len: 10 },
        };
        let v = d.event(&meta, &ev, &mut Emitter::new(&mut buf, seq));
        verdicts.push(v);
        if v != Verdict::Continue {
            break;
        }
    }
    let seq = steps.len() as u64 + 1;
    let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
    let close = StreamEvent::Close { reason: CloseReason::Fin };
    verdicts.push(d.event(&meta, &close, &mut Emitter::new(&mut buf, seq)));
    d.finish(&mut Emitter::new(&mut buf, u64::MAX));
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    for e in entries(&buf) {
        let e = e.expect("well-formed output");
        if e.tag == TAG_ERROR {
            errs.push(String::from_utf8_lossy(e.bytes).into_owned());
        } else if e.tag < 0xff00 {
            recs.push((e.tag, e.seq, e.bytes.to_vec()));
        }
    }
    (recs, errs, verdicts)
}

fn decode<T: prost::Message + Default>(recs: &Records, ty: u16) -> Vec<T> {
    recs.iter().filter(|r| r.0 == ty).map(|r| T::decode(&r.2[..]).expect("record decodes")).collect()
}

/// A read-variable job of two items.
fn s7_read_job() -> Vec<u8> {
    let items = [[0x12, 0x0a, 0x10, 2, 0, 8, 0, 5, 0x84, 0, 0, 16], [0x12, 0x0a, 0x10, 1, 0, 1, 0, 0, 0x82, 0, 0, 3]];
    let mut p = vec![0x32, 1, 0, 0, 0x12, 0x34, 0, 26, 0, 0, 4, 2];
    p.extend(items.concat());
    let mut v = vec![3, 0];
    v.extend(((7 + p.len()) as u16).to_be_bytes());
    v.extend([2, 0xf0, 0x80]);
    v.extend(p);
    v
}

#[test]
fn s7_one_record_at_every_split_into_three() {
    let m = s7_read_job();
    for a in 1..m.len() {
        for b in a + 1..m.len() {
            let steps =
                [Step::D(Dir::ToServer, &m[..a]), Step::D(Dir::ToServer, &m[a..b]), Step::D(Dir::ToServer, &m[b..])];
            let (recs, errs, _) = run(PORT_S7, &steps);
            assert!(errs.is_empty(), "{a} {b}: {errs:?}");
            let r: Vec<v1::S7comm> = decode(&recs, T_S7COMM);
            assert_eq!(r.len(), 1, "{a} {b}");
            // The record belongs to the packet that completed it, timed by its first byte's.
            assert_eq!((recs[0].1, r[0].timestamp), (3, 1000));
            assert_eq!((r[0].pdu_ref, r[0].items.len(), r[0].items[1].address), (0x1234, 2, 3));
            assert_eq!((r[0].src_ip.as_str(), r[0].dst_port), ("192.0.2.1", 102));
        }
    }
}

#[test]
fn s7_two_messages_in_one_segment_then_a_cut_one() {
    let m = s7_read_job();
    let two = [m.clone(), m.clone()].concat();
    let (recs, errs, _) = run(PORT_S7, &[Step::D(Dir::ToServer, &two), Step::D(Dir::ToClient, &s7::tests_cr())]);
    assert_eq!(decode::<v1::S7comm>(&recs, T_S7COMM).len(), 3);
    assert!(errs.is_empty(), "{errs:?}");
    // A message cut by the end of the connection: a partial record and the error.
    let (recs, errs, _) = run(PORT_S7, &[Step::D(Dir::ToServer, &m[..20])]);
    let r: Vec<v1::S7comm> = decode(&recs, T_S7COMM);
    assert_eq!((r.len(), r[0].protocol.as_str(), r[0].rosctr), (1, "s7comm", 1));
    assert_eq!(errs, [s7::E_TRUNCATED]);
    // A gap inside a message: the partial record, the gap error, nothing more of that direction.
    let (recs, errs, _) =
        run(PORT_S7, &[Step::D(Dir::ToServer, &m[..20]), Step::Gap(Dir::ToServer), Step::D(Dir::ToServer, &m)]);
    assert_eq!((decode::<v1::S7comm>(&recs, T_S7COMM).len(), errs.as_slice()), (1, &[s7::E_GAP.to_string()][..]));
}

#[test]
fn not_the_ports_protocol_is_declined() {
    let (recs, errs, verdicts) = run(PORT_S7, &[Step::D(Dir::ToServer, b"GET / HTTP/1.1\r\n\r\n")]);
    assert!(recs.is_empty() && errs.is_empty());
    assert_eq!(verdicts[1], Verdict::Decline);
    let (recs, _, verdicts) = run(PORT_IEC104, &[Step::D(Dir::ToServer, &[0x16, 3, 1])]);
    assert!(recs.is_empty());
    assert_eq!(verdicts[1], Verdict::Decline);
}

#[test]
fn iec104_apdus_across_and_within_segments() {
    let startdt = [0x68, 4, 0x07, 0, 0, 0];
    let gi = [0x68, 0x0e, 0x02, 0x00, 0x04, 0x00, 100, 0x01, 0x06, 0x00, 0x01, 0x00, 0, 0, 0, 20];
    let both = [startdt.as_slice(), gi.as_slice()].concat();
    for a in 1..both.len() {
        let (recs, errs, _) =
            run(PORT_IEC104, &[Step::D(Dir::ToServer, &both[..a]), Step::D(Dir::ToServer, &both[a..])]);
        assert!(errs.is_empty(), "{errs:?}");
        let r: Vec<v1::Iec104> = decode(&recs, T_IEC104);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].format.as_str(), r[1].format.as_str(), r[1].type_id), ("U", "I", 100));
        assert_eq!(r[1].timestamp, if a <= 6 { 2000 } else { 1000 });
    }
    // Bytes that start no APDU between good ones: skipped up to the next start octet, counted.
    let (recs, errs, _) =
        run(PORT_IEC104, &[Step::D(Dir::ToServer, &[&startdt[..], &[0x69, 4, 0], &startdt[..], &[7, 7]].concat())]);
    assert_eq!(decode::<v1::Iec104>(&recs, T_IEC104).len(), 2);
    assert_eq!(errs, [iec104::E_SKIPPED, iec104::E_SKIPPED]);
    // A gap inside an APDU: its partial record and the gap error; the next start octet after
    // the gap begins the next APDU (the bytes before it are skipped, counted).
    let (recs, errs, _) = run(
        PORT_IEC104,
        &[
            Step::D(Dir::ToServer, &gi[..9]),
            Step::Gap(Dir::ToServer),
            Step::D(Dir::ToServer, &[&gi[12..], &startdt[..]].concat()),
        ],
    );
    let r: Vec<v1::Iec104> = decode(&recs, T_IEC104);
    assert_eq!((r.len(), r[0].type_id, r[1].format.as_str()), (2, 100, "U"));
    assert_eq!(errs, [iec104::E_GAP, iec104::E_SKIPPED]);
    // An APDU shorter than its control field: its record (length only) and the error.
    let (recs, errs, _) =
        run(PORT_IEC104, &[Step::D(Dir::ToServer, &[&startdt[..], &[0x68, 1, 9], &startdt[..]].concat())]);
    let r: Vec<v1::Iec104> = decode(&recs, T_IEC104);
    assert_eq!((r.len(), r[1].apdu_length, r[1].format.as_str()), (3, 1, ""));
    assert_eq!(errs, [iec104::E_SHORT]);
}

#[test]
fn dnp3_frames_and_fragments() {
    let app = [0xc0, 0x01, 60, 2, 6, 60, 3, 6];
    let mut f = vec![0x05, 0x64, (5 + 1 + app.len()) as u8, 0xc4, 10, 0, 1, 0, 0, 0, 0xc0];
    f.extend(app);
    f.extend([0, 0]);
    for a in 1..f.len() {
        let (recs, errs, _) = run(PORT_DNP3, &[Step::D(Dir::ToServer, &f[..a]), Step::D(Dir::ToServer, &f[a..])]);
        assert!(errs.is_empty(), "{errs:?}");
        let r: Vec<v1::Dnp3> = decode(&recs, T_DNP3);
        assert_eq!((r.len(), r[0].function, r[0].objects.len(), r[0].destination), (1, 1, 2, 10));
    }
}

/// Random bytes cut into random data events and gaps, on each protocol's port, after a valid
/// first message (so that the connection is not declined): never a panic, and every error is
/// one of the protocol's kinds.
#[test]
fn random_streams_never_panic() {
    let firsts: [(u16, Vec<u8>); 6] = [
        (PORT_S7, s7_read_job()),
        (PORT_IEC104, vec![0x68, 4, 0x07, 0, 0, 0]),
        (PORT_DNP3, vec![0x05, 0x64, 5, 0xc9, 1, 0, 10, 0, 0, 0]),
        (PORT_OPCUA, [&b"HELF"[..], &28u32.to_le_bytes(), &[0u8; 20]].concat()),
        (PORT_MODBUS, mb(1, &[3, 0, 0x6b, 0, 3])),
        (PORT_ENIP, enip_rr(0x6f, 1, 7, &CIP_REQ)),
    ];
    let mut x: u64 = 0x5151_a1a1_0f0f_7777;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..3000 {
        let (port, first) = &firsts[round % firsts.len()];
        let mut data = first.clone();
        let n = (next() % 400) as usize;
        // Mostly well-framed starts, so that parsers get past the headers.
        data.extend(first.iter().take(n % (first.len() + 1)));
        data.extend((0..n).map(|_| next() as u8));
        let mut steps = Vec::new();
        let mut rest = data.as_slice();
        while !rest.is_empty() {
            let k = ((next() % 50) as usize + 1).min(rest.len());
            let dir = if next() % 4 == 0 { Dir::ToClient } else { Dir::ToServer };
            steps.push(Step::D(dir, &rest[..k]));
            rest = &rest[k..];
            if next() % 40 == 0 {
                steps.push(Step::Gap(dir));
            }
        }
        let (_, errs, _) = run(*port, &steps);
        let prefix: &[&str] = match *port {
            PORT_S7 => &["s7comm: "],
            PORT_IEC104 => &["iec104: "],
            PORT_DNP3 => &["dnp3: "],
            PORT_MODBUS => &["modbus: "],
            PORT_ENIP => &["enip: ", "cip: "],
            _ => &["opcua: "],
        };
        assert!(errs.iter().all(|e| prefix.iter().any(|p| e.starts_with(p))), "{errs:?}");
    }
}

/// A large OPC UA chunk split over many events keeps only its head: one record, no error.
#[test]
fn opcua_large_chunk_keeps_its_head_only() {
    let mut body = 5u32.to_le_bytes().to_vec();
    body.extend(1u32.to_le_bytes());
    body.extend([7, 0, 0, 0, 8, 0, 0, 0, 0x01, 0x00, 0x7a, 0x02]);
    body.extend(vec![0u8; 100_000]);
    let mut m = b"MSGF".to_vec();
    m.extend(((8 + body.len()) as u32).to_le_bytes());
    m.extend(body);
    let steps: Vec<Step<'_>> = m.chunks(1460).map(|c| Step::D(Dir::ToClient, c)).collect();
    let (recs, errs, _) = run(PORT_OPCUA, &steps);
    let r: Vec<v1::Opcua> = decode(&recs, T_OPCUA);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!((r.len(), r[0].message_size as usize, r[0].sequence_number), (1, m.len(), 7));
    assert_eq!((r[0].service_node_id, r[0].service.as_str()), (634, "ReadResponse"));
    assert_eq!(recs[0].1, steps.len() as u64, "the record belongs to the chunk's last packet");
}

/// A Modbus/TCP ADU.
fn mb(tid: u16, pdu: &[u8]) -> Vec<u8> {
    let mut v = tid.to_be_bytes().to_vec();
    v.extend([0, 0]);
    v.extend(((pdu.len() + 1) as u16).to_be_bytes());
    v.push(17);
    v.extend(pdu);
    v
}

#[test]
fn modbus_one_record_at_every_split_into_three_and_pairing() {
    let req = mb(7, &[15, 0, 0x13, 0, 0x0a, 2, 0xcd, 1]);
    let resp = mb(7, &[15, 0, 0x13, 0, 0x0a]);
    for a in 1..req.len() {
        for b in a + 1..req.len() {
            let steps = [
                Step::D(Dir::ToServer, &req[..a]),
                Step::D(Dir::ToServer, &req[a..b]),
                Step::D(Dir::ToServer, &req[b..]),
                Step::D(Dir::ToClient, &resp),
            ];
            let (recs, errs, _) = run(PORT_MODBUS, &steps);
            assert!(errs.is_empty(), "{a} {b}: {errs:?}");
            let r: Vec<v1::Modbus> = decode(&recs, T_MODBUS);
            assert_eq!(r.len(), 2, "{a} {b}");
            assert_eq!((recs[0].1, r[0].timestamp, r[0].response), (3, 1000, false));
            assert_eq!((r[0].transaction_id, r[0].unit_id, r[0].function_code, r[0].length), (7, 17, 15, 9));
            assert_eq!(r[0].payload, req[7..]);
            // The response: paired, timed from the packet that completed the request.
            assert_eq!((r[1].response, r[1].request_timestamp, r[1].response_time_ns), (true, 1000, 1000));
        }
    }
}

#[test]
fn modbus_pairs_by_transaction_unit_and_function() {
    let two = [mb(1, &[3, 0, 0, 0, 1]), mb(2, &[4, 0, 0, 0, 1])].concat();
    let steps = [
        Step::D(Dir::ToServer, &two),
        // Transaction 2 answered first; transaction 1 with another function code: no pair.
        Step::D(Dir::ToClient, &mb(2, &[0x84, 2])),
        Step::D(Dir::ToClient, &mb(1, &[4, 2, 0, 1])),
        Step::D(Dir::ToClient, &mb(1, &[3, 2, 0, 1])),
        Step::D(Dir::ToClient, &mb(1, &[3, 2, 0, 1])),
    ];
    let (recs, errs, _) = run(PORT_MODBUS, &steps);
    assert!(errs.is_empty(), "{errs:?}");
    let r: Vec<v1::Modbus> = decode(&recs, T_MODBUS);
    let pairs: Vec<(i64, i64)> = r.iter().map(|r| (r.request_timestamp, r.response_time_ns)).collect();
    assert_eq!(pairs, [(0, 0), (0, 0), (1000, 1000), (0, 0), (1000, 3000), (0, 0)]);
    assert_eq!((r[2].exception, r[2].exception_code, r[2].function_code), (true, 2, 4));
}

#[test]
fn modbus_malformed_and_cut() {
    // Protocol id not 0 on the first bytes: declined; later: the framing is lost, counted.
    let mut bad = mb(1, &[3, 0, 0, 0, 1]);
    bad[3] = 1;
    let (recs, _, verdicts) = run(PORT_MODBUS, &[Step::D(Dir::ToServer, &bad)]);
    assert!(recs.is_empty());
    assert_eq!(verdicts[1], Verdict::Decline);
    let good = mb(1, &[3, 0, 0, 0, 1]);
    let (recs, errs, _) = run(PORT_MODBUS, &[Step::D(Dir::ToServer, &[good.clone(), bad, good.clone()].concat())]);
    assert_eq!(
        (decode::<v1::Modbus>(&recs, T_MODBUS).len(), errs.as_slice()),
        (1, &[modbus::E_NOT_MODBUS.to_string()][..])
    );
    // An ADU cut by the end of the connection, an exception without its code.
    let (recs, errs, _) = run(PORT_MODBUS, &[Step::D(Dir::ToServer, &good[..9])]);
    let r: Vec<v1::Modbus> = decode(&recs, T_MODBUS);
    assert_eq!((r.len(), r[0].function_code, r[0].payload.len()), (1, 3, 2));
    assert_eq!(errs, [modbus::E_TRUNCATED]);
    let (recs, errs, _) = run(PORT_MODBUS, &[Step::D(Dir::ToClient, &mb(1, &[0x83]))]);
    assert_eq!(
        (decode::<v1::Modbus>(&recs, T_MODBUS).len(), errs.as_slice()),
        (1, &[modbus::E_EXCEPTION.to_string()][..])
    );
    // A length too short for a unit id and a function code.
    let (recs, errs, _) =
        run(PORT_MODBUS, &[Step::D(Dir::ToServer, &[good.clone(), vec![0, 2, 0, 0, 0, 1, 5]].concat())]);
    assert_eq!(
        (decode::<v1::Modbus>(&recs, T_MODBUS).len(), errs.as_slice()),
        (1, &[modbus::E_BAD_LENGTH.to_string()][..])
    );
    // Every prefix of two ADUs: no panic; a cut ADU comes with an error.
    let both = [good.clone(), good].concat();
    for n in 1..both.len() {
        let (recs, errs, _) = run(PORT_MODBUS, &[Step::D(Dir::ToServer, &both[..n])]);
        let whole = decode::<v1::Modbus>(&recs, T_MODBUS).len();
        assert!(n == 12 || !errs.is_empty(), "{n}");
        assert!(whole <= 2);
    }
}

/// A Get_Attribute_Single request of class 1, instance 1, attribute 7.
const CIP_REQ: [u8; 8] = [0x0e, 3, 0x20, 1, 0x24, 1, 0x30, 7];

/// An encapsulation message `cmd` of session `s` and sender context `ctx` whose data item (0xb2
/// for SendRRData, 0xb1 with sequence count `ctx` for SendUnitData) holds `cip`.
fn enip_rr(cmd: u16, s: u32, ctx: u64, cip: &[u8]) -> Vec<u8> {
    let mut item = Vec::new();
    if cmd == 0x70 {
        item.extend((ctx as u16).to_le_bytes());
    }
    item.extend(cip);
    let mut body = vec![0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0];
    body.extend((if cmd == 0x70 { 0xb1u16 } else { 0xb2 }).to_le_bytes());
    body.extend((item.len() as u16).to_le_bytes());
    body.extend(item);
    let mut v = cmd.to_le_bytes().to_vec();
    v.extend((body.len() as u16).to_le_bytes());
    v.extend(s.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(ctx.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(body);
    v
}

#[test]
fn enip_one_message_at_every_split_into_three_and_pairing() {
    let req = enip_rr(0x6f, 9, 0x55, &CIP_REQ);
    let resp = enip_rr(0x6f, 9, 0x55, &[0x8e, 0, 0, 0, 1, 0]);
    for a in 1..req.len() {
        for b in a + 1..req.len() {
            let steps = [
                Step::D(Dir::ToServer, &req[..a]),
                Step::D(Dir::ToServer, &req[a..b]),
                Step::D(Dir::ToServer, &req[b..]),
                Step::D(Dir::ToClient, &resp),
            ];
            let (recs, errs, _) = run(PORT_ENIP, &steps);
            assert!(errs.is_empty(), "{a} {b}: {errs:?}");
            assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), [T_ENIP, T_CIP, T_ENIP, T_CIP]);
            let e: Vec<v1::Enip> = decode(&recs, T_ENIP);
            let c: Vec<v1::Cip> = decode(&recs, T_CIP);
            assert_eq!((recs[0].1, e[0].timestamp, e[0].response, e[0].command), (3, 1000, false, 0x6f));
            assert_eq!((c[0].class_id, c[0].instance_id, c[0].attribute_id, c[0].timestamp), (1, 1, 7, 1000));
            assert_eq!((e[1].response, e[1].request_timestamp, e[1].response_time_ns), (true, 1000, 1000));
            assert_eq!((c[1].response, c[1].request_timestamp, c[1].response_time_ns), (true, 1000, 1000));
        }
    }
}

#[test]
fn enip_pairs_register_session_and_connected_data() {
    let reg = |s: u32| {
        let mut v = vec![0x65, 0, 4, 0];
        v.extend(s.to_le_bytes());
        v.extend([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1, 0, 0, 0]);
        v
    };
    let steps = [
        Step::D(Dir::ToServer, &reg(0)),
        Step::D(Dir::ToClient, &reg(0x77)),
        Step::D(Dir::ToServer, &[enip_rr(0x70, 0x77, 4, &CIP_REQ), enip_rr(0x70, 0x77, 5, &CIP_REQ)].concat()),
        Step::D(Dir::ToClient, &enip_rr(0x70, 0x77, 5, &[0x8e, 0, 0, 0])),
        Step::D(Dir::ToClient, &enip_rr(0x70, 0x77, 4, &[0x8e, 0, 0, 0])),
        Step::D(Dir::ToClient, &enip_rr(0x70, 0x78, 4, &[0x8e, 0, 0, 0])),
    ];
    let (recs, errs, _) = run(PORT_ENIP, &steps);
    assert!(errs.is_empty(), "{errs:?}");
    let e: Vec<v1::Enip> = decode(&recs, T_ENIP);
    let pairs: Vec<(i64, i64)> = e.iter().map(|r| (r.request_timestamp, r.response_time_ns)).collect();
    assert_eq!(pairs, [(0, 0), (1000, 1000), (0, 0), (0, 0), (3000, 1000), (3000, 2000), (0, 0)]);
    let c: Vec<v1::Cip> = decode(&recs, T_CIP);
    assert_eq!(c.iter().map(|c| c.sequence_count).collect::<Vec<_>>(), [4, 5, 5, 4, 4]);
    // Only the CIP records when ENIP is not wanted.
    let mut d = Ics::new(&Config::new(vec![("record-types".into(), "CIP".into())]));
    let mut buf = Vec::new();
    let i = info(PORT_ENIP);
    d.event(&EventMeta { stream: 1, seq: 0, ts_nanos: 0 }, &StreamEvent::Open(&i), &mut Emitter::new(&mut buf, 0));
    let m = enip_rr(0x6f, 1, 1, &CIP_REQ);
    let ev = StreamEvent::Data { dir: Dir::ToServer, bytes: &m };
    d.event(&EventMeta { stream: 1, seq: 1, ts_nanos: 1 }, &ev, &mut Emitter::new(&mut buf, 1));
    let tags: Vec<u16> = entries(&buf).map(|e| e.expect("entry").tag).filter(|&t| t < 0xff00).collect();
    assert_eq!(tags, [T_CIP]);
}

#[test]
fn enip_malformed_and_cut() {
    let m = enip_rr(0x6f, 1, 1, &CIP_REQ);
    // Not a known command on the first bytes: declined; later: the framing is lost, counted.
    let (recs, _, verdicts) = run(PORT_ENIP, &[Step::D(Dir::ToServer, &[0x41; 30])]);
    assert!(recs.is_empty());
    assert_eq!(verdicts[1], Verdict::Decline);
    let (recs, errs, _) = run(PORT_ENIP, &[Step::D(Dir::ToServer, &[m.clone(), vec![0x41; 30], m.clone()].concat())]);
    assert_eq!(
        (decode::<v1::Enip>(&recs, T_ENIP).len(), errs.as_slice()),
        (1, &[enip::E_UNKNOWN_COMMAND.to_string()][..])
    );
    // A message cut by the end of the connection: partial records and the error; a header cut
    // short: the error only.
    for n in 1..m.len() {
        let (recs, errs, _) = run(PORT_ENIP, &[Step::D(Dir::ToServer, &m[..n])]);
        assert_eq!(errs.last().map(String::as_str), Some(enip::E_TRUNCATED), "{n}");
        assert_eq!(decode::<v1::Enip>(&recs, T_ENIP).len(), usize::from(n >= 24), "{n}");
    }
    // Items that overrun the message: the record and the error.
    let mut short = m.clone();
    short[2] -= 4;
    short.truncate(short.len() - 4);
    let (recs, errs, _) = run(PORT_ENIP, &[Step::D(Dir::ToServer, &short)]);
    assert_eq!(decode::<v1::Enip>(&recs, T_ENIP).len(), 1);
    assert_eq!(errs, [enip::E_CIP, enip::E_ITEMS]);
}

/// TPKT + COTP DT with TPDU number 0 and `eot` around `data`.
fn dt(eot: bool, data: &[u8]) -> Vec<u8> {
    let mut v = vec![3, 0];
    v.extend(((7 + data.len()) as u16).to_be_bytes());
    v.extend([2, 0xf0, if eot { 0x80 } else { 0 }]);
    v.extend(data);
    v
}

#[test]
fn s7_pdu_over_cotp_segments_is_reassembled() {
    let job = s7_read_job();
    let pdu = &job[7..];
    // Three DT TPDUs (the first two without EOT), in one TCP segment and in three.
    let tpdus = [dt(false, &pdu[..5]), dt(false, &pdu[5..20]), dt(true, &pdu[20..])];
    let joined = tpdus.concat();
    for steps in [vec![Step::D(Dir::ToServer, &joined)], tpdus.iter().map(|t| Step::D(Dir::ToServer, t)).collect()] {
        let (recs, errs, _) = run(PORT_S7, &steps);
        assert!(errs.is_empty(), "{errs:?}");
        let r: Vec<v1::S7comm> = decode(&recs, T_S7COMM);
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].cotp_eot, r[0].protocol.as_str(), r[1].protocol.as_str()), (false, "", ""));
        assert_eq!(
            (r[2].protocol.as_str(), r[2].pdu_ref, r[2].items.len(), r[2].items[1].address),
            ("s7comm", 0x1234, 2, 3)
        );
    }
    // A TSDU over the limit: counted, dropped, and the next PDU is read again.
    let big = vec![0u8; 60_000];
    let steps = [
        Step::D(Dir::ToServer, &dt(false, &big)),
        Step::D(Dir::ToServer, &dt(false, &big)),
        Step::D(Dir::ToServer, &job),
    ];
    let (recs, errs, _) = run(PORT_S7, &steps);
    assert_eq!(errs, [s7::E_TSDU_TOO_LONG]);
    let r: Vec<v1::S7comm> = decode(&recs, T_S7COMM);
    assert_eq!((r.len(), r[2].pdu_ref), (3, 0x1234));
}
