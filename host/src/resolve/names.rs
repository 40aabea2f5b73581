//! Names for IP addresses: from the DNS answers seen in the capture (a small native scan the
//! dispatcher runs in input order), from a hosts file (`--hosts-file`), and, only with
//! `--reverse-dns`, from live reverse lookups.
//!
//! Determinism: every name learnt from a DNS answer is stored with the sequence number of its
//! packet, and [`NameTable::names`] only returns names learnt before the packet being
//! decoded, so a decoder sees the same names for any worker count and any scheduling. The
//! dispatcher collects answers in a [`DnsScan`] and publishes them into the shared table once
//! per epoch, before that epoch's batches leave (no lock per packet).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// Names kept per address, and addresses kept in all (memory bound). Later ones are dropped,
/// never earlier ones: a name, once known, stays, which keeps lookups deterministic.
pub const NAMES_PER_IP: usize = 64;
pub const MAX_ADDRESSES: usize = 1 << 20;

/// Names learnt from DNS answers: address → (sequence number of the answer, name), in input order.
type DnsNames = HashMap<IpAddr, Vec<(u64, Arc<str>)>>;

/// The shared name table.
#[derive(Debug, Default)]
pub struct NameTable {
    dns: RwLock<DnsNames>,
    hosts: HashMap<IpAddr, Vec<String>>,
    reverse: Option<Mutex<HashMap<IpAddr, Option<String>>>>,
}

impl NameTable {
    /// A table with the hosts file `hosts` (if any) and live reverse lookups if `reverse`.
    pub fn new(hosts: Option<&Path>, reverse: bool, warnings: &mut Vec<String>) -> NameTable {
        let hosts = match hosts {
            None => HashMap::new(),
            Some(p) => match std::fs::read_to_string(p) {
                Ok(t) => parse_hosts(&t),
                Err(e) => {
                    warnings.push(format!("hosts file {}: {e}", p.display()));
                    HashMap::new()
                }
            },
        };
        NameTable { dns: RwLock::default(), hosts, reverse: reverse.then(|| Mutex::new(HashMap::new())) }
    }

    /// Names of `ip` known before packet `before_seq` (use `u64::MAX` after the input):
    /// hosts-file names, then DNS names in the order they were seen, then (with
    /// `--reverse-dns`) the reverse lookup's answer. No duplicates.
    pub fn names(&self, ip: IpAddr, before_seq: u64) -> Vec<String> {
        let mut out: Vec<String> = self.hosts.get(&ip).cloned().unwrap_or_default();
        {
            let dns = self.dns.read().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = dns.get(&ip) {
                for (seq, n) in v.iter().take_while(|(s, _)| *s < before_seq) {
                    let _ = seq;
                    if !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                        out.push(n.to_string());
                    }
                }
            }
        }
        if let Some(rev) = &self.reverse {
            let cached = rev.lock().unwrap_or_else(|p| p.into_inner()).get(&ip).cloned();
            let name = match cached {
                Some(n) => n,
                None => {
                    let n = dns_lookup::lookup_addr(&ip).ok().filter(|n| n.parse::<IpAddr>().is_err());
                    rev.lock().unwrap_or_else(|p| p.into_inner()).insert(ip, n.clone());
                    n
                }
            };
            if let Some(n) = name
                && !out.iter().any(|o| o.eq_ignore_ascii_case(&n))
            {
                out.push(n);
            }
        }
        out
    }

    /// Adds what a [`DnsScan`] collected (called by the dispatcher once per epoch).
    pub fn publish(&self, scan: &mut DnsScan) {
        if scan.pending.is_empty() {
            return;
        }
        let mut dns = self.dns.write().unwrap_or_else(|p| p.into_inner());
        for (ip, seq, name) in scan.pending.drain(..) {
            if dns.len() >= MAX_ADDRESSES && !dns.contains_key(&ip) {
                scan.dropped += 1;
                continue;
            }
            let v = dns.entry(ip).or_default();
            if v.iter().any(|(_, n)| n.eq_ignore_ascii_case(&name)) {
                continue;
            }
            if v.len() >= NAMES_PER_IP {
                scan.dropped += 1;
                continue;
            }
            v.push((seq, name));
        }
    }
}

