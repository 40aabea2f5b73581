//! OPC UA binary (OPC UA Part 6, UA Connection Protocol and UA Secure Conversation over TCP port
//! 4840): one `OPCUA` record per message chunk. Every chunk starts with a message type (`HEL`,
//! `ACK`, `ERR`, `RHE`, `OPN`, `MSG`, `CLO`), a chunk type (`F`, `C`, `A`) and its size
//! (little-endian, header included). Hello and Acknowledge carry the protocol version, buffer
//! sizes and limits (Hello the endpoint URL); Error a status code and reason. Secure
//! conversation chunks carry the secure channel id, then OPN an asymmetric security header
//! (security policy URI, certificate, thumbprint) and MSG/CLO a token id, then the sequence
//! header and the body, whose first field is the node id of the body's binary encoding (the
//! service). Once a connection's OpenSecureChannel names a policy other than None, its chunks'
//! sequence headers and bodies are encrypted (or signed; which one, only the encrypted request
//! says): they are marked `encrypted` and not read.

use crate::{Ctx, Framing, T_OPCUA, set};
use netcap_proto::v1::Opcua;
use netcap_sdk::{Dir, Emitter};

/// Error kinds.
pub const E_BAD_HEADER: &str = "opcua: bad message header";
pub const E_TRUNCATED: &str = "opcua: message truncated";
pub const E_GAP: &str = "opcua: gap in stream";

/// Bytes of a chunk kept for parsing: the headers and the start of the body (an
/// OpenSecureChannel with policy None has no certificate); the rest of a chunk is skipped.
pub const KEEP: usize = 8192;

const TYPES: [&[u8; 3]; 7] = [b"HEL", b"ACK", b"ERR", b"RHE", b"OPN", b"MSG", b"CLO"];
const POLICY_NONE: &str = "http://opcfoundation.org/UA/SecurityPolicy#None";

/// Per-connection state.
#[derive(Default)]
pub struct Conn {
    rec: Opcua,
    /// The connection's OpenSecureChannel named a policy other than None.
    secured: bool,
}

/// Whether `b` (a connection's first bytes) can start a message chunk.
pub fn starts(b: &[u8]) -> bool {
    TYPES.iter().any(|t| b.len() >= 3 && b[..3] == t[..] || b.len() < 3 && t.starts_with(b))
}

impl Framing for Conn {
    const HEADER: usize = 8;
    const TRUNCATED: &'static str = E_TRUNCATED;
    const GAP: &'static str = E_GAP;
    const KEEP: usize = KEEP;

    fn frame_len(h: &[u8]) -> Result<usize, &'static str> {
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let known = TYPES.iter().any(|t| h[..3] == t[..]);
        if !known || !matches!(h[3], b'F' | b'C' | b'A') || size < 8 { Err(E_BAD_HEADER) } else { Ok(size) }
    }

    fn message(
        &mut self,
        dir: Dir,
        msg: &[u8],
        cut: Option<&'static str>,
        ts: i64,
        cx: &Ctx<'_>,
        out: &mut Emitter<'_>,
    ) {
        let r = &mut self.rec;
        prost::Message::clear(r);
        let err = parse(msg, r, &mut self.secured).err();
        r.timestamp = ts;
        (r.src_port, r.dst_port, r.tunnel_depth) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
        out.record(T_OPCUA, r);
        if let Some(k) = cut.or(err) {
            out.error(k);
        }
    }
}

/// A little-endian reader over a chunk; every read past the end is [`E_TRUNCATED`].
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let (a, b) = (self.0.get(..n).ok_or(E_TRUNCATED)?, &self.0[n.min(self.0.len())..]);
        self.0 = b;
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A String or ByteString: i32 length (-1 null), bytes.
    fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let n = self.u32()? as i32;
        if n <= 0 { Ok(&[]) } else { self.take(n as usize) }
    }

    /// A String into `s` (its buffer reused; invalid UTF-8 replaced).
    fn string(&mut self, s: &mut String) -> Result<(), &'static str> {
        set(s, &String::from_utf8_lossy(self.bytes()?));
        Ok(())
    }

    /// A NodeId: (namespace, numeric id) for the numeric encodings, `None` for the others
    /// (string, GUID, opaque), which are stepped over.
    fn node_id(&mut self) -> Result<Option<(u32, u32)>, &'static str> {
        let enc = self.u8()?;
        Ok(match enc & 0x3f {
            0 => Some((0, u32::from(self.u8()?))),
            1 => Some((u32::from(self.u8()?), u32::from(self.u16()?))),
            2 => Some((u32::from(self.u16()?), self.u32()?)),
            3 | 5 => {
                self.u16()?;
                self.bytes()?;
                None
            }
            4 => {
                self.take(18)?;
                None
            }
            _ => return Err(E_TRUNCATED),
        })
    }
}

