//! `multipart/form-data`, parsed incrementally with the strict-validation flags
//! ModSecurity v3 sets (and CRS checks through `MULTIPART_STRICT_ERROR`).
//!
//! The body is cut into lines of at most [`BUF`] bytes exactly as libmodsecurity's
//! parser cuts them, because which lines count as boundaries, and which line
//! endings set `MULTIPART_LF_LINE`, depends on that. File contents are counted,
//! never kept: only form fields (bounded by the no-files limit) are held.
use crate::tx_store::Store;
use crate::vars::Var;

/// libmodsecurity's `MULTIPART_BUF_SIZE`: part header lines must fit, longer data
/// lines are cut into pieces of this size.
const BUF: usize = 4096;

/// Most parts one body may have; over it the body is an error, so a form cannot
/// make the engine keep an unbounded list of (possibly empty) parts.
pub const MAX_PARTS: usize = 1000;

#[derive(Default)]
struct Flags {
    error: bool,
    boundary_quoted: bool,
    boundary_whitespace: bool,
    data_before: bool,
    data_after: bool,
    header_folding: bool,
    invalid_header_folding: bool,
    lf_line: bool,
    crlf_line: bool,
    missing_semicolon: bool,
    invalid_quoting: bool,
    invalid_part: bool,
    /// 0, 1 (something like our boundary that is not), or 2 (a real boundary
    /// closed an open part), as ModSecurity reports it.
    unmatched_boundary: u8,
}

/// The boundary and what its `Content-Type` looked like.
#[derive(Debug, PartialEq, Eq)]
pub struct Boundary {
    pub value: Vec<u8>,
    pub quoted: bool,
    pub whitespace: bool,
    pub missing_semicolon: bool,
}

/// RFC 7230 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// RFC 2046 `bchars` (a space only inside).
fn boundary_chars_valid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c) || (c == b' ' && i + 1 < b.len())
    })
}

/// How often `boundary` (any case) occurs with an `=` somewhere after it: the
/// count ModSecurity uses, so a second boundary anywhere, even inside another
/// parameter's quoted value (where PHP's substring search would find it), is caught.
fn boundary_mentions(v: &[u8]) -> usize {
    let lower = v.to_ascii_lowercase();
    let mut n = 0;
    let mut i = 0;
    while let Some(p) = memchr::memmem::find(&lower[i..], b"boundary") {
        i += p + 8;
        if lower[i..].contains(&b'=') {
            n += 1;
        }
    }
    n
}

