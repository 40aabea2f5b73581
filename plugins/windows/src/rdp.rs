//! The unencrypted start of an RDP connection (MS-RDPBCGR 1.3.1.1), each message a TPKT
//! (RFC 1006: version 3, a reserved byte, a 16-bit length) that [`crate::Side`] has cut: the
//! client's X.224 Connection Request (cookie or routing token, RDP_NEG_REQ), the server's
//! Connection Confirm (RDP_NEG_RSP or RDP_NEG_FAILURE) and, under standard RDP security, the
//! client core data (TS_UD_CS_CORE) inside the MCS Connect Initial's GCC user data. When the
//! client's next bytes are not a TPKT the connection has switched to TLS (a handshake record) or
//! to fast-path/encrypted traffic: the direction is no longer read ([`switch`]), without error.
//! One RDP record per connection is kept and written when the connection ends ([`end`]).

use crate::{Ctx, HEADER, Parser, T_RDP};
use netcap_sdk::{Dir, Emitter};

pub const E_BAD_TPKT: &str = "rdp: bad TPKT header";
pub const E_GAP: &str = "rdp: gap in message";
pub const E_TRUNCATED: &str = "rdp: message truncated";
pub const E_X224: &str = "rdp: X.224 header truncated";
pub const E_REQUEST: &str = "rdp: bad connection request";
pub const E_CORE: &str = "rdp: client core data truncated";

/// X.224 TPDU codes (upper nibble of the second header byte).
const CR: u8 = 0xe0;
const CC: u8 = 0xd0;
const DT: u8 = 0xf0;
/// RDP_NEG_* types.
const NEG_REQ: u8 = 1;
const NEG_RSP: u8 = 2;
const NEG_FAILURE: u8 = 3;
/// TS_UD_CS_CORE block type.
const CS_CORE: u16 = 0xc001;
/// The cookie line's prefix.
const MSTSHASH: &[u8] = b"Cookie: mstshash=";

fn le16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn le32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The message `msg` (TPKT header included) read whole, or as far as it got (`cut`: why not).
pub fn message(
    p: &mut Parser,
    dir: Dir,
    msg: &[u8],
    cut: Option<&'static str>,
    ts: i64,
    cx: &Ctx<'_>,
    out: &mut Emitter<'_>,
) {
    let x = msg.get(HEADER..).unwrap_or_default();
    let err = match (x.get(1).map(|c| c & 0xf0), dir) {
        (None, _) => Some(E_X224),
        (Some(CR), Dir::ToServer) if !p.rdp_seen => {
            p.rdp = Default::default();
            p.rdp_seen = true;
            let r = &mut p.rdp;
            r.timestamp = ts;
            (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
            request(x.get(7..).unwrap_or_default(), r).err()
        }
        (Some(CC), Dir::ToClient) if p.rdp_seen => {
            p.rdp.confirmed = true;
            confirm(x.get(7..).unwrap_or_default(), &mut p.rdp);
            None
        }
        (Some(DT), Dir::ToServer) if p.rdp_seen && !p.rdp.client_core => {
            client_data(x.get(3..).unwrap_or_default(), &mut p.rdp).err()
        }
        _ => None,
    };
    if let Some(e) = cut.or(err) {
        out.error(e);
    }
}

/// The Connection Request's variable part: an optional CRLF-terminated cookie or routing token,
/// then an optional RDP_NEG_REQ.
fn request(v: &[u8], r: &mut netcap_proto::v1::Rdp) -> Result<(), &'static str> {
    let is_neg = |b: &[u8]| b.first() == Some(&NEG_REQ) && b.get(2..4) == Some(&[8, 0][..]);
    let mut rest = v;
    if !v.is_empty() && !is_neg(v) {
        let end = v.windows(2).position(|w| w == b"\r\n").ok_or(E_REQUEST)?;
        let line = &v[..end];
        match line.strip_prefix(MSTSHASH) {
            Some(c) => r.cookie = String::from_utf8_lossy(c).into_owned(),
            None => r.routing_token = String::from_utf8_lossy(line).into_owned(),
        }
        rest = &v[end + 2..];
    }
    if rest.is_empty() {
        return Ok(());
    }
    if !is_neg(rest) || rest.len() < 8 {
        return Err(E_REQUEST);
    }
    r.negotiation_request = true;
    r.request_flags = u32::from(rest[1]);
    r.requested_protocols = le32(rest, 4).unwrap_or(0);
    Ok(())
}

