//! Suricata alerts: reading `eve.json` (one JSON object per line; only `event_type: alert`) and
//! `fast.log` (one text line per alert), detected from the content, into [`Alert`]s; and the
//! time-zone argument (`--tz`) that fast.log's offset-less local times need.
//!
//! Times are kept in microseconds since the epoch, Suricata's resolution in both formats. A line
//! that cannot be read is data, not a failure: it is counted and kept for `--verbose`.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Errors reading an alert file or a time-zone argument.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no alert line (eve.json or fast.log){}", first_error(.errors))]
    NoAlerts { path: PathBuf, errors: Vec<(usize, String)> },
    #[error(
        "unknown time zone {0:?}: give an offset (+01:00, -0500, UTC) or an IANA name (Europe/Berlin) from the system's tz database"
    )]
    TimeZone(String),
}

fn first_error(errors: &[(usize, String)]) -> String {
    match errors.first() {
        Some((line, e)) => format!("; line {line}: {e}"),
        None => String::new(),
    }
}

/// The two alert formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// Suricata's EVE JSON: UTC timestamps with offsets, flow id, Community ID.
    Eve,
    /// Suricata's fast.log: local times without offset (`--tz`).
    Fast,
}

impl AlertFormat {
    pub fn name(self) -> &'static str {
        match self {
            AlertFormat::Eve => "eve.json",
            AlertFormat::Fast => "fast.log",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Line in the alert file (1-based).
    pub line: usize,
    /// Time of the alert's packet, microseconds since the epoch (UTC).
    pub ts_us: i64,
    /// IP protocol number (`TCP` → 6), when known.
    pub proto: Option<u8>,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    /// Ports, only for protocols that have them (TCP, UDP, SCTP, or an unknown protocol):
    /// fast.log prints ICMP type and code where ports would be.
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub community_id: Option<String>,
    pub flow_id: Option<u64>,
    pub gid: u32,
    pub sid: u32,
    pub rev: u32,
    /// The rule's `msg` (eve `alert.signature`).
    pub signature: String,
    /// The rule's classtype description (eve `alert.category`, fast.log `Classification`).
    pub classification: String,
    /// Suricata priority / severity: 1 is the most severe.
    pub severity: Option<u8>,
}

impl Alert {
    /// The label this alert gives: its classification (or, with `description`, its signature);
    /// when that is empty or Suricata's `(null)`, the other one; else the rule id `gid:sid:rev`.
    pub fn label(&self, description: bool) -> String {
        let usable = |s: &str| !s.trim().is_empty() && s.trim() != "(null)";
        let (first, second) =
            if description { (&self.signature, &self.classification) } else { (&self.classification, &self.signature) };
        if usable(first) {
            first.trim().to_string()
        } else if usable(second) {
            second.trim().to_string()
        } else {
            format!("{}:{}:{}", self.gid, self.sid, self.rev)
        }
    }

    /// One line describing the alert (for `--verbose`).
    pub fn describe(&self, description: bool) -> String {
        let ep = |ip: &IpAddr, port: Option<u16>| match (ip, port) {
            (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
            (a, Some(p)) => format!("{a}:{p}"),
            (a, None) => a.to_string(),
        };
        let time = jiff::Timestamp::from_microsecond(self.ts_us).map(|t| t.to_string()).unwrap_or_default();
        format!(
            "line {}: {} {} {} -> {} {:?}",
            self.line,
            time,
            self.proto.map(proto_name).unwrap_or("?"),
            ep(&self.src_ip, self.src_port),
            ep(&self.dst_ip, self.dst_port),
            self.label(description)
        )
    }
}

/// The alerts of one file.
#[derive(Debug, Default)]
pub struct AlertFile {
    pub format: Option<AlertFormat>,
    pub alerts: Vec<Alert>,
    /// eve.json events of other types (flow, http, stats, ...), skipped.
    pub other_events: usize,
    /// Lines that could not be read: (line, reason).
    pub errors: Vec<(usize, String)>,
    /// fast.log times that fall into a daylight-saving gap or fold of `--tz` (read with the
    /// offset before the transition).
    pub ambiguous: usize,
}

/// Reads an eve.json or fast.log file; `tz` is the zone of fast.log's local times. The file is
/// streamed (a full eve.json also holds flow, http, stats ... events): only alerts are kept.
pub fn read_alerts(path: &Path, tz: &TimeZone) -> Result<AlertFile, AlertError> {
    use std::io::BufRead;
    let read_err = |source| AlertError::Read { path: path.into(), source };
    let f = std::fs::File::open(path).map_err(read_err)?;
    let mut r = std::io::BufReader::with_capacity(256 << 10, f);
    let mut p = Parser::new(tz);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf).map_err(read_err)? == 0 {
            break;
        }
        p.line(&String::from_utf8_lossy(&buf));
    }
    let out = p.out;
    if out.alerts.is_empty() && !out.errors.is_empty() {
        return Err(AlertError::NoAlerts { path: path.into(), errors: out.errors });
    }
    Ok(out)
}

