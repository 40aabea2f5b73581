//! Live capture from an interface with libpcap (the `pcap` crate): snap length, promiscuous mode
//! and a kernel BPF filter. Packets carry the capture's own timestamps (nanosecond precision when
//! the platform offers it), so a live run is as deterministic as its packets allow.

use super::{CaptureError, PacketSource, RawPacket};

/// Read timeout handed to libpcap (the kernel's block timeout).
const READ_TIMEOUT_MS: i32 = 100;
/// How long `next_packet` waits when no packet is ready. libpcap's own timeout does not return
/// on Linux when no packet arrives at all (TPACKET_V3), so the handle is non-blocking and an idle
/// capture naps briefly instead; under traffic it never sleeps.
const IDLE_NAP: std::time::Duration = std::time::Duration::from_millis(5);

/// A live interface.
pub struct LiveSource {
    iface: String,
    cap: pcap::Capture<pcap::Active>,
    link_type: u16,
    /// Whether libpcap delivers nanosecond timestamps.
    nanos: bool,
    timed_out: bool,
}

impl LiveSource {
    /// Opens `iface`.
    pub fn open(iface: &str, snaplen: i32, promisc: bool, bpf: Option<&str>) -> Result<Self, CaptureError> {
        let live = |e: pcap::Error| CaptureError::Live { iface: iface.into(), message: e.to_string() };
        let inactive = pcap::Capture::from_device(iface).map_err(live)?;
        let nano_try =
            inactive.snaplen(snaplen).promisc(promisc).timeout(READ_TIMEOUT_MS).precision(pcap::Precision::Nano).open();
        let (mut cap, nanos) = match nano_try {
            Ok(c) => (c, true),
            // Not every platform offers nanosecond timestamps.
            Err(_) => {
                let c = pcap::Capture::from_device(iface).map_err(live)?;
                (c.snaplen(snaplen).promisc(promisc).timeout(READ_TIMEOUT_MS).open().map_err(live)?, false)
            }
        };
        if let Some(expr) = bpf {
            cap.filter(expr, true).map_err(|e| CaptureError::Bpf { expr: expr.into(), message: e.to_string() })?;
        }
        let cap = cap.setnonblock().map_err(live)?;
        let link_type = cap.get_datalink().0 as u16;
        Ok(LiveSource { iface: iface.into(), cap, link_type, nanos, timed_out: false })
    }
}

impl PacketSource for LiveSource {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        self.timed_out = false;
        match self.cap.next_packet() {
            Ok(p) => {
                // With nanosecond precision libpcap stores nanoseconds in tv_usec.
                let frac = p.header.ts.tv_usec;
                let ts = p.header.ts.tv_sec * 1_000_000_000 + if self.nanos { frac } else { frac * 1000 };
                Ok(Some(RawPacket { ts_nanos: ts, link_type: self.link_type, orig_len: p.header.len, data: p.data }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.timed_out = true;
                std::thread::sleep(IDLE_NAP);
                Ok(None)
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(CaptureError::Live { iface: self.iface.clone(), message: e.to_string() }),
        }
    }

    fn timed_out(&self) -> bool {
        self.timed_out
    }

    fn dropped(&mut self) -> Option<u64> {
        self.cap.stats().ok().map(|s| u64::from(s.dropped) + u64::from(s.if_dropped))
    }
}
