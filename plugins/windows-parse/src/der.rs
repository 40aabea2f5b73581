//! The few DER reads done by hand: one tag-length-value (single-byte tags, definite lengths),
//! and a small INTEGER. Used where the parser crates leave bytes opaque, and for framing.

/// The first TLV of `b`: its tag byte, its content and the bytes after it; `None` when `b` does
/// not hold a whole one.
pub fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (hdr, len) = header(b)?;
    let end = hdr.checked_add(len)?;
    let content = b.get(hdr..end)?;
    Some((b[0], content, &b[end..]))
}

/// The header size and content length of the TLV `b` starts with (`b` need only hold the
/// header); `None` when the header is cut, multi-byte-tagged, indefinite or longer than 4 bytes
/// of length.
pub fn header(b: &[u8]) -> Option<(usize, usize)> {
    let (&tag, rest) = b.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let &l = rest.first()?;
    if l < 0x80 {
        return Some((2, usize::from(l)));
    }
    let n = usize::from(l & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let bytes = rest.get(1..1 + n)?;
    let len = bytes.iter().fold(0usize, |a, &x| a << 8 | usize::from(x));
    Some((2 + n, len))
}

/// A signed INTEGER content of at most 4 bytes.
pub fn int32(c: &[u8]) -> Option<i32> {
    if c.is_empty() || c.len() > 4 {
        return None;
    }
    let first = i32::from(c[0] as i8);
    Some(c[1..].iter().fold(first, |a, &x| a << 8 | i32::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tlvs() {
        assert_eq!(tlv(&[0x02, 0x01, 0x05, 0xff]), Some((0x02, &[0x05][..], &[0xff][..])));
        assert_eq!(tlv(&[0x30, 0x81, 0x01, 0x00]), Some((0x30, &[0x00][..], &[][..])));
        assert_eq!(tlv(&[0x30, 0x82, 0x01]), None);
        assert_eq!(tlv(&[0x30, 0x80]), None);
        assert_eq!(tlv(&[0x30, 0x05, 0x00]), None);
        assert_eq!(header(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), Some((6, 0xffff_ffff)));
        assert_eq!(int32(&[0xff, 0x7b]), Some(-133));
        assert_eq!(int32(&[0x12]), Some(18));
        assert_eq!(int32(&[]), None);
    }
}
