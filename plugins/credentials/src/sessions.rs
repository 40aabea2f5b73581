//! Credentials from the session records of the `stream` decoder (FTP, SMTP, POP3, IMAP) and the
//! NTLM records of the `windows` decoder: the login commands and SASL exchanges (RFC 4422) each
//! session carried, with the server's verdict.
//!
//! - FTP `USER`/`PASS` and POP3 `USER`/`PASS` (method `user-pass`), POP3 `APOP` (method `apop`,
//!   the MD5 digest as secret, the greeting's `<...>` timestamp as realm), IMAP `LOGIN` (method
//!   `login`).
//! - SASL over SMTP `AUTH`, POP3 `AUTH` and IMAP `AUTHENTICATE`: `PLAIN` (RFC 4616), `LOGIN`
//!   (user and password as two base64 lines) and `CRAM-MD5` (RFC 2195: the secret in the form
//!   password crackers take, hashcat 16400 `$cram_md5$<challenge>$<response>`, both base64).
//! - Telnet logins (method `prompt`): the answer to a server prompt ending in `password:`, with
//!   the answer to the login prompt before it as the user.
//! - NTLM `AUTHENTICATE` messages with a challenge seen: the hashcat 5500/5600 line as secret,
//!   method `netntlmv1` or `netntlmv2`, the domain as realm.

use base64::Engine as _;
use netcap_proto::v1::{Ftp, Imap, Kerberos, Ntlm, Pop3, Smtp, Tds, Telnet};

/// Where and when a credential was sent, and how the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub method: &'static str,
    pub user: String,
    pub secret: String,
    pub realm: String,
    pub timestamp: i64,
    /// `Some(true)` accepted, `Some(false)` refused, `None` no verdict seen.
    pub accepted: Option<bool>,
}

/// One client line of a session in protocol-neutral form.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    verb: &'a str,
    arg: &'a str,
    auth_data: bool,
    timestamp: i64,
    /// The reply: `Some(true)` success, `Some(false)` failure, `None` continuation or none.
    verdict: Option<bool>,
    /// A continuation's text (the SASL challenge), "" otherwise.
    challenge: &'a str,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()
}

fn b64_text(s: &str) -> Option<String> {
    b64(s).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A SASL exchange in progress.
struct Sasl<'a> {
    mech: String,
    data: Vec<&'a str>,
    challenge: &'a str,
    timestamp: i64,
    verdict: Option<bool>,
}

impl Sasl<'_> {
    /// The credential the exchange carried, if its mechanism is one we read.
    fn credential(&self) -> Option<Sent> {
        let (method, user, secret) = match self.mech.as_str() {
            "PLAIN" => {
                let text = b64(self.data.first()?)?;
                let mut parts = text.split(|&b| b == 0);
                let (_authz, user, pass) = (parts.next()?, parts.next()?, parts.next()?);
                ("plain", String::from_utf8_lossy(user).into_owned(), String::from_utf8_lossy(pass).into_owned())
            }
            "LOGIN" => ("login", b64_text(self.data.first()?)?, b64_text(self.data.get(1)?)?),
            "CRAM-MD5" => {
                let response = self.data.first()?.trim();
                let text = b64_text(response)?;
                let (user, _digest) = text.rsplit_once(' ')?;
                ("cram-md5", user.to_string(), format!("$cram_md5${}${}", self.challenge.trim(), response))
            }
            _ => return None,
        };
        let realm = String::new();
        Some(Sent { method, user, secret, realm, timestamp: self.timestamp, accepted: self.verdict })
    }
}

