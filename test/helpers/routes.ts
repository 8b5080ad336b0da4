/** Every create route of every dialect fluxhost speaks (POST). */
export const CREATE_ROUTES = [
  '/v1/flux-pro-1.1',
  '/v1/flux-pro-1.1-ultra',
  '/v1/flux-dev',
  '/v1/queue/flux_pro_11',
  '/v2/images/generate',
  '/v1/images/generations',
  '/api/jobs',
] as const
