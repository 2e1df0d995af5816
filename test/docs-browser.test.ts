import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { chromium, type Browser } from 'playwright-core'
import { createDemoAccount } from '../db/demo.js'
import { ROOT, buildTestApp } from './helper.js'

// /docs in a real browser, served over plain http on a host name that is not localhost (a LAN
// name resolved to this machine by chromium itself): the page must render, say what it is, show
// the scopes where a user authorizes, and "Try it out" must work with its pre-filled values.

const CHROMIUM = '/usr/bin/chromium'
const CI = process.env.CI === 'true' || process.env.CI === '1'
const skip = !existsSync(CHROMIUM) && !CI
  ? `${CHROMIUM} is missing (apt-get install -y chromium); under CI=true this test runs and fails instead`
  : false

t.test('/docs over plain http on a LAN host name: renders, shows scopes, tries a call', { skip }, async (t) => {
  const app = await buildTestApp(t)
  const { key } = await createDemoAccount(app.engine)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const base = `http://tempclock.test:${port}`

  let browser: Browser
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--disable-quic', '--no-first-run', '--host-resolver-rules=MAP tempclock.test 127.0.0.1']
    })
  } catch (err) {
    t.fail(`chromium did not start: ${(err as Error).message}`)
    return
  }
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const failed: string[] = []
  page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText ?? ''}`))
  page.on('console', (message) => { if (message.type() === 'error') failed.push(`console: ${message.text()}`) })

  await page.goto(`${base}/docs`)
  await page.locator('.opblock').first().waitFor({ timeout: 30_000 })
  t.equal(await page.title(), 'TempClock API reference', 'titled as this API')
  t.ok(await page.locator('.opblock').count() >= 20, 'the operations are listed')
  t.match(await page.locator('.info .title').textContent(), /TempClock API/)

  // the Authorize dialog says which scopes there are
  await page.locator('.btn.authorize').first().click()
  const dialog = page.locator('.modal-ux')
  await dialog.waitFor()
  const text = await dialog.textContent() ?? ''
  for (const scope of ['workers:read', 'timesheets:read', 'clock:write', 'webhooks:write']) t.match(text, scope, `the dialog names ${scope}`)
  await dialog.locator('input').first().fill(key)
  await dialog.locator('button.authorize').click()
  await dialog.locator('button.btn-done, button.close-modal').first().click()

  // "Try it out" on the worker list, with what the page fills in
  const operation = page.locator('#operations-Reference_data-getWorkers')
  await operation.locator('.opblock-summary').click()
  await operation.locator('.try-out__btn').click()
  await operation.locator('.execute').click()
  const status = operation.locator('.live-responses-table tbody .response-col_status').first()
  await status.waitFor({ timeout: 30_000 })
  t.match(await status.textContent(), /200/, 'the call succeeds')

  mkdirSync(join(ROOT, 'test-output'), { recursive: true })
  await page.screenshot({ path: join(ROOT, 'test-output', 'docs.png') })
  t.same(failed, [], 'no request failed, nothing logged an error')
})
