//! SNMP (RFC 1157, RFC 3416, RFC 3412/3414) on UDP 161 and 162: one `SNMP` record per message,
//! read with the BER reader of [`crate::ber`]. v3 messages give their header and USM user name,
//! and their PDU when it is not encrypted. A message cut short gives the fields before the cut
//! and a counted error.

use crate::ber::{self, Reader};
use netcap_proto::v1;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTETS: u8 = 0x04;
const OID: u8 = 0x06;
const IPADDRESS: u8 = 0x40;

const TRUNCATED: &str = "snmp: message truncated";
const MALFORMED: &str = "snmp: message malformed";

/// PDU names as Wireshark shows them, by tag number.
const PDU_NAMES: [&str; 9] = [
    "get-request",
    "get-next-request",
    "get-response",
    "set-request",
    "trap",
    "getBulkRequest",
    "informRequest",
    "snmpV2-trap",
    "report",
];

/// Whether the datagram is on an SNMP port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    [161, 162].contains(&sp) || [161, 162].contains(&dp)
}

/// Fills `r` (its header fields already set) from one message; returns the error to count.
pub fn parse(b: &[u8], r: &mut v1::Snmp) -> Result<(), &'static str> {
    r.pdu_type = -1;
    let mut top = Reader::new(b);
    let msg = top.expect(SEQUENCE).ok_or(MALFORMED)?;
    let mut m = Reader::new(msg.value);
    let res = message(&mut m, r);
    if msg.cut && res.is_ok() { Err(TRUNCATED) } else { res.map_err(|e| if msg.cut { TRUNCATED } else { e }) }
}

fn message(m: &mut Reader<'_>, r: &mut v1::Snmp) -> Result<(), &'static str> {
    r.version = ber::int(m.expect(INTEGER).ok_or(MALFORMED)?.value) as u32;
    if r.version == 3 {
        return v3(m, r);
    }
    r.community = String::from_utf8_lossy(m.expect(OCTETS).ok_or(MALFORMED)?.value).into_owned();
    pdu(m, r)
}

fn v3(m: &mut Reader<'_>, r: &mut v1::Snmp) -> Result<(), &'static str> {
    let global = m.expect(SEQUENCE).ok_or(MALFORMED)?;
    let mut g = Reader::new(global.value);
    r.msg_id = ber::int(g.expect(INTEGER).ok_or(MALFORMED)?.value);
    g.expect(INTEGER).ok_or(MALFORMED)?;
    let flags = g.expect(OCTETS).ok_or(MALFORMED)?.value;
    r.msg_flags = u32::from(flags.first().copied().unwrap_or(0));
    r.security_level = match r.msg_flags & 3 {
        0 => "noAuthNoPriv",
        1 => "authNoPriv",
        _ => "authPriv",
    }
    .into();
    let usm = m.expect(OCTETS).ok_or(MALFORMED)?;
    let mut u = Reader::new(usm.value);
    if let Some(s) = u.expect(SEQUENCE) {
        let mut s = Reader::new(s.value);
        s.expect(OCTETS); // authoritative engine id
        s.expect(INTEGER); // boots
        s.expect(INTEGER); // time
        if let Some(name) = s.expect(OCTETS) {
            r.user_name = String::from_utf8_lossy(name.value).into_owned();
        }
    }
    if m.expect(OCTETS).is_some() {
        r.encrypted = true;
        return Ok(());
    }
    let scoped = m.expect(SEQUENCE).ok_or(MALFORMED)?;
    let mut s = Reader::new(scoped.value);
    s.expect(OCTETS).ok_or(MALFORMED)?; // context engine id
    s.expect(OCTETS).ok_or(MALFORMED)?; // context name
    pdu(&mut s, r)
}

/// The PDU: a context-specific constructed tag 0..8.
fn pdu(m: &mut Reader<'_>, r: &mut v1::Snmp) -> Result<(), &'static str> {
    let p = m.read().ok_or(MALFORMED)?;
    if p.tag & 0xe0 != 0xa0 || p.number > 8 {
        return Err(MALFORMED);
    }
    let n = p.number as u8;
    r.pdu_type = i32::from(n);
    r.pdu_name = PDU_NAMES[usize::from(n)].into();
    let mut f = Reader::new(p.value);
    let int = |f: &mut Reader<'_>| f.expect(INTEGER).map(|t| ber::int(t.value)).ok_or(MALFORMED);
    if n == 4 {
        ber::oid(f.expect(OID).ok_or(MALFORMED)?.value, &mut r.enterprise);
        let a = f.expect(IPADDRESS).ok_or(MALFORMED)?.value;
        if a.len() == 4 {
            r.agent_addr = format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        r.generic_trap = int(&mut f)? as u32;
        r.specific_trap = int(&mut f)? as u32;
        f.read().ok_or(MALFORMED)?; // time stamp
    } else {
        r.request_id = int(&mut f)?;
        let (a, b) = (int(&mut f)? as u32, int(&mut f)? as u32);
        if n == 5 {
            (r.non_repeaters, r.max_repetitions) = (a, b);
        } else {
            (r.error_status, r.error_index) = (a, b);
        }
    }
    let list = f.expect(SEQUENCE).ok_or(MALFORMED)?;
    let mut v = Reader::new(list.value);
    while !v.is_empty() {
        let bind = v.expect(SEQUENCE).ok_or(MALFORMED)?;
        let name = Reader::new(bind.value).expect(OID).ok_or(MALFORMED)?;
        let mut s = String::new();
        ber::oid(name.value, &mut s);
        r.oids.push(s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2c GetRequest, community `public`, request id 1266162286, one varbind
    /// 1.3.6.1.2.1.1.5.0 = NULL (as in ndpi_snmp.pcap).
    fn get_request() -> Vec<u8> {
        let oid = [0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 5, 0];
        let mut bind = vec![0x30, (oid.len() + 2) as u8];
        bind.extend_from_slice(&oid);
        bind.extend_from_slice(&[0x05, 0]);
        let mut list = vec![0x30, bind.len() as u8];
        list.extend_from_slice(&bind);
        let mut pdu = vec![0x02, 4, 0x4b, 0x77, 0x3a, 0x6e, 0x02, 1, 0, 0x02, 1, 0];
        pdu.extend_from_slice(&list);
        let mut p = vec![0xa0, pdu.len() as u8];
        p.extend_from_slice(&pdu);
        let mut body = vec![0x02, 1, 1, 0x04, 6];
        body.extend_from_slice(b"public");
        body.extend_from_slice(&p);
        let mut m = vec![0x30, body.len() as u8];
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn v2c_get_request() {
        let mut r = v1::Snmp::default();
        parse(&get_request(), &mut r).unwrap();
        assert_eq!((r.version, r.community.as_str(), r.pdu_type, r.pdu_name.as_str()), (1, "public", 0, "get-request"));
        assert_eq!(
            (r.request_id, r.error_status, r.oids.clone()),
            (1266104942, 0, vec!["1.3.6.1.2.1.1.5.0".to_string()])
        );
    }

    #[test]
    fn cuts_and_garbling() {
        let m = get_request();
        for n in 0..m.len() {
            let mut r = v1::Snmp::default();
            let e = parse(&m[..n], &mut r).unwrap_err();
            assert!([TRUNCATED, MALFORMED].contains(&e), "{n}");
            if n > 20 {
                assert_eq!(r.community, "public", "{n}");
            }
        }
        for i in 0..m.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut g = m.clone();
                g[i] ^= x;
                let _ = parse(&g, &mut v1::Snmp::default());
            }
        }
    }
}
