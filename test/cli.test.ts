import t from 'tap'
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import BetterSqlite3 from 'better-sqlite3'
import { hashApiKey } from '../db/api-keys.js'
import { migrations } from '../db/migrations/sqlite/index.js'
import { runCli, spawnCli, type CliResult } from './helper.js'

const KEY = /^tc_live_[0-9a-f]{40}$/

/** A CLI bound to one database file (via --db, the way an operator scripts it). */
function cliOn (dbPath: string) {
  return async (...args: string[]): Promise<CliResult> => await runCli(['--db', dbPath, ...args])
}

async function json (result: CliResult): Promise<any> {
  if (result.code !== 0) throw new Error(`CLI failed (${String(result.code)}): ${result.stderr}`)
  return JSON.parse(result.stdout)
}

t.test('accounts and keys: create, list, enable/disable, revoke — human and --json', async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'data', 'tempclock.db')
  const cli = cliOn(dbPath)

  const human = await cli('accounts', 'create', '--name', 'Acme Staffing', '--api-enabled')
  t.equal(human.code, 0)
  t.equal(human.stderr, '')
  t.equal(human.stdout, 'Created account 1 "Acme Staffing" (timezone UTC, API access on)\n')
  t.ok(existsSync(dbPath), 'the database file (and its folder) was created')

  const created = await json(await cli('--json', 'accounts', 'create', '--name', 'Beta Ltd', '--timezone', 'Europe/London'))
  t.match(created, { id: 2, name: 'Beta Ltd', timezone: 'Europe/London', api_enabled: false })

  const list = await cli('accounts', 'list')
  t.equal(list.code, 0)
  const lines = list.stdout.trimEnd().split('\n')
  t.match(lines[0], /^ID\s+NAME\s+TIMEZONE\s+API\s+CREATED$/)
  t.match(lines[1], /^1\s+Acme Staffing\s+UTC\s+on\s+\d{4}-/)
  t.match(lines[2], /^2\s+Beta Ltd\s+Europe\/London\s+off\s+\d{4}-/)
  const listJson = await json(await cli('accounts', 'list', '--json'))
  t.same(listJson.map((a: { id: number, api_enabled: boolean }) => [a.id, a.api_enabled]), [[1, true], [2, false]])

  const enabled = await cli('accounts', 'enable-api', '2')
  t.equal(enabled.code, 0)
  t.equal(enabled.stdout, 'API access enabled for account 2 "Beta Ltd" (timezone Europe/London, API access on)\n')
  const disabled = await json(await cli('--json', 'accounts', 'disable-api', '2'))
  t.match(disabled, { id: 2, api_enabled: false })

  // keys
  const keyHuman = await cli('keys', 'create', '--account', '1', '--name', 'Payroll Integration', '--scopes', 'locations:read,workers:read', '--rate-limit', '5')
  t.equal(keyHuman.code, 0)
  const printed = /key:\s+(\S+)/.exec(keyHuman.stdout)?.[1] ?? ''
  t.match(printed, KEY, 'the key is tc_live_ + 40 hex')
  t.equal(printed.length, 48)
  t.match(keyHuman.stdout, /^Created key 1 "Payroll Integration" for account 1\n {2}scopes: {2}locations:read, workers:read\n {2}expires: never\n/)
  t.match(keyHuman.stdout, /shown only this once/)

  const keyJson = await json(await cli('--json', 'keys', 'create', '--account', '1', '--name', 'Full', '--expires-at', '2099-12-31'))
  t.match(keyJson, { id: 2, name: 'Full', scopes: [], full_access: true, expires_at: '2099-12-31T00:00:00Z', account_id: 1, rate_limit: 60 })
  t.match(keyJson.key, KEY)
  t.equal(keyJson.prefix, keyJson.key.slice(0, 12) + '...')
  t.not(keyJson.key, printed, 'every key is new')

  const keysList = await cli('keys', 'list')
  t.equal(keysList.code, 0)
  t.match(keysList.stdout, /^ID\s+ACCOUNT\s+NAME\s+PREFIX\s+SCOPES\s+STATUS\s+EXPIRES\s+LAST USED/)
  t.match(keysList.stdout, /\n1\s+1\s+Payroll Integration\s+tc_live_\w{4}\.\.\.\s+locations:read,workers:read\s+active\s+never\s+never\s+5\n/)
  t.match(keysList.stdout, /\n2\s+1\s+Full\s+tc_live_\w{4}\.\.\.\s+full access\s+active\s+2099-12-31T00:00:00Z\s+never\s+60\n/)
  const keysJson = await cli('--json', 'keys', 'list', '--account', '1')
  const listed = await json(keysJson)
  t.same(listed.map((k: { id: number }) => k.id), [1, 2])
  t.match(listed[0], { name: 'Payroll Integration', status: 'active', scopes: ['locations:read', 'workers:read'], last_used_at: null, expires_at: null })
  t.same(Object.keys(listed[0]).sort(), ['account_id', 'created_at', 'expires_at', 'full_access', 'id', 'last_used_at', 'name', 'prefix', 'rate_limit', 'revoked_at', 'scopes', 'status'], 'no key, no hash')
  for (const full of [printed, keyJson.key as string]) {
    for (const output of [keysList.stdout, keysJson.stdout]) {
      t.notOk(output.includes(full), 'the full key never appears in a listing')
      t.notOk(output.includes(full.slice(12)), 'nor its secret part')
      t.notOk(output.includes(hashApiKey(full)), 'nor its hash')
    }
  }
  t.equal(await json(await cli('--json', 'keys', 'list', '--account', '2')).then((k: unknown[]) => k.length), 0)
  t.equal((await cli('keys', 'list', '--account', '2')).stdout, 'No keys.\n')

  const revoked = await cli('keys', 'revoke', '1')
  t.equal(revoked.code, 0)
  t.match(revoked.stdout, /^Revoked key 1 "Payroll Integration" \(tc_live_\w{4}\.\.\.\) at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\n$/)
  const revokedJson = await json(await cli('--json', 'keys', 'revoke', '1'))
  t.match(revokedJson, { id: 1, status: 'revoked' })
  t.match(revoked.stdout, revokedJson.revoked_at, 'revoking twice keeps the first time')
  const after = await json(await cli('--json', 'keys', 'list'))
  t.same(after.map((k: { status: string }) => k.status), ['revoked', 'active'])

  // what is stored: hash and prefix, never the key
  const db = new BetterSqlite3(dbPath, { readonly: true })
  t.teardown(() => db.close())
  const rows = db.prepare('select key_hash, key_prefix from api_keys order by id').all() as Array<{ key_hash: string, key_prefix: string }>
  t.same(rows, [
    { key_hash: hashApiKey(printed), key_prefix: printed.slice(0, 12) + '...' },
    { key_hash: hashApiKey(keyJson.key), key_prefix: keyJson.key.slice(0, 12) + '...' }
  ])
})

