//! A named network namespace that is deleted on drop, with helpers to run things inside it.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A network namespace created with `ip netns add`; deleted (with everything in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
    path: PathBuf,
}

impl Netns {
    /// Creates `name` (after deleting a leftover of the same name), brings `lo` up and turns
    /// IPv6 duplicate address detection off so addresses are usable at once.
    pub fn create(name: &str) -> Netns {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        let out = Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .expect("run `ip`");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns {
            name: name.to_string(),
            path: PathBuf::from("/var/run/netns").join(name),
        };
        ns.exec_ok("ip", &["link", "set", "lo", "up"]);
        for key in ["all", "default"] {
            ns.exec_ok(
                "sysctl",
                &["-qw", &format!("net.ipv6.conf.{key}.accept_dad=0")],
            );
        }
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/var/run/netns/<name>`: what `CNI_NETNS` and `setns` take.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`); the environment
    /// set on the returned command reaches `program`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `program args` inside the namespace and returns its output, success or not.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program} in {}: {e}", self.name))
    }

    /// Runs `program args` inside the namespace; panics with stderr unless it succeeds.
    pub fn exec_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.exec(program, args);
        assert!(
            out.status.success(),
            "`{program} {}` in netns {} failed: {}{}",
            args.join(" "),
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a long-running `program args` inside the namespace; killed when the returned
    /// guard drops.
    pub fn spawn(&self, program: &str, args: &[&str]) -> Background {
        self.spawn_command(self.command(program).args(args))
    }

    /// Starts a prepared [`Netns::command`] in the background; killed on drop.
    pub fn spawn_command(&self, command: &mut Command) -> Background {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn in {}: {e}", self.name));
        Background { child }
    }

    /// Runs `f` inside the namespace on a dedicated thread. Sockets created in `f` stay in
    /// this namespace wherever they are used afterwards.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        palisade_redirect::netns::run_in(&self.path, f)
            .unwrap_or_else(|e| panic!("run in netns {}: {e}", self.name))
    }

    /// A TCP listener bound inside the namespace (`"0.0.0.0:8080"`, `"[::]:8080"`).
    pub fn listen(&self, addr: &str) -> TcpListener {
        self.run(|| TcpListener::bind(addr))
            .unwrap_or_else(|e| panic!("bind {addr} in {}: {e}", self.name))
    }

    /// A TCP connection made from inside the namespace (5 s timeout).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> TcpStream {
        let addr: SocketAddr = addr
            .to_socket_addrs()
            .expect("address")
            .next()
            .expect("one address");
        self.try_connect(addr)
            .unwrap_or_else(|e| panic!("connect to {addr} from {}: {e}", self.name))
    }

    /// Like [`Netns::connect`] but returns the error.
    pub fn try_connect(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        self.run(|| TcpStream::connect_timeout(&addr, Duration::from_secs(5)))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A process running inside a namespace; killed and reaped on drop.
#[derive(Debug)]
pub struct Background {
    pub child: Child,
}

impl Background {
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The destination a redirected connection had before NAT (`SO_ORIGINAL_DST`), for an
/// accepted IPv4 or IPv6 socket.
pub fn original_dst(stream: &TcpStream) -> std::io::Result<SocketAddr> {
    use nix::sys::socket::{getsockopt, sockopt};
    if stream.local_addr()?.is_ipv4() {
        let sin = getsockopt(&stream.as_fd(), sockopt::OriginalDst)?;
        let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        Ok(SocketAddr::from((ip, u16::from_be(sin.sin_port))))
    } else {
        let sin6 = getsockopt(&stream.as_fd(), sockopt::Ip6tOriginalDst)?;
        let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
        Ok(SocketAddr::from((ip, u16::from_be(sin6.sin6_port))))
    }
}

/// Accepts one connection within `timeout`; `None` when nothing arrived.
pub fn accept_within(listener: &TcpListener, timeout: Duration) -> Option<TcpStream> {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let deadline = std::time::Instant::now() + timeout;
    let got = loop {
        match listener.accept() {
            Ok((s, _)) => break Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() >= deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    listener.set_nonblocking(false).expect("blocking listener");
    if let Some(s) = &got {
        s.set_nonblocking(false).expect("blocking stream");
    }
    got
}

/// Every packet-filter ruleset of a namespace, counters stripped: `nft list ruleset`, and
/// the nat tables of iptables-legacy (v4 and v6). For before/after comparisons.
pub fn ruleset_snapshot(ns: &Netns) -> String {
    let mut out = String::new();
    for (program, args) in [
        ("nft", &["list", "ruleset"][..]),
        ("iptables-legacy-save", &["-t", "nat"][..]),
        ("ip6tables-legacy-save", &["-t", "nat"][..]),
    ] {
        out.push_str(&format!("## {program}\n"));
        let text = ns.exec_ok(program, args);
        let text = if program == "nft" {
            drop_empty_accept_chains(&text)
        } else {
            text
        };
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            // Chain counters change with traffic; they are not rules.
            let line = match line.strip_prefix(':') {
                Some(_) => line.split(" [").next().unwrap_or(line),
                None => line,
            };
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `nft list ruleset` without base chains that hold no rule and accept: iptables-nft creates
/// a built-in chain (`OUTPUT`) on first use and cannot delete it, and such a chain changes
/// nothing, so it is not a trace.
fn drop_empty_accept_chains(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        let empty = l.starts_with("chain ")
            && l.ends_with('{')
            && lines
                .get(i + 1)
                .is_some_and(|n| n.contains(" hook ") && n.trim_end().ends_with("policy accept;"))
            && lines.get(i + 2).is_some_and(|n| n.trim() == "}");
        if empty {
            i += 3;
            // The blank line that separated it from the next chain.
            if lines.get(i).is_some_and(|n| n.trim().is_empty()) {
                i += 1;
            }
            continue;
        }
        out.push(lines[i]);
        i += 1;
    }
    // A chain removed last leaves the blank line before it.
    let mut text = String::new();
    for (j, l) in out.iter().enumerate() {
        if l.trim().is_empty() && out.get(j + 1).is_some_and(|n| n.trim() == "}") {
            continue;
        }
        text.push_str(l);
        text.push('\n');
    }
    text
}
