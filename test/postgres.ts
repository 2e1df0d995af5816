import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { openPostgresEngine } from '../db/engine/postgres/index.js'

/**
 * PostgreSQL for the tests: a server the tests may create databases on (the role needs CREATEDB),
 * given as a URL to a maintenance database. By default Debian's cluster over its Unix socket as
 * the OS user (peer authentication); .ci/run starts the cluster and creates that role.
 */
export const POSTGRES_ADMIN_URL = process.env.TEMPCLOCK_TEST_DATABASE_URL ??
  `postgres://${encodeURIComponent(userInfo().username)}@/postgres?host=/var/run/postgresql`

const CI = process.env.CI === 'true' || process.env.CI === '1'

interface TapLike {
  teardown: (fn: () => unknown) => void
}

/** A URL for database `name` on the test server. */
export function postgresDatabaseUrl (name: string): string {
  // by hand: WHATWG URL cannot parse the empty host of a Unix-socket URL
  const match = /^(postgres(?:ql)?:\/\/[^/?]*)\/[^/?]*(\?.*)?$/.exec(POSTGRES_ADMIN_URL)
  if (match === null) throw new Error('TEMPCLOCK_TEST_DATABASE_URL must name a database: postgres://user@host:port/postgres')
  return `${match[1]!}/${name}${match[2] ?? ''}`
}

async function withAdmin<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3_000 })
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Debian's cluster, started when it is installed but down and this process may start it (root, the
 * default URL). What .ci/run does; here so that a local run finds the server the same way.
 */
function startLocalCluster (): boolean {
  if (process.env.TEMPCLOCK_TEST_DATABASE_URL !== undefined || process.getuid?.() !== 0) return false
  if (!existsSync('/usr/bin/pg_ctlcluster') || !existsSync('/etc/postgresql/15/main')) return false
  try {
    execFileSync('pg_ctlcluster', ['15', 'main', 'start'], { stdio: 'ignore', timeout: 30_000 })
  } catch {
    // already running (exit status 2) or it failed: the next connection attempt tells which
  }
  try {
    // peer authentication maps the OS user to the role of the same name
    execFileSync('runuser', ['-u', 'postgres', '--', 'createuser', '--createdb', userInfo().username], { stdio: 'ignore', timeout: 30_000 })
  } catch {
    // the role exists already
  }
  return true
}

let probed: Promise<string | false> | undefined

/**
 * `false` when the tests can reach PostgreSQL; otherwise why not, for tap's `skip`. Under CI=true
 * an unreachable server is not a reason to skip: the tests run and fail.
 */
export async function postgresSkip (): Promise<string | false> {
  probed ??= (async () => {
    const reach = async (): Promise<unknown> => await withAdmin(async (c) => await c.query('select 1')).then(() => undefined, (err: unknown) => err)
    let error = await reach()
    if (error !== undefined && startLocalCluster()) error = await reach()
    if (error === undefined || CI) return false
    const reason = error instanceof Error ? error.message : String(error)
    return `PostgreSQL is unreachable at TEMPCLOCK_TEST_DATABASE_URL (${reason}); under CI=true these tests run and fail instead`
  })()
  return await probed
}

/** The migrations' compiled text decides the template's name: a changed schema gets a new template. */
function templateName (): string {
  const dir = join(import.meta.dirname, '..', 'db', 'migrations', 'postgres')
  const hash = createHash('sha256')
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) hash.update(file).update(readFileSync(join(dir, file)))
  return `tempclock_template_${hash.digest('hex').slice(0, 16)}`
}

/** CREATE DATABASE … TEMPLATE fails while anyone is connected to the template (a closing engine). */
async function retryWhileInUse (fn: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fn()
      return
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 100) throw err
      await sleep(50)
    }
  }
}

/**
 * WITH (FORCE) may not end an autovacuum worker (it runs as the bootstrap superuser), which starts
 * on a database after many rows were written or rolled back: it finishes within moments.
 */
async function retryWhileVacuumed (fn: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fn()
      return
    } catch (err) {
      if ((err as { code?: string }).code !== '42501' || attempt >= 200) throw err
      await sleep(50)
    }
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'
  }
}

/**
 * Databases of test processes that died before their teardown (a killed run): their process is gone
 * and nobody is connected. A plain DROP, which fails harmlessly while anyone still uses one.
 */
