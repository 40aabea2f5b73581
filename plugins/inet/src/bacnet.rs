//! BACnet/IP (ANSI/ASHRAE 135, Annex J) on UDP port 47808: one `BACnet` record per datagram.
//! The BVLC header (type 0x81, function, length; a Forwarded-NPDU's original address), the NPDU
//! (version, control, destination and source networks and addresses, hop count, network layer
//! message type and vendor) and the APDU header (PDU type, segmentation flags, invoke id,
//! sequence number and window, service choice; Error class and code, Reject and Abort reasons).
//! The service data is walked tag by tag: every object identifier (an application tag 12, or a
//! context tag that the service's production names an object identifier) and every property
//! identifier (a context tag the production names one) is listed, in order. The data of a
//! segment other than the first is a continuation and is not walked.

use netcap_proto::v1;

/// The BACnet/IP port (0xBAC0).
pub const PORT: u16 = 47808;

/// Whether the datagram is on the BACnet/IP port.
pub fn is_port(sp: u16, dp: u16) -> bool {
    sp == PORT || dp == PORT
}

const CUT: &str = "bacnet: message truncated";
const NOT_BVLC: &str = "bacnet: not a BACnet/IP BVLC header";
const BAD_VERSION: &str = "bacnet: bad NPDU version";
const BAD_TAG: &str = "bacnet: bad tag";

/// APDU types.
const CONFIRMED: u8 = 0;
const UNCONFIRMED: u8 = 1;
const COMPLEX_ACK: u8 = 3;
const ERROR: u8 = 5;

/// Fills `r` (its header fields already set) from one datagram; returns the error to count.
pub fn parse(b: &[u8], r: &mut v1::BaCnet) -> Result<(), &'static str> {
    let h = b.get(..4).ok_or(CUT)?;
    if h[0] != 0x81 {
        return Err(NOT_BVLC);
    }
    r.bvlc_type = u32::from(h[0]);
    r.bvlc_function = u32::from(h[1]);
    r.bvlc_length = u32::from(u16::from_be_bytes([h[2], h[3]]));
    let cut = r.bvlc_length as usize > b.len();
    let end = (r.bvlc_length as usize).clamp(4, b.len());
    let b = &b[..end];
    let npdu = match h[1] {
        0x04 => {
            let a = b.get(4..10).ok_or(CUT)?;
            r.forwarded_from = format!("{}.{}.{}.{}:{}", a[0], a[1], a[2], a[3], u16::from_be_bytes([a[4], a[5]]));
            &b[10..]
        }
        0x09..=0x0b => &b[4..],
        0x00 => {
            r.bvlc_result = b.get(4..6).map(|x| u32::from(u16::from_be_bytes([x[0], x[1]]))).ok_or(CUT)?;
            return Ok(());
        }
        _ => return Ok(()),
    };
    let res = parse_npdu(npdu, r);
    if cut && res.is_ok() {
        return Err(CUT);
    }
    res
}

/// The NPDU and what it carries.
fn parse_npdu(b: &[u8], r: &mut v1::BaCnet) -> Result<(), &'static str> {
    let (&version, &ctl) = (b.first().ok_or(CUT)?, b.get(1).ok_or(CUT)?);
    r.npdu_version = u32::from(version);
    r.npdu_control = u32::from(ctl);
    if version != 1 {
        return Err(BAD_VERSION);
    }
    let mut at = 2;
    let addr = |at: &mut usize| -> Result<(u32, Vec<u8>), &'static str> {
        let net = b.get(*at..*at + 2).ok_or(CUT)?;
        let len = usize::from(*b.get(*at + 2).ok_or(CUT)?);
        let a = b.get(*at + 3..*at + 3 + len).ok_or(CUT)?.to_vec();
        *at += 3 + len;
        Ok((u32::from(u16::from_be_bytes([net[0], net[1]])), a))
    };
    if ctl & 0x20 != 0 {
        (r.dnet, r.dadr) = addr(&mut at)?;
    }
    if ctl & 0x08 != 0 {
        (r.snet, r.sadr) = addr(&mut at)?;
    }
    if ctl & 0x20 != 0 {
        r.hop_count = u32::from(*b.get(at).ok_or(CUT)?);
        at += 1;
    }
    if ctl & 0x80 != 0 {
        r.network_message = true;
        let t = *b.get(at).ok_or(CUT)?;
        r.network_message_type = u32::from(t);
        if t >= 0x80 {
            r.vendor_id = b.get(at + 1..at + 3).map(|x| u32::from(u16::from_be_bytes([x[0], x[1]]))).ok_or(CUT)?;
        }
        return Ok(());
    }
    parse_apdu(&b[at..], r)
}

