//! The decoder driven as the host drives it (stream events): one record per exchange whatever
//! the segmentation (every split point), pipelined requests, a capture that begins
//! mid-connection, a database server on the TCP client side, and malformed input (cuts at
//! every length, garbling, absurd lengths: partial records plus counted errors, no panic).

use super::*;
use netcap_proto::v1::{MySql, PostgreSql};
use netcap_sdk::{CloseReason, Config, Emitter, EventMeta, StreamEvent, StreamInfo, TAG_ERROR, entries};

pub(crate) fn info(client_port: u16, server_port: u16) -> StreamInfo {
    let mut i = StreamInfo { id: 1, ip_version: 4, client_port, server_port, ..Default::default() };
    i.client_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    i.server_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
    i
}

/// A data event (direction, bytes).
pub(crate) type Ev<'a> = (Dir, &'a [u8]);

/// Records as (type id, bytes), error kinds and the verdicts of a run; data event k is packet
/// k + 1 at time (k + 1) * 1000; the connection closes after the events.
pub(crate) type Out = (Vec<(u16, Vec<u8>)>, Vec<String>, Vec<Verdict>);

pub(crate) fn run_on(i: &StreamInfo, evs: &[Ev<'_>]) -> Out {
    let mut d = Database::new(&Config::default());
    let mut buf = Vec::new();
    let open = EventMeta { stream: 1, seq: 0, ts_nanos: 0 };
    let mut verdicts = vec![d.event(&open, &StreamEvent::Open(i), &mut Emitter::new(&mut buf, 0))];
    for (k, &(dir, bytes)) in evs.iter().enumerate() {
        let seq = k as u64 + 1;
        let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
        let v = d.event(&meta, &StreamEvent::Data { dir, bytes }, &mut Emitter::new(&mut buf, seq));
        verdicts.push(v);
        if v != Verdict::Continue {
            break;
        }
    }
    if verdicts.last() == Some(&Verdict::Continue) {
        let seq = evs.len() as u64 + 1;
        let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
        let close = StreamEvent::Close { reason: CloseReason::Fin };
        verdicts.push(d.event(&meta, &close, &mut Emitter::new(&mut buf, seq)));
    }
    d.finish(&mut Emitter::new(&mut buf, u64::MAX));
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    for e in entries(&buf) {
        let e = e.expect("well-formed output");
        if e.tag == TAG_ERROR {
            errs.push(String::from_utf8_lossy(e.bytes).into_owned());
        } else if e.tag < 0xff00 {
            recs.push((e.tag, e.bytes.to_vec()));
        }
    }
    (recs, errs, verdicts)
}

pub(crate) fn decode<T: prost::Message + Default>(o: &Out, ty: u16) -> Vec<T> {
    o.0.iter().filter(|r| r.0 == ty).map(|r| T::decode(&r.1[..]).expect("record decodes")).collect()
}

/// The events with every message of one direction split at every point `cut` of that
/// direction's bytes, for each direction in turn (each gives the same records).
pub(crate) fn each_split(evs: &[Ev<'_>], mut check: impl FnMut(&[Ev<'_>], usize)) {
    for (k, &(dir, bytes)) in evs.iter().enumerate() {
        for cut in 1..bytes.len() {
            let mut v: Vec<Ev<'_>> = evs[..k].to_vec();
            v.push((dir, &bytes[..cut]));
            v.push((dir, &bytes[cut..]));
            v.extend_from_slice(&evs[k + 1..]);
            check(&v, cut);
        }
    }
}

