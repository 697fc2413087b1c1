//! Relying parties ("clients") and the scopes they may ask for.

use std::collections::BTreeSet;
use std::fmt;

/// Scopes every client may ask for.
pub const STANDARD_SCOPES: [&str; 5] = ["openid", "profile", "address", "age", "offline_access"];

/// Scopes only clients allowed explicitly may ask for.
pub const RESTRICTED_SCOPES: [&str; 1] = ["national_id"];

/// A set of scopes, kept sorted so equal sets compare and store equally.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses a space-separated scope string (RFC 6749 §3.3).
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for scope in input.split(' ').filter(|s| !s.is_empty()) {
            if !scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(format!(
                    "scope {scope:?} contains characters a scope may not have"
                ));
            }
            set.insert(scope.to_string());
        }
        Ok(Self(set))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.iter().collect();
        f.write_str(&joined.join(" "))
    }
}

/// How a client's subject identifiers are formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// A different, stable `sub` per sector (the default).
    Pairwise,
    /// The same `sub` at every client that uses `public`.
    Public,
}

impl SubjectType {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pairwise => "pairwise",
            Self::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pairwise" => Some(Self::Pairwise),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// A redirect URI as registered: absolute, no fragment; `http` only for
/// loopback hosts (native apps and local development).
pub fn parse_redirect_uri(input: &str) -> Result<url::Url, String> {
    let url =
        url::Url::parse(input).map_err(|e| format!("{input:?} is not an absolute URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("{input:?} must not contain a fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) => {}
        "http" => {
            return Err(format!(
                "{input:?} must use https (http only for localhost)"
            ));
        }
        _ => return Err(format!("{input:?} must use https")),
    }
    Ok(url)
}

/// A registered relying party.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub subject_type: SubjectType,
    /// Scopes beyond the standard ones this client may ask for.
    pub extra_scopes: Vec<String>,
    pub id_token_alg: String,
    pub disabled: bool,
    pub created_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// True when the client may ask for `scope`.
    pub fn may_request(&self, scope: &str) -> bool {
        STANDARD_SCOPES.contains(&scope) || self.extra_scopes.iter().any(|s| s == scope)
    }

    /// The sector for pairwise subjects: the redirect URIs' host.
    pub fn sector(&self) -> String {
        self.redirect_uris
            .first()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| self.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_are_sorted_and_validated() {
        let a = ScopeSet::parse("profile openid  profile").unwrap();
        assert_eq!(a.to_string(), "openid profile");
        assert!(ScopeSet::parse("openid \"x\"").is_err());
        assert!(ScopeSet::parse("openid").unwrap().is_subset(&a));
    }

    #[test]
    fn redirect_uris() {
        assert!(parse_redirect_uri("https://app.example/cb").is_ok());
        assert!(parse_redirect_uri("http://localhost:9090/callback").is_ok());
        assert!(parse_redirect_uri("http://app.example/cb").is_err());
        assert!(parse_redirect_uri("https://app.example/cb#x").is_err());
        assert!(parse_redirect_uri("/cb").is_err());
    }
}
