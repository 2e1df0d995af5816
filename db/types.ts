import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

// Rows look the same on every engine (db/engine/engine.ts): booleans are `boolean` (each engine
// converts at its own boundary: SQLite stores 0/1), timestamps ISO-8601 UTC text at second
// precision ("2025-06-15T09:30:00Z"). The db/ modules turn rows into API records in their mappers.
export type Timestamp = string

export interface AccountsTable {
  id: Generated<number>
  name: string
  timezone: string
  api_enabled: ColumnType<boolean, boolean | undefined, boolean>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface ApiKeysTable {
  id: Generated<number>
  account_id: number
  name: string
  /** hex SHA-256 of the full key; the key itself is never stored */
  key_hash: string
  /** display prefix, e.g. "tc_live_a1b2..." */
  key_prefix: string
  /** JSON array of scope names; ignored when full_access is true */
  scopes: string
  /** every route, whatever `scopes` says; false: only the routes of `scopes` */
  full_access: boolean
  expires_at: Timestamp | null
  revoked_at: Timestamp | null
  last_used_at: Timestamp | null
  rate_limit: number | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface LocationsTable {
  id: Generated<number>
  account_id: number
  name: string
  address_line1: string | null
  address_line2: string | null
  city: string | null
  postcode: string | null
  latitude: number | null
  longitude: number | null
  geofence_radius_m: number | null
  geofence_mode: string
  gps_accuracy_threshold: number | null
  kiosk_language: string
  timezone: string | null
  active: boolean
  created_at: Timestamp
  updated_at: Timestamp
}

export interface DepartmentsTable {
  id: Generated<number>
  account_id: number
  name: string
  location_id: number | null
  active: boolean
  created_at: Timestamp
  updated_at: Timestamp
}

export interface CostCodesTable {
  id: Generated<number>
  account_id: number
  code: string
  name: string
  active: boolean
  created_at: Timestamp
  updated_at: Timestamp
}

export interface WorkersTable {
  id: Generated<number>
  account_id: number
  first_name: string
  last_name: string
  employee_ref: string | null
  email: string | null
  phone: string | null
  location_id: number | null
  department_id: number | null
  preferred_language: string
  active: boolean
  created_at: Timestamp
  updated_at: Timestamp
}

/** The outbox: written in the same transaction as the change that caused the event. */
export interface EventsTable {
  id: Generated<number>
  account_id: number
  type: string
  /** JSON of the event's `data` */
  payload: string
  created_at: Timestamp
  dispatched_at: Timestamp | null
}

/** Account admins who sign in to the manage portal. */
export interface PortalUsersTable {
  id: Generated<number>
  account_id: number
  /** lower-cased; unique regardless of case */
  email: string
  /** "$scrypt$ln=…,r=…,p=…$<salt>$<hash>": never the password */
  password_hash: string
  disabled_at: Timestamp | null
  last_login_at: Timestamp | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface WebhookSubscriptionsTable {
  id: Generated<number>
  account_id: number
  url: string
  /** JSON array of event names, or ["*"] */
  events: string
  active: boolean
  description: string | null
  /** the HMAC key (`whsec_` + 64 hex); shown only in the create response */
  secret: string
  created_at: Timestamp
  updated_at: Timestamp
  deleted_at: Timestamp | null
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed'

/** One event for one subscription; the delivery loop works through the pending ones. */
export interface WebhookDeliveriesTable {
  id: Generated<number>
  event_id: number
  subscription_id: number
  status: WebhookDeliveryStatus
  attempts: number
  /** epoch ms: when the next attempt is due (also the lease while one is in flight) */
  next_attempt_ms: number
  /** epoch ms: a failed attempt after this is final */
  give_up_ms: number
  last_response_code: number | null
  last_error: string | null
  last_attempt_at: Timestamp | null
  delivered_at: Timestamp | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface PortalSessionsTable {
  /** hex SHA-256 of the cookie's token; the token itself is never stored */
  id: string
  user_id: number
  csrf_token: string
  expires_at: Timestamp
  created_at: Timestamp
}

export interface TimeEntriesTable {
  id: Generated<number>
  account_id: number
  type: 'shift' | 'break'
  parent_id: number | null
  worker_id: number
  location_id: number | null
  cost_code_id: number | null
  clock_in: Timestamp
  clock_out: Timestamp | null
  duration_seconds: number | null
  break_seconds: ColumnType<number, number | undefined, number>
  status: 'active' | 'completed'
  source: ColumnType<string, string | undefined, string>
  notes: string | null
  latitude: number | null
  longitude: number | null
  gps_accuracy: number | null
  within_geofence: boolean | null
  distance_meters: number | null
  low_gps_confidence: boolean | null
  created_at: Timestamp
  updated_at: Timestamp
  /** the survey response that let this shift start */
  survey_response_id: ColumnType<number | null, number | null | undefined, number | null>
}

export interface SurveysTable {
  id: Generated<number>
  account_id: number
  name: string
  active: boolean
  /** JSON array of location ids, or null = every location */
  location_ids: string | null
  /** JSON array of questions */
  questions: string
  created_at: Timestamp
  updated_at: Timestamp
}

/** One answered pre-clock-in survey, passed or failed. */
export interface SurveyResponsesTable {
  id: Generated<number>
  account_id: number
  survey_id: number
  worker_id: number
  location_id: number | null
  passed: boolean
  /** JSON object: question id → answer */
  answers: string
  /** JSON array of question ids */
  failed_questions: string
  submitted_at: Timestamp
  created_at: Timestamp
  updated_at: Timestamp
}

export interface ShiftsTable {
  id: Generated<number>
  account_id: number
  worker_id: number | null
  location_id: number
  department_id: number | null
  cost_code_id: number | null
  start_time: Timestamp
  end_time: Timestamp
  break_minutes: number
  status: 'draft' | 'published'
  notes: string | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface DocumentsTable {
  id: Generated<number>
  account_id: number
  worker_id: number
  type: string
  reference: string | null
  /** YYYY-MM-DD */
  issued_on: string | null
  /** YYYY-MM-DD: the last day the document is valid */
  expires_on: string | null
  notes: string | null
  /** the expiry date the document_expired event was last sent for (internal) */
  expired_notified_on: string | null
  created_at: Timestamp
  updated_at: Timestamp
}

export interface IdempotencyKeysTable {
  id: Generated<number>
  api_key_id: number
  idempotency_key: string
  fingerprint: string
  state: 'pending' | 'completed'
  response_status: number | null
  response_body: string | null
  created_at: Timestamp
  expires_at: Timestamp
}

export interface Database {
  accounts: AccountsTable
  api_keys: ApiKeysTable
  locations: LocationsTable
  departments: DepartmentsTable
  cost_codes: CostCodesTable
  workers: WorkersTable
  events: EventsTable
  portal_users: PortalUsersTable
  portal_sessions: PortalSessionsTable
  webhook_subscriptions: WebhookSubscriptionsTable
  webhook_deliveries: WebhookDeliveriesTable
  time_entries: TimeEntriesTable
  shifts: ShiftsTable
  idempotency_keys: IdempotencyKeysTable
  documents: DocumentsTable
  surveys: SurveysTable
  survey_responses: SurveyResponsesTable
}

export type AccountRow = Selectable<AccountsTable>
export type ApiKeyRow = Selectable<ApiKeysTable>
export type NewApiKey = Insertable<ApiKeysTable>
export type LocationRow = Selectable<LocationsTable>
export type NewLocation = Insertable<LocationsTable>
export type LocationUpdate = Updateable<LocationsTable>
export type DepartmentRow = Selectable<DepartmentsTable>
export type CostCodeRow = Selectable<CostCodesTable>
export type WorkerRow = Selectable<WorkersTable>
export type EventRow = Selectable<EventsTable>
export type PortalUserRow = Selectable<PortalUsersTable>
export type WebhookSubscriptionRow = Selectable<WebhookSubscriptionsTable>
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>
export type TimeEntryRow = Selectable<TimeEntriesTable>
export type ShiftRow = Selectable<ShiftsTable>
export type IdempotencyKeyRow = Selectable<IdempotencyKeysTable>
export type DocumentRow = Selectable<DocumentsTable>
export type SurveyRow = Selectable<SurveysTable>
export type SurveyResponseRow = Selectable<SurveyResponsesTable>

/**
 * Every column (and computed alias) that is a boolean, by result column name: the SQLite engine
 * turns these result columns from 0/1 into false/true. A name is boolean in every table that has
 * it (the types below check both directions), so the name alone decides.
 */
export const BOOLEAN_COLUMNS = [
  'active', 'api_enabled', 'full_access', 'within_geofence', 'low_gps_confidence', 'passed',
  /** db/clock.ts: whether the worker's account has an active survey */
  'has_surveys'
] as const

type BooleanColumnOf<T> = { [K in keyof Selectable<T> & string]: Selectable<T>[K] extends boolean | null ? K : never }[keyof Selectable<T> & string]
type OtherColumnOf<T> = { [K in keyof Selectable<T> & string]: Selectable<T>[K] extends boolean | null ? never : K }[keyof Selectable<T> & string]
type TableBooleanColumns = { [T in keyof Database]: BooleanColumnOf<Database[T]> }[keyof Database]
type TableOtherColumns = { [T in keyof Database]: OtherColumnOf<Database[T]> }[keyof Database]
/** fails to compile when a boolean column is missing from BOOLEAN_COLUMNS */
export const EVERY_BOOLEAN_LISTED: ReadonlyArray<typeof BOOLEAN_COLUMNS[number]> = [] as TableBooleanColumns[]
/** fails to compile when a listed name is also a non-boolean column somewhere */
export const NO_LISTED_NAME_ELSEWHERE: readonly never[] = [] as Array<Extract<TableOtherColumns, typeof BOOLEAN_COLUMNS[number]>>

/**
 * Every column of `Table`, listed by name, for a compiled query that reads whole rows: on
 * PostgreSQL compiled queries are prepared, and a prepared `select *` fails with "cached plan must
 * not change result type" once a rolling deploy's migration adds a column, where a listed one goes
 * on answering the same columns. A column left out of the list is a compile error that names it.
 */
export function everyColumn<Table> () {
  return <const C extends ReadonlyArray<keyof Table & string>>(
    columns: C & ([Exclude<keyof Table, C[number]>] extends [never] ? unknown : { missing: Exclude<keyof Table, C[number]> })
  ): C => columns
}
