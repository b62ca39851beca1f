# The responder's side of the loop from Python, against a real fieldsync server on a loopback
# port (the testbed): a dispatcher's phone dispatches a resident's report to a patrol officer
# and supervises it; after each of the officer's syncs the inbox lists it with why, and the
# observer hears the change with its inbox reasons, once. The officer's own command tells
# nothing.
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
    Command, InboxFilter, InboxReason, NewReport, Origin, PageRequest, PatrolKind,
    ReportCategory, Role,
)

# The store key an app keeps in the Keystore / Keychain: one for every store of the test.
KEY = new_store_key()

AREA = "jl/cc/xinhua"
GRID = "jl/cc/xinhua/grid-07"


def in_hours(hours):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)


class Inbox(ChangeObserver):
    """The changes that brought new inbox items, as the observer thread tells them."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def on_change(self, changes):
        with self.lock:
            self.events.extend(c for c in changes if c.inbox)

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


async def main(root):
    bed = Testbed.start(os.path.join(root, "server"))
    url = bed.url()

    async def enrolled(user, role, patrol, scopes):
        folder = os.path.join(root, user)
        os.makedirs(folder)
        store = FieldStore(os.path.join(folder, "fieldsync.db"), KEY)
        await store.enroll(url, bed.add_user(user, role, patrol, scopes), f"{user} phone")
        return store

    resident = await enrolled("resident-sun", Role.RESIDENT, None, [GRID])
    dispatcher = await enrolled("dispatch-wu", Role.DISPATCHER, None, [AREA])
    officer = await enrolled("police-li", Role.PATROL, PatrolKind.POLICE, [AREA])
    heard = Inbox()
    subscription = officer.observe(heard)

    report_id = resident.submit_report(NewReport(
        scope=GRID, category=ReportCategory.SAFETY_HAZARD, title="Blocked fire exit",
        description="", location=None, photos=[]))
    await resident.sync_now(None)
    await dispatcher.sync_now(None)
    dispatcher.execute(report_id, Command.ACCEPT_REPORT("Real"))
    dispatcher.execute(report_id, Command.DISPATCH_REPORT("police-li", in_hours(30), "Go"))
    await dispatcher.sync_now(None)

    # A dispatch arrives: assigned (not due within 24 hours), told once.
    await officer.sync_now(None)
    events = heard.wait_for(1, "the dispatch")
    assert [(e.id, e.origin, e.inbox) for e in events] == [
        (report_id, Origin.REMOTE, [InboxReason.ASSIGNED])], events
    everything = InboxFilter(reasons=[], due_within=None, now=None)
    items = officer.inbox(everything, PageRequest(limit=50, after=None)).items
    assert [(i.report.id, i.reasons) for i in items] == [(report_id, [InboxReason.ASSIGNED])], items
    two_days = InboxFilter(reasons=[InboxReason.DUE_SOON], due_within=datetime.timedelta(days=2),
                           now=None)
    assert len(officer.inbox(two_days, PageRequest(limit=50, after=None)).items) == 1
    await officer.sync_now(None)

    # A supervision arrives: supervised, told once.
    dispatcher.execute(report_id, Command.SUPERVISE("The fire inspection is tomorrow"))
    await dispatcher.sync_now(None)
    await officer.sync_now(None)
    events = heard.wait_for(2, "the supervision")
    assert events[1].inbox == [InboxReason.SUPERVISED], events
    only = InboxFilter(reasons=[InboxReason.SUPERVISED], due_within=None, now=None)
    (item,) = officer.inbox(only, PageRequest(limit=50, after=None)).items
    assert item.supervisions == 1 and item.reasons == [
        InboxReason.ASSIGNED, InboxReason.SUPERVISED], item

    # Bad input is a typed error.
    try:
        officer.inbox(everything, PageRequest(limit=50, after="not a cursor"))
        raise AssertionError("a bad cursor was taken")
    except FieldError.InvalidInput:
        pass

    # The officer's own command tells nothing.
    officer.execute(report_id, Command.START_WORK(""))
    time.sleep(0.2)
    assert len(heard.events) == 2, heard.events
    subscription.cancel()
    bed.stop()
    print("python: inbox ok")


root = tempfile.mkdtemp(prefix="fieldsync-py-inbox")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
