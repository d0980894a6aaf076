//! One route's health (SPEC section 10) as a state machine on a clock the
//! caller passes: whether an attempt may go now, when the breaker trips, when
//! a tripped route is probed, how much of its held deliveries the drain may
//! send, and which alerts each change raises. It performs no I/O: the route's
//! Durable Object keeps it as text between calls ([`Health::text`]) and
//! performs what [`Health::tick`] asks.

use serde_json::Value;

use super::alert::FAILED_ALERT_EVERY_MS;
use crate::json_writer::{count, numbers, JsonObject};
use crate::routes::{Breaker, RateLimit, Route, MAX_PROBE_SECONDS};

/// Where a route stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    /// By an operator.
    Paused,
    /// By the breaker.
    Tripped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Tripped => "tripped",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "paused" => Self::Paused,
            "tripped" => Self::Tripped,
            _ => Self::Active,
        }
    }
}

/// A route's options its health follows: none for a route gone from the
/// configuration, which then neither trips nor limits (its held deliveries
/// still drain, and each attempt says the route is gone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub breaker: Option<Breaker>,
    pub rate_limit: Option<RateLimit>,
}

impl From<&Route> for Limits {
    fn from(route: &Route) -> Self {
        Self {
            breaker: route.breaker,
            rate_limit: route.rate_limit,
        }
    }
}

/// A change an alert tells (SPEC section 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Tripped {
        reason: String,
    },
    Recovered,
    Paused,
    Resumed,
    /// Deliveries dead-lettered since the last such alert.
    Failed {
        count: u64,
    },
}

/// What the route's object does next, on its alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// Attempt the oldest held delivery as a probe; report with [`Health::probed`].
    Probe,
    /// Attempt this many held deliveries, oldest first; report with [`Health::settled`].
    Drain(u32),
    /// Nothing now; wake at this time (unix ms) if anything is held.
    Wait(i64),
    /// Nothing until a call comes.
    Idle,
}

/// Rate slots: admissions counted per 100 ms over the last 1.2 s, so any
/// second at the backend holds at most the limit, though an attempt admitted
/// to the consumer leaves later than one the drain makes (measured: up to
/// about 120 ms later under `wrangler dev`).
const SLOT_MS: i64 = 100;
const SLOTS: usize = 12;
/// An admission not settled within this is taken as lost (its isolate ended).
const IN_FLIGHT_STALE_MS: i64 = 120_000;
/// Most held deliveries one drain step attempts at once: an invocation's
/// simultaneous connections.
pub const DRAIN_AT_ONCE: u32 = 6;
const MINUTE_MS: i64 = 60_000;
/// How often a paused route that holds deliveries wakes its object.
const PAUSED_WAKE_MS: i64 = 3_600_000;

/// One route's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: State,
    /// When the state began (unix ms); `None` while it never changed.
    pub since_ms: Option<i64>,
    /// Consecutive failed attempts.
    failures: u32,
    /// Admitted attempts not yet settled.
    in_flight: u32,
    in_flight_at_ms: i64,
    /// The current wait between probes.
    probe_seconds: u64,
    next_probe_ms: i64,
    pub last_error: Option<String>,
    /// Admissions per slot, newest first; `slot` is the newest slot's number.
    slots: [u32; SLOTS],
    slot: i64,
    /// The last hour: (minute, delivered, failed).
    minutes: Vec<(i64, u64, u64)>,
    failed_unalerted: u64,
    failed_alert_ms: i64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            state: State::Active,
            since_ms: None,
            failures: 0,
            in_flight: 0,
            in_flight_at_ms: 0,
            probe_seconds: 0,
            next_probe_ms: 0,
            last_error: None,
            slots: [0; SLOTS],
            slot: 0,
            minutes: Vec::new(),
            failed_unalerted: 0,
            failed_alert_ms: i64::MIN / 2,
        }
    }
}

impl Health {
    /// Whether an attempt of a new or retried delivery may go now (taking a
    /// rate slot); if not, the delivery is held.
    pub fn admit(&mut self, route: Limits, now_ms: i64) -> bool {
        if self.state != State::Active || self.free(route, now_ms) == 0 {
            return false;
        }
        self.take(1, now_ms);
        true
    }

