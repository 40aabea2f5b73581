//! QUIC from the UDP layers the host dissected (ports 443 and 4443, at any tunnel depth): one
//! `QUIC` record per long-header packet of a datagram (coalesced packets included), the Initial
//! packets decrypted ([`crate::crypto`]) and their CRYPTO frames reassembled per connection and
//! direction, so the TLS ClientHello and ServerHello become `TLSClientHello` / `TLSServerHello`
//! records (parsed by `netcap-tls-parse`, JA4 with the `q` prefix) once whole, also when they
//! span several packets or arrive out of order.
//!
//! A connection is a UDP 5-tuple; its Initial keys come from the destination connection id of
//! the first Initial seen (the client's), and again from a later client Initial that does not
//! decrypt with them (after a Retry or a Version Negotiation the client picks a new one). Which
//! side sent an Initial is the side whose keys open it. At most [`MAX_CONNS`] connections and
//! [`MAX_CRYPTO`] bytes of CRYPTO data per direction are kept; a connection idle for
//! [`IDLE_NANOS`] is dropped, and a hello still incomplete then (or at the end of the input) is
//! emitted as it is, with an error. Malformed packets give the fields read and a counted error.

use crate::crypto::{self, Keys};
use netcap_proto::v1;
use netcap_sdk::{Config, Emitter, Packet, fmt, layer};
use netcap_tls_parse::Fragments;
use std::collections::BTreeMap;

/// Type ids: indexes into the record types this decoder declares.
pub const T_QUIC: u16 = 0;
pub const T_TLS_CLIENT_HELLO: u16 = 1;
pub const T_TLS_SERVER_HELLO: u16 = 2;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 3] = [
    ("QUIC", "netcap.v1.QUIC"),
    ("TLSClientHello", "netcap.v1.TLSClientHello"),
    ("TLSServerHello", "netcap.v1.TLSServerHello"),
];

/// What the decoder asks the host for.
pub const LAYERS: [&str; 2] = ["udp:443", "udp:4443"];
const PORTS: [u16; 2] = [443, 4443];

/// Connections kept at once.
pub const MAX_CONNS: usize = 1024;
/// CRYPTO stream bytes kept per direction (a hello is far smaller).
pub const MAX_CRYPTO: usize = 16 * 1024;
/// A connection without packets for this long is dropped.
pub const IDLE_NANOS: i64 = 120 * 1_000_000_000;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;

/// A connection: the UDP 5-tuple with its ends in a fixed order, and the tunnel depth.
type Key = ([u8; 16], u16, [u8; 16], u16, u32);

/// One direction's CRYPTO stream (Initial packet number space): the handshake messages in it
/// (a ClientHello, or after a HelloRetryRequest two; a ServerHello, or a HelloRetryRequest and
/// the ServerHello) are read in order.
#[derive(Default)]
struct Crypto {
    bytes: Fragments,
    /// Where the next handshake message starts.
    pos: usize,
    /// Nothing more is read (a message that is not a hello, or the stream was flushed).
    done: bool,
    /// Whether the packet that carried the next message's first byte was seen: its time and
    /// endpoints.
    started: bool,
    ts: i64,
    src_ip: String,
    dst_ip: String,
    src_port: u32,
    dst_port: u32,
}

impl Crypto {
    /// Adds `data` at stream offset `off`.
    fn add(&mut self, off: u64, data: &[u8]) -> Result<(), &'static str> {
        let end = off.saturating_add(data.len() as u64);
        if end > MAX_CRYPTO as u64 {
            return Err("quic: crypto data too long");
        }
        self.bytes.add(off as usize, data);
        Ok(())
    }
}

/// Per-connection state.
struct Conn {
    version: u32,
    dcid: Vec<u8>,
    keys: Option<Keys>,
    /// Largest packet number decrypted per direction (client, server).
    largest: [Option<u64>; 2],
    crypto: [Crypto; 2],
    last_ts: i64,
}

impl Conn {
    fn new(version: u32, dcid: &[u8]) -> Conn {
        Conn {
            version,
            dcid: dcid.to_vec(),
            keys: Keys::derive(version, dcid),
            largest: [None; 2],
            crypto: Default::default(),
            last_ts: 0,
        }
    }
}

