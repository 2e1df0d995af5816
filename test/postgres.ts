import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
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
      const found = await admin.query('select 1 from pg_database where datname = $1', [name])
      if (found.rowCount !== 0) return name
      const building = `${name}_build_${process.pid}`
      await admin.query(`drop database if exists ${building} with (force)`)
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

async function createDatabase (t: TapLike, create: (name: string) => Promise<void>): Promise<string> {
  const name = uniqueName()
  await create(name)
  t.teardown(async () => {
    await withAdmin(async (admin) => await admin.query(`drop database if exists ${name} with (force)`))
  })
  return postgresDatabaseUrl(name)
}

/** A new database with the whole schema (a copy of the template), dropped when `t` ends; its URL. */
export async function freshPostgresDatabase (t: TapLike): Promise<string> {
  const source = await migratedTemplate()
  return await createDatabase(t, async (name) => {
    await withAdmin(async (admin) => { await retryWhileInUse(async () => await admin.query(`create database ${name} template ${source}`)) })
  })
}

/** A new database without any table, dropped when `t` ends; its URL. */
export async function emptyPostgresDatabase (t: TapLike): Promise<string> {
  return await createDatabase(t, async (name) => {
    await withAdmin(async (admin) => await admin.query(`create database ${name}`))
  })
}