    /// How many attempts may start now: none while paused or tripped; while
    /// failing, no more than the breaker has left; within the rate limit.
    fn free(&mut self, route: Limits, now_ms: i64) -> u32 {
        if self.state != State::Active {
            return 0;
        }
        if now_ms - self.in_flight_at_ms > IN_FLIGHT_STALE_MS {
            self.in_flight = 0;
        }
        let mut free = u32::MAX;
        if let Some(breaker) = route.breaker.filter(|_| self.failures > 0) {
            // At least one: failures counted past the threshold (the breaker
            // was off, or lowered) trip it on the next, never hold forever.
            free = breaker
                .failures
                .saturating_sub(self.failures)
                .max(1)
                .saturating_sub(self.in_flight);
        }
        if let Some(limit) = route.rate_limit {
            self.shift(now_ms);
            let used: u32 = self.slots.iter().sum();
            free = free.min(limit.per_second.saturating_sub(used));
        }
        free
    }

    fn take(&mut self, count: u32, now_ms: i64) {
        self.shift(now_ms);
        self.slots[0] += count;
        self.in_flight += count;
        self.in_flight_at_ms = now_ms;
    }

    /// Moves the slots on to `now_ms`'s.
    fn shift(&mut self, now_ms: i64) {
        let slot = now_ms.div_euclid(SLOT_MS);
        let by = slot - self.slot;
        if by <= 0 {
            return;
        }
        let by = usize::try_from(by).unwrap_or(SLOTS).min(SLOTS);
        self.slots.rotate_right(by);
        self.slots[..by].fill(0);
        self.slot = slot;
    }

    /// Admitted attempts ended: `outcomes` in the order they ended, `true`
    /// delivered; `error` says what the last failure was. The breaker trips
    /// on its `failures`-th consecutive failure.
    pub fn settled(
        &mut self,
        route: Limits,
        now_ms: i64,
        outcomes: &[bool],
        error: Option<&str>,
    ) -> Vec<Change> {
        let count = u32::try_from(outcomes.len()).unwrap_or(u32::MAX);
        self.in_flight = self.in_flight.saturating_sub(count);
        let delivered = outcomes.iter().filter(|&&ok| ok).count() as u64;
        self.count(now_ms, delivered, outcomes.len() as u64 - delivered);
        if let Some(error) = error.filter(|_| outcomes.contains(&false)) {
            self.last_error = Some(error.to_string());
        }
        let mut changes = Vec::new();
        for &delivered in outcomes {
            if delivered {
                self.failures = 0;
                continue;
            }
            self.failures = self.failures.saturating_add(1);
            match route.breaker {
                Some(breaker)
                    if self.state == State::Active && self.failures >= breaker.failures =>
                {
                    self.state = State::Tripped;
                    self.since_ms = Some(now_ms);
                    self.probe_seconds = breaker.probe_seconds;
                    self.next_probe_ms = now_ms + seconds_ms(breaker.probe_seconds);
                    changes.push(Change::Tripped {
                        reason: format!(
                            "{} consecutive failed attempts; last: {}",
                            self.failures,
                            self.last_error.as_deref().unwrap_or("failed")
                        ),
                    });
                }
                _ => {}
            }
        }
        changes
    }

    /// Admissions taken for attempts that were not made (a drain found fewer
    /// held deliveries than it was given room for): no longer in flight.
    pub fn unattempted(&mut self, count: u32) {
        self.in_flight = self.in_flight.saturating_sub(count);
    }

    /// The route is gone from the configuration (or is no HTTP route): what
    /// it holds drains, each delivery then told the route is gone. Active
    /// again without an alert: no operator or backend changed anything.
    pub fn released(&mut self, now_ms: i64) {
        if self.state != State::Active {
            self.become_active(now_ms);
        }
    }

