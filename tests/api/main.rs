//! Integration tests: every test runs on SQLite and on PostgreSQL.

mod authenticator;
mod helpers;
mod passkey_flows;

mod cli;
mod errors;
mod instances;
mod national_ids;
mod openapi;
mod ops;
mod passkey_errors;
mod passkeys;
mod regions;
