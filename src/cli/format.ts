import type { Job } from '../domain/job.js'
import { formatUsd } from '../domain/money.js'

export function table(rows: string[][]): string {
  if (rows.length === 0) return ''
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)))
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n')
}

export function jobRow(job: Job): string[] {
  return [
    job.id,
    job.state,
    job.state === 'running' ? `${Math.round(job.progress * 100)}%` : '',
    job.model,
    job.dialect,
    `${job.request.width}x${job.request.height}`,
    formatUsd(job.costMicros),
    job.createdAt.toISOString(),
    job.request.prompt.length > 40 ? `${job.request.prompt.slice(0, 39)}…` : job.request.prompt,
  ]
}

export const JOB_HEADER = ['ID', 'STATE', 'PROGRESS', 'MODEL', 'DIALECT', 'SIZE', 'USD', 'CREATED', 'PROMPT']