/// A parsed long header.
struct Header<'a> {
    version: u32,
    /// Packet type as v1 numbers it (0 Initial, 1 0-RTT, 2 Handshake, 3 Retry); 4 Version
    /// Negotiation.
    ty: u8,
    dcid: &'a [u8],
    scid: &'a [u8],
    token_len: u64,
    length: u64,
    /// Where the packet number starts and where the packet ends (within the datagram rest).
    pn_offset: usize,
    end: usize,
}

const TYPE_NAMES: [&str; 5] = ["Initial", "0-RTT", "Handshake", "Retry", "VersionNegotiation"];
const TY_INITIAL: u8 = 0;
const TY_RETRY: u8 = 3;
const TY_VN: u8 = 4;
/// The top half of Google's Q0xx versions ("Q0").
const GQUIC: u32 = 0x5130;

/// A QUIC variable-length integer (RFC 9000 16) at `*at`.
pub fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let first = *b.get(*at)?;
    let n = 1usize << (first >> 6);
    let bytes = b.get(*at..*at + n)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *at += n;
    Some(v)
}

/// Parses the long header at the start of `b` (the rest of a datagram). On error, the header
/// fields read so far are in `partial`.
fn parse_header<'a>(b: &'a [u8], partial: &mut Option<Header<'a>>) -> Result<Header<'a>, &'static str> {
    const CUT: &str = "quic: packet truncated";
    let version = b.get(1..5).map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]])).ok_or(CUT)?;
    let raw = (b[0] >> 4) & 3;
    let ty = match version {
        0 => TY_VN,
        crypto::V2 => (raw + 3) % 4,
        _ => raw,
    };
    let mut h = Header { version, ty, dcid: &[], scid: &[], token_len: 0, length: 0, pn_offset: 0, end: b.len() };
    let mut at = 5;
    let cid = |at: &mut usize| -> Option<&'a [u8]> {
        let n = usize::from(*b.get(*at)?);
        let c = b.get(*at + 1..*at + 1 + n)?;
        *at += 1 + n;
        Some(c)
    };
    let dcid = cid(&mut at);
    h.dcid = dcid.unwrap_or_default();
    let scid = dcid.and_then(|_| cid(&mut at));
    h.scid = scid.unwrap_or_default();
    if scid.is_none() {
        *partial = Some(h);
        return Err(CUT);
    }
    // Version Negotiation and Retry take the rest of the datagram.
    if ty == TY_VN || ty == TY_RETRY {
        h.pn_offset = at;
        return Ok(h);
    }
    if ty == TY_INITIAL {
        let Some(t) = varint(b, &mut at) else {
            *partial = Some(h);
            return Err(CUT);
        };
        h.token_len = t;
        at = at.saturating_add(usize::try_from(t).unwrap_or(usize::MAX));
    }
    let Some(length) = varint(b, &mut at) else {
        *partial = Some(h);
        return Err(CUT);
    };
    h.length = length;
    h.pn_offset = at;
    match usize::try_from(length).ok().and_then(|l| at.checked_add(l)).filter(|&e| e <= b.len()) {
        Some(end) => {
            h.end = end;
            Ok(h)
        }
        None => {
            *partial = Some(h);
            Err(CUT)
        }
    }
}

