//! Mail records of the stream decoder against tshark on every corpus capture with SMTP:
//!
//! - every client command line tshark reports (`smtp.command_line`) is a command of our SMTP
//!   records (as a multiset per capture), and the reverse;
//! - every reply code tshark reports (`smtp.response.code`) is the greeting or a reply of ours
//!   (multiset, both ways);
//! - the SHA-256 of every message `tshark --export-objects imf` writes from an SMTP capture is
//!   the id of one of our Mail records and the SHA-256 of its File record (the whole message), or
//!   the SHA-256 of the File record of an attached message (message/rfc822 part). One
//!   normalisation: when the client sends the last line end and the terminating "." in one TCP
//!   segment, tshark leaves that line end out of the message (RFC 5321 4.1.1.4: it ends the last
//!   line, the message keeps it), so the tshark object plus CR LF is compared too.
//!
//! POP3 and IMAP are not compared with tshark's IMF export: it writes one object per TCP segment
//! of a POP3 RETR answer and one per FETCH response (header fields), never the whole message.
//!
//! TLS after STARTTLS (JA3 against tshark) is checked by `oracle_stream`, which has no
//! exception for SMTP STARTTLS captures any more. Deliberate differences are in `EXCEPTIONS`.

use netcap_proto::v1::{File, Ftp, Imap, Mail, Pop3, Smtp};
use netcap_tests::{TempDir, corpus, files_with, have_tshark, netcap, records, tshark_fields};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Captures where tshark and we differ on purpose (file name, what, reason).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "pcapplusplus_IPv4-encapsulated-IPv6.pcap",
        "ftp",
        "one packet: an FTP reply from port 21 without handshake, so the host takes the server for the client; \
         FTP is not read with the roles swapped back (SMTP is)",
    ),
    (
        "zeek_ftp_ipv6-violation.pcap",
        "ftp",
        "the server answers PASS with an SSH banner and a binary SSH packet without line end, then \"530 ...\": tshark \
         reads each packet on its own, we read lines, so the 530 ends the binary line (a counted bad reply)",
    ),
    (
        "pcapplusplus_Ftp.pcap",
        "ftp",
        "a crafted parser-test capture: packets of several connections on the same ports with restarted and \
         overlapping sequence numbers; tshark reads them per packet, our reassembly as five connections with a gap",
    ),
    (
        "ndpi_ftp-start-tls.pcap",
        "ftp",
        "after AUTH TLS the connection is TLS (its hello agrees with tshark in oracle_stream); the client later \
         returns to plain text (PASV, STOR), which we do not look for once TLS application data began",
    ),
    (
        "suricata-verify_smtp-pipelining.pcap",
        "smtp",
        "tshark reads the pipelined MAIL, RCPT and DATA lines sent in one segment with the message as DATA content \
         (its object starts with \"MAIL FROM:\"); they are commands (RFC 2920), answered 250, 250, 354",
    ),
    (
        "suricata-verify_smtp-pipelining.pcap",
        "imf",
        "tshark's object starts with the pipelined MAIL, RCPT and DATA commands (see the smtp exception)",
    ),
    (
        "suricata-verify_smtp-data-rejected_10.7.29.101_49898-178.63.41.150_25.pcap",
        "smtp",
        "the server refuses the first DATA (503) and the client sends RSET, MAIL, RCPT, DATA again: tshark does not \
         see the refusal and reads these commands as message content",
    ),
    (
        "suricata-verify_smtp-data-rejected_10.7.29.101_49898-178.63.41.150_25.pcap",
        "imf",
        "tshark's object starts with the RSET, MAIL, RCPT and DATA commands after the refused DATA (see the smtp \
         exception); our message starts after the accepted DATA's 354",
    ),
    (
        "chrissanders_mail_receiver_server_3.pcapng",
        "smtp",
        "QUIT shares a segment with the message's final \".\" line: tshark does not read commands after the end of \
         data within a segment",
    ),
    (
        "chrissanders_mail_sender_server_2.pcapng",
        "smtp",
        "QUIT shares a segment with the message's final \".\" line: tshark does not read commands after the end of \
         data within a segment",
    ),
    (
        "zeek_smtp_rfc3030-bdat-nonascii.pcap",
        "smtp",
        "the EHLO reply's two lines (250-localhost, 250 CHUNKING) come in two packets: tshark reports the code once \
         per packet, we once per reply",
    ),
    (
        "suricata-verify_issue-4220-01-ids_1flowB.pcap",
        "smtp",
        "the server's replies to HELO and MAIL (frames 9, 13) arrive after the client acknowledged them: tshark calls \
         them spurious retransmissions and does not dissect them; our reassembly delivers them in order (250, 250)",
    ),
    (
        "pcapplusplus_Smtp.pcap",
        "smtp",
        "a crafted parser-test capture: frames 7 and 8 restart sequence numbers 1 and 10 of stream 0's ports with other \
         content (tshark reads one stream, our reassembly a new connection), and the server's bytes 182-318 are \
         missing (a counted gap, after which replies are not matched to commands)",
    ),
    (
        "suricata-verify_bug-3616-smtp.pcap",
        "imf",
        "tshark's object repeats 610 bytes (\"From: ...\" again at offset 5840) that its own follow,tcp does not have; \
         our message is the client's bytes between the 354 and the final \".\"",
    ),
    (
        "suricata-verify_issue-4220-01-ids_1flowB.pcap",
        "imf",
        "tshark's object lacks 11,682 bytes (from offset 36942) that its own follow,tcp has; our message (964,218 bytes) \
         equals the follow,tcp content between the 354 and the final \".\"",
    ),
];

