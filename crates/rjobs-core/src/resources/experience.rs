//! Experience groups (a tree, with tags and members) and experience users (email unique per
//! application; the password arrives here in clear and leaves as a hash computed by the caller —
//! hashing is slow on purpose and belongs outside the request-parsing code).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    check_description, check_len, check_name, check_tag_map, nullable, parse_ids, parse_opt_id,
};
use crate::list::FieldError;
use crate::{Id, Timestamp};

/// Most members/groups one body may list.
pub const MAX_MEMBERS: usize = 1000;

/// An experience group. It serializes as the API shows it, but for the `experienceGroupId`
/// alias of the id (see [`GroupView`]).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperienceGroup {
    /// Id.
    pub id: Id,
    /// Owning application.
    pub application_id: Id,
    /// 1–255 characters.
    pub name: String,
    /// Up to 32767 characters.
    pub description: String,
    /// Parent group (must exist in the application; no cycles).
    pub parent_id: Option<Id>,
    /// `{key: value}` tags.
    pub group_tags: BTreeMap<String, String>,
    /// Member users.
    #[serde(rename = "experienceUserIds")]
    pub user_ids: Vec<Id>,
    /// Member devices.
    pub device_ids: Vec<Id>,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
}

/// `POST .../experience/groups` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupPost {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    group_tags: BTreeMap<String, String>,
    #[serde(default)]
    experience_user_ids: Vec<String>,
    #[serde(default)]
    device_ids: Vec<String>,
    #[serde(default)]
    experience_endpoint_ids: Option<Value>,
    #[serde(default)]
    device_tags: Option<Value>,
}

impl GroupPost {
    /// Validates into a new group (references are checked by the caller against the store).
    pub fn into_group(
        self,
        id: Id,
        app: Id,
        now: Timestamp,
    ) -> Result<ExperienceGroup, FieldError> {
        let _ = (&self.experience_endpoint_ids, &self.device_tags);
        check_name("name", &self.name)?;
        check_description("description", &self.description)?;
        check_tag_map("groupTags", &self.group_tags)?;
        Ok(ExperienceGroup {
            id,
            application_id: app,
            name: self.name,
            description: self.description,
            parent_id: parse_opt_id("parentId", &self.parent_id)?,
            group_tags: self.group_tags,
            user_ids: parse_ids("experienceUserIds", &self.experience_user_ids, MAX_MEMBERS)?,
            device_ids: parse_ids("deviceIds", &self.device_ids, MAX_MEMBERS)?,
            creation_date: now,
            last_updated: now,
        })
    }
}

/// `PATCH .../experience/groups/{experienceGroupId}` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupPatch {
    name: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<String>>,
    group_tags: Option<BTreeMap<String, String>>,
    experience_user_ids: Option<Vec<String>>,
    device_ids: Option<Vec<String>>,
    #[serde(default)]
    experience_endpoint_ids: Option<Value>,
    #[serde(default)]
    device_tags: Option<Value>,
}

impl GroupPatch {
    /// Applies the changes.
    pub fn apply(self, g: &ExperienceGroup, now: Timestamp) -> Result<ExperienceGroup, FieldError> {
        let _ = (&self.experience_endpoint_ids, &self.device_tags);
        let mut n = g.clone();
        super::patch_text(self.name, self.description, &mut n.name, &mut n.description)?;
        if let Some(v) = self.parent_id {
            n.parent_id = parse_opt_id("parentId", &v)?;
        }
        if let Some(v) = self.group_tags {
            check_tag_map("groupTags", &v)?;
            n.group_tags = v;
        }
        if let Some(v) = self.experience_user_ids {
            n.user_ids = parse_ids("experienceUserIds", &v, MAX_MEMBERS)?;
        }
        if let Some(v) = self.device_ids {
            n.device_ids = parse_ids("deviceIds", &v, MAX_MEMBERS)?;
        }
        n.last_updated = now;
        Ok(n)
    }
}

/// The REST shape of an experience group (`experienceGroup.json`): the group and the alias of
/// its id.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    /// The group.
    #[serde(flatten)]
    pub group: ExperienceGroup,
    /// The group's id, under the original's name.
    pub experience_group_id: Id,
}

impl ExperienceGroup {
    /// The REST shape (`experienceGroup.json`).
    pub fn view(&self) -> GroupView {
        GroupView {
            group: self.clone(),
            experience_group_id: self.id.clone(),
        }
    }

    /// [`ExperienceGroup::view`] as a JSON value.
    pub fn to_json(&self) -> Value {
        super::to_value(&self.view())
    }
}

/// An experience user. It serializes as the API shows it (never the password hash), but for
/// the `experienceUserId` alias of the id (see [`UserView`]).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperienceUser {
    /// Id.
    pub id: Id,
    /// Owning application.
    pub application_id: Id,
    /// Lower-cased email, unique per application.
    pub email: String,
    /// Up to 1024 characters.
    pub first_name: String,
    /// Up to 1024 characters.
    pub last_name: String,
    /// PHC string of the password hash; never rendered.
    #[serde(skip)]
    pub password_hash: String,
    /// `{key: value}` tags.
    pub user_tags: BTreeMap<String, String>,
    /// Groups the user belongs to.
    #[serde(rename = "experienceGroupIds")]
    pub group_ids: Vec<Id>,
    /// Last login (rjobs has no login; kept for queries and clients).
    pub last_login: Option<Timestamp>,
    /// When the password was last set.
    pub password_last_updated: Option<Timestamp>,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
}

