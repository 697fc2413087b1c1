//! Administrators' JSON and CSV API for enrollment campaigns: create and
//! change them, read their progress, and list (or stream) the register rows
//! in scope that have not enrolled yet. Everything reads counters, never
//! the citizens table.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use futures_util::stream;
use uuid::Uuid;

use super::AppState;
use super::roles::{Acting, Admin, Staffer};
use crate::campaign::progress::{self, Direction, Progress, ProgressError, SortKey};
use crate::campaign::projection::STATUS_RULE;
use crate::campaign::{self, CampaignInput, FieldError};
use crate::domain::RegionCode;
use crate::domain::citizen::iso_date;
use crate::encoding::spreadsheet_cell as cell;
use crate::error::AppError;
use crate::store::{CampaignRegionRow, CampaignRow, PendingRow, Store};

/// Rows per page of "not yet enrolled", and per database read when streamed.
pub const PENDING_PAGE: i64 = 100;
const PENDING_MAX_PAGE: i64 = 1000;
const STREAM_BATCH: i64 = 5000;

fn no_campaign() -> AppError {
    AppError::not_found("There is no campaign with this id; the dashboard lists them all.")
}

/// A campaign id from the path; a malformed one names no campaign.
pub fn campaign_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| no_campaign())
}

impl From<ProgressError> for AppError {
    fn from(e: ProgressError) -> Self {
        match e {
            ProgressError::NoCampaign => no_campaign(),
            ProgressError::NotInScope(code) => AppError::bad_request(
                "region_not_in_scope",
                format!(
                    "Region {code} is not in this campaign's scope; choose one of the regions \
                     listed in the campaign's table."
                ),
            ),
            ProgressError::Store(e) => e.into(),
        }
    }
}

fn invalid(errors: Vec<FieldError>) -> HttpResponse {
    let first = errors
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    HttpResponse::UnprocessableEntity()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "error": "invalid_campaign",
            "error_description": first,
            "errors": errors,
        }))
}

/// `GET /api/v1/admin/campaigns`: every campaign with its headline figures.
pub async fn list(state: web::Data<AppState>, _: Staffer<Admin>) -> Result<HttpResponse, AppError> {
    let today = state.clock.now().date();
    let campaigns: Vec<_> = progress::summaries(&state.store, today)
        .await?
        .into_iter()
        .map(|(campaign, totals)| serde_json::json!({ "campaign": campaign, "totals": totals }))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "as_of": iso_date::format(today),
            "status_rule": STATUS_RULE,
            "campaigns": campaigns,
        })))
}

/// `POST /api/v1/admin/campaigns`.
pub async fn create(
    state: web::Data<AppState>,
    body: web::Json<CampaignInput>,
    Acting(admin, _): Acting<Admin>,
) -> Result<HttpResponse, AppError> {
    let regions = state.store.list_regions().await?;
    let spec = match body.check(&regions) {
        Ok(spec) => spec,
        Err(errors) => return Ok(invalid(errors)),
    };
    let id = campaign::create(
        &state.store,
        &regions,
        &spec,
        &admin.actor(),
        state.clock.unix(),
    )
    .await?;
    let view = show_campaign(&state.store, id).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/admin/campaigns/{id}")))
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

async fn show_campaign(store: &Store, id: Uuid) -> Result<progress::CampaignView, AppError> {
    let (row, regions) = load_scope(store, id).await?;
    Ok(progress::CampaignView::new(&row, &regions))
}

/// `GET /api/v1/admin/campaigns/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<String>,
    _: Staffer<Admin>,
) -> Result<HttpResponse, AppError> {
    let view = show_campaign(&state.store, campaign_id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// `PUT /api/v1/admin/campaigns/{id}`: the whole campaign, as for create.
pub async fn update(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<CampaignInput>,
    Acting(admin, _): Acting<Admin>,
) -> Result<HttpResponse, AppError> {
    let id = campaign_id(&path)?;
    let (current, scope) = load_scope(&state.store, id).await?;
    let roots: Vec<RegionCode> = scope
        .into_iter()
        .filter(|r| r.root)
        .filter_map(|r| RegionCode::parse(&r.region_code).ok())
        .collect();
    let regions = state.store.list_regions().await?;
    let spec = match body.check(&regions) {
        Ok(spec) => spec,
        Err(errors) => return Ok(invalid(errors)),
    };
    let now = state.clock.unix();
    if !campaign::update(
        &state.store,
        &regions,
        &current,
        &roots,
        &spec,
        &admin.actor(),
        now,
    )
    .await?
    {
        return Err(no_campaign());
    }
    let view = show_campaign(&state.store, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// Which level and order of the region table.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ProgressQuery {
    pub region: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
}

impl ProgressQuery {
    pub fn region(&self) -> Option<String> {
        self.region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_ascii_uppercase)
    }

    pub fn order(&self) -> Result<(SortKey, Direction), AppError> {
        let key = match self
            .sort
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => SortKey::default(),
            Some(s) => SortKey::ALL
                .into_iter()
                .find(|k| k.as_str() == s)
                .ok_or_else(|| {
                    let names: Vec<_> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
                    AppError::bad_request(
                        "invalid_sort",
                        format!("sort must be one of: {}.", names.join(", ")),
                    )
                })?,
        };
        let dir = match self.dir.as_deref().map(str::trim) {
            None | Some("") | Some("asc") => Direction::Asc,
            Some("desc") => Direction::Desc,
            Some(_) => {
                return Err(AppError::bad_request(
                    "invalid_sort",
                    "dir must be asc or desc.",
                ));
            }
        };
        Ok((key, dir))
    }
}

/// The progress report for a request.
pub async fn load_progress(
    state: &AppState,
    id: Uuid,
    query: &ProgressQuery,
) -> Result<Progress, AppError> {
    let order = query.order()?;
    Ok(progress::load(
        &state.store,
        id,
        state.clock.now().date(),
        query.region().as_deref(),
        order,
    )
    .await?)
}

/// `GET /api/v1/admin/campaigns/{id}/progress`.
pub async fn progress(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ProgressQuery>,
    _: Staffer<Admin>,
) -> Result<HttpResponse, AppError> {
    let report = load_progress(&state, campaign_id(&path)?, &query).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(report))
}

