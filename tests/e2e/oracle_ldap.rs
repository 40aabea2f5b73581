//! LDAP records (the `windows` stream decoder on TCP 389, the `windows-udp` layer decoder for
//! CLDAP on UDP 389) agree with tshark on every corpus capture in which tshark dissects LDAP or
//! CLDAP: one netcap run and one tshark pass per capture. The pass is PDML, because the filter's
//! text form is a label there (no field has it); each `ldap.LDAPMessage_element` starts a
//! message, whose fields follow it in tree order.
//!
//! Compared per direction, in order: message id, operation, the DN (bind name, search base,
//! entry, object), bind kind, whether a simple bind sent a password, SASL mechanism, scope,
//! filter text, attributes, result code, matched DN and diagnostic message.
//!
//! Deliberate differences: Wireshark shows some Active Directory assertion values decoded
//! (`NtVer` as hexadecimal flags, `DomainSid` and `DomainGuid` as a SID or GUID) where RFC 4515
//! text escapes the raw bytes (`\16\00\00\00`): such terms are compared by attribute alone.
//! Wireshark writes an AND or OR of more than two terms as nested pairs (`(&(&(a)(b))(c))` for
//! the three-term `(&(a)(b)(c))` it counts as "3 items"): ours is put in that form here
//! ([`pairwise`]). A segment tshark takes for a retransmission and does not dissect, the only
//! copy of its bytes (a "spurious retransmission" of bytes the capture missed, in
//! pcapplusplus_ldap), has its messages left out of ours; so has a retransmitted copy with the
//! original's very time and sequence numbers (also there), which our reassembly delivers again
//! (its messages repeat the original's).

use netcap_proto::v1;
use netcap_tests::{files_with, have_tshark, parse_ns, records};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Per direction ("src:port>dst:port"), the messages in order.
type Seqs = BTreeMap<String, Vec<String>>;

/// Attributes whose assertion values Wireshark shows decoded (not as RFC 4515 text).
const DECODED: [&str; 3] = ["NtVer", "DomainSid", "DomainGuid"];

/// `s` with XML's five entities replaced.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The value of attribute `a` in a PDML line.
fn attr(line: &str, a: &str) -> Option<String> {
    let k = format!(" {a}=\"");
    let i = line.find(&k)? + k.len();
    let j = line[i..].find('"')?;
    Some(unescape(&line[i..i + j]))
}

/// A filter with the values of [`DECODED`] attributes left out: `(NtVer=...)` becomes
/// `(NtVer=?)`.
fn mask(f: &str) -> String {
    let mut out = f.to_string();
    for a in DECODED {
        let k = format!("({a}=");
        let mut from = 0;
        while let Some(i) = out[from..].find(&k).map(|i| i + from) {
            let start = i + k.len();
            let end = out[start..].find(')').map_or(out.len(), |j| start + j);
            out.replace_range(start..end, "?");
            from = start;
        }
    }
    out
}

/// The filter text `f` with every AND and OR of more than two terms written as Wireshark does,
/// in nested pairs: `(&(a)(b)(c))` becomes `(&(&(a)(b))(c))`.
fn pairwise(f: &str) -> String {
    fn term(s: &[u8], i: &mut usize) -> String {
        // s[*i] == b'('
        let start = *i;
        *i += 1;
        match s.get(*i) {
            Some(&op @ (b'&' | b'|' | b'!')) => {
                *i += 1;
                let mut kids = Vec::new();
                while s.get(*i) == Some(&b'(') {
                    kids.push(term(s, i));
                }
                *i += 1; // ')'
                let op = op as char;
                let mut acc = format!("({op}{}", kids.first().cloned().unwrap_or_default());
                if let Some(second) = kids.get(1) {
                    acc = format!("{acc}{second})");
                    for k in &kids[2..] {
                        acc = format!("({op}{acc}{k})");
                    }
                } else {
                    acc.push(')');
                }
                acc
            }
            _ => {
                // A leaf: values escape their parentheses, so it ends at the next ')'.
                while s.get(*i).is_some_and(|&c| c != b')') {
                    *i += 1;
                }
                *i += 1;
                String::from_utf8_lossy(&s[start..(*i).min(s.len())]).into_owned()
            }
        }
    }
    if !f.starts_with('(') {
        return f.to_string();
    }
    term(f.as_bytes(), &mut 0)
}

