//! The `points` suite: residents redeem goods of their community's exchange at once, against a
//! real server (a child process) over HTTP on loopback, the way phones do
//! (`POST /v1/points/redeem`, one request id per redemption).
//!
//! A grid leader lists one good (10 points) whose stock is 90% of what the residents can
//! afford together, and awards each of `--redeemers` residents (64) points for three quarters
//! of their `--each` attempts (50); then every resident sends its attempts one after another,
//! all residents at once, each attempt also sent a second time with the same request id (a
//! phone retrying after a lost answer). So the run meets every answer a redeemer can get:
//! made, made before (the retry), not enough points, out of stock.
//!
//! Figures: `points.redeem_per_s` (redemption requests answered per second, made or refused),
//! `points.redeem_p50_ms` and `points.redeem_p99_ms` (latency of each request, from sending to
//! the whole answer), `points.redeemed` (redemptions made), and the two that must be 0:
//! `points.overspent` (residents whose balance is not their award less 10 points per
//! redemption they hold, or is negative) and `points.oversold` (redemptions past the stock, or
//! a stock that does not add up). The suite fails if either is not 0 or a request errs.

use std::sync::Arc;
use std::time::Instant;

use automerge::ActorId;
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{
    self, AwardRequest, AwardResponse, GoodRequest, GoodResponse, GoodsList, GoodsRequest,
    PointsStatement, RedeemRequest, RedeemResponse, StatementRequest, VERSION,
};
use fieldsync_core::sync::{HttpTransport, Transport, TransportError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::server::BenchServer;
use super::{Report, Result, Samples, Unit, progress};

/// The community the residents live in.
const COMMUNITY: &str = "jl/changchun/chaoyang/yongchang/xinhua";
/// The price of the good.
const PRICE: i64 = 10;

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Residents redeeming at once.
    pub redeemers: usize,
    /// Redemptions each resident attempts (each sent twice).
    pub each: usize,
}

async fn call<Q: Serialize, A: DeserializeOwned>(
    t: &HttpTransport,
    path: &'static str,
    req: &Q,
) -> std::result::Result<A, TransportError> {
    let answer = t.post(path, protocol::encode(req)).await?;
    protocol::decode(&answer).map_err(|e| TransportError::Network(format!("answer: {e}")))
}

/// Runs the suite.
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = BenchServer::start(&dir.path().join("server"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(measure(opts, report, &server))
}

/// What one resident's attempts came to.
#[derive(Default)]
struct Tally {
    requests: usize,
    made: usize,
    errors: Vec<String>,
    samples: Samples,
}

async fn measure(opts: &Options, report: &mut Report, server: &BenchServer) -> Result<()> {
    let actor = || ActorId::random().to_bytes().to_vec();
    let leader = server.enroll_as("leader-bench", Role::GridLeader, COMMUNITY, &actor())?;
    let afford = (opts.each * 3 / 4) as i64;
    let stock = (opts.redeemers as i64 * afford * 9 / 10).max(1);
    let good = GoodRequest {
        v: VERSION,
        community: Some(COMMUNITY.into()),
        name: Some("大米 5kg".into()),
        points: Some(PRICE),
        stock: Some(stock),
        ..Default::default()
    };
    let good: GoodResponse = call(&leader, "/v1/points/goods/add", &good).await?;
    let good = good.good.id;
    let mut residents = Vec::with_capacity(opts.redeemers);
    for n in 0..opts.redeemers {
        let user = format!("resident-bench-{n}");
        let scope = format!("{COMMUNITY}/grid-{:02}", n % 20);
        residents.push(server.enroll_as(&user, Role::Resident, &scope, &actor())?);
        let award = AwardRequest {
            v: VERSION,
            account: user,
            amount: afford * PRICE,
            reason: "bench".into(),
            source: None,
        };
        let _: AwardResponse = call(&leader, "/v1/points/award", &award).await?;
    }
    progress(format_args!(
        "{} residents with {} points each, {} of the good in stock; {} attempts each, each sent twice",
        opts.redeemers,
        afford * PRICE,
        stock,
        opts.each
    ));

    let residents: Vec<Arc<HttpTransport>> = residents.into_iter().map(Arc::new).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, t) in residents.iter().enumerate() {
        let (t, good, each) = (t.clone(), good.clone(), opts.each);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for k in 0..each {
                let req = RedeemRequest {
                    v: VERSION,
                    request_id: format!("r{n}-{k}"),
                    good: good.clone(),
                };
                for _ in 0..2 {
                    let sent = Instant::now();
                    let answer: std::result::Result<RedeemResponse, _> =
                        call(&t, "/v1/points/redeem", &req).await;
                    tally.samples.push(sent.elapsed());
                    tally.requests += 1;
                    match answer {
                        Ok(r) => tally.made += usize::from(!r.again),
                        Err(TransportError::Status { status: 409, code, .. })
                            if code == "not_enough_points" || code == "out_of_stock" => {}
                        Err(e) => tally.errors.push(e.to_string()),
                    }
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await?;
        all.requests += t.requests;
        all.made += t.made;
        all.errors.extend(t.errors);
        all.samples.extend(t.samples);
    }
    let elapsed = started.elapsed();

    // What the ledger and the stock say now.
    let mut overspent = 0u64;
    let mut held = 0i64;
    for t in &residents {
        let req = StatementRequest { v: VERSION, after: 0, account: None };
        let s: PointsStatement = call(t, "/v1/points/statement", &req).await?;
        let mine = s.redemptions.len() as i64;
        held += mine;
        if s.balance < 0 || s.balance != afford * PRICE - mine * PRICE {
            overspent += 1;
        }
    }
    let list: GoodsList = call(&leader, "/v1/points/goods", &GoodsRequest { v: VERSION }).await?;
    let left = list.goods.iter().find(|g| g.id == good).map_or(-1, |g| g.stock);
    let oversold = u64::from(held > stock || left != stock - held || held != all.made as i64);

    report.record(
        "points.redeem_per_s",
        all.requests as f64 / elapsed.as_secs_f64().max(1e-9),
        Unit::PerSecond,
    );
    report.record("points.redeem_p50_ms", all.samples.median(), Unit::Ms);
    report.record("points.redeem_p99_ms", all.samples.percentile(99.0), Unit::Ms);
    report.record("points.redeemed", all.made as f64, Unit::Count);
    report.record("points.overspent", overspent as f64, Unit::Count);
    report.record("points.oversold", oversold as f64, Unit::Count);
    if let Some(e) = all.errors.first() {
        return Err(format!("{} requests failed; the first: {e}", all.errors.len()).into());
    }
    if overspent > 0 || oversold > 0 {
        return Err(format!(
            "overspent {overspent}, oversold {oversold} ({held} held, {left} left of {stock})"
        )
        .into());
    }
    Ok(())
}
