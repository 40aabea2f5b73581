//! TDS, Redis and MongoDB driven as the host drives them: one record per exchange (MongoDB: per
//! message) whatever the segmentation (every split point), messages of several TDS packets,
//! pipelined Redis commands, and malformed input (cuts at every length, garbling, absurd
//! lengths: partial records plus counted errors, no panic, bounded memory).

use super::tests::{Ev, decode, each_split, info, noise, run_on};
use super::*;
use netcap_proto::v1::{MongoDb, Redis, Tds};

/// Builds messages from the [MS-TDS] layouts.
mod tds_msg {
    pub(super) fn packet(ty: u8, status: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ty, status];
        v.extend(((body.len() + 8) as u16).to_be_bytes());
        v.extend([0, 0, 1, 0]);
        v.extend(body);
        v
    }

    pub(super) fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// Pre-login options: VERSION and ENCRYPTION.
    pub(super) fn prelogin(version: [u8; 4], enc: u8) -> Vec<u8> {
        let mut v = vec![0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xff];
        v.extend(version);
        v.extend([0, 0, enc]);
        v
    }

    /// A Login7 message (TDS 7.4) with these strings.
    pub(super) fn login7(host: &str, user: &str, pass: &str, app: &str, server: &str, db: &str) -> Vec<u8> {
        let mut fixed = vec![0u8; 36];
        fixed[4..8].copy_from_slice(&0x7400_0004u32.to_le_bytes());
        let obf: Vec<u8> = utf16(pass).iter().map(|x| x.rotate_left(4) ^ 0xa5).collect();
        let strings: [Vec<u8>; 9] =
            [utf16(host), utf16(user), obf, utf16(app), utf16(server), vec![], utf16("ODBC"), vec![], utf16(db)];
        let mut data: Vec<u8> = Vec::new();
        let mut offs = Vec::new();
        for s in &strings {
            offs.extend(((94 + data.len()) as u16).to_le_bytes());
            offs.extend(((s.len() / 2) as u16).to_le_bytes());
            data.extend(s);
        }
        let mut v = fixed;
        v.extend(offs);
        v.extend([0u8; 22]);
        v.extend(data);
        let n = v.len() as u32;
        v[..4].copy_from_slice(&n.to_le_bytes());
        v
    }

    pub(super) fn sql_batch(q: &str) -> Vec<u8> {
        let mut v = 22u32.to_le_bytes().to_vec();
        v.extend(18u32.to_le_bytes());
        v.extend(2u16.to_le_bytes());
        v.extend([0u8; 8]);
        v.extend(1u32.to_le_bytes());
        v.extend(utf16(q));
        v
    }

    pub(super) fn done(t: u8, status: u16, cmd: u16, rows: u64) -> Vec<u8> {
        let mut v = vec![t];
        v.extend(status.to_le_bytes());
        v.extend(cmd.to_le_bytes());
        v.extend(rows.to_le_bytes());
        v
    }

    pub(super) fn loginack() -> Vec<u8> {
        let name = utf16("Microsoft SQL Server");
        let mut b = vec![1, 0x74, 0, 0, 4, 20];
        b.extend(name);
        b.extend([16, 0, 0x10, 0x7c]);
        let mut v = vec![0xad];
        v.extend((b.len() as u16).to_le_bytes());
        v.extend(b);
        v
    }

    pub(super) fn error(number: u32, msg: &str) -> Vec<u8> {
        let mut b = number.to_le_bytes().to_vec();
        b.extend([1, 16]);
        b.extend((msg.len() as u16).to_le_bytes());
        b.extend(utf16(msg));
        b.extend([0, 0]);
        b.extend(3u32.to_le_bytes());
        let mut v = vec![0xaa];
        v.extend((b.len() as u16).to_le_bytes());
        v.extend(b);
        v
    }
}

