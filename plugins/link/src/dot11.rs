//! IEEE 802.11 MAC header (gopacket's `Dot11` layout, fields as netcap records them), with the
//! QoS control field of QoS data frames and the HT control field (HT and VHT variants) when the
//! order flag announces it. The FCS is taken from the end of the frame when the radiotap (or PPI)
//! header says the frame has one and the frame was captured whole.

use crate::decode::{Link, Rd, T_DOT11, set_mac};
use netcap_proto::v1::dot11::{Asel, Ht, HtControl, LinkAdaptationControl, Mfb, Qos, Vht};
use netcap_sdk::{Emitter, Layer, Packet, layer};

/// pcap LINKTYPE_PPI.
const LINKTYPE_PPI: u16 = 192;

/// The FCS of the 802.11 frame whose layer index is `i`, when the frame has one and it was
/// captured (read little-endian, as Wireshark shows `wlan.fcs`).
pub(crate) fn fcs(p: &Packet<'_>, i: usize) -> Option<u32> {
    let l = p.layer(i)?;
    let prev = i.checked_sub(1).and_then(|k| p.layer(k));
    let has = match prev {
        Some(r) if r.id == layer::RADIOTAP => radiotap_fcs(p.data.get(r.offset..l.offset)?),
        _ if p.link_type == LINKTYPE_PPI => ppi_fcs(p.data.get(..l.offset)?),
        _ => false,
    };
    if !has || p.data.len() as u64 != u64::from(p.orig_len) || p.data.len() < l.offset + 4 {
        return None;
    }
    let n = p.data.len();
    Some(u32::from_le_bytes([p.data[n - 4], p.data[n - 3], p.data[n - 2], p.data[n - 1]]))
}

/// Whether a radiotap header's flags field has the "FCS at end" bit (0x10).
fn radiotap_fcs(d: &[u8]) -> bool {
    let mut r = Rd::new(d);
    let hlen = usize::from(r.le16(2));
    let present = r.le32(4);
    let mut at = 8;
    let mut word = present;
    // Extended presence bitmaps: each takes 4 bytes, so the loop is bounded by the data.
    while word & 0x8000_0000 != 0 && at + 4 <= d.len() {
        word = r.le32(at);
        at += 4;
    }
    if r.short || present & 2 == 0 {
        return false;
    }
    if present & 1 != 0 {
        // TSFT: 8 bytes, aligned to 8 from the start of the header.
        at = at.div_ceil(8) * 8 + 8;
    }
    at < hlen && d.get(at).is_some_and(|f| f & 0x10 != 0)
}

/// Whether a PPI header's 802.11-common field says the frame has an FCS.
fn ppi_fcs(d: &[u8]) -> bool {
    let mut r = Rd::new(d);
    let hlen = usize::from(r.le16(2)).min(d.len());
    let mut at = 8;
    while at + 4 <= hlen {
        let (ty, len) = (r.le16(at), usize::from(r.le16(at + 2)));
        if ty == 2 && len >= 10 {
            return r.le16(at + 12) & 1 != 0;
        }
        at += 4 + len;
    }
    false
}

