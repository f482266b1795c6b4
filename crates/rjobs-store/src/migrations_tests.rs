//! The migrations as they shipped: every rendered migration keeps its SHA-384 (the checksum sqlx
//! recorded in every database that ran it), every file is listed, and the template marks work.

use super::*;

/// `(file, SQLite SHA-384, PostgreSQL SHA-384)` of every shipped migration, as recorded in
/// `_sqlx_migrations` by the databases that ran them. A new migration adds its row.
const SHIPPED: &[(&str, &str, &str)] = &[
    (
        "0001_init.sql",
        "64b767047b96047360052684871a18d11d7df801630eed71c67158c9e04af376c27301cf234be425ca17eb9bf5b2898a",
        "58512198d6dc8c3e964903dccac9c8dd7a323ddc2538aff2a6eb6bb765596d2046da77d95a302f9ce280466081429b53",
    ),
    (
        "0002_resources.sql",
        "059d527a513fa51d44cf5ce67f5a8b29b68aa48729b80725f635c0d3657d1f1a0acdbb6e5b7e52ba828d1fa6feccaf8b",
        "b86e4424b593385c8ac86296f7b3bc759fb8583f7910af4d76bd9875160f3050f10fb7f606beb0532c8a9935ec7cf2e5",
    ),
    (
        "0010_resource_jobs.sql",
        "e815f6eec94e57fffb1eedc60a69d47a7ac080ab63d4d1d528625b6365429f11ac4c8960a8bf0909b585afe7b840a5d9",
        "11e58f07e13f751c6f33fc1c20601b923a56aa33cca7f2c7e7f38a038137a74296f9716471824a742e2fa9d312d14803",
    ),
    (
        "0011_executions.sql",
        "b8305f88fe8f201bc0902c53abc946ac7f49068e50d378cb847a36e8c12af0e465a9b65c081dbb9ff9c7ecb880e7ab71",
        "b8305f88fe8f201bc0902c53abc946ac7f49068e50d378cb847a36e8c12af0e465a9b65c081dbb9ff9c7ecb880e7ab71",
    ),
    (
        "0013_flows.sql",
        "5b007c143b3e81605c222a8a7741108cc67df46ac3d582e1e45e84a8dcb54149b541adaff4be6b51b3dba11e42cdf4d5",
        "24f0feebd8dfb9fe0976c78e10a426e2fd5b957f35fb572aa3a2e5f92ed93642be4097157138d7be8242ca0b1e36a95c",
    ),
    (
        "0014_cluster.sql",
        "8b047eeacf2a707bb7668c71acc569998a710fc64582a2245a678262560871da1a2a02ccf0d5686fd0015149dd5c8367",
        "8b047eeacf2a707bb7668c71acc569998a710fc64582a2245a678262560871da1a2a02ccf0d5686fd0015149dd5c8367",
    ),
    (
        "0015_counters.sql",
        "10ecceacb86ff6a38d9984d32d8b11320bcbb50df636971db3b994e59e86072df86ba2db41757cca6778d7a3714c63d7",
        "10ecceacb86ff6a38d9984d32d8b11320bcbb50df636971db3b994e59e86072df86ba2db41757cca6778d7a3714c63d7",
    ),
    (
        "0016_controls.sql",
        "c165492bc539a6c660b0a07141b8dfd8f16a3d634a8d482d15bfbac7b5143d3f0c8377c4c928b604d71ece5ff24980c9",
        "8ca9d5afa8fe262cf04d32599ccfab96b2338f7ad9f0af6d8b65189c6fb149a85f29585b6607c6ad87de787a7549d2d6",
    ),
    (
        "0017_timers.sql",
        "564f3e6ff69ae59c2ff4b902ae0f682c93dc8d9eb4d3c62da93e11f4620faba65c1bec03a12fba4ad938ad0f89920618",
        "564f3e6ff69ae59c2ff4b902ae0f682c93dc8d9eb4d3c62da93e11f4620faba65c1bec03a12fba4ad938ad0f89920618",
    ),
    (
        "0020_finish_order.sql",
        "dd07b7aece7298c10c17c9e79095a718da40d6d67aa8d1cb87d478664d29597814487b5a536413526ed79826b69b2778",
        "dd07b7aece7298c10c17c9e79095a718da40d6d67aa8d1cb87d478664d29597814487b5a536413526ed79826b69b2778",
    ),
    (
        "0021_drop_unstamped.sql",
        "385677774824e32ce411672f46b9178423b9cfac744df352a2bc33bf5e6b9d2c88daec2748c8ae9d1d95bf0d86b85450",
        "385677774824e32ce411672f46b9178423b9cfac744df352a2bc33bf5e6b9d2c88daec2748c8ae9d1d95bf0d86b85450",
    ),
    (
        "0030_webhooks.sql",
        "47f9631689b6c4e7ac57e582361cfaf8dd07948699539f48c98c991ccf07a0396f6a8418d1cabb3ea1bc62036baac8b0",
        "47f9631689b6c4e7ac57e582361cfaf8dd07948699539f48c98c991ccf07a0396f6a8418d1cabb3ea1bc62036baac8b0",
    ),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_shipped_migration_keeps_its_checksum_on_both_backends() {
    for (backend, column) in [(Backend::Sqlite, 1), (Backend::Postgres, 2)] {
        let ms = migrations(backend);
        assert_eq!(
            ms.len(),
            SHIPPED.len(),
            "{backend:?}: one pinned row per migration"
        );
        for (m, pin) in ms.iter().zip(SHIPPED) {
            let (version, description) = version_and_description(pin.0);
            assert_eq!(
                (m.version, m.description.as_ref()),
                (version, description.as_str())
            );
            let want = if column == 1 { pin.1 } else { pin.2 };
            assert_eq!(
                hex(&m.checksum),
                want,
                "{backend:?} {}: the text changed",
                pin.0
            );
            assert!(
                !m.sql.contains("{{") && !m.sql.contains("\n@"),
                "{}: marks left",
                pin.0
            );
        }
    }
}

#[test]
fn versions_ascend_and_every_file_is_listed() {
    let versions: Vec<i64> = MIGRATIONS
        .iter()
        .map(|(f, _)| version_and_description(f).0)
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut on_disk = Vec::new();
    for sub in ["", "/sqlite", "/postgres"] {
        for e in std::fs::read_dir(format!("{dir}{sub}")).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                on_disk.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    on_disk.sort();
    on_disk.dedup();
    let mut listed: Vec<String> = MIGRATIONS.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "a file in migrations/ that is not in MIGRATIONS, or the reverse"
    );
    for (f, t) in MIGRATIONS {
        if let Text::PerBackend { .. } = t {
            assert!(
                !std::path::Path::new(&format!("{dir}/{f}")).exists(),
                "{f}: shared and per-backend at once"
            );
        }
    }
}

#[test]
fn template_marks_render_per_backend() {
    let t = "a TEXT{{collate_c}} NOT NULL,\n@sqlite b INTEGER,\n@postgres b BIGINT,\nc";
    for (backend, want) in [
        (Backend::Sqlite, "a TEXT NOT NULL,\nb INTEGER,\nc"),
        (
            Backend::Postgres,
            "a TEXT COLLATE \"C\" NOT NULL,\nb BIGINT,\nc",
        ),
    ] {
        assert_eq!(render(t, backend), want);
    }
    // A mark elsewhere than at the start of a line is text, and a trailing newline stays.
    assert_eq!(render("x @sqlite y\n", Backend::Postgres), "x @sqlite y\n");
}
