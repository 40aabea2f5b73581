//! Deep packet inspection: our nDPI classification (`netcap dpi-flows`) against Debian's
//! `ndpiReader` (package `libndpi-bin`, the same nDPI 4.2) on every corpus capture, flow by flow
//! (matched by 5-tuple); and a machine without nDPI (hidden by `--ndpi-lib`/`$NETCAP_DPI_PATH`).

use netcap_tests::{TempDir, corpus, netcap, netcap_cmd};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (protocol number, lower endpoint, upper endpoint): a flow whatever its direction.
type Tuple = (u8, (IpAddr, u16), (IpAddr, u16));

#[derive(Debug, Clone, PartialEq, Eq)]
struct Flow {
    name: String,
    category: String,
    packets: u64,
}

fn have_ndpi_reader() -> bool {
    let ok = Command::new("ndpiReader").arg("-h").output().is_ok();
    if !ok {
        assert!(std::env::var("NETCAP_REQUIRE_NDPI").as_deref() != Ok("1"), "ndpiReader (Debian libndpi-bin) is missing");
        eprintln!("notice: skipping, ndpiReader (Debian libndpi-bin) is missing");
    }
    ok
}

fn endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Some((ip.parse().ok()?, port.parse().ok()?))
}

fn proto_number(s: &str) -> Option<u8> {
    Some(match s {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "ICMPV6" => 58,
        "IGMP" => 2,
        "VRRP" => 112,
        n => n.parse().ok()?,
    })
}

fn tuple(proto: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> Tuple {
    if a <= b { (proto, a, b) } else { (proto, b, a) }
}

/// ndpiReader's flow list (`-v 2`): `\t<n>\t<PROTO> <src> <->|-> <dst> [proto: ids/Name][...][cat: Category/id][a pkts/b bytes <-> c pkts/d bytes]`.
fn ndpi_reader(file: &Path) -> Vec<(Tuple, Flow)> {
    let out = Command::new("ndpiReader").arg("-i").arg(file).args(["-v", "2"]).output().expect("run ndpiReader");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut flows = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('\t') else { continue };
        let Some((n, rest)) = rest.split_once('\t') else { continue };
        if n.parse::<u32>().is_err() {
            continue;
        }
        let mut words = rest.splitn(5, ' ');
        let (Some(p), Some(src), Some(_dir), Some(dst), Some(tail)) =
            (words.next(), words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Some(proto), Some(src), Some(dst)) = (proto_number(p), endpoint(src), endpoint(dst)) else { continue };
        let field = |key: &str| tail.split_once(key).map(|(_, r)| r.split(']').next().unwrap_or("").to_string());
        let Some(name) = field("[proto: ").and_then(|v| v.split_once('/').map(|(_, n)| n.to_string())) else {
            continue;
        };
        let category =
            field("[cat: ").and_then(|v| v.rsplit_once('/').map(|(c, _)| c.to_string())).unwrap_or_default();
        // "[7 pkts/638 bytes <-> 7 pkts/5505 bytes]" or "... -> 0 pkts/0 bytes]"
        let packets = tail
            .split('[')
            .find(|f| f.contains(" pkts/"))
            .map(|f| f.split_whitespace().filter_map(|w| w.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        flows.push((tuple(proto, src, dst), Flow { name, category, packets }));
    }
    flows
}

/// Our flow list: `proto src dst packets ndpi Name Category [...]`.
fn ours(file: &Path, extra: &[&str]) -> Vec<(Tuple, Flow)> {
    let mut args = vec!["dpi-flows", file.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let out = netcap(&args);
    assert!(out.status.success(), "dpi-flows {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let mut flows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let w: Vec<&str> = line.split(' ').collect();
        let (Some(proto), Some(src), Some(dst), Some(packets)) = (
            w.first().and_then(|p| p.parse::<u8>().ok()),
            w.get(1).and_then(|s| endpoint(s)),
            w.get(2).and_then(|s| endpoint(s)),
            w.get(3).and_then(|p| p.parse::<u64>().ok()),
        ) else {
            panic!("{}: bad dpi-flows line {line:?}", file.display());
        };
        let (name, category) = match w.iter().position(|x| *x == "ndpi") {
            Some(i) => (w[i + 1].to_string(), w[i + 2].replace('_', " ")),
            None => (String::new(), String::new()),
        };
        flows.push((tuple(proto, src, dst), Flow { name, category, packets }));
    }
    flows
}

fn group(v: Vec<(Tuple, Flow)>) -> BTreeMap<Tuple, Vec<Flow>> {
    let mut m: BTreeMap<Tuple, Vec<Flow>> = BTreeMap::new();
    for (t, f) in v {
        m.entry(t).or_default().push(f);
    }
    m
}

fn corpus_captures(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(root, &mut v);
    v.sort();
    v
}

#[derive(Debug, Default)]
struct Tally {
    files: usize,
    compared: usize,
    agree: usize,
    disagree: Vec<String>,
    only_ours: usize,
    only_theirs: usize,
    split_differently: usize,
}

#[test]
fn ndpi_flows_agree_with_ndpi_reader() {
    let Some(root) = corpus() else { return };
    if !have_ndpi_reader() {
        return;
    }
    let status = netcap(&["dpi"]);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("nDPI") && status.contains("4.2"), "netcap dpi does not find nDPI 4.2: {status}");
    let files = corpus_captures(&root);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let chunks: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(2).max(1)).collect();
        let hs: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    let mut t = Tally::default();
                    for f in chunk {
                        compare_file(f, &mut t);
                    }
                    t
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("compare thread")).collect()
    });
    let mut t = Tally::default();
    for x in tallies {
        t.files += x.files;
        t.compared += x.compared;
        t.agree += x.agree;
        t.disagree.extend(x.disagree);
        t.only_ours += x.only_ours;
        t.only_theirs += x.only_theirs;
        t.split_differently += x.split_differently;
    }
    eprintln!(
        "nDPI vs ndpiReader: {} captures, {} flows compared, {} agree (protocol, category, packets), {} disagree; \
         {} only ours, {} only ndpiReader's, {} 5-tuples split into a different number of flows",
        t.files,
        t.compared,
        t.agree,
        t.disagree.len(),
        t.only_ours,
        t.only_theirs,
        t.split_differently
    );
    assert!(t.compared > 500, "too few flows compared: {t:?}");
    assert!(t.disagree.is_empty(), "flows that disagree with ndpiReader:\n{}", t.disagree.join("\n"));
}

