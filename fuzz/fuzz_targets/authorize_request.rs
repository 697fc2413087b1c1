//! The `/authorize` query (or POST form) parsed into the typed request the
//! endpoint acts on, and what the endpoint derives from it without storage.
#![no_main]

use actix_web::web::Query;
use civitas::domain::AssuranceLevel;
use civitas::domain::client::{Client, SubjectType};
use civitas::oidc::Params;
use civitas::oidc::authorize::rules::{self, Request, Session};
use libfuzzer_sys::fuzz_target;

const REDIRECT_URI: &str = "https://tax.example.gov/callback";
const NOW: i64 = 1_780_000_000;

fn client() -> Client {
    Client {
        id: "tax-office".into(),
        name: "Tax office".into(),
        secret_hash: None,
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec![],
        subject_type: SubjectType::Pairwise,
        extra_scopes: vec!["national_id".into()],
        id_token_alg: "ES256".into(),
        disabled: false,
        created_at: 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The extractor of `GET /authorize` (the POST form decodes the same way).
    let Ok(query) = Query::<Params>::from_query(text) else {
        return;
    };
    let params = query.into_inner();
    let client = client();
    let _ = rules::client_id(&params);
    let _ = rules::redirect_uri(&params, &client);
    // Past the client checks whatever the query names, to reach the rest.
    let Ok(parsed) = rules::parse(&params, &client, REDIRECT_URI) else {
        return;
    };
    let request = &parsed.request;
    assert!(parsed.scope.contains("openid"));
    assert_eq!(request.code_challenge.len(), 43);
    // A pending consent keeps the request as JSON and reads it back.
    let stored = serde_json::to_string(request).expect("a request serialises");
    let back: Request = serde_json::from_str(&stored).expect("a stored request reads back");
    assert_eq!(&back, request);

    for session in [
        None,
        Some(Session {
            auth_time: NOW - 3600,
            matches_hint: true,
        }),
        Some(Session {
            auth_time: NOW,
            matches_hint: false,
        }),
    ] {
        let _ = rules::sign_in(&parsed, session, Some(NOW - 10), NOW);
    }
    let _ = rules::meets_acr(&request.acr_values, AssuranceLevel::SelfAsserted);
    let _ = rules::consent(request, false);

    // The sign-in round trip returns to the same request.
    let location = rules::sign_in_location(&params, "1.mac");
    let login = location.strip_prefix("/login?").expect("to /login");
    let back: Params = Query::<Params>::from_query(login)
        .expect("the login query decodes")
        .into_inner();
    let return_to = back.get("return_to").expect("return_to");
    let again = return_to
        .strip_prefix("/authorize?")
        .expect("to /authorize");
    let mut again = Query::<Params>::from_query(again)
        .expect("the return query decodes")
        .into_inner();
    assert_eq!(
        again.remove(rules::SIGNED_IN_AFTER).as_deref(),
        Some("1.mac")
    );
    let mut sent = params.clone();
    sent.remove(rules::SIGNED_IN_AFTER);
    assert_eq!(again, sent);
});
