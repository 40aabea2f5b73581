//! SMB1 ([MS-CIFS], [MS-SMB]) and SMB2/3 ([MS-SMB2]) messages of one NetBIOS session message:
//! one SMB record per SMB header (every command of an SMB2 compound; an SMB1 AndX chain is one
//! record, its first command), with the fields of negotiate, session setup, tree connect,
//! create, close, read and write; an SMB3 transform header is one record flagged encrypted. The
//! NTLMSSP message of a session setup's security blob becomes an NTLM record ([`crate::ntlm`]).

use crate::{Ctx, Parser, T_SMB, ntlm};
use netcap_sdk::{Dir, Emitter};
use std::fmt::Write;

pub const E_SHORT: &str = "smb: header truncated";
pub const E_BAD_PROTOCOL: &str = "smb: not an smb header";
pub const E_BODY: &str = "smb: command body truncated";
pub const E_NEXT: &str = "smb2: bad next command offset";
pub const E_COMPRESSED: &str = "smb2: compressed message not decoded";

/// SMB2 header size.
const H2: usize = 64;
/// SMB1 header size.
const H1: usize = 32;

/// Little-endian integers at `i`, if there.
pub(crate) fn le16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}
pub(crate) fn le32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}
pub(crate) fn le64(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

/// `s` = the UTF-16LE string `b` (lossy, up to its first NUL), reusing the buffer.
pub(crate) fn set_utf16(s: &mut String, b: &[u8]) {
    s.clear();
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).take_while(|&u| u != 0);
    s.extend(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
}

/// `s` = the 8-bit string `b` (Latin-1, up to its first NUL), reusing the buffer.
pub(crate) fn set_oem(s: &mut String, b: &[u8]) {
    s.clear();
    s.extend(b.iter().take_while(|&&c| c != 0).map(|&c| char::from(c)));
}

/// `s` = the 16 bytes `g` as Wireshark shows a GUID (first three fields little-endian).
fn set_guid(s: &mut String, g: &[u8]) {
    s.clear();
    if g.len() < 16 {
        return;
    }
    let (a, b, c) = (le32(g, 0).unwrap_or(0), le16(g, 4).unwrap_or(0), le16(g, 6).unwrap_or(0));
    let _ = write!(s, "{a:08x}-{b:04x}-{c:04x}-{:02x}{:02x}-", g[8], g[9]);
    for x in &g[10..16] {
        let _ = write!(s, "{x:02x}");
    }
}

/// One NetBIOS session message `msg` (header included; `cut`: why it is incomplete) of
/// direction `dir`, whose first byte came at `ts`: its records, then its errors.
pub fn message(
    p: &mut Parser,
    dir: Dir,
    msg: &[u8],
    cut: Option<&'static str>,
    ts: i64,
    cx: &Ctx<'_>,
    out: &mut Emitter<'_>,
) {
    // Session request, positive/negative response, retarget, keep-alive: no SMB in them.
    if msg[0] == 0 {
        let b = &msg[4..];
        let err = match b.get(..4) {
            None => Some(E_SHORT),
            Some([0xfe, b'S', b'M', b'B']) => smb2(p, dir, b, ts, cx, out),
            Some([0xff, b'S', b'M', b'B']) => smb1(p, dir, b, ts, cx, out),
            Some([0xfd, b'S', b'M', b'B']) => transform(p, dir, b, ts, cx, out),
            Some([0xfc, b'S', b'M', b'B']) => Some(E_COMPRESSED),
            Some(_) => Some(E_BAD_PROTOCOL),
        };
        // A message cut short counts as that, not as what its parse then missed.
        if let Some(e) = cut.or(err) {
            out.error(e);
        }
    } else if let Some(c) = cut {
        out.error(c);
    }
}

/// Fills the record's addresses and time and writes it.
fn emit(p: &mut Parser, dir: Dir, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    let r = &mut p.smb;
    r.timestamp = ts;
    (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
    if p.on[0] {
        out.record(T_SMB, r);
    }
}

/// An NTLMSSP message found in a security blob: its record after the SMB record.
fn emit_ntlm(
    p: &mut Parser,
    m: Option<&[u8]>,
    transport: &str,
    dir: Dir,
    ts: i64,
    cx: &Ctx<'_>,
    out: &mut Emitter<'_>,
) {
    if let Some(m) = m {
        ntlm::message(p, m, transport, dir, ts, cx, out);
    }
}

/// An SMB3 transform header (MS-SMB2 2.2.41): the encrypted message's session and size.
fn transform(p: &mut Parser, dir: Dir, b: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Option<&'static str> {
    let r = &mut p.smb;
    prost::Message::clear(r);
    r.version = 3;
    r.encrypted = true;
    let err = match (le32(b, 36), le64(b, 44)) {
        (Some(size), Some(session)) => {
            (r.original_size, r.session_id) = (size, session);
            None
        }
        (size, _) => {
            r.original_size = size.unwrap_or(0);
            Some(E_SHORT)
        }
    };
    emit(p, dir, ts, cx, out);
    err
}

/// The SMB2 headers of `b` (a compound: each with its NextCommand offset).
fn smb2(p: &mut Parser, dir: Dir, b: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Option<&'static str> {
    let mut off = 0;
    let mut index = 0;
    loop {
        let rest = &b[off..];
        let next = le32(rest, 20).map_or(0, |n| n as usize);
        let h = if next >= H2 && next <= rest.len() { &rest[..next] } else { rest };
        prost::Message::clear(&mut p.smb);
        p.smb.version = 2;
        p.smb.compound_index = index;
        let r = smb2_one(&mut p.smb, h);
        emit(p, dir, ts, cx, out);
        let blob = match r {
            Ok(blob) => blob,
            Err(e) => return Some(e),
        };
        emit_ntlm(p, blob, "smb2", dir, ts, cx, out);
        if next == 0 {
            return None;
        }
        if next < H2 || next >= rest.len() || !next.is_multiple_of(8) {
            return Some(E_NEXT);
        }
        off += next;
        index += 1;
    }
}

/// One SMB2 header and its body `h` into `r`; the NTLMSSP message of a session setup blob.
fn smb2_one<'a>(r: &mut netcap_proto::v1::Smb, h: &'a [u8]) -> Result<Option<&'a [u8]>, &'static str> {
    if h.len() < H2 {
        // What there is of the header.
        if let Some(c) = le16(h, 12) {
            r.command = u32::from(c);
        }
        return Err(E_SHORT);
    }
    let u16_ = |i| le16(h, i).unwrap_or(0);
    let u32_ = |i| le32(h, i).unwrap_or(0);
    let u64_ = |i| le64(h, i).unwrap_or(0);
    r.credit_charge = u32::from(u16_(6));
    r.status = u32_(8);
    r.command = u32::from(u16_(12));
    r.credits = u32::from(u16_(14));
    r.flags = u32_(16);
    r.response = r.flags & 1 != 0;
    r.message_id = u64_(24);
    if r.flags & 2 != 0 {
        r.async_id = u64_(32);
    } else {
        r.tree_id = u32_(36);
    }
    r.session_id = u64_(40);
    let body = &h[H2..];
    let size = le16(body, 0).unwrap_or(0);
    // An error response (2.2.2) has its own body; a session setup's "more processing" is not one.
    if r.response && r.status != 0 && size == 9 && r.command != 1 {
        return Ok(None);
    }
    smb2_body(r, h, body).ok_or(E_BODY)
}

/// The command's body fields; `None` when the body is cut short.
fn smb2_body<'a>(r: &mut netcap_proto::v1::Smb, h: &'a [u8], body: &'a [u8]) -> Option<Option<&'a [u8]>> {
    let at = |off: usize, len: usize| h.get(off..off.checked_add(len)?);
    match (r.command, r.response) {
        (0, false) => {
            let n = le16(body, 2)?;
            r.security_mode = u32::from(le16(body, 4)?);
            r.capabilities = le32(body, 8)?;
            for i in 0..usize::from(n) {
                r.dialects.push(u32::from(le16(body, 36 + 2 * i)?));
            }
        }
        (0, true) => {
            r.security_mode = u32::from(le16(body, 2)?);
            r.dialect = u32::from(le16(body, 4)?);
            set_guid(&mut r.server_guid, body.get(8..24)?);
            r.capabilities = le32(body, 24)?;
            let blob = at(usize::from(le16(body, 56)?), usize::from(le16(body, 58)?))?;
            return Some(blob_auth(r, blob));
        }
        (1, false) => {
            r.security_mode = u32::from(*body.get(3)?);
            r.capabilities = le32(body, 4)?;
            let blob = at(usize::from(le16(body, 12)?), usize::from(le16(body, 14)?))?;
            return Some(blob_auth(r, blob));
        }
        (1, true) => {
            r.session_flags = u32::from(le16(body, 2)?);
            let blob = at(usize::from(le16(body, 4)?), usize::from(le16(body, 6)?))?;
            return Some(blob_auth(r, blob));
        }
        (3, false) => set_utf16(&mut r.share, at(usize::from(le16(body, 4)?), usize::from(le16(body, 6)?))?),
        (3, true) => r.share_type = u32::from(*body.get(2)?),
        (5, false) => {
            r.desired_access = le32(body, 24)?;
            r.create_disposition = le32(body, 36)?;
            r.create_options = le32(body, 40)?;
            let len = usize::from(le16(body, 46)?);
            // An empty name (the share's root) may have any offset.
            if len > 0 {
                set_utf16(&mut r.file_name, at(usize::from(le16(body, 44)?), len)?);
            }
        }
        (5, true) => {
            r.create_action = le32(body, 4)?;
            set_guid(&mut r.file_id, body.get(64..80)?);
        }
        (6, false) => set_guid(&mut r.file_id, body.get(8..24)?),
        (8, false) => {
            r.length = le32(body, 4)?;
            r.offset = le64(body, 8)?;
            set_guid(&mut r.file_id, body.get(16..32)?);
        }
        (8 | 9, true) => r.length = le32(body, 4)?,
        (9, false) => {
            r.length = le32(body, 4)?;
            r.offset = le64(body, 8)?;
            set_guid(&mut r.file_id, body.get(16..32)?);
        }
        _ => {}
    }
    Some(None)
}

/// The GSS-API OIDs of Kerberos 5 (RFC 4121) and Microsoft's Kerberos 5, DER-encoded.
const KRB5_OIDS: [&[u8]; 2] =
    [b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", b"\x06\x09\x2a\x86\x48\x82\xf7\x12\x01\x02\x02"];

/// Records the blob's length and what it carries; returns its NTLMSSP message, if any.
fn blob_auth<'a>(r: &mut netcap_proto::v1::Smb, blob: &'a [u8]) -> Option<&'a [u8]> {
    r.security_blob_length = blob.len() as u32;
    let m = ntlm::find(blob);
    let kind = if m.is_some() {
        "ntlmssp"
    } else if KRB5_OIDS.iter().any(|oid| {
        // A Kerberos AP-REQ (token id 01 00) or AP-REP (02 00) after the OID.
        blob.windows(oid.len() + 2).any(|w| w.starts_with(oid) && matches!(&w[oid.len()..], [1 | 2, 0]))
    }) {
        "kerberos"
    } else if blob.is_empty() {
        ""
    } else {
        "spnego"
    };
    crate::set_str(&mut r.auth, kind);
    m
}

