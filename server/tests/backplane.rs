//! The shared event log (`backplane` crate) on the real engines, each started by the test on a free port:
//! nats-server with JetStream and redis-server, from Debian's packages. Two connections stand for two lab
//! instances. Every wait has a generous deadline; nothing is timed.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use backplane::{Backplane, BackplaneUrl, Followed};
use common::engines::{Engine, EngineKind};
use protocol::{Epoch, EventBody};
use tokio::sync::mpsc;
use tokio::time::timeout;

const ENGINES: [EngineKind; 2] = [EngineKind::Nats, EngineKind::Redis];
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(engine: &Engine) -> Backplane {
    let url: BackplaneUrl = engine.url().parse().unwrap();
    Backplane::connect(&url, 1000).await.unwrap_or_else(|error| panic!("{error}"))
}

fn message(text: &str) -> EventBody {
    EventBody::Message { text: text.into() }
}

/// The next event the follower yields, skipping reports of the engine's health.
async fn next_event(followed: &mut mpsc::Receiver<Followed>) -> (Epoch, u64, EventBody) {
    loop {
        match timeout(PATIENCE, followed.recv()).await.expect("an event in time").expect("following") {
            Followed::Event { epoch, event } => return (epoch, event.seq, event.body),
            Followed::Lost { .. } | Followed::Restored => continue,
        }
    }
}

#[tokio::test]
async fn appends_from_two_instances_are_numbered_once_in_one_order_that_every_follower_sees() {
    for kind in ENGINES {
        let engine = Engine::start(kind);
        let (first, second) = (connect(&engine).await, connect(&engine).await);
        let mut followed = [first.follow(), second.follow()];
        let appends = |log: Backplane, name: &'static str| async move {
            let mut seqs = Vec::new();
            for n in 0..50 {
                seqs.push(log.append(n, &message(&format!("{name} {n}"))).await.unwrap());
            }
            seqs
        };
        let (from_first, from_second) = tokio::join!(appends(first.clone(), "a"), appends(second.clone(), "b"));
        let numbers: BTreeSet<u64> = from_first.iter().chain(&from_second).copied().collect();
        assert_eq!(numbers, (1..=100).collect(), "{kind:?}: each append its own number, none skipped");
        assert!(from_first.windows(2).all(|pair| pair[0] < pair[1]), "{kind:?}: one appender's numbers increase");
        let epoch = first.epoch().await.unwrap();
        assert_eq!(second.epoch().await.unwrap(), epoch);
        for follower in &mut followed {
            let mut seen = Vec::new();
            while seen.len() < 100 {
                let (run, seq, body) = next_event(follower).await;
                assert_eq!(run, epoch);
                seen.push((seq, body));
            }
            assert_eq!(seen.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (1..=100).collect::<Vec<_>>());
            let first_text = match &seen[(from_first[7] - 1) as usize].1 {
                EventBody::Message { text } => text.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(first_text, "a 7", "{kind:?}: the number an appender got names its event");
        }
    }
}

#[tokio::test]
async fn a_reset_is_a_new_run_numbered_from_1_for_every_instance() {
    for kind in ENGINES {
        let engine = Engine::start(kind);
        let (first, second) = (connect(&engine).await, connect(&engine).await);
        let mut followed = second.follow();
        for n in 0..3 {
            first.append(n, &message("old")).await.unwrap();
        }
        let old = first.epoch().await.unwrap();
        for _ in 0..3 {
            assert_eq!(next_event(&mut followed).await.0, old);
        }
        let new = second.reset().await.unwrap();
        assert_ne!(new, old, "{kind:?}");
        assert_eq!(first.epoch().await.unwrap(), new, "{kind:?}: every instance sees the new run");
        assert_eq!(first.append(9, &message("new")).await.unwrap(), 1, "{kind:?}");
        let (run, seq, body) = next_event(&mut followed).await;
        assert_eq!((run, seq, body), (new, 1, message("new")), "{kind:?}");
    }
}

