//! Incidents: the record, its states and timeline, and how alerts and
//! actions change them. No HTTP, no SQL: storage is reached through the
//! [`repo::Repo`] trait inside one transaction.

pub mod apply;
pub mod heartbeat;
pub mod maintenance;
pub mod model;
pub mod notes;
pub mod orphans;
pub mod reference;
pub mod repo;
pub mod snapshots;
pub mod transition;

pub use model::{Actor, AttachedAlert, Event, Incident, Layer, NewIncident, State};
pub use repo::{
    BUNDLE_PREVIEW, BundleHead, BundleSummary, Diagnosis, OutboxRow, OverrideFilter, ReadRepo,
    Repo, ReportLeft, SmsClaim, StateFilter, Timer, opted_out,
};
