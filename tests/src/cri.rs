//! A real container runtime: containerd (Debian) with its CRI plugin and `runc`, driven over
//! CRI the way kubelet drives it (RunPodSandbox / PodSandboxStatus / StopPodSandbox /
//! RemovePodSandbox), with `palisade-cni install` writing the CNI config containerd reads.
//!
//! Everything belongs to the test: containerd runs with a config of its own under a temp dir
//! (root, state, socket, runc root, CNI conf and bin dirs), inside a "node" network namespace
//! (`nsenter --net`) and a mount namespace of its own (`unshare --mount`): the sandboxes'
//! netns and rootfs mounts live there and vanish with its last process. The sandbox image is
//! a static `pause` compiled here from [`PAUSE_C`], packed into an OCI archive and imported
//! with `ctr -n k8s.io images import`: no registry. On drop, sandboxes are stopped and
//! removed through CRI, then every process the test started is killed by PID (containerd, its
//! shims, the installer, sandbox processes), then the node namespace (with its bridge) and
//! the temp dir are deleted.
//!
//! CRI client: the `k8s-cri` crate (tonic, generated from the CRI `api.proto` at build time
//! with Debian's `protoc`). Chosen over Python stubs because it keeps the test in the same
//! nextest run, typed, with the harness's netns helpers, and no third-party proto file is
//! committed to this repository.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerStatus, ContainerStatusRequest, CreateContainerRequest,
    LinuxPodSandboxConfig, ListContainersRequest, ListPodSandboxRequest, PodSandboxConfig,
    PodSandboxMetadata, PodSandboxStatusRequest, RemovePodSandboxRequest, RunPodSandboxRequest,
    StartContainerRequest, StatusRequest, StopContainerRequest, StopPodSandboxRequest,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::netns::{Background, Netns};

/// The image name containerd's `sandbox_image` points at; imported, never pulled.
pub const PAUSE_IMAGE: &str = "localhost/palisade-pause:test";

/// The sandbox process: sleeps until SIGTERM/SIGINT, reaps children (it is PID 1 of the pod).
pub const PAUSE_C: &str = r#"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
"#;

/// Where `palisade-cni install` and the pods meet; the names a kubelet node would use.
const PRIMARY_CONFLIST: &str = "10-bridge.conflist";

/// One sandbox created through CRI.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub id: String,
    pub ip: Ipv4Addr,
    /// The pause process; `/proc/<pid>/ns/net` is the pod's network namespace.
    pub pid: u32,
    /// The config it was created with: CreateContainer takes it again, as kubelet sends it.
    pub config: PodSandboxConfig,
    /// The pod's log directory; container logs are `<name>/0.log` under it.
    pub log_dir: PathBuf,
}

impl Sandbox {
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.pid))
    }

    /// Keeps the pod's network namespace alive after the runtime removed it, so a test can
    /// look at what is left inside (`/proc/self/fd/N` is a path `setns` takes).
    pub fn hold_netns(&self) -> HeldNetns {
        let file = File::open(self.netns_path()).expect("open the sandbox's netns");
        HeldNetns { file }
    }
}

/// An open handle on a network namespace.
#[derive(Debug)]
pub struct HeldNetns {
    file: File,
}

impl HeldNetns {
    pub fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd as _;
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }
}

/// A pod as kubelet describes it to the runtime.
#[derive(Debug, Clone)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    pub annotations: HashMap<String, String>,
}

impl PodSpec {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            name: name.to_string(),
            namespace: namespace.to_string(),
            annotations: HashMap::new(),
        }
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.to_string());
        self
    }
}

/// containerd + `palisade-cni install`, in a node namespace of their own.
pub struct Containerd {
    dir: tempfile::TempDir,
    node: Netns,
    containerd: Option<Background>,
    installer: Option<Background>,
    rt: tokio::runtime::Runtime,
    client: RuntimeServiceClient<Channel>,
    sandboxes: Mutex<Vec<Sandbox>>,
    install_config: Value,
}

/// What the harness needs on the machine; under `CI=true` a missing one fails the test.
pub fn require_containerd_env() -> bool {
    if !crate::require_netns_env() {
        return false;
    }
    let missing: Vec<&str> = ["containerd", "ctr", "runc", "cc", "nsenter", "setpriv"]
        .into_iter()
        .filter(|t| crate::which(t).is_none())
        .collect();
    crate::require(
        missing.is_empty(),
        &format!(
            "missing {}; install Debian's containerd runc build-essential util-linux (scripts/deps.sh)",
            missing.join(", ")
        ),
    )
}

