//! TDS (Tabular Data Stream: Microsoft SQL Server, TCP port 1433; the layouts of [MS-TDS]): one
//! `TDS` record per exchange, a client message with the server's response message. A message is
//! the bodies of its packets (8-octet header: type, status, length, SPID, packet id, window) up
//! to the one with the end-of-message status bit. Read: pre-login (VERSION and ENCRYPTION
//! options of both sides), Login7 (user, de-obfuscated password, host, application, server,
//! library, language, database), SQL batch text (after the ALL_HEADERS of TDS 7.2+), the RPC
//! procedure name or id, and of the response the LOGINACK, ERROR and DONE tokens up to the first
//! token whose length depends on column metadata. After a pre-login that negotiated encryption,
//! the TLS handshake travels in pre-login packets (skipped) and the Login7 in a TLS record (an
//! `encrypted` login7 record); when the server asked for full encryption the rest is TLS and
//! the connection is read no further.

use crate::{Ctx, Flow, KEEP, Reader, Step, T_TDS, set};
use netcap_proto::v1::Tds;
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_HEADER: &str = "tds: bad packet header";
pub const E_MALFORMED: &str = "tds: malformed message";
pub const E_TRUNCATED: &str = "tds: message truncated";
pub const E_GAP: &str = "tds: gap in stream";
pub const E_NO_RESPONSE: &str = "tds: exchange without response";

/// Packet types.
pub const SQL_BATCH: u8 = 1;
pub const LOGIN: u8 = 2;
pub const RPC: u8 = 3;
pub const TABULAR: u8 = 4;
pub const ATTENTION: u8 = 6;
pub const BULK: u8 = 7;
pub const FEDAUTH: u8 = 8;
pub const TRANSACTION: u8 = 14;
pub const LOGIN7: u8 = 16;
pub const SSPI: u8 = 17;
pub const PRELOGIN: u8 = 18;

/// The kind name of a client packet type ("" for one a client does not send).
pub fn kind_name(t: u8) -> &'static str {
    match t {
        SQL_BATCH => "sql_batch",
        LOGIN => "login",
        RPC => "rpc",
        ATTENTION => "attention",
        BULK => "bulk_load",
        FEDAUTH => "federated_auth",
        TRANSACTION => "transaction_manager",
        LOGIN7 => "login7",
        SSPI => "sspi",
        PRELOGIN => "prelogin",
        _ => "",
    }
}

/// Whether the header is a TLS record's (content type 20..23, version 3.x).
fn is_tls(h: &[u8]) -> bool {
    (20..=23).contains(&h[0]) && h[1] == 3
}

/// The body length of the packet (or TLS record) whose 8-octet header is `h`.
pub fn packet_len(h: &[u8]) -> Result<usize, &'static str> {
    let n = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if is_tls(h) {
        // The 5-octet TLS header plus 3 octets of its body are in `h`.
        let n = usize::from(u16::from_be_bytes([h[3], h[4]]));
        return n.checked_sub(3).ok_or(E_HEADER);
    }
    if n < 8 || (kind_name(h[0]).is_empty() && h[0] != TABULAR) || h[1] & 0xe0 != 0 {
        return Err(E_HEADER);
    }
    Ok(n - 8)
}

/// One direction's message being assembled from packets.
#[derive(Default)]
struct Msg {
    ty: u8,
    ts: i64,
    body: Vec<u8>,
    /// Packets of the message so far.
    packets: u32,
}

/// Per-connection state.
#[derive(Default)]
pub struct Conn {
    rd: [Reader; 2],
    msg: [Msg; 2],
    /// The exchange in progress (when `open`).
    rec: Tds,
    open: bool,
    /// The pre-login exchange came: later pre-login messages are the TLS handshake.
    prelogin_done: bool,
    /// TDS 7.1 or older (DONE row counts of 4 octets).
    old_done: bool,
    /// The server's pre-login ENCRYPTION option.
    enc: u32,
}

