import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { sql } from 'kysely'
import type { Engine } from '../db/engine/engine.js'
import { openEngine } from '../db/engine/open.js'
import type { SqliteEngine } from '../db/engine/sqlite/index.js'
import { isUnavailable } from '../db/engine/postgres/errors.js'
import { copySqliteToPostgres, CopyRefused, CopyVerificationFailed, type TableCopy } from '../db/engine/copy-to-postgres.js'
import { createAccount, listAccounts, setApiEnabled, type AccountRecord } from '../db/accounts.js'
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRecord } from '../db/api-keys.js'
import { createPortalUser, disablePortalUser, listPortalUsers, type PortalUserRecord } from '../db/portal-users.js'
import { generatePassword } from '../domain/passwords.js'
import { createDemoAccount } from '../db/demo.js'
import { parseScopeList } from '../domain/scopes.js'
import { isCalendarDate, parseTimestamp } from '../domain/time.js'
import { checkDatabaseUrl, passwordsOf, redactDatabaseUrl, withoutPassword } from './database-url.js'

/** the most pages better-sqlite3's backup copies in one step: all that remain */
const ALL_REMAINING_PAGES = 0x7fffffff

/** A failure the operator caused: printed as one line, exit code 1. */
export class CliError extends Error {}

/** Where the CLI reads and writes: the process's own streams in bin/tempclock.ts, buffers in tests. */
export interface CliContext {
  stdout: { write: (text: string) => unknown }
  stderr: { write: (text: string) => unknown }
  /** TEMPCLOCK_DB, TEMPCLOCK_DATABASE_URL, HOST and PORT are read from here */
  env: NodeJS.ProcessEnv
  /** read to its end by --password-stdin */
  stdin: AsyncIterable<Buffer | string>
}

async function readAll (input: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks).toString('utf8')
}

interface GlobalOptions { json?: boolean, db?: string, databaseUrl?: string }

/** Where a command works: a SQLite file or a PostgreSQL database, and how it was chosen. */
type Target =
  | { engine: 'sqlite', file: string }
  | { engine: 'postgres', url: string, fromEnv: boolean }

function positiveInt (value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw new InvalidArgumentError('must be a positive whole number')
  return Number(value)
}

function parseExpiry (value: string): string {
  const ts = isCalendarDate(value) ? value + 'T00:00:00Z' : parseTimestamp(value)
  if (ts === null) throw new InvalidArgumentError('must be an ISO-8601 timestamp with a zone (2026-12-31T23:59:59Z) or a date (2026-12-31)')
  return parseTimestamp(ts)!
}

