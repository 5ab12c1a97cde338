//! `GET /auth/introspect`: what the presented key may do. The Network calls it to check the
//! federation key it holds.

use axum::Json;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::ids::PartnerId;
use crate::error::ErrorBody;
use crate::http::api_keys::ScopeName;
use crate::http::auth::Auth;
use crate::principal::Principal;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(introspect))
}

/// One of `{role: "admin", unrestricted: true}`, `{role: "scoped", scopes}` or
/// `{role: "partner", restrictedTo: {partnerId}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Introspection {
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unrestricted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<ScopeName>>)]
    scopes: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restricted_to: Option<RestrictedTo>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestrictedTo {
    partner_id: PartnerId,
}

/// Describe the presented key.
#[utoipa::path(get, path = "/auth/introspect", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = Introspection),
        (status = 401, description = "`unauthorized`", body = ErrorBody)))]
async fn introspect(Auth(principal): Auth) -> Json<Introspection> {
    Json(match principal {
        Principal::Admin { .. } => Introspection {
            role: "admin",
            unrestricted: Some(true),
            scopes: None,
            restricted_to: None,
        },
        Principal::Scoped { scopes, .. } => Introspection {
            role: "scoped",
            unrestricted: None,
            scopes: Some(scopes.names()),
            restricted_to: None,
        },
        Principal::Partner { partner_id, .. } => Introspection {
            role: "partner",
            unrestricted: None,
            scopes: None,
            restricted_to: Some(RestrictedTo { partner_id }),
        },
    })
}
