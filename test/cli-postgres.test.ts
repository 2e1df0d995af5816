import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { passwordsOf, redactDatabaseUrl, withoutPassword } from '../cli/database-url.js'
import { postgresMigrations } from '../db/migrations/postgres/index.js'
import { bearer, buildTestApp, runCli, spawnCli, type CliResult } from './helper.js'
import { emptyPostgresDatabase, postgresSkip } from './postgres.js'

const skip = await postgresSkip()

async function json (result: CliResult): Promise<any> {
  if (result.code !== 0) throw new Error(`CLI failed (${String(result.code)}): ${result.stderr}`)
  return JSON.parse(result.stdout)
}

/**
 * `url` with a password in it. The test server lets the OS user in without one (peer or trust
 * authentication), so it is never checked; a URL that already has one keeps it.
 */
function withPassword (url: string, password: string): { url: string, password: string } {
  const userinfo = /^postgres(?:ql)?:\/\/([^@/?]*)@/.exec(url)?.[1]
  if (userinfo === undefined) throw new Error('the test database URL has no user')
  if (userinfo.includes(':')) return { url, password: decodeURIComponent(userinfo.slice(userinfo.indexOf(':') + 1)) }
  return { url: url.replace(`${userinfo}@`, `${userinfo}:${password}@`), password }
}

t.test('every command runs on PostgreSQL with TEMPCLOCK_DATABASE_URL', { skip }, async (t) => {
  const env = { TEMPCLOCK_DATABASE_URL: await emptyPostgresDatabase(t) }
  const cli = async (...args: string[]): Promise<CliResult> => await runCli(args, env)

  const migrate = await cli('migrate')
  t.equal(migrate.code, 0, migrate.stderr)
  t.equal(migrate.stdout, `Applied: ${Object.keys(postgresMigrations).join(', ')}\n`)
  t.same(await json(await cli('--json', 'migrate')), { ok: true, applied: [] })
  t.equal((await cli('migrate')).stdout, 'Database is up to date.\n')

  t.equal((await cli('accounts', 'create', '--name', 'Acme Staffing', '--api-enabled')).stdout, 'Created account 1 "Acme Staffing" (timezone UTC, API access on)\n')
  t.match(await json(await cli('--json', 'accounts', 'disable-api', '1')), { id: 1, api_enabled: false })
  t.match(await json(await cli('--json', 'accounts', 'enable-api', '1')), { id: 1, api_enabled: true })
  t.match((await cli('accounts', 'list')).stdout, /^ID\s+NAME\s+TIMEZONE\s+API\s+CREATED\n1\s+Acme Staffing\s+UTC\s+on\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/)
  t.equal((await cli('accounts', 'enable-api', '9')).stderr, 'tempclock: error: no account with id 9\n')

  const key = await json(await cli('--json', 'keys', 'create', '--account', '1', '--name', 'Payroll', '--scopes', 'workers:read', '--expires-at', '2099-12-31'))
  t.match(key, { id: 1, name: 'Payroll', scopes: ['workers:read'], full_access: false, expires_at: '2099-12-31T00:00:00Z', account_id: 1, rate_limit: 60 })
  t.match((await cli('keys', 'list', '--account', '1')).stdout, /\n1\s+1\s+Payroll\s+tc_live_\w{4}\.\.\.\s+workers:read\s+active\s+2099-12-31T00:00:00Z\s+never\s+60\n/)
  t.equal((await cli('keys', 'create', '--account', '7', '--name', 'x')).code, 1, 'a missing account is a CLI error')

  const user = await json(await cli('--json', 'users', 'create', '--account', '1', '--email', 'Admin@Example.com'))
  t.match(user, { id: 1, account_id: 1, email: 'admin@example.com', status: 'active' })
  t.match(user.password, /\S{12,}/)
  const piped = await runCli(['users', 'create', '--account', '1', '--email', 'second@example.com', '--password-stdin'], env, 'a long enough password\n')
  t.equal(piped.stdout, 'Created portal user 2 second@example.com for account 1\n')
  t.equal((await cli('users', 'create', '--account', '1', '--email', 'admin@example.com')).code, 1, 'a taken email is a CLI error')
  t.match(await json(await cli('--json', 'users', 'disable', '1')), { id: 1, status: 'disabled' })
  t.same((await json(await cli('--json', 'users', 'list'))).map((u: { id: number, status: string }) => [u.id, u.status]), [[1, 'disabled'], [2, 'active']])

  const demo = await json(await cli('--json', 'demo'))
  t.match(demo, { account: { id: 2, api_enabled: true }, key_id: 2, counts: { workers: 60 } })

  // a server on the same database sees what the CLI does, on its next request
  const app = await buildTestApp(t, { databaseUrl: env.TEMPCLOCK_DATABASE_URL })
  const workers = await app.inject({ url: '/api/v1/workers.php?limit=2', headers: bearer(demo.key) })
  t.equal(workers.statusCode, 200)
  t.equal(workers.json().data[0].id, 1)
  t.match(await json(await cli('--json', 'keys', 'revoke', String(demo.key_id))), { id: demo.key_id, status: 'revoked' })
  t.equal((await app.inject({ url: '/api/v1/workers.php?limit=2', headers: bearer(demo.key) })).statusCode, 401)

  // backup is SQLite's: on PostgreSQL it says what to use instead, and writes nothing
  const dir = t.testdir()
  const backup = await cli('backup', join(dir, 'nightly.dump'))
  t.equal(backup.code, 1)
  t.equal(backup.stdout, '')
  t.equal(backup.stderr, 'tempclock: error: backup copies a SQLite file and this database is PostgreSQL: back it up with PostgreSQL\'s pg_dump, ' +
    `e.g. pg_dump --format=custom --file=${join(dir, 'nightly.dump')} --dbname="$TEMPCLOCK_DATABASE_URL" (restore with pg_restore)\n`)
  t.notOk(existsSync(join(dir, 'nightly.dump')))
})