function table (rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

function describeAccount (a: AccountRecord): string {
  return `account ${a.id} "${a.name}" (timezone ${a.timezone}, API access ${a.api_enabled ? 'on' : 'off'})`
}

function userRows (users: PortalUserRecord[]): string {
  return table([
    ['ID', 'ACCOUNT', 'EMAIL', 'STATUS', 'LAST LOGIN', 'CREATED'],
    ...users.map((u) => [String(u.id), String(u.account_id), u.email, u.status, u.last_login_at ?? 'never', u.created_at])
  ])
}

/** A key's access in one phrase: full access, its scopes, or none (a stored list that grants nothing). */
function describeGrant (key: ApiKeyRecord, separator: string): string {
  if (key.full_access) return 'full access'
  return key.scopes.length === 0 ? 'none' : key.scopes.join(separator)
}

function keyRows (keys: ApiKeyRecord[]): string {
  return table([
    ['ID', 'ACCOUNT', 'NAME', 'PREFIX', 'SCOPES', 'STATUS', 'EXPIRES', 'LAST USED', 'LIMIT/MIN'],
    ...keys.map((k) => [String(k.id), String(k.account_id), k.name, k.prefix,
      describeGrant(k, ','), k.status,
      k.expires_at ?? 'never', k.last_used_at ?? 'never', String(k.rate_limit)])
  ])
}

function copyRows (tables: TableCopy[]): string {
  return table([['TABLE', 'ROWS', 'SHA-256'], ...tables.map((t) => [t.table, String(t.rows), t.sha256])])
}

/** The skipped tables in a line: a virtual table's shadow tables go without saying. */
function notCopied (skipped: string[]): string {
  const shown = skipped.filter((name) => !skipped.some((other) => name.startsWith(other + '_') && !name.startsWith('kysely')))
  return shown.length < skipped.length ? `${shown.join(', ')} (and the search index's shadow tables)` : shown.join(', ')
}

/** The connection's own error, not what it interrupted (a migration, a query). */
function rootCause (err: unknown): Error {
  let cause = err as Error
  while (cause.cause instanceof Error) cause = cause.cause
  return cause
}

/** A file name as one shell word, for a command line to copy. */
function quoteForShell (word: string): string {
  return /^[\w./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`
}

/** Like engine.migrate(), and says which migrations it applied (by their records, on PostgreSQL). */
async function migrateReport (engine: Engine): Promise<string[]> {
  if (engine.dialect === 'sqlite') return await (engine as SqliteEngine).migrateReport()
  const before = new Set(await migrationNames(engine))
  await engine.migrate()
  return (await migrationNames(engine)).filter((name) => !before.has(name))
}

async function migrationNames (engine: Engine): Promise<string[]> {
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(engine.db)
    return rows.map((r) => r.name)
  } catch (err) {
    // undefined_table: a database never migrated
    if ((err as { code?: unknown }).code === '42P01') return []
    throw err
  }
}

/**
 * The program; `secrets` collects the passwords of the database URLs it is given, which runCli
 * keeps out of error messages.
 */
export function buildCli (io: CliContext, secrets = new Set<string>()): Command {
  // exitOverride before the subcommands are added, so they inherit it: a parse error in a
  // subcommand then throws to runCli instead of calling process.exit itself
  const program = new Command('tempclock')
    .exitOverride()
    .description('TempClock operator CLI: accounts, API keys and the database, also while the server runs')
    .option('--json', 'machine-readable JSON output')
    .option('--db <file>', 'SQLite file (default: $TEMPCLOCK_DB or ./data/tempclock.db, unless $TEMPCLOCK_DATABASE_URL is set)')
    .option('--database-url <url>', 'PostgreSQL instead of SQLite: postgres://user:password@host:5432/dbname (default: $TEMPCLOCK_DATABASE_URL)')
    // commander's own parse errors become the same single line as ours (scripts read one line)
    .configureOutput({
      writeOut: (text) => { io.stdout.write(text) },
      writeErr: (text) => { io.stderr.write(text) },
      outputError: (text, write) => write(`tempclock: ${text.trim()} (run with --help for usage)\n`)
    })

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>()
  const sqliteFile = (cmd: Command): string => globals(cmd).db ?? io.env.TEMPCLOCK_DB ?? './data/tempclock.db'

  /** A PostgreSQL URL checked by its scheme; its password is kept out of every message. */
  const postgresUrl = (url: string, name: string): string => {
    checkDatabaseUrl(url, name)
    for (const password of passwordsOf(url)) secrets.add(password)
    return url
  }

  /**
   * The database, as the server chooses it (an option beats the environment): --database-url,
   * else --db, else $TEMPCLOCK_DATABASE_URL, else $TEMPCLOCK_DB, else ./data/tempclock.db.
   */
  function target (cmd: Command): Target {
    const { db, databaseUrl } = globals(cmd)
    if (db !== undefined && databaseUrl !== undefined) throw new CliError('give --db (SQLite) or --database-url (PostgreSQL), not both')
    if (databaseUrl !== undefined) return { engine: 'postgres', url: postgresUrl(databaseUrl, '--database-url'), fromEnv: false }
    if (db === undefined && io.env.TEMPCLOCK_DATABASE_URL !== undefined && io.env.TEMPCLOCK_DATABASE_URL !== '') {
      return { engine: 'postgres', url: postgresUrl(io.env.TEMPCLOCK_DATABASE_URL, 'TEMPCLOCK_DATABASE_URL'), fromEnv: true }
    }
    return { engine: 'sqlite', file: sqliteFile(cmd) }
  }

  /** Opens the database, runs `fn`, closes it; an unreachable PostgreSQL is one clear line. */
  async function withEngine<T> (cmd: Command, fn: (engine: Engine) => Promise<T>): Promise<T> {
    const where = target(cmd)
    // a command uses one connection at a time
    const engine = where.engine === 'postgres'
      ? openEngine({ dbPath: '', databaseUrl: where.url, databasePoolSize: 2 })
      : openEngine({ dbPath: where.file })
    try {
      return await fn(engine)
    } catch (err) {
      if (where.engine === 'postgres' && !(err instanceof CliError) && engine.isUnavailable(err)) {
        throw new CliError(`cannot reach PostgreSQL at ${redactDatabaseUrl(where.url)}: ${rootCause(err).message}`)
      }
      throw err
    } finally {
      await engine.close()
    }
  }

  /** Opens the same database the server uses (migrating it if needed), runs `fn`, closes it. */
  async function withDb<T> (cmd: Command, fn: (engine: Engine) => Promise<T>): Promise<T> {
    return await withEngine(cmd, async (engine) => {
      await engine.migrate()
      return await fn(engine)
    })
  }

  const print = (cmd: Command, json: unknown, human: string): void => {
    io.stdout.write((globals(cmd).json === true ? JSON.stringify(json, null, 2) : human) + '\n')
  }

  const accounts = program.command('accounts').description('customer accounts')
  accounts.command('create')
    .description('create an account')
    .requiredOption('--name <name>', 'account name')
    .option('--timezone <zone>', 'IANA time zone for timesheet dates', 'UTC')
    .option('--api-enabled', 'switch API access on now (accounts start with it off)')
    .action(async (opts: { name: string, timezone: string, apiEnabled?: boolean }, cmd: Command) => {
      const account = await withDb(cmd, async (engine) => await createAccount(engine, { name: opts.name, timezone: opts.timezone, apiEnabled: opts.apiEnabled === true })
        .catch((err: Error) => { throw new CliError(err.message) }))
      print(cmd, account, `Created ${describeAccount(account)}`)
    })
  accounts.command('list')
    .description('list accounts')
    .action(async (_opts: unknown, cmd: Command) => {
      const all = await withDb(cmd, async (engine) => await listAccounts(engine))
      print(cmd, all, all.length === 0
        ? 'No accounts yet.'
        : table([['ID', 'NAME', 'TIMEZONE', 'API', 'CREATED'], ...all.map((a) => [String(a.id), a.name, a.timezone, a.api_enabled ? 'on' : 'off', a.created_at])]))
    })
  for (const [name, enabled] of [['enable-api', true], ['disable-api', false]] as const) {
    accounts.command(name)
      .description(`switch API access ${enabled ? 'on' : 'off'} for an account (takes effect on the next request)`)
      .argument('<id>', 'account id', positiveInt)
      .action(async (id: number, _opts: unknown, cmd: Command) => {
        const account = await withDb(cmd, async (engine) => await setApiEnabled(engine, id, enabled))
        if (account === undefined) throw new CliError(`no account with id ${id}`)
        print(cmd, account, `API access ${enabled ? 'enabled' : 'disabled'} for ${describeAccount(account)}`)
      })
  }

  const keys = program.command('keys').description('API keys (the full key is shown once, at creation)')
  keys.command('create')
    .description('issue a key; prints it once')
    .requiredOption('--account <id>', 'account id', positiveInt)
    .requiredOption('--name <name>', 'what the key is for, e.g. "Payroll Integration"')
    .option('--scopes <list>', 'comma-separated scopes, at least one (leave out for a full-access key)')
    .option('--expires-at <time>', 'expiry: ISO-8601 timestamp or date', parseExpiry)
    .option('--rate-limit <n>', 'requests per minute (default 60)', positiveInt)
    .action(async (opts: { account: number, name: string, scopes?: string, expiresAt?: string, rateLimit?: number }, cmd: Command) => {
      let scopes
      try {
        scopes = opts.scopes === undefined ? [] : parseScopeList(opts.scopes)
      } catch (err) {
        throw new CliError((err as Error).message)
      }
      const created = await withDb(cmd, async (engine) => await createApiKey(engine, {
        accountId: opts.account, name: opts.name, scopes, expiresAt: opts.expiresAt ?? null, rateLimit: opts.rateLimit ?? null
      }).catch((err: Error) => { throw new CliError(err.message) }))
      const { record, key } = created
      print(cmd, {
        id: record.id, key, name: record.name, scopes: record.scopes, full_access: record.full_access, expires_at: record.expires_at,
        account_id: record.account_id, prefix: record.prefix, rate_limit: record.rate_limit
      }, [
        `Created key ${record.id} "${record.name}" for account ${record.account_id}`,
        `  scopes:  ${describeGrant(record, ', ')}`,
        `  expires: ${record.expires_at ?? 'never'}`,
        `  key:     ${key}`,
        'Store the key now: it is shown only this once and cannot be recovered.'
      ].join('\n'))
    })
  keys.command('list')
    .description('list keys: name, prefix, scopes, status, expiry, last use (never the key)')
    .option('--account <id>', 'only this account', positiveInt)
    .action(async (opts: { account?: number }, cmd: Command) => {
      const all = await withDb(cmd, async (engine) => await listApiKeys(engine, opts.account))
      print(cmd, all, all.length === 0 ? 'No keys.' : keyRows(all))
    })
  keys.command('revoke')
    .description('revoke a key (takes effect on the next request)')
    .argument('<key_id>', 'key id (from keys list)', positiveInt)
    .action(async (id: number, _opts: unknown, cmd: Command) => {
      const key = await withDb(cmd, async (engine) => await revokeApiKey(engine, id))
      if (key === undefined) throw new CliError(`no key with id ${id}`)
      print(cmd, key, `Revoked key ${key.id} "${key.name}" (${key.prefix}) at ${key.revoked_at ?? ''}`)
    })

  const users = program.command('users').description('manage-portal users: account admins who see their account\'s API keys')
  users.command('create')
    .description('create an account admin; prints a one-time password unless --password-stdin')
    .requiredOption('--account <id>', 'account id', positiveInt)
    .requiredOption('--email <email>', 'the admin\'s email address (their sign-in name)')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .action(async (opts: { account: number, email: string, passwordStdin?: boolean }, cmd: Command) => {
      let password: string
      let generated = false
      if (opts.passwordStdin === true) {
        // one trailing newline is what `echo` or a here-string adds, not part of the password
        password = (await readAll(io.stdin)).replace(/\r?\n$/, '')
      } else {
        password = generatePassword()
        generated = true
      }
      const user = await withDb(cmd, async (engine) => await createPortalUser(engine, { accountId: opts.account, email: opts.email, password })
        .catch((err: Error) => { throw new CliError(err.message) }))
      print(cmd, generated ? { ...user, password } : user, [
        `Created portal user ${user.id} ${user.email} for account ${user.account_id}`,
        ...(generated
          ? [`  password: ${password}`, 'Give the password to the user now: it is shown only this once and cannot be recovered.']
          : [])
      ].join('\n'))
    })
  users.command('list')
    .description('list portal users (never their passwords)')
    .option('--account <id>', 'only this account', positiveInt)
    .action(async (opts: { account?: number }, cmd: Command) => {
      const all = await withDb(cmd, async (engine) => await listPortalUsers(engine, opts.account))
      print(cmd, all, all.length === 0 ? 'No portal users.' : userRows(all))
    })
  users.command('disable')
    .description('disable a portal user and end their sessions (takes effect on their next request)')
    .argument('<user_id>', 'user id (from users list)', positiveInt)
    .action(async (id: number, _opts: unknown, cmd: Command) => {
      const user = await withDb(cmd, async (engine) => await disablePortalUser(engine, id))
      if (user === undefined) throw new CliError(`no portal user with id ${id}`)
      print(cmd, user, `Disabled portal user ${user.id} ${user.email} at ${user.disabled_at ?? ''}; their sessions have ended`)
    })

  program.command('demo')
    .description('create a demo account with sample data (API on) and one full-access key, printed once')
    .option('--name <name>', 'account name', 'TempClock Demo Staffing')
    .option('--timezone <zone>', 'IANA time zone of the account', 'Europe/London')
    .action(async (opts: { name: string, timezone: string }, cmd: Command) => {
      const demo = await withDb(cmd, async (engine) => await createDemoAccount(engine, { name: opts.name, timezone: opts.timezone })
        .catch((err: Error) => { throw new CliError(err.message) }))
      const base = `http://${io.env.HOST ?? '127.0.0.1'}:${io.env.PORT ?? '3000'}`
      const counts = Object.entries(demo.counts).map(([kind, n]) => `${n} ${kind.replace('_', ' ')}`).join(', ')
      print(cmd, { account: demo.account, key_id: demo.keyId, key: demo.key, prefix: demo.keyPrefix, counts: demo.counts }, [
        `Created demo ${describeAccount(demo.account)}`,
        `  data:    ${counts}`,
        `  key:     ${demo.key}   (full access, key id ${demo.keyId})`,
        'Store the key now: it is shown only this once and cannot be recovered.',
        '',
        'Try it (with `npm start` running):',
        `  curl -s "${base}/api/v1/workers.php?limit=3" -H "Authorization: Bearer ${demo.key}"`
      ].join('\n'))
    })

  program.command('migrate')
    .description('create or bring the database schema up to date')
    .action(async (_opts: unknown, cmd: Command) => {
      const applied = await withEngine(cmd, migrateReport)
      print(cmd, { ok: true, applied }, applied.length === 0 ? 'Database is up to date.' : `Applied: ${applied.join(', ')}`)
    })

  program.command('backup')
    .description('copy the SQLite database to FILE (online backup: safe while the server runs); on PostgreSQL, use pg_dump')
    .argument('<file>', 'destination file')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const where = target(cmd)
      if (where.engine === 'postgres') {
        // pg_dump takes the same URL; the password stays where it is (the variable, PGPASSWORD or ~/.pgpass)
        const dbname = where.fromEnv ? '"$TEMPCLOCK_DATABASE_URL"' : quoteForShell(withoutPassword(where.url))
        throw new CliError('backup copies a SQLite file and this database is PostgreSQL: back it up with PostgreSQL\'s pg_dump, ' +
          `e.g. pg_dump --format=custom --file=${quoteForShell(file)} --dbname=${dbname} (restore with pg_restore)`)
      }
      const destination = resolve(file)
      mkdirSync(dirname(destination), { recursive: true })
      const pages = await withDb(cmd, async (engine) => {
        // after the first step (which copies nothing), every remaining page in ONE step: SQLite
        // restarts a stepwise backup whenever another connection writes between two steps, so a
        // busy server's file would never finish copying in steps of 100 pages
        const result = await (engine as SqliteEngine).sqlite.backup(destination, { progress: () => ALL_REMAINING_PAGES })
        return result.totalPages
      }).catch((err: Error) => { throw err instanceof CliError ? err : new CliError(`backup failed: ${err.message}`) })
      print(cmd, { ok: true, file: destination, pages }, `Backed up ${pages} pages to ${destination}`)
    })

  program.command('copy-to-postgres')
    .description('copy the SQLite database (--db) into an EMPTY PostgreSQL database, ids and all, and verify every table (safe while the server runs)')
    .requiredOption('--to <url>', 'the empty PostgreSQL database: postgres://user:password@host:5432/dbname')
    .action(async (opts: { to: string }, cmd: Command) => {
      if (globals(cmd).databaseUrl !== undefined) throw new CliError('copy-to-postgres reads the SQLite file given by --db (or $TEMPCLOCK_DB) and writes to --to; --database-url does not apply')
      const from = resolve(sqliteFile(cmd))
      const to = postgresUrl(opts.to, '--to')
      const report = await copySqliteToPostgres({ from, to }).catch((err: Error) => {
        if (err instanceof CopyRefused || err instanceof CopyVerificationFailed) throw new CliError(err.message)
        if (isUnavailable(err)) throw new CliError(`cannot reach PostgreSQL at ${redactDatabaseUrl(to)}: ${rootCause(err).message}`)
        throw new CliError(`copy failed, nothing was committed: ${err.message}`)
      })
      const rows = report.tables.reduce((n, t) => n + t.rows, 0)
      print(cmd, { ok: true, from, to: redactDatabaseUrl(to), tables: report.tables, skipped: report.skipped }, [
        `Copied ${from} to ${redactDatabaseUrl(to)}: ${report.tables.length} tables, ${rows} rows, every row count and checksum verified`,
        copyRows(report.tables),
        `Not copied (SQLite only): ${notCopied(report.skipped)}`,
        'Identity sequences continue after the largest id copied. Point the servers at it with TEMPCLOCK_DATABASE_URL.'
      ].join('\n'))
    })

  return program
}

/**
 * Runs one CLI command to its end and resolves to the exit code. It never exits the process, so
 * the tests run it in their own process; bin/tempclock.ts gives it the real streams.
 */
export async function runCli (argv: string[], io: CliContext): Promise<number> {
  const secrets = new Set<string>()
  const program = buildCli(io, secrets)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    const e = err as Error & { code?: string, exitCode?: number }
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander has already printed its message (or help/version, exit 0)
      return e.exitCode ?? 1
    }
    // a library's message might quote the URL: the password never reaches the terminal or a log
    let message = e.message
    for (const secret of secrets) message = message.split(secret).join('***')
    io.stderr.write(`tempclock: error: ${message}\n`)
    return 1
  }
}
