//! Policy durations: an integer is seconds; a string takes units (`90s`, `15m`, `1h`, `30d`,
//! `1h30m`). Zero, negative and absurd (over 10 years) durations are refused. Also the human
//! rendering used in findings (`86400s (24h)`).

/// Ten years in seconds: Infisical's own ceiling for token lifetimes.
pub const MAX_SECONDS: u64 = 315_360_000;

/// Parses the string form. Units must appear at most once each, largest first; a string of
/// digits alone is seconds.
pub fn parse_duration_text(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write e.g. `90s`, `15m`, `1h`, `30d` or `1h30m`".into());
    }
    let total = if t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>().map_err(|_| too_long(t))?
    } else {
        let mut total: u64 = 0;
        let mut digits = String::new();
        let mut last_rank = usize::MAX;
        for c in t.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let (rank, unit) = match c {
                'd' => (3, 86_400u64),
                'h' => (2, 3_600),
                'm' => (1, 60),
                's' => (0, 1),
                _ => {
                    return Err(format!(
                        "bad duration `{}`: unknown unit `{c}` (use s, m, h, d)",
                        short(t)
                    ));
                }
            };
            if digits.is_empty() {
                return Err(format!(
                    "bad duration `{}`: `{c}` has no number before it",
                    short(t)
                ));
            }
            if rank >= last_rank {
                return Err(format!(
                    "bad duration `{}`: units must appear once each, largest first (e.g. `1h30m`)",
                    short(t)
                ));
            }
            last_rank = rank;
            let n: u64 = digits.parse().map_err(|_| too_long(t))?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| too_long(t))?;
        }
        if !digits.is_empty() {
            return Err(format!(
                "bad duration `{}`: `{digits}` has no unit (use s, m, h, d)",
                short(t)
            ));
        }
        total
    };
    check_range(total as i128)
}

/// Checks an integer number of seconds: positive and at most ten years.
pub fn check_range(seconds: i128) -> Result<u64, String> {
    if seconds <= 0 {
        return Err(format!("duration must be positive, got {seconds}"));
    }
    if seconds > MAX_SECONDS as i128 {
        return Err(format!(
            "duration {seconds}s is over 10 years ({MAX_SECONDS}s); that is not a bound"
        ));
    }
    // In range of u64 by the checks above.
    Ok(seconds as u64)
}

fn too_long(t: &str) -> String {
    format!("duration `{}` is too large", short(t))
}

fn short(t: &str) -> String {
    t.chars().take(40).collect()
}

/// `1h30m`, `24h`, `30d`, `90s`: days only for whole days of two or more, otherwise hours,
/// minutes and seconds.
pub fn format_duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = seconds;
    if seconds.is_multiple_of(86_400) && seconds >= 2 * 86_400 {
        return format!("{}d", seconds / 86_400);
    }
    for (unit, name) in [(3_600u64, 'h'), (60, 'm'), (1, 's')] {
        if rest >= unit {
            out.push_str(&format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    out
}

/// `3600s (1h)`; `90s` alone when the human form adds nothing.
pub fn format_seconds(seconds: u64) -> String {
    let human = format_duration(seconds);
    if human == format!("{seconds}s") {
        human
    } else {
        format!("{seconds}s ({human})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_seconds() {
        assert_eq!(parse_duration_text("90s"), Ok(90));
        assert_eq!(parse_duration_text("15m"), Ok(900));
        assert_eq!(parse_duration_text("1h"), Ok(3600));
        assert_eq!(parse_duration_text("30d"), Ok(2_592_000));
        assert_eq!(parse_duration_text("1h30m"), Ok(5400));
        assert_eq!(parse_duration_text("1d2h3m4s"), Ok(93_784));
        assert_eq!(parse_duration_text("3600"), Ok(3600));
    }

    #[test]
    fn refuses_bad_zero_and_absurd() {
        for bad in [
            "", "0s", "0", "1x", "h", "1h1h", "30m1h", "10", "3651d", "1.5h", "-1h", "1 h",
        ] {
            if bad == "10" {
                assert_eq!(parse_duration_text(bad), Ok(10));
                continue;
            }
            assert!(parse_duration_text(bad).is_err(), "{bad} should fail");
        }
        assert!(parse_duration_text("99999999999999999999999d").is_err());
        assert_eq!(parse_duration_text("3650d"), Ok(MAX_SECONDS));
        assert!(check_range(-5).is_err());
        assert!(check_range(0).is_err());
    }

    #[test]
    fn formats_for_humans() {
        assert_eq!(format_seconds(86_400), "86400s (24h)");
        assert_eq!(format_seconds(3_600), "3600s (1h)");
        assert_eq!(format_seconds(5_400), "5400s (1h30m)");
        assert_eq!(format_seconds(2_592_000), "2592000s (30d)");
        assert_eq!(format_seconds(90), "90s (1m30s)");
        assert_eq!(format_seconds(45), "45s");
    }
}