fn excepted(f: &Path, what: &str) -> Option<&'static str> {
    let name = f.file_name()?.to_str()?;
    EXCEPTIONS.iter().find(|(n, w, _)| *n == name && *w == what).map(|(_, _, why)| *why)
}

fn run(f: &Path) -> TempDir {
    let dir = TempDir::new("mail");
    let o = netcap(&[
        "capture",
        "-r",
        f.to_str().expect("utf-8 path"),
        "-o",
        dir.path().to_str().expect("utf-8 path"),
        "--include",
        "SMTP,Mail,File",
    ]);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "netcap failed on {}: {}",
        f.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    dir
}

/// `(a - b)` as a multiset.
fn missing<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut have: BTreeMap<T, usize> = BTreeMap::new();
    for x in b {
        *have.entry(x.clone()).or_insert(0) += 1;
    }
    a.iter()
        .filter(|x| match have.get_mut(*x) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// tshark's values of one SMTP field, every occurrence (split on the unit separator).
fn tshark_values(f: &Path, field: &str, filter: &str) -> Vec<String> {
    let rows = tshark_fields(f, &[field], &["-E", "aggregator=\u{1f}", "-Y", filter]).unwrap_or_default();
    rows.iter().flat_map(|r| r[0].split('\u{1f}').map(str::to_string).collect::<Vec<_>>()).collect()
}

#[test]
fn smtp_commands_and_replies_agree_with_tshark() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["smtp"]);
    assert!(files.len() >= 15, "expected the corpus' SMTP captures, found {}", files.len());
    let (mut commands, mut replies) = (0usize, 0usize);
    let mut failures = Vec::new();
    for f in &files {
        if let Some(why) = excepted(f, "smtp") {
            eprintln!("exception {}: {why}", f.display());
            continue;
        }
        let mut t_cmds: Vec<String> = tshark_values(f, "smtp.command_line", "smtp.req")
            .into_iter()
            .map(|l| l.trim_end_matches("\\n").trim_end_matches("\\r").to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let mut t_codes: Vec<String> = tshark_values(f, "smtp.response.code", "smtp.response.code")
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect();
        let dir = run(f);
        let smtp: Vec<Smtp> = records(dir.path(), "SMTP");
        let mut o_cmds = Vec::new();
        let mut o_codes = Vec::new();
        for r in &smtp {
            if r.greeting_code != 0 {
                o_codes.push(r.greeting_code.to_string());
            }
            for c in &r.commands {
                if c.reply_code != 0 {
                    o_codes.push(c.reply_code.to_string());
                }
                if c.auth_data || c.end_of_data || c.command.is_empty() {
                    continue;
                }
                o_cmds.push(if c.argument.is_empty() {
                    c.command.clone()
                } else {
                    format!("{} {}", c.command, c.argument)
                });
            }
        }
        for v in [&mut t_cmds, &mut t_codes, &mut o_cmds, &mut o_codes] {
            v.sort();
        }
        commands += t_cmds.len();
        replies += t_codes.len();
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        for (what, t, o) in [("command", &t_cmds, &o_cmds), ("reply code", &t_codes, &o_codes)] {
            let (only_t, only_o) = (missing(t, o), missing(o, t));
            if !only_t.is_empty() || !only_o.is_empty() {
                failures.push(format!("{name} {what}: tshark only {only_t:?}, ours only {only_o:?}"));
            }
        }
    }
    eprintln!("smtp: {} captures, {commands} commands, {replies} reply codes", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(commands >= 80 && replies >= 100, "too little compared: {commands} commands, {replies} replies");
}

#[test]
fn imf_export_hashes_are_mail_records() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["smtp"]);
    assert!(files.len() >= 15, "expected the corpus' SMTP captures, found {}", files.len());
    let (mut exported, mut failures) = (0usize, Vec::new());
    for f in &files {
        if let Some(why) = excepted(f, "imf") {
            eprintln!("exception {}: {why}", f.display());
            continue;
        }
        let objects = TempDir::new("imf");
        let spec = format!("imf,{}", objects.path().display());
        let o = std::process::Command::new("tshark")
            .args(["-n", "-q", "-r"])
            .arg(f)
            .args(["--export-objects", &spec])
            .output()
            .expect("run tshark");
        assert!(o.status.success(), "tshark --export-objects on {}", f.display());
        let dir = run(f);
        let mail: Vec<Mail> = records(dir.path(), "Mail");
        let file: Vec<File> = records(dir.path(), "File");
        let ids: Vec<&str> = mail.iter().map(|m| m.id.as_str()).collect();
        let whole: Vec<&str> = file.iter().filter(|x| x.mail_id.is_empty()).map(|x| x.sha256.as_str()).collect();
        let attached: Vec<&str> = file
            .iter()
            .filter(|x| !x.mail_id.is_empty() && x.content_type == "message/rfc822")
            .map(|x| x.sha256.as_str())
            .collect();
        let mut rd: Vec<_> = std::fs::read_dir(objects.path()).expect("export dir").flatten().collect();
        rd.sort_by_key(|e| e.file_name());
        for e in rd {
            let bytes = std::fs::read(e.path()).expect("exported object");
            let hex = |b: &[u8]| -> String { Sha256::digest(b).iter().map(|b| format!("{b:02x}")).collect() };
            let h = hex(&bytes);
            let h_crlf = hex(&[&bytes[..], b"\r\n"].concat());
            exported += 1;
            let ours = |h: &str| (ids.contains(&h) && whole.contains(&h)) || attached.contains(&h);
            if !ours(&h) && !ours(&h_crlf) {
                failures.push(format!(
                    "{}: {:?} ({} bytes, {h}) is not a Mail/File of ours (ids {ids:?})",
                    f.display(),
                    e.file_name(),
                    bytes.len()
                ));
            }
        }
    }
    eprintln!("imf: {} captures, {exported} exported messages", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(exported >= 10, "too few messages compared: {exported}");
}

