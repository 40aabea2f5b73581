//! NTLMSSP outside SMB (the `windows` decoder's NTLM records from HTTP authentication headers,
//! LDAP binds and DCE/RPC auth verifiers) agrees with tshark's `ntlmssp.*` fields on every corpus
//! capture in which tshark finds NTLMSSP off ports 445 and 139, in the shape of the SMB oracle
//! ([`crate::oracle_windows::ntlm_items`]): per TCP direction, the messages in order with type,
//! flags, challenge, domain, user, workstation and the hashcat line rebuilt from tshark's fields.
//! Their AUTHENTICATE messages are Credentials records named by the protocol that carried them.
//!
//! LDAP simple binds are Credentials too: the bind DN and password tshark shows (`ldap.name`,
//! `ldap.simple`) with the verdict of the bind response of the same message id.

use crate::oracle_windows::{Seqs, compare, conn_key, ntlm_items, our_ntlm_item};
use netcap_proto::v1;
use netcap_tests::{default_capture, files_with, have_tshark, records, tshark_fields};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FIELDS: [&str; 12] = [
    "ip.src",
    "tcp.srcport",
    "ip.dst",
    "tcp.dstport",
    "ntlmssp.messagetype",
    "ntlmssp.negotiateflags",
    "ntlmssp.auth.domain",
    "ntlmssp.auth.username",
    "ntlmssp.auth.hostname",
    "ntlmssp.ntlmserverchallenge",
    "ntlmssp.auth.ntresponse",
    "ntlmssp.auth.lmresponse",
];

/// A field's values in a row (tshark shows an absent NTLMSSP string as "NULL").
fn values(row: &[String], name: &str) -> Vec<String> {
    let i = FIELDS.iter().position(|f| *f == name).expect("known field");
    let v = row.get(i).map_or("", String::as_str);
    v.split(',').filter(|s| !s.is_empty()).map(|s| if s == "NULL" { String::new() } else { s.into() }).collect()
}

/// tshark's NTLMSSP messages off the SMB ports, per direction.
fn theirs(file: &Path) -> Seqs {
    let filter = "ntlmssp && tcp && !(tcp.port == 445 || tcp.port == 139)";
    let rows = tshark_fields(file, &FIELDS, &["-Y", filter]).expect("tshark reads the capture");
    let mut seqs = Seqs::new();
    let mut challenge = BTreeMap::new();
    for row in &rows {
        let c = |n: &str| values(row, n);
        let one = |n: &str| c(n).first().cloned().unwrap_or_default();
        let key = format!("{}:{}>{}:{}", one("ip.src"), one("tcp.srcport"), one("ip.dst"), one("tcp.dstport"));
        let items = ntlm_items(&c, &conn_key(&key), &mut challenge);
        seqs.entry(key).or_default().extend(items);
    }
    seqs
}

/// Ours: NTLM records not from SMB, per direction; and the transports they came by.
fn ours(out: &Path) -> (Seqs, BTreeSet<String>) {
    let mut seqs = Seqs::new();
    let mut transports = BTreeSet::new();
    for n in records::<v1::Ntlm>(out, "NTLM").into_iter().filter(|n| !n.transport.starts_with("smb")) {
        let key = format!("{}:{}>{}:{}", n.src_ip, n.src_port, n.dst_ip, n.dst_port);
        seqs.entry(key).or_default().push(our_ntlm_item(&n));
        transports.insert(n.transport);
    }
    (seqs, transports)
}

