import type { FastifyPluginAsyncTypebox, Static, TObject, TSchema } from '@fastify/type-provider-typebox'
import type { Page } from '../db/paging.js'
import type { Engine, WriteOptions } from '../db/engine/engine.js'
import type { ErrorCode } from '../domain/error-codes.js'
import type { Scope } from '../domain/scopes.js'
import { sendWrite } from '../plugins/idempotency.js'
import { IdQuery, NoQuery, OneOrListResponse, OneResponse, errorResponses, type Paging } from '../schemas/common.js'

/** What a reference-data store offers the HTTP layer; every call is within one account. */
export interface RecordStore<Rec, Filters, Create, Update> {
  /** `asOf`: the database version the request was authenticated at (db/record-cache.ts) */
  get (accountId: number, id: number, asOf?: number): Promise<Rec>
  list (accountId: number, filters: Filters, paging: Paging): Promise<Page<Rec>>
  /** `options` from sendWrite, for the store's engine.write (the request's Idempotency-Key) */
  create (accountId: number, body: Create, options?: WriteOptions): Promise<Rec>
  update (accountId: number, id: number, body: Update): Promise<Rec>
}

export interface RecordRoutes<R extends TSchema, Q extends TObject, C extends TSchema, U extends TSchema, Filters> {
  /** e.g. '/locations.php' */
  url: string
  /**
   * the record in the OpenAPI summaries (singular with its article, and plural) and in the
   * operationIds (`get<Plural>`, `create<Singular>`, `update<Singular>`)
   */
  name: { one: string, many: string, singular: string, plural: string }
  /** what GET needs; POST and PUT need a full-access key */
  readScope: Scope
  tags: string[]
  record: R
  /** GET's querystring: `id`, the list filters and `ListQuery`'s paging fields */
  query: Q
  create: C
  update: U
  /** OpenAPI descriptions of the writes (the webhook event each sends) */
  descriptions?: { create?: string, update?: string }
  /** error codes a write can answer with beyond auth, validation and 404 (e.g. a uniqueness clash) */
  writeErrors?: ErrorCode[]
  store: (engine: Engine) => RecordStore<Static<R>, Filters, Static<C>, Static<U>>
  /** the list filters taken from GET's querystring */
  filters: (query: Static<Q>) => Filters
}

/**
 * The routes of one reference-data resource (locations, workers, departments, cost codes), all on
 * one URL: GET one (`?id=`) or a page, POST creates (201), PUT `?id=` updates the fields given.
 * Each routes/api/v1 file calls this with its own names, scope, schemas and store. Not autoloaded
 * (app.ts ignores this file): it is a helper of the route files, not a plugin.
 */
export function recordRoutes<R extends TSchema, Q extends TObject, C extends TSchema, U extends TSchema, Filters> (
  spec: RecordRoutes<R, Q, C, U, Filters>
): FastifyPluginAsyncTypebox {
  const { url, name, readScope, tags, record, query, create, update, descriptions = {}, writeErrors = [] } = spec
  // widened to TSchema: the reply types of a generic record do not resolve; the store's types
  // (tied to the schemas in RecordRoutes) are what is checked
  const one: TSchema = OneResponse(record)
  const oneOrList: TSchema = OneOrListResponse(record, record)
  return async (fastify) => {
    const store = spec.store(fastify.engine)

    fastify.get(url, {
      config: { scope: readScope },
      schema: {
        operationId: `get${name.plural}`,
        tags,
        summary: `List ${name.many}, or get one with ?id=`,
        description: 'Without `id`: a page of the list (`{data: [...], pagination}`). With `id`: that record (`{data: {...}}`).',
        querystring: query,
        response: { 200: oneOrList, ...errorResponses }
      }
    }, async (request) => {
      const accountId = request.apiKey!.accountId
      const params = request.query as Static<Q> & Paging & { id?: number }
      if (params.id !== undefined) return { data: await store.get(accountId, params.id, request.dataVersion) }
      const { limit, offset, after_id: afterId, updated_since: updatedSince } = params
      const page = await store.list(accountId, spec.filters(params), { limit, offset, after_id: afterId, updated_since: updatedSince })
      return { data: page.rows, pagination: page.pagination }
    })

    fastify.post(url, {
      config: { scope: 'full' },
      schema: {
        operationId: `create${name.singular}`,
        tags,
        summary: `Create ${name.one}`,
        ...(descriptions.create === undefined ? {} : { description: descriptions.create }),
        querystring: NoQuery,
        body: create,
        response: { 201: one, ...errorResponses },
        errors: ['not_found', ...writeErrors]
      }
    }, async (request, reply) => {
      return await sendWrite(request, reply, async (options) => await store.create(request.apiKey!.accountId, request.body as Static<C>, options),
        (created) => ({ status: 201, payload: { data: created } }))
    })

    fastify.put(url, {
      config: { scope: 'full' },
      schema: {
        operationId: `update${name.singular}`,
        tags,
        summary: `Update ${name.one} (partial)`,
        ...(descriptions.update === undefined ? {} : { description: descriptions.update }),
        querystring: IdQuery,
        body: update,
        response: { 200: one, ...errorResponses },
        errors: ['not_found', ...writeErrors]
      }
    }, async (request) => {
      return { data: await store.update(request.apiKey!.accountId, request.query.id, request.body as Static<U>) }
    })
  }
}
