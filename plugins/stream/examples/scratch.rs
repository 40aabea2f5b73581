// Scratch harness (not committed): classic pcap -> naive TCP reassembly -> stream decoder.
use netcap_decoder_stream::*;
use netcap_sdk::{CloseReason, Config, Dir, Emitter, EventMeta, StreamEvent, StreamInfo};
use prost::Message;
use std::collections::{BTreeMap, HashMap};

struct Flow {
    info: StreamInfo,
    next: [Option<u32>; 2],
    ooo: [BTreeMap<u32, Vec<u8>>; 2],
    live: bool,
}

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let le = data[0] == 0xd4;
    let rd32 = |b: &[u8]| {
        if le { u32::from_le_bytes(b.try_into().unwrap()) } else { u32::from_be_bytes(b.try_into().unwrap()) }
    };
    let nanos = data[0..4] == [0x4d, 0x3c, 0xb2, 0xa1] || data[0..4] == [0xa1, 0xb2, 0x3c, 0x4d];
    let linktype = rd32(&data[20..24]);
    let mut at = 24;
    let mut d = Stream::new(&Config::default());
    let mut out = Vec::new();
    let mut flows: HashMap<([u8; 16], u16, [u8; 16], u16), u64> = HashMap::new();
    let mut fl: HashMap<u64, Flow> = HashMap::new();
    let mut seq = 0u64;
    while at + 16 <= data.len() {
        let ts = rd32(&data[at..at + 4]) as i64 * 1_000_000_000
            + rd32(&data[at + 4..at + 8]) as i64 * if nanos { 1 } else { 1000 };
        let cap = rd32(&data[at + 8..at + 12]) as usize;
        let pkt = &data[at + 16..(at + 16 + cap).min(data.len())];
        at += 16 + cap;
        seq += 1;
        let mut off = match linktype {
            1 => 14,
            113 => 16,
            101 | 228 | 229 => 0,
            0 => 4,
            _ => 14,
        };
        let mut et = if linktype == 1 {
            u16::from_be_bytes([pkt[12], pkt[13]])
        } else if linktype == 113 {
            u16::from_be_bytes([pkt[14], pkt[15]])
        } else {
            0
        };
        if linktype == 1 {
            while et == 0x8100 || et == 0x88a8 {
                et = u16::from_be_bytes([pkt[off + 2], pkt[off + 3]]);
                off += 4;
            }
        }
        if pkt.len() <= off {
            continue;
        }
        let v = pkt[off] >> 4;
        let (src, dst, proto, l4) = if v == 4 && pkt.len() >= off + 20 {
            let ihl = (pkt[off] & 15) as usize * 4;
            let tl = u16::from_be_bytes([pkt[off + 2], pkt[off + 3]]) as usize;
            let mut s = [0u8; 16];
            let mut t = [0u8; 16];
            s[..4].copy_from_slice(&pkt[off + 12..off + 16]);
            t[..4].copy_from_slice(&pkt[off + 16..off + 20]);
            if u16::from_be_bytes([pkt[off + 6], pkt[off + 7]]) & 0x3fff != 0 {
                continue;
            }
            (s, t, pkt[off + 9], &pkt[off + ihl..(off + tl).min(pkt.len()).max(off + ihl)])
        } else if v == 6 && pkt.len() >= off + 40 {
            let pl = u16::from_be_bytes([pkt[off + 4], pkt[off + 5]]) as usize;
            let mut s = [0u8; 16];
            let mut t = [0u8; 16];
            s.copy_from_slice(&pkt[off + 8..off + 24]);
            t.copy_from_slice(&pkt[off + 24..off + 40]);
            (s, t, pkt[off + 6], &pkt[off + 40..(off + 40 + pl).min(pkt.len())])
        } else {
            continue;
        };
        let _ = et;
        if proto != 6 || l4.len() < 20 {
            continue;
        }
        let sp = u16::from_be_bytes([l4[0], l4[1]]);
        let dp = u16::from_be_bytes([l4[2], l4[3]]);
        let tseq = u32::from_be_bytes(l4[4..8].try_into().unwrap());
        let doff = (l4[12] >> 4) as usize * 4;
        let flags = l4[13];
        if l4.len() < doff {
            continue;
        }
        let payload = &l4[doff..];
        let (id, dir) = if let Some(&id) = flows.get(&(src, sp, dst, dp)) {
            (id, Dir::ToServer)
        } else if let Some(&id) = flows.get(&(dst, dp, src, sp)) {
            (id, Dir::ToClient)
        } else {
            let syn_ack = flags & 0x12 == 0x12;
            let (c, cp, s, spp) = if syn_ack { (dst, dp, src, sp) } else { (src, sp, dst, dp) };
            flows.insert((c, cp, s, spp), seq);
            let info = StreamInfo {
                id: seq,
                ip_version: v,
                client_ip: c,
                server_ip: s,
                client_port: cp,
                server_port: spp,
                tunnel_depth: 0,
            };
            let meta = EventMeta { stream: seq, seq, ts_nanos: ts };
            let mut em = Emitter::new(&mut out, seq);
            d.event(&meta, &StreamEvent::Open(&info), &mut em);
            fl.insert(seq, Flow { info, next: [None, None], ooo: Default::default(), live: true });
            (seq, if syn_ack { Dir::ToClient } else { Dir::ToServer })
        };
        let f = fl.get_mut(&id).unwrap();
        let _ = &f.info;
        if !f.live {
            continue;
        }
        let di = dir.index();
        let mut s0 = tseq;
        if flags & 2 != 0 {
            s0 = s0.wrapping_add(1);
            f.next[di] = Some(s0);
        }
        if payload.is_empty() {
            continue;
        }
        if f.next[di].is_none() {
            f.next[di] = Some(tseq);
        }
        f.ooo[di].entry(tseq).or_insert_with(|| payload.to_vec());
        let meta = EventMeta { stream: id, seq, ts_nanos: ts };
        loop {
            let n = f.next[di].unwrap();
            let Some((&k, _)) = f.ooo[di].iter().find(|(k, v)| {
                (n.wrapping_sub(**k) as i32) >= 0 && (k.wrapping_add(v.len() as u32).wrapping_sub(n) as i32) > 0
            }) else {
                f.ooo[di].retain(|&k, v| (k.wrapping_add(v.len() as u32).wrapping_sub(n) as i32) > 0);
                break;
            };
            let v = f.ooo[di].remove(&k).unwrap();
            let skip = n.wrapping_sub(k) as usize;
            let b = &v[skip..];
            f.next[di] = Some(n.wrapping_add(b.len() as u32));
            let mut em = Emitter::new(&mut out, seq);
            let verdict = d.event(&meta, &StreamEvent::Data { dir, bytes: b }, &mut em);
            if verdict != netcap_sdk::Verdict::Continue {
                f.live = false;
                break;
            }
        }
    }
    let mut ids: Vec<u64> = fl.keys().copied().collect();
    ids.sort();
    for id in ids {
        let f = &fl[&id];
        if f.live {
            let mut em = Emitter::new(&mut out, u64::MAX);
            d.event(
                &EventMeta { stream: id, seq: u64::MAX, ts_nanos: 0 },
                &StreamEvent::Close { reason: CloseReason::End },
                &mut em,
            );
        }
    }
    let mut em = Emitter::new(&mut out, u64::MAX);
    d.finish(&mut em);
    for e in netcap_sdk::entries(&out) {
        let e = e.unwrap();
        match e.tag {
            0xfffe => println!("ERR\t{}", String::from_utf8_lossy(e.bytes)),
            T_TLS_CLIENT_HELLO => {
                let r = netcap_proto::v1::TlsClientHello::decode(e.bytes).unwrap();
                println!("JA3\t{}\t{}\t{}", r.ja3, r.ja3_full, r.ja4);
            }
            T_TLS_SERVER_HELLO => {
                let r = netcap_proto::v1::TlsServerHello::decode(e.bytes).unwrap();
                println!("JA3S\t{}\t{}", r.ja3s, r.ja3s_full);
            }
            T_SSH => {
                let r = netcap_proto::v1::Ssh::decode(e.bytes).unwrap();
                println!("SSH\t{}\t{}\t{}", r.is_client, r.hassh, r.ident);
            }
            T_HTTP => {
                let r = netcap_proto::v1::Http::decode(e.bytes).unwrap();
                println!(
                    "HTTP\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.method, r.host, r.url, r.user_agent, r.status_code, r.res_content_length
                );
            }
            T_DNS => {
                let r = netcap_proto::v1::Dns::decode(e.bytes).unwrap();
                println!("DNS\t{}\t{}", r.id, r.questions.first().map(|q| q.name.as_str()).unwrap_or(""));
            }
            _ => {}
        }
    }
}