impl Link {
    pub(crate) fn dot11_frame(&mut self, p: &Packet<'_>, i: usize, l: Layer, out: &mut Emitter<'_>) {
        let fcs = fcs(p, i);
        let end = if fcs.is_some() { p.data.len() - 4 } else { p.data.len() };
        let mut r = Rd::new(p.data.get(l.offset..end).unwrap_or_default());
        if r.d.is_empty() {
            out.error("dot11: header truncated");
            return;
        }
        let m = &mut self.dot11;
        m.timestamp = p.ts_nanos;
        let fc = r.u8(0);
        let flags = r.u8(1);
        let ty = fc >> 2;
        let main = ty & 3;
        m.r#type = u32::from(ty);
        m.proto = u32::from(fc & 3);
        m.flags = u32::from(flags);
        m.duration_id = u32::from(r.le16(2));
        set_mac(&mut m.address1, r.bytes(4, 6));
        m.address2.clear();
        m.address3.clear();
        m.address4.clear();
        m.sequence_number = 0;
        m.fragment_number = 0;
        m.qos = None;
        m.ht_control = None;
        m.checksum = fcs.unwrap_or(0);
        let mut at = 10;
        match main {
            // Control frames: RTS, PS-Poll, CF-End and CF-End+CF-Ack carry a second address.
            1 => {
                if matches!(ty >> 2, 10 | 11 | 14 | 15) {
                    set_mac(&mut m.address2, r.bytes(10, 6));
                    at = 16;
                }
            }
            0 | 2 => {
                set_mac(&mut m.address2, r.bytes(10, 6));
                set_mac(&mut m.address3, r.bytes(16, 6));
                let sc = r.le16(22);
                m.sequence_number = u32::from(sc >> 4);
                m.fragment_number = u32::from(sc & 0xf);
                at = 24;
            }
            _ => {}
        }
        if main == 2 && flags & 3 == 3 {
            set_mac(&mut m.address4, r.bytes(at, 6));
            at += 6;
        }
        // QoS data subtypes (subtype bit 3).
        let qos = ty & 0x23 == 0x22;
        if qos {
            let (b0, b1) = (r.u8(at), r.u8(at + 1));
            m.qos = Some(Qos {
                tid: u32::from(b0 & 0x0f),
                eosp: b0 & 0x10 != 0,
                ack_policy: u32::from((b0 & 0x60) >> 5),
                txop: u32::from(b1),
            });
            at += 2;
        }
        if flags & 0x80 != 0 && (qos || main == 0) {
            let b = [r.u8(at), r.u8(at + 1), r.u8(at + 2), r.u8(at + 3)];
            m.ht_control = Some(ht_control(b, main == 0));
        }
        out.record(T_DOT11, &self.dot11);
        if r.short {
            out.error("dot11: header truncated");
        }
    }
}

/// The HT control field (4 bytes), as gopacket splits it.
fn ht_control(b: [u8; 4], mgmt: bool) -> HtControl {
    let mut h = HtControl { ac_constraint: b[3] & 0x40 != 0, rdg_more_ppdu: b[3] & 0x80 != 0, ..Default::default() };
    if b[0] & 1 != 0 {
        let mut v = Vht { mrq: b[0] & 4 != 0, unsolicited_mfb: b[3] & 0x20 != 0, ..Default::default() };
        let snr6 = i32::from((b[2] >> 2) & 0x3f);
        let mfb = Mfb {
            num_sts: u32::from((b[1] >> 1) & 7),
            vht_mcs: u32::from((b[1] >> 4) & 0xf),
            bw: u32::from(b[2] & 3),
            snr: if snr6 & 0x20 != 0 { snr6 - 64 } else { snr6 } + 22,
        };
        if v.unsolicited_mfb {
            // "No feedback" is VHT-MCS 15 with NUM_STS 7.
            if !(mfb.vht_mcs == 15 && mfb.num_sts == 7) {
                v.compressed_msi = u32::from((b[0] >> 3) & 3);
                v.stbc_indication = b[0] & 0x20 != 0;
                v.coding_type = u32::from((b[3] >> 3) & 1);
                v.fb_tx_beamformed = b[3] & 0x10 != 0;
                v.gid = u32::from(b[2] >> 6) + (u32::from(b[3] & 7) << 2);
            }
        } else {
            if v.mrq {
                v.msi = u32::from((b[0] >> 3) & 7);
            }
            v.mfsi = u32::from(b[0] >> 6) + (u32::from(b[1] & 1) << 2);
        }
        v.mfb = Some(mfb);
        h.vht = Some(v);
    } else {
        let mut lac = LinkAdaptationControl {
            trq: b[0] & 2 != 0,
            mfsi: u32::from((b[0] >> 6) & 3) + (u32::from(b[1] & 1) << 2),
            ..Default::default()
        };
        if b[0] & 0x3c == 0x38 {
            lac.asel = Some(Asel { command: u32::from((b[1] >> 1) & 7), data: u32::from((b[1] >> 4) & 0xf) });
        } else {
            lac.mrq = b[0] & 4 != 0;
            if lac.mrq {
                lac.msi = u32::from((b[0] >> 3) & 7);
            }
            lac.mfb = u32::from(b[1] >> 1);
        }
        h.ht = Some(Ht {
            link_adaptation_control: Some(lac),
            calibration_position: u32::from(b[2] & 3),
            calibration_sequence: u32::from((b[2] >> 2) & 3),
            csi_steering: u32::from((b[2] >> 6) & 3),
            ndp_announcement: b[3] & 1 != 0,
            dei: !mgmt && b[3] & 0x20 != 0,
        });
    }
    h
}