/// Parses one chunk into `r`; `secured` is the connection's: set by an OpenSecureChannel with
/// a policy other than None.
pub fn parse(msg: &[u8], r: &mut Opcua, secured: &mut bool) -> Result<(), &'static str> {
    let mut rd = Rd(msg);
    let h = rd.take(8)?;
    set(&mut r.message_type, &String::from_utf8_lossy(&h[..3]));
    r.chunk_type.clear();
    r.chunk_type.push(char::from(h[3]));
    r.message_size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    rd.0 = &msg[..(r.message_size as usize).clamp(8, msg.len())][8..];
    match &h[..3] {
        b"HEL" | b"ACK" => {
            r.protocol_version = rd.u32()?;
            r.receive_buffer_size = rd.u32()?;
            r.send_buffer_size = rd.u32()?;
            r.max_message_size = rd.u32()?;
            r.max_chunk_count = rd.u32()?;
            if &h[..3] == b"HEL" {
                rd.string(&mut r.endpoint_url)?;
            }
        }
        b"ERR" => {
            r.error = rd.u32()?;
            rd.string(&mut r.reason)?;
        }
        b"RHE" => {
            rd.bytes()?;
            rd.string(&mut r.endpoint_url)?;
        }
        b"OPN" => {
            r.secure_channel_id = rd.u32()?;
            rd.string(&mut r.security_policy_uri)?;
            if r.security_policy_uri != POLICY_NONE {
                *secured = true;
                r.encrypted = true;
                return Ok(());
            }
            rd.bytes()?;
            rd.bytes()?;
            body(&mut rd, r)?;
        }
        _ => {
            r.secure_channel_id = rd.u32()?;
            r.token_id = rd.u32()?;
            if *secured {
                r.encrypted = true;
                return Ok(());
            }
            body(&mut rd, r)?;
        }
    }
    Ok(())
}

