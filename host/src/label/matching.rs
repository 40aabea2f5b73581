//! Matching records to alerts and attack windows: what a record type offers (its [`Shape`],
//! found by field name through the schema), the hash indexes over the alerts, and the choice of
//! one label among several matches (default, `--collect`, `--strict`).
//!
//! - **Packet records** (a `timestamp` field; `src_ip`/`dst_ip`, `src_port`/`dst_port` where the
//!   type has them) match an alert of the same microsecond (Suricata's resolution) whose source
//!   and destination are the record's (Suricata logs the addresses of the packet that raised the
//!   alert, so a reply in the same microsecond is not labelled) and whose protocol does not
//!   contradict the record's. Lookup: alerts by microsecond.
//! - **Flow records** (`timestamp_first` and `timestamp_last`, plus addresses, ports and
//!   `community_id` where present) match an alert whose time lies in `[first, last]` and whose
//!   endpoints are the record's in either direction, or whose Community ID is the record's.
//!   Lookup: alerts by endpoint pair (or address pair, or Community ID), sorted by time, so a
//!   record costs a hash lookup and a binary search.
//! - Packet records **without addresses** (Ethernet, Dot1Q, ARP, ...) get the alert labels of
//!   the other records of their packet (same timestamp in ns) — the "anchors" collected while
//!   the addressed types are labelled — and the windows that name no hosts.

use crate::label::alerts::Alert;
use crate::label::windows::Window;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind as FieldKind, MessageDescriptor, Value};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// How a record type is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// One packet: `timestamp`.
    Packet,
    /// A flow or connection: `timestamp_first`..`timestamp_last`.
    Flow,
}

/// The fields of a record type that matching reads.
#[derive(Debug, Clone)]
pub struct Shape {
    pub kind: RecordKind,
    ts: FieldDescriptor,
    last: Option<FieldDescriptor>,
    src_ip: Option<FieldDescriptor>,
    dst_ip: Option<FieldDescriptor>,
    src_port: Option<FieldDescriptor>,
    dst_port: Option<FieldDescriptor>,
    community_id: Option<FieldDescriptor>,
    proto_field: Option<FieldDescriptor>,
    /// Protocol implied by the record type (`TCP` → 6).
    type_proto: Option<u8>,
}

fn is_int(f: &FieldDescriptor) -> bool {
    !f.is_list()
        && matches!(
            f.kind(),
            FieldKind::Int32
                | FieldKind::Int64
                | FieldKind::Uint32
                | FieldKind::Uint64
                | FieldKind::Sint32
                | FieldKind::Sint64
                | FieldKind::Fixed32
                | FieldKind::Fixed64
                | FieldKind::Sfixed32
                | FieldKind::Sfixed64
        )
}

fn is_string(f: &FieldDescriptor) -> bool {
    !f.is_list() && f.kind() == FieldKind::String
}

/// Protocol number implied by a record type name.
fn type_proto(record_type: &str) -> Option<u8> {
    match record_type {
        "TCP" => Some(6),
        "UDP" => Some(17),
        "SCTP" => Some(132),
        "ICMPv4" => Some(1),
        "IGMP" => Some(2),
        t if t.starts_with("ICMPv6") => Some(58),
        _ => None,
    }
}

impl Shape {
    /// The shape of `record_type` (message `desc`); `None` when it has no time field.
    pub fn of(record_type: &str, desc: &MessageDescriptor) -> Option<Shape> {
        let field = |name: &str, ok: fn(&FieldDescriptor) -> bool| desc.get_field_by_name(name).filter(ok);
        let (kind, ts, last) = match (field("timestamp_first", is_int), field("timestamp_last", is_int)) {
            (Some(f), Some(l)) => (RecordKind::Flow, f, Some(l)),
            _ => (RecordKind::Packet, field("timestamp", is_int)?, None),
        };
        let (src_ip, dst_ip) = match (field("src_ip", is_string), field("dst_ip", is_string)) {
            (Some(s), Some(d)) => (Some(s), Some(d)),
            _ => (None, None),
        };
        let (src_port, dst_port) = match (field("src_port", is_int), field("dst_port", is_int)) {
            (Some(s), Some(d)) => (Some(s), Some(d)),
            _ => (None, None),
        };
        // Only fields known to hold an IP protocol: IPv4's `protocol`, IPv6's `next_header`
        // (when it is not an extension header), a flow's `protocol`/`transport_proto`.
        // (GRE, Geneve and ARP have a `protocol` field too, holding an EtherType.)
        let proto_field = match (record_type, kind) {
            ("IPv4", _) => field("protocol", is_int),
            ("IPv6", _) => field("next_header", is_int),
            (_, RecordKind::Flow) => ["protocol", "transport_proto", "transport_protocol", "ip_protocol"]
                .iter()
                .find_map(|n| field(n, |f| is_int(f) || is_string(f))),
            _ => None,
        };
        Some(Shape {
            kind,
            ts,
            last,
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            community_id: field("community_id", is_string),
            proto_field,
            type_proto: type_proto(record_type),
        })
    }

