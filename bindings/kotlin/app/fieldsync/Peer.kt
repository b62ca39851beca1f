// Phone to phone in the Kotlin layer: a peer session made from the app's FieldStore, with a
// lambda for progress, over a PeerTransport the app implements (Bluetooth LE, Wi-Fi Direct, a
// hotspot's socket) or the built-in loopback TCP one of tests and examples.

package app.fieldsync

import app.fieldsync.core.PeerProgress

/**
 * A session of this phone with the phone at the other end of [transport] (`docs/peer.md`):
 * nothing happens until [PeerSession.run], a suspend function that returns a [PeerSummary]
 * once neither phone has anything the other lacks and may read. [onProgress] hears after the
 * credentials are checked, after the offers and after every round, on the library's thread.
 *
 * [PeerSession.cancel] (from any thread) or cancelling the coroutine running it stops it:
 * [FieldException.PeerCancelled]; what was stored until then stays. A refused credential is
 * [FieldException.PeerRefused] with its reason (`EXPIRED`, `REVOKED`, `FORGED`) and whether
 * the peer refused this phone's; the link ending is [FieldException.PeerLinkClosed]. Both
 * phones need a credential from their server (enrolment and every sync give one).
 */
fun FieldStore.peerSession(transport: PeerTransport, onProgress: ((PeerProgress) -> Unit)? = null): PeerSession =
    ffi.peerSession(transport, onProgress?.let(Listeners::peer))
