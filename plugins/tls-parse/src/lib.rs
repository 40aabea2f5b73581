//! TLS hello messages (ClientHello, ServerHello) parsed into `netcap.v1.TLSClientHello` /
//! `TLSServerHello`, and their fingerprints ([`fingerprint`]: JA3, JA3S, JA4). Shared by the
//! `stream` decoder (TLS over reassembled TCP), the `quic` decoder (TLS in QUIC CRYPTO frames)
//! and the `inet` decoder (DTLS hellos, their cookie removed), so all fill the records the same
//! way; [`Fragments`] reassembles the hellos the QUIC and DTLS decoders receive in pieces. The fixed fields of a hello are read by a small cursor, so that a cut hello still gives
//! its leading fields; the extension contents are decoded with
//! `tls-parser`.

pub mod fingerprint;
pub mod fragments;

pub use fragments::Fragments;

use netcap_proto::v1;
use tls_parser::TlsExtension;

/// The random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11,
    0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Fills `r` from a ClientHello body (after the 4-byte handshake header) and, when the hello is
/// `whole` and parses, its JA3 and JA4 (`proto`: `t` TCP, `q` QUIC, `d` DTLS). Returns the error
/// to count: a parse error of a whole hello (a hello cut by the capture counts its own error).
pub fn client_hello(b: &[u8], r: &mut v1::TlsClientHello, proto: char, whole: bool) -> Option<&'static str> {
    let mut alpn0 = Vec::new();
    match parse_client_hello(b, r, &mut alpn0) {
        Ok(()) if whole => {
            r.ja3_full = fingerprint::ja3_string(r);
            r.ja3 = fingerprint::md5_hex(r.ja3_full.as_bytes());
            r.ja4 = fingerprint::ja4_with_alpn(r, proto, Some(&alpn0));
            None
        }
        Ok(()) => None,
        Err(kind) => whole.then_some(kind),
    }
}

/// Fills `r` from a ServerHello body and, when the hello is `whole`, its JA3S: of what was read,
/// also when its extensions are malformed (as Wireshark and Arkime); a hello cut by the capture
/// gets none. Returns the error to count, as [`client_hello`].
pub fn server_hello(b: &[u8], r: &mut v1::TlsServerHello, whole: bool) -> Option<&'static str> {
    let (ja3s_exts, err) = match parse_server_hello(b, r) {
        Ok(()) => (Some(r.extensions.len()), None),
        Err((kind, n)) => (n, whole.then_some(kind)),
    };
    if let Some(n) = ja3s_exts.filter(|_| whole) {
        let all = std::mem::take(&mut r.extensions);
        r.extensions.extend_from_slice(&all[..n]);
        r.ja3s_full = fingerprint::ja3s_string(r);
        r.ja3s = fingerprint::md5_hex(r.ja3s_full.as_bytes());
        r.extensions = all;
    }
    err
}

/// A cursor over hello bytes; running out is a truncated hello.
struct Cur<'a> {
    b: &'a [u8],
    err: &'static str,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.b.len() < n {
            return Err(self.err);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Fills `r` from a ClientHello body (after the 4-byte handshake header). On error the fields
/// read before the problem are kept.
/// `alpn0` receives the raw bytes of the first ALPN value (JA4 needs them).
pub fn parse_client_hello(b: &[u8], r: &mut v1::TlsClientHello, alpn0: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut c = Cur { b, err: "tls: client hello truncated" };
    r.handshake_version = u32::from(c.u16()?);
    r.random = c.take(32)?.to_vec();
    let sid_len = c.u8()?;
    r.session_id_len = u32::from(sid_len);
    r.session_id = c.take(usize::from(sid_len))?.to_vec();
    let cl = c.u16()?;
    r.cipher_suite_len = u32::from(cl);
    let cs = c.take(usize::from(cl))?;
    r.cipher_suites = cs.chunks_exact(2).map(|p| u32::from(u16::from_be_bytes([p[0], p[1]]))).collect();
    if cs.len() % 2 != 0 {
        return Err("tls: client hello malformed");
    }
    let ml = c.u8()?;
    r.compress_meth_len = u32::from(ml);
    r.compress_methods = c.take(usize::from(ml))?.iter().map(|&m| u32::from(m)).collect();
    if c.b.is_empty() {
        return Ok(());
    }
    let el = c.u16()?;
    r.extension_len = u32::from(el);
    let (ext, cut) = match c.take(usize::from(el)) {
        Ok(e) => (e, false),
        Err(_) => (c.b, true),
    };
    extensions(ext, true, |ty, _, parsed| {
        r.extensions.push(u32::from(ty));
        if ty == 5 {
            r.ocsp = true;
        }
        match parsed {
            Some(TlsExtension::SNI(names)) => {
                if let Some((_, n)) = names.iter().find(|(t, _)| t.0 == 0) {
                    r.sni = String::from_utf8_lossy(n).into_owned();
                }
            }
            Some(TlsExtension::EllipticCurves(g)) => r.supported_groups = g.iter().map(|g| u32::from(g.0)).collect(),
            Some(TlsExtension::EcPointFormats(p)) => r.supported_points = p.iter().map(|&p| u32::from(p)).collect(),
            Some(TlsExtension::SignatureAlgorithms(s)) => r.signature_algs = s.iter().map(|&s| u32::from(s)).collect(),
            Some(TlsExtension::ALPN(a)) => {
                r.alpns = a.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
                alpn0.clear();
                alpn0.extend_from_slice(a.first().copied().unwrap_or_default());
            }
            Some(TlsExtension::SupportedVersions(v)) => {
                r.supported_versions = v.iter().map(|v| u32::from(v.0)).collect();
            }
            _ => {}
        }
    })?;
    if cut { Err("tls: client hello truncated") } else { Ok(()) }
}