/// `ip name [aliases...]` lines, `#` comments (the `/etc/hosts` format; tab- or
/// space-separated, so netcap's `ip<TAB>name` files and `tshark -z hosts` output work too).
pub fn parse_hosts(text: &str) -> HashMap<IpAddr, Vec<String>> {
    let mut m: HashMap<IpAddr, Vec<String>> = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut it = line.split_whitespace();
        let Some(ip) = it.next().and_then(|a| a.parse::<IpAddr>().ok()) else { continue };
        let v = m.entry(ip).or_default();
        for n in it {
            if !v.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                v.push(n.to_string());
            }
        }
    }
    m
}

/// The dispatcher's DNS answer scan: collects (address, name) pairs of the A/AAAA records of
/// DNS messages over UDP and TCP (port 53, mDNS 5353, LLMNR 5355; every section, as
/// `tshark -z hosts` does: additional records carry glue and mDNS announcements), with their
/// packet's sequence number.
#[derive(Debug, Default)]
pub struct DnsScan {
    pending: Vec<(IpAddr, u64, Arc<str>)>,
    /// Names dropped by the table's memory bounds.
    pub dropped: u64,
    names: Vec<(String, Vec<u8>)>,
}

impl DnsScan {
    /// Looks at one dissected packet; cheap unless it is a DNS response.
    pub fn scan(&mut self, seq: u64, data: &[u8], layers: &[netcap_sdk::Layer]) {
        use netcap_sdk::layer::{TCP, UDP};
        // The innermost transport layer.
        let Some(t) = layers.iter().rev().find(|l| l.id == UDP || l.id == TCP) else { return };
        let Some(h) = data.get(t.offset..) else { return };
        if h.len() < 8 {
            return;
        }
        let dns_port = |p: u16| matches!(p, 53 | 5353 | 5355);
        if !dns_port(u16::from_be_bytes([h[0], h[1]])) && !dns_port(u16::from_be_bytes([h[2], h[3]])) {
            return;
        }
        let msg = if t.id == UDP {
            &h[8..]
        } else {
            let off = usize::from(h.get(12).copied().unwrap_or(0) >> 4) * 4;
            let Some(p) = h.get(off..).filter(|p| p.len() > 2) else { return };
            let len = usize::from(u16::from_be_bytes([p[0], p[1]]));
            // Only a message complete in this segment (no reassembly here).
            let Some(m) = p.get(2..2 + len) else { return };
            m
        };
        self.message(seq, msg);
    }

