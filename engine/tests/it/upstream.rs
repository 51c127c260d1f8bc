use std::time::Duration;

use crate::support::{Engine, app, client};

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_gives_502_json_then_recovers() {
    let first = app::http().await;
    let addr = first.addr;
    let engine = Engine::start(addr, "");
    assert_eq!(client::get(engine.addr, "/").await.status(), 200);
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let resp = client::get(engine.addr, "/").await;
    assert_eq!(resp.status(), 502);
    let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(json["status"], 502);
    assert_eq!(
        json["request_id"],
        resp.headers()["x-request-id"].to_str().unwrap()
    );
    assert!(
        engine
            .metric("palisade_upstream_errors_total{kind=\"connect\"}")
            .await
            >= 1.0
    );
    assert!(
        engine
            .metric("palisade_requests_total{code_class=\"5xx\",decision=\"error\",method=\"GET\"}")
            .await
            >= 1.0
    );

    let _back = app::http_on(addr).await;
    let resp = client::get(engine.addr, "/").await;
    assert_eq!(
        resp.status(),
        200,
        "recovered without restarting the engine"
    );
    assert_eq!(resp.body(), "hello from app");
}