impl Conn {
    /// Bytes of direction `dir` (oriented: [`Dir::ToServer`] is to the database server).
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        let i = dir.index();
        while !b.is_empty() && !self.rd[i].dead {
            match self.rd[i].step(&mut b, 8, packet_len, cx.ts) {
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

    /// The packet held by the direction's reader.
    fn packet(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        let i = dir.index();
        let rd = &mut self.rd[i];
        let (h, ts) = (rd.head(), rd.ts);
        let (ty, eom) = (h[0], h.get(1).is_some_and(|s| s & 1 != 0));
        if h.len() == 8 && is_tls(h) {
            rd.reset();
            return self.tls_record(dir, ty, ts, cx, out);
        }
        let m = &mut self.msg[i];
        if m.packets == 0 {
            (m.ty, m.ts) = (ty, ts);
            m.body.clear();
        }
        m.packets += 1;
        let keep = rd.body().len().min(KEEP.saturating_sub(m.body.len()));
        m.body.extend_from_slice(&rd.body()[..keep]);
        rd.reset();
        if eom {
            return self.message(dir, cx, out);
        }
        Flow::Go
    }

    /// A TLS record in place of a packet: after pre-login, the client's first application data
    /// record is its Login7; with full encryption nothing more is readable.
    fn tls_record(&mut self, dir: Dir, ty: u8, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        if ty != 23 {
            return Flow::Go;
        }
        if dir == Dir::ToServer && self.rec.kind != "login7" {
            self.start(LOGIN7, ts, cx, out);
            self.rec.encrypted = true;
        }
        // Encryption on (1) or required (3) by the server: everything is TLS from here.
        if matches!(self.enc, 1 | 3) || !self.prelogin_done {
            self.emit(out);
            return Flow::Stop;
        }
        Flow::Go
    }

    /// A complete message of direction `dir`.
    fn message(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        let i = dir.index();
        let m = std::mem::take(&mut self.msg[i]);
        let r = if dir == Dir::ToServer { self.request(&m, cx, out) } else { self.response(&m, out) };
        if let Err(e) = r {
            out.error(e);
        }
        self.msg[i] = m;
        self.msg[i].packets = 0;
        Flow::Go
    }

    /// Starts an exchange of client packet type `ty` at `ts` (recording the one in progress).
    fn start(&mut self, ty: u8, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        self.emit(out);
        let r = &mut self.rec;
        prost::Message::clear(r);
        set(&mut r.kind, kind_name(ty).as_bytes());
        r.packet_type = u32::from(ty);
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(&mut r.src_ip, &mut r.dst_ip);
        self.open = true;
    }

    /// Records the exchange in progress, if any.
    fn emit(&mut self, out: &mut Emitter<'_>) {
        if self.open {
            out.record(T_TDS, &self.rec);
            self.open = false;
        }
    }

    fn request(&mut self, m: &Msg, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Result<(), &'static str> {
        if m.ty == PRELOGIN && self.prelogin_done {
            // The TLS handshake inside pre-login packets.
            return Ok(());
        }
        if kind_name(m.ty).is_empty() {
            return Err(E_MALFORMED);
        }
        self.start(m.ty, m.ts, cx, out);
        let (b, r) = (&m.body[..], &mut self.rec);
        match m.ty {
            PRELOGIN => {
                let (v, e) = prelogin(b)?;
                (r.client_version, r.client_encryption) = (v, e);
            }
            LOGIN7 => {
                login7(b, r)?;
                // TDS 7.0 and 7.1 (0x70000000, 0x71000001): DONE row counts of 4 octets.
                self.old_done = (0x70..=0x71).contains(&(r.tds_version >> 24));
            }
            SQL_BATCH => set_utf16(&mut r.query, skip_all_headers(b)),
            RPC => rpc(skip_all_headers(b), r)?,
            _ => {}
        }
        Ok(())
    }

    fn response(&mut self, m: &Msg, out: &mut Emitter<'_>) -> Result<(), &'static str> {
        if !self.open {
            return Ok(());
        }
        let r = &mut self.rec;
        r.response_type = u32::from(m.ty);
        let res = if r.packet_type == u32::from(PRELOGIN) {
            self.prelogin_done = true;
            let p = prelogin(&m.body);
            if let Ok((v, e)) = p {
                (r.server_version, r.server_encryption, self.enc) = (v, e, e);
            }
            p.map(|_| ())
        } else if m.ty == TABULAR {
            tokens(&m.body, self.old_done, r)
        } else {
            Ok(())
        };
        self.emit(out);
        res
    }

    /// Bytes of direction `dir` are missing: the connection is read no further.
    pub fn gap(&mut self, _dir: Dir, _cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Flow {
        out.error(E_GAP);
        Flow::Stop
    }

    /// The connection ended: a message cut short is read as far as it got, and the exchange in
    /// progress is recorded (with an error when no response came).
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let i = dir.index();
            let cut = !self.rd[i].dead && self.rd[i].partial();
            if cut || self.msg[i].packets > 0 {
                out.error(E_TRUNCATED);
                if cut && self.rd[i].in_body() && !is_tls(self.rd[i].head()) {
                    let m = &mut self.msg[i];
                    if m.packets == 0 {
                        (m.ty, m.ts) = (self.rd[i].head()[0], self.rd[i].ts);
                        m.body.clear();
                    }
                    let keep = self.rd[i].body().len().min(KEEP.saturating_sub(m.body.len()));
                    m.body.extend_from_slice(&self.rd[i].body()[..keep]);
                    m.packets += 1;
                }
                if self.msg[i].packets > 0 {
                    let _ = self.message(dir, cx, out);
                }
                self.rd[i].dead = true;
            }
        }
        if self.open {
            if self.rec.response_type == 0 && !self.rec.encrypted && self.rec.kind != "attention" {
                out.error(E_NO_RESPONSE);
            }
            self.emit(out);
        }
    }
}

fn le16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn le64(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Replaces `s` with the UTF-16LE text `b` (lossy; an odd last octet is dropped).
pub fn set_utf16(s: &mut String, b: &[u8]) {
    s.clear();
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    s.extend(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
}

/// The pre-login options' VERSION (4 octets big-endian) and ENCRYPTION.
pub fn prelogin(b: &[u8]) -> Result<(u32, u32), &'static str> {
    let (mut version, mut enc, mut i) = (0, 0, 0);
    loop {
        let token = *b.get(i).ok_or(E_MALFORMED)?;
        if token == 0xff {
            return Ok((version, enc));
        }
        let off = usize::from(be16(b, i + 1).ok_or(E_MALFORMED)?);
        let len = usize::from(be16(b, i + 3).ok_or(E_MALFORMED)?);
        let v = b.get(off..off + len).ok_or(E_MALFORMED)?;
        match token {
            0 => version = be32(v, 0).ok_or(E_MALFORMED)?,
            1 => enc = u32::from(*v.first().ok_or(E_MALFORMED)?),
            _ => {}
        }
        i += 5;
    }
}

/// A Login7 password as sent: each octet's nibbles swapped and XORed with 0xA5; undone.
pub fn deobfuscate(b: &[u8]) -> Vec<u8> {
    b.iter().map(|&x| (x ^ 0xa5).rotate_left(4)).collect()
}

/// The Login7 message's fixed part and variable strings.
pub fn login7(b: &[u8], r: &mut Tds) -> Result<(), &'static str> {
    r.tds_version = le32(b, 4).ok_or(E_MALFORMED)?;
    // (offset, length in characters) pairs from octet 36: host, user, password, application,
    // server, extension, library, language, database.
    let field = |k: usize| -> Result<&[u8], &'static str> {
        let off = usize::from(le16(b, 36 + 4 * k).ok_or(E_MALFORMED)?);
        let len = usize::from(le16(b, 38 + 4 * k).ok_or(E_MALFORMED)?) * 2;
        b.get(off..off + len).ok_or(E_MALFORMED)
    };
    set_utf16(&mut r.hostname, field(0)?);
    set_utf16(&mut r.user, field(1)?);
    set_utf16(&mut r.password, &deobfuscate(field(2)?));
    set_utf16(&mut r.app_name, field(3)?);
    set_utf16(&mut r.server_name, field(4)?);
    set_utf16(&mut r.library, field(6)?);
    set_utf16(&mut r.language, field(7)?);
    set_utf16(&mut r.database, field(8)?);
    Ok(())
}

/// The body after the ALL_HEADERS of TDS 7.2+ (its total length, then headers each with their
/// own length); a body without them (older TDS) as it is.
pub fn skip_all_headers(b: &[u8]) -> &[u8] {
    let Some(total) = le32(b, 0).map(|t| t as usize) else { return b };
    if total < 4 || total > b.len() {
        return b;
    }
    let mut i = 4;
    while i < total {
        match le32(b, i).map(|t| t as usize) {
            Some(n) if n >= 6 && i + n <= total => i += n,
            _ => return b,
        }
    }
    &b[total..]
}

/// The RPC request's procedure: a name (its length in characters, then UTF-16), or 0xFFFF and
/// a well-known procedure id.
pub fn rpc(b: &[u8], r: &mut Tds) -> Result<(), &'static str> {
    let n = le16(b, 0).ok_or(E_MALFORMED)?;
    if n == 0xffff {
        r.procedure_id = u32::from(le16(b, 2).ok_or(E_MALFORMED)?);
        return Ok(());
    }
    let name = b.get(2..2 + 2 * usize::from(n)).ok_or(E_MALFORMED)?;
    set_utf16(&mut r.procedure, name);
    Ok(())
}

