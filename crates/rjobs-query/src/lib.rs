//! # rjobs-query — the advanced query language (`queryJson`)
//!
//! Parses Losant-compatible "advanced queries" for devices, data-table rows, experience groups
//! and experience users into a typed AST ([`parse`], [`parse_str`]), compiles them to
//! parameterized SQL for SQLite and PostgreSQL ([`Query::to_sql`]), and evaluates them in
//! memory ([`Query::matches`]) as the oracle of the property tests. Why one crate: the three
//! must agree exactly, so they share one lowered AST and one documented semantics (below).
//!
//! ## Grammar and limits
//! * `$and`/`$or`/`$nor` take arrays of at most 100 sub-queries, nested freely. Several keys of
//!   one object are ANDed; several operators on one field are ANDed. `{}` matches everything.
//! * Empty arrays are accepted (MongoDB rejects them): `$and: []` and `$nor: []` match
//!   everything, `$or: []` matches nothing. An empty operator object `{"name": {}}` (or one with
//!   only `$ci`) matches everything.
//! * `$in`/`$nin` take at most 100 items; 101 is an error at the array's path.
//! * Logical operators nest at most [`MAX_DEPTH`] (32) levels.
//! * Strings containing NUL are rejected (PostgreSQL text cannot hold them), as are strings
//!   over [`MAX_STRING_CHARS`] (4,096) characters.
//! * A query holds at most [`MAX_VALUES`] (5,000) keys and values in all, so the compiled SQL
//!   stays far below both backends' parameter limits (SQLite 32,766, PostgreSQL 65,535).
//! * Errors carry a path such as `$or[2].tags.$tagValue` ([`QueryError`]).
//!
//! ## Set semantics (all fields)
//! Every field has a *set* of values: a scalar field has one value or none (null/missing);
//! `attributeName`, membership ids and `ancestorId` have many. Then:
//! * `{f: x}` / `$eq x`: some value equals `x`. `$eq null` / `{f: null}`: the set is empty.
//! * `$ne x` is exactly `NOT $eq x` (so it matches null/missing); `$ne null`: set non-empty.
//! * `$gt/$gte/$lt/$lte x`: some value compares true; never true for null values, and a
//!   `null` operand matches nothing.
//! * `$in [..]`: some value is in the list (`$in: []` matches nothing); `$nin` is `NOT $in`
//!   (it matches null/missing; `$nin: []` matches everything). `null` is not allowed in lists.
//! * `$startsWith/$endsWith/$contains` (non-empty strings): some value has that prefix /
//!   suffix / substring, case-sensitively.
//! * `$ci: true` makes `$eq`, `$ne`, `$in`, `$nin` and the three string operators compare
//!   ASCII-lower-cased values (ASCII folding only, as SQLite's `lower()`); `$gt` & co are
//!   unaffected.
//! * Type bracketing: a literal of another type than the field's (number on `name`, boolean on
//!   a date) equals nothing, so `$eq`/`$in` items/`$gt` with it match nothing and `$ne`/`$nin`
//!   match everything; string operators on non-text resource fields match nothing. Data-table
//!   columns are strict instead: a wrong-typed literal or a string operator on a non-string
//!   column is an error.
//! * Text compares in code-point (byte) order: SQLite BINARY, PostgreSQL `COLLATE "C"`.
//!
//! ## Fields
//! * Text: `name`, `deviceClass`, `firstName`, `lastName`, `email`; `connectionStatus` is
//!   `"connected"`/`"disconnected"` or null (never reported); `attributeName` is the set of the
//!   device's attribute names (so `$ne x` = no attribute named `x`, `null` = no attributes).
//! * Dates (`creationDate`, `lastUpdated`, `connectedAt`, `disconnectedAt`, `lastLogin`,
//!   `passwordLastUpdated`, rows' `createdAt`/`updatedAt`): ISO-8601/RFC 3339 strings (no
//!   offset = UTC; a bare date = midnight UTC) or integer epoch ms, compared as ms. A bad date
//!   string or a fractional number is an error.
//! * `deletedAt` and `experienceEndpointId` are accepted and are null on every resource.
//! * Id fields take 24-hex strings (upper case is normalised) or null; the object form has
//!   exactly one operator. `id`, `parentId`, `gatewayId` are columns. `ancestorId`: ids reached
//!   by following `parent_id` one or more times within the application (a dangling parent id
//!   counts; cycles terminate). Memberships: device `experienceGroupId` = groups containing the
//!   device (direct membership only), device `experienceUserId` = users of those groups, user
//!   `experienceGroupId` = the user's groups, group `experienceUserId` = the group's users.
//!   `$gt` & co on set fields mean "some member/ancestor id compares so".
//! * Data-table rows: `id`, `createdAt`, `updatedAt` and the columns of the [`TableSchema`]
//!   (an unknown column is an error). Number columns compare as `f64`, booleans with
//!   `false < true`. A stored value of the wrong type for its column counts as null.
//! * Tags (`tags`, `userTags`, `groupTags`): `null` = no tags at all;
//!   `{"$tagKey": TV, "$tagValue": TV}` = one tag whose key and value both match;
//!   `{k: TV, ...}` = for every pair a tag with key `k` whose value matches (`{}` matches
//!   everything); `{"$eq": form}` = form, `{"$ne": form}` = NOT form. `TV` is a string (≤255
//!   characters, exact), null (anything), `{"$in": [..]}` or `{"$nin": [..]}` (≤100 strings;
//!   `$nin` = this one tag's key/value is not listed). Keys must start with `[0-9a-zA-Z_-]`
//!   (the original's pattern has no end anchor). Tag matching is case-sensitive.
//!
//! ## SQL
//! [`Query::to_sql`] returns a two-valued boolean fragment over the resource table aliased
//! `alias` (`devices`, `experience_users`, `experience_groups`, `data_table_rows`); the caller
//! adds `alias.application_id = ?` (and the data table) itself. Tag, membership and ancestor
//! conditions are `alias.id IN (SELECT ...)` sub-selects restricted to `application_id` where
//! the table has it and shaped for the indexes; `name` `$startsWith` without `$ci` becomes a
//! range on the bare column.

mod ast;
mod date;
mod error;
mod eval;
mod fields;
mod parse;
mod sql;
mod sql_source;
mod tags;

pub use ast::{
    CmpOp, ColumnType, DateField, Dialect, FieldQuery, Id, IdField, NoStr, Node, Pred, Query,
    ResourceType, StrMatch, StrOp, TableSchema, TagForm, TagQuery, TagVal, Test, TextField,
};
pub use error::QueryError;
pub use eval::{EvalDevice, EvalGroup, EvalResource, EvalRow, EvalUser, EvalWorld};
pub use parse::{parse, parse_str, MAX_DEPTH, MAX_ITEMS, MAX_STRING_CHARS, MAX_VALUES};
pub use sql::{SqlFragment, SqlParam};
pub use tags::MAX_TAG_LEN;
