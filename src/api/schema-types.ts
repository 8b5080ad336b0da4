import type { FastifyPluginAsync, FastifyTypeProvider, RawServerDefault } from 'fastify'
import type { FromSchema, JSONSchema } from 'json-schema-to-ts'

/**
 * Fastify's type provider over json-schema-to-ts: a route's `request.body`, `query` and
 * `params` have the types its JSON schemas describe (defaults filled in, as Ajv's
 * useDefaults does), with no hand-written interfaces or casts. Responses are not typed from
 * their schemas (`unknown`): each dialect's renderer owns its shape, and the response tests
 * check the rendered JSON against the OpenAPI document.
 */
export interface SchemaTypes extends FastifyTypeProvider {
  validator: this['schema'] extends JSONSchema ? FromSchema<this['schema']> : unknown
  serializer: unknown
}

/** A plugin of routes whose request types come from their schemas. */
export type RoutesPlugin<Options extends Record<string, unknown> | object> = FastifyPluginAsync<
  Options,
  RawServerDefault,
  SchemaTypes
>
