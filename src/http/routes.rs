//! The table of JSON endpoints. It registers them with actix and is what the
//! `openapi.yaml` drift test compares against, so the two cannot disagree.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, Route, web};

use crate::error::AppError;

/// JSON endpoints grouped by path.
#[derive(Default)]
pub struct ApiRoutes {
    resources: BTreeMap<&'static str, Vec<(Method, Route)>>,
}

impl ApiRoutes {
    /// Adds `method path` served by `handler`.
    pub fn add<F, Args>(mut self, method: Method, path: &'static str, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = web::route().method(method.clone()).to(handler);
        self.resources
            .entry(path)
            .or_default()
            .push((method, route));
        self
    }

    /// Every `(method, path)` pair, methods lower-case as in OpenAPI.
    pub fn endpoints(&self) -> Vec<(String, String)> {
        self.resources
            .iter()
            .flat_map(|(path, routes)| {
                routes
                    .iter()
                    .map(|(m, _)| (m.as_str().to_ascii_lowercase(), path.to_string()))
            })
            .collect()
    }

    pub fn register(self, cfg: &mut web::ServiceConfig) {
        for (path, routes) in self.resources {
            let allowed: Vec<String> = routes.iter().map(|(m, _)| m.to_string()).collect();
            let allow = allowed.join(", ");
            let mut resource = web::resource(path).default_service(web::to(move || {
                let allow = allow.clone();
                async move {
                    Err::<actix_web::HttpResponse, _>(
                        AppError::new(
                            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
                            "method_not_allowed",
                            format!("This endpoint accepts {allow}."),
                        )
                        .with_header("Allow", allow),
                    )
                }
            }));
            for (_, route) in routes {
                resource = resource.route(route);
            }
            cfg.service(resource);
        }
    }
}
