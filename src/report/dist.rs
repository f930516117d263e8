//! Parameter distributions against the configuration: what each `aug_*` column should
//! look like given the scheme's ops, and whether it does.
//!
//! - uniform draws (colour factors, rotation, blur sigma, erase position): every value
//!   inside the configured range, and a chi-square test of equal-width bins;
//! - Bernoulli draws (flip, blur/erase applied, a word replaced): the observed rate vs p,
//!   an exact two-sided binomial test and a 99.9 % Wilson interval;
//! - constants (erase size, MixGen lambda): every value equal;
//! - categories (colour-jitter order): a chi-square test against the permutations'
//!   equal probabilities.
//!
//! A distribution "fails" at p < 0.001 ([`P_FAIL`]): with a few dozen charts per report,
//! a false alarm stays rare, and a wrong range or probability shows at once on a few
//! thousand rows.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};

use crate::config::Config;
use crate::kernels::image::ColorOp;
use crate::schemes::{FlipCaptions, ImageOp, Scheme, TextOp};

/// Goodness-of-fit p-values below this fail.
pub const P_FAIL: f64 = 0.001;

/// Fewest values for a test; below it the chart is shown without one.
pub const MIN_TESTED: usize = 20;

/// What the config says a column's values should be.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Uniform over [lo, hi]; `integer`: the integers lo..=hi.
    Uniform { lo: f64, hi: f64, integer: bool },
    /// 1 with probability p, else 0.
    Bernoulli { p: f64 },
    /// Always this value.
    Constant(f64),
    /// Text categories, each with its probability.
    Categories(Vec<(String, f64)>),
}

/// One chart: a column (or an expression over columns) of one scheme and its expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// What the chart shows, e.g. `aug_brightness` or `aug_blur_sigma IS NOT NULL`.
    pub column: String,
    /// The SQL expression giving the values (Float64, or Utf8 for categories).
    pub expr: String,
    /// What the config says, in words.
    pub rule: String,
    pub expected: Expected,
}

fn bool_expr(cond: &str) -> String {
    format!("CASE WHEN {cond} THEN 1.0 WHEN NOT ({cond}) THEN 0.0 END")
}

/// The charts of one scheme, in op order: one small function per op that has any.
pub fn specs_for(scheme: &Scheme, config: &Config) -> Vec<Spec> {
    let size = f64::from(config.image.size);
    let mut out = Vec::new();
    for op in &scheme.image_ops {
        match op {
            ImageOp::Hflip { p, captions } => hflip_specs(&mut out, *p, *captions),
            ImageOp::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
                ..
            } => jitter_specs(&mut out, [*brightness, *contrast, *saturation, *hue]),
            ImageOp::Rotate { degrees } => rotate_specs(&mut out, *degrees),
            // The crop's distribution depends on each source's size: no closed form to
            // test against; the samples show the crop rectangles.
            ImageOp::RandomResizedCrop { .. } => {}
            ImageOp::GaussianBlur { sigma, p, .. } => blur_specs(&mut out, *sigma, *p),
            ImageOp::ErasePatch { fraction, p } => erase_specs(&mut out, *fraction, *p, size),
            ImageOp::Mixgen { lambda } => mixgen_specs(&mut out, *lambda),
        }
    }
    for op in &scheme.text_ops {
        if let TextOp::ReplaceWord(op) = op {
            replace_word_specs(&mut out, op.p);
        }
    }
    out
}

/// A chart of `column` (values from the SQL `expr`) expecting `expected`, `rule` in words.
fn spec(column: &str, expr: String, rule: String, expected: Expected) -> Spec {
    Spec {
        column: column.to_string(),
        expr,
        rule,
        expected,
    }
}

/// Column `c` as a double.
fn float(c: &str) -> String {
    format!("CAST({c} AS DOUBLE)")
}

fn hflip_specs(out: &mut Vec<Spec>, p: f64, captions: FlipCaptions) {
    // A flip drawn but left out for spatial words is still a draw.
    let (column, rule) = if captions == FlipCaptions::Skip {
        (
            "aug_hflip OR aug_hflip_skipped",
            format!("hflip drawn with p = {p} (done or skipped)"),
        )
    } else {
        ("aug_hflip", format!("hflip with p = {p}"))
    };
    out.push(spec(
        column,
        bool_expr(column),
        rule,
        Expected::Bernoulli { p },
    ));
}

