//! The decoder driven as the host drives it (stream events), on messages built here from
//! [MS-SMB2], [MS-CIFS] and [MS-NLMP]: one record per SMB header whatever the segmentation,
//! compounds, NTLMSSP in session setups with the cracker form written out by hand, and
//! malformed input (cuts at every length, garbled bytes, huge declared lengths) giving partial
//! records and counted errors, never a panic.

use super::*;
use netcap_proto::v1;
use netcap_sdk::{CloseReason, Config, Emitter, EventMeta, StreamEvent, StreamInfo, TAG_ERROR, entries};

fn info(port: u16) -> StreamInfo {
    let mut i = StreamInfo { id: 1, ip_version: 4, client_port: 49152, server_port: port, ..Default::default() };
    i.client_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    i.server_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
    i
}

enum Step<'a> {
    D(Dir, &'a [u8]),
    Gap(Dir),
}

/// Records as (type id, packet seq, bytes).
type Records = Vec<(u16, u64, Vec<u8>)>;

/// Records, error kinds and verdicts of a run; data step k is packet k + 1 at time
/// (k + 1) * 1000; the connection closes after the steps.
fn run(port: u16, steps: &[Step<'_>]) -> (Records, Vec<String>, Vec<Verdict>) {
    let mut d = Windows::new(&Config::default());
    let mut buf = Vec::new();
    let i = info(port);
    let mut verdicts = vec![d.event(
        &EventMeta { stream: 1, seq: 0, ts_nanos: 0 },
        &StreamEvent::Open(&i),
        &mut Emitter::new(&mut buf, 0),
    )];
    for (k, s) in steps.iter().enumerate() {
        let seq = k as u64 + 1;
        let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
        let ev = match *s {
            Step::D(dir, bytes) => StreamEvent::Data { dir, bytes },
            Step::Gap(dir) => StreamEvent::Gap { dir, len: 10 },
        };
        let v = d.event(&meta, &ev, &mut Emitter::new(&mut buf, seq));
        verdicts.push(v);
        if v != Verdict::Continue {
            break;
        }
    }
    let seq = steps.len() as u64 + 1;
    let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
    verdicts.push(d.event(&meta, &StreamEvent::Close { reason: CloseReason::Fin }, &mut Emitter::new(&mut buf, seq)));
    d.finish(&mut Emitter::new(&mut buf, u64::MAX));
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    for e in entries(&buf) {
        let e = e.expect("well-formed output");
        if e.tag == TAG_ERROR {
            errs.push(String::from_utf8_lossy(e.bytes).into_owned());
        } else if e.tag < 0xff00 {
            recs.push((e.tag, e.seq, e.bytes.to_vec()));
        }
    }
    (recs, errs, verdicts)
}

fn decode<T: prost::Message + Default>(recs: &Records, ty: u16) -> Vec<T> {
    recs.iter().filter(|r| r.0 == ty).map(|r| T::decode(&r.2[..]).expect("record decodes")).collect()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A NetBIOS session message (direct TCP) around `smb`.
fn nbss(smb: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend(&(smb.len() as u32).to_be_bytes()[1..]);
    v.extend(smb);
    v
}

/// An SMB2 sync header: command, status, flags, next command, message, tree and session ids.
fn h2(cmd: u16, status: u32, flags: u32, next: u32, mid: u64, tid: u32, sid: u64) -> Vec<u8> {
    let mut v = b"\xfeSMB".to_vec();
    v.extend(64u16.to_le_bytes());
    v.extend(1u16.to_le_bytes()); // credit charge
    v.extend(status.to_le_bytes());
    v.extend(cmd.to_le_bytes());
    v.extend(31u16.to_le_bytes()); // credits
    v.extend(flags.to_le_bytes());
    v.extend(next.to_le_bytes());
    v.extend(mid.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(tid.to_le_bytes());
    v.extend(sid.to_le_bytes());
    v.extend([0; 16]);
    v
}

/// NEGOTIATE request offering 2.0.2, 2.1, 3.0, 3.1.1 (MS-SMB2 2.2.3, no contexts).
fn negotiate_req() -> Vec<u8> {
    let mut v = h2(0, 0, 0, 0, 0, 0, 0);
    v.extend(36u16.to_le_bytes());
    v.extend(4u16.to_le_bytes());
    v.extend(1u16.to_le_bytes()); // signing enabled
    v.extend([0, 0]);
    v.extend(0x7fu32.to_le_bytes());
    v.extend([0x11; 16]); // client GUID
    v.extend([0; 8]);
    for d in [0x0202u16, 0x0210, 0x0300, 0x0311] {
        v.extend(d.to_le_bytes());
    }
    v
}

/// An NTLMSSP CHALLENGE (MS-NLMP 2.2.1.2) with challenge 0123456789abcdef, target "DOM", unicode.
fn ntlm_challenge() -> Vec<u8> {
    let target = utf16("DOM");
    let mut v = b"NTLMSSP\0".to_vec();
    v.extend(2u32.to_le_bytes());
    v.extend((target.len() as u16).to_le_bytes());
    v.extend((target.len() as u16).to_le_bytes());
    v.extend(48u32.to_le_bytes());
    v.extend(0xe288_8215u32.to_le_bytes());
    v.extend([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
    v.extend([0; 8]);
    v.extend([0, 0, 0, 0, 48 + target.len() as u8, 0, 0, 0]); // empty target info
    v.extend(target);
    v
}

/// An NTLMSSP AUTHENTICATE (2.2.1.3) from DOM\alice on WS1 with the given NT response and a
/// 24-byte LM response of 0x11s.
fn ntlm_auth(nt: &[u8]) -> Vec<u8> {
    let parts = [vec![0x11; 24], nt.to_vec(), utf16("DOM"), utf16("alice"), utf16("WS1"), vec![]];
    let mut v = b"NTLMSSP\0".to_vec();
    v.extend(3u32.to_le_bytes());
    let mut off = 72u32;
    let mut payload: Vec<u8> = Vec::new();
    for p in &parts {
        v.extend((p.len() as u16).to_le_bytes());
        v.extend((p.len() as u16).to_le_bytes());
        v.extend(off.to_le_bytes());
        off += p.len() as u32;
        payload.extend(p);
    }
    v.extend(0xe288_8215u32.to_le_bytes()); // flags (unicode)
    v.extend([0; 8]); // version
    v.extend(payload);
    v
}

/// SESSION_SETUP request (2.2.5) or response (2.2.6) with `blob`.
fn session_setup(resp: bool, status: u32, mid: u64, blob: &[u8]) -> Vec<u8> {
    let mut v = h2(1, status, u32::from(resp), 0, mid, 0, 0x1234);
    if resp {
        v.extend(9u16.to_le_bytes());
        v.extend(0u16.to_le_bytes());
        v.extend(72u16.to_le_bytes());
        v.extend((blob.len() as u16).to_le_bytes());
    } else {
        v.extend(25u16.to_le_bytes());
        v.extend([0, 1]);
        v.extend(1u32.to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v.extend(88u16.to_le_bytes());
        v.extend((blob.len() as u16).to_le_bytes());
        v.extend([0; 8]);
    }
    v.extend(blob);
    v
}

/// A CREATE request (2.2.13) for `name`, padded to 8 bytes, with `next` as next command.
fn create_req(name: &str, next: bool, mid: u64) -> Vec<u8> {
    let n = utf16(name);
    let mut v = h2(5, 0, if next { 4 } else { 0 }, 0, mid, 5, 0x1234);
    v.extend(57u16.to_le_bytes());
    v.extend([0, 0]);
    v.extend(2u32.to_le_bytes());
    v.extend([0; 16]);
    v.extend(0x0012_0089u32.to_le_bytes()); // desired access
    v.extend(0x80u32.to_le_bytes());
    v.extend(7u32.to_le_bytes());
    v.extend(1u32.to_le_bytes()); // FILE_OPEN
    v.extend(0x40u32.to_le_bytes());
    v.extend(120u16.to_le_bytes());
    v.extend((n.len() as u16).to_le_bytes());
    v.extend([0; 8]);
    v.extend(n);
    v
}

/// A compound: CREATE, READ (related, the compound's file id), CLOSE.
fn compound() -> Vec<u8> {
    let mut create = create_req("dir\\file.txt", true, 7);
    while !create.len().is_multiple_of(8) {
        create.push(0);
    }
    let n = create.len() as u32;
    create[20..24].copy_from_slice(&n.to_le_bytes());
    let mut read = h2(8, 0, 4, 0, 8, 5, 0x1234);
    read.extend(49u16.to_le_bytes());
    read.extend([0x50, 0]);
    read.extend(4096u32.to_le_bytes());
    read.extend(65536u64.to_le_bytes());
    read.extend([0xff; 16]);
    read.extend([0; 17]);
    while !read.len().is_multiple_of(8) {
        read.push(0);
    }
    let n = read.len() as u32;
    read[20..24].copy_from_slice(&n.to_le_bytes());
    let mut close = h2(6, 0, 4, 0, 9, 5, 0x1234);
    close.extend(24u16.to_le_bytes());
    close.extend([0; 6]);
    close.extend([0xff; 16]);
    [create, read, close].concat()
}

#[test]
fn negotiate_fields() {
    let m = nbss(&negotiate_req());
    let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &m)]);
    assert!(errs.is_empty(), "{errs:?}");
    let r: Vec<v1::Smb> = decode(&recs, T_SMB);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].version, r[0].command, r[0].response), (2, 0, false));
    assert_eq!(r[0].dialects, [0x0202, 0x0210, 0x0300, 0x0311]);
    assert_eq!((r[0].security_mode, r[0].capabilities, r[0].credits), (1, 0x7f, 31));
    assert_eq!((r[0].src_ip.as_str(), r[0].dst_port, r[0].timestamp), ("192.0.2.1", 445, 1000));
}