/// The credentials of a session's lines: login commands and SASL exchanges. `user` is the
/// session's user name so far (a long session's later part starts after its USER).
fn scan<'a>(lines: &[Line<'a>], user: &'a str, out: &mut Vec<Sent>) {
    let mut user: Option<&str> = Some(user).filter(|u| !u.is_empty());
    let mut sasl: Option<Sasl<'_>> = None;
    for l in lines {
        if l.auth_data {
            if let Some(s) = sasl.as_mut() {
                s.data.push(l.arg);
                s.verdict = l.verdict.or(s.verdict);
            }
            continue;
        }
        if let Some(s) = sasl.take() {
            out.extend(s.credential());
        }
        let verb = l.verb.to_ascii_uppercase();
        match verb.as_str() {
            "USER" => user = Some(l.arg),
            "PASS" => {
                let user = user.unwrap_or("").to_string();
                out.push(Sent {
                    method: "user-pass",
                    user,
                    secret: l.arg.to_string(),
                    realm: String::new(),
                    timestamp: l.timestamp,
                    accepted: l.verdict,
                });
            }
            "AUTH" | "AUTHENTICATE" => {
                let mut words = l.arg.split_ascii_whitespace();
                let mech = words.next().unwrap_or("").to_ascii_uppercase();
                let mut data = Vec::new();
                if let Some(initial) = words.next().filter(|w| *w != "=") {
                    data.push(initial);
                }
                let (challenge, verdict, timestamp) = (l.challenge, l.verdict, l.timestamp);
                sasl = Some(Sasl { mech, data, challenge, timestamp, verdict });
            }
            _ => {}
        }
    }
    if let Some(s) = sasl {
        out.extend(s.credential());
    }
}

/// Scans a session's commands, each made a [`Line`] by `line`, for login commands and SASL
/// exchanges.
fn scan_commands<'a, C>(commands: &'a [C], user: &'a str, line: impl Fn(&'a C) -> Line<'a>) -> Vec<Sent> {
    let lines: Vec<Line<'a>> = commands.iter().map(line).collect();
    let mut out = Vec::new();
    scan(&lines, user, &mut out);
    out
}

/// FTP reply codes: 230 logged in, 202 not needed; 4xx/5xx refused; others (331, 332) no verdict.
fn ftp_verdict(code: u32) -> Option<bool> {
    match code {
        230 | 202 => Some(true),
        400..=599 => Some(false),
        _ => None,
    }
}

/// The credentials of an FTP session.
pub fn ftp(r: &Ftp) -> Vec<Sent> {
    scan_commands(&r.commands, &r.user, |c| Line {
        verb: &c.command,
        arg: &c.argument,
        auth_data: false,
        timestamp: c.timestamp,
        verdict: ftp_verdict(c.reply_code),
        challenge: "",
    })
}

/// SMTP: 235 authenticated; 334 a challenge; 4xx/5xx refused.
fn smtp_verdict(code: u32) -> Option<bool> {
    match code {
        235 => Some(true),
        400..=599 => Some(false),
        _ => None,
    }
}

/// The credentials of an SMTP session (its AUTH exchanges).
pub fn smtp(r: &Smtp) -> Vec<Sent> {
    scan_commands(&r.commands, "", |c| Line {
        verb: &c.command,
        arg: &c.argument,
        auth_data: c.auth_data,
        timestamp: c.timestamp,
        verdict: smtp_verdict(c.reply_code),
        challenge: if c.reply_code == 334 { &c.reply_text } else { "" },
    })
}

/// POP3 statuses: "+OK", "-ERR", "+" (a continuation).
fn pop3_verdict(status: &str) -> Option<bool> {
    match status {
        "+OK" => Some(true),
        "-ERR" => Some(false),
        _ => None,
    }
}

/// The APOP challenge of a POP3 greeting: its `<...>` timestamp.
fn apop_timestamp(greeting: &str) -> &str {
    match (greeting.find('<'), greeting.rfind('>')) {
        (Some(a), Some(b)) if a < b => &greeting[a..=b],
        _ => "",
    }
}

/// The credentials of a POP3 session: USER/PASS, APOP and AUTH.
pub fn pop3(r: &Pop3) -> Vec<Sent> {
    let mut out = scan_commands(&r.commands, &r.user, |c| Line {
        verb: &c.command,
        arg: &c.argument,
        auth_data: c.auth_data,
        timestamp: c.timestamp,
        verdict: pop3_verdict(&c.status),
        challenge: if c.status == "+" { &c.reply_text } else { "" },
    });
    for c in r.commands.iter().filter(|c| c.command.eq_ignore_ascii_case("APOP")) {
        let Some((user, digest)) = c.argument.trim().rsplit_once(' ') else { continue };
        out.push(Sent {
            method: "apop",
            user: user.trim().to_string(),
            secret: digest.to_string(),
            realm: apop_timestamp(&r.greeting).to_string(),
            timestamp: c.timestamp,
            accepted: pop3_verdict(&c.status),
        });
    }
    out.sort_by_key(|s| s.timestamp);
    out
}

