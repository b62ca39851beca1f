//! Hostile input against the real server over HTTP on a loopback port.
//!
//! Property tests feed it random bytes; real envelopes (sync, reconcile, visible, enroll) with
//! bits flipped and bytes cut, inserted or deleted; valid gzip around mutated CBOR; valid
//! envelopes around mutated Automerge changes and saved documents; wrong document ids, forged
//! actors, wrong versions and huge counts. Every case must get a typed answer — a 4xx with the
//! protocol's JSON error body, or a 200 whose per-document results are typed refusals — never a
//! 5xx and never a hang; afterwards the server still answers health and a normal sync, and
//! nothing new is stored (documents, their bytes, the log and the devices are compared with
//! what they were before the first case).
//!
//! Then the memory limits: a document that would grow past the per-document limit is refused
//! `too_large` and what was stored stays readable; a saved document whose deflated columns
//! inflate to 512 MiB, and a request of 128 compressed changes inflating to 32 MiB each, are
//! refused once inflating passes the limits, on the server and on the phone, without the
//! memory; changes whose dependencies never arrive are refused `missing_dependencies` on every
//! push and kept nowhere, neither on the server nor on the phone, and a sync client that cannot
//! apply what it pulls asks for it once per sync and finishes. (The gzip bomb of the envelope is
//! in `http.rs`.)
//!
//! One server per test function. The case counts keep the file within about a minute in a
//! debug build on two cores; `PROPTEST_CASES=<n>` runs `n` cases per property instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod answers;
mod attacks;
mod bombs;
mod fixture;
mod growth;
mod mutation;
mod orphans;
mod properties;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use automerge::sync::{ChunkList, Message, MessageVersion, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fieldsync_core::changes::split_chunks;
use fieldsync_core::model::Record;
use fieldsync_core::protocol::{
    self, EnrollRequest, ErrorBody, Hash, PullDoc, PushDoc, PushOutcome, PushResult,
    ReconcileRequest, ReconcileResponse, SyncMessage, SyncRequest, SyncResponse, VERSION,
    VisibleRequest, VisibleResponse, limits,
};
use fieldsync_core::sync::{HttpTransport, SyncClient, SyncOptions, Transport, TransportError};
use fieldsync_core::{CoreError, DocId};
use fieldsync_server::ServerConfig;
use fieldsync_server::storage::StoredDoc;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestRunner};

use answers::*;
use attacks::*;
use fixture::*;
use mutation::*;
