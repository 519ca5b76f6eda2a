//! Inline SVG charts: scales, axes and the marks of a burn-down, written as text.
//!
//! Every chart has a fixed `viewBox` and no width of its own (CSS scales it to its container),
//! a `<title>` and `<desc>` it is labelled by, and classes rather than colours, so the page's
//! stylesheet gives it the light or dark palette. Positions are rounded to 0.1 unit: charts are
//! pictures of exact amounts, never the amounts themselves (those are in the tables beside
//! them).

use std::fmt::Write as _;

use ledger_app::core::{Date, Money};
use rust_decimal::prelude::ToPrimitive;

use maud::Render as _;

/// Width and height of a full chart's `viewBox`.
pub const WIDE: (f64, f64) = (720.0, 300.0);
/// Width and height of a small chart (one credit lot).
pub const SMALL: (f64, f64) = (360.0, 132.0);

/// Text made safe for element content or a double-quoted attribute value, by maud's escaper
/// (`&`, `<`, `>`, `"`): for the SVG written as text, whose `<line/>`-style empty elements
/// `html!` would not write.
pub fn escaped(text: &str) -> String {
    text.render().into_string()
}

/// An amount as a plotting coordinate (display only).
pub fn to_f64(m: Money) -> f64 {
    m.to_decimal().to_f64().unwrap_or(0.0)
}

/// A number for an SVG attribute: one decimal, no trailing `.0`.
pub fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Dates to x and amounts to y inside a plot rectangle.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub day_first: i32,
    pub day_last: i32,
    pub value_max: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    /// A frame over `first..=last` and `0..=max` (both widened when empty), inside a viewBox
    /// of `size` with the given margins (left, right, top, bottom).
    pub fn new(
        first: Date,
        last: Date,
        max: f64,
        size: (f64, f64),
        margins: (f64, f64, f64, f64),
    ) -> Frame {
        let day_first = first.day_number();
        let mut day_last = last.day_number();
        if day_last <= day_first {
            day_last = day_first + 1;
        }
        let value_max = if max.is_finite() && max > 0.0 {
            nice_ceiling(max)
        } else {
            1.0
        };
        Frame {
            day_first,
            day_last,
            value_max,
            left: margins.0,
            right: size.0 - margins.1,
            top: margins.2,
            bottom: size.1 - margins.3,
        }
    }

    pub fn x(&self, d: Date) -> f64 {
        let t = (d.day_number() - self.day_first) as f64 / (self.day_last - self.day_first) as f64;
        self.left + t * (self.right - self.left)
    }

    pub fn y(&self, v: f64) -> f64 {
        let t = (v / self.value_max).clamp(-0.05, 1.05);
        self.bottom - t * (self.bottom - self.top)
    }

    pub fn contains(&self, d: Date) -> bool {
        (self.day_first..=self.day_last).contains(&d.day_number())
    }
}

/// The smallest 1, 2, 2.5 or 5 × 10^k at or above `v`, stepped so the axis ends on a tick.
fn nice_ceiling(v: f64) -> f64 {
    let step = tick_step(v);
    (v / step).ceil() * step
}

