//! On-call operations without editing YAML: overrides and swaps
//! (`overrides`). Each user action runs inside the caller's transaction and
//! leaves its notices in the outbox; doors (HTTP, CLI through HTTP) stay
//! thin. Must not know HTTP or SQL, nor read the clock.

pub mod overrides;
pub mod selfservice;
