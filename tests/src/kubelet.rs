//! A pod object run the way kubelet runs it, over CRI on the [`Containerd`] harness.
//!
//! [`run_pod`] takes a `Pod` (in the tests: the one the injector's patch produces) and makes
//! the calls kubelet makes for it (pkg/kubelet/kuberuntime): RunPodSandbox with the pod's
//! annotations (the CNI chain runs here), then each init container in order — a regular one
//! must exit 0 before the next starts; one with `restartPolicy: Always` (a native sidecar)
//! is started and the next container starts only once its startup probe succeeded — then
//! the app containers. Each container gets what kubelet gives it: the image's entrypoint
//! unless `command` is set, literal `env`, `emptyDir` volumes as host directories (0777), a
//! termination-message file mounted at `terminationMessagePath`, a CRI log file, cgroup
//! limits from `resources`, and the security context (user, group, capabilities, read-only
//! root, no_new_privs, seccomp), with `runAsNonRoot` checked first. HTTP probes are sent from
//! the node to podIP:port as kubelet's prober does. [`RunningPod::delete`] stops the pod as
//! kubelet deletes one: SIGTERM with the grace period to the regular containers, then to the
//! sidecars in reverse order, then StopPodSandbox (CNI DEL) and RemovePodSandbox.
//!
//! What kubelet does that this does not: pull images (they are imported), restart containers
//! after a failed probe, service-account tokens and service environment variables, volumes
//! other than `emptyDir`, and `valueFrom` in `env` (a pod using them panics with the name).
//! [`TEST_APP_C`] is the app container's program, [`test_app_archive`] its image.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use k8s_cri::v1::{
    Capability, ContainerConfig, ContainerMetadata, ContainerState, ImageSpec, Int64Value,
    KeyValue, LinuxContainerConfig, LinuxContainerResources, LinuxContainerSecurityContext, Mount,
    NamespaceMode, NamespaceOption, SecurityProfile, security_profile::ProfileType,
};
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use crate::cri::{Containerd, PodSpec, Sandbox, compile_static, image_archive};

/// The app container's program (C, compiled static by the test; see the file's comment).
pub const TEST_APP_C: &str = include_str!("test_app.c");
/// The name its image is imported under.
pub const TEST_APP_IMAGE: &str = "localhost/palisade-test-app:test";

/// Compiles [`TEST_APP_C`] statically in `dir` and returns the OCI archive of its image:
/// `/test-app` only, run as 65532 (non-root).
pub fn test_app_archive(dir: &Path) -> PathBuf {
    let bin = compile_static(dir, "test-app", TEST_APP_C, &["-O2", "-Wall"]);
    let archive = dir.join("test-app.tar");
    std::fs::write(
        &archive,
        image_archive(
            TEST_APP_IMAGE,
            &[(
                "test-app",
                0o755,
                &std::fs::read(&bin).expect("read test-app"),
            )],
            json!({ "Entrypoint": ["/test-app"], "User": "65532:65532" }),
        ),
    )
    .expect("write test-app.tar");
    archive
}

/// One container of the pod as started through CRI.
#[derive(Debug, Clone)]
pub struct Started {
    pub name: String,
    pub id: String,
    /// A native sidecar (init container with `restartPolicy: Always`).
    pub sidecar: bool,
    pub log_path: PathBuf,
    pub termination_log: PathBuf,
    /// The container as the pod spec has it (probes, security context).
    pub spec: Container,
}

/// What happened, in order, with wall-clock times (comparable with CRI's timestamps and
/// the CRI log lines).
#[derive(Debug, Clone)]
pub struct Event {
    pub at: SystemTime,
    pub what: String,
}

/// An init container that did not exit 0: kubelet stops there and reports it in the pod's
/// status (`initContainerStatuses[].state.terminated`).
#[derive(Debug)]
pub struct InitFailure {
    pub container: String,
    pub exit_code: i32,
    /// The termination message (the file at `terminationMessagePath`).
    pub message: String,
    pub log: String,
    pub sandbox: Sandbox,
}

