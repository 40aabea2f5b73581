//! The `windows` decoder: Windows enterprise protocols in reassembled TCP connections: SMB1 and
//! SMB2/3 ([`smb`]) over direct TCP (port 445) and the NetBIOS session service (port 139), with
//! the NTLMSSP messages of their session setups ([`ntlm`]), Kerberos over TCP (port 88,
//! [`krb`]), LDAP (port 389, [`ldap`]), the unencrypted start of RDP (port 3389, [`rdp`]) and
//! DCE/RPC ([`dcerpc`]: port 135, and any other connection whose client begins with a bind).
//! The connection's protocol is chosen by its server port ([`Proto`]). NTLMSSP messages are
//! also read from LDAP binds, DCE/RPC auth verifiers and HTTP authentication headers ([`http`]:
//! any other connection whose client begins with an HTTP/1 request).
//!
//! A stream decoder, so that a message split over TCP segments is one record and a segment
//! with several messages gives several. Each direction is cut into messages by their length
//! header ([`frame_len`]: NetBIOS session header, Kerberos record marker, BER length, TPKT) in
//! [`Side`], buffering
//! at most [`KEEP`] bytes of one message (SMB reads and writes carry file data the records do
//! not need); each message is parsed by plain Rust, unit-tested natively. A direction whose
//! first bytes cannot start a message of the protocol is not read (a capture that begins
//! mid-message, or another protocol); a connection with neither direction read is declined.
//! Malformed input gives the partial record plus a counted error; a gap loses that direction's
//! framing (counted), because the bytes after it need not start a message.

pub mod dcerpc;
pub mod http;
pub mod krb;
pub mod ldap;
pub mod ntlm;
pub mod rdp;
pub mod smb;
#[cfg(test)]
mod tests;

use netcap_proto::v1;
use netcap_sdk::{
    Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, StreamDecoder, StreamEvent, StreamInfo, Verdict,
    export_stream_decoder, fmt,
};
use std::collections::HashMap;

/// Type ids: indexes into [`RECORD_TYPES`].
pub const T_SMB: u16 = 0;
pub const T_NTLM: u16 = 1;
pub const T_KERBEROS: u16 = 2;
pub const T_LDAP: u16 = 3;
pub const T_RDP: u16 = 4;
pub const T_DCERPC: u16 = 5;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 6] = [
    ("SMB", "netcap.v1.SMB"),
    ("NTLM", "netcap.v1.NTLM"),
    ("Kerberos", "netcap.v1.Kerberos"),
    ("LDAP", "netcap.v1.LDAP"),
    ("RDP", "netcap.v1.RDP"),
    ("DCERPC", "netcap.v1.DCERPC"),
];

/// Port interests: SMB over direct TCP and over the NetBIOS session service, Kerberos, LDAP, RDP,
/// DCE/RPC's endpoint mapper, and every other connection for DCE/RPC on dynamic ports and NTLM
/// over HTTP (declined at its first bytes unless they are a bind or an HTTP request).
pub const LAYERS: [&str; 7] = ["tcp:445", "tcp:139", "tcp:88", "tcp:389", "tcp:3389", "tcp:135", "tcp:*"];

/// The protocol of a connection, by its server port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Proto {
    /// NetBIOS session messages carrying SMB (ports 445 and 139).
    #[default]
    Smb,
    /// Kerberos messages after a 4-byte record marker (RFC 4120 7.2.2, port 88).
    Kerberos,
    /// LDAPMessages, each a BER SEQUENCE (port 389).
    Ldap,
    /// TPKTs carrying X.224 and MCS, until TLS or encryption starts (port 3389).
    Rdp,
    /// DCE/RPC PDUs, cut by their fragment length (port 135, or sniffed: `Parser::sniffed`).
    Dcerpc,
    /// HTTP/1 message heads with NTLM or Negotiate authentication (sniffed: [`http`]).
    Http,
}

impl Proto {
    /// The protocol served on `port`, if one of ours.
    pub fn of_port(port: u16) -> Option<Proto> {
        match port {
            445 | 139 => Some(Proto::Smb),
            88 => Some(Proto::Kerberos),
            389 => Some(Proto::Ldap),
            3389 => Some(Proto::Rdp),
            135 => Some(Proto::Dcerpc),
            _ => None,
        }
    }

