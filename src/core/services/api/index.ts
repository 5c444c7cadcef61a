// The local REST API (issue 5): server, route table, OpenAPI document and default metrics.
export { API_FILE, type ApiFile } from './apiFile';
export { DEFAULT_BODY_LIMIT } from './body';
export { ApiError, type ApiErrorCode } from './errors';
export { GoalSessions, type GoalRecord } from './goals';
export { prometheusText, TriggerMetrics, type MetricFamily } from './metrics';
export { openApiDocument } from './openapi';
export { API_ROUTES } from './routes';
export { ApiServer, type ApiServerOptions } from './server';
export { ApiService, type ApiServiceOptions } from './service';
