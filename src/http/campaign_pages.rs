//! The administrators' dashboard and campaign pages. Like the other staff
//! pages they read through the same code as the JSON API and act through
//! it; the charts and tables are drawn on the server and need no script.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::campaigns::{
    PENDING_PAGE, PendingQuery, ProgressQuery, campaign_id, load_progress, load_scope, pending_page,
};
use super::iso_date;
use super::pages::{no_store, render};
use super::roles::{Admin, StaffPage};
use super::staff_pages::Nav;
use crate::campaign::chart::Chart;
use crate::campaign::progress::{self, Direction, Figures, Progress, SortKey};
use crate::campaign::projection::{STATUS_RULE, Status};
use crate::campaign::thousands;
use crate::error::{AppError, PageError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(dashboard))
        .route("/admin/campaigns", web::get().to(campaigns))
        .route("/admin/campaigns/{id}", web::get().to(campaign))
        .route("/admin/campaigns/{id}/edit", web::get().to(edit))
        .route("/admin/campaigns/{id}/pending", web::get().to(pending));
}

/// Figures as the pages print them.
struct Shown {
    enrolled: String,
    target: String,
    percent: String,
    days_left: String,
    rate: String,
    needed: String,
    projected: String,
    /// The count at the deadline at the observed rate, and its share.
    at_deadline: String,
    status: &'static str,
    status_label: &'static str,
}