/// Parses a `multipart/form-data` `Content-Type` by the RFC 2045 / RFC 7231
/// grammar (`type "/" subtype *( OWS ";" OWS token "=" ( token / quoted-string ) )`,
/// parameter names compared without case). Everything a mainstream parser
/// (werkzeug, Python's `email`, busboy, PHP) could read as a different boundary is
/// an error: a second `boundary`, `boundary*`, the word anywhere else, a parameter
/// before it, characters outside RFC 2046, a quoted value followed by more.
pub fn boundary_of(ct: &[u8]) -> Result<Boundary, String> {
    let bad = |why: &str| Err(format!("Invalid boundary in C-T ({why})"));
    if ct.len() > 1024 {
        return bad("length");
    }
    if ct.len() < 19 || !ct[..19].eq_ignore_ascii_case(b"multipart/form-data") {
        return Err("Invalid MIME type".into());
    }
    if memchr::memchr(0, ct).is_some() {
        return bad("NUL byte");
    }
    match boundary_mentions(ct) {
        0 => return Err("Boundary not found in C-T".into()),
        1 => {}
        _ => return Err("Multiple boundary parameters in C-T".into()),
    }
    let mut out = Boundary {
        value: Vec::new(),
        quoted: false,
        whitespace: false,
        missing_semicolon: false,
    };
    let mut rest = &ct[19..];
    let mut found = false;
    let mut first = true;
    loop {
        let trimmed = rest.trim_ascii_start();
        let had_space = trimmed.len() != rest.len();
        rest = trimmed;
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix(b";") {
            rest = r;
        } else if first && had_space {
            // `multipart/form-data boundary=x`: ModSecurity reads it and flags it.
            out.missing_semicolon = true;
        } else {
            return bad("malformed");
        }
        rest = rest.trim_ascii_start();
        if rest.is_empty() || rest[0] == b';' {
            continue; // an empty parameter (`;;`, a trailing `;`)
        }
        let name_len = rest.iter().take_while(|&&c| is_tchar(c)).count();
        if name_len == 0 {
            return bad("malformed");
        }
        let name = &rest[..name_len];
        rest = &rest[name_len..];
        let is_boundary = name.eq_ignore_ascii_case(b"boundary");
        if is_boundary && name != b"boundary" {
            // Allowed by the RFC; libmodsecurity refuses it, and so do we.
            return bad("case sensitivity");
        }
        if !is_boundary && first {
            // ModSecurity accepts nothing but white space and one `;` before it.
            return bad("malformed");
        }
        first = false;
        let before_eq = rest.trim_ascii_start();
        if before_eq.len() != rest.len() {
            if !is_boundary {
                return bad("malformed");
            }
            out.whitespace = true;
        }
        rest = before_eq
            .strip_prefix(b"=")
            .ok_or_else(|| "Invalid boundary in C-T (parameter name)".to_string())?;
        let after_eq = rest.trim_ascii_start();
        if after_eq.len() != rest.len() {
            // libmodsecurity keeps the white space in the boundary, so no line
            // of the body can match it: the body would be unreadable to it.
            return bad("whitespace");
        }
        rest = after_eq;
        let value = if let Some(q) = rest.strip_prefix(b"\"") {
            let mut v = Vec::new();
            let mut i = 0;
            loop {
                match q.get(i) {
                    None => return bad("quote"),
                    Some(b'"') => break,
                    // A backslash escape means different things to different
                    // parsers (werkzeug unescapes, PHP does not): refuse it.
                    Some(b'\\') if is_boundary => return bad("quote"),
                    Some(b'\\') => {
                        v.extend(q.get(i + 1));
                        i += 2;
                    }
                    Some(&c) => {
                        v.push(c);
                        i += 1;
                    }
                }
            }
            rest = &q[i + 1..];
            if is_boundary {
                out.quoted = true;
                if !rest.trim_ascii().is_empty() {
                    // ModSecurity takes the rest of the header as the value here.
                    return bad("quote");
                }
            }
            v
        } else {
            let n = rest.iter().take_while(|&&c| is_tchar(c)).count();
            let v = rest[..n].to_vec();
            rest = &rest[n..];
            if is_boundary && rest.first().is_some_and(|&c| c != b';') {
                // `boundary=a b`, `boundary=a,b`, `boundary=a `: PHP stops at the
                // comma, others do not, libmodsecurity keeps a trailing space.
                return bad("characters");
            }
            v
        };
        if is_boundary {
            if value.is_empty() {
                return bad("empty");
            }
            if !boundary_chars_valid(&value) {
                return bad("characters");
            }
            out.value = value;
            found = true;
        }
    }
    if !found {
        // `boundary` was only part of another name (`xboundary=`, `boundary*=`).
        return Err("Boundary not found in C-T".into());
    }
    Ok(out)
}

/// The flags of a body whose `Content-Type` could not be used: every flag 0 and
/// `MULTIPART_STRICT_ERROR` 1, as libmodsecurity leaves them.
pub fn set_unusable(s: &mut Store) {
    for v in [
        Var::MultipartBoundaryQuoted,
        Var::MultipartBoundaryWhitespace,
        Var::MultipartDataBefore,
        Var::MultipartDataAfter,
        Var::MultipartHeaderFolding,
        Var::MultipartLfLine,
        Var::MultipartCrlfLfLines,
        Var::MultipartMissingSemicolon,
        Var::MultipartInvalidQuoting,
        Var::MultipartInvalidPart,
        Var::MultipartInvalidHeaderFolding,
        Var::MultipartFileLimitExceeded,
        Var::MultipartUnmatchedBoundary,
    ] {
        s.set(v, "0");
    }
    s.set(Var::MultipartStrictError, "1");
}

/// A part being read.
#[derive(Default)]
struct Part {
    /// Header name (as sent) and value, in order.
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Completed header lines for `MULTIPART_PART_HEADERS` (`Name: value`).
    header_lines: Vec<Vec<u8>>,
    name: Vec<u8>,
    filename: Option<Vec<u8>>,
    /// Form-field bytes (never file contents).
    value: Vec<u8>,
    /// Bytes of file content seen.
    size: usize,
}

/// What a finished body yields, moved into the variable store by [`Parser::finish`].
#[derive(Default)]
struct Output {
    args: Vec<(Vec<u8>, Vec<u8>)>,
    files: Vec<(Vec<u8>, Vec<u8>, usize)>,
    part_headers: Vec<(Vec<u8>, Vec<u8>)>,
    last_name: Option<Vec<u8>>,
    last_filename: Option<Vec<u8>>,
}

