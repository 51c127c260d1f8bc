//! Best-fit folding of `%uHHHH` code points onto ASCII, with the semantics of the
//! Windows best-fit table for code page 20127 (US-ASCII), which is what ModSecurity's
//! recommended configuration loads (`SecUnicodeMapFile unicode.mapping 20127`) and so
//! what CRS was tuned against:
//! - Latin-1 letters lose their accents (`é` → `e`), a few symbols become their ASCII
//!   look-alike (`©` → `C`, `«` → `<`); the rest of Latin-1 has no fit.
//! - Latin Extended-A letters fold to their base letter (`İ` → `I`, `ł` → `l`, `Œ` → `O`),
//!   except the few Windows leaves out (`Ĳ`, `ĸ`, `Ŀ`, `ŉ`, `Ŋ`, `ź`, `ſ`); of Extended-B
//!   only the letters with a stroke or hook that Windows lists, and the pinyin vowels.
//! - Spacing modifiers and combining marks that look like ASCII punctuation
//!   (`ʼ` → `'`, `ˆ` → `^`, U+0332 → `_`); en quad to six-per-em space (U+2000-U+2006) →
//!   space; hyphens and dashes, curly quotes, bullet, ellipsis, primes, angle quotes;
//!   `™` → `T`.
//! - Full-width ASCII (U+FF01-U+FF5E) → ASCII.
//!
//! A code point with no fit returns `None`; the caller then keeps its low byte, as
//! ModSecurity does.

/// Latin-1 supplement U+00A0..=U+00FF; 0 means no fit.
#[rustfmt::skip]
const LATIN1: [u8; 96] = [
    b' ', b'!', b'c', 0, b'$', b'Y', b'|', 0, 0, b'C', b'a', b'<', 0, b'-', b'R', 0,
    0, 0, b'2', b'3', 0, 0, 0, b'.', b',', b'1', b'o', b'>', 0, 0, 0, 0,
    b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'C', b'E', b'E', b'E', b'E', b'I', b'I', b'I', b'I',
    b'D', b'N', b'O', b'O', b'O', b'O', b'O', 0, b'O', b'U', b'U', b'U', b'U', b'Y', 0, 0,
    b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'c', b'e', b'e', b'e', b'e', b'i', b'i', b'i', b'i',
    0, b'n', b'o', b'o', b'o', b'o', b'o', 0, b'o', b'u', b'u', b'u', b'u', b'y', 0, b'y',
];

/// Latin Extended-A U+0100..=U+017F, in chart order: the base letter of each, `.` where
/// Windows' table has no fit (the ligature `Ĳĳ`, `ĸ`, `Ŀŀ`, `ŉŊŋ`, `ź`, `ſ`).
const LATIN_EXT_A: &[u8; 128] =
    b"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi..JjKk.LlLlLl..LlNnNnNn...OoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZ.ZzZz.";

/// Latin Extended-B U+0180..=U+01F0: letters with a stroke or hook, and the pinyin
/// vowels with caron and diaeresis (U+01CD-U+01DC), Ǟǟ, Ǥǥ Ǧǧ Ǩǩ Ǫǫ Ǭǭ, ǰ.
fn latin_ext_b(cp: u32) -> Option<u8> {
    Some(match cp {
        0x0180 => b'b',
        0x0189 => b'D',
        0x0191 => b'F',
        0x0192 => b'f',
        0x0197 => b'I',
        0x019a => b'l',
        0x019f | 0x01a0 => b'O',
        0x01a1 => b'o',
        0x01ab => b't',
        0x01ae => b'T',
        0x01af => b'U',
        0x01b0 => b'u',
        0x01b6 => b'z',
        0x01cd..=0x01dc => b"AaIiOoUuUuUuUuUu"[(cp - 0x01cd) as usize],
        0x01de => b'A',
        0x01df => b'a',
        0x01e4..=0x01ed => b"GgGgKkOoOo"[(cp - 0x01e4) as usize],
        0x01f0 => b'j',
        _ => return None,
    })
}

