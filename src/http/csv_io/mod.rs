//! CSV for people: streamed exports of partners, commissions and conversions (admin), and the
//! partner import. Quoting is RFC 4180 (the `csv` crate); a cell a spreadsheet would run as a
//! formula (leading `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`.

mod export;
mod import;

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(export::router())
        .merge(import::router())
}

/// A cell defused against formula injection.
pub fn defuse(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}").into()
    } else {
        v.into()
    }
}

/// One CSV record (defused, RFC 4180 quoted, CRLF-terminated).
pub fn record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let written = w.write_record(cells.iter().map(|c| defuse(c.as_ref()).into_owned()));
    let bytes = written
        .ok()
        .and_then(|_| w.into_inner().ok())
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A streamed CSV download: `header`, then page after page from `next_page(cursor)` until it
/// returns no cursor. Memory stays bounded by one page.
pub fn download<C, F, Fut>(filename: &str, header: &[&str], next_page: F) -> Response
where
    C: Send + 'static,
    F: Fn(Option<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = sqlx::Result<(String, Option<C>)>> + Send + 'static,
{
    let first = record(header);
    let next_page = std::sync::Arc::new(next_page);
    let pages = futures_util::stream::unfold(Some((None::<C>, true)), move |at| {
        let next_page = next_page.clone();
        async move {
            let (cursor, first_page) = at?;
            if !first_page && cursor.is_none() {
                return None;
            }
            match next_page(cursor).await {
                Ok((text, next)) => {
                    let more = next.map(|c| (Some(c), false));
                    Some((Ok::<_, std::io::Error>(Bytes::from(text)), more))
                }
                Err(e) => {
                    tracing::error!(error = %e, "CSV export failed midway");
                    Some((Err(std::io::Error::other(e)), None))
                }
            }
        }
    });
    let head = futures_util::stream::once(async move { Ok(Bytes::from(first)) });
    let body = Body::from_stream(futures_util::StreamExt::chain(head, pages));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}
