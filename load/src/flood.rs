//! Floods: one client sending one kind of request as fast as it can, as a
//! bot would, to see what the rest of Civitas's users keep meanwhile. Each
//! flood counts its answers by status; the slow flood instead holds
//! connections open with a request that never ends (slow-loris) and counts
//! how often the server closes them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::ValueEnum;
use reqwest::RequestBuilder;
use reqwest::header::ORIGIN;
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{SendAsClient, as_client};
use crate::failure::Failure;
use crate::steps;
use crate::target::Target;

/// What a flood sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flood {
    /// `GET /healthz`: never limited, so what it leaves citizens is the
    /// machine's own limit (the control).
    Healthz,
    /// Anonymous passkey sign-in starts.
    LoginStart,
    /// Anonymous enrollment starts with a new person each time.
    EnrollmentStart,
    /// `GET /authorize` without a session (needs --client-id, --redirect-uri).
    Authorize,
    /// `POST /token` with a wrong client secret (needs --client-id).
    Token,
    /// Connections that send a request's headers a line a second, never
    /// finishing them.
    Slow,
}

impl Flood {
    fn request(self, target: &Target) -> Result<RequestBuilder, Failure> {
        let http = target.http();
        Ok(match self {
            Flood::Healthz => http.get(target.url("/healthz")?),
            Flood::LoginStart => http
                .post(target.url(steps::LOGIN_START)?)
                .header(ORIGIN, target.origin().clone())
                .json(&json!({})),
            Flood::EnrollmentStart => http
                .post(target.url(steps::ENROLLMENT_START)?)
                .header(ORIGIN, target.origin().clone())
                .json(&target.person()),
            Flood::Authorize => {
                let app = target.app()?;
                let (_, challenge) = steps::pkce();
                http.get(target.url("/authorize")?)
                    .query(&steps::authorize_params(
                        &app.client_id,
                        &app.redirect_uri,
                        "openid",
                        "flood",
                        "flood",
                        &challenge,
                    ))
                    .header("Accept", "text/html")
            }
            Flood::Token => {
                let app = target.app()?;
                steps::token(
                    http,
                    target.url("/token")?,
                    &app.client_id,
                    Some(&app.client_secret),
                    &steps::code_grant("not-a-code", &app.redirect_uri, &"v".repeat(43)),
                )
            }
            Flood::Slow => {
                return Err(Failure::new(
                    "no request",
                    "the slow flood never sends a whole request (see `linger`)",
                ));
            }
        })
    }
}

/// How a flood is run.
#[derive(Debug, Clone)]
pub struct FloodPlan {
    pub flood: Flood,
    /// Requests in flight at once (ignored by the slow flood).
    pub concurrency: usize,
    /// Connections held open by the slow flood.
    pub connections: usize,
    pub duration: Duration,
    /// The flood's client address (`X-Forwarded-For`), if any.
    pub address: Option<String>,
}

/// What a flood saw.
#[derive(Debug, Serialize)]
pub struct FloodReport {
    pub flood: Flood,
    pub seconds: f64,
    /// Answers received (the slow flood: connections the server ended).
    pub requests: u64,
    pub per_second: f64,
    /// Answers by HTTP status.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused, reset, timeout).
    pub transport_errors: u64,
    /// Share of answers that were 429 (rate limited).
    pub limited_share: f64,
    /// Share of answers that were 503 (load shed).
    pub shed_share: f64,
    /// Slow flood: connections the server closed (with or without a 408).
    pub closed_by_server: u64,
}

/// Runs `plan` against `target` until its duration ends or `stop` is set.
pub async fn run(
    target: Arc<Target>,
    plan: &FloodPlan,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<FloodReport> {
    let started = Instant::now();
    let end = started + plan.duration;
    let mut by_status = BTreeMap::new();
    let mut transport_errors = 0;
    let mut closed_by_server = 0;
    let mut tasks = tokio::task::JoinSet::new();
    if plan.flood == Flood::Slow {
        let address = server_address(&target)?;
        for _ in 0..plan.connections {
            let stop = stop.clone();
            tasks.spawn(async move { linger(address, end, &stop).await });
        }
    } else {
        for _ in 0..plan.concurrency.max(1) {
            let (target, stop, flood) = (target.clone(), stop.clone(), plan.flood);
            let address = plan.address.clone();
            tasks.spawn(as_client(address, async move {
                hammer(&target, flood, end, &stop).await
            }));
        }
    }
    while let Some(result) = tasks.join_next().await {
        let tally = result.context("a flood task panicked")?;
        for (status, n) in tally.by_status {
            *by_status.entry(status).or_insert(0) += n;
        }
        transport_errors += tally.transport_errors;
        closed_by_server += tally.closed_by_server;
    }
    let seconds = started.elapsed().as_secs_f64();
    let answers: u64 = by_status.values().sum();
    let requests = if plan.flood == Flood::Slow {
        closed_by_server
    } else {
        answers
    };
    let share = |status: u16| match answers {
        0 => 0.0,
        n => by_status.get(&status).copied().unwrap_or(0) as f64 / n as f64,
    };
    Ok(FloodReport {
        flood: plan.flood,
        seconds,
        requests,
        per_second: requests as f64 / seconds.max(f64::EPSILON),
        limited_share: share(429),
        shed_share: share(503),
        by_status,
        transport_errors,
        closed_by_server,
    })
}

#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, u64>,
    transport_errors: u64,
    closed_by_server: u64,
}

/// One flooding worker: requests back to back.
async fn hammer(target: &Target, flood: Flood, end: Instant, stop: &AtomicBool) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        let sent = match flood.request(target) {
            Ok(request) => request.send_as_client("flood").await,
            Err(failure) => Err(failure),
        };
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the body, so the connection is reused.
                let _ = response.bytes().await;
                *tally.by_status.entry(status).or_insert(0) += 1;
            }
            Err(_) => {
                tally.transport_errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

fn server_address(target: &Target) -> anyhow::Result<SocketAddr> {
    let url = target.url("/").map_err(anyhow::Error::new)?;
    let host = url.host_str().context("the target has no host")?;
    let port = url
        .port_or_known_default()
        .context("the target has no port")?;
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .with_context(|| format!("{host}:{port} is not an IP address and port"))
}

/// One slow client: opens a connection, sends a request line and then a
/// header line a second, never the end of the headers; when the server
/// closes the connection, opens another.
async fn linger(address: SocketAddr, end: Instant, stop: &AtomicBool) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(address).await else {
            tally.transport_errors += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut line: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: civitas\r\n";
        let mut answer = [0u8; 512];
        loop {
            if Instant::now() >= end || stop.load(Ordering::Relaxed) {
                return tally;
            }
            if stream.write_all(line).await.is_err() {
                tally.closed_by_server += 1;
                break;
            }
            line = b"X-Slow: 1\r\n";
            match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut answer)).await {
                // Still waiting for the rest of the headers: go on.
                Err(_) => continue,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    tally.closed_by_server += 1;
                    break;
                }
                Ok(Ok(n)) => {
                    if let Some(status) = status_of(&answer[..n]) {
                        *tally.by_status.entry(status).or_insert(0) += 1;
                    }
                    tally.closed_by_server += 1;
                    break;
                }
            }
        }
    }
    tally
}

/// The status of an HTTP/1.1 answer's first line.
fn status_of(answer: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(answer).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_read_from_the_first_line() {
        assert_eq!(status_of(b"HTTP/1.1 408 Request Timeout\r\n"), Some(408));
        assert_eq!(status_of(b"garbage"), None);
    }
}
