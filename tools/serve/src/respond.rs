//! What every read handler shares: the request's context (who asks, from where, as of which
//! projections), JSON responses, the billing account a path names, and paged lists.

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_app::replay::Projections;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::access::Caller;
use super::error::ApiError;
use super::paging::{self, next_link, PageRequest, PageStart};
use super::params::{shorten, Query};
use super::state::AppState;

/// One request, as the handlers see it.
pub struct Context<'a> {
    pub state: &'a Arc<AppState>,
    pub caller: Caller,
    pub query: Query,
    /// `http://host:port`, for absolute `nextLink`s.
    pub origin: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
}

impl Context<'_> {
    /// The projections of this request: the current ones.
    pub fn current(&self) -> Arc<Projections> {
        self.state.current()
    }

    /// The billing accounts this caller may read, in order.
    pub fn readable<'p>(&self, p: &'p Projections) -> Vec<&'p str> {
        p.ledger
            .accounts
            .keys()
            .map(String::as_str)
            .filter(|a| self.caller.may_read(a))
            .collect()
    }

    /// The billing account a path names: exactly, else the one account equal but for ASCII
    /// case; only among the accounts this caller may read, so that any other is answered as
    /// one the ledger does not have.
    pub fn account<'p>(&self, p: &'p Projections, requested: &str) -> Result<&'p str, ApiError> {
        let readable = self.readable(p);
        if let Some(name) = readable.iter().find(|a| **a == requested) {
            return Ok(name);
        }
        let mut folded = readable
            .iter()
            .filter(|a| a.eq_ignore_ascii_case(requested));
        if let (Some(only), None) = (folded.next(), folded.next()) {
            return Ok(only);
        }
        let known: Vec<&str> = readable.iter().take(10).copied().collect();
        Err(ApiError::not_found(
            "BillingAccountNotFound",
            if known.is_empty() {
                format!("billing account '{}' is not in this ledger: it has no accounts yet (record an agreement first)", shorten(requested))
            } else {
                format!(
                    "billing account '{}' is not in this ledger; it has: {}",
                    shorten(requested),
                    known.join(", ")
                )
            },
        ))
    }
}

/// `http://` + the Host header when it is a plain `host[:port]`, else the listening address.
pub fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
    format!("http://{}", host.unwrap_or(&state.local_authority))
}

/// A JSON response, echoing `api-version` when the request gave one.
pub fn json_response(status: StatusCode, body: Vec<u8>, api_version: Option<&str>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(version) = api_version.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert("api-version", version);
    }
    response
}

pub fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("cannot write the response: {e}")))
}

/// 200 with `value` as JSON.
pub fn ok_json<T: Serialize>(value: &T, api_version: Option<&str>) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, to_json(value)?, api_version))
}

/// `{"value": [...], "nextLink": "..."}` (`nextLink` only when there is a next page).
pub struct Page<T> {
    pub value: Vec<T>,
    pub next_link: Option<String>,
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("value", &self.value)?;
        if let Some(link) = &self.next_link {
            map.serialize_entry("nextLink", link)?;
        }
        map.end()
    }
}

/// A paged listing: the projections it answers from (the log position its first page began
/// at) and which page.
pub struct Listing {
    pub page: PageRequest,
    pub projections: Arc<Projections>,
}

impl Listing {
    /// The page a request asks for, and the projections of its listing (410 when they are
    /// no longer kept).
    pub fn of(cx: &Context<'_>) -> Result<Listing, ApiError> {
        let page = PageRequest::from_query(&cx.query, cx.state.page_size)?;
        let projections = match page.start {
            None => cx.current(),
            Some(start) => cx
                .state
                .at_position(start.position)
                .ok_or_else(|| paging::expired(start))?,
        };
        Ok(Listing { page, projections })
    }

    /// This page of `items` (serialized by `item`), with a `nextLink` that keeps the request's
    /// parameters named in `keep` and pins this listing's projections.
    pub fn respond<'r, R, T: Serialize>(
        &self,
        cx: &Context<'_>,
        keep: &[(&str, &str)],
        items: &'r [R],
        item: impl Fn(&'r R) -> T,
        api_version: Option<&str>,
    ) -> Result<Response, ApiError> {
        let (window, next) = self.page.window(items.len());
        let next_link = next.map(|offset| {
            cx.state.pin(&self.projections);
            next_link(
                &cx.origin,
                &cx.path,
                &cx.query,
                keep,
                PageStart {
                    position: self.projections.next_seq,
                    offset,
                },
            )
        });
        let body = Page {
            value: items[window].iter().map(item).collect(),
            next_link,
        };
        ok_json(&body, api_version)
    }
}