/// A pod whose containers have all been started.
#[derive(Debug)]
pub struct RunningPod {
    pub sandbox: Sandbox,
    pub containers: Vec<Started>,
    pub events: Vec<Event>,
}

fn event(events: &mut Vec<Event>, what: String) {
    events.push(Event {
        at: SystemTime::now(),
        what,
    });
}

/// Kubernetes quantities as kubelet turns them into cgroup values: CPU in millicores,
/// memory in bytes.
fn millicores(q: &str) -> i64 {
    match q.strip_suffix('m') {
        Some(m) => m
            .parse()
            .unwrap_or_else(|e| panic!("cpu quantity `{q}`: {e}")),
        None => {
            let cores: f64 = q
                .parse()
                .unwrap_or_else(|e| panic!("cpu quantity `{q}`: {e}"));
            (cores * 1000.0) as i64
        }
    }
}

fn bytes(q: &str) -> i64 {
    for (suffix, factor) in [("Ki", 1i64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30)] {
        if let Some(n) = q.strip_suffix(suffix) {
            return n
                .parse::<i64>()
                .unwrap_or_else(|e| panic!("quantity `{q}`: {e}"))
                * factor;
        }
    }
    q.parse()
        .unwrap_or_else(|e| panic!("memory quantity `{q}`: {e}"))
}

/// kubelet's `LinuxContainerResources` (pkg/kubelet/kuberuntime, cm.MilliCPUToShares/Quota).
fn resources(c: &Container) -> LinuxContainerResources {
    let r = c.resources.as_ref();
    let get = |which: Option<&BTreeMap<String, Quantity>>, key: &str| {
        which.and_then(|m| m.get(key)).map(|q| q.0.clone())
    };
    let requests = r.and_then(|r| r.requests.as_ref());
    let limits = r.and_then(|r| r.limits.as_ref());
    let mut out = LinuxContainerResources {
        cpu_period: 100_000,
        cpu_shares: 2,
        ..Default::default()
    };
    if let Some(cpu) = get(requests, "cpu").or_else(|| get(limits, "cpu")) {
        out.cpu_shares = (millicores(&cpu) * 1024 / 1000).max(2);
    }
    if let Some(cpu) = get(limits, "cpu") {
        out.cpu_quota = (millicores(&cpu) * 100_000 / 1000).max(1000);
    }
    if let Some(mem) = get(limits, "memory") {
        out.memory_limit_in_bytes = bytes(&mem);
    }
    out
}