/// The region table's columns, in the CSV export.
pub const TABLE_COLUMNS: [&str; 11] = [
    "region_code",
    "region",
    "enrolled",
    "target",
    "percent",
    "days_left",
    "daily_rate",
    "needed_rate",
    "projected_completion",
    "projected_at_deadline",
    "status",
];

fn decimal(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// The region table as CSV, in the order asked for.
pub fn table_csv(report: &Progress) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(TABLE_COLUMNS)?;
    for r in &report.regions {
        let f = &r.figures;
        let p = &f.projection;
        out.write_record([
            r.code.clone(),
            cell(&r.name),
            f.enrolled.to_string(),
            f.target.to_string(),
            decimal(p.percent),
            p.days_left.to_string(),
            decimal(Some(p.daily_rate)),
            decimal(p.needed_rate),
            p.projected_completion
                .map(iso_date::format)
                .unwrap_or_default(),
            p.projected_at_deadline.to_string(),
            p.status.as_str().to_string(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// A CSV download named `name`.
fn csv_response(name: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ));
    response
}

/// `GET /api/v1/admin/campaigns/{id}/regions.csv`: the region table.
pub async fn regions_csv(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ProgressQuery>,
    _: Staffer<Admin>,
) -> Result<HttpResponse, AppError> {
    let id = campaign_id(&path)?;
    let report = load_progress(&state, id, &query).await?;
    let body = table_csv(&report).map_err(AppError::internal)?;
    let level = report.level.as_ref().map_or("all", |l| l.code.as_str());
    let name = format!(
        "campaign-{id}-regions-{level}-{}.csv",
        iso_date::format(report.as_of)
    );
    Ok(csv_response(&name).body(body))
}

/// Which register rows of "not yet enrolled".
#[derive(Debug, Default, serde::Deserialize)]
pub struct PendingQuery {
    pub region: Option<String>,
    pub after_region: Option<String>,
    pub after_ref: Option<String>,
    pub limit: Option<i64>,
}

/// A campaign and every region of its scope; 404 when there is none.
pub async fn load_scope(
    store: &Store,
    id: Uuid,
) -> Result<(CampaignRow, Vec<CampaignRegionRow>), AppError> {
    let campaign = store.find_campaign(id).await?.ok_or_else(no_campaign)?;
    let regions = store.campaign_regions(id).await?;
    Ok((campaign, regions))
}

/// The path prefix of `region` in the scope (`/` for all of it).
pub fn scope_path(regions: &[CampaignRegionRow], region: Option<&str>) -> Result<String, AppError> {
    let Some(code) = region.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok("/".into());
    };
    let code = code.to_ascii_uppercase();
    regions
        .iter()
        .find(|r| r.region_code == code)
        .map(|r| r.path.clone())
        .ok_or_else(|| ProgressError::NotInScope(code).into())
}

/// A page of "not yet enrolled" in campaign `id` (whose scope is
/// `regions`) and the cursor of the next one.
pub async fn pending_page(
    store: &Store,
    id: Uuid,
    regions: &[CampaignRegionRow],
    query: &PendingQuery,
) -> Result<(Vec<PendingRow>, Option<(String, String)>), AppError> {
    let path = scope_path(regions, query.region.as_deref())?;
    let limit = query.limit.unwrap_or(PENDING_PAGE);
    if !(1..=PENDING_MAX_PAGE).contains(&limit) {
        return Err(AppError::bad_request(
            "invalid_limit",
            format!("limit must be from 1 to {PENDING_MAX_PAGE}."),
        ));
    }
    let after = match (&query.after_region, &query.after_ref) {
        (Some(r), Some(f)) => Some((r.as_str(), f.as_str())),
        (None, None) => None,
        _ => {
            return Err(AppError::bad_request(
                "invalid_cursor",
                "after_region and after_ref go together; copy both from next.",
            ));
        }
    };
    let rows = store.pending_register_rows(id, &path, after, limit).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|r| (r.region_code.clone(), r.register_ref.clone()))
        })
        .flatten();
    Ok((rows, next))
}

