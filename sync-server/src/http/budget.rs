//! How many enrollment attempts one client address may make: two budgets counted together.
//!
//! - **All attempts**, generous: a town enrolling its phones one morning behind one carrier
//!   NAT or one reverse proxy makes a few a minute; the budget is hundreds.
//! - **Failed attempts** (a malformed, unknown, used, expired or revoked code, or a code of a
//!   disabled user), strict: what guessing codes takes. Junk that names no code (a body that
//!   is not an EnrollRequest) is not a guess and counts only against the first budget; a
//!   success never counts here. An address out of this budget is refused every attempt until
//!   it refills, so a guesser cannot go on trying either.
//!
//! Both are GCRA budgets from `governor` (keyed by the address as `client_addr::bucket`
//! groups it): a budget refills continuously (one attempt every minute / N) up to a burst of
//! N, so there is no window edge around which twice the budget passes, as there was with the
//! fixed window written here before; `governor` is small, widely used, and prunes the state
//! of addresses whose budget is full again. A refusal says how long to wait.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::http::client_addr;
use crate::http::error::ServerError;
use fieldsync_core::poison::Recover;

type Limiter<MW> = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, MW>;
type Plain = governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>;

/// How often the state of addresses with full budgets is dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// The enrollment budgets of every client address.
pub(crate) struct Budgets {
    attempts: Limiter<Plain>,
    failures: Limiter<StateInformationMiddleware>,
    /// Addresses that spent their failure budget, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    failure_interval: Duration,
    pruned: Mutex<Instant>,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets").finish_non_exhaustive()
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

fn rate_limited(what: &str, wait: Duration) -> ServerError {
    // Whole seconds, rounded up: a client that waits what it is told is let in.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    ServerError::RateLimited {
        message: format!("too many {what} from this address; try again in {secs} s"),
        retry_after: secs,
    }
}

impl Budgets {
    /// Budgets of `attempts` attempts and `failures` failed attempts per minute per address.
    pub(crate) fn new(attempts: u32, failures: u32) -> Self {
        let failures = per_minute(failures);
        Budgets {
            attempts: RateLimiter::hashmap(per_minute(attempts)),
            failures: RateLimiter::hashmap(failures).with_middleware(),
            blocked: Mutex::new(HashMap::new()),
            failure_interval: failures.replenish_interval(),
            pruned: Mutex::new(Instant::now()),
        }
    }

    /// Counts an attempt from `client`; refuses it when the address has spent either budget.
    pub(crate) fn admit(&self, client: IpAddr) -> Result<(), ServerError> {
        let key = client_addr::bucket(client);
        self.prune();
        let now = Instant::now();
        if let Some(until) = self.blocked.lock().recover().get(&key).copied()
            && until > now
        {
            return Err(rate_limited("failed enrollment codes", until - now));
        }
        self.attempts.check_key(&key).map_err(|not_until| {
            rate_limited(
                "enrollment attempts",
                not_until.wait_time_from(self.attempts.clock().now()),
            )
        })
    }

    /// Counts a failed attempt from `client` (after [`Budgets::admit`] let it in).
    pub(crate) fn failed(&self, client: IpAddr) {
        let key = client_addr::bucket(client);
        let wait = match self.failures.check_key(&key) {
            Ok(state) if state.remaining_burst_capacity() > 0 => return,
            // That was the last failure the budget held: none more until it refills.
            Ok(_) => self.failure_interval,
            Err(not_until) => not_until.wait_time_from(self.failures.clock().now()),
        };
        self.blocked.lock().recover().insert(key, Instant::now() + wait);
    }

    /// Drops what is known of addresses whose budgets are full again, at most every
    /// [`PRUNE_EVERY`], so memory follows the addresses seen lately, not all addresses ever.
    fn prune(&self) {
        let now = Instant::now();
        {
            let mut pruned = self.pruned.lock().recover();
            if now.duration_since(*pruned) < PRUNE_EVERY {
                return;
            }
            *pruned = now;
        }
        self.attempts.retain_recent();
        self.attempts.shrink_to_fit();
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let mut blocked = self.blocked.lock().recover();
        blocked.retain(|_, until| *until > now);
        blocked.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: &ServerError) -> &'static str {
        e.status_and_code().1
    }

    #[test]
    fn all_attempts_are_limited_per_address() {
        let b = Budgets::new(5, 100);
        let (a, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..5 {
            b.admit(a).unwrap();
        }
        let e = b.admit(a).unwrap_err();
        assert_eq!(code(&e), "rate_limited");
        let ServerError::RateLimited { retry_after, message } = e else { unreachable!() };
        assert!((1..=12).contains(&retry_after), "{retry_after}");
        assert!(message.contains(&format!("{retry_after} s")), "{message}");
        b.admit(other).unwrap();
    }

    #[test]
    fn failures_have_their_own_smaller_budget_and_successes_do_not_spend_it() {
        let b = Budgets::new(1000, 3);
        let a = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..100 {
            b.admit(a).unwrap(); // successes: nothing reported failed
        }
        for _ in 0..3 {
            b.admit(a).unwrap();
            b.failed(a);
        }
        let e = b.admit(a).unwrap_err();
        assert!(e.to_string().contains("failed enrollment codes"), "{e}");
        b.admit(IpAddr::from([10, 0, 0, 2])).unwrap();
    }

    #[test]
    fn an_ipv6_subnet_shares_one_budget() {
        let b = Budgets::new(2, 100);
        b.admit("2001:db8::1".parse().unwrap()).unwrap();
        b.admit("2001:db8::2".parse().unwrap()).unwrap();
        assert!(b.admit("2001:db8::3".parse().unwrap()).is_err());
        b.admit("2001:db8:0:1::1".parse().unwrap()).unwrap();
    }
}
