//! A phone for end-to-end tests: a store in a temp dir and a sync client, plus transports that
//! count, duplicate or replay what goes over the wire.

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use automerge::ActorId;
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::protocol::{self, SyncResponse};
use fieldsync_core::store::Store;
use fieldsync_core::sync::{
    HttpTransport, SyncClient, SyncOptions, SyncSummary, Transport, TransportError,
};
use fieldsync_server::RunningServer;

/// A transport carrying an enrolled device's token, with the actor the device must write as.
#[derive(Debug, Clone)]
pub struct Enrolled<T> {
    /// The transport.
    pub transport: T,
    /// The device's actor.
    pub actor: ActorId,
    /// The device's token (to reach the same server at another address).
    pub token: String,
}

impl<T> Enrolled<T> {
    /// The same device through a wrapping transport.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Enrolled<U> {
        Enrolled { transport: f(self.transport), actor: self.actor, token: self.token }
    }
}

/// Enrolls a new device for `user` (added as a dispatcher of the whole jurisdiction, who may
/// read everything, if the server does not know them) and gives an HTTP transport with its
/// token.
pub fn enroll_http(server: &RunningServer, user: &str) -> Enrolled<HttpTransport> {
    fn ok<V, E: std::fmt::Display>(r: Result<V, E>, what: &str) -> V {
        r.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
    let accounts = server.server().accounts();
    if ok(accounts.user(user), "accounts").is_none() {
        ok(accounts.add_user(user, Role::Dispatcher, None, &["jl".to_string()]), "add user");
    }
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let code = ok(accounts.issue_code(user, &admin, Duration::from_secs(600)), "code").code;
    let e = ok(accounts.enroll(&code, "test phone", None), "enroll");
    let transport = ok(HttpTransport::new(&server.url()), "url").with_token(e.token.clone());
    Enrolled { transport, actor: ActorId::from(e.device.actor), token: e.token }
}

/// A store and a sync client to one server.
pub struct Phone<T: Transport> {
    /// Who carries it (also the user id it writes as).
    pub name: String,
    /// Its store.
    pub store: Arc<Store>,
    /// Its sync client.
    pub client: SyncClient<T>,
}

impl<T: Transport> Phone<T> {
    /// A phone with a new store at `dir/<name>.db`, writing as user `name` with the enrolled
    /// device's actor.
    pub fn new(dir: &Path, name: &str, device: Enrolled<T>) -> Phone<T> {
        Phone::with_config(dir, name, device, SyncOptions::default())
    }

    /// Like `new`, with sync tunables.
    pub fn with_config(
        dir: &Path,
        name: &str,
        device: Enrolled<T>,
        config: SyncOptions,
    ) -> Phone<T> {
        let store = Store::open(dir.join(format!("{name}.db")))
            .unwrap_or_else(|e| panic!("open {name}: {e}"));
        Phone::with_store(Arc::new(store), name, device, config)
    }

    /// Like `with_config`, on a store the caller opened (an encrypted one, say).
    pub fn with_store(
        store: Arc<Store>,
        name: &str,
        device: Enrolled<T>,
        config: SyncOptions,
    ) -> Phone<T> {
        store.set_user(name).unwrap_or_else(|e| panic!("user {name}: {e}"));
        store.set_actor(device.actor).unwrap_or_else(|e| panic!("actor {name}: {e}"));
        let client = SyncClient::new(store.clone(), device.transport).with_options(config);
        Phone { name: name.to_string(), store, client }
    }

    /// Syncs, panicking on error.
    pub async fn sync(&self) -> SyncSummary {
        self.client.sync_now(None).await.unwrap_or_else(|e| panic!("{} sync: {e}", self.name))
    }
}

/// What a [`Counting`] transport saw.
#[derive(Debug, Default)]
pub struct Counts {
    /// Requests sent.
    pub requests: AtomicU64,
    /// Request body bytes.
    pub bytes_up: AtomicU64,
    /// Answer body bytes.
    pub bytes_down: AtomicU64,
    /// Documents sent whole in sync answers.
    pub whole_docs: AtomicU64,
    /// Documents sent as changes in sync answers.
    pub change_docs: AtomicU64,
}

impl Counts {
    /// (requests, bytes up + down) so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::SeqCst),
            self.bytes_up.load(Ordering::SeqCst) + self.bytes_down.load(Ordering::SeqCst),
        )
    }
}

/// Counts requests, bytes and the kind of pulled data.
pub struct Counting<T> {
    inner: T,
    /// The counts, shared.
    pub counts: Arc<Counts>,
}

impl<T> Counting<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Counting { inner, counts: Arc::new(Counts::default()) }
    }
}

impl<T: Transport> Transport for Counting<T> {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.counts.requests.fetch_add(1, Ordering::SeqCst);
        self.counts.bytes_up.fetch_add(body.len() as u64, Ordering::SeqCst);
        let answer = self.inner.post(path, body).await?;
        self.counts.bytes_down.fetch_add(answer.len() as u64, Ordering::SeqCst);
        if path == "/v1/sync"
            && let Ok(r) = protocol::decode::<SyncResponse>(&answer)
        {
            let whole = r.docs.iter().filter(|d| d.whole).count() as u64;
            self.counts.whole_docs.fetch_add(whole, Ordering::SeqCst);
            self.counts.change_docs.fetch_add(r.docs.len() as u64 - whole, Ordering::SeqCst);
        }
        Ok(answer)
    }
}

/// Sends every request twice and returns the second answer: a retried request whose first
/// answer was lost.
pub struct Duplicating<T>(pub T);

impl<T: Transport> Transport for Duplicating<T> {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let _ = self.0.post(path, body.clone()).await?;
        self.0.post(path, body).await
    }
}

/// Before every request, re-sends an earlier one (answer ignored): a delayed duplicate that
/// arrives after newer rounds.
pub struct Replaying<T> {
    inner: T,
    sent: Mutex<Vec<Vec<u8>>>,
    seed: AtomicU64,
}

impl<T> Replaying<T> {
    /// Wraps `inner`; `seed` picks which earlier requests are replayed.
    pub fn new(inner: T, seed: u64) -> Self {
        Replaying { inner, sent: Mutex::new(Vec::new()), seed: AtomicU64::new(seed | 1) }
    }
}

impl<T: Transport> Transport for Replaying<T> {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let old = {
            let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            // xorshift: deterministic for a seed
            let mut x = self.seed.load(Ordering::SeqCst);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.seed.store(x, Ordering::SeqCst);
            let pick =
                if sent.is_empty() { None } else { Some(sent[(x as usize) % sent.len()].clone()) };
            sent.push(body.clone());
            pick
        };
        if let Some(old) = old
            && path == "/v1/sync"
        {
            let _ = self.inner.post(path, old).await;
        }
        self.inner.post(path, body).await
    }
}

/// Every file under `store`'s photo folder (`<store>.blobs`), at any depth.
pub fn blob_files(store: &Store) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(&format!("{}.blobs", store.path().display())), &mut out);
    out
}
