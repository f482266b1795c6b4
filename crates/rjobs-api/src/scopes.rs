//! The one table of action → accepted scopes, after the original API's route table
//! (`lib/schemas/apiInfo.json` in `Losant/losant-rest-js`, v1.30.0): any one listed scope
//! suffices. The original's lists follow a fixed pattern, so the table stores each action's
//! pattern and [`accepted`] expands it:
//!
//! - application-level actions accept `all.Application`, `all.Organization`, `all.User`, their
//!   `.bounded` variants, and for read actions their `.read` variants; plus `<resource>.*` and
//!   `<resource>.<action>` (e.g. `resourceJob.*`, `resourceJob.execute`);
//! - collection actions across applications (`applications.get`/`post`) accept only the
//!   organization and user scopes;
//! - token management does not accept `.bounded` scopes: a bounded token must not mint
//!   unbounded ones (rjobs' decision; the original documents no bounded variant there).
//!
//! Admin tokens hold `all.User` and so reach every action.
//!
//! Application API tokens may hold every application-level scope of the original's
//! `apiTokenPost` enum (`original_app_scopes.txt`), so provisioning scripts written for the
//! original work unchanged; a scope for a part of the API rjobs does not implement (`data.*`,
//! `all.Device`, ...) is stored and grants nothing, because [`accepted`] never lists
//! it. Minting is bounded by the minter ([`covers`]): a token creates or manages only tokens
//! whose every scope it holds itself, so `applicationApiTokens.post` alone cannot mint
//! `all.Application`.

/// How an action's scope list is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Inside one application.
    Application,
    /// Across applications (owner level).
    Owner,
}

/// One API action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// `resource.action`, e.g. `resourceJob.execute`.
    pub name: &'static str,
    /// Read actions also accept the `.read` scopes.
    pub read: bool,
    /// Whether `.bounded` scopes are accepted.
    pub bounded: bool,
    /// Scope level.
    pub level: Level,
}

macro_rules! actions {
    ($($ident:ident = $name:literal, $kind:ident, $level:ident, $bounded:literal;)*) => {
        /// Every action the server serves.
        pub mod action {
            use super::{Action, Level};
            $(
                #[allow(missing_docs)]
                pub const $ident: Action = Action {
                    name: $name,
                    read: actions!(@read $kind),
                    bounded: $bounded,
                    level: Level::$level,
                };
            )*
            /// All actions, for validation and documentation.
            pub const ALL: &[Action] = &[$($ident),*];
        }
    };
    (@read read) => { true };
    (@read write) => { false };
}

actions! {
    APPLICATIONS_GET = "applications.get", read, Owner, true;
    APPLICATIONS_POST = "applications.post", write, Owner, true;
    CLUSTER_GET = "cluster.get", read, Owner, true;
    APPLICATION_GET = "application.get", read, Application, true;
    APPLICATION_PATCH = "application.patch", write, Application, true;
    APPLICATION_DELETE = "application.delete", write, Application, true;
    TOKENS_GET = "applicationApiTokens.get", read, Application, false;
    TOKENS_POST = "applicationApiTokens.post", write, Application, false;
    TOKEN_GET = "applicationApiToken.get", read, Application, false;
    TOKEN_PATCH = "applicationApiToken.patch", write, Application, false;
    TOKEN_DELETE = "applicationApiToken.delete", write, Application, false;
    DEVICES_GET = "devices.get", read, Application, true;
    DEVICES_POST = "devices.post", write, Application, true;
    DEVICE_GET = "device.get", read, Application, true;
    DEVICE_PATCH = "device.patch", write, Application, true;
    DEVICE_DELETE = "device.delete", write, Application, true;
    DEVICE_SET_CONNECTION_STATUS = "device.setConnectionStatus", write, Application, true;
    DATA_TABLES_GET = "dataTables.get", read, Application, true;
    DATA_TABLES_POST = "dataTables.post", write, Application, true;
    DATA_TABLE_GET = "dataTable.get", read, Application, true;
    DATA_TABLE_PATCH = "dataTable.patch", write, Application, true;
    DATA_TABLE_DELETE = "dataTable.delete", write, Application, true;
    ROWS_GET = "dataTableRows.get", read, Application, true;
    ROWS_POST = "dataTableRows.post", write, Application, true;
    ROWS_QUERY = "dataTableRows.query", read, Application, true;
    ROW_GET = "dataTableRow.get", read, Application, true;
    ROW_PATCH = "dataTableRow.patch", write, Application, true;
    ROW_DELETE = "dataTableRow.delete", write, Application, true;
    GROUPS_GET = "experienceGroups.get", read, Application, true;
    GROUPS_POST = "experienceGroups.post", write, Application, true;
    GROUP_GET = "experienceGroup.get", read, Application, true;
    GROUP_PATCH = "experienceGroup.patch", write, Application, true;
    GROUP_DELETE = "experienceGroup.delete", write, Application, true;
    USERS_GET = "experienceUsers.get", read, Application, true;
    USERS_POST = "experienceUsers.post", write, Application, true;
    USER_GET = "experienceUser.get", read, Application, true;
    USER_PATCH = "experienceUser.patch", write, Application, true;
    USER_DELETE = "experienceUser.delete", write, Application, true;
    JOBS_GET = "resourceJobs.get", read, Application, true;
    JOBS_POST = "resourceJobs.post", write, Application, true;
    JOB_GET = "resourceJob.get", read, Application, true;
    JOB_PATCH = "resourceJob.patch", write, Application, true;
    JOB_DELETE = "resourceJob.delete", write, Application, true;
    JOB_EXECUTE = "resourceJob.execute", write, Application, true;
    JOB_CANCEL = "resourceJob.cancelExecution", write, Application, true;
    JOB_PAUSE = "resourceJob.pauseExecution", write, Application, true;
    JOB_RESUME = "resourceJob.resumeExecution", write, Application, true;
    JOB_LOGS = "resourceJob.logs", read, Application, true;
    JOB_ACKNOWLEDGE = "resourceJob.acknowledge", write, Application, true;
    FLOWS_GET = "flows.get", read, Application, true;
    FLOWS_POST = "flows.post", write, Application, true;
    FLOW_GET = "flow.get", read, Application, true;
    FLOW_PATCH = "flow.patch", write, Application, true;
    FLOW_DELETE = "flow.delete", write, Application, true;
    FLOW_LOGS = "flow.getLogEntries", read, Application, true;
    WEBHOOKS_GET = "webhooks.get", read, Application, true;
    WEBHOOKS_POST = "webhooks.post", write, Application, true;
    WEBHOOK_GET = "webhook.get", read, Application, true;
    WEBHOOK_PATCH = "webhook.patch", write, Application, true;
    WEBHOOK_DELETE = "webhook.delete", write, Application, true;
}

