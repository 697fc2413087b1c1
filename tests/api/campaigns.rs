//! Enrollment campaigns: creating and changing them, the counters kept with
//! every enrollment and lifecycle change (checked against a recount), the
//! projection arithmetic as the API reports it, the CSV exports, the
//! dashboard pages and the demo country.

use civitas::store::{Pool, Store, Table};
use serde_json::{Value, json};
use time::Duration;

use crate::support::app::TestApp;
use crate::support::registry::*;

const CAMPAIGNS: &str = "/api/v1/admin/campaigns";

fn campaign_body(name: &str, regions: &[&str], starts: &str, deadline: &str) -> Value {
    json!({ "name": name, "regions": regions, "starts_on": starts, "deadline": deadline })
}

/// Creates a campaign as `admin`; returns its id.
async fn create(admin: &Person, body: &Value) -> String {
    let created = admin.post_ok(CAMPAIGNS, body, 201).await;
    created["id"].as_str().unwrap().to_string()
}

/// Changes campaign `id` as `admin`, asserting 200; returns it.
async fn put(admin: &Person, id: &str, body: &Value) -> Value {
    let response = admin
        .app
        .send_json(reqwest::Method::PUT, &format!("{CAMPAIGNS}/{id}"), body)
        .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "PUT {id}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn progress(admin: &Person, id: &str, query: &str) -> Value {
    admin
        .get_ok(&format!("{CAMPAIGNS}/{id}/progress{query}"))
        .await
}

/// Rows of a query on the test database: text key and four numbers.
async fn rows(store: &Store, sql: &str) -> Vec<(String, i64, i64, i64, i64)> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match store.pool() {
        Pool::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        Pool::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
    }
}

/// Every campaign region: (campaign/region, counted by the counters,
/// counted from the citizens, register rows recounted, register_rows kept).
const RECOUNT: &str = "SELECT CAST(c.name AS TEXT) || '/' || cr.region_code, \
     CAST((SELECT COALESCE(SUM(cc.enrolled), 0) FROM campaign_counts cc \
       WHERE cc.campaign_id = c.id AND cc.region_code = cr.region_code) AS BIGINT), \
     (SELECT COUNT(*) FROM citizens ci WHERE ci.region_code = cr.region_code \
       AND ci.status IN ('active', 'suspended') \
       AND (c.born_by IS NULL OR ci.birth_date <= c.born_by)), \
     (SELECT COUNT(*) FROM register_entries e WHERE e.region_code = cr.region_code \
       AND (c.born_by IS NULL OR e.birth_date <= c.born_by)), \
     cr.register_rows \
     FROM campaign_regions cr JOIN campaigns c ON c.id = cr.campaign_id \
     ORDER BY 1";

/// The region counters against the citizens, per region.
const RECOUNT_REGIONS: &str = "SELECT r.code, \
     CAST((SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_counts e \
       WHERE e.region_code = r.code) AS BIGINT), \
     (SELECT COUNT(*) FROM citizens ci WHERE ci.region_code = r.code \
       AND ci.status IN ('active', 'suspended')), CAST(0 AS BIGINT), CAST(0 AS BIGINT) \
     FROM regions r ORDER BY 1";

/// Asserts every counter equals a recount from the records; returns how
/// many people the counters hold in all campaigns.
async fn assert_counters_match(app: &TestApp, when: &str) -> i64 {
    let campaigns = rows(&app.store, RECOUNT).await;
    assert!(!campaigns.is_empty(), "{when}: no campaign regions");
    for (key, counted, recounted, register, kept) in &campaigns {
        assert_eq!(counted, recounted, "{when}: enrolled in {key}");
        assert_eq!(register, kept, "{when}: register rows in {key}");
    }
    for (region, counted, recounted, _, _) in rows(&app.store, RECOUNT_REGIONS).await {
        assert_eq!(counted, recounted, "{when}: region counter of {region}");
    }
    campaigns.iter().map(|c| c.1).sum()
}

/// A new day: the test clock moves on and staff sign in again.
async fn next_day(app: &TestApp, staff: &mut [&mut Person]) {
    app.clock.advance(Duration::days(1));
    for person in staff {
        person.sign_in_again().await;
    }
}

