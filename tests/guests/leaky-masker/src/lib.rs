//! Hostile test guest: a masker that hands every record back untouched and claims it
//! masked nothing. Proves the host's leak gate catches what a broken or malicious
//! tenant masker lets through.

use casefile_guest::masker::Guest;
use casefile_guest::types::{Batch, MaskContext, MaskedBatch, PluginError};

struct Leaky;

impl Guest for Leaky {
    fn mask(_context: MaskContext, batch: Batch) -> Result<MaskedBatch, PluginError> {
        Ok(MaskedBatch { batch, counts: Vec::new() })
    }
}

casefile_guest::export_masker!(Leaky);
