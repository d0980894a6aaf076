//! D1 natively: SQLite (the engine D1 runs) in memory with the schema of
//! `migrations/`, driven as the JavaScript driver drives D1. A list of
//! statements is one batch, run in one transaction (all or nothing); each
//! statement's rows come back as D1's `results`, JSON objects keyed by column
//! name.

use leadnest_edge::event_log::{Param, Statement};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use serde_json::{Map, Value};

/// What one batch gave: per statement, its rows and the rows it changed
/// (D1's `results` and `meta.changes`).
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

pub struct D1 {
    db: Connection,
}

impl D1 {
    /// A fresh database with every migration applied, in file-name order.
    pub fn migrated() -> Self {
        let db = Connection::open_in_memory().unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no migrations in {dir}");
        for file in files {
            db.execute_batch(&std::fs::read_to_string(&file).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        Self { db }
    }

    /// Runs `statements` as one D1 batch: one transaction, rolled back whole
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

    /// A write the driver makes: it must succeed.
    pub fn write(&self, statements: &[Statement]) {
        if let Err(error) = self.batch(statements) {
            panic!("the batch failed: {error}");
        }
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
        // for, as D1 does.
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

    /// The database's size in bytes, as D1 reports it (`meta.size_after`).
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

/// A value as D1 gives it to JavaScript, then `JSON.stringify`.
fn json(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => n.into(),
        ValueRef::Real(x) => x.into(),
        ValueRef::Text(bytes) => Value::String(std::str::from_utf8(bytes).unwrap().to_string()),
        ValueRef::Blob(bytes) => bytes.to_vec().into(),
    }
}
