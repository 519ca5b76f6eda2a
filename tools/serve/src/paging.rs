//! Paging of every list: `$top` (page size, 1..=1000, default `--page-size`) and `$skiptoken`
//! (where the page starts), with an absolute `nextLink` on every page but the last, the way
//! Azure pages and the SDKs follow.
//!
//! The skip token is `POSITION.OFFSET`: the log position the listing began at and the offset
//! of the page's first item, in RFC 3986 unreserved characters only (digits and a dot), so it
//! survives every client's re-encoding. Every page of a listing answers from the projections
//! at that position, so pages never shift when invoices arrive between two requests: the
//! server keeps superseded projections for a listing for [`TOKEN_LIFETIME`] after its last
//! page (at most [`MAX_PINNED`] positions at once); a token whose position is gone is answered
//! 410 `ContinuationTokenExpired` (list again from the first page).

use std::ops::Range;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::ApiError;
use super::params::{shorten, Query};
pub use super::state::{MAX_PINNED, TOKEN_LIFETIME};

/// The largest `$top`.
pub const MAX_TOP: usize = 1000;
/// The largest offset a skip token may carry (18 digits).
const MAX_SKIP_DIGITS: usize = 18;

/// Where a page after the first starts: the listing's log position and the offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageStart {
    pub position: u64,
    pub offset: usize,
}

/// Which slice of a list a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub top: usize,
    /// `None`: the first page, of the current projections.
    pub start: Option<PageStart>,
}

impl PageRequest {
    pub fn from_query(query: &Query, default_top: usize) -> Result<PageRequest, ApiError> {
        let top = match query.get("$top")? {
            None => default_top,
            Some(text) => parse_digits(text, 4)
                .filter(|n| (1..=MAX_TOP as u64).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "InvalidTop",
                        format!(
                            "$top '{}' is invalid: expected a whole number from 1 to {MAX_TOP}",
                            shorten(text)
                        ),
                    )
                })? as usize,
        };
        let start = match skip_token(query)? {
            None => None,
            Some(text) => Some(parse_token(text).ok_or_else(|| {
                ApiError::bad_request("InvalidSkipToken", format!("$skiptoken '{}' is invalid: use the nextLink of the previous page as given", shorten(text)))
            })?),
        };
        Ok(PageRequest { top, start })
    }

    /// The items of a list of `len` on this page, and the offset of the next page if any.
    pub fn window(&self, len: usize) -> (Range<usize>, Option<usize>) {
        let skip = self.start.map_or(0, |s| s.offset);
        let start = skip.min(len);
        let end = start.saturating_add(self.top).min(len);
        (start..end, (end < len).then_some(end))
    }
}

/// `POSITION.OFFSET`, each at most [`MAX_SKIP_DIGITS`] digits.
fn parse_token(text: &str) -> Option<PageStart> {
    let (position, offset) = text.split_once('.')?;
    Some(PageStart {
        position: parse_digits(position, MAX_SKIP_DIGITS)?,
        offset: usize::try_from(parse_digits(offset, MAX_SKIP_DIGITS)?).ok()?,
    })
}

/// The answer to a continuation token whose log position is no longer kept.
pub fn expired(start: PageStart) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::GONE,
        "ContinuationTokenExpired",
        format!(
            "the continuation token began its listing at log position {}, which is no longer kept (a token lasts {} minutes after the page that gave it, while at most {MAX_PINNED} listings are under way at other positions); list again from the first page",
            start.position,
            TOKEN_LIFETIME.as_secs() / 60
        ),
    )
}

/// The OpenAPI pattern of a skip token.
pub const SKIP_TOKEN_PATTERN: &str = "^[0-9]{1,18}[.][0-9]{1,18}$";

/// Azure spells it `$skiptoken` and `$skipToken`; names are case-insensitive here anyway.
fn skip_token(query: &Query) -> Result<Option<&str>, ApiError> {
    query.get("$skiptoken")
}

/// A whole number of at most `max_digits` ASCII digits.
fn parse_digits(text: &str, max_digits: usize) -> Option<u64> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What is percent-encoded in a query value of a nextLink: everything but RFC 3986's
/// unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The absolute URL of the next page: `origin` (`http://host:port`), the request's path as it
/// was sent, the parameters named in `keep` (lowercase name, spelling) that the request had, and
/// `$skiptoken`.
pub fn next_link(
    origin: &str,
    raw_path: &str,
    query: &Query,
    keep: &[(&str, &str)],
    next: PageStart,
) -> String {
    let mut link = format!("{origin}{raw_path}?");
    for (name, spelling) in keep {
        if let Ok(Some(value)) = query.get(name) {
            link.push_str(spelling);
            link.push('=');
            link.extend(utf8_percent_encode(value, QUERY_VALUE));
            link.push('&');
        }
    }
    link.push_str(&format!("$skiptoken={}.{}", next.position, next.offset));
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: usize) -> Option<PageStart> {
        Some(PageStart {
            position: 7,
            offset,
        })
    }

    #[test]
    fn windows() {
        let page = PageRequest {
            top: 100,
            start: None,
        };
        assert_eq!(page.window(0), (0..0, None));
        assert_eq!(page.window(100), (0..100, None));
        assert_eq!(page.window(101), (0..100, Some(100)));
        let page = PageRequest {
            top: 100,
            start: at(200),
        };
        assert_eq!(page.window(250), (200..250, None));
        assert_eq!(page.window(150), (150..150, None));
        let page = PageRequest {
            top: 1000,
            start: at(usize::MAX),
        };
        assert_eq!(page.window(5), (5..5, None));
    }

    #[test]
    fn tokens_and_tops() {
        let q = |s: &str| Query::parse(Some(s));
        assert_eq!(
            PageRequest::from_query(&q(""), 100).unwrap(),
            PageRequest {
                top: 100,
                start: None
            }
        );
        assert_eq!(
            PageRequest::from_query(&q("$top=5&$skipToken=7.10"), 100).unwrap(),
            PageRequest {
                top: 5,
                start: at(10)
            }
        );
        for bad in [
            "$top=0",
            "$top=1001",
            "$top=-1",
            "$top=1.5",
            "$top=",
            "$top=+5",
            "$skiptoken=x",
            "$skiptoken=",
            "$skiptoken=10",
            "$skiptoken=7.",
            "$skiptoken=.7",
            "$skiptoken=7.1.1",
            "$skiptoken=7.1234567890123456789",
        ] {
            assert!(PageRequest::from_query(&q(bad), 100).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_links_keep_the_request() {
        let q = Query::parse(Some(
            "api-version=2024-08-01&%24filter=source%20eq%20%27A%20B%27&other=1&$skiptoken=3.100",
        ));
        let keep = [
            ("api-version", "api-version"),
            ("$filter", "$filter"),
            ("$top", "$top"),
        ];
        assert_eq!(
            next_link("http://127.0.0.1:8080", "/providers/Microsoft.Billing/billingAccounts/a%3Ab/providers/Microsoft.Consumption/lots", &q, &keep, PageStart { position: 3, offset: 200 }),
            "http://127.0.0.1:8080/providers/Microsoft.Billing/billingAccounts/a%3Ab/providers/Microsoft.Consumption/lots?api-version=2024-08-01&$filter=source%20eq%20%27A%20B%27&$skiptoken=3.200"
        );
    }
}
