import type { Kysely } from 'kysely'
import { createAccountIn, type AccountRecord } from './accounts.js'
import { createApiKeyIn } from './api-keys.js'
import type { Engine } from './engine/engine.js'
import { CostCodeStore } from './cost-codes.js'
import { DepartmentStore } from './departments.js'
import { LocationStore } from './locations.js'
import { seedSurveys } from './demo-surveys.js'
import { seedTime } from './demo-time.js'
import { SurveyStore } from './surveys.js'
import { DocumentStore } from './documents.js'
import type { Database } from './types.js'
import { WorkerStore } from './workers.js'
import type { CostCodeRecord } from '../schemas/cost-codes.js'
import type { DepartmentRecord } from '../schemas/departments.js'
import type { LocationCreateBody, LocationRecord } from '../schemas/locations.js'
import type { WorkerRecord } from '../schemas/workers.js'
import { addDays, localDate } from '../domain/zoned-time.js'

// `tempclock demo`: one realistic account a newcomer can call the API against straight away.
// Everything is written in one transaction through the same stores the API uses (so the data
// obeys the API's rules and worker_created events are in the outbox), and is deterministic: the
// same seed gives the same people.

/** What the seeding steps share: the account, a seeded random source, and what earlier steps made. */
export interface DemoContext {
  trx: Kysely<Database>
  /** the API's stores, made before the transaction (a store prepares its queries outside any write) */
  stores: DemoStores
  account: AccountRecord
  random: () => number
  /** when the demo was made; time data is laid out relative to it */
  now: Date
  locations: LocationRecord[]
  departments: DepartmentRecord[]
  costCodes: CostCodeRecord[]
  workers: WorkerRecord[]
  /** what each step created, by kind: printed by the CLI */
  counts: Record<string, number>
}

/**
 * The seeding steps, in order. Each adds to the context and to `counts`. The time engineer adds
 * `seedTime` (a week of shifts and completed time entries for ctx.workers) at the end of this list.
 */
export const DEMO_STEPS: ReadonlyArray<(ctx: DemoContext) => Promise<void>> = [
  seedLocations,
  seedDepartments,
  seedCostCodes,
  seedWorkers,
  seedDocuments,
  seedTime,
  seedSurveys
]

export interface DemoOptions {
  name?: string
  timezone?: string
  /** PRNG seed for the generated people (default 1) */
  seed?: number
  now?: Date
}

export interface DemoResult {
  account: AccountRecord
  /** the full-access key: shown once by the caller, never stored */
  key: string
  keyId: number
  keyPrefix: string
  counts: Record<string, number>
}

export interface DemoStores {
  locations: LocationStore
  departments: DepartmentStore
  costCodes: CostCodeStore
  workers: WorkerStore
  documents: DocumentStore
  surveys: SurveyStore
}

export async function createDemoAccount (engine: Engine, options: DemoOptions = {}): Promise<DemoResult> {
  const now = options.now ?? new Date()
  const stores: DemoStores = {
    locations: new LocationStore(engine),
    departments: new DepartmentStore(engine),
    costCodes: new CostCodeStore(engine),
    workers: new WorkerStore(engine),
    documents: new DocumentStore(engine, { clock: () => now.getTime() }),
    surveys: new SurveyStore(engine)
  }
  return await engine.write(async (trx) => {
    const account = await createAccountIn(trx, {
      name: options.name ?? 'TempClock Demo Staffing',
      timezone: options.timezone ?? 'Europe/London',
      apiEnabled: true
    })
    const ctx: DemoContext = {
      trx, stores, account, random: seededRandom(options.seed ?? 1), now,
      locations: [], departments: [], costCodes: [], workers: [], counts: {}
    }
    for (const step of DEMO_STEPS) await step(ctx)
    const { key, record } = await createApiKeyIn(trx, { accountId: account.id, name: 'Demo full access', scopes: [], expiresAt: null, rateLimit: null })
    return { account, key, keyId: record.id, keyPrefix: record.prefix, counts: ctx.counts }
  })
}

