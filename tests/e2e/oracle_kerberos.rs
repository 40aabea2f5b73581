//! Kerberos records (the `windows-udp` layer decoder on UDP 88, the `windows` stream decoder on
//! TCP 88) agree with tshark on every corpus capture in which tshark dissects Kerberos on port
//! 88: one netcap run and one tshark pass (`-T fields`, all fields at once) per capture.
//!
//! Messages are compared per direction in order (tshark shows a TCP message in the frame that
//! completes it, ours carries the time of its first segment): message type, realm, client
//! name and realm, service name, KDC options, nonce, till, rtime, the etypes offered, the
//! padata types, the etypes used (ticket, enc-part, pre-authentication), ticket kvno, error
//! code, e-text and server time.
//!
//! Deliberate differences, all from tshark showing nested structures in the same fields as the
//! message's own: a TGS-REQ's PA-TGS-REQ holds an AP-REQ (its `msg_type` 14, its ticket's realm
//! and sname come first), so the message's type is the first `kerberos.msg_type`, its realm the
//! last `kerberos.realm` and its service the last `kerberos.sname_string` group;
//! `kerberos.etype` lists every EncryptedData and ETYPE-INFO entry in message order, which ours
//! spreads over `preauth_etype`, `etype_info`, `ticket_etype`, `enc_part_etype`, `fast_etype`
//! and `authorization_data_etype` and is put back in tshark's order here (the padata's, then a
//! reply's ticket and enc-part, then a request's enc-authorization-data); `kerberos.kvno` also names the enc-part's key version, so the first
//! occurrence (the ticket's) is compared. tcpdump_afs has AFS's own Kerberos on port 4444 (not
//! port 88, not ours): only port 88 frames are taken.

use netcap_proto::v1;
use netcap_tests::{files_with, have_tshark, records, tshark_fields};
use std::collections::BTreeMap;
use std::path::Path;

/// Per direction ("src:port>dst:port"), the messages in order.
type Seqs = BTreeMap<String, Vec<String>>;

const FIELDS: [&str; 25] = [
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "kerberos.msg_type",
    "kerberos.realm",
    "kerberos.crealm",
    "kerberos.CNameString",
    "kerberos.SNameString",
    "kerberos.sname_string",
    "kerberos.kdc_options",
    "kerberos.nonce",
    "kerberos.till",
    "kerberos.rtime",
    "kerberos.ENCTYPE",
    "kerberos.etype",
    "kerberos.padata_type",
    "kerberos.kvno",
    "kerberos.error_code",
    "kerberos.e_text",
    "kerberos.stime",
];

fn col<'a>(row: &'a [String], name: &str) -> Vec<&'a str> {
    let i = FIELDS.iter().position(|f| *f == name).expect("known field");
    row.get(i).map_or(Vec::new(), |v| v.split(',').filter(|s| !s.is_empty()).collect())
}

/// Unix seconds of the first of tshark's absolute times in a column ("Sep 13, 2037
/// 02:48:05.000000000 UTC", whose comma the column split at); 0 for none.
fn unix(parts: Vec<&str>) -> i64 {
    if parts.is_empty() {
        return 0;
    }
    let s = parts.join(",");
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let w: Vec<&str> = s.split_whitespace().collect();
    let m = months.iter().position(|x| *x == w[0]).expect("month") as i64 + 1;
    let d: i64 = w[1].trim_end_matches(',').parse().expect("day");
    let y: i64 = w[2].parse().expect("year");
    let hms: Vec<i64> = w[3].split('.').next().unwrap_or("").split(':').map(|x| x.parse().expect("time")).collect();
    // Days since 1970-01-01, counted year by year and month by month.
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days = 0;
    for yy in 1970..y {
        days += if leap(yy) { 366 } else { 365 };
    }
    let mdays = [31, if leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    days += mdays[..(m - 1) as usize].iter().sum::<i64>() + d - 1;
    days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]
}

fn item(
    t: i64,
    names: (&str, &str, &str, &str),
    req: (u64, u64, i64, i64, &str),
    etypes: (&str, &str, u64),
    err: (i64, &str, i64),
) -> String {
    format!(
        "type={t} realm={} cname={} crealm={} sname={} options={:#x} nonce={} till={} rtime={} offered={} padata={} \
         etypes={} kvno={} error={} etext={} stime={}",
        names.0,
        names.1,
        names.2,
        names.3,
        req.0,
        req.1,
        req.2,
        req.3,
        req.4,
        etypes.0,
        etypes.1,
        etypes.2,
        err.0,
        err.1,
        err.2
    )
}

