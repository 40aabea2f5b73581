//! Modbus/TCP: the MBAP header (transaction id, protocol id, length, unit id) and the PDU that
//! follows; a segment may hold several ADUs. As Wireshark, data whose protocol id is not 0 is not
//! Modbus and yields nothing.

use crate::decode::{Ctx, T_MODBUS, set_ctx};
use crate::text::be16;
use netcap_proto::v1;
use netcap_sdk::Emitter;

/// Decodes every ADU that starts in `d`.
pub fn decode(r: &mut v1::Modbus, c: &Ctx, d: &[u8], out: &mut Emitter<'_>) {
    let mut at = 0;
    while at < d.len() {
        let Some(h) = d.get(at..at + 7) else {
            out.error("modbus: header truncated");
            return;
        };
        let (Some(tid), Some(pid), Some(len)) = (be16(h, 0), be16(h, 2), be16(h, 4)) else { return };
        if pid != 0 {
            return;
        }
        set_ctx!(r, c);
        r.transaction_id = u32::from(tid);
        r.protocol_id = u32::from(pid);
        r.length = u32::from(len);
        r.unit_id = u32::from(h[6]);
        // The PDU: length counts the unit id too.
        let want = at + 6 + usize::from(len);
        let end = want.min(d.len());
        let pdu = d.get(at + 7..end).unwrap_or_default();
        r.payload.clear();
        r.payload.extend_from_slice(pdu);
        let fc = pdu.first().copied().unwrap_or(0);
        r.exception = fc & 0x80 != 0;
        r.function_code = u32::from(fc & 0x7f);
        r.exception_code = if r.exception { pdu.get(1).copied().map_or(0, u32::from) } else { 0 };
        out.record(T_MODBUS, r);
        if len < 2 {
            out.error("modbus: bad length");
            return;
        }
        if want > d.len() {
            out.error("modbus: adu truncated");
            return;
        }
        if r.exception && pdu.len() < 2 {
            out.error("modbus: exception code missing");
        }
        at = want;
    }
}
