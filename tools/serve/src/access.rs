//! Who may read and write what: `--token` (one token for everything) and `--tokens FILE`
//! (tokens per customer, each with the billing accounts it may read, and write with
//! `--allow-writes`).
//!
//! ```toml
//! [[token]]
//! name = "contoso-portal"   # optional: named in the request log
//! token = "c0nt0s0-…"       # visible ASCII, not blank, unique
//! accounts = ["contoso"]    # or ["*"]: every account
//! writes = true             # optional (default false): POST agreements and charges for them
//! ```
//!
//! An account a token may not read is answered exactly as an account the ledger does not
//! have (404 `BillingAccountNotFound`, lists that leave it out), so a token learns nothing of
//! the others. Tokens are compared in constant time; the file is read once, at start.

use std::collections::BTreeSet;
use std::path::Path;

use axum::http::{header, HeaderMap, StatusCode};
use serde::Deserialize;

use super::error::ApiError;

/// The accounts a grant covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accounts {
    All,
    Only(BTreeSet<String>),
}

/// What one token may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// For the request log.
    pub name: Option<String>,
    token: Vec<u8>,
    accounts: Accounts,
    writes: bool,
}

/// Who a request comes from, once its token is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: Option<String>,
    accounts: Accounts,
    writes: bool,
}

impl Caller {
    /// No token is required: everything is open (writes still need `--allow-writes`).
    pub fn anyone() -> Caller {
        Caller {
            name: None,
            accounts: Accounts::All,
            writes: true,
        }
    }

    pub fn may_read(&self, account: &str) -> bool {
        match &self.accounts {
            Accounts::All => true,
            Accounts::Only(set) => set.contains(account),
        }
    }

    pub fn may_write(&self, account: &str) -> bool {
        self.writes && self.may_read(account)
    }

    /// Whether it may write at all.
    pub fn writes(&self) -> bool {
        self.writes
    }

    /// Whether it reads every account.
    pub fn reads_all(&self) -> bool {
        self.accounts == Accounts::All
    }
}

/// The tokens a server accepts; empty: none is required.
#[derive(Clone, Debug, Default)]
pub struct Access {
    grants: Vec<Grant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    token: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: Option<String>,
    token: String,
    accounts: Vec<String>,
    #[serde(default)]
    writes: bool,
}

/// A token's text must travel in an HTTP header and protect something: visible ASCII, not
/// blank. `what` names it in the message.
pub fn check_token_text(token: &str, what: &str) -> Result<(), String> {
    if token.trim().is_empty() {
        return Err(format!(
            "{what} is empty or only whitespace; give a real token"
        ));
    }
    if let Some(bad) = token.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{what} contains {bad:?}; a token is sent in an HTTP header: use visible ASCII characters only (no spaces or control characters)"
        ));
    }
    Ok(())
}

impl Access {
    /// `--token` (every account) and `--tokens FILE`.
    pub fn new(token: Option<&str>, tokens_file: Option<&Path>) -> Result<Access, String> {
        let mut access = Access::default();
        if let Some(token) = token {
            check_token_text(token, "--token (or LEDGER_TOKEN)")?;
            access.grants.push(Grant {
                name: None,
                token: token.as_bytes().to_vec(),
                accounts: Accounts::All,
                writes: true,
            });
        }
        if let Some(file) = tokens_file {
            access.read_file(file)?;
        }
        Ok(access)
    }

    /// Whether a token is required.
    pub fn required(&self) -> bool {
        !self.grants.is_empty()
    }

