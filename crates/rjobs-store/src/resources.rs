//! Persistence of the resources jobs iterate over: devices, data tables and rows, experience
//! groups and users.
//!
//! Records arrive validated (`rjobs_core::resources`); the store enforces only what needs the
//! database: uniqueness (emails, unique row columns — reported as [`StoreError::Duplicate`] naming
//! the field, prefixed `[i].` for an item of a bulk call) and atomicity (a bulk insert is one
//! transaction: all rows or none). Advanced queries are passed as parsed [`Query`] values and
//! compiled to SQL here, because only the store knows the dialect and where the fragment's
//! parameters start. Updates are last-writer-wins (resources carry no version column); `false`
//! means the record no longer exists.
//!
//! One trait per resource, each implemented next to its statements (`sql/devices.rs`,
//! `sql/data_tables.rs`, `sql/rows.rs`, `sql/groups.rs`, `sql/users.rs`), and [`TargetStore`] for
//! what addresses any resource by type (`sql/targets.rs`). [`ResourceStore`] is all of them, for
//! code that needs every resource.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::resources::{DataRow, DataTable, Device, ExperienceGroup, ExperienceUser};
use rjobs_core::{Id, Timestamp};
use rjobs_query::{Query, ResourceType};
use serde_json::Value;

use crate::{Page, StoreError};

/// Paging of data-table rows (`limit`/`offset`/`sortColumn`/`sortDirection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowParams {
    /// Rows per page.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
    /// `id`, `createdAt`, `updatedAt` or a column name (validated by the caller); `None` = id.
    pub sort_column: Option<String>,
    /// Descending order.
    pub descending: bool,
}

/// All resource persistence: implemented for every type that implements the per-resource
/// traits.
pub trait ResourceStore:
    DeviceStore + DataTableStore + RowStore + GroupStore + UserStore + TargetStore
{
}

impl<T> ResourceStore for T where
    T: DeviceStore + DataTableStore + RowStore + GroupStore + UserStore + TargetStore + ?Sized
{
}

