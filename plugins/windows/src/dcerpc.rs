//! Connection-oriented DCE/RPC (DCE 1.1 RPC chapter 12, MS-RPCE 2.2.2): each PDU, cut by
//! [`crate::Side`] by its fragment length, into DCERPC records. Binds and alter contexts list
//! their presentation contexts (remembered per connection, so that requests, responses and faults
//! name their interface); acks their results; requests their opnum. The fragments of one request
//! or response (same call id, first to last flag) are one record, timed by the first: a
//! fragment of another call while one is open ends the open one with an error. Integers follow
//! the PDU's data representation (little- or big-endian). The NTLMSSP message in the auth
//! verifier of a bind, alter context, their acks or an auth3 becomes an NTLM record.

use crate::{Ctx, Parser, T_DCERPC, ntlm};
use netcap_proto::v1::Dcerpc;
use netcap_proto::v1::dcerpc::{Context, Result as CtxResult};
use netcap_sdk::{Dir, Emitter};

pub const E_BAD_HEADER: &str = "dcerpc: bad PDU header";
pub const E_GAP: &str = "dcerpc: gap in PDU";
pub const E_TRUNCATED: &str = "dcerpc: PDU truncated";
pub const E_BODY: &str = "dcerpc: PDU body truncated";
pub const E_FRAGMENT: &str = "dcerpc: fragment missing";

/// Header bytes that give the fragment length.
pub const HEADER: usize = 10;
/// The common header's size.
const COMMON: usize = 16;
/// PFC flags.
const FIRST: u8 = 0x01;
const LAST: u8 = 0x02;
const OBJECT: u8 = 0x80;
/// Most presentation contexts remembered per connection.
const MAX_CONTEXTS: usize = 64;

/// Well-known interfaces and transfer syntaxes by UUID.
const NAMES: &[(&str, &str)] = &[
    ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", "EPM"),
    ("12345778-1234-abcd-ef00-0123456789ab", "LSARPC"),
    ("12345778-1234-abcd-ef00-0123456789ac", "SAMR"),
    ("12345678-1234-abcd-ef00-01234567cffb", "NETLOGON"),
    ("e3514235-4b06-11d1-ab04-00c04fc2dcd2", "DRSUAPI"),
    ("367abb81-9844-35f1-ad32-98f038001003", "SVCCTL"),
    ("338cd001-2244-31f1-aaaa-900038001003", "WINREG"),
    ("4b324fc8-1670-01d3-1278-5a47bf6ee188", "SRVSVC"),
    ("6bffd098-a112-3610-9833-46c3f87e345a", "WKSSVC"),
    ("1ff70682-0a51-30e8-076d-740be8cee98b", "ATSVC"),
    ("86d35949-83c9-4044-b424-db363231fd0c", "ITASKSCHEDULERSERVICE"),
    ("378e52b0-c0a9-11cf-822d-00aa0051e40f", "SASEC"),
    ("12345678-1234-abcd-ef00-0123456789ab", "SPOOLSS"),
    ("3919286a-b10c-11d0-9ba8-00c04fd92ef5", "DSSETUP"),
    ("c681d488-d850-11d0-8c52-00c04fd90f7e", "EFSRPC"),
    ("df1941c5-fe89-4e79-bf10-463657acf44d", "EFSRPC"),
    ("82273fdc-e32a-18c3-3f78-827929dc23ea", "EVENTLOG"),
    ("f6beaff7-1e19-4fbb-9f8f-b89e2018337c", "EVENTLOG6"),
    ("f5cc5a18-4264-101a-8c59-08002b2f8426", "NSPI"),
    ("99fcfec4-5260-101b-bbcb-00aa0021347a", "IOXIDResolver"),
    ("000001a0-0000-0000-c000-000000000046", "IRemoteSCMActivator"),
    ("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57", "IActivation"),
    ("8a885d04-1ceb-11c9-9fe8-08006e103360", "NDR"),
    ("71710533-beba-4937-8319-b5dbef9ccc36", "NDR64"),
];

