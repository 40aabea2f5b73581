//! Kerberos 5 messages (RFC 4120) into `netcap.v1.Kerberos` records: AS-REQ/REP, TGS-REQ/REP,
//! KRB-ERROR (and the message type alone of any other application message). The DER is read
//! by rusticata's `kerberos-parser`; the pre-authentication data it leaves opaque (METHOD-DATA in
//! an error's e-data, PA-ETYPE-INFO/INFO2, PA-ENC-TIMESTAMP, the AP-REQ of PA-TGS-REQ) is read
//! here. A message that does not parse keeps its message type (from the outer tag) and the
//! error is returned, so the caller emits the partial record and counts the error.

use crate::der;
use asn1_rs::{FromDer, GeneralizedTime};
use kerberos_parser::krb5::{ApReq, EncryptedData, KdcRep, KdcReq, KrbError, PAData, PrincipalName};
use netcap_proto::v1;

pub const E_MALFORMED: &str = "kerberos: malformed message";
pub const E_NOT_KERBEROS: &str = "kerberos: not a Kerberos message";

/// PA-DATA types read here.
const PA_TGS_REQ: i32 = 1;
const PA_ENC_TIMESTAMP: i32 = 2;
const PA_ETYPE_INFO: i32 = 11;
const PA_ETYPE_INFO2: i32 = 19;
const PA_FX_FAST: i32 = 136;

/// Whether `b` (the first bytes of a message, perhaps only one) can start a Kerberos message: an
/// APPLICATION-class constructed tag 10 to 15 or 30.
pub fn starts(b: &[u8]) -> bool {
    b.first().is_some_and(|&t| t & 0xe0 == 0x60 && matches!(t & 0x1f, 10..=15 | 30))
}

/// The name of message type `t`.
pub fn msg_name(t: u32) -> &'static str {
    match t {
        10 => "AS-REQ",
        11 => "AS-REP",
        12 => "TGS-REQ",
        13 => "TGS-REP",
        14 => "AP-REQ",
        15 => "AP-REP",
        20 => "KRB-SAFE",
        21 => "KRB-PRIV",
        22 => "KRB-CRED",
        30 => "KRB-ERROR",
        _ => "",
    }
}

/// Fills `r`'s message fields (not its addresses, time and transport) from the message `b`;
/// returns the error to count when `b` is not a whole, well-formed message.
pub fn parse(b: &[u8], r: &mut v1::Kerberos) -> Option<&'static str> {
    clear(r);
    if !starts(b) {
        return Some(E_NOT_KERBEROS);
    }
    let t = u32::from(b[0] & 0x1f);
    r.msg_type = t;
    r.msg_name.push_str(msg_name(t));
    // KDC-REQ and KDC-REP are read inside their APPLICATION tag (the crate's parsers of those two
    // take the SEQUENCE); KRB-ERROR's parser reads the tag itself.
    let inner = der::tlv(b).map_or(&[][..], |t| t.1);
    let ok = match t {
        10 | 12 => KdcReq::from_der(inner).is_ok_and(|(_, m)| {
            request(&m, r);
            true
        }),
        11 | 13 => KdcRep::from_der(inner).is_ok_and(|(_, m)| {
            reply(&m, r);
            true
        }),
        30 => KrbError::from_der(b).is_ok_and(|(_, m)| {
            error(&m, r);
            true
        }),
        _ => der::tlv(b).is_some(),
    };
    (!ok).then_some(E_MALFORMED)
}

/// Resets the message fields of `r`, keeping string and list buffers.
fn clear(r: &mut v1::Kerberos) {
    r.pvno = 0;
    r.msg_type = 0;
    r.msg_name.clear();
    r.realm.clear();
    r.client_name.clear();
    r.client_name_type = 0;
    r.client_realm.clear();
    r.service_name.clear();
    r.service_name_type = 0;
    r.kdc_options = 0;
    r.from = 0;
    r.till = 0;
    r.rtime = 0;
    r.nonce = 0;
    r.etypes.clear();
    r.padata_types.clear();
    r.preauth_etype = -1;
    r.etype_info.clear();
    r.ticket_etype = -1;
    r.ticket_kvno = 0;
    r.enc_part_etype = -1;
    r.error_code = 0;
    r.error_name.clear();
    r.error_text.clear();
    r.server_time = 0;
    r.authorization_data_etype = -1;
    r.fast_etype = -1;
    r.hashcat.clear();
}

