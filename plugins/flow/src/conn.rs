//! The state of one connection: the counters of the record being built (per direction), and the
//! TCP state that outlives a record split by the active timeout (endpoint states after Zeek's TCP
//! analyzer, the history string, sequence numbers for FIN/ACK close detection).
//!
//! Direction 0 is client to server. The client is the sender of the connection's first packet,
//! except when that packet is a TCP SYN+ACK: then its receiver is the client (the SYN was not
//! seen) and the history starts with `^`, as in Zeek.
//!
//! History letters (Zeek's conn.log `history`; upper case from the client, lower case from the
//! server): `S` SYN without ACK, `H` SYN+ACK, `A` pure ACK, `D` packet with payload, `F` FIN,
//! `R` RST, `Q` SYN together with FIN or RST, `I` FIN together with RST, `T` retransmitted payload
//! (the payload ends at or before the highest sequence number already sent), `W` zero window
//! (not with SYN, FIN or RST), `^` direction flipped. `A`, `D`, `I`, `Q` appear at most once per
//! direction; `S`, `H`, `F`, `R` again when their sequence number differs from the last one of the
//! same kind; `T` and `W` after 1, 10, 100, ... occurrences. Other protocols get `D`/`d` for their
//! first packet with payload per direction. The history is capped at 32 letters.

use crate::packet::{ACK, CWR, ECE, FIN, Family, Info, NS, PSH, RST, SYN, URG};

/// Maximum history length.
pub const HISTORY_MAX: usize = 32;

/// A TCP endpoint's state (Zeek's `TCP_ENDPOINT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// Counters of one direction of the record being built.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dir {
    pub packets: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// Transport payload bytes.
    pub payload: u64,
    pub first: i64,
    pub last: i64,
    /// TCP flag counts: FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS.
    pub flags: [u32; 9],
    pub win_sum: u64,
    pub win_count: u64,
    pub win_min: u16,
    pub win_max: u16,
}

impl Dir {
    /// Mean TCP window (raw header field) over this direction's TCP packets.
    pub fn mean_window(&self) -> f64 {
        if self.win_count == 0 { 0.0 } else { self.win_sum as f64 / self.win_count as f64 }
    }
}

/// History bits of an endpoint (one per once-only letter and for the first S/H/F/R).
const H_SYN: u16 = 1;
const H_SYNACK: u16 = 2;
const H_ACK: u16 = 4;
const H_DATA: u16 = 8;
const H_FIN: u16 = 16;
const H_RST: u16 = 32;
const H_MULTI: u16 = 64;
const H_FINRST: u16 = 128;

/// TCP state of one endpoint, kept for the whole connection.
#[derive(Debug, Clone, Copy, Default)]
struct Endpoint {
    state: TcpState,
    prev_state: TcpState,
    /// Whether the endpoint sent anything (UDP/other conn_state).
    active: bool,
    /// Payload bytes sent over the whole connection.
    payload_total: u64,
    hist_seen: u16,
    last_syn: u32,
    last_fin: u32,
    last_rst: u32,
    /// Highest sequence number + payload length sent, once `seq_known`.
    max_end: u32,
    seq_known: bool,
    rexmit: u32,
    rexmit_next: u32,
    zero_win: u32,
    zero_win_next: u32,
    /// Sequence number right after this endpoint's FIN, once it sent one.
    fin_end: Option<u32>,
    fin_acked: bool,
}

impl Endpoint {
    fn set_state(&mut self, s: TcpState) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
        }
    }
}

/// Whether sequence number `a` is at or after `b` (modulo 2^32).
fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// One connection (and its two unidirectional flows).
#[derive(Debug, Clone)]
pub struct Conn {
    pub family: Family,
    pub proto: u8,
    pub ethertype: u16,
    /// Client and server addresses and ports.
    pub client: [u8; 16],
    pub server: [u8; 16],
    pub cport: u16,
    pub sport: u16,
    pub has_ports: bool,
    pub one_way: bool,
    /// MACs of the client-to-server direction (source, destination), from the first Ethernet frame.
    pub macs: Option<([u8; 6], [u8; 6])>,
    pub link_proto: &'static str,
    pub network_proto: &'static str,
    pub transport_proto: &'static str,
    /// First and last packet time of the record being built.
    pub first: i64,
    pub last: i64,
    pub dirs: [Dir; 2],
    /// Whether this record continues one cut by the active timeout.
    pub continued: bool,
    /// When TCP close (FIN both ways and the last ACK, or a RST) was seen.
    pub closed_at: Option<i64>,
    /// The latest non-zero DPI classification id of the connection's packets (a guess never
    /// replaces a classification).
    pub app: u16,
    /// Whether `app` is nDPI's guess rather than a classification.
    pub app_guessed: bool,
    ep: [Endpoint; 2],
    history: [u8; HISTORY_MAX],
    hist_len: u8,
}

