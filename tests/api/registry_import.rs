//! Importing the population register over HTTP and with the command line:
//! letters for good files, every bad line reported for bad ones, and
//! nothing imported unless everything is.

use civitas::registry::activation::ActivationCode;
use civitas::store::Table;
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::registry::*;

const HEADER: &str = "register_ref,given_name,family_name,birth_date,region,phone\n";

fn is_code_shape(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() == 4
        && parts[..3].iter().all(|p| {
            p.len() == 4
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        })
        && parts[3].len() == 1
}

async fn an_import_returns_one_letter_per_resident(app: TestApp) {
    let admin = admin(&app).await;
    let before_audit = count(&app, Table::AuditEntries).await;
    let csv = register_csv(&[
        [
            "R-001",
            "Adaeze",
            "Nwosu",
            "1985-02-14",
            "NTH-LK",
            "+2348012345678",
        ],
        ["R-002", "Emeka", "Obi", "1972-11-30", "CAP", ""],
        ["R-003", "  Ngozi  ", "Eze", "2001-06-01", "STH-CS", ""],
    ]);
    let response = upload(&admin, csv).await;
    assert_eq!(response.status(), 201);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-imported-rows"], "3");
    let letters = parse_letters(&response.bytes().await.unwrap());
    assert_eq!(letters.len(), 3);
    assert_eq!(
        (
            letters[0].register_ref.as_str(),
            letters[0].given_name.as_str(),
            letters[0].family_name.as_str(),
            letters[0].region.as_str(),
            letters[0].phone.as_str(),
        ),
        ("R-001", "Adaeze", "Nwosu", "NTH-LK", "+2348012345678")
    );
    assert_eq!(letters[1].phone, "");
    assert_eq!(letters[2].given_name, "Ngozi", "names are trimmed");
    for letter in &letters {
        assert!(is_code_shape(&letter.code), "{}", letter.code);
        assert!(
            ActivationCode::parse(&letter.code).is_ok(),
            "{}",
            letter.code
        );
    }
    assert_ne!(letters[0].code, letters[1].code);
    assert_ne!(letters[1].code, letters[2].code);

    assert_eq!(count(&app, Table::RegisterEntries).await, 3);
    assert_eq!(count(&app, Table::RegisterImports).await, 1);
    assert_eq!(count(&app, Table::AuditEntries).await, before_audit + 1);
    let entry = &audit_entries(&app, "register.import").await[0];
    assert_eq!(entry.actor, format!("citizen:{}", admin.national_id));
    assert!(entry.target.starts_with("import:"), "{}", entry.target);
    let details: Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details["rows"], 3);
    // The codes are not kept, not even in the audit log.
    for letter in &letters {
        assert!(!entry.details.contains(&letter.code));
        let data = letter.code.replace('-', "");
        assert!(!entry.details.contains(&data[..12]));
    }

    // The header without the phone column, CRLF line ends and a blank last
    // line are all fine.
    let plain = "register_ref,given_name,family_name,birth_date,region\r\n\
                 R-004,Tunde,Bello,1990-01-01,WST-OA\r\n\r\n";
    let letters = import_ok(&admin, plain).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].region, "WST-OA");
    assert_eq!(count(&app, Table::RegisterEntries).await, 4);
    assert_eq!(count(&app, Table::RegisterImports).await, 2);
}

async fn a_spreadsheet_export_with_a_byte_order_mark_imports(app: TestApp) {
    // Spreadsheet programs save "CSV UTF-8" with a BOM before the header.
    let admin = admin(&app).await;
    let csv = format!(
        "\u{feff}{}",
        register_csv(&[["R-1", "Ada", "Eze", "1980-01-01", "CAP", ""]])
    );
    let response = upload(&admin, csv).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "a BOM before the header is refused: {text}");
}

