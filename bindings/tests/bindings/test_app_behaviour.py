# What an app relies on, from Python, against a real fieldsync server on a loopback port (the
# testbed):
# - a sync over a link that accepts requests and never answers ends within the deadline of its
#   SyncOptions, typed (FieldError.Timeout), keeping the pages it applied; with attempts spent
#   first, it ends as FieldError.Network;
# - notes edited after an emoji or a CJK character outside the BMP, at UTF-16 positions (the
#   unit of Kotlin and Swift strings; Python counts code points, so it converts);
# - a negative backoff refused by name.
#
# Run by `cargo test -p fieldsync-testbed` (tests/foreign) with the generated bindings.

import asyncio
import datetime
import os
import shutil
import socket
import tempfile
import threading
import time

from fieldsync import FieldError, FieldStore, SyncListener, new_store_key
from fieldsync_testbed import Testbed
from fieldsync_core import (
    CaseCategory, Command, NewCase, NewReport, PageRequest, Party, ReportCategory, ReportFilter,
    Role, ServerTrust,
)

# The store key an app keeps in the Keystore / Keychain: one for every store of the test.
KEY = new_store_key()

AREA = "jl/cc/xinhua"
GRID = "jl/cc/xinhua/grid-07"


class Link:
    """A TCP link between the phone and the server that can go silent: connections it accepts
    then are read and never answered, as on a dead 2G cell or behind a captive portal."""

    def __init__(self, server_url):
        host, port = server_url.removeprefix("http://").split(":")
        self.server = (host, int(port))
        self.silent = False
        self.lock = threading.Lock()
        self.open = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.open.append(client)
                silent = self.silent
            if silent:
                threading.Thread(target=self.swallow, args=(client,), daemon=True).start()
            else:
                upstream = socket.create_connection(self.server)
                with self.lock:
                    self.open.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @staticmethod
    def swallow(client):
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    def go_silent(self):
        """From now on nothing is answered; connections open now are cut, so the phone's next
        requests come on new, silent ones."""
        with self.lock:
            self.silent = True
            cut, self.open = self.open, []
        for s in cut:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def go_live(self):
        with self.lock:
            self.silent = False
            cut, self.open = self.open, []
        for s in cut:
            try:
                s.close()
            except OSError:
                pass


class OnFirstPage(SyncListener):
    def __init__(self, action):
        self.action = action
        self.pages = 0

    def on_progress(self, progress):
        self.pages += 1
        if self.pages == 1:
            self.action()


def report(title, description=""):
    return NewReport(scope=GRID, category=ReportCategory.NOISE, title=title,
                     description=description, location=None, photos=[])


def count_reports(store):
    count, after = 0, None
    while True:
        page = store.query_reports(ReportFilter(), PageRequest(limit=200, after=after))
        count += len(page.items)
        after = page.next
        if after is None:
            return count


def utf16(text):
    """Length of `text` in UTF-16 code units: where Kotlin's `text.length` puts its end."""
    return len(text.encode("utf-16-le")) // 2


async def expect_async(kind, what, coroutine):
    try:
        await coroutine
    except kind as e:
        return e
    except Exception as e:  # noqa: BLE001 - the wrong error is the failure being reported
        raise AssertionError(f"{what}: expected {kind.__name__}, got {e!r}") from e
    raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


