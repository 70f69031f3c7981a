//! The test suites' PostgreSQL: the environment variable that asks for it
//! and a fresh database per test. Used by the store's own tests and by the
//! API tests alike; the daemon never calls it.

/// The environment variable that runs the suites on PostgreSQL: the URL of
/// a server where the tests may create databases (`.ci/run` starts one).
pub const TEST_POSTGRES: &str = "TOCSIN_TEST_POSTGRES";

/// The server of [`TEST_POSTGRES`], when a run asks for PostgreSQL.
pub fn server() -> Option<String> {
    std::env::var(TEST_POSTGRES).ok().filter(|u| !u.is_empty())
}

/// Creates an empty database on the server at `url`; returns its URL.
/// Panics when it cannot: a run asked for PostgreSQL never quietly falls
/// back to SQLite.
pub fn create_test_database(url: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("tocsin_test_{}_{n}_{nanos}", std::process::id());
    let admin = url.to_string();
    let created = name.clone();
    // The blocking client runs its own runtime: not on a tokio worker.
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("{TEST_POSTGRES}={admin}: cannot connect: {e}"));
        c.batch_execute(&format!("CREATE DATABASE {created}"))
            .unwrap_or_else(|e| panic!("cannot create the test database: {e}"));
    })
    .join()
    .expect("database created");
    let mut config: url::Url = url.parse().expect("TOCSIN_TEST_POSTGRES is a URL");
    config.set_path(&name);
    config.to_string()
}
