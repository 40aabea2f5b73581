//! LDAP messages (RFC 4511) into `netcap.v1.LDAP` records, one per LDAPMessage: bind (name, simple
//! or SASL, whether a password was sent: never the password), search (base, scope, filter in
//! RFC 4515 text form, attributes), results (code, matched DN, diagnostic message), search
//! entries, modify, add, delete, modify DN, compare, extended operations. The BER is read by
//! rusticata's `ldap-parser` (its filter parser bounds the nesting). A message that does not
//! parse keeps its message id and operation when those can be read, and the error is returned.

use crate::der;
use asn1_rs::FromBer;
use ldap_parser::filter::{Filter, Substring};
use ldap_parser::ldap::{AuthenticationChoice, LdapMessage, LdapResult, ProtocolOp};
use netcap_proto::v1;
use std::fmt::Write;

pub const E_MALFORMED: &str = "ldap: malformed message";

/// Longest filter text kept (a filter can nest hundreds of terms).
pub const MAX_FILTER: usize = 4096;

/// The operation name of protocolOp tag `t` (RFC 4511 4.2 to 4.14).
pub fn op_name(t: u32) -> &'static str {
    match t {
        0 => "bindRequest",
        1 => "bindResponse",
        2 => "unbindRequest",
        3 => "searchRequest",
        4 => "searchResEntry",
        5 => "searchResDone",
        6 => "modifyRequest",
        7 => "modifyResponse",
        8 => "addRequest",
        9 => "addResponse",
        10 => "delRequest",
        11 => "delResponse",
        12 => "modDNRequest",
        13 => "modDNResponse",
        14 => "compareRequest",
        15 => "compareResponse",
        16 => "abandonRequest",
        19 => "searchResRef",
        23 => "extendedReq",
        24 => "extendedResp",
        25 => "intermediateResponse",
        _ => "",
    }
}

/// Whether `b` (first bytes of a message) can start an LDAPMessage: a SEQUENCE.
pub fn starts(b: &[u8]) -> bool {
    b.first().is_none_or(|&t| t == 0x30)
}

/// Fills `r`'s message fields (not addresses, time, transport) from the LDAPMessage `b`;
/// returns the error to count when it is not a whole, well-formed message.
pub fn parse(b: &[u8], r: &mut v1::Ldap) -> Option<&'static str> {
    clear(r);
    match LdapMessage::from_ber(b) {
        Ok((_, m)) => {
            r.message_id = m.message_id.0;
            operation(&m.protocol_op, r);
            None
        }
        Err(_) => {
            partial(b, r);
            Some(E_MALFORMED)
        }
    }
}

/// The message id and operation of a message that did not parse, as far as they are there.
fn partial(b: &[u8], r: &mut v1::Ldap) {
    let Some((hdr, _)) = der::header(b).filter(|_| b[0] == 0x30) else { return };
    let rest = &b[hdr..];
    let Some((0x02, id, after)) = der::tlv(rest) else { return };
    r.message_id = der::int32(id).map_or(0, |v| v as u32);
    if let Some(&t) = after.first().filter(|&&t| t & 0xc0 == 0x40) {
        r.operation = u32::from(t & 0x1f);
        r.operation_name.push_str(op_name(r.operation));
    }
}

fn clear(r: &mut v1::Ldap) {
    let keep = std::mem::take(&mut r.transport);
    prost::Message::clear(r);
    r.transport = keep;
}