/// Walks the frames of a decrypted Initial: `types` gets their types (a run of PADDING is one),
/// `crypto(offset, data)` each CRYPTO frame.
pub fn frames(
    mut b: &[u8],
    types: &mut Vec<u32>,
    mut crypto: impl FnMut(u64, &[u8]) -> Result<(), &'static str>,
) -> Result<(), &'static str> {
    const BAD: &str = "quic: frame malformed";
    while !b.is_empty() {
        let mut at = 0;
        let ty = varint(b, &mut at).ok_or(BAD)?;
        types.push(ty as u32);
        match ty {
            0 => at = b.iter().position(|&x| x != 0).unwrap_or(b.len()),
            1 => {}
            2 | 3 => {
                let mut n = [0u64; 4];
                for v in &mut n {
                    *v = varint(b, &mut at).ok_or(BAD)?;
                }
                // Largest, delay, range count, first range; then the ranges (gap, length) and,
                // for type 3, three ECN counts.
                let more = n[2].checked_mul(2).ok_or(BAD)? + if ty == 3 { 3 } else { 0 };
                for _ in 0..more {
                    varint(b, &mut at).ok_or(BAD)?;
                }
            }
            6 => {
                let off = varint(b, &mut at).ok_or(BAD)?;
                let len = varint(b, &mut at).ok_or(BAD)?;
                let data = usize::try_from(len).ok().and_then(|l| b.get(at..at.checked_add(l)?)).ok_or(BAD)?;
                at += data.len();
                crypto(off, data)?;
            }
            0x1c | 0x1d => {
                varint(b, &mut at).ok_or(BAD)?;
                if ty == 0x1c {
                    varint(b, &mut at).ok_or(BAD)?;
                }
                let len = varint(b, &mut at).ok_or(BAD)?;
                at = usize::try_from(len).ok().and_then(|l| at.checked_add(l)).filter(|&e| e <= b.len()).ok_or(BAD)?;
            }
            _ => return Err("quic: unexpected frame in initial"),
        }
        b = &b[at..];
    }
    Ok(())
}

/// Per-instance decoder state.
#[derive(Default)]
pub struct Quic {
    enabled: [bool; 3],
    conns: BTreeMap<Key, Conn>,
    rec: v1::Quic,
    scratch: Vec<u8>,
}

