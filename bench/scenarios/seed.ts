import { openSqliteEngine } from '../../db/engine/sqlite/index.js'
import { createAccount } from '../../db/accounts.js'
import { createApiKey } from '../../db/api-keys.js'
import { LocationStore } from '../../db/locations.js'

/** A migrated database file with one account, a full-access key and `locations` locations. */
export async function seedLocations (file: string, locations: number): Promise<{ key: string }> {
  const handle = openSqliteEngine({ file, synchronous: 'OFF' })
  try {
    await handle.migrate()
    const account = await createAccount(handle, { name: 'Bench', apiEnabled: true })
    const { key } = await createApiKey(handle, { accountId: account.id, name: 'bench', scopes: [], expiresAt: null, rateLimit: 1_000_000 })
    const store = new LocationStore(handle)
    await handle.write(async (trx) => {
      for (let i = 0; i < locations; i++) {
        await store.createIn(trx, account.id, { name: `Site ${i}`, address_line1: `${i} High Street`, city: 'Leeds', postcode: 'LS1 4AP', latitude: 53.8, longitude: -1.55, geofence_radius_m: 150, geofence_mode: 'warn' })
      }
    })
    return { key }
  } finally {
    await handle.close()
  }
}
