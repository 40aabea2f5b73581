//! Link-layer frames the corpus lacks, built from the specifications (IEEE 802.1AB LLDP, SONMP,
//! IEEE 802.1X EAPOL/EAP, IEEE 802.11 with radiotap, CDP): the link family's oracle test writes
//! them to pcap files and compares our records with tshark's dissection.

const SRC: [u8; 6] = [0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e];

fn eth(dst: [u8; 6], ty: u16, body: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&SRC);
    f.extend_from_slice(&ty.to_be_bytes());
    f.extend_from_slice(body);
    while f.len() < 60 {
        f.push(0);
    }
    f
}

/// An 802.3 frame (length field) with LLC AA-AA-03 and SNAP `oui`/`pid` before `body`.
fn snap(dst: [u8; 6], oui: [u8; 3], pid: u16, body: &[u8]) -> Vec<u8> {
    let mut llc = vec![0xaa, 0xaa, 0x03, oui[0], oui[1], oui[2]];
    llc.extend_from_slice(&pid.to_be_bytes());
    llc.extend_from_slice(body);
    eth(dst, llc.len() as u16, &llc)
}

fn lldp_tlv(f: &mut Vec<u8>, t: u16, v: &[u8]) {
    f.extend_from_slice(&((t << 9) | v.len() as u16).to_be_bytes());
    f.extend_from_slice(v);
}

/// LLDP frames: MAC / network-address / local chassis ids, interface-name / MAC port ids,
/// optional TLVs (descriptions, capabilities, IPv4 and IPv6 management addresses with OIDs,
/// 802.1 and 802.3 organizational TLVs, a reserved type), with and without the End TLV.
pub fn lldp_frames() -> Vec<Vec<u8>> {
    let dst = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];
    let mut out = Vec::new();
    let mut f = Vec::new();
    lldp_tlv(&mut f, 1, &[4, 0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e]);
    lldp_tlv(&mut f, 2, b"\x05Gi1/0/24");
    lldp_tlv(&mut f, 3, &[0, 120]);
    lldp_tlv(&mut f, 4, b"uplink to core");
    lldp_tlv(&mut f, 5, b"sw-access-1");
    lldp_tlv(&mut f, 6, b"Example Switch OS 1.2");
    lldp_tlv(&mut f, 7, &[0x00, 0x14, 0x00, 0x04]);
    lldp_tlv(&mut f, 8, &[5, 1, 192, 0, 2, 10, 2, 0, 0, 0, 24, 8, 0x2b, 6, 1, 4, 1, 0x81, 0x9b, 0x1c]);
    lldp_tlv(&mut f, 127, &[0x00, 0x80, 0xc2, 1, 0x00, 0x64]);
    lldp_tlv(&mut f, 127, &[0x00, 0x12, 0x0f, 1, 0x03, 0x6c, 0x00, 0x00, 0x10]);
    lldp_tlv(&mut f, 0, &[]);
    out.push(eth(dst, 0x88cc, &f));

    let mut f = Vec::new();
    lldp_tlv(&mut f, 1, &[5, 1, 10, 1, 1, 1]);
    lldp_tlv(&mut f, 2, &[3, 0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5f]);
    lldp_tlv(&mut f, 3, &[0x0e, 0x10]);
    lldp_tlv(&mut f, 7, &[0x00, 0x9f, 0x00, 0x11]);
    let mut m = vec![17, 2];
    m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    m.extend_from_slice(&[3, 0, 0, 0x10, 0x01, 0]);
    lldp_tlv(&mut f, 8, &m);
    lldp_tlv(&mut f, 10, b"phone");
    lldp_tlv(&mut f, 0, &[]);
    out.push(eth(dst, 0x88cc, &f));

    // Shutdown LLDPDU (TTL 0) with a locally assigned chassis id and no End TLV.
    let mut f = Vec::new();
    lldp_tlv(&mut f, 1, b"\x07chassis-7");
    lldp_tlv(&mut f, 2, b"\x07port-1");
    lldp_tlv(&mut f, 3, &[0, 0]);
    out.push(eth(dst, 0x88cc, &f));
    out
}

