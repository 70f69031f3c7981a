//! Files: the database is private to tocsin, and a world-writable
//! configuration file is named in a warning at start.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_database_and_its_folder_are_private() {
    // SQLite's files: PostgreSQL keeps its own.
    let d = spawn_on_sqlite(&roster_yaml("")).await;
    let data = d.dir.path().join("data");
    assert_eq!(mode(&data), 0o700, "the folder tocsin created");
    for file in ["tocsin.db", "tocsin.db-wal", "tocsin.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    d.stop().await;
}

#[test]
fn a_world_writable_config_file_is_named_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(&config, roster_yaml("")).expect("config");
    let warned = |p: &Process| {
        p.startup_log
            .iter()
            .any(|l| l.contains("world-writable") && l.contains(&*config.to_string_lossy()))
    };
    let p = Process::start(&config);
    assert!(!warned(&p), "{:#?}", p.startup_log);
    drop(p);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let p = Process::start(&config);
    assert!(warned(&p), "{:#?}", p.startup_log);
}
