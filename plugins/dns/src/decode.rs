//! DNS message parsing from the UDP layers the host dissected. The decoder checks the ports of
//! every UDP layer itself (53 for DNS, 5353 for mDNS, 5355 for LLMNR), so it works whether the host hands it
//! all UDP packets or only those of its port interests, and decodes each matching UDP layer of a
//! tunnelled packet. The payload is bounded by the UDP length field and the captured bytes.
//!
//! The message itself is parsed by `netcap-dns-parse` (shared with DNS over TCP in the `stream`
//! decoder); a message cut short yields the fields that were present and an error.

pub use netcap_dns_parse::{MAX_JUMPS, MAX_NAME, Message, NameError, read_name};
use netcap_sdk::{Config, Emitter, Packet, fmt, layer};

/// Type ids: indexes into the record types this decoder declares.
pub const T_DNS: u16 = 0;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 1] = [("DNS", "netcap.v1.DNS")];

/// What the decoder asks the host for.
pub const LAYERS: [&str; 3] = ["udp:53", "udp:5353", "udp:5355"];

/// DNS, mDNS and LLMNR ports.
pub const PORT_DNS: u16 = 53;
pub const PORT_MDNS: u16 = 5353;
pub const PORT_LLMNR: u16 = 5355;
/// Per-instance decoder state.
#[derive(Default)]
pub struct Dns {
    enabled: bool,
    msg: Message,
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
            let llmnr = !mdns && (sp == PORT_LLMNR || dp == PORT_LLMNR);
            if !(mdns || llmnr || sp == PORT_DNS || dp == PORT_DNS) {
                continue;
            }
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let start = l.offset + 8;
            let end = if ulen >= 8 { (l.offset + ulen).min(p.data.len()) } else { p.data.len() };
            let msg = p.data.get(start..end).unwrap_or_default();
            let e = p.endpoints(i + 1);
            let r = &mut self.msg.rec;
            r.timestamp = p.ts_nanos;
            fmt::set_ip(&mut r.src_ip, e.src);
            fmt::set_ip(&mut r.dst_ip, e.dst);
            r.src_port = u32::from(sp);
            r.dst_port = u32::from(dp);
            r.tunnel_depth = l.depth();
            r.mdns = mdns;
            let err = self.msg.parse(msg, mdns);
            llmnr_flags(&mut self.msg.rec, llmnr, msg);
            out.record(T_DNS, &self.msg.rec);
            if let Some(kind) = err {
                out.error(kind);
            }
        }
    }
}

