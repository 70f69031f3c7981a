//! Temporary stand-in, replaced by the real ingest module.
pub mod alert {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Severity {
        Critical,
        Major,
        Minor,
        Info,
    }
    impl std::str::FromStr for Severity {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            match s {
                "critical" => Ok(Self::Critical),
                "major" => Ok(Self::Major),
                "minor" => Ok(Self::Minor),
                "info" => Ok(Self::Info),
                _ => Err(format!("unknown severity {s:?}")),
            }
        }
    }
}
pub mod matcher {
    #[derive(Debug, Clone)]
    pub struct Matcher(pub String);
    impl Matcher {
        pub fn parse(s: &str) -> Result<Matcher, String> {
            Ok(Matcher(s.to_string()))
        }
    }
}
