//! Attack windows (`netcap label --windows FILE.yaml`): time ranges in a time zone, the hosts
//! involved (attackers and victims, any traffic of some IPs, or any host at all), an optional
//! transport protocol and the category to label with. Also reads the Go netcap label manager's
//! files (`location`, `timeFormat`/`dateFormat` as Go layouts, `date` + `start`/`end`,
//! `flagVictimTraffic`).
//!
//! ```yaml
//! tz: Europe/Berlin            # or +01:00; default: --tz, else UTC (alias: location)
//! attacks:
//!   - name: FTP-BruteForce
//!     start: 2018-02-14 10:32  # local time in tz; or RFC 3339 with an offset
//!     end: 2018-02-14 12:09    # inclusive
//!     attackers: [18.221.219.4, 172.31.70.0/24]
//!     victims: [172.31.69.25]  # or `any`
//!     proto: tcp               # optional: tcp, udp, icmp, icmpv6, sctp or a number
//!     category: bruteforce
//!     mitre: T1110
//! ```
//!
//! A record matches a window when its time (a flow's first–last range: any overlap) is inside
//! `[start, end]` and its addresses fit: `ips` — either address is listed; `attackers` and
//! `victims` — one side is an attacker and the other a victim (with `flag_victim_traffic`, any
//! traffic of a victim); only one of the lists — either address is in it; none — any record.

use crate::label::alerts::{parse_tz, proto_number};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Errors reading a window file.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("{path}: attack {index} ({name}): {message}")]
    Attack { path: PathBuf, index: usize, name: String, message: String },
}

/// An address, a network (`10.0.0.0/8`) or `any`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Net {
    Any,
    Prefix(IpAddr, u8),
}

impl Net {
    fn parse(s: &str) -> Result<Net, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("any") || s == "*" {
            return Ok(Net::Any);
        }
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| format!("bad prefix length in {s:?}"))?)),
            None => (s, None),
        };
        let ip: IpAddr = a.parse().map_err(|_| format!("bad IP address {s:?}"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return Err(format!("bad prefix length in {s:?}"));
        }
        Ok(Net::Prefix(ip, len))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Net::Any, _) => true,
            (Net::Prefix(IpAddr::V4(n), len), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *len),
            (Net::Prefix(IpAddr::V6(n), len), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *len),
            _ => false,
        }
    }
}

fn prefix_eq(n: &[u8], a: &[u8], len: u8) -> bool {
    let full = usize::from(len / 8);
    if n[..full] != a[..full] {
        return false;
    }
    let rest = len % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        n[full] & mask == a[full] & mask
    }
}

fn any_contains(list: &[Net], ip: IpAddr) -> bool {
    list.iter().any(|n| n.contains(ip))
}

/// One attack window.
#[derive(Debug, Clone)]
pub struct Window {
    pub name: String,
    pub category: String,
    pub mitre: String,
    /// Inclusive, ns since the epoch.
    pub start_ns: i64,
    pub end_ns: i64,
    pub ips: Vec<Net>,
    pub attackers: Vec<Net>,
    pub victims: Vec<Net>,
    /// Transport protocol number, when the window names one.
    pub proto: Option<u8>,
    /// A `proto` that is not a transport protocol (netcap files say `HTTP`, `Unknown`): kept
    /// for the summary, not used for matching.
    pub proto_note: Option<String>,
    pub flag_victim_traffic: bool,
}

impl Window {
    /// The label: the category (with `description`, the name); the other when it is empty.
    pub fn label(&self, description: bool) -> String {
        let (a, b) = if description { (&self.name, &self.category) } else { (&self.category, &self.name) };
        if a.trim().is_empty() { b.trim().to_string() } else { a.trim().to_string() }
    }

    /// Whether matching needs the record's addresses (some list names a host, not `any`).
    pub fn needs_addresses(&self) -> bool {
        [&self.ips, &self.attackers, &self.victims].iter().any(|l| l.iter().any(|n| *n != Net::Any))
    }

