//! National ID numbers: validation over HTTP and unique concurrent issuance.

use std::collections::HashSet;

use civitas::domain::{AssuranceLevel, NationalId, NewCitizen, PersonName, RegionCode};
use civitas::registry::issue_citizen;
use futures::StreamExt;
use serde_json::json;
use time::macros::date;

use crate::support::app::{TestApp, TestStore, assert_error};

const VALIDATE: &str = "/api/v1/national-ids/validate";

async fn valid_numbers_are_accepted_in_any_spacing(app: TestApp) {
    let id = NationalId::generate();
    let digits = id.as_digits();
    for input in [
        digits.clone(),
        id.to_string(),
        format!("{}-{}-{}", &digits[..4], &digits[4..8], &digits[8..]),
    ] {
        let response = app
            .post_json(VALIDATE, &json!({"national_id": input}))
            .await;
        assert_eq!(response.status(), 200, "input {input}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["national_id"], digits);
        assert_eq!(body["formatted"], id.to_string());
    }
}

async fn invalid_numbers_get_distinct_codes(app: TestApp) {
    let digits = NationalId::generate().as_digits();
    let wrong_check = format!(
        "{}{}",
        &digits[..11],
        (digits.as_bytes()[11] - b'0' + 1) % 10
    );
    let cases = [
        ("2345 6789 012", "national_id_wrong_length"),
        ("2345 6789 01x3", "national_id_not_digits"),
        ("1234 5678 9012", "national_id_bad_first_digit"),
        (wrong_check.as_str(), "national_id_bad_checksum"),
    ];
    for (input, code) in cases {
        let response = app
            .post_json(VALIDATE, &json!({"national_id": input}))
            .await;
        assert_error(response, 422, code, input).await;
    }
}

fn new_citizen(i: usize) -> NewCitizen {
    NewCitizen {
        given_name: PersonName::parse(&format!("Given{i}")).unwrap(),
        family_name: PersonName::parse("Family").unwrap(),
        birth_date: date!(1990 - 01 - 01),
        region: RegionCode::parse("CAP-C").unwrap(),
        assurance_level: AssuranceLevel::SelfAsserted,
    }
}

async fn concurrent_issuance_gives_distinct_valid_numbers(db: TestStore) {
    const N: usize = 10_000;
    let results: Vec<_> = futures::stream::iter(0..N)
        .map(|i| {
            let store = db.store.clone();
            let clock = db.clock.clone();
            async move { issue_citizen(&store, &clock, new_citizen(i)).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut seen = HashSet::new();
    for result in results {
        let citizen = result.expect("issuance failed");
        assert_eq!(
            NationalId::parse(&citizen.national_id.as_digits()),
            Ok(citizen.national_id)
        );
        assert!(
            seen.insert(citizen.national_id),
            "duplicate {}",
            citizen.national_id
        );
    }
    assert_eq!(seen.len(), N);
    assert_eq!(db.citizen_count().await, N as i64);
}

async fn a_taken_number_is_refused_by_the_database(db: TestStore) {
    let first = issue_citizen(&db.store, &db.clock, new_citizen(1))
        .await
        .unwrap();
    let mut second = issue_citizen(&db.store, &db.clock, new_citizen(2))
        .await
        .unwrap();
    // Reuse the first number under a new id: the insert reports the collision
    // (so the issuer draws again) instead of failing or overwriting.
    second.id = civitas::domain::CitizenId::new();
    second.national_id = first.national_id;
    assert!(!db.store.insert_citizen(&second).await.unwrap());
    assert_eq!(db.citizen_count().await, 2);
    let stored = db
        .store
        .find_citizen_by_national_id(&first.national_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.given_name.as_str(), "Given1");
}

crate::on_both_backends!(
    valid_numbers_are_accepted_in_any_spacing,
    invalid_numbers_get_distinct_codes,
    concurrent_issuance_gives_distinct_valid_numbers,
    a_taken_number_is_refused_by_the_database,
);
