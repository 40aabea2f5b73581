//! SSH over one reassembled connection: per side, the identification string (RFC 4253 4.2) and
//! the first SSH_MSG_KEXINIT (7.1), one `SSH` record per side with HASSH (client) or
//! HASSHServer (server).
//!
//! Each side buffers at most [`MAX_BUF`] bytes: the lines before the identification, the
//! identification and the binary packets up to the KEXINIT (usually the first). After that the
//! side is finished: everything later is key exchange and encrypted traffic.
//!
//! A record's time is that of the packet that carried the first byte of its KEXINIT, or of its
//! identification line when no KEXINIT follows (SSH-1, a cut stream), never the time the
//! record is emitted.

use crate::tls::fingerprint::md5_hex;
use crate::{Ctx, T_SSH};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// Most bytes buffered per side before its KEXINIT is complete.
pub const MAX_BUF: usize = 64 * 1024;
/// Largest binary packet accepted (RFC 4253 6.1 requires support for 35000).
pub const MAX_PACKET: usize = 35000;
/// Binary packets looked at for the KEXINIT.
pub const MAX_PACKETS: usize = 4;
const MSG_KEXINIT: u8 = 20;

/// Whether `b` (a stream's first bytes) can be SSH: `None` when too short to tell.
pub fn sniff_start(b: &[u8]) -> Option<bool> {
    let n = b.len().min(4);
    if b[..n] != b"SSH-"[..n] {
        Some(false)
    } else if n == 4 {
        Some(true)
    } else {
        None
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ident,
    Packets(usize),
    Finished,
}

#[derive(Default)]
struct Side {
    buf: Vec<u8>,
    state: State,
    rec: Option<v1::Ssh>,
    /// Bytes drained from the front of `buf` so far (the stream offset of `buf[0]`).
    drained: u64,
    /// (stream offset, packet time) of the first byte of each data event still in `buf`, in
    /// order: the time of any buffered byte.
    marks: Vec<(u64, i64)>,
}

impl Side {
    /// The time of the packet that carried the byte at stream offset `off`.
    fn time_at(&self, off: u64) -> i64 {
        self.marks.iter().rev().find(|m| m.0 <= off).or(self.marks.first()).map_or(0, |m| m.1)
    }

    /// Drops the first `n` bytes of `buf` (and the marks before them).
    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.drained += n as u64;
        let keep = self.marks.iter().rposition(|m| m.0 <= self.drained).unwrap_or(0);
        self.marks.drain(..keep);
    }
}

/// Per-connection SSH state.
#[derive(Default)]
pub struct Conn {
    client: Side,
    server: Side,
    /// One side identified itself as SSH 1.x (not 1.99): the exchange is SSH-1, whose packets
    /// are not SSH-2 binary packets, also on a side that offered 1.99 (RFC 4253 5.1).
    ssh1: bool,
}

