//! A component's stdout and stderr: kept in memory up to a cap and written to the
//! host's log after the call (scrubbed like every host log line), so a guest's
//! prints are visible to operators without letting it fill the host's disk or
//! fail because it printed too much. Bytes past the cap are dropped and counted.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

#[derive(Default)]
struct Buffer {
    kept: Vec<u8>,
    dropped: usize,
}

/// One capped stream; clones share the buffer.
#[derive(Clone)]
pub struct CappedOutput {
    cap: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl CappedOutput {
    pub fn new(cap: usize) -> CappedOutput {
        CappedOutput { cap, buffer: Arc::default() }
    }

    /// What was kept, as text, and how many bytes were dropped past the cap.
    pub fn take(&self) -> (String, usize) {
        let Ok(mut b) = self.buffer.lock() else { return (String::new(), 0) };
        let kept = std::mem::take(&mut b.kept);
        (String::from_utf8_lossy(&kept).into_owned(), std::mem::take(&mut b.dropped))
    }

    fn push(&self, bytes: &[u8]) {
        if let Ok(mut b) = self.buffer.lock() {
            let room = self.cap.saturating_sub(b.kept.len());
            let n = room.min(bytes.len());
            b.kept.extend_from_slice(&bytes[..n]);
            b.dropped += bytes.len() - n;
        }
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CappedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // Everything is accepted, so a guest never blocks or fails on a full stream.
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_cap_and_counts_the_rest() {
        let out = CappedOutput::new(5);
        out.push(b"hel");
        out.clone().push(b"lo world");
        assert_eq!(out.take(), ("hello".to_string(), 6));
        assert_eq!(out.take(), (String::new(), 0));
    }
}