impl Conn {
    /// A connection started by packet `p` (not yet counted: call [`Conn::update`]).
    pub fn new(p: &Info) -> Self {
        // A SYN+ACK first: its receiver is the client.
        let flip = p.tcp.is_some_and(|t| t.flags & (SYN | ACK | RST) == SYN | ACK);
        let (client, server, cport, sport) =
            if flip { (p.dst, p.src, p.dport, p.sport) } else { (p.src, p.dst, p.sport, p.dport) };
        let mut c = Conn {
            family: p.family,
            proto: p.proto,
            ethertype: p.ethertype,
            client,
            server,
            cport,
            sport,
            has_ports: p.has_ports,
            one_way: p.one_way,
            macs: None,
            link_proto: p.link_proto,
            network_proto: p.network_proto,
            transport_proto: p.transport_proto,
            first: p.ts,
            last: p.ts,
            dirs: [Dir::default(); 2],
            continued: false,
            closed_at: None,
            app: 0,
            app_guessed: false,
            ep: [Endpoint::default(); 2],
            history: [0; HISTORY_MAX],
            hist_len: 0,
        };
        if flip {
            c.push_history(b'^');
        }
        c
    }

    /// The direction of packet `p` of this connection: 0 client to server, 1 server to client.
    pub fn dir_of(&self, p: &Info) -> usize {
        if p.src == self.client && p.sport == self.cport { 0 } else { 1 }
    }

    /// Packets in the record being built.
    pub fn packets(&self) -> u64 {
        self.dirs[0].packets + self.dirs[1].packets
    }

    /// The history string.
    pub fn history(&self) -> &str {
        std::str::from_utf8(&self.history[..usize::from(self.hist_len)]).unwrap_or("")
    }

    fn push_history(&mut self, c: u8) {
        if usize::from(self.hist_len) < HISTORY_MAX {
            self.history[usize::from(self.hist_len)] = c;
            self.hist_len += 1;
        }
    }

    fn letter(d: usize, c: u8) -> u8 {
        if d == 0 { c } else { c.to_ascii_lowercase() }
    }

    /// Records a once-only letter (or the first of a repeatable one); true if it was seen before.
    fn check_history(&mut self, d: usize, bit: u16, c: u8) -> bool {
        if self.ep[d].hist_seen & bit != 0 {
            return true;
        }
        self.ep[d].hist_seen |= bit;
        self.push_history(Self::letter(d, c));
        false
    }

    /// Starts a new record of the same connection (active timeout): counters restart, TCP state
    /// and history stay.
    pub fn split(&mut self) {
        self.dirs = [Dir::default(); 2];
        self.continued = true;
    }

    /// Counts packet `p` in direction `d`. Returns true when this packet closed the TCP
    /// connection (FIN both ways and the ACK of the second FIN, or a RST).
    pub fn update(&mut self, p: &Info, d: usize, app: u16) -> bool {
        if self.packets() == 0 {
            self.first = p.ts;
            self.last = p.ts;
        }
        self.last = self.last.max(p.ts);
        if app != 0 && (!p.app_guessed || self.app == 0 || self.app_guessed) {
            self.app = app;
            self.app_guessed = p.app_guessed;
        }
        if self.macs.is_none() {
            self.macs = p.macs.map(|(s, t)| if d == 0 { (s, t) } else { (t, s) });
        }
        let r = &mut self.dirs[d];
        if r.packets == 0 {
            r.first = p.ts;
            r.last = p.ts;
        }
        r.packets += 1;
        r.bytes += u64::from(p.wire_len);
        r.payload += u64::from(p.payload);
        r.last = r.last.max(p.ts);
        self.ep[d].active = true;
        self.ep[d].payload_total += u64::from(p.payload);
        match p.tcp {
            Some(t) => self.tcp(d, t.flags, t.seq, t.ack, t.window, p.payload, p.ts),
            // A TCP fragment after the first one (no TCP header) only counts.
            None if self.proto == crate::community_id::TCP => false,
            None => {
                if p.payload > 0 {
                    self.check_history(d, H_DATA, b'D');
                }
                false
            }
        }
    }

