//! Shared steps of the registry-operations tests: people in their own
//! browsers, staff made through invitations, register imports and their
//! letters, row-count snapshots, the `civitas` binary and raw SQL.

use std::future::Future;

use civitas::audit::AuditEntry;
use civitas::staff::Role;
use civitas::store::{AuditFilter, Pool, Store, Table};
use serde_json::{Value, json};

use civitas_load::steps::{self, ENROLLMENT_FINISH as ENROLL_FINISH};

use super::app::{TestApp, assert_error, browser_client};
use super::passkeys::{Device, SoftAuthenticator, Tweaks, finish, login_with, start_enrollment};

pub use super::cli::{CLI_ACTOR, TEST_MASTER_KEY, civitas, civitas_with_env, stderr, stdout};

/// Another browser on the same server, with its own cookie jar.
pub fn new_browser(app: &TestApp) -> TestApp {
    TestApp {
        address: app.address.clone(),
        store: app.store.clone(),
        clock: app.clock.clone(),
        client: browser_client(&app.address),
        db_url: app.db_url.clone(),
    }
}

/// Another browser on the same server, on the client network `address`
/// (test servers read it from `X-Forwarded-For`, as behind a proxy).
pub fn browser_at(app: &TestApp, address: &str) -> TestApp {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, app.address.parse().unwrap());
    headers.insert("x-forwarded-for", address.parse().unwrap());
    TestApp {
        address: app.address.clone(),
        store: app.store.clone(),
        clock: app.clock.clone(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .default_headers(headers)
            .build()
            .unwrap(),
        db_url: app.db_url.clone(),
    }
}

/// A citizen in their own browser, holding their passkey.
pub struct Person {
    pub app: TestApp,
    pub auth: SoftAuthenticator,
    pub national_id: String,
}

impl Person {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.app.get(path).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.app.post_json(path, body).await
    }

    /// POSTs and returns the JSON body, asserting the status.
    pub async fn post_ok(&self, path: &str, body: &Value, status: u16) -> Value {
        let response = self.post(path, body).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// GETs and returns the JSON body, asserting 200.
    pub async fn get_ok(&self, path: &str) -> Value {
        let response = self.get(path).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A fresh passkey sign-in (a new session with a new auth_time).
    pub async fn sign_in_again(&mut self) {
        let response = login_with(&self.app, &mut self.auth, None, &Tweaks::default()).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "sign-in: {text}");
    }

    /// `GET /api/v1/me`.
    pub async fn me(&self) -> Value {
        self.get_ok("/api/v1/me").await
    }
}

/// The self-service enrollment form.
pub fn form(given: &str, family: &str, birth_date: &str, region: &str) -> Value {
    json!({
        "given_name": given,
        "family_name": family,
        "birth_date": birth_date,
        "region": region,
    })
}

/// Enrolls through self-service (level 1) in a new browser.
pub async fn self_enrolled(app: &TestApp, form: &Value) -> Person {
    let browser = new_browser(app);
    let mut auth = SoftAuthenticator::new(&app.address);
    let started = start_enrollment(&browser, form).await;
    let credential = auth.create(&started["publicKey"]);
    let response = finish(&browser, ENROLL_FINISH, &started, credential).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "self-service enrollment: {body}");
    Person {
        app: browser,
        auth,
        national_id: body["national_id"].as_str().unwrap().to_string(),
    }
}

/// A level-1 citizen called `given` Okafor, born 1990-04-12, in `region`.
pub async fn citizen_in(app: &TestApp, given: &str, region: &str) -> Person {
    self_enrolled(app, &form(given, "Okafor", "1990-04-12", region)).await
}

/// `POST /api/v1/enrollment/start` with an activation code.
pub async fn start_with_code(app: &TestApp, code: &str, birth_date: &str) -> reqwest::Response {
    app.post_json(
        steps::ENROLLMENT_START,
        &json!({"activation_code": code, "birth_date": birth_date}),
    )
    .await
}

