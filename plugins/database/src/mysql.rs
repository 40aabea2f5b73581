//! MySQL and MariaDB (TCP port 3306), client/server protocol 4.1 and later: one `MySQL` record
//! per exchange. Every message is a packet (3-octet little-endian length, sequence id, payload).
//! The handshake exchange is the server's greeting (protocol 10: version, connection id,
//! capabilities, authentication plugin), the client's handshake response (capabilities, user,
//! database, plugin; an SSL request ends the reading, the rest is TLS) and the server's OK or
//! error (authentication switches and extra rounds in between are skipped). After it, each
//! packet of the client with sequence id 0 starts a command exchange: the command byte and its
//! text, and the response: OK (affected rows, last insert id), error (code, SQL state,
//! message), or a result set (column count, then that many column definitions, an EOF unless
//! the client deprecated it, the rows, and an EOF or OK). A command without a response
//! (COM_QUIT, COM_STMT_CLOSE) is recorded when the next one starts or the connection ends.
//! A capture that begins mid-connection is read from the first command (sequence id 0).
//! Limits: a pre-4.1 handshake response (no CLIENT_PROTOCOL_41) is not read; only the first result of a multi-result response is read; a payload of 16 MiB
//! or more (split over several packets) is read as separate packets.

use crate::{Ctx, Flow, Reader, Step, T_MYSQL, cstr, set};
use netcap_proto::v1::MySql;
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_MALFORMED: &str = "mysql: malformed packet";
pub const E_TRUNCATED: &str = "mysql: packet truncated";
pub const E_GAP: &str = "mysql: gap in stream";
pub const E_NO_RESPONSE: &str = "mysql: exchange without complete response";
pub const E_OLD_PROTOCOL: &str = "mysql: handshake response without CLIENT_PROTOCOL_41 not read";

/// Capability flags used.
pub const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
pub const CLIENT_PROTOCOL_41: u32 = 0x200;
pub const CLIENT_SSL: u32 = 0x800;
pub const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
pub const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
pub const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x20_0000;

/// Where the connection is.
#[derive(Default, Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    /// Nothing seen yet.
    #[default]
    Start,
    /// The greeting came; the client's handshake response is next.
    Greeted,
    /// The handshake response came; the server's OK or error ends the handshake.
    Auth,
    /// Commands.
    Commands,
}

/// Where a command's response is.
#[derive(Default, Debug, PartialEq, Eq, Clone, Copy)]
enum Resp {
    /// Its first packet has not come.
    #[default]
    Waiting,
    /// Result set: this many column definitions still to come.
    Columns(u64),
    /// Result set: the column definitions came (an EOF may follow).
    AfterColumns,
    /// Result set: rows, up to an EOF or OK.
    Rows,
    /// COM_FIELD_LIST: column definitions up to an EOF.
    FieldList,
    /// Complete.
    Done,
}

/// Per-connection state.
#[derive(Default)]
pub struct Conn {
    rd: [Reader; 2],
    phase: Phase,
    /// The exchange in progress (when `open`).
    rec: MySql,
    open: bool,
    resp: Resp,
}

/// The payload length of the packet with header `h`.
pub fn payload_len(h: &[u8]) -> Result<usize, &'static str> {
    Ok(u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize)
}

/// The name of a command byte.
pub fn command_name(c: u8) -> &'static str {
    match c {
        0x00 => "COM_SLEEP",
        0x01 => "COM_QUIT",
        0x02 => "COM_INIT_DB",
        0x03 => "COM_QUERY",
        0x04 => "COM_FIELD_LIST",
        0x05 => "COM_CREATE_DB",
        0x06 => "COM_DROP_DB",
        0x07 => "COM_REFRESH",
        0x08 => "COM_SHUTDOWN",
        0x09 => "COM_STATISTICS",
        0x0a => "COM_PROCESS_INFO",
        0x0b => "COM_CONNECT",
        0x0c => "COM_PROCESS_KILL",
        0x0d => "COM_DEBUG",
        0x0e => "COM_PING",
        0x0f => "COM_TIME",
        0x10 => "COM_DELAYED_INSERT",
        0x11 => "COM_CHANGE_USER",
        0x12 => "COM_BINLOG_DUMP",
        0x13 => "COM_TABLE_DUMP",
        0x14 => "COM_CONNECT_OUT",
        0x15 => "COM_REGISTER_SLAVE",
        0x16 => "COM_STMT_PREPARE",
        0x17 => "COM_STMT_EXECUTE",
        0x18 => "COM_STMT_SEND_LONG_DATA",
        0x19 => "COM_STMT_CLOSE",
        0x1a => "COM_STMT_RESET",
        0x1b => "COM_SET_OPTION",
        0x1c => "COM_STMT_FETCH",
        0x1d => "COM_DAEMON",
        0x1e => "COM_BINLOG_DUMP_GTID",
        0x1f => "COM_RESET_CONNECTION",
        _ => "",
    }
}

