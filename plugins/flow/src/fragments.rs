//! The ports of IP fragments that the host put into their datagram's TCP or UDP flow (packet flag
//! `PACKET_FLAG_FRAGMENT_OF_FLOW`): the first fragment carries the ports; the host flags a
//! fragment only once that first fragment has been dispatched, and the flag means the fragment
//! has its flow's hash, so the first fragment came earlier to this same instance and partition.
//! Its ports are remembered by datagram (addresses, protocol, identification) in a small ring per
//! partition, so that the fragments after it find them.
//!
//! Bounded and deterministic: [`SLOTS`] datagrams per partition (the oldest is forgotten first),
//! which is what the host's flow hash assigns to an instance for any worker count. A fragment
//! whose datagram was forgotten (more than [`SLOTS`] datagrams of its partition in flight at
//! once) stays in the flow of its addresses, without ports.

use crate::packet::{Family, Info};
use crate::table::PARTITIONS;

/// Datagrams remembered per partition.
pub const SLOTS: usize = 8;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Datagram {
    family: Family,
    proto: u8,
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    used: bool,
    dgram: Datagram,
    ports: (u16, u16),
}

/// The rings, allocated once.
pub struct Fragments {
    slots: Vec<[Slot; SLOTS]>,
    next: Vec<u8>,
}

impl Default for Fragments {
    fn default() -> Self {
        Fragments { slots: vec![[Slot::default(); SLOTS]; PARTITIONS], next: vec![0; PARTITIONS] }
    }
}

fn datagram(p: &Info) -> Option<Datagram> {
    let f = p.frag?;
    Some(Datagram { family: p.family, proto: p.proto, src: p.src, dst: p.dst, id: f.id })
}

impl Fragments {
    /// Remembers `ports` for the datagram of first fragment `p` of partition `part`.
    pub fn remember(&mut self, part: u8, p: &Info, ports: (u16, u16)) {
        let Some(dgram) = datagram(p) else { return };
        let (ring, next) = (&mut self.slots[usize::from(part)], &mut self.next[usize::from(part)]);
        // A repeated first fragment does not change the ports (the host's first data wins too).
        if ring.iter().any(|s| s.used && s.dgram == dgram) {
            return;
        }
        ring[usize::from(*next)] = Slot { used: true, dgram, ports };
        *next = (*next + 1) % SLOTS as u8;
    }

    /// The ports remembered for the datagram of fragment `p` of partition `part`.
    pub fn ports(&self, part: u8, p: &Info) -> Option<(u16, u16)> {
        let dgram = datagram(p)?;
        self.slots[usize::from(part)].iter().find(|s| s.used && s.dgram == dgram).map(|s| s.ports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Frag;

    fn frag(id: u32, offset: u32) -> Info {
        Info {
            family: Family::V4,
            proto: 17,
            src: [1; 16],
            dst: [2; 16],
            frag: Some(Frag { id, offset, ..Frag::default() }),
            ..Info::default()
        }
    }

    #[test]
    fn remembers_per_partition_and_forgets_the_oldest() {
        let mut f = Fragments::default();
        f.remember(3, &frag(1, 0), (5000, 53));
        assert_eq!(f.ports(3, &frag(1, 1480)), Some((5000, 53)));
        assert_eq!(f.ports(4, &frag(1, 1480)), None, "another partition");
        assert_eq!(f.ports(3, &frag(2, 1480)), None, "another datagram");
        assert_eq!(f.ports(3, &Info { frag: None, ..frag(1, 0) }), None, "not a fragment");
        for id in 2..=SLOTS as u32 {
            f.remember(3, &frag(id, 0), (6000, 53));
        }
        assert_eq!(f.ports(3, &frag(1, 8)), Some((5000, 53)), "{SLOTS} datagrams fit");
        f.remember(3, &frag(100, 0), (7000, 53));
        assert_eq!(f.ports(3, &frag(1, 8)), None, "the oldest is forgotten");
        assert_eq!(f.ports(3, &frag(100, 8)), Some((7000, 53)));
    }
}