    /// Whether records carry IP addresses.
    pub fn addressed(&self) -> bool {
        self.src_ip.is_some()
    }

    /// The record's time range in ns (a packet's is one instant).
    pub fn times(&self, msg: &DynamicMessage) -> (i64, i64) {
        let first = int(msg, &self.ts).unwrap_or(0);
        let last = self.last.as_ref().and_then(|f| int(msg, f)).unwrap_or(first);
        (first, last.max(first))
    }

    /// Addresses, ports, Community ID and protocol of a record.
    pub fn view(&self, msg: &DynamicMessage, first: i64, last: i64, out: &mut View) {
        out.first_ns = first;
        out.last_ns = last;
        out.src = self.src_ip.as_ref().and_then(|f| ip(msg, f));
        out.dst = self.dst_ip.as_ref().and_then(|f| ip(msg, f));
        out.src_port = self.src_port.as_ref().and_then(|f| int(msg, f)).and_then(|v| u16::try_from(v).ok());
        out.dst_port = self.dst_port.as_ref().and_then(|f| int(msg, f)).and_then(|v| u16::try_from(v).ok());
        out.community_id.clear();
        if let Some(f) = &self.community_id
            && let Value::String(s) = &*msg.get_field(f)
        {
            out.community_id.push_str(s);
        }
        out.proto = self.type_proto.or_else(|| {
            let f = self.proto_field.as_ref()?;
            match &*msg.get_field(f) {
                Value::String(s) => crate::label::alerts::proto_number(s),
                v => value_int(v).and_then(|n| u8::try_from(n).ok()).filter(|n| !is_ipv6_extension(*n)),
            }
        });
    }
}

/// IPv6 extension header numbers (and "no next header"): not a payload protocol.
fn is_ipv6_extension(n: u8) -> bool {
    matches!(n, 0 | 43 | 44 | 59 | 60 | 135 | 139 | 140 | 253 | 254)
}

fn value_int(v: &Value) -> Option<i64> {
    match v {
        Value::I64(x) => Some(*x),
        Value::I32(x) => Some(i64::from(*x)),
        Value::U32(x) => Some(i64::from(*x)),
        Value::U64(x) => i64::try_from(*x).ok(),
        _ => None,
    }
}

fn int(msg: &DynamicMessage, f: &FieldDescriptor) -> Option<i64> {
    value_int(&msg.get_field(f))
}

fn ip(msg: &DynamicMessage, f: &FieldDescriptor) -> Option<IpAddr> {
    match &*msg.get_field(f) {
        Value::String(s) if !s.is_empty() => s.parse().ok(),
        _ => None,
    }
}

/// What matching knows of one record.
#[derive(Debug, Default, Clone)]
pub struct View {
    pub first_ns: i64,
    pub last_ns: i64,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub community_id: String,
    pub proto: Option<u8>,
}

/// Microseconds of a ns time (floor: Suricata truncates a ns capture's times).
pub fn micros(ns: i64) -> i64 {
    ns.div_euclid(1000)
}

type IpKey = (IpAddr, IpAddr);
type EpKey = ((IpAddr, u16), (IpAddr, u16));

fn ip_key(a: IpAddr, b: IpAddr) -> IpKey {
    if a <= b { (a, b) } else { (b, a) }
}

fn ep_key(a: (IpAddr, u16), b: (IpAddr, u16)) -> EpKey {
    if a <= b { (a, b) } else { (b, a) }
}

