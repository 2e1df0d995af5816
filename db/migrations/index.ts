import type { Migration } from 'kysely'
import * as accountsKeysLocations from './2026-11-28-001-accounts-keys-locations.js'
import * as referenceDataAndEvents from './2026-11-28-002-reference-data-and-events.js'
import * as time from './2026-11-28-003-time.js'
import * as webhooks from './2026-11-28-004-webhooks.js'
import * as portal from './2026-11-28-005-portal.js'
import * as searchIndex from './2026-12-07-040-search-index.js'

// Every migration, by its dated name. The Migrator runs them in name order, so a new file
// gets a later date/sequence and one line here.
export const migrations: Record<string, Migration> = {
  '2026-11-28-001-accounts-keys-locations': accountsKeysLocations,
  '2026-11-28-002-reference-data-and-events': referenceDataAndEvents,
  '2026-11-28-003-time': time,
  '2026-11-28-004-webhooks': webhooks,
  '2026-11-28-005-portal': portal,
  '2026-12-07-040-search-index': searchIndex
}
