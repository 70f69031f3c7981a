//! Temporary stand-in, replaced by the real routing module.
pub mod hours {
    #[derive(Debug, Clone, Default)]
    pub struct WorkingHours(pub Vec<String>);
    impl WorkingHours {
        pub fn parse(items: &[impl AsRef<str>]) -> Result<WorkingHours, String> {
            Ok(WorkingHours(
                items.iter().map(|s| s.as_ref().to_string()).collect(),
            ))
        }
    }
}
pub mod schedule {
    #[derive(Debug, Clone)]
    pub struct Handoff(pub String);
    impl Handoff {
        pub fn parse(s: &str) -> Result<Handoff, String> {
            Ok(Handoff(s.to_string()))
        }
    }
}
pub use hours::WorkingHours;
pub use schedule::Handoff;
