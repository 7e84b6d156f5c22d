/**
 * Egress enforcement that does not depend on a backend: the allow-list matcher, the proxy that
 * applies it, and the host firewall rules that leave the proxy as the only way out.
 * @module
 */
export {
  compileAddressSet,
  compileAllowList,
  isRefusedAddress,
  normalizeAddress,
  readHostAddresses,
  unmapAddress,
  type AddressSet,
  type AllowList,
} from "./egress-allow-list.js";
export {
  EgressProxy,
  decideEgress,
  parseAuthority,
  type EgressDecision,
  type EgressIdentity,
  type EgressProxyOptions,
} from "./egress-proxy.js";
export {
  isolateBridgeFromHost,
  restrictBridgeToProxy,
  unisolateBridge,
  unrestrictBridge,
} from "./host-firewall.js";