/// One bad file: the expected (line, words in the reason) of each error.
struct BadFile {
    case: &'static str,
    body: Vec<u8>,
    rows: u64,
    errors: Vec<(u64, Vec<&'static str>)>,
}

fn bad(
    case: &'static str,
    body: &str,
    rows: u64,
    errors: Vec<(u64, Vec<&'static str>)>,
) -> BadFile {
    BadFile {
        case,
        body: body.as_bytes().to_vec(),
        rows,
        errors,
    }
}

fn bad_files() -> Vec<BadFile> {
    let ok = "R-1,Ada,Eze,1980-01-01,CAP,\n";
    let mut non_utf8 = format!("{HEADER}{ok}").into_bytes();
    non_utf8.extend_from_slice(b"R-2,Ad\xffa,Eze,1980-01-01,CAP,\n");
    non_utf8.extend_from_slice(b"R-3,Bo,Eze,1980-01-01,CAP,\n");
    vec![
        bad(
            "wrong header",
            &format!("ref,given,family,birth,region\n{ok}"),
            0,
            vec![(1, vec!["header must be", "register_ref"])],
        ),
        bad(
            "header columns in another order",
            &format!("given_name,register_ref,family_name,birth_date,region\n{ok}"),
            0,
            vec![(1, vec!["header must be"])],
        ),
        bad("empty file", "", 0, vec![(1, vec!["empty"])]),
        bad(
            "bad date",
            &format!("{HEADER}{ok}R-2,Bo,Eze,1980-02-30,CAP,\n"),
            2,
            vec![(3, vec!["birth_date", "1980-02-30"])],
        ),
        bad(
            "date in another format",
            &format!("{HEADER}R-2,Bo,Eze,30/01/1980,CAP,\n{ok}"),
            2,
            vec![(2, vec!["birth_date", "30/01/1980"])],
        ),
        bad(
            "birth date in the future",
            &format!("{HEADER}{ok}R-2,Bo,Eze,2099-01-01,CAP,\n"),
            2,
            vec![(3, vec!["birth_date"])],
        ),
        bad(
            "unknown region",
            &format!("{HEADER}{ok}R-2,Bo,Eze,1980-01-01,ZZZ,\n"),
            2,
            vec![(3, vec!["region", "ZZZ"])],
        ),
        bad(
            "duplicate register_ref within the file",
            &format!("{HEADER}{ok}R-2,Bo,Eze,1980-01-01,CAP,\nR-1,Cy,Eze,1981-01-01,CAP,\n"),
            3,
            vec![(4, vec!["R-1", "line 2"])],
        ),
        bad(
            "empty given name",
            &format!("{HEADER}{ok}R-2,  ,Eze,1980-01-01,CAP,\n"),
            2,
            vec![(3, vec!["given_name"])],
        ),
        bad(
            "empty family name",
            &format!("{HEADER}R-2,Bo,,1980-01-01,CAP,\n"),
            1,
            vec![(2, vec!["family_name"])],
        ),
        bad(
            "empty register_ref",
            &format!("{HEADER}{ok},Bo,Eze,1980-01-01,CAP,\n"),
            2,
            vec![(3, vec!["register_ref"])],
        ),
        bad(
            "too few fields",
            &format!("{HEADER}{ok}R-2,Bo,Eze,1980-01-01\n"),
            2,
            vec![(3, vec!["found 4"])],
        ),
        bad(
            "too many fields",
            &format!("{HEADER}R-2,Bo,Eze,1980-01-01,CAP,+2348012345678,extra\n{ok}"),
            2,
            vec![(2, vec!["found 7"])],
        ),
        bad(
            "phone not in international form",
            &format!("{HEADER}{ok}R-2,Bo,Eze,1980-01-01,CAP,08012345678\n"),
            2,
            vec![(3, vec!["phone"])],
        ),
        bad(
            "several errors, reported together in line order",
            &format!(
                "{HEADER}{ok}R-2,Bo,Eze,1980-13-01,CAP,\nR-3,Cy,Eze,1980-01-01,CAP,\n\
                 R-1,Di,Eze,1980-01-01,CAP,\nR-5,Ed,Eze,1980-01-01,QQQ,\nR-6,Fe,Eze,1980-01-01\n"
            ),
            6,
            vec![
                (3, vec!["birth_date"]),
                (5, vec!["R-1", "line 2"]),
                (6, vec!["QQQ"]),
                (7, vec!["found 4"]),
            ],
        ),
        // A non-UTF-8 line is counted in `rows` like every other bad line.
        BadFile {
            case: "non-UTF-8 bytes",
            body: non_utf8,
            rows: 3,
            errors: vec![(3, vec!["UTF-8"])],
        },
    ]
}

fn check_report(case: &str, body: &Value, rows: u64, errors: &[(u64, Vec<&str>)]) {
    assert_eq!(
        body["error"], "invalid_register_file",
        "case {case}: {body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "case {case}: {body}"
    );
    assert_eq!(body["rows"], rows, "case {case}: rows in {body}");
    assert_eq!(
        body["error_count"],
        errors.len() as u64,
        "case {case}: error_count in {body}"
    );
    let got = body["errors"].as_array().unwrap();
    assert_eq!(got.len(), errors.len(), "case {case}: {body}");
    for (reported, (line, words)) in got.iter().zip(errors) {
        assert_eq!(reported["line"], *line, "case {case}: line in {body}");
        let reason = reported["reason"].as_str().unwrap();
        for word in words {
            assert!(
                reason.contains(word),
                "case {case}: reason {reason:?} lacks {word:?}"
            );
        }
    }
}

async fn bad_register_files_are_reported_line_by_line(app: TestApp) {
    let admin = admin(&app).await;
    // A register_ref taken by an earlier import.
    import_ok(
        &admin,
        &register_csv(&[["R-100", "Ada", "Eze", "1980-01-01", "CAP", ""]]),
    )
    .await;
    let before = counts(&app).await;
    let response = upload(
        &admin,
        register_csv(&[
            ["R-101", "Bo", "Eze", "1980-01-01", "CAP", ""],
            ["R-100", "Cy", "Eze", "1980-01-01", "CAP", ""],
        ]),
    )
    .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    check_report(
        "already in the registry",
        &body,
        2,
        &[(3, vec!["R-100", "already in the registry"])],
    );
    assert_eq!(counts(&app).await, before);

    for file in bad_files() {
        let before = counts(&app).await;
        let response = upload(&admin, file.body.clone()).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 422, "case {}: {text}", file.case);
        let body: Value = serde_json::from_str(&text).unwrap();
        check_report(file.case, &body, file.rows, &file.errors);
        assert_eq!(
            counts(&app).await,
            before,
            "case {}: rows changed",
            file.case
        );
    }
}

async fn uploads_over_16_mib_are_refused(app: TestApp) {
    let admin = admin(&app).await;
    let limit = 16 * 1024 * 1024;

    // A file just over the limit, with its length declared.
    let mut big = HEADER.as_bytes().to_vec();
    let row = b"R-1,Ada,Eze,1980-01-01,CAP,\n";
    while big.len() <= limit {
        big.extend_from_slice(row);
    }
    refused(
        &app,
        upload(&admin, big.clone()),
        413,
        "file_too_large",
        "declared length",
    )
    .await;

    // The same bytes streamed without a length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(1024 * 1024).map(|c| Ok(c.to_vec())).collect();
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    refused(
        &app,
        upload(&admin, stream),
        413,
        "file_too_large",
        "streamed",
    )
    .await;
}

/// The line limit names the long line itself, not the line where csv's
/// read-ahead started.
async fn a_megabyte_line_is_reported_at_its_own_line_number(app: TestApp) {
    let admin = admin(&app).await;
    let long = format!(
        "{HEADER}R-1,Ada,Eze,1980-01-01,CAP,\nR-2,{},Eze,1980-01-01,CAP,\n",
        "A".repeat(1024 * 1024)
    );
    let before = counts(&app).await;
    let response = upload(&admin, long).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_count"], 1, "{body}");
    assert_eq!(body["errors"][0]["line"], 3, "{body}");
    assert!(
        body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("longer than 4096 bytes"),
        "{body}"
    );
    assert_eq!(counts(&app).await, before);
}

async fn only_admins_import(app: TestApp) {
    let csv = register_csv(&[["R-1", "Ada", "Eze", "1980-01-01", "CAP", ""]]);
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let auditor = auditor(&app).await;
    for (who, person) in [("registrar", &registrar), ("auditor", &auditor)] {
        refused(&app, upload(person, csv.clone()), 403, "role_required", who).await;
    }
    let nobody = Person {
        app: new_browser(&app),
        auth: crate::support::passkeys::SoftAuthenticator::new(&app.address),
        national_id: String::new(),
    };
    refused(
        &app,
        upload(&nobody, csv),
        401,
        "not_signed_in",
        "no session",
    )
    .await;
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("civitas-register-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn the_command_line_imports_and_writes_letters_only_on_success(app: TestApp) {
    let dir = temp_dir();
    let file = dir.join("register.csv");
    let out_path = dir.join("letters.csv");
    std::fs::write(
        &file,
        register_csv(&[
            ["C-1", "Adaeze", "Nwosu", "1985-02-14", "NTH-LK", ""],
            ["C-2", "Emeka", "Obi", "1972-11-30", "CAP", "+2348012345678"],
        ]),
    )
    .unwrap();
    let out = civitas(
        &app,
        &[
            "register",
            "import",
            file.to_str().unwrap(),
            "--letters",
            out_path.to_str().unwrap(),
            "--database-url",
            &app.db_url,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let letters = parse_letters(&std::fs::read(&out_path).unwrap());
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[1].phone, "+2348012345678");
    assert!(!dir.join("letters.partial").exists());
    assert_eq!(count(&app, Table::RegisterEntries).await, 2);
    assert_eq!(count(&app, Table::RegisterImports).await, 1);
    let entry = &audit_entries(&app, "register.import").await[0];
    assert_eq!(entry.actor, CLI_ACTOR);

    // The letters' codes work at the server (same master key).
    let adaeze = enroll_with_code(&app, &letters[0].code, "1985-02-14").await;
    assert_eq!(adaeze.me().await["assurance_level"], 2);

    // Without --letters the letters go to standard output.
    let second = dir.join("second.csv");
    std::fs::write(
        &second,
        register_csv(&[["C-3", "Ngozi", "Eze", "2001-06-01", "STH-CS", ""]]),
    )
    .unwrap();
    let out = civitas(&app, &["register", "import", second.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = parse_letters(&out.stdout);
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0].register_ref, "C-3");

    // Bad files: `line N: reason` on stderr, no letters, nothing imported.
    for bad in bad_files() {
        let path = dir.join("bad.csv");
        let letters_path = dir.join("bad-letters.csv");
        std::fs::write(&path, &bad.body).unwrap();
        let before = counts(&app).await;
        let out = civitas(
            &app,
            &[
                "register",
                "import",
                path.to_str().unwrap(),
                "--letters",
                letters_path.to_str().unwrap(),
            ],
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "case {}: succeeded", bad.case);
        for (line, words) in &bad.errors {
            let reported = err
                .lines()
                .find(|l| l.starts_with(&format!("line {line}: ")))
                .unwrap_or_else(|| panic!("case {}: no `line {line}:` in {err}", bad.case));
            for word in words {
                assert!(reported.contains(word), "case {}: {reported}", bad.case);
            }
        }
        assert_eq!(
            err.lines().filter(|l| l.starts_with("line ")).count(),
            bad.errors.len(),
            "case {}: {err}",
            bad.case
        );
        assert!(!letters_path.exists(), "case {}: letters left", bad.case);
        assert!(
            !dir.join("bad-letters.partial").exists(),
            "case {}: partial letters left",
            bad.case
        );
        assert_eq!(counts(&app).await, before, "case {}", bad.case);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn the_command_line_refuses_huge_and_missing_files(app: TestApp) {
    let dir = temp_dir();
    let before = counts(&app).await;

    // 200 MB (sparse): refused from its size, before reading.
    let huge = dir.join("huge.csv");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(200 * 1000 * 1000)
        .unwrap();
    let letters = dir.join("huge-letters.csv");
    let out = civitas(
        &app,
        &[
            "register",
            "import",
            huge.to_str().unwrap(),
            "--letters",
            letters.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("128 MiB"), "{}", stderr(&out));
    assert!(!letters.exists());
    assert!(!dir.join("huge-letters.partial").exists());

    // A file that does not exist.
    let out = civitas(
        &app,
        &[
            "register",
            "import",
            dir.join("missing.csv").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.csv"), "{}", stderr(&out));

    assert_eq!(counts(&app).await, before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// As over HTTP: the CLI names the long line itself.
async fn the_command_line_names_the_line_that_is_too_long(app: TestApp) {
    let dir = temp_dir();
    let before = counts(&app).await;
    let long = dir.join("long.csv");
    std::fs::write(
        &long,
        format!(
            "{HEADER}R-1,Ada,Eze,1980-01-01,CAP,\nR-2,{},Eze,1980-01-01,CAP,\n",
            "B".repeat(1024 * 1024)
        ),
    )
    .unwrap();
    let out = civitas(&app, &["register", "import", long.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("line 3: the line is longer than 4096 bytes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(counts(&app).await, before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without --letters the letters go to stdout as rows are read; a file
/// refused late must not leave letters whose codes were never stored.
async fn a_refused_import_prints_no_letters_on_stdout(app: TestApp) {
    let dir = temp_dir();
    let before = counts(&app).await;
    // A large file whose last line is bad: its letters fill the buffers.
    let mut body = HEADER.to_string();
    for i in 1..=2000 {
        body.push_str(&format!("R-{i},Ada,Eze,1980-01-01,CAP,\n"));
    }
    body.push_str("R-X,Bo,Eze,1980-13-01,CAP,\n");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, body).unwrap();
    let out = civitas(&app, &["register", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 2002: "), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        !printed.contains("R-1,"),
        "letters with codes that were never stored reached stdout ({} lines, first: {:?})",
        printed.lines().count(),
        printed.lines().nth(1)
    );

    assert_eq!(counts(&app).await, before);
    std::fs::remove_dir_all(&dir).unwrap();
}

crate::on_both_backends!(
    an_import_returns_one_letter_per_resident,
    a_spreadsheet_export_with_a_byte_order_mark_imports,
    bad_register_files_are_reported_line_by_line,
    uploads_over_16_mib_are_refused,
    only_admins_import,
    the_command_line_imports_and_writes_letters_only_on_success,
    the_command_line_refuses_huge_and_missing_files,
    a_megabyte_line_is_reported_at_its_own_line_number,
    the_command_line_names_the_line_that_is_too_long,
    a_refused_import_prints_no_letters_on_stdout,
);
