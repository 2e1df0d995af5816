import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DocumentStore } from '../../../db/documents.js'
import { sendWrite } from '../../../plugins/idempotency.js'
import { IdQuery, NoQuery, OneOrListResponse, OneResponse, errorResponses } from '../../../schemas/common.js'
import { Document, DocumentCreate, DocumentQuery, DocumentUpdate } from '../../../schemas/documents.js'

const EXPIRY_EVENT = 'An expiry that has already passed sends the `document_expired` webhook event at once (once per document and expiry date).'

const documents: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new DocumentStore(fastify.engine)
  const tags = ['Documents']

  fastify.get('/documents.php', {
    config: { scope: 'documents:read' },
    schema: {
      operationId: 'getDocuments',
      tags,
      summary: "List workers' documents, or get one with ?id=",
      description: "status is computed in the account's timezone; the status filter selects by it, expires_before by expires_on (documents without an expiry never match it).",
      querystring: DocumentQuery,
      response: { 200: OneOrListResponse(Document, Document), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, worker_id, status, expires_before, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { worker_id, status, expires_before }, paging)
    return { data: page.rows, pagination: page.pagination }
  })

  fastify.post('/documents.php', {
    config: { scope: 'full' },
    schema: {
      operationId: 'createDocument',
      tags,
      summary: "Add a worker's document",
      description: EXPIRY_EVENT,
      querystring: NoQuery,
      body: DocumentCreate,
      response: { 201: OneResponse(Document), ...errorResponses }
    }
  }, async (request, reply) => {
    return await sendWrite(request, reply, async (options) => await store.create(request.apiKey!.accountId, request.body, options),
      (created) => ({ status: 201, payload: { data: created } }))
  })

  fastify.put('/documents.php', {
    config: { scope: 'full' },
    schema: {
      operationId: 'updateDocument',
      tags,
      summary: 'Update a document (partial)',
      description: EXPIRY_EVENT + ' Moving expires_on to a later date sends the event again once that date has passed.',
      querystring: IdQuery,
      body: DocumentUpdate,
      response: { 200: OneResponse(Document), ...errorResponses }
    }
  }, async (request) => {
    return { data: await store.update(request.apiKey!.accountId, request.query.id, request.body) }
  })

  fastify.delete('/documents.php', {
    config: { scope: 'full' },
    schema: {
      operationId: 'deleteDocument',
      tags,
      summary: 'Delete a document; answers with the deleted document',
      querystring: IdQuery,
      response: { 200: OneResponse(Document), ...errorResponses }
    }
  }, async (request) => {
    return { data: await store.delete(request.apiKey!.accountId, request.query.id) }
  })
}

export default documents