async function dropAbandoned (admin: pg.Client, current: string): Promise<void> {
  const found = await admin.query<{ datname: string }>(`select datname from pg_database d where datname ~ '^tempclock_test_[0-9]+_'
    and not exists (select 1 from pg_stat_activity a where a.datid = d.oid)`)
  for (const { datname } of found.rows) {
    if (isAlive(Number(datname.split('_')[2]))) continue
    await admin.query(`drop database if exists ${datname}`).catch(() => {})
  }
  // the pooled app databases of an older schema (see leaseAppDatabase)
  const stale = await admin.query<{ datname: string }>(`select datname from pg_database d where starts_with(datname, 'tempclock_pool_')
    and not starts_with(datname, $1) and not exists (select 1 from pg_stat_activity a where a.datid = d.oid)`, [poolPrefix(current)])
  for (const { datname } of stale.rows) await admin.query(`drop database if exists ${pg.escapeIdentifier(datname)}`).catch(() => {})
}

let template: Promise<string> | undefined

/**
 * The migrated template database, made once per schema. Test files run in parallel processes: an
 * advisory lock lets one of them build it (under a temporary name, renamed when complete, so a
 * crash never leaves a half-made template) while the others wait and then find it.
 */
async function migratedTemplate (): Promise<string> {
  template ??= withAdmin(async (admin) => {
    const name = templateName()
    await admin.query('select pg_advisory_lock(hashtextextended($1, 0))', ['tempclock test template'])
    try {
      await dropAbandoned(admin, name)
      const found = await admin.query('select 1 from pg_database where datname = $1', [name])
      if (found.rowCount !== 0) return name
      // what a process that died while building left behind (nobody else builds: we hold the lock)
      const leftovers = await admin.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1)', [`${name}_build_`])
      for (const { datname } of leftovers.rows) await admin.query(`drop database if exists ${datname} with (force)`)
      const building = `${name}_build_${process.pid}`
      await admin.query(`create database ${building}`)
      const engine = openPostgresEngine({ url: postgresDatabaseUrl(building) })
      try {
        await engine.migrate()
      } finally {
        await engine.close()
      }
      await retryWhileInUse(async () => await admin.query(`alter database ${building} rename to ${name}`))
      return name
    } finally {
      await admin.query('select pg_advisory_unlock(hashtextextended($1, 0))', ['tempclock test template'])
    }
  })
  return await template
}

let counter = 0

function uniqueName (): string {
  return `tempclock_test_${process.pid}_${++counter}_${randomBytes(4).toString('hex')}`
}

/**
 * A test database commits without waiting for its WAL flush (synchronous_commit=off, a setting of
 * the database, which a clone does not inherit): what a test checks never depends on surviving a
 * crash of the shared server, which the tests never stop (those that stop a server run their own).
 */
async function createDatabase (t: TapLike, create: (name: string) => Promise<void>): Promise<string> {
  const name = uniqueName()
  await create(name)
  await withAdmin(async (admin) => await admin.query(`alter database ${name} set synchronous_commit = off`))
  t.teardown(async () => {
    await withAdmin(async (admin) => { await retryWhileVacuumed(async () => await admin.query(`drop database if exists ${name} with (force)`)) })
  })
  return postgresDatabaseUrl(name)
}

/**
 * A database of its own with the whole schema and no rows, until `t` ends; its URL. One of the
 * pooled app databases (leaseAppDatabase, below): cloning the template and dropping the clone cost
 * a second or more each (DROP DATABASE waits for a checkpoint), emptying a pooled one milliseconds.
 */
export async function freshPostgresDatabase (t: TapLike): Promise<string> {
  const { url, release } = await leaseAppDatabase()
  t.teardown(release)
  return url
}

/** A new database without any table, dropped when `t` ends; its URL. */
export async function emptyPostgresDatabase (t: TapLike): Promise<string> {
  return await createDatabase(t, async (name) => {
    await withAdmin(async (admin) => await admin.query(`create database ${name}`))
  })
}


/** Debian's PostgreSQL 15 programs (the `postgresql-15` package). */
const POSTGRES_BIN = '/usr/lib/postgresql/15/bin'

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** PostgreSQL refuses to run as root: as root, its programs run as the `postgres` OS user. */
function serverUser (): { uid: number, gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim()))
  return { uid: uid!, gid: gid! }
}

/**
 * A data directory fresh from initdb (trust authentication), never started, made once per machine
 * and OS user under the temporary directory: each TestPostgresServer starts on a copy of it. Made
 * under a temporary name and renamed when complete, so a process that finds it finds it whole.
 */