/// Colour jitter: the factors (uniform in [1 - spread, 1 + spread], in float32 as the
/// sampler draws them), the hue shift and the order of the active ops.
fn jitter_specs(out: &mut Vec<Spec>, spreads: [f32; 4]) {
    let [brightness, contrast, saturation, hue] = spreads;
    let two_only = saturation == 0.0 && hue == 0.0;
    for (name, spread) in [
        ("brightness", brightness),
        ("contrast", contrast),
        ("saturation", saturation),
    ] {
        let col = format!("aug_{name}");
        let lo = f64::from((1.0 - spread).max(0.0));
        let hi = f64::from(1.0 + spread);
        if spread > 0.0 && hi > lo {
            out.push(spec(
                &col,
                float(&col),
                format!(
                    "{name} factor uniform in [{}, {}]",
                    fmt_num(lo),
                    fmt_num(hi)
                ),
                Expected::Uniform {
                    lo,
                    hi,
                    integer: false,
                },
            ));
        } else if two_only && name != "saturation" {
            out.push(spec(
                &col,
                float(&col),
                format!("{name} factor 1 (spread 0)"),
                Expected::Constant(1.0),
            ));
        }
    }
    if hue > 0.0 {
        let h = f64::from(hue);
        out.push(spec(
            "aug_hue",
            float("aug_hue"),
            format!("hue shift uniform in ±{} (when not left out)", fmt_num(h)),
            Expected::Uniform {
                lo: -h,
                hi: h,
                integer: false,
            },
        ));
    }
    let active: Vec<ColorOp> = if two_only {
        vec![ColorOp::Brightness, ColorOp::Contrast]
    } else {
        ColorOp::ALL
            .into_iter()
            .zip(spreads)
            .filter(|(_, s)| *s > 0.0)
            .map(|(c, _)| c)
            .collect()
    };
    let perms = permutations(&active);
    let p = 1.0 / perms.len().max(1) as f64;
    out.push(spec(
        "aug_jitter_order",
        "aug_jitter_order".into(),
        format!(
            "each of the {} orders with p = 1/{}",
            perms.len(),
            perms.len()
        ),
        Expected::Categories(perms.into_iter().map(|o| (o, p)).collect()),
    ));
}

fn rotate_specs(out: &mut Vec<Spec>, degrees: f32) {
    let d = f64::from(degrees);
    let (rule, expected) = if d > 0.0 {
        (
            format!("angle uniform in ±{} degrees", fmt_num(d)),
            Expected::Uniform {
                lo: -d,
                hi: d,
                integer: false,
            },
        )
    } else {
        ("angle 0".into(), Expected::Constant(0.0))
    };
    out.push(spec(
        "aug_rotate_deg",
        float("aug_rotate_deg"),
        rule,
        expected,
    ));
}

/// An op applied with probability `p` (< 1): how often its column is set.
fn applied_spec(out: &mut Vec<Spec>, column: &str, what: &str, p: f64) {
    if p < 1.0 {
        let cond = format!("{column} IS NOT NULL");
        out.push(spec(
            &cond,
            bool_expr(&cond),
            format!("{what} with p = {p}"),
            Expected::Bernoulli { p },
        ));
    }
}

fn blur_specs(out: &mut Vec<Spec>, sigma: [f32; 2], p: f64) {
    applied_spec(out, "aug_blur_sigma", "blurred", p);
    let (lo, hi) = (f64::from(sigma[0]), f64::from(sigma[1]));
    let expected = if hi > lo {
        Expected::Uniform {
            lo,
            hi,
            integer: false,
        }
    } else {
        Expected::Constant(lo)
    };
    out.push(spec(
        "aug_blur_sigma",
        float("aug_blur_sigma"),
        format!(
            "sigma uniform in [{}, {}] (when blurred)",
            fmt_num(lo),
            fmt_num(hi)
        ),
        expected,
    ));
}

fn erase_specs(out: &mut Vec<Spec>, fraction: f64, p: f64, size: f64) {
    applied_spec(out, "aug_erase_size", "erased", p);
    let side = (fraction * size).floor().min(size);
    out.push(spec(
        "aug_erase_size",
        float("aug_erase_size"),
        format!("side floor({fraction} x {size}) = {side} pixels"),
        Expected::Constant(side),
    ));
    for axis in ["x", "y"] {
        let col = format!("aug_erase_{axis}");
        out.push(spec(
            &col,
            float(&col),
            format!("{axis} uniform in 0..={}", size - side),
            Expected::Uniform {
                lo: 0.0,
                hi: size - side,
                integer: true,
            },
        ));
    }
}

