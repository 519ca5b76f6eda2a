//! Paging of the lots and events lists: `$top` (page size, 1..=1000, default `--page-size`)
//! and `$skiptoken` (where the page starts), with an absolute `nextLink` on every page but the
//! last, the way Azure pages and the SDKs follow.
//!
//! The skip token is the offset of the page's first item in the filtered list. A write
//! between two pages (`--allow-writes`) can shift the list under a client that is paging;
//! ARM lists give no snapshot guarantee either.

use std::ops::Range;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::ApiError;
use super::params::{shorten, Query};

/// The largest `$top`.
pub const MAX_TOP: usize = 1000;
/// The largest offset a skip token may carry (18 digits).
const MAX_SKIP_DIGITS: usize = 18;

/// Which slice of a list a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub top: usize,
    pub skip: usize,
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
        let skip = match skip_token(query)? {
            None => 0,
            Some(text) => parse_digits(text, MAX_SKIP_DIGITS).ok_or_else(|| {
                ApiError::bad_request("InvalidSkipToken", format!("$skiptoken '{}' is invalid: use the nextLink of the previous page as given", shorten(text)))
            })? as usize,
        };
        Ok(PageRequest { top, skip })
    }

    /// The items of a list of `len` on this page, and the offset of the next page if any.
    pub fn window(&self, len: usize) -> (Range<usize>, Option<usize>) {
        let start = self.skip.min(len);
        let end = start.saturating_add(self.top).min(len);
        (start..end, (end < len).then_some(end))
    }
}

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
    skip: usize,
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
    link.push_str(&format!("$skiptoken={skip}"));
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let page = PageRequest { top: 100, skip: 0 };
        assert_eq!(page.window(0), (0..0, None));
        assert_eq!(page.window(100), (0..100, None));
        assert_eq!(page.window(101), (0..100, Some(100)));
        let page = PageRequest {
            top: 100,
            skip: 200,
        };
        assert_eq!(page.window(250), (200..250, None));
        assert_eq!(page.window(150), (150..150, None));
        let page = PageRequest {
            top: 1000,
            skip: usize::MAX,
        };
        assert_eq!(page.window(5), (5..5, None));
    }

    #[test]
    fn tokens_and_tops() {
        let q = |s: &str| Query::parse(Some(s));
        assert_eq!(
            PageRequest::from_query(&q(""), 100).unwrap(),
            PageRequest { top: 100, skip: 0 }
        );
        assert_eq!(
            PageRequest::from_query(&q("$top=5&$skipToken=10"), 100).unwrap(),
            PageRequest { top: 5, skip: 10 }
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
            "$skiptoken=1234567890123456789",
        ] {
            assert!(PageRequest::from_query(&q(bad), 100).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_links_keep_the_request() {
        let q = Query::parse(Some(
            "api-version=2024-08-01&%24filter=source%20eq%20%27A%20B%27&other=1&$skiptoken=100",
        ));
        let keep = [
            ("api-version", "api-version"),
            ("$filter", "$filter"),
            ("$top", "$top"),
        ];
        assert_eq!(
            next_link("http://127.0.0.1:8080", "/providers/Microsoft.Billing/billingAccounts/a%3Ab/providers/Microsoft.Consumption/lots", &q, &keep, 200),
            "http://127.0.0.1:8080/providers/Microsoft.Billing/billingAccounts/a%3Ab/providers/Microsoft.Consumption/lots?api-version=2024-08-01&$filter=source%20eq%20%27A%20B%27&$skiptoken=200"
        );
    }
}