    /// The record types whose enabling makes the protocol worth reading.
    fn wanted(self, on: &[bool; 6]) -> bool {
        match self {
            Proto::Smb | Proto::Ldap | Proto::Dcerpc => on[usize::from(T_NTLM)] || on[usize::from(self.record_type())],
            Proto::Kerberos | Proto::Rdp => on[usize::from(self.record_type())],
            Proto::Http => on[usize::from(T_NTLM)],
        }
    }

    /// The record type of the protocol's messages (HTTP: its NTLM messages).
    fn record_type(self) -> u16 {
        match self {
            Proto::Smb => T_SMB,
            Proto::Kerberos => T_KERBEROS,
            Proto::Ldap => T_LDAP,
            Proto::Rdp => T_RDP,
            Proto::Dcerpc => T_DCERPC,
            Proto::Http => T_NTLM,
        }
    }

    /// Bytes of a message's start that give its length: the NetBIOS header, the Kerberos
    /// marker, an LDAPMessage's tag and length (up to 4 length bytes; every LDAPMessage is
    /// longer than that).
    pub fn header(self) -> usize {
        match self {
            Proto::Smb | Proto::Kerberos | Proto::Rdp => HEADER,
            Proto::Ldap => 6,
            // Not cut by a length header ([`http`] reads it).
            Proto::Http => 1,
            Proto::Dcerpc => dcerpc::HEADER,
        }
    }
}

/// Most bytes of a NetBIOS message kept for parsing (headers, names and security blobs fit;
/// the rest, file data, is skipped).
pub const KEEP: usize = 64 * 1024;

/// NetBIOS session header and Kerberos record marker size.
const HEADER: usize = 4;

pub const E_BAD_HEADER: &str = "netbios: bad session message header";
pub const E_GAP: &str = "netbios: gap in session message";
pub const E_TRUNCATED: &str = "netbios: session message truncated";
pub const E_KRB_BAD_MARKER: &str = "kerberos: bad record marker";
pub const E_KRB_GAP: &str = "kerberos: gap in message";
pub const E_KRB_TRUNCATED: &str = "kerberos: message truncated";
pub const E_LDAP_BAD_HEADER: &str = "ldap: not an LDAPMessage (SASL-wrapped or another protocol)";
pub const E_LDAP_GAP: &str = "ldap: gap in message";
pub const E_LDAP_TRUNCATED: &str = "ldap: message truncated";

/// Largest Kerberos message over TCP taken as one (a ticket with a PAC is a few KiB; the
/// marker's high bit is reserved, RFC 4120 7.2.2).
const KRB_MAX: usize = 1 << 20;

/// Largest LDAPMessage taken as one (a search result entry with certificates or a large group
/// is some KiB; its first [`KEEP`] bytes are parsed).
const LDAP_MAX: usize = 64 << 20;

/// What protocol modules see of an event: the connection and the event.
pub struct Ctx<'a> {
    pub info: &'a StreamInfo,
    pub meta: &'a EventMeta,
}

impl Ctx<'_> {
    /// Writes the sender and receiver addresses of direction `dir` into `src` and `dst`
    /// (reusing their buffers); returns the sender's and receiver's ports and the tunnel depth.
    pub fn endpoints(&self, dir: Dir, src: &mut String, dst: &mut String) -> (u32, u32, u32) {
        let i = self.info;
        let (c, s) = (i.client_addr(), i.server_addr());
        let (cp, sp) = (u32::from(i.client_port), u32::from(i.server_port));
        let (a, b, pa, pb) = match dir {
            Dir::ToServer => (c, s, cp, sp),
            Dir::ToClient => (s, c, sp, cp),
        };
        fmt::set_ip(src, a);
        fmt::set_ip(dst, b);
        (pa, pb, u32::from(i.tunnel_depth))
    }
}

