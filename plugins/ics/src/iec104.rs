//! IEC 60870-5-104 (TCP port 2404): one `IEC104` record per APDU. The APCI (start 0x68, APDU
//! length, four control octets) gives the format: I (send and receive sequence numbers, an ASDU
//! follows), S (receive sequence number) or U (STARTDT, STOPDT, TESTFR act/con). The ASDU header
//! (IEC 60870-5-101 7.2 with the 104 profile: 1-octet type and variable structure qualifier,
//! 2-octet cause of transmission with the originator address, 2-octet common address, 3-octet
//! information object addresses) is read, and the information object addresses are listed
//! using the element sizes of the standard's type identifications (IEC 60870-5-101 7.3 and
//! 60870-5-104 8); for a type whose size is not known only the first address is read.

use crate::{Ctx, Framing, T_IEC104, set};
use netcap_proto::v1::Iec104;
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_BAD_START: &str = "iec104: bad apci start";
pub const E_SKIPPED: &str = "iec104: bytes before apci start skipped";
pub const E_SHORT: &str = "iec104: apdu shorter than its control field";
pub const E_ASDU_TRUNCATED: &str = "iec104: asdu truncated";
pub const E_TRUNCATED: &str = "iec104: apdu truncated";
pub const E_GAP: &str = "iec104: gap in stream";

/// Per-connection state: the record reused for each APDU.
#[derive(Default)]
pub struct Conn {
    rec: Iec104,
}

/// Whether `b` (a connection's first bytes) can start an APDU.
pub fn starts(b: &[u8]) -> bool {
    b.first() == Some(&0x68) && b.get(1).is_none_or(|&l| l >= 4)
}

impl Framing for Conn {
    const HEADER: usize = 2;
    const TRUNCATED: &'static str = E_TRUNCATED;
    const GAP: &'static str = E_GAP;
    // Like Wireshark, bytes that do not start an APDU are skipped up to the next start octet.
    const RESYNC: Option<(u8, &'static str)> = Some((0x68, E_SKIPPED));

    fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
        if h[0] != 0x68 { Err(E_BAD_START) } else { Ok(2 + usize::from(h[1])) }
    }

    fn message(
        &mut self,
        dir: Dir,
        msg: &[u8],
        cut: Option<&'static str>,
        ts: i64,
        cx: &Ctx<'_>,
        out: &mut Emitter<'_>,
    ) {
        let r = &mut self.rec;
        prost::Message::clear(r);
        let err = parse(msg, r).err();
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
        out.record(T_IEC104, r);
        if let Some(k) = cut.or(err) {
            out.error(k);
        }
    }
}

/// The name of a U-format function (the control octet's bits 2-7).
pub fn u_name(bits: u8) -> &'static str {
    match bits {
        0x04 => "STARTDT act",
        0x08 => "STARTDT con",
        0x10 => "STOPDT act",
        0x20 => "STOPDT con",
        0x40 => "TESTFR act",
        0x80 => "TESTFR con",
        _ => "",
    }
}

/// Parses one APDU (`msg` starts with 0x68; it may be cut short) into `r`.
pub fn parse(msg: &[u8], r: &mut Iec104) -> Result<(), &'static str> {
    r.apdu_length = u32::from(*msg.get(1).ok_or(E_TRUNCATED)?);
    let end = (2 + r.apdu_length as usize).min(msg.len());
    let Some(c) = msg.get(2..6) else {
        return Err(if r.apdu_length < 4 && msg.len() >= 2 + r.apdu_length as usize { E_SHORT } else { E_TRUNCATED });
    };
    let c = [c[0], c[1], c[2], c[3]];
    let seq = |lo: u8, hi: u8| u32::from(u16::from_le_bytes([lo, hi]) >> 1);
    if c[0] & 1 == 0 {
        set(&mut r.format, "I");
        (r.send_seq, r.recv_seq) = (seq(c[0], c[1]), seq(c[2], c[3]));
        asdu(msg.get(6..end).unwrap_or_default(), r)?;
    } else if c[0] & 3 == 1 {
        set(&mut r.format, "S");
        r.recv_seq = seq(c[2], c[3]);
    } else {
        set(&mut r.format, "U");
        r.u_function = u32::from(c[0] & 0xfc);
        set(&mut r.u_function_name, u_name(c[0] & 0xfc));
    }
    if msg.len() < 2 + r.apdu_length as usize { Err(E_TRUNCATED) } else { Ok(()) }
}

