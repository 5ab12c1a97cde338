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

/// What the key may do, told apart by `role`: `{role: "admin", unrestricted: true}`,
/// `{role: "scoped", scopes}` or `{role: "partner", restrictedTo: {partnerId}}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Introspection {
    Admin {
        /// Always `true`.
        unrestricted: bool,
    },
    Scoped {
        #[schema(value_type = Vec<ScopeName>)]
        scopes: Vec<&'static str>,
    },
    Partner {
        #[serde(rename = "restrictedTo")]
        restricted_to: RestrictedTo,
    },
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
        Principal::Admin { .. } => Introspection::Admin { unrestricted: true },
        Principal::Scoped { scopes, .. } => Introspection::Scoped {
            scopes: scopes.names(),
        },
        Principal::Partner { partner_id, .. } => Introspection::Partner {
            restricted_to: RestrictedTo { partner_id },
        },
    })
}
