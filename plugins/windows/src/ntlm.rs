//! NTLMSSP messages ([MS-NLMP] 2.2.1): NEGOTIATE, CHALLENGE and AUTHENTICATE, found by their
//! signature in a security blob (bare, or inside SPNEGO's ASN.1, which need not be parsed to
//! find it). The AUTHENTICATE's NT response is written in the form password crackers take
//! (hashcat 5500 NetNTLMv1 and 5600 NetNTLMv2) with the connection's last server challenge.

use crate::smb::{le16, le32, set_oem, set_utf16};
use crate::{Ctx, Parser, T_NTLM, set_str};
use netcap_sdk::{Dir, Emitter};
use std::fmt::Write;

pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
pub const E_SHORT: &str = "ntlm: message truncated";
pub const E_FIELD: &str = "ntlm: field outside the message";
pub const E_TYPE: &str = "ntlm: unknown message type";
pub const E_BASE64: &str = "ntlm: authentication token is not base64";

/// NTLMSSP_NEGOTIATE_UNICODE: strings are UTF-16LE (else OEM).
const UNICODE: u32 = 1;

/// The NTLMSSP message in `blob`, from its signature on.
pub fn find(blob: &[u8]) -> Option<&[u8]> {
    let i = blob.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)?;
    Some(&blob[i..])
}

/// The payload of the security buffer (length, max length, offset) at `at` in `m`.
fn buffer(m: &[u8], at: usize) -> Result<&[u8], &'static str> {
    let (len, off) = (le16(m, at).ok_or(E_SHORT)?, le32(m, at + 4).ok_or(E_SHORT)?);
    let (len, off) = (usize::from(len), off as usize);
    if len == 0 {
        return Ok(&[]);
    }
    m.get(off..off.checked_add(len).ok_or(E_FIELD)?).ok_or(E_FIELD)
}

/// One NTLMSSP message `m` (from its signature) carried by `transport`: its NTLM record, then its
/// error if it is malformed.
pub fn message(p: &mut Parser, m: &[u8], transport: &str, dir: Dir, ts: i64, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
    let r = &mut p.ntlm;
    prost::Message::clear(r);
    set_str(&mut r.transport, transport);
    let err = parse(m, r, &mut p.challenge).err();
    r.timestamp = ts;
    (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
    if p.on[1] {
        out.record(T_NTLM, r);
    }
    if let Some(e) = err {
        out.error(e);
    }
}

/// Parses `m` into `r`; a CHALLENGE replaces `challenge`, an AUTHENTICATE uses it.
pub fn parse(m: &[u8], r: &mut netcap_proto::v1::Ntlm, challenge: &mut Option<[u8; 8]>) -> Result<(), &'static str> {
    r.message_type = le32(m, 8).ok_or(E_SHORT)?;
    let text = |s: &mut String, b: &[u8], flags: u32| {
        if flags & UNICODE != 0 { set_utf16(s, b) } else { set_oem(s, b) }
    };
    match r.message_type {
        1 => {
            r.negotiate_flags = le32(m, 12).ok_or(E_SHORT)?;
            // Supplied domain and workstation are OEM strings (and often absent).
            set_oem(&mut r.domain, buffer(m, 16)?);
            set_oem(&mut r.workstation, buffer(m, 24)?);
        }
        2 => {
            r.negotiate_flags = le32(m, 20).ok_or(E_SHORT)?;
            let c: [u8; 8] = m.get(24..32).ok_or(E_SHORT)?.try_into().map_err(|_| E_SHORT)?;
            *challenge = Some(c);
            hex(&mut r.server_challenge, &c);
            text(&mut r.target_name, buffer(m, 12)?, r.negotiate_flags);
        }
        3 => {
            // Flags first: they say how the strings are encoded.
            r.negotiate_flags = le32(m, 60).ok_or(E_SHORT)?;
            let f = r.negotiate_flags;
            text(&mut r.domain, buffer(m, 28)?, f);
            text(&mut r.user, buffer(m, 36)?, f);
            text(&mut r.workstation, buffer(m, 44)?, f);
            let lm = buffer(m, 12)?;
            let nt = buffer(m, 20)?;
            r.lm_response_length = lm.len() as u32;
            r.nt_response_length = nt.len() as u32;
            let kind = match nt.len() {
                0 => "anonymous",
                24 => "ntlmv1",
                n if n > 24 => "ntlmv2",
                _ => "",
            };
            set_str(&mut r.response_type, kind);
            if let Some(c) = challenge {
                hex(&mut r.server_challenge, c);
                cracker_form(r, lm, nt, c);
            }
        }
        _ => return Err(E_TYPE),
    }
    Ok(())
}

/// The hashcat line of an AUTHENTICATE (5500 NetNTLMv1, 5600 NetNTLMv2); empty otherwise.
fn cracker_form(r: &mut netcap_proto::v1::Ntlm, lm: &[u8], nt: &[u8], c: &[u8; 8]) {
    let h = &mut r.hashcat;
    h.clear();
    match r.response_type.as_str() {
        "ntlmv1" => {
            let _ = write!(h, "{}::{}:", r.user, r.domain);
            push_hex(h, lm);
            h.push(':');
            push_hex(h, nt);
            h.push(':');
            push_hex(h, c);
        }
        "ntlmv2" => {
            let _ = write!(h, "{}::{}:", r.user, r.domain);
            push_hex(h, c);
            h.push(':');
            push_hex(h, &nt[..16]);
            h.push(':');
            push_hex(h, &nt[16..]);
        }
        _ => {}
    }
}

/// `s` = `b` in lower-case hexadecimal, reusing the buffer.
fn hex(s: &mut String, b: &[u8]) {
    s.clear();
    push_hex(s, b);
}

fn push_hex(s: &mut String, b: &[u8]) {
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
}
