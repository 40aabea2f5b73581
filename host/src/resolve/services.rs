//! Port → service name, from the system's `/etc/services` (`name port/protocol aliases...`,
//! `#` comments): the first entry for a port and transport wins, as `getservbyport` does.

use std::collections::HashMap;
use std::path::Path;

/// The loaded table.
#[derive(Debug, Default)]
pub struct Services {
    map: HashMap<(String, u16), String>,
}

impl Services {
    /// Loads `path`; a missing or unreadable file gives a warning and an empty table.
    pub fn load(path: &Path, warnings: &mut Vec<String>) -> Services {
        match std::fs::read_to_string(path) {
            Ok(text) => Services::parse(&text),
            Err(e) => {
                warnings.push(format!("service names: {}: {e}", path.display()));
                Services::default()
            }
        }
    }

    /// Parses `/etc/services` text.
    pub fn parse(text: &str) -> Services {
        let mut map = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(name), Some(pp)) = (it.next(), it.next()) else { continue };
            let Some((port, proto)) = pp.split_once('/') else { continue };
            let Ok(port) = port.parse::<u16>() else { continue };
            map.entry((proto.to_ascii_lowercase(), port)).or_insert_with(|| name.to_string());
        }
        Services { map }
    }

    /// The service of `port` on `transport` ("tcp", "udp", "sctp", ...; any case).
    pub fn lookup(&self, transport: &str, port: u16) -> Option<&str> {
        self.map.get(&(transport.to_ascii_lowercase(), port)).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_entry_wins_and_comments_are_ignored() {
        let s = Services::parse("# x\nhttp 80/tcp www # WorldWideWeb\nhttp2 80/tcp\ndomain 53/udp\nbad 99999/tcp\n");
        assert_eq!(s.lookup("tcp", 80), Some("http"));
        assert_eq!(s.lookup("TCP", 80), Some("http"));
        assert_eq!(s.lookup("udp", 80), None);
        assert_eq!(s.lookup("udp", 53), Some("domain"));
        assert_eq!(s.len(), 2);
    }
}
