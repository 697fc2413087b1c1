//! The arithmetic of "will we make it": rates, what is needed, when the
//! target falls at the current pace, and the status that follows. Pure
//! functions of counters and dates, so every rule is unit-tested and the page
//! states exactly what is computed here.

use serde::Serialize;
use time::{Date, Duration};

/// How many complete days before today the observed rate looks back.
pub const RATE_WINDOW_DAYS: i64 = 7;

/// A rate at least this share of the needed rate is "at risk", not "behind".
pub const AT_RISK_SHARE: f64 = 0.8;

/// The rule the dashboard states next to the statuses.
pub const STATUS_RULE: &str = "The rate is the net enrollments per day over the last 7 complete \
     days (fewer while the campaign is younger than a week). The needed rate is what is left to \
     enroll divided by the days left, today and the deadline included. On track: the rate is at \
     least the needed rate. At risk: the rate is at least 80% of it. Behind: less than 80%. \
     Met: the target is reached. Missed: the deadline has passed short of the target. \
     Starting: the first day, with no complete day to measure yet.";

/// Where a campaign (or one region of it) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Today is before the start date.
    NotStarted,
    /// Today is the start date: no complete day to take a rate from.
    Starting,
    OnTrack,
    AtRisk,
    Behind,
    /// The target is reached.
    Met,
    /// The deadline has passed short of the target.
    Missed,
    /// Nothing to enroll here: the target is zero.
    NoTarget,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::NotStarted => "not started",
            Self::Starting => "starting",
            Self::OnTrack => "on track",
            Self::AtRisk => "at risk",
            Self::Behind => "behind",
            Self::Met => "met",
            Self::Missed => "missed",
            Self::NoTarget => "no target",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::Starting => "starting",
            Self::OnTrack => "on_track",
            Self::AtRisk => "at_risk",
            Self::Behind => "behind",
            Self::Met => "met",
            Self::Missed => "missed",
            Self::NoTarget => "no_target",
        }
    }
}

/// The days the observed rate is taken over, `[from, until)`: the last
/// complete days before today, not before the start. Empty before the
/// campaign's first complete day.
pub fn rate_window(today: Date, starts_on: Date) -> (Date, Date) {
    let from = (today - Duration::days(RATE_WINDOW_DAYS)).max(starts_on);
    (from.min(today), today)
}

/// What the counters say, as of `today`.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub today: Date,
    pub starts_on: Date,
    pub deadline: Date,
    pub target: i64,
    /// Enrolled now (net, today included).
    pub enrolled: i64,
    /// Net enrollments in [`rate_window`].
    pub in_window: i64,
}

/// Derived figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Projection {
    /// Enrolled as a share of the target, in percent; none for a zero target.
    pub percent: Option<f64>,
    /// Still to enroll (never negative).
    pub remaining: i64,
    /// Calendar days until the deadline, today and the deadline included; 0
    /// once it has passed.
    pub days_left: i64,
    /// Observed net enrollments per day.
    pub daily_rate: f64,
    /// Enrollments per day needed to meet the target; none once the
    /// deadline has passed or the target is met.
    pub needed_rate: Option<f64>,
    /// The day the target falls at the observed rate: the day it was met,
    /// none while the rate is zero or the campaign has not started.
    #[serde(with = "crate::domain::citizen::iso_date::option")]
    pub projected_completion: Option<Date>,
    /// What the count comes to at the deadline at the observed rate.
    pub projected_at_deadline: i64,
    pub status: Status,
}

/// The projection for `c`.
pub fn project(c: &Counts) -> Projection {
    let remaining = (c.target - c.enrolled).max(0);
    let (from, until) = rate_window(c.today, c.starts_on);
    let window_days = (until - from).whole_days();
    let daily_rate = if window_days > 0 {
        c.in_window as f64 / window_days as f64
    } else {
        0.0
    };
    let days_left = if c.today > c.deadline {
        0
    } else {
        (c.deadline - c.today).whole_days() + 1
    };
    // Before the start, the whole campaign lies ahead.
    let days_to_work = if c.today < c.starts_on {
        (c.deadline - c.starts_on).whole_days() + 1
    } else {
        days_left
    };
    let needed_rate =
        (remaining > 0 && days_to_work > 0).then(|| remaining as f64 / days_to_work as f64);
    let projected_completion = if remaining == 0 {
        Some(c.today)
    } else if c.today >= c.starts_on && daily_rate > 0.0 {
        // Today is the first of the days it takes.
        let days = (remaining as f64 / daily_rate).ceil() as i64;
        c.today.checked_add(Duration::days(days - 1))
    } else {
        None
    };
    let projected_at_deadline =
        c.enrolled + (daily_rate.max(0.0) * days_left as f64).floor() as i64;
    let status = if c.target <= 0 {
        Status::NoTarget
    } else if remaining == 0 {
        Status::Met
    } else if c.today > c.deadline {
        Status::Missed
    } else if c.today < c.starts_on {
        Status::NotStarted
    } else if window_days == 0 {
        Status::Starting
    } else {
        match needed_rate {
            Some(needed) if daily_rate >= needed => Status::OnTrack,
            Some(needed) if daily_rate >= AT_RISK_SHARE * needed => Status::AtRisk,
            _ => Status::Behind,
        }
    };
    Projection {
        percent: (c.target > 0).then(|| c.enrolled as f64 * 100.0 / c.target as f64),
        remaining,
        days_left,
        daily_rate,
        needed_rate,
        projected_completion,
        projected_at_deadline,
        status,
    }
}

