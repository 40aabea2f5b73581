//! Seed inputs: packets of the shared capture corpus (`$NETCAP_PCAP_DIR`, read in place, never
//! copied), record files made from them, and a few synthesized packets so that every target has
//! seeds without the corpus. Deterministic: files in path order, packets in file order, a fixed
//! choice per file.

use crate::targets::{Target, push_sequence_packet};
use netcap::capture::PacketSource;
use netcap::capture::file::FileSource;
use netcap::dissect::{self, Dissection, layer, layer_bit, linktype};
use netcap_proto::v1;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Packets read per capture at most.
const PACKETS_PER_FILE: usize = 4000;
/// Seeds per target at most (memory stays bounded whatever the corpus).
const MAX_SEEDS: usize = 4000;
/// Packets per sequence seed.
const SEQUENCE_LEN: usize = 32;

/// The seeds of every target.
#[derive(Debug, Default)]
pub struct Seeds {
    pub by_target: BTreeMap<Target, Vec<Vec<u8>>>,
}

impl Seeds {
    pub fn get(&self, t: Target) -> &[Vec<u8>] {
        self.by_target.get(&t).map_or(&[], Vec::as_slice)
    }

    fn push(&mut self, t: Target, input: Vec<u8>) {
        let v = self.by_target.entry(t).or_default();
        if v.len() < MAX_SEEDS && input.len() <= t.max_len() {
            v.push(input);
        }
    }
}

/// Every capture file under `dir`, in path order.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    netcap::capture::inputs::capture_files_below(dir)
}

/// Collects seeds from the captures in `files` plus the synthesized ones.
pub fn collect(files: &[PathBuf]) -> Seeds {
    let mut seeds = Seeds::default();
    let mut masks = HashSet::new();
    for f in files {
        add_capture(&mut seeds, &mut masks, f);
    }
    add_synthesized(&mut seeds);
    seeds
}

/// One packet as read: time, link type, bytes.
type Pkt = (i64, u16, Vec<u8>);

fn read_capture(path: &Path) -> Vec<Pkt> {
    let Ok(mut src) = FileSource::open(path, None) else { return Vec::new() };
    let mut out = Vec::new();
    while out.len() < PACKETS_PER_FILE {
        match src.next_packet() {
            Ok(Some(p)) => out.push((p.ts_nanos, p.link_type, p.data.to_vec())),
            _ => break,
        }
    }
    out
}

fn dissection(lt: u16, data: &[u8]) -> Dissection {
    let mut d = Dissection::new(true);
    dissect::dissect(lt, data, &mut d);
    d
}

fn add_capture(seeds: &mut Seeds, masks: &mut HashSet<(u16, u128)>, path: &Path) {
    let packets = read_capture(path);
    let ds: Vec<Dissection> = packets.iter().map(|(_, lt, data)| dissection(*lt, data)).collect();
    // dissect: the first packet with each combination of link type and layers, across the corpus.
    for ((_, lt, data), d) in packets.iter().zip(&ds) {
        if masks.insert((*lt, d.mask)) {
            seeds.push(Target::Dissect, dissect_input(*lt, data));
        }
    }
    // defrag: runs of fragments (with the packets between them), up to 4 per file.
    let frags: Vec<usize> = (0..packets.len()).filter(|&i| ds[i].fragment.is_some()).collect();
    for chunk in frags.chunks(SEQUENCE_LEN).take(4) {
        let (a, b) = (chunk[0], chunk[chunk.len() - 1]);
        let pick: Vec<usize> = (a..=b).filter(|i| ds[*i].fragment.is_some() || b - a < 2 * SEQUENCE_LEN).collect();
        seeds.push(Target::Defrag, sequence_input(&packets, &pick));
    }
    // reassembly: runs of TCP packets (and fragments, which may reassemble into TCP), 2 per file.
    let tcp: Vec<usize> =
        (0..packets.len()).filter(|&i| ds[i].mask & layer_bit(layer::TCP) != 0 || ds[i].fragment.is_some()).collect();
    for chunk in tcp.chunks(SEQUENCE_LEN).take(2) {
        seeds.push(Target::Reassembly, sequence_input(&packets, chunk));
    }
    // records: a record file of the IPv4 and one of the TCP headers of the capture (uncompressed,
    // and every third file compressed, alternating zstd and gzip).
    let n = seeds.get(Target::Records).len();
    if let Some(file) = ipv4_records(&packets, &ds) {
        seeds.push(Target::Records, compressed(file, n));
    }
    if let Some(file) = tcp_records(&packets, &ds) {
        seeds.push(Target::Records, compressed(file, n + 1));
    }
}

