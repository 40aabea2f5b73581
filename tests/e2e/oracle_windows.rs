//! SMB and NTLM records (the `windows` stream decoder) agree with tshark on every corpus capture
//! in which tshark dissects SMB, SMB2 or NTLMSSP over TCP 445 or 139: one netcap run and one
//! tshark pass (`-T fields`, all fields at once) per capture.
//!
//! tshark shows a message split over segments once, in the frame that completes it, and a
//! frame's fields in header order, so the SMB headers (and NTLMSSP messages) of each TCP
//! direction are compared in order: SMB2 command, message id, session id, response flag (one
//! occurrence per header of a compound), the NT status of responses, and the dialects, server
//! GUID, share, file name, file id, offset and lengths of the commands that have them; SMB1 the
//! first command of the AndX chain with its multiplex and user ids; SMB3 transform headers their
//! session and size; NTLMSSP the message type, flags, domain, user, workstation and server
//! challenge, and the hashcat line of an AUTHENTICATE, rebuilt here from tshark's user, domain,
//! NT and LM responses and the connection's CHALLENGE.
//!
//! Deliberate differences: a frame tshark takes for a retransmission and dissects again is left
//! out when its headers repeat ones already seen (reassembly delivers each byte once); one it
//! takes for a retransmission and does not dissect (a "spurious retransmission", the only copy
//! of its bytes, in `smb1-02_smb1_osx`) has its records left out of ours; tshark's
//! `smb2.nt_status` also names statuses inside create contexts, so a frame with more of them
//! than response headers matches any status; dialects and GUIDs are taken from negotiate
//! frames only (FSCTL_VALIDATE_NEGOTIATE_INFO carries them too) and file names from requests
//! only (tshark repeats a file's name in later messages about it).

use netcap_proto::v1;
use netcap_tests::{TempDir, files_with, have_tshark, parse_ns, records, tshark_fields};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Per TCP direction ("src:port>dst:port"), the items in order.
pub(crate) type Seqs = BTreeMap<String, Vec<String>>;

const FIELDS: [&str; 32] = [
    "frame.number",
    "frame.time_epoch",
    "tcp.len",
    "ip.src",
    "tcp.srcport",
    "ip.dst",
    "tcp.dstport",
    "tcp.analysis.retransmission",
    "smb2.cmd",
    "smb2.msg_id",
    "smb2.sesid",
    "smb2.flags.response",
    "smb2.nt_status",
    "smb.cmd",
    "smb.mid",
    "smb.uid",
    "smb.flags.response",
    "smb2.header.transform.msg_size",
    "ntlmssp.messagetype",
    "ntlmssp.negotiateflags",
    "ntlmssp.auth.domain",
    "ntlmssp.auth.username",
    "ntlmssp.auth.hostname",
    "ntlmssp.ntlmserverchallenge",
    "ntlmssp.auth.ntresponse",
    "ntlmssp.auth.lmresponse",
    "smb2.dialect",
    "smb2.server_guid",
    "smb2.filename",
    "smb2.file_offset",
    "smb2.read_length",
    "smb2.write_length",
];

fn col<'a>(row: &'a [String], name: &str) -> Vec<&'a str> {
    let i = FIELDS.iter().position(|f| *f == name).expect("known field");
    row.get(i).map_or(Vec::new(), |v| v.split(',').filter(|s| !s.is_empty()).collect())
}

fn num(s: &str) -> u64 {
    netcap_tests::parse_num(s).unwrap_or(u64::MAX)
}

/// Segments tshark takes for retransmissions and does not dissect, by direction key and time:
/// when such a segment is the only copy of its bytes ("spurious retransmission": ACKed before it
/// was seen, the capture having it out of order) tshark never shows its message.
type Undissected = BTreeSet<(String, i64)>;

