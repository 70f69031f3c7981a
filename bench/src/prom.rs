//! Reads one histogram from a Prometheus text exposition and estimates
//! quantiles of the difference between two scrapes.

/// Cumulative bucket counts by upper bound (the last is `+Inf`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// The unlabelled histogram `name` in `text`.
pub fn histogram(text: &str, name: &str) -> Histogram {
    let mut h = Histogram::default();
    let bucket = format!("{name}_bucket{{");
    for line in text.lines() {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        if let Some(rest) = key.strip_prefix(&bucket) {
            let le = rest
                .split("le=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("");
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::NAN)
            };
            h.buckets.push((bound, v));
        } else if key == format!("{name}_sum") {
            h.sum = v;
        } else if key == format!("{name}_count") {
            h.count = v;
        }
    }
    h
}

impl Histogram {
    /// `self - before`, bucket by bucket.
    pub fn minus(&self, before: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|&(le, c)| {
                let b = before
                    .buckets
                    .iter()
                    .find(|(l, _)| *l == le)
                    .map_or(0.0, |(_, c)| *c);
                (le, c - b)
            })
            .collect();
        Histogram {
            buckets,
            sum: self.sum - before.sum,
            count: self.count - before.count,
        }
    }

    /// Quantile `q` (0..1), linearly interpolated inside its bucket, as
    /// Prometheus' `histogram_quantile` does.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count <= 0.0 {
            return f64::NAN;
        }
        let rank = q * self.count;
        let mut prev = (0.0, 0.0);
        for &(le, c) in &self.buckets {
            if c >= rank {
                if le.is_infinite() {
                    return prev.0;
                }
                let in_bucket = c - prev.1;
                if in_bucket <= 0.0 {
                    return le;
                }
                return prev.0 + (le - prev.0) * (rank - prev.1) / in_bucket;
            }
            prev = (le, c);
        }
        prev.0
    }

    /// Upper bound of the highest non-empty bucket.
    pub fn max_bound(&self) -> f64 {
        self.buckets
            .iter()
            .find(|(_, c)| *c >= self.count)
            .map_or(f64::INFINITY, |(le, _)| *le)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_interpolates() {
        let text = "x_bucket{le=\"0.001\"} 0\nx_bucket{le=\"0.005\"} 50\nx_bucket{le=\"0.01\"} 100\nx_bucket{le=\"+Inf\"} 100\nx_sum 0.4\nx_count 100\n";
        let h = histogram(text, "x");
        assert_eq!(h.count, 100.0);
        assert!((h.quantile(0.5) - 0.005).abs() < 1e-9);
        assert!((h.quantile(0.99) - 0.0099).abs() < 1e-9);
        assert_eq!(h.max_bound(), 0.01);
        let d = h.minus(&histogram(
            "x_bucket{le=\"0.001\"} 0\nx_bucket{le=\"0.005\"} 50\nx_bucket{le=\"0.01\"} 50\nx_bucket{le=\"+Inf\"} 50\nx_count 50\n",
            "x",
        ));
        assert_eq!(d.count, 50.0);
        assert!((d.quantile(0.5) - 0.0075).abs() < 1e-9);
    }
}