/// Parses the text of an eve.json or fast.log file (format from the first non-empty line).
pub fn parse_alerts(text: &str, tz: &TimeZone) -> AlertFile {
    let mut p = Parser::new(tz);
    for line in text.lines() {
        p.line(line);
    }
    p.out
}

/// Line-by-line reading; the format is decided by the first non-empty line.
struct Parser<'a> {
    tz: &'a TimeZone,
    line_no: usize,
    out: AlertFile,
}

impl<'a> Parser<'a> {
    fn new(tz: &'a TimeZone) -> Self {
        Parser { tz, line_no: 0, out: AlertFile::default() }
    }

    fn line(&mut self, line: &str) {
        self.line_no += 1;
        let n = self.line_no;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return;
        }
        let format = *self.out.format.get_or_insert(if line.trim_start().starts_with('{') {
            AlertFormat::Eve
        } else {
            AlertFormat::Fast
        });
        let r = match format {
            AlertFormat::Eve => parse_eve_line(line, n),
            AlertFormat::Fast => parse_fast_line(line, n, self.tz),
        };
        match r {
            Ok(Parsed::Alert(a, ambiguous)) => {
                self.out.ambiguous += usize::from(ambiguous);
                self.out.alerts.push(a);
            }
            Ok(Parsed::Other) => self.out.other_events += 1,
            Err(e) => self.out.errors.push((n, e)),
        }
    }
}

enum Parsed {
    /// The alert and whether its local time was ambiguous.
    Alert(Alert, bool),
    Other,
}

/// IP protocol number of a Suricata protocol name (`TCP`, `IPv6-ICMP`, `ICMP`, ...) or a
/// decimal number (`006`).
pub fn proto_number(name: &str) -> Option<u8> {
    let n = name.trim();
    if let Ok(v) = n.parse::<u8>() {
        return Some(v);
    }
    Some(match n.to_ascii_lowercase().as_str() {
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        "icmp" | "icmpv4" => 1,
        "ipv6-icmp" | "icmpv6" | "icmp6" => 58,
        "igmp" => 2,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        _ => return None,
    })
}

/// Suricata's name of an IP protocol number (for messages).
pub fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        1 => "ICMP",
        58 => "IPv6-ICMP",
        2 => "IGMP",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        _ => "other",
    }
}

/// Whether addresses of this protocol come with ports.
fn has_ports(proto: Option<u8>) -> bool {
    matches!(proto, None | Some(6 | 17 | 132))
}

#[derive(serde::Deserialize)]
struct EveLine {
    event_type: Option<String>,
    timestamp: Option<String>,
    flow_id: Option<u64>,
    src_ip: Option<String>,
    src_port: Option<u16>,
    dest_ip: Option<String>,
    dest_port: Option<u16>,
    proto: Option<serde_json::Value>,
    community_id: Option<String>,
    alert: Option<EveAlert>,
}

#[derive(serde::Deserialize)]
struct EveAlert {
    #[serde(default)]
    gid: u32,
    #[serde(default)]
    signature_id: u32,
    #[serde(default)]
    rev: u32,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    category: String,
    severity: Option<u8>,
}

