//! NetBIOS over UDP (RFC 1002): the name service (port 137, a DNS-like message whose names are
//! 16-byte NetBIOS names in first-level encoding, 32 letters 'A'-'P') into NBNS records, and the
//! datagram service (port 138) header and names into NBDGM records. Names are formatted as
//! Wireshark shows them (see the proto). A message cut short or malformed keeps what was read
//! before the problem and returns the error kind.

use netcap_proto::v1;
use netcap_proto::v1::nbns::{Address, NodeName, Question, ResourceRecord};

/// Error kinds.
pub const E_NS_HEADER: &str = "nbns: header truncated";
pub const E_NS_TRUNCATED: &str = "nbns: message truncated";
pub const E_NAME: &str = "netbios: bad name encoding";
pub const E_NAME_LOOP: &str = "netbios: name pointer loop";
pub const E_DGM_HEADER: &str = "nbdgm: header truncated";
pub const E_DGM_TRUNCATED: &str = "nbdgm: message truncated";

/// Most compression pointers followed in one name.
const MAX_JUMPS: usize = 16;
/// Length of a NetBIOS name in bytes (15 characters and the suffix).
const NB_LEN: usize = 16;

fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// The element `i` of `v`, reusing an element left from an earlier message when there is one.
fn slot<T: Default>(v: &mut Vec<T>, i: usize) -> &mut T {
    if i >= v.len() {
        v.push(T::default());
    }
    &mut v[i]
}

/// Appends the first 15 bytes of a NetBIOS name as Wireshark shows them (printable ASCII as is,
/// other bytes as `<xx>`, trailing spaces removed) and returns the suffix byte.
pub fn push_nb_name(out: &mut String, raw: &[u8; NB_LEN]) -> u32 {
    for &c in &raw[..NB_LEN - 1] {
        if (b' '..=b'~').contains(&c) {
            out.push(char::from(c));
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push('<');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0xf)]));
            out.push('>');
        }
    }
    let keep = out.trim_end_matches(' ').len();
    out.truncate(keep);
    u32::from(raw[NB_LEN - 1])
}

/// Decodes a first-level encoded label (32 letters 'A'-'P', two per byte).
fn first_level(label: &[u8]) -> Option<[u8; NB_LEN]> {
    if label.len() != 2 * NB_LEN {
        return None;
    }
    let mut raw = [0u8; NB_LEN];
    for (k, pair) in label.chunks_exact(2).enumerate() {
        let hi = pair[0].wrapping_sub(b'A');
        let lo = pair[1].wrapping_sub(b'A');
        if hi > 15 || lo > 15 {
            return None;
        }
        raw[k] = (hi << 4) | lo;
    }
    Some(raw)
}

/// A name read into its three fields.
pub struct NameOut<'a> {
    pub name: &'a mut String,
    pub suffix: &'a mut u32,
    pub scope: &'a mut String,
}

/// Reads the (possibly compressed) encoded name at `at` of `msg`: the NetBIOS name from the
/// first label and the scope from the others. Returns the offset after the name, or the error
/// kind (the fields hold what was read).
pub fn read_name(msg: &[u8], at: usize, o: NameOut<'_>) -> Result<usize, &'static str> {
    o.name.clear();
    o.scope.clear();
    *o.suffix = 0;
    let (mut pos, mut next, mut jumps, mut first) = (at, None, 0, true);
    loop {
        let len = *msg.get(pos).ok_or(E_NS_TRUNCATED)?;
        if len == 0 {
            return Ok(next.unwrap_or(pos + 1));
        }
        if len & 0xc0 == 0xc0 {
            let ptr = usize::from(be16(msg, pos).ok_or(E_NS_TRUNCATED)? & 0x3fff);
            next.get_or_insert(pos + 2);
            jumps += 1;
            if jumps > MAX_JUMPS {
                return Err(E_NAME_LOOP);
            }
            pos = ptr;
            continue;
        }
        if len & 0xc0 != 0 {
            return Err(E_NAME);
        }
        let label = msg.get(pos + 1..pos + 1 + usize::from(len)).ok_or(E_NS_TRUNCATED)?;
        if first {
            let raw = first_level(label).ok_or(E_NAME)?;
            *o.suffix = push_nb_name(o.name, &raw);
            first = false;
        } else {
            if !o.scope.is_empty() {
                o.scope.push('.');
            }
            o.scope.extend(label.iter().map(|&c| char::from(c)));
        }
        pos += 1 + usize::from(len);
    }
}

/// Fills `r` (all fields but the packet context) from one name service message.
pub fn parse_ns(msg: &[u8], r: &mut v1::Nbns) -> Option<&'static str> {
    let counts = [&mut r.qd_count, &mut r.an_count, &mut r.ns_count, &mut r.ar_count];
    let Some(h) = msg.get(..12) else {
        for c in counts {
            *c = 0;
        }
        (r.transaction_id, r.response, r.opcode, r.rcode) = (0, false, 0, 0);
        (r.authoritative, r.truncated, r.recursion_desired, r.recursion_available, r.broadcast) =
            (false, false, false, false, false);
        r.questions.clear();
        r.answers.clear();
        r.authorities.clear();
        r.additionals.clear();
        return Some(E_NS_HEADER);
    };
    r.transaction_id = u32::from(u16::from_be_bytes([h[0], h[1]]));
    r.response = h[2] & 0x80 != 0;
    r.opcode = u32::from((h[2] >> 3) & 0xf);
    r.authoritative = h[2] & 0x04 != 0;
    r.truncated = h[2] & 0x02 != 0;
    r.recursion_desired = h[2] & 0x01 != 0;
    r.recursion_available = h[3] & 0x80 != 0;
    r.broadcast = h[3] & 0x10 != 0;
    r.rcode = u32::from(h[3] & 0xf);
    for (k, c) in counts.into_iter().enumerate() {
        *c = u32::from(u16::from_be_bytes([h[4 + 2 * k], h[5 + 2 * k]]));
    }
    let (qd, an, ns, ar) = (r.qd_count, r.an_count, r.ns_count, r.ar_count);
    let mut at = 12;
    let mut err = questions(msg, &mut at, qd, &mut r.questions).err();
    for (n, v) in [(an, &mut r.answers), (ns, &mut r.authorities), (ar, &mut r.additionals)] {
        // Sections after the one that failed are empty.
        if err.is_some() {
            v.clear();
        } else {
            err = records(msg, &mut at, n, v).err();
        }
    }
    err
}