#[test]
fn compound_gives_three_records_at_every_split() {
    let m = nbss(&compound());
    for a in 1..m.len() {
        let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &m[..a]), Step::D(Dir::ToServer, &m[a..])]);
        assert!(errs.is_empty(), "{a}: {errs:?}");
        let r: Vec<v1::Smb> = decode(&recs, T_SMB);
        assert_eq!(r.iter().map(|r| (r.command, r.compound_index)).collect::<Vec<_>>(), [(5, 0), (8, 1), (6, 2)]);
        assert_eq!(r[0].file_name, "dir\\file.txt");
        assert_eq!((r[0].desired_access, r[0].create_disposition, r[0].create_options), (0x0012_0089, 1, 0x40));
        assert_eq!((r[1].offset, r[1].length, r[1].message_id), (65536, 4096, 8));
        assert_eq!(r[2].file_id, "ffffffff-ffff-ffff-ffff-ffffffffffff");
        // Every record is timed by the message's first byte's packet, written by the completing one.
        assert!(r.iter().all(|r| r.timestamp == 1000 && r.tree_id == 5 && r.session_id == 0x1234));
        assert!(recs.iter().all(|x| x.1 == 2));
    }
}

#[test]
fn several_messages_in_one_segment() {
    let two = [nbss(&negotiate_req()), nbss(&compound()), vec![0x85, 0, 0, 0]].concat();
    let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &two)]);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(decode::<v1::Smb>(&recs, T_SMB).len(), 4);
}

const NTLMV2_RESP: [u8; 40] = [
    0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96, 0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef, 0x6a, 0x1c, // NTProofStr
    0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
];

#[test]
fn ntlmssp_in_session_setup_gives_ntlm_records_with_the_cracker_form() {
    let chal = nbss(&session_setup(true, 0xc000_0016, 1, &ntlm_challenge()));
    // The AUTHENTICATE inside a SPNEGO negTokenResp-like wrapper (found by its signature).
    let mut blob = vec![0xa1, 0x82, 0x01, 0x00, 0x30, 0x81, 0xfd, 0xa2, 0x81, 0xfa, 0x04, 0x81, 0xf7];
    blob.extend(ntlm_auth(&NTLMV2_RESP));
    let auth = nbss(&session_setup(false, 0, 2, &blob));
    let (recs, errs, _) = run(445, &[Step::D(Dir::ToClient, &chal), Step::D(Dir::ToServer, &auth)]);
    assert!(errs.is_empty(), "{errs:?}");
    let s: Vec<v1::Smb> = decode(&recs, T_SMB);
    assert_eq!((s[0].status, s[0].auth.as_str(), s[1].auth.as_str()), (0xc000_0016, "ntlmssp", "ntlmssp"));
    assert_eq!(s[1].security_blob_length, blob.len() as u32);
    let n: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
    assert_eq!(n.len(), 2);
    assert_eq!((n[0].message_type, n[0].server_challenge.as_str()), (2, "0123456789abcdef"));
    assert_eq!((n[0].target_name.as_str(), n[0].negotiate_flags, n[0].src_port), ("DOM", 0xe288_8215, 445));
    assert_eq!((n[1].domain.as_str(), n[1].user.as_str(), n[1].workstation.as_str()), ("DOM", "alice", "WS1"));
    assert_eq!((n[1].response_type.as_str(), n[1].nt_response_length, n[1].lm_response_length), ("ntlmv2", 40, 24));
    assert_eq!(
        n[1].hashcat,
        "alice::DOM:0123456789abcdef:68cd0ab851e51c96aabc927bebef6a1c:\
         01010000000000000000000000000000aaaaaaaaaaaaaaaa"
    );
    // Records come in message order: SMB then its NTLM.
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), [T_SMB, T_NTLM, T_SMB, T_NTLM]);
}