/// The container's security context merged over the pod's, as kubelet's
/// `determineEffectiveSecurityContext` does, then turned into CRI's.
fn security_context(pod: &Pod, c: &Container) -> LinuxContainerSecurityContext {
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = c.security_context.as_ref();
    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_sc.and_then(|p| p.run_as_user));
    let run_as_group = sc
        .and_then(|s| s.run_as_group)
        .or_else(|| pod_sc.and_then(|p| p.run_as_group));
    let non_root = sc
        .and_then(|s| s.run_as_non_root)
        .or_else(|| pod_sc.and_then(|p| p.run_as_non_root));
    // kubelet's verifyRunAsNonRoot, for the pods here (which set runAsUser when they set
    // runAsNonRoot; the image's USER is not consulted).
    if non_root == Some(true) {
        let uid = run_as_user.unwrap_or_else(|| {
            panic!(
                "container {}: runAsNonRoot without runAsUser (the harness does not read the \
                 image's USER)",
                c.name
            )
        });
        assert_ne!(
            uid, 0,
            "container {}: runAsNonRoot with runAsUser 0 (kubelet refuses it)",
            c.name
        );
    }
    let seccomp = sc
        .and_then(|s| s.seccomp_profile.as_ref())
        .or_else(|| pod_sc.and_then(|p| p.seccomp_profile.as_ref()))
        .map(|p| p.type_.as_str());
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    LinuxContainerSecurityContext {
        capabilities: Some(Capability {
            add_capabilities: caps.and_then(|c| c.add.clone()).unwrap_or_default(),
            drop_capabilities: caps.and_then(|c| c.drop.clone()).unwrap_or_default(),
            add_ambient_capabilities: Vec::new(),
        }),
        privileged: sc.and_then(|s| s.privileged).unwrap_or(false),
        namespace_options: Some(NamespaceOption {
            network: NamespaceMode::Pod as i32,
            pid: NamespaceMode::Container as i32,
            ipc: NamespaceMode::Pod as i32,
            ..Default::default()
        }),
        run_as_user: run_as_user.map(|value| Int64Value { value }),
        run_as_group: run_as_group.map(|value| Int64Value { value }),
        readonly_rootfs: sc
            .and_then(|s| s.read_only_root_filesystem)
            .unwrap_or(false),
        no_new_privs: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
        seccomp: Some(SecurityProfile {
            profile_type: match seccomp {
                Some("RuntimeDefault") => ProfileType::RuntimeDefault as i32,
                Some("Unconfined") | None => ProfileType::Unconfined as i32,
                Some(other) => panic!("container {}: seccompProfile {other}", c.name),
            },
            localhost_ref: String::new(),
        }),
        ..Default::default()
    }
}

fn pod_name(pod: &Pod) -> String {
    let meta = &pod.metadata;
    meta.name
        .clone()
        .or_else(|| meta.generate_name.as_ref().map(|g| format!("{g}test")))
        .expect("pod has a name or generateName")
}

/// A kubelet HTTP probe from the node: GET `path` on podIP:`port`, 1 s timeout; success is
/// a status in 200..400. Returns the status and body.
pub fn http_get(cd: &Containerd, ip: Ipv4Addr, port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = cd.node().try_connect(SocketAddr::from((ip, port))).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.33\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = Vec::new();
    let _ = stream.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

fn probe_port(c: &Container, port: &IntOrString) -> u16 {
    match port {
        IntOrString::Int(p) => *p as u16,
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port as u16)
            .unwrap_or_else(|| panic!("container {}: no port named {name}", c.name)),
    }
}

/// One attempt of an HTTP probe, as kubelet's prober makes it.
pub fn probe_once(cd: &Containerd, ip: Ipv4Addr, c: &Container, probe: &Probe) -> bool {
    let get = probe
        .http_get
        .as_ref()
        .unwrap_or_else(|| panic!("container {}: only httpGet probes are run", c.name));
    let path = get.path.as_deref().unwrap_or("/");
    http_get(cd, ip, probe_port(c, &get.port), path)
        .is_some_and(|(status, _)| (200..400).contains(&status))
}

/// Reads a container's CRI log file: lines `<RFC 3339 time> <stream> <P|F> <text>`.
pub fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The time and text of each line of a CRI log file.
pub fn log_lines(path: &Path) -> Vec<(String, String)> {
    log_of(path)
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(4, ' ');
            let time = parts.next()?.to_string();
            let _stream = parts.next()?;
            let _tag = parts.next()?;
            Some((time, parts.next().unwrap_or("").to_string()))
        })
        .collect()
}

struct PodDirs {
    volumes: HashMap<String, PathBuf>,
    containers: PathBuf,
}

