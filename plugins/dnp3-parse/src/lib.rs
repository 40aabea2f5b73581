//! DNP3 (IEEE 1815) link frames, transport reassembly and application layer, parsed into the
//! `netcap.v1.DNP3` record: shared by the `ics` stream decoder (TCP port 20000) and the `inet`
//! layer decoder (UDP port 20000); a library crate because a decoder crate's export cannot be
//! linked into another component.
//!
//! A frame is the 10-octet header (0x05 0x64, length, control, destination, source, CRC) and
//! the user data in blocks of at most 16 octets, each followed by its CRC; its length octet
//! counts control, addresses and user data. The user data is a transport segment (FIN, FIR,
//! sequence number); segments are reassembled per direction ([`Reasm`]) into application
//! fragments, and the frame whose segment has FIN carries the fragment's application layer:
//! control, function code, internal indications (responses) and the object headers (group,
//! variation, qualifier, range). Stepping over the objects needs each object's size: the fixed
//! sizes of the standard's groups are in [`object_size`]; object headers after an object of
//! unknown size are not read (counted as `dnp3: object size unknown`). CRCs are not checked.

use netcap_proto::v1::{Dnp3, Dnp3Crob, Dnp3Object};

/// Error kinds.
pub const E_BAD_START: &str = "dnp3: bad link header";
pub const E_TRUNCATED: &str = "dnp3: frame truncated";
pub const E_GAP: &str = "dnp3: gap in stream";
pub const E_SEQUENCE: &str = "dnp3: transport segment out of sequence";
pub const E_APP_TRUNCATED: &str = "dnp3: application fragment truncated";
pub const E_OBJECT_SIZE: &str = "dnp3: object size unknown";
pub const E_TOO_LONG: &str = "dnp3: application fragment too long";

/// Largest application fragment reassembled (the standard's limit is 2048 octets; some
/// devices send more).
pub const MAX_FRAGMENT: usize = 65536;

/// One direction's transport reassembly.
#[derive(Default)]
pub struct Reasm {
    buf: Vec<u8>,
    /// The next expected sequence number and the segments so far, while a fragment is open.
    next: Option<u8>,
    segments: u32,
}

/// The frame's whole length for a length octet `len` (at least 5).
pub fn frame_bytes(len: u8) -> usize {
    let n = usize::from(len) - 5;
    10 + n + 2 * n.div_ceil(16)
}

/// Whether `b` can start a link frame.
pub fn starts(b: &[u8]) -> bool {
    b.first() == Some(&0x05) && b.get(1).is_none_or(|&x| x == 0x64)
}

/// The whole length of the frame whose first three octets are `h`, or why they are not a link
/// header.
pub fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
    match h {
        [0x05, 0x64, len, ..] if *len >= 5 => Ok(frame_bytes(*len)),
        _ => Err(E_BAD_START),
    }
}

/// Parses one link frame (it may be cut short) into `r`, adding its transport segment to `re`
/// (`user` is scratch space for the user data without CRCs).
pub fn frame(msg: &[u8], r: &mut Dnp3, re: &mut Reasm, user: &mut Vec<u8>) -> Result<(), &'static str> {
    let h = msg.get(..8).ok_or(E_TRUNCATED)?;
    r.link_length = u32::from(h[2]);
    r.link_control = u32::from(h[3]);
    r.link_dir = h[3] & 0x80 != 0;
    r.link_prm = h[3] & 0x40 != 0;
    r.link_function = u32::from(h[3] & 0x0f);
    r.destination = u32::from(u16::from_le_bytes([h[4], h[5]]));
    r.source = u32::from(u16::from_le_bytes([h[6], h[7]]));
    // User data: blocks of 16 octets (the last one shorter), each followed by a CRC.
    let n = usize::from(h[2]).saturating_sub(5);
    user.clear();
    let body = msg.get(10..).unwrap_or_default();
    for block in body.chunks(18) {
        let take = block.len().saturating_sub(2).min(n - user.len());
        user.extend_from_slice(&block[..take.min(block.len())]);
    }
    let complete = msg.len() >= frame_bytes(h[2].max(5));
    let Some((&th, seg)) = user.split_first() else {
        return if complete { Ok(()) } else { Err(E_TRUNCATED) };
    };
    r.transport_fin = th & 0x80 != 0;
    r.transport_fir = th & 0x40 != 0;
    r.transport_seq = u32::from(th & 0x3f);
    if !complete {
        // A segment cut short is not reassembled.
        re.next = None;
        return Err(E_TRUNCATED);
    }
    transport(th, seg, r, re)
}

