#!/usr/bin/env node
// Copies the GraphiQL playground's UMD assets from web/node_modules into
// web/dist, where web.go embeds them (//go:embed all:dist).
//
// Usage (from the repository root):
//
//	npm ci --prefix web && node web/build.mjs
//
// It uses no dependencies and downloads nothing: npm ci installs the versions
// pinned in web/package-lock.json, this script only copies four files. It
// exits 1 with a message if any of them is missing, so a broken install never
// produces a binary with half a playground.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = dirname(fileURLToPath(import.meta.url));
const modules = join(webDir, 'node_modules');
const dist = join(webDir, 'dist');

// dist name -> source path inside node_modules. Keep in sync with the asset
// list in web.go.
const assets = [
  ['react.production.min.js', 'react/umd/react.production.min.js'],
  ['react-dom.production.min.js', 'react-dom/umd/react-dom.production.min.js'],
  ['graphiql.min.js', 'graphiql/graphiql.min.js'],
  ['graphiql.min.css', 'graphiql/graphiql.min.css'],
];

function fail(msg) {
  console.error(`web/build.mjs: ${msg}`);
  process.exit(1);
}

if (!existsSync(modules)) {
  fail(`${relative(process.cwd(), modules) || modules} does not exist; run "npm ci --prefix web" first`);
}

// Check everything before copying anything, so a failure leaves dist as it was.
const missing = [];
for (const [, src] of assets) {
  const p = join(modules, src);
  if (!existsSync(p) || !statSync(p).isFile() || statSync(p).size === 0) {
    missing.push(src);
  }
}
if (missing.length > 0) {
  fail(`missing in web/node_modules: ${missing.join(', ')} (run "npm ci --prefix web"; are the pinned versions in web/package.json still the ones with UMD builds?)`);
}

mkdirSync(dist, { recursive: true });
for (const [name, src] of assets) {
  copyFileSync(join(modules, src), join(dist, name));
  console.log(`web/dist/${name} <- web/node_modules/${src} (${statSync(join(dist, name)).size} bytes)`);
}
