//! Keyset paging shared by the list endpoints: the opaque `cursor` a client sends back, and the
//! `nextCursor` of a page fetched with one row more than its limit.

use crate::domain::cursor::{self, Position};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The position a `cursor` query parameter names; `None` for the first page. A forged or
/// altered cursor is 400 `invalid_cursor`.
pub fn after(state: &AppState, raw: Option<&str>) -> ApiResult<Option<Position>> {
    match raw.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => cursor::decode(&state.cursor_key[..], c)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", "The cursor is malformed or was altered.")
            }),
    }
}

/// Cuts `rows` (fetched with `limit + 1`) to `limit` and returns the cursor of the next page,
/// `None` on the last one. `position` names a row's keyset position.
pub fn next_cursor<T>(
    state: &AppState,
    rows: &mut Vec<T>,
    limit: i64,
    position: impl Fn(&T) -> Position,
) -> Option<String> {
    if rows.len() as i64 <= limit {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last()
        .map(|r| cursor::encode(&state.cursor_key[..], &position(r)))
}
