//! One-time invitations to a staff role, valid 24 hours, and taking a role
//! away. The token travels in the URL fragment, so it never reaches access
//! logs; only its hash is stored. An invitation may name the one citizen
//! who can accept it; the admin and registrar roles go only to citizens
//! verified to level 2, except through the bootstrap invitation that makes
//! the first administrator (one is live at a time).

use crate::audit::AuditEvent;
use crate::domain::{AssuranceLevel, Citizen, NationalId, RegionCode};
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::{InvitationRow, Store, StoreError};

use super::{Role, audit_name};

/// How long an invitation can be used.
pub const VALID_FOR: i64 = 24 * 3600;

/// A new invitation: where to send the invitee, and until when.
#[derive(Debug, serde::Serialize)]
pub struct Invitation {
    pub url: String,
    pub role: Role,
    pub regions: Vec<String>,
    /// The national ID of the one citizen who may accept it, if named.
    pub for_national_id: Option<String>,
    pub expires_at: i64,
}

/// What an invitation offers.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    pub role: Role,
    /// Registrars: the regions they will cover.
    pub regions: &'a [String],
    /// The national ID of the one citizen who may accept it.
    pub for_national_id: Option<&'a str>,
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
    #[error("no citizen has the national ID {0:?}")]
    UnknownCitizen(String),
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
            InvitationError::UnknownCitizen(_) => {
                AppError::bad_request("unknown_citizen", format!("{e}."))
            }
            other => AppError::bad_request("invalid_regions", format!("{other}.")),
        }
    }
}

/// Creates an invitation to `offer`, recorded in the audit log as made by
/// `actor`. An admin invitation made while nobody holds the admin role is a
/// bootstrap invitation, and replaces any earlier one still live.
pub async fn create(
    store: &Store,
    issuer: &str,
    offer: Offer<'_>,
    actor: String,
    now: i64,
) -> Result<Invitation, InvitationError> {
    let role = offer.role;
    let mut codes = Vec::new();
    for r in offer.regions {
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
    let for_national_id = match offer.for_national_id {
        Some(text) => {
            let unknown = || InvitationError::UnknownCitizen(text.to_string());
            let nid = NationalId::parse(text).map_err(|_| unknown())?;
            store
                .find_citizen_by_national_id(&nid)
                .await?
                .ok_or_else(unknown)?;
            Some(nid.as_digits().to_string())
        }
        None => None,
    };
    let bootstrap = role == Role::Admin && !store.role_held(Role::Admin.as_str()).await?;
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
        for_national_id: for_national_id.clone(),
        bootstrap,
    };
    let event = AuditEvent::new(
        actor,
        "staff.invite",
        format!("role:{}", role.as_str()),
        serde_json::json!({
            "role": role.as_str(),
            "regions": codes,
            "for": for_national_id,
            "bootstrap": bootstrap,
            "expires_at": row.expires_at,
        }),
        now,
    );
    let mut tx = store.begin().await?;
    if bootstrap {
        tx.expire_bootstrap_invitations(now).await?;
    }
    tx.insert_invitation(&row).await?;
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(Invitation {
        url: format!("{issuer}/staff/invitation#{token}"),
        role,
        regions: codes,
        for_national_id,
        expires_at: row.expires_at,
    })
}

/// What start-up found about the first administrator.
#[derive(Debug)]
pub enum Bootstrap {
    /// Someone holds the admin role: nothing to do.
    AdminExists,
    /// A bootstrap invitation printed earlier is live until then.
    Live { expires_at: i64 },
    /// A new bootstrap invitation.
    Created(Invitation),
}

/// An admin invitation when nobody holds the admin role yet (first start),
/// unless one is live already: every start of every instance must not
/// print another working link.
pub async fn bootstrap(
    store: &Store,
    issuer: &str,
    now: i64,
) -> Result<Bootstrap, InvitationError> {
    if store.role_held(Role::Admin.as_str()).await? {
        return Ok(Bootstrap::AdminExists);
    }
    if let Some(expires_at) = store.live_bootstrap_invitation(now).await? {
        return Ok(Bootstrap::Live { expires_at });
    }
    let offer = Offer {
        role: Role::Admin,
        regions: &[],
        for_national_id: None,
    };
    create(store, issuer, offer, "system".to_string(), now)
        .await
        .map(Bootstrap::Created)
}