/// tshark's messages.
fn theirs(file: &Path) -> Seqs {
    let rows = tshark_fields(file, &FIELDS, &["-Y", "kerberos && (udp.port == 88 || tcp.port == 88)"])
        .expect("tshark reads the capture");
    let mut out = Seqs::new();
    for row in &rows {
        let c = |n| col(row, n);
        let one = |n| c(n).first().copied().unwrap_or("").to_string();
        let (src, dst) =
            if c("ip.src").is_empty() { (one("ipv6.src"), one("ipv6.dst")) } else { (one("ip.src"), one("ip.dst")) };
        let (sp, dp) = if c("udp.srcport").is_empty() {
            (one("tcp.srcport"), one("tcp.dstport"))
        } else {
            (one("udp.srcport"), one("udp.dstport"))
        };
        let Some(t) = c("kerberos.msg_type").first().map(|x| x.parse::<i64>().expect("msg type")) else { continue };
        // The message's service: the last sname group.
        let (counts, parts) = (c("kerberos.sname_string"), c("kerberos.SNameString"));
        let last = counts.last().map_or(0, |n| n.parse::<usize>().expect("count"));
        let sname = parts[parts.len().saturating_sub(last)..].join("/");
        let num = |n| c(n).first().map_or(0, |x| netcap_tests::parse_num(x).expect("number"));
        // kdc-options is a byte field, printed in hex without a prefix.
        let options = c("kerberos.kdc_options").first().map_or(0, |x| u64::from_str_radix(x, 16).expect("hex"));
        let kvno = if c("kerberos.kvno").is_empty() { 0 } else { num("kerberos.kvno") };
        let err = c("kerberos.error_code").first().map_or(0, |x| x.parse::<i64>().expect("error"));
        let s = item(
            t,
            (
                c("kerberos.realm").last().copied().unwrap_or(""),
                &c("kerberos.CNameString").join("/"),
                &one("kerberos.crealm"),
                &sname,
            ),
            (
                options,
                num("kerberos.nonce"),
                unix(c("kerberos.till")),
                unix(c("kerberos.rtime")),
                &c("kerberos.ENCTYPE").join(","),
            ),
            (&c("kerberos.padata_type").join(","), &c("kerberos.etype").join(","), kvno),
            (err, &one("kerberos.e_text"), unix(c("kerberos.stime"))),
        );
        out.entry(format!("{src}:{sp}>{dst}:{dp}")).or_default().push(s);
    }
    out
}

/// Our messages, in the same shape.
fn ours(out: &Path) -> Seqs {
    let mut seqs = Seqs::new();
    for r in records::<v1::Kerberos>(out, "Kerberos") {
        // tshark's order of EncryptedData and ETYPE-INFO entries: the padata's (PA-ENC-TIMESTAMP,
        // ETYPE-INFO2, the AP-REQ of PA-TGS-REQ: ticket then authenticator), then a reply's
        // ticket and enc-part.
        let mut etypes = Vec::new();
        if r.preauth_etype != -1 {
            etypes.push(r.preauth_etype);
        }
        etypes.extend(&r.etype_info);
        let used = [r.ticket_etype, r.enc_part_etype];
        if r.msg_type == 12 {
            etypes.extend(used);
        }
        etypes.push(r.fast_etype);
        if matches!(r.msg_type, 11 | 13) {
            etypes.extend(used);
        }
        etypes.push(r.authorization_data_etype);
        etypes.retain(|&e| e != -1);
        let join = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
        let s = item(
            i64::from(r.msg_type),
            (&r.realm, &r.client_name, &r.client_realm, &r.service_name),
            (u64::from(r.kdc_options), u64::from(r.nonce), r.till, r.rtime, &join(&r.etypes)),
            (&join(&r.padata_types), &join(&etypes), u64::from(r.ticket_kvno)),
            (i64::from(r.error_code), &r.error_text, r.server_time),
        );
        seqs.entry(format!("{}:{}>{}:{}", r.src_ip, r.src_port, r.dst_ip, r.dst_port)).or_default().push(s);
    }
    seqs
}