fn mixgen_specs(out: &mut Vec<Spec>, lambda: f32) {
    out.push(spec(
        "aug_mix_lambda",
        float("aug_mix_lambda"),
        format!("lambda {}", fmt_num(f64::from(lambda))),
        Expected::Constant(f64::from(lambda)),
    ));
}

/// Captions without words record an empty list and never draw: counted as rows only
/// when they have a word.
fn replace_word_specs(out: &mut Vec<Spec>, p: f64) {
    out.push(spec(
        "cardinality(aug_words_replaced) > 0",
        "CASE WHEN cardinality(aug_words_replaced) > 0 THEN 1.0 \
         WHEN word_count(caption) > 0 THEN 0.0 END"
            .into(),
        format!("one word replaced with p = {p} (captions with words)"),
        Expected::Bernoulli { p },
    ));
}

/// Every order of `ops`, as `aug_jitter_order` writes them (`contrast,brightness`).
fn permutations(ops: &[ColorOp]) -> Vec<String> {
    if ops.len() <= 1 {
        return vec![ops.iter().map(|c| c.name()).collect::<Vec<_>>().join(",")];
    }
    let mut out = Vec::new();
    for (i, first) in ops.iter().enumerate() {
        let mut rest = ops.to_vec();
        rest.remove(i);
        for tail in permutations(&rest) {
            out.push(format!("{},{tail}", first.name()));
        }
    }
    out.sort();
    out
}

/// The values of column `i` of `batches`: numbers, or text for categories.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Numbers(Vec<f64>),
    Texts(Vec<String>),
}

/// The non-null values of column `i` across `batches`.
pub fn column_values(
    batches: &[RecordBatch],
    i: usize,
) -> Result<Values, arrow::error::ArrowError> {
    let utf8 = batches.first().is_some_and(|b| {
        matches!(
            b.column(i).data_type(),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        )
    });
    if utf8 {
        let mut out = Vec::new();
        for b in batches {
            let a = arrow::compute::cast(b.column(i), &DataType::Utf8)?;
            out.extend(a.as_string::<i32>().iter().flatten().map(str::to_string));
        }
        return Ok(Values::Texts(out));
    }
    let mut out = Vec::new();
    for b in batches {
        let a = arrow::compute::cast(b.column(i), &DataType::Float64)?;
        out.extend(a.as_primitive::<Float64Type>().iter().flatten());
    }
    Ok(Values::Numbers(out))
}

/// One histogram bar (or category).
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub label: String,
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
    /// Expected count under the config.
    pub expected: Option<f64>,
}

/// The outcome of one chart's checks.
#[derive(Debug, Clone, PartialEq)]
pub struct DistResult {
    pub spec: Spec,
    /// Non-null values.
    pub n: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub bins: Vec<Bin>,
    /// Every value inside the configured range (or equal to the constant); `None`
    /// where the expectation has no range (Bernoulli, categories).
    pub in_range: Option<bool>,
    /// Values outside the range.
    pub out_of_range: u64,
    /// Goodness-of-fit p-value, when tested.
    pub p_value: Option<f64>,
    /// Name of the test and its statistic, in words.
    pub test: String,
    /// Bernoulli: observed rate and its 99.9 % Wilson interval.
    pub rate: Option<(f64, f64, f64)>,
}

impl DistResult {
    /// Whether the values agree with the config (range and fit).
    pub fn passes(&self) -> bool {
        self.in_range != Some(false) && self.p_value.is_none_or(|p| p >= P_FAIL)
    }
}

/// Bins, range check and test of `values` against `spec`.
pub fn evaluate(spec: Spec, values: Values) -> DistResult {
    match (&spec.expected, values) {
        (Expected::Categories(cats), Values::Texts(texts)) => {
            let cats = cats.clone();
            categories(spec, &cats, &texts)
        }
        (_, Values::Numbers(v)) => numbers(spec, &v),
        (_, Values::Texts(t)) => {
            let n = t.len() as u64;
            DistResult {
                spec,
                n,
                min: None,
                max: None,
                bins: Vec::new(),
                in_range: None,
                out_of_range: 0,
                p_value: None,
                test: "text values, not tested".into(),
                rate: None,
            }
        }
    }
}

