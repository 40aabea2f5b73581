//! S7comm over TPKT (RFC 1006) and COTP (ISO 8073 class 0), TCP port 102: one `S7comm` record
//! per TPKT packet, with its COTP TPDU (connection request/confirm with the TSAPs and TPDU size,
//! disconnect, data with TPDU number and EOT) and the S7comm PDU a data TPDU carries (header,
//! setup communication, read/write variable items and return codes, the PI service of PLC
//! control and stop, the other job functions by code, userdata groups), or the framing of an S7comm-plus PDU (version, length, opcode, function;
//! never decrypted). Field layouts follow Wireshark's `packet-s7comm.c` and the S7comm-plus
//! dissector's documented header (protocol id 0x72, version, length; version 3 puts a 32-byte
//! digest, preceded by its length, before the opcode).
//!
//! COTP segmentation (a TSDU over several DT TPDUs, EOT clear) is reassembled per direction, as
//! Wireshark does: the TPDUs without EOT are records with only their COTP fields, and the one
//! with EOT carries the S7 PDU of the whole TSDU (at most [`MAX_TSDU`] octets).

use crate::{Ctx, Framing, T_S7COMM, be16, set};
use netcap_proto::v1::{S7Item, S7comm};
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_BAD_TPKT: &str = "s7comm: bad tpkt header";
pub const E_COTP_TRUNCATED: &str = "s7comm: cotp header truncated";
pub const E_S7_TRUNCATED: &str = "s7comm: pdu truncated";
pub const E_TRUNCATED: &str = "s7comm: tpkt packet truncated";
pub const E_GAP: &str = "s7comm: gap in stream";
pub const E_TSDU_TOO_LONG: &str = "s7comm: cotp tsdu too long";

/// Largest COTP TSDU reassembled (S7 PDUs are at most 960 octets; S7comm-plus ones longer).
pub const MAX_TSDU: usize = 65536;

/// Per-connection state: the record reused for each message, and each direction's COTP TSDU
/// so far (the data of DT TPDUs without EOT).
#[derive(Default)]
pub struct Conn {
    rec: S7comm,
    tsdu: [Vec<u8>; 2],
}

/// Whether `b` (a connection's first bytes) can start a TPKT packet.
pub fn starts(b: &[u8]) -> bool {
    b.first() == Some(&3) && b.get(1).is_none_or(|&r| r == 0)
}

impl Framing for Conn {
    const HEADER: usize = 4;
    const TRUNCATED: &'static str = E_TRUNCATED;
    const GAP: &'static str = E_GAP;

    fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        // Version 3; at least the TPKT header and a COTP length indicator.
        if h[0] != 3 || len < 5 { Err(E_BAD_TPKT) } else { Ok(len) }
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
        let err = parse_with(msg, r, &mut self.tsdu[dir.index()]).err();
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
        out.record(T_S7COMM, r);
        if let Some(k) = cut.or(err) {
            out.error(k);
        }
    }
}

/// Parses one TPKT packet (`msg` starts with its header; it may be cut short) into `r`; the
/// error is the first problem found (the fields before it are set). A DT TPDU without EOT is
/// not read further.
pub fn parse(msg: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    parse_with(msg, r, &mut Vec::new())
}

