import { WorkerStore } from '../../../db/workers.js'
import { parseQueryBoolean } from '../../../schemas/common.js'
import { Worker, WorkerCreate, WorkerQuery, WorkerUpdate } from '../../../schemas/workers.js'
import { recordRoutes } from '../../record-routes.js'

export default recordRoutes({
  url: '/workers.php',
  name: { one: 'a worker', many: 'workers', singular: 'Worker', plural: 'Workers' },
  readScope: 'workers:read',
  tags: ['Reference data'],
  record: Worker,
  query: WorkerQuery,
  create: WorkerCreate,
  update: WorkerUpdate,
  descriptions: { create: 'Sends the `worker_created` webhook event.', update: 'Sends the `worker_updated` webhook event.' },
  writeErrors: ['employee_ref_taken'],
  store: (engine) => new WorkerStore(engine),
  filters: ({ location_id, department_id, active, search }) => ({ location_id, department_id, active: parseQueryBoolean(active), search })
})