t.test('backup finishes while another connection writes all the time', async (t) => {
  // SQLite restarts a stepwise backup after every write by another connection (a running server)
  const dir = t.testdir()
  const dbPath = join(dir, 'tempclock.db')
  const cli = cliOn(dbPath)
  await json(await cli('--json', 'migrate'))
  const server = new BetterSqlite3(dbPath)
  t.teardown(() => { server.close() })
  server.pragma('journal_mode = WAL')
  server.exec('create table filler (id integer primary key, b blob)')
  const fill = server.prepare('insert into filler (b) values (randomblob(3000))')
  server.transaction(() => { for (let i = 0; i < 3000; i++) fill.run() })()
  const write = server.prepare("insert into filler (b) values (x'00')")
  const writing = setInterval(() => { write.run() }, 1)
  t.teardown(() => { clearInterval(writing) })

  let deadline: NodeJS.Timeout | undefined
  const backup = await Promise.race([
    cli('--json', 'backup', join(dir, 'copy.db')),
    new Promise<CliResult>((resolve) => { deadline = setTimeout(() => { resolve({ code: null, stdout: '', stderr: 'still copying after 20 s' }) }, 20_000) })
  ])
  clearTimeout(deadline)
  clearInterval(writing)
  t.equal(backup.code, 0, backup.stderr)
  const copy = new BetterSqlite3(join(dir, 'copy.db'), { readonly: true })
  t.teardown(() => { copy.close() })
  t.equal(copy.pragma('integrity_check', { simple: true }), 'ok')
  t.ok((copy.prepare('select count(*) as n from filler').get() as { n: number }).n >= 3000, 'every row written before the backup began')
})

t.test('migrate and backup', async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'tempclock.db')
  const cli = cliOn(dbPath)

  const first = await cli('migrate')
  t.equal(first.code, 0)
  t.equal(first.stdout, `Applied: ${Object.keys(migrations).join(', ')}\n`)
  const again = await cli('migrate')
  t.equal(again.stdout, 'Database is up to date.\n')
  t.same(await json(await cli('--json', 'migrate')), { ok: true, applied: [] })

  await json(await cli('--json', 'accounts', 'create', '--name', 'Acme', '--api-enabled'))
  const key = await json(await cli('--json', 'keys', 'create', '--account', '1', '--name', 'K'))

  const backupPath = join(dir, 'backups', 'copy.db')
  const backup = await cli('backup', backupPath)
  t.equal(backup.code, 0, backup.stderr)
  t.match(backup.stdout, new RegExp(`^Backed up \\d+ pages to ${backupPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`))
  const backupJson = await json(await cli('--json', 'backup', join(dir, 'copy2.db')))
  t.match(backupJson, { ok: true, file: join(dir, 'copy2.db'), pages: Number })

  for (const file of [backupPath, join(dir, 'copy2.db')]) {
    const copy = new BetterSqlite3(file, { readonly: true })
    t.equal(copy.pragma('integrity_check', { simple: true }), 'ok')
    t.same(copy.prepare('select id, name, api_enabled from accounts').all(), [{ id: 1, name: 'Acme', api_enabled: 1 }], 'the backup holds the data')
    t.same(copy.prepare('select id, key_hash from api_keys').all(), [{ id: 1, key_hash: hashApiKey(key.key) }])
    const migrated = copy.prepare('select count(*) as n from kysely_migration').get() as { n: number }
    t.equal(migrated.n, Object.keys(migrations).length, 'and the migration history')
    copy.close()
  }
})

