//! `GET /api/v1/regions`.

use actix_web::{HttpResponse, web};

use super::AppState;
use crate::domain::Region;
use crate::error::AppError;

#[derive(serde::Serialize)]
struct RegionList {
    regions: Vec<Region>,
}

/// Every region with its parent, for forms and apps.
pub async fn list_regions(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let regions = state.store.list_regions().await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(RegionList { regions }))
}
