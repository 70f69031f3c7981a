//! Integration tests: the daemon spawned on 127.0.0.1:0 and called over
//! HTTP, as users call it. One binary; one file per feature.

mod helpers;

mod action_items;
mod alert_start;
mod alertmanager_e2e;
mod architecture;
mod cli;
mod client_channel;
mod fakes;
mod first_response;
mod full_disk;
mod health;
mod heartbeat;
mod incidents;
mod ingest;
mod overrides;
mod paging;
mod postmortems;
mod reload;
mod routing;
mod twilio;
