//! The session cookie, and the signed-in citizen as an extractor: a handler
//! that takes `SignedIn` answers 401 to a request without a live session;
//! one that takes `MaybeSignedIn` decides for itself.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use crate::config::Settings;
use crate::error::AppError;
use crate::session::not_signed_in;
use crate::store::SignedIn;

/// The session cookie's name. With an https issuer it is `__Host-`
/// prefixed: browsers then accept it only `Secure`, from https, with
/// `Path=/` and no `Domain`, so no sibling host can plant or overwrite it.
/// Browsers refuse the prefix over plain http, where the issuer is local
/// (tests, development): there the name is plain.
pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.issuer.is_https() {
        "__Host-civitas_session"
    } else {
        "civitas_session"
    }
}

/// The cookie carrying a new session token.
pub fn cookie(settings: &Settings, token: String) -> Cookie<'static> {
    Cookie::build(cookie_name(settings), token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.issuer.is_https())
        .max_age(CookieDuration::seconds(
            settings.session_max_age.whole_seconds(),
        ))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removal_cookie(settings: &Settings) -> Cookie<'static> {
    let mut c = Cookie::build(cookie_name(settings), "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.issuer.is_https())
        .finish();
    c.make_removal();
    c
}

/// The signed-in citizen, if the request carries a live session of an
/// active citizen.
pub async fn current(req: &HttpRequest) -> Result<Option<SignedIn>, AppError> {
    let state = app_state(req)?;
    let Some(cookie) = req.cookie(cookie_name(&state.settings)) else {
        return Ok(None);
    };
    state
        .sessions
        .find(&state.store, state.clock.unix(), cookie.value())
        .await
}

/// The application state every handler shares.
pub(super) fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no application state")))
}

/// A future an extractor returns.
pub(super) type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// Whoever is signed in, if anyone.
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { current(&req).await.map(MaybeSignedIn) })
    }
}

/// The signed-in citizen; 401 `not_signed_in` without one.
impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { current(&req).await?.ok_or_else(not_signed_in) })
    }
}
