//! Registering and managing relying parties (used by the CLI).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::client::{
    Client, RESTRICTED_SCOPES, STANDARD_SCOPES, SubjectType, parse_redirect_uri,
};
use crate::oidc::signing::Alg;
use crate::secrets::{hash_secret, new_secret};
use crate::store::Store;

/// What `civitas client create` asks for.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub subject_type: SubjectType,
    pub extra_scopes: Vec<String>,
    pub id_token_alg: Alg,
}

/// A client and, when confidential, its secret (shown once).
#[derive(Debug, serde::Serialize)]
pub struct Created {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// A random client id (128 bits, base64url) that does not start with `-`,
/// so it can be passed to command-line tools as an argument.
fn new_client_id() -> String {
    loop {
        let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn check_uris(uris: &[String], what: &str) -> anyhow::Result<()> {
    for uri in uris {
        parse_redirect_uri(uri).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    }
    Ok(())
}

/// Validates and stores a new client; the secret is stored only as a hash.
pub async fn create(store: &Store, new: NewClient, now: i64) -> anyhow::Result<Created> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        bail!("--name must have 1 to 100 characters");
    }
    if new.redirect_uris.is_empty() {
        bail!("at least one --redirect-uri is needed");
    }
    check_uris(&new.redirect_uris, "--redirect-uri")?;
    check_uris(&new.post_logout_redirect_uris, "--post-logout-redirect-uri")?;
    for scope in &new.extra_scopes {
        if !RESTRICTED_SCOPES.contains(&scope.as_str())
            && !STANDARD_SCOPES.contains(&scope.as_str())
        {
            bail!(
                "--allow-scope {scope}: Civitas has no such scope (known: {}, {})",
                STANDARD_SCOPES.join(", "),
                RESTRICTED_SCOPES.join(", ")
            );
        }
    }
    let hosts: std::collections::BTreeSet<_> = new
        .redirect_uris
        .iter()
        .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_string))
        .collect();
    if new.subject_type == SubjectType::Pairwise && hosts.len() > 1 {
        bail!(
            "pairwise subjects need every --redirect-uri on one host (one sector); found {hosts:?}"
        );
    }
    let client_id = new_client_id();
    let (secret, secret_hash) = if new.public {
        (None, None)
    } else {
        let (secret, hash) = new_secret();
        (Some(secret), Some(hash))
    };
    let client = Client {
        id: client_id.clone(),
        name,
        secret_hash,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        subject_type: new.subject_type,
        extra_scopes: new.extra_scopes,
        id_token_alg: new.id_token_alg.as_str().to_string(),
        disabled: false,
        created_at: now,
    };
    store
        .insert_client(&client)
        .await
        .context("cannot store the client")?;
    Ok(Created {
        client_id,
        client_secret: secret,
    })
}

/// A new secret for a confidential client; the old one stops working.
pub async fn rotate_secret(store: &Store, client_id: &str) -> anyhow::Result<Created> {
    let (secret, hash) = new_secret();
    if !store.set_client_secret_hash(client_id, &hash).await? {
        bail!("no confidential client {client_id}");
    }
    Ok(Created {
        client_id: client_id.to_string(),
        client_secret: Some(secret),
    })
}

/// True when `presented` is the client's secret (compared in constant time).
pub fn secret_matches(client: &Client, presented: &str) -> bool {
    match &client.secret_hash {
        Some(stored) => {
            use subtle::ConstantTimeEq;
            bool::from(stored.as_bytes().ct_eq(hash_secret(presented).as_bytes()))
        }
        None => false,
    }
}

/// The client as JSON for `client show|list` (never the secret hash).
pub fn describe(client: &Client) -> serde_json::Value {
    serde_json::json!({
        "client_id": client.id,
        "name": client.name,
        "type": if client.is_public() { "public" } else { "confidential" },
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "subject_type": client.subject_type.as_str(),
        "extra_scopes": client.extra_scopes,
        "id_token_alg": client.id_token_alg,
        "disabled": client.disabled,
        "created_at": client.created_at,
    })
}