t.test('--database-url, its precedence over the environment, and the password never shown', { skip }, async (t) => {
  const { url, password } = withPassword(await emptyPostgresDatabase(t), 'S3cret-pw')
  const dir = t.testdir()
  const outputs: CliResult[] = []
  const cli = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const result = await runCli(args, env)
    outputs.push(result)
    return result
  }

  t.equal((await cli(['--database-url', url, 'accounts', 'create', '--name', 'On PostgreSQL'])).code, 0)
  t.match(await json(await cli(['--database-url', url, '--json', 'accounts', 'list'])), [{ id: 1, name: 'On PostgreSQL' }])

  // --db beats $TEMPCLOCK_DATABASE_URL: the SQLite file it names
  const file = join(dir, 'local.db')
  t.equal((await cli(['--db', file, 'accounts', 'create', '--name', 'On SQLite'], { TEMPCLOCK_DATABASE_URL: url })).code, 0)
  t.ok(existsSync(file))
  t.match(await json(await cli(['--json', 'accounts', 'list'], { TEMPCLOCK_DATABASE_URL: url, TEMPCLOCK_DB: file })), [{ id: 1, name: 'On PostgreSQL' }],
    '$TEMPCLOCK_DATABASE_URL beats $TEMPCLOCK_DB, as in the server')

  const both = await cli(['--db', file, '--database-url', url, 'accounts', 'list'])
  t.equal(both.code, 1)
  t.equal(both.stderr, 'tempclock: error: give --db (SQLite) or --database-url (PostgreSQL), not both\n')
  const scheme = await cli(['--database-url', `mysql://me:${password}@db/x`, 'accounts', 'list'])
  t.equal(scheme.stderr, 'tempclock: error: --database-url must be a postgres:// or postgresql:// URL (got scheme "mysql:")\n')
  const envScheme = await cli(['accounts', 'list'], { TEMPCLOCK_DATABASE_URL: 'file.db' })
  t.equal(envScheme.stderr, 'tempclock: error: TEMPCLOCK_DATABASE_URL must be a postgres:// or postgresql:// URL (got something that is not a URL)\n')

  // nothing listens on port 1: one clear line, fast, the password starred
  const unreachable = await cli(['--database-url', `postgres://me:${password}@127.0.0.1:1/tempclock`, 'accounts', 'list'])
  t.equal(unreachable.code, 1)
  t.match(unreachable.stderr, /^tempclock: error: cannot reach PostgreSQL at postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/tempclock: .*ECONNREFUSED/)
  const copyUnreachable = await cli(['--db', file, 'copy-to-postgres', '--to', `postgres://me:${password}@127.0.0.1:1/tempclock`])
  t.equal(copyUnreachable.code, 1)
  t.match(copyUnreachable.stderr, /^tempclock: error: cannot reach PostgreSQL at postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/tempclock: .*ECONNREFUSED/)
  const noDatabase = await cli(['--database-url', url.replace(/\/([^/?]+)(\?|$)/, '/tempclock_missing_db$2'), 'accounts', 'list'])
  t.equal(noDatabase.code, 1)
  t.match(noDatabase.stderr, /database "tempclock_missing_db" does not exist/)

  const backup = await cli(['--database-url', url, 'backup', 'my backup.dump'])
  t.equal(backup.code, 1)
  t.match(backup.stderr, /pg_dump --format=custom --file='my backup\.dump' --dbname='postgres/)

  for (const { stdout, stderr } of outputs) {
    t.notOk(stdout.includes(password) || stderr.includes(password), 'the password is never printed')
  }
})

t.test('the tempclock binary on PostgreSQL runs and exits', { skip }, async (t) => {
  const env = { TEMPCLOCK_DATABASE_URL: await emptyPostgresDatabase(t) }
  const created = await spawnCli(['--json', 'accounts', 'create', '--name', 'Spawned'], env)
  t.equal(created.code, 0, created.stderr)
  t.match(JSON.parse(created.stdout), { id: 1, name: 'Spawned' })
  const backup = await spawnCli(['backup', 'x.db'], env)
  t.equal(backup.code, 1)
  t.match(backup.stderr, /pg_dump/)
})

t.test('a database URL shown in a message or a command line keeps no password', async (t) => {
  t.equal(redactDatabaseUrl('postgres://app:p%40ss@db:5432/tempclock'), 'postgres://app:***@db:5432/tempclock')
  t.equal(redactDatabaseUrl('postgresql://app@/tempclock?host=/run/postgresql&password=pw'), 'postgresql://app@/tempclock?host=/run/postgresql&password=***')
  t.equal(redactDatabaseUrl('postgres://db/tempclock'), 'postgres://db/tempclock')
  t.equal(withoutPassword('postgres://app:pw@db:5432/tempclock'), 'postgres://app@db:5432/tempclock')
  t.equal(withoutPassword('postgres://app@/tempclock?password=pw&host=/s'), 'postgres://app@/tempclock?host=/s')
  t.equal(withoutPassword('postgres://app@/tempclock?host=/s&password=pw'), 'postgres://app@/tempclock?host=/s')
  t.equal(withoutPassword('postgres://app@db/tempclock?password=pw'), 'postgres://app@db/tempclock')
  t.same(passwordsOf('postgres://app:p%40ss@db/x?password=q').sort(), ['p%40ss', 'p@ss', 'q'])
  t.same(passwordsOf('postgres://app@db/x'), [])
})