/// A pseudo-random byte sequence (xorshift).
pub(crate) fn noise(x: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (message layouts from the PostgreSQL documentation, "Message Formats")

fn pg(t: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![t];
    v.extend(((body.len() + 4) as u32).to_be_bytes());
    v.extend(body);
    v
}

fn pg_untyped(code: u32, body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend(code.to_be_bytes());
    v.extend(body);
    v
}

fn pg_conversation() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let startup = pg_untyped(196_608, b"user\0alice\0database\0shop\0application_name\0psql\0\0");
    // AuthenticationMD5Password: code 5 and a 4-octet salt.
    let server1 = pg(b'R', &[0, 0, 0, 5, 1, 2, 3, 4]);
    let pw = pg(b'p', b"md5abc\0");
    let mut ok = pg(b'R', &0u32.to_be_bytes());
    ok.extend(pg(b'S', b"server_version\x0016.1\0"));
    ok.extend(pg(b'K', &[0, 0, 0, 7, 1, 2, 3, 4]));
    ok.extend(pg(b'Z', b"I"));
    // A simple query with two rows, then two pipelined extended-protocol requests.
    let mut client = pw;
    client.extend(pg(b'Q', b"select * from t;\0"));
    for q in [&b"begin"[..], b"select 1"] {
        let mut p = b"\0".to_vec();
        p.extend(q);
        p.extend(b"\0\0\0");
        client.extend(pg(b'P', &p));
        client.extend(pg(b'B', b"\0\0\0\0\0\0\0\0"));
        client.extend(pg(b'E', b"\0\0\0\0\0"));
        client.extend(pg(b'S', b""));
    }
    let mut server = ok;
    server.extend(pg(b'T', b"\0\0"));
    server.extend(pg(b'D', b"\0\0"));
    server.extend(pg(b'D', b"\0\0"));
    server.extend(pg(b'C', b"SELECT 2\0"));
    server.extend(pg(b'Z', b"I"));
    server.extend(pg(b'1', b""));
    server.extend(pg(b'2', b""));
    server.extend(pg(b'C', b"BEGIN\0"));
    server.extend(pg(b'Z', b"T"));
    server.extend(pg(b'1', b""));
    server.extend(pg(b'E', b"SERROR\0VERROR\0C42P01\0Mrelation \"x\" does not exist\0\0"));
    server.extend(pg(b'Z', b"E"));
    (startup, server1, client, server)
}

fn check_pg(o: &Out) {
    let r: Vec<PostgreSql> = decode(o, T_POSTGRES);
    assert_eq!(r.len(), 4, "{r:?} {:?}", o.1);
    assert!(o.1.is_empty(), "{:?}", o.1);
    let s = &r[0];
    assert_eq!((s.kind.as_str(), s.protocol_version, s.user.as_str()), ("startup", 196_608, "alice"));
    assert_eq!((s.database.as_str(), s.application_name.as_str()), ("shop", "psql"));
    assert_eq!(s.parameters, ["user=alice", "database=shop", "application_name=psql"]);
    assert_eq!((s.auth_methods.as_slice(), s.server_version.as_str()), (&[5][..], "16.1"));
    assert_eq!((s.transaction_status.as_str(), s.timestamp), ("I", 1000));
    assert_eq!(
        (s.src_ip.as_str(), s.dst_ip.as_str(), s.src_port, s.dst_port),
        ("192.0.2.1", "198.51.100.7", 40000, 5432)
    );
    let q = &r[1];
    assert_eq!(
        (q.kind.as_str(), q.client_messages.as_str(), q.queries.as_slice()),
        ("query", "Q", &["select * from t;".to_string()][..])
    );
    assert_eq!(
        (q.command_tags.as_slice(), q.rows, q.transaction_status.as_str()),
        (&["SELECT 2".to_string()][..], 2, "I")
    );
    let (b, e) = (&r[2], &r[3]);
    assert_eq!(
        (b.client_messages.as_str(), b.queries.as_slice(), b.command_tags.as_slice()),
        ("PBES", &["begin".to_string()][..], &["BEGIN".to_string()][..])
    );
    assert_eq!(b.transaction_status, "T");
    assert_eq!(
        (e.queries.as_slice(), e.error_severity.as_str(), e.error_code.as_str()),
        (&["select 1".to_string()][..], "ERROR", "42P01")
    );
    assert_eq!(
        (e.error_message.as_str(), e.transaction_status.as_str(), e.rows),
        ("relation \"x\" does not exist", "E", 0)
    );
}