/// Fills `r` from a ServerHello body. On error the fields read before the problem are kept, and
/// the error comes with the number of `r.extensions` that JA3S takes, once the version and the
/// cipher suite were read (`None` before): as in Wireshark, the types read before the problem,
/// none when the extensions block claims more bytes than the message has.
pub fn parse_server_hello(b: &[u8], r: &mut v1::TlsServerHello) -> Result<(), (&'static str, Option<usize>)> {
    let mut c = Cur { b, err: "tls: server hello truncated" };
    let version = c.u16().map_err(|e| (e, None))?;
    r.version = u32::from(version);
    r.random = c.take(32).map_err(|e| (e, None))?.to_vec();
    r.hello_retry_request = r.random == HRR_RANDOM;
    // TLS 1.3 drafts before 22 have no session id and no compression method.
    let draft = version & 0xff00 == 0x7f00;
    if !draft {
        let sid_len = c.u8().map_err(|e| (e, None))?;
        r.session_id = c.take(usize::from(sid_len)).map_err(|e| (e, None))?.to_vec();
    }
    r.cipher_suite = u32::from(c.u16().map_err(|e| (e, None))?);
    if !draft {
        r.compression_method = u32::from(c.u8().map_err(|e| (e, Some(0)))?);
    }
    if c.b.is_empty() {
        return Ok(());
    }
    let el = c.u16().map_err(|e| (e, Some(0)))?;
    let (ext, cut) = match c.take(usize::from(el)) {
        Ok(e) => (e, false),
        Err(_) => (c.b, true),
    };
    let walked = extensions(ext, false, |ty, data, parsed| {
        r.extensions.push(u32::from(ty));
        match parsed {
            Some(TlsExtension::ALPN(a)) => {
                if let Some(p) = a.first() {
                    r.alpn_protocol = String::from_utf8_lossy(p).into_owned();
                }
            }
            Some(TlsExtension::SupportedVersions(v)) => {
                r.supported_version = v.first().map_or(0, |v| u32::from(v.0));
            }
            _ => {}
        }
        if ty == 51 && data.len() >= 2 {
            r.selected_group = u32::from(u16::from_be_bytes([data[0], data[1]]));
        }
    });
    match (walked, cut) {
        (_, true) => Err(("tls: server hello truncated", Some(0))),
        (Err(e), false) => Err((e, Some(r.extensions.len()))),
        (Ok(()), false) => Ok(()),
    }
}

/// Walks an extensions block: `f(type, data, decoded)` for each extension in order, with the
/// contents decoded by tls-parser (`None` when they do not parse; the type still counts).
fn extensions(
    mut b: &[u8],
    client: bool,
    mut f: impl FnMut(u16, &[u8], Option<TlsExtension<'_>>),
) -> Result<(), &'static str> {
    let truncated = if client { "tls: client hello truncated" } else { "tls: server hello truncated" };
    while !b.is_empty() {
        if b.len() < 4 {
            return Err(truncated);
        }
        let ty = u16::from_be_bytes([b[0], b[1]]);
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if b.len() < 4 + len {
            // The type is known even though the contents are cut.
            f(ty, &b[4..], None);
            return Err(truncated);
        }
        let whole = &b[..4 + len];
        let parsed = if client {
            tls_parser::parse_tls_client_hello_extension(whole)
        } else {
            tls_parser::parse_tls_server_hello_extension(whole)
        };
        f(ty, &whole[4..], parsed.ok().map(|(_, e)| e));
        b = &b[4 + len..];
    }
    Ok(())
}