#[test]
fn ntlmv1_cracker_form() {
    let nt: Vec<u8> = (0..24).collect();
    let chal = nbss(&session_setup(true, 0xc000_0016, 1, &ntlm_challenge()));
    let auth = nbss(&session_setup(false, 0, 2, &ntlm_auth(&nt)));
    let (recs, _, _) = run(445, &[Step::D(Dir::ToClient, &chal), Step::D(Dir::ToServer, &auth)]);
    let n: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
    assert_eq!(
        n[1].hashcat,
        "alice::DOM:111111111111111111111111111111111111111111111111:\
         000102030405060708090a0b0c0d0e0f1011121314151617:0123456789abcdef"
    );
    // Without a CHALLENGE seen there is no cracker form.
    let (recs, _, _) = run(445, &[Step::D(Dir::ToServer, &auth)]);
    let n: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
    assert_eq!((n[0].user.as_str(), n[0].hashcat.as_str(), n[0].server_challenge.as_str()), ("alice", "", ""));
}

#[test]
fn smb3_transform_is_flagged_encrypted() {
    let mut t = b"\xfdSMB".to_vec();
    t.extend([0xab; 32]); // signature, nonce
    t.extend(100u32.to_le_bytes());
    t.extend([0, 0, 1, 0]);
    t.extend(0x1122_3344_5566_7788u64.to_le_bytes());
    t.extend([0x55; 100]);
    let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &nbss(&t))]);
    assert!(errs.is_empty(), "{errs:?}");
    let r: Vec<v1::Smb> = decode(&recs, T_SMB);
    assert_eq!(
        (r[0].version, r[0].encrypted, r[0].session_id, r[0].original_size),
        (3, true, 0x1122_3344_5566_7788, 100)
    );
}

/// SMB1 header (MS-CIFS 2.2.3.1) with NT status and Unicode flags, then words and bytes.
fn smb1(cmd: u8, flags: u8, words: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut v = b"\xffSMB".to_vec();
    v.push(cmd);
    v.extend([0; 4]);
    v.push(flags);
    v.extend(0xc801u16.to_le_bytes());
    v.extend([0; 12]);
    v.extend(3u16.to_le_bytes()); // tid
    v.extend(0xfeffu16.to_le_bytes()); // pid
    v.extend(100u16.to_le_bytes()); // uid
    v.extend(64u16.to_le_bytes()); // mid
    v.push((words.len() / 2) as u8);
    v.extend(words);
    v.extend((bytes.len() as u16).to_le_bytes());
    v.extend(bytes);
    v
}

#[test]
fn smb1_negotiate_and_tree_connect_over_netbios() {
    let neg = smb1(0x72, 0x18, &[], b"\x02PC NETWORK PROGRAM 1.0\0\x02NT LM 0.12\0\x02SMB 2.002\0");
    // Tree connect AndX: password length 1, then (Unicode, 2-aligned from the header) the path.
    let mut bytes = vec![0];
    let words = [0xff, 0, 0, 0, 0x08, 0, 1, 0];
    // Header 32 + wc 1 + words 8 + bc 2 = 43: the password byte is at 43, the path at 44.
    bytes.extend(utf16("\\\\SRV\\IPC$\0"));
    bytes.extend(b"?????\0");
    let tree = smb1(0x75, 0x18, &words, &bytes);
    let session_req = [0x81, 0, 0, 4, 1, 2, 3, 4];
    let (recs, errs, _) =
        run(139, &[Step::D(Dir::ToServer, &session_req), Step::D(Dir::ToServer, &[nbss(&neg), nbss(&tree)].concat())]);
    assert!(errs.is_empty(), "{errs:?}");
    let r: Vec<v1::Smb> = decode(&recs, T_SMB);
    assert_eq!(r[0].dialect_names, ["PC NETWORK PROGRAM 1.0", "NT LM 0.12", "SMB 2.002"]);
    assert_eq!((r[0].version, r[0].command, r[0].tree_id, r[0].session_id, r[0].message_id), (1, 0x72, 3, 100, 64));
    assert_eq!((r[1].command, r[1].share.as_str(), r[1].process_id), (0x75, "\\\\SRV\\IPC$", 0xfeff));
}

#[test]
fn other_protocols_on_the_port_are_declined() {
    let http = b"GET / HTTP/1.1\r\n\r\n";
    let (recs, errs, v) = run(445, &[Step::D(Dir::ToServer, http), Step::D(Dir::ToClient, b"HTTP/1.1 200 OK\r\n")]);
    assert!(recs.is_empty() && errs.is_empty());
    assert_eq!(v[1..3], [Verdict::Continue, Verdict::Decline]);
    // A session message without an SMB signature.
    let m = nbss(b"\x00\x01\x02\x03\x04\x05");
    let (_, _, v) = run(445, &[Step::D(Dir::ToServer, &m), Step::D(Dir::ToClient, &m)]);
    assert_eq!(v[2], Verdict::Decline);
}

#[test]
fn capture_beginning_mid_message_reads_the_direction_that_starts_with_one() {
    // The client's first bytes are the tail of a message; the server's response is whole.
    let req = nbss(&session_setup(false, 0, 2, &ntlm_auth(&NTLMV2_RESP)));
    let resp = nbss(&session_setup(true, 0, 2, &[]));
    let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &req[30..]), Step::D(Dir::ToClient, &resp)]);
    assert!(errs.is_empty(), "{errs:?}");
    let r: Vec<v1::Smb> = decode(&recs, T_SMB);
    assert_eq!((r.len(), r[0].command, r[0].response, r[0].src_port), (1, 1, true, 445));
}

#[test]
fn cut_at_every_length_gives_a_partial_record_and_an_error() {
    let mut blob = ntlm_auth(&NTLMV2_RESP);
    blob.splice(0..0, [0xa1, 0x10]);
    let m = [nbss(&compound()), nbss(&session_setup(false, 0, 2, &blob))].concat();
    let whole = run(445, &[Step::D(Dir::ToServer, &m)]).0.len();
    for cut in 1..m.len() {
        let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &m[..cut])]);
        assert!(recs.len() <= whole, "{cut}");
        // Every record decodes; a cut message is counted.
        let _: Vec<v1::Smb> = decode(&recs, T_SMB);
        let _: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
        if cut != nbss(&compound()).len() {
            assert!(!errs.is_empty(), "{cut}: no error");
        }
        // Once the header is there, the cut message still gives its (partial) record.
        if cut >= 4 + 64 + 2 {
            assert!(!recs.is_empty(), "{cut}");
        }
    }
}

#[test]
fn gap_gives_the_partial_message_and_stops_the_direction() {
    let m = nbss(&compound());
    let (recs, errs, _) =
        run(445, &[Step::D(Dir::ToServer, &m[..100]), Step::Gap(Dir::ToServer), Step::D(Dir::ToServer, &m)]);
    assert_eq!(errs, [E_GAP]);
    assert_eq!(decode::<v1::Smb>(&recs, T_SMB).len(), 1);
}

