//! DTLS (RFC 4347 1.0, RFC 6347 1.2, RFC 9147 1.3; OpenSSL's pre-RFC 0x0100 too) on any UDP
//! port: the ClientHello and ServerHello of the plaintext (epoch 0) handshake become
//! `TLSClientHello` / `TLSServerHello` records, parsed by `netcap-tls-parse` as for TLS over TCP
//! (JA3, JA3S, and JA4 with the `d` prefix). A datagram is DTLS when it starts with a record
//! header (content type 20-25, a DTLS version, a length within the datagram); CAPWAP's 4-byte
//! DTLS preamble (ports 5246/5247) is skipped. Several records per datagram and several
//! handshake fragments per record are read.
//!
//! A hello sent in one fragment is parsed in place. Fragments (RFC 6347 4.2.3) are reassembled
//! per direction, message sequence and type, in any order and overlapping; at most
//! [`MAX_PENDING`] messages of at most [`MAX_MESSAGE`] bytes are pending, each for at most
//! [`IDLE_NANOS`]; one still incomplete then (or at the end of the input) is emitted as far as
//! its start came, with an error. A ClientHello's cookie is dropped before parsing (the TLS form
//! of the hello has none), as JA3 and JA4 read DTLS hellos.

use crate::decode::{T_TLS_CLIENT_HELLO, T_TLS_SERVER_HELLO, Udp};
use netcap_proto::v1;
use netcap_sdk::{Emitter, fmt};
use netcap_tls_parse::Fragments;
use std::collections::BTreeMap;

/// Hellos being reassembled at once.
pub const MAX_PENDING: usize = 256;
/// Largest hello reassembled from fragments.
pub const MAX_MESSAGE: usize = 16 * 1024;
/// A hello whose fragments stop arriving for this long is given up.
pub const IDLE_NANOS: i64 = 60 * 1_000_000_000;

const CT_HANDSHAKE: u8 = 22;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const RECORD_HEADER: usize = 13;
const FRAGMENT_HEADER: usize = 12;

/// A pending message: sender, receiver (address, port), tunnel depth, message sequence, type.
type Key = ([u8; 16], u16, [u8; 16], u16, u32, u16, u8);

/// Where a hello came from: the packet and record that carried its first byte.
#[derive(Default, Clone)]
struct Origin {
    ts: i64,
    src_ip: String,
    dst_ip: String,
    src_port: u32,
    dst_port: u32,
    depth: u32,
    record_version: u32,
    record_len: u32,
}

impl Origin {
    fn of(u: &Udp<'_>, record_version: u16, record_len: usize) -> Origin {
        let mut o = Origin {
            ts: u.ts,
            src_port: u32::from(u.sp),
            dst_port: u32::from(u.dp),
            depth: u.depth,
            record_version: u32::from(record_version),
            record_len: record_len as u32,
            ..Default::default()
        };
        fmt::set_ip(&mut o.src_ip, u.src);
        fmt::set_ip(&mut o.dst_ip, u.dst);
        o
    }
}

/// A hello arriving in fragments.
struct Pending {
    len: usize,
    bytes: Fragments,
    /// Fragments received.
    records: u32,
    /// Set by the fragment at offset 0.
    origin: Option<Origin>,
    last_ts: i64,
}

impl Pending {
    /// A fragment at `off`, cut to the message's length.
    fn add(&mut self, off: usize, data: &[u8]) {
        let end = (off + data.len()).min(self.len);
        if off < end {
            self.bytes.add(off, &data[..end - off]);
        }
    }
}

/// One handshake fragment header (RFC 6347 4.2.2).
struct Fragment<'a> {
    ty: u8,
    len: usize,
    seq: u16,
    off: usize,
    data: &'a [u8],
    /// The fragment claims more bytes than its record has.
    cut: bool,
}