fn check_email(field: &str, e: &str) -> Result<String, FieldError> {
    check_len(field, e, 3, 1024)?;
    let ok = match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !ok {
        return Err(FieldError::new(field, "must be a valid email address"));
    }
    Ok(e.to_lowercase())
}

fn check_password(p: &str) -> Result<(), FieldError> {
    check_len("password", p, 8, 2048)
}

/// `POST .../experience/users` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserPost {
    email: String,
    password: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    user_tags: BTreeMap<String, String>,
    #[serde(default)]
    experience_group_ids: Vec<String>,
    #[serde(default)]
    token_cutoff: Option<Value>,
    #[serde(default)]
    meta_tags: Option<Value>,
    #[serde(default)]
    avatar_url: Option<Value>,
}

impl UserPost {
    /// Validates into a new user and returns it with the clear password to hash; the
    /// `password_hash` field is left empty for the caller to fill.
    pub fn into_user(
        self,
        id: Id,
        app: Id,
        now: Timestamp,
    ) -> Result<(ExperienceUser, String), FieldError> {
        let _ = (&self.token_cutoff, &self.meta_tags, &self.avatar_url);
        let email = check_email("email", &self.email)?;
        check_password(&self.password)?;
        check_len("firstName", &self.first_name, 0, 1024)?;
        check_len("lastName", &self.last_name, 0, 1024)?;
        check_tag_map("userTags", &self.user_tags)?;
        let user = ExperienceUser {
            id,
            application_id: app,
            email,
            first_name: self.first_name,
            last_name: self.last_name,
            password_hash: String::new(),
            user_tags: self.user_tags,
            group_ids: parse_ids(
                "experienceGroupIds",
                &self.experience_group_ids,
                MAX_MEMBERS,
            )?,
            last_login: None,
            password_last_updated: Some(now),
            creation_date: now,
            last_updated: now,
        };
        Ok((user, self.password))
    }
}

/// `PATCH .../experience/users/{experienceUserId}` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserPatch {
    email: Option<String>,
    password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    user_tags: Option<BTreeMap<String, String>>,
    experience_group_ids: Option<Vec<String>>,
    #[serde(default)]
    token_cutoff: Option<Value>,
    #[serde(default)]
    meta_tags: Option<Value>,
    #[serde(default)]
    avatar_url: Option<Value>,
}

impl UserPatch {
    /// Applies the changes; returns the new password in clear when one was given (the caller
    /// hashes it and sets `password_hash`).
    pub fn apply(
        self,
        u: &ExperienceUser,
        now: Timestamp,
    ) -> Result<(ExperienceUser, Option<String>), FieldError> {
        let _ = (&self.token_cutoff, &self.meta_tags, &self.avatar_url);
        let mut n = u.clone();
        if let Some(v) = self.email {
            n.email = check_email("email", &v)?;
        }
        if let Some(v) = &self.password {
            check_password(v)?;
            n.password_last_updated = Some(now);
        }
        if let Some(v) = self.first_name {
            check_len("firstName", &v, 0, 1024)?;
            n.first_name = v;
        }
        if let Some(v) = self.last_name {
            check_len("lastName", &v, 0, 1024)?;
            n.last_name = v;
        }
        if let Some(v) = self.user_tags {
            check_tag_map("userTags", &v)?;
            n.user_tags = v;
        }
        if let Some(v) = self.experience_group_ids {
            n.group_ids = parse_ids("experienceGroupIds", &v, MAX_MEMBERS)?;
        }
        n.last_updated = now;
        Ok((n, self.password))
    }
}

/// The REST shape of an experience user (`experienceUser.json`): the user and the alias of its
/// id, without any password material.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// The user.
    #[serde(flatten)]
    pub user: ExperienceUser,
    /// The user's id, under the original's name.
    pub experience_user_id: Id,
}

impl ExperienceUser {
    /// The REST shape (`experienceUser.json`).
    pub fn view(&self) -> UserView {
        UserView {
            user: self.clone(),
            experience_user_id: self.id.clone(),
        }
    }

    /// [`ExperienceUser::view`] as a JSON value.
    pub fn to_json(&self) -> Value {
        super::to_value(&self.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_validation() {
        let id = Id::parse("575ec8687ae143cd83dc4a97").unwrap();
        let p: UserPost =
            serde_json::from_value(json!({"email": "A@B.io", "password": "12345678"})).unwrap();
        let (u, pw) = p
            .into_user(id.clone(), id.clone(), Timestamp::from_millis(0))
            .unwrap();
        assert_eq!((u.email.as_str(), pw.as_str()), ("a@b.io", "12345678"));
        assert!(u.to_json().get("password").is_none());
        let p: UserPost =
            serde_json::from_value(json!({"email": "nope", "password": "12345678"})).unwrap();
        let e = p
            .into_user(id.clone(), id, Timestamp::from_millis(0))
            .unwrap_err();
        assert_eq!(e.field, "email");
    }
}
