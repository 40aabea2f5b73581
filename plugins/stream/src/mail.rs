//! Messages and transferred files: [`Object`] hashes an object's bytes as they arrive (MD5,
//! SHA-1, SHA-256), keeps a bounded prefix for parsing and, when the user extracts files, sends
//! the bytes to the host as file content entries; [`Message`] turns a mail message into a `Mail`
//! record (RFC 5322 headers and MIME parts by `mail-parser`) and its attachments into `File`
//! records.
//!
//! A message larger than [`MAX_PARSE`] is hashed whole but parsed from its first
//! [`MAX_PARSE`] bytes (the Mail record is marked truncated); memory per message is bounded by
//! that, whatever the size announced or sent.

use crate::{Ctx, T_FILE, T_MAIL};
use md5::Md5;
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Most bytes of one message kept for parsing.
pub const MAX_PARSE: usize = 8 << 20;
/// Most MIME parts listed in a Mail record (and attachments turned into File records).
pub const MAX_PARTS: usize = 256;

/// File content extraction settings (from the init config).
#[derive(Debug, Clone, Copy, Default)]
pub struct Extract {
    /// Whether the user extracts files.
    pub on: bool,
    /// Bytes of one file the host keeps.
    pub max_file: u64,
}

/// One object being received: hashes, size, a kept prefix, extraction.
pub struct Object {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    /// Bytes seen.
    pub size: u64,
    /// The first bytes, at most `keep` of them.
    pub kept: Vec<u8>,
    keep: usize,
    /// File id for content entries (when extracting).
    file: Option<u64>,
    sent: u64,
    max_send: u64,
    /// Time of the first byte.
    pub ts: i64,
}

impl Object {
    /// A new object starting at `ts`, keeping up to `keep` bytes; `file` is its content entry
    /// id when the user extracts files.
    pub fn new(ts: i64, keep: usize, file: Option<u64>, ex: Extract) -> Self {
        Object {
            md5: Md5::new(),
            sha1: Sha1::new(),
            sha256: Sha256::new(),
            size: 0,
            kept: Vec::new(),
            keep,
            file: file.filter(|_| ex.on),
            sent: 0,
            max_send: ex.max_file,
            ts,
        }
    }

    /// The next bytes of the object.
    pub fn push(&mut self, b: &[u8], out: &mut Emitter<'_>) {
        self.md5.update(b);
        self.sha1.update(b);
        self.sha256.update(b);
        self.size += b.len() as u64;
        let room = self.keep.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&b[..room.min(b.len())]);
        if let Some(id) = self.file {
            let n = (self.max_send.saturating_sub(self.sent)).min(b.len() as u64) as usize;
            if n > 0 {
                out.file_data(id, &b[..n]);
                self.sent += n as u64;
            }
        }
    }

    /// Ends the object: fills the hashes into a File record and ends its content entries.
    pub fn finish(self, complete: bool, r: &mut v1::File, out: &mut Emitter<'_>) {
        let sha256: [u8; 32] = self.sha256.finalize().into();
        r.md5 = hex(&self.md5.finalize());
        r.sha1 = hex(&self.sha1.finalize());
        r.sha256 = hex(&sha256);
        r.size = self.size;
        r.complete = complete;
        if r.detected_type.is_empty() {
            r.detected_type = detect(&self.kept);
        }
        if let Some(id) = self.file {
            out.file_end(id, complete && self.sent == self.size, &sha256);
        }
    }
}

/// The MIME type the content's magic numbers show ("" when none matches).
pub fn detect(b: &[u8]) -> String {
    infer::get(b).map(|t| t.mime_type().to_string()).unwrap_or_default()
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(b"0123456789abcdef"[usize::from(x >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(x & 15)]));
    }
    s
}

/// A File record with the connection filled (sender to receiver for direction `dir`).
pub fn file_record(source: &str, dir: Dir, cx: &Ctx<'_>) -> v1::File {
    let mut r = v1::File { source: source.into(), tunnel_depth: u32::from(cx.info.tunnel_depth), ..Default::default() };
    (r.src_port, r.dst_port) = cx.endpoints(dir, &mut r.src_ip, &mut r.dst_ip);
    r
}

/// What the protocol knows of a message besides its bytes.
#[derive(Default)]
pub struct Envelope {
    pub source: &'static str,
    pub from: String,
    pub to: Vec<String>,
}