/// Incremental `multipart/form-data` parser: feed it chunks with [`Parser::feed`],
/// then call [`Parser::finish`].
pub struct Parser {
    boundary: Vec<u8>,
    /// `--` and the boundary.
    delim: Vec<u8>,
    flags: Flags,
    /// The first error message (the one that says what went wrong first).
    error: Option<String>,
    /// A boundary-level error stopped the parse (libmodsecurity's `m_flag_error`).
    stopped: bool,
    buf: Vec<u8>,
    /// The buffer started at the beginning of a line.
    buf_contains_line: bool,
    /// libmodsecurity's CR/LF state: 1 after CR, 2 after a bare LF, 3 after CRLF.
    crlf_state: u8,
    crlf_state_buf_end: u8,
    /// The line ending held back from the last data line (it belongs to a
    /// boundary if one follows).
    reserve: Vec<u8>,
    part: Option<Part>,
    in_headers: bool,
    part_data_read: bool,
    boundary_count: usize,
    parts: usize,
    complete: bool,
    seen_data: bool,
    no_files_len: usize,
    no_files_limit: usize,
    out: Output,
}

impl Parser {
    /// A parser for the body that `content_type` announces; an unusable or
    /// ambiguous boundary is an error (ModSecurity's message).
    pub fn new(content_type: &[u8], no_files_limit: usize) -> Result<Parser, String> {
        let b = boundary_of(content_type)?;
        let flags = Flags {
            boundary_quoted: b.quoted,
            boundary_whitespace: b.whitespace,
            missing_semicolon: b.missing_semicolon,
            ..Flags::default()
        };
        let mut delim = b"--".to_vec();
        delim.extend_from_slice(&b.value);
        Ok(Parser {
            delim,
            boundary: b.value,
            flags,
            error: None,
            stopped: false,
            buf: Vec::with_capacity(BUF),
            buf_contains_line: true,
            crlf_state: 0,
            crlf_state_buf_end: 0,
            reserve: Vec::new(),
            part: None,
            in_headers: false,
            part_data_read: false,
            boundary_count: 0,
            parts: 0,
            complete: false,
            seen_data: false,
            no_files_len: 0,
            no_files_limit,
            out: Output::default(),
        })
    }

    /// Feeds the next piece of the body. After an error the rest is ignored.
    pub fn feed(&mut self, mut data: &[u8]) {
        if data.is_empty() || self.stopped {
            return;
        }
        self.seen_data = true;
        if self.complete {
            self.flags.data_after = true;
            return;
        }
        while !data.is_empty() {
            let room = BUF - self.buf.len();
            let take = memchr::memchr(b'\n', &data[..room.min(data.len())])
                .map_or(room.min(data.len()), |i| i + 1);
            let mut piece = &data[..take];
            // libmodsecurity never takes a CR as the last byte of a full buffer.
            let mut cut_before_cr = false;
            if self.buf.len() + piece.len() == BUF && piece.last() == Some(&b'\r') {
                piece = &piece[..piece.len() - 1];
                cut_before_cr = true;
            }
            self.track_crlf_inside(piece);
            self.buf.extend_from_slice(piece);
            data = &data[piece.len()..];
            let last = self.buf.last().copied();
            let line_end = last == Some(b'\n');
            if line_end || self.buf.len() == BUF || cut_before_cr {
                let buf = std::mem::take(&mut self.buf);
                let full = buf.len() == BUF || cut_before_cr;
                if let Err(e) = self.process_buffer(&buf, full) {
                    self.fail(e);
                    return;
                }
                self.buf = buf;
                self.buf.clear();
                self.buf_contains_line = line_end;
                if line_end {
                    self.crlf_state = if self.crlf_state == 1 { 3 } else { 2 };
                }
                self.crlf_state_buf_end = self.crlf_state;
            }
            if let Some(c) = last {
                if c == b'\r' {
                    self.crlf_state = 1;
                } else if c != b'\n' {
                    self.crlf_state = 0;
                }
            }
            if self.complete && !data.is_empty() {
                self.flags.data_after = true;
                return;
            }
        }
    }

    /// The CR/LF state after the bytes of `piece` before its last one (the last
    /// is handled by the caller, after the buffer is processed).
    fn track_crlf_inside(&mut self, piece: &[u8]) {
        if piece.len() >= 2 {
            match piece[piece.len() - 2] {
                b'\r' => self.crlf_state = 1,
                b'\n' => {}
                _ => self.crlf_state = 0,
            }
        }
    }

