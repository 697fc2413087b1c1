//! The burn-up chart, drawn on the server as SVG: cumulative enrollments per
//! day against the target, and the projection at the observed rate to the
//! deadline. It carries a title and a text alternative, and needs no script.

use std::fmt::Write;

use time::Date;

use super::progress::{DayPoint, Figures};
use super::thousands;
use crate::domain::citizen::iso_date;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 44.0;

/// What the chart shows.
pub struct Chart<'a> {
    /// What the chart is of, e.g. the campaign's (or region's) name.
    pub subject: &'a str,
    pub starts_on: Date,
    pub deadline: Date,
    pub today: Date,
    pub figures: &'a Figures,
    pub daily: &'a [DayPoint],
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Chart<'_> {
    /// One or two sentences saying what the chart shows.
    pub fn text_alternative(&self) -> String {
        let f = self.figures;
        let p = &f.projection;
        let mut text = format!(
            "{} enrolled of a target of {} on {}",
            thousands(f.enrolled),
            thousands(f.target),
            iso_date::format(self.today),
        );
        if let Some(percent) = p.percent {
            let _ = write!(text, " ({percent:.1}%)");
        }
        let _ = write!(
            text,
            "; the deadline is {}.",
            iso_date::format(self.deadline)
        );
        if self.today >= self.starts_on && self.today <= self.deadline {
            let _ = write!(
                text,
                " At the last days' rate of {:.0} a day the count reaches {} by the deadline",
                p.daily_rate,
                thousands(p.projected_at_deadline)
            );
            match p.projected_completion {
                Some(d) if p.remaining > 0 => {
                    let _ = write!(text, " and the target on {}.", iso_date::format(d));
                }
                _ if p.remaining == 0 => text.push_str("; the target is met."),
                _ => text.push_str(" and the target is not reached at this rate."),
            }
        } else if self.today < self.starts_on {
            let _ = write!(
                text,
                " The campaign starts on {}.",
                iso_date::format(self.starts_on)
            );
        }
        text
    }

    /// The SVG markup; `id` keeps the title and description ids unique on
    /// the page.
    pub fn svg(&self, id: &str) -> String {
        let f = self.figures;
        let end = self.deadline.max(self.today).max(self.starts_on);
        let span = ((end - self.starts_on).whole_days()).max(1) as f64;
        let peak = self
            .daily
            .iter()
            .map(|p| p.enrolled)
            .chain([f.target, f.projection.projected_at_deadline, 1])
            .max()
            .unwrap_or(1) as f64;
        let step = grid_step(peak);
        let y_max = step * (peak / step).ceil().max(1.0);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let x = |d: Date| LEFT + (d - self.starts_on).whole_days() as f64 / span * plot_w;
        let y = |v: f64| TOP + plot_h - (v.max(0.0) / y_max) * plot_h;

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="burnup" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">Enrollments over time: {}</title><desc id="{id}-desc">{}</desc>"#,
            escape(self.subject),
            escape(&self.text_alternative())
        );
        // Horizontal grid with values.
        let lines = (y_max / step).round() as i64;
        for i in 0..=lines {
            let v = step * i as f64;
            let yy = y(v);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#444">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                yy + 4.0,
                thousands(v.round() as i64)
            );
        }
        // Start and deadline along the bottom (anchored inwards so their
        // dates stay inside), today at the top of the plot.
        let mut marks = vec![
            (self.starts_on, "start", "start", HEIGHT - BOTTOM + 16.0),
            (self.deadline, "deadline", "end", HEIGHT - BOTTOM + 16.0),
        ];
        if self.today > self.starts_on && self.today < self.deadline {
            marks.push((self.today, "today", "middle", TOP + 12.0));
        }
        for (d, label, anchor, label_y) in marks {
            let xx = x(d);
            let _ = write!(
                svg,
                r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{TOP}" y2="{:.1}" stroke="#bbb" stroke-dasharray="2 3"/><text x="{xx:.1}" y="{label_y:.1}" font-size="11" text-anchor="{anchor}" fill="#444">{label} {}</text>"##,
                TOP + plot_h,
                iso_date::format(d)
            );
        }
        // Target.
        let ty = y(f.target as f64);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}" stroke="#b00" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#b00">target {}</text>"##,
            WIDTH - RIGHT,
            WIDTH - RIGHT,
            ty - 5.0,
            thousands(f.target)
        );
        // Cumulative enrollments (a dot while there is one day).
        if let [only] = self.daily {
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#0b5"/>"##,
                x(only.date),
                y(only.enrolled as f64)
            );
        } else if !self.daily.is_empty() {
            let points: Vec<String> = self
                .daily
                .iter()
                .map(|p| format!("{:.1},{:.1}", x(p.date), y(p.enrolled as f64)))
                .collect();
            let _ = write!(
                svg,
                r##"<polyline fill="none" stroke="#0b5" stroke-width="2.5" points="{}"/>"##,
                points.join(" ")
            );
        }
        // Projection from today to the deadline.
        if self.today >= self.starts_on && self.today < self.deadline {
            let _ = write!(
                svg,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#0b5" stroke-width="2" stroke-dasharray="5 4"/>"##,
                x(self.today),
                y(f.enrolled as f64),
                x(self.deadline),
                y(f.projection.projected_at_deadline as f64)
            );
        }
        // Legend.
        let ly = HEIGHT - 8.0;
        let _ = write!(
            svg,
            r##"<g font-size="11" fill="#222"><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#0b5" stroke-width="2.5"/><text x="{:.1}" y="{ly:.1}">enrolled</text><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#0b5" stroke-width="2" stroke-dasharray="5 4"/><text x="{:.1}" y="{ly:.1}">projection at the last days' rate</text><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#b00" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="{ly:.1}">target</text></g>"##,
            LEFT + 20.0,
            ly - 4.0,
            ly - 4.0,
            LEFT + 24.0,
            LEFT + 90.0,
            LEFT + 110.0,
            ly - 4.0,
            ly - 4.0,
            LEFT + 114.0,
            LEFT + 320.0,
            LEFT + 340.0,
            ly - 4.0,
            ly - 4.0,
            LEFT + 344.0,
        );
        svg.push_str("</svg>");
        svg
    }
}

