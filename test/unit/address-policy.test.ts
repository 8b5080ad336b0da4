import { describe, expect, it } from 'vitest'
import { isBlockedAddress } from '../../src/net/address-policy.js'

// Every range of the IANA IPv4 Special-Purpose Address Registry (and multicast): an address
// inside, and the first and last address where that is cheap to write down.
const SPECIAL_V4: [range: string, addresses: string[]][] = [
  ['0.0.0.0/8 this network', ['0.0.0.0', '0.1.2.3', '0.255.255.255']],
  ['10.0.0.0/8 private', ['10.0.0.0', '10.0.0.1', '10.255.255.255']],
  ['100.64.0.0/10 shared (CGN)', ['100.64.0.0', '100.100.100.200', '100.127.255.255']],
  ['127.0.0.0/8 loopback', ['127.0.0.0', '127.0.0.1', '127.1.2.3', '127.255.255.255']],
  ['169.254.0.0/16 link-local', ['169.254.0.0', '169.254.169.254', '169.254.255.255']],
  ['172.16.0.0/12 private', ['172.16.0.0', '172.20.0.1', '172.31.255.255']],
  [
    '192.0.0.0/24 IETF protocol assignments',
    ['192.0.0.0', '192.0.0.8', '192.0.0.9', '192.0.0.10', '192.0.0.170', '192.0.0.171', '192.0.0.255'],
  ],
  ['192.0.2.0/24 TEST-NET-1', ['192.0.2.0', '192.0.2.1', '192.0.2.255']],
  ['192.31.196.0/24 AS112-v4', ['192.31.196.0', '192.31.196.1', '192.31.196.255']],
  ['192.52.193.0/24 AMT', ['192.52.193.0', '192.52.193.1', '192.52.193.255']],
  ['192.88.99.0/24 6to4 relay anycast', ['192.88.99.0', '192.88.99.1', '192.88.99.2', '192.88.99.255']],
  ['192.168.0.0/16 private', ['192.168.0.0', '192.168.1.1', '192.168.255.255']],
  ['192.175.48.0/24 AS112 direct delegation', ['192.175.48.0', '192.175.48.1', '192.175.48.255']],
  ['198.18.0.0/15 benchmarking', ['198.18.0.0', '198.18.0.1', '198.19.255.255']],
  ['198.51.100.0/24 TEST-NET-2', ['198.51.100.0', '198.51.100.1', '198.51.100.255']],
  ['203.0.113.0/24 TEST-NET-3', ['203.0.113.0', '203.0.113.1', '203.0.113.255']],
  ['224.0.0.0/4 multicast', ['224.0.0.0', '224.0.0.1', '239.255.255.255']],
  ['240.0.0.0/4 reserved', ['240.0.0.0', '250.1.2.3', '255.255.255.254']],
  ['255.255.255.255/32 limited broadcast', ['255.255.255.255']],
]

