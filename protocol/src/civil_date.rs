//! A date from Unix time, for the few places that print one (the inspector's `emitted_at`, a scale report's
//! "finished"): the civil-from-days algorithm, rather than a date crate in the browser's bundle for one line.

/// A Unix time in microseconds as UTC calendar fields, for the places that print one in their own format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    pub micros: u64,
}

impl UtcTime {
    pub fn of(unix_micros: u64) -> Self {
        let seconds = unix_micros / 1_000_000;
        let in_day = seconds % 86_400;
        let (year, month, day) = civil_date(seconds);
        Self {
            year,
            month,
            day,
            hour: in_day / 3600,
            minute: in_day / 60 % 60,
            second: in_day % 60,
            micros: unix_micros % 1_000_000,
        }
    }
}

/// `(year, month, day)` of the UTC day that `unix_seconds` falls in.
pub fn civil_date(unix_seconds: u64) -> (i64, u32, u32) {
    let z = (unix_seconds / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_either_side_of_leap_days_and_the_epoch() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(951_868_799), (2000, 2, 29));
        assert_eq!(civil_date(951_868_800), (2000, 3, 1));
        assert_eq!(civil_date(1_796_256_000), (2026, 12, 3));
    }

    #[test]
    fn a_time_of_day_to_the_microsecond() {
        let time = UtcTime::of(1_796_256_000_000_000 + 13 * 3_600_000_000 + 7 * 60_000_000 + 9_000_042);
        assert_eq!((time.year, time.month, time.day), (2026, 12, 3));
        assert_eq!((time.hour, time.minute, time.second, time.micros), (13, 7, 9, 42));
    }
}