    /// One line (or a [`BUF`]-sized piece of one), as libmodsecurity's
    /// `process` handles its buffer; an error is ModSecurity's message.
    fn process_buffer(&mut self, b: &[u8], full: bool) -> Result<(), String> {
        let delim_len = self.boundary.len() + 2;
        let mut as_boundary = false;
        if self.buf_contains_line && b.len() > 3 && b.starts_with(b"--") {
            if b.len() >= delim_len && b[2..delim_len] == self.boundary[..] {
                if self.crlf_state_buf_end == 2 {
                    self.flags.lf_line = true;
                }
                if !self.part_data_read && self.boundary_count > 0 {
                    // A boundary where the part's data should begin.
                    self.flags.invalid_part = true;
                } else {
                    if self.boundary_count > 0 {
                        self.flags.unmatched_boundary = 2;
                    }
                    let mut end = &b[delim_len..];
                    let is_final = end.starts_with(b"--");
                    if is_final {
                        end = &end[2..];
                        if self.complete {
                            return Err("Invalid boundary (final duplicate)".into());
                        }
                    }
                    match end {
                        b"\r\n" => self.flags.crlf_line = true,
                        b"\n" => self.flags.lf_line = true,
                        _ => {
                            let line = String::from_utf8_lossy(b).into_owned();
                            return Err(format!("Invalid boundary: {line}"));
                        }
                    }
                    self.process_boundary(is_final)?;
                    if is_final {
                        self.complete = true;
                    }
                    as_boundary = true;
                    self.boundary_count += 1;
                }
            } else {
                if self.flags.boundary_quoted
                    && b.len() > delim_len
                    && b[2] == b'"'
                    && b[3..].starts_with(&self.boundary)
                {
                    return Err("Invalid boundary (quotes)".into());
                }
                let after = &b[2..];
                let trimmed = after.trim_ascii_start();
                if trimmed.len() != after.len() && trimmed.starts_with(&self.boundary) {
                    return Err("Invalid boundary (whitespace)".into());
                }
                self.flags.unmatched_boundary = 1;
            }
        } else if self.buf_contains_line && memchr::memmem::find(b, &self.delim).is_some() {
            self.flags.unmatched_boundary = 1;
        }
        if as_boundary {
            return Ok(());
        }
        if self.part.is_none() {
            // Anything before the first boundary, even an empty line.
            self.flags.data_before = true;
            Ok(())
        } else if self.in_headers {
            if full {
                return Err(format!("Part header line over {BUF} bytes long"));
            }
            // Errors in part headers do not stop libmodsecurity's parse: they
            // are reported (REQBODY_ERROR) and the line is skipped.
            if let Err(e) = self.process_header_line(b) {
                self.error.get_or_insert(format!("Multipart: {e}"));
            }
            Ok(())
        } else {
            self.process_data(b);
            Ok(())
        }
    }

    fn fail(&mut self, msg: String) {
        self.flags.error = true;
        self.stopped = true;
        self.error.get_or_insert(format!("Multipart: {msg}"));
    }

    fn process_boundary(&mut self, last: bool) -> Result<(), String> {
        if let Some(p) = self.part.take() {
            self.finish_part(p);
        }
        if !last {
            self.parts += 1;
            if self.parts > MAX_PARTS {
                return Err(format!("more than {MAX_PARTS} parts"));
            }
            self.part = Some(Part::default());
            self.in_headers = true;
            self.part_data_read = false;
            self.reserve.clear();
        }
        Ok(())
    }

    fn finish_part(&mut self, p: Part) {
        if p.name.is_empty() {
            self.flags.invalid_part = true;
            return;
        }
        for line in p.header_lines {
            self.out.part_headers.push((p.name.clone(), line));
        }
        match p.filename {
            Some(f) => self.out.files.push((p.name, f, p.size)),
            None => self.out.args.push((p.name, p.value)),
        }
    }

