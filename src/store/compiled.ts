import type { Compilable, CompiledQuery } from 'kysely'

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