fn operation(op: &ProtocolOp<'_>, r: &mut v1::Ldap) {
    r.operation = op.tag().0;
    r.operation_name.push_str(op_name(r.operation));
    if let Some(res) = op.result() {
        result(res, r);
    }
    match op {
        ProtocolOp::BindRequest(b) => {
            r.version = u32::from(b.version);
            r.object_name.push_str(&b.name.0);
            match &b.authentication {
                AuthenticationChoice::Simple(p) => {
                    r.auth.push_str("simple");
                    r.password_present = !p.is_empty();
                    r.password.push_str(&String::from_utf8_lossy(p));
                }
                AuthenticationChoice::Sasl(s) => {
                    r.auth.push_str("sasl");
                    r.sasl_mechanism.push_str(&s.mechanism.0);
                }
            }
        }
        ProtocolOp::SearchRequest(s) => {
            r.object_name.push_str(&s.base_object.0);
            r.scope = s.scope.0;
            r.deref_aliases = s.deref_aliases.0;
            r.size_limit = s.size_limit;
            r.time_limit = s.time_limit;
            r.types_only = s.types_only;
            filter(&s.filter, &mut r.filter);
            r.attributes.extend(s.attributes.iter().map(|a| a.0.to_string()));
        }
        ProtocolOp::SearchResultEntry(e) => {
            r.object_name.push_str(&e.object_name.0);
            r.attributes.extend(e.attributes.iter().map(|a| a.attr_type.0.to_string()));
        }
        ProtocolOp::SearchResultReference(urls) => r.referrals.extend(urls.iter().map(|u| u.0.to_string())),
        ProtocolOp::ModifyRequest(m) => {
            r.object_name.push_str(&m.object.0);
            r.attributes.extend(m.changes.iter().map(|c| c.modification.attr_type.0.to_string()));
        }
        ProtocolOp::AddRequest(a) => {
            r.object_name.push_str(&a.entry.0);
            r.attributes.extend(a.attributes.iter().map(|a| a.attr_type.0.to_string()));
        }
        ProtocolOp::DelRequest(dn) => r.object_name.push_str(&dn.0),
        ProtocolOp::ModDnRequest(m) => {
            r.object_name.push_str(&m.entry.0);
            r.new_rdn.push_str(&m.newrdn.0);
        }
        ProtocolOp::CompareRequest(c) => {
            r.object_name.push_str(&c.entry.0);
            r.attributes.push(c.ava.attribute_desc.0.to_string());
        }
        ProtocolOp::ExtendedRequest(e) => r.oid.push_str(&e.request_name.0),
        ProtocolOp::ExtendedResponse(e) => {
            if let Some(n) = &e.response_name {
                r.oid.push_str(&n.0);
            }
        }
        _ => {}
    }
}

fn result(res: &LdapResult<'_>, r: &mut v1::Ldap) {
    r.result_code = res.result_code.0;
    r.matched_dn.push_str(&res.matched_dn.0);
    r.diagnostic_message.push_str(&res.diagnostic_message.0);
}

/// Writes the RFC 4515 string form of `f` into `out`, cut at [`MAX_FILTER`] bytes.
pub fn filter(f: &Filter<'_>, out: &mut String) {
    write_filter(f, out);
    if out.len() > MAX_FILTER {
        let mut n = MAX_FILTER;
        while !out.is_char_boundary(n) {
            n -= 1;
        }
        out.truncate(n);
    }
}

fn write_filter(f: &Filter<'_>, out: &mut String) {
    if out.len() > MAX_FILTER {
        return;
    }
    out.push('(');
    match f {
        Filter::And(v) | Filter::Or(v) => {
            out.push(if matches!(f, Filter::And(_)) { '&' } else { '|' });
            for x in v {
                write_filter(x, out);
            }
        }
        Filter::Not(x) => {
            out.push('!');
            write_filter(x, out);
        }
        Filter::EqualityMatch(a) | Filter::GreaterOrEqual(a) | Filter::LessOrEqual(a) | Filter::ApproxMatch(a) => {
            out.push_str(&a.attribute_desc.0);
            out.push_str(match f {
                Filter::GreaterOrEqual(_) => ">=",
                Filter::LessOrEqual(_) => "<=",
                Filter::ApproxMatch(_) => "~=",
                _ => "=",
            });
            value(&a.assertion_value, out);
        }
        Filter::Substrings(s) => {
            out.push_str(&s.filter_type.0);
            out.push('=');
            let mut last_final = false;
            if !matches!(s.substrings.first(), Some(Substring::Initial(_))) {
                out.push('*');
            }
            for (i, x) in s.substrings.iter().enumerate() {
                match x {
                    Substring::Initial(v) => value(&v.0, out),
                    Substring::Any(v) => value(&v.0, out),
                    Substring::Final(v) => {
                        value(&v.0, out);
                        last_final = true;
                    }
                }
                if !last_final || i + 1 < s.substrings.len() {
                    out.push('*');
                }
            }
        }
        Filter::Present(a) => {
            out.push_str(&a.0);
            out.push_str("=*");
        }
        Filter::ExtensibleMatch(m) => {
            if let Some(t) = &m.rule_type {
                out.push_str(&t.0);
            }
            if m.dn_attributes == Some(true) {
                out.push_str(":dn");
            }
            if let Some(rule) = &m.matching_rule {
                out.push(':');
                out.push_str(&rule.0);
            }
            out.push_str(":=");
            value(&m.assertion_value.0, out);
        }
    }
    out.push(')');
}

