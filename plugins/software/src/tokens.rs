//! Product tokens of `Server` and `X-Powered-By` header values (RFC 9110 section 10.2.4:
//! `product *( RWS ( product / comment ) )`, `product = token ["/" product-version]`, comments
//! in parentheses, nested, with `\` quoting). Lenient: anything up to white space or `(` is a
//! product token, so `Apache/2.4.41 (Ubuntu) PHP/7.4.3` gives Apache 2.4.41 (comment "Ubuntu")
//! and PHP 7.4.3.

/// Most products read from one header value.
const MAX_PRODUCTS: usize = 16;

/// One product token and the first comment after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Product<'a> {
    pub product: &'a str,
    pub version: &'a str,
    pub comment: &'a str,
}

/// The end of the comment that starts at `s[0] == '('` (exclusive of the closing parenthesis),
/// and where the text after it starts.
fn comment_end(s: &str) -> (usize, usize) {
    let b = s.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (i, i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (b.len(), b.len())
}

/// The product tokens of a header value, in order.
pub fn products(value: &str) -> Vec<Product<'_>> {
    let mut out: Vec<Product<'_>> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() && out.len() < MAX_PRODUCTS {
        if rest.starts_with('(') {
            let (end, next) = comment_end(rest);
            let text = rest[1..end.max(1)].trim();
            if let Some(p) = out.last_mut().filter(|p| p.comment.is_empty()) {
                p.comment = text;
            }
            rest = rest[next..].trim_start();
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace() || c == '(').unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches([',', ';']);
        let (product, version) = token.split_once('/').unwrap_or((token, ""));
        if !product.is_empty() {
            out.push(Product { product, version, comment: "" });
        }
        rest = rest[end..].trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p<'a>(product: &'a str, version: &'a str, comment: &'a str) -> Product<'a> {
        Product { product, version, comment }
    }

    #[test]
    fn server_values_as_sent_by_common_servers() {
        assert_eq!(products("Apache/2.4.41 (Ubuntu)"), vec![p("Apache", "2.4.41", "Ubuntu")]);
        assert_eq!(
            products("Apache/2.2.3 (CentOS) PHP/5.1.6 mod_ssl/2.2.3 OpenSSL/0.9.8e-fips-rhel5"),
            vec![
                p("Apache", "2.2.3", "CentOS"),
                p("PHP", "5.1.6", ""),
                p("mod_ssl", "2.2.3", ""),
                p("OpenSSL", "0.9.8e-fips-rhel5", "")
            ]
        );
        assert_eq!(products("nginx"), vec![p("nginx", "", "")]);
        assert_eq!(products("Microsoft-IIS/10.0"), vec![p("Microsoft-IIS", "10.0", "")]);
        assert_eq!(products("PHP/5.4.0"), vec![p("PHP", "5.4.0", "")]);
        // A nested comment with a quoted parenthesis, and a comment that is never closed.
        assert_eq!(products("x/1 (a (b) \\) c) y/2 (open"), vec![p("x", "1", "a (b) \\) c"), p("y", "2", "open")]);
        assert_eq!(products("   "), vec![]);
        assert_eq!(products("(only a comment)"), vec![]);
    }
}