impl Quic {
    pub fn new(config: &Config) -> Self {
        let mut d = Quic::default();
        for (i, (name, _)) in RECORD_TYPES.iter().enumerate() {
            d.enabled[i] = config.record_type_enabled(name);
        }
        d
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            if l.id != layer::UDP {
                continue;
            }
            let Some(h) = p.data.get(l.offset..l.offset + 8) else { continue };
            let (sp, dp) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
            if !PORTS.contains(&sp) && !PORTS.contains(&dp) {
                continue;
            }
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let start = l.offset + 8;
            let end = if ulen >= 8 { (l.offset + ulen).min(p.data.len()) } else { p.data.len() };
            let dgram = p.data.get(start..end).unwrap_or_default();
            let e = p.endpoints(i + 1);
            let key = conn_key(e.src, sp, e.dst, dp, l.depth());
            let r = &mut self.rec;
            r.timestamp = p.ts_nanos;
            fmt::set_ip(&mut r.src_ip, e.src);
            fmt::set_ip(&mut r.dst_ip, e.dst);
            r.src_port = u32::from(sp);
            r.dst_port = u32::from(dp);
            r.tunnel_depth = l.depth();
            self.datagram(dgram, key, p.ts_nanos, out);
        }
    }

    /// The long-header packets of one datagram (a short-header packet ends it).
    fn datagram(&mut self, d: &[u8], key: Key, ts: i64, out: &mut Emitter<'_>) {
        let mut off = 0;
        let mut index = 0;
        while off < d.len() && d[off] & 0x80 != 0 {
            let b = &d[off..];
            let mut partial = None;
            let parsed = parse_header(b, &mut partial);
            let (h, err) = match parsed {
                Ok(h) => (h, None),
                Err(kind) => match partial {
                    Some(h) => (h, Some(kind)),
                    None => {
                        out.error(kind);
                        return;
                    }
                },
            };
            self.fill(&h, b, index);
            let mut errs: [Option<&'static str>; 2] = [err, None];
            if h.ty == TY_INITIAL && crypto::salt(h.version).is_some() {
                if err.is_none() {
                    errs[1] = self.initial(&h, &b[..h.end], key, ts, out);
                } else if !h.dcid.is_empty() && !self.conns.contains_key(&key) && self.conns.len() < MAX_CONNS {
                    // A cut client Initial still gives the keys for the server's Initials.
                    let mut c = Conn::new(h.version, h.dcid);
                    c.last_ts = ts;
                    self.conns.insert(key, c);
                }
            }
            if self.enabled[usize::from(T_QUIC)] {
                out.record(T_QUIC, &self.rec);
            }
            for kind in errs.into_iter().flatten() {
                out.error(kind);
            }
            if err.is_some() {
                return;
            }
            off += h.end;
            index += 1;
        }
    }

    /// Fills the record's header fields from `h` (the packet is `b`).
    fn fill(&mut self, h: &Header<'_>, b: &[u8], index: u32) {
        let r = &mut self.rec;
        r.packet_type.clear();
        r.packet_type.push_str(TYPE_NAMES[usize::from(h.ty)]);
        r.version = h.version;
        set_hex(&mut r.dcid, h.dcid);
        set_hex(&mut r.scid, h.scid);
        r.token_len = h.token_len as u32;
        r.length = h.length;
        r.decrypted = false;
        r.packet_number = 0;
        r.frames.clear();
        r.supported_versions.clear();
        if h.ty == TY_VN {
            let list = b.get(h.pn_offset..).unwrap_or_default();
            r.supported_versions.extend(list.chunks_exact(4).map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]])));
        }
        r.index = index;
    }

    /// Decrypts an Initial packet (`pkt`, header through the end of its Length) and reads its
    /// frames; returns the error to count.
    fn initial(
        &mut self,
        h: &Header<'_>,
        pkt: &[u8],
        key: Key,
        ts: i64,
        out: &mut Emitter<'_>,
    ) -> Option<&'static str> {
        if !self.conns.contains_key(&key) && self.conns.len() >= MAX_CONNS {
            return Some("quic: too many connections");
        }
        let conn = self.conns.entry(key).or_insert_with(|| Conn::new(h.version, h.dcid));
        conn.last_ts = ts;
        if conn.version != h.version {
            // Version Negotiation: the client starts over with another version.
            *conn = Conn::new(h.version, h.dcid);
            conn.last_ts = ts;
        }
        let mut opened = None;
        if let Some(k) = &conn.keys {
            opened = k.client.open(pkt, h.pn_offset, conn.largest[0], &mut self.scratch).map(|o| (0, o));
            if opened.is_none() {
                opened = k.server.open(pkt, h.pn_offset, conn.largest[1], &mut self.scratch).map(|o| (1, o));
            }
        }
        if opened.is_none() && conn.dcid != h.dcid {
            // A client Initial with a new destination connection id (after a Retry).
            let fresh = Conn::new(h.version, h.dcid);
            if let Some(o) = fresh.keys.as_ref().and_then(|k| k.client.open(pkt, h.pn_offset, None, &mut self.scratch))
            {
                *conn = fresh;
                conn.last_ts = ts;
                opened = Some((0, o));
            }
        }
        let Some((dir, o)) = opened else { return Some("quic: initial not decrypted") };
        conn.largest[dir] = Some(conn.largest[dir].map_or(o.pn, |l| l.max(o.pn)));
        let r = &mut self.rec;
        r.decrypted = true;
        r.packet_number = o.pn;
        if h.version >> 16 == GQUIC {
            // Google's Q0xx: gQUIC frames (the CHLO is a tag-value message), not read.
            return None;
        }
        let gquic = h.version >> 24 == u32::from(b'T');
        let stream = &mut conn.crypto[dir];
        let mut crypto_err = None;
        let plain = &self.scratch[o.start..o.end];
        let mut on_crypto = |off: u64, data: &[u8]| {
            if stream.done {
                return Ok(());
            }
            let pos = stream.pos as u64;
            if !stream.started && off <= pos && pos < off + data.len() as u64 {
                stream.started = true;
                stream.ts = r.timestamp;
                stream.src_ip.clone_from(&r.src_ip);
                stream.dst_ip.clone_from(&r.dst_ip);
                stream.src_port = r.src_port;
                stream.dst_port = r.dst_port;
            }
            if let Err(e) = stream.add(off, data) {
                crypto_err = Some(e);
            }
            Ok(())
        };
        let res =
            if gquic { gquic_frames(plain, &mut on_crypto) } else { frames(plain, &mut r.frames, &mut on_crypto) };
        let tunnel_depth = r.tunnel_depth;
        self.hellos(key, dir, false, tunnel_depth, out);
        res.err().or(crypto_err)
    }

    /// Emits the hellos of connection `key`, direction `dir`, that are whole, or (`flush`) the
    /// next one as far as it was received.
    fn hellos(&mut self, key: Key, dir: usize, flush: bool, tunnel_depth: u32, out: &mut Emitter<'_>) {
        let Some(conn) = self.conns.get_mut(&key) else { return };
        let s = &mut conn.crypto[dir];
        while !s.done {
            let have = s.bytes.contiguous().saturating_sub(s.pos);
            let m = &s.bytes.bytes()[s.pos.min(s.bytes.bytes().len())..];
            if have < 4 {
                if flush && (have > 0 || s.bytes.end() > s.pos) {
                    out.error("quic: hello truncated");
                }
                return;
            }
            let len = (usize::from(m[1]) << 16) | (usize::from(m[2]) << 8) | usize::from(m[3]);
            let whole = have >= 4 + len;
            if !whole && !flush {
                return;
            }
            let body = &m[4..(4 + len).min(have)];
            if !whole {
                out.error("quic: hello truncated");
            }
            if !emit_hello(m[0], len, body, whole, s, &self.enabled, tunnel_depth, out) {
                s.done = true;
            }
            s.pos += 4 + len;
            s.started = false;
            s.done |= !whole;
        }
    }

    /// Drops the connections idle since before `now - IDLE_NANOS`, emitting their incomplete
    /// hellos.
    pub fn tick(&mut self, now: i64, out: &mut Emitter<'_>) {
        let idle: Vec<Key> =
            self.conns.iter().filter(|(_, c)| now.saturating_sub(c.last_ts) > IDLE_NANOS).map(|(k, _)| *k).collect();
        for k in idle {
            self.flush(k, out);
        }
    }

    /// End of input: every connection's incomplete hellos, in connection order.
    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        let all: Vec<Key> = self.conns.keys().copied().collect();
        for k in all {
            self.flush(k, out);
        }
    }

    fn flush(&mut self, k: Key, out: &mut Emitter<'_>) {
        for dir in 0..2 {
            self.hellos(k, dir, true, k.4, out);
        }
        self.conns.remove(&k);
    }
}

