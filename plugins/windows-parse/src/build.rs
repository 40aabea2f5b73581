//! DER builders for tests: Kerberos messages assembled by hand from RFC 4120's ASN.1, so the
//! decoders' unit tests (here and in the `windows` crates) check parsing against values written
//! out independently of the parser.

/// A DER TLV of `tag` around `content` (definite length, short or long form).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let b = (n as u32).to_be_bytes();
        let skip = b.iter().take_while(|&&x| x == 0).count();
        v.push(0x80 | (4 - skip) as u8);
        v.extend(&b[skip..]);
    }
    v.extend(content);
    v
}

/// The concatenation of `parts`.
pub fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// A context tag `[n]` (constructed) around `content`.
pub fn ctx(n: u8, content: Vec<u8>) -> Vec<u8> {
    tlv(0xa0 | n, &content)
}

/// A DER INTEGER (minimal two's complement).
pub fn int(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    tlv(0x02, &b[i..])
}

/// A KerberosString (GeneralString).
pub fn kstr(s: &str) -> Vec<u8> {
    tlv(0x1b, s.as_bytes())
}

/// A PrincipalName of `name_type` with `parts`.
pub fn principal(name_type: i64, parts: &[&str]) -> Vec<u8> {
    let strings: Vec<Vec<u8>> = parts.iter().map(|p| kstr(p)).collect();
    tlv(0x30, &cat(&[ctx(0, int(name_type)), ctx(1, tlv(0x30, &cat(&strings)))]))
}

/// An EncryptedData of `etype` (with `kvno`) over `cipher`.
pub fn enc(etype: i64, kvno: Option<i64>, cipher: &[u8]) -> Vec<u8> {
    let mut f = vec![ctx(0, int(etype))];
    if let Some(k) = kvno {
        f.push(ctx(1, int(k)));
    }
    f.push(ctx(2, tlv(0x04, cipher)));
    tlv(0x30, &cat(&f))
}

/// A PA-DATA of `ty` with `value`.
pub fn padata(ty: i64, value: &[u8]) -> Vec<u8> {
    tlv(0x30, &cat(&[ctx(1, int(ty)), ctx(2, tlv(0x04, value))]))
}

/// A KerberosTime.
pub fn time(s: &str) -> Vec<u8> {
    tlv(0x18, s.as_bytes())
}

/// An AS-REQ from alice@EXAMPLE.ORG for krbtgt/EXAMPLE.ORG with PA-ENC-TIMESTAMP (etype 18) and
/// PA-PAC-REQUEST, options forwardable|renewable|canonicalize (0x40810000), till and rtime
/// 2037-09-13 02:48:05, nonce 0x12345678, etypes 18, 17, 23, -135.
pub fn as_req() -> Vec<u8> {
    as_req_with(18, 44)
}

/// The AS-REQ above with an encrypted timestamp of `etype` and `len` bytes of 0x55.
pub fn as_req_with(etype: i64, len: usize) -> Vec<u8> {
    let pa = tlv(
        0x30,
        &cat(&[padata(2, &enc(etype, None, &vec![0x55; len])), padata(128, &tlv(0x30, &ctx(0, tlv(0x01, &[0xff]))))]),
    );
    let body = tlv(
        0x30,
        &cat(&[
            ctx(0, tlv(0x03, &[0x00, 0x40, 0x81, 0x00, 0x00])),
            ctx(1, principal(1, &["alice"])),
            ctx(2, kstr("EXAMPLE.ORG")),
            ctx(3, principal(2, &["krbtgt", "EXAMPLE.ORG"])),
            ctx(5, time("20370913024805Z")),
            ctx(6, time("20370913024805Z")),
            ctx(7, int(0x1234_5678)),
            ctx(8, tlv(0x30, &cat(&[int(18), int(17), int(23), int(-135)]))),
        ]),
    );
    tlv(0x6a, &tlv(0x30, &cat(&[ctx(1, int(5)), ctx(2, int(10)), ctx(3, pa), ctx(4, body)])))
}

