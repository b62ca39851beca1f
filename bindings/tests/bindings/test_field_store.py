# The phone API from Python, against a real fieldsync server on a loopback port (the testbed),
# every phone starting from an empty folder: enrollment, the three record kinds, sync, a change
# made by another device arriving through the observer, progress callbacks, typed errors,
# photos (added, uploaded beside a records sync, downloaded by another device with their
# thumbnail), and cancellation of a running sync.
#
# Run by `cargo test -p fieldsync-testbed` (tests/foreign) with the generated bindings.

import asyncio
import datetime
import hashlib
import os
import shutil
import struct
import tempfile
import threading
import time
import zlib

from fieldsync import (
    ChangeObserver, FieldError, FieldStore, PhotoListener, SubscriptionEnd, SyncListener, new_store_key,
)
from fieldsync_testbed import Testbed
from fieldsync_core import (
    CaseCategory, Command, EntryKind, Kind, MemberKind, NewCase, NewEntry, NewPatrol, NewReport,
    Origin, PageRequest, Party, PatrolKind, PhotoSource, PhotoState, PhotoTransfer, PhotoVariant,
    ReportCategory, ReportFilter, ReportStatus, Role, TeamMember,
)

# The store key an app keeps in the Keystore / Keychain: one for every store of the test.
KEY = new_store_key()

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


def in_hours(hours):
    """A time `hours` from now, as the bindings take times (an aware datetime)."""
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)


def report(title, description="", category=ReportCategory.NOISE):
    return NewReport(scope=GRID, category=category, title=title, description=description,
                     location=None, photos=[])


def entry(kind, text):
    return NewEntry(kind=kind, text=text, location=None, photos=[], checkpoint=None)


class Changes(ChangeObserver):
    """What an observer hears, on the library's observer thread: changes, then its end."""

    def __init__(self):
        self.seen = []
        self.ended = []
        self.lock = threading.Lock()

    def on_change(self, changes):
        with self.lock:
            self.seen.extend(changes)

    def on_end(self, reason):
        with self.lock:
            self.ended.append(reason)

    def wait_for(self, condition, what):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self.lock:
                if condition(self):
                    return
            time.sleep(0.01)
        raise AssertionError(f"not heard within 10 s: {what} (heard {self.seen}, ended {self.ended})")


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


class PhotoBytes(PhotoListener):
    """Every photo progress callback, with the thread-safe trigger of the first."""

    def __init__(self, on_first=None):
        self.seen = []
        self.lock = threading.Lock()
        self.on_first = on_first

    def on_photo_progress(self, progress):
        with self.lock:
            first = not self.seen
            self.seen.append(progress)
        if first and self.on_first is not None:
            self.on_first()

    def of(self, photo, transfer):
        with self.lock:
            return [p for p in self.seen if p.hash == photo.hash and p.transfer == transfer]

    def check_complete(self, photo, transfer, size):
        """The bytes of one transfer, reported as they moved, never backwards, ending whole."""
        calls = self.of(photo, transfer)
        assert calls, f"no {transfer} progress for {photo.hash}: {self.seen}"
        done = [p.done for p in calls]
        assert done == sorted(done), f"{transfer} progress went backwards: {done}"
        assert calls[-1].done == calls[-1].total == size, calls[-1]
        return calls


def png(width, height, noise):
    """A real PNG: random pixels (incompressible, as large as a camera's photo) or a gradient."""
    if noise:
        rows = (b"\x00" + os.urandom(width * 3) for _ in range(height))
    else:
        rows = (b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 5 % 256, 90))
                for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + chunk(b"IEND", b""))


def jpeg_size(data):
    """(width, height) of a JPEG, from its start-of-frame marker."""
    assert data[:3] == b"\xff\xd8\xff", f"not a JPEG: {data[:8]!r}"
    at = 2
    while at + 9 < len(data):
        assert data[at] == 0xFF, f"no marker at {at}"
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2:at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    raise AssertionError("no start-of-frame marker in the JPEG")


