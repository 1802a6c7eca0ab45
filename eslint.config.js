import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

// Lints the frontend only; backend/ and tests/ are Python (ruff).
export default defineConfig(
  { ignores: ["static/**", "node_modules/**", ".venv/**", "backend/**", "tests/**"] },
  js.configs.recommended,
  {
    files: ["frontend/src/**/*.ts", "vite.config.ts"],
    extends: [tseslint.configs.recommendedTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "smart"],
      "no-console": ["warn", { allow: ["warn", "error"] }],
    },
  },
  {
    files: ["eslint.config.js", "frontend/scripts/**/*.mjs"],
    languageOptions: { globals: globals.node },
  },
);