/// A step of 1, 2, 2.5 or 5 × 10^k giving four to six ticks up to `max`.
pub fn tick_step(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * magnitude >= raw {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

/// `762k`, `1.25M`, `500`: axis labels (the tables carry the exact amounts).
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (value, unit) = if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{unit}")
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A chart being written: the `<svg>` element with its title and description.
pub struct Svg {
    pub out: String,
}

impl Svg {
    /// Open `<svg role="img">` labelled by its title and description (ids from `id`).
    pub fn open(id: &str, size: (f64, f64), class: &str, title: &str, desc: &str) -> Svg {
        let mut out = String::with_capacity(16 * 1024);
        let _ = write!(
            out,
            "<svg class=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
             preserveAspectRatio=\"xMidYMid meet\">\
             <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
            escaped(class),
            n(size.0),
            n(size.1),
            escaped(title),
            escaped(desc)
        );
        Svg { out }
    }

    pub fn close(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }

    /// Horizontal grid lines and amount labels; the currency above the labels.
    pub fn value_axis(&mut self, f: &Frame, currency: &str, labels: bool) {
        let step = tick_step(f.value_max);
        let mut v = 0.0;
        let mut guard = 0;
        while v <= f.value_max * 1.0001 && guard < 20 {
            let y = f.y(v);
            let _ = write!(
                self.out,
                "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
                n(f.left),
                n(f.right),
                n(y),
                n(y)
            );
            if labels {
                let _ = write!(
                    self.out,
                    "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                    n(f.left - 6.0),
                    n(y + 4.0),
                    compact(v)
                );
            }
            v += step;
            guard += 1;
        }
        if labels {
            let _ = write!(
                self.out,
                "<text class=\"tick unit\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                n(f.left - 6.0),
                n(f.top - 10.0),
                escaped(currency)
            );
        }
    }

    /// Month ticks along the bottom, labelled so that at most `max_labels` show; the year
    /// under January and under the first label.
    pub fn time_axis(&mut self, f: &Frame, max_labels: u32) {
        let first = Date::from_day_number(f.day_first).unwrap_or(Date::MIN);
        let last = Date::from_day_number(f.day_last).unwrap_or(Date::MAX);
        let months = ((last.year() - first.year()) * 12 + last.month() as i32
            - first.month() as i32)
            .max(1) as u32;
        let step = [1u32, 2, 3, 6, 12, 24, 60, 120, 600]
            .into_iter()
            .find(|s| months / s < max_labels.max(1))
            .unwrap_or(1200);
        let _ = write!(
            self.out,
            "<line class=\"axis\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
            n(f.left),
            n(f.right),
            n(f.bottom),
            n(f.bottom)
        );
        let mut month = first.month_start();
        if month < first {
            month = month.add_months(1);
        }
        let mut labelled_year = false;
        let mut guard = 0;
        while month <= last && guard < 1300 {
            guard += 1;
            let index = (month.year() * 12 + month.month() as i32 - 1) as u32;
            let x = f.x(month);
            let major = index.is_multiple_of(step);
            let _ = write!(
                self.out,
                "<line class=\"{}\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
                if major { "axis" } else { "axis minor" },
                n(x),
                n(x),
                n(f.bottom),
                n(f.bottom + if major { 5.0 } else { 3.0 })
            );
            if major {
                let label = if step >= 12 {
                    month.year().to_string()
                } else {
                    MONTHS[(month.month() - 1) as usize].to_string()
                };
                let _ = write!(
                    self.out,
                    "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
                    n(x),
                    n(f.bottom + 17.0)
                );
                if step < 12 && (month.month() == 1 || !labelled_year) {
                    let _ = write!(
                        self.out,
                        "<text class=\"tick year\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                        n(x),
                        n(f.bottom + 30.0),
                        month.year()
                    );
                    labelled_year = true;
                }
            }
            month = month.add_months(1);
        }
    }

    /// A step line (the balance holds until the next dated change): `points` are (date,
    /// balance after) in order, starting from the opening balance.
    pub fn step_path(&mut self, f: &Frame, points: &[(Date, f64)], class: &str, extra: &str) {
        if points.is_empty() {
            return;
        }
        let mut d = String::with_capacity(points.len() * 24);
        let (d0, v0) = points[0];
        let _ = write!(d, "M{} {}", n(f.x(d0)), n(f.y(v0)));
        let mut previous_y = f.y(v0);
        for &(date, value) in &points[1..] {
            let x = f.x(date);
            let y = f.y(value);
            let _ = write!(d, "H{}", n(x));
            if (y - previous_y).abs() > 0.01 {
                let _ = write!(d, "V{}", n(y));
            }
            previous_y = y;
        }
        let _ = write!(
            self.out,
            "<path class=\"{}\" d=\"{d}\"{extra}/>",
            escaped(class)
        );
    }

    /// A straight line between two dated values.
    pub fn segment(&mut self, f: &Frame, from: (Date, f64), to: (Date, f64), class: &str) {
        let _ = write!(
            self.out,
            "<line class=\"{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
            escaped(class),
            n(f.x(from.0)),
            n(f.y(from.1)),
            n(f.x(to.0)),
            n(f.y(to.1))
        );
    }

    /// A vertical line across the plot at `date`, with an optional label at its top.
    pub fn vertical(
        &mut self,
        f: &Frame,
        date: Date,
        class: &str,
        label: Option<&str>,
        data: &str,
        tooltip: &str,
    ) {
        let x = f.x(date);
        let _ = write!(
            self.out,
            "<g class=\"{}\"{data}><title>{}</title><line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
            escaped(class),
            escaped(tooltip),
            n(x),
            n(x),
            n(f.top),
            n(f.bottom)
        );
        if let Some(label) = label {
            let (anchor, dx) = if x > f.right - 60.0 {
                ("end", 0.0)
            } else if x < f.left + 60.0 {
                ("start", -2.0)
            } else {
                ("middle", 0.0)
            };
            let _ = write!(
                self.out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                n(x + dx),
                n(f.top - 6.0),
                escaped(label)
            );
        }
        self.out.push_str("</g>");
    }

    /// A point (circle) with its tooltip and data attributes.
    pub fn point(&mut self, f: &Frame, at: (Date, f64), class: &str, data: &str, tooltip: &str) {
        let _ = write!(
            self.out,
            "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"3.5\"{data}><title>{}</title></circle>",
            escaped(class),
            n(f.x(at.0)),
            n(f.y(at.1)),
            escaped(tooltip)
        );
    }

    /// A square point (what-if scenarios), so scenarios differ by shape as well as colour.
    pub fn square(&mut self, f: &Frame, at: (Date, f64), class: &str, data: &str, tooltip: &str) {
        let _ = write!(
            self.out,
            "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"6\" height=\"6\"{data}><title>{}</title></rect>",
            escaped(class),
            n(f.x(at.0) - 3.0),
            n(f.y(at.1) - 3.0),
            escaped(tooltip)
        );
    }

    /// Text at a point.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text class=\"{}\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            escaped(class),
            n(x),
            n(y),
            escaped(text)
        );
    }
}

