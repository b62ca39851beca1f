# Residents' points from Python, against a real fieldsync server on a loopback port (the
# testbed): a grid leader's phone awards points and lists a good; the resident's phone redeems
# it (again with the same request id: one voucher), reads balance, history and voucher from the
# store with the server gone, and refusals are FieldError.PointsRefused with the reason's code.
#
# Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import asyncio
import os
import shutil
import tempfile

from fieldsync import FieldError, FieldStore, new_store_key
from fieldsync_testbed import Testbed
from fieldsync_core import GoodUpdate, Role

# The store key an app keeps in the Keystore / Keychain: one for every store of the test.
KEY = new_store_key()

GRID = "jl/cc/xinhua/grid-07"


async def main(root):
    bed = Testbed.start(os.path.join(root, "server"))
    url = bed.url()

    async def enrolled(user, role):
        folder = os.path.join(root, user)
        os.makedirs(folder)
        store = FieldStore(os.path.join(folder, "fieldsync.db"), KEY)
        await store.enroll(url, bed.add_user(user, role, None, [GRID]), f"{user} phone")
        return store

    resident = await enrolled("resident-sun", Role.RESIDENT)
    leader = await enrolled("leader-zhou", Role.GRID_LEADER)
    assert resident.points() is None, "nothing before the first fetch"

    assert await leader.award_points("resident-sun", 40, "Volunteer work") == 40
    good = await leader.add_good(GRID, "Rice 5kg", 30, 1)
    assert await resident.goods() == [good]
    voucher = await resident.redeem(good.id, "0f1e2d3c")
    again = await resident.redeem(good.id, "0f1e2d3c")
    assert again == voucher, (again, voucher)
    assert resident.points().balance == 10
    assert [e.kind for e in resident.points_history()] == ["redeemed", "awarded"]

    async def refused(call, code):
        try:
            await call
        except FieldError.PointsRefused as e:
            assert e.code == code, e
        else:
            raise AssertionError(f"accepted, wanted {code}")

    await refused(resident.redeem(good.id, "1a2b3c4d"), "out_of_stock")
    await leader.change_good(good.id, GoodUpdate(name=None, points=None, restock=5, withdraw=False))
    await refused(resident.redeem(good.id, "1a2b3c4d"), "not_enough_points")
    try:
        await leader.award_points("resident-sun", -5, "Negative")
        raise AssertionError("a negative award was taken")
    except FieldError.Server as e:
        assert e.status == 400 and e.code == "invalid_input", e
    collected = await leader.collect_voucher(voucher.code.lower())
    assert collected.collected_at is not None
    await refused(leader.collect_voucher(voucher.code), "already_collected")

    # With the server gone the resident still sees what the last fetch gave.
    bed.stop()
    assert resident.points().balance == 10
    assert resident.vouchers() == [voucher]
    try:
        await resident.refresh_points()
        raise AssertionError("fetched from a stopped server")
    except FieldError.Network:
        pass
    print("python: points ok")


root = tempfile.mkdtemp(prefix="fieldsync-py-points")
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main(root))
finally:
    loop.close()
    shutil.rmtree(root, ignore_errors=True)
