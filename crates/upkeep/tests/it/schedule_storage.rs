//! Storage conformance for on-call schedules and feed tokens: the same story on every backend, against the
//! storage traits only, with times passed in.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::json;
use upkeep_storage::{
    Actor, ActorKind, AuditContext, AuditFilter, AuditRecord, NewSchedule, NewTeam, NewUser,
    PageRequest, Role, ScheduleChanges, Storage, StorageError, User,
};

use crate::support::databases::{TestDb, backend_tests};

backend_tests!(schedules_story, feed_tokens_story);

type Store = Arc<dyn Storage>;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("a valid test time")
}

fn cli(seconds: i64) -> AuditContext {
    AuditContext {
        actor: Actor {
            kind: ActorKind::Cli,
            user_id: None,
            label: "cli (root)".into(),
        },
        origin: Some("root".into()),
        at: at(seconds),
    }
}

async fn user(storage: &Store, email: &str) -> User {
    storage
        .create_user(
            &cli(0),
            NewUser {
                email: email.into(),
                name: format!("Name of {email}"),
                role: Role::Responder,
                password_hash: "hash".into(),
            },
        )
        .await
        .expect("create user")
}

fn spec(users: &[i64]) -> serde_json::Value {
    json!({
        "time_zone": "Europe/Berlin",
        "layers": [{"name": "Primary", "rotation": {"kind": "daily", "participants": users,
            "start_date": "2026-01-05", "handoff_time": "09:00"}}],
        "overrides": []
    })
}

fn new_schedule(slug: &str, team_id: Option<i64>, token: &str) -> NewSchedule {
    NewSchedule {
        slug: slug.into(),
        name: format!("Schedule {slug}"),
        team_id,
        spec: spec(&[1, 2]),
        feed_token: token.into(),
    }
}

async fn audit_of(storage: &Store, id: i64) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        target_kind: Some("schedule".into()),
        target_id: Some(id.to_string()),
        ..AuditFilter::default()
    };
    storage
        .list_audit(&filter, PageRequest::new(500, None))
        .await
        .expect("list audit")
        .items
}

