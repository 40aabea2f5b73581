//! MongoDB wire protocol (TCP port 27017): one `MongoDB` record per message, either direction,
//! each carrying its request id and the request id it answers (`response_to`), which pairs a
//! reply with its request. A message is its 16-octet header (length, request id, response to,
//! op code) and a body read as the op code says: the legacy OP_QUERY, OP_REPLY, OP_INSERT,
//! OP_UPDATE, OP_DELETE, OP_GET_MORE, OP_KILL_CURSORS, and OP_MSG (MongoDB 3.6 and later), whose
//! first section's document names the command, its collection and (`$db`) its database.
//! BSON documents are only walked at their top level, over at most [`crate::KEEP`] octets of a
//! message. OP_COMPRESSED bodies are not decompressed (the compressor and the op code inside are
//! recorded).

use crate::{Ctx, Flow, Reader, Step, T_MONGO, cstr, set};
use netcap_proto::v1::MongoDb;
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_HEADER: &str = "mongodb: bad message length";
pub const E_MALFORMED: &str = "mongodb: malformed message";
pub const E_TRUNCATED: &str = "mongodb: message truncated";
pub const E_GAP: &str = "mongodb: gap in stream";

/// Largest message accepted (MongoDB's maxMessageSizeBytes).
pub const MAX_MESSAGE: usize = 48_000_000;

/// Op codes.
pub const OP_REPLY: u32 = 1;
pub const OP_UPDATE: u32 = 2001;
pub const OP_INSERT: u32 = 2002;
pub const OP_QUERY: u32 = 2004;
pub const OP_GET_MORE: u32 = 2005;
pub const OP_DELETE: u32 = 2006;
pub const OP_KILL_CURSORS: u32 = 2007;
pub const OP_COMPRESSED: u32 = 2012;
pub const OP_MSG: u32 = 2013;

/// The name of an op code ("" for an unknown one).
pub fn op_name(op: u32) -> &'static str {
    match op {
        OP_REPLY => "OP_REPLY",
        OP_UPDATE => "OP_UPDATE",
        OP_INSERT => "OP_INSERT",
        OP_QUERY => "OP_QUERY",
        OP_GET_MORE => "OP_GET_MORE",
        OP_DELETE => "OP_DELETE",
        OP_KILL_CURSORS => "OP_KILL_CURSORS",
        OP_COMPRESSED => "OP_COMPRESSED",
        OP_MSG => "OP_MSG",
        _ => "",
    }
}

/// The body length of the message whose 4-octet length is `h`.
pub fn message_len(h: &[u8]) -> Result<usize, &'static str> {
    let n = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if !(16..=MAX_MESSAGE).contains(&n) {
        return Err(E_HEADER);
    }
    Ok(n - 4)
}

/// Per-connection state.
#[derive(Default)]
pub struct Conn {
    rd: [Reader; 2],
    rec: MongoDb,
}

impl Conn {
    /// Bytes of direction `dir` (oriented: [`Dir::ToServer`] is to the database server).
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        let i = dir.index();
        while !b.is_empty() && !self.rd[i].dead {
            match self.rd[i].step(&mut b, 4, message_len, cx.ts) {
                Step::Need => {}
                Step::Bad(e) => out.error(e),
                Step::Msg => {
                    self.message(dir, cx, out);
                    self.rd[i].reset();
                }
            }
        }
        if self.rd.iter().all(|r| r.dead) {
            return Flow::Stop;
        }
        Flow::Go
    }

    /// The message held by the direction's reader: one record.
    fn message(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let rd = &self.rd[dir.index()];
        let r = &mut self.rec;
        prost::Message::clear(r);
        r.timestamp = rd.ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(&mut r.src_ip, &mut r.dst_ip);
        r.from_server = dir == Dir::ToClient;
        r.message_length = rd.total() as u32 + 4;
        if let Err(e) = message(rd.body(), r) {
            out.error(e);
        }
        out.record(T_MONGO, &self.rec);
    }

    /// Bytes of direction `dir` are missing: the connection is read no further.
    pub fn gap(&mut self, _dir: Dir, _cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        out.error(E_GAP);
        Flow::Stop
    }

    /// The connection ended: a message cut short is read as far as it got.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let i = dir.index();
            if !self.rd[i].dead && self.rd[i].partial() {
                out.error(E_TRUNCATED);
                if self.rd[i].in_body() {
                    self.message(dir, cx, out);
                }
                self.rd[i].dead = true;
            }
        }
    }
}

fn le32(b: &[u8], i: usize) -> Result<u32, &'static str> {
    Ok(u32::from_le_bytes(b.get(i..i + 4).ok_or(E_MALFORMED)?.try_into().map_err(|_| E_MALFORMED)?))
}

fn le64(b: &[u8], i: usize) -> Result<u64, &'static str> {
    Ok(u64::from_le_bytes(b.get(i..i + 8).ok_or(E_MALFORMED)?.try_into().map_err(|_| E_MALFORMED)?))
}