    fn process_header_line(&mut self, line: &[u8]) -> Result<(), String> {
        if memchr::memchr(0, line).is_some() {
            return Err("Nul byte in part headers".into());
        }
        self.no_files_len += line.len();
        let body = if let Some(l) = line.strip_suffix(b"\r\n") {
            self.flags.crlf_line = true;
            l
        } else {
            self.flags.lf_line = true;
            line.strip_suffix(b"\n").unwrap_or(line)
        };
        if body.is_empty() {
            return self.end_of_headers();
        }
        let Some(p) = self.part.as_mut() else {
            return Ok(());
        };
        if body[0].is_ascii_whitespace() {
            self.flags.header_folding = true;
            let data = body.trim_ascii_start();
            if body[..body.len() - data.len()]
                .iter()
                .any(|&c| c != b' ' && c != b'\t')
            {
                self.flags.invalid_header_folding = true;
            }
            let Some((name, value)) = p.headers.last_mut() else {
                return Err("Invalid part header (folding error)".into());
            };
            value.push(b' ');
            value.extend_from_slice(data.trim_ascii_end());
            if value.len() > BUF {
                return Err("Part header too long".into());
            }
            let mut l = name.clone();
            l.extend_from_slice(b": ");
            l.extend_from_slice(value);
            if let Some(last) = p.header_lines.last_mut() {
                *last = l;
            }
            return Ok(());
        }
        let Some(colon) = memchr::memchr(b':', body) else {
            return Err("Invalid part header (colon missing)".into());
        };
        if colon == 0 {
            return Err("Invalid part header (header name missing)".into());
        }
        let name = body[..colon].to_vec();
        if p.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            // libmodsecurity keeps the first and says nothing; applications may
            // take either, which matters for these two.
            if name.eq_ignore_ascii_case(b"content-disposition")
                || name.eq_ignore_ascii_case(b"content-type")
            {
                let n = String::from_utf8_lossy(&name).into_owned();
                return Err(format!("Duplicate part header: {n}"));
            }
            return Ok(());
        }
        let value = body[colon + 1..]
            .trim_ascii_start()
            .trim_ascii_end()
            .to_vec();
        let mut l = name.clone();
        l.extend_from_slice(b": ");
        l.extend_from_slice(&value);
        p.header_lines.push(l);
        p.headers.push((name, value));
        Ok(())
    }

    fn end_of_headers(&mut self) -> Result<(), String> {
        let Some(p) = self.part.as_mut() else {
            return Ok(());
        };
        let Some((_, cd)) = p
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(b"content-disposition"))
        else {
            return Err("Part missing Content-Disposition header".into());
        };
        let cd = cd.clone();
        match disposition(&cd, &mut self.flags) {
            Ok((name, filename)) => {
                self.out.last_name = Some(name.clone());
                if let Some(f) = &filename {
                    self.out.last_filename = Some(f.clone());
                    // Some parsers find the file name by searching for `filename=`;
                    // one we understood without it they may not see at all.
                    if memchr::memmem::find(&cd, b"filename=").is_none() {
                        return Err("Invalid Content-Disposition header (filename)".into());
                    }
                }
                if name.is_empty() {
                    return Err("Content-Disposition header missing name field".into());
                }
                p.name = name;
                p.filename = filename;
            }
            Err(e) => {
                let v = String::from_utf8_lossy(&cd).into_owned();
                return Err(format!("Invalid Content-Disposition header ({e}): {v}"));
            }
        }
        self.in_headers = false;
        self.part_data_read = false;
        Ok(())
    }

    fn process_data(&mut self, line: &[u8]) {
        let Some(p) = self.part.as_mut() else { return };
        self.part_data_read = true;
        // The line ending is held back: it belongs to a boundary if one follows.
        let hold = if line.ends_with(b"\r\n") {
            2
        } else {
            usize::from(line.ends_with(b"\n"))
        };
        let data = &line[..line.len() - hold];
        let n = self.reserve.len() + data.len();
        if p.filename.is_some() {
            p.size += n;
        } else {
            self.no_files_len += n;
            // Past the limit the body is an error anyway: stop keeping bytes.
            if self.no_files_len <= self.no_files_limit {
                p.value.extend_from_slice(&self.reserve);
                p.value.extend_from_slice(data);
            }
        }
        self.reserve.clear();
        self.reserve.extend_from_slice(&line[line.len() - hold..]);
    }

    /// Ends the body: sets every `MULTIPART_*` flag, `FILES*` and `ARGS_POST`, and
    /// returns the body error, if any (ModSecurity's message).
    pub fn finish(mut self, s: &mut Store) -> Result<(), String> {
        if self.seen_data && !self.complete {
            if self.boundary_count > 0 {
                // The final boundary may sit in the buffer without a line ending.
                let mut fin = self.delim.clone();
                fin.extend_from_slice(b"--");
                if !self.stopped && self.buf_contains_line && self.buf == fin {
                    if self.crlf_state_buf_end == 2 {
                        self.flags.lf_line = true;
                    }
                    if !self.part_data_read {
                        self.flags.invalid_part = true;
                    }
                    if let Err(e) = self.process_boundary(true) {
                        self.fail(e);
                    }
                    self.complete = true;
                }
                if !self.complete {
                    // Not a strict error in libmodsecurity, only a body error.
                    self.error
                        .get_or_insert("Multipart: Final boundary missing".into());
                }
            } else {
                self.error
                    .get_or_insert("Multipart: No boundaries found in payload".into());
            }
        }
        if self.error.is_none() && self.no_files_len > self.no_files_limit {
            // Not a strict error: ModSecurity reports it as REQBODY_ERROR only.
            self.error =
                Some("Request body excluding files is bigger than the maximum expected.".into());
            s.set(Var::InboundDataError, "1");
        }
        let f = &self.flags;
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
            (Var::MultipartInvalidHeaderFolding, f.invalid_header_folding),
            (Var::MultipartFileLimitExceeded, false),
        ];
        let strict = f.error
            || flags
                .iter()
                .any(|(v, on)| *on && *v != Var::MultipartCrlfLfLines);
        for (v, on) in flags {
            s.set(v, if on { "1" } else { "0" });
        }
        s.set(
            Var::MultipartUnmatchedBoundary,
            f.unmatched_boundary.to_string(),
        );
        s.set(Var::MultipartStrictError, if strict { "1" } else { "0" });
        // libmodsecurity adds the parts to ARGS and FILES only for a complete body.
        let out = if self.complete {
            std::mem::take(&mut self.out)
        } else {
            Output::default()
        };
        if let Some(n) = out.last_name {
            s.set(Var::MultipartName, n);
        }
        if let Some(n) = out.last_filename {
            s.set(Var::MultipartFilename, n);
        }
        s.part_headers.extend(out.part_headers);
        let mut combined = 0usize;
        for (name, filename, size) in out.files {
            combined += size;
            s.files.push((name.clone(), filename));
            s.files_sizes.push((name, size.to_string().into_bytes()));
        }
        s.set(Var::FilesCombinedSize, combined.to_string());
        s.args_post.extend(out.args);
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