async fn schedules_story(db: TestDb) {
    let storage = db.storage.clone();
    let team = storage
        .create_team(
            &cli(0),
            NewTeam {
                slug: "platform".into(),
                name: "Platform".into(),
                description: String::new(),
            },
        )
        .await
        .expect("team");

    let created = storage
        .create_schedule(&cli(10), new_schedule("primary", Some(team.id), "tokenA1"))
        .await
        .expect("create");
    assert_eq!(created.slug, "primary");
    assert_eq!(created.team_slug.as_deref(), Some("platform"));
    assert_eq!(created.spec, spec(&[1, 2]));
    assert_eq!((created.created_at, created.updated_at), (at(10), at(10)));
    assert_eq!(created.feed_token, "tokenA1");

    // Found by slug, id and feed token; not by anything else.
    let by_slug = storage.schedule_by_slug("primary").await.expect("by slug");
    assert_eq!(by_slug.as_ref(), Some(&created));
    let by_id = storage.schedule_by_id(created.id).await.expect("by id");
    assert_eq!(by_id.as_ref(), Some(&created));
    let by_token = storage
        .schedule_by_feed_token("tokenA1")
        .await
        .expect("token");
    assert_eq!(by_token.map(|s| s.id), Some(created.id));
    assert!(storage.schedule_by_slug("nope").await.expect("x").is_none());
    assert!(
        storage
            .schedule_by_feed_token("nope")
            .await
            .expect("x")
            .is_none()
    );

    // The audit record of the creation never holds the feed token.
    let records = audit_of(&storage, created.id).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].action, "schedule.create");
    let after = records[0].after.clone().expect("after snapshot");
    assert_eq!(after["slug"], "primary");
    assert!(!after.to_string().contains("tokenA1"), "{after}");

    // A taken slug is a conflict on `slug`; an unknown team is a conflict too.
    let err = storage
        .create_schedule(&cli(11), new_schedule("primary", None, "tokenB1"))
        .await
        .expect_err("taken slug");
    assert!(
        matches!(
            err,
            StorageError::Conflict {
                field: Some("slug"),
                ..
            }
        ),
        "{err:?}"
    );
    let err = storage
        .create_schedule(&cli(11), new_schedule("other", Some(999_999), "tokenB2"))
        .await
        .expect_err("unknown team");
    assert!(matches!(err, StorageError::Conflict { .. }), "{err:?}");

    // Keyset pages, oldest first.
    for slug in ["b", "c"] {
        storage
            .create_schedule(&cli(12), new_schedule(slug, None, &format!("token{slug}")))
            .await
            .expect("create more");
    }
    let first = storage
        .list_schedules(PageRequest::new(2, None))
        .await
        .expect("page 1");
    let slugs: Vec<&str> = first.items.iter().map(|s| s.slug.as_str()).collect();
    assert_eq!(slugs, ["primary", "b"]);
    let next = first.next_cursor.as_deref().map(|c| c.parse().expect("id"));
    let second = storage
        .list_schedules(PageRequest::new(2, next))
        .await
        .expect("page 2");
    let slugs: Vec<&str> = second.items.iter().map(|s| s.slug.as_str()).collect();
    assert_eq!((slugs, second.next_cursor), (vec!["c"], None));

    // Update: only what is given changes; the team can be removed.
    let updated = storage
        .update_schedule(
            &cli(20),
            created.id,
            ScheduleChanges {
                name: Some("Primary".into()),
                team_id: Some(None),
                spec: Some(spec(&[2, 1])),
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.name, "Primary");
    assert_eq!((updated.team_id, updated.team_slug.clone()), (None, None));
    assert_eq!(updated.spec, spec(&[2, 1]));
    assert_eq!((updated.created_at, updated.updated_at), (at(10), at(20)));
    let unchanged = storage
        .update_schedule(&cli(21), created.id, ScheduleChanges::default())
        .await
        .expect("empty update");
    assert_eq!(
        (unchanged.name.as_str(), &unchanged.spec),
        ("Primary", &updated.spec)
    );
    let records = audit_of(&storage, created.id).await;
    assert_eq!(records[1].action, "schedule.update");
    assert_eq!(
        records[1].before.as_ref().map(|b| b["name"].clone()),
        Some(json!("Schedule primary"))
    );
    assert!(matches!(
        storage
            .update_schedule(&cli(21), 999_999, ScheduleChanges::default())
            .await,
        Err(StorageError::NotFound { .. })
    ));

    // Rotating the feed token: the old one stops working, the audit record holds neither.
    let rotated = storage
        .rotate_schedule_feed_token(&cli(30), created.id, "tokenA2")
        .await
        .expect("rotate");
    assert_eq!(rotated.feed_token, "tokenA2");
    assert!(
        storage
            .schedule_by_feed_token("tokenA1")
            .await
            .expect("x")
            .is_none()
    );
    let records = audit_of(&storage, created.id).await;
    assert_eq!(records[0].action, "schedule.rotate_feed_token");
    let text = format!("{:?}{:?}", records[0].before, records[0].after);
    assert!(
        !text.contains("tokenA1") && !text.contains("tokenA2"),
        "{text}"
    );

    // Delete, audited; deleting again is not found.
    storage
        .delete_schedule(&cli(40), created.id)
        .await
        .expect("delete");
    assert!(
        storage
            .schedule_by_slug("primary")
            .await
            .expect("x")
            .is_none()
    );
    assert_eq!(
        audit_of(&storage, created.id).await[0].action,
        "schedule.delete"
    );
    assert!(matches!(
        storage.delete_schedule(&cli(41), created.id).await,
        Err(StorageError::NotFound { .. })
    ));
}

async fn feed_tokens_story(db: TestDb) {
    let storage = db.storage.clone();
    let ana = user(&storage, "ana@example.com").await;
    let bo = user(&storage, "bo@example.com").await;

    // The first call stores the fresh token; later calls return the stored one.
    let first = storage
        .user_feed_token(ana.id, "anaToken1", at(1))
        .await
        .expect("first");
    assert_eq!(first, "anaToken1");
    let again = storage
        .user_feed_token(ana.id, "anaToken2", at(2))
        .await
        .expect("again");
    assert_eq!(again, "anaToken1");
    let bos = storage
        .user_feed_token(bo.id, "boToken1", at(3))
        .await
        .expect("bo");
    assert_eq!(bos, "boToken1");

    assert_eq!(
        storage.user_by_feed_token("anaToken1").await.expect("x"),
        Some(ana.id)
    );
    assert_eq!(
        storage.user_by_feed_token("anaToken2").await.expect("x"),
        None
    );

    // A user that does not exist has no token; deleting a user removes theirs.
    let err = storage
        .user_feed_token(999_999, "ghost", at(4))
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StorageError::Conflict { .. }), "{err:?}");
    storage
        .delete_user(&cli(5), bo.id)
        .await
        .expect("delete bo");
    assert_eq!(
        storage.user_by_feed_token("boToken1").await.expect("x"),
        None
    );
}