/// The statically linked `palisade-cni`/`palisade-init` that `scripts/build-static.sh`
/// copies to `<target>/static/`. Panics with the command to run when missing.
pub fn static_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // <target>/<profile>/deps/<test>
    let target = exe
        .ancestors()
        .nth(3)
        .expect("test executable sits in <target>/<profile>/deps");
    let path = target.join("static").join(name);
    assert!(
        path.is_file(),
        "static `{name}` not found at {}: run `scripts/build-static.sh` with the same \
         CARGO_TARGET_DIR first",
        path.display()
    );
    path
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn tar_entry(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, bytes: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, path, bytes)
        .expect("tar entry");
}

/// An OCI image-layout archive with one uncompressed layer holding `/pause`.
pub fn pause_archive(pause: &[u8]) -> Vec<u8> {
    image_archive(
        PAUSE_IMAGE,
        &[("pause", 0o755, pause)],
        json!({ "Entrypoint": ["/pause"] }),
    )
}

/// Compiles the C program `source` statically with `flags` into `dir/name` (the source is
/// written beside it as `name.c`) and returns the binary's path.
pub fn compile_static(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap_or_else(|e| panic!("write {}: {e}", src.display()));
    let bin = dir.join(name);
    let out = Command::new("cc")
        .arg("-static")
        .args(flags)
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc -static {name}.c (needs libc6-dev): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// An OCI image-layout archive named `name` (`localhost/x:tag`) with one uncompressed layer
/// holding `files` (path, mode, bytes) and the image config `config` (`Entrypoint`, `User`).
pub fn image_archive(name: &str, files: &[(&str, u32, &[u8])], config: Value) -> Vec<u8> {
    let mut layer = tar::Builder::new(Vec::new());
    for (path, mode, bytes) in files {
        tar_entry(&mut layer, path, *mode, bytes);
    }
    let layer = layer.into_inner().expect("layer tar");
    let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [sha256(&layer)] },
    }))
    .expect("config json");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256(&config), "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": sha256(&layer), "size": layer.len(),
        }],
    }))
    .expect("manifest json");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha256(&manifest), "size": manifest.len(),
            "platform": { "architecture": "amd64", "os": "linux" },
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }))
    .expect("index json");
    let mut archive = tar::Builder::new(Vec::new());
    tar_entry(
        &mut archive,
        "oci-layout",
        0o644,
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    tar_entry(&mut archive, "index.json", 0o644, &index);
    for blob in [&layer, &config, &manifest] {
        let digest = sha256(blob);
        let hex = digest.trim_start_matches("sha256:");
        tar_entry(&mut archive, &format!("blobs/sha256/{hex}"), 0o644, blob);
    }
    archive.into_inner().expect("archive tar")
}

fn containerd_config(dir: &Path) -> String {
    let d = dir.display();
    // runc runs as root here, outside a user namespace that would cap oom_score_adj, but the
    // test process may already have a raised one: restrict_oom_score_adj keeps runc from
    // lowering it (which root in a container is refused). The netns mounts go under the state
    // dir so nothing is left in /var/run/netns.
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/cni-conf"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "{d}/runc"
"#
    )
}

/// The primary CNI's conflist, as a node's network add-on would write it: `bridge` with
/// `host-local` IPAM, its state in the test's dir.
pub fn primary_conflist(dir: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "k8s-pod-network",
        "plugins": [{
            "type": "bridge",
            "bridge": "palcri0",
            "isGateway": true,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "dataDir": dir.join("ipam").display().to_string(),
                "ranges": [[{ "subnet": crate::node::POD_SUBNET_V4 }]],
            },
        }],
    })
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// === impl Containerd ===

