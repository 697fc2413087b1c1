//! Registrar desk JSON API: queues, citizen lookup, verification, duplicate
//! resolution and lifecycle changes. Every action needs the registrar role,
//! a citizen of the registrar's regions and a recent passkey sign-in.

use actix_web::{HttpResponse, web};
use serde_json::json;
use uuid::Uuid;

use super::AppState;
use super::roles::{Acting, Registrar, Staffer};
use crate::domain::parse_birth_date;
use crate::error::AppError;
use crate::registry::registrar::{self, Desk, Evidence, Lifecycle, Rebind};
use crate::staff::Staff;

/// Queue pages are short: the desk works oldest first.
const QUEUE_LIMIT: i64 = 100;

fn ok(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

/// The desk of `staff`, acting now.
fn desk<'a>(state: &'a AppState, staff: &'a Staff) -> Desk<'a> {
    Desk {
        store: &state.store,
        staff,
        now: state.clock.unix(),
    }
}

/// `GET /api/v1/registrar/verifications`
pub async fn verification_queue(
    state: web::Data<AppState>,
    Staffer(staff, _): Staffer<Registrar>,
) -> Result<HttpResponse, AppError> {
    let items = state
        .store
        .verification_queue(staff.citizen().id, QUEUE_LIMIT)
        .await?;
    Ok(ok(json!({ "verifications": items })))
}

/// `GET /api/v1/registrar/duplicates`
pub async fn duplicate_queue(
    state: web::Data<AppState>,
    Staffer(staff, _): Staffer<Registrar>,
) -> Result<HttpResponse, AppError> {
    let items = state
        .store
        .duplicate_queue(staff.citizen().id, QUEUE_LIMIT)
        .await?;
    Ok(ok(json!({ "duplicates": items })))
}

async fn citizen_view(
    state: &AppState,
    c: &crate::domain::Citizen,
) -> Result<serde_json::Value, AppError> {
    let proofing: Vec<serde_json::Value> = state
        .store
        .proofing_records(c.id)
        .await?
        .into_iter()
        .map(|(evidence_type, issuing_authority, method, at)| {
            json!({
                "evidence_type": evidence_type,
                "issuing_authority": issuing_authority,
                "method": method,
                "at": at,
            })
        })
        .collect();
    let pending = state.store.open_verification_request(c.id).await?;
    let passkeys: Vec<serde_json::Value> = state
        .store
        .list_passkeys(c.id)
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "created_at": p.created_at,
                "last_used_at": p.last_used_at,
                "disabled_at": p.disabled_at,
            })
        })
        .collect();
    Ok(json!({
        "national_id": c.national_id,
        "given_name": c.given_name,
        "family_name": c.family_name,
        "birth_date": crate::http::iso_date(c.birth_date),
        "region": c.region,
        "status": c.status,
        "assurance_level": c.assurance_level,
        "verification_requested_at": pending,
        "proofing_records": proofing,
        "passkeys": passkeys,
    }))
}

/// `GET /api/v1/registrar/citizens/{national_id}`
pub async fn show_citizen(
    state: web::Data<AppState>,
    path: web::Path<String>,
    Staffer(staff, _): Staffer<Registrar>,
) -> Result<HttpResponse, AppError> {
    let desk = desk(&state, &staff);
    let citizen = desk.citizen_in_scope(&path).await?;
    desk.record_lookup(&citizen).await?;
    Ok(ok(citizen_view(&state, &citizen).await?))
}

/// `POST /api/v1/registrar/citizens/{national_id}/verify`
pub async fn verify(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Evidence>,
    Acting(staff, _): Acting<Registrar>,
) -> Result<HttpResponse, AppError> {
    let desk = desk(&state, &staff);
    let mut citizen = desk.citizen_in_scope(&path).await?;
    desk.verify(&state.registry_keys, &mut citizen, &body)
        .await?;
    Ok(ok(citizen_view(&state, &citizen).await?))
}

/// The body of actions that need only a reason (or a date of death).
#[derive(serde::Deserialize, Default)]
pub struct Reason {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    date_of_death: Option<String>,
}

/// `POST /api/v1/registrar/citizens/{national_id}/reject`
pub async fn reject(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Reason>,
    Acting(staff, _): Acting<Registrar>,
) -> Result<HttpResponse, AppError> {
    let desk = desk(&state, &staff);
    let citizen = desk.citizen_in_scope(&path).await?;
    let reason = registrar::parse_reason(body.reason.as_deref())?;
    desk.reject(&citizen, reason).await?;
    Ok(ok(citizen_view(&state, &citizen).await?))
}