    #[allow(clippy::too_many_arguments, reason = "the TCP header fields")]
    fn tcp(&mut self, d: usize, flags: u16, seq: u32, ack: u32, window: u16, len: u32, ts: i64) -> bool {
        let r = &mut self.dirs[d];
        for (i, bit) in [FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS].into_iter().enumerate() {
            if flags & bit != 0 {
                r.flags[i] += 1;
            }
        }
        if r.win_count == 0 {
            r.win_min = window;
            r.win_max = window;
        }
        r.win_min = r.win_min.min(window);
        r.win_max = r.win_max.max(window);
        r.win_sum += u64::from(window);
        r.win_count += 1;
        self.tcp_history(d, flags, seq, len, window);
        self.tcp_state(d, flags, len);
        // Close detection: FIN both ways, each acknowledged by the peer; or a RST.
        let (syn, fin, rst) = (flags & SYN != 0, flags & FIN != 0, flags & RST != 0);
        if fin {
            let end = seq.wrapping_add(len).wrapping_add(1).wrapping_add(u32::from(syn));
            self.ep[d].fin_end = Some(end);
        }
        if flags & ACK != 0
            && let Some(end) = self.ep[1 - d].fin_end
            && seq_ge(ack, end)
        {
            self.ep[1 - d].fin_acked = true;
        }
        let closed = rst || (self.ep[0].fin_acked && self.ep[1].fin_acked);
        if closed && self.closed_at.is_none() {
            self.closed_at = Some(ts);
            return true;
        }
        false
    }

    fn tcp_history(&mut self, d: usize, flags: u16, seq: u32, len: u32, window: u16) {
        let (syn, fin, rst, ack) = (flags & SYN != 0, flags & FIN != 0, flags & RST != 0, flags & ACK != 0);
        let bits = u8::from(syn) + u8::from(fin) + u8::from(rst);
        if bits > 1 {
            if fin && rst {
                self.check_history(d, H_FINRST, b'I');
            } else {
                self.check_history(d, H_MULTI, b'Q');
            }
        } else if bits == 1 {
            if syn {
                let (bit, c) = if ack { (H_SYNACK, b'H') } else { (H_SYN, b'S') };
                if self.check_history(d, bit, c) && seq != self.ep[d].last_syn {
                    self.push_history(Self::letter(d, c));
                }
                self.ep[d].last_syn = seq;
            }
            if fin {
                let end = seq.wrapping_add(len);
                if self.check_history(d, H_FIN, b'F') && end != self.ep[d].last_fin {
                    self.push_history(Self::letter(d, b'F'));
                }
                self.ep[d].last_fin = end;
            }
            if rst {
                if self.check_history(d, H_RST, b'R') && seq != self.ep[d].last_rst {
                    self.push_history(Self::letter(d, b'R'));
                }
                self.ep[d].last_rst = seq;
            }
        } else if len > 0 {
            self.check_history(d, H_DATA, b'D');
        } else if ack {
            self.check_history(d, H_ACK, b'A');
        }
        // Retransmitted payload and zero windows, logged at 1, 10, 100, ... occurrences.
        if len > 0 && !syn {
            let end = seq.wrapping_add(len);
            let e = &mut self.ep[d];
            if e.seq_known && seq_ge(e.max_end, end) {
                e.rexmit += 1;
                if e.rexmit >= e.rexmit_next.max(1) {
                    e.rexmit_next = e.rexmit.saturating_mul(10);
                    self.push_history(Self::letter(d, b'T'));
                }
            } else if !self.ep[d].seq_known || seq_ge(end, self.ep[d].max_end) {
                self.ep[d].max_end = end;
                self.ep[d].seq_known = true;
            }
        } else if syn {
            let e = &mut self.ep[d];
            e.max_end = seq.wrapping_add(1).wrapping_add(len);
            e.seq_known = true;
        }
        if window == 0 && bits == 0 {
            let e = &mut self.ep[d];
            e.zero_win += 1;
            if e.zero_win >= e.zero_win_next.max(1) {
                e.zero_win_next = e.zero_win.saturating_mul(10);
                self.push_history(Self::letter(d, b'W'));
            }
        }
    }