fn dissect_input(lt: u16, data: &[u8]) -> Vec<u8> {
    let mut v = lt.to_le_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

fn sequence_input(packets: &[Pkt], pick: &[usize]) -> Vec<u8> {
    let Some(&first) = pick.first() else { return Vec::new() };
    let mut v = packets[first].1.to_le_bytes().to_vec();
    let mut prev = packets[first].0;
    for &i in pick {
        let (ts, _, data) = &packets[i];
        push_sequence_packet(&mut v, ts.saturating_sub(prev), data);
        prev = *ts;
    }
    v
}

fn compressed(file: Vec<u8>, n: usize) -> Vec<u8> {
    use std::io::Write;
    match n % 6 {
        2 => zstd::encode_all(file.as_slice(), 1).unwrap_or(file),
        5 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            match e.write_all(&file).and_then(|()| e.finish()) {
                Ok(v) => v,
                Err(_) => file,
            }
        }
        _ => file,
    }
}

/// A record file: header (with the built-in schema) and records.
fn record_file(record_type: &str, records: &[Vec<u8>]) -> Vec<u8> {
    let header = v1::Header {
        created: 1,
        input_source: "fuzz".into(),
        record_type: record_type.into(),
        version: "0.1.0".into(),
        decoder: "l2l4".into(),
        decoder_version: "0.1.0".into(),
        message_name: format!("netcap.v1.{record_type}"),
        schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
        wit_version: "0.2.0".into(),
        ..v1::Header::default()
    };
    let mut out = Vec::new();
    netcap_proto::put_delimited(&mut out, &header);
    for r in records {
        netcap_proto::put_uvarint(&mut out, r.len() as u64);
        out.extend_from_slice(r);
    }
    out
}

