//! Helpers shared by the o365ctl integration tests: the built binary with a clean
//! environment, a small simulator, and readers for the output layout.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use o365_sim::{SimConfig, SimHandle, TenantSpec};
use serde_json::Value;

pub const TENANT: &str = o365_sim::DEFAULT_TENANT_ID;
pub const CLIENT: &str = o365_sim::DEFAULT_CLIENT_ID;
pub const SECRET: &str = o365_sim::DEFAULT_CLIENT_SECRET;

/// Variables o365ctl reads besides its own `O365_*` ones.
const SHARED_VARS: [&str; 4] = [
    "RUST_LOG",
    "AWS_ENDPOINT_URL",
    "API_RATE_PER_MINUTE",
    "API_BURST",
];

/// The o365ctl binary with none of the developer's tenant, AWS or request rate settings.
pub fn bin() -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_o365ctl"));
    for (k, _) in std::env::vars() {
        if k.starts_with("O365_") || SHARED_VARS.contains(&k.as_str()) {
            c.env_remove(k);
        }
    }
    c.env("AWS_EC2_METADATA_DISABLED", "true");
    c.kill_on_drop(true);
    c
}

/// Runs a command to the end.
pub async fn run(mut c: tokio::process::Command) -> Output {
    c.output().await.unwrap()
}

/// stderr as text, for assertion messages.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout parsed as one JSON document.
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// A simulator with `hours` of history and the given tenants (subscriptions not started).
pub async fn sim(hours: u64, tenants: &[&str]) -> SimHandle {
    o365_sim::start(SimConfig {
        history: Duration::from_secs(hours * 3600),
        tenants: tenants.iter().map(|t| TenantSpec::new(*t)).collect(),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// The one-tenant flags that point at a simulator.
pub fn sim_flags(sim: &SimHandle) -> Vec<String> {
    let base = sim.base_url();
    [
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--api-root",
        &base,
        "--login-root",
        &base,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// o365ctl with `args`, pointed at a simulator as a configured tenant (flags and the
/// secret in the environment).
pub fn at_sim(sim: &SimHandle, args: &[&str]) -> tokio::process::Command {
    let mut c = bin();
    c.args(args)
        .args(sim_flags(sim))
        .env("O365_CLIENT_SECRET", SECRET);
    c
}

/// o365ctl with an output directory of its own (a temporary one, removed on drop), against a
/// simulator as a configured tenant or against the embedded one: the set-up most CLI tests
/// start with. `cmd` adds `--out <dir>` to every command.
pub struct Ctl<'a> {
    sim: Option<&'a SimHandle>,
    dir: tempfile::TempDir,
}

impl Ctl<'static> {
    /// Against the embedded simulator (no tenant configured).
    pub fn embedded() -> Ctl<'static> {
        Ctl {
            sim: None,
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl<'a> Ctl<'a> {
    /// Against `sim` as a configured tenant (see [`at_sim`]).
    pub fn at(sim: &'a SimHandle) -> Ctl<'a> {
        Ctl {
            sim: Some(sim),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The output directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The output directory as a flag value.
    pub fn out(&self) -> String {
        self.dir.path().to_str().unwrap().to_owned()
    }

    /// `o365ctl <args> --out <dir>`, with the simulator's tenant flags when there is one.
    pub fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let out = self.out();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--out", &out]);
        match self.sim {
            Some(sim) => at_sim(sim, &all),
            None => {
                let mut c = bin();
                c.args(&all);
                c
            }
        }
    }

    /// `o365ctl run --once --json -q --content-types <content_types>`, run to the end.
    pub async fn run_once(&self, content_types: &str) -> Output {
        run(self.cmd(&[
            "run",
            "--once",
            "--json",
            "-q",
            "--content-types",
            content_types,
        ]))
        .await
    }

    /// Every blob stored in the output directory (see [`stored`]).
    pub fn stored(&self) -> BTreeMap<String, PathBuf> {
        stored(self.dir.path())
    }
}

/// Every stored blob under `root` (the `--out` directory): content id → path.
pub fn stored(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.join("o365")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('_') {
                    stack.push(p);
                }
            } else if let Some(id) = name.strip_suffix(".json.gz") {
                assert!(
                    out.insert(id.to_owned(), p.clone()).is_none(),
                    "{id} stored twice"
                );
            }
        }
    }
    out
}

/// The lines of a stored object, as JSON.
pub fn lines(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Content ids the simulator published for one type that are listable now.
pub fn published(sim: &SimHandle, content_type: &str) -> Vec<String> {
    let ledger = sim.ledger();
    let now = sim.now();
    let mut ids: Vec<String> = ledger
        .published
        .into_iter()
        .filter(|b| b.content_type == content_type && b.available_at <= now)
        .map(|b| b.content_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
