import { DepartmentStore } from '../../../db/departments.js'
import { parseQueryBoolean } from '../../../schemas/common.js'
import { Department, DepartmentCreate, DepartmentQuery, DepartmentUpdate } from '../../../schemas/departments.js'
import { recordRoutes } from '../../record-routes.js'

export default recordRoutes({
  url: '/departments.php',
  name: { one: 'a department', many: 'departments', singular: 'Department', plural: 'Departments' },
  readScope: 'departments:read',
  tags: ['Reference data'],
  record: Department,
  query: DepartmentQuery,
  create: DepartmentCreate,
  update: DepartmentUpdate,
  store: (engine) => new DepartmentStore(engine),
  filters: ({ active }) => ({ active: parseQueryBoolean(active) })
})
