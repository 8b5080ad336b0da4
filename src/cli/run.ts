import { processIo } from './io.js'
import { main } from './program.js'

// The executable entry: the only module that exits the process.
const code = await main(process.argv, processIo())
process.exitCode = code
