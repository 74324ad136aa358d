//! Hostile test guest: `fetch` allocates and touches memory, 1 MiB at a time, until
//! allocation fails. Proves the host's memory cap stops it (with the cap trapping on
//! grow failure it never returns; without, it reports how far it got).

use casefile_guest::connector::Guest;
use casefile_guest::types::{Batch, PluginError, Query};
use std::hint::black_box;

const CHUNK: usize = 1 << 20;

struct MemBomb;

impl Guest for MemBomb {
    fn validate_settings(_settings: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn fetch(_query: Query) -> Result<Batch, PluginError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = Vec::new();
            if chunk.try_reserve_exact(CHUNK).is_err() || hoard.try_reserve(1).is_err() {
                break;
            }
            // Non-zero data so that every page is really written.
            chunk.resize(CHUNK, (hoard.len() % 251) as u8 + 1);
            hoard.push(black_box(chunk));
        }
        Err(PluginError::Internal(format!(
            "allocated {} MiB before allocation failed",
            black_box(&hoard).len()
        )))
    }
}

casefile_guest::export_connector!(MemBomb);
