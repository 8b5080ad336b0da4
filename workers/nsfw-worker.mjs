// The output classifier's thread: nsfwjs (MobileNetV2, weights inside its npm package) on
// TensorFlow.js with the wasm backend, loaded once, fed one image at a time. Plain JS so
// that it runs the same from src/ (tsx, vitest) and dist/. See src/safety/classifier.ts.
import { parentPort } from 'node:worker_threads'

// TensorFlow.js and nsfwjs greet on the console; a server's stdout is for its own lines.
const quiet =
  (fn) =>
  async (...args) => {
    const saved = [console.log, console.info, console.warn]
    console.log = console.info = console.warn = () => {}
    try {
      return await fn(...args)
    } finally {
      ;[console.log, console.info, console.warn] = saved
    }
  }

const boot = quiet(async () => {
  const tf = await import('@tensorflow/tfjs')
  await import('@tensorflow/tfjs-backend-wasm')
  const nsfwjs = await import('nsfwjs')
  await tf.setBackend('wasm')
  await tf.ready()
  const model = await nsfwjs.load('MobileNetV2')
  return { tf, model }
})

let loaded
parentPort.on('message', async (message) => {
  try {
    // A failed load is not kept: the next image tries again.
    loaded ??= boot().catch((error) => {
      loaded = undefined
      throw error
    })
    const { tf, model } = await loaded
    if (message.type === 'load') return parentPort.postMessage({ id: message.id, ok: true })
    const { data, width, height } = message
    const started = performance.now()
    const tensor = tf.tensor3d(new Int32Array(new Uint8Array(data)), [height, width, 3], 'int32')
    let predictions
    try {
      predictions = await model.classify(tensor, 5)
    } finally {
      tensor.dispose()
    }
    const scores = Object.fromEntries(predictions.map((p) => [p.className.toLowerCase(), p.probability]))
    parentPort.postMessage({ id: message.id, ok: true, scores, ms: performance.now() - started })
  } catch (error) {
    parentPort.postMessage({ id: message.id, ok: false, error: String(error?.stack ?? error) })
  }
})
