//! Which store the generated configuration uses: SQLite (the default, a
//! file in the temporary directory) or PostgreSQL, where every scenario gets
//! a database of its own, created empty on the server the bench was given.
//! The URL is never written in the YAML: it goes into `pg.url` beside it and
//! the configuration says `postgres_file: pg.url`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};

/// The environment variable `--store postgres` reads the server URL from.
pub const ENV: &str = "TOCSIN_BENCH_POSTGRES";

const SQLITE: &str = "storage:\n  sqlite: data/tocsin.db\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    /// A server URL whose user may create databases.
    Postgres(String),
}

impl Store {
    /// Parses `--store`: `sqlite`, `postgres` (URL from `TOCSIN_BENCH_POSTGRES`)
    /// or `postgres:URL`.
    pub fn parse(arg: &str, env: Option<String>) -> anyhow::Result<Store> {
        match arg.split_once(':') {
            _ if arg == "sqlite" => Ok(Store::Sqlite),
            None if arg == "postgres" => match env.filter(|u| !u.is_empty()) {
                Some(url) => Ok(Store::Postgres(url)),
                None => bail!("--store postgres needs {ENV} (or --store postgres:URL)"),
            },
            Some(("postgres", url)) if !url.is_empty() => Ok(Store::Postgres(url.to_string())),
            _ => bail!("--store: sqlite, postgres or postgres:URL, not {arg:?}"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Store::Sqlite => "SQLite",
            Store::Postgres(_) => "PostgreSQL",
        }
    }
}

/// Points the configuration at `store`: nothing for SQLite; for PostgreSQL
/// a fresh database, its URL in `pg.url` beside `config`.
pub async fn apply(config: &Path, store: &Store) -> anyhow::Result<()> {
    let Store::Postgres(server) = store else {
        return Ok(());
    };
    let url = fresh_database(server).await?;
    attach(config, &url)
}

/// Makes the configuration at `config` use the database at `url`.
pub fn attach(config: &Path, url: &str) -> anyhow::Result<()> {
    let dir = config.parent().context("the config has a directory")?;
    std::fs::write(dir.join("pg.url"), url)?;
    let yaml = std::fs::read_to_string(config)?;
    if !yaml.contains(SQLITE) {
        bail!("the generated config has no storage section to replace");
    }
    std::fs::write(
        config,
        yaml.replace(SQLITE, "storage:\n  postgres_file: pg.url\n"),
    )?;
    Ok(())
}

/// Creates an empty database on `server`; returns its URL.
pub async fn fresh_database(server: &str) -> anyhow::Result<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "tocsin_bench_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (client, conn) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    let conn = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .context("creating the bench database")?;
    drop(client);
    let _ = conn.await;
    Ok(with_database(server, &name))
}

/// `url` with its database (the path) replaced by `name`; the query stays.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_store_flag() {
        let env = || Some("postgres://e@h/x".to_string());
        let cases: &[(&str, Option<String>, Option<Store>)] = &[
            ("sqlite", None, Some(Store::Sqlite)),
            (
                "postgres",
                env(),
                Some(Store::Postgres("postgres://e@h/x".into())),
            ),
            ("postgres", None, None),
            ("postgres", Some(String::new()), None),
            (
                "postgres:postgres://u@h:5432/db",
                None,
                Some(Store::Postgres("postgres://u@h:5432/db".into())),
            ),
            ("postgres:", env(), None),
            ("mysql", env(), None),
        ];
        for (arg, env, want) in cases {
            assert_eq!(Store::parse(arg, env.clone()).ok(), *want, "{arg}");
        }
    }

    #[test]
    fn replaces_the_database_in_a_url() {
        let cases = [
            ("postgres://u@h:1/postgres", "postgres://u@h:1/b"),
            ("postgres://u@h:1", "postgres://u@h:1/b"),
            (
                "postgres://u:p@h/postgres?sslmode=require",
                "postgres://u:p@h/b?sslmode=require",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "b"), want, "{url}");
        }
    }

    #[test]
    fn attach_writes_the_url_beside_the_config_not_in_it() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let cfg = dir.path().join("tocsin.yaml");
        std::fs::write(&cfg, format!("timezone: UTC\n{SQLITE}limits: {{}}\n"))?;
        attach(&cfg, "postgres://secret@h/db")?;
        let yaml = std::fs::read_to_string(&cfg)?;
        assert!(
            yaml.contains("storage:\n  postgres_file: pg.url\n"),
            "{yaml}"
        );
        assert!(!yaml.contains("secret"), "{yaml}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pg.url"))?,
            "postgres://secret@h/db"
        );
        Ok(())
    }
}
