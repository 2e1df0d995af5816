import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireCreateBody, WebhookStore } from '../../../db/webhooks.js'
import { validationError } from '../../../domain/errors.js'
import { IdQuery, OneResponse, errorResponses, parseQueryBoolean } from '../../../schemas/common.js'
import {
  PingAccepted, Webhook, WebhookCreate, WebhookCreated, WebhookOneOrList, WebhookPostQuery, WebhookQuery, WebhookUpdate
} from '../../../schemas/webhooks.js'

const webhooks: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new WebhookStore(fastify.db, { allowLoopback: fastify.config.webhooksAllowLoopback })
  const tags = ['Webhooks']
  const scope = 'webhooks:write' as const

  fastify.get('/webhooks.php', {
    config: { scope },
    schema: {
      operationId: 'getWebhooks',
      tags,
      summary: 'List webhook subscriptions, or get one with ?id= (with its recent deliveries)',
      querystring: WebhookQuery,
      response: { 200: WebhookOneOrList, ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, active, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { active: parseQueryBoolean(active) }, paging)
    return { data: page.rows, pagination: page.pagination }
  })

  fastify.post('/webhooks.php', {
    config: { scope },
    schema: {
      operationId: 'createWebhookOrPing',
      tags,
      summary: 'Create a subscription, or ping one with ?id=N&action=ping',
      description: 'Without a query: creates a subscription from the body and answers 201 with it **and its `secret`**, ' +
        'the only time the secret is shown. With `?id=N&action=ping` and no body: queues a `ping` event for that ' +
        'subscription only and answers 202. (One URL and method serve both, as in TempClock API v1.1, so the body is ' +
        'optional here: send it for a create, never for a ping.)',
      querystring: WebhookPostQuery,
      body: WebhookCreate,
      response: { 201: OneResponse(WebhookCreated), 202: PingAccepted, ...errorResponses },
      errors: ['not_found', 'webhook_inactive']
    }
  }, async (request, reply) => {
    const accountId = request.apiKey!.accountId
    const { id, action } = request.query
    if (action === 'ping') {
      if (id === undefined) throw validationError('Missing required query parameter: id (the webhook to ping)')
      if (request.body !== null && request.body !== undefined) throw validationError('A ping takes no request body')
      const eventId = await store.ping(accountId, id)
      return await reply.code(202).send({ data: { event_id: eventId, subscription_id: id, event: 'ping' as const } })
    }
    if (id !== undefined) throw validationError('Unexpected query parameter id: use PUT to change a webhook, or action=ping to ping it')
    const created = await store.create(accountId, requireCreateBody(request.body))
    return await reply.code(201).send({ data: created })
  })

  fastify.put('/webhooks.php', {
    config: { scope },
    schema: {
      operationId: 'updateWebhook',
      tags,
      summary: 'Update a subscription (partial: url, events, active, description)',
      querystring: IdQuery,
      body: WebhookUpdate,
      response: { 200: OneResponse(Webhook), ...errorResponses },
      errors: ['not_found']
    }
  }, async (request) => {
    const updated = await store.update(request.apiKey!.accountId, request.query.id, request.body)
    fastify.webhooks.forgetSubscription(updated.id)
    return { data: updated }
  })

  fastify.delete('/webhooks.php', {
    config: { scope },
    schema: {
      operationId: 'deleteWebhook',
      tags,
      summary: 'Delete a subscription; answers 200 with the deleted subscription',
      description: 'Its pending deliveries are given up.',
      querystring: IdQuery,
      response: { 200: OneResponse(Webhook), ...errorResponses }
    }
  }, async (request) => {
    const deleted = await store.delete(request.apiKey!.accountId, request.query.id)
    fastify.webhooks.forgetSubscription(deleted.id)
    return { data: deleted }
  })
}

export default webhooks
