//! A test-only decoder with hostile record schemas, to show that nothing that walks a schema
//! (rendering CSV/JSON at capture time, `dump`, `label`) recurses without bound. Package `t`
//! holds messages `M0` .. `M9999`: each has a string `name`, an int64 `timestamp` and two fields
//! `a`, `b` plus a repeated `kids` of the next message, and the last one's are of itself. Record type `Chain` is
//! `t.M0` (10,000 levels of distinct types), `Recursive` is `t.M9999` (a self-referential type,
//! like `google.protobuf.Struct`). For each UDP packet it emits one record of each, nesting
//! `a` as many levels as the packet's destination port modulo 100 (protobuf's decoders stop at
//! 100 levels). Built into `target/plugins-testing/`, never loaded unless asked for.

use netcap_sdk::{Config, Decoder, DecoderInfo, Emitter, Kind, Packet, RecordType, export_decoder, layer};

/// Messages in the chain.
pub const LEVELS: usize = 10_000;

/// The exported decoder.
pub struct Nested;

/// Any message of the schema, on the wire (all share field numbers and types).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Node {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, boxed, tag = "2")]
    pub a: Option<Box<Node>>,
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
}

/// A node nesting `levels` more in `a`, the innermost named `deep`.
pub fn nest(levels: usize) -> Node {
    let mut n = Node { name: "deep".into(), a: None, timestamp: 0 };
    for i in 0..levels {
        n = Node { name: format!("level {}", levels - 1 - i), a: Some(Box::new(n)), timestamp: 0 };
    }
    n
}

/// The serialized `FileDescriptorSet` of package `t` (see the module docs).
pub fn schema() -> Vec<u8> {
    chain(LEVELS)
}

/// Package `t` with messages `M0` .. `M{n-1}` (see the module docs); `chain(1)` is one
/// self-referential message.
pub fn chain(n: usize) -> Vec<u8> {
    use prost::Message as _;
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
                    field("timestamp", 5, Label::Optional, Type::Int64, None),
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

impl Decoder for Nested {
    fn describe() -> DecoderInfo {
        DecoderInfo {
            name: "nested".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: Kind::Layer,
            layers: vec!["udp".into()],
            record_types: vec![
                RecordType { name: "Recursive".into(), message: format!("t.M{}", LEVELS - 1) },
                RecordType { name: "Chain".into(), message: "t.M0".into() },
            ],
            schema: schema(),
            ..Default::default()
        }
    }

    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Nested)
    }

    fn decode(&mut self, p: &Packet<'_>, out: &mut Emitter<'_>) {
        let Some(udp) = p.layers().find(|l| l.id == layer::UDP) else { return };
        let Some(h) = p.data.get(udp.offset..udp.offset + 4) else { return };
        let levels = usize::from(u16::from_be_bytes([h[2], h[3]]) % 100);
        let mut n = nest(levels);
        n.timestamp = p.ts_nanos;
        out.record(0, &n);
        out.record(1, &n);
    }
}

export_decoder!(Nested);
