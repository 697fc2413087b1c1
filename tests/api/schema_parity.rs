//! The two migration folders describe one schema: after migrating a fresh
//! SQLite file and a fresh PostgreSQL database, both have the same tables,
//! the same columns (types normalised to what both backends store), the
//! same indexes and the same constraints.

use std::collections::BTreeSet;

use civitas::store::{Pool, Store};
use sqlx::Row;

use crate::support::db::{Backend, TestDb, skipped};

/// One fact of a schema, comparable across backends.
type Facts = BTreeSet<String>;

/// The type class both backends agree on: SQLite keeps UUIDs in BLOBs,
/// every integer width in INTEGER and dates as text.
fn normalise(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "blob" | "bytea" | "uuid" => "blob",
        "integer" | "bigint" | "smallint" | "int" | "int2" | "int4" | "int8" => "integer",
        "text" | "date" | "character varying" | "varchar" => "text",
        "boolean" | "bool" => "boolean",
        _ => "other",
    }
}

/// Tables that belong to the migrator or the engine, not to Civitas.
fn ours(table: &str) -> bool {
    !table.starts_with("_sqlx") && !table.starts_with("sqlite_")
}

async fn sqlite_facts(pool: &sqlx::SqlitePool) -> Facts {
    let mut facts = Facts::new();
    let tables: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(pool)
            .await
            .unwrap();
    for (table, sql) in tables.iter().filter(|(t, _)| ours(t)) {
        facts.insert(format!("table {table}"));
        let checks = sql.to_ascii_uppercase().matches("CHECK (").count()
            + sql.to_ascii_uppercase().matches("CHECK(").count();
        facts.insert(format!("{table} checks {checks}"));
        let columns = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        let mut primary: Vec<(i64, String)> = Vec::new();
        for c in columns {
            let name: String = c.get("name");
            let declared: String = c.get("type");
            let pk: i64 = c.get("pk");
            if pk > 0 {
                primary.push((pk, name.clone()));
            }
            let not_null: bool = c.get::<i64, _>("notnull") == 1 || pk > 0;
            facts.insert(format!(
                "{table}.{name} {} {}",
                normalise(&declared),
                if not_null { "not null" } else { "null" }
            ));
        }
        primary.sort();
        let primary: Vec<String> = primary.into_iter().map(|(_, name)| name).collect();
        facts.insert(format!("{table} primary key ({})", primary.join(", ")));
        let keys = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for k in keys {
            let from: String = k.get("from");
            let to_table: String = k.get("table");
            let to: Option<String> = k.get("to");
            facts.insert(format!(
                "{table}.{from} references {to_table}.{}",
                to.unwrap_or_default()
            ));
        }
        let indexes = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for i in indexes {
            let name: String = i.get("name");
            let unique: bool = i.get::<i64, _>("unique") == 1;
            let origin: String = i.get("origin");
            // The primary key is a fact of its own (SQLite keeps an integer
            // one as the rowid, with no index).
            if origin == "pk" {
                continue;
            }
            let partial: bool = i.get::<i64, _>("partial") == 1;
            let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
            )))
            .fetch_all(pool)
            .await
            .unwrap();
            facts.insert(index_fact(
                table,
                &columns,
                unique,
                partial,
                (origin == "c").then_some(name.as_str()),
            ));
        }
    }
    facts
}

/// An index: its table, columns, uniqueness and whether it is partial; an
/// index created by name (not by a key or UNIQUE constraint) by its name.
fn index_fact(
    table: &str,
    columns: &[String],
    unique: bool,
    partial: bool,
    name: Option<&str>,
) -> String {
    format!(
        "index on {table} ({}){}{}{}",
        columns.join(", "),
        if unique { " unique" } else { "" },
        if partial { " partial" } else { "" },
        name.map(|n| format!(" named {n}")).unwrap_or_default()
    )
}

async fn postgres_facts(pool: &sqlx::PgPool) -> Facts {
    let mut facts = Facts::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for table in tables.iter().filter(|t| ours(t)) {
        facts.insert(format!("table {table}"));
        let checks: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             WHERE t.relname = $1 AND c.contype = 'c'",
        )
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap();
        facts.insert(format!("{table} checks {checks}"));
        let columns = sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS type, \
             is_nullable::text AS nullable FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
        for c in columns {
            let name: String = c.get("name");
            let declared: String = c.get("type");
            let nullable: String = c.get("nullable");
            facts.insert(format!(
                "{table}.{name} {} {}",
                normalise(&declared),
                if nullable == "NO" { "not null" } else { "null" }
            ));
        }
        let primary: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
             WHERE t.relname = $1 AND c.contype = 'p' ORDER BY k.n",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
        facts.insert(format!("{table} primary key ({})", primary.join(", ")));
        let keys = sqlx::query(
            "SELECT a.attname::text AS from_column, rt.relname::text AS to_table, \
             ra.attname::text AS to_column \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             JOIN pg_class rt ON rt.oid = c.confrelid \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1] \
             WHERE t.relname = $1 AND c.contype = 'f'",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
        for k in keys {
            let from: String = k.get("from_column");
            let to_table: String = k.get("to_table");
            let to: String = k.get("to_column");
            facts.insert(format!("{table}.{from} references {to_table}.{to}"));
        }
        let indexes = sqlx::query(
            "SELECT i.relname::text AS name, x.indisunique AS is_unique, \
             x.indpred IS NOT NULL AS partial, \
             EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) AS backs, \
             ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
                   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum \
                   ORDER BY k.n) AS columns \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = $1 AND NOT x.indisprimary",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
        for i in indexes {
            let name: String = i.get("name");
            let backs_constraint: bool = i.get("backs");
            let columns: Vec<String> = i.get("columns");
            facts.insert(index_fact(
                table,
                &columns,
                i.get("is_unique"),
                i.get("partial"),
                (!backs_constraint).then_some(name.as_str()),
            ));
        }
    }
    facts
}

#[tokio::test]
async fn postgres_schema_matches_sqlite() {
    if skipped(Backend::Postgres) {
        return;
    }
    let sqlite_db = TestDb::empty(Backend::Sqlite).await;
    let postgres_db = TestDb::empty(Backend::Postgres).await;
    let sqlite = Store::connect(&sqlite_db.url, Some(1)).await.unwrap();
    sqlite.migrate().await.unwrap();
    let postgres = Store::connect(&postgres_db.url, Some(1)).await.unwrap();
    postgres.migrate().await.unwrap();
    let (Pool::Sqlite(lite), Pool::Postgres(pg)) = (sqlite.pool(), postgres.pool()) else {
        unreachable!()
    };
    let on_sqlite = sqlite_facts(lite).await;
    let on_postgres = postgres_facts(pg).await;
    sqlite.close().await;
    postgres.close().await;
    sqlite_db.drop_db().await;
    postgres_db.drop_db().await;

    assert!(on_sqlite.len() > 100, "the schema was read: {on_sqlite:#?}");
    let only_sqlite: Vec<_> = on_sqlite.difference(&on_postgres).collect();
    let only_postgres: Vec<_> = on_postgres.difference(&on_sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migration folders drifted apart\nonly on SQLite: {only_sqlite:#?}\nonly on PostgreSQL: {only_postgres:#?}"
    );
}
