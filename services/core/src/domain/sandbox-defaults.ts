import { AETHERIUM_VERSION } from "@aetherium/types";

/**
 * The default sandbox image tag, versioned so two Aetherium versions on one worker do not fight
 * over it. `AETHERIUM_BASE_IMAGE_TAG` overrides it, so two checkouts whose guest agents differ can
 * share one dockerd without each rebuild replacing the other's image under the same tag.
 */
export const DEFAULT_BASE_IMAGE =
  process.env.AETHERIUM_BASE_IMAGE_TAG ?? `aetherium/base:${AETHERIUM_VERSION}`;

/**
 * What a sandbox gets when the request does not say; also the shape the warm pool keeps ready,
 * so a request that says nothing is served by a claim.
 */
export const DEFAULT_SANDBOX_SHAPE = {
  image: DEFAULT_BASE_IMAGE,
  vcpus: 1,
  memoryMb: 512,
  diskMb: 2048,
} as const;