/// One SMB1 message: its header and the first command's fields.
fn smb1(p: &mut Parser, dir: Dir, b: &[u8], ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) -> Option<&'static str> {
    prost::Message::clear(&mut p.smb);
    p.smb.version = 1;
    let r = smb1_one(&mut p.smb, b);
    emit(p, dir, ts, cx, out);
    match r {
        Ok(blob) => {
            emit_ntlm(p, blob, "smb", dir, ts, cx, out);
            None
        }
        Err(e) => Some(e),
    }
}

/// The SMB1 header and first command of `b` into `r`; the NTLMSSP message of a session setup.
fn smb1_one<'a>(r: &mut netcap_proto::v1::Smb, b: &'a [u8]) -> Result<Option<&'a [u8]>, &'static str> {
    if b.len() < H1 {
        if let Some(&c) = b.get(4) {
            r.command = u32::from(c);
        }
        return Err(E_SHORT);
    }
    r.command = u32::from(b[4]);
    let flags2 = le16(b, 10).unwrap_or(0);
    r.status = if flags2 & 0x4000 != 0 {
        le32(b, 5).unwrap_or(0)
    } else {
        u32::from(b[5]) | u32::from(le16(b, 7).unwrap_or(0)) << 16
    };
    r.flags = u32::from(b[9]) | u32::from(flags2) << 8;
    r.response = b[9] & 0x80 != 0;
    r.process_id = u32::from(le16(b, 12).unwrap_or(0)) << 16 | u32::from(le16(b, 26).unwrap_or(0));
    r.tree_id = u32::from(le16(b, 24).unwrap_or(0));
    r.session_id = u64::from(le16(b, 28).unwrap_or(0));
    r.message_id = u64::from(le16(b, 30).unwrap_or(0));
    smb1_body(r, b, flags2 & 0x8000 != 0).ok_or(E_BODY)
}