/// Per-instance DTLS state.
#[derive(Default)]
pub struct Dtls {
    pending: BTreeMap<Key, Pending>,
    scratch: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn be24(b: &[u8], at: usize) -> usize {
    (usize::from(b[at]) << 16) | (usize::from(b[at + 1]) << 8) | usize::from(b[at + 2])
}

/// Whether `v` is a DTLS record version: 1.0 (0xfeff), 1.2 (0xfefd), 1.3 (0xfefc; its plaintext
/// records say 1.2) or OpenSSL's pre-RFC 1.0 (0x0100).
pub fn is_version(v: usize) -> bool {
    matches!(v, 0xfeff | 0xfefd | 0xfefc | 0x0100)
}

/// Whether `d` starts with a DTLS plaintext record header whose length fits the datagram (or
/// the capture cut the datagram).
pub fn looks_like(d: &[u8], cut: bool) -> bool {
    d.len() >= RECORD_HEADER
        && (20..=25).contains(&d[0])
        && is_version(be16(d, 1))
        && (cut || RECORD_HEADER + be16(d, 11) <= d.len())
}

impl Dtls {
    /// Reads one UDP datagram; nothing happens when it is not DTLS. `enabled`: ClientHello and
    /// ServerHello records wanted.
    pub fn datagram(&mut self, u: &Udp<'_>, enabled: [bool; 2], out: &mut Emitter<'_>) {
        let mut d = u.payload;
        let capwap = [5246, 5247].contains(&u.sp) || [5246, 5247].contains(&u.dp);
        if capwap && d.len() > 4 && d[0] == 0x01 {
            d = &d[4..];
        }
        if !looks_like(d, u.cut) {
            return;
        }
        while d.len() >= RECORD_HEADER && (20..=25).contains(&d[0]) {
            let (ct, version, epoch, len) = (d[0], be16(d, 1), be16(d, 3), be16(d, 11));
            let cut = RECORD_HEADER + len > d.len();
            let body = &d[RECORD_HEADER..(RECORD_HEADER + len).min(d.len())];
            if ct == CT_HANDSHAKE && epoch == 0 {
                self.handshake(u, version as u16, len, body, enabled, out);
            }
            if cut {
                out.error("dtls: record truncated");
                return;
            }
            d = &d[RECORD_HEADER + len..];
        }
        // The rest is a DTLS 1.3 ciphertext record (unified header) or not records: not read.
    }

    /// The handshake fragments of one plaintext record.
    fn handshake(
        &mut self,
        u: &Udp<'_>,
        version: u16,
        record_len: usize,
        mut b: &[u8],
        enabled: [bool; 2],
        out: &mut Emitter<'_>,
    ) {
        while !b.is_empty() {
            if b.len() < FRAGMENT_HEADER {
                out.error("dtls: handshake truncated");
                return;
            }
            let flen = be24(b, 9);
            let f = Fragment {
                ty: b[0],
                len: be24(b, 1),
                seq: be16(b, 4) as u16,
                off: be24(b, 6),
                data: &b[FRAGMENT_HEADER..(FRAGMENT_HEADER + flen).min(b.len())],
                cut: FRAGMENT_HEADER + flen > b.len(),
            };
            let wanted = match f.ty {
                HS_CLIENT_HELLO => enabled[0],
                HS_SERVER_HELLO => enabled[1],
                _ => false,
            };
            if wanted {
                self.fragment(u, version, record_len, &f, out);
            }
            if f.cut {
                if !wanted {
                    out.error("dtls: handshake truncated");
                }
                return;
            }
            b = &b[FRAGMENT_HEADER + flen..];
        }
    }