async fn counters_equal_a_recount_after_enrollments_merges_and_revocations(app: TestApp) {
    let mut admin = admin(&app).await;
    let mut registrar = registrar(&app, "Rita", &["CAP", "NTH", "EST"]).await;
    let letters = import_ok(
        &admin,
        &register_csv(&[
            ["N-1", "Ifeoma", "Okafor", "1990-04-12", "NTH-HL", ""],
            ["N-2", "Bayo", "Adeyemi", "2012-06-01", "NTH-HL", ""],
            [
                "N-3",
                "Chidi",
                "Eze",
                "1985-01-30",
                "NTH-LK",
                "+2348012345678",
            ],
            ["N-4", "Kemi", "Bello", "2009-01-01", "NTH-RV", ""],
            ["C-1", "Amara", "Nwosu", "1970-02-02", "CAP-C", ""],
            ["C-2", "Tunde", "Ola", "2001-07-07", "CAP-H", ""],
        ]),
    )
    .await;
    let code = |r: &str| {
        letters
            .iter()
            .find(|l| l.register_ref == r)
            .unwrap()
            .code
            .clone()
    };
    // Two campaigns before anyone enrolls: everyone in the North and the
    // capital, and adults (18 on 2026-12-31) of the North with a number.
    let everyone = create(
        &admin,
        &campaign_body("Everyone", &["NTH", "CAP"], "2026-11-20", "2026-12-31"),
    )
    .await;
    let mut adults_body = campaign_body("Adults", &["NTH"], "2026-11-20", "2026-12-31");
    adults_body["min_age"] = json!(18);
    adults_body["target"] = json!(5);
    let adults = create(&admin, &adults_body).await;
    assert_counters_match(&app, "created").await;

    // Day 1: two from the register, one on their own, one minor.
    let ifeoma_registered = enroll_with_code(&app, &code("N-1"), "1990-04-12").await;
    enroll_with_code(&app, &code("N-2"), "2012-06-01").await;
    let selfie = self_enrolled(&app, &form("Chidi", "Eze", "1985-01-30", "NTH-LK")).await;
    let day1 = assert_counters_match(&app, "day 1").await;
    assert!(day1 > 0);

    // Day 2: someone on their own, two from the register.
    next_day(&app, &mut [&mut admin, &mut registrar]).await;
    let kofi = citizen_in(&app, "Kofi", "NTH-RV").await;
    enroll_with_code(&app, &code("N-4"), "2009-01-01").await;
    enroll_with_code(&app, &code("C-1"), "1970-02-02").await;
    assert_counters_match(&app, "day 2").await;

    // Day 3: a register enrollment that matches the self-enrolled Chidi
    // opens a case; merging revokes one record. Then a revocation, a death,
    // and a suspension with reinstatement.
    next_day(&app, &mut [&mut admin, &mut registrar]).await;
    let chidi = enroll_with_code(&app, &code("N-3"), "1985-01-30").await;
    let open = registrar.get_ok("/api/v1/registrar/duplicates").await["duplicates"].clone();
    let case = open
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["given_name"] == "Chidi")
        .expect("a case for Chidi")["id"]
        .as_str()
        .unwrap()
        .to_string();
    registrar
        .post_ok(
            &format!("/api/v1/registrar/duplicates/{case}/merge"),
            &json!({"survivor": chidi.national_id}),
            200,
        )
        .await;
    let folded = citizen_view(&registrar, &selfie.national_id).await;
    assert_eq!(folded["status"], "revoked");
    assert_counters_match(&app, "after the merge").await;
    registrar
        .post_ok(
            &desk(&kofi.national_id, "revoke"),
            &json!({"reason": "identity fraud"}),
            200,
        )
        .await;
    let tunde = enroll_with_code(&app, &code("C-2"), "2001-07-07").await;
    registrar
        .post_ok(
            &desk(&tunde.national_id, "death"),
            &json!({"date_of_death": "2026-11-30"}),
            200,
        )
        .await;
    registrar
        .post_ok(
            &desk(&ifeoma_registered.national_id, "suspend"),
            &json!({"reason": "lost phone reported"}),
            200,
        )
        .await;
    assert_counters_match(&app, "after revocation, death and suspension").await;
    registrar
        .post_ok(
            &desk(&ifeoma_registered.national_id, "reinstate"),
            &json!({"reason": "phone found"}),
            200,
        )
        .await;
    assert_counters_match(&app, "after reinstatement").await;

    // The API reads the same numbers: the whole scope and a drill-down.
    let everyone_now = progress(&admin, &everyone, "").await;
    let recount = rows(&app.store, RECOUNT).await;
    let sum = |prefix: &str| -> i64 {
        recount
            .iter()
            .filter(|r| r.0.starts_with(prefix))
            .map(|r| r.2)
            .sum()
    };
    assert_eq!(everyone_now["totals"]["enrolled"], sum("Everyone/"));
    assert_eq!(everyone_now["totals"]["target"], 6);
    let north = progress(&admin, &everyone, "?region=NTH").await;
    assert_eq!(north["totals"]["enrolled"], sum("Everyone/NTH"));
    let adults_now = progress(&admin, &adults, "").await;
    assert_eq!(adults_now["totals"]["enrolled"], sum("Adults/"));
    assert_eq!(adults_now["totals"]["target"], 5);
    // Bayo (2012) and Kemi (2009-01-01, 17 on the deadline) are not adults.
    let adult_rows: i64 = recount
        .iter()
        .filter(|r| r.0.starts_with("Adults/"))
        .map(|r| r.4)
        .sum();
    assert_eq!(adult_rows, 2);

    // Campaigns made now start from the records: one without a cohort (from
    // the region counters) and one with (from the citizens, once).
    let late = create(
        &admin,
        &campaign_body(
            "Late",
            &["NTH-HL", "NTH-LK", "CAP"],
            "2026-11-01",
            "2027-01-31",
        ),
    )
    .await;
    let mut late_adults = campaign_body("Late adults", &["NTH", "CAP"], "2026-11-01", "2027-01-31");
    late_adults["min_age"] = json!(18);
    create(&admin, &late_adults).await;
    assert_counters_match(&app, "campaigns made later").await;

    // A later import counts into the campaigns covering it.
    import_ok(
        &admin,
        &register_csv(&[
            ["N-5", "Musa", "Bala", "1960-03-03", "NTH-RV", ""],
            ["N-6", "Ada", "Obi", "2020-03-03", "NTH-RV", ""],
        ]),
    )
    .await;
    assert_counters_match(&app, "after a second import").await;

    // Changing the scope rebuilds the counters; changing only the name
    // keeps them.
    let counts_before = count(&app, Table::CampaignCounts).await;
    let mut renamed = campaign_body(
        "Late (renamed)",
        &["NTH-HL", "NTH-LK", "CAP"],
        "2026-11-01",
        "2027-01-31",
    );
    put(&admin, &late, &renamed).await;
    assert_eq!(count(&app, Table::CampaignCounts).await, counts_before);
    renamed["regions"] = json!(["EST"]);
    let changed = put(&admin, &late, &renamed).await;
    assert_eq!(changed["regions"], json!(["EST"]));
    assert_counters_match(&app, "after changing a scope").await;
    let updates = audit_entries(&app, "campaign.update").await;
    assert_eq!(updates.len(), 2);
    assert!(
        updates[0].details.contains("\"EST\""),
        "{}",
        updates[0].details
    );
    assert_eq!(audit_entries(&app, "campaign.create").await.len(), 4);
}

