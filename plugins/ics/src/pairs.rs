//! Request/response pairing for the protocols whose responses name their request (Modbus
//! transaction id, EtherNet/IP sender context or connected sequence count): the requests of a
//! connection still waiting for their response, at most [`MAX`] (the oldest is forgotten first).

/// Most requests a connection keeps waiting for a response.
pub const MAX: usize = 64;

/// What a matched response learns of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// The request record's time (its first byte's packet).
    pub request_ts: i64,
    /// From the packet that completed the request to the one that completed the response (as
    /// Wireshark's `modbus.response_time` and `enip.time`).
    pub response_time: i64,
}

/// The requests waiting for a response, keyed by `K`.
pub struct Pairs<K> {
    /// (key, request time, time the request was complete), oldest first.
    waiting: Vec<(K, i64, i64)>,
}

impl<K> Default for Pairs<K> {
    fn default() -> Self {
        Pairs { waiting: Vec::new() }
    }
}

impl<K: PartialEq> Pairs<K> {
    /// A request with key `k`, first seen at `ts` and complete at `done`.
    pub fn request(&mut self, k: K, ts: i64, done: i64) {
        if self.waiting.len() == MAX {
            self.waiting.remove(0);
        }
        self.waiting.push((k, ts, done));
    }

    /// A response with key `k`, complete at `done`: the most recent request with that key,
    /// which is no longer waiting.
    pub fn response(&mut self, k: &K, done: i64) -> Option<Matched> {
        let i = self.waiting.iter().rposition(|w| w.0 == *k)?;
        let (_, ts, req_done) = self.waiting.remove(i);
        Some(Matched { request_ts: ts, response_time: done - req_done })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_most_recent_first() {
        let mut p = Pairs::default();
        for i in 0..(MAX as i64 + 10) {
            p.request(i % 3, i * 10, i * 10 + 5);
        }
        assert_eq!(p.waiting.len(), MAX);
        let m = p.response(&1, 1000).expect("a request with key 1");
        assert_eq!(m.request_ts, 730);
        assert_eq!(m.response_time, 1000 - 735);
        assert!(p.response(&7, 1000).is_none());
    }
}