/** mulberry32: a small, well-spread PRNG; plenty for sample data, and repeatable. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!

const LOCATIONS: LocationCreateBody[] = [
  {
    name: 'Leeds Distribution Centre', address_line1: 'Unit 4, Thorpe Park', address_line2: 'Century Way', city: 'Leeds', postcode: 'LS15 8ZB',
    latitude: 53.8012, longitude: -1.4443, geofence_radius_m: 200, geofence_mode: 'warn', gps_accuracy_threshold: 50, kiosk_language: 'en', timezone: 'Europe/London'
  },
  {
    name: 'Manchester Cross-Dock', address_line1: 'Westinghouse Road', address_line2: 'Trafford Park', city: 'Manchester', postcode: 'M17 1PG',
    latitude: 53.4651, longitude: -2.3151, geofence_radius_m: 150, geofence_mode: 'block', gps_accuracy_threshold: 40, kiosk_language: 'pl', timezone: 'Europe/London'
  },
  {
    name: 'Birmingham Fulfilment Hub', address_line1: 'Hams Hall Distribution Park', address_line2: 'Canton Lane', city: 'Coleshill', postcode: 'B46 1AL',
    latitude: 52.5206, longitude: -1.7037, geofence_radius_m: 250, geofence_mode: 'strict', gps_accuracy_threshold: 60, kiosk_language: 'en', timezone: 'Europe/London'
  }
]

/** [name, index into LOCATIONS or null for a mobile team] */
const DEPARTMENTS: Array<[string, number | null]> = [
  ['Warehouse Operations', 0],
  ['Goods In', 1],
  ['Dispatch', 2],
  ['Transport', null]
]

const COST_CODES: Array<[string, string]> = [
  ['WH-PICK', 'Picking'],
  ['WH-PACK', 'Packing'],
  ['WH-GIN', 'Goods in and put-away'],
  ['TR-DRV', 'Driving (HGV and van)'],
  ['ADM-TRN', 'Induction and training'],
  ['OT-WKD', 'Weekend overtime']
]

/** First and last names by preferred language: the mix a UK agency workforce typically has. */
const NAMES: Record<'en' | 'pl' | 'ro' | 'lt', { first: string[], last: string[] }> = {
  en: {
    first: ['James', 'Olivia', 'Jack', 'Amelia', 'Harry', 'Isla', 'George', 'Emily', 'Callum', 'Sophie', 'Liam', 'Chloe', 'Ryan', 'Megan', 'Daniel', 'Grace'],
    last: ['Smith', 'Jones', 'Taylor', 'Brown', 'Walker', 'Wilson', 'Evans', 'Thomas', 'Roberts', 'Wright', 'Hughes', 'Green', 'Hall', 'Clarke', 'Patel', 'Khan']
  },
  pl: {
    first: ['Anna', 'Piotr', 'Katarzyna', 'Tomasz', 'Magdalena', 'Krzysztof', 'Agnieszka', 'Marcin', 'Joanna', 'Paweł', 'Ewa', 'Łukasz'],
    last: ['Nowak', 'Kowalski', 'Wiśniewski', 'Wójcik', 'Kamiński', 'Lewandowski', 'Zieliński', 'Szymański', 'Woźniak', 'Dąbrowski']
  },
  ro: {
    first: ['Andrei', 'Maria', 'Alexandru', 'Elena', 'Ionuț', 'Ioana', 'Mihai', 'Andreea', 'Florin', 'Cristina'],
    last: ['Popescu', 'Ionescu', 'Popa', 'Stan', 'Dumitru', 'Constantin', 'Munteanu', 'Stoica', 'Gheorghe', 'Rusu']
  },
  lt: {
    first: ['Jonas', 'Rūta', 'Mantas', 'Eglė', 'Tomas', 'Gintarė', 'Lukas', 'Ieva'],
    last: ['Kazlauskas', 'Jankauskas', 'Petrauskas', 'Stankevičius', 'Vasiliauskas', 'Žukauskas', 'Butkus', 'Paulauskas']
  }
}
const LANGUAGE_MIX = ['en', 'en', 'en', 'en', 'pl', 'pl', 'pl', 'ro', 'ro', 'lt'] as const
const WORKER_COUNT = 60

/** ASCII local part for an email: "Łukasz Wiśniewski" → "lukasz.wisniewski". */
function emailLocalPart (first: string, last: string): string {
  const ascii = (s: string) => s.replace(/ł/g, 'l').replace(/Ł/g, 'L').normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase()
  return `${ascii(first)}.${ascii(last)}`
}

async function seedLocations (ctx: DemoContext): Promise<void> {
  const store = ctx.stores.locations
  for (const body of LOCATIONS) ctx.locations.push(await store.createIn(ctx.trx, ctx.account.id, body))
  ctx.counts.locations = ctx.locations.length
}