fn ip4(b: &[u8]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// IPv4 records of a capture's packets (the first 64 with an IPv4 header).
fn ipv4_records(packets: &[Pkt], ds: &[Dissection]) -> Option<Vec<u8>> {
    use prost::Message;
    let mut recs = Vec::new();
    for ((ts, _, data), d) in packets.iter().zip(ds) {
        let Some(l) = d.layers().iter().find(|l| l.id == layer::IPV4) else { continue };
        let Some(h) = data.get(l.offset..l.offset + 20) else { continue };
        let ihl = usize::from(h[0] & 0xf);
        let fo = u16::from_be_bytes([h[6], h[7]]);
        let r = v1::IPv4 {
            timestamp: *ts,
            version: u32::from(h[0] >> 4),
            ihl: ihl as u32,
            tos: u32::from(h[1]),
            length: u32::from(u16::from_be_bytes([h[2], h[3]])),
            id: u32::from(u16::from_be_bytes([h[4], h[5]])),
            flags: u32::from(fo >> 13),
            frag_offset: u32::from(fo & 0x1fff),
            ttl: u32::from(h[8]),
            protocol: u32::from(h[9]),
            checksum: u32::from(u16::from_be_bytes([h[10], h[11]])),
            src_ip: ip4(&h[12..16]),
            dst_ip: ip4(&h[16..20]),
            options: data
                .get(l.offset + 20..l.offset + ihl * 4)
                .filter(|o| o.len() >= 2)
                .map(|o| {
                    vec![v1::IPv4Option {
                        option_type: u32::from(o[0]),
                        option_length: u32::from(o[1]),
                        option_data: o[2..].to_vec(),
                    }]
                })
                .unwrap_or_default(),
            ..v1::IPv4::default()
        };
        recs.push(r.encode_to_vec());
        if recs.len() == 64 {
            break;
        }
    }
    (!recs.is_empty()).then(|| record_file("IPv4", &recs))
}

/// TCP records of a capture's packets (the first 64 with a TCP header), with their payloads.
fn tcp_records(packets: &[Pkt], ds: &[Dissection]) -> Option<Vec<u8>> {
    use prost::Message;
    let mut recs = Vec::new();
    for ((ts, _, data), d) in packets.iter().zip(ds) {
        let Some(l) = d.layers().iter().find(|l| l.id == layer::TCP) else { continue };
        let Some(h) = data.get(l.offset..l.offset + 20) else { continue };
        let off = usize::from(h[12] >> 4) * 4;
        let fl = h[13];
        let r = v1::Tcp {
            timestamp: *ts,
            src_port: u32::from(u16::from_be_bytes([h[0], h[1]])),
            dst_port: u32::from(u16::from_be_bytes([h[2], h[3]])),
            seq_num: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ack_num: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            data_offset: (off / 4) as u32,
            fin: fl & 1 != 0,
            syn: fl & 2 != 0,
            rst: fl & 4 != 0,
            psh: fl & 8 != 0,
            ack: fl & 16 != 0,
            window: u32::from(u16::from_be_bytes([h[14], h[15]])),
            payload: data.get(l.offset + off..).map(|p| p[..p.len().min(256)].to_vec()).unwrap_or_default(),
            ..v1::Tcp::default()
        };
        recs.push(r.encode_to_vec());
        if recs.len() == 64 {
            break;
        }
    }
    (!recs.is_empty()).then(|| record_file("TCP", &recs))
}

/// Seeds built here, so every target has some without the corpus: a UDP datagram in three
/// overlapping IPv4 fragments, a TCP handshake with data, out of order and retransmitted, and
/// record files of those.
fn add_synthesized(seeds: &mut Seeds) {
    let udp = {
        let mut v = Vec::new();
        let payload: Vec<u8> = (0..600u32).map(|i| (i * 13) as u8).collect();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut v, &payload)
            .expect("build a UDP packet");
        v
    };
    let frag = |a: usize, b: usize, more: bool| {
        let mut f = udp[..34].to_vec();
        f.extend_from_slice(&udp[34 + a..34 + b]);
        f[16..18].copy_from_slice(&((20 + b - a) as u16).to_be_bytes());
        f[20..22].copy_from_slice(&((a / 8) as u16 | if more { 0x2000 } else { 0 }).to_be_bytes());
        f
    };
    let end = udp.len() - 34;
    let frags = [frag(0, 256, true), frag(512, end, false), frag(128, 512, true)];
    let tcp = |seq: u32, flags: u8, payload: &[u8], reply: bool| {
        let mut v = Vec::new();
        let (a, b) = if reply { ([10, 0, 0, 2], [10, 0, 0, 1]) } else { ([10, 0, 0, 1], [10, 0, 0, 2]) };
        let (sp, dp) = if reply { (80, 40000) } else { (40000, 80) };
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(a, b, 64)
            .tcp(sp, dp, seq, 65535)
            .write(&mut v, payload)
            .expect("build a TCP packet");
        v[14 + 20 + 13] = flags;
        v
    };
    let conn = [
        tcp(100, 0x02, b"", false),
        tcp(900, 0x12, b"", true),
        tcp(101, 0x10, b"", false),
        tcp(111, 0x18, b"HTTP/1.1\r\n\r\n", false),
        tcp(101, 0x18, b"GET / x \r\n", false),
        tcp(101, 0x18, b"GET / y \r\n", false),
        tcp(901, 0x18, b"HTTP/1.1 200 OK\r\n\r\n", true),
        tcp(123, 0x11, b"", false),
        tcp(920, 0x04, b"", true),
    ];
    let all: Vec<Pkt> = frags.iter().chain(&conn).map(|p| (0i64, linktype::ETHERNET, p.clone())).collect();
    let ds: Vec<Dissection> = all.iter().map(|(_, lt, data)| dissection(*lt, data)).collect();
    for (_, lt, data) in &all {
        seeds.push(Target::Dissect, dissect_input(*lt, data));
    }
    seeds.push(Target::Defrag, sequence_input(&all, &[0, 1, 2]));
    seeds.push(Target::Reassembly, sequence_input(&all, &(3..all.len()).collect::<Vec<_>>()));
    seeds.push(Target::Reassembly, sequence_input(&all, &(0..all.len()).collect::<Vec<_>>()));
    for (i, f) in [ipv4_records(&all, &ds), tcp_records(&all, &ds)].into_iter().flatten().enumerate() {
        seeds.push(Target::Records, f.clone());
        seeds.push(Target::Records, compressed(f, 2 + 3 * i));
    }
}
