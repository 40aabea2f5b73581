//! DNS message parsing, shared by the `dns` decoder (UDP) and the `stream` decoder (DNS over
//! TCP): one wire-format message in, a `netcap.v1.DNS` record (without its packet context) out.
//!
//! Names follow compression pointers with loop protection (at most [`MAX_JUMPS`] pointers and
//! [`MAX_NAME`] bytes of text per name). Every loop is bounded by the bytes present, never by a
//! count field. A message cut short yields the fields that were present and an error kind.

use netcap_proto::v1;
use netcap_proto::v1::dns::{EdnsOption, Mx, Question, ResourceRecord, Soa, Srv};
use netcap_sdk::fmt;

/// Most compression pointers followed in one name.
pub const MAX_JUMPS: usize = 64;
/// Most text bytes of one name (a valid name has at most 253).
pub const MAX_NAME: usize = 1024;

/// Why a name could not be read completely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name runs past the end of the message.
    Truncated,
    /// Too many compression pointers (a loop).
    Loop,
    /// A label type other than 0 (plain) or 3 (pointer).
    BadLabel,
    /// The name text is longer than [`MAX_NAME`].
    TooLong,
}

impl NameError {
    pub fn kind(self) -> &'static str {
        match self {
            NameError::Truncated => "dns: name truncated",
            NameError::Loop => "dns: name pointer loop",
            NameError::BadLabel => "dns: bad label type",
            NameError::TooLong => "dns: name too long",
        }
    }
}

/// Reads the name at `at` in `msg` into `s`; returns the offset after the name in place (the
/// pointer's end when compressed). On error `s` holds the labels read so far.
pub fn read_name(msg: &[u8], mut at: usize, s: &mut String) -> Result<usize, (NameError, usize)> {
    s.clear();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let Some(&len) = msg.get(at) else {
            return Err((NameError::Truncated, end.unwrap_or(msg.len())));
        };
        match len >> 6 {
            0 => {
                if len == 0 {
                    return Ok(end.unwrap_or(at + 1));
                }
                let n = usize::from(len);
                let Some(label) = msg.get(at + 1..at + 1 + n) else {
                    return Err((NameError::Truncated, end.unwrap_or(msg.len())));
                };
                if !s.is_empty() {
                    s.push('.');
                }
                push_label(s, label);
                if s.len() > MAX_NAME {
                    return Err((NameError::TooLong, end.unwrap_or(at + 1 + n)));
                }
                at += 1 + n;
            }
            3 => {
                let Some(&lo) = msg.get(at + 1) else {
                    return Err((NameError::Truncated, end.unwrap_or(msg.len())));
                };
                if end.is_none() {
                    end = Some(at + 2);
                }
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err((NameError::Loop, end.unwrap_or(at + 2)));
                }
                at = (usize::from(len & 0x3f) << 8) | usize::from(lo);
            }
            _ => return Err((NameError::BadLabel, end.unwrap_or(at + 1))),
        }
    }
}

