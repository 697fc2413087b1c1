//! Protocol endpoints: discovery, JWKS, token, UserInfo, revocation,
//! introspection. CORS is answered here for the origins of registered
//! redirect URIs only.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use actix_web::ResponseError;

use super::shield::Refused;
use super::{AppState, client_address};
use crate::error::AppError;
use crate::limits::RouteClass;
use crate::oidc::client_auth::parse_credentials;
use crate::oidc::introspect::may_introspect;
use crate::oidc::revoke::TokenParam;
use crate::oidc::userinfo::bearer_token;
use crate::oidc::{ErrorCode, OAuthError, Params};

/// `Access-Control-Allow-Origin` for a request from a registered app's origin.
async fn cors(state: &AppState, req: &HttpRequest, mut response: HttpResponse) -> HttpResponse {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return response;
    };
    let allowed = match state.store.list_clients().await {
        Ok(clients) => clients
            .iter()
            .filter(|c| !c.disabled)
            .flat_map(|c| c.redirect_uris.iter())
            .any(|u| url::Url::parse(u).is_ok_and(|u| u.origin().ascii_serialization() == origin)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read clients for CORS");
            false
        }
    };
    if allowed && let Ok(value) = header::HeaderValue::from_str(origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::HeaderValue::from_static("Authorization, Content-Type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::HeaderValue::from_static("GET, POST, OPTIONS"),
        );
    }
    response
}

fn oauth_response(result: Result<serde_json::Value, OAuthError>) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .json(body),
        Err(e) => e.error_response(),
    }
}

/// `GET /.well-known/openid-configuration`: prepared once at start-up.
pub async fn discovery(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let response = HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .content_type("application/json")
        .body(state.discovery.clone());
    cors(&state, &req, response).await
}

/// `GET /jwks.json`: every published public key, served from memory as
/// prepared bytes (see `KeyCache::jwks` for how fresh they are).
pub async fn jwks(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let published = state.provider.jwks().await.map_err(AppError::internal)?;
    let response = HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(web::Bytes::from_owner(published.body.clone()));
    Ok(cors(&state, &req, response).await)
}

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// Runs a request of an app under its rate limit: the client id it claims
/// together with its network (a client id is public, so wrong secrets from
/// one network must not lock the app out everywhere); a failed client
/// authentication counts as several requests. Only an admitted request
/// counts against the instance-wide cap.
async fn as_app(
    state: &AppState,
    req: &HttpRequest,
    form: &Params,
    run: impl Future<Output = Result<serde_json::Value, OAuthError>>,
) -> HttpResponse {
    let claimed = parse_credentials(authorization(req), form)
        .map(|c| c.client_id)
        .unwrap_or_default();
    let network = client_address(&state.settings, req);
    let admitted = state
        .limits
        .check_app(&claimed, &network)
        .map_err(Refused::App);
    let admitted = admitted.and_then(|()| state.limits.check_global().map_err(Refused::Global));
    if let Err(refused) = admitted {
        return refused.respond(req, RouteClass::AppFacing);
    }
    let result = run.await;
    if matches!(&result, Err(e) if e.code == ErrorCode::InvalidClient) {
        state.limits.charge_failed_app(&claimed, &network);
    }
    oauth_response(result)
}

/// `POST /token`.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Params>,
) -> HttpResponse {
    let run = state.provider.token(authorization(&req), &form);
    let response = as_app(&state, &req, &form, run).await;
    cors(&state, &req, response).await
}

/// `GET|POST /userinfo`.
pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Option<web::Form<Params>>,
) -> HttpResponse {
    let token = bearer_token(authorization(&req), form.as_deref());
    let response = oauth_response(state.provider.userinfo(token.as_deref()).await);
    cors(&state, &req, response).await
}

/// CORS preflight for token and UserInfo.
pub async fn preflight(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    cors(&state, &req, HttpResponse::NoContent().finish()).await
}

/// `POST /revoke` (RFC 7009).
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Params>,
) -> HttpResponse {
    let provider = &state.provider;
    let result = async {
        let client = provider
            .authenticate_client(authorization(&req), &form)
            .await?;
        let request = TokenParam::parse(&form)?;
        provider.revoke(&client, &request).await?;
        Ok(json!({}))
    };
    as_app(&state, &req, &form, result).await
}

/// `POST /introspect` (RFC 7662).
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Params>,
) -> HttpResponse {
    let provider = &state.provider;
    let result = async {
        let client = provider
            .authenticate_client(authorization(&req), &form)
            .await?;
        may_introspect(&client)?;
        let request = TokenParam::parse(&form)?;
        provider.introspect(&client, &request).await
    };
    as_app(&state, &req, &form, result).await
}
