import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TimeEntryStore } from '../../../db/time-entries.js'
import { sendWrite } from '../../../plugins/idempotency.js'
import { OneResponse, errorResponses } from '../../../schemas/common.js'
import { ClockBody, TimeEntry } from '../../../schemas/time.js'

const clock: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new TimeEntryStore(fastify.db)

  fastify.post('/clock.php', {
    config: { scope: 'clock:write' },
    schema: {
      tags: ['Time'],
      summary: 'Clock a worker in or out, or start or end a break',
      description: '`in` and `break_start` answer 201 with the new entry; `out` and `break_end` answer 200 with the closed entry. ' +
        'Send an `Idempotency-Key` header to make a retry safe.',
      body: ClockBody,
      response: { 200: OneResponse(TimeEntry), 201: OneResponse(TimeEntry), ...errorResponses }
    }
  }, async (request, reply) => {
    return await sendWrite(request, reply, async () => await store.clock(request.apiKey!.accountId, request.body),
      (result) => ({ status: result.status, payload: { data: result.entry } }))
  })
}

export default clock
