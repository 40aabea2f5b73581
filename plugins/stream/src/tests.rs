//! Unit tests of the stream decoder: protocols driven by hand-built streams, split at every byte,
//! cut at every length, and fingerprints against vectors derived by hand from the specifications
//! (the hashes in comments were computed with coreutils `md5sum` / `sha256sum` over the strings
//! shown, not by this code).

use super::*;
use netcap_proto::v1;
use netcap_sdk::{CloseReason, Config, Emitter, EventMeta, StreamEvent, StreamInfo};

const CLIENT: [u8; 4] = [192, 0, 2, 1];
const SERVER: [u8; 4] = [198, 51, 100, 7];

fn info(port: u16) -> StreamInfo {
    let mut i = StreamInfo { id: 1, ip_version: 4, client_port: 40000, server_port: port, ..Default::default() };
    i.client_ip[..4].copy_from_slice(&CLIENT);
    i.server_ip[..4].copy_from_slice(&SERVER);
    i
}

/// What a run produced: records by type id (decoded later by the test) and error kinds.
#[derive(Default, Debug)]
struct Out {
    records: Vec<(u16, u64, Vec<u8>)>,
    errors: Vec<String>,
    verdicts: Vec<Verdict>,
}

impl Out {
    fn of<T: prost::Message + Default>(&self, ty: u16) -> Vec<T> {
        self.records.iter().filter(|r| r.0 == ty).map(|r| T::decode(&r.2[..]).expect("record decodes")).collect()
    }
}

/// One step of a test stream.
#[derive(Clone, Copy)]
enum Step<'a> {
    D(Dir, &'a [u8]),
    Gap(Dir, u32),
    Close,
}

/// Feeds `steps` (each data step as one event, packet seq = step index + 1, time = seq * 1000)
/// to a fresh decoder and collects what it emits, finish included. Events after a Decline or Done
/// are not fed, as the host would not.
fn run(port: u16, steps: &[Step<'_>]) -> Out {
    run_with(port, steps, &Config::default())
}

fn run_with(port: u16, steps: &[Step<'_>], config: &Config) -> Out {
    run_info(info(port), steps, config)
}

fn run_info(i: StreamInfo, steps: &[Step<'_>], config: &Config) -> Out {
    let mut d = Stream::new(config);
    let mut buf = Vec::new();
    let mut out = Out::default();
    {
        let mut em = Emitter::new(&mut buf, 0);
        let meta = EventMeta { stream: 1, seq: 0, ts_nanos: 0 };
        out.verdicts.push(d.event(&meta, &StreamEvent::Open(&i), &mut em));
    }
    let mut live = true;
    for (k, s) in steps.iter().enumerate() {
        if !live {
            break;
        }
        let seq = k as u64 + 1;
        let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
        let ev = match *s {
            Step::D(dir, bytes) => StreamEvent::Data { dir, bytes },
            Step::Gap(dir, len) => StreamEvent::Gap { dir, len },
            Step::Close => StreamEvent::Close { reason: CloseReason::Fin },
        };
        let mut em = Emitter::new(&mut buf, seq);
        let v = d.event(&meta, &ev, &mut em);
        out.verdicts.push(v);
        live = v == Verdict::Continue;
    }
    let mut em = Emitter::new(&mut buf, u64::MAX);
    d.finish(&mut em);
    for e in netcap_sdk::entries(&buf) {
        let e = e.expect("well-formed output");
        if e.tag == netcap_sdk::TAG_ERROR {
            out.errors.push(String::from_utf8(e.bytes.to_vec()).unwrap());
        } else {
            out.records.push((e.tag, e.seq, e.bytes.to_vec()));
        }
    }
    out
}

/// Splits `data` into one step per `size` bytes.
fn chunks(dir: Dir, data: &[u8], size: usize) -> Vec<Step<'_>> {
    data.chunks(size.max(1)).map(|c| Step::D(dir, c)).collect()
}

// ---------------------------------------------------------------- TLS

fn u16be(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = u16be(ty).to_vec();
    v.extend_from_slice(&u16be(data.len() as u16));
    v.extend_from_slice(data);
    v
}

fn vec16(items: &[u16]) -> Vec<u8> {
    let mut v = u16be((items.len() * 2) as u16).to_vec();
    for i in items {
        v.extend_from_slice(&u16be(*i));
    }
    v
}

/// The test ClientHello body: GREASE in ciphers, extensions, groups and supported_versions.
fn client_hello_body() -> Vec<u8> {
    let mut b = u16be(0x0303).to_vec();
    b.extend((0..32).map(|i| i as u8));
    b.push(32);
    b.extend([0xaa; 32]);
    b.extend(vec16(&[0x0a0a, 0x1301, 0x1302, 0xc02b]));
    b.extend([1, 0]);
    let mut exts = ext(0x1a1a, b"");
    let name = b"example.com";
    let mut sni = u16be(name.len() as u16 + 3).to_vec();
    sni.push(0);
    sni.extend(u16be(name.len() as u16));
    sni.extend(name);
    exts.extend(ext(0x0000, &sni));
    exts.extend(ext(0x000a, &vec16(&[0x2a2a, 0x001d, 0x0017])));
    exts.extend(ext(0x000b, &[1, 0]));
    exts.extend(ext(0x000d, &vec16(&[0x0403, 0x0804])));
    let mut alpn = vec![];
    for p in [&b"h2"[..], b"http/1.1"] {
        alpn.push(p.len() as u8);
        alpn.extend(p);
    }
    let mut alpn_ext = u16be(alpn.len() as u16).to_vec();
    alpn_ext.extend(alpn);
    exts.extend(ext(0x0010, &alpn_ext));
    exts.extend(ext(0x002b, &[6, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03]));
    b.extend(u16be(exts.len() as u16));
    b.extend(exts);
    b
}

fn server_hello_body() -> Vec<u8> {
    let mut b = u16be(0x0303).to_vec();
    b.extend((100..132).map(|i| i as u8));
    b.push(32);
    b.extend([0xaa; 32]);
    b.extend(u16be(0x1301));
    b.push(0);
    let mut exts = ext(0x002b, &u16be(0x0304));
    let mut ks = u16be(0x001d).to_vec();
    ks.extend(u16be(32));
    ks.extend([7; 32]);
    exts.extend(ext(0x0033, &ks));
    b.extend(u16be(exts.len() as u16));
    b.extend(exts);
    b
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 0, (body.len() >> 8) as u8, body.len() as u8];
    v.extend_from_slice(body);
    v
}

/// TLS records of type `ct` carrying `payload`, at most `max` payload bytes per record.
fn records(ct: u8, payload: &[u8], max: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for c in payload.chunks(max) {
        v.extend([ct, 3, 1]);
        v.extend(u16be(c.len() as u16));
        v.extend(c);
    }
    v
}

const JA3: &str = "771,4865-4866-49195,0-10-11-13-16-43,29-23,0";
// md5sum of JA3 above.
const JA3_HASH: &str = "11138d9933242c3a03b6aad35a296476";
// t, 13 (0x0304 from supported_versions, GREASE 0x3a3a ignored), d (SNI), 03 ciphers and 06
// extensions (0, 10, 11, 13, 16, 43) without GREASE, h2 (first ALPN value); sha256("1301,1302,c02b")[..12];
// sha256("000a,000b,000d,002b_0403,0804")[..12] (SNI and ALPN removed, sorted, signature
// algorithms in order).
const JA4: &str = "t13d0306h2_5559582ccdc4_fb71836bce29";
const JA3S: &str = "771,4865,43-51";
// md5sum of JA3S above.
const JA3S_HASH: &str = "f4febc55ea12b31ae17cfb7e614afda8";

fn check_client_hello(r: &v1::TlsClientHello) {
    assert_eq!(r.handshake_version, 0x0303);
    assert_eq!(r.cipher_suites, [0x0a0a, 0x1301, 0x1302, 0xc02b]);
    assert_eq!(r.extensions, [0x1a1a, 0, 10, 11, 13, 16, 43]);
    assert_eq!(r.sni, "example.com");
    assert_eq!(r.alpns, ["h2", "http/1.1"]);
    assert_eq!(r.supported_groups, [0x2a2a, 0x1d, 0x17]);
    assert_eq!(r.supported_points, [0]);
    assert_eq!(r.signature_algs, [0x0403, 0x0804]);
    assert_eq!(r.supported_versions, [0x3a3a, 0x0304, 0x0303]);
    assert_eq!(r.session_id, vec![0xaa; 32]);
    assert_eq!(r.ja3_full, JA3);
    assert_eq!(r.ja3, JA3_HASH);
    assert_eq!(r.ja4, JA4);
    assert_eq!(
        (r.src_ip.as_str(), r.dst_ip.as_str(), r.src_port, r.dst_port),
        ("192.0.2.1", "198.51.100.7", 40000, 443)
    );
}

#[test]
fn tls_hellos_and_fingerprints() {
    let ch = records(22, &handshake(1, &client_hello_body()), 16384);
    let sh = records(22, &handshake(2, &server_hello_body()), 16384);
    let o = run(443, &[Step::D(Dir::ToServer, &ch), Step::D(Dir::ToClient, &sh), Step::Close]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let c: Vec<v1::TlsClientHello> = o.of(T_TLS_CLIENT_HELLO);
    assert_eq!(c.len(), 1);
    check_client_hello(&c[0]);
    assert_eq!((c[0].timestamp, c[0].records), (1000, 1));
    let s: Vec<v1::TlsServerHello> = o.of(T_TLS_SERVER_HELLO);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].ja3s_full.as_str(), s[0].ja3s.as_str()), (JA3S, JA3S_HASH));
    assert_eq!((s[0].supported_version, s[0].selected_group, s[0].cipher_suite), (0x0304, 0x1d, 0x1301));
    assert_eq!((s[0].src_ip.as_str(), s[0].src_port), ("198.51.100.7", 443));
}

#[test]
fn tls_hello_split_over_segments_and_records() {
    let hs = handshake(1, &client_hello_body());
    for rec_max in [5, 17, 100, 16384] {
        let stream = records(22, &hs, rec_max);
        for seg in 1..=stream.len() {
            let steps = chunks(Dir::ToServer, &stream, seg);
            let o = run(443, &steps);
            assert!(o.errors.is_empty(), "records of {rec_max}, segments of {seg}: {:?}", o.errors);
            let c: Vec<v1::TlsClientHello> = o.of(T_TLS_CLIENT_HELLO);
            assert_eq!(c.len(), 1, "records of {rec_max}, segments of {seg}");
            check_client_hello(&c[0]);
            assert_eq!(c[0].records as usize, hs.len().div_ceil(rec_max));
            // The timestamp is the hello's first packet.
            assert_eq!(c[0].timestamp, 1000);
        }
    }
}

#[test]
fn tls_cut_at_every_length() {
    let ch = records(22, &handshake(1, &client_hello_body()), 16384);
    for cut in 1..ch.len() {
        let o = run(443, &[Step::D(Dir::ToServer, &ch[..cut]), Step::Close]);
        let c: Vec<v1::TlsClientHello> = o.of(T_TLS_CLIENT_HELLO);
        if cut < 5 + 4 {
            // The hello's handshake header is not complete: a cut record, no hello.
            assert!(c.is_empty(), "cut {cut}");
            assert_eq!(o.errors, ["tls: record truncated"], "cut {cut}");
            continue;
        }
        assert_eq!(c.len(), 1, "cut {cut}");
        assert_eq!(o.errors, ["tls: hello truncated"], "cut {cut}");
        assert!(c[0].ja3.is_empty() && c[0].ja4.is_empty(), "no fingerprint of a cut hello");
        if cut >= 5 + 4 + 2 {
            assert_eq!(c[0].handshake_version, 0x0303, "cut {cut}");
        }
    }
    // A gap inside the hello: partial record, counted error, the direction is not read further.
    let o =
        run(443, &[Step::D(Dir::ToServer, &ch[..60]), Step::Gap(Dir::ToServer, 10), Step::D(Dir::ToServer, &ch[70..])]);
    assert_eq!(o.errors, ["tls: gap in hello"]);
    assert_eq!(o.of::<v1::TlsClientHello>(T_TLS_CLIENT_HELLO).len(), 1);
}

