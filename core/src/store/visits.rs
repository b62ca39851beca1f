//! The phone's business visits: the rules the server gave with the registry (how often a
//! business is due a visit, the checklist), a visit planned and checked against the registry
//! copy and those rules before it is recorded, the list of visits, and the businesses overdue
//! a visit (never visited, or last visited longer ago than the rules allow), all offline.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use super::businesses::Business;
use super::query::{Page, PageRequest, Where, check_limit, doc_id, page_sql, run};
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::{NewRecord, NewVisit, VisitStatus, business_scope};
use crate::time::Timestamp;

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// The rules of visits, as the server's rules file sets them (`visits` key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitRules {
    /// Every business is due a visit this many days after its last one.
    pub every_days: u32,
    /// The checklist items a visit goes through.
    pub checklist: Vec<String>,
}

/// Filters for visits; all given filters must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitFilter {
    /// Scope prefix: the scope itself and everything below it.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub scope: Option<String>,
    /// Only the visits to this business.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub business: Option<String>,
    /// Only visits in this state.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub status: Option<VisitStatus>,
    /// Only visits with a follow-up due by this time and not closed.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub follow_up_due_by: Option<Timestamp>,
}

/// A visit as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VisitSummary {
    /// Document id.
    pub id: DocId,
    /// The business's own scope.
    pub scope: String,
    /// The business visited.
    pub business: String,
    /// Open or closed.
    pub status: VisitStatus,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// Who recorded it.
    pub created_by: String,
    /// Checklist items whose result as it stands is a failure.
    pub failed: i64,
    /// Findings recorded.
    pub findings: i64,
    /// The follow-up's deadline, if one was set.
    pub follow_up_deadline: Option<Timestamp>,
    /// Whether a register holds concurrent values.
    pub conflicted: bool,
}

/// A business due a visit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OverdueBusiness {
    /// The business.
    pub business: Business,
    /// Its last visit this phone holds (`None`: never visited).
    pub last_visit: Option<Timestamp>,
    /// When its next visit was due (`None`: never visited, due since it was registered).
    pub due_since: Option<Timestamp>,
}

pub(crate) fn rules(conn: &Connection) -> Result<Option<VisitRules>> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT every_days, checklist FROM visit_rules WHERE one = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(days, list)| VisitRules {
        every_days: u32::try_from(days).unwrap_or(u32::MAX),
        checklist: list.lines().map(str::to_string).collect(),
    }))
}

/// Replaces the rules held (inside the registry's transaction).
pub(crate) fn save_rules(conn: &Connection, rules: Option<&VisitRules>) -> Result<()> {
    conn.execute("DELETE FROM visit_rules", [])?;
    if let Some(r) = rules {
        conn.execute(
            "INSERT INTO visit_rules (one, every_days, checklist) VALUES (1, ?1, ?2)",
            params![i64::from(r.every_days), r.checklist.join("\n")],
        )?;
    }
    Ok(())
}

fn business(conn: &Connection, id: &str) -> Result<Business> {
    super::businesses::one(conn, id)?.ok_or_else(|| CoreError::UnknownBusiness {
        id: id.chars().take(crate::limits::USER_ID_CHARS).collect(),
    })
}

fn held_rules(conn: &Connection) -> Result<VisitRules> {
    rules(conn)?.ok_or_else(|| {
        CoreError::invalid(
            "checklist",
            "no visit rules held yet: fetch the business registry (refresh_businesses) first",
        )
    })
}

/// Checks a visit to record against the registry copy and the rules held: a business the
/// copy does not hold is `UnknownBusiness`, a scope other than its own or a checklist item the
/// rules do not list is `InvalidInput`. Records of other kinds pass.
pub(crate) fn check_new(conn: &Connection, new: &NewRecord) -> Result<()> {
    let NewRecord::Visit { visit } = new else { return Ok(()) };
    let b = business(conn, &visit.business)?;
    let own = business_scope(&b.scope, &b.id);
    if visit.scope != own {
        return Err(CoreError::invalid(
            "scope",
            format!("a visit to {} is recorded in {own}, not {}", b.id, visit.scope),
        ));
    }
    let rules = held_rules(conn)?;
    if let Some(item) = visit.checklist.iter().find(|i| !rules.checklist.contains(i)) {
        let shown: String = item.chars().take(60).collect();
        return Err(CoreError::invalid(
            "checklist",
            format!(
                "{shown:?} is not an item of the rules' checklist ({})",
                rules.checklist.join(", ")
            ),
        ));
    }
    Ok(())
}