/// Token types read.
const RETURNSTATUS: u8 = 0x79;
const ERROR: u8 = 0xaa;
const LOGINACK: u8 = 0xad;
const DONE: u8 = 0xfd;
const DONEPROC: u8 = 0xfe;
const DONEINPROC: u8 = 0xff;
const FEDAUTHINFO: u8 = 0xee;
const COLMETADATA: u8 = 0x81;

/// The response's tokens up to the first whose length is not in it.
pub fn tokens(b: &[u8], old_done: bool, r: &mut Tds) -> Result<(), &'static str> {
    let mut i = 0;
    while let Some(&t) = b.get(i) {
        let len = match t {
            DONE | DONEPROC | DONEINPROC => {
                done(&b[i + 1..], t, old_done, r)?;
                if old_done { 8 } else { 12 }
            }
            RETURNSTATUS => 4,
            FEDAUTHINFO => le32(b, i + 1).ok_or(E_MALFORMED)? as usize + 4,
            // Tokens with a 2-octet length: ORDER, ERROR, INFO, LOGINACK, TABNAME, COLINFO,
            // ENVCHANGE, SSPI.
            0xa9 | ERROR | 0xab | LOGINACK | 0xa4 | 0xa5 | 0xe3 | 0xed => {
                let n = usize::from(le16(b, i + 1).ok_or(E_MALFORMED)?);
                let v = b.get(i + 3..i + 3 + n).ok_or(E_MALFORMED)?;
                match t {
                    ERROR if r.error_message.is_empty() => error(v, r)?,
                    LOGINACK => loginack(v, r)?,
                    _ => {}
                }
                n + 2
            }
            COLMETADATA => {
                r.result_columns = u32::from(le16(b, i + 1).ok_or(E_MALFORMED)?);
                return Ok(());
            }
            _ => return Ok(()),
        };
        i += 1 + len;
    }
    Ok(())
}

