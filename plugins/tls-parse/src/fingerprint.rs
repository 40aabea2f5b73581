//! TLS fingerprints of hello records.
//!
//! - **JA3** (Salesforce): `version,ciphers,extensions,groups,point formats` of a ClientHello,
//!   each list as decimal values joined by `-`, GREASE values (RFC 8701) removed; the hash is the
//!   MD5 hex of that string. **JA3S**: `version,cipher,extensions` of a ServerHello.
//! - **JA4** (FoxIO, `technical_details/JA4.md`): `a_b_c` where a = protocol (`t` TCP) + version
//!   (highest supported_versions entry, else the hello's version) + `d`/`i` (SNI present or not) +
//!   two-digit cipher and extension counts + first and last character of the first ALPN value;
//!   b = first 12 hex digits of SHA-256 of the sorted cipher list; c = same of the sorted extension
//!   list without SNI and ALPN, `_`, and the signature algorithms in their order. Lists are
//!   4-digit lowercase hex joined by `,`; GREASE is ignored everywhere.

use md5::{Digest, Md5};
use netcap_proto::v1;
use sha2::Sha256;
use std::fmt::Write;

/// Whether `v` is a GREASE value (RFC 8701: 0x0a0a, 0x1a1a, ..., 0xfafa).
pub fn is_grease(v: u32) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Lowercase hex MD5 of `b`.
pub fn md5_hex(b: &[u8]) -> String {
    hex(&Md5::digest(b))
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn join_dec(out: &mut String, vals: &[u32], grease: bool) {
    let mut first = true;
    for &v in vals {
        if grease && is_grease(v) {
            continue;
        }
        if !first {
            out.push('-');
        }
        first = false;
        let _ = write!(out, "{v}");
    }
}

/// The JA3 string of a ClientHello.
pub fn ja3_string(r: &v1::TlsClientHello) -> String {
    let mut s = String::new();
    let _ = write!(s, "{},", r.handshake_version);
    join_dec(&mut s, &r.cipher_suites, true);
    s.push(',');
    join_dec(&mut s, &r.extensions, true);
    s.push(',');
    join_dec(&mut s, &r.supported_groups, true);
    s.push(',');
    join_dec(&mut s, &r.supported_points, false);
    s
}

/// The JA3S string of a ServerHello.
pub fn ja3s_string(r: &v1::TlsServerHello) -> String {
    let mut s = String::new();
    let _ = write!(s, "{},{},", r.version, r.cipher_suite);
    join_dec(&mut s, &r.extensions, true);
    s
}

/// The two-character JA4 version code.
fn ja4_version(v: u32) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The JA4 ALPN part: first and last character of the first ALPN value.
fn ja4_alpn(alpns: &[String], raw_first: Option<&[u8]>) -> String {
    let first = raw_first.or_else(|| alpns.first().map(|s| s.as_bytes()));
    let Some(v) = first.filter(|v| !v.is_empty()) else { return "00".into() };
    let (a, z) = (v[0], v[v.len() - 1]);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        let mut s = String::new();
        s.push(a as char);
        s.push(z as char);
        s
    } else {
        // First and last characters of the hex form of the value.
        let h = hex(v);
        let mut s = String::new();
        s.push(h.as_bytes()[0] as char);
        s.push(h.as_bytes()[h.len() - 1] as char);
        s
    }
}

/// First 12 hex digits of SHA-256 of `s`, or twelve zeros when `empty`.
fn sha12(s: &str, empty: bool) -> String {
    if empty {
        return "000000000000".into();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

fn hex_list(vals: &[u32]) -> String {
    let mut s = String::new();
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    s
}

/// The JA4 fingerprint of a ClientHello; `proto` is `t` (TCP), `q` (QUIC) or `d` (DTLS).
pub fn ja4(r: &v1::TlsClientHello, proto: char) -> String {
    ja4_with_alpn(r, proto, None)
}

/// [`ja4`] with the raw bytes of the first ALPN value (the record keeps it as text).
pub fn ja4_with_alpn(r: &v1::TlsClientHello, proto: char, raw_alpn: Option<&[u8]>) -> String {
    let version = r.supported_versions.iter().copied().filter(|&v| !is_grease(v)).max().unwrap_or(r.handshake_version);
    let mut ciphers: Vec<u32> = r.cipher_suites.iter().copied().filter(|&c| !is_grease(c)).collect();
    let exts: Vec<u32> = r.extensions.iter().copied().filter(|&e| !is_grease(e)).collect();
    let sni = if exts.contains(&0) { 'd' } else { 'i' };
    let mut a = String::new();
    let _ = write!(
        a,
        "{proto}{}{sni}{:02}{:02}{}",
        ja4_version(version),
        ciphers.len().min(99),
        exts.len().min(99),
        ja4_alpn(&r.alpns, raw_alpn)
    );
    ciphers.sort_unstable();
    let b = sha12(&hex_list(&ciphers), ciphers.is_empty());
    let mut sorted: Vec<u32> = exts.iter().copied().filter(|&e| e != 0 && e != 0x10).collect();
    sorted.sort_unstable();
    let sigs: Vec<u32> = r.signature_algs.iter().copied().filter(|&s| !is_grease(s)).collect();
    let mut c_in = hex_list(&sorted);
    if !sigs.is_empty() {
        c_in.push('_');
        c_in.push_str(&hex_list(&sigs));
    }
    let c = sha12(&c_in, sorted.is_empty());
    format!("{a}_{b}_{c}")
}