/// Adds a transport segment to the fragment in progress; a FIN segment completes it.
fn transport(th: u8, seg: &[u8], r: &mut Dnp3, re: &mut Reasm) -> Result<(), &'static str> {
    let seq = th & 0x3f;
    if th & 0x40 != 0 {
        re.buf.clear();
        re.segments = 0;
    } else if re.next != Some(seq) {
        re.next = None;
        return Err(E_SEQUENCE);
    }
    if re.buf.len() + seg.len() > MAX_FRAGMENT {
        re.next = None;
        return Err(E_TOO_LONG);
    }
    re.buf.extend_from_slice(seg);
    re.segments += 1;
    re.next = Some((seq + 1) & 0x3f);
    if th & 0x80 == 0 {
        return Ok(());
    }
    re.next = None;
    r.application = true;
    r.segments = re.segments;
    application(&re.buf, r)
}

/// Request functions whose objects are headers only (read, freezes, enable/disable unsolicited,
/// assign class), unless an object size prefix says otherwise.
fn header_only(function: u8) -> bool {
    matches!(function, 1 | 7..=10 | 20..=22)
}

/// Functions that carry object headers (the others, e.g. cold restart or stop application,
/// are not read further, as Wireshark reads them): requests with objects, file functions,
/// authentication, responses.
fn has_objects(function: u8) -> bool {
    matches!(function, 1..=12 | 20..=22 | 25..=30 | 32 | 33 | 129..=131)
}

/// An application fragment: control, function, IIN (responses), object headers.
fn application(a: &[u8], r: &mut Dnp3) -> Result<(), &'static str> {
    let [ac, fc, rest @ ..] = a else {
        if let Some(&ac) = a.first() {
            r.app_control = u32::from(ac);
            r.app_sequence = u32::from(ac & 0x0f);
        }
        return Err(E_APP_TRUNCATED);
    };
    r.app_control = u32::from(*ac);
    r.app_sequence = u32::from(ac & 0x0f);
    r.function = u32::from(*fc);
    let mut p = rest;
    let response = *fc >= 129;
    if response {
        let iin = p.get(..2).ok_or(E_APP_TRUNCATED)?;
        r.iin = u32::from(u16::from_be_bytes([iin[0], iin[1]]));
        p = &p[2..];
    }
    if !has_objects(*fc) {
        return Ok(());
    }
    let headers_only = !response && header_only(*fc);
    while !p.is_empty() {
        let [g, v, q, rest @ ..] = p else { return Err(E_APP_TRUNCATED) };
        r.objects.push(Dnp3Object {
            group: u32::from(*g),
            variation: u32::from(*v),
            prefix_code: u32::from((q >> 4) & 7),
            range_code: u32::from(q & 0x0f),
            ..Dnp3Object::default()
        });
        let o = r.objects.last_mut().ok_or(E_APP_TRUNCATED)?;
        let (count, used) = range(q & 0x0f, rest, o)?;
        p = &rest[used..];
        // Headers only, unless each object says its size (free format, e.g. file objects).
        if (headers_only && (q >> 4) & 7 < 4) || *v == 0 || *g == 60 {
            continue;
        }
        p = skip_objects(*g, *v, (q >> 4) & 7, count, p, &mut r.crobs)?;
    }
    Ok(())
}

/// Reads a range field: the number of objects that follow and the octets the range used.
fn range(code: u8, b: &[u8], o: &mut Dnp3Object) -> Result<(u64, usize), &'static str> {
    let t = E_APP_TRUNCATED;
    let uint = |at: usize, w: usize| -> Result<u32, &'static str> {
        let s = b.get(at..at + w).ok_or(t)?;
        Ok(s.iter().rev().fold(0u32, |acc, &x| acc << 8 | u32::from(x)))
    };
    match code {
        0..=5 => {
            let w = [1, 2, 4][usize::from(code % 3)];
            (o.range_start, o.range_stop) = (uint(0, w)?, uint(w, w)?);
            let n = u64::from(o.range_stop).saturating_sub(u64::from(o.range_start)) + 1;
            Ok((if o.range_stop < o.range_start { 0 } else { n }, 2 * w))
        }
        6 => Ok((0, 0)),
        7 | 8 | 9 | 0x0b => {
            let w = match code {
                8 => 2,
                9 => 4,
                _ => 1,
            };
            o.count = uint(0, w)?;
            Ok((u64::from(o.count), w))
        }
        _ => Err(E_OBJECT_SIZE),
    }
}

