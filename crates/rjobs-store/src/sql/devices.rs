//! Devices and their tag rows. Tags are stored twice on purpose: as the JSON array the REST shape
//! returns (so a read is one row) and as `device_tags` rows (so tag queries use an index). Both are
//! written in the same transaction.
//!
//! Bulk creation is the hot path (a million devices in ~100 calls): rows go in as multi-row
//! `INSERT`s of fixed-size chunks — the statement text repeats, so the prepared statement is
//! reused — all inside one transaction.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::resources::{Device, Tag};
use rjobs_core::Id;
use rjobs_query::Query;

use super::qbuild::{json_col, query_page, to_json_text, Fields};
use super::row::{id, ts, RowExt};
use super::{fetch_optional, rows_written, with_write, SqlStore};
use crate::{Backend, DeviceStore, Page, StoreError};

pub(crate) const FIELDS: Fields = &[
    ("name", "name"),
    ("id", "id"),
    ("creationDate", "creation_date"),
    ("lastUpdated", "last_updated"),
    ("deviceClass", "device_class"),
    ("connectionStatus", "COALESCE(connected, -1)"),
];

const DEVICE_TABLE: &str = "devices (id, application_id, name, description, device_class, \
     parent_id, gateway_id, tags, attributes, connected, connected_at, disconnected_at, \
     creation_date, last_updated)";
const TAG_TABLE: &str = "device_tags (device_id, application_id, key, value)";
/// Rows per multi-row `INSERT` (14 parameters each; well under both backends' limits).
const DEVICE_CHUNK: usize = 500;
/// Tag rows per multi-row `INSERT` (4 parameters each).
const TAG_CHUNK: usize = 2000;

fn opt_id(r: &impl RowExt, col: &str) -> Result<Option<Id>, StoreError> {
    r.opt_text(col)?
        .map(|s| Id::parse(&s).map_err(|_| StoreError::Corrupt(format!("{col}: bad id {s:?}"))))
        .transpose()
}

pub(crate) fn from_row(r: &impl RowExt) -> Result<Device, StoreError> {
    Ok(Device {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        device_class: r.text("device_class")?,
        parent_id: opt_id(r, "parent_id")?,
        gateway_id: opt_id(r, "gateway_id")?,
        tags: json_col(&r.text("tags")?, "devices.tags")?,
        attributes: json_col(&r.text("attributes")?, "devices.attributes")?,
        connected: r.opt_int("connected")?.map(|c| c != 0),
        connected_at: r
            .opt_int("connected_at")?
            .map(rjobs_core::Timestamp::from_millis),
        disconnected_at: r
            .opt_int("disconnected_at")?
            .map(rjobs_core::Timestamp::from_millis),
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
    })
}

/// `INSERT INTO <table_cols> VALUES (..), (..)` for `rows` rows of `cols` placeholders, in the
/// backend's placeholder style (`?` for SQLite, `$n` for PostgreSQL).
fn multi_insert(backend: Backend, table_cols: &str, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(table_cols.len() + rows * cols * 6 + 16);
    s.push_str("INSERT INTO ");
    s.push_str(table_cols);
    s.push_str(" VALUES ");
    let mut n = 0;
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            n += 1;
            if backend == Backend::Postgres {
                s.push('$');
                s.push_str(&n.to_string());
            } else {
                s.push('?');
            }
        }
        s.push(')');
    }
    s
}

/// The JSON documents of each device, encoded once before the transaction.
struct Encoded<'a> {
    d: &'a Device,
    tags: String,
    attributes: String,
}

/// Binds one device row's 14 values (same order as [`DEVICE_COLS`]).
macro_rules! bind_device {
    ($q:expr, $e:expr) => {{
        let e = $e;
        let d = e.d;
        $q.bind(d.id.as_str())
            .bind(d.application_id.as_str())
            .bind(d.name.as_str())
            .bind(d.description.as_str())
            .bind(d.device_class.as_str())
            .bind(d.parent_id.as_ref().map(Id::as_str))
            .bind(d.gateway_id.as_ref().map(Id::as_str))
            .bind(e.tags.as_str())
            .bind(e.attributes.as_str())
            .bind(d.connected.map(i64::from))
            .bind(d.connected_at.map(|t| t.as_millis()))
            .bind(d.disconnected_at.map(|t| t.as_millis()))
            .bind(d.creation_date.as_millis())
            .bind(d.last_updated.as_millis())
    }};
}