/// The scopes that grant `a`, in the original's order.
pub fn accepted(a: &Action) -> Vec<String> {
    let bases: &[&str] = match a.level {
        Level::Application => &["all.Application", "all.Organization", "all.User"],
        Level::Owner => &["all.Organization", "all.User"],
    };
    let mut out = Vec::new();
    for b in bases {
        out.push((*b).to_string());
        if a.bounded {
            out.push(format!("{b}.bounded"));
        }
        if a.read {
            out.push(format!("{b}.read"));
        }
    }
    let resource = a.name.split('.').next().unwrap_or(a.name);
    out.push(format!("{resource}.*"));
    out.push(a.name.to_string());
    // Pause and resume (extensions) are accepted with the same scopes as cancelExecution, so
    // tokens minted for the original's cancel can also pause.
    if a.name == action::JOB_PAUSE.name || a.name == action::JOB_RESUME.name {
        out.push(action::JOB_CANCEL.name.to_string());
    }
    out
}

/// Whether any of `held` grants `a`.
pub fn grants(held: &[String], a: &Action) -> bool {
    let acc = accepted(a);
    held.iter().any(|h| acc.iter().any(|x| x == h))
}

/// The original's application-level scope enum, one per line (`#` lines are comments).
const ORIGINAL_APP_SCOPES: &str = include_str!("original_app_scopes.txt");

fn original_app_scope(scope: &str) -> bool {
    ORIGINAL_APP_SCOPES
        .lines()
        .any(|l| !l.starts_with('#') && l.trim() == scope)
}

/// The scopes that reach every application-level action (a holder may mint any token).
const FULL: &[&str] = &["all.Application", "all.Organization", "all.User"];

/// Whether a token holding `held` may create (or manage) a token with `scope`: it holds a full
/// scope, the scope itself, or the `<resource>.*` wildcard over it.
pub fn covers(held: &[String], scope: &str) -> bool {
    held.iter().any(|h| {
        FULL.contains(&h.as_str())
            || h == scope
            || scope
                .rsplit_once('.')
                .is_some_and(|(res, act)| act != "*" && h.strip_suffix(".*") == Some(res))
    })
}

