//! Decoding transformations.
use super::{is_hex, is_space, x2c};
use base64::Engine as _;

pub fn url_decode(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if c == b'%' {
            if i + 2 < input.len() && is_hex(input[i + 1]) && is_hex(input[i + 2]) {
                out.push(x2c(input[i + 1], input[i + 2]));
                i += 3;
                continue;
            }
            out.push(c);
        } else if c == b'+' {
            out.push(b' ');
        } else {
            out.push(c);
        }
        i += 1;
    }
}

pub fn url_decode_uni(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        let c = input[i];
        if c == b'%' {
            if i + 1 < n && (input[i + 1] | 0x20) == b'u' {
                if i + 5 < n && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
                    let h = &input[i + 2..i + 6];
                    let cp = (u32::from(x2c(h[0], h[1])) << 8) | u32::from(x2c(h[2], h[3]));
                    out.push(super::bestfit::ascii(cp).unwrap_or_else(|| full_width(h)));
                    i += 6;
                } else {
                    out.extend_from_slice(&input[i..i + 2]);
                    i += 2;
                }
            } else if i + 2 < n && is_hex(input[i + 1]) && is_hex(input[i + 2]) {
                out.push(x2c(input[i + 1], input[i + 2]));
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(if c == b'+' { b' ' } else { c });
            i += 1;
        }
    }
}

/// `%uHHHH` / `\uHHHH`: the low byte, with full-width ASCII (U+FF01..U+FF5E) mapped down.
fn full_width(h: &[u8]) -> u8 {
    let mut d = x2c(h[2], h[3]);
    if d > 0 && d < 0x5f && (h[0] | 0x20) == b'f' && (h[1] | 0x20) == b'f' {
        d += 0x20;
    }
    d
}

pub fn js_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        if i + 5 < n && input[i + 1] == b'u' && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
            out.push(full_width(&input[i + 2..i + 6]));
            i += 6;
        } else if i + 3 < n && input[i + 1] == b'x' && is_hex(input[i + 2]) && is_hex(input[i + 3])
        {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if i + 1 < n && is_odigit(input[i + 1]) {
            let mut j = 0;
            while j < 3 && i + 1 + j < n && is_odigit(input[i + 1 + j]) {
                j += 1;
            }
            if j == 3 && input[i + 1] > b'3' {
                j = 2;
            }
            out.push(octal(&input[i + 1..i + 1 + j]));
            i += 1 + j;
        } else if i + 1 < n {
            out.push(match input[i + 1] {
                b'a' => 7,
                b'b' => 8,
                b'f' => 0x0c,
                b'n' => 0x0a,
                b'r' => 0x0d,
                b't' => 9,
                b'v' => 0x0b,
                c => c,
            });
            i += 2;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
}

fn is_odigit(c: u8) -> bool {
    (b'0'..=b'7').contains(&c)
}

fn octal(digits: &[u8]) -> u8 {
    digits
        .iter()
        .fold(0u32, |a, &d| a * 8 + u32::from(d - b'0')) as u8
}

pub fn css_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        if i + 1 >= n {
            i += 1;
            continue;
        }
        i += 1;
        let mut j = 0;
        while j < 6 && i + j < n && is_hex(input[i + j]) {
            j += 1;
        }
        if j > 0 {
            let cp = input[i..i + j].iter().fold(0u32, |a, &d| {
                a * 16 + u32::from(super::hex_val(d).unwrap_or(0))
            });
            if (0xff01..=0xff5e).contains(&cp) {
                // Full-width ASCII folds to ASCII.
                out.push((cp - 0xfee0) as u8);
            } else if cp < 0x80 {
                out.push(cp as u8);
            } else {
                let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            if i + j < n && is_space(input[i + j]) {
                j += 1;
            }
            i += j;
        } else if input[i] == b'\n' {
            i += 1;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
}

pub fn escape_seq_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' || i + 1 >= n {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let simple = match input[i + 1] {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(0x0c),
            b'n' => Some(0x0a),
            b'r' => Some(0x0d),
            b't' => Some(9),
            b'v' => Some(0x0b),
            b'\\' => Some(b'\\'),
            b'?' => Some(b'?'),
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
        } else if (input[i + 1] | 0x20) == b'x' {
            if i + 3 < n && is_hex(input[i + 2]) && is_hex(input[i + 3]) {
                out.push(x2c(input[i + 2], input[i + 3]));
                i += 4;
            } else {
                out.extend_from_slice(&input[i..i + 2]);
                i += 2;
            }
        } else if is_odigit(input[i + 1]) {
            let mut j = 2;
            while j < 4 && i + j < n && is_odigit(input[i + j]) {
                j += 1;
            }
            out.push(octal(&input[i + 1..i + j]));
            i += j;
        } else {
            out.push(input[i + 1]);
            i += 2;
        }
    }
}

