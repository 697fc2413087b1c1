//! Importing the population register: a CSV file
//! `register_ref,given_name,family_name,birth_date,region[,phone]`, read as a
//! stream in constant memory, every row checked. Rows go into the database
//! in batches inside one transaction; if any row is bad, the transaction is
//! rolled back and the report lists each bad line with its number and
//! reason. Every imported row gets a one-time activation code, stored only
//! as a keyed hash; the code itself goes only to the letters file.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};

use uuid::Uuid;

use super::RegistryKeys;
use super::activation::ActivationCode;
use crate::audit::AuditEvent;
use crate::domain::{PersonName, RegionCode, parse_birth_date};
use crate::encoding::spreadsheet_cell;
use crate::store::{RegisterBatchRow, Store, StoreError, Tx};

/// Largest register file accepted; larger registers are split into several
/// files, each imported on its own.
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Longest line accepted.
pub const MAX_LINE_BYTES: usize = 4096;
/// Bad lines listed in a report; more are counted.
pub const MAX_REPORTED: usize = 1000;
/// Rows written per statement.
const BATCH: usize = 5000;

const HEADER: [&str; 5] = [
    "register_ref",
    "given_name",
    "family_name",
    "birth_date",
    "region",
];

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

/// What an import did, or why it imported nothing.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// Data rows read (the header excluded).
    pub rows: u64,
    /// Rows imported: all of them, or none.
    pub imported: u64,
    /// The first `MAX_REPORTED` bad lines, in file order.
    pub errors: Vec<LineError>,
    /// How many lines were bad in all.
    pub error_count: u64,
    pub import_id: Option<Uuid>,
}

impl Report {
    fn fail(&mut self, line: u64, reason: impl Into<String>) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(LineError {
                line,
                reason: reason.into(),
            });
        }
    }

    pub fn ok(&self) -> bool {
        self.error_count == 0
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file has bad lines; nothing was imported.
    #[error("the register file has {} bad line(s); nothing was imported", .0.error_count)]
    Invalid(Report),
    #[error("the register file is larger than {} MiB; split it into several files", MAX_FILE_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("cannot read the register file: {0}")]
    Io(#[from] io::Error),
    #[error("cannot write the letters file: {0}")]
    Letters(#[source] csv::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts bytes and refuses files or lines over the limits, so neither can
/// make the importer hold more than a line in memory.
/// The reader counts lines itself: csv reads ahead, so its position says
/// nothing about where in the read-ahead the limit was hit.
struct Limited<R> {
    inner: R,
    total: u64,
    /// Bytes of the current line so far.
    line_bytes: usize,
    /// Number of the current line (1-based).
    line: u64,
    max_total: u64,
    /// Set when a limit was hit (the error itself reaches csv, not us).
    hit: Option<Limit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    File,
    /// This line is too long.
    Line(u64),
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > self.max_total {
            self.hit = Some(Limit::File);
            return Err(io::Error::new(io::ErrorKind::InvalidData, "file too large"));
        }
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line += 1;
                self.line_bytes = 0;
            } else {
                self.line_bytes += 1;
                if self.line_bytes > MAX_LINE_BYTES {
                    self.hit = Some(Limit::Line(self.line));
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
                }
            }
        }
        Ok(n)
    }
}

/// Where the import came from and who ran it (for the audit log).
pub struct ImportSource {
    pub name: String,
    pub actor: String,
    /// Days the activation codes of this import stay valid.
    pub code_days: u32,
    /// Where the letters (with the activation codes) go, for the audit log.
    pub letters_to: String,
}

/// A checked row, before it gets its code.
#[derive(Debug)]
pub struct Checked {
    pub register_ref: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: time::Date,
    pub region: String,
    pub phone: Option<String>,
}

/// Whether `text` has the form of a register reference: 1 to 64 letters,
/// digits, `-`, `_`, `/` or `.`.
pub fn is_register_ref(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/.".contains(c))
}

