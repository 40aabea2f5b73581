//! [`Framer`]: cuts the two byte streams of a TCP connection into protocol messages, the part
//! every stream decoder otherwise rewrites. Per direction it keeps only the bytes of a message
//! not yet complete (bounded), parses straight from the delivered bytes when nothing is held, and
//! applies the usual rules: a gap loses the framing of its direction (the bytes after it are not
//! guessed at), a message longer than the cap stops the direction, and a stream whose first
//! message does not parse is declined (it is not the protocol).

use crate::stream::{Dir, Verdict};

/// What a framing function found at the front of the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of this many bytes (at least 1) is at the front.
    Done(usize),
    /// The message at the front is not complete yet.
    NeedMore,
    /// The bytes at the front are not a message of the protocol (a stable error kind).
    Error(&'static str),
}

/// The state of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Messages are being cut.
    Framing,
    /// Lost (gap, error or cap): the direction's further bytes are ignored.
    Lost,
}

/// The two directions of one connection. Create one per stream, feed it every
/// [`crate::StreamEvent::Data`] and [`crate::StreamEvent::Gap`], drop it at close.
#[derive(Debug, Clone)]
pub struct Framer {
    held: [Vec<u8>; 2],
    state: [State; 2],
    /// Whether a message has been cut in either direction (before that an error declines).
    framed: bool,
    max: usize,
}

/// Error kind: a message longer than the framer's cap (the direction is no longer framed).
pub const E_TOO_LONG: &str = "framer: message longer than the cap";
/// Error kind: data after a gap in a direction (no longer framed).
pub const E_AFTER_GAP: &str = "framer: data after a gap";

impl Framer {
    /// A framer that holds at most `max` bytes of an incomplete message per direction.
    pub fn new(max: usize) -> Self {
        Framer { held: [Vec::new(), Vec::new()], state: [State::Framing; 2], framed: false, max }
    }

