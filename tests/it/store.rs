//! The log's store natively: each shard SQLite in memory (the engine of a
//! SQLite-backed Durable Object) with the log's schema, driven as the
//! JavaScript driver drives a shard. A list of statements is one batch, run
//! in one transaction (all or nothing); each statement's rows come back as
//! JSON objects keyed by column name. The directory lists the shards there
//! are with their figures, as the shards report them.

use std::cell::RefCell;
use std::collections::BTreeMap;

use leadnest_edge::event_log::schema::HELD;
use leadnest_edge::event_log::{Param, Shard, Statement, SCHEMA};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use serde_json::{Map, Value};

/// What one batch gave: per statement, its rows and the rows it changed.
#[derive(Debug)]
pub struct Batch {
    pub results: Vec<Vec<Value>>,
    pub changes: Vec<u64>,
}

impl Batch {
    /// The results as the driver hands them to the core: `[[{…},…],…]`.
    pub fn json(&self) -> String {
        serde_json::to_string(&self.results).unwrap()
    }
}

/// Every shard of the log there is.
#[derive(Default)]
pub struct Log {
    shards: RefCell<BTreeMap<Shard, ShardDb>>,
}

impl Log {
    /// Runs `statements` on `shard` as one batch, the shard made (with its
    /// tables) on its first write as the driver's object does.
    pub fn batch(&self, shard: Shard, statements: &[Statement]) -> Result<Batch, String> {
        self.shards
            .borrow_mut()
            .entry(shard)
            .or_insert_with(ShardDb::new)
            .batch(statements)
    }

    /// Makes `shard` with the tables of `schema` (an older version's), as
    /// that version left it.
    pub fn made_with(&self, shard: Shard, schema: &[&str]) {
        self.shards
            .borrow_mut()
            .insert(shard, ShardDb::with_schema(schema));
    }

    /// What the shard's object does on its first use by this version, a
    /// read or a write: runs the schema again, each statement `IF NOT EXISTS`.
    pub fn reopen(&self, shard: Shard) {
        let shards = self.shards.borrow();
        let db = shards.get(&shard).expect("no such shard");
        for statement in SCHEMA {
            db.db
                .execute_batch(statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }

    /// Runs `statements` on `shard` if it exists, as a query of the admin
    /// API does (the directory names only shards that exist).
    pub fn query(&self, shard: Shard, statements: &[Statement]) -> Result<Batch, String> {
        match self.shards.borrow().get(&shard) {
            Some(db) => db.batch(statements),
            None => Err(format!("no shard {}", shard.name())),
        }
    }

    /// The shards there are.
    pub fn names(&self) -> Vec<Shard> {
        self.shards.borrow().keys().copied().collect()
    }

    /// Drops `shard` whole, as `deleteAll()` does.
    pub fn drop_shard(&self, shard: Shard) {
        self.shards.borrow_mut().remove(&shard);
    }

    /// A write the driver makes: it must succeed.
    pub fn write(&self, records: &Option<(Shard, Vec<Statement>)>) {
        if let Some((shard, statements)) = records {
            if let Err(error) = self.batch(*shard, statements) {
                panic!("the batch failed: {error}");
            }
        }
    }

    /// The directory's answer: each shard with its figures.
    pub fn directory(&self) -> String {
        let rows: Vec<Value> = self
            .shards
            .borrow()
            .iter()
            .map(|(shard, db)| {
                serde_json::json!({
                    "name": shard.name(),
                    "bytes": db.size(),
                    "events": db.number("SELECT COUNT(*) FROM events"),
                    "failed": db.number("SELECT COUNT(*) FROM events WHERE status = 'failed'"),
                    "held": db.number(&format!("SELECT COUNT(*) FROM events WHERE {HELD}")),
                    "oldest": db.rows("SELECT MIN(received_at) AS m FROM events")[0]["m"],
                })
            })
            .collect();
        serde_json::to_string(&rows).unwrap()
    }

    /// A test's own look at the tables: the rows of `sql` in every shard.
    pub fn rows(&self, sql: &str) -> Vec<Value> {
        self.shards
            .borrow()
            .values()
            .flat_map(|db| db.rows(sql))
            .collect()
    }

    /// The one number `sql` selects, over every shard: added up, or the least
    /// or the most for `MIN(` and `MAX(`.
    pub fn number(&self, sql: &str) -> i64 {
        let shards = self.shards.borrow();
        let each = shards.values().filter_map(|db| {
            let rows = db.rows(sql);
            rows.first()?.as_object()?.values().next()?.as_i64()
        });
        if sql.contains("MIN(") {
            each.min().unwrap_or(0)
        } else if sql.contains("MAX(") {
            each.max().unwrap_or(0)
        } else {
            each.sum()
        }
    }

    /// The one text column `sql` selects, row by row, shard by shard.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        self.shards
            .borrow()
            .values()
            .flat_map(|db| db.texts(sql))
            .collect()
    }

    /// Every text value in every column of every table of every shard.
    pub fn every_text(&self) -> Vec<(String, String)> {
        self.shards
            .borrow()
            .values()
            .flat_map(ShardDb::every_text)
            .collect()
    }

    /// How SQLite runs `statement` in a shard: its query plan's lines.
    pub fn plan(&self, statement: &Statement) -> Vec<String> {
        ShardDb::new().plan(statement)
    }

    /// Every shard's bytes.
    pub fn size(&self) -> u64 {
        self.shards.borrow().values().map(ShardDb::size).sum()
    }
}

/// `deliveries` and `attempts` as rows, read from `events.routes`, each
/// delivery's status as the admin API names it (`held` included).
pub const VIEWS: &str = concat!(
    "CREATE TEMP VIEW deliveries AS SELECT e.id AS event_id, d.key AS route, ",
    leadnest_edge::delivery_status!("d.value"),
    " AS status FROM events e, json_each(e.routes) d; \
CREATE TEMP VIEW attempts AS SELECT e.id AS event_id, d.key AS route, \
a.key + 1 AS attempt, json_extract(a.value, '$.at') AS at, \
json_extract(a.value, '$.ms') AS duration_ms, json_extract(a.value, '$.outcome') AS outcome, \
json_extract(a.value, '$.status') AS status, json_extract(a.value, '$.headers') AS headers, \
json_extract(a.value, '$.body') AS body, json_extract(a.value, '$.error') AS error \
FROM events e, json_each(e.routes) d, json_each(d.value, '$.attempts') a;"
);

pub struct ShardDb {
    db: Connection,
}

impl ShardDb {
    /// A shard with the log's tables, and for the tests' own looks two views
    /// of the deliveries and attempts each event's `routes` holds.
    pub fn new() -> Self {
        Self::with_schema(&SCHEMA)
    }

