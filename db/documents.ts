import { sql, type Kysely } from 'kysely'
import { eventRecorder, type EventRecorder } from './events.js'
import { paginate, type Page } from './paging.js'
import type { Database, DocumentRow } from './types.js'
import { documentStatus, expiryEventDue, latestLocalDate, statusDateBounds, type DocumentStatus } from '../domain/documents.js'
import { notFound, validationError } from '../domain/errors.js'
import { nowIso } from '../domain/time.js'
import { localDate } from '../domain/zoned-time.js'
import type { Paging } from '../schemas/common.js'
import type { DocumentCreateBody, DocumentRecord, DocumentUpdateBody } from '../schemas/documents.js'
import type { Engine, WriteOptions } from './engine/engine.js'

type DocumentWithNames = DocumentRow & { worker_name: string, account_timezone: string }

/** The row as the API shows it, its status computed for `nowMs` in the account's zone. */
export function toDocumentRecord (row: DocumentWithNames, nowMs: number): DocumentRecord {
  return {
    id: row.id,
    worker_id: row.worker_id,
    worker_name: row.worker_name,
    type: row.type,
    reference: row.reference,
    issued_on: row.issued_on,
    expires_on: row.expires_on,
    status: documentStatus(row.expires_on, row.account_timezone, nowMs),
    notes: row.notes,
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

export interface DocumentFilters {
  worker_id?: number
  status?: DocumentStatus
  expires_before?: string
}

type DocumentFields = Pick<DocumentRow, 'worker_id' | 'type' | 'reference' | 'issued_on' | 'expires_on' | 'notes'>

export interface DocumentStoreOptions {
  /** epoch ms; tests pass a controllable clock */
  clock?: () => number
}

/** how many documents one expiry transaction announces */
const EXPIRY_BATCH = 200

/**
 * Worker documents, and the `document_expired` event: it is written in the same transaction that
 * records its expiry date in `expired_notified_on`, and only while that column is behind
 * `expires_on`, so it is sent once per document and date whoever writes it (a save, the expiry
 * service of any process, before or after a restart).
 */
export class DocumentStore {
  readonly #clock: () => number
  readonly #recordEvent: EventRecorder

  constructor (private readonly engine: Engine, options: DocumentStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now
    this.#recordEvent = eventRecorder(engine)
  }

  #select (on: Kysely<Database>) {
    return on.selectFrom('documents')
      .innerJoin('workers', 'workers.id', 'documents.worker_id')
      .innerJoin('accounts', 'accounts.id', 'documents.account_id')
      .selectAll('documents')
      .select(sql<string>`workers.first_name || ' ' || workers.last_name`.as('worker_name'))
      .select('accounts.timezone as account_timezone')
  }

  async find (accountId: number, id: number, on: Kysely<Database> = this.engine.db): Promise<DocumentRecord | undefined> {
    const row = await this.#select(on).where('documents.account_id', '=', accountId).where('documents.id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : toDocumentRecord(row, this.#clock())
  }

  async get (accountId: number, id: number): Promise<DocumentRecord> {
    const found = await this.find(accountId, id)
    if (found === undefined) throw notFound(`Document ${id}`)
    return found
  }

  async list (accountId: number, filters: DocumentFilters, paging: Paging): Promise<Page<DocumentRecord>> {
    const nowMs = this.#clock()
    let query = this.#select(this.engine.db).where('documents.account_id', '=', accountId)
    if (filters.worker_id !== undefined) query = query.where('documents.worker_id', '=', filters.worker_id)
    if (filters.expires_before !== undefined) query = query.where('documents.expires_on', '<', filters.expires_before)
    if (filters.status !== undefined) {
      const tz = (await this.engine.db.selectFrom('accounts').select('timezone').where('id', '=', accountId).executeTakeFirst())?.timezone ?? 'UTC'
      const bounds = statusDateBounds(filters.status, localDate(nowMs, tz))
      query = query.where((eb) => {
        const inRange = eb.and([
          ...(bounds.before === undefined ? [] : [eb('documents.expires_on', '<', bounds.before)]),
          ...(bounds.from === undefined ? [] : [eb('documents.expires_on', '>=', bounds.from)]),
          ...(bounds.through === undefined ? [] : [eb('documents.expires_on', '<=', bounds.through)])
        ])
        return bounds.orNone === true ? eb.or([eb('documents.expires_on', 'is', null), inRange]) : inRange
      })
    }
    const page = await paginate(query, 'documents', paging)
    return { rows: page.rows.map((row) => toDocumentRecord(row, nowMs)), pagination: page.pagination }
  }

  async #check (trx: Kysely<Database>, accountId: number, fields: DocumentFields): Promise<void> {
    const worker = await trx.selectFrom('workers').select('id').where('id', '=', fields.worker_id).where('account_id', '=', accountId).executeTakeFirst()
    if (worker === undefined) throw notFound(`Worker ${fields.worker_id}`)
    if (fields.issued_on !== null && fields.expires_on !== null && fields.expires_on < fields.issued_on) {
      throw validationError('expires_on must not be before issued_on')
    }
  }

  async create (accountId: number, body: DocumentCreateBody, options?: WriteOptions): Promise<DocumentRecord> {
    return await this.engine.write(async (trx) => await this.createIn(trx, accountId, body), options)
  }

  /** The create, inside a transaction the caller owns. */
  async createIn (trx: Kysely<Database>, accountId: number, body: DocumentCreateBody): Promise<DocumentRecord> {
    const fields: DocumentFields = {
      worker_id: body.worker_id,
      type: body.type,
      reference: body.reference ?? null,
      issued_on: body.issued_on ?? null,
      expires_on: body.expires_on ?? null,
      notes: body.notes ?? null
    }
    await this.#check(trx, accountId, fields)
    const now = nowIso()
    const { id } = await trx.insertInto('documents')
      .values({ ...fields, account_id: accountId, expired_notified_on: null, created_at: now, updated_at: now })
      .returning('id').executeTakeFirstOrThrow()
    await this.#announceExpiries(trx, [id])
    return (await this.find(accountId, id, trx))!
  }

  /** Partial update; an expiry moved to a later date that has already passed is announced at once. */
  async update (accountId: number, id: number, body: DocumentUpdateBody): Promise<DocumentRecord> {
    return await this.engine.write(async (trx) => {
      const current = await trx.selectFrom('documents').selectAll().where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst()
      if (current === undefined) throw notFound(`Document ${id}`)
      await this.#check(trx, accountId, { ...current, ...body })
      await trx.updateTable('documents').set({ ...body, updated_at: nowIso() }).where('id', '=', id).where('account_id', '=', accountId).execute()
      await this.#announceExpiries(trx, [id])
      return (await this.find(accountId, id, trx))!
    })
  }

  /** Deletes a document and returns it as it was. */
  async delete (accountId: number, id: number): Promise<DocumentRecord> {
    return await this.engine.write(async (trx) => {
      const document = await this.find(accountId, id, trx)
      if (document === undefined) throw notFound(`Document ${id}`)
      await trx.deleteFrom('documents').where('id', '=', id).where('account_id', '=', accountId).execute()
      return document
    })
  }

  /**
   * One pass of the expiry check over every account: announces each document whose expiry day
   * has ended (in its account's zone) and was not announced for that date yet. The candidates
   * are found with a plain read; only when some are due is a write transaction taken, and it
   * decides again inside it, so two processes racing announce each document once.
   * Returns how many events were written.
   */
  async announceDueExpiries (): Promise<number> {
    let written = 0
    let after: { expires_on: string, id: number } | undefined
    for (;;) {
      const nowMs = this.#clock()
      const candidates = await this.#unannounced(this.engine.db, latestLocalDate(nowMs), { after })
      if (candidates.length === 0) return written
      const last = candidates[candidates.length - 1]!
      after = { expires_on: last.expires_on!, id: last.id }
      const due = candidates.filter((c) => expiryEventDue(c.expires_on, c.expired_notified_on, c.account_timezone, nowMs)).map((c) => c.id)
      if (due.length > 0) written += await this.engine.write(async (trx) => await this.#announceExpiries(trx, due))
      if (candidates.length < EXPIRY_BATCH) return written
    }
  }

  /**
   * Documents whose current expiry, before `beforeDate`, has not been announced, in (expires_on, id)
   * order after `after`: a range of the partial index documents_expiry_unannounced, so the cost
   * follows the documents not yet announced, not all documents.
   */
  async #unannounced (on: Kysely<Database>, beforeDate: string, { after, ids }: { after?: { expires_on: string, id: number }, ids?: number[] }) {
    let query = on.selectFrom('documents')
      .innerJoin('accounts', 'accounts.id', 'documents.account_id')
      .select(['documents.id', 'documents.expires_on', 'documents.expired_notified_on', 'accounts.timezone as account_timezone'])
      .where('documents.expires_on', 'is not', null)
      .where((eb) => eb.or([eb('documents.expired_notified_on', 'is', null), eb('documents.expires_on', '>', eb.ref('documents.expired_notified_on'))]))
      .where('documents.expires_on', '<', beforeDate)
    if (after !== undefined) {
      query = query.where((eb) => eb.or([
        eb('documents.expires_on', '>', after.expires_on),
        eb.and([eb('documents.expires_on', '=', after.expires_on), eb('documents.id', '>', after.id)])
      ]))
    }
    if (ids !== undefined) query = query.where('documents.id', 'in', ids)
    return await query.orderBy('documents.expires_on').orderBy('documents.id').limit(EXPIRY_BATCH).execute()
  }

  /**
   * Inside a write transaction: for each of `ids` whose expiry event is due now, writes the event
   * (data: the document) and records the date as announced. Returns how many were written.
   */
  async #announceExpiries (trx: Kysely<Database>, ids: number[]): Promise<number> {
    // decided under each document's lock, so processes racing announce it once (in id order: no deadlock)
    for (const id of [...ids].sort((a, b) => a - b)) await this.engine.sql.lockKey(trx, `document_expired:${id}`)
    const nowMs = this.#clock()
    const rows = await this.#unannounced(trx, latestLocalDate(nowMs), { ids })
    let written = 0
    for (const row of rows) {
      if (!expiryEventDue(row.expires_on, row.expired_notified_on, row.account_timezone, nowMs)) continue
      const full = await this.#select(trx).where('documents.id', '=', row.id).executeTakeFirstOrThrow()
      await this.#recordEvent(trx, full.account_id, 'document_expired', toDocumentRecord(full, nowMs))
      await trx.updateTable('documents').set({ expired_notified_on: row.expires_on }).where('id', '=', row.id).execute()
      written++
    }
    return written
  }
}