/// An IMAP astring (RFC 3501): a quoted string with `\` escapes, or an atom; its rest.
fn astring(s: &str) -> (String, &str) {
    let s = s.trim_start();
    if let Some(q) = s.strip_prefix('"') {
        let mut v = String::new();
        let mut chars = q.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => v.extend(chars.next().map(|(_, n)| n)),
                '"' => return (v, &q[i + 1..]),
                c => v.push(c),
            }
        }
        return (v, "");
    }
    let end = s.find(' ').unwrap_or(s.len());
    (s[..end].to_string(), &s[end..])
}

/// IMAP tagged statuses: "OK", "NO", "BAD".
fn imap_verdict(status: &str) -> Option<bool> {
    match status {
        "OK" => Some(true),
        "NO" | "BAD" => Some(false),
        _ => None,
    }
}

/// The credentials of an IMAP session: LOGIN and AUTHENTICATE (the exchange's verdict is the
/// AUTHENTICATE command's tagged status).
pub fn imap(r: &Imap) -> Vec<Sent> {
    let mut out = scan_commands(&r.commands, "", |c| Line {
        verb: &c.command,
        arg: &c.argument,
        auth_data: c.auth_data,
        timestamp: c.timestamp,
        verdict: imap_verdict(&c.status),
        challenge: "",
    });
    for c in r.commands.iter().filter(|c| c.command.eq_ignore_ascii_case("LOGIN")) {
        let (user, rest) = astring(&c.argument);
        let (pass, _) = astring(rest);
        out.push(Sent {
            method: "login",
            user,
            secret: pass,
            realm: String::new(),
            timestamp: c.timestamp,
            accepted: imap_verdict(&c.status),
        });
    }
    out.sort_by_key(|s| s.timestamp);
    out
}

/// The credentials of a Telnet session: each answer to a password prompt, with the user of the
/// login prompt before it (else the session's user).
pub fn telnet(r: &Telnet) -> Vec<Sent> {
    let mut user = r.user.as_str();
    let mut out = Vec::new();
    for p in &r.prompts {
        let prompt = p.prompt.trim_end().to_ascii_lowercase();
        if prompt.ends_with("password:") {
            out.push(Sent {
                method: "prompt",
                user: user.to_string(),
                secret: p.answer.clone(),
                realm: String::new(),
                timestamp: r.timestamp,
                accepted: None,
            });
        } else {
            user = &p.answer;
        }
    }
    out
}

/// The user and (de-obfuscated) password of a SQL Server Login7 read in clear (a login inside
/// TLS is not); accepted when the server's LOGINACK came, refused on its ERROR.
pub fn tds(r: &Tds) -> Option<Sent> {
    if r.kind != "login7" || r.encrypted || r.user.is_empty() {
        return None;
    }
    let accepted = match (r.server_program.is_empty(), r.error_number) {
        (false, _) => Some(true),
        (true, 0) => None,
        (true, _) => Some(false),
    };
    Some(Sent {
        method: "login7",
        user: r.user.clone(),
        secret: r.password.clone(),
        realm: String::new(),
        timestamp: r.timestamp,
        accepted,
    })
}

/// The credential of an NTLM AUTHENTICATE message whose challenge was seen (its hashcat line).
pub fn ntlm(r: &Ntlm) -> Option<Sent> {
    if r.message_type != 3 || r.hashcat.is_empty() {
        return None;
    }
    let method = match r.response_type.as_str() {
        "ntlmv1" => "netntlmv1",
        "ntlmv2" => "netntlmv2",
        _ => return None,
    };
    Some(Sent {
        method,
        user: r.user.clone(),
        secret: r.hashcat.clone(),
        realm: r.domain.clone(),
        timestamp: r.timestamp,
        accepted: None,
    })
}