/// The shape of a milestone marker by status: filled for met, a cross for missed, hollow for
/// not yet decided. The status is also written beside it, so colour is never the only cue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerShape {
    Met,
    Missed,
    Open,
}

impl MarkerShape {
    /// The marker of a milestone status: filled for met, a cross for missed, hollow else.
    pub fn of(status: &str) -> MarkerShape {
        match status {
            "Met" | "Completed" => MarkerShape::Met,
            "Missed" => MarkerShape::Missed,
            _ => MarkerShape::Open,
        }
    }
}

/// A milestone marker: where it stands, how it looks and what it says.
pub struct Marker<'m> {
    /// (due date, level on the value axis).
    pub at: (Date, f64),
    pub shape: MarkerShape,
    /// The `<g>`'s class.
    pub class: &'m str,
    /// The visible label.
    pub label: &'m str,
    /// The label under the marker rather than over it (neighbours too close).
    pub label_below: bool,
    /// Extra attributes of the `<g>`, already escaped (` data-…="…"`).
    pub data: &'m str,
    pub tooltip: &'m str,
}

/// A milestone marker: a diamond at (date, value) with its label, as one `<g>` carrying the
/// data attributes.
pub fn milestone(svg: &mut Svg, f: &Frame, m: &Marker<'_>) {
    let Marker {
        at,
        shape,
        class,
        label,
        label_below,
        data,
        tooltip,
    } = *m;
    let x = f.x(at.0);
    let y = f.y(at.1);
    let r = 6.0;
    let _ = write!(
        svg.out,
        "<g class=\"{}\"{data}><title>{}</title>\
         <path class=\"marker\" d=\"M{} {}L{} {}L{} {}L{} {}Z\"/>",
        escaped(class),
        escaped(tooltip),
        n(x),
        n(y - r),
        n(x + r),
        n(y),
        n(x),
        n(y + r),
        n(x - r),
        n(y)
    );
    if shape == MarkerShape::Missed {
        let k = 3.0;
        let _ = write!(
            svg.out,
            "<path class=\"cross\" d=\"M{} {}L{} {}M{} {}L{} {}\"/>",
            n(x - k),
            n(y - k),
            n(x + k),
            n(y + k),
            n(x + k),
            n(y - k),
            n(x - k),
            n(y + k)
        );
    }
    let anchor = if x > f.right - 70.0 {
        "end"
    } else if x < f.left + 70.0 {
        "start"
    } else {
        "middle"
    };
    let ly = if label_below {
        y + r + 13.0
    } else {
        y - r - 5.0
    };
    let _ = write!(
        svg.out,
        "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text></g>",
        n(x),
        n(ly),
        escaped(label)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escaped("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(escaped("x\"y"), "x&quot;y");
    }

    #[test]
    fn ticks_and_labels() {
        assert_eq!(tick_step(762_000.0), 200_000.0);
        assert_eq!(nice_ceiling(762_000.0), 800_000.0);
        assert_eq!(tick_step(500.0), 100.0);
        assert_eq!(tick_step(10_000.0), 2_000.0);
        assert_eq!(compact(800_000.0), "800k");
        assert_eq!(compact(1_250_000.0), "1.25M");
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(250.0), "250");
        assert_eq!(n(1.04), "1");
        assert_eq!(n(1.25), "1.3");
        assert_eq!(n(-0.0), "0");
    }

    #[test]
    fn frame_maps_ends_to_edges() {
        let d = |s: &str| Date::parse(s).unwrap();
        let f = Frame::new(
            d("2024-01-01"),
            d("2024-12-31"),
            762_000.0,
            WIDE,
            (60.0, 20.0, 30.0, 40.0),
        );
        assert_eq!(f.x(d("2024-01-01")), 60.0);
        assert_eq!(f.x(d("2024-12-31")), 700.0);
        assert_eq!(f.y(0.0), 260.0);
        assert_eq!(f.y(800_000.0), 30.0);
    }
}