/// Checks one data row's fields against the known region codes; the
/// reason names the field at fault.
pub fn check_row(
    fields: &[&str],
    regions: &HashSet<String>,
    today: time::Date,
) -> Result<Checked, String> {
    if fields.len() != 5 && fields.len() != 6 {
        return Err(format!(
            "expected 5 or 6 fields ({}, phone), found {}",
            HEADER.join(", "),
            fields.len()
        ));
    }
    let register_ref = fields[0].trim();
    if register_ref.is_empty() {
        return Err("register_ref is empty".into());
    }
    if !is_register_ref(register_ref) {
        return Err(format!(
            "register_ref {register_ref:?} must be 1 to 64 letters, digits, '-', '_', '/' or '.'"
        ));
    }
    let given_name = PersonName::parse(fields[1]).map_err(|e| format!("given_name {e}"))?;
    let family_name = PersonName::parse(fields[2]).map_err(|e| format!("family_name {e}"))?;
    let birth_date = parse_birth_date(fields[3], today)
        .map_err(|e| format!("birth_date {:?} {e}", fields[3].trim()))?;
    let region = RegionCode::parse(fields[4])
        .ok()
        .filter(|r| regions.contains(r.as_str()))
        .ok_or_else(|| format!("region {:?} is not a known region code", fields[4].trim()))?;
    let phone = match fields.get(5).map(|p| p.trim()) {
        None | Some("") => None,
        Some(p) => {
            let digits = p.strip_prefix('+').unwrap_or(p);
            if !p.starts_with('+')
                || !(8..=15).contains(&digits.len())
                || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(format!(
                    "phone {p:?} must be in international form, + and 8 to 15 digits"
                ));
            }
            Some(p.to_string())
        }
    };
    Ok(Checked {
        register_ref: register_ref.to_string(),
        given_name: given_name.as_str().to_string(),
        family_name: family_name.as_str().to_string(),
        birth_date,
        region: region.to_string(),
        phone,
    })
}

/// Imports a register file. On success the letters (`register_ref,
/// given_name, family_name, region, phone, activation_code`) have been
/// written to `letters`; on `ImportError::Invalid` nothing was imported and
/// whatever reached `letters` must be thrown away.
pub async fn import<R: Read, W: Write>(
    store: &Store,
    keys: &RegistryKeys,
    today: time::Date,
    now: i64,
    source: ImportSource,
    input: R,
    letters: W,
) -> Result<Report, ImportError> {
    let regions: HashSet<String> = store
        .list_regions()
        .await?
        .into_iter()
        .map(|r| r.code.to_string())
        .collect();
    let limited = Limited {
        inner: input,
        total: 0,
        line_bytes: 0,
        line: 1,
        max_total: MAX_FILE_BYTES,
        hit: None,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(limited);
    let mut letters = csv::Writer::from_writer(letters);
    letters
        .write_record([
            "register_ref",
            "given_name",
            "family_name",
            "region",
            "phone",
            "activation_code",
            "expires_on",
        ])
        .map_err(ImportError::Letters)?;

    let code_days = i64::from(source.code_days);
    let expires_on =
        crate::domain::citizen::iso_date::format(today + time::Duration::days(code_days));
    let import_id = Uuid::new_v4();
    let mut report = Report {
        import_id: Some(import_id),
        ..Report::default()
    };
    // One transaction for the whole file. It holds the campaign scopes
    // still (the write lock on SQLite), so the scopes it counts its rows
    // into stay as they are until it commits.
    let mut tx = store.begin_write().await?;
    tx.lock_campaign_regions().await?;
    let mut campaigns = CampaignTally::new(tx.campaign_scopes().await?);
    let mut batch: Vec<RegisterBatchRow> = Vec::with_capacity(BATCH);
    let mut record = csv::ByteRecord::new();
    let mut header_seen = false;
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                match reader.get_ref().hit {
                    Some(Limit::File) => return Err(ImportError::TooLarge),
                    Some(Limit::Line(long)) => report.fail(
                        long,
                        format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                    ),
                    None => report.fail(line, format!("cannot read the line: {e}")),
                }
                break;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let blank = record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace);
        if blank {
            continue;
        }
        if header_seen {
            report.rows += 1;
        }
        let fields: Result<Vec<&str>, _> = record.iter().map(std::str::from_utf8).collect();
        let Ok(fields) = fields else {
            report.fail(line, "the line is not valid UTF-8 text");
            if !header_seen {
                break;
            }
            continue;
        };
        if !header_seen {
            header_seen = true;
            let header: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
            if header[..] != HEADER[..] && header[..] != [&HEADER[..], &["phone"]].concat()[..] {
                report.fail(
                    line,
                    format!(
                        "the header must be {} (phone optional), found {}",
                        HEADER.join(","),
                        header.join(",")
                    ),
                );
                break;
            }
            continue;
        }
        match check_row(&fields, &regions, today) {
            Err(reason) => report.fail(line, reason),
            Ok(row) => {
                let code = ActivationCode::generate();
                // Names and references come from the register file, and a
                // print shop opens the letters in a spreadsheet. (A phone
                // was checked to be + and digits: no formula.)
                letters
                    .write_record([
                        spreadsheet_cell(&row.register_ref),
                        spreadsheet_cell(&row.given_name),
                        spreadsheet_cell(&row.family_name),
                        row.region.clone(),
                        row.phone.clone().unwrap_or_default(),
                        code.to_string(),
                        expires_on.clone(),
                    ])
                    .map_err(ImportError::Letters)?;
                batch.push(RegisterBatchRow {
                    register_ref: row.register_ref,
                    given_name: row.given_name,
                    family_name: row.family_name,
                    birth_date: row.birth_date,
                    region_code: row.region,
                    phone: row.phone,
                    code_hash: keys.activation_hash(&code),
                    code_expires_at: now + code_days * 86_400,
                    line: line as i64,
                });
            }
        }
        if batch.len() >= BATCH {
            flush(&mut tx, import_id, &mut campaigns, &mut batch, &mut report).await?;
        }
    }
    if !header_seen && report.ok() {
        report.fail(1, "the file is empty; the first line must be the header");
    }
    flush(&mut tx, import_id, &mut campaigns, &mut batch, &mut report).await?;
    if !report.ok() {
        tx.rollback().await?;
        report.errors.sort_by_key(|e| e.line);
        return Err(ImportError::Invalid(report));
    }
    letters.flush()?;
    report.imported = report.rows;
    let event = AuditEvent::new(
        source.actor.clone(),
        "register.import",
        format!("import:{import_id}"),
        serde_json::json!({
            "source": source.name,
            "rows": report.rows,
            "letters_to": source.letters_to,
        }),
        now,
    );
    for ((campaign, region), rows) in &campaigns.added {
        tx.add_register_rows(*campaign, region, *rows).await?;
    }
    let rows = i64::try_from(report.rows).unwrap_or(i64::MAX);
    tx.insert_register_import(import_id, &source.name, rows, &source.actor, now)
        .await?;
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(report)
}

