import t from 'tap'
import { Writable } from 'node:stream'
import Fastify, { type FastifyServerOptions, type LightMyRequestResponse } from 'fastify'
import rootPlugin, { serverOptions } from '../app.js'
import { testConfig } from '../plugins/config.js'
import { createAccount } from '../db/accounts.js'
import { createApiKey } from '../db/api-keys.js'
import { redactKeys } from '../domain/redact.js'
import { bearer } from './helper.js'

/** Every character as a percent escape, in lower- or upper-case hex. */
function percentEncodeAll (text: string, upper: boolean): string {
  return [...text].map((c) => '%' + (upper ? c.charCodeAt(0).toString(16).toUpperCase() : c.charCodeAt(0).toString(16))).join('')
}

/** The ways a key could be written down: in full, its secret part, either case, fully escaped. */
function forms (key: string): string[] {
  const secret = key.slice('tc_live_'.length)
  return [key, secret, key.toUpperCase(), secret.toUpperCase(),
    percentEncodeAll(key, false), percentEncodeAll(key, true), percentEncodeAll(secret, false), percentEncodeAll(secret, true)]
}

t.test('a key in a URL is masked in any percent-encoded form; a key-shaped request id is never echoed or logged', async (t) => {
  const lines: string[] = []
  const config = testConfig({ logLevel: 'trace' })
  const options = serverOptions(config)
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(...chunk.toString().split('\n').filter((l) => l !== '')); done() } })
  const app = Fastify({ ...options, logger: { ...(options.logger as Record<string, unknown>), stream } } as FastifyServerOptions)
  await app.register(rootPlugin, { config })
  await app.ready()
  t.after(async () => { await app.close() })
  const account = await createAccount(app.engine, { name: 'Acme', apiEnabled: true })
  const { key } = await createApiKey(app.engine, { accountId: account.id, name: 'k', scopes: [], expiresAt: null, rateLimit: null })
  const secret = key.slice('tc_live_'.length)

  const inUrl = [
    `tc%5Flive%5F${secret}`,
    `tc%5flive%5f${secret}`,
    `tc%255Flive%255F${secret}`,
    `TC%5FLIVE%5F${secret.toUpperCase()}`,
    percentEncodeAll(key, false),
    percentEncodeAll(key, true),
    `tc_live%5F${secret}`
  ]
  const responses: LightMyRequestResponse[] = []
  for (const pasted of inUrl) {
    responses.push(await app.inject({ url: `/api/v1/locations.php?k=${pasted}`, headers: bearer(key) }))
    responses.push(await app.inject({ url: `/api/v1/locations.php?${pasted}=1`, headers: bearer(key) }))
    responses.push(await app.inject({ url: `/nowhere/${pasted}` }))
  }
  for (const id of [key, key.toUpperCase(), secret, `trace-${key}`]) {
    const res = await app.inject({ url: '/api/v1/locations.php', headers: { ...bearer(key), 'x-request-id': id } })
    t.match(res.headers['x-request-id'], /^req_[0-9a-f]{32}$/, `request id ${id.slice(0, 14)}…: replaced by a generated one`)
    t.equal(res.json().pagination.total, 0, 'the request itself is served')
    responses.push(res)
  }
  t.same(responses.slice(0, 3).map((r) => r.statusCode), [400, 400, 404])

  t.ok(lines.some((l) => l.includes('"reqId":"req_')), 'request ids were logged')
  t.ok(lines.some((l) => l.includes('?k=tc_live_[redacted]')), 'a masked URL keeps its shape')
  const logged = lines.join('\n')
  const answered = responses.map((r) => r.body + JSON.stringify(r.headers)).join('\n')
  for (const form of forms(key)) {
    t.notOk(logged.includes(form), `logs: no ${form.slice(0, 16)}…`)
    t.notOk(answered.includes(form), `responses: no ${form.slice(0, 16)}…`)
  }
})

t.test('redactKeys leaves other escapes alone and never throws on a malformed one', async (t) => {
  t.equal(redactKeys('/api/v1/workers.php?search=caf%C3%A9&x=%ZZ%'), '/api/v1/workers.php?search=caf%C3%A9&x=%ZZ%')
  t.equal(redactKeys('/a?k=tc%5Flive%5Fabc&b=1'), '/a?k=tc_live_[redacted]&b=1')
  t.equal(redactKeys('/a/tc%5Flive%5Fabc/b'), '/a/tc_live_[redacted]/b')
})
