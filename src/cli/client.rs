//! `civitas client`: registering and managing relying-party apps.

use clap::Subcommand;

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::domain::client::SubjectType;
use crate::oidc::clients::{self, NewClient};
use crate::oidc::signing::Alg;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register an app; prints {client_id, client_secret} as JSON.
    Create {
        /// The app's name, shown to citizens on the consent page.
        #[arg(long)]
        name: String,
        /// Where Civitas may send the browser back (exact match; repeat).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where the app may send the browser after sign-out (repeat).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (native or single-page app): no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// `pairwise` (a different sub per app, the default) or `public`.
        #[arg(long, default_value = "pairwise")]
        subject_type: String,
        /// A scope beyond openid, profile, address, age, offline_access (repeat).
        #[arg(long = "allow-scope")]
        allow_scopes: Vec<String>,
        /// ID token signing algorithm: RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        id_token_alg: String,
        /// This app is a resource server that may introspect the tokens of
        /// the app CLIENT_ID (repeat).
        #[arg(long = "introspection-of", value_name = "CLIENT_ID")]
        introspection_of: Vec<String>,
    },
    /// Change an app. Each option given replaces what the app had.
    Update {
        client_id: String,
        /// The apps whose tokens this app may introspect (repeat; give it
        /// once with an empty value to allow none).
        #[arg(long = "introspection-of", value_name = "CLIENT_ID")]
        introspection_of: Vec<String>,
    },
    /// List every app as JSON lines.
    List,
    /// Show one app as JSON.
    Show { client_id: String },
    /// Disable an app: it can no longer sign anyone in.
    Disable { client_id: String },
    /// Give a confidential app a new secret; the old one stops working.
    RotateSecret { client_id: String },
}

pub(super) async fn run(store: &Store, command: ClientCommand) -> anyhow::Result<()> {
    let found = |c: Option<crate::domain::client::Client>, id: &str| {
        c.ok_or_else(|| anyhow::anyhow!("no client {id}"))
    };
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            subject_type,
            allow_scopes,
            id_token_alg,
            introspection_of,
        } => {
            let introspection_of = existing_clients(store, introspection_of).await?;
            let subject_type = SubjectType::parse(&subject_type)
                .ok_or_else(|| anyhow::anyhow!("--subject-type must be pairwise or public"))?;
            let id_token_alg = Alg::parse(&id_token_alg)
                .ok_or_else(|| anyhow::anyhow!("--id-token-alg must be RS256, ES256 or EdDSA"))?;
            let new = NewClient {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                subject_type,
                extra_scopes: allow_scopes,
                id_token_alg,
            };
            let now = Clock::System.unix();
            let details = serde_json::json!({
                "name": new.name,
                "redirect_uris": new.redirect_uris,
                "public": new.public,
                "subject_type": subject_type.as_str(),
            });
            let created = clients::create(store, new, now).await?;
            store
                .set_introspection_targets(&created.client_id, &introspection_of)
                .await?;
            let mut details = details;
            details["introspection_of"] = serde_json::json!(introspection_of);
            audit_client(store, "client.create", &created.client_id, details).await?;
            println!("{}", serde_json::to_string(&created)?);
        }
        ClientCommand::Update {
            client_id,
            introspection_of,
        } => {
            found(store.find_client(&client_id).await?, &client_id)?;
            let introspection_of = existing_clients(store, introspection_of).await?;
            store
                .set_introspection_targets(&client_id, &introspection_of)
                .await?;
            audit_client(
                store,
                "client.update",
                &client_id,
                serde_json::json!({ "introspection_of": introspection_of }),
            )
            .await?;
            println!("client {client_id} updated");
        }
        ClientCommand::List => {
            for c in store.list_clients().await? {
                println!("{}", clients::describe(&c));
            }
        }
        ClientCommand::Show { client_id } => {
            let c = found(store.find_client(&client_id).await?, &client_id)?;
            let mut shown = clients::describe(&c);
            shown["introspection_of"] =
                serde_json::json!(store.introspection_targets(&client_id).await?);
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        ClientCommand::Disable { client_id } => {
            if !store.set_client_disabled(&client_id, true).await? {
                anyhow::bail!("no client {client_id}");
            }
            audit_client(store, "client.disable", &client_id, serde_json::json!({})).await?;
            println!("client {client_id} disabled");
        }
        ClientCommand::RotateSecret { client_id } => {
            let created = clients::rotate_secret(store, &client_id).await?;
            audit_client(
                store,
                "client.rotate_secret",
                &client_id,
                serde_json::json!({}),
            )
            .await?;
            println!("{}", serde_json::to_string(&created)?);
        }
    }
    Ok(())
}

async fn audit_client(
    store: &Store,
    action: &'static str,
    client_id: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    store
        .append_audit(&AuditEvent::new(
            audit::cli_actor(),
            action,
            format!("client:{client_id}"),
            details,
            Clock::System.unix(),
        ))
        .await?;
    Ok(())
}

/// The client ids given, each an app that exists (an empty value means
/// none).
async fn existing_clients(store: &Store, ids: Vec<String>) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for id in ids.into_iter().filter(|id| !id.is_empty()) {
        if store.find_client(&id).await?.is_none() {
            anyhow::bail!("--introspection-of {id}: no such client");
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}