function initializedCluster (user: { uid: number, gid: number } | undefined): string {
  const dir = join(tmpdir(), `tempclock-pg15-initdb-v1-${user?.uid ?? process.getuid?.() ?? 'user'}`)
  if (existsSync(join(dir, 'PG_VERSION'))) return dir
  const building = mkdtempSync(join(tmpdir(), 'tempclock-pg-initdb-'))
  try {
    if (user !== undefined) chownSync(building, user.uid, user.gid)
    execFileSync(join(POSTGRES_BIN, 'initdb'), ['-D', join(building, 'data'), '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'],
      { stdio: 'ignore', timeout: 60_000, ...user })
    try {
      renameSync(join(building, 'data'), dir)
    } catch (err) {
      // another test process renamed its own first: that one serves
      if (!existsSync(join(dir, 'PG_VERSION'))) throw err
    }
  } finally {
    rmSync(building, { recursive: true, force: true })
  }
  return dir
}

/**
 * A PostgreSQL server of its own, for tests that stop and start it (failure and recovery) without
 * disturbing the shared one the other test files use: a new data directory (trust authentication,
 * no fsync), a free loopback port, removed when the test ends.
 */
export class TestPostgresServer {
  #process: ChildProcess | null = null

  private constructor (readonly port: number, readonly dir: string, readonly user: { uid: number, gid: number } | undefined) {}

