//! Line reading for the text protocols (POP3, FTP): one direction's bytes cut into lines, each
//! with the time of the packet that carried its first byte, bounded by [`MAX_LINE`].
//!
//! A command or reply line longer than [`MAX_LINE`] is cut (its rest dropped, reported once);
//! in content mode (a message being transferred) nothing is dropped: a long line comes out in
//! pieces, and only the first piece of a line is at a line start (for dot-unstuffing).

/// Longest command or reply line kept.
pub const MAX_LINE: usize = 4096;

/// What [`LineBuf::next`] found.
pub enum Next<'b> {
    /// A line (with its line end, unless cut); `at_start` when it begins a line (not the rest of
    /// a long content line); then the bytes after it.
    Line { line: Vec<u8>, at_start: bool, rest: &'b [u8] },
    /// The input ended inside a line (kept); `too_long` when a command line was just cut.
    More { too_long: bool },
}

/// One direction's line reader.
#[derive(Default)]
pub struct LineBuf {
    buf: Vec<u8>,
    skipping: bool,
    /// Time of the current line's first byte.
    pub ts: i64,
    /// Content mode: part of the current line was already given out.
    mid: bool,
}

impl LineBuf {
    /// The next line from what is held and `b` (at time `ts`); `content` selects content mode.
    pub fn next<'b>(&mut self, b: &'b [u8], ts: i64, content: bool) -> Next<'b> {
        if self.buf.is_empty() && !self.skipping && !self.mid {
            self.ts = ts;
        }
        let nl = b.iter().position(|&c| c == b'\n');
        let take = nl.map_or(b.len(), |i| i + 1);
        if content {
            self.buf.extend_from_slice(&b[..take]);
        } else if !self.skipping {
            let room = MAX_LINE.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&b[..room.min(take)]);
        }
        let rest = &b[take..];
        if nl.is_some() {
            self.skipping = false;
            let at_start = !std::mem::take(&mut self.mid);
            return Next::Line { line: std::mem::take(&mut self.buf), at_start, rest };
        }
        if self.buf.len() >= MAX_LINE {
            if content {
                let at_start = !std::mem::replace(&mut self.mid, true);
                return Next::Line { line: std::mem::take(&mut self.buf), at_start, rest };
            }
            if !self.skipping {
                self.skipping = true;
                return Next::More { too_long: true };
            }
        }
        Next::More { too_long: false }
    }

    /// Forgets what is held (after a gap).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.skipping = false;
        self.mid = false;
    }
}
