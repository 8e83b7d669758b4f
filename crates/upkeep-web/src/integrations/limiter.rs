//! A token bucket per key, so one noisy integration key is slowed down without touching the others.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets are forgotten after this long unused, so the map stays bounded by active keys.
const IDLE_FORGET: Duration = Duration::from_secs(600);

pub struct KeyedLimiter<K> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Eq + Hash + Clone> KeyedLimiter<K> {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take `cost` tokens from `key`'s bucket; `Err(wait)` says how long until they would be there.
    pub fn take(&self, key: &K, cost: f64) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, last)| now.duration_since(*last) < IDLE_FORGET);
        }
        let (tokens, last) = buckets.entry(key.clone()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= cost {
            *tokens -= cost;
            Ok(())
        } else {
            // A rate of 0 never refills: ask for a retry in an hour rather than dividing by zero.
            Err(
                Duration::try_from_secs_f64((cost - *tokens) / self.per_second)
                    .unwrap_or(Duration::from_secs(3600))
                    .max(Duration::from_secs(1)),
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn one_key_running_dry_leaves_the_others_alone() {
        let limiter = KeyedLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(limiter.take(&1, 1.0).is_ok());
        }
        let wait = limiter.take(&1, 1.0).unwrap_err();
        assert!(wait >= Duration::from_secs(1));
        assert!(limiter.take(&2, 1.0).is_ok());
    }
}