    /// A probe ended. Delivered: the route is active again and the rest drain.
    /// Failed: the wait doubles, up to [`MAX_PROBE_SECONDS`].
    pub fn probed(&mut self, now_ms: i64, delivered: bool, error: Option<&str>) -> Vec<Change> {
        if self.state != State::Tripped {
            return Vec::new();
        }
        if delivered {
            self.count(now_ms, 1, 0);
            self.become_active(now_ms);
            return vec![Change::Recovered];
        }
        self.count(now_ms, 0, 1);
        if let Some(error) = error {
            self.last_error = Some(error.to_string());
        }
        self.probe_seconds = (self.probe_seconds * 2).clamp(1, MAX_PROBE_SECONDS);
        self.next_probe_ms = now_ms + seconds_ms(self.probe_seconds);
        Vec::new()
    }

    fn become_active(&mut self, now_ms: i64) {
        self.state = State::Active;
        self.since_ms = Some(now_ms);
        self.failures = 0;
        self.in_flight = 0;
    }

    /// An operator paused the route: nothing is attempted until resumed.
    pub fn pause(&mut self, now_ms: i64) -> Vec<Change> {
        if self.state == State::Paused {
            return Vec::new();
        }
        self.state = State::Paused;
        self.since_ms = Some(now_ms);
        vec![Change::Paused]
    }

    /// An operator resumed the route (paused or tripped): active again.
    pub fn resume(&mut self, now_ms: i64) -> Vec<Change> {
        if self.state == State::Active {
            return Vec::new();
        }
        self.become_active(now_ms);
        vec![Change::Resumed]
    }

    /// Deliveries of the route were dead-lettered: told at most once per
    /// [`FAILED_ALERT_EVERY_MS`], with how many since.
    pub fn dead_lettered(&mut self, now_ms: i64, count: u64) -> Vec<Change> {
        self.failed_unalerted = self.failed_unalerted.saturating_add(count);
        self.failed_alert_due(now_ms)
    }

    fn failed_alert_due(&mut self, now_ms: i64) -> Vec<Change> {
        if self.failed_unalerted == 0 || now_ms < self.failed_alert_ms + FAILED_ALERT_EVERY_MS {
            return Vec::new();
        }
        self.failed_alert_ms = now_ms;
        vec![Change::Failed {
            count: std::mem::take(&mut self.failed_unalerted),
        }]
    }

    /// What the alarm does now, with `held` deliveries held, and the alerts
    /// that came due. A drain's attempts are admitted here.
    pub fn tick(&mut self, route: Limits, now_ms: i64, held: u64) -> (Tick, Vec<Change>) {
        let changes = self.failed_alert_due(now_ms);
        let tick = match self.state {
            State::Paused if held == 0 => Tick::Idle,
            // Looked at again now and then: a route removed from the
            // configuration while paused is released (`call::run`).
            State::Paused => Tick::Wait(now_ms + PAUSED_WAKE_MS),
            State::Tripped if held == 0 => Tick::Idle,
            State::Tripped if now_ms >= self.next_probe_ms => {
                // Not again until it ends or its time passes once more.
                self.next_probe_ms = now_ms + seconds_ms(self.probe_seconds.max(1));
                Tick::Probe
            }
            State::Tripped => Tick::Wait(self.next_probe_ms),
            State::Active if held == 0 => Tick::Idle,
            State::Active => {
                let free = self.free(route, now_ms).min(DRAIN_AT_ONCE);
                let count = u32::try_from(held).unwrap_or(u32::MAX).min(free);
                if count > 0 {
                    self.take(count, now_ms);
                    Tick::Drain(count)
                } else {
                    Tick::Wait(self.next_free_ms(now_ms))
                }
            }
        };
        let tick = match tick {
            Tick::Idle if self.failed_unalerted > 0 => {
                Tick::Wait(self.failed_alert_ms + FAILED_ALERT_EVERY_MS)
            }
            tick => tick,
        };
        (tick, changes)
    }