/// [`parse`] with `tsdu`, the direction's COTP TSDU so far: a DT TPDU without EOT adds its data
/// to it, the one with EOT completes it.
pub fn parse_with(msg: &[u8], r: &mut S7comm, tsdu: &mut Vec<u8>) -> Result<(), &'static str> {
    r.tpkt_version = u32::from(*msg.first().ok_or(E_TRUNCATED)?);
    r.tpkt_length = u32::from(be16(msg, 2).ok_or(E_TRUNCATED)?);
    let end = (r.tpkt_length as usize).min(msg.len());
    let cotp = msg.get(4..end).unwrap_or_default();
    let li = usize::from(*cotp.first().ok_or(E_COTP_TRUNCATED)?);
    let Some(hdr) = cotp.get(1..1 + li) else {
        // What there is of the header still says the type.
        if let Some(t) = cotp.get(1) {
            r.cotp_type = u32::from(t >> 4);
        }
        return Err(E_COTP_TRUNCATED);
    };
    let &t = hdr.first().ok_or(E_COTP_TRUNCATED)?;
    r.cotp_type = u32::from(t >> 4);
    match t >> 4 {
        0x0e | 0x0d | 0x08 | 0x0c => {
            // CR, CC, DR, DC: dst ref, src ref, class option (CR/CC) or reason (DR).
            let (Some(dst), Some(src)) = (be16(hdr, 1), be16(hdr, 3)) else { return Err(E_COTP_TRUNCATED) };
            (r.cotp_dst_ref, r.cotp_src_ref) = (u32::from(dst), u32::from(src));
            match t >> 4 {
                0x08 => r.cotp_reason = u32::from(*hdr.get(5).ok_or(E_COTP_TRUNCATED)?),
                0x0c => {}
                _ => {
                    r.cotp_class = u32::from(*hdr.get(5).ok_or(E_COTP_TRUNCATED)? >> 4);
                    return params(hdr.get(6..).unwrap_or_default(), r);
                }
            }
            Ok(())
        }
        0x0f => {
            let &nr = hdr.get(1).ok_or(E_COTP_TRUNCATED)?;
            r.cotp_tpdu_number = u32::from(nr & 0x7f);
            r.cotp_eot = nr & 0x80 != 0;
            let data = &cotp[1 + li..];
            if !r.cotp_eot {
                if tsdu.len() + data.len() > MAX_TSDU {
                    tsdu.clear();
                    return Err(E_TSDU_TOO_LONG);
                }
                tsdu.extend_from_slice(data);
                return Ok(());
            }
            if tsdu.is_empty() {
                return payload(data, r);
            }
            tsdu.extend_from_slice(data);
            let whole = std::mem::take(tsdu);
            let res = payload(&whole, r);
            *tsdu = whole;
            tsdu.clear();
            res
        }
        _ => Ok(()),
    }
}

/// The user data of a DT TPDU (or of a reassembled TSDU): S7comm, S7comm-plus or other.
fn payload(data: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    match data.first() {
        None => Ok(()),
        Some(0x32) => {
            set(&mut r.protocol, "s7comm");
            s7(data, r)
        }
        Some(0x72) => {
            set(&mut r.protocol, "s7comm-plus");
            s7plus(data, r)
        }
        Some(_) => {
            set(&mut r.protocol, "other");
            Ok(())
        }
    }
}

/// CR/CC variable part: parameters code, length, value.
fn params(mut p: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    while let [code, len, rest @ ..] = p {
        let v = rest.get(..usize::from(*len)).ok_or(E_COTP_TRUNCATED)?;
        match code {
            0xc0 => r.cotp_tpdu_size = v.first().map_or(0, |&e| 1u32.checked_shl(u32::from(e)).unwrap_or(0)),
            0xc1 => r.cotp_src_tsap.extend_from_slice(v),
            0xc2 => r.cotp_dst_tsap.extend_from_slice(v),
            _ => {}
        }
        p = &rest[v.len()..];
    }
    if p.is_empty() { Ok(()) } else { Err(E_COTP_TRUNCATED) }
}

/// ROSCTR values.
const JOB: u32 = 1;
const ACK: u32 = 2;
const ACK_DATA: u32 = 3;
const USERDATA: u32 = 7;
/// Functions.
const SETUP: u32 = 0xf0;
const READ_VAR: u32 = 0x04;
const WRITE_VAR: u32 = 0x05;
const PLC_CONTROL: u32 = 0x28;
const PLC_STOP: u32 = 0x29;

