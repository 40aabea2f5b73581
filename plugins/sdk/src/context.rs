//! What nearly every decoder otherwise rewrites by hand: the transport payload bounded by the
//! lengths its headers announce ([`Packet::transport`]), the standard context fields of a record
//! (time, addresses, ports, tunnel depth: [`Context`], [`ContextFields`], [`context_fields!`]),
//! and record type ids tied to their message type ([`RecordId`], [`record_ids!`]), so that
//! `out.emit(ID, &record)` cannot name the wrong type.
//!
//! ```
//! # mod schema { #[derive(Clone, PartialEq, prost::Message)] pub struct Ping {
//! #   #[prost(int64, tag = "1")] pub timestamp: i64, #[prost(string, tag = "2")] pub src_ip: String,
//! #   #[prost(string, tag = "3")] pub dst_ip: String, #[prost(uint32, tag = "4")] pub src_port: u32,
//! #   #[prost(uint32, tag = "5")] pub dst_port: u32, #[prost(uint32, tag = "6")] pub tunnel_depth: u32 } }
//! netcap_sdk::record_ids! {
//!     /// Every record type of this decoder, in type-id order.
//!     pub const RECORD_TYPES = [PING: schema::Ping = ("Ping", "plugin.ping.v1.Ping")];
//! }
//! netcap_sdk::context_fields!(schema::Ping);
//! assert_eq!(PING.id(), 0);
//! assert_eq!(RECORD_TYPES, &[("Ping", "plugin.ping.v1.Ping")]);
//! ```

use crate::stream::{Dir, StreamInfo};
use crate::{Packet, layer};
use std::marker::PhantomData;

/// The standard context of a record: when, from where to where, how deep in tunnels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context<'a> {
    /// Capture time, ns since the Unix epoch.
    pub ts_nanos: i64,
    /// Sender's address bytes (4 or 16), empty without an IP layer.
    pub src: &'a [u8],
    /// Receiver's address bytes (4 or 16), empty without an IP layer.
    pub dst: &'a [u8],
    /// Sender's port, 0 without a transport layer.
    pub src_port: u16,
    /// Receiver's port, 0 without a transport layer.
    pub dst_port: u16,
    /// 0 for the outermost packet, 1 inside the first tunnel, ...
    pub tunnel_depth: u32,
}

impl<'a> Packet<'a> {
    /// The context of layer index `at`: the packet's time, the addresses and ports of the headers
    /// around it ([`Packet::endpoints`] of the layers before it and its own, when it is a
    /// transport layer), and its tunnel depth.
    pub fn context(&self, at: usize) -> Context<'a> {
        let own = self.layer(at).is_some_and(|l| matches!(l.id, layer::TCP | layer::UDP | layer::SCTP));
        let e = self.endpoints(if own { at + 1 } else { at });
        Context {
            ts_nanos: self.ts_nanos,
            src: e.src,
            dst: e.dst,
            src_port: e.src_port,
            dst_port: e.dst_port,
            tunnel_depth: self.layer(at).map_or(0, |l| l.depth()),
        }
    }

    /// Where the IP packet around layer index `at` ends in [`Packet::data`] by the nearest IPv4
    /// total length or IPv6 payload length before it (so Ethernet padding is not payload), at
    /// most the end of the captured data. The end of the data when there is no IP header or its
    /// length is 0 (TSO, jumbogram).
    pub fn ip_end(&self, at: usize) -> usize {
        self.ip_announced_end(at).map_or(self.data.len(), |e| e.min(self.data.len()))
    }

    /// The end the nearest IP header before layer `at` announces, which may lie beyond the data.
    fn ip_announced_end(&self, at: usize) -> Option<usize> {
        for j in (0..at.min(self.layer_count())).rev() {
            let l = self.layer(j)?;
            let (field, base) = match l.id {
                layer::IPV4 => (l.offset + 2, l.offset),
                layer::IPV6 => (l.offset + 4, l.offset + 40),
                _ => continue,
            };
            let h = self.data.get(field..field + 2)?;
            let n = usize::from(u16::from_be_bytes([h[0], h[1]]));
            return (n != 0).then_some(base + n);
        }
        None
    }

    /// The TCP or UDP layer at index `at` with its payload: for UDP bounded by the UDP length
    /// and the IP length, for TCP by the data offset and the IP length, and always by the captured
    /// bytes. `None` when the layer is neither or its first 8 bytes are missing.
    pub fn transport(&self, at: usize) -> Option<Transport<'a>> {
        let l = self.layer(at)?;
        let d = self.data;
        let h = d.get(l.offset..l.offset + 8)?;
        let (src_port, dst_port) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]));
        let ip = self.ip_announced_end(at);
        let (start, bound) = match l.id {
            layer::UDP => {
                let udp = usize::from(u16::from_be_bytes([h[4], h[5]]));
                // A zero UDP length (jumbogram) leaves the IP length as the bound.
                let own = (udp != 0).then_some(l.offset + udp.max(8));
                let bound = match (own, ip) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                (l.offset + 8, bound)
            }
            layer::TCP => {
                let off = d.get(l.offset + 12).map_or(20, |b| usize::from(b >> 4) * 4).max(20);
                (l.offset + off, ip)
            }
            _ => return None,
        };
        let bound = bound.unwrap_or(d.len()).max(start);
        let payload = d.get(start..bound.min(d.len())).unwrap_or_default();
        Some(Transport { at, id: l.id, src_port, dst_port, payload, cut: d.len() < bound })
    }

    /// Every UDP layer of the packet (tunnelled ones too), outermost first, with its bounded payload.
    pub fn udp(&self) -> impl Iterator<Item = Transport<'a>> + 'a {
        let p = *self;
        (0..self.layer_count())
            .filter(move |&i| p.layer(i).is_some_and(|l| l.id == layer::UDP))
            .filter_map(move |i| p.transport(i))
    }
}

