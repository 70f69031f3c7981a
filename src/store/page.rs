//! One page of a list: how many items, and where the previous page ended.
//!
//! Lists are paged by position, not by offset, so an item stored or changed
//! between two requests never shifts another one into a page twice or out of
//! every page. The cursor callers see is opaque: the position of the last
//! item of a page, encoded; they pass it back unchanged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Where a page ended: the last item's sort key and its number (the key is
/// the number again for lists ordered by number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    /// The position of item `id` in a list ordered by number.
    pub fn at(id: i64) -> Self {
        Self { key: id, id }
    }

    /// The opaque text form.
    pub fn encode(self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.key.to_be_bytes());
        bytes[8..].copy_from_slice(&self.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads [`Cursor::encode`]'s text; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes: [u8; 16] = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
        let (key, id) = bytes.split_at(8);
        Some(Self {
            key: i64::from_be_bytes(key.try_into().ok()?),
            id: i64::from_be_bytes(id.try_into().ok()?),
        })
    }
}

/// A request for one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items wanted.
    pub limit: usize,
    /// After this position; `None` for the first page.
    pub after: Option<Cursor>,
}

impl Page {
    /// How many items to read: one more than wanted tells whether another
    /// page follows.
    pub fn fetch(&self) -> usize {
        self.limit + 1
    }

    /// The page out of `fetched` (read with [`Page::fetch`]), and the cursor
    /// of its last item when more follow.
    pub fn split<T>(
        &self,
        mut fetched: Vec<T>,
        at: impl Fn(&T) -> Cursor,
    ) -> (Vec<T>, Option<Cursor>) {
        if fetched.len() <= self.limit {
            return (fetched, None);
        }
        fetched.truncate(self.limit);
        let next = fetched.last().map(at);
        (fetched, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for c in [
            Cursor::at(1),
            Cursor::at(i64::MAX),
            Cursor { key: -5, id: 7 },
            Cursor {
                key: 1_767_225_600_000,
                id: 42,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c), "{c:?}");
        }
        for text in [
            "",
            "42",
            "not a cursor!",
            &URL_SAFE_NO_PAD.encode([0u8; 15]),
        ] {
            assert_eq!(Cursor::decode(text), None, "{text:?}");
        }
    }

    #[test]
    fn split_keeps_the_page_and_says_where_it_ended() {
        fn check(fetched: Vec<i64>, limit: usize, expected: (Vec<i64>, Option<i64>)) {
            let page = Page { limit, after: None };
            let (items, next) = page.split(fetched, |id| Cursor::at(*id));
            assert_eq!((items, next.map(|c| c.id)), expected);
        }
        check(vec![9, 8, 7], 2, (vec![9, 8], Some(8)));
        check(vec![9, 8], 2, (vec![9, 8], None));
        check(vec![], 2, (vec![], None));
        assert_eq!(
            Page {
                limit: 2,
                after: None
            }
            .fetch(),
            3
        );
    }
}
