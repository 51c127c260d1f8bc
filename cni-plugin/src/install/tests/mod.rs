//! Installer tests on temporary directories: golden conflists for calico-, flannel- and
//! cilium-shaped inputs, re-insertion after the primary CNI rewrites its file, removal,
//! kubeconfig rewrite on token rotation; pure conflist and repair decisions in `decisions`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::config::{InstallConfig, RepairMode};
use super::installer::{Ensure, Installer};

mod decisions;

const SERVER: &str = "https://10.96.0.1:443";

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cni-plugin/src/install/testdata")
        .join(name)
}

/// A node's CNI dirs and service-account files under one temp dir.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new(primary: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["bin", "net.d", "sa"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("sa/token"), "token-1").unwrap();
        std::fs::write(
            dir.path().join("sa/ca.crt"),
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("palisade-cni-src"), b"\x7fELF plugin bytes").unwrap();
        if let Some(name) = primary {
            std::fs::copy(testdata(name), dir.path().join("net.d").join(name)).unwrap();
        }
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn config(&self, mode: &str) -> InstallConfig {
        serde_json::from_value(json!({
            "mode": mode,
            "hostBinDir": self.path("bin"),
            "hostConfDir": self.path("net.d"),
            "hostBinDirOnNode": "/opt/cni/bin",
            "hostConfDirOnNode": "/etc/cni/net.d",
            "excludeNamespaces": ["kube-system"],
            "repairMode": "none",
            "cleanupOnExit": true,
            "logLevel": "info",
            "readyzPort": 15309,
            "serviceAccountDir": self.path("sa"),
            "pluginBinary": self.path("palisade-cni-src"),
        }))
        .unwrap()
    }

    fn installer(&self, mode: &str) -> Installer {
        Installer::new(self.config(mode), SERVER.to_owned())
    }

    fn read_json(&self, rel: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path(rel)).unwrap()).unwrap()
    }
}

fn check_golden(name: &str, actual: &str) {
    palisade_api::testing::golden(&testdata("golden").join(name), actual);
}

fn plugin_types(v: &Value) -> Vec<String> {
    v["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn calico_conflist_gets_palisade_as_last_plugin() {
    let node = Node::new(Some("10-calico.conflist"));
    let inst = node.installer("chained");
    assert_eq!(
        inst.ensure_config().unwrap(),
        Ensure::Wrote("10-calico.conflist".into())
    );
    let text = std::fs::read_to_string(node.path("net.d/10-calico.conflist")).unwrap();
    check_golden("10-calico.conflist", &text);
    assert_eq!(
        plugin_types(&node.read_json("net.d/10-calico.conflist")),
        ["calico", "portmap", "bandwidth", "palisade-cni"]
    );
    assert_eq!(
        inst.ensure_config().unwrap(),
        Ensure::Current("10-calico.conflist".into()),
        "second pass writes nothing"
    );
}

#[test]
fn flannel_conflist_gets_palisade_as_last_plugin() {
    let node = Node::new(Some("10-flannel.conflist"));
    node.installer("chained").ensure_config().unwrap();
    let text = std::fs::read_to_string(node.path("net.d/10-flannel.conflist")).unwrap();
    check_golden("10-flannel.conflist", &text);
    assert_eq!(
        plugin_types(&node.read_json("net.d/10-flannel.conflist")),
        ["flannel", "portmap", "palisade-cni"]
    );
}

#[test]
fn cilium_conf_becomes_a_conflist_with_palisade_last() {
    let node = Node::new(Some("05-cilium.conf"));
    assert_eq!(
        node.installer("chained").ensure_config().unwrap(),
        Ensure::Wrote("05-cilium.conflist".into())
    );
    assert!(
        !node.path("net.d/05-cilium.conf").exists(),
        "the .conf is replaced, not duplicated"
    );
    let text = std::fs::read_to_string(node.path("net.d/05-cilium.conflist")).unwrap();
    check_golden("05-cilium.conflist", &text);
    let v = node.read_json("net.d/05-cilium.conflist");
    assert_eq!(
        (v["name"].as_str(), v["cniVersion"].as_str()),
        (Some("cilium"), Some("0.3.1"))
    );
    assert_eq!(plugin_types(&v), ["cilium-cni", "palisade-cni"]);
}

#[test]
fn no_primary_config_means_not_ready_yet() {
    let node = Node::new(None);
    assert_eq!(
        node.installer("chained").ensure_config().unwrap(),
        Ensure::NoPrimary
    );
}

#[test]
fn entry_is_reinserted_after_primary_cni_rewrites_its_file() {
    let node = Node::new(Some("10-calico.conflist"));
    let inst = node.installer("chained");
    inst.ensure_config().unwrap();
    std::fs::copy(
        testdata("10-calico.conflist"),
        node.path("net.d/10-calico.conflist"),
    )
    .unwrap();
    assert_eq!(
        inst.ensure_config().unwrap(),
        Ensure::Wrote("10-calico.conflist".into())
    );
    check_golden(
        "10-calico.conflist",
        &std::fs::read_to_string(node.path("net.d/10-calico.conflist")).unwrap(),
    );
}

#[test]
fn uninstall_restores_the_primary_plugins_and_removes_binary_and_kubeconfig() {
    let node = Node::new(Some("10-calico.conflist"));
    let inst = node.installer("chained");
    assert!(inst.install_binary().unwrap());
    inst.refresh_kubeconfig().unwrap();
    inst.ensure_config().unwrap();
    inst.uninstall().unwrap();
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("10-calico.conflist")).unwrap())
            .unwrap();
    assert_eq!(node.read_json("net.d/10-calico.conflist"), original);
    assert!(!node.path("bin/palisade-cni").exists());
    assert!(!node.path("net.d/palisade-cni-kubeconfig").exists());
}

