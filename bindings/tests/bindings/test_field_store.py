# The phone API from Python, against a real fieldsync server on a loopback port (the testbed),
# every phone starting from an empty folder: enrolment, the three record kinds, sync, a change
# made by another device arriving through the observer, progress callbacks, typed errors, and
# cancellation of a running sync.
#
# Run by `cargo test -p fieldsync-bindings` (tests/foreign.rs) with the generated bindings.

import asyncio
import os
import shutil
import tempfile
import threading
import time

from fieldsync import ChangeObserver, FieldError, FieldStore, SyncListener, Testbed
from fieldsync_core import (
    CaseCategory, Command, EntryKind, Kind, MemberKind, NewCase, NewEntry, NewPatrol, NewReport,
    Origin, PageRequest, Party, PatrolKind, ReportCategory, ReportFilter, ReportStatus, Role,
    TeamMember,
)

AREA = "jl/cc/xinhua"
GRID = "jl/cc/xinhua/grid-07"


def expect_error(kind, what, call):
    try:
        call()
    except kind as e:
        return e
    except Exception as e:  # noqa: BLE001 - the wrong error is the failure being reported
        raise AssertionError(f"{what}: expected {kind.__name__}, got {e!r}") from e
    raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


async def expect_async(kind, what, coroutine):
    try:
        await coroutine
    except kind as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"{what}: expected {kind.__name__}, got {e!r}") from e
    raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


def report(title, description="", category=ReportCategory.NOISE):
    return NewReport(scope=GRID, category=category, title=title, description=description,
                     location=None, photos=[])


def entry(kind, text):
    return NewEntry(kind=kind, text=text, location=None, photos=[], checkpoint=None)


class Changes(ChangeObserver):
    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()

    def on_change(self, changes):
        with self.lock:
            self.seen.extend(changes)


class Progress(SyncListener):
    def __init__(self, on_first=None):
        self.calls = 0
        self.last_docs = 0
        self.on_first = on_first

    def on_progress(self, progress):
        assert progress.docs_done >= self.last_docs, f"progress went backwards: {progress}"
        self.last_docs = progress.docs_done
        self.calls += 1
        if self.calls == 1 and self.on_first is not None:
            self.on_first()


def count_reports(store):
    count, after = 0, None
    while True:
        page = store.query_reports(ReportFilter(scope=None, statuses=[], category=None,
                                                assignee=None, created_by=None, overdue_at=None,
                                                conflicted_only=False),
                                   PageRequest(limit=200, after=after))
        count += len(page.items)
        after = page.next
        if after is None:
            return count