/// Runs netcap with `types` and compares per capture the multisets `ours(dir)` and tshark's rows
/// of `fields` (joined by a space, empty rows dropped) for each `(what, fields, filter, ours)`.
/// A value of ours starting with `?` may be in tshark's list or not (a multi-line reply split over
/// packets, whose code tshark reports once per packet); the `)` that tshark reports as the tag of
/// a literal's continuation line is not a tag.
type Ours = fn(&Path) -> Vec<String>;

fn compare_with_tshark(protocol: &str, types: &str, checks: &[(&str, &[&str], &str, Ours)]) {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&[protocol]);
    assert!(files.len() >= 4, "expected the corpus' {protocol} captures, found {}", files.len());
    let (mut compared, mut failures) = (0usize, Vec::new());
    for f in &files {
        if let Some(why) = excepted(f, protocol) {
            eprintln!("exception {}: {why}", f.display());
            continue;
        }
        let dir = TempDir::new("mail");
        let o = netcap(&[
            "capture",
            "-r",
            f.to_str().expect("utf-8 path"),
            "-o",
            dir.path().to_str().expect("utf-8 path"),
            "--include",
            types,
        ]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "netcap failed on {}", f.display());
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        for (what, fields, filter, ours) in checks {
            let rows = tshark_fields(f, fields, &["-E", "aggregator=\u{1f}", "-Y", filter]).unwrap_or_default();
            let mut t: Vec<String> = Vec::new();
            for r in rows {
                // One value per occurrence: the columns' k-th occurrences belong together.
                let cols: Vec<Vec<&str>> = r.iter().map(|c| c.split('\u{1f}').collect()).collect();
                let n = cols.iter().map(Vec::len).max().unwrap_or(0);
                for k in 0..n {
                    let v: Vec<&str> = cols.iter().map(|c| c.get(k).copied().unwrap_or("")).collect();
                    let v = v.join(" ").trim().to_string();
                    if !v.is_empty() && v != ")" && !v.starts_with(") ") {
                        t.push(v);
                    }
                }
            }
            let all = ours(dir.path());
            let mut o: Vec<String> = all.iter().filter(|v| !v.starts_with('?')).cloned().collect();
            let optional: Vec<String> = all.iter().filter_map(|v| v.strip_prefix('?')).map(str::to_string).collect();
            t.sort();
            o.sort();
            compared += t.len();
            let only_t = missing(&missing(&t, &o), &optional);
            let only_o = missing(&o, &t);
            if !only_t.is_empty() || !only_o.is_empty() {
                failures.push(format!("{name} {what}: tshark only {only_t:?}, ours only {only_o:?}"));
            }
        }
    }
    eprintln!("{protocol}: {} captures, {compared} values", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 20, "too little compared: {compared}");
}

