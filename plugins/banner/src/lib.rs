//! The `banner` decoder (kind `stream`, every TCP connection): one `ServiceBanner` record per
//! connection whose server sent data, with the server's first bytes and what the client sent
//! before them (`proto/netcap/v1/service.proto`). The `service` record decoder matches them with
//! nmap's service probes.
//!
//! A separate decoder rather than part of `stream`: it needs the first bytes of *every*
//! connection, also those `stream` declines, and it stops a stream (`Done`) as soon as it has
//! them, so the host copies at most [`BANNER_MAX`] server bytes and [`CLIENT_MAX`] client bytes
//! (plus whatever the client sends while the server is silent, up to [`SILENT_MAX`]) per
//! connection into its sandbox.

use netcap_proto::v1::ServiceBanner;
use netcap_sdk::{
    Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, StreamDecoder, StreamEvent, StreamInfo, Verdict,
    export_stream_decoder, fmt,
};
use std::collections::HashMap;

/// Most server bytes kept: the banner.
pub const BANNER_MAX: usize = 512;
/// Most client bytes kept from before the banner.
pub const CLIENT_MAX: usize = 512;
/// Client bytes after which a connection whose server never answered is given up.
pub const SILENT_MAX: u64 = 64 << 10;
/// Record types written.
pub const RECORD_TYPES: [(&str, &str); 1] = [("ServiceBanner", "netcap.v1.ServiceBanner")];

struct Conn {
    info: StreamInfo,
    opened: i64,
    banner_ts: i64,
    banner: Vec<u8>,
    client: Vec<u8>,
    client_bytes: u64,
    truncated: bool,
}

/// The decoder state.
#[derive(Default)]
pub struct Banner {
    conns: HashMap<u64, Conn>,
}

fn ip(a: &[u8]) -> String {
    let mut s = String::new();
    fmt::set_ip(&mut s, a);
    s
}

impl Banner {
    /// Emits the connection's banner (if the server sent anything) and forgets it.
    fn emit(&mut self, id: u64, out: &mut Emitter<'_>) {
        let Some(c) = self.conns.remove(&id) else { return };
        if c.banner.is_empty() {
            return;
        }
        let r = ServiceBanner {
            timestamp: c.banner_ts,
            src_ip: ip(c.info.client_addr()),
            dst_ip: ip(c.info.server_addr()),
            src_port: u32::from(c.info.client_port),
            dst_port: u32::from(c.info.server_port),
            banner: c.banner,
            client_data: c.client,
            truncated: c.truncated,
            tunnel_depth: u32::from(c.info.tunnel_depth),
            timestamp_open: c.opened,
        };
        out.record(0, &r);
    }

    /// One event of a stream.
    pub fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        let id = meta.stream;
        if let StreamEvent::Open(info) = ev {
            let c = Conn {
                info: **info,
                opened: meta.ts_nanos,
                banner_ts: 0,
                banner: Vec::new(),
                client: Vec::new(),
                client_bytes: 0,
                truncated: false,
            };
            self.conns.insert(id, c);
            return Verdict::Continue;
        }
        let Some(c) = self.conns.get_mut(&id) else { return Verdict::Decline };
        match *ev {
            StreamEvent::Open(_) => Verdict::Continue,
            StreamEvent::Data { dir: Dir::ToServer, bytes } => {
                if c.banner.is_empty() {
                    let room = CLIENT_MAX - c.client.len();
                    c.client.extend_from_slice(&bytes[..room.min(bytes.len())]);
                    c.client_bytes += bytes.len() as u64;
                    if c.client_bytes > SILENT_MAX {
                        self.conns.remove(&id);
                        return Verdict::Done;
                    }
                }
                Verdict::Continue
            }
            StreamEvent::Data { dir: Dir::ToClient, bytes } => {
                if c.banner.is_empty() {
                    c.banner_ts = meta.ts_nanos;
                }
                let room = BANNER_MAX - c.banner.len();
                c.banner.extend_from_slice(&bytes[..room.min(bytes.len())]);
                if c.banner.len() < BANNER_MAX {
                    return Verdict::Continue;
                }
                self.emit(id, out);
                Verdict::Done
            }
            StreamEvent::Gap { dir, .. } => {
                // The banner (or the request it answers) has a hole: keep what came before it.
                c.truncated = true;
                if dir == Dir::ToClient || !c.banner.is_empty() {
                    self.emit(id, out);
                    return Verdict::Done;
                }
                Verdict::Continue
            }
            StreamEvent::Close { .. } => {
                self.emit(id, out);
                Verdict::Done
            }
        }
    }

    /// End of input: connections still open, in stream-id order.
    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.emit(id, out);
        }
    }
}

