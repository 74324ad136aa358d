//! Host bindings for the three worlds of wit/casefile.wit. The `types` interface is
//! generated once (with the masker world) and shared by the other two.

pub mod masker {
    wasmtime::component::bindgen!({
        world: "masker",
        path: "../wit",
        exports: { default: async },
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

pub use masker::casefile::plugin::types as wit;
