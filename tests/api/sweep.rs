//! Expired rows are swept: marks of finished ceremonies, sessions past their absolute
//! lifetime and closed throttle windows go; live ones stay.

use civitas::registry::activation::ActivationCode;
use civitas::store::Table;
use serde_json::json;

use crate::support::app::{TestApp, assert_error};
use crate::support::passkeys::SoftAuthenticator;
use crate::support::passkeys::{enroll, person, start_enrollment};

const HOUR: i64 = 3600;

async fn count(app: &TestApp, table: Table) -> i64 {
    app.store.count_rows(table).await.unwrap()
}

async fn sweeping_removes_only_what_expired(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Adaeze").await;
    start_enrollment(&app, &person("Bisi")).await;
    let unknown = ActivationCode::generate().to_string();
    let response = app
        .post_json(
            "/api/v1/enrollment/start",
            &json!({"activation_code": unknown, "birth_date": "1990-01-01"}),
        )
        .await;
    assert_error(response, 400, "activation_code_not_found", "unknown code").await;
    let live = [
        (Table::Sessions, 1),
        (Table::UsedCeremonies, 1),
        (Table::Throttles, 1),
    ];
    for (table, n) in live {
        assert_eq!(count(&app, table).await, n, "{table:?} before sweeping");
    }

    // Nothing has expired yet.
    assert_eq!(
        app.store
            .sweep_expired(app.clock.unix(), HOUR)
            .await
            .unwrap(),
        0
    );
    for (table, n) in live {
        assert_eq!(
            count(&app, table).await,
            n,
            "{table:?} after an early sweep"
        );
    }

    // After the ceremony (5 min) and the throttle window (1 h) closed, but
    // within the session's 12 hours: only the session stays.
    app.clock.advance(time::Duration::hours(2));
    assert_eq!(
        app.store
            .sweep_expired(app.clock.unix(), HOUR)
            .await
            .unwrap(),
        2
    );
    assert_eq!(count(&app, Table::Sessions).await, 1);
    assert_eq!(count(&app, Table::UsedCeremonies).await, 0);
    assert_eq!(count(&app, Table::Throttles).await, 0);

    // Past the session's absolute lifetime.
    app.clock.advance(time::Duration::hours(11));
    assert_eq!(
        app.store
            .sweep_expired(app.clock.unix(), HOUR)
            .await
            .unwrap(),
        1
    );
    assert_eq!(count(&app, Table::Sessions).await, 0);
    assert_eq!(
        count(&app, Table::Citizens).await,
        1,
        "citizens are never swept"
    );
}

crate::on_both_backends!(sweeping_removes_only_what_expired);