/// The exported decoder.
pub struct BannerDec(Banner);

impl StreamDecoder for BannerDec {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "banner".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: vec!["tcp:*".into()],
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(BannerDec(Banner::default()))
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        self.0.event(meta, ev, out)
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.0.finish(out);
    }
}

export_stream_decoder!(BannerDec);

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_sdk::StreamRunner;
    use netcap_sdk::stream::{push_close, push_data, push_gap, push_open};
    use prost::Message;

    fn m(stream: u64, seq: u64, ts_nanos: i64) -> EventMeta {
        EventMeta { stream, seq, ts_nanos }
    }

    fn info() -> StreamInfo {
        let mut i = StreamInfo { ip_version: 4, client_port: 40000, server_port: 21, ..Default::default() };
        i.client_ip[..4].copy_from_slice(&[10, 0, 0, 2]);
        i.server_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
        i
    }

    fn banners(batch: &[u8], finish: bool) -> Vec<ServiceBanner> {
        let mut r = StreamRunner::new(BannerDec(Banner::default()));
        let mut out = Vec::new();
        r.decode(batch, &mut out);
        if finish {
            r.finish(&mut out);
        }
        netcap_sdk::entries(&out)
            .map(Result::unwrap)
            .filter(|e| e.tag == 0)
            .map(|e| ServiceBanner::decode(e.bytes).unwrap())
            .collect()
    }

    #[test]
    fn server_first_and_client_first_banners() {
        let mut b = Vec::new();
        push_open(&mut b, &m(1, 1, 100), &info());
        push_data(&mut b, &m(1, 2, 200), Dir::ToClient, b"220 ProFTPD 1.3.5 Server\r\n");
        push_data(&mut b, &m(1, 3, 300), Dir::ToServer, b"USER x\r\n");
        push_close(&mut b, &m(1, 4, 400), netcap_sdk::CloseReason::Fin);
        push_open(&mut b, &m(5, 5, 500), &info());
        push_data(&mut b, &m(5, 6, 600), Dir::ToServer, b"GET / HTTP/1.0\r\n\r\n");
        push_data(&mut b, &m(5, 7, 700), Dir::ToClient, &[b'x'; 300]);
        push_data(&mut b, &m(5, 8, 800), Dir::ToClient, &[b'y'; 300]);
        // A connection whose server never speaks gives nothing.
        push_open(&mut b, &m(9, 9, 900), &info());
        push_data(&mut b, &m(9, 10, 1000), Dir::ToServer, b"hello");
        let r = banners(&b, true);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].timestamp, r[0].timestamp_open), (200, 100));
        assert_eq!(r[0].banner, b"220 ProFTPD 1.3.5 Server\r\n");
        assert!(r[0].client_data.is_empty(), "the client's USER came after the banner");
        assert_eq!((r[0].src_ip.as_str(), r[0].dst_ip.as_str(), r[0].dst_port), ("10.0.0.2", "10.0.0.1", 21));
        assert_eq!(r[1].client_data, b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(r[1].banner.len(), BANNER_MAX);
        assert_eq!(&r[1].banner[295..305], b"xxxxxyyyyy");
    }

    #[test]
    fn a_gap_ends_the_banner_and_unfinished_ones_come_at_the_end() {
        let mut b = Vec::new();
        push_open(&mut b, &m(1, 1, 100), &info());
        push_data(&mut b, &m(1, 2, 200), Dir::ToClient, b"SSH-2.0-x");
        push_gap(&mut b, &m(1, 3, 300), Dir::ToClient, 10);
        push_open(&mut b, &m(4, 4, 400), &info());
        push_data(&mut b, &m(4, 5, 500), Dir::ToClient, b"+OK");
        let r = banners(&b, true);
        assert_eq!(r.len(), 2);
        assert!(r[0].truncated);
        assert_eq!(r[0].banner, b"SSH-2.0-x");
        assert_eq!((r[1].banner.as_slice(), r[1].truncated), (&b"+OK"[..], false));
    }
}
