import type { FastifyReply, FastifyRequest } from 'fastify'
import { FluxhostError } from '../../domain/errors.js'
import { keyOf } from '../auth.js'

/** What every admin route's schema shares. */
export const tags = ['Admin']
export const security: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }]
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

/** After requireKey: only admin-scoped keys pass. */
export function requireAdmin(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) {
  if (keyOf(request).scope !== 'admin')
    return done(new FluxhostError('FORBIDDEN', { message: 'This needs an admin-scoped API key.' }))
  done()
}
