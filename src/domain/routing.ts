import type { EngineName } from './engines.js'

/**
 * How a model's route picks the engine a job tries first (the rest follow, failing over):
 * `failover` in the order given; `cheapest` by each engine's price per image; `fastest` by
 * the median time of its recent tasks; `weighted` at random by the weights given.
 */
export const ROUTE_POLICIES = ['failover', 'cheapest', 'fastest', 'weighted'] as const
export type RoutePolicy = (typeof ROUTE_POLICIES)[number]

export interface RouteSpec {
  policy: RoutePolicy
  engines: EngineName[]
  /** `weighted` only: each engine's share of first tries. */
  weights?: Partial<Record<EngineName, number>>
}

export function isRoutePolicy(name: string): name is RoutePolicy {
  return (ROUTE_POLICIES as readonly string[]).includes(name)
}