/// How far behind a region is, for "furthest behind first": the share of
/// its target it reaches by the deadline at its observed rate. Regions
/// without a target sort last.
pub fn behind_key(target: i64, p: &Projection) -> f64 {
    if target <= 0 {
        f64::INFINITY
    } else {
        p.projected_at_deadline as f64 / target as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn counts(today: Date, target: i64, enrolled: i64, in_window: i64) -> Counts {
        Counts {
            today,
            starts_on: date!(2026 - 11 - 01),
            deadline: date!(2026 - 11 - 30),
            target,
            enrolled,
            in_window,
        }
    }

    #[test]
    fn on_track_when_the_rate_covers_what_is_left() {
        // 28 Nov: 3 days left (28, 29, 30); 300 to go needs 100 a day.
        let p = project(&counts(date!(2026 - 11 - 28), 1000, 700, 700));
        assert_eq!(p.remaining, 300);
        assert_eq!(p.days_left, 3);
        assert_eq!(p.daily_rate, 100.0);
        assert_eq!(p.needed_rate, Some(100.0));
        assert_eq!(p.status, Status::OnTrack);
        assert_eq!(p.percent, Some(70.0));
        // 100 a day from today: 28, 29, 30.
        assert_eq!(p.projected_completion, Some(date!(2026 - 11 - 30)));
        assert_eq!(p.projected_at_deadline, 1000);
    }

    #[test]
    fn at_risk_and_behind_split_at_eighty_percent_of_the_need() {
        let at_risk = project(&counts(date!(2026 - 11 - 28), 1000, 700, 560));
        assert_eq!(at_risk.daily_rate, 80.0);
        assert_eq!(at_risk.status, Status::AtRisk);
        assert_eq!(at_risk.projected_completion, Some(date!(2026 - 12 - 01)));
        let behind = project(&counts(date!(2026 - 11 - 28), 1000, 700, 559));
        assert_eq!(behind.status, Status::Behind);
    }

    #[test]
    fn a_campaign_not_started_needs_its_whole_length() {
        let p = project(&counts(date!(2026 - 10 - 20), 3000, 0, 0));
        assert_eq!(p.status, Status::NotStarted);
        // 1 to 30 November is 30 days.
        assert_eq!(p.needed_rate, Some(100.0));
        assert_eq!(p.days_left, 42);
        assert_eq!(p.daily_rate, 0.0);
        assert_eq!(p.projected_completion, None);
    }

    #[test]
    fn past_the_deadline_is_met_or_missed() {
        let missed = project(&counts(date!(2026 - 12 - 05), 1000, 900, 70));
        assert_eq!(missed.status, Status::Missed);
        assert_eq!(missed.days_left, 0);
        assert_eq!(missed.needed_rate, None);
        assert_eq!(missed.remaining, 100);
        assert_eq!(missed.projected_completion, Some(date!(2026 - 12 - 14)));
        let met = project(&counts(date!(2026 - 12 - 05), 1000, 1000, 70));
        assert_eq!(met.status, Status::Met);
        assert_eq!(met.projected_completion, Some(date!(2026 - 12 - 05)));
    }

    #[test]
    fn a_zero_target_has_no_percentage_and_no_need() {
        let p = project(&counts(date!(2026 - 11 - 28), 0, 5, 5));
        assert_eq!(p.status, Status::NoTarget);
        assert_eq!(p.percent, None);
        assert_eq!(p.needed_rate, None);
        assert_eq!(behind_key(0, &p), f64::INFINITY);
    }

    #[test]
    fn a_young_campaign_averages_over_the_days_it_has_run() {
        let c = Counts {
            today: date!(2026 - 11 - 04),
            ..counts(date!(2026 - 11 - 04), 3000, 300, 300)
        };
        // 1, 2 and 3 November are complete; today is not.
        assert_eq!(
            rate_window(c.today, c.starts_on),
            (date!(2026 - 11 - 01), date!(2026 - 11 - 04))
        );
        assert_eq!(project(&c).daily_rate, 100.0);
        // On the first day there is no complete day yet.
        let first = Counts {
            today: date!(2026 - 11 - 01),
            ..c
        };
        assert_eq!(project(&first).daily_rate, 0.0);
        assert_eq!(project(&first).status, Status::Starting);
    }

    #[test]
    fn a_shrinking_count_never_projects_completion() {
        let p = project(&counts(date!(2026 - 11 - 28), 1000, 700, -14));
        assert_eq!(p.daily_rate, -2.0);
        assert_eq!(p.projected_completion, None);
        assert_eq!(p.projected_at_deadline, 700);
        assert_eq!(p.status, Status::Behind);
    }
}