    /// The endpoint state machine, after Zeek's `TCPSessionAdapter::UpdateStateMachine`
    /// (without its sequence-number checks and weirds).
    fn tcp_state(&mut self, d: usize, flags: u16, len: u32) {
        use TcpState::*;
        let (syn, fin, rst, ack) = (flags & SYN != 0, flags & FIN != 0, flags & RST != 0, flags & ACK != 0);
        let is_orig = d == 0;
        let peer = 1 - d;
        match self.ep[d].state {
            Inactive => {
                if syn {
                    if is_orig {
                        self.ep[d].set_state(if ack { SynAckSent } else { SynSent });
                    } else {
                        if self.ep[peer].state == SynSent {
                            self.ep[peer].set_state(Established);
                        }
                        self.ep[d].set_state(Established);
                    }
                }
                if fin {
                    self.ep[d].set_state(Closed);
                }
                if rst {
                    self.ep[d].set_state(Reset);
                }
                if self.ep[d].state == Inactive {
                    if !is_orig && len == 0 && self.ep[0].state == SynSent {
                        // An ACK of the SYN before the SYN+ACK: not a partial connection.
                    } else if ack && self.ep[peer].state == Established {
                        self.ep[d].set_state(Established);
                    } else {
                        self.ep[d].set_state(Partial);
                    }
                }
            }
            SynSent | SynAckSent => {
                if fin {
                    self.ep[d].set_state(Closed);
                }
                if rst {
                    self.ep[d].set_state(Reset);
                }
            }
            Established | Partial => {
                if syn && self.ep[d].state == Partial && self.ep[peer].state == Inactive && !ack {
                    self.ep[d].set_state(SynSent);
                }
                if fin && !rst {
                    self.ep[d].set_state(Closed);
                    if self.ep[peer].state == Reset && self.ep[peer].prev_state == Closed {
                        self.ep[peer].set_state(Closed);
                    }
                }
                if rst {
                    self.ep[d].set_state(Reset);
                }
            }
            Closed => {
                if rst && self.ep[peer].state != Closed {
                    self.ep[d].set_state(Reset);
                }
            }
            Reset => {}
        }
    }

