//! Protocol endpoints: discovery, JWKS, token, UserInfo, revocation,
//! introspection. CORS is answered here for the origins of registered
//! redirect URIs only.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::error::AppError;
use crate::oidc::introspect::may_introspect;
use crate::oidc::revoke::TokenParam;
use crate::oidc::userinfo::bearer_token;
use crate::oidc::{OAuthError, Params};

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
        Err(e) => actix_web::ResponseError::error_response(&e),
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

/// `POST /token`.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<Params>,
) -> HttpResponse {
    let response = oauth_response(state.provider.token(authorization(&req), &form).await);
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
    }
    .await;
    oauth_response(result)
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
    }
    .await;
    oauth_response(result)
}