fn request(m: &KdcReq<'_>, r: &mut v1::Kerberos) {
    r.pvno = m.pvno;
    padata(&m.padata, r);
    let body = &m.req_body;
    r.kdc_options = body.kdc_options.data.iter().take(4).fold(0u32, |a, &x| a << 8 | u32::from(x))
        << (8 * (4 - body.kdc_options.data.len().min(4)));
    if let Some(c) = &body.cname {
        principal(c, &mut r.client_name, &mut r.client_name_type);
    }
    r.realm.push_str(&body.realm.0);
    if let Some(s) = &body.sname {
        principal(s, &mut r.service_name, &mut r.service_name_type);
    }
    r.from = body.from.as_ref().map_or(0, unix);
    r.till = unix(&body.till);
    r.rtime = body.rtime.as_ref().map_or(0, unix);
    r.nonce = body.nonce;
    r.etypes.extend(body.etype.iter().map(|e| e.0));
    r.authorization_data_etype = body.enc_authorization_data.as_ref().map_or(-1, |e| e.etype.0);
    if r.msg_type == 10 {
        preauth(m, r);
    }
}

/// An AS-REQ's encrypted timestamp (PA-ENC-TIMESTAMP) as password crackers take it: hashcat
/// 7500 `$krb5pa$23$user$realm$$<data><checksum>` for RC4-HMAC (36 bytes of data after a 16-byte
/// checksum on the wire), 19800/19900 `$krb5pa$17|18$user$realm$<cipher>` for AES (the cipher as
/// sent, its 12-byte HMAC last). Those modes derive the AES salt from the realm and a
/// one-component client name, so AES with other names gives nothing.
fn preauth(m: &KdcReq<'_>, r: &mut v1::Kerberos) {
    use std::fmt::Write as _;
    let Some(pa) = m.padata.iter().find(|p| p.padata_type.0 == PA_ENC_TIMESTAMP) else { return };
    let Ok((_, e)) = EncryptedData::from_der(pa.padata_value) else { return };
    let c = e.cipher;
    let one_component = !r.client_name.contains('/');
    if r.client_name.is_empty() {
        return;
    }
    let h = &mut r.hashcat;
    match e.etype.0 {
        // RC4's key has no salt: any name will do as the label.
        RC4_HMAC if c.len() == 52 => {
            let _ = write!(h, "$krb5pa$23${}${}$$", r.client_name, r.realm);
            hex(h, &c[16..]);
            hex(h, &c[..16]);
        }
        AES128 | AES256 if one_component && (52..=56).contains(&c.len()) => {
            let _ = write!(h, "$krb5pa${}${}${}$", e.etype.0, r.client_name, r.realm);
            hex(h, c);
        }
        _ => {}
    }
}

fn reply(m: &KdcRep<'_>, r: &mut v1::Kerberos) {
    r.pvno = m.pvno;
    padata(&m.padata, r);
    r.client_realm.push_str(&m.crealm.0);
    principal(&m.cname, &mut r.client_name, &mut r.client_name_type);
    r.realm.push_str(&m.ticket.realm.0);
    principal(&m.ticket.sname, &mut r.service_name, &mut r.service_name_type);
    r.ticket_etype = m.ticket.enc_part.etype.0;
    r.ticket_kvno = m.ticket.enc_part.kvno.unwrap_or(0);
    r.enc_part_etype = m.enc_part.etype.0;
    roast(r, m.ticket.enc_part.cipher, m.enc_part.cipher);
    if r.msg_type == 11 && matches!(r.enc_part_etype, AES128 | AES256) {
        aes_as_rep(r, salt_of(&m.padata, r.enc_part_etype), m.enc_part.cipher);
    }
}

/// RC4-HMAC ciphertext is a 16-byte HMAC-MD5 checksum followed by the encrypted data.
const RC4_HMAC: i32 = 23;
/// AES ciphertext (RFC 3962) is the encrypted data followed by a 12-byte HMAC-SHA1-96.
const AES128: i32 = 17;
const AES256: i32 = 18;

