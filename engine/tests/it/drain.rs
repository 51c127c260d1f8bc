use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{Engine, app, client};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_slow_request_refuses_new_and_exits_zero() {
    let app = app::http().await;
    let mut engine = Engine::start(app.addr, "timeouts:\n  drain_ms: 15000\n");
    let addr = engine.addr;
    let slow = tokio::spawn(async move { client::get(addr, "/slow?ms=2500").await });
    // Wait until the slow request is in flight.
    let start = Instant::now();
    while engine.metric("palisade_in_flight_requests").await < 1.0 {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine.signal(Signal::SIGTERM);

    // Signal delivery is asynchronous: readiness turns false shortly after.
    let start = Instant::now();
    loop {
        let (status, body) = engine.admin_get("/readyz").await;
        if status == 503 {
            assert_eq!(body, "draining\n");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "still ready after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // New connections are refused once the listener closed.
    let start = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "listener still accepting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resp = slow.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), "slow done");
    let status = tokio::task::spawn_blocking(move || {
        let s = engine.wait_exit(Duration::from_secs(10));
        (s, engine)
    })
    .await
    .unwrap();
    let (exit, engine) = status;
    let exit = exit.expect("engine did not exit after the drain");
    assert_eq!(exit.code(), Some(0));
    assert!(engine.events().iter().any(|v| v["type"] == "stopped"));
}