/// The name of a well-known interface or transfer syntax, or "".
pub fn name_of(uuid: &str) -> &'static str {
    NAMES.iter().find(|(u, _)| *u == uuid).map_or("", |(_, n)| n)
}

/// The name of a PDU type.
pub fn type_name(t: u32) -> &'static str {
    match t {
        0 => "request",
        1 => "ping",
        2 => "response",
        3 => "fault",
        11 => "bind",
        12 => "bind_ack",
        13 => "bind_nak",
        14 => "alter_context",
        15 => "alter_context_resp",
        16 => "auth3",
        17 => "shutdown",
        18 => "co_cancel",
        19 => "orphaned",
        _ => "",
    }
}

/// Whether the first bytes `b` of a connection can start a DCE/RPC PDU (version 5.0 or 5.1, a
/// connection-oriented type and a little- or big-endian integer representation). `bind_only`:
/// sniffing a client on an unknown port, only a bind or alter context (which begin an
/// association's use of an interface) is taken.
pub fn starts(b: &[u8], bind_only: bool) -> bool {
    let ok_type = |t: u8| if bind_only { matches!(t, 11 | 14) } else { matches!(t, 0 | 2 | 3 | 11..=19) };
    b.first() == Some(&5)
        && b.get(1).is_none_or(|&m| m <= 1)
        && b.get(2).is_none_or(|&t| ok_type(t))
        && b.get(4).is_none_or(|&d| d & 0xef == 0)
        && (b.len() < HEADER || frame_len(b).is_ok())
}

/// The fragment length of the PDU whose first [`HEADER`] bytes are `h`.
pub fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
    if h[0] != 5 || h[1] > 1 {
        return Err(E_BAD_HEADER);
    }
    let n = usize::from(Rd { b: h, le: h[4] & 0x10 != 0 }.u16(8).unwrap_or(0));
    if n < COMMON {
        return Err(E_BAD_HEADER);
    }
    Ok(n)
}

/// Reads integers in the PDU's byte order.
#[derive(Clone, Copy)]
struct Rd<'a> {
    b: &'a [u8],
    le: bool,
}