impl Containerd {
    /// Starts containerd and `palisade-cni install` for `test`, with the plugin's `backend`
    /// pinned (`None`: the plugin's `auto`). Returns once containerd's CRI reports the
    /// network ready with the conflist the installer wrote.
    pub fn start(test: &str, backend: Option<&str>) -> Containerd {
        let pid = std::process::id();
        let dir = tempfile::Builder::new()
            .prefix(&format!("palisade-cri-{test}-{pid}-"))
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        for sub in [
            "root", "state", "opt", "runc", "cni-conf", "cni-bin", "ipam", "sa",
        ] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        for plugin in ["loopback", "bridge", "host-local"] {
            std::os::unix::fs::symlink(
                Path::new(crate::CNI_PLUGIN_DIR).join(plugin),
                d.join("cni-bin").join(plugin),
            )
            .expect("link reference plugin");
        }
        // The sandbox image: a static pause built now, in an OCI archive.
        let pause_bin = compile_static(d, "pause", PAUSE_C, &["-Os"]);
        let archive = d.join("pause.tar");
        std::fs::write(
            &archive,
            pause_archive(&std::fs::read(&pause_bin).expect("read pause")),
        )
        .expect("write pause.tar");

        let node = Netns::create(
            &format!("pal-{pid}-{test}-node")
                .chars()
                .take(60)
                .collect::<String>(),
        );
        let config = d.join("config.toml");
        std::fs::write(&config, containerd_config(d)).expect("write config.toml");
        let log = File::create(d.join("containerd.log")).expect("containerd.log");
        // Not `ip netns exec`: it remounts /sys, hiding the cgroup mounts runc needs. A mount
        // namespace of its own (slave: host mounts still propagate in) plus the node's netns.
        let containerd = node.spawn_command(
            Command::new("unshare")
                .args(["--mount", "--propagation", "slave", "nsenter"])
                .arg(format!("--net={}", node.path().display()))
                .arg("containerd")
                .arg("--config")
                .arg(&config)
                .stdout(log.try_clone().expect("log fd"))
                .stderr(log),
        );
        let socket = d.join("containerd.sock");
        wait_for("containerd's socket", Duration::from_secs(20), || {
            socket.exists()
        });
        let out = Command::new("ctr")
            .arg("--address")
            .arg(&socket)
            .args(["-n", "k8s.io", "images", "import"])
            .arg(&archive)
            .output()
            .expect("run ctr");
        assert!(
            out.status.success(),
            "ctr images import: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let client = rt.block_on(async {
            let socket = socket.clone();
            let channel = Endpoint::try_from("http://[::]:50051")
                .expect("endpoint")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(socket).await?;
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                    }
                }))
                .await
                .expect("connect to containerd's CRI socket");
            RuntimeServiceClient::new(channel)
        });

        // The primary CNI writes its conflist; palisade-cni install adds itself to it.
        std::fs::write(
            d.join("cni-conf").join(PRIMARY_CONFLIST),
            serde_json::to_vec_pretty(&primary_conflist(d)).expect("json"),
        )
        .expect("write primary conflist");
        std::fs::write(d.join("sa/token"), "test-token\n").expect("token");
        std::fs::write(d.join("sa/ca.crt"), "").expect("ca");
        let mut install_config = json!({
            "mode": "chained",
            "hostBinDir": d.join("cni-bin"),
            "hostConfDir": d.join("cni-conf"),
            "hostBinDirOnNode": d.join("cni-bin"),
            "hostConfDirOnNode": d.join("cni-conf"),
            "excludeNamespaces": ["kube-system"],
            "logLevel": "debug",
            "serviceAccountDir": d.join("sa"),
            "pluginBinary": static_bin("palisade-cni"),
        });
        if let Some(b) = backend {
            install_config["backend"] = json!(b);
        }
        let mut harness = Containerd {
            dir,
            node,
            containerd: Some(containerd),
            installer: None,
            rt,
            client,
            sandboxes: Mutex::new(Vec::new()),
            install_config,
        };
        harness.start_installer();
        harness.wait_network_ready();
        harness
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn node(&self) -> &Netns {
        &self.node
    }

    pub fn conflist_path(&self) -> PathBuf {
        self.dir().join("cni-conf").join(PRIMARY_CONFLIST)
    }

    pub fn conflist(&self) -> Value {
        let text = std::fs::read_to_string(self.conflist_path()).expect("read conflist");
        serde_json::from_str(&text).expect("conflist is JSON")
    }

    /// `palisade-cni install` as the DaemonSet runs it: the static binary, with an API server
    /// address on which nothing listens (pods must not need it).
    pub fn start_installer(&mut self) {
        let path = self.dir().join("install.json");
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&self.install_config).expect("json"),
        )
        .expect("write install.json");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir().join("installer.log"))
            .expect("installer.log");
        let installer = self.node.spawn_command(
            self.node
                .command(static_bin("palisade-cni"))
                .arg("install")
                .arg(format!("--config={}", path.display()))
                .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
                .env("KUBERNETES_SERVICE_PORT", "1")
                .env_remove("NODE_NAME")
                .stdout(log.try_clone().expect("log fd"))
                .stderr(log),
        );
        self.installer = Some(installer);
    }

    /// Sends SIGTERM to the installer and waits for it to exit; returns its exit status.
    pub fn stop_installer(&mut self) -> std::process::ExitStatus {
        let mut installer = self.installer.take().expect("installer running");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(installer.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM the installer");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = installer.child.try_wait().expect("wait installer") {
                return status;
            }
            assert!(Instant::now() < deadline, "installer ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn installer_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("installer.log")).unwrap_or_default()
    }

    pub fn containerd_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("containerd.log")).unwrap_or_default()
    }

    /// CRI `Status` (verbose): containerd's own view, including the CNI config it loaded.
    pub fn status(&self) -> (bool, Value) {
        let mut client = self.client.clone();
        let resp = self
            .rt
            .block_on(client.status(StatusRequest { verbose: true }))
            .expect("CRI Status")
            .into_inner();
        let network_ready = resp
            .status
            .iter()
            .flat_map(|s| s.conditions.iter())
            .any(|c| c.r#type == "NetworkReady" && c.status);
        let cni = resp
            .info
            .get("cniconfig")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        (network_ready, cni)
    }

    /// The plugin types of the network containerd will use for the next pod, in order.
    pub fn loaded_plugins(&self) -> Vec<String> {
        let (_, cni) = self.status();
        // go-cni's config: Networks[0] is loopback, the last one the conf dir's network.
        let networks = cni["Networks"].as_array().cloned().unwrap_or_default();
        let Some(last) = networks.last() else {
            return Vec::new();
        };
        let source = last["Config"]["Source"].as_str().unwrap_or("{}");
        let conf: Value = serde_json::from_str(source).unwrap_or(Value::Null);
        conf["plugins"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|p| p["type"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The raw conflist text containerd loaded for the conf dir's network.
    pub fn loaded_conflist(&self) -> Value {
        let (_, cni) = self.status();
        let networks = cni["Networks"].as_array().cloned().unwrap_or_default();
        networks
            .last()
            .and_then(|n| n["Config"]["Source"].as_str())
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null)
    }

    /// Waits until the installer's conflist is in place and containerd has loaded it.
    pub fn wait_network_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (ready, _) = self.status();
            let plugins = self.loaded_plugins();
            if ready && plugins.last().map(String::as_str) == Some("palisade-cni") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "containerd never loaded a conflist ending with palisade-cni (ready: {ready}, \
                 plugins: {plugins:?})\ninstaller log:\n{}\ncontainerd log:\n{}",
                self.installer_log(),
                self.containerd_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// RunPodSandbox, then PodSandboxStatus for its IP and pause PID. `Err` carries the
    /// runtime's message (which quotes the failing CNI plugin's).
    pub fn run_pod(&self, pod: &PodSpec) -> Result<Sandbox, String> {
        let uid = format!(
            "{}-{}-{}",
            pod.namespace,
            pod.name,
            self.sandboxes.lock().map(|s| s.len()).unwrap_or(0)
        );
        let log_dir = self.dir().join("logs").join(&uid);
        std::fs::create_dir_all(&log_dir).expect("pod log dir");
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: pod.name.clone(),
                uid,
                namespace: pod.namespace.clone(),
                attempt: 0,
            }),
            hostname: pod.name.clone(),
            log_directory: log_dir.display().to_string(),
            annotations: pod.annotations.clone(),
            labels: HashMap::from([("app".to_string(), pod.name.clone())]),
            linux: Some(LinuxPodSandboxConfig::default()),
            ..Default::default()
        };
        let mut client = self.client.clone();
        let id = self
            .rt
            .block_on(client.run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            }))
            .map_err(|status| status.message().to_string())?
            .into_inner()
            .pod_sandbox_id;
        let resp = self
            .rt
            .block_on(client.pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: id.clone(),
                verbose: true,
            }))
            .expect("PodSandboxStatus")
            .into_inner();
        let ip = resp
            .status
            .as_ref()
            .and_then(|s| s.network.as_ref())
            .map(|n| n.ip.clone())
            .unwrap_or_default();
        let info: Value = resp
            .info
            .get("info")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        let pid = info["pid"].as_u64().unwrap_or(0) as u32;
        let sandbox = Sandbox {
            id,
            ip: ip
                .parse()
                .unwrap_or_else(|e| panic!("sandbox IP `{ip}`: {e}")),
            pid,
            config,
            log_dir,
        };
        assert!(pid > 0, "sandbox has no pid: {info}");
        self.sandboxes
            .lock()
            .expect("sandboxes lock")
            .push(sandbox.clone());
        Ok(sandbox)
    }

    /// StopPodSandbox (CNI DEL, netns removed, pause killed), then RemovePodSandbox.
    pub fn stop_pod(&self, sandbox: &Sandbox) {
        let mut client = self.client.clone();
        self.rt
            .block_on(client.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            }))
            .unwrap_or_else(|e| panic!("StopPodSandbox {}: {e}", sandbox.id));
        self.rt
            .block_on(client.remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            }))
            .unwrap_or_else(|e| panic!("RemovePodSandbox {}: {e}", sandbox.id));
        if let Ok(mut list) = self.sandboxes.lock() {
            list.retain(|s| s.id != sandbox.id);
        }
    }

    /// A node on which palisade-cni is not in the chain (before its installer ever ran, or
    /// with `redirect: init` only): the installer is stopped (it keeps the plugin in place),
    /// the primary CNI's conflist is written without it, and containerd has loaded that.
    pub fn without_palisade_in_chain(&mut self) {
        let status = self.stop_installer();
        assert!(status.success(), "installer exit on SIGTERM: {status}");
        std::fs::write(
            self.conflist_path(),
            serde_json::to_vec_pretty(&primary_conflist(self.dir())).expect("json"),
        )
        .expect("write the primary conflist");
        wait_for(
            "containerd to load the conflist without palisade-cni",
            Duration::from_secs(30),
            || self.loaded_plugins().last().map(String::as_str) == Some("bridge"),
        );
    }

    /// `ctr -n k8s.io images import` of an OCI archive (its images keep the names the
    /// archive gives them, e.g. `localhost/palisade-engine:test`); no registry.
    pub fn import_image(&self, archive: &Path) {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.dir().join("containerd.sock"))
            .args(["-n", "k8s.io", "images", "import"])
            .arg(archive)
            .output()
            .expect("run ctr");
        assert!(
            out.status.success(),
            "ctr images import {}: {}{}",
            archive.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// CreateContainer in `sandbox`; `Err` carries the runtime's message.
    pub fn create_container(
        &self,
        sandbox: &Sandbox,
        config: ContainerConfig,
    ) -> Result<String, String> {
        let mut client = self.client.clone();
        self.rt
            .block_on(client.create_container(CreateContainerRequest {
                pod_sandbox_id: sandbox.id.clone(),
                config: Some(config),
                sandbox_config: Some(sandbox.config.clone()),
            }))
            .map(|r| r.into_inner().container_id)
            .map_err(|status| status.message().to_string())
    }

    /// StartContainer; `Err` carries the runtime's message.
    pub fn start_container(&self, id: &str) -> Result<(), String> {
        let mut client = self.client.clone();
        self.rt
            .block_on(client.start_container(StartContainerRequest {
                container_id: id.to_string(),
            }))
            .map(|_| ())
            .map_err(|status| status.message().to_string())
    }

    /// ContainerStatus (verbose), and the PID of its process from the runtime's info (0
    /// when it is not running).
    pub fn container_status(&self, id: &str) -> (ContainerStatus, u32) {
        let mut client = self.client.clone();
        let resp = self
            .rt
            .block_on(client.container_status(ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: true,
            }))
            .unwrap_or_else(|e| panic!("ContainerStatus {id}: {e}"))
            .into_inner();
        let info: Value = resp
            .info
            .get("info")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        let status = resp
            .status
            .unwrap_or_else(|| panic!("ContainerStatus {id}: no status"));
        (status, info["pid"].as_u64().unwrap_or(0) as u32)
    }

    /// StopContainer for every id at once (as kubelet stops a pod's regular containers in
    /// parallel), each with `grace_seconds` between SIGTERM and SIGKILL; returns when all
    /// have stopped.
    pub fn stop_containers(&self, ids: &[String], grace_seconds: i64) {
        let client = self.client.clone();
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for id in ids {
                let mut client = client.clone();
                let id = id.clone();
                set.spawn(async move {
                    let r = client
                        .stop_container(StopContainerRequest {
                            container_id: id.clone(),
                            timeout: grace_seconds,
                        })
                        .await;
                    (id, r)
                });
            }
            while let Some(done) = set.join_next().await {
                let (id, r) = done.expect("StopContainer task");
                r.unwrap_or_else(|e| panic!("StopContainer {id}: {e}"));
            }
        });
    }

    /// Every container the runtime knows (all sandboxes), as (id, name, sandbox id).
    pub fn containers(&self) -> Vec<(String, String, String)> {
        let mut client = self.client.clone();
        self.rt
            .block_on(client.list_containers(ListContainersRequest { filter: None }))
            .expect("ListContainers")
            .into_inner()
            .containers
            .into_iter()
            .map(|c| {
                let name = c.metadata.map(|m| m.name).unwrap_or_default();
                (c.id, name, c.pod_sandbox_id)
            })
            .collect()
    }

    /// Ids of every sandbox the runtime knows.
    pub fn sandbox_ids(&self) -> Vec<String> {
        let mut client = self.client.clone();
        self.rt
            .block_on(client.list_pod_sandbox(ListPodSandboxRequest { filter: None }))
            .expect("ListPodSandbox")
            .into_inner()
            .items
            .into_iter()
            .map(|s| s.id)
            .collect()
    }

    /// `ctr -n k8s.io tasks ls`: the runtime's running tasks (sandboxes and containers).
    pub fn tasks(&self) -> String {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.dir().join("containerd.sock"))
            .args(["-n", "k8s.io", "tasks", "ls", "-q"])
            .output()
            .expect("run ctr");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The network namespaces containerd keeps mounted (under its state dir).
    pub fn netns_mounts(&self) -> Vec<PathBuf> {
        let dir = self.dir().join("state/io.containerd.grpc.v1.cri/netns");
        std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// PIDs of processes started for this test's containerd that are not our children:
    /// shims (their command line names this test's socket) and sandbox processes.
    fn stray_pids(&self) -> Vec<i32> {
        let marker = self.dir().display().to_string();
        let mut pids = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return pids;
        };
        for entry in rd.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let sandboxes: Vec<Sandbox> = self.sandboxes.lock().map(|s| s.clone()).unwrap_or_default();
        for s in &sandboxes {
            let mut client = self.client.clone();
            let stop = client.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            });
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), stop).await });
            let mut client = self.client.clone();
            let remove = client.remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            });
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), remove).await });
        }
        self.installer.take();
        let shims = self.stray_pids();
        self.containerd.take();
        // Shims outlive containerd, and a sandbox whose stop failed outlives its shim: kill
        // each by the PID we know belongs to this test.
        let own = std::process::id() as i32;
        for pid in shims
            .into_iter()
            .chain(sandboxes.iter().map(|s| s.pid as i32))
            .filter(|p| *p != own && *p > 1)
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // Leave the dir for a post-mortem when the test failed.
        if std::thread::panicking() {
            // The TempDir field drops after this; without this it would delete the dir.
            self.dir.disable_cleanup(true);
            let kept = self.dir.path().to_path_buf();
            eprintln!("containerd test dir kept at {}", kept.display());
            let mut f = File::create(kept.join("KEPT")).ok();
            if let Some(f) = f.as_mut() {
                let _ = writeln!(f, "kept after a failure");
            }
        }
    }
}