    /// Records the A/AAAA records of one DNS message, each under its owner name and under
    /// the names that point to that owner through CNAME records of the same message.
    pub fn message(&mut self, seq: u64, m: &[u8]) {
        if m.len() < 12 {
            return;
        }
        let qd = u16::from_be_bytes([m[4], m[5]]);
        let rrs = [6, 8, 10].iter().map(|&o| u32::from(u16::from_be_bytes([m[o], m[o + 1]]))).sum::<u32>();
        let mut off = 12usize;
        for _ in 0..qd {
            let Some(end) = skip_name(m, off) else { return };
            off = end + 4;
        }
        self.names.clear();
        let mut addrs: Vec<(String, IpAddr)> = Vec::new();
        for _ in 0..rrs {
            let Some((owner, end)) = read_name(m, off) else { break };
            let Some(f) = m.get(end..end + 10) else { break };
            let typ = u16::from_be_bytes([f[0], f[1]]);
            let rdlen = usize::from(u16::from_be_bytes([f[8], f[9]]));
            let rd_off = end + 10;
            let Some(rd) = m.get(rd_off..rd_off + rdlen) else { break };
            match (typ, rdlen) {
                (1, 4) => addrs.push((owner, IpAddr::from(<[u8; 4]>::try_from(rd).unwrap_or_default()))),
                (28, 16) => addrs.push((owner, IpAddr::from(<[u8; 16]>::try_from(rd).unwrap_or_default()))),
                (5, _) => {
                    if let Some((target, _)) = read_name(m, rd_off) {
                        self.names.push((owner, target.into_bytes()));
                    }
                }
                _ => {}
            }
            off = rd_off + rdlen;
        }
        for (owner, ip) in addrs {
            let mut chain = vec![owner];
            // Names whose CNAME (transitively) is the owner, nearest first.
            let mut i = 0;
            while i < chain.len() && chain.len() < 8 {
                let cur = chain[i].clone();
                for (alias, target) in &self.names {
                    if target.eq_ignore_ascii_case(cur.as_bytes())
                        && !chain.iter().any(|c| c.eq_ignore_ascii_case(alias))
                    {
                        chain.push(alias.clone());
                    }
                }
                i += 1;
            }
            for n in chain {
                if !n.is_empty() {
                    self.pending.push((ip, seq, Arc::from(n.as_str())));
                }
            }
        }
    }
}

/// End offset of the (possibly compressed) name at `off`.
fn skip_name(m: &[u8], mut off: usize) -> Option<usize> {
    loop {
        let len = *m.get(off)?;
        match len & 0xc0 {
            0xc0 => return Some(off + 2),
            0x00 if len == 0 => return Some(off + 1),
            0x00 => off += 1 + usize::from(len),
            _ => return None,
        }
    }
}

/// The dotted name at `off` (compression followed, loops refused) and the offset after it.
fn read_name(m: &[u8], start: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let (mut off, mut end, mut jumps) = (start, None, 0);
    loop {
        let len = *m.get(off)?;
        match len & 0xc0 {
            0xc0 => {
                let ptr = usize::from(u16::from_be_bytes([len, *m.get(off + 1)?]) & 0x3fff);
                end.get_or_insert(off + 2);
                jumps += 1;
                if jumps > 64 {
                    return None;
                }
                off = ptr;
            }
            0x00 if len == 0 => {
                return Some((name, end.unwrap_or(off + 1)));
            }
            0x00 => {
                let label = m.get(off + 1..off + 1 + usize::from(len))?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.extend(label.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }));
                if name.len() > 255 {
                    return None;
                }
                off += 1 + usize::from(len);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response: question a.example, answers a.example CNAME b.example, b.example A 192.0.2.7.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(b"\x01b\xc0\x0e");
        m.extend_from_slice(&[0xc0, 39, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        m
    }

    #[test]
    fn answers_and_cname_aliases_by_sequence() {
        let t = NameTable::default();
        let mut s = DnsScan::default();
        s.message(5, &response());
        t.publish(&mut s);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(t.names(ip, 6), vec!["b.example".to_string(), "a.example".to_string()]);
        assert!(t.names(ip, 5).is_empty(), "not yet known while packet 5 is decoded");
        let mut q = response();
        q[7] = 0; // no answers
        s.message(9, &q);
        assert!(s.pending.is_empty());
    }

    #[test]
    fn malformed_messages_are_ignored() {
        let mut s = DnsScan::default();
        let mut m = response();
        m[39] = 0xc0;
        m[40] = 39; // pointer loop
        s.message(1, &m);
        for cut in 0..m.len() {
            s.message(1, &m[..cut]);
        }
    }

    #[test]
    fn hosts_file_format() {
        let h = parse_hosts("127.0.0.1 localhost lo # x\n::1\tip6-localhost\nbad line\n");
        assert_eq!(h[&"127.0.0.1".parse::<IpAddr>().unwrap()], vec!["localhost", "lo"]);
        assert_eq!(h[&"::1".parse::<IpAddr>().unwrap()], vec!["ip6-localhost"]);
        assert_eq!(h.len(), 2);
    }
}