fn numbers(spec: Spec, v: &[f64]) -> DistResult {
    let n = v.len() as u64;
    let min = v.iter().copied().reduce(f64::min);
    let max = v.iter().copied().reduce(f64::max);
    let mut r = DistResult {
        spec: spec.clone(),
        n,
        min,
        max,
        bins: Vec::new(),
        in_range: None,
        out_of_range: 0,
        p_value: None,
        test: String::new(),
        rate: None,
    };
    match spec.expected {
        Expected::Uniform { lo, hi, integer } => {
            // Values are stored as float32: allow its rounding at the ends.
            let tol = 1e-6 * (hi.abs().max(lo.abs()).max(1.0));
            r.out_of_range = v
                .iter()
                .filter(|x| **x < lo - tol || **x > hi + tol)
                .count() as u64;
            r.in_range = Some(r.out_of_range == 0);
            let mut bins = if integer {
                integer_bins(lo, hi, n)
            } else {
                real_bins(lo, hi, n)
            };
            let k = bins.len();
            for x in v {
                let i = if integer {
                    let width = bins[0].hi - bins[0].lo + 1.0;
                    ((x.round() - lo) / width).floor()
                } else if hi > lo {
                    ((x - lo) / (hi - lo) * k as f64).floor()
                } else {
                    0.0
                };
                bins[(i.max(0.0) as usize).min(k - 1)].count += 1;
            }
            if v.len() >= MIN_TESTED {
                let (stat, df, p) = chi_square(&bins);
                r.p_value = Some(p);
                r.test = format!("chi-square = {stat:.2}, {df} df, p = {}", fmt_p(p));
            } else {
                r.test = format!("fewer than {MIN_TESTED} values: not tested");
            }
            r.bins = bins;
        }
        Expected::Bernoulli { p } => {
            let ones = v.iter().filter(|x| **x >= 0.5).count() as u64;
            r.bins = vec![
                Bin {
                    label: "0".into(),
                    lo: 0.0,
                    hi: 0.5,
                    count: n - ones,
                    expected: Some((1.0 - p) * n as f64),
                },
                Bin {
                    label: "1".into(),
                    lo: 0.5,
                    hi: 1.0,
                    count: ones,
                    expected: Some(p * n as f64),
                },
            ];
            if n > 0 {
                let rate = ones as f64 / n as f64;
                let (a, b) = wilson(ones, n, 3.2905);
                r.rate = Some((rate, a, b));
                let pv = binomial_two_sided(ones, n, p);
                r.p_value = Some(pv);
                r.test = format!(
                    "rate {} vs p = {p}, exact binomial p = {}",
                    fmt_num(rate),
                    fmt_p(pv)
                );
            } else {
                r.test = "no values".into();
            }
        }
        Expected::Constant(c) => {
            // Compared at float32 precision, the stored type.
            let c32 = c as f32;
            r.out_of_range = v.iter().filter(|x| **x as f32 != c32).count() as u64;
            r.in_range = Some(r.out_of_range == 0);
            r.bins = vec![Bin {
                label: fmt_num(c),
                lo: c,
                hi: c,
                count: n - r.out_of_range,
                expected: Some(n as f64),
            }];
            if r.out_of_range > 0 {
                r.bins.push(Bin {
                    label: "other".into(),
                    lo: c,
                    hi: c,
                    count: r.out_of_range,
                    expected: Some(0.0),
                });
            }
            r.test = format!("constant: {} of {n} values differ", r.out_of_range);
        }
        Expected::Categories(_) => {
            r.test = "numbers where categories were expected".into();
        }
    }
    r
}

/// Ten equal bins over [lo, hi] (the last includes hi), with expected counts for `n`
/// uniform values.
fn real_bins(lo: f64, hi: f64, n: u64) -> Vec<Bin> {
    let k = 10;
    (0..k)
        .map(|i| {
            let a = lo + (hi - lo) * i as f64 / k as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / k as f64;
            Bin {
                label: format!("{}–{}", fmt_num(a), fmt_num(b)),
                lo: a,
                hi: b,
                count: 0,
                expected: Some(n as f64 / k as f64),
            }
        })
        .collect()
}

