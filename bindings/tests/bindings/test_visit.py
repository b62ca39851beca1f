# Business visits (走访) from Python, against a real fieldsync server on a loopback port (the
# testbed): a police officer registers a guesthouse, fetches the registry and the visit rules,
# sees it overdue, records a visit with a checklist and a finding offline, and it is overdue no
# longer; an unknown business and a checklist item the rules do not list are typed errors that
# change nothing. The guesthouse's operator reads the visit and the bulletin to businesses,
# acknowledges the bulletin, and records nothing.
#
# Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import asyncio
import datetime
import os
import shutil
import tempfile

from fieldsync import FieldError, FieldStore, new_store_key
from fieldsync_testbed import Testbed
from fieldsync_core import (
    Addressee, BulletinFilter, BusinessFields, CheckOutcome, Command, NewBulletin, NewCheck,
    PageRequest, PatrolKind, Role, Severity, VisitFilter,
)

# The store key an app keeps in the Keystore / Keychain: one for every store of the test.
KEY = new_store_key()

AREA = "jl/cc/scenic-1"
FIRST = PageRequest(limit=50, after=None)
CHECKLIST = ["fire_safety", "guest_registration", "food_safety", "hazards"]


def expect_error(kind, what, call):
    try:
        call()
    except kind as e:
        return e
    except Exception as e:  # noqa: BLE001 - the wrong error is the failure being reported
        raise AssertionError(f"{what}: expected {kind.__name__}, got {e!r}") from e
    raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


def visits_of(store, business):
    return store.query_visits(
        VisitFilter(scope=None, business=business, status=None, follow_up_due_by=None), FIRST).items


async def main(root):
    bed = Testbed.start(os.path.join(root, "server"))
    url = bed.url()

    async def enrolled(user, role, patrol, scopes):
        folder = os.path.join(root, user)
        os.makedirs(folder)
        store = FieldStore(os.path.join(folder, "fieldsync.db"), KEY)
        await store.enroll(url, bed.add_user(user, role, patrol, scopes), f"{user} phone")
        return store

    police = await enrolled("police-li", Role.PATROL, PatrolKind.POLICE, [AREA])
    inn = await police.add_business(BusinessFields(
        scope=AREA, name="湖景民宿", kind="guesthouse", address="湖滨路 8 号", lat=None, lon=None,
        contact="0431-1234", operator=None, close=False))
    await police.refresh_businesses()
    rules = police.visit_rules()
    assert (rules.every_days, rules.checklist) == (30, CHECKLIST), rules
    (due,) = police.overdue_businesses(None)
    assert due.business.id == inn.id and due.last_visit is None, due

    # On the phone, no request: plan, record, find.
    plan = police.plan_visit(inn.id)
    assert plan.checklist == CHECKLIST and plan.visitors == ["police-li"], plan
    plan.results = [NewCheck(item="fire_safety", result=CheckOutcome.FAIL, note="灭火器过期")]
    visit_id = police.record_visit(plan)
    finding = police.execute(visit_id, Command.ADD_FINDING("消防通道堵塞", [])).item
    police.execute(visit_id, Command.RECORD_CHECK("guest_registration", CheckOutcome.PASS, ""))
    visit = police.get_visit(visit_id)
    assert [f.id for f in visit.findings] == [finding], visit
    assert [r.item for r in visit.results] == ["fire_safety", "guest_registration"], visit
    assert police.overdue_businesses(None) == [], "visited today"

    # Bad input: typed, nothing changed.
    expect_error(FieldError.UnknownBusiness, "an unknown business",
                 lambda: police.plan_visit("no-such-business"))
    off_rules = police.plan_visit(inn.id)
    off_rules.checklist = CHECKLIST + ["casino_licence"]
    expect_error(FieldError.InvalidInput, "a checklist item off the rules",
                 lambda: police.record_visit(off_rules))
    expect_error(FieldError.InvalidInput, "a result for an item off the checklist",
                 lambda: police.execute(visit_id, Command.RECORD_CHECK("casino_licence", CheckOutcome.PASS, "")))
    assert [v.id for v in visits_of(police, inn.id)] == [visit_id]
    assert police.get_visit(visit_id) == visit

    warning = police.issue_bulletin(NewBulletin(
        scope=AREA, severity=Severity.ORANGE, audience=[Addressee.BUSINESSES], title="汛期预警",
        text="沿湖商户做好防汛准备",
        valid_until=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6),
        location=None, photos=[]))
    to_patrols = police.issue_bulletin(NewBulletin(
        scope=AREA, severity=Severity.BLUE, audience=[Addressee.PATROLS], title="巡逻调整",
        text="今晚巡逻改走北线",
        valid_until=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6),
        location=None, photos=[]))
    await police.sync_now(None)

    # The operator: one scope, the guesthouse's own.
    operator = await enrolled("op-gao", Role.BUSINESS_OPERATOR, None, [f"{AREA}/business:{inn.id}"])
    await operator.sync_now(None)
    seen = operator.get_visit(visit_id)
    assert seen.findings[0].text == "消防通道堵塞", seen
    todo = BulletinFilter(scope=None, in_force_at=None, unacknowledged_by="op-gao", created_by=None)
    assert [b.id for b in operator.query_bulletins(todo, FIRST).items] == [warning]
    operator.acknowledge_bulletin(warning)
    assert operator.query_bulletins(todo, FIRST).items == []
    expect_error(FieldError.NotFound, "a bulletin to patrols, never sent to the operator",
                 lambda: operator.acknowledge_bulletin(to_patrols))
    expect_error(FieldError.Forbidden, "the operator adds a finding",
                 lambda: operator.execute(visit_id, Command.ADD_FINDING("已整改", [])))
    assert operator.get_visit(visit_id) == seen
    expect_error(FieldError.UnknownBusiness, "the operator plans a visit (no registry copy)",
                 lambda: operator.plan_visit(inn.id))
    await operator.sync_now(None)

    await police.sync_now(None)
    mine = police.get_bulletin(warning)
    assert [a.by for a in mine.acknowledgements] == ["op-gao"], mine

    bed.stop()
    print("python: visit ok")


root = tempfile.mkdtemp(prefix="fieldsync-py-visit")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
