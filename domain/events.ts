/** Event names of API v1 (docs/webhooks.md); `*` in a subscription means all of them. */
export const EVENT_TYPES = [
  'clock_in',
  'clock_out',
  'worker_created',
  'worker_updated',
  'shift_created',
  'ping',
  'clock.geofence_breach',
  'clock.geofence_refused',
  'clock.low_gps_confidence',
  'clock.blocked_by_survey',
  'document_expired'
] as const
export type EventType = typeof EVENT_TYPES[number]