impl Rd<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let s = self.b.get(at..at + 2)?;
        let a = [s[0], s[1]];
        Some(if self.le { u16::from_le_bytes(a) } else { u16::from_be_bytes(a) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let s = self.b.get(at..at + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    }

    /// A UUID (its first three fields in the PDU's byte order) as text.
    fn uuid(&self, at: usize) -> Option<String> {
        let d = self.b.get(at..at + 16)?;
        let (a, b, c) = (self.u32(at)?, self.u16(at + 4)?, self.u16(at + 6)?);
        Some(format!(
            "{a:08x}-{b:04x}-{c:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]
        ))
    }
}

/// Per-connection DCE/RPC state: the bound contexts and each direction's open fragmented call.
#[derive(Default)]
pub struct State {
    /// (context id, interface UUID) as bound on this connection.
    contexts: Vec<(u32, String)>,
    /// Per direction: the record of a request or response whose last fragment is still to come.
    open: [Option<Dcerpc>; 2],
}

/// The PDU `msg` (header included) read whole, or as far as it got (`cut`: why not).
pub fn message(
    p: &mut Parser,
    dir: Dir,
    msg: &[u8],
    cut: Option<&'static str>,
    ts: i64,
    cx: &Ctx<'_>,
    out: &mut Emitter<'_>,
) {
    let on = p.on[usize::from(T_DCERPC)];
    let st = &mut p.dcerpc;
    let rd = Rd { b: msg, le: msg.get(4).is_some_and(|d| d & 0x10 != 0) };
    let (ptype, flags) = (u32::from(msg.get(2).copied().unwrap_or(0)), msg.get(3).copied().unwrap_or(0));
    let call_id = rd.u32(12).unwrap_or(0);
    let frag = matches!(ptype, 0 | 2);
    // A fragment continuing the open call of this direction.
    if frag
        && flags & FIRST == 0
        && let Some(r) = st.open[dir.index()].as_mut().filter(|r| r.call_id == call_id)
    {
        r.fragments += 1;
        r.stub_length += stub_len(&rd, ptype, flags, msg.len());
        if flags & LAST != 0 || cut.is_some() {
            let r = st.open[dir.index()].take().unwrap_or_default();
            emit(on, &r, out);
        }
        if let Some(e) = cut {
            out.error(e);
        }
        return;
    }
    // Anything else ends an open call of this direction (its last fragment is missing).
    if let Some(r) = st.open[dir.index()].take() {
        emit(on, &r, out);
        out.error(E_FRAGMENT);
    }
    let mut r = Dcerpc { timestamp: ts, ..Default::default() };
    (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
    r.version_minor = u32::from(msg.get(1).copied().unwrap_or(0));
    r.packet_type = ptype;
    r.packet_type_name = type_name(ptype).into();
    r.flags = u32::from(flags);
    r.call_id = call_id;
    r.auth_length = u32::from(rd.u16(10).unwrap_or(0));
    let err = body(st, &rd, &mut r).err();
    if frag && flags & LAST == 0 && cut.is_none() && err.is_none() {
        st.open[dir.index()] = Some(r);
        return;
    }
    emit(on, &r, out);
    if let Some(e) = cut.or(err) {
        out.error(e);
    }
    if let Some(m) = auth_ntlm(&rd, ptype) {
        ntlm::message(p, m, "dcerpc", dir, ts, cx, out);
    }
}

/// The NTLMSSP message in the auth verifier of a bind, alter context, their acks or an auth3
/// (the PDU's last auth-length bytes; MS-RPCE 2.2.2.11).
fn auth_ntlm<'a>(rd: &Rd<'a>, ptype: u32) -> Option<&'a [u8]> {
    if !matches!(ptype, 11 | 12 | 14 | 15 | 16) {
        return None;
    }
    let auth = usize::from(rd.u16(10)?);
    let end = usize::from(rd.u16(8)?).min(rd.b.len());
    let value = rd.b.get(end.checked_sub(auth).filter(|_| auth > 0)?..end)?;
    ntlm::find(value)
}

fn emit(on: bool, r: &Dcerpc, out: &mut Emitter<'_>) {
    if on {
        out.record(T_DCERPC, r);
    }
}

/// Stub bytes of a request or response fragment: the fragment minus headers and auth trailer.
fn stub_len(rd: &Rd<'_>, ptype: u32, flags: u8, have: usize) -> u32 {
    let frag = usize::from(rd.u16(8).unwrap_or(0)).min(have);
    let auth = usize::from(rd.u16(10).unwrap_or(0));
    let trailer = if auth > 0 { auth + 8 } else { 0 };
    let head = COMMON + 8 + if ptype == 0 && flags & OBJECT != 0 { 16 } else { 0 };
    frag.saturating_sub(head + trailer) as u32
}