/// Enrolls from the register with a letter's code, in a new browser.
pub async fn enroll_with_code(app: &TestApp, code: &str, birth_date: &str) -> Person {
    let browser = new_browser(app);
    let mut auth = SoftAuthenticator::new(&app.address);
    let response = start_with_code(&browser, code, birth_date).await;
    let status = response.status();
    let started: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "start with code {code}: {started}");
    let credential = auth.create(&started["publicKey"]);
    let response = finish(&browser, ENROLL_FINISH, &started, credential).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "finish with code {code}: {body}");
    Person {
        app: browser,
        auth,
        national_id: body["national_id"].as_str().unwrap().to_string(),
    }
}

/// The token in an invitation URL (after `#`).
pub fn token_from_url(url: &str) -> String {
    url.split_once('#')
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| panic!("no token in invitation URL {url}"))
}

/// An invitation made through the library (as the CLI does), its token.
pub async fn invitation_token(app: &TestApp, role: Role, regions: &[&str]) -> String {
    let regions: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
    let offer = civitas::staff::invitations::Offer {
        role,
        regions: &regions,
        for_national_id: None,
    };
    let invitation = civitas::staff::invitations::create(
        &app.store,
        &app.address,
        offer,
        "test".to_string(),
        app.clock.unix(),
    )
    .await
    .unwrap();
    token_from_url(&invitation.url)
}

/// `POST /api/v1/staff/invitations/accept` in `person`'s browser.
pub async fn accept(person: &Person, token: &str) -> reqwest::Response {
    person
        .post("/api/v1/staff/invitations/accept", &json!({"token": token}))
        .await
}

/// A citizen of CAP-C, verified to level 2 (as staff are: the admin and
/// registrar roles need it), who accepted an invitation to `role`.
pub async fn staff(app: &TestApp, given: &str, role: Role, regions: &[&str]) -> Person {
    let person = citizen_in(app, given, "CAP-C").await;
    verified_in_store(app, &person).await;
    let token = invitation_token(app, role, regions).await;
    let response = accept(&person, &token).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "accepting the {role:?} invitation: {text}");
    person
}

/// Raises `person` to level 2 directly in the store: test set-up standing
/// for a registrar's in-person verification.
pub async fn verified_in_store(app: &TestApp, person: &Person) {
    let me = person.me().await;
    let nid = civitas::domain::NationalId::parse(me["national_id"].as_str().unwrap()).unwrap();
    let citizen = app
        .store
        .find_citizen_by_national_id(&nid)
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.store.begin().await.unwrap();
    assert!(
        tx.raise_to_verified(citizen.id, app.clock.unix())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

pub async fn admin(app: &TestApp) -> Person {
    staff(app, "Adminna", Role::Admin, &[]).await
}

pub async fn auditor(app: &TestApp) -> Person {
    staff(app, "Audra", Role::Auditor, &[]).await
}

/// A registrar named `given`, for `regions`.
pub async fn registrar(app: &TestApp, given: &str, regions: &[&str]) -> Person {
    staff(app, given, Role::Registrar, regions).await
}

/// A register file with the phone column.
pub fn register_csv(rows: &[[&str; 6]]) -> String {
    let mut out = String::from("register_ref,given_name,family_name,birth_date,region,phone\n");
    for row in rows {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// `POST /api/v1/admin/register/imports` with `body` as text/csv.
pub async fn upload(admin: &Person, body: impl Into<reqwest::Body>) -> reqwest::Response {
    admin
        .app
        .client
        .post(admin.app.url("/api/v1/admin/register/imports"))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("request failed")
}

/// One line of the letters file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub register_ref: String,
    pub given_name: String,
    pub family_name: String,
    pub region: String,
    pub phone: String,
    pub code: String,
    /// The last day the code works (`YYYY-MM-DD`).
    pub expires_on: String,
}

pub const LETTERS_HEADER: [&str; 7] = [
    "register_ref",
    "given_name",
    "family_name",
    "region",
    "phone",
    "activation_code",
    "expires_on",
];

/// Reads a letters CSV, checking its header.
pub fn parse_letters(data: &[u8]) -> Vec<Letter> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, LETTERS_HEADER, "letters header");
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Letter {
                register_ref: r[0].to_string(),
                given_name: r[1].to_string(),
                family_name: r[2].to_string(),
                region: r[3].to_string(),
                phone: r[4].to_string(),
                code: r[5].to_string(),
                expires_on: r[6].to_string(),
            }
        })
        .collect()
}

