//! WireGuard (<https://www.wireguard.com/protocol/>) over UDP, on any port: a datagram is
//! WireGuard when its type and size match one of the four messages, as Wireshark's heuristic
//! decides (cookie replies and transport data also need zero reserved bytes, which keeps random
//! datagrams out). One `WireGuard` record per message with the type, the indices and, for
//! transport data, the counter. The sizes are fixed, so a message cut by the capture is the only
//! malformed case: it gives the fields present and a counted error.

use netcap_proto::v1;

/// The names of the message types 1 to 4.
const NAMES: [&str; 4] = ["handshake_initiation", "handshake_response", "cookie_reply", "transport_data"];

/// Whether a datagram of `len` bytes (its UDP length) starting with `d` is a WireGuard message.
pub fn looks_like(d: &[u8], len: usize) -> bool {
    let Some(h) = d.get(..4) else { return false };
    let reserved_zero = h[1..4] == [0, 0, 0];
    match h[0] {
        1 => len == 148,
        2 => len == 92,
        3 => len == 64 && reserved_zero,
        4 => len >= 32 && reserved_zero,
        _ => false,
    }
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Fills `r` (its header fields already set) from one message of `len` bytes (`d` passed
/// [`looks_like`]; it may hold fewer bytes when the capture cut it); returns the error to count.
pub fn parse(d: &[u8], len: usize, r: &mut v1::WireGuard) -> Result<(), &'static str> {
    const CUT: &str = "wireguard: message truncated";
    let h = d.get(..4).ok_or(CUT)?;
    r.message_type = u32::from(h[0]);
    r.message_type_name = NAMES.get(usize::from(h[0]).wrapping_sub(1)).copied().unwrap_or_default().into();
    r.reserved = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    match h[0] {
        1 => r.sender_index = be32(d, 4).ok_or(CUT)?.swap_bytes(),
        2 => {
            r.sender_index = be32(d, 4).ok_or(CUT)?.swap_bytes();
            r.receiver_index = be32(d, 8).ok_or(CUT)?.swap_bytes();
        }
        3 => r.receiver_index = be32(d, 4).ok_or(CUT)?.swap_bytes(),
        4 => {
            r.receiver_index = be32(d, 4).ok_or(CUT)?.swap_bytes();
            r.encrypted_length = len.saturating_sub(32) as u32;
            r.keepalive = len == 32;
            let c = d.get(8..16).ok_or(CUT)?;
            r.counter = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        }
        _ => return Err("wireguard: unknown message type"),
    }
    if d.len() < len { Err(CUT) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transport data message to receiver 0x0bf47dab (little-endian on the wire) with counter
    /// 258 and 16 bytes of packet.
    fn data() -> Vec<u8> {
        let mut d = vec![4, 0, 0, 0, 0xab, 0x7d, 0xf4, 0x0b, 2, 1, 0, 0, 0, 0, 0, 0];
        d.extend_from_slice(&[0x55; 32]);
        d
    }

    #[test]
    fn transport_data() {
        let d = data();
        assert!(looks_like(&d, d.len()));
        let mut r = v1::WireGuard::default();
        parse(&d, d.len(), &mut r).unwrap();
        assert_eq!((r.message_type_name.as_str(), r.receiver_index, r.counter), ("transport_data", 0x0bf4_7dab, 258));
        assert_eq!((r.encrypted_length, r.keepalive), (16, false));
    }

    #[test]
    fn handshakes() {
        let mut init = vec![1, 0, 0, 0, 0xd8, 0x37, 0xd0, 0x30];
        init.resize(148, 7);
        let mut r = v1::WireGuard::default();
        parse(&init, 148, &mut r).unwrap();
        assert_eq!((r.message_type, r.sender_index, r.receiver_index), (1, 0x30d0_37d8, 0));
        let mut resp = vec![2, 1, 2, 3, 1, 0, 0, 0, 2, 0, 0, 0];
        resp.resize(92, 0);
        assert!(looks_like(&resp, 92) && !looks_like(&resp, 93));
        let mut r = v1::WireGuard::default();
        parse(&resp, 92, &mut r).unwrap();
        assert_eq!((r.reserved, r.sender_index, r.receiver_index), (0x01_0203, 1, 2));
        let mut cookie = vec![3, 0, 0, 1];
        cookie.resize(64, 0);
        assert!(!looks_like(&cookie, 64), "cookie replies need zero reserved bytes");
    }

    #[test]
    fn cuts_and_garbling() {
        let d = data();
        for n in 0..d.len() {
            let mut r = v1::WireGuard::default();
            assert!(parse(&d[..n], d.len(), &mut r).is_err(), "{n}");
            if n >= 8 {
                assert_eq!(r.receiver_index, 0x0bf4_7dab);
            }
        }
        for i in 0..d.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut g = d.clone();
                g[i] ^= x;
                for len in [g.len(), usize::MAX, 0] {
                    if looks_like(&g, len) {
                        let _ = parse(&g, len, &mut v1::WireGuard::default());
                    }
                }
            }
        }
    }
}