/// The ASCII best fit of `cp`, if code page 20127 has one.
pub fn ascii(cp: u32) -> Option<u8> {
    let fit = match cp {
        0xa0..=0xff => LATIN1[(cp - 0xa0) as usize],
        0x0100..=0x017f => match LATIN_EXT_A[(cp - 0x0100) as usize] {
            b'.' => 0,
            b => b,
        },
        0x0180..=0x01f0 => latin_ext_b(cp)?,
        0x0261 => b'g',
        0x02b9 | 0x02bc | 0x02c8 => b'\'',
        0x02ba => b'"',
        0x02c4 | 0x02c6 => b'^',
        0x02cb => b'`',
        0x02cd => b'_',
        0x02dc => b'~',
        0x0300 => b'`',
        0x0302 => b'^',
        0x0303 => b'~',
        0x030e => b'"',
        0x0331 | 0x0332 => b'_',
        0x2000..=0x2006 => b' ',
        0x2010 | 0x2011 | 0x2013 | 0x2014 => b'-',
        0x2018 | 0x2019 | 0x2032 => b'\'',
        0x201a => b',',
        0x201c..=0x201e => b'"',
        0x2022 | 0x2026 => b'.',
        0x2035 => b'`',
        0x2039 => b'<',
        0x203a => b'>',
        0x2122 => b'T',
        // Not in unicode.mapping: libmodsecurity3 adds the ideographic and half-width
        // ideographic full stops (`。`, `｡`) to every table it loads, so they read `.`.
        0x3002 | 0xff61 => b'.',
        // U+FF1F (full-width `?`) is not in the table; the low-byte rule of the caller
        // folds it to `?` all the same.
        0xff01..=0xff5e if cp != 0xff1f => (cp - 0xfee0) as u8,
        _ => 0,
    };
    (fit != 0).then_some(fit)
}

#[cfg(test)]
mod tests {
    use super::ascii;

    #[test]
    fn folds_the_documented_examples() {
        assert_eq!(ascii(0x0130), Some(b'I'));
        assert_eq!(ascii(0x0131), Some(b'i'));
        for cp in 0x2000..=0x2006 {
            assert_eq!(ascii(cp), Some(b' '), "U+{cp:04X}");
        }
        assert_eq!(ascii(0x2007), None);
        assert_eq!(ascii(0x017a), None, "Windows has no fit for ź");
        assert_eq!(ascii(0x0179), Some(b'Z'));
        assert_eq!(ascii(0xff0e), Some(b'.'));
        assert_eq!(ascii(0x00b7), Some(b'.'));
        assert_eq!(ascii(0x2044), None);
        assert_eq!(
            ascii(0x3002),
            Some(b'.'),
            "ideographic full stop, as libmodsecurity3"
        );
        assert_eq!(
            ascii(0xff61),
            Some(b'.'),
            "half-width ideographic full stop"
        );
    }

    /// ModSecurity's own map (Debian's libnginx-mod-http-modsecurity installs it) agrees
    /// with this table on every code point of U+0080-U+FFFF.
    #[test]
    fn agrees_with_modsecurity_unicode_mapping_20127() {
        let path = "/etc/nginx/unicode.mapping";
        let Ok(text) = std::fs::read_to_string(path) else {
            assert!(
                !matches!(std::env::var("CI").as_deref(), Ok("true" | "1")),
                "{path} missing (apt-get install libnginx-mod-http-modsecurity); CI=true, so this fails"
            );
            eprintln!("SKIPPED: {path} missing");
            return;
        };
        // Sections are a `NNNN (name)` line, a line of `cp:byte` pairs, an empty line (CRLF).
        let mut lines = text.lines().map(str::trim);
        let section = lines
            .by_ref()
            .find(|l| l.starts_with("20127 "))
            .and_then(|_| lines.next())
            .expect("a 20127 section");
        let mut theirs = std::collections::BTreeMap::new();
        for pair in section.split_whitespace().filter(|p| p.contains(':')) {
            let (cp, b) = pair.split_once(':').unwrap();
            theirs.insert(
                u32::from_str_radix(cp, 16).unwrap(),
                u8::from_str_radix(b, 16).unwrap(),
            );
        }
        // What libmodsecurity3 adds to the file's table when it loads it.
        theirs.insert(0x3002, b'.');
        theirs.insert(0xff61, b'.');
        theirs.insert(0xff0e, b'.');
        let mut diff = Vec::new();
        for cp in 0x80..=0xffff {
            if ascii(cp) != theirs.get(&cp).copied() {
                diff.push(format!(
                    "U+{cp:04X}: ours {:?}, ModSecurity {:?}",
                    ascii(cp).map(char::from),
                    theirs.get(&cp).map(|&b| char::from(b))
                ));
            }
        }
        assert!(
            diff.is_empty(),
            "{} differences:\n{}",
            diff.len(),
            diff.join("\n")
        );
    }
}
