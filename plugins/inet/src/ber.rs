//! A small BER reader (X.690) for SNMP: tag, definite length, value, each bounded by its
//! enclosing value; running out is an error, never a panic.

/// One TLV: its tag (class and constructed bits, and the number when below 31, as in the
/// low-tag form; a tag number written in the high-tag form is folded into this when below 31),
/// the tag number, and its value.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub number: u32,
    pub value: &'a [u8],
    /// The value is shorter than its length says (the input ended first).
    pub cut: bool,
}

/// A cursor over consecutive TLVs.
pub struct Reader<'a> {
    pub b: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }

    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// The next TLV. A value cut short is returned as far as it came (`cut`), and the reader is
    /// then empty; `None` when not even the tag and length are there, or the length is
    /// indefinite or longer than 4 bytes.
    pub fn read(&mut self) -> Option<Tlv<'a>> {
        let b = self.b;
        let first_tag = *b.first()?;
        let (mut tag, mut number, mut at) = (first_tag, u32::from(first_tag & 0x1f), 1);
        if number == 0x1f {
            // High-tag-number form: base-128 digits, the last without bit 8 (at most 4 of them).
            number = 0;
            loop {
                let x = *b.get(at)?;
                at += 1;
                number = (number << 7) | u32::from(x & 0x7f);
                if x & 0x80 == 0 {
                    break;
                }
                if at > 4 {
                    return None;
                }
            }
            if number < 0x1f {
                tag = (first_tag & 0xe0) | number as u8;
            }
        }
        let first = *b.get(at)?;
        let (len, at) = if first < 0x80 {
            (usize::from(first), at + 1)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let bytes = b.get(at + 1..at + 1 + n)?;
            (bytes.iter().fold(0usize, |v, &x| (v << 8) | usize::from(x)), at + 1 + n)
        };
        let end = at.saturating_add(len);
        let cut = end > b.len();
        let value = &b[at..end.min(b.len())];
        self.b = &b[end.min(b.len())..];
        Some(Tlv { tag, number, value, cut })
    }

    /// The next TLV if it has tag `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        let save = self.b;
        match self.read() {
            Some(t) if t.tag == tag => Some(t),
            _ => {
                self.b = save;
                None
            }
        }
    }
}

/// A two's complement INTEGER (at most 8 bytes used).
pub fn int(v: &[u8]) -> i64 {
    let Some(&first) = v.first() else { return 0 };
    let start = i64::from(first as i8);
    v[1..].iter().take(7).fold(start, |acc, &x| (acc << 8) | i64::from(x))
}

/// An OBJECT IDENTIFIER in dotted form (empty when malformed).
pub fn oid(v: &[u8], out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let mut arcs = v.split_inclusive(|&b| b & 0x80 == 0);
    let mut first = true;
    for arc in arcs.by_ref() {
        if arc.last().is_some_and(|&b| b & 0x80 != 0) || arc.len() > 9 {
            out.clear();
            return;
        }
        let n = arc.iter().fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 0x7f));
        if first {
            let (a, b) = if n < 80 { (n / 40, n % 40) } else { (2, n - 80) };
            let _ = write!(out, "{a}.{b}");
            first = false;
        } else {
            let _ = write!(out, ".{n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_integers() {
        let mut s = String::new();
        // 1.3.6.1.2.1.1.5.0 (X.690 8.19 example encoding style).
        oid(&[0x2b, 6, 1, 2, 1, 1, 5, 0], &mut s);
        assert_eq!(s, "1.3.6.1.2.1.1.5.0");
        oid(&[0x2b, 6, 1, 4, 1, 0x81, 0x86, 0x03], &mut s);
        assert_eq!(s, "1.3.6.1.4.1.17155");
        oid(&[0x2b, 0x81], &mut s);
        assert_eq!(s, "");
        assert_eq!((int(&[0xff]), int(&[0, 0xff]), int(&[0x4b, 0x77, 0x3a, 0x6e])), (-1, 255, 1266104942));
    }

    #[test]
    fn lengths() {
        let mut r = Reader::new(&[0x30, 0x82, 0x00, 0x02, 1, 2, 0x04, 0x05, 1]);
        let t = r.read().unwrap();
        assert_eq!((t.tag, t.value, t.cut), (0x30, &[1u8, 2][..], false));
        let t = r.read().unwrap();
        assert_eq!((t.value, t.cut), (&[1u8][..], true));
        assert!(r.read().is_none());
        assert!(Reader::new(&[0x30, 0x80]).read().is_none());
        // [4] written in the high-tag-number form (X.690 8.1.2.4), and [18].
        let t = Reader::new(&[0xbf, 0x04, 0x01, 0x00]).read().unwrap();
        assert_eq!((t.tag, t.number, t.value), (0xa4, 4, &[0u8][..]));
        let t = Reader::new(&[0xbf, 0x81, 0x00, 0x00]).read().unwrap();
        assert_eq!((t.tag, t.number), (0xbf, 128));
    }
}