#[test]
fn postgres_exchanges_at_every_split() {
    let (startup, s1, client, server) = pg_conversation();
    let evs: [Ev<'_>; 4] =
        [(Dir::ToServer, &startup), (Dir::ToClient, &s1), (Dir::ToServer, &client), (Dir::ToClient, &server)];
    check_pg(&run_on(&info(40000, 5432), &evs));
    each_split(&evs, |v, cut| {
        let o = run_on(&info(40000, 5432), v);
        let r: Vec<PostgreSql> = decode(&o, T_POSTGRES);
        assert_eq!(r.len(), 4, "cut {cut}");
        assert!(o.1.is_empty(), "cut {cut}: {:?}", o.1);
    });
}

#[test]
fn postgres_server_on_the_tcp_client_side() {
    // The capture guessed the connection's direction wrong: the side on 5432 is the server.
    let (startup, s1, client, server) = pg_conversation();
    let evs: [Ev<'_>; 4] =
        [(Dir::ToClient, &startup), (Dir::ToServer, &s1), (Dir::ToClient, &client), (Dir::ToServer, &server)];
    let mut i = info(5432, 40000);
    (i.client_ip, i.server_ip) = (i.server_ip, i.client_ip);
    check_pg(&run_on(&i, &evs));
}

#[test]
fn postgres_mid_connection_and_ssl() {
    // Begins after the startup: the client's first byte is a type letter.
    let q = pg(b'Q', b"select 1\0");
    let mut resp = pg(b'C', b"SELECT 1\0");
    resp.extend(pg(b'Z', b"I"));
    let o = run_on(&info(40000, 5432), &[(Dir::ToServer, &q), (Dir::ToClient, &resp)]);
    let r: Vec<PostgreSql> = decode(&o, T_POSTGRES);
    assert_eq!((r.len(), r[0].queries[0].as_str(), r[0].command_tags[0].as_str()), (1, "select 1", "SELECT 1"));
    // SSLRequest answered 'S': recorded, and the rest (TLS) is not read.
    let ssl = pg_untyped(SSL_REQUEST_CODE, b"");
    let o = run_on(
        &info(40000, 5432),
        &[(Dir::ToServer, &ssl), (Dir::ToClient, b"S\x16\x03\x01"), (Dir::ToServer, b"\x16\x03\x01\x00")],
    );
    let r: Vec<PostgreSql> = decode(&o, T_POSTGRES);
    assert_eq!((r.len(), r[0].kind.as_str(), r[0].ssl_response.as_str()), (1, "ssl", "S"));
    assert_eq!(o.2.last(), Some(&Verdict::Done));
    assert!(o.1.is_empty());
    // Answered 'N': the startup follows in the clear.
    let (startup, ..) = pg_conversation();
    let o = run_on(&info(40000, 5432), &[(Dir::ToServer, &ssl), (Dir::ToClient, b"N"), (Dir::ToServer, &startup)]);
    let r: Vec<PostgreSql> = decode(&o, T_POSTGRES);
    assert_eq!(
        (r.len(), r[0].ssl_response.as_str(), r[1].kind.as_str(), r[1].user.as_str()),
        (2, "N", "startup", "alice")
    );
    assert_eq!(o.1, [postgres::E_NO_RESPONSE]);
}

const SSL_REQUEST_CODE: u32 = postgres::SSL_REQUEST;

#[test]
fn postgres_result_across_segments_and_cut() {
    // A result of 3 rows whose messages straddle segments, then the connection ends inside
    // the fourth row: the exchange is recorded with its rows so far and a counted error.
    let q = pg(b'Q', b"select * from big\0");
    let mut resp = pg(b'T', b"\0\0");
    for _ in 0..4 {
        resp.extend(pg(b'D', &[7; 300]));
    }
    let cut = resp.len() - 100;
    let (a, b) = resp[..cut].split_at(500);
    let o = run_on(&info(40000, 5432), &[(Dir::ToServer, &q), (Dir::ToClient, a), (Dir::ToClient, b)]);
    let r: Vec<PostgreSql> = decode(&o, T_POSTGRES);
    assert_eq!((r.len(), r[0].rows, r[0].transaction_status.as_str()), (1, 4, ""));
    assert_eq!(o.1, [postgres::E_TRUNCATED, postgres::E_NO_RESPONSE]);
}

#[test]
fn postgres_cuts_garbling_and_huge_lengths() {
    let (startup, s1, client, server) = pg_conversation();
    let all: Vec<Ev<'_>> =
        vec![(Dir::ToServer, &startup), (Dir::ToClient, &s1), (Dir::ToServer, &client), (Dir::ToClient, &server)];
    // Cut at every length of the server's last segment: never a panic; the exchanges whose
    // response ended are whole, the others recorded with an error.
    for cut in 0..server.len() {
        let mut v = all.clone();
        v[3] = (Dir::ToClient, &server[..cut]);
        let o = run_on(&info(40000, 5432), &v);
        let r: Vec<PostgreSql> = decode(&o, T_POSTGRES);
        assert_eq!(r.len(), 4, "cut {cut}");
        assert!(!o.1.is_empty(), "cut {cut}: no error counted");
    }
    // An absurd length: counted, the direction read no further.
    let o = run_on(&info(40000, 5432), &[(Dir::ToServer, &[b'Q', 0x7f, 0xff, 0xff, 0xff, b'x'])]);
    assert!(o.0.is_empty());
    assert_eq!(o.1, [postgres::E_BAD_LENGTH]);
    // Garbled conversations: flip bytes anywhere; never a panic, memory stays bounded.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..3000 {
        let mut c = client.clone();
        let mut s = server.clone();
        for _ in 0..3 {
            let r = noise(&mut x, 3);
            let i = usize::from(r[0]) * c.len() / 256;
            c[i] = r[1];
            let j = usize::from(r[1]) * s.len() / 256;
            s[j] = r[2];
        }
        let _ = run_on(&info(40000, 5432), &[(Dir::ToServer, &startup), (Dir::ToServer, &c), (Dir::ToClient, &s)]);
        let n = noise(&mut x, 64);
        let _ = run_on(&info(40000, 5432), &[(Dir::ToServer, &n), (Dir::ToClient, &n)]);
    }
}

// ---------------------------------------------------------------------------------------------
// MySQL (packet layouts from the MySQL client/server protocol documentation)

fn my(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    v.push(seq);
    v.extend(payload);
    v
}

fn my_greeting() -> Vec<u8> {
    let mut p = vec![10];
    p.extend(b"8.0.36\0");
    p.extend(42u32.to_le_bytes());
    p.extend(b"abcdefgh\0");
    p.extend(0xf7ffu16.to_le_bytes()); // capabilities, low
    p.push(0xff); // charset
    p.extend([2, 0]); // status
    p.extend(0xdfffu16.to_le_bytes()); // capabilities, high (CLIENT_PLUGIN_AUTH among them)
    p.push(21); // auth data length
    p.extend([0; 10]);
    p.extend(b"ijklmnopqrst\0");
    p.extend(b"caching_sha2_password\0");
    my(0, &p)
}

fn my_login() -> Vec<u8> {
    let caps = CLIENT_41 | mysql::CLIENT_SECURE_CONNECTION | mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_PLUGIN_AUTH;
    let mut p = caps.to_le_bytes().to_vec();
    p.extend(16_777_216u32.to_le_bytes());
    p.push(33);
    p.extend([0; 23]);
    p.extend(b"bob\0");
    p.push(20);
    p.extend([9; 20]);
    p.extend(b"shop\0mysql_native_password\0");
    my(1, &p)
}

const CLIENT_41: u32 = mysql::CLIENT_PROTOCOL_41;

/// A result set of one column and two rows (with the EOF after the columns).
fn my_result_set() -> Vec<u8> {
    let mut v = my(1, &[1]);
    v.extend(my(2, b"\x03def\x00\x00\x00\x01a\x00\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"));
    v.extend(my(3, &[0xfe, 0, 0, 2, 0]));
    v.extend(my(4, b"\x011"));
    v.extend(my(5, b"\x012"));
    v.extend(my(6, &[0xfe, 0, 0, 2, 0]));
    v
}

fn my_conversation() -> Vec<(Dir, Vec<u8>)> {
    vec![
        (Dir::ToClient, my_greeting()),
        (Dir::ToServer, my_login()),
        (Dir::ToClient, my(2, &[0, 0, 0, 2, 0, 0, 0])),
        (Dir::ToServer, my(0, b"\x03select a from t")),
        (Dir::ToClient, my_result_set()),
        (Dir::ToServer, my(0, b"\x03update t set a=1")),
        (Dir::ToClient, my(1, &[0, 3, 9, 2, 0, 0, 0])),
        (Dir::ToServer, my(0, b"\x03select * from nope")),
        (Dir::ToClient, my(1, b"\xff\x7a\x04#42S02Table 'shop.nope' doesn't exist")),
        (Dir::ToServer, my(0, b"\x01")),
    ]
}

fn check_my(o: &Out) {
    let r: Vec<MySql> = decode(o, T_MYSQL);
    assert!(o.1.is_empty(), "{:?}", o.1);
    assert_eq!(r.len(), 5, "{r:?}");
    let h = &r[0];
    assert_eq!(
        (h.kind.as_str(), h.protocol_version, h.server_version.as_str(), h.connection_id),
        ("handshake", 10, "8.0.36", 42)
    );
    assert_eq!((h.server_capabilities, h.server_auth_plugin.as_str()), (0xdfff_f7ff, "caching_sha2_password"));
    assert_eq!(
        (h.user.as_str(), h.database.as_str(), h.client_auth_plugin.as_str()),
        ("bob", "shop", "mysql_native_password")
    );
    assert_eq!((h.response.as_str(), h.timestamp), ("ok", 1000));
    assert_eq!((h.src_ip.as_str(), h.dst_port), ("192.0.2.1", 3306));
    let s = &r[1];
    assert_eq!((s.command, s.command_name.as_str(), s.query.as_str()), (3, "COM_QUERY", "select a from t"));
    assert_eq!((s.response.as_str(), s.num_fields, s.rows), ("result_set", 1, 2));
    let u = &r[2];
    assert_eq!((u.response.as_str(), u.affected_rows, u.last_insert_id), ("ok", 3, 9));
    let e = &r[3];
    assert_eq!((e.response.as_str(), e.error_code, e.sql_state.as_str()), ("error", 1146, "42S02"));
    assert_eq!(e.error_message, "Table 'shop.nope' doesn't exist");
    assert_eq!((r[4].command_name.as_str(), r[4].response.as_str()), ("COM_QUIT", ""));
}

#[test]
fn mysql_exchanges_at_every_split() {
    let conv = my_conversation();
    let evs: Vec<Ev<'_>> = conv.iter().map(|(d, b)| (*d, &b[..])).collect();
    check_my(&run_on(&info(40000, 3306), &evs));
    each_split(&evs, |v, cut| {
        let o = run_on(&info(40000, 3306), v);
        assert_eq!(decode::<MySql>(&o, T_MYSQL).len(), 5, "cut {cut}");
        assert!(o.1.is_empty(), "cut {cut}: {:?}", o.1);
    });
    // All of a direction's packets in one segment each way.
    let c: Vec<u8> = conv.iter().filter(|e| e.0 == Dir::ToServer).flat_map(|e| e.1.clone()).collect();
    let s: Vec<u8> = conv.iter().filter(|e| e.0 == Dir::ToClient).flat_map(|e| e.1.clone()).collect();
    let o = run_on(
        &info(40000, 3306),
        &[(Dir::ToClient, &s[..my_greeting().len()]), (Dir::ToServer, &c), (Dir::ToClient, &s[my_greeting().len()..])],
    );
    // The responses all come after the commands: each command is recorded when the next one
    // starts, and the responses find no exchange open.
    assert_eq!(decode::<MySql>(&o, T_MYSQL).len(), 5);
}

#[test]
fn mysql_mid_connection_ssl_and_deprecated_eof() {
    // Begins at a command.
    let q = my(0, b"\x03update t set c=''");
    let o = run_on(
        &info(40000, 3306),
        &[(Dir::ToServer, &q), (Dir::ToClient, &my(1, &[0, 0xfc, 0x3c, 0x01, 0, 2, 0, 0, 0]))],
    );
    let r: Vec<MySql> = decode(&o, T_MYSQL);
    assert_eq!((r.len(), r[0].query.as_str(), r[0].affected_rows), (1, "update t set c=''", 316));
    // An SSL request: recorded, the rest (TLS) not read.
    let mut ssl = (CLIENT_41 | mysql::CLIENT_SSL).to_le_bytes().to_vec();
    ssl.extend([0; 28]);
    let o = run_on(
        &info(40000, 3306),
        &[(Dir::ToClient, &my_greeting()), (Dir::ToServer, &my(1, &ssl)), (Dir::ToServer, b"\x16\x03\x01")],
    );
    let r: Vec<MySql> = decode(&o, T_MYSQL);
    assert_eq!((r.len(), r[0].ssl_requested, r[0].server_version.as_str()), (1, true, "8.0.36"));
    assert_eq!(o.2.last(), Some(&Verdict::Done));
    // CLIENT_DEPRECATE_EOF: no EOF after the columns, an OK (0xfe) ends the rows; and a
    // result set without rows.
    let mut rs = my(1, &[1]);
    rs.extend(my(2, b"\x03def\x00\x00\x00\x01a\x00\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"));
    rs.extend(my(3, b"\x011"));
    rs.extend(my(4, &[0xfe, 0, 0, 2, 0, 0, 0]));
    let mut empty = my(1, &[1]);
    empty.extend(my(2, b"\x03def\x00\x00\x00\x01a\x00\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"));
    empty.extend(my(3, &[0xfe, 0, 0, 2, 0, 0, 0]));
    let q2 = my(0, b"\x03select 1");
    let o = run_on(
        &info(40000, 3306),
        &[(Dir::ToServer, &q2), (Dir::ToClient, &rs), (Dir::ToServer, &q2), (Dir::ToClient, &empty)],
    );
    let r: Vec<MySql> = decode(&o, T_MYSQL);
    assert_eq!((r[0].rows, r[0].num_fields, r[1].rows, r[1].num_fields), (1, 1, 0, 1));
    assert!(o.1.is_empty(), "{:?}", o.1);
}

#[test]
fn mysql_cuts_and_garbling() {
    let conv = my_conversation();
    // Cut at every length of the result set: the query is recorded with the rows so far,
    // and an error is counted.
    let rs = my_result_set();
    for cut in 1..rs.len() {
        let evs: Vec<Ev<'_>> = vec![(Dir::ToServer, &conv[3].1), (Dir::ToClient, &rs[..cut])];
        let o = run_on(&info(40000, 3306), &evs);
        let r: Vec<MySql> = decode(&o, T_MYSQL);
        assert_eq!(r.len(), 1, "cut {cut}");
        assert!(r[0].rows <= 2, "cut {cut}: {:?}", r[0]);
        assert!(!o.1.is_empty(), "cut {cut}: no error counted");
    }
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..3000 {
        let mut evs: Vec<(Dir, Vec<u8>)> = conv.clone();
        for _ in 0..3 {
            let r = noise(&mut x, 3);
            let e = &mut evs[usize::from(r[0]) % conv.len()].1;
            let i = usize::from(r[1]) * e.len() / 256;
            e[i] = r[2];
        }
        let v: Vec<Ev<'_>> = evs.iter().map(|(d, b)| (*d, &b[..])).collect();
        let _ = run_on(&info(40000, 3306), &v);
        let n = noise(&mut x, 80);
        let _ = run_on(&info(40000, 3306), &[(Dir::ToClient, &n), (Dir::ToServer, &n)]);
    }
    // Every field parser on every prefix of its packet.
    let g = my_greeting();
    let l = my_login();
    for cut in 0..g.len() - 4 {
        let _ = mysql::greeting(&g[4..4 + cut], &mut MySql::default());
    }
    for cut in 0..l.len() - 4 {
        let _ = mysql::handshake_response(&l[4..4 + cut], &mut MySql::default());
    }
}

#[test]
fn mysql_handshake_response_validation() {
    // MariaDB's extended capabilities in the last 4 reserved octets: still a handshake response.
    let mut l = my_login();
    l[4 + 28..4 + 32].copy_from_slice(&[0x1d, 0, 0, 0]);
    let mut r = MySql::default();
    assert_eq!(mysql::handshake_response(&l[4..], &mut r), Ok(()));
    assert_eq!((r.user.as_str(), r.database.as_str()), ("bob", "shop"));
    // Text where the first 19 reserved octets should be (a PROXY protocol line read as a
    // packet): not a handshake response, nothing recorded of it.
    let mut r = MySql::default();
    let proxy = b"\x8d\xa6\x7f\x00 TCP4 192.168.221.1 192.168.221.132 64278 3306\r\n";
    assert_eq!(mysql::handshake_response(proxy, &mut r), Err(mysql::E_MALFORMED));
    assert!(r.user.is_empty());
    // Without CLIENT_PROTOCOL_41.
    assert_eq!(mysql::handshake_response(b"\x59\x20\x00\x00\x00root\0", &mut r), Err(mysql::E_OLD_PROTOCOL));
}
