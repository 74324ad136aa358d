//! Access per route: the one table [`RULES`] says which roles may call each route of
//! `api::routes`, and [`authorize`] (a layer on every route) enforces it before any
//! handler runs. A route missing from the table is refused for everyone, and a unit
//! test fails until it has an entry. Tenant scope is checked by the handlers, which
//! know whose object they hold, through the [`Caller`] this layer leaves behind.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::access::{Principal, Role};
use crate::app::App;

/// Who may call a route. `admin` may call every route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No token needed.
    Public,
    /// No token needed unless the config closes it (`auth.open_metrics`,
    /// `auth.open_openapi`); then any valid token.
    OpenUnlessClosed(Opening),
    /// The caller proves itself in the request (a webhook's signature, or a
    /// service token), which the handler checks; the layer lets it through.
    Signed,
    /// Any valid token.
    AnyRole,
    /// These roles (and admin).
    Roles(&'static [Role]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    Metrics,
    OpenApi,
}

use Role::{Developer, Platform, Security, Service};

/// (method, route path as in /openapi.json, rule): every route the API serves.
pub const RULES: &[(&str, &str, Rule)] = &[
    ("post", "/internal/debug/report", Rule::Roles(&[Service])),
    ("post", "/internal/debug/events", Rule::Roles(&[Service])),
    ("post", "/internal/debug/alerts", Rule::Roles(&[Service])),
    ("get", "/internal/debug/report/{task_id}", Rule::Roles(&[Developer])),
    ("get", "/internal/debug/report/{task_id}/bundle", Rule::Roles(&[Developer])),
    ("get", "/internal/debug/report/{task_id}/markdown", Rule::Roles(&[Developer])),
    ("post", "/internal/debug/report/{task_id}/regression", Rule::Roles(&[Developer])),
    ("post", "/internal/debug/report/{task_id}/retry", Rule::Roles(&[Developer])),
    ("post", "/internal/ticket/events", Rule::Signed),
    ("post", "/internal/debug/report/{task_id}/ticket/cancel", Rule::Roles(&[Developer])),
    ("post", "/internal/debug/reconcile", Rule::Roles(&[Platform])),
    ("get", "/internal/components", Rule::Roles(&[Platform, Security])),
    ("post", "/internal/components", Rule::Roles(&[Platform])),
    ("get", "/internal/components/{sha256}", Rule::Roles(&[Platform, Security])),
    ("post", "/internal/components/{sha256}/approve", Rule::Roles(&[Security])),
    ("post", "/internal/components/{sha256}/reject", Rule::Roles(&[Security])),
    ("post", "/internal/components/{sha256}/revoke", Rule::Roles(&[Security])),
    ("get", "/internal/tenants/{tenant}/bindings", Rule::Roles(&[Platform, Security])),
    ("put", "/internal/tenants/{tenant}/bindings/{slot}", Rule::Roles(&[Platform])),
    ("post", "/internal/tenants/{tenant}/bindings/{slot}/rollback", Rule::Roles(&[Platform])),
    ("get", "/internal/flags", Rule::AnyRole),
    ("put", "/internal/flags/{name}", Rule::Roles(&[Platform])),
    ("get", "/internal/tenants", Rule::Roles(&[Platform, Security])),
    ("put", "/internal/tenants/{tenant}", Rule::Roles(&[Platform])),
    ("get", "/internal/tenants/{tenant}/shadow", Rule::Roles(&[Platform, Security])),
    ("get", "/internal/tenants/{tenant}/masking-policy", Rule::Roles(&[Platform, Security])),
    ("put", "/internal/tenants/{tenant}/masking-policy", Rule::Roles(&[Platform])),
    ("get", "/internal/tenants/{tenant}/masking-policy/versions", Rule::Roles(&[Platform, Security])),
    ("post", "/internal/tenants/{tenant}/masking-policy/rollback", Rule::Roles(&[Platform])),
    ("get", "/internal/tenants/{tenant}/report-template", Rule::Roles(&[Platform, Security])),
    ("put", "/internal/tenants/{tenant}/report-template", Rule::Roles(&[Platform])),
    ("get", "/internal/tenants/{tenant}/report-template/versions", Rule::Roles(&[Platform, Security])),
    ("post", "/internal/tenants/{tenant}/report-template/rollback", Rule::Roles(&[Platform])),
    ("get", "/internal/audit", Rule::Roles(&[Security])),
    ("get", "/internal/audit/verify", Rule::Roles(&[Security])),
    ("get", "/internal/audit/archives/{task_id}", Rule::Roles(&[Security])),
    ("get", "/internal/review", Rule::Roles(&[Security])),
    ("get", "/internal/review/cases", Rule::Roles(&[Security])),
    ("post", "/internal/review/{id}", Rule::Roles(&[Security])),
    ("get", "/internal/tokens", Rule::Roles(&[])),
    ("post", "/internal/tokens", Rule::Roles(&[])),
    ("delete", "/internal/tokens/{id}", Rule::Roles(&[])),
    ("get", "/internal/report.schema.json", Rule::AnyRole),
    ("get", "/healthz", Rule::Public),
    ("get", "/metrics", Rule::OpenUnlessClosed(Opening::Metrics)),
    ("get", "/openapi.json", Rule::OpenUnlessClosed(Opening::OpenApi)),
];