/// A message body after the length (request id, response to, op code, then the op's body).
pub fn message(b: &[u8], r: &mut MongoDb) -> Result<(), &'static str> {
    r.request_id = le32(b, 0)?;
    r.response_to = le32(b, 4)?;
    r.op_code = le32(b, 8)?;
    set(&mut r.op_name, op_name(r.op_code).as_bytes());
    let p = &b[12..];
    match r.op_code {
        OP_REPLY => reply(p, r),
        OP_QUERY => query(p, r),
        OP_INSERT => {
            r.flags = le32(p, 0)?;
            collection(cstr(&p[4..]).0, r);
            Ok(())
        }
        OP_UPDATE | OP_DELETE | OP_GET_MORE => legacy(p, r),
        OP_MSG => msg(p, r),
        OP_COMPRESSED => {
            r.original_op_code = le32(p, 0)?;
            r.compressor = u32::from(*p.get(8).ok_or(E_MALFORMED)?);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A full collection name "<database>.<collection>".
fn collection(name: &[u8], r: &mut MongoDb) {
    let (db, coll) = match name.iter().position(|&c| c == b'.') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (name, &name[name.len()..]),
    };
    set(&mut r.database, db);
    set(&mut r.collection, coll);
}

fn reply(p: &[u8], r: &mut MongoDb) -> Result<(), &'static str> {
    r.flags = le32(p, 0)?;
    r.cursor_id = le64(p, 4)? as i64;
    r.number_returned = le32(p, 16)? as i32;
    if let Some(doc) = p.get(20..) {
        error_of(doc, r);
    }
    Ok(())
}

fn query(p: &[u8], r: &mut MongoDb) -> Result<(), &'static str> {
    r.flags = le32(p, 0)?;
    let (name, rest) = cstr(p.get(4..).ok_or(E_MALFORMED)?);
    collection(name, r);
    let rest = rest.ok_or(E_MALFORMED)?;
    r.number_to_skip = le32(rest, 0)? as i32;
    r.number_to_return = le32(rest, 4)? as i32;
    if r.collection == "$cmd" {
        let (key, _, _) = first_field(rest.get(8..).ok_or(E_MALFORMED)?).ok_or(E_MALFORMED)?;
        set(&mut r.command, key);
    }
    Ok(())
}

/// OP_UPDATE, OP_DELETE and OP_GET_MORE: a zero, the full collection name, then flags
/// (update, delete) or the number to return and the cursor id (get more).
fn legacy(p: &[u8], r: &mut MongoDb) -> Result<(), &'static str> {
    let (name, rest) = cstr(p.get(4..).ok_or(E_MALFORMED)?);
    collection(name, r);
    let rest = rest.ok_or(E_MALFORMED)?;
    if r.op_code == OP_GET_MORE {
        r.number_to_return = le32(rest, 0)? as i32;
        r.cursor_id = le64(rest, 4)? as i64;
    } else {
        r.flags = le32(rest, 0)?;
    }
    Ok(())
}

/// OP_MSG: flag bits, then sections; the body section (kind 0) names the command.
fn msg(p: &[u8], r: &mut MongoDb) -> Result<(), &'static str> {
    r.flags = le32(p, 0)?;
    let mut i = 4;
    while let Some(&kind) = p.get(i) {
        let len = le32(p, i + 1)? as usize;
        let body = p.get(i + 1..).ok_or(E_MALFORMED)?;
        if kind == 0 {
            body_section(body, r)?;
            return Ok(());
        }
        if kind != 1 || len < 4 {
            return Err(E_MALFORMED);
        }
        i += 1 + len;
    }
    Ok(())
}

fn body_section(doc: &[u8], r: &mut MongoDb) -> Result<(), &'static str> {
    let (key, t, v) = first_field(doc).ok_or(E_MALFORMED)?;
    set(&mut r.command, key);
    if t == 2 {
        set(&mut r.collection, string(v));
    }
    if let Some((2, db)) = field(doc, b"$db") {
        set(&mut r.database, string(db));
    }
    error_of(doc, r);
    Ok(())
}

/// A document's "errmsg" or "$err" string into the error message.
fn error_of(doc: &[u8], r: &mut MongoDb) {
    for name in [&b"errmsg"[..], b"$err"] {
        if let Some((2, v)) = field(doc, name) {
            set(&mut r.error_message, string(v));
            return;
        }
    }
}

/// A BSON string value's text (without its length and NUL).
fn string(v: &[u8]) -> &[u8] {
    let n = v.get(..4).map_or(0, |l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize);
    v.get(4..(4 + n).saturating_sub(1).max(4)).unwrap_or_default()
}

/// The octets of a BSON value of type `t` at the front of `v`.
fn value_len(t: u8, v: &[u8]) -> Option<usize> {
    let l32 = || v.get(..4).map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize);
    Some(match t {
        1 | 9 | 17 | 18 => 8,
        2 | 13 | 14 => 4 + l32()?,
        3 | 4 | 15 => l32()?,
        5 => 5 + l32()?,
        6 | 10 | 0x7f | 0xff => 0,
        7 => 12,
        8 => 1,
        11 => {
            let (a, rest) = cstr(v);
            let (b, _) = cstr(rest?);
            a.len() + b.len() + 2
        }
        12 => 4 + l32()? + 12,
        16 => 4,
        19 => 16,
        _ => return None,
    })
}

/// The top-level fields of a BSON document: (name, type, value), up to the end of what is
/// there or the first malformed one.
fn fields(doc: &[u8]) -> impl Iterator<Item = Field<'_>> {
    let end = doc.get(..4).map_or(0, |l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize);
    let mut i = 4;
    std::iter::from_fn(move || {
        let t = *doc.get(i)?;
        if t == 0 || i >= end {
            return None;
        }
        let (name, rest) = cstr(doc.get(i + 1..)?);
        let rest = rest?;
        let n = value_len(t, rest)?;
        let v = rest.get(..n)?;
        i += 1 + name.len() + 1 + n;
        Some((name, t, v))
    })
}

/// A BSON field: name, type, value.
type Field<'a> = (&'a [u8], u8, &'a [u8]);

/// The first field of a document.
fn first_field(doc: &[u8]) -> Option<Field<'_>> {
    fields(doc).next()
}

/// The field `name` of a document: its type and value.
fn field<'a>(doc: &'a [u8], name: &[u8]) -> Option<(u8, &'a [u8])> {
    fields(doc).find(|f| f.0 == name).map(|f| (f.1, f.2))
}
