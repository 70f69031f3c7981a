//! Integration tests: the daemon spawned on 127.0.0.1:0 and called over
//! HTTP, as users call it. One binary; one file per feature.

mod helpers;

mod action_items;
mod alert_start;
mod alertmanager_e2e;
mod architecture;
mod chat_buttons;
mod cli;
mod client_channel;
mod connections;
mod deploy;
mod docs_examples;
mod fakes;
mod files;
mod first_response;
mod full_disk;
mod health;
mod heartbeat;
mod incidents;
mod ingest;
mod limits;
mod logs;
mod maintenance;
mod migrate_store;
mod notes;
mod overrides;
mod paging;
mod postmortems;
mod reach_fakes;
mod reload;
mod routing;
mod shared_database;
mod twilio;
mod web;