/// Nortel discovery (SONMP) hello frames, SNAP 00-00-81, PIDs 0x01a1 (flatnet) and 0x01a2.
pub fn nortel_frames() -> Vec<Vec<u8>> {
    let dst = [0x01, 0x00, 0x81, 0x00, 0x01, 0x00];
    vec![
        snap(dst, [0, 0, 0x81], 0x01a2, &[10, 0, 0, 5, 0x00, 0x01, 0x02, 0x0c, 0x06, 0x03, 1]),
        snap(dst, [0, 0, 0x81], 0x01a1, &[192, 168, 7, 1, 0x00, 0x00, 0x00, 0x34, 0x0c, 0x02, 4]),
    ]
}

/// EAPOL frames: start, EAP request/response identity, MD5 challenge, success, failure,
/// logoff, and an RC4 EAPOL-Key descriptor.
pub fn eapol_frames() -> Vec<Vec<u8>> {
    let pae = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];
    let eapol = |ver: u8, ty: u8, body: &[u8]| {
        let mut v = vec![ver, ty];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        eth(pae, 0x888e, &v)
    };
    let eap = |code: u8, id: u8, data: &[u8]| {
        let mut v = vec![code, id];
        v.extend_from_slice(&((4 + data.len()) as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    };
    let mut md5 = vec![4, 16];
    md5.extend_from_slice(&[0x5a; 16]);
    let mut rc4 = vec![1, 0, 13];
    rc4.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9]);
    rc4.extend_from_slice(&[0x11; 16]);
    rc4.push(0x81);
    rc4.extend_from_slice(&[0x22; 16]);
    vec![
        eapol(1, 1, &[]),
        eapol(1, 0, &eap(1, 1, &[1])),
        eapol(2, 0, &eap(2, 1, b"\x01alice@example.com")),
        eapol(2, 0, &eap(1, 2, &md5)),
        eapol(2, 0, &eap(3, 2, &[])),
        eapol(2, 0, &eap(4, 3, &[])),
        eapol(1, 2, &[]),
        eapol(1, 3, &rc4),
    ]
}

/// Radiotap header with TSFT and flags (`flags`), 24 bytes.
fn radiotap(flags: u8) -> Vec<u8> {
    let mut v = vec![0, 0, 24, 0, 0x03, 0, 0, 0];
    v.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    v.extend_from_slice(&[flags, 0, 0, 0, 0, 0, 0, 0]);
    v
}

/// 802.11 frames behind radiotap (LINKTYPE 127): QoS data with four addresses and HT control
/// (HT and VHT variants), a management action frame with HT control, RTS / CTS / ACK / PS-Poll,
/// a non-QoS data frame from the DS; some with an FCS (radiotap flag 0x10).
pub fn dot11_frames() -> Vec<Vec<u8>> {
    let a1 = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
    let a2 = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];
    let a3 = [0x02, 0x00, 0x00, 0x00, 0x00, 0x03];
    let a4 = [0x02, 0x00, 0x00, 0x00, 0x00, 0x04];
    let llc_ip = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1];
    let fcs = |v: &mut Vec<u8>| v.extend_from_slice(&crc32(&v[24..]).to_le_bytes());
    let mut out = Vec::new();
    for (htc, fl) in [([0x02u8, 0x0a, 0x65, 0xc1], 0x10u8), ([0x05, 0x3b, 0x9e, 0x25], 0x10), ([0x39, 0x0b, 0, 0], 0)] {
        let mut v = radiotap(fl);
        v.extend_from_slice(&[0x88, 0x83, 0x2c, 0x00]);
        v.extend_from_slice(&a1);
        v.extend_from_slice(&a2);
        v.extend_from_slice(&a3);
        v.extend_from_slice(&[0x35, 0x12]);
        v.extend_from_slice(&a4);
        v.extend_from_slice(&[0x35, 0x07]);
        v.extend_from_slice(&htc);
        v.extend_from_slice(&llc_ip);
        if fl != 0 {
            fcs(&mut v);
        }
        out.push(v);
    }
    // Action frame (management, subtype 13) with order flag and HT control.
    let mut v = radiotap(0x10);
    v.extend_from_slice(&[0xd0, 0x80, 0x3a, 0x01]);
    v.extend_from_slice(&a1);
    v.extend_from_slice(&a2);
    v.extend_from_slice(&a3);
    v.extend_from_slice(&[0x10, 0x00]);
    v.extend_from_slice(&[0x02, 0x00, 0x00, 0x01]);
    v.extend_from_slice(&[0x07, 0x00, 0x01]);
    fcs(&mut v);
    out.push(v);
    // RTS, CTS, ACK, PS-Poll.
    for (fc, n) in [([0xb4, 0x00], 2), ([0xc4, 0x00], 1), ([0xd4, 0x00], 1), ([0xa4, 0x10], 2)] {
        let mut v = radiotap(0x10);
        v.extend_from_slice(&fc);
        v.extend_from_slice(&[0x2c, 0x00]);
        v.extend_from_slice(&a1);
        if n == 2 {
            v.extend_from_slice(&a2);
        }
        fcs(&mut v);
        out.push(v);
    }
    // Data from the DS, no QoS, no FCS.
    let mut v = radiotap(0);
    v.extend_from_slice(&[0x08, 0x02, 0x00, 0x00]);
    v.extend_from_slice(&a1);
    v.extend_from_slice(&a2);
    v.extend_from_slice(&a3);
    v.extend_from_slice(&[0xf0, 0xff]);
    v.extend_from_slice(&llc_ip);
    out.push(v);
    out
}