/// Appends a label as Wireshark shows it: printable ASCII as is (a `.` inside a label included),
/// every other byte as `\DDD` (octal).
pub fn push_label(s: &mut String, label: &[u8]) {
    for &b in label {
        if b.is_ascii_graphic() || b == b' ' {
            s.push(b as char);
        } else {
            s.push('\\');
            s.push((b'0' + (b >> 6)) as char);
            s.push((b'0' + ((b >> 3) & 7)) as char);
            s.push((b'0' + (b & 7)) as char);
        }
    }
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Moves the elements of `v` to `spare` (keeping their allocations for reuse).
fn recycle<T>(v: &mut Vec<T>, spare: &mut Vec<T>) {
    spare.append(v);
}

/// A reset element from `spare`, or a new one.
fn take<T: Default>(spare: &mut Vec<T>) -> T {
    spare.pop().unwrap_or_default()
}

/// A reusable DNS message parser: the record it fills and spare allocations.
#[derive(Default)]
pub struct Message {
    /// The record of the last parsed message. The packet context (`timestamp`, addresses, ports,
    /// `tunnel_depth`, `mdns`) is the caller's to set.
    pub rec: v1::Dns,
    spare_q: Vec<Question>,
    spare_rr: Vec<ResourceRecord>,
}

impl Message {
    /// Fills [`Message::rec`] from one DNS message (all fields but the packet context); returns
    /// the error kind when it is malformed, with the fields read before the problem kept.
    pub fn parse(&mut self, msg: &[u8], mdns: bool) -> Option<&'static str> {
        let r = &mut self.rec;
        recycle(&mut r.questions, &mut self.spare_q);
        recycle(&mut r.answers, &mut self.spare_rr);
        recycle(&mut r.authorities, &mut self.spare_rr);
        recycle(&mut r.additionals, &mut self.spare_rr);
        let Some(h) = msg.get(..12) else {
            clear_header(r);
            return Some("dns: header truncated");
        };
        r.id = u32::from(u16::from_be_bytes([h[0], h[1]]));
        r.qr = h[2] & 0x80 != 0;
        r.op_code = u32::from((h[2] >> 3) & 0xf);
        r.aa = h[2] & 0x04 != 0;
        r.tc = h[2] & 0x02 != 0;
        r.rd = h[2] & 0x01 != 0;
        r.ra = h[3] & 0x80 != 0;
        r.z = u32::from((h[3] >> 4) & 0x7);
        r.response_code = u32::from(h[3] & 0xf);
        let counts = [0, 1, 2, 3].map(|k| u16::from_be_bytes([h[4 + 2 * k], h[5 + 2 * k]]));
        r.qd_count = u32::from(counts[0]);
        r.an_count = u32::from(counts[1]);
        r.ns_count = u32::from(counts[2]);
        r.ar_count = u32::from(counts[3]);
        let mut at = 12;
        for _ in 0..counts[0] {
            if at >= msg.len() {
                return Some("dns: questions truncated");
            }
            let mut q = take(&mut self.spare_q);
            let res = read_name(msg, at, &mut q.name);
            let (next, name_err) = match res {
                Ok(n) => (n, None),
                Err((e, n)) => (n, Some(e)),
            };
            let (ty, class) = (be16(msg, next), be16(msg, next + 2));
            q.r#type = u32::from(ty.unwrap_or(0));
            let class = class.unwrap_or(0);
            q.unicast_response = mdns && class & 0x8000 != 0;
            q.class = u32::from(if mdns { class & 0x7fff } else { class });
            r.questions.push(q);
            if let Some(e) = name_err {
                return Some(e.kind());
            }
            if ty.is_none() || be16(msg, next + 2).is_none() {
                return Some("dns: questions truncated");
            }
            at = next + 4;
        }
        for (section, &count) in counts[1..].iter().enumerate() {
            for _ in 0..count {
                if at >= msg.len() {
                    return Some("dns: records truncated");
                }
                let mut rr = take(&mut self.spare_rr);
                let res = resource_record(msg, at, mdns, &mut rr);
                let list = match section {
                    0 => &mut r.answers,
                    1 => &mut r.authorities,
                    _ => &mut r.additionals,
                };
                list.push(rr);
                match res {
                    Ok(n) => at = n,
                    Err(kind) => return Some(kind),
                }
            }
        }
        None
    }
}

fn clear_header(r: &mut v1::Dns) {
    r.id = 0;
    r.qr = false;
    r.op_code = 0;
    r.aa = false;
    r.tc = false;
    r.rd = false;
    r.ra = false;
    r.z = 0;
    r.response_code = 0;
    r.qd_count = 0;
    r.an_count = 0;
    r.ns_count = 0;
    r.ar_count = 0;
}

/// Resets every field of a resource record except the allocations.
fn reset_rr(rr: &mut ResourceRecord) {
    rr.name.clear();
    rr.r#type = 0;
    rr.class = 0;
    rr.ttl = 0;
    rr.data_length = 0;
    rr.data.clear();
    rr.ip.clear();
    rr.ns.clear();
    rr.cname.clear();
    rr.ptr.clear();
    rr.txts.clear();
    rr.soa = None;
    rr.srv = None;
    rr.mx = None;
    rr.opt.clear();
    rr.cache_flush = false;
    rr.udp_size = 0;
    rr.extended_rcode = 0;
    rr.edns_version = 0;
    rr.dnssec_ok = false;
}