fn join(a: &str, b: &str) -> String {
    format!("{a} {b}").trim().to_string()
}

#[test]
fn ftp_commands_and_replies_agree_with_tshark() {
    fn cmds(d: &Path) -> Vec<String> {
        let r: Vec<Ftp> = records(d, "FTP");
        r.iter()
            .flat_map(|s| &s.commands)
            .filter(|c| !c.command.is_empty())
            .map(|c| join(&c.command, &c.argument))
            .collect()
    }
    fn codes(d: &Path) -> Vec<String> {
        let r: Vec<Ftp> = records(d, "FTP");
        let mut v: Vec<String> =
            r.iter().filter(|s| s.greeting_code != 0).map(|s| s.greeting_code.to_string()).collect();
        for c in r.iter().flat_map(|s| &s.commands) {
            for (code, text) in [(c.preliminary_code, &c.preliminary_text), (c.reply_code, &c.reply_text)] {
                if code != 0 {
                    v.push(code.to_string());
                    // Each further line may be a packet of its own for tshark.
                    v.extend(text.matches('\n').map(|_| format!("?{code}")));
                }
            }
        }
        for s in &r {
            v.extend(s.greeting.matches('\n').map(|_| format!("?{}", s.greeting_code)));
        }
        v
    }
    compare_with_tshark(
        "ftp",
        "FTP",
        &[
            ("command", &["ftp.request.command", "ftp.request.arg"], "ftp.request", cmds),
            ("reply code", &["ftp.response.code"], "ftp.response", codes),
        ],
    );
}

#[test]
fn pop3_commands_and_statuses_agree_with_tshark() {
    fn cmds(d: &Path) -> Vec<String> {
        let r: Vec<Pop3> = records(d, "POP3");
        // tshark reports the client's lines in an AUTH exchange as commands.
        r.iter()
            .flat_map(|s| &s.commands)
            .filter(|c| !c.command.is_empty() || c.auth_data)
            .map(|c| join(&c.command, &c.argument))
            .collect()
    }
    fn statuses(d: &Path) -> Vec<String> {
        let r: Vec<Pop3> = records(d, "POP3");
        let mut v: Vec<String> = r.iter().filter(|s| !s.greeting.is_empty()).map(|_| "+OK".to_string()).collect();
        v.extend(
            r.iter()
                .flat_map(|s| &s.commands)
                .filter(|c| c.status.starts_with(['+', '-']) && c.status != "+")
                .map(|c| c.status.clone()),
        );
        v
    }
    compare_with_tshark(
        "pop",
        "POP3",
        &[
            ("command", &["pop.request.command", "pop.request.parameter"], "pop.request", cmds),
            ("status", &["pop.response.indicator"], "pop.response", statuses),
        ],
    );
}

#[test]
fn imap_commands_and_statuses_agree_with_tshark() {
    fn cmds(d: &Path) -> Vec<String> {
        let r: Vec<Imap> = records(d, "IMAP");
        r.iter()
            .flat_map(|s| &s.commands)
            .filter(|c| !c.command.is_empty())
            .map(|c| join(&c.tag, &c.command.to_ascii_uppercase()))
            .collect()
    }
    fn tags(d: &Path) -> Vec<String> {
        let r: Vec<Imap> = records(d, "IMAP");
        r.iter().flat_map(|s| &s.commands).filter(|c| !c.status.is_empty()).map(|c| c.tag.clone()).collect()
    }
    fn statuses(d: &Path) -> Vec<String> {
        let r: Vec<Imap> = records(d, "IMAP");
        r.iter().flat_map(|s| &s.commands).filter(|c| !c.status.is_empty()).map(|c| c.status.clone()).collect()
    }
    // Tags and statuses of tagged replies apart: tshark's tag list has a ")" for each literal's
    // continuation line, which shifts its pairing with the statuses.
    compare_with_tshark(
        "imap",
        "IMAP",
        &[
            ("command", &["imap.request_tag", "imap.request.command"], "imap.request", cmds),
            ("reply tag", &["imap.response_tag"], "imap.response.status", tags),
            ("status", &["imap.response.status"], "imap.response.status", statuses),
        ],
    );
}

