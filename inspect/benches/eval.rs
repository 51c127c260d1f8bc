//! Per-request evaluation cost of the full CRS (phases 1-5, no I/O) on a benign and an
//! attack corpus. Not a test: prints numbers. Run through bench/inspect/run.sh.
//!
//! Env: CRS_DIR (default ../shared/crs/v4.28.0), CRS_SETUP (default
//! $CRS_DIR/crs-setup.conf.example), CRS_RULES (default $CRS_DIR/rules/*.conf),
//! PL (paranoia level, default 1), ITERS (passes over each corpus, default 200),
//! ONLY (keep requests whose URI contains it), REFERENCE (prefilter off).
use palisade_inspect::{ConnInfo, LoadOptions, RECOMMENDED_BASE_RULES, RequestHead, RuleSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

struct Req {
    head: RequestHead,
    body: Vec<u8>,
}

fn req(method: &str, uri: &str, ct: Option<&str>, body: &[u8]) -> Req {
    let mut headers = vec![
        ("Host".to_string(), b"shop.example.com".to_vec()),
        ("User-Agent".to_string(), b"Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0".to_vec()),
        ("Accept".to_string(), b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".to_vec()),
        ("Accept-Language".to_string(), b"en-US,en;q=0.5".to_vec()),
        ("Accept-Encoding".to_string(), b"gzip, deflate, br".to_vec()),
        ("Cookie".to_string(), b"session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890.1700000000".to_vec()),
        ("Referer".to_string(), b"https://shop.example.com/catalog?page=3".to_vec()),
    ];
    if let Some(ct) = ct {
        headers.push(("Content-Type".into(), ct.as_bytes().to_vec()));
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
    }
    Req {
        head: RequestHead {
            method: method.into(),
            uri: uri.into(),
            protocol: "HTTP/1.1".into(),
            headers,
        },
        body: body.to_vec(),
    }
}

fn json_2k() -> Vec<u8> {
    let items: Vec<String> = (0..24)
        .map(|i| format!(r#"{{"sku":"SKU-{i:05}","name":"Trail running shoe model {i}","qty":{},"price":{}.99}}"#, i % 3 + 1, 40 + i))
        .collect();
    format!(r#"{{"customer":{{"id":48213,"email":"jane.doe@example.com","name":"Jane Doe"}},"items":[{}],"note":"Leave at the back door, please."}}"#, items.join(","))
        .into_bytes()
}

/// A 20 KB urlencoded form of 500 fields (a bulk edit screen).
fn form_20k() -> Vec<u8> {
    let fields: Vec<String> = (0..500)
        .map(|i| format!("item{i:03}_note=Blue+cotton+shirt+size+M+qty+{}", i % 7))
        .collect();
    fields.join("&").into_bytes()
}

fn benign() -> Vec<Req> {
    vec![
        req("GET", "/", None, b""),
        req("GET", "/catalog/shoes?color=red&size=42&sort=price_asc&page=2", None, b""),
        req("GET", "/search?q=waterproof+trail+running+shoes&lang=en", None, b""),
        req("GET", "/static/js/app.3f9a1c.js", None, b""),
        req("POST", "/api/orders", Some("application/json"), &json_2k()),
        req("POST", "/account/profile", Some("application/x-www-form-urlencoded"), b"first=Jane&last=Doe&email=jane.doe%40example.com&street=12+Main+St&city=Berlin&zip=10115&newsletter=on"),
        req("POST", "/admin/bulk-edit", Some("application/x-www-form-urlencoded"), &form_20k()),
    ]
}

/// A 200 KB multipart upload: one form field and one text file (bench/cpu's upload row).
fn uploads() -> Vec<Req> {
    let line = "2024-05-01 10:00:00 INFO order 48213 shipped to Berlin, parcel 7 of 12\n";
    let file = line.repeat(200 * 1024 / line.len());
    let body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nweekly export\r\n--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"orders.log\"\r\nContent-Type: text/plain\r\n\r\n{file}\r\n--b0undary--\r\n"
    );
    vec![req(
        "POST",
        "/api/upload",
        Some("multipart/form-data; boundary=b0undary"),
        body.as_bytes(),
    )]
}

fn attacks() -> Vec<Req> {
    vec![
        req("GET", "/products?id=1%27%20OR%20%271%27%3D%271", None, b""),
        req(
            "GET",
            "/products?id=1%20UNION%20SELECT%20username,password%20FROM%20users--",
            None,
            b"",
        ),
        req(
            "GET",
            "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
            None,
            b"",
        ),
        req("GET", "/download?file=../../../../etc/passwd", None, b""),
        req("GET", "/ping?host=127.0.0.1%3Bcat%20/etc/passwd", None, b""),
        req(
            "POST",
            "/login",
            Some("application/x-www-form-urlencoded"),
            b"user=admin'--&pass=x' or 1=1--",
        ),
    ]
}

// Never inlined: bench/inspect/callgrind.sh counts instructions per call of it.
#[inline(never)]
fn eval(rs: &Arc<RuleSet>, r: &Req) -> usize {
    let mut t = rs.transaction(ConnInfo {
        client_ip: "192.0.2.7".into(),
        client_port: 51000,
        server_ip: "192.0.2.1".into(),
        server_port: 8080,
        unique_id: "bench".into(),
    });
    // REFERENCE=1: every rule on every value, as before the prefilter (for comparison).
    if std::env::var("REFERENCE").is_ok() {
        t.disable_prefilter();
    }
    let _ = t.process_request_headers(&r.head);
    let _ = t.process_request_body(&r.body);
    let _ = t.process_response_headers(
        200,
        "HTTP/1.1",
        &[("Content-Type".into(), b"text/html".to_vec())],
    );
    let _ = t.process_response_body(b"<html><body>ok</body></html>");
    t.process_logging();
    t.matched_rules().len()
}

fn run(name: &str, rs: &Arc<RuleSet>, corpus: &[Req], iters: usize) {
    // ONLY=/api keeps the requests whose URI contains it (for profiling one shape).
    let only = std::env::var("ONLY").unwrap_or_default();
    let corpus: Vec<&Req> = corpus
        .iter()
        .filter(|r| r.head.uri.contains(&only))
        .collect();
    if corpus.is_empty() {
        return;
    }
    // SEQUENCE=1 names every call of `eval` in order, for bench/inspect/callgrind.sh.
    let seq = std::env::var("SEQUENCE").is_ok();
    let show = |r: &Req| {
        if seq {
            println!("call {} {}", r.head.method, r.head.uri);
        }
    };
    for r in &corpus {
        show(r);
        eval(rs, r);
    }
    let mut samples = Vec::with_capacity(corpus.len() * iters);
    let mut matched = 0;
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    for _ in 0..iters {
        for r in &corpus {
            show(r);
            let t0 = Instant::now();
            matched += eval(rs, r);
            samples.push(t0.elapsed().as_nanos() as u64);
        }
    }
    let total = start.elapsed();
    let cpu = thread_cpu_ns()
        .zip(cpu0)
        .map(|(b, a)| (b - a) as f64 / samples.len() as f64 / 1000.0);
    if std::env::var("PER_REQUEST").is_ok() {
        for (i, r) in corpus.iter().enumerate() {
            let mut mine: Vec<u64> = samples
                .iter()
                .skip(i)
                .step_by(corpus.len())
                .copied()
                .collect();
            mine.sort_unstable();
            println!(
                "  {:>8.1}us p50  {} {}",
                mine[mine.len() / 2] as f64 / 1000.0,
                r.head.method,
                r.head.uri
            );
        }
    }
    samples.sort_unstable();
    let pct = |p: f64| {
        samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)] as f64 / 1000.0
    };
    let n = samples.len() as f64;
    println!(
        "{name:<8} requests={:<6} cpu/request={:>7.1}us ({:>6.0} req/s per core)  wall: mean={:>8.1}us p50={:>8.1}us p99={:>8.1}us => {:>6.0} req/s  (matches/request {:.1})",
        samples.len(),
        cpu.unwrap_or(f64::NAN),
        cpu.map_or(f64::NAN, |c| 1e6 / c),
        total.as_secs_f64() * 1e6 / n,
        pct(0.50),
        pct(0.99),
        n / total.as_secs_f64(),
        matched as f64 / n
    );
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs/v4.28.0");
    let dir = std::env::var("CRS_DIR").map(PathBuf::from).unwrap_or(root);
    let setup = std::env::var("CRS_SETUP")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.join("crs-setup.conf.example"));
    let rules = std::env::var("CRS_RULES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.join("rules/*.conf"));
    let pl: u8 = std::env::var("PL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let prelude = format!(
        "{RECOMMENDED_BASE_RULES}\nSecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={pl}\"\n"
    );
    let t0 = Instant::now();
    let rs = Arc::new(
        RuleSet::load(&LoadOptions {
            prelude,
            files: vec![setup.clone(), rules.clone()],
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display())),
    );
    println!(
        "rule set: {} + {} at PL{pl}: {} rules loaded in {:.0} ms",
        setup.display(),
        rules.display(),
        rs.rule_count(),
        t0.elapsed().as_secs_f64() * 1000.0
    );
    println!("prefilter: {}", rs.prefilter_summary());
    run("benign", &rs, &benign(), iters);
    run("attack", &rs, &attacks(), iters);
    run("upload", &rs, &uploads(), iters);
}

/// CPU time of this thread (ns), from /proc: wall-clock numbers on a shared machine
/// include time spent waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
