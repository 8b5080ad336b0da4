import net from 'node:net'

/**
 * Addresses a server must not be talked into fetching from: loopback, private networks,
 * link-local (which holds the cloud metadata services, 169.254.169.254 and fd00:ec2::254),
 * carrier-grade NAT, multicast, documentation and reserved ranges, and the IPv6 forms that
 * embed an IPv4 address (NAT64, 6to4), whose IPv4 part could be any of the above.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) needs no rule: BlockList checks it against the IPv4 ones.
 */
const BLOCKED = new net.BlockList()
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(prefix, bits, 'ipv4')
}
for (const [prefix, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(prefix, bits, 'ipv6')
}

/** True for an address no outbound fetch may reach (unless private URLs are allowed). */
export function isBlockedAddress(address: string): boolean {
  const family = net.isIP(address)
  if (family === 4) return BLOCKED.check(address, 'ipv4')
  if (family === 6) return BLOCKED.check(address, 'ipv6')
  return true
}