/// The mail and file records of every corpus capture with SMTP, POP3, IMAP or FTP are the same
/// bytes for 1 and 2 workers.
#[test]
fn mail_records_identical_for_1_and_2_workers() {
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["smtp", "pop", "imap", "ftp"]);
    assert!(!files.is_empty());
    for f in &files {
        let run_w = |w: &str| {
            let dir = TempDir::new("mailw");
            let o = netcap(&[
                "capture",
                "-r",
                f.to_str().expect("utf-8 path"),
                "-o",
                dir.path().to_str().expect("utf-8 path"),
                "--workers",
                w,
                "--include",
                "SMTP,Mail,File,POP3,IMAP,FTP,TLSClientHello",
            ]);
            assert!(o.status.code().is_some_and(|c| c <= 1), "netcap failed on {}", f.display());
            dir
        };
        let (a, b) = (run_w("1"), run_w("2"));
        for t in ["SMTP", "Mail", "File", "POP3", "IMAP", "FTP", "TLSClientHello"] {
            let p = format!("{t}.ncap.zst");
            let (x, y) = (std::fs::read(a.path().join(&p)).ok(), std::fs::read(b.path().join(&p)).ok());
            assert!(x == y, "{}: {t} differs between 1 and 2 workers", f.display());
        }
    }
}

/// Telnet records against tshark on every corpus capture with Telnet: the option negotiations
/// (who sent which DO/DONT/WILL/WONT for which option: tshark's `telnet.cmd` with the option of
/// `telnet.subcmd` that each negotiation and subnegotiation command carries) are the same
/// multiset, and the terminal type of ours is one of tshark's `telnet.string_subopt.value`s.
#[test]
fn telnet_negotiations_agree_with_tshark() {
    use netcap_proto::v1::Telnet;
    if corpus().is_none() || !have_tshark() {
        return;
    }
    let files = files_with(&["telnet"]);
    assert!(files.len() >= 3, "expected the corpus' Telnet captures, found {}", files.len());
    let (mut compared, mut failures) = (0usize, Vec::new());
    for f in &files {
        let rows = tshark_fields(
            f,
            &["tcp.srcport", "telnet.cmd", "telnet.subcmd", "telnet.string_subopt.value"],
            &["-Y", "telnet", "-E", "aggregator=\u{1f}"],
        )
        .unwrap_or_default();
        let mut theirs = Vec::new();
        let mut strings = Vec::new();
        for r in &rows {
            let sender = if r[0] == "23" { "server" } else { "client" };
            let split =
                |s: &str| -> Vec<String> { s.split('\u{1f}').filter(|x| !x.is_empty()).map(String::from).collect() };
            let mut subs = split(&r[2]).into_iter();
            for c in split(&r[1]) {
                let verb = match c.as_str() {
                    "251" => "WILL",
                    "252" => "WONT",
                    "253" => "DO",
                    "254" => "DONT",
                    // SB carries an option too; SE and the other commands carry none.
                    "250" => {
                        subs.next();
                        continue;
                    }
                    _ => continue,
                };
                theirs.push(format!("{sender} {verb} {}", subs.next().unwrap_or_default()));
            }
            strings.extend(split(&r[3]));
        }
        let dir = TempDir::new("telnet");
        let o = netcap(&[
            "capture",
            "-r",
            f.to_str().expect("utf-8 path"),
            "-o",
            dir.path().to_str().expect("utf-8 path"),
            "--include",
            "Telnet",
        ]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "netcap failed on {}", f.display());
        let recs: Vec<Telnet> = records(dir.path(), "Telnet");
        let ours: Vec<String> = recs
            .iter()
            .flat_map(|t| t.negotiations.iter().map(|n| format!("{} {} {}", n.sender, n.command, n.option)))
            .collect();
        compared += theirs.len();
        let (a, b) = (missing(&theirs, &ours), missing(&ours, &theirs));
        if !a.is_empty() || !b.is_empty() {
            failures.push(format!("{}: tshark only {a:?}, ours only {b:?}", f.display()));
        }
        for t in recs.iter().filter(|t| !t.terminal_type.is_empty()) {
            if !strings.contains(&t.terminal_type) {
                failures.push(format!("{}: terminal type {:?} not in {strings:?}", f.display(), t.terminal_type));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 20, "too few negotiations compared: {compared}");
}