    /// Whether a record between `src` and `dst` fits the window's host lists.
    pub fn matches_addresses(&self, src: IpAddr, dst: IpAddr) -> bool {
        if !self.ips.is_empty() {
            return any_contains(&self.ips, src) || any_contains(&self.ips, dst);
        }
        let (a, v) = (&self.attackers, &self.victims);
        match (a.is_empty(), v.is_empty()) {
            (true, true) => true,
            (false, true) => any_contains(a, src) || any_contains(a, dst),
            (true, false) => any_contains(v, src) || any_contains(v, dst),
            (false, false) => {
                (any_contains(a, src) && any_contains(v, dst))
                    || (any_contains(v, src) && any_contains(a, dst))
                    || (self.flag_victim_traffic && (any_contains(v, src) || any_contains(v, dst)))
            }
        }
    }

    /// Whether `[first, last]` (ns) overlaps the window.
    pub fn overlaps(&self, first: i64, last: i64) -> bool {
        first <= self.end_ns && last >= self.start_ns
    }

    /// Whether the protocol fits (an unknown record protocol is not held against it).
    pub fn matches_proto(&self, proto: Option<u8>) -> bool {
        match (self.proto, proto) {
            (Some(w), Some(r)) => w == r,
            _ => true,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default, alias = "location", alias = "timezone")]
    tz: Option<String>,
    #[serde(default, alias = "timeFormat")]
    time_format: Option<String>,
    #[serde(default, alias = "dateFormat")]
    date_format: Option<String>,
    attacks: Vec<AttackSpec>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AttackSpec {
    #[serde(default)]
    name: String,
    #[serde(default)]
    num: Option<i64>,
    #[serde(default)]
    date: Option<serde_yaml_ng::Value>,
    start: serde_yaml_ng::Value,
    end: serde_yaml_ng::Value,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default)]
    ips: Option<Hosts>,
    #[serde(default)]
    attackers: Option<Hosts>,
    #[serde(default)]
    victims: Option<Hosts>,
    #[serde(default)]
    proto: Option<String>,
    #[serde(default)]
    category: String,
    #[serde(default)]
    mitre: String,
    #[serde(default)]
    notes: String,
    #[serde(default, alias = "flagVictimTraffic")]
    flag_victim_traffic: bool,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Hosts {
    One(String),
    Many(Vec<String>),
}

impl Hosts {
    fn parse(self) -> Result<Vec<Net>, String> {
        let v = match self {
            Hosts::One(s) => vec![s],
            Hosts::Many(v) => v,
        };
        v.iter().map(|s| Net::parse(s)).collect()
    }
}

fn scalar(v: &serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a window file; `default_tz` applies when the file names no zone.
pub fn read_windows(path: &Path, default_tz: &TimeZone) -> Result<Vec<Window>, WindowError> {
    let text = std::fs::read_to_string(path).map_err(|source| WindowError::Read { path: path.into(), source })?;
    parse_windows(&text, default_tz).map_err(|e| match e {
        ParseError::Yaml(message) => WindowError::Yaml { path: path.into(), message },
        ParseError::Attack { index, name, message } => WindowError::Attack { path: path.into(), index, name, message },
    })
}

#[derive(Debug)]
enum ParseError {
    Yaml(String),
    Attack { index: usize, name: String, message: String },
}

fn parse_windows(text: &str, default_tz: &TimeZone) -> Result<Vec<Window>, ParseError> {
    let spec: FileSpec = serde_yaml_ng::from_str(text).map_err(|e| ParseError::Yaml(e.to_string()))?;
    let file_tz = match &spec.tz {
        Some(t) => parse_tz(t).map_err(|e| ParseError::Yaml(e.to_string()))?,
        None => default_tz.clone(),
    };
    let time_fmt = spec.time_format.as_deref().map(go_layout);
    let date_fmt = spec.date_format.as_deref().map(go_layout);
    let mut out = Vec::with_capacity(spec.attacks.len());
    for (i, a) in spec.attacks.into_iter().enumerate() {
        let index = a.num.map_or(i + 1, |n| n as usize);
        let name = a.name.clone();
        let err = |message: String| ParseError::Attack { index, name: name.clone(), message };
        let tz = match &a.tz {
            Some(t) => parse_tz(t).map_err(|e| err(e.to_string()))?,
            None => file_tz.clone(),
        };
        let date = match &a.date {
            None => None,
            Some(v) => {
                let s = scalar(v).ok_or_else(|| err("`date` is not a scalar".into()))?;
                Some(parse_date(&s, date_fmt.as_deref()).map_err(err)?)
            }
        };
        let when = |field: &str, v: &serde_yaml_ng::Value| -> Result<i64, ParseError> {
            let s = scalar(v).ok_or_else(|| err(format!("`{field}` is not a scalar")))?;
            parse_instant(&s, date, time_fmt.as_deref(), &tz).map_err(|m| err(format!("`{field}`: {m}")))
        };
        let start_ns = when("start", &a.start)?;
        let end_ns = when("end", &a.end)?;
        if end_ns < start_ns {
            return Err(err("`end` is before `start`".into()));
        }
        let hosts = |h: Option<Hosts>| -> Result<Vec<Net>, ParseError> {
            h.map(Hosts::parse).transpose().map_err(&err).map(Option::unwrap_or_default)
        };
        let ips = hosts(a.ips)?;
        let attackers = hosts(a.attackers)?;
        let victims = hosts(a.victims)?;
        if !ips.is_empty() && (!attackers.is_empty() || !victims.is_empty()) {
            return Err(err("give either `ips` or `attackers`/`victims`, not both".into()));
        }
        let (proto, proto_note) = match a.proto.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => (None, None),
            Some(p) if p.eq_ignore_ascii_case("any") => (None, None),
            Some(p) => match proto_number(p) {
                Some(n) => (Some(n), None),
                None => (None, Some(p.to_string())),
            },
        };
        let _ = a.notes;
        out.push(Window {
            name: a.name,
            category: a.category,
            mitre: a.mitre,
            start_ns,
            end_ns,
            ips,
            attackers,
            victims,
            proto,
            proto_note,
            flag_victim_traffic: a.flag_victim_traffic,
        });
    }
    Ok(out)
}