/// A KRB-ERROR PREAUTH_REQUIRED (25) for the AS-REQ above, stime 2024-01-02 03:04:05, with
/// METHOD-DATA: PA-ETYPE-INFO2 (etypes 18 with a salt, 23), PA-ENC-TIMESTAMP (empty), 16, 15.
pub fn preauth_required() -> Vec<u8> {
    let info2 = tlv(
        0x30,
        &cat(&[tlv(0x30, &cat(&[ctx(0, int(18)), ctx(1, kstr("EXAMPLE.ORGalice"))])), tlv(0x30, &ctx(0, int(23)))]),
    );
    let method = tlv(0x30, &cat(&[padata(19, &info2), padata(2, &[]), padata(16, &[]), padata(15, &[])]));
    tlv(
        0x7e,
        &tlv(
            0x30,
            &cat(&[
                ctx(0, int(5)),
                ctx(1, int(30)),
                ctx(4, time("20240102030405Z")),
                ctx(5, int(123_456)),
                ctx(6, int(25)),
                ctx(9, kstr("EXAMPLE.ORG")),
                ctx(10, principal(2, &["krbtgt", "EXAMPLE.ORG"])),
                ctx(11, kstr("NEEDED_PREAUTH")),
                ctx(12, tlv(0x04, &method)),
            ]),
        ),
    )
}

/// A TGS-REP to alice@EXAMPLE.ORG with a ticket for cifs/fs1.example.org (etype 23, kvno 3),
/// enc-part etype 18.
pub fn tgs_rep() -> Vec<u8> {
    kdc_rep(13, &["cifs", "fs1.example.org"], (23, 3), 18)
}

/// An AS-REP for alice whose reply part is RC4-HMAC (AS-REP roasting) and whose ticket is AES.
pub fn as_rep() -> Vec<u8> {
    kdc_rep(11, &["krbtgt", "EXAMPLE.ORG"], (18, 2), 23)
}

/// A KDC-REP (`msg_type` 11 or 13) to alice@EXAMPLE.ORG with a ticket for `service`, the
/// ticket's (etype, kvno) and the reply part's etype.
fn kdc_rep(msg_type: u8, service: &[&str], (ticket_etype, kvno): (i64, i64), reply_etype: i64) -> Vec<u8> {
    let ticket = tlv(
        0x61,
        &tlv(
            0x30,
            &cat(&[
                ctx(0, int(5)),
                ctx(1, kstr("EXAMPLE.ORG")),
                ctx(2, principal(2, service)),
                ctx(3, enc(ticket_etype, Some(kvno), &[0x66; 40])),
            ]),
        ),
    );
    // APPLICATION 11 (AS-REP) or 13 (TGS-REP), constructed.
    tlv(
        0x60 | msg_type,
        &tlv(
            0x30,
            &cat(&[
                ctx(0, int(5)),
                ctx(1, int(i64::from(msg_type))),
                ctx(3, kstr("EXAMPLE.ORG")),
                ctx(4, principal(1, &["alice"])),
                ctx(5, ticket),
                ctx(6, enc(reply_etype, None, &[0x77; 60])),
            ]),
        ),
    )
}

/// An LDAP OCTET STRING.
pub fn octets(s: &str) -> Vec<u8> {
    tlv(0x04, s.as_bytes())
}

/// An LDAP search request, message id 7: base "dc=example,dc=com", subtree, filter
/// (&(objectClass=user)(|(cn=J*n*s)(!(mail=*)))(x=a\2a(b))), attributes cn and mail.
pub fn ldap_search() -> Vec<u8> {
    let ava = |t: u8, a: &str, v: &[u8]| tlv(t, &cat(&[octets(a), tlv(0x04, v)]));
    let subs = tlv(0xa4, &cat(&[octets("cn"), tlv(0x30, &cat(&[tlv(0x80, b"J"), tlv(0x81, b"n"), tlv(0x82, b"s")]))]));
    let not = tlv(0xa2, &tlv(0x87, b"mail"));
    let or = tlv(0xa1, &cat(&[subs, not]));
    let and = tlv(0xa0, &cat(&[ava(0xa3, "objectClass", b"user"), or, ava(0xa3, "x", b"a*(b)")]));
    let body = cat(&[
        octets("dc=example,dc=com"),
        tlv(0x0a, &[2]),
        tlv(0x0a, &[0]),
        int(0),
        int(0),
        tlv(0x01, &[0]),
        and,
        tlv(0x30, &cat(&[octets("cn"), octets("mail")])),
    ]);
    tlv(0x30, &cat(&[int(7), tlv(0x63, &body)]))
}

/// An LDAP simple bind of "cn=admin" with password "secret", message id 1.
pub fn ldap_simple_bind() -> Vec<u8> {
    tlv(0x30, &cat(&[int(1), tlv(0x60, &cat(&[int(3), octets("cn=admin"), tlv(0x80, b"secret")]))]))
}

/// An LDAP searchResDone for message 7: success, no matched DN or message.
pub fn ldap_search_done() -> Vec<u8> {
    tlv(0x30, &cat(&[int(7), tlv(0x65, &cat(&[tlv(0x0a, &[0]), octets(""), octets("")]))]))
}