  /** the maintenance database; the role `postgres` is a superuser */
  get url (): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }

  /** A URL for database `name` on this server. */
  databaseUrl (name: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`
  }

  static async start (t: TapLike): Promise<TestPostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'tempclock-pg-'))
    const user = serverUser()
    if (user !== undefined) chownSync(dir, user.uid, user.gid)
    const server = new TestPostgresServer(await freePort(), dir, user)
    t.teardown(async () => {
      await server.stop('immediate')
      rmSync(dir, { recursive: true, force: true })
    })
    // a copy of a cluster initdb made once (initdb itself takes seconds); -a keeps owner and modes
    execFileSync('cp', ['-a', initializedCluster(user), join(dir, 'data')], { stdio: 'ignore', timeout: 60_000 })
    await server.restart()
    return server
  }

  /** Starts the server (again, on the same port and data) and waits until it accepts queries. */
  async restart (): Promise<void> {
    const child = spawn(join(POSTGRES_BIN, 'postgres'), ['-D', join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'shared_buffers=16MB', '-c', 'max_connections=60'],
    { stdio: 'ignore', ...this.user })
    this.#process = child
    const exited = once(child, 'exit').then(() => { throw new Error(`postgres on port ${this.port} exited at start`) })
    exited.catch(() => {})
    for (let i = 0; i < 300; i++) {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1_000 })
      client.on('error', () => {})
      const ready = client.connect().then(async () => await client.query('select 1')).then(() => true, () => false)
      const up = await Promise.race([ready, exited])
      await client.end().catch(() => {})
      if (up) return
      await sleep(50)
    }
    throw new Error(`postgres on port ${this.port} did not start`)
  }

  /**
   * Stops the server: 'fast' ends every session and shuts down cleanly (as an operator's restart
   * does); 'immediate' quits at once, as a crash would (the next start recovers from the WAL).
   */
  async stop (mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const child = this.#process
    this.#process = null
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT')
    await exited
  }
}

/**
 * Databases for apps under TEMPCLOCK_TEST_ENGINE=postgres (test/helper.ts). Cloning the template
 * costs about half a second and dropping a database about a second, too much for each of the
 * suite's hundreds of apps; emptying a database costs a few milliseconds. So each test process
 * keeps the databases it leased and empties one (DELETE from every table, children first, and
 * every identity restarted at 1) before the next app gets it: each app starts on an empty,
 * migrated database, as on SQLite's `:memory:`. At the end of the process they return to a pool
 * named after the template (renamed, not dropped), which the next test process takes from before
 * cloning. Test databases commit without waiting for the WAL flush (synchronous_commit=off): a
 * test never survives a server crash, and the tests that stop the server use their own.
 */
const free: string[] = []
const leased = new Set<string>()
const dirty = new Set<string>()
let emptying: Promise<string> | undefined
let returnsRegistered = false

/** The pool's prefix for the current template. */
function poolPrefix (templateName: string): string {
  return templateName.replace('tempclock_template_', 'tempclock_pool_') + '_'
}

/** One statement list that empties every table of the schema (children first) and restarts ids. */
async function emptyingSql (url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  client.on('error', () => {})
  await client.connect()
  try {
    const tables = (await client.query<{ name: string }>(`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relname not like 'kysely\\_%' order by c.relname`)).rows.map((r) => r.name)
    const edges = (await client.query<{ child: string, parent: string }>(`select c.relname as child, p.relname as parent from pg_constraint k
      join pg_class c on c.oid = k.conrelid join pg_class p on p.oid = k.confrelid where k.contype = 'f' and k.conrelid <> k.confrelid`)).rows
    const identities = (await client.query<{ seq: string }>(`select pg_get_serial_sequence(quote_ident(table_name), column_name) as seq
      from information_schema.columns where table_schema = 'public' and is_identity = 'YES' order by table_name`)).rows.map((r) => r.seq)
    // children before their parents: a row is deleted before the rows it references
    const order: string[] = []
    const pending = new Set(tables)
    while (pending.size > 0) {
      const ready = [...pending].filter((table) => !edges.some((e) => e.parent === table && e.child !== table && pending.has(e.child)))
      if (ready.length === 0) throw new Error('cyclic foreign keys: cannot order the tables for emptying')
      for (const table of ready) { order.push(table); pending.delete(table) }
    }
    const deletes = order.map((table) => `delete from ${pg.escapeIdentifier(table)};`).join(' ')
    const restarts = identities.length === 0 ? '' : `select ${identities.map((seq) => `setval(${pg.escapeLiteral(seq)}, 1, false)`).join(', ')};`
    return `begin; ${deletes} ${restarts} commit;`
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * What a test may have changed in the schema (a renamed table, a trigger, a function, a column):
 * the names and oids of the objects of the `public` schema. Emptying keeps the schema, so a
 * database whose fingerprint differs from the template's is dropped instead of reused.
 */
const FINGERPRINT = `select md5(coalesce(string_agg(item, ',' order by item), '')) as print from (
  select 'class ' || c.oid || ' ' || c.relname || ' ' || c.relkind::text as item from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
  union all select 'column ' || a.attrelid || ' ' || a.attname || ' ' || a.atttypid || ' ' || a.attnotnull || ' ' || a.attisdropped from pg_attribute a
    join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and a.attnum > 0
  union all select 'constraint ' || k.oid || ' ' || k.conname from pg_constraint k join pg_namespace n on n.oid = k.connamespace where n.nspname = 'public'
  union all select 'trigger ' || g.oid || ' ' || g.tgname || ' ' || g.tgenabled::text from pg_trigger g where not g.tgisinternal
  union all select 'function ' || p.oid || ' ' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
  union all select 'type ' || y.oid || ' ' || y.typname from pg_type y join pg_namespace n on n.oid = y.typnamespace where n.nspname = 'public'
  union all select 'schema ' || n.oid || ' ' || n.nspname from pg_namespace n where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
  union all select 'extension ' || e.oid || ' ' || e.extname from pg_extension e
) objects`

let templatePrint: Promise<string> | undefined

async function fingerprint (client: pg.Client): Promise<string> {
  return (await client.query<{ print: string }>(FINGERPRINT)).rows[0]!.print
}

async function onClient<T> (name: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresDatabaseUrl(name), connectionTimeoutMillis: 3_000 })
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Empties `name` (which this process leased; a fresh clone is empty already). False when a test
 * changed its schema: then it is dropped, and the caller leases another.
 */
/**
 * One idle connection per database this process leased, kept between its apps for emptying it: a
 * new connection costs a server process and cold catalog caches, several times the emptying itself.
 * Closed before the database is renamed back to the pool or dropped.
 */
const janitors = new Map<string, Promise<pg.Client>>()

async function janitor (name: string): Promise<pg.Client> {
  let client = janitors.get(name)
  if (client === undefined) {
    client = (async () => {
      const c = new pg.Client({ connectionString: postgresDatabaseUrl(name), connectionTimeoutMillis: 3_000, application_name: 'tempclock-test-janitor' })
      // a test may end it (pg_terminate_backend): the next lease opens another
      c.on('error', () => { if (janitors.get(name) === client) janitors.delete(name) })
      await c.connect()
      return c
    })()
    janitors.set(name, client)
    client.catch(() => { if (janitors.get(name) === client) janitors.delete(name) })
  }
  return await client
}

async function closeJanitor (name: string): Promise<void> {
  const client = janitors.get(name)
  janitors.delete(name)
  await client?.then(async (c) => { socketOf(c).ref(); await c.end() }).catch(() => {})
}

/** The client's socket: idle between apps it must not keep the test process alive (the pool's return runs at its exit). */
function socketOf (client: pg.Client): { ref: () => void, unref: () => void } {
  return (client as unknown as { connection: { stream: { ref: () => void, unref: () => void } } }).connection.stream
}

async function useJanitor<T> (name: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await janitor(name)
  socketOf(client).ref()
  try {
    return await fn(client)
  } finally {
    socketOf(client).unref()
  }
}

/** `fn` on the database's kept connection; on a connection that was lost, once more on a new one. */
async function onJanitor<T> (name: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await useJanitor(name, fn)
  } catch (err) {
    const code = (err as { code?: string }).code
    // a query the server refused (not a lost connection) is the answer
    if (code !== undefined && !code.startsWith('08') && !code.startsWith('57')) throw err
    await closeJanitor(name)
    return await useJanitor(name, fn)
  }
}

async function empty (name: string): Promise<boolean> {
  if (!dirty.has(name)) return true
  templatePrint ??= migratedTemplate().then(async (template) => await onClient(template, fingerprint))
  const expected = await templatePrint
  const intact = await onJanitor(name, async (client) => {
    // what its last user left connected (a test's server process, an engine not closed) goes first,
    // as DROP DATABASE … WITH (FORCE) would end it; not the server's own workers (an autovacuum
    // worker runs as the superuser, which a test role may not end)
    await client.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend' and usename = current_user")
    if (await fingerprint(client) !== expected) return false
    emptying ??= emptyingSql(postgresDatabaseUrl(name))
    await client.query(await emptying)
    // the database's own settings (a test may set its time zone) back to the test databases' one
    const database = pg.escapeIdentifier(name)
    await client.query(`alter database ${database} reset all; alter database ${database} set synchronous_commit = off`)
    return true
  })
  if (intact) {
    dirty.delete(name)
    return true
  }
  leased.delete(name)
  dirty.delete(name)
  await closeJanitor(name)
  await withAdmin(async (admin) => await admin.query(`drop database if exists ${name} with (force)`))
  return false
}

/** A database for this process: one from the pool (renamed to this process's name), else a clone. */
async function leaseNew (): Promise<string> {
  const source = await migratedTemplate()
  const prefix = poolPrefix(source)
  const name = uniqueName()
  const taken = await withAdmin(async (admin) => {
    const pooled = await admin.query<{ datname: string }>(`select datname from pg_database d where starts_with(datname, $1)
      and not exists (select 1 from pg_stat_activity a where a.datid = d.oid) order by datname`, [prefix])
    for (const { datname } of pooled.rows) {
      // another process may take the same one first: its rename wins, this one fails and moves on
      const renamed = await admin.query(`alter database ${pg.escapeIdentifier(datname)} rename to ${name}`).then(() => true, () => false)
      if (renamed) return true
    }
    await retryWhileInUse(async () => await admin.query(`create database ${name} template ${source}`))
    await admin.query(`alter database ${name} set synchronous_commit = off`)
    return false
  })
  // a pooled database may hold what its last app wrote
  if (taken) dirty.add(name)
  if (!returnsRegistered) {
    returnsRegistered = true
    const { default: tap } = await import('tap')
    tap.teardown(async () => { await returnToPool(prefix) })
  }
  return name
}

/** At the end of the process: each database back to the pool, or dropped when still in use. */
async function returnToPool (prefix: string): Promise<void> {
  const names = [...free, ...leased]
  free.length = 0
  leased.clear()
  await Promise.all(names.map(closeJanitor))
  await withAdmin(async (admin) => {
    for (const name of names) {
      const pooled = prefix + randomBytes(6).toString('hex')
      // a closed app's server processes may take a moment to go: until then the rename waits
      await retryWhileInUse(async () => await admin.query(`alter database ${name} rename to ${pooled}`))
        .catch(async () => await admin.query(`drop database if exists ${name} with (force)`))
        .catch(() => {})
    }
  })
}

/**
 * An empty, migrated database for one app (or for the apps of one test that share a database), and
 * its release: call it once every app on it is closed; the next lease empties it.
 */
export async function leaseAppDatabase (): Promise<{ url: string, release: () => void }> {
  let name: string
  for (;;) {
    name = free.pop() ?? await leaseNew()
    leased.add(name)
    try {
      if (await empty(name)) break
    } catch (err) {
      leased.delete(name)
      throw err
    }
  }
  let released = false
  return {
    url: postgresDatabaseUrl(name),
    release: () => {
      if (released) return
      released = true
      leased.delete(name)
      dirty.add(name)
      free.push(name)
    }
  }
}