#[test]
fn binary_is_copied_executable_and_only_when_changed() {
    let node = Node::new(None);
    let inst = node.installer("chained");
    assert!(inst.install_binary().unwrap());
    let dst = node.path("bin/palisade-cni");
    assert_eq!(std::fs::read(&dst).unwrap(), b"\x7fELF plugin bytes");
    assert_eq!(
        std::fs::metadata(&dst).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(
        !inst.install_binary().unwrap(),
        "identical binary is not rewritten"
    );
    let leftovers: Vec<_> = std::fs::read_dir(node.path("bin"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}

#[test]
fn kubeconfig_is_rewritten_when_the_token_rotates() {
    let node = Node::new(None);
    let inst = node.installer("chained");
    assert!(inst.refresh_kubeconfig().unwrap());
    let path = node.path("net.d/palisade-cni-kubeconfig");
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(
        first.contains("token: \"token-1\"") && first.contains(SERVER),
        "{first}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !inst.refresh_kubeconfig().unwrap(),
        "unchanged token: no write"
    );
    std::fs::write(node.path("sa/token"), "token-2\n").unwrap();
    assert!(inst.refresh_kubeconfig().unwrap());
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("token: \"token-2\"")
    );
}

#[test]
fn standalone_mode_writes_its_own_conf_for_multus_and_removes_it() {
    let node = Node::new(Some("10-calico.conflist"));
    let inst = node.installer("standalone");
    assert_eq!(
        inst.ensure_config().unwrap(),
        Ensure::Wrote("palisade-cni.conf".into())
    );
    let text = std::fs::read_to_string(node.path("net.d/palisade-cni.conf")).unwrap();
    check_golden("palisade-cni.conf", &text);
    let original = std::fs::read(testdata("10-calico.conflist")).unwrap();
    assert_eq!(
        std::fs::read(node.path("net.d/10-calico.conflist")).unwrap(),
        original,
        "primary untouched"
    );
    inst.uninstall().unwrap();
    assert!(!node.path("net.d/palisade-cni.conf").exists());
}

#[tokio::test]
async fn supervisor_reinserts_after_rewrite_and_cleans_up_on_shutdown() {
    let node = Node::new(Some("10-flannel.conflist"));
    let inst = node.installer("chained");
    let ready = AtomicBool::new(false);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let conf = node.path("net.d/10-flannel.conflist");
    let has_entry =
        |p: &Path| std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"palisade-cni\""));
    let driver = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(ready.load(Ordering::SeqCst) && has_entry(&conf)) {
            assert!(Instant::now() < deadline, "not installed within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The primary CNI rewrites its file without us.
        std::fs::copy(testdata("10-flannel.conflist"), &conf).unwrap();
        while !has_entry(&conf) {
            assert!(
                Instant::now() < deadline,
                "entry not re-inserted within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop_tx.send(());
    };
    let shutdown = async {
        let _ = stop_rx.await;
        super::run::Shutdown::Uninstall
    };
    let (result, ()) = tokio::join!(super::run::supervise(&inst, &ready, shutdown), driver);
    result.unwrap();
    assert!(!ready.load(Ordering::SeqCst));
    assert!(!has_entry(&conf), "entry removed on shutdown");
    assert!(!node.path("bin/palisade-cni").exists());
}

#[test]
fn chart_rendered_install_configs_parse() {
    let chained = InstallConfig::from_file(&testdata("chart-install.json")).unwrap();
    assert_eq!(chained.mode, super::InstallMode::Chained);
    assert_eq!(chained.host_conf_dir_on_node, Path::new("/etc/cni/net.d"));
    let openshift = InstallConfig::from_file(&testdata("chart-install-openshift.json")).unwrap();
    assert_eq!(openshift.mode, super::InstallMode::Standalone);
    assert_eq!(
        openshift.host_bin_dir_on_node,
        Path::new("/var/lib/cni/bin")
    );
    assert_eq!(openshift.standalone_file(), "palisade-cni.conf");
    assert_eq!(openshift.repair_mode, RepairMode::DeletePods);
}

#[tokio::test]
async fn readyz_answers_503_until_ready_then_200() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ready = std::sync::Arc::new(AtomicBool::new(false));
    let server = tokio::spawn(super::run::serve_readyz(listener, ready.clone()));
    let status = || async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /readyz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        out.lines().next().unwrap_or_default().to_owned()
    };
    assert!(status().await.contains(" 503 "), "not ready yet");
    ready.store(true, Ordering::SeqCst);
    assert!(status().await.contains(" 200 "), "ready");
    server.abort();
}

#[tokio::test]
async fn supervisor_keeps_plugin_and_entry_when_stopped_for_an_upgrade() {
    let node = Node::new(Some("10-flannel.conflist"));
    let inst = node.installer("chained");
    let ready = AtomicBool::new(false);
    let conf = node.path("net.d/10-flannel.conflist");
    let has_entry =
        |p: &Path| std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"palisade-cni\""));
    let shutdown = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(ready.load(Ordering::SeqCst) && has_entry(&conf)) {
            assert!(Instant::now() < deadline, "not installed within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        super::run::decide_on_stop(true, &super::run::DaemonSetState::Present)
    };
    super::run::supervise(&inst, &ready, shutdown)
        .await
        .unwrap();
    assert!(has_entry(&conf), "entry kept across the restart");
    assert!(node.path("bin/palisade-cni").exists(), "binary kept");
}

#[test]
fn only_a_deleted_daemonset_uninstalls_the_plugin() {
    use super::run::{DaemonSetState as Ds, Shutdown, decide_on_stop};
    assert_eq!(decide_on_stop(true, &Ds::Gone), Shutdown::Uninstall);
    assert_eq!(decide_on_stop(true, &Ds::Deleting), Shutdown::Uninstall);
    for state in [Ds::Present, Ds::Unknown("connection refused".into())] {
        assert!(
            matches!(decide_on_stop(true, &state), Shutdown::Keep(_)),
            "{state:?}"
        );
    }
    for state in [Ds::Gone, Ds::Deleting, Ds::Present] {
        assert!(
            matches!(decide_on_stop(false, &state), Shutdown::Keep(_)),
            "{state:?}"
        );
    }
}
