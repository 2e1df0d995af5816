import { CostCodeStore } from '../../../db/cost-codes.js'
import { parseQueryBoolean } from '../../../schemas/common.js'
import { CostCode, CostCodeCreate, CostCodeQuery, CostCodeUpdate } from '../../../schemas/cost-codes.js'
import { recordRoutes } from '../../record-routes.js'

export default recordRoutes({
  url: '/cost-codes.php',
  name: { one: 'a cost code', many: 'cost codes', singular: 'CostCode', plural: 'CostCodes' },
  readScope: 'cost-codes:read',
  tags: ['Reference data'],
  record: CostCode,
  query: CostCodeQuery,
  create: CostCodeCreate,
  update: CostCodeUpdate,
  writeErrors: ['cost_code_taken'],
  store: (engine) => new CostCodeStore(engine),
  filters: ({ active, search }) => ({ active: parseQueryBoolean(active), search })
})
