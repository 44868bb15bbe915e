//! Who may use the server: the single-tenant modes, the multi-tenant registry built
//! from the config file, its atomic reload, and the admin mutations of that file.

pub mod admin;
pub mod config;
pub mod limits;
pub mod stats;
pub mod token;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use config::{Config, ConfigError};
use limits::RateLimit;
use sq_store::{Directory, Store, TenantId};
use stats::TenantStats;
use token::TokenDigest;

/// A tenant as requests see it.
pub struct Tenant {
    /// Display name (logged; never the token).
    pub name: String,
    /// What the store knows it by.
    pub id: TenantId,
    /// A disabled tenant is refused with 403.
    pub enabled: bool,
    /// Where its documents live (canonical path).
    pub data_dir: PathBuf,
    /// Its documents.
    pub directory: Arc<Directory>,
    /// Storage quota in bytes, if any.
    pub quota_bytes: Option<u64>,
    /// Its request budget, if limited.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// Its counters (kept across reloads).
    pub stats: Arc<TenantStats>,
}

/// What a tenant keeps across reloads: its counters and its rate limiter.
type Kept = (Arc<TenantStats>, Option<Arc<RateLimit>>);

struct Keyed {
    tenant: Arc<Tenant>,
    expires_at: Option<u64>,
}

/// The tenants of one config generation, looked up by token digest.
pub struct Registry {
    by_token: HashMap<TokenDigest, Keyed>,
    by_name: BTreeMap<String, Arc<Tenant>>,
    admin: Option<TokenDigest>,
}

impl Registry {
    /// The number of distinct tenants.
    pub fn tenant_count(&self) -> usize {
        self.by_name.len()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_name.values()
    }

    /// The tenants named after `after` (all, without it), in name order.
    pub fn tenants_after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'a Arc<Tenant>> + 'a {
        use std::ops::Bound;
        let from = match after {
            Some(name) => Bound::Excluded(name.to_owned()),
            None => Bound::Unbounded,
        };
        self.by_name
            .range((from, Bound::Unbounded))
            .map(|(_, tenant)| tenant)
    }

    /// One tenant by name.
    pub fn tenant(&self, name: &str) -> Option<&Arc<Tenant>> {
        self.by_name.get(name)
    }
}

/// Unix seconds now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a key may do with its tenant's documents. Every key is an owner key today; read
/// and write keys come with scoped keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read documents.
    Read,
    /// Read and write documents.
    Write,
    /// Everything a tenant may do, including managing its own keys.
    Owner,
}

/// Who is calling, as their credential says.
#[derive(Clone)]
pub enum Principal {
    /// No credential, or one that opens nothing.
    Anonymous,
    /// A key of a tenant (multi-tenant mode).
    Key {
        /// The tenant it opens.
        tenant: Arc<Tenant>,
        /// What it may do there.
        scope: Scope,
    },
    /// The operator's admin token (multi-tenant mode).
    Operator,
    /// The caller of a single-tenant server: anyone when it is open, the holder of the
    /// key otherwise; both the tenant's owner and the operator.
    Sole(Arc<Tenant>),
}

impl Principal {
    /// The tenant this principal may use with `scope`.
    pub fn tenant(&self, scope: Scope) -> Option<&Arc<Tenant>> {
        match self {
            Principal::Key { tenant, scope: has } if *has >= scope => Some(tenant),
            Principal::Sole(tenant) => Some(tenant),
            _ => None,
        }
    }

    /// Whether this principal is the operator.
    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator | Principal::Sole(_))
    }
}

/// How requests are authenticated.
pub enum Tenancy {
    /// Single tenant, no authentication.
    Open(Arc<Tenant>),
    /// Single tenant behind one token.
    Key(TokenDigest, Arc<Tenant>),
    /// Tenants from a config file, swapped atomically on reload.
    Multi(MultiTenant),
}

/// The multi-tenant state: the current registry and what reloads and admin edits need.
pub struct MultiTenant {
    config_path: PathBuf,
    base: PathBuf,
    store: Arc<Store>,
    current: RwLock<Arc<Registry>>,
    /// Serializes reloads and admin edits so none interleave their read-validate-swap.
    writing: Mutex<()>,
    /// Per-name state that outlives a registry.
    kept: Mutex<HashMap<String, Kept>>,
    /// Successful and refused reloads.
    pub reloads: AtomicU64,
    /// Refused reloads.
    pub reload_failures: AtomicU64,
}

fn single_tenant(store: &Store, data_dir: PathBuf) -> Arc<Tenant> {
    Arc::new(Tenant {
        name: "default".into(),
        id: TenantId::for_name("default"),
        enabled: true,
        directory: store.tenant(&TenantId::for_name("default"), &data_dir),
        data_dir,
        quota_bytes: None,
        rate_limit: None,
        stats: Arc::default(),
    })
}

impl Tenancy {
    /// The single-tenant modes: open, or behind `key`.
    pub fn single(store: &Store, data_dir: PathBuf, key: Option<&str>) -> Self {
        let tenant = single_tenant(store, data_dir);
        match key {
            Some(key) => Tenancy::Key(TokenDigest::of(key.as_bytes()), tenant),
            None => Tenancy::Open(tenant),
        }
    }

    /// Multi-tenant mode from a validated config.
    pub fn multi(config_path: PathBuf, base: PathBuf, config: Config, store: Arc<Store>) -> Self {
        let multi = MultiTenant {
            config_path,
            base,
            store,
            current: RwLock::new(Arc::new(Registry {
                by_token: HashMap::new(),
                by_name: BTreeMap::new(),
                admin: None,
            })),
            writing: Mutex::new(()),
            kept: Mutex::new(HashMap::new()),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        };
        multi.install(&config);
        Tenancy::Multi(multi)
    }

