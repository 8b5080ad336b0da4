// Layer rules (docs/architecture.md, CONTRIBUTING.md): a folder of src/ may import only
// folders of a lower layer, never one beside or above it, and nothing may form a cycle.
// `npm run lint` runs this; `npx depcruise src --output-type archi | dot -T svg` draws it.
const LAYERS = [
  ['domain'],
  ['config', 'observability'],
  ['store'],
  ['queue', 'net'],
  ['engines', 'prompts'],
  ['images'],
  ['blobs', 'safety'],
  ['webhooks'],
  ['services'],
  ['worker', 'web'],
  ['api'],
  ['compose'],
  ['main.ts'],
  ['cli'],
]

const path = (folder) => (folder.endsWith('.ts') ? `^src/${folder.replace('.', '\\.')}$` : `^src/${folder}/`)

const layerRules = LAYERS.flatMap((layer, rank) => {
  const notBelow = LAYERS.slice(rank).flat()
  if (notBelow.length === 1) return [] // the top layer may import anything below it
  return layer.map((folder) => ({
    name: `layer-${folder}`,
    comment: `src/${folder} may import only ${LAYERS.slice(0, rank).flat().join(', ') || 'nothing of ours'}`,
    severity: 'error',
    from: { path: path(folder) },
    to: { path: notBelow.filter((other) => other !== folder).map(path) },
  }))
})

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'Modules that import each other, directly or around a loop.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'sql-in-the-store',
      comment: 'Every SQL statement lives in src/store: only it talks to the database drivers.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: { path: '^node_modules/(kysely|pg|better-sqlite3)/' },
    },
    {
      name: 'src-not-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-unknown-folder',
      comment: 'A new folder of src/ gets a place in LAYERS first.',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.flat().map(path) },
      to: {},
    },
  ],
  options: {
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/web/public/' },
  },
}