impl Conn {
    /// Bytes of one direction.
    pub fn data(&mut self, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let ssh1 = self.ssh1;
        let s = self.side(dir);
        if s.state == State::Finished {
            return;
        }
        let mut became_ssh1 = false;
        let room = MAX_BUF.saturating_sub(s.buf.len());
        if room > 0 {
            s.marks.push((s.drained + s.buf.len() as u64, cx.meta.ts_nanos));
        }
        s.buf.extend_from_slice(&b[..room.min(b.len())]);
        loop {
            match s.state {
                State::Finished => break,
                State::Ident => {
                    let Some(nl) = s.buf.iter().position(|&c| c == b'\n') else { break };
                    let line_ts = s.time_at(s.drained);
                    let line: Vec<u8> = s.buf[..=nl].to_vec();
                    s.consume(nl + 1);
                    let line = line.strip_suffix(b"\n").unwrap_or(&line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if !line.starts_with(b"SSH-") {
                        // Servers may send other lines first (RFC 4253 4.2).
                        continue;
                    }
                    let mut r = new_record(dir, cx);
                    r.timestamp = line_ts;
                    ident(&String::from_utf8_lossy(line), &mut r);
                    became_ssh1 = r.proto_version.starts_with("1.") && r.proto_version != "1.99";
                    s.rec = Some(r);
                    if became_ssh1 || ssh1 {
                        // SSH-1 has no KEXINIT: the identification is all there is.
                        finish(s, out);
                    } else {
                        s.state = State::Packets(0);
                    }
                }
                State::Packets(_) if ssh1 => {
                    // The peer speaks SSH-1: so does this side, whatever it offered.
                    finish(s, out);
                }
                State::Packets(n) => {
                    if s.buf.len() < 5 {
                        break;
                    }
                    let len = u32::from_be_bytes([s.buf[0], s.buf[1], s.buf[2], s.buf[3]]) as usize;
                    let pad = usize::from(s.buf[4]);
                    if !(5..=MAX_PACKET).contains(&len) || pad + 1 > len {
                        out.error("ssh: bad packet length");
                        finish(s, out);
                        break;
                    }
                    if s.buf.len() < 4 + len {
                        if s.buf.len() >= MAX_BUF {
                            out.error("ssh: packet too long");
                            finish(s, out);
                        }
                        break;
                    }
                    let payload = &s.buf[5..4 + len - pad];
                    if payload.first() == Some(&MSG_KEXINIT) {
                        let ts = s.time_at(s.drained);
                        if let Some(r) = s.rec.as_mut() {
                            r.timestamp = ts;
                            if let Err(kind) = kexinit(&payload[1..], dir, r) {
                                out.error(kind);
                            }
                        }
                        finish(s, out);
                        break;
                    }
                    s.consume(4 + len);
                    if n + 1 >= MAX_PACKETS {
                        finish(s, out);
                    } else {
                        s.state = State::Packets(n + 1);
                    }
                }
            }
        }
        if s.state == State::Ident && s.buf.len() >= MAX_BUF {
            out.error("ssh: no identification");
            s.state = State::Finished;
            s.buf = Vec::new();
        }
        if became_ssh1 {
            self.ssh1 = true;
            // A side that offered 1.99 stops here: what it sends next are SSH-1 packets.
            let o = self.side(crate::other(dir));
            if matches!(o.state, State::Packets(_)) {
                finish(o, out);
            }
        }
    }

    /// Direction `dir` is not SSH (its first bytes were none of ours): not read.
    pub fn ignore(&mut self, dir: Dir) {
        let s = self.side(dir);
        s.state = State::Finished;
        s.buf = Vec::new();
    }

    /// Bytes of one direction that were not captured.
    pub fn gap(&mut self, dir: Dir, out: &mut Emitter<'_>) {
        let s = self.side(dir);
        if s.state != State::Finished {
            out.error("ssh: gap before kexinit");
            finish(s, out);
        }
    }

    /// End of the connection.
    pub fn close(&mut self, out: &mut Emitter<'_>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let s = self.side(dir);
            match s.state {
                State::Finished => {}
                State::Ident => {
                    if s.buf.iter().any(|c| !c.is_ascii_whitespace()) {
                        out.error("ssh: identification truncated");
                    }
                    s.state = State::Finished;
                }
                State::Packets(_) => {
                    if !s.buf.is_empty() {
                        out.error("ssh: kexinit truncated");
                    }
                    finish(s, out);
                }
            }
        }
    }

    /// Whether both sides are finished.
    pub fn done(&self) -> bool {
        self.client.state == State::Finished && self.server.state == State::Finished
    }

    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ToServer => &mut self.client,
            Dir::ToClient => &mut self.server,
        }
    }
}

/// Emits the side's record (if it has an identification) and stops reading the side.
fn finish(s: &mut Side, out: &mut Emitter<'_>) {
    if let Some(r) = s.rec.take() {
        out.record(T_SSH, &r);
    }
    s.state = State::Finished;
    s.buf = Vec::new();
    s.marks = Vec::new();
}

