//! The `irc` decoder (kind `stream`): IRC (RFC 1459, RFC 2812) on reassembled TCP connections
//! to the usual server ports, one `IRC` record per message, either direction
//! (`proto/netcap/v1/irc.proto`). Each direction is cut into lines (LF, an optional CR before
//! it); a line is `[@tags ][:prefix ]command params [:trailing]`. The side on the port is the
//! server. A line longer than [`MAX_LINE`] is counted and skipped up to its end; a gap ends the
//! reading of the connection.

use netcap_proto::v1::Irc;
use netcap_sdk::{
    Config, DecoderInfo, Dir, Emitter, EventMeta, Kind, StreamDecoder, StreamEvent, StreamInfo, Verdict,
    export_stream_decoder, fmt,
};
use std::collections::HashMap;

/// Record types written.
pub const RECORD_TYPES: [(&str, &str); 1] = [("IRC", "netcap.v1.IRC")];
/// Port interests (the server ports).
pub const LAYERS: [&str; 6] = ["tcp:6667", "tcp:6665", "tcp:6666", "tcp:6668", "tcp:6669", "tcp:7000"];
/// Longest line read (IRCv3: 8191 octets of tags plus 512 of message).
pub const MAX_LINE: usize = 8 * 1024 + 512;

/// Error kinds.
pub const E_LONG: &str = "irc: line too long";
pub const E_GAP: &str = "irc: gap in stream";
pub const E_TRUNCATED: &str = "irc: line without end";
pub const E_EMPTY: &str = "irc: message without command";

/// One direction's line being read.
#[derive(Default)]
struct Side {
    line: Vec<u8>,
    /// Time of the packet with the line's first octet.
    ts: i64,
    /// The line is too long: skipping to its end.
    skip: bool,
}

struct Conn {
    info: StreamInfo,
    /// The server is the TCP connection's client side.
    flipped: bool,
    sides: [Side; 2],
    rec: Irc,
}

/// Whether `port` is an IRC server port.
fn irc_port(port: u16) -> bool {
    matches!(port, 6665..=6669 | 7000)
}

/// Parses one line (without its line end) into `r`.
pub fn parse(line: &[u8], r: &mut Irc) -> Result<(), &'static str> {
    let text = String::from_utf8_lossy(line);
    let mut rest = text.as_ref();
    if let Some(t) = rest.strip_prefix('@') {
        rest = t.split_once(' ').map_or("", |x| x.1).trim_start_matches(' ');
    }
    if let Some(p) = rest.strip_prefix(':') {
        let (prefix, after) = p.split_once(' ').unwrap_or((p, ""));
        r.prefix = prefix.to_string();
        r.nick = prefix.split(['!', '@']).next().unwrap_or_default().to_string();
        rest = after.trim_start_matches(' ');
    }
    let (middle, trailing) = match rest.find(" :") {
        Some(i) => (&rest[..i], Some(&rest[i + 2..])),
        None => (rest, None),
    };
    let mut words = middle.split(' ').filter(|w| !w.is_empty());
    r.command = words.next().unwrap_or_default().to_string();
    r.params = words.map(str::to_string).collect();
    if let Some(t) = trailing {
        r.trailing = t.to_string();
    }
    let all = r.params.iter().map(String::as_str).chain(trailing);
    let chan = all.flat_map(|p| p.split(',')).find(|p| p.starts_with(['#', '&', '+', '!']) && p.len() > 1);
    r.channel = chan.unwrap_or_default().to_string();
    if r.command.eq_ignore_ascii_case("NICK") && r.nick.is_empty() {
        r.nick = r.params.first().map(String::as_str).or(trailing).unwrap_or_default().to_string();
    }
    if r.command.is_empty() {
        return Err(E_EMPTY);
    }
    Ok(())
}

impl Conn {
    /// Bytes of `dir` (oriented: [`Dir::ToServer`] is to the IRC server).
    fn data(&mut self, dir: Dir, mut b: &[u8], ts: i64, out: &mut Emitter<'_>) {
        let i = dir.index();
        while !b.is_empty() {
            let s = &mut self.sides[i];
            if s.line.is_empty() && !s.skip {
                s.ts = ts;
            }
            let (take, end) = match b.iter().position(|&x| x == b'\n') {
                Some(k) => (k + 1, true),
                None => (b.len(), false),
            };
            if !s.skip {
                if s.line.len() + take > MAX_LINE {
                    out.error(E_LONG);
                    s.skip = true;
                    s.line.clear();
                } else {
                    s.line.extend_from_slice(&b[..take]);
                }
            }
            b = &b[take..];
            if end {
                if !std::mem::take(&mut self.sides[i].skip) {
                    self.line(dir, out);
                }
                self.sides[i].line.clear();
            }
        }
    }