/// Alert indexes grouped by a key, each group sorted by time (then by alert order).
#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, (u32, u32)>,
    items: Vec<u32>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn build(alerts: &[Alert], key: impl Fn(&Alert) -> Option<K>) -> Self {
        let mut keyed: Vec<(K, u32)> =
            alerts.iter().enumerate().filter_map(|(i, a)| key(a).map(|k| (k, i as u32))).collect();
        // Group by key: a map from key to group number, then a stable sort by (group, time).
        let mut group: HashMap<K, u32> = HashMap::new();
        let mut gids = Vec::with_capacity(keyed.len());
        for (k, _) in &keyed {
            let n = group.len() as u32;
            gids.push(*group.entry(k.clone()).or_insert(n));
        }
        let mut order: Vec<usize> = (0..keyed.len()).collect();
        order.sort_by_key(|&i| (gids[i], alerts[keyed[i].1 as usize].ts_us, keyed[i].1));
        let mut map = HashMap::with_capacity(group.len());
        let mut items = Vec::with_capacity(keyed.len());
        let mut start = 0u32;
        for (pos, &i) in order.iter().enumerate() {
            items.push(keyed[i].1);
            let last_of_group = order.get(pos + 1).is_none_or(|&j| gids[j] != gids[i]);
            if last_of_group {
                let end = items.len() as u32;
                map.insert(keyed[i].0.clone(), (start, end));
                start = end;
            }
        }
        keyed.clear();
        Buckets { map, items }
    }

    /// The alerts of `key` with time in `[lo, hi]` µs.
    fn range<'a>(&'a self, alerts: &[Alert], key: &K, lo: i64, hi: i64) -> &'a [u32] {
        let Some(&(s, e)) = self.map.get(key) else { return &[] };
        let g = &self.items[s as usize..e as usize];
        let a = g.partition_point(|&i| alerts[i as usize].ts_us < lo);
        let b = g.partition_point(|&i| alerts[i as usize].ts_us <= hi);
        &g[a..b.max(a)]
    }
}

/// The alerts and windows, indexed.
#[derive(Debug)]
pub struct Matcher<'a> {
    pub alerts: &'a [Alert],
    pub windows: &'a [Window],
    by_micro: Buckets<i64>,
    by_endpoints: Buckets<EpKey>,
    by_ips_portless: Buckets<IpKey>,
    by_ips: Buckets<IpKey>,
    by_community_id: Buckets<String>,
}

fn proto_ok(a: Option<u8>, r: Option<u8>) -> bool {
    match (a, r) {
        (Some(a), Some(r)) => a == r,
        _ => true,
    }
}

fn port_ok(a: Option<u16>, r: Option<u16>) -> bool {
    match (a, r) {
        (Some(a), Some(r)) => a == r,
        _ => true,
    }
}

/// Whether an alert fits a packet record apart from its time (protocol, source, destination).
pub fn packet_fits(a: &Alert, v: &View) -> bool {
    proto_ok(a.proto, v.proto) && endpoints_match(a, v, false)
}

/// Whether the alert's endpoints are the record's (`either`: in either direction).
fn endpoints_match(a: &Alert, v: &View, either: bool) -> bool {
    let (Some(s), Some(d)) = (v.src, v.dst) else { return false };
    let fwd = a.src_ip == s && a.dst_ip == d && port_ok(a.src_port, v.src_port) && port_ok(a.dst_port, v.dst_port);
    fwd || (either
        && a.src_ip == d
        && a.dst_ip == s
        && port_ok(a.src_port, v.dst_port)
        && port_ok(a.dst_port, v.src_port))
}

impl<'a> Matcher<'a> {
    pub fn new(alerts: &'a [Alert], windows: &'a [Window]) -> Self {
        Matcher {
            alerts,
            windows,
            by_micro: Buckets::build(alerts, |a| Some(a.ts_us)),
            by_endpoints: Buckets::build(alerts, |a| Some(ep_key((a.src_ip, a.src_port?), (a.dst_ip, a.dst_port?)))),
            by_ips_portless: Buckets::build(alerts, |a| {
                (a.src_port.is_none() || a.dst_port.is_none()).then(|| ip_key(a.src_ip, a.dst_ip))
            }),
            by_ips: Buckets::build(alerts, |a| Some(ip_key(a.src_ip, a.dst_ip))),
            by_community_id: Buckets::build(alerts, |a| a.community_id.clone()),
        }
    }

    /// Whether any alert has this microsecond (a packet record needs no more work otherwise).
    pub fn any_alert_at(&self, ns: i64) -> bool {
        self.by_micro.map.contains_key(&micros(ns))
    }

    /// Alerts matching a packet record with addresses; appends their indexes.
    pub fn packet_alerts(&self, v: &View, out: &mut Vec<u32>) {
        let us = micros(v.first_ns);
        for &i in self.by_micro.range(self.alerts, &us, us, us) {
            let a = &self.alerts[i as usize];
            if packet_fits(a, v) {
                out.push(i);
            }
        }
    }