/// Reads `n` questions at `*at` into `v` (truncated to those read, the failing one kept).
fn questions(msg: &[u8], at: &mut usize, n: u32, v: &mut Vec<Question>) -> Result<(), &'static str> {
    let mut i = 0;
    let res = (|| {
        while i < n as usize {
            let q = slot(v, i);
            i += 1;
            let o = NameOut { name: &mut q.name, suffix: &mut q.suffix, scope: &mut q.scope };
            (q.r#type, q.class) = (0, 0);
            *at = read_name(msg, *at, o)?;
            q.r#type = u32::from(be16(msg, *at).ok_or(E_NS_TRUNCATED)?);
            q.class = u32::from(be16(msg, *at + 2).ok_or(E_NS_TRUNCATED)?);
            *at += 4;
        }
        Ok(())
    })();
    v.truncate(i);
    res
}

/// Reads `n` resource records at `*at` into `v` (truncated to those read, the failing one kept).
fn records(msg: &[u8], at: &mut usize, n: u32, v: &mut Vec<ResourceRecord>) -> Result<(), &'static str> {
    let mut i = 0;
    let res = (|| {
        while i < n as usize {
            let rr = slot(v, i);
            i += 1;
            *at = record(msg, *at, rr)?;
        }
        Ok(())
    })();
    v.truncate(i);
    res
}

/// Reads one resource record at `at`; returns the offset after it.
fn record(msg: &[u8], at: usize, rr: &mut ResourceRecord) -> Result<usize, &'static str> {
    (rr.r#type, rr.class, rr.ttl, rr.data_length) = (0, 0, 0, 0);
    rr.addresses.clear();
    rr.node_names.clear();
    rr.unit_id.clear();
    let at = read_name(msg, at, NameOut { name: &mut rr.name, suffix: &mut rr.suffix, scope: &mut rr.scope })?;
    let fixed = msg.get(at..at + 10).ok_or(E_NS_TRUNCATED)?;
    rr.r#type = u32::from(u16::from_be_bytes([fixed[0], fixed[1]]));
    rr.class = u32::from(u16::from_be_bytes([fixed[2], fixed[3]]));
    rr.ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    rr.data_length = len as u32;
    let start = at + 10;
    let whole = msg.get(start..start + len);
    let data = whole.unwrap_or_else(|| msg.get(start..).unwrap_or_default());
    match rr.r#type {
        32 => nb_data(data, rr),
        33 => nbstat_data(data, rr),
        _ => {}
    }
    whole.map(|_| start + len).ok_or(E_NS_TRUNCATED)
}

/// NB RDATA: NB_FLAGS and an IPv4 address per entry.
fn nb_data(data: &[u8], rr: &mut ResourceRecord) {
    for e in data.chunks_exact(6) {
        let flags = u32::from(u16::from_be_bytes([e[0], e[1]]));
        let ip = std::net::Ipv4Addr::new(e[2], e[3], e[4], e[5]).to_string();
        rr.addresses.push(Address { flags, group: flags & 0x8000 != 0, node_type: (flags >> 13) & 3, ip });
    }
}

