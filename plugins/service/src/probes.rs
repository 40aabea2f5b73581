//! nmap's `nmap-service-probes` (the format of nmap's "Service and Application Version
//! Detection" chapter): probes, their `ports`/`sslports` hints, and their `match`/`softmatch`
//! lines with version info (`p/../ v/../ i/../ h/../ o/../ d/../ cpe:/../`) and `$1`-style
//! substitutions (`$P(n)`, `$SUBST(n,"a","b")` and `$I(n,">")` too).
//!
//! Patterns are PCRE. They are translated to the `regex` crate's byte syntax (Unicode off, so
//! `\xff` is a byte, `.` a byte, `\w` ASCII) with PCRE's meaning kept where the syntaxes differ:
//! `$` and `\Z` also match before a final newline, `\0` and octal escapes are bytes, a `{` that
//! starts no repetition and a `[` inside a class are literals. What the linear-time engine cannot
//! do (backreferences, lookaround, atomic groups, possessive quantifiers) makes the pattern
//! unsupported, except nmap's common "header lines" idiom, rewritten without its lookahead
//! ([`HEADER_LINES`]). Otherwise such a pattern is unsupported: [`Probes::unsupported`] lists those lines. Regexes are compiled on first use,
//! after a cheap check of the anchored literal prefix most patterns start with.

use regex::bytes::{Regex, RegexBuilder};
use std::cell::OnceCell;

/// One `match` or `softmatch` line.
#[derive(Debug)]
pub struct MatchLine {
    /// Line number in the file (1-based).
    pub line: usize,
    pub service: String,
    /// The pattern as written.
    pub pattern: Vec<u8>,
    pub soft: bool,
    pub case_insensitive: bool,
    pub dot_all: bool,
    /// Version info templates: p, v, i, h, o, d.
    pub fields: [Option<Vec<u8>>; 6],
    pub cpes: Vec<Vec<u8>>,
    /// The translated pattern, or why it cannot be.
    translated: Result<String, String>,
    /// Literal bytes every match starts with (anchored patterns).
    prefix: Vec<u8>,
    /// Literal strings (3 bytes or more) every match contains.
    required: Vec<Vec<u8>>,
    re: OnceCell<Option<Regex>>,
}

/// One `Probe` with its hints and lines.
#[derive(Debug)]
pub struct Probe {
    pub transport: String,
    pub name: String,
    /// The probe's request bytes (`q|...|`, escapes decoded).
    pub payload: Vec<u8>,
    pub ports: Vec<(u16, u16)>,
    pub sslports: Vec<(u16, u16)>,
    pub lines: Vec<MatchLine>,
}

/// A parsed probes file.
#[derive(Debug, Default)]
pub struct Probes {
    pub probes: Vec<Probe>,
}

/// What a match line gives, substitutions done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub service: String,
    pub probe: String,
    pub soft: bool,
    pub line: usize,
    /// p, v, i, h, o, d.
    pub fields: [String; 6],
    pub cpes: Vec<String>,
}

/// Field letters in [`MatchLine::fields`] order.
const FIELD_LETTERS: &[u8; 6] = b"pvihod";

fn port_list(s: &str) -> Vec<(u16, u16)> {
    s.split(',')
        .filter_map(|p| {
            let p = p.trim();
            match p.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => p.parse().ok().map(|n| (n, n)),
            }
        })
        .collect()
}

/// Splits `s` (starting at a delimiter) at the next delimiter: (inside, rest after it).
fn delimited(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&d, rest) = s.split_first()?;
    let end = rest.iter().position(|&c| c == d)?;
    Some((&rest[..end], &rest[end + 1..]))
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &s[n..]
}

