// The admin page's small component kit: a list of records that is a table on a wide screen and
// a stack of cards (one block per record, each value under its column's name) on a phone, where
// a table of many columns would wrap its words letter by letter; and the link to a job's view.
import { signal } from '@preact/signals'
import type { ComponentChildren } from 'preact'

/** The width at and under which lists show as cards. */
const PHONE = '(max-width: 600px)'
const phone = matchMedia(PHONE)
/** Whether the page is phone-narrow now (it follows the window as it is resized or turned). */
export const narrow = signal(phone.matches)
phone.addEventListener('change', (event) => {
  narrow.value = event.matches
})

export interface Column<T> {
  /** The column's heading, and each card's label of the value. */
  label: string
  cell: (row: T) => ComponentChildren
  /** A class for the cell (a table's <td> or a card's value). */
  className?: string
}

export interface RowsProps<T> {
  /** The id of the table, or of the cards' list. */
  id: string
  /** What the records are, for assistive technology ("Recent failures"). */
  label: string
  rows: T[]
  columns: Column<T>[]
  rowKey: (row: T) => string
  /** Attributes of each record's row or card (`data-…`, for tests and styles). */
  rowData: (row: T) => Record<`data-${string}`, string>
  /** Said instead of the list when there is nothing in it. */
  empty: string
}

/** Records as a table (wide) or cards (narrow); `empty` when there are none. */
export function Rows<T>({ id, label, rows, columns, rowKey, rowData, empty }: RowsProps<T>) {
  if (rows.length === 0)
    return (
      <p id={id} class="hint empty-rows">
        {empty}
      </p>
    )
  if (narrow.value)
    return (
      <ul id={id} class="cards" aria-label={label}>
        {rows.map((row) => (
          <li key={rowKey(row)} {...rowData(row)}>
            <dl>
              {columns.map((column) => (
                <div key={column.label} class="card-field">
                  <dt>{column.label}</dt>
                  <dd class={column.className}>{column.cell(row)}</dd>
                </div>
              ))}
            </dl>
          </li>
        ))}
      </ul>
    )
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a wide table scrolls sideways in its box; keys scroll it too
    <section class="table-wrap" tabIndex={0} aria-label={`${label} (scrolls sideways)`}>
      <table id={id}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column.label} scope="col">
                {column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowData(row)}>
              {columns.map((column) => (
                <td key={column.label} class={column.className}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

/** Where a job's view is: the admin page, the job named in the address's fragment (a link to share). */
export const jobHref = (id: string): string => `/admin#job=${encodeURIComponent(id)}`

/** A job's id, as a link that opens its view. */
export function JobLink({ id }: { id: string }) {
  return (
    <a href={jobHref(id)} class="job-link">
      <code>{id}</code>
    </a>
  )
}

/**
 * A status line that is always there (so that what it then says is announced). It takes focus
 * from a script (tabIndex -1) when the button that acted goes away with the record it acted on.
 */
export function Notice({ id, notice }: { id: string; notice: { text: string; error: boolean } | null }) {
  return (
    <p
      id={id}
      class="action-notice"
      role="status"
      aria-live="polite"
      tabIndex={-1}
      data-state={notice?.error ? 'error' : 'ok'}
    >
      {notice?.text ?? ''}
    </p>
  )
}