#[test]
fn ntlm_over_http_ldap_and_dcerpc_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    let (mut compared, mut problems, mut transports) = (0, Vec::new(), BTreeSet::new());
    // tshark does not name NTLMSSP in frame.protocols inside DCE/RPC verifiers.
    for f in files_with(&["ntlmssp", "dcerpc", "ldap"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let want = theirs(&f);
        let (out, o) = default_capture(&f);
        assert!(o.status.code().is_some_and(|c| c <= 1), "netcap failed on {name}");
        let (got, t) = ours(&out);
        transports.extend(t);
        compared += compare(&name, "ntlm", &got, &want, &mut problems);
        // Every AUTHENTICATE with a challenge is a Credentials record of its protocol.
        let mut lines: Vec<String> = records::<v1::Ntlm>(&out, "NTLM")
            .into_iter()
            .filter(|n| !n.transport.starts_with("smb") && !n.hashcat.is_empty())
            .map(|n| n.hashcat)
            .collect();
        let mut creds: Vec<String> = records::<v1::Credentials>(&out, "Credentials")
            .into_iter()
            .filter(|c| c.method.starts_with("netntlm") && c.service != "SMB")
            .map(|c| c.secret)
            .collect();
        lines.sort();
        lines.dedup();
        creds.sort();
        assert_eq!(creds, lines, "{name}: NTLM Credentials outside SMB");
    }
    problems.truncate(30);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("compared {compared} NTLMSSP messages outside SMB with tshark ({transports:?})");
    if netcap_tests::corpus().is_some() {
        assert!(compared >= 20, "only {compared} NTLMSSP messages compared");
        assert!(transports.contains("http") && transports.contains("dcerpc"), "{transports:?}");
    }
}

/// tshark's LDAP simple binds over TCP: (bind DN, password, verdict) by the bind response of the
/// same message id on the reverse direction ("" when none was seen).
fn tshark_simple_binds(file: &Path) -> BTreeSet<(String, String, String)> {
    let fields = ["ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "ldap.messageID", "ldap.protocolOp"];
    let more = ["ldap.name", "ldap.simple", "ldap.resultCode"];
    let all: Vec<&str> = fields.iter().chain(&more).copied().collect();
    let filter = "tcp && (ldap.protocolOp == 0 || ldap.protocolOp == 1)";
    let rows = tshark_fields(file, &all, &["-Y", filter]).unwrap_or_default();
    let get = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
    let mut requests = Vec::new();
    let mut verdicts = BTreeMap::new();
    for r in &rows {
        // One LDAPMessage per frame here; a frame with several is not read by this oracle.
        if get(r, 4).contains(',') {
            continue;
        }
        let (src, dst) = (format!("{}:{}", get(r, 0), get(r, 1)), format!("{}:{}", get(r, 2), get(r, 3)));
        match get(r, 5).as_str() {
            "0" if !get(r, 7).is_empty() => requests.push((src, dst, get(r, 4), get(r, 6), get(r, 7))),
            "1" => {
                let verdict = if get(r, 8) == "0" { "accepted" } else { "rejected" };
                verdicts.insert((dst, src, get(r, 4)), verdict.to_string());
            }
            _ => {}
        }
    }
    requests
        .into_iter()
        .map(|(src, dst, id, user, pass)| {
            let v = verdicts.get(&(src, dst, id)).cloned().unwrap_or_default();
            (user, pass, v)
        })
        .collect()
}

#[test]
fn ldap_simple_binds_are_credentials_with_the_servers_verdict() {
    if !have_tshark() {
        return;
    }
    let mut compared = 0;
    for f in files_with(&["ldap"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let want = tshark_simple_binds(&f);
        let (out, _) = default_capture(&f);
        let got: BTreeSet<(String, String, String)> = records::<v1::Credentials>(&out, "Credentials")
            .into_iter()
            .filter(|c| c.service == "LDAP" && c.method == "simple")
            .map(|c| (c.user, c.secret, c.outcome))
            .collect();
        assert_eq!(got, want, "{name}: LDAP simple bind Credentials");
        let passwords: BTreeSet<String> = records::<v1::Ldap>(&out, "LDAP")
            .into_iter()
            .filter(|l| l.auth == "simple" && l.transport == "tcp")
            .map(|l| l.password)
            .filter(|p| !p.is_empty())
            .collect();
        assert_eq!(passwords, want.iter().map(|w| w.1.clone()).collect(), "{name}: LDAP passwords");
        compared += want.len();
    }
    eprintln!("{compared} LDAP simple binds equal tshark's");
    if netcap_tests::corpus().is_some() {
        assert!(compared >= 2, "only {compared} LDAP simple binds compared");
    }
}
