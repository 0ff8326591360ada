//! Leader election against the real API server: one leader at a time, a standby takes over a
//! released Lease on its next attempt and an abandoned one once it has gone unrenewed for the
//! lease duration, and a leader whose Lease was taken over notices within a retry period.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use keelson_manager::lease::Attempt;
use keelson_manager::{Elector, LeaseConfig};
use keelson_testsupport::TestNamespace;
use kube::Api;

fn candidate(ns: &TestNamespace, identity: &str) -> Elector {
    Elector::new(
        ns.client(),
        LeaseConfig {
            name: "test-leader-election".into(),
            namespace: ns.name().into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(4),
            renew_deadline: Duration::from_secs(3),
            retry_period: Duration::from_millis(500),
        },
    )
}

async fn holder(ns: &TestNamespace) -> Option<String> {
    let leases: Api<Lease> = ns.api();
    leases
        .get("test-leader-election")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn one_leader_and_takeovers() {
    let ns = TestNamespace::create("lease").await;
    let mut a = candidate(&ns, "a");
    let mut b = candidate(&ns, "b");

    assert_eq!(a.try_acquire_or_renew().await.unwrap(), Attempt::Leading);
    assert_eq!(
        b.try_acquire_or_renew().await.unwrap(),
        Attempt::Standby { holder: "a".into() }
    );
    assert_eq!(
        a.try_acquire_or_renew().await.unwrap(),
        Attempt::Leading,
        "renewal"
    );
    assert_eq!(holder(&ns).await.as_deref(), Some("a"));
    let leases: Api<Lease> = ns.api();
    let lease = leases
        .get("test-leader-election")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(lease.lease_duration_seconds, Some(4));
    assert_eq!(lease.lease_transitions, Some(0));

    // A releases: B takes over on its next attempt, without waiting for the lease duration.
    a.release().await.unwrap();
    assert_eq!(holder(&ns).await, None);
    let started = Instant::now();
    b.acquire(|_| {}).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(holder(&ns).await.as_deref(), Some("b"));
    let lease = leases
        .get("test-leader-election")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(lease.lease_transitions, Some(1));

    // B dies without releasing: A takes over only after the record went unrenewed for the
    // lease duration (4 s), measured from when A first saw it.
    drop(b);
    let started = Instant::now();
    let mut standby_seen = false;
    a.acquire(|holder| {
        assert_eq!(holder, "b");
        standby_seen = true;
    })
    .await;
    let took = started.elapsed();
    assert!(standby_seen, "A stood by first");
    assert!(
        took >= Duration::from_secs(4),
        "took over too early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(9),
        "took over too late: {took:?}"
    );
    assert_eq!(holder(&ns).await.as_deref(), Some("a"));

    // Someone else takes the Lease from under A (as after a partition): A's renewal loop
    // notices and returns.
    let mut c = candidate(&ns, "c");
    let mut lease = leases.get("test-leader-election").await.unwrap();
    lease.spec.as_mut().unwrap().holder_identity = Some("c".into());
    leases
        .replace("test-leader-election", &Default::default(), &lease)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(3), a.renew_until_lost())
        .await
        .expect("A noticed it lost the Lease");
    assert_eq!(c.try_acquire_or_renew().await.unwrap(), Attempt::Leading);
}
