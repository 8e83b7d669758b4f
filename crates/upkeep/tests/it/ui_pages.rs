//! The server-rendered pages, driven like a browser without JavaScript: GET a page, read its hidden
//! `csrf_token`, POST the form with the cookies a browser would send, follow nothing automatically.

use reqwest::StatusCode;
use upkeep_core::catalog::{self, TeamInput};
use upkeep_core::storage::Role;
use upkeep_core::{audit, identity};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::pages::{Browser, CSRF, SESSION, hidden_value};
use crate::support::server::TestServer;

backend_tests!(
    setup_creates_the_owner_and_the_link_then_dies,
    login_and_logout,
    forms_without_the_right_csrf_token_are_refused,
    roles_decide_what_pages_show_and_allow,
    services_story_with_teams_links_audit_and_escaping,
    lists_are_paginated,
    tokens_page_shows_the_secret_once_and_revokes,
    repeated_wrong_passwords_are_throttled,
);

async fn setup_creates_the_owner_and_the_link_then_dies(db: TestDb) {
    let server = TestServer::start(db).await;
    let setup_url = server
        .setup_url
        .clone()
        .expect("a fresh database prints a setup link");
    let mut browser = Browser::new(&server);

    let form = browser.get(&setup_url).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("name=\"token\""));
    assert!(
        browser.cookies.contains_key(CSRF),
        "the form sets the double-submit cookie"
    );

    let token = hidden_value(&form.body, "token").expect("token field");
    let fields = [
        ("token", token.as_str()),
        ("email", "Owner@Example.com"),
        ("name", "Olive Owner"),
        ("password", "correct horse battery"),
        ("csrf_token", &form.csrf_token()),
    ];
    let mut short = fields;
    short[3] = ("password", "short");
    let short = browser.post("/setup", &short).await;
    assert_eq!(
        short.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        short.body
    );
    assert!(
        short.body.contains("at least 10 characters")
            && short.body.contains("value=\"Owner@Example.com\"")
    );

    let created = browser.post("/setup", &fields).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location.as_deref(), Some("/services"));
    let line = created.session_line.expect("a session cookie");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/"),
        "{line}"
    );
    assert!(
        line.contains("Max-Age=") && !line.contains("Secure"),
        "{line}"
    );

    let services = browser.get("/services").await;
    assert_eq!(services.status, StatusCode::OK);
    assert!(
        services.body.contains("owner@example.com"),
        "{}",
        services.body
    );
    assert!(
        services.body.contains("href=\"/audit\""),
        "owners see the admin nav"
    );

    let owner = identity::user_by_email(server.core(), "owner@example.com")
        .await
        .expect("owner exists");
    assert_eq!(owner.role, Role::Owner);
    assert_eq!(owner.name, "Olive Owner");

    let again = Browser::new(&server).get(&setup_url).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(
        again.body.contains("this setup link is no longer valid"),
        "{}",
        again.body
    );
    let replay = browser.post("/setup", &fields).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN);
    let wrong = Browser::new(&server)
        .get("/setup?token=not-the-token")
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    server.stop().await;
}

