//! TLS over one reassembled connection: the ClientHello(s) and ServerHello(s), with JA3, JA3S and
//! JA4 ([`fingerprint`]).
//!
//! Each direction is read as TLS records; the payloads of handshake records are joined into the
//! handshake byte stream, so a hello split over several TCP segments or several TLS records is
//! found whole. Only hello messages are kept (at most [`MAX_HELLO`] bytes); other handshake
//! messages (certificates, ...) are skipped by length. A direction stops being read at its first
//! ChangeCipherSpec or application-data record (what follows is encrypted; a TLS 1.3
//! HelloRetryRequest is followed by a ChangeCipherSpec from each side and then the second
//! plaintext ClientHello and the real ServerHello, which are read), and after a malformed
//! record header or a gap (record boundaries are lost). The hellos themselves are parsed by the shared
//! `netcap-tls-parse` crate (also used for TLS inside QUIC).

pub use netcap_tls_parse::{fingerprint, parse_client_hello, parse_server_hello};

use crate::{Ctx, T_TLS_CLIENT_HELLO, T_TLS_SERVER_HELLO};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// Largest hello handshake message kept.
pub const MAX_HELLO: usize = 128 * 1024;

const CT_CCS: u8 = 20;
const CT_HANDSHAKE: u8 = 22;
const CT_APP_DATA: u8 = 23;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;

/// Whether `b` (a stream's first bytes) can be a TLS record, or an SSL 2.0-format ClientHello
/// offering SSL 3.0 or later (RFC 5246 E.2): `None` when too short to tell.
pub fn sniff_start(b: &[u8]) -> Option<bool> {
    if b.first().is_some_and(|&c| c & 0x80 != 0) {
        return match b {
            [_, _, ty, major, ..] => Some(*ty == 1 && *major == 3),
            [_, _, ty] => {
                if *ty == 1 {
                    None
                } else {
                    Some(false)
                }
            }
            _ => None,
        };
    }
    match b {
        [] => None,
        [t] => Some(*t == CT_HANDSHAKE),
        [t, major] => Some(*t == CT_HANDSHAKE && *major == 3),
        [t, major, minor, ..] => Some(*t == CT_HANDSHAKE && *major == 3 && *minor <= 4),
    }
}

/// One direction's reader.
#[derive(Default)]
struct Side {
    /// Bytes of a record header being read.
    rec_hdr: [u8; 5],
    rec_hdr_len: usize,
    /// Record type and bytes left of the current record's payload (0: a header comes next).
    rec_type: u8,
    rec_left: usize,
    /// Time of the packet with the current record's first header byte; whether none of its
    /// payload was read yet.
    rec_ts: i64,
    rec_fresh: bool,
    /// Record version and length of the current record.
    rec_version: u16,
    rec_len: u16,
    /// Handshake message header being read.
    hs_hdr: [u8; 4],
    hs_hdr_len: usize,
    /// Bytes left of the current handshake message (0: a header comes next).
    hs_left: usize,
    /// The current handshake message is a hello being kept in `hello`.
    keeping: bool,
    hello: Vec<u8>,
    hello_type: u8,
    hello_len: usize,
    /// Record version and length of the record where the hello started, records it spans.
    hello_rec_version: u16,
    hello_rec_len: u16,
    hello_records: u32,
    hello_ts: i64,
    /// Encrypted or unreadable from here on.
    stopped: bool,
    /// This side sent a HelloRetryRequest, and the ServerHello after it.
    sent_hrr: bool,
    sent_second_hello: bool,
    /// Records read so far; the first may be an SSL 2.0-format ClientHello (2-byte header).
    records_seen: u64,
    v2: bool,
}

/// Per-connection TLS state.
#[derive(Default)]
pub struct Conn {
    client: Side,
    server: Side,
}

