import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ROOT, runCli } from './helper.js'
import { listenInProcess } from './server-fixtures.js'
import './portal-fixtures.js' // the test scrypt cost

// The portal in a real browser: Debian's chromium driven by playwright-core, against the compiled
// server on a file database, with data made by the CLI's commands (as an operator would).
// Screenshots land in test-output/ (gitignored) so CI can keep them as artifacts.

const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOT_DIR = join(ROOT, 'test-output')
const CI = process.env.CI === 'true' || process.env.CI === '1'

// without chromium the test is skipped locally, but under CI it runs (and fails to launch)
const skip = !existsSync(CHROMIUM) && !CI
  ? `${CHROMIUM} is missing (apt-get install -y chromium); under CI=true this test runs and fails instead`
  : false

const PASSWORD = 'a long browser test password'

async function cliJson (db: string, ...args: string[]): Promise<any> {
  const res = await runCli(['--db', db, '--json', ...args])
  if (res.code !== 0) throw new Error(`tempclock ${args.join(' ')} failed: ${res.stderr}`)
  return JSON.parse(res.stdout)
}

interface KeyRow { name: string, prefix: string, status: string, lastUsed: string, scopes: string, expires: string }

async function keyRows (page: Page): Promise<KeyRow[]> {
  return await page.locator('table tbody tr').evaluateAll((rows) => rows.map((row) => {
    const cells = [...row.querySelectorAll('th, td')].map((c) => {
      const items = [...c.querySelectorAll('li')]
      return items.length > 0 ? items.map((li) => li.textContent).join(', ') : (c.textContent ?? '').trim().replace(/\s+/g, ' ')
    })
    return { name: cells[0]!, prefix: cells[1]!, status: cells[2]!, lastUsed: cells[3]!, scopes: cells[4]!, expires: cells[5]! }
  }))
}