    /// Zeek's `conn_state` for the connection so far.
    pub fn conn_state(&self) -> &'static str {
        use TcpState::*;
        let (os, rs) = (self.ep[0].state, self.ep[1].state);
        match self.proto {
            6 if self.family != Family::Link => {
                let o_inactive = matches!(os, Inactive | Partial);
                let r_inactive = matches!(rs, Inactive | Partial);
                if rs == Reset {
                    if matches!(os, SynSent | SynAckSent)
                        || (os == Reset && self.ep[0].payload_total == 0 && self.ep[1].payload_total == 0)
                    {
                        "REJ"
                    } else if o_inactive {
                        "RSTRH"
                    } else {
                        "RSTR"
                    }
                } else if os == Reset {
                    if r_inactive { if self.rstos0_history() { "RSTOS0" } else { "OTH" } } else { "RSTO" }
                } else if rs == Closed && os == Closed {
                    "SF"
                } else if os == Closed {
                    if r_inactive { "SH" } else { "S2" }
                } else if rs == Closed {
                    if o_inactive { "SHR" } else { "S3" }
                } else if os == SynSent && rs == Inactive {
                    "S0"
                } else if os == Established && rs == Established {
                    "S1"
                } else {
                    "OTH"
                }
            }
            17 if self.family != Family::Link => match (self.ep[0].active, self.ep[1].active) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                (false, false) => "OTH",
            },
            _ => "OTH",
        }
    }

    /// Zeek's `/^\^?S[^HAFGIQ]*R.*/` on the history.
    fn rstos0_history(&self) -> bool {
        let h = self.history().as_bytes();
        let h = h.strip_prefix(b"^").unwrap_or(h);
        let Some(rest) = h.strip_prefix(b"S") else { return false };
        for &c in rest {
            if c == b'R' {
                return true;
            }
            if b"HAFGIQ".contains(&c) {
                return false;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Tcp;

    fn pkt(from_client: bool, flags: u16, seq: u32, ack: u32, len: u32) -> Info {
        let (a, b) = ([1u8; 16], [2u8; 16]);
        let (src, dst, sport, dport) = if from_client { (a, b, 1000, 80) } else { (b, a, 80, 1000) };
        Info {
            ts: 0,
            wire_len: 54 + len,
            family: Family::V4,
            proto: 6,
            src,
            dst,
            sport,
            dport,
            has_ports: true,
            payload: len,
            tcp: Some(Tcp { flags, seq, ack, window: 100 }),
            ..Info::default()
        }
    }

    /// Feeds `(from_client, flags, seq, ack, len)` packets; returns the connection and the index
    /// of the packet that closed it.
    fn run(pkts: &[(bool, u16, u32, u32, u32)]) -> (Conn, Option<usize>) {
        let first = pkt(pkts[0].0, pkts[0].1, pkts[0].2, pkts[0].3, pkts[0].4);
        let mut c = Conn::new(&first);
        let mut closed = None;
        for (i, &(fc, f, s, a, l)) in pkts.iter().enumerate() {
            let p = pkt(fc, f, s, a, l);
            let d = c.dir_of(&p);
            if c.update(&p, d, 0) {
                closed = Some(i);
            }
        }
        (c, closed)
    }

    #[test]
    fn normal_connection_is_sf_and_closes_on_the_last_ack() {
        let (c, closed) = run(&[
            (true, SYN, 100, 0, 0),
            (false, SYN | ACK, 500, 101, 0),
            (true, ACK, 101, 501, 0),
            (true, ACK | PSH, 101, 501, 10),
            (false, ACK, 501, 111, 0),
            (true, FIN | ACK, 111, 501, 0),
            (false, FIN | ACK, 501, 112, 0),
            (true, ACK, 112, 502, 0),
        ]);
        assert_eq!(c.history(), "ShADaFf");
        assert_eq!(c.conn_state(), "SF");
        assert_eq!(closed, Some(7), "closed by the ACK of the second FIN");
        assert_eq!(c.dirs[0].flags[0], 1);
        assert_eq!(c.dirs[0].packets, 5);
        assert_eq!(c.dirs[1].packets, 3);
    }

    #[test]
    fn fin_without_the_last_ack_does_not_close() {
        let (c, closed) = run(&[
            (true, SYN, 100, 0, 0),
            (false, SYN | ACK, 500, 101, 0),
            (true, ACK, 101, 501, 0),
            (true, FIN | ACK, 101, 501, 0),
            (false, FIN | ACK, 501, 102, 0),
        ]);
        assert_eq!(closed, None);
        assert_eq!(c.conn_state(), "SF");
    }

    #[test]
    fn rejected_and_reset() {
        let (c, closed) = run(&[(true, SYN, 100, 0, 0), (false, RST | ACK, 0, 101, 0)]);
        assert_eq!((c.conn_state(), c.history(), closed), ("REJ", "Sr", Some(1)));
        let (c, _) = run(&[(true, SYN, 100, 0, 0)]);
        assert_eq!(c.conn_state(), "S0");
        let (c, _) = run(&[(true, SYN, 100, 0, 0), (true, RST, 101, 0, 0)]);
        assert_eq!((c.conn_state(), c.history()), ("RSTOS0", "SR"));
        let (c, _) = run(&[
            (true, SYN, 100, 0, 0),
            (false, SYN | ACK, 500, 101, 0),
            (true, ACK, 101, 501, 0),
            (false, RST, 501, 0, 0),
        ]);
        assert_eq!((c.conn_state(), c.history()), ("RSTR", "ShAr"));
    }

    #[test]
    fn syn_ack_first_flips_the_direction() {
        let (c, _) = run(&[(false, SYN | ACK, 500, 101, 0), (true, ACK, 101, 501, 0)]);
        assert_eq!(c.history(), "^hA");
        assert_eq!(c.cport, 1000, "the SYN+ACK's receiver is the client");
        // Zeek: a missed SYN, then the ACK establishes the connection.
        assert_eq!(c.conn_state(), "S1");
    }

    #[test]
    fn midstream_and_retransmissions() {
        let (c, _) = run(&[(true, ACK, 100, 1, 10), (true, ACK, 100, 1, 10), (false, ACK, 1, 110, 0)]);
        assert_eq!(c.history(), "DTa");
        assert_eq!(c.conn_state(), "OTH");
        // Ten retransmissions: T at 1 and 10.
        let mut v = vec![(true, ACK, 100u32, 1u32, 10u32)];
        v.extend(std::iter::repeat_n((true, ACK, 100, 1, 10), 10));
        let (c, _) = run(&v);
        assert_eq!(c.history(), "DTT");
    }

    #[test]
    fn window_statistics() {
        let mut c = Conn::new(&pkt(true, SYN, 0, 0, 0));
        for w in [10u16, 20, 60] {
            let mut p = pkt(true, ACK, 1, 1, 0);
            p.tcp.as_mut().unwrap().window = w;
            c.update(&p, 0, 0);
        }
        assert_eq!((c.dirs[0].win_min, c.dirs[0].win_max), (10, 60));
        assert!((c.dirs[0].mean_window() - 30.0).abs() < 1e-9);
    }
}