fn visits(conn: &Connection, f: &VisitFilter, page: &PageRequest) -> Result<Page<VisitSummary>> {
    check_limit(page)?;
    let mut w = Where::default();
    w.scope("t.scope", &f.scope)?;
    w.text("t.business = ?", &f.business);
    if let Some(s) = f.status {
        w.push("t.status = ?", [SqlValue::Text(s.as_str().to_string())]);
    }
    if let Some(by) = f.follow_up_due_by {
        w.push(
            "t.status = 'open' AND t.follow_up_deadline IS NOT NULL AND t.follow_up_deadline <= ?",
            [SqlValue::Integer(by.as_millis())],
        );
    }
    w.after("t.created_at", page)?;
    let sql = page_sql(
        "d.doc_id, t.scope, t.business, t.status, t.created_at, t.created_by, t.failed, \
         t.findings, t.follow_up_deadline, t.conflicted, t.doc",
        "visits",
        &w,
        "t.created_at",
        page,
    );
    run(conn, &sql, w.params, page, |r| {
        let s = VisitSummary {
            id: doc_id(r, 0)?,
            scope: r.get(1)?,
            business: r.get(2)?,
            status: r.get(3)?,
            created_at: r.get(4)?,
            created_by: r.get(5)?,
            failed: r.get(6)?,
            findings: r.get(7)?,
            follow_up_deadline: r.get(8)?,
            conflicted: r.get(9)?,
        };
        Ok((s, r.get(4)?, r.get(10)?))
    })
}

fn overdue(conn: &Connection, at: Timestamp) -> Result<Vec<OverdueBusiness>> {
    let Some(rules) = rules(conn)? else { return Ok(Vec::new()) };
    let every = i64::from(rules.every_days) * DAY_MS;
    let mut last = conn.prepare_cached("SELECT max(created_at) FROM visits WHERE business = ?1")?;
    let mut out = Vec::new();
    for b in super::businesses::all(conn)? {
        if b.closed_at.is_some() {
            continue;
        }
        let visited: Option<i64> = last.query_row([&b.id], |r| r.get(0))?;
        let due = visited.map(|v| v.saturating_add(every));
        if due.is_none_or(|d| d < at.as_millis()) {
            out.push(OverdueBusiness {
                business: b,
                last_visit: visited.map(Timestamp::from_millis),
                due_since: due.map(Timestamp::from_millis),
            });
        }
    }
    // Never visited first, then the longest overdue.
    out.sort_by_key(|o| (o.due_since.is_some(), o.due_since.map(Timestamp::as_millis)));
    Ok(out)
}

impl Store {
    /// The rules of visits the server last gave with the registry (`None` before the first
    /// fetch). Readable offline.
    pub fn visit_rules(&self) -> Result<Option<VisitRules>> {
        self.read(rules)
    }

    /// A visit to `business` by this phone's user, ready to record (`Store::create`): the
    /// business's own scope and the rules' checklist, from the registry copy and the rules
    /// held. A business the copy does not hold (unknown, or outside the user's scopes) is
    /// `UnknownBusiness`.
    pub fn plan_visit(&self, business_id: &str) -> Result<NewVisit> {
        let me = self.identity().user;
        self.read(|c| {
            let b = business(c, business_id)?;
            let rules = held_rules(c)?;
            Ok(NewVisit {
                scope: business_scope(&b.scope, &b.id),
                business: b.id,
                visitors: vec![me],
                checklist: rules.checklist,
                results: Vec::new(),
            })
        })
    }

    /// A page of visits matching `filter`, newest first.
    pub fn query_visits(
        &self,
        filter: &VisitFilter,
        page: &PageRequest,
    ) -> Result<Page<VisitSummary>> {
        self.read(|c| visits(c, filter, page))
    }

