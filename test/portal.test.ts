import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { createApiKey, hashApiKey, revokeApiKey } from '../db/api-keys.js'
import { createAccount } from '../db/accounts.js'
import { createPortalUser, disablePortalUser, listPortalUsers } from '../db/portal-users.js'
import { createSqliteMigrator as createMigrator } from '../db/engine/sqlite/migrate.js'
import { openSqliteEngine } from '../db/engine/sqlite/index.js'
import { hashSessionToken } from '../db/portal-sessions.js'
import { LOGIN_MAX_PER_EMAIL, LOGIN_MAX_PER_IP } from '../routes/portal/login.js'
import { escapeHtml, html } from '../views/html.js'
import { bearer, createTestAccount, ON_POSTGRES, REFUSED } from './helper.js'
import { PASSWORD, csrfFrom, newBrowser, productionScrypt, request, setup, signIn } from './portal-fixtures.js'

t.test('html escapes every interpolation but nested fragments', async (t) => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  const name = '<script>alert(1)</script>'
  t.equal(html`<p>${name}</p>`.value, '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>')
  t.equal(html`<ul>${['a<', 'b'].map((s) => html`<li>${s}</li>`)}</ul>`.value, '<ul><li>a&lt;</li><li>b</li></ul>')
  t.equal(html`${null}${undefined}${false}${0}`.value, '0')
  t.equal(`${html`<b>${'&'}</b>`}`, '<b>&amp;</b>', 'a fragment stringifies to its markup')
})

t.test('portal users in the db module: list by account, case-insensitive unique email', async (t) => {
  const { app, account } = await setup(t)
  const other = await createAccount(app.engine, { name: 'Other' })
  await createPortalUser(app.engine, { accountId: other.id, email: 'ops@other.example', password: PASSWORD })
  t.same((await listPortalUsers(app.engine)).map((u) => u.email), ['admin@acme.example', 'ops@other.example'])
  t.same((await listPortalUsers(app.engine, account.id)).map((u) => [u.email, u.status]), [['admin@acme.example', 'active']])
  await t.rejects(createPortalUser(app.engine, { accountId: other.id, email: 'ADMIN@ACME.EXAMPLE', password: PASSWORD }), /already exists/)
  // the column itself is case-insensitive too, even for a row written around the module
  await t.rejects(app.db.insertInto('portal_users').values({
    account_id: other.id, email: 'Ops@Other.Example', password_hash: 'x', disabled_at: null, last_login_at: null, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z'
  }).execute(), { code: REFUSED.unique })
})

t.test('the portal migration goes down and up again', async (t) => {
  const handle = openSqliteEngine({ file: ':memory:' })
  t.teardown(async () => { await handle.close() })
  const migrator = createMigrator(handle.db)
  await migrator.migrateToLatest()
  const tables = async () => (await handle.db.introspection.getTables()).map((table) => table.name).filter((n) => n.startsWith('portal_'))
  t.same((await tables()).sort(), ['portal_sessions', 'portal_users'])
  // back to before the portal (and whatever came later), whatever other migrations exist
  const down = await migrator.migrateTo('2026-11-28-002-reference-data-and-events')
  t.equal(down.error, undefined)
  t.ok(down.results?.some((r) => r.migrationName === '2026-11-28-005-portal' && r.direction === 'Down' && r.status === 'Success'))
  t.same(await tables(), [])
  t.equal((await migrator.migrateToLatest()).error, undefined)
  t.same((await tables()).sort(), ['portal_sessions', 'portal_users'])
})

