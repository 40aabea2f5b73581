//! The `credentials` decoder (kind `record`): user names and secrets sent in clear, from the
//! stream decoder's `HTTP` records (`proto/netcap/v1/credentials.proto`): `Authorization: Basic`
//! (RFC 7617: base64 of `user:password`), `Authorization: Digest` (RFC 7616: `username`, `realm`
//! and `response`), and urlencoded form fields (the record's `parameters`) naming a user and a
//! password. One record per service, method, user and secret, written at the end of input (the
//! host orders such records by their bytes), with the first and last time seen. The FTP, SMTP,
//! POP3, IMAP, NTLM, Telnet, Kerberos and TDS (SQL Server Login7) records are read in
//! [`sessions`]. LDAP simple binds (the `windows`
//! decoders' LDAP records) are credentials with the server's verdict from the bind response of
//! the same message id on the same connection.

pub mod sessions;

use base64::Engine as _;
use netcap_proto::v1::{Credentials, Ftp, Http, Imap, Kerberos, Ldap, Ntlm, Pop3, Smtp, Tds, Telnet};
use netcap_sdk::{Config, DecoderInfo, Emitter, InputRecord, Kind, RecordDecoder};
use prost::Message;
use std::collections::BTreeMap;

/// Record types read, in `consumes` order.
pub const CONSUMES: [(&str, &str); 10] = [
    ("HTTP", "netcap.v1.HTTP"),
    ("FTP", "netcap.v1.FTP"),
    ("SMTP", "netcap.v1.SMTP"),
    ("POP3", "netcap.v1.POP3"),
    ("IMAP", "netcap.v1.IMAP"),
    ("NTLM", "netcap.v1.NTLM"),
    ("Telnet", "netcap.v1.Telnet"),
    ("Kerberos", "netcap.v1.Kerberos"),
    ("LDAP", "netcap.v1.LDAP"),
    ("TDS", "netcap.v1.TDS"),
];
/// Record types written.
pub const RECORD_TYPES: [(&str, &str); 1] = [("Credentials", "netcap.v1.Credentials")];
/// Most credentials kept; further ones are counted (`credentials: table full`).
pub const MAX_ENTRIES: usize = 100_000;
/// Most LDAP simple binds awaiting their response; further ones are kept without a verdict.
pub const MAX_PENDING_BINDS: usize = 10_000;
/// Form field names (lowercase) that hold a user name and a password.
const USER_FIELDS: [&str; 6] = ["user", "username", "login", "email", "user_name", "userid"];
const PASS_FIELDS: [&str; 5] = ["pass", "password", "passwd", "pwd", "user_password"];

/// One credential found in a request: method, user, secret, realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub method: &'static str,
    pub user: String,
    pub secret: String,
    pub realm: String,
}

/// `key=value` pairs of a Digest header (values quoted or tokens).
fn digest_params(s: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else { break };
        let key = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        m.insert(key, value);
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    m
}

/// The credential of an `Authorization` header value, if it carries one.
pub fn authorization(value: &str) -> Option<Found> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("basic") {
        let bytes = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8_lossy(&bytes);
        let (user, pass) = text.split_once(':')?;
        return Some(Found { method: "basic", user: user.into(), secret: pass.into(), realm: String::new() });
    }
    if scheme.eq_ignore_ascii_case("digest") {
        let p = digest_params(rest);
        let user = p.get("username")?.clone();
        return Some(Found {
            method: "digest",
            user,
            secret: p.get("response").cloned().unwrap_or_default(),
            realm: p.get("realm").cloned().unwrap_or_default(),
        });
    }
    None
}

/// A user and a password among urlencoded form fields.
pub fn form(params: &[(String, String)], target: &str) -> Option<Found> {
    let find = |names: &[&str]| {
        params
            .iter()
            .find(|(k, v)| !v.is_empty() && names.contains(&k.to_ascii_lowercase().as_str()))
            .map(|(_, v)| v.clone())
    };
    let (user, secret) = (find(&USER_FIELDS)?, find(&PASS_FIELDS)?);
    let realm = target.split('?').next().unwrap_or("").to_string();
    Some(Found { method: "form", user, secret, realm })
}

