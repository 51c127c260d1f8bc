//! Non-decoding transformations: case, whitespace, comments, paths, hashes.
use super::is_space;
use base64::Engine as _;
use md5::Digest as _;

pub fn lowercase(input: &[u8], out: &mut Vec<u8>) {
    out.extend(input.iter().map(u8::to_ascii_lowercase));
}

pub fn uppercase(input: &[u8], out: &mut Vec<u8>) {
    out.extend(input.iter().map(u8::to_ascii_uppercase));
}

pub fn length(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(input.len().to_string().as_bytes());
}

pub fn sha1(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&sha1::Sha1::digest(input));
}

pub fn md5(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&md5::Md5::digest(input));
}

pub fn hex_encode(input: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &c in input {
        out.push(HEX[usize::from(c >> 4)]);
        out.push(HEX[usize::from(c & 15)]);
    }
}

pub fn base64_encode(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(input)
            .as_bytes(),
    );
}

pub fn url_encode(input: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &c in input {
        if c == b' ' {
            out.push(b'+');
        } else if c.is_ascii_alphanumeric() || c == b'*' {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        }
    }
}

pub fn cmd_line(input: &[u8], out: &mut Vec<u8>) {
    let mut space = false;
    for &c in input {
        match c {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(c);
            }
            _ => {
                out.push(c.to_ascii_lowercase());
                space = false;
            }
        }
    }
}

pub fn compress_whitespace(input: &[u8], out: &mut Vec<u8>) {
    let mut in_ws = false;
    for &c in input {
        if is_space(c) || c == 0xa0 {
            if !in_ws {
                out.push(b' ');
                in_ws = true;
            }
        } else {
            out.push(c);
            in_ws = false;
        }
    }
}

pub fn remove_whitespace(input: &[u8], out: &mut Vec<u8>) {
    out.extend(
        input
            .iter()
            .copied()
            .filter(|&c| !(is_space(c) || c == 0xa0)),
    );
}

pub fn remove_nulls(input: &[u8], out: &mut Vec<u8>) {
    out.extend(input.iter().copied().filter(|&c| c != 0));
}

pub fn replace_nulls(input: &[u8], out: &mut Vec<u8>) {
    out.extend(input.iter().map(|&c| if c == 0 { b' ' } else { c }));
}

pub fn trim(input: &[u8], out: &mut Vec<u8>) {
    let s = trim_start(input);
    out.extend_from_slice(trim_end(s));
}

pub fn trim_left(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(trim_start(input));
}

pub fn trim_right(input: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(trim_end(input));
}