/// A length-encoded integer at `*i` (advanced past it); NULL (0xfb) reads as 0.
pub fn lenenc(b: &[u8], i: &mut usize) -> Option<u64> {
    let first = *b.get(*i)?;
    let n = match first {
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        0xff => return None,
        _ => {
            *i += 1;
            return Some(if first == 0xfb { 0 } else { u64::from(first) });
        }
    };
    let v = b.get(*i + 1..*i + 1 + n)?;
    *i += 1 + n;
    let mut x = [0u8; 8];
    x[..n].copy_from_slice(v);
    Some(u64::from_le_bytes(x))
}

fn le32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

impl Conn {
    /// Bytes of direction `dir` (oriented: [`Dir::ToServer`] is to the database server).
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        let i = dir.index();
        while !b.is_empty() && !self.rd[i].dead {
            match self.rd[i].step(&mut b, 4, payload_len, cx.ts) {
                Step::Need => {}
                Step::Bad(e) => out.error(e),
                Step::Msg => {
                    if self.packet(dir, cx, out) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
            }
        }
        Flow::Go
    }

    /// The packet held by the direction's reader (complete, or at the end as far as it got).
    fn packet(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        let i = dir.index();
        let rd = std::mem::take(&mut self.rd[i]);
        let seq = rd.head().get(3).copied().unwrap_or(0);
        let flow = if dir == Dir::ToServer {
            self.client(seq, rd.body(), rd.ts, cx, out)
        } else {
            self.server(seq, rd.body(), rd.total(), rd.ts, cx, out);
            Flow::Go
        };
        self.rd[i] = rd;
        self.rd[i].reset();
        flow
    }

    /// Starts an exchange of kind `kind` at `ts` (recording the one in progress).
    fn start(&mut self, kind: &str, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        self.emit(out);
        let r = &mut self.rec;
        prost::Message::clear(r);
        set(&mut r.kind, kind.as_bytes());
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(&mut r.src_ip, &mut r.dst_ip);
        self.open = true;
        self.resp = Resp::Waiting;
    }

    /// Records the exchange in progress, if any.
    fn emit(&mut self, out: &mut Emitter<'_>) {
        if self.open {
            out.record(T_MYSQL, &self.rec);
            self.open = false;
        }
    }

    fn client(&mut self, seq: u8, p: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        match (self.phase, seq) {
            (Phase::Start, 0) | (Phase::Commands, 0) | (Phase::Auth, 0) => {
                self.phase = Phase::Commands;
                self.command(p, ts, cx, out);
            }
            // A handshake response: after the greeting, or (capture begun after it) the
            // client's first packet with sequence id 1.
            (Phase::Greeted, _) | (Phase::Start, 1) => {
                if self.phase == Phase::Start {
                    self.start("handshake", ts, cx, out);
                }
                self.phase = Phase::Auth;
                if let Err(e) = handshake_response(p, &mut self.rec) {
                    out.error(e);
                }
                if self.rec.ssl_requested {
                    self.emit(out);
                    return Flow::Stop;
                }
            }
            _ => {}
        }
        Flow::Go
    }

    fn command(&mut self, p: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        self.start("command", ts, cx, out);
        let r = &mut self.rec;
        let Some((&c, arg)) = p.split_first() else {
            out.error(E_MALFORMED);
            return;
        };
        r.command = u32::from(c);
        set(&mut r.command_name, command_name(c).as_bytes());
        match c {
            0x02 | 0x03 | 0x16 => set(&mut r.query, arg),
            0x04 => set(&mut r.query, cstr(arg).0),
            _ => {}
        }
    }