#[derive(Default)]
struct Msg {
    id: String,
    op: String,
    dn: String,
    auth: String,
    password: bool,
    mechanism: String,
    scope: String,
    filter: String,
    attributes: Vec<String>,
    result: String,
    matched: String,
    diagnostic: String,
}

impl Msg {
    fn text(&self) -> String {
        format!(
            "id={} op={} dn={} auth={} password={} mech={} scope={} filter={} attrs={} result={} matched={} diag={}",
            self.id,
            self.op,
            self.dn,
            self.auth,
            self.password,
            self.mechanism,
            self.scope,
            mask(&self.filter),
            self.attributes.join(","),
            self.result,
            self.matched,
            self.diagnostic
        )
    }
}

/// Segments tshark takes for retransmissions and does not dissect (direction, time): when such
/// a segment is the only copy of its bytes ("spurious retransmission" of bytes the capture
/// missed) tshark never shows its message, so ours from it are left out.
type Undissected = BTreeSet<(String, i64)>;

/// One packet of the PDML as read so far.
#[derive(Default)]
struct Packet {
    src: String,
    dst: String,
    sp: String,
    dp: String,
    ts: i64,
    retransmission: bool,
    msgs: Vec<Msg>,
}

impl Packet {
    fn key(&self) -> String {
        format!("{}:{}>{}:{}", self.src, self.sp, self.dst, self.dp)
    }

    /// Adds the packet's messages to `seqs` (noting its time in `seen`), or notes it
    /// undissected.
    fn end(self, seqs: &mut Seqs, skip: &mut Undissected, seen: &mut Undissected) {
        if self.msgs.is_empty() {
            if self.retransmission {
                skip.insert((self.key(), self.ts));
            }
            return;
        }
        let key = self.key();
        seen.insert((key.clone(), self.ts));
        seqs.entry(key).or_default().extend(self.msgs.iter().map(Msg::text));
    }
}