t.test('sign-in page: form, labels, CSRF field, cookie flags, security headers, no CORS', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ method: 'GET', url: '/portal/login', headers: { origin: 'https://evil.example' } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(res.body, /<html lang="en">/)
  t.match(res.body, /<label for="email">Email<\/label>\s*<input id="email" name="email" type="email" autocomplete="username" required/)
  t.match(res.body, /<label for="password">Password<\/label>\s*<input id="password" name="password" type="password"/)
  t.match(res.body, /<link rel="stylesheet" href="\/portal\/static\/portal.css">/)
  t.notMatch(res.body, /<script|style=|onclick/i, 'no script, no inline style')
  const token = csrfFrom(res.body)
  const cookie = res.cookies.find((c) => c.name === 'tc_portal_login')!
  t.equal(cookie.value, token, 'double submit: the field matches the cookie')
  t.same([cookie.httpOnly, cookie.sameSite, cookie.path, cookie.secure ?? false], [true, 'Lax', '/portal/login', false])

  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /default-src 'none'/)
  t.match(csp, /style-src 'self'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.match(csp, /form-action 'self'/)
  t.notMatch(csp, /unsafe-inline|script-src/, 'no inline script allowed, no script source at all')
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal(res.headers['referrer-policy'], 'no-referrer')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP')
  t.equal(res.headers['access-control-allow-origin'], undefined, 'no cross-origin access to the portal')

  const preflight = await app.inject({ method: 'OPTIONS', url: '/portal/login', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.equal(preflight.headers['access-control-allow-origin'], undefined)
})

t.test('the portal context leaves the API alone: no portal headers, no form parser, no cookies', async (t) => {
  const { app } = await setup(t)
  const { key } = await createTestAccount(app)
  const api = await app.inject({ method: 'GET', url: '/api/v1/locations.php', headers: { ...bearer(key), origin: 'https://payroll.example' } })
  t.equal(api.statusCode, 200)
  t.equal(api.headers['access-control-allow-origin'], '*')
  for (const header of ['content-security-policy', 'x-frame-options', 'referrer-policy', 'cache-control']) {
    t.equal(api.headers[header], undefined, `no ${header} on the API`)
  }
  const form = await app.inject({
    method: 'POST', url: '/api/v1/locations.php', headers: { ...bearer(key), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x'
  })
  t.equal(form.statusCode, 415)
  t.equal(form.json().code, 'unsupported_media_type')
  const missing = await app.inject({ method: 'GET', url: '/nowhere' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'not_found', 'unknown paths outside the portal keep the JSON envelope')
})

t.test('sign in: opaque session cookie, only its hash stored, redirect to the keys page', async (t) => {
  await productionScrypt(t)
  const { app, user } = await setup(t)
  const browser = newBrowser()
  const res = await signIn(app, browser, '  ADMIN@acme.EXAMPLE ')
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/portal/settings/api-keys')
  const cookie = res.cookies.find((c) => c.name === 'tc_portal_session')!
  t.match(cookie.value, /^[A-Za-z0-9_-]{43}$/)
  t.same([cookie.httpOnly, cookie.sameSite, cookie.path, cookie.secure ?? false, cookie.maxAge], [true, 'Lax', '/portal', false, undefined])
  t.ok(res.cookies.some((c) => c.name === 'tc_portal_login' && c.value === ''), 'the sign-in CSRF cookie is cleared')

  const rows = await app.db.selectFrom('portal_sessions').selectAll().execute()
  t.equal(rows.length, 1)
  t.equal(rows[0]!.id, hashSessionToken(cookie.value), 'stored as SHA-256 of the token')
  t.not(rows[0]!.id, cookie.value)
  t.equal(rows[0]!.user_id, user.id)
  const ttl = Date.parse(rows[0]!.expires_at) - Date.now()
  t.ok(ttl > 7.9 * 3600_000 && ttl <= 8 * 3600_000, 'expires 8 hours after sign-in')
  const stored = await app.db.selectFrom('portal_users').selectAll().executeTakeFirstOrThrow()
  t.not(stored.last_login_at, null)
  t.match(stored.password_hash, /^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  t.notMatch(stored.password_hash, PASSWORD)

  const page = await request(app, browser, 'GET', '/portal/settings/api-keys')
  t.equal(page.statusCode, 200)
  t.match(page.body, 'Signed in as</span> admin@acme.example')

  // signed in: the sign-in page and the portal root lead to the keys page
  t.equal((await request(app, browser, 'GET', '/portal/login')).headers.location, '/portal/settings/api-keys')
  t.equal((await request(app, browser, 'GET', '/portal')).headers.location, '/portal/settings/api-keys')
  t.equal((await request(app, newBrowser(), 'GET', '/portal')).headers.location, '/portal/login')
  t.equal((await request(app, newBrowser(), 'GET', '/portal/settings/api-keys')).headers.location, '/portal/login')

  // signing in from a browser that still holds a session replaces it (no fixation, no leftovers)
  const fresh = newBrowser()
  const form = await request(app, fresh, 'GET', '/portal/login')
  fresh.cookies.set('tc_portal_session', browser.cookies.get('tc_portal_session')!)
  const again = await request(app, fresh, 'POST', '/portal/login', { _csrf: csrfFrom(form.body), email: 'admin@acme.example', password: PASSWORD })
  t.equal(again.statusCode, 303)
  t.not(fresh.cookies.get('tc_portal_session'), cookie.value)
  const after = await app.db.selectFrom('portal_sessions').selectAll().execute()
  t.equal(after.length, 1)
  t.not(after[0]!.id, rows[0]!.id)
})

t.test('Secure cookies and HSTS when the setting says the portal is served over HTTPS', async (t) => {
  const { app } = await setup(t, { portalSecureCookies: true })
  const browser = newBrowser()
  const form = await request(app, browser, 'GET', '/portal/login')
  t.equal(form.cookies.find((c) => c.name === 'tc_portal_login')!.secure, true)
  t.match(String(form.headers['strict-transport-security']), /max-age=31536000/)
  const res = await request(app, browser, 'POST', '/portal/login', { _csrf: csrfFrom(form.body), email: 'admin@acme.example', password: PASSWORD })
  t.equal(res.cookies.find((c) => c.name === 'tc_portal_session')!.secure, true)
})

/** One failed sign-in from a fresh address: the answer's message and how long it took. */
async function failedSignIn (t: Test, app: FastifyInstance, email: string, password: string): Promise<{ message: string | undefined, ms: number }> {
  const browser = newBrowser(`10.1.0.${Math.floor(Math.random() * 250)}`)
  const form = await request(app, browser, 'GET', '/portal/login')
  const started = process.hrtime.bigint()
  const res = await request(app, browser, 'POST', '/portal/login', { _csrf: csrfFrom(form.body), email, password })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  t.equal(res.statusCode, 401)
  t.notOk(res.cookies.some((c) => c.name === 'tc_portal_session'), 'no session')
  const alert = /<p class="alert" role="alert" id="login-error">([^<]*)<\/p>/.exec(res.body)
  return { message: alert?.[1], ms }
}

t.test('wrong email, wrong password, disabled user and a malformed email: the same answer', async (t) => {
  const { app, account } = await setup(t)
  const disabled = await createPortalUser(app.engine, { accountId: account.id, email: 'gone@acme.example', password: PASSWORD })
  await disablePortalUser(app.engine, disabled.id)
  const wrongPassword = await failedSignIn(t, app, 'admin@acme.example', 'not the password at all')
  const unknownEmail = await failedSignIn(t, app, 'nobody@acme.example', 'not the password at all')
  const disabledUser = await failedSignIn(t, app, 'gone@acme.example', PASSWORD)
  const malformedEmail = await failedSignIn(t, app, 'not-an-email', PASSWORD)
  t.equal(wrongPassword.message, 'Email or password is incorrect.')
  t.equal(unknownEmail.message, wrongPassword.message)
  t.equal(disabledUser.message, wrongPassword.message)
  t.equal(malformedEmail.message, wrongPassword.message)
})

// the production scrypt cost, a dozen times: the same on both engines, so checked on one
t.test('an unknown email costs what a wrong password costs', { skip: ON_POSTGRES ? 'the cost of scrypt does not depend on the engine: checked on the SQLite run' : false }, async (t) => {
  await productionScrypt(t)
  const { app } = await setup(t)
  // the unknown email runs scrypt against a dummy hash: it costs what a real check costs
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const known: number[] = []
  const unknown: number[] = []
  for (let i = 0; i < 4; i++) {
    known.push((await failedSignIn(t, app, 'admin@acme.example', 'wrong password ' + i)).ms)
    unknown.push((await failedSignIn(t, app, `nobody${i}@acme.example`, 'wrong password ' + i)).ms)
  }
  const ratio = median(unknown) / median(known)
  // generous bounds: the point is one scrypt either way, not a benchmark on a busy machine
  t.ok(ratio > 0.33 && ratio < 3, `unknown email ${median(unknown).toFixed(0)} ms vs wrong password ${median(known).toFixed(0)} ms`)
  t.ok(median(unknown) > 50, 'the unknown-email answer includes a real scrypt')
})

t.test('CSRF: the sign-in form and the sign-out form need their token', async (t) => {
  const { app } = await setup(t)
  const browser = newBrowser()
  const form = await request(app, browser, 'GET', '/portal/login')
  const token = csrfFrom(form.body)

  const missing = await request(app, browser, 'POST', '/portal/login', { email: 'admin@acme.example', password: PASSWORD })
  t.equal(missing.statusCode, 403)
  t.match(missing.body, 'This sign-in form has expired')
  const wrong = await request(app, browser, 'POST', '/portal/login', { _csrf: token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'), email: 'admin@acme.example', password: PASSWORD })
  t.equal(wrong.statusCode, 403)
  // a forged cross-site post carries a token but not the victim's cookie
  const noCookie = newBrowser()
  const forged = await request(app, noCookie, 'POST', '/portal/login', { _csrf: token, email: 'admin@acme.example', password: PASSWORD })
  t.equal(forged.statusCode, 403)
  t.notOk(forged.cookies.some((c) => c.name === 'tc_portal_session'))
  t.equal(await app.db.selectFrom('portal_sessions').select('id').execute().then((r) => r.length), 0, 'no session was created')

  // JSON (or text/plain) is not a form this portal accepts
  const json = await app.inject({ method: 'POST', url: '/portal/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ email: 'a@b.c' }) })
  t.equal(json.statusCode, 415)
  t.match(json.headers['content-type'], /text\/html/)
  t.match(json.body, 'Unsupported form encoding')

  t.equal((await signIn(app, browser, 'admin@acme.example')).statusCode, 303)
  const page = await request(app, browser, 'GET', '/portal/settings/api-keys')
  const sessionToken = csrfFrom(page.body)
  const stored = await app.db.selectFrom('portal_sessions').select('csrf_token').executeTakeFirstOrThrow()
  t.equal(sessionToken, stored.csrf_token, 'the sign-out form carries the session\'s token')

  const noToken = await request(app, browser, 'POST', '/portal/logout', {})
  t.equal(noToken.statusCode, 403)
  t.match(noToken.headers['content-type'], /text\/html/)
  const otherToken = await request(app, browser, 'POST', '/portal/logout', { _csrf: token })
  t.equal(otherToken.statusCode, 403, 'the sign-in token is no good for the session')
  t.equal((await request(app, browser, 'GET', '/portal/settings/api-keys')).statusCode, 200, 'still signed in')
})

t.test('sign out ends the session server-side', async (t) => {
  const { app } = await setup(t)
  const browser = newBrowser()
  await signIn(app, browser, 'admin@acme.example')
  const stolenCookie = browser.cookies.get('tc_portal_session')!
  const page = await request(app, browser, 'GET', '/portal/settings/api-keys')
  const out = await request(app, browser, 'POST', '/portal/logout', { _csrf: csrfFrom(page.body) })
  t.equal(out.statusCode, 303)
  t.equal(out.headers.location, '/portal/login?signed_out=1')
  t.ok(out.cookies.some((c) => c.name === 'tc_portal_session' && c.value === ''), 'cookie cleared')
  t.equal((await app.db.selectFrom('portal_sessions').select('id').execute()).length, 0, 'session row deleted')

  const login = await request(app, browser, 'GET', '/portal/login?signed_out=1')
  t.match(login.body, 'You have signed out.')

  // a copy of the old cookie is worthless now, and is cleared when presented
  const replay = newBrowser()
  replay.cookies.set('tc_portal_session', stolenCookie)
  const res = await request(app, replay, 'GET', '/portal/settings/api-keys')
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/portal/login')
  t.ok(res.cookies.some((c) => c.name === 'tc_portal_session' && c.value === ''))
  t.equal((await request(app, replay, 'POST', '/portal/logout', {})).headers.location, '/portal/login', 'signing out twice just lands on sign-in')
})

t.test('a disabled user or an expired session is signed out on the next request', async (t) => {
  const { app, account, user } = await setup(t)
  const browser = newBrowser()
  await signIn(app, browser, 'admin@acme.example')
  t.equal((await request(app, browser, 'GET', '/portal/settings/api-keys')).statusCode, 200)

  // disabled behind the session's back (sessions left in place): the lookup still refuses it
  await app.db.updateTable('portal_users').set({ disabled_at: '2026-01-01T00:00:00Z' }).where('id', '=', user.id).execute()
  t.equal((await request(app, browser, 'GET', '/portal/settings/api-keys')).headers.location, '/portal/login')
  await app.db.updateTable('portal_users').set({ disabled_at: null }).where('id', '=', user.id).execute()

  await signIn(app, browser, 'admin@acme.example')
  t.equal((await request(app, browser, 'GET', '/portal/settings/api-keys')).statusCode, 200)
  const disabled = await disablePortalUser(app.engine, user.id)
  t.equal(disabled!.status, 'disabled')
  t.equal((await app.db.selectFrom('portal_sessions').select('id').execute()).length, 0, 'disable deletes the sessions')
  t.equal((await request(app, browser, 'GET', '/portal/settings/api-keys')).headers.location, '/portal/login')
  t.equal((await signIn(app, browser, 'admin@acme.example')).statusCode, 401, 'and cannot sign in again')

  const other = await createPortalUser(app.engine, { accountId: account.id, email: 'second@acme.example', password: PASSWORD })
  const second = newBrowser()
  await signIn(app, second, other.email)
  t.equal((await request(app, second, 'GET', '/portal/settings/api-keys')).statusCode, 200)
  await app.db.updateTable('portal_sessions').set({ expires_at: '2026-01-01T00:00:00Z' }).execute()
  t.equal((await request(app, second, 'GET', '/portal/settings/api-keys')).headers.location, '/portal/login', 'expired')
  // the next sign-in sweeps expired rows
  await signIn(app, newBrowser(), other.email)
  t.equal((await app.db.selectFrom('portal_sessions').select('id').execute()).length, 1)
})

t.test('throttle: per email across IPs, per IP across emails; 429 with Retry-After', async (t) => {
  const { app } = await setup(t)
  // attempts count before the CSRF check, so cheap attempts without a token fill the window
  for (let i = 0; i < LOGIN_MAX_PER_EMAIL; i++) {
    const res = await request(app, newBrowser(`10.2.0.${i + 1}`), 'POST', '/portal/login', { email: i % 2 === 0 ? 'admin@acme.example' : 'ADMIN@acme.example' })
    t.equal(res.statusCode, 403)
  }
  const limited = await signIn(app, newBrowser('10.2.1.1'), 'admin@acme.example')
  t.equal(limited.statusCode, 429, 'even the right password from a fresh IP waits')
  t.match(limited.body, /Too many sign-in attempts. Please wait 1[45] minutes/)
  t.ok(Number(limited.headers['retry-after']) > 800)
  t.notOk(limited.cookies.some((c) => c.name === 'tc_portal_session'))
  t.match(limited.body, 'name="_csrf"', 'the page still offers the form')
  const unknownLimited = await request(app, newBrowser('10.2.1.2'), 'POST', '/portal/login', { email: 'nobody@acme.example' })
  t.equal(unknownLimited.statusCode, 403, 'other emails are not affected')

  const ip = '10.3.0.1'
  for (let i = 0; i < LOGIN_MAX_PER_IP; i++) {
    t.equal((await request(app, newBrowser(ip), 'POST', '/portal/login', { email: `user${i}@x.example` })).statusCode, 403)
  }
  const ipLimited = await request(app, newBrowser(ip), 'POST', '/portal/login', { email: 'fresh@x.example' })
  t.equal(ipLimited.statusCode, 429)
  t.equal((await request(app, newBrowser('10.3.0.2'), 'POST', '/portal/login', { email: 'fresh@x.example' })).statusCode, 403, 'another IP is not affected')
  // IPv6: one /64 is one client
  for (let i = 0; i < LOGIN_MAX_PER_IP; i++) {
    await request(app, newBrowser(`2001:db8:0:1::${(i + 1).toString(16)}`), 'POST', '/portal/login', { email: `v6user${i}@x.example` })
  }
  t.equal((await request(app, newBrowser('2001:db8:0:1:ffff::1'), 'POST', '/portal/login', { email: 'v6@x.example' })).statusCode, 429)
  t.equal((await request(app, newBrowser('2001:db8:0:2::1'), 'POST', '/portal/login', { email: 'v6@x.example' })).statusCode, 403)
  // the page itself is never throttled
  t.equal((await request(app, newBrowser(ip), 'GET', '/portal/login')).statusCode, 200)
})

t.test('the keys table: exactly this account\'s keys, statuses, never a key or hash', async (t) => {
  const { app, account } = await setup(t)
  const other = await createAccount(app.engine, { name: 'Other Co', apiEnabled: true })
  await createPortalUser(app.engine, { accountId: other.id, email: 'admin@other.example', password: PASSWORD })

  const payroll = await createApiKey(app.engine, { accountId: account.id, name: 'Payroll <Integration>', scopes: [], expiresAt: null, rateLimit: null })
  const crm = await createApiKey(app.engine, { accountId: account.id, name: 'CRM sync', scopes: ['workers:read', 'locations:read'], expiresAt: '2099-12-31T00:00:00Z', rateLimit: null })
  const old = await createApiKey(app.engine, { accountId: account.id, name: 'Old export', scopes: ['timesheets:read'], expiresAt: '2099-01-01T00:00:00Z', rateLimit: null })
  await app.db.updateTable('api_keys').set({ expires_at: '2025-01-01T00:00:00Z' }).where('id', '=', old.record.id).execute()
  await revokeApiKey(app.engine, crm.record.id)
  await app.db.updateTable('api_keys').set({ last_used_at: '2026-06-15T09:30:00Z' }).where('id', '=', payroll.record.id).execute()
  const foreign = await createApiKey(app.engine, { accountId: other.id, name: 'Other secret integration', scopes: [], expiresAt: null, rateLimit: null })

  const browser = newBrowser()
  await signIn(app, browser, 'admin@acme.example')
  const page = await request(app, browser, 'GET', '/portal/settings/api-keys')
  t.equal(page.statusCode, 200)
  const body = page.body
  t.match(body, '<th scope="col">Name</th><th scope="col">Key Prefix</th><th scope="col">Status</th>')
  t.match(body, '<th scope="col">Last Used</th><th scope="col">Scopes</th><th scope="col">Expires</th>')
  t.match(body, 'To request new keys or revoke existing ones, contact TempClock.')
  t.match(body, '<caption id="keys-caption">API keys for Acme Staffing (3)</caption>')

  const rows = [...body.matchAll(/<tr>\s*<th scope="row">([\s\S]*?)<\/tr>/g)].map((m) => m[0])
  t.equal(rows.length, 3, 'three rows, one per key of this account')
  const [p, c, o] = rows as [string, string, string]
  t.match(p, '<th scope="row">Payroll &lt;Integration&gt;</th>')
  t.match(p, `<code class="prefix">${payroll.record.prefix}</code>`)
  t.match(payroll.record.prefix, /^tc_live_[0-9a-f]{4}\.\.\.$/)
  t.match(p, '<span class="status status-active">Active</span>')
  t.match(p, '<time datetime="2026-06-15T09:30:00Z">15 Jun 2026, 10:30 BST</time>', 'readable, in the account\'s zone')
  t.match(p, '<td data-label="Scopes">Full access</td>')
  t.match(p, '<td data-label="Expires">Never</td>')
  t.match(c, '<span class="status status-revoked">Revoked</span>')
  t.match(c, '<td data-label="Last Used">Never</td>')
  t.match(c, '<li><code>workers:read</code></li><li><code>locations:read</code></li>')
  t.match(c, '<time datetime="2099-12-31T00:00:00Z">31 Dec 2099, 00:00 GMT</time>')
  t.match(o, '<span class="status status-expired">Expired</span>')

  for (const created of [payroll, crm, old, foreign]) {
    t.notMatch(body, created.key, 'never the full key')
    t.notMatch(body, hashApiKey(created.key), 'never the hash')
  }
  t.notMatch(body, 'Other secret integration', 'never another account\'s keys')
  t.notMatch(body, foreign.record.prefix)

  // the other account's admin sees only theirs
  const otherBrowser = newBrowser()
  await signIn(app, otherBrowser, 'admin@other.example')
  const otherPage = await request(app, otherBrowser, 'GET', '/portal/settings/api-keys')
  t.match(otherPage.body, 'Other secret integration')
  t.notMatch(otherPage.body, 'Payroll')
  t.notMatch(otherPage.body, 'CRM sync')
  t.match(otherPage.body, 'API keys for Other Co (1)')

  // an account without keys
  const empty = await createAccount(app.engine, { name: 'Empty Ltd' })
  await createPortalUser(app.engine, { accountId: empty.id, email: 'admin@empty.example', password: PASSWORD })
  const emptyBrowser = newBrowser()
  await signIn(app, emptyBrowser, 'admin@empty.example')
  t.match((await request(app, emptyBrowser, 'GET', '/portal/settings/api-keys')).body, 'This account has no API keys yet.')
})

t.test('portal errors are HTML pages; the stylesheet is served locally with an ETag', async (t) => {
  const { app } = await setup(t)
  const missing = await app.inject({ method: 'GET', url: '/portal/nowhere', headers: { origin: 'https://evil.example' } })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['access-control-allow-origin'], undefined, 'no CORS on portal 404s either')
  t.match(missing.headers['content-type'], /text\/html/)
  t.match(missing.body, 'Page not found')
  t.equal(missing.headers['x-frame-options'], 'DENY')
  const wrongMethod = await app.inject({ method: 'PUT', url: '/portal/login' })
  t.equal(wrongMethod.statusCode, 405)
  t.equal(wrongMethod.headers.allow, 'GET, HEAD, POST')
  t.match(wrongMethod.body, 'Method not allowed')
  const tooLong = await app.inject({ method: 'POST', url: '/portal/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'password=' + 'x'.repeat(2000) })
  t.equal(tooLong.statusCode, 400)
  t.match(tooLong.headers['content-type'], /text\/html/)

  const css = await app.inject({ method: 'GET', url: '/portal/static/portal.css' })
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /^text\/css/)
  t.match(css.body, '@media (max-width: 40rem)')
  t.match(css.headers['cache-control'], /max-age=3600/)
  const etag = String(css.headers.etag)
  const again = await app.inject({ method: 'GET', url: '/portal/static/portal.css', headers: { 'if-none-match': etag } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  const icon = await app.inject({ method: 'GET', url: '/portal/static/favicon.svg' })
  t.equal(icon.statusCode, 200)
  t.equal(icon.headers['content-type'], 'image/svg+xml')
})
