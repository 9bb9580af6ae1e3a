import { BlockList, isIP } from 'node:net';

/** Addresses an outbound call on a user's behalf must not reach unless ATHENA_OUTBOUND_ALLOW opens them. */
const BLOCKED_RANGES: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // "this" network
  ['10.0.0.0', 8, 'ipv4'], // private
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12, 'ipv4'], // private
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.0.2.0', 24, 'ipv4'], // documentation
  ['192.88.99.0', 24, 'ipv4'], // 6to4 relay
  ['192.168.0.0', 16, 'ipv4'], // private
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['198.51.100.0', 24, 'ipv4'], // documentation
  ['203.0.113.0', 24, 'ipv4'], // documentation
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'], // unspecified
  ['::1', 128, 'ipv6'], // loopback
  ['64:ff9b::', 96, 'ipv6'], // NAT64 (embeds IPv4)
  ['64:ff9b:1::', 48, 'ipv6'], // local-use NAT64
  ['100::', 64, 'ipv6'], // discard
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['2002::', 16, 'ipv6'], // 6to4 (embeds IPv4)
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
];

/** Thrown when a call would reach an address the guard refuses. */
export class OutboundBlockedError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`Outbound calls to ${host} (${address}) are not allowed: it is a private, loopback or link-local address.`);
    this.name = 'OutboundBlockedError';
  }
}

/** The IPv4 address inside an IPv4-mapped or -compatible IPv6 address (::ffff:10.0.0.1), if any. */
function embeddedIpv4(address: string): string | undefined {
  const match = /^(?:0{0,4}:){0,5}(?:ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address.replace(/^::/, '0:'));
  if (match) return match[1];
  // ::ffff:a00:1 (hex form of a mapped address)
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const high = parseInt(hex[1]!, 16);
    const low = parseInt(hex[2]!, 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return undefined;
}

/**
 * Decides whether an outbound call may reach an address. The allow list holds host names
 * (`ollama.internal`, `*.corp.example`), addresses and CIDR ranges.
 */
export class OutboundGuard {
  private readonly blocked = new BlockList();
  private readonly allowedAddresses = new BlockList();
  private readonly allowedHosts = new Set<string>();
  private readonly allowedSuffixes: string[] = [];

  constructor(allow: readonly string[]) {
    for (const [network, prefix, type] of BLOCKED_RANGES) this.blocked.addSubnet(network, prefix, type);
    for (const entry of allow) {
      const [address, prefix] = entry.split('/');
      const version = isIP(address ?? '');
      if (version !== 0) {
        const type = version === 6 ? 'ipv6' : 'ipv4';
        if (prefix === undefined) this.allowedAddresses.addAddress(address!, type);
        else this.allowedAddresses.addSubnet(address!, Number(prefix), type);
      } else if (entry.startsWith('*.')) {
        this.allowedSuffixes.push(entry.slice(1).toLowerCase());
      } else {
        this.allowedHosts.add(entry.toLowerCase());
      }
    }
  }

  /** Whether the host name itself is on the allow list (then any address it resolves to is fine). */
  isHostAllowed(host: string): boolean {
    const name = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    return this.allowedHosts.has(name) || this.allowedSuffixes.some((suffix) => name.endsWith(suffix));
  }

  /** Whether an address is private, loopback, link-local or otherwise not public. */
  isBlockedAddress(address: string): boolean {
    const bare = address.replace(/^\[|\]$/g, '').split('%')[0]!;
    const version = isIP(bare);
    if (version === 0) return true;
    if (version === 6) {
      const v4 = embeddedIpv4(bare.toLowerCase());
      if (v4 !== undefined) return this.isBlockedAddress(v4);
    }
    const type = version === 6 ? 'ipv6' : 'ipv4';
    if (this.allowedAddresses.check(bare, type)) return false;
    return this.blocked.check(bare, type);
  }

  /** Throws OutboundBlockedError unless the host may be reached at this address. */
  assertAllowed(host: string, address: string): void {
    if (this.isHostAllowed(host)) return;
    if (this.isBlockedAddress(address)) throw new OutboundBlockedError(host, address);
  }
}