fn parse_eve_line(line: &str, n: usize) -> Result<Parsed, String> {
    // Most lines of a full eve.json are other events; skip them before parsing when possible.
    if !line.contains("\"alert\"") {
        return Ok(Parsed::Other);
    }
    let e: EveLine = serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    if e.event_type.as_deref() != Some("alert") {
        return Ok(Parsed::Other);
    }
    let a = e.alert.ok_or("alert event without an \"alert\" object")?;
    let ts = e.timestamp.ok_or("alert without a timestamp")?;
    let ts_us = parse_eve_time(&ts)?;
    let src_ip = parse_ip(e.src_ip.as_deref().ok_or("alert without src_ip")?)?;
    let dst_ip = parse_ip(e.dest_ip.as_deref().ok_or("alert without dest_ip")?)?;
    let proto = match e.proto {
        Some(serde_json::Value::String(s)) => proto_number(&s),
        Some(serde_json::Value::Number(v)) => v.as_u64().and_then(|v| u8::try_from(v).ok()),
        _ => None,
    };
    let ports = has_ports(proto);
    Ok(Parsed::Alert(
        Alert {
            line: n,
            ts_us,
            proto,
            src_ip,
            dst_ip,
            src_port: e.src_port.filter(|_| ports),
            dst_port: e.dest_port.filter(|_| ports),
            community_id: e.community_id.filter(|c| !c.is_empty()),
            flow_id: e.flow_id,
            gid: a.gid,
            sid: a.signature_id,
            rev: a.rev,
            signature: a.signature,
            classification: a.category,
            severity: a.severity,
        },
        false,
    ))
}

/// eve's `2014-08-02T10:50:25.823699+0000` (an offset is required: eve always writes one).
fn parse_eve_time(s: &str) -> Result<i64, String> {
    let t = jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", s)
        .and_then(|b| b.to_timestamp())
        .or_else(|_| s.parse::<jiff::Timestamp>())
        .map_err(|e| format!("bad timestamp {s:?}: {e}"))?;
    Ok(t.as_microsecond())
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.trim().parse().map_err(|_| format!("bad IP address {s:?}"))
}

/// `MM/DD/YYYY-HH:MM:SS.uuuuuu  [action] [**] [gid:sid:rev] msg [**] [Classification: c]
/// [Priority: n] {PROTO} src[:port] -> dst[:port]`
fn parse_fast_line(line: &str, n: usize, tz: &TimeZone) -> Result<Parsed, String> {
    let ts_text = line.get(..26).ok_or("line too short for a fast.log timestamp")?;
    let dt = DateTime::strptime("%m/%d/%Y-%H:%M:%S%.f", ts_text)
        .map_err(|e| format!("bad fast.log timestamp {ts_text:?}: {e}"))?;
    let amb = tz.to_ambiguous_timestamp(dt);
    let ambiguous = !matches!(amb.offset(), AmbiguousOffset::Unambiguous { .. });
    let ts_us = amb.compatible().map_err(|e| format!("time {ts_text:?} in {tz:?}: {e}"))?.as_microsecond();
    let rest = &line[26..];
    let star = rest.find("[**]").ok_or("no [**] marker")?;
    let rest = rest[star + 4..].trim_start();
    // [gid:sid:rev]
    let rest = rest.strip_prefix('[').ok_or("no [gid:sid:rev]")?;
    let close = rest.find(']').ok_or("no [gid:sid:rev]")?;
    let mut ids = rest[..close].split(':').map(|x| x.trim().parse::<u32>());
    let (gid, sid, rev) = match (ids.next(), ids.next(), ids.next()) {
        (Some(Ok(g)), Some(Ok(s)), Some(Ok(r))) => (g, s, r),
        _ => return Err(format!("bad rule id [{}]", &rest[..close])),
    };
    let rest = &rest[close + 1..];
    let end_msg = rest.find(" [**]").ok_or("no closing [**] after the message")?;
    let signature = rest[..end_msg].trim().to_string();
    let mut rest = rest[end_msg + 5..].trim_start();
    let mut classification = String::new();
    if let Some(r) = rest.strip_prefix("[Classification:") {
        let end = r.find("] [Priority:").or_else(|| r.find(']')).ok_or("unterminated [Classification: ...]")?;
        classification = r[..end].trim().to_string();
        rest = r[end + 1..].trim_start();
    }
    let mut severity = None;
    if let Some(r) = rest.strip_prefix("[Priority:") {
        let end = r.find(']').ok_or("unterminated [Priority: ...]")?;
        severity = r[..end].trim().parse::<u8>().ok();
        rest = r[end + 1..].trim_start();
    }
    let rest = rest.strip_prefix('{').ok_or("no {PROTO}")?;
    let end = rest.find('}').ok_or("no {PROTO}")?;
    let proto_text = &rest[..end];
    let proto = proto_number(proto_text);
    let (src, dst) = rest[end + 1..].trim().split_once(" -> ").ok_or("no `src -> dst`")?;
    let (src_ip, src_port) = endpoint(src)?;
    let (dst_ip, dst_port) = endpoint(dst)?;
    let ports = has_ports(proto);
    Ok(Parsed::Alert(
        Alert {
            line: n,
            ts_us,
            proto,
            src_ip,
            dst_ip,
            src_port: src_port.filter(|_| ports),
            dst_port: dst_port.filter(|_| ports),
            community_id: None,
            flow_id: None,
            gid,
            sid,
            rev,
            signature,
            classification,
            severity,
        },
        ambiguous,
    ))
}

