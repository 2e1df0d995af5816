import t from 'tap'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { runCli, startServer } from './helper.js'

interface Answer { status: number, body: any, headers: Headers }

// Revocation, expiry and API access are read fresh on every request, so a change made by the
// operator CLI in another process applies to the very next request of a running server.
t.test('CLI changes apply to the very next request of a running server', async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'tempclock.db')
  const server = await startServer(dbPath)
  t.teardown(async () => { await server.stop() })

  const get = async (key: string): Promise<Answer> => {
    const res = await fetch(`${server.url}/api/v1/locations.php`, { headers: { authorization: `Bearer ${key}` } })
    return { status: res.status, body: await res.json(), headers: res.headers }
  }

  // set-up through the db modules from the test's process (where the CLI runs too), while the server runs
  const handle = openSqliteEngine({ file: dbPath })
  const acme = await createAccount(handle, { name: 'Acme', apiEnabled: true })
  const beta = await createAccount(handle, { name: 'Beta', apiEnabled: true })
  const revocable = await createApiKey(handle, { accountId: acme.id, name: 'to revoke', scopes: [], expiresAt: null, rateLimit: null })
  const betaKey = await createApiKey(handle, { accountId: beta.id, name: 'beta', scopes: [], expiresAt: null, rateLimit: null })
  await handle.close()

  // a key that expires a few seconds from now, issued by the CLI
  const expiresAtMs = Math.ceil(Date.now() / 1000) * 1000 + 4000
  const expiresAt = new Date(expiresAtMs).toISOString().slice(0, 19) + 'Z'
  const issued = await runCli(['--db', dbPath, '--json', 'keys', 'create', '--account', String(acme.id), '--name', 'short-lived', '--expires-at', expiresAt])
  t.equal(issued.code, 0, issued.stderr)
  const expiring = JSON.parse(issued.stdout) as { key: string, expires_at: string }
  t.equal(expiring.expires_at, expiresAt)

  const before = await get(revocable.key)
  t.equal(before.status, 200, 'the key works')
  t.same(before.body, { data: [], pagination: { total: 0, limit: 50, offset: 0, has_more: false } })
  t.equal(before.headers.get('x-ratelimit-limit'), '60')
  t.equal((await get(betaKey.key)).status, 200)
  if (Date.now() < expiresAtMs - 500) {
    t.equal((await get(expiring.key)).status, 200, 'the short-lived key works before its expiry')
  }

  const revoke = await runCli(['--db', dbPath, 'keys', 'revoke', String(revocable.record.id)])
  t.equal(revoke.code, 0, revoke.stderr)
  const revoked = await get(revocable.key)
  t.equal(revoked.status, 401, 'the very next request after revocation is refused')
  t.match(revoked.body, { error: true, status: 401, code: 'api_key_revoked', message: 'This API key has been revoked' })
  t.equal(revoked.headers.get('www-authenticate'), 'Bearer realm="TempClock API", error="invalid_token"')
  t.equal(revoked.headers.get('access-control-allow-origin'), '*')

  const disable = await runCli(['--db', dbPath, 'accounts', 'disable-api', String(beta.id)])
  t.equal(disable.code, 0, disable.stderr)
  const disabled = await get(betaKey.key)
  t.equal(disabled.status, 403, 'the very next request after disable-api is refused')
  t.match(disabled.body, { error: true, status: 403, code: 'api_access_disabled' })

  const enable = await runCli(['--db', dbPath, 'accounts', 'enable-api', String(beta.id)])
  t.equal(enable.code, 0, enable.stderr)
  t.equal((await get(betaKey.key)).status, 200, 'and works again once re-enabled')

  const wait = expiresAtMs - Date.now() + 100
  if (wait > 0) await sleep(wait)
  const expired = await get(expiring.key)
  t.equal(expired.status, 401, 'the key stops working once its expiry has passed')
  t.match(expired.body, { error: true, status: 401, code: 'api_key_expired', message: 'This API key has expired' })
  t.equal(expired.headers.get('www-authenticate'), 'Bearer realm="TempClock API", error="invalid_token"')

  const listed = await runCli(['--db', dbPath, '--json', 'keys', 'list'])
  const statuses = (JSON.parse(listed.stdout) as Array<{ name: string, status: string, last_used_at: string | null }>)
    .map((k) => [k.name, k.status, k.last_used_at !== null])
  t.same(statuses, [['to revoke', 'revoked', true], ['beta', 'active', true], ['short-lived', 'expired', statuses[2]![2]!]],
    'keys list shows each status, and the server recorded last use')

  t.equal(await server.stop(), 0, 'the server exits 0 on SIGTERM')
})
