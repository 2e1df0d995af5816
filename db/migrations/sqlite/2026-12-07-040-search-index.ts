import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Trigram full-text indexes behind the `search` filter of workers, locations and cost codes
// (README.md, "Lists"): external-content FTS5 tables over the searched columns, kept in step with
// their table by triggers, so a search reads the index instead of every row of the account.

const INDEXES = [
  { table: 'workers', index: 'workers_search', columns: ['first_name', 'last_name', 'employee_ref'] },
  { table: 'locations', index: 'locations_search', columns: ['name', 'city', 'postcode'] },
  { table: 'cost_codes', index: 'cost_codes_search', columns: ['code', 'name'] }
] as const

export async function up (db: Kysely<any>): Promise<void> {
  for (const { table, index, columns } of INDEXES) {
    const names = sql.join(columns.map((c) => sql.ref(c)))
    const newValues = sql.join(columns.map((c) => sql.ref(`new.${c}`)))
    const oldValues = sql.join(columns.map((c) => sql.ref(`old.${c}`)))
    const fts = sql.table(index)
    // case_sensitive 0 folds case; matches are then checked with the same LIKE as before the index
    await sql`create virtual table ${fts} using fts5(${names}, content=${sql.lit(table)}, content_rowid='id', tokenize='trigram case_sensitive 0')`.execute(db)
    await sql`create trigger ${sql.id(`${index}_insert`)} after insert on ${sql.table(table)} begin
      insert into ${fts} (rowid, ${names}) values (new.id, ${newValues});
    end`.execute(db)
    await sql`create trigger ${sql.id(`${index}_delete`)} after delete on ${sql.table(table)} begin
      insert into ${fts} (${fts}, rowid, ${names}) values ('delete', old.id, ${oldValues});
    end`.execute(db)
    // only when a searched column changes: most updates (active, location, timestamps) leave the index alone
    await sql`create trigger ${sql.id(`${index}_update`)} after update of ${names} on ${sql.table(table)} begin
      insert into ${fts} (${fts}, rowid, ${names}) values ('delete', old.id, ${oldValues});
      insert into ${fts} (rowid, ${names}) values (new.id, ${newValues});
    end`.execute(db)
    await sql`insert into ${fts} (${fts}) values ('rebuild')`.execute(db)
  }
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const { index } of INDEXES) {
    for (const event of ['insert', 'delete', 'update']) await sql`drop trigger ${sql.id(`${index}_${event}`)}`.execute(db)
    await sql`drop table ${sql.table(index)}`.execute(db)
  }
}