/// An S7comm PDU (`d` starts with protocol id 0x32).
fn s7(d: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    let &rosctr = d.get(1).ok_or(E_S7_TRUNCATED)?;
    r.rosctr = u32::from(rosctr);
    let hlen = if r.rosctr == ACK || r.rosctr == ACK_DATA { 12 } else { 10 };
    let h = d.get(..hlen).ok_or(E_S7_TRUNCATED)?;
    r.pdu_ref = u32::from(u16::from_be_bytes([h[4], h[5]]));
    r.param_length = u32::from(u16::from_be_bytes([h[6], h[7]]));
    r.data_length = u32::from(u16::from_be_bytes([h[8], h[9]]));
    if hlen == 12 {
        (r.error_class, r.error_code) = (u32::from(h[10]), u32::from(h[11]));
    }
    let rest = &d[hlen..];
    let plen = r.param_length as usize;
    let cut = rest.len() < plen + r.data_length as usize;
    let param = &rest[..plen.min(rest.len())];
    let data = rest.get(plen..).map(|x| &x[..(r.data_length as usize).min(x.len())]).unwrap_or_default();
    match r.rosctr {
        JOB | ACK_DATA => job(param, data, r)?,
        USERDATA => userdata(param, data, r)?,
        _ => {}
    }
    if cut { Err(E_S7_TRUNCATED) } else { Ok(()) }
}

/// Job and ack-data parameters and data.
fn job(param: &[u8], data: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    let Some(&f) = param.first() else { return Ok(()) };
    r.function = u32::from(f);
    let t = E_S7_TRUNCATED;
    match r.function {
        SETUP => {
            r.max_amq_calling = u32::from(be16(param, 2).ok_or(t)?);
            r.max_amq_called = u32::from(be16(param, 4).ok_or(t)?);
            r.pdu_length = u32::from(be16(param, 6).ok_or(t)?);
        }
        READ_VAR | WRITE_VAR => {
            r.item_count = u32::from(*param.get(1).ok_or(t)?);
            if r.rosctr == JOB {
                items(&param[2..], r)?;
            }
            match (r.rosctr, r.function) {
                (ACK_DATA, READ_VAR) | (JOB, WRITE_VAR) => data_items(data, r)?,
                (ACK_DATA, WRITE_VAR) => {
                    let n = (r.item_count as usize).min(data.len());
                    r.return_codes.extend(data[..n].iter().map(|&c| u32::from(c)));
                    if n < r.item_count as usize {
                        return Err(t);
                    }
                }
                _ => {}
            }
        }
        PLC_CONTROL | PLC_STOP if r.rosctr == JOB => {
            // PLC control: 7 unknown octets, a parameter block with its u16 length; PLC stop:
            // 5 unknown octets; then the PI service name with its u8 length.
            let at = if r.function == PLC_CONTROL { 10 + usize::from(be16(param, 8).ok_or(t)?) } else { 6 };
            let n = usize::from(*param.get(at).ok_or(t)?);
            let name = param.get(at + 1..at + 1 + n).ok_or(t)?;
            set(&mut r.pi_service, &String::from_utf8_lossy(name));
        }
        _ => {}
    }
    Ok(())
}

/// The variable specifications of a read/write job.
fn items(mut p: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    for _ in 0..r.item_count {
        let [_spec, len, rest @ ..] = p else { return Err(E_S7_TRUNCATED) };
        let v = rest.get(..usize::from(*len)).ok_or(E_S7_TRUNCATED)?;
        let mut it = S7Item { syntax_id: u32::from(*v.first().unwrap_or(&0)), ..S7Item::default() };
        if it.syntax_id == 0x10 && v.len() >= 10 {
            it.transport_size = u32::from(v[1]);
            it.length = u32::from(u16::from_be_bytes([v[2], v[3]]));
            it.db_number = u32::from(u16::from_be_bytes([v[4], v[5]]));
            it.area = u32::from(v[6]);
            it.address = u32::from_be_bytes([0, v[7], v[8], v[9]]);
        }
        r.items.push(it);
        p = &rest[v.len()..];
    }
    Ok(())
}