def read(path):
    with open(path, "rb") as f:
        return f.read()


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
        return FieldStore(os.path.join(folder, "fieldsync.db"), KEY)

    async def enrolled(user, role, patrol, scopes):
        store = phone(user)
        assert store.profile() is None
        profile = await store.enroll(url, bed.add_user(user, role, patrol, scopes), f"{user} phone")
        assert profile.user == user and profile.role == role, profile
        return store

    # --- Enrollment and the three record kinds. ---
    police = await enrolled("police-li", Role.PATROL, PatrolKind.POLICE, [AREA])
    mediator = await enrolled("mediator-chen", Role.MEDIATOR, None, [AREA])
    dispatcher = await enrolled("dispatch-wu", Role.DISPATCHER, None, [AREA])

    report_id = police.submit_report(report("Roof-top extension on building 12",
                                            "Steel frame on the roof",
                                            ReportCategory.ILLEGAL_CONSTRUCTION))
    patrol_id = police.start_patrol(NewPatrol(
        scope=AREA, area="North lake trail", checkpoints=[],
        members=[TeamMember(user="police-li", name="Li Wei", kind=MemberKind.POLICE)]))
    hazard = police.execute(patrol_id, Command.ADD_PATROL_ENTRY(entry(EntryKind.HAZARD_FOUND, "Loose railing"))).item
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
                 lambda: FieldStore(os.path.join(root, "no", "such", "x.db"), KEY))
    # The key: another one opens nothing and changes nothing; a new one replaces it.
    scratch_path = os.path.join(root, "scratch", "fieldsync.db")
    expect_error(FieldError.WrongKey, "another key than the open store's",
                 lambda: FieldStore(scratch_path, new_store_key()))
    expect_error(FieldError.InvalidInput, "a key of 16 bytes",
                 lambda: FieldStore(scratch_path, bytes(16)))
    locked_path = os.path.join(root, "locked.db")
    locked = FieldStore(locked_path, KEY)
    locked.set_user("someone")
    kept = locked.submit_report(report("Kept under the key"))
    locked.close()
    expect_error(FieldError.WrongKey, "another key", lambda: FieldStore(locked_path, new_store_key()))
    new_key = new_store_key()
    locked = FieldStore(locked_path, KEY)
    locked.rekey(new_key)
    locked.close()
    expect_error(FieldError.WrongKey, "the key before rekey", lambda: FieldStore(locked_path, KEY))
    locked = FieldStore(locked_path, new_key)
    assert locked.get_report(kept).title == "Kept under the key"
    locked.close()
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
    dispatcher.execute(report_id, Command.DISPATCH_REPORT("police-li", in_hours(24), ""))
    await dispatcher.sync_now(None)
    assert (await police.sync_now(Progress())).docs_pulled == 1
    seen.wait_for(lambda s: any(c.origin == Origin.REMOTE for c in s.seen), "the remote change")
    remote = [c for c in seen.seen if c.origin == Origin.REMOTE]
    assert [c.id for c in remote] == [report_id] and remote[0].kind == Kind.REPORT, seen.seen
    assert police.get_report(report_id).assignee == "police-li"
    assert police.get_report(report_id).deadline > datetime.datetime.now(datetime.timezone.utc)
    subscription.cancel()
    assert not subscription.is_active()
    seen.wait_for(lambda s: s.ended == [SubscriptionEnd.CANCELLED], "the end of the subscription")

    # --- Concurrent dispatches conflict; the conflict is shown, listed and settled. ---
    second = await enrolled("dispatch-zhu", Role.DISPATCHER, None, [AREA])
    await second.sync_now(None)
    conflict_id = police.submit_report(report("Blocked fire lane"))
    await police.sync_now(None)
    await dispatcher.sync_now(None)
    await second.sync_now(None)
    for store, who in ((dispatcher, "police-li"), (second, "police-zhao")):
        store.execute(conflict_id, Command.ACCEPT_REPORT(""))
        store.execute(conflict_id, Command.DISPATCH_REPORT(who, in_hours(1), ""))
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

    await photos(root, police, mediator, dispatcher, patrol_id, hazard, case_id)

    # --- A change the server refuses (the user's rights changed meanwhile) is kept and shown. ---
    offline = police.submit_report(report("Written before the transfer"))
    bed.set_scopes("police-li", ["jl/cc/other-town"])
    await police.sync_now(None)
    status = police.sync_status()
    refused = [r for r in status.rejected if r.id == offline]
    # Written under the old scope and refused under the new one: stale rights, not a forgery.
    assert refused and refused[0].code == "stale_rights", [(r.code, r.message) for r in status.rejected]
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
    assert late.sync_options().request_timeout == datetime.timedelta(seconds=30)
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

    # --- A lost phone revoked with a wipe erases its store at its next contact. ---
    bed.wipe_device(late.device().device)
    wiped = await expect_async(FieldError.DeviceRevoked, "a device to wipe", late.sync_now(None))
    assert wiped.wiped, wiped
    assert count_reports(late) == 0 and late.device() is None
    late.integrity_check()

    bed.stop()
    print(f"python: ok ({total} reports, cancelled sync had {partial})")