/// The service of an NTLM record's credential: the protocol that carried it (its `transport`).
pub fn ntlm_service(transport: &str) -> &'static str {
    match transport {
        "http" => "HTTP",
        "ldap" => "LDAP",
        "dcerpc" => "DCERPC",
        _ => "SMB",
    }
}

/// The crackable form of an RC4-HMAC TGS-REP ticket (`krb5tgs`, Kerberoasting), an AS-REP reply
/// (`krb5asrep`, AS-REP roasting) or an AS-REQ's encrypted timestamp (`krb5pa`) that the
/// Kerberos decoder wrote; the client as user.
pub fn kerberos(r: &Kerberos) -> Option<Sent> {
    let method = match r.msg_type {
        13 => "krb5tgs",
        11 => "krb5asrep",
        10 => "krb5pa",
        _ => return None,
    };
    (!r.hashcat.is_empty()).then(|| Sent {
        method,
        user: r.client_name.clone(),
        secret: r.hashcat.clone(),
        realm: r.client_realm.clone(),
        timestamp: r.timestamp,
        accepted: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_proto::v1::{FtpCommand, ImapCommand, Pop3Command, SmtpCommand};

    fn smtp_cmd(command: &str, argument: &str, auth_data: bool, code: u32, text: &str) -> SmtpCommand {
        SmtpCommand {
            command: command.into(),
            argument: argument.into(),
            auth_data,
            reply_code: code,
            reply_text: text.into(),
            ..SmtpCommand::default()
        }
    }

    #[test]
    fn smtp_plain_login_and_cram_md5() {
        // RFC 4616 section 4's example: authzid "", authcid "tim", password "tanstaaftanstaaf".
        let plain = smtp_cmd("AUTH", "PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", false, 235, "ok");
        // AUTH LOGIN with "user"/"pass" in base64 lines after 334 prompts; refused.
        let login = [
            smtp_cmd("AUTH", "LOGIN", false, 334, "VXNlcm5hbWU6"),
            smtp_cmd("", "dXNlcg==", true, 334, "UGFzc3dvcmQ6"),
            smtp_cmd("", "cGFzcw==", true, 535, "bad"),
        ];
        // RFC 2195 section 2's example exchange.
        let cram = [
            smtp_cmd("AUTH", "CRAM-MD5", false, 334, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            smtp_cmd("", "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", true, 235, ""),
        ];
        let mut commands = vec![plain];
        commands.extend(login);
        commands.extend(cram);
        let got = smtp(&Smtp { commands, ..Smtp::default() });
        let v: Vec<(&str, &str, &str, Option<bool>)> =
            got.iter().map(|s| (s.method, s.user.as_str(), s.secret.as_str(), s.accepted)).collect();
        assert_eq!(
            v,
            vec![
                ("plain", "tim", "tanstaaftanstaaf", Some(true)),
                ("login", "user", "pass", Some(false)),
                (
                    "cram-md5",
                    "tim",
                    "$cram_md5$PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+$dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
                    Some(true)
                ),
            ]
        );
    }

    #[test]
    fn ftp_pop3_imap_logins() {
        let f = |c: &str, a: &str, code: u32| FtpCommand {
            command: c.into(),
            argument: a.into(),
            reply_code: code,
            ..FtpCommand::default()
        };
        let got = ftp(&Ftp {
            commands: vec![f("USER", "bob", 331), f("PASS", "x", 530), f("user", "bob", 331), f("pass", "y", 230)],
            ..Ftp::default()
        });
        let v: Vec<(&str, &str, Option<bool>)> =
            got.iter().map(|s| (s.user.as_str(), s.secret.as_str(), s.accepted)).collect();
        assert_eq!(v, vec![("bob", "x", Some(false)), ("bob", "y", Some(true))]);

        let p = |c: &str, a: &str, st: &str| Pop3Command {
            command: c.into(),
            argument: a.into(),
            status: st.into(),
            ..Pop3Command::default()
        };
        // RFC 1939 section 7's APOP example.
        let got = pop3(&Pop3 {
            greeting: "POP3 server ready <1896.697170952@dbc.mtview.ca.us>".into(),
            commands: vec![
                p("USER", "mrose", "+OK"),
                p("PASS", "secret", "-ERR"),
                p("APOP", "mrose c4c9334bac560ecc979e58001b3e22fb", "+OK"),
            ],
            ..Pop3::default()
        });
        let v: Vec<(&str, &str, &str, &str)> =
            got.iter().map(|s| (s.method, s.user.as_str(), s.secret.as_str(), s.realm.as_str())).collect();
        assert_eq!(
            v,
            vec![
                ("user-pass", "mrose", "secret", ""),
                ("apop", "mrose", "c4c9334bac560ecc979e58001b3e22fb", "<1896.697170952@dbc.mtview.ca.us>")
            ]
        );

        let i = |c: &str, a: &str, st: &str, auth: bool| ImapCommand {
            command: c.into(),
            argument: a.into(),
            status: st.into(),
            auth_data: auth,
            ..ImapCommand::default()
        };
        let got = imap(&Imap {
            commands: vec![
                i("LOGIN", "\"neu\\\"ling\" \"p w\"", "NO", false),
                i("LOGIN", "samir secret", "OK", false),
                i("AUTHENTICATE", "PLAIN", "OK", false),
                i("", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "", true),
            ],
            ..Imap::default()
        });
        let v: Vec<(&str, &str, &str, Option<bool>)> =
            got.iter().map(|s| (s.method, s.user.as_str(), s.secret.as_str(), s.accepted)).collect();
        assert_eq!(
            v,
            vec![
                ("plain", "tim", "tanstaaftanstaaf", Some(true)),
                ("login", "neu\"ling", "p w", Some(false)),
                ("login", "samir", "secret", Some(true)),
            ]
        );
    }

    #[test]
    fn tds_login7() {
        let r = Tds {
            kind: "login7".into(),
            user: "sa".into(),
            password: "Secret1!".into(),
            server_program: "Microsoft SQL Server".into(),
            ..Tds::default()
        };
        let s = tds(&r).expect("a credential");
        assert_eq!(
            (s.method, s.user.as_str(), s.secret.as_str(), s.accepted),
            ("login7", "sa", "Secret1!", Some(true))
        );
        let refused = Tds { server_program: String::new(), error_number: 18456, ..r.clone() };
        assert_eq!(tds(&refused).and_then(|s| s.accepted), Some(false));
        assert!(tds(&Tds { encrypted: true, ..r.clone() }).is_none());
        assert!(tds(&Tds { kind: "sql_batch".into(), ..r }).is_none());
    }

    #[test]
    fn telnet_password_prompts() {
        use netcap_proto::v1::telnet::Prompt;
        let p = |prompt: &str, answer: &str| Prompt { prompt: prompt.into(), answer: answer.into() };
        let r = Telnet {
            user: "fake".into(),
            prompts: vec![p("login:", "fake"), p("Password: ", "user"), p("Login:", "root"), p("PASSWORD:", "x")],
            ..Telnet::default()
        };
        let v: Vec<(String, String)> = telnet(&r).into_iter().map(|s| (s.user, s.secret)).collect();
        assert_eq!(v, vec![("fake".into(), "user".into()), ("root".into(), "x".into())]);
    }

    #[test]
    fn garbled_exchanges_give_nothing_and_do_not_panic() {
        let garbage = [
            smtp_cmd("AUTH", "PLAIN !!!!", false, 235, ""),
            smtp_cmd("AUTH", "LOGIN", false, 334, ""),
            smtp_cmd("", "dXNlcg==", true, 0, ""),
            smtp_cmd("AUTH", "CRAM-MD5", false, 334, ""),
            smtp_cmd("", "bm9zcGFjZQ==", true, 0, ""),
            smtp_cmd("AUTH", "", false, 0, ""),
        ];
        assert!(smtp(&Smtp { commands: garbage.to_vec(), ..Smtp::default() }).is_empty());
        assert_eq!(astring("\"unterminated"), ("unterminated".to_string(), ""));
        assert_eq!(apop_timestamp("> <"), "");
    }
}
