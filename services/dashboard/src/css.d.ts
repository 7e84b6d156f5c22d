// Global stylesheets imported for their side effect (Next bundles them).
declare module "*.css";
