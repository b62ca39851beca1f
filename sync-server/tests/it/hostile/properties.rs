//! Property tests: random bytes, mutated envelopes and mutated Automerge bytes to every endpoint.

use super::*;

#[derive(Debug, Clone)]
enum Noise {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// Random bytes, gzipped: the envelope holds, the message does not.
    Gzipped(Vec<u8>),
    /// A gzip header, then random bytes.
    GzipHeader(Vec<u8>),
}

impl Noise {
    fn body(&self) -> Vec<u8> {
        match self {
            Noise::Raw(b) => b.clone(),
            Noise::Gzipped(b) => gzip(b),
            Noise::GzipHeader(b) => {
                [&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff][..], b].concat()
            }
        }
    }
}

fn noise() -> impl Strategy<Value = Noise> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..2048);
    prop_oneof![
        bytes().prop_map(Noise::Raw),
        bytes().prop_map(Noise::Gzipped),
        bytes().prop_map(Noise::GzipHeader),
    ]
}

#[test]
fn random_bytes_get_typed_errors() {
    let fx = Fixture::new();
    let strategy = (prop::sample::select(Endpoint::ALL.to_vec()), sender(), noise());
    fx.run("random bytes", 1500, strategy, |fx, (endpoint, sender, noise)| {
        fx.rt.block_on(async {
            let answer = fx.exchange(sender, endpoint, noise.body()).await?;
            let code = answer.code();
            match (endpoint, sender) {
                (Endpoint::Enroll, _) => {}
                (_, Sender::NoToken) => prop_assert_eq!(code, Some("missing_token")),
                (_, Sender::UnknownToken) => prop_assert_eq!(code, Some("unknown_token")),
                (_, Sender::BadToken) => prop_assert_eq!(code, Some("malformed_token")),
                // Random bytes are never a valid message.
                _ => prop_assert!(code.is_some(), "{:?}", answer),
            }
            Ok(())
        })
    });
}

#[test]
fn mutated_envelopes_get_typed_answers() {
    let fx = Fixture::new();
    let strategy = (0..fx.bases.len(), mutations());
    fx.run("mutated envelopes", 1500, strategy, |fx, (base, mutations)| {
        let b = &fx.bases[base];
        let body = mutate(&b.body, &mutations);
        fx.rt.block_on(fx.exchange(b.sender, b.endpoint, body)).map(drop)
    });
}

#[test]
fn mutated_cbor_in_valid_gzip_gets_typed_answers() {
    let fx = Fixture::new();
    let strategy = (0..fx.bases.len(), mutations());
    fx.run("mutated CBOR", 1500, strategy, |fx, (base, mutations)| {
        let b = &fx.bases[base];
        let body = gzip(&mutate(&b.cbor, &mutations));
        fx.rt.block_on(fx.exchange(b.sender, b.endpoint, body)).map(drop)
    });
}

#[test]
fn mutated_automerge_bytes_are_refused_per_document() {
    let fx = Fixture::new();
    let strategy = (0..fx.materials.len(), mutations(), target(), any::<bool>());
    fx.run("mutated Automerge bytes", 500, strategy, |fx, (m, mutations, target, reconcile)| {
        let m = &fx.materials[m];
        let bytes = mutate(&m.bytes, &mutations);
        if bytes == m.bytes {
            return Ok(()); // the mutations undid each other
        }
        let doc = match target {
            Target::Own => m.doc,
            Target::Stored(i) => fx.stored[i],
            Target::Unknown => DocId::random(),
        };
        let cut_to_nothing = bytes.is_empty();
        let (endpoint, body) = if reconcile {
            let message = message_with(vec![bytes]);
            let req = ReconcileRequest {
                v: VERSION,
                actor: fx.author.actor(),
                docs: vec![SyncMessage { doc, message }],
                have: None,
            };
            (Endpoint::Reconcile, protocol::encode(&req))
        } else {
            let push = PushDoc { doc, changes: bytes, heads: m.heads.clone(), signed: vec![] };
            let req = fx.author.request(Some(fx.epoch.clone()), &fx.cursor, vec![push]);
            (Endpoint::Sync, protocol::encode(&req))
        };
        fx.rt.block_on(async {
            let answer = fx.exchange(Sender::Author, endpoint, body).await?;
            prop_assert!(answer.code().is_none(), "the envelope is valid: {:?}", answer);
            if reconcile && cut_to_nothing {
                // Cut to nothing, the message carries no change: there is nothing to refuse
                // (and the fixture checks that nothing was stored).
                prop_assert!(answer.results().is_empty(), "{:?}", answer);
            } else if !m.held {
                // Bytes of new changes, mutated, are refused for their document.
                prop_assert_eq!(answer.results().len(), 1, "{:?}", answer);
                let acked = matches!(answer.results()[0].outcome, PushOutcome::Acked { .. });
                prop_assert!(!acked, "{:?}", answer);
            }
            Ok(())
        })
    });
}