    /// When a drain that found no room tries again: the next rate slot, or a
    /// second on while the breaker's room is taken by attempts in flight.
    fn next_free_ms(&self, now_ms: i64) -> i64 {
        if self.failures > 0 && self.in_flight > 0 {
            now_ms + 1000
        } else {
            (now_ms.div_euclid(SLOT_MS) + 1) * SLOT_MS
        }
    }

    /// Delivered and failed attempts of the last hour.
    pub fn last_hour(&self, now_ms: i64) -> (u64, u64) {
        let from = now_ms.div_euclid(MINUTE_MS) - 59;
        self.minutes
            .iter()
            .filter(|(minute, ..)| *minute >= from)
            .fold((0, 0), |(d, f), (_, delivered, failed)| {
                (d + delivered, f + failed)
            })
    }

    fn count(&mut self, now_ms: i64, delivered: u64, failed: u64) {
        let minute = now_ms.div_euclid(MINUTE_MS);
        self.minutes.retain(|(at, ..)| *at > minute - 60);
        match self.minutes.last_mut() {
            Some((at, d, f)) if *at == minute => {
                *d += delivered;
                *f += failed;
            }
            _ => self.minutes.push((minute, delivered, failed)),
        }
    }

    /// The admin API's view (SPEC section 10), with `held` deliveries held;
    /// `since` in unix ms (the admin API writes it as RFC 3339).
    pub fn report(&self, now_ms: i64, held: u64) -> String {
        let (delivered, failed) = self.last_hour(now_ms);
        JsonObject::new()
            .text("state", self.state.as_str())
            .number_or_null("since", self.since_ms)
            .number("held", count(held))
            .number("delivered_1h", count(delivered))
            .number("failed_1h", count(failed))
            .text_or_null("last_error", self.last_error.as_deref())
            .end()
    }

    /// As the route's object keeps it: a JSON object written by hand, each
    /// count or time a number; `slots` is the newest slot's number, then each
    /// slot's admissions, newest first.
    pub fn text(&self) -> String {
        let mut slots = vec![self.slot];
        slots.extend(self.slots.iter().map(|&n| i64::from(n)));
        let mut minutes = String::from("[");
        for (i, &(minute, delivered, failed)) in self.minutes.iter().enumerate() {
            if i > 0 {
                minutes.push(',');
            }
            minutes.push_str(&numbers(&[minute, count(delivered), count(failed)]));
        }
        minutes.push(']');
        JsonObject::new()
            .text("state", self.state.as_str())
            .number_or_null("since", self.since_ms)
            .number("failures", self.failures.into())
            .raw(
                "in_flight",
                &numbers(&[self.in_flight.into(), self.in_flight_at_ms]),
            )
            .raw(
                "probe",
                &numbers(&[count(self.probe_seconds), self.next_probe_ms]),
            )
            .text_or_null("last_error", self.last_error.as_deref())
            .raw("slots", &numbers(&slots))
            .raw("minutes", &minutes)
            .raw(
                "failed",
                &numbers(&[count(self.failed_unalerted), self.failed_alert_ms]),
            )
            .end()
    }

