//! The real upkeep server on `127.0.0.1:0` for HTTP tests, with a movable clock and helpers to make
//! people and tokens directly through the domain functions.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use upkeep::server::{self, Running};
use upkeep_core::clock::ManualClock;
use upkeep_core::config::Config;
use upkeep_core::identity::{self, NewUserInput};
use upkeep_core::storage::{Role, Scope, User};
use upkeep_core::{Core, audit};

use super::databases::TestDb;

pub struct TestServer {
    pub base: String,
    pub clock: Arc<ManualClock>,
    /// A client that neither follows redirects nor keeps cookies, so tests see exactly what was sent.
    pub client: reqwest::Client,
    pub setup_url: Option<String>,
    running: Option<Running>,
    /// Keeps the database (and its folder) alive while the server runs.
    _db: Option<TestDb>,
}

impl TestServer {
    /// Start upkeep on the test database with every role on.
    pub async fn start(db: TestDb) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Start with a configuration adjusted by `adjust`.
    pub async fn start_with(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::now()));
        Self::start_on(db, clock, adjust).await
    }

    async fn start_on(
        db: TestDb,
        clock: Arc<ManualClock>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            database_url: db.url.clone(),
            ..Config::default()
        };
        config.log.level = "warn".into();
        config.shutdown_timeout = Duration::from_secs(5);
        adjust(&mut config);
        let running = server::start(config, clock.clone())
            .await
            .expect("start upkeep");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            base: running.base_url(),
            clock,
            client,
            setup_url: running.setup_url.clone(),
            running: Some(running),
            _db: Some(db),
        }
    }

    /// Stop the server and start a new one on the same database and clock, as a restart would.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// [`Self::restart`] with the configuration adjusted as at the first start.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("stop upkeep");
        }
        let clock = self.clock.clone();
        let db = self._db.take().expect("the database of a running server");
        Self::start_on(db, clock, adjust).await
    }

    pub fn core(&self) -> &Core {
        &self.running.as_ref().expect("server is running").core
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A person with `role` and a known password.
    pub async fn user(&self, email: &str, role: Role) -> (User, String) {
        let password = format!("pw-{email}-long-enough");
        let ctx = audit::context(self.core(), audit::cli_actor(), None);
        let user = identity::create_user(
            self.core(),
            &ctx,
            None,
            NewUserInput {
                email: email.into(),
                name: None,
                role,
                password: password.clone(),
            },
        )
        .await
        .expect("create user");
        (user, password)
    }

    /// An API token for `user` with `scope`.
    pub async fn token(&self, user: &User, scope: Scope) -> String {
        let ctx = audit::context(self.core(), audit::cli_actor(), None);
        identity::create_token(self.core(), &ctx, None, user, "test", scope, None)
            .await
            .expect("create token")
            .secret
    }

    /// A person with `role` and a token whose scope matches the role's reach.
    pub async fn caller(&self, email: &str, role: Role) -> (User, String) {
        let (user, _) = self.user(email, role).await;
        let scope = match role {
            Role::Viewer => Scope::Read,
            Role::Responder => Scope::Write,
            Role::Admin | Role::Owner => Scope::Admin,
        };
        let token = self.token(&user, scope).await;
        (user, token)
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("stop upkeep");
        }
    }
}

/// The value of cookie `name` set by `response`, if any.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let pair = value.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name).then(|| value.trim().to_string())
        })
}

/// The whole `Set-Cookie` header line for cookie `name`, to check its attributes.
pub fn set_cookie_line(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_string)
}
