// Builds the static site into dist/: bundles src/main.js (tracker, media plugin and page logic)
// into dist/app.js with esbuild, and copies public/ beside it. The videos are made separately
// (scripts/make-media.sh), since they need ffmpeg rather than node.
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

// Keep dist/media (generated videos take a few seconds to make); replace everything else.
mkdirSync(dist, { recursive: true });
for (const name of ['app.js', 'app.js.map', 'index.html', 'style.css', 'config.js']) {
  rmSync(join(dist, name), { force: true });
}

await build({
  entryPoints: [join(root, 'src/main.js')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  format: 'iife',
  minify: true,
  sourcemap: true,
  // Browsers of the last few years; Debian's chromium among them.
  target: ['chrome100', 'firefox100', 'safari15'],
  logLevel: 'info',
});

cpSync(join(root, 'public'), dist, { recursive: true });
console.log(`built ${dist}`);
