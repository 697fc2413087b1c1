//! Staff roles as extractors. A JSON handler takes `Staffer<Admin>` (401
//! without a session, 403 without the role) or `Acting<Admin>` (the same,
//! and a passkey sign-in within the last 15 minutes, for changes); a page
//! takes `StaffPage<Admin>`, which sends a signed-out browser to sign in and
//! answers 403 as a page.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse};

use super::pages::sign_in_first;
use super::session::{Extracting, app_state, current};
use crate::error::{AppError, PageError};
use crate::session::not_signed_in;
use crate::staff::{self, Role, Staff};

/// The roles an extractor accepts (any one of them).
pub trait Roles {
    const ROLES: &'static [Role];
}

/// Administrators.
pub struct Admin;
/// Registrars.
pub struct Registrar;
/// Auditors and administrators (the audit log).
pub struct AuditorOrAdmin;

impl Roles for Admin {
    const ROLES: &'static [Role] = &[Role::Admin];
}
impl Roles for Registrar {
    const ROLES: &'static [Role] = &[Role::Registrar];
}
impl Roles for AuditorOrAdmin {
    const ROLES: &'static [Role] = &[Role::Auditor, Role::Admin];
}

/// The signed-in member of staff, or `None` without a session.
async fn signed_in_staff(req: &HttpRequest) -> Result<Option<Staff>, AppError> {
    let Some(signed_in) = current(req).await? else {
        return Ok(None);
    };
    let state = app_state(req)?;
    staff::load(&state.store, signed_in).await.map(Some)
}

/// A member of staff holding one of `R::ROLES`.
pub struct Staffer<R: Roles>(pub Staff, pub PhantomData<R>);

impl<R: Roles + 'static> FromRequest for Staffer<R> {
    type Error = AppError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let staff = signed_in_staff(&req).await?.ok_or_else(not_signed_in)?;
            staff::check_role(&staff, R::ROLES)?;
            Ok(Self(staff, PhantomData))
        })
    }
}

/// A member of staff holding one of `R::ROLES` whose passkey sign-in is
/// recent enough to change something.
pub struct Acting<R: Roles>(pub Staff, pub PhantomData<R>);

impl<R: Roles + 'static> FromRequest for Acting<R> {
    type Error = AppError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Staffer(staff, _) = Staffer::<R>::extract(&req).await?;
            staff.require_recent_sign_in(app_state(&req)?.clock.unix())?;
            Ok(Self(staff, PhantomData))
        })
    }
}

/// Why a staff page is not shown: the browser goes to sign in first (and
/// back to this path), or gets an error page.
#[derive(Debug)]
pub enum NotShown {
    SignInFirst(String),
    Error(PageError),
}

impl std::fmt::Display for NotShown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignInFirst(path) => write!(f, "sign in first, then back to {path}"),
            Self::Error(e) => e.fmt(f),
        }
    }
}

impl actix_web::ResponseError for NotShown {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            Self::SignInFirst(_) => actix_web::http::StatusCode::SEE_OTHER,
            Self::Error(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignInFirst(path) => sign_in_first(path),
            Self::Error(e) => e.error_response(),
        }
    }
}

/// A member of staff on a page: a browser without a session is sent to
/// sign in and back; one without the role gets a 403 page.
pub struct StaffPage<R: Roles>(pub Staff, pub PhantomData<R>);

impl<R: Roles + 'static> FromRequest for StaffPage<R> {
    type Error = NotShown;
    type Future = Pin<Box<dyn Future<Output = Result<Self, NotShown>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let page_error = |e: AppError| NotShown::Error(PageError(e));
            let Some(staff) = signed_in_staff(&req).await.map_err(page_error)? else {
                let path = match req.query_string() {
                    "" => req.path().to_string(),
                    q => format!("{}?{q}", req.path()),
                };
                return Err(NotShown::SignInFirst(path));
            };
            staff::check_role(&staff, R::ROLES).map_err(page_error)?;
            Ok(Self(staff, PhantomData))
        })
    }
}
