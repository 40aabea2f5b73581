//! DNP3 (IEEE 1815) over UDP port 20000: one `DNP3` record per link-layer frame of a datagram,
//! parsed by the shared `netcap-dnp3-parse` crate (DNP3 over TCP is the `ics` decoder's). The
//! transport segments are reassembled within a datagram only: an application fragment split
//! over datagrams gives `dnp3: transport segment out of sequence` for its later segments (a
//! UDP flow's datagrams may be handled by different workers, so no state is kept across them).

use netcap_dnp3_parse as parse;
use netcap_proto::v1::Dnp3;

/// The DNP3 port.
pub const PORT: u16 = 20000;

/// Whether the datagram is on the DNP3 port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    sp == PORT || dp == PORT
}

/// What a datagram gives, in order: a frame's record with the error to count with it, or, for
/// bytes that start no link frame, only an error (the rest of the datagram is not read).
pub enum Out<'a> {
    Frame(&'a Dnp3, Option<&'static str>),
    Error(&'static str),
}

/// Calls `emit` for each link frame of the datagram `d` (`r` holds the context fields and is
/// reused for each frame).
pub fn frames(d: &[u8], r: &mut Dnp3, mut emit: impl FnMut(Out<'_>)) {
    let mut re = parse::Reasm::default();
    let mut user = Vec::new();
    let mut at = 0;
    while at < d.len() {
        let rest = &d[at..];
        let len = match rest.get(..3).map(parse::frame_len) {
            Some(Ok(n)) => n,
            Some(Err(e)) => return emit(Out::Error(e)),
            None => return emit(Out::Error(parse::E_TRUNCATED)),
        };
        clear(r);
        let err = parse::frame(&rest[..len.min(rest.len())], r, &mut re, &mut user).err();
        emit(Out::Frame(r, err));
        at += len;
    }
}

/// Clears the protocol fields of `r` (not its context).
fn clear(r: &mut Dnp3) {
    let (src, dst) = (std::mem::take(&mut r.src_ip), std::mem::take(&mut r.dst_ip));
    let (ts, sp, dp, depth) = (r.timestamp, r.src_port, r.dst_port, r.tunnel_depth);
    prost::Message::clear(r);
    (r.src_ip, r.dst_ip) = (src, dst);
    (r.timestamp, r.src_port, r.dst_port, r.tunnel_depth) = (ts, sp, dp, depth);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link frame around `user` data (CRCs zero: not checked).
    fn link(ctrl: u8, user: &[u8]) -> Vec<u8> {
        let mut v = vec![0x05, 0x64, (5 + user.len()) as u8, ctrl, 10, 0, 1, 0, 0, 0];
        for b in user.chunks(16) {
            v.extend(b);
            v.extend([0, 0]);
        }
        v
    }

    fn run(d: &[u8]) -> (Vec<Dnp3>, Vec<&'static str>) {
        let (mut recs, mut errs) = (Vec::new(), Vec::new());
        let mut r = Dnp3 { src_port: 20000, ..Default::default() };
        frames(d, &mut r, |o| match o {
            Out::Frame(r, e) => {
                recs.push(r.clone());
                errs.extend(e);
            }
            Out::Error(e) => errs.push(e),
        });
        (recs, errs)
    }

    #[test]
    fn frames_of_a_datagram_and_garbage() {
        // A read request (whole fragment), then a link-status frame without user data.
        let app = [0xc0, 0xc3, 0x01, 60, 2, 6, 60, 3, 6];
        let d = [link(0xc4, &app), link(0xc9, &[])].concat();
        let (recs, errs) = run(&d);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].function, recs[0].objects.len(), recs[0].src_port), (1, 2, 20000));
        assert_eq!((recs[1].link_function, recs[1].application), (9, false));
        // Every cut: never a panic; a cut frame comes with an error.
        let first = link(0xc4, &app).len();
        for n in 1..d.len() {
            let (recs, errs) = run(&d[..n]);
            assert!(recs.len() <= 2 && (n == first || !errs.is_empty()), "{n}");
        }
        // Not a link header: the error only.
        assert_eq!(run(b"hello").1, [parse::E_BAD_START]);
        // A segment that does not begin a fragment, alone in its datagram.
        let (recs, errs) = run(&link(0xc4, &[0x01, 0xc3, 0x01]));
        assert_eq!((recs.len(), errs.as_slice()), (1, &[parse::E_SEQUENCE][..]));
    }
}