/// The whole length of the message of protocol `proto` whose header `h` starts (its first
/// [`Proto::header`] bytes at least), or why it is not one. NetBIOS: RFC 1002 4.3.1 (direct
/// TCP, MS-SMB2 2.1, has a 24-bit length after a zero type byte); Kerberos: a 4-byte big-endian
/// length whose high bit is reserved; LDAP: a SEQUENCE's definite BER length.
pub fn frame_len(proto: Proto, h: &[u8]) -> Result<usize, &'static str> {
    match proto {
        Proto::Smb => {
            let n = match h[0] {
                0x00 => usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]),
                0x81..=0x85 => usize::from(h[1] & 1) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]),
                _ => return Err(E_BAD_HEADER),
            };
            Ok(HEADER + n)
        }
        Proto::Kerberos => {
            let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
            if n == 0 || n > KRB_MAX {
                return Err(E_KRB_BAD_MARKER);
            }
            Ok(HEADER + n)
        }
        Proto::Ldap => match netcap_windows_parse::der::header(h) {
            Some((hl, n)) if h[0] == 0x30 && n <= LDAP_MAX => Ok(hl + n),
            _ => Err(E_LDAP_BAD_HEADER),
        },
        Proto::Rdp => {
            let n = usize::from(u16::from_be_bytes([h[2], h[3]]));
            // Version 3, reserved 0, and room for the smallest X.224 header.
            if h[0] != 3 || h[1] != 0 || n < HEADER + 3 {
                return Err(rdp::E_BAD_TPKT);
            }
            Ok(n)
        }
        Proto::Dcerpc => dcerpc::frame_len(h),
        Proto::Http => Err(http::E_HEAD),
    }
}

/// Whether `b`, the first bytes of a connection direction (perhaps only a few), can start a
/// message of `proto`. NetBIOS: a session message must hold an SMB1, SMB2 or SMB3
/// transform/compression header, as far as `b` goes; Kerberos: a plausible record marker and a
/// Kerberos application tag after it.
pub fn starts(proto: Proto, b: &[u8], sniffed: bool) -> bool {
    let Some(&t) = b.first() else { return false };
    match proto {
        Proto::Smb => {
            if !matches!(t, 0x00 | 0x81..=0x85) {
                return false;
            }
            let sig = b.get(4..b.len().min(8)).unwrap_or_default();
            t != 0 || sig.is_empty() || (matches!(sig[0], 0xfc..=0xff) && b"SMB".starts_with(&sig[1..]))
        }
        Proto::Kerberos => {
            let marker_ok = b.len() < HEADER || frame_len(proto, &b[..HEADER]).is_ok();
            t == 0
                && marker_ok
                && b.get(HEADER..).is_none_or(|m| m.is_empty() || netcap_windows_parse::kerberos::starts(m))
        }
        Proto::Ldap => {
            netcap_windows_parse::ldap::starts(b)
                && (b.len() < proto.header() || frame_len(proto, &b[..proto.header()]).is_ok())
        }
        Proto::Rdp => t == 3 && (b.len() < HEADER || frame_len(proto, &b[..HEADER]).is_ok()),
        Proto::Dcerpc => dcerpc::starts(b, sniffed),
        Proto::Http => http::starts(b),
    }
}

/// Whether `b`, the first bytes of a segment after a gap, start a whole message header of
/// `proto` so that reading can go on: a Kerberos record marker whose length is that of the
/// application TLV after it; an LDAPMessage SEQUENCE whose first field is an INTEGER message id
/// followed by an APPLICATION-class operation. SMB does not resync (its framing has no check).
pub fn resyncs(proto: Proto, b: &[u8]) -> bool {
    use netcap_windows_parse::der;
    let hl = proto.header();
    if b.len() < hl || frame_len(proto, &b[..hl]).is_err() {
        return false;
    }
    match proto {
        Proto::Smb | Proto::Rdp | Proto::Dcerpc | Proto::Http => false,
        Proto::Kerberos => {
            let m = &b[HEADER..];
            netcap_windows_parse::kerberos::starts(m)
                && der::header(m).is_some_and(|(h, n)| Ok(HEADER + h + n) == frame_len(proto, &b[..HEADER]))
        }
        Proto::Ldap => {
            let Some((h, _)) = der::header(b) else { return false };
            let Some((0x02, id, rest)) = der::tlv(&b[h..]) else { return false };
            !id.is_empty() && id.len() <= 4 && rest.first().is_some_and(|&t| t & 0xc0 == 0x40)
        }
    }
}