fn parse_date(s: &str, fmt: Option<&str>) -> Result<Date, String> {
    match fmt {
        Some(f) => Date::strptime(f, s.trim()).map_err(|e| format!("date {s:?}: {e}")),
        None => s.trim().parse::<Date>().map_err(|e| format!("date {s:?} (want YYYY-MM-DD): {e}")),
    }
}

/// A start or end: with a Go `timeFormat`, that layout (plus `date`); else an RFC 3339 time
/// with offset, a local `YYYY-MM-DD HH:MM[:SS[.f]]`, or a time of day after a `date`.
fn parse_instant(s: &str, date: Option<Date>, fmt: Option<&str>, tz: &TimeZone) -> Result<i64, String> {
    let s = s.trim();
    let local = |dt: DateTime| -> Result<i64, String> {
        let t = tz.to_ambiguous_timestamp(dt).compatible().map_err(|e| e.to_string())?;
        Ok(t.as_nanosecond() as i64)
    };
    if let Some(f) = fmt {
        let tm = jiff::fmt::strtime::parse(f, s).map_err(|e| format!("{s:?} with the time format: {e}"))?;
        if let Ok(t) = tm.to_timestamp() {
            return Ok(t.as_nanosecond() as i64);
        }
        let time = tm.to_time().map_err(|e| format!("{s:?}: {e}"))?;
        let d = match (date, tm.to_date()) {
            (Some(d), _) => d,
            (None, Ok(d)) => d,
            (None, Err(_)) => return Err(format!("{s:?} has no date and the attack has no `date`")),
        };
        return local(d.to_datetime(time));
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_nanosecond() as i64);
    }
    if let Ok(dt) = s.replacen(' ', "T", 1).parse::<DateTime>() {
        return local(dt);
    }
    if let Some(d) = date
        && let Ok(t) = s.parse::<Time>()
    {
        return local(d.to_datetime(t));
    }
    Err(format!(
        "{s:?} is not a time: use `YYYY-MM-DD HH:MM[:SS]` (in the file's tz), RFC 3339 with an offset, or HH:MM with a `date`"
    ))
}

