//! The third-party plugin path, end to end: the example MQTT decoder (`plugins/examples/mqtt`,
//! built by `cargo xtask build-plugins` into `target/plugins-examples/`) is loaded by the
//! unmodified host binary with `--plugins`; its records agree with tshark's MQTT dissection of a
//! synthesized conversation, `netcap dump` prints them through the schema in the file header, and
//! a run without the plugin differs only by the missing MQTT file.

use netcap_tests::pcap::{LINKTYPE_ETHERNET, write_pcap};
use netcap_tests::synth_mqtt::conversation;
use netcap_tests::{
    TempDir, capture, file_bytes, file_names, have_tshark, netcap, parse_ns, parse_num, read_record_file,
    tshark_fields, workspace_root,
};
use prost::Message;
use std::path::{Path, PathBuf};

/// The example decoder's record, declared here from `plugins/examples/mqtt/proto/mqtt.proto` as a
/// third party reading the files would: the tests do not link the plugin crate.
#[derive(Clone, PartialEq, Message)]
struct Mqtt {
    #[prost(int64, tag = "1")]
    timestamp: i64,
    #[prost(string, tag = "2")]
    src_ip: String,
    #[prost(string, tag = "3")]
    dst_ip: String,
    #[prost(uint32, tag = "4")]
    src_port: u32,
    #[prost(uint32, tag = "5")]
    dst_port: u32,
    #[prost(uint32, tag = "6")]
    tunnel_depth: u32,
    #[prost(string, tag = "7")]
    r#type: String,
    #[prost(uint32, tag = "8")]
    type_number: u32,
    #[prost(uint32, tag = "9")]
    flags: u32,
    #[prost(uint32, tag = "10")]
    remaining_length: u32,
    #[prost(uint32, tag = "11")]
    protocol_level: u32,
    #[prost(bool, tag = "12")]
    dup: bool,
    #[prost(uint32, tag = "13")]
    qos: u32,
    #[prost(bool, tag = "14")]
    retain: bool,
    #[prost(string, tag = "15")]
    topic: String,
    #[prost(uint32, tag = "16")]
    packet_id: u32,
    #[prost(uint32, tag = "17")]
    payload_length: u32,
    #[prost(string, tag = "18")]
    protocol_name: String,
    #[prost(uint32, tag = "19")]
    connect_flags: u32,
    #[prost(uint32, tag = "20")]
    keep_alive: u32,
    #[prost(string, tag = "21")]
    client_id: String,
    #[prost(bool, tag = "22")]
    has_username: bool,
    #[prost(bool, tag = "23")]
    has_password: bool,
    #[prost(bool, tag = "24")]
    has_will: bool,
    #[prost(string, tag = "25")]
    will_topic: String,
    #[prost(bool, tag = "26")]
    session_present: bool,
    #[prost(uint32, tag = "27")]
    return_code: u32,
    #[prost(message, repeated, tag = "28")]
    topic_filters: Vec<TopicFilter>,
    #[prost(uint32, repeated, tag = "29")]
    return_codes: Vec<u32>,
    #[prost(uint32, tag = "30")]
    reason_code: u32,
    #[prost(uint32, tag = "31")]
    properties_length: u32,
}

#[derive(Clone, PartialEq, Message)]
struct TopicFilter {
    #[prost(string, tag = "1")]
    topic: String,
    #[prost(uint32, tag = "2")]
    qos: u32,
    #[prost(uint32, tag = "3")]
    options: u32,
}

/// `target/plugins-examples`, where `cargo xtask build-plugins` puts the example decoders.
fn examples_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
    let d = target.join("plugins-examples");
    assert!(d.join("mqtt.wasm").is_file(), "{} is missing: run `cargo xtask build-plugins`", d.display());
    d
}

fn mqtt_pcap(dir: &Path) -> PathBuf {
    let f = dir.join("mqtt.pcap");
    write_pcap(&f, LINKTYPE_ETHERNET, false, &conversation()).unwrap();
    f
}

fn run_with_plugin(input: &Path, out: &Path) -> Vec<Mqtt> {
    // Only the MQTT example: the examples directory also holds ja3-alert, which needs a resource.
    run_with_component(input, out, &examples_dir().join("mqtt.wasm"))
}

