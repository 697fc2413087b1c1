//! HTML pages.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::error::{AppError, PageError};
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/static/{name}", web::get().to(asset));
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
const ASSETS: &[(&str, &str, &str)] = &[(
    "civitas.css",
    "text/css; charset=utf-8",
    include_str!("../../static/civitas.css"),
)];

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
