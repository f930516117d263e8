//! Small SVG charts, drawn with plotters' SVG backend.
//!
//! plotters is used without its font features: the SVG backend writes every label as an
//! SVG `<text>` element (escaped) for the browser to lay out, and only estimates text
//! extents for its own layout, so no font file is needed at build or run time.
//! The backend's `xmlns` attribute is dropped: inline SVG in HTML needs none, and the
//! page then holds no URL at all.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::dist::{fmt_num, Bin, DistResult, Expected};

/// Chart size in CSS pixels.
pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 180;

const BAR: RGBColor = RGBColor(70, 110, 180);
const EXPECTED: RGBColor = RGBColor(200, 60, 40);
const BAND: RGBColor = RGBColor(240, 170, 150);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn finish(buf: String) -> String {
    buf.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1)
}

fn draw<F>(draw_fn: F) -> Result<String, String>
where
    F: FnOnce(&Area) -> Result<(), Box<dyn std::error::Error + 'static>>,
{
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw_fn(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(finish(buf))
}

/// The chart frame every chart shares: title, margins, label areas.
fn builder<'a, 'b>(root: &'a Area<'b>, title: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.caption(title, ("sans-serif", 13))
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(36);
    b
}

/// The chart of one parameter distribution.
pub fn distribution(r: &DistResult) -> Result<String, String> {
    match &r.spec.expected {
        Expected::Uniform { integer, .. } => histogram(&r.spec.column, &r.bins, *integer, None),
        Expected::Bernoulli { p } => match r.rate {
            Some((rate, lo, hi)) => rate_chart(&r.spec.column, rate, lo, hi, *p),
            None => categories(&r.spec.column, &r.bins),
        },
        Expected::Constant(_) | Expected::Categories(_) => categories(&r.spec.column, &r.bins),
    }
}

/// Bars over a numeric axis, with the expected count per bin (line) and its band of
/// two standard deviations (shaded); `vline` marks a value on the axis (e.g. the
/// `--max-tokens` limit).
pub fn histogram(
    title: &str,
    bins: &[Bin],
    integer: bool,
    vline: Option<(f64, &str)>,
) -> Result<String, String> {
    let half = if integer { 0.5 } else { 0.0 };
    let x0 = bins
        .iter()
        .map(|b| b.lo - half)
        .fold(f64::INFINITY, f64::min);
    let mut x1 = bins
        .iter()
        .map(|b| b.hi + half)
        .fold(f64::NEG_INFINITY, f64::max);
    if let Some((v, _)) = vline {
        x1 = x1.max(v + 1.0);
    }
    let (x0, x1) = if x0.is_finite() && x1 > x0 {
        (x0, x1)
    } else {
        (0.0, 1.0)
    };
    let n: f64 = bins.iter().map(|b| b.count as f64).sum();
    let band = |b: &Bin| {
        b.expected.map(|e| {
            let q = if n > 0.0 { e / n } else { 0.0 };
            let sd = (e * (1.0 - q)).max(0.0).sqrt();
            (e - 2.0 * sd, e + 2.0 * sd)
        })
    };
    let top = bins
        .iter()
        .map(|b| (b.count as f64).max(band(b).map_or(0.0, |(_, hi)| hi)))
        .fold(1.0, f64::max)
        * 1.1;
    draw(|root| {
        let mut chart = builder(root, title).build_cartesian_2d(x0..x1, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(5)
            .y_labels(4)
            .x_label_formatter(&|x| fmt_num(*x))
            .y_label_formatter(&|y| fmt_num(*y))
            .label_style(("sans-serif", 10))
            .draw()?;
        chart.draw_series(bins.iter().filter_map(|b| {
            let (lo, hi) = band(b)?;
            Some(Rectangle::new(
                [(b.lo - half, lo.max(0.0)), (b.hi + half, hi)],
                BAND.mix(0.5).filled(),
            ))
        }))?;
        chart.draw_series(bins.iter().map(|b| {
            Rectangle::new(
                [(b.lo - half, 0.0), (b.hi + half, b.count as f64)],
                BAR.mix(0.85).filled(),
            )
        }))?;
        chart.draw_series(bins.iter().filter_map(|b| {
            let e = b.expected?;
            Some(PathElement::new(
                vec![(b.lo - half, e), (b.hi + half, e)],
                EXPECTED.stroke_width(2),
            ))
        }))?;
        if let Some((v, label)) = vline {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(v, 0.0), (v, top)],
                EXPECTED.stroke_width(2),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                label.to_string(),
                (v, top * 0.95),
                ("sans-serif", 10).into_font().color(&EXPECTED),
            )))?;
        }
        Ok(())
    })
}