/// The per-connection state messages are parsed with: the records (buffers reused) and the last
/// NTLM server challenge, which the AUTHENTICATE's cracker form needs.
#[derive(Default)]
pub struct Parser {
    pub proto: Proto,
    /// Which record types are enabled, in type-id order.
    pub on: [bool; 6],
    /// DCE/RPC on a port not its own: only a connection whose client begins with a bind is read.
    pub sniffed: bool,
    pub dcerpc: dcerpc::State,
    pub http: http::State,
    pub smb: v1::Smb,
    pub ntlm: v1::Ntlm,
    pub krb: v1::Kerberos,
    pub ldap: v1::Ldap,
    /// The connection's RDP record, written when it ends; `rdp_seen`: a Connection Request
    /// began it and it is not written yet.
    pub rdp: v1::Rdp,
    pub rdp_seen: bool,
    pub challenge: Option<[u8; 8]>,
}

impl Parser {
    /// Parses the whole or partial (`cut`: why it is partial) message `msg`.
    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        dir: Dir,
        msg: &[u8],
        cut: Option<&'static str>,
        ts: i64,
        cx: &Ctx<'_>,
        out: &mut Emitter<'_>,
    ) {
        match self.proto {
            Proto::Smb => smb::message(self, dir, msg, cut, ts, cx, out),
            Proto::Kerberos => krb::message(self, dir, msg, cut, ts, cx, out),
            Proto::Ldap => ldap::message(self, dir, msg, cut, ts, cx, out),
            Proto::Rdp => rdp::message(self, dir, msg, cut, ts, cx, out),
            Proto::Dcerpc => dcerpc::message(self, dir, msg, cut, ts, cx, out),
            Proto::Http => {}
        }
    }

    /// The errors of a gap and of a cut message in this protocol.
    fn cut_errors(&self) -> (&'static str, &'static str) {
        match self.proto {
            Proto::Smb => (E_GAP, E_TRUNCATED),
            Proto::Kerberos => (E_KRB_GAP, E_KRB_TRUNCATED),
            Proto::Ldap => (E_LDAP_GAP, E_LDAP_TRUNCATED),
            Proto::Rdp => (rdp::E_GAP, rdp::E_TRUNCATED),
            Proto::Dcerpc => (dcerpc::E_GAP, dcerpc::E_TRUNCATED),
            Proto::Http => (http::E_HEAD, http::E_HEAD),
        }
    }
}

/// Replaces `s` with `v`, reusing its buffer.
pub(crate) fn set_str(s: &mut String, v: &str) {
    s.clear();
    s.push_str(v);
}

/// One direction's framing state: the part of a message received so far.
#[derive(Default)]
pub struct Side {
    /// The message's first bytes (at most [`KEEP`]).
    buf: Vec<u8>,
    /// Bytes of the message received so far (kept or not).
    got: usize,
    start_ts: i64,
    /// The direction's first data started a NetBIOS message (else it is not read: the capture
    /// began inside a message, or this is not SMB).
    started: bool,
    /// The framing is lost (a bad header or a gap): the direction is not read any further.
    dead: bool,
    /// Bytes were missing (a gap) in a protocol that can find its next message: data is
    /// skipped until a segment starts with one ([`resyncs`]).
    lost: bool,
}

