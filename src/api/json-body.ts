import type { FastifyInstance } from 'fastify'
import secureJsonParse from 'secure-json-parse'
import { validationError } from '../domain/errors.js'
import { invalidJson } from './errors.js'
import { breachOf, JSON_LIMITS } from './json-limits.js'

/** The parser's complaint without the echo of the client's bytes that V8 puts in it. */
function reasonFrom(message: string, text: string): { reason: string; position?: number } {
  if (message.startsWith('Unexpected end of JSON input')) return { reason: 'Expecting value', position: text.length }
  const position = /at position (\d+)/.exec(message)?.[1]
  const reason = message.split(/, "|\sin JSON/)[0]?.slice(0, 80) ?? 'invalid JSON'
  return position === undefined ? { reason } : { reason, position: Number(position) }
}

const TOO_DEEP = `JSON nested deeper than ${JSON_LIMITS.depth} levels`
const TOO_WIDE = `JSON holding more than ${JSON_LIMITS.values} values`

/**
 * JSON bodies: refuses bodies deeper or wider than `JSON_LIMITS` before parsing them (422,
 * in the route's dialect), refuses prototype-poisoning keys like Fastify's own parser, and
 * reports where the JSON broke the way FastAPI does (`loc: ["body", <position>]`).
 */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    // An empty body is no body: routes without one (cancel) accept it, routes with one
    // report `body: Field required` through their schema.
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    const breach = breachOf(text)
    if (breach) {
      const [msg, type] = breach.limit === 'depth' ? [TOO_DEEP, 'json_too_deep'] : [TOO_WIDE, 'json_too_many_values']
      done(validationError([{ loc: ['body', breach.at], msg, type, ctx: { ...JSON_LIMITS } }]), undefined)
      return
    }
    try {
      done(null, secureJsonParse.parse(text, { protoAction: 'error', constructorAction: 'error' }))
    } catch (error) {
      const { reason, position } = reasonFrom((error as Error).message, text)
      const fx = invalidJson(reason)
      if (position !== undefined) fx.issues[0]?.loc.push(position)
      done(fx, undefined)
    }
  })
}
