//! HTTP: routes, extractor limits, and the answers to requests we do not serve.

mod account;
mod admin;
mod authorize;
mod campaign_pages;
mod campaigns;
mod enrollment;
pub mod headers;
mod login;
mod national_ids;
mod oidc;
mod ops;
pub mod origin;
pub(crate) mod pages;
mod regions;
mod registrar;
mod roles;
pub mod routes;
mod session;
pub mod shield;
mod staff;
mod staff_pages;
mod state;

use std::net::IpAddr;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, web};

use crate::config::Settings;
use crate::error::{AppError, PageError};
use routes::ApiRoutes;

pub use enrollment::FinishCeremony;
pub use pages::format_time;
pub use state::AppState;

/// The client's network, as throttles and rate limits count it: the peer's
/// address, or behind a trusted reverse proxy the last address it appended
/// to `X-Forwarded-For`; an IPv4 address alone (/32), an IPv6 address by its
/// /64, which one household or phone is given whole.
pub fn client_address(settings: &Settings, req: &HttpRequest) -> String {
    client_address_of(settings.behind_proxy, req)
}

/// `client_address`, given whether a trusted proxy sits in front.
fn client_address_of(behind_proxy: bool, req: &HttpRequest) -> String {
    let forwarded = behind_proxy
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        })
        .flatten();
    let ip = match forwarded {
        Some(text) => match text.parse::<IpAddr>() {
            Ok(ip) => ip,
            // Not an address: the proxy sent something else; count it as
            // it is, within a sane length.
            Err(_) => return text.chars().take(64).collect(),
        },
        None => match req.peer_addr() {
            Some(peer) => peer.ip(),
            None => return "unknown".to_string(),
        },
    };
    network_of(ip)
}

/// An IPv4 address, or the /64 of an IPv6 one (an IPv4-mapped IPv6
/// address counts as the IPv4 address).
fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(net))
            }
        },
    }
}

/// A date as `YYYY-MM-DD`.
pub fn iso_date(d: time::Date) -> String {
    crate::domain::citizen::iso_date::format(d)
}

/// Largest request body accepted anywhere (the register upload has its own).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every JSON endpoint (documented in `openapi.yaml`).
pub fn api_routes() -> ApiRoutes {
    ApiRoutes::default()
        .add(Method::GET, "/healthz", ops::healthz)
        .add(Method::GET, "/readyz", ops::readyz)
        .add(Method::GET, "/metrics", ops::metrics)
        .add(Method::GET, "/api/v1/regions", regions::list_regions)
        .add(
            Method::POST,
            "/api/v1/national-ids/validate",
            national_ids::validate_national_id,
        )
        .add(
            Method::POST,
            "/api/v1/enrollment/start",
            enrollment::start_enrollment,
        )
        .add(
            Method::POST,
            "/api/v1/enrollment/finish",
            enrollment::finish_enrollment,
        )
        .add(Method::POST, "/api/v1/login/start", login::start_login)
        .add(Method::POST, "/api/v1/login/finish", login::finish_login)
        .add(Method::POST, "/api/v1/logout", login::logout)
        .add(Method::GET, "/api/v1/me", account::me)
        .add(Method::GET, "/api/v1/me/passkeys", account::list_passkeys)
        .add(
            Method::POST,
            "/api/v1/me/passkeys/start",
            account::start_add_passkey,
        )
        .add(
            Method::POST,
            "/api/v1/me/passkeys/finish",
            account::finish_add_passkey,
        )
        .add(
            Method::PATCH,
            "/api/v1/me/passkeys/{id}",
            account::rename_passkey,
        )
        .add(
            Method::DELETE,
            "/api/v1/me/passkeys/{id}",
            account::delete_passkey,
        )
        .add(Method::GET, "/api/v1/me/apps", account::list_apps)
        .add(
            Method::POST,
            "/api/v1/me/verification",
            account::request_verification,
        )
        .add(Method::GET, "/api/v1/staff/me", staff::my_roles)
        .add(
            Method::POST,
            "/api/v1/staff/invitations/accept",
            staff::accept_invitation,
        )
        .add(
            Method::POST,
            "/api/v1/admin/invitations",
            staff::create_invitation,
        )
        .add(Method::GET, "/api/v1/admin/staff", staff::list_staff)
        .add(
            Method::POST,
            "/api/v1/admin/staff/revoke",
            staff::revoke_role,
        )
        .add(
            Method::POST,
            "/api/v1/admin/register/imports",
            admin::import_register,
        )
        .add(Method::GET, "/api/v1/admin/audit", admin::audit)
        .add(Method::GET, "/api/v1/admin/campaigns", campaigns::list)
        .add(Method::POST, "/api/v1/admin/campaigns", campaigns::create)
        .add(Method::GET, "/api/v1/admin/campaigns/{id}", campaigns::show)
        .add(
            Method::PUT,
            "/api/v1/admin/campaigns/{id}",
            campaigns::update,
        )
        .add(
            Method::GET,
            "/api/v1/admin/campaigns/{id}/progress",
            campaigns::progress,
        )
        .add(
            Method::GET,
            "/api/v1/admin/campaigns/{id}/regions.csv",
            campaigns::regions_csv,
        )
        .add(
            Method::GET,
            "/api/v1/admin/campaigns/{id}/pending",
            campaigns::pending,
        )
        .add(
            Method::GET,
            "/api/v1/admin/campaigns/{id}/pending.csv",
            campaigns::pending_csv,
        )
        .add(
            Method::GET,
            "/api/v1/registrar/verifications",
            registrar::verification_queue,
        )
        .add(
            Method::GET,
            "/api/v1/registrar/duplicates",
            registrar::duplicate_queue,
        )
        .add(
            Method::GET,
            "/api/v1/registrar/citizens/{national_id}",
            registrar::show_citizen,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/citizens/{national_id}/verify",
            registrar::verify,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/citizens/{national_id}/reject",
            registrar::reject,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/citizens/{national_id}/suspend",
            registrar::suspend,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/citizens/{national_id}/reinstate",
            registrar::reinstate,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/citizens/{national_id}/revoke",
            registrar::revoke,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/citizens/{national_id}/death",
            registrar::record_death,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/duplicates/{id}/merge",
            registrar::merge,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/duplicates/{id}/dismiss",
            registrar::dismiss,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/register/{register_ref}/unlock",
            registrar::unlock_code,
        )
        .add(
            Method::POST,
            "/api/v1/registrar/citizens/{national_id}/passkeys/{id}/enable",
            registrar::enable_passkey,
        )
        .add(
            Method::DELETE,
            "/api/v1/me/apps/{client_id}",
            account::withdraw_app,
        )
        .add(
            Method::GET,
            "/.well-known/openid-configuration",
            oidc::discovery,
        )
        .add(
            Method::OPTIONS,
            "/.well-known/openid-configuration",
            oidc::preflight,
        )
        .add(Method::GET, "/jwks.json", oidc::jwks)
        .add(Method::OPTIONS, "/jwks.json", oidc::preflight)
        .add(Method::POST, "/token", oidc::token)
        .add(Method::OPTIONS, "/token", oidc::preflight)
        .add(Method::GET, "/userinfo", oidc::userinfo)
        .add(Method::POST, "/userinfo", oidc::userinfo)
        .add(Method::OPTIONS, "/userinfo", oidc::preflight)
        .add(Method::POST, "/revoke", oidc::revoke)
        .add(Method::POST, "/introspect", oidc::introspect)
}

