# Deliberation (议事协商) from Python, against a real fieldsync server on a loopback port (the
# testbed): a resident raises a topic and comments; a resident scheduling a meeting and a
# decision before any meeting are refused, changing nothing; the grid leader schedules a
# meeting and records who attended; the leader and the resident (who attended) edit the
# meeting's minutes offline at once, and after both sync both edits are in the minutes on both
# phones; a decision with votes for an unknown option or a negative count is refused; the vote
# is recorded and the list shows it decided.
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
    Command, DecisionMethod, DeliberationFilter, DeliberationStatus, NewDeliberation,
    PageRequest, Role, VoteCount,
)

# The store key an app keeps in the Keystore / Keychain: one for every store of the test.
KEY = new_store_key()

GRID = "jl/cc/street-1/grid-07"
FIRST = PageRequest(limit=50, after=None)


def utf16(text):
    return len(text.encode("utf-16-le")) // 2


def expect_refused(error, what, run):
    try:
        run()
    except error as e:
        return e
    raise AssertionError(f"{what}: not refused")


async def main(root):
    bed = Testbed.start(os.path.join(root, "server"))
    url = bed.url()

    async def enrolled(user, role):
        folder = os.path.join(root, user)
        os.makedirs(folder)
        store = FieldStore(os.path.join(folder, "fieldsync.db"), KEY)
        await store.enroll(url, bed.add_user(user, role, None, [GRID]), f"{user} phone")
        return store

    resident = await enrolled("resident-liu", Role.RESIDENT)
    leader = await enrolled("leader-zhou", Role.GRID_LEADER)

    # Raised and discussed by a resident, who may not schedule its meeting.
    deliberation_id = resident.raise_deliberation(NewDeliberation(
        scope=GRID, topic="7号楼加装电梯", background="楼里老人多，费用如何分摊",
        options=["按楼层分摊", "平均分摊"]))
    resident.execute(deliberation_id, Command.COMMENT_DELIBERATION("一楼也出钱吗"))
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    meeting = Command.SCHEDULE_MEETING(tomorrow, "社区活动室")
    raised = resident.get_deliberation(deliberation_id)
    expect_refused(FieldError.Forbidden, "a resident scheduling a meeting",
                   lambda: resident.execute(deliberation_id, meeting))
    assert resident.get_deliberation(deliberation_id) == raised
    await resident.sync_now(None)

    # The grid leader: no decision before a meeting; a meeting and who attended it.
    await leader.sync_now(None)
    consensus = Command.RECORD_DECISION("按楼层分摊", DecisionMethod.CONSENSUS, [])
    expect_refused(FieldError.InvalidTransition, "a decision before any meeting",
                   lambda: leader.execute(deliberation_id, consensus))
    key = leader.execute(deliberation_id, meeting).item
    leader.execute(deliberation_id, Command.RECORD_MEETING(key, ["resident-liu"]))
    leader.execute(deliberation_id, Command.EDIT_MINUTES(key, 0, 0, "到会28户。"))
    await leader.sync_now(None)
    await resident.sync_now(None)

    # Both offline: the leader writes at the start, the resident at the end; then both sync.
    leader.execute(deliberation_id, Command.EDIT_MINUTES(key, 0, 0, "主持：周。"))
    end = utf16(resident.get_deliberation(deliberation_id).meetings[0].minutes)
    resident.execute(deliberation_id, Command.EDIT_MINUTES(key, end, 0, "多数赞成按楼层分摊。"))
    await leader.sync_now(None)
    await resident.sync_now(None)
    await leader.sync_now(None)
    minutes = leader.get_deliberation(deliberation_id).meetings[0].minutes
    assert minutes == "主持：周。到会28户。多数赞成按楼层分摊。", minutes
    assert resident.get_deliberation(deliberation_id).meetings[0].minutes == minutes

    # The decision: bad votes refused and changing nothing, then the vote.
    options = leader.get_deliberation(deliberation_id).options
    before = leader.get_deliberation(deliberation_id)
    for bad in [VoteCount(option="no-such-option", count=3), VoteCount(option=options[0].id, count=-1)]:
        vote = Command.RECORD_DECISION("按楼层分摊", DecisionMethod.VOTE, [bad])
        e = expect_refused(FieldError.InvalidInput, f"votes {bad}",
                           lambda: leader.execute(deliberation_id, vote))
        assert e.field == "votes", e
    assert leader.get_deliberation(deliberation_id) == before
    votes = [VoteCount(option=options[0].id, count=21), VoteCount(option=options[1].id, count=7)]
    leader.execute(deliberation_id, Command.RECORD_DECISION("按楼层分摊", DecisionMethod.VOTE, votes))
    decided = DeliberationFilter(scope=None, statuses=[DeliberationStatus.DECIDED],
                                 created_by=None, attended_by=None)
    assert [d.id for d in leader.query_deliberations(decided, FIRST).items] == [deliberation_id]
    assert leader.get_deliberation(deliberation_id).decision.votes == votes
    await leader.sync_now(None)

    bed.stop()
    print("python: deliberation ok")


root = tempfile.mkdtemp(prefix="fieldsync-py-deliberation")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
