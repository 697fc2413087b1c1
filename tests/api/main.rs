//! Integration tests: every test runs on SQLite and on PostgreSQL.

mod authenticator;
mod helpers;
mod passkey_flows;

mod admin_cli;
mod campaigns;
mod cli;
mod errors;
mod instances;
mod national_ids;
mod oidc;
mod oidc_errors;
mod oidc_flows;
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
mod registry_support;
mod schema_parity;
mod sweep;
