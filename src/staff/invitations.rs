//! One-time invitations to a staff role, valid 24 hours. The token travels
//! in the URL fragment, so it never reaches access logs; only its hash is
//! stored.

use crate::audit::AuditEvent;
use crate::domain::{CitizenId, RegionCode};
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::{InvitationRow, Store, StoreError};

use super::Role;

/// How long an invitation can be used.
pub const VALID_FOR: i64 = 24 * 3600;

/// A new invitation: where to send the invitee, and until when.
#[derive(Debug, serde::Serialize)]
pub struct Invitation {
    pub url: String,
    pub role: Role,
    pub regions: Vec<String>,
    pub expires_at: i64,
}

/// Why an invitation cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("a registrar invitation needs at least one region")]
    RegionsRequired,
    #[error("only registrars are scoped to regions; {0} invitations take no region")]
    RegionsNotAllowed(&'static str),
    #[error("there is no region with the code {0:?}")]
    UnknownRegion(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<InvitationError> for AppError {
    fn from(e: InvitationError) -> Self {
        match e {
            InvitationError::Store(e) => e.into(),
            InvitationError::UnknownRegion(_) => {
                AppError::bad_request("unknown_region", format!("{e}."))
            }
            other => AppError::bad_request("invalid_regions", format!("{other}.")),
        }
    }
}

/// Creates an invitation to `role` (registrars: for `regions`), recorded in
/// the audit log as made by `actor`.
pub async fn create(
    store: &Store,
    issuer: &str,
    role: Role,
    regions: &[String],
    actor: String,
    now: i64,
) -> Result<Invitation, InvitationError> {
    let mut codes = Vec::new();
    for r in regions {
        let code =
            RegionCode::parse(r).map_err(|_| InvitationError::UnknownRegion(r.to_string()))?;
        if !store.region_exists(&code).await? {
            return Err(InvitationError::UnknownRegion(r.to_string()));
        }
        if !codes.contains(&code.to_string()) {
            codes.push(code.to_string());
        }
    }
    match role {
        Role::Registrar if codes.is_empty() => return Err(InvitationError::RegionsRequired),
        Role::Admin | Role::Auditor if !codes.is_empty() => {
            return Err(InvitationError::RegionsNotAllowed(role.as_str()));
        }
        _ => {}
    }
    let (token, token_hash) = new_secret();
    let row = InvitationRow {
        token_hash,
        role: role.as_str().to_string(),
        regions: codes.join(","),
        created_by: actor.clone(),
        created_at: now,
        expires_at: now + VALID_FOR,
        used_at: None,
        used_by: None,
    };
    let event = AuditEvent::new(
        actor,
        "staff.invite",
        format!("role:{}", role.as_str()),
        serde_json::json!({ "role": role.as_str(), "regions": codes, "expires_at": row.expires_at }),
        now,
    );
    let mut tx = store.begin().await?;
    tx.insert_invitation(&row).await?;
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(Invitation {
        url: format!("{issuer}/staff/invitation#{token}"),
        role,
        regions: codes,
        expires_at: row.expires_at,
    })
}

/// An admin invitation when nobody holds the admin role yet (first start).
pub async fn bootstrap(
    store: &Store,
    issuer: &str,
    now: i64,
) -> Result<Option<Invitation>, InvitationError> {
    if store.role_held(Role::Admin.as_str()).await? {
        return Ok(None);
    }
    create(store, issuer, Role::Admin, &[], "system".to_string(), now)
        .await
        .map(Some)
}

/// Grants the invitation's role to `citizen` (identified in the log as
/// `actor`). A token works once, within 24 hours.
pub async fn accept(
    store: &Store,
    token: &str,
    citizen: CitizenId,
    actor: String,
    now: i64,
) -> Result<Role, AppError> {
    let unusable = || {
        AppError::bad_request(
            "invitation_unusable",
            "This invitation is not valid: it may have been used already or have expired \
             (invitations last 24 hours). Ask an administrator for a new one.",
        )
    };
    let token_hash = hash_secret(token.trim());
    let inv = store
        .find_invitation(&token_hash)
        .await?
        .ok_or_else(unusable)?;
    let role = Role::parse(&inv.role)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("stored role {:?}", inv.role)))?;
    let event = AuditEvent::new(
        actor.clone(),
        "staff.role_granted",
        actor,
        serde_json::json!({
            "role": inv.role,
            "regions": inv.regions.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
            "invited_by": inv.created_by,
        }),
        now,
    );
    // Used once, and the role granted (one row per region), all or nothing.
    let mut tx = store.begin().await?;
    let Some((role_name, regions)) = tx.use_invitation(&token_hash, citizen, now).await? else {
        return Err(unusable());
    };
    let codes: Vec<&str> = if regions.is_empty() {
        vec![""]
    } else {
        regions.split(',').collect()
    };
    for code in codes {
        tx.grant_role(citizen, &role_name, code, now).await?;
    }
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(role)
}