impl Conn {
    /// Bytes of one direction.
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        // After a HelloRetryRequest, the peer's ChangeCipherSpec (TLS 1.3 middlebox
        // compatibility) comes before its second, plaintext ClientHello.
        let peer_hrr = match dir {
            Dir::ToServer => self.server.sent_hrr,
            Dir::ToClient => self.client.sent_hrr,
        };
        let s = self.side(dir);
        while !b.is_empty() && !s.stopped {
            if s.rec_left == 0 {
                if s.rec_hdr_len == 0 {
                    s.rec_ts = cx.meta.ts_nanos;
                    s.v2 = s.records_seen == 0 && b[0] & 0x80 != 0;
                }
                let need = if s.v2 { 2 } else { 5 };
                let n = (need - s.rec_hdr_len).min(b.len());
                s.rec_hdr[s.rec_hdr_len..s.rec_hdr_len + n].copy_from_slice(&b[..n]);
                s.rec_hdr_len += n;
                b = &b[n..];
                if s.rec_hdr_len < need {
                    break;
                }
                s.rec_hdr_len = 0;
                s.records_seen += 1;
                let h = s.rec_hdr;
                if s.v2 {
                    // An SSL 2.0-format ClientHello: skipped (JA3 is defined on TLS hellos only,
                    // as in Wireshark); the TLS records that follow are read as usual.
                    s.rec_type = 0;
                    s.rec_left = (usize::from(h[0] & 0x7f) << 8) | usize::from(h[1]);
                    s.rec_fresh = true;
                    continue;
                }
                let len = u16::from_be_bytes([h[3], h[4]]);
                if !(20..=24).contains(&h[0]) || h[1] != 3 || len == 0 || len > 18432 {
                    // Not a TLS record header: the stream is not (or no longer) readable as TLS.
                    out.error("tls: bad record header");
                    s.stopped = true;
                    cut_hello(s, dir, cx, out, "tls: hello truncated");
                    break;
                }
                s.rec_type = h[0];
                s.rec_version = u16::from_be_bytes([h[1], h[2]]);
                s.rec_len = len;
                s.rec_left = usize::from(len);
                s.rec_fresh = true;
                if s.rec_type == CT_HANDSHAKE && s.keeping {
                    s.hello_records += 1;
                }
                // After a HelloRetryRequest both sides may send a ChangeCipherSpec (TLS 1.3
                // middlebox compatibility) before their second, plaintext hello: the client
                // before its second ClientHello, the server before its real ServerHello.
                let retry = peer_hrr || (s.sent_hrr && !s.sent_second_hello);
                if (s.rec_type == CT_CCS && !retry) || s.rec_type == CT_APP_DATA {
                    // Encrypted from here on (TLS 1.3 sends its encrypted handshake as application
                    // data; earlier versions encrypt what follows ChangeCipherSpec).
                    s.stopped = true;
                    cut_hello(s, dir, cx, out, "tls: hello truncated");
                    break;
                }
                continue;
            }
            let n = s.rec_left.min(b.len());
            if s.rec_type == CT_HANDSHAKE {
                handshake(s, dir, &b[..n], cx, out);
            }
            s.rec_fresh = false;
            s.rec_left -= n;
            b = &b[n..];
        }
    }

    /// Direction `dir` is not TLS (its first bytes were none of ours): not read.
    pub fn ignore(&mut self, dir: Dir) {
        self.side(dir).stopped = true;
    }

    /// Bytes of one direction that were not captured: record boundaries are lost.
    pub fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let s = self.side(dir);
        if s.stopped {
            return;
        }
        s.stopped = true;
        if s.keeping {
            out.error("tls: gap in hello");
            cut_hello(s, dir, cx, out, "");
        }
    }

    /// End of the connection: a hello still being read is emitted as it is.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let s = self.side(dir);
            if !s.stopped {
                if s.keeping {
                    cut_hello(s, dir, cx, out, "tls: hello truncated");
                } else if s.rec_hdr_len > 0 || s.rec_left > 0 || s.hs_hdr_len > 0 {
                    out.error("tls: record truncated");
                }
                s.stopped = true;
            }
        }
    }

    /// Whether both directions are past their hellos.
    pub fn done(&self) -> bool {
        self.client.stopped && self.server.stopped
    }

    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        }
    }
}

