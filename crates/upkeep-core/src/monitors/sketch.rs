//! A mergeable latency sketch (DDSketch-style): values fall into logarithmic buckets
//! `(γ^(i-1), γ^i]` with γ = 1.02, so any quantile it answers is within 1 % of the true value, and two
//! sketches merge by adding bucket counts, exactly as if every value had gone into one sketch. That is
//! what lets minute rollups become hours and days, and a year's p99 come out of 365 day rows.
//!
//! Buckets are kept sparse and sorted. The byte encoding is compact: a version byte, then varints of the
//! zero-bucket count, the number of buckets, and per bucket the (zig-zag) index delta and the count. A
//! sketch with one value takes 6 bytes; a day of varied latency a few hundred.

/// The ratio between bucket bounds.
pub const GAMMA: f64 = 1.02;

/// The relative accuracy that follows from [`GAMMA`]: (γ − 1) / (γ + 1) ≈ 0.99 %.
pub const RELATIVE_ACCURACY: f64 = (GAMMA - 1.0) / (GAMMA + 1.0);

/// Values below this (in ms) count as zero: sub-microsecond latency is noise.
const MIN_VALUE: f64 = 1e-3;
/// Values above this are clamped (about 31 years in ms), which keeps indices small.
const MAX_VALUE: f64 = 1e12;

const VERSION: u8 = 1;

/// Why stored sketch bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid latency sketch bytes: {0}")]
pub struct SketchError(&'static str);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencySketch {
    zero: u64,
    /// `(bucket index, count)`, sorted by index, counts above zero.
    buckets: Vec<(i32, u64)>,
    count: u64,
}

fn ln_gamma() -> f64 {
    GAMMA.ln()
}

/// The bucket of a positive value: `ceil(log_γ(value))`.
fn index_of(value: f64) -> i32 {
    let index = (value.ln() / ln_gamma()).ceil();
    // Bounded by MIN_VALUE and MAX_VALUE to about ±1,400, so the conversion is exact.
    index as i32
}

/// The value a bucket stands for: the point with equal relative distance to both bounds.
fn value_of(index: i32) -> f64 {
    2.0 * GAMMA.powi(index) / (GAMMA + 1.0)
}

