//! Integration tests: every test runs on SQLite and on PostgreSQL.

mod authenticator;
mod helpers;
mod passkey_flows;

mod admin_cli;
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