fn compare_file(f: &Path, t: &mut Tally) {
    let theirs = group(ndpi_reader(f));
    let ours = group(ours(f, &[]));
    t.files += 1;
    for (k, mine) in &ours {
        let Some(their) = theirs.get(k) else {
            t.only_ours += mine.len();
            continue;
        };
        if mine.len() != their.len() {
            t.split_differently += 1;
            continue;
        }
        for (a, b) in mine.iter().zip(their) {
            t.compared += 1;
            if a == b {
                t.agree += 1;
            } else {
                t.disagree.push(format!("{}: {k:?}: ours {a:?}, ndpiReader {b:?}", f.display()));
            }
        }
    }
    t.only_theirs += theirs.iter().filter(|(k, _)| !ours.contains_key(*k)).map(|(_, v)| v.len()).sum::<usize>();
}

#[test]
fn without_ndpi_capture_works_and_says_once_that_dpi_is_off() {
    let Some(root) = corpus() else { return };
    let file = root.join("dns").join("chrissanders_dns.pcap");
    let out_dir = TempDir::new("dpi-off");
    let o = netcap_cmd()
        .args(["capture", "-r"])
        .arg(&file)
        .arg("-o")
        .arg(out_dir.path())
        .args(["--ndpi-lib", "/nonexistent/libndpi.so"])
        .output()
        .expect("run netcap");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "capture failed: {stderr}");
    assert_eq!(stderr.matches("DPI off").count(), 1, "one notice that DPI is off: {stderr}");
    assert!(stderr.contains("/nonexistent/libndpi.so"), "{stderr}");
    assert!(out_dir.path().join("DNS.ncap.zst").is_file(), "records were written");

    // An empty search path hides the system's nDPI too; `netcap dpi` says what was searched.
    let empty = TempDir::new("dpi-empty");
    let o = netcap_cmd().arg("dpi").env("NETCAP_DPI_PATH", empty.path()).output().expect("run netcap dpi");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(text.contains("nDPI") && text.contains("not found") && text.contains("DPI off"), "{text}");
    assert!(text.contains("libprotoident") && text.contains(&empty.path().display().to_string()), "{text}");
    // dpi-flows without nDPI lists flows without a classification.
    let o = netcap_cmd()
        .arg("dpi-flows")
        .arg(&file)
        .env("NETCAP_DPI_PATH", empty.path())
        .output()
        .expect("run netcap dpi-flows");
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(!text.contains("ndpi"), "{text}");

    // `--dpi off`: no search, no notice.
    let o = netcap_cmd()
        .args(["capture", "-r"])
        .arg(&file)
        .arg("-o")
        .arg(out_dir.path())
        .args(["--dpi", "off", "--ndpi-lib", "/nonexistent/libndpi.so"])
        .output()
        .expect("run netcap");
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("DPI"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn libraries_that_are_not_a_supported_ndpi_are_refused_by_name() {
    // Not nDPI at all: refused with the missing symbol.
    let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib/libc.so.6"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    if let Some(libc) = libc {
        let o = netcap_cmd().args(["dpi", "--ndpi-lib", libc]).output().expect("run netcap dpi");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("not nDPI") && text.contains("ndpi_get_api_version") && text.contains("DPI off"), "{text}");
    }
    // An nDPI of another API version (a stand-in library built here with the C compiler Rust
    // links with): refused, naming its version and the supported one, before any other call.
    let dir = TempDir::new("dpi-future");
    let src = dir.path().join("future.c");
    std::fs::write(
        &src,
        "unsigned short ndpi_get_api_version(void) { return 9999; }\n\
         const char *ndpi_revision(void) { return \"9.9.9\"; }\n",
    )
    .expect("write C source");
    let lib = dir.path().join("libndpi.so.9.9");
    let cc = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).output();
    if !cc.is_ok_and(|o| o.status.success()) {
        eprintln!("notice: skipping the API version case, no working C compiler");
        return;
    }
    let o = netcap_cmd().arg("dpi").arg("--ndpi-lib").arg(&lib).output().expect("run netcap dpi");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("nDPI 9.9.9 has API version 9999; netcap supports nDPI 4.2 (API 8668)") && text.contains("DPI off"),
        "{text}"
    );
    // Found by the directory search, it is refused the same way.
    let o = netcap_cmd().arg("dpi").env("NETCAP_DPI_PATH", dir.path()).output().expect("run netcap dpi");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("API version 9999") && text.contains("DPI off"), "{text}");
}
