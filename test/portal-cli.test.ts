import { join } from 'node:path'
import t from 'tap'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { authenticatePortalUser } from '../db/portal-users.js'
import { runCli } from './helper.js'
import './portal-fixtures.js' // the test scrypt cost

t.test('users create / list / disable through the CLI', async (t) => {
  const db = join(t.testdir(), 'cli.db')
  const cli = async (...args: string[]) => await runCli(['--db', db, ...args])
  t.equal((await cli('accounts', 'create', '--name', 'Acme')).code, 0)
  t.equal((await cli('accounts', 'create', '--name', 'Other')).code, 0)

  // a generated one-time password, shown once
  const created = await cli('users', 'create', '--account', '1', '--email', 'Admin@Acme.example')
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /^Created portal user 1 admin@acme\.example for account 1\n {2}password: ([A-Za-z0-9]{20})\nGive the password/)
  const password = /password: (\S+)/.exec(created.stdout)![1]!

  const json = await cli('--json', 'users', 'create', '--account', '2', '--email', 'ops@other.example')
  t.equal(json.code, 0)
  const user = JSON.parse(json.stdout)
  t.match(user, { id: 2, account_id: 2, email: 'ops@other.example', status: 'active', disabled_at: null, last_login_at: null })
  t.match(user.password, /^[A-Za-z0-9]{20}$/)
  t.notOk('password_hash' in user)

  // a chosen password from standard input (one trailing newline is not part of it)
  const chosen = 'a chosen passphrase ✓'
  const stdin = await runCli(['--db', db, '--json', 'users', 'create', '--account', '1', '--email', 'second@acme.example', '--password-stdin'], {}, chosen + '\n')
  t.equal(stdin.code, 0, stdin.stderr)
  t.notOk('password' in JSON.parse(stdin.stdout), 'nothing to print: the operator chose it')
  t.notMatch(stdin.stdout + stdin.stderr, chosen)
  const short = await runCli(['--db', db, 'users', 'create', '--account', '1', '--email', 'short@acme.example', '--password-stdin'], {}, 'short\n')
  t.equal(short.code, 1)
  t.equal(short.stderr, 'tempclock: error: password must be at least 12 characters\n')

  // bad input: one line, non-zero exit, nothing written
  const failures: Array<[string[], string]> = [
    [['--account', '9', '--email', 'x@acme.example'], 'tempclock: error: no account with id 9\n'],
    [['--account', '1', '--email', 'ADMIN@acme.EXAMPLE'], 'tempclock: error: a portal user with email admin@acme.example already exists\n'],
    [['--account', '1', '--email', 'not-an-email'], 'tempclock: error: not a valid email address: "not-an-email"\n']
  ]
  for (const [args, message] of failures) {
    const res = await cli('users', 'create', ...args)
    t.equal(res.code, 1, args.join(' '))
    t.equal(res.stderr, message)
    t.equal(res.stdout, '')
  }
  t.not((await cli('users', 'create', '--account', 'x', '--email', 'a@b.example')).code, 0)

  const list = await cli('users', 'list')
  t.equal(list.code, 0)
  t.match(list.stdout, /^ID\s+ACCOUNT\s+EMAIL\s+STATUS\s+LAST LOGIN\s+CREATED\n1\s+1\s+admin@acme\.example\s+active\s+never/)
  t.equal(list.stdout.trim().split('\n').length, 4)
  const listed = JSON.parse((await cli('--json', 'users', 'list', '--account', '1')).stdout)
  t.same(listed.map((u: { email: string }) => u.email), ['admin@acme.example', 'second@acme.example'])
  t.notMatch(JSON.stringify(listed), /scrypt|password/)

  // the database holds hashes, never the passwords; both passwords work
  const handle = openSqliteEngine({ file: db })
  t.teardown(async () => { await handle.close() })
  const rows = await handle.db.selectFrom('portal_users').selectAll().execute()
  for (const row of rows) {
    t.match(row.password_hash, /^\$scrypt\$/)
    t.notMatch(row.password_hash, password)
    t.notMatch(row.password_hash, user.password)
  }
  t.ok(await authenticatePortalUser(handle, 'admin@acme.example', password), 'the printed password signs in')
  t.ok(await authenticatePortalUser(handle, 'second@acme.example', chosen), 'the piped password signs in')

  // disable ends the sessions too
  const now = new Date().toISOString().slice(0, 19) + 'Z'
  await handle.write(async (trx) => await trx.insertInto('portal_sessions').values([
    { id: 'a'.repeat(64), user_id: 1, csrf_token: 'x', expires_at: '2099-01-01T00:00:00Z', created_at: now },
    { id: 'b'.repeat(64), user_id: 2, csrf_token: 'x', expires_at: '2099-01-01T00:00:00Z', created_at: now }
  ]).execute())
  const disabled = await cli('users', 'disable', '1')
  t.equal(disabled.code, 0, disabled.stderr)
  t.match(disabled.stdout, /^Disabled portal user 1 admin@acme\.example at \S+Z; their sessions have ended\n$/)
  const sessions = await handle.db.selectFrom('portal_sessions').select('user_id').execute()
  t.same(sessions, [{ user_id: 2 }], 'only the disabled user\'s sessions are gone')
  t.equal(await authenticatePortalUser(handle, 'admin@acme.example', password), null)
  const twice = JSON.parse((await cli('--json', 'users', 'disable', '1')).stdout)
  t.equal(twice.status, 'disabled')
  t.match((await cli('users', 'list')).stdout, /admin@acme\.example\s+disabled/)
  const missing = await cli('users', 'disable', '99')
  t.equal(missing.code, 1)
  t.equal(missing.stderr, 'tempclock: error: no portal user with id 99\n')
})