#[tokio::test]
async fn one_instance_holds_the_lease_until_it_stops_renewing_and_then_another_takes_it() {
    const TTL: Duration = Duration::from_millis(600);
    for kind in ENGINES {
        let engine = Engine::start(kind);
        let (first, second) = (connect(&engine).await, connect(&engine).await);
        assert!(first.hold_lease("lab-1", TTL).await.unwrap(), "{kind:?}");
        for _ in 0..4 {
            tokio::time::sleep(TTL / 4).await;
            assert!(!second.hold_lease("lab-2", TTL).await.unwrap(), "{kind:?}: held by lab-1");
            assert!(first.hold_lease("lab-1", TTL).await.unwrap(), "{kind:?}: lab-1 renews");
        }
        // lab-1 stops renewing, as a dead instance does: lab-2 gets it once the time to live has passed.
        let taken = async {
            while !second.hold_lease("lab-2", TTL).await.unwrap() {
                tokio::time::sleep(TTL / 6).await;
            }
        };
        timeout(PATIENCE, taken).await.unwrap_or_else(|_| panic!("{kind:?}: the lease never passed on"));
        assert!(!first.hold_lease("lab-1", TTL).await.unwrap(), "{kind:?}: lab-1 lost it");
    }
}

#[tokio::test]
async fn shared_settings_written_by_one_instance_are_read_by_another() {
    for kind in ENGINES {
        let engine = Engine::start(kind);
        let (first, second) = (connect(&engine).await, connect(&engine).await);
        assert_eq!(second.setting("generator").await.unwrap(), None, "{kind:?}");
        first.put_setting("generator", b"{\"paused\":true}".to_vec()).await.unwrap();
        assert_eq!(second.setting("generator").await.unwrap().as_deref(), Some(&b"{\"paused\":true}"[..]));
    }
}

