import proxyAddr from 'proxy-addr';

/**
 * `server.trustProxy`: `false` (the peer is the client), a number of proxy hops in front of the hub,
 * a list of proxy addresses / CIDRs (or `loopback`, `linklocal`, `uniquelocal`), or `true` (every
 * hop is trusted: the left-most `X-Forwarded-For` entry, which any client can write, wins).
 */
export type TrustProxy = boolean | number | readonly string[];

/** Fastify's semantics, as one function: is the hop-th address (0: the peer) a trusted proxy? */
export function trustFunction(tp: TrustProxy): false | ((addr: string, hop: number) => boolean) {
  if (tp === false || tp === 0) return false;
  if (tp === true) return () => true;
  if (typeof tp === 'number') return (_addr, hop) => hop < tp;
  return proxyAddr.compile([...tp]);
}