/// Writes a batch; rows whose register_ref was taken become report lines.
async fn flush(
    tx: &mut Tx,
    import: Uuid,
    campaigns: &mut CampaignTally,
    batch: &mut Vec<RegisterBatchRow>,
    report: &mut Report,
) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    // A batch with conflicts fails the whole import, so counting every row
    // is exact for any import that commits.
    campaigns.count(batch);
    for conflict in tx.insert_register_batch(batch, import).await? {
        let reason = match conflict.earlier_line {
            Some(earlier) => format!(
                "register_ref {:?} also appears on line {earlier}",
                conflict.register_ref
            ),
            None => format!(
                "register_ref {:?} is already in the registry",
                conflict.register_ref
            ),
        };
        report.fail(conflict.line as u64, reason);
    }
    batch.clear();
    Ok(())
}

/// The campaigns' scopes as the import began (no campaign changes scope
/// while an import runs: both take the same lock), and the rows the import
/// adds to each campaign region.
struct CampaignTally {
    /// Region code → the campaigns covering it, with their cohort.
    scopes: HashMap<String, Vec<(Uuid, Option<time::Date>)>>,
    added: HashMap<(Uuid, String), i64>,
}

impl CampaignTally {
    fn new(scopes: Vec<(String, Uuid, Option<time::Date>)>) -> Self {
        let mut by_region: HashMap<String, Vec<(Uuid, Option<time::Date>)>> = HashMap::new();
        for (region, campaign, born_by) in scopes {
            by_region
                .entry(region)
                .or_default()
                .push((campaign, born_by));
        }
        Self {
            scopes: by_region,
            added: HashMap::new(),
        }
    }

    fn count(&mut self, rows: &[RegisterBatchRow]) {
        for row in rows {
            for (campaign, born_by) in self.scopes.get(&row.region_code).into_iter().flatten() {
                if born_by.is_none_or(|b| row.birth_date <= b) {
                    *self
                        .added
                        .entry((*campaign, row.region_code.clone()))
                        .or_default() += 1;
                }
            }
        }
    }
}
