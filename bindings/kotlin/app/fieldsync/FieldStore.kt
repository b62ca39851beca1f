// The Kotlin API of fieldsync: a hand-written layer over the generated bindings (FieldStoreFfi),
// shipped and compiled with them. It makes every call that touches the disk a suspend function
// run on an IO dispatcher, gives lists and records as Flows that follow the store, takes
// lambdas for observers and progress, and turns what the generated code would throw untyped
// into FieldException.

package app.fieldsync

import app.fieldsync.core.*
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.withContext

/**
 * The phone's store of reports, patrol logs and mediation cases: one SQLite file that works
 * offline for days and syncs with a fieldsync server.
 *
 * Every call that touches the disk is a `suspend` function that runs on [io]
 * ([Dispatchers.IO] unless given), so it may be called from the main thread. Lists and records
 * are also [Flow]s that emit again whenever the store changes ([reports], [record]). Every
 * failure is a [FieldException]; after [close], every call fails with [FieldException.Closed].
 *
 * Open one per database file and keep it for the life of the app (in the application object or
 * the DI graph); opening a file that is open already shares its store.
 */
class FieldStore private constructor(
    internal val ffi: FieldStoreFfi,
    /** The database file. */
    val path: String,
    private val io: CoroutineDispatcher,
) : AutoCloseable {

    companion object {
        init {
            Logging.installPlatformDefault()
        }

        /**
         * Opens the store in the database file at [path] (created on first use; its folder
         * must exist), encrypted with [key]: the 32 random bytes the app keeps in the Android
         * Keystore ([newKey] makes them; `bindings/README.md` shows how to keep them). A store
         * written before encryption is encrypted in place at its first open with a key. A key
         * that does not open the file throws [FieldException.WrongKey] and changes nothing.
         * This reads the disk (and upgrades an old file): call it off the main thread, e.g.
         * where the app builds its dependencies. Calls of the store run on [io].
         */
        @JvmStatic
        @JvmOverloads
        fun open(path: String, key: ByteArray, io: CoroutineDispatcher = Dispatchers.IO): FieldStore =
            Checked.call("path" to path) { FieldStore(FieldStoreFfi(path, key), path, io) }

        /** A new store key: 32 random bytes, to keep in the Android Keystore (see [open]). */
        @JvmStatic
        fun newKey(): ByteArray = newStoreKey()

        /**
         * Sends the library's log messages (an observer or a listener that threw, a sync
         * request retried) to [hook] instead of the platform log (`android.util.Log` on
         * Android, `java.util.logging` elsewhere); `null` restores the platform log. Called on
         * the library's threads: return quickly.
         */
        @JvmStatic
        fun setLogHook(hook: ((level: LogLevel, tag: String, message: String) -> Unit)?) =
            Logging.set(hook)
    }

    /** Runs [block] on [io], with the inputs named for a typed error (see [Checked]). */
    private suspend fun <T> onIo(vararg inputs: Pair<String, Any?>, block: () -> T): T =
        withContext(io) { Checked.call(*inputs, block = block) }

    // --- Who and where ---

    /**
     * The user this phone writes as (the enrolled user; before enrollment, [setUser]'s). Read
     * from memory; like every property here, it throws [FieldException.Closed] after [close].
     */
    val user: String get() = ffi.user()

    /** The enrolled user's role and scopes; `null` before enrollment. Read from memory. */
    val profile: Profile? get() = ffi.profile()

    /** Whether [close] was called. */
    val isClosed: Boolean get() = ffi.isClosed()

    /**
     * Encrypts the store with [newKey] from now on (killed meanwhile, it opens with the old key
     * or the new one). Keep the new key where the app keeps keys before calling, and the old
     * one until this returns.
     */
    suspend fun rekey(newKey: ByteArray) = onIo { ffi.rekey(newKey) }

    /** Sets the user of a phone that works without a server (an enrolled phone writes as its enrolled user). */
    suspend fun setUser(user: String) = onIo("user" to user) { ffi.setUser(user) }

    /** The enrollment of this device; `null` before enrollment. */
    suspend fun device(): DeviceInfo? = onIo { ffi.device() }

    // --- Writing ---

    /** Creates a record of any kind; returns its id once it is on disk. */
    suspend fun create(record: NewRecord): String = onIo("record" to record) { ffi.create(record) }

    /**
     * A resident submits a report; returns its id once it is on disk. Its `photos` must be on
     * this phone already (usually none: attach them with [addPhoto] afterwards).
     */
    suspend fun submitReport(report: NewReport): String =
        onIo("report" to report) { ffi.submitReport(report) }

    /** A team starts a patrol; returns the patrol log's id. */
    suspend fun startPatrol(patrol: NewPatrol): String =
        onIo("patrol" to patrol) { ffi.startPatrol(patrol) }

    /** A mediator opens a case; returns its id. */
    suspend fun openCase(case: NewCase): String = onIo("case" to case) { ffi.openCase(case) }

    /**
     * The police, a grid leader or a dispatcher issues a warning bulletin to a scope and an
     * audience; returns its id.
     */
    suspend fun issueBulletin(bulletin: NewBulletin): String =
        onIo("bulletin" to bulletin) { ffi.issueBulletin(bulletin) }

    /**
     * A recipient acknowledges bulletin [id], once, in this phone's user's name (offline too).
     * Refused, changing nothing: [FieldException.Forbidden] when it is not addressed to them,
     * [FieldException.InvalidTransition] when they acknowledged it already or it was withdrawn.
     */
    suspend fun acknowledgeBulletin(id: String) = onIo("id" to id) { ffi.acknowledgeBulletin(id) }

    /**
     * Runs [command] on record [id] (accept, dispatch, add a patrol entry, edit notes, settle a
     * conflict, ...). A refused command changes nothing and says why
     * ([FieldException.InvalidTransition], [FieldException.Forbidden], ...).
     *
     * [Command.EditNotes] takes positions in UTF-16 code units, as Kotlin strings index them:
     * `notes.length` is the end of the notes, whatever emoji they hold.
     */
    suspend fun execute(id: String, command: Command): Applied =
        onIo("id" to id, "command" to command) { ffi.execute(id, command) }

    // --- Reading ---

    /** The record [id], whatever its kind. */
    suspend fun get(id: String): Record = onIo("id" to id) { ffi.get(id) }

    /** The report [id] ([FieldException.WrongKind] if it is another kind of record). */
    suspend fun getReport(id: String): Report = onIo("id" to id) { ffi.getReport(id) }

    /** The patrol log [id]. */
    suspend fun getPatrol(id: String): PatrolLog = onIo("id" to id) { ffi.getPatrol(id) }

    /** The mediation case [id]. */
    suspend fun getCase(id: String): MediationCase = onIo("id" to id) { ffi.getCase(id) }

    /**
     * A resident or a grid leader raises a deliberation (议事协商) in their scope; returns its id.
     * Its other steps are [Command]s given to [execute] (e.g. [Command.EditMinutes]): a step out of
     * order is [FieldException.InvalidTransition], bad votes [FieldException.InvalidInput], a step
     * this user's role may not take [FieldException.Forbidden], and each changes nothing.
     */
    suspend fun raiseDeliberation(deliberation: NewDeliberation): String =
        onIo("deliberation" to deliberation) { ffi.raiseDeliberation(deliberation) }

    /** The deliberation [id]: its discussion, meetings and minutes, decision, follow-up actions. */
    suspend fun getDeliberation(id: String): Deliberation = onIo("id" to id) { ffi.getDeliberation(id) }

    /** A page of deliberations matching [filter], newest first. */
    suspend fun queryDeliberations(
        filter: DeliberationFilter = DeliberationFilter(),
        page: PageRequest = PageRequest(),
    ): DeliberationPage = onIo("filter" to filter, "page" to page) { ffi.queryDeliberations(filter, page) }

    /** Deliberations matching [filter], now and after every change to deliberations (see [reports]). */
    fun deliberations(filter: DeliberationFilter = DeliberationFilter(), limit: Int = 50): Flow<List<DeliberationSummary>> =
        Observing.following(this, Kind.DELIBERATION) { queryDeliberations(filter, PageRequest(limit)).items }

    /** The warning bulletin [id]; its acknowledgements say who has read it. */
    suspend fun getBulletin(id: String): Bulletin = onIo("id" to id) { ffi.getBulletin(id) }

    /** A page of reports matching [filter], newest first; pass `page.next` on for the next one. */
    suspend fun queryReports(
        filter: ReportFilter = ReportFilter(),
        page: PageRequest = PageRequest(),
    ): ReportPage = onIo("filter" to filter, "page" to page) { ffi.queryReports(filter, page) }

    /** A page of patrol logs matching [filter], most recently started first. */
    suspend fun queryPatrols(
        filter: PatrolFilter = PatrolFilter(),
        page: PageRequest = PageRequest(),
    ): PatrolPage = onIo("filter" to filter, "page" to page) { ffi.queryPatrols(filter, page) }

    /** A page of mediation cases matching [filter], newest first. */
    suspend fun queryCases(
        filter: CaseFilter = CaseFilter(),
        page: PageRequest = PageRequest(),
    ): CasePage = onIo("filter" to filter, "page" to page) { ffi.queryCases(filter, page) }

    /** A page of warning bulletins matching [filter] (in force, still to acknowledge, ...), newest first. */
    suspend fun queryBulletins(
        filter: BulletinFilter = BulletinFilter(),
        page: PageRequest = PageRequest(),
    ): BulletinPage = onIo("filter" to filter, "page" to page) { ffi.queryBulletins(filter, page) }

    /**
     * A page of the signed-in user's inbox: reports dispatched to them and those an overdue
     * escalation named them on, each with its [InboxItem.reasons] (assigned, supervised, due
     * soon, overdue, escalated), newest first by [InboxItem.at]. [InboxFilter.reasons] keeps
     * the items with any of them; "due soon" looks [InboxFilter.dueWithin] ahead (24 hours).
     */
    suspend fun inbox(
        filter: InboxFilter = InboxFilter(),
        page: PageRequest = PageRequest(),
    ): InboxPage = onIo("filter" to filter, "page" to page) { ffi.inbox(filter, page) }

    /**
     * Full-text search as people type, Chinese included: records holding every word of [text]
     * (separated by spaces; full-width digits and letters match half-width ones; substrings
     * match), of [kind] if given, newest first; at most [limit] hits (1..200).
     */
    suspend fun search(text: String, kind: Kind? = null, limit: Int = 20): List<SearchHit> =
        onIo("text" to text) { ffi.search(text, kind, limit) }

    /** One page of [search]; pass its `next` as [PageRequest.after] for the following one. */
    suspend fun searchPage(
        text: String,
        kind: Kind? = null,
        page: PageRequest = PageRequest(),
    ): SearchPage = onIo("text" to text, "page" to page) { ffi.searchPage(text, kind, page) }

    /** How many records wait to be pushed, when the last sync was, and what the server refused. */
    suspend fun syncStatus(): SyncStatus = onIo { ffi.syncStatus() }

    /** Offers the refused changes of record [id] to the server again at the next sync. */
    suspend fun retryRejected(id: String) = onIo("id" to id) { ffi.retryRejected(id) }

    /** How much the store holds. */
    suspend fun stats(): StoreStats = onIo { ffi.stats() }

    /** Checks the database file and every record's projection; an exception says what is damaged. */
    suspend fun integrityCheck() = onIo { ffi.integrityCheck() }

    // --- Following changes (Observing.kt) ---

    /**
     * Reports matching [filter] (the first [limit], newest first), now and again after every
     * change to the reports on this phone, here or from a sync: what a list screen shows.
     * Collecting it subscribes; the subscription ends with the collector (or, completing the
     * flow, with [close]).
     */
    fun reports(filter: ReportFilter = ReportFilter(), limit: Int = 50): Flow<List<ReportSummary>> =
        Observing.following(this, Kind.REPORT) { queryReports(filter, PageRequest(limit)).items }

    /** Patrol logs matching [filter], now and after every change to patrol logs (see [reports]). */
    fun patrols(filter: PatrolFilter = PatrolFilter(), limit: Int = 50): Flow<List<PatrolSummary>> =
        Observing.following(this, Kind.PATROL_LOG) { queryPatrols(filter, PageRequest(limit)).items }

    /** Mediation cases matching [filter], now and after every change to cases (see [reports]). */
    fun cases(filter: CaseFilter = CaseFilter(), limit: Int = 50): Flow<List<CaseSummary>> =
        Observing.following(this, Kind.MEDIATION_CASE) { queryCases(filter, PageRequest(limit)).items }

    /** Bulletins matching [filter], now and after every change to bulletins (see [reports]). */
    fun bulletins(filter: BulletinFilter = BulletinFilter(), limit: Int = 50): Flow<List<BulletinSummary>> =
        Observing.following(this, Kind.BULLETIN) { queryBulletins(filter, PageRequest(limit)).items }

    /**
     * The inbox matching [filter] (the first [limit] items), now and after every change to the
     * reports on this phone: what an inbox screen shows. See [inbox].
     */
    fun inboxItems(filter: InboxFilter = InboxFilter(), limit: Int = 50): Flow<List<InboxItem>> =
        Observing.following(this, Kind.REPORT) { inbox(filter, PageRequest(limit)).items }

    /**
     * New items in the signed-in user's inbox as syncs bring them, one per record with the
     * reasons it is new ([RecordChanged.inbox]: a report newly dispatched to them, a new
     * supervision of their report, an escalation naming them): raise a local notification for
     * each. Each new item comes once; the user's own commands bring none. It completes when the
     * store is closed.
     */
    fun inboxEvents(): Flow<RecordChanged> = Observing.inboxEvents(this)

    /** The record [id], now and after every change to it: what a detail screen shows. */
    fun record(id: String): Flow<Record> = Observing.followingRecord(this, id)

    /**
     * Every change to the records on this phone (a batch per delivery, in commit order), as long
     * as it is collected; it completes when the store is closed.
     */
    fun changes(): Flow<List<RecordChanged>> = Observing.changes(this)

    /**
     * Calls [onChange] after every change to the records on this phone, on the library's
     * observer thread (never the writer's: a slow observer never slows a write), until the
     * returned [Subscription] is cancelled or closed, or this store is closed; [onEnd] hears
     * which. Keeping the subscription is the app's job: letting go of it does not end it. What
     * [onChange] throws is reported through the log hook ([setLogHook]) and observing goes on.
     * To observe within a coroutine scope, collect [changes] instead.
     */
    fun observe(
        onEnd: ((SubscriptionEnd) -> Unit)? = null,
        onChange: (List<RecordChanged>) -> Unit,
    ): Subscription = Observing.observe(this, onChange, onEnd)

    // --- Enrollment and sync (they run on the library's own threads) ---

    /**
     * Enrolls this device with the server at [serverUrl] using the single-use [code] the user was
     * given; returns the user's profile. A code of another user while this phone holds
     * unsynced work of its current user is [FieldException.OtherUser] (the code stays usable)
     * unless [discardUnsyncedWork]; too many attempts are [FieldException.RateLimited].
     */
    suspend fun enroll(
        serverUrl: String,
        code: String,
        deviceName: String,
        discardUnsyncedWork: Boolean = false,
    ): Profile = Checked.suspending("serverUrl" to serverUrl, "code" to code, "deviceName" to deviceName) {
        ffi.enroll(serverUrl, code, deviceName, discardUnsyncedWork)
    }

    /**
     * Pushes what the server has not acknowledged and pulls what others changed; [onProgress]
     * hears after every request. It ends whatever the link does: a request unanswered within
     * [SyncOptions.requestTimeout] is retried up to [SyncOptions.attempts] times
     * ([FieldException.Network]), and a sync still running at [SyncOptions.deadline] ends with
     * [FieldException.Timeout]. What it applied is kept either way, and cancelling the
     * coroutine stops it the same way. Photos move in [uploadPhotos], after it.
     */
    suspend fun syncNow(onProgress: ((SyncProgress) -> Unit)? = null): SyncSummary =
        Checked.suspending { ffi.syncNow(onProgress?.let(Listeners::sync)) }

    /**
     * The tunables of the next sync; set a copy to change them
     * (`store.syncOptions = store.syncOptions.copy(deadline = Duration.ofSeconds(25))`). A bad
     * value is [FieldException.InvalidInput] naming the option.
     */
    var syncOptions: SyncOptions
        get() = ffi.syncOptions()
        set(value) = ffi.setSyncOptions(value)

    /**
     * What the phone trusts of the server, from the next [enroll] or [syncNow] on: by default
     * the platform's certificate authorities, and plain `http://` only to this device's loopback.
     * A street with its own certificate authority gives its PEM
     * (`store.serverTrust = ServerTrust(certificatesPem = listOf(caPem))`); an emulator reaching
     * its host at `10.0.2.2` needs `allowPlainHttp = true` (never in the field). Certificates that
     * cannot be read are [FieldException.InvalidInput] and change nothing.
     */
    var serverTrust: ServerTrust
        get() = ffi.serverTrust()
        set(value) = ffi.setServerTrust(value)

    // --- Points (积分) and the exchange ---

    /** The user's points as last fetched ([refreshPoints], a redemption); null before the first fetch. Readable offline. */
    suspend fun points(): PointsBalance? = onIo { ffi.points() }

    /** The user's points history as last fetched, newest first, at most [limit] (up to 1,000). */
    suspend fun pointsHistory(limit: Int = 100): List<PointsEntry> =
        onIo { ffi.pointsHistory(limit.coerceAtLeast(0).toUInt()) }

    /** The user's redemptions with their voucher codes, newest first, as last fetched. */
    suspend fun vouchers(): List<Voucher> = onIo { ffi.vouchers() }

    /** Fetches the user's points from the server and keeps them for offline reading; the balance. */
    suspend fun refreshPoints(): PointsBalance = Checked.suspending { ffi.refreshPoints() }

    /** The goods of the user's communities' exchange (needs the network). */
    suspend fun goods(): List<Good> = Checked.suspending { ffi.goods() }

    /**
     * Redeems one of [good]. Choose [requestId] once per redemption (a UUID) and keep it until
     * an answer comes: asking again with it answers the same redemption, never a second one.
     * Refusals are [FieldException.PointsRefused] with the reason's code (`not_enough_points`,
     * `out_of_stock`, ...); no network is [FieldException.Network].
     */
    suspend fun redeem(good: String, requestId: String): Voucher =
        Checked.suspending("good" to good, "requestId" to requestId) { ffi.redeem(good, requestId) }

    /**
     * A grid leader awards [amount] points to the resident [account] for [reason]; their balance
     * after. Sent once. [source], when given, is a deliberation one of whose meetings the resident
     * attended (refused otherwise, [FieldException.InvalidInput]): the ledger entry names it.
     */
    suspend fun awardPoints(account: String, amount: Long, reason: String, source: String? = null): Long =
        Checked.suspending("account" to account, "reason" to reason) {
            ffi.awardPoints(account, amount, reason, source)
        }

    /** A grid leader marks the good of voucher [code] handed over, once. */
    suspend fun collectVoucher(code: String): Voucher =
        Checked.suspending("code" to code) { ffi.collectVoucher(code) }

    /** A grid leader lists a good in [community] (one of their scopes). */
    suspend fun addGood(community: String, name: String, points: Long, stock: Long): Good =
        Checked.suspending("community" to community, "name" to name) { ffi.addGood(community, name, points, stock) }

    /** A grid leader changes a good (name, price, stock, withdrawal). */
    suspend fun changeGood(id: String, update: GoodUpdate): Good =
        Checked.suspending("id" to id) { ffi.changeGood(id, update) }

    // --- The business registry (走访联系制度) ---

    /** The businesses of the registry as last fetched ([refreshBusinesses], [syncNow]); readable offline. */
    suspend fun businesses(): List<Business> = onIo { ffi.businesses() }

    /** Fetches the businesses of the user's scopes and keeps them for offline reading (patrols, grid leaders, dispatchers, supervisors). */
    suspend fun refreshBusinesses(): List<Business> = Checked.suspending { ffi.refreshBusinesses() }

    /** Registers a business ([BusinessFields.scope], `name` and `kind` needed). Sent once. */
    suspend fun addBusiness(fields: BusinessFields): Business =
        Checked.suspending("fields" to fields) { ffi.addBusiness(fields) }

    /** Changes business [id]: the fields given are set; `close` marks it closed. */
    suspend fun changeBusiness(id: String, fields: BusinessFields): Business =
        Checked.suspending("id" to id, "fields" to fields) { ffi.changeBusiness(id, fields) }

    // --- Business visits (走访) ---

    /** The rules of visits fetched with the registry (every how many days, the checklist); null before the first fetch. */
    suspend fun visitRules(): VisitRules? = onIo { ffi.visitRules() }

    /**
     * A visit to business [business] by this phone's user, ready to record: its scope and the
     * rules' checklist from the registry copy. [FieldException.UnknownBusiness] when the copy
     * does not hold it (unknown, or outside the user's scopes).
     */
    suspend fun planVisit(business: String): NewVisit = onIo("business" to business) { ffi.planVisit(business) }

    /**
     * Records a visit (police patrol members, grid leaders, dispatchers); returns its id.
     * Refused, changing nothing: [FieldException.UnknownBusiness], [FieldException.InvalidInput]
     * for a checklist item the rules do not list, [FieldException.Forbidden] for another role
     * or a business outside the user's scopes.
     */
    suspend fun recordVisit(visit: NewVisit): String = onIo("visit" to visit) { ffi.recordVisit(visit) }

    /** The visit [id]: checklist, results (an item's latest stands), findings, follow-up. */
    suspend fun getVisit(id: String): Visit = onIo("id" to id) { ffi.getVisit(id) }

    /** A page of visits matching [filter], newest first. */
    suspend fun queryVisits(
        filter: VisitFilter = VisitFilter(),
        page: PageRequest = PageRequest(),
    ): VisitPage = onIo("filter" to filter, "page" to page) { ffi.queryVisits(filter, page) }

    /** The open businesses due a visit at [at] (now when null), from the registry copy and the visits held; offline. */
    suspend fun overdueBusinesses(at: java.time.Instant? = null): List<OverdueBusiness> =
        onIo("at" to at) { ffi.overdueBusinesses(at) }

    /** Visits matching [filter], now and after every change to visits (see [reports]). */
    fun visits(filter: VisitFilter = VisitFilter(), limit: Int = 50): Flow<List<VisitSummary>> =
        Observing.following(this, Kind.VISIT) { queryVisits(filter, PageRequest(limit)).items }

    // --- Photos ---

    /**
     * Attaches a photo to record [id] (with [entry], to a patrol log's entry) and returns its
     * reference, in the record at once; [source] is the bytes or a file to copy, [mediaType] one
     * of `image/jpeg`, `image/png`, `image/webp`, `image/heic`, `image/heif`, `image/gif`.
     */
    suspend fun addPhoto(id: String, source: PhotoSource, mediaType: String, entry: String? = null): PhotoRef =
        onIo("id" to id, "source" to source, "mediaType" to mediaType, "entry" to entry) {
            ffi.addPhoto(id, source, mediaType, entry)
        }

    /** What this phone knows of photo [hash]; `null` if no record here references it. */
    suspend fun photo(hash: String): PhotoInfo? = onIo("hash" to hash) { ffi.photo(hash) }

    /**
     * The file of photo [hash] when its bytes are here; `null` otherwise ([downloadPhoto] fetches it).
     * In an encrypted store the file is sealed: show the photo with [photoBytes].
     */
    suspend fun photoFile(hash: String): String? = onIo("hash" to hash) { ffi.photoFile(hash) }

    /** The server's thumbnail of photo [hash] once downloaded; `null` otherwise. Sealed like [photoFile]. */
    suspend fun thumbnailFile(hash: String): String? = onIo("hash" to hash) { ffi.thumbnailFile(hash) }

    /**
     * The bytes of photo [hash] in [variant] (the original or the server's thumbnail) when they are
     * here; `null` otherwise ([downloadPhoto] fetches them). How an app shows a photo of an encrypted
     * store; a file changed on disk is [FieldException.DamagedFile] and gives nothing.
     */
    suspend fun photoBytes(hash: String, variant: PhotoVariant = PhotoVariant.ORIGINAL): ByteArray? =
        onIo("hash" to hash) { ffi.photoBytes(hash, variant) }

    /** Photos added here that the server does not hold yet, oldest first. */
    suspend fun photosPending(): List<PhotoInfo> = onIo { ffi.photosPending() }

    /** Photos records here reference whose bytes are on the server only, smallest first. */
    suspend fun photosToDownload(maxBytes: Long? = null): List<PhotoInfo> =
        onIo { ffi.photosToDownload(maxBytes) }

    /** Offers a photo the server refused (over quota, say) again at the next [uploadPhotos]. */
    suspend fun retryPhotoUpload(hash: String) = onIo("hash" to hash) { ffi.retryPhotoUpload(hash) }

    /** Uploads the photos the server lacks, each resuming where it stopped; call it after [syncNow]. */
    suspend fun uploadPhotos(onProgress: ((PhotoProgress) -> Unit)? = null): UploadSummary =
        Checked.suspending { ffi.uploadPhotos(onProgress?.let(Listeners::photo)) }

    /** The file of photo [hash] in [variant], fetched from the server unless it is here. */
    suspend fun downloadPhoto(
        hash: String,
        variant: PhotoVariant = PhotoVariant.ORIGINAL,
        onProgress: ((PhotoProgress) -> Unit)? = null,
    ): String = Checked.suspending("hash" to hash) {
        ffi.downloadPhoto(hash, variant, onProgress?.let(Listeners::photo))
    }

    /** Downloads the small photos ([SyncOptions.autoDownloadBytes]) records here reference. */
    suspend fun downloadSmallPhotos(onProgress: ((PhotoProgress) -> Unit)? = null): DownloadSummary =
        Checked.suspending { ffi.downloadSmallPhotos(onProgress?.let(Listeners::photo)) }

    // --- Closing ---

    /**
     * Closes the store: every subscription made through it ends (its observer hears
     * [SubscriptionEnd.STORE_CLOSED], flows complete, [Subscription.isActive] turns false) and
     * the file is released once no other handle and no call in flight holds it. Every later
     * call fails with [FieldException.Closed]; closing again does nothing.
     */
    override fun close() = ffi.closeStore()
}
