import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SurveyResponseStore } from '../../../db/survey-responses.js'
import { OneOrListResponse, errorResponses, parseQueryBoolean } from '../../../schemas/common.js'
import { SurveyResponse, SurveyResponseQuery } from '../../../schemas/surveys.js'

const surveyResponses: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = new SurveyResponseStore(fastify.engine)

  fastify.get('/survey-responses.php', {
    config: { scope: 'surveys:read' },
    schema: {
      operationId: 'getSurveyResponses',
      tags: ['Surveys'],
      summary: 'List answered pre-clock-in surveys (passed and failed), or get one with ?id=',
      description: "start_date/end_date select by the submission's calendar date in the account's timezone.",
      querystring: SurveyResponseQuery,
      response: { 200: OneOrListResponse(SurveyResponse, SurveyResponse), ...errorResponses }
    }
  }, async (request) => {
    const accountId = request.apiKey!.accountId
    const { id, survey_id, worker_id, passed, start_date, end_date, ...paging } = request.query
    if (id !== undefined) return { data: await store.get(accountId, id) }
    const page = await store.list(accountId, { survey_id, worker_id, passed: parseQueryBoolean(passed), start_date, end_date }, paging)
    return { data: page.rows, pagination: page.pagination }
  })
}

export default surveyResponses
