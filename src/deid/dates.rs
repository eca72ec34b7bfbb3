//! Dates moved by a whole number of days (the Retain Longitudinal Temporal Information with
//! Modified Dates option): a DA `YYYYMMDD` or the date part of a DT, on the proleptic
//! Gregorian calendar; anything else is not a date this can move (None). Pure functions;
//! the calendar is `audit::installation`'s.

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

use crate::audit::installation::civil_from_days;

/// `YYYYMMDD` moved by `days` (None if it is not a valid date, or leaves years 1–9999).
pub fn shift_date(text: &str, days: i64) -> Option<String> {
    let t = text.trim();
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, d) = (
        t[..4].parse::<i64>().ok()?,
        t[4..6].parse::<i64>().ok()?,
        t[6..].parse::<i64>().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let z = days_from_civil(y, m, d);
    // A day past the month's end (20230231) is not a date.
    if civil_from_days(z) != (y, m, d) {
        return None;
    }
    let (ny, nm, nd) = civil_from_days(z + days);
    (1..=9999)
        .contains(&ny)
        .then(|| format!("{ny:04}{nm:02}{nd:02}"))
}

/// A DT value with its date part moved (the time and offset as they were).
pub fn shift_datetime(text: &str, days: i64) -> Option<String> {
    let t = text.trim();
    if t.len() < 8 {
        return None;
    }
    Some(format!("{}{}", shift_date(t.get(..8)?, days)?, t.get(8..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_move_across_months_years_and_leap_days() {
        assert_eq!(shift_date("20200115", -30).as_deref(), Some("20191216"));
        assert_eq!(shift_date("20200228", 1).as_deref(), Some("20200229"));
        assert_eq!(shift_date("20210228", 1).as_deref(), Some("20210301"));
        assert_eq!(shift_date("19700101", 0).as_deref(), Some("19700101"));
        assert_eq!(shift_date("20001231", 366).as_deref(), Some("20020101"));
        assert_eq!(shift_date("20230231", 1), None, "not a date");
        assert_eq!(shift_date("2023-01-01", 1), None);
        assert_eq!(shift_date("00010101", -1), None, "before year 1");
        assert_eq!(
            shift_datetime("20200115101500.123&+0100", 10).as_deref(),
            Some("20200125101500.123&+0100")
        );
        assert_eq!(shift_datetime("2020", 1), None);
    }
}