async fn lifecycle(
    state: &AppState,
    staff: &Staff,
    national_id: &str,
    body: &Reason,
    change: Lifecycle,
) -> Result<HttpResponse, AppError> {
    let desk = desk(state, staff);
    let mut citizen = desk.citizen_in_scope(national_id).await?;
    let details = if change == Lifecycle::RecordDeath {
        let date = parse_birth_date(
            body.date_of_death.as_deref().unwrap_or_default(),
            state.clock.now().date(),
        )
        .ok()
        .filter(|d| *d >= citizen.birth_date)
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_date_of_death",
                "Give the date of death as YYYY-MM-DD: not in the future and not before the \
                 date of birth.",
            )
        })?;
        json!({ "date_of_death": crate::http::iso_date(date) })
    } else {
        json!({ "reason": registrar::parse_reason(body.reason.as_deref())? })
    };
    desk.change_status(&mut citizen, change, details).await?;
    Ok(ok(citizen_view(state, &citizen).await?))
}

macro_rules! lifecycle_handler {
    ($name:ident, $change:expr, $doc:literal) => {
        #[doc = $doc]
        pub async fn $name(
            state: web::Data<AppState>,
            path: web::Path<String>,
            body: web::Json<Reason>,
            Acting(staff, _): Acting<Registrar>,
        ) -> Result<HttpResponse, AppError> {
            lifecycle(&state, &staff, &path, &body, $change).await
        }
    };
}

lifecycle_handler!(suspend, Lifecycle::Suspend, "`POST .../suspend`");
lifecycle_handler!(reinstate, Lifecycle::Reinstate, "`POST .../reinstate`");
lifecycle_handler!(revoke, Lifecycle::Revoke, "`POST .../revoke`");
lifecycle_handler!(record_death, Lifecycle::RecordDeath, "`POST .../death`");

fn case_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::not_found("There is no such duplicate case."))
}

#[derive(serde::Deserialize)]
pub struct MergeBody {
    survivor: String,
    /// Passkeys of the revoked record to move, shown in person.
    #[serde(default)]
    rebind: Option<Rebind>,
}

/// `POST /api/v1/registrar/duplicates/{id}/merge`
pub async fn merge(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<MergeBody>,
    Acting(staff, _): Acting<Registrar>,
) -> Result<HttpResponse, AppError> {
    let merged = desk(&state, &staff)
        .merge(
            &state.registry_keys,
            case_id(&path)?,
            &body.survivor,
            body.rebind.as_ref(),
        )
        .await?;
    let mut view = citizen_view(&state, &merged.survivor).await?;
    view["merge"] = json!({
        "passkeys_rebound": merged.rebound,
        "passkeys_revoked": merged.revoked,
    });
    Ok(ok(view))
}

/// `POST /api/v1/registrar/citizens/{national_id}/passkeys/{id}/enable`: a
/// passkey disabled after a counter regression works again.
pub async fn enable_passkey(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<Reason>,
    Acting(staff, _): Acting<Registrar>,
) -> Result<HttpResponse, AppError> {
    let (national_id, passkey) = path.into_inner();
    let desk = desk(&state, &staff);
    let citizen = desk.citizen_in_scope(&national_id).await?;
    let passkey = Uuid::parse_str(&passkey)
        .map_err(|_| AppError::not_found("This citizen has no disabled passkey with this id."))?;
    let reason = registrar::parse_reason(body.reason.as_deref())?;
    desk.enable_passkey(&citizen, passkey, reason).await?;
    Ok(ok(citizen_view(&state, &citizen).await?))
}

/// `POST /api/v1/registrar/register/{register_ref}/unlock`: the activation
/// code of a register row locked after too many wrong dates of birth works
/// again.
pub async fn unlock_code(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Reason>,
    Acting(staff, _): Acting<Registrar>,
) -> Result<HttpResponse, AppError> {
    let reason = registrar::parse_reason(body.reason.as_deref())?;
    desk(&state, &staff).unlock_code(&path, reason).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/registrar/duplicates/{id}/dismiss`
pub async fn dismiss(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Reason>,
    Acting(staff, _): Acting<Registrar>,
) -> Result<HttpResponse, AppError> {
    let reason = registrar::parse_reason(body.reason.as_deref())?;
    desk(&state, &staff)
        .dismiss(case_id(&path)?, reason)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