/// An AES AS-REP reply part as password crackers take it: hashcat 32100/32200
/// `$krb5asrep$17|18$user$realm$<checksum>$<edata2>` (the checksum is the cipher's last 12
/// bytes) when the key's salt is the default one those modes derive (the upper-case realm and
/// a one-component client name); otherwise, with the salt the reply's PA-ETYPE-INFO2 names (or
/// the RFC 4120 default, realm and name components), the form hashcat and John the Ripper also
/// take, `$krb5asrep$17|18$<salt>$<edata2>$<checksum>`.
fn aes_as_rep(r: &mut v1::Kerberos, salt: Option<String>, cipher: &[u8]) {
    use std::fmt::Write as _;
    if cipher.len() <= 12 || r.client_name.is_empty() {
        return;
    }
    let (edata2, checksum) = cipher.split_at(cipher.len() - 12);
    let default = format!("{}{}", r.client_realm, r.client_name.replace('/', ""));
    let salt = salt.unwrap_or(default);
    let simple = !r.client_name.contains('/')
        && r.client_realm == r.client_realm.to_ascii_uppercase()
        && salt == format!("{}{}", r.client_realm, r.client_name);
    let h = &mut r.hashcat;
    h.clear();
    if simple {
        let _ = write!(h, "$krb5asrep${}${}${}$", r.enc_part_etype, r.client_name, r.client_realm);
        hex(h, checksum);
        h.push('$');
        hex(h, edata2);
    } else {
        let _ = write!(h, "$krb5asrep${}${salt}$", r.enc_part_etype);
        hex(h, edata2);
        h.push('$');
        hex(h, checksum);
    }
}

