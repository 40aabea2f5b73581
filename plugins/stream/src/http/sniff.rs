//! Content sniffing of HTTP bodies: the media type a body's first bytes show, by the WHATWG MIME
//! sniffing algorithm as Go's `http.DetectContentType` implements it (netcap used that function),
//! with the same signatures, order and result strings.

/// Bytes of the body that are looked at.
pub const LEN: usize = 512;

/// The media type of a body that starts with `data` (at most [`LEN`] bytes are used).
pub fn detect(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(LEN)];
    let ws = data.iter().take_while(|&&c| is_ws(c)).count();
    let trimmed = &data[ws..];
    for tag in HTML {
        if html_match(trimmed, tag) {
            return "text/html; charset=utf-8";
        }
    }
    if starts_ci(trimmed, b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    for (sig, ty) in EXACT_START {
        if data.starts_with(sig) {
            return ty;
        }
    }
    for (mask, pat, skip_ws, ty) in MASKED {
        let d = if skip_ws { trimmed } else { data };
        if d.len() >= pat.len() && d.iter().zip(mask.iter()).zip(pat.iter()).all(|((&b, &m), &p)| b & m == p) {
            return ty;
        }
    }
    if is_mp4(data) {
        return "video/mp4";
    }
    if !data.iter().any(|&c| is_binary(c)) {
        return "text/plain; charset=utf-8";
    }
    "application/octet-stream"
}

fn is_ws(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

fn is_binary(c: u8) -> bool {
    matches!(c, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f)
}

fn starts_ci(d: &[u8], p: &[u8]) -> bool {
    d.len() >= p.len() && d[..p.len()].eq_ignore_ascii_case(p)
}

/// An HTML tag signature: the tag (case-insensitive) followed by a space or '>'.
fn html_match(d: &[u8], tag: &[u8]) -> bool {
    starts_ci(d, tag) && matches!(d.get(tag.len()), Some(b' ' | b'>'))
}

const HTML: [&[u8]; 17] = [
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
];

const EXACT_START: [(&[u8], &str); 26] = [
    (b"%PDF-", "application/pdf"),
    (b"%!PS-Adobe-", "application/postscript"),
    (b"\xFE\xFF", "text/plain; charset=utf-16be"),
    (b"\xFF\xFE", "text/plain; charset=utf-16le"),
    (b"\xEF\xBB\xBF", "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    (b"\xFF\xD8\xFF", "image/jpeg"),
    (b"ID3", "audio/mpeg"),
    (b"OggS\x00", "application/ogg"),
    (b"MThd\x00\x00\x00\x06", "audio/midi"),
    (b"\x1A\x45\xDF\xA3", "video/webm"),
    (b"\x00\x01\x00\x00", "font/ttf"),
    (b"OTTO", "font/otf"),
    (b"ttcf", "font/collection"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
    (b"\x1F\x8B\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    (b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    (b"\x00\x61\x73\x6D", "application/wasm"),
];

/// (mask, pattern, skip leading white space, type).
type Masked = (&'static [u8], &'static [u8], bool, &'static str);

const MASKED: [Masked; 5] = [
    (b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF", b"RIFF\x00\x00\x00\x00WEBPVP", false, "image/webp"),
    (b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", b"FORM\x00\x00\x00\x00AIFF", false, "audio/aiff"),
    (b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", b"RIFF\x00\x00\x00\x00AVI ", false, "video/avi"),
    (b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", b"RIFF\x00\x00\x00\x00WAVE", false, "audio/wave"),
    (
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xFF\xFF",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00LP",
        false,
        "application/vnd.ms-fontobject",
    ),
];

/// The MP4 signature (WHATWG 6.2.1): an `ftyp` box whose brands include "mp4".
fn is_mp4(d: &[u8]) -> bool {
    if d.len() < 12 {
        return false;
    }
    let size = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize;
    if d.len() < size || !size.is_multiple_of(4) || &d[4..8] != b"ftyp" {
        return false;
    }
    let mut i = 8;
    while i + 3 <= size {
        if i != 12 && &d[i..i + 3] == b"mp4" {
            return true;
        }
        i += 4;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::detect;

    /// Cases from the WHATWG MIME sniffing standard's signature table (section 7.1 and 6).
    #[test]
    fn signatures() {
        let cases: [(&[u8], &str); 14] = [
            (b"", "text/plain; charset=utf-8"),
            (b"Hello world", "text/plain; charset=utf-8"),
            (b"\x01\x02binary", "application/octet-stream"),
            (b"  \n<html><body>", "text/html; charset=utf-8"),
            (b"<HTML>", "text/html; charset=utf-8"),
            (b"<htmlx>", "text/plain; charset=utf-8"),
            (b"<!-- c -->", "text/html; charset=utf-8"),
            (b"<?xml version", "text/xml; charset=utf-8"),
            (b"%PDF-1.4", "application/pdf"),
            (b"GIF89a\x01\x00", "image/gif"),
            (b"\x89PNG\r\n\x1a\n\0\0", "image/png"),
            (b"\xff\xd8\xff\xe0", "image/jpeg"),
            (b"\x1f\x8b\x08\x00", "application/x-gzip"),
            (b"RIFF\x10\0\0\0WEBPVP8 ", "image/webp"),
        ];
        for (data, want) in cases {
            assert_eq!(detect(data), want, "{data:?}");
        }
        let mut mp4 = vec![0, 0, 0, 0x18];
        mp4.extend_from_slice(b"ftypmp42\0\0\0\0mp42isom");
        assert_eq!(detect(&mp4), "video/mp4");
    }
}