/// Decodes a probe payload's C-style escapes (`\r \n \t \0 \xHH \\` and others).
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            let c = s[i + 1];
            i += 2;
            match c {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'a' => out.push(7),
                b'f' => out.push(12),
                b'v' => out.push(11),
                b'x' if i + 2 <= s.len() => {
                    if let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&s[i..i + 2]), 16) {
                        out.push(v);
                        i += 2;
                    }
                }
                other => out.push(other),
            }
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Parses the part of a match line after the service name.
fn parse_match(line_no: usize, service: &str, rest: &[u8], soft: bool) -> Option<MatchLine> {
    let rest = rest.strip_prefix(b"m")?;
    let (pattern, mut rest) = delimited(rest)?;
    let mut ci = false;
    let mut dot_all = false;
    while let Some((&c, r)) = rest.split_first() {
        match c {
            b'i' => ci = true,
            b's' => dot_all = true,
            _ => break,
        }
        rest = r;
    }
    let mut fields: [Option<Vec<u8>>; 6] = Default::default();
    let mut cpes = Vec::new();
    loop {
        rest = trim_start(rest);
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix(b"cpe:") {
            let (v, r) = delimited(r)?;
            cpes.push(v.to_vec());
            rest = r.strip_prefix(b"a").unwrap_or(r);
            continue;
        }
        let (&letter, r) = rest.split_first()?;
        let (v, r) = delimited(r)?;
        if let Some(k) = FIELD_LETTERS.iter().position(|&l| l == letter) {
            fields[k] = Some(v.to_vec());
        }
        rest = r;
    }
    let translated = translate(pattern);
    let prefix = if translated.is_ok() { anchored_prefix(pattern) } else { Vec::new() };
    let required = if translated.is_ok() { required_literals(pattern) } else { Vec::new() };
    Some(MatchLine {
        line: line_no,
        service: service.to_string(),
        pattern: pattern.to_vec(),
        soft,
        case_insensitive: ci,
        dot_all,
        fields,
        cpes,
        translated,
        prefix,
        required,
        re: OnceCell::new(),
    })
}

impl Probes {
    /// Parses a probes file; returns it and the number of lines it could not read.
    pub fn parse(text: &[u8]) -> (Self, usize) {
        let mut p = Probes::default();
        let mut bad = 0;
        for (i, line) in text.split(|&c| c == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let text = String::from_utf8_lossy(line);
            let (word, rest) = text.split_once(' ').unwrap_or((&text, ""));
            let rest_bytes = &line[word.len().min(line.len())..];
            let rest_bytes = trim_start(rest_bytes);
            match word {
                "Probe" => {
                    let mut it = rest.splitn(3, ' ');
                    let (Some(t), Some(n)) = (it.next(), it.next()) else {
                        bad += 1;
                        continue;
                    };
                    let q = it.next().unwrap_or("");
                    let payload = q.strip_prefix('q').and_then(|q| delimited(q.as_bytes())).map(|(v, _)| unescape(v));
                    p.probes.push(Probe {
                        transport: t.to_string(),
                        name: n.to_string(),
                        payload: payload.unwrap_or_default(),
                        ports: Vec::new(),
                        sslports: Vec::new(),
                        lines: Vec::new(),
                    });
                }
                "ports" | "sslports" => {
                    if let Some(pr) = p.probes.last_mut() {
                        let list = port_list(rest);
                        if word == "ports" { pr.ports = list } else { pr.sslports = list }
                    }
                }
                "match" | "softmatch" => {
                    let sp = rest_bytes.iter().position(|&c| c == b' ').unwrap_or(rest_bytes.len());
                    let service = String::from_utf8_lossy(&rest_bytes[..sp]).into_owned();
                    let after = trim_start(&rest_bytes[sp..]);
                    match (p.probes.last_mut(), parse_match(i + 1, &service, after, word == "softmatch")) {
                        (Some(pr), Some(m)) => pr.lines.push(m),
                        _ => bad += 1,
                    }
                }
                _ => {}
            }
        }
        (p, bad)
    }

    /// Match lines whose pattern the engine cannot take: (line, pattern, why), in file order.
    pub fn unsupported(&self) -> Vec<(usize, String, String)> {
        let mut v = Vec::new();
        for pr in &self.probes {
            for m in &pr.lines {
                if m.regex().is_none() {
                    let why = match &m.translated {
                        Err(e) => e.clone(),
                        Ok(_) => "the regex crate refuses it".into(),
                    };
                    v.push((m.line, String::from_utf8_lossy(&m.pattern).into_owned(), why));
                }
            }
        }
        v
    }

    /// Number of match lines whose pattern cannot be translated (cheap: known at parse time).
    pub fn untranslatable(&self) -> usize {
        self.probes.iter().flat_map(|p| &p.lines).filter(|m| m.translated.is_err()).count()
    }

    /// Number of translated patterns the regex crate refused, among those compiled so far.
    pub fn refused(&self) -> usize {
        self.probes
            .iter()
            .flat_map(|p| &p.lines)
            .filter(|m| m.translated.is_ok() && matches!(m.re.get(), Some(None)))
            .count()
    }