// The IANA IPv6 Special-Purpose Address Registry, and the space outside 2000::/3.
const SPECIAL_V6: [range: string, addresses: string[]][] = [
  ['::/128 unspecified', ['::', '0:0:0:0:0:0:0:0']],
  ['::1/128 loopback', ['::1', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '::0001']],
  ['::/96 IPv4-compatible (deprecated)', ['::2', '::808:808', '::8.8.8.8', '::ffff:ffff']],
  ['::ffff:0:0/96 IPv4-mapped', ['::ffff:0:0', '::ffff:0.0.0.0', '::ffff:255.255.255.255']],
  ['::ffff:0:0:0/96 IPv4-translated', ['::ffff:0:0:0', '::ffff:0:808:808', '::ffff:0:8.8.8.8']],
  ['64:ff9b::/96 NAT64', ['64:ff9b::', '64:ff9b::0.0.0.0', '64:ff9b::ffff:ffff']],
  ['64:ff9b:1::/48 local-use NAT64', ['64:ff9b:1::', '64:ff9b:1::808:808', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff']],
  ['100::/64 discard-only', ['100::', '100::1', '100::ffff:ffff:ffff:ffff']],
  ['100:0:0:1::/64 dummy prefix', ['100:0:0:1::', '100:0:0:1::1']],
  ['2001::/23 IETF protocol assignments', ['2001:1::1', '2001:1::2', '2001:1::3', '2001:1ff:ffff:ffff::1']],
  ['2001::/32 Teredo', ['2001::', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:0:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2001:2::/48 benchmarking', ['2001:2::', '2001:2::1', '2001:2:0:ffff:ffff:ffff:ffff:ffff']],
  ['2001:3::/32 AMT', ['2001:3::', '2001:3::1', '2001:3:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2001:4:112::/48 AS112-v6', ['2001:4:112::', '2001:4:112::1', '2001:4:112:ffff:ffff:ffff:ffff:ffff']],
  ['2001:10::/28 ORCHID (deprecated)', ['2001:10::', '2001:10::1', '2001:1f:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2001:20::/28 ORCHIDv2', ['2001:20::', '2001:20::1', '2001:2f:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2001:30::/28 drone remote ID', ['2001:30::', '2001:30::1', '2001:3f:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2001:db8::/32 documentation', ['2001:db8::', '2001:db8::1', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2002::/16 6to4', ['2002::', '2002:c000:201::1', '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2620:4f:8000::/48 AS112 direct delegation', ['2620:4f:8000::', '2620:4f:8000::1', '2620:4f:8000:ffff::1']],
  ['3fff::/20 documentation', ['3fff::', '3fff::1', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['5f00::/16 SRv6 SIDs', ['5f00::', '5f00::1', '5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['fc00::/7 unique local', ['fc00::', 'fd00::1', 'fd00:ec2::254', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['fe80::/10 link-local', ['fe80::', 'fe80::1', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['fec0::/10 site-local (deprecated)', ['fec0::', 'fec0::1', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['ff00::/8 multicast', ['ff00::', 'ff02::1', 'ff05::1:3', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['outside 2000::/3 (unallocated)', ['1::1', '400::1', '1fff:ffff::1', '4000::1', '8000::1', 'e000::1']],
]

/** Every spelling of an IPv4 address inside IPv6 that we know of, from its two 16-bit halves. */
function embeddings(v4: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number)
  const high = ((a << 8) | b).toString(16)
  const low = ((c << 8) | d).toString(16)
  const pad = (hex: string) => hex.padStart(4, '0')
  // Teredo hides the client address by flipping its bits; the server address is plain.
  const flipped = (((a << 24) | (b << 16) | (c << 8) | d) ^ 0xffffffff) >>> 0
  const teredoClient = `${(flipped >>> 16).toString(16)}:${(flipped & 0xffff).toString(16)}`
  return [
    `::ffff:${v4}`,
    `::ffff:${high}:${low}`,
    `::FFFF:${high.toUpperCase()}:${low.toUpperCase()}`,
    `0000:0000:0000:0000:0000:ffff:${pad(high)}:${pad(low)}`,
    `0:0:0:0:0:ffff:${v4}`,
    `::ffff:${v4}%eth0`,
    `::${high}:${low}`,
    `::${v4}`,
    `0000:0000:0000:0000:0000:0000:${pad(high)}:${pad(low)}`,
    `::ffff:0:${high}:${low}`,
    `::ffff:0:${v4}`,
    `64:ff9b::${high}:${low}`,
    `64:ff9b::${v4}`,
    `0064:FF9B:0000:0000:0000:0000:${pad(high)}:${pad(low)}`,
    `64:ff9b:1::${high}:${low}`,
    `64:ff9b:1:${high}:${low}::`,
    `2002:${high}:${low}::`,
    `2002:${pad(high)}:${pad(low)}::1`,
    `2001:0:${high}:${low}::`,
    `2001:0:4136:e378:8000:63bf:${teredoClient}`,
  ]
}

const EMBEDDED_PRIVATE = ['127.0.0.1', '169.254.169.254', '10.0.0.1', '0.0.0.0', '192.168.1.1', '100.64.0.1']

const ALLOWED = [
  // public IPv4, including the first and last address around blocked ranges
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '1.0.0.0',
  '9.255.255.255',
  '11.0.0.0',
  '100.63.255.255',
  '100.128.0.0',
  '126.255.255.255',
  '128.0.0.0',
  '169.253.255.255',
  '169.255.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '192.0.1.0',
  '192.0.3.0',
  '192.88.98.255',
  '192.88.100.0',
  '192.167.255.255',
  '192.169.0.0',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.255',
  // public IPv6
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2606:4700:4700:0000:0000:0000:0000:1111',
  '2606:4700:4700::AB:1111',
  '2000::1',
  '2001:200::1',
  '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff',
  '2001:db9::1',
  '2003::1',
  '2620:4f:7fff:ffff:ffff:ffff:ffff:ffff',
  '2620:4f:8001::1',
  '3ffe::1',
  '3fff:1000::1',
  // a public IPv4 address in the two IPv6 forms that ordinary traffic uses
  '::ffff:8.8.8.8',
  '::ffff:808:808',
  '::FFFF:0808:0808',
  '64:ff9b::808:808',
  '64:ff9b::8.8.8.8',
  '64:ff9b::101:101',
]

// A public IPv4 address in the other embedding forms is still blocked: see address-policy.ts.
const EMBEDDED_PUBLIC_BLOCKED = [
  '::8.8.8.8',
  '::808:808',
  '::ffff:0:808:808',
  '64:ff9b:1::808:808',
  '2002:0808:0808::',
  '2002:808:808::1',
  '2001:0:808:808::',
  '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
]

const GARBAGE = [
  '',
  ' ',
  'localhost',
  'example.com',
  '1.2.3',
  '1.2.3.4.5',
  '256.1.1.1',
  '127.1',
  '0x7f.0.0.1',
  '0177.0.0.1',
  '010.0.0.1',
  '2130706433',
  ' 8.8.8.8',
  '8.8.8.8 ',
  '8.8.8.8/32',
  '[::1]',
  '[2606:4700:4700::1111]',
  '::g',
  ':::1',
  '1::2::3',
  '2606:4700:4700::1111:1:2:3:4',
  '::ffff:010.0.0.1',
  '::ffff:1.2.3',
]

describe('address policy', () => {
  describe.each(SPECIAL_V4)('IPv4 %s', (_, addresses) => {
    it.each(addresses)('blocks %s', (address) => expect(isBlockedAddress(address)).toBe(true))
  })

  describe.each(SPECIAL_V6)('IPv6 %s', (_, addresses) => {
    it.each(addresses)('blocks %s', (address) => expect(isBlockedAddress(address)).toBe(true))
  })

  it.each(['::7f00:1', '::ffff:0:7f00:1', '::a9fe:a9fe'])('blocks %s (the spellings of issue 13)', (address) =>
    expect(isBlockedAddress(address)).toBe(true),
  )

  describe.each(EMBEDDED_PRIVATE)('%s inside IPv6', (v4) => {
    it.each(embeddings(v4))('blocks %s', (address) => expect(isBlockedAddress(address)).toBe(true))
  })

  it.each([
    'fe80::1%eth0',
    'fe80::1%1',
    'FE80::1%25eth0',
    'fe80:0000:0000:0000:0000:0000:0000:0001%eth0',
    '2606:4700:4700::1111%eth0',
    '::ffff:8.8.8.8%eth0',
  ])('blocks %s: an address with a zone id is scoped to a link', (address) =>
    expect(isBlockedAddress(address)).toBe(true),
  )

  it.each(['FE80::1', 'FD00:EC2::254', '::FFFF:7F00:1', '::FFFF:A9FE:A9FE', '64:FF9B::A9FE:A9FE', '2002:A9FE:A9FE::'])(
    'blocks %s (upper case)',
    (address) => expect(isBlockedAddress(address)).toBe(true),
  )

  it.each(EMBEDDED_PUBLIC_BLOCKED)('blocks %s: a public IPv4 address, but in a form no service uses', (address) =>
    expect(isBlockedAddress(address)).toBe(true),
  )

  it.each(GARBAGE)('blocks %j: not an IP address', (address) => expect(isBlockedAddress(address)).toBe(true))

  it.each(ALLOWED)('allows %s', (address) => expect(isBlockedAddress(address)).toBe(false))
})
