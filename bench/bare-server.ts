// A bare Fastify server with routes shaped like fluxhost's BFL routes: the same JSON body
// schema on POST and a similar JSON response, but no auth, no database and no queue.
// It is the yardstick the benchmark divides by.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'

const app = Fastify({ logger: false })
const body = {
  type: 'object',
  properties: {
    prompt: { type: ['string', 'null'], maxLength: 10000 },
    width: { type: 'integer', minimum: 256, maximum: 1440, multipleOf: 32, default: 1024 },
    height: { type: 'integer', minimum: 256, maximum: 1440, multipleOf: 32, default: 768 },
    seed: { type: ['integer', 'null'] },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6, default: 2 },
    output_format: { type: ['string', 'null'], enum: ['jpeg', 'png', 'webp', null], default: 'jpeg' },
  },
}
app.post('/v1/flux-pro-1.1', { schema: { body } }, async (request) => {
  const id = randomUUID()
  return { id, polling_url: `http://${request.host}/v1/get_result?id=${id}`, cost: 4, input_mp: null, output_mp: 0.79 }
})
app.get<{ Querystring: { id: string } }>('/v1/get_result', async (request) => ({
  id: request.query.id,
  status: 'Ready',
  result: {
    sample:
      `http://${request.host}/files/jobs/${request.query.id}/a1/0.jpeg` +
      '?exp=1795430000&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    prompt: 'a red apple on a white table',
    seed: 42,
    start_time: 1795426000.123,
    end_time: 1795426000.456,
    duration: 0.333,
  },
  progress: 1,
  details: null,
  preview: null,
}))
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`listening on ${address}\n`)
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
