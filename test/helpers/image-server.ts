import http from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'

/** A real HTTP server with a few images, standing in for the web an image URL points to. */
export async function startImageServer() {
  const jpeg = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#ffffff' } })
    .jpeg()
    .toBuffer()
  const server = http.createServer((req, res) => {
    if (req.url === '/input.jpg') return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg)
    if (req.url === '/not-an-image') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>')
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}