/// Emits one handshake message of a CRYPTO stream as a TLS hello record (if its type is enabled);
/// `false` when it is not a hello (the stream is then not read further, with an error).
#[allow(clippy::too_many_arguments)]
fn emit_hello(
    ty: u8,
    len: usize,
    body: &[u8],
    whole: bool,
    s: &Crypto,
    enabled: &[bool; 3],
    tunnel_depth: u32,
    out: &mut Emitter<'_>,
) -> bool {
    match ty {
        HS_CLIENT_HELLO => {
            if !enabled[usize::from(T_TLS_CLIENT_HELLO)] {
                return true;
            }
            let mut r = v1::TlsClientHello {
                timestamp: s.ts,
                handshake_type: u32::from(HS_CLIENT_HELLO),
                handshake_len: len as u32,
                src_ip: s.src_ip.clone(),
                dst_ip: s.dst_ip.clone(),
                src_port: s.src_port,
                dst_port: s.dst_port,
                tunnel_depth,
                ..Default::default()
            };
            if let Some(kind) = netcap_tls_parse::client_hello(body, &mut r, 'q', whole) {
                out.error(kind);
            }
            out.record(T_TLS_CLIENT_HELLO, &r);
            true
        }
        HS_SERVER_HELLO => {
            if !enabled[usize::from(T_TLS_SERVER_HELLO)] {
                return true;
            }
            let mut r = v1::TlsServerHello {
                timestamp: s.ts,
                src_ip: s.src_ip.clone(),
                dst_ip: s.dst_ip.clone(),
                src_port: s.src_port,
                dst_port: s.dst_port,
                tunnel_depth,
                ..Default::default()
            };
            if let Some(kind) = netcap_tls_parse::server_hello(body, &mut r, whole) {
                out.error(kind);
            }
            out.record(T_TLS_SERVER_HELLO, &r);
            true
        }
        _ => {
            out.error("quic: crypto stream is not a hello");
            false
        }
    }
}