    /// Alerts matching a flow record; appends their indexes.
    pub fn flow_alerts(&self, v: &View, out: &mut Vec<u32>) {
        let (lo, hi) = (micros(v.first_ns), micros(v.last_ns));
        let start = out.len();
        if let (Some(s), Some(d)) = (v.src, v.dst) {
            let check = |i: &u32| {
                let a = &self.alerts[*i as usize];
                proto_ok(a.proto, v.proto) && endpoints_match(a, v, true)
            };
            match (v.src_port, v.dst_port) {
                (Some(sp), Some(dp)) => {
                    out.extend(
                        self.by_endpoints
                            .range(self.alerts, &ep_key((s, sp), (d, dp)), lo, hi)
                            .iter()
                            .filter(|i| check(i)),
                    );
                    out.extend(
                        self.by_ips_portless.range(self.alerts, &ip_key(s, d), lo, hi).iter().filter(|i| check(i)),
                    );
                }
                _ => out.extend(self.by_ips.range(self.alerts, &ip_key(s, d), lo, hi).iter().filter(|i| check(i))),
            }
        }
        if !v.community_id.is_empty() {
            out.extend(self.by_community_id.range(self.alerts, &v.community_id, lo, hi));
        }
        if out.len() - start > 1 {
            out[start..].sort_unstable();
            let mut w = start + 1;
            for r in start + 1..out.len() {
                if out[r] != out[w - 1] {
                    out[w] = out[r];
                    w += 1;
                }
            }
            out.truncate(w);
        }
    }

    /// Windows matching a record; appends `alerts.len() + window index`. A record without
    /// addresses only matches windows that name no hosts.
    pub fn window_matches(&self, v: &View, out: &mut Vec<u32>) {
        let base = self.alerts.len() as u32;
        for (i, w) in self.windows.iter().enumerate() {
            if !w.overlaps(v.first_ns, v.last_ns) || !w.matches_proto(v.proto) {
                continue;
            }
            let hosts_ok = match (v.src, v.dst) {
                (Some(s), Some(d)) => w.matches_addresses(s, d),
                _ => !w.needs_addresses(),
            };
            if hosts_ok {
                out.push(base + i as u32);
            }
        }
    }
}

/// How several matching labels become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The most severe alert (lowest Suricata priority), then the first in the file; windows
    /// come after alerts, in file order.
    First,
    /// All distinct labels joined with ` | `, in the order of their first source.
    Collect,
    /// Distinct labels on one record are an error.
    Strict,
}

/// Label texts of the sources (alerts, then windows).
#[derive(Debug)]
pub struct Labels {
    pub texts: Vec<String>,
    /// Per source: index into `texts`.
    pub of: Vec<u32>,
    /// Per source: rank for `Mode::First` (severity, source index).
    rank: Vec<(u8, u32)>,
}

impl Labels {
    pub fn new(alerts: &[Alert], windows: &[Window], description: bool) -> Self {
        let mut texts: Vec<String> = Vec::new();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut of = Vec::with_capacity(alerts.len() + windows.len());
        let mut rank = Vec::with_capacity(of.capacity());
        let mut intern = |s: String| -> u32 {
            if let Some(&i) = ids.get(&s) {
                return i;
            }
            let i = texts.len() as u32;
            texts.push(s.clone());
            ids.insert(s, i);
            i
        };
        for (i, a) in alerts.iter().enumerate() {
            of.push(intern(a.label(description)));
            rank.push((a.severity.unwrap_or(u8::MAX), i as u32));
        }
        for (i, w) in windows.iter().enumerate() {
            of.push(intern(w.label(description)));
            rank.push((u8::MAX, (alerts.len() + i) as u32));
        }
        Labels { texts, of, rank }
    }