/// A TCP or UDP layer and its payload (see [`Packet::transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport<'a> {
    /// Index of the layer in the packet.
    pub at: usize,
    /// [`layer::TCP`] or [`layer::UDP`].
    pub id: u16,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The payload bytes present, never beyond what the headers announce (no padding).
    pub payload: &'a [u8],
    /// Whether the capture holds fewer payload bytes than the headers announce.
    pub cut: bool,
}

impl Transport<'_> {
    /// Whether either port is `port`.
    pub fn has_port(&self, port: u16) -> bool {
        self.src_port == port || self.dst_port == port
    }
}

impl StreamInfo {
    /// The context of bytes sent in direction `dir` at time `ts_nanos` (usually the event's
    /// [`crate::EventMeta::ts_nanos`]).
    pub fn context(&self, dir: Dir, ts_nanos: i64) -> Context<'_> {
        let (src, src_port, dst, dst_port) = match dir {
            Dir::ToServer => (self.client_addr(), self.client_port, self.server_addr(), self.server_port),
            Dir::ToClient => (self.server_addr(), self.server_port, self.client_addr(), self.client_port),
        };
        Context { ts_nanos, src, dst, src_port, dst_port, tunnel_depth: u32::from(self.tunnel_depth) }
    }
}

/// A record message with the standard context fields; implement it with [`context_fields!`].
pub trait ContextFields {
    /// Sets the context fields from `c` (addresses as text, reusing the strings' buffers).
    fn set_context(&mut self, c: &Context<'_>);
}

/// Implements [`ContextFields`] for record messages that have the standard context fields, named
/// as netcap's own records name them: `timestamp` (int64), `src_ip`, `dst_ip` (string),
/// `src_port`, `dst_port`, `tunnel_depth` (uint32). A message without one of them does not compile.
#[macro_export]
macro_rules! context_fields {
    ($($t:ty),+ $(,)?) => {$(
        impl $crate::ContextFields for $t {
            fn set_context(&mut self, c: &$crate::Context<'_>) {
                self.timestamp = c.ts_nanos;
                $crate::fmt::set_ip(&mut self.src_ip, c.src);
                $crate::fmt::set_ip(&mut self.dst_ip, c.dst);
                self.src_port = u32::from(c.src_port);
                self.dst_port = u32::from(c.dst_port);
                self.tunnel_depth = c.tunnel_depth;
            }
        }
    )+};
}

/// The type id of record message `M`: its index in the decoder's record types. Made by
/// [`record_ids!`]; [`crate::Emitter::emit`] takes only a record of type `M` with it.
pub struct RecordId<M> {
    id: u16,
    message: PhantomData<fn() -> M>,
}

impl<M> RecordId<M> {
    /// The id with index `id` (use [`record_ids!`], which counts them for you).
    pub const fn new(id: u16) -> Self {
        RecordId { id, message: PhantomData }
    }

    /// The type id.
    pub const fn id(&self) -> u16 {
        self.id
    }
}

impl<M> Clone for RecordId<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for RecordId<M> {}

impl<M> std::fmt::Debug for RecordId<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordId({})", self.id)
    }
}

/// Declares a decoder's record types once: a typed [`RecordId`] constant per type, numbered in
/// order from 0, and the `(name, protobuf message)` list for [`crate::record_types`].
///
/// `record_ids! { pub const LIST = [ID: MessageType = ("Name", "package.Message"), ...]; }`
#[macro_export]
macro_rules! record_ids {
    ($(#[$m:meta])* $vis:vis const $list:ident = [$($id:ident: $ty:ty = ($name:literal, $msg:literal)),+ $(,)?];) => {
        $crate::__record_ids!([$vis] 0u16; $($id: $ty = $name),+);
        $(#[$m])*
        $vis const $list: &[(&str, &str)] = &[$(($name, $msg)),+];
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __record_ids {
    ([$vis:vis] $n:expr; $id:ident: $ty:ty = $name:literal $(, $rid:ident: $rty:ty = $rname:literal)*) => {
        #[doc = concat!("Type id of the `", $name, "` records.")]
        $vis const $id: $crate::RecordId<$ty> = $crate::RecordId::new($n);
        $crate::__record_ids!([$vis] $n + 1u16; $($rid: $rty = $rname),*);
    };
    ([$vis:vis] $n:expr;) => {};
}

#[cfg(test)]
mod tests;
