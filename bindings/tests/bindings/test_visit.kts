// Business visits (走访) from Kotlin, against a real fieldsync server on a loopback port (the
// testbed): a police officer registers a guesthouse, fetches the registry and the visit rules,
// sees it overdue, records a visit with a checklist and a finding on the phone (the visits Flow
// tells of it), and the guesthouse is overdue no longer; an unknown business and a checklist
// item the rules do not list are typed errors that change nothing. The guesthouse's operator
// reads the visit and the bulletin to businesses, acknowledges the bulletin, records nothing.
//
// Run by `cargo test -p fieldsync-testbed --test foreign` with the generated bindings.

import app.fieldsync.*
import app.fieldsync.core.*
import app.fieldsync.testbed.Testbed
import java.time.Duration
import java.time.Instant
import kotlin.io.path.createTempDirectory
import kotlinx.coroutines.*
import kotlinx.coroutines.flow.*

object {}.javaClass.classLoader.getResource("libfieldsync_bindings.so")?.let {
    System.setProperty("jna.library.path", java.io.File(it.toURI()).parent)
}

// The store key an app keeps in the Android Keystore: one for every store of the test.
val KEY = FieldStore.newKey()

val AREA = "jl/cc/scenic-1"
val CHECKLIST = listOf("fire_safety", "guest_registration", "food_safety", "hazards")

inline fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

suspend inline fun <reified E : Throwable> expectThrows(what: String, block: suspend () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

val root = createTempDirectory("fieldsync-kt-visit").toFile()
val bed = Testbed.start(root.resolve("server").path)
val url = bed.url()

suspend fun enrolled(user: String, role: Role, patrol: PatrolKind?, scopes: List<String>): FieldStore {
    val dir = root.resolve(user)
    expect(dir.mkdirs()) { "$dir exists already" }
    val store = FieldStore.open(dir.resolve("fieldsync.db").path, KEY)
    store.enroll(url, bed.addUser(user, role, patrol, scopes), "$user's phone")
    return store
}

runBlocking {
    val police = enrolled("police-li", Role.PATROL, PatrolKind.POLICE, listOf(AREA))
    val inn = police.addBusiness(
        BusinessFields(scope = AREA, name = "湖景民宿", kind = "guesthouse", address = "湖滨路 8 号", contact = "0431-1234")
    )
    police.syncNow()
    val rules = police.visitRules() ?: throw AssertionError("no visit rules after a sync")
    expect(rules.everyDays == 30u && rules.checklist == CHECKLIST) { "rules $rules" }
    expect(police.overdueBusinesses().map { it.business.id } == listOf(inn.id)) { "never visited: due" }

    // --- A visit with a failed item and a finding, on the phone. ---
    val plan = police.planVisit(inn.id)
    expect(plan.checklist == CHECKLIST && plan.visitors == listOf("police-li")) { "plan $plan" }
    val id = police.recordVisit(plan.copy(results = listOf(NewCheck("fire_safety", CheckOutcome.FAIL, "灭火器过期"))))
    val finding = police.execute(id, Command.AddFinding("消防通道堵塞", emptyList())).item
    val listed = withTimeout(10_000) { police.visits().first { it.isNotEmpty() } }
    expect(listed.map { it.id } == listOf(id) && listed.single().failed == 1L) { "the Flow shows the visit: $listed" }
    val visit = police.getVisit(id)
    expect(visit.findings.map { it.id } == listOf(finding) && visit.results.single().result == CheckOutcome.FAIL) { "$visit" }
    expect(police.overdueBusinesses().isEmpty()) { "visited today" }
    expect(police.overdueBusinesses(Instant.now().plus(Duration.ofDays(31))).single().lastVisit != null) { "due again in a month" }

    // --- Bad input: typed, nothing changed. ---
    expectThrows<FieldException.UnknownBusiness>("an unknown business") { police.planVisit("no-such-business") }
    expectThrows<FieldException.InvalidInput>("a checklist item off the rules") {
        police.recordVisit(plan.copy(checklist = CHECKLIST + "casino_licence"))
    }
    expectThrows<FieldException.InvalidInput>("a result for an item off the checklist") {
        police.execute(id, Command.RecordCheck("casino_licence", CheckOutcome.PASS, ""))
    }
    expect(police.getVisit(id) == visit && police.queryVisits().items.size == 1) { "nothing changed" }

    val warning = police.issueBulletin(
        NewBulletin(AREA, Severity.ORANGE, listOf(Addressee.BUSINESSES), "汛期预警", "沿湖商户做好防汛准备",
            Instant.now().plus(Duration.ofHours(6)))
    )
    police.syncNow()

    // --- The operator: one scope, the guesthouse's own. ---
    val operator = enrolled("op-gao", Role.BUSINESS_OPERATOR, null, listOf("$AREA/business:${inn.id}"))
    operator.syncNow()
    expect(operator.getVisit(id).findings.single().text == "消防通道堵塞") { "the operator reads the visit" }
    val todo = BulletinFilter(unacknowledgedBy = "op-gao")
    expect(operator.queryBulletins(todo).items.map { it.id } == listOf(warning)) { "to acknowledge" }
    operator.acknowledgeBulletin(warning)
    expectThrows<FieldException.Forbidden>("the operator adds a finding") {
        operator.execute(id, Command.AddFinding("已整改", emptyList()))
    }
    operator.syncNow()
    police.syncNow()
    expect(police.getBulletin(warning).acknowledgements.map { it.by } == listOf("op-gao")) { "acknowledged" }

    for (store in listOf(police, operator)) store.close()
    println("kotlin: visit ok")
}

bed.stop()
if (!root.deleteRecursively()) println("could not remove $root")