    /// The label of a record matched by `sources` (sorted, deduplicated by the caller or not);
    /// `Err` with the distinct labels in strict mode when they differ.
    pub fn decide<'s>(&'s self, sources: &[u32], mode: Mode, buf: &'s mut String) -> Result<&'s str, Vec<&'s str>> {
        buf.clear();
        match sources {
            [] => return Ok("normal"),
            [one] => return Ok(&self.texts[self.of[*one as usize] as usize]),
            _ => {}
        }
        let mut distinct: Vec<u32> = Vec::with_capacity(sources.len());
        let mut order: Vec<u32> = sources.to_vec();
        order.sort_unstable();
        for s in &order {
            let l = self.of[*s as usize];
            if !distinct.contains(&l) {
                distinct.push(l);
            }
        }
        if distinct.len() == 1 {
            return Ok(&self.texts[distinct[0] as usize]);
        }
        match mode {
            Mode::Strict => Err(distinct.iter().map(|l| self.texts[*l as usize].as_str()).collect()),
            Mode::Collect => {
                for (i, l) in distinct.iter().enumerate() {
                    if i > 0 {
                        buf.push_str(" | ");
                    }
                    buf.push_str(&self.texts[*l as usize]);
                }
                Ok(buf.as_str())
            }
            Mode::First => {
                let best = order.iter().min_by_key(|s| self.rank[**s as usize]).copied().unwrap_or(order[0]);
                Ok(&self.texts[self.of[best as usize] as usize])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::alerts::{parse_alerts, parse_tz};

    fn alerts(text: &str) -> Vec<Alert> {
        let f = parse_alerts(text, &parse_tz("UTC").unwrap());
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        f.alerts
    }

    fn line(ts: &str, class: &str, prio: u8, proto: &str, src: &str, dst: &str) -> String {
        format!(
            "{ts}  [**] [1:1:1] sig {class} [**] [Classification: {class}] [Priority: {prio}] {{{proto}}} {src} -> {dst}\n"
        )
    }

    fn view(
        first_ns: i64,
        last_ns: i64,
        src: &str,
        sp: Option<u16>,
        dst: &str,
        dp: Option<u16>,
        proto: Option<u8>,
    ) -> View {
        View {
            first_ns,
            last_ns,
            src: Some(src.parse().unwrap()),
            dst: Some(dst.parse().unwrap()),
            src_port: sp,
            dst_port: dp,
            community_id: String::new(),
            proto,
        }
    }

    const T: i64 = 1_600_000_000_000_000_000; // 09/13/2020-12:26:40 UTC

    #[test]
    fn packets_match_on_the_microsecond_and_endpoints_either_way() {
        let text = line("09/13/2020-12:26:40.000001", "A", 2, "TCP", "10.0.0.1:1234", "10.0.0.2:80")
            + &line("09/13/2020-12:26:40.000001", "B", 1, "UDP", "10.0.0.1:1234", "10.0.0.2:80");
        let al = alerts(&text);
        let m = Matcher::new(&al, &[]);
        let mut out = Vec::new();
        // 999 ns into the microsecond, a TCP record.
        m.packet_alerts(&view(T + 1999, T + 1999, "10.0.0.1", Some(1234), "10.0.0.2", Some(80), Some(6)), &mut out);
        assert_eq!(out, vec![0], "the UDP alert does not match a TCP record");
        out.clear();
        m.packet_alerts(&view(T + 1999, T + 1999, "10.0.0.2", Some(80), "10.0.0.1", Some(1234), Some(6)), &mut out);
        assert!(out.is_empty(), "a reply in the same microsecond is another packet");
        m.packet_alerts(&view(T + 2000, T + 2000, "10.0.0.1", Some(1234), "10.0.0.2", Some(80), Some(6)), &mut out);
        assert!(out.is_empty(), "the next microsecond");
        m.packet_alerts(&view(T + 1000, T + 1000, "10.0.0.1", Some(1234), "10.0.0.2", Some(81), None), &mut out);
        assert!(out.is_empty(), "another port");
        // A record without ports (ICMP-like) matches on addresses alone.
        m.packet_alerts(&view(T + 1000, T + 1000, "10.0.0.1", None, "10.0.0.2", None, None), &mut out);
        assert_eq!(out, vec![0, 1]);
        assert!(m.any_alert_at(T + 1500) && !m.any_alert_at(T + 2500));
    }

    #[test]
    fn same_address_both_sides_needs_the_ports() {
        // The IPv6 loopback pair: ::1 -> ::1, told apart by the ports only.
        let al = alerts(&line(
            "09/13/2020-12:26:40.000000",
            "A",
            3,
            "TCP",
            "0000:0000:0000:0000:0000:0000:0000:0001:3000",
            "0000:0000:0000:0000:0000:0000:0000:0001:56508",
        ));
        let m = Matcher::new(&al, &[]);
        let mut out = Vec::new();
        m.packet_alerts(&view(T, T, "::1", Some(3000), "::1", Some(56508), Some(6)), &mut out);
        assert_eq!(out, vec![0]);
        out.clear();
        m.packet_alerts(&view(T, T, "::1", Some(56508), "::1", Some(3000), Some(6)), &mut out);
        assert!(out.is_empty(), "the other direction");
        m.flow_alerts(&view(T, T, "::1", Some(56508), "::1", Some(3000), Some(6)), &mut out);
        assert_eq!(out, vec![0], "a flow matches either way");
        out.clear();
        m.flow_alerts(&view(T, T, "::1", Some(56508), "::1", Some(3001), Some(6)), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn flows_match_by_time_overlap_endpoints_and_community_id() {
        let mut text = String::new();
        for (ts, src, dst) in [
            ("09/13/2020-12:26:39.999999", "10.0.0.1:1234", "10.0.0.2:80"), // before the flow
            ("09/13/2020-12:26:40.000000", "10.0.0.1:1234", "10.0.0.2:80"), // first
            ("09/13/2020-12:26:45.000000", "10.0.0.2:80", "10.0.0.1:1234"), // inside, reversed
            ("09/13/2020-12:26:50.000000", "10.0.0.1:1234", "10.0.0.2:80"), // last
            ("09/13/2020-12:26:50.000001", "10.0.0.1:1234", "10.0.0.2:80"), // after
            ("09/13/2020-12:26:45.000000", "10.0.0.1:1235", "10.0.0.2:80"), // other port
        ] {
            text += &line(ts, "A", 1, "TCP", src, dst);
        }
        text += &line("09/13/2020-12:26:45.000000", "P", 1, "ICMP", "10.0.0.1:8", "10.0.0.2:0");
        let al = alerts(&text);
        let m = Matcher::new(&al, &[]);
        let mut out = Vec::new();
        let v = view(T, T + 10_000_000_999, "10.0.0.2", Some(80), "10.0.0.1", Some(1234), Some(6));
        m.flow_alerts(&v, &mut out);
        assert_eq!(out, vec![1, 2, 3], "the ICMP alert has another protocol");
        out.clear();
        let v = view(T, T + 10_000_000_999, "10.0.0.2", Some(80), "10.0.0.1", Some(1234), None);
        m.flow_alerts(&v, &mut out);
        assert_eq!(out, vec![1, 2, 3, 6], "without a protocol on the record, the port-less alert fits");
        // Community ID: an eve alert whose addresses differ still matches by its ID.
        let eve = r#"{"timestamp":"2020-09-13T12:26:41.000000+0000","event_type":"alert","src_ip":"192.0.2.1","src_port":1,"dest_ip":"192.0.2.2","dest_port":2,"proto":"TCP","community_id":"1:xyz","alert":{"gid":1,"signature_id":9,"rev":1,"signature":"s","category":"C","severity":1}}"#;
        let al = alerts(eve);
        let m = Matcher::new(&al, &[]);
        let mut v = view(T, T + 10_000_000_000, "10.0.0.2", Some(80), "10.0.0.1", Some(1234), Some(6));
        out.clear();
        m.flow_alerts(&v, &mut out);
        assert!(out.is_empty());
        v.community_id = "1:xyz".into();
        m.flow_alerts(&v, &mut out);
        assert_eq!(out, vec![0]);
    }

    #[test]
    fn label_choice() {
        let text = line("09/13/2020-12:26:40.000000", "Low", 3, "TCP", "10.0.0.1:1", "10.0.0.2:2")
            + &line("09/13/2020-12:26:40.000000", "High", 1, "TCP", "10.0.0.1:1", "10.0.0.2:2")
            + &line("09/13/2020-12:26:40.000000", "Low", 2, "TCP", "10.0.0.1:1", "10.0.0.2:2");
        let al = alerts(&text);
        let l = Labels::new(&al, &[], false);
        let mut buf = String::new();
        assert_eq!(l.decide(&[], Mode::First, &mut buf).unwrap(), "normal");
        assert_eq!(l.decide(&[0, 1, 2], Mode::First, &mut buf).unwrap(), "High", "most severe");
        assert_eq!(l.decide(&[2, 1, 0], Mode::Collect, &mut buf).unwrap(), "Low | High", "first occurrence order");
        assert_eq!(l.decide(&[0, 2], Mode::Strict, &mut buf).unwrap(), "Low", "equal labels are no conflict");
        assert_eq!(l.decide(&[0, 1], Mode::Strict, &mut buf).unwrap_err(), vec!["Low", "High"]);
        let d = Labels::new(&al, &[], true);
        assert_eq!(d.decide(&[0], Mode::First, &mut buf).unwrap(), "sig Low");
    }
}