    /// Marks the refused patterns as counted (they are not compiled again: no match).
    pub fn forget_refused(&mut self) {
        for m in self.probes.iter_mut().flat_map(|p| &mut p.lines) {
            if m.translated.is_ok() && matches!(m.re.get(), Some(None)) {
                m.translated = Err("the regex crate refuses it".into());
            }
        }
    }

    /// Number of match and softmatch lines.
    pub fn lines(&self) -> usize {
        self.probes.iter().map(|p| p.lines.len()).sum()
    }

    /// The probes to try for a banner, in order: for a banner the server sent first, the NULL
    /// probe; then the probes of `transport` whose `ports` or `sslports` name `port`; then the
    /// other probes of `transport`, in file order.
    pub fn order(&self, transport: &str, port: u16, server_first: bool) -> Vec<usize> {
        let of_transport: Vec<usize> =
            (0..self.probes.len()).filter(|&i| self.probes[i].transport.eq_ignore_ascii_case(transport)).collect();
        let has = |l: &[(u16, u16)]| l.iter().any(|&(a, b)| a <= port && port <= b);
        let mut order: Vec<usize> = Vec::with_capacity(of_transport.len());
        if server_first {
            order.extend(of_transport.iter().copied().filter(|&i| self.probes[i].payload.is_empty()));
        }
        for &i in &of_transport {
            let p = &self.probes[i];
            if !order.contains(&i) && (has(&p.ports) || has(&p.sslports)) {
                order.push(i);
            }
        }
        for &i in &of_transport {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        order
    }

    /// The first `match` line that matches `banner` in probe order (see [`Probes::order`]), else
    /// the first `softmatch` line that does.
    pub fn identify(&self, transport: &str, port: u16, server_first: bool, banner: &[u8]) -> Option<Found> {
        let mut soft: Option<Found> = None;
        for i in self.order(transport, port, server_first) {
            let pr = &self.probes[i];
            for m in &pr.lines {
                if m.soft && soft.is_some() {
                    continue;
                }
                let Some(caps) = m.captures(banner) else { continue };
                let found = m.found(&pr.name, &caps);
                if !m.soft {
                    return Some(found);
                }
                soft = Some(found);
            }
        }
        soft
    }
}

impl MatchLine {
    fn regex(&self) -> Option<&Regex> {
        self.re
            .get_or_init(|| {
                let t = self.translated.as_ref().ok()?;
                RegexBuilder::new(t)
                    .unicode(false)
                    .case_insensitive(self.case_insensitive)
                    .dot_matches_new_line(self.dot_all)
                    .size_limit(16 << 20)
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Whether `banner` starts with the prefix and contains the required literals (cheap checks
    /// before the regex is compiled or run).
    fn prefix_ok(&self, banner: &[u8]) -> bool {
        let n = self.prefix.len();
        let ci = self.case_insensitive || self.pattern.windows(3).any(|w| w == b"(?i");
        let eq = |a: &[u8], b: &[u8]| if ci { a.eq_ignore_ascii_case(b) } else { a == b };
        banner.len() >= n
            && eq(&banner[..n], &self.prefix)
            && self.required.iter().all(|lit| banner.windows(lit.len()).any(|w| eq(w, lit)))
    }

    fn captures<'h>(&self, banner: &'h [u8]) -> Option<regex::bytes::Captures<'h>> {
        if self.translated.is_err() || !self.prefix_ok(banner) {
            return None;
        }
        self.regex()?.captures(banner)
    }

    fn found(&self, probe: &str, caps: &regex::bytes::Captures<'_>) -> Found {
        let mut f = Found {
            service: self.service.clone(),
            probe: probe.to_string(),
            soft: self.soft,
            line: self.line,
            ..Found::default()
        };
        for (k, t) in self.fields.iter().enumerate() {
            if let Some(t) = t {
                f.fields[k] = substitute(t, caps);
            }
        }
        f.cpes = self.cpes.iter().map(|c| format!("cpe:/{}", substitute(c, caps))).collect();
        f
    }
}

/// Group `n` of the match ("" when it did not take part).
fn group<'h>(caps: &regex::bytes::Captures<'h>, n: usize) -> &'h [u8] {
    caps.get(n).map_or(&[][..], |m| m.as_bytes())
}

/// A template with `$1`..`$9`, `$P(n)` (printable characters only), `$SUBST(n,"a","b")` and
/// `$I(n,">")`/`$I(n,"<")` (an unsigned big/little endian integer) replaced.
pub fn substitute(t: &[u8], caps: &regex::bytes::Captures<'_>) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if t[i] != b'$' {
            out.push(t[i]);
            i += 1;
            continue;
        }
        let rest = &t[i + 1..];
        if let Some(&d) = rest.first().filter(|d| d.is_ascii_digit()) {
            out.extend_from_slice(group(caps, usize::from(d - b'0')));
            i += 2;
        } else if let Some((name, args, used)) = helper(rest) {
            let n = args.first().and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
            let g = group(caps, n);
            match name {
                "P" => out.extend(g.iter().copied().filter(|&c| (0x20..0x7f).contains(&c))),
                "SUBST" if args.len() == 3 => {
                    let (a, b) = (args[1].as_bytes(), args[2].as_bytes());
                    let mut j = 0;
                    while j < g.len() {
                        if !a.is_empty() && g[j..].starts_with(a) {
                            out.extend_from_slice(b);
                            j += a.len();
                        } else {
                            out.push(g[j]);
                            j += 1;
                        }
                    }
                }
                "I" if args.len() == 2 && g.len() <= 8 => {
                    let bytes: Vec<u8> = if args[1] == "<" { g.iter().rev().copied().collect() } else { g.to_vec() };
                    let v = bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
                    out.extend_from_slice(v.to_string().as_bytes());
                }
                _ => {}
            }
            i += 1 + used;
        } else {
            out.push(b'$');
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `NAME(arg,"arg",...)` at the start of `s`: name, arguments (quotes removed), bytes used.
fn helper(s: &[u8]) -> Option<(&'static str, Vec<String>, usize)> {
    let name =
        ["SUBST", "P", "I"].into_iter().find(|n| s.starts_with(n.as_bytes()) && s.get(n.len()) == Some(&b'('))?;
    let body_start = name.len() + 1;
    let mut args = Vec::new();
    let mut cur = Vec::new();
    let mut quoted = false;
    let mut j = body_start;
    while j < s.len() {
        let c = s[j];
        match c {
            b'"' => quoted = !quoted,
            b',' if !quoted => args.push(String::from_utf8_lossy(&std::mem::take(&mut cur)).into_owned()),
            b')' if !quoted => {
                args.push(String::from_utf8_lossy(&cur).into_owned());
                return Some((name, args, j + 1));
            }
            _ => cur.push(c),
        }
        j += 1;
    }
    None
}

/// Whether `s` (after a `{`) is a repetition `n}`, `n,}` or `n,m}`.
fn is_repetition(s: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(s);
    if n == 0 {
        return false;
    }
    match s.get(n) {
        Some(b'}') => true,
        Some(b',') => {
            let m = digits(&s[n + 1..]);
            s.get(n + 1 + m) == Some(&b'}')
        }
        _ => false,
    }
}

fn push_byte(out: &mut String, b: u8) {
    out.push_str(&format!("\\x{b:02X}"));
}

/// An octal escape after `\` at `s` (`0`, `0dd`, or `ddd` starting with 0..3): value, digits used.
fn octal(s: &[u8]) -> Option<(u8, usize)> {
    let n = s.iter().take(3).take_while(|c| (b'0'..=b'7').contains(c)).count();
    if n == 0 || s[0] != b'0' {
        return None;
    }
    let v = s[..n].iter().fold(0u32, |v, &c| v * 8 + u32::from(c - b'0'));
    Some(((v & 0xff) as u8, n))
}

/// nmap's idiom for "header lines, not past the blank line": `(?:[^\r\n]*\r\n(?!\r\n))*?`
/// (in 639 match lines of nmap 7.93). Followed by a letter, the lookahead only says that every
/// line after the first is non-empty, which [`HEADER_LINES_EQUIV`] says without one (same
/// iteration order, so the same match).
const HEADER_LINES: &[u8] = b"(?:[^\\r\\n]*\\r\\n(?!\\r\\n))*?";
const HEADER_LINES_EQUIV: &[u8] = b"(?:[^\\r\\n]*\\r\\n(?:[^\\r\\n]+\\r\\n)*?)??";

/// `p` with [`HEADER_LINES`] rewritten where a letter follows it.
fn rewrite_idioms(p: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !p.windows(HEADER_LINES.len()).any(|w| w == HEADER_LINES) {
        return std::borrow::Cow::Borrowed(p);
    }
    let mut out = Vec::with_capacity(p.len() + 16);
    let mut i = 0;
    while i < p.len() {
        if p[i..].starts_with(HEADER_LINES) && p.get(i + HEADER_LINES.len()).is_some_and(u8::is_ascii_alphabetic) {
            out.extend_from_slice(HEADER_LINES_EQUIV);
            i += HEADER_LINES.len();
        } else {
            out.push(p[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Translates a PCRE pattern to the `regex` crate's syntax (see the module doc).
pub fn translate(p: &[u8]) -> Result<String, String> {
    let p = &*rewrite_idioms(p);
    let mut out = String::with_capacity(p.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = false;
    while i < p.len() {
        let c = p[i];
        if c == b'\\' {
            let Some(&n) = p.get(i + 1) else { return Err("trailing backslash".into()) };
            if let Some((v, used)) = octal(&p[i + 1..]) {
                push_byte(&mut out, v);
                i += 1 + used;
                class_start = false;
                continue;
            }
            match n {
                b'1'..=b'9' if !in_class => return Err("backreference".into()),
                b'Z' if !in_class => out.push_str("(?:\\n?\\z)"),
                b'e' => push_byte(&mut out, 0x1b),
                b'h' if !in_class => out.push_str("[ \\t]"),
                b'Q' | b'E' | b'G' | b'K' | b'R' | b'X' | b'C' | b'N' | b'g' | b'k' | b'c' => {
                    return Err(format!("escape \\{}", n as char));
                }
                b'x' => {
                    out.push_str("\\x");
                    i += 2;
                    class_start = false;
                    continue;
                }
                n if !n.is_ascii() => push_byte(&mut out, n),
                n if n.is_ascii_alphanumeric() => {
                    out.push('\\');
                    out.push(n as char);
                }
                n => push_byte(&mut out, n),
            }
            i += 2;
            class_start = false;
            continue;
        }
        if in_class {
            match c {
                b']' if !class_start => {
                    out.push(']');
                    in_class = false;
                }
                b'^' if class_start && p[i - 1] == b'[' => {
                    out.push('^');
                    i += 1;
                    continue;
                }
                b'[' if p.get(i + 1) == Some(&b':') => {
                    let end = p[i..].windows(2).position(|w| w == b":]").map(|e| i + e + 2).unwrap_or(p.len());
                    out.push_str(&String::from_utf8_lossy(&p[i..end]));
                    i = end;
                    class_start = false;
                    continue;
                }
                b'[' | b']' | b'&' | b'~' => push_byte(&mut out, c),
                b'-' if p.get(i + 1) == Some(&b'-') => push_byte(&mut out, c),
                c if !c.is_ascii() || c.is_ascii_control() => push_byte(&mut out, c),
                c => out.push(c as char),
            }
            class_start = false;
            i += 1;
            continue;
        }
        match c {
            b'[' => {
                out.push('[');
                in_class = true;
                class_start = true;
                i += 1;
                continue;
            }
            b'$' => out.push_str("(?:\\n?\\z)"),
            b'{' if !is_repetition(&p[i + 1..]) => out.push_str("\\{"),
            b'(' if p.get(i + 1) == Some(&b'?') => {
                let next = p.get(i + 2).copied().unwrap_or(0);
                let next2 = p.get(i + 3).copied().unwrap_or(0);
                if matches!(next, b'=' | b'!' | b'>' | b'#') || (next == b'<' && matches!(next2, b'=' | b'!')) {
                    return Err("lookaround, atomic group or comment".into());
                }
                out.push('(');
            }
            b'*' | b'+' | b'?' | b'}' if p.get(i + 1) == Some(&b'+') => {
                return Err("possessive quantifier".into());
            }
            c if !c.is_ascii() || c.is_ascii_control() => push_byte(&mut out, c),
            c => out.push(c as char),
        }
        i += 1;
    }
    if in_class {
        return Err("unterminated class".into());
    }
    Ok(out)
}

/// The literal bytes every match of an anchored pattern (`^...`) starts with; empty when the
/// pattern is not anchored or has an alternation.
pub fn anchored_prefix(p: &[u8]) -> Vec<u8> {
    let Some(rest) = p.strip_prefix(b"^") else { return Vec::new() };
    if has_top_level_alternation(p) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let (b, used) = match rest[i] {
            b'\\' => {
                let Some(&n) = rest.get(i + 1) else { break };
                if let Some((v, used)) = octal(&rest[i + 1..]) {
                    (v, 1 + used)
                } else {
                    match n {
                        b'r' => (b'\r', 2),
                        b'n' => (b'\n', 2),
                        b't' => (b'\t', 2),
                        b'x' => {
                            let hex = rest
                                .get(i + 2..i + 4)
                                .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                            match hex {
                                Some(v) => (v, 4),
                                None => break,
                            }
                        }
                        n if n.is_ascii_punctuation() => (n, 2),
                        _ => break,
                    }
                }
            }
            b'.' | b'[' | b'(' | b')' | b'*' | b'+' | b'?' | b'{' | b'|' | b'^' | b'$' => break,
            c => (c, 1),
        };
        // A quantified last byte is optional (or repeated): it is not part of the prefix.
        if matches!(rest.get(i + used), Some(b'*' | b'?' | b'{')) {
            break;
        }
        out.push(b);
        i += used;
        if matches!(rest.get(i), Some(b'+')) {
            break;
        }
    }
    out
}

/// One literal byte of a pattern at `p[i]` (an escape or a plain byte): (byte, bytes used), or
/// `None` for anything else (a class, group, anchor, dot, quantifier or class escape).
fn literal_at(p: &[u8], i: usize) -> Option<(u8, usize)> {
    match p[i] {
        b'\\' => {
            let n = *p.get(i + 1)?;
            if let Some((v, used)) = octal(&p[i + 1..]) {
                return Some((v, 1 + used));
            }
            match n {
                b'r' => Some((b'\r', 2)),
                b'n' => Some((b'\n', 2)),
                b't' => Some((b'\t', 2)),
                b'x' => {
                    let h = p.get(i + 2..i + 4)?;
                    Some((u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?, 4))
                }
                n if n.is_ascii_punctuation() => Some((n, 2)),
                _ => None,
            }
        }
        b'.' | b'[' | b'(' | b')' | b'*' | b'+' | b'?' | b'{' | b'|' | b'^' | b'$' => None,
        c => Some((c, 1)),
    }
}

/// The end of the group or class starting at `p[i]` (`(` or `[`), exclusive.
fn skip_construct(p: &[u8], i: usize) -> usize {
    let (mut depth, mut in_class, mut j) = (0i32, false, i);
    while j < p.len() {
        match p[j] {
            b'\\' => j += 1,
            b']' if in_class && !(j > 0 && (p[j - 1] == b'[' || (p[j - 1] == b'^' && j > 1 && p[j - 2] == b'['))) => {
                in_class = false;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ if in_class => {}
            b'[' => in_class = true,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    p.len()
}

/// Literal strings of 3 bytes or more in the top-level sequence of `p` (outside groups, classes
/// and quantified atoms): every match contains each. Empty when `p` has a top-level `|`.
pub fn required_literals(p: &[u8]) -> Vec<Vec<u8>> {
    if has_top_level_alternation(p) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut run: Vec<u8> = Vec::new();
    let mut flush = |run: &mut Vec<u8>| {
        if run.len() >= 3 {
            out.push(std::mem::take(run));
        }
        run.clear();
    };
    let mut i = 0;
    while i < p.len() {
        if let Some((b, used)) = literal_at(p, i) {
            match p.get(i + used) {
                // An optional or repeated byte ends the run without it ('+' keeps one).
                Some(b'*' | b'?' | b'{') => flush(&mut run),
                Some(b'+') => {
                    run.push(b);
                    flush(&mut run);
                }
                _ => run.push(b),
            }
            i += used;
            continue;
        }
        flush(&mut run);
        i = match p[i] {
            b'(' | b'[' => skip_construct(p, i),
            b'{' if is_repetition(&p[i + 1..]) => p[i..].iter().position(|&c| c == b'}').map_or(p.len(), |e| i + e + 1),
            b'\\' => i + 2,
            _ => i + 1,
        };
    }
    flush(&mut run);
    out
}

/// Whether `p` has a `|` outside any group or class (then `^` anchors only one branch).
fn has_top_level_alternation(p: &[u8]) -> bool {
    let (mut depth, mut in_class, mut i) = (0i32, false, 0);
    while i < p.len() {
        match p[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => depth -= 1,
            b'|' if !in_class && depth == 0 => return true,
            _ => {}
        }
        i += 1;
    }
    false
}
