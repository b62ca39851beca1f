//! The binary's administration subcommands: users (add, list, scopes, disable, enable),
//! enrollment codes (issue, list, revoke), devices (list, revoke), desk sessions (list,
//! revoke), Open311 API keys (issue, list, revoke) and the list of refusals, run on the
//! server's storage (the SQLite file of `--data`, or the PostgreSQL database of `--storage`),
//! also while it serves; and the rebuild of the record index (`reindex`), with the server
//! stopped.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_server::accounts::{Accounts, CodeState};
use fieldsync_server::open311::keys;
use fieldsync_server::storage::PostgresStorage;
use fieldsync_server::{
    Durability, Rules, ServerConfig, SqliteStorage, Storage, StorageChoice, index,
};

#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    /// The user the code enrolls a device for.
    #[arg(required = true)]
    pub(crate) user: Option<String>,
    /// Hours the code stays valid.
    #[arg(long, default_value_t = 24)]
    hours: u64,
    /// Who issues it: an admin, or a grid leader for residents of their grids.
    #[arg(long, default_value = "admin")]
    by: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CodeCommand {
    /// Issue a single-use, expiring enrollment code for a user.
    Issue(IssueArgs),
    /// List enrollment codes (unused ones, unless --all) by id, never the codes themselves.
    List {
        /// Only this user's codes.
        #[arg(long)]
        user: Option<String>,
        /// Used, expired and revoked codes too.
        #[arg(long)]
        all: bool,
    },
    /// Withdraw an unused code, named by its id (from `enroll-code list`) or by the code.
    Revoke {
        /// The code's id or the code itself.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user with a role and one or more scopes.
    Add {
        /// The user id.
        id: String,
        /// resident, grid_leader, patrol, mediator, dispatcher, supervisor, admin or
        /// business_operator (whose one scope is a business's own, `{scope}/business:{id}`).
        #[arg(long)]
        role: Role,
        /// For patrol members: police, cadre or volunteer.
        #[arg(long)]
        patrol: Option<PatrolKind>,
        /// A scope path (repeat for several), e.g. jl/changchun/chaoyang/grid-07.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List users.
    List,
    /// Disable a user: every device of theirs is refused from its next request on, and their
    /// unused enrollment codes are withdrawn.
    Disable {
        /// The user id.
        id: String,
    },
    /// Enable a disabled user again: their devices (unless revoked) work again.
    Enable {
        /// The user id.
        id: String,
    },
    /// Replace a user's scopes (their phones follow at the next sync).
    Scopes {
        /// The user id.
        id: String,
        /// A scope path (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// List devices.
    List,
    /// Revoke a device: its token stops working at once; its local data stays on the phone,
    /// unless `--wipe`.
    Revoke {
        /// The device id (from `device list`).
        id: String,
        /// A lost or stolen phone: at its next contact it erases its store and files (records,
        /// unsynced work, photos, enrollment) and tells the app.
        #[arg(long)]
        wipe: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// List desk sessions (open ones, unless --all), newest first.
    List {
        /// Ended sessions too.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a desk session: it ends at once, and its desk device with it.
    Revoke {
        /// The session id (from `session list`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Issue an API key for a third-party reporting app (Open311 GeoReport v2); the key is
    /// printed once, on stdout, and only its hash is kept.
    Issue {
        /// The app's name, e.g. "Civic Reports".
        #[arg(long)]
        name: String,
        /// A scope whose reports the app may read and file into (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List API keys by id, never the keys themselves.
    List,
    /// Revoke an API key: requests with it are refused at once.
    Revoke {
        /// The key's id (from `api-key list`).
        id: String,
    },
}

/// An administration command.
#[derive(Debug)]
pub(crate) enum Admin {
    /// `user …`
    User(UserCommand),
    /// `enroll-code …`
    EnrollCode(Option<CodeCommand>, IssueArgs),
    /// `device …`
    Device(DeviceCommand),
    /// `session …`
    Session(SessionCommand),
    /// `api-key …`
    ApiKey(KeyCommand),
    /// `refusals`: the listed refusals inside any of these scopes (none: all), after this id.
    Refusals(Vec<String>, i64),
}

/// The storage an administration command works on, with the runtime its operations run on.
struct Opened {
    runtime: tokio::runtime::Runtime,
    storage: Arc<dyn Storage>,
}

impl Opened {
    /// Opens `choice`: the SQLite file in `data` (created if new), or a PostgreSQL database.
    fn open(data: &std::path::Path, choice: &StorageChoice) -> Result<Opened, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        let storage: Arc<dyn Storage> = match choice {
            StorageChoice::Sqlite => {
                std::fs::create_dir_all(data)
                    .map_err(|e| format!("cannot create {}: {e}", data.display()))?;
                let path = ServerConfig::new(data).db_path();
                Arc::new(SqliteStorage::open(&path, Durability::Normal).map_err(|e| e.to_string())?)
            }
            StorageChoice::Postgres(url) => {
                Arc::new(runtime.block_on(PostgresStorage::open(url)).map_err(|e| e.to_string())?)
            }
        };
        Ok(Opened { runtime, storage })
    }

    /// Closes the storage (its connections, or its writer thread).
    fn close(self) {
        self.runtime.block_on(self.storage.close());
    }
}

/// Runs an administration command on the storage `choice` names (`data` holds SQLite's file).
pub(crate) fn run(
    data: &std::path::Path,
    choice: &StorageChoice,
    command: Admin,
) -> Result<(), String> {
    let opened = Opened::open(data, choice)?;
    let done = match command {
        Admin::ApiKey(c) => api_key(&opened, c),
        Admin::Refusals(scopes, after) => list_refusals(&opened, scopes, after),
        other => {
            let accounts = {
                let _on = opened.runtime.enter();
                Accounts::new(opened.storage.clone()).map_err(|e| e.to_string())?
            };
            run_accounts(&accounts, other)
        }
    };
    opened.close();
    done
}

/// Runs an administration command on accounts.
fn run_accounts(accounts: &Accounts, command: Admin) -> Result<(), String> {
    let when = |ms: i64| fieldsync_core::time::format_ms(ms);
    match command {
        Admin::User(UserCommand::Add { id, role, patrol, scopes }) => {
            let u = accounts.add_user(&id, role, patrol, &scopes).map_err(|e| e.to_string())?;
            println!("added {} ({}) in {}", u.id, role_label(&u.profile), scopes.join(", "));
        }
        Admin::User(UserCommand::List) => {
            for u in accounts.users().map_err(|e| e.to_string())? {
                let state =
                    u.disabled_at.map_or("active".into(), |t| format!("disabled {}", when(t)));
                let (role, scopes) = (role_label(&u.profile), u.profile.scopes.join(","));
                println!("{}\t{role}\t{scopes}\t{state}", u.id);
            }
        }
        Admin::User(UserCommand::Disable { id }) => {
            let d = accounts.disable_user(&id).map_err(|e| e.to_string())?;
            println!(
                "disabled {id} since {}: {} device(s) refused from their next request, {} unused \
                 code(s) withdrawn, {} desk session(s) ended",
                when(d.at),
                d.devices,
                d.codes_withdrawn,
                d.sessions_ended
            );
        }
        Admin::User(UserCommand::Enable { id }) => {
            accounts.enable_user(&id).map_err(|e| e.to_string())?;
            println!("enabled {id}: their devices that were not revoked work again");
        }
        Admin::User(UserCommand::Scopes { id, scopes }) => {
            accounts.set_scopes(&id, &scopes).map_err(|e| e.to_string())?;
            println!("{id} now works in {}", scopes.join(", "));
        }
        Admin::EnrollCode(Some(CodeCommand::Issue(args)), _) | Admin::EnrollCode(None, args) => {
            issue_code(accounts, args)?
        }
        Admin::EnrollCode(Some(CodeCommand::List { user, all }), _) => {
            let now = fieldsync_core::time::now_ms();
            for c in accounts.codes(user.as_deref(), all).map_err(|e| e.to_string())? {
                let state = match (c.state(now), &c.used, c.revoked_at) {
                    (CodeState::Used, Some((at, device)), _) => {
                        format!("used {} by {device}", when(*at))
                    }
                    (CodeState::Revoked, _, Some(at)) => format!("revoked {}", when(at)),
                    (state, ..) => state.to_string(),
                };
                println!(
                    "{}\t{}\tissued by {} {}\texpires {}\t{state}",
                    c.id,
                    c.user,
                    c.issued_by,
                    when(c.issued_at),
                    when(c.expires_at)
                );
            }
        }
        Admin::EnrollCode(Some(CodeCommand::Revoke { id }), _) => {
            let c = accounts.revoke_code(&id).map_err(|e| e.to_string())?;
            println!("withdrew code {} of {}", c.id, c.user);
        }
        Admin::Device(DeviceCommand::List) => {
            for d in accounts.devices().map_err(|e| e.to_string())? {
                let state = match (d.revoked_at, d.wipe) {
                    (None, _) => "active".to_string(),
                    (Some(t), false) => format!("revoked {}", when(t)),
                    (Some(t), true) => format!("revoked {} (wipe)", when(t)),
                };
                println!(
                    "{}\t{}\t{}\t{}\tenrolled {}\t{state}",
                    d.id,
                    d.kind.as_str(),
                    d.user,
                    d.name,
                    when(d.enrolled_at)
                );
            }
        }
        Admin::Device(DeviceCommand::Revoke { id, wipe: false }) => {
            accounts.revoke(&id).map_err(|e| e.to_string())?;
            println!("revoked {id}");
        }
        Admin::Device(DeviceCommand::Revoke { id, wipe: true }) => {
            accounts.revoke_and_wipe(&id).map_err(|e| e.to_string())?;
            println!("revoked {id}; it erases its store at its next contact");
        }
        Admin::Session(SessionCommand::List { all }) => {
            for s in accounts.sessions(all).map_err(|e| e.to_string())? {
                let state = s
                    .ended
                    .map_or("open".to_string(), |(at, why)| format!("ended {} ({why})", when(at)));
                println!(
                    "{}\t{}\t{}\tsigned in {}\tlast seen {}\t{state}",
                    s.id,
                    s.user,
                    s.device,
                    when(s.created_at),
                    when(s.last_seen_at)
                );
            }
        }
        Admin::Session(SessionCommand::Revoke { id }) => {
            accounts.revoke_session(&id).map_err(|e| e.to_string())?;
            println!("revoked desk session {id}: it ended at once, with its desk device");
        }
        Admin::ApiKey(_) | Admin::Refusals(..) => {}
    }
    Ok(())
}

/// `enroll-code issue`: prints the code on stdout, what it is for on stderr.
fn issue_code(accounts: &Accounts, args: IssueArgs) -> Result<(), String> {
    let IssueArgs { user, hours, by } = args;
    let user = user.ok_or("name the user the code is for")?;
    let issuer = accounts
        .user(&by)
        .map_err(|e| e.to_string())?
        .map(|u| u.profile)
        .or_else(|| {
            (by == "admin").then(|| Profile {
                user: "admin".into(),
                role: Role::Admin,
                patrol: None,
                scopes: vec![],
            })
        })
        .ok_or_else(|| format!("no user {by:?} to issue the code"))?;
    let valid = std::time::Duration::from_secs(hours.saturating_mul(3600));
    let issued = accounts.issue_code(&user, &issuer, valid).map_err(|e| e.to_string())?;
    println!("{}", issued.code);
    eprintln!(
        "enrolls one device for {user}; valid until {}",
        fieldsync_core::time::format_ms(issued.expires_at)
    );
    Ok(())
}

/// Prints the listed refusals, one per line.
fn list_refusals(opened: &Opened, scopes: Vec<String>, after: i64) -> Result<(), String> {
    let listed = opened
        .runtime
        .block_on(opened.storage.refusals(scopes, after, usize::MAX))
        .map_err(|e| e.to_string())?;
    for s in listed {
        let r = &s.refused;
        let when = fieldsync_core::time::format_ms(r.at);
        println!(
            "{}\t{}\t{} {}\t{}\t{}\t{when}\t{}×\t{}",
            s.id, r.doc, r.kind, r.scope, r.user, r.device, s.times, r.message
        );
    }
    Ok(())
}

/// `api-key …`.
fn api_key(opened: &Opened, command: KeyCommand) -> Result<(), String> {
    let storage = opened.storage.as_ref();
    let when = |ms: i64| fieldsync_core::time::format_ms(ms);
    let result = opened.runtime.block_on(async {
        match command {
            KeyCommand::Issue { name, scopes } => {
                let k = keys::issue(storage, &name, &scopes).await?;
                println!("{}", k.key);
                eprintln!(
                    "API key {} for {:?}, reading and filing into {}; shown only now",
                    k.id,
                    k.name,
                    k.scopes.join(", ")
                );
            }
            KeyCommand::List => {
                for k in keys::list(storage).await? {
                    let state = k
                        .revoked_at
                        .map_or("active".to_string(), |t| format!("revoked {}", when(t)));
                    println!(
                        "{}\t{}\t{}\tissued {}\t{state}",
                        k.id,
                        k.name,
                        k.scopes.join(","),
                        when(k.created_at)
                    );
                }
            }
            KeyCommand::Revoke { id } => {
                keys::revoke(storage, &id).await?;
                println!("revoked {id}");
            }
        }
        Ok::<(), fieldsync_server::open311::Open311Error>(())
    });
    result.map_err(|e| e.to_string())
}

fn role_label(p: &Profile) -> String {
    match p.patrol {
        Some(k) => format!("{}/{}", p.role, k),
        None => p.role.to_string(),
    }
}

/// Rebuilds the record index of the storage `choice` names (`data` holds SQLite's file) from
/// its documents under `rules`.
pub(crate) async fn reindex(
    data: PathBuf,
    choice: &StorageChoice,
    rules: Rules,
) -> Result<(), String> {
    let (storage, name): (Arc<dyn Storage>, String) = match choice {
        StorageChoice::Sqlite => {
            let path = ServerConfig::new(data).db_path();
            if !path.exists() {
                return Err(format!("no database at {}", path.display()));
            }
            let opened = path.clone();
            let storage =
                tokio::task::spawn_blocking(move || SqliteStorage::open(opened, Durability::Full))
                    .await
                    .map_err(|e| format!("opening {} failed: {e}", path.display()))?
                    .map_err(|e| e.to_string())?;
            (Arc::new(storage), path.display().to_string())
        }
        StorageChoice::Postgres(url) => {
            let storage = PostgresStorage::open(url).await.map_err(|e| e.to_string())?;
            (Arc::new(storage), "PostgreSQL".to_string())
        }
    };
    let done = index::reindex(&storage, &rules).await.map_err(|e| e.to_string());
    storage.close().await;
    let done = done?;
    println!(
        "{name}: index rebuilt, {} records ({} documents left out: see the log)",
        done.rows, done.skipped
    );
    Ok(())
}
