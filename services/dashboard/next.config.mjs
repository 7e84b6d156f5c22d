/**
 * The dashboard is a static export: `next build` writes plain files to `out/`, which the gateway
 * serves at `/`. Every page renders on the client and talks to the API through @aetherium/sdk.
 * @type {import("next").NextConfig}
 */
const config = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  // `tsc -b` (npm run build / typecheck) checks these sources; the Next build only bundles them.
  typescript: { ignoreBuildErrors: true, tsconfigPath: "tsconfig.next.json" },
  devIndicators: false,
};

export default config;
