//! DNS over TCP (RFC 1035 4.2.2, RFC 7766): in each direction, messages preceded by their 2-byte
//! length. Each message is parsed by the same code as DNS over UDP (`netcap-dns-parse`) into a
//! `DNS` record with `tcp` set; src/dst are the message's sender and receiver.
//!
//! A direction buffers at most one message (65535 bytes). A gap loses the framing: that direction
//! is not read any further.

use crate::{Ctx, T_DNS};
use netcap_dns_parse::Message;
use netcap_sdk::{Dir, Emitter};

#[derive(Default)]
struct Side {
    buf: Vec<u8>,
    start_ts: i64,
    dead: bool,
}

/// Per-connection DNS state.
#[derive(Default)]
pub struct Conn {
    client: Side,
    server: Side,
    msg: Message,
}

impl Conn {
    /// Bytes of one direction.
    pub fn data(&mut self, dir: Dir, mut b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let s = match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        };
        while !b.is_empty() && !s.dead {
            if s.buf.is_empty() {
                s.start_ts = cx.meta.ts_nanos;
            }
            if s.buf.len() < 2 {
                let n = (2 - s.buf.len()).min(b.len());
                s.buf.extend_from_slice(&b[..n]);
                b = &b[n..];
                continue;
            }
            let want = 2 + usize::from(u16::from_be_bytes([s.buf[0], s.buf[1]]));
            let n = (want - s.buf.len()).min(b.len());
            s.buf.extend_from_slice(&b[..n]);
            b = &b[n..];
            if s.buf.len() == want {
                emit(&mut self.msg, &s.buf[2..], s.start_ts, dir, cx, out, None);
                s.buf.clear();
            }
        }
    }

    /// Direction `dir` is not DNS (its first bytes were none of ours): not read.
    pub fn ignore(&mut self, dir: Dir) {
        match dir {
            Dir::ToServer => self.client.dead = true,
            Dir::ToClient => self.server.dead = true,
        }
    }

    /// Bytes of one direction that were not captured.
    pub fn gap(&mut self, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let s = match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        };
        if s.dead {
            return;
        }
        s.dead = true;
        if s.buf.len() > 2 {
            emit(&mut self.msg, &s.buf[2..], s.start_ts, dir, cx, out, Some("dns: gap in tcp message"));
        } else if !s.buf.is_empty() {
            out.error("dns: gap in tcp message");
        }
        s.buf = Vec::new();
    }

    /// End of the connection: a message cut short is emitted as it is.
    pub fn close(&mut self, cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let s = match dir {
                Dir::ToServer => &mut self.client,
                Dir::ToClient => &mut self.server,
            };
            if s.dead {
                continue;
            }
            if s.buf.len() > 2 {
                emit(&mut self.msg, &s.buf[2..], s.start_ts, dir, cx, out, Some("dns: tcp message truncated"));
            } else if !s.buf.is_empty() {
                out.error("dns: tcp message truncated");
            }
            s.buf = Vec::new();
            s.dead = true;
        }
    }
}

/// Parses one message and emits its record; `cut` is the error of a message cut short (reported
/// when the parser itself finds nothing wrong with the part there is).
fn emit(msg: &mut Message, b: &[u8], ts: i64, dir: Dir, cx: &Ctx<'_>, out: &mut Emitter<'_>, cut: Option<&str>) {
    let err = msg.parse(b, false);
    let r = &mut msg.rec;
    r.timestamp = ts;
    r.tcp = true;
    r.mdns = false;
    r.tunnel_depth = u32::from(cx.info.tunnel_depth);
    let (cp, sp) = (u32::from(cx.info.client_port), u32::from(cx.info.server_port));
    match dir {
        Dir::ToServer => {
            cx.client_ip(&mut r.src_ip);
            cx.server_ip(&mut r.dst_ip);
            (r.src_port, r.dst_port) = (cp, sp);
        }
        Dir::ToClient => {
            cx.server_ip(&mut r.src_ip);
            cx.client_ip(&mut r.dst_ip);
            (r.src_port, r.dst_port) = (sp, cp);
        }
    }
    out.record(T_DNS, &msg.rec);
    if let Some(kind) = err.or(cut) {
        out.error(kind);
    }
}