#[test]
fn kerberos_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    let mut problems = Vec::new();
    let (mut n, mut n_tcp) = (0, 0);
    for f in files_with(&["kerberos"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let (out, o) = netcap_tests::default_capture(&f);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "netcap failed on {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (t, ours) = (theirs(&f), ours(&out));
        n += netcap_tests::compare_sequences(&name, &t, &ours, &mut problems);
        n_tcp += records::<v1::Kerberos>(&out, "Kerberos").iter().filter(|r| r.transport == "tcp").count();
    }
    problems.truncate(20);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("compared {n} Kerberos messages with tshark ({n_tcp} over TCP)");
    assert!(n >= 60 && n_tcp >= 30, "only {n} Kerberos messages ({n_tcp} over TCP) compared");
}

/// The second to last value of a tshark list.
fn second_to_last(list: &str) -> String {
    let v: Vec<&str> = list.split(',').collect();
    v.len().checked_sub(2).map_or(String::new(), |i| v[i].to_string())
}

/// Kerberoasting: every TGS-REP whose ticket is RC4-HMAC gives the hashcat 13100 line built here
/// from tshark's fields (the ticket's `kerberos.cipher`: 16 bytes of checksum, then the rest), on
/// the Kerberos record and as a `krb5tgs` Credentials record.
#[test]
fn rc4_tickets_are_written_as_crackers_take_them() {
    if !have_tshark() {
        return;
    }
    let fields = [
        "kerberos.msg_type",
        "kerberos.etype",
        "kerberos.cipher",
        "kerberos.CNameString",
        "kerberos.realm",
        "kerberos.SNameString",
    ];
    let mut compared = 0;
    for f in files_with(&["kerberos"]) {
        let rows = tshark_fields(&f, &fields, &["-Y", "kerberos.msg_type == 13"]).unwrap_or_default();
        let mut want: Vec<String> = rows
            .iter()
            // The ticket's enc-part is the second to last EncryptedData of a TGS-REP (the reply's
            // own enc-part is last; PA-FX-FAST padata may come before both).
            .filter(|r| r[0] == "13" && second_to_last(&r[1]) == "23")
            .map(|r| {
                let first = |s: &str| s.split(',').next().unwrap_or("").to_string();
                let cipher = second_to_last(&r[2]).replace(':', "");
                let spn = r[5].replace(',', "/");
                format!(
                    "$krb5tgs$23$*{}${}${spn}*${}${}",
                    r[3].replace(',', "/"),
                    first(&r[4]),
                    &cipher[..32],
                    &cipher[32..]
                )
            })
            .collect();
        let (out, _) = netcap_tests::default_capture(&f);
        let mut got: Vec<String> = records::<v1::Kerberos>(&out, "Kerberos")
            .into_iter()
            .filter(|r| r.msg_type == 13 && !r.hashcat.is_empty())
            .map(|r| r.hashcat)
            .collect();
        let mut creds: Vec<String> = records::<v1::Credentials>(&out, "Credentials")
            .into_iter()
            .filter(|c| c.method == "krb5tgs")
            .map(|c| c.secret)
            .collect();
        want.sort();
        got.sort();
        creds.sort();
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        assert_eq!(got, want, "{name}: Kerberos hashcat lines");
        assert_eq!(creds, want, "{name}: krb5tgs Credentials");
        compared += want.len();
    }
    assert!(netcap_tests::corpus().is_none() || compared >= 5, "only {compared} RC4 tickets compared");
    eprintln!("{compared} RC4-HMAC TGS-REP tickets equal their tshark-derived hashcat lines");
}

/// The hex of tshark's `kerberos.cipher` value `i` (of the comma-separated list), colons removed.
fn cipher_at(list: &str, last: bool) -> String {
    let v: Vec<&str> = list.split(',').collect();
    let c = if last { v.last() } else { v.first() };
    c.map_or(String::new(), |c| c.replace(':', ""))
}

