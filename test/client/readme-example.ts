// The README's "typed client in a few lines", as written there, so `npm run typecheck` checks it.
import createClient from 'openapi-fetch'
import type { paths } from './tempclock-api.js'

export async function readmeExample (): Promise<void> {
  const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:3000', headers: { Authorization: `Bearer ${process.env.TEMPCLOCK_KEY}` } })

  const { data, error } = await client.GET('/api/v1/workers.php', { params: { query: { limit: 3 } } })
  if (error) throw new Error(`${error.code}: ${error.message}`) // error.code is a typed enum
  // `GET x.php` answers a list, or one record with ?id=: one check tells them apart
  if ('pagination' in data) console.log(data.pagination.total, data.data.map((w) => w.last_name))
}