impl Side {
    /// Cuts `b` into messages; complete ones go to `p`. Whole messages in `b` are parsed in place.
    pub fn data(&mut self, p: &mut Parser, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if self.lost {
            if !resyncs(p.proto, b) {
                return;
            }
            self.lost = false;
        }
        let hl = p.proto.header();
        while !b.is_empty() && !self.dead {
            if self.buf.is_empty() && self.got == 0 {
                if p.proto == Proto::Rdp && b[0] != 3 {
                    // TLS or fast-path/encrypted RDP from here on: not read, not an error.
                    rdp::switch(p, dir, b);
                    self.dead = true;
                    self.buf = Vec::new();
                    return;
                }
                self.start_ts = cx.meta.ts_nanos;
                if b.len() >= hl {
                    match frame_len(p.proto, &b[..hl]) {
                        Ok(n) if n <= b.len() => {
                            p.message(dir, &b[..n], None, self.start_ts, cx, out);
                            b = &b[n..];
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => return self.bad_header(e, out),
                    }
                }
            }
            if self.buf.len() < hl {
                let n = (hl - self.buf.len()).min(b.len());
                self.buf.extend_from_slice(&b[..n]);
                self.got += n;
                b = &b[n..];
                continue;
            }
            let want = match frame_len(p.proto, &self.buf[..hl]) {
                Ok(n) => n,
                Err(e) => return self.bad_header(e, out),
            };
            let take = (want - self.got).min(b.len());
            let store = want.min(KEEP).saturating_sub(self.buf.len()).min(take);
            self.buf.extend_from_slice(&b[..store]);
            self.got += take;
            b = &b[take..];
            if self.got == want {
                // A message longer than KEEP (file data) is parsed from its kept head.
                p.message(dir, &self.buf, None, self.start_ts, cx, out);
                self.buf.clear();
                self.got = 0;
            }
        }
    }

    fn bad_header(&mut self, e: &'static str, out: &mut Emitter<'_>) {
        out.error(e);
        self.dead = true;
        self.buf = Vec::new();
    }

    /// Bytes of this direction are missing: a message in progress is emitted as far as it got,
    /// and the direction is read no further (what follows need not start a message), except
    /// Kerberos and LDAP, read again from a segment that starts a message ([`resyncs`]).
    pub fn gap(&mut self, p: &mut Parser, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.dead {
            self.flush(p, dir, p.cut_errors().0, cx, out);
            if !matches!(p.proto, Proto::Smb | Proto::Rdp | Proto::Dcerpc) {
                self.dead = false;
                self.lost = true;
            }
        }
    }

    /// The connection ended: a message cut short is emitted as far as it got.
    pub fn close(&mut self, p: &mut Parser, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.dead && !self.buf.is_empty() {
            self.flush(p, dir, p.cut_errors().1, cx, out);
        }
        self.dead = true;
    }

    /// Emits the partial message held (its records, then the error `why`; only the error when
    /// not even a header is there) and stops reading the direction.
    fn flush(&mut self, p: &mut Parser, dir: Dir, why: &'static str, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let buf = std::mem::take(&mut self.buf);
        let hl = p.proto.header();
        if buf.len() >= hl && frame_len(p.proto, &buf[..hl]).is_ok() {
            p.message(dir, &buf, Some(why), self.start_ts, cx, out);
        } else {
            out.error(why);
        }
        self.got = 0;
        self.dead = true;
    }
}

/// The first data `b` of a sniffed connection (direction `dir`): whether it is read, as
/// DCE/RPC (a client's bind) or HTTP (a client's request, when NTLM records are on).
fn sniff(p: &mut Parser, client: &mut Side, dir: Dir, b: &[u8]) -> bool {
    if dir == Dir::ToClient {
        return false;
    }
    if Proto::Http.wanted(&p.on) && http::starts(b) {
        p.proto = Proto::Http;
        p.sniffed = false;
        client.started = true;
        return true;
    }
    Proto::Dcerpc.wanted(&p.on) && starts(Proto::Dcerpc, b, true)
}

/// One connection.
struct Conn {
    info: StreamInfo,
    parser: Box<Parser>,
    sides: [Side; 2],
    last_ts: i64,
}

impl Conn {
    fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            self.sides[dir.index()].close(&mut self.parser, dir, cx, out);
        }
        rdp::end(&mut self.parser, out);
        dcerpc::end(&mut self.parser, out);
    }
}

/// The decoder state of one instance.
pub struct Windows {
    /// Which record types are enabled (NTLM records come from SMB, LDAP, DCE/RPC and HTTP).
    on: [bool; 6],
    conns: HashMap<u64, Conn>,
}

impl Windows {
    /// A decoder for the enabled record types of `config`.
    pub fn new(config: &Config) -> Self {
        let on = RECORD_TYPES.map(|(n, _)| config.record_type_enabled(n));
        Windows { on, conns: HashMap::new() }
    }