    fn server(&mut self, seq: u8, p: &[u8], total: usize, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let first = p.first().copied();
        match self.phase {
            Phase::Start if seq == 0 && first == Some(10) => {
                // The greeting opens the handshake (timed by it).
                self.start("handshake", ts, cx, out);
                self.phase = Phase::Greeted;
                if let Err(e) = greeting(p, &mut self.rec) {
                    out.error(e);
                }
            }
            Phase::Greeted | Phase::Auth => match first {
                Some(0x00) | Some(0xff) if self.open => {
                    ok_or_error(p, &mut self.rec);
                    self.emit(out);
                    self.phase = Phase::Commands;
                }
                _ => {}
            },
            Phase::Commands if self.open => self.response(p, total, out),
            _ => {}
        }
    }

    /// A packet of a command's response.
    fn response(&mut self, p: &[u8], total: usize, out: &mut Emitter<'_>) {
        let first = p.first().copied();
        // An EOF (or, with CLIENT_DEPRECATE_EOF, an OK that ends a result set): 0xfe and
        // shorter than a row could be that starts with a 0xfe length.
        let end = first == Some(0xfe) && total < 0xff_ffff;
        let r = &mut self.rec;
        self.resp = match self.resp {
            Resp::Done => Resp::Done,
            _ if first == Some(0xff) => {
                ok_or_error(p, r);
                Resp::Done
            }
            Resp::Waiting => match first {
                Some(0x00) if total >= 7 => {
                    ok_or_error(p, r);
                    Resp::Done
                }
                Some(0xfe) if total < 9 => {
                    set(&mut r.response, b"eof");
                    Resp::Done
                }
                Some(0xfb) => {
                    set(&mut r.response, b"local_infile");
                    Resp::Waiting
                }
                _ if r.command == 0x04 => {
                    set(&mut r.response, b"result_set");
                    r.num_fields = 1;
                    Resp::FieldList
                }
                _ => {
                    set(&mut r.response, b"result_set");
                    let mut i = 0;
                    match lenenc(p, &mut i) {
                        Some(n) => {
                            r.num_fields = n;
                            if n == 0 { Resp::AfterColumns } else { Resp::Columns(n) }
                        }
                        None => {
                            out.error(E_MALFORMED);
                            Resp::Done
                        }
                    }
                }
            },
            Resp::Columns(1) => Resp::AfterColumns,
            Resp::Columns(n) => Resp::Columns(n - 1),
            // The EOF after the column definitions is 5 octets; an OK ending a result set
            // without rows (EOF deprecated) at least 7.
            Resp::AfterColumns if first == Some(0xfe) && total == 5 => Resp::Rows,
            Resp::AfterColumns | Resp::Rows if end => Resp::Done,
            Resp::AfterColumns | Resp::Rows => {
                r.rows += 1;
                Resp::Rows
            }
            Resp::FieldList if end => Resp::Done,
            Resp::FieldList => {
                r.num_fields += 1;
                Resp::FieldList
            }
        };
        if self.resp == Resp::Done {
            self.emit(out);
        }
    }

    /// Bytes of direction `dir` are missing: the connection is read no further.
    pub fn gap(&mut self, _dir: Dir, _cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        out.error(E_GAP);
        Flow::Stop
    }

    /// The connection ended (or is read no further): a packet cut short is read as far as it
    /// got, and the exchange in progress is recorded (with an error when its response had
    /// begun but not ended, or a handshake had no answer).
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let i = dir.index();
            if !self.rd[i].dead && self.rd[i].partial() {
                out.error(E_TRUNCATED);
                if self.rd[i].in_body() {
                    let _ = self.packet(dir, cx, out);
                }
                self.rd[i].dead = true;
            }
        }
        if self.open {
            let unfinished = match self.rec.kind.as_str() {
                "handshake" => !self.rec.ssl_requested && self.rec.response.is_empty(),
                _ => !matches!(self.resp, Resp::Waiting | Resp::Done),
            };
            if unfinished {
                out.error(E_NO_RESPONSE);
            }
            self.emit(out);
        }
    }
}

