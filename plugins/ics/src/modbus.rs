//! Modbus/TCP (TCP port 502): one `Modbus` record per application data unit, whatever the
//! segmentation. The MBAP header (transaction id, protocol id, length, unit id) frames the ADU;
//! a header whose protocol id is not 0, or whose length cannot hold a unit id and a function
//! code, is not Modbus and loses the direction's framing. An ADU sent from port 502 is a
//! response. Longer ADUs than the standard's 260
//! bytes are read (Schneider's UMAS, function 90, sends them). A response (from the server) is
//! paired with the most recent request of the connection with the same transaction id, unit id
//! and function code, as Wireshark does: its record carries the request's time and the time
//! between the two.

use crate::pairs::Pairs;
use crate::{Ctx, Framing, PORT_MODBUS, T_MODBUS, be16};
use netcap_proto::v1::Modbus;
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_NOT_MODBUS: &str = "modbus: protocol id not 0";
pub const E_BAD_LENGTH: &str = "modbus: bad length";
pub const E_EXCEPTION: &str = "modbus: exception code missing";
pub const E_TRUNCATED: &str = "modbus: adu truncated";
pub const E_GAP: &str = "modbus: gap in stream";

/// Per-connection state: the record reused for each ADU and the requests awaiting a response,
/// keyed by (transaction id, unit id, function code).
#[derive(Default)]
pub struct Conn {
    rec: Modbus,
    pairs: Pairs<(u16, u8, u8)>,
}

/// Whether `b` (a connection's first bytes) can start an ADU: protocol id 0 and a length that
/// holds at least a unit id and a function code.
pub fn starts(b: &[u8]) -> bool {
    be16(b, 2).is_none_or(|p| p == 0) && be16(b, 4).is_none_or(|l| l >= 2)
}

impl Framing for Conn {
    const HEADER: usize = 6;
    const TRUNCATED: &'static str = E_TRUNCATED;
    const GAP: &'static str = E_GAP;

    fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
        match (be16(h, 2), be16(h, 4)) {
            (Some(0), Some(len)) if len >= 2 => Ok(6 + usize::from(len)),
            (Some(0), _) => Err(E_BAD_LENGTH),
            _ => Err(E_NOT_MODBUS),
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
        let r = &mut self.rec;
        let err = parse(msg, r).err();
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
        r.response = cx.from_port(dir, PORT_MODBUS);
        (r.request_timestamp, r.response_time_ns) = (0, 0);
        // A message cut short pairs with nothing: its header may be all there is.
        if cut.is_none() {
            let key = (r.transaction_id as u16, r.unit_id as u8, r.function_code as u8);
            let done = cx.meta.ts_nanos;
            if r.response {
                if let Some(m) = self.pairs.response(&key, done) {
                    (r.request_timestamp, r.response_time_ns) = (m.request_ts, m.response_time);
                }
            } else {
                self.pairs.request(key, ts, done);
            }
        }
        out.record(T_MODBUS, r);
        if let Some(k) = cut.or(err) {
            out.error(k);
        }
    }
}

/// Parses one ADU (`msg` starts with a valid MBAP header; it may be cut short) into `r`.
pub fn parse(msg: &[u8], r: &mut Modbus) -> Result<(), &'static str> {
    r.transaction_id = be16(msg, 0).map_or(0, u32::from);
    r.protocol_id = be16(msg, 2).map_or(0, u32::from);
    r.length = be16(msg, 4).map_or(0, u32::from);
    r.unit_id = msg.get(6).copied().map_or(0, u32::from);
    let pdu = msg.get(7..).unwrap_or_default();
    r.payload.clear();
    r.payload.extend_from_slice(pdu);
    let fc = pdu.first().copied().unwrap_or(0);
    r.exception = fc & 0x80 != 0;
    r.function_code = u32::from(fc & 0x7f);
    r.exception_code = if r.exception { pdu.get(1).copied().map_or(0, u32::from) } else { 0 };
    if r.exception && pdu.len() < 2 && msg.len() >= 6 + r.length as usize {
        return Err(E_EXCEPTION);
    }
    Ok(())
}