/// The connection and time a credential was seen on, and the service.
struct Seen<'a> {
    service: &'static str,
    timestamp: i64,
    host: &'a str,
    src_ip: &'a str,
    dst_ip: &'a str,
    src_port: u32,
    dst_port: u32,
}

/// An LDAP connection (client address and port, server address and port) and message id.
type BindKey = (String, u32, String, u32, u32);

/// The decoder.
#[derive(Debug, Default)]
pub struct CredentialsDecoder {
    table: BTreeMap<(&'static str, &'static str, String, String), Credentials>,
    /// LDAP simple bind requests awaiting their response.
    binds: BTreeMap<BindKey, Ldap>,
}

impl CredentialsDecoder {
    fn add(&mut self, at: &Seen<'_>, f: Found, accepted: Option<bool>, out: &mut Emitter<'_>) {
        let key = (at.service, f.method, f.user.clone(), f.secret.clone());
        if !self.table.contains_key(&key) && self.table.len() >= MAX_ENTRIES {
            out.error("credentials: table full");
            return;
        }
        let c = self.table.entry(key).or_insert_with(|| Credentials {
            timestamp_first: at.timestamp,
            timestamp_last: at.timestamp,
            service: at.service.into(),
            method: f.method.into(),
            user: f.user,
            secret: f.secret,
            realm: f.realm,
            host: at.host.into(),
            src_ip: at.src_ip.into(),
            dst_ip: at.dst_ip.into(),
            src_port: at.src_port,
            dst_port: at.dst_port,
            ..Credentials::default()
        });
        c.timestamp_first = c.timestamp_first.min(at.timestamp);
        c.timestamp_last = c.timestamp_last.max(at.timestamp);
        c.count += 1;
        match accepted {
            Some(true) => c.outcome = "accepted".into(),
            Some(false) if c.outcome.is_empty() => c.outcome = "rejected".into(),
            _ => {}
        }
    }

    fn http(&mut self, h: &Http, out: &mut Emitter<'_>) {
        let at = Seen {
            service: "HTTP",
            timestamp: h.timestamp,
            host: &h.host,
            src_ip: &h.src_ip,
            dst_ip: &h.dst_ip,
            src_port: h.src_port,
            dst_port: h.dst_port,
        };
        for hdr in &h.request_header {
            if hdr.name.eq_ignore_ascii_case("authorization")
                && let Some(f) = authorization(&hdr.value)
            {
                self.add(&at, f, None, out);
            }
        }
        let params: Vec<(String, String)> = h.parameters.iter().map(|p| (p.name.clone(), p.value.clone())).collect();
        if let Some(f) = form(&params, &h.url) {
            self.add(&at, f, None, out);
        }
    }

    /// Credentials a session record carried, each at its command's time.
    fn session(
        &mut self,
        service: &'static str,
        (src_ip, dst_ip, src_port, dst_port): (&str, &str, u32, u32),
        found: Vec<sessions::Sent>,
        out: &mut Emitter<'_>,
    ) {
        for s in found {
            let at = Seen { service, timestamp: s.timestamp, host: "", src_ip, dst_ip, src_port, dst_port };
            let f = Found { method: s.method, user: s.user, secret: s.secret, realm: s.realm };
            self.add(&at, f, s.accepted, out);
        }
    }

    /// An LDAP record: a simple bind request with a password waits for its response, whose result
    /// code (0 success, else refused) is the verdict.
    fn ldap(&mut self, r: Ldap, out: &mut Emitter<'_>) {
        match r.operation {
            0 if r.auth == "simple" && !r.password.is_empty() => {
                let key = (r.src_ip.clone(), r.src_port, r.dst_ip.clone(), r.dst_port, r.message_id);
                if self.binds.len() < MAX_PENDING_BINDS {
                    self.binds.insert(key, r);
                } else {
                    self.bind(&r, None, out);
                }
            }
            1 => {
                let key = (r.dst_ip.clone(), r.dst_port, r.src_ip.clone(), r.src_port, r.message_id);
                if let Some(req) = self.binds.remove(&key) {
                    self.bind(&req, Some(r.result_code == 0), out);
                }
            }
            _ => {}
        }
    }

