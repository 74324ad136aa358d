//! The WIT worlds of `wit/casefile.wit`, one module each.
//!
//! Each world gets a public export macro (`export_masker!`, `export_connector!`,
//! `export_ticket_mapper!`) that a plugin crate calls with its type; the macros find
//! the bindings through `default_bindings_module`, so the plugin needs no
//! `wit-bindgen` dependency of its own.
//!
//! `pub_export_macro` also keeps the worlds apart in the final component: this crate's
//! own type sections describe imports only, and the section naming the exports is
//! emitted by the macro inside the plugin crate. So a masker built on this crate
//! exports `mask` alone and does not claim the connector's `host-http` import.
//!
//! The three worlds share the `types` interface. It is generated once (with the
//! masker world) and the other two point at it through `with`, so that a `Field`
//! or `Level` is one Rust type whichever world a helper is used from.

/// `casefile:plugin/types`: records, spans, samples, errors, HTTP messages.
pub use masker::casefile::plugin::types;

pub mod masker {
    wit_bindgen::generate!({
        world: "masker",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_masker",
        // So that records compare in tests (the types are generated here only).
        additional_derives: [PartialEq],
        default_bindings_module: "casefile_guest::masker",
        runtime_path: "casefile_guest::wit_bindgen::rt",
    });
    pub use self::exports::casefile::plugin::mask::Guest;

    /// Keyed pseudonyms made by the host (the `pseudonyms` import): the tenant's key
    /// never enters the component. Plug it into the detectors where they take a
    /// `Pseudonyms`.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct HostPseudonyms;

    impl crate::detect::Pseudonyms for HostPseudonyms {
        fn token(&mut self, rule: &str, value: &str) -> Option<String> {
            casefile::plugin::pseudonyms::token(rule, value)
        }
    }

    impl From<crate::detect::Action> for crate::types::MaskAction {
        fn from(a: crate::detect::Action) -> Self {
            use crate::detect::Action;
            use crate::types::MaskAction;
            match a {
                Action::Mask => MaskAction::Mask,
                Action::Remove => MaskAction::Remove,
                Action::Hash => MaskAction::Hash,
                Action::Partial => MaskAction::Partial,
            }
        }
    }
}

pub mod connector {
    wit_bindgen::generate!({
        world: "connector",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_connector",
        default_bindings_module: "casefile_guest::connector",
        runtime_path: "casefile_guest::wit_bindgen::rt",
        with: { "casefile:plugin/types@0.2.0": crate::types },
    });
    pub use self::exports::casefile::plugin::source::Guest;

    use crate::types::{Field, HttpMethod, HttpRequest, HttpResponse, PluginError};

    /// Sends a request through the host (which checks it against the source's
    /// allow-list): `denied` when the host refused it, `unavailable` when it failed.
    pub fn http_send(request: &HttpRequest) -> Result<HttpResponse, PluginError> {
        casefile::plugin::host_http::send(request)
    }

    /// `GET url` with the given headers; the response whatever its status.
    pub fn http_get(url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, PluginError> {
        http_send(&HttpRequest {
            method: HttpMethod::Get,
            url: url.to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| Field {
                    key: (*k).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            body: Vec::new(),
        })
    }

    /// `GET url` and the body of a 2xx answer, else `unavailable("<service> answered …")`.
    pub fn http_get_body(
        service: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>, PluginError> {
        let response = http_get(url, headers)?;
        crate::http::expect_success(service, &response).map(<[u8]>::to_vec)
    }
}

pub mod ticket_mapper {
    wit_bindgen::generate!({
        world: "ticket-mapper",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_ticket_mapper",
        default_bindings_module: "casefile_guest::ticket_mapper",
        runtime_path: "casefile_guest::wit_bindgen::rt",
        with: { "casefile:plugin/types@0.2.0": crate::types },
    });
    pub use self::exports::casefile::plugin::mapper::Guest;
}
