//! [`ResourceStore`](crate::ResourceStore) for [`SqlStore`](super::SqlStore): each method
//! delegates to the per-resource module (`devices`, `data_tables`, `rows`, `groups`, `users`,
//! `targets`).

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::resources::{DataRow, DataTable, Device, ExperienceGroup, ExperienceUser};
use rjobs_core::{Id, Timestamp};
use rjobs_query::{Query, ResourceType};
use serde_json::Value;

use super::SqlStore;
use crate::resources::RowParams;
use crate::{Page, ResourceStore, StoreError};

#[async_trait]
impl ResourceStore for SqlStore {
    async fn insert_devices(&self, devices: &[Device]) -> Result<(), StoreError> {
        self.device_insert_many(devices).await?;
        self.after_bulk(&["devices"], devices.len() as u64).await;
        let tags: usize = devices.iter().map(|d| d.tags.len()).sum();
        self.after_bulk(&["device_tags"], tags as u64).await;
        Ok(())
    }
    async fn get_device(&self, app: &Id, id: &Id) -> Result<Option<Device>, StoreError> {
        self.device_get(app, id).await
    }
    async fn list_devices(
        &self,
        app: &Id,
        p: &ListParams,
        q: Option<&Query>,
    ) -> Result<Page<Device>, StoreError> {
        self.device_list(app, p, q).await
    }
    async fn update_device(&self, d: &Device) -> Result<bool, StoreError> {
        self.device_update(d).await
    }
    async fn delete_device(&self, app: &Id, id: &Id) -> Result<bool, StoreError> {
        self.device_delete(app, id).await
    }
    async fn set_device_connection(
        &self,
        app: &Id,
        id: &Id,
        connected: bool,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.device_set_connection(app, id, connected, at, now)
            .await
    }

    async fn insert_data_table(&self, t: &DataTable) -> Result<(), StoreError> {
        self.table_insert(t).await
    }
    async fn get_data_table(&self, app: &Id, id: &Id) -> Result<Option<DataTable>, StoreError> {
        self.table_get(app, id).await
    }
    async fn list_data_tables(
        &self,
        app: &Id,
        p: &ListParams,
    ) -> Result<Page<DataTable>, StoreError> {
        self.table_list(app, p).await
    }
    async fn update_data_table(&self, t: &DataTable) -> Result<bool, StoreError> {
        self.table_update(t).await
    }
    async fn delete_data_table(&self, app: &Id, id: &Id) -> Result<bool, StoreError> {
        self.table_delete(app, id).await
    }

    async fn insert_rows(&self, table: &DataTable, rows: &[DataRow]) -> Result<(), StoreError> {
        self.row_insert_many(table, rows).await?;
        self.after_bulk(&["data_table_rows"], rows.len() as u64)
            .await;
        Ok(())
    }
    async fn get_row(&self, app: &Id, table: &Id, id: &Id) -> Result<Option<DataRow>, StoreError> {
        self.row_get(app, table, id).await
    }
    async fn query_rows(
        &self,
        table: &DataTable,
        p: &RowParams,
        q: Option<&Query>,
    ) -> Result<Page<DataRow>, StoreError> {
        self.row_query(table, p, q).await
    }
    async fn update_row(&self, table: &DataTable, row: &DataRow) -> Result<bool, StoreError> {
        self.row_update(table, row).await
    }
    async fn delete_row(&self, app: &Id, table: &Id, id: &Id) -> Result<bool, StoreError> {
        self.row_delete(app, table, id).await
    }

    async fn insert_groups(&self, groups: &[ExperienceGroup]) -> Result<(), StoreError> {
        self.group_insert_many(groups).await?;
        self.after_bulk(
            &["experience_groups", "experience_group_tags"],
            groups.len() as u64,
        )
        .await;
        Ok(())
    }
    async fn get_group(&self, app: &Id, id: &Id) -> Result<Option<ExperienceGroup>, StoreError> {
        self.group_get(app, id).await
    }
    async fn list_groups(
        &self,
        app: &Id,
        p: &ListParams,
        q: Option<&Query>,
    ) -> Result<Page<ExperienceGroup>, StoreError> {
        self.group_list(app, p, q).await
    }
    async fn update_group(&self, g: &ExperienceGroup) -> Result<bool, StoreError> {
        self.group_update(g).await
    }
    async fn delete_group(&self, app: &Id, id: &Id) -> Result<bool, StoreError> {
        self.group_delete(app, id).await
    }
    async fn group_ancestors(&self, app: &Id, id: &Id) -> Result<Vec<Id>, StoreError> {
        SqlStore::group_ancestors(self, app, id).await
    }

    async fn insert_users(&self, users: &[ExperienceUser]) -> Result<(), StoreError> {
        self.user_insert_many(users).await?;
        self.after_bulk(
            &["experience_users", "experience_user_tags"],
            users.len() as u64,
        )
        .await;
        Ok(())
    }
    async fn get_user(&self, app: &Id, id: &Id) -> Result<Option<ExperienceUser>, StoreError> {
        self.user_get(app, id).await
    }
    async fn list_users(
        &self,
        app: &Id,
        p: &ListParams,
        q: Option<&Query>,
    ) -> Result<Page<ExperienceUser>, StoreError> {
        self.user_list(app, p, q).await
    }
    async fn update_user(&self, u: &ExperienceUser) -> Result<bool, StoreError> {
        self.user_update(u).await
    }
    async fn delete_user(&self, app: &Id, id: &Id) -> Result<bool, StoreError> {
        self.user_delete(app, id).await
    }

    async fn existing_ids(
        &self,
        app: &Id,
        rt: ResourceType,
        ids: &[Id],
    ) -> Result<Vec<Id>, StoreError> {
        self.existing(app, rt, ids).await
    }
    async fn page_resource_ids(
        &self,
        app: &Id,
        rt: ResourceType,
        table: Option<&Id>,
        q: Option<&Query>,
        after: Option<&Id>,
        limit: u32,
    ) -> Result<Vec<(Id, String)>, StoreError> {
        self.target_page(app, rt, table, q, after, limit).await
    }
    async fn count_resources(
        &self,
        app: &Id,
        rt: ResourceType,
        table: Option<&Id>,
        q: Option<&Query>,
    ) -> Result<u64, StoreError> {
        self.target_count(app, rt, table, q).await
    }
    async fn get_resource_json(
        &self,
        app: &Id,
        rt: ResourceType,
        id: &Id,
    ) -> Result<Option<Value>, StoreError> {
        self.resource_json(app, rt, id).await
    }
    async fn get_resources_json(
        &self,
        app: &Id,
        rt: ResourceType,
        ids: &[Id],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        self.resources_json(app, rt, ids).await
    }
}
