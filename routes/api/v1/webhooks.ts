import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireCreateBody, WebhookStore } from '../../../db/webhooks.js'
import { insufficientScope, validationError } from '../../../domain/errors.js'
import { missingSubscriptionScope } from '../../../domain/event-scopes.js'
import type { KeyGrant } from '../../../domain/scopes.js'
import { sendWrite } from '../../../plugins/idempotency.js'
import { IdQuery, OneResponse, errorResponses, parseQueryBoolean } from '../../../schemas/common.js'
import {
  PingAccepted, SUBSCRIBABLE_EVENTS, Webhook, WebhookCreate, WebhookCreated, WebhookOneOrList, WebhookPostQuery, WebhookQuery, WebhookUpdate
} from '../../../schemas/webhooks.js'

/** A key may subscribe only to events whose data it could read (README: Webhooks). */
function requireSubscribable (grant: KeyGrant, events: readonly string[]): void {
  const missing = missingSubscriptionScope(grant, events, SUBSCRIBABLE_EVENTS)
  if (missing === undefined) return
  throw insufficientScope(missing.scope, missing.scope === 'full'
    ? `Subscribing to ${missing.event} requires a full-access API key`
    : `Subscribing to ${missing.event} requires the ${missing.scope} scope, which this API key lacks`)
}

const webhooks: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new WebhookStore(fastify.engine, { allowLoopback: fastify.config.webhooksAllowLoopback })
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
      errors: ['not_found', 'webhook_inactive', 'subscription_limit_reached']
    }
  }, async (request, reply) => {
    const accountId = request.apiKey!.accountId
    const { id, action } = request.query
    if (action === 'ping') {
      if (id === undefined) throw validationError('Missing required query parameter: id (the webhook to ping)')
      if (request.body !== null && request.body !== undefined) throw validationError('A ping takes no request body')
      return await sendWrite(request, reply, async (options) => await store.ping(accountId, id, options),
        (eventId) => ({ status: 202, payload: { data: { event_id: eventId, subscription_id: id, event: 'ping' as const } } }))
    }
    if (id !== undefined) throw validationError('Unexpected query parameter id: use PUT to change a webhook, or action=ping to ping it')
    const body = requireCreateBody(request.body)
    requireSubscribable(request.apiKey!.grant, body.events)
    return await sendWrite(request, reply, async (options) => await store.create(accountId, body, options),
      (created) => ({ status: 201, payload: { data: created } }))
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
    if (request.body.events !== undefined) requireSubscribable(request.apiKey!.grant, request.body.events)
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