/// NBSTAT RDATA: the name table (15-byte names, suffix, NAME_FLAGS) and the unit id.
fn nbstat_data(data: &[u8], rr: &mut ResourceRecord) {
    let Some((&n, rest)) = data.split_first() else { return };
    let mut entries = rest.chunks_exact(18);
    for e in entries.by_ref().take(usize::from(n)) {
        let mut raw = [0u8; NB_LEN];
        raw.copy_from_slice(&e[..NB_LEN]);
        let mut name = String::new();
        let suffix = push_nb_name(&mut name, &raw);
        let flags = u32::from(u16::from_be_bytes([e[16], e[17]]));
        rr.node_names.push(NodeName { name, suffix, flags, group: flags & 0x8000 != 0 });
    }
    let after = 1 + 18 * usize::from(n);
    if let Some(m) = data.get(after..after + 6) {
        use std::fmt::Write;
        let _ = write!(rr.unit_id, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
    }
}

/// Fills `r` (all fields but the packet context) from one datagram service message.
pub fn parse_dgm(msg: &[u8], r: &mut v1::Nbdgm) -> Option<&'static str> {
    (r.msg_type, r.flags, r.more, r.first, r.node_type, r.datagram_id) = (0, 0, false, false, 0, 0);
    r.source_ip.clear();
    (r.source_port, r.datagram_length, r.packet_offset, r.error_code) = (0, 0, 0, 0);
    for s in [&mut r.source_name, &mut r.source_scope, &mut r.destination_name, &mut r.destination_scope] {
        s.clear();
    }
    (r.source_suffix, r.destination_suffix) = (0, 0);
    let Some(h) = msg.get(..10) else { return Some(E_DGM_HEADER) };
    r.msg_type = u32::from(h[0]);
    r.flags = u32::from(h[1]);
    r.more = h[1] & 0x01 != 0;
    r.first = h[1] & 0x02 != 0;
    r.node_type = u32::from((h[1] >> 2) & 3);
    r.datagram_id = u32::from(u16::from_be_bytes([h[2], h[3]]));
    r.source_ip = std::net::Ipv4Addr::new(h[4], h[5], h[6], h[7]).to_string();
    r.source_port = u32::from(u16::from_be_bytes([h[8], h[9]]));
    let dgm_err = |e: &'static str| if e == E_NS_TRUNCATED { E_DGM_TRUNCATED } else { e };
    match r.msg_type {
        0x10..=0x12 => {
            let (Some(len), Some(off)) = (be16(msg, 10), be16(msg, 12)) else { return Some(E_DGM_TRUNCATED) };
            (r.datagram_length, r.packet_offset) = (u32::from(len), u32::from(off));
            let src = NameOut { name: &mut r.source_name, suffix: &mut r.source_suffix, scope: &mut r.source_scope };
            let at = match read_name(msg, 14, src) {
                Ok(at) => at,
                Err(e) => return Some(dgm_err(e)),
            };
            let dst = NameOut {
                name: &mut r.destination_name,
                suffix: &mut r.destination_suffix,
                scope: &mut r.destination_scope,
            };
            read_name(msg, at, dst).err().map(dgm_err)
        }
        0x13 => {
            let Some(&code) = msg.get(10) else { return Some(E_DGM_TRUNCATED) };
            r.error_code = u32::from(code);
            None
        }
        0x14..=0x16 => {
            let dst = NameOut {
                name: &mut r.destination_name,
                suffix: &mut r.destination_suffix,
                scope: &mut r.destination_scope,
            };
            read_name(msg, 10, dst).err().map(dgm_err)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A first-level encoded name label (length byte and 32 letters) for `name` and `suffix`.
    fn enc(name: &str, suffix: u8) -> Vec<u8> {
        let mut raw = [b' '; NB_LEN];
        raw[..name.len()].copy_from_slice(name.as_bytes());
        raw[15] = suffix;
        let mut v = vec![32];
        for b in raw {
            v.push(b'A' + (b >> 4));
            v.push(b'A' + (b & 0xf));
        }
        v
    }

    /// A registration request: question WS1<00>, additional NB record with a pointer to it.
    fn registration() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend(enc("WS1", 0));
        m.push(0);
        m.extend([0, 32, 0, 1]);
        m.extend([0xc0, 12, 0, 32, 0, 1, 0, 4, 0x93, 0xe0, 0, 6, 0x60, 0, 10, 0, 0, 7]);
        m
    }

    #[test]
    fn name_registration() {
        let mut r = v1::Nbns::default();
        assert_eq!(parse_ns(&registration(), &mut r), None);
        assert_eq!(
            (r.transaction_id, r.response, r.opcode, r.recursion_desired, r.broadcast),
            (0x1234, false, 5, true, true)
        );
        assert_eq!((r.questions[0].name.as_str(), r.questions[0].suffix, r.questions[0].r#type), ("WS1", 0, 32));
        let a = &r.additionals[0];
        assert_eq!((a.name.as_str(), a.ttl, a.data_length), ("WS1", 300_000, 6));
        assert_eq!(a.addresses, vec![Address { flags: 0x6000, group: false, node_type: 3, ip: "10.0.0.7".into() }]);
    }

    #[test]
    fn nbstat_response_and_names() {
        let mut m = vec![0, 1, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        m.extend(enc("*\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 0));
        m.extend([0, 0, 33, 0, 1, 0, 0, 0, 0, 0, 43, 2]);
        m.extend(b"HOST           \x00\x04\x00");
        m.extend(b"GROUP          \x1e\x84\x00");
        m.extend([0, 0x1c, 0xc4, 0x10, 0x79, 0x0f]);
        let mut r = v1::Nbns::default();
        assert_eq!(parse_ns(&m, &mut r), None);
        let a = &r.answers[0];
        assert_eq!(a.name, "*<00><00><00><00><00><00><00><00><00><00><00><00><00><00>");
        let n: Vec<(&str, u32, u32, bool)> =
            a.node_names.iter().map(|n| (n.name.as_str(), n.suffix, n.flags, n.group)).collect();
        assert_eq!(n, vec![("HOST", 0, 0x400, false), ("GROUP", 0x1e, 0x8400, true)]);
        assert_eq!(a.unit_id, "00:1c:c4:10:79:0f");
    }

    #[test]
    fn every_cut_and_garbling_is_partial() {
        let m = registration();
        let mut r = v1::Nbns::default();
        for n in 0..m.len() {
            let err = parse_ns(&m[..n], &mut r);
            assert!(err.is_some(), "cut at {n}");
            if n >= 12 {
                assert_eq!(r.transaction_id, 0x1234);
            }
        }
        // A letter outside 'A'-'P', a label of the wrong length, a pointer loop, huge counts.
        let mut g = m.clone();
        g[14] = b'Z';
        assert_eq!(parse_ns(&g, &mut r), Some(E_NAME));
        let mut g = m.clone();
        g[12] = 3;
        assert!(parse_ns(&g, &mut r).is_some());
        let mut g = m.clone();
        g[12..14].copy_from_slice(&[0xc0, 12]);
        assert_eq!(parse_ns(&g, &mut r), Some(E_NAME_LOOP));
        let mut g = m;
        g[4..12].copy_from_slice(&[0xff; 8]);
        assert!(parse_ns(&g, &mut r).is_some());
        assert_eq!(r.qd_count, 0xffff);
        // The list is bounded by the bytes there are, not by the count.
        assert!(r.questions.len() <= 4, "{}", r.questions.len());
    }

    fn datagram() -> Vec<u8> {
        let mut m = vec![0x11, 0x0e, 0x89, 0x1d, 192, 168, 1, 249, 0, 138, 0, 165, 0, 0];
        m.extend(enc("DJP95S0J", 0));
        m.push(0);
        m.extend(enc("\x01\x02__MSBROWSE__\x02", 1));
        m.push(0);
        m.extend(b"\xffSMB%");
        m
    }

    #[test]
    fn datagram_names_and_cuts() {
        let mut r = v1::Nbdgm::default();
        assert_eq!(parse_dgm(&datagram(), &mut r), None);
        assert_eq!((r.msg_type, r.first, r.more, r.node_type, r.datagram_id), (0x11, true, false, 3, 0x891d));
        assert_eq!((r.source_ip.as_str(), r.source_port, r.datagram_length), ("192.168.1.249", 138, 165));
        assert_eq!((r.source_name.as_str(), r.source_suffix), ("DJP95S0J", 0));
        assert_eq!((r.destination_name.as_str(), r.destination_suffix), ("<01><02>__MSBROWSE__<02>", 1));
        let m = datagram();
        let names_end = m.len() - 5;
        for n in 0..names_end {
            assert!(parse_dgm(&m[..n], &mut r).is_some(), "cut at {n}");
        }
        assert_eq!(parse_dgm(&[0x13, 2, 0, 1, 10, 0, 0, 1, 0, 138, 0x82], &mut r), None);
        assert_eq!(r.error_code, 0x82);
        let mut q = vec![0x14, 2, 0, 1, 10, 0, 0, 1, 0, 138];
        q.extend(enc("SRV", 0x20));
        q.push(0);
        assert_eq!(parse_dgm(&q, &mut r), None);
        assert_eq!((r.destination_name.as_str(), r.destination_suffix), ("SRV", 0x20));
    }
}
