-- Resources that resource jobs iterate over. Times are unix milliseconds (BIGINT) bound from the
-- injected Clock; JSON documents are TEXT here and JSONB-free TEXT on PostgreSQL too, so both
-- backends store byte-identical documents. Tag tables exist so that tag queries use an index.

CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    application_id   TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name             TEXT{{collate_c}} NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    device_class     TEXT NOT NULL DEFAULT 'standalone',
    parent_id        TEXT,
    gateway_id       TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',
    attributes       TEXT NOT NULL DEFAULT '[]',
@sqlite     connected        INTEGER,            -- NULL: never reported; 1 connected; 0 disconnected
@postgres     connected        BIGINT,             -- NULL: never reported; 1 connected; 0 disconnected
    connected_at     BIGINT,
    disconnected_at  BIGINT,
    creation_date    BIGINT NOT NULL,
    last_updated     BIGINT NOT NULL
);
CREATE INDEX devices_app_id ON devices(application_id, id);
CREATE INDEX devices_app_name ON devices(application_id, name);
CREATE INDEX devices_app_parent ON devices(application_id, parent_id);
CREATE INDEX devices_app_gateway ON devices(application_id, gateway_id);
CREATE INDEX devices_app_created ON devices(application_id, creation_date);
CREATE INDEX devices_app_updated ON devices(application_id, last_updated);

CREATE TABLE device_tags (
    device_id        TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    application_id   TEXT NOT NULL,
    key              TEXT{{collate_c}} NOT NULL,
    value            TEXT{{collate_c}} NOT NULL
);
CREATE INDEX device_tags_kv ON device_tags(application_id, key, value, device_id);
CREATE INDEX device_tags_v ON device_tags(application_id, value, device_id);
CREATE INDEX device_tags_dev ON device_tags(device_id);

CREATE TABLE data_tables (
    id               TEXT PRIMARY KEY,
    application_id   TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name             TEXT{{collate_c}} NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    columns          TEXT NOT NULL DEFAULT '[]',
    creation_date    BIGINT NOT NULL,
    last_updated     BIGINT NOT NULL
);
CREATE INDEX data_tables_app ON data_tables(application_id, name);

CREATE TABLE data_table_rows (
    id               TEXT PRIMARY KEY,
    application_id   TEXT NOT NULL,
    data_table_id    TEXT NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
    data             TEXT NOT NULL,     -- JSON object of column name -> value
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX data_table_rows_table ON data_table_rows(data_table_id, id);

CREATE TABLE experience_groups (
    id               TEXT PRIMARY KEY,
    application_id   TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name             TEXT{{collate_c}} NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    parent_id        TEXT,
    group_tags       TEXT NOT NULL DEFAULT '{}',
    creation_date    BIGINT NOT NULL,
    last_updated     BIGINT NOT NULL
);
CREATE INDEX experience_groups_app_id ON experience_groups(application_id, id);
CREATE INDEX experience_groups_app_name ON experience_groups(application_id, name);
CREATE INDEX experience_groups_app_parent ON experience_groups(application_id, parent_id);

CREATE TABLE experience_group_tags (
    group_id         TEXT NOT NULL REFERENCES experience_groups(id) ON DELETE CASCADE,
    application_id   TEXT NOT NULL,
    key              TEXT{{collate_c}} NOT NULL,
    value            TEXT{{collate_c}} NOT NULL
);
CREATE INDEX experience_group_tags_kv ON experience_group_tags(application_id, key, value, group_id);
CREATE INDEX experience_group_tags_grp ON experience_group_tags(group_id);

CREATE TABLE experience_users (
    id                     TEXT PRIMARY KEY,
    application_id         TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    email                  TEXT{{collate_c}} NOT NULL,
    first_name             TEXT NOT NULL DEFAULT '',
    last_name              TEXT NOT NULL DEFAULT '',
    password_hash          TEXT NOT NULL,
    user_tags              TEXT NOT NULL DEFAULT '{}',
    last_login             BIGINT,
    password_last_updated  BIGINT,
    creation_date          BIGINT NOT NULL,
    last_updated           BIGINT NOT NULL,
    UNIQUE (application_id, email)
);
CREATE INDEX experience_users_app_id ON experience_users(application_id, id);

CREATE TABLE experience_user_tags (
    user_id          TEXT NOT NULL REFERENCES experience_users(id) ON DELETE CASCADE,
    application_id   TEXT NOT NULL,
    key              TEXT{{collate_c}} NOT NULL,
    value            TEXT{{collate_c}} NOT NULL
);
CREATE INDEX experience_user_tags_kv ON experience_user_tags(application_id, key, value, user_id);
CREATE INDEX experience_user_tags_usr ON experience_user_tags(user_id);

-- Membership: a user or a device belongs to an experience group.
CREATE TABLE experience_group_users (
    group_id         TEXT NOT NULL REFERENCES experience_groups(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES experience_users(id) ON DELETE CASCADE,
    application_id   TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX experience_group_users_user ON experience_group_users(user_id, group_id);

CREATE TABLE experience_group_devices (
    group_id         TEXT NOT NULL REFERENCES experience_groups(id) ON DELETE CASCADE,
    device_id        TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    application_id   TEXT NOT NULL,
    PRIMARY KEY (group_id, device_id)
);
CREATE INDEX experience_group_devices_dev ON experience_group_devices(device_id, group_id);
