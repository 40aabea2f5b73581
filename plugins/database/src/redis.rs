//! Redis RESP (REdis Serialization Protocol 2 and 3, TCP port 6379): one `Redis` record per
//! command with its reply. A command is an array of bulk strings or, as the Redis server reads
//! it, an inline command (a line of words not starting with `*`); a reply is any RESP value.
//! Replies answer commands in order (pipelining), so each direction is a queue of top-level
//! values, read incrementally: a value split over segments, or many in one segment, is read
//! the same. Only bounded parts are kept (the first 8 arguments, 256 octets of each string);
//! a bulk string of any length is skipped as it streams by. A reply with no command waiting
//! (pub/sub messages) is a record without a command; a command whose reply never came is
//! recorded at the end of the connection.

use crate::{Ctx, Flow, T_REDIS};
use netcap_proto::v1::Redis;
use netcap_sdk::{Dir, Emitter};
use std::collections::VecDeque;

/// Error kinds.
pub const E_PROTOCOL: &str = "redis: malformed value";
pub const E_LONG_LINE: &str = "redis: line too long";
pub const E_DEEP: &str = "redis: aggregates nested too deep";
pub const E_GAP: &str = "redis: gap in stream";
pub const E_TRUNCATED: &str = "redis: value truncated";
pub const E_QUEUE: &str = "redis: too many commands without reply";

/// Longest line (inline command, simple string, number) read; Redis's own inline limit.
pub const MAX_LINE: usize = 64 * 1024;
/// Most octets of a string kept.
pub const MAX_TEXT: usize = 256;
/// Most arguments kept after the command name.
pub const MAX_ARGS: usize = 8;
/// Deepest nesting of aggregates read.
pub const MAX_DEPTH: usize = 32;
/// Most commands waiting for their replies.
pub const MAX_PENDING: usize = 1024;

/// A top-level value as far as it is kept.
#[derive(Default, Debug, Clone)]
pub struct Value {
    /// Time of the packet with its first octet.
    pub ts: i64,
    pub ty: &'static str,
    /// A scalar's text (bounded).
    pub text: Vec<u8>,
    /// Bulk length, element count, or -1 (null).
    pub length: i64,
    /// An aggregate's direct elements that are strings or numbers (the first ones, bounded)
    /// and the count of all its direct elements.
    pub parts: Vec<Vec<u8>>,
    pub nparts: u32,
    pub inline: bool,
}

/// One direction's RESP reader.
#[derive(Default)]
pub struct Side {
    line: Vec<u8>,
    /// Octets of the bulk string in progress still to come (its CR LF included).
    bulk_left: usize,
    bulk: Vec<u8>,
    /// Remaining elements of each open aggregate.
    stack: Vec<i64>,
    /// The length of the bulk string in progress.
    cur_len: i64,
    /// A value is under way.
    started: bool,
    pub cur: Value,
    pub dead: bool,
}

/// What reading a line or bulk came to.
enum Got {
    /// Nothing complete yet.
    Need,
    /// A top-level value is complete (in `cur`).
    Done,
}

/// The RESP type name of a type octet.
fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        b'+' => "simple_string",
        b'-' => "error",
        b':' => "integer",
        b'$' => "bulk_string",
        b'*' => "array",
        b'_' => "null",
        b',' => "double",
        b'#' => "boolean",
        b'(' => "big_number",
        b'!' => "bulk_error",
        b'=' => "verbatim_string",
        b'%' => "map",
        b'~' => "set",
        b'>' => "push",
        b'|' => "attribute",
        _ => return None,
    })
}

fn bounded(b: &[u8]) -> Vec<u8> {
    b[..b.len().min(MAX_TEXT)].to_vec()
}

