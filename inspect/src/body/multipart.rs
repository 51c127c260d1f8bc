//! `multipart/form-data` with the strict-validation flags CRS and ModSecurity check.
use crate::tx_store::Store;
use crate::vars::Var;

#[derive(Default)]
struct Flags {
    boundary_quoted: bool,
    boundary_whitespace: bool,
    data_before: bool,
    data_after: bool,
    header_folding: bool,
    lf_line: bool,
    crlf_line: bool,
    missing_semicolon: bool,
    invalid_quoting: bool,
    invalid_part: bool,
    unmatched_boundary: bool,
}

fn boundary_of(ct: &[u8], f: &mut Flags) -> Option<Vec<u8>> {
    let lower = ct.to_ascii_lowercase();
    let pos = lower.windows(8).position(|w| w == b"boundary")?;
    let mut rest = &ct[pos + 8..];
    if rest.first().is_some_and(|c| c.is_ascii_whitespace()) {
        f.boundary_whitespace = true;
        rest = rest.trim_ascii_start();
    }
    rest = rest.strip_prefix(b"=")?;
    if rest.first().is_some_and(|c| c.is_ascii_whitespace()) {
        f.boundary_whitespace = true;
        rest = rest.trim_ascii_start();
    }
    let b = if let Some(q) = rest.strip_prefix(b"\"") {
        f.boundary_quoted = true;
        let end = q.iter().position(|&c| c == b'"')?;
        q[..end].to_vec()
    } else {
        let end = rest
            .iter()
            .position(|&c| c == b';' || c == b',')
            .unwrap_or(rest.len());
        let b = rest[..end].to_vec();
        if b.last().is_some_and(|c| c.is_ascii_whitespace()) {
            f.boundary_whitespace = true;
        }
        b.trim_ascii_end().to_vec()
    };
    (!b.is_empty()).then_some(b)
}

