//! Integration tests: each starts the real server on a random port against a
//! fresh database (SQLite file or PostgreSQL database) and talks HTTP to it.
//! `both_dbs!` runs every test body once per database.

#[macro_use]
mod helpers;

mod accounts;
mod actions;
mod actions_approval;
mod actions_async;
mod actions_guardrails;
mod actions_trigger;
mod actions_write_back;
mod alert_webhooks;
mod alertmanager;
mod alerts;
mod alerts_edges;
mod auth;
mod availability;
mod bodies;
mod channel_group;
mod chat_presets;
mod cli;
mod cluster;
mod cluster_runs;
mod connections;
mod console;
mod console_guardrails;
mod console_team;
mod crash;
mod crash_runs;
mod delivery_health;
mod directory;
mod endpoint_auth;
mod errors;
mod events;
mod events_edits;
mod failures;
mod feed_details;
mod generated_client;
mod invites;
mod leaks;
mod leaks_accounts;
mod list_filters;
mod newest_event;
mod openapi;
mod past_and_remove;
mod pg_tls;
mod process;
mod product_fields;
mod prometheus_rules;
mod readme;
mod reads;
mod receiver;
mod schema_fuzz;
mod sdk_alerts;
mod sdk_operations;
mod sdk_replay;
mod secrets;
mod sign_in;
mod source_admin;
mod ssrf;
mod takeover;
mod tls_and_verifiers;
mod webhook_history;
mod webhooks;
mod webhooks_history;