    /// Appends `bytes` of `dir` and calls `on_message(dir, message)` for each whole message, in
    /// order. `frame` is the protocol's framing function. Returns the verdict for the stream:
    /// [`Verdict::Decline`] when the first message of the connection does not parse, otherwise
    /// [`Verdict::Continue`]; the error kinds met (a message that does not parse after the
    /// first, [`E_TOO_LONG`], [`E_AFTER_GAP`], each once per direction) go to `on_error`.
    pub fn push(
        &mut self,
        dir: Dir,
        bytes: &[u8],
        frame: impl Fn(&[u8]) -> Frame,
        mut on_message: impl FnMut(Dir, &[u8]),
        mut on_error: impl FnMut(&'static str),
    ) -> Verdict {
        let d = dir.index();
        if self.state[d] == State::Lost {
            return Verdict::Continue;
        }
        let mut held = std::mem::take(&mut self.held[d]);
        let cut = if held.is_empty() {
            // Nothing held: parse the delivered bytes in place, keep only an incomplete tail.
            self.cut(dir, bytes, &frame, &mut on_message).map(|rest| held.extend_from_slice(rest))
        } else {
            held.extend_from_slice(bytes);
            let cut = self.cut(dir, &held, &frame, &mut on_message).map(|rest| rest.len());
            cut.map(|left| {
                held.drain(..held.len() - left);
            })
        };
        let err = match cut {
            Ok(()) if held.len() > self.max => Some(E_TOO_LONG),
            Ok(()) => None,
            Err(e) => Some(e),
        };
        let Some(e) = err else {
            self.held[d] = held;
            return Verdict::Continue;
        };
        if !self.framed {
            return Verdict::Decline;
        }
        self.state[d] = State::Lost;
        on_error(e);
        Verdict::Continue
    }

    /// A gap of `dir`: its framing is lost (what was held is dropped).
    pub fn gap(&mut self, dir: Dir, mut on_error: impl FnMut(&'static str)) {
        let d = dir.index();
        if self.state[d] == State::Framing {
            self.state[d] = State::Lost;
            self.held[d] = Vec::new();
            on_error(E_AFTER_GAP);
        }
    }

    /// Whether `dir` is still framed.
    pub fn framing(&self, dir: Dir) -> bool {
        self.state[dir.index()] == State::Framing
    }

    /// Cuts whole messages from the front of `data`; the rest (an incomplete message).
    fn cut<'a>(
        &mut self,
        dir: Dir,
        mut data: &'a [u8],
        frame: &impl Fn(&[u8]) -> Frame,
        on_message: &mut impl FnMut(Dir, &[u8]),
    ) -> Result<&'a [u8], &'static str> {
        while !data.is_empty() {
            match frame(data) {
                Frame::Done(n) if n > 0 && n <= data.len() => {
                    on_message(dir, &data[..n]);
                    self.framed = true;
                    data = &data[n..];
                }
                Frame::Done(_) => return Err("framer: bad message length"),
                Frame::NeedMore => return Ok(data),
                Frame::Error(e) => return Err(e),
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test protocol: a length byte, then that many bytes; a zero length is an error.
    fn frame(d: &[u8]) -> Frame {
        match d.first() {
            Some(0) => Frame::Error("test: zero length"),
            Some(&n) if d.len() > usize::from(n) => Frame::Done(usize::from(n) + 1),
            _ => Frame::NeedMore,
        }
    }

    fn feed(f: &mut Framer, dir: Dir, bytes: &[u8], got: &mut Vec<(usize, Vec<u8>)>, errs: &mut Vec<&str>) -> Verdict {
        f.push(dir, bytes, frame, |d, m| got.push((d.index(), m.to_vec())), |e| errs.push(e))
    }

    #[test]
    fn messages_split_anywhere_come_out_whole_in_order() {
        let stream = [2u8, b'a', b'b', 1, b'c', 3, b'd', b'e', b'f'];
        for cut in 0..=stream.len() {
            for cut2 in cut..=stream.len() {
                let mut f = Framer::new(64);
                let (mut got, mut errs) = (Vec::new(), Vec::new());
                for part in [&stream[..cut], &stream[cut..cut2], &stream[cut2..]] {
                    if !part.is_empty() {
                        assert_eq!(feed(&mut f, Dir::ToServer, part, &mut got, &mut errs), Verdict::Continue);
                    }
                }
                let msgs: Vec<&[u8]> = got.iter().map(|(_, m)| m.as_slice()).collect();
                assert_eq!(msgs, [&stream[..3], &stream[3..5], &stream[5..]], "cuts at {cut}, {cut2}");
                assert!(errs.is_empty() && f.held[0].is_empty());
            }
        }
    }

    #[test]
    fn a_bad_first_message_declines_a_later_one_loses_the_direction() {
        let (mut got, mut errs) = (Vec::new(), Vec::new());
        let mut f = Framer::new(64);
        assert_eq!(feed(&mut f, Dir::ToServer, &[0, 1, 2], &mut got, &mut errs), Verdict::Decline);
        let mut f = Framer::new(64);
        assert_eq!(feed(&mut f, Dir::ToServer, &[1, b'x', 0, 5], &mut got, &mut errs), Verdict::Continue);
        assert_eq!((got.len(), errs.as_slice()), (1, &["test: zero length"][..]));
        assert!(!f.framing(Dir::ToServer) && f.framing(Dir::ToClient));
        // The lost direction is ignored; the other one still frames.
        feed(&mut f, Dir::ToServer, &[1, b'y'], &mut got, &mut errs);
        feed(&mut f, Dir::ToClient, &[1, b'z'], &mut got, &mut errs);
        assert_eq!(got.last(), Some(&(1, vec![1, b'z'])));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn the_cap_and_a_gap_stop_a_direction_with_one_counted_error() {
        let (mut got, mut errs) = (Vec::new(), Vec::new());
        let mut f = Framer::new(4);
        feed(&mut f, Dir::ToServer, &[1, b'a'], &mut got, &mut errs);
        feed(&mut f, Dir::ToServer, &[200, 1, 2, 3], &mut got, &mut errs);
        assert!(errs.is_empty(), "4 bytes held is within the cap");
        feed(&mut f, Dir::ToServer, &[4], &mut got, &mut errs);
        assert_eq!(errs, [E_TOO_LONG]);
        f.gap(Dir::ToClient, |e| errs.push(e));
        f.gap(Dir::ToClient, |e| errs.push(e));
        assert_eq!(errs, [E_TOO_LONG, E_AFTER_GAP]);
        assert!(!f.framing(Dir::ToClient));
    }
}
