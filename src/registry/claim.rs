//! Finding a resident's register row from the activation code on their
//! letter and their date of birth. Guessing is throttled: 5 wrong dates of
//! birth per code and 20 failed attempts per client address per hour.

use time::OffsetDateTime;

use super::RegistryKeys;
use super::activation::ActivationCode;
use crate::domain::parse_birth_date;
use crate::error::AppError;
use crate::store::{RegisterEntry, Store};
use crate::throttle::Throttle;

const HOUR: i64 = crate::throttle::LONGEST_WINDOW;
pub const MAX_FAILURES_PER_CODE: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;

fn address_throttle(address: &str) -> Throttle {
    Throttle {
        key: format!("activation:address:{address}"),
        max: MAX_FAILURES_PER_ADDRESS,
        window: HOUR,
        message: "Too many activation codes that did not match were tried from your network.",
    }
}

fn code_throttle(code_hash: &str) -> Throttle {
    Throttle {
        key: format!("activation:code:{code_hash}"),
        max: MAX_FAILURES_PER_CODE,
        window: HOUR,
        message: "This activation code was tried too often with a date of birth that does not \
                  match the register.",
    }
}

fn no_match() -> AppError {
    AppError::bad_request(
        "activation_code_not_found",
        "This activation code and date of birth do not match the population register. Check \
         both against your letter; after several wrong tries you will have to wait an hour.",
    )
}

/// The unclaimed register row `code` and `birth_date` name.
pub async fn find(
    store: &Store,
    keys: &RegistryKeys,
    now: OffsetDateTime,
    address: &str,
    code: &str,
    birth_date: &str,
) -> Result<RegisterEntry, AppError> {
    // Format and check character first: a typo never reaches the database.
    let code = ActivationCode::parse(code).map_err(|e| {
        AppError::bad_request("invalid_activation_code", format!("Activation code: {e}."))
    })?;
    let birth_date = parse_birth_date(birth_date, now.date())
        .map_err(|e| AppError::bad_request("invalid_birth_date", format!("Birth date {e}.")))?;
    let by_address = address_throttle(address);
    by_address.check(store, now.unix_timestamp()).await?;
    let code_hash = keys.activation_hash(&code);
    let by_code = code_throttle(&code_hash);
    let entries = store.register_entries_by_code(&code_hash).await?;
    let known_code = !entries.is_empty();
    if known_code {
        by_code.check(store, now.unix_timestamp()).await?;
    }
    match entries.into_iter().find(|e| e.birth_date == birth_date) {
        Some(entry) if entry.citizen_id.is_some() => Err(AppError::conflict(
            "activation_code_used",
            "This activation code has already been used to enroll. Sign in with your passkey, \
             or visit a registrar office if you did not enroll yourself.",
        )),
        Some(entry) => Ok(entry),
        None => {
            by_address.fail(store, now.unix_timestamp()).await?;
            if known_code {
                by_code.fail(store, now.unix_timestamp()).await?;
            }
            Err(no_match())
        }
    }
}