    /// Handles one event.
    pub fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        if let StreamEvent::Open(info) = ev {
            let port = Proto::of_port(info.server_port).or(Proto::of_port(info.client_port));
            // Any other port: DCE/RPC if the client begins with a bind, HTTP if with a request.
            let sniffed = port.is_none();
            let wanted = match port {
                Some(p) => p.wanted(&self.on),
                None => Proto::Dcerpc.wanted(&self.on) || Proto::Http.wanted(&self.on),
            };
            let Some(proto) = port.or(Some(Proto::Dcerpc)).filter(|_| wanted) else {
                return Verdict::Decline;
            };
            let c = Conn {
                info: **info,
                parser: Box::new(Parser { proto, on: self.on, sniffed, ..Default::default() }),
                sides: Default::default(),
                last_ts: meta.ts_nanos,
            };
            self.conns.insert(meta.stream, c);
            return Verdict::Continue;
        }
        let Some(c) = self.conns.get_mut(&meta.stream) else { return Verdict::Decline };
        c.last_ts = c.last_ts.max(meta.ts_nanos);
        let info = c.info;
        let cx = Ctx { info: &info, meta };
        match *ev {
            StreamEvent::Open(_) => Verdict::Continue,
            StreamEvent::Data { dir, bytes } => {
                // A sniffed connection is DCE/RPC only when the client speaks first with a bind,
                // HTTP when with a request: otherwise it is declined at once.
                if c.parser.sniffed && !c.sides[0].started && !sniff(&mut c.parser, &mut c.sides[0], dir, bytes) {
                    self.conns.remove(&meta.stream);
                    return Verdict::Decline;
                }
                if c.parser.proto == Proto::Http {
                    return self.http(meta.stream, dir, bytes, &cx, out);
                }
                let sniffed = c.parser.sniffed;
                let s = &mut c.sides[dir.index()];
                if !s.started && !s.dead {
                    if starts(c.parser.proto, bytes, sniffed && dir == Dir::ToServer) {
                        s.started = true;
                    } else {
                        // Not NetBIOS/SMB, or the capture began mid-message: this direction is
                        // not read; the other may still start with a message.
                        s.dead = true;
                    }
                }
                s.data(&mut c.parser, dir, bytes, &cx, out);
                if c.sides.iter().all(|s| s.dead) {
                    rdp::end(&mut c.parser, out);
                    dcerpc::end(&mut c.parser, out);
                    let started = c.sides.iter().any(|s| s.started);
                    self.conns.remove(&meta.stream);
                    return if started { Verdict::Done } else { Verdict::Decline };
                }
                Verdict::Continue
            }
            StreamEvent::Gap { dir, .. } if c.parser.proto == Proto::Http => {
                http::gap(&mut c.parser, dir);
                Verdict::Continue
            }
            StreamEvent::Gap { dir, .. } => {
                let s = &mut c.sides[dir.index()];
                if s.started {
                    s.gap(&mut c.parser, dir, &cx, out);
                } else {
                    s.dead = true;
                }
                Verdict::Continue
            }
            StreamEvent::Close { .. } => {
                c.close(&cx, out);
                self.conns.remove(&meta.stream);
                Verdict::Done
            }
        }
    }

    /// The next bytes of an HTTP connection: read while authentication is under way.
    fn http(&mut self, stream: u64, dir: Dir, bytes: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Verdict {
        let Some(c) = self.conns.get_mut(&stream) else { return Verdict::Decline };
        http::data(&mut c.parser, dir, bytes, cx, out);
        if c.parser.http.wanted() {
            return Verdict::Continue;
        }
        let auth = c.parser.http.auth;
        self.conns.remove(&stream);
        if auth { Verdict::Done } else { Verdict::Decline }
    }

    /// End of input: every connection still open ends here, in stream-id order.
    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(mut c) = self.conns.remove(&id) {
                let meta = EventMeta { stream: id, seq: u64::MAX, ts_nanos: c.last_ts };
                let info = c.info;
                c.close(&Ctx { info: &info, meta: &meta }, out);
            }
        }
    }
}

/// The exported decoder.
pub struct WindowsDecoder(Windows);

impl StreamDecoder for WindowsDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "windows".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(config: &Config) -> Result<Self, String> {
        Ok(WindowsDecoder(Windows::new(config)))
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        self.0.event(meta, ev, out)
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_stream_decoder!(WindowsDecoder);
