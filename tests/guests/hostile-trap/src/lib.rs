//! Hostile test guest: `fetch` panics, which in wasm is a trap. Proves the host
//! reports a trapped component and keeps serving.

use casefile_guest::connector::Guest;
use casefile_guest::types::{Batch, PluginError, Query};

struct Trap;

impl Guest for Trap {
    fn validate_settings(_settings: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        panic!(
            "hostile-trap: deliberate panic while fetching for {}",
            query.plugin_id
        )
    }
}

casefile_guest::export_connector!(Trap);
