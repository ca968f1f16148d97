//! Integration tests: each starts the real server on a random port against a
//! fresh database (SQLite file or PostgreSQL database) and talks HTTP to it.
//! `both_dbs!` runs every test body once per database.

#[macro_use]
mod helpers;

mod actions;
mod alertmanager;
mod alerts;
mod auth;
mod availability;
mod bodies;
mod cli;
mod cluster;
mod connections;
mod console;
mod crash;
mod directory;
mod errors;
mod events;
mod failures;
mod leaks;
mod openapi;
mod process;
mod reads;
mod receiver;
mod schema_fuzz;
mod secrets;
mod sign_in;
mod ssrf;
mod takeover;
mod tls_and_verifiers;
mod webhooks;