/// Deterministic xorshift for garbling.
fn rng(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn garbled_messages_never_panic_and_records_decode() {
    let mut blob = ntlm_challenge();
    blob.extend(ntlm_auth(&NTLMV2_RESP));
    let base = [
        nbss(&negotiate_req()),
        nbss(&compound()),
        nbss(&session_setup(false, 0, 2, &ntlm_auth(&NTLMV2_RESP))),
        nbss(&session_setup(true, 0xc000_0016, 1, &ntlm_challenge())),
        nbss(&smb1(0x73, 0x18, &[0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0], &blob)),
    ];
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for m in &base {
        for _ in 0..400 {
            let mut g = m.clone();
            // Keep the NetBIOS header valid half the time so that the SMB parsers see the garbage.
            let from = if rng(&mut s).is_multiple_of(2) { 4 } else { 0 };
            for _ in 0..1 + rng(&mut s) % 8 {
                let i = from + (rng(&mut s) as usize) % (g.len() - from);
                g[i] = rng(&mut s) as u8;
            }
            let (recs, _, _) = run(445, &[Step::D(Dir::ToServer, &g), Step::D(Dir::ToClient, &g)]);
            let _: Vec<v1::Smb> = decode(&recs, T_SMB);
            let _: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
        }
    }
}

#[test]
fn huge_declared_lengths_are_bounded() {
    // A NetBIOS length of 16 MiB: only KEEP bytes are buffered, the rest counted on close.
    let mut m = vec![0, 0xff, 0xff, 0xff];
    m.extend(negotiate_req());
    let chunk = vec![0u8; 100_000];
    let mut d = Windows::new(&Config::default());
    let mut buf = Vec::new();
    let i = info(445);
    d.event(&EventMeta { stream: 1, seq: 0, ts_nanos: 0 }, &StreamEvent::Open(&i), &mut Emitter::new(&mut buf, 0));
    let ev = StreamEvent::Data { dir: Dir::ToServer, bytes: &m };
    d.event(&EventMeta { stream: 1, seq: 1, ts_nanos: 1 }, &ev, &mut Emitter::new(&mut buf, 1));
    for k in 0..20 {
        let ev = StreamEvent::Data { dir: Dir::ToServer, bytes: &chunk };
        d.event(&EventMeta { stream: 1, seq: 2 + k, ts_nanos: 2 }, &ev, &mut Emitter::new(&mut buf, 2 + k));
        assert!(d.conns[&1].sides[0].buf.len() <= KEEP);
    }
    // NTLMSSP security buffers pointing far past the message: partial record and an error.
    let mut a = ntlm_auth(&NTLMV2_RESP);
    a[36 + 4..36 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    a[36..38].copy_from_slice(&u16::MAX.to_le_bytes());
    let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &nbss(&session_setup(false, 0, 2, &a)))]);
    assert_eq!(errs, [ntlm::E_FIELD]);
    let n: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
    assert_eq!((n[0].message_type, n[0].domain.as_str(), n[0].user.as_str()), (3, "DOM", ""));
    // A compound whose next-command offset points past the message.
    let mut c = compound();
    c[20..24].copy_from_slice(&0x7fff_fff8u32.to_le_bytes());
    let (recs, errs, _) = run(445, &[Step::D(Dir::ToServer, &nbss(&c))]);
    assert_eq!((decode::<v1::Smb>(&recs, T_SMB).len(), errs), (1, vec![smb::E_NEXT.to_string()]));
}

/// Kerberos over TCP: `m` after its 4-byte record marker.
fn krb_tcp(m: &[u8]) -> Vec<u8> {
    let mut v = (m.len() as u32).to_be_bytes().to_vec();
    v.extend(m);
    v
}

#[test]
fn kerberos_over_tcp_is_one_record_per_message_at_every_split() {
    use netcap_windows_parse::build;
    let (req, err) = (krb_tcp(&build::as_req()), krb_tcp(&build::preauth_required()));
    for cut in 1..req.len() {
        let steps =
            [Step::D(Dir::ToServer, &req[..cut]), Step::D(Dir::ToServer, &req[cut..]), Step::D(Dir::ToClient, &err)];
        let (recs, errs, _) = run(88, &steps);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        let k: Vec<v1::Kerberos> = decode(&recs, T_KERBEROS);
        assert_eq!(k.iter().map(|r| r.msg_type).collect::<Vec<_>>(), [10, 30], "cut {cut}");
        assert_eq!((k[0].client_name.as_str(), k[0].transport.as_str(), k[0].dst_port), ("alice", "tcp", 88));
        // Timed by the message's first segment.
        assert_eq!(k[0].timestamp, 1000);
        assert_eq!(k[1].etype_info, [18, 23]);
    }
    // Two messages in one segment.
    let both: Vec<u8> = [req.clone(), req.clone()].concat();
    let (recs, errs, _) = run(88, &[Step::D(Dir::ToServer, &both)]);
    assert!(errs.is_empty());
    assert_eq!(decode::<v1::Kerberos>(&recs, T_KERBEROS).len(), 2);
}

#[test]
fn kerberos_over_tcp_cut_or_garbled_gives_partial_records_and_errors() {
    use netcap_windows_parse::build;
    let req = krb_tcp(&build::tgs_rep());
    for n in 1..req.len() {
        let (recs, errs, _) = run(88, &[Step::D(Dir::ToClient, &req[..n])]);
        let k: Vec<v1::Kerberos> = decode(&recs, T_KERBEROS);
        if n > HEADER {
            assert_eq!((k.len(), k[0].msg_type), (1, 13), "cut at {n}");
        }
        assert_eq!(errs, [E_KRB_TRUNCATED], "cut at {n}");
    }
    // A gap inside a message: the partial record and the gap error.
    let (recs, errs, _) = run(88, &[Step::D(Dir::ToClient, &req[..30]), Step::Gap(Dir::ToClient)]);
    assert_eq!((decode::<v1::Kerberos>(&recs, T_KERBEROS).len(), errs.as_slice()), (1, &[E_KRB_GAP.to_string()][..]));
    // A marker with the reserved bit, or a huge length: not read (the direction is declined).
    let (recs, _, v) = run(88, &[Step::D(Dir::ToServer, &[0x80, 0, 0, 10, 0x6a])]);
    assert!(recs.is_empty() && v[1] == Verdict::Continue);
    // Garbled bytes after a good marker: a record and an error, never a panic.
    let mut s = 7u64;
    for _ in 0..2000 {
        let mut g = req.clone();
        let i = HEADER + (rng(&mut s) as usize) % (g.len() - HEADER);
        g[i] = rng(&mut s) as u8;
        let (recs, _, _) = run(88, &[Step::D(Dir::ToClient, &g)]);
        assert!(decode::<v1::Kerberos>(&recs, T_KERBEROS).len() <= 1);
    }
}