    /// The credential of a simple bind request, with the server's verdict if seen.
    fn bind(&mut self, r: &Ldap, accepted: Option<bool>, out: &mut Emitter<'_>) {
        let found = sessions::Sent {
            method: "simple",
            user: r.object_name.clone(),
            secret: r.password.clone(),
            realm: String::new(),
            timestamp: r.timestamp,
            accepted,
        };
        self.session("LDAP", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), vec![found], out);
    }

    /// One input record, by its type's index in [`CONSUMES`].
    fn record(&mut self, input: u16, bytes: &[u8], out: &mut Emitter<'_>) -> Result<(), prost::DecodeError> {
        match input {
            0 => self.http(&Http::decode(bytes)?, out),
            1 => {
                let r = Ftp::decode(bytes)?;
                self.session("FTP", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), sessions::ftp(&r), out);
            }
            2 => {
                let r = Smtp::decode(bytes)?;
                self.session("SMTP", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), sessions::smtp(&r), out);
            }
            3 => {
                let r = Pop3::decode(bytes)?;
                self.session("POP3", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), sessions::pop3(&r), out);
            }
            4 => {
                let r = Imap::decode(bytes)?;
                self.session("IMAP", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), sessions::imap(&r), out);
            }
            5 => {
                let r = Ntlm::decode(bytes)?;
                let found = sessions::ntlm(&r).into_iter().collect();
                let service = sessions::ntlm_service(&r.transport);
                self.session(service, (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), found, out);
            }
            6 => {
                let r = Telnet::decode(bytes)?;
                self.session("Telnet", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), sessions::telnet(&r), out);
            }
            7 => {
                let r = Kerberos::decode(bytes)?;
                let found = sessions::kerberos(&r).into_iter().collect();
                self.session("Kerberos", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), found, out);
            }
            8 => self.ldap(Ldap::decode(bytes)?, out),
            9 => {
                let r = Tds::decode(bytes)?;
                let found = sessions::tds(&r).into_iter().collect();
                self.session("MSSQL", (&r.src_ip, &r.dst_ip, r.src_port, r.dst_port), found, out);
            }
            _ => {}
        }
        Ok(())
    }
}

impl RecordDecoder for CredentialsDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "credentials".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Record,
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            consumes: netcap_sdk::record_types(&CONSUMES),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(CredentialsDecoder::default())
    }

    fn decode(&mut self, record: &InputRecord<'_>, out: &mut Emitter<'_>) {
        if self.record(record.input, record.bytes, out).is_err() {
            out.error("credentials: undecodable input record");
        }
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        // Binds whose response never came: no verdict.
        for (_, r) in std::mem::take(&mut self.binds) {
            self.bind(&r, None, out);
        }
        while !out.chunk_full() {
            let Some((_, c)) = self.table.pop_first() else { break };
            out.record(0, &c);
        }
    }
}

