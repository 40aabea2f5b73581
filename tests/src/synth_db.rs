//! Database conversations built from the protocol documentation, for what the corpus lacks:
//! a TDS connection from its pre-login and Login7 (obfuscated password) through an SQL batch of
//! two TDS packets over two TCP segments and an RPC answered with an error ([MS-TDS]), and
//! MongoDB OP_MSG requests and replies (the MongoDB wire protocol reference, BSON 1.1).

use crate::synth_stream::Conv;

/// A TDS packet: type, status (1: end of message), body.
pub fn tds_packet(ty: u8, status: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, status];
    v.extend(((body.len() + 8) as u16).to_be_bytes());
    v.extend([0, 0, 1, 0]);
    v.extend(body);
    v
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Pre-login options VERSION and ENCRYPTION.
fn prelogin(version: [u8; 4], enc: u8) -> Vec<u8> {
    let mut v = vec![0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xff];
    v.extend(version);
    v.extend([0, 0, enc]);
    v
}

/// A TDS 7.4 Login7 with host, user, password (obfuscated as sent), application, server and
/// database.
pub fn login7(strings: [&str; 6]) -> Vec<u8> {
    let [host, user, pass, app, server, db] = strings;
    let mut v = vec![0u8; 36];
    v[4..8].copy_from_slice(&0x7400_0004u32.to_le_bytes());
    v[8..12].copy_from_slice(&4096u32.to_le_bytes());
    let obf: Vec<u8> = utf16(pass).iter().map(|x| x.rotate_left(4) ^ 0xa5).collect();
    let fields: [Vec<u8>; 9] = [
        utf16(host),
        utf16(user),
        obf,
        utf16(app),
        utf16(server),
        vec![],
        utf16("ODBC"),
        utf16("us_english"),
        utf16(db),
    ];
    let mut data: Vec<u8> = Vec::new();
    for f in &fields {
        v.extend(((94 + data.len()) as u16).to_le_bytes());
        v.extend(((f.len() / 2) as u16).to_le_bytes());
        data.extend(f);
    }
    v.extend([0u8; 6]);
    for _ in 0..4 {
        v.extend(((94 + data.len()) as u16).to_le_bytes());
        v.extend([0, 0]);
    }
    v.truncate(90);
    v.extend(0u32.to_le_bytes());
    v.extend(data);
    let n = v.len() as u32;
    v[..4].copy_from_slice(&n.to_le_bytes());
    v
}

/// An SQL batch with the ALL_HEADERS of TDS 7.2+ (a transaction descriptor).
fn sql_batch(q: &str) -> Vec<u8> {
    let mut v = 22u32.to_le_bytes().to_vec();
    v.extend(18u32.to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend([0u8; 8]);
    v.extend(1u32.to_le_bytes());
    v.extend(utf16(q));
    v
}

fn done(t: u8, status: u16, cmd: u16, rows: u64) -> Vec<u8> {
    let mut v = vec![t];
    v.extend(status.to_le_bytes());
    v.extend(cmd.to_le_bytes());
    v.extend(rows.to_le_bytes());
    v
}

fn token(t: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![t];
    v.extend((body.len() as u16).to_le_bytes());
    v.extend(body);
    v
}

fn loginack() -> Vec<u8> {
    let mut b = vec![1, 0x74, 0, 0, 4, 20];
    b.extend(utf16("Microsoft SQL Server"));
    b.extend([16, 0, 0x10, 0x7c]);
    token(0xad, &b)
}

fn error(number: u32, msg: &str) -> Vec<u8> {
    let mut b = number.to_le_bytes().to_vec();
    b.extend([1, 16]);
    b.extend((msg.encode_utf16().count() as u16).to_le_bytes());
    b.extend(utf16(msg));
    b.extend([4]);
    b.extend(utf16("db01"));
    b.extend([0]);
    b.extend(3u32.to_le_bytes());
    token(0xaa, &b)
}

/// A TDS connection: pre-login, Login7 (user "sa", password "Secret1!"), LOGINACK; an SQL batch
/// of two packets sent in two segments and its DONE; an RPC by name with an error.
pub fn tds_conversation(t0: i64) -> Conv {
    let mut c = Conv::new(21, 49300, 1433, 0x5100_0000, 0x5200_0000, t0);
    c.handshake();
    c.send(true, &tds_packet(18, 1, &prelogin([15, 0, 7, 0xd0], 2)));
    c.send(false, &tds_packet(4, 1, &prelogin([16, 0, 0x10, 0x7c], 2)));
    c.send(true, &tds_packet(16, 1, &login7(["WS-7", "sa", "Secret1!", "sqlcmd", "db01", "shop"])));
    let mut ack = loginack();
    ack.extend(done(0xfd, 0, 0, 0));
    c.send(false, &tds_packet(4, 1, &ack));
    let first = tds_packet(1, 0, &sql_batch("select name, price from products"));
    let second = tds_packet(1, 1, &utf16(" where price > 10"));
    c.segment(true, &first);
    c.send(true, &second);
    c.send(false, &tds_packet(4, 1, &done(0xfd, 0x10, 0xc1, 0)));
    let mut rpc = 10u16.to_le_bytes().to_vec();
    rpc.extend(utf16("p_getorder"));
    rpc.extend([0, 0]);
    c.send(true, &tds_packet(3, 1, &rpc));
    let mut err = error(2812, "Could not find stored procedure 'p_getorder'.");
    err.extend(done(0xfe, 2, 0, 0));
    c.send(false, &tds_packet(4, 1, &err));
    c.close();
    c
}

/// A BSON document of (type, name, value) fields.
pub fn bson(fields: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
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

/// A BSON string value.
pub fn bson_str(s: &str) -> Vec<u8> {
    let mut v = ((s.len() + 1) as u32).to_le_bytes().to_vec();
    v.extend(s.as_bytes());
    v.push(0);
    v
}

/// A MongoDB message: request id, response to, op code, body.
pub fn mongo_msg(req: u32, to: u32, op: u32, body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 16) as u32).to_le_bytes().to_vec();
    v.extend(req.to_le_bytes());
    v.extend(to.to_le_bytes());
    v.extend(op.to_le_bytes());
    v.extend(body);
    v
}