#[test]
fn ldap_over_tcp_is_one_record_per_message_at_every_split() {
    use netcap_windows_parse::build;
    let (bind, search, done) = (build::ldap_simple_bind(), build::ldap_search(), build::ldap_search_done());
    let reqs: Vec<u8> = [bind.clone(), search.clone()].concat();
    for cut in 1..reqs.len() {
        let steps =
            [Step::D(Dir::ToServer, &reqs[..cut]), Step::D(Dir::ToServer, &reqs[cut..]), Step::D(Dir::ToClient, &done)];
        let (recs, errs, _) = run(389, &steps);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        let l: Vec<v1::Ldap> = decode(&recs, T_LDAP);
        assert_eq!(
            l.iter().map(|r| (r.message_id, r.operation)).collect::<Vec<_>>(),
            [(1, 0), (7, 3), (7, 5)],
            "cut {cut}"
        );
        assert!(l[0].password_present && l[1].filter.starts_with("(&(objectClass=user)"));
        assert_eq!((l[2].transport.as_str(), l[2].src_port), ("tcp", 389));
    }
}

#[test]
fn ldap_over_tcp_cut_garbled_or_wrapped() {
    use netcap_windows_parse::build;
    let m = build::ldap_search();
    for n in 1..m.len() {
        let (recs, errs, _) = run(389, &[Step::D(Dir::ToServer, &m[..n])]);
        assert_eq!(errs, [E_LDAP_TRUNCATED], "cut at {n}");
        assert!(decode::<v1::Ldap>(&recs, T_LDAP).len() <= 1);
    }
    // SASL-wrapped messages after a bind (a 4-byte length first): the direction stops, counted.
    let mut wrapped = vec![0, 0, 0, 12];
    wrapped.extend([0x55; 12]);
    let (recs, errs, _) =
        run(389, &[Step::D(Dir::ToServer, &build::ldap_simple_bind()), Step::D(Dir::ToServer, &wrapped)]);
    assert_eq!((decode::<v1::Ldap>(&recs, T_LDAP).len(), errs), (1, vec![E_LDAP_BAD_HEADER.to_string()]));
    // A declared length of 4 GiB: refused at the header.
    let (recs, _, _) = run(389, &[Step::D(Dir::ToServer, &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01])]);
    assert!(recs.is_empty());
    let mut s = 11u64;
    for _ in 0..2000 {
        let mut g = m.clone();
        let i = 2 + (rng(&mut s) as usize) % (g.len() - 2);
        g[i] = rng(&mut s) as u8;
        let (recs, _, _) = run(389, &[Step::D(Dir::ToServer, &g)]);
        assert!(decode::<v1::Ldap>(&recs, T_LDAP).len() <= 1);
    }
}

#[test]
fn ldap_and_kerberos_read_on_after_a_gap_from_a_segment_that_starts_a_message() {
    use netcap_windows_parse::build;
    let (bind, search) = (build::ldap_simple_bind(), build::ldap_search());
    let steps = [
        Step::D(Dir::ToServer, &bind),
        Step::Gap(Dir::ToServer),
        // The middle of a message: skipped.
        Step::D(Dir::ToServer, &search[10..]),
        Step::D(Dir::ToServer, &search),
    ];
    let (recs, errs, _) = run(389, &steps);
    let l: Vec<v1::Ldap> = decode(&recs, T_LDAP);
    assert_eq!(l.iter().map(|r| r.operation).collect::<Vec<_>>(), [0, 3]);
    assert_eq!(errs, [E_LDAP_GAP]);
    let req = krb_tcp(&build::as_req());
    let steps = [
        Step::D(Dir::ToServer, &req[..50]),
        Step::Gap(Dir::ToServer),
        Step::D(Dir::ToServer, &req[60..]),
        Step::D(Dir::ToServer, &req),
    ];
    let (recs, errs, _) = run(88, &steps);
    let k: Vec<v1::Kerberos> = decode(&recs, T_KERBEROS);
    assert_eq!(k.iter().map(|r| (r.msg_type, r.client_name.as_str())).collect::<Vec<_>>(), [(10, ""), (10, "alice")]);
    assert_eq!(errs, [E_KRB_GAP]);
}

/// A TPKT around an X.224 TPDU `x`.
fn tpkt(x: &[u8]) -> Vec<u8> {
    let mut v = vec![3, 0];
    v.extend(((4 + x.len()) as u16).to_be_bytes());
    v.extend(x);
    v
}

/// An X.224 Connection Request with `line` (CRLF added when not empty) and an RDP_NEG_REQ.
fn rdp_cr(line: &str, protocols: u32) -> Vec<u8> {
    let mut v = Vec::new();
    if !line.is_empty() {
        v.extend(line.as_bytes());
        v.extend(b"\r\n");
    }
    v.extend([1, 0, 8, 0]);
    v.extend(protocols.to_le_bytes());
    let mut x = vec![(6 + v.len()) as u8, 0xe0, 0, 0, 0, 0, 0];
    x.extend(v);
    tpkt(&x)
}

/// An X.224 Connection Confirm with an RDP_NEG_RSP (type 2) or RDP_NEG_FAILURE (type 3).
fn rdp_cc(ty: u8, value: u32) -> Vec<u8> {
    let mut x = vec![14, 0xd0, 0, 0, 0x12, 0x34, 0, ty, 0x1f, 8, 0];
    x.extend(value.to_le_bytes());
    tpkt(&x)
}

/// An MCS Connect Initial with the GCC user data holding a security block and the core block.
fn rdp_mcs_ci() -> Vec<u8> {
    let mut core = Vec::new();
    core.extend(0x0008_0004u32.to_le_bytes());
    core.extend(1280u16.to_le_bytes());
    core.extend(1024u16.to_le_bytes());
    core.extend([0x01, 0xca, 0x03, 0xaa]);
    core.extend(1033u32.to_le_bytes());
    core.extend(2600u32.to_le_bytes());
    let mut name = utf16("SEPTU");
    name.resize(32, 0);
    core.extend(name);
    core.extend([4, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0]);
    let mut blocks = vec![0x02, 0xc0, 12, 0, 3, 0, 0, 0, 0, 0, 0, 0];
    blocks.extend(0xc001u16.to_le_bytes());
    blocks.extend(((4 + core.len()) as u16).to_le_bytes());
    blocks.extend(core);
    let mut gcc = vec![0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01, 0x81, 0x2a, 0, 8, 0, 0x10, 0, 1, 0xc0, 0];
    gcc.extend(b"Duca");
    gcc.extend([0x80 | (blocks.len() >> 8) as u8, blocks.len() as u8]);
    gcc.extend(blocks);
    let mut ci = vec![0x7f, 0x65, 0x82];
    let body_len = 3 + 3 + 3 + gcc.len() + 4;
    ci.extend((body_len as u16).to_be_bytes());
    ci.extend([4, 1, 1, 4, 1, 1, 1, 1, 0xff, 4, 0x82]);
    ci.extend((gcc.len() as u16).to_be_bytes());
    ci.extend(gcc);
    let mut x = vec![2, 0xf0, 0x80];
    x.extend(ci);
    tpkt(&x)
}

