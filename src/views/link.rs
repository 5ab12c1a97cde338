//! The share link as every endpoint (and the `link.created` webhook) shows it.

use serde::Serialize;

use crate::db::links::Link;
use crate::domain::ids::{PartnerId, ProgramId};
use crate::domain::time::Timestamp;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    id: String,
    link_key: String,
    partner_id: PartnerId,
    program_id: ProgramId,
    destination_url: String,
    /// `<public url>/r/<linkKey>`.
    share_url: String,
    created_at: Timestamp,
}

/// `link.created` webhooks carry this view.
impl crate::webhooks::EventData for Link {
    fn event_data(&self, public_url: &str) -> serde_json::Value {
        serde_json::to_value(LinkView::new(self.clone(), public_url)).unwrap_or_default()
    }
}

impl LinkView {
    pub fn new(l: Link, public_url: &str) -> LinkView {
        LinkView {
            share_url: format!("{public_url}/r/{}", l.link_key),
            id: l.id.into_string(),
            link_key: l.link_key,
            partner_id: l.partner_id,
            program_id: l.program_id,
            destination_url: l.destination_url,
            created_at: l.created_at,
        }
    }
}
