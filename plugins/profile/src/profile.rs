//! The profile tables: per-MAC and per-IP counters updated per packet without allocating once a
//! host is known, and turned into DeviceProfile / IPProfile records at the end of input.

use netcap_proto::v1::{DeviceProfile, IpProfile, PortCount};
use netcap_sdk::{Config, Emitter, Packet, fmt, host, layer};
use std::collections::{BTreeSet, HashMap};

/// Record types, indexed by type id.
pub const RECORD_TYPES: [(&str, &str); 2] =
    [("DeviceProfile", "netcap.v1.DeviceProfile"), ("IPProfile", "netcap.v1.IPProfile")];
const T_DEVICE: u16 = 0;
const T_IP: u16 = 1;

/// Default cap on profiles per table: what fits the default 256 MiB of a decoder instance,
/// measured (300,000 hosts seen in one packet each fit, 360,000 do not; README, "Host profiles").
pub const DEFAULT_MAX: usize = 300_000;
/// Distinct ports kept per port table of a profile.
pub const MAX_PORTS: usize = 4096;
/// Addresses kept per address list of a profile.
pub const MAX_ADDRS: usize = 1024;
/// MACs kept per IP profile.
pub const MAX_MACS: usize = 64;

/// An IP address: 4 or 16 bytes, IPv4 in the first 4 with `len` 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ip {
    len: u8,
    bytes: [u8; 16],
}

impl Ip {
    fn from_slice(b: &[u8]) -> Option<Ip> {
        let mut bytes = [0u8; 16];
        match b.len() {
            4 | 16 => {
                bytes[..b.len()].copy_from_slice(b);
                Some(Ip { len: b.len() as u8, bytes })
            }
            _ => None,
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        fmt::set_ip(&mut s, &self.bytes[..usize::from(self.len)]);
        s
    }
}

fn mac_text(m: &[u8; 6]) -> String {
    let mut s = String::new();
    fmt::set_mac(&mut s, m);
    s
}

/// Time span and traffic of one address, both directions.
#[derive(Debug, Default)]
struct Counts {
    first: i64,
    last: i64,
    packets_sent: u64,
    bytes_sent: u64,
    packets_received: u64,
    bytes_received: u64,
}

impl Counts {
    fn add(&mut self, ts: i64, len: u64, sent: bool) {
        if self.packets_sent + self.packets_received == 0 || ts < self.first {
            self.first = ts;
        }
        if self.packets_sent + self.packets_received == 0 || ts > self.last {
            self.last = ts;
        }
        if sent {
            self.packets_sent += 1;
            self.bytes_sent += len;
        } else {
            self.packets_received += 1;
            self.bytes_received += len;
        }
    }
}

/// The entry for `key`, created when the table has room; `None` when it is full.
fn entry<K: std::hash::Hash + Eq, V: Default>(t: &mut HashMap<K, V>, key: K, max: usize) -> Option<&mut V> {
    if t.len() >= max && !t.contains_key(&key) {
        return None;
    }
    Some(t.entry(key).or_default())
}

#[derive(Debug, Default)]
struct Device {
    c: Counts,
    ips: BTreeSet<Ip>,
    contacts: BTreeSet<Ip>,
}

/// (transport layer id, port) -> (packets, bytes).
type Ports = HashMap<(u16, u16), (u64, u64)>;

#[derive(Debug, Default)]
struct Host {
    c: Counts,
    src_ports: Ports,
    contacted_ports: Ports,
    dst_ports: Ports,
    ports_dropped: u64,
    contacts: BTreeSet<Ip>,
    macs: BTreeSet<[u8; 6]>,
    apps: BTreeSet<u16>,
}

fn count_port(t: &mut Ports, key: (u16, u16), bytes: u64, dropped: &mut u64) {
    let full = t.len() >= MAX_PORTS;
    match t.get_mut(&key) {
        Some(e) => {
            e.0 += 1;
            e.1 += bytes;
        }
        None if full => *dropped += 1,
        None => {
            t.insert(key, (1, bytes));
        }
    }
}

fn add_capped<T: Ord>(set: &mut BTreeSet<T>, v: T, cap: usize) {
    if set.len() < cap || set.contains(&v) {
        set.insert(v);
    }
}

/// What one packet says about its hosts (outermost headers).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Addrs {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub src_ip: Option<Ip>,
    pub dst_ip: Option<Ip>,
    /// Transport layer id and (source, destination) ports.
    pub ports: Option<(u16, u16, u16)>,
}