    /// The line held by the direction: one record (an empty line: none).
    fn line(&mut self, dir: Dir, out: &mut Emitter<'_>) {
        let s = &self.sides[dir.index()];
        let mut l = &s.line[..];
        while let Some((&last, rest)) = l.split_last() {
            if last != b'\n' && last != b'\r' {
                break;
            }
            l = rest;
        }
        if l.iter().all(|&c| c == b' ') {
            return;
        }
        let r = &mut self.rec;
        prost::Message::clear(r);
        r.timestamp = s.ts;
        r.from_server = dir == Dir::ToClient;
        let i = &self.info;
        let (mut c, mut sv) = (i.client_addr(), i.server_addr());
        let (mut cp, mut sp) = (u32::from(i.client_port), u32::from(i.server_port));
        if self.flipped {
            (c, sv, cp, sp) = (sv, c, sp, cp);
        }
        fmt::set_ip(&mut r.src_ip, c);
        fmt::set_ip(&mut r.dst_ip, sv);
        (r.src_port, r.dst_port, r.tunnel_depth) = (cp, sp, u32::from(i.tunnel_depth));
        if let Err(e) = parse(l, r) {
            out.error(e);
        }
        out.record(0, &self.rec);
    }

    /// The end: a line without its line end is read as it is.
    fn close(&mut self, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let s = &self.sides[dir.index()];
            if !s.line.is_empty() && !s.skip {
                out.error(E_TRUNCATED);
                self.line(dir, out);
            }
            self.sides[dir.index()] = Side::default();
        }
    }
}

/// The decoder state of one instance.
#[derive(Default)]
pub struct IrcDecoder {
    conns: HashMap<u64, Conn>,
}

impl IrcDecoder {
    /// Handles one event.
    pub fn on(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        if let StreamEvent::Open(info) = ev {
            let flipped = match (irc_port(info.server_port), irc_port(info.client_port)) {
                (true, _) => false,
                (false, true) => true,
                _ => return Verdict::Decline,
            };
            let c = Conn { info: **info, flipped, sides: Default::default(), rec: Irc::default() };
            self.conns.insert(meta.stream, c);
            return Verdict::Continue;
        }
        let Some(c) = self.conns.get_mut(&meta.stream) else { return Verdict::Decline };
        let orient = |d: Dir| match (d, c.flipped) {
            (d, false) => d,
            (Dir::ToServer, true) => Dir::ToClient,
            (Dir::ToClient, true) => Dir::ToServer,
        };
        match *ev {
            StreamEvent::Open(_) => Verdict::Continue,
            StreamEvent::Data { dir, bytes } => {
                let d = orient(dir);
                c.data(d, bytes, meta.ts_nanos, out);
                Verdict::Continue
            }
            StreamEvent::Gap { .. } => {
                out.error(E_GAP);
                self.end(meta.stream, out);
                Verdict::Done
            }
            StreamEvent::Close { .. } => {
                self.end(meta.stream, out);
                Verdict::Done
            }
        }
    }

    fn end(&mut self, id: u64, out: &mut Emitter<'_>) {
        if let Some(mut c) = self.conns.remove(&id) {
            c.close(out);
        }
    }

    /// End of input: every connection still open ends here, in stream-id order.
    pub fn end_all(&mut self, out: &mut Emitter<'_>) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.end(id, out);
        }
    }
}

impl StreamDecoder for IrcDecoder {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "irc".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Stream,
            layers: LAYERS.map(String::from).to_vec(),
            record_types: netcap_sdk::record_types(&RECORD_TYPES),
            schema: netcap_proto::DESCRIPTOR_SET.to_vec(),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(IrcDecoder::default())
    }

    fn event(&mut self, meta: &EventMeta, ev: &StreamEvent<'_>, out: &mut Emitter<'_>) -> Verdict {
        self.on(meta, ev, out)
    }

    fn finish(&mut self, out: &mut Emitter<'_>) {
        self.end_all(out);
    }
}

export_stream_decoder!(IrcDecoder);

#[cfg(test)]
mod tests;