/// The rule for a route; None for a route the table does not name.
pub fn rule(method: &str, path: &str) -> Option<Rule> {
    RULES.iter().find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path).map(|(_, _, r)| *r)
}

impl Rule {
    /// Whether a caller with `role` may call a route under this rule (given a token).
    pub fn admits(self, role: Role) -> bool {
        match self {
            Rule::Public | Rule::OpenUnlessClosed(_) | Rule::AnyRole => true,
            Rule::Signed => matches!(role, Role::Service | Role::Admin),
            Rule::Roles(roles) => role == Role::Admin || roles.contains(&role),
        }
    }

    fn needs_token(self, app: &App) -> bool {
        match self {
            Rule::Public | Rule::Signed => false,
            Rule::OpenUnlessClosed(Opening::Metrics) => !app.config.auth.open_metrics,
            Rule::OpenUnlessClosed(Opening::OpenApi) => !app.config.auth.open_openapi,
            Rule::AnyRole | Rule::Roles(_) => true,
        }
    }

    fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.admits(*r)).collect()
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    r
}

/// The layer on every route: finds the route's rule, checks the bearer token and the
/// role, and leaves the caller in the request for the handler.
pub async fn authorize(State(app): State<Arc<App>>, matched: Option<MatchedPath>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = matched.as_ref().map(|m| m.as_str().to_string()).unwrap_or_default();
    let lookup = if method == Method::HEAD { "get".to_string() } else { method.as_str().to_ascii_lowercase() };
    let Some(rule) = rule(&lookup, &path) else {
        tracing::error!(%method, %path, "route has no access rule; refused");
        return ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("{method} {path} has no access rule")).into_response();
    };
    let bearer = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim));
    if !rule.needs_token(&app) {
        return next.run(req).await;
    }
    let secret = match bearer {
        None => return unauthorized("send a token as `Authorization: Bearer <token>` (make one with `casefile token create`)"),
        Some(None) | Some(Some("")) => return unauthorized("the Authorization header must be `Bearer <token>`"),
        Some(Some(s)) => s.to_string(),
    };
    let principal = match crate::access::authenticate(&app.store, &secret).await {
        Ok(Some(p)) => Some(p),
        Ok(None) => None,
        Err(e) => return ApiError::internal(e.context("checking a bearer token")).into_response(),
    };
    let principal = match principal.or_else(|| config_security(&app, &secret)) {
        Some(p) => p,
        None => return unauthorized("the token is unknown, revoked or expired"),
    };
    if !rule.admits(principal.role) {
        let allowed = rule.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the {} role may not {method} {path}; roles that may: {allowed}", principal.role),
        )
        .into_response();
    }
    req.extensions_mut().insert(Caller(principal));
    next.run(req).await
}