/// Steps over `count` objects of group `g`, variation `v` with prefix code `prefix`; control
/// relay output blocks are read into `crobs`.
fn skip_objects<'a>(
    g: u8,
    v: u8,
    prefix: u8,
    count: u64,
    p: &'a [u8],
    crobs: &mut Vec<Dnp3Crob>,
) -> Result<&'a [u8], &'static str> {
    let t = E_APP_TRUNCATED;
    let pw: usize = match prefix {
        0 => 0,
        1 | 4 => 1,
        2 | 5 => 2,
        3 | 6 => 4,
        _ => return Err(E_OBJECT_SIZE),
    };
    // Packed bits (binary inputs/outputs, IIN): no prefix, `count` bits (2 bits for g3v1).
    if let Some(bits) = packed_bits(g, v)
        && prefix == 0
    {
        let n = usize::try_from(count.saturating_mul(bits).div_ceil(8)).map_err(|_| t)?;
        return p.get(n..).ok_or(t);
    }
    let mut p = p;
    for _ in 0..count {
        let pre = p.get(..pw).ok_or(t)?;
        let prefix_value = pre.iter().rev().fold(0usize, |acc, &x| acc << 8 | usize::from(x));
        if (g, v) == (12, 1)
            && prefix < 4
            && let Some(o) = p.get(pw..pw + 11)
        {
            crobs.push(Dnp3Crob {
                index: prefix_value as u32,
                control_code: u32::from(o[0]),
                count: u32::from(o[1]),
                on_time: u32::from_le_bytes([o[2], o[3], o[4], o[5]]),
                off_time: u32::from_le_bytes([o[6], o[7], o[8], o[9]]),
                status: u32::from(o[10] & 0x7f),
            });
        }
        let size = if prefix >= 4 {
            // The prefix is the object's size (free format).
            prefix_value
        } else if packed_bits(g, v).is_some() {
            // Indexed packed points: one octet each (g80: the IIN bit state).
            1
        } else {
            object_size(g, v).ok_or(E_OBJECT_SIZE)?
        };
        p = p.get(pw + size..).ok_or(t)?;
    }
    Ok(p)
}

/// Bits per point of the packed-format objects.
fn packed_bits(g: u8, v: u8) -> Option<u64> {
    match (g, v) {
        (1, 1) | (10, 1) | (12, 3) | (80, 1) => Some(1),
        (3, 1) => Some(2),
        _ => None,
    }
}