/// `GET /api/v1/admin/campaigns/{id}/pending`: register rows in scope not
/// yet enrolled, a page at a time.
pub async fn pending(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PendingQuery>,
    Staffer(admin, _): Staffer<Admin>,
) -> Result<HttpResponse, AppError> {
    let id = campaign_id(&path)?;
    let (_, regions) = load_scope(&state.store, id).await?;
    let (rows, next) = pending_page(&state.store, id, &regions, &query).await?;
    campaign::record_pending_read(
        &state.store,
        &admin.actor(),
        id,
        query.region.as_deref(),
        "json",
        state.clock.unix(),
    )
    .await?;
    let next = next.map(
        |(region, reference)| serde_json::json!({ "after_region": region, "after_ref": reference }),
    );
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "rows": rows, "next": next })))
}

const PENDING_COLUMNS: [&str; 6] = [
    "register_ref",
    "given_name",
    "family_name",
    "birth_date",
    "region_code",
    "phone",
];

fn pending_csv_chunk(rows: &[PendingRow], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if header {
        out.write_record(PENDING_COLUMNS)?;
    }
    for r in rows {
        out.write_record([
            &cell(&r.register_ref),
            &cell(&r.given_name),
            &cell(&r.family_name),
            &iso_date::format(r.birth_date),
            r.region_code.as_str(),
            r.phone.as_deref().unwrap_or(""),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// Where a streamed export has got to.
struct Cursor {
    store: Store,
    id: Uuid,
    path: String,
    after: Option<(String, String)>,
    header: bool,
    done: bool,
}

/// `GET /api/v1/admin/campaigns/{id}/pending.csv`: every register row in
/// scope not yet enrolled, streamed in batches (for reminder letters and
/// text messages), so a region of millions never sits in memory.
pub async fn pending_csv(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PendingQuery>,
    Staffer(admin, _): Staffer<Admin>,
) -> Result<HttpResponse, AppError> {
    let id = campaign_id(&path)?;
    let (_, regions) = load_scope(&state.store, id).await?;
    let scope = scope_path(&regions, query.region.as_deref())?;
    campaign::record_pending_read(
        &state.store,
        &admin.actor(),
        id,
        query.region.as_deref(),
        "csv",
        state.clock.unix(),
    )
    .await?;
    let cursor = Cursor {
        store: state.store.clone(),
        id,
        path: scope,
        after: None,
        header: true,
        done: false,
    };
    let body = stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        let after = c.after.as_ref().map(|(r, f)| (r.as_str(), f.as_str()));
        let batch = match c
            .store
            .pending_register_rows(c.id, &c.path, after, STREAM_BATCH)
            .await
        {
            Ok(batch) => batch,
            Err(e) => return Some((Err(stream_error(e)), Cursor { done: true, ..c })),
        };
        c.done = (batch.len() as i64) < STREAM_BATCH;
        c.after = batch
            .last()
            .map(|r| (r.region_code.clone(), r.register_ref.clone()));
        let chunk = pending_csv_chunk(&batch, c.header);
        c.header = false;
        match chunk {
            Ok(bytes) => Some((Ok(web::Bytes::from(bytes)), c)),
            Err(e) => Some((Err(stream_error(e)), Cursor { done: true, ..c })),
        }
    });
    let name = format!(
        "campaign-{id}-not-enrolled-{}-{}.csv",
        query
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("all")
            .to_ascii_uppercase(),
        iso_date::format(state.clock.now().date())
    );
    Ok(csv_response(&name).streaming(body))
}

/// A failure half-way through a stream: logged; the response is cut short,
/// so the client sees an incomplete download rather than a short list.
fn stream_error(e: impl Into<anyhow::Error>) -> actix_web::Error {
    let e = e.into();
    tracing::error!(error = %e, "not-enrolled export failed part-way");
    actix_web::error::InternalError::new(e.to_string(), StatusCode::INTERNAL_SERVER_ERROR).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_a_spreadsheet_would_run_are_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-1+1"), "'-1+1");
        assert_eq!(cell("Amara"), "Amara");
        assert_eq!(cell(""), "");
    }
}
