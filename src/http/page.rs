//! `?limit=&cursor=` of every list: at most `limits::PAGE_MAX` items a
//! page, and the opaque `next_cursor` that fetches the next one (`null` on
//! the last page).

use super::error::ApiError;
use crate::limits::{PAGE_DEFAULT, PAGE_MAX};
use crate::store::{Cursor, Page};

/// The page a list request asks for; 400 naming `limit` or `cursor`.
pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Page, ApiError> {
    let limit = match limit {
        None => PAGE_DEFAULT,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=PAGE_MAX).contains(n))
            .ok_or_else(|| ApiError::bad("limit", format!("must be 1 to {PAGE_MAX}")))?,
    };
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(
            Cursor::decode(text)
                .ok_or_else(|| ApiError::bad("cursor", "not a next_cursor this server gave"))?,
        ),
    };
    Ok(Page { limit, after })
}

/// The `next_cursor` of an answer.
pub fn next(cursor: Option<Cursor>) -> Option<String> {
    cursor.map(Cursor::encode)
}