    /// Read back from [`Health::text`]; anything unreadable starts afresh
    /// (active), as a route never seen.
    pub fn from_text(text: &str) -> Self {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        // The `at`-th number of the field `name` (an array), or the field itself.
        let number = |name: &str, at: Option<usize>| {
            let field = value.get(name)?;
            match at {
                Some(at) => field.get(at),
                None => Some(field),
            }?
            .as_i64()
        };
        let uint = |name: &str, at: Option<usize>| {
            number(name, at)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        };
        let small =
            |name: &str, at: Option<usize>| u32::try_from(uint(name, at)).unwrap_or(u32::MAX);
        let fresh = Self::default();
        let mut slots = [0; SLOTS];
        for (i, slot) in slots.iter_mut().enumerate() {
            *slot = small("slots", Some(i + 1));
        }
        let minutes = value
            .get("minutes")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|m| {
                        Some((
                            m.get(0)?.as_i64()?,
                            m.get(1)?.as_u64()?,
                            m.get(2)?.as_u64()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            state: State::parse(value.get("state").and_then(Value::as_str).unwrap_or("")),
            since_ms: number("since", None),
            failures: small("failures", None),
            in_flight: small("in_flight", Some(0)),
            in_flight_at_ms: number("in_flight", Some(1)).unwrap_or(0),
            probe_seconds: uint("probe", Some(0)),
            next_probe_ms: number("probe", Some(1)).unwrap_or(0),
            last_error: value
                .get("last_error")
                .and_then(Value::as_str)
                .map(str::to_string),
            slots,
            slot: number("slots", Some(0)).unwrap_or(0),
            minutes,
            failed_unalerted: uint("failed", Some(0)),
            failed_alert_ms: number("failed", Some(1)).unwrap_or(fresh.failed_alert_ms),
        }
    }
}

fn seconds_ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(breaker: Option<Breaker>, rate: Option<u32>) -> Limits {
        Limits {
            breaker,
            rate_limit: rate.map(|per_second| RateLimit { per_second }),
        }
    }

    fn breaker(failures: u32, probe_seconds: u64) -> Option<Breaker> {
        Some(Breaker {
            failures,
            probe_seconds,
        })
    }

    /// Admits one attempt and settles it as `delivered`.
    fn attempt(health: &mut Health, route: Limits, now: i64, delivered: bool) -> Vec<Change> {
        assert!(health.admit(route, now), "admitted at {now}");
        health.settled(route, now, &[delivered], Some("HTTP 503"))
    }

    #[test]
    fn the_route_trips_on_its_failures_th_consecutive_failure_and_holds_what_comes() {
        let route = route(breaker(3, 60), None);
        let mut health = Health::default();
        assert!(attempt(&mut health, route, 0, false).is_empty());
        assert!(attempt(&mut health, route, 1, false).is_empty());
        // A delivery in between starts the count again.
        assert!(attempt(&mut health, route, 2, true).is_empty());
        assert!(attempt(&mut health, route, 3, false).is_empty());
        assert!(attempt(&mut health, route, 4, false).is_empty());
        let changes = attempt(&mut health, route, 5, false);
        assert_eq!(health.state, State::Tripped);
        assert_eq!(health.since_ms, Some(5));
        assert!(
            matches!(&changes[..], [Change::Tripped { reason }] if reason.contains("3 consecutive") && reason.contains("HTTP 503"))
        );
        assert!(!health.admit(route, 6));
        assert_eq!(health.last_error.as_deref(), Some("HTTP 503"));
    }

    #[test]
    fn failures_counted_past_a_breaker_turned_on_or_lowered_trip_it_on_the_next() {
        // Twelve failures while the breaker was off, then it is turned on at 10.
        let off = route(None, None);
        let mut health = Health::default();
        for now in 0..12 {
            assert!(attempt(&mut health, off, now, false).is_empty());
        }
        let on = route(breaker(10, 60), None);
        // One attempt at a time goes: never none, which would hold forever.
        assert!(health.admit(on, 20));
        assert!(!health.admit(on, 20));
        let changes = health.settled(on, 21, &[false], Some("HTTP 503"));
        assert_eq!(health.state, State::Tripped);
        assert!(matches!(&changes[..], [Change::Tripped { .. }]));
        // Delivered instead, the count starts again.
        let mut health = Health::default();
        for now in 0..12 {
            attempt(&mut health, off, now, false);
        }
        assert!(attempt(&mut health, on, 20, true).is_empty());
        assert_eq!(health.state, State::Active);
        assert!(health.admit(on, 21) && health.admit(on, 21));
    }

    #[test]
    fn admissions_a_drain_did_not_use_are_no_longer_in_flight() {
        let route = route(breaker(3, 60), None);
        let mut health = Health::default();
        attempt(&mut health, route, 0, false);
        // Room for two while one failure is counted; the drain finds none.
        assert_eq!(health.tick(route, 1, 6).0, Tick::Drain(2));
        assert_eq!(health.tick(route, 2, 6).0, Tick::Wait(1002));
        health.unattempted(2);
        assert_eq!(health.tick(route, 3, 6).0, Tick::Drain(2));
    }

    #[test]
    fn a_released_route_is_active_again_without_an_alert() {
        let route = route(breaker(1, 60), None);
        let mut paused = Health::default();
        assert!(!paused.pause(0).is_empty());
        paused.released(5);
        assert_eq!((paused.state, paused.since_ms), (State::Active, Some(5)));
        assert_eq!(paused.tick(route, 6, 3).0, Tick::Drain(3));
        let mut tripped = Health::default();
        attempt(&mut tripped, route, 0, false);
        assert_eq!(tripped.state, State::Tripped);
        tripped.released(7);
        assert_eq!(tripped.state, State::Active);
        // Active already: nothing changes.
        let mut active = Health::default();
        active.released(9);
        assert_eq!(active.since_ms, None);
    }

    #[test]
    fn without_a_breaker_the_route_never_trips() {
        let route = route(None, None);
        let mut health = Health::default();
        for now in 0..100 {
            assert!(attempt(&mut health, route, now, false).is_empty());
        }
        assert_eq!(health.state, State::Active);
    }

    #[test]
    fn while_failing_no_more_attempts_go_than_the_breaker_has_left() {
        let route = route(breaker(3, 60), None);
        let mut health = Health::default();
        // Healthy: any number go at once.
        for _ in 0..50 {
            assert!(health.admit(route, 0));
        }
        health.settled(route, 1, &[true; 50], None);
        attempt(&mut health, route, 2, false);
        // One failure: two more may be in flight, no third.
        assert!(health.admit(route, 3));
        assert!(health.admit(route, 3));
        assert!(!health.admit(route, 3));
        // An admission never settled stops counting once stale.
        assert!(health.admit(route, 3 + IN_FLIGHT_STALE_MS + 1));
    }

    #[test]
    fn a_tripped_route_is_probed_every_probe_seconds_doubling_to_15_minutes() {
        let route = route(breaker(1, 60), None);
        let mut health = Health::default();
        attempt(&mut health, route, 0, false);
        assert_eq!(health.state, State::Tripped);
        // Nothing held: nothing to probe with.
        assert_eq!(health.tick(route, 60_000, 0).0, Tick::Idle);
        assert_eq!(health.tick(route, 59_999, 5).0, Tick::Wait(60_000));
        let mut now = 60_000;
        let mut waits = Vec::new();
        for _ in 0..7 {
            assert_eq!(health.tick(route, now, 5).0, Tick::Probe);
            // A second alarm before the probe ends does not probe twice.
            assert!(matches!(health.tick(route, now, 5).0, Tick::Wait(_)));
            assert!(health.probed(now, false, Some("timeout")).is_empty());
            let Tick::Wait(next) = health.tick(route, now, 5).0 else {
                panic!("a wait")
            };
            waits.push((next - now) / 1000);
            now = next;
        }
        assert_eq!(waits, [120, 240, 480, 900, 900, 900, 900]);
        assert_eq!(health.last_error.as_deref(), Some("timeout"));
        // A delivered probe: active again, and the rest drain.
        assert_eq!(health.tick(route, now, 5).0, Tick::Probe);
        assert_eq!(health.probed(now, true, None), [Change::Recovered]);
        assert_eq!(health.state, State::Active);
        assert_eq!(health.tick(route, now, 5).0, Tick::Drain(5));
    }

    #[test]
    fn pause_and_resume_hold_and_release_every_delivery() {
        let route = route(breaker(10, 60), None);
        let mut health = Health::default();
        assert_eq!(health.pause(10), [Change::Paused]);
        assert!(health.pause(11).is_empty(), "paused once");
        assert!(!health.admit(route, 12));
        // Nothing to do but look again in an hour (the route may be removed).
        assert_eq!(health.tick(route, 12, 100).0, Tick::Wait(12 + 3_600_000));
        assert_eq!(health.tick(route, 12, 0).0, Tick::Idle);
        assert_eq!(health.resume(20), [Change::Resumed]);
        assert!(health.resume(21).is_empty());
        assert_eq!(health.since_ms, Some(20));
        // The held drain, at most DRAIN_AT_ONCE a step, oldest first.
        assert_eq!(health.tick(route, 22, 100).0, Tick::Drain(DRAIN_AT_ONCE));
        assert_eq!(health.tick(route, 22, 2).0, Tick::Drain(2));
        assert_eq!(health.tick(route, 22, 0).0, Tick::Idle);
        // An operator resumes a tripped route too.
        let tight = super::tests::route(breaker(1, 60), None);
        attempt(&mut health, tight, 30, false);
        assert_eq!(health.state, State::Tripped);
        assert_eq!(health.resume(31), [Change::Resumed]);
        assert!(health.admit(tight, 32));
    }

    #[test]
    fn a_rate_limited_route_never_gets_more_than_its_limit_in_any_second() {
        let route = route(None, Some(5));
        let mut health = Health::default();
        let mut admitted = Vec::new();
        // Asked every 10 ms for 10 s, by the consumer and the drain in turn.
        for now in (0..10_000).step_by(10) {
            if now % 20 == 0 {
                if health.admit(route, now) {
                    admitted.push(now);
                }
            } else if let (Tick::Drain(n), _) = health.tick(route, now, 1000) {
                admitted.extend(std::iter::repeat_n(now, n as usize));
            }
        }
        for &start in &admitted {
            let within = admitted
                .iter()
                .filter(|&&at| at >= start && at < start + 1000)
                .count();
            assert!(within <= 5, "{within} in the second from {start}");
        }
        // And it is not starved: about 5 a second.
        assert!(admitted.len() >= 40, "{}", admitted.len());
        // No room: the drain waits for the next slot.
        let mut full = Health::default();
        for _ in 0..5 {
            assert!(full.admit(route, 1_000));
        }
        assert_eq!(full.tick(route, 1_050, 3).0, Tick::Wait(1_100));
    }

    #[test]
    fn failed_deliveries_are_told_at_most_once_in_five_minutes_with_their_count() {
        let route = route(breaker(10, 60), None);
        let mut health = Health::default();
        assert_eq!(health.dead_lettered(0, 1), [Change::Failed { count: 1 }]);
        assert!(health.dead_lettered(1_000, 2).is_empty());
        assert!(health.dead_lettered(2_000, 3).is_empty());
        // The alarm tells the rest when the five minutes are up.
        assert_eq!(health.tick(route, 2_000, 0), (Tick::Wait(300_000), vec![]));
        assert_eq!(
            health.tick(route, 300_000, 0),
            (Tick::Idle, vec![Change::Failed { count: 5 }])
        );
    }

    #[test]
    fn the_last_hour_counts_attempts_and_the_report_says_where_the_route_stands() {
        let route = route(breaker(10, 60), None);
        let mut health = Health::default();
        attempt(&mut health, route, 0, true);
        attempt(&mut health, route, 30 * MINUTE_MS, false);
        attempt(&mut health, route, 61 * MINUTE_MS, true);
        assert_eq!(health.last_hour(61 * MINUTE_MS), (1, 1));
        health.pause(1_767_225_600_000);
        let report: Value = serde_json::from_str(&health.report(61 * MINUTE_MS, 7)).unwrap();
        assert_eq!(
            report,
            json!({"state": "paused", "since": 1_767_225_600_000_i64, "held": 7,
                   "delivered_1h": 1, "failed_1h": 1, "last_error": "HTTP 503"})
        );
    }

    #[test]
    fn its_text_reads_back_as_written_and_unreadable_text_is_a_fresh_route() {
        let route = route(breaker(2, 60), Some(10));
        let mut health = Health::default();
        attempt(&mut health, route, 1_000, true);
        attempt(&mut health, route, 2_000, false);
        attempt(&mut health, route, 2_050, false);
        health.dead_lettered(2_100, 4);
        health.dead_lettered(2_200, 1);
        assert_eq!(Health::from_text(&health.text()), health);
        for text in ["", "null", "[]", "{\"state\":7}", "{\"slots\":\"x\"}"] {
            assert_eq!(Health::from_text(text), Health::default(), "{text}");
        }
    }
}
