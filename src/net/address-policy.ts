import net from 'node:net'
import ipaddr from 'ipaddr.js'

/**
 * Which addresses a server must not be talked into fetching from (webhooks, image URLs): an
 * allowlist, not a blocklist. Only public unicast passes: ipaddr.js must call the address
 * 'unicast', it must lie outside every range of the IANA IPv4 and IPv6 Special-Purpose Address
 * Registries (listed here again, so that a range ipaddr.js does not know yet, or an older
 * ipaddr.js, cannot let one through), and an IPv6 address must be in 2000::/3, the only block
 * IANA hands out as global unicast.
 *
 * IPv6 can carry an IPv4 address, and the host at the other end may be any IPv4 host, the
 * loopback and the cloud metadata service (169.254.169.254) included. Two such forms are
 * unwrapped and their IPv4 part judged like any IPv4 address, since ordinary traffic uses them:
 * - IPv4-mapped `::ffff:a.b.c.d` (RFC 4291): what a dual-stack socket sends IPv4 as;
 * - NAT64 `64:ff9b::a.b.c.d` (RFC 6052): what DNS64 answers on an IPv6-only network for every
 *   IPv4-only name, reaching the IPv4 host through the network's translator.
 * Every other form is blocked whatever IPv4 address it holds: IPv4-compatible `::a.b.c.d`
 * (deprecated, ::/96), IPv4-translated `::ffff:0:a.b.c.d` (RFC 6145, only inside a SIIT
 * domain), local-use NAT64 64:ff9b:1::/48 (RFC 8215; not globally reachable, and where its IPv4
 * part sits depends on a prefix length we cannot know), 6to4 2002::/16 (RFC 3056, deprecated by
 * RFC 7526) and Teredo 2001::/32 (RFC 4380; its IPv4 parts are obfuscated and go through a
 * relay). No service a client means to reach lives behind those, and each is one more spelling
 * of an address that is blocked in its plain form.
 *
 * A zone id (`fe80::1%eth0`) names a link (RFC 4007): such an address is never public. Anything
 * that node does not take as an IP address is blocked, including the shorthand IPv4 forms
 * (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`) that ipaddr.js would parse.
 */

/** The IANA IPv4 Special-Purpose Address Registry, plus multicast (224.0.0.0/4, RFC 5771). */
const SPECIAL_V4 = [
  '0.0.0.0/8', // "this network" (RFC 791); 0.0.0.0/32 "this host"
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // shared address space, carrier-grade NAT (RFC 6598)
  '127.0.0.0/8', // loopback (RFC 1122)
  '169.254.0.0/16', // link-local (RFC 3927), cloud metadata services
  '172.16.0.0/12', // private (RFC 1918)
  '192.0.0.0/24', // IETF protocol assignments (RFC 6890): DS-Lite, PCP and TURN anycast, NAT64 discovery
  '192.0.2.0/24', // documentation, TEST-NET-1 (RFC 5737)
  '192.31.196.0/24', // AS112-v4 (RFC 7535)
  '192.52.193.0/24', // AMT (RFC 7450)
  '192.88.99.0/24', // deprecated 6to4 relay anycast (RFC 7526), 6a44 relay anycast (RFC 6751)
  '192.168.0.0/16', // private (RFC 1918)
  '192.175.48.0/24', // direct delegation AS112 service (RFC 7534)
  '198.18.0.0/15', // benchmarking (RFC 2544)
  '198.51.100.0/24', // documentation, TEST-NET-2 (RFC 5737)
  '203.0.113.0/24', // documentation, TEST-NET-3 (RFC 5737)
  '224.0.0.0/4', // multicast (RFC 5771)
  '240.0.0.0/4', // reserved (RFC 1112)
  '255.255.255.255/32', // limited broadcast (RFC 919)
].map((cidr) => ipaddr.IPv4.parseCIDR(cidr))

