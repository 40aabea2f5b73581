//! Reading a capture from a FIFO, a pipe or a character device (`-r fifo`, `-r /dev/stdin`):
//! such an input can stay silent for ever, and a read blocked on it would not notice a signal
//! (the signal handler restarts interrupted reads). A thread of its own opens and reads the
//! input in chunks; the dispatcher's side waits for a chunk at most [`WAIT`], and a read that
//! timed out returns `WouldBlock` and marks the reader idle, so that the capture loop can look
//! at its stop flag and come back. Regular files are read directly (a read on them never waits
//! for a writer).
//!
//! pcap-parser reads twice while it recognises the format: the owner waits for the first block
//! itself ([`PipeReader::fill_to`]) and sets [`Shared::no_wait`] meanwhile, so that the second
//! read returns what is there, or nothing, at once.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

/// How long a read waits for bytes before it lets the caller look at its stop flag.
pub const WAIT: Duration = Duration::from_millis(100);
/// Bytes per read of the input thread.
const CHUNK: usize = 256 << 10;
/// Chunks read ahead (and buffers kept for reuse).
const AHEAD: usize = 4;

/// The dispatcher's side of an input read by a thread.
pub struct PipeReader {
    chunks: Receiver<io::Result<Vec<u8>>>,
    /// Buffers handed back to the input thread.
    spare: SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    shared: Arc<Shared>,
}

/// Flags shared by a [`PipeReader`] (moved into the parser) and its owner.
#[derive(Default)]
pub struct Shared {
    /// Set when a read returned `WouldBlock` because no byte came within [`WAIT`]; the owner
    /// clears it when it looks.
    pub idle: AtomicBool,
    /// Set by the owner: a read returns the bytes already read, or 0, without waiting.
    pub no_wait: AtomicBool,
}

/// What [`PipeReader::fill_to`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Fill {
    /// The bytes asked for are there, or the input ended before them.
    Ready,
    /// `stop` was set first.
    Stopped,
}

impl PipeReader {
    /// Starts a thread that opens `path` (opening a FIFO waits for a writer) and reads it.
    pub fn spawn(path: &Path) -> io::Result<Self> {
        let (tx, chunks) = sync_channel::<io::Result<Vec<u8>>>(AHEAD);
        let (spare, spare_rx) = sync_channel::<Vec<u8>>(AHEAD);
        let path = path.to_path_buf();
        std::thread::Builder::new().name("netcap-input".into()).spawn(move || {
            let mut f = match File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            loop {
                let mut buf = spare_rx.try_recv().unwrap_or_default();
                buf.clear();
                buf.resize(CHUNK, 0);
                let n = match f.read(&mut buf) {
                    Ok(0) => return, // the end: the channel closes
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() {
                    return; // the capture no longer reads
                }
            }
        })?;
        Ok(PipeReader { chunks, spare, chunk: Vec::new(), pos: 0, shared: Arc::default() })
    }

    /// The flags the owner keeps once the reader is handed on.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Bytes read from the input and not yet returned.
    pub fn buffered(&self) -> &[u8] {
        &self.chunk[self.pos..]
    }

    /// Waits until at least `n` bytes are buffered, the input ends, or `stop` is set. Errors of
    /// the input (opening it, reading it) are returned.
    pub fn fill_to(&mut self, n: usize, stop: &AtomicBool) -> io::Result<Fill> {
        while self.chunk.len() - self.pos < n {
            if stop.load(Ordering::Relaxed) {
                return Ok(Fill::Stopped);
            }
            match self.chunks.recv_timeout(WAIT) {
                Ok(Ok(c)) => {
                    self.chunk.drain(..self.pos);
                    self.pos = 0;
                    self.chunk.extend_from_slice(&c);
                    let _ = self.spare.try_send(c);
                }
                Ok(Err(e)) => return Err(e),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(Fill::Ready),
            }
        }
        Ok(Fill::Ready)
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            let next = if self.shared.no_wait.load(Ordering::Relaxed) {
                match self.chunks.try_recv() {
                    Ok(r) => r,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(0),
                }
            } else {
                match self.chunks.recv_timeout(WAIT) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        self.shared.idle.store(true, Ordering::Relaxed);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Err(RecvTimeoutError::Disconnected) => return Ok(0),
                }
            };
            let old = std::mem::replace(&mut self.chunk, next?);
            let _ = self.spare.try_send(old);
            self.pos = 0;
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Bytes the capture file's first block needs before its format can be recognised: 28 (a
/// pcapng section header without options; a legacy pcap header is 24), or a pcapng section
/// header's whole length once `prefix` holds it (at most 1 MiB).
pub fn header_bytes(prefix: &[u8]) -> usize {
    const MIN: usize = 28;
    if prefix.len() < 12 || prefix[..4] != [0x0a, 0x0d, 0x0d, 0x0a] {
        return MIN;
    }
    let len: [u8; 4] = prefix[4..8].try_into().expect("4 bytes");
    let len = match prefix[8..12] {
        [0x4d, 0x3c, 0x2b, 0x1a] => u32::from_le_bytes(len),
        _ => u32::from_be_bytes(len),
    };
    (len as usize).clamp(MIN, 1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn pcapng_section_header_length_in_both_byte_orders() {
        let mut le = vec![0x0a, 0x0d, 0x0d, 0x0a, 0x40, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        assert_eq!(header_bytes(&le), 64);
        le[4..8].copy_from_slice(&[0, 0, 0, 0x40]);
        le[8..12].copy_from_slice(&[0x1a, 0x2b, 0x3c, 0x4d]);
        assert_eq!(header_bytes(&le), 64);
        assert_eq!(header_bytes(&le[..8]), 28);
        assert_eq!(header_bytes(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0]), 28);
    }

    /// A pipe nobody writes to: reads return `WouldBlock` (marking the reader idle) instead of
    /// blocking, and `fill_to` returns when the stop flag is set.
    #[test]
    fn a_silent_pipe_lets_the_reader_see_its_stop_flag() {
        let dir = std::env::temp_dir().join(format!("netcap-pipe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fifo");
        let _ = std::fs::remove_file(&path);
        let st = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(st.success());
        let mut r = PipeReader::spawn(&path).unwrap();
        // Opened for writing (that lets the reading thread's open return), never written.
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut buf = [0u8; 64];
        let e = r.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(r.shared().idle.load(Ordering::Relaxed));
        // Without waiting: nothing there is 0 bytes at once.
        r.shared().no_wait.store(true, Ordering::Relaxed);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        r.shared().no_wait.store(false, Ordering::Relaxed);
        let stop = AtomicBool::new(true);
        assert_eq!(r.fill_to(28, &stop).unwrap(), Fill::Stopped);
        // Bytes that arrive are read, and the end of input is the end.
        w.write_all(b"0123456789").unwrap();
        drop(w);
        let stop = AtomicBool::new(false);
        assert_eq!(r.fill_to(28, &stop).unwrap(), Fill::Ready);
        assert_eq!(r.buffered(), b"0123456789");
        assert_eq!(r.read(&mut buf).unwrap(), 10);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
