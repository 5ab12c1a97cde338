//! The sale a commission came from, as a list of commissions shows it: what a partner
//! understands (amount, currency, date, the brand's order or invoice reference), never who the
//! customer is.

use std::collections::HashMap;

use serde::Serialize;

use crate::db;
use crate::db::commissions::Commission;
use crate::db::events::SaleRow;
use crate::domain::ids::EventId;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::views::CommissionView;

/// A conversion, without its customer or click.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaleView {
    /// `sale`, or the brand's own kind of conversion.
    #[serde(rename = "type")]
    kind: String,
    /// Decimal string in major units (`"120.00"`).
    amount: String,
    currency: String,
    /// When the sale happened.
    at: Timestamp,
    /// The brand's order or invoice reference (its `externalEventId`).
    reference: String,
}

impl From<SaleRow> for SaleView {
    fn from(s: SaleRow) -> Self {
        SaleView {
            kind: s.kind,
            amount: s.currency.format_minor(s.value_minor),
            currency: s.currency.as_str().to_string(),
            at: s.ts,
            reference: s.external_event_id,
        }
    }
}

/// A commission in a list, with its sale.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommissionWithSale {
    #[serde(flatten)]
    commission: CommissionView,
    /// Null only if the event is gone (an import without it).
    sale: Option<SaleView>,
}

/// `rows` with their sales, read in one query.
pub async fn with_sales(
    state: &AppState,
    rows: &[Commission],
) -> ApiResult<Vec<CommissionWithSale>> {
    let ids: Vec<&EventId> = rows.iter().map(|c| &c.event_id).collect();
    let mut sales: HashMap<EventId, SaleRow> = db::events::sales_by_ids(state.db.pool(), &ids)
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    Ok(rows
        .iter()
        .map(|c| CommissionWithSale {
            commission: CommissionView::from(c),
            sale: sales.remove(&c.event_id).map(SaleView::from),
        })
        .collect())
}
