//! QUIC Initial packet protection: the keys RFC 9001 5.2 (v1 and the IETF drafts), RFC 9369 3.3
//! (v2) and Google's IETF-header versions derive from the client's first destination connection
//! id, header protection removal (RFC 9001 5.4, AES) and AES-128-GCM decryption (5.3). The
//! initial salts per version are those Wireshark and nDPI use.

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64,
    0x4a,
];
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5,
    0x02,
];
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8,
    0x99,
];
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e,
    0xd9,
];
const SALT_Q50: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b,
    0x45,
];
const SALT_T50: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60, 0x48, 0x83,
    0x10,
];
const SALT_T51: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda, 0x6e, 0x03,
    0x3d,
];

/// QUIC version 2 (RFC 9369).
pub const V2: u32 = 0x6b33_43cf;

/// The IETF draft a version is (or is based on): 0xff0000NN is draft NN, Facebook mvfst's
/// versions are based on drafts 22 and 27.
fn draft(version: u32) -> Option<u32> {
    match version {
        v if v >> 8 == 0x00ff_0000 => Some(v & 0xff),
        0xface_b001 => Some(22),
        0xface_b002 | 0xface_b00e => Some(27),
        _ => None,
    }
}

/// The initial salt of `version`, `None` for versions whose Initial protection is unknown.
pub fn salt(version: u32) -> Option<&'static [u8; 20]> {
    Some(match version {
        1 => &SALT_V1,
        V2 => &SALT_V2,
        0x5130_3530 => &SALT_Q50,
        0x5430_3530 => &SALT_T50,
        0x5430_3531 => &SALT_T51,
        v => match draft(v)? {
            0..=22 => &SALT_DRAFT_22,
            23..=28 => &SALT_DRAFT_23,
            29..=32 => &SALT_DRAFT_29,
            33..=34 => &SALT_V1,
            _ => return None,
        },
    })
}

/// HKDF-Expand-Label (RFC 8446 7.1) with an empty context.
fn expand_label(secret: &[u8], label: &str, out: &mut [u8]) {
    let hk = Hkdf::<Sha256>::from_prk(secret).expect("a SHA-256 sized secret");
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    hk.expand(&info, out).expect("short output");
}

/// The packet protection keys of one direction.
pub struct DirKeys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

/// A packet whose protection was removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    /// The full packet number.
    pub pn: u64,
    /// Where the plaintext frames start and end in the scratch buffer.
    pub start: usize,
    pub end: usize,
}

impl DirKeys {
    fn from_secret(secret: &[u8], v2: bool) -> DirKeys {
        let (lk, li, lh) =
            if v2 { ("quicv2 key", "quicv2 iv", "quicv2 hp") } else { ("quic key", "quic iv", "quic hp") };
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        expand_label(secret, lk, &mut key);
        expand_label(secret, li, &mut iv);
        expand_label(secret, lh, &mut hp);
        DirKeys {
            aead: Aes128Gcm::new(GenericArray::from_slice(&key)),
            iv,
            hp: Aes128::new(GenericArray::from_slice(&hp)),
        }
    }

    /// Removes header protection from `pkt` (one long-header packet, header through the end of
    /// its Length) and decrypts it, in a copy in `scratch`. `pn_offset` is where the packet
    /// number starts; `largest` the largest packet number decrypted so far in this direction.
    /// `None` when the packet is too short or does not authenticate with these keys.
    pub fn open(&self, pkt: &[u8], pn_offset: usize, largest: Option<u64>, scratch: &mut Vec<u8>) -> Option<Opened> {
        let sample = pkt.get(pn_offset + 4..pn_offset + 20)?;
        let mut mask = GenericArray::clone_from_slice(sample);
        self.hp.encrypt_block(&mut mask);
        scratch.clear();
        scratch.extend_from_slice(pkt);
        scratch[0] ^= mask[0] & 0x0f;
        let pn_len = usize::from(scratch[0] & 3) + 1;
        let start = pn_offset + pn_len;
        if scratch.len() < start + 16 {
            return None;
        }
        let mut truncated = 0u64;
        for i in 0..pn_len {
            scratch[pn_offset + i] ^= mask[1 + i];
            truncated = (truncated << 8) | u64::from(scratch[pn_offset + i]);
        }
        let pn = expand_pn(largest, truncated, 8 * pn_len as u32);
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let end = scratch.len() - 16;
        let (aad, rest) = scratch.split_at_mut(start);
        let (body, tag) = rest.split_at_mut(end - start);
        let tag = Tag::clone_from_slice(tag);
        self.aead.decrypt_in_place_detached(Nonce::from_slice(&nonce), aad, body, &tag).ok()?;
        Some(Opened { pn, start, end })
    }
}

