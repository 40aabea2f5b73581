//! EtherNet/IP over TCP port 44818: one `ENIP` record per encapsulation message, whatever the
//! segmentation, and a `CIP` record per CIP message in its SendRRData (unconnected) or
//! SendUnitData (connected) data items; the parsing is the shared `netcap-enip-parse` crate's
//! (UDP EtherNet/IP is the `app` decoder's). The 24-byte header's command and length frame the
//! message; data that does not start with a known command loses the direction's framing.
//!
//! A reply (sent from port 44818) is paired with the connection's most recent request of the same
//! kind, as Wireshark does: a SendUnitData by its session handle and the sequence count of its
//! connected data item (the connection ids differ between the two directions), any other
//! command by its session handle and sender context. RegisterSession requests carry session
//! handle 0 and the reply the new handle, so a RegisterSession pairs by sender context alone.
//! The reply's records (ENIP and CIP) carry the request's time and the time between the two.

use crate::pairs::{Matched, Pairs};
use crate::{Ctx, Framing, PORT_ENIP, T_CIP, T_ENIP};
use netcap_enip_parse as parse;
use netcap_proto::v1::{Cip, Enip};
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_UNKNOWN_COMMAND: &str = "enip: unknown encapsulation command";
pub const E_ITEMS: &str = "enip: items truncated";
pub const E_CIP: &str = "cip: message truncated";
pub const E_TRUNCATED: &str = "enip: message truncated";
pub const E_GAP: &str = "enip: gap in stream";

const REGISTER_SESSION: u16 = 0x65;

/// What pairs a reply with its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// Session handle (0 for RegisterSession) and sender context.
    Unconnected(u32, [u8; 8]),
    /// Session handle and the connected data item's sequence count.
    Connected(u32, u32),
}

/// Per-connection state: the reused records, which of them are wanted ([ENIP, CIP]) and the
/// requests awaiting a reply.
pub struct Conn {
    rec: Enip,
    cip: Cip,
    enabled: [bool; 2],
    pairs: Pairs<Key>,
}

impl Conn {
    pub fn new(enabled: [bool; 2]) -> Self {
        Conn { rec: Enip::default(), cip: Cip::default(), enabled, pairs: Pairs::default() }
    }

    /// The pairing key of the message in `self.rec` (`None`: a SendUnitData without a connected
    /// data item).
    fn key(&self) -> Option<Key> {
        let r = &self.rec;
        if r.command == u32::from(parse::SEND_UNIT_DATA) {
            let it = r.items.iter().find(|i| i.type_id == 0xb1)?;
            return Some(Key::Connected(r.session_handle, u32::from(parse::le16(&it.data, 0)?)));
        }
        let session = if r.command == u32::from(REGISTER_SESSION) { 0 } else { r.session_handle };
        let ctx: [u8; 8] = r.sender_context.as_slice().try_into().ok()?;
        Some(Key::Unconnected(session, ctx))
    }

    /// Pairs the message in `self.rec` (a `reply` or a request, first byte at `ts`, complete at
    /// `done`): a request waits, a reply finds its request.
    fn pair(&mut self, reply: bool, ts: i64, done: i64) -> Option<Matched> {
        let k = self.key()?;
        if reply {
            return self.pairs.response(&k, done);
        }
        self.pairs.request(k, ts, done);
        None
    }
}

/// Whether `b` (a connection's first bytes) can start an encapsulation message.
pub fn starts(b: &[u8]) -> bool {
    parse::le16(b, 0).is_none_or(parse::known_command)
}

impl Framing for Conn {
    const HEADER: usize = 4;
    const TRUNCATED: &'static str = E_TRUNCATED;
    const GAP: &'static str = E_GAP;

    fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
        match (parse::le16(h, 0), parse::le16(h, 2)) {
            (Some(cmd), Some(len)) if parse::known_command(cmd) => Ok(parse::HEADER + usize::from(len)),
            _ => Err(E_UNKNOWN_COMMAND),
        }
    }

    fn message(
        &mut self,
        dir: Dir,
        msg: &[u8],
        cut: Option<&'static str>,
        ts: i64,
        cx: &Ctx<'_>,
        out: &mut Emitter<'_>,
    ) {
        if msg.len() < parse::HEADER {
            out.error(cut.unwrap_or(E_TRUNCATED));
            return;
        }
        let ok = parse::encapsulation(&mut self.rec, msg);
        let reply = cx.from_port(dir, PORT_ENIP);
        // A message cut short pairs with nothing.
        let m = if cut.is_none() { self.pair(reply, ts, cx.meta.ts_nanos) } else { None };
        let (req_ts, rt) = m.map_or((0, 0), |m| (m.request_ts, m.response_time));
        let r = &mut self.rec;
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
        r.response = reply;
        (r.request_timestamp, r.response_time_ns) = (req_ts, rt);
        if self.enabled[0] {
            out.record(T_ENIP, r);
        }
        if self.enabled[1] {
            let c = &mut self.cip;
            c.timestamp = ts;
            (c.src_port, c.dst_port, c.tunnel_depth) = cx.endpoints(dir, &mut c.src_ip, &mut c.dst_ip);
            (c.request_timestamp, c.response_time_ns) = (req_ts, rt);
            parse::cips(r, c, |c, short| {
                out.record(T_CIP, c);
                if short && cut.is_none() {
                    out.error(E_CIP);
                }
            });
        }
        if let Some(k) = cut.or((!ok).then_some(E_ITEMS)) {
            out.error(k);
        }
    }
}
