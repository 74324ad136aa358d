//! Test guest: a masker that tries everything a pure world must not offer and
//! reports what it got, in the message of its first record, as `key=value` pairs:
//! environment variables, arguments, directories (`/`, `.`, `/data`, `/etc`), a TCP
//! connection and a name lookup. It also prints to stdout and stderr (the host
//! must log it, capped) and asks the host for a pseudonym of the record's message
//! (the host must answer with a keyed token without giving the key). Last, it looks
//! for a marker an earlier call would have left in its linear memory, then leaves
//! one: a fresh instance from the pooled allocator must never show the last one's.

use casefile_guest::masker::Guest;
use casefile_guest::types::{Batch, MaskContext, MaskedBatch, PluginError};
use std::io::Write;

struct Probe;

/// What a previous call leaves behind in this instance's memory.
const MARKER: [u8; 16] = *b"casefile-residue";
static mut RESIDUE: [u8; 16] = [0; 16];

/// `found` when the marker of an earlier call is still in memory, then sets it.
fn residue() -> &'static str {
    // SAFETY: a component instance runs one call at a time on one thread; volatile
    // so the read and the write are not optimised away.
    let before = unsafe { core::ptr::read_volatile(&raw const RESIDUE) };
    unsafe { core::ptr::write_volatile(&raw mut RESIDUE, MARKER) };
    if before == MARKER {
        "found"
    } else {
        "none"
    }
}

fn outcome<T, E>(r: Result<T, E>) -> &'static str {
    if r.is_ok() {
        "open"
    } else {
        "refused"
    }
}

impl Guest for Probe {
    fn mask(_context: MaskContext, mut batch: Batch) -> Result<MaskedBatch, PluginError> {
        let env = std::env::vars().count();
        let args = std::env::args().count();
        let dirs: Vec<String> = ["/", ".", "/data", "/etc"]
            .iter()
            .map(|d| format!("dir{d}={}", outcome(std::fs::read_dir(d))))
            .collect();
        let tcp = outcome(std::net::TcpStream::connect("127.0.0.1:5432"));
        let dns = outcome(std::net::ToSocketAddrs::to_socket_addrs("localhost:80"));
        // More than the host keeps, so the cap is exercised.
        let _ = writeln!(std::io::stdout(), "probe-stdout-marker {}", "x".repeat(40_000));
        let _ = writeln!(std::io::stderr(), "probe-stderr-marker");
        let Some(first) = batch.logs.first_mut() else {
            return Ok(MaskedBatch { batch, counts: Vec::new() });
        };
        let token = casefile_guest::masker::casefile::plugin::pseudonyms::token("probe", &first.message)
            .unwrap_or_else(|| "none".into());
        first.message = format!(
            "env={env} args={args} {} tcp={tcp} dns={dns} token={token} residue={}",
            dirs.join(" "),
            residue()
        );
        Ok(MaskedBatch { batch, counts: Vec::new() })
    }
}

casefile_guest::export_masker!(Probe);
