//! The decoder driven as the host drives it: one record per line whatever the segmentation,
//! the parts of a message, and malformed input (long lines, garbling: counted, no panic).

use super::*;
use netcap_sdk::{CloseReason, TAG_ERROR, entries};

fn info() -> StreamInfo {
    let mut i = StreamInfo { id: 1, ip_version: 4, client_port: 40000, server_port: 6667, ..Default::default() };
    i.client_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
    i.server_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
    i
}

fn run(evs: &[(Dir, &[u8])]) -> (Vec<Irc>, Vec<String>) {
    let mut d = IrcDecoder::default();
    let mut buf = Vec::new();
    let i = info();
    let open = EventMeta { stream: 1, seq: 0, ts_nanos: 0 };
    d.on(&open, &StreamEvent::Open(&i), &mut Emitter::new(&mut buf, 0));
    for (k, &(dir, bytes)) in evs.iter().enumerate() {
        let seq = k as u64 + 1;
        let meta = EventMeta { stream: 1, seq, ts_nanos: seq as i64 * 1000 };
        d.on(&meta, &StreamEvent::Data { dir, bytes }, &mut Emitter::new(&mut buf, seq));
    }
    let meta = EventMeta { stream: 1, seq: 999, ts_nanos: 999_000 };
    d.on(&meta, &StreamEvent::Close { reason: CloseReason::Fin }, &mut Emitter::new(&mut buf, 999));
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    for e in entries(&buf) {
        let e = e.expect("well-formed output");
        if e.tag == TAG_ERROR {
            errs.push(String::from_utf8_lossy(e.bytes).into_owned());
        } else if e.tag < 0xff00 {
            recs.push(prost::Message::decode(e.bytes).expect("record"));
        }
    }
    (recs, errs)
}

const CLIENT: &[u8] =
    b"PASS secret\r\nNICK alice\r\nUSER alice 0 * :Alice A\r\nJOIN #rust,#wasm\r\nPRIVMSG #rust :hello: world\r\n";
const SERVER: &[u8] = b":irc.example.net 001 alice :Welcome alice\r\n:bob!b@host PRIVMSG #rust :hi there\r\n@time=x :irc.example.net NOTICE * :*** Looking\n";

#[test]
fn messages_at_every_split() {
    let (r, e) = run(&[(Dir::ToServer, CLIENT), (Dir::ToClient, SERVER)]);
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(r.len(), 8);
    assert_eq!((r[1].command.as_str(), r[1].nick.as_str()), ("NICK", "alice"));
    assert_eq!(
        (r[2].params.as_slice(), r[2].trailing.as_str()),
        (&["alice".to_string(), "0".into(), "*".into()][..], "Alice A")
    );
    assert_eq!((r[3].command.as_str(), r[3].channel.as_str()), ("JOIN", "#rust"));
    assert_eq!((r[4].channel.as_str(), r[4].trailing.as_str(), r[4].from_server), ("#rust", "hello: world", false));
    assert_eq!((r[5].command.as_str(), r[5].prefix.as_str(), r[5].from_server), ("001", "irc.example.net", true));
    assert_eq!((r[6].nick.as_str(), r[6].prefix.as_str(), r[6].trailing.as_str()), ("bob", "bob!b@host", "hi there"));
    assert_eq!((r[7].command.as_str(), r[7].params.as_slice()), ("NOTICE", &["*".to_string()][..]));
    assert_eq!((r[0].src_port, r[0].dst_port, r[0].timestamp, r[5].timestamp), (40000, 6667, 1000, 2000));
    for cut in 1..CLIENT.len() {
        let (a, b) = CLIENT.split_at(cut);
        let (r2, e2) = run(&[(Dir::ToServer, a), (Dir::ToServer, b), (Dir::ToClient, SERVER)]);
        assert!(e2.is_empty(), "cut {cut}");
        assert_eq!(r2.iter().map(|x| &x.command).collect::<Vec<_>>(), r.iter().map(|x| &x.command).collect::<Vec<_>>());
    }
}

#[test]
fn long_lines_cuts_and_garbling() {
    let mut long = vec![b'a'; MAX_LINE + 10];
    long.extend(b"\r\nPING :x\r\n");
    let (r, e) = run(&[(Dir::ToServer, &long)]);
    assert_eq!((r.len(), e.as_slice()), (1, &[E_LONG.to_string()][..]));
    assert_eq!(r[0].command, "PING");
    let (r, e) = run(&[(Dir::ToServer, b"PRIVMSG #a :cut")]);
    assert_eq!((r.len(), e.as_slice()), (1, &[E_TRUNCATED.to_string()][..]));
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..2000 {
        let n: Vec<u8> = (0..64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = run(&[(Dir::ToServer, &n), (Dir::ToClient, &n)]);
        for l in [&b":"[..], b"@", b"@a", b": x", b" :", b":a!", b"NICK"] {
            let _ = parse(l, &mut Irc::default());
        }
    }
}