/// The distance between grid lines: a round number (1, 2, 2.5 or 5 times a
/// power of ten) giving at most five lines up to `peak`.
fn grid_step(peak: f64) -> f64 {
    if peak <= 4.0 {
        return 1.0;
    }
    let raw = peak / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|c| *c >= raw)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::projection::{Counts, project};
    use time::macros::date;

    #[test]
    fn the_chart_has_a_title_a_description_and_both_lines() {
        let counts = Counts {
            today: date!(2026 - 11 - 10),
            starts_on: date!(2026 - 11 - 01),
            deadline: date!(2026 - 11 - 30),
            target: 1000,
            enrolled: 300,
            in_window: 210,
        };
        let figures = Figures {
            enrolled: 300,
            target: 1000,
            in_window: 210,
            projection: project(&counts),
        };
        let daily = [
            DayPoint {
                date: date!(2026 - 11 - 01),
                enrolled: 20,
            },
            DayPoint {
                date: date!(2026 - 11 - 10),
                enrolled: 300,
            },
        ];
        let chart = Chart {
            subject: "North <adults>",
            starts_on: counts.starts_on,
            deadline: counts.deadline,
            today: counts.today,
            figures: &figures,
            daily: &daily,
        };
        let svg = chart.svg("c");
        assert!(svg.contains(
            r#"<title id="c-title">Enrollments over time: North &lt;adults&gt;</title>"#
        ));
        assert!(svg.contains("300 enrolled of a target of 1,000 on 2026-11-10 (30.0%)"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("stroke-dasharray=\"5 4\""));
        // A target of 20,000 is drawn up to 20,000 in steps of 5,000.
        assert_eq!(grid_step(20_000.0), 5000.0);
        assert_eq!(grid_step(20_400.0), 5000.0);
        assert_eq!(grid_step(1050.0), 250.0);
        assert_eq!(grid_step(3.0), 1.0);
    }
}