/// An observed rate with its interval against the configured probability.
pub fn rate_chart(title: &str, rate: f64, lo: f64, hi: f64, p: f64) -> Result<String, String> {
    draw(|root| {
        let mut chart = builder(root, title).build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_y_axis()
            .x_labels(6)
            .x_label_formatter(&|x| fmt_num(*x))
            .label_style(("sans-serif", 10))
            .draw()?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, 0.35), (rate, 0.65)],
            BAR.mix(0.85).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(lo, 0.5), (hi, 0.5)],
            BLACK.stroke_width(2),
        )))?;
        for x in [lo, hi] {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.42), (x, 0.58)],
                BLACK.stroke_width(2),
            )))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(p, 0.15), (p, 0.85)],
            EXPECTED.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("p = {}", fmt_num(p)),
            (p, 0.95),
            ("sans-serif", 10).into_font().color(&EXPECTED),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("observed {}", fmt_num(rate)),
            (0.02, 0.2),
            ("sans-serif", 10).into_font().color(&BLACK),
        )))?;
        Ok(())
    })
}

/// One bar per category (numbered; the table under the chart names them), with the
/// expected count as a line.
pub fn categories(title: &str, bins: &[Bin]) -> Result<String, String> {
    let k = bins.len().max(1) as f64;
    let top = bins
        .iter()
        .map(|b| (b.count as f64).max(b.expected.unwrap_or(0.0)))
        .fold(1.0, f64::max)
        * 1.1;
    draw(|root| {
        let mut chart = builder(root, title).build_cartesian_2d(0.0..k, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(bins.len().min(12))
            .y_labels(4)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if bins.len() <= 4 {
                    bins.get(i).map(|b| b.label.clone()).unwrap_or_default()
                } else {
                    format!("{}", i + 1)
                }
            })
            .y_label_formatter(&|y| fmt_num(*y))
            .label_style(("sans-serif", 9))
            .draw()?;
        chart.draw_series(bins.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.15, 0.0), (x + 0.85, b.count as f64)],
                BAR.mix(0.85).filled(),
            )
        }))?;
        chart.draw_series(bins.iter().enumerate().filter_map(|(i, b)| {
            let e = b.expected?;
            let x = i as f64;
            Some(PathElement::new(
                vec![(x + 0.05, e), (x + 0.95, e)],
                EXPECTED.stroke_width(2),
            ))
        }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_without_urls_and_escape_labels() {
        let bins = vec![
            Bin {
                label: "a".into(),
                lo: 0.0,
                hi: 1.0,
                count: 3,
                expected: Some(2.0),
            },
            Bin {
                label: "b".into(),
                lo: 1.0,
                hi: 2.0,
                count: 1,
                expected: Some(2.0),
            },
        ];
        for svg in [
            histogram("<x>", &bins, false, Some((1.5, "max"))).unwrap(),
            categories("<x>", &bins).unwrap(),
            rate_chart("<x>", 0.4, 0.3, 0.5, 0.5).unwrap(),
        ] {
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.contains("<rect") || svg.contains("<polyline"));
            assert!(!svg.contains("http"), "{svg}");
            assert!(!svg.contains("<x>") && svg.contains("&lt;x&gt;"));
        }
    }
}