impl LatencySketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one value in milliseconds. Negative and NaN values count as zero.
    pub fn insert(&mut self, ms: f64) {
        self.insert_n(ms, 1);
    }

    /// Add `n` equal values.
    pub fn insert_n(&mut self, ms: f64, n: u64) {
        if n == 0 {
            return;
        }
        self.count = self.count.saturating_add(n);
        if ms.is_nan() || ms < MIN_VALUE {
            self.zero = self.zero.saturating_add(n);
            return;
        }
        let index = index_of(ms.min(MAX_VALUE));
        match self.buckets.binary_search_by_key(&index, |&(i, _)| i) {
            Ok(at) => self.buckets[at].1 = self.buckets[at].1.saturating_add(n),
            Err(at) => self.buckets.insert(at, (index, n)),
        }
    }

    /// Add every value of `other`, as if they had been inserted here.
    pub fn merge(&mut self, other: &LatencySketch) {
        if other.count == 0 {
            return;
        }
        self.zero = self.zero.saturating_add(other.zero);
        self.count = self.count.saturating_add(other.count);
        let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let mut mine = self.buckets.iter().copied().peekable();
        let mut theirs = other.buckets.iter().copied().peekable();
        loop {
            let next = match (mine.peek().copied(), theirs.peek().copied()) {
                (Some((a, m)), Some((b, t))) if a == b => {
                    mine.next();
                    theirs.next();
                    (a, m.saturating_add(t))
                }
                (Some((a, _)), Some((b, _))) if b < a => match theirs.next() {
                    Some(bucket) => bucket,
                    None => break,
                },
                (Some(_), _) => match mine.next() {
                    Some(bucket) => bucket,
                    None => break,
                },
                (None, Some(_)) => match theirs.next() {
                    Some(bucket) => bucket,
                    None => break,
                },
                (None, None) => break,
            };
            merged.push(next);
        }
        self.buckets = merged;
    }

    /// How many values went in.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The value at quantile `q` (0 ≤ q ≤ 1), within [`RELATIVE_ACCURACY`] of the value of rank
    /// `⌊q·(n−1)⌋` among the inserted values; `None` when empty or `q` is out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        // Ranks are 0-based; counts are far below 2^53, so the float arithmetic is exact enough.
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = self.zero;
        if seen > rank {
            return Some(0.0);
        }
        for &(index, count) in &self.buckets {
            seen = seen.saturating_add(count);
            if seen > rank {
                return Some(value_of(index));
            }
        }
        self.buckets.last().map(|&(index, _)| value_of(index))
    }

    /// The compact encoding (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.buckets.len() * 3);
        out.push(VERSION);
        write_varint(&mut out, self.zero);
        write_varint(&mut out, self.buckets.len() as u64);
        let mut previous = 0i64;
        for &(index, count) in &self.buckets {
            let index = i64::from(index);
            write_varint(&mut out, zigzag(index - previous));
            write_varint(&mut out, count);
            previous = index;
        }
        out
    }

    /// Decode [`LatencySketch::to_bytes`]. Empty input is the empty sketch.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        let Some((&version, mut rest)) = bytes.split_first() else {
            return Ok(Self::default());
        };
        if version != VERSION {
            return Err(SketchError("unknown version"));
        }
        let zero = read_varint(&mut rest)?;
        let buckets = read_varint(&mut rest)?;
        // Every bucket takes at least two bytes, which bounds the allocation by the input.
        if buckets > rest.len() as u64 / 2 {
            return Err(SketchError("more buckets than bytes"));
        }
        let mut sketch = Self {
            zero,
            buckets: Vec::with_capacity(usize::try_from(buckets).unwrap_or(0)),
            count: zero,
        };
        let mut previous = 0i64;
        for position in 0..buckets {
            let delta = unzigzag(read_varint(&mut rest)?);
            if position > 0 && delta <= 0 {
                return Err(SketchError("bucket indices out of order"));
            }
            let index = previous
                .checked_add(delta)
                .and_then(|index| i32::try_from(index).ok())
                .ok_or(SketchError("bucket index out of range"))?;
            let count = read_varint(&mut rest)?;
            if count == 0 {
                return Err(SketchError("empty bucket"));
            }
            sketch.buckets.push((index, count));
            sketch.count = sketch.count.saturating_add(count);
            previous = i64::from(index);
        }
        if !rest.is_empty() {
            return Err(SketchError("trailing bytes"));
        }
        Ok(sketch)
    }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(input: &mut &[u8]) -> Result<u64, SketchError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some((&byte, rest)) = input.split_first() else {
            return Err(SketchError("truncated"));
        };
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(SketchError("varint too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact quantile the sketch promises to approximate: the value of rank ⌊q·(n−1)⌋.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    fn assert_close(values: &[f64]) {
        let mut sketch = LatencySketch::new();
        for &value in values {
            sketch.insert(value);
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sketch.count(), values.len() as u64);
        for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let want = exact(&sorted, q);
            let got = sketch.quantile(q).unwrap_or(f64::NAN);
            let error = if want == 0.0 {
                got.abs()
            } else {
                (got - want).abs() / want
            };
            assert!(
                error <= 0.01,
                "q={q}: sketch says {got}, exact is {want} (relative error {error})"
            );
        }
    }

    /// A small deterministic generator, so the tests need no random crate and never flake.
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 11) as f64) / ((1u64 << 53) as f64)
    }

    #[test]
    fn quantiles_of_a_uniform_spread_are_within_one_percent() {
        let mut seed = 7;
        let values: Vec<f64> = (0..20_000).map(|_| 5.0 + 995.0 * lcg(&mut seed)).collect();
        assert_close(&values);
        // Integer milliseconds, as check results store them.
        let integers: Vec<f64> = (1..=5_000).map(f64::from).collect();
        assert_close(&integers);
    }

    #[test]
    fn quantiles_of_a_long_tail_are_within_one_percent() {
        let mut seed = 42;
        let values: Vec<f64> = (0..20_000)
            .map(|_| 20.0 - 80.0 * (1.0 - lcg(&mut seed)).ln())
            .collect();
        assert_close(&values);
    }

    #[test]
    fn a_constant_and_zeros_come_back() {
        assert_close(&[250.0; 1_000]);
        let mut with_zeros = vec![0.0; 300];
        with_zeros.extend([12.0; 700]);
        assert_close(&with_zeros);
        let mut sketch = LatencySketch::new();
        sketch.insert(0.0);
        assert_eq!(sketch.quantile(0.5), Some(0.0));
    }

    #[test]
    fn merging_equals_inserting_everything_into_one() {
        let mut seed = 3;
        let mut a = LatencySketch::new();
        let mut b = LatencySketch::new();
        let mut all = LatencySketch::new();
        for n in 0..5_000 {
            let value = 1.0 + 3_000.0 * lcg(&mut seed).powi(3);
            if n % 3 == 0 { &mut a } else { &mut b }.insert(value);
            all.insert(value);
        }
        a.insert(0.0);
        all.insert(0.0);
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, all);
        let mut other_way = b.clone();
        other_way.merge(&a);
        assert_eq!(other_way, all);
        let mut with_empty = all.clone();
        with_empty.merge(&LatencySketch::new());
        assert_eq!(with_empty, all);
        let mut into_empty = LatencySketch::new();
        into_empty.merge(&all);
        assert_eq!(into_empty, all);
    }

    #[test]
    fn bytes_round_trip_compactly() {
        let mut seed = 11;
        let mut sketch = LatencySketch::new();
        for _ in 0..10_000 {
            sketch.insert(30.0 + 400.0 * lcg(&mut seed));
        }
        sketch.insert_n(0.0, 3);
        sketch.insert(0.5);
        let bytes = sketch.to_bytes();
        assert_eq!(LatencySketch::from_bytes(&bytes), Ok(sketch.clone()));
        // About two to four bytes per bucket.
        assert!(
            bytes.len() < sketch.buckets.len() * 4 + 8,
            "{} bytes",
            bytes.len()
        );

        let mut one = LatencySketch::new();
        one.insert(120.0);
        assert_eq!(one.to_bytes().len(), 6);
        assert_eq!(LatencySketch::from_bytes(&one.to_bytes()), Ok(one));
    }

    #[test]
    fn the_empty_sketch_answers_nothing() {
        let empty = LatencySketch::new();
        assert_eq!(empty.count(), 0);
        assert!(empty.is_empty());
        assert_eq!(empty.quantile(0.5), None);
        assert_eq!(
            LatencySketch::from_bytes(&empty.to_bytes()),
            Ok(empty.clone())
        );
        assert_eq!(LatencySketch::from_bytes(&[]), Ok(empty));
        let mut one = LatencySketch::new();
        one.insert(1.0);
        assert_eq!(one.quantile(1.5), None);
        assert_eq!(one.quantile(-0.1), None);
    }

    #[test]
    fn malformed_bytes_are_refused() {
        assert!(LatencySketch::from_bytes(&[2]).is_err());
        assert!(LatencySketch::from_bytes(&[1, 0]).is_err());
        assert!(LatencySketch::from_bytes(&[1, 0, 1, 2]).is_err());
        assert!(LatencySketch::from_bytes(&[1, 0, 1, 2, 0]).is_err());
        assert!(LatencySketch::from_bytes(&[1, 0, 2, 4, 1, 0, 1]).is_err());
        assert!(LatencySketch::from_bytes(&[1, 0, 0, 9]).is_err());
        assert!(LatencySketch::from_bytes(&[1, 0, 200, 1]).is_err());
        assert!(
            LatencySketch::from_bytes(&[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .is_err()
        );
    }

    #[test]
    fn varints_and_zigzag_round_trip() {
        for value in [
            0i64,
            1,
            -1,
            63,
            -64,
            1_000,
            -1_000,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
        ] {
            assert_eq!(unzigzag(zigzag(value)), value);
            let mut out = Vec::new();
            write_varint(&mut out, zigzag(value));
            let mut input = out.as_slice();
            assert_eq!(read_varint(&mut input), Ok(zigzag(value)));
            assert!(input.is_empty());
        }
    }
}