/// Registers every route, extractor limits and the fallback handler.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(BODY_LIMIT)
            .error_handler(|e, _| json_error(e).into()),
    )
    .app_data(web::PayloadConfig::new(BODY_LIMIT))
    .app_data(
        web::FormConfig::default()
            .limit(BODY_LIMIT)
            .error_handler(|e, _| form_error(e).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
    .app_data(web::PathConfig::default().error_handler(|e, _| path_error(e).into()));
    api_routes().register(cfg);
    pages::configure(cfg);
    staff_pages::configure(cfg);
    campaign_pages::configure(cfg);
    authorize::configure(cfg);
    cfg.default_service(web::to(not_found));
}

fn json_error(e: JsonPayloadError) -> AppError {
    match e {
        JsonPayloadError::ContentType => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with the header Content-Type: application/json.",
        ),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The request body is larger than {} KiB.", BODY_LIMIT / 1024),
            )
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => AppError::bad_request(
            "invalid_request",
            format!("The JSON body is not as expected: {e}."),
        ),
        JsonPayloadError::Deserialize(e) => {
            AppError::bad_request("invalid_json", format!("The body is not valid JSON: {e}."))
        }
        JsonPayloadError::Payload(e) => {
            shield::body_timeout_error(&e).unwrap_or_else(|| cannot_read(&e))
        }
        other => cannot_read(&other),
    }
}

fn cannot_read(e: &dyn std::fmt::Display) -> AppError {
    AppError::bad_request(
        "invalid_request",
        format!("Cannot read the request body: {e}."),
    )
}

fn form_error(e: UrlencodedError) -> AppError {
    match e {
        UrlencodedError::Payload(e) => {
            shield::body_timeout_error(&e).unwrap_or_else(|| cannot_read(&e))
        }
        other => AppError::bad_request(
            "invalid_request",
            format!("The form body is not as expected: {other}."),
        ),
    }
}

fn query_error(e: QueryPayloadError) -> AppError {
    AppError::bad_request(
        "invalid_request",
        format!("The query string is not as expected: {e}."),
    )
}

fn path_error(e: PathError) -> AppError {
    AppError::not_found(format!("No such resource: {e}."))
}

/// True when the caller expects JSON rather than a page.
pub(crate) fn wants_json(req: &HttpRequest) -> bool {
    let path = req.path();
    path.starts_with("/api/")
        || path.starts_with("/.well-known/")
        || matches!(
            path,
            "/token" | "/introspect" | "/revoke" | "/userinfo" | "/jwks.json"
        )
        || req
            .headers()
            .get(actix_web::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"))
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, actix_web::Error> {
    let error = AppError::not_found(format!("There is nothing at {}.", req.path()));
    if wants_json(&req) {
        Err(error.into())
    } else {
        Err(PageError(error).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_of_addresses() {
        let cases = [
            ("203.0.113.7", "203.0.113.7"),
            ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
            ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
            ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
            ("::ffff:198.51.100.4", "198.51.100.4"),
            ("::1", "::/64"),
        ];
        for (ip, network) in cases {
            assert_eq!(network_of(ip.parse().unwrap()), network, "{ip}");
        }
    }
}