/// tshark's items: SMB headers, response statuses and NTLMSSP messages per direction.
fn theirs(file: &Path) -> (Seqs, Seqs, Seqs, Undissected) {
    let filter = "(smb || smb2 || ntlmssp || (tcp.analysis.retransmission && tcp.len > 0)) \
                  && (tcp.port == 445 || tcp.port == 139)";
    let rows = tshark_fields(file, &FIELDS, &["-Y", filter]).expect("tshark reads the capture");
    let (mut smb, mut status, mut ntlm) = (Seqs::new(), Seqs::new(), Seqs::new());
    let mut undissected = Undissected::new();
    let mut challenge: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        let retransmission = !col(row, "tcp.analysis.retransmission").is_empty();
        // tshark shows an absent NTLMSSP string as "NULL".
        let c = |n| col(row, n).into_iter().map(|v| if v == "NULL" { "" } else { v }).collect::<Vec<_>>();
        let key = format!("{}:{}>{}:{}", c("ip.src")[0], c("tcp.srcport")[0], c("ip.dst")[0], c("tcp.dstport")[0]);
        let conn = conn_key(&key);
        if retransmission && c("smb.mid").is_empty() && c("smb2.cmd").is_empty() && c("smb2.sesid").is_empty() {
            undissected.insert((key, parse_ns(c("frame.time_epoch")[0]).unwrap_or(0)));
            continue;
        }
        let s = smb.entry(key.clone()).or_default();
        let before = s.len();
        let (cmds, mids, sids, resp) = (c("smb2.cmd"), c("smb2.msg_id"), c("smb2.sesid"), c("smb2.flags.response"));
        for i in 0..cmds.len() {
            let g = |v: &[&str]| v.get(i).map_or(u64::MAX, |x| num(x));
            s.push(format!("v2 cmd={} mid={} sid={} resp={}", g(&cmds), g(&mids), g(&sids), g(&resp)));
        }
        for size in c("smb2.header.transform.msg_size") {
            s.push(format!("v3 sid={} size={}", c("smb2.sesid").last().map_or(u64::MAX, |x| num(x)), num(size)));
        }
        // One smb.mid per SMB1 header; smb.cmd also names each AndX command (0xff: none), so
        // a frame with several headers (no AndX chains in the corpus) takes them in order.
        let (mids1, uids1, resp1) = (c("smb.mid"), c("smb.uid"), c("smb.flags.response"));
        let cmds1: Vec<&str> = match mids1.len() {
            1 => c("smb.cmd").into_iter().take(1).collect(),
            _ => c("smb.cmd").into_iter().filter(|x| num(x) != 0xff).collect(),
        };
        for i in 0..mids1.len() {
            let g = |v: &[&str]| v.get(i).map_or(u64::MAX, |x| num(x));
            s.push(format!("v1 cmd={} mid={} uid={} resp={}", g(&cmds1), g(&mids1), g(&uids1), g(&resp1)));
        }
        // A segment tshark takes for a retransmission is dissected again when it repeats one:
        // its headers are already there (but a "spurious retransmission" may be the only copy).
        if retransmission && s[before..].iter().all(|x| s[..before].contains(x)) {
            s.truncate(before);
            continue;
        }
        let to_server = matches!(c("tcp.dstport")[0], "445" | "139");
        // smb2.nt_status also names statuses inside create contexts: a frame whose count is not
        // its response headers' is compared as "any status" for each of them.
        let st = c("smb2.nt_status");
        let n_resp = resp.iter().filter(|r| num(r) == 1).count();
        let sts: Vec<String> =
            if st.len() == n_resp { st.iter().map(|x| num(x).to_string()).collect() } else { vec!["*".into(); n_resp] };
        status.entry(key.clone()).or_default().extend(sts);
        let details = status.entry(format!("{key} details")).or_default();
        // Dialects and GUIDs also appear in FSCTL_VALIDATE_NEGOTIATE_INFO: negotiate frames only.
        if cmds.first() == Some(&"0") {
            details.extend(c("smb2.dialect").iter().map(|d| format!("dialect={}", num(d))));
            details.extend(c("smb2.server_guid").iter().map(|d| format!("guid={d}")));
        }
        // tshark also shows a file's name in later messages about it (responses, ...): the
        // requests' names are compared; offsets and lengths are those of read and write requests.
        if to_server {
            details.extend(c("smb2.filename").iter().map(|d| format!("file={d}")));
        }
        let (rl, wl) = (c("smb2.read_length"), c("smb2.write_length"));
        for (i, o) in c("smb2.file_offset").iter().enumerate() {
            details.push(format!("offset={}", num(o)));
            let l = rl.get(i).or(wl.get(i)).map_or(u64::MAX, |x| num(x));
            details.push(format!("len={l}"));
        }
        let values = |n: &str| col(row, n).into_iter().map(|v| if v == "NULL" { "" } else { v }.to_string()).collect();
        let items = ntlm_items(&values, &conn, &mut challenge);
        ntlm.entry(key.clone()).or_default().extend(items);
    }
    (smb, status, ntlm, undissected)
}