/// The outermost MACs, IP addresses and ports of a packet.
pub fn addrs(p: &Packet<'_>) -> Addrs {
    let mut a = Addrs::default();
    let mut ip_at = None;
    for (i, l) in p.layers().enumerate() {
        match l.id {
            layer::ETHERNET if a.src_mac.is_none() && ip_at.is_none() => {
                if let Some(h) = p.data.get(l.offset..l.offset + 12) {
                    a.dst_mac = h[0..6].try_into().ok();
                    a.src_mac = h[6..12].try_into().ok();
                }
            }
            layer::IPV4 | layer::IPV6 if ip_at.is_none() => {
                let e = p.endpoints(i + 1);
                a.src_ip = Ip::from_slice(e.src);
                a.dst_ip = Ip::from_slice(e.dst);
                ip_at = Some(i);
            }
            layer::TCP | layer::UDP | layer::SCTP if ip_at.is_some() => {
                if l.depth() == p.layer(ip_at.unwrap_or(0)).map_or(0, |x| x.depth()) {
                    let e = p.endpoints(i + 1);
                    a.ports = Some((l.id, e.src_port, e.dst_port));
                }
                break;
            }
            // Anything else after the IP header ends the outermost packet's transport search
            // (extension headers aside).
            layer::IPV6_HOP_BY_HOP | layer::IPV6_FRAGMENT | layer::IPSEC_AH if ip_at.is_some() => {}
            _ if ip_at.is_some() => break,
            _ => {}
        }
    }
    a
}

/// The two tables.
pub struct Profiles {
    devices: HashMap<[u8; 6], Device>,
    /// Boxed: a host's tables are a few hundred bytes, and the map's slots (allocated ahead,
    /// doubled when it grows) should not be.
    hosts: HashMap<Ip, Box<Host>>,
    want_devices: bool,
    want_hosts: bool,
    max: usize,
    /// The keys of the profiles `finish` has still to emit (it returns them in chunks, removing
    /// each from its table: no second copy of the tables).
    draining: Option<(Vec<[u8; 6]>, Vec<Ip>)>,
    /// Application names by DPI id, for `finish`.
    app_names: HashMap<u16, String>,
}

impl Profiles {
    pub fn new(config: &Config) -> Result<Self, String> {
        let max = match config.get("profile-max") {
            Some(v) => v.parse::<usize>().map_err(|_| format!("profile-max: not a count: {v:?}"))?,
            None => DEFAULT_MAX,
        };
        Ok(Profiles {
            devices: HashMap::new(),
            hosts: HashMap::new(),
            want_devices: config.record_type_enabled("DeviceProfile"),
            want_hosts: config.record_type_enabled("IPProfile"),
            max,
            draining: None,
            app_names: HashMap::new(),
        })
    }

    /// Counts one packet.
    pub fn packet(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        // A datagram the host reassembled from fragments: its fragments were counted already.
        if p.flags & netcap_sdk::PACKET_FLAG_REASSEMBLED != 0 {
            return;
        }
        let a = addrs(p);
        let (ts, len) = (p.ts_nanos, u64::from(p.orig_len));
        let mut full = false;
        if self.want_devices {
            for (mac, sent) in [(a.src_mac, true), (a.dst_mac, false)] {
                let Some(mac) = mac else { continue };
                let Some(d) = entry(&mut self.devices, mac, self.max) else {
                    full = true;
                    continue;
                };
                d.c.add(ts, len, sent);
                if sent {
                    if let Some(ip) = a.src_ip {
                        add_capped(&mut d.ips, ip, MAX_ADDRS);
                    }
                    if let Some(ip) = a.dst_ip {
                        add_capped(&mut d.contacts, ip, MAX_ADDRS);
                    }
                }
            }
        }
        if self.want_hosts {
            for (ip, sent) in [(a.src_ip, true), (a.dst_ip, false)] {
                let Some(ip) = ip else { continue };
                let Some(h) = entry(&mut self.hosts, ip, self.max) else {
                    full = true;
                    continue;
                };
                h.c.add(ts, len, sent);
                if p.app != 0 {
                    add_capped(&mut h.apps, p.app, 64);
                }
                if sent {
                    if let Some(mac) = a.src_mac {
                        add_capped(&mut h.macs, mac, MAX_MACS);
                    }
                    if let Some(peer) = a.dst_ip {
                        add_capped(&mut h.contacts, peer, MAX_ADDRS);
                    }
                    if let Some((t, sp, dp)) = a.ports {
                        count_port(&mut h.src_ports, (t, sp), len, &mut h.ports_dropped);
                        count_port(&mut h.contacted_ports, (t, dp), len, &mut h.ports_dropped);
                    }
                } else if let Some((t, _, dp)) = a.ports {
                    count_port(&mut h.dst_ports, (t, dp), len, &mut h.ports_dropped);
                }
            }
        }
        if full {
            out.error("profile: table full (packet not profiled)");
        }
    }