/// The server's greeting (protocol 10; an error packet instead is recorded as the response).
pub fn greeting(p: &[u8], r: &mut MySql) -> Result<(), &'static str> {
    if p.first() == Some(&0xff) {
        ok_or_error(p, r);
        return Ok(());
    }
    r.protocol_version = u32::from(*p.first().ok_or(E_MALFORMED)?);
    let (version, rest) = cstr(&p[1..]);
    set(&mut r.server_version, version);
    let b = rest.ok_or(E_MALFORMED)?;
    r.connection_id = le32(b, 0).ok_or(E_MALFORMED)?;
    let low = le16(b, 13).ok_or(E_MALFORMED)?;
    r.server_capabilities = u32::from(low);
    let Some(high) = le16(b, 18) else { return Ok(()) };
    r.server_capabilities |= u32::from(high) << 16;
    let auth_len = usize::from(*b.get(20).ok_or(E_MALFORMED)?);
    if r.server_capabilities & CLIENT_PLUGIN_AUTH != 0 {
        let at = 31 + auth_len.saturating_sub(8).max(13);
        let plugin = b.get(at..).ok_or(E_MALFORMED)?;
        set(&mut r.server_auth_plugin, cstr(plugin).0);
    }
    Ok(())
}

/// The client's handshake response (protocol 4.1; the pre-4.1 layout of before 2004 is not
/// read, and a packet without the flag is taken for something else).
pub fn handshake_response(p: &[u8], r: &mut MySql) -> Result<(), &'static str> {
    if le16(p, 0).ok_or(E_MALFORMED)? & CLIENT_PROTOCOL_41 as u16 == 0 {
        return Err(E_OLD_PROTOCOL);
    }
    let caps = le32(p, 0).ok_or(E_MALFORMED)?;
    // Of the 23 reserved octets after the maximum packet size and character set the first 19
    // are zero (MariaDB puts its extended capabilities in the last 4): a packet where they
    // are not is no handshake response.
    if p.get(9..28).is_some_and(|z| z.iter().any(|&x| x != 0)) {
        return Err(E_MALFORMED);
    }
    r.client_capabilities = caps;
    if p.len() == 32 && caps & CLIENT_SSL != 0 {
        r.ssl_requested = true;
        return Ok(());
    }
    let (user, rest) = cstr(p.get(32..).ok_or(E_MALFORMED)?);
    set(&mut r.user, user);
    let b = rest.ok_or(E_MALFORMED)?;
    let mut i = 0;
    let auth_len = if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        lenenc(b, &mut i).ok_or(E_MALFORMED)? as usize
    } else if caps & CLIENT_SECURE_CONNECTION != 0 {
        i = 1;
        usize::from(*b.first().ok_or(E_MALFORMED)?)
    } else {
        let (a, _) = cstr(b);
        i = 1;
        a.len()
    };
    let mut b = b.get(i.saturating_add(auth_len)..).ok_or(E_MALFORMED)?;
    if caps & CLIENT_CONNECT_WITH_DB != 0 {
        let (db, rest) = cstr(b);
        set(&mut r.database, db);
        b = rest.unwrap_or_default();
    }
    if caps & CLIENT_PLUGIN_AUTH != 0 {
        set(&mut r.client_auth_plugin, cstr(b).0);
    }
    Ok(())
}

/// An OK (0x00, 0xfe) or error (0xff) packet into the response fields.
pub fn ok_or_error(p: &[u8], r: &mut MySql) {
    if p.first() == Some(&0xff) {
        set(&mut r.response, b"error");
        r.error_code = u32::from(le16(p, 1).unwrap_or(0));
        let msg = p.get(3..).unwrap_or_default();
        let msg = match msg.split_first() {
            Some((b'#', rest)) if rest.len() >= 5 => {
                set(&mut r.sql_state, &rest[..5]);
                &rest[5..]
            }
            _ => msg,
        };
        set(&mut r.error_message, msg);
    } else {
        set(&mut r.response, b"ok");
        let mut i = 1;
        r.affected_rows = lenenc(p, &mut i).unwrap_or(0);
        r.last_insert_id = lenenc(p, &mut i).unwrap_or(0);
    }
}