/// JSON numbers are read back within a rounding step.
fn assert_close(v: &Value, expected: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - expected).abs() < 1e-12, "{got} is not {expected}");
}

/// Enrolls `n` people of `region` on their own, named from `tag`.
async fn enroll_many(app: &TestApp, region: &str, tag: &str, n: usize) {
    for i in 0..n {
        citizen_in(app, &format!("{tag}{}", (b'a' + i as u8) as char), region).await;
    }
}

async fn the_projection_arithmetic_as_the_api_reports_it(app: TestApp) {
    let mut admin = admin(&app).await; // enrolled in CAP-C on 28 November
    let register: Vec<[String; 6]> = (1..=10)
        .map(|i| {
            [
                format!("P-{i}"),
                "Amara".into(),
                format!("Nwosu{i}"),
                "1980-01-01".into(),
                "CAP-C".into(),
                String::new(),
            ]
        })
        .collect();
    let register: Vec<[&str; 6]> = register
        .iter()
        .map(|r| std::array::from_fn(|i| r[i].as_str()))
        .collect();
    import_ok(&admin, &register_csv(&register)).await;
    let running = create(
        &admin,
        &campaign_body("Capital", &["CAP"], "2026-11-28", "2026-12-03"),
    )
    .await;
    let upcoming = create(
        &admin,
        &campaign_body("Upcoming", &["CAP"], "2026-12-10", "2026-12-20"),
    )
    .await;
    let mut past = campaign_body("Past", &["CAP"], "2026-11-01", "2026-11-29");
    past["target"] = json!(12);
    let past = create(&admin, &past).await;

    enroll_many(&app, "CAP-C", "Day", 1).await; // 2 on the 28th with the admin
    next_day(&app, &mut [&mut admin]).await;
    enroll_many(&app, "CAP-C", "Next", 3).await; // 3 on the 29th
    next_day(&app, &mut [&mut admin]).await; // today: 30 November

    // Running: 5 of 10; the rate over the 28th and 29th is 2.5 a day; 4 days
    // left (30 Nov to 3 Dec) need 1.25 a day; 5 more take 2 days.
    let p = progress(&admin, &running, "").await;
    let t = &p["totals"];
    assert_eq!(p["as_of"], "2026-11-30");
    assert_eq!(t["enrolled"], 5);
    assert_eq!(t["target"], 10);
    assert_eq!(t["percent"], 50.0);
    assert_eq!(t["days_left"], 4);
    assert_eq!(t["daily_rate"], 2.5);
    assert_eq!(t["needed_rate"], 1.25);
    assert_eq!(t["projected_completion"], "2026-12-01");
    assert_eq!(t["projected_at_deadline"], 15);
    assert_eq!(t["status"], "on_track");
    let days: Vec<(String, i64)> = p["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().into(),
                d["enrolled"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-28".to_string(), 2),
            ("2026-11-29".to_string(), 5),
            ("2026-11-30".to_string(), 5)
        ]
    );
    // The capital's districts: all register rows are in CAP-C; CAP-H has a
    // zero target, no percentage and no need, and sorts last.
    let regions = progress(&admin, &running, "?region=CAP").await["regions"].clone();
    assert_eq!(regions[0]["code"], "CAP-C");
    assert_eq!(regions[1]["code"], "CAP-H");
    assert_eq!(regions[1]["target"], 0);
    assert_eq!(regions[1]["percent"], Value::Null);
    assert_eq!(regions[1]["needed_rate"], Value::Null);
    assert_eq!(regions[1]["status"], "no_target");

    // Not started: the whole 11 days ahead; no rate, no projection.
    let t = progress(&admin, &upcoming, "").await["totals"].clone();
    assert_eq!(t["status"], "not_started");
    assert_eq!(t["daily_rate"], 0.0);
    assert_close(&t["needed_rate"], 5.0 / 11.0);
    assert_eq!(t["days_left"], 21);
    assert_eq!(t["projected_completion"], Value::Null);

    // Past its deadline short of 12: missed. The rate is over the 7 days
    // before today (23 to 29 November): 5 in 7 days; 7 more take 10 days.
    let t = progress(&admin, &past, "").await["totals"].clone();
    assert_eq!(t["status"], "missed");
    assert_eq!(t["days_left"], 0);
    assert_eq!(t["needed_rate"], Value::Null);
    assert_close(&t["daily_rate"], 5.0 / 7.0);
    assert_eq!(t["projected_completion"], "2026-12-09");

    // The dashboard lists the three with their status, and states the rule.
    let list = admin.get_ok(CAMPAIGNS).await;
    let statuses: Vec<&str> = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["totals"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["missed", "on_track", "not_started"]);
    assert!(list["status_rule"].as_str().unwrap().contains("80%"));
}

