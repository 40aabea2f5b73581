//! Text forms shared by all records: MAC addresses as lowercase `aa:bb:cc:dd:ee:ff`, IP addresses
//! in their standard text forms (IPv6 per RFC 5952, as Rust's `Ipv6Addr` prints it). The writers
//! reuse a `String`'s capacity so that steady-state decoding does not allocate.

use std::fmt::Write;
use std::net::Ipv6Addr;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Replaces `s` with the MAC address `mac`.
pub fn set_mac(s: &mut String, mac: &[u8; 6]) {
    s.clear();
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
}

/// Replaces `s` with the IPv4 address `a` (dotted decimal, as `Ipv4Addr` prints it, without
/// going through `core::fmt`, which is slow in WebAssembly).
pub fn set_ipv4(s: &mut String, a: [u8; 4]) {
    s.clear();
    for (i, b) in a.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        push_u8(s, *b);
    }
}

fn push_u8(s: &mut String, b: u8) {
    if b >= 100 {
        s.push((b'0' + b / 100) as char);
    }
    if b >= 10 {
        s.push((b'0' + b / 10 % 10) as char);
    }
    s.push((b'0' + b % 10) as char);
}

/// Replaces `s` with the IPv6 address `a` (RFC 5952).
pub fn set_ipv6(s: &mut String, a: [u8; 16]) {
    s.clear();
    let _ = write!(s, "{}", Ipv6Addr::from(a));
}

/// Replaces `s` with the address in `a`: IPv4 for 4 bytes, IPv6 for 16, empty otherwise.
pub fn set_ip(s: &mut String, a: &[u8]) {
    match a.len() {
        4 => set_ipv4(s, [a[0], a[1], a[2], a[3]]),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(a);
            set_ipv6(s, b);
        }
        _ => s.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        let mut s = String::new();
        set_mac(&mut s, &[0x00, 0x1A, 0x2b, 0xff, 0x0, 0x9]);
        assert_eq!(s, "00:1a:2b:ff:00:09");
        set_ipv4(&mut s, [192, 168, 0, 1]);
        assert_eq!(s, "192.168.0.1");
        for a in [[0, 0, 0, 0], [255, 255, 255, 255], [10, 9, 100, 99], [1, 20, 200, 5]] {
            set_ipv4(&mut s, a);
            assert_eq!(s, std::net::Ipv4Addr::from(a).to_string());
        }
        // RFC 5952 section 4: lowercase, longest zero run compressed, a single zero group not.
        set_ipv6(&mut s, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(s, "2001:db8::1");
        set_ipv6(&mut s, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
        assert_eq!(s, "2001:db8:0:1:1:1:1:1");
    }
}