    /// Who presents `token` (open mode: always the one tenant's caller).
    pub fn principal(&self, token: Option<&[u8]>) -> Principal {
        match self {
            Tenancy::Open(tenant) => Principal::Sole(tenant.clone()),
            // Compared in constant time.
            Tenancy::Key(key, tenant) => match token {
                Some(token) if key.ct_eq(&TokenDigest::of(token)) => {
                    Principal::Sole(tenant.clone())
                }
                _ => Principal::Anonymous,
            },
            Tenancy::Multi(multi) => {
                let Some(token) = token else {
                    return Principal::Anonymous;
                };
                if multi.is_admin(Some(token)) {
                    return Principal::Operator;
                }
                let registry = multi.registry();
                match registry.by_token.get(&TokenDigest::of(token)) {
                    Some(keyed) if keyed.expires_at.is_none_or(|at| now_unix() < at) => {
                        Principal::Key {
                            tenant: keyed.tenant.clone(),
                            scope: Scope::Owner,
                        }
                    }
                    _ => Principal::Anonymous,
                }
            }
        }
    }

    /// Whether credentials count at all: an open server ignores them.
    pub fn reads_credentials(&self) -> bool {
        !matches!(self, Tenancy::Open(_))
    }

    /// Whether an admin token is configured (multi-tenant mode only).
    pub fn has_admin(&self) -> bool {
        self.as_multi().is_some_and(MultiTenant::has_admin)
    }

    /// The multi-tenant state, if in that mode.
    pub fn as_multi(&self) -> Option<&MultiTenant> {
        match self {
            Tenancy::Multi(multi) => Some(multi),
            _ => None,
        }
    }

    /// How many tenants there are (without listing them).
    pub fn tenant_count(&self) -> usize {
        match self {
            Tenancy::Open(_) | Tenancy::Key(..) => 1,
            Tenancy::Multi(multi) => multi.registry().tenant_count(),
        }
    }

    /// Every tenant.
    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        match self {
            Tenancy::Open(tenant) | Tenancy::Key(_, tenant) => vec![tenant.clone()],
            Tenancy::Multi(multi) => multi.registry().tenants().cloned().collect(),
        }
    }
}

impl MultiTenant {
    /// The current registry.
    pub fn registry(&self) -> Arc<Registry> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `token` is the admin token (never true without one configured).
    pub fn is_admin(&self, token: Option<&[u8]>) -> bool {
        match (self.registry().admin, token) {
            (Some(admin), Some(token)) => admin.ct_eq(&TokenDigest::of(token)),
            _ => false,
        }
    }

    /// Whether an admin token is configured.
    pub fn has_admin(&self) -> bool {
        self.registry().admin.is_some()
    }

    /// Re-reads the config file, validates all of it, and swaps it in; on any error the
    /// current registry stays. Blocking (file I/O): call off the async workers.
    pub fn reload(&self) -> Result<usize, ConfigError> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = config::load(&self.config_path, &self.base);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let config = outcome
            .and_then(|config| config.create_directories().map(|()| config))
            .inspect_err(|_| {
                self.reload_failures.fetch_add(1, Ordering::Relaxed);
            })?;
        for warning in &config.warnings {
            tracing::warn!("config: {warning}");
        }
        let count = self.install(&config);
        tracing::info!(tenants = count, "config reloaded");
        Ok(count)
    }

    /// Builds the registry of `config` and swaps it in; returns the tenant count.
    fn install(&self, config: &Config) -> usize {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let mut by_name: BTreeMap<String, Arc<Tenant>> = BTreeMap::new();
        let mut by_token = HashMap::with_capacity(config.tenants.len());
        for entry in &config.tenants {
            let tenant = by_name
                .entry(entry.name.clone())
                .or_insert_with(|| {
                    let (stats, limit) = kept.entry(entry.name.clone()).or_default();
                    if limit.as_ref().map(|l| l.rps()) != entry.rate_limit_rps {
                        *limit = entry
                            .rate_limit_rps
                            .map(|rps| Arc::new(RateLimit::new(rps)));
                    }
                    Arc::new(Tenant {
                        name: entry.name.clone(),
                        id: entry.id.clone(),
                        enabled: entry.enabled,
                        directory: self.store.tenant(&entry.id, &entry.data_dir),
                        data_dir: entry.data_dir.clone(),
                        quota_bytes: entry.quota_bytes,
                        rate_limit: limit.clone(),
                        stats: stats.clone(),
                    })
                })
                .clone();
            by_token.insert(
                entry.token,
                Keyed {
                    tenant,
                    expires_at: entry.expires_at,
                },
            );
        }
        let count = by_name.len();
        let registry = Registry {
            by_token,
            by_name,
            admin: config.admin,
        };
        let still_served: HashSet<(&TenantId, &Path)> = config
            .tenants
            .iter()
            .map(|e| (&e.id, e.data_dir.as_path()))
            .collect();
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(PoisonError::into_inner),
            Arc::new(registry),
        );
        drop(kept);
        let removed: Vec<(&TenantId, &Path)> = old
            .tenants()
            .map(|t| (&t.id, t.data_dir.as_path()))
            .filter(|served| !still_served.contains(served))
            .collect();
        self.retire(&removed);
        count
    }

    /// Lets the store go of the directories of removed tenants (their tokens are refused
    /// already), so that requests still under way touch nothing there and a tenant given
    /// one of those paths later starts from the files, not from a former tenant's memory.
    /// Waits for it when called off the async workers, as reloads and admin edits are.
    fn retire(&self, removed: &[(&TenantId, &Path)]) {
        if removed.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.block_on(async {
            for (id, dir) in removed {
                self.store.detach(id, dir).await;
            }
        });
    }
}
