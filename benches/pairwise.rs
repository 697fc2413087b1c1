//! Pairwise subject identifiers: one HMAC-SHA-256 per token and UserInfo.

use std::hint::black_box;

use civitas::domain::client::{Client, SubjectType};
use civitas::domain::{
    AssuranceLevel, Citizen, CitizenId, CitizenStatus, NationalId, PersonName, RegionCode,
};
use civitas::oidc::claims::subject;
use criterion::{Criterion, criterion_group, criterion_main};

fn client() -> Client {
    Client {
        id: "bench-client".into(),
        name: "Tax Office".into(),
        secret_hash: None,
        redirect_uris: vec!["https://tax.example/callback".into()],
        post_logout_redirect_uris: vec![],
        subject_type: SubjectType::Pairwise,
        extra_scopes: vec![],
        id_token_alg: "RS256".into(),
        disabled: false,
        created_at: 0,
    }
}

fn citizen() -> Citizen {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    Citizen {
        id: CitizenId::new(),
        national_id: NationalId::generate(),
        status: CitizenStatus::Active,
        assurance_level: AssuranceLevel::SelfAsserted,
        given_name: PersonName::parse("Amara").expect("name"),
        family_name: PersonName::parse("Okafor").expect("name"),
        birth_date: time::macros::date!(1990 - 04 - 12),
        region: RegionCode::parse("CAP-H").expect("region"),
        created_at: now,
        updated_at: now,
    }
}

fn pairwise(c: &mut Criterion) {
    let secret = [7u8; 32];
    let client = client();
    let citizen = citizen();
    c.bench_function("pairwise_subject", |b| {
        b.iter(|| subject(black_box(&secret), black_box(&client), black_box(&citizen)))
    });
}

criterion_group!(benches, pairwise);
criterion_main!(benches);
