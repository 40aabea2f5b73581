//! IRC records (the `irc` stream decoder) agree with tshark on every corpus capture in which
//! tshark dissects `irc`: per connection and direction, the messages in order with the time of
//! the frame each came in, their commands, prefixes, middle parameters and trailing parameters
//! (tshark's `irc.request.*` and `irc.response.*`, whose occurrences in a frame are in message
//! order). One tshark pass and one netcap run per capture.

use netcap_proto::v1::Irc;
use netcap_tests::{TempDir, capture, files_with, have_tshark, parse_ns, records};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const AGG: char = '\u{1f}';

const FIELDS: [&str; 16] = [
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.analysis.retransmission",
    "irc.request.command",
    "irc.request.prefix",
    "irc.request.command_parameter",
    "irc.request.trailer",
    "irc.response.command",
    "irc.response.prefix",
    "irc.response.command_parameter",
    "irc.response.trailer",
    "tcp.segment",
    "frame.number",
];

/// One direction of one connection: (time, command) per message, and the prefixes, middle
/// parameters and trailing parameters in message order.
#[derive(Debug, Default, PartialEq)]
struct View {
    commands: Vec<(i64, String)>,
    prefixes: Vec<String>,
    params: Vec<String>,
    trailers: Vec<String>,
}

/// Connection (client address and port, server address and port) and whether from the server.
type Key = (String, u32, String, u32, bool);

fn theirs(file: &Path) -> BTreeMap<Key, View> {
    let mut c = Command::new("tshark");
    c.args(["-n", "-r"]).arg(file).args(["-Y", "irc", "-T", "fields", "-E", "occurrence=a", "-E", "quote=n"]);
    c.arg(format!("-Eaggregator={AGG}"));
    for f in FIELDS {
        c.args(["-e", f]);
    }
    let out = c.output().expect("run tshark");
    let mut m: BTreeMap<Key, View> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<Vec<String>> = line
            .split('\t')
            .map(|c| if c.is_empty() { Vec::new() } else { c.split(AGG).map(str::to_string).collect() })
            .chain(std::iter::repeat(Vec::new()))
            .take(FIELDS.len())
            .collect();
        if !cols[5].is_empty() || !cols[14].is_empty() {
            // Retransmissions, and messages tshark reassembled from several segments (none in
            // the corpus; the test would need their first segment's time).
            assert!(cols[14].is_empty(), "a reassembled IRC message in {}", file.display());
            continue;
        }
        let one = |i: usize| cols[i].first().cloned().unwrap_or_default();
        let (sp, dp): (u32, u32) = (one(3).parse().unwrap_or(0), one(4).parse().unwrap_or(0));
        let from_server = !cols[10].is_empty();
        let key = if from_server { (one(2), dp, one(1), sp, true) } else { (one(1), sp, one(2), dp, false) };
        let base = if from_server { 10 } else { 6 };
        let t = parse_ns(&one(0)).unwrap_or(0);
        let v = m.entry(key).or_default();
        v.commands.extend(cols[base].iter().map(|c| (t, c.clone())));
        v.prefixes.extend(cols[base + 1].iter().cloned());
        v.params.extend(cols[base + 2].iter().cloned());
        v.trailers.extend(cols[base + 3].iter().cloned());
    }
    m
}

fn ours(recs: &[Irc]) -> BTreeMap<Key, View> {
    let mut m: BTreeMap<Key, View> = BTreeMap::new();
    for r in recs {
        let key = (r.src_ip.clone(), r.src_port, r.dst_ip.clone(), r.dst_port, r.from_server);
        let v = m.entry(key).or_default();
        v.commands.push((r.timestamp, r.command.clone()));
        v.prefixes.extend((!r.prefix.is_empty()).then(|| r.prefix.clone()));
        v.params.extend(r.params.iter().cloned());
        v.trailers.extend((!r.trailing.is_empty()).then(|| r.trailing.clone()));
    }
    m
}

/// A deliberate difference: tshark does not reassemble an IRC line split over two segments, and
/// reads its halves as two messages (in this capture the server's 266 reply, "Current Global
/// Users: 51" and "23 Max: 5123", a command "23"); we read the line whole.
fn split_line(b: &mut BTreeMap<Key, View>) {
    let v = b.values_mut().find(|v| v.commands.iter().any(|c| c.1 == "23")).expect("the split line");
    let i = v.commands.iter().position(|c| c.1 == "23").expect("command 23");
    v.commands.remove(i);
    let j = v.params.windows(2).position(|w| w == ["Max:", "5123"]).expect("its parameters");
    v.params.drain(j..j + 2);
    let t = v.trailers.iter_mut().find(|t| *t == "Current Global Users: 51").expect("its first half");
    *t = "Current Global Users: 5123  Max: 5123".into();
}

#[test]
fn irc_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-irc");
    let (mut n, mut entries) = (0, 0);
    for f in files_with(&["irc"]) {
        let out = dir.path().join(format!("out-{n}"));
        std::fs::create_dir_all(&out).expect("mkdir");
        let o = capture(&f, &out, &["--include", "IRC"]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&o.stderr));
        let (a, mut b) = (ours(&records::<Irc>(&out, "IRC")), theirs(&f));
        if f.ends_with("suricata-verify_irc.pcap") {
            split_line(&mut b);
        }
        for k in a.keys().chain(b.keys()) {
            assert_eq!(a.get(k), b.get(k), "{} {k:?}", f.display());
        }
        entries += b
            .values()
            .map(|v| v.commands.len() * 2 + v.prefixes.len() + v.params.len() + v.trailers.len())
            .sum::<usize>();
        n += 1;
    }
    assert!(n >= 1 && entries >= 100, "only {n} captures, {entries} entries compared");
    eprintln!("compared {n} IRC captures, {entries} entries with tshark");
}