fn container_config(pod: &Pod, c: &Container, dirs: &PodDirs) -> (ContainerConfig, PathBuf) {
    let envs = c
        .env
        .iter()
        .flatten()
        .map(|e| {
            assert!(
                e.value_from.is_none(),
                "container {}: env {} uses valueFrom, which the harness does not resolve",
                c.name,
                e.name
            );
            KeyValue {
                key: e.name.clone(),
                value: e.value.clone().unwrap_or_default(),
            }
        })
        .collect();
    let mut mounts: Vec<Mount> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| Mount {
            container_path: m.mount_path.clone(),
            host_path: dirs
                .volumes
                .get(&m.name)
                .unwrap_or_else(|| {
                    panic!(
                        "container {}: volume {} is not an emptyDir (the only kind the harness \
                         provides)",
                        c.name, m.name
                    )
                })
                .display()
                .to_string(),
            readonly: m.read_only.unwrap_or(false),
            ..Default::default()
        })
        .collect();
    // kubelet creates the termination-message file (0666) and bind-mounts it.
    let dir = dirs.containers.join(&c.name);
    std::fs::create_dir_all(&dir).expect("container dir");
    let termination_log = dir.join("termination-log");
    std::fs::write(&termination_log, "").expect("termination-log");
    std::fs::set_permissions(&termination_log, std::fs::Permissions::from_mode(0o666))
        .expect("chmod termination-log");
    mounts.push(Mount {
        container_path: c
            .termination_message_path
            .clone()
            .unwrap_or_else(|| "/dev/termination-log".to_string()),
        host_path: termination_log.display().to_string(),
        ..Default::default()
    });
    let meta = &pod.metadata;
    let config = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: c.name.clone(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: c.image.clone().expect("container image"),
            ..Default::default()
        }),
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs,
        mounts,
        labels: HashMap::from([
            ("io.kubernetes.container.name".to_string(), c.name.clone()),
            ("io.kubernetes.pod.name".to_string(), pod_name(pod)),
            (
                "io.kubernetes.pod.namespace".to_string(),
                meta.namespace.clone().unwrap_or_default(),
            ),
        ]),
        log_path: format!("{}/0.log", c.name),
        linux: Some(LinuxContainerConfig {
            resources: Some(resources(c)),
            security_context: Some(security_context(pod, c)),
        }),
        ..Default::default()
    };
    (config, termination_log)
}

/// Runs `pod` as kubelet would (see the module doc); the sandbox gets the pod's annotations,
/// as kubelet passes them. `Err` when an init container failed: nothing after it started.
pub fn run_pod(cd: &Containerd, pod: &Pod) -> Result<RunningPod, Box<InitFailure>> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref().expect("pod spec");
    let mut events = Vec::new();
    let mut sandbox_spec = PodSpec::new(
        meta.namespace.as_deref().unwrap_or("default"),
        &pod_name(pod),
    );
    for (k, v) in meta.annotations.iter().flatten() {
        sandbox_spec = sandbox_spec.annotation(k, v);
    }
    let sandbox = cd
        .run_pod(&sandbox_spec)
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", cd.containerd_log()));
    event(
        &mut events,
        format!("sandbox {} ip {}", sandbox.id, sandbox.ip),
    );

    let pod_dir = cd.dir().join("pods").join(&sandbox.id);
    let mut volumes = HashMap::new();
    for v in spec.volumes.iter().flatten() {
        if v.empty_dir.is_some() {
            let dir = pod_dir.join("volumes").join(&v.name);
            std::fs::create_dir_all(&dir).expect("emptyDir");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                .expect("chmod emptyDir");
            volumes.insert(v.name.clone(), dir);
        }
    }
    let dirs = PodDirs {
        volumes,
        containers: pod_dir.join("containers"),
    };

    let mut started = Vec::new();
    let start = |c: &Container, sidecar: bool, events: &mut Vec<Event>| -> Started {
        let (config, termination_log) = container_config(pod, c, &dirs);
        let id = cd
            .create_container(&sandbox, config)
            .unwrap_or_else(|e| panic!("CreateContainer {}: {e}", c.name));
        cd.start_container(&id)
            .unwrap_or_else(|e| panic!("StartContainer {}: {e}", c.name));
        event(events, format!("started {}", c.name));
        Started {
            name: c.name.clone(),
            id,
            sidecar,
            log_path: sandbox.log_dir.join(format!("{}/0.log", c.name)),
            termination_log,
            spec: c.clone(),
        }
    };

    for c in spec.init_containers.iter().flatten() {
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        let s = start(c, sidecar, &mut events);
        if sidecar {
            // kubelet starts the next container once the sidecar's startup probe passed
            // (or, without one, once it runs).
            if let Some(probe) = &c.startup_probe {
                let period = Duration::from_secs(probe.period_seconds.unwrap_or(10) as u64);
                let tries = probe.failure_threshold.unwrap_or(3);
                let mut ok = false;
                for _ in 0..tries {
                    if probe_once(cd, sandbox.ip, c, probe) {
                        ok = true;
                        break;
                    }
                    std::thread::sleep(period);
                }
                assert!(
                    ok,
                    "startup probe of {} failed {tries} times (kubelet would restart it); log:\n{}",
                    c.name,
                    log_of(&s.log_path)
                );
                event(&mut events, format!("startup probe ok {}", c.name));
            }
            started.push(s);
            continue;
        }
        // A regular init container must exit 0 before the next one starts.
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            let (status, _) = cd.container_status(&s.id);
            if status.state == ContainerState::ContainerExited as i32 {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "init container {} did not exit within 60 s",
                c.name
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        event(
            &mut events,
            format!("exited {} code {}", c.name, status.exit_code),
        );
        if status.exit_code != 0 {
            return Err(Box::new(InitFailure {
                container: c.name.clone(),
                exit_code: status.exit_code,
                message: std::fs::read_to_string(&s.termination_log).unwrap_or_default(),
                log: log_of(&s.log_path),
                sandbox: sandbox.clone(),
            }));
        }
        started.push(s);
    }
    for c in &spec.containers {
        let s = start(c, false, &mut events);
        started.push(s);
    }
    Ok(RunningPod {
        sandbox,
        containers: started,
        events,
    })
}