/// Imports over HTTP, asserting 201; returns the letters.
pub async fn import_ok(admin: &Person, csv: &str) -> Vec<Letter> {
    let response = upload(admin, csv.to_string()).await;
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(
        status,
        201,
        "import: {}",
        String::from_utf8_lossy(&body[..body.len().min(2000)])
    );
    parse_letters(&body)
}

/// Imports one resident and returns their letter.
pub async fn one_resident(admin: &Person, row: [&str; 6]) -> Letter {
    import_ok(admin, &register_csv(&[row]))
        .await
        .pop()
        .expect("one letter")
}

/// Every table a refused request must leave alone, with its row count.
pub async fn snapshot(app: &TestApp) -> Vec<(Table, i64)> {
    use Table::*;
    let mut out = Vec::new();
    for table in [
        Citizens,
        Passkeys,
        Sessions,
        UsedCeremonies,
        EnrollmentDuplicates,
        CredentialIncidents,
        RegisterEntries,
        RegisterImports,
        AuditEntries,
        StaffRoles,
        StaffInvitations,
        VerificationRequests,
        ProofingRecords,
        Grants,
        Campaigns,
        CampaignRegions,
        CampaignCounts,
    ] {
        out.push((table, app.store.count_rows(table).await.unwrap()));
    }
    out
}

/// Rows per table as comparable text (Table has no PartialEq).
pub async fn counts(app: &TestApp) -> Vec<String> {
    snapshot(app)
        .await
        .into_iter()
        .map(|(t, n)| format!("{t:?}={n}"))
        .collect()
}

pub async fn count(app: &TestApp, table: Table) -> i64 {
    app.store.count_rows(table).await.unwrap()
}

/// Sends `request` (a future, so it has not run yet), asserts the error,
/// and asserts that no table gained or lost a row.
pub async fn refused<F>(app: &TestApp, request: F, status: u16, code: &str, case: &str)
where
    F: Future<Output = reqwest::Response>,
{
    let before = counts(app).await;
    let response = request.await;
    assert_error(response, status, code, case).await;
    assert_eq!(counts(app).await, before, "case {case}: rows changed");
}

/// Audit entries with `action`, newest first.
pub async fn audit_entries(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    app.store
        .audit_entries(&AuditFilter {
            action: Some(action.to_string()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

/// Every audit entry, oldest first.
pub async fn all_audit_entries(app: &TestApp) -> Vec<AuditEntry> {
    app.store.audit_page(0, 100_000).await.unwrap()
}

/// Moves the test clock up to the system clock, which the `civitas` binary
/// uses, so that what the binary dates is not in the server's future.
pub fn catch_up_with_system_clock(app: &TestApp) {
    let behind = civitas::clock::Clock::System.now() - app.clock.now();
    if behind.is_positive() {
        app.clock.advance(behind);
    }
}

/// Runs one statement directly on the database, bypassing the application.
pub async fn execute_sql(store: &Store, sql: &str) -> Result<u64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match store.pool() {
        Pool::Sqlite(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Pool::Postgres(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    }
}

/// Runs one query returning one integer directly on the database.
pub async fn select_i64(store: &Store, sql: &str) -> i64 {
    let query = sqlx::AssertSqlSafe(sql.to_string());
    let result = match store.pool() {
        Pool::Sqlite(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        Pool::Postgres(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
    };
    result.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// True on the SQLite backend.
pub fn is_sqlite(app: &TestApp) -> bool {
    matches!(app.store.pool(), Pool::Sqlite(_))
}

/// `GET /api/v1/registrar/citizens/{national_id}` as `registrar`.
pub async fn citizen_view(registrar: &Person, national_id: &str) -> Value {
    registrar
        .get_ok(&format!("/api/v1/registrar/citizens/{national_id}"))
        .await
}

/// The path of a registrar action on a citizen.
pub fn desk(national_id: &str, action: &str) -> String {
    format!("/api/v1/registrar/citizens/{national_id}/{action}")
}
