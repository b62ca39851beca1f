// Residents' points from Kotlin, against a real fieldsync server on a loopback port (the
// testbed): a grid leader's phone awards points and lists a good; the resident redeems it twice
// with one request id (one voucher), sees balance, history and voucher offline, and refusals
// arrive as FieldException.PointsRefused with the reason's code.
//
// Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import app.fieldsync.testbed.Testbed
import java.util.UUID
import kotlin.io.path.createTempDirectory
import kotlinx.coroutines.*

object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

// The store key an app keeps in the Android Keystore: one for every store of the test.
val KEY = FieldStore.newKey()

val GRID = "jl/cc/xinhua/grid-07"

inline fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

val root = createTempDirectory("fieldsync-kt-points").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

suspend fun enrolled(user: String, role: Role): FieldStore {
    val dir = root.resolve(user)
    expect(dir.mkdirs()) { "$dir exists already" }
    val store = FieldStore.open(dir.resolve("fieldsync.db").path, KEY)
    store.enroll(url, bed.addUser(user, role, null, listOf(GRID)), "$user's phone")
    return store
}

suspend fun refusedWith(code: String, block: suspend () -> Unit) {
    try {
        block()
        throw AssertionError("accepted, wanted $code")
    } catch (e: FieldException.PointsRefused) {
        expect(e.code == code) { "refused with ${e.code}, wanted $code: ${e.detail}" }
    }
}

runBlocking {
    val resident = enrolled("resident-sun", Role.RESIDENT)
    val leader = enrolled("leader-zhou", Role.GRID_LEADER)
    expect(resident.points() == null) { "nothing before the first fetch" }

    expect(leader.awardPoints("resident-sun", 40, "Volunteer work") == 40L) { "the award" }
    val good = leader.addGood(GRID, "Rice 5kg", 30, 1)
    expect(resident.goods() == listOf(good)) { "the resident sees the good" }
    val requestId = UUID.randomUUID().toString()
    val voucher = resident.redeem(good.id, requestId)
    expect(resident.redeem(good.id, requestId) == voucher) { "one redemption per request id" }
    expect(resident.points()?.balance == 10L) { "balance ${resident.points()}" }
    expect(resident.pointsHistory().map { it.kind } == listOf("redeemed", "awarded")) { "history" }

    refusedWith("out_of_stock") { resident.redeem(good.id, UUID.randomUUID().toString()) }
    leader.changeGood(good.id, GoodUpdate(restock = 5))
    refusedWith("not_enough_points") { resident.redeem(good.id, UUID.randomUUID().toString()) }
    expect(leader.collectVoucher(voucher.code).collectedAt != null) { "collected" }
    refusedWith("already_collected") { leader.collectVoucher(voucher.code) }

    bed.stop()
    expect(resident.points()?.balance == 10L) { "offline balance" }
    expect(resident.vouchers() == listOf(voucher)) { "offline vouchers" }
    try {
        resident.refreshPoints()
        throw AssertionError("fetched from a stopped server")
    } catch (e: FieldException.Network) {
    }
    resident.close()
    leader.close()
    println("kotlin: points ok")
}

if (!root.deleteRecursively()) println("could not remove $root")
