//! Logs and metrics: one structured log line per request with a request id,
//! and Prometheus counters and histograms by route and status, served to
//! the holder of the metrics token.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::secrets::hash_secret;
use crate::store::Store;

/// Installs the global log subscriber (`RUST_LOG` filters; default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests, several subcommands) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The bearer token that unlocks `/metrics`, kept only as its hash.
#[derive(Clone)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// The shortest token accepted: `/metrics` is not rate limited, so
    /// guessing must be hopeless.
    pub const MIN_LEN: usize = 16;

    pub fn new(token: &str) -> anyhow::Result<Self> {
        if token.trim().len() < Self::MIN_LEN {
            anyhow::bail!(
                "the metrics token must be at least {} characters (e.g. `openssl rand -base64 32`)",
                Self::MIN_LEN
            );
        }
        Ok(Self(hash_secret(token.trim())))
    }

    /// True when `presented` is the token; in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), hash_secret(presented).as_bytes()).into()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

/// The request id, available to handlers through request extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Prometheus metrics of one server.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    refused: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("civitas".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["route", "method", "status"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let refused = IntCounterVec::new(
            Opts::new(
                "requests_refused_total",
                "Requests refused before their handler: kind `limited` (429, by route \
                 class) or `shed` (503: the instance-wide cap or the queue deadline)",
            ),
            &["class", "kind"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            pool,
            refused,
        })
    }

    /// Counts a request refused by a rate limit or shed under load.
    pub fn count_refused(&self, class: &str, kind: &str) {
        self.refused.with_label_values(&[class, kind]).inc();
    }

    fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [route, method, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// The Prometheus text exposition, with fresh pool gauges.
    pub fn render(&self, store: &Store) -> Result<String, prometheus::Error> {
        let stats = store.pool_stats();
        let idle = i64::try_from(stats.idle).unwrap_or(i64::MAX);
        self.pool
            .with_label_values(&["open"])
            .set(i64::from(stats.size));
        self.pool.with_label_values(&["idle"]).set(idle);
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(stats.size) - idle);
        self.pool
            .with_label_values(&["max"])
            .set(i64::from(stats.max));
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts a caller's request id when it is short and plain, else makes one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Middleware: request id, one log line per request, metrics.
pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    // The pattern, never the path: paths carry national ID numbers
    // (`/api/v1/registrar/citizens/{national_id}`), which logs must not.
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(metrics) = metrics {
        metrics.observe(&route, &method, status, elapsed.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        tracing::info!(
            method,
            route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    Ok(res)
}
