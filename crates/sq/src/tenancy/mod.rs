//! Who may use the server: the single-tenant modes, the multi-tenant registry built
//! from the config file, and its atomic reload.

pub mod config;
pub mod token;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::store::{Directory, Store};
use config::{Config, ConfigError};
use token::TokenDigest;

/// A tenant as requests see it.
pub struct Tenant {
    /// Display name (logged; never the token).
    pub name: String,
    /// A disabled tenant is refused with 403.
    pub enabled: bool,
    /// Where its documents live.
    pub directory: Arc<Directory>,
}

/// The tenants of one config generation, looked up by token digest.
pub struct Registry {
    by_token: HashMap<TokenDigest, Arc<Tenant>>,
    admin: Option<TokenDigest>,
    tenant_count: usize,
}

impl Registry {
    fn build(config: &Config, store: &Store) -> Self {
        let by_token = config
            .tenants
            .iter()
            .map(|entry| {
                let tenant = Tenant {
                    name: entry.name.clone(),
                    enabled: entry.enabled,
                    directory: store.directory(&entry.data_dir),
                };
                (entry.token, Arc::new(tenant))
            })
            .collect();
        Registry {
            by_token,
            admin: config.admin,
            tenant_count: config.tenant_count(),
        }
    }

    /// The number of distinct tenants.
    pub fn tenant_count(&self) -> usize {
        self.tenant_count
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

/// The multi-tenant state: the current registry and what reload needs.
pub struct MultiTenant {
    config_path: PathBuf,
    base: PathBuf,
    store: Arc<Store>,
    current: RwLock<Arc<Registry>>,
    /// Serializes reloads so two cannot interleave their validate-then-swap.
    reloading: Mutex<()>,
}

impl Tenancy {
    /// The single-tenant modes: open, or behind `key`.
    pub fn single(store: &Store, data_dir: PathBuf, key: Option<&str>) -> Self {
        let tenant = Arc::new(Tenant {
            name: "default".into(),
            enabled: true,
            directory: store.directory(&data_dir),
        });
        match key {
            Some(key) => Tenancy::Key(TokenDigest::of(key.as_bytes()), tenant),
            None => Tenancy::Open(tenant),
        }
    }

    /// Multi-tenant mode from a validated config.
    pub fn multi(config_path: PathBuf, base: PathBuf, config: &Config, store: Arc<Store>) -> Self {
        let registry = Arc::new(Registry::build(config, &store));
        Tenancy::Multi(MultiTenant {
            config_path,
            base,
            store,
            current: RwLock::new(registry),
            reloading: Mutex::new(()),
        })
    }

    /// The tenant of the first presented token that matches, if any.
    pub fn authenticate<'a>(&self, tokens: impl Iterator<Item = &'a [u8]>) -> Option<Arc<Tenant>> {
        match self {
            Tenancy::Open(tenant) => Some(tenant.clone()),
            Tenancy::Key(key, tenant) => {
                let mut matched = false;
                // Every candidate is compared, in constant time, whatever matched first.
                for token in tokens {
                    matched |= key.ct_eq(&TokenDigest::of(token));
                }
                matched.then(|| tenant.clone())
            }
            Tenancy::Multi(multi) => {
                let registry = multi.registry();
                tokens
                    .map(TokenDigest::of)
                    .find_map(|digest| registry.by_token.get(&digest).cloned())
            }
        }
    }

    /// The multi-tenant state, if in that mode.
    pub fn as_multi(&self) -> Option<&MultiTenant> {
        match self {
            Tenancy::Multi(multi) => Some(multi),
            _ => None,
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

    /// Whether `tokens` include the admin token (never true without one configured).
    pub fn is_admin<'a>(&self, tokens: impl Iterator<Item = &'a [u8]>) -> bool {
        let Some(admin) = self.registry().admin else {
            return false;
        };
        tokens.fold(false, |found, token| {
            found | admin.ct_eq(&TokenDigest::of(token))
        })
    }

    /// Whether an admin token is configured.
    pub fn has_admin(&self) -> bool {
        self.registry().admin.is_some()
    }

    /// Re-reads the config file, validates all of it, and swaps it in; on any error the
    /// current registry stays. Blocking (file I/O): call off the async workers.
    pub fn reload(&self) -> Result<usize, ConfigError> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let config = config::load(&self.config_path, &self.base)?;
        for warning in &config.warnings {
            tracing::warn!("config: {warning}");
        }
        let registry = Arc::new(Registry::build(&config, &self.store));
        let count = registry.tenant_count();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = registry;
        tracing::info!(tenants = count, "config reloaded");
        Ok(count)
    }
}
