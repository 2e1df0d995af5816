import { haversineMeters } from './geo.js'

export type GeofenceMode = 'off' | 'warn' | 'block' | 'strict'

export interface Fence {
  latitude: number | null
  longitude: number | null
  geofence_radius_m: number | null
  geofence_mode: string
  gps_accuracy_threshold: number | null
}

export interface Fix {
  latitude: number | null
  longitude: number | null
  gps_accuracy: number | null
}

export interface GeofenceVerdict {
  distance_meters: number | null
  within_geofence: boolean | null
  low_gps_confidence: boolean | null
  /** why the clock-in must be refused (block/strict), or null to accept */
  refused: null | 'outside_geofence' | 'no_usable_fix'
  /** accepted outside the fence in warn mode: a clock.geofence_breach event */
  breach: boolean
  /** accepted with a fix less accurate than the location's threshold: a clock.low_gps_confidence event */
  lowConfidence: boolean
}

/**
 * What a clock-in's GPS fix means at a location (docs/api.md "Time rules"):
 * distance by haversine from the location's centre (whole metres), inside or outside the fence,
 * and low confidence when the fix's accuracy is worse than the location's threshold. The mode
 * decides: off records only, warn accepts and flags, block refuses outside the fence, strict also
 * refuses without a usable fix (none, unknown accuracy where a threshold is set, or low confidence).
 */
export function judgeFix (fence: Fence | null, fix: Fix): GeofenceVerdict {
  const hasFix = fix.latitude !== null && fix.longitude !== null
  const centre = fence !== null && fence.latitude !== null && fence.longitude !== null
  const distance = hasFix && centre ? Math.round(haversineMeters(fence.latitude!, fence.longitude!, fix.latitude!, fix.longitude!)) : null
  const within = distance !== null && fence!.geofence_radius_m !== null ? distance <= fence!.geofence_radius_m : null
  const threshold = fence?.gps_accuracy_threshold ?? null
  let low: boolean | null = null
  if (hasFix && threshold === null) low = false
  else if (hasFix && fix.gps_accuracy !== null) low = fix.gps_accuracy > threshold!

  const mode = (fence?.geofence_mode ?? 'off') as GeofenceMode
  let refused: GeofenceVerdict['refused'] = null
  if ((mode === 'block' || mode === 'strict') && within === false) refused = 'outside_geofence'
  else if (mode === 'strict' && (within === null || low !== false)) refused = 'no_usable_fix'
  return {
    distance_meters: distance,
    within_geofence: within,
    low_gps_confidence: low,
    refused,
    breach: refused === null && mode === 'warn' && within === false,
    lowConfidence: refused === null && mode !== 'off' && low === true
  }
}