type NameFile = (Vec<u8>, Option<Vec<u8>>);

/// Parses `form-data; name="a"; filename="b"` as libmodsecurity does; the error
/// is its code, for the message.
fn disposition(v: &[u8], f: &mut Flags) -> Result<NameFile, String> {
    // A NUL ends the value for C parsers (PHP, libmodsecurity): `info.php\0.jpg`.
    if memchr::memchr(0, v).is_some() {
        return Err("NUL byte".into());
    }
    let Some(rest) = v.strip_prefix(b"form-data") else {
        return Err("-1".into());
    };
    let mut name: Option<Vec<u8>> = None;
    let mut filename: Option<Vec<u8>> = None;
    let mut filename_star: Option<Vec<u8>> = None;
    let b = rest;
    let ws = |c: u8| c == b' ' || c == b'\t';
    let mut i = 0;
    while i < b.len() && ws(b[i]) {
        i += 1;
    }
    if i == b.len() {
        return Ok((Vec::new(), None));
    }
    if b[i] != b';' {
        return Err("-2".into());
    }
    i += 1;
    while i < b.len() {
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Err("-3".into());
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Err("-4".into());
        }
        let pname = b[start..i].to_ascii_lowercase();
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Err("-5".into());
        }
        if b[i] != b'=' {
            return Err("-13".into());
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Err("-6".into());
        }
        let mut value = Vec::new();
        let mut quote = 0u8;
        if pname == b"filename*" {
            // filename*=charset'[language]'name, percent-encoded.
            let cs = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"!#$%&+-^_`{}~".contains(&b[i]))
            {
                i += 1;
            }
            if i == b.len() || b[i] != b'\'' || i == cs {
                return Err("-16".into());
            }
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            if i == b.len() {
                return Err("-17".into());
            }
            i += 1;
            let fs = i;
            while i < b.len() && b[i] != b';' {
                if b[i] == b'%' {
                    if !b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        || !b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                    {
                        return Err("-18".into());
                    }
                    i += 3;
                } else if b[i].is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b[i]) {
                    i += 1;
                } else {
                    return Err("-19".into());
                }
            }
            value.extend_from_slice(&b[fs..i]);
        } else if b[i] == b'"' || b[i] == b'\'' {
            quote = b[i];
            if quote == b'\'' {
                f.invalid_quoting = true;
            }
            i += 1;
            if i == b.len() {
                return Err("-7".into());
            }
            let mut closed = false;
            while i < b.len() {
                if b[i] == b'\\' {
                    if i + 1 == b.len() {
                        return Err("-8".into());
                    }
                    if b[i + 1] == quote || b[i + 1] == b'\\' {
                        i += 1;
                    }
                } else if b[i] == quote {
                    closed = true;
                    break;
                }
                value.push(b[i]);
                i += 1;
            }
            if !closed {
                return Err("-7".into());
            }
            i += 1; // the closing quote
        } else {
            let s = i;
            while i < b.len() && is_token_char(b[i]) {
                i += 1;
            }
            value.extend_from_slice(&b[s..i]);
        }
        match pname.as_slice() {
            b"name" => {
                validate_quotes(&value, quote, f);
                if name.replace(value).is_some_and(|n| !n.is_empty()) {
                    return Err("-14".into());
                }
            }
            b"filename" => {
                validate_quotes(&value, quote, f);
                if filename.replace(value).is_some_and(|n| !n.is_empty()) {
                    return Err("-15".into());
                }
            }
            b"filename*" => {
                if filename_star.replace(value).is_some() {
                    return Err("-20".into());
                }
            }
            _ => return Err("-11".into()),
        }
        if i < b.len() {
            while i < b.len() && ws(b[i]) {
                i += 1;
            }
            if i < b.len() {
                if b[i] != b';' {
                    if b[i - 1] == b'\'' || b[i - 1] == b'"' {
                        f.invalid_quoting = true;
                    }
                    return Err("-12".into());
                }
                i += 1;
            }
        }
    }
    if let Some(star) = &filename_star {
        if filename.as_ref().is_none_or(Vec::is_empty) {
            return Err("-21".into());
        }
        // Applications that honour `filename*` (werkzeug, busboy) would store a
        // different name than the `filename` the rules inspect.
        if filename.as_deref() != Some(percent_decode(star).as_slice()) {
            return Err("filename* differs from filename".into());
        }
    }
    // An empty `filename=""` still makes a file part in libmodsecurity only when
    // non-empty; an empty one is a form field.
    let filename = filename.filter(|f| !f.is_empty());
    Ok((name.unwrap_or_default(), filename))
}

