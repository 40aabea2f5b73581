//! The mutator: turns a seed input into a nearby one.
//!
//! Hand-written rather than `arbitrary`/`proptest`: those generate values from a structure, while
//! the point here is to stay close to real packets and record files (which reach deep parser
//! states) and damage them the way captures and disks are damaged. Without coverage feedback
//! (no nightly toolchain, so no libFuzzer/sanitizer coverage), a mix of small damage and
//! structure-aware splicing of real inputs is what finds bugs; it is a few dozen lines.

use crate::rng::Rng;

/// Values that make length and offset fields interesting (boundaries, sign bits, all ones).
const MAGIC: &[u64] = &[0, 1, 2, 7, 8, 0x0f, 0x10, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x5dc, 0x7fff, 0x8000, 0xffff];

/// Applies 1 to 8 random mutations to `data`, keeping it at most `max_len` bytes. `other` is
/// another input to splice from.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], max_len: usize) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        mutate_once(rng, data, other, max_len);
    }
    data.truncate(max_len);
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], max_len: usize) {
    if data.is_empty() {
        data.push(rng.next_u64() as u8);
        return;
    }
    let len = data.len();
    let at = rng.below(len);
    match rng.below(10) {
        // Flip a bit.
        0 | 1 => data[at] ^= 1 << rng.below(8),
        // Replace a byte.
        2 => data[at] = rng.next_u64() as u8,
        // Insert bytes (random, or a copy of a run of this input).
        3 if len < max_len => {
            let k = 1 + rng.below(16.min(max_len - len));
            let bytes: Vec<u8> = if rng.one_in(2) {
                (0..k).map(|_| rng.next_u64() as u8).collect()
            } else {
                let from = rng.below(len);
                data[from..(from + k).min(len)].to_vec()
            };
            data.splice(at..at, bytes);
        }
        // Delete a run.
        4 => {
            let k = 1 + rng.below(16.min(len - at));
            data.drain(at..at + k);
        }
        // Truncate.
        5 => data.truncate(at),
        // Smash a length field: a 1, 2, 4 or 8 byte field in either byte order set to an
        // interesting value, or moved by a small amount.
        6 | 7 => {
            let width = [1usize, 2, 4, 8][rng.below(4)];
            if at + width <= len {
                let field = &mut data[at..at + width];
                let big = rng.one_in(2);
                let old = read_uint(field, big);
                let v = if rng.one_in(2) {
                    MAGIC[rng.below(MAGIC.len())]
                } else {
                    old.wrapping_add(rng.below(33) as u64).wrapping_sub(16)
                };
                write_uint(field, v, big);
            }
        }
        // Splice: a run of the other input replaces the tail from `at` (or a piece is spliced in).
        _ => {
            if !other.is_empty() {
                let from = rng.below(other.len());
                let k = 1 + rng.below(other.len() - from);
                if rng.one_in(2) {
                    data.truncate(at);
                    data.extend_from_slice(&other[from..from + k]);
                } else {
                    let end = (at + k).min(len);
                    data.splice(at..end, other[from..from + k].iter().copied());
                }
            }
        }
    }
}

fn read_uint(b: &[u8], big: bool) -> u64 {
    let it = b.iter().map(|&x| u64::from(x));
    if big { it.fold(0, |v, x| v << 8 | x) } else { it.rev().fold(0, |v, x| v << 8 | x) }
}

fn write_uint(b: &mut [u8], v: u64, big: bool) {
    let n = b.len();
    for (i, x) in b.iter_mut().enumerate() {
        let shift = if big { 8 * (n - 1 - i) } else { 8 * i };
        *x = (v >> shift) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_in_both_byte_orders() {
        let mut b = [0u8; 4];
        write_uint(&mut b, 0x0102_0304, true);
        assert_eq!(b, [1, 2, 3, 4]);
        assert_eq!(read_uint(&b, true), 0x0102_0304);
        write_uint(&mut b, 0x0102_0304, false);
        assert_eq!(b, [4, 3, 2, 1]);
        assert_eq!(read_uint(&b, false), 0x0102_0304);
    }

    #[test]
    fn mutation_is_deterministic_bounded_and_changes_inputs() {
        let seed: Vec<u8> = (0..200u8).collect();
        let run = |s: u64| {
            let mut rng = Rng::new(s);
            let mut out = Vec::new();
            for _ in 0..1000 {
                let mut d = seed.clone();
                mutate(&mut rng, &mut d, &[9; 50], 256);
                assert!(d.len() <= 256);
                out.push(d);
            }
            out
        };
        let a = run(7);
        assert_eq!(a, run(7), "same seed, same inputs");
        assert_ne!(a, run(8));
        let changed = a.iter().filter(|d| **d != seed).count();
        assert!(changed > 950, "only {changed} of 1000 mutations changed the input");
    }
}