fn done(v: &[u8], t: u8, old: bool, r: &mut Tds) -> Result<(), &'static str> {
    let name = match t {
        DONE => "DONE",
        DONEPROC => "DONEPROC",
        _ => "DONEINPROC",
    };
    let status = le16(v, 0).ok_or(E_MALFORMED)?;
    let cmd = le16(v, 2).ok_or(E_MALFORMED)?;
    // A row count cut short (or of 4 octets where 8 were due) is recorded as 0.
    let rows = if old { le32(v, 4).map(u64::from) } else { le64(v, 4) };
    r.done_tokens.push(name.to_string());
    r.done_status.push(u32::from(status));
    r.done_cur_cmd.push(u32::from(cmd));
    r.done_row_count.push(rows.unwrap_or(0));
    rows.map(|_| ()).ok_or(E_MALFORMED)
}

/// An ERROR token's body: number, state, class, message (2-octet character count).
fn error(v: &[u8], r: &mut Tds) -> Result<(), &'static str> {
    r.error_number = le32(v, 0).ok_or(E_MALFORMED)?;
    r.error_state = u32::from(*v.get(4).ok_or(E_MALFORMED)?);
    r.error_class = u32::from(*v.get(5).ok_or(E_MALFORMED)?);
    let n = usize::from(le16(v, 6).ok_or(E_MALFORMED)?);
    set_utf16(&mut r.error_message, v.get(8..8 + 2 * n).ok_or(E_MALFORMED)?);
    Ok(())
}

/// A LOGINACK token's body: interface, TDS version, program name (1-octet character count).
fn loginack(v: &[u8], r: &mut Tds) -> Result<(), &'static str> {
    r.server_tds_version = be32(v, 1).ok_or(E_MALFORMED)?;
    let n = usize::from(*v.get(5).ok_or(E_MALFORMED)?);
    set_utf16(&mut r.server_program, v.get(6..6 + 2 * n).ok_or(E_MALFORMED)?);
    Ok(())
}
