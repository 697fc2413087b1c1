//! WebAuthn verification failures, told in words a citizen understands.

use webauthn_rs::prelude::WebauthnError;

use crate::error::AppError;

/// Maps a verification failure to a 400 with a specific code.
pub fn webauthn_error(e: WebauthnError) -> AppError {
    let (code, text) = match e {
        WebauthnError::InvalidRPOrigin => (
            "origin_mismatch",
            "The passkey response was made for another website.",
        ),
        WebauthnError::InvalidRPIDHash => {
            ("rp_id_mismatch", "The passkey belongs to another website.")
        }
        WebauthnError::InvalidClientDataType => (
            "wrong_ceremony_type",
            "The passkey response is for another kind of request (creating instead of \
             signing in, or the reverse).",
        ),
        WebauthnError::MismatchedChallenge => (
            "challenge_mismatch",
            "The passkey response does not answer this request. Start again.",
        ),
        WebauthnError::UserNotVerified => (
            "user_not_verified",
            "Your device did not verify you (PIN, fingerprint or face). \
             Civitas needs that check; try again and confirm on your device.",
        ),
        WebauthnError::UserNotPresent => (
            "user_not_present",
            "Your device did not confirm that you were present. Try again.",
        ),
        WebauthnError::InvalidUserUniqueId => (
            "unknown_credential",
            "This passkey is not registered with Civitas. Enroll first, or use another passkey.",
        ),
        WebauthnError::CredentialExcludedFromRequest | WebauthnError::CredentialAlreadyExists => {
            return AppError::conflict(
                "credential_already_registered",
                "This passkey is already registered.",
            );
        }
        other => {
            tracing::info!(error = ?other, "passkey verification failed");
            (
                "invalid_credential",
                "The passkey response could not be verified. Try again.",
            )
        }
    };
    AppError::bad_request(code, text)
}