async fn login_and_logout(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    let mut browser = Browser::new(&server);

    let root = browser.get("/").await;
    assert_eq!(root.location.as_deref(), Some("/login"));

    let wrong = browser
        .sign_in("rita@example.com", "not her password")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.session_line.is_none());
    assert!(
        wrong.body.contains("the email or password is wrong"),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("value=\"rita@example.com\""),
        "the email is kept in the form"
    );

    let right = browser.sign_in("rita@example.com", &password).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(right.location.as_deref(), Some("/services"));
    let old_secret = browser
        .cookies
        .get(SESSION)
        .cloned()
        .expect("session cookie");

    let root = browser.get("/").await;
    assert_eq!(root.location.as_deref(), Some("/services"));
    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("rita@example.com"));
    assert!(account.body.contains("responder"));

    let out = browser
        .post("/logout", &[("csrf_token", &account.csrf_token())])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location.as_deref(), Some("/login"));
    let cleared = out.session_line.expect("the cookie is cleared");
    assert!(
        cleared.starts_with("upkeep_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    let after = browser.get("/account").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location.as_deref(), Some("/login?next=%2Faccount"));
    let mut stale = Browser::new(&server);
    stale.cookies.insert(SESSION.into(), old_secret);
    assert_eq!(
        stale.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "the old session is gone"
    );

    let next = browser
        .submit(
            "/login?next=%2Fteams",
            "/login",
            &[
                ("email", "rita@example.com"),
                ("password", &password),
                ("next", "/teams"),
            ],
        )
        .await;
    assert_eq!(next.location.as_deref(), Some("/teams"));
    let elsewhere = Browser::new(&server)
        .submit(
            "/login",
            "/login",
            &[
                ("email", "rita@example.com"),
                ("password", &password),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(
        elsewhere.location.as_deref(),
        Some("/services"),
        "no redirects to other sites"
    );
    server.stop().await;
}

async fn forms_without_the_right_csrf_token_are_refused(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;

    let mut stranger = Browser::new(&server);
    let fields = [
        ("email", "rita@example.com"),
        ("password", password.as_str()),
        ("csrf_token", "x"),
    ];
    let no_cookie = stranger.post("/login", &fields).await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
    assert!(
        no_cookie
            .body
            .contains("the form expired or came from another site"),
        "{}",
        no_cookie.body
    );
    assert!(no_cookie.session_line.is_none());
    stranger.get("/login").await;
    let mismatch = stranger.post("/login", &fields).await;
    assert_eq!(
        mismatch.status,
        StatusCode::FORBIDDEN,
        "cookie present but the field differs"
    );

    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;
    let team = [
        ("slug", "payments"),
        ("name", "Payments"),
        ("description", ""),
    ];
    let forged = browser
        .post("/teams", &[&team[..], &[("csrf_token", "forged")]].concat())
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        forged.body.contains("rita@example.com"),
        "error pages keep the signed-in nav"
    );
    assert!(
        catalog::team(server.core(), "payments").await.is_err(),
        "nothing was created"
    );

    let real = browser.submit("/teams", "/teams", &team).await;
    assert_eq!(real.status, StatusCode::SEE_OTHER, "{}", real.body);
    assert_eq!(real.location.as_deref(), Some("/teams/payments"));
    assert_eq!(
        catalog::team(server.core(), "payments")
            .await
            .expect("team")
            .name,
        "Payments"
    );

    let logout = browser.post("/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(
        browser.get("/account").await.status,
        StatusCode::OK,
        "still signed in"
    );
    server.stop().await;
}

async fn roles_decide_what_pages_show_and_allow(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, viewer_password) = server.user("vera@example.com", Role::Viewer).await;
    let (_, admin_password) = server.user("adam@example.com", Role::Admin).await;

    let mut viewer = Browser::signed_in(&server, "vera@example.com", &viewer_password).await;
    let users = viewer.get("/users").await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    assert!(users.body.contains("your role is viewer"), "{}", users.body);
    assert_eq!(viewer.get("/audit").await.status, StatusCode::FORBIDDEN);
    let services = viewer.get("/services").await;
    assert!(!services.body.contains("href=\"/users\"") && !services.body.contains("/services/new"));
    assert_eq!(
        viewer.get("/services/new").await.status,
        StatusCode::FORBIDDEN
    );
    let created = viewer
        .submit(
            "/services",
            "/services",
            &[("slug", "api"), ("name", "API")],
        )
        .await;
    assert_eq!(created.status, StatusCode::FORBIDDEN);
    assert!(catalog::service(server.core(), "api").await.is_err());
    let teams = viewer.get("/teams").await;
    assert!(
        !teams.body.contains("action=\"/teams\""),
        "viewers get no create form"
    );

    let mut admin = Browser::signed_in(&server, "adam@example.com", &admin_password).await;
    let users = admin.get("/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.body.contains("vera@example.com") && users.body.contains("adam@example.com"));

    let added = admin
        .submit(
            "/users",
            "/users",
            &[
                ("email", "new@example.com"),
                ("name", ""),
                ("role", "viewer"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(added.body.contains("new@example.com"));
    let person = identity::user_by_email(server.core(), "new@example.com")
        .await
        .expect("created");
    assert_eq!(person.role, Role::Viewer);
    let owner = admin
        .submit(
            "/users",
            "/users",
            &[
                ("email", "o2@example.com"),
                ("role", "owner"),
                ("password", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(
        owner.status,
        StatusCode::FORBIDDEN,
        "only owners make owners"
    );

    let id = person.id.to_string();
    let changed = admin
        .submit(
            "/users",
            &format!("/users/{id}"),
            &[("role", "responder"), ("disabled", "on")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    let person = identity::user_by_email(server.core(), "new@example.com")
        .await
        .expect("still there");
    assert!(person.disabled && person.role == Role::Responder);
    let removed = admin
        .submit("/users", &format!("/users/{id}/delete"), &[])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(
        identity::user_by_email(server.core(), "new@example.com")
            .await
            .is_err()
    );
    server.stop().await;
}

async fn services_story_with_teams_links_audit_and_escaping(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, password) = server.user("olive@example.com", Role::Owner).await;
    let mut browser = Browser::signed_in(&server, "olive@example.com", &password).await;

    browser
        .submit(
            "/teams",
            "/teams",
            &[("slug", "payments"), ("name", "Payments")],
        )
        .await;
    let db = browser
        .submit(
            "/services/new",
            "/services",
            &[("slug", "db"), ("name", "Database"), ("team", "none")],
        )
        .await;
    assert_eq!(db.location.as_deref(), Some("/services/db"), "{}", db.body);
    let new_form = browser.get("/services/new").await;
    assert!(
        new_form.body.contains("<option value=\"payments\""),
        "teams are offered"
    );
    let fields = [
        ("slug", "api"),
        ("name", "Public API"),
        ("description", "Serves the apps."),
        ("team", "payments"),
        ("depends_on", "db"),
        (
            "links",
            "Runbook=https://wiki.example.com/api?x=1\nhttps://grafana.example.com/d/api",
        ),
    ];
    let api = browser.submit("/services/new", "/services", &fields).await;
    assert_eq!(api.status, StatusCode::SEE_OTHER, "{}", api.body);
    assert_eq!(api.location.as_deref(), Some("/services/api"));

    let page = browser.get("/services/api").await;
    assert_eq!(page.status, StatusCode::OK);
    for expected in [
        "Public API",
        "Serves the apps.",
        "href=\"/teams/payments\"",
        "href=\"/services/db\"",
        "Runbook",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} missing:\n{}",
            page.body
        );
    }
    assert!(
        page.body
            .contains("href=\"https://wiki.example.com/api?x=1\"")
    );
    let list = browser.get("/services").await;
    assert!(list.body.contains("href=\"/services/api\"") && list.body.contains("Database"));
    let team = browser.get("/teams/payments").await;
    assert!(team.body.contains("href=\"/services/api\"") && !team.body.contains("<code>db</code>"));

    let refused = browser
        .submit(
            "/services/new",
            "/services",
            &[("slug", "Bad Slug"), ("name", "Kept name")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("is not a valid slug")
            && refused.body.contains("value=\"Kept name\""),
        "{}",
        refused.body
    );
    let cycle = browser
        .submit(
            "/services/db",
            "/services/db",
            &[("name", "Database"), ("depends_on", "api")],
        )
        .await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(cycle.body.contains("cycle"), "{}", cycle.body);
    let edited = browser
        .submit(
            "/services/db",
            "/services/db",
            &[("name", "Main database"), ("team", "payments")],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER);
    let db = catalog::service(server.core(), "db").await.expect("db");
    assert_eq!(
        (db.name.as_str(), db.team_slug.as_deref()),
        ("Main database", Some("payments"))
    );

    let xss = browser
        .submit(
            "/services/new",
            "/services",
            &[("slug", "xss"), ("name", "<script>x</script>")],
        )
        .await;
    assert_eq!(xss.status, StatusCode::SEE_OTHER);
    for path in ["/services/xss", "/services"] {
        let page = browser.get(path).await;
        // askama writes `<` as `&#60;`; `&lt;` would be just as safe.
        let escaped = [
            "&lt;script&gt;x&lt;/script&gt;",
            "&#60;script&#62;x&#60;/script&#62;",
        ];
        assert!(
            escaped.iter().any(|text| page.body.contains(text)),
            "{path}: {}",
            page.body
        );
        assert!(
            !page.body.contains("<script>x</script>"),
            "{path} must escape"
        );
    }

    let in_use = browser
        .submit("/services/db", "/services/db/delete", &[])
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "api depends on db");
    let gone = browser
        .submit("/services/xss", "/services/xss/delete", &[])
        .await;
    assert_eq!(
        gone.location.as_deref(),
        Some("/services?notice=service-deleted")
    );
    assert_eq!(
        browser.get("/services/xss").await.status,
        StatusCode::NOT_FOUND
    );

    let log = browser.get("/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(
        log.body.contains("service.create") && log.body.contains("olive@example.com"),
        "{}",
        log.body
    );
    assert!(log.body.contains("<details>"));
    let teams_only = browser.get("/audit?action=team.").await;
    assert!(teams_only.body.contains("team.create") && !teams_only.body.contains("service.create"));
    server.stop().await;
}

async fn lists_are_paginated(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, password) = server.user("olive@example.com", Role::Owner).await;
    let ctx = audit::context(server.core(), audit::cli_actor(), None);
    for n in 0..55 {
        let input = TeamInput {
            slug: format!("team-{n:02}"),
            name: None,
            description: None,
        };
        catalog::create_team(server.core(), &ctx, input)
            .await
            .expect("team");
    }
    let mut browser = Browser::signed_in(&server, "olive@example.com", &password).await;
    let first = browser.get("/teams").await;
    assert!(first.body.contains("team-00") && !first.body.contains("team-54"));
    let start = first.body.find("/teams?cursor=").expect("a next-page link");
    let end = start + first.body[start..].find('"').expect("end of link");
    let second = browser.get(&first.body[start..end]).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("team-54") && !second.body.contains(">team-00<"));
    assert!(
        !second.body.contains("/teams?cursor="),
        "the last page has no next link"
    );
    assert_eq!(
        browser.get("/teams?cursor=nonsense").await.status,
        StatusCode::BAD_REQUEST
    );
    server.stop().await;
}

async fn tokens_page_shows_the_secret_once_and_revokes(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    let mut browser = Browser::signed_in(&server, "rita@example.com", &password).await;

    let too_wide = browser
        .submit(
            "/tokens",
            "/tokens",
            &[("name", "x"), ("scope", "admin"), ("expires_in", "")],
        )
        .await;
    assert_eq!(too_wide.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_wide.body.contains("cannot"), "{}", too_wide.body);
    let bad_expiry = browser
        .submit(
            "/tokens",
            "/tokens",
            &[("name", "x"), ("scope", "read"), ("expires_in", "soon")],
        )
        .await;
    assert_eq!(bad_expiry.status, StatusCode::UNPROCESSABLE_ENTITY);

    let created = browser
        .submit(
            "/tokens",
            "/tokens",
            &[("name", "ci"), ("scope", "write"), ("expires_in", "90d")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let start = created.body.find("upk_").expect("the secret is shown");
    let rest: String = created.body[start + 4..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let secret = format!("upk_{rest}");
    assert_eq!(secret.len(), 44, "{secret}");
    assert!(created.body.contains("Copy it now"));

    let me = server
        .client
        .get(server.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK, "the token works");

    let list = browser.get("/tokens").await;
    assert!(list.body.contains(&secret[..12]), "the prefix is listed");
    assert!(
        !list.body.contains(&secret),
        "the secret is never shown again"
    );
    assert!(list.body.contains("active"));
    let action = list.body.find("/revoke\"").expect("a revoke form");
    let id_start = list.body[..action].rfind("/tokens/").expect("token path") + "/tokens/".len();
    let revoke_path = format!("/tokens/{}/revoke", &list.body[id_start..action]);

    let revoked = browser.submit("/tokens", &revoke_path, &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let list = browser
        .get(revoked.location.as_deref().expect("back to the list"))
        .await;
    assert!(list.body.contains("revoked"), "{}", list.body);
    assert!(
        !list.body.contains("/revoke\""),
        "a revoked token has no revoke button"
    );
    let me = server
        .client
        .get(server.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        browser.get("/tokens?all=1").await.status,
        StatusCode::FORBIDDEN,
        "everyone's tokens are for admins"
    );
    server.stop().await;
}

async fn repeated_wrong_passwords_are_throttled(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, password) = server.user("rita@example.com", Role::Responder).await;
    let limit = server.core().config.auth.login_max_failures_per_account;
    let mut browser = Browser::new(&server);
    for attempt in 0..limit {
        let wrong = browser
            .sign_in("rita@example.com", &format!("wrong password {attempt}"))
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let blocked = browser.sign_in("rita@example.com", &password).await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.body
    );
    let seconds: u64 = blocked
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(seconds > 0);
    assert!(blocked.session_line.is_none());
    assert!(
        blocked.body.contains("too many failed logins"),
        "{}",
        blocked.body
    );
    server.stop().await;
}