/// The NTLMSSP messages of one tshark row (`c`: a field's values, tshark's "NULL" as ""), as
/// compared: type and flags, a CHALLENGE's challenge (remembered for connection `conn`), an
/// AUTHENTICATE's domain, user, workstation and the hashcat line rebuilt from tshark's NT and LM
/// responses and the connection's challenge.
pub(crate) fn ntlm_items(
    c: &dyn Fn(&str) -> Vec<String>,
    conn: &str,
    challenge: &mut BTreeMap<String, String>,
) -> Vec<String> {
    let mut items = Vec::new();
    for (i, t) in c("ntlmssp.messagetype").iter().enumerate() {
        let t = num(t);
        let flags = c("ntlmssp.negotiateflags").get(i).map_or(u64::MAX, |x| num(x));
        let mut item = format!("type={t} flags={flags}");
        let one = |n| c(n).first().cloned().unwrap_or_default();
        if t == 2 {
            let ch = one("ntlmssp.ntlmserverchallenge");
            challenge.insert(conn.to_string(), ch.clone());
            item += &format!(" challenge={ch}");
        }
        if t == 3 {
            let (dom, user) = (one("ntlmssp.auth.domain"), one("ntlmssp.auth.username"));
            let (nt, lm) = (one("ntlmssp.auth.ntresponse"), one("ntlmssp.auth.lmresponse"));
            item += &format!(" domain={dom} user={user} host={}", one("ntlmssp.auth.hostname"));
            let ch = challenge.get(conn).cloned().unwrap_or_default();
            let hc = match nt.len() {
                _ if ch.is_empty() => String::new(),
                48 => format!("{user}::{dom}:{lm}:{nt}:{ch}"),
                n if n > 48 => format!("{user}::{dom}:{ch}:{}:{}", &nt[..32], &nt[32..]),
                _ => String::new(),
            };
            item += &format!(" hashcat={hc}");
        }
        items.push(item);
    }
    items
}

/// Our NTLM record in the shape of [`ntlm_items`].
pub(crate) fn our_ntlm_item(n: &v1::Ntlm) -> String {
    let mut item = format!("type={} flags={}", n.message_type, n.negotiate_flags);
    if n.message_type == 2 {
        item += &format!(" challenge={}", n.server_challenge);
    }
    if n.message_type == 3 {
        item += &format!(" domain={} user={} host={} hashcat={}", n.domain, n.user, n.workstation, n.hashcat);
    }
    item
}

/// The connection of a direction key (both directions map to the same).
pub(crate) fn conn_key(dir: &str) -> String {
    let (a, b) = dir.split_once('>').unwrap_or((dir, ""));
    if a < b { format!("{a}|{b}") } else { format!("{b}|{a}") }
}

/// Our items, in the same shape.
fn ours(out: &Path, skip: &Undissected) -> (Seqs, Seqs, Seqs) {
    let (mut smb, mut status, mut ntlm) = (Seqs::new(), Seqs::new(), Seqs::new());
    // Tshark shows "--" style fields only when not 0 in places; the details it shows are the
    // same commands' fields.
    for r in records::<v1::Smb>(out, "SMB") {
        let key = format!("{}:{}>{}:{}", r.src_ip, r.src_port, r.dst_ip, r.dst_port);
        if skip.contains(&(key.clone(), r.timestamp)) {
            continue;
        }
        let s = smb.entry(key.clone()).or_default();
        match r.version {
            2 => s.push(format!(
                "v2 cmd={} mid={} sid={} resp={}",
                r.command,
                r.message_id,
                r.session_id,
                u8::from(r.response)
            )),
            3 => s.push(format!("v3 sid={} size={}", r.session_id, r.original_size)),
            _ => s.push(format!(
                "v1 cmd={} mid={} uid={} resp={}",
                r.command,
                r.message_id,
                r.session_id,
                u8::from(r.response)
            )),
        }
        if r.version == 2 && r.response {
            status.entry(key.clone()).or_default().push(r.status.to_string());
        }
        let details = status.entry(format!("{key} details")).or_default();
        details.extend(r.dialects.iter().map(|d| format!("dialect={d}")));
        if r.version == 2 && r.response && r.command == 0 && !r.server_guid.is_empty() {
            details.push(format!("dialect={}", r.dialect));
            details.push(format!("guid={}", r.server_guid));
        }
        if r.version == 2 && !r.response && !r.file_name.is_empty() {
            details.push(format!("file={}", r.file_name));
        }
        if r.version == 2 && !r.response && matches!(r.command, 8 | 9) {
            details.push(format!("offset={}", r.offset));
            details.push(format!("len={}", r.length));
        }
    }
    // NTLM over HTTP, LDAP and DCE/RPC: `oracle_ntlm`.
    for n in records::<v1::Ntlm>(out, "NTLM").into_iter().filter(|n| n.transport.starts_with("smb")) {
        let key = format!("{}:{}>{}:{}", n.src_ip, n.src_port, n.dst_ip, n.dst_port);
        if skip.contains(&(key.clone(), n.timestamp)) {
            continue;
        }
        ntlm.entry(key).or_default().push(our_ntlm_item(&n));
    }
    (smb, status, ntlm)
}