/// The frames of a decrypted Initial of Google's T05x versions (gQUIC frame encodings, as
/// Wireshark reads them): PADDING (the rest of the packet), ACK (type 0x40-0x7f), CRYPTO (0x08:
/// offset and length as QUIC varints); reading stops at another frame type.
pub fn gquic_frames(
    b: &[u8],
    mut crypto: impl FnMut(u64, &[u8]) -> Result<(), &'static str>,
) -> Result<(), &'static str> {
    const BAD: &str = "quic: frame malformed";
    let mut at = 0;
    while let Some(&ty) = b.get(at) {
        at += 1;
        match ty {
            0x00 => return Ok(()),
            0x08 => {
                let off = varint(b, &mut at).ok_or(BAD)?;
                let len = varint(b, &mut at).ok_or(BAD)?;
                let data = usize::try_from(len).ok().and_then(|l| b.get(at..at.checked_add(l)?)).ok_or(BAD)?;
                at += data.len();
                crypto(off, data)?;
            }
            0x40..=0x7f => {
                // Largest acked (1/2/4/6 bytes), its delta time (2), [block count (1)], first
                // block (1/2/4/6), blocks (gap 1 + length), timestamps count (1) and timestamps.
                let size = |bits: u8| [1usize, 2, 4, 6][usize::from(bits & 3)];
                let (ll, mm) = (size(ty >> 2), size(ty));
                at += ll + 2;
                let blocks = if ty & 0x20 != 0 {
                    let n = *b.get(at).ok_or(BAD)?;
                    at += 1;
                    usize::from(n)
                } else {
                    0
                };
                at += mm + blocks * (1 + mm);
                let ts = usize::from(*b.get(at).ok_or(BAD)?);
                at += 1;
                if ts > 0 {
                    at += 1 + 4 + (ts - 1) * 3;
                }
                if at > b.len() {
                    return Err(BAD);
                }
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// The connection key of a datagram: both ends in a fixed order, and the tunnel depth.
fn conn_key(src: &[u8], sp: u16, dst: &[u8], dp: u16, depth: u32) -> Key {
    let addr = |a: &[u8]| {
        let mut x = [0u8; 16];
        let n = a.len().min(16);
        x[16 - n..].copy_from_slice(&a[..n]);
        x
    };
    let (a, b) = ((addr(src), sp), (addr(dst), dp));
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (lo.0, lo.1, hi.0, hi.1, depth)
}

/// Replaces `s` with `b` as lowercase hex.
fn set_hex(s: &mut String, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.clear();
    for x in b {
        s.push(HEX[usize::from(x >> 4)] as char);
        s.push(HEX[usize::from(x & 15)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{Layer, packets, push_packet};
    use prost::Message;

    const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    /// An IPv4/UDP packet from 192.0.2.1:50000 to 192.0.2.2:443 (or back, `reply`).
    fn udp_packet(reply: bool, payload: &[u8]) -> (Vec<u8>, Vec<Layer>) {
        let (a, b) = if reply { (2, 1) } else { (1, 2) };
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, a, 192, 0, 2, b];
        let (sp, dp): (u16, u16) = if reply { (443, 50000) } else { (50000, 443) };
        p.extend_from_slice(&sp.to_be_bytes());
        p.extend_from_slice(&dp.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let layers =
            vec![Layer { id: layer::IPV4, flags: 0, offset: 0 }, Layer { id: layer::UDP, flags: 0, offset: 20 }];
        (p, layers)
    }

    /// Output of one decoder instance over `datagrams` (then `finish`): records (type id,
    /// bytes) and error kinds.
    fn run(datagrams: &[(bool, Vec<u8>)]) -> (Vec<(u16, Vec<u8>)>, Vec<String>) {
        let mut batch = Vec::new();
        for (i, (reply, d)) in datagrams.iter().enumerate() {
            let (p, l) = udp_packet(*reply, d);
            push_packet(&mut batch, i as u64, 1_000 + i as i64, 101, p.len() as u32, &l, &p);
        }
        let mut d = Quic::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        d.finish(&mut Emitter::new(&mut out, datagrams.len() as u64));
        let (mut recs, mut errs) = (Vec::new(), Vec::new());
        for e in netcap_sdk::entries(&out).map(Result::unwrap) {
            if e.tag == netcap_sdk::TAG_ERROR {
                errs.push(String::from_utf8(e.bytes.to_vec()).unwrap());
            } else {
                recs.push((e.tag, e.bytes.to_vec()));
            }
        }
        (recs, errs)
    }

    fn of<T: Message + Default>(recs: &[(u16, Vec<u8>)], ty: u16) -> Vec<T> {
        recs.iter().filter(|(t, _)| *t == ty).map(|(_, b)| T::decode(&b[..]).unwrap()).collect()
    }

    /// A ClientHello handshake message: one cipher (0x1301), SNI `example.com`, ALPN `h3`,
    /// supported_versions 0x0304.
    fn client_hello() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        let mut ext = vec![0, 0, 0, 16, 0, 14, 0, 0, 11];
        ext.extend_from_slice(b"example.com");
        ext.extend_from_slice(&[0, 16, 0, 5, 0, 3, 2, b'h', b'3']);
        ext.extend_from_slice(&[0, 43, 0, 3, 2, 3, 4]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut m = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        m.extend_from_slice(&body);
        m
    }

    fn crypto_frame(off: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![6, 0x80 | (off >> 24) as u8, (off >> 16) as u8, (off >> 8) as u8, off as u8];
        f.extend_from_slice(&[0x40 | (data.len() >> 8) as u8, data.len() as u8]);
        f.extend_from_slice(data);
        f
    }

    /// A client (or server, `server`) Initial of QUIC v1 carrying `frames`, padded to 64 bytes.
    fn initial(server: bool, pn: u64, frames: &[u8]) -> Vec<u8> {
        let keys = Keys::derive(1, &DCID).unwrap();
        let mut payload = frames.to_vec();
        payload.resize(payload.len().max(64), 0);
        let (dcid, scid): (&[u8], &[u8]) = if server { (&[9, 9], &[5, 5, 5, 5]) } else { (&DCID, &[9, 9]) };
        let mut h = vec![0xc1, 0, 0, 0, 1, dcid.len() as u8];
        h.extend_from_slice(dcid);
        h.push(scid.len() as u8);
        h.extend_from_slice(scid);
        h.push(0);
        let len = 2 + payload.len() + 16;
        h.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
        let k = if server { &keys.server } else { &keys.client };
        k.seal(&h, pn, 2, &payload)
    }

    #[test]
    fn hello_split_over_packets_out_of_order() {
        let ch = client_hello();
        let (a, b) = ch.split_at(30);
        let (recs, errs) =
            run(&[(false, initial(false, 1, &crypto_frame(30, b))), (false, initial(false, 0, &crypto_frame(0, a)))]);
        assert!(errs.is_empty(), "{errs:?}");
        let q: Vec<v1::Quic> = of(&recs, T_QUIC);
        assert_eq!(q.len(), 2);
        assert!(q.iter().all(|r| r.decrypted && r.packet_type == "Initial" && r.dcid == "8394c8f03e515708"));
        assert_eq!(q.iter().map(|r| r.packet_number).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(q[0].frames, [6, 0]);
        let c: Vec<v1::TlsClientHello> = of(&recs, T_TLS_CLIENT_HELLO);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].sni.as_str(), c[0].alpns.clone()), ("example.com", vec!["h3".to_string()]));
        // q, TLS 1.3, SNI, 1 cipher, 3 extensions, ALPN h3; sha256("1301")[..12] = 0f2cb44170f4
        // (coreutils sha256sum); the extensions without SNI and ALPN, no signature algorithms:
        // sha256("002b")[..12] = b9a491fefe05.
        assert_eq!(c[0].ja4, "q13d0103h3_0f2cb44170f4_b9a491fefe05");
        assert_eq!((c[0].src_port, c[0].dst_port, c[0].timestamp), (50000, 443, 1_001));
    }

    #[test]
    fn server_initial_decrypts_with_server_keys() {
        // A ServerHello: version 0303, random, no session id, 1301, compression 0, no extensions.
        let mut sh = vec![2, 0, 0, 38, 3, 3];
        sh.extend_from_slice(&[1; 32]);
        sh.extend_from_slice(&[0, 0x13, 0x01, 0]);
        let (recs, errs) = run(&[(false, initial(false, 0, &[1])), (true, initial(true, 0, &crypto_frame(0, &sh)))]);
        assert!(errs.is_empty(), "{errs:?}");
        let s: Vec<v1::TlsServerHello> = of(&recs, T_TLS_SERVER_HELLO);
        assert_eq!((s.len(), s[0].cipher_suite, s[0].src_port), (1, 0x1301, 443));
        assert_eq!(s[0].ja3s_full, "771,4865,");
    }

    #[test]
    fn cut_hello_is_emitted_at_the_end_with_an_error() {
        let ch = client_hello();
        let (recs, errs) = run(&[(false, initial(false, 0, &crypto_frame(0, &ch[..40])))]);
        assert_eq!(errs, ["quic: hello truncated"]);
        let c: Vec<v1::TlsClientHello> = of(&recs, T_TLS_CLIENT_HELLO);
        assert_eq!((c.len(), c[0].handshake_version, c[0].ja4.as_str()), (1, 0x0303, ""));
    }

    #[test]
    fn huge_crypto_offset_is_an_error() {
        let (recs, errs) = run(&[(false, initial(false, 0, &crypto_frame(0x3fff_ffff, b"x")))]);
        assert_eq!(errs, ["quic: crypto data too long"]);
        assert_eq!(of::<v1::Quic>(&recs, T_QUIC).len(), 1);
    }

    #[test]
    fn huge_length_is_a_truncated_packet() {
        let mut p = initial(false, 0, &[1]);
        // The Length field (2 bytes after the empty token) claims 16383 bytes.
        let at = 6 + DCID.len() + 1 + 2 + 1;
        p[at..at + 2].copy_from_slice(&[0x7f, 0xff]);
        let (recs, errs) = run(&[(false, p)]);
        assert_eq!(errs, ["quic: packet truncated"]);
        let q: Vec<v1::Quic> = of(&recs, T_QUIC);
        assert_eq!((q.len(), q[0].length, q[0].decrypted), (1, 16383, false));
    }

    /// Every cut of a datagram and every single-byte garbling: no panic, and every error is
    /// one of the decoder's kinds.
    #[test]
    fn cuts_and_garbling() {
        let ch = client_hello();
        let d = initial(false, 0, &crypto_frame(0, &ch));
        let kinds = [
            "quic: packet truncated",
            "quic: initial not decrypted",
            "quic: frame malformed",
            "quic: unexpected frame in initial",
            "quic: hello truncated",
            "quic: crypto data too long",
            "quic: crypto stream is not a hello",
        ];
        for n in 0..=d.len() {
            let (_, errs) = run(&[(false, d[..n].to_vec())]);
            assert!(errs.iter().all(|e| kinds.contains(&e.as_str())), "cut {n}: {errs:?}");
        }
        for i in 0..d.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut g = d.clone();
                g[i] ^= x;
                let (recs, errs) = run(&[(false, g)]);
                assert!(errs.iter().all(|e| kinds.contains(&e.as_str()) || e.starts_with("tls:")), "{i}: {errs:?}");
                // Garbling a protected byte fails authentication: no hello from forged bytes.
                if i > 20 {
                    assert!(of::<v1::TlsClientHello>(&recs, T_TLS_CLIENT_HELLO).is_empty(), "byte {i}");
                }
            }
        }
    }

    /// Decrypted frames with garbled contents (the plaintext is what the peer sent): frame
    /// walking never panics and stops with an error.
    #[test]
    fn frame_walk_on_garbage() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut b = vec![0u8; (seed % 64) as usize];
            for x in &mut b {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *x = seed as u8;
            }
            let mut types = Vec::new();
            let _ = frames(&b, &mut types, |_, _| Ok(()));
            let _ = gquic_frames(&b, |_, _| Ok(()));
        }
    }
}