    /// Emits every profile, in chunks: when the output is full (`Emitter::chunk_full`) it
    /// returns, and the next call goes on.
    pub fn finish(&mut self, out: &mut Emitter<'_>) {
        let (devices, hosts) = self
            .draining
            .get_or_insert_with(|| (self.devices.keys().copied().collect(), self.hosts.keys().copied().collect()));
        loop {
            if out.chunk_full() {
                return;
            }
            let Some(mac) = devices.pop() else { break };
            if let Some(d) = self.devices.remove(&mac) {
                out.record(T_DEVICE, &device_record(mac, d));
            }
        }
        loop {
            if out.chunk_full() {
                return;
            }
            let Some(ip) = hosts.pop() else { break };
            if let Some(h) = self.hosts.remove(&ip) {
                out.record(T_IP, &host_record(ip, *h, &mut self.app_names));
            }
        }
    }
}

fn device_record(mac: [u8; 6], d: Device) -> DeviceProfile {
    let vendor = if mac[0] & 0x02 != 0 { None } else { host::mac_vendor(&mac) };
    let ips: Vec<String> = d.ips.iter().map(Ip::text).collect();
    let contacts: Vec<String> = d.contacts.iter().map(Ip::text).collect();
    DeviceProfile {
        mac: mac_text(&mac),
        vendor: vendor.unwrap_or_default(),
        timestamp_first: d.c.first,
        timestamp_last: d.c.last,
        packets_sent: d.c.packets_sent,
        bytes_sent: d.c.bytes_sent,
        packets_received: d.c.packets_received,
        bytes_received: d.c.bytes_received,
        num_ips: ips.len() as u32,
        ips,
        num_contacts: contacts.len() as u32,
        contacts,
        num_packets: d.c.packets_sent + d.c.packets_received,
        bytes: d.c.bytes_sent + d.c.bytes_received,
    }
}

fn host_record(ip: Ip, h: Host, app_names: &mut HashMap<u16, String>) -> IpProfile {
    let addr = ip.text();
    let geo = host::geo(&addr).unwrap_or_default();
    let mut applications: Vec<String> = Vec::new();
    for &id in &h.apps {
        let name = app_names.entry(id).or_insert_with(|| host::app_info(id).map(|a| a.protocol).unwrap_or_default());
        if !name.is_empty() {
            applications.push(name.clone());
        }
    }
    applications.sort();
    applications.dedup();
    let mut dns_names = host::ip_names(&addr, u64::MAX);
    dns_names.sort();
    dns_names.dedup();
    let contacts: Vec<String> = h.contacts.iter().map(Ip::text).collect();
    IpProfile {
        addr,
        ip_version: if ip.len == 4 { 4 } else { 6 },
        timestamp_first: h.c.first,
        timestamp_last: h.c.last,
        packets_sent: h.c.packets_sent,
        bytes_sent: h.c.bytes_sent,
        packets_received: h.c.packets_received,
        bytes_received: h.c.bytes_received,
        src_ports: port_list(&h.src_ports),
        contacted_ports: port_list(&h.contacted_ports),
        dst_ports: port_list(&h.dst_ports),
        num_contacts: contacts.len() as u32,
        contacts,
        macs: h.macs.iter().map(mac_text).collect(),
        dns_names,
        country: geo.country,
        city: geo.city,
        asn: geo.asn,
        as_org: geo.as_org,
        applications,
        num_packets: h.c.packets_sent + h.c.packets_received,
        bytes: h.c.bytes_sent + h.c.bytes_received,
        ports_dropped: h.ports_dropped,
    }
}

fn transport_name(id: u16) -> &'static str {
    match id {
        layer::TCP => "TCP",
        layer::UDP => "UDP",
        _ => "SCTP",
    }
}

/// A port table sorted by transport and port, with service names.
fn port_list(t: &Ports) -> Vec<PortCount> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| (transport_name(k.0), k.1));
    v.into_iter()
        .map(|(&(tr, port), &(packets, bytes))| {
            let transport = transport_name(tr);
            PortCount {
                transport: transport.into(),
                port: u32::from(port),
                packets,
                bytes,
                service: host::service_name(&transport.to_ascii_lowercase(), port).unwrap_or_default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
