//! LDAP over TCP (RFC 4511 5.1): each LDAPMessage is a BER SEQUENCE, which [`crate::Side`] has
//! cut by its length; the message is parsed by `netcap-windows-parse` into one LDAP record (the
//! partial record and an error when it is cut short or malformed). Messages after a SASL bind
//! that negotiated integrity or confidentiality are wrapped (a 4-byte length, then a GSS-API
//! token): the framing stops there with a counted error. The NTLMSSP message of a bind request
//! or response becomes an NTLM record after the LDAP record.

use crate::{Ctx, Parser, T_LDAP, ntlm};
use netcap_sdk::{Dir, Emitter};
use netcap_windows_parse::ldap;

/// The message `msg` read whole, or as far as it got (`cut`: why not).
pub fn message(
    p: &mut Parser,
    dir: Dir,
    msg: &[u8],
    cut: Option<&'static str>,
    ts: i64,
    cx: &Ctx<'_>,
    out: &mut Emitter<'_>,
) {
    let r = &mut p.ldap;
    if r.transport != "tcp" {
        r.transport.clear();
        r.transport.push_str("tcp");
    }
    let err = ldap::parse(msg, r);
    r.timestamp = ts;
    (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
    if p.on[usize::from(T_LDAP)] {
        out.record(T_LDAP, r);
    }
    if let Some(e) = cut.or(err) {
        out.error(e);
    }
    // A bind's NTLMSSP message: SASL GSS-SPNEGO or NTLM credentials, MS-ADTS "sicily" binds,
    // and the server's SASL credentials of the bind response.
    if matches!(r.operation, 0 | 1)
        && let Some(m) = ntlm::find(msg)
    {
        ntlm::message(p, m, "ldap", dir, ts, cx, out);
    }
}