/// Reads one resource record at `at` into `rr`; returns the offset after it.
fn resource_record(msg: &[u8], at: usize, mdns: bool, rr: &mut ResourceRecord) -> Result<usize, &'static str> {
    reset_rr(rr);
    let next = match read_name(msg, at, &mut rr.name) {
        Ok(n) => n,
        Err((e, _)) => return Err(e.kind()),
    };
    let Some(f) = msg.get(next..next + 10) else {
        // Keep what is there of the fixed fields.
        if let Some(t) = be16(msg, next) {
            rr.r#type = u32::from(t);
        }
        return Err("dns: records truncated");
    };
    let ty = u16::from_be_bytes([f[0], f[1]]);
    let class = u16::from_be_bytes([f[2], f[3]]);
    let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
    let rdlen = usize::from(u16::from_be_bytes([f[8], f[9]]));
    rr.r#type = u32::from(ty);
    rr.ttl = ttl;
    rr.data_length = rdlen as u32;
    if mdns && ty != 41 {
        rr.cache_flush = class & 0x8000 != 0;
        rr.class = u32::from(class & 0x7fff);
    } else {
        rr.class = u32::from(class);
    }
    let start = next + 10;
    let data_end = start + rdlen;
    let Some(rd) = msg.get(start..data_end) else {
        rr.data.extend_from_slice(msg.get(start..).unwrap_or_default());
        return Err("dns: rdata truncated");
    };
    rr.data.extend_from_slice(rd);
    if rd.is_empty() && ty != 41 {
        // Empty RDATA is legal (RFC 2136 2.4 and 2.5: the prerequisites and deletions of an
        // UPDATE, class ANY or NONE): an empty value, never an error. OPT (41) carries its
        // values in the class and TTL fields and is read below (an empty option list).
        return Ok(data_end);
    }
    let bad = Err("dns: bad rdata");
    match ty {
        // A
        1 => {
            if rd.len() != 4 {
                return bad;
            }
            fmt::set_ip(&mut rr.ip, rd);
        }
        // AAAA
        28 => {
            if rd.len() != 16 {
                return bad;
            }
            fmt::set_ip(&mut rr.ip, rd);
        }
        // NS, CNAME, PTR: one name. Names in RDATA are read from the whole message (compression)
        // but must start inside the RDATA.
        2 | 5 | 12 => {
            let s = match ty {
                2 => &mut rr.ns,
                5 => &mut rr.cname,
                _ => &mut rr.ptr,
            };
            if let Err((e, _)) = read_name(&msg[..data_end], start, s) {
                return Err(e.kind());
            }
        }
        // SOA
        6 => {
            let soa = rr.soa.get_or_insert_with(Soa::default);
            let m = &msg[..data_end];
            let after = read_name(m, start, &mut soa.mname).map_err(|(e, _)| e.kind())?;
            let after = read_name(m, after, &mut soa.rname).map_err(|(e, _)| e.kind())?;
            let n = |k: usize| be32(m, after + 4 * k);
            match (n(0), n(1), n(2), n(3), n(4)) {
                (Some(a), Some(b), Some(c), Some(d), Some(e)) => {
                    (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum) = (a, b, c, d, e);
                }
                _ => return bad,
            }
        }
        // MX
        15 => {
            let mx = rr.mx.get_or_insert_with(Mx::default);
            let Some(pref) = be16(rd, 0) else { return bad };
            mx.preference = u32::from(pref);
            read_name(&msg[..data_end], start + 2, &mut mx.name).map_err(|(e, _)| e.kind())?;
        }
        // TXT: character-strings.
        16 => {
            let mut i = 0;
            while i < rd.len() {
                let n = usize::from(rd[i]);
                let Some(s) = rd.get(i + 1..i + 1 + n) else { return bad };
                rr.txts.push(String::from_utf8_lossy(s).into_owned());
                i += 1 + n;
            }
        }
        // SRV
        33 => {
            let srv = rr.srv.get_or_insert_with(Srv::default);
            let (Some(pr), Some(w), Some(port)) = (be16(rd, 0), be16(rd, 2), be16(rd, 4)) else { return bad };
            (srv.priority, srv.weight, srv.port) = (u32::from(pr), u32::from(w), u32::from(port));
            read_name(&msg[..data_end], start + 6, &mut srv.name).map_err(|(e, _)| e.kind())?;
        }
        // OPT (EDNS): class = UDP payload size, TTL = extended rcode, version, DO + Z.
        41 => {
            rr.udp_size = u32::from(class);
            rr.extended_rcode = ttl >> 24;
            rr.edns_version = (ttl >> 16) & 0xff;
            rr.dnssec_ok = ttl & 0x8000 != 0;
            let mut i = 0;
            while i < rd.len() {
                let (Some(code), Some(len)) = (be16(rd, i), be16(rd, i + 2)) else { return bad };
                let Some(data) = rd.get(i + 4..i + 4 + usize::from(len)) else { return bad };
                rr.opt.push(EdnsOption { code: u32::from(code), data: data.to_vec() });
                i += 4 + usize::from(len);
            }
        }
        _ => {}
    }
    Ok(data_end)
}
