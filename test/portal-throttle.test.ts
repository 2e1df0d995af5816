import t from 'tap'
import { LOGIN_MAX_PER_EMAIL, LOGIN_MAX_PER_IP } from '../routes/portal/login.js'
import { newBrowser, request, setup, signIn } from './portal-fixtures.js'

t.test('throttle: a lock-out holds through a flood of sign-ins about other emails and addresses', async (t) => {
  let elapsed = 0
  const { app } = await setup(t, { rateLimitClock: () => elapsed })
  for (let i = 0; i < LOGIN_MAX_PER_EMAIL; i++) {
    await request(app, newBrowser(`10.4.0.${i + 1}`), 'POST', '/portal/login', { email: 'admin@acme.example' })
  }
  const lockedIp = '10.5.0.1'
  for (let i = 0; i < LOGIN_MAX_PER_IP; i++) {
    await request(app, newBrowser(lockedIp), 'POST', '/portal/login', { email: `probe${i}@x.example` })
  }
  t.equal((await signIn(app, newBrowser('10.4.1.1'), 'admin@acme.example')).statusCode, 429, 'the email is locked out')
  t.equal((await request(app, newBrowser(lockedIp), 'POST', '/portal/login', { email: 'someone@x.example' })).statusCode, 429, 'the IP is locked out')

  // 5,000 junk attempts with other emails from 167 loopback addresses (each within its own IP limit)
  elapsed = 60_000
  let junk = 0
  for (let a = 0; junk < 5000; a++) {
    const browser = newBrowser(`127.0.${Math.floor(a / 250)}.${(a % 250) + 2}`)
    for (let i = 0; i < LOGIN_MAX_PER_IP && junk < 5000; i++, junk++) {
      const res = await request(app, browser, 'POST', '/portal/login', { email: `junk${junk}@flood.example` })
      if (res.statusCode !== 403) { t.fail(`junk attempt ${junk}: ${res.statusCode}`); return }
    }
  }

  const after = await signIn(app, newBrowser('10.4.1.2'), 'admin@acme.example')
  t.equal(after.statusCode, 429, 'the right password still waits: the lock-out was not evicted')
  t.notOk(after.cookies.some((c) => c.name === 'tc_portal_session'))
  t.equal((await request(app, newBrowser(lockedIp), 'POST', '/portal/login', { email: 'someone@x.example' })).statusCode, 429, 'so does the IP')

  // and it ends with its window
  elapsed = 15 * 60_000
  const later = await signIn(app, newBrowser('10.4.1.3'), 'admin@acme.example')
  t.equal(later.statusCode, 303, 'signed in once the attempts have left the 15-minute window')
})
