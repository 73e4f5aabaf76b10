use std::time::Duration;

use clap::Parser;
use server::{leptos_options, serve, AppState, Config};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long shutdown waits for open connections to finish before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = Config::parse();
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let state = match AppState::connect(&config, leptos_options(), listener.local_addr()?.port()).await {
        Ok(state) => state,
        Err(error) => {
            tracing::error!("{error}");
            std::process::exit(1);
        }
    };
    if let Some(cluster) = &state.cluster {
        tracing::info!("instance {} on the shared log: {}", cluster.instance, cluster.engine);
    }
    tracing::info!("Transport Lab listening on http://{}", listener.local_addr()?);
    if state.teacher.everyone_is_teacher() {
        tracing::info!("one user on loopback: the teacher's actions need no key");
    } else {
        // Printed, not logged to a file anyone else reads: it is the class's only secret.
        let join = state.join.current().url;
        println!(
            "\n  Teacher link (keep it to yourself): {}{}\n",
            join.trim_end_matches('/'),
            state.teacher.link_path()
        );
    }
    if let Some(mqtt_addr) = config.mqtt_addr {
        let mqtt_listener = tokio::net::TcpListener::bind(mqtt_addr).await?;
        tracing::info!("MQTT over TCP on mqtt://{}", mqtt_listener.local_addr()?);
        tokio::spawn(state.serve_mqtt_tcp(mqtt_listener));
    }

    let hub = state.hub_slot.clone();
    let shutdown = async move {
        wait_for_signal().await;
        tracing::info!("shutting down: closing streams and answering held polls");
        hub.close();
    };
    let server = tokio::spawn(serve(listener, state, shutdown));
    // A stuck client must not keep the process alive forever once a shutdown has begun.
    tokio::select! {
        result = server => result.unwrap_or(Ok(())),
        _ = async { wait_for_signal().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => Ok(()),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler cannot fail on unix");
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