    /// One fragment of a hello.
    fn fragment(&mut self, u: &Udp<'_>, version: u16, record_len: usize, f: &Fragment<'_>, out: &mut Emitter<'_>) {
        if f.off == 0 && f.data.len() >= f.len {
            let o = Origin::of(u, version, record_len);
            self.emit(f.ty, f.len, &f.data[..f.len], true, &o, 1, out);
            return;
        }
        if f.off == 0 && f.cut {
            // Cut by the capture or the record, not a fragment: the hello as far as it came.
            let o = Origin::of(u, version, record_len);
            out.error("dtls: hello truncated");
            self.emit(f.ty, f.len, f.data, false, &o, 1, out);
            return;
        }
        if f.len > MAX_MESSAGE {
            out.error("dtls: hello too long");
            return;
        }
        let key = key(u, f.seq, f.ty);
        if !self.pending.contains_key(&key) && self.pending.len() >= MAX_PENDING {
            out.error("dtls: too many pending hellos");
            return;
        }
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            len: f.len,
            bytes: Fragments::with_len(f.len),
            records: 0,
            origin: None,
            last_ts: u.ts,
        });
        if p.len != f.len {
            out.error("dtls: fragment length mismatch");
            return;
        }
        p.add(f.off, f.data);
        p.records += 1;
        p.last_ts = u.ts;
        if f.off == 0 && p.origin.is_none() {
            p.origin = Some(Origin::of(u, version, record_len));
        }
        if p.bytes.contiguous() >= p.len
            && let Some(p) = self.pending.remove(&key)
        {
            let o = p.origin.unwrap_or_default();
            self.emit(f.ty, p.len, p.bytes.bytes(), true, &o, p.records, out);
        }
    }

    /// Emits a hello (`b`: its body, `whole` or the start of it) as a TLS record.
    #[allow(clippy::too_many_arguments)]
    fn emit(&mut self, ty: u8, len: usize, b: &[u8], whole: bool, o: &Origin, records: u32, out: &mut Emitter<'_>) {
        if ty == HS_CLIENT_HELLO {
            let mut r = v1::TlsClientHello {
                timestamp: o.ts,
                r#type: u32::from(CT_HANDSHAKE),
                version: o.record_version,
                message_len: o.record_len,
                handshake_type: u32::from(HS_CLIENT_HELLO),
                handshake_len: len as u32,
                src_ip: o.src_ip.clone(),
                dst_ip: o.dst_ip.clone(),
                src_port: o.src_port,
                dst_port: o.dst_port,
                tunnel_depth: o.depth,
                records,
                ..Default::default()
            };
            without_cookie(b, &mut self.scratch);
            if let Some(kind) = netcap_tls_parse::client_hello(&self.scratch, &mut r, 'd', whole) {
                out.error(kind);
            }
            out.record(T_TLS_CLIENT_HELLO, &r);
        } else {
            let mut r = v1::TlsServerHello {
                timestamp: o.ts,
                src_ip: o.src_ip.clone(),
                dst_ip: o.dst_ip.clone(),
                src_port: o.src_port,
                dst_port: o.dst_port,
                tunnel_depth: o.depth,
                record_version: o.record_version,
                records,
                ..Default::default()
            };
            if let Some(kind) = netcap_tls_parse::server_hello(b, &mut r, whole) {
                out.error(kind);
            }
            out.record(T_TLS_SERVER_HELLO, &r);
        }
    }

    /// Gives up the hellos whose last fragment is older than `now - IDLE_NANOS` (all of them
    /// for `i64::MAX`): each with its start, if that came, as a partial record.
    pub fn expire(&mut self, now: i64, out: &mut Emitter<'_>) {
        let old: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| now == i64::MAX || now.saturating_sub(p.last_ts) > IDLE_NANOS)
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            let Some(p) = self.pending.remove(&k) else { continue };
            out.error("dtls: hello truncated");
            if let Some(o) = &p.origin {
                self.emit(k.6, p.len, &p.bytes.bytes()[..p.bytes.contiguous()], false, o, p.records, out);
            }
        }
    }
}

/// The pending-message key of a fragment.
fn key(u: &Udp<'_>, seq: u16, ty: u8) -> Key {
    let addr = |a: &[u8]| {
        let mut x = [0u8; 16];
        let n = a.len().min(16);
        x[16 - n..].copy_from_slice(&a[..n]);
        x
    };
    (addr(u.src), u.sp, addr(u.dst), u.dp, u.depth, seq, ty)
}

