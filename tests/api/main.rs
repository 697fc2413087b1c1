//! Integration tests: every test runs on SQLite and on PostgreSQL.

mod helpers;

mod cli;
mod errors;
mod national_ids;
mod openapi;
mod ops;
mod regions;
