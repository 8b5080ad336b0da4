import { Ajv, type ErrorObject, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import { clipped, type FieldIssue } from '../domain/errors.js'
import { HEADER_VALUE_MESSAGE, HEADER_VALUE_PATTERN } from './header-value.js'

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const common: Options = {
  allErrors: true,
  useDefaults: true,
  removeAdditional: false,
  // The failing value goes into the error, so a client sees what it sent.
  verbose: true,
  strict: false,
  // 0.15 is not an exact multiple of 0.05 in binary floating point; compare to 8 digits.
  multipleOfPrecision: 8,
}

/**
 * Bodies are checked strictly (a string is never taken for a number), query strings and
 * path parameters are coerced (everything in a URL is a string).
 */
export function installValidators(app: FastifyInstance): void {
  const bodyAjv = addFormats(new Ajv({ ...common, coerceTypes: false }))
  const urlAjv = addFormats(new Ajv({ ...common, coerceTypes: true }))
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : urlAjv).compile(schema as object))
}

const PART_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
}

function quoteList(values: readonly unknown[]): string {
  const quoted = values.map((v) => `'${String(v)}'`)
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`
}

/** ajv errors as pydantic-style field issues (FastAPI's `detail` items). */
export function ajvErrorsToIssues(errors: readonly ErrorObject[], context: string): FieldIssue[] {
  const issues: FieldIssue[] = []
  const seen = new Set<string>()
  for (const error of errors) {
    const issue = toIssue(error, PART_NAMES[context] ?? context)
    if (!issue) continue
    const key = JSON.stringify(issue.loc)
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(issue)
  }
  return issues
}

function toIssue(error: ErrorObject, part: string): FieldIssue | undefined {
  const loc: (string | number)[] = [part]
  for (const raw of error.instancePath.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    loc.push(/^\d+$/.test(segment) ? Number(segment) : segment)
  }
  const params = error.params as Record<string, unknown>
  const input = clipped(error.data)
  switch (error.keyword) {
    case 'required':
      return { loc: [...loc, String(params.missingProperty)], msg: 'Field required', type: 'missing' }
    case 'additionalProperties':
      return {
        loc: [...loc, String(params.additionalProperty)],
        msg: 'Extra inputs are not permitted',
        type: 'extra_forbidden',
      }
    case 'type': {
      if (error.data == null && loc.length === 1) return { loc, msg: 'Field required', type: 'missing' }
      const wanted =
        String(params.type)
          .split(',')
          .find((t) => t !== 'null') ?? 'null'
      switch (wanted) {
        case 'integer':
          return typeof error.data === 'number'
            ? {
                loc,
                msg: 'Input should be a valid integer, got a number with a fractional part',
                type: 'int_from_float',
                input,
              }
            : { loc, msg: 'Input should be a valid integer', type: 'int_type', input }
        case 'number':
          return { loc, msg: 'Input should be a valid number', type: 'float_type', input }
        case 'string':
          return { loc, msg: 'Input should be a valid string', type: 'string_type', input }
        case 'boolean':
          return { loc, msg: 'Input should be a valid boolean', type: 'bool_type', input }
        case 'object':
          return loc.length === 1
            ? {
                loc,
                msg: 'Input should be a valid dictionary or object to extract fields from',
                type: 'model_attributes_type',
                input,
              }
            : { loc, msg: 'Input should be a valid dictionary', type: 'dict_type', input }
        case 'array':
          return { loc, msg: 'Input should be a valid list', type: 'list_type', input }
        default:
          return { loc, msg: `Input should be ${wanted}`, type: `${wanted}_type`, input }
      }
    }
    case 'minimum':
      return {
        loc,
        msg: `Input should be greater than or equal to ${String(params.limit)}`,
        type: 'greater_than_equal',
        input,
        ctx: { ge: params.limit },
      }
    case 'exclusiveMinimum':
      return {
        loc,
        msg: `Input should be greater than ${String(params.limit)}`,
        type: 'greater_than',
        input,
        ctx: { gt: params.limit },
      }
    case 'maximum':
      return {
        loc,
        msg: `Input should be less than or equal to ${String(params.limit)}`,
        type: 'less_than_equal',
        input,
        ctx: { le: params.limit },
      }
    case 'exclusiveMaximum':
      return {
        loc,
        msg: `Input should be less than ${String(params.limit)}`,
        type: 'less_than',
        input,
        ctx: { lt: params.limit },
      }
    case 'multipleOf':
      return {
        loc,
        msg: `Input should be a multiple of ${String(params.multipleOf)}`,
        type: 'multiple_of',
        input,
        ctx: { multiple_of: params.multipleOf },
      }
    case 'enum': {
      const expected = quoteList((params.allowedValues as unknown[]).filter((v) => v !== null))
      return { loc, msg: `Input should be ${expected}`, type: 'enum', input, ctx: { expected } }
    }
    case 'const':
      return { loc, msg: `Input should be '${String(params.allowedValue)}'`, type: 'literal_error', input }
    case 'minLength':
      return {
        loc,
        msg: `String should have at least ${String(params.limit)} character${params.limit === 1 ? '' : 's'}`,
        type: 'string_too_short',
        input,
        ctx: { min_length: params.limit },
      }
    case 'maxLength':
      return {
        loc,
        msg: `String should have at most ${String(params.limit)} characters`,
        type: 'string_too_long',
        input,
        ctx: { max_length: params.limit },
      }
    case 'pattern':
      return {
        loc,
        msg:
          params.pattern === HEADER_VALUE_PATTERN
            ? HEADER_VALUE_MESSAGE
            : `String should match pattern '${String(params.pattern)}'`,
        type: 'string_pattern_mismatch',
        input,
      }
    case 'format':
      return params.format === 'uri'
        ? { loc, msg: 'Input should be a valid URL', type: 'url_parsing', input }
        : { loc, msg: `Input should be a valid ${String(params.format)}`, type: 'value_error', input }
    case 'anyOf':
    case 'oneOf':
    case 'if':
      // The branches' own errors say more; this summary only repeats them.
      return undefined
    default:
      return { loc, msg: error.message ?? 'Input is invalid', type: 'value_error', input }
  }
}