/// A capture with `component` (a component or a core module) as the only extra plugin.
fn run_with_component(input: &Path, out: &Path, component: &Path) -> Vec<Mqtt> {
    let plugins = out.with_extension("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component, plugins.join("mqtt.wasm")).unwrap();
    let o = capture(input, out, &["--plugins", plugins.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let (header, recs) = read_record_file(&out.join("MQTT.ncap.zst"));
    assert_eq!(header.decoder, "mqtt");
    recs.iter().map(|b| Mqtt::decode(b.as_slice()).unwrap()).collect()
}

const FIELDS: &[&str] = &[
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "tcp.srcport",
    "tcp.dstport",
    "mqtt.msgtype",
    "mqtt.hdrflags",
    "mqtt.len",
    "mqtt.dupflag",
    "mqtt.qos",
    "mqtt.retain",
    "mqtt.topic",
    "mqtt.msgid",
    "mqtt.protoname",
    "mqtt.ver",
    "mqtt.conflags",
    "mqtt.kalive",
    "mqtt.clientid",
    "mqtt.conflag.uname",
    "mqtt.conflag.passwd",
    "mqtt.conflag.willflag",
    "mqtt.willtopic",
    "mqtt.conack.flags.sp",
    "mqtt.conack.val",
    "mqtt.sub.qos",
    "mqtt.suback.qos",
    "mqtt.msg",
    "mqtt.property_len",
    "mqtt.puback.reason_code",
    "mqtt.connack.reason_code",
    "mqtt.suback.reason_code",
    "mqtt.disconnect.reason_code",
    "mqtt.subscription_options",
];

/// tshark prints booleans as True/False (or 1/0) depending on the version.
fn tbool(s: &str) -> String {
    match s {
        "True" | "1" => "1".into(),
        "False" | "0" => "0".into(),
        x => x.into(),
    }
}

fn join<T: ToString>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

#[test]
fn example_plugin_records_agree_with_tshark_and_dump_prints_them() {
    let dir = TempDir::new("example-mqtt");
    let input = mqtt_pcap(dir.path());
    let out = dir.path().join("out");
    let recs = run_with_plugin(&input, &out);
    let types: Vec<&str> = recs.iter().map(|r| r.r#type.as_str()).collect();
    #[rustfmt::skip]
    let want = [
        "CONNECT", "CONNACK", "SUBSCRIBE", "SUBACK", "PUBLISH", "PUBLISH", "PUBACK", "PUBLISH", "PUBLISH",
        "PUBACK", "PINGREQ", "PINGRESP", "PINGREQ", "DISCONNECT",
        // The MQTT 5.0 connection.
        "CONNECT", "CONNACK", "SUBSCRIBE", "SUBACK", "PUBLISH", "PUBACK", "DISCONNECT",
    ];
    assert_eq!(types, want);
    let c = &recs[0];
    assert_eq!(
        (c.client_id.as_str(), c.keep_alive, c.protocol_name.as_str(), c.protocol_level),
        ("sensor-17", 60, "MQTT", 4)
    );
    assert!(c.has_username && c.has_password && c.has_will && c.will_topic == "clients/gone");
    let f: Vec<(&str, u32)> = recs[2].topic_filters.iter().map(|f| (f.topic.as_str(), f.qos)).collect();
    assert_eq!(f, [("sensors/+/temp", 1), ("alerts/#", 0)]);
    assert_eq!(recs[3].return_codes, [1, 0]);
    assert_eq!((recs[5].qos, recs[5].packet_id, recs[5].retain, recs[5].payload_length), (1, 77, true, 10));
    assert!(recs.iter().all(|r| r.tunnel_depth == 0));
    // MQTT 5.0: the level comes from the connection's CONNECT; property lists are skipped.
    let v5: Vec<(u32, u32, u32)> =
        recs[14..].iter().map(|r| (r.protocol_level, r.properties_length, r.reason_code)).collect();
    assert_eq!(v5, [(5, 8, 0), (5, 3, 0), (5, 2, 0), (5, 5, 0), (5, 16, 0), (5, 7, 0x10), (5, 5, 0)]);
    assert_eq!((recs[18].topic.as_str(), recs[18].payload_length, recs[18].packet_id), ("v5/data", 8, 9));
    assert_eq!(recs[16].topic_filters[0].topic, "v5/#");

    if have_tshark() {
        compare_with_tshark(&input, &recs);
    }

    // dump reads the schema from the header: no --plugins, no knowledge of MQTT in the host.
    let f = out.join("MQTT.ncap.zst");
    let d = netcap(&["dump", "-r", f.to_str().unwrap()]);
    assert_eq!(d.status.code(), Some(0), "{}", String::from_utf8_lossy(&d.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&d.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), recs.len());
    assert_eq!(lines[0]["type"], "CONNECT");
    assert_eq!(lines[0]["client_id"], "sensor-17");
    assert_eq!(lines[2]["topic_filters"][1]["topic"], "alerts/#");
    assert_eq!(lines[5]["topic"], "sensors/17/temp");
    let csv = netcap(&["dump", "-r", f.to_str().unwrap(), "--csv", "--select", "type,topic,qos,packet_id"]);
    assert_eq!(csv.status.code(), Some(0), "{}", String::from_utf8_lossy(&csv.stderr));
    let csv = String::from_utf8_lossy(&csv.stdout);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "type,topic,qos,packet_id");
    assert_eq!(rows[6], "PUBLISH,sensors/17/temp,1,77");
    assert_eq!(rows.len(), recs.len() + 1);
    let header = netcap(&["dump", "-r", f.to_str().unwrap(), "--header"]);
    assert!(String::from_utf8_lossy(&header.stdout).contains("example.mqtt.v1.MQTT"));
}

fn compare_with_tshark(input: &Path, recs: &[Mqtt]) {
    let rows = tshark_fields(input, FIELDS, &["-Y", "mqtt"]).expect("tshark reads the capture");
    let mut at = 0;
    for row in &rows {
        let col = |name: &str| row[FIELDS.iter().position(|f| *f == name).unwrap()].clone();
        let ts = parse_ns(&col("frame.time_epoch")).unwrap();
        let mine: Vec<&Mqtt> = recs[at..].iter().take_while(|r| r.timestamp == ts).collect();
        at += mine.len();
        let ctx = format!("frame at {ts}: {row:?}");
        assert!(!mine.is_empty(), "{ctx}: no record");
        let r0 = mine[0];
        assert_eq!((col("ip.src"), col("ip.dst")), (r0.src_ip.clone(), r0.dst_ip.clone()), "{ctx}");
        assert_eq!(
            (col("tcp.srcport"), col("tcp.dstport")),
            (r0.src_port.to_string(), r0.dst_port.to_string()),
            "{ctx}"
        );
        let all = |f: &dyn Fn(&Mqtt) -> Option<String>| join(mine.iter().filter_map(|r| f(r)));
        let publish = |r: &Mqtt| r.type_number == 3;
        let connect = |r: &Mqtt| r.type_number == 1;
        let b = |x: bool| u8::from(x).to_string();
        let checks: Vec<(&str, String, String)> = vec![
            ("mqtt.msgtype", col("mqtt.msgtype"), all(&|r| Some(r.type_number.to_string()))),
            ("mqtt.hdrflags", col("mqtt.hdrflags"), all(&|r| Some(format!("0x{:02x}", r.type_number << 4 | r.flags)))),
            ("mqtt.len", col("mqtt.len"), all(&|r| Some(r.remaining_length.to_string()))),
            ("mqtt.dupflag", tbools(&col("mqtt.dupflag")), all(&|r| publish(r).then(|| b(r.dup)))),
            ("mqtt.qos", col("mqtt.qos"), all(&|r| publish(r).then(|| r.qos.to_string()))),
            ("mqtt.retain", tbools(&col("mqtt.retain")), all(&|r| publish(r).then(|| b(r.retain)))),
            // tshark names SUBSCRIBE and UNSUBSCRIBE topic filters `mqtt.topic` too.
            (
                "mqtt.topic",
                col("mqtt.topic"),
                all(&|r| {
                    let filters = || join(r.topic_filters.iter().map(|f| f.topic.clone()));
                    if publish(r) { Some(r.topic.clone()) } else { (!r.topic_filters.is_empty()).then(filters) }
                }),
            ),
            (
                "mqtt.msgid",
                col("mqtt.msgid"),
                all(&|r| (r.packet_id != 0 || (4..=11).contains(&r.type_number)).then(|| r.packet_id.to_string())),
            ),
            ("mqtt.protoname", col("mqtt.protoname"), all(&|r| connect(r).then(|| r.protocol_name.clone()))),
            ("mqtt.ver", col("mqtt.ver"), all(&|r| connect(r).then(|| r.protocol_level.to_string()))),
            ("mqtt.conflags", col("mqtt.conflags"), all(&|r| connect(r).then(|| format!("0x{:02x}", r.connect_flags)))),
            ("mqtt.kalive", col("mqtt.kalive"), all(&|r| connect(r).then(|| r.keep_alive.to_string()))),
            ("mqtt.clientid", col("mqtt.clientid"), all(&|r| connect(r).then(|| r.client_id.clone()))),
            ("mqtt.conflag.uname", tbools(&col("mqtt.conflag.uname")), all(&|r| connect(r).then(|| b(r.has_username)))),
            (
                "mqtt.conflag.passwd",
                tbools(&col("mqtt.conflag.passwd")),
                all(&|r| connect(r).then(|| b(r.has_password))),
            ),
            (
                "mqtt.conflag.willflag",
                tbools(&col("mqtt.conflag.willflag")),
                all(&|r| connect(r).then(|| b(r.has_will))),
            ),
            ("mqtt.willtopic", col("mqtt.willtopic"), all(&|r| r.has_will.then(|| r.will_topic.clone()))),
            (
                "mqtt.conack.flags.sp",
                tbools(&col("mqtt.conack.flags.sp")),
                all(&|r| (r.type_number == 2).then(|| b(r.session_present))),
            ),
            (
                "mqtt.conack.val",
                col("mqtt.conack.val"),
                all(&|r| (r.type_number == 2 && r.protocol_level < 5).then(|| r.return_code.to_string())),
            ),
            // MQTT 5.0 calls the CONNACK return code a reason code.
            (
                "mqtt.connack.reason_code",
                nums(&col("mqtt.connack.reason_code")),
                all(&|r| (r.type_number == 2 && r.protocol_level == 5).then(|| r.return_code.to_string())),
            ),
            (
                "mqtt.sub.qos",
                col("mqtt.sub.qos"),
                join(mine.iter().filter(|r| r.protocol_level < 5).flat_map(|r| r.topic_filters.iter().map(|f| f.qos))),
            ),
            (
                "mqtt.suback.qos",
                col("mqtt.suback.qos"),
                join(mine.iter().filter(|r| r.protocol_level < 5).flat_map(|r| r.return_codes.iter())),
            ),
            // MQTT 5.0: SUBACK return codes are reason codes.
            (
                "mqtt.suback.reason_code",
                nums(&col("mqtt.suback.reason_code")),
                join(mine.iter().filter(|r| r.protocol_level == 5).flat_map(|r| r.return_codes.iter())),
            ),
            (
                "mqtt.subscription_options",
                col("mqtt.subscription_options"),
                all(&|r| {
                    (r.protocol_level == 5 && r.type_number == 8)
                        .then(|| join(r.topic_filters.iter().map(|f| format!("0x{:02x}", f.options))))
                }),
            ),
            (
                "mqtt.property_len",
                col("mqtt.property_len"),
                all(&|r| (r.protocol_level == 5 && r.type_number != 12).then(|| r.properties_length.to_string())),
            ),
            (
                "mqtt.puback.reason_code",
                nums(&col("mqtt.puback.reason_code")),
                all(&|r| (r.protocol_level == 5 && r.type_number == 4).then(|| r.reason_code.to_string())),
            ),
            (
                "mqtt.disconnect.reason_code",
                nums(&col("mqtt.disconnect.reason_code")),
                all(&|r| (r.protocol_level == 5 && r.type_number == 14).then(|| r.reason_code.to_string())),
            ),
            (
                "mqtt.msg (length)",
                join(col("mqtt.msg").split(',').filter(|s| !s.is_empty()).map(|h| h.len() / 2)),
                all(&|r| (publish(r) && r.payload_length > 0).then(|| r.payload_length.to_string())),
            ),
        ];
        for (name, theirs, ours) in checks {
            assert_eq!(ours, theirs, "{name}, {ctx}");
        }
    }
    assert_eq!(at, recs.len(), "every record matches a frame tshark dissects as MQTT");
}

/// tshark prints some numbers in hex, some in decimal: decimal.
fn nums(s: &str) -> String {
    join(s.split(',').filter(|x| !x.is_empty()).map(|x| parse_num(x).map_or(x.to_string(), |n| n.to_string())))
}

fn tbools(s: &str) -> String {
    join(s.split(',').filter(|x| !x.is_empty()).map(tbool))
}

#[test]
fn example_plugin_removed_removes_its_output_and_nothing_else() {
    let dir = TempDir::new("example-mqtt-off");
    let input = mqtt_pcap(dir.path());
    let with = dir.path().join("with");
    let without = dir.path().join("without");
    run_with_plugin(&input, &with);
    let o = capture(&input, &without, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let mut names = file_names(&with);
    assert!(names.contains(&"MQTT.ncap.zst".to_string()), "{names:?}");
    names.retain(|n| n != "MQTT.ncap.zst");
    assert_eq!(file_names(&without), names);
    assert!(names.contains(&"TCP.ncap.zst".to_string()), "{names:?}");
    for n in &names {
        assert!(file_bytes(&with.join(n)) == file_bytes(&without.join(n)), "{n} differs");
    }
}

#[test]
fn a_core_module_from_plain_cargo_build_loads_like_the_component() {
    // What `cargo build --target wasm32-unknown-unknown` writes for the plugin crate (before
    // xtask's componentization): the host makes it a component at load.
    let core = netcap_tests::target_dir().join("wasm32-unknown-unknown/plugin/netcap_example_mqtt.wasm");
    assert!(core.is_file(), "{} is missing: run `cargo xtask build-plugins`", core.display());
    assert_eq!(std::fs::read(&core).unwrap()[..8], [0x00, 0x61, 0x73, 0x6d, 0x01, 0, 0, 0], "a core module");
    let dir = TempDir::new("example-mqtt-core");
    let input = mqtt_pcap(dir.path());
    let from_core = run_with_component(&input, &dir.path().join("core"), &core);
    let from_component = run_with_plugin(&input, &dir.path().join("component"));
    assert!(!from_core.is_empty());
    assert_eq!(from_core, from_component);
}