fn trim_start(s: &[u8]) -> &[u8] {
    let k = s.iter().take_while(|c| is_space(**c)).count();
    &s[k..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let k = s.iter().rev().take_while(|c| is_space(**c)).count();
    &s[..s.len() - k]
}

pub fn replace_comments(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    let mut in_comment = false;
    while i < n {
        if !in_comment {
            if input[i] == b'/' && i + 1 < n && input[i + 1] == b'*' {
                in_comment = true;
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if input[i] == b'*' && i + 1 < n && input[i + 1] == b'/' {
            in_comment = false;
            out.push(b' ');
            i += 2;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
}

pub fn remove_comments(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    let mut in_comment = false;
    while i < n {
        if !in_comment {
            if input[i] == b'/' && i + 1 < n && input[i + 1] == b'*' {
                in_comment = true;
                i += 2;
            } else if input[i] == b'<' && input[i..].starts_with(b"<!--") {
                in_comment = true;
                i += 4;
            } else if (input[i] == b'-' && i + 1 < n && input[i + 1] == b'-') || input[i] == b'#' {
                break;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if input[i] == b'*' && i + 1 < n && input[i + 1] == b'/' {
            // ModSecurity copies the byte after the comment (its NUL terminator at the end).
            in_comment = false;
            out.push(input.get(i + 2).copied().unwrap_or(0));
            i += 3;
        } else if input[i] == b'-' && input[i..].starts_with(b"-->") {
            in_comment = false;
            out.push(input.get(i + 3).copied().unwrap_or(0));
            i += 4;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
}

pub fn remove_comments_char(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        if rest.starts_with(b"/*")
            || rest.starts_with(b"*/")
            || rest.starts_with(b"--") && !rest.starts_with(b"-->")
        {
            i += 2;
        } else if rest.starts_with(b"<!--") {
            i += 4;
        } else if rest.starts_with(b"-->") {
            i += 3;
        } else if rest[0] == b'#' {
            i += 1;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
}

pub fn normalize_path(input: &[u8], out: &mut Vec<u8>) {
    normalize(input, out, false);
}

pub fn normalize_path_win(input: &[u8], out: &mut Vec<u8>) {
    normalize(input, out, true);
}

fn normalize(input: &[u8], out: &mut Vec<u8>, win: bool) {
    if input.is_empty() {
        return;
    }
    let path: Vec<u8> = if win {
        input
            .iter()
            .map(|&c| if c == b'\\' { b'/' } else { c })
            .collect()
    } else {
        input.to_vec()
    };
    let absolute = path[0] == b'/';
    let ends_dir = path.ends_with(b"/");
    let mut segs: Vec<&[u8]> = Vec::new();
    for seg in path.split(|&c| c == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if segs.last().is_some_and(|s| *s != b"..") {
                    segs.pop();
                } else if !absolute {
                    segs.push(seg);
                }
            }
            _ => segs.push(seg),
        }
    }
    if absolute {
        out.push(b'/');
    }
    for (k, seg) in segs.iter().enumerate() {
        if k > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(seg);
    }
    if ends_dir && !segs.is_empty() {
        out.push(b'/');
    }
}

pub fn utf8_to_unicode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        let c = input[i];
        let (len, init) = match c {
            0x00..=0x7f => (1, u32::from(c)),
            0xc0..=0xdf => (2, u32::from(c & 0x1f)),
            0xe0..=0xef => (3, u32::from(c & 0x0f)),
            // 0xf5-0xf7 would start code points past U+10FFFF: ModSecurity copies them.
            0xf0..=0xf4 => (4, u32::from(c & 0x07)),
            _ => (0, 0),
        };
        if c == 0 {
            // ModSecurity's utf8toUnicode never writes a NUL (its output pointer does not
            // advance past one), so `e\0t\0c/passwd` reads `etc/passwd` to the rules after it.
            i += 1;
            continue;
        }
        if len == 1 || len == 0 {
            // ASCII, and bytes that cannot start a sequence (continuation bytes, 0xf5-0xff),
            // are copied, as ModSecurity copies them.
            out.push(c);
            i += 1;
            continue;
        }
        if i + len > n || !input[i + 1..i + len].iter().all(|b| b & 0xc0 == 0x80) {
            // A lead byte without its continuation bytes is dropped, as ModSecurity drops
            // it: `x\xc0/etc\xc0/passwd` reads `x/etc/passwd`, so the path-traversal
            // rules see the path the byte was meant to hide.
            i += 1;
            continue;
        }
        let cp = input[i + 1..i + len]
            .iter()
            .fold(init, |a, b| (a << 6) | u32::from(b & 0x3f));
        out.extend_from_slice(format!("%u{cp:04x}").as_bytes());
        i += len;
    }
}

fn parity(input: &[u8], out: &mut Vec<u8>, f: impl Fn(u8) -> u8) {
    out.extend(input.iter().map(|&c| f(c)));
}

pub fn parity_even(input: &[u8], out: &mut Vec<u8>) {
    parity(input, out, |c| {
        let c = c & 0x7f;
        if c.count_ones() % 2 == 1 { c | 0x80 } else { c }
    });
}

pub fn parity_odd(input: &[u8], out: &mut Vec<u8>) {
    parity(input, out, |c| {
        let c = c & 0x7f;
        if c.count_ones() % 2 == 0 { c | 0x80 } else { c }
    });
}

pub fn parity_zero(input: &[u8], out: &mut Vec<u8>) {
    parity(input, out, |c| c & 0x7f);
}

#[cfg(test)]
mod tests {
    use super::utf8_to_unicode;

    fn u(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        utf8_to_unicode(input, &mut out);
        out
    }

    #[test]
    fn lead_byte_without_continuation_is_dropped_as_modsecurity_does() {
        assert_eq!(u(b"x\xc0/etc\xc0/passwd"), b"x/etc/passwd");
        assert_eq!(
            u(b"a\xe0\x80/b"),
            b"a\x80/b",
            "the lone continuation byte is copied"
        );
        assert_eq!(u(b"end\xf0\x9f"), b"end\x9f");
    }

    #[test]
    fn valid_overlong_forms_still_decode() {
        assert_eq!(u(b"..\xc0\xaf..\xc0\xafetc"), b"..%u002f..%u002fetc");
        assert_eq!(u("é".as_bytes()), b"%u00e9");
    }

    #[test]
    fn nul_bytes_are_dropped_as_modsecurity_does() {
        assert_eq!(u(b".\0.\0/\0e\0t\0c"), b"../etc");
    }

    #[test]
    fn bytes_that_cannot_start_a_sequence_are_copied() {
        assert_eq!(u(b"\x80\xbf\xf8\xff"), b"\x80\xbf\xf8\xff");
    }

    #[test]
    fn leads_past_u10ffff_are_copied_as_modsecurity_does() {
        // libmodsecurity3 restricts four-byte leads to 0xf0-0xf4 and copies 0xf5-0xf7,
        // with or without continuation bytes after them.
        assert_eq!(u(b"a\xf5\x80/"), b"a\xf5\x80/");
        assert_eq!(u(b"x\xf7"), b"x\xf7");
        assert_eq!(
            u(b"a\xc0\xf6/"),
            b"a\xf6/",
            "the c0 without continuation is dropped"
        );
    }
}