#[test]
fn rdp_negotiation_then_tls_is_one_record_at_every_split() {
    let cr = rdp_cr("Cookie: mstshash=Administr", 0x0b);
    let cc = rdp_cc(2, 8);
    let hello = [0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0];
    for cut in 1..cr.len() {
        let steps = [
            Step::D(Dir::ToServer, &cr[..cut]),
            Step::D(Dir::ToServer, &cr[cut..]),
            Step::D(Dir::ToClient, &cc),
            Step::D(Dir::ToServer, &hello),
            Step::D(Dir::ToClient, &[0x16, 3, 3, 0, 1, 2]),
        ];
        let (recs, errs, verdicts) = run(3389, &steps);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        let r: Vec<v1::Rdp> = decode(&recs, T_RDP);
        assert_eq!(r.len(), 1, "cut {cut}");
        let r = &r[0];
        assert_eq!((r.cookie.as_str(), r.negotiation_request, r.requested_protocols), ("Administr", true, 0x0b));
        assert_eq!((r.confirmed, r.negotiation_response, r.selected_protocol, r.response_flags), (true, true, 8, 0x1f));
        assert!(r.tls && r.credssp && !r.client_core);
        assert_eq!((r.timestamp, r.src_ip.as_str(), r.dst_port), (1000, "192.0.2.1", 3389));
        // Both directions switched to TLS: the connection is done.
        assert_eq!(verdicts[5], Verdict::Done);
    }
}

#[test]
fn rdp_standard_security_reads_the_client_core_data() {
    let (cr, cc, ci) = (rdp_cr("Cookie: msts=3640205228.15629.0000", 0), rdp_cc(2, 0), rdp_mcs_ci());
    for cut in 1..ci.len() {
        let steps = [
            Step::D(Dir::ToServer, &cr),
            Step::D(Dir::ToClient, &cc),
            Step::D(Dir::ToServer, &ci[..cut]),
            Step::D(Dir::ToServer, &ci[cut..]),
        ];
        let (recs, errs, _) = run(3389, &steps);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        let r = &decode::<v1::Rdp>(&recs, T_RDP)[0];
        assert_eq!((r.routing_token.as_str(), r.cookie.as_str()), ("Cookie: msts=3640205228.15629.0000", ""));
        assert!(r.client_core && !r.tls && !r.credssp);
        assert_eq!((r.client_version, r.desktop_width, r.desktop_height), (0x0008_0004, 1280, 1024));
        assert_eq!((r.keyboard_layout, r.client_build, r.client_name.as_str()), (1033, 2600, "SEPTU"));
    }
    // A negotiation failure, no request block.
    let mut x = vec![6, 0xe0, 0, 0, 0, 0, 0];
    x.extend(b"Cookie: mstshash=x\r\n");
    let (recs, errs, _) = run(3389, &[Step::D(Dir::ToServer, &tpkt(&x)), Step::D(Dir::ToClient, &rdp_cc(3, 5))]);
    assert!(errs.is_empty());
    let r = &decode::<v1::Rdp>(&recs, T_RDP)[0];
    assert_eq!((r.negotiation_request, r.negotiation_failure, r.failure_code), (false, true, 5));
}