/// Reads the header flags LLMNR (RFC 4795 2.1.1) puts where DNS has AA, RD, RA and Z: the C and T
/// bits and four reserved bits. Clears them for plain DNS and mDNS (the record is reused).
fn llmnr_flags(r: &mut netcap_proto::v1::Dns, llmnr: bool, msg: &[u8]) {
    r.llmnr = llmnr;
    r.conflict = false;
    r.tentative = false;
    if !llmnr {
        return;
    }
    r.aa = false;
    r.rd = false;
    r.ra = false;
    r.z = 0;
    // Like the DNS header fields: all or nothing from a complete 12-byte header.
    if let Some(h) = msg.get(..12) {
        r.conflict = h[2] & 0x04 != 0;
        r.tentative = h[2] & 0x01 != 0;
        r.z = u32::from(h[3] >> 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_dns_parse::push_label;
    use netcap_proto::v1;
    use netcap_proto::v1::dns::{EdnsOption, Mx, Srv};
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
    fn llmnr_flags_and_port() {
        // A response with C and T set, a reserved Z bit and an answer: class bits are not mDNS's.
        let m = B::header(0x04d2, 0x8500 | 0x0010, [1, 1, 0, 0])
            .name("host")
            .u16(1)
            .u16(0x8001)
            .raw(&[0xc0, 12])
            .rr(1, 1, 30, &[10, 0, 0, 9])
            .0;
        let (p, l) = udp_packet(5355, 49152, &m);
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty(), "{errs:?}");
        let r = &recs[0];
        assert!(r.llmnr && !r.mdns && r.qr && r.conflict && r.tentative);
        assert!(!r.aa && !r.rd && !r.ra);
        assert_eq!((r.z, r.response_code, r.questions[0].class), (1, 0, 0x8001));
        assert_eq!((r.answers[0].ip.as_str(), r.answers[0].ttl), ("10.0.0.9", 30));
        // The same bytes on port 53 are DNS: AA and RD, no LLMNR flags.
        let (p, l) = udp_packet(53, 49152, &m);
        let r = &run(&p, &l).0[0];
        assert!(!r.llmnr && r.aa && r.rd && !r.conflict && !r.tentative);
        // Cut inside the header: a record with an error, no flags.
        let (p, l) = udp_packet(49152, 5355, &m[..5]);
        let (recs, errs) = run(&p, &l);
        assert_eq!(errs, vec!["dns: header truncated"]);
        assert!(recs[0].llmnr && !recs[0].conflict);
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

    /// A dynamic update as Windows clients send it (RFC 2136): zone SOA; prerequisite "no CNAME
    /// at the name" (class NONE, RDLENGTH 0); update "delete all AAAA" and "delete all A" (class
    /// ANY, RDLENGTH 0), then "add A". Empty RDATA is an empty value: every record is kept.
    #[test]
    fn update_with_empty_rdata() {
        let m = B::header(0x6b2e, 0x2800, [1, 1, 3, 0])
            .name("corp.example")
            .u16(6)
            .u16(1)
            .name("ws1.corp.example")
            .rr(5, 254, 0, &[])
            .raw(&[0xc0, 30])
            .rr(28, 255, 0, &[])
            .raw(&[0xc0, 30])
            .rr(1, 255, 0, &[])
            .raw(&[0xc0, 30])
            .rr(1, 1, 1200, &[192, 0, 2, 55])
            .0;
        let (p, l) = udp_packet(53001, 53, &m);
        let (recs, errs) = run(&p, &l);
        assert!(errs.is_empty(), "{errs:?}");
        let r = &recs[0];
        assert_eq!((r.op_code, r.qd_count, r.an_count, r.ns_count), (5, 1, 1, 3));
        assert_eq!(r.questions[0].name, "corp.example");
        let pre = &r.answers[0];
        assert_eq!((pre.name.as_str(), pre.r#type, pre.class, pre.data_length), ("ws1.corp.example", 5, 254, 0));
        assert!(pre.cname.is_empty() && pre.data.is_empty());
        let up: Vec<(String, u32, u32, u32, String)> =
            r.authorities.iter().map(|a| (a.name.clone(), a.r#type, a.class, a.ttl, a.ip.clone())).collect();
        assert_eq!(
            up,
            vec![
                ("ws1.corp.example".into(), 28, 255, 0, String::new()),
                ("ws1.corp.example".into(), 1, 255, 0, String::new()),
                ("ws1.corp.example".into(), 1, 1, 1200, "192.0.2.55".into()),
            ]
        );
        // Empty RDATA is legal for every type, also those whose RDATA holds a name (NS, SOA, MX).
        for ty in [2u16, 6, 12, 15, 16, 33, 41] {
            let m = B::header(1, 0x2800, [0, 0, 1, 0]).name("a").rr(ty, 255, 0, &[]).0;
            let (p, l) = udp_packet(1, 53, &m);
            let (recs, errs) = run(&p, &l);
            assert!(errs.is_empty(), "type {ty}: {errs:?}");
            assert_eq!(recs[0].authorities.len(), 1, "type {ty}");
        }
    }

    #[test]
    fn label_escapes() {
        let mut s = String::new();
        push_label(&mut s, b"a.b\\c\x01 \xff");
        assert_eq!(s, "a.b\\c\\001 \\377");
    }
}
