//! The reports page: MTTA and MTTR (median) week by week, and pages per
//! person week by week, as SVG charts drawn on the server (no script) with
//! the table of the same figures beside them. The figures are
//! `reports::build`/`reports::overall` over the store's rows, as
//! `GET /api/v1/reports` counts them, one week at a time.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use serde::Deserialize;

use super::{Chrome, Viewer, WebError, render};
use crate::app::Shared;
use crate::followup::channel::person_name;
use crate::reports::{self, By, Range};

/// The chart's drawing area, in SVG units.
const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 120.0;

/// A span the page offers: so many weeks.
struct Span {
    weeks: i64,
    current: bool,
}

/// One week's figures.
struct Week {
    /// "23 Nov", the week's first day in the viewer's zone.
    label: String,
    /// Median minutes to acknowledge and to resolve, when any.
    mtta: Option<f64>,
    mttr: Option<f64>,
}

/// One bar of a chart, in SVG units.
struct Bar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    title: String,
}

/// Pages to one person, week by week.
struct PersonPages {
    name: String,
    weeks: Vec<u64>,
    total: u64,
    bars: Vec<Bar>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    /// The spans offered, the one shown marked.
    spans: Vec<Span>,
    weeks: Vec<Week>,
    mtta_bars: Vec<Bar>,
    mttr_bars: Vec<Bar>,
    /// The largest value of the time chart, in minutes (its scale).
    time_max: f64,
    people: Vec<PersonPages>,
    width: f64,
    height: f64,
}

#[derive(Debug, Deserialize)]
pub struct WeeksQuery {
    weeks: Option<String>,
}

/// `GET /reports[?weeks=4|8|12|26]`.
pub async fn show(
    State(app): State<Shared>,
    viewer: Viewer,
    Query(q): Query<WeeksQuery>,
) -> Response {
    let weeks = match q.weeks.as_deref().map(str::parse::<i64>) {
        None => 8,
        Some(Ok(n @ 1..=26)) => n,
        Some(_) => return WebError::bad("weeks", "a number of weeks, 1 to 26").into_response(),
    };
    match figures(&app, &viewer, weeks).await {
        Ok(page) => render(&page),
        Err(e) => e.into_response(),
    }
}

async fn figures(app: &Shared, viewer: &Viewer, n: i64) -> Result<ReportsPage, WebError> {
    let (roster, now) = (app.roster(), app.clock.now());
    let start = now - Duration::weeks(n);
    let mut weeks = Vec::new();
    let mut pages: Vec<(String, Vec<u64>)> = Vec::new();
    for i in 0..n {
        let from = start + Duration::weeks(i);
        let range = Range::new(Some(from), Some(from + Duration::weeks(1)), now)
            .map_err(|(field, why)| WebError::bad(field, why))?;
        let as_of = range.as_of(now);
        let rows = app
            .store
            .query(move |r| r.report_rows(range, as_of))
            .await?;
        let (mtta, mttr) = reports::overall(&rows);
        weeks.push(Week {
            label: from
                .with_timezone(&viewer.person.timezone)
                .format("%-d %b")
                .to_string(),
            mtta: mtta.p50.map(minutes),
            mttr: mttr.p50.map(minutes),
        });
        for g in reports::build(&rows, By::Person, &roster, as_of) {
            let count: u64 = g.pages.values().sum();
            let name = person_name(&roster, &g.key).to_string();
            let at = match pages.iter().position(|(k, _)| *k == name) {
                Some(at) => at,
                None => {
                    pages.push((name, vec![0; n as usize]));
                    pages.len() - 1
                }
            };
            pages[at].1[i as usize] += count;
        }
    }
    pages.sort();
    let time_max = weeks
        .iter()
        .flat_map(|w| [w.mtta, w.mttr])
        .flatten()
        .fold(0.0, f64::max);
    let labels: Vec<String> = weeks.iter().map(|w| w.label.clone()).collect();
    let page_max = pages
        .iter()
        .flat_map(|(_, w)| w.iter().copied())
        .max()
        .unwrap_or(0) as f64;
    Ok(ReportsPage {
        chrome: Chrome::new("Reports", "/reports", viewer),
        spans: [4, 8, 12, 26]
            .into_iter()
            .map(|weeks| Span {
                weeks,
                current: weeks == n,
            })
            .collect(),
        mtta_bars: bars(
            &weeks.iter().map(|w| w.mtta).collect::<Vec<_>>(),
            time_max,
            &labels,
            0,
            "min to acknowledge",
        ),
        mttr_bars: bars(
            &weeks.iter().map(|w| w.mttr).collect::<Vec<_>>(),
            time_max,
            &labels,
            1,
            "min to resolve",
        ),
        time_max,
        people: pages
            .into_iter()
            .map(|(name, w)| PersonPages {
                bars: bars(
                    &w.iter().map(|c| Some(*c as f64)).collect::<Vec<_>>(),
                    page_max,
                    &labels,
                    0,
                    "pages",
                ),
                total: w.iter().sum(),
                weeks: w,
                name,
            })
            .collect(),
        weeks,
        width: WIDTH,
        height: HEIGHT,
    })
}

fn minutes(secs: i64) -> f64 {
    tenth(secs as f64 / 60.0)
}

/// Rounded to a tenth: short numbers in the page.
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Bars for `values` scaled to `max`; `slot` 0 or 1 places two series side
/// by side in each week. A missing value draws nothing.
fn bars(values: &[Option<f64>], max: f64, labels: &[String], slot: usize, unit: &str) -> Vec<Bar> {
    let step = WIDTH / values.len().max(1) as f64;
    let w = step / 2.0 - 2.0;
    values
        .iter()
        .zip(labels)
        .enumerate()
        .filter_map(|(i, (v, label))| {
            let v = (*v)?;
            let h = if max > 0.0 {
                tenth(v / max * HEIGHT)
            } else {
                0.0
            };
            Some(Bar {
                x: tenth(i as f64 * step + slot as f64 * (w + 2.0) + 1.0),
                y: tenth(HEIGHT - h),
                w,
                h,
                title: format!("{label}: {v} {unit}"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value() {
        fn check(values: &[Option<f64>], expected: &[(f64, f64)]) {
            let labels: Vec<String> = values.iter().map(|_| "w".to_string()).collect();
            let max = values.iter().flatten().fold(0.0, |a: f64, b| a.max(*b));
            let got: Vec<(f64, f64)> = bars(values, max, &labels, 0, "x")
                .iter()
                .map(|b| (b.y, b.h))
                .collect();
            assert_eq!(got, expected, "{values:?}");
        }
        check(&[Some(10.0), Some(5.0)], &[(0.0, 120.0), (60.0, 60.0)]);
        check(&[None, Some(2.0)], &[(0.0, 120.0)]);
        check(&[Some(0.0)], &[(120.0, 0.0)]);
    }

    #[test]
    fn minutes_to_a_tenth() {
        assert_eq!(minutes(90), 1.5);
        assert_eq!(minutes(600), 10.0);
    }
}
