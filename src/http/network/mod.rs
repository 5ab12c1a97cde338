//! The Network, as this instance's HTTP API shows it: the connection and its two connect flows
//! (`connect`), the admin panel (`panel`), partner sync's outbox and backfill (`outbox`), the
//! brand's side of the marketplace (`marketplace`) and the partner's (`partner`).

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub mod connect;
pub mod marketplace;
pub mod outbox;
mod panel;
pub mod partner;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(connect::router())
        .merge(panel::router())
        .merge(outbox::router())
        .merge(marketplace::router())
        .merge(partner::router())
}
