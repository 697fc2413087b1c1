//! The authorization endpoint, the consent form and RP-initiated logout:
//! browser-facing, so errors are pages.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::headers::FormAction;
use super::pages::render;
use super::session::{self, MaybeSignedIn};
use crate::error::{AppError, PageError};
use crate::oidc::Params;
use crate::oidc::authorize::Outcome;
use crate::oidc::end_session::{EndSession, EndSessionRequest};
use crate::store::SignedIn;

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
            // The answer is redirected to the app: a browser enforces the
            // page's form-action on that redirect too.
            if let Some(action) = FormAction::to_origin_of(&view.redirect_uri) {
                action.allow_on(&mut response);
            }
            Ok(response)
        }
    }
}

async fn run(
    state: &AppState,
    req: &HttpRequest,
    params: Params,
    who: Option<SignedIn>,
) -> Result<HttpResponse, PageError> {
    let outcome = state.provider.authorize(&params, who).await?;
    respond(req.method(), outcome)
}

async fn authorize_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Params>,
    MaybeSignedIn(who): MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    run(&state, &req, query.into_inner(), who).await
}

async fn authorize_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Params>,
    MaybeSignedIn(who): MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    run(&state, &req, form.into_inner(), who).await
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
    MaybeSignedIn(who): MaybeSignedIn,
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
    let outcome = state.provider.decide(&form.request_id, allow, who).await?;
    respond(req.method(), outcome)
}

#[derive(Template)]
#[template(path = "logout.html")]
struct Logout<'a> {
    signed_out: bool,
    client_name: &'a str,
}

/// RP-initiated logout: goes back to the app at once when the request
/// allows it (see `oidc::end_session`), otherwise asks the citizen.
async fn end_session(
    state: &AppState,
    req: &HttpRequest,
    params: Params,
    who: Option<SignedIn>,
) -> Result<HttpResponse, PageError> {
    let request = EndSessionRequest::parse(&params);
    match state.provider.end_session(&request, who.as_ref()).await? {
        EndSession::Return(url) => {
            let mut response = redirect(req.method(), &url);
            response
                .add_cookie(&session::removal_cookie(&state.settings))
                .map_err(AppError::internal)?;
            Ok(response)
        }
        EndSession::Ask { client_name } => render(&Logout {
            signed_out: false,
            client_name: &client_name,
        }),
    }
}

async fn end_session_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Params>,
    MaybeSignedIn(who): MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    end_session(&state, &req, query.into_inner(), who).await
}

async fn end_session_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Params>,
    MaybeSignedIn(who): MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    end_session(&state, &req, form.into_inner(), who).await
}

/// The confirmation page's "Sign out" button.
async fn end_session_confirm(
    state: web::Data<AppState>,
    MaybeSignedIn(who): MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    if let Some(who) = who {
        state.store.delete_session(who.session.id).await?;
    }
    let mut response = render(&Logout {
        signed_out: true,
        client_name: "",
    })?;
    response
        .add_cookie(&session::removal_cookie(&state.settings))
        .map_err(AppError::internal)?;
    Ok(response)
}
