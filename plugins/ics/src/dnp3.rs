//! DNP3 (IEEE 1815) over TCP port 20000: one `DNP3` record per link-layer frame, cut by the
//! link header's length; the parsing (transport reassembly per direction, application layer)
//! is the shared `netcap-dnp3-parse` crate's (DNP3 over UDP is the `inet` decoder's).

use crate::{Ctx, Framing, T_DNP3};
pub use netcap_dnp3_parse::{
    E_APP_TRUNCATED, E_BAD_START, E_GAP, E_OBJECT_SIZE, E_SEQUENCE, E_TOO_LONG, E_TRUNCATED, MAX_FRAGMENT, Reasm,
    frame, frame_bytes, object_size, starts,
};
use netcap_proto::v1::Dnp3;
use netcap_sdk::{Dir, Emitter};

/// Per-connection state.
#[derive(Default)]
pub struct Conn {
    rec: Dnp3,
    reasm: [Reasm; 2],
    user: Vec<u8>,
}

impl Framing for Conn {
    const HEADER: usize = 3;
    const TRUNCATED: &'static str = E_TRUNCATED;
    const GAP: &'static str = E_GAP;

    fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
        netcap_dnp3_parse::frame_len(h)
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
        let Conn { rec: r, reasm, user } = self;
        prost::Message::clear(r);
        let err = frame(msg, r, &mut reasm[dir.index()], user).err();
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
        out.record(T_DNP3, r);
        if let Some(k) = cut.or(err) {
            out.error(k);
        }
    }
}
