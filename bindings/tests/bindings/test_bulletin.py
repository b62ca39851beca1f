# Warning bulletins (预警通报) from Python, against a real fieldsync server on a loopback port
# (the testbed): the police issue a bulletin to a scenic area's patrols and residents; the
# patrol's observer hears it arrive; the patrol acknowledges it offline and a resident too;
# a grid leader it is not addressed to is refused, as is a second acknowledgement, and
# neither changes anything; the issuer sees who acknowledged.
#
# Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import asyncio
import datetime
import os
import shutil
import tempfile
import threading
import time

from fieldsync import ChangeObserver, FieldError, FieldStore, new_store_key
from fieldsync_testbed import Testbed
from fieldsync_core import (
    Addressee, BulletinFilter, Kind, NewBulletin, Origin, PageRequest, PatrolKind, Role,
    Severity,
)

# The store key an app keeps in the Keystore / Keychain: one for every store of the test.
KEY = new_store_key()

AREA = "jl/cc/scenic-1"
GRID = "jl/cc/scenic-1/grid-03"
FIRST = PageRequest(limit=50, after=None)


def in_hours(hours):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)


class Arrivals(ChangeObserver):
    """The bulletins the observer thread tells of."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def on_change(self, changes):
        with self.lock:
            self.events.extend(c for c in changes if c.kind == Kind.BULLETIN)

    def on_end(self, reason):
        pass

    def wait_for(self, n, what):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.events) >= n:
                    return list(self.events)
            time.sleep(0.01)
        raise AssertionError(f"not heard within 10 s: {what} (heard {self.events})")


def bulletin(scope, audience, hours):
    return NewBulletin(
        scope=scope, severity=Severity.ORANGE, audience=audience, title="落石预警",
        text="北坡步道落石，请绕行", valid_until=in_hours(hours), location=None, photos=[])


def filter_of(**given):
    fields = dict(scope=None, in_force_at=None, unacknowledged_by=None, created_by=None)
    fields.update(given)
    return BulletinFilter(**fields)


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
    patrol = await enrolled("cadre-wang", Role.PATROL, PatrolKind.CADRE, [AREA])
    resident = await enrolled("resident-sun", Role.RESIDENT, None, [GRID])
    leader = await enrolled("leader-zhao", Role.GRID_LEADER, None, [AREA])
    heard = Arrivals()
    subscription = patrol.observe(heard)

    bulletin_id = police.issue_bulletin(bulletin(AREA, [Addressee.PATROLS, Addressee.RESIDENTS], 6))
    try:
        resident.issue_bulletin(bulletin(GRID, [Addressee.RESIDENTS], 6))
        raise AssertionError("a resident issued a bulletin")
    except FieldError.Forbidden:
        pass
    try:
        police.issue_bulletin(bulletin(AREA, [], 6))
        raise AssertionError("a bulletin to nobody was issued")
    except FieldError.InvalidInput:
        pass
    await police.sync_now(None)

    # It arrives, and the observer says so.
    await patrol.sync_now(None)
    (event,) = heard.wait_for(1, "the bulletin")
    assert (event.id, event.origin) == (bulletin_id, Origin.REMOTE), event
    todo = filter_of(unacknowledged_by="cadre-wang")
    assert [b.id for b in patrol.query_bulletins(todo, FIRST).items] == [bulletin_id]

    # Acknowledged offline; a second time is refused and changes nothing.
    patrol.acknowledge_bulletin(bulletin_id)
    assert patrol.query_bulletins(todo, FIRST).items == []
    acknowledged = patrol.get_bulletin(bulletin_id)
    try:
        patrol.acknowledge_bulletin(bulletin_id)
        raise AssertionError("acknowledged twice")
    except FieldError.InvalidTransition:
        pass
    assert patrol.get_bulletin(bulletin_id) == acknowledged

    # Someone it is not addressed to may read it, not acknowledge it.
    await leader.sync_now(None)
    seen = leader.get_bulletin(bulletin_id)
    try:
        leader.acknowledge_bulletin(bulletin_id)
        raise AssertionError("a grid leader acknowledged a bulletin to patrols and residents")
    except FieldError.Forbidden:
        pass
    assert leader.get_bulletin(bulletin_id) == seen

    await resident.sync_now(None)
    resident.acknowledge_bulletin(bulletin_id)
    await resident.sync_now(None)
    await patrol.sync_now(None)

    # The issuer sees who acknowledged.
    await police.sync_now(None)
    mine = police.get_bulletin(bulletin_id)
    assert sorted(a.by for a in mine.acknowledgements) == ["cadre-wang", "resident-sun"], mine
    (row,) = police.query_bulletins(filter_of(created_by="police-li"), FIRST).items
    assert row.acknowledgements == 2 and row.severity == Severity.ORANGE, row

    subscription.cancel()
    bed.stop()
    print("python: bulletin ok")


root = tempfile.mkdtemp(prefix="fieldsync-py-bulletin")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
