//! [`Fragments`]: a handshake byte stream received as pieces at byte offsets, in any order and
//! overlapping (QUIC CRYPTO frames, DTLS handshake fragments): the bytes, and which ranges of
//! them arrived, so a reader knows how much is there from offset 0 without a hole.

/// The bytes received so far and their ranges (sorted, merged).
#[derive(Debug, Default, Clone)]
pub struct Fragments {
    buf: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Fragments {
    /// An empty buffer for a message of `len` bytes (grown further only if a piece lies beyond).
    pub fn with_len(len: usize) -> Self {
        Fragments { buf: vec![0; len], ranges: Vec::new() }
    }

    /// Writes `data` at offset `off` (the caller bounds `off + data.len()`); a later piece
    /// overwrites an earlier one where they overlap.
    pub fn add(&mut self, off: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = off + data.len();
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.buf[off..end].copy_from_slice(data);
        self.ranges.push((off, end));
        self.ranges.sort_unstable();
        // Merge touching and overlapping ranges in place.
        let mut w = 0;
        for i in 0..self.ranges.len() {
            let (s, e) = self.ranges[i];
            if w > 0 && s <= self.ranges[w - 1].1 {
                self.ranges[w - 1].1 = self.ranges[w - 1].1.max(e);
            } else {
                self.ranges[w] = (s, e);
                w += 1;
            }
        }
        self.ranges.truncate(w);
    }

    /// Bytes received from offset 0 without a hole.
    pub fn contiguous(&self) -> usize {
        match self.ranges.first() {
            Some(&(0, e)) => e,
            _ => 0,
        }
    }

    /// The end of the furthest piece received (0 when none).
    pub fn end(&self) -> usize {
        self.ranges.last().map_or(0, |&(_, e)| e)
    }

    /// The buffer: received bytes where a range says so, zeros in the holes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_in_any_order_fill_the_contiguous_prefix() {
        let mut f = Fragments::with_len(10);
        f.add(6, b"ghij");
        assert_eq!((f.contiguous(), f.end()), (0, 10));
        f.add(0, b"abc");
        assert_eq!(f.contiguous(), 3);
        f.add(2, b"cdef");
        assert_eq!((f.contiguous(), f.bytes()), (10, &b"abcdefghij"[..]));
        f.add(12, b"z");
        assert_eq!((f.contiguous(), f.end(), f.bytes().len()), (10, 13, 13));
        f.add(10, b"kl");
        assert_eq!(f.contiguous(), 13);
        assert_eq!(f.ranges, [(0, 13)]);
    }
}
