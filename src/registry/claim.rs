//! Finding a resident's register row from the activation code on their
//! letter and their date of birth. Guessing is held back: a code locks for
//! good after 10 wrong dates of birth, and a client network may miss 20
//! times an hour.

use time::OffsetDateTime;

use super::RegistryKeys;
use super::activation::ActivationCode;
use crate::domain::parse_birth_date;
use crate::error::AppError;
use crate::store::{RegisterEntry, Store};
use crate::throttle::Throttle;

const HOUR: i64 = crate::throttle::LONGEST_WINDOW;
/// Wrong dates of birth a code survives: the tenth locks it for good, until
/// a registrar unlocks it.
pub const MAX_WRONG_BIRTH_DATES: i32 = 10;
/// Attempts that did not find a register row, per client network and hour.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;

fn address_throttle(address: &str) -> Throttle {
    Throttle {
        key: format!("activation:address:{address}"),
        max: MAX_FAILURES_PER_ADDRESS,
        window: HOUR,
        message: "Too many activation codes that did not match were tried from your network.",
    }
}

fn no_match() -> AppError {
    AppError::bad_request(
        "activation_code_not_found",
        "This activation code and date of birth do not match the population register. Check \
         both against your letter; after several wrong tries the code is locked.",
    )
}

fn locked() -> AppError {
    AppError::forbidden(
        "activation_code_locked",
        "This activation code was tried too often with a date of birth that does not match \
         the register, so it is locked. Visit a registrar office with an identity document: \
         they can unlock it or enroll you.",
    )
}

/// The unclaimed, unexpired register row `code` and `birth_date` name.
/// Each wrong date counts against the code (atomically: parallel tries
/// cannot all slip through) and every miss against the client's network.
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
    let at = now.unix_timestamp();
    let by_address = address_throttle(address);
    by_address.attempt(store, at).await?;
    let code_hash = keys.activation_hash(&code);
    let tried = store
        .try_activation_code(&code_hash, birth_date, at, MAX_WRONG_BIRTH_DATES)
        .await?;
    if tried.is_empty() && store.activation_code_locked(&code_hash).await? {
        // Locked before this attempt: the date was not even tried.
        return Err(locked());
    }
    let Some(entry) = tried.into_iter().find(|e| e.birth_date == birth_date) else {
        return Err(no_match());
    };
    by_address.forgive(store, at).await?;
    if entry.citizen_id.is_some() {
        return Err(AppError::conflict(
            "activation_code_used",
            "This activation code has already been used to enroll. Sign in with your passkey, \
             or visit a registrar office if you did not enroll yourself.",
        ));
    }
    if entry.code_expires_at.is_some_and(|t| t <= at) {
        return Err(AppError::bad_request(
            "activation_code_expired",
            "This activation code has expired. Visit a registrar office with an identity \
             document to have a new letter issued, or to enroll there.",
        ));
    }
    Ok(entry)
}