#[cfg(test)]
impl DirKeys {
    /// Protects a packet (the inverse of [`DirKeys::open`], for tests): `header` is the long
    /// header before the packet number, its first byte saying a `pn_len`-byte packet number and
    /// its Length counting the packet number, `payload` and the tag.
    pub fn seal(&self, header: &[u8], pn: u64, pn_len: usize, payload: &[u8]) -> Vec<u8> {
        let mut pkt = header.to_vec();
        pkt.extend_from_slice(&pn.to_be_bytes()[8 - pn_len..]);
        let pn_offset = header.len();
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let mut body = payload.to_vec();
        let tag = self.aead.encrypt_in_place_detached(Nonce::from_slice(&nonce), &pkt, &mut body).expect("seal");
        pkt.extend_from_slice(&body);
        pkt.extend_from_slice(&tag);
        let mut mask = GenericArray::clone_from_slice(&pkt[pn_offset + 4..pn_offset + 20]);
        self.hp.encrypt_block(&mut mask);
        pkt[0] ^= mask[0] & 0x0f;
        for i in 0..pn_len {
            pkt[pn_offset + i] ^= mask[1 + i];
        }
        pkt
    }
}

/// The full packet number from its `bits` least significant bits (RFC 9000 A.3).
pub fn expand_pn(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let win = 1u64 << bits;
    let (hwin, mask) = (win / 2, win - 1);
    let candidate = (expected & !mask) | truncated;
    if candidate + hwin <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Client and server Initial keys of one connection.
pub struct Keys {
    pub client: DirKeys,
    pub server: DirKeys,
}

impl Keys {
    /// The Initial keys of `version` for the client's destination connection id `dcid`; `None`
    /// when the version's salt is unknown.
    pub fn derive(version: u32, dcid: &[u8]) -> Option<Keys> {
        let salt = salt(version)?;
        let (initial, _) = Hkdf::<Sha256>::extract(Some(salt), dcid);
        let v2 = version == V2;
        let mut secret = [0u8; 32];
        expand_label(&initial, "client in", &mut secret);
        let client = DirKeys::from_secret(&secret, v2);
        expand_label(&initial, "server in", &mut secret);
        let server = DirKeys::from_secret(&secret, v2);
        Some(Keys { client, server })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    /// RFC 9001 A.1: the client and server keys of dcid 8394c8f03e515708 (v1).
    #[test]
    fn rfc9001_key_vectors() {
        let (initial, _) = Hkdf::<Sha256>::extract(Some(&SALT_V1), &unhex("8394c8f03e515708"));
        let mut secret = [0u8; 32];
        expand_label(&initial, "client in", &mut secret);
        assert_eq!(secret.to_vec(), unhex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"));
        let mut key = [0u8; 16];
        expand_label(&secret, "quic key", &mut key);
        assert_eq!(key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
        let mut iv = [0u8; 12];
        expand_label(&secret, "quic iv", &mut iv);
        assert_eq!(iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
        let mut hp = [0u8; 16];
        expand_label(&secret, "quic hp", &mut hp);
        assert_eq!(hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
        expand_label(&initial, "server in", &mut secret);
        assert_eq!(secret.to_vec(), unhex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b"));
    }

    /// RFC 9369 A.1: the v2 client keys of the same dcid.
    #[test]
    fn rfc9369_key_vectors() {
        let (initial, _) = Hkdf::<Sha256>::extract(Some(&SALT_V2), &unhex("8394c8f03e515708"));
        let mut secret = [0u8; 32];
        expand_label(&initial, "client in", &mut secret);
        assert_eq!(secret.to_vec(), unhex("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b"));
        let mut key = [0u8; 16];
        expand_label(&secret, "quicv2 key", &mut key);
        assert_eq!(key.to_vec(), unhex("8b1a0bc121284290a29e0971b5cd045d"));
        let mut hp = [0u8; 16];
        expand_label(&secret, "quicv2 hp", &mut hp);
        assert_eq!(hp.to_vec(), unhex("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    /// RFC 9000 A.3's example.
    #[test]
    fn packet_number_expansion() {
        assert_eq!(expand_pn(Some(0xa82f30ea), 0x9b32, 16), 0xa82f9b32);
        assert_eq!(expand_pn(None, 0, 8), 0);
        assert_eq!(expand_pn(Some(255), 0, 8), 256);
    }

    /// The salt table (Wireshark's and nDPI's choice per version).
    #[test]
    fn salts_by_version() {
        assert_eq!(salt(1), Some(&SALT_V1));
        assert_eq!(salt(0xff00_001d), Some(&SALT_DRAFT_29));
        assert_eq!(salt(0xff00_001b), Some(&SALT_DRAFT_23));
        assert_eq!(salt(0xface_b001), Some(&SALT_DRAFT_22));
        assert_eq!(salt(0xff00_0022), Some(&SALT_V1));
        assert_eq!(salt(0x1a2a_3a4a), None);
    }
}