async function signIn (page: Page, base: string, email: string, password = PASSWORD): Promise<void> {
  await page.goto(`${base}/portal`)
  await page.waitForURL(`${base}/portal/login`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

t.test('sign in, see exactly this account\'s keys, revoke from the CLI, sign out', { skip }, async (t) => {
  const db = join(t.testdir(), 'portal.db')
  const acme = await cliJson(db, 'accounts', 'create', '--name', 'Acme Staffing', '--timezone', 'Europe/London', '--api-enabled')
  const other = await cliJson(db, 'accounts', 'create', '--name', 'Other Co', '--api-enabled')
  const payroll = await cliJson(db, 'keys', 'create', '--account', String(acme.id), '--name', 'Payroll Integration')
  const crm = await cliJson(db, 'keys', 'create', '--account', String(acme.id), '--name', 'CRM Sync', '--scopes', 'workers:read,locations:read', '--expires-at', '2099-12-31')
  const reporting = await cliJson(db, 'keys', 'create', '--account', String(acme.id), '--name', 'Reporting', '--scopes', 'timesheets:read')
  const foreign = await cliJson(db, 'keys', 'create', '--account', String(other.id), '--name', 'Other Co Secret Key')
  const admin = await cliJson(db, 'users', 'create', '--account', String(acme.id), '--email', 'admin@acme.example')
  const otherAdmin = await cliJson(db, 'users', 'create', '--account', String(other.id), '--email', 'admin@other.example')

  // the app in this process: this test is about the portal in a browser, not the server process
  const server = await listenInProcess(t, db)
  // one API call, so one key shows a Last Used date
  const api = await fetch(`${server.url}/api/v1/locations.php`, { headers: { authorization: `Bearer ${payroll.key as string}` } })
  t.equal(api.status, 200)

  let browser: Browser
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--disable-quic', '--no-first-run']
    })
  } catch (err) {
    t.fail(`chromium did not start: ${(err as Error).message}`)
    return
  }
  t.teardown(async () => { await browser.close() })
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  const cspViolations: string[] = []
  const failedResponses: string[] = []
  page.on('console', (message) => { if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text()) })
  page.on('response', (response) => {
    if (response.status() >= 400) failedResponses.push(`${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`)
  })

  // keyboard order on the sign-in page: skip link, brand, email, password, button
  await page.goto(`${server.url}/portal/login`)
  const focusOrder: string[] = []
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Tab')
    // (expressions as strings: the browser's globals are not in this Node project's types)
    focusOrder.push(await page.evaluate<string>("document.activeElement.id !== '' ? '#' + document.activeElement.id : document.activeElement.textContent.trim()"))
  }
  t.same(focusOrder, ['Skip to main content', 'TempClock Manage', '#email', '#password', 'Sign in'])

  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'portal-login.png') })

  // a wrong password stays on the sign-in page with the same message as an unknown email
  await signIn(page, server.url, admin.email, 'definitely not it')
  t.equal(await page.getByRole('alert').textContent(), 'Email or password is incorrect.')

  await signIn(page, server.url, admin.email, admin.password)
  await page.waitForURL(`${server.url}/portal/settings/api-keys`)
  t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'API Keys')
  t.match(await page.locator('main').textContent(), 'To request new keys or revoke existing ones, contact TempClock.')
  t.equal(await page.evaluate<string>('getComputedStyle(document.body).backgroundColor'), 'rgb(245, 247, 250)', 'the local stylesheet applies under the CSP')
  t.same(await page.locator('table thead th').allTextContents(), ['Name', 'Key Prefix', 'Status', 'Last Used', 'Scopes', 'Expires'])

  let rows = await keyRows(page)
  t.same(rows.map((r) => [r.name, r.prefix, r.status]), [
    ['Payroll Integration', payroll.prefix, 'Active'],
    ['CRM Sync', crm.prefix, 'Active'],
    ['Reporting', reporting.prefix, 'Active']
  ])
  t.match(rows[0]!.lastUsed, /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (GMT|BST)$/, 'a readable date')
  t.equal(rows[1]!.lastUsed, 'Never')
  t.equal(rows[0]!.scopes, 'Full access')
  t.equal(rows[1]!.scopes, 'workers:read, locations:read')
  t.equal(rows[0]!.expires, 'Never')
  t.equal(rows[1]!.expires, '31 Dec 2099, 00:00 GMT')

  // revoked by the operator while the admin is signed in: the next page load shows it
  const revoked = await runCli(['--db', db, 'keys', 'revoke', String(reporting.id)])
  t.equal(revoked.code, 0, revoked.stderr)
  await page.reload()
  rows = await keyRows(page)
  t.same(rows.map((r) => [r.name, r.status]), [['Payroll Integration', 'Active'], ['CRM Sync', 'Active'], ['Reporting', 'Revoked']])

  const content = await page.content()
  t.notMatch(content, 'Other Co Secret Key', 'never another account\'s keys')
  t.notMatch(content, foreign.prefix)
  for (const key of [payroll, crm, reporting, foreign]) t.notMatch(content, key.key, 'never a full key')

  const screenshot = join(SCREENSHOT_DIR, 'portal-api-keys.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  t.ok(existsSync(screenshot), `screenshot saved: ${screenshot}`)
  t.comment(`screenshot: ${screenshot}`)

  // the same page on a phone: one card per key, nothing wider than the screen
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true })
  const phonePage = await phone.newPage()
  await phone.addCookies(await context.cookies())
  await phonePage.goto(`${server.url}/portal/settings/api-keys`)
  t.ok(await phonePage.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'), 'no horizontal scrolling on a phone')
  await phonePage.screenshot({ path: join(SCREENSHOT_DIR, 'portal-api-keys-phone.png'), fullPage: true })
  await phone.close()

  // the other account's admin, in their own browser, sees only their key
  const otherContext = await browser.newContext()
  const otherPage = await otherContext.newPage()
  await signIn(otherPage, server.url, otherAdmin.email, otherAdmin.password)
  await otherPage.waitForURL(`${server.url}/portal/settings/api-keys`)
  t.same((await keyRows(otherPage)).map((r) => r.name), ['Other Co Secret Key'])
  await otherContext.close()

  // sign out: back to the sign-in page, and the keys page now sends us there
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(`${server.url}/portal/login?signed_out=1`)
  t.equal(await page.getByRole('status').textContent(), 'You have signed out.')
  await page.goto(`${server.url}/portal/settings/api-keys`)
  t.equal(page.url(), `${server.url}/portal/login`)
  t.same(await context.cookies().then((cs) => cs.filter((c) => c.name === 'tc_portal_session')), [], 'the session cookie is gone')

  t.same(cspViolations, [], 'no content security policy violations')
  t.same(failedResponses, ['401 POST /portal/login'], 'the only failed request is the wrong password')
})