/** The IANA IPv6 Special-Purpose Address Registry, plus the blocks its address space registry keeps out of use. */
const SPECIAL_V6 = [
  '::/96', // unspecified, loopback and the deprecated IPv4-compatible addresses (RFC 4291)
  '::ffff:0:0/96', // IPv4-mapped (RFC 4291); unwrapped before this list is consulted
  '::ffff:0:0:0/96', // IPv4-translated (RFC 6145)
  '64:ff9b::/96', // NAT64 well-known prefix (RFC 6052); unwrapped before this list is consulted
  '64:ff9b:1::/48', // local-use IPv4/IPv6 translation (RFC 8215)
  '100::/64', // discard-only (RFC 6666)
  '100:0:0:1::/64', // dummy prefix (RFC 9780)
  '2001::/23', // IETF protocol assignments (RFC 2928): Teredo, PCP/TURN anycast, benchmarking, AMT, ORCHID...
  '2001::/32', // Teredo (RFC 4380)
  '2001:2::/48', // benchmarking (RFC 5180)
  '2001:3::/32', // AMT (RFC 7450)
  '2001:4:112::/48', // AS112-v6 (RFC 7535)
  '2001:10::/28', // deprecated ORCHID (RFC 4843)
  '2001:20::/28', // ORCHIDv2 (RFC 7343)
  '2001:30::/28', // drone remote ID entity tags (RFC 9374)
  '2001:db8::/32', // documentation (RFC 3849)
  '2002::/16', // 6to4 (RFC 3056)
  '2620:4f:8000::/48', // direct delegation AS112 service (RFC 7534)
  '3fff::/20', // documentation (RFC 9637)
  '5f00::/16', // SRv6 SIDs (RFC 9602)
  'fc00::/7', // unique local (RFC 4193), which holds fd00:ec2::254, a cloud metadata service
  'fe80::/10', // link-local (RFC 4291)
  'fec0::/10', // deprecated site-local (RFC 3879)
  'ff00::/8', // multicast (RFC 4291)
].map((cidr) => ipaddr.IPv6.parseCIDR(cidr))

/** Global unicast, the only IPv6 space IANA allocates to registries (RFC 4291 section 2.4). */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3')
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96')

function isPublicV4(ip: ipaddr.IPv4): boolean {
  return ip.range() === 'unicast' && !SPECIAL_V4.some((range) => ip.match(range))
}

function isPublicV6(ip: ipaddr.IPv6): boolean {
  if (ip.isIPv4MappedAddress()) return isPublicV4(ip.toIPv4Address())
  if (ip.match(NAT64_WELL_KNOWN)) return isPublicV4(lastIPv4(ip))
  return ip.match(GLOBAL_UNICAST_V6) && ip.range() === 'unicast' && !SPECIAL_V6.some((range) => ip.match(range))
}

/** The IPv4 address in an IPv6 address's low 32 bits. */
function lastIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 {
  const [high = 0, low = 0] = ip.parts.slice(6)
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
}

/**
 * An IPv6 address with its dotted-decimal tail written in hex, the bits unchanged: ipaddr.js
 * reads `::a.b.c.d` as `::ffff:a.b.c.d`, which is not the address a socket would connect to.
 */
function hexTail(address: string): string {
  return address.replace(/\d+\.\d+\.\d+\.\d+$/, (v4) => {
    const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(v4).octets
    return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  })
}

/** True for an address no outbound fetch may reach (unless private URLs are allowed). */
export function isBlockedAddress(address: string): boolean {
  // node's parser is the strict one: ipaddr.js also takes `127.1` and octal or hex parts.
  const family = net.isIP(address)
  if (family === 0) return true
  try {
    if (family === 4) return !isPublicV4(ipaddr.IPv4.parse(address))
    if (address.includes('%')) return true // a zone id: scoped to one link
    return !isPublicV6(ipaddr.IPv6.parse(hexTail(address)))
  } catch {
    return true
  }
}
