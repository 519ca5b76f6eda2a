//! Query-string parameters: decoding, `api-version`, and the dates of the Events API.
//!
//! Names are matched case-insensitively (`startDate`, `startdate`), as Azure does. A known
//! parameter given twice is refused rather than guessed at; unknown parameters are ignored.

use ledger_app::core::Date;

use super::error::ApiError;

/// The decoded query string of one request.
#[derive(Debug, Default, Clone)]
pub struct Query {
    /// (name in ASCII lowercase, value), in request order.
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decode `a=b&c=d` (`+` is a space; invalid UTF-8 becomes U+FFFD).
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = match raw {
            None => Vec::new(),
            Some(raw) => form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
                .collect(),
        };
        Query { pairs }
    }

    /// The value of `name` (lowercase), refusing a parameter given more than once.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut found = None;
        for (key, value) in &self.pairs {
            if key == name {
                if found.is_some() {
                    return Err(ApiError::bad_request(
                        "InvalidQueryParameter",
                        format!(
                            "the query parameter '{name}' is given more than once; give it once"
                        ),
                    ));
                }
                found = Some(value.as_str());
            }
        }
        Ok(found)
    }
}

/// `YYYY-MM-DD` with an optional `-suffix` (`2021-05-01`, `2023-11-01-preview`).
pub fn is_api_version(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 10 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let date_shaped = digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10);
    let suffix = &b[10..];
    let suffix_ok = suffix.is_empty()
        || (suffix.len() >= 2
            && suffix[0] == b'-'
            && suffix[1..].iter().all(u8::is_ascii_alphabetic));
    date_shaped && suffix_ok
}

/// The `api-version` of the request: required on Azure's own paths (as Azure requires it),
/// optional elsewhere; when given it must look like one and is echoed in the response.
pub fn api_version(query: &Query, required: bool) -> Result<Option<String>, ApiError> {
    match query.get("api-version")? {
        None if required => Err(ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests, e.g. ?api-version=2024-08-01.",
        )),
        None => Ok(None),
        Some(v) if is_api_version(v) => Ok(Some(v.to_string())),
        Some(v) => Err(ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{}' is invalid. The supported format is 'yyyy-MM-dd' or 'yyyy-MM-dd-preview', e.g. 2024-08-01.",
                shorten(v)
            ),
        )),
    }
}

/// At most 60 characters of a user's value, for an error message.
pub fn shorten(text: &str) -> String {
    shorten_to(text, 60)
}

/// At most `limit` (> 3) characters of `text`, `...` marking a cut.
pub fn shorten_to(text: &str, limit: usize) -> String {
    ledger_app::input::text::clip(text, limit, limit - 3, "...")
}

/// A date parameter: `YYYY-MM-DD`, or an RFC 3339 date-time (`2025-01-31T00:00:00Z`,
/// `2021-05-05T00:00:00.0000000Z`) of which only the date counts.
pub fn date_param(query: &Query, name: &str, display: &str) -> Result<Option<Date>, ApiError> {
    match query.get(name)? {
        None => Ok(None),
        Some(text) => parse_date_or_datetime(text).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidDate",
                format!(
                    "{display} '{}' is not a date: expected YYYY-MM-DD (a real calendar day) or an RFC 3339 date-time such as 2025-01-31T00:00:00Z",
                    shorten(text)
                ),
            )
        }),
    }
}

/// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339, `T` and `Z` in
/// either case), exactly; the date part must be a real calendar day.
pub fn parse_date_or_datetime(text: &str) -> Option<Date> {
    if !text.is_ascii() || text.len() < 10 {
        return None;
    }
    let date = Date::parse(&text[..10]).ok()?;
    let rest = &text.as_bytes()[10..];
    if rest.is_empty() {
        return Some(date);
    }
    let two = |b: &[u8], at: usize| -> Option<u32> {
        let (h, l) = (*b.get(at)?, *b.get(at + 1)?);
        (h.is_ascii_digit() && l.is_ascii_digit()).then(|| ((h - b'0') * 10 + (l - b'0')) as u32)
    };
    // "T" HH ":" MM ":" SS
    if !matches!(rest[0], b'T' | b't') || rest.len() < 9 || rest[3] != b':' || rest[6] != b':' {
        return None;
    }
    let (hour, minute, second) = (two(rest, 1)?, two(rest, 4)?, two(rest, 7)?);
    let leap_second_ok = second < 60 || (second == 60 && hour == 23 && minute == 59);
    if hour > 23 || minute > 59 || !leap_second_ok {
        return None;
    }
    let mut at = 9;
    if rest.get(at) == Some(&b'.') {
        let digits = rest[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        at += 1 + digits;
    }
    match rest.get(at)? {
        b'Z' | b'z' if at + 1 == rest.len() => Some(date),
        b'+' | b'-' if at + 6 == rest.len() && rest[at + 3] == b':' => {
            let (oh, om) = (two(rest, at + 1)?, two(rest, at + 4)?);
            (oh <= 23 && om <= 59).then_some(date)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_date(text: &str, expected: Option<&str>) {
        assert_eq!(
            parse_date_or_datetime(text)
                .map(|d| d.to_string())
                .as_deref(),
            expected,
            "{text:?}"
        );
    }

    #[test]
    fn dates_and_datetimes() {
        check_date("2025-01-31", Some("2025-01-31"));
        check_date("2025-01-31T00:00:00Z", Some("2025-01-31"));
        check_date("2021-05-05T00:00:00.0000000Z", Some("2021-05-05"));
        check_date("2021-05-05t23:59:59.5+05:30", Some("2021-05-05"));
        check_date("2021-05-05T23:59:60z", Some("2021-05-05"));
        check_date("2025-02-30", None);
        check_date("2025-1-31", None);
        check_date("2025-01-31T", None);
        check_date("2025-01-31T00:00:00", None);
        check_date("2025-01-31T24:00:00Z", None);
        check_date("2025-01-31T12:00:60Z", None);
        check_date("2025-01-31T00:00:00.Z", None);
        check_date("2025-01-31T00:00:00+0530", None);
        check_date("2025-01-31 00:00:00Z", None);
        check_date("２０２５-01-31", None);
        check_date("", None);
    }

    #[test]
    fn api_versions() {
        for good in ["2021-05-01", "2024-08-01", "2023-11-01-preview"] {
            assert!(is_api_version(good), "{good}");
        }
        for bad in [
            "",
            "2021-05",
            "2021-05-01-",
            "2021-05-01-pre1",
            "v1",
            "2021/05/01",
            "2021-05-01 ",
        ] {
            assert!(!is_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn duplicate_parameters_are_refused_case_insensitively() {
        let q = Query::parse(Some("api-version=2021-05-01&API-VERSION=2021-05-01"));
        assert_eq!(
            q.get("api-version").unwrap_err().code,
            "InvalidQueryParameter"
        );
        let q = Query::parse(Some("%24filter=source+eq+%27x%27&startDate=2025-01-01"));
        assert_eq!(q.get("$filter").unwrap(), Some("source eq 'x'"));
        assert_eq!(q.get("startdate").unwrap(), Some("2025-01-01"));
        assert_eq!(q.get("enddate").unwrap(), None);
    }
}