async def photos(root, police, mediator, dispatcher, patrol_id, hazard, case_id):
    """A patrol officer photographs a building and a hazard; the photos upload after the
    records, beside a sync of a record saved meanwhile; a dispatcher downloads them."""
    big = png(1600, 1200, noise=True)  # 5.8 MB of pixels that do not compress, like a photo
    small = png(64, 48, noise=False)
    report_id = police.submit_report(report("Extension on building 14", "Photos attached",
                                            ReportCategory.ILLEGAL_CONSTRUCTION))

    # --- Added: in the record at once, the bytes on the phone, waiting for upload. ---
    big_ref = police.add_photo(report_id, PhotoSource.BYTES(big), "image/png", None)
    assert big_ref.hash == hashlib.sha256(big).hexdigest() and big_ref.size == len(big), big_ref
    assert big_ref.media_type == "image/png"
    assert police.get_report(report_id).photos == [big_ref]
    # The store is encrypted: its files are sealed, and photos are read through it.
    assert read(police.photo_file(big_ref.hash)) != big
    assert police.photo_bytes(big_ref.hash, PhotoVariant.ORIGINAL) == big
    camera_file = os.path.join(root, "hazard.png")
    with open(camera_file, "wb") as f:
        f.write(small)
    small_ref = police.add_photo(patrol_id, PhotoSource.FILE(camera_file), "image/png", hazard)
    os.remove(camera_file)  # the store keeps its own copy
    entries = {e.id: e for e in police.get_patrol(patrol_id).entries}
    assert entries[hazard].photos == [small_ref], entries[hazard]
    assert police.photo_bytes(small_ref.hash, PhotoVariant.ORIGINAL) == small
    pending = police.photos_pending()
    assert sorted(p.hash for p in pending) == sorted([big_ref.hash, small_ref.hash]), pending
    assert all(p.state == PhotoState.LOCAL and p.refused_code is None for p in pending), pending

    # Typed errors, nothing added.
    expect_error(FieldError.InvalidInput, "an empty photo",
                 lambda: police.add_photo(report_id, PhotoSource.BYTES(b""), "image/png", None))
    expect_error(FieldError.InvalidInput, "a camera file that is gone",
                 lambda: police.add_photo(report_id, PhotoSource.FILE(camera_file), "image/png", None))
    expect_error(FieldError.InvalidInput, "not a media type",
                 lambda: police.add_photo(report_id, PhotoSource.BYTES(small), "png", None))
    expect_error(FieldError.InvalidInput, "a malformed hash", lambda: police.photo_file("ABC"))
    assert police.get_report(report_id).photos == [big_ref] and len(police.photos_pending()) == 2

    # The server takes a photo only once a synced record names it: before the sync, they wait.
    early = await police.upload_photos(None)
    assert (early.uploaded, early.waiting, early.bytes_up) == (0, 2, 0), early
    await police.sync_now(None)

    # Another device learns of the photo with the record; the bytes are not on the server yet.
    await dispatcher.sync_now(None)
    assert dispatcher.get_report(report_id).photos == [big_ref]
    assert dispatcher.photo(big_ref.hash).state == PhotoState.REMOTE
    assert dispatcher.photo_file(big_ref.hash) is None
    await expect_async(FieldError.PhotoNotFound, "a photo not uploaded yet",
                       dispatcher.download_photo(big_ref.hash, PhotoVariant.ORIGINAL, None))
    unknown = await expect_async(FieldError.PhotoNotFound, "a hash no record names",
                                 dispatcher.download_photo("0" * 64, PhotoVariant.ORIGINAL, None))
    assert unknown.hash == "0" * 64, unknown

    # --- The upload runs on its own: a record saved meanwhile syncs before it ends. ---
    started = asyncio.Event()
    uploading = PhotoBytes(lambda: loop.call_soon_threadsafe(started.set))
    upload = asyncio.ensure_future(police.upload_photos(uploading))
    await started.wait()
    police.submit_report(report("Saved while the photos upload"))
    synced = await police.sync_now(None)
    assert synced.docs_pushed == 1, synced
    sent = max(p.done for p in uploading.of(big_ref, PhotoTransfer.UPLOAD))
    assert sent < len(big) and not upload.done(), \
        f"the records' sync waited for the photo upload ({sent} of {len(big)} bytes sent)"
    summary = await upload
    assert (summary.uploaded, summary.waiting, summary.refused) == (2, 0, 0), summary
    assert summary.bytes_up == len(big) + len(small), summary
    assert len(uploading.check_complete(big_ref, PhotoTransfer.UPLOAD, len(big))) >= 3
    uploading.check_complete(small_ref, PhotoTransfer.UPLOAD, len(small))
    assert police.photos_pending() == []
    assert police.photo(big_ref.hash).state == PhotoState.UPLOADED

    # --- The dispatcher downloads the original (the same bytes) and the server's thumbnail. ---
    fetching = PhotoBytes()
    path = await dispatcher.download_photo(big_ref.hash, PhotoVariant.ORIGINAL, fetching)
    original = dispatcher.photo_bytes(big_ref.hash, PhotoVariant.ORIGINAL)
    assert original == big, "the downloaded photo differs from the one taken"
    assert dispatcher.photo_file(big_ref.hash) == path
    assert dispatcher.photo(big_ref.hash).state == PhotoState.DOWNLOADED
    assert len(fetching.check_complete(big_ref, PhotoTransfer.ORIGINAL, len(big))) >= 2
    thumbs = PhotoBytes()
    thumb_path = await dispatcher.download_photo(big_ref.hash, PhotoVariant.THUMBNAIL, thumbs)
    thumb = dispatcher.photo_bytes(big_ref.hash, PhotoVariant.THUMBNAIL)
    assert jpeg_size(thumb) == (320, 240), jpeg_size(thumb)
    assert len(thumb) < len(big) // 20, len(thumb)
    thumbs.check_complete(big_ref, PhotoTransfer.THUMBNAIL, len(thumb))
    assert dispatcher.thumbnail_file(big_ref.hash) == thumb_path
    # Small photos come by policy after a sync.
    assert [p.hash for p in dispatcher.photos_to_download(256 * 1024)] == [small_ref.hash]
    fetched = await dispatcher.download_small_photos(None)
    assert (fetched.downloaded, fetched.missing, fetched.bytes_down) == (1, 0, len(small)), fetched
    assert dispatcher.photo_bytes(small_ref.hash, PhotoVariant.ORIGINAL) == small

    # --- The same photo from another device is not sent again. ---
    same = mediator.add_photo(case_id, PhotoSource.BYTES(small), "image/png", None)
    assert same == small_ref, same
    await mediator.sync_now(None)
    dedup = await mediator.upload_photos(None)
    assert (dedup.uploaded, dedup.deduplicated, dedup.bytes_up) == (1, 1, 0), dedup

    # --- A photo is never a web page: text, HTML or SVG is refused, by name, nothing stored. ---
    notes = b"Site manager's phone number: 0431-555-0199\n"
    for media in ("text/plain", "text/html", "image/svg+xml"):
        refused = expect_error(FieldError.InvalidInput, f"a {media} photo",
                               lambda: police.add_photo(report_id, PhotoSource.BYTES(notes), media, None))
        assert refused.field == "media_type", refused
    assert police.photo(hashlib.sha256(notes).hexdigest()) is None

    # --- An image the server cannot read (HEIC): kept and readable, but it has no thumbnail. ---
    heic = b"\0\0\0\x18ftypheic" + b"not really HEIC" * 50
    heic_ref = police.add_photo(report_id, PhotoSource.BYTES(heic), "image/heic", None)
    await police.sync_now(None)
    assert (await police.upload_photos(None)).uploaded == 1
    await dispatcher.sync_now(None)
    await expect_async(FieldError.NoThumbnail, "a thumbnail of an image the server cannot read",
                       dispatcher.download_photo(heic_ref.hash, PhotoVariant.THUMBNAIL, None))
    await dispatcher.download_photo(heic_ref.hash, PhotoVariant.ORIGINAL, None)
    assert dispatcher.photo_bytes(heic_ref.hash, PhotoVariant.ORIGINAL) == heic
    chunks = len(uploading.of(big_ref, PhotoTransfer.UPLOAD))
    pieces = len(fetching.of(big_ref, PhotoTransfer.ORIGINAL))
    print(f"python: photos ok ({len(big)} bytes up in {chunks} chunks, a record synced when "
          f"{sent} were up; down in {pieces} pieces; thumbnail {len(thumb)} bytes)")


root = tempfile.mkdtemp(prefix="fieldsync-py")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
