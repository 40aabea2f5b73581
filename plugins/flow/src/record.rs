//! Connection and Flow records from a connection's state. Message values are reused between
//! records, so emitting does not allocate once their strings have grown.

use crate::community_id::CommunityId;
use crate::conn::{Conn, Dir};
use crate::packet::Family;
use crate::table::{End, Sink};
use netcap_proto::v1;
use netcap_sdk::host::App;
use netcap_sdk::{Emitter, fmt};

/// Type ids: indexes into the record types this decoder declares.
pub const T_FLOW: u16 = 0;
pub const T_CONNECTION: u16 = 1;

/// Record type names with their protobuf messages, in type-id order.
pub const RECORD_TYPES: [(&str, &str); 2] = [("Flow", "netcap.v1.Flow"), ("Connection", "netcap.v1.Connection")];

/// The error kind counted for each eviction.
pub const EVICTED: &str = "flow: table full (flow-max), least recently used connection evicted";

/// Builds and emits records.
#[derive(Default)]
pub struct Records {
    pub cid: CommunityId,
    /// Flow, Connection enabled.
    pub enabled: [bool; 2],
    flow: v1::Flow,
    conn: v1::Connection,
    community_id: String,
}

fn set_addr(s: &mut String, family: Family, a: &[u8; 16]) {
    s.clear();
    match family {
        Family::V4 => fmt::set_ip(s, &a[..4]),
        Family::V6 => fmt::set_ip(s, &a[..]),
        Family::Link => {}
    }
}

fn set_mac(s: &mut String, m: Option<[u8; 6]>) {
    s.clear();
    if let Some(m) = m {
        fmt::set_mac(s, &m);
    }
}

fn set_str(s: &mut String, v: &str) {
    s.clear();
    s.push_str(v);
}

fn sum_flags(a: &Dir, b: &Dir, i: usize) -> u32 {
    a.flags[i].saturating_add(b.flags[i])
}

impl Records {
    /// Fills `community_id` for `c` ("" for link-layer flows).
    fn community_id(&mut self, c: &Conn) {
        self.community_id.clear();
        let n = match c.family {
            Family::V4 => 4,
            Family::V6 => 16,
            Family::Link => return,
        };
        let ports = c.has_ports.then_some((c.cport, c.sport));
        self.cid.write(&mut self.community_id, c.proto, &c.client[..n], &c.server[..n], ports, c.one_way);
    }

    /// Emits the records of `c`'s ended record: its Connection and a Flow per direction with packets.
    pub fn emit(&mut self, c: &Conn, why: End, app: Option<&App>, out: &mut Emitter<'_>) {
        if !self.enabled.iter().any(|&e| e) {
            return;
        }
        self.community_id(c);
        let none = App::default();
        let app = app.unwrap_or(&none);
        if self.enabled[T_CONNECTION as usize] {
            self.connection(c, why, app);
            out.record(T_CONNECTION, &self.conn);
        }
        if self.enabled[T_FLOW as usize] {
            for d in 0..2 {
                if c.dirs[d].packets > 0 {
                    self.flow(c, d, why, app);
                    out.record(T_FLOW, &self.flow);
                }
            }
        }
    }

    fn connection(&mut self, c: &Conn, why: End, app: &App) {
        let (a, b) = (&c.dirs[0], &c.dirs[1]);
        let r = &mut self.conn;
        r.timestamp = c.first;
        r.timestamp_first = c.first;
        r.timestamp_last = c.last;
        r.duration = c.last.saturating_sub(c.first);
        set_str(&mut r.link_proto, c.link_proto);
        set_str(&mut r.network_proto, c.network_proto);
        set_str(&mut r.transport_proto, c.transport_proto);
        set_str(&mut r.application_proto, &app.protocol);
        set_str(&mut r.application_master, &app.master);
        set_str(&mut r.application_category, &app.category);
        r.application_guessed = c.app != 0 && c.app_guessed;
        if c.family == Family::Link {
            let (mut s, mut d) = ([0u8; 6], [0u8; 6]);
            s.copy_from_slice(&c.client[..6]);
            d.copy_from_slice(&c.server[..6]);
            set_mac(&mut r.src_mac, Some(s));
            set_mac(&mut r.dst_mac, Some(d));
        } else {
            set_mac(&mut r.src_mac, c.macs.map(|m| m.0));
            set_mac(&mut r.dst_mac, c.macs.map(|m| m.1));
        }
        set_addr(&mut r.src_ip, c.family, &c.client);
        set_addr(&mut r.dst_ip, c.family, &c.server);
        let ports = c.family != Family::Link;
        r.src_port = if ports { u32::from(c.cport) } else { 0 };
        r.dst_port = if ports { u32::from(c.sport) } else { 0 };
        r.total_size = a.bytes + b.bytes;
        r.app_payload_size = a.payload + b.payload;
        r.num_packets = a.packets + b.packets;
        r.bytes_client_to_server = a.bytes;
        r.bytes_server_to_client = b.bytes;
        r.packets_client_to_server = a.packets;
        r.packets_server_to_client = b.packets;
        r.payload_bytes_client_to_server = a.payload;
        r.payload_bytes_server_to_client = b.payload;
        r.num_fin_flags = sum_flags(a, b, 0);
        r.num_syn_flags = sum_flags(a, b, 1);
        r.num_rst_flags = sum_flags(a, b, 2);
        r.num_psh_flags = sum_flags(a, b, 3);
        r.num_ack_flags = sum_flags(a, b, 4);
        r.num_urg_flags = sum_flags(a, b, 5);
        r.num_ece_flags = sum_flags(a, b, 6);
        r.num_cwr_flags = sum_flags(a, b, 7);
        r.num_ns_flags = sum_flags(a, b, 8);
        let wn = a.win_count + b.win_count;
        r.mean_window_size = if wn == 0 { 0.0 } else { (a.win_sum + b.win_sum) as f64 / wn as f64 };
        (r.min_window_size, r.max_window_size) = match (a.win_count > 0, b.win_count > 0) {
            (true, true) => (u32::from(a.win_min.min(b.win_min)), u32::from(a.win_max.max(b.win_max))),
            (true, false) => (u32::from(a.win_min), u32::from(a.win_max)),
            (false, true) => (u32::from(b.win_min), u32::from(b.win_max)),
            (false, false) => (0, 0),
        };
        set_str(&mut r.conn_state, c.conn_state());
        set_str(&mut r.history, c.history());
        set_str(&mut r.community_id, &self.community_id);
        r.continued = c.continued;
        set_str(&mut r.end_reason, why.as_str());
        r.ip_protocol = u32::from(c.proto);
        r.ethertype = u32::from(c.ethertype);
    }