async def a_sync_over_a_silent_link_ends(root, bed):
    """A fresh phone catching up over a link that goes silent after the first page."""
    author = FieldStore(os.path.join(root, "author.db"), KEY)
    await author.enroll(bed.url(), bed.add_user("dispatch-lu", Role.DISPATCHER, None, [AREA]), "desk")
    for i in range(150):
        author.submit_report(report(f"Overflowing bin #{i}", f"Bin {i} by the lake path. " * 20))
    await author.sync_now()
    total = count_reports(author)

    link = Link(bed.url())
    phone = FieldStore(os.path.join(root, "phone.db"), KEY)
    code = bed.add_user("dispatch-ma", Role.DISPATCHER, None, [AREA])
    await phone.enroll(link.url, code, "phone behind a weak link")
    options = phone.sync_options()
    # The defaults suit a phone on 2G: 30 s per request, 5 minutes for a whole sync.
    assert options.request_timeout == datetime.timedelta(seconds=30), options.request_timeout
    assert options.deadline == datetime.timedelta(minutes=5), options.deadline
    options.page_bytes = 16_384
    options.request_timeout = datetime.timedelta(seconds=1)
    options.deadline = datetime.timedelta(seconds=4)
    options.attempts = 100
    options.backoff = datetime.timedelta(milliseconds=100)
    options.max_backoff = datetime.timedelta(milliseconds=500)
    phone.set_sync_options(options)

    started = time.monotonic()
    late = await expect_async(FieldError.Timeout, "a sync over a silent link",
                              phone.sync_now(OnFirstPage(link.go_silent)))
    ended_after = time.monotonic() - started
    assert late.seconds == 4, late
    assert 3.5 <= ended_after < 8, f"the sync ended after {ended_after:.1f} s, its deadline 4 s"
    kept = count_reports(phone)
    assert 1 <= kept < total, f"the pages applied before the link went silent are kept: {kept} of {total}"
    phone.integrity_check()

    # Attempts spent before the deadline: a typed network error, as soon as they are.
    options.attempts = 2
    options.deadline = datetime.timedelta(seconds=60)
    phone.set_sync_options(options)
    started = time.monotonic()
    gone = await expect_async(FieldError.Network, "two requests unanswered", phone.sync_now())
    took = time.monotonic() - started
    assert gone.attempts == 2 and "request timeout" in gone.detail, gone
    assert took < 10, f"two 1 s requests took {took:.1f} s"

    # The link comes back: the next sync goes on from where the first stopped.
    link.go_live()
    await phone.sync_now()
    assert count_reports(phone) == total
    phone.integrity_check()
    print(f"python: a silent link ended the sync at its 4 s deadline after {ended_after:.1f} s "
          f"({kept} of {total} reports kept), and after 2 attempts in {took:.1f} s")


async def notes_at_utf16_positions(root):
    store = FieldStore(os.path.join(root, "mediator.db"), KEY)
    store.set_user("mediator-he")
    case = store.open_case(NewCase(scope=GRID, category=CaseCategory.NEIGHBOUR, place="Courtyard",
                                   parties=[Party(name="Zhang", role="", contact="")], mediators=[]))
    session = store.execute(case, Command.ADD_SESSION(["Zhang"], "😀双方同意见面")).item

    def notes():
        return store.get_case(case).sessions[0].notes

    text = notes()
    store.execute(case, Command.EDIT_NOTES(session, utf16(text[:text.index("意")]), 0, "都"))
    assert notes() == "😀双方同都意见面", notes()
    text = notes()
    store.execute(case, Command.EDIT_NOTES(session, utf16(text), 0, "，𠀀先生签字"))
    text = notes()
    store.execute(case, Command.EDIT_NOTES(session, utf16(text[:text.index("签")]), 0, "已"))
    assert notes() == "😀双方同都意见面，𠀀先生已签字", notes()
    inside = utf16(text[:text.index("𠀀")]) + 1
    split = None
    try:
        store.execute(case, Command.EDIT_NOTES(session, inside, 0, "x"))
    except FieldError.InvalidInput as e:
        split = e
    assert split is not None and split.field == "notes range", split
    store.close()


def a_negative_backoff_is_refused_by_name(root):
    store = FieldStore(os.path.join(root, "options.db"), KEY)
    options = store.sync_options()
    options.backoff = datetime.timedelta(milliseconds=-200)
    try:
        store.set_sync_options(options)
        raise AssertionError("a negative backoff was taken")
    except FieldError.InvalidInput as e:
        assert e.field == "backoff" and "negative" in e.reason, e
    assert store.sync_options().backoff == datetime.timedelta(milliseconds=200)
    store.close()


async def plain_http_stays_on_this_device(root):
    store = FieldStore(os.path.join(root, "trust.db"), KEY)
    refused = await expect_async(FieldError.InvalidInput, "plain http:// to another device",
                                 store.enroll("http://sync.example.org", "ABCDE-FGHJK", "phone"))
    assert refused.field == "server_url" and "https://" in refused.reason, refused
    try:
        store.set_server_trust(ServerTrust(certificates_pem=["not a certificate"],
                                           allow_plain_http=False))
        raise AssertionError("a certificate that is not PEM was taken")
    except FieldError.InvalidInput as e:
        assert e.field == "certificates_pem", e
    assert store.server_trust() == ServerTrust(certificates_pem=[], allow_plain_http=False)
    store.close()


async def main(root):
    bed = Testbed.start(os.path.join(root, "server"))
    try:
        await a_sync_over_a_silent_link_ends(root, bed)
        await notes_at_utf16_positions(root)
        a_negative_backoff_is_refused_by_name(root)
        await plain_http_stays_on_this_device(root)
    finally:
        bed.stop()
    print("python app behaviour: ok")


root = tempfile.mkdtemp(prefix="fieldsync-py-app")
try:
    asyncio.run(main(root))
finally:
    shutil.rmtree(root, ignore_errors=True)
