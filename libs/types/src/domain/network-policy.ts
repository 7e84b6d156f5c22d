import { z } from "zod";

const DOMAIN_PATTERN =
  /^(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True for entries an egress allow-list understands: a domain (`example.com`, `*.example.com`), an IP or a CIDR range. */
export function isEgressTarget(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  return (
    z.regexes.ipv4.test(value) ||
    z.regexes.ipv6.test(value) ||
    z.regexes.cidrv4.test(value) ||
    z.regexes.cidrv6.test(value) ||
    // All-numeric dotted strings are malformed IPs, not domains.
    (DOMAIN_PATTERN.test(value) && !/^[0-9.]+$/.test(value))
  );
}

/**
 * One allowed destination. A domain also allows its subdomains only when written `*.example.com`;
 * `example.com` alone is that exact name.
 */
export const egressTargetSchema = z
  .string()
  .refine(
    isEgressTarget,
    "must be a domain (example.com, *.example.com), an IP address or a CIDR range (10.0.0.0/8)",
  );

/** An egress allow-list entry. */
export type EgressTarget = z.infer<typeof egressTargetSchema>;

/** The largest number of allow-list entries. */
export const MAX_EGRESS_TARGETS = 256;

/**
 * What a sandbox may reach on the network: everything, nothing, or only the listed destinations.
 * Enforced by the worker's network layer (the original stored an allow-list and never enforced it).
 */
export const egressPolicySchema = z.union(
  [
    z.literal("allow-all"),
    z.literal("deny-all"),
    z.strictObject({
      allow: z
        .array(egressTargetSchema)
        .max(MAX_EGRESS_TARGETS, `at most ${MAX_EGRESS_TARGETS} entries`),
    }),
  ],
  { error: `must be "allow-all", "deny-all" or {"allow": [...]}` },
);

/** Egress policy (see {@link egressPolicySchema}). */
export type EgressPolicy = z.infer<typeof egressPolicySchema>;

/** A sandbox's network policy. */
export const networkPolicySchema = z.strictObject({ egress: egressPolicySchema });

/** A sandbox's network policy. */
export type NetworkPolicy = z.infer<typeof networkPolicySchema>;

/** The policy a sandbox gets when its request names none: unrestricted egress, like a plain container. */
export const DEFAULT_NETWORK_POLICY: Readonly<NetworkPolicy> = Object.freeze({
  egress: "allow-all",
});
