//! Staff pages: accepting an invitation, administration, register import,
//! the audit log and the registrar desk. The pages hold no logic of their
//! own: they read through the store and act through the JSON API.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::admin::{AuditQuery, UPLOAD_LIMIT};
use super::iso_date;
use super::pages::{format_time, no_store, render};
use super::roles::{Admin, AuditorOrAdmin, Registrar, StaffPage};
use super::session::MaybeSignedIn;
use crate::error::PageError;
use crate::staff::{Role, Staff};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/staff/invitation", web::get().to(invitation))
        .route("/admin/staff", web::get().to(admin_staff))
        .route("/admin/register", web::get().to(admin_register))
        .route("/admin/audit", web::get().to(admin_audit))
        .route("/registrar", web::get().to(registrar_desk));
}

/// Which staff links the navigation shows.
pub(super) struct Nav {
    pub(super) admin: bool,
    pub(super) registrar: bool,
    pub(super) auditor: bool,
}

impl Nav {
    pub(super) fn of(staff: &Staff) -> Self {
        Self {
            admin: staff.holds(Role::Admin),
            registrar: staff.holds(Role::Registrar),
            auditor: staff.holds(Role::Auditor),
        }
    }
}

#[derive(Template)]
#[template(path = "staff_invitation.html")]
struct Invitation {
    signed_in: bool,
    name: String,
}

async fn invitation(MaybeSignedIn(who): MaybeSignedIn) -> Result<HttpResponse, PageError> {
    no_store(render(&Invitation {
        signed_in: who.is_some(),
        name: who
            .map(|w| {
                format!(
                    "{} {}",
                    w.citizen.given_name.as_str(),
                    w.citizen.family_name.as_str()
                )
            })
            .unwrap_or_default(),
    }))
}

struct StaffItem {
    name: String,
    national_id: String,
    role: String,
    region: String,
    since: String,
}

#[derive(Template)]
#[template(path = "admin_staff.html")]
struct AdminStaff {
    nav: Nav,
    staff: Vec<StaffItem>,
}

async fn admin_staff(
    state: web::Data<AppState>,
    StaffPage(staff, _): StaffPage<Admin>,
) -> Result<HttpResponse, PageError> {
    let rows = state.store.list_staff().await?;
    no_store(render(&AdminStaff {
        nav: Nav::of(&staff),
        staff: rows
            .into_iter()
            .map(|s| StaffItem {
                name: format!("{} {}", s.given_name, s.family_name),
                national_id: s.national_id,
                role: s.role,
                region: s.region_code,
                since: format_time(s.granted_at),
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "admin_register.html")]
struct AdminRegister {
    nav: Nav,
    limit_mib: usize,
}

async fn admin_register(StaffPage(staff, _): StaffPage<Admin>) -> Result<HttpResponse, PageError> {
    no_store(render(&AdminRegister {
        nav: Nav::of(&staff),
        limit_mib: UPLOAD_LIMIT / 1024 / 1024,
    }))
}

struct AuditItem {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AdminAudit {
    nav: Nav,
    actor: String,
    action: String,
    target: String,
    from: String,
    until: String,
    entries: Vec<AuditItem>,
    next_page: Option<String>,
}

#[derive(serde::Deserialize)]
struct AuditPageQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    before_seq: Option<i64>,
}

async fn admin_audit(
    state: web::Data<AppState>,
    query: web::Query<AuditPageQuery>,
    StaffPage(staff, _): StaffPage<AuditorOrAdmin>,
) -> Result<HttpResponse, PageError> {
    let q = query.into_inner();
    let filter = AuditQuery {
        actor: Some(q.actor.clone()),
        action: Some(q.action.clone()),
        target: Some(q.target.clone()),
        from: Some(q.from.clone()),
        until: Some(q.until.clone()),
        before_seq: q.before_seq,
        limit: Some(50),
    }
    .filter()?;
    let entries = state.store.audit_entries(&filter).await?;
    let next_page = (entries.len() as i64 == filter.limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten()
        .map(|seq| {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("actor", &q.actor)
                .append_pair("action", &q.action)
                .append_pair("target", &q.target)
                .append_pair("from", &q.from)
                .append_pair("until", &q.until)
                .append_pair("before_seq", &seq.to_string())
                .finish();
            format!("/admin/audit?{query}")
        });
    no_store(render(&AdminAudit {
        nav: Nav::of(&staff),
        entries: entries
            .into_iter()
            .map(|e| AuditItem {
                seq: e.seq,
                at: format_time(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                details: e.details,
            })
            .collect(),
        actor: q.actor,
        action: q.action,
        target: q.target,
        from: q.from,
        until: q.until,
        next_page,
    }))
}

struct VerificationRow {
    name: String,
    national_id: String,
    birth_date: String,
    region: String,
    requested: String,
}

struct DuplicateRow {
    id: String,
    details: String,
    matched: String,
    duplicate: String,
    when: String,
}

#[derive(Template)]
#[template(path = "registrar.html")]
struct RegistrarDesk {
    nav: Nav,
    regions: String,
    verifications: Vec<VerificationRow>,
    duplicates: Vec<DuplicateRow>,
}

async fn registrar_desk(
    state: web::Data<AppState>,
    StaffPage(staff, _): StaffPage<Registrar>,
) -> Result<HttpResponse, PageError> {
    let id = staff.citizen().id;
    let verifications = state.store.verification_queue(id, 100).await?;
    let duplicates = state.store.duplicate_queue(id, 100).await?;
    let regions: Vec<&str> = staff
        .roles
        .iter()
        .filter(|r| r.role == Role::Registrar.as_str())
        .map(|r| r.region_code.as_str())
        .collect();
    no_store(render(&RegistrarDesk {
        nav: Nav::of(&staff),
        regions: regions.join(", "),
        verifications: verifications
            .into_iter()
            .map(|v| VerificationRow {
                name: format!("{} {}", v.given_name, v.family_name),
                national_id: v.national_id,
                birth_date: iso_date(v.birth_date),
                region: v.region_code,
                requested: format_time(v.requested_at),
            })
            .collect(),
        duplicates: duplicates
            .into_iter()
            .map(|d| DuplicateRow {
                id: d.id.to_string(),
                details: format!(
                    "{} {}, born {}, {}",
                    d.given_name,
                    d.family_name,
                    iso_date(d.birth_date),
                    d.region_code
                ),
                matched: d.matched_national_id,
                duplicate: d.duplicate_national_id.unwrap_or_default(),
                when: format_time(d.attempted_at),
            })
            .collect(),
    }))
}
