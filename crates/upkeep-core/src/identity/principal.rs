//! Who is calling and what they may do: a role caps a person, a token scope caps a token, and a request
//! made with a token gets the lower of the two.

use upkeep_storage::{Actor, ActorKind, AuditContext, Role, Scope, User};

use crate::{CoreError, CoreResult};

/// The three levels of permission every endpoint asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// Read operational data (services, incidents, monitors).
    Read,
    /// Change operational data.
    Write,
    /// Manage people, tokens of others, settings; read the audit log.
    Admin,
}

impl Capability {
    pub fn of_role(role: Role) -> Self {
        match role {
            Role::Viewer => Self::Read,
            Role::Responder => Self::Write,
            Role::Admin | Role::Owner => Self::Admin,
        }
    }

    pub fn of_scope(scope: Scope) -> Self {
        match scope {
            Scope::Read => Self::Read,
            Scope::Write => Self::Write,
            Scope::Admin => Self::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session {
        session_id: i64,
        csrf_token: String,
    },
    Token {
        token_id: i64,
        scope: Scope,
        prefix: String,
    },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: Via,
}

impl Principal {
    /// What this caller may do: the role's capability, capped by the token's scope.
    pub fn capability(&self) -> Capability {
        let role = Capability::of_role(self.user.role);
        match &self.via {
            Via::Session { .. } => role,
            Via::Token { scope, .. } => role.min(Capability::of_scope(*scope)),
        }
    }

    /// Refuse unless the caller has `needed`.
    pub fn require(&self, needed: Capability) -> CoreResult<()> {
        if self.capability() >= needed {
            return Ok(());
        }
        let why = match &self.via {
            Via::Token { scope, .. } if Capability::of_scope(*scope) < needed => {
                format!(
                    "this token's scope is {}; this action needs {}",
                    scope.as_str(),
                    needed.as_str()
                )
            }
            _ => format!(
                "your role is {}; this action needs {} permission",
                self.user.role.as_str(),
                needed.as_str()
            ),
        };
        Err(CoreError::Forbidden(why))
    }

    pub fn actor(&self) -> Actor {
        match &self.via {
            Via::Session { .. } => Actor {
                kind: ActorKind::User,
                user_id: Some(self.user.id),
                label: self.user.email.clone(),
            },
            Via::Token { prefix, .. } => Actor {
                kind: ActorKind::Token,
                user_id: Some(self.user.id),
                label: format!("{} (token {prefix})", self.user.email),
            },
        }
    }

    pub fn audit(&self, core: &crate::Core, origin: Option<String>) -> AuditContext {
        crate::audit::context(core, self.actor(), origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn principal(role: Role, via: Via) -> Principal {
        Principal {
            user: User {
                id: 1,
                email: "a@b.co".into(),
                name: "A".into(),
                role,
                disabled: false,
                created_at: Timestamp::UNIX_EPOCH,
                updated_at: Timestamp::UNIX_EPOCH,
            },
            via,
        }
    }

    fn token(scope: Scope) -> Via {
        Via::Token {
            token_id: 1,
            scope,
            prefix: "upk_x".into(),
        }
    }

    #[test]
    fn token_scope_caps_the_role() {
        assert_eq!(
            principal(Role::Owner, token(Scope::Read)).capability(),
            Capability::Read
        );
        assert_eq!(
            principal(Role::Viewer, token(Scope::Admin)).capability(),
            Capability::Read
        );
        assert_eq!(
            principal(Role::Responder, token(Scope::Admin)).capability(),
            Capability::Write
        );
        let session = Via::Session {
            session_id: 1,
            csrf_token: "c".into(),
        };
        assert_eq!(
            principal(Role::Admin, session).capability(),
            Capability::Admin
        );
    }

    #[test]
    fn refusals_say_why() {
        let err = principal(Role::Owner, token(Scope::Read)).require(Capability::Write);
        assert!(matches!(err, Err(CoreError::Forbidden(ref m)) if m.contains("scope is read")));
        let session = Via::Session {
            session_id: 1,
            csrf_token: "c".into(),
        };
        let err = principal(Role::Viewer, session).require(Capability::Admin);
        assert!(matches!(err, Err(CoreError::Forbidden(ref m)) if m.contains("role is viewer")));
    }
}