/// Every Palisade rule in a namespace given by path, per backend: nft's `inet palisade`
/// table, and the PALISADE lines of iptables-nft and iptables-legacy (v4 and v6).
pub fn palisade_rules(netns: &Path) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for (backend, program, args) in [
        ("nft", "nft", &["list", "table", "inet", "palisade"][..]),
        ("iptables-nft", "iptables-nft-save", &["-t", "nat"][..]),
        (
            "iptables-legacy",
            "iptables-legacy-save",
            &["-t", "nat"][..],
        ),
        ("ip6tables-nft", "ip6tables-nft-save", &["-t", "nat"][..]),
        (
            "ip6tables-legacy",
            "ip6tables-legacy-save",
            &["-t", "nat"][..],
        ),
    ] {
        let output = palisade_redirect::netns::run_in(netns, || {
            Command::new(program)
                .args(args)
                .stderr(Stdio::null())
                .output()
        })
        .unwrap_or_else(|e| panic!("enter {}: {e}", netns.display()))
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
        let text = String::from_utf8_lossy(&output.stdout);
        let ours: Vec<&str> = if backend == "nft" {
            // Fails (no such table) when Palisade has no nft rules there.
            if output.status.success() {
                text.lines().collect()
            } else {
                Vec::new()
            }
        } else {
            text.lines().filter(|l| l.contains("PALISADE")).collect()
        };
        if !ours.is_empty() {
            out.insert(backend, ours.join("\n"));
        }
    }
    out
}
