import type { UrlSigner } from '../blobs/url-signer.js'
import type { Job } from '../domain/job.js'
import { renderWebhookBody as renderApiframeWebhook } from './dialects/apiframe/render.js'
import { renderResult } from './dialects/bfl/render.js'
import { renderResponse } from './dialects/seaart/render.js'
import { renderJob as renderNativeJob } from './native/render.js'
import { urlsFor } from './urls.js'

/**
 * A webhook's body: what the read route of the dialect that created the job returns for it
 * (BFL: `GET /v1/get_result`; SeaArt: `…/response`; others: the native job), or for Apiframe
 * `{jobId, type, status, …}` and the job as `GET /v2/jobs` lists it. Rendered at each attempt
 * so its signed file URLs are fresh; URLs use the base the client created the job through,
 * else `fallbackBase`.
 */
export function createWebhookBodies(signer: UrlSigner, fallbackBase: () => string) {
  return (job: Job): string => {
    const urls = urlsFor(job.request.webhook?.base ?? fallbackBase(), signer)
    switch (job.dialect) {
      case 'bfl':
        return JSON.stringify(renderResult(job, urls))
      case 'seaart':
        return JSON.stringify(renderResponse(job, urls))
      case 'apiframe':
        return JSON.stringify(renderApiframeWebhook(job, urls))
      default:
        return JSON.stringify(renderNativeJob(job, urls))
    }
  }
}