/// The first command's parameter words and bytes; `None` when cut short.
fn smb1_body<'a>(r: &mut netcap_proto::v1::Smb, b: &'a [u8], unicode: bool) -> Option<Option<&'a [u8]>> {
    let wc = usize::from(*b.get(H1)?);
    let words = b.get(H1 + 1..H1 + 1 + 2 * wc)?;
    let bc_at = H1 + 1 + 2 * wc;
    let bc = usize::from(le16(b, bc_at)?);
    let bytes_at = bc_at + 2;
    let bytes = b.get(bytes_at..bytes_at + bc)?;
    // A string in the bytes at offset `i`: Unicode ones start 2-aligned from the header.
    let string = |s: &mut String, i: usize| {
        let Some(t) = bytes.get(i..) else { return };
        if unicode {
            let pad = (bytes_at + i) % 2;
            set_utf16(s, t.get(pad..).unwrap_or_default());
        } else {
            set_oem(s, t);
        }
    };
    let w16 = |i: usize| le16(words, i);
    let w32 = |i: usize| le32(words, i);
    let fid = |s: &mut String, v: u16| {
        s.clear();
        let _ = write!(s, "0x{v:04x}");
    };
    match (r.command, r.response) {
        (0x72, false) => {
            for d in bytes.split(|&c| c == 0).filter(|d| d.first() == Some(&2)) {
                let mut s = String::new();
                set_oem(&mut s, &d[1..]);
                r.dialect_names.push(s);
            }
        }
        (0x72, true) if wc == 17 => {
            r.dialect = u32::from(w16(0)?);
            r.security_mode = u32::from(*words.get(2)?);
            r.capabilities = w32(19)?;
            if r.capabilities & 0x8000_0000 != 0 {
                set_guid(&mut r.server_guid, bytes.get(..16)?);
                return Some(blob_auth(r, bytes.get(16..)?));
            }
        }
        (0x72, true) => r.dialect = u32::from(w16(0).unwrap_or(0)),
        (0x73, false) if wc == 12 => {
            r.capabilities = w32(20)?;
            return Some(blob_auth(r, bytes.get(..usize::from(w16(14)?))?));
        }
        (0x73, true) if wc == 4 => return Some(blob_auth(r, bytes.get(..usize::from(w16(6)?))?)),
        (0x75, false) if wc == 4 => string(&mut r.share, usize::from(w16(6)?)),
        (0xa2, false) if wc == 24 => {
            r.desired_access = w32(15)?;
            r.create_disposition = w32(35)?;
            r.create_options = w32(39)?;
            string(&mut r.file_name, 0);
        }
        (0xa2, true) if wc >= 34 => {
            fid(&mut r.file_id, w16(5)?);
            r.create_action = w32(7)?;
        }
        (0x04, false) if wc >= 3 => fid(&mut r.file_id, w16(0)?),
        (0x2e, false) if wc >= 10 => {
            fid(&mut r.file_id, w16(4)?);
            let high = if wc >= 12 { u64::from(w32(20)?) } else { 0 };
            r.offset = high << 32 | u64::from(w32(6)?);
            r.length = u32::from(w16(10)?);
        }
        (0x2e, true) if wc >= 12 => r.length = u32::from(w16(10)?) | u32::from(w16(14)?) << 16,
        (0x2f, false) if wc >= 12 => {
            fid(&mut r.file_id, w16(4)?);
            let high = if wc >= 14 { u64::from(w32(24)?) } else { 0 };
            r.offset = high << 32 | u64::from(w32(6)?);
            r.length = u32::from(w16(20)?) | u32::from(w16(18)?) << 16;
        }
        (0x2f, true) if wc >= 6 => r.length = u32::from(w16(4)?) | u32::from(w16(8)?) << 16,
        _ => {}
    }
    Some(None)
}