fn parse_len(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl Side {
    /// Reads from the front of `b` until a top-level value is complete (`Ok(true)`) or `b` is
    /// used up (`Ok(false)`); `client`: a line not starting with `*` at the top is an inline
    /// command.
    pub fn next(&mut self, b: &mut &[u8], ts: i64, client: bool) -> Result<bool, &'static str> {
        while !b.is_empty() {
            if !self.started {
                self.cur = Value { ts, ..Value::default() };
                self.started = true;
            }
            let got = if self.bulk_left > 0 { self.bulk_bytes(b) } else { self.line_bytes(b, client)? };
            if let Got::Done = got {
                self.started = false;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether part of a value was read.
    pub fn partial(&self) -> bool {
        self.started
            && (self.bulk_left > 0 || !self.line.is_empty() || !self.stack.is_empty() || !self.cur.ty.is_empty())
    }

    fn bulk_bytes(&mut self, b: &mut &[u8]) -> Got {
        let n = self.bulk_left.min(b.len());
        let room = MAX_TEXT.saturating_sub(self.bulk.len());
        self.bulk.extend_from_slice(&b[..n.min(room)]);
        self.bulk_left -= n;
        *b = &b[n..];
        if self.bulk_left > 0 {
            return Got::Need;
        }
        let mut s = std::mem::take(&mut self.bulk);
        // The kept octets may include the closing CR LF of a short string.
        let len = usize::try_from(self.cur_len).unwrap_or(0);
        s.truncate(len.min(MAX_TEXT));
        self.scalar(&s)
    }

    fn line_bytes(&mut self, b: &mut &[u8], client: bool) -> Result<Got, &'static str> {
        let (take, end) = match b.iter().position(|&x| x == b'\n') {
            Some(i) => (i + 1, true),
            None => (b.len(), false),
        };
        if self.line.len() + take > MAX_LINE {
            self.dead = true;
            return Err(E_LONG_LINE);
        }
        self.line.extend_from_slice(&b[..take]);
        *b = &b[take..];
        if !end {
            return Ok(Got::Need);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let got = self.line(&line, client);
        line.clear();
        self.line = line;
        got
    }

    fn line(&mut self, l: &[u8], client: bool) -> Result<Got, &'static str> {
        let top = self.stack.is_empty();
        if top && client && l.first() != Some(&b'*') {
            return Ok(self.inline(l));
        }
        let Some((&t, rest)) = l.split_first() else {
            // An empty line between values.
            return Ok(if top { self.idle() } else { Got::Need });
        };
        let Some(ty) = type_name(t) else {
            self.dead = true;
            return Err(E_PROTOCOL);
        };
        if top {
            self.cur.ty = ty;
        }
        match t {
            b'$' | b'!' | b'=' => {
                let n = parse_len(rest).ok_or(E_PROTOCOL).inspect_err(|_| self.dead = true)?;
                if top {
                    self.cur.length = n;
                }
                if n < 0 {
                    if top {
                        self.cur.ty = "null";
                    }
                    return Ok(self.element(None));
                }
                self.cur_len = n;
                self.bulk_left = usize::try_from(n).unwrap_or(usize::MAX).saturating_add(2);
                Ok(Got::Need)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = parse_len(rest).ok_or(E_PROTOCOL).inspect_err(|_| self.dead = true)?;
                let elems = if matches!(t, b'%' | b'|') { n.saturating_mul(2) } else { n };
                if top {
                    self.cur.length = n;
                    if n < 0 {
                        self.cur.ty = "null";
                    }
                }
                if elems <= 0 {
                    return Ok(self.element(None));
                }
                if self.stack.len() >= MAX_DEPTH {
                    self.dead = true;
                    return Err(E_DEEP);
                }
                self.count_part();
                self.stack.push(elems);
                Ok(Got::Need)
            }
            _ => Ok(self.scalar(rest)),
        }
    }

    /// An empty line where a value would start: skipped.
    fn idle(&mut self) -> Got {
        self.started = false;
        Got::Need
    }

    /// A line of words: an inline command.
    fn inline(&mut self, l: &[u8]) -> Got {
        let words = l.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty());
        let v = &mut self.cur;
        for w in words {
            if v.parts.len() <= MAX_ARGS {
                v.parts.push(bounded(w));
            }
            v.nparts += 1;
        }
        if v.nparts == 0 {
            return self.idle();
        }
        v.ty = "inline";
        v.inline = true;
        Got::Done
    }

    /// A string or number value `s`.
    fn scalar(&mut self, s: &[u8]) -> Got {
        if self.stack.is_empty() {
            self.cur.text = bounded(s);
        }
        self.element(Some(s))
    }

    /// A direct element of the top-level aggregate counts toward its parts.
    fn count_part(&mut self) {
        if self.stack.len() == 1 {
            self.cur.nparts += 1;
        }
    }

    /// A value ended (`s`: its text when it is a string or number): closes the aggregates it
    /// completes.
    fn element(&mut self, s: Option<&[u8]>) -> Got {
        if self.stack.len() == 1 {
            self.cur.nparts += 1;
            if self.cur.parts.len() <= MAX_ARGS {
                self.cur.parts.push(s.map(bounded).unwrap_or_default());
            }
        }
        loop {
            let Some(top) = self.stack.last_mut() else { return Got::Done };
            *top -= 1;
            if *top > 0 {
                return Got::Need;
            }
            self.stack.pop();
        }
    }
}

/// Per-connection state.
#[derive(Default)]
pub struct Conn {
    sides: [Side; 2],
    pending: VecDeque<Redis>,
}

impl Conn {
    /// Bytes of direction `dir` (oriented: [`Dir::ToServer`] is to the database server).
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        let i = dir.index();
        while !b.is_empty() && !self.sides[i].dead {
            match self.sides[i].next(&mut b, cx.ts, dir == Dir::ToServer) {
                Ok(true) => {
                    let v = std::mem::take(&mut self.sides[i].cur);
                    if dir == Dir::ToServer {
                        self.command(v, cx, out);
                    } else {
                        self.reply(&v, cx, out);
                    }
                }
                Ok(false) => {}
                Err(e) => out.error(e),
            }
        }
        if self.sides.iter().all(|s| s.dead) {
            return Flow::Stop;
        }
        Flow::Go
    }

    fn command(&mut self, v: Value, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let mut r = Redis { timestamp: v.ts, inline: v.inline, ..Redis::default() };
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(&mut r.src_ip, &mut r.dst_ip);
        let mut parts = v.parts.into_iter();
        if v.ty == "array" || v.inline {
            r.command = String::from_utf8_lossy(&parts.next().unwrap_or_default()).to_ascii_uppercase();
            r.num_args = v.nparts.saturating_sub(1);
            r.args = parts.take(MAX_ARGS).map(|p| String::from_utf8_lossy(&p).into_owned()).collect();
        }
        if self.pending.len() >= MAX_PENDING {
            out.error(E_QUEUE);
            if let Some(old) = self.pending.pop_front() {
                out.record(T_REDIS, &old);
            }
        }
        self.pending.push_back(r);
    }

    fn reply(&mut self, v: &Value, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let mut r = self.pending.pop_front().unwrap_or_else(|| {
            let mut r = Redis { timestamp: v.ts, ..Redis::default() };
            (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(&mut r.src_ip, &mut r.dst_ip);
            r
        });
        r.reply_type = v.ty.to_string();
        r.reply = String::from_utf8_lossy(&v.text).into_owned();
        r.reply_length = match v.ty {
            "bulk_string" | "bulk_error" | "verbatim_string" | "array" | "map" | "set" | "push" | "attribute"
            | "null" => v.length,
            _ => 0,
        };
        out.record(T_REDIS, &r);
    }

    /// Bytes of direction `dir` are missing: the connection is read no further.
    pub fn gap(&mut self, _dir: Dir, _cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        out.error(E_GAP);
        Flow::Stop
    }

    /// The connection ended: a value cut short is counted, and the commands without reply are
    /// recorded.
    pub fn close(&mut self, _cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for s in &self.sides {
            if !s.dead && s.partial() {
                out.error(E_TRUNCATED);
            }
        }
        for r in self.pending.drain(..) {
            out.record(T_REDIS, &r);
        }
    }
}