/// `addr:port`, split on the LAST colon (fast.log prints IPv6 addresses fully expanded, so
/// `0000:...:0001:3000` is `::1` port 3000); `[addr]:port`; or an address alone.
fn endpoint(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let s = s.trim();
    if let Some(r) = s.strip_prefix('[')
        && let Some((a, p)) = r.split_once("]:")
    {
        return Ok((parse_ip(a)?, Some(p.parse().map_err(|_| format!("bad port in {s:?}"))?)));
    }
    if let Some((a, p)) = s.rsplit_once(':')
        && let (Ok(ip), Ok(port)) = (a.parse::<IpAddr>(), p.parse::<u16>())
    {
        return Ok((ip, Some(port)));
    }
    Ok((parse_ip(s)?, None))
}

/// `--tz`: `UTC`/`Z`, a fixed offset (`+01:00`, `-0500`, `+1`), or an IANA zone name.
pub fn parse_tz(s: &str) -> Result<TimeZone, AlertError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
        return Ok(TimeZone::UTC);
    }
    let body = t.strip_prefix("UTC").or_else(|| t.strip_prefix("GMT")).unwrap_or(t);
    if let Some(sign) = body.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits = &body[1..];
        let (h, m) = match digits.split_once(':') {
            Some((h, m)) => (h, m),
            None if digits.len() == 4 => digits.split_at(2),
            None => (digits, "0"),
        };
        let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>()) else {
            return Err(AlertError::TimeZone(s.into()));
        };
        if h > 25 || m > 59 {
            return Err(AlertError::TimeZone(s.into()));
        }
        let secs = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
        let off = jiff::tz::Offset::from_seconds(secs).map_err(|_| AlertError::TimeZone(s.into()))?;
        return Ok(TimeZone::fixed(off));
    }
    TimeZone::get(t).map_err(|_| AlertError::TimeZone(s.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(line: &str, tz: &TimeZone) -> Alert {
        match parse_fast_line(line, 1, tz) {
            Ok(Parsed::Alert(a, _)) => a,
            Ok(Parsed::Other) => panic!("not an alert"),
            Err(e) => panic!("{e}: {line}"),
        }
    }

    #[test]
    fn fast_log_ipv6_splits_on_the_last_colon() {
        // A line of suricata-verify's http2-files expected fast.log.
        let l = "08/02/2014-10:50:25.823699  [**] [1:6:1] (null) [**] [Classification: (null)] [Priority: 3] {TCP} 0000:0000:0000:0000:0000:0000:0000:0001:3000 -> 0000:0000:0000:0000:0000:0000:0000:0001:56508";
        let a = fast(l, &TimeZone::UTC);
        assert_eq!(a.src_ip, "::1".parse::<IpAddr>().unwrap());
        assert_eq!((a.src_port, a.dst_port), (Some(3000), Some(56508)));
        assert_eq!(a.ts_us, 1_406_976_625_823_699);
        assert_eq!((a.gid, a.sid, a.rev, a.severity, a.proto), (1, 6, 1, Some(3), Some(6)));
        assert_eq!(a.label(false), "1:6:1", "(null) classification and message fall back to the rule id");
    }

    #[test]
    fn fast_log_ipv4_icmp_action_and_time_zone() {
        let l = "03/15/2021-23:30:00.000001  [Drop] [**] [1:2100366:8] GPL ICMP_INFO PING *NIX [**] [Classification: Misc activity] [Priority: 3] {ICMP} 10.0.0.1:8 -> 10.0.0.2:0";
        let tz = parse_tz("+01:00").unwrap();
        let a = fast(l, &tz);
        assert_eq!(a.ts_us, 1_615_847_400_000_001, "23:30 at +01:00 is 22:30 UTC");
        assert_eq!((a.src_port, a.dst_port), (None, None), "ICMP type/code are not ports");
        assert_eq!(a.label(false), "Misc activity");
        assert_eq!(a.label(true), "GPL ICMP_INFO PING *NIX");
        let b = fast(
            "03/15/2021-23:30:00.000001  [**] [1:1:1] x [**] [Classification: C] [Priority: 1] {UDP} 10.0.0.1:53 -> 10.0.0.2:1024",
            &parse_tz("Europe/Berlin").unwrap(),
        );
        assert_eq!(b.ts_us, a.ts_us, "Berlin is +01:00 in March before the switch");
        assert_eq!((b.src_port, b.dst_port, b.severity), (Some(53), Some(1024), Some(1)));
    }

    #[test]
    fn eve_alert_with_offset() {
        let l = r#"{"timestamp":"2014-08-02T12:50:25.823699+0200","flow_id":1234,"pcap_cnt":15,"event_type":"alert","src_ip":"0000:0000:0000:0000:0000:0000:0000:0001","src_port":3000,"dest_ip":"::1","dest_port":56508,"proto":"TCP","community_id":"1:abc=","alert":{"action":"allowed","gid":1,"signature_id":7,"rev":1,"signature":"S","category":"Attempted Information Leak","severity":2}}"#;
        let f = parse_alerts(&format!("{l}\n{{\"event_type\":\"flow\"}}\n"), &TimeZone::UTC);
        assert_eq!(f.format, Some(AlertFormat::Eve));
        assert_eq!(f.other_events, 1);
        let a = &f.alerts[0];
        assert_eq!(a.ts_us, 1_406_976_625_823_699);
        assert_eq!(a.flow_id, Some(1234));
        assert_eq!(a.community_id.as_deref(), Some("1:abc="));
        assert_eq!(a.label(false), "Attempted Information Leak");
        assert_eq!(a.severity, Some(2));
        let z = parse_eve_time("2014-08-02T10:50:25.823699Z").unwrap();
        assert_eq!(z, a.ts_us);
    }

    #[test]
    fn bad_lines_are_counted() {
        let f = parse_alerts("01/01/2020-00:00:00.000000  garbage\nnot even a time\n", &TimeZone::UTC);
        assert_eq!(f.alerts.len(), 0);
        assert_eq!(f.errors.len(), 2);
        assert_eq!(f.errors[0].0, 1);
    }

    #[test]
    fn time_zones() {
        for (s, secs) in [("+01:00", 3600), ("-0500", -18000), ("+5", 18000), ("UTC+02:30", 9000), ("utc", 0)] {
            let tz = parse_tz(s).unwrap();
            assert_eq!(tz.to_offset(jiff::Timestamp::UNIX_EPOCH).seconds(), secs, "{s}");
        }
        assert!(parse_tz("Mars/Olympus").is_err());
        assert!(parse_tz("+99:00").is_err());
        // A DST fold: 02:30 on 2021-10-31 happens twice in Berlin.
        let f = parse_alerts(
            "10/31/2021-02:30:00.000000  [**] [1:1:1] x [**] [Classification: C] [Priority: 1] {UDP} 10.0.0.1:1 -> 10.0.0.2:2\n",
            &parse_tz("Europe/Berlin").unwrap(),
        );
        assert_eq!(f.ambiguous, 1);
    }
}