/// An assertion value in RFC 4515 form: UTF-8 text with `*`, `(`, `)`, `\` and NUL escaped as
/// `\XX`; every byte of a value that is not UTF-8 escaped.
fn value(v: &[u8], out: &mut String) {
    match std::str::from_utf8(v) {
        Ok(t) => {
            for c in t.chars() {
                if matches!(c, '*' | '(' | ')' | '\\' | '\0') {
                    let _ = write!(out, "\\{:02x}", c as u32);
                } else {
                    out.push(c);
                }
            }
        }
        Err(_) => {
            for b in v {
                let _ = write!(out, "\\{b:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{cat, int, tlv};

    fn parsed(b: &[u8]) -> (v1::Ldap, Option<&'static str>) {
        let mut r = v1::Ldap::default();
        let e = parse(b, &mut r);
        (r, e)
    }

    fn octets(s: &str) -> Vec<u8> {
        tlv(0x04, s.as_bytes())
    }

    use crate::build::{ldap_search as search, ldap_simple_bind as simple_bind};

    #[test]
    fn search_request_and_filter_text() {
        let (r, e) = parsed(&search());
        assert_eq!(e, None);
        assert_eq!((r.message_id, r.operation, r.operation_name.as_str()), (7, 3, "searchRequest"));
        assert_eq!((r.object_name.as_str(), r.scope), ("dc=example,dc=com", 2));
        assert_eq!(r.filter, "(&(objectClass=user)(|(cn=J*n*s)(!(mail=*)))(x=a\\2a\\28b\\29))");
        assert_eq!(r.attributes, ["cn", "mail"]);
    }

    #[test]
    fn simple_bind_keeps_the_password_for_the_credentials_decoder() {
        let (r, e) = parsed(&simple_bind());
        assert_eq!(e, None);
        assert_eq!((r.operation, r.version, r.object_name.as_str(), r.auth.as_str()), (0, 3, "cn=admin", "simple"));
        assert!(r.password_present);
        assert_eq!(r.password, "secret");
    }

    #[test]
    fn result_fields() {
        let res = cat(&[tlv(0x0a, &[49]), octets("dc=example"), octets("80090308: LdapErr")]);
        let (r, e) = parsed(&tlv(0x30, &cat(&[int(2), tlv(0x61, &res)])));
        assert_eq!(e, None);
        assert_eq!((r.operation_name.as_str(), r.result_code), ("bindResponse", 49));
        assert_eq!((r.matched_dn.as_str(), r.diagnostic_message.as_str()), ("dc=example", "80090308: LdapErr"));
    }

    #[test]
    fn cut_and_garbled_messages() {
        for m in [search(), simple_bind()] {
            for n in 0..m.len() {
                let (r, e) = parsed(&m[..n]);
                assert_eq!(e, Some(E_MALFORMED), "cut at {n}");
                if n > 4 {
                    assert_eq!(r.message_id, u32::from(m[4]), "cut at {n}");
                }
                if n > 5 {
                    assert_eq!(r.operation, u32::from(m[5] & 0x1f), "cut at {n}");
                }
            }
            for i in 0..m.len() {
                for x in [0x00, 0xff, 0x80, 0x7f] {
                    let mut g = m.clone();
                    g[i] = x;
                    let _ = parsed(&g);
                }
            }
        }
        // A filter nested 10,000 deep (NOT of NOT of ...): refused by the depth limit.
        let mut f = tlv(0x87, b"cn");
        for _ in 0..10_000 {
            f = tlv(0xa2, &f);
        }
        let body =
            cat(&[octets(""), tlv(0x0a, &[0]), tlv(0x0a, &[0]), int(0), int(0), tlv(0x01, &[0]), f, tlv(0x30, &[])]);
        assert_eq!(parsed(&tlv(0x30, &cat(&[int(3), tlv(0x63, &body)]))).1, Some(E_MALFORMED));
    }
}
