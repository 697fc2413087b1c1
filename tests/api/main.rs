//! Integration tests: every test runs on SQLite and on PostgreSQL.

mod support;

mod admin_cli;
mod authenticator;
mod campaigns;
mod cli;
mod errors;
mod instances;
mod national_ids;
mod nul_characters;
mod oidc;
mod oidc_errors;
mod oidc_rp;
mod openapi;
mod ops;
mod passkey_errors;
mod passkeys;
mod regions;
mod registry_activation;
mod registry_audit;
mod registry_desk;
mod registry_import;
mod registry_lifecycle;
mod registry_staff;
mod schema_parity;
mod security_activation;
mod security_apps;
mod security_audit;
mod security_browser;
mod security_enrollment;
mod security_keys;
mod security_operations;
mod security_passkeys;
mod security_sessions;
mod security_staff;
mod sweep;