fn rate(v: f64) -> String {
    if v.abs() >= 10.0 {
        thousands(v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

impl Shown {
    fn of(f: &Figures) -> Self {
        let p = &f.projection;
        Self {
            enrolled: thousands(f.enrolled),
            target: thousands(f.target),
            percent: p.percent.map(|v| format!("{v:.1}%")).unwrap_or("—".into()),
            days_left: p.days_left.to_string(),
            rate: rate(p.daily_rate),
            needed: p.needed_rate.map(rate).unwrap_or("—".into()),
            projected: match (p.status, p.projected_completion) {
                (Status::Met, _) => "reached".into(),
                (_, Some(d)) => iso_date(d),
                (_, None) => "not at this rate".into(),
            },
            at_deadline: match f.target {
                0 => thousands(p.projected_at_deadline),
                t => format!(
                    "{} ({:.0}%)",
                    thousands(p.projected_at_deadline),
                    p.projected_at_deadline as f64 * 100.0 / t as f64
                ),
            },
            status: p.status.as_str(),
            status_label: p.status.label(),
        }
    }
}

struct CampaignLine {
    id: String,
    name: String,
    regions: String,
    cohort: String,
    starts_on: String,
    deadline: String,
    figures: Shown,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct Dashboard {
    nav: Nav,
    today: String,
    campaigns: Vec<CampaignLine>,
    rule: &'static str,
}

async fn campaign_lines(state: &AppState) -> Result<Vec<CampaignLine>, AppError> {
    let today = state.clock.now().date();
    Ok(progress::summaries(&state.store, today)
        .await?
        .into_iter()
        .map(|(c, totals)| CampaignLine {
            id: c.id.to_string(),
            name: c.name.clone(),
            regions: c.regions.join(", "),
            cohort: c.cohort(),
            starts_on: iso_date(c.starts_on),
            deadline: iso_date(c.deadline),
            figures: Shown::of(&totals),
        })
        .collect())
}

async fn dashboard(
    state: web::Data<AppState>,
    StaffPage(staff, _): StaffPage<Admin>,
) -> Result<HttpResponse, PageError> {
    no_store(render(&Dashboard {
        nav: Nav::of(&staff),
        today: iso_date(state.clock.now().date()),
        campaigns: campaign_lines(&state).await?,
        rule: STATUS_RULE,
    }))
}

struct RegionChoice {
    code: String,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "admin_campaigns.html")]
struct Campaigns {
    nav: Nav,
    campaigns: Vec<CampaignLine>,
    /// Empty for a new campaign.
    editing: String,
    name: String,
    regions: Vec<RegionChoice>,
    min_age: String,
    target: String,
    starts_on: String,
    deadline: String,
}

async fn campaign_form(
    state: &AppState,
    nav: Nav,
    editing: Option<progress::CampaignView>,
) -> Result<HttpResponse, PageError> {
    let regions = state.store.list_regions().await?;
    let chosen = editing
        .as_ref()
        .map(|c| c.regions.clone())
        .unwrap_or_default();
    let today = state.clock.now().date();
    let page = Campaigns {
        nav,
        campaigns: campaign_lines(state).await?,
        regions: regions
            .iter()
            .map(|r| RegionChoice {
                code: r.code.to_string(),
                label: match &r.parent {
                    Some(p) => format!("{} ({}, in {p})", r.name, r.code),
                    None => format!("{} ({})", r.name, r.code),
                },
                checked: chosen.iter().any(|c| c == r.code.as_str()),
            })
            .collect(),
        editing: editing
            .as_ref()
            .map(|c| c.id.to_string())
            .unwrap_or_default(),
        name: editing.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        min_age: editing
            .as_ref()
            .and_then(|c| c.min_age)
            .map(|a| a.to_string())
            .unwrap_or_default(),
        target: editing
            .as_ref()
            .and_then(|c| c.target_number)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        starts_on: iso_date(editing.as_ref().map_or(today, |c| c.starts_on)),
        deadline: editing
            .as_ref()
            .map(|c| iso_date(c.deadline))
            .unwrap_or_default(),
    };
    no_store(render(&page))
}

async fn campaigns(
    state: web::Data<AppState>,
    StaffPage(staff, _): StaffPage<Admin>,
) -> Result<HttpResponse, PageError> {
    campaign_form(&state, Nav::of(&staff), None).await
}

async fn edit(
    state: web::Data<AppState>,
    path: web::Path<String>,
    StaffPage(staff, _): StaffPage<Admin>,
) -> Result<HttpResponse, PageError> {
    let id = campaign_id(&path)?;
    let (row, regions) = load_scope(&state.store, id).await?;
    let view = progress::CampaignView::new(&row, &regions);
    campaign_form(&state, Nav::of(&staff), Some(view)).await
}

struct RegionLine {
    code: String,
    name: String,
    drill: Option<String>,
    figures: Shown,
}

struct Column {
    label: &'static str,
    href: String,
    /// `ascending`, `descending` or `none`, for aria-sort.
    sort: &'static str,
}

#[derive(Template)]
#[template(path = "admin_campaign.html")]
struct CampaignPage {
    nav: Nav,
    id: String,
    name: String,
    regions: String,
    cohort: String,
    target_kind: String,
    starts_on: String,
    deadline: String,
    today: String,
    /// Where in the region tree: the region's name, or empty for all.
    level_name: String,
    up: Option<String>,
    totals: Shown,
    chart: String,
    chart_text: String,
    columns: Vec<Column>,
    rows: Vec<RegionLine>,
    csv: String,
    pending: String,
    rule: &'static str,
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    q.finish()
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

fn campaign_page(report: &Progress, order: (SortKey, Direction), nav: Nav) -> CampaignPage {
    let c = &report.campaign;
    let base = format!("/admin/campaigns/{}", c.id);
    let level = report
        .level
        .as_ref()
        .map(|l| l.code.clone())
        .unwrap_or_default();
    let subject = match &report.level {
        Some(l) => format!("{} — {}", c.name, l.name),
        None => c.name.clone(),
    };
    let chart = Chart {
        subject: &subject,
        starts_on: c.starts_on,
        deadline: c.deadline,
        today: report.as_of,
        figures: &report.totals,
        daily: &report.daily,
    };
    let columns = [
        ("Region", SortKey::Name),
        ("Enrolled", SortKey::Enrolled),
        ("Target", SortKey::Target),
        ("Share", SortKey::Percent),
        ("Rate / day", SortKey::Rate),
        ("Needed / day", SortKey::Needed),
        ("Projected by deadline", SortKey::Behind),
    ]
    .into_iter()
    .map(|(label, key)| {
        let current = order.0 == key;
        let next = if current && order.1 == Direction::Asc {
            "desc"
        } else {
            "asc"
        };
        Column {
            label,
            href: with_query(
                &base,
                &query_string(&[("region", &level), ("sort", key.as_str()), ("dir", next)]),
            ),
            sort: match (current, order.1) {
                (false, _) => "none",
                (true, Direction::Asc) => "ascending",
                (true, Direction::Desc) => "descending",
            },
        }
    })
    .collect();
    let order_query = [
        ("sort", order.0.as_str()),
        (
            "dir",
            match order.1 {
                Direction::Asc => "asc",
                Direction::Desc => "desc",
            },
        ),
    ];
    CampaignPage {
        nav,
        id: c.id.to_string(),
        name: c.name.clone(),
        regions: c.regions.join(", "),
        cohort: c.cohort(),
        target_kind: match c.target_number {
            Some(_) => {
                "a number set for the campaign, shared among regions by register rows".into()
            }
            None => "the register rows in scope".into(),
        },
        starts_on: iso_date(c.starts_on),
        deadline: iso_date(c.deadline),
        today: iso_date(report.as_of),
        level_name: report
            .level
            .as_ref()
            .map(|l| l.name.clone())
            .unwrap_or_default(),
        up: report.level.as_ref().map(|l| match &l.parent {
            Some(p) => with_query(&base, &query_string(&[("region", p)])),
            None => base.clone(),
        }),
        totals: Shown::of(&report.totals),
        chart: chart.svg("burnup"),
        chart_text: chart.text_alternative(),
        columns,
        rows: report
            .regions
            .iter()
            .map(|r| RegionLine {
                code: r.code.clone(),
                name: r.name.clone(),
                drill: r
                    .has_subregions
                    .then(|| with_query(&base, &query_string(&[("region", &r.code)]))),
                figures: Shown::of(&r.figures),
            })
            .collect(),
        csv: with_query(
            &format!("/api/v1/admin/campaigns/{}/regions.csv", c.id),
            &query_string(&[("region", &level), order_query[0], order_query[1]]),
        ),
        pending: with_query(
            &format!("{base}/pending"),
            &query_string(&[("region", &level)]),
        ),
        rule: STATUS_RULE,
    }
}

async fn campaign(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ProgressQuery>,
    StaffPage(staff, _): StaffPage<Admin>,
) -> Result<HttpResponse, PageError> {
    let id = campaign_id(&path)?;
    let order = query.order()?;
    let report = load_progress(&state, id, &query).await?;
    no_store(render(&campaign_page(&report, order, Nav::of(&staff))))
}

struct PendingLine {
    register_ref: String,
    name: String,
    birth_date: String,
    region: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "admin_campaign_pending.html")]
struct PendingPage {
    nav: Nav,
    id: String,
    name: String,
    region: String,
    regions: Vec<RegionChoice>,
    rows: Vec<PendingLine>,
    next: Option<String>,
    csv: String,
    page_size: i64,
}

async fn pending(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PendingQuery>,
    StaffPage(staff, _): StaffPage<Admin>,
) -> Result<HttpResponse, PageError> {
    let id = campaign_id(&path)?;
    let (row, regions) = load_scope(&state.store, id).await?;
    let (rows, next) = pending_page(&state.store, id, &regions, &query).await?;
    crate::campaign::record_pending_read(
        &state.store,
        &staff.actor(),
        id,
        query.region.as_deref(),
        "page",
        state.clock.unix(),
    )
    .await?;
    let region = query
        .region
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_ascii_uppercase();
    let base = format!("/admin/campaigns/{id}/pending");
    no_store(render(&PendingPage {
        nav: Nav::of(&staff),
        id: id.to_string(),
        name: row.name,
        regions: regions
            .iter()
            .map(|r| RegionChoice {
                code: r.region_code.clone(),
                label: format!("{} ({})", r.name, r.region_code),
                checked: r.region_code == region,
            })
            .collect(),
        rows: rows
            .into_iter()
            .map(|r| PendingLine {
                register_ref: r.register_ref,
                name: format!("{} {}", r.given_name, r.family_name),
                birth_date: iso_date(r.birth_date),
                region: r.region_code,
                phone: r.phone.unwrap_or_default(),
            })
            .collect(),
        next: next.map(|(after_region, after_ref)| {
            with_query(
                &base,
                &query_string(&[
                    ("region", &region),
                    ("after_region", &after_region),
                    ("after_ref", &after_ref),
                ]),
            )
        }),
        csv: with_query(
            &format!("/api/v1/admin/campaigns/{id}/pending.csv"),
            &query_string(&[("region", &region)]),
        ),
        region,
        page_size: PENDING_PAGE,
    }))
}