struct Part {
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

pub fn parse(content_type: &[u8], body: &[u8], s: &mut Store) -> Result<(), String> {
    let mut f = Flags::default();
    let boundary = boundary_of(content_type, &mut f).ok_or("boundary not found in Content-Type")?;
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(&boundary);
    let mut parts: Vec<Part> = Vec::new();
    let mut cur: Option<Part> = None;
    let mut in_headers = false;
    let mut finished = false;
    for raw in body.split_inclusive(|&c| c == b'\n') {
        let (line, ending): (&[u8], &[u8]) = if let Some(l) = raw.strip_suffix(b"\r\n") {
            f.crlf_line = true;
            (l, b"\r\n")
        } else if let Some(l) = raw.strip_suffix(b"\n") {
            f.lf_line = true;
            (l, b"\n")
        } else {
            (raw, b"")
        };
        if finished {
            if !raw.trim_ascii().is_empty() {
                f.data_after = true;
            }
            continue;
        }
        if let Some(after) = line.strip_prefix(delim.as_slice()) {
            let after_t = after.trim_ascii_end();
            if after_t.is_empty() || after_t == b"--" {
                if let Some(mut p) = cur.take() {
                    // The line break before a boundary belongs to the boundary.
                    if p.body.ends_with(b"\r\n") {
                        p.body.truncate(p.body.len() - 2);
                    } else if p.body.ends_with(b"\n") {
                        p.body.pop();
                    }
                    if in_headers {
                        f.invalid_part = true;
                    }
                    parts.push(p);
                }
                if after_t == b"--" {
                    finished = true;
                } else {
                    cur = Some(Part {
                        headers: Vec::new(),
                        body: Vec::new(),
                    });
                    in_headers = true;
                }
                continue;
            }
            f.unmatched_boundary = true;
        }
        let Some(p) = cur.as_mut() else {
            if !line.is_empty() {
                f.data_before = true;
            }
            continue;
        };
        if in_headers {
            if line.is_empty() {
                in_headers = false;
            } else if line[0] == b' ' || line[0] == b'\t' {
                f.header_folding = true;
                match p.headers.last_mut() {
                    Some(h) => h.1.extend_from_slice(line.trim_ascii()),
                    None => f.invalid_part = true,
                }
            } else if let Some(i) = line.iter().position(|&c| c == b':') {
                p.headers.push((
                    line[..i].trim_ascii().to_vec(),
                    line[i + 1..].trim_ascii().to_vec(),
                ));
            } else {
                f.invalid_part = true;
            }
        } else {
            p.body.extend_from_slice(line);
            p.body.extend_from_slice(ending);
        }
    }
    let mut error = None;
    if !finished {
        error = Some("final boundary missing".to_string());
    }
    let mut combined = 0usize;
    for p in &parts {
        let Some((_, cd)) = p
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(b"content-disposition"))
        else {
            error.get_or_insert_with(|| "part without Content-Disposition".to_string());
            continue;
        };
        let (name, filename) = match disposition(cd, &mut f) {
            Ok(v) => v,
            Err(e) => {
                error.get_or_insert(e);
                continue;
            }
        };
        for (k, v) in &p.headers {
            let mut line = k.clone();
            line.extend_from_slice(b": ");
            line.extend_from_slice(v);
            s.part_headers.push((name.clone(), line));
        }
        s.set(Var::MultipartName, name.as_slice());
        match filename {
            Some(fname) => {
                combined += p.body.len();
                s.set(Var::MultipartFilename, fname.as_slice());
                s.files.push((name.clone(), fname));
                s.files_sizes
                    .push((name.clone(), p.body.len().to_string().into_bytes()));
                s.files_tmp.push((name, p.body.clone()));
            }
            None => s.args_post.push((name, p.body.clone())),
        }
    }
    s.set(Var::FilesCombinedSize, combined.to_string());
    let flags = [
        (Var::MultipartBoundaryQuoted, f.boundary_quoted),
        (Var::MultipartBoundaryWhitespace, f.boundary_whitespace),
        (Var::MultipartDataBefore, f.data_before),
        (Var::MultipartDataAfter, f.data_after),
        (Var::MultipartHeaderFolding, f.header_folding),
        (Var::MultipartLfLine, f.lf_line),
        (Var::MultipartCrlfLfLines, f.lf_line && f.crlf_line),
        (Var::MultipartMissingSemicolon, f.missing_semicolon),
        (Var::MultipartInvalidQuoting, f.invalid_quoting),
        (Var::MultipartInvalidPart, f.invalid_part),
        (Var::MultipartInvalidHeaderFolding, false),
        (Var::MultipartFileLimitExceeded, false),
        (Var::MultipartUnmatchedBoundary, f.unmatched_boundary),
    ];
    let strict = error.is_some()
        || flags.iter().any(|(v, on)| {
            *on && !matches!(v, Var::MultipartLfLine | Var::MultipartUnmatchedBoundary)
        });
    for (v, on) in flags {
        s.set(v, if on { "1" } else { "0" });
    }
    s.set(Var::MultipartStrictError, if strict { "1" } else { "0" });
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

type NameFile = (Vec<u8>, Option<Vec<u8>>);

/// Parses `form-data; name="a"; filename="b"`.
fn disposition(v: &[u8], f: &mut Flags) -> Result<NameFile, String> {
    let lower = v.to_ascii_lowercase();
    let rest = lower
        .strip_prefix(b"form-data")
        .map(|_| &v[9..])
        .ok_or("Content-Disposition is not form-data")?;
    let mut name = None;
    let mut filename = None;
    let mut i = 0;
    let b = rest;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b';' {
            i += 1;
        } else {
            f.missing_semicolon = true;
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' {
            i += 1;
        }
        let pname = b[start..i].trim_ascii().to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            if pname.is_empty() {
                continue;
            }
            return Err(format!(
                "malformed Content-Disposition parameter {:?}",
                String::from_utf8_lossy(&pname)
            ));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut closed = false;
            while i < b.len() {
                if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'"' || b[i + 1] == b'\\') {
                    value.push(b[i + 1]);
                    i += 2;
                } else if b[i] == b'"' {
                    closed = true;
                    i += 1;
                    break;
                } else {
                    value.push(b[i]);
                    i += 1;
                }
            }
            if !closed {
                f.invalid_quoting = true;
            }
        } else {
            while i < b.len() && b[i] != b';' && !b[i].is_ascii_whitespace() {
                if b[i] == b'\'' || b[i] == b'"' {
                    f.invalid_quoting = true;
                }
                value.push(b[i]);
                i += 1;
            }
        }
        match pname.as_slice() {
            b"name" => {
                if name.replace(value).is_some() {
                    return Err("duplicate name parameter".into());
                }
            }
            b"filename" => {
                if filename.replace(value).is_some() {
                    return Err("duplicate filename parameter".into());
                }
            }
            b"filename*" => {
                filename.get_or_insert(value);
            }
            _ => {
                return Err(format!(
                    "unknown Content-Disposition parameter {:?}",
                    String::from_utf8_lossy(&pname)
                ));
            }
        }
    }
    let name = name.ok_or("Content-Disposition without name")?;
    Ok((name, filename))
}
