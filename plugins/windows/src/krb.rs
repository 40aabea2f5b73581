//! Kerberos over TCP (RFC 4120 7.2.2): each message follows a 4-byte record marker, which
//! [`crate::Side`] has cut; the message is parsed by `netcap-windows-parse` into one Kerberos
//! record (the partial record and an error when the message is cut short or malformed).

use crate::{Ctx, HEADER, Parser, T_KERBEROS};
use netcap_sdk::{Dir, Emitter};
use netcap_windows_parse::kerberos;

/// The message `msg` (marker included) read whole, or as far as it got (`cut`: why not).
pub fn message(
    p: &mut Parser,
    dir: Dir,
    msg: &[u8],
    cut: Option<&'static str>,
    ts: i64,
    cx: &Ctx<'_>,
    out: &mut Emitter<'_>,
) {
    let r = &mut p.krb;
    let err = kerberos::parse(msg.get(HEADER..).unwrap_or_default(), r);
    r.timestamp = ts;
    (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
    if r.transport != "tcp" {
        r.transport.clear();
        r.transport.push_str("tcp");
    }
    if p.on[usize::from(T_KERBEROS)] {
        out.record(T_KERBEROS, r);
    }
    // A message cut short counts as that, not as what its parse then missed.
    if let Some(e) = cut.or(err) {
        out.error(e);
    }
}
