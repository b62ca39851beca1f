# Phone to phone from Python: two patrol phones enrolled with a real fieldsync server on a
# loopback port (the testbed), which then stops: from there on they meet only each other. The
# patrol log crosses whole over a transport written in Python (two asyncio queues); each adds an
# entry offline, and they meet again over the built-in loopback TCP transport and converge,
# with progress heard; a session whose peer never answers is cancelled, typed, and cannot run
# again; a link that closes is typed.
#
# Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import asyncio
import os
import shutil
import tempfile

from fieldsync import (
    FieldError, FieldStore, PeerListener, PeerTcpListener, PeerTransport, connect_loopback_peer,
    new_store_key, uniffi_set_event_loop,
)
from fieldsync_testbed import Testbed
from fieldsync_core import (
    Command, EntryKind, MemberKind, NewEntry, NewPatrol, PatrolKind, PeerStage, Role,
    TeamMember,
)

KEY = new_store_key()
AREA = "jl/valley/north-loop"


class QueueTransport(PeerTransport):
    """One end of a link made of two queues: what an app's Bluetooth or Wi-Fi link would be."""

    def __init__(self, out, inbox):
        self.out = out
        self.inbox = inbox

    async def send(self, frame):
        await self.out.put(frame)

    async def receive(self):
        frame = await self.inbox.get()
        if frame is None:
            raise FieldError.PeerLinkClosed(detail="the other phone went away")
        return frame

    def close(self):
        self.out.put_nowait(None)


def queue_pair():
    ab, ba = asyncio.Queue(), asyncio.Queue()
    return QueueTransport(ab, ba), QueueTransport(ba, ab)


class SilentTransport(PeerTransport):
    """A link whose other end never says anything."""

    async def send(self, frame):
        pass

    async def receive(self):
        await asyncio.Event().wait()


class Heard(PeerListener):
    def __init__(self):
        self.progress = []

    def on_peer_progress(self, progress):
        self.progress.append(progress)


def entry(text):
    return Command.ADD_PATROL_ENTRY(NewEntry(kind=EntryKind.OBSERVATION, text=text, location=None,
                                             photos=[], checkpoint=None))


def entries(store, id):
    return sorted(f"{e.by}: {e.text}" for e in store.get_patrol(id).entries)


async def main(root):
    # Calls into the app's transports come from the library's threads: they run on this loop.
    uniffi_set_event_loop(asyncio.get_running_loop())
    bed = Testbed.start(os.path.join(root, "server"))

    async def enrolled(user, kind):
        folder = os.path.join(root, user)
        os.makedirs(folder)
        store = FieldStore(os.path.join(folder, "fieldsync.db"), KEY)
        await store.enroll(bed.url(), bed.add_user(user, Role.PATROL, kind, [AREA]), f"{user} phone")
        return store

    li = await enrolled("police-li", PatrolKind.POLICE)
    wang = await enrolled("cadre-wang", PatrolKind.CADRE)
    # Into the valley: no server from here on.
    bed.stop()

    patrol_id = li.start_patrol(NewPatrol(
        scope=AREA, area="North loop", checkpoints=[],
        members=[TeamMember(user="police-li", name="Li Wei", kind=MemberKind.POLICE),
                 TeamMember(user="cadre-wang", name="Wang Fang", kind=MemberKind.VILLAGE_CADRE)]))
    li.execute(patrol_id, entry("north gate clear"))

    # The log crosses whole over a transport written in Python.
    li_end, wang_end = queue_pair()
    sent, got = await asyncio.gather(li.peer_session(li_end, None).run(),
                                     wang.peer_session(wang_end, None).run())
    assert (sent.docs_sent_whole, got.docs_received) == (1, 1), (sent, got)
    assert (sent.peer_user, got.peer_user) == ("cadre-wang", "police-li"), (sent, got)
    assert entries(wang, patrol_id) == ["police-li: north gate clear"], entries(wang, patrol_id)

    # Each adds an entry offline; they meet over loopback TCP and converge.
    li.execute(patrol_id, entry("warned a group off the closed path"))
    wang.execute(patrol_id, entry("loose rocks at km 3"))
    listener = PeerTcpListener.loopback()
    at_li, to_li = await asyncio.gather(listener.accept(), connect_loopback_peer(listener.port()))
    heard = Heard()
    a, b = await asyncio.gather(li.peer_session(at_li, heard).run(),
                                wang.peer_session(to_li, None).run())
    assert a.docs_received == 1 and b.docs_received == 1, (a, b)
    assert not a.refused and not b.refused, (a, b)
    want = ["cadre-wang: loose rocks at km 3", "police-li: north gate clear",
            "police-li: warned a group off the closed path"]
    assert entries(li, patrol_id) == want, entries(li, patrol_id)
    assert entries(wang, patrol_id) == want, entries(wang, patrol_id)
    stages = [p.stage for p in heard.progress]
    assert stages[:2] == [PeerStage.GREETED, PeerStage.OFFERED] and PeerStage.ROUND in stages, stages
    assert heard.progress[1].docs_expected == 1, heard.progress[1]
    assert heard.progress[-1].docs_received == 1, heard.progress[-1]

    # A session whose peer never answers is cancelled, and runs only once.
    session = wang.peer_session(SilentTransport(), None)
    running = asyncio.ensure_future(session.run())
    await asyncio.sleep(0.3)
    assert not running.done(), "the session waits for its peer"
    session.cancel()
    try:
        await asyncio.wait_for(running, 10)
        raise AssertionError("a cancelled session returned")
    except FieldError.PeerCancelled:
        pass
    assert session.is_cancelled()
    try:
        await session.run()
        raise AssertionError("a session ran twice")
    except FieldError.InvalidInput:
        pass

    # The other phone going away mid-session is typed.
    gone, left = queue_pair()
    gone.close()
    try:
        await li.peer_session(left, None).run()
        raise AssertionError("a session with a peer that went away returned")
    except FieldError.PeerLinkClosed:
        pass

    print(f"python: peer ok ({len(heard.progress)} progress reports)")


root = tempfile.mkdtemp(prefix="fieldsync-py-peer")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
