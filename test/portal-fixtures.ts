import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createAccount } from '../db/accounts.js'
import { createPortalUser } from '../db/portal-users.js'
import type { AppConfig } from '../plugins/config.js'
import { DEFAULT_SCRYPT, useScryptCostForTests } from '../domain/passwords.js'
import { buildTestApp } from './helper.js'

export const PASSWORD = 'correct horse battery staple'

/**
 * The portal tests hash passwords at the lowest cost verifyPassword accepts (~7 ms instead of a
 * production scrypt's 0.2-0.4 s); a test that checks the production cost calls productionScrypt(t).
 */
export const TEST_SCRYPT = { ln: 10, r: 8, p: 1 } as const
await useScryptCostForTests(TEST_SCRYPT)

/** Production scrypt parameters (for new users and the unknown-email dummy hash) for this test only. */
export async function productionScrypt (t: { after: (fn: () => unknown) => void }): Promise<void> {
  await useScryptCostForTests(DEFAULT_SCRYPT)
  t.after(async () => { await useScryptCostForTests(TEST_SCRYPT) })
}

export interface Browser {
  cookies: Map<string, string>
  ip: string
}

export function newBrowser (ip = '127.0.0.1'): Browser {
  return { cookies: new Map(), ip }
}

/** inject() that keeps cookies like a browser (only what these tests need: name=value, deletion). */
export async function request (app: FastifyInstance, browser: Browser, method: 'GET' | 'POST' | 'PUT', url: string, form?: Record<string, string>): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {}
  if (browser.cookies.size > 0) headers.cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded'
  const res = await app.inject({ method, url, headers, remoteAddress: browser.ip, payload: form === undefined ? undefined : new URLSearchParams(form).toString() })
  for (const c of res.cookies as Array<{ name: string, value: string, maxAge?: number, expires?: Date }>) {
    const expired = c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() <= Date.now())
    if (expired || c.value === '') browser.cookies.delete(c.name)
    else browser.cookies.set(c.name, c.value)
  }
  return res
}

export function csrfFrom (body: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(body)
  if (match === null) throw new Error('no CSRF field in page')
  return match[1]!
}

export async function signIn (app: FastifyInstance, browser: Browser, email: string, password = PASSWORD): Promise<LightMyRequestResponse> {
  const form = await request(app, browser, 'GET', '/portal/login')
  return await request(app, browser, 'POST', '/portal/login', { _csrf: csrfFrom(form.body), email, password })
}

export async function setup (t: { after: (fn: () => unknown) => void }, overrides: Partial<AppConfig> = {}) {
  const app = await buildTestApp(t, overrides)
  const account = await createAccount(app.engine, { name: 'Acme Staffing', timezone: 'Europe/London', apiEnabled: true })
  const user = await createPortalUser(app.engine, { accountId: account.id, email: 'Admin@Acme.example', password: PASSWORD })
  return { app, account, user }
}