pub fn html_entity_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        if input[i] == b'&'
            && i + 1 < n
            && let Some((c, next)) = entity_at(input, i)
        {
            out.push(c);
            i = if next < n && input[next] == b';' {
                next + 1
            } else {
                next
            };
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
}

/// Decodes the entity starting at `&` at `i`; returns the byte and the index after the name.
fn entity_at(input: &[u8], i: usize) -> Option<(u8, usize)> {
    let n = input.len();
    if input[i + 1] == b'#' {
        if i + 2 < n && (input[i + 2] | 0x20) == b'x' {
            let k = i + 3;
            let j = k + input[k.min(n)..].iter().take_while(|c| is_hex(**c)).count();
            if j == k {
                return None;
            }
            let v = input[k..j].iter().fold(0u64, |a, &d| {
                a.saturating_mul(16)
                    .saturating_add(u64::from(super::hex_val(d).unwrap_or(0)))
            });
            return Some((v as u8, j));
        }
        let k = i + 2;
        let j = k + input[k.min(n)..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if j == k {
            return None;
        }
        let v = input[k..j].iter().fold(0u64, |a, &d| {
            a.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        return Some((v as u8, j));
    }
    let k = i + 1;
    let j = k + input[k..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if j == k {
        return None;
    }
    let name = input[k..j].to_ascii_lowercase();
    let c = match name.as_slice() {
        b"quot" => b'"',
        b"amp" => b'&',
        b"lt" => b'<',
        b"gt" => b'>',
        b"nbsp" => 0xa0,
        _ => return None,
    };
    Some((c, j))
}

pub fn base64_decode(input: &[u8], out: &mut Vec<u8>) {
    // Decode up to the first byte outside the alphabet, padding optional.
    let end = input
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/'))
        .unwrap_or(input.len());
    decode_lenient(&input[..end], out);
}

pub fn base64_decode_ext(input: &[u8], out: &mut Vec<u8>) {
    let clean: Vec<u8> = input
        .iter()
        .copied()
        .filter(|c| {
            c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/' || *c == b'-' || *c == b'_'
        })
        .map(|c| match c {
            b'-' => b'+',
            b'_' => b'/',
            c => c,
        })
        .collect();
    decode_lenient(&clean, out);
}

fn decode_lenient(data: &[u8], out: &mut Vec<u8>) {
    let usable = data.len() - data.len() % 4;
    let eng = base64::engine::general_purpose::STANDARD_NO_PAD;
    let cfg = base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let lenient = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, cfg);
    let _ = eng;
    let mut take = data.len();
    if data.len() % 4 == 1 {
        take = usable;
    }
    if let Ok(v) = lenient.decode(&data[..take]) {
        out.extend_from_slice(&v);
    }
}

pub fn hex_decode(input: &[u8], out: &mut Vec<u8>) {
    // Odd length or a non-hex byte: nothing decodes.
    if input.len() % 2 == 1 || !input.iter().all(|c| is_hex(*c)) {
        return;
    }
    for pair in input.chunks_exact(2) {
        out.push(x2c(pair[0], pair[1]));
    }
}

pub fn sql_hex_decode(input: &[u8], out: &mut Vec<u8>) {
    let n = input.len();
    let mut i = 0;
    while i < n {
        if input[i] == b'0'
            && i + 3 < n
            && (input[i + 1] | 0x20) == b'x'
            && is_hex(input[i + 2])
            && is_hex(input[i + 3])
        {
            i += 2;
            while i + 1 < n && is_hex(input[i]) && is_hex(input[i + 1]) {
                out.push(x2c(input[i], input[i + 1]));
                i += 2;
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
}
