//! Devices: the record, its create/patch bodies (after `devicePost.json`/`devicePatch.json` of the
//! original) and its REST shape. Connection status is three-valued — never reported, connected,
//! disconnected — because the query language distinguishes "null" from "disconnected".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check_description, check_key, check_name, check_tags, nullable, parse_opt_id, Tag};
use crate::list::FieldError;
use crate::{Id, Timestamp};

/// The device classes the original accepts.
pub const DEVICE_CLASSES: &[&str] = &[
    "standalone",
    "gateway",
    "peripheral",
    "floating",
    "edgeCompute",
    "embedded",
    "system",
];

/// A device attribute. `description` and `attributeTags` are kept; the original's blob settings
/// are accepted and dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attribute {
    /// `^[0-9a-zA-Z_-]{1,255}$`, unique per device.
    pub name: String,
    /// `string`, `number`, `gps`, `boolean` or `blob`.
    pub data_type: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `{key: value}` tags of the attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing)]
    content_type: Option<Value>,
    #[serde(default, skip_serializing)]
    blob_max_size: Option<Value>,
}

const DATA_TYPES: &[&str] = &["string", "number", "gps", "boolean", "blob"];

fn check_attributes(attrs: &[Attribute]) -> Result<(), FieldError> {
    if attrs.len() > 256 {
        return Err(FieldError::new("attributes", "must have at most 256 items"));
    }
    for (i, a) in attrs.iter().enumerate() {
        check_key(&format!("attributes[{i}].name"), &a.name)?;
        if !DATA_TYPES.contains(&a.data_type.as_str()) {
            return Err(FieldError::new(
                format!("attributes[{i}].dataType"),
                format!("must be one of {}", DATA_TYPES.join(", ")),
            ));
        }
        if let Some(d) = &a.description {
            check_description(&format!("attributes[{i}].description"), d)?;
        }
        if let Some(t) = &a.attribute_tags {
            super::check_tag_map(&format!("attributes[{i}].attributeTags"), t)?;
        }
        if attrs[..i].iter().any(|b| b.name == a.name) {
            return Err(FieldError::new(
                format!("attributes[{i}].name"),
                format!("duplicate attribute name {:?}", a.name),
            ));
        }
    }
    Ok(())
}

fn check_class(c: &str) -> Result<(), FieldError> {
    if DEVICE_CLASSES.contains(&c) {
        Ok(())
    } else {
        Err(FieldError::new(
            "deviceClass",
            format!("must be one of {}", DEVICE_CLASSES.join(", ")),
        ))
    }
}

/// A device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Id.
    pub id: Id,
    /// Owning application.
    pub application_id: Id,
    /// 1–255 characters.
    pub name: String,
    /// Up to 32767 characters.
    pub description: String,
    /// One of [`DEVICE_CLASSES`].
    pub device_class: String,
    /// Parent device (hierarchy).
    pub parent_id: Option<Id>,
    /// Gateway of a peripheral.
    pub gateway_id: Option<Id>,
    /// Tags, in the given order.
    pub tags: Vec<Tag>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
    /// `None` never reported, `Some(true)` connected.
    pub connected: Option<bool>,
    /// Last connection instant.
    pub connected_at: Option<Timestamp>,
    /// Last disconnection instant.
    pub disconnected_at: Option<Timestamp>,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
}

/// `POST /applications/{applicationId}/devices` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DevicePost {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    device_class: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    attributes: Vec<Attribute>,
    #[serde(default)]
    gateway_id: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    // Defined by the original, not modelled by rjobs.
    #[serde(default)]
    edge_agent_version: Option<Value>,
    #[serde(default)]
    system_interval: Option<Value>,
}

impl DevicePost {
    /// Validates the body into a new device.
    pub fn into_device(self, id: Id, app: Id, now: Timestamp) -> Result<Device, FieldError> {
        let _ = (&self.edge_agent_version, &self.system_interval);
        check_name("name", &self.name)?;
        check_description("description", &self.description)?;
        let device_class = self.device_class.unwrap_or_else(|| "standalone".into());
        check_class(&device_class)?;
        check_tags("tags", &self.tags)?;
        check_attributes(&self.attributes)?;
        Ok(Device {
            id,
            application_id: app,
            name: self.name,
            description: self.description,
            device_class,
            parent_id: parse_opt_id("parentId", &self.parent_id)?,
            gateway_id: parse_opt_id("gatewayId", &self.gateway_id)?,
            tags: self.tags,
            attributes: self.attributes,
            connected: None,
            connected_at: None,
            disconnected_at: None,
            creation_date: now,
            last_updated: now,
        })
    }
}