/// OP_MSG with one body section.
fn op_msg(doc: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0, 0];
    v.extend(doc);
    v
}

/// A MongoDB connection in OP_MSG: a find on shop.users and its reply, an insert whose
/// documents are a kind-1 section, and a command failing with an error message; the find's
/// reply spans two segments.
pub fn mongo_conversation(t0: i64) -> Conv {
    let mut c = Conv::new(22, 49301, 27017, 0x5300_0000, 0x5400_0000, t0);
    c.handshake();
    let find = bson(&[(2, "find", bson_str("users")), (3, "filter", bson(&[])), (2, "$db", bson_str("shop"))]);
    c.send(true, &mongo_msg(1, 0, 2013, &op_msg(&find)));
    let batch = bson(&[(2, "name", bson_str("ada")), (16, "age", 36u32.to_le_bytes().to_vec())]);
    let cursor = bson(&[(4, "firstBatch", bson(&[(3, "0", batch)])), (18, "id", 0u64.to_le_bytes().to_vec())]);
    let reply =
        mongo_msg(101, 1, 2013, &op_msg(&bson(&[(3, "cursor", cursor), (1, "ok", 1f64.to_le_bytes().to_vec())])));
    c.segment(false, &reply[..30]);
    c.send(false, &reply[30..]);
    let mut ins = op_msg(&bson(&[(2, "insert", bson_str("users")), (2, "$db", bson_str("shop"))]));
    let doc = bson(&[(2, "name", bson_str("bob"))]);
    ins.push(1);
    ins.extend(((4 + 10 + doc.len()) as u32).to_le_bytes());
    ins.extend(b"documents\0");
    ins.extend(&doc);
    c.send(true, &mongo_msg(2, 0, 2013, &ins));
    c.send(
        false,
        &mongo_msg(
            102,
            2,
            2013,
            &op_msg(&bson(&[(16, "n", 1u32.to_le_bytes().to_vec()), (1, "ok", 1f64.to_le_bytes().to_vec())])),
        ),
    );
    c.send(
        true,
        &mongo_msg(
            3,
            0,
            2013,
            &op_msg(&bson(&[(16, "dropDatabase", 1u32.to_le_bytes().to_vec()), (2, "$db", bson_str("shop"))])),
        ),
    );
    let err = bson(&[
        (1, "ok", 0f64.to_le_bytes().to_vec()),
        (2, "errmsg", bson_str("not authorized on shop")),
        (16, "code", 13u32.to_le_bytes().to_vec()),
    ]);
    c.send(false, &mongo_msg(103, 3, 2013, &op_msg(&err)));
    c.close();
    c
}