/// tshark's messages.
fn theirs(file: &Path) -> (Seqs, Undissected, Undissected) {
    let filter = "ldap || cldap || (tcp.analysis.retransmission && tcp.len > 0 && tcp.port == 389)";
    let o = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-Y", filter, "-T", "pdml", "-J", "ip ipv6 tcp udp ldap cldap"])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&o.stdout);
    let (mut seqs, mut skip, mut seen) = (Seqs::new(), Undissected::new(), Undissected::new());
    let mut pkt: Option<Packet> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("<packet>") {
            if let Some(p) = pkt.take() {
                p.end(&mut seqs, &mut skip, &mut seen);
            }
            pkt = Some(Packet::default());
            continue;
        }
        let Some(p) = pkt.as_mut().filter(|_| t.starts_with("<field")) else { continue };
        let name = attr(t, "name").unwrap_or_default();
        let show = attr(t, "show").unwrap_or_default();
        match name.as_str() {
            "timestamp" => p.ts = attr(t, "value").and_then(|v| parse_ns(&v)).unwrap_or(0),
            "ip.src" | "ipv6.src" => p.src = show.clone(),
            "ip.dst" | "ipv6.dst" => p.dst = show.clone(),
            "tcp.srcport" | "udp.srcport" => p.sp = show.clone(),
            "tcp.dstport" | "udp.dstport" => p.dp = show.clone(),
            "tcp.analysis.retransmission" => p.retransmission = true,
            "ldap.LDAPMessage_element" => p.msgs.push(Msg::default()),
            _ => {}
        }
        let Some(m) = p.msgs.last_mut() else { continue };
        let set = |f: &mut String, v: &str| {
            if f.is_empty() {
                *f = v.to_string();
            }
        };
        match name.as_str() {
            "ldap.messageID" => set(&mut m.id, &show),
            "ldap.protocolOp" => set(&mut m.op, &show),
            "ldap.name" | "ldap.baseObject" | "ldap.objectName" | "ldap.object" | "ldap.entry" | "ldap.delRequest" => {
                set(&mut m.dn, &show)
            }
            "ldap.authentication" => set(&mut m.auth, if show == "0" { "simple" } else { "sasl" }),
            "ldap.simple" => m.password = !show.is_empty(),
            "ldap.mechanism" => set(&mut m.mechanism, &show),
            "ldap.scope" => set(&mut m.scope, &show),
            "" if show.starts_with("Filter: ") => set(&mut m.filter, &show["Filter: ".len()..]),
            // ldap.type is also an extensible match's attribute inside a search filter.
            "ldap.AttributeDescription" => m.attributes.push(show),
            "ldap.type" if m.op != "3" => m.attributes.push(show),
            // A compare's attribute (a search filter's are not the request's attributes).
            "ldap.attributeDesc" if m.op == "14" => m.attributes.push(show),
            "ldap.resultCode" => set(&mut m.result, &show),
            "ldap.matchedDN" => set(&mut m.matched, &show),
            "ldap.errorMessage" => set(&mut m.diagnostic, &show),
            _ => {}
        }
    }
    if let Some(p) = pkt.take() {
        p.end(&mut seqs, &mut skip, &mut seen);
    }
    (seqs, skip, seen)
}

/// Our messages, in the same shape.
fn ours(out: &Path, skip: &Undissected, seen: &Undissected) -> Seqs {
    let mut seqs = Seqs::new();
    for r in records::<v1::Ldap>(out, "LDAP") {
        let at = (format!("{}:{}>{}:{}", r.src_ip, r.src_port, r.dst_ip, r.dst_port), r.timestamp);
        // At a retransmission tshark did not dissect: none of ours when tshark shows nothing at
        // that time; else (a copy with the original's time) not the copy's repeated messages.
        let undissected = skip.contains(&at);
        let result = matches!(r.operation, 1 | 5 | 7 | 9 | 11 | 13 | 15 | 24);
        let m = Msg {
            id: r.message_id.to_string(),
            op: r.operation.to_string(),
            dn: r.object_name.clone(),
            auth: r.auth.clone(),
            password: r.password_present,
            mechanism: r.sasl_mechanism.clone(),
            scope: if r.operation == 3 { r.scope.to_string() } else { String::new() },
            filter: pairwise(&r.filter),
            attributes: r.attributes.clone(),
            result: if result { r.result_code.to_string() } else { String::new() },
            matched: r.matched_dn.clone(),
            diagnostic: r.diagnostic_message.clone(),
        };
        let (text, s) = (m.text(), seqs.entry(at.0.clone()).or_default());
        if undissected && (!seen.contains(&at) || s.last() == Some(&text)) {
            continue;
        }
        s.push(text);
    }
    seqs
}

#[test]
fn ldap_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    let mut problems = Vec::new();
    let (mut n, mut n_udp) = (0, 0);
    for f in files_with(&["ldap", "cldap"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let (out, o) = netcap_tests::default_capture(&f);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "netcap failed on {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (t, skip, seen) = theirs(&f);
        let ours = ours(&out, &skip, &seen);
        n += netcap_tests::compare_sequences(&name, &t, &ours, &mut problems);
        n_udp += records::<v1::Ldap>(&out, "LDAP").iter().filter(|r| r.transport == "udp").count();
    }
    problems.truncate(20);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("compared {n} LDAP messages with tshark ({n_udp} over UDP)");
    assert!(n >= 20 && n_udp >= 2, "only {n} LDAP messages ({n_udp} over UDP) compared");
}