/// Bins of whole numbers lo..=hi, at most ten, each `width` integers wide (the last may
/// hold fewer); `lo` and `hi` of a bin are its first and last integer.
fn integer_bins(lo: f64, hi: f64, n: u64) -> Vec<Bin> {
    let count = (hi - lo + 1.0).max(1.0);
    let width = (count / 10.0).ceil().max(1.0);
    let k = (count / width).ceil() as usize;
    (0..k)
        .map(|i| {
            let a = lo + width * i as f64;
            let b = (a + width - 1.0).min(hi);
            Bin {
                label: if a == b {
                    fmt_num(a)
                } else {
                    format!("{}–{}", fmt_num(a), fmt_num(b))
                },
                lo: a,
                hi: b,
                count: 0,
                expected: Some((b - a + 1.0) / count * n as f64),
            }
        })
        .collect()
}

fn categories(spec: Spec, cats: &[(String, f64)], texts: &[String]) -> DistResult {
    let n = texts.len() as u64;
    let mut bins: Vec<Bin> = cats
        .iter()
        .map(|(name, p)| Bin {
            label: name.clone(),
            lo: 0.0,
            hi: 0.0,
            count: 0,
            expected: Some(p * n as f64),
        })
        .collect();
    let mut other = 0u64;
    for t in texts {
        match bins.iter_mut().find(|b| &b.label == t) {
            Some(b) => b.count += 1,
            None => other += 1,
        }
    }
    if other > 0 {
        bins.push(Bin {
            label: "other".into(),
            lo: 0.0,
            hi: 0.0,
            count: other,
            expected: Some(0.0),
        });
    }
    let mut r = DistResult {
        spec,
        n,
        min: None,
        max: None,
        in_range: Some(other == 0),
        out_of_range: other,
        p_value: None,
        test: String::new(),
        rate: None,
        bins: Vec::new(),
    };
    if cats.len() > 1 && texts.len() >= MIN_TESTED && other == 0 {
        let (stat, df, p) = chi_square(&bins);
        r.p_value = Some(p);
        r.test = format!("chi-square = {stat:.2}, {df} df, p = {}", fmt_p(p));
    } else if other > 0 {
        r.test = format!("{other} values outside the configured orders");
    } else {
        r.test = format!("fewer than {MIN_TESTED} values or one category: not tested");
    }
    r.bins = bins;
    r
}

/// Pearson's chi-square over bins with an expected count: statistic, degrees of
/// freedom, p-value.
fn chi_square(bins: &[Bin]) -> (f64, usize, f64) {
    let used: Vec<&Bin> = bins
        .iter()
        .filter(|b| b.expected.is_some_and(|e| e > 0.0))
        .collect();
    let stat: f64 = used
        .iter()
        .map(|b| {
            let e = b.expected.unwrap_or(0.0);
            (b.count as f64 - e).powi(2) / e
        })
        .sum();
    let df = used.len().saturating_sub(1).max(1);
    (stat, df, chi_square_sf(stat, df as f64))
}

/// P(X >= x) for a chi-square variable with `df` degrees of freedom: the regularised
/// upper incomplete gamma function Q(df/2, x/2).
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(df / 2.0, x / 2.0)
}

/// Q(a, x) by its series (x < a + 1) or continued fraction (Numerical Recipes 6.2).
fn gamma_q(a: f64, x: f64) -> f64 {
    let ln_gamma_a = libm::lgamma(a);
    if x < a + 1.0 {
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        let p = sum * (-x + a * x.ln() - ln_gamma_a).exp();
        (1.0 - p).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        ((-x + a * x.ln() - ln_gamma_a).exp() * h).clamp(0.0, 1.0)
    }
}

/// Exact two-sided binomial test: the probability of an outcome no more likely than
/// `k` successes in `n` draws with probability `p`.
pub fn binomial_two_sided(k: u64, n: u64, p: f64) -> f64 {
    if p <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    if p >= 1.0 {
        return if k == n { 1.0 } else { 0.0 };
    }
    let nf = n as f64;
    let ln_choose = |i: u64| {
        let i = i as f64;
        libm::lgamma(nf + 1.0) - libm::lgamma(i + 1.0) - libm::lgamma(nf - i + 1.0)
    };
    let ln_pmf = |i: u64| ln_choose(i) + i as f64 * p.ln() + (nf - i as f64) * (1.0 - p).ln();
    let observed = ln_pmf(k);
    let mut total = 0.0;
    for i in 0..=n {
        let l = ln_pmf(i);
        // A relative tolerance, as R's binom.test, so ties count as "as likely".
        if l <= observed + 1e-7 {
            total += l.exp();
        }
    }
    total.min(1.0)
}

