//! Rendering records of any type as CSV cells, JSON objects or table rows, through the schema a
//! record file carries (prost-reflect), so that `dump`, `--csv` and `--json` work for record
//! types this binary has never seen.
//!
//! Conventions: columns are the message's fields in declaration order, named as in the proto;
//! integers print in decimal (64-bit ones too, not as JSON strings), bytes as lowercase hex,
//! floats in Rust's shortest round-trip form; in CSV a nested message or repeated field is one
//! cell holding compact JSON, and the csv crate quotes cells as needed (netcap's CSV did not).

use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value};
use std::fmt::Write as _;

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
            let v = msg.get_field(f);
            if f.is_list() || f.is_map() || matches!(f.kind(), Kind::Message(_)) {
                json_value(s, &v, f);
            } else {
                text_value(s, &v);
            }
        }
    }

    /// The record as one JSON object (keys in column order).
    pub fn json(&self, msg: &DynamicMessage, out: &mut String) {
        out.clear();
        out.push('{');
        for (i, f) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, f.name());
            out.push(':');
            json_value(out, &msg.get_field(f), f);
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
        other => json_any(out, other, None),
    }
}

fn json_value(out: &mut String, v: &Value, f: &FieldDescriptor) {
    let enum_desc = match f.kind() {
        Kind::Enum(e) => Some(e),
        _ => None,
    };
    json_any(out, v, enum_desc.as_ref());
}

fn json_any(out: &mut String, v: &Value, enum_desc: Option<&prost_reflect::EnumDescriptor>) {
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
        Value::Message(m) => {
            out.push('{');
            for (i, f) in m.descriptor().fields().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, f.name());
                out.push(':');
                json_value(out, &m.get_field(&f), &f);
            }
            out.push('}');
        }
        Value::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_any(out, x, enum_desc);
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
                json_any(out, val, None);
            }
            out.push('}');
        }
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
}