/// `PATCH .../devices/{deviceId}` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DevicePatch {
    name: Option<String>,
    description: Option<String>,
    device_class: Option<String>,
    tags: Option<Vec<Tag>>,
    attributes: Option<Vec<Attribute>>,
    #[serde(default, deserialize_with = "nullable")]
    gateway_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<String>>,
    #[serde(default)]
    edge_agent_version: Option<Value>,
    #[serde(default)]
    system_interval: Option<Value>,
}

impl DevicePatch {
    /// Applies the changes to `d` (validated; `d` is untouched on error).
    pub fn apply(self, d: &Device, now: Timestamp) -> Result<Device, FieldError> {
        let _ = (&self.edge_agent_version, &self.system_interval);
        let mut n = d.clone();
        super::patch_text(self.name, self.description, &mut n.name, &mut n.description)?;
        if let Some(v) = self.device_class {
            check_class(&v)?;
            n.device_class = v;
        }
        if let Some(v) = self.tags {
            check_tags("tags", &v)?;
            n.tags = v;
        }
        if let Some(v) = self.attributes {
            check_attributes(&v)?;
            n.attributes = v;
        }
        if let Some(v) = self.gateway_id {
            n.gateway_id = parse_opt_id("gatewayId", &v)?;
        }
        if let Some(v) = self.parent_id {
            n.parent_id = parse_opt_id("parentId", &v)?;
            if n.parent_id.as_ref() == Some(&n.id) {
                return Err(FieldError::new(
                    "parentId",
                    "a device cannot be its own parent",
                ));
            }
        }
        n.last_updated = now;
        Ok(n)
    }
}

/// `connectionInfo` of a device: `{"connected": null}` when never reported, else
/// `{"connected": 1|0, "time": ...}`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConnectionInfo {
    /// `1` connected, `0` disconnected, `null` never reported.
    pub connected: Option<u8>,
    /// The last connection (or disconnection) instant; absent when never reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Option<Timestamp>>,
}

/// The REST shape of a device (`device.json`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Id.
    pub id: Id,
    /// The same id.
    pub device_id: Id,
    /// Owning application.
    pub application_id: Id,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// One of the device classes.
    pub device_class: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
    /// Parent device.
    pub parent_id: Option<Id>,
    /// Gateway of a peripheral; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Id>,
    /// Connection status.
    pub connection_info: ConnectionInfo,
}

impl Device {
    /// The REST shape (`device.json`).
    pub fn view(&self) -> DeviceView {
        let (connected, time) = match self.connected {
            None => (None, None),
            Some(true) => (Some(1), Some(self.connected_at)),
            Some(false) => (Some(0), Some(self.disconnected_at)),
        };
        DeviceView {
            id: self.id.clone(),
            device_id: self.id.clone(),
            application_id: self.application_id.clone(),
            creation_date: self.creation_date,
            last_updated: self.last_updated,
            name: self.name.clone(),
            description: self.description.clone(),
            device_class: self.device_class.clone(),
            tags: self.tags.clone(),
            attributes: self.attributes.clone(),
            parent_id: self.parent_id.clone(),
            gateway_id: self.gateway_id.clone(),
            connection_info: ConnectionInfo { connected, time },
        }
    }

    /// [`Device::view`] as a JSON value (what workflows and the store read).
    pub fn to_json(&self) -> Value {
        super::to_value(&self.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> Id {
        Id::parse("575ec8687ae143cd83dc4a97").unwrap()
    }

    #[test]
    fn post_defaults_and_errors() {
        let p: DevicePost = serde_json::from_value(json!({"name": "pump"})).unwrap();
        let d = p
            .into_device(id(), id(), Timestamp::from_millis(0))
            .unwrap();
        assert_eq!(d.device_class, "standalone");
        let bad: DevicePost =
            serde_json::from_value(json!({"name": "p", "tags": [{"key": "a b", "value": "x"}]}))
                .unwrap();
        let e = bad
            .into_device(id(), id(), Timestamp::from_millis(0))
            .unwrap_err();
        assert_eq!(e.field, "tags[0].key");
        assert!(serde_json::from_value::<DevicePost>(json!({"name": "p", "color": 1})).is_err());
        let ignored: DevicePost =
            serde_json::from_value(json!({"name": "p", "systemInterval": 5})).unwrap();
        assert!(ignored
            .into_device(id(), id(), Timestamp::from_millis(0))
            .is_ok());
    }
}
