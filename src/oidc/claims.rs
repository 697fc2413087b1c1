//! Subject identifiers and the claims each scope releases.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use time::Date;

use crate::domain::Citizen;
use crate::domain::client::{Client, ScopeSet, SubjectType};

/// The `sid` a client sees for a browser session: derived from the session
/// and the client, so two apps cannot link their sign-ins by it.
pub fn session_id(secret: &[u8; 32], client: &Client, session: uuid::Uuid) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let input = format!("{}\n{session}", client.id);
    URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref())
}

/// The `sub` a client sees: pairwise by default — HMAC-SHA-256 of the
/// client's sector and the citizen id under a server secret — or, for
/// clients registered as `public`, the same value for every such client.
pub fn subject(secret: &[u8; 32], client: &Client, citizen: &Citizen) -> String {
    let sector = match client.subject_type {
        SubjectType::Pairwise => client.sector(),
        SubjectType::Public => "public".to_string(),
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let input = format!("{sector}\n{}", citizen.id);
    URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref())
}

/// Whole years between `birth` and `today`.
pub fn age_on(birth: Date, today: Date) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month() as u8, today.day()) < (birth.month() as u8, birth.day()) {
        age -= 1;
    }
    age
}

/// The user claims released for `scope` (beyond `sub`).
pub fn user_claims(
    citizen: &Citizen,
    region_name: &str,
    country: &str,
    scope: &ScopeSet,
    today: Date,
) -> Map<String, Value> {
    let mut claims = Map::new();
    if scope.contains("profile") {
        claims.insert(
            "name".into(),
            json!(format!(
                "{} {}",
                citizen.given_name.as_str(),
                citizen.family_name.as_str()
            )),
        );
        claims.insert("given_name".into(), json!(citizen.given_name.as_str()));
        claims.insert("family_name".into(), json!(citizen.family_name.as_str()));
        let format = time::macros::format_description!("[year]-[month]-[day]");
        claims.insert(
            "birthdate".into(),
            json!(citizen.birth_date.format(&format).unwrap_or_default()),
        );
    }
    if scope.contains("address") {
        claims.insert(
            "address".into(),
            json!({"region": region_name, "country": country, "formatted": format!("{region_name}, {country}")}),
        );
    }
    if scope.contains("age") {
        let age = age_on(citizen.birth_date, today);
        claims.insert("age_over_18".into(), json!(age >= 18));
        claims.insert("age_over_21".into(), json!(age >= 21));
    }
    if scope.contains("national_id") {
        claims.insert("national_id".into(), json!(citizen.national_id.as_digits()));
    }
    claims
}

/// Plain words for each scope, shown on the consent page; what `openid`
/// reveals depends on the client's subject type.
pub fn describe(scope: &str, subject_type: SubjectType) -> Option<&'static str> {
    match (scope, subject_type) {
        ("openid", SubjectType::Pairwise) => Some(
            "Know that you are signed in with Civitas (a number unique to this app, not your national ID)",
        ),
        ("openid", SubjectType::Public) => Some(
            "Know that you are signed in with Civitas (a number that other apps registered the \
             same way also see, so they can tell it is you; not your national ID)",
        ),
        (scope, _) => describe_data(scope),
    }
}

/// Plain words for a scope that releases data.
pub fn describe_data(scope: &str) -> Option<&'static str> {
    match scope {
        "profile" => Some("Your name and date of birth"),
        "address" => Some("The region where you live"),
        "age" => Some("Whether you are over 18 and whether you are over 21"),
        "national_id" => Some("Your national ID number"),
        "offline_access" => Some("Stay connected to your account when you are not using the app"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn ages_count_birthdays() {
        assert_eq!(age_on(date!(2008 - 11 - 28), date!(2026 - 11 - 28)), 18);
        assert_eq!(age_on(date!(2008 - 11 - 29), date!(2026 - 11 - 28)), 17);
        assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 02 - 28)), 17);
        assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 03 - 01)), 18);
    }
}
