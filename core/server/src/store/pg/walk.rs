//! The guard's walk over one parsed statement ([`super::guard`]): which statements, tables,
//! CTE names and functions a plugin may use.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    AlterTableOperation, ColumnOption, ColumnOptionDef, Ident, ObjectName, ObjectType, Query,
    RenameTableNameKind, Select, SetExpr, Statement, TableConstraint, TableFactor, TableObject,
    Visitor,
};

use super::guard::{Refusal, FUNCTIONS};
use crate::store::guard::Owner;

/// A name as PostgreSQL resolves it: unquoted folds to lower case.
fn folded(ident: &Ident) -> String {
    match ident.quote_style {
        None => ident.value.to_ascii_lowercase(),
        Some(_) => ident.value.clone(),
    }
}

/// A one-part name; schema-qualified names (`pg_catalog.x`, `public.users`) are `None`.
fn single(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [part] => part.as_ident().map(folded),
        _ => None,
    }
}

pub(super) struct Walk {
    owner: Owner,
    /// The CTE names visible in each query being walked, innermost last.
    scopes: Vec<Vec<String>>,
    /// CTE bodies (by address in the tree being walked) and the CTE names visible in each: in
    /// a plain `WITH` only the earlier ones, in `WITH RECURSIVE` the earlier ones and itself.
    cte_bodies: HashMap<*const Query, Vec<String>>,
    /// The next relation is a function's name in FROM, already checked against the list.
    function_in_from: bool,
}

impl Walk {
    pub(super) fn new(owner: Owner) -> Self {
        Walk {
            owner,
            scopes: Vec::new(),
            cte_bodies: HashMap::new(),
            function_in_from: false,
        }
    }

    fn deny<T>(&self, r: Refusal) -> ControlFlow<Refusal, T> {
        ControlFlow::Break(r)
    }

    /// A table the statement reads or writes, where a CTE of that name may stand in.
    fn relation(&self, name: &ObjectName) -> ControlFlow<Refusal> {
        if let Some(n) = single(name) {
            if self.scopes.last().is_some_and(|s| s.contains(&n)) {
                return ControlFlow::Continue(());
            }
        }
        self.table(name)
    }

    /// A real table (DML and DDL targets, foreign keys): the plugin's, whatever CTE is in scope.
    fn table(&self, name: &ObjectName) -> ControlFlow<Refusal> {
        match single(name) {
            Some(n) if !n.starts_with("pg_") && self.owner.owns(&n) => ControlFlow::Continue(()),
            _ => self.deny(Refusal::table(self.owner, &name.to_string())),
        }
    }

    fn index(&self, name: &ObjectName, table: &str) -> ControlFlow<Refusal> {
        match single(name) {
            Some(n) if self.owner.owns_index(&n) => ControlFlow::Continue(()),
            _ => self.deny(Refusal(format!(
                "plugin {} may not create or drop `{name}` on `{table}`",
                self.owner.plugin
            ))),
        }
    }

    fn function(&self, name: &ObjectName) -> ControlFlow<Refusal> {
        match single(name) {
            Some(n) if FUNCTIONS.contains(&n.as_str()) => ControlFlow::Continue(()),
            _ => self.deny(Refusal::run(self.owner, &format!("function {name}"))),
        }
    }