    fn flow(&mut self, c: &Conn, d: usize, why: End, app: &App) {
        let x = &c.dirs[d];
        let r = &mut self.flow;
        r.timestamp = x.first;
        r.timestamp_first = x.first;
        r.timestamp_last = x.last;
        r.duration = x.last.saturating_sub(x.first);
        set_str(&mut r.link_proto, c.link_proto);
        set_str(&mut r.network_proto, c.network_proto);
        set_str(&mut r.transport_proto, c.transport_proto);
        set_str(&mut r.application_proto, &app.protocol);
        set_str(&mut r.application_master, &app.master);
        set_str(&mut r.application_category, &app.category);
        r.application_guessed = c.app != 0 && c.app_guessed;
        let (src, dst, sp, dp) =
            if d == 0 { (&c.client, &c.server, c.cport, c.sport) } else { (&c.server, &c.client, c.sport, c.cport) };
        if c.family == Family::Link {
            let (mut s, mut t) = ([0u8; 6], [0u8; 6]);
            s.copy_from_slice(&src[..6]);
            t.copy_from_slice(&dst[..6]);
            set_mac(&mut r.src_mac, Some(s));
            set_mac(&mut r.dst_mac, Some(t));
        } else {
            let macs = c.macs.map(|(s, t)| if d == 0 { (s, t) } else { (t, s) });
            set_mac(&mut r.src_mac, macs.map(|m| m.0));
            set_mac(&mut r.dst_mac, macs.map(|m| m.1));
        }
        set_addr(&mut r.src_ip, c.family, src);
        set_addr(&mut r.dst_ip, c.family, dst);
        let ports = c.family != Family::Link;
        r.src_port = if ports { u32::from(sp) } else { 0 };
        r.dst_port = if ports { u32::from(dp) } else { 0 };
        r.total_size = x.bytes;
        r.app_payload_size = x.payload;
        r.num_packets = x.packets;
        r.num_fin_flags = x.flags[0];
        r.num_syn_flags = x.flags[1];
        r.num_rst_flags = x.flags[2];
        r.num_psh_flags = x.flags[3];
        r.num_ack_flags = x.flags[4];
        r.num_urg_flags = x.flags[5];
        r.num_ece_flags = x.flags[6];
        r.num_cwr_flags = x.flags[7];
        r.num_ns_flags = x.flags[8];
        r.mean_window_size = x.mean_window();
        r.min_window_size = u32::from(x.win_min);
        r.max_window_size = u32::from(x.win_max);
        set_str(&mut r.community_id, &self.community_id);
        r.continued = c.continued;
        set_str(&mut r.end_reason, why.as_str());
        r.ip_protocol = u32::from(c.proto);
        r.ethertype = u32::from(c.ethertype);
        r.reply = d == 1;
    }
}

/// DPI verdicts looked up so far (ids are stable within a run; bounded).
pub type AppCache = Vec<(u16, Option<App>)>;

const APP_CACHE_MAX: usize = 1024;

/// A [`Sink`] writing records to an [`Emitter`].
pub struct Out<'a, 'b> {
    pub records: &'a mut Records,
    pub em: &'a mut Emitter<'b>,
    pub apps: &'a mut AppCache,
}

impl Sink for Out<'_, '_> {
    fn full(&mut self) -> bool {
        self.em.chunk_full()
    }

    fn emit(&mut self, c: &Conn, why: End) {
        if c.app == 0 {
            self.records.emit(c, why, None, self.em);
            return;
        }
        let found = self.apps.iter().position(|(id, _)| *id == c.app);
        let i = match found {
            Some(i) => i,
            None => {
                if self.apps.len() >= APP_CACHE_MAX {
                    self.apps.clear();
                }
                self.apps.push((c.app, netcap_sdk::host::app_info(c.app)));
                self.apps.len() - 1
            }
        };
        self.records.emit(c, why, self.apps[i].1.as_ref(), self.em);
    }

    fn evicted(&mut self) {
        self.em.error(EVICTED);
    }
}
