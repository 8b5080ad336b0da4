import fs from 'node:fs'
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver'
import { tempDir } from './server.js'

/**
 * s3rver: a real S3-compatible HTTP server (from npm) over a temporary directory, with one
 * bucket. Only the network edge is emulated; fluxhost talks to it with the AWS SDK.
 */
export async function startS3(bucket = 'fluxhost-test') {
  const directory = tempDir('fluxhost-s3-')
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  })
  const address = (await server.run()) as AddressInfo
  const endpoint = `http://127.0.0.1:${address.port}`
  return {
    bucket,
    endpoint,
    directory,
    /** The env that points fluxhost at this bucket. */
    env: {
      FLUXHOST_S3_BUCKET: bucket,
      FLUXHOST_S3_ENDPOINT: endpoint,
      FLUXHOST_S3_REGION: 'us-east-1',
      FLUXHOST_S3_ACCESS_KEY_ID: 'S3RVER',
      FLUXHOST_S3_SECRET_ACCESS_KEY: 'S3RVER',
    },
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async close() {
      const http = (server as { httpServer: http.Server }).httpServer
      http.closeAllConnections()
      await server.close()
      fs.rmSync(directory, { recursive: true, force: true })
    },
  }
}