/// Parses a CSV download: header and rows.
fn parse_csv(data: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(data);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

async fn download(person: &Person, path: &str) -> Vec<u8> {
    let response = person.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8",
        "{path}"
    );
    response.bytes().await.unwrap().to_vec()
}

fn decimal(v: &Value) -> String {
    v.as_f64().map(|v| format!("{v:.2}")).unwrap_or_default()
}

async fn the_csv_exports_parse_back_to_the_table(app: TestApp) {
    let admin = admin(&app).await;
    let rows: Vec<[String; 6]> = (0..230)
        .map(|i| {
            let region = ["NTH-HL", "NTH-LK", "NTH-RV", "CAP-C"][i % 4];
            [
                format!("X-{i:04}"),
                "Zainab".into(),
                format!("Ibrahim{i}"),
                "1999-09-09".into(),
                region.into(),
                if i % 3 == 0 {
                    format!("+23480{i:08}")
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    let rows: Vec<[&str; 6]> = rows
        .iter()
        .map(|r| std::array::from_fn(|i| r[i].as_str()))
        .collect();
    let letters = import_ok(&admin, &register_csv(&rows)).await;
    for letter in letters.iter().filter(|l| l.region == "NTH-LK").take(5) {
        enroll_with_code(&app, &letter.code, "1999-09-09").await;
    }
    let id = create(
        &admin,
        &campaign_body("North", &["NTH", "CAP"], "2026-11-01", "2026-12-31"),
    )
    .await;

    for query in [
        "",
        "?sort=name&dir=desc",
        "?region=NTH",
        "?region=NTH&sort=enrolled&dir=desc",
    ] {
        let report = progress(&admin, &id, query).await;
        let csv = download(&admin, &format!("{CAMPAIGNS}/{id}/regions.csv{query}")).await;
        let (header, lines) = parse_csv(&csv);
        assert_eq!(
            header,
            [
                "region_code",
                "region",
                "enrolled",
                "target",
                "percent",
                "days_left",
                "daily_rate",
                "needed_rate",
                "projected_completion",
                "projected_at_deadline",
                "status"
            ]
        );
        let table = report["regions"].as_array().unwrap();
        assert!(!table.is_empty(), "{query}");
        assert_eq!(lines.len(), table.len(), "{query}");
        for (line, r) in lines.iter().zip(table) {
            let expected = [
                r["code"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
                r["enrolled"].to_string(),
                r["target"].to_string(),
                decimal(&r["percent"]),
                r["days_left"].to_string(),
                decimal(&r["daily_rate"]),
                decimal(&r["needed_rate"]),
                r["projected_completion"].as_str().unwrap_or("").to_string(),
                r["projected_at_deadline"].to_string(),
                r["status"].as_str().unwrap().to_string(),
            ];
            assert_eq!(line, &expected, "{query}");
        }
    }

    // Not yet enrolled: the stream holds exactly the pages, in order, and a
    // region filter keeps its sub-tree.
    let mut paged = Vec::new();
    let mut next = String::new();
    loop {
        let page = admin
            .get_ok(&format!("{CAMPAIGNS}/{id}/pending?limit=40{next}"))
            .await;
        for r in page["rows"].as_array().unwrap() {
            paged.push(vec![
                r["register_ref"].as_str().unwrap().to_string(),
                r["given_name"].as_str().unwrap().to_string(),
                r["family_name"].as_str().unwrap().to_string(),
                r["birth_date"].as_str().unwrap().to_string(),
                r["region_code"].as_str().unwrap().to_string(),
                r["phone"].as_str().unwrap_or("").to_string(),
            ]);
        }
        match page["next"].as_object() {
            Some(n) => {
                next = format!(
                    "&after_region={}&after_ref={}",
                    n["after_region"].as_str().unwrap(),
                    n["after_ref"].as_str().unwrap()
                )
            }
            None => break,
        }
    }
    assert_eq!(paged.len(), 225);
    let (header, streamed) =
        parse_csv(&download(&admin, &format!("{CAMPAIGNS}/{id}/pending.csv")).await);
    assert_eq!(
        header,
        [
            "register_ref",
            "given_name",
            "family_name",
            "birth_date",
            "region_code",
            "phone"
        ]
    );
    assert_eq!(streamed, paged);
    let mut sorted = paged.clone();
    sorted.sort_by(|a, b| (&a[4], &a[0]).cmp(&(&b[4], &b[0])));
    assert_eq!(paged, sorted, "by region, then reference");
    let (_, lake) = parse_csv(
        &download(
            &admin,
            &format!("{CAMPAIGNS}/{id}/pending.csv?region=nth-lk"),
        )
        .await,
    );
    assert_eq!(lake.len(), 58 - 5);
    assert!(lake.iter().all(|r| r[4] == "NTH-LK"));
    let (_, north) =
        parse_csv(&download(&admin, &format!("{CAMPAIGNS}/{id}/pending.csv?region=NTH")).await);
    assert_eq!(north.len(), 225 - 57);
}

async fn bad_requests_change_nothing(app: TestApp) {
    let mut admin = admin(&app).await;
    let id = create(
        &admin,
        &campaign_body("North", &["NTH"], "2026-11-01", "2026-12-31"),
    )
    .await;
    let good = campaign_body("Another", &["CAP"], "2026-11-01", "2026-12-31");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (case, body, field) in [
        ("blank name", with("name", json!("  ")), "name"),
        (
            "unknown region",
            with("regions", json!(["ATLANTIS"])),
            "regions",
        ),
        ("no region", with("regions", json!([])), "regions"),
        ("negative age", with("min_age", json!(-3)), "min_age"),
        ("zero target", with("target", json!(0)), "target"),
        ("bad start", with("starts_on", json!("1 Nov")), "starts_on"),
        (
            "deadline first",
            with("deadline", json!("2026-10-01")),
            "deadline",
        ),
        // A cohort's last birth date would fall before year 1, which no
        // date in the answer can say.
        (
            "start in year 1",
            json!({"name": "Old", "regions": ["CAP"], "min_age": 130,
                   "starts_on": "0001-01-01", "deadline": "0001-01-02"}),
            "starts_on",
        ),
        (
            "deadline in year 9999",
            with("deadline", json!("9999-12-31")),
            "deadline",
        ),
    ] {
        let before = counts(&app).await;
        let response = admin.post(CAMPAIGNS, &body).await;
        assert_eq!(response.status(), 422, "{case}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_campaign", "{case}");
        assert_eq!(error["errors"][0]["field"], field, "{case}");
        assert!(!error["error_description"].as_str().unwrap().is_empty());
        assert_eq!(counts(&app).await, before, "{case}: rows changed");
    }
    refused(
        &app,
        admin.post(CAMPAIGNS, &json!({"name": "x"})),
        400,
        "invalid_request",
        "missing fields",
    )
    .await;
    refused(
        &app,
        admin.post(CAMPAIGNS, &with("colour", json!("red"))),
        400,
        "invalid_request",
        "unknown field",
    )
    .await;
    for (case, path, status, code) in [
        (
            "unknown campaign",
            format!("{CAMPAIGNS}/00000000-0000-4000-8000-000000000000/progress"),
            404,
            "not_found",
        ),
        (
            "malformed id",
            format!("{CAMPAIGNS}/nope/progress"),
            404,
            "not_found",
        ),
        (
            "region outside the scope",
            format!("{CAMPAIGNS}/{id}/progress?region=CAP"),
            400,
            "region_not_in_scope",
        ),
        (
            "bad sort",
            format!("{CAMPAIGNS}/{id}/progress?sort=colour"),
            400,
            "invalid_sort",
        ),
        (
            "bad direction",
            format!("{CAMPAIGNS}/{id}/progress?dir=up"),
            400,
            "invalid_sort",
        ),
        (
            "bad limit",
            format!("{CAMPAIGNS}/{id}/pending?limit=0"),
            400,
            "invalid_limit",
        ),
        (
            "half a cursor",
            format!("{CAMPAIGNS}/{id}/pending?after_ref=X"),
            400,
            "invalid_cursor",
        ),
        (
            "csv of another region",
            format!("{CAMPAIGNS}/{id}/pending.csv?region=WST"),
            400,
            "region_not_in_scope",
        ),
    ] {
        refused(&app, admin.get(&path), status, code, case).await;
    }
    refused(
        &app,
        admin.app.send_json(
            reqwest::Method::PUT,
            &format!("{CAMPAIGNS}/00000000-0000-4000-8000-000000000000"),
            &good,
        ),
        404,
        "not_found",
        "changing an unknown campaign",
    )
    .await;

    // Others may not read or write campaigns.
    let citizen = citizen_in(&app, "Nobody", "CAP-H").await;
    refused(
        &app,
        citizen.post(CAMPAIGNS, &good),
        403,
        "role_required",
        "a citizen creates",
    )
    .await;
    refused(
        &app,
        citizen.get(&format!("{CAMPAIGNS}/{id}/progress")),
        403,
        "role_required",
        "a citizen reads",
    )
    .await;
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    refused(
        &app,
        registrar.get(CAMPAIGNS),
        403,
        "role_required",
        "a registrar reads",
    )
    .await;
    let stranger = new_browser(&app);
    refused(
        &app,
        stranger.get(&format!("{CAMPAIGNS}/{id}/pending.csv")),
        401,
        "not_signed_in",
        "signed out",
    )
    .await;
    // Writing needs a recent passkey sign-in.
    app.clock.advance(Duration::minutes(16));
    admin.sign_in_again().await;
    app.clock.advance(Duration::minutes(16));
    refused(
        &app,
        admin.post(CAMPAIGNS, &good),
        403,
        "reauthentication_required",
        "stale sign-in",
    )
    .await;
}

async fn the_dashboard_and_campaign_pages(app: TestApp) {
    let admin = admin(&app).await;
    import_ok(
        &admin,
        &register_csv(&[
            [
                "D-1",
                "Lina",
                "Haddad",
                "1990-01-01",
                "NTH-HL",
                "+2348000000001",
            ],
            ["D-2", "Omar", "Haddad", "1991-01-01", "NTH-RV", ""],
        ]),
    )
    .await;
    let page = admin.get("/admin").await.text().await.unwrap();
    assert!(page.contains("id=\"no-campaigns\""), "{page}");
    let id = create(
        &admin,
        &campaign_body("North <drive>", &["NTH"], "2026-11-20", "2026-12-31"),
    )
    .await;
    let page = admin.get("/admin").await.text().await.unwrap();
    assert!(page.contains("North &#60;drive&#62;"), "{page}");
    assert!(page.contains(&format!("href=\"/admin/campaigns/{id}\"")));
    assert!(page.contains("id=\"status-rule\""));

    let page = admin
        .get(&format!("/admin/campaigns/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg class=\"burnup\""), "{page}");
    assert!(
        page.contains(
            "<title id=\"burnup-title\">Enrollments over time: North &lt;drive&gt;</title>"
        )
    );
    assert!(page.contains("<desc id=\"burnup-desc\">0 enrolled of a target of 2 on 2026-11-28"));
    assert!(page.contains("id=\"chart-text\""));
    for code in ["NTH-HL", "NTH-LK", "NTH-RV"] {
        assert!(page.contains(&format!("data-region=\"{code}\"")), "{code}");
    }
    assert!(page.contains(&format!("/api/v1/admin/campaigns/{id}/regions.csv")));
    let drilled = admin
        .get(&format!("/admin/campaigns/{id}?region=NTH-HL"))
        .await
        .text()
        .await
        .unwrap();
    assert!(drilled.contains("No sub-regions here."));
    assert!(drilled.contains("id=\"up\""));
    let pending = admin
        .get(&format!("/admin/campaigns/{id}/pending?region=NTH-HL"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        pending.contains("D-1") && !pending.contains("D-2"),
        "{pending}"
    );
    for path in ["/admin/campaigns", &format!("/admin/campaigns/{id}/edit")] {
        let response = admin.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("id=\"campaign-form\"")
        );
    }
    let missing = admin
        .get("/admin/campaigns/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(missing.status(), 404);
    let citizen = citizen_in(&app, "Nobody", "CAP-H").await;
    assert_eq!(citizen.get("/admin").await.status(), 403);
}

async fn the_demo_country(app: TestApp) {
    let out = civitas(&app, &["demo", "--people", "2000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("2000 register rows"), "{said}");
    assert_eq!(count(&app, Table::Campaigns).await, 2);
    assert_eq!(count(&app, Table::RegisterEntries).await, 2000);
    let enrolled = assert_counters_match(&app, "demo").await;
    assert!(enrolled > 500, "{enrolled}");
    // Its history spans five weeks of days.
    let days: Vec<(String, i64, i64, i64, i64)> = rows(
        &app.store,
        "SELECT CAST(COUNT(DISTINCT day) AS TEXT), COUNT(*), COUNT(*), COUNT(*), COUNT(*) \
         FROM campaign_counts",
    )
    .await;
    assert!(days[0].0.parse::<i64>().unwrap() >= 30, "{days:?}");
    // Only into an empty database.
    let again = civitas(&app, &["demo", "--people", "2000"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("empty database"),
        "{}",
        stderr(&again)
    );
    assert_eq!(count(&app, Table::RegisterEntries).await, 2000);

    catch_up_with_system_clock(&app);
    let admin = admin(&app).await;
    let list = admin.get_ok(CAMPAIGNS).await;
    assert_eq!(list["campaigns"].as_array().unwrap().len(), 2);
    let page = admin.get("/admin").await.text().await.unwrap();
    assert!(page.contains("National enrollment 2026"));
}

crate::on_both_backends!(
    counters_equal_a_recount_after_enrollments_merges_and_revocations,
    the_projection_arithmetic_as_the_api_reports_it,
    the_csv_exports_parse_back_to_the_table,
    bad_requests_change_nothing,
    the_dashboard_and_campaign_pages,
    the_demo_country,
);