/// The Connection Confirm's RDP_NEG_RSP or RDP_NEG_FAILURE, if there.
fn confirm(v: &[u8], r: &mut netcap_proto::v1::Rdp) {
    let (Some(&ty), Some(&flags), Some(val)) = (v.first(), v.get(1), le32(v, 4)) else { return };
    match ty {
        NEG_RSP => {
            r.negotiation_response = true;
            r.response_flags = u32::from(flags);
            r.selected_protocol = val;
        }
        NEG_FAILURE => {
            r.negotiation_failure = true;
            r.failure_code = val;
        }
        _ => {}
    }
}

/// An MCS Connect Initial (BER application 101) whose GCC Conference Create Request carries
/// the client data blocks after the H.221 key "Duca" and a PER length: the core block's fields.
fn client_data(d: &[u8], r: &mut netcap_proto::v1::Rdp) -> Result<(), &'static str> {
    if d.get(..2) != Some(&[0x7f, 0x65][..]) {
        return Ok(());
    }
    let Some(key) = d.windows(4).position(|w| w == b"Duca") else { return Err(E_CORE) };
    let mut at = key + 4;
    let b0 = *d.get(at).ok_or(E_CORE)?;
    at += if b0 & 0x80 != 0 { 2 } else { 1 };
    while let (Some(ty), Some(len)) = (le16(d, at), le16(d, at + 2)) {
        let len = usize::from(len);
        if ty == CS_CORE {
            return core(d.get(at + 4..(at + len).min(d.len())).unwrap_or_default(), r);
        }
        if len < 4 {
            break;
        }
        at += len;
    }
    Err(E_CORE)
}

/// TS_UD_CS_CORE after its header: version, desktop size, color depth, SAS sequence, keyboard
/// layout, client build, client name (32 bytes of UTF-16LE, NUL-terminated).
fn core(c: &[u8], r: &mut netcap_proto::v1::Rdp) -> Result<(), &'static str> {
    r.client_core = true;
    r.client_version = le32(c, 0).ok_or(E_CORE)?;
    r.desktop_width = u32::from(le16(c, 4).ok_or(E_CORE)?);
    r.desktop_height = u32::from(le16(c, 6).ok_or(E_CORE)?);
    r.keyboard_layout = le32(c, 12).ok_or(E_CORE)?;
    r.client_build = le32(c, 16).ok_or(E_CORE)?;
    let name = c.get(20..52).ok_or(E_CORE)?;
    let units = name.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).take_while(|&u| u != 0);
    r.client_name = char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
    Ok(())
}

/// A direction's next message does not start with a TPKT: the client starting a TLS handshake
/// after the confirm sets `tls` (and `credssp` when CredSSP was selected). The caller stops
/// reading the direction.
pub fn switch(p: &mut Parser, dir: Dir, b: &[u8]) {
    let r = &mut p.rdp;
    if dir == Dir::ToServer && p.rdp_seen && r.confirmed && b.first() == Some(&0x16) && b.get(1).is_none_or(|&v| v == 3)
    {
        r.tls = true;
        r.credssp = r.negotiation_response && r.selected_protocol & (2 | 8) != 0;
    }
}

/// The connection ends (or is no longer read): its record, once.
pub fn end(p: &mut Parser, out: &mut Emitter<'_>) {
    if std::mem::take(&mut p.rdp_seen) && p.on[usize::from(T_RDP)] {
        out.record(T_RDP, &p.rdp);
    }
}