#[test]
fn rdp_cut_or_garbled_gives_partial_records_and_errors() {
    let (cr, cc, ci) = (rdp_cr("Cookie: mstshash=bob", 3), rdp_cc(2, 1), rdp_mcs_ci());
    // The client core data cut at every length: the record, at most one error.
    let cut_ci = |n: usize| {
        let mut m = ci[..n].to_vec();
        m[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        m
    };
    for n in 7..ci.len() {
        let m = cut_ci(n);
        let (recs, errs, _) =
            run(3389, &[Step::D(Dir::ToServer, &cr), Step::D(Dir::ToClient, &cc), Step::D(Dir::ToServer, &m)]);
        assert_eq!(decode::<v1::Rdp>(&recs, T_RDP).len(), 1, "cut {n}");
        assert!(errs.len() <= 1, "cut {n}: {errs:?}");
    }
    // The connection ends inside a message: the record and the truncation error.
    let (recs, errs, _) = run(3389, &[Step::D(Dir::ToServer, &cr), Step::D(Dir::ToClient, &cc[..9])]);
    assert_eq!((decode::<v1::Rdp>(&recs, T_RDP).len(), errs), (1, vec![rdp::E_TRUNCATED.to_string()]));
    // A request line without CRLF; a TPKT too short for X.224.
    let mut x = vec![6, 0xe0, 0, 0, 0, 0, 0];
    x.extend(b"Cookie: mstshash=abc");
    let (recs, errs, _) = run(3389, &[Step::D(Dir::ToServer, &tpkt(&x))]);
    assert_eq!((decode::<v1::Rdp>(&recs, T_RDP).len(), errs), (1, vec![rdp::E_REQUEST.to_string()]));
    let bad = [cc.clone(), vec![3, 0, 0, 5, 0]].concat();
    let (recs, errs, _) = run(3389, &[Step::D(Dir::ToServer, &cr), Step::D(Dir::ToClient, &bad)]);
    assert_eq!((decode::<v1::Rdp>(&recs, T_RDP).len(), errs), (1, vec![rdp::E_BAD_TPKT.to_string()]));
    // Garbled bytes after a valid start never panic.
    let mut s = 7u64;
    for _ in 0..300 {
        let mut g = ci.clone();
        for _ in 0..4 {
            let k = (rng(&mut s) as usize) % g.len();
            g[k] = rng(&mut s) as u8;
        }
        let _ = run(3389, &[Step::D(Dir::ToServer, &cr), Step::D(Dir::ToClient, &cc), Step::D(Dir::ToServer, &g)]);
    }
    // Not RDP on the port: declined.
    let steps = [Step::D(Dir::ToServer, b"GET / HTTP/1.1\r\n\r\n"), Step::D(Dir::ToClient, b"HTTP/1.1 200 OK\r\n")];
    let (recs, errs, v) = run(3389, &steps);
    assert!(recs.is_empty() && errs.is_empty());
    assert_eq!(v[1..3], [Verdict::Continue, Verdict::Decline]);
}

/// A DCE/RPC PDU (little-endian) of type `ty` with `flags`, call id and body.
fn pdu(ty: u8, flags: u8, call: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![5, 0, ty, flags, 0x10, 0, 0, 0];
    v.extend(((16 + body.len()) as u16).to_le_bytes());
    v.extend([0, 0]);
    v.extend(call.to_le_bytes());
    v.extend(body);
    v
}

/// A DCE UUID's wire form (first three fields little-endian).
fn uuid_le(a: u32, b: u16, c: u16, d: [u8; 8]) -> Vec<u8> {
    let mut v = a.to_le_bytes().to_vec();
    v.extend(b.to_le_bytes());
    v.extend(c.to_le_bytes());
    v.extend(d);
    v
}

/// SAMR and NDR.
fn samr() -> Vec<u8> {
    uuid_le(0x1234_5778, 0x1234, 0xabcd, [0xef, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xac])
}

fn ndr() -> Vec<u8> {
    uuid_le(0x8a88_5d04, 0x1ceb, 0x11c9, [0x9f, 0xe8, 0x08, 0x00, 0x6e, 0x10, 0x33, 0x60])
}

/// A bind of context 0 to SAMR v1.0 with NDR v2.
fn dce_bind() -> Vec<u8> {
    let mut b = vec![0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0];
    b.extend(samr());
    b.extend([1, 0, 0, 0]);
    b.extend(ndr());
    b.extend([2, 0, 0, 0]);
    pdu(11, 3, 1, &b)
}

fn dce_bind_ack() -> Vec<u8> {
    let mut b = vec![0xb8, 0x10, 0xb8, 0x10, 0x53, 0xf0, 0, 0, 6, 0];
    b.extend(b"49668\0");
    b.extend([1, 0, 0, 0, 0, 0, 0, 0]);
    b.extend(ndr());
    b.extend([2, 0, 0, 0]);
    pdu(12, 3, 1, &b)
}

/// A request fragment: alloc hint, context 0, opnum, `stub` bytes.
fn dce_request(flags: u8, call: u32, opnum: u16, stub: usize) -> Vec<u8> {
    let mut b = vec![0, 0, 0, 0, 0, 0];
    b.extend(opnum.to_le_bytes());
    b.extend(vec![0xaa; stub]);
    pdu(0, flags, call, &b)
}

#[test]
fn dcerpc_bind_request_fault_on_135_at_every_split() {
    let mut fault = vec![0, 0, 0, 0, 0, 0, 0, 0];
    fault.extend(5u32.to_le_bytes());
    fault.extend([0, 0, 0, 0]);
    let client: Vec<u8> = [dce_bind(), dce_request(3, 2, 64, 8)].concat();
    let server: Vec<u8> = [dce_bind_ack(), pdu(3, 3, 2, &fault)].concat();
    for cut in 1..client.len() {
        let steps = [
            Step::D(Dir::ToServer, &client[..cut]),
            Step::D(Dir::ToServer, &client[cut..]),
            Step::D(Dir::ToClient, &server),
        ];
        let (recs, errs, _) = run(135, &steps);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        let r: Vec<v1::Dcerpc> = decode(&recs, T_DCERPC);
        let types: Vec<(&str, u32)> = r.iter().map(|r| (r.packet_type_name.as_str(), r.call_id)).collect();
        assert_eq!(types, [("bind", 1), ("request", 2), ("bind_ack", 1), ("fault", 2)], "cut {cut}");
        let c = &r[0].contexts[0];
        assert_eq!(
            (c.interface_uuid.as_str(), c.interface_name.as_str()),
            ("12345778-1234-abcd-ef00-0123456789ac", "SAMR")
        );
        assert_eq!((c.interface_version, c.transfer_syntaxes[0].as_str()), (1, "8a885d04-1ceb-11c9-9fe8-08006e103360"));
        assert_eq!((r[1].opnum, r[1].interface_name.as_str(), r[1].stub_length, r[1].fragments), (64, "SAMR", 8, 1));
        assert_eq!((r[2].secondary_address.as_str(), r[2].assoc_group, r[2].results[0].result), ("49668", 0xf053, 0));
        assert_eq!((r[3].status, r[3].interface_name.as_str()), (5, "SAMR"));
    }
}

#[test]
fn dcerpc_fragments_are_one_record_and_dynamic_ports_are_sniffed() {
    let frags: Vec<u8> = [dce_request(1, 7, 5, 100), dce_request(0, 7, 5, 100), dce_request(2, 7, 5, 50)].concat();
    let client = [dce_bind(), frags].concat();
    let (recs, errs, _) = run(49668, &[Step::D(Dir::ToServer, &client), Step::D(Dir::ToClient, &dce_bind_ack())]);
    assert!(errs.is_empty(), "{errs:?}");
    let r: Vec<v1::Dcerpc> = decode(&recs, T_DCERPC);
    assert_eq!(r.len(), 3);
    assert_eq!((r[1].fragments, r[1].stub_length, r[1].opnum, r[1].timestamp), (3, 250, 5, 1000));
    // A last fragment missing: the call is written at the next PDU, and at the end, with errors.
    let open = [dce_bind(), dce_request(1, 8, 5, 10), dce_request(3, 9, 6, 10), dce_request(1, 10, 6, 10)].concat();
    let (recs, errs, _) = run(135, &[Step::D(Dir::ToServer, &open)]);
    assert_eq!(decode::<v1::Dcerpc>(&recs, T_DCERPC).len(), 4);
    assert_eq!(errs, [dcerpc::E_FRAGMENT, dcerpc::E_FRAGMENT]);
    // On another port, a connection not beginning with a client bind is declined at once.
    let (recs, _, v) = run(49668, &[Step::D(Dir::ToServer, &dce_request(3, 1, 0, 4))]);
    assert!(recs.is_empty() && v[1] == Verdict::Decline);
    let (_, _, v) = run(8080, &[Step::D(Dir::ToClient, &dce_bind_ack())]);
    assert_eq!(v[1], Verdict::Decline);
    // HTTP is read up to its first response, unless it authenticates with NTLM.
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    let (recs, _, v) = run(8080, &[Step::D(Dir::ToServer, b"GET / HTTP/1.1\r\n\r\n"), Step::D(Dir::ToClient, ok)]);
    assert!(recs.is_empty());
    assert_eq!((v[1], v[2]), (Verdict::Continue, Verdict::Decline));
}

#[test]
fn dcerpc_cut_or_garbled_gives_partial_records_and_errors() {
    let msgs = [dce_bind(), dce_bind_ack(), dce_request(3, 2, 1, 4)];
    for m in &msgs {
        // Cut at every length with the fragment length adjusted (a short PDU).
        for n in 16..m.len() {
            let mut c = m[..n].to_vec();
            c[8..10].copy_from_slice(&(n as u16).to_le_bytes());
            let (recs, errs, _) = run(135, &[Step::D(Dir::ToServer, &c)]);
            assert_eq!(decode::<v1::Dcerpc>(&recs, T_DCERPC).len(), 1, "cut {n}");
            assert!(errs.len() <= 1, "cut {n}: {errs:?}");
        }
        // The connection ends inside the PDU.
        let (recs, errs, _) = run(135, &[Step::D(Dir::ToServer, &m[..m.len() - 1])]);
        assert_eq!(decode::<v1::Dcerpc>(&recs, T_DCERPC).len(), 1);
        assert_eq!(errs, [dcerpc::E_TRUNCATED]);
    }
    // A fragment length below the header: a bad header.
    let mut bad = dce_bind();
    bad[8..10].copy_from_slice(&[4, 0]);
    let two = [dce_bind(), bad].concat();
    let (_, errs, _) = run(135, &[Step::D(Dir::ToServer, &two)]);
    assert_eq!(errs, [dcerpc::E_BAD_HEADER]);
    // Huge context counts and garbled bytes never panic.
    let mut s = 11u64;
    for m in &msgs {
        for _ in 0..300 {
            let mut g = m.clone();
            for _ in 0..4 {
                let k = 16 + (rng(&mut s) as usize) % (g.len() - 16);
                g[k] = rng(&mut s) as u8;
            }
            let _ = run(135, &[Step::D(Dir::ToServer, &g)]);
        }
    }
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An NTLM handshake over HTTP/1.1 (MS-NTHT), as (request, response) exchanges: an anonymous
/// request refused with a chunked body, NEGOTIATE and a CHALLENGE with a Content-Length body after
/// a 100 Continue, a HEAD answered with a length but no body, then the AUTHENTICATE.
fn http_ntlm() -> Vec<(Vec<u8>, Vec<u8>)> {
    let neg = b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    let spnego_auth = [vec![0xa1, 0x81, 0x80, 0x30], ntlm_auth(&NTLMV2_RESP)].concat();
    [
        (
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n\
             Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"
                .to_string(),
        ),
        (
            format!("GET /a HTTP/1.1\r\nAuthorization: NTLM {}\r\n\r\n", b64(neg)),
            format!(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\
                 WWW-Authenticate: NTLM {}\r\n\r\nnope.",
                b64(&ntlm_challenge())
            ),
        ),
        ("HEAD /a HTTP/1.1\r\n\r\n".to_string(), "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n".to_string()),
        (
            format!(
                "POST /a HTTP/1.1\r\nContent-Length: 4\r\nAuthorization: Negotiate {}\r\n\r\nbody",
                b64(&spnego_auth)
            ),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string(),
        ),
    ]
    .into_iter()
    .map(|(c, s)| (c.into_bytes(), s.into_bytes()))
    .collect()
}

#[test]
fn ntlm_over_http_is_read_from_authentication_headers_at_every_split() {
    let exchanges = http_ntlm();
    for cut in 1..200 {
        let mut steps = Vec::new();
        for (c, s) in &exchanges {
            let (a, b) = (cut.min(c.len() - 1), cut.min(s.len() - 1));
            steps.extend([Step::D(Dir::ToServer, &c[..a]), Step::D(Dir::ToServer, &c[a..])]);
            steps.extend([Step::D(Dir::ToClient, &s[..b]), Step::D(Dir::ToClient, &s[b..])]);
        }
        let (recs, errs, _) = run(80, &steps);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        let n: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
        let types: Vec<u32> = n.iter().map(|r| r.message_type).collect();
        assert_eq!(types, [1, 2, 3], "cut {cut}");
        assert!(n.iter().all(|r| r.transport == "http"));
        assert_eq!((n[1].src_port, n[1].server_challenge.as_str()), (80, "0123456789abcdef"));
        assert!(n[2].hashcat.starts_with("alice::DOM:0123456789abcdef:68cd0ab8"), "cut {cut}: {}", n[2].hashcat);
    }
}

#[test]
fn http_framing_that_cannot_be_followed_stops_with_an_error() {
    let bad_chunk = b"HTTP/1.1 401 No\r\nWWW-Authenticate: NTLM\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    let (_, errs, _) = run(80, &[Step::D(Dir::ToServer, b"GET / HTTP/1.1\r\n\r\n"), Step::D(Dir::ToClient, bad_chunk)]);
    assert_eq!(errs, [http::E_CHUNK]);
    let huge = vec![b'a'; http::MAX_HEAD * 2];
    let (_, errs, _) = run(80, &[Step::D(Dir::ToServer, b"GET / HTTP/1.1\r\nX: "), Step::D(Dir::ToServer, &huge)]);
    assert_eq!(errs, [http::E_HEAD]);
    let (_, errs, _) = run(80, &[Step::D(Dir::ToServer, b"GET / HTTP/1.1\r\nAuthorization: NTLM !!\r\n\r\n")]);
    assert_eq!(errs, [ntlm::E_BASE64]);
    // Another protocol whose client speaks first with a token and a space (IRC): declined, no error.
    let (recs, errs, v) =
        run(6667, &[Step::D(Dir::ToServer, b"NI"), Step::D(Dir::ToServer, b"CK alice\r\nUSER a\r\n")]);
    assert!(recs.is_empty() && errs.is_empty());
    assert_eq!((v[1], v[2]), (Verdict::Continue, Verdict::Decline));
}

#[test]
fn ntlm_in_ldap_binds_and_dcerpc_verifiers() {
    use netcap_windows_parse::build::{cat, int, octets, tlv};
    // A SASL bind with mechanism GSS-SPNEGO carrying the NEGOTIATE-less AUTHENTICATE after a
    // bind response with the CHALLENGE in serverSaslCreds ([7]).
    let sasl = |cred: &[u8]| tlv(0xa3, &cat(&[octets("GSS-SPNEGO"), tlv(0x04, cred)]));
    let result = cat(&[tlv(0x0a, &[14]), octets(""), octets(""), tlv(0x87, &ntlm_challenge())]);
    let resp = tlv(0x30, &cat(&[int(1), tlv(0x61, &result)]));
    let auth = tlv(0x30, &cat(&[int(2), tlv(0x60, &cat(&[int(3), octets(""), sasl(&ntlm_auth(&NTLMV2_RESP))]))]));
    let (recs, errs, _) = run(389, &[Step::D(Dir::ToClient, &resp), Step::D(Dir::ToServer, &auth)]);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), [T_LDAP, T_NTLM, T_LDAP, T_NTLM]);
    let n: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
    assert!(n.iter().all(|r| r.transport == "ldap") && n[1].hashcat.starts_with("alice::DOM:0123456789abcdef:"));
    // DCE/RPC: a bind_ack's verifier (auth type 10, WINNT) holds the CHALLENGE.
    let mut ack = dce_bind_ack();
    let verifier = [vec![10, 6, 0, 0, 0, 0, 0, 0], ntlm_challenge()].concat();
    ack.extend(&verifier);
    let len = ack.len() as u16;
    ack[8..10].copy_from_slice(&len.to_le_bytes());
    let auth_len = (verifier.len() - 8) as u16;
    ack[10..12].copy_from_slice(&auth_len.to_le_bytes());
    let (recs, errs, _) = run(135, &[Step::D(Dir::ToServer, &dce_bind()), Step::D(Dir::ToClient, &ack)]);
    assert!(errs.is_empty(), "{errs:?}");
    let n: Vec<v1::Ntlm> = decode(&recs, T_NTLM);
    assert_eq!((n.len(), n[0].transport.as_str(), n[0].message_type), (1, "dcerpc", 2));
}