/// Wilson score interval for `k` of `n` at normal quantile `z`.
pub fn wilson(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (nf, phat) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / nf;
    let centre = (phat + z * z / (2.0 * nf)) / denom;
    let half = z * (phat * (1.0 - phat) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A number with at most 4 decimals, trailing zeros dropped.
pub fn fmt_num(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A p-value: 4 decimals, or `< 0.0001`.
pub fn fmt_p(p: f64) -> String {
    if p < 0.0001 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_survival_matches_tables() {
        // Standard table values: chi2(1) 3.841 -> 0.05; chi2(9) 27.877 -> 0.001;
        // chi2(2) has sf exp(-x/2).
        assert!((chi_square_sf(3.841, 1.0) - 0.05).abs() < 1e-3);
        assert!((chi_square_sf(27.877, 9.0) - 0.001).abs() < 1e-5);
        assert!((chi_square_sf(4.0, 2.0) - (-2.0f64).exp()).abs() < 1e-12);
        assert!((chi_square_sf(0.5, 2.0) - (-0.25f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn binomial_test_matches_known_values() {
        // R: binom.test(7, 10, 0.5)$p.value = 0.34375; binom.test(0, 10, 0.5) = 0.001953125.
        assert!((binomial_two_sided(7, 10, 0.5) - 0.34375).abs() < 1e-9);
        assert!((binomial_two_sided(0, 10, 0.5) - 0.001953125).abs() < 1e-12);
        // Summed by hand (Python, math.comb): outcomes of 20 draws at p = 0.3 no more
        // likely than 2 successes have total probability 0.0526279487.
        assert!((binomial_two_sided(2, 20, 0.3) - 0.052_627_948_7).abs() < 1e-9);
    }

    #[test]
    fn uniform_values_pass_and_a_wrong_range_fails() {
        let spec = Spec {
            column: "c".into(),
            expr: "c".into(),
            rule: String::new(),
            expected: Expected::Uniform {
                lo: 0.8,
                hi: 1.2,
                integer: false,
            },
        };
        let good: Vec<f64> = (0..1000)
            .map(|i| 0.8 + 0.4 * (i as f64 + 0.5) / 1000.0)
            .collect();
        let r = evaluate(spec.clone(), Values::Numbers(good));
        assert_eq!(r.bins.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert!(r.passes(), "{r:?}");
        // Values squeezed into [0.9, 1.1]: in range, but the fit fails.
        let narrow: Vec<f64> = (0..1000).map(|i| 0.9 + 0.2 * i as f64 / 1000.0).collect();
        let r = evaluate(spec.clone(), Values::Numbers(narrow));
        assert_eq!(r.in_range, Some(true));
        assert!(!r.passes());
        // One value outside the range fails the range check.
        let r = evaluate(spec, Values::Numbers(vec![1.0, 1.3]));
        assert_eq!(r.out_of_range, 1);
        assert!(!r.passes());
    }

    #[test]
    fn integer_uniform_bins_expect_their_share_of_integers() {
        let spec = Spec {
            column: "x".into(),
            expr: "x".into(),
            rule: String::new(),
            expected: Expected::Uniform {
                lo: 0.0,
                hi: 180.0,
                integer: true,
            },
        };
        let v: Vec<f64> = (0..=180).map(f64::from).collect();
        let r = evaluate(spec, Values::Numbers(v));
        // Each bin's expected count is the number of integers it holds.
        for b in &r.bins {
            assert_eq!(b.count as f64, b.expected.unwrap(), "{b:?}");
        }
    }

    #[test]
    fn jitter_orders_are_all_permutations() {
        let p = permutations(&[ColorOp::Brightness, ColorOp::Contrast, ColorOp::Saturation]);
        assert_eq!(p.len(), 6);
        assert!(p.contains(&"contrast,saturation,brightness".to_string()));
    }
}