/// Device persistence.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Inserts devices (and their tags) in one transaction.
    async fn insert_devices(&self, devices: &[Device]) -> Result<(), StoreError>;
    /// One device of an application.
    async fn get_device(&self, app: &Id, id: &Id) -> Result<Option<Device>, StoreError>;
    /// A page of devices, optionally restricted by an advanced query.
    async fn list_devices(
        &self,
        app: &Id,
        p: &ListParams,
        query: Option<&Query>,
    ) -> Result<Page<Device>, StoreError>;
    /// Replaces a device's fields and tags (not its connection status).
    async fn update_device(&self, d: &Device) -> Result<bool, StoreError>;
    /// Deletes a device; false if absent.
    async fn delete_device(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
    /// Records a connection (`connected`) or disconnection at `at`.
    async fn set_device_connection(
        &self,
        app: &Id,
        id: &Id,
        connected: bool,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Data table persistence (the tables; their rows are [`RowStore`]).
#[async_trait]
pub trait DataTableStore: Send + Sync {
    /// Inserts a data table.
    async fn insert_data_table(&self, t: &DataTable) -> Result<(), StoreError>;
    /// One data table.
    async fn get_data_table(&self, app: &Id, id: &Id) -> Result<Option<DataTable>, StoreError>;
    /// A page of data tables.
    async fn list_data_tables(
        &self,
        app: &Id,
        p: &ListParams,
    ) -> Result<Page<DataTable>, StoreError>;
    /// Replaces a table's name, description and columns.
    async fn update_data_table(&self, t: &DataTable) -> Result<bool, StoreError>;
    /// Deletes a table and its rows.
    async fn delete_data_table(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
}

/// Data table row persistence.
#[async_trait]
pub trait RowStore: Send + Sync {
    /// Inserts rows of `table` in one transaction, enforcing unique columns.
    async fn insert_rows(&self, table: &DataTable, rows: &[DataRow]) -> Result<(), StoreError>;
    /// One row.
    async fn get_row(&self, app: &Id, table: &Id, id: &Id) -> Result<Option<DataRow>, StoreError>;
    /// A page of rows, optionally restricted by an advanced query.
    async fn query_rows(
        &self,
        table: &DataTable,
        p: &RowParams,
        query: Option<&Query>,
    ) -> Result<Page<DataRow>, StoreError>;
    /// Replaces a row's values, enforcing unique columns.
    async fn update_row(&self, table: &DataTable, row: &DataRow) -> Result<bool, StoreError>;
    /// Deletes a row.
    async fn delete_row(&self, app: &Id, table: &Id, id: &Id) -> Result<bool, StoreError>;
}

/// Experience group persistence.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Inserts groups (tags, memberships) in one transaction.
    async fn insert_groups(&self, groups: &[ExperienceGroup]) -> Result<(), StoreError>;
    /// One group with its members.
    async fn get_group(&self, app: &Id, id: &Id) -> Result<Option<ExperienceGroup>, StoreError>;
    /// A page of groups.
    async fn list_groups(
        &self,
        app: &Id,
        p: &ListParams,
        query: Option<&Query>,
    ) -> Result<Page<ExperienceGroup>, StoreError>;
    /// Replaces a group's fields, tags and memberships.
    async fn update_group(&self, g: &ExperienceGroup) -> Result<bool, StoreError>;
    /// Deletes a group; its children move to its parent.
    async fn delete_group(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
    /// The group and its ancestors, nearest first (empty if the group does not exist).
    async fn group_ancestors(&self, app: &Id, id: &Id) -> Result<Vec<Id>, StoreError>;
}

/// Experience user persistence.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts users (tags, memberships) in one transaction; duplicate emails are refused.
    async fn insert_users(&self, users: &[ExperienceUser]) -> Result<(), StoreError>;
    /// One user with their groups.
    async fn get_user(&self, app: &Id, id: &Id) -> Result<Option<ExperienceUser>, StoreError>;
    /// A page of users.
    async fn list_users(
        &self,
        app: &Id,
        p: &ListParams,
        query: Option<&Query>,
    ) -> Result<Page<ExperienceUser>, StoreError>;
    /// Replaces a user's fields, tags and memberships.
    async fn update_user(&self, u: &ExperienceUser) -> Result<bool, StoreError>;
    /// Deletes a user.
    async fn delete_user(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
}

/// Resources of any type, addressed by [`ResourceType`]: what job targets and templates need.
#[async_trait]
pub trait TargetStore: Send + Sync {
    /// Which of `ids` exist as resources of type `rt` in the application (rows: any table).
    async fn existing_ids(
        &self,
        app: &Id,
        rt: ResourceType,
        ids: &[Id],
    ) -> Result<Vec<Id>, StoreError>;
    /// The next `limit` resources of a target set in id order after `after` (keyset paging),
    /// with a display name (device/group name, user email, row id). `table` is required for
    /// rows and ignored otherwise; `query` `None` means all.
    async fn page_resource_ids(
        &self,
        app: &Id,
        rt: ResourceType,
        table: Option<&Id>,
        query: Option<&Query>,
        after: Option<&Id>,
        limit: u32,
    ) -> Result<Vec<(Id, String)>, StoreError>;
    /// Number of resources of a target set.
    async fn count_resources(
        &self,
        app: &Id,
        rt: ResourceType,
        table: Option<&Id>,
        query: Option<&Query>,
    ) -> Result<u64, StoreError>;
    /// A resource shaped as its REST GET (rows: found by id in any table of the application).
    async fn get_resource_json(
        &self,
        app: &Id,
        rt: ResourceType,
        id: &Id,
    ) -> Result<Option<Value>, StoreError>;
    /// Several resources shaped as their REST GET, in the order of `ids` (`None`: gone).
    async fn get_resources_json(
        &self,
        app: &Id,
        rt: ResourceType,
        ids: &[Id],
    ) -> Result<Vec<Option<Value>>, StoreError>;
}