    fn foreign_keys<'a>(
        &self,
        options: impl IntoIterator<Item = &'a ColumnOptionDef>,
        constraints: impl IntoIterator<Item = &'a TableConstraint>,
    ) -> ControlFlow<Refusal> {
        for o in options {
            if let ColumnOption::ForeignKey(fk) = &o.option {
                self.table(&fk.foreign_table)?;
            }
        }
        for c in constraints {
            if let TableConstraint::ForeignKey(fk) = c {
                self.table(&fk.foreign_table)?;
            }
        }
        ControlFlow::Continue(())
    }

    fn statement(&self, s: &Statement) -> ControlFlow<Refusal> {
        match s {
            Statement::Query(_) => ControlFlow::Continue(()),
            Statement::Insert(i) => match &i.table {
                TableObject::TableName(t) => self.table(t),
                _ => self.deny(Refusal::run(self.owner, "INSERT INTO that")),
            },
            Statement::Update(u) => match &u.table.relation {
                TableFactor::Table { name, .. } => self.table(name),
                _ => self.deny(Refusal::run(self.owner, "UPDATE of that")),
            },
            Statement::Delete(d) => {
                if !d.tables.is_empty() {
                    return self.deny(Refusal::run(self.owner, "a multi-table DELETE"));
                }
                let (sqlparser::ast::FromTable::WithFromKeyword(from)
                | sqlparser::ast::FromTable::WithoutKeyword(from)) = &d.from;
                for t in from {
                    match &t.relation {
                        TableFactor::Table { name, .. } => self.table(name)?,
                        _ => return self.deny(Refusal::run(self.owner, "DELETE from that")),
                    }
                }
                ControlFlow::Continue(())
            }
            Statement::CreateTable(c) => {
                if c.inherits.is_some()
                    || c.partition_of.is_some()
                    || c.like.is_some()
                    || c.clone.is_some()
                {
                    return self.deny(Refusal::run(
                        self.owner,
                        "CREATE TABLE with INHERITS, PARTITION OF, LIKE or CLONE",
                    ));
                }
                self.table(&c.name)?;
                self.foreign_keys(c.columns.iter().flat_map(|d| &d.options), &c.constraints)
            }
            Statement::CreateIndex(c) => {
                self.table(&c.table_name)?;
                match &c.name {
                    Some(n) => self.index(n, &c.table_name.to_string()),
                    None => ControlFlow::Continue(()),
                }
            }
            Statement::CreateView(v) => self.table(&v.name),
            Statement::AlterTable(a) => {
                self.table(&a.name)?;
                for op in &a.operations {
                    match op {
                        AlterTableOperation::RenameTable {
                            table_name: RenameTableNameKind::As(n) | RenameTableNameKind::To(n),
                        } => self.table(n)?,
                        AlterTableOperation::AddColumn { column_def, .. } => {
                            self.foreign_keys(&column_def.options, [])?;
                        }
                        AlterTableOperation::AddConstraint { constraint, .. } => {
                            self.foreign_keys([], [constraint])?;
                        }
                        AlterTableOperation::DropColumn { .. }
                        | AlterTableOperation::RenameColumn { .. }
                        | AlterTableOperation::AlterColumn { .. }
                        | AlterTableOperation::DropConstraint { .. }
                        | AlterTableOperation::RenameConstraint { .. }
                        | AlterTableOperation::ValidateConstraint { .. } => {}
                        // `INHERIT users` or `ATTACH PARTITION users` would put this table's
                        // rows into another's reads (or theirs into its own).
                        other => {
                            let what = format!("ALTER TABLE {other}");
                            return self.deny(Refusal::run(self.owner, &what));
                        }
                    }
                }
                ControlFlow::Continue(())
            }
            Statement::Drop {
                object_type,
                names,
                cascade,
                ..
            } => {
                if *cascade {
                    return self.deny(Refusal::run(self.owner, "DROP ... CASCADE"));
                }
                for n in names {
                    match object_type {
                        ObjectType::Table | ObjectType::View => self.table(n)?,
                        ObjectType::Index => self.index(n, "?")?,
                        _ => {
                            return self
                                .deny(Refusal::run(self.owner, &format!("DROP {object_type}")))
                        }
                    }
                }
                ControlFlow::Continue(())
            }
            other => self.deny(Refusal::run(self.owner, &kind(other))),
        }
    }
}

/// The statement's kind (its variant's name, as `COPY` is `Copy`), for the log.
fn kind(s: &Statement) -> String {
    format!("{s:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// `TABLE name` (a whole table as a query) and `MERGE` inside a query.
fn set_expr(walk: &Walk, body: &SetExpr) -> ControlFlow<Refusal> {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            set_expr(walk, left)?;
            set_expr(walk, right)
        }
        SetExpr::Table(_) => walk.deny(Refusal::run(walk.owner, "TABLE")),
        SetExpr::Merge(_) => walk.deny(Refusal::run(walk.owner, "MERGE")),
        _ => ControlFlow::Continue(()),
    }
}

impl Visitor for Walk {
    type Break = Refusal;

    fn pre_visit_statement(&mut self, s: &Statement) -> ControlFlow<Refusal> {
        self.statement(s)
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<Refusal> {
        let inherited = self
            .cte_bodies
            .remove(&std::ptr::from_ref(q))
            .or_else(|| self.scopes.last().cloned())
            .unwrap_or_default();
        let mut visible = inherited.clone();
        if let Some(with) = &q.with {
            let names: Vec<String> = with
                .cte_tables
                .iter()
                .map(|c| folded(&c.alias.name))
                .collect();
            for (i, cte) in with.cte_tables.iter().enumerate() {
                let upto = if with.recursive { i + 1 } else { i };
                let mut scope = inherited.clone();
                scope.extend(names[..upto].iter().cloned());
                self.cte_bodies
                    .insert(std::ptr::from_ref(&*cte.query), scope);
            }
            visible.extend(names);
        }
        self.scopes.push(visible);
        set_expr(self, &q.body)
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<Refusal> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<Refusal> {
        if s.into.is_some() {
            return self.deny(Refusal::run(self.owner, "SELECT INTO"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<Refusal> {
        if std::mem::take(&mut self.function_in_from) {
            return ControlFlow::Continue(());
        }
        self.relation(name)
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<Refusal> {
        match t {
            // A function in FROM (`FROM pg_ls_dir(...)`): the list, not table ownership.
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => {
                self.function_in_from = true;
                self.function(name)
            }
            TableFactor::Table { .. }
            | TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. } => ControlFlow::Continue(()),
            _ => self.deny(Refusal::run(self.owner, "that kind of FROM item")),
        }
    }

    fn pre_visit_expr(&mut self, e: &sqlparser::ast::Expr) -> ControlFlow<Refusal> {
        match e {
            sqlparser::ast::Expr::Function(f) => self.function(&f.name),
            _ => ControlFlow::Continue(()),
        }
    }
}