    /// The same with the tables of `schema`.
    pub fn with_schema(schema: &[&str]) -> Self {
        let db = Connection::open_in_memory().unwrap();
        for statement in schema {
            db.execute_batch(statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        db.execute_batch(VIEWS).unwrap();
        Self { db }
    }

    /// Runs `statements` as one batch: one transaction, rolled back whole
    /// when any statement fails.
    pub fn batch(&self, statements: &[Statement]) -> Result<Batch, String> {
        self.db.execute_batch("BEGIN").map_err(|e| e.to_string())?;
        let mut batch = Batch {
            results: Vec::new(),
            changes: Vec::new(),
        };
        for statement in statements {
            match self.run(statement) {
                Ok((rows, changes)) => {
                    batch.results.push(rows);
                    batch.changes.push(changes);
                }
                Err(error) => {
                    self.db.execute_batch("ROLLBACK").unwrap();
                    return Err(format!("{error} in {}", statement.sql));
                }
            }
        }
        self.db.execute_batch("COMMIT").map_err(|e| e.to_string())?;
        Ok(batch)
    }

    fn run(&self, statement: &Statement) -> rusqlite::Result<(Vec<Value>, u64)> {
        let mut prepared = self.db.prepare(&statement.sql)?;
        let names: Vec<String> = prepared
            .column_names()
            .into_iter()
            .map(String::from)
            .collect();
        let params = statement.params.iter().map(|param| match param {
            Param::Text(text) => SqlValue::Text(text.clone()),
            Param::Int(n) => SqlValue::Integer(*n),
            Param::Null => SqlValue::Null,
        });
        // Binding checks that there are exactly as many values as `?N` asks
        // for, as the platform does.
        let mut rows = prepared.query(rusqlite::params_from_iter(params))?;
        let mut objects = Vec::new();
        while let Some(row) = rows.next()? {
            let mut object = Map::new();
            for (i, name) in names.iter().enumerate() {
                object.insert(name.clone(), json(row.get_ref(i)?));
            }
            objects.push(Value::Object(object));
        }
        drop(rows);
        let changes = if prepared.readonly() {
            0
        } else {
            self.db.changes()
        };
        Ok((objects, changes))
    }

    /// How SQLite runs `statement`: its query plan's lines.
    pub fn plan(&self, statement: &Statement) -> Vec<String> {
        let explained = Statement {
            sql: format!("EXPLAIN QUERY PLAN {}", statement.sql).into(),
            params: statement.params.clone(),
        };
        self.run(&explained)
            .unwrap_or_else(|e| panic!("{e} in {}", statement.sql))
            .0
            .iter()
            .map(|row| row["detail"].as_str().unwrap().to_string())
            .collect()
    }

    /// The database's size in bytes, as the platform reports it
    /// (`ctx.storage.sql.databaseSize`).
    pub fn size(&self) -> u64 {
        let pages: u64 = self
            .db
            .query_row("PRAGMA page_count", [], |row| row.get(0))
            .unwrap();
        let page_size: u64 = self
            .db
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .unwrap();
        pages * page_size
    }

    /// A test's own look at the tables: the rows of `sql`.
    pub fn rows(&self, sql: &str) -> Vec<Value> {
        let statement = Statement {
            sql: sql.to_string().into(),
            params: Vec::new(),
        };
        self.run(&statement)
            .unwrap_or_else(|e| panic!("{e} in {sql}"))
            .0
    }

    /// The one number `sql` selects.
    pub fn number(&self, sql: &str) -> i64 {
        let rows = self.rows(sql);
        let row = rows[0].as_object().unwrap();
        row.values().next().unwrap().as_i64().unwrap()
    }

    /// The one text column `sql` selects, row by row.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .iter()
            .map(|row| {
                let value = row.as_object().unwrap().values().next().unwrap();
                value.as_str().unwrap().to_string()
            })
            .collect()
    }

    /// Every text value in every column of every table, with where it is.
    pub fn every_text(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let tables = self.rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        );
        for table in tables {
            let table = table["name"].as_str().unwrap();
            for row in self.rows(&format!("SELECT * FROM \"{table}\"")) {
                for (column, value) in row.as_object().unwrap() {
                    if let Value::String(text) = value {
                        found.push((format!("{table}.{column}"), text.clone()));
                    }
                }
            }
        }
        found
    }
}

/// A value as SQLite gives it to JavaScript, then `JSON.stringify`.
fn json(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => n.into(),
        ValueRef::Real(x) => x.into(),
        ValueRef::Text(bytes) => Value::String(std::str::from_utf8(bytes).unwrap().to_string()),
        ValueRef::Blob(bytes) => bytes.to_vec().into(),
    }
}
