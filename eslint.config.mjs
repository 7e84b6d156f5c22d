// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";
import globals from "globals";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/dist-agent/**",
      "**/coverage/**",
      "**/.next/**",
      "**/out/**",
      "bench/results/**",
      ".aetherium/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        // One program for sources, tests and tools, resolving @aetherium/* to their sources.
        project: ["./tsconfig.tests.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // Async worker and WebSocket code lives or dies by these two.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "tests/**", "bench/**"],
    rules: {
      // Tests poke at loosely typed JSON bodies on purpose.
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The dashboard's React code runs in the browser and is JSX: it is checked against the
    // dashboard's own tsconfig (DOM lib, jsx), which tsconfig.tests.json cannot be.
    files: ["services/dashboard/src/**/*.tsx"],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: {
        project: ["./services/dashboard/tsconfig.lint.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  prettier,
);