/// The size in octets of one object of fixed size (IEEE 1815-2012 annex A), `None` when the
/// size is variable or not known here.
pub fn object_size(g: u8, v: u8) -> Option<usize> {
    let s = match (g, v) {
        (1, 2) | (2, 1) | (3, 2) | (4, 1) | (10, 2) | (11, 1) | (13, 1) => 1,
        (2, 2) | (4, 2) | (11, 2) | (13, 2) => 7,
        (2, 3) | (4, 3) => 3,
        (12, 1) | (12, 2) => 11,
        (20, 1 | 3) | (21, 1 | 3) | (22, 1 | 3) | (23, 1 | 3) => 5,
        (20, 2 | 4) | (21, 2 | 4) | (22, 2 | 4) | (23, 2 | 4) => 3,
        (20, 5 | 7) | (21, 9 | 11) => 4,
        (20, 6 | 8) | (21, 10 | 12) => 2,
        (21, 5 | 7) | (22, 5 | 7) | (23, 5 | 7) => 11,
        (21, 6 | 8) | (22, 6 | 8) | (23, 6 | 8) => 9,
        (30, 1 | 5) | (31, 1 | 7) | (32, 1 | 5) | (33, 1 | 5) => 5,
        (30, 2) | (31, 2) | (32, 2) | (33, 2) => 3,
        (30, 3) | (31, 5) => 4,
        (30, 4) | (31, 6) => 2,
        (30, 6) | (31, 8) | (32, 6) | (33, 6) => 9,
        (31, 3) | (32, 3 | 7) | (33, 3 | 7) => 11,
        (31, 4) | (32, 4) | (33, 4) => 9,
        (32, 8) | (33, 8) => 15,
        (34, 1) => 2,
        (34, 2 | 3) => 4,
        (40, 1 | 3) | (41, 1 | 3) => 5,
        (40, 2) | (41, 2) => 3,
        (40, 4) | (41, 4) => 9,
        (42 | 43, 1 | 5) => 5,
        (42 | 43, 2) => 3,
        (42 | 43, 3 | 7) => 11,
        (42 | 43, 4 | 6) => 9,
        (42 | 43, 8) => 15,
        (50, 1 | 3) | (51, 1 | 2) => 6,
        (50, 2) => 10,
        (50, 4) => 11,
        (52, 1 | 2) => 2,
        (110..=113, v) => usize::from(v),
        _ => return None,
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link frame around `user` data (CRCs zero: not checked).
    pub(crate) fn link(ctrl: u8, dst: u16, src: u16, user: &[u8]) -> Vec<u8> {
        let mut v = vec![0x05, 0x64, (5 + user.len()) as u8, ctrl];
        v.extend(dst.to_le_bytes());
        v.extend(src.to_le_bytes());
        v.extend([0, 0]);
        for b in user.chunks(16) {
            v.extend(b);
            v.extend([0, 0]);
        }
        v
    }

    #[test]
    fn read_request_and_response() {
        // Read class 1, 2, 3, 0 (g60v2..v4, v1, qualifier 0x06).
        let app = [0xc0, 0xc3, 0x01, 60, 2, 6, 60, 3, 6, 60, 4, 6, 60, 1, 6];
        let f = link(0xc4, 10, 1, &app);
        assert_eq!(f.len(), frame_bytes(f[2]));
        let (mut r, mut re, mut u) = (Dnp3::default(), Reasm::default(), Vec::new());
        assert_eq!(frame(&f, &mut r, &mut re, &mut u), Ok(()));
        assert_eq!((r.destination, r.source, r.link_function, r.link_dir, r.link_prm), (10, 1, 4, true, true));
        assert!(r.application && r.transport_fir && r.transport_fin);
        assert_eq!((r.function, r.app_sequence, r.objects.len()), (1, 3, 4));
        assert_eq!((r.objects[0].group, r.objects[0].variation, r.objects[0].range_code), (60, 2, 6));
        // Response with IIN 0x8000 and g30v2 (flag + 16 bits) points 0..=1, then g1v2 0..=0.
        let app = [0xc0, 0xc3, 0x81, 0x80, 0x00, 30, 2, 0x00, 0, 1, 1, 5, 0, 1, 6, 0, 1, 2, 0x00, 0, 0, 0x81];
        let (mut r, mut re) = (Dnp3::default(), Reasm::default());
        assert_eq!(frame(&link(0x44, 1, 10, &app), &mut r, &mut re, &mut u), Ok(()));
        assert_eq!((r.function, r.iin, r.objects.len()), (129, 0x8000, 2));
        assert_eq!((r.objects[0].range_start, r.objects[0].range_stop), (0, 1));
        assert_eq!((r.objects[1].group, r.objects[1].variation), (1, 2));
    }

    #[test]
    fn control_relay_output_block() {
        // Select g12v1, 2-octet index prefix, quantity 1: index 3, latch on, count 1, 100/200 ms.
        let mut app = vec![0xc0, 0xc2, 0x03, 12, 1, 0x28, 1, 0, 3, 0, 0x03, 1];
        app.extend(100u32.to_le_bytes());
        app.extend(200u32.to_le_bytes());
        app.push(0x84);
        let (mut r, mut u) = (Dnp3::default(), Vec::new());
        assert_eq!(frame(&link(0xc4, 10, 1, &app), &mut r, &mut Reasm::default(), &mut u), Ok(()));
        let c = &r.crobs[0];
        assert_eq!((c.index, c.control_code, c.count, c.on_time, c.off_time, c.status), (3, 3, 1, 100, 200, 4));
        assert_eq!((r.objects[0].prefix_code, r.objects[0].range_code, r.objects[0].count), (2, 8, 1));
    }

    #[test]
    fn transport_reassembles_segments() {
        // A 40-octet application fragment in three segments (FIR, middle, FIN).
        let mut app = vec![0xc0, 0x02];
        app.extend([110, 38, 0x17, 1, 5]);
        app.extend([b'x'; 38]);
        let (mut re, mut u) = (Reasm::default(), Vec::new());
        let parts = [(0x40 | 5, &app[..10]), (6, &app[10..20]), (0x80 | 7, &app[20..])];
        for (i, (th, part)) in parts.iter().enumerate() {
            let mut user = vec![*th];
            user.extend(*part);
            let mut r = Dnp3::default();
            assert_eq!(frame(&link(0xc4, 10, 1, &user), &mut r, &mut re, &mut u), Ok(()));
            assert_eq!(r.application, i == 2);
            if i == 2 {
                assert_eq!((r.segments, r.function, r.objects.len()), (3, 2, 1));
                assert_eq!((r.objects[0].group, r.objects[0].count), (110, 1));
            }
        }
        // A middle segment without its first: out of sequence.
        let mut r = Dnp3::default();
        assert_eq!(frame(&link(0xc4, 10, 1, &[9, 1, 2]), &mut r, &mut Reasm::default(), &mut u), Err(E_SEQUENCE));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut u = Vec::new();
        for _ in 0..20_000 {
            let mut user = vec![0xc0];
            for _ in 0..(x % 60) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                user.push(x as u8);
            }
            let f = link(x as u8, 1, 2, &user);
            let cut = (x as usize >> 8) % (f.len() + 1);
            let mut r = Dnp3::default();
            let _ = frame(&f[..cut.max(8)], &mut r, &mut Reasm::default(), &mut u);
        }
    }
}
