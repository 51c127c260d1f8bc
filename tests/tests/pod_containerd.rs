//! The injected pod, run as kubelet runs it: the pod the injector's patch makes of a fixture
//! pod (`tests/data/pods/web.yaml`, with the config the chart renders, images pointed at the
//! local ones) goes through CRI on a real containerd (tests/src/kubelet.rs): sandbox with the
//! CNI chain, init containers in order, the engine as a native sidecar gated by its startup
//! probe, then the app. The images are the real ones, built offline from images/*/Dockerfile
//! by scripts/build-images.sh (FROM scratch, static binaries, the CRS from ../shared); the
//! app is the project's own (tests/src/test_app.c). Traffic comes from the node.
//!
//! Four pods: redirect by palisade-cni in the chain (with the injected palisade-validate),
//! redirect by the injected palisade-init (`palisade.dev/redirect: init`, no palisade-cni on
//! the node), and a CNI-mode pod on a node where palisade-cni is missing, which the validator
//! stops and the repair controller's decision function marks for deletion; and the injector's
//! image, started as a restricted container.
//!
//! Needs root, containerd, runc, a C compiler, curl, the static binaries
//! (`scripts/build-static.sh`) and the image archives (`scripts/build-images.sh`); under
//! CI=true a missing one fails the test.

// An integration-test crate: helpers outside #[test] fns panic to report a failure, as the
// tests do (clippy.toml's allow-unwrap-in-tests covers only #[test] and #[cfg(test)]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodStatus,
};
use palisade_api::{exit, names};
use palisade_cni_plugin::install::RepairMode;
use palisade_cni_plugin::install::repair::{self, Repair};
use palisade_injector::config::InjectorConfig;
use palisade_injector::inject::{Decision, decide};
use palisade_tests::cri::{Containerd, palisade_rules};
use palisade_tests::kubelet::{
    RunningPod, http_get, log_lines, log_of, probe_once, run_pod, test_app_archive,
};
use serde_json::Value;

const ENGINE_IMAGE: &str = "localhost/palisade-engine:test";
const CNI_IMAGE: &str = "localhost/palisade-cni:test";
const APP_PORT: u16 = 8080;
const EXCLUDED_PORT: u16 = 8081;
const ADMIN_PORT: u16 = 15301;

/// `<target>/images`, where scripts/build-images.sh writes the OCI archives.
fn images_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .expect("test executable sits in <target>/<profile>/deps")
        .join("images")
}

fn require_images() -> bool {
    let dir = images_dir();
    let missing: Vec<String> = ["engine", "cni", "injector"]
        .iter()
        .map(|i| dir.join(format!("palisade-{i}.tar")))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    palisade_tests::require(
        missing.is_empty() && palisade_tests::which("curl").is_some(),
        &format!(
            "missing image archives {missing:?} (run scripts/build-static.sh then \
             scripts/build-images.sh with the same CARGO_TARGET_DIR) or curl"
        ),
    )
}

/// The pod the injector makes of the fixture: the chart's rendered injector config (Kubernetes
/// 1.36: native sidecar; `redirect.validate: true`), images pointed at the imported ones,
/// the patch applied as the API server applies it.
fn injected_pod(redirect: Option<&str>) -> Pod {
    let root = palisade_tests::workspace_root();
    let mut cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("injector/tests/fixtures/chart-injector.json"))
            .expect("chart-injector.json"),
    )
    .expect("chart-injector.json is JSON");
    cfg["engine"]["image"] = ENGINE_IMAGE.into();
    cfg["engine"]["imagePullPolicy"] = "Never".into();
    cfg["redirect"]["initImage"] = CNI_IMAGE.into();
    cfg["redirect"]["initImagePullPolicy"] = "Never".into();
    let cfg = InjectorConfig::from_json(&cfg.to_string(), "chart-injector.json").expect("config");
    let mut doc: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("tests/data/pods/web.yaml")).expect("web.yaml"),
    )
    .expect("web.yaml is YAML");
    if let Some(mode) = redirect {
        doc["metadata"]["annotations"][names::REDIRECT] = mode.into();
    }
    let pod: Pod = serde_json::from_value(doc.clone()).expect("fixture is a Pod");
    let Decision::Patch { patch, .. } = decide(&pod, "shop", &BTreeMap::new(), &cfg) else {
        panic!(
            "the injector did not patch the fixture: {:?}",
            decide(&pod, "shop", &BTreeMap::new(), &cfg)
        );
    };
    let patch: json_patch::Patch = serde_json::from_value(patch).expect("RFC 6902 patch");
    json_patch::patch(&mut doc, &patch).expect("the patch applies");
    serde_json::from_value(doc).expect("patched pod is a Pod")
}

