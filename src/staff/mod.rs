//! Staff: administrators, registrars (scoped to regions) and auditors are
//! citizens holding a role. They sign in with their own passkeys; sensitive
//! actions need a passkey sign-in within the last 15 minutes.

pub mod invitations;

use crate::domain::Citizen;
use crate::error::AppError;
use crate::store::{RoleRow, SignedIn, Store};

/// How recent a passkey sign-in must be for a sensitive action (seconds).
pub const RECENT_SIGN_IN: i64 = 15 * 60;

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Registrar,
    Auditor,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Registrar => "registrar",
            Self::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "registrar" => Some(Self::Registrar),
            "auditor" => Some(Self::Auditor),
            _ => None,
        }
    }

    /// The role in words, for messages.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Admin => "administrators",
            Self::Registrar => "registrars",
            Self::Auditor => "auditors",
        }
    }
}

/// A signed-in member of staff and the roles they hold.
pub struct Staff {
    pub signed_in: SignedIn,
    pub roles: Vec<RoleRow>,
}

impl Staff {
    pub fn citizen(&self) -> &Citizen {
        &self.signed_in.citizen
    }

    pub fn holds(&self, role: Role) -> bool {
        self.roles.iter().any(|r| r.role == role.as_str())
    }

    /// The name this member of staff has in the audit log.
    pub fn actor(&self) -> String {
        audit_name(self.citizen())
    }

    /// Refuses (403) unless the passkey sign-in behind this session is
    /// recent enough for a sensitive action.
    pub fn require_recent_sign_in(&self, now: i64) -> Result<(), AppError> {
        let age = now - self.signed_in.session.auth_time;
        if age > RECENT_SIGN_IN {
            return Err(AppError::forbidden(
                "reauthentication_required",
                "This action needs a passkey sign-in within the last 15 minutes. \
                 Sign in again with your passkey, then repeat it.",
            ));
        }
        Ok(())
    }
}

/// How the audit log names a citizen, whether acting as staff or acted upon.
pub fn audit_name(citizen: &Citizen) -> String {
    format!("citizen:{}", citizen.national_id.as_digits())
}

/// The roles of a signed-in citizen.
pub async fn load(store: &Store, signed_in: SignedIn) -> Result<Staff, AppError> {
    let roles = store.roles_of(signed_in.citizen.id).await?;
    Ok(Staff { signed_in, roles })
}

/// 403 unless `staff` holds one of `roles`.
pub fn check_role(staff: &Staff, roles: &[Role]) -> Result<(), AppError> {
    if roles.iter().any(|r| staff.holds(*r)) {
        return Ok(());
    }
    let names: Vec<&str> = roles.iter().map(Role::title).collect();
    Err(AppError::forbidden(
        "role_required",
        format!(
            "This is for {} only, and your account does not hold that role. \
             Ask an administrator for an invitation.",
            names.join(" or ")
        ),
    ))
}

/// 403 unless `staff` is a registrar whose regions include `region`.
pub async fn check_region(
    store: &Store,
    staff: &Staff,
    region: &crate::domain::RegionCode,
) -> Result<(), AppError> {
    if store
        .registrar_covers(staff.citizen().id, region.as_str())
        .await?
    {
        return Ok(());
    }
    Err(AppError::forbidden(
        "outside_your_regions",
        "This citizen is not in your regions. Refer the case to a registrar of their region.",
    ))
}