/// Data items (return code, transport size, length, data, fill byte between items).
fn data_items(mut d: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    for i in 0..r.item_count {
        let [code, size, l0, l1, rest @ ..] = d else { return Err(E_S7_TRUNCATED) };
        r.return_codes.push(u32::from(*code));
        // Only items that succeeded (0xff) or carry write data (0x00, reserved) have data: an
        // error item's length is not followed by bytes (as Wireshark reads it).
        let len = if matches!(code, 0x00 | 0xff) { usize::from(u16::from_be_bytes([*l0, *l1])) } else { 0 };
        // Sizes 3 (bit), 4 (byte/word/dword) and 5 (integer) count bits.
        let bytes = if matches!(size, 3..=5) { len.div_ceil(8) } else { len };
        let fill = usize::from(bytes % 2 == 1 && i + 1 < r.item_count);
        // The last item's data may end the PDU without its fill byte.
        d = rest.get(bytes + fill..).or_else(|| rest.get(bytes..)).ok_or(E_S7_TRUNCATED)?;
    }
    Ok(())
}

/// Userdata: parameter head, method, type and function group, subfunction, sequence number;
/// the data unit's return code.
fn userdata(param: &[u8], data: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    let Some(p) = param.get(..8) else { return if param.is_empty() { Ok(()) } else { Err(E_S7_TRUNCATED) } };
    r.userdata_type = u32::from(p[5] >> 4);
    r.userdata_function_group = u32::from(p[5] & 0x0f);
    r.userdata_subfunction = u32::from(p[6]);
    r.userdata_sequence = u32::from(p[7]);
    if let Some(&c) = data.first() {
        r.return_codes.push(u32::from(c));
    }
    Ok(())
}

/// S7comm-plus framing (`d` starts with protocol id 0x72).
fn s7plus(d: &[u8], r: &mut S7comm) -> Result<(), &'static str> {
    let (Some(&v), Some(len)) = (d.get(1), be16(d, 2)) else { return Err(E_S7_TRUNCATED) };
    r.plus_version = u32::from(v);
    r.plus_data_length = u32::from(len);
    let mut at = 4;
    if v == 3 {
        // Integrity part: digest length, digest.
        let &dl = d.get(at).ok_or(E_S7_TRUNCATED)?;
        at += 1 + usize::from(dl);
    }
    let &op = d.get(at).ok_or(E_S7_TRUNCATED)?;
    r.plus_opcode = u32::from(op);
    if op == 0x31 || op == 0x32 {
        r.plus_function = u32::from(be16(d, at + 3).ok_or(E_S7_TRUNCATED)?);
    }
    Ok(())
}