#[test]
fn tls_malformed_hello_keeps_fields() {
    // Extensions block longer than the message: the types present still count.
    let mut body = client_hello_body();
    let n = body.len();
    body.truncate(n - 3);
    let ch = records(22, &handshake(1, &body), 16384);
    let o = run(443, &[Step::D(Dir::ToServer, &ch), Step::Close]);
    assert_eq!(o.errors, ["tls: client hello truncated"]);
    let c: Vec<v1::TlsClientHello> = o.of(T_TLS_CLIENT_HELLO);
    assert_eq!(c[0].extensions, [0x1a1a, 0, 10, 11, 13, 16, 43]);
    assert!(c[0].ja3.is_empty());
    // A record header that is not TLS after a good hello.
    let mut s = records(22, &handshake(1, &client_hello_body()), 16384);
    s.extend(b"GARBAGE!");
    let o = run(443, &[Step::D(Dir::ToServer, &s), Step::Close]);
    assert_eq!(o.errors, ["tls: bad record header"]);
    assert_eq!(o.of::<v1::TlsClientHello>(T_TLS_CLIENT_HELLO).len(), 1);
}

#[test]
fn tls_done_after_both_sides_encrypt() {
    let ch = records(22, &handshake(1, &client_hello_body()), 16384);
    let sh = records(22, &handshake(2, &server_hello_body()), 16384);
    let ccs = records(20, &[1], 10);
    let o = run(
        443,
        &[
            Step::D(Dir::ToServer, &ch),
            Step::D(Dir::ToClient, &sh),
            Step::D(Dir::ToClient, &ccs),
            Step::D(Dir::ToServer, &ccs),
        ],
    );
    assert_eq!(o.verdicts.last(), Some(&Verdict::Done));
    assert!(o.errors.is_empty());
}

/// The HelloRetryRequest random (RFC 8446 4.1.3: SHA-256 of "HelloRetryRequest").
const HRR: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11,
    0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// After a HelloRetryRequest, each side sends a ChangeCipherSpec, then the client its second
/// ClientHello and the server the real ServerHello: both hellos of each side are recorded.
#[test]
fn tls_hello_retry_request() {
    let ch = records(22, &handshake(1, &client_hello_body()), 16384);
    let mut hrr = server_hello_body();
    hrr[2..34].copy_from_slice(&HRR);
    let ccs = records(20, &[1], 10);
    let server1 = [records(22, &handshake(2, &hrr), 16384), ccs.clone()].concat();
    let client2 = [ccs, ch.clone()].concat();
    let server2 = [records(22, &handshake(2, &server_hello_body()), 16384), records(23, &[9; 20], 100)].concat();
    let o = run(
        443,
        &[
            Step::D(Dir::ToServer, &ch),
            Step::D(Dir::ToClient, &server1),
            Step::D(Dir::ToServer, &client2),
            Step::D(Dir::ToClient, &server2),
            Step::D(Dir::ToServer, &records(23, &[9; 20], 100)),
        ],
    );
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let c: Vec<v1::TlsClientHello> = o.of(T_TLS_CLIENT_HELLO);
    assert_eq!(
        c.iter().map(|r| (r.ja3.as_str(), r.timestamp)).collect::<Vec<_>>(),
        [(JA3_HASH, 1000), (JA3_HASH, 3000)]
    );
    assert_eq!(c[1].ja4, JA4);
    let s: Vec<v1::TlsServerHello> = o.of(T_TLS_SERVER_HELLO);
    let got: Vec<(bool, &str, i64)> = s.iter().map(|r| (r.hello_retry_request, r.ja3s.as_str(), r.timestamp)).collect();
    assert_eq!(got, [(true, JA3S_HASH, 2000), (false, JA3S_HASH, 4000)]);
    assert_eq!(o.verdicts.last(), Some(&Verdict::Done));
}

/// A whole ServerHello with a malformed extension block gets the JA3S of what was read, as
/// Wireshark computes it: none of the extensions when the block claims more bytes than the
/// message has, the types read before the problem when an extension overruns the block.
#[test]
fn tls_malformed_server_hello_keeps_its_ja3s() {
    let mut b = server_hello_body();
    let at = 2 + 32 + 1 + 32 + 3;
    let n = u16::from_be_bytes([b[at], b[at + 1]]);
    b[at..at + 2].copy_from_slice(&u16be(n + 10));
    let o = run(443, &[Step::D(Dir::ToClient, &records(22, &handshake(2, &b), 16384))]);
    assert_eq!(o.errors, ["tls: server hello truncated"]);
    let s: Vec<v1::TlsServerHello> = o.of(T_TLS_SERVER_HELLO);
    // md5sum of "771,4865,".
    assert_eq!((s[0].ja3s_full.as_str(), s[0].ja3s.as_str()), ("771,4865,", "e8c07683aecf9b16e8e33f10a5161e4e"));
    assert_eq!(s[0].extensions, [43, 51], "the record keeps what it read");
    // The key_share extension claims 10 more bytes than the block has.
    let mut b = server_hello_body();
    let ks = at + 2 + 6 + 2;
    let n = u16::from_be_bytes([b[ks], b[ks + 1]]);
    b[ks..ks + 2].copy_from_slice(&u16be(n + 10));
    let o = run(443, &[Step::D(Dir::ToClient, &records(22, &handshake(2, &b), 16384))]);
    assert_eq!(o.errors, ["tls: server hello truncated"]);
    assert_eq!(o.of::<v1::TlsServerHello>(T_TLS_SERVER_HELLO)[0].ja3s_full, JA3S);
}