fn tds_conversation() -> Vec<(Dir, Vec<u8>)> {
    use tds_msg::*;
    let mut login_resp = loginack();
    login_resp.extend(done(0xfd, 0, 0, 0));
    let batch = packet(1, 0, &sql_batch("select name from")[..]);
    let mut batch = batch;
    batch.extend(packet(1, 1, &utf16(" users")));
    let mut rpc = 0xffffu16.to_le_bytes().to_vec();
    rpc.extend([10, 0, 0, 0]);
    let mut err = error(208, "Invalid object name 'x'.");
    err.extend(done(0xfe, 2, 0xe0, 0));
    vec![
        (Dir::ToServer, packet(18, 1, &prelogin([15, 0, 7, 0xd0], 0))),
        (Dir::ToClient, packet(4, 1, &prelogin([16, 0, 0x10, 0x7c], 2))),
        (Dir::ToServer, packet(16, 1, &login7("WS1", "sa", "Secret1!", "sqlcmd", "db1", "shop"))),
        (Dir::ToClient, packet(4, 1, &login_resp)),
        (Dir::ToServer, batch),
        (Dir::ToClient, packet(4, 1, &done(0xfd, 0x10, 0xc1, 3))),
        (Dir::ToServer, packet(3, 1, &rpc)),
        (Dir::ToClient, packet(4, 1, &err)),
    ]
}

fn check_tds(r: &[Tds], errs: &[String]) {
    assert_eq!(r.len(), 4, "{r:?} {errs:?}");
    assert!(errs.is_empty(), "{errs:?}");
    let p = &r[0];
    assert_eq!((p.kind.as_str(), p.client_version, p.client_encryption), ("prelogin", 0x0f00_07d0, 0));
    assert_eq!((p.server_version, p.server_encryption, p.response_type), (0x1000_107c, 2, 4));
    let l = &r[1];
    assert_eq!(
        (l.kind.as_str(), l.tds_version, l.user.as_str(), l.password.as_str()),
        ("login7", 0x7400_0004, "sa", "Secret1!")
    );
    assert_eq!((l.hostname.as_str(), l.app_name.as_str(), l.server_name.as_str()), ("WS1", "sqlcmd", "db1"));
    assert_eq!((l.library.as_str(), l.database.as_str()), ("ODBC", "shop"));
    assert_eq!((l.server_program.as_str(), l.server_tds_version), ("Microsoft SQL Server", 0x7400_0004));
    let b = &r[2];
    assert_eq!((b.kind.as_str(), b.query.as_str(), b.timestamp), ("sql_batch", "select name from users", 5000));
    assert_eq!((b.done_tokens.as_slice(), b.done_status.as_slice()), (&["DONE".to_string()][..], &[0x10][..]));
    assert_eq!((b.done_cur_cmd.as_slice(), b.done_row_count.as_slice()), (&[0xc1][..], &[3][..]));
    let e = &r[3];
    assert_eq!((e.kind.as_str(), e.procedure_id, e.error_number, e.error_class), ("rpc", 10, 208, 16));
    assert_eq!(
        (e.error_message.as_str(), e.done_tokens.as_slice()),
        ("Invalid object name 'x'.", &["DONEPROC".to_string()][..])
    );
    assert_eq!((e.src_port, e.dst_port), (40000, 1433));
}

#[test]
fn tds_exchanges_at_every_split() {
    let conv = tds_conversation();
    let evs: Vec<Ev<'_>> = conv.iter().map(|(d, b)| (*d, &b[..])).collect();
    let o = run_on(&info(40000, 1433), &evs);
    check_tds(&decode(&o, T_TDS), &o.1);
    each_split(&evs, |v, cut| {
        let o = run_on(&info(40000, 1433), v);
        let r: Vec<Tds> = decode(&o, T_TDS);
        assert_eq!(r.len(), 4, "cut {cut}");
        assert!(o.1.is_empty(), "cut {cut}: {:?}", o.1);
    });
}