/// A COTP connection request (for tests of other modules).
#[cfg(test)]
pub(crate) fn tests_cr() -> Vec<u8> {
    tests::CR.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TPKT + COTP DT around `s7`.
    pub(crate) fn dt(s7: &[u8]) -> Vec<u8> {
        let mut v = vec![3, 0];
        v.extend(((7 + s7.len()) as u16).to_be_bytes());
        v.extend([2, 0xf0, 0x80]);
        v.extend(s7);
        v
    }

    /// A connection request (ISO 8073 13.3): TSAPs 0x0100 / 0x0102, TPDU size 2^10.
    pub(crate) const CR: [u8; 22] = [3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2];

    #[test]
    fn connection_request() {
        let mut r = S7comm::default();
        assert_eq!(parse(&CR, &mut r), Ok(()));
        assert_eq!((r.tpkt_version, r.tpkt_length, r.cotp_type), (3, 22, 0x0e));
        assert_eq!((r.cotp_dst_ref, r.cotp_src_ref, r.cotp_class), (0, 1, 0));
        assert_eq!((r.cotp_src_tsap.as_slice(), r.cotp_dst_tsap.as_slice()), (&[1, 0][..], &[1, 2][..]));
        assert_eq!(r.cotp_tpdu_size, 1024);
        assert_eq!(r.protocol, "");
    }

    #[test]
    fn setup_and_read_var() {
        // Setup communication job: max AmQ 1/1, PDU 480.
        let setup = dt(&[0x32, 1, 0, 0, 0, 0, 0, 8, 0, 0, 0xf0, 0, 0, 1, 0, 1, 1, 0xe0]);
        let mut r = S7comm::default();
        assert_eq!(parse(&setup, &mut r), Ok(()));
        assert_eq!((r.protocol.as_str(), r.rosctr, r.function), ("s7comm", 1, 0xf0));
        assert_eq!((r.max_amq_calling, r.max_amq_called, r.pdu_length), (1, 1, 480));
        assert!(r.cotp_eot);
        // Read var job: one S7ANY item, DB 5, 8 bytes from byte 2 bit 0 (address 16).
        let item = [0x12, 0x0a, 0x10, 2, 0, 8, 0, 5, 0x84, 0, 0, 16];
        let mut p = vec![0x32, 1, 0, 0, 0, 7, 0, 14, 0, 0, 4, 1];
        p.extend(item);
        let mut r = S7comm::default();
        assert_eq!(parse(&dt(&p), &mut r), Ok(()));
        assert_eq!((r.function, r.item_count, r.pdu_ref), (4, 1, 7));
        let it = &r.items[0];
        assert_eq!(
            (it.syntax_id, it.transport_size, it.length, it.db_number, it.area, it.address),
            (0x10, 2, 8, 5, 0x84, 16)
        );
        // Ack-data for two items: 3 bytes (fill byte follows the odd item) and a failure, whose
        // length (4) is not followed by data.
        let data = [0xff, 4, 0, 24, 1, 2, 3, 0, 0x0a, 0, 0, 4];
        let mut p = vec![0x32, 3, 0, 0, 0, 7, 0, 2, 0, data.len() as u8, 0, 0, 4, 2];
        p.extend(data);
        let mut r = S7comm::default();
        assert_eq!(parse(&dt(&p), &mut r), Ok(()));
        assert_eq!(r.return_codes, [0xff, 0x0a]);
        // Every truncation: a partial record and an error, never a panic.
        for cut in 0..dt(&p).len() {
            let mut r = S7comm::default();
            let _ = parse(&dt(&p)[..cut], &mut r);
        }
    }

    #[test]
    fn plc_control_and_stop_service_names() {
        // From snap7's and s7ident's captures (icsnpp-s7comm): PI service _MODU, P_PROGRAM.
        let control = [0x28, 0, 0, 0, 0, 0, 0, 0xfd, 0, 2, 0x45, 0x50, 5, b'_', b'M', b'O', b'D', b'U'];
        let stop = [0x29, 0, 0, 0, 0, 0, 9, b'P', b'_', b'P', b'R', b'O', b'G', b'R', b'A', b'M'];
        for (param, name) in [(&control[..], "_MODU"), (&stop[..], "P_PROGRAM")] {
            let mut p = vec![0x32, 1, 0, 0, 0, 1, 0, param.len() as u8, 0, 0];
            p.extend(param);
            let mut r = S7comm::default();
            assert_eq!(parse(&dt(&p), &mut r), Ok(()));
            assert_eq!(r.pi_service, name);
            let mut r = S7comm::default();
            assert_eq!(parse(&dt(&p[..p.len() - 1]), &mut r), Err(E_S7_TRUNCATED));
        }
    }

    #[test]
    fn s7plus_v3_skips_the_digest() {
        let mut p = vec![0x72, 3, 0, 40, 32];
        p.extend([0xaa; 32]);
        p.extend([0x31, 0, 0, 0x05, 0x86]);
        let mut r = S7comm::default();
        assert_eq!(parse(&dt(&p), &mut r), Ok(()));
        assert_eq!((r.plus_version, r.plus_data_length, r.plus_opcode, r.plus_function), (3, 40, 0x31, 0x586));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut b = vec![3, 0, 0, 0];
            for _ in 0..(x % 64) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            let n = b.len() as u16;
            b[2..4].copy_from_slice(&n.to_be_bytes());
            if b.len() > 5 {
                b[5] = [0xe0, 0xd0, 0xf0, 0x80][(x % 4) as usize];
            }
            if b.len() > 7 {
                b[7] = [0x32, 0x72, 0x00][(x % 3) as usize];
            }
            let mut r = S7comm::default();
            let _ = parse(&b, &mut r);
        }
    }
}
