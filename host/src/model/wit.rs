//! The bindings of wit/casefile.wit's three worlds. The `types` interface is
//! generated once (with the masker world) and shared by the other two, and it is the
//! host's data model too: records, spans and samples are these generated types, with
//! serde derived through bindgen's options, so host, SDK and WIT share one record
//! type and nothing converts between copies.

pub mod masker {
    wasmtime::component::bindgen!({
        world: "masker",
        path: "../wit",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

pub mod connector {
    wasmtime::component::bindgen!({
        world: "connector",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
        with: { "casefile:plugin/types": super::masker::casefile::plugin::types },
    });
}

pub mod ticket_mapper {
    wasmtime::component::bindgen!({
        world: "ticket-mapper",
        path: "../wit",
        exports: { default: async },
        with: { "casefile:plugin/types": super::masker::casefile::plugin::types },
    });
}

/// A ticket mapper that also exports `ticket-poll`; the host links a mapper with
/// this world too when its exports allow, and polls only those.
pub mod ticket_mapper_polling {
    wasmtime::component::bindgen!({
        world: "ticket-mapper-polling",
        path: "../wit",
        exports: { default: async },
        with: { "casefile:plugin/types": super::masker::casefile::plugin::types },
    });
}

/// A ticket mapper that also exports `ticket-comments`: the host sends the comment
/// of a close or reopen as a request of its own.
pub mod ticket_mapper_comments {
    wasmtime::component::bindgen!({
        world: "ticket-mapper-comments",
        path: "../wit",
        exports: { default: async },
        with: { "casefile:plugin/types": super::masker::casefile::plugin::types },
    });
}

pub use masker::casefile::plugin::types;
