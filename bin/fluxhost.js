#!/usr/bin/env node
// Runs the compiled CLI (built by `npm install` through the prepare script).
import('../dist/cli/run.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli/run.js')) {
    console.error('fluxhost is not built yet: run `npm install` (or `npm run build`) in the fluxhost folder.')
  } else {
    console.error(error)
  }
  process.exitCode = 1
})