/// Ends message `obj` (sent in direction `dir`): emits its attachments' File records, the File
/// record of the whole message and the Mail record; returns the Mail id.
pub fn finish_message(
    obj: Object,
    complete: bool,
    env: Envelope,
    dir: Dir,
    cx: &Ctx<'_>,
    next_file: &mut impl FnMut() -> u64,
    out: &mut Emitter<'_>,
) -> String {
    let env_source = env.source;
    let mut m = v1::Mail {
        timestamp: obj.ts,
        source: env.source.into(),
        envelope_from: env.from,
        envelope_to: env.to,
        tunnel_depth: u32::from(cx.info.tunnel_depth),
        ..Default::default()
    };
    (m.src_port, m.dst_port) = cx.endpoints(dir, &mut m.src_ip, &mut m.dst_ip);
    let parsed_all = obj.size as usize == obj.kept.len();
    m.truncated = !complete || !parsed_all;
    let mut files = Vec::new();
    if cx.enabled.mail || cx.enabled.file {
        parse(&obj.kept, &mut m, &mut files);
    }
    let ts = obj.ts;
    let mut whole = file_record(env.source, dir, cx);
    whole.timestamp = ts;
    whole.content_type = "message/rfc822".into();
    // Messages have no magic number: the detected type is the announced one when it parses.
    obj.finish(complete, &mut whole, out);
    m.id = whole.sha256.clone();
    m.size = whole.size;
    whole.name = format!("{}.eml", m.id);
    for (part, content) in files {
        let Some(part) = m.parts.get_mut(part) else { continue };
        let mut f = file_record(&format!("{}-attachment", env_source), dir, cx);
        f.timestamp = ts;
        f.name = part.name.clone();
        f.content_type = part.content_type.clone();
        f.detected_type = detect(content.as_slice());
        f.mail_id = m.id.clone();
        let id = next_file();
        let mut o = Object::new(ts, 0, Some(id), extract_of(cx));
        o.push(&content, out);
        // A part of a cut message may be cut too; only a whole message's parts are complete.
        o.finish(!m.truncated, &mut f, out);
        part.file_sha256 = f.sha256.clone();
        if cx.enabled.file {
            out.record(T_FILE, &f);
        }
    }
    if cx.enabled.file {
        out.record(T_FILE, &whole);
    }
    let id = m.id.clone();
    if cx.enabled.mail {
        out.record(T_MAIL, &m);
    }
    id
}

fn extract_of(cx: &Ctx<'_>) -> Extract {
    cx.enabled.extract
}

/// Fills the headers and parts of `m` from the message bytes `b`; `files` receives (index in
/// `m.parts`, decoded content) of each attachment.
fn parse(b: &[u8], m: &mut v1::Mail, files: &mut Vec<(usize, Vec<u8>)>) {
    use mail_parser::{MessageParser, MimeHeaders, PartType};
    let Some(msg) = MessageParser::default().parse(b) else { return };
    let addrs = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| a.iter().map(addr).collect()).unwrap_or_default()
    };
    m.from = addrs(msg.from()).into_iter().next().unwrap_or_default();
    m.to = addrs(msg.to());
    m.cc = addrs(msg.cc());
    m.subject = msg.subject().unwrap_or_default().to_string();
    m.date = msg.header_raw("Date").map(|d| d.trim().to_string()).unwrap_or_default();
    m.message_id = msg.message_id().unwrap_or_default().to_string();
    m.in_reply_to = text_list(msg.in_reply_to()).into_iter().next().unwrap_or_default();
    m.references = text_list(msg.references());
    m.user_agent = msg
        .header_raw("X-Mailer")
        .or_else(|| msg.header_raw("User-Agent"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    m.received = msg
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Received"))
        .filter_map(|h| b.get(h.offset_start() as usize..h.offset_end() as usize))
        .map(|v| unfold(&String::from_utf8_lossy(v)))
        .collect();
    m.content_type = ctype(msg.root_part().content_type());
    let multipart = msg.root_part().is_multipart();
    for p in &msg.parts {
        let content: &[u8] = match &p.body {
            PartType::Multipart(_) => continue,
            PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
            PartType::Binary(c) | PartType::InlineBinary(c) => c,
            // The line end before the next boundary belongs to the boundary (RFC 2046 5.1.1).
            PartType::Message(sub) if multipart => {
                let raw = sub.raw_message();
                raw.strip_suffix(b"\r\n").or(raw.strip_suffix(b"\n")).unwrap_or(raw)
            }
            PartType::Message(sub) => sub.raw_message(),
        };
        if m.parts.len() >= MAX_PARTS {
            break;
        }
        let disposition = p.content_disposition().map(|d| d.ctype().to_ascii_lowercase()).unwrap_or_default();
        let name = p.attachment_name().unwrap_or_default().to_string();
        let part = v1::MailPart {
            content_type: ctype(p.content_type()),
            name,
            disposition,
            size: content.len() as u64,
            transfer_encoding: p.content_transfer_encoding().unwrap_or_default().to_ascii_lowercase(),
            file_sha256: String::new(),
        };
        let attachment = part.disposition == "attachment"
            || !part.name.is_empty()
            || matches!(p.body, PartType::Binary(_) | PartType::Message(_));
        if attachment {
            files.push((m.parts.len(), content.to_vec()));
        }
        m.parts.push(part);
    }
}

fn addr(a: &mail_parser::Addr<'_>) -> String {
    match (a.name(), a.address()) {
        (Some(n), Some(x)) => format!("{n} <{x}>"),
        (None, Some(x)) => x.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => String::new(),
    }
}

fn text_list(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    if let Some(l) = v.as_text_list() {
        l.iter().map(|s| s.to_string()).collect()
    } else if let Some(t) = v.as_text() {
        vec![t.to_string()]
    } else {
        Vec::new()
    }
}

fn ctype(c: Option<&mail_parser::ContentType<'_>>) -> String {
    match c {
        None => "text/plain".into(),
        Some(c) => match c.subtype() {
            Some(s) => format!("{}/{}", c.ctype(), s).to_ascii_lowercase(),
            None => c.ctype().to_ascii_lowercase(),
        },
    }
}

/// A folded header value on one line (CR LF and the folding white space become one space).
fn unfold(v: &str) -> String {
    v.split(['\r', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}
