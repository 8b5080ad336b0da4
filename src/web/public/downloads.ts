// Downloads of a job's images, each through a URL signed now: the one shown may have expired
// since (a download of an expired URL would save the API's error as the image).
import { api } from './common.js'
import type { Job } from './playground-types.js'

/** Saves image `index` of a job as `name`; throws when the job or its image is gone. */
export async function saveImage(jobId: string, index: number, name: string): Promise<void> {
  const image = (await api<Job>(`/api/jobs/${encodeURIComponent(jobId)}`)).result?.images[index]
  if (!image) throw new Error('the image is gone')
  const link = document.createElement('a')
  link.href = image.url
  link.download = name
  document.body.append(link)
  link.click()
  link.remove()
}