#[test]
fn tds_encrypted_login_and_cuts_and_garbling() {
    use tds_msg::*;
    // Pre-login with encryption on: the TLS handshake in pre-login packets, then the Login7 in
    // a TLS record; the server asked for encryption, so nothing more is read.
    let tls_hello = packet(18, 1, &[0x16, 3, 1, 0, 2, 1, 0]);
    let app_data = [23, 3, 3, 0, 4, 9, 9, 9, 9];
    let evs: Vec<(Dir, Vec<u8>)> = vec![
        (Dir::ToServer, packet(18, 1, &prelogin([15, 0, 7, 0xd0], 1))),
        (Dir::ToClient, packet(4, 1, &prelogin([16, 0, 0x10, 0x7c], 1))),
        (Dir::ToServer, tls_hello),
        (Dir::ToServer, app_data.to_vec()),
    ];
    let v: Vec<Ev<'_>> = evs.iter().map(|(d, b)| (*d, &b[..])).collect();
    let o = run_on(&info(40000, 1433), &v);
    let r: Vec<Tds> = decode(&o, T_TDS);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!((r[1].kind == "login7" && r[1].encrypted && r[1].user.is_empty()), "{:?}", r[1]);
    assert_eq!(o.2.last(), Some(&Verdict::Done));
    // Cuts of every length of the last response: 4 records, an error when cut.
    let conv = tds_conversation();
    let last = &conv[7].1;
    for cut in 0..last.len() {
        let mut v: Vec<Ev<'_>> = conv.iter().map(|(d, b)| (*d, &b[..])).collect();
        v[7] = (Dir::ToClient, &last[..cut]);
        let o = run_on(&info(40000, 1433), &v);
        assert_eq!(decode::<Tds>(&o, T_TDS).len(), 4, "cut {cut}");
        assert!(!o.1.is_empty(), "cut {cut}");
    }
    // An absurd length (below the header's own 8 octets): counted, the direction stops.
    let o = run_on(&info(40000, 1433), &[(Dir::ToServer, &[1, 1, 0, 3, 0, 0, 1, 0, 0])]);
    assert_eq!(o.1, [tds::E_HEADER]);
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..3000 {
        let mut evs = conv.clone();
        for _ in 0..3 {
            let r = noise(&mut x, 3);
            let e = &mut evs[usize::from(r[0]) % conv.len()].1;
            let i = usize::from(r[1]) * e.len() / 256;
            e[i] = r[2];
        }
        let v: Vec<Ev<'_>> = evs.iter().map(|(d, b)| (*d, &b[..])).collect();
        let _ = run_on(&info(40000, 1433), &v);
        let n = noise(&mut x, 80);
        let _ = run_on(&info(40000, 1433), &[(Dir::ToServer, &n), (Dir::ToClient, &n)]);
    }
    // Every field parser on every prefix of its message.
    let l = login7("h", "u", "p", "a", "s", "d");
    for cut in 0..l.len() {
        let _ = tds::login7(&l[..cut], &mut Tds::default());
        let _ = tds::tokens(&loginack()[..cut.min(loginack().len())], false, &mut Tds::default());
        let _ = tds::prelogin(&prelogin([1, 2, 3, 4], 0)[..cut.min(17)]);
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

const REDIS_CLIENT: &[u8] = b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\
*2\r\n$4\r\nLPOP\r\n$1\r\nx\r\n*1\r\n$7\r\nCOMMAND\r\n";
const REDIS_SERVER: &[u8] = b"+OK\r\n$5\r\nhello\r\n+PONG\r\n$-1\r\n*2\r\n*2\r\n:1\r\n$1\r\na\r\n-ERR x\r\n\
>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n";

fn check_redis(r: &[Redis], errs: &[String]) {
    assert_eq!(r.len(), 6, "{r:?} {errs:?}");
    assert!(errs.is_empty(), "{errs:?}");
    let s = &r[0];
    assert_eq!((s.command.as_str(), s.num_args, s.args.as_slice()), ("SET", 2, &["k".to_string(), "hello".into()][..]));
    assert_eq!((s.reply_type.as_str(), s.reply.as_str(), s.timestamp), ("simple_string", "OK", 1000));
    assert_eq!(
        (r[1].command.as_str(), r[1].reply_type.as_str(), r[1].reply.as_str(), r[1].reply_length),
        ("GET", "bulk_string", "hello", 5)
    );
    assert_eq!((r[2].command.as_str(), r[2].inline, r[2].reply.as_str()), ("PING", true, "PONG"));
    assert_eq!((r[3].command.as_str(), r[3].reply_type.as_str(), r[3].reply_length), ("LPOP", "null", -1));
    assert_eq!((r[4].command.as_str(), r[4].reply_type.as_str(), r[4].reply_length), ("COMMAND", "array", 2));
    assert_eq!((r[5].command.as_str(), r[5].reply_type.as_str(), r[5].reply_length), ("", "push", 3));
}

#[test]
fn redis_commands_at_every_split() {
    let evs: [Ev<'_>; 2] = [(Dir::ToServer, REDIS_CLIENT), (Dir::ToClient, REDIS_SERVER)];
    let o = run_on(&info(40000, 6379), &evs);
    check_redis(&decode(&o, T_REDIS), &o.1);
    each_split(&evs, |v, cut| {
        let o = run_on(&info(40000, 6379), v);
        check_redis(&decode(&o, T_REDIS), &o.1);
        let _ = cut;
    });
    // Byte by byte.
    let mut v: Vec<Ev<'_>> = REDIS_CLIENT.chunks(1).map(|c| (Dir::ToServer, c)).collect();
    v.extend(REDIS_SERVER.chunks(1).map(|c| (Dir::ToClient, c)));
    let o = run_on(&info(40000, 6379), &v);
    assert_eq!(decode::<Redis>(&o, T_REDIS).len(), 6);
}

#[test]
fn redis_bounds_cuts_and_garbling() {
    // A bulk string of 1 MiB and 20 arguments: 256 octets and 8 arguments kept.
    let mut c = b"*21\r\n$5\r\nRPUSH\r\n$1048576\r\n".to_vec();
    c.extend(vec![b'a'; 1 << 20]);
    c.extend(b"\r\n");
    for _ in 0..19 {
        c.extend(b"$1\r\nb\r\n");
    }
    let o = run_on(&info(40000, 6379), &[(Dir::ToServer, &c), (Dir::ToClient, b":20\r\n")]);
    let r: Vec<Redis> = decode(&o, T_REDIS);
    assert_eq!((r.len(), r[0].num_args, r[0].args.len(), r[0].args[0].len()), (1, 20, 8, 256));
    assert_eq!((r[0].reply_type.as_str(), r[0].reply.as_str()), ("integer", "20"));
    // A line without end beyond the limit: counted, the direction stops.
    let long = vec![b'+'; redis::MAX_LINE + 1];
    let o = run_on(&info(40000, 6379), &[(Dir::ToClient, &long)]);
    assert_eq!(o.1, [redis::E_LONG_LINE]);
    // Nesting beyond the limit.
    let deep = b"*1\r\n".repeat(redis::MAX_DEPTH + 1);
    let o = run_on(&info(40000, 6379), &[(Dir::ToClient, &deep)]);
    assert_eq!(o.1, [redis::E_DEEP]);
    // Cuts of every length: the commands are recorded, a cut value counted.
    for cut in 1..REDIS_SERVER.len() {
        let o = run_on(&info(40000, 6379), &[(Dir::ToServer, REDIS_CLIENT), (Dir::ToClient, &REDIS_SERVER[..cut])]);
        assert!(decode::<Redis>(&o, T_REDIS).len() >= 5, "cut {cut}");
    }
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..3000 {
        let (mut c, mut s) = (REDIS_CLIENT.to_vec(), REDIS_SERVER.to_vec());
        for _ in 0..3 {
            let r = noise(&mut x, 3);
            let i = usize::from(r[0]) * c.len() / 256;
            c[i] = r[1];
            let j = usize::from(r[1]) * s.len() / 256;
            s[j] = r[2];
        }
        let _ = run_on(&info(40000, 6379), &[(Dir::ToServer, &c), (Dir::ToClient, &s)]);
        let n = noise(&mut x, 80);
        let _ = run_on(&info(40000, 6379), &[(Dir::ToServer, &n), (Dir::ToClient, &n)]);
    }
}

// ---------------------------------------------------------------------------------------------
// MongoDB (layouts from the MongoDB wire protocol reference and the BSON specification)

fn bson(fields: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
    let mut v = vec![0; 4];
    for (t, name, val) in fields {
        v.push(*t);
        v.extend(name.as_bytes());
        v.push(0);
        v.extend(val);
    }
    v.push(0);
    let n = v.len() as u32;
    v[..4].copy_from_slice(&n.to_le_bytes());
    v
}

fn bson_str(s: &str) -> Vec<u8> {
    let mut v = ((s.len() + 1) as u32).to_le_bytes().to_vec();
    v.extend(s.as_bytes());
    v.push(0);
    v
}

fn mongo_msg(req: u32, to: u32, op: u32, body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 16) as u32).to_le_bytes().to_vec();
    v.extend(req.to_le_bytes());
    v.extend(to.to_le_bytes());
    v.extend(op.to_le_bytes());
    v.extend(body);
    v
}

fn mongo_conversation() -> Vec<(Dir, Vec<u8>)> {
    let mut q = 0u32.to_le_bytes().to_vec();
    q.extend(b"admin.$cmd\0");
    q.extend(0u32.to_le_bytes());
    q.extend((-1i32).to_le_bytes());
    q.extend(bson(&[(0x10, "isMaster", 1u32.to_le_bytes().to_vec())]));
    let mut reply = 8u32.to_le_bytes().to_vec();
    reply.extend(0u64.to_le_bytes());
    reply.extend(0u32.to_le_bytes());
    reply.extend(1u32.to_le_bytes());
    reply.extend(bson(&[(1, "ok", 1f64.to_le_bytes().to_vec())]));
    let mut m = vec![0, 0, 0, 0, 0];
    m.extend(bson(&[(2, "find", bson_str("users")), (3, "filter", bson(&[])), (2, "$db", bson_str("shop"))]));
    let mut mr = vec![0, 0, 0, 0, 0];
    mr.extend(bson(&[(1, "ok", 0f64.to_le_bytes().to_vec()), (2, "errmsg", bson_str("not authorized"))]));
    vec![
        (Dir::ToServer, mongo_msg(7, 0, 2004, &q)),
        (Dir::ToClient, mongo_msg(100, 7, 1, &reply)),
        (Dir::ToServer, mongo_msg(8, 0, 2013, &m)),
        (Dir::ToClient, mongo_msg(101, 8, 2013, &mr)),
    ]
}

fn check_mongo(r: &[MongoDb], errs: &[String]) {
    assert_eq!(r.len(), 4, "{r:?} {errs:?}");
    assert!(errs.is_empty(), "{errs:?}");
    let q = &r[0];
    assert_eq!(
        (q.op_name.as_str(), q.request_id, q.database.as_str(), q.collection.as_str()),
        ("OP_QUERY", 7, "admin", "$cmd")
    );
    assert_eq!((q.command.as_str(), q.number_to_return, q.from_server, q.timestamp), ("isMaster", -1, false, 1000));
    let a = &r[1];
    assert_eq!((a.op_code, a.response_to, a.flags, a.number_returned, a.from_server), (1, 7, 8, 1, true));
    let m = &r[2];
    assert_eq!(
        (m.op_name.as_str(), m.command.as_str(), m.collection.as_str(), m.database.as_str()),
        ("OP_MSG", "find", "users", "shop")
    );
    let e = &r[3];
    assert_eq!((e.response_to, e.command.as_str(), e.error_message.as_str()), (8, "ok", "not authorized"));
}

#[test]
fn mongo_messages_at_every_split() {
    let conv = mongo_conversation();
    let evs: Vec<Ev<'_>> = conv.iter().map(|(d, b)| (*d, &b[..])).collect();
    let o = run_on(&info(40000, 27017), &evs);
    check_mongo(&decode(&o, T_MONGO), &o.1);
    each_split(&evs, |v, cut| {
        let o = run_on(&info(40000, 27017), v);
        assert_eq!(decode::<MongoDb>(&o, T_MONGO).len(), 4, "cut {cut}");
        assert!(o.1.is_empty(), "cut {cut}: {:?}", o.1);
    });
}

#[test]
fn mongo_cuts_garbling_and_huge_lengths() {
    let conv = mongo_conversation();
    let last = &conv[3].1;
    for cut in 1..last.len() {
        let mut v: Vec<Ev<'_>> = conv.iter().map(|(d, b)| (*d, &b[..])).collect();
        v[3] = (Dir::ToClient, &last[..cut]);
        let o = run_on(&info(40000, 27017), &v);
        let n = decode::<MongoDb>(&o, T_MONGO).len();
        assert!(n == 3 || n == 4, "cut {cut}");
        assert!(!o.1.is_empty(), "cut {cut}");
    }
    // A length beyond the 48 MB limit: counted, the direction stops.
    let o = run_on(&info(40000, 27017), &[(Dir::ToServer, &[0xff, 0xff, 0xff, 0x7f, 1, 2])]);
    assert_eq!(o.1, [mongo::E_HEADER]);
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..3000 {
        let mut evs = conv.clone();
        for _ in 0..3 {
            let r = noise(&mut x, 3);
            let e = &mut evs[usize::from(r[0]) % conv.len()].1;
            let i = usize::from(r[1]) * e.len() / 256;
            e[i] = r[2];
        }
        let v: Vec<Ev<'_>> = evs.iter().map(|(d, b)| (*d, &b[..])).collect();
        let _ = run_on(&info(40000, 27017), &v);
    }
    // The body parser on every prefix of every message.
    for (_, m) in &conv {
        for cut in 4..m.len() {
            let _ = mongo::message(&m[4..cut], &mut MongoDb::default());
        }
    }
}