/// JA4 vectors of the specification (FoxIO technical_details/JA4.md): its example hello and
/// the ALPN rules' examples.
#[test]
fn ja4_specification_vectors() {
    let r = v1::TlsClientHello {
        handshake_version: 0x0303,
        cipher_suites: vec![
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d,
            0x002f, 0x0035,
        ],
        extensions: vec![
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01,
            0x000b, 0x000a, 0x0015,
        ],
        signature_algs: vec![0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
        supported_versions: vec![0x0304, 0x0303],
        alpns: vec!["h2".into()],
        ..Default::default()
    };
    assert_eq!(tls::fingerprint::ja4(&r, 't'), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    // Without signature algorithms the extension list alone is hashed (spec: 6d807ffa2a79).
    let mut no_sig = r.clone();
    no_sig.signature_algs.clear();
    assert!(tls::fingerprint::ja4(&no_sig, 't').ends_with("_6d807ffa2a79"));
    // GREASE anywhere changes nothing.
    let mut grease = r.clone();
    grease.cipher_suites.insert(0, 0x8a8a);
    grease.extensions.insert(3, 0xfafa);
    grease.supported_versions.insert(0, 0x9a9a);
    assert_eq!(tls::fingerprint::ja4(&grease, 't'), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    // ALPN: the specification's examples.
    for (alpn, want) in [
        (&[0xab][..], "ab"),
        (&[0xab, 0xcd], "ad"),
        (&[0x30, 0xab], "3b"),
        (&[0x30, 0x31, 0xab, 0xcd], "3d"),
        (&[0x30, 0xab, 0xcd, 0x31], "01"),
        (b"http/1.1", "h1"),
        (b"h", "hh"),
        (b"", "00"),
    ] {
        let j = tls::fingerprint::ja4_with_alpn(&r, 't', Some(alpn));
        assert_eq!(&j[8..10], want, "{alpn:?}");
    }
    // No ALPN, no SNI, TLS 1.2 by the hello's version, no ciphers, no extensions.
    let bare = v1::TlsClientHello { handshake_version: 0x0303, ..Default::default() };
    assert_eq!(tls::fingerprint::ja4(&bare, 't'), "t12i000000_000000000000_000000000000");
}

// ---------------------------------------------------------------- HTTP

const REQ1: &[u8] = b"GET /a?x=1&y=hello+world%21 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test/1.0\r\nReferer: http://r/\r\nCookie: a=1; b=2\r\n\r\n";
const REQ2: &[u8] = b"POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\nuser=u&pass=p";
const REQ3: &[u8] = b"HEAD /h HTTP/1.1\r\nHost: example.com\r\n\r\n";
const RES1: &[u8] = b"HTTP/1.1 200 OK\r\nServer: srv/2\r\nContent-Type: text/html\r\nSet-Cookie: s=3; Path=/\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n<html>\r\n2;ext=1\r\n  \r\n0\r\nX-Trailer: 1\r\n\r\n";
const RES2: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 4\r\n\r\nGIF8";
const RES3: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";

fn check_http(recs: &[v1::Http]) {
    assert_eq!(recs.len(), 3);
    let r = &recs[0];
    assert_eq!(
        (r.method.as_str(), r.url.as_str(), r.host.as_str(), r.proto.as_str()),
        ("GET", "/a?x=1&y=hello+world%21", "example.com", "HTTP/1.1")
    );
    assert_eq!((r.user_agent.as_str(), r.referer.as_str()), ("test/1.0", "http://r/"));
    assert_eq!(
        r.req_cookies.iter().map(|c| (c.name.as_str(), c.value.as_str())).collect::<Vec<_>>(),
        [("a", "1"), ("b", "2")]
    );
    assert_eq!(
        r.parameters.iter().map(|p| (p.name.as_str(), p.value.as_str())).collect::<Vec<_>>(),
        [("x", "1"), ("y", "hello world!")]
    );
    assert_eq!((r.status_code, r.server_name.as_str(), r.res_content_type.as_str()), (200, "srv/2", "text/html"));
    assert_eq!(r.res_content_length, 8);
    assert_eq!(r.res_content_type_detected, "text/html; charset=utf-8");
    assert_eq!((r.res_cookies[0].name.as_str(), r.res_cookies[0].attributes.as_str()), ("s", "Path=/"));
    assert_eq!(r.request_header.len(), 4);
    assert_eq!(r.response_header.len(), 4);
    let r = &recs[1];
    assert_eq!((r.method.as_str(), r.req_content_length, r.status_code, r.res_content_length), ("POST", 13, 302, 4));
    assert_eq!(
        r.parameters.iter().map(|p| (p.name.as_str(), p.value.as_str())).collect::<Vec<_>>(),
        [("user", "u"), ("pass", "p")]
    );
    assert_eq!(r.content_type_detected, "text/plain; charset=utf-8");
    assert_eq!(r.res_content_type_detected, "text/plain; charset=utf-8", "GIF8 is not a full GIF signature");
    let r = &recs[2];
    assert_eq!((r.method.as_str(), r.status_code, r.res_content_length), ("HEAD", 200, 0), "HEAD response has no body");
    for r in recs {
        assert_eq!((r.src_ip.as_str(), r.dst_ip.as_str(), r.dst_port), ("192.0.2.1", "198.51.100.7", 80));
    }
}

#[test]
fn http_pipelined_exchanges() {
    let reqs = [REQ1, REQ2, REQ3].concat();
    let ress = [RES1, RES2, RES3].concat();
    // All requests first (pipelining), then all responses.
    let o = run(80, &[Step::D(Dir::ToServer, &reqs), Step::D(Dir::ToClient, &ress), Step::Close]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let recs: Vec<v1::Http> = o.of(T_HTTP);
    check_http(&recs);
    assert!(recs.iter().all(|r| r.timestamp == 1000 && r.response_timestamp == 2000));
    // Keep-alive: request, response, request, response, ... with times of their own.
    let o = run(
        8080,
        &[
            Step::D(Dir::ToServer, REQ1),
            Step::D(Dir::ToClient, RES1),
            Step::D(Dir::ToServer, REQ2),
            Step::D(Dir::ToClient, RES2),
            Step::D(Dir::ToServer, REQ3),
            Step::D(Dir::ToClient, RES3),
        ],
    );
    let mut recs: Vec<v1::Http> = o.of(T_HTTP);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(
        recs.iter().map(|r| (r.timestamp, r.response_timestamp)).collect::<Vec<_>>(),
        [(1000, 2000), (3000, 4000), (5000, 6000)]
    );
    for r in &mut recs {
        r.dst_port = 80;
    }
    check_http(&recs);
}

#[test]
fn http_every_split() {
    let reqs = [REQ1, REQ2, REQ3].concat();
    let ress = [RES1, RES2, RES3].concat();
    for size in 1..=reqs.len().max(ress.len()) {
        let mut steps = chunks(Dir::ToServer, &reqs, size);
        steps.extend(chunks(Dir::ToClient, &ress, size));
        let o = run(80, &steps);
        assert!(o.errors.is_empty(), "segments of {size}: {:?}", o.errors);
        check_http(&o.of::<v1::Http>(T_HTTP));
    }
}

#[test]
fn http_cut_at_every_length() {
    let reqs = [REQ1, REQ2].concat();
    let ress = [RES1, RES2].concat();
    for cut in 0..ress.len() {
        let o = run(80, &[Step::D(Dir::ToServer, &reqs), Step::D(Dir::ToClient, &ress[..cut]), Step::Close]);
        let recs: Vec<v1::Http> = o.of(T_HTTP);
        // Both requests are always reported, answered or not.
        assert_eq!(recs.len(), 2, "cut {cut}");
        assert_eq!((recs[0].method.as_str(), recs[1].method.as_str()), ("GET", "POST"));
        assert!(o.errors.len() <= 1, "cut {cut}: {:?}", o.errors);
        if o.errors.is_empty() {
            // Only cuts between messages are clean.
            assert!(ress[..cut].ends_with(b"\r\n\r\n") || cut == 0 || ress[..cut].ends_with(b"\n"), "cut {cut}");
        } else {
            assert_eq!(o.errors, ["http: response truncated"], "cut {cut}");
        }
    }
    for cut in 1..reqs.len() {
        let o = run(80, &[Step::D(Dir::ToServer, &reqs[..cut]), Step::Close]);
        let recs: Vec<v1::Http> = o.of(T_HTTP);
        if cut < 4 {
            // "GET " is not complete: the protocol is not known yet.
            assert!(recs.is_empty() && o.errors.is_empty(), "cut {cut}");
            continue;
        }
        assert_eq!(recs[0].method, "GET", "cut {cut}");
        let want: &[&str] = if cut == REQ1.len() { &[] } else { &["http: request truncated"] };
        assert_eq!(o.errors, want, "cut {cut}");
        assert_eq!(recs.len(), if cut > REQ1.len() { 2 } else { 1 }, "cut {cut}");
    }
}

#[test]
fn http_gap_and_garbage() {
    // A gap inside a body of known length keeps the framing.
    let o = run(
        80,
        &[
            Step::D(Dir::ToServer, REQ1),
            Step::D(Dir::ToClient, &RES3[..RES3.len()]),
            Step::Gap(Dir::ToClient, 1000),
            Step::D(Dir::ToServer, REQ3),
            Step::D(Dir::ToClient, b"HTTP/1.1 204 No Content\r\n\r\n"),
        ],
    );
    assert_eq!(o.errors, ["http: gap in response body"]);
    let recs: Vec<v1::Http> = o.of(T_HTTP);
    assert_eq!(recs.iter().map(|r| (r.status_code, r.res_content_length)).collect::<Vec<_>>(), [(200, 1000), (204, 0)]);
    // A gap in a head ends that message (partial record, error); reading resumes at data that
    // starts a message, not before.
    let o = run(
        80,
        &[
            Step::D(Dir::ToServer, &REQ1[..20]),
            Step::Gap(Dir::ToServer, 5),
            Step::D(Dir::ToServer, &REQ1[25..]),
            Step::D(Dir::ToServer, REQ3),
        ],
    );
    assert_eq!(o.errors, ["http: gap in request"]);
    let recs: Vec<v1::Http> = o.of(T_HTTP);
    // The URL was cut: only the complete method is known.
    assert_eq!(
        recs.iter().map(|r| (r.method.as_str(), r.url.as_str())).collect::<Vec<_>>(),
        [("GET", ""), ("HEAD", "/h")]
    );
    // Heads httparse refuses are read leniently (as Wireshark does), with a counted error.
    let o = run(80, &[Step::D(Dir::ToServer, b"GET / HTTP/1.1\r\nBad Header\r\nHost: h\r\n\r\n"), Step::Close]);
    assert_eq!(o.errors, ["http: nonstandard request head"]);
    let recs: Vec<v1::Http> = o.of(T_HTTP);
    assert_eq!((recs[0].method.as_str(), recs[0].url.as_str(), recs[0].host.as_str()), ("GET", "/", "h"));
    let o = run(80, &[Step::D(Dir::ToServer, b"GET /a b HTTP/1.0.8\r\nHost: h\r\n\r\n"), Step::Close]);
    let recs: Vec<v1::Http> = o.of(T_HTTP);
    assert_eq!((recs[0].url.as_str(), recs[0].proto.as_str(), recs[0].host.as_str()), ("/a b", "HTTP/1.0.8", "h"));
    // A capture that starts with the server's data: roles come from the messages.
    let o = run(
        80,
        &[Step::D(Dir::ToServer, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), Step::D(Dir::ToClient, REQ3)],
    );
    let recs: Vec<v1::Http> = o.of(T_HTTP);
    assert_eq!(recs.iter().map(|r| (r.method.as_str(), r.status_code)).collect::<Vec<_>>(), [("", 200), ("HEAD", 0)]);
    assert_eq!(
        (recs[0].src_ip.as_str(), recs[0].src_port),
        ("198.51.100.7", 80),
        "the HTTP client is the host's server"
    );
    // Not HTTP at all: held while the line may still be a request line, declined once both
    // directions have shown none of the protocols.
    let o = run(80, &[Step::D(Dir::ToServer, b"HELLO THERE")]);
    assert_eq!(o.verdicts.last(), Some(&Verdict::Continue));
    let o = run(80, &[Step::D(Dir::ToServer, b"HELLO THERE\r\n"), Step::D(Dir::ToClient, b"\x00\x01")]);
    assert_eq!(o.verdicts.last(), Some(&Verdict::Decline));
}

#[test]
fn http_upgrade_is_done() {
    let o = run(
        80,
        &[
            Step::D(Dir::ToServer, b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"),
            Step::D(Dir::ToClient, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
            Step::D(Dir::ToServer, b"\x81\x85garbage"),
        ],
    );
    assert_eq!(o.verdicts.last(), Some(&Verdict::Done));
    let recs: Vec<v1::Http> = o.of(T_HTTP);
    assert_eq!((recs.len(), recs[0].status_code), (1, 101));
}

// ---------------------------------------------------------------- SSH

fn name_list(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

fn kexinit_packet(lists: [&str; 10]) -> Vec<u8> {
    let mut payload = vec![20];
    payload.extend([0x11; 16]);
    for l in lists {
        payload.extend(name_list(l));
    }
    payload.push(0);
    payload.extend([0; 4]);
    let pad = 8 - (payload.len() + 5) % 8 + 4;
    let len = payload.len() + pad + 1;
    let mut v = (len as u32).to_be_bytes().to_vec();
    v.push(pad as u8);
    v.extend(payload);
    v.extend(vec![0; pad]);
    v
}

const KEX: &str = "curve25519-sha256,diffie-hellman-group14-sha1";

fn ssh_streams() -> (Vec<u8>, Vec<u8>) {
    let lists = |enc_cs, enc_sc, mac_cs, mac_sc, comp_cs, comp_sc| {
        [KEX, "ssh-ed25519", enc_cs, enc_sc, mac_cs, mac_sc, comp_cs, comp_sc, "", ""]
    };
    let mut c = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n".to_vec();
    c.extend(kexinit_packet(lists(
        "aes128-ctr,aes256-ctr",
        "aes256-ctr",
        "hmac-sha2-256",
        "hmac-sha1",
        "none",
        "none",
    )));
    let mut s = b"banner line\r\nSSH-2.0-dropbear_2020.81\r\n".to_vec();
    s.extend(kexinit_packet(lists(
        "aes128-ctr",
        "aes256-ctr",
        "hmac-sha2-256",
        "hmac-sha1",
        "none",
        "zlib@openssh.com,none",
    )));
    (c, s)
}

#[test]
fn ssh_hassh_both_sides() {
    let (c, s) = ssh_streams();
    for size in 1..=c.len().max(s.len()) {
        let mut steps = chunks(Dir::ToClient, &s, size);
        steps.extend(chunks(Dir::ToServer, &c, size));
        let o = run(22, &steps);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let recs: Vec<v1::Ssh> = o.of(T_SSH);
        assert_eq!(recs.len(), 2, "segments of {size}");
        let (srv, cli) = (&recs[0], &recs[1]);
        assert!(cli.is_client && !srv.is_client);
        assert_eq!(
            cli.algorithms,
            "curve25519-sha256,diffie-hellman-group14-sha1;aes128-ctr,aes256-ctr;hmac-sha2-256;none"
        );
        // md5sum of the string above.
        assert_eq!(cli.hassh, "8f650e6193767ad295e40df9c53b0cc5");
        // HASSHServer from the server's server-to-client lists.
        assert_eq!(
            srv.algorithms,
            "curve25519-sha256,diffie-hellman-group14-sha1;aes256-ctr;hmac-sha1;zlib@openssh.com,none"
        );
        assert_eq!(srv.hassh, "daa83f44d2e635cd997fb8820c668e40");
        assert_eq!(
            (cli.product.as_str(), cli.version.as_str(), cli.comments.as_str()),
            ("OpenSSH", "8.9p1", "Ubuntu-3")
        );
        assert_eq!(
            (srv.ident.as_str(), srv.product.as_str(), srv.version.as_str()),
            ("SSH-2.0-dropbear_2020.81", "dropbear", "2020.81")
        );
        assert_eq!(cli.flow, "192.0.2.1:40000->198.51.100.7:22");
        assert_eq!((srv.src_ip.as_str(), srv.src_port), ("198.51.100.7", 22));
        assert_eq!(o.verdicts.last(), Some(&Verdict::Done));
    }
}

#[test]
fn ssh_cut_at_every_length() {
    let (c, _) = ssh_streams();
    let ident_len = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n".len();
    for cut in 1..c.len() {
        let o = run(22, &[Step::D(Dir::ToServer, &c[..cut]), Step::Close]);
        let recs: Vec<v1::Ssh> = o.of(T_SSH);
        if cut < ident_len {
            assert!(recs.is_empty(), "cut {cut}");
            assert_eq!(o.errors, ["ssh: identification truncated"], "cut {cut}");
        } else {
            assert_eq!(recs.len(), 1, "cut {cut}");
            assert!(recs[0].hassh.is_empty());
            let want: &[&str] = if cut == ident_len { &[] } else { &["ssh: kexinit truncated"] };
            assert_eq!(o.errors, want, "cut {cut}");
        }
    }
    // SSH-1: identification only, no error.
    let o = run(22, &[Step::D(Dir::ToClient, b"SSH-1.5-1.2.27\n"), Step::Close]);
    assert!(o.errors.is_empty());
    assert_eq!(o.of::<v1::Ssh>(T_SSH)[0].proto_version, "1.5");
}

/// A server offering 1.99 and a client answering 1.5: the exchange is SSH-1, whose packets
/// (random padding first) are not read as SSH-2 binary packets.
#[test]
fn ssh1_exchange_is_not_read_as_ssh2() {
    let mut pk = vec![0, 0, 0, 0x8c, 0xe7, 0x1a, 0x5c, 0x90, 2];
    pk.extend([0x33; 0x8b]);
    let o = run(
        22,
        &[
            Step::D(Dir::ToClient, b"SSH-1.99-OpenSSH_3.9p1\n"),
            Step::D(Dir::ToServer, b"SSH-1.5-1.2.27\n"),
            Step::D(Dir::ToClient, &pk),
            Step::Close,
        ],
    );
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let recs: Vec<v1::Ssh> = o.of(T_SSH);
    assert_eq!(recs.iter().map(|r| r.proto_version.as_str()).collect::<Vec<_>>(), ["1.5", "1.99"]);
}

/// A record's time is its first byte's packet: the identification's (without KEXINIT), the
/// KEXINIT's first byte's (with), never the close's.
#[test]
fn ssh_record_times() {
    let o = run(22, &[Step::D(Dir::ToClient, b"SSH-2.0-a\r\n"), Step::D(Dir::ToServer, b"SSH-2.0-b\r\n"), Step::Close]);
    let mut t: Vec<(bool, i64)> = o.of::<v1::Ssh>(T_SSH).iter().map(|r| (r.is_client, r.timestamp)).collect();
    t.sort();
    assert_eq!(t, [(false, 1000), (true, 2000)]);
    let (c, _) = ssh_streams();
    let ident = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n".len();
    // Identification in pieces, the KEXINIT starting in the third step and ending in the fourth.
    let steps = [
        Step::D(Dir::ToServer, &c[..5]),
        Step::D(Dir::ToServer, &c[5..ident]),
        Step::D(Dir::ToServer, &c[ident..ident + 10]),
        Step::D(Dir::ToServer, &c[ident + 10..]),
    ];
    let r = &run(22, &steps).of::<v1::Ssh>(T_SSH)[0];
    assert_eq!((r.timestamp, r.hassh.is_empty()), (3000, false));
    // Held while the protocol was unknown: the first byte's time still.
    let r = &run(2222, &[Step::D(Dir::ToServer, b"SS"), Step::D(Dir::ToServer, b"H-2.0-x\r\n"), Step::Close])
        .of::<v1::Ssh>(T_SSH)[0];
    assert_eq!(r.timestamp, 1000);
    let o = run(80, &[Step::D(Dir::ToServer, b"G"), Step::D(Dir::ToServer, b"ET / HTTP/1.1\r\n\r\n"), Step::Close]);
    assert_eq!(o.of::<v1::Http>(T_HTTP)[0].timestamp, 1000);
}

// ---------------------------------------------------------------- DNS over TCP

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend(l.as_bytes());
    }
    m.extend([0, 0, 1, 0, 1]);
    m
}

fn framed(m: &[u8]) -> Vec<u8> {
    let mut v = (m.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(m);
    v
}

#[test]
fn dns_over_tcp() {
    let stream = [framed(&dns_query(7, "example.com")), framed(&dns_query(8, "example.org"))].concat();
    for size in 1..=stream.len() {
        let o = run(53, &chunks(Dir::ToServer, &stream, size));
        assert!(o.errors.is_empty());
        let recs: Vec<v1::Dns> = o.of(T_DNS);
        assert_eq!(
            recs.iter().map(|r| (r.id, r.questions[0].name.as_str(), r.tcp)).collect::<Vec<_>>(),
            [(7, "example.com", true), (8, "example.org", true)]
        );
        assert_eq!((recs[0].src_ip.as_str(), recs[0].dst_port, recs[0].timestamp), ("192.0.2.1", 53, 1000));
    }
    // Cut at every length: the part there is, and an error.
    for cut in 1..stream.len() / 2 {
        let o = run(53, &[Step::D(Dir::ToServer, &stream[..cut]), Step::Close]);
        assert_eq!(o.errors.len(), 1, "cut {cut}");
        assert_eq!(o.of::<v1::Dns>(T_DNS).len(), usize::from(cut > 2), "cut {cut}");
    }
}

/// A dynamic update over TCP: records without RDATA are empty values, every section is kept.
#[test]
fn dns_update_over_tcp() {
    let mut m = vec![0x6b, 0x2e, 0x28, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 1, b'a', 0, 0, 6, 0, 1];
    m.extend([1, b'h', 0xc0, 12, 0, 1, 0, 255, 0, 0, 0, 0, 0, 0]);
    m.extend([1, b'h', 0xc0, 12, 0, 1, 0, 1, 0, 0, 4, 0xb0, 0, 4, 192, 0, 2, 9]);
    let o = run(53, &[Step::D(Dir::ToServer, &framed(&m))]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let d: Vec<v1::Dns> = o.of(T_DNS);
    let up: Vec<(&str, u32, &str)> =
        d[0].authorities.iter().map(|a| (a.name.as_str(), a.class, a.ip.as_str())).collect();
    assert_eq!(up, [("h.a", 255, ""), ("h.a", 1, "192.0.2.9")]);
}

// ---------------------------------------------------------------- selection

#[test]
fn selection_by_content_and_port() {
    let ch = records(22, &handshake(1, &client_hello_body()), 16384);
    // TLS on port 80, HTTP on 443: content decides.
    assert_eq!(run(80, &[Step::D(Dir::ToServer, &ch)]).of::<v1::TlsClientHello>(T_TLS_CLIENT_HELLO).len(), 1);
    let o = run(443, &[Step::D(Dir::ToServer, REQ3), Step::D(Dir::ToClient, b"HTTP/1.1 204 x\r\n\r\n")]);
    assert_eq!(o.of::<v1::Http>(T_HTTP).len(), 1);
    // The server speaks first (SSH), its bytes arrive in single-byte pieces.
    let (c, s) = ssh_streams();
    let mut steps = chunks(Dir::ToClient, &s[..3], 1);
    steps.push(Step::D(Dir::ToClient, &s[3..]));
    steps.push(Step::D(Dir::ToServer, &c));
    assert_eq!(run(22, &steps).of::<v1::Ssh>(T_SSH).len(), 2, "port 22 is SSH whatever comes first");
    let s = &s[b"banner line\r\n".len()..];
    let mut steps = chunks(Dir::ToClient, &s[..3], 1);
    steps.push(Step::D(Dir::ToClient, &s[3..]));
    steps.push(Step::D(Dir::ToServer, &c));
    assert_eq!(run(2222, &steps).of::<v1::Ssh>(T_SSH).len(), 2, "SSH- on another port");
    // Disabled record types are not decoded.
    let cfg = Config::new(vec![("record-types".into(), "SSH".into())]);
    let o = run_with(443, &[Step::D(Dir::ToServer, &ch), Step::D(Dir::ToClient, b"\x15\x03")], &cfg);
    assert_eq!(o.verdicts.last(), Some(&Verdict::Decline));
    // Binary bytes: the other direction may still show a protocol; when it does not, declined.
    let o = run(443, &[Step::D(Dir::ToServer, b"\x00\x01binary")]);
    assert_eq!(o.verdicts.last(), Some(&Verdict::Continue));
    let o = run(443, &[Step::D(Dir::ToServer, b"\x00\x01binary"), Step::D(Dir::ToClient, b"\x00\x02binary")]);
    assert_eq!(o.verdicts.last(), Some(&Verdict::Decline));
    // A leading keep-alive byte (capture started mid-connection) is skipped once.
    let o = run(80, &[Step::D(Dir::ToServer, b"\x00"), Step::D(Dir::ToServer, REQ3)]);
    assert_eq!(o.of::<v1::Http>(T_HTTP).len(), 1);
    let o = run(80, &[Step::D(Dir::ToServer, b"\x00"), Step::D(Dir::ToServer, b"\x00"), Step::D(Dir::ToServer, REQ3)]);
    assert!(o.of::<v1::Http>(T_HTTP).is_empty());
}

/// Content before ports: HTTP on the SSH and DNS ports, SSH on the HTTP port; the port decides
/// only when the first bytes are none of the content-recognised protocols, also when they are
/// cut before they tell (the SSH cut tests above).
#[test]
fn content_decides_before_the_port() {
    for port in [22, 53] {
        let o = run(port, &[Step::D(Dir::ToServer, REQ3), Step::D(Dir::ToClient, b"HTTP/1.1 204 x\r\n\r\n")]);
        let h: Vec<v1::Http> = o.of(T_HTTP);
        assert_eq!(h.iter().map(|r| (r.method.as_str(), r.status_code)).collect::<Vec<_>>(), [("HEAD", 204)]);
        assert!(o.errors.is_empty(), "port {port}: {:?}", o.errors);
    }
    let (c, s) = ssh_streams();
    let s = &s[b"banner line\r\n".len()..];
    let o = run(80, &[Step::D(Dir::ToClient, s), Step::D(Dir::ToServer, &c)]);
    assert_eq!(o.of::<v1::Ssh>(T_SSH).len(), 2);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    // A banner line before the identification on port 22: inconclusive content, the port's SSH.
    let (c, s) = ssh_streams();
    let o = run(22, &[Step::D(Dir::ToClient, &s), Step::D(Dir::ToServer, &c)]);
    assert_eq!(o.of::<v1::Ssh>(T_SSH).len(), 2);
}

/// HTTP by grammar: any RFC 9110 method token; the line is held until it shows its version.
#[test]
fn http_methods_by_grammar() {
    for req in [
        &b"RPC_IN_DATA /rpc/rpcproxy.dll?srv:6001 HTTP/1.1\r\nHost: m\r\nContent-Length: 0\r\n\r\n"[..],
        b"CCM_POST /ccm_system/request HTTP/1.1\r\nHost: s\r\n\r\n",
        b"NOTIFY * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n",
        b"M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n",
        b"BASELINE-CONTROL /d HTTP/1.0\r\n\r\n",
    ] {
        let method = std::str::from_utf8(&req[..req.iter().position(|&c| c == b' ').unwrap()]).unwrap();
        for size in 1..=req.len() {
            let mut steps = chunks(Dir::ToServer, req, size);
            steps.push(Step::D(Dir::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
            let o = run(8000, &steps);
            let h: Vec<v1::Http> = o.of(T_HTTP);
            assert_eq!(h.len(), 1, "{method}, segments of {size}");
            assert_eq!((h[0].method.as_str(), h[0].status_code, h[0].timestamp), (method, 200, 1000));
        }
    }
    // Lines that are not requests: no version, a control character, a method too long.
    for line in [
        &b"EHLO mail.example.org\r\n"[..],
        b"220 ProFTPD ready\r\n",
        b"FOO /x HTTP/1.1\x01\r\n",
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\n",
        b"* OK IMAP4rev1 ready\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        assert_eq!(http::request_line(line), Some(false), "{:?}", String::from_utf8_lossy(line));
        let o = run(8000, &[Step::D(Dir::ToServer, line), Step::D(Dir::ToClient, line)]);
        // An EHLO is SMTP and an IMAP greeting is IMAP (their tests), whatever the port; the
        // rest are none of ours.
        let mail = line.starts_with(b"EHLO") || line.starts_with(b"* OK");
        let want = if mail { Verdict::Continue } else { Verdict::Decline };
        assert_eq!(o.verdicts.last(), Some(&want), "{:?}", String::from_utf8_lossy(line));
        assert!(o.of::<v1::Http>(T_HTTP).is_empty());
    }
    assert_eq!(http::request_line(b"SUBSCRIBE /ev"), None, "undecided until the line ends");
}

/// Client bytes that are not HTTP, answered with a status line: the response is recorded (and
/// the client side resumes at a request line).
#[test]
fn http_response_to_bytes_that_are_not_http() {
    let o = run(
        8080,
        &[
            Step::D(Dir::ToServer, b"\x16\xfe\xff garbage that is no request\r\n"),
            Step::D(Dir::ToClient, b"HTTP/1.1 400 Bad Request\r\nServer: s\r\nContent-Length: 3\r\n\r\nbad"),
            Step::D(Dir::ToServer, b"GET /again HTTP/1.1\r\n\r\n"),
            Step::D(Dir::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            Step::Close,
        ],
    );
    let h: Vec<v1::Http> = o.of(T_HTTP);
    let got: Vec<(&str, &str, i32, i64)> =
        h.iter().map(|r| (r.method.as_str(), r.server_name.as_str(), r.status_code, r.response_timestamp)).collect();
    assert_eq!(got, [("", "s", 400, 2000), ("GET", "", 200, 4000)]);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
}

// ---------------------------------------------------------------- robustness

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Corrupted versions of valid streams (flipped bytes, cuts, gaps, random splits) never panic,
/// and every connection ends (Close gives Done, unless it was declined or done before).
#[test]
fn corrupted_streams_never_panic() {
    let (ssh_c, ssh_s) = ssh_streams();
    let tls_c = records(22, &handshake(1, &client_hello_body()), 50);
    let tls_s = records(22, &handshake(2, &server_hello_body()), 16384);
    let dns = [framed(&dns_query(7, "example.com")), framed(&dns_query(8, "example.org"))].concat();
    let smtp = smtp_session();
    let smtp_c: Vec<u8> = smtp.iter().filter(|x| x.0 == Dir::ToServer).flat_map(|x| x.1.clone()).collect();
    let smtp_s: Vec<u8> = smtp.iter().filter(|x| x.0 == Dir::ToClient).flat_map(|x| x.1.clone()).collect();
    let pop_c = b"USER a\r\nPASS b\r\nRETR 1\r\nSTLS\r\n".to_vec();
    let mut pop_s = b"+OK hi\r\n+OK\r\n+OK\r\n+OK\r\n".to_vec();
    pop_s.extend_from_slice(SMTP_MSG);
    pop_s.extend_from_slice(b"+OK go\r\n");
    let ftp_c = b"USER a\r\nPASS b\r\nPASV\r\nRETR x\r\nAUTH TLS\r\n".to_vec();
    let ftp_s =
        b"220-hi\r\n220 x\r\n331 p\r\n230 ok\r\n227 (1,2,3,4,5,6)\r\n150 (5 bytes)\r\n226 ok\r\n234 go\r\n".to_vec();
    let imap_c = b"a1 LOGIN a {1}\r\nb\r\na2 FETCH 1 BODY[]\r\na3 STARTTLS\r\n".to_vec();
    let imap_s = b"* OK hi\r\n+ go\r\na1 OK\r\n* 1 FETCH (BODY[] {5}\r\nHello)\r\na2 OK\r\na3 OK\r\n".to_vec();
    let cases: [(u16, Vec<u8>, Vec<u8>); 8] = [
        (80, [REQ1, REQ2, REQ3].concat(), [RES1, RES2, RES3].concat()),
        (443, tls_c, tls_s),
        (22, ssh_c, ssh_s),
        (53, dns.clone(), dns),
        (25, smtp_c, smtp_s),
        (110, pop_c, pop_s),
        (21, ftp_c, ftp_s),
        (143, imap_c, imap_s),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (port, c, s) in &cases {
        for _ in 0..400 {
            let mut c = c.clone();
            let mut s = s.clone();
            for v in [&mut c, &mut s] {
                for _ in 0..rng.below(4) {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
                if rng.below(3) == 0 {
                    let n = rng.below(v.len());
                    v.truncate(n);
                }
            }
            let mut steps = Vec::new();
            let (mut i, mut j) = (0, 0);
            while i < c.len() || j < s.len() {
                let (dir, v, at) = if (rng.below(2) == 0 && i < c.len()) || j >= s.len() {
                    (Dir::ToServer, &c, &mut i)
                } else {
                    (Dir::ToClient, &s, &mut j)
                };
                let n = 1 + rng.below(40).min(v.len() - *at - 1);
                if rng.below(20) == 0 {
                    steps.push(Step::Gap(dir, n as u32));
                } else {
                    steps.push(Step::D(dir, &v[*at..*at + n]));
                }
                *at += n;
            }
            steps.push(Step::Close);
            let o = run(*port, &steps);
            assert_ne!(o.verdicts.last(), Some(&Verdict::Continue), "port {port}");
        }
    }
}

// ---------------------------------------------------------------- SMTP, Mail, File

const SMTP_MSG: &[u8] = b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nFrom: A <a@x.example>\r\nTo: b@y.example\r\n\
Message-ID: <1@x>\r\n\r\nHello\r\n..dot\r\n.\r\n";
/// `printf 'Subject: ...\r\n\r\nHello\r\n.dot\r\n' | sha256sum`: the message without the final
/// "." line and with the dot-stuffing removed.
const SMTP_MSG_SHA256: &str = "919d6047d1646b7ec5f838f133ed55e8b46ff3808fade29d95d3911bdd66f668";

/// One SMTP session as (direction, bytes) exchanges: AUTH LOGIN, a pipelined envelope, DATA.
fn smtp_session() -> Vec<(Dir, Vec<u8>)> {
    let s = |b: &[u8]| (Dir::ToClient, b.to_vec());
    let c = |b: &[u8]| (Dir::ToServer, b.to_vec());
    vec![
        s(b"220 mx.example ESMTP\r\n"),
        c(b"EHLO client.example\r\n"),
        s(b"250-mx.example\r\n250-PIPELINING\r\n250 AUTH LOGIN PLAIN\r\n"),
        c(b"AUTH LOGIN\r\n"),
        s(b"334 VXNlcm5hbWU6\r\n"),
        c(b"dXNlcg==\r\n"),
        s(b"334 UGFzc3dvcmQ6\r\n"),
        c(b"cGFzcw==\r\n"),
        s(b"235 2.7.0 ok\r\n"),
        c(b"MAIL FROM:<a@x.example> SIZE=100\r\nRCPT TO:<b@y.example>\r\nDATA\r\n"),
        s(b"250 ok\r\n250 ok\r\n354 go\r\n"),
        c(SMTP_MSG),
        s(b"250 queued\r\n"),
        c(b"QUIT\r\n"),
        s(b"221 bye\r\n"),
    ]
}

/// The exchanges as steps, each split into `size`-byte events, then a close.
fn steps_of(x: &[(Dir, Vec<u8>)], size: usize) -> Vec<Step<'_>> {
    let mut steps: Vec<Step<'_>> = x.iter().flat_map(|(d, b)| chunks(*d, b, size)).collect();
    steps.push(Step::Close);
    steps
}

/// A whole session at every split size: one SMTP record with each command and its reply, the
/// AUTH exchange's client lines as auth data, the envelope, and a Mail record whose id is the
/// SHA-256 of the unstuffed message (hand-computed with sha256sum).
#[test]
fn smtp_session_record_and_mail() {
    let x = smtp_session();
    for size in [1, 2, 3, 7, 64, 4096] {
        let o = run(2500, &steps_of(&x, size));
        assert!(o.errors.is_empty(), "size {size}: {:?}", o.errors);
        let smtp: Vec<v1::Smtp> = o.of(T_SMTP);
        assert_eq!(smtp.len(), 1, "size {size}");
        let r = &smtp[0];
        assert_eq!((r.greeting_code, r.greeting.as_str()), (220, "mx.example ESMTP"));
        assert_eq!(r.helo, "client.example");
        assert_eq!((r.src_port, r.dst_port, r.src_ip.as_str()), (40000, 2500, "192.0.2.1"));
        let got: Vec<(&str, &str, u32, bool, bool)> = r
            .commands
            .iter()
            .map(|c| (c.command.as_str(), c.argument.as_str(), c.reply_code, c.auth_data, c.end_of_data))
            .collect();
        assert_eq!(
            got,
            [
                ("EHLO", "client.example", 250, false, false),
                ("AUTH", "LOGIN", 334, false, false),
                ("", "dXNlcg==", 334, true, false),
                ("", "cGFzcw==", 235, true, false),
                ("MAIL", "FROM:<a@x.example> SIZE=100", 250, false, false),
                ("RCPT", "TO:<b@y.example>", 250, false, false),
                ("DATA", "", 354, false, false),
                ("", "", 250, false, true),
                ("QUIT", "", 221, false, false),
            ],
            "size {size}"
        );
        assert_eq!(r.commands[0].reply_text, "mx.example\nPIPELINING\nAUTH LOGIN PLAIN");
        assert_eq!(r.mail_from, ["a@x.example"]);
        assert_eq!(r.rcpt_to, ["b@y.example"]);
        assert_eq!(r.auth_mechanisms, ["LOGIN"]);
        assert!(!r.starttls);
        assert_eq!(r.mail_ids, [SMTP_MSG_SHA256]);
        let mail: Vec<v1::Mail> = o.of(T_MAIL);
        assert_eq!(mail.len(), 1);
        let m = &mail[0];
        assert_eq!(m.id, SMTP_MSG_SHA256);
        assert_eq!(m.subject, "Grüße");
        assert_eq!(m.from, "A <a@x.example>");
        assert_eq!(m.to, ["b@y.example"]);
        assert_eq!(m.message_id, "1@x");
        assert_eq!((m.envelope_from.as_str(), &m.envelope_to[..]), ("a@x.example", &["b@y.example".to_string()][..]));
        assert_eq!(m.size, (SMTP_MSG.len() - 4) as u64);
        assert!(!m.truncated);
        let files: Vec<v1::File> = o.of(T_FILE);
        assert_eq!(files.len(), 1);
        assert_eq!((files[0].sha256.as_str(), files[0].source.as_str()), (SMTP_MSG_SHA256, "smtp"));
        assert!(files[0].complete);
        // No content entries without extract-files.
        assert!(o.records.iter().all(|r| r.0 < netcap_sdk::TAG_FILE_END));
    }
}

/// A multipart message with a base64 attachment: the part is listed with its name, type and
/// decoded size, and becomes a File record whose hashes are those of the decoded bytes
/// (md5sum, sha1sum, sha256sum of the 16 bytes) and whose detected type comes from its magic
/// number; with extract-files the content entries carry the message and the attachment.
#[test]
fn smtp_attachment_file_and_content_entries() {
    let msg = b"From: a@x.example\r\nSubject: pic\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"x.png\"\r\nContent-Disposition: attachment; filename=\"x.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUg==\r\n--b1--\r\n.\r\n";
    let x = vec![
        (Dir::ToClient, b"220 hi\r\n".to_vec()),
        (Dir::ToServer, b"HELO c\r\n".to_vec()),
        (Dir::ToClient, b"250 ok\r\n".to_vec()),
        (Dir::ToServer, b"MAIL FROM:<a@x.example>\r\n".to_vec()),
        (Dir::ToClient, b"250 ok\r\n".to_vec()),
        (Dir::ToServer, b"RCPT TO:<b@y.example>\r\n".to_vec()),
        (Dir::ToClient, b"250 ok\r\n".to_vec()),
        (Dir::ToServer, b"DATA\r\n".to_vec()),
        (Dir::ToClient, b"354 go\r\n".to_vec()),
        (Dir::ToServer, msg.to_vec()),
        (Dir::ToClient, b"250 ok\r\n".to_vec()),
    ];
    let config = Config::new(vec![("extract-files".into(), "true".into())]);
    for size in [1, 5, 4096] {
        let o = run_with(25, &steps_of(&x, size), &config);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let mail: Vec<v1::Mail> = o.of(T_MAIL);
        assert_eq!(mail.len(), 1);
        let m = &mail[0];
        assert_eq!(m.content_type, "multipart/mixed");
        let parts: Vec<(&str, &str, &str, u64)> = m
            .parts
            .iter()
            .map(|p| (p.content_type.as_str(), p.name.as_str(), p.disposition.as_str(), p.size))
            .collect();
        assert_eq!(parts, [("text/plain", "", "", 12), ("application/octet-stream", "x.png", "attachment", 16)]);
        let png = "02a3e298f1533f62558c58e4c70edcab9af5a50d62d925fd5390942020fb0fb8";
        assert_eq!(m.parts[1].file_sha256, png);
        let files: Vec<v1::File> = o.of(T_FILE);
        assert_eq!(files.len(), 2);
        let f = &files[0];
        assert_eq!((f.source.as_str(), f.name.as_str(), f.size), ("smtp-attachment", "x.png", 16));
        assert_eq!(f.md5, "7cddabe5df64daaa6924a5613dd2150a");
        assert_eq!(f.sha1, "22f545ac6b50163ce39bac49094c3f64e0858403");
        assert_eq!(f.sha256, png);
        assert_eq!((f.content_type.as_str(), f.detected_type.as_str()), ("application/octet-stream", "image/png"));
        assert_eq!(f.mail_id, m.id);
        assert_eq!(files[1].sha256, m.id);
        // Content entries: per file id, the bytes, then the end with the SHA-256.
        let mut content: std::collections::BTreeMap<u64, Vec<u8>> = Default::default();
        let mut ends = Vec::new();
        for (tag, _, b) in &o.records {
            let id = || u64::from_le_bytes(b[..8].try_into().unwrap());
            if *tag == netcap_sdk::TAG_FILE_DATA {
                content.entry(id()).or_default().extend_from_slice(&b[8..]);
            } else if *tag == netcap_sdk::TAG_FILE_END {
                ends.push((id(), b[8], mail::hex(&b[9..41])));
            }
        }
        let unstuffed = &msg[..msg.len() - 3];
        let by_hash: std::collections::BTreeMap<String, (u8, &Vec<u8>)> =
            ends.iter().map(|(id, complete, h)| (h.clone(), (*complete, &content[id]))).collect();
        assert_eq!(by_hash.len(), 2);
        assert_eq!(by_hash[&m.id], (1, &unstuffed.to_vec()));
        assert_eq!(by_hash[png], (1, &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()));
    }
}

/// STARTTLS accepted: the session record says so and the TLS hellos after the 220 are read as
/// on port 443 (the same JA3 as the same hello on its own connection).
#[test]
fn smtp_starttls_hands_over_to_tls() {
    let hello = records(22, &handshake(1, &client_hello_body()), 50);
    let x = vec![
        (Dir::ToClient, b"220 hi ESMTP\r\n".to_vec()),
        (Dir::ToServer, b"EHLO c\r\n".to_vec()),
        (Dir::ToClient, b"250-hi\r\n250 STARTTLS\r\n".to_vec()),
        (Dir::ToServer, b"STARTTLS\r\n".to_vec()),
        (Dir::ToClient, b"220 2.0.0 Ready to start TLS\r\n".to_vec()),
        (Dir::ToServer, hello.clone()),
    ];
    let alone = run(443, &[Step::D(Dir::ToServer, &hello), Step::Close]);
    let want: Vec<v1::TlsClientHello> = alone.of(T_TLS_CLIENT_HELLO);
    assert!(!want[0].ja3.is_empty());
    for size in [1, 3, 4096] {
        let o = run(25, &steps_of(&x, size));
        let smtp: Vec<v1::Smtp> = o.of(T_SMTP);
        assert_eq!(smtp.len(), 1);
        assert!(smtp[0].starttls);
        assert_eq!(smtp[0].commands.last().map(|c| (c.command.as_str(), c.reply_code)), Some(("STARTTLS", 220)));
        let got: Vec<v1::TlsClientHello> = o.of(T_TLS_CLIENT_HELLO);
        assert_eq!(got.len(), 1, "size {size}");
        assert_eq!((got[0].ja3.as_str(), got[0].ja4.as_str()), (want[0].ja3.as_str(), want[0].ja4.as_str()));
        assert_eq!(got[0].dst_port, 25);
    }
    // Refused: the session goes on in plain text.
    let x = vec![
        (Dir::ToClient, b"220 hi\r\n".to_vec()),
        (Dir::ToServer, b"EHLO c\r\n".to_vec()),
        (Dir::ToClient, b"250 hi\r\n".to_vec()),
        (Dir::ToServer, b"STARTTLS\r\n".to_vec()),
        (Dir::ToClient, b"454 TLS not available\r\n".to_vec()),
        (Dir::ToServer, b"QUIT\r\n".to_vec()),
        (Dir::ToClient, b"221 bye\r\n".to_vec()),
    ];
    let o = run(25, &steps_of(&x, 4096));
    let smtp: Vec<v1::Smtp> = o.of(T_SMTP);
    assert!(!smtp[0].starttls);
    let cmds: Vec<(&str, u32)> = smtp[0].commands.iter().map(|c| (c.command.as_str(), c.reply_code)).collect();
    assert_eq!(cmds, [("EHLO", 250), ("STARTTLS", 454), ("QUIT", 221)]);
    assert!(o.of::<v1::TlsClientHello>(T_TLS_CLIENT_HELLO).is_empty());
}

/// DATA refused: what follows are commands, no Mail. BDAT chunks (RFC 3030) make one message.
#[test]
fn smtp_data_refused_and_bdat() {
    let x = vec![
        (Dir::ToClient, b"220 hi\r\n".to_vec()),
        (Dir::ToServer, b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".to_vec()),
        (Dir::ToClient, b"250 hi\r\n250 ok\r\n550 no such user\r\n554 no valid recipients\r\n".to_vec()),
        (Dir::ToServer, b"RSET\r\n".to_vec()),
        (Dir::ToClient, b"250 ok\r\n".to_vec()),
        (Dir::ToServer, b"MAIL FROM:<a@b>\r\nRCPT TO:<e@f>\r\nBDAT 3\r\nHelBDAT 2 LAST\r\nlo".to_vec()),
        (Dir::ToClient, b"250 ok\r\n250 ok\r\n250 3 octets\r\n250 done\r\n".to_vec()),
    ];
    for size in [1, 4096] {
        let o = run(25, &steps_of(&x, size));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let smtp: Vec<v1::Smtp> = o.of(T_SMTP);
        let cmds: Vec<(&str, u32)> = smtp[0].commands.iter().map(|c| (c.command.as_str(), c.reply_code)).collect();
        assert_eq!(
            cmds,
            [
                ("EHLO", 250),
                ("MAIL", 250),
                ("RCPT", 550),
                ("DATA", 554),
                ("RSET", 250),
                ("MAIL", 250),
                ("RCPT", 250),
                ("BDAT", 250),
                ("BDAT", 250)
            ]
        );
        let mail: Vec<v1::Mail> = o.of(T_MAIL);
        assert_eq!(mail.len(), 1);
        // printf 'Hello' | sha256sum
        assert_eq!(mail[0].id, "185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969");
        assert_eq!(mail[0].envelope_to, ["e@f"]);
        assert_eq!(smtp[0].mail_ids, [mail[0].id.clone()]);
    }
}

/// A cut message: a truncated Mail and File, a counted error; a huge content line and a huge
/// command line stay bounded and do not lose content.
#[test]
fn smtp_cut_and_long_lines() {
    let long = vec![b'a'; 3 * smtp::MAX_LINE];
    let mut content = long.clone();
    content.extend_from_slice(b"\r\n");
    let x = vec![
        (Dir::ToClient, b"220 hi\r\n".to_vec()),
        (Dir::ToServer, b"HELO c\r\nDATA\r\n".to_vec()),
        (Dir::ToClient, b"250 hi\r\n354 go\r\n".to_vec()),
        (Dir::ToServer, content.clone()),
    ];
    let o = run(25, &steps_of(&x, 1000));
    assert_eq!(o.errors, ["smtp: message truncated"]);
    let files: Vec<v1::File> = o.of(T_FILE);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].size, content.len() as u64);
    assert!(!files[0].complete);
    assert!(o.of::<v1::Mail>(T_MAIL)[0].truncated);
    let mut cmd = b"HELO ".to_vec();
    cmd.extend_from_slice(&long);
    cmd.extend_from_slice(b"\r\nQUIT\r\n");
    let x = vec![(Dir::ToClient, b"220 hi\r\n".to_vec()), (Dir::ToServer, cmd)];
    let o = run(25, &steps_of(&x, 100));
    assert_eq!(o.errors, ["smtp: line too long"]);
    let smtp: Vec<v1::Smtp> = o.of(T_SMTP);
    let cmds: Vec<(&str, usize)> = smtp[0].commands.iter().map(|c| (c.command.as_str(), c.argument.len())).collect();
    assert_eq!(cmds, [("HELO", smtp::MAX_LINE - 5), ("QUIT", 0)]);
}

/// The protocol is found by content on any port: the client's EHLO after a reply line; a
/// server's reply line alone is SMTP only on an SMTP port.
#[test]
fn smtp_found_by_content_and_port() {
    let x = vec![(Dir::ToClient, b"220 hi\r\n".to_vec()), (Dir::ToServer, b"ehlo c\r\n".to_vec())];
    let o = run(8025, &steps_of(&x, 4096));
    assert_eq!(o.of::<v1::Smtp>(T_SMTP)[0].helo, "c");
    let x = vec![(Dir::ToClient, b"220 hi\r\n".to_vec()), (Dir::ToServer, b"MAIL FROM:<a@b>\r\n".to_vec())];
    assert_eq!(run(25, &steps_of(&x, 4096)).of::<v1::Smtp>(T_SMTP)[0].mail_from, ["a@b"]);
    assert!(run(8025, &steps_of(&x, 4096)).of::<v1::Smtp>(T_SMTP).is_empty());
}

// ---------------------------------------------------------------- POP3

/// A POP3 session: USER/PASS, a multi-line LIST, RETR of a dot-stuffed message (a Mail whose id
/// is the hand-computed SHA-256 of the unstuffed message, as for SMTP), an error, QUIT; at
/// every split size.
#[test]
fn pop3_session_and_retr() {
    let s = |b: &[u8]| (Dir::ToClient, b.to_vec());
    let c = |b: &[u8]| (Dir::ToServer, b.to_vec());
    let mut retr = b"+OK 120 octets\r\n".to_vec();
    retr.extend_from_slice(SMTP_MSG);
    let x = vec![
        s(b"+OK POP3 ready\r\n"),
        c(b"USER alice\r\n"),
        s(b"+OK\r\n"),
        c(b"PASS secret\r\n"),
        s(b"+OK logged in\r\n"),
        c(b"LIST\r\n"),
        s(b"+OK 1 messages\r\n1 120\r\n.\r\n"),
        c(b"RETR 1\r\n"),
        s(&retr),
        c(b"DELE 9\r\n"),
        s(b"-ERR no such message\r\n"),
        c(b"QUIT\r\n"),
        s(b"+OK bye\r\n"),
    ];
    for size in [1, 2, 5, 4096] {
        let o = run(1100, &steps_of(&x, size));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let p: Vec<v1::Pop3> = o.of(T_POP3);
        assert_eq!(p.len(), 1, "size {size}");
        assert_eq!((p[0].greeting.as_str(), p[0].user.as_str()), ("POP3 ready", "alice"));
        let cmds: Vec<(&str, &str, &str)> =
            p[0].commands.iter().map(|c| (c.command.as_str(), c.argument.as_str(), c.status.as_str())).collect();
        assert_eq!(
            cmds,
            [
                ("USER", "alice", "+OK"),
                ("PASS", "secret", "+OK"),
                ("LIST", "", "+OK"),
                ("RETR", "1", "+OK"),
                ("DELE", "9", "-ERR"),
                ("QUIT", "", "+OK")
            ]
        );
        assert_eq!(p[0].mail_ids, [SMTP_MSG_SHA256]);
        let m: Vec<v1::Mail> = o.of(T_MAIL);
        assert_eq!((m[0].subject.as_str(), m[0].source.as_str(), m[0].src_port), ("Grüße", "pop3", 1100));
    }
}

/// STLS accepted: the hello after it is read as TLS; AUTH with SASL continuations keeps the
/// client's lines as auth data.
#[test]
fn pop3_auth_and_stls() {
    let hello = records(22, &handshake(1, &client_hello_body()), 50);
    let x = vec![
        (Dir::ToClient, b"+OK hi\r\n".to_vec()),
        (Dir::ToServer, b"AUTH PLAIN\r\n".to_vec()),
        (Dir::ToClient, b"+ \r\n".to_vec()),
        (Dir::ToServer, b"AGFsaWNlAHNlY3JldA==\r\n".to_vec()),
        (Dir::ToClient, b"-ERR no\r\n".to_vec()),
        (Dir::ToServer, b"STLS\r\n".to_vec()),
        (Dir::ToClient, b"+OK Begin TLS\r\n".to_vec()),
        (Dir::ToServer, hello),
    ];
    for size in [1, 4096] {
        let o = run(110, &steps_of(&x, size));
        let p: Vec<v1::Pop3> = o.of(T_POP3);
        assert!(p[0].stls);
        let cmds: Vec<(&str, &str, &str, bool)> = p[0]
            .commands
            .iter()
            .map(|c| (c.command.as_str(), c.argument.as_str(), c.status.as_str(), c.auth_data))
            .collect();
        assert_eq!(
            cmds,
            [("AUTH", "PLAIN", "+", false), ("", "AGFsaWNlAHNlY3JldA==", "-ERR", true), ("STLS", "", "+OK", false)]
        );
        assert_eq!(o.of::<v1::TlsClientHello>(T_TLS_CLIENT_HELLO).len(), 1);
    }
}

// ---------------------------------------------------------------- FTP

/// An FTP control session: a multi-line greeting and FEAT, the user, the directory as it
/// changes, a passive RETR with its preliminary and final replies, size and data endpoint, an
/// active STOR; at every split size.
#[test]
fn ftp_session_commands_transfers() {
    let s = |b: &[u8]| (Dir::ToClient, b.to_vec());
    let c = |b: &[u8]| (Dir::ToServer, b.to_vec());
    let x = vec![
        s(b"220-Welcome\r\n to the server\r\n220 ready\r\n"),
        c(b"USER bob\r\n"),
        s(b"331 Password?\r\n"),
        c(b"PASS pw\r\n"),
        s(b"230 ok\r\n"),
        c(b"FEAT\r\n"),
        s(b"211-Features:\r\n EPSV\r\n211 End\r\n"),
        c(b"PWD\r\n"),
        s(b"257 \"/home/bob\" is current\r\n"),
        c(b"CWD pub/../docs\r\n"),
        s(b"250 ok\r\n"),
        c(b"PASV\r\n"),
        s(b"227 Entering Passive Mode (198,51,100,7,19,137).\r\n"),
        c(b"RETR a.txt\r\n"),
        s(b"150 Opening BINARY mode data connection for a.txt (1234 bytes).\r\n"),
        s(b"226 Transfer complete.\r\n"),
        c(b"PORT 192,0,2,1,4,1\r\n"),
        s(b"200 PORT ok\r\n"),
        c(b"STOR /tmp/b.bin\r\n"),
        s(b"150 Ok to send data.\r\n226 done\r\n"),
        c(b"\xff\xf4\xff\xf2ABOR\r\n"),
        s(b"225 No transfer to ABOR.\r\n"),
    ];
    for size in [1, 3, 4096] {
        let o = run(2121, &steps_of(&x, size));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let f: Vec<v1::Ftp> = o.of(T_FTP);
        assert_eq!(f.len(), 1, "size {size}");
        let r = &f[0];
        assert_eq!((r.greeting_code, r.greeting.as_str()), (220, "Welcome\n to the server\nready"));
        assert_eq!((r.user.as_str(), r.cwd.as_str()), ("bob", "/home/bob/docs"));
        let cmds: Vec<(&str, &str, u32, u32)> = r
            .commands
            .iter()
            .map(|c| (c.command.as_str(), c.argument.as_str(), c.preliminary_code, c.reply_code))
            .collect();
        assert_eq!(
            cmds,
            [
                ("USER", "bob", 0, 331),
                ("PASS", "pw", 0, 230),
                ("FEAT", "", 0, 211),
                ("PWD", "", 0, 257),
                ("CWD", "pub/../docs", 0, 250),
                ("PASV", "", 0, 227),
                ("RETR", "a.txt", 150, 226),
                ("PORT", "192,0,2,1,4,1", 0, 200),
                ("STOR", "/tmp/b.bin", 150, 226),
                ("ABOR", "", 0, 225),
            ]
        );
        let t = r.commands[6].transfer.as_ref().expect("RETR transfer");
        // 19 * 256 + 137 = 5001; 4 * 256 + 1 = 1025.
        assert_eq!(
            (t.path.as_str(), t.size, t.data_endpoint.as_str(), t.reply_code),
            ("/home/bob/docs/a.txt", 1234, "198.51.100.7:5001", 226)
        );
        let t = r.commands[8].transfer.as_ref().expect("STOR transfer");
        assert_eq!((t.path.as_str(), t.size, t.data_endpoint.as_str()), ("/tmp/b.bin", 0, "192.0.2.1:1025"));
    }
}

/// AUTH TLS accepted (234): the hello after it is read as TLS; EPSV and EPRT endpoints.
#[test]
fn ftp_auth_tls_and_extended_endpoints() {
    let hello = records(22, &handshake(1, &client_hello_body()), 50);
    let x = vec![
        (Dir::ToClient, b"220 hi\r\n".to_vec()),
        (Dir::ToServer, b"AUTH TLS\r\n".to_vec()),
        (Dir::ToClient, b"234 Proceed\r\n".to_vec()),
        (Dir::ToServer, hello),
    ];
    let o = run(21, &steps_of(&x, 7));
    let f: Vec<v1::Ftp> = o.of(T_FTP);
    assert!(f[0].auth_tls);
    assert_eq!(o.of::<v1::TlsClientHello>(T_TLS_CLIENT_HELLO).len(), 1);
    assert_eq!(
        ftp::epsv_endpoint("Entering Extended Passive Mode (|||6446|)", "2001:db8::1"),
        Some("[2001:db8::1]:6446".into())
    );
    assert_eq!(ftp::eprt_endpoint("|2|2001:db8::2|5282|"), Some("[2001:db8::2]:5282".into()));
    assert_eq!(ftp::eprt_endpoint("|1|132.235.1.2|6275|"), Some("132.235.1.2:6275".into()));
    assert_eq!(ftp::join("/a/b", "../c/./d"), "/a/c/d");
    assert_eq!(ftp::join("/a", "/x/y"), "/x/y");
    assert_eq!(ftp::join("/", ".."), "/");
}

// ---------------------------------------------------------------- IMAP

/// An IMAP session: a LOGIN with a literal password, a UID FETCH of a whole message (a Mail
/// with the hand-computed SHA-256 of the literal's bytes), a NO, then STARTTLS handing over to
/// TLS; at every split size.
#[test]
fn imap_session_fetch_and_starttls() {
    // The literal is the unstuffed SMTP test message (IMAP literals are not dot-stuffed).
    let msg = &b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nFrom: A <a@x.example>\r\nTo: b@y.example\r\n\
Message-ID: <1@x>\r\n\r\nHello\r\n.dot\r\n"[..];
    let mut fetch = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", msg.len()).into_bytes();
    fetch.extend_from_slice(msg);
    fetch.extend_from_slice(b" FLAGS (\\Seen))\r\na3 OK FETCH done\r\n");
    let hello = records(22, &handshake(1, &client_hello_body()), 50);
    let s = |b: &[u8]| (Dir::ToClient, b.to_vec());
    let c = |b: &[u8]| (Dir::ToServer, b.to_vec());
    let x = vec![
        s(b"* OK IMAP4rev1 ready\r\n"),
        c(b"a1 LOGIN alice {6}\r\n"),
        s(b"+ go ahead\r\n"),
        c(b"secret\r\n"),
        s(b"a1 OK LOGIN completed\r\n"),
        c(b"a2 SELECT INBOX\r\n"),
        s(b"* 1 EXISTS\r\na2 OK [READ-WRITE] done\r\n"),
        c(b"a3 UID FETCH 7 (BODY.PEEK[])\r\n"),
        s(&fetch),
        c(b"a4 DELETE nope\r\n"),
        s(b"a4 NO no such mailbox\r\n"),
        c(b"a5 STARTTLS\r\n"),
        s(b"a5 OK Begin TLS negotiation now\r\n"),
        c(&hello),
    ];
    for size in [1, 2, 7, 4096] {
        let o = run(1430, &steps_of(&x, size));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let r: Vec<v1::Imap> = o.of(T_IMAP);
        assert_eq!(r.len(), 1, "size {size}");
        assert_eq!((r[0].greeting.as_str(), r[0].user.as_str(), r[0].starttls), ("OK IMAP4rev1 ready", "alice", true));
        let cmds: Vec<(&str, &str, &str, bool, &str)> = r[0]
            .commands
            .iter()
            .map(|c| (c.tag.as_str(), c.command.as_str(), c.argument.as_str(), c.uid, c.status.as_str()))
            .collect();
        assert_eq!(
            cmds,
            [
                ("a1", "LOGIN", "alice {6}secret", false, "OK"),
                ("a2", "SELECT", "INBOX", false, "OK"),
                ("a3", "FETCH", "7 (BODY.PEEK[])", true, "OK"),
                ("a4", "DELETE", "nope", false, "NO"),
                ("a5", "STARTTLS", "", false, "OK"),
            ]
        );
        assert_eq!(r[0].mail_ids, [SMTP_MSG_SHA256]);
        let m: Vec<v1::Mail> = o.of(T_MAIL);
        assert_eq!((m[0].subject.as_str(), m[0].source.as_str()), ("Grüße", "imap"));
        assert_eq!(o.of::<v1::TlsClientHello>(T_TLS_CLIENT_HELLO).len(), 1);
    }
}

/// A capture that starts after the handshake: the host's client (first sender) is the SMTP
/// server on port 25. The session is read with the roles swapped back (the record's source is
/// the SMTP client), as tshark reads pcapplusplus_Smtp.pcap.
#[test]
fn smtp_roles_from_port_when_server_spoke_first() {
    let mut i = info(40000);
    i.client_port = 25;
    let x = vec![
        (Dir::ToServer, b"220-mx ESMTP\r\n220 ready\r\n".to_vec()),
        (Dir::ToClient, b"AUTH LOGIN\r\n".to_vec()),
        (Dir::ToServer, b"334 VXNlcm5hbWU6\r\n".to_vec()),
        (Dir::ToClient, b"dXNlcg==\r\n".to_vec()),
    ];
    let o = run_info(i, &steps_of(&x, 4096), &Config::default());
    let r: Vec<v1::Smtp> = o.of(T_SMTP);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].greeting_code, r[0].src_port, r[0].dst_port), (220, 40000, 25));
    let cmds: Vec<(&str, &str, u32)> =
        r[0].commands.iter().map(|c| (c.command.as_str(), c.argument.as_str(), c.reply_code)).collect();
    assert_eq!(cmds, [("AUTH", "LOGIN", 334), ("", "dXNlcg==", 0)]);
}

/// An attached message (message/rfc822) ends before the line end that precedes the boundary
/// (RFC 2046 5.1.1), as tshark's IMF export writes it.
#[test]
fn mail_attached_message_excludes_the_boundary_line_end() {
    let msg = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: <a@b>\r\nSubject: x\r\n\r\n--b--\r\n.\r\n";
    let x = vec![
        (Dir::ToClient, b"220 hi\r\n".to_vec()),
        (Dir::ToServer, b"DATA\r\n".to_vec()),
        (Dir::ToClient, b"354 go\r\n".to_vec()),
        (Dir::ToServer, msg.to_vec()),
    ];
    let o = run(25, &steps_of(&x, 4096));
    let f: Vec<v1::File> = o.of(T_FILE);
    assert_eq!(f[0].source, "smtp-attachment");
    // printf 'From: <a@b>\r\nSubject: x\r\n' | wc -c
    assert_eq!(f[0].size, 25);
}

/// Hostile messages: endless MIME nesting (5,000 levels) and an IMAP literal announcing 1 GB
/// that the connection never delivers give records and bounded memory, no panic.
#[test]
fn mail_hostile_nesting_and_huge_announced_literal() {
    let mut msg = Vec::new();
    for i in 0..5000 {
        msg.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n").as_bytes());
    }
    msg.extend_from_slice(b"Content-Type: text/plain\r\n\r\nx\r\n.\r\n");
    let x = vec![
        (Dir::ToClient, b"220 hi\r\n".to_vec()),
        (Dir::ToServer, b"DATA\r\n".to_vec()),
        (Dir::ToClient, b"354 go\r\n".to_vec()),
        (Dir::ToServer, msg),
    ];
    let o = run(25, &steps_of(&x, 65536));
    let m: Vec<v1::Mail> = o.of(T_MAIL);
    assert_eq!(m.len(), 1);
    assert!(m[0].parts.len() <= mail::MAX_PARTS);
    let x = vec![
        (Dir::ToClient, b"* OK hi\r\n".to_vec()),
        (Dir::ToServer, b"a1 FETCH 1 BODY[]\r\n".to_vec()),
        (Dir::ToClient, b"* 1 FETCH (BODY[] {1000000000}\r\nFrom: a@b\r\n\r\nhi".to_vec()),
    ];
    let o = run(143, &steps_of(&x, 4096));
    assert_eq!(o.errors, ["imap: message truncated"]);
    let f: Vec<v1::File> = o.of(T_FILE);
    assert_eq!((f[0].size, f[0].complete), (15, false));
    assert!(o.of::<v1::Mail>(T_MAIL)[0].truncated);
}

// ---------------------------------------------------------------- HTTP bodies as File records

/// "hello world\n" gzip-compressed by Python's `gzip.compress(mtime=0)`; the digests in
/// [`http_chunked_gzip_body_is_a_file_of_the_decoded_bytes`] are coreutils' over "hello world\n".
const HELLO_GZ: &str = "1f8b0800000000000203cb48cdc9c95728cf2fca49e102002d3b08af0c000000";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut v = Vec::new();
    let mut rest = body;
    for &n in sizes {
        let (c, r) = rest.split_at(n.min(rest.len()));
        v.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
        v.extend_from_slice(c);
        v.extend_from_slice(b"\r\n");
        rest = r;
    }
    v.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    v
}

#[test]
fn http_chunked_gzip_body_is_a_file_of_the_decoded_bytes() {
    let gz = unhex(HELLO_GZ);
    let mut res = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n\
Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    res.extend_from_slice(&chunked(&gz, &[3, 10, 100]));
    let req = b"POST /up/form.cgi?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\
Content-Type: application/x-www-form-urlencoded\r\n\r\nname=x";
    let config = Config::new(vec![("extract-files".into(), "true".into())]);
    for size in [1, 7, 4096] {
        let mut steps = chunks(Dir::ToServer, req, size);
        steps.extend(chunks(Dir::ToClient, &res, size));
        let o = run_with(80, &steps, &config);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let files: Vec<v1::File> = o.of(T_FILE);
        assert_eq!(files.len(), 2, "{files:?}");
        let (q, f) = (&files[0], &files[1]);
        assert_eq!((q.source.as_str(), q.name.as_str(), q.size, q.complete), ("http", "form.cgi", 6, true));
        assert_eq!(q.sha256, "3b9ac7d72f2481df5ee24ebe99245f71016f36b36a5f9250b8fdf892b09bedcb");
        assert_eq!((q.src_ip.as_str(), q.dst_port), ("192.0.2.1", 80));
        assert_eq!((f.source.as_str(), f.name.as_str(), f.size, f.complete), ("http", "form.cgi", 12, true));
        assert_eq!(f.content_type, "text/plain");
        assert_eq!(f.md5, "6f5902ac237024bdd0c176cb93063dc4");
        assert_eq!(f.sha1, "22596363b3de40b06f981fb85d82312e8c0ed511");
        assert_eq!(f.sha256, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447");
        assert_eq!((f.src_ip.as_str(), f.src_port, f.dst_ip.as_str()), ("198.51.100.7", 80, "192.0.2.1"));
        let http: Vec<v1::Http> = o.of(T_HTTP);
        assert_eq!(http.len(), 1);
        assert_eq!((http[0].req_file_sha256.as_str(), http[0].res_file_sha256.as_str()), (&*q.sha256, &*f.sha256));
        assert_eq!(http[0].res_content_length, gz.len() as i64, "the HTTP record keeps the transferred length");
        // The content entries carry the decoded bytes.
        let data: Vec<u8> = o
            .records
            .iter()
            .filter(|r| r.0 == netcap_sdk::TAG_FILE_DATA)
            .filter(|r| u64::from_le_bytes(r.2[..8].try_into().unwrap()) & 0xf_ffff == 2)
            .flat_map(|r| r.2[8..].to_vec())
            .collect();
        assert_eq!(data, b"hello world\n");
    }
}

#[test]
fn http_cut_and_gappy_bodies_are_incomplete_files() {
    let gz = unhex(HELLO_GZ);
    let mut res =
        format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", gz.len()).into_bytes();
    let head = res.len();
    res.extend_from_slice(&gz);
    let req: &[u8] = b"GET /f.txt HTTP/1.1\r\nHost: h\r\n\r\n";
    // Cut at every length inside the body: a partial File, never a complete one, an error counted.
    for cut in head + 1..res.len() {
        let o = run(80, &[Step::D(Dir::ToServer, req), Step::D(Dir::ToClient, &res[..cut]), Step::Close]);
        let files: Vec<v1::File> = o.of(T_FILE);
        assert_eq!(files.len(), 1, "cut {cut}");
        // (A cut in the gzip trailer leaves all 12 content bytes, still incomplete.)
        assert!(!files[0].complete && files[0].size <= 12, "cut {cut}: {:?}", files[0]);
        assert!(!o.errors.is_empty());
    }
    // A gap inside the body: the framing goes on, the File is incomplete.
    let o = run(
        80,
        &[
            Step::D(Dir::ToServer, req),
            Step::D(Dir::ToClient, &res[..head + 5]),
            Step::Gap(Dir::ToClient, 5),
            Step::D(Dir::ToClient, &res[head + 10..]),
            Step::Close,
        ],
    );
    let files: Vec<v1::File> = o.of(T_FILE);
    assert_eq!(files.len(), 1);
    assert!(!files[0].complete);
    assert_eq!(o.of::<v1::Http>(T_HTTP).len(), 1);
    // With File records only, HTTP connections are still read, and no HTTP record is written.
    let cfg = Config::new(vec![("record-types".into(), "File".into())]);
    let o = run_with(80, &[Step::D(Dir::ToServer, req), Step::D(Dir::ToClient, &res), Step::Close], &cfg);
    assert_eq!(o.of::<v1::File>(T_FILE).len(), 1);
    assert!(o.records.iter().all(|r| r.0 != T_HTTP));
    // Without File records, no File and no digests in the HTTP record.
    let cfg = Config::new(vec![("record-types".into(), "HTTP".into())]);
    let o = run_with(80, &[Step::D(Dir::ToServer, req), Step::D(Dir::ToClient, &res), Step::Close], &cfg);
    assert!(o.records.iter().all(|r| r.0 == T_HTTP));
    assert_eq!(o.of::<v1::Http>(T_HTTP)[0].res_file_sha256, "");
}

// ---------------------------------------------------------------- Telnet

#[test]
fn telnet_negotiation_terminal_type_login_and_typed_lines() {
    // IAC DO TERMINAL-TYPE, IAC WILL ECHO from the server; IAC WILL TERMINAL-TYPE and the
    // subnegotiation IAC SB TERMINAL-TYPE IS "xterm" IAC SE from the client (RFC 854, 1091).
    let x: Vec<(Dir, Vec<u8>)> = vec![
        (Dir::ToClient, vec![255, 253, 24, 255, 251, 1]),
        (Dir::ToServer, [&[255u8, 251, 24, 255, 250, 24, 0][..], b"xterm", &[255, 240]].concat()),
        (Dir::ToClient, b"\r\nWelcome\r\nlogin: ".to_vec()),
        // Character mode: one byte per segment, each echoed by the server; a typo corrected
        // with DEL.
        (Dir::ToServer, b"r".to_vec()),
        (Dir::ToClient, b"r".to_vec()),
        (Dir::ToServer, b"x".to_vec()),
        (Dir::ToClient, b"x".to_vec()),
        (Dir::ToServer, vec![0x7f]),
        (Dir::ToClient, b"\x08 \x08".to_vec()),
        (Dir::ToServer, b"oot\r\0".to_vec()),
        (Dir::ToClient, b"oot\r\nPassword:".to_vec()),
        (Dir::ToServer, b"s3cret\r\n".to_vec()),
        (Dir::ToClient, b"\r\n$ ".to_vec()),
        (Dir::ToServer, [&b"ls -l"[..], &[255, 255], b"\r\n"].concat()),
        (Dir::ToClient, b"ls -l\xff\r\ntotal 0\r\n$ ".to_vec()),
    ];
    let cfg = Config::new(vec![("record-types".into(), "Telnet".into())]);
    for size in [1, 3, 4096] {
        let o = run_with(23, &steps_of(&x, size), &cfg);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let t: Vec<v1::Telnet> = o.of(T_TELNET);
        assert_eq!(t.len(), 1, "size {size}");
        let t = &t[0];
        let neg: Vec<(&str, &str, u32, &str)> = t
            .negotiations
            .iter()
            .map(|n| (n.sender.as_str(), n.command.as_str(), n.option, n.option_name.as_str()))
            .collect();
        assert_eq!(
            neg,
            [
                ("server", "DO", 24, "Terminal Type"),
                ("server", "WILL", 1, "Echo"),
                ("client", "WILL", 24, "Terminal Type")
            ]
        );
        assert_eq!(t.terminal_type, "xterm");
        assert_eq!(t.user, "root");
        let prompts: Vec<(&str, &str)> = t.prompts.iter().map(|p| (p.prompt.as_str(), p.answer.as_str())).collect();
        assert_eq!(prompts, [("login:", "root"), ("Password:", "s3cret")]);
        assert_eq!(t.client_lines, ["root", "s3cret", "ls -l\u{fffd}"]);
        assert_eq!((t.src_ip.as_str(), t.dst_port), ("192.0.2.1", 23));
    }
    // A cut subnegotiation and a gap: no panic, a record, the gap counted.
    let o = run(23, &[Step::D(Dir::ToServer, &[255, 250, 24, 0, b'x']), Step::Gap(Dir::ToServer, 9), Step::Close]);
    assert_eq!(o.of::<v1::Telnet>(T_TELNET).len(), 1);
    assert_eq!(o.errors, ["telnet: gap"]);
}

#[test]
fn telnet_capture_started_after_the_handshake() {
    // The host took the first sender (the server, port 23) for the client.
    let mut i = info(23);
    (i.client_port, i.server_port) = (23, 40000);
    (i.client_ip, i.server_ip) = (i.server_ip, i.client_ip);
    let o = run_info(
        i,
        &[Step::D(Dir::ToServer, &[255, 253, 24]), Step::D(Dir::ToClient, b"ls\r\n"), Step::Close],
        &Config::default(),
    );
    let t: Vec<v1::Telnet> = o.of(T_TELNET);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].negotiations[0].sender.as_str(), t[0].negotiations[0].command.as_str()), ("server", "DO"));
    assert_eq!(t[0].client_lines, ["ls"]);
    assert_eq!((t[0].src_ip.as_str(), t[0].src_port, t[0].dst_port), ("192.0.2.1", 40000, 23));
}