    /// The open businesses of the registry copy due a visit at `at`: never visited, or last
    /// visited more than the rules' `every_days` before `at` (from the visits this phone
    /// holds). Never visited first, then the longest overdue. Empty before the rules are held.
    pub fn overdue_businesses(&self, at: Timestamp) -> Result<Vec<OverdueBusiness>> {
        self.read(|c| overdue(c, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CheckOutcome, Command, Kind, NewCheck, Record};
    use crate::policy::{PatrolKind, Profile, Role};
    use crate::time::now_ms;

    const AREA: &str = "jl/cc/scenic-1";

    fn business(id: &str, scope: &str) -> Business {
        Business {
            id: id.into(),
            scope: scope.into(),
            name: format!("{id} 农家乐"),
            kind: "guesthouse".into(),
            address: String::new(),
            lat: None,
            lon: None,
            contact: String::new(),
            operator: None,
            closed_at: None,
        }
    }

    fn rules() -> VisitRules {
        VisitRules {
            every_days: 30,
            checklist: ["fire_safety", "guest_registration", "food_safety", "hazards"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// A police officer's phone of `AREA` holding the registry (one business of the area, one
    /// of the area beside it, as a copy fetched before a scope change would) and the rules.
    fn police(dir: &tempfile::TempDir) -> Store {
        let s = Store::open(dir.path().join("police.db")).expect("open");
        s.set_user("police-li").expect("user");
        s.set_profile(&Profile {
            user: "police-li".into(),
            role: Role::Patrol,
            patrol: Some(PatrolKind::Police),
            scopes: vec![AREA.into()],
        })
        .expect("profile");
        let held = [business("b1", AREA), business("b2", "jl/cc/scenic-2")];
        s.save_businesses(&held, Some(&rules())).expect("registry");
        s
    }

    fn doc_count(s: &Store) -> i64 {
        s.read(|c| Ok(c.query_row("SELECT count(*) FROM docs", [], |r| r.get(0))?)).unwrap()
    }

    #[test]
    fn a_planned_visit_is_recorded_listed_searched_and_no_longer_overdue() {
        let dir = tempfile::tempdir().unwrap();
        let s = police(&dir);
        let now = Timestamp::from_millis(now_ms());
        let overdue: Vec<String> =
            s.overdue_businesses(now).unwrap().into_iter().map(|o| o.business.id).collect();
        assert_eq!(overdue, ["b1", "b2"], "never visited");
        let mut plan = s.plan_visit("b1").unwrap();
        assert_eq!(plan.scope, "jl/cc/scenic-1/business:b1");
        assert_eq!(plan.checklist, rules().checklist);
        assert_eq!(plan.visitors, ["police-li"]);
        plan.results.push(NewCheck {
            item: "fire_safety".into(),
            result: CheckOutcome::Fail,
            note: "灭火器过期".into(),
        });
        let id = s.create(&NewRecord::Visit { visit: plan }).unwrap();
        let finding = Command::AddFinding { text: "消防通道堵塞".into(), photos: vec![] };
        s.execute(id, &finding).unwrap();
        let Record::Visit { visit } = s.get(id).unwrap() else { panic!("a visit") };
        assert_eq!(visit.failed(), ["fire_safety"]);

        let mine = VisitFilter { business: Some("b1".into()), ..VisitFilter::default() };
        let rows = s.query_visits(&mine, &PageRequest::first(10)).unwrap().items;
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].id, rows[0].failed, rows[0].findings), (id, 1, 1));
        let hits = s.search("通道", Some(Kind::Visit), 10).unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);

        let overdue: Vec<String> =
            s.overdue_businesses(now).unwrap().into_iter().map(|o| o.business.id).collect();
        assert_eq!(overdue, ["b2"], "b1 was visited today");
        let later = Timestamp::from_millis(now.as_millis() + 31 * DAY_MS);
        let due = s.overdue_businesses(later).unwrap();
        let b1 = due.iter().find(|o| o.business.id == "b1").expect("b1 due again");
        assert!(b1.last_visit.is_some() && b1.due_since.is_some_and(|d| d < later));
        assert_eq!(due[0].business.id, "b2", "never visited first");
    }

    #[test]
    fn unknown_businesses_other_scopes_and_items_off_the_rules_are_refused_and_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = police(&dir);
        let unknown = s.plan_visit("b9");
        assert!(matches!(&unknown, Err(CoreError::UnknownBusiness { id }) if id == "b9"));
        let mut ghost = s.plan_visit("b1").unwrap();
        ghost.business = "b9".into();
        ghost.scope = business_scope(AREA, "b9");
        let got = s.create(&NewRecord::Visit { visit: ghost });
        assert!(matches!(got, Err(CoreError::UnknownBusiness { .. })), "{got:?}");

        let beside = s.plan_visit("b2").unwrap();
        let got = s.create(&NewRecord::Visit { visit: beside });
        assert!(
            matches!(&got, Err(CoreError::Forbidden { rule, .. }) if *rule == "create.scope"),
            "{got:?}"
        );

        let mut off = s.plan_visit("b1").unwrap();
        off.checklist.push("casino_licence".into());
        let got = s.create(&NewRecord::Visit { visit: off });
        assert!(
            matches!(&got, Err(CoreError::InvalidInput { field, .. }) if *field == "checklist"),
            "{got:?}"
        );
        assert_eq!(doc_count(&s), 0, "nothing stored");
    }

    #[test]
    fn a_business_operator_records_no_visit() {
        let dir = tempfile::tempdir().unwrap();
        let s = police(&dir);
        let plan = s.plan_visit("b1").unwrap();
        s.set_profile(&Profile {
            user: "police-li".into(),
            role: Role::BusinessOperator,
            patrol: None,
            scopes: vec![business_scope(AREA, "b1")],
        })
        .unwrap();
        let got = s.create(&NewRecord::Visit { visit: plan });
        assert!(matches!(&got, Err(CoreError::Forbidden { rule, .. }) if *rule == "create"));
        assert_eq!(doc_count(&s), 0);
    }
}
