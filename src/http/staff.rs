//! Staff JSON API: accepting an invitation, and the administrators'
//! invitations and staff list.

use actix_web::{HttpResponse, web};

use super::AppState;
use super::roles::{Acting, Admin, Staffer};
use crate::error::AppError;
use crate::staff::Role;
use crate::staff::invitations::{self, Offer};
use crate::store::SignedIn;

#[derive(serde::Deserialize)]
pub struct Accept {
    token: String,
}

/// `POST /api/v1/staff/invitations/accept`: the signed-in citizen takes the
/// role an invitation offers.
pub async fn accept_invitation(
    state: web::Data<AppState>,
    body: web::Json<Accept>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let role =
        invitations::accept(&state.store, &body.token, &who.citizen, state.clock.unix()).await?;
    let roles = state.store.roles_of(who.citizen.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "role": role,
            "roles": roles_json(&roles),
        })))
}

fn roles_json(roles: &[crate::store::RoleRow]) -> Vec<serde_json::Value> {
    roles
        .iter()
        .map(|r| {
            serde_json::json!({
                "role": r.role,
                "region": if r.region_code.is_empty() { None } else { Some(&r.region_code) },
            })
        })
        .collect()
}

/// `GET /api/v1/staff/me`: the roles of whoever is signed in.
pub async fn my_roles(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, AppError> {
    let roles = state.store.roles_of(who.citizen.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "roles": roles_json(&roles) })))
}

#[derive(serde::Deserialize)]
pub struct NewInvitation {
    role: String,
    #[serde(default)]
    regions: Vec<String>,
    /// The national ID of the one citizen who may accept it.
    #[serde(default)]
    for_national_id: Option<String>,
}

/// `POST /api/v1/admin/invitations`: an administrator invites someone to a
/// role. Sensitive: needs a recent passkey sign-in.
pub async fn create_invitation(
    state: web::Data<AppState>,
    body: web::Json<NewInvitation>,
    Acting(admin, _): Acting<Admin>,
) -> Result<HttpResponse, AppError> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        AppError::bad_request(
            "invalid_role",
            "The role must be admin, registrar or auditor.",
        )
    })?;
    let offer = Offer {
        role,
        regions: &body.regions,
        for_national_id: body.for_national_id.as_deref(),
    };
    let invitation = invitations::create(
        &state.store,
        state.settings.issuer.as_str(),
        offer,
        admin.actor(),
        state.clock.unix(),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(invitation))
}

/// `GET /api/v1/admin/staff`: who holds which role.
pub async fn list_staff(
    state: web::Data<AppState>,
    _: Staffer<Admin>,
) -> Result<HttpResponse, AppError> {
    let staff: Vec<serde_json::Value> = state
        .store
        .list_staff()
        .await?
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "national_id": s.national_id,
                "given_name": s.given_name,
                "family_name": s.family_name,
                "role": s.role,
                "region": if s.region_code.is_empty() { None } else { Some(s.region_code) },
                "granted_at": s.granted_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "staff": staff })))
}

#[derive(serde::Deserialize)]
pub struct RoleToRevoke {
    national_id: String,
    role: String,
    /// For a registrar: only this region (without it, every region).
    #[serde(default)]
    region: Option<String>,
}

/// `POST /api/v1/admin/staff/revoke`: an administrator takes a role away
/// (never from the last administrator). Sensitive: needs a recent passkey
/// sign-in.
pub async fn revoke_role(
    state: web::Data<AppState>,
    body: web::Json<RoleToRevoke>,
    Acting(admin, _): Acting<Admin>,
) -> Result<HttpResponse, AppError> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        AppError::bad_request(
            "invalid_role",
            "The role must be admin, registrar or auditor.",
        )
    })?;
    invitations::revoke(
        &state.store,
        &body.national_id,
        role,
        body.region.as_deref().filter(|r| !r.is_empty()),
        admin.actor(),
        state.clock.unix(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
