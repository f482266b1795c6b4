//! The field set of each resource type (reference §6.2), resolved to field kinds.
//!
//! Why a table of its own: it is the one place that says which JSON key means what for which
//! resource, so the parser stays generic and adding a field is a one-line change.

use crate::ast::{ColumnType, DateField, IdField, ResourceType, TableSchema, TextField};

/// What a query key refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldKind {
    Id(IdField),
    Text(TextField),
    Date(DateField),
    Number(String),
    Bool(String),
    Tags,
}

/// Why a key was not resolved.
pub(crate) enum Unknown {
    Field,
    BadColumnName,
    Column,
}

/// Data-table column names in queries: `^[0-9a-zA-Z_-]{1,255}$`.
pub(crate) fn is_column_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) fn lookup(
    rt: ResourceType,
    key: &str,
    table: Option<&TableSchema>,
) -> Result<FieldKind, Unknown> {
    use DateField as D;
    use FieldKind as K;
    use IdField as I;
    let kind = match rt {
        ResourceType::Device => match key {
            "id" => K::Id(I::Own),
            "gatewayId" => K::Id(I::Gateway),
            "parentId" => K::Id(I::Parent),
            "ancestorId" => K::Id(I::Ancestor),
            "experienceUserId" => K::Id(I::UsersOfDevice),
            "experienceGroupId" => K::Id(I::GroupsOfDevice),
            "creationDate" => K::Date(D::CreationDate),
            "lastUpdated" => K::Date(D::LastUpdated),
            "deletedAt" => K::Date(D::DeletedAt),
            "connectedAt" => K::Date(D::ConnectedAt),
            "disconnectedAt" => K::Date(D::DisconnectedAt),
            "name" => K::Text(TextField::Name),
            "deviceClass" => K::Text(TextField::DeviceClass),
            "attributeName" => K::Text(TextField::AttributeName),
            "connectionStatus" => K::Text(TextField::ConnectionStatus),
            "tags" => K::Tags,
            _ => return Err(Unknown::Field),
        },
        ResourceType::ExperienceUser => match key {
            "id" => K::Id(I::Own),
            "experienceGroupId" => K::Id(I::GroupsOfUser),
            "creationDate" => K::Date(D::CreationDate),
            "lastUpdated" => K::Date(D::LastUpdated),
            "lastLogin" => K::Date(D::LastLogin),
            "passwordLastUpdated" => K::Date(D::PasswordLastUpdated),
            "firstName" => K::Text(TextField::FirstName),
            "lastName" => K::Text(TextField::LastName),
            "email" => K::Text(TextField::Email),
            "userTags" => K::Tags,
            _ => return Err(Unknown::Field),
        },
        ResourceType::ExperienceGroup => match key {
            "id" => K::Id(I::Own),
            "parentId" => K::Id(I::Parent),
            "ancestorId" => K::Id(I::Ancestor),
            "experienceUserId" => K::Id(I::UsersOfGroup),
            "experienceEndpointId" => K::Id(I::Unmodelled),
            "creationDate" => K::Date(D::CreationDate),
            "lastUpdated" => K::Date(D::LastUpdated),
            "name" => K::Text(TextField::Name),
            "groupTags" => K::Tags,
            _ => return Err(Unknown::Field),
        },
        ResourceType::DataTableRow => match key {
            "id" => K::Id(I::Own),
            "createdAt" => K::Date(D::CreationDate),
            "updatedAt" => K::Date(D::LastUpdated),
            _ => {
                if !is_column_name(key) {
                    return Err(Unknown::BadColumnName);
                }
                match table.and_then(|t| t.column(key)) {
                    Some(ColumnType::String) => K::Text(TextField::Column(key.to_owned())),
                    Some(ColumnType::Number) => K::Number(key.to_owned()),
                    Some(ColumnType::Boolean) => K::Bool(key.to_owned()),
                    None => return Err(Unknown::Column),
                }
            }
        },
    };
    Ok(kind)
}