/// Copies a DTLS ClientHello body into `out` without its cookie (after the session id), which
/// gives the TLS form of the hello. A body cut before the cookie's end is copied as far as the
/// session id.
pub fn without_cookie(b: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let sid_end = b.get(34).map_or(b.len(), |&n| (35 + usize::from(n)).min(b.len()));
    out.extend_from_slice(&b[..sid_end]);
    if let Some(&c) = b.get(sid_end) {
        let rest = sid_end + 1 + usize::from(c);
        if rest <= b.len() {
            out.extend_from_slice(&b[rest..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::run;
    use prost::Message;

    /// A DTLS 1.2 ClientHello body: cookie `aa bb`, ciphers c02b 002f, compression 0, SNI
    /// `example.com`, supported_groups x25519, ec_point_formats uncompressed.
    fn client_hello_body() -> Vec<u8> {
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&[0, 2, 0xaa, 0xbb, 0, 4, 0xc0, 0x2b, 0x00, 0x2f, 1, 0]);
        let mut ext = vec![0, 0, 0, 16, 0, 14, 0, 0, 11];
        ext.extend_from_slice(b"example.com");
        ext.extend_from_slice(&[0, 10, 0, 4, 0, 2, 0, 0x1d, 0, 11, 0, 2, 1, 0]);
        b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        b.extend_from_slice(&ext);
        b
    }

    /// A handshake fragment of `body` (message length `len`) at `off`.
    fn fragment(ty: u8, len: usize, seq: u16, off: usize, body: &[u8]) -> Vec<u8> {
        let mut f = vec![ty];
        f.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
        f.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        f.extend_from_slice(body);
        f
    }

    /// A DTLS 1.2 record (epoch 0) around `body`.
    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn hellos(recs: &[(u16, Vec<u8>)]) -> Vec<v1::TlsClientHello> {
        recs.iter().filter(|(t, _)| *t == T_TLS_CLIENT_HELLO).map(|(_, b)| Message::decode(&b[..]).unwrap()).collect()
    }

    #[test]
    fn client_hello_in_one_record() {
        let body = client_hello_body();
        let d = record(22, &fragment(1, body.len(), 0, 0, &body));
        let (recs, errs) = run(&[(4433, d)]);
        assert!(errs.is_empty(), "{errs:?}");
        let c = hellos(&recs);
        assert_eq!(c.len(), 1);
        // Hand-derived: version 0xfefd = 65277, the cookie is not a cipher suite.
        assert_eq!(c[0].ja3_full, "65277,49195-47,0-10-11,29,0");
        // md5sum of the string above.
        assert_eq!(c[0].ja3, "2413c5c6179178b2f6f9e956499ea89f");
        // d, DTLS 1.2 (d2), SNI, 2 ciphers, 3 extensions, no ALPN; sha256sum("002f,c02b")[..12],
        // sha256sum("000a,000b")[..12].
        assert_eq!(c[0].ja4, "dd2d020300_a137a120d3d9_33a13ba74d1c");
        assert_eq!((c[0].sni.as_str(), c[0].version, c[0].records), ("example.com", 0xfefd, 1));
    }

    #[test]
    fn fragments_out_of_order_are_reassembled() {
        let body = client_hello_body();
        let (a, b) = body.split_at(40);
        let second = record(22, &fragment(1, body.len(), 0, 40, b));
        let first = record(22, &fragment(1, body.len(), 0, 0, a));
        let (recs, errs) = run(&[(4433, second), (4433, first)]);
        assert!(errs.is_empty(), "{errs:?}");
        let c = hellos(&recs);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].ja3.as_str(), c[0].records, c[0].timestamp), ("2413c5c6179178b2f6f9e956499ea89f", 2, 1_001));
    }

    #[test]
    fn missing_fragment_gives_a_partial_hello_at_the_end() {
        let body = client_hello_body();
        let (recs, errs) = run(&[(4433, record(22, &fragment(1, body.len(), 0, 0, &body[..50])))]);
        assert_eq!(errs, ["dtls: hello truncated"]);
        let c = hellos(&recs);
        assert_eq!((c.len(), c[0].cipher_suites.clone(), c[0].ja3.as_str()), (1, vec![0xc02b, 0x2f], ""));
    }

    #[test]
    fn not_dtls_is_ignored() {
        let (recs, errs) = run(&[(53, b"\x16\xfe\xfd not really".to_vec()), (5060, b"INVITE sip:x SIP/2.0".to_vec())]);
        assert!(recs.is_empty() && errs.is_empty(), "{recs:?} {errs:?}");
    }

    /// Every cut and single-byte garbling of a datagram with two records: no panic, and every
    /// error is one of ours or the TLS parser's.
    #[test]
    fn cuts_and_garbling() {
        let body = client_hello_body();
        let mut d = record(22, &fragment(1, body.len(), 0, 0, &body));
        d.extend_from_slice(&record(22, &fragment(1, body.len(), 1, 0, &body[..30])));
        for n in 0..=d.len() {
            let (_, errs) = run(&[(4433, d[..n].to_vec())]);
            assert!(errs.iter().all(|e| e.starts_with("dtls: ") || e.starts_with("tls: ")), "cut {n}: {errs:?}");
        }
        for i in 0..d.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut g = d.clone();
                g[i] ^= x;
                let (_, errs) = run(&[(4433, g)]);
                assert!(errs.iter().all(|e| e.starts_with("dtls: ") || e.starts_with("tls: ")), "{i}: {errs:?}");
            }
        }
    }

    #[test]
    fn cookie_is_dropped() {
        let body = client_hello_body();
        let mut out = Vec::new();
        without_cookie(&body, &mut out);
        assert_eq!(out.len(), body.len() - 3);
        assert_eq!(&out[35..39], &[0, 4, 0xc0, 0x2b]);
        without_cookie(&body[..36], &mut out);
        assert_eq!(out.len(), 35);
    }
}