/// Translates a Go time layout (`Monday-02-01-2006`, `15:04`) to a strptime format.
fn go_layout(layout: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("January", "%B"),
        ("Monday", "%A"),
        ("2006", "%Y"),
        ("-07:00", "%:z"),
        ("Z07:00", "%:z"),
        ("-0700", "%z"),
        ("Z0700", "%z"),
        (".000000000", "%.f"),
        (".999999999", "%.f"),
        (".000000", "%.f"),
        (".999999", "%.f"),
        (".000", "%.f"),
        (".999", "%.f"),
        ("Jan", "%b"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("15", "%H"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("PM", "%p"),
        ("pm", "%P"),
        ("1", "%m"),
        ("2", "%d"),
        ("3", "%I"),
        ("4", "%M"),
        ("5", "%S"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (go, st) in TOKENS {
            if let Some(r) = rest.strip_prefix(go) {
                out.push_str(st);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn native_format() {
        let y = "tz: +01:00\nattacks:\n  - name: scan\n    start: 2020-09-13 13:26\n    end: 2020-09-13T13:27:00.5\n    attackers: [192.0.2.10]\n    victims: 203.0.113.0/24\n    proto: TCP\n    category: recon\n  - name: all\n    start: 2020-09-13T12:00:00Z\n    end: 2020-09-13T12:00:01Z\n    ips: any\n";
        let w = parse_windows(y, &TimeZone::UTC).unwrap();
        assert_eq!(w[0].start_ns, 1_600_000_000_000_000_000 - 40 * 1_000_000_000, "13:26 at +01:00 is 12:26 UTC");
        assert_eq!(w[0].end_ns, 1_600_000_020_500_000_000);
        assert_eq!(w[0].proto, Some(6));
        assert!(w[0].needs_addresses());
        assert!(w[0].matches_addresses(ip("203.0.113.80"), ip("192.0.2.10")), "either direction");
        assert!(!w[0].matches_addresses(ip("203.0.113.80"), ip("192.0.2.11")));
        assert_eq!(w[0].label(false), "recon");
        assert_eq!(w[0].label(true), "scan");
        assert!(!w[1].needs_addresses());
        assert_eq!(w[1].label(false), "all", "no category: the name");
    }

    #[test]
    fn netcap_format_with_go_layouts() {
        // The shape of the Go label manager's files (our own values).
        let y = "location: \"America/Halifax\"\ntimeFormat: \"15:04\"\ndateFormat: \"Monday-02-01-2006\"\nattacks:\n  - name: Infiltration\n    date: Wednesday-28-02-2018\n    victims:\n      - 172.31.69.24\n    attackers:\n      - 13.58.225.34\n    start: 9:50\n    end: 12:05\n    proto: Unknown\n    category: infiltration\n    mitre: TA0008\n    flagVictimTraffic: true\n";
        let w = parse_windows(y, &TimeZone::UTC).unwrap();
        // 2018-02-28 09:50 AST (-04:00) = 13:50 UTC.
        assert_eq!(w[0].start_ns, jiff::Timestamp::from_second(1_519_825_800).unwrap().as_nanosecond() as i64);
        assert_eq!(w[0].proto, None);
        assert_eq!(w[0].proto_note.as_deref(), Some("Unknown"));
        assert!(w[0].flag_victim_traffic);
        assert!(w[0].matches_addresses(ip("172.31.69.24"), ip("8.8.8.8")), "victim traffic is flagged");
        assert!(!w[0].matches_addresses(ip("13.58.225.34"), ip("8.8.8.8")), "the attacker alone is not");
        assert_eq!(go_layout("Monday-02-01-2006 15:04:05.000"), "%A-%d-%m-%Y %H:%M:%S%.f");
    }

    #[test]
    fn errors_name_the_attack() {
        let y = "attacks:\n  - name: a\n    start: 2020-01-01 10:00\n    end: 2020-01-01 09:00\n";
        let e = parse_windows(y, &TimeZone::UTC).unwrap_err();
        assert!(format!("{e:?}").contains("before"), "{e:?}");
        let y = "attacks:\n  - name: a\n    start: yesterday\n    end: 2020-01-01 09:00\n";
        assert!(format!("{:?}", parse_windows(y, &TimeZone::UTC).unwrap_err()).contains("not a time"));
        let y = "attacks:\n  - name: a\n    start: 2020-01-01 10:00\n    end: 2020-01-01 11:00\n    typo: 1\n";
        assert!(matches!(parse_windows(y, &TimeZone::UTC), Err(ParseError::Yaml(_))));
    }

    #[test]
    fn networks() {
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.200.3")) && !n.contains(ip("10.2.0.1")) && !n.contains(ip("::1")));
        let n = Net::parse("2001:db8::/33").unwrap();
        assert!(n.contains(ip("2001:db8:7fff::1")) && !n.contains(ip("2001:db8:8000::1")));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert_eq!(Net::parse("ANY").unwrap(), Net::Any);
    }
}
