//! What every response tells the browser: a Content Security Policy with no
//! inline script, no framing, no plugins, forms sent only to Civitas (and,
//! from the consent page, to the app's redirect URI); no content sniffing,
//! no referrer to other sites, no powerful features pages do not use; and,
//! with an https issuer, HTTPS only.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use crate::config::Issuer;

/// Every directive but `form-action`, which each response completes.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                      img-src 'self'; connect-src 'self'; object-src 'none'; \
                      base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Powerful features no page uses. Passkeys (`publickey-credentials-get`
/// and `-create`) keep their default, this origin only.
const PERMISSIONS: &str = "accelerometer=(), autoplay=(), camera=(), display-capture=(), \
                           geolocation=(), gyroscope=(), hid=(), magnetometer=(), \
                           microphone=(), midi=(), payment=(), screen-wake-lock=(), \
                           serial=(), usb=(), xr-spatial-tracking=()";

/// Two years, with subdomains: the issuer's host and everything under it.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// An origin a response's forms may also send data to, set by the handler
/// (the consent page: its answer is redirected to the app).
#[derive(Clone, Debug)]
pub struct FormAction(String);

impl FormAction {
    /// The origin of `redirect_uri` as a CSP source, if it has one.
    pub fn to_origin_of(redirect_uri: &str) -> Option<Self> {
        let url = url::Url::parse(redirect_uri).ok()?;
        let source = match url.host()? {
            // CSP cannot name an IPv6 address; such redirect URIs are
            // loopback only (native apps), so allow their scheme.
            url::Host::Ipv6(_) => format!("{}:", url.scheme()),
            _ => url.origin().ascii_serialization(),
        };
        Some(Self(source))
    }

    /// Lets `response`'s forms send data to this origin too.
    pub fn allow_on(self, response: &mut HttpResponse) {
        response.extensions_mut().insert(self);
    }
}

/// The headers of one instance, made once.
pub struct BrowserPolicy {
    hsts: bool,
}

impl BrowserPolicy {
    pub fn new(issuer: &Issuer) -> Self {
        Self {
            hsts: issuer.is_https(),
        }
    }
}

/// Middleware: see the module documentation.
pub async fn harden(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let hsts = req
        .app_data::<web::Data<BrowserPolicy>>()
        .is_some_and(|p| p.hsts);
    // Handlers' and extractors' errors arrive here as responses (actix
    // turns them into responses at the handler), as do the refusals of the
    // shield and of the origin check.
    let mut res = next.call(req).await?;
    let extra = res
        .response()
        .extensions()
        .get::<FormAction>()
        .map(|f| f.0.clone());
    let policy = match extra {
        Some(origin) => HeaderValue::from_str(&format!("{POLICY} {origin}"))
            .unwrap_or(HeaderValue::from_static(POLICY)),
        None => HeaderValue::from_static(POLICY),
    };
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: Chromium then sends `Origin: null` on our own
    // form posts (the consent answer), which the cross-site check refuses.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_actions_name_the_redirect_uris_origin() {
        for (redirect_uri, source) in [
            (
                "https://app.example/callback?x=1",
                Some("https://app.example"),
            ),
            (
                "https://app.example:8443/cb",
                Some("https://app.example:8443"),
            ),
            (
                "http://localhost:9090/callback",
                Some("http://localhost:9090"),
            ),
            ("http://127.0.0.1:5000/cb", Some("http://127.0.0.1:5000")),
            ("http://[::1]:5000/cb", Some("http:")),
            ("not a url", None),
        ] {
            let got = FormAction::to_origin_of(redirect_uri).map(|f| f.0);
            assert_eq!(got.as_deref(), source, "{redirect_uri}");
        }
    }
}