/// The ASDU of an I-format APDU.
fn asdu(a: &[u8], r: &mut Iec104) -> Result<(), &'static str> {
    // A header cut short still gives the fields before the cut.
    if let Some(&t) = a.first() {
        r.type_id = u32::from(t);
    }
    if let Some(&vsq) = a.get(1) {
        (r.sq, r.num_objects) = (vsq & 0x80 != 0, u32::from(vsq & 0x7f));
    }
    if let Some(&cot) = a.get(2) {
        (r.cause_tx, r.negative, r.test) = (u32::from(cot & 0x3f), cot & 0x40 != 0, cot & 0x80 != 0);
    }
    if let Some(&oa) = a.get(3) {
        r.originator_address = u32::from(oa);
    }
    let Some(h) = a.get(..6) else { return Err(E_ASDU_TRUNCATED) };
    r.common_address = u32::from(u16::from_le_bytes([h[4], h[5]]));
    let objs = &a[6..];
    let ioa = |i: usize| objs.get(i..i + 3).map(|b| u32::from_le_bytes([b[0], b[1], b[2], 0]));
    let n = r.num_objects as usize;
    if n == 0 {
        return Ok(());
    }
    let Some(size) = element_size(h[0]) else {
        // Unknown element size: only the first address can be read.
        r.ioas.push(ioa(0).ok_or(E_ASDU_TRUNCATED)?);
        return Ok(());
    };
    if r.sq {
        // One address, then the elements of consecutive addresses.
        let first = ioa(0).ok_or(E_ASDU_TRUNCATED)?;
        r.ioas.extend((0..n as u32).map(|i| first.wrapping_add(i) & 0x00ff_ffff));
        if objs.len() < 3 + n * size {
            return Err(E_ASDU_TRUNCATED);
        }
    } else {
        for i in 0..n {
            let at = i * (3 + size);
            r.ioas.push(ioa(at).ok_or(E_ASDU_TRUNCATED)?);
            if objs.len() < at + 3 + size {
                return Err(E_ASDU_TRUNCATED);
            }
        }
    }
    Ok(())
}

/// The size of one information element (with its time tag) of a type identification
/// (IEC 60870-5-101 7.3, 60870-5-104 8); `None` for types of variable or unknown size.
pub fn element_size(type_id: u8) -> Option<usize> {
    Some(match type_id {
        1 | 3 | 45 | 46 | 47 | 70 | 100 | 101 | 105 | 113 => 1,
        2 | 4 => 4,
        5 | 21 | 104 | 106 => 2,
        6 => 5,
        7 | 13 | 15 | 20 | 50 | 112 => 5,
        8 | 14 | 16 => 8,
        9 | 11 | 48 | 49 | 110 | 111 => 3,
        10 | 12 | 17 => 6,
        18 | 19 | 103 => 7,
        30 | 31 | 58 | 59 | 60 => 8,
        32 | 107 => 9,
        33 | 36 | 37 | 63 => 12,
        34 | 35 | 38 | 61 | 62 => 10,
        39 | 40 | 64 => 11,
        51 => 4,
        102 => 0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_s_and_i_formats() {
        let mut r = Iec104::default();
        assert_eq!(parse(&[0x68, 4, 0x07, 0, 0, 0], &mut r), Ok(()));
        assert_eq!((r.format.as_str(), r.u_function, r.u_function_name.as_str()), ("U", 4, "STARTDT act"));
        let mut r = Iec104::default();
        assert_eq!(parse(&[0x68, 4, 0x01, 0, 0x0a, 0x01], &mut r), Ok(()));
        assert_eq!((r.format.as_str(), r.recv_seq), ("S", 133));
        // I format, C_IC_NA_1 (100) activation (cause 6) to common address 1, IOA 0, QOI 20.
        let apdu = [0x68, 0x0e, 0x02, 0x00, 0x04, 0x00, 100, 0x01, 0x06, 0x00, 0x01, 0x00, 0, 0, 0, 20];
        let mut r = Iec104::default();
        assert_eq!(parse(&apdu, &mut r), Ok(()));
        assert_eq!((r.format.as_str(), r.send_seq, r.recv_seq), ("I", 1, 2));
        assert_eq!((r.type_id, r.sq, r.num_objects, r.cause_tx, r.negative, r.test), (100, false, 1, 6, false, false));
        assert_eq!((r.originator_address, r.common_address, r.ioas.as_slice()), (0, 1, &[0][..]));
        for cut in 0..apdu.len() {
            let mut r = Iec104::default();
            assert!(parse(&apdu[..cut], &mut r).is_err(), "{cut}");
        }
    }

    #[test]
    fn sq_lists_consecutive_addresses() {
        // M_ME_NB_1 (11), SQ, 3 elements from IOA 0x010203.
        let mut a = vec![0x68, 0, 0, 0, 0, 0, 11, 0x83, 3, 0, 7, 0, 3, 2, 1];
        a.extend([0u8; 9]);
        a[1] = (a.len() - 2) as u8;
        let mut r = Iec104::default();
        assert_eq!(parse(&a, &mut r), Ok(()));
        assert_eq!(r.ioas, [0x010203, 0x010204, 0x010205]);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut b = vec![0x68, 0];
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            b[1] = (b.len().saturating_sub(2)) as u8;
            let mut r = Iec104::default();
            let _ = parse(&b, &mut r);
        }
    }
}
