//! The record stage: record decoders (WIT kind `record`) run in the writer thread, on each
//! epoch's merged records, in the canonical output order, so their output is identical for any
//! worker count.
//!
//! Order: a record decoder's input is the k-way merge of the runs of the types it consumes, by
//! order key, then by record type (load order: "within a packet in decoder order"), then, between
//! workers, by framed bytes (length prefix, then bytes): the same comparison the writer uses to
//! append a type's records, and the one each worker sorts its tick and finish records by. Record
//! decoders run in dependency order (producers first), and each one's records join the epoch's
//! results, so a record decoder downstream sees them in the same epoch and the writer writes them
//! like any other decoder's.

use crate::plugin::{DecoderKind, LoadedDecoder};
use crate::stats::WorkerStats;
use crate::worker::{Phase, Run, Slot, WorkResult, check_output, fault_slot, split_output};

/// Largest record batch given to one `decode` call; larger inputs are cut at record boundaries.
const MAX_BATCH: usize = 4 << 20;

/// A record decoder's instance and where its inputs are.
pub struct RecordSlot {
    pub slot: Slot,
    /// (global record type index, index in the decoder's `consumes`), in load order of the type.
    pub inputs: Vec<(usize, u16)>,
}

/// Every record decoder of the run, in dependency order.
pub struct RecordStage {
    slots: Vec<RecordSlot>,
    ntypes: usize,
    max_output: usize,
    /// Decoding errors the record decoders reported.
    pub stats: WorkerStats,
}

impl RecordStage {
    pub fn new(slots: Vec<RecordSlot>, ntypes: usize, max_output: usize) -> Self {
        RecordStage { slots, ntypes, max_output, stats: WorkerStats::default() }
    }

    /// Runs the record decoders on one epoch's results; their records (and faults) are appended
    /// to `group` as one more result.
    pub fn epoch(&mut self, group: &[WorkResult]) -> WorkResult {
        let epoch = group.first().map_or(0, |r| r.epoch);
        let mut res =
            WorkResult { epoch, worker: u16::MAX, runs: vec![Run::default(); self.ntypes], ..WorkResult::default() };
        for i in 0..self.slots.len() {
            let batch = merged_batch(group.iter().chain(std::iter::once(&res)), &self.slots[i].inputs);
            self.decode(i, &batch, &mut res);
        }
        res
    }

    /// End of input: each record decoder gets the `finish` records of the record decoders before
    /// it, then its own `finish`. The result holds every record decoder's last records.
    pub fn finish(&mut self) -> WorkResult {
        let mut res = WorkResult {
            epoch: u64::MAX,
            worker: u16::MAX,
            runs: vec![Run::default(); self.ntypes],
            ..WorkResult::default()
        };
        for i in 0..self.slots.len() {
            let batch = merged_batch(std::iter::once(&res), &self.slots[i].inputs);
            self.decode(i, &batch, &mut res);
            self.finish_one(i, &mut res);
        }
        res
    }

    fn decode(&mut self, i: usize, batch: &[u8], res: &mut WorkResult) {
        for chunk in chunks(batch) {
            let slot = &mut self.slots[i].slot;
            if !slot.active() {
                return;
            }
            let out = slot.instance.decode(chunk).and_then(|out| {
                check_output(&out, slot, self.max_output, false)?;
                Ok(out)
            });
            match out {
                Ok(out) => {
                    split_output(&out, slot, res, &mut self.stats, None, Phase::Decode, None);
                }
                Err(f) => {
                    let seq = netcap_sdk::record_batch(chunk).next().map_or(u64::MAX, |r| r.seq);
                    fault_slot(slot, res, seq, f);
                }
            }
        }
    }

    fn finish_one(&mut self, i: usize, res: &mut WorkResult) {
        let slot = &mut self.slots[i].slot;
        // A decoder that keeps answering "more" is stopped by the output it may write in total.
        for _ in 0..4096 {
            if !slot.active() {
                return;
            }
            let out = slot.instance.finish().and_then(|out| {
                check_output(&out, slot, self.max_output, false)?;
                Ok(out)
            });
            match out {
                Ok(out) => {
                    if !split_output(&out, slot, res, &mut self.stats, None, Phase::Finish, None) {
                        return;
                    }
                }
                Err(f) => {
                    fault_slot(slot, res, u64::MAX, f);
                    return;
                }
            }
        }
    }
}

/// Cuts a record batch into pieces of at most [`MAX_BATCH`] bytes at record boundaries (a
/// larger single record is a piece of its own).
fn chunks(batch: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut used = 0usize;
        for e in netcap_sdk::entries(rest) {
            let Ok(e) = e else { break };
            let len = 10 + uvarint_len(e.bytes.len() as u64) + e.bytes.len();
            if used > 0 && used + len > MAX_BATCH {
                break;
            }
            used += len;
        }
        let used = used.max(1).min(rest.len());
        let (head, tail) = rest.split_at(used);
        rest = tail;
        Some(head)
    })
}