async def main(root):
    bed = Testbed.start(os.path.join(root, "server"))
    url = bed.url()

    def phone(name):
        folder = os.path.join(root, name)
        os.makedirs(folder)
        return FieldStore.open(os.path.join(folder, "fieldsync.db"))

    async def enrolled(user, role, patrol, scopes):
        store = phone(user)
        assert store.profile() is None
        profile = await store.enroll(url, bed.add_user(user, role, patrol, scopes), f"{user} phone")
        assert profile.user == user and profile.role == role, profile
        return store

    # --- Enrolment and the three record kinds. ---
    police = await enrolled("police-li", Role.PATROL, PatrolKind.POLICE, [AREA])
    mediator = await enrolled("mediator-chen", Role.MEDIATOR, None, [AREA])
    dispatcher = await enrolled("dispatch-wu", Role.DISPATCHER, None, [AREA])

    report_id = police.submit_report(report("Roof-top extension on building 12",
                                            "Steel frame on the roof",
                                            ReportCategory.ILLEGAL_CONSTRUCTION))
    patrol_id = police.start_patrol(NewPatrol(
        scope=AREA, area="North lake trail", checkpoints=[],
        members=[TeamMember(user="police-li", name="Li Wei", kind=MemberKind.POLICE)]))
    police.execute(patrol_id, Command.ADD_PATROL_ENTRY(entry(EntryKind.HAZARD_FOUND, "Loose railing")))
    police.execute(patrol_id, Command.ADD_PATROL_ENTRY(entry(EntryKind.TOURIST_HELPED, "Lost child")))
    assert len(police.get_patrol(patrol_id).entries) == 2

    case_id = mediator.open_case(NewCase(
        scope=GRID, category=CaseCategory.NEIGHBOUR, place="Courtyard of building 3",
        parties=[Party(name="Zhang", role="ground floor", contact=""),
                 Party(name="Zhao", role="first floor", contact="")],
        mediators=["mediator-chen"]))
    session = mediator.execute(case_id, Command.ADD_SESSION(["Zhang", "Zhao"], "Both agree to meet.")).item
    mediator.execute(case_id, Command.EDIT_NOTES(session, 19, 0, " Leak upstairs."))
    assert mediator.get_case(case_id).sessions[0].notes == "Both agree to meet. Leak upstairs."

    # --- Typed errors; nothing changes. ---
    expect_error(FieldError.InvalidTransition, "resolving a submitted report",
                 lambda: police.execute(report_id, Command.RESOLVE_REPORT("done")))
    expect_error(FieldError.WrongKind, "a patrol command on a report",
                 lambda: police.execute(report_id, Command.FINISH_PATROL("")))
    expect_error(FieldError.InvalidId, "no id", lambda: police.get("not-an-id"))
    scratch = phone("scratch")
    scratch.set_user("someone")
    stranger = scratch.submit_report(report("Elsewhere"))
    expect_error(FieldError.NotFound, "an id this phone does not hold", lambda: police.get(stranger))
    expect_error(FieldError.InvalidInput, "a blank title", lambda: police.submit_report(report("  ")))
    expect_error(FieldError.InvalidInput, "a zero search limit", lambda: police.search("x", None, 0))
    expect_error(FieldError.InvalidInput, "a folder that does not exist",
                 lambda: FieldStore.open(os.path.join(root, "no", "such", "x.db")))
    await expect_async(FieldError.InvalidInput, "a URL that is not http(s)",
                       phone("bad-url").enroll("ftp://example.org", "ABCDE-FGHJK", "p"))
    refused = await expect_async(FieldError.CodeRefused, "an unknown code",
                                 phone("bad-code").enroll(url, "ABCDE-FGHJK", "p"))
    assert refused.code == "code_unknown", refused
    await expect_async(FieldError.NotEnrolled, "a store never enrolled", scratch.sync_now(None))
    assert police.get_report(report_id).status == ReportStatus.SUBMITTED

    # --- Sync, with progress. ---
    assert (await police.sync_now(None)).docs_pushed == 2
    await mediator.sync_now(None)
    progress = Progress()
    assert (await dispatcher.sync_now(progress)).docs_pulled == 3
    assert progress.calls >= 1

    # --- Another device's change arrives through the observer. ---
    seen = Changes()
    subscription = police.observe(seen)
    dispatcher.execute(report_id, Command.ACCEPT_REPORT("Checking the permit"))
    dispatcher.execute(report_id, Command.DISPATCH_REPORT("police-li", int(time.time() * 1000) + 86_400_000, ""))
    await dispatcher.sync_now(None)
    assert (await police.sync_now(Progress())).docs_pulled == 1
    remote = [c for c in seen.seen if c.origin == Origin.REMOTE]
    assert [c.id for c in remote] == [report_id] and remote[0].kind == Kind.REPORT, seen.seen
    assert police.get_report(report_id).assignee == "police-li"
    subscription.cancel()
    assert not subscription.is_active()

    # --- Concurrent dispatches conflict; the conflict is shown, listed and settled. ---
    second = await enrolled("dispatch-zhu", Role.DISPATCHER, None, [AREA])
    await second.sync_now(None)
    conflict_id = police.submit_report(report("Blocked fire lane"))
    await police.sync_now(None)
    await dispatcher.sync_now(None)
    await second.sync_now(None)
    for store, who in ((dispatcher, "police-li"), (second, "police-zhao")):
        store.execute(conflict_id, Command.ACCEPT_REPORT(""))
        store.execute(conflict_id, Command.DISPATCH_REPORT(who, int(time.time() * 1000) + 3_600_000, ""))
    await dispatcher.sync_now(None)
    await second.sync_now(None)
    await dispatcher.sync_now(None)
    conflicts = {c.field: c for c in dispatcher.get_report(conflict_id).conflicts}
    assert "assignee" in conflicts, conflicts
    assert sorted(conflicts["assignee"].values) == ["police-li", "police-zhao"], conflicts
    listed = dispatcher.query_reports(ReportFilter(scope=None, statuses=[], category=None,
                                                   assignee=None, created_by=None, overdue_at=None,
                                                   conflicted_only=True),
                                      PageRequest(limit=50, after=None))
    assert [r.id for r in listed.items] == [conflict_id], listed
    expect_error(FieldError.NoSuchConflict, "settling a value that is not in conflict",
                 lambda: dispatcher.execute(conflict_id, Command.SETTLE_CONFLICT("assignee", "nobody")))
    dispatcher.execute(conflict_id, Command.SETTLE_CONFLICT("assignee", "police-zhao"))
    settled = dispatcher.get_report(conflict_id)
    assert settled.assignee == "police-zhao" and not [c for c in settled.conflicts if c.field == "assignee"]
    await dispatcher.sync_now(None)
    await second.sync_now(None)
    assert second.get_report(conflict_id).assignee == "police-zhao"

    # --- A change the server refuses (the user's rights changed meanwhile) is kept and shown. ---
    offline = police.submit_report(report("Written before the transfer"))
    bed.set_scopes("police-li", ["jl/cc/other-town"])
    await police.sync_now(None)
    status = police.sync_status()
    refused = [r for r in status.rejected if r.id == offline]
    assert refused and refused[0].code == "forbidden", status
    assert police.get_report(offline).title == "Written before the transfer"
    police.retry_rejected(offline)
    assert not [r for r in police.sync_status().rejected if r.id == offline]
    bed.set_scopes("police-li", [AREA])
    await police.sync_now(None)
    assert police.sync_status().pending_docs == 0 and not police.sync_status().rejected

    # --- Cancelling a running sync leaves the store consistent. ---
    for i in range(200):
        police.submit_report(report(f"Overflowing bin #{i}", f"Bin {i} by the lake path. " * 20))
    await police.sync_now(None)
    total = count_reports(police)
    late = await enrolled("dispatch-ma", Role.DISPATCHER, None, [AREA])
    options = late.sync_options()
    options.page_bytes = 16_384
    late.set_sync_options(options)
    first_page = asyncio.Event()
    task = asyncio.ensure_future(late.sync_now(Progress(lambda: loop.call_soon_threadsafe(first_page.set))))
    await first_page.wait()
    task.cancel()
    try:
        await task
        raise AssertionError("the sync finished although it was cancelled")
    except asyncio.CancelledError:
        pass
    partial = count_reports(late)
    assert 1 <= partial < total, f"cancelled after part of the pull: {partial} of {total}"
    late.integrity_check()
    await late.sync_now(None)
    assert count_reports(late) == total
    assert late.stats().documents == total + 2
    late.integrity_check()

    # --- A revoked device gets a typed error and keeps its data. ---
    bed.revoke_device(dispatcher.device().device)
    await expect_async(FieldError.DeviceRevoked, "a revoked device", dispatcher.sync_now(None))
    assert dispatcher.get_report(report_id).status == ReportStatus.DISPATCHED

    bed.stop()
    print(f"python: ok ({total} reports, cancelled sync had {partial})")


root = tempfile.mkdtemp(prefix="fieldsync-py")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
