import type { TimeEntryRow } from './types.js'
import type { TimeEntryRecord } from '../schemas/time.js'

/** A time entry row with the names the API shows beside the ids. */
export type EntryWithNames = TimeEntryRow & { worker_name: string, location_name: string | null }

/** The one conversion from a time_entries row to the API's time entry. */
export function toTimeEntryRecord (row: EntryWithNames): TimeEntryRecord {
  return {
    id: row.id,
    type: row.type,
    parent_id: row.parent_id,
    worker_id: row.worker_id,
    worker_name: row.worker_name,
    location_id: row.location_id,
    location_name: row.location_name,
    cost_code_id: row.cost_code_id,
    clock_in: row.clock_in,
    clock_out: row.clock_out,
    duration_seconds: row.duration_seconds,
    break_seconds: row.break_seconds,
    status: row.status,
    source: row.source,
    notes: row.notes,
    latitude: row.latitude,
    longitude: row.longitude,
    gps_accuracy: row.gps_accuracy,
    within_geofence: row.within_geofence,
    distance_meters: row.distance_meters,
    low_gps_confidence: row.low_gps_confidence,
    survey_response_id: row.survey_response_id,
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}
