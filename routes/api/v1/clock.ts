import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ClockStore } from '../../../db/clock.js'
import { ApiError } from '../../../domain/errors.js'
import { NoQuery, OneResponse, errorResponses } from '../../../schemas/common.js'
import { ClockBody, TimeEntry } from '../../../schemas/time.js'

/** refusals that write their event (and any survey response) before answering */
const RECORDED_REFUSALS = new Set(['geofence_refused', 'blocked_by_survey'])

const clock: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new ClockStore(fastify.db)

  fastify.post('/clock.php', {
    config: { scope: 'clock:write' },
    schema: {
      tags: ['Time'],
      summary: 'Clock a worker in or out, or start or end a break',
      description: '`in` and `break_start` answer 201 with the new entry; `out` and `break_end` answer 200 with the closed entry. ' +
        'At a location with an active survey, `in` must carry `survey_id` and `survey_answers`: malformed answers are 400, ' +
        'missing or not accepted ones 403 `blocked_by_survey` (no entry; the `clock.blocked_by_survey` event is sent). ' +
        'Send an `Idempotency-Key` header to make a retry safe.',
      querystring: NoQuery,
      body: ClockBody,
      response: { 200: OneResponse(TimeEntry), 201: OneResponse(TimeEntry), ...errorResponses }
    }
  }, async (request, reply) => {
    try {
      const result = await store.clock(request.apiKey!.accountId, request.body)
      return await reply.code(result.status).send({ data: result.entry })
    } catch (err) {
      // a refusal that recorded its event is replayed, not repeated, on a retry with the same key
      if (err instanceof ApiError && RECORDED_REFUSALS.has(err.code)) request.keepIdempotentError = true
      throw err
    }
  })
}

export default clock
