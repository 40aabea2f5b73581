//! Rendering records of any type as CSV cells, JSON objects or table rows, through the schema a
//! record file carries (prost-reflect), so that `dump`, `--csv` and `--json` work for record
//! types this binary has never seen.
//!
//! Conventions: columns are the message's fields in declaration order, named as in the proto;
//! integers print in decimal (64-bit ones too, not as JSON strings), bytes as lowercase hex,
//! floats in Rust's shortest round-trip form; in CSV a nested message or repeated field is one
//! cell holding compact JSON, and the csv crate quotes cells as needed (netcap's CSV did not).
//!
//! Rendering is bounded whatever the schema: a record file or a third-party decoder may declare
//! recursive (`google.protobuf.Struct`-like) or absurdly nested messages. Nested messages deeper
//! than [`MAX_DEPTH`] render as the JSON string `"…"`; an unset message field renders as its
//! default value (all fields at their defaults, as before) only while the record's budget of
//! [`MAX_DEFAULTS`] default messages lasts and never for a type already being rendered further
//! up (a recursive type), and as `null` otherwise. Values set in the record are bounded by the
//! record itself (protobuf decoding stops at 100 levels of nesting).

use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value};
use std::fmt::Write as _;

/// Levels of nested messages rendered; deeper ones are `"…"`.
pub const MAX_DEPTH: usize = 32;
/// Unset message fields rendered as their default value per record; further ones are `null`.
/// (Without a bound, a schema whose every message holds two unset fields of the next would
/// render 2^depth default objects.)
pub const MAX_DEFAULTS: usize = 256;

/// Errors building a renderer from a schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the schema is not a valid FileDescriptorSet: {0}")]
    Descriptor(String),
    #[error("the schema does not define message {0}")]
    MissingMessage(String),
    #[error("unknown field {field:?}; fields: {available}")]
    UnknownField { field: String, available: String },
}

/// Renders records of one message type.
#[derive(Debug, Clone)]
pub struct Renderer {
    desc: MessageDescriptor,
    columns: Vec<FieldDescriptor>,
}

impl Renderer {
    /// A renderer for `message` in the serialized FileDescriptorSet `schema`.
    pub fn new(schema: &[u8], message: &str) -> Result<Self, SchemaError> {
        let pool = DescriptorPool::decode(schema).map_err(|e| SchemaError::Descriptor(e.to_string()))?;
        let desc = pool.get_message_by_name(message).ok_or_else(|| SchemaError::MissingMessage(message.into()))?;
        let columns = desc.fields().collect();
        Ok(Renderer { desc, columns })
    }

    /// Restricts and orders the columns.
    pub fn select(&mut self, names: &[String]) -> Result<(), SchemaError> {
        let mut cols = Vec::with_capacity(names.len());
        for n in names {
            match self.desc.get_field_by_name(n) {
                Some(f) => cols.push(f),
                None => {
                    let available = self.desc.fields().map(|f| f.name().to_string()).collect::<Vec<_>>().join(",");
                    return Err(SchemaError::UnknownField { field: n.clone(), available });
                }
            }
        }
        self.columns = cols;
        Ok(())
    }

    /// The record type's message descriptor.
    pub fn descriptor(&self) -> &MessageDescriptor {
        &self.desc
    }

    /// Column names.
    pub fn header(&self) -> Vec<String> {
        self.columns.iter().map(|f| f.name().to_string()).collect()
    }

    /// Decodes one record.
    pub fn decode(&self, bytes: &[u8]) -> Result<DynamicMessage, prost::DecodeError> {
        DynamicMessage::decode(self.desc.clone(), bytes)
    }

    /// The record's cells, one per column (the strings already in `out` are reused).
    pub fn cells(&self, msg: &DynamicMessage, out: &mut Vec<String>) {
        out.resize_with(self.columns.len(), String::new);
        for (f, s) in self.columns.iter().zip(out.iter_mut()) {
            s.clear();
            if f.is_list() || f.is_map() || matches!(f.kind(), Kind::Message(_)) {
                let mut cx = Cx::new(&self.desc);
                cx.field(s, msg, f);
            } else {
                text_value(s, &msg.get_field(f));
            }
        }
    }

