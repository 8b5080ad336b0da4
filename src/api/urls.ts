import type { FastifyRequest } from 'fastify'
import type { UrlSigner } from '../blobs/url-signer.js'

/** Builds the absolute URLs a response carries. */
export interface UrlContext {
  base: string
  fileUrl(key: string): string
}

export function urlsFor(base: string, signer: UrlSigner): UrlContext {
  return {
    base,
    fileUrl(key) {
      const { exp, sig } = signer.sign(key)
      return `${base}/files/${key}?exp=${exp}&sig=${sig}`
    },
  }
}

/** The base URL clients reach us at: FLUXHOST_PUBLIC_URL, else the request's own host. */
export function baseUrl(request: FastifyRequest, publicUrl: string | null): string {
  return publicUrl ?? `${request.protocol}://${request.host}`
}

/** URLs for a response: from FLUXHOST_PUBLIC_URL, else from the request's own host. */
export function urlContext(request: FastifyRequest, publicUrl: string | null, signer: UrlSigner): UrlContext {
  return urlsFor(baseUrl(request, publicUrl), signer)
}
