//! The base of the OpenAPI document; each router adds its paths and schemas from the handlers'
//! annotations, so the document cannot fall behind the code.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenPartner",
        description = "The brand instance API: partners, programs, share links, commissions and the \
        OpenPartner Network connection. Every error answers `{\"error\": \"<code>\", \"detail\": ...}`."
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`op_…`), or a partner session (`ops_…`, also accepted as the \
                         `op_session` cookie).",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