t.test('bad input: exit code 1, one line on stderr, nothing on stdout, nothing written', async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'tempclock.db')
  const cli = cliOn(dbPath)
  await json(await cli('--json', 'accounts', 'create', '--name', 'Acme'))
  await json(await cli('--json', 'keys', 'create', '--account', '1', '--name', 'K'))

  const failures: Array<[string[], RegExp]> = [
    [['keys', 'create', '--account', '1', '--name', 'K', '--scopes', 'locations:read,workers:write'], /unknown scope "workers:write"; valid scopes: workers:read, /],
    [['keys', 'create', '--account', '1', '--name', 'K', '--expires-at', '2020-01-01T00:00:00Z'], /expiry 2020-01-01T00:00:00Z is not in the future/],
    [['keys', 'create', '--account', '99', '--name', 'K'], /no account with id 99/],
    [['keys', 'revoke', '1x'], /'1x' is invalid for argument 'key_id'\. must be a positive whole number/],
    [['keys', 'create', '--account', '1'], /required option '--name <name>' not specified/],
    [['keys', 'create', '--account', '1', '--name', 'K', '--expires-at', 'next tuesday'], /'--expires-at <time>' argument 'next tuesday' is invalid/],
    [['keys', 'create', '--account', 'one', '--name', 'K'], /'--account <id>' argument 'one' is invalid\. must be a positive whole number/],
    [['keys', 'create', '--account', '1', '--name', 'K', '--rate-limit', '0'], /'--rate-limit <n>' argument '0' is invalid/],
    [['keys', 'create', '--account', '1', '--name', ' '], /key name must not be empty/],
    [['keys', 'create', '--account', '1', '--name', 'K', '--scopes', ''], /the scope list names no scope; give at least one .*or leave the list out for a full-access key/],
    [['keys', 'create', '--account', '1', '--name', 'K', '--scopes', ' , '], /the scope list names no scope/],
    [['keys', 'revoke', '99'], /no key with id 99/],
    [['accounts', 'create'], /required option '--name <name>' not specified/],
    [['accounts', 'create', '--name', 'Z', '--timezone', 'Mars/Olympus'], /unknown timezone "Mars\/Olympus"/],
    [['accounts', 'enable-api', '99'], /no account with id 99/],
    [['accounts', 'disable-api', '99'], /no account with id 99/],
    [['accounts', 'enable-api', 'abc'], /'abc' is invalid for argument 'id'/],
    [['frobnicate'], /unknown command 'frobnicate'/]
  ]
  const check = (label: string, result: CliResult, message: RegExp): void => {
    t.equal(result.code, 1, `${label}: exit 1`)
    t.equal(result.stdout, '', `${label}: no output`)
    t.match(result.stderr, /^tempclock: error: [^\n]+\n$/, `${label}: one line`)
    t.match(result.stderr, message, `${label}: says why`)
  }
  for (const [args, message] of failures) check(args.join(' '), await cli(...args), message)

  const jsonError = await cli('--json', 'keys', 'create', '--account', '99', '--name', 'K')
  t.equal(jsonError.code, 1)
  t.equal(jsonError.stderr, 'tempclock: error: no account with id 99\n', 'errors stay one line with --json')

  const db = new BetterSqlite3(dbPath, { readonly: true })
  t.teardown(() => db.close())
  t.same(db.prepare('select id from accounts').all(), [{ id: 1 }], 'no failed command created an account')
  t.same(db.prepare('select id, revoked_at from api_keys').all(), [{ id: 1, revoked_at: null }], 'no failed command created or revoked a key')
})

// Every other test runs the CLI's commands in the test's own process; this one runs the compiled
// binary as an operator does: real standard streams, standard input, and the process's exit code.
t.test('the compiled tempclock binary: exit codes, stdout and stderr, standard input', async (t) => {
  const dbPath = join(t.testdir(), 'tempclock.db')
  await json(await cliOn(dbPath)('--json', 'accounts', 'create', '--name', 'Acme'))

  const created = await spawnCli(['--json', 'users', 'create', '--account', '1', '--email', 'smoke@acme.example', '--password-stdin'],
    { TEMPCLOCK_DB: dbPath }, 'a chosen passphrase\n')
  t.equal(created.code, 0, created.stderr)
  t.equal(created.stderr, '')
  t.match(JSON.parse(created.stdout), { id: 1, account_id: 1, email: 'smoke@acme.example', status: 'active' })

  const failed = await spawnCli(['--db', dbPath, 'keys', 'revoke', '1x'])
  t.equal(failed.code, 1, 'exit 1')
  t.equal(failed.stdout, '')
  t.equal(failed.stderr, "tempclock: error: command-argument value '1x' is invalid for argument 'key_id'. must be a positive whole number (run with --help for usage)\n")
})