/// The type-specific fields after the common header.
fn body(st: &mut State, rd: &Rd<'_>, r: &mut Dcerpc) -> Result<(), &'static str> {
    let flags = r.flags as u8;
    match r.packet_type {
        0 | 2 | 3 => {
            r.fragments = 1;
            r.context_id = u32::from(rd.u16(20).ok_or(E_BODY)?);
            if let Some((_, u)) = st.contexts.iter().find(|(id, _)| *id == r.context_id) {
                r.interface_name = name_of(u).into();
                r.interface_uuid.clone_from(u);
            }
            match r.packet_type {
                0 => {
                    r.opnum = u32::from(rd.u16(22).ok_or(E_BODY)?);
                    if flags & OBJECT != 0 {
                        r.object_uuid = rd.uuid(24).ok_or(E_BODY)?;
                    }
                }
                3 => r.status = rd.u32(24).ok_or(E_BODY)?,
                _ => {}
            }
            r.stub_length = stub_len(rd, r.packet_type, flags, rd.b.len());
        }
        11 | 14 => bind(st, rd, r)?,
        12 | 15 => bind_ack(rd, r)?,
        13 => r.reject_reason = u32::from(rd.u16(16).ok_or(E_BODY)?),
        _ => {}
    }
    Ok(())
}

/// Bind / alter context: limits, association group and the presentation contexts.
fn bind(st: &mut State, rd: &Rd<'_>, r: &mut Dcerpc) -> Result<(), &'static str> {
    r.max_xmit_frag = u32::from(rd.u16(16).ok_or(E_BODY)?);
    r.max_recv_frag = u32::from(rd.u16(18).ok_or(E_BODY)?);
    r.assoc_group = rd.u32(20).ok_or(E_BODY)?;
    let n = *rd.b.get(24).ok_or(E_BODY)?;
    let mut at = 28;
    for _ in 0..n {
        let id = u32::from(rd.u16(at).ok_or(E_BODY)?);
        let n_syn = *rd.b.get(at + 2).ok_or(E_BODY)?;
        let uuid = rd.uuid(at + 4).ok_or(E_BODY)?;
        let (major, minor) = (rd.u16(at + 20).ok_or(E_BODY)?, rd.u16(at + 22).ok_or(E_BODY)?);
        let mut c = Context {
            context_id: id,
            interface_name: name_of(&uuid).into(),
            interface_uuid: uuid.clone(),
            interface_version: u32::from(major),
            interface_version_minor: u32::from(minor),
            transfer_syntaxes: Vec::new(),
        };
        at += 24;
        for _ in 0..n_syn {
            let s = rd.uuid(at);
            at += 20;
            match s {
                Some(s) => c.transfer_syntaxes.push(s),
                None => {
                    r.contexts.push(c);
                    return Err(E_BODY);
                }
            }
        }
        r.contexts.push(c);
        if let Some(e) = st.contexts.iter_mut().find(|(i, _)| *i == id) {
            e.1 = uuid;
        } else if st.contexts.len() < MAX_CONTEXTS {
            st.contexts.push((id, uuid));
        }
    }
    Ok(())
}

/// Bind ack / alter context response: limits, association group, secondary address, results.
fn bind_ack(rd: &Rd<'_>, r: &mut Dcerpc) -> Result<(), &'static str> {
    r.max_xmit_frag = u32::from(rd.u16(16).ok_or(E_BODY)?);
    r.max_recv_frag = u32::from(rd.u16(18).ok_or(E_BODY)?);
    r.assoc_group = rd.u32(20).ok_or(E_BODY)?;
    let len = usize::from(rd.u16(24).ok_or(E_BODY)?);
    let addr = rd.b.get(26..26 + len).ok_or(E_BODY)?;
    let text = addr.split(|&c| c == 0).next().unwrap_or_default();
    r.secondary_address = String::from_utf8_lossy(text).into_owned();
    // Aligned to 4 bytes after the address.
    let mut at = (26 + len).next_multiple_of(4);
    let n = *rd.b.get(at).ok_or(E_BODY)?;
    at += 4;
    for _ in 0..n {
        let (res, reason) = (rd.u16(at).ok_or(E_BODY)?, rd.u16(at + 2).ok_or(E_BODY)?);
        let syn = rd.uuid(at + 4).ok_or(E_BODY)?;
        r.results.push(CtxResult { result: u32::from(res), reason: u32::from(reason), transfer_syntax: syn });
        at += 24;
    }
    Ok(())
}

/// The connection ends: a call still missing its last fragment is written, with an error.
pub fn end(p: &mut Parser, out: &mut Emitter<'_>) {
    let on = p.on[usize::from(T_DCERPC)];
    for o in &mut p.dcerpc.open {
        if let Some(r) = o.take() {
            emit(on, &r, out);
            out.error(E_FRAGMENT);
        }
    }
}