/// Scopes an application API token may be created with: the original's application-level enum,
/// `all.Application.bounded`, and every per-resource scope of an application-level action
/// (including rjobs' own, e.g. `resourceJob.execute`).
pub fn grantable(scope: &str) -> bool {
    const ALL_APP: &[&str] = &[
        "all.Application",
        "all.Application.bounded",
        "all.Application.read",
    ];
    ALL_APP.contains(&scope)
        || original_app_scope(scope)
        || action::ALL
            .iter()
            .filter(|a| a.level == Level::Application)
            .any(|a| {
                let resource = a.name.split('.').next().unwrap_or(a.name);
                scope == a.name || scope.strip_suffix(".*") == Some(resource)
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_original_lists() {
        assert_eq!(
            accepted(&action::JOBS_GET).join(", "),
            "all.Application, all.Application.bounded, all.Application.read, all.Organization, \
             all.Organization.bounded, all.Organization.read, all.User, all.User.bounded, \
             all.User.read, resourceJobs.*, resourceJobs.get"
        );
        assert_eq!(
            accepted(&action::JOB_EXECUTE).join(", "),
            "all.Application, all.Application.bounded, all.Organization, \
             all.Organization.bounded, all.User, all.User.bounded, resourceJob.*, \
             resourceJob.execute"
        );
        assert_eq!(
            accepted(&action::TOKENS_POST).join(", "),
            "all.Application, all.Organization, all.User, applicationApiTokens.*, \
             applicationApiTokens.post"
        );
        assert_eq!(
            accepted(&action::APPLICATIONS_GET).join(", "),
            "all.Organization, all.Organization.bounded, all.Organization.read, all.User, \
             all.User.bounded, all.User.read, applications.*, applications.get"
        );
    }

    #[test]
    fn read_scopes_do_not_reach_writes() {
        let read = vec!["all.Application.read".to_string()];
        assert!(grants(&read, &action::JOB_GET));
        assert!(grants(&read, &action::JOB_LOGS));
        assert!(!grants(&read, &action::JOB_EXECUTE));
        assert!(!grants(&read, &action::JOBS_POST));
        let single = vec!["resourceJob.*".to_string()];
        assert!(grants(&single, &action::JOB_CANCEL));
        assert!(grants(&single, &action::JOB_PAUSE));
        let cancel = vec!["resourceJob.cancelExecution".to_string()];
        assert!(grants(&cancel, &action::JOB_PAUSE));
        assert!(grants(&cancel, &action::JOB_RESUME));
        let pause = vec!["resourceJob.pauseExecution".to_string()];
        assert!(grants(&pause, &action::JOB_PAUSE));
        assert!(!grants(&pause, &action::JOB_RESUME));
        assert!(!grants(&pause, &action::JOB_CANCEL));
        assert!(grants(&single, &action::JOB_ACKNOWLEDGE));
        assert!(!grants(&single, &action::JOBS_GET));
        let coll = vec!["resourceJobs.*".to_string()];
        assert!(grants(&coll, &action::JOBS_POST));
        assert!(!grants(&coll, &action::JOB_GET));
        let user = vec!["all.User".to_string()];
        assert!(action::ALL.iter().all(|a| grants(&user, a)));
        let app = vec!["all.Application".to_string()];
        assert!(!grants(&app, &action::APPLICATIONS_GET));
    }

    #[test]
    fn grantable_scopes() {
        for ok in [
            "all.Application",
            "resourceJob.*",
            "resourceJob.execute",
            "devices.get",
        ] {
            assert!(grantable(ok), "{ok}");
        }
        for bad in [
            "all.User",
            "all.Organization",
            "applications.*",
            "resourceJob.fly",
            "all.Instance",
            "org.*",
            "",
        ] {
            assert!(!grantable(bad), "{bad}");
        }
        let enum_scopes: Vec<&str> = ORIGINAL_APP_SCOPES
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(enum_scopes.len(), 256);
        assert!(enum_scopes.iter().all(|s| grantable(s)));
        // Stored but granting nothing: no action accepts them.
        for inert in [
            "data.*",
            "applicationDashboards.*",
            "all.Device",
            "all.Application.cli",
        ] {
            let held = vec![inert.to_string()];
            assert!(!action::ALL.iter().any(|a| grants(&held, a)), "{inert}");
        }
    }

    #[test]
    fn minting_is_bounded_by_the_minter() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let post_only = s(&["applicationApiTokens.post"]);
        assert!(covers(&post_only, "applicationApiTokens.post"));
        assert!(!covers(&post_only, "all.Application"));
        assert!(!covers(&post_only, "applicationApiTokens.*"));
        assert!(!covers(&post_only, "applicationApiTokens.get"));
        let wild = s(&["applicationApiTokens.*", "devices.*"]);
        assert!(covers(&wild, "devices.get"));
        assert!(covers(&wild, "devices.*"));
        assert!(!covers(&wild, "device.get"));
        assert!(!covers(&wild, "all.Application.read"));
        let read = s(&["all.Application.read"]);
        assert!(covers(&read, "all.Application.read"));
        assert!(!covers(&read, "devices.get"));
        assert!(!covers(&read, "all.Application"));
        let full = s(&["all.Application"]);
        assert!(["all.Application", "data.*", "resourceJob.execute"]
            .iter()
            .all(|x| covers(&full, x)));
    }
}
