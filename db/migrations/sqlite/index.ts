import type { Migration } from 'kysely'
import * as accountsKeysLocations from './2026-11-28-001-accounts-keys-locations.js'
import * as referenceDataAndEvents from './2026-11-28-002-reference-data-and-events.js'
import * as time from './2026-11-28-003-time.js'
import * as webhooks from './2026-11-28-004-webhooks.js'
import * as portal from './2026-11-28-005-portal.js'
import * as apiKeyFullAccess from './2026-12-07-010-api-key-full-access.js'
import * as webhookScheduling from './2026-12-07-030-webhook-scheduling.js'
import * as searchIndex from './2026-12-07-040-search-index.js'
import * as surveysAndTimeIntegrity from './2026-12-07-050-surveys-and-time-integrity.js'
import * as documents from './2026-12-07-060-documents.js'

// Every migration, by its dated name. The Migrator runs them in name order, so a new file
// gets a later date/sequence and one line here.
export const migrations: Record<string, Migration> = {
  '2026-11-28-001-accounts-keys-locations': accountsKeysLocations,
  '2026-11-28-002-reference-data-and-events': referenceDataAndEvents,
  '2026-11-28-003-time': time,
  '2026-11-28-004-webhooks': webhooks,
  '2026-11-28-005-portal': portal,
  '2026-12-07-010-api-key-full-access': apiKeyFullAccess,
  '2026-12-07-030-webhook-scheduling': webhookScheduling,
  '2026-12-07-040-search-index': searchIndex,
  '2026-12-07-050-surveys-and-time-integrity': surveysAndTimeIntegrity,
  '2026-12-07-060-documents': documents
}
