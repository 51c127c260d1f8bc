use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::sys::signal::Signal;

use crate::support::{Engine, app, client};

async fn wait_metric(engine: &Engine, name: &str, at_least: f64) {
    let start = Instant::now();
    while engine.metric(name).await < at_least {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} never reached {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const OK: &str = "palisade_config_reloads_total{result=\"success\"}";
const FAILED: &str = "palisade_config_reloads_total{result=\"failure\"}";

#[tokio::test(flavor = "multi_thread")]
async fn twenty_reloads_under_load_fail_no_request() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_uri_bytes: 4000\n");
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let addr = engine.addr;
        workers.push(tokio::spawn(async move {
            let mut sender = client::connect(addr).await;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // Alternate kept-alive and fresh connections.
                if i.is_multiple_of(5) {
                    sender = client::connect(addr).await;
                }
                let body = format!("worker {w} request {i}");
                let resp =
                    client::send(&mut sender, client::request("POST", "/echo", body.clone())).await;
                if resp.status() == 200 && resp.body() == body.as_bytes() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for n in 1..=20 {
        // Each reload really changes the config.
        engine.write_config(&format!("limits:\n  max_uri_bytes: {}\n", 4000 + n));
        engine.signal(Signal::SIGHUP);
        wait_metric(&engine, OK, n as f64).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(engine.metric(OK).await >= 20.0);
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 20, "the load loop ran");
    let _ = Bytes::new();
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_change_applies_without_restart() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "");
    let long = format!("/{}", "p".repeat(100));
    assert_eq!(client::get(engine.addr, &long).await.status(), 200);
    engine.write_config("limits:\n  max_uri_bytes: 50\n");
    wait_metric(&engine, OK, 1.0).await;
    assert_eq!(client::get(engine.addr, &long).await.status(), 414);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_reload_is_rejected_and_serving_continues() {
    let app = app::http().await;
    let engine = Engine::start(app.addr, "limits:\n  max_uri_bytes: 50\n");
    let mut kept = client::connect(engine.addr).await;
    assert_eq!(
        client::send(&mut kept, client::request("GET", "/", Bytes::new()))
            .await
            .status(),
        200
    );
    engine.write_config("limits:\n  max_uri_bytes: 5000\ninspection:\n  mode: blok\n");
    wait_metric(&engine, FAILED, 1.0).await;
    engine.signal(Signal::SIGHUP);
    wait_metric(&engine, FAILED, 2.0).await;
    assert_eq!(engine.metric(OK).await, 0.0);
    // The old config still serves, on the open connection and on new ones.
    let long = format!("/{}", "p".repeat(100));
    let resp = client::send(&mut kept, client::request("GET", &long, Bytes::new())).await;
    assert_eq!(resp.status(), 414, "old limit still applies");
    assert_eq!(client::get(engine.addr, "/").await.status(), 200);
    assert_eq!(engine.admin_get("/readyz").await.0, 200);
}

/// A ConfigMap volume as kubelet's atomic writer lays it out and updates it: the data lives
/// in a hidden timestamped directory, `..data` is a symlink to it, and each key is a symlink
/// `KEY -> ..data/KEY`. An update writes a new timestamped directory, points `..data_tmp` at
/// it, renames `..data_tmp` over `..data` (the one atomic step), adds links for new keys,
/// removes links of dropped keys, then deletes the old directory.
struct ConfigMapVolume {
    dir: std::path::PathBuf,
    generation: u32,
}

impl ConfigMapVolume {
    fn new(dir: std::path::PathBuf, data: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let mut v = ConfigMapVolume { dir, generation: 0 };
        v.update(data);
        v
    }

    fn update(&mut self, data: &[(&str, &str)]) {
        use std::os::unix::fs::symlink;
        self.generation += 1;
        let old = std::fs::read_link(self.dir.join("..data")).ok();
        let ts = format!("..2026_12_02_06_30_00.{:09}", self.generation);
        std::fs::create_dir(self.dir.join(&ts)).unwrap();
        for (key, value) in data {
            std::fs::write(self.dir.join(&ts).join(key), value).unwrap();
        }
        symlink(&ts, self.dir.join("..data_tmp")).unwrap();
        std::fs::rename(self.dir.join("..data_tmp"), self.dir.join("..data")).unwrap();
        for (key, _) in data {
            let link = self.dir.join(key);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(format!("..data/{key}"), &link).unwrap();
            }
        }
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.starts_with("..") && !data.iter().any(|(k, _)| *k == name) {
                std::fs::remove_file(self.dir.join(&name)).unwrap();
            }
        }
        if let Some(old) = old {
            std::fs::remove_dir_all(self.dir.join(old)).unwrap();
        }
    }
}

fn probe_rule(id: u32, value: &str) -> String {
    format!(
        "SecRule ARGS:probe \"@streq {value}\" \"id:{id},phase:1,deny,status:403,msg:'probe {value}'\"\n"
    )
}

async fn status(engine: &Engine, path: &str) -> u16 {
    client::get(engine.addr, path).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn configmap_update_reloads_rules_and_a_bad_rule_keeps_the_old_ones() {
    let app = app::http().await;
    let root = tempfile::tempdir().unwrap();
    // As the injector mounts them: the cluster-wide ConfigMap, then the pod's own.
    let cluster = ConfigMapVolume::new(
        root.path().join("rules"),
        &[("baseline.conf", &probe_rule(1001, "cluster"))],
    );
    let mut pod = ConfigMapVolume::new(
        root.path().join("pod-rules"),
        &[
            ("exclusions.conf", &probe_rule(2001, "one")),
            ("README", "not a rule file"),
        ],
    );
    let rules = format!(
        "{}/*.conf,{}/*.conf",
        cluster.dir.display(),
        pod.dir.display()
    );
    let engine = Engine::start_args(
        &["--upstream", &app.addr.to_string()],
        "",
        &[
            ("PALISADE_INSPECTION_RULES", &rules),
            ("PALISADE_INSPECTION_ALLOW_NO_RULES", "false"),
        ],
    );
    assert_eq!(status(&engine, "/?probe=cluster").await, 403);
    assert_eq!(status(&engine, "/?probe=one").await, 403);
    assert_eq!(status(&engine, "/?probe=two").await, 200);

    // A good change, with a new key: the new rules apply on the live engine.
    pod.update(&[
        ("exclusions.conf", &probe_rule(2001, "two")),
        ("extra.conf", &probe_rule(2002, "three")),
    ]);
    wait_metric(&engine, OK, 1.0).await;
    let start = Instant::now();
    while status(&engine, "/?probe=three").await != 403 {
        // A new key's link appears just after the swap: a second reload may follow.
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "extra.conf never loaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        status(&engine, "/?probe=two").await,
        403,
        "changed rule applies"
    );
    assert_eq!(status(&engine, "/?probe=one").await, 200, "old rule gone");
    assert_eq!(
        status(&engine, "/?probe=cluster").await,
        403,
        "cluster rules kept"
    );
    let ok_before_bad = engine.metric(OK).await;

    // A bad rule on line 2: refused, counted, logged with the file and line; the previous
    // rules stay in force.
    pod.update(&[
        (
            "exclusions.conf",
            &format!(
                "{}SecRule ARGS \"@nosuchop x\" \"id:2003,phase:1,deny\"\n",
                probe_rule(2001, "four")
            ),
        ),
        ("extra.conf", &probe_rule(2002, "three")),
    ]);
    wait_metric(&engine, FAILED, 1.0).await;
    let file = pod.dir.join("exclusions.conf");
    let line = engine.wait_log(
        &[&format!("{}:2", file.display()), "line=2"],
        Duration::from_secs(10),
    );
    assert!(line.contains("ERROR"), "{line}");
    assert_eq!(
        engine.metric(OK).await,
        ok_before_bad,
        "no successful reload"
    );
    assert_eq!(
        status(&engine, "/?probe=two").await,
        403,
        "old rules enforced"
    );
    assert_eq!(
        status(&engine, "/?probe=four").await,
        200,
        "bad file not loaded"
    );
    assert_eq!(engine.admin_get("/readyz").await.0, 200);

    // Fixing it reloads again.
    pod.update(&[("exclusions.conf", &probe_rule(2001, "four"))]);
    wait_metric(&engine, OK, ok_before_bad + 1.0).await;
    assert_eq!(status(&engine, "/?probe=four").await, 403);
    assert_eq!(
        status(&engine, "/?probe=three").await,
        200,
        "dropped key unloaded"
    );
}
