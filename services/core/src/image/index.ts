/**
 * `aetherium image build`: the base sandbox image and the rootfs tree it is made from.
 * @module
 */
export {
  BASE_PACKAGES,
  BASE_SUITE,
  DEFAULT_BASE_IMAGE,
  IMAGE_PATHS,
  INPUT_HASH_LABEL,
  buildBaseImage,
  buildBaseRootfs,
  buildRootfsTree,
  defaultImageCacheDir,
  defaultMiseBinary,
  agentEntrypoint,
  importChanges,
  type BaseImage,
  type BaseImageOptions,
  type BaseRootfsOptions,
  type BuiltLayer,
  type ImageBuildProgress,
  type RootfsTreeOptions,
} from "./build-base-image.js";
export { FALLBACK_DEBIAN_MIRROR, detectDebianMirror } from "./debian-mirror.js";