fn new_record(dir: Dir, cx: &Ctx<'_>) -> v1::Ssh {
    let mut r = v1::Ssh { is_client: dir == Dir::ToServer, ..Default::default() };
    let (mut c, mut sv) = (String::new(), String::new());
    cx.client_ip(&mut c);
    cx.server_ip(&mut sv);
    let br = |ip: &str| if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
    r.flow = format!("{}:{}->{}:{}", br(&c), cx.info.client_port, br(&sv), cx.info.server_port);
    let (cp, sp) = (u32::from(cx.info.client_port), u32::from(cx.info.server_port));
    if r.is_client {
        (r.src_ip, r.dst_ip, r.src_port, r.dst_port) = (c, sv, cp, sp);
    } else {
        (r.src_ip, r.dst_ip, r.src_port, r.dst_port) = (sv, c, sp, cp);
    }
    r.tunnel_depth = u32::from(cx.info.tunnel_depth);
    r
}

/// Splits "SSH-protoversion-softwareversion SP comments" into the record.
pub fn ident(line: &str, r: &mut v1::Ssh) {
    r.ident = line.to_string();
    let rest = line.strip_prefix("SSH-").unwrap_or(line);
    let (proto, rest) = rest.split_once('-').unwrap_or((rest, ""));
    r.proto_version = proto.to_string();
    let (software, comments) = rest.split_once(' ').unwrap_or((rest, ""));
    r.software_version = software.to_string();
    r.comments = comments.to_string();
    let (product, version) = software.split_once(['_', '-']).unwrap_or((software, ""));
    r.product = product.to_string();
    r.version = version.to_string();
}

/// Fills the name-lists of a KEXINIT payload (after the message code) and the HASSH fields.
pub fn kexinit(b: &[u8], dir: Dir, r: &mut v1::Ssh) -> Result<(), &'static str> {
    let bad = "ssh: kexinit malformed";
    let cookie = b.get(..16).ok_or(bad)?;
    r.cookie = cookie.to_vec();
    let mut at = 16;
    let mut lists: [Vec<String>; 10] = Default::default();
    let mut raw: [&[u8]; 10] = [b""; 10];
    for (i, list) in lists.iter_mut().enumerate() {
        let len = b.get(at..at + 4).ok_or(bad)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let s = b.get(at + 4..(at + 4).checked_add(len).ok_or(bad)?).ok_or(bad)?;
        raw[i] = s;
        if !s.is_empty() {
            *list = String::from_utf8_lossy(s).split(',').map(str::to_string).collect();
        }
        at += 4 + len;
    }
    let [kex, hostkey, enc_cs, enc_sc, mac_cs, mac_sc, comp_cs, comp_sc, lang_cs, lang_sc] = lists;
    (r.kex_algorithms, r.server_host_key_algorithms) = (kex, hostkey);
    (r.encryption_client_to_server, r.encryption_server_to_client) = (enc_cs, enc_sc);
    (r.mac_client_to_server, r.mac_server_to_client) = (mac_cs, mac_sc);
    (r.compression_client_to_server, r.compression_server_to_client) = (comp_cs, comp_sc);
    (r.languages_client_to_server, r.languages_server_to_client) = (lang_cs, lang_sc);
    let (enc, mac, comp) = match dir {
        Dir::ToServer => (raw[2], raw[4], raw[6]),
        Dir::ToClient => (raw[3], raw[5], raw[7]),
    };
    let mut algos = Vec::with_capacity(256);
    for (i, part) in [raw[0], enc, mac, comp].iter().enumerate() {
        if i > 0 {
            algos.push(b';');
        }
        algos.extend_from_slice(part);
    }
    r.algorithms = String::from_utf8_lossy(&algos).into_owned();
    r.hassh = md5_hex(&algos);
    r.first_kex_follows = *b.get(at).ok_or(bad)? != 0;
    Ok(())
}
