//! A synthesized SMB2 conversation for the `windows` stream decoder, built from [MS-SMB2] and
//! [MS-NLMP]: negotiate, an NTLMSSP session setup with a NetNTLMv1 response (the corpus has
//! only v2 ones), and a compound CREATE + READ + CLOSE request split over three TCP segments,
//! with its compound response in one segment.

use crate::synth_stream::Conv;

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A NetBIOS session message (direct TCP) around `smb`.
pub fn nbss(smb: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend(&(smb.len() as u32).to_be_bytes()[1..]);
    v.extend(smb);
    v
}

/// An SMB2 sync header (MS-SMB2 2.2.1.2).
fn h2(cmd: u16, status: u32, flags: u32, mid: u64, tid: u32, sid: u64) -> Vec<u8> {
    let mut v = b"\xfeSMB".to_vec();
    v.extend(64u16.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(status.to_le_bytes());
    v.extend(cmd.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(flags.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(mid.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(tid.to_le_bytes());
    v.extend(sid.to_le_bytes());
    v.extend([0; 16]);
    v
}

/// Joins SMB2 messages into a compound: each but the last padded to 8 bytes, with its
/// NextCommand offset.
fn compound(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let mut p = p.clone();
        if i + 1 < parts.len() {
            while !p.len().is_multiple_of(8) {
                p.push(0);
            }
            let n = p.len() as u32;
            p[20..24].copy_from_slice(&n.to_le_bytes());
        }
        out.extend(p);
    }
    out
}

fn negotiate(resp: bool) -> Vec<u8> {
    let mut v = h2(0, 0, u32::from(resp), 0, 0, 0);
    if resp {
        v.extend(65u16.to_le_bytes());
        v.extend(1u16.to_le_bytes());
        v.extend(0x0210u16.to_le_bytes());
        v.extend([0, 0]);
        v.extend([0x86, 0x69, 0x2a, 0xce, 0x02, 0xc6, 0x7a, 0x41, 0xa0, 0xa8, 0xef, 0x07, 0xd4, 0x77, 0x93, 0x6c]);
        v.extend(7u32.to_le_bytes());
        v.extend([0; 28]); // max sizes, times
        v.extend(128u16.to_le_bytes());
        v.extend(0u16.to_le_bytes());
        v.extend([0; 4]);
    } else {
        v.extend(36u16.to_le_bytes());
        v.extend(2u16.to_le_bytes());
        v.extend(1u16.to_le_bytes());
        v.extend([0, 0]);
        v.extend(0x7fu32.to_le_bytes());
        v.extend([0x11; 16]);
        v.extend([0; 8]);
        v.extend(0x0202u16.to_le_bytes());
        v.extend(0x0210u16.to_le_bytes());
    }
    v
}

fn session_setup(resp: bool, status: u32, mid: u64, blob: &[u8]) -> Vec<u8> {
    let mut v = h2(1, status, u32::from(resp), mid, 0, 0x4000_0000_0009);
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

/// NTLMSSP CHALLENGE (MS-NLMP 2.2.1.2), Unicode, target "LAB", challenge 1122334455667788.
fn ntlm_challenge() -> Vec<u8> {
    let target = utf16("LAB");
    let mut v = b"NTLMSSP\0".to_vec();
    v.extend(2u32.to_le_bytes());
    v.extend((target.len() as u16).to_le_bytes());
    v.extend((target.len() as u16).to_le_bytes());
    v.extend(48u32.to_le_bytes());
    v.extend(0xe208_8215u32.to_le_bytes());
    v.extend([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    v.extend([0; 8]);
    v.extend([0, 0, 0, 0, 48 + target.len() as u8, 0, 0, 0]);
    v.extend(target);
    v
}

/// NTLMSSP AUTHENTICATE (2.2.1.3) from LAB\bob on PC7 with 24-byte (NetNTLMv1) responses.
fn ntlm_auth() -> Vec<u8> {
    let lm: Vec<u8> = (100..124).collect();
    let nt: Vec<u8> = (0..24).collect();
    let parts = [lm, nt, utf16("LAB"), utf16("bob"), utf16("PC7"), vec![]];
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
    v.extend(0xe208_8215u32.to_le_bytes());
    v.extend([0; 8]);
    v.extend(payload);
    v
}

fn create(resp: bool, mid: u64) -> Vec<u8> {
    let mut v = h2(5, 0, if resp { 1 } else { 0 }, mid, 5, 0x4000_0000_0009);
    if resp {
        v.extend(89u16.to_le_bytes());
        v.extend([0, 0]);
        v.extend(1u32.to_le_bytes());
        v.extend([0; 56]);
        v.extend([1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]); // file id
        v.extend([0; 8]);
        v.push(0);
    } else {
        let name = utf16("docs\\plan.txt");
        v.extend(57u16.to_le_bytes());
        v.extend([0, 0]);
        v.extend(2u32.to_le_bytes());
        v.extend([0; 16]);
        v.extend(0x0012_0089u32.to_le_bytes());
        v.extend(0x80u32.to_le_bytes());
        v.extend(7u32.to_le_bytes());
        v.extend(1u32.to_le_bytes());
        v.extend(0x40u32.to_le_bytes());
        v.extend(120u16.to_le_bytes());
        v.extend((name.len() as u16).to_le_bytes());
        v.extend([0; 8]);
        v.extend(name);
    }
    v
}

fn read(mid: u64) -> Vec<u8> {
    let mut v = h2(8, 0, 4, mid, 5, 0x4000_0000_0009);
    v.extend(49u16.to_le_bytes());
    v.extend([0x50, 0]);
    v.extend(4096u32.to_le_bytes());
    v.extend(8192u64.to_le_bytes());
    v.extend([0xff; 16]);
    v.extend([0; 17]);
    v
}

fn close(resp: bool, mid: u64) -> Vec<u8> {
    let mut v = h2(6, 0, if resp { 5 } else { 4 }, mid, 5, 0x4000_0000_0009);
    if resp {
        v.extend(60u16.to_le_bytes());
        v.extend([0; 58]);
    } else {
        v.extend(24u16.to_le_bytes());
        v.extend([0; 6]);
        v.extend([0xff; 16]);
    }
    v
}

/// The conversation (client 192.0.2.9:50123, server 198.51.100.9:445), and the time of the
/// compound request's first segment.
pub fn smb2_conversation(t0: i64) -> (Conv, i64) {
    let mut c = Conv::new(9, 50123, 445, 1000, 9000, t0);
    c.handshake();
    c.send(true, &nbss(&negotiate(false)));
    c.send(false, &nbss(&negotiate(true)));
    c.send(
        true,
        &nbss(&session_setup(false, 0, 1, b"NTLMSSP\0\x01\0\0\0\x15\x82\x08\xe2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")),
    );
    c.send(false, &nbss(&session_setup(true, 0xc000_0016, 1, &ntlm_challenge())));
    c.send(true, &nbss(&session_setup(false, 0, 2, &ntlm_auth())));
    c.send(false, &nbss(&session_setup(true, 0, 2, &[])));
    // The compound request over three segments.
    let req = nbss(&compound(&[create(false, 3), read(4), close(false, 5)]));
    let (a, b) = (req.len() / 3, 2 * req.len() / 3);
    let first = c.t;
    c.segment(true, &req[..a]);
    c.segment(true, &req[a..b]);
    c.send(true, &req[b..]);
    let mut err = h2(8, 0xc000_0011, 5, 4, 5, 0x4000_0000_0009); // READ: end of file
    err.extend(9u16.to_le_bytes());
    err.extend([0; 7]);
    c.send(false, &nbss(&compound(&[create(true, 3), err, close(true, 5)])));
    c.close();
    (c, first)
}

/// The packets of the conversation, and the time of the compound request's first segment.
pub fn windows_packets() -> (Vec<(i64, Vec<u8>)>, i64) {
    let (c, first) = smb2_conversation(1_700_000_000_000_000_000);
    (c.pkts, first)
}
