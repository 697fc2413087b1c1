//! Row counts: what tests (and operators) compare before and after a
//! request that must change nothing.

use super::{Store, StoreError, on_pool};

impl Store {
    /// Row counts of the tables a bad request must not change (tests and
    /// operators).
    pub async fn count_rows(&self, table: Table) -> Result<i64, StoreError> {
        let sql = match table {
            Table::Citizens => "SELECT COUNT(*) FROM citizens",
            Table::Passkeys => "SELECT COUNT(*) FROM passkeys",
            Table::Sessions => "SELECT COUNT(*) FROM sessions",
            Table::UsedCeremonies => "SELECT COUNT(*) FROM used_ceremonies",
            Table::EnrollmentDuplicates => "SELECT COUNT(*) FROM enrollment_duplicates",
            Table::CredentialIncidents => "SELECT COUNT(*) FROM credential_incidents",
            Table::RegisterEntries => "SELECT COUNT(*) FROM register_entries",
            Table::RegisterImports => "SELECT COUNT(*) FROM register_imports",
            Table::AuditEntries => "SELECT COUNT(*) FROM audit_entries",
            Table::StaffRoles => "SELECT COUNT(*) FROM staff_roles",
            Table::StaffInvitations => "SELECT COUNT(*) FROM staff_invitations",
            Table::Throttles => "SELECT COUNT(*) FROM throttles",
            Table::VerificationRequests => "SELECT COUNT(*) FROM verification_requests",
            Table::ProofingRecords => "SELECT COUNT(*) FROM proofing_records",
            Table::Grants => "SELECT COUNT(*) FROM grants WHERE revoked_at IS NULL",
            Table::Campaigns => "SELECT COUNT(*) FROM campaigns",
            Table::CampaignRegions => "SELECT COUNT(*) FROM campaign_regions",
            Table::CampaignCounts => "SELECT COUNT(*) FROM campaign_counts",
        };
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql).fetch_one(pool).await)?;
        Ok(n)
    }
}

/// Tables whose size `count_rows` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
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
    Throttles,
    VerificationRequests,
    ProofingRecords,
    /// Grants not revoked.
    Grants,
    Campaigns,
    CampaignRegions,
    CampaignCounts,
}
