//! Capture file formats: pcap in both byte orders, µs and ns resolution, pcapng with several
//! interfaces and link types, time stamps past 2038. Every packet's time, as netcap records it,
//! equals tshark's `frame.time_epoch` to the nanosecond.

use netcap_tests::{Shared, corpus_files, have_tshark, parse_ns, records, shared_capture, tshark_fields};

#[test]
fn timestamps_equal_tsharks_to_the_nanosecond() {
    if !have_tshark() {
        return;
    }
    let files =
        corpus_files(&["fileformat", "fileformat/pcapng-testsuite-le", "fileformat/pcapng-testsuite-be", "linktypes"]);
    let mut compared = 0usize;
    let mut nano = 0usize;
    let mut failures = Vec::new();
    for f in &files {
        // Only Ethernet frames: the Ethernet record is one per frame.
        let Some(rows) = tshark_fields(f, &["frame.time_epoch", "eth.src", "frame.encap_type"], &[]) else { continue };
        // Simple packet blocks have no time stamp (tshark prints none, we record 0).
        let want: Vec<i64> = rows
            .iter()
            .filter(|r| r.len() == 3 && r[2] == "1" && !r[1].is_empty())
            .map(|r| parse_ns(&r[0]).unwrap_or(0))
            .collect();
        if want.is_empty() {
            continue;
        }
        // The default run other corpus-wide tests read too: its Ethernet records.
        let run = shared_capture(f, Shared::Default);
        let o = &run.output;
        if o.status.code() == Some(2) {
            continue;
        }
        let got: Vec<i64> =
            records::<netcap_proto::v1::Ethernet>(&run.dir, "Ethernet").iter().map(|e| e.timestamp).collect();
        // Damaged files: compare what both read.
        let n = want.len().min(got.len());
        if got.len() < want.len() && o.status.code() == Some(0) {
            failures.push(format!("{}: {} Ethernet records, tshark {}", f.display(), got.len(), want.len()));
        }
        if got[..n] != want[..n] {
            let i = (0..n).find(|&i| got[i] != want[i]).unwrap_or(0);
            failures.push(format!("{}: packet {i}: {} ns vs tshark {} ns", f.display(), got[i], want[i]));
        }
        nano += want[..n].iter().filter(|t| *t % 1000 != 0).count();
        compared += n;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if !files.is_empty() {
        assert!(compared > 500, "only {compared} timestamps compared");
        assert!(nano > 0, "no nanosecond-resolution timestamps among the compared ones");
    }
}