fn init_names(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map(|c| c.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

/// `curl` from the node; (status, HTTP version, body).
fn curl(cd: &Containerd, args: &[&str]) -> (u16, String, String) {
    let out = cd
        .node()
        .command("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-o",
            "-",
            "-w",
            "\n%{http_code} %{http_version}",
        ])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, last) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let mut parts = last.split(' ');
    let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let version = parts.next().unwrap_or("").to_string();
    (code, version, body.to_string())
}

/// Seconds since the epoch of an RFC 3339 UTC time as containerd writes them in CRI logs
/// (`2026-12-02T06:30:00.123456789Z`).
fn rfc3339(t: &str) -> f64 {
    let t = t
        .strip_suffix('Z')
        .unwrap_or_else(|| panic!("CRI log time `{t}` is not UTC"));
    let (date, time) = t.split_once('T').expect("date T time");
    let d: Vec<i64> = date.split('-').map(|p| p.parse().expect("date")).collect();
    let (y, m, day) = (d[0], d[1], d[2]);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let hms: Vec<f64> = time.split(':').map(|p| p.parse().expect("time")).collect();
    days as f64 * 86_400.0 + hms[0] * 3600.0 + hms[1] * 60.0 + hms[2]
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

fn nanos_secs(n: i64) -> f64 {
    n as f64 / 1e9
}

/// The engine's JSON lines (stdout) from its CRI log.
fn engine_json(pod: &RunningPod) -> Vec<(f64, Value)> {
    log_lines(&pod.container(names::ENGINE_CONTAINER).log_path)
        .into_iter()
        .filter_map(|(t, line)| serde_json::from_str(&line).ok().map(|v| (rfc3339(&t), v)))
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn access_line(pod: &RunningPod, path: &str) -> Value {
    let mut found = None;
    wait_until(
        &format!("the engine's access-log line for {path}"),
        Duration::from_secs(10),
        || {
            found = engine_json(pod)
                .into_iter()
                .map(|(_, v)| v)
                .find(|v| v["type"] == "access" && v["path"] == path);
            found.is_some()
        },
    );
    found.expect("found")
}

/// `/proc/<pid>/status` fields of the engine's process.
fn proc_status(pid: u32) -> BTreeMap<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("read /proc/<engine>/status")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn root_mount_options(pid: u32) -> String {
    let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    info.lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.len() > 5 && f[4] == "/")
        .map(|f| f[5].to_string())
        .expect("a mount at / in the engine's mount namespace")
}

/// The whole life of the injected pod for one redirect mode.
fn injected_pod_lifecycle(mode: &str) {
    if !palisade_tests::cri::require_containerd_env() || !require_images() {
        return;
    }
    let started = Instant::now();
    let mut cd = Containerd::start(&format!("pod-{mode}"), None);
    if mode == "init" {
        // A node without the CNI DaemonSet: the reason to choose init-container redirection.
        cd.without_palisade_in_chain();
    }
    for image in ["engine", "cni"] {
        cd.import_image(&images_dir().join(format!("palisade-{image}.tar")));
    }
    cd.import_image(&test_app_archive(cd.dir()));
    let ready = started.elapsed();

    let pod = injected_pod((mode == "init").then_some("init"));
    let checker = if mode == "init" {
        names::INIT_CONTAINER
    } else {
        names::VALIDATE_CONTAINER
    };
    assert_eq!(
        init_names(&pod),
        [checker, names::ENGINE_CONTAINER],
        "the injected pod's init containers"
    );
    let running = run_pod(&cd, &pod).unwrap_or_else(|f| {
        panic!(
            "init container {} exited {}: {}\n{}",
            f.container, f.exit_code, f.message, f.log
        )
    });
    let pod_up = started.elapsed();
    let ip = running.sandbox.ip;
    let rules = palisade_rules(&running.sandbox.netns_path());
    assert!(!rules.is_empty(), "{mode}: no redirect rules in the pod");

    // --- start order: the checker exited 0 before the engine started; the app was created
    // only after the engine's startup probe passed, and after the engine said it listened.
    let engine = running.container(names::ENGINE_CONTAINER);
    let app = running.container("app");
    let check = running.container(checker);
    let (check_status, _) = cd.container_status(&check.id);
    let (engine_status, engine_pid) = cd.container_status(&engine.id);
    let engine_started = nanos_secs(engine_status.started_at);
    let (app_status, _) = cd.container_status(&app.id);
    assert_eq!(
        check_status.exit_code,
        0,
        "{checker}: {}",
        log_of(&check.log_path)
    );
    if mode == "cni" {
        assert!(
            log_of(&check.log_path).contains("redirect verified"),
            "palisade-validate: {}",
            log_of(&check.log_path)
        );
    }
    assert!(
        nanos_secs(check_status.finished_at) <= nanos_secs(engine_status.created_at),
        "{checker} finished after the engine was created"
    );
    let probe_ok = secs(running.event_time("startup probe ok"));
    assert!(
        nanos_secs(app_status.created_at) >= probe_ok,
        "the app was created before the engine's startup probe passed"
    );
    let listening = engine_json(&running)
        .into_iter()
        .find(|(_, v)| v["type"] == "listening")
        .map(|(t, _)| t)
        .unwrap_or_else(|| panic!("no `listening` line:\n{}", log_of(&engine.log_path)));
    assert!(
        listening < nanos_secs(app_status.started_at),
        "the engine listened at {listening}, after the app started at {}",
        nanos_secs(app_status.started_at)
    );

    // --- the engine runs with the injected security context.
    let st = proc_status(engine_pid);
    assert!(
        st["Uid"].starts_with("15300\t"),
        "engine Uid: {}",
        st["Uid"]
    );
    assert!(
        st["Gid"].starts_with("15300\t"),
        "engine Gid: {}",
        st["Gid"]
    );
    for cap in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(st[cap], "0000000000000000", "engine {cap}");
    }
    assert_eq!(st["NoNewPrivs"], "1", "engine no_new_privs");
    assert_eq!(
        st["Seccomp"], "2",
        "engine seccomp (RuntimeDefault = filter)"
    );
    let root = root_mount_options(engine_pid);
    assert!(
        root.split(',').any(|o| o == "ro"),
        "engine root filesystem is not read-only: {root}"
    );

    // --- the kubelet's probes against the admin port.
    for probe in [&engine.spec.readiness_probe, &engine.spec.liveness_probe] {
        let probe = probe
            .as_ref()
            .expect("the engine has readiness and liveness probes");
        assert!(
            probe_once(&cd, ip, &engine.spec, probe),
            "probe {:?} failed",
            probe.http_get
        );
    }
    let (status, metrics) = http_get(&cd, ip, ADMIN_PORT, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200, "/metrics");
    assert!(
        metrics.contains("# TYPE palisade_active_connections"),
        "/metrics: {metrics}"
    );

    // --- requests from the node.
    let base = format!("http://{ip}:{APP_PORT}");
    let mut seen = Vec::new();
    let (code, version, body) = curl(&cd, &[&format!("{base}/hello?name=world")]);
    assert_eq!(code, 200, "benign GET: {body}");
    seen.push(format!(
        "GET :8080/hello {code} HTTP/{version} via the engine"
    ));
    assert_eq!(body.trim(), "app port=8080 target=/hello?name=world");
    assert!(
        log_of(&app.log_path).contains("target=/hello?name=world body=0/0"),
        "the app's log: {}",
        log_of(&app.log_path)
    );
    let line = access_line(&running, "/hello");
    assert_eq!(line["status"], 200, "access line: {line}");
    let attacks = [
        vec![format!(
            "{base}/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        )],
        vec![format!("{base}/item?id=1%27%20OR%20%271%27%3D%271")],
        vec![
            "--data".to_string(),
            "comment=<script>alert(document.cookie)</script>".to_string(),
            format!("{base}/comment"),
        ],
    ];
    for attack in &attacks {
        let args: Vec<&str> = attack.iter().map(String::as_str).collect();
        let (code, _, body) = curl(&cd, &args);
        assert_eq!(code, 403, "attack {attack:?}: {body}");
        seen.push(format!("attack {} {code}", attack.last().expect("url")));
    }
    for path in ["/search", "/item", "/comment"] {
        assert_eq!(access_line(&running, path)["status"], 403, "{path}");
    }
    // Attacks in the target never reach the app. For a body the engine sends the head on when
    // the body starts and the body only once inspected (docs/inspection.md), so the app sees
    // the head of the blocked POST but never a byte of its body.
    let app_log = log_of(&app.log_path);
    for path in ["/search", "/item"] {
        assert!(
            !app_log.contains(&format!("target={path}")),
            "the app saw the attack on {path}:\n{app_log}"
        );
    }
    assert!(
        app_log
            .lines()
            .filter(|l| l.contains("target=/comment"))
            .all(|l| l.contains(" body=0/")),
        "the app got the blocked body:\n{app_log}"
    );
    let (code, _, body) = curl(&cd, &[&format!("http://{ip}:{EXCLUDED_PORT}/direct")]);
    assert_eq!((code, body.trim()), (200, "app port=8081 target=/direct"));
    seen.push(format!("GET :8081/direct {code} straight to the app"));
    assert!(
        !engine_json(&running)
            .iter()
            .any(|(_, v)| v["path"] == "/direct"),
        "the excluded port went through the engine"
    );
    let (code, version, body) = curl(&cd, &["--http2-prior-knowledge", &format!("{base}/h2")]);
    assert_eq!((code, version.as_str()), (200, "2"), "h2c: {body}");
    seen.push(format!("h2c GET /h2 {code} HTTP/{version}"));
    let h2 = access_line(&running, "/h2");
    assert_eq!(h2["status"], 200);
    let (code, version, _) = curl(
        &cd,
        &[
            "--http2-prior-knowledge",
            &format!("{base}/h2?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        ],
    );
    assert_eq!((code, version.as_str()), (403, "2"), "h2c attack");
    seen.push(format!("h2c attack {code} HTTP/{version}"));

    let (_, metrics) = http_get(&cd, ip, ADMIN_PORT, "/metrics").expect("GET /metrics");
    let counted: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("palisade_requests_total{"))
        .collect();
    assert!(
        counted.iter().any(|l| l.contains("code_class=\"4xx\""))
            && counted.iter().any(|l| l.contains("code_class=\"2xx\"")),
        "palisade_requests_total does not count the 200s and 403s: {counted:?}"
    );

    // --- teardown with a slow request in flight.
    let held = running.sandbox.hold_netns();
    assert!(
        !cd.netns_mounts().is_empty(),
        "the pod's netns mount is not where expected"
    );
    let pids = [engine_pid, cd.container_status(&app.id).1];
    let slow = {
        let url = format!("{base}/slow");
        let node = cd.node().name().to_string();
        std::thread::spawn(move || {
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", &node, "curl", "-sS", "--max-time", "30"])
                .args(["-o", "/dev/null", "-w", "%{http_code}", &url])
                .output()
                .expect("run curl");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    wait_until("the app to get /slow", Duration::from_secs(10), || {
        log_of(&app.log_path).contains("target=/slow")
    });
    let teardown = Instant::now();
    // init: every container gets SIGTERM at once, so the engine itself drains the request;
    // cni: kubelet's native-sidecar order, app first, then the engine.
    let exits = running.delete(&cd, 30, mode == "init");
    let teardown = teardown.elapsed();
    let slow = slow.join().expect("slow request");
    assert_eq!(slow, "200", "in-flight request");
    seen.push(format!(
        "GET /slow (3 s) in flight during teardown {slow}, teardown {teardown:.1?}"
    ));
    assert_eq!(
        exits.get(names::ENGINE_CONTAINER),
        Some(&0),
        "engine exit after SIGTERM; log:\n{}",
        log_of(&engine.log_path)
    );
    assert_eq!(exits.get("app"), Some(&0), "app exit after SIGTERM");
    let events: Vec<String> = engine_json(&running)
        .into_iter()
        .filter_map(|(_, v)| v["type"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        events.last().map(String::as_str),
        Some("stopped"),
        "the engine's last line after SIGTERM"
    );
    assert!(
        log_of(&app.log_path).contains("app stopped"),
        "the app did not stop on SIGTERM"
    );
    if mode == "cni" {
        let left = palisade_rules(&held.path());
        assert!(left.is_empty(), "rules left after CNI DEL: {left:?}");
    }
    drop(held);
    assert!(
        cd.containers().is_empty(),
        "containers left: {:?}",
        cd.containers()
    );
    assert!(cd.sandbox_ids().is_empty(), "sandboxes left");
    assert_eq!(cd.tasks().trim(), "", "tasks left");
    assert!(
        cd.netns_mounts().is_empty(),
        "netns left: {:?}",
        cd.netns_mounts()
    );
    for pid in pids {
        assert!(
            !PathBuf::from(format!("/proc/{pid}")).exists(),
            "process {pid} still exists"
        );
    }
    eprintln!(
        "pod {mode}: containerd + images ready in {ready:.1?}, pod running in {pod_up:.1?} \
         (engine startup probe passed {:.2} s after the engine started), teardown \
         {teardown:.1?}, whole test {:.1?}",
        probe_ok - engine_started,
        started.elapsed()
    );
    eprintln!("pod {mode}: from the node: {}", seen.join("; "));
}

#[test]
fn injected_pod_runs_under_containerd_with_palisade_cni_redirect() {
    injected_pod_lifecycle("cni");
}

#[test]
fn injected_pod_runs_under_containerd_with_palisade_init_redirect() {
    injected_pod_lifecycle("init");
}

/// The race the validator exists for: the pod's sandbox was made before palisade-cni was on
/// the node. palisade-validate (non-root, no capabilities) exits 66 with the termination
/// message, nothing after it starts, and the repair controller's decision on the pod status
/// kubelet would report is to delete the pod (or, with `repairMode: none`, to report it).
#[test]
fn pod_without_its_redirect_is_stopped_by_the_validator_and_repaired() {
    if !palisade_tests::cri::require_containerd_env() || !require_images() {
        return;
    }
    let mut cd = Containerd::start("pod-no-redirect", None);
    cd.without_palisade_in_chain();
    for image in ["engine", "cni"] {
        cd.import_image(&images_dir().join(format!("palisade-{image}.tar")));
    }
    cd.import_image(&test_app_archive(cd.dir()));
    let pod = injected_pod(None);
    let failure = run_pod(&cd, &pod).expect_err("a pod without its redirect started");
    assert_eq!(failure.container, names::VALIDATE_CONTAINER);
    assert_eq!(
        failure.exit_code,
        exit::REDIRECT_MISSING_K8S,
        "{}",
        failure.log
    );
    assert!(
        failure.message.contains(exit::REDIRECT_MISSING_MARKER),
        "termination message: {:?}",
        failure.message
    );
    assert!(
        failure
            .log
            .contains("was palisade-cni on the node when the pod started?"),
        "the validator's log does not say what is wrong: {}",
        failure.log
    );
    let created: Vec<String> = cd.containers().into_iter().map(|(_, n, _)| n).collect();
    assert_eq!(created, [names::VALIDATE_CONTAINER], "containers created");

    // The pod status kubelet reports for it, as the repair controller watches it.
    let mut seen = pod.clone();
    seen.metadata.name = Some("web-5f7c9d8b4-test".to_string());
    seen.status = Some(PodStatus {
        phase: Some("Pending".to_string()),
        init_container_statuses: Some(vec![ContainerStatus {
            name: failure.container.clone(),
            image: CNI_IMAGE.to_string(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: failure.exit_code,
                    message: Some(failure.message.clone()),
                    reason: Some("Error".to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let exclude = vec!["kube-system".to_string()];
    match repair::decide(&seen, RepairMode::DeletePods, &exclude) {
        Repair::Delete(reason) => assert!(reason.contains(names::VALIDATE_CONTAINER), "{reason}"),
        other => panic!("repair controller: {other:?}"),
    }
    assert!(matches!(
        repair::decide(&seen, RepairMode::None, &exclude),
        Repair::Report(_)
    ));
    cd.stop_pod(&failure.sandbox);
    eprintln!(
        "pod without redirect: {} exited {} with {:?}",
        failure.container, failure.exit_code, failure.message
    );
}

/// The third image, started from its archive under the same runtime: the static injector in
/// a `FROM scratch` image runs as non-root with a read-only root and no capabilities
/// (`--help`, as an init container that must exit 0; serving admission needs a TLS pair and
/// is tested in injector/tests/webhook_https.rs).
#[test]
fn injector_image_runs_from_scratch_as_non_root() {
    if !palisade_tests::cri::require_containerd_env() || !require_images() {
        return;
    }
    let archive = images_dir().join("palisade-injector.tar");
    let cd = Containerd::start("pod-injector", None);
    cd.import_image(&archive);
    cd.import_image(&test_app_archive(cd.dir()));
    let restricted = serde_json::json!({
        "runAsUser": 65532, "runAsGroup": 65532, "runAsNonRoot": true,
        "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] }, "seccompProfile": { "type": "RuntimeDefault" },
    });
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "injector-smoke", "namespace": "palisade-system" },
        "spec": {
            "initContainers": [{
                "name": "injector", "image": "localhost/palisade-injector:test",
                "args": ["--help"], "securityContext": restricted,
            }],
            "containers": [{
                "name": "app", "image": palisade_tests::kubelet::TEST_APP_IMAGE,
                "args": ["8080"], "securityContext": restricted,
            }],
        },
    }))
    .expect("pod");
    let running = run_pod(&cd, &pod).unwrap_or_else(|f| {
        panic!(
            "the injector image exited {}: {}{}",
            f.exit_code, f.message, f.log
        )
    });
    let log = log_of(&running.container("injector").log_path);
    assert!(
        log.contains("Usage: palisade-injector"),
        "injector --help: {log}"
    );
    running.delete(&cd, 5, false);
}