/// Grants the invitation's role to `citizen`. A token works once, within
/// 24 hours, for the citizen it names (if any); the admin and registrar
/// roles need a level-2 citizen unless the invitation is the bootstrap one.
pub async fn accept(
    store: &Store,
    token: &str,
    citizen: &Citizen,
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
        .filter(|inv| inv.used_at.is_none() && inv.expires_at > now)
        .ok_or_else(unusable)?;
    let role = Role::parse(&inv.role)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("stored role {:?}", inv.role)))?;
    if inv
        .for_national_id
        .as_deref()
        .is_some_and(|nid| nid != citizen.national_id.as_digits())
    {
        return Err(AppError::forbidden(
            "invitation_for_someone_else",
            "This invitation names another person. Ask an administrator for an invitation in \
             your name.",
        ));
    }
    if matches!(role, Role::Admin | Role::Registrar)
        && !inv.bootstrap
        && citizen.assurance_level != AssuranceLevel::Verified
    {
        return Err(AppError::forbidden(
            "verification_required",
            "The admin and registrar roles need an identity verified to level 2 (by a \
             registrar, or by enrolling with a register letter). Have your identity verified, \
             then open the invitation again.",
        ));
    }
    let actor = audit_name(citizen);
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
    let Some((role_name, regions)) = tx.use_invitation(&token_hash, citizen.id, now).await? else {
        return Err(unusable());
    };
    let codes: Vec<&str> = if regions.is_empty() {
        vec![""]
    } else {
        regions.split(',').collect()
    };
    for code in codes {
        tx.grant_role(citizen.id, &role_name, code, now).await?;
    }
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(role)
}

/// Why a role cannot be taken away.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("no citizen has the national ID {0:?}")]
    UnknownCitizen(String),
    #[error("this citizen does not hold that role")]
    NotHeld,
    #[error("there is no region with the code {0:?}")]
    UnknownRegion(String),
    #[error("this is the last administrator; invite another one first")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RevokeError> for AppError {
    fn from(e: RevokeError) -> Self {
        match e {
            RevokeError::Store(e) => e.into(),
            RevokeError::UnknownCitizen(_) => AppError::not_found(format!("{e}.")),
            RevokeError::UnknownRegion(_) => {
                AppError::bad_request("unknown_region", format!("{e}."))
            }
            RevokeError::NotHeld => {
                AppError::not_found("This citizen does not hold that role (in that region).")
            }
            RevokeError::LastAdmin => AppError::conflict(
                "last_admin",
                "This is the last administrator. Invite another administrator before taking \
                 this role away, or nobody could manage Civitas.",
            ),
        }
    }
}

/// Takes `role` (for registrars, one region, or all with `None`) away from
/// the citizen with `national_id`, audited as done by `actor`; never the
/// last administrator.
pub async fn revoke(
    store: &Store,
    national_id: &str,
    role: Role,
    region: Option<&str>,
    actor: String,
    now: i64,
) -> Result<(), RevokeError> {
    if let Some(r) = region
        && RegionCode::parse(r).is_err()
    {
        return Err(RevokeError::UnknownRegion(r.to_string()));
    }
    let unknown = || RevokeError::UnknownCitizen(national_id.to_string());
    let nid = NationalId::parse(national_id).map_err(|_| unknown())?;
    let citizen = store
        .find_citizen_by_national_id(&nid)
        .await?
        .ok_or_else(unknown)?;
    let mut tx = store.begin_write().await?;
    let holders = tx.lock_role_holders(role.as_str()).await?;
    if role == Role::Admin && holders == [citizen.id] {
        return Err(RevokeError::LastAdmin);
    }
    if tx.revoke_role(citizen.id, role.as_str(), region).await? == 0 {
        return Err(RevokeError::NotHeld);
    }
    tx.append_audit(&AuditEvent::new(
        actor,
        "staff.role_revoked",
        audit_name(&citizen),
        serde_json::json!({ "role": role.as_str(), "region": region }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}