// === impl RunningPod ===

impl RunningPod {
    pub fn container(&self, name: &str) -> &Started {
        self.containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no container {name}"))
    }

    /// When an event whose text starts with `what` happened.
    pub fn event_time(&self, what: &str) -> SystemTime {
        self.events
            .iter()
            .find(|e| e.what.starts_with(what))
            .unwrap_or_else(|| panic!("no event `{what}` in {:?}", self.events))
            .at
    }

    /// Deletes the pod as kubelet does with `grace_seconds`: SIGTERM to the regular
    /// containers (all at once), once they are gone to the sidecars in reverse start order,
    /// then StopPodSandbox (CNI DEL, netns removed) and RemovePodSandbox. With `parallel`,
    /// every container gets SIGTERM at once, as kubelet stops a pod whose engine is a regular
    /// container (Kubernetes before 1.29).
    /// Returns each container's exit code, read before the sandbox is removed.
    pub fn delete(
        &self,
        cd: &Containerd,
        grace_seconds: i64,
        parallel: bool,
    ) -> BTreeMap<String, i32> {
        let (sidecars, regular): (Vec<&Started>, Vec<&Started>) =
            self.containers.iter().partition(|c| c.sidecar);
        let running = |c: &&Started| {
            cd.container_status(&c.id).0.state == ContainerState::ContainerRunning as i32
        };
        let regular: Vec<String> = regular
            .into_iter()
            .filter(running)
            .map(|c| c.id.clone())
            .collect();
        if parallel {
            let mut all = regular;
            all.extend(sidecars.iter().map(|c| c.id.clone()));
            cd.stop_containers(&all, grace_seconds);
        } else {
            cd.stop_containers(&regular, grace_seconds);
            for c in sidecars.iter().rev() {
                cd.stop_containers(std::slice::from_ref(&c.id), grace_seconds);
            }
        }
        let exits = self
            .containers
            .iter()
            .map(|c| (c.name.clone(), cd.container_status(&c.id).0.exit_code))
            .collect();
        cd.stop_pod(&self.sandbox);
        exits
    }
}