async function seedDepartments (ctx: DemoContext): Promise<void> {
  const store = ctx.stores.departments
  for (const [name, at] of DEPARTMENTS) {
    ctx.departments.push(await store.createIn(ctx.trx, ctx.account.id, { name, location_id: at === null ? null : ctx.locations[at]!.id }))
  }
  ctx.counts.departments = ctx.departments.length
}

async function seedCostCodes (ctx: DemoContext): Promise<void> {
  const store = ctx.stores.costCodes
  for (const [code, name] of COST_CODES) ctx.costCodes.push(await store.createIn(ctx.trx, ctx.account.id, { code, name }))
  ctx.counts.cost_codes = ctx.costCodes.length
}

async function seedWorkers (ctx: DemoContext): Promise<void> {
  const store = ctx.stores.workers
  const usedNames = new Set<string>()
  for (let i = 0; i < WORKER_COUNT; i++) {
    const language = pick(ctx.random, LANGUAGE_MIX)
    let first: string
    let last: string
    do {
      first = pick(ctx.random, NAMES[language].first)
      last = pick(ctx.random, NAMES[language].last)
    } while (usedNames.has(`${first} ${last}`))
    usedNames.add(`${first} ${last}`)
    // Polish and Lithuanian surnames agree with gender; keep the common forms plausible
    const female = /[aė]$/.test(first)
    if (language === 'pl' && female) last = last.replace(/ski$/, 'ska')
    if (language === 'lt' && female) last = last.replace(/(ius|as|us)$/, 'ienė')
    // most work at one site in that site's department; drivers (Transport) are based anywhere
    const location = ctx.locations[i % ctx.locations.length]!
    const driver = ctx.random() < 0.15
    const department = driver
      ? ctx.departments.find((d) => d.location_id === null)!
      : ctx.departments.find((d) => d.location_id === location.id)!
    const ref = `TC-${String(1001 + i)}`
    ctx.workers.push(await store.createIn(ctx.trx, ctx.account.id, {
      first_name: first,
      last_name: last,
      employee_ref: ref,
      email: `${emailLocalPart(first, last)}@example.com`,
      phone: `07700 900${String(100 + i).padStart(3, '0')}`,
      location_id: location.id,
      department_id: department.id,
      preferred_language: language,
      // a few leavers, as any real list has
      active: i % 17 !== 16
    }))
  }
  ctx.counts.workers = ctx.workers.length
}

/**
 * Compliance documents: a right to work for everyone (open-ended for UK nationals), and a licence
 * for about half of them — drivers a Driver CPC card, the others a forklift licence — among which
 * some have expired and some expire within 30 days, so every status shows. Expiries that have
 * already passed are announced (document_expired) like any save.
 */
async function seedDocuments (ctx: DemoContext): Promise<void> {
  const store = ctx.stores.documents
  const today = localDate(ctx.now.getTime(), ctx.account.timezone)
  const days = (min: number, max: number): number => min + Math.floor(ctx.random() * (max - min + 1))
  const transport = ctx.departments.find((d) => d.location_id === null)?.id
  let count = 0
  for (const [i, worker] of ctx.workers.entries()) {
    const ukNational = worker.preferred_language === 'en'
    const rightToWorkExpires = ukNational ? null : addDays(today, days(120, 900))
    await store.createIn(ctx.trx, ctx.account.id, {
      worker_id: worker.id,
      type: 'Right to work',
      reference: ukNational ? 'UK passport' : `Share code W${String(10_000_000 + i * 7_919).slice(0, 8)}`,
      issued_on: addDays(today, -days(30, 700)),
      expires_on: rightToWorkExpires
    })
    count++
    if (i % 2 === 1) continue
    // every third licence has expired, every third expires within the month, the rest are valid
    const expiresOn = i % 6 === 0 ? addDays(today, -days(1, 45)) : i % 6 === 2 ? addDays(today, days(2, 28)) : addDays(today, days(60, 1400))
    const driver = worker.department_id === transport
    await store.createIn(ctx.trx, ctx.account.id, {
      worker_id: worker.id,
      type: driver ? 'Driver CPC card' : 'Forklift licence (counterbalance)',
      reference: `${driver ? 'DQC' : 'FLT'}-${String(40_000 + i * 37)}`,
      issued_on: addDays(expiresOn, driver ? -5 * 365 : -3 * 365),
      expires_on: expiresOn,
      notes: i % 6 === 2 ? 'Renewal training booked' : null
    })
    count++
  }
  ctx.counts.documents = count
}
