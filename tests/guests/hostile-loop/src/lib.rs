//! Hostile test guest: `fetch` never returns. Proves the host's epoch deadline stops a
//! component that loops and keeps serving.

use casefile_guest::connector::Guest;
use casefile_guest::types::{Batch, PluginError, Query};
use std::hint::black_box;

struct Loop;

impl Guest for Loop {
    fn validate_settings(_settings: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn fetch(_query: Query) -> Result<Batch, PluginError> {
        let mut spins: u64 = 0;
        loop {
            // `black_box` keeps the optimiser from proving the loop pointless.
            spins = black_box(spins.wrapping_add(1));
        }
    }
}

casefile_guest::export_connector!(Loop);
