//! The authorization endpoint, the consent form and RP-initiated logout:
//! browser-facing, so errors are pages.

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::pages::render;
use crate::error::{AppError, PageError};
use crate::oidc::authorize::{self, Outcome};
use crate::session;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/authorize")
            .route(web::get().to(authorize_get))
            .route(web::post().to(authorize_post)),
    )
    .route("/authorize/consent", web::post().to(consent))
    .service(
        web::resource("/end_session")
            .route(web::get().to(end_session_get))
            .route(web::post().to(end_session_post)),
    )
    .route("/end_session/confirm", web::post().to(end_session_confirm));
}

#[derive(Template)]
#[template(path = "consent.html")]
struct Consent<'a> {
    client_name: &'a str,
    items: &'a [&'static str],
    request_id: &'a str,
}

/// Redirects with 303 after a POST, 302 after a GET.
fn redirect(method: &Method, location: &str) -> HttpResponse {
    let mut builder = if method == Method::POST {
        HttpResponse::SeeOther()
    } else {
        HttpResponse::Found()
    };
    builder
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

fn respond(method: &Method, outcome: Outcome) -> Result<HttpResponse, PageError> {
    match outcome {
        Outcome::ErrorPage(e) => Err(PageError(e)),
        Outcome::Redirect(to) | Outcome::SignIn(to) => Ok(redirect(method, &to)),
        Outcome::Consent(view) => {
            let mut response = render(&Consent {
                client_name: &view.client_name,
                items: &view.items,
                request_id: &view.request_id,
            })?;
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
    }
}

async fn run(
    state: &AppState,
    req: &HttpRequest,
    params: HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let who = session::current(state, req).await?;
    let outcome = authorize::authorize(state, &params, who).await?;
    respond(req.method(), outcome)
}

async fn authorize_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    run(&state, &req, query.into_inner()).await
}

async fn authorize_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    run(&state, &req, form.into_inner()).await
}

#[derive(serde::Deserialize)]
struct Decision {
    request_id: String,
    decision: String,
}

async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Decision>,
) -> Result<HttpResponse, PageError> {
    let allow = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return Err(PageError(AppError::bad_request(
                "invalid_request",
                "Choose Allow or Deny.",
            )));
        }
    };
    let who = session::current(&state, &req).await?;
    let outcome = authorize::decide(&state, &form.request_id, allow, who).await?;
    respond(req.method(), outcome)
}

#[derive(Template)]
#[template(path = "logout.html")]
struct Logout<'a> {
    signed_out: bool,
    client_name: &'a str,
}

/// RP-initiated logout: with a valid `id_token_hint` and a registered
/// `post_logout_redirect_uri`, ends the session and goes back at once;
/// otherwise asks the citizen.
async fn end_session(
    state: &AppState,
    req: &HttpRequest,
    params: HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let hint = match params.get("id_token_hint").filter(|h| !h.is_empty()) {
        Some(h) => state.provider.verify_id_hint(state, h).await,
        None => None,
    };
    let client = match &hint {
        Some(claims) => state.store.find_client(&claims.aud).await?,
        None => None,
    };
    let target = params
        .get("post_logout_redirect_uri")
        .filter(|u| !u.is_empty());
    let who = session::current(state, req).await?;
    // RP-Initiated Logout 1.0 §2: the hint must name this browser's session
    // (or there is none to end), and a client_id must be the hint's audience.
    let same_session = match (&who, &hint) {
        (Some(w), Some(claims)) => claims.sid == w.session.id.to_string(),
        (None, _) => true,
        (Some(_), None) => false,
    };
    let client_matches = params
        .get("client_id")
        .filter(|c| !c.is_empty())
        .is_none_or(|c| hint.as_ref().is_some_and(|h| &h.aud == c));
    if let (Some(client), Some(target)) = (&client, target)
        && client.post_logout_redirect_uris.iter().any(|u| u == target)
        && same_session
        && client_matches
    {
        if let Some(who) = who {
            state.store.delete_session(who.session.id).await?;
        }
        let mut url = url::Url::parse(target).map_err(AppError::internal)?;
        if let Some(s) = params.get("state").filter(|s| !s.is_empty()) {
            url.query_pairs_mut().append_pair("state", s);
        }
        let mut response = redirect(req.method(), url.as_str());
        response
            .add_cookie(&session::removal_cookie(state))
            .map_err(AppError::internal)?;
        return Ok(response);
    }
    render(&Logout {
        signed_out: false,
        client_name: client.as_ref().map(|c| c.name.as_str()).unwrap_or("An app"),
    })
}

async fn end_session_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    end_session(&state, &req, query.into_inner()).await
}

async fn end_session_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    end_session(&state, &req, form.into_inner()).await
}

/// The confirmation page's "Sign out" button.
async fn end_session_confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    if let Some(who) = session::current(&state, &req).await? {
        state.store.delete_session(who.session.id).await?;
    }
    let mut response = render(&Logout {
        signed_out: true,
        client_name: "",
    })?;
    response
        .add_cookie(&session::removal_cookie(&state))
        .map_err(AppError::internal)?;
    Ok(response)
}