/// Emits the hello being kept, cut short, with the error `kind` (none when empty).
fn cut_hello(s: &mut Side, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>, kind: &str) {
    if !s.keeping {
        return;
    }
    s.keeping = false;
    if !kind.is_empty() {
        out.error(kind);
    }
    emit_hello(s, dir, cx, out, false);
}

/// Handshake-layer bytes of one record.
fn handshake(s: &mut Side, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    while !b.is_empty() {
        if s.hs_left == 0 {
            let n = (4 - s.hs_hdr_len).min(b.len());
            s.hs_hdr[s.hs_hdr_len..s.hs_hdr_len + n].copy_from_slice(&b[..n]);
            if s.hs_hdr_len == 0 {
                // A message that starts its record starts where the record does.
                s.hello_ts =
                    if s.rec_fresh && s.rec_left == usize::from(s.rec_len) { s.rec_ts } else { cx.meta.ts_nanos };
                s.hello_rec_version = s.rec_version;
                s.hello_rec_len = s.rec_len;
                s.hello_records = 1;
            }
            s.hs_hdr_len += n;
            b = &b[n..];
            if s.hs_hdr_len < 4 {
                return;
            }
            s.hs_hdr_len = 0;
            let h = s.hs_hdr;
            let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
            // Hellos are taken from either direction: when a capture starts after the handshake
            // began, the host's client (the first sender seen) may be the TLS server.
            let wanted = match h[0] {
                HS_CLIENT_HELLO => cx.enabled.tls_client,
                HS_SERVER_HELLO => cx.enabled.tls_server,
                _ => false,
            };
            s.hello_type = h[0];
            s.hello_len = len;
            s.hello.clear();
            if wanted && len > MAX_HELLO {
                out.error("tls: hello too long");
            }
            s.keeping = wanted && len <= MAX_HELLO;
            s.hs_left = len;
            if len == 0 && s.keeping {
                s.keeping = false;
                emit_hello(s, dir, cx, out, true);
            }
            continue;
        }
        let n = s.hs_left.min(b.len());
        if s.keeping {
            s.hello.extend_from_slice(&b[..n]);
        }
        s.hs_left -= n;
        b = &b[n..];
        if s.hs_left == 0 && s.keeping {
            s.keeping = false;
            emit_hello(s, dir, cx, out, true);
        }
    }
}

/// Parses and emits the kept hello; `whole` is false when it was cut short.
fn emit_hello(s: &mut Side, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>, whole: bool) {
    match s.hello_type {
        HS_CLIENT_HELLO => {
            let mut r = v1::TlsClientHello {
                timestamp: s.hello_ts,
                r#type: u32::from(CT_HANDSHAKE),
                version: u32::from(s.hello_rec_version),
                message_len: u32::from(s.hello_rec_len),
                handshake_type: u32::from(HS_CLIENT_HELLO),
                handshake_len: s.hello_len as u32,
                records: s.hello_records,
                tunnel_depth: u32::from(cx.info.tunnel_depth),
                ..Default::default()
            };
            (r.src_port, r.dst_port) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
            if let Some(kind) = netcap_tls_parse::client_hello(&s.hello, &mut r, 't', whole) {
                out.error(kind);
            }
            out.record(T_TLS_CLIENT_HELLO, &r);
        }
        _ => {
            let mut r = v1::TlsServerHello {
                timestamp: s.hello_ts,
                record_version: u32::from(s.hello_rec_version),
                records: s.hello_records,
                tunnel_depth: u32::from(cx.info.tunnel_depth),
                ..Default::default()
            };
            (r.src_port, r.dst_port) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
            if let Some(kind) = netcap_tls_parse::server_hello(&s.hello, &mut r, whole) {
                out.error(kind);
            }
            s.sent_second_hello |= s.sent_hrr && !r.hello_retry_request;
            s.sent_hrr |= r.hello_retry_request;
            out.record(T_TLS_SERVER_HELLO, &r);
        }
    }
    s.hello.clear();
}