#[tokio::test]
async fn an_engine_that_cannot_be_reached_is_an_error_naming_its_url() {
    let nobody = common::daemon::free_address();
    for url in [format!("nats://{nobody}"), format!("redis://{nobody}")] {
        let error = match Backplane::connect(&url.parse().unwrap(), 10).await {
            Ok(_) => panic!("connected to nothing at {url}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains(&url), "{error}");
    }
    let error = "kafka://x".parse::<BackplaneUrl>().unwrap_err().to_string();
    assert!(error.contains("nats://HOST:PORT") && error.contains("redis://HOST:PORT"), "{error}");
}

/// NATS keeps its file store across a crash, so the run goes on from the next number; this Redis keeps nothing,
/// so its log starts a new run, which the follower reports as a new epoch numbered from 1. Either way the follower
/// reports the outage and its end, and nothing is repeated.
#[tokio::test]
async fn following_goes_on_after_the_engine_crashes_and_comes_back() {
    for kind in ENGINES {
        let mut engine = Engine::start(kind);
        let log = connect(&engine).await;
        let mut followed = log.follow();
        for n in 0..5 {
            log.append(n, &message("before")).await.unwrap();
        }
        let before = log.epoch().await.unwrap();
        for seq in 1..=5 {
            assert_eq!(next_event(&mut followed).await.1, seq);
        }
        engine.kill();
        let reported = timeout(PATIENCE, followed.recv()).await;
        let reason = match reported.unwrap_or_else(|_| panic!("{kind:?}: the outage was never reported")) {
            Some(Followed::Lost { reason }) => reason,
            other => panic!("{kind:?}: expected the outage, got {other:?}"),
        };
        assert!(log.append(0, &message("while down")).await.is_err(), "{kind:?}: nothing is appended meanwhile");
        engine.restart_after_kill();
        // The appender's connection comes back by itself too; the first tries may still fail.
        let appended = timeout(PATIENCE, async {
            loop {
                match log.append(6, &message("after")).await {
                    Ok(seq) => return seq,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        let seq = appended.await.unwrap_or_else(|_| panic!("{kind:?}: appending never worked again"));
        let (run, followed_seq, body) = next_event(&mut followed).await;
        assert_eq!((followed_seq, body), (seq, message("after")), "{kind:?} (outage: {reason})");
        match kind {
            EngineKind::Nats => assert_eq!((run, seq), (before, 6)),
            EngineKind::Redis => assert_eq!(seq, 1, "a new run: {run} after {before}"),
        }
    }
}

/// An engine that hangs (SIGSTOP) rather than dies leaves an append unanswered: the appender says it timed out,
/// which is not a refusal, since the engine may still take it. When the engine wakes it does, exactly once, and
/// the numbering goes on after it. This is why the lab answers such a publish 504 `log_unconfirmed`, not 503.
#[tokio::test]
async fn an_append_the_engine_does_not_answer_in_time_is_unconfirmed_and_lands_once_when_it_wakes() {
    for kind in ENGINES {
        let engine = Engine::start(kind);
        let log = connect(&engine).await;
        let mut followed = log.follow();
        let first = log.append(0, &message("before")).await.unwrap();
        assert_eq!(next_event(&mut followed).await.1, first);

        engine.freeze();
        let unanswered = log.append(0, &message("while frozen")).await;
        engine.thaw();
        match unanswered {
            Err(error @ backplane::BackplaneError::TimedOut { .. }) => {
                assert!(error.to_string().contains("may still be done"), "{kind:?}: {error}")
            }
            other => panic!("{kind:?}: expected a time-out, got {other:?}"),
        }
        let after = timeout(PATIENCE, async {
            loop {
                match log.append(0, &message("after")).await {
                    Ok(seq) => return seq,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{kind:?}: appending never worked again"));
        let mut seen = Vec::new();
        while seen.last().map(|(seq, _)| *seq) != Some(after) {
            let (_, seq, body) = next_event(&mut followed).await;
            seen.push((seq, body));
        }
        assert_eq!(
            seen,
            vec![(first + 1, message("while frozen")), (first + 2, message("after"))],
            "{kind:?}: the unconfirmed append landed once, in order"
        );
    }
}

/// Announcements reach every instance listening, the announcer too, and keep doing so after the engine crashed
/// and came back (each listener subscribes again by itself). One made while the engine is down is refused.
#[tokio::test]
async fn announcements_reach_every_listening_instance_across_an_engine_crash() {
    for kind in ENGINES {
        let mut engine = Engine::start(kind);
        let (first, second) = (connect(&engine).await, connect(&engine).await);
        let mut heard = [first.hear("drops"), second.hear("drops")];
        let mut other_channel = second.hear("elsewhere");
        // Subscribing is asynchronous: announce until the first arrives, then count exactly from there.
        let announce_until_heard = |log: Backplane, payload: &'static [u8]| async move {
            loop {
                match log.announce("drops", payload.to_vec()).await {
                    Ok(()) => tokio::time::sleep(Duration::from_millis(100)).await,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        };
        for listener in &mut heard {
            let warming = announce_until_heard(first.clone(), b"warm");
            tokio::select! {
                _ = warming => unreachable!(),
                payload = timeout(PATIENCE, listener.recv()) => assert_eq!(payload.unwrap().unwrap(), b"warm"),
            }
        }
        for listener in &mut heard {
            while listener.try_recv().is_ok() {}
        }
        second.announce("drops", b"sse".to_vec()).await.unwrap();
        for listener in &mut heard {
            let payload = timeout(PATIENCE, async {
                loop {
                    match listener.recv().await.unwrap() {
                        warm if warm == b"warm" => continue,
                        payload => return payload,
                    }
                }
            });
            assert_eq!(payload.await.unwrap(), b"sse", "{kind:?}");
        }
        assert!(other_channel.try_recv().is_err(), "{kind:?}: another channel hears nothing");

        engine.kill();
        let refused = timeout(PATIENCE, async {
            loop {
                if first.announce("drops", b"while down".to_vec()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        refused.await.unwrap_or_else(|_| panic!("{kind:?}: an announcement with the engine down was taken"));
        engine.restart_after_kill();
        for listener in &mut heard {
            let again = announce_until_heard(second.clone(), b"again");
            tokio::select! {
                _ = again => unreachable!(),
                payload = timeout(PATIENCE, async {
                    loop {
                        let payload = listener.recv().await.unwrap();
                        if payload == b"again" {
                            return payload;
                        }
                        assert_ne!(payload, b"while down", "{kind:?}: a refused announcement arrived later");
                    }
                }) => assert_eq!(payload.unwrap(), b"again", "{kind:?}"),
            }
        }
    }
}

/// The lease and the settings live in buckets of their own (NATS keeps the lease's in memory): after the engine
/// crashed and came back, both work again, or no generator would ever tick again.
#[tokio::test]
async fn the_lease_and_the_settings_work_again_after_the_engine_comes_back() {
    for kind in ENGINES {
        let mut engine = Engine::start(kind);
        let log = connect(&engine).await;
        assert!(log.hold_lease("lab-1", Duration::from_secs(2)).await.unwrap(), "{kind:?}");
        log.put_setting("generator", b"1".to_vec()).await.unwrap();
        engine.kill();
        engine.restart_after_kill();
        let again = timeout(PATIENCE, async {
            loop {
                let lease = log.hold_lease("lab-1", Duration::from_secs(2)).await;
                let setting = log.put_setting("generator", b"2".to_vec()).await;
                if matches!(lease, Ok(true)) && setting.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        again.await.unwrap_or_else(|_| panic!("{kind:?}: the lease or the settings never worked again"));
        assert_eq!(log.setting("generator").await.unwrap().as_deref(), Some(&b"2"[..]), "{kind:?}");
    }
}
