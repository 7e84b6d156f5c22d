/**
 * The Aetherium web dashboard. The Next.js app lives in `src/app`; these are the view helpers every page
 * shares.
 * @module
 */
export {
  formatBytes,
  formatDuration,
  formatRelativeTime,
  statusTone,
  type StatusTone,
} from "./format/format.js";