/// Sequence header and the body's type (an abort chunk's body is an error, not a service).
fn body(rd: &mut Rd<'_>, r: &mut Opcua) -> Result<(), &'static str> {
    r.sequence_number = rd.u32()?;
    r.request_id = rd.u32()?;
    if r.chunk_type == "A" {
        return Ok(());
    }
    if let Some((ns, id)) = rd.node_id()? {
        (r.service_namespace, r.service_node_id) = (ns, id);
        if ns == 0 {
            set(&mut r.service, service_name(id));
        }
        if (ns, id) == (0, OPEN_SECURE_CHANNEL_REQUEST) && r.chunk_type == "F" {
            r.security_mode = open_request_mode(rd)?;
        }
    }
    Ok(())
}

const OPEN_SECURE_CHANNEL_REQUEST: u32 = 446;

/// The security mode of an OpenSecureChannelRequest: after the request header, the client
/// protocol version and the request type.
fn open_request_mode(rd: &mut Rd<'_>) -> Result<u32, &'static str> {
    // RequestHeader: authentication token, timestamp, request handle, return diagnostics,
    // audit entry id, timeout hint, additional header (an extension object).
    rd.node_id()?;
    rd.take(8 + 4 + 4)?;
    rd.bytes()?;
    rd.u32()?;
    rd.node_id()?;
    if rd.u8()? & 3 != 0 {
        rd.bytes()?;
    }
    rd.u32()?;
    rd.u32()?;
    rd.u32()
}

/// The service of a binary encoding node id of namespace 0 (OPC UA Part 4 services, node ids
/// of Part 6's NodeIds.csv), empty when not in this list.
pub fn service_name(id: u32) -> &'static str {
    match id {
        397 => "ServiceFault",
        422 => "FindServersRequest",
        425 => "FindServersResponse",
        428 => "GetEndpointsRequest",
        431 => "GetEndpointsResponse",
        446 => "OpenSecureChannelRequest",
        449 => "OpenSecureChannelResponse",
        452 => "CloseSecureChannelRequest",
        455 => "CloseSecureChannelResponse",
        461 => "CreateSessionRequest",
        464 => "CreateSessionResponse",
        467 => "ActivateSessionRequest",
        470 => "ActivateSessionResponse",
        473 => "CloseSessionRequest",
        476 => "CloseSessionResponse",
        488 => "AddNodesRequest",
        491 => "AddNodesResponse",
        527 => "BrowseRequest",
        530 => "BrowseResponse",
        533 => "BrowseNextRequest",
        536 => "BrowseNextResponse",
        554 => "TranslateBrowsePathsToNodeIdsRequest",
        557 => "TranslateBrowsePathsToNodeIdsResponse",
        631 => "ReadRequest",
        634 => "ReadResponse",
        664 => "HistoryReadRequest",
        667 => "HistoryReadResponse",
        673 => "WriteRequest",
        676 => "WriteResponse",
        712 => "CallRequest",
        715 => "CallResponse",
        751 => "CreateMonitoredItemsRequest",
        754 => "CreateMonitoredItemsResponse",
        781 => "DeleteMonitoredItemsRequest",
        784 => "DeleteMonitoredItemsResponse",
        787 => "CreateSubscriptionRequest",
        790 => "CreateSubscriptionResponse",
        826 => "PublishRequest",
        829 => "PublishResponse",
        847 => "DeleteSubscriptionsRequest",
        850 => "DeleteSubscriptionsResponse",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(ty: &[u8; 3], body: &[u8]) -> Vec<u8> {
        let mut v = ty.to_vec();
        v.push(b'F');
        v.extend(((8 + body.len()) as u32).to_le_bytes());
        v.extend(body);
        v
    }

    fn string(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u32).to_le_bytes().to_vec();
        v.extend(s.as_bytes());
        v
    }

    #[test]
    fn hello_and_open_secure_channel() {
        let mut b = Vec::new();
        for x in [0u32, 65536, 65536, 0, 0] {
            b.extend(x.to_le_bytes());
        }
        b.extend(string("opc.tcp://localhost:4840"));
        let (mut r, mut sec) = (Opcua::default(), false);
        assert_eq!(parse(&chunk(b"HEL", &b), &mut r, &mut sec), Ok(()));
        assert_eq!((r.message_type.as_str(), r.chunk_type.as_str(), r.message_size), ("HEL", "F", 56));
        assert_eq!((r.receive_buffer_size, r.endpoint_url.as_str()), (65536, "opc.tcp://localhost:4840"));
        // OPN request, policy None: no certificate or thumbprint (null), sequence 1, request 1,
        // OpenSecureChannelRequest (four-byte node id 446), request header with a null
        // token, protocol version 0, request type 0 (issue), security mode 1 (None).
        let mut b = 0u32.to_le_bytes().to_vec();
        b.extend(string(POLICY_NONE));
        b.extend([0xff; 8]);
        b.extend([1, 0, 0, 0, 1, 0, 0, 0]);
        b.extend([0x01, 0x00, 0xbe, 0x01]);
        b.extend([0x00, 0x00]);
        b.extend([0; 16]);
        b.extend([0xff; 4]);
        b.extend(10000u32.to_le_bytes());
        b.extend([0x00, 0x00, 0x00]);
        b.extend([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        let (mut r, mut sec) = (Opcua::default(), false);
        assert_eq!(parse(&chunk(b"OPN", &b), &mut r, &mut sec), Ok(()));
        assert_eq!((r.service_node_id, r.service.as_str(), r.security_mode), (446, "OpenSecureChannelRequest", 1));
        assert!(!sec && !r.encrypted);
        for cut in 8..b.len() + 8 {
            let mut r = Opcua::default();
            let _ = parse(&chunk(b"OPN", &b)[..cut], &mut r, &mut sec);
        }
    }

    #[test]
    fn a_secured_channel_is_not_read() {
        let mut b = 7u32.to_le_bytes().to_vec();
        b.extend(string("http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"));
        b.extend([0x55; 40]);
        let (mut r, mut sec) = (Opcua::default(), false);
        assert_eq!(parse(&chunk(b"OPN", &b), &mut r, &mut sec), Ok(()));
        assert!(sec && r.encrypted);
        let (mut r2, _) = (Opcua::default(), ());
        assert_eq!(parse(&chunk(b"MSG", &[7, 0, 0, 0, 1, 0, 0, 0, 0x99, 0x99]), &mut r2, &mut sec), Ok(()));
        assert!(r2.encrypted && r2.sequence_number == 0 && r2.token_id == 1);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x0bad_cafe_f00d_d00d;
        for i in 0..20_000 {
            let ty = TYPES[i % TYPES.len()];
            let mut b = Vec::new();
            for _ in 0..(x % 80) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(if x.is_multiple_of(5) { 0xff } else { x as u8 });
            }
            let (mut r, mut sec) = (Opcua::default(), i % 3 == 0);
            let _ = parse(&chunk(ty, &b), &mut r, &mut sec);
        }
    }
}