/// CDP over 802.3/SNAP with TLVs the corpus lacks: management addresses, MTU, system name and
/// OID, VLAN query, power, trust, spare pair PoE, location, power request/available, an ODR
/// default gateway and an unknown type.
pub fn cdp_frames() -> Vec<Vec<u8>> {
    let tlv = |f: &mut Vec<u8>, t: u16, v: &[u8]| {
        f.extend_from_slice(&t.to_be_bytes());
        f.extend_from_slice(&((v.len() + 4) as u16).to_be_bytes());
        f.extend_from_slice(v);
    };
    let mut f = Vec::new();
    tlv(&mut f, 0x01, b"SEP001122334455");
    tlv(&mut f, 0x03, b"Port 1");
    tlv(&mut f, 0x04, &[0, 0, 0x04, 0x90]);
    tlv(&mut f, 0x06, b"Cisco IP Phone 7945");
    tlv(&mut f, 0x0f, &[0x20, 0x00, 0x01]);
    tlv(&mut f, 0x10, &[0x18, 0x6a]);
    tlv(&mut f, 0x11, &[0, 0, 0x05, 0xdc]);
    tlv(&mut f, 0x12, &[0x01]);
    tlv(&mut f, 0x13, &[0x05]);
    tlv(&mut f, 0x14, b"core-sw");
    tlv(&mut f, 0x16, &[0, 0, 0, 2, 1, 1, 0xcc, 0, 4, 10, 9, 8, 7, 1, 1, 0xcc, 0, 4, 10, 9, 8, 6]);
    tlv(&mut f, 0x17, b"\x01Building 4");
    tlv(&mut f, 0x19, &[0x00, 0x01, 0x00, 0x02, 0, 0, 0x3a, 0x98, 0, 0, 0x1d, 0x4c]);
    tlv(&mut f, 0x1a, &[0x00, 0x01, 0x00, 0x02, 0, 0, 0x3a, 0x98, 0xff, 0xff, 0xff, 0xff]);
    tlv(&mut f, 0x1f, &[0x0b]);
    tlv(&mut f, 0x07, &[10, 0, 0, 254]);
    tlv(&mut f, 0x1c, &[0xde, 0xad]);
    let mut cdp = vec![2, 180, 0, 0];
    cdp.extend_from_slice(&f);
    let ck = cdp_checksum(&cdp);
    cdp[2..4].copy_from_slice(&ck.to_be_bytes());
    vec![snap([0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc], [0, 0, 0x0c], 0x2000, &cdp)]
}

/// The IP-style checksum CDP uses (odd trailing byte added as is, like Cisco's implementation).
fn cdp_checksum(d: &[u8]) -> u16 {
    let mut s: u32 = 0;
    let mut it = d.chunks_exact(2);
    for c in &mut it {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = it.remainder() {
        s += u32::from(*b);
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// CRC-32 (IEEE), as the 802.11 FCS.
fn crc32(d: &[u8]) -> u32 {
    let mut c: u32 = !0;
    for &b in d {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 };
        }
    }
    !c
}
