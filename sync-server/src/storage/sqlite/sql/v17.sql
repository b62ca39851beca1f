-- Server storage, version 17: signed changes (docs/peer.md, "Signed changes").
--
-- A phone makes an ed25519 key at enrolment and the server records its public key, signs it
-- into the device's peer credentials, and checks against it the device's changes that another
-- phone relays. The log keeps each change's signature, when it came with one, so that the
-- server can pass it on; a relayed change is logged with its author's device (`device`), not
-- the pusher's.
ALTER TABLE devices ADD COLUMN device_key BLOB;
ALTER TABLE log ADD COLUMN sig BLOB;