    /// The record as one JSON object (keys in column order).
    pub fn json(&self, msg: &DynamicMessage, out: &mut String) {
        out.clear();
        out.push('{');
        let mut cx = Cx::new(&self.desc);
        for (i, f) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, f.name());
            out.push(':');
            cx.field(out, msg, f);
        }
        out.push('}');
    }
}

fn hex(out: &mut String, b: &[u8]) {
    for x in b {
        let _ = write!(out, "{x:02x}");
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn float(out: &mut String, f: f64, json: bool) {
    if f.is_finite() {
        let _ = write!(out, "{f}");
    } else if json {
        out.push_str("null");
    } else {
        let _ = write!(out, "{f}");
    }
}

/// A scalar as a CSV/table cell.
fn text_value(out: &mut String, v: &Value) {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I32(x) => {
            let _ = write!(out, "{x}");
        }
        Value::I64(x) => {
            let _ = write!(out, "{x}");
        }
        Value::U32(x) => {
            let _ = write!(out, "{x}");
        }
        Value::U64(x) => {
            let _ = write!(out, "{x}");
        }
        Value::F32(x) => float(out, f64::from(*x), false),
        Value::F64(x) => float(out, *x, false),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => hex(out, b),
        Value::EnumNumber(n) => {
            let _ = write!(out, "{n}");
        }
        other => Cx::default().any(out, other, None),
    }
}

/// The bounds of rendering one record: the message types being rendered (outermost first) and
/// the default messages still allowed.
#[derive(Default)]
struct Cx {
    path: Vec<MessageDescriptor>,
    defaults_left: usize,
}

impl Cx {
    fn new(top: &MessageDescriptor) -> Self {
        Cx { path: vec![top.clone()], defaults_left: MAX_DEFAULTS }
    }

    /// Field `f` of `msg` as JSON.
    fn field(&mut self, out: &mut String, msg: &DynamicMessage, f: &FieldDescriptor) {
        if let Kind::Message(m) = f.kind()
            && !f.is_list()
            && !f.is_map()
            && !msg.has_field(f)
        {
            // Unset: its default, unless that could recurse or explode.
            if self.defaults_left == 0 || self.path.contains(&m) {
                out.push_str("null");
                return;
            }
            self.defaults_left -= 1;
        }
        let enum_desc = match f.kind() {
            Kind::Enum(e) => Some(e),
            _ => None,
        };
        self.any(out, &msg.get_field(f), enum_desc.as_ref());
    }

    fn any(&mut self, out: &mut String, v: &Value, enum_desc: Option<&prost_reflect::EnumDescriptor>) {
        match v {
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::I32(_) | Value::I64(_) | Value::U32(_) | Value::U64(_) => text_value(out, v),
            Value::F32(x) => float(out, f64::from(*x), true),
            Value::F64(x) => float(out, *x, true),
            Value::String(s) => json_str(out, s),
            Value::Bytes(b) => {
                out.push('"');
                hex(out, b);
                out.push('"');
            }
            Value::EnumNumber(n) => match enum_desc.and_then(|e| e.get_value(*n)) {
                Some(ev) => json_str(out, ev.name()),
                None => {
                    let _ = write!(out, "{n}");
                }
            },
            Value::Message(m) => self.message(out, m),
            Value::List(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.any(out, x, enum_desc);
                }
                out.push(']');
            }
            Value::Map(m) => {
                let mut keys: Vec<_> = m.iter().collect();
                keys.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
                out.push('{');
                for (i, (k, val)) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let mut ks = String::new();
                    match k {
                        prost_reflect::MapKey::String(s) => ks.push_str(s),
                        other => {
                            let _ = write!(ks, "{other:?}");
                        }
                    }
                    json_str(out, &ks);
                    out.push(':');
                    self.any(out, val, None);
                }
                out.push('}');
            }
        }
    }

    /// A nested message as a JSON object, or `"…"` below [`MAX_DEPTH`].
    fn message(&mut self, out: &mut String, m: &DynamicMessage) {
        if self.path.len() >= MAX_DEPTH {
            out.push_str("\"…\"");
            return;
        }
        self.path.push(m.descriptor());
        out.push('{');
        for (i, f) in m.descriptor().fields().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, f.name());
            out.push(':');
            self.field(out, m, &f);
        }
        out.push('}');
        self.path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn renders_tcp_with_options_as_json_and_csv() {
        let r = Renderer::new(netcap_proto::DESCRIPTOR_SET, "netcap.v1.TCP").unwrap();
        let tcp = netcap_proto::v1::Tcp {
            timestamp: 1_600_000_000_123_456_789,
            src_port: 443,
            syn: true,
            src_ip: "10.0.0.1".into(),
            payload: vec![0xde, 0xad],
            options: vec![netcap_proto::v1::TcpOption { option_type: 2, option_length: 4, option_data: vec![5, 0xb4] }],
            payload_entropy: 1.5,
            ..Default::default()
        };
        let msg = r.decode(&tcp.encode_to_vec()).unwrap();
        let mut j = String::new();
        r.json(&msg, &mut j);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["timestamp"], serde_json::json!(1_600_000_000_123_456_789i64));
        assert_eq!(v["src_ip"], "10.0.0.1");
        assert_eq!(v["syn"], true);
        assert_eq!(v["payload"], "dead");
        assert_eq!(v["options"][0]["option_data"], "05b4");
        assert_eq!(v["payload_entropy"], 1.5);
        assert!(j.starts_with("{\"timestamp\":"), "keys in declaration order: {j}");
        let mut cells = Vec::new();
        r.cells(&msg, &mut cells);
        assert_eq!(cells.len(), r.header().len());
        assert_eq!(cells[0], "1600000000123456789");
        let opt_col = r.header().iter().position(|h| h == "options").unwrap();
        assert_eq!(cells[opt_col], r#"[{"option_type":2,"option_length":4,"option_data":"05b4"}]"#);
    }

    #[test]
    fn select_checks_names() {
        let mut r = Renderer::new(netcap_proto::DESCRIPTOR_SET, "netcap.v1.UDP").unwrap();
        r.select(&["dst_port".into(), "src_port".into()]).unwrap();
        assert_eq!(r.header(), vec!["dst_port", "src_port"]);
        let e = r.select(&["nope".into()]).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("src_port"), "{e}");
        assert!(Renderer::new(netcap_proto::DESCRIPTOR_SET, "netcap.v1.Nope").is_err());
    }

    /// A schema of `n` messages `M0` .. `M{n-1}` in package `t`: each holds a string `name`, an
    /// `M{i+1}` in `a` and in `b` and a repeated one in `kids`; the last holds itself (recursive).
    pub(crate) fn chain_schema(n: usize) -> Vec<u8> {
        use prost_types::field_descriptor_proto::{Label, Type};
        use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};
        let field = |name: &str, number: i32, label: Label, ty: Type, type_name: Option<String>| FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            label: Some(label as i32),
            r#type: Some(ty as i32),
            type_name,
            ..Default::default()
        };
        let message_type = (0..n)
            .map(|i| {
                let next = Some(format!(".t.M{}", (i + 1).min(n - 1)));
                DescriptorProto {
                    name: Some(format!("M{i}")),
                    field: vec![
                        field("name", 1, Label::Optional, Type::String, None),
                        field("a", 2, Label::Optional, Type::Message, next.clone()),
                        field("b", 3, Label::Optional, Type::Message, next.clone()),
                        field("kids", 4, Label::Repeated, Type::Message, next),
                    ],
                    ..Default::default()
                }
            })
            .collect();
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            message_type,
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        FileDescriptorSet { file: vec![file] }.encode_to_vec()
    }

    /// A record nesting `levels` messages through field `a` (number 2), innermost named "deep".
    pub(crate) fn nested_record(levels: usize) -> Vec<u8> {
        let mut rec = vec![0x0a, 4, b'd', b'e', b'e', b'p'];
        for _ in 0..levels {
            let mut outer = vec![0x12];
            netcap_proto::put_uvarint(&mut outer, rec.len() as u64);
            outer.extend_from_slice(&rec);
            rec = outer;
        }
        rec
    }

    #[test]
    fn a_recursive_type_renders_unset_fields_of_itself_as_null() {
        let r = Renderer::new(&chain_schema(1), "t.M0").unwrap();
        let msg = r.decode(&[]).unwrap();
        let mut j = String::new();
        r.json(&msg, &mut j);
        assert_eq!(j, r#"{"name":"","a":null,"b":null,"kids":[]}"#);
        let mut cells = Vec::new();
        r.cells(&msg, &mut cells);
        assert_eq!(cells, ["", "null", "null", "[]"]);
    }

    #[test]
    fn deep_records_render_as_ellipsis_below_the_depth_bound() {
        let r = Renderer::new(&chain_schema(1), "t.M0").unwrap();
        // 90 levels decode (protobuf's own limit is 100); levels past MAX_DEPTH are "…".
        let msg = r.decode(&nested_record(90)).unwrap();
        let mut j = String::new();
        r.json(&msg, &mut j);
        assert_eq!(j.matches("{\"name\"").count(), MAX_DEPTH - 1 + 1, "{j}");
        assert!(j.contains(r#""a":"…""#), "{j}");
        assert!(!j.contains("deep"), "{j}");
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert!(v["a"]["a"].is_object());
        // Deeper than protobuf's recursion limit: a decode error, not a crash.
        assert!(r.decode(&nested_record(5_000)).is_err());
    }

    #[test]
    fn a_ten_thousand_level_schema_renders_in_bounded_space() {
        let schema = chain_schema(10_000);
        let r = Renderer::new(&schema, "t.M0").unwrap();
        let msg = r.decode(&nested_record(50)).unwrap();
        let mut j = String::new();
        r.json(&msg, &mut j);
        serde_json::from_str::<serde_json::Value>(&j).unwrap();
        // Two unset fields per level would be 2^32 default objects; the budget stops them.
        assert!(j.matches('{').count() <= MAX_DEPTH + MAX_DEFAULTS + 1, "{} objects", j.matches('{').count());
        assert!(j.contains("null"));
        let empty = r.decode(&[]).unwrap();
        r.json(&empty, &mut j);
        assert!(j.len() < 64 * 1024, "{} bytes", j.len());
    }

    #[test]
    fn a_schema_nested_ten_thousand_levels_deep_is_refused_not_a_crash() {
        // DescriptorProto { name: "N", nested_type: DescriptorProto { ... } } 10,000 deep, built
        // back to front so that no encoder recurses.
        let mut rev: Vec<u8> = Vec::new();
        for _ in 0..10_000 {
            let mut len = Vec::new();
            netcap_proto::put_uvarint(&mut len, rev.len() as u64);
            rev.extend(len.iter().rev());
            rev.extend_from_slice(&[0x1a, b'N', 1, 0x0a]);
        }
        rev.reverse();
        // FileDescriptorProto { message_type: that } in a FileDescriptorSet { file: ... }.
        let wrap = |tag: u8, body: &[u8]| {
            let mut v = vec![tag];
            netcap_proto::put_uvarint(&mut v, body.len() as u64);
            v.extend_from_slice(body);
            v
        };
        let set = wrap(0x0a, &wrap(0x22, &rev));
        let e = Renderer::new(&set, "N").unwrap_err();
        assert!(matches!(e, SchemaError::Descriptor(_)), "{e}");
    }
}