/// The configured review token (`auth.security_token` / `CASEFILE_SECURITY_TOKEN`),
/// compared by digest.
fn config_security(app: &App, secret: &str) -> Option<Principal> {
    use sha2::{Digest, Sha256};
    let expected = app.config.auth.security_token.as_deref().filter(|t| !t.is_empty())?;
    (Sha256::digest(secret.as_bytes()) == Sha256::digest(expected.as_bytes())).then(Principal::config_security)
}

/// The authenticated caller of a route that needs a token.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send a token as `Authorization: Bearer <token>`"))
    }
}

/// The access matrix as a Markdown table (README's "Roles" section is this).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| Route | service | developer | platform | security | admin |\n|---|---|---|---|---|---|\n");
    for (m, p, rule) in RULES {
        let cells: Vec<&str> = Role::ALL
            .iter()
            .map(|r| match rule {
                Rule::Public => "open",
                Rule::Signed if matches!(r, Role::Service | Role::Admin) => "yes²",
                Rule::Signed => "",
                Rule::OpenUnlessClosed(_) => "open¹",
                _ if rule.admits(*r) => "yes",
                _ => "",
            })
            .collect();
        out.push_str(&format!("| {} `{p}` | {} |\n", m.to_uppercase(), cells.join(" | ")));
    }
    out
}

/// Adds to every operation that needs a token its bearer requirement and its 401 and
/// 403 answers, so the description says what the layer does.
pub fn describe(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{security::SecurityRequirement, Ref, RefOr, ResponseBuilder};
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [("get", &mut item.get), ("post", &mut item.post), ("put", &mut item.put), ("delete", &mut item.delete)];
        for (method, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            let Some(rule) = rule(method, path) else { continue };
            if matches!(rule, Rule::Public | Rule::Signed) {
                continue;
            }
            if !matches!(rule, Rule::OpenUnlessClosed(_)) {
                op.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            }
            let error = |d: &str| {
                RefOr::T(ResponseBuilder::new().description(d).content("application/json", utoipa::openapi::ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build()).build())
            };
            op.responses.responses.entry("401".into()).or_insert_with(|| error("No valid bearer token"));
            if matches!(rule, Rule::Roles(_)) {
                op.responses.responses.entry("403".into()).or_insert_with(|| error("The token's role may not call this route"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route of the route table has exactly one rule, and every rule names a
    /// route: adding a route without deciding who may call it fails here.
    #[test]
    fn every_route_has_exactly_one_rule() {
        let doc = crate::api::openapi_document();
        let mut served = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (m, op) in [("get", &item.get), ("post", &item.post), ("put", &item.put), ("delete", &item.delete), ("patch", &item.patch)] {
                if op.is_some() {
                    served.push((m.to_string(), path.clone()));
                }
            }
        }
        for (m, p) in &served {
            assert_eq!(RULES.iter().filter(|(rm, rp, _)| rm == m && rp == p).count(), 1, "{m} {p} needs exactly one entry in api::access::RULES");
        }
        for (m, p, _) in RULES {
            assert!(served.iter().any(|(sm, sp)| sm == m && sp == p), "RULES names {m} {p}, which is not a route");
        }
    }

    #[test]
    fn admin_may_call_everything_and_roles_only_their_routes() {
        for (m, p, rule) in RULES {
            assert!(rule.admits(Role::Admin), "{m} {p}");
        }
        assert!(rule("post", "/internal/debug/report").unwrap().admits(Role::Service));
        assert!(!rule("post", "/internal/debug/report").unwrap().admits(Role::Developer));
        assert!(!rule("get", "/internal/tokens").unwrap().admits(Role::Security));
        assert!(rule("get", "/internal/nothing").is_none());
    }

    /// The README's table is the table this code enforces.
    #[test]
    fn the_readme_shows_this_matrix() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
        assert!(readme.contains(&matrix_markdown()), "README.md's role table is out of date; paste this:\n{}", matrix_markdown());
    }
}