/// The lines hashcat's Kerberos modes take, built here from tshark's fields by their definitions
/// (hashcat `module_07500.c`, `module_19800/19900.c`, `module_32100/32200.c`): an AS-REQ's
/// encrypted timestamp (`$krb5pa$`), an AES AS-REP reply part (`$krb5asrep$17|18$`, the salt form
/// when PA-ETYPE-INFO2's salt is not the upper-case realm and the name).
fn tshark_preauth_and_aes_as_rep(f: &std::path::Path) -> Vec<String> {
    let fields = ["kerberos.msg_type", "kerberos.etype", "kerberos.cipher", "kerberos.CNameString", "kerberos.realm"];
    let more = ["kerberos.info2_salt", "kerberos.padata_type"];
    let all: Vec<&str> = fields.iter().chain(&more).copied().collect();
    let filter = "(kerberos.msg_type == 10 && kerberos.padata_type == 2) || kerberos.msg_type == 11";
    let rows = tshark_fields(f, &all, &["-Y", filter]).unwrap_or_default();
    let mut want = Vec::new();
    for r in rows.iter().filter(|r| !r[0].contains(',')) {
        let user = r[3].replace(',', "/");
        let realm = r[4].split(',').next().unwrap_or("").to_string();
        let etypes: Vec<&str> = r[1].split(',').collect();
        let line = match r[0].as_str() {
            "10" => {
                let c = cipher_at(&r[2], false);
                match etypes[0] {
                    "23" if c.len() == 104 => format!("$krb5pa$23${user}${realm}$${}{}", &c[32..], &c[..32]),
                    "17" | "18" if !user.contains('/') && (104..=112).contains(&c.len()) => {
                        format!("$krb5pa${}${user}${realm}${c}", etypes[0])
                    }
                    _ => continue,
                }
            }
            _ => {
                let e = etypes.last().copied().unwrap_or("");
                let c = cipher_at(&r[2], true);
                if !matches!(e, "17" | "18") || c.len() <= 24 {
                    continue;
                }
                let (edata2, checksum) = c.split_at(c.len() - 24);
                let salt = r[5].split(',').next().filter(|s| !s.is_empty()).map(String::from);
                let default = format!("{realm}{user}");
                match salt {
                    Some(s) if s != default || user.contains('/') || realm != realm.to_uppercase() => {
                        format!("$krb5asrep${e}${s}${edata2}${checksum}")
                    }
                    _ => format!("$krb5asrep${e}${user}${realm}${checksum}${edata2}"),
                }
            }
        };
        want.push(line);
    }
    want
}

/// Pre-authentication sniffing and AES AS-REP roasting: every AS-REQ encrypted timestamp and
/// AES AS-REP reply part of the corpus gives the line hashcat takes, built here from tshark's
/// fields, on the Kerberos record and as a `krb5pa` / `krb5asrep` Credentials record.
#[test]
fn preauth_timestamps_and_aes_as_reps_are_written_as_crackers_take_them() {
    if !have_tshark() {
        return;
    }
    let mut compared = 0;
    for f in files_with(&["kerberos"]) {
        let mut want = tshark_preauth_and_aes_as_rep(&f);
        let (out, _) = netcap_tests::default_capture(&f);
        let ours = |r: &v1::Kerberos| r.msg_type == 10 || (r.msg_type == 11 && r.enc_part_etype != 23);
        let mut got: Vec<String> = records::<v1::Kerberos>(&out, "Kerberos")
            .into_iter()
            .filter(|r| ours(r) && !r.hashcat.is_empty())
            .map(|r| r.hashcat)
            .collect();
        let mut creds: Vec<String> = records::<v1::Credentials>(&out, "Credentials")
            .into_iter()
            .filter(|c| c.method == "krb5pa" || (c.method == "krb5asrep" && !c.secret.starts_with("$krb5asrep$23$")))
            .map(|c| c.secret)
            .collect();
        want.sort();
        got.sort();
        creds.sort();
        got.dedup();
        want.dedup();
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        assert_eq!(got, want, "{name}: Kerberos hashcat lines");
        assert_eq!(creds, want, "{name}: krb5pa/krb5asrep Credentials");
        compared += want.len();
    }
    assert!(netcap_tests::corpus().is_none() || compared >= 6, "only {compared} lines compared");
    eprintln!("{compared} encrypted timestamps and AES AS-REPs equal their tshark-derived hashcat lines");
}
