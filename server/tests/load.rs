//! The load tool's runs and the soak: tests that count rates and gaps over seconds. Each holds [`alone`] for its
//! whole run, so none shares the machine with another of them. Run one with `cargo test -p server --test load
//! <module>::`.

mod common;

mod load_tool;
mod load_tool_mqtt;
mod load_tool_restart;
mod soak;

/// Held for a test's whole run: the test harness runs two tests at once, and two loads at once would each measure
/// the other.
async fn alone() -> tokio::sync::MutexGuard<'static, ()> {
    static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ALONE.lock().await
}
