//! A device holding several passkeys, choosing among them as a platform
//! authenticator does: it refuses to create a credential it already holds
//! for `excludeCredentials`, and answers a request with a credential that
//! `allowCredentials` lists (any, for a discoverable sign-in).

use serde_json::Value;

use super::{Authenticator, CeremonyError, Passkey, Tweaks, b64, b64_decode, check_algorithms};

/// A browser at one origin together with a platform authenticator holding passkeys.
#[derive(Debug)]
pub struct SoftAuthenticator {
    authenticator: Authenticator,
    /// Credentials, oldest first.
    credentials: Vec<Passkey>,
}

impl SoftAuthenticator {
    /// A new device whose browser runs at `origin` (e.g. "http://localhost:43123").
    pub fn new(origin: &str) -> Self {
        Self {
            authenticator: Authenticator::new(origin),
            credentials: Vec::new(),
        }
    }

    /// Answers creation options (the `publicKey` object) with a new resident
    /// credential, unless one listed in `excludeCredentials` lives here.
    ///
    /// Every call adds a credential, even for a user that already has one here, so one
    /// instance can stand in for several devices.
    pub fn try_create_with(
        &mut self,
        options: &Value,
        tweaks: &Tweaks,
    ) -> Result<Value, CeremonyError> {
        let rp_id = self.authenticator.creation_rp_id(options)?;
        check_algorithms(options)?;
        for excluded in descriptor_ids(&options["excludeCredentials"])? {
            if let Some(index) = self
                .credentials
                .iter()
                .position(|c| c.rp_id == rp_id && c.id == excluded)
            {
                return Err(CeremonyError::InvalidState(format!(
                    "credential #{index} ({}) is listed in excludeCredentials",
                    b64(&excluded)
                )));
            }
        }
        let (response, passkey) = self.authenticator.create_with(options, tweaks)?;
        self.credentials.push(passkey);
        Ok(response)
    }

    /// Answers request options (the `publicKey` object) with an assertion.
    ///
    /// Uses the newest credential for the RP id that `allowCredentials` lists or, when that
    /// list is empty (discoverable / usernameless sign-in), the newest one for the RP id.
    pub fn try_get_with(
        &mut self,
        options: &Value,
        tweaks: &Tweaks,
    ) -> Result<Value, CeremonyError> {
        let rp_id = self.authenticator.request_rp_id(options)?;
        let allowed = descriptor_ids(&options["allowCredentials"])?;
        let index = self
            .credentials
            .iter()
            .rposition(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .ok_or_else(|| {
                CeremonyError::NotAllowed(format!(
                    "no credential for RP id {rp_id:?} among {} allowed",
                    if allowed.is_empty() {
                        "all".to_string()
                    } else {
                        allowed.len().to_string()
                    }
                ))
            })?;
        self.try_get_using(index, options, tweaks)
    }

    /// Like [`Self::try_get_with`] but with an explicit credential (index into
    /// `credentials()`), whatever `allowCredentials` says.
    pub fn try_get_using(
        &mut self,
        index: usize,
        options: &Value,
        tweaks: &Tweaks,
    ) -> Result<Value, CeremonyError> {
        let count = self.credentials.len();
        let passkey = self.credentials.get_mut(index).ok_or_else(|| {
            CeremonyError::NotAllowed(format!(
                "no credential #{index}, the authenticator holds {count}"
            ))
        })?;
        self.authenticator.get_with(passkey, options, tweaks)
    }

    /// The credentials held, oldest first.
    pub fn credentials(&self) -> &[Passkey] {
        &self.credentials
    }

    /// Removes a credential (simulates a lost device); later indices shift down by one.
    pub fn forget(&mut self, index: usize) {
        if index < self.credentials.len() {
            self.credentials.remove(index);
        }
    }
}

/// The decoded `id`s of a list of credential descriptors (absent list: none).
fn descriptor_ids(list: &Value) -> Result<Vec<Vec<u8>>, CeremonyError> {
    let Some(descriptors) = list.as_array() else {
        return Ok(Vec::new());
    };
    descriptors
        .iter()
        .map(|d| {
            d["id"]
                .as_str()
                .ok_or_else(|| CeremonyError::Type("credential descriptor has no id".into()))
                .and_then(b64_decode)
        })
        .collect()
}