netcap_sdk::export_record_decoder!(CredentialsDecoder);

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_proto::v1::http::{Header, Parameter};

    #[test]
    fn basic_digest_and_form_credentials() {
        // RFC 7617 section 2's example: "Aladdin:open sesame".
        let b = authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap();
        assert_eq!((b.method, b.user.as_str(), b.secret.as_str()), ("basic", "Aladdin", "open sesame"));
        // RFC 7616 section 3.9.1's example request.
        let d = authorization(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
             algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
             cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
             response=\"8ca523f5e9506fed4657c9700eebdbec\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        assert_eq!(
            (d.method, d.user.as_str(), d.realm.as_str(), d.secret.as_str()),
            ("digest", "Mufasa", "http-auth@example.org", "8ca523f5e9506fed4657c9700eebdbec")
        );
        assert!(authorization("Bearer abc").is_none());
        assert!(authorization("Basic !!!").is_none());
        let p = vec![("Username".to_string(), "admin".to_string()), ("password".to_string(), "s3cret".to_string())];
        let f = form(&p, "/login.php?x=1").unwrap();
        assert_eq!((f.user.as_str(), f.secret.as_str(), f.realm.as_str()), ("admin", "s3cret", "/login.php"));
        assert!(form(&p[..1], "/").is_none());
    }

    #[test]
    fn ldap_simple_binds_take_the_verdict_of_their_response() {
        let ldap = |op: u32, id: u32, src: u32, dst: u32, user: &str, pass: &str, result: u32| {
            Ldap {
                operation: op,
                message_id: id,
                src_ip: "10.0.0.2".into(),
                dst_ip: "10.0.0.2".into(),
                src_port: src,
                dst_port: dst,
                object_name: user.into(),
                auth: if op == 0 { "simple".into() } else { String::new() },
                password: pass.into(),
                result_code: result,
                ..Ldap::default()
            }
            .encode_to_vec()
        };
        let mut b = Vec::new();
        netcap_sdk::push_record(&mut b, 8, 1, &ldap(0, 1, 5000, 389, "cn=a", "pw1", 0));
        netcap_sdk::push_record(&mut b, 8, 2, &ldap(0, 1, 5001, 389, "cn=b", "pw2", 0));
        netcap_sdk::push_record(&mut b, 8, 3, &ldap(0, 2, 5000, 389, "cn=anon", "", 0));
        // The response to the second connection's bind refuses it (49 invalidCredentials); the
        // first connection's never comes.
        netcap_sdk::push_record(&mut b, 8, 4, &ldap(1, 1, 389, 5001, "", "", 49));
        let mut d = CredentialsDecoder::default();
        let mut out = Vec::new();
        netcap_sdk::record::run_decode(&mut d, &b, &mut out);
        let mut out = Vec::new();
        netcap_sdk::record::run_finish(&mut d, &mut out);
        let c: Vec<Credentials> =
            netcap_sdk::entries(&out).map(|e| Credentials::decode(e.unwrap().bytes).unwrap()).collect();
        let got: Vec<(&str, &str, &str, &str)> =
            c.iter().map(|c| (c.service.as_str(), c.user.as_str(), c.secret.as_str(), c.outcome.as_str())).collect();
        assert_eq!(got, [("LDAP", "cn=a", "pw1", ""), ("LDAP", "cn=b", "pw2", "rejected")]);
    }

    #[test]
    fn credentials_are_deduplicated_with_first_and_last_seen() {
        let req = |ts: i64, auth: &str| {
            Http {
                timestamp: ts,
                host: "example.org".into(),
                src_ip: "10.0.0.2".into(),
                dst_ip: "10.0.0.1".into(),
                src_port: 40000,
                dst_port: 80,
                request_header: vec![Header { name: "Authorization".into(), value: auth.into() }],
                parameters: vec![
                    Parameter { name: "login".into(), value: "bob".into() },
                    Parameter { name: "pwd".into(), value: "x".into() },
                ],
                ..Http::default()
            }
            .encode_to_vec()
        };
        let mut d = CredentialsDecoder::default();
        let mut b = Vec::new();
        netcap_sdk::push_record(&mut b, 0, 1, &req(30, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
        netcap_sdk::push_record(&mut b, 0, 2, &req(10, "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
        netcap_sdk::push_record(&mut b, 0, 3, &[0xff, 0xff]);
        let mut out = Vec::new();
        netcap_sdk::record::run_decode(&mut d, &b, &mut out);
        assert_eq!(netcap_sdk::entries(&out).count(), 1, "one error for the garbled record");
        let mut out = Vec::new();
        netcap_sdk::record::run_finish(&mut d, &mut out);
        let c: Vec<Credentials> =
            netcap_sdk::entries(&out).map(|e| Credentials::decode(e.unwrap().bytes).unwrap()).collect();
        let keys: Vec<(&str, &str, &str)> =
            c.iter().map(|c| (c.method.as_str(), c.user.as_str(), c.secret.as_str())).collect();
        assert_eq!(keys, vec![("basic", "Aladdin", "open sesame"), ("form", "bob", "x")]);
        assert_eq!((c[0].timestamp_first, c[0].timestamp_last, c[0].count), (10, 30, 2));
        assert_eq!((c[0].host.as_str(), c[0].dst_port), ("example.org", 80));
    }
}
