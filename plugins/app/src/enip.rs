//! EtherNet/IP over UDP: encapsulation messages on port 44818 (ListIdentity and the like) and
//! the bare common packet format item lists of class 0/1 I/O on port 2222, parsed by the shared
//! `netcap-enip-parse` crate. EtherNet/IP over TCP is the `ics` stream decoder's.

use crate::decode::{Ctx, T_CIP, T_ENIP, set_ctx};
use netcap_enip_parse as parse;
use netcap_proto::v1;
use netcap_sdk::Emitter;

/// Reused records.
#[derive(Default)]
pub struct Enip {
    pub rec: v1::Enip,
    pub cip: v1::Cip,
}

impl Enip {
    /// Decodes every encapsulation message that starts in `d` (or the I/O item list of UDP 2222).
    /// `enabled` = [ENIP, CIP].
    pub fn decode(&mut self, c: &Ctx, d: &[u8], io: bool, enabled: [bool; 2], out: &mut Emitter<'_>) {
        if io {
            set_ctx!(self.rec, c);
            let ok = parse::io(&mut self.rec, d);
            self.rec.response = false;
            if enabled[0] {
                out.record(T_ENIP, &self.rec);
            }
            if !ok {
                out.error("enip: items truncated");
            }
            return;
        }
        let mut at = 0;
        while at < d.len() {
            let Some(h) = d.get(at..at + parse::HEADER) else {
                if parse::le16(d, at).is_none_or(parse::known_command) {
                    out.error("enip: header truncated");
                }
                return;
            };
            if !parse::le16(h, 0).is_some_and(parse::known_command) {
                return;
            }
            let want = at + parse::HEADER + usize::from(parse::le16(h, 2).unwrap_or(0));
            set_ctx!(self.rec, c);
            let ok = parse::encapsulation(&mut self.rec, &d[at..want.min(d.len())]);
            self.rec.response = c.src_port == u32::from(crate::decode::ENIP_PORT);
            if enabled[0] {
                out.record(T_ENIP, &self.rec);
            }
            if enabled[1] {
                let cip = &mut self.cip;
                set_ctx!(cip, c);
                parse::cips(&self.rec, cip, |r, cut| {
                    out.record(T_CIP, r);
                    if cut {
                        out.error("cip: message truncated");
                    }
                });
            }
            if want > d.len() {
                out.error("enip: data truncated");
                return;
            }
            if !ok {
                out.error("enip: items truncated");
            }
            at = want;
        }
    }
}