/// `%XX` escapes only (RFC 5987: a `+` is a plus sign); the grammar was checked.
fn percent_decode(v: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match (
            v[i],
            v.get(i + 1).and_then(|&c| hex(c)),
            v.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// RFC 2616 token characters (libmodsecurity's `is_token_char`).
fn is_token_char(c: u8) -> bool {
    c > 32 && c < 127 && !b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// A single quote inside a value not enclosed in double quotes is suspicious.
fn validate_quotes(v: &[u8], quote: u8, f: &mut Flags) {
    if quote != b'"' && v.contains(&b'\'') {
        f.invalid_quoting = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ct: &str, body: &[u8], chunk: usize) -> (Store, Result<(), String>) {
        let mut s = Store::default();
        let r = match Parser::new(ct.as_bytes(), 131_072) {
            Ok(mut p) => {
                for c in body.chunks(chunk.max(1)) {
                    p.feed(c);
                }
                p.finish(&mut s)
            }
            Err(e) => Err(e),
        };
        (s, r)
    }

    fn flag(s: &Store, v: Var) -> &str {
        std::str::from_utf8(s.scalar(v).unwrap_or(b"")).unwrap()
    }

    const CT: &str = "multipart/form-data; boundary=XyZ";

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, file, content) in parts {
            b.extend_from_slice(b"--XyZ\r\n");
            match file {
                Some(f) => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            b.extend_from_slice(content);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--XyZ--\r\n");
        b
    }

    #[test]
    fn fields_and_files_parse_the_same_in_any_chunking() {
        let mut file = Vec::new();
        for i in 0..20_000u32 {
            file.push((i * 7 % 251) as u8);
        }
        let b = body(&[
            ("a", None, b"hello\r\nworld"),
            ("f", Some("x.bin"), &file),
            ("c", None, b"3"),
        ]);
        for chunk in [1, 2, 3, 7, 100, 4095, 4096, 4097, 1 << 20] {
            let (s, r) = run(CT, &b, chunk);
            assert_eq!(r, Ok(()), "chunk {chunk}");
            assert_eq!(
                s.args_post,
                vec![
                    (b"a".to_vec(), b"hello\r\nworld".to_vec()),
                    (b"c".to_vec(), b"3".to_vec())
                ],
                "chunk {chunk}"
            );
            assert_eq!(s.files, vec![(b"f".to_vec(), b"x.bin".to_vec())]);
            assert_eq!(
                s.files_sizes,
                vec![(b"f".to_vec(), b"20000".to_vec())],
                "chunk {chunk}"
            );
            assert_eq!(flag(&s, Var::MultipartStrictError), "0", "chunk {chunk}");
        }
    }

    #[test]
    fn bare_lf_inside_binary_file_content_is_not_a_strict_error() {
        let b = body(&[("f", Some("img.png"), b"\x89PNG\n\x1a\n\0\0bin\nary\n\n")]);
        let (s, r) = run(CT, &b, 5);
        assert_eq!(r, Ok(()));
        assert_eq!(flag(&s, Var::MultipartLfLine), "0");
        assert_eq!(flag(&s, Var::MultipartStrictError), "0");
        assert_eq!(s.files_sizes[0].1, b"18");
    }

    #[test]
    fn lf_only_framing_is_flagged() {
        let b = b"--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nv\n--XyZ--\n";
        let (s, r) = run(CT, b, 1000);
        assert_eq!(r, Ok(()));
        assert_eq!(flag(&s, Var::MultipartLfLine), "1");
        assert_eq!(flag(&s, Var::MultipartStrictError), "1");
        assert_eq!(s.args_post, vec![(b"a".to_vec(), b"v".to_vec())]);
    }

    #[test]
    fn crlf_preamble_is_data_before_the_first_boundary() {
        let mut b = b"\r\n".to_vec();
        b.extend(body(&[("a", None, b"v")]));
        let (s, _) = run(CT, &b, 1000);
        assert_eq!(flag(&s, Var::MultipartDataBefore), "1");
        assert_eq!(flag(&s, Var::MultipartStrictError), "1");
    }

    #[test]
    fn nul_in_filename_is_refused() {
        let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"info.php\0.jpg\"\r\n\r\n<?php\r\n--XyZ--\r\n";
        let (s, r) = run(CT, b, 1000);
        assert!(r.is_err());
        assert_eq!(flag(&s, Var::MultipartStrictError), "1");
    }

    #[test]
    fn a_filename_star_that_names_another_file_is_refused() {
        let part = |cd: &str| {
            format!("--XyZ\r\nContent-Disposition: {cd}\r\n\r\nx\r\n--XyZ--\r\n").into_bytes()
        };
        let bad = part("form-data; name=\"f\"; filename=\"a.jpg\"; filename*=UTF-8''shell.php");
        assert!(run(CT, &bad, 100).1.unwrap_err().contains("filename*"));
        let same = part("form-data; name=\"f\"; filename=\"a b.jpg\"; filename*=UTF-8''a%20b.jpg");
        let (s, r) = run(CT, &same, 100);
        assert_eq!(r, Ok(()));
        assert_eq!(s.files, vec![(b"f".to_vec(), b"a b.jpg".to_vec())]);
    }

    #[test]
    fn repeated_or_ambiguous_boundaries_are_errors() {
        for ct in [
            "multipart/form-data; boundary=AAA; boundary=BBB",
            "multipart/form-data; BOUNDARY=AAA; boundary=BBB",
            "multipart/form-data; boundary=AAA; xboundary=BBB",
            "multipart/form-data; foo=\"boundary=BBB\"; boundary=AAA",
            "multipart/form-data; boundary*=utf-8''AAA",
            "multipart/form-data; charset=utf-8; boundary=AAA",
            "multipart/form-data; boundary=\"AAA\"; charset=utf-8",
            "multipart/form-data; boundary=\"AA\\\"A\"",
            "multipart/form-data; boundary=AAA,BBB",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=AA@A",
            "multipart/form-datax; boundary=AAA",
            "multipart/form-data",
        ] {
            assert!(boundary_of(ct.as_bytes()).is_err(), "{ct}");
        }
    }

    #[test]
    fn boundary_parameters_follow_the_grammar() {
        let ok = |ct: &str| boundary_of(ct.as_bytes()).unwrap();
        assert_eq!(ok("multipart/form-data; boundary=AbC").value, b"AbC");
        assert_eq!(ok("Multipart/Form-Data;boundary=AbC").value, b"AbC");
        assert!(boundary_of(b"multipart/form-data; Boundary=AbC").is_err());
        assert_eq!(
            ok("multipart/form-data; boundary=AbC; charset=utf-8").value,
            b"AbC"
        );
        let q = ok("multipart/form-data; boundary=\"a b:c\"");
        assert_eq!((q.value.as_slice(), q.quoted), (&b"a b:c"[..], true));
        assert!(ok("multipart/form-data; boundary =x").whitespace);
        assert!(boundary_of(b"multipart/form-data; boundary= x").is_err());
        assert!(boundary_of(b"multipart/form-data; boundary=x ").is_err());
        assert!(ok("multipart/form-data boundary=x").missing_semicolon);
    }

    #[test]
    fn a_file_part_whose_content_is_another_multipart_stays_one_file() {
        // Issue 9: `boundary=AAA; boundary=BBB` is refused before the body is read;
        // with one boundary, inner content cannot create fields.
        let inner =
            b"--BBB\r\nContent-Disposition: form-data; name=\"evil\"\r\n\r\n' or 1=1--\r\n--BBB--";
        let b = body(&[("f", Some("a.txt"), inner)]);
        let (s, r) = run(CT, &b, 64);
        assert_eq!(r, Ok(()));
        assert!(s.args_post.is_empty());
        assert_eq!(s.files.len(), 1);
    }

    #[test]
    fn too_many_parts_is_an_error() {
        let parts: Vec<(String, Option<&str>, &[u8])> = (0..MAX_PARTS + 1)
            .map(|i| (format!("p{i}"), None, &b"v"[..]))
            .collect();
        let refs: Vec<_> = parts.iter().map(|(n, f, c)| (n.as_str(), *f, *c)).collect();
        let (_, r) = run(CT, &body(&refs), 1 << 16);
        assert!(r.unwrap_err().contains("parts"));
    }

    #[test]
    fn form_fields_over_the_no_files_limit_are_an_error_but_files_are_not() {
        let big = vec![b'a'; 200_000];
        let (_, r) = run(CT, &body(&[("f", Some("a.bin"), &big)]), 8192);
        assert_eq!(r, Ok(()));
        let (s, r) = run(CT, &body(&[("a", None, &big)]), 8192);
        assert!(r.unwrap_err().contains("excluding files"));
        assert_eq!(flag(&s, Var::MultipartStrictError), "0");
    }

    #[test]
    fn missing_final_boundary_is_an_error() {
        let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n";
        assert!(run(CT, b, 1000).1.is_err());
        let b = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--";
        assert_eq!(run(CT, b, 3).1, Ok(()));
    }
}
