import type { EventType } from './events.js'
import type { KeyGrant } from './scopes.js'

/**
 * The read scope whose data each webhook event carries: a key may subscribe only to events whose
 * data it could read through the API, so `webhooks:write` alone cannot watch every worker and
 * clock fix. `null`: the event carries no account data. Every event must be listed (the type says
 * so); a name that is not an event needs a full-access key, so nothing unknown is ever open.
 */
export const EVENT_READ_SCOPES: Readonly<Record<EventType, string | null>> = {
  clock_in: 'timesheets:read',
  clock_out: 'timesheets:read',
  'clock.geofence_breach': 'timesheets:read',
  'clock.geofence_refused': 'timesheets:read',
  'clock.low_gps_confidence': 'timesheets:read',
  'clock.blocked_by_survey': 'timesheets:read',
  worker_created: 'workers:read',
  worker_updated: 'workers:read',
  shift_created: 'shifts:read',
  document_expired: 'documents:read',
  ping: null
}

/** What a subscription asks for that the key may not have: a scope name, or 'full'. */
export interface MissingSubscriptionScope {
  event: string
  scope: string
}

/**
 * The first scope a key lacks to subscribe to `events`, or undefined when it may.
 * @param everyEvent what `*` stands for: every event a subscription can receive
 */
export function missingSubscriptionScope (grant: KeyGrant, events: readonly string[], everyEvent: readonly string[]): MissingSubscriptionScope | undefined {
  if (grant.fullAccess) return undefined
  const wanted = events.includes('*') ? everyEvent.filter((e) => e !== '*') : events
  for (const event of wanted) {
    const scope = Object.hasOwn(EVENT_READ_SCOPES, event) ? EVENT_READ_SCOPES[event as EventType] : 'full'
    if (scope === null || scope === undefined) continue
    if (scope === 'full' || !(grant.scopes as readonly string[]).includes(scope)) {
      return { event: events.includes('*') ? '*' : event, scope }
    }
  }
  return undefined
}
