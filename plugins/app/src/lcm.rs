//! LCM (Lightweight Communications and Marshalling) UDP datagrams: short messages ("LC02":
//! magic, sequence number, NUL-terminated channel name, payload) and fragments ("LC03": magic,
//! sequence number, message size, fragment offset, fragment number, fragment count, and in
//! fragment 0 the channel name). Datagrams with another magic are not LCM and yield nothing.

use crate::decode::{Ctx, T_LCM, set_ctx};
use crate::text::{be16, be32, set_lossy};
use netcap_proto::v1;
use netcap_sdk::Emitter;

pub const MAGIC_SHORT: u32 = 0x4c43_3032;
pub const MAGIC_FRAGMENT: u32 = 0x4c43_3033;

/// Decodes one datagram.
pub fn decode(r: &mut v1::Lcm, c: &Ctx, d: &[u8], out: &mut Emitter<'_>) {
    let Some(magic) = be32(d, 0) else { return };
    if magic != MAGIC_SHORT && magic != MAGIC_FRAGMENT {
        return;
    }
    set_ctx!(r, c);
    r.magic = magic;
    r.sequence_number = 0;
    r.payload_size = 0;
    r.fragment_offset = 0;
    r.fragment_number = 0;
    r.total_fragments = 0;
    r.channel_name.clear();
    r.fragmented = magic == MAGIC_FRAGMENT;
    let Some(seq) = be32(d, 4) else {
        out.record(T_LCM, r);
        out.error("lcm: header truncated");
        return;
    };
    r.sequence_number = seq;
    let mut at = 8;
    let has_channel = if r.fragmented {
        let (Some(size), Some(off), Some(no), Some(n)) = (be32(d, 8), be32(d, 12), be16(d, 16), be16(d, 18)) else {
            out.record(T_LCM, r);
            out.error("lcm: header truncated");
            return;
        };
        r.payload_size = size;
        r.fragment_offset = off;
        r.fragment_number = u32::from(no);
        r.total_fragments = u32::from(n);
        at = 20;
        no == 0
    } else {
        true
    };
    let mut ok = true;
    if has_channel {
        let rest = d.get(at..).unwrap_or_default();
        match rest.iter().position(|&b| b == 0) {
            Some(n) => {
                set_lossy(&mut r.channel_name, &rest[..n]);
                at += n + 1;
            }
            None => {
                set_lossy(&mut r.channel_name, rest);
                at = d.len();
                ok = false;
            }
        }
        if !r.fragmented {
            r.payload_size = d.len().saturating_sub(at) as u32;
        }
    }
    out.record(T_LCM, r);
    if !ok {
        out.error("lcm: channel name truncated");
    } else if c.cut {
        out.error("lcm: datagram truncated");
    }
}
