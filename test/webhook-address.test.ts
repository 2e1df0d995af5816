import t from 'tap'
import type { LookupAddress } from 'node:dns'
import { checkWebhookUrl, classifyAddress, forbiddenReason, parseIPv6 } from '../domain/webhook-address.js'
import { retryDelayMs } from '../domain/webhook-delivery.js'
import { guardedLookup, sendWebhook } from '../services/webhook-sender.js'

t.test('IPv4 classes', async (t) => {
  const cases: Array<[string, string]> = [
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.216.34', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['11.0.0.1', 'public'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['100.128.0.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'metadata'],
    ['169.254.0.1', 'link-local'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['192.169.0.1', 'public'],
    ['192.0.2.5', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['256.1.1.1', 'invalid'],
    ['1.2.3', 'invalid'],
    ['example.com', 'invalid']
  ]
  for (const [address, kind] of cases) t.equal(classifyAddress(address), kind, address)
})

t.test('IPv6 classes, including IPv4 embedded in IPv6', async (t) => {
  const cases: Array<[string, string]> = [
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:81b::200e', 'public'],
    ['[2606:4700:4700::1111]', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a00:1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:10.0.0.1', 'private'],
    ['::10.0.0.1', 'reserved'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['2002:0a00:0001::1', 'reserved'],
    ['2002:0808:0808::1', 'public'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fec0::1', 'reserved'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378::1', 'reserved'],
    ['100::1', 'reserved'],
    ['::g', 'invalid'],
    ['1::2::3', 'invalid']
  ]
  for (const [address, kind] of cases) t.equal(classifyAddress(address), kind, address)
  t.same(parseIPv6('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8])
  t.same(parseIPv6('1::8'), [1, 0, 0, 0, 0, 0, 0, 8])
  t.same(parseIPv6('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304])
  t.same(parseIPv6('1:2:3:4:5:6:1.2.3.4'), [1, 2, 3, 4, 5, 6, 0x0102, 0x0304])
  t.equal(parseIPv6('1.2.3.4'), null)
})

t.test('loopback is allowed only with the flag; nothing else ever is', async (t) => {
  t.equal(forbiddenReason('127.0.0.1', { allowLoopback: true }), null)
  t.equal(forbiddenReason('::1', { allowLoopback: true }), null)
  t.match(forbiddenReason('127.0.0.1', { allowLoopback: false }), /loopback/)
  t.match(forbiddenReason('10.0.0.1', { allowLoopback: true }), /private/)
  t.match(forbiddenReason('169.254.169.254', { allowLoopback: true }), /metadata/)
  t.match(forbiddenReason('0.0.0.0', { allowLoopback: true }), /unspecified/)
  t.equal(forbiddenReason('8.8.8.8', { allowLoopback: false }), null)
})

t.test('checkWebhookUrl: https only, literal hosts checked, tricks normalised', async (t) => {
  const strict = { allowLoopback: false }
  const loose = { allowLoopback: true }
  t.equal(checkWebhookUrl('https://hooks.example.com/tempclock?x=1', strict), 'https://hooks.example.com/tempclock?x=1')
  t.equal(checkWebhookUrl('HTTPS://Hooks.Example.COM', strict), 'https://hooks.example.com/')
  t.equal(checkWebhookUrl('https://8.8.8.8:8443/in', strict), 'https://8.8.8.8:8443/in')
  t.equal(checkWebhookUrl('https://[2606:4700:4700::1111]/', strict), 'https://[2606:4700:4700::1111]/')

  const rejected: Array<[string, RegExp, boolean?]> = [
    ['http://hooks.example.com/', /must use https/],
    ['ftp://hooks.example.com/', /must use https/],
    ['not a url', /absolute https/],
    ['/relative', /absolute https/],
    ['https://user:pw@hooks.example.com/', /user name or password/],
    ['https://10.0.0.1/', /private/],
    ['https://172.16.5.4/', /private/],
    ['https://192.168.0.10/', /private/],
    ['https://169.254.169.254/latest/meta-data/', /metadata/],
    ['https://169.254.1.1/', /link-local/],
    ['https://[fd00:ec2::254]/', /metadata/],
    ['https://[fe80::1]/', /link-local/],
    ['https://[fc00::1]/', /private/],
    ['https://[::ffff:10.0.0.1]/', /private/],
    ['https://[::ffff:127.0.0.1]/', /loopback/],
    ['https://0.0.0.0/', /unspecified/],
    ['https://0/', /unspecified/],
    ['https://224.0.0.1/', /multicast/],
    ['https://[ff02::1]/', /multicast/],
    ['https://127.0.0.1/', /loopback/],
    ['https://[::1]/', /loopback/],
    ['https://localhost/', /loopback/],
    ['https://api.localhost/', /loopback/],
    // numeric host tricks are parsed to the address they really are
    ['https://2130706433/', /127\.0\.0\.1 is a loopback/],
    ['https://0x7f.1/', /127\.0\.0\.1 is a loopback/],
    ['https://017700000001/', /127\.0\.0\.1 is a loopback/],
    ['https://167772161/', /10\.0\.0\.1 is a private/],
    ['https://0xa9.0xfe.0xa9.0xfe/', /metadata/],
    // with the loopback flag: still https or exactly the three loopback hosts for http
    ['http://10.0.0.1/', /must use https/, true],
    ['http://hooks.example.com/', /must use https/, true],
    ['http://[::ffff:7f00:1]/', /must use https/, true],
    ['https://192.168.1.1/', /private/, true]
  ]
  for (const [url, reason, allow] of rejected) {
    t.throws(() => checkWebhookUrl(url, allow === true ? loose : strict), { statusCode: 400, code: 'validation_error', message: reason }, url)
  }
  t.equal(checkWebhookUrl('http://127.0.0.1:8080/hook', loose), 'http://127.0.0.1:8080/hook')
  t.equal(checkWebhookUrl('http://localhost:8080/hook', loose), 'http://localhost:8080/hook')
  t.equal(checkWebhookUrl('http://[::1]:8080/hook', loose), 'http://[::1]:8080/hook')
  t.equal(checkWebhookUrl('http://2130706433:8080/', loose), 'http://127.0.0.1:8080/', 'a decimal loopback is normalised')
})

t.test('delivery-time lookup refuses when any resolved address is forbidden, and connects to what it checked', async (t) => {
  const fake = (answers: Record<string, LookupAddress[]>) =>
    (host: string, cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => { cb(null, answers[host] ?? []) }
  const resolver = fake({
    'public.test': [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }],
    'mixed.test': [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }],
    'mapped.test': [{ address: '::ffff:192.168.0.1', family: 6 }],
    'meta.test': [{ address: '169.254.169.254', family: 4 }],
    'loop.test': [{ address: '127.0.0.1', family: 4 }]
  })
  const look = async (host: string, options: { all?: boolean, family?: number }, allowLoopback = false) =>
    await new Promise<{ err: Error | null, address: unknown, family?: number }>((resolve) => {
      guardedLookup({ allowLoopback }, resolver)(host, options as never, ((err: Error | null, address: unknown, family?: number) => resolve({ err, address, family })) as never)
    })

  const single = await look('public.test', {})
  t.equal(single.err, null)
  t.equal(single.address, '93.184.216.34')
  const all = await look('public.test', { all: true })
  t.same(all.address, [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }])
  const v6 = await look('public.test', { family: 6 })
  t.equal(v6.address, '2606:2800:220:1::1')

  t.match((await look('mixed.test', { all: true })).err, { code: 'EWEBHOOKFORBIDDEN', message: /10\.0\.0\.7 is a private/ })
  t.match((await look('mapped.test', {})).err, { message: /private/ })
  t.match((await look('meta.test', {})).err, { message: /metadata/ })
  t.match((await look('loop.test', {})).err, { message: /loopback/ })
  t.equal((await look('loop.test', {}, true)).err, null, 'loopback with the flag')
  t.match((await look('nothing.test', {})).err, { code: 'ENOTFOUND' })

  // end to end: a name resolving to a private address is never connected to
  const result = await sendWebhook({
    url: 'https://mixed.test/hook', body: '{}', headers: {}, timeoutMs: 1000, policy: { allowLoopback: false }, resolver
  })
  t.same(result, { ok: false, status: null, error: 'refused: mixed.test resolves to 10.0.0.7 is a private address' })
  const literal = await sendWebhook({ url: 'http://10.1.2.3/', body: '{}', headers: {}, timeoutMs: 1000, policy: { allowLoopback: true } })
  t.same(literal, { ok: false, status: null, error: 'refused: 10.1.2.3 is a private address' })
})

t.test('retry delays grow exponentially with jitter, capped', async (t) => {
  t.equal(retryDelayMs(1, 1000, 60_000, () => 0), 500)
  t.equal(retryDelayMs(1, 1000, 60_000, () => 0.999999), 1000)
  t.equal(retryDelayMs(2, 1000, 60_000, () => 0), 1000)
  t.equal(retryDelayMs(3, 1000, 60_000, () => 0), 2000)
  t.equal(retryDelayMs(10, 1000, 60_000, () => 0), 30_000, 'capped at the maximum')
  t.equal(retryDelayMs(100, 1000, 60_000, () => 1), 60_000)
  const samples = new Set(Array.from({ length: 50 }, () => retryDelayMs(4, 1000, 60_000)))
  t.ok(samples.size > 10, 'jitter spreads the delays')
  for (const s of samples) t.ok(s >= 4000 && s <= 8000)
})
