//! DNS message parsing from the UDP layers the host dissected. The decoder checks the ports of
//! every UDP layer itself (53 for DNS, 5353 for mDNS), so it works whether the host hands it
//! all UDP packets or only those of its port interests, and decodes each matching UDP layer of a
//! tunnelled packet. The payload is bounded by the UDP length field and the captured bytes.
//!
//! Names follow compression pointers with loop protection (at most [`MAX_JUMPS`] pointers and
//! [`MAX_NAME`] bytes of text per name). Every loop is bounded by the bytes present, never by a
//! count field. A message cut short yields the fields that were present and an error.

use netcap_proto::v1;
use netcap_proto::v1::dns::{EdnsOption, Mx, Question, ResourceRecord, Soa, Srv};
use netcap_sdk::{Config, Emitter, Packet, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_DNS: u16 = 0;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 1] = [("DNS", "netcap.v1.DNS")];

/// What the decoder asks the host for.
pub const LAYERS: [&str; 2] = ["udp:53", "udp:5353"];

/// DNS and mDNS ports.
pub const PORT_DNS: u16 = 53;
pub const PORT_MDNS: u16 = 5353;

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
    fn kind(self) -> &'static str {
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
fn push_label(s: &mut String, label: &[u8]) {
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

/// Per-instance decoder state.
#[derive(Default)]
pub struct Dns {
    enabled: bool,
    rec: v1::Dns,
    spare_q: Vec<Question>,
    spare_rr: Vec<ResourceRecord>,
}

impl Dns {
    pub fn new(config: &Config) -> Self {
        Dns { enabled: config.record_type_enabled(RECORD_TYPES[0].0), ..Dns::default() }
    }

    pub fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        if !self.enabled {
            return;
        }
        for i in 0..p.layer_count() {
            let Some(l) = p.layer(i) else { break };
            if l.id != layer::UDP {
                continue;
            }
            let Some(h) = p.data.get(l.offset..l.offset + 8) else { continue };
            let (sp, dp) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
            let mdns = sp == PORT_MDNS || dp == PORT_MDNS;
            if !(mdns || sp == PORT_DNS || dp == PORT_DNS) {
                continue;
            }
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let start = l.offset + 8;
            let end = if ulen >= 8 { (l.offset + ulen).min(p.data.len()) } else { p.data.len() };
            let msg = p.data.get(start..end).unwrap_or_default();
            let e = p.endpoints(i + 1);
            let r = &mut self.rec;
            r.timestamp = p.ts_nanos;
            fmt::set_ip(&mut r.src_ip, e.src);
            fmt::set_ip(&mut r.dst_ip, e.dst);
            r.src_port = u32::from(sp);
            r.dst_port = u32::from(dp);
            r.tunnel_depth = l.depth();
            r.mdns = mdns;
            let err = self.message(msg, mdns);
            out.record(T_DNS, &self.rec);
            if let Some(kind) = err {
                out.error(kind);
            }
        }
    }

    /// Fills the record from one DNS message; returns the error kind when it is malformed.
    fn message(&mut self, msg: &[u8], mdns: bool) -> Option<&'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::{Layer, packets, push_packet};
    use prost::Message;

    /// A DNS message builder for tests.
    struct B(Vec<u8>);

    impl B {
        fn header(id: u16, flags: u16, counts: [u16; 4]) -> B {
            let mut v = id.to_be_bytes().to_vec();
            v.extend_from_slice(&flags.to_be_bytes());
            for c in counts {
                v.extend_from_slice(&c.to_be_bytes());
            }
            B(v)
        }
        fn name(mut self, n: &str) -> B {
            for l in n.split('.').filter(|l| !l.is_empty()) {
                self.0.push(l.len() as u8);
                self.0.extend_from_slice(l.as_bytes());
            }
            self.0.push(0);
            self
        }
        fn raw(mut self, b: &[u8]) -> B {
            self.0.extend_from_slice(b);
            self
        }
        fn u16(self, v: u16) -> B {
            self.raw(&v.to_be_bytes())
        }
        fn u32(self, v: u32) -> B {
            self.raw(&v.to_be_bytes())
        }
        fn rr(self, ty: u16, class: u16, ttl: u32, rdata: &[u8]) -> B {
            self.u16(ty).u16(class).u32(ttl).u16(rdata.len() as u16).raw(rdata)
        }
    }

    /// IPv4 + UDP around `payload`, with the given ports; returns bytes and layers.
    fn udp_packet(sp: u16, dp: u16, payload: &[u8]) -> (Vec<u8>, Vec<Layer>) {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
        let ulen = (8 + payload.len()) as u16;
        p.extend_from_slice(&sp.to_be_bytes());
        p.extend_from_slice(&dp.to_be_bytes());
        p.extend_from_slice(&ulen.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let layers =
            vec![Layer { id: layer::IPV4, flags: 0, offset: 0 }, Layer { id: layer::UDP, flags: 0, offset: 20 }];
        (p, layers)
    }

    fn run(data: &[u8], layers: &[Layer]) -> (Vec<v1::Dns>, Vec<String>) {
        let mut batch = Vec::new();
        push_packet(&mut batch, 3, 42, 101, data.len() as u32, layers, data);
        let mut d = Dns::new(&Config::default());
        let mut out = Vec::new();
        for p in packets(&batch) {
            d.decode(&p, &mut Emitter::new(&mut out, p.seq));
        }
        let (mut recs, mut errs) = (Vec::new(), Vec::new());
        for e in netcap_sdk::entries(&out).map(Result::unwrap) {
            if e.tag == netcap_sdk::TAG_ERROR {
                errs.push(String::from_utf8(e.bytes.to_vec()).unwrap());
            } else {
                recs.push(v1::Dns::decode(e.bytes).unwrap());
            }
        }
        (recs, errs)
    }

    fn response() -> Vec<u8> {
        // Query example.com A; answers: CNAME (compressed), A, AAAA, MX, TXT, SRV, SOA in
        // authority, OPT in additional.
        B::header(0x1234, 0x8180, [1, 6, 1, 1])
            .name("example.com")
            .u16(1)
            .u16(1)
            .raw(&[0xc0, 12])
            .rr(5, 1, 300, &[3, b'w', b'w', b'w', 0xc0, 12])
            .raw(&[0xc0, 12])
            .rr(1, 1, 60, &[192, 0, 2, 7])
            .raw(&[0xc0, 12])
            .rr(28, 1, 60, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
            .raw(&[0xc0, 12])
            .rr(15, 1, 60, &[0, 10, 2, b'm', b'x', 0xc0, 12])
            .raw(&[0xc0, 12])
            .rr(16, 1, 60, &[3, b'a', b'=', b'b', 0, 2, b'h', b'i'])
            .raw(&[0xc0, 12])
            .rr(33, 1, 60, &[0, 1, 0, 2, 0x13, 0xc4, 0xc0, 12])
            .raw(&[0xc0, 12])
            .rr(
                6,
                1,
                3600,
                &[
                    2, b'n', b's', 0xc0, 12, 1, b'h', 0xc0, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0,
                    0, 5,
                ],
            )
            .raw(&[0])
            .rr(41, 4096, 0x0100_8000, &[0, 10, 0, 2, 0xab, 0xcd])
            .0
    }

    #[test]
    fn full_response() {
        let (p, l) = udp_packet(53, 40000, &response());
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty(), "{errs:?}");
        let r = &recs[0];
        assert_eq!((r.id, r.qr, r.rd, r.ra, r.response_code), (0x1234, true, true, true, 0));
        assert_eq!(
            (r.src_ip.as_str(), r.dst_ip.as_str(), r.src_port, r.dst_port),
            ("192.0.2.1", "192.0.2.2", 53, 40000)
        );
        assert_eq!(r.questions[0].name, "example.com");
        let a = &r.answers;
        assert_eq!(a.len(), 6);
        assert_eq!(a[0].cname, "www.example.com");
        assert_eq!((a[1].ip.as_str(), a[1].ttl), ("192.0.2.7", 60));
        assert_eq!(a[2].ip, "2001:db8::1");
        assert_eq!(a[3].mx, Some(Mx { preference: 10, name: "mx.example.com".into() }));
        assert_eq!(a[4].txts, vec!["a=b", "", "hi"]);
        assert_eq!(a[5].srv, Some(Srv { priority: 1, weight: 2, port: 5060, name: "example.com".into() }));
        let soa = r.authorities[0].soa.as_ref().unwrap();
        assert_eq!(
            (soa.mname.as_str(), soa.rname.as_str(), soa.serial, soa.minimum),
            ("ns.example.com", "h.example.com", 1, 5)
        );
        let opt = &r.additionals[0];
        assert_eq!(
            (opt.name.as_str(), opt.udp_size, opt.extended_rcode, opt.edns_version, opt.dnssec_ok),
            ("", 4096, 1, 0, true)
        );
        assert_eq!(opt.opt, vec![EdnsOption { code: 10, data: vec![0xab, 0xcd] }]);
    }

    #[test]
    fn mdns_bits_and_other_ports() {
        let m = B::header(0, 0x8400, [1, 1, 0, 0])
            .name("a.local")
            .u16(12)
            .u16(0x8001)
            .raw(&[0xc0, 12])
            .rr(1, 0x8001, 120, &[10, 0, 0, 1])
            .0;
        let (p, l) = udp_packet(5353, 5353, &m);
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty());
        let r = &recs[0];
        assert!(r.mdns && r.questions[0].unicast_response && r.answers[0].cache_flush);
        assert_eq!((r.questions[0].class, r.answers[0].class), (1, 1));
        let (p, l) = udp_packet(1000, 2000, &m);
        assert!(run(&p, &l).0.is_empty());
    }

    #[test]
    fn pointer_loops_end() {
        let m = B::header(1, 0, [1, 0, 0, 0]).raw(&[1, b'a', 0xc0, 12]).u16(1).u16(1).0;
        let (p, l) = udp_packet(1, 53, &m);
        let (recs, errs) = run(&p, &l);
        assert_eq!(errs, vec!["dns: name pointer loop"]);
        assert!(recs[0].questions[0].name.starts_with("a.a.a"));
        // Pointer to itself.
        let m = B::header(1, 0, [1, 0, 0, 0]).raw(&[0xc0, 12]).0;
        let (p, l) = udp_packet(1, 53, &m);
        assert_eq!(run(&p, &l).1, vec!["dns: name pointer loop"]);
    }

    #[test]
    fn every_truncation_is_partial_with_an_error() {
        let m = response();
        for n in 0..m.len() {
            let (mut p, l) = udp_packet(53, 1, &m[..n]);
            // Keep the UDP length of the whole message: the capture is cut short.
            let ulen = (8 + m.len()) as u16;
            p[24..26].copy_from_slice(&ulen.to_be_bytes());
            let (recs, errs) = run(&p, &l);
            assert_eq!(recs.len(), 1, "at {n}");
            assert_eq!(errs.len(), 1, "at {n}: {errs:?}");
            if n >= 12 {
                assert_eq!(recs[0].id, 0x1234);
            }
        }
        // Cut inside the UDP header: nothing.
        let (p, l) = udp_packet(53, 1, &m);
        assert!(run(&p[..25], &l).0.is_empty());
    }

    #[test]
    fn tunnelled_layers_each_decoded() {
        let m = B::header(7, 0x0100, [1, 0, 0, 0]).name("x").u16(1).u16(1).0;
        let (inner, _) = udp_packet(2000, 53, &m);
        let (mut p, mut l) = udp_packet(3000, 4789, &[]);
        let off = p.len();
        p.extend_from_slice(&inner);
        let ulen = (p.len() - 20) as u16;
        p[24..26].copy_from_slice(&ulen.to_be_bytes());
        l.push(Layer { id: layer::IPV4, flags: 1 << layer::DEPTH_SHIFT, offset: off });
        l.push(Layer { id: layer::UDP, flags: 1 << layer::DEPTH_SHIFT, offset: off + 20 });
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty());
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].tunnel_depth, recs[0].id, recs[0].dst_port), (1, 7, 53));
    }

    #[test]
    fn label_escapes() {
        let mut s = String::new();
        push_label(&mut s, b"a.b\\c\x01 \xff");
        assert_eq!(s, "a.b\\c\\001 \\377");
    }
}