/// The salt PA-ETYPE-INFO2 (RFC 4120 5.2.7.5) gives for `etype`, if it names one.
fn salt_of(pa: &[PAData<'_>], etype: i32) -> Option<String> {
    let v = pa.iter().find(|p| p.padata_type.0 == PA_ETYPE_INFO2)?.padata_value;
    let (0x30, mut entries, _) = der::tlv(v)? else { return None };
    while let Some((0x30, mut entry, rest)) = der::tlv(entries) {
        entries = rest;
        let (mut e, mut salt) = (None, None);
        while let Some((tag, field, more)) = der::tlv(entry) {
            entry = more;
            match (tag, der::tlv(field)) {
                (0xa0, Some((0x02, int, _))) => e = der::int32(int),
                (0xa1, Some((0x1b, text, _))) => salt = Some(String::from_utf8_lossy(text).into_owned()),
                _ => {}
            }
        }
        if e == Some(etype) {
            return salt;
        }
    }
    None
}

/// The crackable form of an RC4-HMAC TGS-REP ticket or AS-REP reply part (see the proto).
fn roast(r: &mut v1::Kerberos, ticket_cipher: &[u8], reply_cipher: &[u8]) {
    use std::fmt::Write as _;
    let (rc4_ticket, rc4_reply) = (r.ticket_etype == RC4_HMAC, r.enc_part_etype == RC4_HMAC);
    let (label, cipher) = match r.msg_type {
        13 if rc4_ticket && ticket_cipher.len() > 16 => ("tgs", ticket_cipher),
        11 if rc4_reply && reply_cipher.len() > 16 => ("asrep", reply_cipher),
        _ => return,
    };
    let (checksum, edata2) = cipher.split_at(16);
    let h = &mut r.hashcat;
    let _ = match label {
        "tgs" => write!(h, "$krb5tgs$23$*{}${}${}*$", r.client_name, r.realm, r.service_name),
        _ => write!(h, "$krb5asrep$23${}@{}:", r.client_name, r.client_realm),
    };
    hex(h, checksum);
    h.push('$');
    hex(h, edata2);
}

fn hex(s: &mut String, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for x in b {
        s.push(HEX[usize::from(x >> 4)] as char);
        s.push(HEX[usize::from(x & 15)] as char);
    }
}

fn error(m: &KrbError<'_>, r: &mut v1::Kerberos) {
    r.pvno = m.pvno;
    r.server_time = unix(&m.stime);
    r.error_code = m.error_code.0;
    let name = format!("{:?}", m.error_code);
    if !name.starts_with("ErrorCode") {
        r.error_name = name;
    }
    if let Some(c) = &m.crealm {
        r.client_realm.push_str(&c.0);
    }
    if let Some(c) = &m.cname {
        principal(c, &mut r.client_name, &mut r.client_name_type);
    }
    r.realm.push_str(&m.realm.0);
    principal(&m.sname, &mut r.service_name, &mut r.service_name_type);
    if let Some(t) = &m.etext {
        r.error_text.push_str(t);
    }
    // e-data is METHOD-DATA (a SEQUENCE OF PA-DATA) after PREAUTH_REQUIRED and the like, a
    // single PA-DATA from Windows for some errors (PA-PW-SALT); other errors carry other things
    // (TYPED-DATA, NTSTATUS) that do not read as PA-DATA.
    if let Some(seq) = m.edata.and_then(|e| der::tlv(e)).filter(|t| t.0 == 0x30) {
        if seq.1.first() == Some(&0xa1) {
            if let Ok((_, pa)) = PAData::from_der(m.edata.unwrap_or_default()) {
                padata(&[pa], r);
            }
            return;
        }
        let mut items = Vec::new();
        let mut rest = seq.1;
        while !rest.is_empty() {
            let Ok((next, pa)) = PAData::from_der(rest) else { return };
            items.push(pa);
            rest = next;
        }
        padata(&items, r);
    }
}

/// Reads the types of `pa`, and the encryption types inside those read here.
fn padata(pa: &[PAData<'_>], r: &mut v1::Kerberos) {
    for p in pa {
        r.padata_types.push(p.padata_type.0);
        let v = p.padata_value;
        match p.padata_type.0 {
            PA_ENC_TIMESTAMP => {
                if let Ok((_, e)) = EncryptedData::from_der(v) {
                    r.preauth_etype = e.etype.0;
                }
            }
            PA_ETYPE_INFO | PA_ETYPE_INFO2 => etype_info(v, &mut r.etype_info),
            PA_FX_FAST => r.fast_etype = fast(v).unwrap_or(-1),
            PA_TGS_REQ => {
                if let Ok((_, ap)) = ApReq::from_der(v) {
                    r.ticket_etype = ap.ticket.enc_part.etype.0;
                    r.ticket_kvno = ap.ticket.enc_part.kvno.unwrap_or(0);
                    r.enc_part_etype = ap.authenticator.etype.0;
                }
            }
            _ => {}
        }
    }
}

/// The encryption type of a PA-FX-FAST's armored data (RFC 6113 5.4.2, 5.4.3): `armored-data
/// [0]` holding a KrbFastArmoredReq, whose enc-fast-req is field `[2]` (after the armor `[0]` and
/// checksum `[1]`), or a KrbFastArmoredRep, whose enc-fast-rep is its only field, `[0]`.
fn fast(v: &[u8]) -> Option<i32> {
    let Some((0xa0, armored, _)) = der::tlv(v) else { return None };
    let Some((0x30, mut fields, _)) = der::tlv(armored) else { return None };
    while let Some((tag, f, rest)) = der::tlv(fields) {
        fields = rest;
        if tag == 0xa2 || (tag == 0xa0 && rest.is_empty()) {
            // EncryptedData: etype [0] first.
            let Some((0x30, enc, _)) = der::tlv(f) else { return None };
            let Some((0xa0, int, _)) = der::tlv(enc) else { return None };
            let Some((0x02, n, _)) = der::tlv(int) else { return None };
            return der::int32(n);
        }
    }
    None
}

/// The etypes of ETYPE-INFO or ETYPE-INFO2: a SEQUENCE OF entries, each a SEQUENCE whose first
/// field is `etype [0] Int32`.
fn etype_info(v: &[u8], out: &mut Vec<i32>) {
    let Some((0x30, mut entries, _)) = der::tlv(v) else { return };
    while let Some((0x30, entry, rest)) = der::tlv(entries) {
        entries = rest;
        let Some((0xa0, field, _)) = der::tlv(entry) else { continue };
        if let Some((0x02, int, _)) = der::tlv(field)
            && let Some(e) = der::int32(int)
        {
            out.push(e);
        }
    }
}

/// Writes the components of `p` joined by "/" into `name`, and its name type.
fn principal(p: &PrincipalName, name: &mut String, ty: &mut i32) {
    name.clear();
    for (i, s) in p.name_string.iter().enumerate() {
        if i > 0 {
            name.push('/');
        }
        name.push_str(s);
    }
    *ty = p.name_type.0;
}

/// Unix seconds of a KerberosTime (UTC, no fraction; a time before 1970 is negative).
fn unix(t: &GeneralizedTime) -> i64 {
    let d = &t.0;
    let days = days_from_civil(i64::from(d.year), i64::from(d.month), i64::from(d.day));
    days * 86_400 + i64::from(d.hour) * 3600 + i64::from(d.minute) * 60 + i64::from(d.second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build;

    fn parsed(b: &[u8]) -> (v1::Kerberos, Option<&'static str>) {
        let mut r = v1::Kerberos::default();
        let e = parse(b, &mut r);
        (r, e)
    }

    #[test]
    fn as_req_fields() {
        let (r, e) = parsed(&build::as_req());
        assert_eq!(e, None);
        assert_eq!((r.pvno, r.msg_type, r.msg_name.as_str()), (5, 10, "AS-REQ"));
        assert_eq!((r.client_name.as_str(), r.client_name_type), ("alice", 1));
        assert_eq!((r.service_name.as_str(), r.service_name_type), ("krbtgt/EXAMPLE.ORG", 2));
        assert_eq!(r.realm, "EXAMPLE.ORG");
        assert_eq!(r.kdc_options, 0x4081_0000);
        assert_eq!((r.from, r.till, r.rtime), (0, 2_136_422_885, 2_136_422_885));
        assert_eq!(r.nonce, 0x1234_5678);
        assert_eq!(r.etypes, [18, 17, 23, -135]);
        assert_eq!(r.padata_types, [2, 128]);
        assert_eq!(r.preauth_etype, 18);
        assert_eq!((r.ticket_etype, r.enc_part_etype, r.error_code), (-1, -1, 0));
    }

    #[test]
    fn krb_error_method_data() {
        let (r, e) = parsed(&build::preauth_required());
        assert_eq!(e, None);
        assert_eq!((r.msg_type, r.msg_name.as_str()), (30, "KRB-ERROR"));
        assert_eq!((r.error_code, r.error_name.as_str()), (25, "KDC_ERR_PREAUTH_REQUIRED"));
        assert_eq!(r.error_text, "NEEDED_PREAUTH");
        // 2024-01-02 03:04:05 UTC.
        assert_eq!(r.server_time, 1_704_164_645);
        assert_eq!(r.padata_types, [19, 2, 16, 15]);
        assert_eq!(r.etype_info, [18, 23]);
        assert_eq!((r.realm.as_str(), r.service_name.as_str()), ("EXAMPLE.ORG", "krbtgt/EXAMPLE.ORG"));
    }

    #[test]
    fn tgs_rep_fields() {
        let (r, e) = parsed(&build::tgs_rep());
        assert_eq!(e, None);
        assert_eq!((r.msg_type, r.client_name.as_str(), r.client_realm.as_str()), (13, "alice", "EXAMPLE.ORG"));
        assert_eq!(r.service_name, "cifs/fs1.example.org");
        assert_eq!((r.ticket_etype, r.ticket_kvno, r.enc_part_etype), (23, 3, 18));
        // The RC4 ticket as hashcat 13100 takes it: 16 bytes of checksum, then the rest.
        let want =
            format!("$krb5tgs$23$*alice$EXAMPLE.ORG$cifs/fs1.example.org*${}${}", "66".repeat(16), "66".repeat(24));
        assert_eq!(r.hashcat, want);
    }

    #[test]
    fn rc4_as_rep_is_written_for_as_rep_roasting() {
        let (r, e) = parsed(&build::as_rep());
        assert_eq!(e, None);
        assert_eq!((r.msg_type, r.ticket_etype, r.enc_part_etype), (11, 18, 23));
        assert_eq!(r.hashcat, format!("$krb5asrep$23$alice@EXAMPLE.ORG:{}${}", "77".repeat(16), "77".repeat(44)));
        // An AES reply part: hashcat 32200, its 12-byte checksum last on the wire, first here.
        let mut aes = build::as_rep();
        let at = aes.windows(3).rposition(|w| w == [0x02, 0x01, 23]).expect("the reply's etype");
        aes[at + 2] = 18;
        let (r, _) = parsed(&aes);
        assert_eq!(r.enc_part_etype, 18);
        assert_eq!(r.hashcat, format!("$krb5asrep$18$alice$EXAMPLE.ORG${}${}", "77".repeat(12), "77".repeat(48)));
    }

    #[test]
    fn etype_info2_salt_is_read_per_etype() {
        use crate::build::{cat, ctx, int, kstr, tlv};
        let entry = |e: i64, salt: Option<&str>| {
            let mut f = vec![ctx(0, int(e))];
            f.extend(salt.map(|s| ctx(1, kstr(s))));
            tlv(0x30, &cat(&f))
        };
        let info = tlv(0x30, &cat(&[entry(23, None), entry(18, Some("EXAMPLE.ORGAlice"))]));
        let pa = [PAData { padata_type: kerberos_parser::krb5::PAType(PA_ETYPE_INFO2), padata_value: &info }];
        assert_eq!(salt_of(&pa, 18).as_deref(), Some("EXAMPLE.ORGAlice"));
        assert_eq!(salt_of(&pa, 23), None);
        // A salt other than the default one: the salt form.
        let mut r = v1::Kerberos {
            enc_part_etype: 18,
            client_name: "alice".into(),
            client_realm: "EXAMPLE.ORG".into(),
            ..Default::default()
        };
        aes_as_rep(&mut r, salt_of(&pa, 18), &[0xab; 20]);
        assert_eq!(r.hashcat, format!("$krb5asrep$18$EXAMPLE.ORGAlice${}${}", "ab".repeat(8), "ab".repeat(12)));
    }

    #[test]
    fn pre_authentication_timestamps_are_written_for_crackers() {
        // The AS-REQ's PA-ENC-TIMESTAMP with a 56-byte AES256 cipher: hashcat 19900.
        let (r, e) = parsed(&build::as_req_with(18, 56));
        assert_eq!(e, None);
        assert_eq!((r.msg_type, r.preauth_etype), (10, 18));
        assert_eq!(r.hashcat, format!("$krb5pa$18$alice$EXAMPLE.ORG${}", "55".repeat(56)));
        // RC4-HMAC: hashcat 7500, the 36 bytes of data before the 16-byte checksum.
        let mut rc4 = build::as_req_with(23, 52);
        let at = rc4.windows(2).position(|w| w == [0x04, 52]).expect("the cipher") + 2;
        rc4[at..at + 16].fill(0xcc);
        let (r, _) = parsed(&rc4);
        assert_eq!(r.hashcat, format!("$krb5pa$23$alice$EXAMPLE.ORG$${}{}", "55".repeat(36), "cc".repeat(16)));
        // 44 bytes is not an encrypted timestamp: nothing.
        let (r, _) = parsed(&build::as_req());
        assert_eq!(r.hashcat, "");
    }

    /// Every cut of every message, and every byte garbled: the message type is kept when the
    /// first byte is there, an error is returned for every cut, and nothing panics.
    #[test]
    fn cut_and_garbled_messages() {
        for m in [build::as_req(), build::preauth_required(), build::tgs_rep(), build::as_rep()] {
            for n in 0..m.len() {
                let (r, e) = parsed(&m[..n]);
                assert!(e.is_some(), "cut at {n} of {}", m.len());
                assert_eq!(r.msg_type, if n == 0 { 0 } else { u32::from(m[0] & 0x1f) });
            }
            for i in 0..m.len() {
                for x in [0x00, 0xff, 0x80, 0x7f] {
                    let mut g = m.clone();
                    g[i] = x;
                    let _ = parsed(&g);
                }
            }
        }
        // A declared length far past the message, and a nesting of 10,000 SEQUENCE headers.
        let mut huge = vec![0x6a, 0x84, 0x7f, 0xff, 0xff, 0xff];
        huge.extend(std::iter::repeat_n(0x30, 100));
        assert_eq!(parsed(&huge).1, Some(E_MALFORMED));
        let bomb: Vec<u8> =
            [0x6a, 0x84, 0, 0, 0x9c, 0x40].into_iter().chain((0..10_000).flat_map(|_| [0x30, 0x80])).collect();
        assert_eq!(parsed(&bomb).1, Some(E_MALFORMED));
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        // 2037-09-13 02:48:05 UTC, the "never" time Windows sends, is 2136422885.
        assert_eq!(days_from_civil(2037, 9, 13) * 86_400 + 2 * 3600 + 48 * 60 + 5, 2_136_422_885);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
