//! What each kind of component may import. The linker offers every component the
//! whole of WASI (its sockets are switched off per call), so linking alone would let
//! a masker that imports `wasi:sockets` in; the registry refuses such bytes before
//! they are stored, and shows every import for review.

use crate::config::ComponentKind;

/// Interfaces every kind may import (versions aside): what a Rust, Python or
/// JavaScript guest's standard library asks for. The host grants nothing through
/// them beyond what the call allows (empty environment, no directories but a
/// connector's granted one).
const COMMON: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "casefile:plugin/types",
];

/// The one host interface each kind adds.
fn own(kind: ComponentKind) -> &'static [&'static str] {
    match kind {
        ComponentKind::Masker => &["casefile:plugin/pseudonyms"],
        ComponentKind::Connector => &["casefile:plugin/host-http"],
        ComponentKind::TicketMapper => &[],
    }
}

/// `wasi:cli/stdout@0.2.6` → `wasi:cli/stdout`.
fn unversioned(name: &str) -> &str {
    name.split_once('@').map_or(name, |(n, _)| n)
}

/// The imports `kind` may not have, with why, or an empty list.
pub fn forbidden(kind: ComponentKind, imports: &[String]) -> Vec<String> {
    imports
        .iter()
        .filter(|i| {
            let n = unversioned(i);
            !COMMON.contains(&n) && !own(kind).contains(&n)
        })
        .map(|i| {
            let n = unversioned(i);
            let why = if n.starts_with("wasi:sockets/") {
                "network sockets are never granted; connectors reach their hosts through casefile:plugin/host-http"
            } else if n.starts_with("wasi:http/") {
                "outbound HTTP goes through casefile:plugin/host-http, which checks the source's allow-list"
            } else if n.starts_with("casefile:plugin/") {
                "that host interface belongs to another kind of component"
            } else {
                "the host does not offer it"
            };
            format!("`{i}` ({why})")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_gets_the_common_set_and_its_own_interface() {
        let std_imports: Vec<String> =
            ["wasi:cli/environment@0.2.6", "wasi:io/streams@0.2.6", "casefile:plugin/types@0.2.0"].map(String::from).to_vec();
        for kind in [ComponentKind::Masker, ComponentKind::Connector, ComponentKind::TicketMapper] {
            assert!(forbidden(kind, &std_imports).is_empty(), "{kind:?}");
        }
        let http = vec!["casefile:plugin/host-http@0.2.0".to_string()];
        assert!(forbidden(ComponentKind::Connector, &http).is_empty());
        assert_eq!(forbidden(ComponentKind::Masker, &http).len(), 1);
        let sockets = vec!["wasi:sockets/tcp@0.2.6".to_string(), "wasi:http/outgoing-handler@0.2.6".to_string()];
        let refused = forbidden(ComponentKind::Connector, &sockets);
        assert!(refused[0].contains("sockets are never granted") && refused[1].contains("host-http"), "{refused:?}");
    }
}
