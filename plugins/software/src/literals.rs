//! Literal strings every match of a regex must contain (its top-level sequence, outside groups,
//! classes and quantified atoms): a cheap `contains` test that skips compiling and running most
//! of uap-core's 1,300 regexes for a given user agent. (The service decoder has the PCRE variant
//! of the same scan for nmap's patterns, with octal escapes; the two syntaxes differ there.)

/// One literal byte at `p[i]` (an escape or a plain byte): (byte, bytes used), or `None`.
fn literal_at(p: &[u8], i: usize) -> Option<(u8, usize)> {
    match p[i] {
        b'\\' => {
            let n = *p.get(i + 1)?;
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
        c if c.is_ascii() => Some((c, 1)),
        _ => None,
    }
}

/// Whether `s` (after a `{`) is a repetition `n}`, `n,}`, `,m}` or `n,m}`.
fn repetition_len(s: &[u8]) -> Option<usize> {
    let end = s.iter().position(|&c| c == b'}')?;
    s[..end].iter().all(|c| c.is_ascii_digit() || *c == b',').then_some(end + 1)
}

/// The end (exclusive) of the group or class starting at `p[i]`.
fn skip_construct(p: &[u8], i: usize) -> usize {
    let (mut depth, mut in_class, mut j) = (0i32, false, i);
    while j < p.len() {
        match p[j] {
            b'\\' => j += 1,
            b']' if in_class && !(p[j - 1] == b'[' || (p[j - 1] == b'^' && j > 1 && p[j - 2] == b'[')) => {
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

/// Literal strings of 3 bytes or more that every match of `p` contains; empty when `p` has a
/// top-level `|` or none is long enough.
pub fn required(p: &str) -> Vec<Vec<u8>> {
    let p = p.as_bytes();
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
            b'{' => repetition_len(&p[i + 1..]).map_or(i + 1, |n| i + 1 + n),
            b'\\' => i + 2,
            _ => i + 1,
        };
    }
    flush(&mut run);
    out
}

/// Whether `hay` contains every literal (ASCII case-insensitively when `ci`).
pub fn contains_all(hay: &[u8], lits: &[Vec<u8>], ci: bool) -> bool {
    lits.iter().all(|l| hay.windows(l.len()).any(|w| if ci { w.eq_ignore_ascii_case(l) } else { w == &l[..] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_of_uap_regexes() {
        let s =
            |p: &str| -> Vec<String> { required(p).iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect() };
        assert_eq!(s(r"(ArcGIS Pro)(?: (\d+)\.(\d+)\.([^ ]+)|)"), Vec::<String>::new());
        assert_eq!(s(r"com.esri.(earth).phone/(\d+)"), vec!["com", "esri", "phone/"]);
        assert_eq!(s(r"ArcGIS Client Using WinInet"), vec!["ArcGIS Client Using WinInet"]);
        assert_eq!(s(r"(ESPN)[%20| ]+Radio/(\d+)\.(\d+) CFNetwork"), vec!["Radio/", " CFNetwork"]);
        assert_eq!(s(r"^(.{0,200})/(\d+) CFNetwork"), vec![" CFNetwork"]);
        assert_eq!(s(r"a|bcd"), Vec::<String>::new());
        assert_eq!(s(r"Firefoxy?z{2}abc+d"), vec!["Firefox", "abc"]);
    }
}
