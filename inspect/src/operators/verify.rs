//! `@verifyCC`, `@verifySSN`, `@verifyCPF`, `@verifySVNR`: a regex finds candidates,
//! a checksum confirms them.

#[derive(Debug, Clone, Copy)]
pub enum Check {
    CreditCard,
    Ssn,
    Cpf,
    Svnr,
}

#[derive(Debug)]
pub struct Verify {
    pub check: Check,
    pub re: regex::bytes::Regex,
}

impl Verify {
    pub fn new(check: Check, pattern: &str) -> Result<Verify, String> {
        let re = regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Verify { check, re })
    }

    pub fn eval(&self, input: &[u8]) -> Option<Vec<u8>> {
        for m in self.re.find_iter(input) {
            let digits: Vec<u8> = m
                .as_bytes()
                .iter()
                .filter(|c| c.is_ascii_digit())
                .map(|c| c - b'0')
                .collect();
            let ok = match self.check {
                Check::CreditCard => luhn(&digits),
                Check::Ssn => ssn(&digits),
                Check::Cpf => cpf(&digits),
                Check::Svnr => svnr(&digits),
            };
            if ok {
                return Some(m.as_bytes().to_vec());
            }
        }
        None
    }
}

fn luhn(d: &[u8]) -> bool {
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                if x * 2 > 9 { x * 2 - 9 } else { x * 2 }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, &x| a * 10 + u32::from(x))
}

fn ssn(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let (area, group, serial) = (num(&d[..3]), num(&d[3..5]), num(&d[5..]));
    if area == 0 || group == 0 || serial == 0 || area >= 740 || area == 666 {
        return false;
    }
    let all_same = d.iter().all(|&x| x == d[0]);
    let sequential = d == [1, 2, 3, 4, 5, 6, 7, 8, 9];
    !all_same && !sequential
}

fn cpf(d: &[u8]) -> bool {
    if d.len() != 11 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let s: u32 = d[..n]
            .iter()
            .enumerate()
            .map(|(i, &x)| u32::from(x) * (n as u32 + 1 - i as u32))
            .sum();
        (s * 10 % 11 % 10) as u8
    };
    check(9) == d[9] && check(10) == d[10]
}

fn svnr(d: &[u8]) -> bool {
    const W: [u32; 10] = [3, 7, 9, 0, 5, 8, 4, 2, 1, 6];
    if d.len() != 10 {
        return false;
    }
    let s: u32 = d.iter().zip(W).map(|(&x, w)| u32::from(x) * w).sum::<u32>() % 11;
    s != 10 && s == u32::from(d[3])
}
