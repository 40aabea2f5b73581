//! RDP records (the `windows` stream decoder on TCP 3389) agree with tshark on every corpus
//! capture in which tshark dissects `rdp`: one record per connection against tshark's X.224
//! Connection Request (`rdp.rt_cookie`, `rdp.negReq.*`), Connection Confirm (`rdp.negRsp.flags`,
//! `rdp.negReq.selectedProtocol`, `rdp.negFailure.failureCode`) and client core data
//! (`rdp.version.*`, `rdp.desktop.*`, `rdp.keyboardLayout`, `rdp.client.build`,
//! `rdp.client.name`), timed by the Connection Request's frame.
//!
//! `tls` is checked against the bytes: tshark dissects port 3389 as TPKT and does not show the
//! TLS records that follow the confirm, so the first client segment after the Connection Confirm
//! that is not a TPKT (`tcp.payload` not starting with 03 00) must start a TLS handshake record
//! (16 03) exactly when ours says TLS followed. `credssp` is derived (TLS and a CredSSP
//! selected protocol) and not compared. The output is byte-identical with 1 and 3 workers.

use netcap_proto::v1;
use netcap_tests::{TempDir, files_with, have_tshark, parse_ns, parse_num, records, tshark_fields};
use std::collections::BTreeMap;
use std::path::Path;

const FIELDS: [&str; 23] = [
    "tcp.stream",
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.payload",
    "cotp.type",
    "rdp.rt_cookie",
    "rdp.negReq.flags",
    "rdp.negReq.requestedProtocols",
    "rdp.negRsp.flags",
    "rdp.negReq.selectedProtocol",
    "rdp.negFailure.failureCode",
    "rdp.version.major",
    "rdp.version.minor",
    "rdp.desktop.width",
    "rdp.desktop.height",
    "rdp.keyboardLayout",
    "rdp.client.build",
    "rdp.client.name",
];

fn col<'a>(row: &'a [String], name: &str) -> &'a str {
    let i = FIELDS.iter().position(|f| *f == name).expect("known field");
    row.get(i).map_or("", String::as_str)
}

fn num(s: &str) -> String {
    parse_num(s).map_or(String::new(), |n| n.to_string())
}

/// One connection as tshark shows it, in the shape of [`ours`].
#[derive(Default)]
struct Conn {
    key: String,
    ts: i64,
    cookie: String,
    request: String,
    confirm: String,
    core: String,
    confirmed: bool,
    tls: Option<bool>,
}

fn theirs(f: &Path) -> BTreeMap<String, String> {
    let rows = tshark_fields(f, &FIELDS, &["-Y", "tcp.port==3389"]).unwrap_or_default();
    let mut conns: BTreeMap<String, Conn> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.len() == FIELDS.len()) {
        let c = |n: &str| col(r, n).to_string();
        let (src, dst) =
            if c("ip.src").is_empty() { (c("ipv6.src"), c("ipv6.dst")) } else { (c("ip.src"), c("ip.dst")) };
        let to_server = c("tcp.dstport") == "3389";
        let conn = conns.entry(c("tcp.stream")).or_default();
        match num(col(r, "cotp.type")).as_str() {
            "14" if to_server && conn.key.is_empty() => {
                conn.key = format!("{src}:{}>{dst}:{}", c("tcp.srcport"), c("tcp.dstport"));
                conn.ts = parse_ns(col(r, "frame.time_epoch")).unwrap_or(0);
                conn.cookie = c("rdp.rt_cookie");
                conn.request =
                    format!("{}/{}", num(col(r, "rdp.negReq.flags")), num(col(r, "rdp.negReq.requestedProtocols")));
            }
            "13" if !to_server => {
                conn.confirmed = true;
                conn.confirm = format!(
                    "{}/{}/{}",
                    num(col(r, "rdp.negRsp.flags")),
                    num(col(r, "rdp.negReq.selectedProtocol")),
                    num(col(r, "rdp.negFailure.failureCode"))
                );
            }
            _ => {}
        }
        if to_server && conn.core.is_empty() && !c("rdp.desktop.width").is_empty() {
            let v = |n: &str| col(r, n).split(',').next().unwrap_or("").to_string();
            conn.core = format!(
                "{}.{} {}x{} kbd={} build={} name={}",
                v("rdp.version.major"),
                v("rdp.version.minor"),
                c("rdp.desktop.width"),
                c("rdp.desktop.height"),
                num(col(r, "rdp.keyboardLayout")),
                c("rdp.client.build"),
                c("rdp.client.name")
            );
        }
        let payload = col(r, "tcp.payload");
        if to_server && conn.confirmed && conn.tls.is_none() && !payload.is_empty() && !payload.starts_with("0300") {
            conn.tls = Some(payload.starts_with("1603"));
        }
    }
    conns
        .into_values()
        .filter(|c| !c.key.is_empty())
        .map(|c| {
            let s = format!(
                "t={} cookie={} req={} confirm={} core={} tls={}",
                c.ts,
                c.cookie,
                c.request,
                c.confirm,
                c.core,
                c.tls.unwrap_or(false)
            );
            (c.key, s)
        })
        .collect()
}

fn ours(out: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for r in records::<v1::Rdp>(out, "RDP") {
        let opt = |on: bool, v: u32| if on { v.to_string() } else { String::new() };
        let cookie =
            if r.cookie.is_empty() { r.routing_token.clone() } else { format!("Cookie: mstshash={}", r.cookie) };
        let core = if r.client_core {
            format!(
                "{}.{} {}x{} kbd={} build={} name={}",
                r.client_version & 0xffff,
                r.client_version >> 16,
                r.desktop_width,
                r.desktop_height,
                r.keyboard_layout,
                r.client_build,
                r.client_name
            )
        } else {
            String::new()
        };
        let confirm = if r.confirmed {
            format!(
                "{}/{}/{}",
                opt(r.negotiation_response, r.response_flags),
                opt(r.negotiation_response, r.selected_protocol),
                opt(r.negotiation_failure, r.failure_code)
            )
        } else {
            String::new()
        };
        let s = format!(
            "t={} cookie={cookie} req={}/{} confirm={confirm} core={core} tls={}",
            r.timestamp,
            opt(r.negotiation_request, r.request_flags),
            opt(r.negotiation_request, r.requested_protocols),
            r.tls
        );
        m.insert(format!("{}:{}>{}:{}", r.src_ip, r.src_port, r.dst_ip, r.dst_port), s);
    }
    m
}

#[test]
fn rdp_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    let dir = TempDir::new("oracle-rdp");
    let mut problems = Vec::new();
    let (mut n, mut n_core, mut n_tls) = (0, 0, 0);
    for f in files_with(&["rdp"]) {
        let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let out = dir.path().join(format!("out-{name}"));
        // The same bytes with 3 workers.
        problems.extend(netcap_tests::capture_1_and_3_workers(
            &f,
            "RDP",
            &out,
            &dir.path().join(format!("out3-{name}")),
        ));
        let (t, ours) = (theirs(&f), ours(&out));
        if t != ours {
            problems.push(format!("{name}:\n ours   {ours:?}\n tshark {t:?}"));
        }
        n += t.len();
        n_core += t.values().filter(|s| !s.contains("core= ")).count();
        n_tls += t.values().filter(|s| s.ends_with("tls=true")).count();
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("compared {n} RDP connections with tshark ({n_core} with client core data, {n_tls} switching to TLS)");
    assert!(n >= 4 && n_core >= 2 && n_tls >= 2, "only {n} RDP connections ({n_core} core, {n_tls} TLS) compared");
}