fn uvarint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// One record in a run: its key, type, consumes index, bytes, and bytes with their length
/// prefix (what the writer and `sort_run` compare).
struct Head<'a> {
    key: u64,
    g: usize,
    input: u16,
    bytes: &'a [u8],
    framed: &'a [u8],
}

/// A cursor over one run's framed records.
struct Cursor<'a> {
    run: &'a Run,
    g: usize,
    input: u16,
    i: usize,
    off: usize,
}

impl<'a> Cursor<'a> {
    fn head(&self) -> Option<Head<'a>> {
        let &(key, end) = self.run.index.get(self.i)?;
        let framed = &self.run.data[self.off..end as usize];
        let (len, used) = netcap_proto::get_uvarint(framed)?;
        let bytes = framed.get(used..used + usize::try_from(len).ok()?)?;
        Some(Head { key, g: self.g, input: self.input, bytes, framed })
    }

    fn advance(&mut self) {
        self.off = self.run.index[self.i].1 as usize;
        self.i += 1;
    }
}

/// The record batch of `inputs` from `results`, in the canonical output order.
fn merged_batch<'a>(results: impl Iterator<Item = &'a WorkResult>, inputs: &[(usize, u16)]) -> Vec<u8> {
    let mut cursors: Vec<Cursor<'a>> = Vec::new();
    for r in results {
        for &(g, input) in inputs {
            if let Some(run) = r.runs.get(g).filter(|run| !run.index.is_empty()) {
                cursors.push(Cursor { run, g, input, i: 0, off: 0 });
            }
        }
    }
    let mut batch = Vec::new();
    loop {
        let mut best: Option<(usize, Head<'a>)> = None;
        for (k, c) in cursors.iter().enumerate() {
            let Some(h) = c.head() else { continue };
            let better = match &best {
                None => true,
                // The writer's order: framed bytes (length prefix first), as runs are sorted.
                Some((_, b)) => (h.key, h.g, h.framed) < (b.key, b.g, b.framed),
            };
            if better {
                best = Some((k, h));
            }
        }
        let Some((k, h)) = best else { break };
        let seq = if h.key == u64::MAX { u64::MAX } else { h.key >> 1 };
        netcap_sdk::push_record(&mut batch, h.input, seq, h.bytes);
        cursors[k].advance();
    }
    batch
}

/// The record decoders among `decoders`, in an order where every record decoder comes after the
/// record decoders it consumes from; an error names a cycle.
pub fn dependency_order(decoders: &[LoadedDecoder], enabled: &[Vec<bool>]) -> Result<Vec<usize>, String> {
    let record: Vec<usize> = (0..decoders.len())
        .filter(|&i| decoders[i].spec.kind == DecoderKind::Record && enabled[i].iter().any(|&on| on))
        .collect();
    let produces = |i: usize, name: &str| decoders[i].spec.record_types.iter().any(|t| t.name == name);
    let deps = |i: usize| -> Vec<usize> {
        record.iter().copied().filter(|&j| decoders[i].spec.consumes.iter().any(|c| produces(j, &c.name))).collect()
    };
    let mut order = Vec::new();
    let mut state = vec![0u8; decoders.len()]; // 0 new, 1 on the path, 2 done
    fn visit(
        i: usize,
        deps: &dyn Fn(usize) -> Vec<usize>,
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for j in deps(i) {
            visit(j, deps, state, order, path)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for &i in &record {
        let mut path = Vec::new();
        visit(i, &deps, &mut state, &mut order, &mut path).map_err(|cycle| {
            let names: Vec<&str> = cycle.iter().map(|&c| decoders[c].spec.id.as_str()).collect();
            format!("record decoders consume each other's records in a cycle: {}", names.join(" -> "))
        })?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(entries: &[(u64, &[u8])]) -> Run {
        let mut r = Run::default();
        for (key, bytes) in entries {
            netcap_proto::put_uvarint(&mut r.data, bytes.len() as u64);
            r.data.extend_from_slice(bytes);
            r.index.push((*key, r.data.len() as u32));
            r.owners.push(0);
        }
        r
    }

    fn result(runs: Vec<Run>) -> WorkResult {
        WorkResult { runs, ..WorkResult::default() }
    }

    #[test]
    fn merged_input_is_in_key_then_type_then_byte_order() {
        // Type 0 and type 1, two workers. Keys: packet 3 (7), a tick before packet 5 (10),
        // packet 5 (11), finish (MAX).
        let w0 = result(vec![run(&[(7, b"a7"), (11, b"z11"), (u64::MAX, b"f2")]), run(&[(7, b"t7")])]);
        let w1 = result(vec![run(&[(10, b"tick"), (u64::MAX, b"f1")]), run(&[(11, b"u11")])]);
        let batch = merged_batch([&w0, &w1].into_iter(), &[(0, 0), (1, 1)]);
        let got: Vec<(u16, u64, &[u8])> = netcap_sdk::record_batch(&batch).map(|r| (r.input, r.seq, r.bytes)).collect();
        let want: Vec<(u16, u64, &[u8])> = vec![
            (0, 3, b"a7"),
            (1, 3, b"t7"),
            (0, 5, b"tick"),
            (0, 5, b"z11"),
            (1, 5, b"u11"),
            (0, u64::MAX, b"f1"),
            (0, u64::MAX, b"f2"),
        ];
        assert_eq!(got, want);
        // The same records split over one worker give the same batch.
        let one = result(vec![
            run(&[(7, b"a7"), (10, b"tick"), (11, b"z11"), (u64::MAX, b"f1"), (u64::MAX, b"f2")]),
            run(&[(7, b"t7"), (11, b"u11")]),
        ]);
        assert_eq!(merged_batch(std::iter::once(&one), &[(0, 0), (1, 1)]), batch);
    }

    #[test]
    fn finish_records_of_several_workers_come_in_the_writers_order() {
        // Sorted by framed bytes within each worker (as `sort_run` leaves them): the shorter
        // record first although its bytes compare greater. The writer merges workers the same
        // way, so 1 and 2 workers give the same batch.
        let w0 = result(vec![run(&[(u64::MAX, b"z"), (u64::MAX, b"ab")])]);
        let w1 = result(vec![run(&[(u64::MAX, b"y"), (u64::MAX, b"aa")])]);
        let batch = merged_batch([&w0, &w1].into_iter(), &[(0, 0)]);
        let got: Vec<&[u8]> = netcap_sdk::record_batch(&batch).map(|r| r.bytes).collect();
        assert_eq!(got, vec![&b"y"[..], b"z", b"aa", b"ab"]);
        let one = result(vec![run(&[(u64::MAX, b"y"), (u64::MAX, b"z"), (u64::MAX, b"aa"), (u64::MAX, b"ab")])]);
        assert_eq!(merged_batch(std::iter::once(&one), &[(0, 0)]), batch);
    }

    struct NoFactory;
    impl crate::plugin::DecoderFactory for NoFactory {
        fn instantiate(
            &self,
            _config: &[(String, String)],
        ) -> Result<Box<dyn crate::plugin::DecoderInstance>, crate::plugin::Fault> {
            Err(crate::plugin::Fault { kind: crate::plugin::FaultKind::Init, message: "test".into() })
        }
    }

    fn record_decoder(id: &str, consumes: &[&str], produces: &[&str]) -> LoadedDecoder {
        let types = |names: &[&str]| {
            names.iter().map(|n| netcap_sdk::RecordType { name: (*n).into(), message: String::new() }).collect()
        };
        let info = netcap_sdk::DecoderInfo {
            name: id.into(),
            kind: netcap_sdk::Kind::Record,
            record_types: types(produces),
            consumes: types(consumes),
            ..Default::default()
        };
        LoadedDecoder {
            spec: crate::plugin::DecoderSpec::from_info(info, "0.3.0".into(), "test".into()).unwrap(),
            factory: std::sync::Arc::new(NoFactory),
            logs: Default::default(),
        }
    }

    #[test]
    fn record_decoders_run_after_their_producers_and_cycles_are_refused() {
        let ds = vec![
            record_decoder("c", &["B"], &["C"]),
            record_decoder("b", &["A"], &["B"]),
            record_decoder("a", &["HTTP"], &["A"]),
        ];
        let on = vec![vec![true]; 3];
        assert_eq!(dependency_order(&ds, &on).unwrap(), vec![2, 1, 0]);
        let ds = vec![record_decoder("x", &["Y"], &["X"]), record_decoder("y", &["X"], &["Y"])];
        let err = dependency_order(&ds, &[vec![true], vec![true]]).unwrap_err();
        assert!(err.contains("in a cycle: x -> y -> x"), "{err}");
    }

    #[test]
    fn big_batches_are_cut_at_record_boundaries() {
        let mut b = Vec::new();
        let rec = vec![1u8; MAX_BATCH / 3];
        for s in 0..7 {
            netcap_sdk::push_record(&mut b, 0, s, &rec);
        }
        let pieces: Vec<&[u8]> = chunks(&b).collect();
        assert_eq!(pieces.iter().map(|p| p.len()).sum::<usize>(), b.len());
        assert!(pieces.len() >= 3);
        let n: usize = pieces.iter().map(|p| netcap_sdk::record_batch(p).count()).sum();
        assert_eq!(n, 7);
    }
}
