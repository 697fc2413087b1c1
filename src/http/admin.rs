//! Administrators' and auditors' JSON API: register import and the audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::roles::{Acting, Admin, AuditorOrAdmin, Staffer};
use crate::error::AppError;
use crate::registry::register::{self, ImportError, ImportSource};
use crate::store::AuditFilter;

/// Largest register file accepted over HTTP: the letters come back in the
/// response, so they are held in memory. Larger registers are imported
/// with `civitas register import`, which streams both ways.
pub const UPLOAD_LIMIT: usize = 16 * 1024 * 1024;

fn too_large() -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!(
            "A register file sent over the web may be at most {} MiB. Split it, or import it \
             with `civitas register import` (up to {} MiB per file).",
            UPLOAD_LIMIT / 1024 / 1024,
            register::MAX_FILE_BYTES / 1024 / 1024
        ),
    )
}

/// `POST /api/v1/admin/register/imports`: the body is the register CSV; the
/// answer is the letters CSV (201), or the report of bad lines (422).
pub async fn import_register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    Acting(admin, _): Acting<Admin>,
) -> Result<HttpResponse, AppError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > UPLOAD_LIMIT) {
        return Err(too_large());
    }
    let data = body
        .to_bytes_limited(UPLOAD_LIMIT)
        .await
        .map_err(|_| too_large())?
        .map_err(|e| {
            e.as_error::<actix_web::error::PayloadError>()
                .and_then(super::shield::body_timeout_error)
                .unwrap_or_else(|| {
                    AppError::bad_request(
                        "invalid_request",
                        format!("Cannot read the upload: {e}."),
                    )
                })
        })?;
    let name = req
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("upload")
        .chars()
        .take(200)
        .collect::<String>();
    let mut letters = Vec::new();
    let result = register::import(
        &state.store,
        &state.registry_keys,
        state.clock.now().date(),
        state.clock.unix(),
        ImportSource {
            name,
            actor: admin.actor(),
            code_days: state.settings.activation_code_days,
            letters_to: "the HTTP response".to_string(),
        },
        &data[..],
        &mut letters,
    )
    .await;
    match result {
        Ok(report) => {
            let id = report.import_id.map(|i| i.to_string()).unwrap_or_default();
            Ok(HttpResponse::Created()
                .content_type("text/csv; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"letters-{id}.csv\""),
                ))
                .insert_header(("X-Imported-Rows", report.imported.to_string()))
                .body(letters))
        }
        Err(ImportError::Invalid(report)) => Ok(HttpResponse::UnprocessableEntity()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "error": "invalid_register_file",
                "error_description": format!(
                    "The file has {} bad line(s) and nothing was imported. Correct the lines \
                     listed and send the whole file again.",
                    report.error_count
                ),
                "rows": report.rows,
                "error_count": report.error_count,
                "errors": report.errors,
            }))),
        Err(ImportError::TooLarge) => Err(too_large()),
        Err(ImportError::Store(e)) => Err(e.into()),
        Err(e) => Err(AppError::internal(e)),
    }
}

#[derive(serde::Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub until: Option<String>,
    pub before_seq: Option<i64>,
    pub limit: Option<i64>,
}

fn day_start(value: Option<&str>, field: &str) -> Result<Option<i64>, AppError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(v, &format).map_err(|_| {
        AppError::bad_request(
            "invalid_date",
            format!("{field} must be a date as YYYY-MM-DD."),
        )
    })?;
    Ok(Some(date.midnight().assume_utc().unix_timestamp()))
}

impl AuditQuery {
    /// The store filter; blank fields match everything.
    pub fn filter(&self) -> Result<AuditFilter, AppError> {
        let text = |v: &Option<String>, field: &str| match v.as_deref().map(str::trim) {
            Some(v) if v.chars().any(char::is_control) => Err(AppError::bad_request(
                "invalid_request",
                format!("{field} must not contain control characters."),
            )),
            Some(v) if !v.is_empty() => Ok(Some(v.to_string())),
            _ => Ok(None),
        };
        Ok(AuditFilter {
            actor: text(&self.actor, "actor")?,
            action: text(&self.action, "action")?,
            target: text(&self.target, "target")?,
            from: day_start(self.from.as_deref(), "from")?,
            until: day_start(self.until.as_deref(), "until")?.map(|t| t + 86_400),
            before_seq: self.before_seq,
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
        })
    }
}

/// `GET /api/v1/admin/audit`: entries, newest first; page with `before_seq`.
pub async fn audit(
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
    _: Staffer<AuditorOrAdmin>,
) -> Result<HttpResponse, AppError> {
    let filter = query.filter()?;
    let entries = state.store.audit_entries(&filter).await?;
    let next = (entries.len() as i64 == filter.limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "entries": entries, "next_before_seq": next })))
}
