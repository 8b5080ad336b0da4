/**
 * The layout of every blob fluxhost keeps, in one place:
 *
 *   jobs/<job id>/a<attempt>/<n>.<ext>    outputs of one attempt (a stale worker never touches
 *                                          another attempt's files; a new attempt removes
 *                                          what crashed ones left)
 *   jobs/…/<n>.<ext>.thumb.webp           its gallery thumbnail, made on first request
 *   inputs/<job id>/image-prompt.<ext>    the image prompt a client sent
 *
 * Everything of one job sits under `jobs/<id>` and `inputs/<id>`, so deleting a job is
 * deleting two prefixes.
 */
export const blobKeys = {
  /** Every output of a job, all attempts and thumbnails. */
  outputs: (jobId: string) => `jobs/${jobId}`,
  /** The outputs of one attempt. */
  attempt: (jobId: string, attempt: number) => `jobs/${jobId}/a${attempt}`,
  output: (jobId: string, attempt: number, index: number, extension: string) =>
    `jobs/${jobId}/a${attempt}/${index}.${extension}`,
  /** Every input of a job. */
  inputs: (jobId: string) => `inputs/${jobId}`,
  imagePrompt: (jobId: string, extension: string) => `inputs/${jobId}/image-prompt.${extension}`,
  thumbnail: (imageKey: string) => `${imageKey}${THUMBNAIL_SUFFIX}`,
  /** The image a thumbnail key stands for, or undefined when `key` is not a thumbnail's. */
  thumbnailSource: (key: string): string | undefined =>
    key.endsWith(THUMBNAIL_SUFFIX) && key.length > THUMBNAIL_SUFFIX.length
      ? key.slice(0, -THUMBNAIL_SUFFIX.length)
      : undefined,
}

const THUMBNAIL_SUFFIX = '.thumb.webp'