/// Inserts the devices' rows and tag rows on `$conn` (a transaction), in multi-row chunks.
/// Values are bound straight from the records (no intermediate copies): this is the hot path of
/// bulk creation.
macro_rules! insert_devices_on {
    ($conn:expr, $backend:expr, $encoded:expr) => {{
        let encoded: &[Encoded<'_>] = $encoded;
        for chunk in encoded.chunks(DEVICE_CHUNK) {
            let sql = multi_insert($backend, DEVICE_TABLE, chunk.len(), 14);
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = bind_device!(q, e);
            }
            q.execute(&mut *$conn).await?;
        }
        let tags: Vec<(&Device, &Tag)> = encoded
            .iter()
            .flat_map(|e| e.d.tags.iter().map(move |t| (e.d, t)))
            .collect();
        for chunk in tags.chunks(TAG_CHUNK) {
            let sql = multi_insert($backend, TAG_TABLE, chunk.len(), 4);
            let mut q = sqlx::query(&sql);
            for (d, t) in chunk {
                q = q
                    .bind(d.id.as_str())
                    .bind(d.application_id.as_str())
                    .bind(t.key.as_str())
                    .bind(t.value.as_str());
            }
            q.execute(&mut *$conn).await?;
        }
    }};
}

fn encode(devices: &[Device]) -> Vec<Encoded<'_>> {
    devices
        .iter()
        .map(|d| Encoded {
            d,
            tags: to_json_text(&d.tags),
            attributes: to_json_text(&d.attributes),
        })
        .collect()
}

impl SqlStore {
    /// The bulk insert's transaction (nothing to do for no devices).
    async fn write_devices(&self, devices: &[Device]) -> Result<(), StoreError> {
        if devices.is_empty() {
            return Ok(());
        }
        let backend = self.backend_kind();
        let encoded = encode(devices);
        self.sqlite_bulk_cache().await?;
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_devices_on!(tx, backend, &encoded);
            tx.commit().await?;
        });
        Ok(())
    }
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn insert_devices(&self, devices: &[Device]) -> Result<(), StoreError> {
        self.write_devices(devices).await?;
        self.after_bulk(&["devices"], devices.len() as u64).await;
        let tags: usize = devices.iter().map(|d| d.tags.len()).sum();
        self.after_bulk(&["device_tags"], tags as u64).await;
        Ok(())
    }

    async fn get_device(&self, app: &Id, dev: &Id) -> Result<Option<Device>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM devices WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(dev.as_str()),
            from_row
        )
    }

    async fn list_devices(
        &self,
        app: &Id,
        p: &ListParams,
        query: Option<&Query>,
    ) -> Result<Page<Device>, StoreError> {
        let (total_count, items) = query_page!(self, "devices", app, p, query, FIELDS, from_row)?;
        Ok(Page { items, total_count })
    }

    /// Replaces a device's fields and tags; false if it no longer exists.
    async fn update_device(&self, d: &Device) -> Result<bool, StoreError> {
        let backend = self.backend_kind();
        let tags_json = to_json_text(&d.tags);
        let attrs_json = to_json_text(&d.attributes);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE devices SET name = $1, description = $2, device_class = $3,
                     parent_id = $4, gateway_id = $5, tags = $6, attributes = $7,
                     last_updated = $8
                 WHERE application_id = $9 AND id = $10",
            )
            .bind(&d.name)
            .bind(&d.description)
            .bind(&d.device_class)
            .bind(d.parent_id.as_ref().map(Id::as_str))
            .bind(d.gateway_id.as_ref().map(Id::as_str))
            .bind(&tags_json)
            .bind(&attrs_json)
            .bind(d.last_updated.as_millis())
            .bind(d.application_id.as_str())
            .bind(d.id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM device_tags WHERE device_id = $1")
                .bind(d.id.as_str())
                .execute(&mut *tx)
                .await?;
            for chunk in d.tags.chunks(TAG_CHUNK) {
                let sql = multi_insert(backend, TAG_TABLE, chunk.len(), 4);
                let mut q = sqlx::query(&sql);
                for t in chunk {
                    q = q
                        .bind(d.id.as_str())
                        .bind(d.application_id.as_str())
                        .bind(t.key.as_str())
                        .bind(t.value.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    async fn delete_device(&self, app: &Id, dev: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM devices WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(dev.as_str())
        );
        Ok(n > 0)
    }

    /// Records a connection or disconnection at `at`; false if the device does not exist.
    async fn set_device_connection(
        &self,
        app: &Id,
        dev: &Id,
        connected: bool,
        at: rjobs_core::Timestamp,
        now: rjobs_core::Timestamp,
    ) -> Result<bool, StoreError> {
        let sql = if connected {
            "UPDATE devices SET connected = 1, connected_at = $1, last_updated = $2
             WHERE application_id = $3 AND id = $4"
        } else {
            "UPDATE devices SET connected = 0, disconnected_at = $1, last_updated = $2
             WHERE application_id = $3 AND id = $4"
        };
        let n = rows_written!(
            self,
            sqlx::query(sql)
                .bind(at.as_millis())
                .bind(now.as_millis())
                .bind(app.as_str())
                .bind(dev.as_str())
        );
        Ok(n > 0)
    }
}
