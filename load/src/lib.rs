//! Load generation for Civitas: whole citizen journeys (enrollment,
//! "Sign in with Civitas", refresh) spoken over HTTP to any deployment, with
//! a software passkey authenticator that signs real WebAuthn responses.

pub mod authenticator;
pub mod client;
pub mod failure;
pub mod flood;
pub mod journey;
pub mod report;
pub mod runner;
pub mod stats;
pub mod steps;
pub mod target;
