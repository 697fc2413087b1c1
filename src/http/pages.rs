//! HTML pages.

use actix_web::{HttpResponse, web};
use askama::Template;
use time::OffsetDateTime;

use super::AppState;
use super::session::MaybeSignedIn;
use crate::error::{AppError, PageError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/enroll", web::get().to(enroll))
        .route("/login", web::get().to(login))
        .route("/account", web::get().to(account))
        .route("/static/{name}", web::get().to(asset));
}

const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");
const DATE_TIME: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");

fn format_date(d: time::Date) -> String {
    d.format(DATE).unwrap_or_default()
}

pub fn format_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(DATE_TIME).ok())
        .unwrap_or_default()
}

/// A path on this site to go back to after sign-in; anything else is ignored.
pub fn safe_return_to(value: Option<&str>) -> String {
    match value {
        Some(v)
            if v.starts_with('/')
                && !v.starts_with("//")
                && !v.contains('\\')
                && !v.chars().any(char::is_control) =>
        {
            v.to_string()
        }
        _ => "/account".to_string(),
    }
}

struct RegionOption {
    code: String,
    label: String,
}

#[derive(Template)]
#[template(path = "enroll.html")]
struct Enroll {
    regions: Vec<RegionOption>,
    today: String,
    return_to: String,
}

async fn enroll(
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    let regions = state.store.list_regions().await?;
    let name_of = |code: &crate::domain::RegionCode| {
        regions
            .iter()
            .find(|r| &r.code == code)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let mut options: Vec<RegionOption> = regions
        .iter()
        .map(|r| RegionOption {
            code: r.code.to_string(),
            label: match &r.parent {
                Some(p) => format!("{} ({})", r.name, name_of(p)),
                None => r.name.clone(),
            },
        })
        .collect();
    options.sort_by(|a, b| a.label.cmp(&b.label));
    render(&Enroll {
        regions: options,
        today: format_date(state.clock.now().date()),
        return_to: safe_return_to(query.return_to.as_deref()),
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    return_to: String,
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

async fn login(query: web::Query<LoginQuery>) -> Result<HttpResponse, PageError> {
    render(&Login {
        return_to: safe_return_to(query.return_to.as_deref()),
    })
}

struct PasskeyItem {
    id: String,
    name: String,
    synced: bool,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct Account {
    given_name: String,
    family_name: String,
    masked_id: String,
    full_id: String,
    status: &'static str,
    assurance: String,
    birth_date: String,
    region: String,
    passkeys: Vec<PasskeyItem>,
    apps: Vec<AppItem>,
    sign_ins: Vec<SignInItem>,
    self_asserted: bool,
    verification_requested: Option<String>,
}

struct AppItem {
    client_id: String,
    name: String,
    shared: String,
}

struct SignInItem {
    name: String,
    at: String,
    shared: String,
}

/// The plain-words list of what a scope string released.
fn shared_text(scopes: impl Iterator<Item = String>) -> String {
    let words: Vec<&str> = scopes
        .filter(|s| s != "openid")
        .filter_map(|s| crate::oidc::claims::describe_data(&s))
        .collect();
    if words.is_empty() {
        "That you signed in".to_string()
    } else {
        words.join("; ")
    }
}

/// Sends a browser without a session to sign in, then back to `path`.
pub(super) fn sign_in_first(path: &str) -> HttpResponse {
    let target = format!(
        "/login?return_to={}",
        url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
    );
    HttpResponse::SeeOther()
        .insert_header(("Location", target))
        .finish()
}

async fn account(
    state: web::Data<AppState>,
    MaybeSignedIn(who): MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let Some(who) = who else {
        return Ok(sign_in_first("/account"));
    };
    let c = &who.citizen;
    let passkeys = state.store.list_passkeys(c.id).await?;
    let region = state
        .store
        .region_name(&c.region)
        .await?
        .unwrap_or_else(|| c.region.to_string());
    let apps = state.store.connected_apps(c.id.0).await?;
    let sign_ins = state.store.recent_sign_ins(c.id.0, 10).await?;
    let self_asserted = c.assurance_level == crate::domain::AssuranceLevel::SelfAsserted;
    let verification_requested = if self_asserted {
        state
            .store
            .open_verification_request(c.id)
            .await?
            .map(format_time)
    } else {
        None
    };
    let response = render(&Account {
        self_asserted,
        verification_requested,
        apps: apps
            .into_iter()
            .map(|a| AppItem {
                shared: shared_text(a.scope.split(' ').map(str::to_string)),
                client_id: a.client_id,
                name: a.client_name,
            })
            .collect(),
        sign_ins: sign_ins
            .into_iter()
            .map(|s| SignInItem {
                shared: shared_text(
                    serde_json::from_str::<Vec<String>>(&s.claims)
                        .unwrap_or_default()
                        .into_iter(),
                ),
                name: s.client_name,
                at: format_time(s.at),
            })
            .collect(),
        given_name: c.given_name.as_str().to_string(),
        family_name: c.family_name.as_str().to_string(),
        masked_id: c.national_id.masked(),
        full_id: c.national_id.to_string(),
        status: c.status.as_str(),
        assurance: match c.assurance_level {
            crate::domain::AssuranceLevel::SelfAsserted => "1 — self-asserted".to_string(),
            crate::domain::AssuranceLevel::Verified => "2 — verified".to_string(),
        },
        birth_date: format_date(c.birth_date),
        region,
        passkeys: passkeys
            .iter()
            .map(|p| PasskeyItem {
                id: p.id.to_string(),
                name: p.name.clone(),
                synced: p.backup_eligible,
                created: format_time(p.created_at),
                last_used: p
                    .last_used_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into()),
            })
            .collect(),
    })?;
    no_store(Ok(response))
}

/// Marks a rendered page as not to be cached (it shows personal data).
pub(super) fn no_store(
    response: Result<HttpResponse, PageError>,
) -> Result<HttpResponse, PageError> {
    let mut response = response?;
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// Renders a template as an HTML response.
pub fn render(template: &impl Template) -> Result<HttpResponse, PageError> {
    let html = template.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    issuer: &'a str,
}

async fn home(state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    render(&Home {
        issuer: state.settings.issuer.as_str(),
    })
}

/// Static assets, compiled into the binary so one file runs the service.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "civitas.css",
        "text/css; charset=utf-8",
        include_str!("../../static/civitas.css"),
    ),
    (
        "civitas.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/civitas.js"),
    ),
];

async fn asset(name: web::Path<String>) -> Result<HttpResponse, PageError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .ok_or_else(|| AppError::not_found("No such file."))?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(*body))
}