    fn read_file(&mut self, file: &Path) -> Result<(), String> {
        let shown = file.display();
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--tokens {shown}: cannot read: {e}"))?;
        let parsed: TokensFile = toml::from_str(&text).map_err(|e| {
            format!(
                "--tokens {shown}: {}; expected [[token]] tables with token, accounts, and optionally name and writes",
                e.to_string().trim_end()
            )
        })?;
        if parsed.token.is_empty() {
            return Err(format!("--tokens {shown}: no [[token]] in the file"));
        }
        for (i, entry) in parsed.token.into_iter().enumerate() {
            let at = format!("--tokens {shown}: token {}", i + 1);
            check_token_text(&entry.token, &at)?;
            if self
                .grants
                .iter()
                .any(|g| g.token == entry.token.as_bytes())
            {
                return Err(format!("{at}: the same token is given twice"));
            }
            let accounts = match entry.accounts.as_slice() {
                [] => return Err(format!("{at}: accounts is empty; list the accounts it may read, or [\"*\"] for every one")),
                [all] if all == "*" => Accounts::All,
                names if names.iter().any(|n| n == "*") => {
                    return Err(format!("{at}: \"*\" (every account) cannot be listed with other accounts"))
                }
                names if names.iter().any(|n| n.trim().is_empty()) => {
                    return Err(format!("{at}: an account name is blank"))
                }
                names => Accounts::Only(names.iter().cloned().collect()),
            };
            self.grants.push(Grant {
                name: entry.name,
                token: entry.token.into_bytes(),
                accounts,
                writes: entry.writes,
            });
        }
        Ok(())
    }

    /// The caller of a request: anyone when no token is required, else the holder of the
    /// bearer token presented (401 otherwise).
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.grants.is_empty() {
            return Ok(Caller::anyone());
        }
        let unauthorized =
            |code, message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing; send Authorization: Bearer <token>."));
        };
        let given = value.as_bytes();
        let presented = match given.iter().position(|&b| b == b' ') {
            Some(space) if given[..space].eq_ignore_ascii_case(b"bearer") => {
                given[space + 1..].trim_ascii()
            }
            _ => return Err(unauthorized(
                "InvalidAuthenticationToken",
                "The 'Authorization' header is not a bearer token; send Authorization: Bearer <token>.",
            )),
        };
        // Every grant is compared, each in constant time, so the time taken does not tell
        // which token came close.
        let mut found = None;
        for grant in &self.grants {
            if constant_time_eq(presented, &grant.token) && found.is_none() {
                found = Some(grant);
            }
        }
        let grant = found.ok_or_else(|| {
            unauthorized("InvalidAuthenticationToken", "The access token is invalid.")
        })?;
        Ok(Caller {
            name: grant.name.clone(),
            accounts: grant.accounts.clone(),
            writes: grant.writes,
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn a_tokens_file_grants_accounts() {
        let (_dir, path) = file(
            "[[token]]\nname = \"c\"\ntoken = \"tok-c\"\naccounts = [\"contoso\"]\n\n\
             [[token]]\ntoken = \"tok-all\"\naccounts = [\"*\"]\nwrites = true\n",
        );
        let access = Access::new(None, Some(&path)).unwrap();
        let c = access.caller(&bearer("tok-c")).unwrap();
        assert_eq!(c.name.as_deref(), Some("c"));
        assert!(c.may_read("contoso") && !c.may_read("fabrikam") && !c.may_read("Contoso"));
        assert!(!c.may_write("contoso"));
        let all = access.caller(&bearer("tok-all")).unwrap();
        assert!(all.may_read("fabrikam") && all.may_write("fabrikam") && all.reads_all());
        assert_eq!(
            access.caller(&bearer("tok-x")).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            access.caller(&HeaderMap::new()).unwrap_err().code,
            "AuthenticationFailed"
        );
        assert!(Access::default()
            .caller(&HeaderMap::new())
            .unwrap()
            .reads_all());
    }

    #[test]
    fn bad_tokens_files_are_refused() {
        for (text, expected) in [
            ("", "missing field"),
            ("[[token]]\ntoken = \"a\"\naccounts = []\n", "accounts is empty"),
            ("[[token]]\ntoken = \"  \"\naccounts = [\"a\"]\n", "empty or only whitespace"),
            ("[[token]]\ntoken = \"a b\"\naccounts = [\"a\"]\n", "visible ASCII"),
            ("[[token]]\ntoken = \"a\"\naccounts = [\"*\", \"b\"]\n", "cannot be listed"),
            ("[[token]]\ntoken = \"a\"\naccounts = [\"x\"]\n[[token]]\ntoken = \"a\"\naccounts = [\"y\"]\n", "twice"),
            ("[[token]]\ntoken = \"a\"\naccounts = [\"x\"]\nwrite = true\n", "unknown field"),
            ("[[token]]\ntoken = \"a\"\n", "missing field"),
        ] {
            let (_dir, path) = file(text);
            let message = Access::new(None, Some(&path)).unwrap_err();
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(message.starts_with("--tokens "), "{message}");
        }
    }
}
