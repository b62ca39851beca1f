//! The date and time format of GeoReport v2: W3C's profile of ISO 8601. Parsed: a date
//! (`2026-12-05`, midnight UTC) or a date and time with a zone (`2026-12-05T10:30Z`,
//! `2026-12-05T10:30:15+08:00`, `2026-12-05T10:30:15.25-05:00`). Written in China's time, as
//! the people of the jurisdiction read it: `2026-12-05T18:30:15+08:00`.

use crate::storage::index::CHINA_UTC_OFFSET_MINUTES;

/// The longest date and time accepted, in bytes.
const MAX_LEN: usize = 40;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `n` ASCII digits at `at`, as a number.
fn digits(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = s.get(at..at + n)?;
    part.iter()
        .all(u8::is_ascii_digit)
        .then(|| part.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// Ms since the Unix epoch of a W3C date or date and time; `None` when `s` is not one.
pub fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() > MAX_LEN || b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let date_ms = days_from_civil(y, m, d) * DAY_MS;
    if b.len() == 10 {
        return Some(date_ms);
    }
    if b[10] != b'T' || b.get(13) != Some(&b':') {
        return None;
    }
    let (hh, mm) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    let mut at = 16;
    let (mut ss, mut ms) = (0, 0);
    if b.get(at) == Some(&b':') {
        ss = digits(b, at + 1, 2)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            let start = at + 1;
            let end = b[start..].iter().position(|c| !c.is_ascii_digit()).map(|n| start + n)?;
            if end == start || end - start > 9 {
                return None;
            }
            // Milliseconds: the first three digits, padded.
            let frac = &b[start..end];
            ms = (0..3)
                .fold(0i64, |acc, i| acc * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0')));
            at = end;
        }
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let offset_min = match b.get(at..)? {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == at + 6 && b[at + 3] == b':' => {
            let (oh, om) = (digits(b, at + 1, 2)?, digits(b, at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 60 + om;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    Some(date_ms + ((hh * 60 + mm - offset_min) * 60 + ss) * 1000 + ms)
}

/// `ms` since the Unix epoch in China's time, to the second: `2026-12-05T18:30:15+08:00`.
pub fn format(ms: i64) -> String {
    let offset = i64::from(CHINA_UTC_OFFSET_MINUTES);
    let offset_ms = offset * 60_000;
    let local = ms.saturating_add(offset_ms);
    let (days, rem) = (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS) / 1000);
    let (y, m, d) = civil_from_days(days);
    let (oh, om) = (offset / 60, offset % 60);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+{oh:02}:{om:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_w3c_form() {
        let t = 1_795_947_900_000; // 2026-11-29T10:25:00Z
        assert_eq!(parse("2026-11-29T10:25Z"), Some(t));
        assert_eq!(parse("2026-11-29T10:25:00Z"), Some(t));
        assert_eq!(parse("2026-11-29T18:25:00+08:00"), Some(t));
        assert_eq!(parse("2026-11-29T02:25:00-08:00"), Some(t));
        assert_eq!(parse("2026-11-29T10:25:00.5Z"), Some(t + 500));
        assert_eq!(parse("2026-11-29T10:25:00.123456Z"), Some(t + 123));
        assert_eq!(parse("2026-11-29"), Some(t - (10 * 60 + 25) * 60_000));
        assert_eq!(parse("2000-02-29"), Some(951_782_400_000));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn refuses_what_is_not_one() {
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-29",
            "2026-11-31",
            "2026-11-29T10:25",
            "2026-11-29T10:25:00",
            "2026-11-29T24:00Z",
            "2026-11-29T10:25:00+0800",
            "2026-11-29T10:25:00+08:00x",
            "2026-11-29T10:25:00.Z",
            "2026-11-29 10:25:00Z",
            "２０２６-11-29",
            "2026-11-29T10:25:00Z'; DROP TABLE docs",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn writes_china_time_and_reads_it_back() {
        assert_eq!(format(1_795_947_900_000), "2026-11-29T18:25:00+08:00");
        assert_eq!(format(0), "1970-01-01T08:00:00+08:00");
        for ms in [0, 1_795_947_900_000, 951_782_399_000] {
            assert_eq!(parse(&format(ms)), Some(ms));
        }
    }
}
