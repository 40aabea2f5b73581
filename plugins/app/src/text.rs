//! Small text helpers that reuse a `String`'s capacity.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `b` as lowercase hex.
pub(crate) fn push_hex(s: &mut String, b: &[u8]) {
    for x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
}

/// Appends `v` in decimal.
pub(crate) fn push_u64(s: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &c in &buf[i..] {
        s.push(c as char);
    }
}

/// Appends `v` in decimal.
pub(crate) fn push_i64(s: &mut String, v: i64) {
    if v < 0 {
        s.push('-');
    }
    push_u64(s, v.unsigned_abs());
}

/// Replaces `s` with `b` as text (invalid UTF-8 replaced).
pub(crate) fn set_lossy(s: &mut String, b: &[u8]) {
    s.clear();
    push_lossy(s, b);
}

/// Appends `b` as text (invalid UTF-8 replaced).
pub(crate) fn push_lossy(s: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(t) => s.push_str(t),
        Err(_) => s.push_str(&String::from_utf8_lossy(b)),
    }
}

/// Big-endian integers from a slice that is known to be long enough.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reuses the strings of `v` as a pool: element `n` is cleared (or pushed) and returned.
pub(crate) fn slot(v: &mut Vec<String>, n: usize) -> &mut String {
    if n >= v.len() {
        v.push(String::new());
    }
    let s = &mut v[n];
    s.clear();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_hex() {
        let mut s = String::new();
        push_u64(&mut s, 0);
        s.push(' ');
        push_u64(&mut s, u64::MAX);
        s.push(' ');
        push_i64(&mut s, i64::MIN);
        s.push(' ');
        push_hex(&mut s, &[0, 0xab, 0x10]);
        assert_eq!(s, format!("0 {} {} 00ab10", u64::MAX, i64::MIN));
    }
}