/// The APDU header, then the service data's object and property identifiers.
fn parse_apdu(b: &[u8], r: &mut v1::BaCnet) -> Result<(), &'static str> {
    let b0 = *b.first().ok_or(CUT)?;
    let ty = b0 >> 4;
    r.apdu = true;
    r.apdu_type = u32::from(ty);
    let byte = |i: usize| b.get(i).copied().map(u32::from).ok_or(CUT);
    let data_at = match ty {
        CONFIRMED | COMPLEX_ACK => {
            r.segmented = b0 & 0x08 != 0;
            r.more_follows = b0 & 0x04 != 0;
            let mut at = if ty == CONFIRMED {
                let v = byte(1)?;
                (r.max_segments, r.max_apdu) = ((v >> 4) & 7, v & 0x0f);
                r.invoke_id = byte(2)?;
                3
            } else {
                r.invoke_id = byte(1)?;
                2
            };
            if r.segmented {
                (r.sequence_number, r.window_size) = (byte(at)?, byte(at + 1)?);
                at += 2;
            }
            r.service_choice = byte(at)?;
            r.has_service = true;
            at + 1
        }
        UNCONFIRMED => {
            r.service_choice = byte(1)?;
            r.has_service = true;
            2
        }
        2 => {
            (r.invoke_id, r.service_choice) = (byte(1)?, byte(2)?);
            r.has_service = true;
            return Ok(());
        }
        4 => {
            (r.invoke_id, r.sequence_number, r.window_size) = (byte(1)?, byte(2)?, byte(3)?);
            return Ok(());
        }
        ERROR => {
            (r.invoke_id, r.service_choice) = (byte(1)?, byte(2)?);
            r.has_service = true;
            3
        }
        6 | 7 => {
            (r.invoke_id, r.reason) = (byte(1)?, byte(2)?);
            return Ok(());
        }
        _ => return Ok(()),
    };
    // A segment after the first continues the service data: not walked.
    if r.segmented && r.sequence_number > 0 {
        return Ok(());
    }
    walk(b.get(data_at..).unwrap_or_default(), ty, r.service_choice as u8, r)
}