pub(crate) fn compare(file: &str, what: &str, ours: &Seqs, theirs: &Seqs, problems: &mut Vec<String>) -> usize {
    let mut n = 0;
    for (k, t) in theirs {
        let o = ours.get(k).cloned().unwrap_or_default();
        if t.is_empty() && o.is_empty() {
            continue;
        }
        let same = |a: &String, b: &String| a == b || b == "*";
        if o.len() != t.len() || !o.iter().zip(t).all(|(a, b)| same(a, b)) {
            let i = o.iter().zip(t).position(|(a, b)| !same(a, b)).unwrap_or(o.len().min(t.len()));
            problems.push(format!(
                "{file} {what} {k}: first difference at {i} of {}/{}: ours {:?} tshark {:?}",
                o.len(),
                t.len(),
                o.get(i),
                t.get(i)
            ));
        }
        n += t.len();
    }
    for k in ours.keys().filter(|k| !theirs.contains_key(*k)) {
        if !ours[k].is_empty() {
            problems.push(format!("{file} {what} {k}: {} items tshark does not have", ours[k].len()));
        }
    }
    n
}

#[test]
fn smb_and_ntlm_agree_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-windows");
    let mut problems = Vec::new();
    let (mut n_smb, mut n_ntlm) = (0, 0);
    // Plus the synthesized conversation: a compound split over three segments, NetNTLMv1.
    let synth = dir.path().join("windows.pcap");
    let (packets, first_segment) = netcap_tests::synth_windows::windows_packets();
    netcap_tests::pcap::write_pcap(&synth, netcap_tests::pcap::LINKTYPE_ETHERNET, true, &packets).expect("write pcap");
    let mut files = files_with(&["smb", "smb2", "ntlmssp"]);
    files.push(synth.clone());
    for f in files {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let (out, o) = netcap_tests::default_capture(&f);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "netcap failed on {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (ts, tst, tn, skip) = theirs(&f);
        let (os, ost, on) = ours(&out, &skip);
        n_smb += compare(&name, "smb", &os, &ts, &mut problems);
        compare(&name, "status", &ost, &tst, &mut problems);
        n_ntlm += compare(&name, "ntlm", &on, &tn, &mut problems);
    }
    // The synthesized compound is three records timed by its first segment, and its NetNTLMv1
    // response was compared in cracker form.
    let (out, _) = netcap_tests::default_capture(&synth);
    let smb: Vec<v1::Smb> = records(&out, "SMB");
    let compound: Vec<&v1::Smb> = smb.iter().filter(|r| !r.response && matches!(r.command, 5 | 8 | 6)).collect();
    assert_eq!(compound.iter().map(|r| r.compound_index).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(compound[0].file_name, "docs\\plan.txt");
    assert!(compound.iter().all(|r| r.timestamp == first_segment), "compound timed by its first segment");
    let ntlm: Vec<v1::Ntlm> = records(&out, "NTLM");
    assert!(ntlm.iter().any(|n| n.response_type == "ntlmv1" && n.hashcat.starts_with("bob::LAB:")), "{ntlm:?}");
    problems.truncate(40);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("compared {n_smb} SMB headers and {n_ntlm} NTLMSSP messages with tshark");
    assert!(n_smb >= 1000 && n_ntlm >= 20, "only {n_smb} SMB headers and {n_ntlm} NTLMSSP messages compared");
}
