import { type Compilable, type CompiledQuery, type RawBuilder, sql } from 'kysely'

/**
 * Compiles a query once and returns a function that binds new parameter values to it.
 * For the hot paths (create, poll, authenticate), where building and compiling the same
 * query per request costs more than running it. The query must take its values only as
 * parameters, in a fixed order; `arity` guards that.
 */
export function compileOnce<R>(
  query: Compilable<R>,
  arity: number,
): (parameters: readonly unknown[]) => CompiledQuery<R> {
  const compiled = query.compile()
  if (compiled.parameters.length !== arity) {
    throw new Error(`compiled query takes ${compiled.parameters.length} parameters, expected ${arity}: ${compiled.sql}`)
  }
  return (parameters) => ({ ...compiled, parameters })
}

/**
 * A fixed value written into the SQL text instead of bound as a parameter: for the `state`
 * terms that partial indexes match (`jobs_queue`, `jobs_leases`, `deliveries_due`, …). With
 * `state = ?`, SQLite prepares the statement again at every run to see whether the bound
 * value lets it use such an index (its plan depends on the value): a claim then cost
 * 0.30 ms instead of 0.067 ms on the CI VM. Only for values fixed in the code, never input.
 */
export const lit = <const V extends string>(value: V): RawBuilder<V> => sql.lit(value)

/** A named stand-in for a value in a query compiled once per shape (`compileByShape`). */
class Slot {
  constructor(readonly name: string) {}
}

/**
 * For hot queries whose SQL varies with a few options (a filter or not, a list's length):
 * builds and compiles the query once per shape, with stand-ins for the values, then binds
 * the values by name. Building and compiling the claim's query with Kysely cost ~0.25 ms a
 * claim on the CI VM, more than SQLite took to run it. `slot(name)` stands for
 * `values[name]`, `slot('list#2')` for `values.list[2]`; every other value in the query is a
 * constant of its shape. The shape is everything else the SQL depends on.
 */
export function compileByShape<R, V extends Record<string, unknown>, S extends (string | number | boolean)[]>(
  build: (slot: <K extends string>(name: K) => K extends keyof V ? V[K] : string, ...shape: S) => Compilable<R>,
): (values: V, ...shape: S) => CompiledQuery<R> {
  const shapes = new Map<string, CompiledQuery<R>>()
  const slot = (name: string) => new Slot(name) as never
  const bound = (values: V, name: string): unknown => {
    const hash = name.indexOf('#')
    const value =
      hash < 0 ? values[name] : (values[name.slice(0, hash)] as unknown[] | undefined)?.[Number(name.slice(hash + 1))]
    if (value === undefined) throw new Error(`compileByShape: no value for '${name}'`)
    return value
  }
  return (values, ...shape) => {
    const key = shape.join('\u0000')
    let compiled = shapes.get(key)
    if (!compiled) {
      compiled = build(slot, ...shape).compile()
      if (shapes.size >= MAX_SHAPES) shapes.clear()
      shapes.set(key, compiled)
    }
    const parameters = compiled.parameters.map((p) => (p instanceof Slot ? bound(values, p.name) : p))
    return { ...compiled, parameters }
  }
}

const MAX_SHAPES = 64