/// What a context tag is in a service's production: (APDU type, service, nesting depth, tag
/// number) of the object identifiers and property identifiers.
const OBJECT_IDS: &[(u8, u8, u32, u32)] = &[
    (CONFIRMED, 0, 0, 1),    // AcknowledgeAlarm: event object
    (CONFIRMED, 1, 0, 1),    // ConfirmedCOVNotification: initiating device
    (CONFIRMED, 1, 0, 2),    // ... monitored object
    (CONFIRMED, 2, 0, 1),    // ConfirmedEventNotification: initiating device
    (CONFIRMED, 2, 0, 2),    // ... event object
    (CONFIRMED, 5, 0, 1),    // SubscribeCOV
    (CONFIRMED, 8, 0, 0),    // AddListElement
    (CONFIRMED, 9, 0, 0),    // RemoveListElement
    (CONFIRMED, 10, 1, 1),   // CreateObject: object specifier
    (CONFIRMED, 12, 0, 0),   // ReadProperty
    (CONFIRMED, 14, 0, 0),   // ReadPropertyMultiple
    (CONFIRMED, 15, 0, 0),   // WriteProperty
    (CONFIRMED, 16, 0, 0),   // WritePropertyMultiple
    (CONFIRMED, 19, 0, 0),   // ConfirmedTextMessage: source device
    (CONFIRMED, 26, 0, 0),   // ReadRange
    (CONFIRMED, 28, 0, 1),   // SubscribeCOVProperty
    (CONFIRMED, 27, 0, 3),   // LifeSafetyOperation
    (CONFIRMED, 30, 1, 0),   // SubscribeCOVPropertyMultiple: subscriptions
    (CONFIRMED, 31, 0, 1),   // ConfirmedCOVNotificationMultiple: initiating device
    (CONFIRMED, 31, 1, 0),   // ... monitored objects
    (COMPLEX_ACK, 12, 0, 0), // ReadProperty-ACK
    (COMPLEX_ACK, 14, 0, 0), // ReadPropertyMultiple-ACK
    (COMPLEX_ACK, 26, 0, 0), // ReadRange-ACK
    (UNCONFIRMED, 2, 0, 1),  // UnconfirmedCOVNotification: initiating device
    (UNCONFIRMED, 2, 0, 2),  // ... monitored object
    (UNCONFIRMED, 3, 0, 1),  // UnconfirmedEventNotification
    (UNCONFIRMED, 3, 0, 2),
    (UNCONFIRMED, 5, 0, 0),  // UnconfirmedTextMessage: source device
    (UNCONFIRMED, 7, 0, 2),  // Who-Has
    (UNCONFIRMED, 11, 0, 1), // UnconfirmedCOVNotificationMultiple
    (UNCONFIRMED, 11, 1, 0),
    (UNCONFIRMED, 11, 0, 1), // UnconfirmedCOVNotificationMultiple
    (UNCONFIRMED, 11, 1, 0),
];
const PROPERTY_IDS: &[(u8, u8, u32, u32)] = &[
    (CONFIRMED, 1, 1, 0),    // ConfirmedCOVNotification: list of values
    (CONFIRMED, 8, 0, 1),    // AddListElement
    (CONFIRMED, 9, 0, 1),    // RemoveListElement
    (CONFIRMED, 12, 0, 1),   // ReadProperty
    (CONFIRMED, 14, 1, 0),   // ReadPropertyMultiple: property references
    (CONFIRMED, 15, 0, 1),   // WriteProperty
    (CONFIRMED, 16, 1, 0),   // WritePropertyMultiple
    (CONFIRMED, 26, 0, 1),   // ReadRange
    (CONFIRMED, 28, 1, 0),   // SubscribeCOVProperty: monitored property
    (CONFIRMED, 30, 3, 0),   // SubscribeCOVPropertyMultiple: monitored properties
    (CONFIRMED, 31, 2, 0),   // ConfirmedCOVNotificationMultiple: values
    (COMPLEX_ACK, 12, 0, 1), // ReadProperty-ACK
    (COMPLEX_ACK, 14, 1, 2), // ReadPropertyMultiple-ACK: results
    (COMPLEX_ACK, 26, 0, 1), // ReadRange-ACK
    (UNCONFIRMED, 2, 1, 0),  // UnconfirmedCOVNotification: list of values
    (UNCONFIRMED, 11, 2, 0), // UnconfirmedCOVNotificationMultiple: values
];