/// Mutated change and document chunks resealed with a valid checksum, pushed by their author:
/// every answer is typed; what is refused stores nothing, and what is accepted (the mutation
/// left a change the author could have made) is the author's, logged, and loads as a valid
/// record on the server and on a phone.
#[test]
fn resealed_mutated_changes_are_refused_or_stored_whole() {
    let fx = Fixture::new();
    let mut sealed: Vec<(DocId, Vec<u8>)> = Vec::new();
    for m in &fx.materials {
        for c in chunks(&m.bytes) {
            assert_eq!(reseal(&c, &[]), c, "resealing as it is changes nothing");
            if !sealed.iter().any(|(_, s)| *s == c) {
                sealed.push((m.doc, c));
            }
        }
    }
    let strategy = (0..sealed.len(), prop::collection::vec(mutation(), 1..3), any::<bool>());
    fx.run("resealed changes", 1500, strategy, |fx, (i, mutations, reconcile)| {
        let (doc, chunk) = &sealed[i];
        let bytes = reseal(chunk, &mutations);
        if bytes == *chunk {
            return Ok(());
        }
        let (endpoint, body) = if reconcile {
            let message = SyncMessage { doc: *doc, message: message_with(vec![bytes]) };
            let req = ReconcileRequest {
                v: VERSION,
                actor: fx.author.actor(),
                docs: vec![message],
                have: None,
            };
            (Endpoint::Reconcile, protocol::encode(&req))
        } else {
            let push = PushDoc { doc: *doc, changes: bytes, heads: vec![], signed: vec![] };
            let req = fx.author.request(Some(fx.epoch.clone()), &fx.cursor, vec![push]);
            (Endpoint::Sync, protocol::encode(&req))
        };
        fx.rt.block_on(async {
            let answer = fx.exchange_with(Sender::Author, endpoint, body, true).await?;
            prop_assert!(answer.code().is_none(), "the envelope is valid: {:?}", answer);
            Ok(())
        })
    });
}

#[test]
fn wrong_ids_actors_versions_and_counts_get_typed_refusals() {
    let fx = Fixture::new();
    fx.run(
        "wrong ids, actors, versions, counts",
        1500,
        attack(fx.materials.len()),
        |fx, attack| {
            let (sender, endpoint, body, expected) = fx.attack(&attack);
            fx.rt.block_on(async {
                let answer = fx.exchange(sender, endpoint, body).await?;
                if let Some(code) = expected {
                    prop_assert_eq!(answer.code(), Some(code), "{:?}", answer);
                    return Ok(());
                }
                let doc_code = answer.results().first().and_then(|r| match &r.outcome {
                    PushOutcome::Acked { .. } => None,
                    PushOutcome::Rejected { code, .. } | PushOutcome::Retry { code, .. } => {
                        Some(code.as_str())
                    }
                });
                match attack {
                    Attack::Forged { .. } => prop_assert_eq!(doc_code, Some("forged_actor")),
                    Attack::Orphans { .. } | Attack::UnheldHeads(_) => {
                        prop_assert_eq!(doc_code, Some("missing_dependencies"))
                    }
                    Attack::WrongDoc { .. } => {
                        prop_assert_eq!(answer.results().len(), 1, "{:?}", answer);
                        prop_assert!(doc_code.is_some(), "{:?}", answer);
                    }
                    _ => {}
                }
                Ok(())
            })
        },
    );
}

/// Hostile signatures in a version-2 push: the author's new changes pushed by the other
/// device, with random signature groups (the author's actor, the pusher's, or one no device
/// has; random hashes or the changes' own; random signatures). Never taken, always refused
/// for their document with a protocol code, and nothing is stored.
#[test]
fn random_signatures_never_make_a_relayed_change_the_authors() {
    use fieldsync_core::authorship::{ChangeSig, Signature};
    use fieldsync_core::protocol::{SYNC_VERSION, SignedBy};
    let fx = Fixture::new();
    let fresh: Vec<usize> = (0..fx.materials.len()).filter(|&i| !fx.materials[i].held).collect();
    assert!(!fresh.is_empty(), "the fixture has changes the server lacks");
    let actor = prop_oneof![Just(0u8), Just(1u8), Just(2u8)];
    let sig = (any::<bool>(), any::<[u8; 32]>(), prop::collection::vec(any::<u8>(), 64..=64));
    let group = (actor, prop::collection::vec(sig, 0..4));
    let strategy = (prop::sample::select(fresh), prop::collection::vec(group, 0..3));
    fx.run("random signatures", 60, strategy, |fx, (i, groups)| {
        let m = &fx.materials[i];
        let hashes: Vec<Hash> = fieldsync_core::changes::parse_changes(&m.bytes, usize::MAX)
            .map(|cs| cs.iter().map(|c| c.hash().into()).collect())
            .unwrap_or_default();
        let signed = groups
            .into_iter()
            .map(|(who, sigs)| SignedBy {
                actor: match who {
                    0 => fx.author.actor(),
                    1 => fx.other.actor(),
                    _ => vec![0xee; 16],
                },
                sigs: sigs
                    .into_iter()
                    .map(|(real, h, s)| ChangeSig {
                        hash: match hashes.first() {
                            Some(own) if real => *own,
                            _ => Hash(h),
                        },
                        sig: Signature(s.try_into().unwrap()),
                    })
                    .collect(),
                credential: None,
            })
            .collect();
        let push = PushDoc { doc: m.doc, changes: m.bytes.clone(), heads: m.heads.clone(), signed };
        let mut req = fx.other.request(Some(fx.epoch.clone()), "", vec![push]);
        req.v = SYNC_VERSION;
        fx.rt.block_on(async {
            let answer = fx.exchange(Sender::Other, Endpoint::Sync, protocol::encode(&req)).await?;
            prop_assert!(answer.code().is_none(), "the envelope is valid: {:?}", answer);
            prop_assert_eq!(answer.results().len(), 1, "{:?}", answer);
            match &answer.results()[0].outcome {
                PushOutcome::Rejected { code, .. } | PushOutcome::Retry { code, .. } => {
                    prop_assert!(code != "internal_error", "{:?}", answer);
                }
                PushOutcome::Acked { .. } => prop_assert!(false, "taken: {:?}", answer),
            }
            Ok(())
        })
    });
}