/// Walks the tags of a service's data.
fn walk(d: &[u8], ty: u8, service: u8, r: &mut v1::BaCnet) -> Result<(), &'static str> {
    let mut at = 0;
    let mut depth = 0u32;
    let mut enums = 0;
    while at < d.len() {
        let t = d[at];
        at += 1;
        let mut num = u32::from(t >> 4);
        if num == 15 {
            num = u32::from(*d.get(at).ok_or(CUT)?);
            at += 1;
        }
        let context = t & 0x08 != 0;
        let lvt = t & 7;
        if context && lvt == 6 {
            depth += 1;
            continue;
        }
        if context && lvt == 7 {
            depth = depth.checked_sub(1).ok_or(BAD_TAG)?;
            continue;
        }
        // An application boolean's value is its length field.
        if !context && num == 1 {
            continue;
        }
        let len = match lvt {
            5 => {
                let n = *d.get(at).ok_or(CUT)?;
                at += 1;
                match n {
                    254 => {
                        let x = d.get(at..at + 2).ok_or(CUT)?;
                        at += 2;
                        usize::from(u16::from_be_bytes([x[0], x[1]]))
                    }
                    255 => {
                        let x = d.get(at..at + 4).ok_or(CUT)?;
                        at += 4;
                        u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize
                    }
                    n => usize::from(n),
                }
            }
            n => usize::from(n),
        };
        let v = d.get(at..at.checked_add(len).ok_or(CUT)?).ok_or(CUT)?;
        at += len;
        let key = (ty, service, depth, num);
        let is_object = if context { OBJECT_IDS.contains(&key) } else { num == 12 };
        if is_object && len == 4 {
            let x = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            r.object_types.push(x >> 22);
            r.object_instances.push(x & 0x3f_ffff);
        } else if context && PROPERTY_IDS.contains(&key) && (1..=4).contains(&len) {
            r.property_ids.push(v.iter().fold(0u32, |a, &x| a << 8 | u32::from(x)));
        } else if ty == ERROR && !context && num == 9 && enums < 2 {
            // Error class and code: the first two enumerated values.
            let e = v.iter().fold(0u32, |a, &x| a << 8 | u32::from(x));
            if enums == 0 {
                r.error_class = e;
            } else {
                r.error_code = e;
            }
            enums += 1;
        }
    }
    if depth != 0 { Err(CUT) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(b: &[u8]) -> (v1::BaCnet, Result<(), &'static str>) {
        let mut r = v1::BaCnet::default();
        let res = parse(b, &mut r);
        (r, res)
    }

    #[test]
    fn read_property_request_and_ack() {
        // ReadProperty of analog-input 3, present-value (85), invoke id 7.
        let req = [0x81, 0x0a, 0, 17, 1, 4, 0x00, 0x05, 7, 12, 0x0c, 0x00, 0, 0, 3, 0x19, 85];
        let (r, res) = parse_all(&req);
        assert_eq!(res, Ok(()));
        assert_eq!((r.bvlc_function, r.npdu_control, r.apdu_type, r.invoke_id, r.service_choice), (10, 4, 0, 7, 12));
        assert_eq!((r.max_segments, r.max_apdu), (0, 5));
        assert_eq!(
            (r.object_types.clone(), r.object_instances.clone(), r.property_ids.clone()),
            (vec![0], vec![3], vec![85])
        );
        // The ACK: [0] object, [1] property, [3] { real 21.5 }.
        let ack =
            [0x81, 0x0a, 0, 23, 1, 0, 0x30, 7, 12, 0x0c, 0, 0, 0, 3, 0x19, 85, 0x3e, 0x44, 0x41, 0xac, 0, 0, 0x3f];
        let (r, res) = parse_all(&ack);
        assert_eq!(res, Ok(()));
        assert_eq!((r.apdu_type, r.object_instances.clone(), r.property_ids.clone()), (3, vec![3], vec![85]));
        // Every cut: an error, never a panic.
        for n in 0..ack.len() {
            assert!(parse_all(&ack[..n]).1.is_err(), "{n}");
        }
    }

    #[test]
    fn i_am_routed_and_network_message() {
        // I-Am from device 1234 routed from network 5 (source MAC 1 byte).
        let i_am = [
            0x81, 0x0b, 0, 24, 1, 0x08, 0, 5, 1, 0x2a, 0x10, 0x00, 0xc4, 0x02, 0, 0x04, 0xd2, 0x22, 0x05, 0xc4, 0x91,
            0, 0x21, 0x0f,
        ];
        let (r, res) = parse_all(&i_am);
        assert_eq!(res, Ok(()));
        assert_eq!((r.snet, r.sadr.clone(), r.apdu_type, r.service_choice), (5, vec![0x2a], 1, 0));
        assert_eq!((r.object_types.clone(), r.object_instances.clone()), (vec![8], vec![1234]));
        // Who-Is-Router-To-Network, broadcast to all networks with hop count 255.
        let m = [0x81, 0x0b, 0, 12, 1, 0xa0, 0xff, 0xff, 0, 0xff, 0x00, 0];
        let (r, res) = parse_all(&m);
        assert_eq!(res, Ok(()));
        assert_eq!((r.network_message, r.dnet, r.hop_count, r.network_message_type), (true, 0xffff, 255, 0));
    }

    #[test]
    fn error_reject_and_garbage() {
        let e = [0x81, 0x0a, 0, 13, 1, 0, 0x50, 9, 12, 0x91, 2, 0x91, 32];
        let (r, res) = parse_all(&e);
        assert_eq!(res, Ok(()));
        assert_eq!((r.apdu_type, r.invoke_id, r.service_choice, r.error_class, r.error_code), (5, 9, 12, 2, 32));
        let rej = [0x81, 0x0a, 0, 9, 1, 0, 0x60, 1, 4];
        assert_eq!(parse_all(&rej).0.reason, 4);
        let mut x: u32 = 7;
        for _ in 0..5000 {
            let n = (x % 40) as usize;
            let mut b = vec![0x81, 0x0a, 0, n as u8 + 6, 1, 0];
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b.push((x >> 16) as u8);
            }
            let _ = parse_all(&b);
        }
    }
}
